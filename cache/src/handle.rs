//! The handle the browser holds in place of a frame, and the id inside it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of a frame within its session: a random UUID v4 in text form, as the browser
/// sends it back. Any text is accepted here; the cache parses it when it looks the frame
/// up, and a malformed id reads exactly like an unknown one.
///
/// On the wire it is the plain string (`#[serde(transparent)]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FrameId(String);

impl FrameId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first eight characters, enough to tell frames apart on screen.
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl fmt::Display for FrameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for FrameId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for FrameId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl AsRef<FrameId> for FrameId {
    fn as_ref(&self) -> &FrameId {
        self
    }
}

/// An opaque reference to a frame that stays on the server.
///
/// `id` is only meaningful together with the session that created it, so a handle
/// copied into another browser is useless there. `rows`, `cols` and `bytes` are harmless
/// metadata for display: the server never trusts them, it reads the real frame through
/// the id (which is why every call that only needs to find a frame takes anything that
/// is [`AsRef<FrameId>`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameHandle {
    /// Random identifier of the frame within its session.
    pub id: FrameId,
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
        self.id.short()
    }
}

impl AsRef<FrameId> for FrameHandle {
    fn as_ref(&self) -> &FrameId {
        &self.id
    }
}
