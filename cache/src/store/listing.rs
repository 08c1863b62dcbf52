//! Inspection: a session's entries, the server's totals and the metrics.

use super::FrameCache;
use crate::inspect::{EntryInfo, TierTotals, Totals};
use crate::metrics::Counters;
use crate::state::{Data, Entry};
use crate::tier::FrameKey;
use crate::CacheError;
use crate::FrameId;
use crate::Lineage;
use crate::SessionKey;

impl FrameCache {
    /// Whether a recipe named `name` was registered (a library that registers its own,
    /// like `stayput-data`'s uploads, checks that the cache was built with it).
    pub fn has_recipe(&self, name: &str) -> bool {
        self.inner.recipes.has(name)
    }

    /// The lineage of `session`'s frame `id` (`None` for a frame stored without one);
    /// [`CacheError::Unknown`] for a handle the session does not hold.
    pub fn lineage(&self, session: SessionKey, id: &FrameId) -> Result<Option<Lineage>, CacheError> {
        let key = Self::key(session, id)?;
        let state = self.state();
        let entry = state.entries.get(&key).ok_or(CacheError::Unknown)?;
        Ok(entry.lineage.clone())
    }

    /// The counters behind `/metrics`.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Whether `session` holds any entry here: one lookup, no listing.
    pub fn holds_entries(&self, session: SessionKey) -> bool {
        self.state().sessions.get(&session).is_some_and(|s| s.entries > 0)
    }

    /// The entries of `session`, oldest first. Nothing of any other session.
    pub fn list(&self, session: SessionKey) -> Vec<EntryInfo> {
        self.cold_lost();
        let now = self.now_ms();
        let state = self.state();
        let mut entries: Vec<(u64, EntryInfo)> = state
            .entries
            .iter()
            .filter(|(k, _)| k.session == session)
            .map(|(k, e)| (e.created_ms, self.info(k, e, now)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        entries.into_iter().map(|(_, info)| info).collect()
    }

    /// `session`'s entry `id`, found by its key (not by scanning the listing); `None`
    /// for an unknown, malformed or another session's id alike.
    pub fn entry(&self, session: SessionKey, id: &FrameId) -> Option<EntryInfo> {
        let key = Self::key(session, id).ok()?;
        self.cold_lost();
        let now = self.now_ms();
        let state = self.state();
        state.entries.get(&key).map(|e| self.info(&key, e, now))
    }

    /// `session`'s entry made by `lineage`, when this server has memoized one
    /// ([`FrameCache::make_memoized`]); a look only: nothing is touched, counted or made.
    pub fn memoized(&self, session: SessionKey, lineage: &Lineage) -> Option<EntryInfo> {
        let memo_key = (session, lineage.clone()); // copied before the lock is taken
        let now = self.now_ms();
        let state = self.state();
        let id = *state.memo.get(&memo_key)?;
        let key = FrameKey { session, id };
        state.entries.get(&key).map(|e| self.info(&key, e, now))
    }

    fn info(&self, key: &FrameKey, e: &Entry, now: u64) -> EntryInfo {
        let recomputable = e
            .lineage
            .as_ref()
            .is_some_and(|l| self.inner.recipes.has(&l.function));
        EntryInfo {
            id: FrameId::from(key.id.to_string()),
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
            filling: e.filling,
        }
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
