//! Server-side reduction of a line or scatter trace to what the plot's pixels can show.
//!
//! MinMax decimation: the visible rows are cut into equal-count buckets, about one per
//! pixel column, and each bucket keeps its lowest and its highest point (in x order). A
//! spike therefore never disappears, however many rows share its pixel, and the output
//! is at most two points per bucket whatever the number of rows. Buckets are reduced in
//! parallel on rayon; the visible range is found by binary search on the sorted x.

use std::ops::Range;

use rayon::prelude::*;

use crate::pyramid::{MinMaxPyramid, BASE_ROWS};

/// The rows of sorted `x` that fall in `[lo, hi]` (both inclusive), by binary search.
/// `None` bounds are open. NaN bounds select nothing.
pub fn visible_rows(x: &[f64], lo: Option<f64>, hi: Option<f64>) -> Range<usize> {
    if lo.is_some_and(f64::is_nan) || hi.is_some_and(f64::is_nan) {
        return 0..0;
    }
    let start = lo.map_or(0, |lo| x.partition_point(|v| *v < lo));
    let end = hi.map_or(x.len(), |hi| x.partition_point(|v| *v <= hi));
    start..end.max(start)
}

/// Indices (ascending) of the points to draw for `y[rows]`: every row when there are at
/// most `max_points`, otherwise the minimum and maximum of each of `max_points / 2`
/// equal-count buckets. Always within `rows`, at most `max_points.max(2)` long.
pub fn minmax_indices(y: &[f64], rows: Range<usize>, max_points: usize) -> Vec<usize> {
    let rows = rows.start.min(y.len())..rows.end.min(y.len());
    let max_points = max_points.max(2);
    if rows.len() <= max_points {
        return rows.collect();
    }
    pair_rows(&minmax_pairs(y, rows, max_points / 2))
}

/// The rows of [`minmax_pairs`]' pairs in order, each once.
pub fn pair_rows(pairs: &[(usize, usize)]) -> Vec<usize> {
    let mut out = Vec::with_capacity(pairs.len() * 2);
    for &(first, second) in pairs {
        out.push(first);
        if second != first {
            out.push(second);
        }
    }
    out
}

/// The rows of bucket `b` of `buckets` equal-count buckets of `rows`.
pub fn bucket_rows(rows: &Range<usize>, buckets: usize, b: usize) -> Range<usize> {
    let n = rows.len();
    rows.start + b * n / buckets..rows.start + (b + 1) * n / buckets
}

/// For each of `buckets` equal-count buckets of `y[rows]` (see [`bucket_rows`]; `rows`
/// must hold at least `buckets` rows), the rows of its minimum and its maximum, the
/// earlier first; the same row twice when one row is both. Buckets are reduced in
/// parallel.
pub fn minmax_pairs(y: &[f64], rows: Range<usize>, buckets: usize) -> Vec<(usize, usize)> {
    minmax_pairs_with(y, rows, buckets, None)
}

/// Whether `buckets` buckets of `rows` rows are wide enough to read a pyramid (a few
/// blocks a bucket); narrower ones are scanned, and a pyramid is not worth building.
pub fn pyramid_pays(rows: usize, buckets: usize) -> bool {
    rows / buckets.max(1) >= 4 * BASE_ROWS
}

/// [`minmax_pairs`], reading `pyramid` (the [`MinMaxPyramid`] of `y`; one of a column
/// of another length is not read) for buckets wide enough to gain from it
/// ([`pyramid_pays`]): the same pairs, at a cost that follows the buckets rather than
/// the rows.
pub fn minmax_pairs_with(
    y: &[f64],
    rows: Range<usize>,
    buckets: usize,
    pyramid: Option<&MinMaxPyramid>,
) -> Vec<(usize, usize)> {
    let pyramid = pyramid.filter(|p| p.rows() == y.len() && pyramid_pays(rows.len(), buckets));
    (0..buckets)
        .into_par_iter()
        .map(|b| {
            let range = bucket_rows(&rows, buckets, b);
            if let Some(pyramid) = pyramid {
                return pyramid.extremes(y, range);
            }
            let start = range.start;
            // Values kept in registers, no re-reads: NaN never compares smaller or
            // larger, so gaps never become extremes (an all-NaN bucket keeps its first row).
            let (mut lo, mut lo_v, mut hi, mut hi_v) = (start, f64::INFINITY, start, f64::NEG_INFINITY);
            for (offset, &v) in y[range].iter().enumerate() {
                if v < lo_v {
                    lo_v = v;
                    lo = start + offset;
                }
                if v > hi_v {
                    hi_v = v;
                    hi = start + offset;
                }
            }
            (lo.min(hi), lo.max(hi))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64).collect()
    }

    #[test]
    fn small_inputs_are_kept_exactly() {
        let y = vec![3.0, 1.0, 2.0];
        assert_eq!(minmax_indices(&y, 0..3, 100), vec![0, 1, 2]);
        assert_eq!(minmax_indices(&y, 0..3, 3), vec![0, 1, 2]);
        assert!(minmax_indices(&y, 1..1, 100).is_empty());
    }

    #[test]
    fn output_is_bounded_sorted_and_keeps_every_buckets_min_and_max() {
        let n = 100_003;
        // Noise plus single-row spikes: none of them may vanish.
        let mut y: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
        for spike in [5, 33_333, 77_777, n - 1] {
            y[spike] = if spike % 2 == 0 { -50.0 } else { 50.0 };
        }
        for max_points in [2, 3, 100, 2_000] {
            let picked = minmax_indices(&y, 0..n, max_points);
            assert!(
                picked.len() <= max_points.max(2),
                "{} > {max_points}",
                picked.len()
            );
            assert!(picked.windows(2).all(|w| w[0] < w[1]), "ascending, no repeats");
            let buckets = max_points.max(2) / 2;
            for b in 0..buckets {
                let range = b * n / buckets..(b + 1) * n / buckets;
                let slice = &y[range.clone()];
                let min = slice.iter().copied().fold(f64::INFINITY, f64::min);
                let max = slice.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let kept: Vec<f64> = picked
                    .iter()
                    .filter(|i| range.contains(i))
                    .map(|&i| y[i])
                    .collect();
                assert!(
                    kept.contains(&min) && kept.contains(&max),
                    "bucket {b} of {buckets}"
                );
            }
            if max_points >= 100 {
                // The spikes sit in different buckets: each one is its bucket's extreme.
                for spike in [5, 33_333, 77_777, n - 1] {
                    assert!(
                        picked.contains(&spike),
                        "spike {spike} kept with {max_points} points"
                    );
                }
            }
        }
    }

    #[test]
    fn a_subrange_is_decimated_within_its_rows_only() {
        let y = ramp(10_000);
        let picked = minmax_indices(&y, 2_500..7_500, 100);
        assert_eq!(picked.len(), 100);
        assert_eq!(
            (picked[0], picked[99]),
            (2_500, 7_499),
            "the edges of a ramp are its extremes"
        );
        assert!(minmax_indices(&y, 9_990..20_000, 100).iter().all(|&i| i < 10_000));
    }

    #[test]
    fn nan_gaps_are_never_chosen_over_numbers() {
        let mut y = vec![f64::NAN; 1_000];
        y[500] = 1.0;
        y[900] = -1.0;
        let picked = minmax_indices(&y, 0..1_000, 2);
        assert_eq!(picked, vec![500, 900]);
    }

    #[test]
    fn visible_rows_by_binary_search_at_the_edges() {
        let x = ramp(100); // 0, 1, …, 99
        assert_eq!(visible_rows(&x, None, None), 0..100);
        assert_eq!(
            visible_rows(&x, Some(10.0), Some(20.0)),
            10..21,
            "both ends inclusive"
        );
        assert_eq!(visible_rows(&x, Some(9.5), Some(20.5)), 10..21);
        assert_eq!(visible_rows(&x, Some(-5.0), Some(0.0)), 0..1, "first row only");
        assert_eq!(visible_rows(&x, Some(99.0), None), 99..100, "last row only");
        assert_eq!(
            visible_rows(&x, Some(100.0), Some(200.0)),
            100..100,
            "past the end"
        );
        assert_eq!(
            visible_rows(&x, Some(50.0), Some(40.0)),
            50..50,
            "reversed is empty"
        );
        assert_eq!(visible_rows(&x, Some(f64::NAN), None), 0..0);
        assert_eq!(visible_rows(&[], Some(1.0), Some(2.0)), 0..0);
    }
}
