//! The handle index of a session in Redis: every entry's shape, size, placement and
//! lineage, the memo table, and a version counter that says when they changed.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::{HashesInterface, KeysInterface, SortedSetsInterface, TransactionInterface};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::SharedStore;
use crate::tier::FrameKey;
use crate::{CacheError, Lineage, Placement, SessionKey};

/// Most dropped ids a session's record of drops keeps (the newest): each drop added one
/// for ever, and every other server read the whole set on each version change (issue
/// 23). A server that has not looked for more drops than this may keep serving a frame
/// another server's user dropped, until it ends with its session.
pub(crate) const MAX_DROPPED: i64 = 4_096;

/// What every server must know of an entry to serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SharedEntry {
    pub(crate) rows: u64,
    pub(crate) cols: u64,
    pub(crate) bytes: u64,
    pub(crate) placement: Placement,
    pub(crate) lineage: Option<Lineage>,
}

impl SharedStore {
    /// Records `entry` under `key` (and, when given, `memo` → its id), bumps the session's
    /// version and renews the session's keys for `ttl`; returns the new version.
    pub(crate) async fn publish(
        &self,
        key: FrameKey,
        entry: Option<&SharedEntry>,
        memo: Option<&Lineage>,
        ttl: Duration,
    ) -> Result<u64, CacheError> {
        self.ensure_up()?;
        let idx = self.key("idx", key.session);
        let id = key.id.simple().to_string();
        let pipe = self.pool().next().pipeline();
        if let Some(entry) = entry {
            let json = serde_json::to_string(entry).map_err(|_| CacheError::SharedUnavailable)?;
            let _: () = pipe
                .hset(&idx, (id.as_str(), json))
                .await
                .map_err(|err| self.failed(err))?;
        }
        if let Some(lineage) = memo {
            let memo_key = self.key("memo", key.session);
            let _: () = pipe
                .hset(&memo_key, (memo_field(lineage), id.as_str()))
                .await
                .map_err(|err| self.failed(err))?;
        }
        let _: () = pipe
            .incr(self.key("ver", key.session))
            .await
            .map_err(|err| self.failed(err))?;
        for kind in ["idx", "memo", "ver"] {
            let _: () = pipe
                .pexpire(self.key(kind, key.session), Self::ttl_ms(ttl), None)
                .await
                .map_err(|err| self.failed(err))?;
        }
        let replies: Vec<fred::types::Value> = pipe.all().await.map_err(|err| self.failed(err))?;
        // The new version: the reply of the INCR, after the HSETs sent.
        let at = usize::from(entry.is_some()) + usize::from(memo.is_some());
        Ok(replies.get(at).and_then(fred::types::Value::as_u64).unwrap_or(0))
    }

    /// The entry `key`, if any server recorded it.
    pub(crate) async fn lookup(&self, key: FrameKey) -> Result<Option<SharedEntry>, CacheError> {
        self.ensure_up()?;
        let json: Option<String> = self
            .pool()
            .hget(self.key("idx", key.session), key.id.simple().to_string())
            .await
            .map_err(|err| self.failed(err))?;
        Ok(json.and_then(|json| decode(&json)))
    }

    /// The session's version: it changes whenever an entry is added or forgotten.
    pub(crate) async fn version(&self, session: SessionKey) -> Result<u64, CacheError> {
        self.ensure_up()?;
        let version: Option<u64> = self
            .pool()
            .get(self.key("ver", session))
            .await
            .map_err(|err| self.failed(err))?;
        Ok(version.unwrap_or(0))
    }

    /// Every entry of `session`.
    pub(crate) async fn entries(&self, session: SessionKey) -> Result<Vec<(Uuid, SharedEntry)>, CacheError> {
        self.ensure_up()?;
        let all: HashMap<String, String> = self
            .pool()
            .hgetall(self.key("idx", session))
            .await
            .map_err(|err| self.failed(err))?;
        Ok(all
            .into_iter()
            .filter_map(|(id, json)| Some((Uuid::parse_str(&id).ok()?, decode(&json)?)))
            .collect())
    }

    /// The id memoized for `lineage` in `session`, if any.
    pub(crate) async fn memo(
        &self,
        session: SessionKey,
        lineage: &Lineage,
    ) -> Result<Option<Uuid>, CacheError> {
        self.ensure_up()?;
        let id: Option<String> = self
            .pool()
            .hget(self.key("memo", session), memo_field(lineage))
            .await
            .map_err(|err| self.failed(err))?;
        Ok(id.and_then(|id| Uuid::parse_str(&id).ok()))
    }

    /// Forgets the entry `key` (and its memo, when it names this id): removed from the
    /// index and recorded as dropped, so every server drops its copy; a new version.
    pub(crate) async fn unpublish(
        &self,
        key: FrameKey,
        lineage: Option<&Lineage>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.ensure_up()?;
        if let Some(lineage) = lineage {
            if self.memo(key.session, lineage).await? == Some(key.id) {
                let _: () = self
                    .pool()
                    .hdel(self.key("memo", key.session), memo_field(lineage))
                    .await
                    .map_err(|err| self.failed(err))?;
            }
        }
        self.drop_ids(key.session, vec![key.id.simple().to_string()], ttl)
            .await
    }

    /// Forgets every entry and memo of `session` (the user dropped everything).
    pub(crate) async fn forget_session(&self, session: SessionKey, ttl: Duration) -> Result<(), CacheError> {
        self.ensure_up()?;
        let ids: Vec<String> = self
            .pool()
            .hkeys(self.key("idx", session))
            .await
            .map_err(|err| self.failed(err))?;
        let _: () = self
            .pool()
            .del(self.key("memo", session))
            .await
            .map_err(|err| self.failed(err))?;
        self.drop_ids(session, ids, ttl).await
    }

    /// Removes `ids` from the index and records them as dropped (the newest
    /// [`MAX_DROPPED`], by when they were dropped, for as long as the session lives), in
    /// one transaction with the new version.
    async fn drop_ids(&self, session: SessionKey, ids: Vec<String>, ttl: Duration) -> Result<(), CacheError> {
        let (idx, gone, ver) = (
            self.key("idx", session),
            self.key("dropped", session),
            self.key("ver", session),
        );
        let tx = self.pool().next().multi();
        if !ids.is_empty() {
            let _: () = tx.hdel(&idx, ids.clone()).await.map_err(|err| self.failed(err))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_millis() as f64);
            let scored: Vec<(f64, String)> = ids.into_iter().map(|id| (now, id)).collect();
            let _: () = tx
                .zadd(&gone, None, None, false, false, scored)
                .await
                .map_err(|err| self.failed(err))?;
            let _: () = tx
                .zremrangebyrank(&gone, 0, -(MAX_DROPPED + 1))
                .await
                .map_err(|err| self.failed(err))?;
            let _: () = tx
                .pexpire(&gone, Self::ttl_ms(ttl), None)
                .await
                .map_err(|err| self.failed(err))?;
        }
        let _: () = tx.incr(&ver).await.map_err(|err| self.failed(err))?;
        let _: () = tx
            .pexpire(&ver, Self::ttl_ms(ttl), None)
            .await
            .map_err(|err| self.failed(err))?;
        let _: fred::types::Value = tx.exec(true).await.map_err(|err| self.failed(err))?;
        Ok(())
    }

    /// The ids of `session` dropped on purpose (not merely missing from the index).
    pub(crate) async fn dropped(
        &self,
        session: SessionKey,
    ) -> Result<std::collections::HashSet<Uuid>, CacheError> {
        self.ensure_up()?;
        let ids: Vec<String> = self
            .pool()
            .zrange(self.key("dropped", session), 0, -1, None, false, None, false)
            .await
            .map_err(|err| self.failed(err))?;
        Ok(ids.iter().filter_map(|id| Uuid::parse_str(id).ok()).collect())
    }

    /// Renews the session's keys for `ttl` (a server saw the session in use).
    pub(crate) async fn renew(&self, session: SessionKey, ttl: Duration) -> Result<(), CacheError> {
        self.ensure_up()?;
        let pipe = self.pool().next().pipeline();
        for kind in ["idx", "memo", "ver", "dropped"] {
            let _: () = pipe
                .pexpire(self.key(kind, session), Self::ttl_ms(ttl), None)
                .await
                .map_err(|err| self.failed(err))?;
        }
        let _: Vec<fred::types::Value> = pipe.all().await.map_err(|err| self.failed(err))?;
        Ok(())
    }

    /// Whether `session` still has an index (some server used it within its timeout).
    pub(crate) async fn session_alive(&self, session: SessionKey) -> Result<bool, CacheError> {
        self.ensure_up()?;
        let n: u64 = self
            .pool()
            .exists(self.key("idx", session))
            .await
            .map_err(|err| self.failed(err))?;
        Ok(n > 0)
    }
}

/// The memo table's field for `lineage`.
fn memo_field(lineage: &Lineage) -> String {
    format!("{}\u{1f}{}", lineage.function, lineage.args)
}

fn decode(json: &str) -> Option<SharedEntry> {
    match serde_json::from_str(json) {
        Ok(entry) => Some(entry),
        Err(err) => {
            tracing::warn!(%err, "an entry in Redis could not be read; ignored");
            None
        }
    }
}
