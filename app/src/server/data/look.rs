//! Looking at a frame without it leaving the server: its schema with null counts and
//! ranges, and one page of rows at a time (sorted on the server when asked).

use polars::prelude::*;
use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_data::Uploads;

use super::{breadcrumb, chain, chain_of, entry, lazy_of};
use crate::contract::data::{ColumnSummary, DataInfo, RowsPage, SortBy, MAX_CELL_CHARS, PAGE_ROWS};
use crate::contract::StayputError;
use crate::server::blocking;

/// The schema of `session`'s frame `handle`, each column's nulls and range, and its chain.
pub async fn info(
    cache: &FrameCache,
    uploads: &Uploads,
    session: SessionKey,
    handle: &FrameHandle,
) -> Result<DataInfo, StayputError> {
    let entry = entry(cache, session, handle)?;
    let chain = chain_of(cache, session, handle)?;
    let mut frame = lazy_of(cache, uploads, session, handle).await?;
    let columns = blocking(move || summarize(&mut frame)).await?;
    Ok(DataInfo {
        handle: entry.handle(),
        name: chain.source.name.clone(),
        columns,
        chain: breadcrumb(cache, session, &chain),
    })
}

/// Whether min and max mean something for `t`.
fn ranged(t: &DataType) -> bool {
    t.is_primitive_numeric() || t.is_temporal()
}

fn summarize(frame: &mut LazyFrame) -> Result<Vec<ColumnSummary>, StayputError> {
    let schema = chain::schema_of(frame)?;
    let mut exprs = Vec::with_capacity(schema.len() * 3);
    for (i, (name, t)) in schema.iter().enumerate() {
        exprs.push(col(name.clone()).null_count().alias(format!("n{i}")));
        if ranged(t) {
            exprs.push(col(name.clone()).min().alias(format!("a{i}")));
            exprs.push(col(name.clone()).max().alias(format!("b{i}")));
        }
    }
    let stats = frame
        .clone()
        .select(exprs)
        .collect()
        .map_err(|err| StayputError::BadSpec(chain::first_line(&err.to_string())))?;
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

/// One page of `session`'s frame `handle` from row `offset`, ordered by `sort` when given.
pub async fn rows(
    cache: &FrameCache,
    uploads: &Uploads,
    session: SessionKey,
    handle: &FrameHandle,
    offset: u64,
    sort: Option<SortBy>,
) -> Result<RowsPage, StayputError> {
    let total = entry(cache, session, handle)?.rows;
    let frame = lazy_of(cache, uploads, session, handle).await?;
    blocking(move || {
        let mut frame = frame;
        if let Some(SortBy { column, descending }) = &sort {
            let schema = chain::schema_of(&mut frame)?;
            if !schema.contains(column) {
                return Err(StayputError::BadSpec(format!(
                    "there is no column named {:?}",
                    crate::contract::error::cut(column.clone())
                )));
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
            .collect()
            .map_err(|err| StayputError::BadSpec(chain::first_line(&err.to_string())))?;
        Ok(page_of(&page, offset, total))
    })
    .await
}

fn page_of(page: &DataFrame, offset: u64, total: u64) -> RowsPage {
    let columns: Vec<String> = page.get_column_names().iter().map(|n| n.to_string()).collect();
    let rows = (0..page.height())
        .map(|r| {
            page.columns()
                .iter()
                .map(|c| c.get(r).ok().and_then(|v| text(&v)))
                .collect()
        })
        .collect();
    RowsPage {
        columns,
        rows,
        offset,
        total,
    }
}

/// A value as the table shows it (`None` when missing), cut to [`MAX_CELL_CHARS`].
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
