//! The contract of `/linked`: a linked view's state (its figures, the selection made on
//! each, the x ranges zoomed to), how a brush on a figure becomes a selection, and how
//! the state is written in the page's URL so that a reload restores it.

use serde::{Deserialize, Serialize};

pub use stayput_figures::select::{Clause, LinkedFigure, Selection, MAX_FIGURES, MAX_VERTICES};
use stayput_figures::FigureSpec;

use crate::contract::figure::{first_axes, ChartKind, ColumnInfo, ROW};

/// Where the page is.
pub const LINKED_PATH: &str = "/linked";

/// One figure of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewFigure {
    /// How it draws.
    pub kind: ChartKind,
    /// Its x column ([`ROW`] for the row number; a bar's categories).
    pub x: String,
    /// Its y column (not read by a bar).
    pub y: String,
    /// Whether x holds epoch milliseconds (a date axis).
    #[serde(default)]
    pub time: bool,
}

/// What a user drew on a figure, as plotly reports it (numbers on the figure's axes; a
/// date axis's in epoch milliseconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Brush {
    /// The x range of a box selection.
    pub x: Option<(f64, f64)>,
    /// The y range of a box selection.
    pub y: Option<(f64, f64)>,
    /// A lasso's vertices.
    pub lasso: Option<Vec<[f64; 2]>>,
    /// The categories of the bars selected.
    pub categories: Vec<String>,
}

/// The state of a linked view: all of it is in the URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkedView {
    /// The figures, in order.
    pub figures: Vec<ViewFigure>,
    /// The selection made on each figure (same order; `None`: none).
    #[serde(default)]
    pub selections: Vec<Option<Selection>>,
    /// The x range each x column is zoomed to (figures with the same x follow it).
    #[serde(default)]
    pub ranges: Vec<(String, f64, f64)>,
}

impl LinkedView {
    /// The figures a frame with `columns` is first shown with: its first axes as a
    /// line; the histogram of y (over the same x, so it follows a zoom); a second
    /// numeric column's histogram; the bars of its first column that is not numeric.
    pub fn first_for(columns: &[ColumnInfo]) -> Self {
        let (x, y) = first_axes(columns);
        if y.is_empty() {
            return Self::default();
        }
        // The figure engine draws over a sorted x only: a time column that is not
        // sorted (an upload's dates) gives way to the row number.
        let x = if columns.iter().any(|c| c.name == x && c.sorted) {
            x
        } else {
            ROW.to_owned()
        };
        let time = columns.iter().any(|c| c.name == x && c.time);
        let mut figures = vec![
            ViewFigure {
                kind: ChartKind::Line,
                x: x.clone(),
                y: y.clone(),
                time,
            },
            ViewFigure {
                kind: ChartKind::Histogram,
                x: x.clone(),
                y: y.clone(),
                time,
            },
        ];
        if let Some(other) = columns
            .iter()
            .find(|c| c.numeric && !c.sorted && c.name != y && c.name != ROW)
        {
            figures.push(ViewFigure {
                kind: ChartKind::Histogram,
                x: x.clone(),
                y: other.name.clone(),
                time,
            });
        }
        if let Some(text) = columns.iter().find(|c| !c.numeric && !c.time) {
            figures.push(ViewFigure {
                kind: ChartKind::Bar,
                x: text.name.clone(),
                y: String::new(),
                time: false,
            });
        }
        Self {
            selections: vec![None; figures.len()],
            figures,
            ranges: Vec::new(),
        }
    }

    /// The selection on figure `i`, if any.
    pub fn selection(&self, i: usize) -> Option<&Selection> {
        self.selections.get(i).and_then(Option::as_ref)
    }

    /// Sets (or with `None` clears) the selection on figure `i`.
    pub fn select(&mut self, i: usize, selection: Option<Selection>) {
        if self.selections.len() < self.figures.len() {
            self.selections.resize(self.figures.len(), None);
        }
        if let Some(slot) = self.selections.get_mut(i) {
            *slot = selection;
        }
    }

    /// The x range column `x` is zoomed to.
    pub fn range_of(&self, x: &str) -> Option<(f64, f64)> {
        self.ranges
            .iter()
            .find(|(name, _, _)| name == x)
            .map(|&(_, lo, hi)| (lo, hi))
    }

    /// Zooms every figure over `x` to `range` (`None`: all of it).
    pub fn zoom(&mut self, x: &str, range: Option<(f64, f64)>) {
        self.ranges.retain(|(name, _, _)| name != x);
        if let Some((lo, hi)) = range {
            self.ranges.push((x.to_owned(), lo, hi));
        }
    }

    /// Adds `figure`, with no selection.
    pub fn add(&mut self, figure: ViewFigure) {
        self.selections.resize(self.figures.len(), None);
        self.figures.push(figure);
        self.selections.push(None);
    }

    /// Removes figure `i` and its selection.
    pub fn remove(&mut self, i: usize) {
        if i < self.figures.len() {
            self.figures.remove(i);
        }
        if i < self.selections.len() {
            self.selections.remove(i);
        }
    }

    /// Every selection made, in figure order (what "keep the selection" keeps).
    pub fn all_clauses(&self) -> Selection {
        self.selections.iter().flatten().flatten().cloned().collect()
    }

    /// The request for figures `only`, each `width(i)` pixels wide: their specs (with
    /// the zoomed range of their x) and the selections of the *other* figures.
    pub fn request(
        &self,
        only: &[usize],
        width: impl Fn(usize) -> u32,
    ) -> (Vec<LinkedFigure>, Vec<Selection>) {
        let made: Vec<(usize, &Selection)> = (0..self.figures.len())
            .filter_map(|j| self.selection(j).map(|s| (j, s)))
            .collect();
        let figures = only
            .iter()
            .filter_map(|&i| self.figures.get(i).map(|f| (i, f)))
            .map(|(i, f)| {
                let range = match f.kind {
                    ChartKind::Bar => None,
                    _ => self.range_of(&f.x),
                };
                LinkedFigure {
                    spec: FigureSpec {
                        x: f.x.clone(),
                        y: f.y.clone(),
                        kind: f.kind,
                        range: (range.map(|r| r.0), range.map(|r| r.1)),
                        width_px: width(i),
                        time_x: f.time && f.kind != ChartKind::Bar,
                    },
                    filters: made
                        .iter()
                        .enumerate()
                        .filter(|(_, (j, _))| *j != i)
                        .map(|(k, _)| k)
                        .collect(),
                }
            })
            .collect();
        (figures, made.into_iter().map(|(_, s)| s.clone()).collect())
    }

    /// The view as the URL's `view` parameter (JSON; the page encodes it).
    pub fn to_param(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The view a URL's `view` parameter holds; `None` when it holds none that reads.
    pub fn from_param(text: &str) -> Option<Self> {
        let mut view: Self = serde_json::from_str(text).ok()?;
        if view.figures.is_empty() || view.figures.len() > MAX_FIGURES {
            return None;
        }
        view.selections.resize(view.figures.len(), None);
        Some(view)
    }
}

/// How plotly draws `selection` on the figure it was made on (its `layout.selections`):
/// a box for ranges, the lasso's path. Drawn with the figure, a selection survives the
/// figure's redraws and a reload; categories (picked bars) have no box.
pub fn selection_boxes(figure: &ViewFigure, selection: &Selection) -> Vec<serde_json::Value> {
    use serde_json::json;
    let along = |column: &str| -> Option<(f64, f64)> {
        selection.iter().find_map(|c| match c {
            Clause::Range { column: name, lo, hi } if name == column => Some((*lo, *hi)),
            _ => None,
        })
    };
    let mut boxes = Vec::new();
    for clause in selection {
        if let Clause::Polygon { points, .. } = clause {
            let path: Vec<String> = points.iter().map(|[x, y]| format!("{x},{y}")).collect();
            boxes.push(
                json!({ "type": "path", "xref": "x", "yref": "y", "path": format!("M{}Z", path.join("L")) }),
            );
        }
    }
    // The axis each range is on: a histogram's x and a box's y show its y column.
    let (x, y) = match figure.kind {
        ChartKind::Histogram => (along(&figure.y), None),
        ChartKind::Box => (None, along(&figure.y)),
        ChartKind::Line | ChartKind::Scatter | ChartKind::Density => (along(&figure.x), along(&figure.y)),
        ChartKind::Bar => (None, None),
    };
    if x.is_some() || y.is_some() {
        let (x0, x1, xref) = x.map_or((0.0, 1.0, "paper"), |(lo, hi)| (lo, hi, "x"));
        let (y0, y1, yref) = y.map_or((0.0, 1.0, "paper"), |(lo, hi)| (lo, hi, "y"));
        boxes.push(
            json!({ "type": "rect", "xref": xref, "yref": yref, "x0": x0, "x1": x1, "y0": y0, "y1": y1 }),
        );
    }
    boxes
}

/// The selection `brush` makes on `figure`: a histogram's or bars' brush selects its
/// values, a box plot's its y range; a line's, scatter's or heatmap's box its x range
/// (and y for a scatter or heatmap) and a lasso its polygon. `None` when it selects
/// nothing (a click, an empty box).
pub fn selection_of(figure: &ViewFigure, brush: &Brush) -> Option<Selection> {
    let range = |column: &str, (lo, hi): (f64, f64)| Clause::Range {
        column: column.to_owned(),
        lo: lo.min(hi),
        hi: lo.max(hi),
    };
    let clauses: Selection = match figure.kind {
        ChartKind::Bar if !brush.categories.is_empty() => vec![Clause::Categories {
            column: figure.x.clone(),
            values: brush.categories.clone(),
        }],
        ChartKind::Bar => Vec::new(),
        ChartKind::Histogram => brush.x.map(|x| range(&figure.y, x)).into_iter().collect(),
        ChartKind::Box => brush.y.map(|y| range(&figure.y, y)).into_iter().collect(),
        ChartKind::Line | ChartKind::Scatter | ChartKind::Density => match &brush.lasso {
            Some(points) => vec![Clause::Polygon {
                x: figure.x.clone(),
                y: figure.y.clone(),
                points: points.clone(),
            }],
            None => {
                let mut clauses: Selection = brush.x.map(|x| range(&figure.x, x)).into_iter().collect();
                if figure.kind != ChartKind::Line {
                    clauses.extend(brush.y.map(|y| range(&figure.y, y)));
                }
                clauses
            }
        },
    };
    (!clauses.is_empty()).then_some(clauses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, numeric: bool, sorted: bool) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            numeric,
            sorted,
            time: false,
        }
    }

    #[test]
    fn a_frame_is_first_shown_as_a_line_histograms_and_bars() {
        let columns = [
            column(ROW, true, true),
            column("walk", true, false),
            column("sine", true, false),
            column("city", false, false),
        ];
        let view = LinkedView::first_for(&columns);
        let kinds: Vec<ChartKind> = view.figures.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                ChartKind::Line,
                ChartKind::Histogram,
                ChartKind::Histogram,
                ChartKind::Bar
            ]
        );
        assert_eq!(view.figures[2].y, "sine");
        assert_eq!(view.figures[3].x, "city");
        assert_eq!(view.selections.len(), 4);
    }

    #[test]
    fn a_figure_is_filtered_by_the_other_figures_selections_only() {
        let mut view = LinkedView::first_for(&[
            column(ROW, true, true),
            column("walk", true, false),
            column("sine", true, false),
        ]);
        let brush = Brush {
            x: Some((3.0, 1.0)),
            ..Brush::default()
        };
        let picked = selection_of(&view.figures[1], &brush).expect("a range");
        assert_eq!(
            picked,
            vec![Clause::Range {
                column: "walk".into(),
                lo: 1.0,
                hi: 3.0
            }]
        );
        view.select(1, Some(picked));
        view.zoom(ROW, Some((10.0, 20.0)));
        let (figures, selections) = view.request(&[0, 1, 2], |_| 500);
        assert_eq!(selections.len(), 1);
        assert_eq!(figures[0].filters, [0]);
        assert!(figures[1].filters.is_empty(), "never filtered by its own brush");
        assert_eq!(figures[2].filters, [0]);
        assert_eq!(figures[0].spec.range, (Some(10.0), Some(20.0)));
        let back = LinkedView::from_param(&view.to_param()).expect("reads back");
        assert_eq!(back, view);
        assert!(LinkedView::from_param("{}").is_none());
        assert!(LinkedView::from_param("not json").is_none());
    }

    #[test]
    fn brushes_become_the_clauses_of_their_figure() {
        let line = ViewFigure {
            kind: ChartKind::Line,
            x: "t".into(),
            y: "v".into(),
            time: false,
        };
        let lasso = Brush {
            lasso: Some(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]),
            ..Brush::default()
        };
        assert!(matches!(
            selection_of(&line, &lasso).as_deref(),
            Some([Clause::Polygon { .. }])
        ));
        let bars = ViewFigure {
            kind: ChartKind::Bar,
            x: "city".into(),
            y: String::new(),
            time: false,
        };
        let picked = Brush {
            categories: vec!["Oslo".into()],
            ..Brush::default()
        };
        assert!(matches!(
            selection_of(&bars, &picked).as_deref(),
            Some([Clause::Categories { .. }])
        ));
        assert_eq!(selection_of(&bars, &Brush::default()), None);
    }
}
