//! Learning what the other servers made: a session's entries and memo table synced from
//! Redis, entries adopted, frames read through Redis before they are rebuilt.

use std::sync::Arc;

use polars::prelude::DataFrame;

use super::tell::shared_entry;
use crate::metrics::Counters;
use crate::shared::index::SharedEntry;
use crate::shared::SharedStore;
use crate::state::{Data, Entry};
use crate::store::FrameCache;
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
            let listed: std::collections::HashSet<uuid::Uuid> = entries.iter().map(|(id, _)| *id).collect();
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

    /// The frame `key` from Redis, when Redis holds it whole.
    pub(in crate::store) async fn load_shared(
        &self,
        key: FrameKey,
    ) -> Result<Option<Arc<DataFrame>>, CacheError> {
        let Some(frames) = &self.inner.shared_frames else {
            return Ok(None);
        };
        let frame = frames.load(key).await?;
        if frame.is_some() {
            Counters::bump(&self.inner.counters.hits_shared);
        }
        Ok(frame)
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

    /// Whether `session` is still in use on some server (its keys in Redis live).
    /// `true` without a shared store, and when Redis cannot tell (keep rather than lose).
    pub(in crate::store) async fn session_alive_elsewhere(&self, session: SessionKey) -> bool {
        match self.shared() {
            Some(shared) => shared.session_alive(session).await.unwrap_or(true),
            None => false,
        }
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
