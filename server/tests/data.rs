//! `/data` through the real router on a real socket: uploads streamed to disk within
//! their limits, bad files with their messages, views that carry one page of rows,
//! transforms with lineage and memoization, plots, downloads, and foreign sessions
//! (downloads held to the disk budget and capped: `downloads.rs`).

use std::time::Duration;

use app::contract::data::{DOWNLOAD_PATH, PAGE_ROWS, UPLOAD_PATH};
use app::StayputError;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

mod common;
use common::{browser, call, error_of, form, handle_fields, start, upload, Running};

/// A CSV of `rows` rows: a date, a city out of three, a temperature.
fn weather_csv(rows: usize) -> Vec<u8> {
    let mut text = String::from("date,city,temp\n");
    for i in 0..rows {
        let city = ["Oslo", "Rome", "Lima"][i % 3];
        text.push_str(&format!(
            "2020-{:02}-{:02},{city},{}\n",
            1 + (i / 28) % 12,
            1 + i % 28,
            (i % 40) as f64 / 2.0
        ));
    }
    text.into_bytes()
}

fn files_in(server: &Running) -> Vec<String> {
    std::fs::read_dir(server.cache_dir().join("uploads"))
        .expect("uploads dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn an_upload_is_looked_at_transformed_plotted_and_downloaded_a_page_at_a_time() {
    let server = start(&[]).await;
    let client = browser();
    let made = upload(&server, &client, "weather.csv", weather_csv(1000)).await;
    assert_eq!(made.status(), StatusCode::OK);
    let handle: Value = made.json().await.expect("handle");
    assert_eq!(
        (handle["rows"].as_u64(), handle["cols"].as_u64()),
        (Some(1000), Some(3))
    );

    let info: Value = form(&server, &client, "data_info", &handle_fields(&handle))
        .await
        .json()
        .await
        .expect("info");
    let columns = info["columns"].as_array().expect("columns");
    assert_eq!(columns[0]["dtype"], "date");
    assert_eq!(columns[2]["min"], "0.0");
    assert_eq!(columns[2]["max"], "19.5");

    // One page of rows, however large the frame; sorted on the server when asked.
    let mut fields = handle_fields(&handle);
    fields.push(("offset", "0".into()));
    fields.push(("sort[column]", "temp".into()));
    fields.push(("sort[descending]", "true".into()));
    let page = form(&server, &client, "data_rows", &fields).await;
    let length = page.content_length();
    let page: Value = page.json().await.expect("rows");
    assert_eq!(page["rows"].as_array().expect("rows").len() as u64, PAGE_ROWS);
    assert_eq!(page["rows"][0][2], "19.5");
    assert_eq!(page["total"], 1000);
    assert!(length.unwrap_or(0) < 8_000, "a page is small: {length:?} bytes");

    // Filter → group-by: new handles, their chain in the lineage, memoized.
    let filter =
        json!({"handle": handle, "step": {"filter": [{"column": "temp", "op": "ge", "value": "10"}]}});
    let filtered: Value = call(&server, &client, "data_transform", filter.clone())
        .await
        .json()
        .await
        .expect("filtered");
    assert_eq!(filtered["rows"], 500);
    let again: Value = call(&server, &client, "data_transform", filter)
        .await
        .json()
        .await
        .expect("again");
    assert_eq!(
        again["id"], filtered["id"],
        "the same step on the same parent is the same handle"
    );
    let group = json!({"handle": filtered, "step": {"group_by": {"keys": ["city"], "aggs": [{"column": "temp", "func": "mean"}]}}});
    let grouped: Value = call(&server, &client, "data_transform", group)
        .await
        .json()
        .await
        .expect("grouped");
    assert_eq!(
        (grouped["rows"].as_u64(), grouped["cols"].as_u64()),
        (Some(3), Some(2))
    );
    let info: Value = form(&server, &client, "data_info", &handle_fields(&grouped))
        .await
        .json()
        .await
        .expect("info");
    let labels: Vec<&str> = info["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|l| l["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        [
            "upload weather.csv",
            "filter temp ≥ 10",
            "group by city: mean(temp)"
        ]
    );
    assert_eq!(
        info["chain"][1]["handle"]["id"], filtered["id"],
        "each step can be revisited"
    );

    // A bad step is a clear 400 that names the column.
    let bad = json!({"handle": handle, "step": {"filter": [{"column": "nope", "op": "eq", "value": "1"}]}});
    let err = error_of(call(&server, &client, "data_transform", bad).await).await;
    assert!(err.to_string().contains("no column named \"nope\""), "{err}");
    let bad =
        json!({"handle": handle, "step": {"filter": [{"column": "temp", "op": "gt", "value": "warm"}]}});
    let err = error_of(call(&server, &client, "data_transform", bad).await).await;
    assert!(err.to_string().contains("not a number"), "{err}");

    // A plot of an unsorted x: sorted on the server, reduced to the pixels.
    let mut fields = handle_fields(&handle);
    fields.extend([
        ("x", "temp".into()),
        ("y", "temp".into()),
        ("kind", "scatter".into()),
        ("width", "400".into()),
    ]);
    let plot = form(&server, &client, "data_plot", &fields).await;
    assert_eq!(plot.status(), StatusCode::OK);
    let plot: Value = plot.json().await.expect("figure");
    assert_eq!(plot["rows_in_range"], 1000);

    // Downloads stream the whole frame, as asked.
    let id = filtered["id"].as_str().expect("id");
    let csv = client
        .get(server.url(&format!("{DOWNLOAD_PATH}?handle={id}&format=csv")))
        .send()
        .await
        .expect("send");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("text");
    assert_eq!(text.lines().count(), 501, "header and 500 rows");
    assert!(text.starts_with("date,city,temp\n"));
    let parquet = client
        .get(server.url(&format!("{DOWNLOAD_PATH}?handle={id}&format=parquet")))
        .send()
        .await
        .expect("send");
    assert!(parquet.bytes().await.expect("bytes").starts_with(b"PAR1"));

    // Another session sees none of it, exactly as a made-up handle.
    let stranger = browser();
    let foreign = client_status(
        &stranger,
        &server,
        &format!("{DOWNLOAD_PATH}?handle={id}&format=csv"),
    )
    .await;
    let made_up = client_status(
        &stranger,
        &server,
        &format!("{DOWNLOAD_PATH}?handle=00000000-0000-4000-8000-000000000000&format=csv"),
    )
    .await;
    assert_eq!((foreign, made_up), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    let err = error_of(form(&server, &stranger, "data_info", &handle_fields(&handle)).await).await;
    assert_eq!(err, StayputError::UnknownHandle);
}

async fn client_status(client: &Client, server: &Running, path: &str) -> StatusCode {
    client.get(server.url(path)).send().await.expect("send").status()
}

#[tokio::test]
async fn bad_files_get_their_message_and_status_and_leave_nothing_behind() {
    let server = start(&[("STAYPUT_UPLOAD_MAX", "1MiB")]).await;
    let client = browser();
    let kept: Value = upload(&server, &client, "ok.csv", b"a,b\n1,2\n".to_vec())
        .await
        .json()
        .await
        .expect("ok");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "ragged.csv",
            b"a,b\n1,2\n3,4,5\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "line 3",
        ),
        (
            "bad.csv",
            b"a,b\n1,\xff\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        ("empty.csv", Vec::new(), StatusCode::BAD_REQUEST, "empty"),
        (
            "x.csv.gz",
            vec![0x1f, 0x8b, 8, 0],
            StatusCode::BAD_REQUEST,
            "gzip file is truncated",
        ),
        (
            "x.zip",
            b"PK\x03\x04\0\0".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "zip",
        ),
        (
            "lie.parquet",
            b"a\n1\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Parquet",
        ),
        (
            "big.csv",
            vec![b'1'; 2 << 20],
            StatusCode::PAYLOAD_TOO_LARGE,
            "STAYPUT_UPLOAD_MAX",
        ),
    ];
    for (name, body, status, says) in cases {
        let answer = upload(&server, &client, name, body).await;
        assert_eq!(answer.status(), status, "{name}");
        let err = error_of(answer).await;
        assert!(err.to_string().contains(says), "{name}: {err}");
    }
    // Over the limit without a declared length: refused while streaming.
    let chunks = futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b'1'; 64 * 1024])));
    let streamed = client
        .post(server.url(&format!("{UPLOAD_PATH}?name=stream.csv")))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("send");
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Only the good upload's file is left, and it still works.
    assert_eq!(files_in(&server).len(), 1, "{:?}", files_in(&server));
    let info = form(&server, &client, "data_info", &handle_fields(&kept)).await;
    assert_eq!(info.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_upload_cut_off_halfway_leaves_nothing() {
    use tokio::io::AsyncWriteExt;
    let server = start(&[("STAYPUT_BODY_TIMEOUT", "1s")]).await;
    let client = browser();
    // A session first (uploads need one, like every handle).
    let _ = upload(&server, &client, "warm.csv", b"a\n1\n".to_vec()).await;
    let before = files_in(&server).len();
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {UPLOAD_PATH}?name=cut.csv HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&weather_csv(100)).await.expect("part");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(files_in(&server).len(), before + 1, "the part being received");
    drop(stream);
    for _ in 0..50 {
        if files_in(&server).len() == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files_in(&server).len(), before, "the cut upload's file is gone");
}

#[tokio::test]
async fn a_built_in_example_opens_from_the_examples_directory() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../public/examples");
    if !std::path::Path::new(examples)
        .join("seattle-weather.csv")
        .is_file()
    {
        panic!("run scripts/setup first: it installs the examples into public/examples");
    }
    let server = start(&[("STAYPUT_EXAMPLES_DIR", examples)]).await;
    let client = browser();
    let listed: Value = form(&server, &client, "data_examples", &[])
        .await
        .json()
        .await
        .expect("list");
    assert!(listed
        .as_array()
        .expect("list")
        .iter()
        .any(|e| e["file"] == "seattle-weather.csv"));
    let handle: Value = form(
        &server,
        &client,
        "load_example",
        &[("file", "seattle-weather.csv".into())],
    )
    .await
    .json()
    .await
    .expect("handle");
    assert_eq!(
        (handle["rows"].as_u64(), handle["cols"].as_u64()),
        (Some(1461), Some(6))
    );
    let again: Value = form(
        &server,
        &client,
        "load_example",
        &[("file", "seattle-weather.csv".into())],
    )
    .await
    .json()
    .await
    .expect("handle");
    assert_eq!(again["id"], handle["id"], "opened once per session");
    // Nothing but the listed names: never a path.
    let err = error_of(
        form(
            &server,
            &client,
            "load_example",
            &[("file", "../../etc/passwd".into())],
        )
        .await,
    )
    .await;
    assert!(matches!(err, StayputError::BadRequest(_)), "{err}");
}

#[tokio::test]
async fn an_upload_larger_than_the_session_may_hold_is_refused_before_it_is_read() {
    let server = start(&[("STAYPUT_SESSION_QUOTA", "2MiB")]).await;
    let client = browser();
    let answer = upload(&server, &client, "big.csv", weather_csv(150_000)).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err = error_of(answer).await;
    assert!(err.to_string().contains("STAYPUT_SESSION_QUOTA"), "{err}");
    assert!(files_in(&server).is_empty());
    // What fits is still taken.
    assert_eq!(
        upload(&server, &client, "small.csv", weather_csv(100))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_join_is_checked_against_the_memory_its_rows_would_take() {
    let server = start(&[("STAYPUT_SESSION_QUOTA", "64MiB")]).await;
    let client = browser();
    // 3,000 rows over three cities: a self-join on city makes 3 × 1,000² = 3e6 rows.
    let handle: Value = upload(&server, &client, "w.csv", weather_csv(3_000))
        .await
        .json()
        .await
        .expect("handle");
    let join = json!({"handle": handle, "step": {"join": {"other": handle, "on": "city", "how": "inner"}}});
    let answer = call(&server, &client, "data_transform", join).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_of(answer).await.to_string().contains("join"));
    // A join that fits: the per-city means back onto every row.
    let group = json!({"handle": handle, "step": {"group_by": {"keys": ["city"], "aggs": [{"column": "temp", "func": "mean"}]}}});
    let means: Value = call(&server, &client, "data_transform", group)
        .await
        .json()
        .await
        .expect("means");
    let join = json!({"handle": handle, "step": {"join": {"other": means, "on": "city", "how": "left"}}});
    let joined = call(&server, &client, "data_transform", join).await;
    assert_eq!(joined.status(), StatusCode::OK);
    let joined: Value = joined.json().await.expect("joined");
    assert_eq!(
        (joined["rows"].as_u64(), joined["cols"].as_u64()),
        (Some(3_000), Some(4))
    );
}
