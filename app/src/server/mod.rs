//! The server-only glue between the contract and the libraries (feature `ssr`): the
//! one place in `app` that polars, rayon and tokio reach.
//!
//! - [`context`]: Stayput's own settings, as server functions read them.
//! - [`heavy`]: admission of heavy jobs: bounded slots, a short queue, load shedding.
//! - [`recipes`]: how each kind of frame is made, so evicted ones are rebuilt.
//! - [`ops`]: the plain functions behind the server functions, taking the cache and
//!   the session explicitly, so tests call them directly.
//! - [`bench_frame`]: the benchmark's workload (the random fill, its mean and
//!   histogram, client mode's raw bytes).
//! - [`client_mode`]: the two raw-byte axum handlers of client mode.
//! - [`errors`]: library errors as the [`StayputError`] a user sees, and any error as
//!   an HTTP response with its one status.

pub mod bench_frame;
pub mod client_mode;
pub mod context;
pub mod errors;
pub mod heavy;
pub mod ops;
pub mod recipes;

use crate::contract::StayputError;

/// Runs CPU-bound `work` off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StayputError> + Send + 'static,
) -> Result<T, StayputError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| {
        tracing::error!(%err, "compute task failed");
        StayputError::Internal
    })?
}
