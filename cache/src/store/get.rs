//! Reading: from memory, from the cold tier, or rebuilt from the lineage.

use std::sync::Arc;

use polars::prelude::DataFrame;

use super::FrameCache;
use crate::metrics::Counters;
use crate::state::Data;
use crate::tier::FrameKey;
use crate::{CacheError, FrameId, Lineage, SessionKey};

impl FrameCache {
    /// The frame behind `handle` if `session` owns it: the stored frame itself (no copy)
    /// from memory, memory-mapped from disk, or rebuilt from its lineage when it was
    /// evicted and has a recipe. Otherwise [`CacheError::Unknown`] (not this session's,
    /// or never existed) or [`CacheError::Expired`] (evicted, no recipe).
    pub async fn get(
        &self,
        session: SessionKey,
        handle: &(impl AsRef<FrameId> + ?Sized),
    ) -> Result<Arc<DataFrame>, CacheError> {
        let key = Self::key(session, handle.as_ref())?;
        match self.get_known(key).await {
            // Another server may have made it: learn it from Redis and try again.
            Err(CacheError::Unknown) if self.is_shared() => match self.adopt_shared(key).await {
                Ok(true) => self.get_known(key).await,
                Ok(false) => Err(CacheError::Unknown),
                Err(err) => Err(err),
            },
            other => other,
        }
    }

    /// [`FrameCache::get`] of an entry this server may know.
    async fn get_known(&self, key: FrameKey) -> Result<Arc<DataFrame>, CacheError> {
        let session = key.session;
        let now = self.now_ms();
        let (in_cold, lineage) = {
            let mut state = self.state();
            // A session is touched only by a hit: a flood of made-up handles under fresh
            // sessions leaves no session state behind.
            if state.entries.contains_key(&key) {
                state.touch_session(session, now);
            }
            match state.touch(key, now) {
                None => (None, None),
                Some(entry) => match entry.data.frame() {
                    Some(frame) => {
                        entry.hits += 1;
                        Counters::bump(&self.inner.counters.hits_memory);
                        return Ok(Arc::clone(frame));
                    }
                    None => (
                        Some((matches!(entry.data, Data::Cold), entry.placement)),
                        entry.lineage.clone(),
                    ),
                },
            }
        };
        let Some((in_cold, placement)) = in_cold else {
            Counters::bump(&self.inner.counters.misses);
            return Err(CacheError::Unknown);
        };
        if in_cold {
            if let Some(frame) = self.load_cold(key).await? {
                return Ok(frame);
            }
        }
        match lineage {
            Some(lineage) if self.inner.recipes.writes_to_disk(&lineage.function, placement) => {
                self.rebuild_on_disk(key, lineage).await
            }
            Some(lineage) if self.inner.recipes.has(&lineage.function) => {
                self.rebuild(key, Some(lineage)).await
            }
            // No recipe: another server's copy in Redis is the only way back.
            _ if self.is_shared() => self.rebuild(key, None).await,
            _ => {
                Counters::bump(&self.inner.counters.misses);
                Err(CacheError::Expired)
            }
        }
    }

    pub(super) async fn load_cold(&self, key: FrameKey) -> Result<Option<Arc<DataFrame>>, CacheError> {
        let Some(cold) = self.inner.cold.as_ref() else {
            return Ok(None);
        };
        match cold.load(key).await? {
            Some(frame) => {
                if let Some(entry) = self.state().entries.get_mut(&key) {
                    entry.hits += 1;
                }
                Counters::bump(&self.inner.counters.hits_cold);
                Ok(Some(frame))
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

    /// Brings `key` back: read from Redis when another server wrote it there, else
    /// rebuilt from `lineage`; once however many readers ask at the same time.
    async fn rebuild(&self, key: FrameKey, lineage: Option<Lineage>) -> Result<Arc<DataFrame>, CacheError> {
        self.inner
            .rebuilding
            .run(key, || async {
                // Someone may have rebuilt it between our look and this flight.
                if let Some(frame) = self.state().entries.get(&key).and_then(|e| e.data.frame()) {
                    return Ok(Arc::clone(frame));
                }
                let (frame, reservation, rebuilt) = match self.read_shared(key, lineage.is_some()).await? {
                    Some(found) => (found.0, found.1, false),
                    None => {
                        let Some(lineage) = &lineage else {
                            Counters::bump(&self.inner.counters.misses);
                            return Err(CacheError::Expired);
                        };
                        let reservation = self.reserve_for(key.session, lineage, false).await?;
                        let (frame, reservation) = self
                            .inner
                            .recipes
                            .run_holding(lineage, reservation)
                            .await
                            .map_err(CacheError::rebuilding)?;
                        let frame = Arc::new(frame);
                        Counters::bump(&self.inner.counters.recomputes);
                        tracing::debug!(%lineage, "rebuilt an evicted frame");
                        (frame, reservation, true)
                    }
                };
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
                        Ok(target) => {
                            self.fill(key, Arc::clone(&frame), target, reservation.as_ref())
                                .await
                        }
                        Err(err) => Err(err),
                    };
                    if let Err(err) = stored {
                        tracing::warn!(%err, "a rebuilt frame could not be stored again");
                    }
                    self.report_held(key.session).await;
                    if rebuilt {
                        // The next server that misses it reads it instead of computing.
                        self.write_through(key, Arc::clone(&frame), false).await;
                    }
                }
                Ok(frame)
            })
            .await
    }

    /// The frame `key` from Redis with the memory reserved for it, when Redis holds it.
    /// A Redis that cannot be reached is no answer when the frame can be rebuilt
    /// (`rebuildable`) and an error otherwise.
    async fn read_shared(
        &self,
        key: FrameKey,
        rebuildable: bool,
    ) -> Result<Option<(Arc<DataFrame>, Option<super::Reservation>)>, CacheError> {
        if !self.is_shared() {
            return Ok(None);
        }
        // Only frames Redis may hold are looked for there, with their memory reserved
        // before they are read (a copy: the quota across servers counts it where it was
        // made).
        let bytes = self.state().entries.get(&key).map_or(0, |e| e.bytes);
        if !self.may_be_shared(bytes) {
            return Ok(None);
        }
        let reservation = self.reserve_counting(key.session, bytes, false).await?;
        match self.load_shared(key).await {
            Ok(Some(frame)) => Ok(Some((frame, Some(reservation)))),
            Ok(None) => Ok(None),
            Err(_) if rebuildable => Ok(None),
            Err(err) => Err(err),
        }
    }
}
