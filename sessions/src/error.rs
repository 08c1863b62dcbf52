//! [`SessionError`]: why a request could not be given its session.

/// Why a request got no session (and so no cache owner).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The shared session store (Redis) cannot be reached: a new session needs it (every
    /// server must know it). Worth retrying.
    #[error("the shared cache is unavailable right now; try again shortly")]
    SharedUnavailable,
    /// The session store failed otherwise (logged where it happened).
    #[error("the session store failed")]
    Store,
    /// All the servers already keep as many sessions as they may: a new one is refused
    /// before any work.
    #[error("the server keeps as many sessions as it may ({max}); try again later")]
    TooManySessions {
        /// `SessionCookie::max_sessions` (`STAYPUT_MAX_SESSIONS`).
        max: u64,
    },
    /// A server function asked for its session, but the router was not wired with
    /// [`crate::FrameCacheRouter::with_frame_cache`] (a bug of the server).
    #[error("the server is not wired for the frame cache")]
    NotWired,
}
