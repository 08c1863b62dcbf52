//! The real router on a real socket, called over HTTP as the browser calls it.

use app::contract::client_mode::{ClientMeanReply, FRAME_PATH, MEAN_PATH};
use app::StayputError;
use reqwest::StatusCode;
use serde_json::Value;
use server::Config;

mod common;
use common::{browser, create, error_of, form, frame_mean, handle_fields, start};

#[tokio::test]
async fn handles_work_in_their_session_only() {
    let server = start(&[("STAYPUT_MEMORY_BUDGET", "256MiB")]).await;
    let alice = browser();
    let mallory = browser();

    let response = create(&server, &alice, "1000").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("stayput.sid="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    let handle: Value = response.json().await.expect("handle json");
    assert_eq!(handle["rows"], 1000);
    assert_eq!(handle["bytes"], 8000);
    assert_eq!(
        handle.as_object().map(|o| o.len()),
        Some(4),
        "only id, rows, cols, bytes: {handle}"
    );

    let response = frame_mean(&server, &alice, &handle).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mean: Value = response.json().await.expect("mean json");
    let mean = mean["mean"].as_f64().expect("a number");
    assert!((mean - 0.5).abs() < 0.05, "{mean}");

    // Mallory has the handle (say, from a shared screenshot) but not Alice's cookie.
    let foreign = error_of(frame_mean(&server, &mallory, &handle).await).await;
    let mut made_up = handle.clone();
    made_up["id"] = Value::from("7d444840-9dc0-41a6-a1f3-2a5f3c1e6b6e");
    let unknown = error_of(frame_mean(&server, &mallory, &made_up).await).await;
    assert_eq!(foreign, StayputError::UnknownHandle);
    assert_eq!(
        foreign, unknown,
        "a foreign handle reads exactly like a made-up one"
    );

    // The frame is still there for Alice.
    assert_eq!(
        frame_mean(&server, &alice, &handle).await.status(),
        StatusCode::OK
    );
    assert_eq!(server.stayput.cache.totals().memory.entries, 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_the_server_keeps_serving() {
    let server = start(&[]).await;
    let client = browser();

    assert_eq!(
        error_of(create(&server, &client, "0").await).await,
        StayputError::InvalidSize("0".into())
    );
    assert_eq!(
        error_of(create(&server, &client, "1000000000").await).await,
        StayputError::InvalidSize("1000000000".into())
    );
    assert!(matches!(
        error_of(create(&server, &client, "many").await).await,
        StayputError::BadRequest(_)
    ));
    let garbage = client
        .post(server.url("/api/frame_mean"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("handle=%%%")
        .send()
        .await
        .expect("send");
    assert!(matches!(error_of(garbage).await, StayputError::BadRequest(_)));

    // Still serving, the page included.
    assert_eq!(create(&server, &client, "10").await.status(), StatusCode::OK);
    let page = client.get(server.url("/")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("<title>Stayput</title>"), "{html}");
    assert!(html.contains(r#"data-testid="run""#));
}

#[tokio::test]
async fn client_mode_moves_the_whole_frame_both_ways() {
    let server = start(&[("STAYPUT_CLIENT_MAX_ROWS", "100000")]).await;
    let client = browser();

    let down = client
        .post(server.url(&format!("{FRAME_PATH}?rows=100000")))
        .send()
        .await
        .expect("send");
    assert_eq!(down.status(), StatusCode::OK);
    assert_eq!(down.headers()["content-type"], "application/octet-stream");
    let bytes = down.bytes().await.expect("bytes");
    assert_eq!(bytes.len(), 800_000);

    let up = client
        .post(server.url(MEAN_PATH))
        .body(bytes)
        .send()
        .await
        .expect("send");
    assert_eq!(up.status(), StatusCode::OK);
    let reply: ClientMeanReply = up.json().await.expect("reply");
    assert!((reply.mean - 0.5).abs() < 0.01, "{}", reply.mean);
    let figure: Value = serde_json::from_str(&reply.figure).expect("figure json");
    assert_eq!(figure["data"][0]["type"], "bar");

    let too_many = client
        .post(server.url(&format!("{FRAME_PATH}?rows=100001")))
        .send()
        .await
        .expect("send");
    assert_eq!(too_many.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(matches!(
        error_of(too_many).await,
        StayputError::ClientModeTooLarge { .. }
    ));

    let torn = client
        .post(server.url(MEAN_PATH))
        .body(vec![0_u8; 13])
        .send()
        .await
        .expect("send");
    assert!(matches!(error_of(torn).await, StayputError::BadRequest(_)));

    let oversized = client
        .post(server.url(MEAN_PATH))
        .body(vec![0_u8; 2_000_000])
        .send()
        .await
        .expect("send");
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(matches!(error_of(oversized).await, StayputError::BodyTooLarge(_)));
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    let server = start(&[("STAYPUT_MEMORY_BUDGET", "256MiB")]).await;
    let alice = browser();
    assert_eq!(create(&server, &alice, "1000").await.status(), StatusCode::OK);
    let response = alice.get(server.url("/metrics")).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    assert!(
        text.lines()
            .any(|l| l == "stayput_cache_entries{tier=\"memory\"} 1"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "stayput_sessions 1"), "{text}");
}

#[test]
fn an_unusable_cache_dir_fails_start_up_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let wanted = file.join("cache").display().to_string();
    let config =
        Config::from_lookup(|key| (key == "STAYPUT_CACHE_DIR").then(|| wanted.clone())).expect("config");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let err = runtime
        .block_on(async { server::build(&config).err() })
        .expect("refused");
    assert_eq!(
        err.to_string(),
        format!("cannot use cache directory {wanted}: Not a directory (set STAYPUT_CACHE_DIR to a writable directory)")
    );
}

#[tokio::test]
async fn client_mode_buffers_are_admitted_like_frames() {
    // Client mode may send 1e7 rows (80 MB, 160 MB while the frame is copied into its
    // bytes), but the whole memory budget is 64 MiB: refused before anything is filled.
    let server = start(&[
        ("STAYPUT_CLIENT_MAX_ROWS", "10000000"),
        ("STAYPUT_MEMORY_BUDGET", "64MiB"),
    ])
    .await;
    let client = browser();
    let down = client
        .post(server.url(&format!("{FRAME_PATH}?rows=10000000")))
        .send()
        .await
        .expect("send");
    assert_eq!(down.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(matches!(error_of(down).await, StayputError::TooLarge { .. }));
    // The upload is refused on its declared length, before its body is read.
    let up = client
        .post(server.url(MEAN_PATH))
        .body(vec![0_u8; 40_000_000])
        .send()
        .await
        .expect("send");
    assert_eq!(up.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(matches!(error_of(up).await, StayputError::TooLarge { .. }));
    // What fits is served, and gives its room back.
    let small = client
        .post(server.url(&format!("{FRAME_PATH}?rows=1000000")))
        .send()
        .await
        .expect("send");
    assert_eq!(small.status(), StatusCode::OK);
    assert_eq!(small.bytes().await.expect("bytes").len(), 8_000_000);
    assert_eq!(server.stayput.cache.reserved_bytes(), 0);
}

/// `/explore`'s Make with these form fields, as the page calls it.
async fn explore_make(
    server: &common::Running,
    client: &reqwest::Client,
    kind: &str,
    rows: &str,
    replaces: Option<&Value>,
) -> reqwest::Response {
    let mut fields = vec![
        ("kind", kind.to_owned()),
        ("rows", rows.to_owned()),
        ("chart", "line".to_owned()),
        ("width", "800".to_owned()),
    ];
    if let Some(old) = replaces {
        for (name, value) in handle_fields(old) {
            let name = match name {
                "handle[id]" => "replaces[id]",
                "handle[rows]" => "replaces[rows]",
                "handle[cols]" => "replaces[cols]",
                _ => "replaces[bytes]",
            };
            fields.push((name, value));
        }
    }
    form(server, client, "explore_make", &fields).await
}

/// `/explore`'s Make: one call makes the frame, keeps it, and answers with its columns,
/// the axes chosen and the first figure; the next Make releases the one before (still
/// rebuilt from its lineage when asked for); a kind of data the server does not make is
/// refused before anything is made.
#[tokio::test]
async fn explore_make_makes_keeps_and_draws_in_one_call() {
    let server = start(&[("STAYPUT_MEMORY_BUDGET", "256MiB")]).await;
    let alice = browser();
    let memory = || server.stayput.cache.totals().memory.entries;

    let response = explore_make(&server, &alice, "uniform", "100000", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let made: Value = response.json().await.expect("json");
    assert_eq!(made["handle"]["rows"], 100_000);
    assert_eq!(
        (made["x"].as_str(), made["y"].as_str()),
        (Some("row"), Some("rnd"))
    );
    let names: Vec<&str> = made["columns"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["row", "rnd"], "the row number and the one column");
    assert_eq!(made["figure"]["rows_in_range"], 100_000);
    let points = made["figure"]["points"].as_u64().expect("points");
    assert!((1..=1_600).contains(&points), "two per pixel at most: {points}");
    let figure: Value =
        serde_json::from_str(made["figure"]["figure"].as_str().expect("figure text")).expect("figure json");
    assert_eq!(figure["data"][0]["type"], "scatter");
    // Kept: step 2 of the benchmark reads it in the same session.
    let first = made["handle"].clone();
    assert_eq!(frame_mean(&server, &alice, &first).await.status(), StatusCode::OK);
    assert_eq!(memory(), 1);

    // The time series, replacing the frame above: released from memory, lineage kept.
    let response = explore_make(&server, &alice, "series", "10000", Some(&first)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let made: Value = response.json().await.expect("json");
    assert_eq!(made["x"], "time");
    assert_eq!(made["figure"]["rows_in_range"], 10_000);
    assert_eq!(memory(), 1, "the replaced frame left memory");
    let response = frame_mean(&server, &alice, &first).await;
    assert_eq!(response.status(), StatusCode::OK, "rebuilt from its lineage");
    assert_eq!(memory(), 2);

    // A frame of one row is sorted by chance: still drawn, its one column as y.
    let response = explore_make(&server, &alice, "uniform", "1", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let one: Value = response.json().await.expect("json");
    assert_eq!(
        (one["y"].as_str(), one["figure"]["rows_in_range"].as_u64()),
        (Some("rnd"), Some(1))
    );
    assert_eq!(memory(), 3);

    // Refused before any work: an unknown kind, a size out of range.
    for (kind, rows) in [
        ("parquet", "1000"),
        ("uniform", "0"),
        ("series", "1000000000000"),
        ("parquet", "100000000"),
    ] {
        let error = error_of(explore_make(&server, &alice, kind, rows, None).await).await;
        assert!(
            matches!(error, StayputError::BadRequest(_) | StayputError::InvalidSize(_)),
            "{kind} {rows}: {error:?}"
        );
    }
    assert_eq!(memory(), 3, "nothing made by a refused call");
}

/// A long line's min/max pyramid is built by its first figure, kept for the next ones
/// (within 1/32 of the memory budget) and counted in `/metrics`; short ones get none.
#[tokio::test]
async fn a_long_line_keeps_its_pyramid_and_metrics_count_it() {
    let server = start(&[("STAYPUT_MEMORY_BUDGET", "512MiB")]).await;
    let alice = browser();
    let pyramids = || (server.stayput.pyramids.len(), server.stayput.pyramids.bytes());
    let response = explore_make(&server, &alice, "series", "100000", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(pyramids(), (0, 0), "100,000 rows are scanned");

    let response = explore_make(&server, &alice, "series", "3000000", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let made: Value = response.json().await.expect("json");
    assert_eq!(made["figure"]["rows_in_range"], 3_000_000);
    assert_eq!(made["figure"]["points"], 1_600, "two per pixel of 800");
    let (kept, bytes) = pyramids();
    assert_eq!(kept, 1);
    assert!(
        bytes > 0 && bytes * 50 < 3_000_000 * 8,
        "under 2 % of the column: {bytes}"
    );
    let text = alice
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        text.lines()
            .any(|l| l == format!("stayput_pyramid_bytes {bytes}")),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "stayput_pyramids 1"), "{text}");
}

/// Behind HTTPS the session cookie carries the `__Host-` prefix (a sibling subdomain or
/// another port cannot plant it), and a request naming a host this server does not
/// answer for (a DNS-rebinding page) is refused before anything runs.
#[tokio::test]
async fn secure_cookies_are_host_only_and_other_host_names_are_refused() {
    let server = start(&[("STAYPUT_SECURE_COOKIE", "true")]).await;
    let client = browser();
    let response = create(&server, &client, "1000").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("__Host-stayput.sid="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");

    let rebound = client
        .post(server.url("/api/create_frame"))
        .header("host", "attacker.example")
        .form(&[("rows", "1000")])
        .send()
        .await
        .expect("send");
    assert_eq!(rebound.status(), StatusCode::BAD_REQUEST);
    assert!(rebound.headers().get("set-cookie").is_none(), "no session for it");
    assert_eq!(
        server.stayput.cache.totals().sessions,
        1,
        "only the first client's session"
    );
    let named = client
        .get(server.url("/"))
        .header("host", format!("localhost:{}", server.addr.port()))
        .send()
        .await
        .expect("send");
    assert_eq!(named.status(), StatusCode::OK, "loopback names are served");
}

/// A session is stored (and its cookie set) only once it holds something, or the page
/// asked for one before opening its socket (issue 23: every cookie-less call that
/// reached a session wrote a 24 h record, in Redis too).
#[tokio::test]
async fn cookie_less_calls_that_make_nothing_store_no_session() {
    let server = start(&[]).await;
    let made_up =
        serde_json::json!({"id": "00000000-0000-4000-8000-000000000001", "rows": 1, "cols": 1, "bytes": 8});
    for _ in 0..20 {
        let answer = frame_mean(&server, &browser(), &made_up).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert!(
            answer.headers().get("set-cookie").is_none(),
            "no session for a call that made nothing"
        );
    }
    let refused = create(&server, &browser(), "0").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.headers().get("set-cookie").is_none());
    let made = create(&server, &browser(), "1000").await;
    assert_eq!(made.status(), StatusCode::OK);
    assert!(
        made.headers().get("set-cookie").is_some(),
        "a session that holds a frame is kept"
    );
    let started = browser()
        .post(server.url("/api/start_session"))
        .send()
        .await
        .expect("send");
    assert_eq!(started.status(), StatusCode::OK);
    assert!(
        started.headers().get("set-cookie").is_some(),
        "a session the page asked for is kept"
    );
}
