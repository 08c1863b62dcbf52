//! The plain functions behind the server functions.
//!
//! They take the cache and the session explicitly, so tests call them directly.
//! CPU-heavy work runs on the blocking pool or rayon's, never on the async workers.

use std::sync::Arc;

use stayput_cache::{FrameCache, FrameHandle, FrameId, Placement, SessionKey};
use stayput_figures::{FigureSpec, PyramidStore};

use crate::contract::benchmark::{MeanReply, Step, StepReply};
use crate::contract::cache_view::CacheListing;
use crate::contract::figure::{data, first_axes, ChartKind, ColumnInfo, FigureReply, MadeReply};
use crate::contract::sizes::validate_rows;
use crate::contract::StayputError;
use crate::server::bench_frame;
use crate::server::heavy::HeavyJobs;
use crate::server::on_disk;
use crate::server::recipes::{CreateArgs, CREATE_FRAME, TIME_SERIES};
use crate::server::work::Work;
use crate::server::{blocking, in_pool_for};

/// Step 1 of the benchmark: builds the random frame and keeps it in the cache.
///
/// The frame is recomputable (lineage: rows and seed) and kept in memory only: rebuilding
/// 1e8 random numbers (~0.1 s) is cheaper than writing and re-reading 800 MB of disk.
///
/// `replaces`, the frame the page held until now, is released first (see
/// `FrameCache::release`): its buffer goes back to [`crate::server::spare`] and this fill
/// reuses it instead of faulting in fresh memory. Someone else's or an unknown handle
/// is ignored, as if it had not been sent.
pub async fn create_frame(
    cache: &FrameCache,
    session: SessionKey,
    rows: u64,
    replaces: Option<&FrameHandle>,
) -> Result<FrameHandle, StayputError> {
    let rows = validate_rows(rows)?;
    if let Some(old) = replaces {
        cache.release(session, old).await;
    }
    let args = CreateArgs {
        rows,
        seed: bench_frame::new_seed(),
    };
    let started = std::time::Instant::now();
    let handle = cache
        .make(session, CREATE_FRAME, &args, Placement::Memory)
        .await?;
    tracing::debug!(
        rows,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "create_frame"
    );
    Ok(handle)
}

/// Step 2 of the benchmark: the mean of the frame behind `handle`.
pub async fn frame_mean(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<MeanReply, StayputError> {
    let started = std::time::Instant::now();
    let frame = cache.get(session, handle).await?;
    let mean =
        blocking(move || in_pool_for(frame.height() as u64, || bench_frame::column_mean(&frame))).await?;
    tracing::debug!(
        rows = handle.rows,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "frame_mean"
    );
    Ok(MeanReply { mean })
}

/// One step of the benchmark (or `/explore`'s figure), admitted by what it costs, then
/// run: the one place a [`Step`] is dispatched, for its HTTP server functions and the
/// steps socket alike. Making a frame costs its rows; a read costs the rows it must
/// bring back into memory ([`Work::Read`]; none for a frame in memory).
pub async fn run_step(
    cache: &FrameCache,
    session: SessionKey,
    (heavy, pyramids): (&HeavyJobs, &Arc<PyramidStore>),
    step: Step,
) -> Result<StepReply, StayputError> {
    // A frame on disk is read where a figure needs it, but a mean, or a histogram, box
    // or density, reads every row of it: a large job of its size.
    let scans = match &step {
        Step::Mean { .. } => true,
        Step::Figure { kind, .. } => !matches!(kind, ChartKind::Line | ChartKind::Scatter),
        Step::Create { .. } => false,
    };
    let on_disk = match &step {
        Step::Mean { handle } | Step::Figure { handle, .. } if scans => cache
            .entry(session, &handle.id)
            .filter(|e| e.residence == stayput_cache::Residence::Disk),
        _ => None,
    };
    let work = match (&step, &on_disk) {
        (Step::Create { rows, .. }, _) => Work::Make { rows: *rows },
        (_, Some(entry)) => Work::ReadWhole(entry),
        (Step::Mean { handle } | Step::Figure { handle, .. }, None) => Work::Read {
            cache,
            session,
            handle,
        },
    };
    let _slot = heavy.admit(Some(session), work).await?;
    match step {
        Step::Create { rows, replaces } => create_frame(cache, session, rows, replaces.as_ref())
            .await
            .map(StepReply::Created),
        Step::Mean { handle } => frame_mean(cache, session, &handle).await.map(StepReply::Mean),
        Step::Figure {
            handle,
            x,
            y,
            kind,
            x_min,
            x_max,
            width,
        } => explore_figure(
            cache,
            session,
            pyramids,
            &handle,
            figure_spec(x, y, kind, x_min, x_max, width),
        )
        .await
        .map(StepReply::Figure),
    }
}

/// The spec of `/explore`'s figure of `y` over `x` as `kind` for the visible
/// `x_min..=x_max` (open when absent), `width_px` wide, however it was asked for (the
/// HTTP server function, the steps socket, Make's first figure). Which columns hold
/// time is the server's to know ([`explore_figure`] sets it).
pub fn figure_spec(
    x: String,
    y: String,
    kind: ChartKind,
    x_min: Option<f64>,
    x_max: Option<f64>,
    width_px: u32,
) -> FigureSpec {
    FigureSpec {
        x,
        y,
        kind,
        range: (x_min, x_max),
        width_px,
        time_x: false,
    }
}

/// Plotly figure JSON of the histogram of the frame behind `handle`.
pub async fn frame_histogram(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<String, StayputError> {
    let frame = cache.get(session, handle).await?;
    blocking(move || {
        let rows = frame.height() as u64;
        let hist = in_pool_for(rows, || {
            bench_frame::histogram(&frame, bench_frame::HISTOGRAM_BINS)
        })?;
        Ok(bench_frame::histogram_figure(&hist, frame.height() as u64))
    })
    .await
}

/// `/explore`'s time series: `rows` rows of a timestamp and three value columns, kept in
/// memory and rebuilt from its lineage when evicted (like the benchmark's frame).
pub async fn make_series(
    cache: &FrameCache,
    session: SessionKey,
    rows: u64,
) -> Result<FrameHandle, StayputError> {
    let args = CreateArgs {
        rows: validate_rows(rows)?,
        seed: bench_frame::new_seed(),
    };
    Ok(cache.make(session, TIME_SERIES, &args, Placement::Memory).await?)
}

/// The columns `/explore` offers for the frame behind `handle`.
pub async fn frame_columns(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<Vec<ColumnInfo>, StayputError> {
    let frame = cache.get(session, handle).await?;
    let mut columns = stayput_figures::columns(&frame);
    for column in &mut columns {
        column.time |= is_time(&column.name);
    }
    Ok(columns)
}

/// Whether Stayput keeps epoch milliseconds in the float column `name`: the built-in
/// series' time column (polars date and datetime columns the engine knows by type).
fn is_time(name: &str) -> bool {
    name == stayput_figures::demo::TIME
}

/// The figure `spec` of the frame behind `handle`, reduced to the plot's pixels.
pub async fn explore_figure(
    cache: &FrameCache,
    session: SessionKey,
    pyramids: &Arc<PyramidStore>,
    handle: &FrameHandle,
    mut spec: FigureSpec,
) -> Result<FigureReply, StayputError> {
    crate::server::linked::not_bars(spec.kind)?;
    let started = std::time::Instant::now();
    spec.time_x |= is_time(&spec.x);
    let frame = cache.get(session, handle).await?;
    on_disk::adopt_made(cache, session, handle, &frame, pyramids);
    let pyramids = Arc::clone(pyramids);
    let reply = blocking(move || {
        Ok(in_pool_for(frame.height() as u64, || {
            stayput_figures::figure_kept(&frame, &spec, &pyramids)
        })?)
    })
    .await?;
    tracing::debug!(
        rows = reply.rows_in_range,
        points = reply.points,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "explore_figure"
    );
    Ok(reply)
}

/// `/explore`'s Make in one call, as plotly-resampler's click does it in one callback:
/// `rows` of the data `kind` ([`data`]) made and kept, then its first figure (`chart`,
/// `width_px` wide) over [`first_axes`]. `replaces`, the frame the page made before, is
/// released first, as the benchmark's step 1 does (its memory goes to this fill).
pub async fn explore_make(
    (cache, pyramids): (&FrameCache, &Arc<PyramidStore>),
    session: SessionKey,
    kind: &str,
    rows: u64,
    replaces: Option<&FrameHandle>,
    chart: ChartKind,
    width_px: u32,
) -> Result<MadeReply, StayputError> {
    check_make(kind, rows)?;
    let past_memory =
        rows > crate::contract::sizes::MAX_ROWS || rows.saturating_mul(8) > memory_frame_bytes(cache);
    let handle = if kind == data::UNIFORM && past_memory {
        if let Some(old) = replaces {
            cache.release(session, old).await;
        }
        on_disk::make_uniform_on_disk(cache, session, rows).await?
    } else if kind == data::UNIFORM {
        create_frame(cache, session, rows, replaces).await?
    } else {
        if let Some(old) = replaces {
            cache.release(session, old).await;
        }
        make_series(cache, session, rows).await?
    };
    match first_figure((cache, pyramids), session, &handle, chart, width_px).await {
        Ok((columns, x, y, figure)) => Ok(MadeReply {
            handle,
            columns,
            x,
            y,
            figure,
        }),
        Err(err) => {
            // The page never learns this handle: keep nothing it cannot release.
            cache.remove(session, &handle).await;
            Err(err)
        }
    }
}

/// The most bytes one frame may take in memory: the smaller of the session quota and
/// the memory budget. Uniform randoms larger than this are made on disk.
fn memory_frame_bytes(cache: &FrameCache) -> u64 {
    let config = cache.config();
    config.session_quota.bytes().min(config.memory_budget.bytes())
}

/// Refuses a Make the server would refuse anyway, before it waits for a heavy-job slot
/// or makes anything: an unknown kind of data, a size out of range (uniform randoms
/// go up to [`on_disk::MAX_DISK_ROWS`], made on disk past memory).
pub fn check_make(kind: &str, rows: u64) -> Result<(), StayputError> {
    if kind != data::UNIFORM && kind != data::SERIES {
        return Err(StayputError::BadRequest(crate::contract::error::cut(format!(
            "no data called {kind:?}: {} or {}",
            data::SERIES,
            data::UNIFORM
        ))));
    }
    if kind == data::UNIFORM && rows > crate::contract::sizes::MAX_ROWS {
        return match rows <= on_disk::MAX_DISK_ROWS {
            true => Ok(()),
            false => Err(StayputError::InvalidSize(rows.to_string())),
        };
    }
    validate_rows(rows).map(|_| ())
}

/// The columns of a frame just made, the axes of its first figure and that figure.
async fn first_figure(
    (cache, pyramids): (&FrameCache, &Arc<PyramidStore>),
    session: SessionKey,
    handle: &FrameHandle,
    chart: ChartKind,
    width_px: u32,
) -> Result<(Vec<ColumnInfo>, String, String, FigureReply), StayputError> {
    let columns = frame_columns(cache, session, handle).await?;
    let (x, y) = first_axes(&columns);
    let spec = figure_spec(x.clone(), y.clone(), chart, None, None, width_px);
    let figure = explore_figure(cache, session, pyramids, handle, spec).await?;
    Ok((columns, x, y, figure))
}

/// The `/cache` page's view of `session`.
pub fn cache_view(cache: &FrameCache, session: SessionKey) -> CacheListing {
    CacheListing {
        entries: cache.list(session),
        session_bytes: cache.session_memory(session),
        totals: cache.totals(),
    }
}

/// Drops `session`'s frame `id`. Metadata of a handle is never trusted, so the id is all
/// it takes; an id of another session is simply not found.
pub async fn drop_frame(cache: &FrameCache, session: SessionKey, id: &FrameId) -> bool {
    cache.remove(session, id).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use stayput_cache::{ByteSize, CacheConfig};

    use super::*;
    use crate::contract::data::Transform;

    /// What a read of `handle` costs ([`Work::Read`]).
    fn read_rows(cache: &FrameCache, session: SessionKey, handle: &FrameHandle) -> u64 {
        Work::Read {
            cache,
            session,
            handle,
        }
        .cost()
    }

    /// What `step` on `handle` costs ([`Work::Transform`]).
    fn step_rows(cache: &FrameCache, session: SessionKey, handle: &FrameHandle, step: &Transform) -> u64 {
        Work::Transform {
            cache,
            session,
            handle,
            step,
        }
        .cost()
    }

    fn cache_of(budget: u64) -> FrameCache {
        let mut config = CacheConfig::new(ByteSize(budget));
        config.session_quota = ByteSize(budget);
        config.idle_timeout = Duration::from_secs(60);
        crate::server::recipes::with_recipes(FrameCache::builder(config)).build()
    }

    fn cache() -> FrameCache {
        cache_of(256 << 20)
    }

    #[tokio::test]
    async fn create_then_mean_then_histogram() {
        let cache = cache();
        let me = SessionKey::random();
        let handle = create_frame(&cache, me, 100_000, None).await.expect("create");
        assert_eq!(handle.rows, 100_000);
        assert_eq!(handle.bytes, 800_000);
        let reply = frame_mean(&cache, me, &handle).await.expect("mean");
        assert!((reply.mean - 0.5).abs() < 0.01, "{}", reply.mean);
        let figure = frame_histogram(&cache, me, &handle).await.expect("figure");
        let parsed: serde_json::Value = serde_json::from_str(&figure).expect("json");
        let counts = stayput_figures::typed::decode(&parsed["data"][0]["y"]).expect("counts");
        let total: f64 = counts.iter().sum();
        assert_eq!(total, 100_000.0);
    }

    #[tokio::test]
    async fn invalid_sizes_are_refused_before_any_work() {
        let cache = cache();
        for rows in [0, 100_000_001, u64::MAX] {
            let err = create_frame(&cache, SessionKey::random(), rows, None)
                .await
                .expect_err("invalid");
            assert_eq!(err, StayputError::InvalidSize(rows.to_string()));
        }
        assert_eq!(cache.totals().memory.entries, 0);
    }

    #[tokio::test]
    async fn another_sessions_handle_reads_as_unknown() {
        let cache = cache();
        let handle = create_frame(&cache, SessionKey::random(), 10, None)
            .await
            .expect("create");
        let stranger = SessionKey::random();
        assert_eq!(
            frame_mean(&cache, stranger, &handle).await,
            Err(StayputError::UnknownHandle)
        );
        assert_eq!(
            frame_histogram(&cache, stranger, &handle).await,
            Err(StayputError::UnknownHandle)
        );
    }

    #[tokio::test]
    async fn a_frame_over_the_budget_is_a_clear_error() {
        let cache = cache_of(1 << 20);
        let err = create_frame(&cache, SessionKey::random(), 1_000_000, None)
            .await
            .expect_err("too large");
        assert!(
            err.to_string()
                .contains("does not fit in the server's memory budget of 1.0 MiB"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_cache_view_lists_only_my_frames_and_dropping_one_forgets_it() {
        let cache = cache();
        let me = SessionKey::random();
        let stranger = SessionKey::random();
        let mine = create_frame(&cache, me, 1_000, None).await.expect("create");
        let theirs = create_frame(&cache, stranger, 2_000, None).await.expect("create");
        let view = cache_view(&cache, me);
        assert_eq!(view.entries.len(), 1);
        assert_eq!(view.entries[0].id, mine.id);
        assert_eq!(view.entries[0].rows, 1_000);
        let lineage = view.entries[0].lineage.as_ref().expect("lineage");
        assert_eq!(lineage.function, CREATE_FRAME);
        assert!(lineage.args.contains("\"rows\":1000"), "{}", lineage.args);
        assert_eq!(view.session_bytes, 8_000);
        assert_eq!((view.totals.sessions, view.totals.memory.entries), (2, 2));

        assert!(!drop_frame(&cache, me, &theirs.id).await, "not mine to drop");
        assert!(frame_mean(&cache, stranger, &theirs).await.is_ok());
        assert!(drop_frame(&cache, me, &mine.id).await);
        assert!(cache_view(&cache, me).entries.is_empty());
        assert_eq!(
            frame_mean(&cache, me, &mine).await,
            Err(StayputError::UnknownHandle)
        );
    }

    #[tokio::test]
    async fn only_reads_that_bring_a_frame_back_count_as_heavy() {
        let cache = cache();
        let me = SessionKey::random();
        let handle = create_frame(&cache, me, 100_000, None).await.expect("create");
        assert_eq!(read_rows(&cache, me, &handle), 0, "in memory: a light read");
        assert_eq!(read_rows(&cache, SessionKey::random(), &handle), 0, "not theirs");
        assert!(cache.release(me, &handle).await);
        assert_eq!(
            read_rows(&cache, me, &handle),
            100_000,
            "gone: the read rebuilds it"
        );
        let shouted = FrameHandle {
            id: FrameId::from(handle.id.as_str().to_uppercase().replace('-', "")),
            ..handle.clone()
        };
        assert_eq!(
            read_rows(&cache, me, &shouted),
            100_000,
            "the id in another UUID form is the same frame to the cache, and here"
        );
        assert_eq!(
            read_rows(&cache, SessionKey::random(), &handle),
            0,
            "still not theirs"
        );
        frame_mean(&cache, me, &handle).await.expect("rebuilt");
        assert_eq!(read_rows(&cache, me, &handle), 0, "back in memory");
    }

    /// Removes its directory when dropped, the test failed or not.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    #[tokio::test]
    async fn a_data_step_and_its_rebuild_count_the_files_the_chain_reads() {
        use crate::contract::data::{Condition, JoinHow, Op};
        use crate::server::data::{chain_of, transform};

        let dir =
            Scratch(std::env::temp_dir().join(format!("stayput-step-rows-{}", bench_frame::new_seed())));
        std::fs::create_dir_all(&dir.0).expect("a scratch directory");
        let uploads =
            stayput_data::Uploads::open(&dir.0.join("uploads"), 64 << 20, 256 << 20).expect("uploads");
        let mut config = CacheConfig::new(ByteSize(256 << 20));
        config.session_quota = ByteSize(256 << 20);
        config.idle_timeout = Duration::from_secs(60);
        let builder = crate::server::recipes::with_recipes(FrameCache::builder(config));
        let cache = crate::server::recipes::with_data(builder, &uploads).build();
        let csv = dir.0.join("big.csv");
        let mut text = String::from("key,value\n");
        for i in 0..200_000 {
            text.push_str(&format!("{i},{}\n", i * 2));
        }
        std::fs::write(&csv, text).expect("the CSV");
        let me = SessionKey::random();
        let upload = uploads
            .ingest_file(&cache, me, &csv, "big.csv")
            .await
            .expect("ingested");
        let file = chain_of(&cache, me, &upload).expect("its chain").source_rows();
        assert!(
            file >= 400_000,
            "two 8-byte columns of 200,000 rows, in rows of 8 bytes: {file}"
        );
        assert_eq!(
            read_rows(&cache, me, &upload),
            file,
            "the upload read whole counts its bytes, not its 200,000 rows"
        );

        let ten = Transform::Filter(vec![Condition {
            column: "key".into(),
            op: Op::Lt,
            value: "10".into(),
        }]);
        assert_eq!(
            step_rows(&cache, me, &upload, &ten),
            file,
            "a new step runs the file"
        );
        let small = transform(&cache, &uploads, me, &upload, ten.clone(), 256 << 20, ())
            .await
            .expect("filtered");
        assert_eq!(small.rows, 10);
        assert_eq!(
            step_rows(&cache, me, &upload, &ten),
            file,
            "the same step again is held: its parent's cost only (its bytes, not its 200,000 rows)"
        );
        let select = Transform::Select(vec!["key".into()]);
        assert_eq!(
            step_rows(&cache, me, &small, &select),
            file,
            "a step after the filter runs the chain from the whole file again"
        );
        let keys = transform(&cache, &uploads, me, &small, select.clone(), 256 << 20, ())
            .await
            .expect("selected");
        assert_eq!(
            step_rows(&cache, me, &small, &select),
            20,
            "held: the parent's cost only (ten rows of two 8-byte columns)"
        );
        assert!(cache.release(me, &keys).await);
        let join = Transform::Join {
            other: upload.clone(),
            on: "key".into(),
            how: JoinHow::Inner,
        };
        assert_eq!(
            step_rows(&cache, me, &small, &join),
            2 * file,
            "a join reads the other side's file too"
        );
        assert_eq!(
            step_rows(&cache, SessionKey::random(), &small, &select),
            0,
            "not theirs"
        );

        assert_eq!(read_rows(&cache, me, &small), 0, "in memory: a light read");
        assert!(cache.release(me, &small).await);
        assert_eq!(
            read_rows(&cache, me, &small),
            file,
            "ten rows, but their rebuild reads the whole file"
        );
        assert_eq!(
            read_rows(&cache, SessionKey::random(), &small),
            0,
            "still not theirs"
        );
        assert_eq!(
            step_rows(&cache, me, &upload, &ten),
            file,
            "the step is gone: making it again runs the file"
        );
    }

    #[tokio::test]
    async fn an_evicted_benchmark_frame_is_rebuilt_identical() {
        // Room for one 800 KB frame only: the second evicts the first.
        let cache = cache_of(1 << 20);
        let me = SessionKey::random();
        let first = create_frame(&cache, me, 100_000, None).await.expect("create");
        let mean_before = frame_mean(&cache, me, &first).await.expect("mean");
        let second = create_frame(&cache, me, 100_000, None).await.expect("create");
        assert_eq!(cache.counters().recomputes(), 0);
        let mean_after = frame_mean(&cache, me, &first).await.expect("rebuilt");
        assert_eq!(mean_before, mean_after, "same seed, same numbers");
        assert_eq!(cache.counters().recomputes(), 1);
        assert!(frame_mean(&cache, me, &second).await.is_ok());
    }
}
