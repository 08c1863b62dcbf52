//! The disk tier and the placement rules, against the real disk.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, files_in, frame_of_mib, MIB};
use polars::prelude::df;
use stayput_cache::{
    ByteSize, CacheError, ColdTier, DiskTier, EvictionCause, FrameCache, FrameId, FrameKey, Placement,
    Residence, SessionKey,
};

const MINUTE: Duration = Duration::from_secs(60);

fn disk(dir: &std::path::Path, budget_mib: u64) -> Arc<DiskTier> {
    Arc::new(DiskTier::open(dir, ByteSize(budget_mib * MIB)).expect("cache dir usable"))
}

#[tokio::test]
async fn placement_rules_choose_the_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Quota 4 MiB, auto threshold 4 MiB (see common::config).
    let cache = FrameCache::builder(config(16, 4, MINUTE))
        .cold_tier(disk(dir.path(), 64))
        .build();
    let me = SessionKey::random();
    let small_auto = cache
        .put(me, frame_of_mib(1, 0), Placement::Auto)
        .await
        .expect("stored");
    let large_auto = cache
        .put(me, frame_of_mib(5, 1), Placement::Auto)
        .await
        .expect("stored");
    let on_disk = cache
        .put(me, frame_of_mib(1, 2), Placement::Disk)
        .await
        .expect("stored");
    let in_memory = cache
        .put(me, frame_of_mib(1, 3), Placement::Memory)
        .await
        .expect("stored");
    let where_is = |id: &FrameId| {
        cache
            .list(me)
            .into_iter()
            .find(|e| &e.id == id)
            .map(|e| e.residence)
            .expect("listed")
    };
    assert_eq!(where_is(&small_auto.id), Residence::Memory);
    assert_eq!(where_is(&large_auto.id), Residence::Disk, "above the threshold");
    assert_eq!(where_is(&on_disk.id), Residence::Disk);
    assert_eq!(where_is(&in_memory.id), Residence::Memory);
    assert_eq!(files_in(dir.path()).len(), 2);
    // A memory-only frame over the quota is refused, an Auto one goes to disk.
    let err = cache
        .put(me, frame_of_mib(5, 4), Placement::Memory)
        .await
        .expect_err("too large");
    assert!(matches!(err, CacheError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn disk_placement_without_a_disk_tier_is_an_error() {
    let cache = FrameCache::new(config(16, 16, MINUTE));
    let err = cache
        .put(SessionKey::random(), frame_of_mib(1, 0), Placement::Disk)
        .await;
    assert_eq!(err, Err(CacheError::NoDisk));
}

#[tokio::test]
async fn memory_pressure_spills_auto_frames_to_disk_and_they_read_back_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = FrameCache::builder(config(2, 2, MINUTE))
        .cold_tier(disk(dir.path(), 64))
        .build();
    let me = SessionKey::random();
    let original = frame_of_mib(1, 7);
    let first = cache
        .put(me, original.clone(), Placement::Auto)
        .await
        .expect("stored");
    let _second = cache
        .put(me, frame_of_mib(1, 8), Placement::Auto)
        .await
        .expect("stored");
    let _third = cache
        .put(me, frame_of_mib(1, 9), Placement::Auto)
        .await
        .expect("stored");
    let info = cache
        .list(me)
        .into_iter()
        .find(|e| e.id == first.id)
        .expect("listed");
    assert_eq!(info.residence, Residence::Disk, "spilled, not dropped");
    assert_eq!(cache.counters().spills(), 1);
    let back = cache.get(me, &first).await.expect("read back");
    assert!(
        back.equals(&original),
        "identical after the round trip through disk"
    );
    assert_eq!(cache.totals().memory.bytes, 2 * MIB);
    // The file's mapping is kept: every read gets the same frame, so what is kept of it
    // between reads (a figure's min/max pyramid) stays valid.
    drop(back);
    let (a, b) = (
        cache.get(me, &first).await.expect("read"),
        cache.get(me, &first).await.expect("read"),
    );
    assert!(Arc::ptr_eq(&a, &b), "one frame for every read of a spilled frame");
    assert_eq!(
        cache.totals().memory.bytes,
        2 * MIB,
        "mapped, not counted in memory"
    );
}

#[tokio::test]
async fn the_disk_budget_evicts_least_recently_used_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = disk(dir.path(), 3);
    let cache = FrameCache::builder(config(16, 16, MINUTE))
        .cold_tier(tier.clone())
        .build();
    let me = SessionKey::random();
    let mut handles = Vec::new();
    for seed in 0..3 {
        handles.push(
            cache
                .put(me, frame_of_mib(1, seed), Placement::Disk)
                .await
                .expect("stored"),
        );
    }
    // The IPC framing adds a little to each file, so three 1 MiB frames overflow 3 MiB.
    cache.get(me, &handles[2]).await.expect("read");
    let usage = tier.usage();
    assert!(usage.bytes <= 3 * MIB, "{usage:?}");
    assert_eq!(
        cache.get(me, &handles[0]).await,
        Err(CacheError::Expired),
        "oldest file went"
    );
    assert!(cache.get(me, &handles[2]).await.is_ok());
    assert!(cache.counters().evictions(EvictionCause::ColdBudget) >= 1);
    assert_eq!(files_in(dir.path()).len() as u64, usage.entries);
}

#[tokio::test(start_paused = true)]
async fn expiry_and_session_end_clean_both_tiers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = FrameCache::builder(config(16, 16, Duration::from_secs(10)))
        .cold_tier(disk(dir.path(), 64))
        .build();
    let (idle, ending) = (SessionKey::random(), SessionKey::random());
    let idle_disk = cache
        .put(idle, frame_of_mib(1, 0), Placement::Disk)
        .await
        .expect("stored");
    let _idle_mem = cache
        .put(idle, frame_of_mib(1, 1), Placement::Memory)
        .await
        .expect("stored");
    let _ending_disk = cache
        .put(ending, frame_of_mib(1, 2), Placement::Disk)
        .await
        .expect("stored");
    assert_eq!(files_in(dir.path()).len(), 2);

    assert_eq!(cache.remove_session(ending).await, 1);
    assert_eq!(files_in(dir.path()).len(), 1, "the ended session's file is gone");

    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(cache.purge().await, (2, 0));
    assert!(files_in(dir.path()).is_empty(), "the idle file is gone");
    assert_eq!(cache.totals().memory.bytes, 0);
    assert_eq!(cache.get(idle, &idle_disk).await, Err(CacheError::Expired));
}

#[test]
fn an_unwritable_cache_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A regular file where a directory should be: fails even for root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").expect("write");
    let wanted = blocker.join("cache");
    let err = DiskTier::open(&wanted, ByteSize(MIB)).err().expect("refused");
    let line = err.to_string();
    assert_eq!(
        line,
        format!(
            "cannot use cache directory {}: Not a directory (set STAYPUT_CACHE_DIR to a writable directory)",
            wanted.display()
        )
    );
    assert!(!line.contains('\n'));
}

#[tokio::test]
async fn opening_removes_the_files_of_an_earlier_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let cache = FrameCache::builder(config(16, 16, MINUTE))
            .cold_tier(disk(dir.path(), 64))
            .build();
        cache
            .put(SessionKey::random(), frame_of_mib(1, 0), Placement::Disk)
            .await
            .expect("stored");
        let half = format!("{}-{}.arrow.tmp", "0".repeat(32), "1".repeat(32));
        std::fs::write(dir.path().join("frames").join(half), b"half").expect("write");
    }
    assert_eq!(files_in(dir.path()).len(), 2);
    let _reopened = disk(dir.path(), 64);
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn a_frame_of_many_record_batches_reads_back_identical() {
    // Written in ~1 MiB record batches: 5 MB over three columns of two types, with a
    // row count that leaves a short last batch.
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = FrameCache::builder(config(64, 64, MINUTE))
        .cold_tier(disk(dir.path(), 64))
        .build();
    let me = SessionKey::random();
    let rows = 250_003_usize;
    let ints: Vec<i64> = (0..rows as i64).map(|i| i * 7 - 3).collect();
    let floats: Vec<f64> = (0..rows).map(|i| (i as f64).sqrt()).collect();
    let halves: Vec<f64> = (0..rows).map(|i| i as f64 / 2.0).collect();
    let original = polars::prelude::DataFrame::new(
        rows,
        vec![
            polars::prelude::Column::new("i".into(), ints),
            polars::prelude::Column::new("f".into(), floats),
            polars::prelude::Column::new("h".into(), halves),
        ],
    )
    .expect("frame");
    let handle = cache
        .put(me, original.clone(), Placement::Disk)
        .await
        .expect("stored");
    let back = cache.get(me, &handle).await.expect("read back");
    assert!(back.first_col_n_chunks() > 1, "read back as several batches");
    assert!(
        back.equals(&original),
        "identical after the round trip through disk"
    );
    assert_eq!(back.height(), rows);
}

/// A frame whose data polars maps from its file (numbers, booleans, strings, dates,
/// times, durations, nulls) keeps its mapping: every read gets the same frame, so what
/// was kept of it (a line's pyramid) stays valid. A frame polars copies in part into the
/// heap as it reads (a categorical's dictionary), or whose buffers the tier does not walk
/// (a list), is read afresh each time.
#[tokio::test]
async fn frames_whose_data_is_all_mapped_keep_their_mapping() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = disk(dir.path(), 64);
    let key = |n: u128| FrameKey {
        session: SessionKey::random(),
        id: uuid::Uuid::from_u128(n),
    };
    let rows = 200_000;
    let words: Vec<Option<String>> = (0..rows)
        .map(|i| (i % 7 != 0).then(|| format!("a city with a long name, number {}", i % 1_000)))
        .collect();
    let when = Series::new(
        "when".into(),
        (0..rows)
            .map(|i| (i % 5 != 0).then_some(i as i64 * 86_400_000))
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
    .expect("datetime");
    let ints = |name: &str| {
        Series::new(
            name.into(),
            (0..rows).map(|i| i as i64 * 1_000).collect::<Vec<_>>(),
        )
    };
    let when_utc = ints("utc")
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)))
        .expect("datetime in UTC");
    let took = ints("took")
        .cast(&DataType::Duration(TimeUnit::Milliseconds))
        .expect("duration");
    let at = (ints("at") * 1_000).cast(&DataType::Time).expect("time");
    let mixed = df!(
        "x" => (0..rows).map(|i| i as f64 * 0.5).collect::<Vec<_>>(),
        "n" => (0..rows).map(|i| (i % 5 != 0).then_some(i as i64)).collect::<Vec<_>>(),
        "ok" => (0..rows).map(|i| i % 3 == 0).collect::<Vec<_>>(),
        "short" => (0..rows).map(|i| format!("{}", i % 10)).collect::<Vec<_>>(),
        "s" => words,
        "when" => when,
        "utc" => when_utc,
        "took" => took,
        "at" => at,
    )
    .expect("frame");
    let k = key(1);
    let (a, b) = stored_and_read_twice(&tier, k, &mixed).await;
    assert!(Arc::ptr_eq(&a, &b), "one mapping, kept");
    assert!(a.equals_missing(&mixed));

    let categories = Series::new(
        "c".into(),
        (0..rows).map(|i| format!("c{}", i % 50)).collect::<Vec<_>>(),
    )
    .cast(&DataType::from_categories(Categories::global()))
    .expect("categorical")
    .into_frame();
    let k = key(2);
    let (a, b) = stored_and_read_twice(&tier, k, &categories).await;
    assert!(!Arc::ptr_eq(&a, &b), "read afresh");
    assert!(a.equals(&categories) && b.equals(&categories));

    // Lists: polars maps them, but their buffers are not walked, so not kept.
    let lists = Series::new("l".into(), (0..rows).map(|i| i as i64).collect::<Vec<_>>())
        .implode()
        .expect("list")
        .into_series()
        .into_frame();
    let k = key(3);
    let (a, b) = stored_and_read_twice(&tier, k, &lists).await;
    assert!(!Arc::ptr_eq(&a, &b), "read afresh");
    assert!(a.equals(&lists) && b.equals(&lists));
}

/// The disk budget is shared as memory is: the heaviest session on disk pays first. A
/// session writing frame after frame evicts its own, and a light session's files,
/// though least recently used, stay.
#[tokio::test]
async fn the_heaviest_session_on_disk_pays_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = disk(dir.path(), 12);
    let (light, heavy) = (SessionKey::random(), SessionKey::random());
    let key = |session: SessionKey, n: u128| FrameKey {
        session,
        id: uuid::Uuid::from_u128(n),
    };
    for n in 0..2 {
        tier.store(key(light, n), Arc::new(frame_of_mib(1, n as u64)))
            .await
            .expect("store");
    }
    for n in 10..16 {
        tier.store(key(heavy, n), Arc::new(frame_of_mib(3, n as u64)))
            .await
            .expect("store");
    }
    for n in 0..2 {
        assert!(
            tier.load(key(light, n)).await.expect("load").is_some(),
            "the light session's frame {n} stays"
        );
    }
    assert_eq!(
        held_of(&tier, heavy, 10..16).await,
        [13, 14, 15],
        "the heavy session evicted its own, oldest first"
    );

    // The light session writes a frame the heavy one is heavier than: the heavy one
    // pays first. Once the light one is the heavier, it pays.
    tier.store(key(light, 20), Arc::new(frame_of_mib(4, 20)))
        .await
        .expect("store");
    assert_eq!(held_of(&tier, heavy, 10..16).await, [14, 15]);
    for n in 21..23 {
        tier.store(key(light, n), Arc::new(frame_of_mib(4, n as u64)))
            .await
            .expect("store");
    }
    assert_eq!(
        held_of(&tier, heavy, 10..16).await,
        [14, 15],
        "the other session's files stay while this one is the heavier"
    );
    assert_eq!(held_of(&tier, light, 0..23).await, [22]);
}

/// Which of `session`'s frames `ids` the tier still holds.
async fn held_of(tier: &Arc<DiskTier>, session: SessionKey, ids: std::ops::Range<u128>) -> Vec<u128> {
    let mut held = Vec::new();
    for n in ids {
        let k = FrameKey {
            session,
            id: uuid::Uuid::from_u128(n),
        };
        if tier.load(k).await.expect("load").is_some() {
            held.push(n);
        }
    }
    held
}

/// `frame` stored under `k`, then read back twice.
async fn stored_and_read_twice(
    tier: &Arc<DiskTier>,
    k: FrameKey,
    frame: &polars::prelude::DataFrame,
) -> (Arc<polars::prelude::DataFrame>, Arc<polars::prelude::DataFrame>) {
    tier.store(k, Arc::new(frame.clone())).await.expect("store");
    (
        tier.load(k).await.expect("load").expect("held"),
        tier.load(k).await.expect("load").expect("held"),
    )
}
