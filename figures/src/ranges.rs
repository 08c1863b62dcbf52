//! A selection of ranges tested in place, on the frame's own columns: row by row, and
//! block by block from the columns' min/max pyramids, so that a brush reads only the
//! blocks its ranges cut (a block wholly inside is kept without a test, one wholly
//! outside is not read).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use polars::prelude::*;

use crate::columns::values;
use crate::pyramid::MinMaxPyramid;
use crate::select::Clause;
use crate::{FigureError, ROW};

/// Where drawing in place finds a column's min/max pyramid (its name and values): a
/// store's (built by the first use), or none.
pub(crate) type PyramidOf<'p> = &'p (dyn Fn(&str, &[f64]) -> Option<Arc<MinMaxPyramid>> + Sync);

/// One range of a selection.
struct Test<'a> {
    /// The values it tests; `None`: the row number.
    values: Option<Cow<'a, [f64]>>,
    lo: f64,
    hi: f64,
    /// The tested column's pyramid, when there is one.
    pyramid: Option<Arc<MinMaxPyramid>>,
}

/// What a block of rows keeps, as far as the pyramids tell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Class {
    /// No row.
    None,
    /// Every row.
    All,
    /// Some rows, maybe: each is tested.
    Some,
}

/// Which rows a selection of ranges keeps, read from the frame's columns in place.
pub(crate) struct Keep<'a> {
    tests: Vec<Test<'a>>,
}

impl<'a> Keep<'a> {
    /// The test of `clauses`, ranges over the row number or `frame`'s numeric columns,
    /// with the pyramids `pyramid_of` has for them.
    pub(crate) fn of(
        frame: &'a DataFrame,
        clauses: &[Clause],
        pyramid_of: PyramidOf<'_>,
    ) -> Result<Self, FigureError> {
        let tests = clauses
            .iter()
            .map(|clause| match clause {
                Clause::Range { column, lo, hi } if column == ROW => Ok(Test {
                    values: None,
                    lo: *lo,
                    hi: *hi,
                    pyramid: None,
                }),
                Clause::Range { column, lo, hi } => {
                    let values = values(frame, column)?;
                    let pyramid = pyramid_of(column, &values).filter(|p| p.rows() == values.len());
                    Ok(Test {
                        values: Some(values),
                        lo: *lo,
                        hi: *hi,
                        pyramid,
                    })
                }
                _ => Err(FigureError::BadSelection("only ranges are drawn in place".into())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { tests })
    }

    /// Whether row `row` is kept: within every range, bounds included. A missing value
    /// (NaN) is in none, as polars keeps no null.
    #[inline]
    pub(crate) fn keeps(&self, row: usize) -> bool {
        self.tests.iter().all(|t| {
            let v = t.values.as_ref().map_or(row as f64, |values| values[row]);
            v >= t.lo && v <= t.hi
        })
    }

    /// What the rows `rows` (not empty) keep, from the row numbers and the pyramids'
    /// summaries of the blocks that cover them: [`Class::None`] when one range holds
    /// none of their numbers, [`Class::All`] when every range holds all of them (and no
    /// value is NaN), else [`Class::Some`].
    pub(crate) fn class(&self, rows: &Range<usize>) -> Class {
        let mut all = true;
        for t in &self.tests {
            let (lo, hi, nan) = match (&t.values, &t.pyramid) {
                (None, _) => (rows.start as f64, rows.end.saturating_sub(1) as f64, false),
                (Some(_), Some(pyramid)) => match pyramid.covering_range(rows.clone()) {
                    Some((lo, hi)) => (lo, hi, pyramid.has_nan()),
                    None => {
                        all = false;
                        continue;
                    }
                },
                (Some(_), None) => {
                    all = false;
                    continue;
                }
            };
            // With no number, the range is (inf, -inf): out of every range.
            if hi < t.lo || lo > t.hi {
                return Class::None;
            }
            all &= !nan && lo >= t.lo && hi <= t.hi;
        }
        if all {
            Class::All
        } else {
            Class::Some
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(values: Vec<f64>) -> DataFrame {
        DataFrame::new(values.len(), vec![Column::new("v".into(), values)]).expect("frame")
    }

    fn keep<'a>(frame: &'a DataFrame, clauses: &[Clause], pyramids: bool) -> Keep<'a> {
        let built = |_: &str, values: &[f64]| Some(Arc::new(MinMaxPyramid::build(values)));
        let none = |_: &str, _: &[f64]| None;
        let pyramid_of: PyramidOf<'_> = if pyramids { &built } else { &none };
        Keep::of(frame, clauses, pyramid_of).expect("keep")
    }

    #[test]
    fn blocks_wholly_outside_or_inside_are_told_by_the_pyramid() {
        let frame = ramp((0..10_000).map(f64::from).collect());
        let kept = keep(&frame, &[Clause::range("v", 1_000.0, 2_000.0)], true);
        assert_eq!(kept.class(&(0..256)), Class::None);
        assert_eq!(kept.class(&(1_024..1_280)), Class::All);
        assert_eq!(kept.class(&(1_030..1_040)), Class::All, "within one whole block");
        assert_eq!(kept.class(&(900..1_100)), Class::Some, "the range's edge");
        assert_eq!(
            kept.class(&(9_990..10_000)),
            Class::Some,
            "after the last whole block"
        );
        assert!((1_024..1_280).all(|row| kept.keeps(row)));
        assert!(!(0..256).any(|row| kept.keeps(row)));
        // No pyramid: every block is tested.
        let tested = keep(&frame, &[Clause::range("v", 1_000.0, 2_000.0)], false);
        assert_eq!(tested.class(&(1_024..1_280)), Class::Some);
        // The row number needs none; every range must hold the block.
        let rows = keep(
            &frame,
            &[
                Clause::range(ROW, 0.0, 1_500.0),
                Clause::range("v", 1_000.0, 2_000.0),
            ],
            true,
        );
        assert_eq!(rows.class(&(1_024..1_280)), Class::All);
        assert_eq!(rows.class(&(1_536..1_792)), Class::None);
        assert_eq!(rows.class(&(1_280..1_536)), Class::Some);
    }

    #[test]
    fn a_nan_anywhere_keeps_blocks_from_being_taken_whole() {
        let mut values: Vec<f64> = (0..10_000).map(f64::from).collect();
        values[5_000] = f64::NAN;
        values[7_000] = f64::INFINITY;
        let frame = ramp(values);
        let kept = keep(&frame, &[Clause::range("v", 1_000.0, 8_000.0)], true);
        assert_eq!(kept.class(&(1_024..1_280)), Class::Some, "NaN is in no range");
        assert_eq!(kept.class(&(0..256)), Class::None, "outside stays outside");
        let inf = keep(&frame, &[Clause::range("v", 7_100.0, 7_200.0)], true);
        assert_eq!(
            inf.class(&(6_912..7_168)),
            Class::Some,
            "an infinity is out of it"
        );
        assert!(!inf.keeps(7_000));
    }
}
