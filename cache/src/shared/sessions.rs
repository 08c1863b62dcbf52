//! Sessions in Redis, with this server's own copy in front (features `leptos` + `redis`).
//!
//! The records live in Redis through tower-sessions' maintained Redis store, so a cookie
//! issued by one server is valid on every other. Each server also keeps the records it
//! has seen in its bounded local store: a session's record only names its cache owner,
//! which never changes, so the local copy cannot go stale in a way that matters, and
//! while Redis is down a session this server knows keeps working on the data this
//! server holds. Starting a session needs Redis (every server must know it).

use async_trait::async_trait;
use fred::prelude::{KeysInterface, Pool};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::RedisStore;

/// Redis behind a local copy.
#[derive(Debug, Clone)]
pub(crate) struct SharedSessions {
    local: MokaStore,
    redis: RedisStore<Pool>,
    shared: super::SharedStore,
}

impl SharedSessions {
    /// Sessions in Redis through `shared`'s pool, at most `max_local` of them copied here.
    pub(crate) fn new(shared: super::SharedStore, max_local: u64) -> Self {
        Self {
            local: MokaStore::new(Some(max_local)),
            redis: RedisStore::new(shared.pool().clone()),
            shared,
        }
    }

    fn down() -> session_store::Error {
        session_store::Error::Backend("the shared cache (Redis) is unavailable".to_owned())
    }
}

impl SharedSessions {
    /// Saves `record` in Redis, writing it again when Redis lost it (a restart without
    /// persistence, an eviction): the store's own `save` only updates a record that exists.
    async fn save_to_redis(&self, record: &Record) -> session_store::Result<()> {
        let there: u64 = self
            .shared
            .pool()
            .exists(record.id.to_string())
            .await
            .map_err(|err| session_store::Error::Backend(err.to_string()))?;
        if there == 0 {
            // Under the same id (`create` only picks another on a collision).
            self.redis.create(&mut record.clone()).await
        } else {
            self.redis.save(record).await
        }
    }
}

#[async_trait]
impl SessionStore for SharedSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        if !self.shared.is_connected() {
            return Err(Self::down());
        }
        self.redis.create(record).await?;
        self.local.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.local.save(record).await?;
        // The expiry slides with every request; while Redis is down the local copy
        // slides and Redis catches up with the next save.
        if self.shared.is_connected() {
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
        if !self.shared.is_connected() {
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
        self.redis.delete(session_id).await
    }
}
