//! [`StepError`]: why a step could not be planned, sized or run.

#[cfg(feature = "engine")]
use crate::IngestError;

/// Why a step of `/data` could not be planned, sized or run. Messages name the column
/// or value at fault and never a path; they are the library's whole text (an app may
/// cut them before echoing them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The step does not fit the frame (a missing column, a type it cannot take, a
    /// value that is not a number…): the user's to fix.
    #[error("{0}")]
    Bad(String),
    /// Asked of a frame that was not made from a file: it has no chain to add to.
    #[error("this frame was not made from a file: upload data or open an example to transform it")]
    NotFromFile,
    /// A lineage that does not read as a chain: the server's fault, not the request's.
    #[error("the frame's recipe could not be read")]
    Unreadable,
    /// A kept file could not be read.
    #[cfg(feature = "engine")]
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// A query polars refused or could not run: its first line, as the step's fault (a
/// message about files, which may name a path, is replaced by a plain one and logged).
#[cfg(feature = "engine")]
impl From<polars::prelude::PolarsError> for StepError {
    fn from(err: polars::prelude::PolarsError) -> Self {
        Self::Bad(crate::chain::first_line(&err.to_string()))
    }
}

/// A [`StepError::Bad`] saying `message`.
#[cfg(feature = "engine")]
pub(crate) fn bad(message: impl Into<String>) -> StepError {
    StepError::Bad(message.into())
}
