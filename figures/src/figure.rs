//! One entry point: a frame and a spec in, a figure reduced to the plot's pixels out.

use std::sync::Arc;

use polars::prelude::*;

use crate::axis::x_axis;
use crate::bar::bar_figure;
use crate::boxplot::box_figure;
use crate::columns::values;
use crate::decimate::pyramid_pays;
use crate::density::density_figure;
use crate::histogram::histogram_figure;
use crate::line::line_figure;
use crate::pyramid_store::PyramidStore;
use crate::stats::{binned_as, histogram_of, range_of_all, Histogram};
use crate::{ChartKind, Figure, FigureError, FigureSpec, MAX_WIDTH_PX, MIN_WIDTH_PX};

/// Bins of a histogram figure.
pub(crate) const HISTOGRAM_BINS: usize = 100;

/// The figure `spec` of `frame`: the visible rows found by binary search on the sorted x
/// (or the row number), then reduced for the plot's width. Stateless and read-only: the
/// frame's columns are borrowed when they are contiguous f64.
pub fn figure(frame: &DataFrame, spec: &FigureSpec) -> Result<Figure, FigureError> {
    figure_of(frame, spec, None)
}

/// [`figure`], with a long line's reduction read from its y column's min/max pyramid
/// ([`crate::pyramid`]) kept in `pyramids` for this frame (built by the first figure
/// that needs it): the same figure, at a cost that follows the pixels, not the rows.
pub fn figure_kept(
    frame: &Arc<DataFrame>,
    spec: &FigureSpec,
    pyramids: &PyramidStore,
) -> Result<Figure, FigureError> {
    figure_of(frame, spec, Some((pyramids, frame)))
}

pub(crate) fn figure_of(
    frame: &DataFrame,
    spec: &FigureSpec,
    pyramids: Option<(&PyramidStore, &Arc<DataFrame>)>,
) -> Result<Figure, FigureError> {
    if spec.kind == ChartKind::Bar {
        return bar_figure(frame, &spec.x);
    }
    let y = values(frame, &spec.y)?;
    let (x, rows) = x_axis(frame, spec)?;
    let total_rows = frame.height() as u64;
    let rows_in_range = rows.len() as u64;
    if rows.is_empty() {
        return Err(FigureError::NoRows);
    }
    let width = spec.width_px.clamp(MIN_WIDTH_PX, MAX_WIDTH_PX) as usize;
    Ok(match spec.kind {
        ChartKind::Line | ChartKind::Scatter => {
            let pyramid = pyramids
                .filter(|_| rows.len() > 2 * width && pyramid_pays(rows.len(), width))
                .and_then(|(store, frame)| store.pyramid(frame, &spec.y, &y));
            line_figure(spec, &x, &y, rows, width, total_rows, pyramid.as_deref())
        }
        ChartKind::Box => box_figure(&spec.y, &y[rows], total_rows),
        ChartKind::Density => density_figure(spec, &x, &y, rows, width, total_rows),
        ChartKind::Bar => return bar_figure(frame, &spec.x),
        ChartKind::Histogram => {
            // Every row: the column's counts by block, kept, give it (and later a brush's).
            let whole = pyramids
                .filter(|_| rows.len() == y.len())
                .and_then(|(store, frame)| store.bin_counts(frame, &spec.y, &y, HISTOGRAM_BINS));
            let hist = match whole {
                Some(counts) => counts
                    .whole()
                    .cloned()
                    .unwrap_or_else(|| Histogram::empty(HISTOGRAM_BINS)),
                None => histogram_of(&[&y[rows]], HISTOGRAM_BINS),
            };
            histogram_drawn(&hist, spec, rows_in_range, total_rows)
        }
    })
}

/// The histogram of `kept`, rows of `frame` that a selection keeps (`kept_spec` is
/// `spec` as `kept` is read), on the bins of `frame`'s rows in `spec`'s view: a
/// filtered histogram on its unfiltered bins.
pub(crate) fn histogram_kept(
    frame: &DataFrame,
    spec: &FigureSpec,
    kept: &DataFrame,
    kept_spec: &FigureSpec,
) -> Result<Figure, FigureError> {
    let (_, view) = x_axis(frame, spec)?;
    // Only the view's rows are read (and copied, when y is not one f64 chunk).
    let unfiltered = frame.slice(view.start as i64, view.len());
    let (lo, hi) = range_of_all(&[&values(&unfiltered, &spec.y)?]);
    let (_, rows) = x_axis(kept, kept_spec)?;
    if rows.is_empty() {
        return Err(FigureError::NoRows);
    }
    let hist = match Histogram::spanning(lo, hi, HISTOGRAM_BINS) {
        Some(bins) => binned_as(&[&values(kept, &kept_spec.y)?[rows.clone()]], bins),
        None => Histogram::empty(HISTOGRAM_BINS),
    };
    Ok(histogram_drawn(
        &hist,
        spec,
        rows.len() as u64,
        kept.height() as u64,
    ))
}

/// The histogram figure of `hist`, the [`HISTOGRAM_BINS`] bins of `spec`'s y over its
/// `rows_in_range` rows.
pub(crate) fn histogram_drawn(
    hist: &Histogram,
    spec: &FigureSpec,
    rows_in_range: u64,
    total_rows: u64,
) -> Figure {
    Figure {
        figure: histogram_figure(hist, &spec.y, rows_in_range),
        points: hist.counts.len() as u64,
        rows_in_range,
        total_rows,
        method: "histogram".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxplot::QUANTILE_BINS;
    use crate::decimate::minmax_pairs;
    use crate::demo::{time_series, START_MS, STEP_MS, TIME};
    use crate::density::DENSITY_ROWS;
    use crate::{typed, ROW};

    fn spec(x: &str, y: &str, kind: ChartKind, range: (Option<f64>, Option<f64>)) -> FigureSpec {
        FigureSpec {
            x: x.into(),
            y: y.into(),
            kind,
            range,
            width_px: 800,
            time_x: x == TIME,
        }
    }

    /// The x of every point of a trace: its own `x`, or its slots `x0 + k * dx`.
    fn drawn_x(trace: &serde_json::Value, points: usize) -> Vec<f64> {
        match (trace["x0"].as_f64(), trace["dx"].as_f64()) {
            (Some(x0), Some(dx)) => (0..points).map(|k| x0 + dx * k as f64).collect(),
            _ => typed::decode(&trace["x"]).expect("x"),
        }
    }

    #[test]
    fn the_empty_figure_has_a_line_figure_s_size_and_margins() {
        let frame = time_series(1_000, 1).expect("frame");
        let line = figure(&frame, &spec(TIME, "walk", ChartKind::Line, (None, None))).expect("line");
        let line: serde_json::Value = serde_json::from_str(&line.figure).expect("json");
        let empty: serde_json::Value = serde_json::from_str(crate::EMPTY_FIGURE).expect("json");
        assert_eq!(empty["data"], serde_json::json!([]));
        for key in ["height", "margin"] {
            assert_eq!(empty["layout"][key], line["layout"][key], "{key}");
        }
    }

    #[test]
    fn a_large_line_is_bounded_by_pixels_and_a_zoom_shows_more_detail() {
        let frame = time_series(1_000_000, 1).expect("frame");
        let full = figure(&frame, &spec(TIME, "walk", ChartKind::Line, (None, None))).expect("full");
        assert_eq!(full.points, 1_600, "two per pixel");
        assert_eq!((full.rows_in_range, full.method.as_str()), (1_000_000, "MinMax"));
        let parsed: serde_json::Value = serde_json::from_str(&full.figure).expect("json");
        assert_eq!(parsed["layout"]["xaxis"]["type"], "date");
        // Evenly sampled x: two slots per pixel, so only y travels, as f4.
        let trace = &parsed["data"][0];
        assert_eq!(
            (&trace["type"], &trace["mode"]),
            (&"scatter".into(), &"lines".into())
        );
        assert!(trace.get("x").is_none(), "x is implied by x0 and dx");
        assert_eq!(trace["y"]["dtype"], "f4");
        let ys = typed::decode(&trace["y"]).expect("y");
        assert_eq!(ys.len() as u64, full.points);
        let per_point = full.figure.len() as f64 / full.points as f64;
        assert!(per_point < 7.0, "{per_point:.1} bytes per point");
        // Every slot is within a pixel of the row it shows: the extremes of each bucket.
        let xs = drawn_x(trace, ys.len());
        let pixel = 999_999.0 * STEP_MS / 800.0;
        let walk = values(&frame, "walk").expect("walk").to_vec();
        for (b, pair) in minmax_pairs(&walk, 0..1_000_000, 800).into_iter().enumerate() {
            for (k, row) in [(2 * b, pair.0), (2 * b + 1, pair.1)] {
                let x_row = START_MS + row as f64 * STEP_MS;
                assert!(
                    (xs[k] - x_row).abs() <= pixel,
                    "slot {k} is {} px off",
                    (xs[k] - x_row) / pixel
                );
                assert_eq!(ys[k], f64::from(walk[row] as f32));
            }
        }

        // 1 % of the range: the same pixel budget now covers 100x fewer rows.
        let lo = START_MS + 500_000.0 * STEP_MS;
        let hi = lo + 9_999.0 * STEP_MS;
        let zoom = figure(&frame, &spec(TIME, "walk", ChartKind::Line, (Some(lo), Some(hi)))).expect("zoom");
        assert_eq!(zoom.rows_in_range, 10_000);
        assert!(zoom.points <= 1_600);
        let parsed: serde_json::Value = serde_json::from_str(&zoom.figure).expect("json");
        assert_eq!(parsed["layout"]["xaxis"]["range"], serde_json::json!([lo, hi]));
        let xs = drawn_x(&parsed["data"][0], zoom.points as usize);
        let pixel = (hi - lo) / 800.0;
        assert!(xs.iter().all(|x| (lo - pixel..=hi + pixel).contains(x)));

        // A range smaller than the budget is drawn exactly.
        let exact = figure(
            &frame,
            &spec(ROW, "spiky", ChartKind::Scatter, (Some(10.0), Some(109.0))),
        )
        .expect("exact");
        assert_eq!((exact.points, exact.method.as_str()), (100, "none"));
        let parsed: serde_json::Value = serde_json::from_str(&exact.figure).expect("json");
        assert_eq!(parsed["data"][0]["mode"], "markers");
        assert_eq!(parsed["data"][0]["x"]["dtype"], "u4", "row numbers are whole");
    }

    #[test]
    fn across_a_gap_each_point_keeps_its_own_x() {
        // Two dense stretches a long way apart: equal-count buckets are not equal-width.
        let n = 100_000;
        let xs: Vec<f64> = (0..n)
            .map(|i| if i < n / 2 { i as f64 } else { 1e9 + i as f64 })
            .collect();
        let ys: Vec<f64> = (0..n).map(|i| (i as f64 * 0.01).sin()).collect();
        let mut t = Series::new("t".into(), xs.clone());
        t.set_sorted_flag(polars::series::IsSorted::Ascending);
        let frame = DataFrame::new(n, vec![t.into(), Series::new("v".into(), ys).into()]).expect("frame");
        let gap = figure(&frame, &spec("t", "v", ChartKind::Line, (None, None))).expect("figure");
        assert_eq!(gap.method, "MinMax");
        let parsed: serde_json::Value = serde_json::from_str(&gap.figure).expect("json");
        let trace = &parsed["data"][0];
        assert!(trace.get("x0").is_none(), "no slots across a gap");
        let drawn = typed::decode(&trace["x"]).expect("x");
        assert_eq!(drawn.len() as u64, gap.points);
        assert!(drawn.iter().all(|x| xs.contains(x)), "each x is a row's own");
    }

    #[test]
    fn histograms_bin_the_visible_rows() {
        let frame = time_series(10_000, 2).expect("frame");
        let all = figure(&frame, &spec(ROW, "sine", ChartKind::Histogram, (None, None))).expect("hist");
        assert_eq!((all.points, all.rows_in_range), (100, 10_000));
        let part = figure(
            &frame,
            &spec(ROW, "sine", ChartKind::Histogram, (Some(0.0), Some(999.0))),
        )
        .expect("hist");
        let parsed: serde_json::Value = serde_json::from_str(&part.figure).expect("json");
        let counts = typed::decode(&parsed["data"][0]["y"]).expect("counts");
        let total: f64 = counts.iter().sum();
        assert_eq!(total, 1_000.0);
    }

    #[test]
    fn box_quartiles_and_density_counts() {
        let frame = time_series(100_000, 4).expect("frame");
        // A ramp: y = row number.
        let ramp = DataFrame::new(
            100_001,
            vec![Column::new(
                "v".into(),
                (0..=100_000).map(f64::from).collect::<Vec<f64>>(),
            )],
        )
        .expect("ramp");
        let boxed = figure(&ramp, &spec(ROW, "v", ChartKind::Box, (None, None))).expect("box");
        let parsed: serde_json::Value = serde_json::from_str(&boxed.figure).expect("json");
        let stat = |k: &str| parsed["data"][0][k][0].as_f64().expect(k);
        let tolerance = 100_000.0 / QUANTILE_BINS as f64;
        for (k, want) in [
            ("q1", 25_000.0),
            ("median", 50_000.0),
            ("q3", 75_000.0),
            ("mean", 50_000.0),
        ] {
            assert!((stat(k) - want).abs() <= tolerance, "{k} = {}", stat(k));
        }
        assert_eq!((stat("lowerfence"), stat("upperfence")), (0.0, 100_000.0));

        let lo = START_MS + 1_000.0 * STEP_MS;
        let dense =
            figure(&frame, &spec(TIME, "sine", ChartKind::Density, (Some(lo), None))).expect("density");
        assert_eq!(dense.rows_in_range, 99_000);
        let parsed: serde_json::Value = serde_json::from_str(&dense.figure).expect("json");
        assert_eq!(parsed["layout"]["xaxis"]["type"], "date");
        let z = parsed["data"][0]["z"].as_array().expect("z");
        assert_eq!(z.len(), DENSITY_ROWS);
        let total: u64 = z
            .iter()
            .flat_map(|row| row.as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_u64)
            .sum();
        assert_eq!(total, 99_000, "every visible row in exactly one cell");
        assert!(dense.figure.len() < 100_000, "{} bytes", dense.figure.len());
    }

    #[test]
    fn bad_specs_are_their_own_errors() {
        let frame = time_series(1_000, 3).expect("frame");
        let err = |s: FigureSpec| figure(&frame, &s).expect_err("bad spec");
        assert_eq!(
            err(spec(TIME, "nope", ChartKind::Line, (None, None))),
            FigureError::NoColumn("nope".into())
        );
        assert_eq!(
            err(spec("walk", "sine", ChartKind::Line, (None, None))),
            FigureError::NotSorted("walk".into())
        );
        assert_eq!(
            err(spec(ROW, "walk", ChartKind::Line, (Some(5.0), Some(1.0)))),
            FigureError::EmptyRange
        );
        assert_eq!(
            err(spec(ROW, "walk", ChartKind::Line, (Some(5_000.0), None))),
            FigureError::NoRows
        );
        let strings = DataFrame::new(2, vec![Column::new("s".into(), ["a", "b"])]).expect("frame");
        let e = figure(&strings, &spec(ROW, "s", ChartKind::Line, (None, None))).expect_err("strings");
        assert!(matches!(e, FigureError::NotNumeric { .. }), "{e}");
        assert!(e.to_string().contains("not numeric"), "{e}");
    }
}
