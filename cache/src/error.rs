//! Errors of the handle cache, the limits that refuse work, and the error a recipe
//! gives back (kept with its type, so an app can tell a user's mistake from a fault).

use std::fmt;
use std::sync::Arc;

use crate::ByteSize;

/// A limit that refused a frame, a file or an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The memory all frames of the server share.
    MemoryBudget,
    /// The memory one session's frames may take.
    SessionQuota,
    /// The session quota, part of it held by the session on other servers.
    SessionQuotaHeldElsewhere,
    /// The disk tier's budget.
    DiskBudget,
    /// The largest frame written to Redis for the other servers.
    RedisFrameMax,
}

impl Limit {
    /// Its name in a message ("memory budget", …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemoryBudget => "memory budget",
            Self::SessionQuota => "session quota",
            Self::SessionQuotaHeldElsewhere => "session quota (part of it held on other servers)",
            Self::DiskBudget => "disk budget",
            Self::RedisFrameMax => "largest frame shared through Redis",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a recipe failed with, its type kept: [`RecipeError::downcast_ref`] gets the
/// recipe's own error back (an app's "bad step" stays a bad request, not a fault).
#[derive(Clone)]
pub struct RecipeError(Arc<dyn std::error::Error + Send + Sync>);

impl RecipeError {
    /// Wraps a recipe's error (any error type, or a `String` / `&str` message).
    pub fn new(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(Arc::from(err.into()))
    }

    /// The recipe's error, if it is a `T`.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Debug for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// So that a disk-file recipe's write can fail with it, inside an [`std::io::Error`].
impl std::error::Error for RecipeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two recipe errors are equal when they say the same (the types are erased).
impl PartialEq for RecipeError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

impl Eq for RecipeError {}

/// Everything that can go wrong in the cache.
///
/// `Unknown` covers made-up, malformed and foreign handles alike, so that a handle of
/// another session cannot be told apart from one that never existed. `Expired` is a
/// handle of the caller's own session whose frame was evicted or expired and cannot be
/// rebuilt. Messages never contain paths or other internals except `CacheDir`, which is
/// a start-up error for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// No such handle in this session (made up, malformed, foreign, or its session ended).
    #[error("unknown or expired data")]
    Unknown,
    /// The handle was valid but its frame was evicted or expired and has no recipe.
    #[error("the data expired or was evicted from the server's cache")]
    Expired,
    /// The frame is larger than the limit that applies to it.
    #[error("the frame needs {needed} but the {limit} is {budget}")]
    TooLarge {
        /// Estimated size of the frame.
        needed: ByteSize,
        /// Which limit refused it.
        limit: Limit,
        /// The limit.
        budget: ByteSize,
    },
    /// The memory the frame needs is held by work in progress (other frames being
    /// built): nothing evictable would make room now. Worth retrying shortly.
    #[error("the server's memory is reserved by work in progress; try again shortly")]
    Busy,
    /// The disk placement was asked for but the cache has no disk tier.
    #[error("this cache has no disk tier")]
    NoDisk,
    /// A tier failed to store or load a frame (disk full, Redis down, …). The detail is
    /// logged on the server; the message is safe to show.
    #[error("the cache's {tier} tier failed")]
    Storage {
        /// Which tier.
        tier: &'static str,
    },
    /// The shared store (Redis) that several servers use for sessions, handles and
    /// frames cannot be reached right now. Worth retrying: the client reconnects.
    #[error("the shared cache is unavailable right now; try again shortly")]
    SharedUnavailable,

    /// The recipe failed making a frame: its own error, type kept (a caller's bad
    /// arguments stay the caller's).
    #[error("making the data failed: {0}")]
    Recipe(RecipeError),
    /// Rebuilding an evicted frame from its lineage failed: the same recipe made it
    /// before, so this is a fault of the server or its files, never of the request.
    #[error("rebuilding the data failed: {0}")]
    Rebuild(RecipeError),
    /// No recipe is registered under this function name.
    #[error("no recipe named {0:?} is registered")]
    NoRecipe(String),
    /// Arguments could not be encoded or decoded as JSON.
    #[error("bad arguments for {function}: {reason}")]
    BadArguments {
        /// The recipe.
        function: String,
        /// What serde said.
        reason: String,
    },
    /// A lineage longer than [`crate::MAX_LINEAGE_BYTES`] (a chain of many steps with
    /// long values): refused before anything is made, since every entry keeps it twice.
    #[error("the frame's recipe is {bytes} bytes long; at most {max} are kept: start again from the upload, or use shorter values")]
    LineageTooLong {
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The cache directory cannot be used (start-up only; for the operator).
    #[error("cannot use cache directory {path}: {reason} (set {setting} to a writable directory)")]
    CacheDir {
        /// The directory.
        path: String,
        /// Why, e.g. "Permission denied".
        reason: String,
        /// The setting that changes the directory.
        setting: &'static str,
    },
}

impl CacheError {
    /// `self`, met while rebuilding an evicted frame: what the recipe (or the file it
    /// reads) failed with becomes [`CacheError::Rebuild`]; the cache's own refusals
    /// (busy, too large, a tier down) stay what they are.
    #[cfg(feature = "server")]
    pub(crate) fn rebuilding(self) -> Self {
        match self {
            Self::Recipe(err) => Self::Rebuild(err),
            other => other,
        }
    }
}
