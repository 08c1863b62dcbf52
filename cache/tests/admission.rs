//! Admission before allocation: a sized recipe's frame is reserved before it is built,
//! refused at once when it cannot fit, and its reservation comes back on every path.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{config, frame_of_mib, MIB};
use serde::{Deserialize, Serialize};
use stayput_cache::{CacheError, FrameCache, Placement, SessionKey};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Mib {
    mib: u64,
    fail: bool,
    slow: bool,
}

/// A cache whose sized recipe `mib` counts its runs; it fails when asked to.
fn cache(budget_mib: u64, quota_mib: u64) -> (FrameCache, Arc<AtomicU64>) {
    let runs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&runs);
    let cache = FrameCache::builder(config(budget_mib, quota_mib, Duration::from_secs(600)))
        .sized_recipe(
            "mib",
            |args: &Mib| args.mib * MIB,
            move |args: Mib| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if args.slow {
                        tokio::time::sleep(Duration::from_secs(600)).await;
                    }
                    if args.fail {
                        Err("the recipe failed".to_owned())
                    } else {
                        Ok(frame_of_mib(args.mib, 1))
                    }
                }
            },
        )
        .build();
    (cache, runs)
}

fn mib(mib: u64) -> Mib {
    Mib {
        mib,
        fail: false,
        slow: false,
    }
}

#[tokio::test]
async fn a_frame_over_the_quota_is_refused_before_the_recipe_runs() {
    let (cache, runs) = cache(64, 16);
    let me = SessionKey::random();
    let err = cache
        .make(me, "mib", &mib(17), Placement::Memory)
        .await
        .expect_err("over the quota");
    assert!(
        matches!(
            err,
            CacheError::TooLarge {
                limit: stayput_cache::Limit::SessionQuota,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0, "refused before any work");
    assert_eq!(cache.reserved_bytes(), 0);
    assert!(cache.make(me, "mib", &mib(16), Placement::Memory).await.is_ok());
}

#[tokio::test]
async fn a_reservation_makes_room_by_evicting_before_the_build() {
    let (cache, _) = cache(32, 32);
    let me = SessionKey::random();
    let first = cache
        .make(me, "mib", &mib(12), Placement::Memory)
        .await
        .expect("first");
    let second = cache
        .make(me, "mib", &mib(12), Placement::Memory)
        .await
        .expect("second");
    // 12 + 12 + 12 > 32: the least recently used leaves before the third is built.
    let reservation = cache.reserve(me, 12 * MIB).await.expect("room made");
    assert_eq!(reservation.bytes(), 12 * MIB);
    let held = cache.session_memory(me);
    assert!(
        held + reservation.bytes() <= 32 * MIB,
        "{held} held + 12 MiB reserved"
    );
    drop(reservation);
    assert_eq!(cache.reserved_bytes(), 0, "dropped, given back");
    assert!(cache.get(me, &second).await.is_ok());
    assert!(cache.get(me, &first).await.is_ok(), "rebuilt from its lineage");
}

#[tokio::test]
async fn reservations_together_never_exceed_the_budget() {
    let (cache, _) = cache(32, 32);
    let (a, b) = (SessionKey::random(), SessionKey::random());
    let held = cache.reserve(a, 20 * MIB).await.expect("a");
    let err = cache
        .reserve(b, 20 * MIB)
        .await
        .expect_err("room held by work in progress");
    assert_eq!(err, CacheError::Busy);
    drop(held);
    assert!(cache.reserve(b, 20 * MIB).await.is_ok(), "free again");
}

#[tokio::test]
async fn a_failing_build_gives_its_reservation_back() {
    let (cache, runs) = cache(32, 32);
    let me = SessionKey::random();
    let failing = Mib { fail: true, ..mib(8) };
    assert!(cache.make(me, "mib", &failing, Placement::Memory).await.is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.reserved_bytes(), 0);
    // A cancelled build too: the request goes away while the recipe runs.
    let building = tokio::spawn({
        let cache = cache.clone();
        async move {
            let slow = Mib { slow: true, ..mib(8) };
            cache.make(me, "mib", &slow, Placement::Memory).await
        }
    });
    for _ in 0..5_000 {
        if cache.reserved_bytes() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(cache.reserved_bytes(), 8 * MIB, "reserved while it builds");
    building.abort();
    assert!(building.await.is_err(), "cancelled");
    assert_eq!(cache.reserved_bytes(), 0, "given back when the build was dropped");
    // And a stored frame takes over its reservation: nothing is counted twice.
    cache
        .make(me, "mib", &mib(8), Placement::Memory)
        .await
        .expect("stored");
    assert_eq!((cache.reserved_bytes(), cache.session_memory(me)), (0, 8 * MIB));
}

#[tokio::test]
async fn a_flood_of_tiny_frames_keeps_the_bookkeeping_bounded() {
    let mut limits = config(32, 32, Duration::from_secs(600));
    limits.max_frames_per_session = 10;
    let cache = FrameCache::new(limits);
    let (me, other) = (SessionKey::random(), SessionKey::random());
    let theirs = cache
        .put(other, frame_of_mib(1, 9), Placement::Memory)
        .await
        .expect("theirs");
    let mut mine = Vec::new();
    for seed in 0..100 {
        let tiny = polars::prelude::df!("x" => [seed as f64]).expect("frame");
        mine.push(cache.put(me, tiny, Placement::Memory).await.expect("stored"));
    }
    assert_eq!(cache.list(me).len(), 10, "the session holds its cap");
    assert!(cache.get(me, &mine[99]).await.is_ok(), "the newest stay");
    assert_eq!(
        cache.get(me, &mine[0]).await,
        Err(CacheError::Unknown),
        "the oldest went"
    );
    assert!(
        cache.get(other, &theirs).await.is_ok(),
        "other sessions are untouched"
    );
    assert!(cache.render_metrics().contains("frame_cap"));
}

/// A cache with two recipes that wait for `gate`: `to_end` marked as running to its end,
/// `stops` not.
fn gated(gate: &Arc<tokio::sync::Notify>) -> FrameCache {
    let recipe = |gate: Arc<tokio::sync::Notify>| {
        move |args: Mib| {
            let gate = Arc::clone(&gate);
            async move {
                gate.notified().await;
                Ok::<_, String>(frame_of_mib(args.mib, 1))
            }
        }
    };
    FrameCache::builder(config(64, 64, Duration::from_secs(600)))
        .sized_recipe("to_end", |args: &Mib| args.mib * MIB, recipe(Arc::clone(gate)))
        .runs_to_end("to_end")
        .sized_recipe("stops", |args: &Mib| args.mib * MIB, recipe(Arc::clone(gate)))
        .build()
}

#[tokio::test]
async fn work_that_runs_to_its_end_holds_its_reservation_and_slot_until_it_ends() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let cache = gated(&gate);
    let me = SessionKey::random();
    let slot = Arc::new(());
    let eight = mib(8);
    let call = cache.make_memoized_holding(me, "to_end", &eight, Placement::Memory, Arc::clone(&slot));
    // The caller goes away while the work runs.
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    assert_eq!(
        cache.reserved_bytes(),
        8 * MIB,
        "the running work's memory stays reserved"
    );
    assert_eq!(Arc::strong_count(&slot), 2, "and its slot stays taken");
    gate.notify_one();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cache.reserved_bytes() > 0 || Arc::strong_count(&slot) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "given back when the work ends"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A recipe that stops when dropped gives its reservation back at once.
    let call = cache.make_memoized_holding(me, "stops", &eight, Placement::Memory, Arc::clone(&slot));
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    assert_eq!(cache.reserved_bytes(), 0);
    assert_eq!(Arc::strong_count(&slot), 1);
}
