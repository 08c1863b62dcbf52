//! Who is calling: the cache and the request's browser session, resolved in one place
//! for plain axum handlers ([`BrowserSession`], an extractor) and server functions
//! ([`frame_cache`] and its two variants, which use the same extractor).
//!
//! The session key is random, kept in the server-side session record and never sent to
//! the browser: the cookie carries only tower-sessions' own session id.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Extension;
use stayput_cache::{FrameCache, SessionKey};
use tower_sessions::Session;

use crate::SessionError;

/// Key of the cache owner inside the server-side session record.
pub(crate) const OWNER_KEY: &str = "stayput.owner";

/// Key marking a session the page asked for before it holds anything
/// ([`started_frame_cache`]).
pub(crate) const STARTED_KEY: &str = "stayput.started";

/// Set once a session holds a frame: such a session counts against `max_sessions` in
/// Redis until it expires; one only started counts for a short while, so a flood of
/// started sessions cannot hold the count.
pub(crate) const HOLDS_KEY: &str = "stayput.holds";

/// What [`crate::FrameCacheRouter::with_frame_cache`] puts on every request.
#[derive(Clone)]
pub(crate) struct Wiring {
    pub(crate) cache: FrameCache,
    /// The sessions all the servers keep, counted in Redis (`None`: one server).
    #[cfg(feature = "redis")]
    pub(crate) count: Option<crate::redis_store::SessionCount>,
}

/// The caller of one request: the cache and the browser session. Its key is looked up
/// (and synced with the other servers) only when the handler asks, so a request refused
/// on its size or its arguments never starts a session.
#[derive(Clone)]
pub struct BrowserSession {
    wiring: Wiring,
    session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for BrowserSession {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let unwired = |_| {
            tracing::error!("no frame cache on the request: call Router::with_frame_cache");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server is not wired for the frame cache",
            )
        };
        let Extension(wiring) = Extension::<Wiring>::from_request_parts(parts, state)
            .await
            .map_err(unwired)?;
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(status, text)| {
                tracing::error!(
                    text,
                    "no session layer on the request: call Router::with_frame_cache"
                );
                (status, text)
            })?;
        Ok(Self { wiring, session })
    }
}

impl BrowserSession {
    /// The cache.
    pub fn cache(&self) -> &FrameCache {
        &self.wiring.cache
    }

    /// The caller's session key, starting a session if it has none: a new one needs the
    /// shared store when there is one, and is refused once all the servers keep as many
    /// as they may. It learns the handles other servers made since this one last looked;
    /// while Redis is down, a session this server knows goes on with what it holds.
    pub async fn key(&self) -> Result<SessionKey, SessionError> {
        let key = match existing_key(&self.session).await? {
            Some(key) => key,
            None => {
                // Refused before any work when the servers keep as many as they may.
                #[cfg(feature = "redis")]
                if let Some(count) = &self.wiring.count {
                    count.refuse_when_full().await?;
                }
                let key = SessionKey::random();
                self.session.insert(OWNER_KEY, key).await.map_err(store_failed)?;
                key
            }
        };
        self.sync(key).await;
        Ok(key)
    }

    /// The caller's session key if its cookie came with the request; never starts one.
    /// It learns the handles other servers made (and goes on with this one's if Redis
    /// cannot tell). For connections that must share the page's session, such as a
    /// WebSocket upgrade.
    pub async fn existing_key(&self) -> Result<Option<SessionKey>, SessionError> {
        let key = existing_key(&self.session).await?;
        if let Some(key) = key {
            self.sync(key).await;
        }
        Ok(key)
    }

    /// Like [`Self::key`], and the session is kept even before it holds a frame: for a
    /// page that needs its cookie before anything else (one about to open a WebSocket).
    pub async fn started_key(&self) -> Result<SessionKey, SessionError> {
        let key = self.key().await?;
        self.session
            .insert(STARTED_KEY, true)
            .await
            .map_err(store_failed)?;
        Ok(key)
    }

    async fn sync(&self, key: SessionKey) {
        if let Err(err) = self.wiring.cache.sync_session(key).await {
            tracing::debug!(%err, "handles of other servers not learnt; going on with this one's");
        }
    }
}

/// The cache owner recorded in `session`, if it has one.
pub(crate) async fn existing_key(session: &Session) -> Result<Option<SessionKey>, SessionError> {
    session.get::<SessionKey>(OWNER_KEY).await.map_err(store_failed)
}

/// A failed session store, logged here. The local store never fails, so a backend
/// failure is the shared store's (Redis).
fn store_failed(err: tower_sessions::session::Error) -> SessionError {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as StoreError;
    if let Error::Store(StoreError::Backend(_)) = &err {
        tracing::warn!(%err, "session store unavailable");
        return SessionError::SharedUnavailable;
    }
    tracing::error!(%err, "session store failed");
    SessionError::Store
}

/// The caller of the request a server function is answering.
async fn this_caller() -> Result<BrowserSession, SessionError> {
    leptos_axum::extract::<BrowserSession>()
        .await
        .map_err(|_| SessionError::NotWired)
}

/// Inside a Leptos server function: the cache and the calling browser session's key
/// ([`BrowserSession::key`]). Fails with [`SessionError::NotWired`] when the router was
/// not wired with [`crate::FrameCacheRouter::with_frame_cache`] (a bug of the server,
/// logged there).
pub async fn frame_cache() -> Result<(FrameCache, SessionKey), SessionError> {
    let caller = this_caller().await?;
    let key = caller.key().await?;
    Ok((caller.wiring.cache, key))
}

/// Inside a Leptos server function: like [`frame_cache`], and the session is kept even
/// before it holds a frame ([`BrowserSession::started_key`]).
pub async fn started_frame_cache() -> Result<(FrameCache, SessionKey), SessionError> {
    let caller = this_caller().await?;
    let key = caller.started_key().await?;
    Ok((caller.wiring.cache, key))
}

/// Inside a Leptos server function: like [`frame_cache`], but only for a caller that
/// already has a session (its cookie came with the request); `None` otherwise, and no
/// session is started ([`BrowserSession::existing_key`]).
pub async fn existing_frame_cache() -> Result<Option<(FrameCache, SessionKey)>, SessionError> {
    let caller = this_caller().await?;
    let key = caller.existing_key().await?;
    Ok(key.map(|key| (caller.wiring.cache, key)))
}
