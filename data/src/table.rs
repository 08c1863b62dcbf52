//! Looking at a frame without it leaving the server: its schema with each column's
//! nulls and range ([`ColumnSummary`]), and one page of rows at a time ([`RowsPage`],
//! sorted on the server when asked). The types are plain data, shared with the wasm
//! client; the functions that make them (feature `engine`) read a lazy query, so a
//! kept file is scanned for only what they need.

#[cfg(feature = "engine")]
use polars::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "engine")]
use crate::chain::schema_of;
#[cfg(feature = "engine")]
use crate::error::{bad, StepError};
#[cfg(feature = "engine")]
use crate::transform::SortBy;

/// Most rows one page of the table carries.
pub const PAGE_ROWS: u64 = 50;

/// Longest text a cell carries (longer values are cut, marked with `…`).
pub const MAX_CELL_CHARS: usize = 200;

/// One column as the schema shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    /// Its name.
    pub name: String,
    /// Its type, as polars names it (`i64`, `f64`, `str`, `date`, …).
    pub dtype: String,
    /// Missing values.
    pub nulls: u64,
    /// Smallest value (numbers, dates and times), as text.
    pub min: Option<String>,
    /// Largest value, as text.
    pub max: Option<String>,
}

/// A page of rows: every value as text (`None` for a missing one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowsPage {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
    /// Index of the first row.
    pub offset: u64,
    /// Rows in the frame.
    pub total: u64,
}

/// Whether min and max mean something for `t`.
#[cfg(feature = "engine")]
fn ranged(t: &DataType) -> bool {
    t.is_primitive_numeric() || t.is_temporal()
}

/// Each column of `frame` with its nulls and, for numbers, dates and times, its range:
/// one query for all of them, run by polars' `engine` (the streaming engine reads a
/// frame larger than memory a batch at a time).
#[cfg(feature = "engine")]
pub fn summarize(frame: &mut LazyFrame, engine: Engine) -> Result<Vec<ColumnSummary>, StepError> {
    let schema = schema_of(frame)?;
    let mut exprs = Vec::with_capacity(schema.len() * 3);
    for (i, (name, t)) in schema.iter().enumerate() {
        exprs.push(col(name.clone()).null_count().alias(format!("n{i}")));
        if ranged(t) {
            exprs.push(col(name.clone()).min().alias(format!("a{i}")));
            exprs.push(col(name.clone()).max().alias(format!("b{i}")));
        }
    }
    // One query, one sink: never the several results of a multi-sink plan.
    let stats = frame
        .clone()
        .select(exprs)
        .collect_with_engine(engine)?
        .unwrap_single();
    let get = |key: String| {
        stats
            .column(&key)
            .ok()
            .and_then(|c| c.get(0).ok())
            .and_then(|v| text(&v))
    };
    Ok(schema
        .iter()
        .enumerate()
        .map(|(i, (name, t))| ColumnSummary {
            name: name.to_string(),
            dtype: t.to_string(),
            nulls: get(format!("n{i}")).and_then(|n| n.parse().ok()).unwrap_or(0),
            min: get(format!("a{i}")),
            max: get(format!("b{i}")),
        })
        .collect())
}

/// The page of [`PAGE_ROWS`] rows of `frame` (of `total` rows) from row `offset`,
/// ordered by `sort` when given (nulls last, ties in their order).
#[cfg(feature = "engine")]
pub fn page(frame: LazyFrame, offset: u64, total: u64, sort: Option<&SortBy>) -> Result<RowsPage, StepError> {
    let mut frame = frame;
    if let Some(SortBy { column, descending }) = sort {
        let schema = schema_of(&mut frame)?;
        if !schema.contains(column) {
            return Err(bad(format!("there is no column named {column:?}")));
        }
        frame = frame.sort(
            [column.as_str()],
            SortMultipleOptions::default()
                .with_order_descending(*descending)
                .with_nulls_last(true)
                .with_maintain_order(true),
        );
    }
    let page = frame
        .slice(offset.min(i64::MAX as u64) as i64, PAGE_ROWS as u32)
        .collect()?;
    let columns: Vec<String> = page.get_column_names().iter().map(|n| n.to_string()).collect();
    let rows = (0..page.height())
        .map(|r| {
            page.columns()
                .iter()
                .map(|c| c.get(r).ok().and_then(|v| text(&v)))
                .collect()
        })
        .collect();
    Ok(RowsPage {
        columns,
        rows,
        offset,
        total,
    })
}

/// A value as the table shows it (`None` when missing), cut to [`MAX_CELL_CHARS`].
#[cfg(feature = "engine")]
fn text(value: &AnyValue) -> Option<String> {
    let full = match value {
        AnyValue::Null => return None,
        AnyValue::String(s) => (*s).to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    };
    if full.chars().count() <= MAX_CELL_CHARS {
        return Some(full);
    }
    let mut cut: String = full.chars().take(MAX_CELL_CHARS).collect();
    cut.push('…');
    Some(cut)
}
