//! [`FrameCacheRouter::with_frame_cache`]: the session layer and the cache on a router,
//! and the middleware that forgets sessions which end a request holding nothing.

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Extension, Router};
use stayput_cache::{FrameCache, SessionKey};
use tower_sessions::cookie::time;
use tower_sessions::Session;
use tower_sessions_moka_store::MokaStore;

use crate::caller::{existing_key, Wiring, HOLDS_KEY, OWNER_KEY, STARTED_KEY};
use crate::cookie::{session_layer, SessionCookie};

/// Wires a [`FrameCache`] into an axum [`Router`].
pub trait FrameCacheRouter {
    /// Adds the session layer (cookie as given, expiring after the cache's
    /// `session_timeout` of inactivity, sliding with every request of the session) and
    /// the cache to every route added so far. Call it after `leptos_routes` and any other
    /// route that reads the cache.
    ///
    /// Sessions live in a bounded store whose records expire with their session; with a
    /// cache shared through Redis ([`FrameCache::shared`], feature `redis`), in Redis
    /// behind a local copy, so any server knows any cookie. A session is only stored
    /// once it holds a frame (or the page asked for it with
    /// [`crate::started_frame_cache`]): page views, failed requests and cookie-less calls
    /// that make nothing (a made-up handle, a refused upload) leave no record behind, in
    /// the local store or in Redis.
    fn with_frame_cache(self, cache: FrameCache, cookie: SessionCookie) -> Self;
}

impl<S: Clone + Send + Sync + 'static> FrameCacheRouter for Router<S> {
    fn with_frame_cache(self, cache: FrameCache, cookie: SessionCookie) -> Self {
        let inactivity = cache.config().session_timeout.as_secs();
        let inactivity = time::Duration::seconds(i64::try_from(inactivity).unwrap_or(i64::MAX));
        #[cfg(feature = "redis")]
        if let Some(shared) = cache.shared() {
            // Several servers: the records in Redis, so any server knows any cookie.
            let count = crate::redis_store::SessionCount::new(shared.clone(), cookie.max_sessions);
            let store = crate::redis_store::SharedSessions::new(count.clone(), cookie.max_sessions);
            let wiring = Wiring {
                cache,
                count: Some(count),
            };
            return self
                .layer(middleware::from_fn(forget_unused_sessions))
                .layer(Extension(wiring))
                .layer(session_layer(store, cookie, inactivity));
        }
        // A cache shared through Redis with sessions kept on each server would lose every
        // cookie at the balancer's next hop: a wiring mistake, refused at start-up.
        assert!(
            !cache.is_shared(),
            "the cache is shared through Redis: enable stayput-sessions' `redis` feature so sessions are shared too"
        );
        let store = MokaStore::new(Some(cookie.max_sessions));
        let wiring = Wiring {
            cache,
            #[cfg(feature = "redis")]
            count: None,
        };
        self.layer(middleware::from_fn(forget_unused_sessions))
            .layer(Extension(wiring))
            .layer(session_layer(store, cookie, inactivity))
    }
}

/// A session this request started is not kept when it ends holding nothing: its owner
/// key is taken out again, so the session is empty and tower-sessions stores no record
/// and sets no cookie (issue 23: every cookie-less call wrote a 24 h record to Redis).
/// One that holds a frame is marked so, which the Redis count reads
/// ([`crate::redis_store`]).
async fn forget_unused_sessions(
    Extension(Wiring { cache, .. }): Extension<Wiring>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let had_one = matches!(existing_key(&session).await, Ok(Some(_)));
    let response = next.run(request).await;
    if let Ok(Some(key)) = existing_key(&session).await {
        if cache.holds_entries(key) && !matches!(session.get::<bool>(HOLDS_KEY).await, Ok(Some(true))) {
            if let Err(err) = session.insert(HOLDS_KEY, true).await {
                tracing::debug!(%err, "a session was not marked as holding frames");
            }
        }
    }
    if had_one {
        return response;
    }
    if let Ok(Some(key)) = existing_key(&session).await {
        let started = matches!(session.get::<bool>(STARTED_KEY).await, Ok(Some(true)));
        if !started && !cache.holds_entries(key) {
            if let Err(err) = session.remove::<SessionKey>(OWNER_KEY).await {
                tracing::debug!(%err, "an unused session could not be forgotten");
            }
        }
    }
    response
}
