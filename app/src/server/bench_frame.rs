//! The benchmark's workload: the frame of uniform random numbers Dash's reference
//! builds, its mean and histogram, and client mode's raw bytes.
//!
//! Everything here is a plain function of its inputs, run on rayon across all cores,
//! so it can be unit-tested and benchmarked without a server.

use polars::prelude::*;
use rand::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

use stayput_cache::spare;
use stayput_figures::histogram::histogram_figure as figure_of;
use stayput_figures::stats::{histogram_of, mean_of, Histogram};

use crate::contract::StayputError;

/// The benchmark frame's only column.
pub const COLUMN: &str = "rnd";

/// Rows filled by one rayon task; large enough to amortise scheduling, small enough
/// to balance two cores.
const FILL_CHUNK: usize = 1 << 16;

/// Fills up to this many rows on the calling thread: waking rayon's workers costs more
/// than it saves below it (the recipe runs such fills on the blocking pool).
pub const SEQUENTIAL_ROWS: usize = 1 << 18;

/// Bins of the histogram below the benchmark.
pub const HISTOGRAM_BINS: usize = 50;

/// A fresh seed for [`random_frame`], from the thread's cryptographically seeded generator.
pub fn new_seed() -> u64 {
    rand::rng().random()
}

/// A frame with one column [`COLUMN`] of `rows` uniform random f64 in [0, 1).
///
/// Value `i` is a pure function of `base_seed` and `i` ([`uniform`]), so the rows are
/// filled in parallel straight into the buffer (a spare one from an evicted frame when
/// there is one, see [`spare`]) and handed to polars without a copy. The same
/// seed gives the same frame whatever the number of threads: that is what lets the cache
/// rebuild an evicted frame from its lineage.
pub fn random_frame(rows: usize, base_seed: u64) -> DataFrame {
    let values = fill_until(rows, base_seed, &AtomicBool::new(false)).unwrap_or_default();
    frame_from_values(values)
}

/// Like [`random_frame`], but gives up (`None`, its buffer freed) as soon as `stop` is
/// set: it is checked before each block of [`STOP_CHECK_ROWS`] rows.
pub fn random_frame_until(rows: usize, base_seed: u64, stop: &AtomicBool) -> Option<DataFrame> {
    fill_until(rows, base_seed, stop).map(frame_from_values)
}

/// Rows filled between two looks at the stop flag: 32 MB, a few milliseconds.
const STOP_CHECK_ROWS: usize = 1 << 22;

fn fill_until(rows: usize, base_seed: u64, stop: &AtomicBool) -> Option<Vec<f64>> {
    let mut values = spare::with_capacity(rows);
    if rows <= SEQUENTIAL_ROWS {
        // A few tasks' worth: on this thread, never queued behind large fills on rayon.
        values.extend((0..rows).map(|i| uniform(base_seed, i as u64)));
        return Some(values);
    }
    for start in (0..rows).step_by(STOP_CHECK_ROWS) {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        let end = (start + STOP_CHECK_ROWS).min(rows);
        // Written in place into the reserved capacity (an indexed parallel extend).
        values.par_extend(
            (start..end)
                .into_par_iter()
                .with_min_len(FILL_CHUNK)
                .map(|i| uniform(base_seed, i as u64)),
        );
    }
    Some(values)
}

/// The `index`-th uniform f64 in [0, 1) of the stream `seed`: wyrand's output (the
/// generator of wyhash, also `fastrand`'s) for the state `seed + (index + 1) * GAMMA`,
/// its top 53 bits scaled to [0, 1). Counter-based, so any row can be computed on its
/// own, in any order, on any thread. One 64×64→128-bit multiply a value where SplitMix64
/// (used before, under the recipe name `create_frame`) took three: 1e6 values on one core
/// of this machine ~3.0 ms instead of ~3.5 ms, and in parallel 1e7 ~11 ms instead of
/// ~16 ms (a micro-benchmark). `fastrand` has the same generator but only as a
/// sequential stream, not by row.
pub fn uniform(seed: u64, index: u64) -> f64 {
    const GAMMA: u64 = 0x2d35_8dcc_aa6c_78a5;
    const MIX: u64 = 0x8bb8_4b93_962e_acc9;
    let state = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(GAMMA));
    let product = u128::from(state) * u128::from(state ^ MIX);
    let z = (product as u64) ^ ((product >> 64) as u64);
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Wraps `values` as a one-column frame, moving the buffer into polars.
pub fn frame_from_values(values: Vec<f64>) -> DataFrame {
    Float64Chunked::from_vec(COLUMN.into(), values)
        .into_series()
        .into_frame()
}

/// The frame's values as contiguous slices, one per polars chunk (no copy). A frame
/// without the benchmark's column is not a benchmark frame: say so, never "unknown".
fn value_slices(frame: &DataFrame) -> Result<Vec<&[f64]>, StayputError> {
    stayput_figures::f64_slices(frame, COLUMN).map_err(|_| {
        StayputError::BadRequest(format!(
            "this frame is not a benchmark frame (it has no column {COLUMN:?})"
        ))
    })
}

/// The mean of [`COLUMN`] (`stayput_figures::stats::mean_of`); `NaN` for an empty frame.
pub fn column_mean(frame: &DataFrame) -> Result<f64, StayputError> {
    Ok(mean_of(&value_slices(frame)?))
}

/// Bins [`COLUMN`] into `bins` equal bins between its min and max, in parallel.
pub fn histogram(frame: &DataFrame, bins: usize) -> Result<Histogram, StayputError> {
    Ok(histogram_of(&value_slices(frame)?, bins))
}

/// Plotly figure JSON of the histogram of [`COLUMN`] over `rows` rows: its size depends
/// on the number of bins, not on the number of rows binned.
pub fn histogram_figure(hist: &Histogram, rows: u64) -> String {
    figure_of(hist, COLUMN, rows)
}

/// The frame as raw little-endian f64 bytes: what client mode sends to the browser.
pub fn frame_to_bytes(frame: &DataFrame) -> Result<Vec<u8>, StayputError> {
    let slices = value_slices(frame)?;
    let total: usize = slices.iter().map(|s| s.len()).sum();
    let mut out = Vec::with_capacity(total * 8);
    for slice in slices {
        for v in slice {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

/// Reads raw little-endian f64 bytes back into a frame: what client mode receives.
pub fn frame_from_bytes(bytes: &[u8]) -> Result<DataFrame, StayputError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
        return Err(StayputError::BadRequest(format!(
            "expected a non-empty body of 8-byte floats, got {} bytes",
            bytes.len()
        )));
    }
    let values: Vec<f64> = bytes
        .par_chunks(8 * FILL_CHUNK)
        .flat_map_iter(|c| {
            c.chunks_exact(8).map(|b| {
                let mut le = [0_u8; 8];
                le.copy_from_slice(b);
                f64::from_le_bytes(le)
            })
        })
        .collect();
    Ok(frame_from_values(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_stop_flag_ends_the_fill() {
        assert!(random_frame_until(10 * STOP_CHECK_ROWS, 1, &AtomicBool::new(true)).is_none());
        let whole = random_frame_until(STOP_CHECK_ROWS + 5, 1, &AtomicBool::new(false)).expect("filled");
        assert_eq!(whole.height(), STOP_CHECK_ROWS + 5);
        assert_eq!(
            whole,
            random_frame(STOP_CHECK_ROWS + 5, 1),
            "blocks change nothing"
        );
    }

    #[test]
    fn random_frame_is_uniform_on_the_unit_interval() {
        let frame = random_frame(1_000_000, new_seed());
        assert_eq!(frame.height(), 1_000_000);
        let mean = column_mean(&frame).expect("mean");
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        let hist = histogram(&frame, 10).expect("hist");
        assert!(hist.start >= 0.0 && hist.start + hist.width * 10.0 <= 1.0 + 1e-9);
        assert_eq!(hist.counts.iter().sum::<u64>(), 1_000_000);
        for c in &hist.counts {
            assert!((90_000..110_000).contains(c), "bin count {c}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_frame_on_one_thread_as_on_many() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let rows = SEQUENTIAL_ROWS + 3 * FILL_CHUNK + 17; // filled in parallel
        let alone = one.install(|| random_frame(rows, 7));
        assert_eq!(alone, random_frame(rows, 7), "what a rebuild elsewhere must give");
        assert_eq!(
            value_slices(&alone).expect("values")[0][rows - 1],
            uniform(7, (rows - 1) as u64),
            "each row is its own function of the seed"
        );
    }

    #[test]
    fn neighbouring_rows_are_independent() {
        // Rows come from consecutive counter states: a weak mix would show it in the
        // correlation of each row with the next (0 for independent rows).
        let frame = random_frame(1_000_000, new_seed());
        let values = value_slices(&frame).expect("values").concat();
        let n = (values.len() - 1) as f64;
        let lagged: f64 = values
            .windows(2)
            .map(|w| (w[0] - 0.5) * (w[1] - 0.5))
            .sum::<f64>()
            / n;
        let correlation = lagged / (1.0 / 12.0);
        assert!(correlation.abs() < 0.005, "lag-1 correlation {correlation}");
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
    }

    #[test]
    fn seeds_decide_the_frame() {
        let bytes = |seed| frame_to_bytes(&random_frame(700_000, seed)).expect("bytes");
        assert_ne!(bytes(1), bytes(2), "different seeds, different frames");
        assert_eq!(bytes(3), bytes(3), "same seed, same frame (several chunks)");
    }

    #[test]
    fn bytes_round_trip_and_bad_bodies_are_refused() {
        let frame = random_frame(1234, new_seed());
        let bytes = frame_to_bytes(&frame).expect("bytes");
        assert_eq!(bytes.len(), 1234 * 8);
        let back = frame_from_bytes(&bytes).expect("decode");
        assert!(back.equals(&frame));
        assert!(matches!(
            frame_from_bytes(&bytes[..13]),
            Err(StayputError::BadRequest(_))
        ));
        assert!(matches!(frame_from_bytes(&[]), Err(StayputError::BadRequest(_))));
    }

    #[test]
    fn another_frame_is_not_a_benchmark_frame() {
        let other = DataFrame::new(1, vec![Column::new("x".into(), [1.0])]).expect("frame");
        let err = column_mean(&other).expect_err("no rnd column");
        assert!(matches!(err, StayputError::BadRequest(_)), "{err:?}");
        assert!(err.to_string().contains("not a benchmark frame"), "{err}");
        let hist = histogram(&frame_from_values(vec![0.0, 1.0]), HISTOGRAM_BINS).expect("hist");
        let parsed: serde_json::Value = serde_json::from_str(&histogram_figure(&hist, 2)).expect("json");
        assert_eq!(parsed["layout"]["title"]["text"], "rnd: 2 rows in 50 bins");
    }
}
