//! Lineage, recompute and memoization: never a silent `None`, and never the same work twice.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{config, frame_of_mib};
use polars::prelude::DataFrame;
use stayput_cache::{CacheError, FrameCache, Lineage, Placement, SessionKey};

const MINUTE: Duration = Duration::from_secs(60);

#[derive(serde::Serialize, serde::Deserialize)]
struct Args {
    mib: u64,
    seed: u64,
}

/// A cache whose recipe `frame` counts its calls and takes a moment, like real work.
fn counting_cache(budget_mib: u64) -> (FrameCache, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let cache = FrameCache::builder(config(budget_mib, budget_mib, MINUTE))
        .recipe("frame", move |args: Args| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<DataFrame, String>(frame_of_mib(args.mib, args.seed))
            }
        })
        .recipe("failing", |_: Args| async {
            Err::<DataFrame, _>("the source is offline")
        })
        .build();
    (cache, calls)
}

#[tokio::test]
async fn an_evicted_frame_is_rebuilt_from_its_lineage() {
    let (cache, calls) = counting_cache(2);
    let me = SessionKey::random();
    let first = cache
        .make(me, "frame", &Args { mib: 1, seed: 5 }, Placement::Memory)
        .await
        .expect("made");
    for seed in 0..2 {
        cache
            .make(me, "frame", &Args { mib: 1, seed }, Placement::Memory)
            .await
            .expect("made");
    }
    assert_eq!(cache.list(me).iter().filter(|e| e.id == first.id).count(), 1);
    let rebuilt = cache.get(me, &first).await.expect("rebuilt, not None");
    assert!(rebuilt.equals(&frame_of_mib(1, 5)));
    assert_eq!(cache.counters().recomputes(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    let info = cache
        .list(me)
        .into_iter()
        .find(|e| e.id == first.id)
        .expect("listed");
    assert_eq!(
        info.lineage,
        Some(Lineage::new("frame", &Args { mib: 1, seed: 5 }).expect("json"))
    );
    assert!(info.recomputable);
}

#[tokio::test]
async fn a_released_frame_is_rebuilt_on_the_next_read() {
    let (cache, calls) = counting_cache(8);
    let me = SessionKey::random();
    let handle = cache
        .make(me, "frame", &Args { mib: 1, seed: 9 }, Placement::Memory)
        .await
        .expect("made");
    assert!(cache.release(me, &handle).await);
    assert_eq!(cache.totals().memory.bytes, 0, "released at once");
    let rebuilt = cache.get(me, &handle).await.expect("rebuilt from its lineage");
    assert!(rebuilt.equals(&frame_of_mib(1, 9)));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(cache.counters().recomputes(), 1);
}

/// A handle made from its lineage alone (`put_lineage`: an upload already written to its
/// kept file): nothing in memory and no recipe run until the first read, which builds it
/// once; a lineage with no recipe is refused and leaves no entry.
#[tokio::test]
async fn a_handle_made_from_its_lineage_alone_is_built_on_its_first_read() {
    let (cache, calls) = counting_cache(8);
    let me = SessionKey::random();
    let lineage = Lineage::new("frame", &Args { mib: 1, seed: 3 }).expect("json");
    let expected = frame_of_mib(1, 3);
    let bytes = expected.estimated_size() as u64;
    let handle = cache
        .put_lineage(
            me,
            expected.height() as u64,
            1,
            bytes,
            lineage.clone(),
            Placement::Memory,
        )
        .await
        .expect("made");
    assert_eq!((handle.rows, handle.bytes), (expected.height() as u64, bytes));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not built yet");
    assert_eq!(cache.totals().memory.bytes, 0);
    let listed = cache.list(me);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].lineage, Some(lineage));
    let read = cache.get(me, &handle).await.expect("built from its lineage");
    assert!(read.equals(&expected));
    cache.get(me, &handle).await.expect("read again");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "built once");
    // Another session cannot read it: an unknown handle.
    assert!(matches!(
        cache.get(SessionKey::random(), &handle).await,
        Err(CacheError::Unknown)
    ));
    let orphan = Lineage::new("no-such-recipe", &Args { mib: 1, seed: 3 }).expect("json");
    assert!(matches!(
        cache.put_lineage(me, 1, 1, 8, orphan, Placement::Memory).await,
        Err(CacheError::NoRecipe(name)) if name == "no-such-recipe"
    ));
    // A frame no read could hold (over the 8 MiB budget) is refused now, as `put` would.
    let huge = Lineage::new("frame", &Args { mib: 64, seed: 1 }).expect("json");
    assert!(matches!(
        cache
            .put_lineage(me, 1 << 23, 1, 64 << 20, huge, Placement::Memory)
            .await,
        Err(CacheError::TooLarge { .. })
    ));
    assert_eq!(cache.list(me).len(), 1, "the refused ones left no entry");
}

#[tokio::test]
async fn ten_concurrent_reads_of_an_evicted_frame_compute_once() {
    let (cache, calls) = counting_cache(1);
    let me = SessionKey::random();
    let first = cache
        .make(me, "frame", &Args { mib: 1, seed: 1 }, Placement::Memory)
        .await
        .expect("made");
    cache
        .make(me, "frame", &Args { mib: 1, seed: 2 }, Placement::Memory)
        .await
        .expect("made");
    let before = calls.load(Ordering::SeqCst);
    let reads = (0..10).map(|_| {
        let cache = cache.clone();
        let first = first.clone();
        tokio::spawn(async move { cache.get(me, &first).await })
    });
    let frames: Vec<_> = futures_join(reads).await;
    assert_eq!(
        calls.load(Ordering::SeqCst) - before,
        1,
        "one recompute for ten readers"
    );
    assert_eq!(cache.counters().recomputes(), 1);
    let frames: Vec<Arc<DataFrame>> = frames.into_iter().map(|f| f.expect("rebuilt")).collect();
    assert!(
        frames.iter().all(|f| Arc::ptr_eq(f, &frames[0])),
        "all share the one rebuilt frame"
    );
}

async fn futures_join<T: Send + 'static>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn without_a_recipe_an_evicted_frame_is_expired_not_none() {
    let cache = FrameCache::new(config(1, 1, MINUTE));
    let me = SessionKey::random();
    let lineage = Lineage::new("unregistered", &1).expect("json");
    let first = cache
        .put_with_lineage(me, frame_of_mib(1, 0), Placement::Memory, Some(lineage))
        .await
        .expect("stored");
    cache
        .put(me, frame_of_mib(1, 1), Placement::Memory)
        .await
        .expect("stored");
    assert_eq!(cache.get(me, &first).await, Err(CacheError::Expired));
    assert!(!cache.list(me)[0].recomputable);
}

#[tokio::test]
async fn a_failing_recipe_is_a_clear_error() {
    let (cache, _) = counting_cache(4);
    let err = cache
        .make(
            SessionKey::random(),
            "failing",
            &Args { mib: 1, seed: 0 },
            Placement::Memory,
        )
        .await
        .expect_err("fails");
    assert_eq!(err.to_string(), "making the data failed: the source is offline");
    let err = cache
        .make(SessionKey::random(), "nope", &1, Placement::Memory)
        .await;
    assert_eq!(err, Err(CacheError::NoRecipe("nope".into())));
}

/// An app's own error type, as a recipe would return it.
#[derive(Debug, PartialEq, thiserror::Error)]
enum StepError {
    #[error("column {0:?} is not numeric")]
    NotNumeric(String),
}

#[tokio::test]
async fn a_recipe_error_keeps_its_type_and_a_cache_error_stays_itself() {
    let cache = FrameCache::builder(config(4, 4, MINUTE))
        .recipe("typed", |_: Args| async {
            Err::<DataFrame, _>(StepError::NotNumeric("city".into()))
        })
        .recipe("passes_on", |_: Args| async {
            Err::<DataFrame, _>(CacheError::Busy)
        })
        .build();
    let me = SessionKey::random();
    let args = Args { mib: 1, seed: 0 };
    match cache.make(me, "typed", &args, Placement::Memory).await {
        Err(CacheError::Recipe(err)) => {
            assert_eq!(
                err.downcast_ref::<StepError>(),
                Some(&StepError::NotNumeric("city".into()))
            );
            assert_eq!(err.to_string(), "column \"city\" is not numeric");
        }
        other => panic!("expected the recipe's error, got {other:?}"),
    }
    // A cache error the recipe passed on (a reservation it could not get) is not
    // wrapped: the caller sees `Busy`, which it can retry.
    assert_eq!(
        cache.make(me, "passes_on", &args, Placement::Memory).await,
        Err(CacheError::Busy)
    );
}

#[tokio::test]
async fn a_rebuild_that_fails_is_a_rebuild_fault_not_the_callers_error() {
    // The recipe made the frame once; its source is gone when the frame is rebuilt.
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let source = Arc::clone(&gone);
    let cache = FrameCache::builder(config(2, 2, MINUTE))
        .recipe("flaky", move |args: Args| {
            let gone = source.load(Ordering::SeqCst);
            async move {
                if gone {
                    return Err(StepError::NotNumeric("x".into()));
                }
                Ok(frame_of_mib(args.mib, args.seed))
            }
        })
        .build();
    let me = SessionKey::random();
    let first = cache
        .make(me, "flaky", &Args { mib: 1, seed: 1 }, Placement::Memory)
        .await
        .expect("made");
    for seed in 2..4 {
        cache
            .make(me, "flaky", &Args { mib: 1, seed }, Placement::Memory)
            .await
            .expect("made");
    }
    gone.store(true, Ordering::SeqCst);
    match cache.get(me, &first).await {
        Err(CacheError::Rebuild(err)) => assert!(err.downcast_ref::<StepError>().is_some()),
        other => panic!("expected a rebuild fault, got {other:?}"),
    }
}

#[tokio::test]
async fn memoized_calls_return_the_existing_handle_per_session() {
    let (cache, calls) = counting_cache(16);
    let (me, other) = (SessionKey::random(), SessionKey::random());
    let args = Args { mib: 1, seed: 3 };
    let a = cache
        .make_memoized(me, "frame", &args, Placement::Auto)
        .await
        .expect("made");
    let b = cache
        .make_memoized(me, "frame", &args, Placement::Auto)
        .await
        .expect("memo");
    assert_eq!(a, b);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.counters().memo_hits(), 1);
    let c = cache
        .make_memoized(me, "frame", &Args { mib: 1, seed: 4 }, Placement::Auto)
        .await
        .expect("made");
    assert_ne!(a.id, c.id, "other arguments, other frame");
    let d = cache
        .make_memoized(other, "frame", &args, Placement::Auto)
        .await
        .expect("made");
    assert_ne!(a.id, d.id, "memoization never crosses sessions");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Dropping the handle forgets the memo too.
    assert!(cache.remove(me, &a).await);
    let e = cache
        .make_memoized(me, "frame", &args, Placement::Auto)
        .await
        .expect("made");
    assert_ne!(a.id, e.id);
}

#[tokio::test]
async fn concurrent_identical_memoized_calls_compute_once() {
    let (cache, calls) = counting_cache(16);
    let me = SessionKey::random();
    let tasks = (0..8).map(|_| {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .make_memoized(me, "frame", &Args { mib: 1, seed: 9 }, Placement::Memory)
                .await
        })
    });
    let handles: Vec<_> = futures_join(tasks)
        .await
        .into_iter()
        .map(|h| h.expect("made"))
        .collect();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(handles.iter().all(|h| h == &handles[0]));
    assert_eq!(cache.list(me).len(), 1);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_stayput_names() {
    let (cache, _) = counting_cache(1);
    let me = SessionKey::random();
    let first = cache
        .make(me, "frame", &Args { mib: 1, seed: 1 }, Placement::Memory)
        .await
        .expect("made");
    cache
        .make(me, "frame", &Args { mib: 1, seed: 2 }, Placement::Memory)
        .await
        .expect("made");
    cache.get(me, &first).await.expect("rebuilt");
    let text = cache.render_metrics();
    for line in [
        "stayput_cache_recomputes_total 1",
        "stayput_cache_evictions_total{cause=\"session_quota\"} 2",
        "stayput_cache_entries{tier=\"memory\"} 1",
        "stayput_cache_bytes{tier=\"memory\"} 1048576",
        "stayput_sessions 1",
        "# TYPE stayput_cache_hits_total counter",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("stayput_"), "{line}");
    }
}

/// A lineage's bytes are charged to the budget (twice: the entry's copy and the memo
/// key), not a fixed 2 KiB an entry, and one longer than `MAX_LINEAGE_BYTES` is refused
/// (issue 23: 60 KB lineages were held in memory and in Redis as if they were 2 KiB).
#[tokio::test]
async fn long_lineages_are_charged_by_their_bytes_and_capped() {
    let cache = FrameCache::new(config(1, 1, MINUTE));
    let session = SessionKey::random();
    let long =
        |i: u64, len: usize| Lineage::new("frame", &serde_json::json!({"seed": i, "pad": "p".repeat(len)}));
    let too_long = long(0, stayput_cache::MAX_LINEAGE_BYTES);
    assert!(
        matches!(too_long, Err(CacheError::LineageTooLong { .. })),
        "{too_long:?}"
    );
    // 100 one-row frames with 15 KiB lineages: 2 KiB + 2 x 15 KiB each, so about 33 fit
    // a budget of 1 MiB (plus 64 KiB); at 2 KiB each all 100 would.
    for i in 0..100 {
        let frame = DataFrame::new_infer_height(vec![polars::prelude::Column::new("x".into(), [i as f64])])
            .expect("frame");
        let lineage = long(i, 15 << 10).expect("within the cap");
        cache
            .put_with_lineage(session, frame, Placement::Memory, Some(lineage))
            .await
            .expect("stored");
    }
    let held = cache.list(session).len();
    assert!((20..=40).contains(&held), "{held} entries held");
}
