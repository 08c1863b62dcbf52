//! What server functions need besides the cache.
//!
//! The cache and the caller's session come from the library's one-call wiring
//! (`stayput_cache::frame_cache`); this holds what is Stayput's own configuration.

use leptos::prelude::use_context;

use crate::contract::StayputError;
use crate::server::heavy::{HeavyJobs, HeavyPermit};

/// Limits that are configuration rather than code.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rows client mode sends through the browser.
    pub client_max_rows: u64,
    /// Most bytes one frame may take: the smaller of the session quota and the memory
    /// budget (what `/explore` offers follows from it).
    pub frame_max_bytes: u64,
    /// `STAYPUT_BODY_TIMEOUT`: an upload that sends nothing for this long is cut off.
    pub body_timeout: std::time::Duration,
}

/// Provided once by the server's wiring (`leptos_routes_with_context`), read with
/// [`limits`] and [`heavy_jobs`].
#[derive(Debug, Clone)]
pub struct AppContext {
    /// Configured limits.
    pub limits: Limits,
    /// The admission of heavy jobs, shared by every request.
    pub heavy: HeavyJobs,
    /// `STAYPUT_EXAMPLES_DIR`: where the built-in datasets are.
    pub examples_dir: std::path::PathBuf,
}

fn context() -> Result<AppContext, StayputError> {
    use_context::<AppContext>().ok_or_else(|| {
        tracing::error!("AppContext missing: the server did not provide it");
        StayputError::Internal
    })
}

/// The configured limits of the running server.
pub fn limits() -> Result<Limits, StayputError> {
    context().map(|ctx| ctx.limits)
}

/// The admission of heavy jobs of the running server.
pub fn heavy_jobs() -> Result<HeavyJobs, StayputError> {
    context().map(|ctx| ctx.heavy)
}

/// A heavy-job slot for a read of `handle` that brings its frame back into memory
/// ([`crate::server::ops::read_rows`]); `None` for a light read.
pub async fn admit_read(
    cache: &stayput_cache::FrameCache,
    session: stayput_cache::SessionKey,
    handle: &stayput_cache::FrameHandle,
) -> Result<Option<HeavyPermit>, StayputError> {
    let rows = crate::server::ops::read_rows(cache, session, handle);
    heavy_jobs()?.admit(Some(session), rows).await
}

/// Where the built-in datasets of the running server are.
pub fn examples_dir() -> Result<std::path::PathBuf, StayputError> {
    context().map(|ctx| ctx.examples_dir)
}
