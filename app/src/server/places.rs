//! Places counted per session and in all, each given back when its guard drops: the one
//! limiter behind heavy jobs' per-session share, the steps sockets, and uploads and
//! downloads in progress.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use stayput_cache::sync::lock;
use stayput_cache::SessionKey;

use crate::contract::StayputError;

/// Why no place was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every place is taken, whoever holds them.
    AllTaken,
    /// This key holds as many places as one key may.
    KeyFull,
}

/// At most `per_key` places for one key (a session) and `total` in all; cheap to clone,
/// clones share the count.
#[derive(Debug)]
pub struct Places<K> {
    counts: Arc<Mutex<Counts<K>>>,
    per_key: usize,
    total: usize,
}

impl<K> Clone for Places<K> {
    fn clone(&self) -> Self {
        Self {
            counts: Arc::clone(&self.counts),
            per_key: self.per_key,
            total: self.total,
        }
    }
}

#[derive(Debug)]
struct Counts<K> {
    /// Only keys holding a place.
    by_key: HashMap<K, usize>,
    total: usize,
}

impl<K: Eq + Hash + Copy> Places<K> {
    /// At most `per_key` places a key and `total` in all (each at least 1).
    pub fn new(per_key: usize, total: usize) -> Self {
        Self {
            counts: Arc::new(Mutex::new(Counts {
                by_key: HashMap::new(),
                total: 0,
            })),
            per_key: per_key.max(1),
            total: total.max(1),
        }
    }

    /// Most places one key may hold.
    pub fn per_key(&self) -> usize {
        self.per_key
    }

    /// A place for `key`, held until the returned guard drops; the total is checked first.
    pub fn enter(&self, key: K) -> Result<Place<K>, Refused> {
        let mut counts = lock(&self.counts);
        if counts.total >= self.total {
            return Err(Refused::AllTaken);
        }
        let held = counts.by_key.entry(key).or_insert(0);
        if *held >= self.per_key {
            return Err(Refused::KeyFull);
        }
        *held += 1;
        counts.total += 1;
        Ok(Place {
            counts: Arc::clone(&self.counts),
            key,
        })
    }

    /// Places `key` holds now.
    pub fn held(&self, key: &K) -> usize {
        lock(&self.counts).by_key.get(key).copied().unwrap_or(0)
    }
}

impl Places<SessionKey> {
    /// A place for `session`, refused as the user reads it: every place taken is the
    /// server being busy (retry in 5 s), the session's own cap is this session's to wait.
    pub fn enter_session(&self, session: SessionKey) -> Result<Place<SessionKey>, StayputError> {
        self.enter(session).map_err(|refused| match refused {
            Refused::AllTaken => StayputError::Busy { retry_after_s: 5 },
            Refused::KeyFull => StayputError::SessionBusy(self.per_key as u64),
        })
    }
}

/// One place in [`Places`], given back on drop (on any path: an answer, an error, a
/// client gone).
#[derive(Debug)]
pub struct Place<K: Eq + Hash> {
    counts: Arc<Mutex<Counts<K>>>,
    key: K,
}

impl<K: Eq + Hash> Drop for Place<K> {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(held) = counts.by_key.get_mut(&self.key) {
            *held -= 1;
            if *held == 0 {
                counts.by_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_key_and_in_all_and_come_back_on_drop() {
        let places = Places::new(2, 3);
        let a1 = places.enter('a').expect("a1");
        let _a2 = places.enter('a').expect("a2");
        assert_eq!(places.enter('a').err(), Some(Refused::KeyFull));
        let _b1 = places.enter('b').expect("b1");
        assert_eq!(places.enter('c').err(), Some(Refused::AllTaken));
        drop(a1);
        assert_eq!(places.held(&'a'), 1);
        let _c1 = places
            .clone()
            .enter('c')
            .expect("a place came back, clones share it");
        assert_eq!(places.enter('a').err(), Some(Refused::AllTaken));
    }

    #[test]
    fn a_key_with_no_place_left_is_forgotten() {
        let places = Places::new(1, 10);
        drop(places.enter(7).expect("one"));
        assert!(lock(&places.counts).by_key.is_empty());
        assert_eq!(lock(&places.counts).total, 0);
    }
}
