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

fn key() -> FrameKey {
    FrameKey {
        session: SessionKey::random(),
        id: uuid::Uuid::new_v4(),
    }
}

/// Columns of every fixed width, some with nulls, in several record batches.
fn mixed(rows: usize) -> DataFrame {
    let x: Vec<f64> = (0..rows).map(|i| (i as f64 * 0.618).fract()).collect();
    let n: Vec<Option<i32>> = (0..rows).map(|i| (i % 11 != 0).then_some(i as i32)).collect();
    let b: Vec<bool> = (0..rows).map(|i| i % 3 == 0).collect();
    let small: Vec<u8> = (0..rows).map(|i| (i % 251) as u8).collect();
    let mut frame = df!("x" => x, "n" => n, "b" => b, "small" => small).expect("frame");
    let when = Series::new("when".into(), (0..rows as i64).collect::<Vec<_>>())
        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
        .expect("datetime");
    frame.with_column(when.into_column()).expect("column");
    let mut two = frame.slice(0, rows / 3);
    two.vstack_mut(&frame.slice((rows / 3) as i64, rows))
        .expect("a second batch");
    two
}

fn redis_cli(redis: &Redis, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (scripts/test installs redis-tools)");
    assert!(out.status.success(), "redis-cli {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A frame of many 1 MiB chunks is read back whole and equal, its fixed-width
/// columns built over the buffer the chunks were read into; one with strings is copied.
#[tokio::test]
async fn frames_of_many_chunks_are_read_back_equal_in_place_or_copied() {
    let redis = Redis::start();
    let tier = tier(&redis, 64 << 20).await;
    let frame = mixed(1_500_000); // ~30 MB: each column a file of several chunks
    let k = key();
    let stored = tier.store(k, Arc::new(frame.clone())).await.expect("store");
    assert!(stored.bytes > 16 << 20, "{stored:?}");
    // The manifest, then each column's file in chunks of 1 MiB.
    let keys = redis.count_keys("tier-test:frame:*");
    let (fewest, most) = (
        1 + frame.width(),
        1 + frame.width() + (stored.bytes as usize >> 20),
    );
    assert!(
        (fewest..=most).contains(&keys) && keys > fewest,
        "{keys} keys, {stored:?}"
    );
    let (back, stages) = tier.load_timed(k).await.expect("load");
    let back = back.expect("held");
    assert!(back.equals_missing(&frame), "the same frame");
    assert!(stages.in_place, "fixed-width columns are not copied: {stages:?}");
    assert_eq!(
        back.column("when").expect("when").dtype(),
        frame.column("when").expect("when").dtype()
    );

    let mut strings = frame.slice(0, 300_000);
    let names: Vec<String> = (0..300_000).map(|i| format!("row {i}")).collect();
    strings
        .with_column(Series::new("name".into(), names).into_column())
        .expect("column");
    let k = key();
    tier.store(k, Arc::new(strings.clone())).await.expect("store");
    let (back, stages) = tier.load_timed(k).await.expect("load");
    assert!(back.expect("held").equals_missing(&strings));
    assert!(!stages.in_place, "strings are copied out: {stages:?}");
}

/// A chunk replaced by bytes of another length, or whose file's structure is damaged,
/// reads as a frame not in Redis (the cache then rebuilds it from its lineage), never
/// as a crash. (Values are not checksummed: Redis is the deployment's own.)
#[tokio::test]
async fn a_damaged_or_replaced_chunk_reads_as_not_in_redis() {
    let redis = Redis::start();
    let tier = tier(&redis, 64 << 20).await;
    let frame = walk(200_000); // 1.6 MB: 2 chunks
    for damage in ["shorter", "overwritten"] {
        let k = key();
        tier.store(k, Arc::new(frame.clone())).await.expect("store");
        let pattern = format!("tier-test:frame:*{}:*:1", k.id.simple());
        let chunk = redis_cli(&redis, &["--scan", "--pattern", &pattern]);
        assert!(
            !chunk.is_empty() && !chunk.contains('\n'),
            "one second chunk: {chunk:?}"
        );
        match damage {
            "shorter" => redis_cli(&redis, &["SET", &chunk, "short"]),
            // The last chunk's tail: the file's footer, which lists its batches.
            _ => {
                let len: usize = redis_cli(&redis, &["STRLEN", &chunk]).parse().expect("length");
                let at = (len - 200).to_string();
                redis_cli(&redis, &["SETRANGE", &chunk, &at, &"\u{7f}".repeat(190)])
            }
        };
        assert_eq!(tier.load(k).await.expect("load"), None, "{damage}");
    }
}

/// The plain connections chunks are read over log in and pick the database as the URL
/// says, as fred's do.
#[tokio::test]
async fn frames_are_read_with_the_urls_password_and_database() {
    let redis = Redis::start();
    assert_eq!(
        redis.command("CONFIG SET requirepass s3cret").as_deref(),
        Some("+OK")
    );
    let mut settings = SharedSettings::new(format!("redis://:s3cret@127.0.0.1:{}/3", redis.port));
    settings.prefix = "tier-test".to_owned();
    let tier = RedisTier::new(SharedStore::connect(settings).await.expect("connect"));
    let frame = walk(200_000); // 1.6 MB: 2 chunks
    let k = key();
    tier.store(k, Arc::new(frame.clone())).await.expect("store");
    let back = tier.load(k).await.expect("load").expect("held");
    assert!(back.equals(&frame));
    let in_db3 = redis_cli(
        &redis,
        &["-a", "s3cret", "--no-auth-warning", "-n", "3", "DBSIZE"],
    );
    assert_eq!(in_db3, "3", "the manifest and two chunks, in database 3");
}

#[tokio::test]
async fn a_cluster_sentinel_or_tls_url_is_refused_at_start_naming_why() {
    let redis = Redis::start();
    for scheme in ["redis-cluster", "redis-sentinel", "rediss"] {
        let settings = SharedSettings::new(format!("{scheme}://127.0.0.1:{}", redis.port));
        match SharedStore::connect(settings).await {
            Err(err) => assert!(err.to_string().contains("only redis://"), "{scheme}: {err}"),
            Ok(_) => panic!("{scheme} is refused"),
        }
    }
}

/// Narrow columns share a file (a frame of thousands of them is a few keys, not
/// thousands); a column of 1 MiB or more has one of its own. Either way the frame comes
/// back equal, built in place.
#[tokio::test]
async fn narrow_columns_share_files_and_wide_ones_have_their_own() {
    let redis = Redis::start();
    let tier = tier(&redis, 64 << 20).await;
    let columns: Vec<Column> = (0..3_000)
        .map(|i| Column::new(format!("c{i}").into(), vec![i as f64; 10]))
        .collect();
    let wide = DataFrame::new(10, columns).expect("frame");
    let k = key();
    tier.store(k, Arc::new(wide.clone())).await.expect("store");
    let keys = redis.count_keys("tier-test:frame:*");
    assert!(keys <= 4, "3,000 narrow columns in a few files: {keys} keys");
    let (back, stages) = tier.load_timed(k).await.expect("load");
    assert!(back.expect("held").equals(&wide));
    assert!(stages.in_place, "{stages:?}");

    let mut mixed_widths = walk(300_000); // 2.4 MB: a file of its own
    mixed_widths
        .with_column(Column::new("a".into(), vec![1u8; 300_000]))
        .expect("column");
    mixed_widths
        .with_column(Column::new("b".into(), vec![true; 300_000]))
        .expect("column");
    let k = key();
    tier.store(k, Arc::new(mixed_widths.clone()))
        .await
        .expect("store");
    let pattern = format!("tier-test:frame:*{}:*", k.id.simple());
    let chunks = redis_cli(&redis, &["--scan", "--pattern", &pattern]);
    let files: std::collections::BTreeSet<&str> =
        chunks.lines().filter_map(|key| key.rsplit(':').nth(1)).collect();
    assert_eq!(files.len(), 2, "x alone, a and b together: {chunks}");
    let back = tier.load(k).await.expect("load").expect("held");
    assert!(back.equals(&mixed_widths));
}

/// A chunk key Redis holds as another type answers with an error: the frame is not in
/// Redis, and Redis stays available for everything else (the breaker is not opened).
#[tokio::test]
async fn a_chunk_of_another_type_reads_as_not_in_redis_and_redis_stays_up() {
    let redis = Redis::start();
    let tier = tier(&redis, 64 << 20).await;
    let (k, other) = (key(), key());
    tier.store(k, Arc::new(walk(1_000))).await.expect("store");
    tier.store(other, Arc::new(walk(2_000))).await.expect("store");
    let pattern = format!("tier-test:frame:*{}:*:0", k.id.simple());
    let chunk = redis_cli(&redis, &["--scan", "--pattern", &pattern]);
    redis_cli(&redis, &["DEL", &chunk]);
    redis_cli(&redis, &["RPUSH", &chunk, "not a value"]);
    assert_eq!(tier.load(k).await.expect("not an error"), None);
    let back = tier.load(other).await.expect("Redis still up").expect("held");
    assert_eq!(back.height(), 2_000);
}

/// A manifest declaring more than any frame this server could have written (huge files,
/// an absurd count of chunks) is never believed: reading and removing the frame do no
/// work for it.
#[tokio::test]
async fn a_manifest_declaring_more_than_frame_max_is_not_believed() {
    let redis = Redis::start();
    let tier = tier(&redis, 64 << 20).await;
    let k = key();
    let manifest_key = format!("tier-test:frame:{}:{}", k.session.uuid().simple(), k.id.simple());
    let version = "0123456789abcdef0123456789abcdef";
    redis_cli(
        &redis,
        &[
            "SET",
            &manifest_key,
            &format!("cols2 {version} 1048576 18446744073709551615"),
        ],
    );
    assert_eq!(tier.load(k).await.expect("load"), None);
    redis_cli(
        &redis,
        &[
            "SET",
            &manifest_key,
            &format!("cols2 {version} 1048576 18446744073709551615"),
        ],
    );
    tier.remove(k).await.expect("removed without listing its chunks");
    assert_eq!(redis.count_keys("tier-test:*"), 0);
}
