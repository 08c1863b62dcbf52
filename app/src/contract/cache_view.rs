//! The contract of `/cache`: what the session holds on the server.

use serde::{Deserialize, Serialize};
use stayput_cache::{EntryInfo, Totals};

/// What `/cache` shows: the caller's own handles and the server's totals (never another
/// session's details).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheListing {
    /// The caller's handles, oldest first.
    pub entries: Vec<EntryInfo>,
    /// Memory the caller's session holds, in bytes.
    pub session_bytes: u64,
    /// The whole server.
    pub totals: Totals,
}
