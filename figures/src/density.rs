//! Density heatmaps: how many visible rows fall in each (x, y) cell, for scatters too
//! dense to draw point by point.

use std::ops::Range;

use rayon::prelude::*;
use serde_json::json;

use crate::axis::XValues;
use crate::layout::{axis, HEIGHT};
use crate::stats::histogram_of;
use crate::{with_thousands, Figure, FigureSpec};

/// Rows of a density heatmap; its columns follow the plot's width (one per 8 px).
pub(crate) const DENSITY_ROWS: usize = 60;

/// Visible rows counted by one rayon task.
const CHUNK: usize = 1 << 16;

/// A heatmap of `y` over `x` for `rows`, for a plot `width` pixels wide.
pub(crate) fn density_figure(
    spec: &FigureSpec,
    x: &XValues<'_>,
    y: &[f64],
    rows: Range<usize>,
    width: usize,
    total_rows: u64,
) -> Figure {
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
        .with_min_len(CHUNK)
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
    let caption = format!(
        "{}: density of {} rows in {cols} x {DENSITY_ROWS} cells",
        spec.y,
        with_thousands(rows.len() as u64)
    );
    let figure = json!({
        "data": [{"type": "heatmap", "x": xs, "y": ys, "z": z, "colorscale": "Viridis", "name": spec.y}],
        "layout": {
            "title": { "text": caption },
            "height": HEIGHT,
            "xaxis": axis(&spec.x, spec.time_x),
            "yaxis": axis(&spec.y, false),
        },
    });
    Figure {
        figure: figure.to_string(),
        points: (cols * DENSITY_ROWS) as u64,
        rows_in_range: rows.len() as u64,
        total_rows,
        method: "2-D bins".to_owned(),
    }
}
