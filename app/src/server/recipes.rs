//! How each kind of Stayput frame is made: registered with the cache under the names in
//! [`crate::contract::recipes`], so an evicted frame is rebuilt from its lineage.

use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use stayput_cache::{spare, FrameCacheBuilder};
use stayput_data::Uploads;

pub use crate::contract::recipes::{CREATE_FRAME, TIME_SERIES, TRANSFORM};
use crate::contract::sizes::validate_rows;
use crate::contract::StayputError;
use crate::server::{bench_frame, cancellable, cancellable_on_rayon};

/// The arguments of both recipes: with the seed, the lineage rebuilds the very same frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateArgs {
    /// Rows of the frame.
    pub rows: u64,
    /// Seed of its random numbers.
    pub seed: u64,
}

/// Registers Stayput's recipes, so that evicted frames are rebuilt from their lineage
/// (`/explore`'s frames larger than memory among them, [`crate::server::on_disk`]),
/// and takes evicted frames' buffers back for later fills ([`spare`]).
pub fn with_recipes(builder: FrameCacheBuilder) -> FrameCacheBuilder {
    crate::server::on_disk::with_disk_recipes(builder)
        .recycle(spare::reclaim)
        // Sizes declared, so the cache reserves the memory before a fill starts and
        // refuses at once what cannot fit.
        .sized_recipe(
            CREATE_FRAME,
            |args: &CreateArgs| args.rows.saturating_mul(8),
            |args: CreateArgs| async move {
                let rows = validate_rows(args.rows)? as usize;
                let fill =
                    move |stop: &AtomicBool| Ok(bench_frame::random_frame_until(rows, args.seed, stop));
                if rows <= bench_frame::SEQUENTIAL_ROWS {
                    // Small: on the blocking pool, at normal priority, never queued behind
                    // large work on rayon's (niced) workers.
                    cancellable(fill).await
                } else {
                    cancellable_on_rayon(rows as u64, fill).await
                }
            },
        )
        .sized_recipe(
            TIME_SERIES,
            |args: &CreateArgs| args.rows.saturating_mul(8 * 4),
            |args: CreateArgs| async move {
                let rows = validate_rows(args.rows)?;
                cancellable(move |stop| {
                    stayput_figures::demo::time_series_until(rows as usize, args.seed, stop).map_err(|err| {
                        tracing::error!(%err, "time series");
                        StayputError::Internal
                    })
                })
                .await
            },
        )
}

/// Lets the cache take uploads into `uploads` and registers `/data`'s transform recipe:
/// a transformed frame is rebuilt by running its chain again over the kept file. Its
/// size is the chain's peak ([`stayput_data::sizing::peak_bytes`]): a polars
/// collect cannot be stopped once started, so it starts only with room for all of it,
/// and that room stays reserved until it ends, though its caller goes away.
pub fn with_data(builder: FrameCacheBuilder, uploads: &Uploads) -> FrameCacheBuilder {
    use crate::server::data::run_chain;
    use stayput_data::{chain::Chain, sizing};
    let files = uploads.clone();
    let (_, limit) = builder.config().frame_limit();
    uploads
        .wire(builder)
        .sized_recipe(
            TRANSFORM,
            move |chain: &Chain| sizing::memory_bytes(chain, limit),
            move |chain: Chain| {
                let streamed = sizing::how_to_run(&chain, limit) == sizing::Run::Streamed;
                run_chain(files.clone(), chain, streamed)
            },
        )
        .runs_to_end(TRANSFORM)
        // A chain over a frame larger than memory whose steps all stream: run by polars'
        // streaming engine straight into the disk tier, a batch at a time.
        .disk_file_recipe(
            TRANSFORM,
            |chain: &Chain| stayput_cache::DiskWrite {
                file: sizing::output_bytes(chain),
                memory: stayput_data::streamed::IN_FLIGHT_BYTES,
            },
            {
                let files = uploads.clone();
                move |chain: Chain, out: &mut dyn std::io::Write| write_streamed(&files, &chain, out)
            },
        )
}

/// Writes `chain`'s frame to `out` as an Arrow IPC file by polars' streaming engine. A
/// step the data cannot take fails as it does in memory (the recipe's own error, a 400
/// with polars' words); only a failed read or write is the disk's.
fn write_streamed(
    files: &Uploads,
    chain: &stayput_data::chain::Chain,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use polars::prelude::PolarsError;
    use stayput_data::StepError;
    let step_failed =
        |err: StepError| std::io::Error::other(stayput_cache::RecipeError::new(StayputError::from(err)));
    let query = chain.lazy(files).map_err(step_failed)?;
    match stayput_data::streamed::write_ipc(query, out) {
        Ok(_) => Ok(()),
        Err(PolarsError::IO { error, .. }) => Err(std::io::Error::new(error.kind(), error.to_string())),
        Err(err) => Err(step_failed(StepError::from(err))),
    }
}
