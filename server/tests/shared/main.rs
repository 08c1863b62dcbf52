//! Several servers, one set of sessions and handles: two real Stayput processes sharing
//! a real Redis started by the test on a free loopback port.

#[path = "../common/mod.rs"]
mod common;

mod cluster;
mod uploads;

use cluster::{create, frames_in, mean, mean_of, metric, two_servers, until};

use std::time::{Duration, Instant};

use app::StayputError;
use common::processes::{free_port, run_to_exit, Instance, Redis};
use common::{browser, error_of, form, handle_fields};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn a_handle_made_on_one_server_is_read_and_drawn_on_the_other() {
    let redis = Redis::start();
    let (a, b) = two_servers(&redis, &[]);
    // One browser: reqwest keeps cookies by host, so both servers get the same cookie,
    // as they would behind a balancer.
    let client = browser();
    let made = create(&a, &client, 100_000).await;
    assert_eq!(made.status(), StatusCode::OK);
    let handle: Value = made.json().await.expect("handle");
    let on_a = mean_of(&a, &client, &handle).await;

    // B never saw the session nor the handle: it learns both from Redis.
    let on_b = mean_of(&b, &client, &handle).await;
    assert_eq!(on_a, on_b, "the same frame on both servers");
    let figure = form(&b, &client, "frame_histogram", &handle_fields(&handle)).await;
    assert_eq!(figure.status(), StatusCode::OK);
    let figure: String = figure.json().await.expect("figure");
    assert!(
        figure.contains("\"type\":\"bar\"") || figure.contains("\"data\""),
        "{figure:.200}"
    );

    // A foreign cookie on B: exactly like a made-up handle.
    let stranger = browser();
    let foreign = error_of(mean(&b, &stranger, &handle).await).await;
    let mut made_up = handle.clone();
    made_up["id"] = Value::from(uuid::Uuid::new_v4().to_string());
    let unknown = error_of(mean(&b, &stranger, &made_up).await).await;
    assert_eq!(foreign, StayputError::UnknownHandle);
    assert_eq!(foreign, unknown);
}

#[tokio::test]
async fn frames_expire_in_redis_and_are_rebuilt_from_their_lineage() {
    let redis = Redis::start();
    let (a, b) = two_servers(&redis, &[("STAYPUT_REDIS_FRAME_TTL", "3s")]);
    let client = browser();
    let handle: Value = create(&a, &client, 50_000).await.json().await.expect("handle");
    let expected = mean_of(&a, &client, &handle).await;
    // Written through to Redis (in the background), then gone after its time to live.
    until("the frame in Redis", || frames_in(&redis) == 1).await;
    until("the frame to expire", || frames_in(&redis) == 0).await;
    assert_eq!(redis.count_keys("stayput:frame:*"), 0, "its chunks expired too");
    // B has never held it: with the frame gone from Redis it rebuilds it from the lineage.
    let recomputed = metric(&b, "stayput_cache_recomputes_total").await;
    assert_eq!(mean_of(&b, &client, &handle).await, expected);
    assert_eq!(metric(&b, "stayput_cache_recomputes_total").await, recomputed + 1);

    // A second frame, read on B while Redis still holds it: read, not recomputed.
    let second: Value = create(&a, &client, 50_000).await.json().await.expect("handle");
    let want = mean_of(&a, &client, &second).await;
    let key = format!(
        "stayput:frame:*:{}",
        second["id"].as_str().expect("id").replace('-', "")
    );
    until("the second frame in Redis", || redis.count_keys(&key) == 1).await;
    let hits = metric(&b, "stayput_cache_hits_total{tier=\"redis\"}").await;
    assert_eq!(mean_of(&b, &client, &second).await, want);
    assert_eq!(
        metric(&b, "stayput_cache_hits_total{tier=\"redis\"}").await,
        hits + 1
    );
    assert_eq!(metric(&b, "stayput_cache_recomputes_total").await, recomputed + 1);
}

#[tokio::test]
async fn losing_redis_gives_a_clear_error_keeps_local_data_and_recovers() {
    let mut redis = Redis::start();
    let (a, b) = two_servers(&redis, &[]);
    let client = browser();
    let handle: Value = create(&a, &client, 10_000).await.json().await.expect("handle");
    let expected = mean_of(&a, &client, &handle).await;
    assert_eq!(mean_of(&b, &client, &handle).await, expected);

    redis.stop();
    // What this server holds stays usable.
    assert_eq!(mean_of(&a, &client, &handle).await, expected);
    // A new handle must be known to every server: refused, clearly, quickly.
    let started = Instant::now();
    let refused = create(&a, &client, 10_000).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_of(refused).await, StayputError::SharedUnavailable);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // So is a new session.
    let newcomer = browser();
    assert_eq!(
        error_of(create(&b, &newcomer, 10).await).await,
        StayputError::SharedUnavailable
    );
    // The servers keep running and say so on every page.
    let page = browser().get(a.url("/cache")).send().await.expect("page");
    assert!(page.status().is_success(), "{}", page.status());

    // Redis is back (empty, as after a crash without persistence): the servers
    // reconnect by themselves; the session goes on and new handles work on both.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let again = loop {
        let reply = create(&a, &client, 10_000).await;
        if reply.status() == StatusCode::OK {
            break reply.json::<Value>().await.expect("handle");
        }
        assert!(Instant::now() < deadline, "no recovery: {}", reply.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let want = mean_of(&a, &client, &again).await;
    assert_eq!(mean_of(&b, &client, &again).await, want);
    // What Redis lost is recorded again by the servers that hold it: a third server,
    // started after the restart, knows the session and the handle made before it.
    assert_eq!(mean_of(&a, &client, &handle).await, expected);
    let url = redis.url();
    let c = Instance::start(&[("STAYPUT_REDIS_URL", url.as_str())]);
    assert_eq!(mean_of(&c, &client, &handle).await, expected);
    let newcomer: Value = create(&b, &newcomer, 10)
        .await
        .json()
        .await
        .expect("a new session");
    assert_eq!(newcomer["rows"], 10);
}

#[test]
fn an_unreachable_redis_stops_the_server_at_start_naming_it_without_the_password() {
    let port = free_port(); // nothing listens there
    let url = format!("redis://:hunter2secret@127.0.0.1:{port}");
    let (status, stderr) = run_to_exit(&[
        ("STAYPUT_REDIS_URL", url.as_str()),
        ("STAYPUT_REDIS_TIMEOUT", "1s"),
    ]);
    assert!(!status.success());
    let said: Vec<&str> = stderr.lines().filter(|l| l.starts_with("stayput:")).collect();
    assert_eq!(said.len(), 1, "one line: {stderr}");
    assert!(
        said[0].contains("Redis") && said[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        said[0]
    );
    assert!(!stderr.contains("hunter2secret"), "{stderr}");

    let (status, stderr) = run_to_exit(&[("STAYPUT_REDIS_URL", "http://example.org")]);
    assert!(!status.success());
    assert!(stderr.contains("STAYPUT_REDIS_URL"), "{stderr}");
}

#[tokio::test]
async fn a_sessions_quota_holds_across_servers() {
    let redis = Redis::start();
    let limits = [
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
        ("STAYPUT_SESSION_QUOTA", "12MiB"),
    ];
    let (a, b) = two_servers(&redis, &limits);
    let client = browser();
    // 1e6 rows: 8 MB, within the 12 MiB quota on either server alone.
    let first: Value = create(&a, &client, 1_000_000).await.json().await.expect("handle");
    // Reading it on B is a copy, not a second frame of the session: allowed.
    let on_a = mean_of(&a, &client, &first).await;
    assert_eq!(mean_of(&b, &client, &first).await, on_a);
    let refused = create(&b, &client, 1_000_000).await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err = error_of(refused).await.to_string();
    assert!(err.contains("other servers") && err.contains("12.0 MiB"), "{err}");
    // Another session is not limited by this one.
    let other = browser();
    assert_eq!(create(&b, &other, 1_000_000).await.status(), StatusCode::OK);
    // Once A lets go of the frame, B may make one.
    let dropped = form(
        &a,
        &client,
        "drop_frame",
        &[("id", first["id"].as_str().expect("id").to_owned())],
    )
    .await;
    assert_eq!(dropped.status(), StatusCode::OK);
    assert_eq!(create(&b, &client, 1_000_000).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_redis_that_hangs_costs_a_request_at_most_the_timeout() {
    let redis = Redis::start();
    let (a, _b) = two_servers(&redis, &[("STAYPUT_REDIS_TIMEOUT", "1s")]);
    let client = browser();
    let handle: Value = create(&a, &client, 10_000).await.json().await.expect("handle");
    let expected = mean_of(&a, &client, &handle).await;

    redis.freeze();
    // Every request answers within a few timeouts, never hangs: local data is read, what
    // needs Redis is refused clearly.
    let started = Instant::now();
    assert_eq!(mean_of(&a, &client, &handle).await, expected);
    let refused = create(&a, &client, 10_000).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(refused).await, StayputError::SharedUnavailable);
    let page = client.get(a.url("/cache")).send().await.expect("page");
    assert!(page.status().is_success(), "{}", page.status());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    redis.thaw();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = create(&a, &client, 10_000).await;
        if reply.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", reply.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_servers_together_keep_at_most_max_sessions() {
    let redis = Redis::start();
    let (a, b) = two_servers(&redis, &[("STAYPUT_MAX_SESSIONS", "2")]);
    // One browser starts its session on each server.
    let (first, second, third) = (browser(), browser(), browser());
    assert_eq!(create(&a, &first, 1_000).await.status(), StatusCode::OK);
    assert_eq!(create(&b, &second, 1_000).await.status(), StatusCode::OK);
    assert_eq!(redis.command("ZCARD stayput:sessions").as_deref(), Some(":2"));

    // A third is refused on either server, before any work, and told when to come back.
    for server in [&a, &b] {
        let refused = create(server, &third, 1_000).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            refused.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("60")
        );
        assert!(
            refused.headers().get("set-cookie").is_none(),
            "no session started"
        );
        assert_eq!(error_of(refused).await, StayputError::TooManySessions(2));
    }
    assert_eq!(redis.command("ZCARD stayput:sessions").as_deref(), Some(":2"));

    // The sessions that exist go on, on both servers.
    assert_eq!(create(&b, &first, 1_000).await.status(), StatusCode::OK);
    assert_eq!(create(&a, &second, 1_000).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_only_started_counts_for_minutes_one_holding_frames_for_its_lifetime() {
    let redis = Redis::start();
    let url = redis.url();
    let a = Instance::start(&[("STAYPUT_REDIS_URL", url.as_str())]);
    let (started, holding) = (browser(), browser());
    assert_eq!(
        form(&a, &started, "start_session", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(create(&a, &holding, 1_000).await.status(), StatusCode::OK);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let eleven_minutes = now_ms + 11 * 60 * 1000;
    // A flood of started sessions cannot hold the count for a day; a real one counts
    // as long as it lives.
    assert_eq!(
        redis
            .command(&format!("ZCOUNT stayput:sessions -inf {eleven_minutes}"))
            .as_deref(),
        Some(":1")
    );
    assert_eq!(
        redis
            .command(&format!("ZCOUNT stayput:sessions ({eleven_minutes} +inf"))
            .as_deref(),
        Some(":1")
    );
}
