//! The polars and plotly work behind the benchmark (server only).
//!
//! Everything here is a plain function of its inputs, run on rayon across all cores,
//! so it can be unit-tested and benchmarked without a server.

use plotly::layout::{Axis, Layout, Margin};
use plotly::{Bar, Plot};
use polars::prelude::*;
use rand::Rng;
use rayon::prelude::*;

use crate::StayputError;

/// The benchmark frame's only column.
pub const COLUMN: &str = "rnd";

/// Rows filled by one rayon task; large enough to amortise scheduling, small enough
/// to balance two cores.
const FILL_CHUNK: usize = 1 << 18;

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
/// there is one, see [`crate::buffers`]) and handed to polars without a copy. The same
/// seed gives the same frame whatever the number of threads: that is what lets the cache
/// rebuild an evicted frame from its lineage.
pub fn random_frame(rows: usize, base_seed: u64) -> DataFrame {
    let mut values = crate::buffers::with_capacity(rows);
    (0..rows)
        .into_par_iter()
        .with_min_len(FILL_CHUNK)
        .map(|i| uniform(base_seed, i as u64))
        .collect_into_vec(&mut values);
    frame_from_values(values)
}

/// The `index`-th uniform f64 in [0, 1) of the stream `seed`: SplitMix64's output for
/// the state `seed + (index + 1) * golden gamma`, its top 53 bits scaled to [0, 1).
/// Counter-based, so any row can be computed on its own.
pub fn uniform(seed: u64, index: u64) -> f64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Wraps `values` as a one-column frame, moving the buffer into polars.
pub fn frame_from_values(values: Vec<f64>) -> DataFrame {
    Float64Chunked::from_vec(COLUMN.into(), values)
        .into_series()
        .into_frame()
}

/// The frame's values as contiguous slices, one per polars chunk (no copy).
fn value_slices(frame: &DataFrame) -> Result<Vec<&[f64]>, StayputError> {
    let column = frame.column(COLUMN).map_err(|_| StayputError::UnknownHandle)?;
    let ca = column.f64().map_err(|_| StayputError::Internal)?;
    Ok(ca.downcast_iter().map(|arr| arr.values().as_slice()).collect())
}

/// The mean of [`COLUMN`], summed in parallel; `NaN` for an empty frame.
pub fn column_mean(frame: &DataFrame) -> Result<f64, StayputError> {
    let slices = value_slices(frame)?;
    let count: usize = slices.iter().map(|s| s.len()).sum();
    let sum: f64 = slices
        .par_iter()
        .flat_map(|s| s.par_chunks(FILL_CHUNK))
        .map(lane_sum)
        .sum();
    Ok(if count == 0 { f64::NAN } else { sum / count as f64 })
}

/// The mean of `values`, summed in parallel; `NaN` when empty.
pub fn mean_of(values: &[f64]) -> f64 {
    let sum: f64 = values.par_chunks(FILL_CHUNK).map(lane_sum).sum();
    sum / values.len() as f64
}

/// Sum of `values` in eight independent lanes: one running total would wait on each
/// addition's latency (~4 cycles); eight let the CPU vectorise and keep up with memory.
fn lane_sum(values: &[f64]) -> f64 {
    let mut lanes = [0.0_f64; 8];
    let mut blocks = values.chunks_exact(8);
    for block in &mut blocks {
        for (lane, v) in lanes.iter_mut().zip(block) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f64>() + blocks.remainder().iter().sum::<f64>()
}

/// Equal-width bins over the range of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub start: f64,
    /// Width of every bin.
    pub width: f64,
    /// Values per bin.
    pub counts: Vec<u64>,
}

/// Bins [`COLUMN`] into `bins` equal bins between its min and max, in parallel.
pub fn histogram(frame: &DataFrame, bins: usize) -> Result<Histogram, StayputError> {
    Ok(histogram_of(&value_slices(frame)?, bins))
}

/// Bins `slices` into `bins` equal bins between their min and max, in parallel. NaN
/// values are not counted.
pub fn histogram_of(slices: &[&[f64]], bins: usize) -> Histogram {
    let bins = bins.max(1);
    let chunks = || slices.par_iter().flat_map(|s| s.par_chunks(FILL_CHUNK));
    let (lo, hi) = chunks()
        .map(|c| {
            c.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
        })
        .reduce(
            || (f64::INFINITY, f64::NEG_INFINITY),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        );
    if !lo.is_finite() || !hi.is_finite() {
        return Histogram {
            start: 0.0,
            width: 1.0,
            counts: vec![0; bins],
        };
    }
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let counts = chunks()
        .fold(
            || vec![0_u64; bins],
            |mut counts, c| {
                for &v in c.iter().filter(|v| !v.is_nan()) {
                    let bin = (((v - lo) / width) as usize).min(bins - 1);
                    counts[bin] += 1;
                }
                counts
            },
        )
        .reduce(
            || vec![0_u64; bins],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    Histogram {
        start: lo,
        width,
        counts,
    }
}

/// Rounds to 6 significant digits so that figure JSON does not grow with noise digits.
fn round6(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10_f64.powi(5 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// Plotly figure JSON of a histogram: one bar trace, bars touching.
///
/// Its size depends on the number of bins, not on the number of rows binned.
pub fn histogram_figure(hist: &Histogram, rows: u64) -> String {
    histogram_figure_of(hist, COLUMN, rows)
}

/// [`histogram_figure`] of the column `name`.
pub fn histogram_figure_of(hist: &Histogram, name: &str, rows: u64) -> String {
    let centers: Vec<f64> = (0..hist.counts.len())
        .map(|i| round6(hist.start + (i as f64 + 0.5) * hist.width))
        .collect();
    let trace = Bar::new(centers, hist.counts.clone())
        .name(name)
        .width(round6(hist.width));
    let mut plot = Plot::new();
    plot.add_trace(trace);
    plot.set_layout(
        Layout::new()
            .title(format!(
                "{name}: {} rows in {} bins",
                crate::sizes::with_thousands(rows),
                hist.counts.len()
            ))
            .bar_gap(0.0)
            .height(320)
            .margin(Margin::new().top(48).bottom(40).left(56).right(16))
            .x_axis(Axis::new().title(name))
            .y_axis(Axis::new().title("count")),
    );
    plot.to_json()
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
    fn seeds_decide_the_frame() {
        let bytes = |seed| frame_to_bytes(&random_frame(700_000, seed)).expect("bytes");
        assert_ne!(bytes(1), bytes(2), "different seeds, different frames");
        assert_eq!(
            bytes(3),
            bytes(3),
            "same seed, same frame (three chunks, any thread count)"
        );
    }

    #[test]
    fn mean_and_histogram_are_exact_on_known_data() {
        let frame = frame_from_values(vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(column_mean(&frame), Ok(1.5));
        let hist = histogram(&frame, 3).expect("hist");
        assert_eq!(hist.counts, vec![1, 1, 2], "the max lands in the last bin");
        assert_eq!(hist.start, 0.0);
        assert_eq!(hist.width, 1.0);
    }

    #[test]
    fn lane_sum_matches_a_plain_sum_for_every_remainder() {
        for n in 0_u64..40 {
            let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(lane_sum(&values), (n * n.saturating_sub(1) / 2) as f64, "n = {n}");
        }
    }

    #[test]
    fn a_single_row_has_one_full_bin() {
        let hist = histogram(&frame_from_values(vec![0.25]), 50).expect("hist");
        assert_eq!(hist.counts.iter().sum::<u64>(), 1);
        assert_eq!(hist.counts[0], 1);
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
    fn figure_size_follows_bins_not_rows() {
        let small = histogram_figure(
            &histogram(&random_frame(1_000, new_seed()), HISTOGRAM_BINS).expect("h"),
            1_000,
        );
        let large = histogram_figure(
            &histogram(&random_frame(1_000_000, new_seed()), HISTOGRAM_BINS).expect("h"),
            1_000_000,
        );
        let parsed: serde_json::Value = serde_json::from_str(&large).expect("valid JSON");
        assert_eq!(parsed["data"][0]["type"], "bar");
        assert_eq!(
            parsed["data"][0]["y"].as_array().map(Vec::len),
            Some(HISTOGRAM_BINS)
        );
        let diff = large.len().abs_diff(small.len());
        assert!(diff < 300, "{} vs {} bytes", small.len(), large.len());
    }
}
