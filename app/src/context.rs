//! Where server functions find the cache and the caller's session (server only).

use leptos::prelude::use_context;
use stayput_cache::{FrameCache, SessionKey};
use tower_sessions::Session;

use crate::StayputError;

/// Key of the cache owner inside the server-side session record.
const OWNER_KEY: &str = "stayput.owner";

/// Limits that are configuration rather than code.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rows client mode sends through the browser.
    pub client_max_rows: u64,
}

/// What every server function needs from the server: provided once by the server's
/// wiring (`leptos_routes_with_context`) and read with [`app_context`].
#[derive(Clone)]
pub struct AppContext {
    /// The handle cache.
    pub cache: FrameCache,
    /// Configured limits.
    pub limits: Limits,
}

/// The [`AppContext`] of the running server.
pub fn app_context() -> Result<AppContext, StayputError> {
    use_context::<AppContext>().ok_or_else(|| {
        tracing::error!("AppContext missing: the server did not provide it");
        StayputError::Internal
    })
}

/// The cache owner of the calling browser session, created on first use.
pub async fn session_key() -> Result<SessionKey, StayputError> {
    let session: Session = leptos_axum::extract().await.map_err(|err| {
        tracing::error!(%err, "no session on the request: is the session layer installed?");
        StayputError::Internal
    })?;
    owner_of(&session).await
}

/// The cache owner recorded in `session`, created on first use.
pub async fn owner_of(session: &Session) -> Result<SessionKey, StayputError> {
    let internal = |err: tower_sessions::session::Error| {
        tracing::error!(%err, "session store failed");
        StayputError::Internal
    };
    if let Some(key) = session.get::<SessionKey>(OWNER_KEY).await.map_err(internal)? {
        return Ok(key);
    }
    let key = SessionKey::random();
    session.insert(OWNER_KEY, key).await.map_err(internal)?;
    Ok(key)
}
