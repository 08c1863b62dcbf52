//! The server functions: the whole contract between the browser and the server.
//!
//! Each is a thin wrapper that finds the cache and the caller's session (through the
//! sessions library's public wiring, `stayput_sessions::frame_cache`) and calls the plain
//! function of the same name in [`crate::server::ops`] (feature `ssr`). Their request
//! and reply types are the [`crate::contract`]. Endpoints are fixed (`/api/<name>`) so
//! that scripts, tests and the Trunk proxy can rely on them.

use leptos::prelude::*;
use stayput_cache::{FrameHandle, FrameId};

use crate::contract::benchmark::MeanReply;
#[cfg(feature = "ssr")]
use crate::contract::benchmark::{Step, StepReply};
use crate::contract::cache_view::CacheListing;
use crate::contract::data::{DataExample, DataInfo, RowsPage, SortBy, Transform};
use crate::contract::figure::{ChartKind, ColumnInfo, ExploreSizes, FigureReply, MadeReply};
use crate::contract::linked::{LinkedFigure, Selection};
use crate::contract::StayputError;
#[cfg(feature = "ssr")]
use crate::server::errors::answered;
#[cfg(feature = "ssr")]
use crate::server::work::Work;

/// A benchmark step for the caller's session, through the one admitted runner
/// ([`crate::server::ops::run_step`]), as the steps socket runs it.
#[cfg(feature = "ssr")]
async fn run_step(step: Step) -> Result<StepReply, StayputError> {
    let (cache, session) = stayput_sessions::frame_cache().await?;
    let heavy = crate::server::context::heavy_jobs()?;
    let pyramids = crate::server::context::pyramids()?;
    crate::server::ops::run_step(&cache, session, (&heavy, &pyramids), step).await
}

/// Step 1: builds a frame of `rows` uniform random numbers and returns its handle.
/// `replaces` is the frame the page held until now: the server releases it first (its
/// lineage stays, so it can still be rebuilt) and reuses its memory.
#[server(endpoint = "create_frame")]
pub async fn create_frame(rows: u64, replaces: Option<FrameHandle>) -> Result<FrameHandle, StayputError> {
    answered(async move {
        match run_step(Step::Create { rows, replaces }).await? {
            StepReply::Created(handle) => Ok(handle),
            _ => Err(StayputError::Internal),
        }
    })
    .await
}

/// Starts the caller's session (and sets its cookie) if it has none yet; the page calls
/// it before opening its steps socket.
#[server(endpoint = "start_session")]
pub async fn start_session() -> Result<(), StayputError> {
    answered(async move {
        stayput_sessions::started_frame_cache().await?;
        Ok(())
    })
    .await
}

/// Step 2: the mean of the frame behind `handle`.
#[server(endpoint = "frame_mean")]
pub async fn frame_mean(handle: FrameHandle) -> Result<MeanReply, StayputError> {
    answered(async move {
        match run_step(Step::Mean { handle }).await? {
            StepReply::Mean(mean) => Ok(mean),
            _ => Err(StayputError::Internal),
        }
    })
    .await
}

/// Plotly figure JSON of the histogram of the frame behind `handle`.
#[server(endpoint = "frame_histogram")]
pub async fn frame_histogram(handle: FrameHandle) -> Result<String, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let _slot = crate::server::context::admit_read(&cache, session, &handle).await?;
        crate::server::ops::frame_histogram(&cache, session, &handle).await
    })
    .await
}

/// The caller's handles and the server's totals.
#[server(endpoint = "cache_view")]
pub async fn cache_view() -> Result<CacheListing, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        Ok(crate::server::ops::cache_view(&cache, session))
    })
    .await
}

/// Drops the caller's frame `id`; `false` when the session holds no such frame.
#[server(endpoint = "drop_frame")]
pub async fn drop_frame(id: FrameId) -> Result<bool, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        Ok(crate::server::ops::drop_frame(&cache, session, &id).await)
    })
    .await
}

/// Drops every frame of the caller's session; returns how many.
#[server(endpoint = "drop_all")]
pub async fn drop_all() -> Result<usize, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        Ok(cache.remove_session(session).await)
    })
    .await
}

/// `/explore`'s time series with `rows` rows; returns its handle.
#[server(endpoint = "make_series")]
pub async fn make_series(rows: u64) -> Result<FrameHandle, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let _slot = crate::server::context::heavy_jobs()?
            .admit(Some(session), Work::Make { rows })
            .await?;
        crate::server::ops::make_series(&cache, session, rows).await
    })
    .await
}

/// The most rows of each kind of data `/explore` can make on this server's settings,
/// so that the page offers no size the server would refuse. Starts no session.
#[server(endpoint = "explore_limits")]
pub async fn explore_limits() -> Result<ExploreSizes, StayputError> {
    answered(async move {
        let limits = crate::server::context::limits()?;
        let pyramids = crate::server::context::pyramids()?.budget();
        Ok(ExploreSizes::for_frame_bytes(
            limits.frame_max_bytes,
            limits.disk_max_bytes,
            pyramids,
        ))
    })
    .await
}

/// The columns of the frame behind `handle`, as `/explore` offers them.
#[server(endpoint = "frame_columns")]
pub async fn frame_columns(handle: FrameHandle) -> Result<Vec<ColumnInfo>, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let _slot = crate::server::context::admit_read(&cache, session, &handle).await?;
        crate::server::ops::frame_columns(&cache, session, &handle).await
    })
    .await
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
    answered(async move {
        let step = Step::Figure {
            handle,
            x,
            y,
            kind,
            x_min,
            x_max,
            width,
        };
        match run_step(step).await? {
            StepReply::Figure(figure) => Ok(figure),
            _ => Err(StayputError::Internal),
        }
    })
    .await
}

/// `/explore`'s Make: `rows` of the data `kind` made and kept on the server and its
/// first figure (`chart`, `width` CSS pixels wide), in one call. `replaces`, the frame
/// the page made before, is released first.
#[server(endpoint = "explore_make")]
pub async fn explore_make(
    kind: String,
    rows: u64,
    replaces: Option<FrameHandle>,
    chart: ChartKind,
    width: u32,
) -> Result<MadeReply, StayputError> {
    answered(async move {
        // Refused before a session, a heavy-job slot or any work.
        crate::server::ops::check_make(&kind, rows)?;
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let _slot = crate::server::context::heavy_jobs()?
            .admit(Some(session), Work::Make { rows })
            .await?;
        let pyramids = crate::server::context::pyramids()?;
        let make_in = (&cache, &pyramids);
        crate::server::ops::explore_make(make_in, session, &kind, rows, replaces.as_ref(), chart, width).await
    })
    .await
}

/// The built-in datasets this server has (no session needed).
#[server(endpoint = "data_examples")]
pub async fn data_examples() -> Result<Vec<DataExample>, StayputError> {
    answered(async move {
        Ok(crate::server::data::examples(
            &crate::server::context::examples_dir()?,
        ))
    })
    .await
}

/// A handle of the built-in dataset `file` (the one the session has, else a new one).
#[server(endpoint = "load_example")]
pub async fn load_example(file: String) -> Result<FrameHandle, StayputError> {
    answered(async move {
        let dir = crate::server::context::examples_dir()?;
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let heavy = crate::server::context::heavy_jobs()?;
        let uploads = crate::server::context::uploads()?;
        crate::server::data::load_example(&cache, &uploads, session, &heavy, &dir, &file).await
    })
    .await
}

/// The schema (with nulls and ranges) and chain of the frame behind `handle`.
#[server(endpoint = "data_info")]
pub async fn data_summary(handle: FrameHandle) -> Result<DataInfo, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let _slot = crate::server::context::admit_read(&cache, session, &handle).await?;
        crate::server::data::look::info(&cache, &crate::server::context::uploads()?, session, &handle).await
    })
    .await
}

/// One page of rows of the frame behind `handle` from `offset`, ordered by `sort`.
#[server(endpoint = "data_rows")]
pub async fn data_rows(
    handle: FrameHandle,
    offset: u64,
    sort: Option<SortBy>,
) -> Result<RowsPage, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let _slot = crate::server::context::admit_read(&cache, session, &handle).await?;
        crate::server::data::look::rows(
            &cache,
            &crate::server::context::uploads()?,
            session,
            &handle,
            offset,
            sort,
        )
        .await
    })
    .await
}

/// `step` applied to the frame behind `handle`: a new handle (the same for the same step
/// on the same parent).
#[server(endpoint = "data_transform", input = leptos::server_fn::codec::Json)]
pub async fn data_transform(handle: FrameHandle, step: Transform) -> Result<FrameHandle, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let heavy = crate::server::context::heavy_jobs()?;
        let work = Work::Transform {
            cache: &cache,
            session,
            handle: &handle,
            step: &step,
        };
        let slot = heavy.admit(Some(session), work).await?;
        let max_bytes = crate::server::context::limits()?.frame_max_bytes;
        crate::server::data::transform(
            &cache,
            &crate::server::context::uploads()?,
            session,
            &handle,
            step,
            max_bytes,
            slot,
        )
        .await
    })
    .await
}

/// The figure of `y` against `x` of the frame behind `handle` as `kind`, reduced for a
/// plot `width` pixels wide, within `x_min..=x_max` when zoomed (x sorted on the server).
#[server(endpoint = "data_plot")]
#[allow(clippy::too_many_arguments)]
pub async fn data_plot(
    handle: FrameHandle,
    x: String,
    y: String,
    kind: ChartKind,
    x_min: Option<f64>,
    x_max: Option<f64>,
    width: u32,
) -> Result<FigureReply, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let whole = crate::server::data::entry(&cache, session, &handle)?;
        let heavy = crate::server::context::heavy_jobs()?;
        let _slot = heavy.admit(Some(session), Work::ReadWhole(&whole)).await?;
        let spec = stayput_figures::FigureSpec {
            x,
            y,
            kind,
            range: (x_min, x_max),
            width_px: width,
            time_x: false, // the server finds out from the column's type
        };
        let uploads = crate::server::context::uploads()?;
        let pyramids = crate::server::context::pyramids()?;
        crate::server::data::plot((&cache, &uploads, &pyramids), session, &handle, spec).await
    })
    .await
}

/// The figures of a linked view of the frame behind `handle`: each re-aggregated on the
/// server against the `selections` it names (by index). Only figure JSON comes back.
#[server(endpoint = "linked_figures", input = leptos::server_fn::codec::Json)]
pub async fn linked_figures(
    handle: FrameHandle,
    figures: Vec<LinkedFigure>,
    selections: Vec<Selection>,
) -> Result<Vec<FigureReply>, StayputError> {
    answered(async move {
        let (cache, session) = stayput_sessions::frame_cache().await?;
        let heavy = crate::server::context::heavy_jobs()?;
        let pyramids = crate::server::context::pyramids()?;
        crate::server::linked::figures((&cache, &heavy, &pyramids), session, &handle, figures, selections)
            .await
    })
    .await
}
