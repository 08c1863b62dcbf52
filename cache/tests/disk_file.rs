//! A recipe that writes its frame's Arrow IPC file straight into the disk tier
//! (`FrameCacheBuilder::disk_file_recipe`): its frames placed on disk are written there
//! by it and read back memory-mapped, never built in memory; the same recipe's frames
//! placed in memory are still built by its in-memory recipe. Against the real disk.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{config, files_in, in_a_frame_file, MIB};
use polars::prelude::*;
use stayput_cache::{
    ByteSize, CacheError, DiskTier, DiskWrite, FrameCache, FrameHandle, Limit, Lineage, Placement, Residence,
    SessionKey,
};

const MINUTE: Duration = Duration::from_secs(60);

#[derive(serde::Serialize, serde::Deserialize)]
struct Table {
    rows: u64,
    seed: u64,
}

/// The table `seed` of `rows` rows: a float, a nullable integer and a text column.
fn table(rows: u64, seed: u64) -> DataFrame {
    let x: Vec<f64> = (0..rows).map(|i| (i + seed) as f64 * 0.25).collect();
    let n: Vec<Option<i64>> = (0..rows)
        .map(|i| (i % 7 != 0).then_some((i * seed) as i64))
        .collect();
    let s: Vec<String> = (0..rows).map(|i| format!("row {}", i % 100)).collect();
    DataFrame::new(
        rows as usize,
        vec![
            Column::new("x".into(), x),
            Column::new("n".into(), n),
            Column::new("s".into(), s),
        ],
    )
    .expect("frame")
}

/// Runs of each path: in memory, and written to disk.
#[derive(Default)]
struct Runs {
    memory: AtomicU64,
    disk: AtomicU64,
}

/// A cache of `memory_mib` in memory and `disk_mib` on disk whose recipe `table` builds
/// its frame in memory, and writes it (batch by batch) straight to disk when placed there.
fn cache(dir: &std::path::Path, memory_mib: u64, disk_mib: u64) -> (FrameCache, Arc<Runs>) {
    let runs = Arc::new(Runs::default());
    let (in_memory, on_disk) = (Arc::clone(&runs), Arc::clone(&runs));
    let tier = Arc::new(DiskTier::open(dir, ByteSize(disk_mib * MIB)).expect("cache dir usable"));
    let cache = FrameCache::builder(config(memory_mib, memory_mib, MINUTE))
        .cold_tier(tier)
        .recipe("table", move |args: Table| {
            in_memory.memory.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, std::io::Error>(table(args.rows, args.seed)) }
        })
        .disk_file_recipe(
            "table",
            |args: &Table| DiskWrite {
                file: args.rows * 40,
                memory: 0,
            },
            move |args: Table, out: &mut dyn std::io::Write| {
                on_disk.disk.fetch_add(1, Ordering::SeqCst);
                let whole = table(args.rows, args.seed);
                let arrow = whole.schema().to_arrow(CompatLevel::newest());
                let fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
                let mut writer = IpcWriter::new(out)
                    .batched(whole.schema(), fields)
                    .map_err(std::io::Error::other)?;
                let mut at = 0;
                while at < whole.height() {
                    let batch = whole.slice(at as i64, 10_000);
                    writer.write_batch(&batch).map_err(std::io::Error::other)?;
                    at += batch.height();
                }
                writer.finish().map_err(std::io::Error::other)
            },
        )
        .build();
    (cache, runs)
}

/// A handle of the table `seed` for `session`, placed as `placement`, built on first read.
async fn put(
    cache: &FrameCache,
    session: SessionKey,
    rows: u64,
    seed: u64,
    placement: Placement,
) -> Result<FrameHandle, CacheError> {
    let lineage = Lineage::new("table", &Table { rows, seed }).expect("lineage");
    cache
        .put_lineage(session, rows, 3, rows * 40, lineage, placement)
        .await
}

#[tokio::test]
async fn placed_on_disk_it_is_written_there_and_read_mapped_never_built_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 1 MiB of memory; the frame is ~8 MiB.
    let (cache, runs) = cache(dir.path(), 1, 64);
    let me = SessionKey::random();
    let rows = 200_000;
    let handle = put(&cache, me, rows, 3, Placement::Disk).await.expect("placed");
    assert_eq!(
        runs.disk.load(Ordering::SeqCst),
        0,
        "not written before it is read"
    );

    let frame = cache.get(me, &handle).await.expect("written and read");
    assert!(frame.equals_missing(&table(rows, 3)));
    assert_eq!(runs.disk.load(Ordering::SeqCst), 1);
    assert_eq!(runs.memory.load(Ordering::SeqCst), 0, "never built in memory");
    let info = cache.entry(me, &handle.id).expect("listed");
    assert_eq!(
        (info.placement, info.residence),
        (Placement::Disk, Residence::Disk)
    );
    assert_eq!(
        cache.session_memory(me),
        0,
        "nothing of it in the session's quota"
    );
    assert_eq!(cache.totals().memory.bytes, 0);
    let x = frame.column("x").expect("x").f64().expect("f64");
    let first = x.downcast_iter().next().expect("a chunk").values().as_ptr() as usize;
    assert!(in_a_frame_file(first), "its values lie in the file's mapping");
    assert_eq!(files_in(dir.path()).len(), 1);

    // Read again: the same file, not written twice.
    let again = cache.get(me, &handle).await.expect("read again");
    assert!(again.equals_missing(&frame));
    assert_eq!(runs.disk.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn placed_in_memory_the_same_recipe_builds_it_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cache, runs) = cache(dir.path(), 64, 64);
    let me = SessionKey::random();
    let handle = put(&cache, me, 10_000, 5, Placement::Memory)
        .await
        .expect("placed");
    let frame = cache.get(me, &handle).await.expect("built");
    assert!(frame.equals_missing(&table(10_000, 5)));
    assert_eq!(runs.memory.load(Ordering::SeqCst), 1);
    assert_eq!(runs.disk.load(Ordering::SeqCst), 0);
    assert_eq!(
        cache.entry(me, &handle.id).expect("listed").residence,
        Residence::Memory
    );
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn evicted_from_disk_it_is_written_again_and_one_over_the_disk_budget_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room on disk for one ~8 MiB frame, not two.
    let (cache, runs) = cache(dir.path(), 1, 12);
    let me = SessionKey::random();
    let first = put(&cache, me, 200_000, 1, Placement::Disk).await.expect("first");
    drop(cache.get(me, &first).await.expect("first read"));
    let second = put(&cache, me, 200_000, 2, Placement::Disk)
        .await
        .expect("second");
    drop(cache.get(me, &second).await.expect("second read"));
    assert_eq!(
        cache.entry(me, &first.id).expect("listed").residence,
        Residence::Gone,
        "its file went to make room"
    );
    let again = cache.get(me, &first).await.expect("written again");
    assert!(again.equals_missing(&table(200_000, 1)));
    assert_eq!(runs.disk.load(Ordering::SeqCst), 3);
    assert_eq!(runs.memory.load(Ordering::SeqCst), 0);

    // Over the disk budget: refused when placed, naming the disk budget.
    let over = put(&cache, me, 1_000_000, 9, Placement::Disk).await;
    match over {
        Err(CacheError::TooLarge { limit, .. }) => assert_eq!(limit, Limit::DiskBudget),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Made on disk at once (a memoized step placed there, say): its shape is what the
    // file read back holds.
    let made = cache
        .make_memoized(me, "table", &Table { rows: 10, seed: 1 }, Placement::Disk)
        .await
        .expect("made on disk");
    assert_eq!((made.rows, made.cols), (10, 3));
    let info = cache.entry(me, &made.id).expect("listed");
    assert_eq!((info.rows, info.cols, info.residence), (10, 3, Residence::Disk));
    assert_eq!(runs.disk.load(Ordering::SeqCst), 4);
    assert_eq!(runs.memory.load(Ordering::SeqCst), 0);
    let same = cache
        .make_memoized(me, "table", &Table { rows: 10, seed: 1 }, Placement::Disk)
        .await
        .expect("memoized");
    assert_eq!(same.id, made.id);
}

#[tokio::test]
async fn placed_on_disk_it_is_refused_at_once_when_its_file_could_never_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cache, runs) = cache(dir.path(), 1, 1);
    let me = SessionKey::random();
    // Its frame (100 KB) fits the 1 MiB disk budget; its file (1,040,000 bytes, and the
    // room a written file is given besides) does not: every read of it would fail.
    let rows = 26_000;
    let lineage = Lineage::new("table", &Table { rows, seed: 1 }).expect("lineage");
    let placed = cache
        .put_lineage(me, rows, 3, 100_000, lineage, Placement::Disk)
        .await;
    match placed {
        Err(CacheError::TooLarge { limit, needed, .. }) => {
            assert_eq!(limit, Limit::DiskBudget);
            assert!(needed.bytes() > MIB, "{needed:?}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(cache.list(me).is_empty(), "nothing listed");
    assert_eq!(runs.disk.load(Ordering::SeqCst), 0);
}

/// Waits (at most ten seconds) until `done` says so.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not done in ten seconds");
}

#[tokio::test]
async fn a_write_to_disk_holds_its_memory_until_it_ends_though_its_request_went_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = Arc::new(DiskTier::open(dir.path(), ByteSize(64 * MIB)).expect("cache dir usable"));
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(std::sync::Mutex::new(gate));
    let cache = FrameCache::builder(config(8, 8, MINUTE))
        .cold_tier(tier)
        .recipe("slow", |args: Table| async move {
            Ok::<_, std::io::Error>(table(args.rows, args.seed))
        })
        .disk_file_recipe(
            "slow",
            |_: &Table| DiskWrite {
                file: MIB,
                memory: 3 * MIB,
            },
            {
                let started = Arc::clone(&started);
                move |args: Table, out: &mut dyn std::io::Write| {
                    started.store(true, Ordering::SeqCst);
                    let gate = gate.lock().map_err(|_| std::io::Error::other("gate"))?;
                    gate.recv().map_err(std::io::Error::other)?;
                    let mut whole = table(args.rows, args.seed);
                    IpcWriter::new(out)
                        .finish(&mut whole)
                        .map_err(std::io::Error::other)
                }
            },
        )
        .build();
    let me = SessionKey::random();
    let request = tokio::spawn({
        let cache = cache.clone();
        async move {
            cache
                .make_memoized(me, "slow", &Table { rows: 10, seed: 1 }, Placement::Disk)
                .await
        }
    });
    until(|| started.load(Ordering::SeqCst)).await;
    assert_eq!(
        cache.reserved_bytes(),
        3 * MIB,
        "its memory reserved while it writes"
    );

    // The request goes away mid-write: the write has not ended, so neither has its
    // reservation.
    request.abort();
    assert!(request.await.is_err(), "aborted");
    assert_eq!(cache.reserved_bytes(), 3 * MIB, "held until the write ends");
    go.send(()).expect("the write waits");
    until(|| cache.reserved_bytes() == 0).await;
    until(|| files_in(dir.path()).is_empty()).await;
    assert!(cache.list(me).is_empty(), "nothing left of it");
}

#[tokio::test]
async fn a_file_that_outgrows_the_disk_budget_stops_there_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = Arc::new(DiskTier::open(dir.path(), ByteSize(MIB)).expect("cache dir usable"));
    // It says its file takes 1 KB; it would write 64 MiB.
    let taken = Arc::new(AtomicU64::new(0));
    let cache = FrameCache::builder(config(8, 8, MINUTE))
        .cold_tier(tier)
        .recipe("understated", |args: Table| async move {
            Ok::<_, std::io::Error>(table(args.rows, args.seed))
        })
        .disk_file_recipe(
            "understated",
            |_: &Table| DiskWrite {
                file: 1_000,
                memory: 0,
            },
            {
                let taken = Arc::clone(&taken);
                move |_: Table, out: &mut dyn std::io::Write| {
                    let block = [0u8; 64 << 10];
                    for _ in 0..1_024 {
                        out.write_all(&block)?;
                        taken.fetch_add(block.len() as u64, Ordering::SeqCst);
                    }
                    Ok(())
                }
            },
        )
        .build();
    let me = SessionKey::random();
    let made = cache
        .make_memoized(me, "understated", &Table { rows: 10, seed: 1 }, Placement::Disk)
        .await;
    match made {
        Err(CacheError::TooLarge { limit, .. }) => assert_eq!(limit, Limit::DiskBudget),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Stopped at the budget (with what its buffer held), not at 64 MiB.
    let taken = taken.load(Ordering::SeqCst);
    assert!(taken <= 3 * MIB, "{taken} bytes taken");
    assert!(files_in(dir.path()).is_empty(), "nothing left on disk");
    assert!(cache.list(me).is_empty(), "nothing listed");
    assert_eq!(cache.totals().cold.expect("disk").1.bytes, 0);
}

#[tokio::test]
async fn a_write_that_fails_with_the_recipes_own_error_says_it_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = Arc::new(DiskTier::open(dir.path(), ByteSize(64 * MIB)).expect("cache dir usable"));
    let cache = FrameCache::builder(config(8, 8, MINUTE))
        .cold_tier(tier)
        .recipe("refuses", |args: Table| async move {
            Ok::<_, std::io::Error>(table(args.rows, args.seed))
        })
        .disk_file_recipe(
            "refuses",
            |_: &Table| DiskWrite {
                file: MIB,
                memory: MIB,
            },
            |_: Table, out: &mut dyn std::io::Write| {
                out.write_all(b"ARROW1")?;
                Err(std::io::Error::other(stayput_cache::RecipeError::new(
                    "column `z` not found",
                )))
            },
        )
        .build();
    let me = SessionKey::random();
    let made = cache
        .make_memoized(me, "refuses", &Table { rows: 10, seed: 1 }, Placement::Disk)
        .await;
    match made {
        Err(CacheError::Recipe(own)) => assert_eq!(own.to_string(), "column `z` not found"),
        other => panic!("expected the recipe's error, got {other:?}"),
    }
    assert!(files_in(dir.path()).is_empty(), "nothing left on disk");
    assert!(cache.list(me).is_empty(), "nothing listed");
    assert_eq!(cache.reserved_bytes(), 0, "its memory given back");
}
