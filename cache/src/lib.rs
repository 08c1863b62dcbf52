//! The handle cache: DataFrames stay on the server, the browser holds handles.
//!
//! A server function that builds a frame stores it in a [`FrameCache`] under the
//! caller's [`SessionKey`] and returns the [`FrameHandle`] it gets back. The handle is
//! all the browser ever sees; the next server function turns it back into the frame
//! with [`FrameCache::get`], without copying it (values are `Arc<DataFrame>`).
//!
//! What the cache promises:
//! - **Bytes, not entries.** A global memory budget, a per-session quota (a session
//!   over it loses its own least recently used frames first) and, for the cold tier,
//!   a disk budget. Over the global budget the heaviest session pays, so one heavy
//!   session cannot push anyone below their fair share.
//! - **A placement per output.** [`Placement::Memory`], [`Placement::Disk`] or
//!   [`Placement::Auto`] (memory below a threshold, disk above; spills to disk instead
//!   of being dropped).
//! - **Never a silent `None`.** A handle of another session reads as
//!   [`CacheError::Unknown`], exactly like a made-up one; an evicted frame either is
//!   rebuilt from its [`Lineage`] by a registered recipe (once, however many readers
//!   ask) or reads as [`CacheError::Expired`].
//! - **Memoization.** [`FrameCache::make_memoized`] returns the existing handle for
//!   the same recipe and arguments in the same session; concurrent calls compute once.
//!
//! # Use it in a Leptos app
//!
//! Two server functions pass a frame by handle: the first builds it (memoized and
//! rebuildable from its lineage, through a registered recipe), the second reads it. The
//! browser only ever holds the [`FrameHandle`]. With the `leptos` feature:
//!
//! ```no_run
//! use leptos::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use stayput_cache::FrameHandle;
//!
//! /// The arguments of the `squares` recipe: also its lineage.
//! #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
//! pub struct Squares {
//!     pub rows: u32,
//! }
//!
//! #[cfg(feature = "leptos")] // server-only code: `ssr` in a real app
//! fn squares(args: Squares) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
//!     use polars::prelude::*;
//!     let x: Vec<f64> = (0..args.rows).map(f64::from).collect();
//!     let y: Vec<f64> = x.iter().map(|v| v * v).collect();
//!     df!("x" => x, "y" => y)
//! }
//!
//! /// Step 1: builds the frame on the server and returns only its handle.
//! #[server]
//! pub async fn make_squares(rows: u32) -> Result<FrameHandle, ServerFnError> {
//!     use stayput_cache::{frame_cache, Placement};
//!     let (cache, session) = frame_cache().await.map_err(ServerFnError::new)?;
//!     // Same arguments in the same session: the existing handle, computed once.
//!     cache
//!         .make_memoized(session, "squares", &Squares { rows }, Placement::Auto)
//!         .await
//!         .map_err(ServerFnError::new)
//! }
//!
//! /// Step 2: reads the frame behind the handle (no copy) and returns a small answer.
//! #[server]
//! pub async fn sum_of_squares(handle: FrameHandle) -> Result<f64, ServerFnError> {
//!     use polars::prelude::ChunkAgg;
//!     let (cache, session) = stayput_cache::frame_cache().await.map_err(ServerFnError::new)?;
//!     // Unknown, foreign and expired handles fail alike; evicted ones are rebuilt.
//!     let frame = cache.get(session, &handle).await.map_err(ServerFnError::new)?;
//!     let y = frame.column("y").and_then(|c| c.f64().cloned()).map_err(ServerFnError::new)?;
//!     Ok(y.sum().unwrap_or(0.0))
//! }
//!
//! #[cfg(feature = "leptos")]
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     use stayput_cache::{ByteSize, CacheConfig, FrameCache, FrameCacheRouter, SessionCookie};
//!
//!     let cache = FrameCache::builder(CacheConfig::new(ByteSize(1 << 30)))
//!         .recipe("squares", |args: Squares| async move { squares(args) })
//!         .build();
//!     let _purger = cache.spawn_purger(); // idle expiry and session-end cleanup
//!     let router = axum::Router::new()
//!         .route("/api/{*fn_name}", axum::routing::post(leptos_axum::handle_server_fns))
//!         // The one call: session cookie + cache for every route above.
//!         .with_frame_cache(cache, SessionCookie::default());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, router).await
//! }
//! # #[cfg(not(feature = "leptos"))]
//! # fn main() {}
//! ```
//!
//! In a cargo-leptos app the router is the one `leptos_routes` builds; add
//! `.with_frame_cache(..)` after it (axum layers cover only the routes added before).
//!
//! # Layout
//! Plain data, shared with the wasm client (always built):
//! - [`handle`]: [`FrameHandle`], the serialisable handle the browser holds, and its
//!   [`FrameId`].
//! - [`placement`]: where a frame should go ([`Placement`]) and where it is ([`Residence`]).
//! - [`lineage`]: [`Lineage`], the recipe and arguments a frame was made from.
//! - [`inspect`]: what the `/cache` page shows: [`EntryInfo`], [`Totals`].
//! - [`size`]: human byte sizes (`4GiB`, `512MB`) for configuration and display.
//! - [`error`]: [`CacheError`], the one error type of the cache.
//! - [`sync`]: [`sync::lock`], the one poison-tolerant mutex lock of the workspace.
//!
//! The store (feature `server`):
//! - `config`: [`CacheConfig`], the budget, quota, `Auto` threshold and timeouts.
//! - `session`: [`SessionKey`], the owner of cached frames.
//! - `store`: [`FrameCache`] and the state its clones share; its methods live in:
//!   - `store::builder`: [`FrameCacheBuilder`] and the constructors that start one.
//!   - `store::put`: storing, making and memoizing; placement rules; filling a tier.
//!   - `store::get`: reading from memory or the cold tier, or rebuilding from the lineage.
//!   - `store::release`: `remove`, `release`, a whole session; freeing off the request path.
//!   - `store::reserve`: admission before allocation ([`Reservation`]).
//!   - `store::settle`: evictions finished off the lock, in their own task.
//!   - `store::purge`: idle expiry and the purger task ([`PurgeGuard`]).
//!   - `store::listing`: a session's entries, the totals, the counters and metrics text.
//!   - `store::flight`: single-flight, so concurrent identical computations run once.
//!   - `store::from_files`: files and uploads becoming handles (`ingest`, `ingest_file`).
//!   - `store::sharing`: the store's side of Redis: `tell` (publishing entries, writing
//!     small frames through, the quota across servers) and `learn` (syncing a session,
//!     adopting entries, reading through Redis before rebuilding).
//! - `state`: the bookkeeping and the eviction policy, under one mutex.
//! - `recipe`: recipes, the named functions that make and rebuild frames.
//! - `tier`: the [`ColdTier`] trait, for tiers outside the process's heap.
//! - `disk`: [`DiskTier`], the cold tier on disk (Arrow IPC files, memory-mapped reads).
//! - `sorted`: polars' sorted flag, put back on a frame that comes back from a tier.
//! - `metrics`: [`Counters`] and their Prometheus text.
//! - [`ingest`]: files and uploads as frames: a file's kind by its bytes (`format`), a
//!   CSV checked as it streams (`check`), Arrow and Parquet metadata checked against the
//!   file (`ipc_footer`, `parquet_footer`), polars' readers (`parse`), the uploads
//!   directory and its budget (`files`), an upload arriving (`incoming`), downloads'
//!   scratch files (`scratch`), the fuzzing campaign (`fuzz`, tests only).
//! - [`spare`]: spare f64 buffers taken back from frames that left, for the next fill.
//! - [`shared`] (feature `redis`): several servers sharing sessions, the handle index,
//!   the memo table and small frames through Redis ([`SharedStore`]).
//! - [`wiring`] (feature `leptos`): the session cookie and the cache on an axum router in
//!   one call, and [`frame_cache`] for server functions.
//!
//! Without its default `server` feature the crate holds only the plain data types, with
//! no polars, tokio or uuid, so the browser build can use them.

pub mod error;
pub mod handle;
pub mod inspect;
pub mod lineage;
pub mod placement;
pub mod size;
pub mod sync;

#[cfg(feature = "server")]
mod config;
#[cfg(feature = "server")]
mod disk;
#[cfg(feature = "server")]
pub mod ingest;
#[cfg(feature = "server")]
mod metrics;
#[cfg(feature = "server")]
mod recipe;
#[cfg(feature = "server")]
mod session;
#[cfg(feature = "redis")]
pub mod shared;
#[cfg(feature = "server")]
mod sorted;
#[cfg(feature = "server")]
pub mod spare;
#[cfg(feature = "server")]
mod state;
#[cfg(feature = "server")]
mod store;
#[cfg(feature = "server")]
mod tier;
#[cfg(feature = "leptos")]
pub mod wiring;

pub use error::{CacheError, Limit, RecipeError};
pub use handle::{FrameHandle, FrameId};
pub use inspect::{EntryInfo, TierTotals, Totals};
pub use lineage::Lineage;
pub use placement::{Placement, Residence};
pub use size::ByteSize;

#[cfg(feature = "server")]
pub use config::{CacheConfig, DEFAULT_MAX_FRAMES_PER_SESSION};
#[cfg(feature = "server")]
pub use disk::{DiskTier, DIR_SETTING};
#[cfg(feature = "server")]
pub use ingest::{
    Incoming, IngestError, UploadSource, Uploads, GZIP_SLACK, MAX_COLUMNS, MAX_DEPTH, MAX_EXPANSION,
    MAX_FIELDS, MAX_GZIP_RATIO, MAX_ROWS, MAX_XLSX_RATIO,
};
#[cfg(feature = "server")]
pub use metrics::{Counters, EvictionCause};
#[cfg(feature = "server")]
pub use recipe::BoxFuture;
#[cfg(feature = "server")]
pub use session::SessionKey;
#[cfg(feature = "redis")]
pub use shared::{redacted, SharedError, SharedSettings, SharedStore};
#[cfg(feature = "server")]
pub use state::{ENTRY_OVERHEAD, MAX_LINEAGE_BYTES};
#[cfg(feature = "server")]
pub use store::{FrameCache, FrameCacheBuilder, PurgeGuard, Reservation};
#[cfg(feature = "server")]
pub use tier::{ColdTier, FrameKey, Stored, TierUsage};
#[cfg(feature = "leptos")]
pub use wiring::{
    existing_frame_cache, existing_session_key, existing_shared_session_key, frame_cache, session_key,
    shared_session_key, started_frame_cache, FrameCacheRouter, SessionCookie, DEFAULT_MAX_SESSIONS,
};
