//! Who is calling the app's own routes and the steps socket: the cache and the request's
//! browser session, resolved in one place. The session's key is looked up (and synced
//! with the other servers) only when the handler asks for it, so a request refused on
//! its size or its arguments never starts a session. Server functions get the same
//! from `stayput_cache::frame_cache`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use stayput_cache::{existing_shared_session_key, shared_session_key, FrameCache, SessionKey};
use tower_sessions::Session;

use crate::contract::StayputError;
use crate::server::state::AppState;

/// The caller of one request.
pub struct Caller {
    cache: FrameCache,
    session: Session,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            cache: state.cache.clone(),
            session,
        })
    }
}

impl Caller {
    /// The caller's session key, starting a session if it has none (a new one needs the
    /// shared store, when there is one); it learns the handles other servers made.
    pub async fn session(&self) -> Result<SessionKey, StayputError> {
        Ok(shared_session_key(&self.cache, &self.session).await?)
    }

    /// The caller's session key if its cookie came with the request; never starts one.
    /// It learns the handles other servers made (and goes on with this one's if Redis
    /// cannot tell).
    pub async fn existing_session(&self) -> Result<Option<SessionKey>, StayputError> {
        Ok(existing_shared_session_key(&self.cache, &self.session).await?)
    }
}
