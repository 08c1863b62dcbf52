//! The in-memory tier: a global byte budget, size-aware LRU eviction, idle expiry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::policy::EvictionPolicy;
use polars::prelude::DataFrame;
use tokio::time::Instant;
use uuid::Uuid;

use crate::{ByteSize, CacheError, FrameHandle, SessionKey};

/// Weights are counted in KiB so that moka's `u32` weights cover frames up to 4 TiB.
const WEIGHT_UNIT: u64 = 1024;

/// How the cache is bounded.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Total bytes of frames kept in memory across all sessions.
    pub memory_budget: ByteSize,
    /// An entry not read for this long is dropped.
    pub idle_timeout: Duration,
}

/// A snapshot of what the cache holds, for logs, tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries currently held.
    pub entries: u64,
    /// Estimated bytes currently held.
    pub bytes: u64,
    /// The configured budget.
    pub budget: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EntryKey {
    session: SessionKey,
    id: Uuid,
}

struct Entry {
    frame: Arc<DataFrame>,
    bytes: u64,
    /// Milliseconds since the cache's epoch at the last read or write. Measured on
    /// tokio's clock so that tests can move time with `tokio::time::advance`.
    last_access_ms: AtomicU64,
}

/// A cheap-to-clone handle to the shared cache of frames.
///
/// Eviction by size is moka's job (LRU, weighed by estimated frame bytes); idle expiry
/// is ours, on tokio's clock, checked on every read and swept by [`FrameCache::spawn_purger`].
#[derive(Clone)]
pub struct FrameCache {
    shared: Arc<Shared>,
}

struct Shared {
    entries: moka::sync::Cache<EntryKey, Arc<Entry>>,
    config: CacheConfig,
    epoch: Instant,
}

impl FrameCache {
    /// An empty cache bounded by `config`. Must be called inside a tokio runtime
    /// (idle expiry reads tokio's clock).
    pub fn new(config: CacheConfig) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.memory_budget.bytes() / WEIGHT_UNIT)
            .weigher(|_key: &EntryKey, entry: &Arc<Entry>| -> u32 {
                u32::try_from(entry.bytes.div_ceil(WEIGHT_UNIT)).unwrap_or(u32::MAX)
            })
            .eviction_policy(EvictionPolicy::lru())
            .build();
        Self {
            shared: Arc::new(Shared {
                entries,
                config,
                epoch: Instant::now(),
            }),
        }
    }

    /// The configuration this cache was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.shared.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Stores `frame` for `session` and returns the handle that reads it back.
    ///
    /// Older entries (of any session, least recently used first) are evicted when the
    /// budget is exceeded. A frame larger than the whole budget is refused.
    pub fn insert(&self, session: SessionKey, frame: DataFrame) -> Result<FrameHandle, CacheError> {
        let bytes = frame.estimated_size() as u64;
        let budget = self.shared.config.memory_budget;
        if bytes > budget.bytes() {
            return Err(CacheError::TooLarge {
                needed: ByteSize(bytes),
                budget,
            });
        }
        let id = Uuid::new_v4();
        let rows = frame.height() as u64;
        let entry = Entry {
            frame: Arc::new(frame),
            bytes,
            last_access_ms: AtomicU64::new(self.now_ms()),
        };
        self.shared
            .entries
            .insert(EntryKey { session, id }, Arc::new(entry));
        // Apply the budget now rather than on moka's own schedule, so memory never
        // stays above it after a put returns.
        self.shared.entries.run_pending_tasks();
        Ok(FrameHandle {
            id: id.to_string(),
            rows,
            bytes,
        })
    }

    /// The frame behind `handle`, if `session` owns it and it has not expired.
    ///
    /// Returns the shared frame itself: no copy is made.
    pub fn get(&self, session: SessionKey, handle: &FrameHandle) -> Result<Arc<DataFrame>, CacheError> {
        let key = Self::key(session, handle)?;
        let entry = self.shared.entries.get(&key).ok_or(CacheError::Unknown)?;
        let now = self.now_ms();
        if self.is_idle(&entry, now) {
            self.shared.entries.invalidate(&key);
            return Err(CacheError::Unknown);
        }
        entry.last_access_ms.store(now, Ordering::Relaxed);
        Ok(Arc::clone(&entry.frame))
    }

    /// Drops the frame behind `handle`; `false` when there was none for `session`.
    pub fn remove(&self, session: SessionKey, handle: &FrameHandle) -> bool {
        match Self::key(session, handle) {
            Ok(key) => self.shared.entries.remove(&key).is_some(),
            Err(_) => false,
        }
    }

    /// Drops every frame of `session`; returns how many there were.
    pub fn remove_session(&self, session: SessionKey) -> usize {
        let keys: Vec<EntryKey> = self
            .shared
            .entries
            .iter()
            .filter(|(key, _)| key.session == session)
            .map(|(key, _)| *key)
            .collect();
        for key in &keys {
            self.shared.entries.invalidate(key);
        }
        keys.len()
    }

    /// Drops every entry that has not been read within the idle timeout.
    pub fn purge_idle(&self) -> usize {
        let now = self.now_ms();
        let idle: Vec<EntryKey> = self
            .shared
            .entries
            .iter()
            .filter(|(_, entry)| self.is_idle(entry, now))
            .map(|(key, _)| *key)
            .collect();
        for key in &idle {
            self.shared.entries.invalidate(key);
        }
        if !idle.is_empty() {
            self.shared.entries.run_pending_tasks();
            tracing::debug!(count = idle.len(), "purged idle frames");
        }
        idle.len()
    }

    /// Starts a background task that sweeps idle entries; it stops when the returned
    /// guard is dropped. Must be called inside a tokio runtime.
    pub fn spawn_purger(&self) -> PurgeGuard {
        let cache = self.clone();
        let period =
            (self.shared.config.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                cache.purge_idle();
            }
        });
        PurgeGuard { task }
    }

    /// Entries and bytes held right now.
    pub fn stats(&self) -> CacheStats {
        self.shared.entries.run_pending_tasks();
        let (entries, bytes) = self
            .shared
            .entries
            .iter()
            .fold((0, 0), |(n, b), (_, entry)| (n + 1, b + entry.bytes));
        CacheStats {
            entries,
            bytes,
            budget: self.shared.config.memory_budget.bytes(),
        }
    }

    fn is_idle(&self, entry: &Entry, now_ms: u64) -> bool {
        let idle_ms = u64::try_from(self.shared.config.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_sub(entry.last_access_ms.load(Ordering::Relaxed)) > idle_ms
    }

    fn key(session: SessionKey, handle: &FrameHandle) -> Result<EntryKey, CacheError> {
        // A malformed id is just another unknown handle.
        let id = Uuid::parse_str(&handle.id).map_err(|_| CacheError::Unknown)?;
        Ok(EntryKey { session, id })
    }
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
