//! Admission before allocation: memory reserved for a frame before it is built, so a
//! request the budget or quota cannot hold is refused before any work, and concurrent
//! builds cannot together overshoot the budget.

use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use super::FrameCache;
use crate::tier::FrameKey;
use crate::{ByteSize, CacheError, Limit, SessionKey};

/// Memory reserved for one frame being built. Counted against the memory budget and the
/// session's quota until the frame takes its place in memory, or until the reservation
/// is dropped: on every path (error, cancellation, panic) the bytes come back.
pub struct Reservation {
    cache: FrameCache,
    session: SessionKey,
    bytes: AtomicU64,
}

impl Reservation {
    /// The bytes still reserved.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }

    /// Hands the reserved bytes over (to the frame that now takes them); the
    /// reservation holds nothing afterwards.
    pub(super) fn take(&self) -> u64 {
        self.bytes.swap(0, Ordering::AcqRel)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let bytes = self.take();
        if bytes > 0 {
            self.cache.state().unreserve(self.session, bytes);
        }
    }
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("session", &self.session)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl FrameCache {
    /// Reserves `bytes` of memory for a frame `session` is about to build.
    ///
    /// Refused at once with [`CacheError::TooLarge`] when no eviction could ever make
    /// room (the frame exceeds the session quota or the memory budget), and with
    /// [`CacheError::Busy`] when the room is held by other reservations. Otherwise the
    /// session's own least recently used frames, then the heaviest session's, leave
    /// memory (spilling where their placement allows) until the reservation fits, and the
    /// pool of spare buffers ([`crate::spare`]) gives back what the budget no longer has
    /// room for.
    pub async fn reserve(&self, session: SessionKey, bytes: u64) -> Result<Reservation, CacheError> {
        self.reserve_counting(session, bytes, true).await
    }

    /// [`FrameCache::reserve`]; `across` (a new frame) also counts what other servers
    /// hold of the session against its quota, which a copy of an existing frame (read
    /// through Redis or rebuilt) does not.
    pub(super) async fn reserve_counting(
        &self,
        session: SessionKey,
        bytes: u64,
        across: bool,
    ) -> Result<Reservation, CacheError> {
        let config = &self.inner.config;
        let (quota, budget) = (config.session_quota, config.memory_budget);
        // With several servers the quota is the session's, not this server's: what the
        // others hold of it is not on offer here.
        let elsewhere = if across {
            self.held_elsewhere(session).await
        } else {
            0
        };
        if elsewhere > 0 && bytes > quota.bytes().saturating_sub(elsewhere) && bytes <= quota.bytes() {
            return Err(CacheError::TooLarge {
                needed: ByteSize(bytes),
                limit: Limit::SessionQuotaHeldElsewhere,
                budget: quota,
            });
        }
        let quota = ByteSize(quota.bytes().saturating_sub(elsewhere));
        // The tighter limit speaks first (the budget when they are equal).
        let limits = if quota < budget {
            [(Limit::SessionQuota, quota), (Limit::MemoryBudget, budget)]
        } else {
            [(Limit::MemoryBudget, budget), (Limit::SessionQuota, quota)]
        };
        for (limit, limit_bytes) in limits {
            if bytes > limit_bytes.bytes() {
                return Err(CacheError::TooLarge {
                    needed: ByteSize(bytes),
                    limit,
                    budget: limit_bytes,
                });
            }
        }
        let (victims, room_for_spares) = {
            let mut state = self.state();
            let session_reserved = state.sessions.get(&session).map_or(0, |s| s.reserved_bytes);
            let room_in_quota = quota.bytes().checked_sub(session_reserved + bytes);
            let room_in_budget = budget.bytes().checked_sub(state.reserved_bytes + bytes);
            let (Some(room_in_quota), Some(room_in_budget)) = (room_in_quota, room_in_budget) else {
                return Err(CacheError::Busy);
            };
            // No entry has the nil id: every frame in memory may make room.
            let nobody = FrameKey {
                session,
                id: Uuid::nil(),
            };
            let victims = state.evict(
                session,
                room_in_quota,
                room_in_budget,
                nobody,
                self.inner.cold.is_some(),
            );
            state.reserved_bytes += bytes;
            state.sessions.entry(session).or_default().reserved_bytes += bytes;
            let room_for_spares = budget
                .bytes()
                .saturating_sub(state.charged_bytes() + state.reserved_bytes);
            (victims, room_for_spares)
        };
        // From here on the bytes come back on every path: a request that goes away
        // while its victims are being freed drops the reservation with it.
        let reservation = Reservation {
            cache: self.clone(),
            session,
            bytes: AtomicU64::new(bytes),
        };
        // Spare buffers kept for later fills live inside the budget too: what frames and
        // reservations need comes first. (A fill may still take a spare that is left.)
        crate::spare::trim_to(usize::try_from(room_for_spares).unwrap_or(usize::MAX));
        // Granted once the memory of what left is back, not just uncounted.
        self.settle(victims, true).await;
        self.report_held(session).await;
        Ok(reservation)
    }

    /// Reserves `bytes` only from the room the budget has free now, evicting nothing:
    /// for buffers that are not frames (client mode's transfers), so that a stranger's
    /// transfer can never push anyone's frames out. [`CacheError::Busy`] when the free
    /// room is too small, [`CacheError::TooLarge`] beyond the budget.
    pub fn reserve_free(&self, session: SessionKey, bytes: u64) -> Result<Reservation, CacheError> {
        let budget = self.inner.config.memory_budget;
        if bytes > budget.bytes() {
            return Err(CacheError::TooLarge {
                needed: ByteSize(bytes),
                limit: Limit::MemoryBudget,
                budget,
            });
        }
        let mut state = self.state();
        if state.charged_bytes() + state.reserved_bytes + bytes > budget.bytes() {
            return Err(CacheError::Busy);
        }
        state.reserved_bytes += bytes;
        state.sessions.entry(session).or_default().reserved_bytes += bytes;
        drop(state);
        Ok(Reservation {
            cache: self.clone(),
            session,
            bytes: AtomicU64::new(bytes),
        })
    }

    /// Bytes reserved for frames being built, all sessions.
    pub fn reserved_bytes(&self) -> u64 {
        self.state().reserved_bytes
    }
}
