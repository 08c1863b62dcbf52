//! The server functions: the whole contract between the browser and the server.
//!
//! Each is a thin wrapper that finds the cache and the caller's session and calls the
//! plain function of the same name in `ops`. Endpoints are fixed (`/api/<name>`) so
//! that scripts, tests and the Trunk proxy can rely on them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use stayput_cache::FrameHandle;

use crate::StayputError;

/// The answer of [`frame_mean`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanReply {
    /// Mean of the `rnd` column.
    pub mean: f64,
}

/// Step 1: builds a frame of `rows` uniform random numbers and returns its handle.
#[server(endpoint = "create_frame")]
pub async fn create_frame(rows: u64) -> Result<FrameHandle, StayputError> {
    use crate::context::{app_context, session_key};
    let ctx = app_context()?;
    crate::ops::create_frame(&ctx.cache, session_key().await?, rows).await
}

/// Step 2: the mean of the frame behind `handle`.
#[server(endpoint = "frame_mean")]
pub async fn frame_mean(handle: FrameHandle) -> Result<MeanReply, StayputError> {
    use crate::context::{app_context, session_key};
    let ctx = app_context()?;
    crate::ops::frame_mean(&ctx.cache, session_key().await?, &handle).await
}

/// Plotly figure JSON of the histogram of the frame behind `handle`.
#[server(endpoint = "frame_histogram")]
pub async fn frame_histogram(handle: FrameHandle) -> Result<String, StayputError> {
    use crate::context::{app_context, session_key};
    let ctx = app_context()?;
    crate::ops::frame_histogram(&ctx.cache, session_key().await?, &handle).await
}
