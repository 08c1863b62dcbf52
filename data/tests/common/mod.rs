//! Helpers shared by the data crate's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use stayput_cache::{ByteSize, CacheConfig};

pub const MIB: u64 = 1 << 20;

/// Limits in MiB (the budget with room for the entries' overhead on top); the session
/// quota equals the budget unless a test says otherwise.
pub fn config(budget_mib: u64, quota_mib: u64, idle: Duration) -> CacheConfig {
    CacheConfig {
        memory_budget: ByteSize(budget_mib * MIB + 32 * stayput_cache::ENTRY_OVERHEAD),
        session_quota: ByteSize(quota_mib * MIB),
        auto_threshold: ByteSize(quota_mib * MIB),
        idle_timeout: idle,
        session_timeout: idle * 10,
        max_frames_per_session: stayput_cache::DEFAULT_MAX_FRAMES_PER_SESSION,
    }
}
