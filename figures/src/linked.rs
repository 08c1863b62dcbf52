//! Linked views: several figures of one frame, each re-aggregated against the rows the
//! other figures' selections keep (a cross-filter). Only figure JSON comes out; which
//! rows were kept never leaves the server.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use polars::prelude::*;
use rayon::prelude::*;
use serde_json::Value;

use crate::axis::x_axis;
use crate::bin_counts::BinsOf;
use crate::brushed;
use crate::columns::is_sorted_f64;
use crate::figure::{figure_of, histogram_kept, HISTOGRAM_BINS};
use crate::filter::{reads_row_number, selection_expr, with_row_numbers, ROW_NUMBER};
use crate::nothing::{nothing_selected, or_nothing};
use crate::pyramid_store::{PyramidStore, PYRAMID_MIN_ROWS};
use crate::ranges::{Keep, PyramidOf};
use crate::select::{check_selection, Clause, LinkedFigure, Selection, MAX_FIGURES};
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

/// Bytes [`linked`] takes at most over `frame`, to reserve before it runs. For each
/// filtered set, over the rows its figures can show ([`shared_window`]): the copy of the
/// columns it reads as if every row were kept (8 bytes a number or date, 24 a text
/// value's view), their row numbers (both twice over more than [`ROWS_PER_TASK`] rows,
/// filtered in parts and joined), each clause's temporaries (an f64 copy of each
/// column it reads, a mask), the row number of every row when a clause reads it (u32
/// and f64), the mask, and an f64 copy of each histogram's y over the rows in view (its
/// bins are theirs). For every bar, its column as text and the groups (32 bytes a
/// row at worst: every value distinct).
pub fn linked_bytes(frame: &DataFrame, figures: &[LinkedFigure], selections: &[Selection]) -> u64 {
    let rows = frame.height() as u64;
    let bars = figures.iter().filter(|f| f.spec.kind == ChartKind::Bar).count() as u64;
    let width = |name: &str| match frame.column(name) {
        Ok(c) if c.dtype().is_primitive_numeric() || c.dtype().is_temporal() => 8,
        _ => 24,
    };
    let mut bytes = rows.saturating_mul(32 * bars);
    for (filters, members) in plan(figures) {
        let specs: Vec<&LinkedFigure> = members.iter().map(|&i| &figures[i]).collect();
        if filters.is_empty() {
            // Drawn from the frame itself: each column a figure reads that is not one
            // f64 chunk (an upload's, in many) is copied whole to be read.
            bytes = bytes.saturating_add(brushed::copies_bytes(frame, &specs, &[]));
            continue;
        }
        let clauses: Selection = filters
            .iter()
            .filter_map(|&s| selections.get(s))
            .flatten()
            .cloned()
            .collect();
        let window = shared_window(frame, &specs).len();
        if brushed::applies(frame, &specs, &clauses, window) {
            bytes = bytes.saturating_add(brushed::bytes(frame, &specs, &clauses));
            continue;
        }
        let names = columns_read(specs.iter().copied());
        let kept: u64 = names.iter().map(|n| width(n)).sum::<u64>() + 8;
        let temporaries: u64 = clauses.iter().map(|c| clause_bytes(frame, c)).sum();
        // Columns in several chunks (an upload's) are copied whole by each figure that
        // reads them (its x and y).
        let chunked = names
            .iter()
            .any(|n| frame.column(n).is_ok_and(|c| c.n_chunks() > 1));
        let copies = if chunked { 16 * specs.len() as u64 } else { 0 };
        let numbering = if reads_row_number(&clauses) { 12 } else { 0 };
        // A histogram reads its y over the rows in view unfiltered, for its bins.
        let histograms = 8 * specs
            .iter()
            .filter(|f| f.spec.kind == ChartKind::Histogram)
            .count() as u64;
        let window = window as u64;
        // Filtered in parts, the kept rows are copied once more to be joined.
        let joined = if window > ROWS_PER_TASK as u64 { kept } else { 0 };
        bytes = bytes.saturating_add(
            window.saturating_mul(kept + joined + temporaries + numbering + copies + histograms + 1),
        );
    }
    bytes
}

/// Bytes a row that `clause`'s predicate takes while it runs: an f64 copy of each column
/// a range or a lasso reads; a bar's pick reads its column as text (48 bytes a value of
/// a column that is not text already: the view and the digits); a mask.
fn clause_bytes(frame: &DataFrame, clause: &Clause) -> u64 {
    let copies: u64 = match clause {
        Clause::Categories { column, .. } => match frame.column(column) {
            Ok(c) if c.dtype() == &DataType::String => 0,
            _ => 48,
        },
        _ => 8 * clause.columns().len() as u64,
    };
    copies + 1
}

/// The figures of `frame`, each drawn from the rows every selection it names keeps.
/// Figures that name the same selections are drawn together: in place for a selection
/// of ranges and lines, scatters and histograms (`brushed`), else from one filtered copy
/// of the columns they read; a figure that names none reads `frame` itself.
pub fn linked(
    frame: &DataFrame,
    figures: &[LinkedFigure],
    selections: &[Selection],
) -> Result<Vec<Figure>, FigureError> {
    linked_with(frame, figures, selections, None)
}

/// [`linked`], reading the frame's min/max pyramids kept in `pyramids` (built by the
/// first figure that needs one): a line's reduction reads its y's summaries, and a
/// brush's ranges skip the blocks their column's summaries put wholly outside them and
/// take whole the ones wholly inside. The same figures, at a cost that follows the
/// blocks the ranges cut rather than the rows.
pub fn linked_kept(
    frame: &Arc<DataFrame>,
    figures: &[LinkedFigure],
    selections: &[Selection],
    pyramids: &PyramidStore,
) -> Result<Vec<Figure>, FigureError> {
    linked_with(frame, figures, selections, Some((pyramids, frame)))
}

fn linked_with(
    frame: &DataFrame,
    figures: &[LinkedFigure],
    selections: &[Selection],
    kept: Option<(&PyramidStore, &Arc<DataFrame>)>,
) -> Result<Vec<Figure>, FigureError> {
    check_view(figures, selections)?;
    let pyramid_of =
        |name: &str, values: &[f64]| kept.and_then(|(store, frame)| store.pyramid(frame, name, values));
    let bins_of = |name: &str, values: &[f64]| {
        kept.and_then(|(store, frame)| store.bin_counts(frame, name, values, HISTOGRAM_BINS))
    };
    let mut out: Vec<Option<Figure>> = vec![None; figures.len()];
    for (filters, members) in plan(figures) {
        let specs: Vec<&LinkedFigure> = members.iter().map(|&i| &figures[i]).collect();
        let drawn = if filters.is_empty() {
            specs
                .iter()
                .map(|f| {
                    or_nothing(
                        figure_of(frame, &f.spec, kept),
                        f.spec.kind,
                        frame.height() as u64,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let clauses: Selection = filters.iter().flat_map(|&f| selections[f].clone()).collect();
            draw_filtered(frame, &specs, &clauses, &pyramid_of, &bins_of)?
        };
        for (i, drawn) in members.into_iter().zip(drawn) {
            out[i] = Some(with_drag_mode(drawn, figures[i].spec.kind));
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// The rows every figure of `specs` can show: when all read the same x (the row number
/// or a sorted column) zoomed to the same range, the rows inside it (by binary search);
/// otherwise all of them.
fn shared_window(frame: &DataFrame, specs: &[&LinkedFigure]) -> Range<usize> {
    let all = 0..frame.height();
    let Some(first) = specs.first() else {
        return all;
    };
    let shared = specs.iter().all(|f| {
        f.spec.kind != ChartKind::Bar && f.spec.x == first.spec.x && f.spec.range == first.spec.range
    });
    // A sorted column in several chunks would be copied to be searched: all rows then.
    let one_chunk = first.spec.x == ROW || frame.column(&first.spec.x).is_ok_and(|c| c.n_chunks() == 1);
    if !shared || !one_chunk || first.spec.range == (None, None) {
        return all;
    }
    x_axis(frame, &first.spec).map_or(all, |(_, rows)| rows)
}

/// Rows one rayon task of a brush filters: large enough that a task's own cost (a query
/// planned, a chunk made) is small beside it, small enough that every core gets a share
/// of 1e7 rows.
const ROWS_PER_TASK: usize = 1 << 21;

/// Columns `names` of the rows of `base` that `keep` keeps, and their row numbers when
/// `numbered` (`first`: the number of `base`'s first row). The rows kept are found
/// first, so only they are copied and numbered. Slices of [`ROWS_PER_TASK`] rows are
/// filtered on rayon's workers side by side (polars runs one predicate, and filters one
/// chunk, on one thread), and the kept parts joined into one chunk (which the figures
/// read without copying).
fn kept_rows(
    base: &DataFrame,
    first: usize,
    names: &[&str],
    keep: Expr,
    numbered: bool,
) -> Result<DataFrame, FigureError> {
    let rows = base.height();
    if rows <= ROWS_PER_TASK {
        return kept_part(base, first, names, keep, numbered);
    }
    let parts = rows.div_ceil(ROWS_PER_TASK);
    let kept: Vec<DataFrame> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let start = part * ROWS_PER_TASK;
            let slice = base.slice(start as i64, ROWS_PER_TASK.min(rows - start));
            kept_part(&slice, first + start, names, keep.clone(), numbered)
        })
        .collect::<Result<_, _>>()?;
    let mut parts = kept.into_iter();
    let mut all = parts
        .next()
        .ok_or_else(|| not_applied(PolarsError::NoData("no rows".into())))?;
    for part in parts {
        all.vstack_mut_owned(part).map_err(not_applied)?;
    }
    all.rechunk_mut_par();
    Ok(all)
}

/// [`kept_rows`] of one slice, on this thread.
fn kept_part(
    base: &DataFrame,
    first: usize,
    names: &[&str],
    keep: Expr,
    numbered: bool,
) -> Result<DataFrame, FigureError> {
    const MASK: &str = "__stayput_keep";
    let mask = base
        .clone()
        .lazy()
        .select([keep.alias(MASK)])
        .collect()
        .map_err(not_applied)?;
    // One chunk, so that the filter does not rechunk the columns to match it.
    let mask = mask
        .column(MASK)
        .and_then(|c| c.bool().map(|b| b.rechunk().into_owned()))
        .map_err(not_applied)?;
    let mut kept = base
        .select(names.iter().copied())
        .and_then(|columns| columns.filter(&mask))
        .map_err(not_applied)?;
    if numbered {
        let mut numbers = Vec::with_capacity(kept.height());
        let mut offset = first;
        for chunk in mask.downcast_iter() {
            let set = match chunk.validity() {
                Some(valid) => chunk.values() & valid, // a missing answer keeps nothing
                None => chunk.values().clone(),
            };
            numbers.extend(set.true_idx_iter().map(|i| (offset + i) as f64));
            offset += chunk.len();
        }
        kept.with_column(Column::new(ROW_NUMBER.into(), numbers))
            .map_err(not_applied)?;
    }
    Ok(kept)
}

fn not_applied(_: PolarsError) -> FigureError {
    FigureError::BadSelection("the selection could not be applied to these columns".into())
}

/// The figures `specs` of the rows of `frame` that `clauses` keep: drawn in place when
/// [`brushed::applies`], else from a filtered copy ([`draw_copied`]).
fn draw_filtered(
    frame: &DataFrame,
    specs: &[&LinkedFigure],
    clauses: &Selection,
    pyramid_of: PyramidOf<'_>,
    bins_of: BinsOf<'_>,
) -> Result<Vec<Figure>, FigureError> {
    let window = shared_window(frame, specs).len();
    if !brushed::applies(frame, specs, clauses, window) {
        return draw_copied(frame, specs, clauses);
    }
    // A pyramid is built over the whole column: worth it when the figures show as many
    // rows as a line's pyramid needs, not for a zoom's few.
    let no_pyramid = |_: &str, _: &[f64]| None;
    let no_bins = |_: &str, _: &[f64]| None;
    let (pyramid_of, bins_of): (PyramidOf<'_>, BinsOf<'_>) = if window >= PYRAMID_MIN_ROWS {
        (pyramid_of, bins_of)
    } else {
        (&no_pyramid, &no_bins)
    };
    let keep = Keep::of(frame, clauses, pyramid_of)?;
    let total = frame.height() as u64;
    specs
        .iter()
        .map(|f| {
            let drawn = brushed::figure(frame, &keep, &f.spec, pyramid_of, bins_of);
            or_nothing(drawn, f.spec.kind, total)
        })
        .collect()
}

/// The figures `specs` of a filtered copy of the columns they read: the rows of `frame`
/// that `clauses` keep.
pub(crate) fn draw_copied(
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
    // Only the rows the figures can show are filtered: a zoom costs its share of rows.
    let window = shared_window(frame, specs);
    let base = frame.slice(window.start as i64, window.len());
    let mut kept = if reads_row_number(clauses) || names.is_empty() {
        // The predicate reads the row number: every row is numbered first.
        let mut read: Vec<Expr> = names.iter().map(|&n| col(n)).collect();
        read.push(col(ROW_NUMBER));
        with_row_numbers(base.lazy(), window.start)
            .filter(expr)
            .select(read)
            .collect()
            .map_err(not_applied)?
    } else {
        kept_rows(&base, window.start, &names, expr, needs_rows)?
    };
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
            // The copy's rows are the ones kept; the figure's total is the frame's.
            let of_frame = |drawn: Figure| Figure {
                total_rows: total,
                ..drawn
            };
            let mut spec = f.spec.clone();
            if f.spec.x == ROW {
                spec.x = ROW_NUMBER.to_owned();
            }
            let drawn = match spec.kind {
                // On the bins of the rows unfiltered, as drawing in place has it.
                ChartKind::Histogram => histogram_kept(frame, &f.spec, &kept, &spec),
                _ => figure(&kept, &spec),
            };
            let mut drawn = or_nothing(drawn.map(of_frame), spec.kind, total)?;
            if f.spec.x != ROW {
                return Ok(drawn);
            }
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

    /// The x of a histogram figure's bars: its bins.
    fn bins(figure: &Figure) -> Value {
        let parsed: Value = serde_json::from_str(&figure.figure).expect("json");
        parsed["data"][0]["x"].clone()
    }

    #[test]
    fn a_filtered_histogram_keeps_its_unfiltered_bins_and_reads_the_kept_counts() {
        let frame = Arc::new(time_series(PYRAMID_MIN_ROWS, 5).expect("frame"));
        let sine = fig(ChartKind::Histogram, TIME, "sine", vec![]);
        let brush = vec![Clause::range("walk", -5.0, 5.0)];
        let figures = [sine.clone(), fig(ChartKind::Histogram, TIME, "sine", vec![0])];
        let store = PyramidStore::new(1 << 30);
        let kept = linked_kept(&frame, &figures, std::slice::from_ref(&brush), &store).expect("kept");
        // The unfiltered figure built the sine's counts by block; the brush read them
        // (and the walk's pyramid), and drew what the filtered copy draws.
        assert_eq!(store.len(), 2, "the sine's counts and the walk's pyramid");
        let copied = linked(&frame, &figures, &[brush]).expect("copied");
        assert_eq!(kept, copied);
        assert_eq!(
            bins(&kept[1]),
            bins(&kept[0]),
            "the filtered bars stand on the same bins"
        );
        assert!(counted(&kept[1]) < counted(&kept[0]));
        assert_eq!(counted(&kept[1]), kept[1].rows_in_range);
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
        let frame = time_series(1_000, 7).expect("frame");
        let range = |column: &str| Clause::Range {
            column: column.into(),
            lo: 0.0,
            hi: 1.0,
        };
        let one = [vec![range("walk")]];
        let two = [vec![range("walk"), range("sine")]];
        // A box is drawn from a filtered copy (a line of ranges is drawn in place, below).
        let line = fig(ChartKind::Box, TIME, "walk", vec![0]);
        let unfiltered = [fig(ChartKind::Line, TIME, "walk", vec![])];
        assert_eq!(
            linked_bytes(&frame, &unfiltered, &one),
            0,
            "the frame itself is read"
        );
        // time and walk (8 + 8), their row numbers (8), the clause's copy and mask (8 + 1),
        // the mask (1): 34 bytes a row.
        let alone = linked_bytes(&frame, std::slice::from_ref(&line), &one);
        assert_eq!(alone, 34_000);
        // Same filter, same columns: one filtered copy for both figures; a histogram
        // also reads its y over the rows in view, for its bins (8 bytes a row).
        let same = fig(ChartKind::Histogram, TIME, "walk", vec![0]);
        assert_eq!(linked_bytes(&frame, &[line.clone(), same], &one), alone + 8_000);
        // A third column in the same copy: 8 bytes a row more.
        let sine = fig(ChartKind::Scatter, TIME, "sine", vec![0]);
        assert_eq!(linked_bytes(&frame, &[line.clone(), sine], &one), alone + 8_000);
        // A second clause: its temporaries.
        assert_eq!(
            linked_bytes(&frame, std::slice::from_ref(&line), &two),
            alone + 9_000
        );
        // A clause on the row number: every row numbered first.
        let rows = [vec![range(ROW)]];
        assert_eq!(linked_bytes(&frame, std::slice::from_ref(&line), &rows), 46_000);
        // A bar's pick on a number column reads it as text.
        let pick = [vec![Clause::Categories {
            column: "walk".into(),
            values: vec!["1".into()],
        }]];
        assert_eq!(linked_bytes(&frame, std::slice::from_ref(&line), &pick), 74_000);
        // Columns in several chunks are copied by each figure (x and y).
        let mut chunked = frame.clone();
        chunked.vstack_mut(&frame).expect("vstack");
        assert_eq!(
            linked_bytes(&chunked, std::slice::from_ref(&line), &one),
            2 * alone + 32_000
        );
        // Unfiltered, such columns are copied too: time and walk, 2,000 rows each.
        assert_eq!(linked_bytes(&chunked, &unfiltered, &one), 32_000);
        // A bar's groups are counted whatever it filters on.
        let bar = fig(ChartKind::Bar, "walk", "walk", vec![]);
        assert_eq!(linked_bytes(&frame, &[line.clone(), bar], &one), alone + 32_000);
        // Zoomed to a tenth of the rows: a tenth of the work.
        let mut zoomed = line;
        let time = frame.column(TIME).expect("time").f64().expect("f64").clone();
        zoomed.spec.range = (time.get(100), time.get(199));
        assert_eq!(linked_bytes(&frame, &[zoomed], &one), 3_400);

        // Drawn in place, a line of ranges over one-chunk f64 columns copies nothing: its
        // block summaries are all it takes (under three bytes a row with the tests' small
        // blocks, a sixteenth of a byte at their real size).
        let in_place = fig(ChartKind::Line, TIME, "walk", vec![0]);
        let summaries = linked_bytes(&frame, std::slice::from_ref(&in_place), &two);
        assert!((1..3_000).contains(&summaries), "{summaries}");
        // Columns in several chunks are copied: the line's walk, and the clauses' walk
        // and sine (a sorted x in several chunks is drawn from a copy of the rows kept).
        let over_rows = fig(ChartKind::Line, ROW, "walk", vec![0]);
        let mut one_chunk = chunked.clone();
        one_chunk.rechunk_mut();
        assert_eq!(
            linked_bytes(&chunked, std::slice::from_ref(&over_rows), &two),
            linked_bytes(&one_chunk, std::slice::from_ref(&over_rows), &two) + 2_000 * 8 * 3
        );
    }

    #[test]
    fn a_zoom_filters_only_its_window_and_counts_the_same_rows() {
        let frame = time_series(100_000, 7).expect("frame");
        let walk: Vec<f64> = frame
            .column("walk")
            .expect("walk")
            .f64()
            .expect("f64")
            .into_no_null_iter()
            .collect();
        let time: Vec<f64> = frame
            .column(TIME)
            .expect("time")
            .f64()
            .expect("f64")
            .into_no_null_iter()
            .collect();
        // The middle half of the walk's values in the window.
        let window = &walk[30_000..31_000];
        let (min, max) = window
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let (lo, hi) = (min + (max - min) / 4.0, max - (max - min) / 4.0);
        let brush = vec![Clause::Range {
            column: "walk".into(),
            lo,
            hi,
        }];
        let kept =
            |rows: std::ops::Range<usize>| rows.filter(|&i| (lo..=hi).contains(&walk[i])).count() as u64;
        // Over the row number, rows 30,000 to 30,999 (a range's ends may fall between rows).
        let mut line = fig(ChartKind::Line, ROW, "walk", vec![0]);
        line.spec.range = (Some(29_999.5), Some(30_999.0));
        let mut hist = fig(ChartKind::Histogram, ROW, "walk", vec![0]);
        hist.spec.range = line.spec.range;
        let drawn = linked(&frame, &[line, hist], std::slice::from_ref(&brush)).expect("linked");
        let inside = kept(30_000..31_000);
        assert!(inside > 0 && inside < 1_000, "{inside}");
        assert_eq!(drawn[0].rows_in_range, inside);
        assert_eq!(counted(&drawn[1]), inside);
        // (Numbered from 0 rather than from the window's first row, no row would be in
        // the range.)
        // Over a sorted time column.
        let mut line = fig(ChartKind::Line, TIME, "walk", vec![0]);
        line.spec.range = (Some(time[50_000]), Some(time[52_000]));
        let drawn = linked(&frame, &[line], &[brush]).expect("linked");
        assert_eq!(drawn[0].rows_in_range, kept(50_000..52_001));
    }

    /// A brush over more rows than one task filters is filtered in parts on rayon's
    /// workers: the joined rows, their numbers and their order are what one pass keeps,
    /// in one chunk; a missing value is never kept.
    #[test]
    fn rows_filtered_in_parts_are_the_rows_one_pass_keeps() {
        let rows = ROWS_PER_TASK * 5 / 2 + 17;
        let v: Vec<Option<f64>> = (0..rows)
            .map(|i| (i % 1_000 != 7).then(|| ((i as f64) * 0.37).sin()))
            .collect();
        let w: Vec<i64> = (0..rows as i64).map(|i| i % 1_013).collect();
        let frame = DataFrame::new(rows, vec![Column::new("v".into(), v), Column::new("w".into(), w)])
            .expect("frame");
        let keep = col("v").gt_eq(lit(-0.2)).and(col("v").lt_eq(lit(0.5)));
        let base = frame.slice(3, rows - 3);
        let parts = kept_rows(&base, 3, &["w", "v"], keep.clone(), true).expect("in parts");
        let whole = kept_part(&base, 3, &["w", "v"], keep, true).expect("one pass");
        let last = parts.column(ROW_NUMBER).and_then(|c| c.f64().map(|n| n.max()));
        assert!(
            last.ok()
                .flatten()
                .is_some_and(|n| n > (2 * ROWS_PER_TASK) as f64),
            "rows kept from the last part: {} rows",
            parts.height()
        );
        assert!(parts.equals_missing(&whole));
        assert!(parts.columns().iter().all(|c| c.n_chunks() == 1));
        assert_eq!(parts.column("v").expect("v").null_count(), 0);
    }
}
