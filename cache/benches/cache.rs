//! Criterion benchmarks of the handle cache: memory put/get (a get must not copy),
//! disk tier write/read throughput next to plain `std::fs` on the same disk (the
//! floor), and the latency of rebuilding an evicted frame from its lineage.
//!
//! Run with `cargo bench -p stayput-cache`. Disk files go under cargo's target tmp dir,
//! on the disk the cache would use by default; being just written, they are read back
//! from the OS page cache, as the cache's own reads of recent spills are.

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use polars::prelude::*;
use stayput_cache::{
    ByteSize, CacheConfig, ColdTier, DiskTier, FrameCache, FrameHandle, FrameKey, Placement, SessionKey,
};
use tokio::runtime::Runtime;

const SIZES: [usize; 2] = [1_000_000, 10_000_000];

fn frame(rows: usize) -> DataFrame {
    let values: Vec<f64> = (0..rows).map(|i| (i as f64 * 0.618_034).fract()).collect();
    Float64Chunked::from_vec("v".into(), values)
        .into_series()
        .into_frame()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn label(rows: usize) -> String {
    format!("{rows:.0e}")
}

/// Sum of the only column: reading every value, so a lazily mapped frame pays its reads.
fn checksum(frame: &DataFrame) -> f64 {
    frame
        .column("v")
        .ok()
        .and_then(|c| c.f64().ok().and_then(|ca| ca.sum()))
        .unwrap_or(0.0)
}

fn memory(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("memory");
    for rows in SIZES {
        let source = frame(rows);
        let cache = FrameCache::builder(CacheConfig::new(ByteSize(4 << 30))).build();
        let session = SessionKey::random();
        // put: bookkeeping and size estimate; the frame's buffers are moved, not copied.
        group.bench_function(BenchmarkId::new("put", label(rows)), |b| {
            b.iter_batched(
                || source.clone(),
                |f| {
                    let handle = rt
                        .block_on(cache.put(session, f, Placement::Memory))
                        .expect("put");
                    rt.block_on(cache.remove(session, &handle));
                },
                BatchSize::SmallInput,
            )
        });
        let handle: FrameHandle = rt
            .block_on(cache.put(session, source.clone(), Placement::Memory))
            .expect("put");
        group.bench_function(BenchmarkId::new("get", label(rows)), |b| {
            b.iter(|| black_box(rt.block_on(cache.get(session, &handle)).expect("get")))
        });
    }
    group.finish();
}

fn disk(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir");
    let tier = DiskTier::open(dir.path(), ByteSize(4 << 30)).expect("disk tier");
    let mut group = c.benchmark_group("disk");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    for rows in SIZES {
        let source = Arc::new(frame(rows));
        let bytes = (rows * 8) as u64;
        group.throughput(Throughput::Bytes(bytes));
        let key = FrameKey {
            session: SessionKey::random(),
            id: uuid::Uuid::new_v4(),
        };
        group.bench_function(BenchmarkId::new("tier_write", label(rows)), |b| {
            b.iter(|| rt.block_on(tier.store(key, Arc::clone(&source))).expect("store"))
        });
        group.bench_function(BenchmarkId::new("tier_read", label(rows)), |b| {
            b.iter(|| {
                let back = rt.block_on(tier.load(key)).expect("load").expect("present");
                black_box(checksum(&back))
            })
        });

        // The floor: the same bytes through std::fs, written whole and renamed into place
        // like the tier does, then read back and summed.
        let raw: Vec<u8> = source
            .column("v")
            .ok()
            .and_then(|c| c.f64().ok().cloned())
            .map(|ca| ca.into_no_null_iter().flat_map(f64::to_le_bytes).collect())
            .expect("raw bytes");
        let path = dir.path().join("floor.bin");
        let tmp = dir.path().join("floor.tmp");
        group.bench_function(BenchmarkId::new("fs_write", label(rows)), |b| {
            b.iter(|| {
                let mut file = std::fs::File::create(&tmp).expect("create");
                file.write_all(&raw).expect("write");
                std::fs::rename(&tmp, &path).expect("rename");
            })
        });
        group.bench_function(BenchmarkId::new("fs_read", label(rows)), |b| {
            b.iter(|| {
                let back = std::fs::read(&path).expect("read");
                let sum: f64 = back
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .sum();
                black_box(sum)
            })
        });
        rt.block_on(tier.remove(key)).expect("remove");
    }
    group.finish();
}

/// Reading an evicted frame whose lineage has a recipe: the recipe runs once more.
fn recompute(c: &mut Criterion) {
    let rt = runtime();
    let rows = 1_000_000_usize;
    let mut config = CacheConfig::new(ByteSize((rows * 8) as u64 + 1024));
    config.session_quota = config.memory_budget;
    let cache = FrameCache::builder(config)
        .recipe("frame", |rows: usize| async move { Ok::<_, String>(frame(rows)) })
        .build();
    let session = SessionKey::random();
    let make = || {
        rt.block_on(cache.make(session, "frame", &rows, Placement::Memory))
            .expect("make")
    };
    let (a, b) = (make(), make());
    let mut group = c.benchmark_group("recompute");
    group.sample_size(20);
    // Each read evicts the other frame (the budget holds one), so every read rebuilds.
    group.bench_function(BenchmarkId::new("evicted_get", label(rows)), |bench| {
        let mut turn = false;
        bench.iter(|| {
            turn = !turn;
            let handle = if turn { &a } else { &b };
            black_box(rt.block_on(cache.get(session, handle)).expect("rebuilt"))
        })
    });
    group.bench_function(BenchmarkId::new("recipe_alone", label(rows)), |bench| {
        bench.iter(|| black_box(frame(rows)))
    });
    group.finish();
}

criterion_group!(benches, memory, disk, recompute);
criterion_main!(benches);
