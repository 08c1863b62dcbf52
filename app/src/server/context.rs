//! What server functions need besides the cache.
//!
//! The cache and the caller's session come from the library's one-call wiring
//! (`stayput_cache::frame_cache`); this holds what is Stayput's own configuration.

use leptos::prelude::use_context;

use crate::contract::StayputError;

/// Limits that are configuration rather than code.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rows client mode sends through the browser.
    pub client_max_rows: u64,
}

/// Provided once by the server's wiring (`leptos_routes_with_context`), read with
/// [`limits`].
#[derive(Debug, Clone, Copy)]
pub struct AppContext {
    /// Configured limits.
    pub limits: Limits,
}

/// The configured limits of the running server.
pub fn limits() -> Result<Limits, StayputError> {
    use_context::<AppContext>().map(|ctx| ctx.limits).ok_or_else(|| {
        tracing::error!("AppContext missing: the server did not provide it");
        StayputError::Internal
    })
}
