//! The memory tier against real frames and tokio's paused clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, frame_of_mib, MIB};
use stayput_cache::{CacheError, EvictionCause, FrameCache, FrameHandle, Placement, Residence, SessionKey};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn get_returns_the_stored_frame_without_copying() {
    let cache = FrameCache::new(config(64, 64, MINUTE));
    let me = SessionKey::random();
    let handle = cache
        .put(me, frame_of_mib(1, 0), Placement::Memory)
        .await
        .expect("fits");
    assert_eq!((handle.rows, handle.cols, handle.bytes), (MIB / 8, 1, MIB));
    let first = cache.get(me, &handle).await.expect("present");
    let second = cache.get(me, &handle).await.expect("present");
    assert!(
        Arc::ptr_eq(&first, &second),
        "a read must hand out the same frame"
    );
    let totals = cache.totals();
    assert_eq!((totals.memory.entries, totals.memory.bytes), (1, MIB));
    assert_eq!(cache.list(me)[0].hits, 2);
}

#[tokio::test]
async fn the_budget_evicts_least_recently_used_first() {
    let cache = FrameCache::new(config(3, 3, MINUTE));
    let me = SessionKey::random();
    let mut handles = Vec::new();
    for seed in 0..3 {
        handles.push(
            cache
                .put(me, frame_of_mib(1, seed), Placement::Memory)
                .await
                .expect("fits"),
        );
    }
    // Touch the first so that the second is now the least recently used.
    cache.get(me, &handles[0]).await.expect("present");
    let fourth = cache
        .put(me, frame_of_mib(1, 3), Placement::Memory)
        .await
        .expect("fits");

    assert_eq!(
        cache.get(me, &handles[1]).await,
        Err(CacheError::Expired),
        "LRU went"
    );
    for kept in [&handles[0], &handles[2], &fourth] {
        assert!(cache.get(me, kept).await.is_ok(), "{} kept", kept.short_id());
    }
    assert!(cache.totals().memory.bytes <= 3 * MIB);
    assert_eq!(cache.counters().evictions(EvictionCause::Quota), 1);
}

#[tokio::test]
async fn a_frame_larger_than_the_quota_is_refused() {
    let cache = FrameCache::new(config(8, 2, MINUTE));
    let err = cache
        .put(SessionKey::random(), frame_of_mib(3, 0), Placement::Memory)
        .await
        .expect_err("too large");
    assert!(err.to_string().contains("the session quota is 2.0 MiB"), "{err}");
    assert_eq!(cache.totals().memory.entries, 0);
    assert_eq!(cache.totals().gone, 0, "a refused put leaves nothing behind");
}

#[tokio::test]
async fn a_session_over_its_quota_evicts_its_own_frames_first() {
    let cache = FrameCache::new(config(8, 3, MINUTE));
    let (heavy, light) = (SessionKey::random(), SessionKey::random());
    let light_frame = cache
        .put(light, frame_of_mib(2, 0), Placement::Memory)
        .await
        .expect("fits");
    let mut heavy_frames = Vec::new();
    for seed in 0..6 {
        heavy_frames.push(
            cache
                .put(heavy, frame_of_mib(1, seed), Placement::Memory)
                .await
                .expect("fits"),
        );
    }
    assert!(
        cache.get(light, &light_frame).await.is_ok(),
        "the light session keeps its frame"
    );
    assert_eq!(cache.session_memory(heavy), 3 * MIB);
    for old in &heavy_frames[..3] {
        assert_eq!(cache.get(heavy, old).await, Err(CacheError::Expired));
    }
    assert_eq!(cache.counters().evictions(EvictionCause::Quota), 3);
    assert_eq!(cache.counters().evictions(EvictionCause::Budget), 0);
}

#[tokio::test]
async fn over_the_budget_the_heaviest_session_pays_not_the_fair_one() {
    // Budget 6 MiB, quota 4 MiB: three sessions, fair share 2 MiB each.
    let cache = FrameCache::new(config(6, 4, MINUTE));
    let (a, b, c) = (SessionKey::random(), SessionKey::random(), SessionKey::random());
    let a1 = cache
        .put(a, frame_of_mib(1, 1), Placement::Memory)
        .await
        .expect("fits");
    let b1 = cache
        .put(b, frame_of_mib(1, 2), Placement::Memory)
        .await
        .expect("fits");
    let mut c_frames = Vec::new();
    for seed in 0..4 {
        c_frames.push(
            cache
                .put(c, frame_of_mib(1, seed), Placement::Memory)
                .await
                .expect("fits"),
        );
    }
    // The cache is full (6 MiB). `a` and `b` are the least recently used overall, but
    // they are under their fair share: `c` pays for its own growth.
    let b2 = cache
        .put(b, frame_of_mib(1, 3), Placement::Memory)
        .await
        .expect("fits");
    assert!(cache.get(a, &a1).await.is_ok());
    assert!(cache.get(b, &b1).await.is_ok());
    assert!(cache.get(b, &b2).await.is_ok());
    assert_eq!(cache.get(c, &c_frames[0]).await, Err(CacheError::Expired));
    assert_eq!(cache.session_memory(c), 3 * MIB);
    assert_eq!(cache.totals().memory.bytes, 6 * MIB);
    assert_eq!(cache.counters().evictions(EvictionCause::Budget), 1);
}

#[tokio::test(start_paused = true)]
async fn idle_entries_expire_and_reads_keep_them_alive() {
    let cache = FrameCache::new(config(64, 64, Duration::from_secs(10)));
    let me = SessionKey::random();
    let busy = cache
        .put(me, frame_of_mib(1, 0), Placement::Memory)
        .await
        .expect("fits");
    let idle = cache
        .put(me, frame_of_mib(1, 1), Placement::Memory)
        .await
        .expect("fits");
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(6)).await;
        cache.get(me, &busy).await.expect("kept alive by reads");
    }
    assert_eq!(cache.purge().await, (1, 0));
    assert_eq!(
        cache.get(me, &idle).await,
        Err(CacheError::Expired),
        "idle 18 s > 10 s"
    );
    assert!(cache.get(me, &busy).await.is_ok());
    assert_eq!(
        cache
            .list(me)
            .iter()
            .filter(|e| e.residence == Residence::Gone)
            .count(),
        1
    );
    assert_eq!(cache.totals().memory.bytes, MIB);
}

#[tokio::test(start_paused = true)]
async fn the_purger_expires_entries_and_forgets_idle_sessions() {
    let cache = FrameCache::new(config(64, 64, Duration::from_secs(1)));
    let me = SessionKey::random();
    let handle = cache
        .put(me, frame_of_mib(1, 0), Placement::Memory)
        .await
        .expect("fits");
    let guard = cache.spawn_purger();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cache.totals().memory.entries, 0, "expired by the purger");
    assert_eq!(cache.get(me, &handle).await, Err(CacheError::Expired));
    // The read above touched the session; left alone past the session timeout (10 s)
    // it is forgotten with its entries: now the handle is simply unknown.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(cache.totals().sessions, 0);
    assert_eq!(cache.get(me, &handle).await, Err(CacheError::Unknown));
    drop(guard);
}

#[tokio::test]
async fn foreign_made_up_and_malformed_handles_are_all_unknown() {
    let cache = FrameCache::new(config(64, 64, MINUTE));
    let owner = SessionKey::random();
    let handle = cache
        .put(owner, frame_of_mib(1, 0), Placement::Memory)
        .await
        .expect("fits");
    let stranger = SessionKey::random();
    let made_up = FrameHandle {
        id: uuid_like().into(),
        ..handle.clone()
    };
    let malformed = FrameHandle {
        id: "../../etc/passwd".into(),
        ..handle.clone()
    };
    for (who, h) in [(stranger, &handle), (owner, &made_up), (owner, &malformed)] {
        assert_eq!(cache.get(who, h).await, Err(CacheError::Unknown));
    }
    assert!(
        !cache.remove(stranger, &handle).await,
        "a stranger cannot drop it either"
    );
    assert!(cache.list(stranger).is_empty());
    assert!(cache.get(owner, &handle).await.is_ok());
}

fn uuid_like() -> String {
    "6f1c2a0e-8d3b-4c55-9a7e-1b2c3d4e5f60".to_owned()
}

#[tokio::test]
async fn removing_a_session_drops_only_its_frames() {
    let cache = FrameCache::new(config(64, 64, MINUTE));
    let (gone, kept) = (SessionKey::random(), SessionKey::random());
    let g = cache
        .put(gone, frame_of_mib(1, 0), Placement::Memory)
        .await
        .expect("fits");
    let _ = cache
        .put(gone, frame_of_mib(1, 1), Placement::Memory)
        .await
        .expect("fits");
    let k = cache
        .put(kept, frame_of_mib(1, 2), Placement::Memory)
        .await
        .expect("fits");
    assert_eq!(cache.remove_session(gone).await, 2);
    assert_eq!(cache.get(gone, &g).await, Err(CacheError::Unknown));
    assert!(cache.get(kept, &k).await.is_ok());
    assert_eq!(cache.totals().memory.bytes, MIB);
    assert_eq!(cache.counters().evictions(EvictionCause::SessionEnd), 2);
}

#[tokio::test]
async fn dropping_one_handle_frees_its_memory() {
    let cache = FrameCache::new(config(64, 64, MINUTE));
    let me = SessionKey::random();
    let h = cache
        .put(me, frame_of_mib(2, 0), Placement::Memory)
        .await
        .expect("fits");
    assert!(cache.remove(me, &h).await);
    assert!(!cache.remove(me, &h).await);
    assert_eq!(cache.get(me, &h).await, Err(CacheError::Unknown));
    assert_eq!(cache.totals().memory.bytes, 0);
    assert_eq!(cache.session_memory(me), 0);
}

#[tokio::test]
async fn evicted_frames_no_reader_holds_go_to_the_recycler() {
    let (sent, received) = std::sync::mpsc::channel::<f64>();
    let sent = std::sync::Mutex::new(sent);
    let cache = FrameCache::builder(config(2, 2, MINUTE))
        .recycle(move |frame| {
            let first = frame.column("x").ok().and_then(|c| c.f64().ok()?.get(1));
            let _ = sent.lock().map(|s| s.send(first.unwrap_or(f64::NAN)));
        })
        .build();
    let me = SessionKey::random();
    let held = cache
        .put(me, frame_of_mib(1, 10), Placement::Memory)
        .await
        .expect("fits");
    let reader = cache.get(me, &held).await.expect("present");
    let free = cache
        .put(me, frame_of_mib(1, 20), Placement::Memory)
        .await
        .expect("fits");
    // Two evictions: `held` (a reader still has it) and then `free` (no one has it).
    cache
        .put(me, frame_of_mib(1, 30), Placement::Memory)
        .await
        .expect("fits");
    cache.get(me, &free).await.expect("touch: LRU is now the third");
    drop(
        cache
            .put(me, frame_of_mib(1, 40), Placement::Memory)
            .await
            .expect("fits"),
    );
    assert_eq!(cache.get(me, &held).await, Err(CacheError::Expired));
    assert_eq!(cache.totals().memory.entries, 2);
    // Row 1 of frame_of_mib(_, seed) is 1 ^ seed: the recycler saw the third frame only.
    let got = tokio::task::spawn_blocking(move || received.recv_timeout(Duration::from_secs(30)))
        .await
        .expect("joined");
    assert_eq!(
        got,
        Ok((1_u64 ^ 30) as f64),
        "the unshared evicted frame is recycled"
    );
    assert_eq!(reader.height() as u64, MIB / 8, "the reader's frame is untouched");
}

#[tokio::test]
async fn a_released_frame_is_recycled_before_release_returns() {
    let (sent, received) = std::sync::mpsc::channel::<f64>();
    let sent = std::sync::Mutex::new(sent);
    let cache = FrameCache::builder(config(8, 8, MINUTE))
        .recycle(move |frame| {
            let first = frame.column("x").ok().and_then(|c| c.f64().ok()?.get(1));
            let _ = sent.lock().map(|s| s.send(first.unwrap_or(f64::NAN)));
        })
        .build();
    let me = SessionKey::random();
    let other = SessionKey::random();
    let old = cache
        .put(me, frame_of_mib(2, 7), Placement::Memory)
        .await
        .expect("fits");
    let kept = cache
        .put(me, frame_of_mib(1, 8), Placement::Memory)
        .await
        .expect("fits");

    assert!(
        !cache.release(other, &old).await,
        "another session's handle is unknown"
    );
    assert!(cache.get(me, &old).await.is_ok(), "and releasing it did nothing");
    assert!(cache.release(me, &old).await);
    assert_eq!(
        received.try_recv(),
        Ok((1_u64 ^ 7) as f64),
        "the buffers are with the recycler when release returns"
    );
    assert!(!cache.release(me, &old).await, "already released");
    assert_eq!(
        cache.get(me, &old).await,
        Err(CacheError::Expired),
        "no recipe: its entry stays and says expired"
    );
    assert_eq!(cache.totals().memory.bytes, MIB);
    assert_eq!(cache.session_memory(me), MIB);
    assert_eq!(cache.counters().evictions(EvictionCause::Released), 1);
    assert!(cache.get(me, &kept).await.is_ok());
    assert!(cache
        .render_metrics()
        .contains(r#"stayput_cache_evictions_total{cause="released"} 1"#));
}

#[tokio::test]
async fn the_heaviest_session_pays_even_when_the_newcomer_holds_only_its_new_frame() {
    let cache = FrameCache::new(config(16, 16, MINUTE));
    let (heavy, light, newcomer) = (SessionKey::random(), SessionKey::random(), SessionKey::random());
    let big = cache
        .put(heavy, frame_of_mib(6, 0), Placement::Memory)
        .await
        .expect("fits");
    let mut small = Vec::new();
    for seed in 1..3 {
        small.push(
            cache
                .put(light, frame_of_mib(1, seed), Placement::Memory)
                .await
                .expect("fits"),
        );
    }
    // The heavy frame is the most recently used: a global LRU would take a light one.
    cache.get(heavy, &big).await.expect("present");
    // 8 MiB held; 9 more make 17 > 16. The newcomer's only frame is the new one, so the
    // heaviest other session (6 MiB) pays, not the light one's least recently used.
    cache
        .put(newcomer, frame_of_mib(9, 3), Placement::Memory)
        .await
        .expect("fits");
    assert_eq!(cache.get(heavy, &big).await, Err(CacheError::Expired));
    for handle in &small {
        assert!(
            cache.get(light, handle).await.is_ok(),
            "the light session keeps its frames"
        );
    }
}

#[tokio::test]
async fn a_flood_of_tiny_frames_is_bounded_by_the_budget_bookkeeping_included() {
    use stayput_cache::ENTRY_OVERHEAD;
    // 1 MiB of budget holds at most ~500 entries' bookkeeping; 40 sessions store 50
    // one-row frames each (2,000 entries).
    let mut small = config(1, 1, MINUTE);
    small.memory_budget = stayput_cache::ByteSize(MIB);
    let cache = FrameCache::new(small);
    let sessions: Vec<SessionKey> = (0..40).map(|_| SessionKey::random()).collect();
    let mut last = Vec::new();
    for round in 0..50_u64 {
        for session in &sessions {
            let frame = polars::prelude::DataFrame::new(
                1,
                vec![polars::prelude::Column::new("x".into(), [round as f64])],
            )
            .expect("frame");
            let handle = cache
                .put(*session, frame, Placement::Memory)
                .await
                .expect("stored");
            if round == 49 {
                last.push((*session, handle));
            }
        }
    }
    let entries: usize = sessions.iter().map(|s| cache.list(*s).len()).sum();
    let charged = cache.totals().memory.bytes + entries as u64 * ENTRY_OVERHEAD;
    assert!(charged <= MIB, "{entries} entries charge {charged} bytes");
    assert!(entries >= 400, "only the excess is forgotten: {entries} left");
    // The newest frames are the ones kept.
    for (session, handle) in &last {
        assert!(cache.get(*session, handle).await.is_ok());
    }
}
