//! The handle the browser holds in place of a frame.

use serde::{Deserialize, Serialize};

/// An opaque reference to a frame that stays on the server.
///
/// `id` is a random UUID v4 in text form; it is only meaningful together with the
/// session that created it, so a handle copied into another browser is useless there.
/// `rows` and `bytes` are harmless metadata for display: the server never trusts
/// them, it reads the real frame through the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameHandle {
    /// Random identifier of the frame within its session.
    pub id: String,
    /// Number of rows of the frame when it was stored.
    pub rows: u64,
    /// Number of columns of the frame (metadata only).
    #[serde(default)]
    pub cols: u64,
    /// Estimated size of the frame in bytes when it was stored.
    pub bytes: u64,
}

impl FrameHandle {
    /// The first eight characters of the id, enough to tell handles apart on screen.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}
