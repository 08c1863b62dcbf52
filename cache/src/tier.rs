//! The contract of a tier that holds frames outside this process's heap: the disk tier
//! ([`crate::DiskTier`]) and the Redis tier (`RedisTier`, feature `redis`).
//!
//! Every call is async and fallible, and a `load` makes no assumption that the frame
//! was ever in this process: a network tier shared by several servers implements the
//! same trait.

use std::sync::Arc;

use polars::prelude::DataFrame;
use uuid::Uuid;

use crate::recipe::BoxFuture;
use crate::{CacheError, SessionKey};

/// The key of one frame: its session and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameKey {
    /// The owning session.
    pub session: SessionKey,
    /// The frame's id (the handle's id).
    pub id: Uuid,
}

/// What a successful `store` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Bytes the frame takes in this tier.
    pub bytes: u64,
    /// Frames the tier dropped to stay within its own budget (in the order it chose them).
    pub evicted: Vec<FrameKey>,
}

/// A tier that holds frames outside the memory tier.
pub trait ColdTier: Send + Sync + 'static {
    /// Short lower-case name for logs, metrics and errors ("disk", "redis").
    fn name(&self) -> &'static str;

    /// Stores `frame` under `key`, replacing any frame stored there before.
    fn store(&self, key: FrameKey, frame: Arc<DataFrame>) -> BoxFuture<'_, Result<Stored, CacheError>>;

    /// Whether the tier keeps files that frames are written into ([`ColdTier::store_written`]).
    fn takes_files(&self) -> bool {
        false
    }

    /// Bytes the tier reserves for a written file of about `bytes` ([`ColdTier::store_written`]):
    /// a frame whose reservation the budget could never hold is refused before it is placed.
    fn reserved_for_file(&self, bytes: u64) -> u64 {
        bytes
    }

    /// Stores under `key` the Arrow IPC file `write` writes (about `bytes` long): a frame
    /// made straight into the tier, never whole in memory. Only a tier that keeps files
    /// can; the others refuse with [`CacheError::NoDisk`].
    fn store_written(
        &self,
        key: FrameKey,
        bytes: u64,
        write: WriteFn,
    ) -> BoxFuture<'_, Result<Stored, CacheError>> {
        let _ = (key, bytes, write);
        Box::pin(async { Err(CacheError::NoDisk) })
    }

    /// The frame under `key`, or `None` when this tier does not hold it (anymore).
    fn load(&self, key: FrameKey) -> BoxFuture<'_, Result<Option<Arc<DataFrame>>, CacheError>>;

    /// Forgets the frame under `key`; not an error when there is none.
    fn remove(&self, key: FrameKey) -> BoxFuture<'_, Result<(), CacheError>>;

    /// Frames this tier dropped outside a successful `store` (to make room for a write
    /// that then failed or was given up), since the last call.
    fn take_evicted(&self) -> Vec<FrameKey> {
        Vec::new()
    }

    /// Bytes and frames held right now.
    fn usage(&self) -> TierUsage;
}

/// Writes a frame's file for [`ColdTier::store_written`]; its writer fails once the
/// request waiting for it has gone away.
pub type WriteFn = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send>;

/// Bytes and frames a tier holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierUsage {
    /// Frames held.
    pub entries: u64,
    /// Bytes held.
    pub bytes: u64,
    /// The tier's budget in bytes.
    pub budget: u64,
}
