//! [`FrameCacheBuilder`]: limits, an optional cold tier, recipes and a recycler, then
//! [`FrameCacheBuilder::build`].

use std::future::Future;
use std::sync::{Arc, Mutex};

use polars::prelude::DataFrame;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::flight::Flights;
use super::{FrameCache, Inner, Recycler};
use crate::metrics::Counters;
use crate::recipe::{DiskShape, Recipes, Values};
use crate::state::State;
use crate::tier::ColdTier;
use crate::{CacheConfig, KeptFiles};

/// Builds a [`FrameCache`]: limits, an optional cold tier, and the recipes that rebuild
/// frames from their lineage.
pub struct FrameCacheBuilder {
    config: CacheConfig,
    cold: Option<Arc<dyn ColdTier>>,
    recipes: Recipes,
    recycler: Option<Recycler>,
    kept: Option<Arc<dyn KeptFiles>>,
    #[cfg(feature = "redis")]
    shared: Option<crate::shared::SharedStore>,
}

impl FrameCache {
    /// Starts building a cache bounded by `config`.
    pub fn builder(config: CacheConfig) -> FrameCacheBuilder {
        FrameCacheBuilder {
            config,
            cold: None,
            recipes: Recipes::default(),
            recycler: None,
            kept: None,
            #[cfg(feature = "redis")]
            shared: None,
        }
    }

    /// A memory-only cache without recipes.
    pub fn new(config: CacheConfig) -> Self {
        Self::builder(config).build()
    }
}

impl FrameCacheBuilder {
    /// Adds a cold tier (e.g. [`crate::DiskTier`]): `Placement::Disk` frames live there
    /// and `Placement::Auto` frames spill there under memory pressure.
    pub fn cold_tier(mut self, tier: Arc<dyn ColdTier>) -> Self {
        self.cold = Some(tier);
        self
    }

    /// Registers `recipe` under `name`: [`FrameCache::make`] calls it, and a read of an
    /// evicted frame whose lineage names it rebuilds the frame with it.
    ///
    /// A recipe must be deterministic in its arguments (pass a seed for random data),
    /// or a rebuilt frame will differ from the original.
    pub fn recipe<A, F, Fut, E>(mut self, name: &str, recipe: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<DataFrame, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    {
        self.recipes.add(name, recipe);
        self
    }

    /// Like [`FrameCacheBuilder::recipe`], declaring the bytes its frame will take from
    /// the arguments (rows × columns × width, say). The cache then reserves them — within
    /// the memory budget and the session quota, evicting to make room — before the recipe
    /// runs, and refuses at once what cannot fit, instead of finding out after the
    /// allocation. Applies to [`FrameCache::make`], [`FrameCache::make_memoized`] and
    /// rebuilds.
    pub fn sized_recipe<A, F, Fut, E>(
        mut self,
        name: &str,
        size: impl Fn(&A) -> u64 + Send + Sync + 'static,
        recipe: F,
    ) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<DataFrame, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    {
        self.recipes.add(name, recipe);
        self.recipes.add_size(name, size);
        self
    }

    /// Registers the disk recipe `name`, for frames larger than memory:
    /// [`FrameCache::make_on_disk`] writes its frame straight into the disk tier as
    /// `fill` gives its values (f64 columns, no nulls, shaped as `shape` says from the
    /// arguments), never holding it whole, and a read of it evicted writes it again.
    /// `fill` runs on the blocking pool and must be deterministic in its arguments.
    pub fn disk_recipe<A, E>(
        mut self,
        name: &str,
        shape: impl Fn(&A) -> DiskShape + Send + Sync + 'static,
        fill: impl Fn(A, Values<'_>) -> Result<(), E> + Send + Sync + 'static,
    ) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        E: std::fmt::Display,
    {
        self.recipes.add_disk(name, shape, fill);
        self
    }

    /// The limits the cache will have.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Registers how the recipe `name` writes its frame's Arrow IPC file straight into
    /// the disk tier, for its frames placed on disk ([`crate::Placement::Disk`]): `write`
    /// writes the whole file to its writer, on the blocking pool, never holding the frame
    /// whole. What `cost` says it takes is reserved first: the file's bytes in the disk
    /// budget, the memory it holds in the memory budget and the session's quota, until
    /// the write really ends (a write the request left still runs to its next write,
    /// within its reservation). A write that fails with an [`std::io::Error`] wrapping a
    /// [`crate::RecipeError`] fails with it ([`crate::CacheError::Recipe`], the recipe's own
    /// error, as an in-memory recipe's), not as the disk's. A read of such a
    /// frame not on disk writes it again this way, and reads it back memory-mapped; frames
    /// of the same recipe placed otherwise are still built by its in-memory recipe. The
    /// writer fails once the request waiting has gone away; `write` must be
    /// deterministic in its arguments.
    pub fn disk_file_recipe<A>(
        mut self,
        name: &str,
        cost: impl Fn(&A) -> crate::DiskWrite + Send + Sync + 'static,
        write: impl Fn(A, &mut dyn std::io::Write) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Self
    where
        A: DeserializeOwned + Send + 'static,
    {
        self.recipes.add_disk_file(name, cost, write);
        self
    }

    /// Marks the recipe `name` as work that cannot be stopped once started (a polars
    /// collect, say). The cache runs it in its own task, with its reservation: when the
    /// caller goes away mid-run, the work goes on and its memory stays reserved until it
    /// really ends, instead of being handed to the next request while still in use.
    /// Recipes that stop when their future is dropped need not be marked.
    pub fn runs_to_end(mut self, name: &str) -> Self {
        self.recipes.run_to_end(name);
        self
    }

    /// Hands each frame that leaves memory by eviction, [`FrameCache::release`] or
    /// [`FrameCache::remove`], once no reader still holds it, to `recycle` instead of
    /// freeing it, on the blocking pool. An app that fills large buffers can
    /// take their memory back: reusing pages already mapped skips the page faults of
    /// fresh memory, which dominate filling a large column.
    pub fn recycle(mut self, recycle: impl Fn(DataFrame) + Send + Sync + 'static) -> Self {
        self.recycler = Some(Arc::new(recycle));
        self
    }

    /// Lets the cache decide when the files `kept` holds go (an app's uploads, read back
    /// by the recipe [`KeptFiles::recipe`] names, registered separately): a session's
    /// files when it ends, and files no lineage names after each idle purge.
    pub fn kept_files(mut self, kept: Arc<dyn KeptFiles>) -> Self {
        self.kept = Some(kept);
        self
    }

    /// Shares this server's handles, memo table and small frames with every other server
    /// connected to the same Redis (see [`crate::shared`]); sessions follow when the
    /// router is wired with this cache.
    #[cfg(feature = "redis")]
    pub fn shared(mut self, store: crate::shared::SharedStore) -> Self {
        self.shared = Some(store);
        self
    }

    /// The cache. Must be called inside a tokio runtime (expiry reads tokio's clock).
    pub fn build(self) -> FrameCache {
        FrameCache {
            inner: Arc::new(Inner {
                config: self.config,
                cold: self.cold,
                recipes: self.recipes,
                recycler: self.recycler,
                kept: self.kept,
                #[cfg(feature = "redis")]
                shared_frames: self
                    .shared
                    .clone()
                    .map(|store| Arc::new(crate::shared::RedisTier::new(store)) as Arc<dyn ColdTier>),
                #[cfg(feature = "redis")]
                shared: self.shared,
                counters: Counters::default(),
                epoch: Instant::now(),
                state: Mutex::new(State::default()),
                rebuilding: Flights::default(),
                memoizing: Flights::default(),
            }),
        }
    }
}
