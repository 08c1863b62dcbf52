//! The disk tier: one Arrow IPC file per frame under the cache directory, a byte budget
//! (the heaviest session on disk evicted first, its least recently used file first),
//! read back memory-mapped.
//!
//! A frame's bytes are reserved in the budget (evicting first) before its file is
//! written, so concurrent spills cannot together overshoot the budget; a request that
//! goes away mid-write leaves no file behind. What the tier writes and how it keeps the
//! directory safe on a shared machine is in `frame_files`; the mapping a frame read back
//! keeps, in `mapped`; which of its pages hold the frame, in `pages`; the files, the
//! writes in progress and who pays for room, in `index`.

mod frame_files;
mod index;
mod mapped;
pub(crate) mod one_batch;
mod pages;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use polars::prelude::DataFrame;

use crate::recipe::BoxFuture;
use crate::sync::lock;
use crate::tier::{ColdTier, FrameKey, Stored, TierUsage, WriteFn};
use crate::{ByteSize, CacheError, Limit, SessionKey};
use frame_files::{CancelOnDrop, WriteShare};
use index::{FileEntry, Index};
use mapped::{Mapped, MappedFrame};
pub use one_batch::ColumnsWriter;

/// The setting that names the cache directory, for error messages.
pub const DIR_SETTING: &str = "STAYPUT_CACHE_DIR";

/// What an Arrow IPC file adds to a frame's in-memory size (schema and batch headers,
/// padding): reserved on top of the estimate, trued up once the file is written.
const FILE_SLACK: u64 = 64 << 10;

/// Frames kept as Arrow IPC files in a directory, bounded in bytes.
pub struct DiskTier {
    frames: PathBuf,
    budget: u64,
    index: Mutex<Index>,
}

/// Frames a write evicted, recorded as lost ([`Index::lost`]) unless the write hands
/// them to the cache itself.
struct LostOnDrop<'a> {
    tier: &'a DiskTier,
    keys: Vec<FrameKey>,
}

impl Drop for LostOnDrop<'_> {
    fn drop(&mut self) {
        if !self.keys.is_empty() {
            let keys = std::mem::take(&mut self.keys);
            self.tier.index().lost.extend(keys);
        }
    }
}

/// Bytes reserved in the tier's budget for one write; given back on every path.
struct DiskReservation<'a> {
    tier: &'a DiskTier,
    session: SessionKey,
    bytes: u64,
}

impl Drop for DiskReservation<'_> {
    fn drop(&mut self) {
        self.tier.index().unreserve(self.session, self.bytes);
    }
}

impl DiskTier {
    /// Opens the tier in `dir` (created if missing) with a budget of `budget` bytes and
    /// removes the files of earlier runs. Fails with [`CacheError::CacheDir`] (path,
    /// reason, setting) when the directory cannot be created or written, or is a
    /// symbolic link.
    pub fn open(dir: &Path, budget: ByteSize) -> Result<Self, CacheError> {
        let frames = dir.join("frames");
        if let Err(err) = std::fs::create_dir_all(dir) {
            return Err(dir_error(dir, &err));
        }
        let removed = frame_files::prepare_dir(&frames).map_err(|err| dir_error(dir, &err))?;
        if removed > 0 {
            tracing::info!(removed, dir = %frames.display(), "removed frames of an earlier run");
        }
        Ok(Self {
            frames,
            budget: budget.bytes(),
            index: Mutex::new(Index::default()),
        })
    }

    /// The directory holding the frame files.
    pub fn frames_dir(&self) -> &Path {
        &self.frames
    }

    fn path(&self, key: FrameKey) -> PathBuf {
        self.frames.join(frame_files::file_name(key))
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        lock(&self.index)
    }

    /// Removes the files of `evicted` (already out of the index).
    fn remove_files(&self, evicted: &[FrameKey]) {
        for victim in evicted {
            if let Err(err) = std::fs::remove_file(self.path(*victim)) {
                if err.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(%err, frame = %victim.id, "disk tier: could not remove an evicted file");
                }
            }
        }
    }

    fn storage_error(&self, what: &str, key: FrameKey, err: &io::Error) -> CacheError {
        tracing::error!(%err, frame = %key.id, dir = %self.frames.display(), "disk tier: {what} failed");
        CacheError::Storage { tier: "disk" }
    }

    fn too_large(&self, bytes: u64) -> CacheError {
        CacheError::TooLarge {
            needed: ByteSize(bytes),
            limit: Limit::DiskBudget,
            budget: ByteSize(self.budget),
        }
    }

    /// Reserves `bytes` for the write of `key`, evicting files ([`Index::make_room`]);
    /// [`CacheError::Busy`] when writes in progress hold the room.
    fn reserve(&self, key: FrameKey, bytes: u64) -> Result<(DiskReservation<'_>, Vec<FrameKey>), CacheError> {
        if bytes > self.budget {
            return Err(self.too_large(bytes));
        }
        let (evicted, dropped) = {
            let mut index = self.index();
            // A frame stored again under its key replaces its old file.
            let old = index.files.remove(&key);
            if let Some(old) = &old {
                index.bytes -= old.bytes;
            }
            if index.reserved() + bytes > self.budget {
                // The room is held by other writes in progress: refuse rather than
                // overshoot, before evicting anything.
                drop(index);
                drop(old);
                return Err(CacheError::Busy);
            }
            let (evicted, mut dropped) = index.make_room(self.budget, bytes, key);
            index.hold(key.session, bytes);
            dropped.extend(old);
            (evicted, dropped)
        };
        drop(dropped);
        self.remove_files(&evicted);
        Ok((
            DiskReservation {
                tier: self,
                session: key.session,
                bytes,
            },
            evicted,
        ))
    }

    /// Stores under `key` the file `write` writes (about `estimate` bytes), within the
    /// budget: the room is reserved first (evicting), then the file is written under a
    /// temp name on the blocking pool and renamed into place. The frame's mapping is
    /// kept once read ([`FileEntry::mapped`]).
    async fn store_with(
        &self,
        key: FrameKey,
        estimate: u64,
        write: impl FnOnce(&Path, &WriteShare) -> io::Result<u64> + Send + 'static,
    ) -> Result<Stored, CacheError> {
        let (mut reservation, evicted) = self.reserve(key, estimate)?;
        // Until the write is in, what it evicted is reported as lost if it fails or is
        // given up (the request went away): those files are gone either way.
        let mut evicted = LostOnDrop {
            tier: self,
            keys: evicted,
        };
        let path = self.path(key);
        // A file that outgrows the whole budget could never be kept: its write stops there.
        let share = Arc::new(WriteShare::up_to(self.budget));
        // Until the index has the file, a request that goes away takes it with it.
        let mut cancel = CancelOnDrop {
            share: Arc::clone(&share),
            path: path.clone(),
            armed: true,
        };
        let written = tokio::task::spawn_blocking({
            let share = Arc::clone(&share);
            move || write(&path, &share)
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(_) if share.outgrew() => return Err(self.too_large(self.budget.saturating_add(1))),
            Err(err) => return Err(self.storage_error("write", key, &err)),
        };
        let more = {
            let mut index = self.index();
            let reserved = std::mem::take(&mut reservation.bytes);
            index.unreserve(key.session, reserved);
            if bytes > self.budget {
                None
            } else {
                index.clock += 1;
                let last_use = index.clock;
                let mapped = Mapped::Unread;
                index.files.insert(
                    key,
                    FileEntry {
                        bytes,
                        last_use,
                        mapped,
                    },
                );
                index.bytes += bytes;
                // The file came out larger than reserved: true the budget up.
                Some(index.make_room(self.budget, 0, key))
            }
        };
        let Some((more, dropped)) = more else {
            return Err(self.too_large(bytes)); // `cancel` removes the file
        };
        drop(dropped);
        cancel.armed = false;
        self.remove_files(&more);
        let mut evicted = std::mem::take(&mut evicted.keys);
        evicted.extend(more);
        Ok(Stored { bytes, evicted })
    }
}

impl ColdTier for DiskTier {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn store(&self, key: FrameKey, frame: Arc<DataFrame>) -> BoxFuture<'_, Result<Stored, CacheError>> {
        let size = frame.estimated_size() as u64;
        // Schema and padding, and a few hundred bytes of metadata per record batch.
        let estimate = size + FILE_SLACK + size / (1 << 20) * 1024;
        let write = move |path: &Path, share: &WriteShare| frame_files::write_file(path, &frame, share);
        Box::pin(self.store_with(key, estimate, write))
    }

    fn takes_files(&self) -> bool {
        true
    }

    fn reserved_for_file(&self, bytes: u64) -> u64 {
        bytes.saturating_add(FILE_SLACK)
    }

    fn store_written(
        &self,
        key: FrameKey,
        bytes: u64,
        write: WriteFn,
    ) -> BoxFuture<'_, Result<Stored, CacheError>> {
        let write = move |path: &Path, share: &WriteShare| frame_files::write_with(path, share, write);
        Box::pin(self.store_with(key, self.reserved_for_file(bytes), write))
    }

    fn load(&self, key: FrameKey) -> BoxFuture<'_, Result<Option<Arc<DataFrame>>, CacheError>> {
        Box::pin(async move {
            // Whether the mapping may be kept: unknown until a first read looks.
            let look = {
                let mut index = self.index();
                index.clock += 1;
                let now = index.clock;
                let Some(file) = index.files.get_mut(&key) else {
                    return Ok(None);
                };
                file.last_use = now;
                match &file.mapped {
                    Mapped::Read(mapped) => {
                        let mapped = Arc::clone(mapped);
                        drop(index);
                        return Ok(Some(mapped.read()));
                    }
                    Mapped::Unread => true,
                    Mapped::Never => false,
                }
            };
            let path = self.path(key);
            // Only a frame whose data all lies in the file's mapping keeps it: one that
            // polars copied in part into the heap as it read it (a categorical's
            // dictionary, say) would hold memory no budget counts. Looked at with the
            // read, off the runtime: the process may have thousands of mappings.
            let read = tokio::task::spawn_blocking(move || {
                frame_files::read_file(&path).map(|read| {
                    read.map(|(frame, file)| {
                        let ranges = look.then(|| pages::mapped_ranges(&frame, file)).flatten();
                        (frame, ranges)
                    })
                })
            })
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
            .map_err(|err| self.storage_error("read", key, &err))?;
            let Some((frame, ranges)) = read else {
                return Ok(None);
            };
            let frame = Arc::new(frame);
            let Some(ranges) = ranges else {
                if look {
                    if let Some(file) = self.index().files.get_mut(&key) {
                        file.mapped = Mapped::Never;
                    }
                }
                return Ok(Some(frame));
            };
            let made = Arc::new(MappedFrame::new(frame, ranges));
            let mapped = {
                let mut index = self.index();
                match index.files.get_mut(&key) {
                    // Another read mapped it first: every reader gets that one.
                    Some(FileEntry {
                        mapped: Mapped::Read(first),
                        ..
                    }) => Arc::clone(first),
                    Some(file) => {
                        file.mapped = Mapped::Read(Arc::clone(&made));
                        made
                    }
                    // Removed meanwhile: read it once.
                    None => return Ok(Some(Arc::clone(made.frame()))),
                }
            };
            Ok(Some(mapped.read()))
        })
    }

    fn remove(&self, key: FrameKey) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            let removed = {
                let mut index = self.index();
                let removed = index.files.remove(&key);
                if let Some(file) = &removed {
                    index.bytes -= file.bytes;
                }
                removed
            };
            // Its mapping, if kept, is let go off the lock.
            let known = removed.is_some();
            drop(removed);
            if known {
                match std::fs::remove_file(self.path(key)) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(self.storage_error("remove", key, &err)),
                }
            }
            Ok(())
        })
    }

    fn take_evicted(&self) -> Vec<FrameKey> {
        std::mem::take(&mut self.index().lost)
    }

    fn usage(&self) -> TierUsage {
        let index = self.index();
        TierUsage {
            entries: index.files.len() as u64,
            bytes: index.bytes,
            budget: self.budget,
        }
    }
}

/// The start-up error for the cache directory `dir`.
fn dir_error(dir: &Path, err: &io::Error) -> CacheError {
    CacheError::CacheDir {
        path: dir.display().to_string(),
        reason: describe(err),
        setting: DIR_SETTING,
    }
}

/// The reason of an I/O error without the "(os error N)" suffix.
fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
