//! The figure of a linked view with no row in view: one figure's emptiness (a zoom or a
//! selection that keeps nothing) is not the view's error.

use serde_json::json;

use crate::{ChartKind, Figure, FigureError};

/// `drawn`, or an empty figure when no row is in view (a zoom or a selection that keeps
/// nothing): one figure's emptiness is not the view's error.
pub(crate) fn or_nothing(
    drawn: Result<Figure, FigureError>,
    kind: ChartKind,
    total_rows: u64,
) -> Result<Figure, FigureError> {
    match drawn {
        Err(FigureError::NoRows) => Ok(nothing_selected(kind, total_rows)),
        other => other,
    }
}

/// What a figure shows when its filters keep no row.
pub(crate) fn nothing_selected(kind: ChartKind, total_rows: u64) -> Figure {
    let figure = json!({
        "data": [],
        "layout": {
            "height": if matches!(kind, ChartKind::Line | ChartKind::Scatter | ChartKind::Density) { 420 } else { 320 },
            "annotations": [{ "text": "no rows in view", "showarrow": false, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5 }],
        },
    });
    Figure {
        figure: figure.to_string(),
        points: 0,
        rows_in_range: 0,
        total_rows,
        method: "none".to_owned(),
    }
}
