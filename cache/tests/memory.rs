//! The in-memory tier against real frames and tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use polars::prelude::*;
use stayput_cache::{ByteSize, CacheConfig, CacheError, FrameCache, FrameHandle, SessionKey};

const MIB: u64 = 1 << 20;

/// A one-column frame of exactly `mib` MiB of f64.
fn frame_of_mib(mib: u64) -> DataFrame {
    let n = (mib * MIB / 8) as usize;
    Float64Chunked::from_vec("x".into(), vec![1.5; n])
        .into_series()
        .into_frame()
}

fn cache(budget_mib: u64, idle: Duration) -> FrameCache {
    FrameCache::new(CacheConfig {
        memory_budget: ByteSize(budget_mib * MIB),
        idle_timeout: idle,
    })
}

#[tokio::test]
async fn get_returns_the_stored_frame_without_copying() {
    let cache = cache(64, Duration::from_secs(60));
    let session = SessionKey::random();
    let handle = cache.insert(session, frame_of_mib(1)).expect("fits");
    assert_eq!(handle.rows, MIB / 8);
    assert_eq!(handle.bytes, MIB);

    let first = cache.get(session, &handle).expect("present");
    let second = cache.get(session, &handle).expect("present");
    assert!(
        Arc::ptr_eq(&first, &second),
        "a read must hand out the same frame"
    );
    assert_eq!(first.height() as u64, handle.rows);
    assert_eq!(cache.stats().entries, 1);
    assert_eq!(cache.stats().bytes, MIB);
}

#[tokio::test]
async fn budget_evicts_least_recently_used_first() {
    let cache = cache(3, Duration::from_secs(60));
    let session = SessionKey::random();
    let a = cache.insert(session, frame_of_mib(1)).expect("fits");
    let b = cache.insert(session, frame_of_mib(1)).expect("fits");
    let c = cache.insert(session, frame_of_mib(1)).expect("fits");
    // Touch `a` so that `b` is now the least recently used.
    cache.get(session, &a).expect("a present");
    let d = cache.insert(session, frame_of_mib(1)).expect("fits");

    assert_eq!(cache.get(session, &b), Err(CacheError::Unknown), "b was LRU");
    for kept in [&a, &c, &d] {
        assert!(cache.get(session, kept).is_ok(), "{} kept", kept.short_id());
    }
    let stats = cache.stats();
    assert!(stats.bytes <= stats.budget, "{stats:?}");
}

#[tokio::test]
async fn a_frame_larger_than_the_budget_is_refused() {
    let cache = cache(2, Duration::from_secs(60));
    let err = cache
        .insert(SessionKey::random(), frame_of_mib(3))
        .expect_err("too large");
    assert!(matches!(err, CacheError::TooLarge { .. }));
    assert!(err.to_string().contains("memory budget is 2.0 MiB"), "{err}");
    assert_eq!(cache.stats().entries, 0);
}

#[tokio::test(start_paused = true)]
async fn idle_entries_expire_and_reads_keep_them_alive() {
    let cache = cache(64, Duration::from_secs(10));
    let session = SessionKey::random();
    let busy = cache.insert(session, frame_of_mib(1)).expect("fits");
    let idle = cache.insert(session, frame_of_mib(1)).expect("fits");

    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(6)).await;
        cache.get(session, &busy).expect("read within the idle timeout");
    }
    // 18 s since `idle` was last touched.
    assert_eq!(cache.get(session, &idle), Err(CacheError::Unknown));
    assert!(cache.get(session, &busy).is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_purger_sweeps_idle_entries_without_reads() {
    let cache = cache(64, Duration::from_secs(10));
    let guard = cache.spawn_purger();
    cache.insert(SessionKey::random(), frame_of_mib(1)).expect("fits");
    assert_eq!(cache.stats().entries, 1);

    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(cache.stats().entries, 0, "swept by the background task");
    drop(guard);
}

#[tokio::test]
async fn handles_are_useless_in_another_session() {
    let cache = cache(64, Duration::from_secs(60));
    let alice = SessionKey::random();
    let mallory = SessionKey::random();
    let handle = cache.insert(alice, frame_of_mib(1)).expect("fits");

    let foreign = cache.get(mallory, &handle);
    let made_up = cache.get(
        mallory,
        &FrameHandle {
            id: "1b4e28ba-2fa1-41d2-883f-0016d3cca427".into(),
            ..handle.clone()
        },
    );
    let malformed = cache.get(
        mallory,
        &FrameHandle {
            id: "../../etc/passwd".into(),
            ..handle.clone()
        },
    );
    assert_eq!(foreign, Err(CacheError::Unknown));
    assert_eq!(foreign, made_up, "foreign and unknown are indistinguishable");
    assert_eq!(foreign, malformed);
    assert!(!cache.remove(mallory, &handle), "nor can another session drop it");
    assert!(cache.get(alice, &handle).is_ok());
}

#[tokio::test]
async fn removing_a_session_drops_only_its_frames() {
    let cache = cache(64, Duration::from_secs(60));
    let gone = SessionKey::random();
    let stays = SessionKey::random();
    let a = cache.insert(gone, frame_of_mib(1)).expect("fits");
    cache.insert(gone, frame_of_mib(1)).expect("fits");
    let kept = cache.insert(stays, frame_of_mib(1)).expect("fits");

    assert_eq!(cache.remove_session(gone), 2);
    assert_eq!(cache.get(gone, &a), Err(CacheError::Unknown));
    assert!(cache.get(stays, &kept).is_ok());
    assert_eq!(cache.stats().entries, 1);
}
