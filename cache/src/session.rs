//! Whom a handle belongs to.

use uuid::Uuid;

/// The owner of cache entries: one per browser session.
///
/// It is a random UUID kept inside the server-side session record, never sent to the
/// browser (the browser only carries the session cookie). Every cache operation takes
/// one, and entries are keyed by `(SessionKey, handle id)`, so a handle is useless
/// under any other key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SessionKey(Uuid);

impl SessionKey {
    /// A fresh, unguessable key.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}
