//! The min/max pyramid gives the very rows the plain MinMax scan gives: on random columns
//! full of ties, NaN, infinities and signed zeros, for any range; and through the figure
//! engine, the same figure JSON for the same width, full range and zoomed.

use proptest::prelude::*;

use stayput_figures::decimate::{minmax_pairs, minmax_pairs_with};
use stayput_figures::demo::{time_series, START_MS, STEP_MS, TIME};
use stayput_figures::pyramid::MinMaxPyramid;
use stayput_figures::{figure, figure_kept, ChartKind, FigureSpec, PyramidStore, ROW};

/// `rows` values from `seed`: mostly a few small integers (ties everywhere), with NaN,
/// both infinities, -0.0 and 0.0 mixed in at the rate `odd` per 1,000.
fn column(rows: usize, seed: u64, odd: u64) -> Vec<f64> {
    let mut state = seed | 1;
    (0..rows)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pick = state % 1_000;
            if pick < odd {
                [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0][(state >> 20) as usize % 5]
            } else {
                ((state >> 32) % 50) as f64
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_range_gives_the_rows_one_scan_gives(
        seed in any::<u64>(),
        rows in 1usize..600_000,
        odd in 0u64..1_000,
        a in 0.0f64..1.0,
        b in 0.0f64..1.0,
    ) {
        let values = column(rows, seed, odd);
        let pyramid = MinMaxPyramid::build(&values);
        let (lo, hi) = ((a.min(b) * rows as f64) as usize, (a.max(b) * rows as f64) as usize);
        let range = lo.min(rows - 1)..(hi + 1).min(rows);
        let scanned = minmax_pairs(&values, range.clone(), 1)[0];
        prop_assert_eq!(pyramid.extremes(&values, range.clone()), scanned, "range {:?}", range);
    }

    #[test]
    fn every_bucket_matches(
        seed in any::<u64>(),
        rows in 300_000usize..1_500_000,
        odd in 0u64..50,
        buckets in 1usize..300,
    ) {
        let values = column(rows, seed, odd);
        let pyramid = MinMaxPyramid::build(&values);
        let plain = minmax_pairs(&values, 0..rows, buckets);
        prop_assert_eq!(minmax_pairs_with(&values, 0..rows, buckets, Some(&pyramid)), plain);
        let zoom = rows / 7..rows - rows / 5;
        prop_assert_eq!(
            minmax_pairs_with(&values, zoom.clone(), buckets, Some(&pyramid)),
            minmax_pairs(&values, zoom, buckets)
        );
    }
}

#[test]
fn a_kept_pyramid_draws_the_same_figure_for_every_width_and_zoom() {
    let rows = 3_000_000;
    let frame = std::sync::Arc::new(time_series(rows, 7).expect("series"));
    let store = PyramidStore::new(1 << 30);
    let step = |k: usize| START_MS + k as f64 * STEP_MS;
    let ranges = [
        (None, None),
        (Some(step(rows / 2)), Some(step(rows / 2 + rows / 100))),
        (Some(step(12_345)), Some(step(2_900_001))),
        (Some(step(0)), Some(step(rows - 1))),
    ];
    for (x, time_x) in [(TIME, true), (ROW, false)] {
        for width in [300, 1_000, 1_917, 4_000] {
            for range in ranges {
                // A zoom of the row number runs over row numbers.
                let range = if time_x {
                    range
                } else {
                    let row = |v: Option<f64>| v.map(|v| ((v - START_MS) / STEP_MS).round());
                    (row(range.0), row(range.1))
                };
                let spec = FigureSpec {
                    x: x.into(),
                    y: "walk".into(),
                    kind: ChartKind::Line,
                    range,
                    width_px: width,
                    time_x,
                };
                let plain = figure(&frame, &spec).expect("figure");
                let kept = figure_kept(&frame, &spec, &store).expect("kept");
                assert_eq!(kept.figure, plain.figure, "{x} at {width} px over {range:?}");
                assert_eq!(kept.points, plain.points);
            }
        }
    }
    assert_eq!(store.len(), 1, "one pyramid, built once for the column");
}
