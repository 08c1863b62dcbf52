//! Several servers, one set of handles: the handle index, the memo table and small
//! frames in Redis (feature `redis`).
//!
//! Each server keeps its own memory (and disk) tier; what the servers share lives under
//! one key prefix in Redis:
//! - `…:idx:<session>`: a hash, frame id → the entry's shape, size, placement and
//!   lineage ([`index`]), so any server knows every handle of the session and can
//!   rebuild any of its frames from the lineage;
//! - `…:memo:<session>`: a hash, lineage → frame id, so a memoized step made on one
//!   server is the same handle on the next;
//! - `…:ver:<session>`: a counter bumped on every change of the index, so a server asks
//!   for the whole index only when it changed;
//! - `…:frame:<session>:<id>` and its chunks: the frame as Arrow IPC ([`frames`]);
//! - `…:held:<session>`: a hash, server → bytes of the session it holds in memory and when
//!   it said so ([`held`]), so a session's quota holds across servers.
//!
//! The session keys expire with the session (`session_timeout`, renewed by use); frames
//! expire after their own time to live. Every call is bounded by a command timeout, and a
//! Redis that cannot be reached is [`CacheError::SharedUnavailable`]: the caller decides
//! whether that fails the request (a new handle must be known to every server) or only
//! costs a shortcut (a frame not in Redis is rebuilt from its lineage).

pub(crate) mod frames;
mod in_place;
mod manifest;
mod raw_get;
pub use frames::{ReadStages, RedisTier};
pub(crate) mod held;
pub(crate) mod index;

use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use fred::prelude::{ClientLike, Config, ConnectionConfig, PerformanceConfig, Pool, ReconnectPolicy};
use fred::types::config::UnresponsiveConfig;

use crate::{CacheError, SessionKey};

/// How the servers share through Redis.
#[derive(Clone)]
pub struct SharedSettings {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key (several deployments may share one Redis).
    pub prefix: String,
    /// Frames up to this many bytes are written to Redis; larger ones stay on the server
    /// that made them and are rebuilt elsewhere from their lineage.
    pub frame_max: u64,
    /// How long a frame stays in Redis after it was written.
    pub frame_ttl: Duration,
    /// Longest any one Redis command may take before it counts as Redis unavailable.
    pub command_timeout: Duration,
}

impl SharedSettings {
    /// The settings for `url` with the defaults: prefix `stayput`, frames up to 64 MiB,
    /// kept 30 minutes, commands bounded by 2 seconds.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "stayput".to_owned(),
            frame_max: 64 << 20,
            frame_ttl: Duration::from_secs(30 * 60),
            command_timeout: Duration::from_secs(2),
        }
    }
}

impl std::fmt::Debug for SharedSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSettings")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("frame_max", &self.frame_max)
            .field("frame_ttl", &self.frame_ttl)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

/// The URL with any password replaced by `***`, for logs and start-up errors.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None if userinfo.is_empty() => url.to_owned(),
        // `redis://password@host` is read by some clients as a password alone.
        None => format!("{scheme}://***@{host}"),
    }
}

/// Why Redis could not be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The URL is not a Redis URL.
    #[error("STAYPUT_REDIS_URL={url} is not a Redis URL: {reason}")]
    BadUrl {
        /// The URL, password hidden.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// Redis did not answer.
    #[error("cannot reach Redis at {url}: {reason}")]
    Unreachable {
        /// The URL, password hidden.
        url: String,
        /// What the client said.
        reason: String,
    },
}

/// The connection to the shared Redis and the settings; cheap to clone.
#[derive(Clone)]
pub struct SharedStore {
    pool: Pool,
    settings: SharedSettings,
    /// The one Redis server, for the plain connections frames are read over (`raw_get`).
    endpoint: Arc<raw_get::Endpoint>,
    /// This server among those sharing the Redis (its reports of what it holds).
    instance: uuid::Uuid,
    /// A failed command opens the breaker for [`BREAK_MS`]: meanwhile calls fail at once
    /// instead of each waiting for the timeout of a Redis that hangs.
    breaker: Arc<Breaker>,
}

/// How long calls fail at once after a failed command (milliseconds).
const BREAK_MS: u64 = 1_000;

/// Milliseconds since `epoch` before which calls fail at once.
#[derive(Debug)]
struct Breaker {
    epoch: Instant,
    open_until_ms: AtomicU64,
}

impl Breaker {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("url", &redacted(&self.settings.url))
            .field("prefix", &self.settings.prefix)
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Connects to Redis and checks that it answers. Once connected, the client
    /// reconnects by itself whenever the connection is lost (every 0.1 s to 2 s, forever).
    pub async fn connect(settings: SharedSettings) -> Result<Self, SharedError> {
        let shown = redacted(&settings.url);
        // Chunks of one frame live on one server, and are read over plain connections to
        // it: one Redis (directly or through a balancer), no TLS.
        let one_server = || SharedError::BadUrl {
            url: shown.clone(),
            reason: "only redis://[user:password@]host:port[/db] is supported: one Redis server \
                     (not a cluster or sentinels), without TLS"
                .to_owned(),
        };
        let scheme = settings
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        if scheme.as_deref() != Some("redis") {
            return Err(one_server());
        }
        let mut config = Config::from_url(&settings.url).map_err(|err| SharedError::BadUrl {
            url: shown.clone(),
            reason: err.details().to_owned(),
        })?;
        let endpoint = raw_get::Endpoint::of(&config).ok_or_else(one_server)?;
        // The first connection must succeed; after that, reconnect rather than fail.
        config.fail_fast = true;
        let perf = PerformanceConfig {
            default_command_timeout: settings.command_timeout,
            ..PerformanceConfig::default()
        };
        let connection = ConnectionConfig {
            connection_timeout: settings.command_timeout,
            internal_command_timeout: settings.command_timeout,
            // A command in flight when the connection drops is not sent again: the
            // caller hears "unavailable" and decides.
            max_command_attempts: 1,
            // A Redis that stops answering (rather than refusing) counts as lost: the
            // connection is closed and opened again.
            unresponsive: UnresponsiveConfig {
                max_timeout: Some(settings.command_timeout),
                interval: Duration::from_millis(250),
            },
            ..ConnectionConfig::default()
        };
        let policy = ReconnectPolicy::new_exponential(0, 100, 2_000, 2);
        let pool = Pool::new(config, Some(perf), Some(connection), Some(policy), 4).map_err(|err| {
            SharedError::BadUrl {
                url: shown.clone(),
                reason: err.details().to_owned(),
            }
        })?;
        let unreachable = |reason: String| SharedError::Unreachable {
            url: shown.clone(),
            reason,
        };
        match tokio::time::timeout(settings.command_timeout * 2, pool.init()).await {
            Ok(Ok(_task)) => {}
            Ok(Err(err)) => return Err(unreachable(err.details().to_owned())),
            Err(_) => {
                let _ = pool.quit().await;
                return Err(unreachable("no answer in time".to_owned()));
            }
        }
        let pong: Result<String, _> = pool.ping(None).await;
        if let Err(err) = pong {
            return Err(unreachable(err.details().to_owned()));
        }
        // Frames are read over plain connections of their own: check one answers too.
        let probe = endpoint.clone();
        let timeout = settings.command_timeout;
        match tokio::task::spawn_blocking(move || raw_get::ping(&probe, timeout)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(unreachable(format!("a plain connection for frames: {err}"))),
            Err(_) => return Err(unreachable("the check of a plain connection failed".to_owned())),
        }
        Ok(Self {
            pool,
            settings,
            endpoint: Arc::new(endpoint),
            instance: uuid::Uuid::new_v4(),
            breaker: Arc::new(Breaker {
                epoch: Instant::now(),
                open_until_ms: AtomicU64::new(0),
            }),
        })
    }

    /// The settings this store was opened with.
    pub fn settings(&self) -> &SharedSettings {
        &self.settings
    }

    /// The connection pool, for a session store that shares it (stayput-sessions).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Whether Redis can be asked right now: a connection is up and no command failed
    /// within the last second.
    pub fn is_connected(&self) -> bool {
        self.pool.is_connected()
            && self.breaker.now_ms() >= self.breaker.open_until_ms.load(Ordering::Relaxed)
    }

    /// A failed command: logged, the breaker opened, "unavailable" to the caller.
    pub(crate) fn failed(&self, err: fred::error::Error) -> CacheError {
        self.command_failed(err);
        CacheError::SharedUnavailable
    }

    /// A command over [`Self::pool`] failed: logged, and the breaker opened, so calls
    /// fail at once for a second instead of each waiting for the timeout.
    pub fn command_failed(&self, err: fred::error::Error) {
        self.broke(&err);
    }

    /// Something asked of Redis failed: logged, and the breaker opened.
    pub(crate) fn broke(&self, err: &dyn std::fmt::Display) {
        tracing::warn!(err = %err, "Redis command failed");
        let until = self.breaker.now_ms().saturating_add(BREAK_MS);
        self.breaker.open_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    /// `prefix:kind:session`.
    pub(crate) fn key(&self, kind: &str, session: SessionKey) -> String {
        format!("{}:{kind}:{}", self.settings.prefix, session.uuid().simple())
    }

    /// The session keys live as long as the session: `session_timeout` in milliseconds.
    pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
        i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
    }

    /// Fails at once when no connection is up (rather than waiting for the timeout).
    pub(crate) fn ensure_up(&self) -> Result<(), CacheError> {
        if self.is_connected() {
            Ok(())
        } else {
            Err(CacheError::SharedUnavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redacted("redis://:s3cret@host:1/0"), "redis://:***@host:1/0");
        assert_eq!(redacted("redis://user:s3cret@host:1"), "redis://user:***@host:1");
        assert_eq!(redacted("redis://s3cret@host"), "redis://***@host");
        assert_eq!(redacted("redis://u:p@ss@host"), "redis://u:***@host");
        assert!(!redacted("rediss://a:b@c").contains('b'));
    }
}
