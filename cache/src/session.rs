//! Whom a handle belongs to.

use uuid::Uuid;

/// The owner of cached frames: one per browser session. Random (UUID v4) and kept
/// only on the server (in the session record), never sent to the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct SessionKey(Uuid);

impl SessionKey {
    /// A fresh, unguessable key.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The key as a UUID (used in disk file names).
    pub fn uuid(&self) -> Uuid {
        self.0
    }
}
