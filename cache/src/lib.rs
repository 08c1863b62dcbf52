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
//! # Layout
//! - [`handle`]: the serialisable handle type, shared with the wasm client.
//! - [`placement`], [`lineage`], [`inspect`]: plain data shared with the client.
//! - [`size`]: human byte sizes (`4GiB`, `512MB`) for configuration and display.
//! - [`error`]: [`CacheError`], the one error type of the cache.
//! - `store` (feature `server`): [`FrameCache`] and its builder.
//! - `state`: the bookkeeping and the eviction policy, under one mutex.
//! - `tier` / `disk`: the [`ColdTier`] trait and the disk tier ([`DiskTier`]).
//! - `recipe`: recipes that rebuild frames; `metrics`: counters and Prometheus text.
//!
//! Without its default `server` feature the crate holds only the plain data types, with
//! no polars, tokio or uuid, so the browser build can use them.

pub mod error;
pub mod handle;
pub mod inspect;
pub mod lineage;
pub mod placement;
pub mod size;

#[cfg(feature = "server")]
mod config;
#[cfg(feature = "server")]
mod disk;
#[cfg(feature = "server")]
mod metrics;
#[cfg(feature = "server")]
mod recipe;
#[cfg(feature = "server")]
mod session;
#[cfg(feature = "server")]
mod state;
#[cfg(feature = "server")]
mod store;
#[cfg(feature = "server")]
mod tier;

pub use error::CacheError;
pub use handle::FrameHandle;
pub use inspect::{EntryInfo, TierTotals, Totals};
pub use lineage::Lineage;
pub use placement::{Placement, Residence};
pub use size::ByteSize;

#[cfg(feature = "server")]
pub use config::CacheConfig;
#[cfg(feature = "server")]
pub use disk::{DiskTier, DIR_SETTING};
#[cfg(feature = "server")]
pub use metrics::{Counters, EvictionCause};
#[cfg(feature = "server")]
pub use recipe::BoxFuture;
#[cfg(feature = "server")]
pub use session::SessionKey;
#[cfg(feature = "server")]
pub use store::{FrameCache, FrameCacheBuilder, PurgeGuard};
#[cfg(feature = "server")]
pub use tier::{ColdTier, FrameKey, Stored, TierUsage};
