//! Looking at a frame without it leaving the server (`stayput-data`'s `table`), for a
//! session's handle: its schema with null counts and ranges, and one page of rows at a
//! time.

use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_data::{table, Uploads};

use super::{breadcrumb, chain_of, entry, lazy_of};
use crate::contract::data::{DataInfo, RowsPage, SortBy};
use crate::contract::StayputError;
use crate::server::blocking;
use crate::server::errors::setting_of;
use polars::prelude::Engine;

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
    // A frame larger than memory is read a batch at a time.
    let engine = if entry.bytes > cache.memory_limit().1 {
        Engine::Streaming
    } else {
        Engine::InMemory
    };
    let columns = blocking(move || Ok(table::summarize(&mut frame, engine)?)).await?;
    Ok(DataInfo {
        handle: entry.handle(),
        name: chain.source.name.clone(),
        columns,
        chain: breadcrumb(cache, session, &chain),
    })
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
    let entry = entry(cache, session, handle)?;
    let total = entry.rows;
    // `/data`'s frames only: a frame made otherwise (`/explore`'s larger than memory, say)
    // is not paged here.
    chain_of(cache, session, handle)?;
    let (limit, most) = cache.memory_limit();
    if sort.is_some() && entry.bytes > most {
        // A sort holds the whole frame in memory: refused before it starts.
        return Err(StayputError::TooLarge {
            needed: format!(
                "{} (sorting a page reads the whole frame into memory; filter it first)",
                stayput_cache::ByteSize(entry.bytes)
            ),
            limit: limit.to_string(),
            budget: stayput_cache::ByteSize(most).to_string(),
            setting: Some(setting_of(limit).to_owned()),
        });
    }
    let frame = lazy_of(cache, uploads, session, handle).await?;
    blocking(move || Ok(table::page(frame, offset, total, sort.as_ref())?)).await
}
