//! `/explore`'s uniform randoms larger than memory: made on disk, drawn and zoomed from
//! the mapped file through the pyramid built while it was written, pixel for pixel the
//! figures a plain scan of the same rows draws. Its own test binary: the pyramids made
//! with their frames wait in a process-wide list.
#![cfg(feature = "ssr")]

use std::sync::Arc;
use std::time::Duration;

use app::contract::figure::ChartKind;
use app::server::ops::{explore_figure, explore_make, figure_spec};
use app::server::recipes::with_recipes;
use stayput_cache::{ByteSize, CacheConfig, DiskTier, FrameCache, Placement, Residence, SessionKey};
use stayput_figures::PyramidStore;

/// Removes its directory when dropped, the test failed or not.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

#[tokio::test]
async fn a_frame_larger_than_memory_is_made_on_disk_and_drawn_from_its_pyramid() {
    let dir = Scratch(std::env::temp_dir().join(format!(
        "stayput-on-disk-{}",
        app::server::bench_frame::new_seed()
    )));
    // 16 MiB of memory: a frame of 2 million rows (16 MB) and more is made on disk.
    let mut config = CacheConfig::new(ByteSize(16 << 20));
    config.session_quota = ByteSize(8 << 20);
    config.idle_timeout = Duration::from_secs(60);
    let disk = DiskTier::open(&dir.0, ByteSize(256 << 20)).expect("a cache directory");
    let cache = with_recipes(FrameCache::builder(config))
        .cold_tier(Arc::new(disk))
        .build();
    let pyramids = Arc::new(PyramidStore::new(64 << 20));
    let me = SessionKey::random();
    let rows = 12_345_678;

    let made = explore_make(
        (&cache, &pyramids),
        me,
        "uniform",
        rows,
        None,
        ChartKind::Line,
        800,
    )
    .await
    .expect("made on disk");
    assert_eq!(made.handle.rows, rows);
    let info = cache.entry(me, &made.handle.id).expect("listed");
    assert_eq!(
        (info.placement, info.residence),
        (Placement::Disk, Residence::Disk)
    );
    assert_eq!(cache.totals().memory.bytes, 0, "nothing of it in memory");
    assert_eq!(pyramids.len(), 1, "the pyramid made with the frame, handed over");

    // Each figure is the one a plain scan of the mapped rows draws.
    let frame = cache.get(me, &made.handle).await.expect("mapped");
    let spec = |range: (Option<f64>, Option<f64>)| {
        figure_spec("row".into(), "rnd".into(), ChartKind::Line, range.0, range.1, 800)
    };
    let scanned = stayput_figures::figure(&frame, &spec((None, None))).expect("scanned");
    assert_eq!(made.figure, scanned, "the first figure");
    assert_eq!(made.figure.points, 1_600);
    for range in [
        (Some(0.0), Some(123_456.0)),
        (Some(6_000_000.5), Some(6_123_456.0)),
        (Some(12_000_000.0), None),
        (Some(100.0), Some(1_099.0)),
    ] {
        let drawn = explore_figure(&cache, me, &pyramids, &made.handle, spec(range))
            .await
            .expect("a zoom");
        let scanned = stayput_figures::figure(&frame, &spec(range)).expect("scanned");
        assert_eq!(drawn, scanned, "{range:?}");
    }
    assert_eq!(pyramids.len(), 1, "read, never built again");

    // Someone else's session: an unknown handle, not this frame.
    let other = SessionKey::random();
    let foreign = explore_figure(&cache, other, &pyramids, &made.handle, spec((None, None))).await;
    assert!(
        matches!(foreign, Err(app::StayputError::UnknownHandle)),
        "{foreign:?}"
    );

    // Larger than the disk budget: refused, nothing written.
    let too_large = explore_make(
        (&cache, &pyramids),
        me,
        "uniform",
        40_000_000,
        None,
        ChartKind::Line,
        800,
    )
    .await;
    assert!(
        matches!(too_large, Err(app::StayputError::TooLarge { .. })),
        "{too_large:?}"
    );
    assert_eq!(cache.list(me).len(), 1);
}
