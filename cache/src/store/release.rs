//! Dropping on request: one frame (`remove`), its data only (`release`) or a whole
//! session; and freeing what was dropped off the request path.

use std::sync::Arc;

use super::{FrameCache, Recycler};
use crate::metrics::EvictionCause;
use crate::state::Data;
use crate::tier::FrameKey;
use crate::{FrameId, SessionKey};

impl FrameCache {
    /// Drops the frame `id` (a [`FrameId`] or a [`FrameHandle`](crate::FrameHandle)) from
    /// every tier; `false` when `session` has none.
    pub async fn remove(&self, session: SessionKey, id: &(impl AsRef<FrameId> + ?Sized)) -> bool {
        let Ok(key) = Self::key(session, id.as_ref()) else {
            return false;
        };
        self.forget(key, EvictionCause::Dropped).await
    }

    /// Drops the entry `key` from every tier, counting it as `cause`; `false` when there
    /// is none.
    pub(super) async fn forget(&self, key: FrameKey, cause: EvictionCause) -> bool {
        let removed = {
            let mut state = self.state();
            let lineage = state.entries.get(&key).and_then(|e| e.lineage.clone());
            state.remove(key).map(|data| (data, lineage))
        };
        match removed {
            Some((data, lineage)) => {
                self.unpublish(key, lineage).await;
                self.inner.counters.evicted(cause, 1);
                self.forget_cold(key, &data).await;
                drop(release_later(vec![data], self.inner.recycler.clone()));
                self.report_held(key.session).await;
                true
            }
            None => false,
        }
    }

    /// Says that `session` is done with the frame `id` for now: its data
    /// leaves memory and the cold tier at once (its buffers go to the recycler, if any,
    /// before this returns) while its entry and lineage stay, so a later read rebuilds
    /// it when it has a recipe and says [`CacheError::Expired`](crate::CacheError::Expired)
    /// otherwise. A page that replaces its frame with a new one releases the old one.
    /// `false` when `session` holds no such frame or it was already gone.
    pub async fn release(&self, session: SessionKey, id: &(impl AsRef<FrameId> + ?Sized)) -> bool {
        let Ok(key) = Self::key(session, id.as_ref()) else {
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
        self.remove_shared_frame_later(key);
        self.forget_cold(key, &old).await;
        let done = release_later(vec![old], self.inner.recycler.clone());
        if let (Some(done), Some(_)) = (done, &self.inner.recycler) {
            // The recycler's work only (cheap: it takes buffers back); without one the
            // frame is freed in the background, as evictions are.
            let _ = done.await;
        }
        self.report_held(session).await;
        true
    }

    /// Drops every entry of `session` from every tier (the session ended); returns how
    /// many there were.
    pub async fn remove_session(&self, session: SessionKey) -> usize {
        self.unpublish_session(session).await;
        self.remove_session_because(session, EvictionCause::SessionEnd)
            .await
    }

    pub(super) async fn remove_session_because(&self, session: SessionKey, cause: EvictionCause) -> usize {
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
        // A session that ended here may live on on another server: its files stay
        // while its keys in Redis do (the sweep removes them after).
        let elsewhere = self.is_shared() && self.session_alive_elsewhere(session).await;
        if let (Some(kept), false) = (&self.inner.kept, elsewhere) {
            kept.remove_session(session);
        }
        for (key, data) in &removed {
            self.forget_cold(*key, data).await;
        }
        let count = removed.len();
        drop(release_later(
            removed.into_iter().map(|(_, data)| data).collect(),
            self.inner.recycler.clone(),
        ));
        count
    }

    pub(super) async fn forget_cold(&self, key: FrameKey, data: &Data) {
        if let (Data::Cold | Data::Writing(_), Some(cold)) = (data, self.inner.cold.as_ref()) {
            if let Err(err) = cold.remove(key).await {
                tracing::warn!(%err, "could not remove a frame from the {} tier", cold.name());
            }
        }
    }
}

/// Frees `released` frames (or hands them to the recycler) on the blocking pool:
/// returning a large frame's pages to the OS takes ~90 ms per 800 MB, which no request
/// should wait for. Returns the task, if one was spawned, for a caller that must know
/// the recycler has run.
pub(in crate::store) fn release_later(
    released: Vec<Data>,
    recycler: Option<Recycler>,
) -> Option<tokio::task::JoinHandle<()>> {
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
