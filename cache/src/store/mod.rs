//! [`FrameCache`]: sessions → handles → frames, across the memory tier and an optional
//! cold tier (disk, or a shared network store).
//!
//! One type, its methods spread over the child modules by what they do (the crate's
//! Layout lists them); they all work on the one [`Inner`] behind the cache's `Arc`.

mod builder;
mod flight;
mod get;
mod listing;
mod on_disk;
mod purge;
mod put;
mod release;
mod reserve;
mod settle;
mod sharing;

use std::sync::{Arc, Mutex, MutexGuard};

use polars::prelude::DataFrame;
use tokio::time::Instant;
use uuid::Uuid;

use crate::metrics::Counters;
use crate::recipe::Recipes;
use crate::state::State;
use crate::sync::lock;
use crate::tier::{ColdTier, FrameKey};
use crate::{CacheConfig, CacheError, FrameHandle, FrameId, Lineage, SessionKey};

pub use builder::FrameCacheBuilder;
use flight::Flights;
pub use purge::PurgeGuard;
pub use reserve::Reservation;

/// Receives evicted frames that nothing else still holds; see [`FrameCacheBuilder::recycle`].
type Recycler = Arc<dyn Fn(DataFrame) + Send + Sync>;

/// A cheap-to-clone handle to the shared cache of frames.
///
/// Values are `Arc<DataFrame>`: a read hands out the stored frame itself, never a copy.
/// Every entry belongs to one [`SessionKey`]; a handle read under any other session is
/// [`CacheError::Unknown`], exactly like a handle that never existed.
#[derive(Clone)]
pub struct FrameCache {
    inner: Arc<Inner>,
}

/// Everything the clones of one [`FrameCache`] share.
///
/// After [`FrameCacheBuilder::build`] only `state`, the two flight maps (each under its
/// own mutex) and the counters (atomics) change; the rest is fixed at build and read
/// without any lock.
struct Inner {
    /// The limits: placement rules, quota and budget on every fill, the timeouts of
    /// [`FrameCache::purge`], the budgets in the totals. Also read by the wiring, for the
    /// session cookie's expiry.
    config: CacheConfig,
    /// Where `Placement::Disk` frames live and `Placement::Auto` frames spill to. A trait
    /// object because the disk tier is one implementation of [`ColdTier`] (a network store
    /// would be another). `None`: `Disk` fails with [`CacheError::NoDisk`], `Auto` stays
    /// in memory, and evictions drop frames instead of spilling them.
    cold: Option<Arc<dyn ColdTier>>,
    /// The recipes that make (`make`, `make_memoized`) and rebuild frames from their
    /// lineage, by name. Registered on the builder, never changed afterwards.
    recipes: Recipes,
    /// Takes back the buffers of frames that leave memory and that no reader holds any
    /// more (see [`FrameCacheBuilder::recycle`]); called on the blocking pool.
    recycler: Option<Recycler>,
    /// Redis, when several servers share their sessions, handles and small frames.
    #[cfg(feature = "redis")]
    shared: Option<crate::shared::SharedStore>,
    /// The frames part of it: the Redis tier, behind the same trait as the disk tier.
    #[cfg(feature = "redis")]
    shared_frames: Option<Arc<dyn ColdTier>>,
    /// Files a recipe reads frames back from (an app's uploads), when there are any.
    kept: Option<Arc<dyn crate::KeptFiles>>,
    /// Hits, misses, evictions by cause, spills, recomputes: atomics, so bumping one
    /// takes no lock; rendered by `/metrics`.
    counters: Counters,
    /// The instant the cache was built, on tokio's clock: entries and sessions record
    /// their times as milliseconds since it (plain `u64`s in [`State`]). Tokio's clock
    /// rather than std's so that tests can pause and advance time
    /// (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) to reach the idle
    /// and session timeouts without sleeping; that is also why `build` belongs inside the
    /// runtime whose clock the cache should follow.
    epoch: Instant,
    /// All bookkeeping: entries, sessions, their memory use, the memo table. A std
    /// `Mutex`, not tokio's: every critical section is short, in-memory work (no I/O,
    /// no recipe, no recycler) and the guard is never held across an `.await` (the
    /// workspace's `clippy::await_holding_lock` lint watches for it). Tier I/O happens
    /// between lock sections, and the section after it checks again what changed
    /// meanwhile (e.g. a frame is marked cold only if it is still being written). A std
    /// mutex also lets the inspection methods stay synchronous.
    state: Mutex<State>,
    /// Rebuilds of evicted frames in progress, by frame: readers of the same evicted
    /// handle at the same time wait for one recipe run and all get the same frame, which
    /// refills the existing entry.
    rebuilding: Flights<FrameKey, Result<Arc<DataFrame>, CacheError>>,
    /// [`FrameCache::make_memoized`] calls in progress, by session and lineage: identical
    /// calls before the first one has stored its frame (and entered it in the memo table
    /// of `state`) compute once and all get the one new handle; the session is part of
    /// the key, so two sessions never share a handle. A separate map from
    /// `rebuilding` because it deduplicates something else: the creation of an entry that
    /// has no handle yet, where `rebuilding` refills an entry that has one.
    memoizing: Flights<(SessionKey, Lineage), Result<FrameHandle, CacheError>>,
}

impl FrameCache {
    /// The configuration this cache was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The most one frame may take in memory, and which limit that is
    /// ([`CacheConfig::frame_limit`]).
    pub fn memory_limit(&self) -> (crate::Limit, u64) {
        self.inner.config.frame_limit()
    }

    /// Whether frames can be placed on disk ([`crate::Placement::Disk`]): the cache has a
    /// disk tier, which frames larger than memory are written into.
    pub fn has_disk(&self) -> bool {
        self.inner.cold.as_ref().is_some_and(|cold| cold.takes_files())
    }

    /// [`CacheError::TooLarge`] for a frame of `bytes` that no eviction could make room
    /// for on disk; [`CacheError::NoDisk`] without a disk tier.
    pub fn fits_on_disk(&self, bytes: u64) -> Result<(), CacheError> {
        match self.inner.cold.as_ref() {
            Some(cold) if cold.takes_files() => Self::fits_disk(cold.as_ref(), bytes),
            _ => Err(CacheError::NoDisk),
        }
    }

    /// Milliseconds since the cache was built, on tokio's clock.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The bookkeeping, locked; drop the guard before any `.await`.
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// The key of the frame `id` in `session`.
    fn key(session: SessionKey, id: &FrameId) -> Result<FrameKey, CacheError> {
        // A malformed id is just another unknown handle.
        let id = Uuid::parse_str(id.as_str()).map_err(|_| CacheError::Unknown)?;
        Ok(FrameKey { session, id })
    }
}
