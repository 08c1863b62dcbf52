//! The server-only glue between the contract and the libraries (feature `ssr`): the
//! one place in `app` that polars, rayon and tokio reach.
//!
//! - [`state`]: [`state::AppState`], everything the server side needs, built once by the
//!   binary: the state of [`routes`] and the context of the server functions.
//! - [`routes`]: the app's own routes (client mode, `/data`'s upload and download, the
//!   steps socket), for the binary to mount.
//! - [`caller`]: [`caller::Caller`], the cache and the request's session for the
//!   app's own routes and the socket, the session resolved in one place.
//! - [`context`]: what server functions read of the state.
//! - [`heavy`]: admission of heavy jobs: bounded slots, a short queue, load shedding.
//! - [`work`]: [`work::Work`], each kind of work admitted and what it costs: the one
//!   place costs are worked out.
//! - [`places`]: places counted per session and in all, given back on drop: one
//!   limiter for heavy jobs' per-session share, the steps sockets, uploads, downloads.
//! - [`linked`]: linked views: a frame's figures re-aggregated against each other's
//!   selections.
//! - [`recipes`]: how each kind of frame is made, so evicted ones are rebuilt.
//! - [`ops`]: the plain functions behind the server functions, taking the cache and
//!   the session explicitly, so tests call them directly.
//! - [`bench_frame`]: the benchmark's workload (the random fill, its mean and
//!   histogram, client mode's raw bytes).
//! - [`body`]: request bodies read within a limit and cut off when they stall.
//! - [`data`]: `/data`: uploads, examples, looking, transforms, plots, downloads.
//! - [`client_mode`]: the two raw-byte axum handlers of client mode.
//! - [`steps_socket`]: the benchmark's steps on one WebSocket, held to account.
//! - [`errors`]: library errors as the [`StayputError`] a user sees, and any error as
//!   an HTTP response with its one status.

pub mod bench_frame;
pub mod body;
pub mod caller;
pub mod client_mode;
pub mod context;
pub mod data;
pub mod errors;
pub mod heavy;
pub mod linked;
pub mod on_disk;
pub mod ops;
pub mod places;
pub mod recipes;
pub mod routes;
pub mod state;
pub mod steps_socket;
pub mod work;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

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

/// The rayon pool for parallel work of jobs under [`heavy::LARGE_ROWS`] rows, at normal
/// priority. The global pool's workers are niced and busy with 1e8-row fills under a
/// flood; a 1e6-row job's tasks injected there waited for them (issue 23: a histogram of
/// a 1e6 frame took 7.5 s at p99 while 1e8 fills ran). In its own pool, that job's work
/// preempts the large work instead. A pool is process-wide by nature, like rayon's
/// global one; `None` when the OS refused its threads (then the global pool serves).
fn medium_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("stayput-medium-{i}"))
            .build()
            .map_err(|err| tracing::warn!(%err, "no pool for medium jobs; they share the large jobs' pool"))
            .ok()
    })
    .as_ref()
}

/// Runs `work` (which may use rayon's parallel iterators) in the pool for a job of
/// `rows` rows: the medium pool below [`heavy::LARGE_ROWS`], rayon's global one from it.
/// Blocking: call it from the blocking pool.
pub(crate) fn in_pool_for<T: Send>(rows: u64, work: impl FnOnce() -> T + Send) -> T {
    match medium_pool() {
        Some(pool) if rows < heavy::LARGE_ROWS => pool.install(work),
        _ => work(),
    }
}

/// Runs CPU-bound `work` of a job of `rows` rows on a rayon pool (the one
/// [`in_pool_for`] picks), the counterpart of [`blocking`] for work that is itself
/// parallel: it starts on the workers that do it instead of passing through a blocking
/// thread (two thread hand-overs fewer, which another process's load on the cores makes
/// slow). A panic in `work` is an internal error, as on the blocking pool.
async fn on_rayon<T: Send + 'static>(
    rows: u64,
    work: impl FnOnce() -> Result<T, StayputError> + Send + 'static,
) -> Result<T, StayputError> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let job = move || {
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        // Nobody waits any more when the future was dropped.
        let _ = done_tx.send(done);
    };
    match medium_pool() {
        Some(pool) if rows < heavy::LARGE_ROWS => pool.spawn(job),
        _ => rayon::spawn(job),
    }
    let done = done_rx.await.map_err(|_| StayputError::Internal)?;
    done.map_err(|_| {
        tracing::error!("compute task panicked");
        StayputError::Internal
    })?
}

/// Runs CPU-bound `work` off the async runtime with a flag it checks between chunks: set
/// when the awaiting future is dropped (the client went away, or the request's deadline
/// passed), so a large fill stops instead of running to its end for nobody. `work`
/// returns `None` when it stopped.
pub(crate) async fn cancellable<T: Send + 'static>(
    work: impl FnOnce(&AtomicBool) -> Result<Option<T>, StayputError> + Send + 'static,
) -> Result<T, StayputError> {
    with_stop(|stop| blocking(move || work(&stop))).await
}

/// Like [`cancellable`], but `work` (of a job of `rows` rows) runs on a rayon pool
/// ([`on_rayon`]), for a parallel fill.
pub(crate) async fn cancellable_on_rayon<T: Send + 'static>(
    rows: u64,
    work: impl FnOnce(&AtomicBool) -> Result<Option<T>, StayputError> + Send + 'static,
) -> Result<T, StayputError> {
    with_stop(|stop| on_rayon(rows, move || work(&stop))).await
}

/// Runs what `start` starts with a stop flag that is set when this future is dropped.
async fn with_stop<T, F>(start: impl FnOnce(Arc<AtomicBool>) -> F) -> Result<T, StayputError>
where
    F: std::future::Future<Output = Result<Option<T>, StayputError>>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
    let done = start(stop).await?;
    // Only a dropped future sets the flag, and then nobody reads this.
    done.ok_or(StayputError::Internal)
}

/// Sets its flag when dropped, however the owning future ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
