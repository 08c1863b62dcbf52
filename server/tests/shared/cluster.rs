//! Two real servers on one real Redis, and what the tests ask of them.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::common::processes::{Instance, Redis};
use crate::common::{browser, call, form, handle_fields, upload};

pub(crate) async fn create(server: &Instance, client: &Client, rows: u64) -> reqwest::Response {
    form(server, client, "create_frame", &[("rows", rows.to_string())]).await
}

pub(crate) async fn mean(server: &Instance, client: &Client, handle: &Value) -> reqwest::Response {
    form(server, client, "frame_mean", &handle_fields(handle)).await
}

pub(crate) async fn mean_of(server: &Instance, client: &Client, handle: &Value) -> f64 {
    let reply = mean(server, client, handle).await;
    assert_eq!(reply.status(), StatusCode::OK, "mean on {}", server.base);
    let reply: Value = reply.json().await.expect("mean");
    reply["mean"].as_f64().expect("a number")
}

/// A counter of the server's `/metrics`, by its full name with labels.
pub(crate) async fn metric(server: &Instance, name: &str) -> u64 {
    let text = browser()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// Waits (at most 10 s) until `done` holds.
pub(crate) async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Frames Redis holds (their manifests; chunks are `…:frame:<s>:<id>:<version>:<n>`).
pub(crate) fn frames_in(redis: &Redis) -> usize {
    redis.count_keys("stayput:frame:*") - redis.count_keys("stayput:frame:*:*:*:*")
}

pub(crate) fn two_servers(redis: &Redis, extra: &[(&str, &str)]) -> (Instance, Instance) {
    let url = redis.url();
    let mut vars = vec![("STAYPUT_REDIS_URL", url.as_str())];
    vars.extend_from_slice(extra);
    (Instance::start(&vars), Instance::start(&vars))
}

/// A CSV of `rows` rows: a city out of three and a temperature.
pub(crate) fn weather_csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("city,temp\n");
    for i in 0..rows {
        let city = ["Oslo", "Rome", "Lima"][i % 3];
        text.push_str(&format!("{city},{}\n", (i % 40) as f64 / 2.0));
    }
    text.into_bytes()
}

pub(crate) async fn json_call(server: &Instance, client: &Client, name: &str, args: Value) -> Value {
    let reply = call(server, client, name, args).await;
    assert_eq!(reply.status(), StatusCode::OK, "{name} on {}", server.base);
    reply.json().await.expect("json")
}

/// Waits until Redis's key count has not changed for 300 ms (background writes done).
pub(crate) async fn settled(redis: &Redis) {
    let mut last = usize::MAX;
    let mut still = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while still < 6 && Instant::now() < deadline {
        let now = redis.count_keys("stayput:*");
        still = if now == last { still + 1 } else { 0 };
        last = now;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two servers on `redis` sharing one uploads directory (kept alive by the `TempDir`),
/// and a 3,000-row upload made on the first by `client`: its handle.
pub(crate) async fn an_upload_on_the_first_of_two(
    redis: &Redis,
    client: &Client,
) -> (tempfile::TempDir, Instance, Instance, Value) {
    let shared = tempfile::tempdir().expect("shared dir");
    let dir = shared.path().display().to_string();
    let (a, b) = two_servers(redis, &[("STAYPUT_SHARED_DIR", dir.as_str())]);
    let uploaded = upload(&a, client, "weather.csv", weather_csv(3000)).await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let handle: Value = uploaded.json().await.expect("handle");
    (shared, a, b, handle)
}
