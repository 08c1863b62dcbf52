//! Library errors as the [`StayputError`] a user sees: clear words, no internal detail.

use stayput_cache::CacheError;
use stayput_figures::FigureError;

use crate::contract::StayputError;

impl From<CacheError> for StayputError {
    fn from(err: CacheError) -> Self {
        match err {
            // Expired and unknown read the same to the browser: a foreign handle must
            // not be distinguishable from one that expired.
            CacheError::Unknown | CacheError::Expired => Self::UnknownHandle,
            CacheError::TooLarge {
                needed,
                limit,
                budget,
            } => Self::TooLarge {
                needed: needed.to_string(),
                limit: limit.to_owned(),
                budget: budget.to_string(),
            },
            CacheError::Storage { tier } => Self::Storage(tier.to_owned()),
            CacheError::Recompute(reason) => Self::Rebuild(reason),
            other => {
                tracing::error!(err = %other, "cache misuse");
                Self::Internal
            }
        }
    }
}

impl From<FigureError> for StayputError {
    fn from(err: FigureError) -> Self {
        Self::BadSpec(err.to_string())
    }
}
