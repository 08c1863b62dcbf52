//! The disk tier's bookkeeping: its files, the bytes held for writes in progress, and who
//! pays when room must be made (the heaviest session on disk, its least recently used
//! file first).

use std::collections::HashMap;

use super::mapped::Mapped;
use crate::tier::FrameKey;
use crate::SessionKey;

#[derive(Default)]
pub(super) struct Index {
    pub(super) files: HashMap<FrameKey, FileEntry>,
    /// Bytes of the files in `files`.
    pub(super) bytes: u64,
    /// Bytes reserved for files being written, by the session writing them (what a
    /// session weighs on disk counts them, see [`Index::make_room`]).
    reserved_by: HashMap<SessionKey, u64>,
    /// Frames evicted to make room for a write that then failed or was given up: their
    /// files are gone, and the cache learns it at its next look ([`crate::tier::ColdTier::take_evicted`]).
    pub(super) lost: Vec<FrameKey>,
    pub(super) clock: u64,
}

pub(super) struct FileEntry {
    pub(super) bytes: u64,
    pub(super) last_use: u64,
    /// The frame's mapping, kept once read when all its data lies in it (see `load`):
    /// every read gets the same frame (and whatever was kept of it between reads, its
    /// min/max pyramid, say), and only the pages read come in.
    pub(super) mapped: Mapped,
}

impl Index {
    /// Drops files (never `keep`) until `extra` more bytes fit in `budget`: the
    /// heaviest session on disk pays first, its least recently used file first. A
    /// session weighs its files, its writes in progress and, for the writer, `extra`;
    /// on a tie the writer pays. So a session writing frame after frame evicts its own
    /// before a lighter one's. Returns the keys, their files still to be removed, and
    /// their entries, to be dropped off the lock (a kept mapping is unmapped then).
    pub(super) fn make_room(
        &mut self,
        budget: u64,
        extra: u64,
        keep: FrameKey,
    ) -> (Vec<FrameKey>, Vec<FileEntry>) {
        let mut evicted = Vec::new();
        let mut entries = Vec::new();
        let reserved = self.reserved();
        if self.bytes + reserved + extra <= budget {
            return (evicted, entries);
        }
        // Each session's weight, and its files most recently used first (popped from the
        // end: least recently used first).
        let mut sessions: HashMap<SessionKey, (u64, Vec<(u64, FrameKey)>)> = HashMap::new();
        sessions.entry(keep.session).or_default().0 += extra;
        for (session, &bytes) in &self.reserved_by {
            sessions.entry(*session).or_default().0 += bytes;
        }
        for (key, file) in &self.files {
            let session = sessions.entry(key.session).or_default();
            session.0 += file.bytes;
            if *key != keep {
                session.1.push((file.last_use, *key));
            }
        }
        for (_, files) in sessions.values_mut() {
            files.sort_unstable_by_key(|file| std::cmp::Reverse(file.0));
        }
        while self.bytes + reserved + extra > budget {
            let payer = sessions
                .iter_mut()
                .filter(|(_, (_, files))| !files.is_empty())
                .max_by_key(|(session, (weight, _))| (*weight, **session == keep.session))
                .map(|(_, session)| session);
            let Some((weight, files)) = payer else { break };
            let Some((_, victim)) = files.pop() else { break };
            if let Some(file) = self.files.remove(&victim) {
                self.bytes -= file.bytes;
                *weight = weight.saturating_sub(file.bytes);
                entries.push(file);
            }
            evicted.push(victim);
        }
        (evicted, entries)
    }

    /// Bytes reserved for files being written.
    pub(super) fn reserved(&self) -> u64 {
        self.reserved_by.values().sum()
    }

    /// Reserves `bytes` for a write of `session`'s.
    pub(super) fn hold(&mut self, session: SessionKey, bytes: u64) {
        *self.reserved_by.entry(session).or_default() += bytes;
    }

    /// Gives back `bytes` reserved for a write of `session`'s.
    pub(super) fn unreserve(&mut self, session: SessionKey, bytes: u64) {
        if let Some(held) = self.reserved_by.get_mut(&session) {
            *held = held.saturating_sub(bytes);
            if *held == 0 {
                self.reserved_by.remove(&session);
            }
        }
    }
}
