//! The cache's side of sharing through Redis: telling the other servers about a new
//! entry, learning theirs, reading a frame through Redis before rebuilding it.
//!
//! Without the `redis` feature, or with no shared store configured, every method here
//! is a no-op and the cache is the single-server cache it always was.

use super::FrameCache;

#[cfg(feature = "redis")]
mod on {
    use std::sync::Arc;

    use polars::prelude::DataFrame;

    use super::super::FrameCache;
    use crate::metrics::Counters;
    use crate::shared::index::SharedEntry;
    use crate::shared::SharedStore;
    use crate::state::{Data, Entry};
    use crate::tier::FrameKey;
    use crate::{CacheError, Lineage, SessionKey};

    /// A server renews a session's keys in Redis at most this often (milliseconds).
    const RENEW_EVERY_MS: u64 = 60_000;

    impl FrameCache {
        /// The shared store (Redis), when the cache was built with one.
        pub fn shared(&self) -> Option<&SharedStore> {
            self.inner.shared.as_ref()
        }

        /// Learns the entries other servers recorded for `session` since this server last
        /// looked (one small read when nothing changed), and renews the session's keys
        /// in Redis now and then. Without a shared store, does nothing. When Redis is
        /// down, fails with [`CacheError::SharedUnavailable`]; what this server holds
        /// stays usable (callers may go on without it).
        pub async fn sync_session(&self, session: SessionKey) -> Result<(), CacheError> {
            let Some(shared) = self.shared() else {
                return Ok(());
            };
            let now = self.now_ms();
            let version = shared.version(session).await?;
            let mut gone = Vec::new();
            let (known, renew) = {
                let state = self.state();
                state.sessions.get(&session).map_or((0, true), |s| {
                    (
                        s.shared_version,
                        now.saturating_sub(s.shared_renewed_ms) >= RENEW_EVERY_MS,
                    )
                })
            };
            if renew && version > 0 {
                shared.renew(session, self.inner.config.session_timeout).await?;
            }
            let mut republish = Vec::new();
            if version != known && version > 0 {
                let entries = shared.entries(session).await?;
                let dropped = shared.dropped(session).await?;
                let mut state = self.state();
                // Dropped on purpose on another server: dropped here too.
                let drop_here: Vec<FrameKey> = state
                    .entries
                    .keys()
                    .filter(|k| k.session == session && dropped.contains(&k.id))
                    .copied()
                    .collect();
                for key in drop_here {
                    if let Some(data) = state.remove(key) {
                        gone.push((key, data));
                    }
                }
                // Recorded by this server but missing from the index without being
                // dropped: Redis lost it (a restart, an eviction), or this server's own
                // record is on its way. Recorded again, so no server loses it.
                let listed: std::collections::HashSet<uuid::Uuid> =
                    entries.iter().map(|(id, _)| *id).collect();
                republish.extend(
                    state
                        .entries
                        .iter()
                        .filter(|(k, e)| k.session == session && e.published && !listed.contains(&k.id))
                        .map(|(k, e)| (*k, shared_entry(e))),
                );
                let most = self.inner.config.max_frames_per_session;
                for (id, entry) in entries {
                    let key = FrameKey { session, id };
                    let held = state.sessions.get(&session).map_or(0, |s| s.entries);
                    if held >= most {
                        break;
                    }
                    if !state.entries.contains_key(&key) && !dropped.contains(&id) {
                        adopt(&mut state, key, entry, now);
                    }
                }
                let s = state.sessions.entry(session).or_default();
                s.shared_version = version;
            }
            for (key, entry) in &republish {
                shared
                    .publish(*key, Some(entry), None, self.inner.config.session_timeout)
                    .await?;
            }
            if !republish.is_empty() {
                // Read whole again next time (the republishing moved the version).
                self.state().sessions.entry(session).or_default().shared_version = 0;
            }
            if renew && version > 0 {
                let mut state = self.state();
                state.sessions.entry(session).or_default().shared_renewed_ms = now;
            }
            if !gone.is_empty() {
                self.inner
                    .counters
                    .evicted(crate::metrics::EvictionCause::Dropped, gone.len() as u64);
                for (key, data) in &gone {
                    self.forget_cold(*key, data).await;
                }
                drop(super::super::release::release_later(
                    gone.into_iter().map(|(_, data)| data).collect(),
                    self.inner.recycler.clone(),
                ));
            }
            Ok(())
        }

        /// On a local miss: the entry `key` from Redis, adopted here (its data gone, to be
        /// read from Redis or rebuilt). `false` when no server recorded it.
        pub(in crate::store) async fn adopt_shared(&self, key: FrameKey) -> Result<bool, CacheError> {
            let Some(shared) = self.shared() else {
                return Ok(false);
            };
            let Some(entry) = shared.lookup(key).await? else {
                return Ok(false);
            };
            let now = self.now_ms();
            let mut state = self.state();
            if !state.entries.contains_key(&key) {
                adopt(&mut state, key, entry, now);
            }
            Ok(true)
        }

        /// The id another server memoized for `lineage` in `session`, adopted here.
        pub(in crate::store) async fn memo_shared(
            &self,
            session: SessionKey,
            lineage: &Lineage,
        ) -> Result<Option<uuid::Uuid>, CacheError> {
            let Some(shared) = self.shared() else {
                return Ok(None);
            };
            let Some(id) = shared.memo(session, lineage).await? else {
                return Ok(None);
            };
            if !self.adopt_shared(FrameKey { session, id }).await? {
                return Ok(None);
            }
            self.state().memo.insert((session, lineage.clone()), id);
            Ok(Some(id))
        }

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
            // An upload's frame is read from its kept file by any server (and released at
            // once after ingestion): not written to Redis.
            let upload = entry
                .lineage
                .as_ref()
                .is_some_and(|l| l.function == crate::ingest::UPLOAD_RECIPE);
            if let (Some(frame), false) = (frame, upload) {
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

        /// Writes `frame` to Redis under `key`; `wait` or in the background.
        pub(in crate::store) async fn write_through(&self, key: FrameKey, frame: Arc<DataFrame>, wait: bool) {
            let Some(shared) = self.shared().cloned() else {
                return;
            };
            if frame.estimated_size() as u64 > shared.settings().frame_max {
                return;
            }
            let counters = self.clone();
            let write = async move {
                match shared.store_frame(key, &frame).await {
                    Ok(Some(_)) => Counters::bump(&counters.inner.counters.shared_writes),
                    Ok(None) => {}
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

        /// The frame `key` from Redis, when Redis holds it whole.
        pub(in crate::store) async fn load_shared(
            &self,
            key: FrameKey,
        ) -> Result<Option<DataFrame>, CacheError> {
            let Some(shared) = self.shared() else {
                return Ok(None);
            };
            let frame = shared.load_frame(key).await?;
            if frame.is_some() {
                Counters::bump(&self.inner.counters.hits_shared);
            }
            Ok(frame)
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
            tokio::spawn(async move {
                let _ = shared.remove_frame(key).await;
            });
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
            let Some(shared) = self.shared().cloned() else {
                return;
            };
            tokio::spawn(async move {
                let _ = shared.remove_frame(key).await;
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

        /// The lineage arguments of every entry of `session` in the index; `None` when
        /// Redis cannot tell.
        pub(in crate::store) async fn shared_lineage_args(&self, session: SessionKey) -> Option<Vec<String>> {
            let shared = self.shared()?;
            let entries = shared.entries(session).await.ok()?;
            Some(
                entries
                    .into_iter()
                    .filter_map(|(_, e)| e.lineage.map(|l| l.args))
                    .collect(),
            )
        }

        /// Whether a frame of `bytes` may have been written to Redis.
        pub(in crate::store) fn may_be_shared(&self, bytes: u64) -> bool {
            self.shared()
                .is_some_and(|shared| bytes <= shared.settings().frame_max)
        }

        /// Whether `session` is still in use on some server (its keys in Redis live).
        /// `true` without a shared store, and when Redis cannot tell (keep rather than lose).
        pub(in crate::store) async fn session_alive_elsewhere(&self, session: SessionKey) -> bool {
            match self.shared() {
                Some(shared) => shared.session_alive(session).await.unwrap_or(true),
                None => false,
            }
        }
    }

    /// What the other servers must know of `entry`.
    fn shared_entry(e: &Entry) -> SharedEntry {
        SharedEntry {
            rows: e.rows,
            cols: e.cols,
            bytes: e.bytes,
            placement: e.placement,
            lineage: e.lineage.clone(),
        }
    }

    /// Enters `entry` under `key` in this server's bookkeeping, its data gone.
    fn adopt(state: &mut crate::state::State, key: FrameKey, entry: SharedEntry, now: u64) {
        let seq = state.tick();
        state.touch_session(key.session, now);
        state.insert(
            key,
            Entry {
                placement: entry.placement,
                lineage: entry.lineage,
                rows: entry.rows,
                cols: entry.cols,
                bytes: entry.bytes,
                data: Data::Gone,
                created_ms: now,
                last_use_ms: now,
                last_use_seq: seq,
                filling: false,
                hits: 0,
                published: true,
                origin: false,
            },
        );
    }
}

#[cfg(not(feature = "redis"))]
mod off {
    use std::sync::Arc;

    use polars::prelude::DataFrame;

    use super::super::FrameCache;
    use crate::tier::FrameKey;
    use crate::{CacheError, Lineage, SessionKey};

    impl FrameCache {
        /// Without the `redis` feature there is nothing to learn.
        pub async fn sync_session(&self, _session: SessionKey) -> Result<(), CacheError> {
            Ok(())
        }

        pub(in crate::store) async fn adopt_shared(&self, _key: FrameKey) -> Result<bool, CacheError> {
            Ok(false)
        }

        pub(in crate::store) async fn memo_shared(
            &self,
            _session: SessionKey,
            _lineage: &Lineage,
        ) -> Result<Option<uuid::Uuid>, CacheError> {
            Ok(None)
        }

        pub(in crate::store) async fn publish(
            &self,
            _key: FrameKey,
            _frame: Option<&Arc<DataFrame>>,
            _memo: bool,
        ) -> Result<(), CacheError> {
            Ok(())
        }

        pub(in crate::store) async fn publish_memo(
            &self,
            _key: FrameKey,
            _lineage: &Lineage,
        ) -> Result<(), CacheError> {
            Ok(())
        }

        pub(in crate::store) async fn write_through(
            &self,
            _key: FrameKey,
            _frame: Arc<DataFrame>,
            _wait: bool,
        ) {
        }

        pub(in crate::store) async fn load_shared(
            &self,
            _key: FrameKey,
        ) -> Result<Option<DataFrame>, CacheError> {
            Ok(None)
        }

        pub(in crate::store) async fn unpublish(&self, _key: FrameKey, _lineage: Option<Lineage>) {}

        pub(in crate::store) async fn unpublish_session(&self, _session: SessionKey) {}

        pub(in crate::store) fn remove_shared_frame_later(&self, _key: FrameKey) {}

        pub(in crate::store) async fn session_alive_elsewhere(&self, _session: SessionKey) -> bool {
            false
        }

        pub(in crate::store) async fn held_elsewhere(&self, _session: SessionKey) -> u64 {
            0
        }

        pub(in crate::store) async fn report_held(&self, _session: SessionKey) {}

        pub(in crate::store) async fn report_all_held(&self) {}

        pub(in crate::store) fn may_be_shared(&self, _bytes: u64) -> bool {
            false
        }

        pub(in crate::store) async fn shared_lineage_args(
            &self,
            _session: SessionKey,
        ) -> Option<Vec<String>> {
            Some(Vec::new())
        }
    }
}

impl FrameCache {
    /// Whether this cache shares its handles through Redis.
    pub(in crate::store) fn is_shared(&self) -> bool {
        #[cfg(feature = "redis")]
        {
            self.inner.shared.is_some()
        }
        #[cfg(not(feature = "redis"))]
        {
            false
        }
    }
}
