//! Telling the other servers: new entries and memo rows published to Redis, small
//! frames written through, removals, and what this server holds of each session (the
//! quota across servers).

use std::sync::Arc;

use polars::prelude::DataFrame;

use crate::metrics::Counters;
use crate::shared::index::SharedEntry;
use crate::state::{Data, Entry};
use crate::store::FrameCache;
use crate::tier::FrameKey;
use crate::{CacheError, Lineage, SessionKey};

impl FrameCache {
    /// Tells the other servers about the new entry `key` (and, with `memo`, that its
    /// lineage is memoized), then writes its frame through to Redis when it is small
    /// enough: awaited when no recipe could rebuild it elsewhere, in the background
    /// otherwise. Fails only when the entry could not be recorded.
    pub(in crate::store) async fn publish(
        &self,
        key: FrameKey,
        frame: Option<&Arc<DataFrame>>,
        memo: bool,
    ) -> Result<(), CacheError> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        let entry = {
            let state = self.state();
            let Some(e) = state.entries.get(&key) else {
                return Ok(()); // dropped meanwhile
            };
            shared_entry(e)
        };
        let memo = if memo { entry.lineage.clone() } else { None };
        let version = shared
            .publish(
                key,
                Some(&entry),
                memo.as_ref(),
                self.inner.config.session_timeout,
            )
            .await?;
        {
            let mut state = self.state();
            if let Some(e) = state.entries.get_mut(&key) {
                e.published = true;
            }
            // Only this change since this server last read the index: still in step.
            // Anything else (another server's change, or a Redis that lost its data and
            // counts again from 1): read it whole next time.
            let s = state.sessions.entry(key.session).or_default();
            s.shared_version = if version == s.shared_version + 1 {
                version
            } else {
                0
            };
        }
        if let Some(frame) = frame {
            let rebuildable = entry
                .lineage
                .as_ref()
                .is_some_and(|l| self.inner.recipes.has(&l.function));
            self.write_through(key, Arc::clone(frame), !rebuildable).await;
        }
        Ok(())
    }

    /// Records that `lineage` is memoized as `key` (the entry is already published).
    pub(in crate::store) async fn publish_memo(
        &self,
        key: FrameKey,
        lineage: &Lineage,
    ) -> Result<(), CacheError> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        let version = shared
            .publish(key, None, Some(lineage), self.inner.config.session_timeout)
            .await?;
        let mut state = self.state();
        let s = state.sessions.entry(key.session).or_default();
        s.shared_version = if version == s.shared_version + 1 {
            version
        } else {
            0
        };
        Ok(())
    }

    /// Whether a frame of `lineage` is read back from a kept file (an upload's): any
    /// server reads it from there, so it is never written to Redis.
    fn reads_kept_file(&self, lineage: Option<&crate::Lineage>) -> bool {
        match (lineage, &self.inner.kept) {
            (Some(lineage), Some(kept)) => lineage.function == kept.recipe(),
            _ => false,
        }
    }

    /// Writes `frame` to Redis under `key`; `wait` or in the background.
    pub(in crate::store) async fn write_through(&self, key: FrameKey, frame: Arc<DataFrame>, wait: bool) {
        let (Some(shared), Some(frames)) = (self.shared(), self.inner.shared_frames.clone()) else {
            return;
        };
        // (The guard is a temporary of this statement: dropped before anything else.)
        let lineage = self.state().entries.get(&key).and_then(|e| e.lineage.clone());
        if self.reads_kept_file(lineage.as_ref()) {
            return;
        }
        if frame.estimated_size() as u64 > shared.settings().frame_max {
            return;
        }
        let counters = self.clone();
        let write = async move {
            match frames.store(key, frame).await {
                Ok(_) => Counters::bump(&counters.inner.counters.shared_writes),
                // Larger than Redis takes once encoded: other servers rebuild it.
                Err(CacheError::TooLarge { .. }) => {}
                Err(err) => {
                    tracing::warn!(%err, "a frame was not written to Redis; other servers rebuild it")
                }
            }
        };
        if wait {
            write.await;
        } else {
            tokio::spawn(write);
        }
    }

    /// Forgets `key` in Redis too (the user dropped it), so no server serves it
    /// again; its frame goes off the caller's path.
    pub(in crate::store) async fn unpublish(&self, key: FrameKey, lineage: Option<Lineage>) {
        let Some(shared) = self.shared().cloned() else {
            return;
        };
        if let Err(err) = shared
            .unpublish(key, lineage.as_ref(), self.inner.config.session_timeout)
            .await
        {
            tracing::warn!(%err, "a dropped frame stays known to other servers until its session ends");
        }
        self.remove_shared_frame_later(key);
    }

    /// Forgets the whole of `session` in Redis (the user dropped everything).
    pub(in crate::store) async fn unpublish_session(&self, session: SessionKey) {
        let Some(shared) = self.shared() else {
            return;
        };
        if let Err(err) = shared
            .forget_session(session, self.inner.config.session_timeout)
            .await
        {
            tracing::warn!(%err, "a dropped session's handles stay known to other servers until it ends");
        }
    }

    /// Drops the frame of `key` from Redis (the page released it), off the caller's path.
    pub(in crate::store) fn remove_shared_frame_later(&self, key: FrameKey) {
        let Some(frames) = self.inner.shared_frames.clone() else {
            return;
        };
        tokio::spawn(async move {
            let _ = frames.remove(key).await;
        });
    }

    /// Bytes of `session` other servers hold in memory (0 alone, or when Redis cannot
    /// tell: a frame that could not be recorded is refused when it is published).
    pub(in crate::store) async fn held_elsewhere(&self, session: SessionKey) -> u64 {
        match self.shared() {
            Some(shared) => shared.held_elsewhere(session).await.unwrap_or(0),
            None => 0,
        }
    }

    /// Tells the other servers what this one holds of `session` now, when that
    /// changed since it last said: frames made here that are in memory, and memory
    /// reserved for frames being made (copies of frames made elsewhere are counted by
    /// the server that made them).
    pub(in crate::store) async fn report_held(&self, session: SessionKey) {
        self.report_held_of(&[session], false).await;
    }

    /// Reports every session this server holds memory of or said it did (the
    /// purger's tick), changed or not, so reports stay fresh while memory is held and
    /// fall to zero when it is not.
    pub(in crate::store) async fn report_all_held(&self) {
        let sessions: Vec<SessionKey> = {
            let state = self.state();
            let mut sessions: std::collections::HashSet<SessionKey> =
                state.held_reported.keys().copied().collect();
            sessions.extend(
                state
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.memory_bytes + s.reserved_bytes > 0)
                    .map(|(k, _)| *k),
            );
            sessions.into_iter().collect()
        };
        self.report_held_of(&sessions, true).await;
    }

    async fn report_held_of(&self, sessions: &[SessionKey], always: bool) {
        let Some(shared) = self.shared() else {
            return;
        };
        let wanted: std::collections::HashSet<SessionKey> = sessions.iter().copied().collect();
        let changed: Vec<(SessionKey, u64)> = {
            let mut state = self.state();
            let mut held: std::collections::HashMap<SessionKey, u64> = wanted
                .iter()
                .map(|s| (*s, state.sessions.get(s).map_or(0, |s| s.reserved_bytes)))
                .collect();
            for (key, entry) in &state.entries {
                if let (true, Data::Memory(_), Some(bytes)) =
                    (entry.origin, &entry.data, held.get_mut(&key.session))
                {
                    *bytes += entry.bytes;
                }
            }
            let changed: Vec<(SessionKey, u64)> = held
                .into_iter()
                .filter(|(s, bytes)| always || state.held_reported.get(s).copied().unwrap_or(0) != *bytes)
                .collect();
            for (session, bytes) in &changed {
                if *bytes == 0 {
                    state.held_reported.remove(session);
                } else {
                    state.held_reported.insert(*session, *bytes);
                }
            }
            changed
        };
        for (session, bytes) in changed {
            if let Err(err) = shared
                .report_held(session, bytes, self.inner.config.session_timeout)
                .await
            {
                // Said again on the next change or tick.
                self.state().held_reported.remove(&session);
                tracing::debug!(%err, "what this server holds was not reported");
            }
        }
    }

    /// Whether a frame of `bytes` may have been written to Redis.
    pub(in crate::store) fn may_be_shared(&self, bytes: u64) -> bool {
        self.shared()
            .is_some_and(|shared| bytes <= shared.settings().frame_max)
    }
}

/// What the other servers must know of `entry`.
pub(super) fn shared_entry(e: &Entry) -> SharedEntry {
    SharedEntry {
        rows: e.rows,
        cols: e.cols,
        bytes: e.bytes,
        placement: e.placement,
        lineage: e.lineage.clone(),
    }
}
