//! A benchmark run that replaces the page's frame reuses the old frame's memory, and
//! the old frame can still be rebuilt. Its own test binary: the spare-buffer pool is
//! process-wide, and no other test may take the buffer this one watches.
#![cfg(feature = "ssr")]

use std::time::Duration;

use app::server::ops::{create_frame, frame_mean};
use app::server::recipes::with_recipes;
use stayput_cache::{ByteSize, CacheConfig, FrameCache, FrameHandle, SessionKey};

/// Address of the first value of the frame behind `handle`.
async fn address(cache: &FrameCache, session: SessionKey, handle: &FrameHandle) -> usize {
    let frame = cache.get(session, handle).await.expect("present");
    let column = frame.column(app::server::bench_frame::COLUMN).expect("rnd");
    column
        .f64()
        .expect("f64")
        .cont_slice()
        .expect("one chunk")
        .as_ptr() as usize
}

#[tokio::test]
async fn a_replacing_run_fills_the_old_frames_memory_and_the_old_frame_survives_as_lineage() {
    let mut config = CacheConfig::new(ByteSize(1 << 30));
    config.idle_timeout = Duration::from_secs(60);
    let cache = with_recipes(FrameCache::builder(config)).build();
    let me = SessionKey::random();
    let rows = 3_000_000;

    let first = create_frame(&cache, me, rows, None).await.expect("create");
    let first_mean = frame_mean(&cache, me, &first).await.expect("mean");
    let first_at = address(&cache, me, &first).await;

    // A stranger naming my frame as theirs to replace changes nothing.
    let stranger = SessionKey::random();
    create_frame(&cache, stranger, 10, Some(&first))
        .await
        .expect("create");
    assert_eq!(address(&cache, me, &first).await, first_at, "still in memory");

    let second = create_frame(&cache, me, rows, Some(&first))
        .await
        .expect("create");
    assert_eq!(
        address(&cache, me, &second).await,
        first_at,
        "the new frame is filled into the released frame's buffer"
    );
    assert_eq!(
        cache.totals().memory.bytes,
        rows * 8 + 80,
        "one 3e6 frame and the stranger's"
    );
    assert_eq!(cache.counters().recomputes(), 0);

    let again = frame_mean(&cache, me, &first)
        .await
        .expect("rebuilt from its lineage");
    assert_eq!(again, first_mean, "same seed, same numbers");
    assert_eq!(cache.counters().recomputes(), 1);
}
