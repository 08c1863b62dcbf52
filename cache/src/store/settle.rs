//! Finishing evictions: freeing what left memory off the lock, spilling to the cold
//! tier, and what the cold tier itself dropped.

use super::release::release_later;
use super::FrameCache;
use crate::metrics::{Counters, EvictionCause};
use crate::state::{Data, Victim};
use crate::tier::FrameKey;

impl FrameCache {
    /// Finishes evictions chosen under the lock: dropped frames are freed off the lock,
    /// spills go to the cold tier. The work runs as its own task, so a request that goes
    /// away cannot leave a frame half spilled; with `free_first` this waits until the
    /// dropped frames' memory is back (a reservation is granted only then).
    pub(super) async fn settle(&self, victims: Vec<Victim>, free_first: bool) {
        if victims.is_empty() {
            return;
        }
        let cache = self.clone();
        let work = tokio::spawn(async move { cache.settle_now(victims, free_first).await });
        if let Err(err) = work.await {
            tracing::error!(%err, "settling evictions failed");
        }
    }

    async fn settle_now(&self, mut victims: Vec<Victim>, free_first: bool) {
        let released = victims.iter_mut().filter_map(|v| v.released.take()).collect();
        let freeing = release_later(released, self.inner.recycler.clone());
        if let (true, Some(freeing)) = (free_first, freeing) {
            let _ = freeing.await;
        }
        for victim in victims {
            self.inner.counters.evicted(victim.cause, 1);
            let (Some(frame), Some(cold)) = (victim.spill, self.inner.cold.as_ref()) else {
                continue;
            };
            let outcome = cold.store(victim.key, frame).await;
            self.cold_lost();
            let still_writing = matches!(
                self.state().entries.get(&victim.key).map(|e| &e.data),
                Some(Data::Writing(_))
            );
            match outcome {
                Ok(stored) => {
                    self.cold_evicted(&stored.evicted);
                    if still_writing {
                        self.written(victim.key, free_first).await;
                        Counters::bump(&self.inner.counters.spills);
                    } else {
                        // Dropped while it was being written.
                        let _ = cold.remove(victim.key).await;
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "spill failed; the frame is dropped");
                    drop(self.end_writing(victim.key, Data::Gone));
                }
            }
        }
    }

    /// The frame of `key` is now in the cold tier: its memory copy goes, freed off the
    /// lock (awaited with `wait`).
    pub(super) async fn written(&self, key: FrameKey, wait: bool) {
        let freeing = self.end_writing(key, Data::Cold);
        if let (true, Some(freeing)) = (wait, freeing) {
            let _ = freeing.await;
        }
    }

    /// Moves `key` out of `Writing` into `then` (`Cold` once written, `Gone` when the
    /// write failed or was cut short), its memory copy freed off the lock; nothing when
    /// it is no longer being written. Returns the freeing task, if one was spawned.
    pub(super) fn end_writing(&self, key: FrameKey, then: Data) -> Option<tokio::task::JoinHandle<()>> {
        let old = {
            let mut state = self.state();
            match state.entries.get(&key).map(|e| &e.data) {
                Some(Data::Writing(_)) => state.set_data(key, then),
                _ => None,
            }
        };
        release_later(old.into_iter().collect(), self.inner.recycler.clone())
    }

    /// Learns what the cold tier dropped outside a successful store (room made for a
    /// write that failed or was given up): those entries' data is gone.
    pub(super) fn cold_lost(&self) {
        if let Some(cold) = self.inner.cold.as_ref() {
            self.cold_evicted(&cold.take_evicted());
        }
    }

    /// The cold tier dropped `keys` to stay within its budget.
    pub(super) fn cold_evicted(&self, keys: &[FrameKey]) {
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
}
