//! `/data` on the server: uploads and the built-in examples become handles, frames are
//! looked at a page at a time, transformed step by step (each step a memoized handle
//! whose lineage is its chain), plotted with the figure engine and downloaded.
//!
//! The chain engine itself (steps as lazy polars plans, sized before they run) is
//! `stayput-data`'s `chain` and `sizing`; this module binds it to the cache, the
//! session and the heavy-job admission.
//!
//! - [`look`]: the schema with its statistics, and pages of rows.
//! - [`io`]: the upload and download routes (raw bodies, streamed).

pub mod io;
pub mod look;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use stayput_cache::{EntryInfo, FrameCache, FrameHandle, Limit, Placement, SessionKey};
use stayput_data::{StepError, Uploads};
use stayput_figures::{FigureSpec, PyramidStore};

use crate::contract::data::{ChainLink, DataExample, Transform};
use crate::contract::figure::FigureReply;
use crate::contract::recipes::{TRANSFORM, UPLOAD};
use crate::contract::StayputError;
use crate::server::blocking;
use crate::server::errors::setting_of;
use crate::server::heavy::HeavyJobs;
use stayput_data::chain::{self, Chain, ChainStep};
use stayput_data::sizing::{self, JoinSize};

/// The datasets shipped with Stayput (from the npm package `vega-datasets`, BSD-3-Clause):
/// the file name and what it holds. Only these names are ever opened.
pub const EXAMPLES: [(&str, &str); 3] = [
    ("seattle-weather.csv", "Seattle weather 2012–2015: daily dates, precipitation, temperatures, wind, weather type (1,461 rows)"),
    ("flights-3m.parquet", "Three million US flights of 2001: date, delay, distance, origin, destination (Parquet)"),
    ("flights-200k.arrow", "200,000 US flights: delay, distance, time (Arrow IPC)"),
];

/// The examples found in `dir` (a build that did not install them offers none).
pub fn examples(dir: &Path) -> Vec<DataExample> {
    EXAMPLES
        .iter()
        .filter(|(file, _)| dir.join(file).is_file())
        .map(|(file, title)| DataExample {
            file: (*file).to_owned(),
            title: (*title).to_owned(),
        })
        .collect()
}

/// A handle of the example `file` for `session`: the one it already has, else a new one
/// read from `dir`. Any other name is refused: the browser never names a path.
pub async fn load_example(
    cache: &FrameCache,
    uploads: &Uploads,
    session: SessionKey,
    heavy: &HeavyJobs,
    dir: &Path,
    file: &str,
) -> Result<FrameHandle, StayputError> {
    let Some((name, _)) = EXAMPLES.iter().find(|(name, _)| *name == file) else {
        return Err(StayputError::BadRequest(format!(
            "there is no example named {:?}",
            crate::contract::error::cut(file.to_owned())
        )));
    };
    for entry in cache.list(session) {
        if let Ok(Some(source)) = uploads.source_of(cache, session, &entry.handle().id) {
            if source.name == *name && source.file.len() == 32 {
                return Ok(entry.handle());
            }
        }
    }
    let path: PathBuf = dir.join(name);
    if !path.is_file() {
        return Err(StayputError::BadRequest(format!(
            "the example {name} is not installed on this server"
        )));
    }
    // A parse like an upload's: a heavy slot by what it will cost, held by the parse
    // itself (a client that hangs up does not free it while the parse runs on).
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let slot = heavy
        .admit(Some(session), crate::server::work::Work::Parse { name, bytes })
        .await?;
    Ok(uploads
        .ingest_file_holding(cache, session, &path, name, slot)
        .await?)
}

/// Whether a file named `name` (gzip'd or not) is Parquet or an Excel workbook, whose
/// frame may be far larger than its bytes: judged by the name before a byte has arrived.
pub(crate) fn expands(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let inner = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".gzip"))
        .unwrap_or(&lower);
    [".parquet", ".pq", ".xlsx", ".xlsm"]
        .iter()
        .any(|ext| inner.ends_with(ext))
}

/// Whether a file named `name` (gzip'd or not) is of a kind that can be kept without
/// being read whole, so placed on disk when its frame is larger than memory (a CSV or
/// TSV, an Arrow or a Parquet file): judged by the name before a byte has arrived, to
/// refuse the others at once.
pub(crate) fn may_go_on_disk(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let inner = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".gzip"))
        .unwrap_or(&lower);
    [
        ".csv", ".tsv", ".txt", ".arrow", ".ipc", ".feather", ".parquet", ".pq",
    ]
    .iter()
    .any(|ext| inner.ends_with(ext))
}

/// The entry of `session`'s handle (its true shape: a handle's own numbers are never
/// trusted).
pub(crate) fn entry(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<EntryInfo, StayputError> {
    cache
        .entry(session, &handle.id)
        .ok_or(StayputError::UnknownHandle)
}

/// The chain of `session`'s frame `handle`: only frames made from files have one.
pub(crate) fn chain_of(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<Chain, StayputError> {
    match cache.lineage(session, &handle.id)? {
        Some(lineage) => Ok(Chain::of_lineage(&lineage)?),
        None => Err(StepError::NotFromFile.into()),
    }
}

/// The chain of `session`'s frame `handle` as a step added to it records it: with the
/// frame's rows and bytes as the cache counted them, which the steps after it are sized
/// by. A frame still being made has not been counted: the steps after it are sized as
/// if its steps kept every row. What a new step's lineage (and so its memo key) starts
/// from.
pub(crate) fn chain_to_extend(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<Chain, StayputError> {
    let made = entry(cache, session, handle)?;
    let chain = chain_of(cache, session, handle)?;
    Ok(match made.filling {
        true => chain,
        false => chain.knowing(made.rows, made.bytes),
    })
}

/// `session`'s frame `handle` as a lazy query: an upload is scanned from its file (only
/// what a query needs is read), anything else is the frame in the cache.
pub(crate) async fn lazy_of(
    cache: &FrameCache,
    uploads: &Uploads,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<LazyFrame, StayputError> {
    if let Some(source) = uploads.source_of(cache, session, &handle.id)? {
        return Ok(uploads.scan(&source)?);
    }
    let frame = cache.get(session, handle).await?;
    Ok(frame.as_ref().clone().lazy())
}

/// The handle of `chain` in `session`, made (memoized) by the transform recipe.
/// `hold` (the caller's heavy slot) is held while the chain runs: to its end, though the
/// caller goes away (the transform recipe runs to its end).
async fn make<H: Send + 'static>(
    cache: &FrameCache,
    session: SessionKey,
    chain: &Chain,
    hold: H,
) -> Result<FrameHandle, StayputError> {
    Ok(cache
        .make_memoized_holding(session, TRANSFORM, chain, placement_of(cache, chain), hold)
        .await?)
}

/// Where `chain`'s frame goes: straight into the disk tier when running it could take
/// more memory than one frame may (its source larger than memory, say) and polars'
/// streaming engine runs every step a batch at a time ([`sizing::how_to_run`]);
/// otherwise the cache's usual placement, what it takes reserved in memory first (a 413
/// when it cannot be).
fn placement_of(cache: &FrameCache, chain: &Chain) -> Placement {
    let run = sizing::how_to_run(chain, cache.memory_limit().1);
    if run == sizing::Run::Disk && cache.has_disk() {
        Placement::Disk
    } else {
        Placement::Auto
    }
}

/// Runs `chain` to a frame (the transform recipe: also how an evicted step is rebuilt),
/// by polars' streaming engine when `streamed` ([`sizing::Run::Streamed`]).
pub async fn run_chain(uploads: Uploads, chain: Chain, streamed: bool) -> Result<DataFrame, StayputError> {
    let engine = if streamed {
        Engine::Streaming
    } else {
        Engine::InMemory
    };
    blocking(move || Ok(chain.run_with(&uploads, engine)?)).await
}

/// `step` applied to `session`'s frame `handle`: a new handle (the same one for the same
/// step on the same parent). `hold` (the caller's heavy slot) is held by the work itself,
/// its checks and its run, until they end, though the caller goes away.
pub async fn transform<H: Send + 'static>(
    cache: &FrameCache,
    uploads: &Uploads,
    session: SessionKey,
    handle: &FrameHandle,
    step: Transform,
    max_bytes: u64,
    hold: H,
) -> Result<FrameHandle, StayputError> {
    let chain = chain_to_extend(cache, session, handle)?;
    let step = match step {
        Transform::Join { other, on, how } => ChainStep::Join {
            other: chain_of(cache, session, &other)?,
            on,
            how,
            size: JoinSize::default(),
        },
        step => ChainStep::Transform(step),
    };
    let next = chain.then(step);
    if next.steps_in_all() > MAX_CHAIN_STEPS {
        return Err(StayputError::BadSpec(format!(
            "a chain may have at most {MAX_CHAIN_STEPS} steps (joins count the other side's); start again from the upload"
        )));
    }
    let uploads = uploads.clone();
    // A join is sized by reading both sides whole: their memory reserved first.
    let room = match next.steps.last() {
        Some(ChainStep::Join { other, .. }) => Some(
            cache
                .reserve(
                    session,
                    sizing::peak_bytes(&chain).saturating_add(sizing::peak_bytes(other)),
                )
                .await?,
        ),
        _ => None,
    };
    let (next, hold) = blocking(move || {
        let _room_while_sizing = room;
        let mut next = next;
        // The new step's own schema resolved first: a step polars would refuse is the
        // user's 400 now, not a failed rebuild later.
        chain::schema_of(&mut next.lazy(&uploads)?)?;
        let parent = next.prefix(next.steps.len() - 1);
        if let Some(ChainStep::Join { other, on, how, size }) = next.steps.last_mut() {
            // Sized before anything runs, list items and text included, and recorded
            // for the transform recipe to reserve.
            *size = sizing::join_size(&parent, other, on, *how, &uploads)?;
            if size.bytes > max_bytes {
                return Err(StayputError::TooLarge {
                    needed: format!(
                        "{} (the join's {} rows, list items and text included)",
                        stayput_cache::ByteSize(size.bytes),
                        size.rows
                    ),
                    limit: Limit::SessionQuota.to_string(),
                    budget: stayput_cache::ByteSize(max_bytes).to_string(),
                    setting: Some(setting_of(Limit::SessionQuota).to_owned()),
                });
            }
        }
        Ok((next, hold))
    })
    .await?;
    make(cache, session, &next, hold).await
}

/// Most steps one chain may have, the steps of joined chains included: a chain is the
/// lineage every step carries, so it stays small.
pub const MAX_CHAIN_STEPS: usize = 64;

/// The breadcrumb of `chain`: each prefix with its handle when `session` holds it.
pub(crate) fn breadcrumb(cache: &FrameCache, session: SessionKey, chain: &Chain) -> Vec<ChainLink> {
    let entries = cache.list(session);
    let find = |function: &str, args: String| {
        entries
            .iter()
            .find(|e| {
                e.lineage
                    .as_ref()
                    .is_some_and(|l| l.function == function && l.args == args)
            })
            .map(EntryInfo::handle)
    };
    let mut links = vec![ChainLink {
        label: format!("upload {}", chain.source.name),
        handle: serde_json::to_string(&chain.source)
            .ok()
            .and_then(|args| find(UPLOAD, args)),
    }];
    for (done, step) in chain.steps.iter().enumerate() {
        let prefix = chain.prefix(done + 1);
        links.push(ChainLink {
            label: step.label(),
            handle: serde_json::to_string(&prefix)
                .ok()
                .and_then(|args| find(TRANSFORM, args)),
        });
    }
    links
}

/// The figure of `y` against `x` of `session`'s frame `handle`: the two columns made
/// ready once (memoized: x as numbers, sorted on the server) and reduced to the plot's
/// pixels by the figure engine (a long line through its kept pyramid), within the
/// spec's range when zoomed. The spec's `time_x` is the server's to find out.
pub async fn plot(
    (cache, uploads, pyramids): (&FrameCache, &Uploads, &Arc<PyramidStore>),
    session: SessionKey,
    handle: &FrameHandle,
    spec: FigureSpec,
) -> Result<FigureReply, StayputError> {
    let FigureSpec {
        x,
        y,
        kind,
        range,
        width_px,
        ..
    } = spec;
    crate::server::linked::not_bars(kind)?;
    let chain = chain_to_extend(cache, session, handle)?;
    let ready = chain.then(ChainStep::Plot {
        x: x.clone(),
        y: y.clone(),
    });
    let files = uploads.clone();
    // Checked against the parent's schema (a plan, not a read) off the async runtime.
    let time_x = blocking({
        let (chain, ready, x) = (chain.clone(), ready.clone(), x.clone());
        move || {
            let mut parent = chain.lazy(&files)?;
            let time_x = chain::schema_of(&mut parent)?
                .get(&x)
                .is_some_and(DataType::is_temporal);
            drop(ready.lazy(&files)?);
            Ok(time_x)
        }
    })
    .await?;
    let plot_handle = make(cache, session, &ready, ()).await?;
    let y = if x == y { format!("{y} ") } else { y };
    let spec = FigureSpec {
        x,
        y,
        kind,
        range,
        width_px,
        time_x,
    };
    let frame = cache.get(session, &plot_handle).await?;
    let pyramids = Arc::clone(pyramids);
    blocking(move || Ok(stayput_figures::figure_kept(&frame, &spec, &pyramids)?)).await
}
