//! Selections as polars predicates: one expression a lazy query filters by, whether a
//! linked view re-aggregates its figures or a selection is kept as a step of its own.

use polars::prelude::*;
use rayon::prelude::*;

use crate::select::{check_selection, Clause};
use crate::{FigureError, ROW};

/// Name of the row-number column a selection on [`ROW`] reads: made by
/// [`with_row_numbers`] before the filter, so rows keep their number after it.
pub const ROW_NUMBER: &str = "__stayput_row";

/// Whether any clause of `selection` reads the row number.
pub fn reads_row_number(selection: &[Clause]) -> bool {
    selection.iter().any(|c| c.columns().contains(&ROW))
}

/// `frame` with the row-number column [`ROW_NUMBER`] (f64) added first, counting from
/// `first` (the number of its first row in the frame it was sliced from).
pub fn with_row_numbers(frame: LazyFrame, first: usize) -> LazyFrame {
    frame
        .with_row_index(ROW_NUMBER, Some(first as IdxSize))
        .with_column(col(ROW_NUMBER).cast(DataType::Float64))
}

/// The predicate of `selection` over a frame of `schema`: every clause checked against
/// the schema first (unknown columns, a range on text, a lasso on a non-numeric axis).
/// A clause on [`ROW`] reads [`ROW_NUMBER`], which the caller adds with
/// [`with_row_numbers`].
pub fn selection_expr(selection: &[Clause], schema: &Schema) -> Result<Expr, FigureError> {
    check_selection(selection)?;
    let mut all: Option<Expr> = None;
    for clause in selection {
        let expr = clause_expr(clause, schema)?;
        all = Some(match all {
            Some(all) => all.and(expr),
            None => expr,
        });
    }
    all.ok_or_else(|| FigureError::BadSelection("an empty selection".into()))
}

/// The numbers of column `name` of `schema` as f64 (the row number for [`ROW`]).
fn numbers(schema: &Schema, name: &str) -> Result<Expr, FigureError> {
    if name == ROW {
        return Ok(col(ROW_NUMBER));
    }
    let dtype = schema
        .get(name)
        .ok_or_else(|| FigureError::NoColumn(name.to_owned()))?;
    if !(dtype.is_primitive_numeric() || dtype.is_temporal()) {
        return Err(FigureError::NotNumeric {
            name: name.to_owned(),
            dtype: dtype.to_string(),
        });
    }
    Ok(col(name).cast(DataType::Float64))
}

fn clause_expr(clause: &Clause, schema: &Schema) -> Result<Expr, FigureError> {
    Ok(match clause {
        Clause::Range { column, lo, hi } => {
            let v = numbers(schema, column)?;
            v.clone().gt_eq(lit(*lo)).and(v.lt_eq(lit(*hi)))
        }
        Clause::Categories { column, values } => {
            if schema.get(column).is_none() {
                return Err(FigureError::NoColumn(column.clone()));
            }
            let kept = Series::new("kept".into(), values.as_slice())
                .implode()
                .map_err(|_| FigureError::BadSelection("unreadable categories".into()))?
                .into_series();
            let text = col(column.as_str()).cast(DataType::String);
            let picked = text.clone().is_in(lit(kept), false).fill_null(lit(false));
            // A bar's missing values are drawn as "null" (crate::bar): picked, they are.
            if values.iter().any(|v| v == crate::bar::MISSING) {
                picked.or(col(column.as_str()).is_null())
            } else {
                picked
            }
        }
        Clause::Polygon { x, y, points } => {
            let polygon = points.clone();
            numbers(schema, x)?.map_many(
                move |columns: &mut [Column]| {
                    let mask = inside(&columns[0], &columns[1], &polygon)?;
                    Ok(mask.into_column())
                },
                &[numbers(schema, y)?],
                |_, fields| Ok(Field::new(fields[0].name().clone(), DataType::Boolean)),
            )
        }
    })
}

/// Rows handled by one rayon task of the point-in-polygon test.
const CHUNK: usize = 1 << 16;

/// Whether each (x, y) lies inside `polygon` (even-odd rule; a missing or NaN value is
/// outside). Points outside the polygon's bounding box are rejected first.
fn inside(x: &Column, y: &Column, polygon: &[[f64; 2]]) -> PolarsResult<BooleanChunked> {
    let x = x.cast(&DataType::Float64)?.f64()?.rechunk().into_owned();
    let y = y.cast(&DataType::Float64)?.f64()?.rechunk().into_owned();
    let (xs, ys) = (x.downcast_as_array(), y.downcast_as_array());
    let (xs, ys) = (xs.values().as_slice(), ys.values().as_slice());
    let (x_valid, y_valid) = (x.downcast_as_array().validity(), y.downcast_as_array().validity());
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &[px, py] in polygon {
        (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(px), x_hi.max(px), y_lo.min(py), y_hi.max(py));
    }
    let mut out = vec![false; xs.len()];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(chunk, part)| {
        let start = chunk * CHUNK;
        for (k, slot) in part.iter_mut().enumerate() {
            let i = start + k;
            let valid = x_valid.is_none_or(|v| v.get_bit(i)) && y_valid.is_none_or(|v| v.get_bit(i));
            let (px, py) = (xs[i], ys[i]);
            *slot = valid
                && (x_lo..=x_hi).contains(&px)
                && (y_lo..=y_hi).contains(&py)
                && point_in_polygon(px, py, polygon);
        }
    });
    Ok(BooleanChunked::from_slice(
        PlSmallStr::from_static("inside"),
        &out,
    ))
}

/// The even-odd (ray casting) test of one point.
fn point_in_polygon(px: f64, py: f64, polygon: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let ([xi, yi], [xj, yj]) = (polygon[i], polygon[j]);
        if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!(
            "a" => [0.0, 1.0, 2.0, 3.0, 4.0, f64::NAN],
            "b" => [0.0, 1.0, 4.0, 9.0, 16.0, 1.0],
            "city" => ["Oslo", "Rome", "Lima", "Oslo", "Rome", "Oslo"],
            "n" => [1i64, 2, 3, 4, 5, 6],
        )
        .expect("frame")
    }

    fn kept(selection: &[Clause]) -> Result<Vec<f64>, FigureError> {
        let frame = frame();
        let expr = selection_expr(selection, frame.schema())?;
        let out = with_row_numbers(frame.lazy(), 0)
            .filter(expr)
            .collect()
            .expect("collect");
        Ok(out
            .column(ROW_NUMBER)
            .expect("rows")
            .f64()
            .expect("f64")
            .into_no_null_iter()
            .collect())
    }

    #[test]
    fn ranges_categories_and_row_numbers_select_the_rows_inside() {
        assert_eq!(
            kept(&[Clause::range("a", 1.0, 3.0)]).expect("kept"),
            [1.0, 2.0, 3.0]
        );
        assert_eq!(kept(&[Clause::range("n", 2.0, 2.0)]).expect("kept"), [1.0]);
        assert_eq!(kept(&[Clause::range(ROW, 4.0, 10.0)]).expect("kept"), [4.0, 5.0]);
        let oslo = Clause::Categories {
            column: "city".into(),
            values: vec!["Oslo".into()],
        };
        assert_eq!(kept(std::slice::from_ref(&oslo)).expect("kept"), [0.0, 3.0, 5.0]);
        assert_eq!(
            kept(&[oslo, Clause::range("b", 0.5, 20.0)]).expect("kept"),
            [3.0, 5.0]
        );
        let by_number = Clause::Categories {
            column: "n".into(),
            values: vec!["4".into(), "6".into()],
        };
        assert_eq!(kept(&[by_number]).expect("kept"), [3.0, 5.0]);
    }

    #[test]
    fn the_bar_of_missing_values_selects_them() {
        let frame = df!("c" => [Some("a"), None, Some("b"), None]).expect("frame");
        let picked = Clause::Categories {
            column: "c".into(),
            values: vec![crate::bar::MISSING.into()],
        };
        let expr = selection_expr(&[picked], frame.schema()).expect("expr");
        let kept = frame.lazy().filter(expr).collect().expect("collect");
        assert_eq!(kept.height(), 2);
    }

    #[test]
    fn a_lasso_keeps_the_points_inside_it() {
        // A triangle around (1, 1) and (2, 4) but not (3, 9), (0, 0) or the NaN row.
        let lasso = Clause::Polygon {
            x: "a".into(),
            y: "b".into(),
            points: vec![[0.5, 0.0], [2.5, 0.0], [2.5, 6.0]],
        };
        assert_eq!(kept(&[lasso]).expect("kept"), [1.0, 2.0]);
        let by_row = Clause::Polygon {
            x: ROW.into(),
            y: "b".into(),
            points: vec![[-0.5, -1.0], [5.5, -1.0], [5.5, 2.0], [-0.5, 2.0]],
        };
        assert_eq!(kept(&[by_row]).expect("kept"), [0.0, 1.0, 5.0]);
    }

    #[test]
    fn bad_clauses_name_what_is_wrong() {
        let err = |s: &[Clause]| kept(s).expect_err("refused").to_string();
        assert_eq!(
            err(&[Clause::range("nope", 0.0, 1.0)]),
            "no column named \"nope\""
        );
        assert!(err(&[Clause::range("city", 0.0, 1.0)]).contains("not numeric"));
        assert!(err(&[Clause::range("a", 2.0, 1.0)]).contains("inverted"));
        let lasso = Clause::Polygon {
            x: "a".into(),
            y: "city".into(),
            points: vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
        };
        assert!(err(&[lasso]).contains("not numeric"));
        let unknown = Clause::Categories {
            column: "nope".into(),
            values: vec!["x".into()],
        };
        assert_eq!(err(&[unknown]), "no column named \"nope\"");
    }
}
