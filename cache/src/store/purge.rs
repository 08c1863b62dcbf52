//! Idle expiry: [`FrameCache::purge`] and the background task that runs it.

use std::time::Duration;

use super::release::release_later;
use super::FrameCache;
use crate::metrics::EvictionCause;
use crate::state::Data;
use crate::tier::FrameKey;
use crate::SessionKey;

impl FrameCache {
    /// Idle entries lose their data (their lineage stays, so they can be rebuilt or
    /// reported as expired); sessions idle past the session timeout are forgotten with
    /// everything they hold. Returns (entries expired, sessions forgotten).
    pub async fn purge(&self) -> (usize, usize) {
        self.cold_lost();
        let now = self.now_ms();
        let idle_ms = millis(self.inner.config.idle_timeout);
        let session_ms = millis(self.inner.config.session_timeout);
        let (expired, sessions, released) = {
            let mut state = self.state();
            let idle: Vec<FrameKey> = state
                .entries
                .iter()
                .filter(|(_, e)| !matches!(e.data, Data::Gone) && now.saturating_sub(e.last_use_ms) > idle_ms)
                .map(|(k, _)| *k)
                .collect();
            let mut expired = Vec::with_capacity(idle.len());
            let mut released = Vec::with_capacity(idle.len());
            for key in idle {
                let was_cold = state
                    .entries
                    .get(&key)
                    .is_some_and(|e| matches!(e.data, Data::Cold | Data::Writing(_)));
                released.extend(state.set_data(key, Data::Gone));
                expired.push((key, was_cold));
            }
            let sessions: Vec<SessionKey> = state
                .sessions
                .iter()
                .filter(|(_, s)| now.saturating_sub(s.last_seen_ms) > session_ms)
                .map(|(k, _)| *k)
                .collect();
            (expired, sessions, released)
        };
        // Freed off the lock (and off this task: unmapping a large frame takes a while).
        drop(release_later(released, self.inner.recycler.clone()));
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
            self.report_held(*session).await;
        }
        // Fresh reports of what this server holds, for the quota across servers.
        self.report_all_held().await;
        // Kept files no frame names any more (see `KeptFiles::sweep`).
        if let Some(kept) = &self.inner.kept {
            let mut named = std::collections::HashSet::new();
            for entry in self.state().entries.values() {
                if let Some(lineage) = &entry.lineage {
                    kept.named_in(&lineage.args, &mut named);
                }
            }
            // With several servers, a file stays while any server's entry names it (the
            // index in Redis); when Redis cannot tell, the session's files stay.
            let mut keep = std::collections::HashSet::new();
            if self.is_shared() {
                for session in kept.sessions() {
                    match self.shared_lineage_args(session).await {
                        Some(args) => {
                            for args in args {
                                kept.named_in(&args, &mut named);
                            }
                        }
                        None => {
                            keep.insert(session);
                        }
                    }
                }
            }
            kept.sweep(&named, &keep);
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
