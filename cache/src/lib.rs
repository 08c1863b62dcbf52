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
//! # Use it
//!
//! A frame made by a registered recipe, memoized and rebuildable from its lineage, then
//! read back through its handle. In a web app the session key comes from the browser's
//! session, which `stayput-sessions` binds to the cache in one call (with a Leptos
//! example of two server functions passing a handle).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stayput_cache::{ByteSize, CacheConfig, FrameCache, Placement, SessionKey};
//!
//! /// The arguments of the `squares` recipe: also its lineage.
//! #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
//! struct Squares {
//!     rows: u32,
//! }
//!
//! fn squares(args: Squares) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
//!     use polars::prelude::*;
//!     let x: Vec<f64> = (0..args.rows).map(f64::from).collect();
//!     let y: Vec<f64> = x.iter().map(|v| v * v).collect();
//!     df!("x" => x, "y" => y)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), stayput_cache::CacheError> {
//! let cache = FrameCache::builder(CacheConfig::new(ByteSize(1 << 30)))
//!     .recipe("squares", |args: Squares| async move { squares(args) })
//!     .build();
//! let session = SessionKey::random();
//! let handle = cache
//!     .make_memoized(session, "squares", &Squares { rows: 1_000 }, Placement::Auto)
//!     .await?;
//! // Same arguments in the same session: the same handle, computed once.
//! let again = cache
//!     .make_memoized(session, "squares", &Squares { rows: 1_000 }, Placement::Auto)
//!     .await?;
//! assert_eq!(handle, again);
//! // Read without a copy; another session's key reads it as unknown.
//! assert_eq!(cache.get(session, &handle).await?.height(), 1_000);
//! assert!(cache.get(SessionKey::random(), &handle).await.is_err());
//! # Ok(())
//! # }
//! ```
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
//!   - `store::sharing`: the store's side of Redis: `tell` (publishing entries, writing
//!     small frames through, the quota across servers) and `learn` (syncing a session,
//!     adopting entries, reading through Redis before rebuilding).
//! - `state`: the bookkeeping and the eviction policy, under one mutex.
//! - `recipe`: recipes, the named functions that make and rebuild frames.
//! - `kept`: the [`KeptFiles`] trait, for files kept beside the cache that a recipe reads
//!   frames back from (`stayput-data`'s uploads); the cache decides when they go.
//! - `tier`: the [`ColdTier`] trait, for tiers outside the process's heap (the disk tier,
//!   and the Redis tier, `RedisTier`).
//! - `disk`: [`DiskTier`], the cold tier on disk (Arrow IPC files, memory-mapped reads);
//!   `disk::frame_files`: its files' names, modes, writes and reads; `disk::one_batch`: a
//!   frame written as one Arrow record batch, column by column; `disk::mapped`: the
//!   mapping a frame made on disk keeps, its pages let go after each read.
//! - `sorted`: polars' sorted flag, put back on a frame that comes back from a tier.
//! - `metrics`: [`Counters`] and their Prometheus text.
//! - [`spare`]: spare f64 buffers taken back from frames that left, for the next fill.
//! - [`shared`] (feature `redis`): several servers sharing the handle index, the memo
//!   table and small frames through Redis ([`SharedStore`]; the sessions' records are
//!   `stayput-sessions`', over its pool).
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
mod kept;
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

pub use error::{CacheError, Limit, RecipeError};
pub use handle::{FrameHandle, FrameId};
pub use inspect::{EntryInfo, TierTotals, Totals};
pub use lineage::Lineage;
pub use placement::{Placement, Residence};
pub use size::ByteSize;

#[cfg(feature = "server")]
pub use config::{CacheConfig, DEFAULT_MAX_FRAMES_PER_SESSION};
#[cfg(feature = "server")]
pub use disk::{ColumnsWriter, DiskTier, DIR_SETTING};
#[cfg(feature = "server")]
pub use kept::KeptFiles;
#[cfg(feature = "server")]
pub use metrics::{Counters, EvictionCause};
#[cfg(feature = "server")]
pub use recipe::{BoxFuture, DiskShape, DiskWrite, Values};
#[cfg(feature = "server")]
pub use session::SessionKey;
#[cfg(feature = "redis")]
pub use shared::{redacted, ReadStages, RedisTier, SharedError, SharedSettings, SharedStore};
#[cfg(feature = "server")]
pub use state::{ENTRY_OVERHEAD, MAX_LINEAGE_BYTES};
#[cfg(feature = "server")]
pub use store::{FrameCache, FrameCacheBuilder, PurgeGuard, Reservation};
#[cfg(feature = "server")]
pub use tier::{ColdTier, FrameKey, Stored, TierUsage, WriteFn};
