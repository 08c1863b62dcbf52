//! Helpers shared by the cache's integration tests (and the data crate's, by path).
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use polars::prelude::*;
use stayput_cache::{ByteSize, CacheConfig};

pub const MIB: u64 = 1 << 20;

/// A one-column frame of exactly `mib` MiB of f64, values depending on `seed`.
pub fn frame_of_mib(mib: u64, seed: u64) -> DataFrame {
    let n = (mib * MIB / 8) as usize;
    let values: Vec<f64> = (0..n).map(|i| (i as u64 ^ seed) as f64).collect();
    Float64Chunked::from_vec("x".into(), values)
        .into_series()
        .into_frame()
}

/// Limits in MiB (the budget with room for the entries' overhead on top); the session
/// quota equals the budget unless a test says otherwise.
pub fn config(budget_mib: u64, quota_mib: u64, idle: Duration) -> CacheConfig {
    CacheConfig {
        // Room for the entries' own overhead (32 entries) on top of whole frames, so
        // that "a budget of 3 MiB" holds three 1 MiB frames as the tests say.
        memory_budget: ByteSize(budget_mib * MIB + 32 * stayput_cache::ENTRY_OVERHEAD),
        session_quota: ByteSize(quota_mib * MIB),
        auto_threshold: ByteSize(quota_mib * MIB),
        idle_timeout: idle,
        session_timeout: idle * 10,
        max_frames_per_session: stayput_cache::DEFAULT_MAX_FRAMES_PER_SESSION,
    }
}

/// The names of the files in the disk tier's `frames/` under `dir`, sorted.
pub fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("frames"))
        .expect("frames dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Whether `address` lies in a mapping of a frame file (`/proc/self/maps`).
pub fn in_a_frame_file(address: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    maps.lines().any(|line| {
        let Some((range, rest)) = line.split_once(' ') else {
            return false;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            return false;
        };
        let (lo, hi) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16));
        matches!((lo, hi), (Ok(lo), Ok(hi)) if lo <= address && address < hi) && rest.ends_with(".arrow")
    })
}
