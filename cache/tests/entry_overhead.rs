//! How much memory one entry costs beyond its frame's own bytes: the number behind
//! `ENTRY_OVERHEAD` (cache/src/state.rs). A measurement, not a check: run it with
//! `cargo test --release -p stayput-cache --test entry_overhead -- --ignored --nocapture`.

use polars::prelude::*;
use stayput_cache::{ByteSize, CacheConfig, FrameCache, Lineage, Placement, SessionKey};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[tokio::test]
#[ignore = "a measurement; run by hand in release"]
async fn memory_per_one_row_entry() {
    const N: u64 = 200_000;
    let mut config = CacheConfig::new(ByteSize(64 << 30));
    config.max_frames_per_session = N as usize + 1;
    let cache = FrameCache::new(config);
    let session = SessionKey::random();
    let before = rss_bytes();
    for i in 0..N {
        let frame = Float64Chunked::from_vec("rnd".into(), vec![i as f64])
            .into_series()
            .into_frame();
        let lineage =
            Lineage::new("create_frame", &serde_json::json!({"rows": 1, "seed": i})).expect("lineage");
        cache
            .put_with_lineage(session, frame, Placement::Memory, Some(lineage))
            .await
            .expect("stored");
    }
    let after = rss_bytes();
    let frame_bytes = cache.totals().memory.bytes;
    println!(
        "{N} one-row entries: RSS +{} bytes, frames' own bytes {frame_bytes}: {} bytes per entry beyond its frame",
        after - before,
        (after - before - frame_bytes) / N
    );
}
