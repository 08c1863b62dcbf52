//! What the cache shows about itself: one session's entries and the server's totals.
//! Plain data, shared with the browser (the `/cache` page).

use serde::{Deserialize, Serialize};

use crate::{FrameHandle, FrameId, Lineage, Placement, Residence};

/// One handle of a session, as listed on `/cache`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryInfo {
    /// The handle's full id (the session already holds it; ids of other sessions never
    /// appear here).
    pub id: FrameId,
    /// How the frame was made, when the code that stored it said so.
    pub lineage: Option<Lineage>,
    /// Rows of the frame.
    pub rows: u64,
    /// Columns of the frame.
    pub cols: u64,
    /// Estimated in-memory size in bytes.
    pub bytes: u64,
    /// The placement it was stored with.
    pub placement: Placement,
    /// Where it is now.
    pub residence: Residence,
    /// Whether a read of it when gone rebuilds it (a recipe exists for its lineage).
    pub recomputable: bool,
    /// Milliseconds since it was stored.
    pub age_ms: u64,
    /// Milliseconds since it was last read or written.
    pub idle_ms: u64,
    /// Reads served.
    pub hits: u64,
    /// Its frame is still being made: its rows, columns and bytes may be what was
    /// expected of it (none, for a frame written straight to disk), not what it has.
    pub filling: bool,
}

impl EntryInfo {
    /// The first eight characters of the id.
    pub fn short_id(&self) -> &str {
        self.id.short()
    }

    /// A handle to this frame, for a page that found it in the listing.
    pub fn handle(&self) -> FrameHandle {
        FrameHandle {
            id: self.id.clone(),
            rows: self.rows,
            cols: self.cols,
            bytes: self.bytes,
        }
    }
}

/// Usage of one tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierTotals {
    /// Frames held.
    pub entries: u64,
    /// Bytes held.
    pub bytes: u64,
    /// The tier's budget in bytes.
    pub budget: u64,
}

/// Totals for the whole server: no other session's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sessions that hold at least one entry.
    pub sessions: u64,
    /// The memory tier.
    pub memory: TierTotals,
    /// The cold tier (disk or shared), with its name, when there is one.
    pub cold: Option<(String, TierTotals)>,
    /// Entries whose data is gone (kept as lineage so they can be rebuilt or reported).
    pub gone: u64,
    /// The per-session memory quota in bytes.
    pub session_quota: u64,
}
