//! Reference data for the engine: a time series with the shapes decimation must not
//! spoil. Its tests, its criterion bench and its crate example draw it, and an app may
//! offer it as built-in data (Stayput's `/explore` does), so it lives with the engine.
//!
//! - `time`: milliseconds since the Unix epoch, one row per second, sorted (and flagged
//!   sorted, so range queries can binary-search it);
//! - `walk`: a random walk (steps uniform in [-1, 1));
//! - `sine`: a slow sine plus noise;
//! - `spiky`: low noise with rare tall spikes, about one row in 100,000.
//!
//! Filled in parallel from a seed, chunk by chunk, so the same seed gives the same frame
//! whatever the number of threads (what lets a cache rebuild it from its lineage).

use polars::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// The sorted x column.
pub const TIME: &str = "time";
/// The value columns.
pub const VALUES: [&str; 3] = ["walk", "sine", "spiky"];
/// First timestamp: 2024-01-01T00:00:00Z in milliseconds.
pub const START_MS: f64 = 1_704_067_200_000.0;
/// One row per second.
pub const STEP_MS: f64 = 1_000.0;

const CHUNK: usize = 1 << 18;

fn rng_for(seed: u64, column: u64, chunk: usize) -> SmallRng {
    SmallRng::seed_from_u64(
        seed ^ column.wrapping_mul(0xA24B_AED4_963E_E407)
            ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// `f(rng, row)` for every row, in parallel chunks with their own generators; `None`
/// as soon as `stop` is set (checked before each chunk).
fn fill(
    rows: usize,
    seed: u64,
    column: u64,
    stop: &AtomicBool,
    f: impl Fn(&mut SmallRng, usize) -> f64 + Sync,
) -> Option<Vec<f64>> {
    let mut values = vec![0.0_f64; rows];
    values
        .par_chunks_mut(CHUNK)
        .enumerate()
        .try_for_each(|(c, chunk)| {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let mut rng = rng_for(seed, column, c);
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = f(&mut rng, c * CHUNK + i);
            }
            Some(())
        })?;
    Some(values)
}

/// A random walk: steps filled and summed per chunk in parallel, then each chunk shifted
/// by the total of the chunks before it.
fn random_walk(rows: usize, seed: u64, stop: &AtomicBool) -> Option<Vec<f64>> {
    let mut values = fill(rows, seed, 1, stop, |rng, _| rng.random::<f64>() * 2.0 - 1.0)?;
    let totals: Vec<f64> = values
        .par_chunks_mut(CHUNK)
        .map(|chunk| {
            let mut sum = 0.0;
            for v in chunk.iter_mut() {
                sum += *v;
                *v = sum;
            }
            sum
        })
        .collect();
    let offsets: Vec<f64> = totals
        .iter()
        .scan(0.0, |acc, t| {
            let before = *acc;
            *acc += t;
            Some(before)
        })
        .collect();
    values
        .par_chunks_mut(CHUNK)
        .zip(offsets)
        .for_each(|(chunk, offset)| chunk.iter_mut().for_each(|v| *v += offset));
    Some(values)
}

/// The time series with `rows` rows from `seed`.
pub fn time_series(rows: usize, seed: u64) -> PolarsResult<DataFrame> {
    time_series_until(rows, seed, &AtomicBool::new(false))
        .and_then(|frame| frame.ok_or_else(|| polars_err!(ComputeError: "stopped")))
}

/// Like [`time_series`], but gives up (`Ok(None)`) as soon as `stop` is set: a server
/// sets it when the request the series is for goes away, so a large fill does not run
/// to its end for nobody.
pub fn time_series_until(rows: usize, seed: u64, stop: &AtomicBool) -> PolarsResult<Option<DataFrame>> {
    let period = (rows as f64 / 5.0).max(10.0);
    let Some(time) = fill(rows, seed, 0, stop, |_, i| START_MS + i as f64 * STEP_MS) else {
        return Ok(None);
    };
    let Some(walk) = random_walk(rows, seed, stop) else {
        return Ok(None);
    };
    let Some(sine) = fill(rows, seed, 2, stop, |rng, i| {
        (std::f64::consts::TAU * i as f64 / period).sin() + (rng.random::<f64>() - 0.5) * 0.4
    }) else {
        return Ok(None);
    };
    let Some(spiky) = fill(rows, seed, 3, stop, |rng, _| {
        let noise = rng.random::<f64>() * 0.1;
        if rng.random::<f64>() < 1e-5 {
            noise + 2.0 + rng.random::<f64>() * 8.0
        } else {
            noise
        }
    }) else {
        return Ok(None);
    };
    let mut time = Float64Chunked::from_vec(TIME.into(), time);
    time.set_sorted_flag(polars::series::IsSorted::Ascending);
    let columns = [
        time.into_series(),
        Float64Chunked::from_vec(VALUES[0].into(), walk).into_series(),
        Float64Chunked::from_vec(VALUES[1].into(), sine).into_series(),
        Float64Chunked::from_vec(VALUES[2].into(), spiky).into_series(),
    ];
    DataFrame::new(rows, columns.into_iter().map(Column::from).collect()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(frame: &DataFrame, name: &str) -> Vec<f64> {
        frame
            .column(name)
            .and_then(|c| c.f64().cloned())
            .map(|ca| ca.into_no_null_iter().collect())
            .unwrap_or_default()
    }

    #[test]
    fn columns_shapes_and_reproducibility() {
        let rows = 600_000; // three chunks
        let frame = time_series(rows, 7).expect("frame");
        assert_eq!(frame.height(), rows);
        assert_eq!(frame.get_column_names(), vec![TIME, "walk", "sine", "spiky"]);
        let time = values(&frame, TIME);
        assert_eq!(time[0], START_MS);
        assert!(time.windows(2).all(|w| w[1] - w[0] == STEP_MS));
        let walk = values(&frame, "walk");
        let steps_ok = walk.windows(2).all(|w| (w[1] - w[0]).abs() <= 1.0);
        assert!(steps_ok, "a walk moves at most 1 per row, across chunk edges too");
        let spikes = values(&frame, "spiky").iter().filter(|v| **v > 1.0).count();
        assert!((1..30).contains(&spikes), "{spikes} spikes");
        assert!(
            frame.equals(&time_series(rows, 7).expect("again")),
            "same seed, same frame"
        );
        assert!(!frame.equals(&time_series(rows, 8).expect("other")));
    }

    #[test]
    fn a_set_stop_flag_ends_the_fill() {
        let stop = AtomicBool::new(true);
        assert!(time_series_until(1_000_000, 1, &stop)
            .expect("no error")
            .is_none());
        let go = AtomicBool::new(false);
        assert!(time_series_until(1_000, 1, &go).expect("no error").is_some());
    }
}
