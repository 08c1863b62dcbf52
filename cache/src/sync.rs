//! Locking shared by the workspace: one way to take a `std::sync::Mutex`.
//!
//! std only, so it builds without the `server` feature too.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking the guard even when the mutex is poisoned.
///
/// A mutex is poisoned when a thread panicked while holding it. The locks this is meant
/// for are held briefly around plain bookkeeping (maps, byte counts), with no I/O and no
/// caller-supplied code (recipes, recyclers) running under them, so a panic there is a
/// bug in that bookkeeping, and one request already failed with it. Refusing the lock
/// from then on would turn that one failure into a failure of every later request on the
/// server; taking the data as it is keeps serving, at worst with slightly wrong counts.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
