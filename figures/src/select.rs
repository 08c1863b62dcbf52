//! Selections made on a figure (a brushed range, picked categories, a lasso) as plain
//! data, and the figures of a linked view that they filter. Compiled without the engine
//! too: the browser builds them from plotly's selection events.
//!
//! A selection is a list of [`Clause`]s that must all hold. Its clauses name columns and
//! values, never rows: what the browser sends is the shape the user drew, and the rows
//! inside it are found on the server.

use serde::{Deserialize, Serialize};

use crate::error::shown;
use crate::{FigureError, FigureSpec};

/// Most clauses one selection may have.
pub const MAX_CLAUSES: usize = 16;
/// Most categories a [`Clause::Categories`] may list.
pub const MAX_CATEGORIES: usize = 1_000;
/// Most vertices of a [`Clause::Polygon`] (Stayput's page thins a longer lasso first).
pub const MAX_VERTICES: usize = 1_000;
/// Most figures one linked view may have.
pub const MAX_FIGURES: usize = 8;

/// One condition of a selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clause {
    /// `lo ≤ column ≤ hi` (the column read as numbers; [`crate::ROW`] is the row number).
    Range {
        /// The column.
        column: String,
        /// Low end, inclusive.
        lo: f64,
        /// High end, inclusive.
        hi: f64,
    },
    /// The column's value, as text, is one of `values`.
    Categories {
        /// The column.
        column: String,
        /// The values kept.
        values: Vec<String>,
    },
    /// The point (x, y) lies inside the polygon (a lasso), its vertices in order.
    Polygon {
        /// The x column ([`crate::ROW`] is the row number).
        x: String,
        /// The y column.
        y: String,
        /// The vertices, `[x, y]` each.
        points: Vec<[f64; 2]>,
    },
}

impl Clause {
    /// The range `lo..=hi` of column `column` (or of the row number, [`crate::ROW`]).
    pub fn range(column: &str, lo: f64, hi: f64) -> Self {
        Self::Range {
            column: column.to_owned(),
            lo,
            hi,
        }
    }

    /// The columns it reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Self::Range { column, .. } | Self::Categories { column, .. } => vec![column],
            Self::Polygon { x, y, .. } => vec![x, y],
        }
    }

    /// How it reads, for a breadcrumb.
    pub fn label(&self) -> String {
        match self {
            Self::Range { column, lo, hi } => format!("{column} in [{lo}, {hi}]"),
            Self::Categories { column, values } => match values.as_slice() {
                [one] => format!("{column} = {one}"),
                many => format!("{column} in {} values", many.len()),
            },
            Self::Polygon { x, y, points } => format!("({x}, {y}) in a lasso of {} points", points.len()),
        }
    }

    /// Checks what needs no frame: finite, ordered ranges, polygons of 3 to
    /// [`MAX_VERTICES`] finite vertices, 1 to [`MAX_CATEGORIES`] categories.
    pub fn check_shape(&self) -> Result<(), FigureError> {
        let bad = |why: String| Err(FigureError::BadSelection(why));
        match self {
            Self::Range { column, lo, hi } => {
                if !lo.is_finite() || !hi.is_finite() {
                    return bad(format!("the range on {} is not made of numbers", shown(column)));
                }
                if lo > hi {
                    return bad(format!(
                        "the range on {} is inverted ({lo} > {hi})",
                        shown(column)
                    ));
                }
            }
            Self::Categories { column, values } => {
                if values.is_empty() || values.len() > MAX_CATEGORIES {
                    return bad(format!(
                        "a selection of {} must list 1 to {MAX_CATEGORIES} values, not {}",
                        shown(column),
                        values.len()
                    ));
                }
            }
            Self::Polygon { points, .. } => {
                if points.len() < 3 || points.len() > MAX_VERTICES {
                    return bad(format!(
                        "a lasso must have 3 to {MAX_VERTICES} vertices, not {}",
                        points.len()
                    ));
                }
                if points.iter().flatten().any(|v| !v.is_finite()) {
                    return bad("a lasso's vertices must be numbers".into());
                }
            }
        }
        Ok(())
    }
}

/// Every clause must hold.
pub type Selection = Vec<Clause>;

/// Checks the shape of every clause of `selection`, and that it has 1 to
/// [`MAX_CLAUSES`] of them.
pub fn check_selection(selection: &[Clause]) -> Result<(), FigureError> {
    if selection.is_empty() || selection.len() > MAX_CLAUSES {
        return Err(FigureError::BadSelection(format!(
            "a selection must have 1 to {MAX_CLAUSES} clauses, not {}",
            selection.len()
        )));
    }
    selection.iter().try_for_each(Clause::check_shape)
}

/// One figure of a linked view: what to draw, and which of the view's selections filter
/// its rows (by index; a figure is never filtered by the selection made on itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedFigure {
    /// What to draw ([`crate::ChartKind::Bar`] counts the rows of each value of `x`).
    pub spec: FigureSpec,
    /// Indices of the selections its rows must meet.
    pub filters: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked_before_any_frame_is_read() {
        let range = |lo, hi| Clause::Range {
            column: "v".into(),
            lo,
            hi,
        };
        assert!(range(1.0, 2.0).check_shape().is_ok());
        assert!(range(1.0, 1.0).check_shape().is_ok());
        let inverted = range(2.0, 1.0).check_shape().expect_err("refused").to_string();
        assert!(inverted.contains("inverted"), "{inverted}");
        assert!(range(f64::NAN, 1.0).check_shape().is_err());
        assert!(range(0.0, f64::INFINITY).check_shape().is_err());
        let lasso = |n: usize| Clause::Polygon {
            x: "a".into(),
            y: "b".into(),
            points: (0..n).map(|i| [i as f64, (i * i) as f64]).collect(),
        };
        assert!(lasso(3).check_shape().is_ok());
        assert!(lasso(2).check_shape().is_err());
        let many = lasso(MAX_VERTICES + 1)
            .check_shape()
            .expect_err("refused")
            .to_string();
        assert!(many.contains("vertices"), "{many}");
        let none = Clause::Categories {
            column: "c".into(),
            values: vec![],
        };
        assert!(none.check_shape().is_err());
        assert!(check_selection(&[]).is_err());
        assert!(check_selection(&vec![range(0.0, 1.0); MAX_CLAUSES + 1]).is_err());
    }

    #[test]
    fn a_selection_travels_as_json_and_infinity_cannot_be_sent() {
        let clause = Clause::Range {
            column: "v".into(),
            lo: 1.5,
            hi: 2.0,
        };
        let text = serde_json::to_string(&clause).expect("json");
        assert_eq!(text, r#"{"range":{"column":"v","lo":1.5,"hi":2.0}}"#);
        assert!(serde_json::from_str::<Clause>(r#"{"range":{"column":"v","lo":NaN,"hi":2}}"#).is_err());
    }
}
