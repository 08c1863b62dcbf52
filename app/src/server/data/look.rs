//! Looking at a frame without it leaving the server (`stayput-data`'s `table`), for a
//! session's handle: its schema with null counts and ranges, and one page of rows at a
//! time.

use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_data::{table, Uploads};

use super::{breadcrumb, chain_of, entry, lazy_of};
use crate::contract::data::{DataInfo, RowsPage, SortBy};
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
    let columns = blocking(move || Ok(table::summarize(&mut frame)?)).await?;
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
    let total = entry(cache, session, handle)?.rows;
    // `/data`'s frames only: a frame made otherwise (one larger than memory, say, which a
    // sort would copy whole) is not paged here.
    chain_of(cache, session, handle)?;
    let frame = lazy_of(cache, uploads, session, handle).await?;
    blocking(move || Ok(table::page(frame, offset, total, sort.as_ref())?)).await
}
