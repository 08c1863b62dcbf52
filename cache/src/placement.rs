//! Where a frame is kept: chosen by the code that stores it.

use serde::{Deserialize, Serialize};

/// The tier a stored frame goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Placement {
    /// In memory only. Under memory pressure it is dropped (and rebuilt from its lineage
    /// when it has a recipe).
    Memory,
    /// On disk only (Arrow IPC, read back memory-mapped).
    Disk,
    /// Memory below the cache's size threshold, disk above it; frames evicted from memory
    /// spill to disk instead of being dropped.
    #[default]
    Auto,
}

/// Where a frame is right now, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Residence {
    /// In this process's memory.
    Memory,
    /// In the disk tier.
    Disk,
    /// Not held anywhere: evicted or expired. Reading it rebuilds it from its lineage
    /// when a recipe exists, otherwise gives [`crate::CacheError::Expired`].
    Gone,
}

impl Residence {
    /// Lower-case name, as used in metrics labels and on the `/cache` page.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Disk => "disk",
            Self::Gone => "gone",
        }
    }
}
