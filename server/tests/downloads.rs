//! `/data`'s downloads through the real router on a real socket: a download's scratch
//! file is held in the uploads budget while it is written and streamed, and the
//! downloads in progress are capped per session.

use std::time::Duration;

use app::contract::data::DOWNLOAD_PATH;
use reqwest::StatusCode;
use serde_json::Value;

mod common;
use common::{browser, error_of, start, upload};

/// A download's scratch file counts in the uploads budget while it is written and
/// streamed (issue 23: it was invisible to the budget): within the room it streams and
/// gives its bytes back at the end; past the room it stops with a 413 naming the limit.
#[tokio::test]
async fn a_download_holds_its_scratch_bytes_in_the_disk_budget() {
    // 3 MiB: room for the first upload's text and its Arrow copy (1.9 MB + 0.65 MB),
    // then for the second's (0.4 MB of digits + its 1.6 MB copy, beside the first's
    // copy), but not for the first frame's CSV as polars writes it (~1.4 MB) beside
    // both copies (~2.3 MB).
    let server = start(&[("STAYPUT_DISK_BUDGET", "3MiB")]).await;
    let client = browser();
    let uploads = server.stayput.uploads.clone();
    let long = |i: u32| format!("{:.18}", f64::from(i) / 3.0 + 0.1);
    let wide: String = std::iter::once("a,b,c,d\n".to_owned())
        .chain((0..20_000).map(|i| format!("{},{},{},{}\n", long(i), long(i + 1), long(i + 2), long(i + 3))))
        .collect();
    let handle: Value = upload(&server, &client, "one.csv", wide.clone().into_bytes())
        .await
        .json()
        .await
        .expect("handle");
    let kept = uploads.used_bytes();
    let id = handle["id"].as_str().expect("id").to_owned();
    let download = || {
        client
            .get(server.url(&format!("{DOWNLOAD_PATH}?handle={id}&format=csv")))
            .send()
    };
    let csv = download().await.expect("send");
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.text().await.expect("text").lines().count(), 20_001);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(uploads.used_bytes(), kept, "the scratch bytes came back");
    // A second upload leaves less room than the first frame's CSV takes.
    let narrow: String = std::iter::once("x,y\n".to_owned())
        .chain((0..100_000).map(|i| format!("{},{}\n", i % 10, (i + 1) % 10)))
        .collect();
    let second = upload(&server, &client, "two.csv", narrow.into_bytes()).await;
    assert_eq!(second.status(), StatusCode::OK);
    let before = uploads.used_bytes();
    let refused = download().await.expect("send");
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err = error_of(refused).await;
    assert!(err.to_string().contains("space for uploads"), "{err}");
    assert_eq!(uploads.used_bytes(), before, "nothing of it stays counted");
}

/// Downloads in progress are capped per session (2, as uploads): a reader that never
/// finishes holds a place and its scratch bytes, not as many as it likes.
#[tokio::test]
async fn a_session_streams_at_most_two_downloads_at_once() {
    let server = start(&[]).await;
    let client = browser();
    let text: String = std::iter::once("a,b\n".to_owned())
        .chain((0..2_000_000).map(|i| format!("{i},{}\n", i * 2)))
        .collect();
    let handle: Value = upload(&server, &client, "big.csv", text.into_bytes())
        .await
        .json()
        .await
        .expect("handle");
    let id = handle["id"].as_str().expect("id").to_owned();
    let download = || {
        client
            .get(server.url(&format!("{DOWNLOAD_PATH}?handle={id}&format=csv")))
            .send()
    };
    // Headers received, bodies not read: both still streaming.
    let first = download().await.expect("send");
    let second = download().await.expect("send");
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = download().await.expect("send");
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = download().await.expect("send");
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a finished (dropped) download frees its place"
    );
    assert_eq!(again.text().await.expect("text").lines().count(), 2_000_001);
}
