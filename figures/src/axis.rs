//! The x axis of a figure and the rows it shows: the row number or a sorted column, and
//! the visible rows found by binary search.

use std::borrow::Cow;
use std::ops::Range;

use polars::prelude::*;

use crate::columns::{is_sorted_f64, values};
use crate::decimate::visible_rows;
use crate::{FigureError, FigureSpec, ROW};

/// The x values of a figure.
pub(crate) enum XValues<'a> {
    /// The row number ([`ROW`]): nothing to read.
    Row,
    /// A sorted f64 column.
    Column(Cow<'a, [f64]>),
}

impl XValues<'_> {
    /// The x of row `i`.
    pub(crate) fn at(&self, i: usize) -> f64 {
        match self {
            Self::Row => i as f64,
            Self::Column(x) => x[i],
        }
    }
}

/// The x values and the visible rows for `spec`.
pub(crate) fn x_axis<'a>(
    frame: &'a DataFrame,
    spec: &FigureSpec,
) -> Result<(XValues<'a>, Range<usize>), FigureError> {
    let (lo, hi) = spec.range;
    let ordered = |a: f64, b: f64| a.partial_cmp(&b).is_some_and(|o| o.is_le());
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if !ordered(lo, hi) {
            return Err(FigureError::EmptyRange);
        }
    }
    if spec.x == ROW {
        let n = frame.height();
        let start = lo.map_or(0.0, |v| v.ceil().max(0.0));
        let end = hi.map_or(n as f64, |v| (v.floor() + 1.0).clamp(0.0, n as f64));
        let start = (start.min(n as f64)) as usize;
        return Ok((XValues::Row, start..(end as usize).max(start)));
    }
    match frame.column(&spec.x) {
        Err(_) => return Err(FigureError::NoColumn(spec.x.clone())),
        Ok(column) if !is_sorted_f64(column) => return Err(FigureError::NotSorted(spec.x.clone())),
        Ok(_) => {}
    }
    let x = values(frame, &spec.x)?;
    let rows = visible_rows(&x, lo, hi);
    Ok((XValues::Column(x), rows))
}
