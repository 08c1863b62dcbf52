//! The session cookie and the session layer that sets it.

use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

/// The session cookie the wiring sets: HttpOnly and SameSite=Lax always.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// Its name (default `stayput.sid`).
    pub name: String,
    /// Send it over HTTPS only (turn on behind TLS).
    pub secure: bool,
    /// Most sessions the server keeps at once (with Redis: all the servers together).
    /// Locally, the store keeps the sessions in use beyond it (its admission favours
    /// keys seen often), so a flood of one-shot sessions cannot push out the people
    /// using the app; in Redis a new session beyond it is refused
    /// ([`crate::SessionError::TooManySessions`]).
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

/// The session layer over `store`, with the cookie as given, expiring after `inactivity`.
pub(crate) fn session_layer<Store: SessionStore + Clone>(
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
