//! How a [`crate::FrameCache`] is bounded.

use std::time::Duration;

use crate::ByteSize;

/// Limits of the cache. [`CacheConfig::new`] gives sane defaults around a memory budget.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Total bytes of frames kept in memory across all sessions.
    pub memory_budget: ByteSize,
    /// Most bytes of memory one session may hold; over it, the session's own least
    /// recently used frames leave memory first.
    pub session_quota: ByteSize,
    /// `Placement::Auto` frames of at least this size go straight to the cold tier.
    pub auto_threshold: ByteSize,
    /// An entry not used for this long loses its data (its lineage stays).
    pub idle_timeout: Duration,
    /// A session not seen for this long is forgotten with all its entries, in every tier.
    pub session_timeout: Duration,
    /// Most entries one session may hold, whatever their size and wherever their data
    /// is (evicted entries keep their metadata and lineage, so they count too). A new
    /// frame beyond it makes the session forget its least recently used entry: a flood
    /// of tiny frames cannot grow the bookkeeping, the eviction scans or `/metrics`.
    pub max_frames_per_session: usize,
}

/// Default [`CacheConfig::max_frames_per_session`].
pub const DEFAULT_MAX_FRAMES_PER_SESSION: usize = 1_000;

impl CacheConfig {
    /// Defaults around `memory_budget`: a session may use half of it, `Auto` frames from
    /// half the quota go to disk, entries idle for 30 minutes lose their data and
    /// sessions idle for 24 hours are forgotten.
    pub fn new(memory_budget: ByteSize) -> Self {
        let session_quota = ByteSize(memory_budget.bytes() / 2);
        Self {
            memory_budget,
            session_quota,
            auto_threshold: ByteSize(session_quota.bytes() / 2),
            idle_timeout: Duration::from_secs(30 * 60),
            session_timeout: Duration::from_secs(24 * 60 * 60),
            max_frames_per_session: DEFAULT_MAX_FRAMES_PER_SESSION,
        }
    }

    /// The most one frame may take in memory: the tighter of the memory budget and the
    /// session quota, and which limit that is.
    pub fn frame_limit(&self) -> (crate::Limit, u64) {
        if self.session_quota < self.memory_budget {
            (crate::Limit::SessionQuota, self.session_quota.bytes())
        } else {
            (crate::Limit::MemoryBudget, self.memory_budget.bytes())
        }
    }
}
