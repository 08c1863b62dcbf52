//! `/explore`'s frames larger than memory: uniform random numbers made straight into the
//! disk tier ([`FrameCache::make_on_disk`]), up to [`MAX_DISK_ROWS`] rows within the
//! disk budget, and drawn from the mapped file.
//!
//! The fill writes [`FILL_ROWS`] values at a time, the same numbers as the in-memory
//! frame of the same seed ([`bench_frame::uniform`]), and builds the column's min/max
//! pyramid from each piece as it goes: a figure of the frame then reads the pyramid
//! and the few raw rows at the edges of its pixels, never a scan of the file. The
//! pyramid is handed to the figure store ([`PyramidStore::adopt`]) for the frame's
//! mapping on its first figure ([`adopt_made`]).
//!
//! Memory: the fill holds one piece (32 MB) and the pyramid being built (1.6 % of the
//! frame, ~130 MB at 1e9 rows); the figures hold the pyramid, within the figure store's
//! budget. The file's pages come in as the figures touch them, as page cache.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stayput_cache::{DiskShape, FrameCache, FrameCacheBuilder, FrameHandle, SessionKey, Values};
use stayput_figures::pyramid::{MinMaxPyramid, PyramidBuilder};
use stayput_figures::PyramidStore;

pub use crate::contract::recipes::UNIFORM_ON_DISK;
pub use crate::contract::sizes::MAX_DISK_ROWS;
use crate::contract::StayputError;
use crate::server::bench_frame::{self, COLUMN};

/// Values made, pyramided and written at a time: 32 MB.
pub const FILL_ROWS: usize = 1 << 22;

/// Pyramids made with their frames and not yet handed to the figure store: at most
/// this many (each ~1.6 % of its frame), the newest kept.
const WAITING: usize = 2;

/// The arguments of [`UNIFORM_ON_DISK`]: the same as the in-memory frame's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDiskArgs {
    /// Rows of the frame.
    pub rows: u64,
    /// Seed of its random numbers.
    pub seed: u64,
}

/// The pyramids made with their frames, by the frame's arguments, waiting for its first
/// figure. A static, as the recipe is registered before the figure store exists; its
/// keys are the frames' own (random seeds), so servers sharing a process share nothing
/// but a pyramid of the very same numbers.
static MADE: Mutex<VecDeque<(OnDiskArgs, Arc<MinMaxPyramid>)>> = Mutex::new(VecDeque::new());

fn made_pyramids() -> std::sync::MutexGuard<'static, VecDeque<(OnDiskArgs, Arc<MinMaxPyramid>)>> {
    MADE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers [`UNIFORM_ON_DISK`], the disk recipe of uniform random numbers.
pub fn with_disk_recipes(builder: FrameCacheBuilder) -> FrameCacheBuilder {
    builder.disk_recipe(
        UNIFORM_ON_DISK,
        |args: &OnDiskArgs| DiskShape {
            columns: vec![COLUMN.to_owned()],
            rows: args.rows,
        },
        |args: OnDiskArgs, values: Values<'_>| {
            let pyramid = fill(args, values)?;
            let mut made = made_pyramids();
            made.retain(|(a, _)| *a != args);
            if made.len() >= WAITING {
                made.pop_front();
            }
            made.push_back((args, Arc::new(pyramid)));
            Ok::<(), std::io::Error>(())
        },
    )
}

/// Gives the values of `args` to `values` a piece at a time, and returns their pyramid.
fn fill(args: OnDiskArgs, values: Values<'_>) -> std::io::Result<MinMaxPyramid> {
    let rows = args.rows as usize;
    let mut pyramid = PyramidBuilder::default();
    let mut piece = vec![0.0; FILL_ROWS.min(rows)];
    for start in (0..rows).step_by(FILL_ROWS) {
        let end = (start + FILL_ROWS).min(rows);
        let piece = &mut piece[..end - start];
        piece
            .par_iter_mut()
            .with_min_len(1 << 16)
            .enumerate()
            .for_each(|(i, v)| *v = bench_frame::uniform(args.seed, (start + i) as u64));
        pyramid.push(piece);
        // Fails once the request waiting for the frame has gone away.
        values(piece)?;
    }
    Ok(pyramid.finish())
}

/// Makes `rows` uniform random numbers straight into the disk tier of `cache`.
pub async fn make_uniform_on_disk(
    cache: &FrameCache,
    session: SessionKey,
    rows: u64,
) -> Result<FrameHandle, StayputError> {
    if !(1..=MAX_DISK_ROWS).contains(&rows) {
        return Err(StayputError::InvalidSize(rows.to_string()));
    }
    let args = OnDiskArgs {
        rows,
        seed: bench_frame::new_seed(),
    };
    let made = cache.make_on_disk(session, UNIFORM_ON_DISK, &args).await;
    if made.is_err() {
        // Its pyramid, if the fill got that far, is for a frame no one will draw.
        made_pyramids().retain(|(a, _)| *a != args);
    }
    Ok(made?)
}

/// Hands the pyramid made with the frame behind `handle` (if it is one of these and its
/// pyramid waits) to `pyramids`, for `frame`, its mapping.
pub fn adopt_made(
    cache: &FrameCache,
    session: SessionKey,
    handle: &FrameHandle,
    frame: &Arc<polars::prelude::DataFrame>,
    pyramids: &PyramidStore,
) {
    let Ok(Some(lineage)) = cache.lineage(session, &handle.id) else {
        return;
    };
    if lineage.function != UNIFORM_ON_DISK {
        return;
    }
    let Ok(args) = serde_json::from_str::<OnDiskArgs>(&lineage.args) else {
        return;
    };
    let waiting = {
        let mut made = made_pyramids();
        let at = made.iter().position(|(a, _)| *a == args);
        at.and_then(|at| made.remove(at))
    };
    if let Some((_, pyramid)) = waiting {
        if pyramid.rows() == frame.height() {
            pyramids.adopt(frame, COLUMN, pyramid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pieces_are_the_in_memory_frames_numbers_and_their_pyramid() {
        let args = OnDiskArgs {
            rows: (FILL_ROWS + 1_234) as u64,
            seed: 42,
        };
        let mut given = Vec::new();
        let pyramid = fill(args, &mut |piece: &[f64]| {
            given.extend_from_slice(piece);
            Ok(())
        })
        .expect("filled");
        let frame = bench_frame::random_frame(args.rows as usize, args.seed);
        let expected = stayput_figures::values(&frame, COLUMN).expect("values");
        assert!(given == *expected, "the same numbers as the frame made in memory");
        let whole = MinMaxPyramid::build(&expected);
        assert_eq!(pyramid.rows(), whole.rows());
        assert_eq!(pyramid.bytes(), whole.bytes());
        for range in [0..given.len(), 1..FILL_ROWS + 7, 4_000_000..4_100_000] {
            assert_eq!(
                pyramid.extremes(&given, range.clone()),
                whole.extremes(&given, range),
            );
        }
    }

    #[test]
    fn a_fill_stops_when_its_writer_fails() {
        let args = OnDiskArgs {
            rows: (3 * FILL_ROWS) as u64,
            seed: 1,
        };
        let mut calls = 0;
        let stopped = fill(args, &mut |_: &[f64]| {
            calls += 1;
            Err(std::io::Error::other("write cancelled"))
        });
        assert!(stopped.is_err());
        assert_eq!(calls, 1, "no piece made after the first failed");
    }
}
