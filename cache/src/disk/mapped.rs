//! The mapping a frame file of the disk tier keeps once read
//! ([`super::FileEntry::mapped`]): every read gets the same frame (and whatever was kept
//! of it between reads, its min/max pyramid, say), and only the pages read come in.
//! A second after the last read, when no reader holds it, those pages are taken out of
//! the process's memory map (the page cache keeps them), so that a frame larger than
//! memory does not stay counted in the server's RSS.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polars::prelude::DataFrame;

use super::pages;

/// How long after a read of a kept mapping its pages are taken out of the process's
/// memory map, when no one else reads it by then.
const UNMAP_AFTER: Duration = Duration::from_secs(1);

/// The mapping of a frame file.
pub(super) enum Mapped {
    /// Not read yet: the first read maps it, and looks whether it may be kept.
    Unread,
    Read(Arc<MappedFrame>),
    /// Read, and not kept (see `pages::mapped_ranges`): read afresh each time.
    Never,
}

/// A kept mapping: the frame, the ranges of its values mapped from its file, and the
/// reads that have asked for it (so that only the last one's pages are let go).
pub(super) struct MappedFrame {
    frame: Arc<DataFrame>,
    ranges: Vec<(usize, usize)>,
    reads: AtomicU64,
}

impl MappedFrame {
    /// The kept mapping of `frame`, whose data lies in `ranges` of its file's mapping
    /// ([`pages::mapped_ranges`]).
    pub(super) fn new(frame: Arc<DataFrame>, ranges: Vec<(usize, usize)>) -> Self {
        Self {
            ranges,
            frame,
            reads: AtomicU64::new(0),
        }
    }

    /// The frame, for a read that does not keep the mapping.
    pub(super) fn frame(&self) -> &Arc<DataFrame> {
        &self.frame
    }

    /// The frame, for one read: [`UNMAP_AFTER`] later, if no other read has asked for
    /// it since and no reader holds it, the pages the reads touched are unmapped.
    pub(super) fn read(self: Arc<Self>) -> Arc<DataFrame> {
        let read = self.reads.fetch_add(1, Ordering::AcqRel) + 1;
        let frame = Arc::clone(&self.frame);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(UNMAP_AFTER).await;
                    if self.reads.load(Ordering::Acquire) != read {
                        return; // a later read unmaps after itself
                    }
                    // Held by the kept mapping alone: no reader left.
                    if Arc::strong_count(&self.frame) == 1 {
                        pages::unmap_pages(&self.ranges);
                        return;
                    }
                }
            });
        }
        frame
    }
}
