//! The Redis tier behind the `ColdTier` trait, on a real Redis started by the test: as a
//! single server's cold tier (frames placed on "disk" go to Redis), its refusal of a
//! frame over `frame_max`, and what it reports holding.

mod common;

use std::sync::Arc;

use common::processes::Redis;
use polars::prelude::*;
use stayput_cache::{
    ByteSize, CacheConfig, CacheError, ColdTier, FrameCache, FrameKey, Limit, Placement, RedisTier,
    Residence, SessionKey, SharedSettings, SharedStore,
};

async fn tier(redis: &Redis, frame_max: u64) -> RedisTier {
    let mut settings = SharedSettings::new(redis.url());
    settings.prefix = "tier-test".to_owned();
    settings.frame_max = frame_max;
    RedisTier::new(SharedStore::connect(settings).await.expect("connect"))
}

fn walk(rows: usize) -> DataFrame {
    let x: Vec<f64> = (0..rows).map(|i| i as f64 * 0.5).collect();
    df!("x" => x).expect("frame")
}

#[tokio::test]
async fn the_redis_tier_stores_loads_replaces_and_removes_behind_the_trait() {
    let redis = Redis::start();
    let redis_tier = tier(&redis, 64 << 20).await;
    let tier: &dyn ColdTier = &redis_tier;
    assert_eq!(tier.name(), "redis");
    let key = FrameKey {
        session: SessionKey::random(),
        id: uuid::Uuid::new_v4(),
    };
    assert_eq!(tier.load(key).await.expect("load"), None, "nothing stored yet");

    let stored = tier.store(key, Arc::new(walk(100_000))).await.expect("store");
    assert!(stored.bytes >= 800_000, "{stored:?}");
    let back = tier.load(key).await.expect("load").expect("held");
    assert!(back.equals(&walk(100_000)));
    assert_eq!(tier.usage().entries, 1);
    assert_eq!(tier.usage().bytes, stored.bytes);

    // Replaced: one frame still, of the new size, and the old chunks gone.
    let again = tier.store(key, Arc::new(walk(10))).await.expect("store");
    assert_eq!(tier.load(key).await.expect("load").expect("held").height(), 10);
    assert_eq!((tier.usage().entries, tier.usage().bytes), (1, again.bytes));
    assert_eq!(
        redis.count_keys("tier-test:frame:*"),
        2,
        "the manifest and one chunk"
    );

    tier.remove(key).await.expect("remove");
    assert_eq!(tier.load(key).await.expect("load"), None);
    assert_eq!((tier.usage().entries, tier.usage().bytes), (0, 0));
    assert_eq!(redis.count_keys("tier-test:frame:*"), 0);
    // Removing what is not there is not an error.
    tier.remove(key).await.expect("remove again");
}

#[tokio::test]
async fn a_frame_over_frame_max_is_refused_by_name() {
    let redis = Redis::start();
    let tier = tier(&redis, 1 << 20).await;
    let key = FrameKey {
        session: SessionKey::random(),
        id: uuid::Uuid::new_v4(),
    };
    match tier.store(key, Arc::new(walk(1_000_000))).await {
        Err(CacheError::TooLarge { limit, .. }) => assert_eq!(limit, Limit::RedisFrameMax),
        other => panic!("an 8 MB frame over a 1 MiB frame_max: {other:?}"),
    }
    assert_eq!(redis.count_keys("tier-test:*"), 0, "nothing written");
}

#[tokio::test]
async fn a_single_server_can_keep_its_cold_frames_in_redis() {
    let redis = Redis::start();
    let tier = Arc::new(tier(&redis, 64 << 20).await);
    let cache = FrameCache::builder(CacheConfig::new(ByteSize(64 << 20)))
        .cold_tier(tier.clone())
        .build();
    let session = SessionKey::random();
    let handle = cache
        .put(session, walk(50_000), Placement::Disk)
        .await
        .expect("put");
    let entry = cache.entry(session, &handle.id).expect("listed");
    assert_eq!(entry.residence, Residence::Disk, "{entry:?}");
    // The write may finish after `put` returns (the frame is read from memory meanwhile).
    for _ in 0..100 {
        if tier.usage().entries == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(tier.usage().entries, 1, "the frame went to Redis");
    assert_eq!(
        redis.count_keys("tier-test:frame:*"),
        2,
        "its manifest and one chunk"
    );
    let frame = cache.get(session, &handle).await.expect("read back");
    assert!(frame.equals(&walk(50_000)));
    assert!(cache.remove(session, &handle.id).await);
    assert_eq!(tier.usage().entries, 0);
    assert_eq!(redis.count_keys("tier-test:frame:*"), 0);
}
