//! What server functions read of the [`AppState`] (provided as their Leptos context):
//! the limits, heavy-job admission, the examples' directory. The cache and the caller's
//! session come from the library's one-call wiring (`stayput_sessions::frame_cache`).

use leptos::prelude::use_context;

use crate::contract::StayputError;
use crate::server::heavy::{HeavyJobs, HeavyPermit};
use crate::server::state::AppState;

/// Limits that are configuration rather than code.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rows client mode sends through the browser.
    pub client_max_rows: u64,
    /// Most bytes one frame may take: the smaller of the session quota and the memory
    /// budget (what `/explore` offers follows from it).
    pub frame_max_bytes: u64,
    /// `STAYPUT_DISK_BUDGET`: the most a frame larger than memory may take on disk.
    pub disk_max_bytes: u64,
    /// `STAYPUT_BODY_TIMEOUT`: an upload that sends nothing for this long is cut off.
    pub body_timeout: std::time::Duration,
    /// `STAYPUT_REQUEST_TIMEOUT`: the longest a request (or a socket's step) may run.
    pub request_timeout: std::time::Duration,
}

impl Limits {
    /// Client mode's upload: the frame's 8 bytes a row, and room for framing.
    pub fn client_upload_bytes(&self) -> u64 {
        self.client_max_rows.saturating_mul(8).saturating_add(4096)
    }
}

fn context() -> Result<AppState, StayputError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing: the server did not provide it");
        StayputError::Internal
    })
}

/// The configured limits of the running server.
pub fn limits() -> Result<Limits, StayputError> {
    context().map(|ctx| ctx.limits)
}

/// The uploads directory of the running server.
pub fn uploads() -> Result<stayput_data::Uploads, StayputError> {
    context().map(|ctx| ctx.uploads)
}

/// The lines' pyramids kept by the running server.
pub fn pyramids() -> Result<std::sync::Arc<stayput_figures::PyramidStore>, StayputError> {
    context().map(|ctx| ctx.pyramids)
}

/// The admission of heavy jobs of the running server.
pub fn heavy_jobs() -> Result<HeavyJobs, StayputError> {
    context().map(|ctx| ctx.heavy)
}

/// A heavy-job slot for a read of `handle` that brings its frame back into memory
/// ([`crate::server::work::Work::Read`]); `None` for a light read.
pub async fn admit_read(
    cache: &stayput_cache::FrameCache,
    session: stayput_cache::SessionKey,
    handle: &stayput_cache::FrameHandle,
) -> Result<Option<HeavyPermit>, StayputError> {
    let read = crate::server::work::Work::Read {
        cache,
        session,
        handle,
    };
    heavy_jobs()?.admit(Some(session), read).await
}

/// Where the built-in datasets of the running server are.
pub fn examples_dir() -> Result<std::path::PathBuf, StayputError> {
    context().map(|ctx| ctx.examples_dir)
}
