//! Errors of the handle cache.

use crate::ByteSize;

/// Why the cache could not serve a request.
///
/// [`CacheError::Unknown`] deliberately covers a made-up id, an id from another
/// session and an entry that expired or was evicted: a caller must not be able to
/// tell these apart, or handles would leak information across sessions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// No such frame for this session (never existed, foreign, expired or evicted).
    #[error("unknown or expired data")]
    Unknown,
    /// The frame alone is larger than the whole memory budget.
    #[error("the frame needs {needed} but the memory budget is {budget}")]
    TooLarge {
        /// Estimated size of the frame.
        needed: ByteSize,
        /// The configured budget.
        budget: ByteSize,
    },
}
