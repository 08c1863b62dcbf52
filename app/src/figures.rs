//! Plotly figures of any frame, reduced on the server to what the plot's pixels can show
//! (server only).
//!
//! Stateless: the frame (read through the cache, never copied when its columns are
//! contiguous f64), the spec, the visible x range and the plot's width are all it takes.
//! The visible rows are found by binary search on the sorted x column; lines and
//! scatters keep each pixel bucket's min and max ([`crate::decimate`]); histograms bin
//! the visible rows.

use std::borrow::Cow;
use std::ops::Range;

use plotly::common::{Mode, Title};
use plotly::layout::{Axis, AxisType, Layout, Margin};
use plotly::{Plot, Scatter};
use polars::prelude::*;

use crate::compute::{histogram_figure_of, histogram_of};
use crate::decimate::{minmax_pairs, pair_rows, visible_rows};
use crate::explore::{ChartKind, ColumnInfo, FigureReply, MAX_WIDTH_PX, ROW};
use crate::series::TIME;
use crate::sizes::with_thousands;
use crate::typed;
use crate::StayputError;

/// Bins of an `/explore` histogram.
const EXPLORE_BINS: usize = 100;

/// Bins of the fine histogram that box quantiles are read from: a quantile is off by at
/// most (max - min) / QUANTILE_BINS.
const QUANTILE_BINS: usize = 8_192;

/// Rows of a density heatmap; its columns follow the plot's width (one per 8 px).
const DENSITY_ROWS: usize = 60;

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureSpec {
    /// The x column ([`ROW`] for the row number); must be sorted ascending.
    pub x: String,
    /// The y column; must be numeric.
    pub y: String,
    /// How to draw it.
    pub kind: ChartKind,
    /// Visible x range, both ends inclusive; `None` is open.
    pub range: (Option<f64>, Option<f64>),
    /// Width of the plot area in CSS pixels.
    pub width_px: u32,
}

fn bad(msg: impl Into<String>) -> StayputError {
    StayputError::BadSpec(msg.into())
}

/// The columns of `frame` as `/explore` offers them, [`ROW`] first.
pub fn columns(frame: &DataFrame) -> Vec<ColumnInfo> {
    let mut out = vec![ColumnInfo {
        name: ROW.to_owned(),
        numeric: true,
        sorted: true,
        time: false,
    }];
    out.extend(frame.columns().iter().map(|c| ColumnInfo {
        name: c.name().to_string(),
        numeric: c.dtype().is_primitive_numeric(),
        sorted: c.is_sorted_flag() == polars::series::IsSorted::Ascending,
        time: c.name().as_str() == TIME,
    }));
    out
}

/// The f64 values of column `name`: borrowed when contiguous, else one copy.
fn values<'a>(frame: &'a DataFrame, name: &str) -> Result<Cow<'a, [f64]>, StayputError> {
    let column = frame
        .column(name)
        .map_err(|_| bad(format!("no column named {name:?}")))?;
    if !column.dtype().is_primitive_numeric() {
        return Err(bad(format!(
            "column {name:?} is not numeric ({})",
            column.dtype()
        )));
    }
    if let Ok(ca) = column.f64() {
        if let Ok(slice) = ca.cont_slice() {
            return Ok(Cow::Borrowed(slice));
        }
    }
    let cast = column
        .cast(&DataType::Float64)
        .map_err(|_| bad(format!("column {name:?} cannot be read as numbers")))?;
    let ca = cast.f64().map_err(|_| StayputError::Internal)?;
    Ok(Cow::Owned(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect()))
}

/// The x values and the visible rows for `spec`.
fn x_axis<'a>(frame: &'a DataFrame, spec: &FigureSpec) -> Result<(XValues<'a>, Range<usize>), StayputError> {
    let (lo, hi) = spec.range;
    let ordered = |a: f64, b: f64| a.partial_cmp(&b).is_some_and(|o| o.is_le());
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if !ordered(lo, hi) {
            return Err(bad("the visible range is empty"));
        }
    }
    if spec.x == ROW {
        let n = frame.height();
        let start = lo.map_or(0.0, |v| v.ceil().max(0.0));
        let end = hi.map_or(n as f64, |v| (v.floor() + 1.0).clamp(0.0, n as f64));
        let start = (start.min(n as f64)) as usize;
        return Ok((XValues::Row, start..(end as usize).max(start)));
    }
    let sorted = frame.column(&spec.x).ok().is_some_and(|c| {
        c.dtype() == &DataType::Float64 && c.is_sorted_flag() == polars::series::IsSorted::Ascending
    });
    if !sorted {
        return Err(bad(format!(
            "x column {:?} is not sorted ascending; pick {ROW:?} or a sorted column",
            spec.x
        )));
    }
    let x = values(frame, &spec.x)?;
    let rows = visible_rows(&x, lo, hi);
    Ok((XValues::Column(x), rows))
}

enum XValues<'a> {
    Row,
    Column(Cow<'a, [f64]>),
}

impl XValues<'_> {
    fn at(&self, i: usize) -> f64 {
        match self {
            Self::Row => i as f64,
            Self::Column(x) => x[i],
        }
    }
}

/// The figure for `spec`.
pub fn figure(frame: &DataFrame, spec: &FigureSpec) -> Result<FigureReply, StayputError> {
    let y = values(frame, &spec.y)?;
    let (x, rows) = x_axis(frame, spec)?;
    let total_rows = frame.height() as u64;
    let rows_in_range = rows.len() as u64;
    if rows.is_empty() {
        return Err(bad("no rows in the visible range"));
    }
    let width = spec.width_px.clamp(100, MAX_WIDTH_PX) as usize;
    match spec.kind {
        ChartKind::Line | ChartKind::Scatter => line_figure(spec, &x, &y, rows, width, total_rows),
        ChartKind::Box => Ok(box_figure(&spec.y, &y[rows], total_rows)),
        ChartKind::Density => Ok(density_figure(spec, &x, &y, rows, width, total_rows)),
        ChartKind::Histogram => {
            let hist = histogram_of(&[&y[rows]], EXPLORE_BINS);
            Ok(FigureReply {
                figure: histogram_figure_of(&hist, &spec.y, rows_in_range),
                points: hist.counts.len() as u64,
                rows_in_range,
                total_rows,
                method: "histogram".to_owned(),
            })
        }
    }
}

/// The numbers of a line or scatter trace.
enum Numbers {
    /// Two evenly spaced slots per pixel bucket, x implied by `x0 + k * dx`.
    Slots { x0: f64, dx: f64, ys: Vec<f64> },
    /// Each point's own x.
    Points { xs: Vec<f64>, ys: Vec<f64> },
}

/// `x0` and `dx` of two evenly spaced slots per bucket, if every picked point lies within
/// one bucket's width (about a pixel) of its slot: true of evenly sampled x (time series,
/// row numbers), whose equal-count buckets are equal-width too; false across gaps.
fn on_slots(x: &XValues<'_>, rows: &Range<usize>, pairs: &[(usize, usize)]) -> Option<(f64, f64)> {
    let (first, last) = (x.at(rows.start), x.at(rows.end - 1));
    let bucket = (last - first) / pairs.len() as f64;
    if !(bucket > 0.0 && bucket.is_finite()) {
        return None;
    }
    let (x0, dx) = (first + bucket / 4.0, bucket / 2.0);
    let near = |i: usize, slot: usize| (x.at(i) - (x0 + dx * slot as f64)).abs() <= bucket;
    pairs
        .iter()
        .enumerate()
        .all(|(b, &(i, j))| near(i, 2 * b) && near(j, 2 * b + 1))
        .then_some((x0, dx))
}

/// A line or scatter of `y` over `x` for `rows`: every row when they fit in two points
/// per pixel, else each pixel bucket's min and max. Sent as plotly typed arrays; on
/// evenly sampled x the reduced points sit in two slots per pixel, so x goes as `x0`
/// and `dx` (a point moves by less than a pixel) and only y travels.
fn line_figure(
    spec: &FigureSpec,
    x: &XValues<'_>,
    y: &[f64],
    rows: Range<usize>,
    width: usize,
    total_rows: u64,
) -> Result<FigureReply, StayputError> {
    let rows_in_range = rows.len() as u64;
    let reduced = rows.len() > 2 * width;
    let numbers = if reduced {
        let pairs = minmax_pairs(y, rows.clone(), width);
        match on_slots(x, &rows, &pairs) {
            Some((x0, dx)) => Numbers::Slots {
                x0,
                dx,
                ys: pairs.iter().flat_map(|&(i, j)| [y[i], y[j]]).collect(),
            },
            None => {
                let picked = pair_rows(&pairs);
                Numbers::Points {
                    xs: picked.iter().map(|&i| x.at(i)).collect(),
                    ys: picked.iter().map(|&i| y[i]).collect(),
                }
            }
        }
    } else {
        Numbers::Points {
            xs: rows.clone().map(|i| x.at(i)).collect(),
            ys: y[rows.clone()].to_vec(),
        }
    };
    let points = match &numbers {
        Numbers::Slots { ys, .. } | Numbers::Points { ys, .. } => ys.len() as u64,
    };
    let caption = format!(
        "{}: {} of {} points ({})",
        spec.y,
        with_thousands(points),
        with_thousands(rows_in_range),
        if reduced {
            "MinMax, 2 per pixel"
        } else {
            "all points"
        },
    );
    let mode = if spec.kind == ChartKind::Line {
        Mode::Lines
    } else {
        Mode::Markers
    };
    let mut plot = Plot::new();
    // The numbers go in below, as typed arrays.
    plot.add_trace(
        Scatter::new(Vec::<f64>::new(), Vec::<f64>::new())
            .mode(mode)
            .name(spec.y.as_str()),
    );
    let mut x_axis = Axis::new().title(Title::with_text(spec.x.as_str()));
    if spec.x == TIME {
        x_axis = x_axis.type_(AxisType::Date);
    }
    if let (Some(lo), Some(hi)) = spec.range {
        x_axis = x_axis.range(vec![lo, hi]);
    }
    plot.set_layout(
        Layout::new()
            .title(caption)
            .height(420)
            .margin(Margin::new().top(48).bottom(48).left(56).right(16))
            .x_axis(x_axis)
            .y_axis(Axis::new().title(Title::with_text(spec.y.as_str()))),
    );
    let mut figure: serde_json::Value =
        serde_json::from_str(&plot.to_json()).map_err(|_| StayputError::Internal)?;
    let trace = figure["data"][0].as_object_mut().ok_or(StayputError::Internal)?;
    match numbers {
        Numbers::Slots { x0, dx, ys } => {
            trace.remove("x");
            trace.insert("x0".into(), x0.into());
            trace.insert("dx".into(), dx.into());
            trace.insert("y".into(), typed::f4(&ys));
        }
        Numbers::Points { xs, ys } => {
            // One pixel of the visible x range, for the precision x is sent at.
            let (lo, hi) = match spec.range {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => (x.at(rows.start), x.at(rows.end - 1)),
            };
            let pixel = (hi - lo).abs() / width as f64;
            trace.insert("x".into(), typed::x_values(&xs, pixel));
            trace.insert("y".into(), typed::f4(&ys));
        }
    }
    Ok(FigureReply {
        figure: figure.to_string(),
        points,
        rows_in_range,
        total_rows,
        method: if reduced { "MinMax" } else { "none" }.to_owned(),
    })
}

/// The `p`-quantile (0..=1) read from a histogram of `count` values.
fn quantile(hist: &crate::compute::Histogram, count: u64, p: f64) -> f64 {
    let target = p * count as f64;
    let mut seen = 0.0;
    for (i, &c) in hist.counts.iter().enumerate() {
        let c = c as f64;
        if c > 0.0 && seen + c >= target {
            let within = ((target - seen) / c).clamp(0.0, 1.0);
            return hist.start + (i as f64 + within) * hist.width;
        }
        seen += c;
    }
    hist.start + hist.counts.len() as f64 * hist.width
}

/// A box of `values`' quartiles, whiskers at min and max, with its mean: five numbers
/// whatever the number of rows.
fn box_figure(name: &str, values: &[f64], total_rows: u64) -> FigureReply {
    let hist = histogram_of(&[values], QUANTILE_BINS);
    let count: u64 = hist.counts.iter().sum();
    let mean = crate::compute::mean_of(values);
    let (q1, median, q3) = (
        quantile(&hist, count, 0.25),
        quantile(&hist, count, 0.5),
        quantile(&hist, count, 0.75),
    );
    let (min, max) = (hist.start, hist.start + hist.width * hist.counts.len() as f64);
    let figure = serde_json::json!({
        "data": [{
            "type": "box",
            "name": name,
            "q1": [q1], "median": [median], "q3": [q3],
            "lowerfence": [min], "upperfence": [max], "mean": [mean],
        }],
        "layout": {
            "title": {"text": format!("{name}: quartiles of {} rows", with_thousands(count))},
            "height": 420,
            "yaxis": {"title": {"text": name}},
        },
    });
    FigureReply {
        figure: figure.to_string(),
        points: 5,
        rows_in_range: values.len() as u64,
        total_rows,
        method: "quantiles from 8,192 bins".to_owned(),
    }
}

/// A heatmap of how many rows fall in each (x, y) cell of the visible range.
fn density_figure(
    spec: &FigureSpec,
    x: &XValues<'_>,
    y: &[f64],
    rows: Range<usize>,
    width: usize,
    total_rows: u64,
) -> FigureReply {
    use rayon::prelude::*;
    let cols = (width / 8).clamp(10, 500);
    let (x_lo, x_hi) = (x.at(rows.start), x.at(rows.end - 1));
    let y_hist = histogram_of(&[&y[rows.clone()]], 1);
    let (y_lo, y_span) = (y_hist.start, y_hist.width);
    let x_span = (x_hi - x_lo).max(f64::MIN_POSITIVE);
    let cell = |i: usize| -> Option<usize> {
        let v = y[i];
        if v.is_nan() {
            return None;
        }
        let c = (((x.at(i) - x_lo) / x_span * cols as f64) as usize).min(cols - 1);
        let r = (((v - y_lo) / y_span * DENSITY_ROWS as f64) as usize).min(DENSITY_ROWS - 1);
        Some(r * cols + c)
    };
    let counts = rows
        .clone()
        .into_par_iter()
        .with_min_len(1 << 16)
        .fold(
            || vec![0_u64; cols * DENSITY_ROWS],
            |mut acc, i| {
                if let Some(k) = cell(i) {
                    acc[k] += 1;
                }
                acc
            },
        )
        .reduce(
            || vec![0_u64; cols * DENSITY_ROWS],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(p, q)| *p += q);
                a
            },
        );
    let z: Vec<&[u64]> = counts.chunks(cols).collect();
    let xs: Vec<f64> = (0..cols)
        .map(|c| x_lo + (c as f64 + 0.5) * x_span / cols as f64)
        .collect();
    let ys: Vec<f64> = (0..DENSITY_ROWS)
        .map(|r| y_lo + (r as f64 + 0.5) * y_span / DENSITY_ROWS as f64)
        .collect();
    let mut x_axis = serde_json::json!({"title": {"text": spec.x}});
    if spec.x == TIME {
        x_axis["type"] = "date".into();
    }
    let figure = serde_json::json!({
        "data": [{"type": "heatmap", "x": xs, "y": ys, "z": z, "colorscale": "Viridis", "name": spec.y}],
        "layout": {
            "title": {"text": format!("{}: density of {} rows in {cols} x {DENSITY_ROWS} cells", spec.y, with_thousands(rows.len() as u64))},
            "height": 420,
            "xaxis": x_axis,
            "yaxis": {"title": {"text": spec.y}},
        },
    });
    FigureReply {
        figure: figure.to_string(),
        points: (cols * DENSITY_ROWS) as u64,
        rows_in_range: rows.len() as u64,
        total_rows,
        method: "2-D bins".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::{time_series, START_MS, STEP_MS};

    fn spec(x: &str, y: &str, kind: ChartKind, range: (Option<f64>, Option<f64>)) -> FigureSpec {
        FigureSpec {
            x: x.into(),
            y: y.into(),
            kind,
            range,
            width_px: 800,
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
    fn a_large_line_is_bounded_by_pixels_and_a_zoom_shows_more_detail() {
        let frame = time_series(1_000_000, 1).expect("frame");
        let full = figure(&frame, &spec(TIME, "walk", ChartKind::Line, (None, None))).expect("full");
        assert_eq!(full.points, 1_600, "two per pixel");
        assert_eq!((full.rows_in_range, full.method.as_str()), (1_000_000, "MinMax"));
        let parsed: serde_json::Value = serde_json::from_str(&full.figure).expect("json");
        assert_eq!(parsed["layout"]["xaxis"]["type"], "date");
        // Evenly sampled x: two slots per pixel, so only y travels, as f4.
        let trace = &parsed["data"][0];
        assert!(trace.get("x").is_none(), "x is implied by x0 and dx");
        assert_eq!(trace["y"]["dtype"], "f4");
        let ys = typed::decode(&trace["y"]).expect("y");
        assert_eq!(ys.len() as u64, full.points);
        let per_point = full.figure.len() as f64 / full.points as f64;
        assert!(per_point < 7.0, "{per_point:.1} bytes per point");
        // Every slot is within a pixel of the row it shows: the extremes of each bucket.
        let xs = drawn_x(trace, ys.len());
        let pixel = 999_999.0 * STEP_MS / 800.0;
        let rows = 0..1_000_000;
        let walk = frame
            .column("walk")
            .expect("walk")
            .f64()
            .expect("f64")
            .cont_slice()
            .expect("slice")
            .to_vec();
        for (b, pair) in minmax_pairs(&walk, rows.clone(), 800).into_iter().enumerate() {
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
        let total: u64 = parsed["data"][0]["y"]
            .as_array()
            .expect("counts")
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .sum();
        assert_eq!(total, 1_000);
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
    fn bad_specs_are_clear_errors() {
        let frame = time_series(1_000, 3).expect("frame");
        let err = |s: FigureSpec| figure(&frame, &s).expect_err("bad spec").to_string();
        assert!(err(spec(TIME, "nope", ChartKind::Line, (None, None))).contains("no column named \"nope\""));
        assert!(err(spec("walk", "sine", ChartKind::Line, (None, None))).contains("not sorted"));
        assert!(err(spec(ROW, "walk", ChartKind::Line, (Some(5.0), Some(1.0)))).contains("range is empty"));
        assert!(err(spec(ROW, "walk", ChartKind::Line, (Some(5_000.0), None))).contains("no rows"));
        let strings = DataFrame::new(2, vec![Column::new("s".into(), ["a", "b"])]).expect("frame");
        let e = figure(&strings, &spec(ROW, "s", ChartKind::Line, (None, None))).expect_err("strings");
        assert!(e.to_string().contains("not numeric"), "{e}");
    }
}
