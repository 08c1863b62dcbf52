//! Issue 23's crafted files sent to a real server process (one of them used to abort it,
//! two to hang it for good): each answered with its 4xx, and the process still answers
//! everything after (that they leave nothing on disk is `data/tests/crafted_files.rs`'s
//! check). And the small `/data` cases that answered 500: a column selected twice, a plot
//! of a time of day.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
#[path = "../../data/tests/files/mod.rs"]
mod crafted;
use common::processes::Instance;
use common::{browser, call, error_of, form, handle_fields, upload};

/// The server still makes and reads a frame for a new session.
async fn still_serves(server: &Instance) {
    let client = browser();
    let made = form(server, &client, "create_frame", &[("rows", "1000".to_owned())]).await;
    assert_eq!(made.status(), StatusCode::OK, "the server still serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_files_get_their_4xx_and_the_server_keeps_answering() {
    let server = Instance::start(&[("STAYPUT_MEMORY_BUDGET", "2GiB")]);
    let cases: [(&str, Vec<u8>, StatusCode, &str); 3] = [
        (
            "zeros.arrow",
            crafted::ipc_zeros_zstd(6, 1 << 27),
            StatusCode::PAYLOAD_TOO_LARGE,
            "1000× its size",
        ),
        (
            "deep.arrow",
            crafted::ipc_deep(5_000),
            StatusCode::BAD_REQUEST,
            "nested more than 64 levels",
        ),
        (
            "list.parquet",
            crafted::parquet_list(1 << 27),
            StatusCode::PAYLOAD_TOO_LARGE,
            "1000× its size",
        ),
    ];
    for (name, bytes, status, says) in cases {
        // No cookie, as the stranger sent them.
        let started = Instant::now();
        let answer = upload(&server, &browser(), name, bytes.clone()).await;
        let took = started.elapsed();
        assert_eq!(answer.status(), status, "{name}");
        let err = error_of(answer).await;
        assert!(err.to_string().contains(says), "{name}: {err}");
        eprintln!("{name} ({} bytes): {status} in {took:?}", bytes.len());
        still_serves(&server).await;
    }
    // Three at once, then once more each: no lock is left held (the hang came from a
    // refusal after the file was kept).
    let clients = [browser(), browser(), browser()];
    let sends = clients
        .iter()
        .map(|client| upload(&server, client, "list.parquet", crafted::parquet_list(1 << 27)));
    for answer in futures::future::join_all(sends).await {
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    still_serves(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_or_plot_polars_refuses_is_a_400_naming_it() {
    let server = Instance::start(&[]);
    let client = browser();
    let handle: Value = upload(
        &server,
        &client,
        "t.csv",
        b"a,t\n1,12:00:00\n2,13:30:00\n".to_vec(),
    )
    .await
    .json()
    .await
    .expect("handle");
    let twice = json!({"handle": handle, "step": {"select": ["a", "a"]}});
    let answer = call(&server, &client, "data_transform", twice).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let err = error_of(answer).await;
    assert!(err.to_string().contains("\"a\" is selected twice"), "{err}");
    // A time of day on x is a number axis (it answered 500: Time cannot become a date).
    let mut fields = handle_fields(&handle);
    fields.extend([
        ("x", "t".into()),
        ("y", "a".into()),
        ("kind", "line".into()),
        ("width", "400".into()),
    ]);
    let plot = form(&server, &client, "data_plot", &fields).await;
    assert_eq!(plot.status(), StatusCode::OK, "{:?}", plot.text().await);
}
