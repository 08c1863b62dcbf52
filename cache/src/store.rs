//! [`FrameCache`]: sessions → handles → frames, across the memory tier and an optional
//! cold tier (disk, or a shared network store).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use polars::prelude::DataFrame;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use uuid::Uuid;

use crate::inspect::{EntryInfo, TierTotals, Totals};
use crate::metrics::{Counters, EvictionCause};
use crate::recipe::Recipes;
use crate::state::{Data, Entry, State, Victim};
use crate::sync::lock;
use crate::tier::{ColdTier, FrameKey};
use crate::{ByteSize, CacheConfig, CacheError, FrameHandle, Lineage, Placement, SessionKey};

/// Builds a [`FrameCache`]: limits, an optional cold tier, and the recipes that rebuild
/// frames from their lineage.
pub struct FrameCacheBuilder {
    config: CacheConfig,
    cold: Option<Arc<dyn ColdTier>>,
    recipes: Recipes,
    recycler: Option<Recycler>,
}

/// Receives evicted frames that nothing else still holds; see [`FrameCacheBuilder::recycle`].
type Recycler = Arc<dyn Fn(DataFrame) + Send + Sync>;

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
        E: std::fmt::Display + Send + 'static,
    {
        self.recipes.add(name, recipe);
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

    /// The cache. Must be called inside a tokio runtime (expiry reads tokio's clock).
    pub fn build(self) -> FrameCache {
        FrameCache {
            inner: Arc::new(Inner {
                config: self.config,
                cold: self.cold,
                recipes: self.recipes,
                recycler: self.recycler,
                counters: Counters::default(),
                epoch: Instant::now(),
                state: Mutex::new(State::default()),
                rebuilding: Flights::default(),
                memoizing: Flights::default(),
            }),
        }
    }
}

/// In-flight computations by key: concurrent callers with the same key share one.
struct Flights<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    async fn run<F: Future<Output = V>>(&self, key: K, work: impl FnOnce() -> F) -> V {
        let cell = Arc::clone(lock(&self.cells).entry(key.clone()).or_default());
        let value = cell.get_or_init(work).await.clone();
        let mut cells = lock(&self.cells);
        if cells.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            cells.remove(&key);
        }
        value
    }
}

/// A cheap-to-clone handle to the shared cache of frames.
///
/// Values are `Arc<DataFrame>`: a read hands out the stored frame itself, never a copy.
/// Every entry belongs to one [`SessionKey`]; a handle read under any other session is
/// [`CacheError::Unknown`], exactly like a handle that never existed.
#[derive(Clone)]
pub struct FrameCache {
    inner: Arc<Inner>,
}

struct Inner {
    config: CacheConfig,
    cold: Option<Arc<dyn ColdTier>>,
    recipes: Recipes,
    recycler: Option<Recycler>,
    counters: Counters,
    epoch: Instant,
    state: Mutex<State>,
    rebuilding: Flights<FrameKey, Result<Arc<DataFrame>, CacheError>>,
    memoizing: Flights<(SessionKey, Lineage), Result<FrameHandle, CacheError>>,
}

/// Where a new frame goes, after the placement rules.
enum Target {
    Memory,
    Cold(Arc<dyn ColdTier>),
}

impl FrameCache {
    /// Starts building a cache bounded by `config`.
    pub fn builder(config: CacheConfig) -> FrameCacheBuilder {
        FrameCacheBuilder {
            config,
            cold: None,
            recipes: Recipes::default(),
            recycler: None,
        }
    }

    /// A memory-only cache without recipes.
    pub fn new(config: CacheConfig) -> Self {
        Self::builder(config).build()
    }

    /// The configuration this cache was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The counters behind `/metrics`.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    // ----- storing -------------------------------------------------------------------

    /// Stores `frame` for `session` at `placement` and returns its handle. Without a
    /// lineage an evicted frame cannot be rebuilt: reading it gives [`CacheError::Expired`].
    pub async fn put(
        &self,
        session: SessionKey,
        frame: DataFrame,
        placement: Placement,
    ) -> Result<FrameHandle, CacheError> {
        self.put_with_lineage(session, frame, placement, None).await
    }

    /// Like [`FrameCache::put`], recording how the frame was made. When a recipe is
    /// registered under `lineage.function`, an evicted frame is rebuilt on read.
    pub async fn put_with_lineage(
        &self,
        session: SessionKey,
        frame: DataFrame,
        placement: Placement,
        lineage: Option<Lineage>,
    ) -> Result<FrameHandle, CacheError> {
        let key = FrameKey {
            session,
            id: Uuid::new_v4(),
        };
        let frame = Arc::new(frame);
        let bytes = frame.estimated_size() as u64;
        let target = self.target(placement, bytes)?;
        let now = self.now_ms();
        let handle = FrameHandle {
            id: key.id.to_string(),
            rows: frame.height() as u64,
            cols: frame.width() as u64,
            bytes,
        };
        {
            let mut state = self.state();
            let seq = state.tick();
            state.touch_session(session, now);
            state.entries.insert(
                key,
                Entry {
                    placement,
                    lineage,
                    rows: handle.rows,
                    cols: handle.cols,
                    bytes,
                    data: Data::Gone,
                    created_ms: now,
                    last_use_ms: now,
                    last_use_seq: seq,
                    hits: 0,
                },
            );
        }
        if let Err(err) = self.fill(key, frame, target).await {
            self.state().remove(key);
            return Err(err);
        }
        Ok(handle)
    }

    /// Runs the recipe `function` on `args`, stores the result with its lineage and
    /// returns the handle. The frame is rebuilt transparently if it is evicted later.
    pub async fn make<A: Serialize>(
        &self,
        session: SessionKey,
        function: &str,
        args: &A,
        placement: Placement,
    ) -> Result<FrameHandle, CacheError> {
        let lineage = Lineage::new(function, args)?;
        let frame = self.inner.recipes.run(&lineage).await?;
        self.put_with_lineage(session, frame, placement, Some(lineage))
            .await
    }

    /// Like [`FrameCache::make`], but the same `function` and `args` in the same session
    /// return the existing handle instead of computing again. Concurrent identical calls
    /// compute once and all get the same handle.
    pub async fn make_memoized<A: Serialize>(
        &self,
        session: SessionKey,
        function: &str,
        args: &A,
        placement: Placement,
    ) -> Result<FrameHandle, CacheError> {
        let lineage = Lineage::new(function, args)?;
        if !self.inner.recipes.has(function) {
            return Err(CacheError::NoRecipe(function.to_owned()));
        }
        if let Some(handle) = self.memo_lookup(session, &lineage) {
            return Ok(handle);
        }
        let flight_key = (session, lineage.clone());
        self.inner
            .memoizing
            .run(flight_key, || async {
                if let Some(handle) = self.memo_lookup(session, &lineage) {
                    return Ok(handle);
                }
                let frame = self.inner.recipes.run(&lineage).await?;
                let handle = self
                    .put_with_lineage(session, frame, placement, Some(lineage.clone()))
                    .await?;
                if let Ok(id) = Uuid::parse_str(&handle.id) {
                    self.state().memo.insert((session, lineage.clone()), id);
                }
                Ok(handle)
            })
            .await
    }

    fn memo_lookup(&self, session: SessionKey, lineage: &Lineage) -> Option<FrameHandle> {
        let now = self.now_ms();
        let mut state = self.state();
        let id = *state.memo.get(&(session, lineage.clone()))?;
        state.touch_session(session, now);
        let entry = state.touch(FrameKey { session, id }, now)?;
        let handle = FrameHandle {
            id: id.to_string(),
            rows: entry.rows,
            cols: entry.cols,
            bytes: entry.bytes,
        };
        Counters::bump(&self.inner.counters.memo_hits);
        Some(handle)
    }

    /// Applies the placement rules to a frame of `bytes`.
    fn target(&self, placement: Placement, bytes: u64) -> Result<Target, CacheError> {
        let config = &self.inner.config;
        let (limit, budget) = if config.session_quota < config.memory_budget {
            ("session quota", config.session_quota)
        } else {
            ("memory budget", config.memory_budget)
        };
        let fits_memory = bytes <= budget.bytes();
        let too_large = || CacheError::TooLarge {
            needed: ByteSize(bytes),
            limit,
            budget,
        };
        match (placement, &self.inner.cold) {
            (Placement::Memory, _) | (Placement::Auto, None) => {
                if fits_memory {
                    Ok(Target::Memory)
                } else {
                    Err(too_large())
                }
            }
            (Placement::Disk, None) => Err(CacheError::NoDisk),
            (Placement::Disk, Some(cold)) => Ok(Target::Cold(Arc::clone(cold))),
            (Placement::Auto, Some(cold)) => {
                if fits_memory && bytes < config.auto_threshold.bytes() {
                    Ok(Target::Memory)
                } else {
                    Ok(Target::Cold(Arc::clone(cold)))
                }
            }
        }
    }

    /// Puts `frame` into the tier `target` for the existing entry `key`, then enforces
    /// the quota and the budget.
    async fn fill(&self, key: FrameKey, frame: Arc<DataFrame>, target: Target) -> Result<(), CacheError> {
        match target {
            Target::Memory => {
                let victims = {
                    let config = &self.inner.config;
                    let mut state = self.state();
                    state.set_data(key, Data::Memory(frame));
                    state.evict(
                        key.session,
                        config.session_quota.bytes(),
                        config.memory_budget.bytes(),
                        key,
                        self.inner.cold.is_some(),
                    )
                };
                self.settle(victims).await;
                Ok(())
            }
            Target::Cold(cold) => {
                self.state().set_data(key, Data::Writing(Arc::clone(&frame)));
                let stored = cold.store(key, frame).await?;
                self.cold_evicted(&stored.evicted);
                let mut state = self.state();
                if matches!(state.entries.get(&key).map(|e| &e.data), Some(Data::Writing(_))) {
                    state.set_data(key, Data::Cold);
                }
                Ok(())
            }
        }
    }

    /// Finishes evictions chosen under the lock: spills go to the cold tier.
    async fn settle(&self, mut victims: Vec<Victim>) {
        let released = victims.iter_mut().filter_map(|v| v.released.take()).collect();
        // Nobody waits for evictions to be freed.
        drop(release_later(released, self.inner.recycler.clone()));
        for victim in victims {
            self.inner.counters.evicted(victim.cause, 1);
            let (Some(frame), Some(cold)) = (victim.spill, self.inner.cold.as_ref()) else {
                continue;
            };
            let outcome = cold.store(victim.key, frame).await;
            let still_writing = matches!(
                self.state().entries.get(&victim.key).map(|e| &e.data),
                Some(Data::Writing(_))
            );
            match outcome {
                Ok(stored) => {
                    self.cold_evicted(&stored.evicted);
                    if still_writing {
                        self.state().set_data(victim.key, Data::Cold);
                        Counters::bump(&self.inner.counters.spills);
                    } else {
                        // Dropped while it was being written.
                        let _ = cold.remove(victim.key).await;
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "spill failed; the frame is dropped");
                    if still_writing {
                        self.state().set_data(victim.key, Data::Gone);
                    }
                }
            }
        }
    }

    /// The cold tier dropped `keys` to stay within its budget.
    fn cold_evicted(&self, keys: &[FrameKey]) {
        if keys.is_empty() {
            return;
        }
        let mut state = self.state();
        for key in keys {
            if matches!(state.entries.get(key).map(|e| &e.data), Some(Data::Cold)) {
                state.set_data(*key, Data::Gone);
            }
        }
        self.inner
            .counters
            .evicted(EvictionCause::ColdBudget, keys.len() as u64);
    }

    // ----- reading -------------------------------------------------------------------

    /// The frame behind `handle` if `session` owns it: the stored frame itself (no copy)
    /// from memory, memory-mapped from disk, or rebuilt from its lineage when it was
    /// evicted and has a recipe. Otherwise [`CacheError::Unknown`] (not this session's,
    /// or never existed) or [`CacheError::Expired`] (evicted, no recipe).
    pub async fn get(&self, session: SessionKey, handle: &FrameHandle) -> Result<Arc<DataFrame>, CacheError> {
        let key = Self::key(session, handle)?;
        let now = self.now_ms();
        let (in_cold, lineage) = {
            let mut state = self.state();
            state.touch_session(session, now);
            match state.touch(key, now) {
                None => (None, None),
                Some(entry) => match entry.data.frame() {
                    Some(frame) => {
                        entry.hits += 1;
                        Counters::bump(&self.inner.counters.hits_memory);
                        return Ok(Arc::clone(frame));
                    }
                    None => (Some(matches!(entry.data, Data::Cold)), entry.lineage.clone()),
                },
            }
        };
        let Some(in_cold) = in_cold else {
            Counters::bump(&self.inner.counters.misses);
            return Err(CacheError::Unknown);
        };
        if in_cold {
            if let Some(frame) = self.load_cold(key).await? {
                return Ok(frame);
            }
        }
        match lineage {
            Some(lineage) if self.inner.recipes.has(&lineage.function) => self.rebuild(key, lineage).await,
            _ => {
                Counters::bump(&self.inner.counters.misses);
                Err(CacheError::Expired)
            }
        }
    }

    async fn load_cold(&self, key: FrameKey) -> Result<Option<Arc<DataFrame>>, CacheError> {
        let Some(cold) = self.inner.cold.as_ref() else {
            return Ok(None);
        };
        match cold.load(key).await? {
            Some(frame) => {
                if let Some(entry) = self.state().entries.get_mut(&key) {
                    entry.hits += 1;
                }
                Counters::bump(&self.inner.counters.hits_cold);
                Ok(Some(Arc::new(frame)))
            }
            None => {
                let mut state = self.state();
                if matches!(state.entries.get(&key).map(|e| &e.data), Some(Data::Cold)) {
                    state.set_data(key, Data::Gone);
                }
                Ok(None)
            }
        }
    }

    /// Rebuilds `key` from `lineage`, once however many readers ask at the same time.
    async fn rebuild(&self, key: FrameKey, lineage: Lineage) -> Result<Arc<DataFrame>, CacheError> {
        self.inner
            .rebuilding
            .run(key, || async {
                // Someone may have rebuilt it between our look and this flight.
                if let Some(frame) = self.state().entries.get(&key).and_then(|e| e.data.frame()) {
                    return Ok(Arc::clone(frame));
                }
                let frame = Arc::new(self.inner.recipes.run(&lineage).await?);
                Counters::bump(&self.inner.counters.recomputes);
                tracing::debug!(%lineage, "rebuilt an evicted frame");
                let bytes = frame.estimated_size() as u64;
                let placement = match self.state().entries.get_mut(&key) {
                    Some(entry) => {
                        entry.hits += 1;
                        entry.bytes = bytes;
                        Some(entry.placement)
                    }
                    None => None, // dropped meanwhile: serve it once, keep nothing
                };
                if let Some(placement) = placement {
                    let stored = match self.target(placement, bytes) {
                        Ok(target) => self.fill(key, Arc::clone(&frame), target).await,
                        Err(err) => Err(err),
                    };
                    if let Err(err) = stored {
                        tracing::warn!(%err, "a rebuilt frame could not be stored again");
                    }
                }
                Ok(frame)
            })
            .await
    }

    fn key(session: SessionKey, handle: &FrameHandle) -> Result<FrameKey, CacheError> {
        // A malformed id is just another unknown handle.
        let id = Uuid::parse_str(&handle.id).map_err(|_| CacheError::Unknown)?;
        Ok(FrameKey { session, id })
    }

    // ----- dropping and expiry ---------------------------------------------------------

    /// Drops the entry behind `handle` from every tier; `false` when `session` has none.
    pub async fn remove(&self, session: SessionKey, handle: &FrameHandle) -> bool {
        let Ok(key) = Self::key(session, handle) else {
            return false;
        };
        let removed = self.state().remove(key);
        match removed {
            Some(data) => {
                self.inner.counters.evicted(EvictionCause::Dropped, 1);
                self.forget_cold(key, &data).await;
                drop(release_later(vec![data], self.inner.recycler.clone()));
                true
            }
            None => false,
        }
    }

    /// Says that `session` is done with the frame behind `handle` for now: its data
    /// leaves memory and the cold tier at once (its buffers go to the recycler, if any,
    /// before this returns) while its entry and lineage stay, so a later read rebuilds
    /// it when it has a recipe and says [`CacheError::Expired`] otherwise. A page that
    /// replaces its frame with a new one releases the old one. `false` when `session`
    /// holds no such frame or it was already gone.
    pub async fn release(&self, session: SessionKey, handle: &FrameHandle) -> bool {
        let Ok(key) = Self::key(session, handle) else {
            return false;
        };
        let old = {
            let mut state = self.state();
            match state.entries.get(&key).map(|e| &e.data) {
                None | Some(Data::Gone) => return false,
                Some(_) => state.set_data(key, Data::Gone),
            }
        };
        let Some(old) = old else {
            return false;
        };
        self.inner.counters.evicted(EvictionCause::Released, 1);
        self.forget_cold(key, &old).await;
        let done = release_later(vec![old], self.inner.recycler.clone());
        if let (Some(done), Some(_)) = (done, &self.inner.recycler) {
            // The recycler's work only (cheap: it takes buffers back); without one the
            // frame is freed in the background, as evictions are.
            let _ = done.await;
        }
        true
    }

    /// Drops every entry of `session` from every tier (the session ended); returns how
    /// many there were.
    pub async fn remove_session(&self, session: SessionKey) -> usize {
        self.remove_session_because(session, EvictionCause::SessionEnd)
            .await
    }

    async fn remove_session_because(&self, session: SessionKey, cause: EvictionCause) -> usize {
        let removed: Vec<(FrameKey, Data)> = {
            let mut state = self.state();
            let keys: Vec<FrameKey> = state
                .entries
                .keys()
                .filter(|k| k.session == session)
                .copied()
                .collect();
            let removed = keys
                .into_iter()
                .filter_map(|k| state.remove(k).map(|d| (k, d)))
                .collect();
            state.sessions.remove(&session);
            state.memo.retain(|(s, _), _| *s != session);
            removed
        };
        self.inner.counters.evicted(cause, removed.len() as u64);
        for (key, data) in &removed {
            self.forget_cold(*key, data).await;
        }
        removed.len()
    }

    async fn forget_cold(&self, key: FrameKey, data: &Data) {
        if let (Data::Cold | Data::Writing(_), Some(cold)) = (data, self.inner.cold.as_ref()) {
            if let Err(err) = cold.remove(key).await {
                tracing::warn!(%err, "could not remove a frame from the {} tier", cold.name());
            }
        }
    }

    /// Idle entries lose their data (their lineage stays, so they can be rebuilt or
    /// reported as expired); sessions idle past the session timeout are forgotten with
    /// everything they hold. Returns (entries expired, sessions forgotten).
    pub async fn purge(&self) -> (usize, usize) {
        let now = self.now_ms();
        let idle_ms = millis(self.inner.config.idle_timeout);
        let session_ms = millis(self.inner.config.session_timeout);
        let (expired, sessions) = {
            let mut state = self.state();
            let idle: Vec<FrameKey> = state
                .entries
                .iter()
                .filter(|(_, e)| !matches!(e.data, Data::Gone) && now.saturating_sub(e.last_use_ms) > idle_ms)
                .map(|(k, _)| *k)
                .collect();
            let mut expired = Vec::with_capacity(idle.len());
            for key in idle {
                let was_cold = state
                    .entries
                    .get(&key)
                    .is_some_and(|e| matches!(e.data, Data::Cold | Data::Writing(_)));
                state.set_data(key, Data::Gone);
                expired.push((key, was_cold));
            }
            let sessions: Vec<SessionKey> = state
                .sessions
                .iter()
                .filter(|(_, s)| now.saturating_sub(s.last_seen_ms) > session_ms)
                .map(|(k, _)| *k)
                .collect();
            (expired, sessions)
        };
        self.inner
            .counters
            .evicted(EvictionCause::Idle, expired.len() as u64);
        if let Some(cold) = self.inner.cold.as_ref() {
            for (key, was_cold) in &expired {
                if *was_cold {
                    let _ = cold.remove(*key).await;
                }
            }
        }
        for session in &sessions {
            self.remove_session_because(*session, EvictionCause::SessionEnd)
                .await;
        }
        if !expired.is_empty() || !sessions.is_empty() {
            tracing::debug!(
                entries = expired.len(),
                sessions = sessions.len(),
                "purged idle data"
            );
        }
        (expired.len(), sessions.len())
    }

    /// Starts a background task that runs [`FrameCache::purge`] periodically; it stops
    /// when the returned guard is dropped. Must be called inside a tokio runtime.
    pub fn spawn_purger(&self) -> PurgeGuard {
        let cache = self.clone();
        let period =
            (self.inner.config.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                cache.purge().await;
            }
        });
        PurgeGuard { task }
    }

    // ----- inspection -------------------------------------------------------------------

    /// The entries of `session`, oldest first. Nothing of any other session.
    pub fn list(&self, session: SessionKey) -> Vec<EntryInfo> {
        let now = self.now_ms();
        let state = self.state();
        let mut entries: Vec<(u64, EntryInfo)> = state
            .entries
            .iter()
            .filter(|(k, _)| k.session == session)
            .map(|(k, e)| {
                let recomputable = e
                    .lineage
                    .as_ref()
                    .is_some_and(|l| self.inner.recipes.has(&l.function));
                let info = EntryInfo {
                    id: k.id.to_string(),
                    lineage: e.lineage.clone(),
                    rows: e.rows,
                    cols: e.cols,
                    bytes: e.bytes,
                    placement: e.placement,
                    residence: e.data.residence(),
                    recomputable,
                    age_ms: now.saturating_sub(e.created_ms),
                    idle_ms: now.saturating_sub(e.last_use_ms),
                    hits: e.hits,
                };
                (e.created_ms, info)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        entries.into_iter().map(|(_, info)| info).collect()
    }

    /// Totals for the whole server, without any session's details.
    pub fn totals(&self) -> Totals {
        let state = self.state();
        let memory_entries = state
            .entries
            .values()
            .filter(|e| matches!(e.data, Data::Memory(_)))
            .count() as u64;
        let gone = state
            .entries
            .values()
            .filter(|e| matches!(e.data, Data::Gone))
            .count() as u64;
        let sessions = state.sessions.len() as u64;
        let memory = TierTotals {
            entries: memory_entries,
            bytes: state.memory_bytes,
            budget: self.inner.config.memory_budget.bytes(),
        };
        drop(state);
        let cold = self.inner.cold.as_ref().map(|cold| {
            let usage = cold.usage();
            (
                cold.name().to_owned(),
                TierTotals {
                    entries: usage.entries,
                    bytes: usage.bytes,
                    budget: usage.budget,
                },
            )
        });
        Totals {
            sessions,
            memory,
            cold,
            gone,
            session_quota: self.inner.config.session_quota.bytes(),
        }
    }

    /// Bytes of memory `session` holds right now.
    pub fn session_memory(&self, session: SessionKey) -> u64 {
        self.state().sessions.get(&session).map_or(0, |s| s.memory_bytes)
    }

    /// The metrics in Prometheus text format.
    pub fn render_metrics(&self) -> String {
        self.inner.counters.render(&self.totals())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Stops the purge task started by [`FrameCache::spawn_purger`] when dropped.
#[must_use = "the purge task stops when the guard is dropped"]
pub struct PurgeGuard {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PurgeGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Frees `released` frames (or hands them to the recycler) on the blocking pool:
/// returning a large frame's pages to the OS takes ~90 ms per 800 MB, which no request
/// should wait for. Returns the task, if one was spawned, for a caller that must know
/// the recycler has run.
fn release_later(released: Vec<Data>, recycler: Option<Recycler>) -> Option<tokio::task::JoinHandle<()>> {
    if released.is_empty() {
        return None;
    }
    let release = move || {
        for data in released {
            let (Data::Memory(frame) | Data::Writing(frame)) = data else {
                continue;
            };
            // A reader still holding the frame frees it when done, as usual.
            if let (Some(recycle), Ok(frame)) = (recycler.as_ref(), Arc::try_unwrap(frame)) {
                recycle(frame);
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => Some(runtime.spawn_blocking(release)),
        Err(_) => {
            release();
            None
        }
    }
}
