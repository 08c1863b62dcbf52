//! Sessions in Redis, with this server's own copy in front (feature `redis`).
//!
//! Every stored session is also counted in one sorted set, `…:sessions` (member: the
//! session id, score: when it expires), so that all the servers together keep at most
//! `max_sessions`: a new session is refused once the set, cleared of expired members,
//! holds that many ([`SessionCount::refuse_when_full`]). A session that has never held a
//! frame (only started, for a page's socket) counts for ten minutes after its last use.
//!
//! The records live in Redis through tower-sessions' maintained Redis store, over the
//! cache's own connection pool, so a cookie issued by one server is valid on every
//! other. Each server also keeps the records it has seen in its bounded local store: a
//! session's record only names its cache owner, which never changes, so the local copy
//! cannot go stale in a way that matters, and while Redis is down a session this server
//! knows keeps working on the data this server holds. Starting a session needs Redis
//! (every server must know it).

use async_trait::async_trait;
use fred::prelude::{KeysInterface, Pool, SortedSetsInterface};
use stayput_cache::SharedStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::RedisStore;

use crate::caller::HOLDS_KEY;
use crate::SessionError;

/// How long a session that holds no frame counts after its last use (milliseconds).
const STARTED_WINDOW_MS: f64 = 10.0 * 60.0 * 1000.0;

/// The sessions all the servers keep, counted in Redis.
#[derive(Debug, Clone)]
pub(crate) struct SessionCount {
    shared: SharedStore,
    max: u64,
}

impl SessionCount {
    pub(crate) fn new(shared: SharedStore, max: u64) -> Self {
        Self { shared, max }
    }

    fn pool(&self) -> &Pool {
        self.shared.pool()
    }

    /// The sorted set counting the stored sessions.
    fn key(&self) -> String {
        format!("{}:sessions", self.shared.settings().prefix)
    }

    /// Refuses a new session when the servers keep as many as they may, or when Redis
    /// cannot tell: asked before a new session starts, so a request that would start one
    /// is refused before any work. Two servers starting sessions at the same moment may
    /// both pass; the count is still bounded by those in flight.
    pub(crate) async fn refuse_when_full(&self) -> Result<(), SessionError> {
        if !self.shared.is_connected() {
            return Err(SessionError::SharedUnavailable);
        }
        let key = self.key();
        let failed = |err| {
            self.shared.command_failed(err);
            SessionError::SharedUnavailable
        };
        let pipe = self.pool().next().pipeline();
        let _: () = pipe
            .zremrangebyscore(&key, f64::NEG_INFINITY, now_ms())
            .await
            .map_err(failed)?;
        let _: () = pipe.zcard(&key).await.map_err(failed)?;
        let (_, held): (i64, u64) = pipe.all().await.map_err(failed)?;
        if held >= self.max {
            return Err(SessionError::TooManySessions { max: self.max });
        }
        Ok(())
    }

    /// Counts the session `record`: until it expires (its expiry moved on by each save)
    /// once it holds a frame, else for [`STARTED_WINDOW_MS`] after its last use, so a
    /// flood of sessions only started cannot hold the count for a day.
    async fn count(&self, record: &Record) {
        let mut expires = record.expiry_date.unix_timestamp_nanos() as f64 / 1e6;
        let holds = record.data.get(HOLDS_KEY) == Some(&serde_json::Value::Bool(true));
        if !holds {
            expires = expires.min(now_ms() + STARTED_WINDOW_MS);
        }
        let counted: Result<(), _> = self
            .pool()
            .zadd(
                self.key(),
                None,
                None,
                false,
                false,
                (expires, record.id.to_string()),
            )
            .await;
        if let Err(err) = counted {
            tracing::warn!(%err, "a session was not counted in Redis");
        }
    }

    async fn uncount(&self, id: &Id) {
        let removed: Result<(), _> = self.pool().zrem(self.key(), id.to_string()).await;
        if let Err(err) = removed {
            tracing::warn!(%err, "a session was not taken out of Redis's count");
        }
    }
}

/// Milliseconds since the Unix epoch, as the count's scores.
fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// Redis behind a local copy.
#[derive(Debug, Clone)]
pub(crate) struct SharedSessions {
    local: MokaStore,
    redis: RedisStore<Pool>,
    count: SessionCount,
}

impl SharedSessions {
    /// Sessions in Redis through the count's pool, at most `max_local` of them copied here.
    pub(crate) fn new(count: SessionCount, max_local: u64) -> Self {
        Self {
            local: MokaStore::new(Some(max_local)),
            redis: RedisStore::new(count.pool().clone()),
            count,
        }
    }

    fn down() -> session_store::Error {
        session_store::Error::Backend("the shared cache (Redis) is unavailable".to_owned())
    }

    fn connected(&self) -> bool {
        self.count.shared.is_connected()
    }

    /// Saves `record` in Redis, writing it again when Redis lost it (a restart without
    /// persistence, an eviction): the store's own `save` only updates a record that exists.
    async fn save_to_redis(&self, record: &Record) -> session_store::Result<()> {
        let there: u64 = self
            .count
            .pool()
            .exists(record.id.to_string())
            .await
            .map_err(|err| session_store::Error::Backend(err.to_string()))?;
        if there == 0 {
            // Under the same id (`create` only picks another on a collision).
            self.redis.create(&mut record.clone()).await?;
        } else {
            self.redis.save(record).await?;
        }
        self.count.count(record).await;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for SharedSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if !self.connected() {
            return Err(Self::down());
        }
        self.redis.create(record).await?;
        self.count.count(record).await;
        self.local.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.local.save(record).await?;
        // The expiry slides with every request; while Redis is down the local copy
        // slides and Redis catches up with the next save.
        if self.connected() {
            if let Err(err) = self.save_to_redis(record).await {
                tracing::warn!(%err, "a session could not be saved to Redis");
            }
        }
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.local.load(session_id).await? {
            return Ok(Some(record));
        }
        if !self.connected() {
            return Err(Self::down());
        }
        let record = self.redis.load(session_id).await?;
        if let Some(record) = &record {
            self.local.save(record).await?;
        }
        Ok(record)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.local.delete(session_id).await?;
        self.redis.delete(session_id).await?;
        self.count.uncount(session_id).await;
        Ok(())
    }
}
