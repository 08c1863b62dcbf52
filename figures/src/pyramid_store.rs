//! Summaries of columns kept between figures: a [`MinMaxPyramid`] per column a line or a
//! brush reads, and [`BinCounts`] per column a histogram shows whole. Each is built on
//! the first figure that needs it and read by every later one (a zoom, a brush, a
//! full-range redraw), within one byte budget, least recently used first out.
//!
//! A summary belongs to one frame value: the store holds a [`Weak`] to the frame's `Arc`,
//! never the frame. A frame rebuilt or read back from a tier is a new `Arc`, so it gets
//! its own summaries (a rebuilt frame need not hold its rows in the same order), and a
//! frame that has gone takes its summaries' place with it at the next build. While one
//! figure builds a column's summary, another of the same column does not wait: it
//! scans, as without one.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use polars::prelude::DataFrame;

use crate::bin_counts::{self, BinCounts};
use crate::pyramid::MinMaxPyramid;

/// Columns shorter than this are scanned: the scan takes under a millisecond.
pub const PYRAMID_MIN_ROWS: usize = 1 << 20;

/// What is kept of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    MinMax,
    /// Bin counts, and how many bins.
    Bins(usize),
}

/// A frame value (its `Arc`'s address, stable while a `Weak` to it is held), a column
/// and what is kept of it.
type Key = (usize, String, Kind);

/// Summaries by frame and column, within a byte budget.
#[derive(Debug)]
pub struct PyramidStore {
    budget: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    kept: HashMap<Key, Kept>,
    /// Keys whose summary is being built.
    building: HashSet<Key>,
    bytes: u64,
    clock: u64,
}

#[derive(Debug)]
struct Kept {
    frame: Weak<DataFrame>,
    summary: Arc<dyn Any + Send + Sync>,
    rows: usize,
    bytes: u64,
    used: u64,
}

/// How to build a summary and what it is.
struct Build<F> {
    kind: Kind,
    estimate: u64,
    build: F,
}

impl PyramidStore {
    /// A store holding at most `budget` bytes of pyramids.
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            state: Mutex::default(),
        }
    }

    /// The pyramid of `values`, column `column` of `frame`: the kept one, or one built
    /// now. `None` for a column under [`PYRAMID_MIN_ROWS`], one whose pyramid would not
    /// fit the budget, or one being built by another figure.
    pub fn pyramid(
        &self,
        frame: &Arc<DataFrame>,
        column: &str,
        values: &[f64],
    ) -> Option<Arc<MinMaxPyramid>> {
        let build = Build {
            kind: Kind::MinMax,
            estimate: estimated_bytes(values.len()),
            build: || MinMaxPyramid::build(values),
        };
        self.kept_or_built(frame, column, values.len(), build, |p: &MinMaxPyramid| {
            (p.rows(), p.bytes())
        })
    }

    /// The counts of `values`, column `column` of `frame`, in `bins` bins spanning the
    /// column, block by block ([`BinCounts`]): the kept ones, or built now. `None` as
    /// for [`Self::pyramid`].
    pub fn bin_counts(
        &self,
        frame: &Arc<DataFrame>,
        column: &str,
        values: &[f64],
        bins: usize,
    ) -> Option<Arc<BinCounts>> {
        let build = Build {
            kind: Kind::Bins(bins),
            estimate: bin_counts::estimated_bytes(values.len(), bins),
            build: || BinCounts::build(values, bins),
        };
        self.kept_or_built(frame, column, values.len(), build, |c: &BinCounts| {
            (c.rows(), c.bytes())
        })
    }

    /// The summary `build` makes of column `column` (`rows` rows) of `frame`: the kept
    /// one, or one built now with no lock held. `measure` gives a summary's rows and
    /// bytes.
    fn kept_or_built<T: Any + Send + Sync>(
        &self,
        frame: &Arc<DataFrame>,
        column: &str,
        rows: usize,
        build: Build<impl FnOnce() -> T>,
        measure: fn(&T) -> (usize, u64),
    ) -> Option<Arc<T>> {
        if rows < PYRAMID_MIN_ROWS || build.estimate > self.budget {
            return None;
        }
        let key: Key = (Arc::as_ptr(frame) as usize, column.to_owned(), build.kind);
        {
            let mut state = self.lock();
            state.clock += 1;
            let now = state.clock;
            if let Some(kept) = state.kept.get_mut(&key) {
                // The address is this frame's while the Weak lives: a live Weak is it.
                if kept.frame.strong_count() > 0 && kept.rows == rows {
                    if let Ok(summary) = Arc::clone(&kept.summary).downcast::<T>() {
                        kept.used = now;
                        return Some(summary);
                    }
                }
            }
            if !state.building.insert(key.clone()) {
                return None;
            }
        }
        // Built with no lock held; the key leaves `building` however the build ends.
        let building = Building { store: self, key };
        let summary = Arc::new((build.build)());
        let key = building.done();
        let (rows, bytes) = measure(&summary);
        self.keep(
            frame,
            key,
            Arc::clone(&summary) as Arc<dyn Any + Send + Sync>,
            rows,
            bytes,
        );
        Some(summary)
    }

    /// Keeps `pyramid`, built elsewhere (while the frame was written to disk, say), as
    /// the pyramid of column `column` of `frame`: the figures of that column read it
    /// from now on. Not kept when it does not fit the budget.
    pub fn adopt(&self, frame: &Arc<DataFrame>, column: &str, pyramid: Arc<MinMaxPyramid>) {
        let key: Key = (Arc::as_ptr(frame) as usize, column.to_owned(), Kind::MinMax);
        let (rows, bytes) = (pyramid.rows(), pyramid.bytes());
        // One that can never fit takes no one else's place.
        if bytes <= self.budget {
            self.keep(frame, key, pyramid, rows, bytes);
        }
    }

    /// Keeps `summary` of `frame` under `key` within the budget, the least recently used
    /// others out first; not kept when it cannot fit.
    fn keep(
        &self,
        frame: &Arc<DataFrame>,
        key: Key,
        summary: Arc<dyn Any + Send + Sync>,
        rows: usize,
        bytes: u64,
    ) {
        let mut state = self.lock();
        state.clock += 1;
        let used = state.clock;
        state.forget_gone_frames();
        while state.bytes + bytes > self.budget && state.forget_oldest() {}
        if state.bytes + bytes <= self.budget {
            state.bytes += bytes;
            let kept = Kept {
                frame: Arc::downgrade(frame),
                summary,
                rows,
                bytes,
                used,
            };
            if let Some(old) = state.kept.insert(key, kept) {
                state.bytes -= old.bytes;
            }
        }
    }

    /// The most bytes of summaries it keeps.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Bytes of the summaries kept.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Summaries kept.
    pub fn len(&self) -> usize {
        self.lock().kept.len()
    }

    /// Whether no summary is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Drops the summaries of frames that have gone.
    fn forget_gone_frames(&mut self) {
        let before = self.kept.len();
        let mut freed = 0;
        self.kept.retain(|_, kept| {
            let live = kept.frame.strong_count() > 0;
            if !live {
                freed += kept.bytes;
            }
            live
        });
        debug_assert!(self.kept.len() <= before);
        self.bytes -= freed;
    }

    /// Drops the least recently used summary; false when none is kept.
    fn forget_oldest(&mut self) -> bool {
        let oldest = self
            .kept
            .iter()
            .min_by_key(|(_, kept)| kept.used)
            .map(|(key, _)| key.clone());
        match oldest.and_then(|key| self.kept.remove(&key)) {
            Some(gone) => {
                self.bytes -= gone.bytes;
                true
            }
            None => false,
        }
    }
}

/// A key in `building`, taken out again when the build ends, by a panic too (else the
/// column would never get its pyramid).
struct Building<'a> {
    store: &'a PyramidStore,
    key: Key,
}

impl Building<'_> {
    /// The build finished: the key, out of `building`.
    fn done(self) -> Key {
        let key = self.key.clone();
        drop(self);
        key
    }
}

impl Drop for Building<'_> {
    fn drop(&mut self) {
        self.store.lock().building.remove(&self.key);
    }
}

/// An upper bound of a pyramid's bytes for `rows` rows, known before building it.
fn estimated_bytes(rows: usize) -> u64 {
    // 32 bytes per 256 rows, and at most 1/31 of that again for the levels above.
    (rows as u64 / 8) * 32 / 31 + 4_096
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn column(rows: usize, seed: u64) -> Vec<f64> {
        (0..rows as u64)
            .map(|i| ((i.wrapping_mul(6_364_136_223_846_793_005) ^ (seed << 40)) >> 11) as f64)
            .collect()
    }

    fn frame(values: &[f64]) -> Arc<DataFrame> {
        let y = Column::new("y".into(), values.to_vec());
        Arc::new(DataFrame::new(values.len(), vec![y]).expect("frame"))
    }

    #[test]
    fn built_once_per_frame_value_and_gone_with_it() {
        let store = PyramidStore::new(1 << 30);
        let values = column(PYRAMID_MIN_ROWS, 1);
        let first_frame = frame(&values);
        let first = store.pyramid(&first_frame, "y", &values).expect("built");
        let again = store.pyramid(&first_frame, "y", &values).expect("kept");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((store.len(), store.bytes()), (1, first.bytes()));
        assert!(first.bytes() <= estimated_bytes(values.len()));
        // The same rows as another frame value (a rebuild, a read from a tier): its own.
        let rebuilt = frame(&values);
        let second = store.pyramid(&rebuilt, "y", &values).expect("its own");
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(store.len(), 2);
        // A frame that has gone leaves with its pyramid at the next build.
        drop(first_frame);
        let other = frame(&column(PYRAMID_MIN_ROWS, 2));
        store
            .pyramid(&other, "y", &column(PYRAMID_MIN_ROWS, 2))
            .expect("built");
        assert_eq!(store.len(), 2, "the first frame's pyramid went");
        assert_eq!(store.bytes(), 2 * first.bytes());
    }

    #[test]
    fn an_adopted_pyramid_is_read_and_never_built_again() {
        let store = PyramidStore::new(1 << 30);
        let values = column(PYRAMID_MIN_ROWS, 3);
        let on_disk = frame(&values);
        let made = Arc::new(MinMaxPyramid::build(&values));
        store.adopt(&on_disk, "y", Arc::clone(&made));
        let read = store.pyramid(&on_disk, "y", &values).expect("kept");
        assert!(Arc::ptr_eq(&made, &read), "the adopted one, not a new build");
        assert_eq!((store.len(), store.bytes()), (1, made.bytes()));
        // Adopted for a frame that went, it goes at the next keep.
        drop(on_disk);
        store.adopt(&frame(&values), "z", Arc::new(MinMaxPyramid::build(&values)));
        assert_eq!(store.len(), 1);
        // Over the budget, it is not kept.
        let small = PyramidStore::new(16);
        let kept = frame(&values);
        small.adopt(&kept, "y", made);
        assert!(small.is_empty());
    }

    #[test]
    fn short_columns_get_none_and_the_budget_holds() {
        let store = PyramidStore::new(estimated_bytes(PYRAMID_MIN_ROWS) + 10_000);
        let short = column(1_000, 1);
        assert!(store.pyramid(&frame(&short), "y", &short).is_none());
        let values = column(PYRAMID_MIN_ROWS, 1);
        let (a, b) = (frame(&values), frame(&values));
        store.pyramid(&a, "y", &values).expect("a");
        store.pyramid(&b, "y", &values).expect("b");
        assert_eq!(store.len(), 1, "a was the oldest and made room");
        assert!(store.bytes() <= store.budget);
        let tiny = PyramidStore::new(1_000);
        assert!(tiny.pyramid(&a, "y", &values).is_none(), "over the budget");
        assert!(tiny.is_empty());
    }

    #[test]
    fn a_build_that_panics_leaves_the_column_free_to_build_again() {
        let store = PyramidStore::new(1 << 30);
        let values = column(PYRAMID_MIN_ROWS, 3);
        let y = frame(&values);
        let key: Key = (Arc::as_ptr(&y) as usize, "y".to_owned(), Kind::MinMax);
        store.lock().building.insert(key.clone());
        assert!(store.pyramid(&y, "y", &values).is_none(), "another build is on");
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _building = Building { store: &store, key };
            panic!("a build that fails");
        }));
        assert!(crashed.is_err());
        assert!(store.pyramid(&y, "y", &values).is_some(), "built after the panic");
    }
}
