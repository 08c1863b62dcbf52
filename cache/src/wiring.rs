//! The axum and Leptos wiring, in one call (feature `leptos`).
//!
//! [`FrameCacheRouter::with_frame_cache`] installs the session cookie and makes the
//! cache reachable from every route added before it; inside a server function,
//! [`frame_cache`] returns the cache and the caller's [`SessionKey`]. The session key is
//! random, kept in the server-side session record and never sent to the browser: the
//! cookie carries only tower-sessions' own session id.

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Extension, Router};
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_moka_store::MokaStore;

use crate::{CacheError, FrameCache, SessionKey};

/// Key of the cache owner inside the server-side session record.
const OWNER_KEY: &str = "stayput.owner";

/// Key marking a session the page asked for before it holds anything
/// ([`started_frame_cache`]).
const STARTED_KEY: &str = "stayput.started";

/// Set once a session holds a frame: such a session counts against `max_sessions` in
/// Redis until it expires; one only started counts for a short while
/// (`crate::shared::sessions`), so a flood of started sessions cannot hold the count.
pub(crate) const HOLDS_KEY: &str = "stayput.holds";

/// The session cookie the wiring sets: HttpOnly and SameSite=Lax always.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// Its name (default `stayput.sid`).
    pub name: String,
    /// Send it over HTTPS only (turn on behind TLS).
    pub secure: bool,
    /// Most sessions the server keeps at once. Beyond, the store keeps the sessions in
    /// use (its admission favours keys seen often), so a flood of one-shot sessions
    /// cannot push out the people using the app.
    pub max_sessions: u64,
}

/// Default [`SessionCookie::max_sessions`].
pub const DEFAULT_MAX_SESSIONS: u64 = 100_000;

impl Default for SessionCookie {
    fn default() -> Self {
        Self {
            name: "stayput.sid".to_owned(),
            secure: false,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

/// Wires a [`FrameCache`] into an axum [`Router`].
pub trait FrameCacheRouter {
    /// Adds the session layer (cookie as given, expiring after the cache's
    /// `session_timeout` of inactivity, sliding with every request of the session) and
    /// the cache to every route added so far. Call it after `leptos_routes` and any other
    /// route that reads the cache.
    ///
    /// Sessions live in a bounded store whose records expire with their session. A
    /// session is only stored once it holds a frame (or the page asked for it with
    /// [`started_frame_cache`]): page views, failed requests and cookie-less calls that
    /// make nothing (a made-up handle, a refused upload) leave no record behind, in the
    /// local store or in Redis.
    fn with_frame_cache(self, cache: FrameCache, cookie: SessionCookie) -> Self;
}

impl<S: Clone + Send + Sync + 'static> FrameCacheRouter for Router<S> {
    fn with_frame_cache(self, cache: FrameCache, cookie: SessionCookie) -> Self {
        let inactivity = cache.config().session_timeout.as_secs();
        let inactivity = time::Duration::seconds(i64::try_from(inactivity).unwrap_or(i64::MAX));
        #[cfg(feature = "redis")]
        if let Some(shared) = cache.shared() {
            // Several servers: the records in Redis, so any server knows any cookie.
            let store = crate::shared::sessions::SharedSessions::new(shared.clone(), cookie.max_sessions);
            return self
                .layer(middleware::from_fn(forget_unused_sessions))
                .layer(Extension(cache))
                .layer(session_layer(store, cookie, inactivity));
        }
        let store = MokaStore::new(Some(cookie.max_sessions));
        self.layer(middleware::from_fn(forget_unused_sessions))
            .layer(Extension(cache))
            .layer(session_layer(store, cookie, inactivity))
    }
}

/// A session this request started is not kept when it ends holding nothing: its owner
/// key is taken out again, so the session is empty and tower-sessions stores no record
/// and sets no cookie (issue 23: every cookie-less call wrote a 24 h record to Redis).
async fn forget_unused_sessions(
    Extension(cache): Extension<FrameCache>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let had_one = matches!(existing_session_key(&session).await, Ok(Some(_)));
    let response = next.run(request).await;
    if let Ok(Some(key)) = existing_session_key(&session).await {
        if cache.holds_entries(key) && !matches!(session.get::<bool>(HOLDS_KEY).await, Ok(Some(true))) {
            if let Err(err) = session.insert(HOLDS_KEY, true).await {
                tracing::debug!(%err, "a session was not marked as holding frames");
            }
        }
    }
    if had_one {
        return response;
    }
    if let Ok(Some(key)) = existing_session_key(&session).await {
        let started = matches!(session.get::<bool>(STARTED_KEY).await, Ok(Some(true)));
        if !started && !cache.holds_entries(key) {
            if let Err(err) = session.remove::<SessionKey>(OWNER_KEY).await {
                tracing::debug!(%err, "an unused session could not be forgotten");
            }
        }
    }
    response
}

/// The session layer over `store`, with the cookie as given.
fn session_layer<Store: tower_sessions::SessionStore + Clone>(
    store: Store,
    cookie: SessionCookie,
    inactivity: time::Duration,
) -> SessionManagerLayer<Store> {
    SessionManagerLayer::new(store)
        .with_name(cookie.name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(cookie.secure)
        .with_expiry(Expiry::OnInactivity(inactivity))
        // Save on every request, so the expiry slides with use (otherwise the record
        // is written once and an active session still dies after the timeout).
        .with_always_save(true)
}

/// A failed session store, logged here; the caller sees the cache unavailable. The
/// local store never fails, so a backend failure is the shared store's (Redis).
fn store_failed(err: tower_sessions::session::Error) -> CacheError {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as StoreError;
    if let Error::Store(StoreError::Backend(_)) = &err {
        tracing::warn!(%err, "session store unavailable");
        return CacheError::SharedUnavailable;
    }
    tracing::error!(%err, "session store failed");
    CacheError::Storage { tier: "session" }
}

/// The cache owner recorded in `session`, created on its first use.
///
/// For plain axum handlers that take a [`Session`] extractor; server functions call
/// [`frame_cache`].
pub async fn session_key(session: &Session) -> Result<SessionKey, CacheError> {
    if let Some(key) = session.get::<SessionKey>(OWNER_KEY).await.map_err(store_failed)? {
        return Ok(key);
    }
    let key = SessionKey::random();
    session.insert(OWNER_KEY, key).await.map_err(store_failed)?;
    Ok(key)
}

/// The cache owner recorded in `session`, if it has one; never starts one. For plain
/// axum handlers (a WebSocket upgrade) that must share the page's session.
pub async fn existing_session_key(session: &Session) -> Result<Option<SessionKey>, CacheError> {
    session.get::<SessionKey>(OWNER_KEY).await.map_err(store_failed)
}

/// The cache and the session of the request a server function is answering.
async fn extract() -> Result<(FrameCache, Session), CacheError> {
    let (Extension(cache), session) = leptos_axum::extract::<(Extension<FrameCache>, Session)>()
        .await
        .map_err(|err| {
            tracing::error!(%err, "no frame cache on the request: call Router::with_frame_cache");
            CacheError::NotWired
        })?;
    Ok((cache, session))
}

/// Inside a Leptos server function: the cache and the calling browser session's key.
///
/// Fails with [`CacheError::NotWired`] when the router was not wired with
/// [`FrameCacheRouter::with_frame_cache`] (a bug of the server, logged there).
pub async fn frame_cache() -> Result<(FrameCache, SessionKey), CacheError> {
    let (cache, session) = extract().await?;
    let key = shared_session_key(&cache, &session).await?;
    Ok((cache, key))
}

/// [`session_key`] for a server that may share its sessions: a new session needs the
/// shared store (every server must know it), and an existing one learns the handles
/// other servers made since this one last looked. While Redis is down, a session this
/// server knows goes on with what this server holds.
pub async fn shared_session_key(cache: &FrameCache, session: &Session) -> Result<SessionKey, CacheError> {
    #[cfg(feature = "redis")]
    if let Some(shared) = cache.shared() {
        if existing_session_key(session).await?.is_none() {
            if !shared.is_connected() {
                return Err(CacheError::SharedUnavailable);
            }
            // Refused before any work when all the servers keep as many as they may.
            if shared.sessions_full().await? {
                return Err(CacheError::TooManySessions {
                    max: shared.settings().max_sessions,
                });
            }
        }
    }
    let key = session_key(session).await?;
    if let Err(err) = cache.sync_session(key).await {
        tracing::debug!(%err, "handles of other servers not learnt; going on with this one's");
    }
    Ok(key)
}

/// Inside a Leptos server function: like [`frame_cache`], and the session is kept even
/// before it holds a frame. For a page that needs its cookie before anything else, such
/// as one about to open a WebSocket that must share the session.
pub async fn started_frame_cache() -> Result<(FrameCache, SessionKey), CacheError> {
    let (cache, session) = extract().await?;
    let key = shared_session_key(&cache, &session).await?;
    session.insert(STARTED_KEY, true).await.map_err(store_failed)?;
    Ok((cache, key))
}

/// Inside a Leptos server function: like [`frame_cache`], but only for a caller that
/// already has a session (its cookie came with the request); `None` otherwise, and no
/// session is started. For connections that must share the session of the page's HTTP
/// calls and cannot set a cookie of their own, such as a WebSocket behind a proxy that
/// drops cookies.
pub async fn existing_frame_cache() -> Result<Option<(FrameCache, SessionKey)>, CacheError> {
    let (cache, session) = extract().await?;
    let key = existing_shared_session_key(&cache, &session).await?;
    Ok(key.map(|key| (cache, key)))
}

/// [`existing_session_key`] for a server that may share its sessions: never starts one,
/// and an existing one learns the handles other servers made since this one last looked
/// (going on with this server's while Redis cannot tell). For plain axum handlers.
pub async fn existing_shared_session_key(
    cache: &FrameCache,
    session: &Session,
) -> Result<Option<SessionKey>, CacheError> {
    let key = existing_session_key(session).await?;
    if let Some(key) = key {
        if let Err(err) = cache.sync_session(key).await {
            tracing::debug!(%err, "handles of other servers not learnt; going on with this one's");
        }
    }
    Ok(key)
}
