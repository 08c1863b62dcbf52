//! Storing: `put`, `make` and memoization, the placement rules, and filling a tier with
//! the evictions that follow.

use std::sync::Arc;

use polars::prelude::DataFrame;
use serde::Serialize;
use uuid::Uuid;

use super::release::release_later;
use super::{FrameCache, Reservation};
use crate::metrics::{Counters, EvictionCause};
use crate::state::{Data, Entry};
use crate::tier::{ColdTier, FrameKey};
use crate::{ByteSize, CacheError, FrameHandle, FrameId, Lineage, Placement, SessionKey};

/// Where a new frame goes, after the placement rules.
pub(super) enum Target {
    Memory,
    Cold(Arc<dyn ColdTier>),
}

impl FrameCache {
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
        self.put_reserved(session, frame, placement, lineage, None).await
    }

    /// Stores `frame`, handing it the memory `reservation` held for it (see
    /// [`FrameCache::reserve`]): a frame made outside the cache's recipes (an upload
    /// parsed by its reader, say) whose memory was reserved before it was allocated.
    pub async fn put_reserved(
        &self,
        session: SessionKey,
        frame: DataFrame,
        placement: Placement,
        lineage: Option<Lineage>,
        reservation: Option<&Reservation>,
    ) -> Result<FrameHandle, CacheError> {
        let key = self.new_key(session).await;
        let frame = Arc::new(frame);
        let bytes = frame.estimated_size() as u64;
        let target = self.target(placement, bytes)?;
        let handle = FrameHandle {
            id: FrameId::from(key.id.to_string()),
            rows: frame.height() as u64,
            cols: frame.width() as u64,
            bytes,
        };
        self.insert_new(key, placement, lineage, &handle, true);
        // A request that goes away mid-fill (or a failed fill) leaves no entry behind.
        let mut undo = Undo {
            cache: self,
            key,
            armed: true,
        };
        self.fill(key, Arc::clone(&frame), target, reservation).await?;
        // Every server must know the handle before the browser has it.
        self.publish(key, Some(&frame), false).await?;
        self.report_held(session).await;
        undo.armed = false;
        Ok(handle)
    }

    /// A handle of `session` for a frame of `rows` × `cols` taking `bytes`, not made
    /// now: its `lineage` builds it on first read (into `placement`), as it rebuilds an
    /// evicted frame. For a
    /// frame its maker has just written where its recipe reads it (an upload parsed
    /// into its kept file, say), so it is not held in memory only to be let go. The
    /// recipe `lineage.function` must be registered ([`CacheError::NoRecipe`]).
    pub async fn put_lineage(
        &self,
        session: SessionKey,
        rows: u64,
        cols: u64,
        bytes: u64,
        lineage: Lineage,
        placement: Placement,
    ) -> Result<FrameHandle, CacheError> {
        if !self.inner.recipes.has(&lineage.function) {
            return Err(CacheError::NoRecipe(lineage.function));
        }
        // A frame no read could ever hold is refused now, as `put` refuses it.
        if let Target::Cold(cold) = self.target(placement, bytes)? {
            if placement == Placement::Disk {
                // What its first read will reserve there: its recipe's file, when the
                // recipe writes one.
                let file = match self.inner.recipes.disk_job(&lineage) {
                    Some(job) if self.inner.recipes.writes_to_disk(&lineage.function, placement) => {
                        job?.bytes
                    }
                    _ => bytes,
                };
                Self::fits_disk(cold.as_ref(), file)?;
            }
        }
        let key = self.new_key(session).await;
        let handle = FrameHandle {
            id: FrameId::from(key.id.to_string()),
            rows,
            cols,
            bytes,
        };
        self.insert_new(key, placement, Some(lineage), &handle, false);
        let mut undo = Undo {
            cache: self,
            key,
            armed: true,
        };
        // Every server must know the handle before the browser has it.
        self.publish(key, None, false).await?;
        self.report_held(session).await;
        undo.armed = false;
        Ok(handle)
    }

    /// A new key of `session`, the session's oldest frame forgotten first when it holds
    /// as many as it may.
    pub(super) async fn new_key(&self, session: SessionKey) -> FrameKey {
        let most = self.inner.config.max_frames_per_session;
        let over = self.state().over_frame_cap(session, most);
        if let Some(oldest) = over {
            self.forget(oldest, EvictionCause::FrameCap).await;
        }
        FrameKey {
            session,
            id: Uuid::new_v4(),
        }
    }

    /// Records the new entry `key` of the frame `handle` describes, its data not there
    /// yet: `filling` while a put fills it, or gone until a read builds it.
    pub(super) fn insert_new(
        &self,
        key: FrameKey,
        placement: Placement,
        lineage: Option<Lineage>,
        handle: &FrameHandle,
        filling: bool,
    ) {
        let now = self.now_ms();
        let mut state = self.state();
        let seq = state.tick();
        state.touch_session(key.session, now);
        state.insert(
            key,
            Entry {
                placement,
                lineage,
                rows: handle.rows,
                cols: handle.cols,
                bytes: handle.bytes,
                data: Data::Gone,
                created_ms: now,
                last_use_ms: now,
                last_use_seq: seq,
                hits: 0,
                filling,
                published: false,
                origin: true,
            },
        );
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
        self.build(session, lineage, placement, ()).await
    }

    /// Runs the recipe of `lineage` within a reservation of its declared size (if it
    /// declared one) and stores the frame.
    /// `hold` (a slot of the caller's admission, say) is held with the reservation
    /// while the recipe runs: to its end, for a recipe that runs to its end.
    async fn build<H: Send + 'static>(
        &self,
        session: SessionKey,
        lineage: Lineage,
        placement: Placement,
        hold: H,
    ) -> Result<FrameHandle, CacheError> {
        if placement == Placement::Disk && self.inner.recipes.writes_to_disk(&lineage.function, placement) {
            // Written straight into the disk tier, never whole in memory.
            return self.build_on_disk(session, lineage, hold).await;
        }
        let reservation = self.reserve_for(session, &lineage, true).await?;
        let (frame, (reservation, _hold)) = self
            .inner
            .recipes
            .run_holding(&lineage, (reservation, hold))
            .await?;
        self.put_reserved(session, frame, placement, Some(lineage), reservation.as_ref())
            .await
    }

    /// The reservation for the frame of `lineage`, when its recipe declared a size; a
    /// `new` frame (not a rebuild) counts against the session's quota across servers.
    pub(super) async fn reserve_for(
        &self,
        session: SessionKey,
        lineage: &Lineage,
        new: bool,
    ) -> Result<Option<Reservation>, CacheError> {
        match self.inner.recipes.expected_bytes(lineage)? {
            Some(bytes) => Ok(Some(self.reserve_counting(session, bytes, new).await?)),
            None => Ok(None),
        }
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
        self.make_memoized_holding(session, function, args, placement, ())
            .await
    }

    /// [`FrameCache::make_memoized`], with `hold` (a slot of the caller's admission,
    /// say) held while the recipe runs: for a recipe that runs to its end
    /// ([`crate::FrameCacheBuilder::runs_to_end`]), until its work really ends, though
    /// the caller goes away.
    pub async fn make_memoized_holding<A: Serialize, H: Send + 'static>(
        &self,
        session: SessionKey,
        function: &str,
        args: &A,
        placement: Placement,
        hold: H,
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
            .run(flight_key, || async move {
                if let Some(handle) = self.memo_lookup(session, &lineage) {
                    return Ok(handle);
                }
                // Made on another server: the same handle here.
                if self.memo_shared(session, &lineage).await?.is_some() {
                    if let Some(handle) = self.memo_lookup(session, &lineage) {
                        return Ok(handle);
                    }
                }
                let handle = self.build(session, lineage.clone(), placement, hold).await?;
                if let Ok(id) = Uuid::parse_str(handle.id.as_str()) {
                    self.state().memo.insert((session, lineage.clone()), id);
                    if let Err(err) = self.publish_memo(FrameKey { session, id }, &lineage).await {
                        tracing::warn!(%err, "a memoized step was not shared; another server may compute it again");
                    }
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
            id: FrameId::from(id.to_string()),
            rows: entry.rows,
            cols: entry.cols,
            bytes: entry.bytes,
        };
        Counters::bump(&self.inner.counters.memo_hits);
        Some(handle)
    }

    /// Applies the placement rules to a frame of `bytes`.
    pub(super) fn target(&self, placement: Placement, bytes: u64) -> Result<Target, CacheError> {
        let config = &self.inner.config;
        let (limit, budget) = config.frame_limit();
        let budget = ByteSize(budget);
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
    /// the quota and the budget. A frame entering memory takes over the bytes of
    /// `reservation` in the same lock section, so they are never counted twice.
    pub(super) async fn fill(
        &self,
        key: FrameKey,
        frame: Arc<DataFrame>,
        target: Target,
        reservation: Option<&Reservation>,
    ) -> Result<(), CacheError> {
        match target {
            Target::Memory => {
                let victims = {
                    let config = &self.inner.config;
                    let mut state = self.state();
                    if let Some(reservation) = reservation {
                        state.unreserve(key.session, reservation.take());
                    }
                    state.set_data(key, Data::Memory(frame));
                    state.evict(
                        key.session,
                        config.session_quota.bytes(),
                        config.memory_budget.bytes(),
                        key,
                        self.inner.cold.is_some(),
                    )
                };
                self.settle(victims, false).await;
                Ok(())
            }
            Target::Cold(cold) => {
                self.state().set_data(key, Data::Writing(Arc::clone(&frame)));
                // A request that goes away mid-write leaves no frame stuck in `Writing`
                // (held in memory, counted nowhere): it is gone, and rebuilt if asked.
                let mut stuck = Stuck {
                    cache: self,
                    key,
                    armed: true,
                };
                let stored = cold.store(key, frame).await;
                self.cold_lost();
                stuck.armed = stored.is_err();
                drop(stuck);
                self.cold_evicted(&stored?.evicted);
                if !self.state().entries.contains_key(&key) {
                    // Dropped while it was written (its owner, or its session ended).
                    let _ = cold.remove(key).await;
                    return Ok(());
                }
                self.written(key, false).await;
                Ok(())
            }
        }
    }
}

/// Forgets a new entry whose fill did not complete (an error, or the request went away).
pub(super) struct Undo<'a> {
    pub(super) cache: &'a FrameCache,
    pub(super) key: FrameKey,
    pub(super) armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let data = self.cache.state().remove(self.key);
        if let Some(data) = data {
            let cold = matches!(data, Data::Cold | Data::Writing(_));
            drop(release_later(vec![data], self.cache.inner.recycler.clone()));
            if let (true, Some(tier), Ok(runtime)) = (
                cold,
                self.cache.inner.cold.clone(),
                tokio::runtime::Handle::try_current(),
            ) {
                let key = self.key;
                runtime.spawn(async move {
                    let _ = tier.remove(key).await;
                });
            }
        }
    }
}

/// Takes a frame out of `Writing` when its write did not complete.
struct Stuck<'a> {
    cache: &'a FrameCache,
    key: FrameKey,
    armed: bool,
}

impl Drop for Stuck<'_> {
    fn drop(&mut self) {
        if self.armed {
            drop(self.cache.end_writing(self.key, Data::Gone));
        }
    }
}
