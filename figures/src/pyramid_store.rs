//! Pyramids kept between figures: one [`MinMaxPyramid`] per column drawn, built on the
//! first figure that needs it and read by every later one (a zoom, a full-range redraw),
//! within a byte budget, least recently used first out.
//!
//! Keys are the caller's: a frame's identity and the column. A frame behind a key must
//! not change; if it does (a frame rebuilt differently), the pyramid's samples no longer
//! match and it is built again. While one figure builds a column's pyramid, another of
//! the same column does not wait: it scans, as without a pyramid.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::pyramid::MinMaxPyramid;

/// Columns shorter than this are scanned: the scan takes under a millisecond.
pub const PYRAMID_MIN_ROWS: usize = 1 << 20;

/// Pyramids by key, within a byte budget.
#[derive(Debug)]
pub struct PyramidStore {
    budget: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    kept: HashMap<String, Kept>,
    /// Keys whose pyramid is being built.
    building: HashSet<String>,
    bytes: u64,
    clock: u64,
}

#[derive(Debug)]
struct Kept {
    pyramid: Arc<MinMaxPyramid>,
    used: u64,
}

impl PyramidStore {
    /// A store holding at most `budget` bytes of pyramids.
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            state: Mutex::default(),
        }
    }

    /// The pyramid of `values` (column `column` of the frame known as `frame`): the kept
    /// one, or one built now. `None` for a column under [`PYRAMID_MIN_ROWS`], one whose
    /// pyramid would not fit the budget, or one being built by another figure.
    pub fn pyramid(&self, frame: &str, column: &str, values: &[f64]) -> Option<Arc<MinMaxPyramid>> {
        if values.len() < PYRAMID_MIN_ROWS || estimated_bytes(values.len()) > self.budget {
            return None;
        }
        let key = format!("{frame}\u{0}{column}");
        {
            let mut state = self.lock();
            state.clock += 1;
            let now = state.clock;
            let found = state.kept.get_mut(&key).map(|kept| {
                kept.used = now;
                Arc::clone(&kept.pyramid)
            });
            match found {
                Some(pyramid) if pyramid.fits(values) => return Some(pyramid),
                Some(stale) => {
                    state.bytes -= stale.bytes();
                    state.kept.remove(&key);
                }
                None => {}
            }
            if !state.building.insert(key.clone()) {
                return None;
            }
        }
        // Built with no lock held.
        let pyramid = Arc::new(MinMaxPyramid::build(values));
        let mut state = self.lock();
        state.building.remove(&key);
        state.clock += 1;
        let used = state.clock;
        let bytes = pyramid.bytes();
        while state.bytes + bytes > self.budget {
            let Some(oldest) = state
                .kept
                .iter()
                .min_by_key(|(_, kept)| kept.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(gone) = state.kept.remove(&oldest) {
                state.bytes -= gone.pyramid.bytes();
            }
        }
        if state.bytes + bytes <= self.budget {
            state.bytes += bytes;
            let kept = Kept {
                pyramid: Arc::clone(&pyramid),
                used,
            };
            state.kept.insert(key, kept);
        }
        Some(pyramid)
    }

    /// Bytes of the pyramids kept.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Pyramids kept.
    pub fn len(&self) -> usize {
        self.lock().kept.len()
    }

    /// Whether no pyramid is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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

    fn column(rows: usize, seed: u64) -> Vec<f64> {
        (0..rows as u64)
            .map(|i| ((i.wrapping_mul(6_364_136_223_846_793_005) ^ (seed << 40)) >> 11) as f64)
            .collect()
    }

    #[test]
    fn built_once_then_read_and_rebuilt_when_the_values_change() {
        let store = PyramidStore::new(1 << 30);
        let values = column(PYRAMID_MIN_ROWS, 1);
        let first = store.pyramid("f1", "y", &values).expect("built");
        let again = store.pyramid("f1", "y", &values).expect("kept");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((store.len(), store.bytes()), (1, first.bytes()));
        assert!(first.bytes() <= estimated_bytes(values.len()));
        let changed = column(PYRAMID_MIN_ROWS, 2);
        let rebuilt = store.pyramid("f1", "y", &changed).expect("rebuilt");
        assert!(!Arc::ptr_eq(&first, &rebuilt) && rebuilt.fits(&changed));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn short_columns_get_none_and_the_budget_holds() {
        let store = PyramidStore::new(estimated_bytes(PYRAMID_MIN_ROWS) + 10_000);
        assert!(store.pyramid("f", "y", &column(1_000, 1)).is_none());
        let values = column(PYRAMID_MIN_ROWS, 1);
        store.pyramid("a", "y", &values).expect("a");
        store.pyramid("b", "y", &values).expect("b");
        assert_eq!(store.len(), 1, "a was the oldest and made room");
        assert!(store.bytes() <= store.budget);
        let tiny = PyramidStore::new(1_000);
        assert!(tiny.pyramid("a", "y", &values).is_none(), "over the budget");
        assert!(tiny.is_empty());
    }
}
