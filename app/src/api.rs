//! The server functions: the whole contract between the browser and the server.
//!
//! Each is a thin wrapper that finds the cache and the caller's session (through the
//! cache library's public wiring, `stayput_cache::frame_cache`) and calls the plain
//! function of the same name in [`crate::server::ops`] (feature `ssr`). Their request
//! and reply types are the [`crate::contract`]. Endpoints are fixed (`/api/<name>`) so
//! that scripts, tests and the Trunk proxy can rely on them.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::{BoxedStream, Websocket};
use stayput_cache::{FrameHandle, FrameId};

use crate::contract::benchmark::{MeanReply, Step, StepReply};
use crate::contract::cache_view::CacheListing;
use crate::contract::figure::{ChartKind, ColumnInfo, FigureReply};
use crate::contract::StayputError;

/// Step 1: builds a frame of `rows` uniform random numbers and returns its handle.
/// `replaces` is the frame the page held until now: the server releases it first (its
/// lineage stays, so it can still be rebuilt) and reuses its memory.
#[server(endpoint = "create_frame")]
pub async fn create_frame(rows: u64, replaces: Option<FrameHandle>) -> Result<FrameHandle, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    let _slot = crate::server::context::heavy_jobs()?
        .admit(Some(session), rows)
        .await?;
    crate::server::ops::create_frame(&cache, session, rows, replaces.as_ref()).await
}

/// Starts the caller's session (and sets its cookie) if it has none yet; the page calls
/// it before opening its steps socket.
#[server(endpoint = "start_session")]
pub async fn start_session() -> Result<(), StayputError> {
    stayput_cache::frame_cache().await?;
    Ok(())
}

/// The benchmark's two steps over one WebSocket that the page keeps open: the same
/// plain functions as [`create_frame`] and [`frame_mean`], for the same session (its
/// cookie came with the upgrade), without a new HTTP request per step (a `fetch` costs
/// 4–8 ms in Chromium here, a message on an open socket under 1 ms). One reply per
/// step, in order; a failed step answers with its error and the channel stays open.
///
/// The socket never starts a session: the upgrade must carry the cookie of the page's
/// session ([`start_session`]), so that steps and the page's HTTP calls share it even
/// behind a proxy that drops cookies on WebSockets (then the page uses HTTP).
#[server(protocol = Websocket<JsonEncoding, JsonEncoding>, endpoint = "bench_steps")]
pub async fn bench_steps(
    steps: BoxedStream<Step, StayputError>,
) -> Result<BoxedStream<StepReply, StayputError>, StayputError> {
    use futures::StreamExt;
    let Some((cache, session)) = stayput_cache::existing_frame_cache().await? else {
        return Err(StayputError::BadRequest(
            "the steps socket needs the page's session cookie".into(),
        ));
    };
    let steps: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Step, StayputError>> + Send>> =
        steps.into();
    let heavy = crate::server::context::heavy_jobs()?;
    let replies = steps.then(move |step| {
        let (cache, heavy) = (cache.clone(), heavy.clone());
        async move {
            let step = step?;
            let rows = match &step {
                Step::Create { rows, .. } => *rows,
                Step::Mean { .. } => 0,
            };
            let _slot = heavy.admit(Some(session), rows).await?;
            crate::server::ops::bench_step(&cache, session, step).await
        }
    });
    Ok(replies.into())
}

/// Step 2: the mean of the frame behind `handle`.
#[server(endpoint = "frame_mean")]
pub async fn frame_mean(handle: FrameHandle) -> Result<MeanReply, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    crate::server::ops::frame_mean(&cache, session, &handle).await
}

/// Plotly figure JSON of the histogram of the frame behind `handle`.
#[server(endpoint = "frame_histogram")]
pub async fn frame_histogram(handle: FrameHandle) -> Result<String, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    crate::server::ops::frame_histogram(&cache, session, &handle).await
}

/// The caller's handles and the server's totals.
#[server(endpoint = "cache_view")]
pub async fn cache_view() -> Result<CacheListing, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    Ok(crate::server::ops::cache_view(&cache, session))
}

/// Drops the caller's frame `id`; `false` when the session holds no such frame.
#[server(endpoint = "drop_frame")]
pub async fn drop_frame(id: FrameId) -> Result<bool, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    Ok(crate::server::ops::drop_frame(&cache, session, &id).await)
}

/// Drops every frame of the caller's session; returns how many.
#[server(endpoint = "drop_all")]
pub async fn drop_all() -> Result<usize, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    Ok(cache.remove_session(session).await)
}

/// `/explore`'s time series with `rows` rows; returns its handle.
#[server(endpoint = "make_series")]
pub async fn make_series(rows: u64) -> Result<FrameHandle, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    let _slot = crate::server::context::heavy_jobs()?
        .admit(Some(session), rows)
        .await?;
    crate::server::ops::make_series(&cache, session, rows).await
}

/// The columns of the frame behind `handle`, as `/explore` offers them.
#[server(endpoint = "frame_columns")]
pub async fn frame_columns(handle: FrameHandle) -> Result<Vec<ColumnInfo>, StayputError> {
    let (cache, session) = stayput_cache::frame_cache().await?;
    crate::server::ops::frame_columns(&cache, session, &handle).await
}

/// The figure of `y` over `x` as `kind` for the visible `x_min..=x_max` (open when
/// absent), reduced for a plot `width` CSS pixels wide. Stateless: these arguments are
/// the whole state.
#[server(endpoint = "explore_figure")]
#[allow(clippy::too_many_arguments)]
pub async fn explore_figure(
    handle: FrameHandle,
    x: String,
    y: String,
    kind: ChartKind,
    x_min: Option<f64>,
    x_max: Option<f64>,
    width: u32,
) -> Result<FigureReply, StayputError> {
    let spec = stayput_figures::FigureSpec {
        x,
        y,
        kind,
        range: (x_min, x_max),
        width_px: width,
        time_x: false, // the server knows which columns hold time
    };
    let (cache, session) = stayput_cache::frame_cache().await?;
    crate::server::ops::explore_figure(&cache, session, &handle, spec).await
}
