//! Spare buffers count inside the memory budget: a reservation that needs their room
//! frees them first. Its own test binary: the pool is process-wide.

mod common;

use std::time::Duration;

use common::{config, MIB};
use stayput_cache::{spare, FrameCache, SessionKey};

#[tokio::test]
async fn a_reservation_takes_the_room_of_spare_buffers() {
    let cache = FrameCache::new(config(64, 64, Duration::from_secs(600)));
    spare::give_back(Vec::with_capacity((40 * MIB / 8) as usize));
    assert_eq!(spare::spare_bytes() as u64, 40 * MIB);
    // 30 MiB leave 34 MiB of room: the 40 MiB spare no longer fits and is freed.
    let reservation = cache.reserve(SessionKey::random(), 30 * MIB).await.expect("room");
    assert_eq!(spare::spare_bytes(), 0);
    drop(reservation);
    // With room to spare, spares stay for the next fill.
    spare::give_back(Vec::with_capacity((8 * MIB / 8) as usize));
    let _small = cache.reserve(SessionKey::random(), 8 * MIB).await.expect("room");
    assert_eq!(spare::spare_bytes() as u64, 8 * MIB);
}
