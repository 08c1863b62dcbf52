//! Frames larger than memory: made straight into the disk tier by a disk recipe, read
//! back memory-mapped as one chunk a column, counted on disk only, written again from
//! their lineage when the disk tier lets them go. Against the real disk.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{config, files_in, in_a_frame_file, MIB};
use polars::prelude::*;
use stayput_cache::{
    ByteSize, CacheError, DiskShape, DiskTier, FrameCache, Limit, Placement, Residence, SessionKey, Values,
};

const MINUTE: Duration = Duration::from_secs(60);

/// The seed whose ramp fails half way (its second column).
const FAILS: u64 = 999;

#[derive(serde::Serialize, serde::Deserialize)]
struct Ramp {
    rows: u64,
    seed: u64,
}

/// Value `i` of column `c` of the ramp `seed`.
fn value(seed: u64, c: u64, i: u64) -> f64 {
    (i * 3 + c * 1_000_000 + seed) as f64 * 0.5
}

/// The ramp as a frame, made in memory: what the disk recipe must read back as.
fn expected(rows: u64, seed: u64) -> DataFrame {
    let col = |c: u64, name: &str| {
        Column::new(
            name.into(),
            (0..rows).map(|i| value(seed, c, i)).collect::<Vec<f64>>(),
        )
    };
    DataFrame::new(rows as usize, vec![col(0, "a"), col(1, "b")]).expect("frame")
}

/// A cache of `memory_mib` in memory and `disk_mib` on disk, whose disk recipe `ramp`
/// (two f64 columns, given 1000 values at a time) counts its runs.
fn cache(dir: &std::path::Path, memory_mib: u64, disk_mib: u64) -> (FrameCache, Arc<AtomicU64>) {
    let runs = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&runs);
    let tier = Arc::new(DiskTier::open(dir, ByteSize(disk_mib * MIB)).expect("cache dir usable"));
    let cache = FrameCache::builder(config(memory_mib, memory_mib, MINUTE))
        .cold_tier(tier)
        .disk_recipe(
            "ramp",
            |args: &Ramp| DiskShape {
                columns: vec!["a".into(), "b".into()],
                rows: args.rows,
            },
            move |args: Ramp, values: Values<'_>| {
                counter.fetch_add(1, Ordering::SeqCst);
                for c in 0..2 {
                    if args.seed == FAILS && c == 1 {
                        return Err(std::io::Error::other("the source went away"));
                    }
                    let mut i = 0;
                    while i < args.rows {
                        let end = (i + 1000).min(args.rows);
                        let chunk: Vec<f64> = (i..end).map(|i| value(args.seed, c, i)).collect();
                        values(&chunk)?;
                        i = end;
                    }
                }
                Ok::<(), std::io::Error>(())
            },
        )
        .build();
    (cache, runs)
}

/// The ramp of `rows` rows and `seed`, made on disk for `session`.
async fn make(
    cache: &FrameCache,
    session: SessionKey,
    rows: u64,
    seed: u64,
) -> Result<stayput_cache::FrameHandle, CacheError> {
    cache.make_on_disk(session, "ramp", &Ramp { rows, seed }).await
}

#[tokio::test]
async fn a_frame_larger_than_memory_is_made_on_disk_and_read_mapped() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 1 MiB of memory; the frame is 2 × 8 × 300,000 bytes = 4.6 MiB.
    let (cache, runs) = cache(dir.path(), 1, 64);
    let me = SessionKey::random();
    let rows = 300_000;
    let handle = make(&cache, me, rows, 7).await.expect("made on disk");
    assert_eq!((handle.rows, handle.cols), (rows, 2));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let info = cache.entry(me, &handle.id).expect("listed");
    assert_eq!(info.residence, Residence::Disk);
    assert_eq!(info.placement, Placement::Disk);
    let totals = cache.totals();
    assert_eq!(totals.memory.bytes, 0, "nothing of it counted in memory");
    assert!(totals.cold.expect("disk").1.bytes >= rows * 16, "counted on disk");
    assert_eq!(cache.session_memory(me), 0, "nor in the session's quota");

    let frame = cache.get(me, &handle).await.expect("read");
    assert!(frame.equals(&expected(rows, 7)), "the values the recipe gave");
    for column in frame.columns() {
        assert_eq!(column.n_chunks(), 1, "one contiguous chunk");
        let values = column.f64().expect("f64").cont_slice().expect("contiguous");
        assert!(
            in_a_frame_file(values.as_ptr() as usize),
            "mapped from its file, not copied"
        );
    }
    let again = cache.get(me, &handle).await.expect("read again");
    assert!(Arc::ptr_eq(&frame, &again), "every read gets the same mapping");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "read, not made again");

    // Someone else's session reads it as an unknown handle.
    let other = SessionKey::random();
    assert!(matches!(
        cache.get(other, &handle).await,
        Err(CacheError::Unknown)
    ));
}

#[tokio::test]
async fn a_frame_over_the_disk_budget_is_refused_before_it_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cache, runs) = cache(dir.path(), 1, 4);
    let me = SessionKey::random();
    let refused = make(&cache, me, 300_000, 1).await;
    assert!(
        matches!(
            refused,
            Err(CacheError::TooLarge {
                limit: Limit::DiskBudget,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0, "nothing was written");
    assert!(cache.list(me).is_empty());
    assert!(files_in(dir.path()).is_empty());

    // Not a disk recipe, or no disk tier: said so.
    let unknown = cache
        .make_on_disk(me, "nothing", &Ramp { rows: 1, seed: 1 })
        .await;
    assert!(matches!(unknown, Err(CacheError::NoRecipe(_))), "{unknown:?}");
    let memory_only = FrameCache::builder(config(1, 1, MINUTE)).build();
    let no_disk = memory_only
        .make_on_disk(me, "ramp", &Ramp { rows: 1, seed: 1 })
        .await;
    assert!(matches!(no_disk, Err(CacheError::NoDisk)), "{no_disk:?}");
}

#[tokio::test]
async fn evicted_from_disk_it_is_written_again_from_its_lineage() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room on disk for one 4.6 MiB frame, not two.
    let (cache, runs) = cache(dir.path(), 1, 8);
    let me = SessionKey::random();
    let first = make(&cache, me, 300_000, 1).await.expect("first");
    let mapped = cache.get(me, &first).await.expect("read");
    let second = make(&cache, me, 300_000, 2).await.expect("second");
    assert_eq!(
        cache.entry(me, &first.id).expect("listed").residence,
        Residence::Gone
    );
    assert_eq!(files_in(dir.path()).len(), 1, "the first file went");
    // A reader that held the first frame still reads it: its mapping outlives the file.
    assert!(mapped.equals(&expected(300_000, 1)));
    drop(mapped);

    let rebuilt = cache.get(me, &first).await.expect("written again");
    assert!(rebuilt.equals(&expected(300_000, 1)));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(cache.counters().recomputes(), 1);
    assert_eq!(
        cache.entry(me, &second.id).expect("listed").residence,
        Residence::Gone
    );

    // Removed, its file goes.
    assert!(cache.remove(me, &first.id).await);
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn what_a_failed_write_evicted_reads_as_gone_and_nothing_of_it_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room on disk for one 4.6 MiB frame, not two.
    let (cache, _) = cache(dir.path(), 1, 8);
    let me = SessionKey::random();
    let first = make(&cache, me, 300_000, 1).await.expect("first");
    let failed = make(&cache, me, 300_000, FAILS).await;
    assert!(matches!(failed, Err(CacheError::Storage { .. })), "{failed:?}");
    assert_eq!(cache.list(me).len(), 1, "the failed frame has no entry");
    assert_eq!(
        cache.entry(me, &first.id).expect("listed").residence,
        Residence::Gone,
        "its file went to make room: not listed as on disk"
    );
    assert!(files_in(dir.path()).is_empty(), "no file, no temp file");
    let rebuilt = cache.get(me, &first).await.expect("written again");
    assert!(rebuilt.equals(&expected(300_000, 1)));
}
