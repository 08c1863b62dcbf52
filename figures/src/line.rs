//! Lines and scatters: every visible row when they fit in two points per pixel, else
//! each pixel bucket's min and max ([`crate::decimate`]), sent as plotly typed arrays.

use std::ops::Range;

use serde_json::{json, Value};

use crate::axis::XValues;
use crate::decimate::{minmax_pairs_with, pair_rows};
use crate::layout::{axis, margin, HEIGHT};
use crate::pyramid::MinMaxPyramid;
use crate::{typed, with_thousands, ChartKind, Figure, FigureSpec};

/// The numbers of a line or scatter trace.
enum Numbers {
    /// Two evenly spaced slots per pixel bucket, x implied by `x0 + k * dx`.
    Slots { x0: f64, dx: f64, ys: Vec<f64> },
    /// Each point's own x.
    Points { xs: Vec<f64>, ys: Vec<f64> },
}

/// Which rows of a line or scatter are drawn, and of which rows.
pub(crate) struct Drawn {
    /// The first and last row shown (whatever the reduction picks, the trace spans them).
    pub first: usize,
    pub last: usize,
    /// Rows shown (in the view, and kept by its selection).
    pub rows: usize,
    /// What is drawn of them.
    pub picked: Picked,
}

/// What is drawn of a line's rows.
pub(crate) enum Picked {
    /// Every row shown, in order: at most two per pixel.
    All(Vec<usize>),
    /// Each pixel bucket's min and max rows ([`minmax_pairs_with`]).
    Pairs(Vec<(usize, usize)>),
}

/// `x0` and `dx` of two evenly spaced slots per bucket, if every picked point lies within
/// one bucket's width (about a pixel) of its slot: true of evenly sampled x (time series,
/// row numbers), whose equal-count buckets are equal-width too; false across gaps.
fn on_slots(x: &XValues<'_>, first: usize, last: usize, pairs: &[(usize, usize)]) -> Option<(f64, f64)> {
    let (first, last) = (x.at(first), x.at(last));
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

/// A line or scatter of `y` over `x` for `rows` (not empty), for a plot `width` pixels
/// wide: every row when they fit in two points per pixel, else each bucket's min and max.
pub(crate) fn line_figure(
    spec: &FigureSpec,
    x: &XValues<'_>,
    y: &[f64],
    rows: Range<usize>,
    width: usize,
    total_rows: u64,
    pyramid: Option<&MinMaxPyramid>,
) -> Figure {
    let picked = if rows.len() > 2 * width {
        Picked::Pairs(minmax_pairs_with(y, rows.clone(), width, pyramid))
    } else {
        Picked::All(rows.clone().collect())
    };
    let drawn = Drawn {
        first: rows.start,
        last: rows.end.saturating_sub(1),
        rows: rows.len(),
        picked,
    };
    drawn_line(spec, x, y, drawn, width, total_rows)
}

/// The figure of the rows `drawn` picked of `y` over `x`. On evenly sampled x the
/// reduced points sit in two slots per pixel, so x goes as `x0` and `dx` (a point moves
/// by less than a pixel) and only y travels.
pub(crate) fn drawn_line(
    spec: &FigureSpec,
    x: &XValues<'_>,
    y: &[f64],
    drawn: Drawn,
    width: usize,
    total_rows: u64,
) -> Figure {
    let rows_in_range = drawn.rows as u64;
    let reduced = matches!(drawn.picked, Picked::Pairs(_));
    let numbers = match drawn.picked {
        Picked::Pairs(pairs) => match on_slots(x, drawn.first, drawn.last, &pairs) {
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
        },
        Picked::All(rows) => Numbers::Points {
            xs: rows.iter().map(|&i| x.at(i)).collect(),
            ys: rows.iter().map(|&i| y[i]).collect(),
        },
    };
    let mode = if spec.kind == ChartKind::Line {
        "lines"
    } else {
        "markers"
    };
    let mut trace = json!({ "type": "scatter", "mode": mode, "name": spec.y });
    let points = match numbers {
        Numbers::Slots { x0, dx, ys } => {
            trace["x0"] = x0.into();
            trace["dx"] = dx.into();
            trace["y"] = typed::f4(&ys);
            ys.len()
        }
        Numbers::Points { xs, ys } => {
            // One pixel of the visible x range, for the precision x is sent at.
            let (lo, hi) = match spec.range {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => (x.at(drawn.first), x.at(drawn.last)),
            };
            let pixel = (hi - lo).abs() / width as f64;
            trace["x"] = typed::x_values(&xs, pixel);
            trace["y"] = typed::f4(&ys);
            ys.len()
        }
    } as u64;
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
    let mut x_axis = axis(&spec.x, spec.time_x);
    if let (Some(lo), Some(hi)) = spec.range {
        x_axis["range"] = json!([lo, hi]);
    }
    let figure: Value = json!({
        "data": [trace],
        "layout": {
            "title": { "text": caption },
            "height": HEIGHT,
            "margin": margin(48, 48, 56, 16),
            "xaxis": x_axis,
            "yaxis": axis(&spec.y, false),
        },
    });
    Figure {
        figure: figure.to_string(),
        points,
        rows_in_range,
        total_rows,
        method: if reduced { "MinMax" } else { "none" }.to_owned(),
    }
}
