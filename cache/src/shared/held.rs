//! A session's quota across servers: each server reports the bytes of the session it holds
//! in memory (frames and reservations), and admits new frames only within the quota minus
//! what the others report.
//!
//! A report carries its time; servers repeat theirs on every purge tick, and a report
//! older than [`STALE_MS`] is not counted, so a server that died stops counting against
//! its sessions after a few minutes.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::prelude::{HashesInterface, KeysInterface};

use super::SharedStore;
use crate::{CacheError, SessionKey};

/// Reports older than this (milliseconds) are not counted.
pub(crate) const STALE_MS: u64 = 5 * 60_000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SharedStore {
    /// Says that this server holds `bytes` of `session` now (0 removes the report).
    pub(crate) async fn report_held(
        &self,
        session: SessionKey,
        bytes: u64,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.ensure_up()?;
        let key = self.key("held", session);
        let me = self.instance.simple().to_string();
        if bytes == 0 {
            let _: () = self
                .pool()
                .hdel(&key, me.as_str())
                .await
                .map_err(|err| self.failed(err))?;
            return Ok(());
        }
        let pipe = self.pool().next().pipeline();
        let _: () = pipe
            .hset(&key, (me.as_str(), format!("{bytes}@{}", now_ms())))
            .await
            .map_err(|err| self.failed(err))?;
        let _: () = pipe
            .pexpire(&key, Self::ttl_ms(ttl), None)
            .await
            .map_err(|err| self.failed(err))?;
        let _: Vec<fred::types::Value> = pipe.all().await.map_err(|err| self.failed(err))?;
        Ok(())
    }

    /// Bytes of `session` the other servers hold, by their recent reports.
    pub(crate) async fn held_elsewhere(&self, session: SessionKey) -> Result<u64, CacheError> {
        self.ensure_up()?;
        let all: HashMap<String, String> = self
            .pool()
            .hgetall(self.key("held", session))
            .await
            .map_err(|err| self.failed(err))?;
        let me = self.instance.simple().to_string();
        let now = now_ms();
        Ok(all
            .iter()
            .filter(|(server, _)| **server != me)
            .filter_map(|(_, report)| {
                let (bytes, at) = report.split_once('@')?;
                let (bytes, at) = (bytes.parse::<u64>().ok()?, at.parse::<u64>().ok()?);
                (now.saturating_sub(at) <= STALE_MS).then_some(bytes)
            })
            .fold(0u64, u64::saturating_add))
    }
}
