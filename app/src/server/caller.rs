//! Who is calling the app's own routes and the steps socket: the cache and the request's
//! browser session, resolved in one place (`stayput_sessions::BrowserSession`, the same
//! extractor the server functions' `stayput_sessions::frame_cache` uses). The session's
//! key is looked up (and synced with the other servers) only when the handler asks for
//! it, so a request refused on its size or its arguments never starts a session.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use stayput_cache::SessionKey;
use stayput_sessions::BrowserSession;

use crate::contract::StayputError;
use crate::server::state::AppState;

/// The caller of one request.
pub struct Caller(BrowserSession);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Only a router not wired with the session layer gets here: the server's fault,
        // answered like every other refusal (JSON, nothing internal).
        let browser = BrowserSession::from_request_parts(parts, state)
            .await
            .map_err(|_| crate::server::errors::error_response(StayputError::Internal))?;
        Ok(Self(browser))
    }
}

impl Caller {
    /// The caller's session key, starting a session if it has none (a new one needs the
    /// shared store, when there is one); it learns the handles other servers made.
    pub async fn session(&self) -> Result<SessionKey, StayputError> {
        Ok(self.0.key().await?)
    }

    /// The caller's session key if its cookie came with the request; never starts one.
    /// It learns the handles other servers made (and goes on with this one's if Redis
    /// cannot tell).
    pub async fn existing_session(&self) -> Result<Option<SessionKey>, StayputError> {
        Ok(self.0.existing_key().await?)
    }
}
