//! Linked views: several figures of one frame, each re-aggregated against the rows the
//! other figures' selections keep (a cross-filter). Only figure JSON comes out; which
//! rows were kept never leaves the server.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde_json::{json, Value};

use crate::columns::is_sorted_f64;
use crate::filter::{reads_row_number, selection_expr, with_row_numbers, ROW_NUMBER};
use crate::select::{check_selection, LinkedFigure, Selection, MAX_FIGURES};
use crate::{figure, ChartKind, Figure, FigureError, ROW};

/// Checks a linked view's shape: 1 to [`MAX_FIGURES`] figures, at most as many
/// selections, each valid ([`check_selection`]), and every filter naming a selection sent.
pub fn check_view(figures: &[LinkedFigure], selections: &[Selection]) -> Result<(), FigureError> {
    if figures.is_empty() || figures.len() > MAX_FIGURES || selections.len() > MAX_FIGURES {
        return Err(FigureError::BadSelection(format!(
            "a linked view has 1 to {MAX_FIGURES} figures and at most {MAX_FIGURES} selections"
        )));
    }
    selections.iter().try_for_each(|s| check_selection(s))?;
    match figures
        .iter()
        .flat_map(|f| &f.filters)
        .find(|&&i| i >= selections.len())
    {
        Some(bad) => Err(FigureError::BadSelection(format!("there is no selection {bad}"))),
        None => Ok(()),
    }
}

/// How a view is worked: the figures (by index) that name each distinct set of
/// selections (sorted, no repeats). Each set is one filtered copy of the columns its
/// figures read; the empty set reads the frame itself.
fn plan(figures: &[LinkedFigure]) -> BTreeMap<Vec<usize>, Vec<usize>> {
    let mut groups: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for (i, fig) in figures.iter().enumerate() {
        let mut filters = fig.filters.clone();
        filters.sort_unstable();
        filters.dedup();
        groups.entry(filters).or_default().push(i);
    }
    groups
}

/// The frame's columns that `specs` read (x, and y unless a bar), each once; the row
/// number is not a column.
fn columns_read<'a>(specs: impl IntoIterator<Item = &'a LinkedFigure>) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for f in specs {
        let y = (f.spec.kind != ChartKind::Bar).then_some(f.spec.y.as_str());
        for name in std::iter::once(f.spec.x.as_str()).chain(y) {
            if name != ROW && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Bytes [`linked`] takes at most for a frame of `rows` rows, to reserve before it runs:
/// for each filtered set, every row of the columns it reads (24 bytes a value, room for
/// a text column's views), the row number (u32 and f64), each clause's temporaries (an
/// f64 or text copy of its column, a lasso's mask) and the mask; for every bar, its
/// column as text and the groups (32 bytes a row at worst: every value distinct).
pub fn linked_bytes(rows: u64, figures: &[LinkedFigure], selections: &[Selection]) -> u64 {
    let bars = figures.iter().filter(|f| f.spec.kind == ChartKind::Bar).count() as u64;
    let mut per_row = 32 * bars;
    for (filters, members) in plan(figures) {
        if filters.is_empty() {
            continue;
        }
        let clauses: u64 = filters
            .iter()
            .map(|&s| selections.get(s).map_or(0, Vec::len) as u64)
            .sum();
        let columns = columns_read(members.iter().map(|&i| &figures[i])).len() as u64;
        per_row += 24 * columns + 12 + 24 * clauses + 1;
    }
    rows.saturating_mul(per_row)
}

/// The figures of `frame`, each drawn from the rows every selection it names keeps.
/// Figures that name the same selections share one filtered copy of the columns they
/// read; a figure that names none reads `frame` itself.
pub fn linked(
    frame: &DataFrame,
    figures: &[LinkedFigure],
    selections: &[Selection],
) -> Result<Vec<Figure>, FigureError> {
    check_view(figures, selections)?;
    let mut out: Vec<Option<Figure>> = vec![None; figures.len()];
    for (filters, members) in plan(figures) {
        let specs: Vec<&LinkedFigure> = members.iter().map(|&i| &figures[i]).collect();
        let drawn = if filters.is_empty() {
            specs
                .iter()
                .map(|f| or_nothing(figure(frame, &f.spec), f.spec.kind, frame.height() as u64))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let clauses: Selection = filters.iter().flat_map(|&f| selections[f].clone()).collect();
            draw_filtered(frame, &specs, &clauses)?
        };
        for (i, drawn) in members.into_iter().zip(drawn) {
            out[i] = Some(with_drag_mode(drawn, figures[i].spec.kind));
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// The figures `specs` of the rows of `frame` that `clauses` keep.
fn draw_filtered(
    frame: &DataFrame,
    specs: &[&LinkedFigure],
    clauses: &Selection,
) -> Result<Vec<Figure>, FigureError> {
    let expr = selection_expr(clauses, frame.schema())?;
    let needs_rows = reads_row_number(clauses) || specs.iter().any(|f| f.spec.x == ROW);
    let names = columns_read(specs.iter().copied());
    if let Some(missing) = names.iter().find(|&&n| frame.column(n).is_err()) {
        return Err(FigureError::NoColumn((*missing).to_owned()));
    }
    let mut read: Vec<Expr> = names.iter().map(|&n| col(n)).collect();
    let mut lazy = frame.clone().lazy();
    if needs_rows {
        lazy = with_row_numbers(lazy);
        read.push(col(ROW_NUMBER));
    }
    let mut kept = lazy.filter(expr).select(read).collect().map_err(|_| {
        FigureError::BadSelection("the selection could not be applied to these columns".into())
    })?;
    // A filter keeps the order but not polars' sorted flag: an x sorted before is still.
    let sorted: Vec<String> = kept
        .get_column_names()
        .into_iter()
        .map(|n| n.to_string())
        .filter(|n| n == ROW_NUMBER || frame.column(n).is_ok_and(is_sorted_f64))
        .collect();
    for name in sorted {
        flag_sorted(&mut kept, &name)?;
    }
    specs
        .iter()
        .map(|f| {
            if kept.height() == 0 {
                return Ok(nothing_selected(f.spec.kind, frame.height() as u64));
            }
            let total = frame.height() as u64;
            if f.spec.x != ROW {
                return or_nothing(figure(&kept, &f.spec), f.spec.kind, total);
            }
            let mut spec = f.spec.clone();
            spec.x = ROW_NUMBER.to_owned();
            let mut drawn = or_nothing(figure(&kept, &spec), spec.kind, total)?;
            drawn.figure = drawn.figure.replace(ROW_NUMBER, ROW);
            Ok(drawn)
        })
        .collect()
}

fn flag_sorted(frame: &mut DataFrame, name: &str) -> Result<(), FigureError> {
    let unreadable = |_| FigureError::Unreadable(name.to_owned());
    let mut values = frame
        .column(name)
        .and_then(|c| c.f64().cloned())
        .map_err(unreadable)?;
    values.set_sorted_flag(polars::series::IsSorted::Ascending);
    frame.with_column(values.into_column()).map_err(unreadable)?;
    Ok(())
}

/// `drawn`, or an empty figure when no row is in view (a zoom or a selection that keeps
/// nothing): one figure's emptiness is not the view's error.
fn or_nothing(
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
fn nothing_selected(kind: ChartKind, total_rows: u64) -> Figure {
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

/// `drawn` with the drag a linked view brushes with: a horizontal selection on bars and
/// histograms, a box selection on boxes and heatmaps, zoom on lines and scatters (their
/// lasso is in plotly's mode bar).
fn with_drag_mode(mut drawn: Figure, kind: ChartKind) -> Figure {
    let (mode, direction) = match kind {
        ChartKind::Histogram | ChartKind::Bar => ("select", "h"),
        ChartKind::Box => ("select", "v"),
        ChartKind::Density => ("select", "any"),
        ChartKind::Line | ChartKind::Scatter => ("zoom", "any"),
    };
    if let Ok(mut value) = serde_json::from_str::<Value>(&drawn.figure) {
        value["layout"]["dragmode"] = mode.into();
        value["layout"]["selectdirection"] = direction.into();
        drawn.figure = value.to_string();
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{time_series, TIME};
    use crate::select::Clause;
    use crate::FigureSpec;

    fn fig(kind: ChartKind, x: &str, y: &str, filters: Vec<usize>) -> LinkedFigure {
        LinkedFigure {
            spec: FigureSpec {
                x: x.into(),
                y: y.into(),
                kind,
                range: (None, None),
                width_px: 400,
                time_x: x == TIME,
            },
            filters,
        }
    }

    fn counted(figure: &Figure) -> u64 {
        let parsed: Value = serde_json::from_str(&figure.figure).expect("json");
        parsed["data"][0]["y"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .sum()
    }

    #[test]
    fn a_brushed_histogram_filters_the_other_figures_not_itself() {
        let frame = time_series(100_000, 7).expect("frame");
        let brush = vec![Clause::Range {
            column: "walk".into(),
            lo: 0.0,
            hi: 10.0,
        }];
        let inside = frame
            .column("walk")
            .expect("walk")
            .f64()
            .expect("f64")
            .into_no_null_iter()
            .filter(|v| (0.0..=10.0).contains(v))
            .count() as u64;
        assert!(inside > 0 && inside < 100_000, "{inside}");
        let figures = [
            fig(ChartKind::Histogram, ROW, "walk", vec![]),
            fig(ChartKind::Line, TIME, "walk", vec![0]),
            fig(ChartKind::Histogram, ROW, "sine", vec![0]),
            fig(ChartKind::Line, ROW, "walk", vec![0]),
        ];
        let drawn = linked(&frame, &figures, &[brush]).expect("linked");
        assert_eq!(counted(&drawn[0]), 100_000, "the brushed figure keeps every row");
        assert_eq!(drawn[1].rows_in_range, inside);
        assert_eq!(counted(&drawn[2]), inside);
        assert_eq!(drawn[3].rows_in_range, inside);
        assert!(drawn[3].figure.contains("\"row\"") && !drawn[3].figure.contains(ROW_NUMBER));
        let layout: Value = serde_json::from_str(&drawn[0].figure).expect("json");
        assert_eq!(layout["layout"]["dragmode"], "select");
    }

    #[test]
    fn a_selection_of_nothing_draws_an_empty_figure_and_bad_ones_are_refused() {
        let frame = time_series(1_000, 7).expect("frame");
        let none = vec![Clause::Range {
            column: "walk".into(),
            lo: 1e9,
            hi: 2e9,
        }];
        let drawn = linked(&frame, &[fig(ChartKind::Line, TIME, "walk", vec![0])], &[none]).expect("linked");
        assert_eq!(drawn[0].points, 0);
        assert!(drawn[0].figure.contains("no rows in view"));
        // A zoom where no row is kept: an empty figure too, not the view's error.
        let mut zoomed = fig(ChartKind::Line, TIME, "walk", vec![]);
        zoomed.spec.range = (Some(0.0), Some(1.0));
        let drawn = linked(&frame, &[zoomed], &[]).expect("linked");
        assert_eq!(drawn[0].points, 0);
        let bad = |figures: &[LinkedFigure], selections: &[Selection]| {
            linked(&frame, figures, selections)
                .expect_err("refused")
                .to_string()
        };
        let line = fig(ChartKind::Line, TIME, "walk", vec![1]);
        assert!(bad(&[line], &[]).contains("no selection 1"));
        let unknown = vec![Clause::Range {
            column: "nope".into(),
            lo: 0.0,
            hi: 1.0,
        }];
        let line = fig(ChartKind::Line, TIME, "walk", vec![0]);
        assert!(bad(std::slice::from_ref(&line), &[unknown]).contains("nope"));
        assert!(bad(&vec![line; MAX_FIGURES + 1], &[]).contains("figures"));
    }

    #[test]
    fn the_reservation_counts_a_shared_filter_once_and_grows_with_its_clauses() {
        let range = |column: &str| Clause::Range {
            column: column.into(),
            lo: 0.0,
            hi: 1.0,
        };
        let one = [vec![range("walk")]];
        let two = [vec![range("walk"), range("sine")]];
        let line = fig(ChartKind::Line, TIME, "walk", vec![0]);
        let unfiltered = [fig(ChartKind::Line, TIME, "walk", vec![])];
        assert_eq!(
            linked_bytes(1_000, &unfiltered, &one),
            0,
            "the frame itself is read"
        );
        let alone = linked_bytes(1_000, std::slice::from_ref(&line), &one);
        // Same filter, same columns: one filtered copy for both figures.
        let same = fig(ChartKind::Histogram, TIME, "walk", vec![0]);
        assert_eq!(linked_bytes(1_000, &[line.clone(), same], &one), alone);
        // A third column in the same copy: 24 bytes a row more.
        let sine = fig(ChartKind::Scatter, TIME, "sine", vec![0]);
        assert_eq!(linked_bytes(1_000, &[line.clone(), sine], &one), alone + 24_000);
        // A second clause: its temporaries, 24 bytes a row.
        assert_eq!(
            linked_bytes(1_000, std::slice::from_ref(&line), &two),
            alone + 24_000
        );
        // A bar's groups are counted whatever it filters on.
        let bar = fig(ChartKind::Bar, "walk", "walk", vec![]);
        assert_eq!(linked_bytes(1_000, &[line.clone(), bar], &one), alone + 32_000);
        assert_eq!(linked_bytes(u64::MAX, &[line], &one), u64::MAX, "saturates");
    }
}
