//! Each kind of work the server admits, and what it costs: the one place a request's
//! cost is worked out, in the rows of 8 bytes that heavy-job admission counts
//! ([`crate::server::heavy::HeavyJobs::admit`] takes a [`Work`], never a number).
//!
//! A cost is the memory the work touches, so a wide frame counts by its bytes, not its
//! rows; a read of a frame the server holds costs nothing (it is a lookup or a mapped
//! file), while a read that rebuilds it costs the rebuild.

use stayput_cache::{EntryInfo, FrameCache, FrameHandle, Residence, SessionKey};

use crate::contract::data::Transform;
use crate::server::data::{chain_of, chain_to_extend, entry, expands};
use crate::server::heavy::HEAVY_ROWS;
use crate::server::recipes::TRANSFORM;
use stayput_data::chain::{Chain, ChainStep};

/// A piece of work a request asks for.
#[derive(Clone, Copy)]
pub enum Work<'a> {
    /// Making a frame of `rows` rows: the benchmark's fill, `/explore`'s series.
    Make {
        /// Its rows.
        rows: u64,
    },
    /// A read of `handle` that may bring its frame back into memory: a mean, a
    /// histogram, a page of rows, a schema.
    Read {
        /// The cache.
        cache: &'a FrameCache,
        /// Whose handle.
        session: SessionKey,
        /// The handle.
        handle: &'a FrameHandle,
    },
    /// A read of the whole of a frame: a `/data` plot, a linked view, a download.
    ReadWhole(&'a EntryInfo),
    /// Parsing a file of `bytes` named `name`: an upload, an example.
    Parse {
        /// Its name (its format).
        name: &'a str,
        /// Its bytes.
        bytes: u64,
    },
    /// A `/data` step on `handle`: its chain run from the kept files.
    Transform {
        /// The cache.
        cache: &'a FrameCache,
        /// Whose handle.
        session: SessionKey,
        /// The parent.
        handle: &'a FrameHandle,
        /// The step.
        step: &'a Transform,
    },
    /// Client mode moving `bytes` either way.
    Transfer {
        /// Its bytes.
        bytes: u64,
    },
}

impl Work<'_> {
    /// What the work costs, in rows of 8 bytes.
    pub fn cost(&self) -> u64 {
        match *self {
            Self::Make { rows } => rows,
            Self::Read {
                cache,
                session,
                handle,
            } => cache
                .entry(session, &handle.id)
                .map_or(0, |entry| rebuild_cost(&entry)),
            Self::ReadWhole(entry) => read_cost(entry).max(rebuild_cost(entry)),
            // A Parquet file expands about 8× in memory; any other about its size.
            Self::Parse { name, bytes } if expands(name) => bytes,
            Self::Parse { bytes, .. } => bytes / 8,
            Self::Transform {
                cache,
                session,
                handle,
                step,
            } => step_cost(cache, session, handle, step),
            // Every transfer takes a slot, whatever its size: they need no session, so
            // nothing else bounds how many run at once.
            Self::Transfer { bytes } => (bytes / 8).max(HEAVY_ROWS),
        }
    }
}

/// What reading the whole of `entry` costs: its rows, or its bytes ÷ 8 when its rows are
/// wider (many columns, lists, text).
fn read_cost(entry: &EntryInfo) -> u64 {
    entry.rows.max(entry.bytes / 8)
}

/// What a read of `entry` rebuilds: the whole frame ([`read_cost`]) when its data is
/// gone and its lineage can make it again (a `/data` step's: the kept files its chain
/// reads, when more, [`Chain::source_rows`]); nothing when it is held (in memory, or on
/// disk where a read maps the file) or cannot be rebuilt (the read says it expired).
fn rebuild_cost(entry: &EntryInfo) -> u64 {
    if entry.residence != Residence::Gone || !entry.recomputable {
        return 0;
    }
    let chain = entry
        .lineage
        .as_ref()
        .filter(|l| l.function == TRANSFORM)
        .and_then(|l| Chain::of_lineage(l).ok());
    read_cost(entry).max(chain.map_or(0, |c| c.source_rows()))
}

/// What a new `step` on `handle` costs: the parent's, or when larger the work of
/// running its chain from the kept files ([`Chain::source_rows`]), a joined frame's
/// chain included. A step this server already holds (memoized, in memory or on disk;
/// not a join, whose size check reads both files again) costs the parent's only. An
/// unknown or foreign handle (the parent or a join's other side) costs nothing: the step
/// then fails as unknown, as any read does.
fn step_cost(cache: &FrameCache, session: SessionKey, handle: &FrameHandle, step: &Transform) -> u64 {
    let Ok(parent) = entry(cache, session, handle) else {
        return 0;
    };
    let cost = read_cost(&parent);
    let Some(Ok(chain)) = parent.lineage.as_ref().map(Chain::of_lineage) else {
        return cost;
    };
    let other = match step {
        Transform::Join { other, .. } => chain_of(cache, session, other).map_or(0, |c| c.source_rows()),
        step => {
            // The lineage the step would have.
            let held = chain_to_extend(cache, session, handle)
                .ok()
                .map(|chain| chain.then(ChainStep::Transform(step.clone())))
                .and_then(|next| stayput_cache::Lineage::new(TRANSFORM, &next).ok())
                .and_then(|lineage| cache.memoized(session, &lineage))
                .is_some_and(|e| e.residence != Residence::Gone);
            if held {
                return cost;
            }
            0
        }
    };
    cost.max(chain.source_rows().saturating_add(other))
}
