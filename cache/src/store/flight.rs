//! Single-flight: concurrent callers of the same computation share one run of it.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::sync::lock;

/// In-flight computations by key: concurrent callers with the same key share one.
///
/// A key is in the map only while its computation runs: the first caller to finish
/// removes it, so a later call computes afresh (an error is not remembered, and a frame
/// evicted again is rebuilt again).
pub(super) struct Flights<K, V> {
    /// The cell of each running computation. Locked only to find, add or remove a cell,
    /// never while the computation runs.
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    /// The value of `work` for `key`: computed by the first caller, awaited by the
    /// others that come while it runs. Should the first caller be cancelled, a waiting
    /// one runs its own `work` instead.
    pub(super) async fn run<F: Future<Output = V>>(&self, key: K, work: impl FnOnce() -> F) -> V {
        let cell = Arc::clone(lock(&self.cells).entry(key.clone()).or_default());
        let value = cell.get_or_init(work).await.clone();
        let mut cells = lock(&self.cells);
        // Only our own cell: a later flight for the same key may have replaced it.
        if cells.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            cells.remove(&key);
        }
        value
    }
}
