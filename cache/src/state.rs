//! The bookkeeping behind [`crate::FrameCache`]: entries, per-session memory use, and
//! the choice of what leaves memory. Plain data under one mutex; no I/O happens here.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::DataFrame;
use uuid::Uuid;

use crate::metrics::EvictionCause;
use crate::tier::FrameKey;
use crate::{Lineage, Placement, Residence, SessionKey};

/// Memory one entry costs beyond its frame's own bytes: the bookkeeping here, its
/// lineage, the frame's headers. Measured at ~1,040 bytes for a one-row frame with a
/// lineage (`cache/tests/entry_overhead.rs`); charged as 2 KiB against the memory budget
/// for every entry, evicted ones included, so a flood of tiny frames cannot hold memory
/// "within budget".
pub const ENTRY_OVERHEAD: u64 = 2048;

/// Most bytes of a lineage's arguments. A lineage is kept twice (in its entry and in
/// the memo table), and twice in Redis; a `/data` chain of 64 steps with long filter
/// values reached 60 KB an entry. Longer ones are refused ([`crate::CacheError::LineageTooLong`]).
pub const MAX_LINEAGE_BYTES: usize = 16 << 10;

/// Where an entry's data is.
pub(crate) enum Data {
    /// In memory, counted against the budget and the session's quota.
    Memory(Arc<DataFrame>),
    /// Being written to the cold tier; still readable from memory, no longer counted.
    Writing(Arc<DataFrame>),
    /// In the cold tier.
    Cold,
    /// Evicted or expired; only the metadata (and lineage) remain.
    Gone,
}

impl Data {
    pub(crate) fn residence(&self) -> Residence {
        match self {
            Self::Memory(_) | Self::Writing(_) => Residence::Memory,
            Self::Cold => Residence::Disk,
            Self::Gone => Residence::Gone,
        }
    }

    pub(crate) fn frame(&self) -> Option<&Arc<DataFrame>> {
        match self {
            Self::Memory(frame) | Self::Writing(frame) => Some(frame),
            Self::Cold | Self::Gone => None,
        }
    }
}

pub(crate) struct Entry {
    pub(crate) placement: Placement,
    pub(crate) lineage: Option<Lineage>,
    pub(crate) rows: u64,
    pub(crate) cols: u64,
    pub(crate) bytes: u64,
    pub(crate) data: Data,
    pub(crate) created_ms: u64,
    pub(crate) last_use_ms: u64,
    /// Logical clock of the last use: a strict LRU order even within one millisecond.
    pub(crate) last_use_seq: u64,
    /// Its frame is being made or stored: never forgotten to make room meanwhile.
    pub(crate) filling: bool,
    pub(crate) hits: u64,
    /// Recorded in the shared index (Redis): once it is gone from there, it is gone here.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) published: bool,
    /// Made on this server (not learnt from another): what a session's quota across
    /// servers counts here, so a frame read on several servers counts once.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) origin: bool,
}

#[derive(Default)]
pub(crate) struct SessionState {
    pub(crate) memory_bytes: u64,
    /// Bytes reserved for this session's frames being built (see `FrameCache::reserve`).
    pub(crate) reserved_bytes: u64,
    /// Entries of this session, whatever their data (see `CacheConfig::max_frames_per_session`).
    pub(crate) entries: usize,
    /// What its entries' bookkeeping costs ([`Entry::overhead`], summed).
    pub(crate) overhead_bytes: u64,
    pub(crate) last_seen_ms: u64,
    /// The version of the session's index in Redis this server last read (0: never).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) shared_version: u64,
    /// When this server last renewed the session's keys in Redis.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) shared_renewed_ms: u64,
}

/// A frame that must leave memory, and what becomes of it.
pub(crate) struct Victim {
    pub(crate) key: FrameKey,
    pub(crate) cause: EvictionCause,
    /// `Some` when it moves to the cold tier (placement `Auto`), `None` when dropped.
    pub(crate) spill: Option<Arc<DataFrame>>,
    /// The dropped frame, freed off the caller's path (unmapping 800 MB takes ~90 ms).
    pub(crate) released: Option<Data>,
}

impl Entry {
    /// What this entry's bookkeeping costs against the budget: [`ENTRY_OVERHEAD`], and
    /// its lineage's arguments twice (the entry's copy and the memo table's key).
    pub(crate) fn overhead(&self) -> u64 {
        ENTRY_OVERHEAD + 2 * self.lineage.as_ref().map_or(0, |l| l.args.len() as u64)
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) entries: HashMap<FrameKey, Entry>,
    pub(crate) sessions: HashMap<SessionKey, SessionState>,
    pub(crate) memo: HashMap<(SessionKey, Lineage), Uuid>,
    pub(crate) memory_bytes: u64,
    /// What every entry's bookkeeping costs ([`Entry::overhead`], summed).
    overhead_bytes: u64,
    /// Bytes reserved for frames being built, all sessions: counted against the budget
    /// before the memory is allocated.
    pub(crate) reserved_bytes: u64,
    /// What this server last told the others it holds of each session (quota across servers).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) held_reported: HashMap<SessionKey, u64>,
    clock: u64,
}

impl State {
    pub(crate) fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub(crate) fn touch_session(&mut self, session: SessionKey, now_ms: u64) {
        self.sessions.entry(session).or_default().last_seen_ms = now_ms;
    }

    /// Marks `key` used now; returns the entry.
    pub(crate) fn touch(&mut self, key: FrameKey, now_ms: u64) -> Option<&mut Entry> {
        let seq = self.tick();
        let entry = self.entries.get_mut(&key)?;
        entry.last_use_ms = now_ms;
        entry.last_use_seq = seq;
        Some(entry)
    }

    /// Sets the data of `key`, keeping the memory accounting right.
    /// Replaces the data of `key`, keeping the byte counts right; returns the old data.
    pub(crate) fn set_data(&mut self, key: FrameKey, data: Data) -> Option<Data> {
        let entry = self.entries.get_mut(&key)?;
        let was_counted = matches!(entry.data, Data::Memory(_));
        let now_counted = matches!(data, Data::Memory(_));
        let bytes = entry.bytes;
        if !matches!(data, Data::Gone) {
            entry.filling = false;
        }
        let old = std::mem::replace(&mut entry.data, data);
        let session = self.sessions.entry(key.session).or_default();
        if was_counted && !now_counted {
            self.memory_bytes -= bytes;
            session.memory_bytes -= bytes;
        } else if !was_counted && now_counted {
            self.memory_bytes += bytes;
            session.memory_bytes += bytes;
        }
        Some(old)
    }

    /// Takes `bytes` back from `session`'s reservations.
    pub(crate) fn unreserve(&mut self, session: SessionKey, bytes: u64) {
        self.reserved_bytes = self.reserved_bytes.saturating_sub(bytes);
        if let Some(s) = self.sessions.get_mut(&session) {
            s.reserved_bytes = s.reserved_bytes.saturating_sub(bytes);
            // A session that only ever reserved (a failed build, a client-mode request)
            // leaves nothing behind.
            if s.reserved_bytes == 0 && s.memory_bytes == 0 && s.entries == 0 {
                self.sessions.remove(&session);
            }
        }
    }

    /// Adds the new entry `key` of a session.
    pub(crate) fn insert(&mut self, key: FrameKey, entry: Entry) {
        let overhead = entry.overhead();
        match self.entries.insert(key, entry) {
            None => {
                let session = self.sessions.entry(key.session).or_default();
                session.entries += 1;
                session.overhead_bytes += overhead;
                self.overhead_bytes += overhead;
            }
            Some(old) => {
                let session = self.sessions.entry(key.session).or_default();
                session.overhead_bytes = session.overhead_bytes.saturating_sub(old.overhead()) + overhead;
                self.overhead_bytes = self.overhead_bytes.saturating_sub(old.overhead()) + overhead;
            }
        }
    }

    /// The entry `session` should forget before it stores one more, when it holds `most`
    /// already: its least recently used, preferring one whose data is already gone.
    pub(crate) fn over_frame_cap(&self, session: SessionKey, most: usize) -> Option<FrameKey> {
        let held = self.sessions.get(&session).map_or(0, |s| s.entries);
        if held < most.max(1) {
            return None;
        }
        self.entries
            .iter()
            .filter(|(k, _)| k.session == session)
            .min_by_key(|(_, e)| (!matches!(e.data, Data::Gone), e.last_use_seq))
            .map(|(k, _)| *k)
    }

    /// Removes `key` entirely; returns its data.
    pub(crate) fn remove(&mut self, key: FrameKey) -> Option<Data> {
        let entry = self.entries.remove(&key)?;
        self.overhead_bytes = self.overhead_bytes.saturating_sub(entry.overhead());
        if let Some(session) = self.sessions.get_mut(&key.session) {
            session.entries = session.entries.saturating_sub(1);
            session.overhead_bytes = session.overhead_bytes.saturating_sub(entry.overhead());
        }
        if matches!(entry.data, Data::Memory(_)) {
            self.memory_bytes -= entry.bytes;
            if let Some(session) = self.sessions.get_mut(&key.session) {
                session.memory_bytes -= entry.bytes;
            }
        }
        if let Some(lineage) = &entry.lineage {
            if self.memo.get(&(key.session, lineage.clone())) == Some(&key.id) {
                self.memo.remove(&(key.session, lineage.clone()));
            }
        }
        Some(entry.data)
    }

    /// What the entries' own bookkeeping costs: [`Entry::overhead`] each, whatever their data.
    pub(crate) fn overhead_bytes(&self) -> u64 {
        self.overhead_bytes
    }

    /// What counts against the memory budget: frames in memory and every entry's overhead.
    pub(crate) fn charged_bytes(&self) -> u64 {
        self.memory_bytes + self.overhead_bytes()
    }

    /// The least recently used entry of `session` (any session when `None`) whose data
    /// is gone, never `keep` nor an entry being filled.
    fn lru_gone(&self, session: Option<SessionKey>, keep: FrameKey) -> Option<FrameKey> {
        self.entries
            .iter()
            .filter(|(k, e)| {
                **k != keep
                    && !e.filling
                    && matches!(e.data, Data::Gone)
                    && session.is_none_or(|s| k.session == s)
            })
            .min_by_key(|(_, e)| e.last_use_seq)
            .map(|(k, _)| *k)
    }

    /// What leaves next when the whole cache is over its budget: from the session that
    /// costs the most (its frames in memory and its entries' bookkeeping; `keep` not on
    /// offer, so a session holding only the new frame is not the heaviest), its least
    /// recently used frame in memory, or (`true`) its least recently used entry whose data
    /// is gone when that frees more (the frame is smaller than an entry's overhead, or
    /// there is none). Any session's, when the heaviest has nothing to give.
    fn budget_victim(&self, session: SessionKey, keep: FrameKey) -> Option<(FrameKey, bool)> {
        let kept = match self.entries.get(&keep) {
            Some(e) if matches!(e.data, Data::Memory(_)) => e.bytes + e.overhead(),
            Some(e) => e.overhead(),
            None => 0,
        };
        let heaviest = self
            .sessions
            .iter()
            .map(|(k, s)| {
                let cost = s.memory_bytes + s.overhead_bytes;
                let offered = if *k == keep.session {
                    cost.saturating_sub(kept)
                } else {
                    cost
                };
                (*k, offered)
            })
            .filter(|(_, offered)| *offered > 0)
            .max_by_key(|(k, offered)| (*offered, *k == session))
            .map(|(k, _)| k);
        let choose = |owner: Option<SessionKey>| {
            let frame = self.lru_in_memory(owner, keep);
            let tiny = frame
                .and_then(|k| self.entries.get(&k))
                .is_some_and(|e| e.bytes < e.overhead());
            if let (Some(frame), false) = (frame, tiny) {
                return Some((frame, false)); // the common case: one scan
            }
            match self.lru_gone(owner, keep) {
                Some(gone) => Some((gone, true)),
                None => frame.map(|frame| (frame, false)),
            }
        };
        heaviest.and_then(|s| choose(Some(s))).or_else(|| choose(None))
    }

    /// The least recently used in-memory entry of `session` (any session when `None`),
    /// never `keep`.
    fn lru_in_memory(&self, session: Option<SessionKey>, keep: FrameKey) -> Option<FrameKey> {
        self.entries
            .iter()
            .filter(|(k, e)| {
                **k != keep && matches!(e.data, Data::Memory(_)) && session.is_none_or(|s| k.session == s)
            })
            .min_by_key(|(_, e)| e.last_use_seq)
            .map(|(k, _)| *k)
    }

    /// Chooses what leaves memory so that `session` is within `quota` and the whole
    /// cache within `budget`, and takes those frames out of the accounting.
    ///
    /// The session over its quota pays first, with its own least recently used frames.
    /// Over the global budget (frames in memory plus [`ENTRY_OVERHEAD`] per entry), the
    /// session holding the most memory pays: a session at or below its fair share
    /// (budget / sessions) is never evicted while one above it exists. When no frame is
    /// left to evict, or the next is smaller than an entry's overhead, entries whose data
    /// is gone are forgotten, least recently used first. `keep` (the frame just stored)
    /// never leaves.
    pub(crate) fn evict(
        &mut self,
        session: SessionKey,
        quota: u64,
        budget: u64,
        keep: FrameKey,
        can_spill: bool,
    ) -> Vec<Victim> {
        let mut victims = Vec::new();
        loop {
            let over_quota = self
                .sessions
                .get(&session)
                .is_some_and(|s| s.memory_bytes > quota);
            let (victim, cause) = if over_quota {
                (self.lru_in_memory(Some(session), keep), EvictionCause::Quota)
            } else if self.charged_bytes() > budget {
                match self.budget_victim(session, keep) {
                    Some((key, false)) => (Some(key), EvictionCause::Budget),
                    Some((gone, true)) => {
                        // Its data is already gone: the entry itself is forgotten (it
                        // reads as unknown, like an ended session's).
                        self.remove(gone);
                        victims.push(Victim {
                            key: gone,
                            cause: EvictionCause::Budget,
                            spill: None,
                            released: None,
                        });
                        continue;
                    }
                    None => break,
                }
            } else {
                break;
            };
            let Some(key) = victim else { break };
            let spill = match self.entries.get(&key) {
                Some(Entry {
                    placement: Placement::Auto,
                    data: Data::Memory(frame),
                    ..
                }) if can_spill => Some(Arc::clone(frame)),
                _ => None,
            };
            let data = match &spill {
                Some(frame) => Data::Writing(Arc::clone(frame)),
                None => Data::Gone,
            };
            let old = self.set_data(key, data);
            let released = if spill.is_none() { old } else { None };
            victims.push(Victim {
                key,
                cause,
                spill,
                released,
            });
        }
        victims
    }
}
