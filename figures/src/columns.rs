//! A frame's columns as figures read them: which can be drawn, and their values as f64
//! without a copy when polars holds them contiguously.

use std::borrow::Cow;

use polars::prelude::*;

use crate::{ColumnInfo, FigureError, ROW};

/// The columns of `frame` as a figure can use them, [`ROW`] first. A column is `time`
/// when polars types it as a date or datetime; a caller that keeps epoch milliseconds
/// in a float column marks it itself.
pub fn columns(frame: &DataFrame) -> Vec<ColumnInfo> {
    let mut out = vec![ColumnInfo {
        name: ROW.to_owned(),
        numeric: true,
        sorted: true,
        time: false,
    }];
    out.extend(frame.columns().iter().map(|c| ColumnInfo {
        name: c.name().to_string(),
        numeric: c.dtype().is_primitive_numeric(),
        sorted: is_sorted_f64(c),
        time: c.dtype().is_temporal(),
    }));
    out
}

/// Whether `column` can be an x axis: f64, flagged sorted ascending (so its visible rows
/// are found by binary search).
pub(crate) fn is_sorted_f64(column: &Column) -> bool {
    column.dtype() == &DataType::Float64 && column.is_sorted_flag() == polars::series::IsSorted::Ascending
}

/// The f64 values of column `name`: borrowed when contiguous f64, else one copy (nulls
/// become NaN, which no figure draws).
pub fn values<'a>(frame: &'a DataFrame, name: &str) -> Result<Cow<'a, [f64]>, FigureError> {
    let column = frame
        .column(name)
        .map_err(|_| FigureError::NoColumn(name.to_owned()))?;
    if !column.dtype().is_primitive_numeric() {
        return Err(FigureError::NotNumeric {
            name: name.to_owned(),
            dtype: column.dtype().to_string(),
        });
    }
    if let Ok(slice) = column.f64().and_then(|ca| ca.cont_slice()) {
        return Ok(Cow::Borrowed(slice));
    }
    let unreadable = || FigureError::Unreadable(name.to_owned());
    let cast = column.cast(&DataType::Float64).map_err(|_| unreadable())?;
    let ca = cast.f64().map_err(|_| unreadable())?;
    Ok(Cow::Owned(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect()))
}

/// The values of column `name` as contiguous slices, one per polars chunk (no copy);
/// the column must be f64.
pub fn f64_slices<'a>(frame: &'a DataFrame, name: &str) -> Result<Vec<&'a [f64]>, FigureError> {
    let column = frame
        .column(name)
        .map_err(|_| FigureError::NoColumn(name.to_owned()))?;
    let ca = column.f64().map_err(|_| FigureError::NotNumeric {
        name: name.to_owned(),
        dtype: column.dtype().to_string(),
    })?;
    Ok(ca.downcast_iter().map(|arr| arr.values().as_slice()).collect())
}
