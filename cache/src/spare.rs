//! Spare f64 buffers taken back from frames that left the cache (evicted, or released
//! by a benchmark run that replaces its frame) and reused by the next large fill.
//!
//! Filling a fresh 800 MB buffer (a 1e8-row column) is mostly page faults: the kernel
//! maps and zeroes every page on first touch, and on a VM whose host reclaims freed
//! memory each fault may also wait for the host. A buffer taken back from an evicted
//! frame is already mapped, so the next fill only writes the numbers. The cache hands
//! such frames here when an app passes [`reclaim`] to
//! [`FrameCacheBuilder::recycle`](crate::FrameCacheBuilder::recycle), and the app's fills
//! ask [`with_capacity`] for their buffers. It lives with the cache because the cache
//! decides when a frame's memory is free again.
//!
//! The pool is small and bounded: at most [`MAX_SPARE_BYTES`] in all (the newest buffers
//! win, the oldest make room), only buffers of at least [`MIN_BYTES`] (smaller ones are
//! cheap to allocate), and a buffer is reused only for a fill that needs at least half
//! of it.

use std::sync::{Mutex, MutexGuard};

use polars::prelude::*;

/// Most bytes the pool keeps; the rest of what is handed in is freed.
pub const MAX_SPARE_BYTES: usize = 1 << 30;

/// Smallest buffer worth keeping.
pub const MIN_BYTES: usize = 4 << 20;

static SPARE: Mutex<Vec<Vec<f64>>> = Mutex::new(Vec::new());

fn spare() -> MutexGuard<'static, Vec<Vec<f64>>> {
    crate::sync::lock(&SPARE)
}

fn bytes_of(buffer: &Vec<f64>) -> usize {
    buffer.capacity() * std::mem::size_of::<f64>()
}

fn held(spare: &[Vec<f64>]) -> usize {
    spare.iter().map(bytes_of).sum()
}

/// An empty buffer with room for `len` values: a spare one when one fits, else new.
pub fn with_capacity(len: usize) -> Vec<f64> {
    if len * std::mem::size_of::<f64>() >= MIN_BYTES {
        let mut spare = spare();
        let fits = spare
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len && b.capacity() / 2 <= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        if let Some(i) = fits {
            let mut buffer = spare.swap_remove(i);
            buffer.clear();
            tracing::debug!(bytes = bytes_of(&buffer), "fill reuses a spare buffer");
            return buffer;
        }
    }
    Vec::with_capacity(len)
}

/// Keeps `buffer` for a later fill if it is large enough and the pool has room.
pub fn give_back(mut buffer: Vec<f64>) {
    let bytes = bytes_of(&buffer);
    if !(MIN_BYTES..=MAX_SPARE_BYTES).contains(&bytes) {
        return;
    }
    buffer.clear();
    let mut spare = spare();
    // The newest buffer wins: the oldest spares make room for it.
    while held(&spare) + bytes > MAX_SPARE_BYTES {
        drop(spare.remove(0));
    }
    spare.push(buffer);
}

/// Frees the oldest spare buffers until the pool holds at most `bytes`: the cache calls it
/// when a reservation needs the room, so spare memory counts inside the memory budget.
pub fn trim_to(bytes: usize) {
    let freed: Vec<Vec<f64>> = {
        let mut spare = spare();
        let mut freed = Vec::new();
        while held(&spare) > bytes && !spare.is_empty() {
            freed.push(spare.remove(0));
        }
        freed
    };
    // Unmapping happens outside the lock.
    drop(freed);
}

/// Bytes the pool holds now.
pub fn spare_bytes() -> usize {
    held(&spare())
}

/// Takes back the f64 buffers of `frame`, which no one else holds, for later fills;
/// everything else in it is freed as usual. Buffers still shared (a slice, a clone of a
/// column) stay where they are.
pub fn reclaim(frame: DataFrame) {
    for column in frame.into_columns() {
        if column.dtype() != &DataType::Float64 {
            continue;
        }
        let chunked: Float64Chunked = column.take_materialized_series().take_inner();
        for array in chunked.downcast_into_iter() {
            if let Some(values) = array.into_mut().right() {
                give_back(values.into_inner().1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the pool is process-wide, and tests of one binary run in parallel.
    #[test]
    fn reclaimed_buffers_are_reused_within_bounds() {
        let rows = 4 * MIN_BYTES / 8 + 1_000;
        let values: Vec<f64> = (0..rows).map(|i| i as f64).collect();
        let address = values.as_ptr() as usize;
        let frame = Float64Chunked::from_vec("x".into(), values)
            .into_series()
            .into_frame();

        // A frame still shared keeps its buffer.
        let shared = frame.clone();
        reclaim(shared);
        assert_eq!(spare_bytes(), 0, "a shared buffer is not taken");

        reclaim(frame);
        assert!(spare_bytes() >= rows * 8, "the sole owner's buffer is kept");

        // A fill needing less than half of it does not take it.
        let other = with_capacity(rows / 3);
        assert_ne!(other.as_ptr() as usize, address);
        drop(other);
        let reused = with_capacity(rows);
        assert_eq!(reused.as_ptr() as usize, address, "the same memory comes back");
        assert!(reused.is_empty() && reused.capacity() >= rows);
        assert_eq!(spare_bytes(), 0);

        // Small buffers are not worth keeping; the pool never exceeds its bound, and a
        // new buffer pushes out the oldest.
        give_back(Vec::with_capacity(1_000));
        assert_eq!(spare_bytes(), 0);
        let big = MAX_SPARE_BYTES / 8 / 2 + 1;
        give_back(Vec::with_capacity(rows));
        give_back(Vec::with_capacity(big));
        assert_eq!(spare_bytes(), (rows + big) * 8);
        give_back(Vec::with_capacity(big));
        assert_eq!(spare_bytes(), big * 8, "the oldest two made room");
        give_back(Vec::with_capacity(MAX_SPARE_BYTES / 8 + 1));
        assert_eq!(spare_bytes(), big * 8, "larger than the whole pool: freed");
        drop(with_capacity(big));
        assert_eq!(spare_bytes(), 0);
    }
}
