//! The `/data` campaign (issue 23): well-behaved sessions upload, step, page, plot and
//! download, while hostile clients send crafted files (the bombs), start example
//! loads and hang up after 300 ms, and drip uploads a byte a second. Bounded in time and
//! count, loopback only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::report::{self, rss_of, RssSampler};
use super::stats::{Stats, Verdict};
use super::{browser, call, handle_form};

#[path = "../../data/tests/files/mod.rs"]
mod crafted;

/// What the well-behaved sessions' rows are counted under.
const WELL_BEHAVED: &str = "well-behaved /data sessions";

/// A CSV of `rows` rows: an id, a group, two numbers.
fn csv(rows: u64, seed: u64) -> Vec<u8> {
    let mut text = String::from("id,group,x,y\n");
    for i in 0..rows {
        let x = ((i * 7919 + seed * 104_729) % 10_000) as f64 / 10_000.0;
        let group = ["a", "b", "c", "d", "e"][(i % 5) as usize];
        text.push_str(&format!("{i},{group},{x},{}\n", x * 2.0 + (i % 13) as f64));
    }
    text.into_bytes()
}

async fn upload(client: &Client, url: &str, name: &str, body: Vec<u8>) -> (Result<Value, u16>, Duration) {
    let started = Instant::now();
    let answer = client
        .post(format!("{url}/api/upload?name={name}"))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await;
    let result = match answer {
        Ok(response) if response.status().is_success() => response.json::<Value>().await.map_err(|_| 0),
        Ok(response) => Err(response.status().as_u16()),
        Err(_) => Err(0),
    };
    (result, started.elapsed())
}

/// One well-behaved round: upload, filter, a page of rows, a plot, a download.
async fn round(client: &Client, url: &str, seed: u64, stats: &Stats) {
    let (made, took) = upload(client, url, "mine.csv", csv(20_000, seed)).await;
    stats.record(WELL_BEHAVED, "upload", took, made.as_ref().err().copied());
    let Ok(handle) = made else { return };
    let started = Instant::now();
    let step = json!({"handle": handle, "step": {"filter": [{"column": "x", "op": "gt", "value": "0.5"}]}});
    let answer = client
        .post(format!("{url}/api/data_transform"))
        .json(&step)
        .send()
        .await;
    let filtered = match answer {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.map_err(|_| 0),
        Ok(r) => Err(r.status().as_u16()),
        Err(_) => Err(0),
    };
    stats.record(
        WELL_BEHAVED,
        "data_transform",
        started.elapsed(),
        filtered.as_ref().err().copied(),
    );
    let Ok(filtered) = filtered else { return };
    let mut page = handle_form(&filtered);
    page.push(("handle[cols]", "4".into()));
    page.push(("offset", "0".into()));
    let (rows, took) = call(client, url, "data_rows", &page).await;
    stats.record(WELL_BEHAVED, "data_rows", took, rows.err());
    let mut plot = handle_form(&filtered);
    plot.extend([
        ("handle[cols]", "4".into()),
        ("x", "x".into()),
        ("y", "y".into()),
        ("kind", "scatter".into()),
        ("width", "600".into()),
    ]);
    let (figure, took) = call(client, url, "data_plot", &plot).await;
    stats.record(WELL_BEHAVED, "data_plot", took, figure.err());
    let id = filtered["id"].as_str().unwrap_or_default();
    let started = Instant::now();
    let download = match client
        .get(format!("{url}/api/download?handle={id}&format=csv"))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.bytes().await.map(drop).map_err(|_| 0),
        Ok(r) => Err(r.status().as_u16()),
        Err(_) => Err(0),
    };
    stats.record(WELL_BEHAVED, "download", started.elapsed(), download.err());
    let (dropped, took) = call(client, url, "drop_all", &[]).await;
    stats.record(WELL_BEHAVED, "drop_all", took, dropped.err());
}

/// A raw upload that sends one byte a second until the server cuts it off (or `until`).
async fn drip(addr: &str, until: Instant) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return (Some(0), started.elapsed());
    };
    let head = format!(
        "POST /api/upload?name=drip.csv HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return (Some(0), started.elapsed());
    }
    let mut answer = vec![0u8; 512];
    while Instant::now() < until {
        if stream.write_all(b"x").await.is_err() {
            break;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut answer)).await {
            let text = String::from_utf8_lossy(&answer[..n]);
            let status = text
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            return (Some(status), started.elapsed());
        }
    }
    (None, started.elapsed())
}

/// The `/data` campaign: `sessions` well-behaved sessions for `length`, beside the
/// hostile clients; writes `PREFIX.md` / `PREFIX.svg` when given.
pub(crate) async fn campaign(
    url: &str,
    pid: u32,
    length: Duration,
    sessions: usize,
    prefix: Option<&str>,
) -> Verdict {
    let stats = Arc::new(Stats::default());
    let sampler = RssSampler::start(pid);
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for i in 0..sessions {
        let (url, stats) = (url.to_owned(), Arc::clone(&stats));
        tasks.push(tokio::spawn(async move {
            let client = browser();
            let mut seed = i as u64;
            while Instant::now() < deadline {
                round(&client, &url, seed, &stats).await;
                seed += sessions as u64;
            }
        }));
    }
    // The crafted files, sent again and again by cookie-less clients.
    let bombs: Arc<Vec<(&str, Vec<u8>)>> = Arc::new(vec![
        ("zeros.arrow", crafted::ipc_zeros_zstd(6, 1 << 27)),
        ("deep.arrow", crafted::ipc_deep(5_000)),
        ("list.parquet", crafted::parquet_list(1 << 27)),
    ]);
    for _ in 0..2 {
        let (url, stats, bombs) = (url.to_owned(), Arc::clone(&stats), Arc::clone(&bombs));
        tasks.push(tokio::spawn(async move {
            let client = Client::new();
            let mut i = 0usize;
            while Instant::now() < deadline {
                let (name, bytes) = &bombs[i % bombs.len()];
                let (answer, took) = upload(&client, &url, name, bytes.clone()).await;
                stats.record("crafted files (bombs)", "upload", took, answer.err());
                i += 1;
            }
        }));
    }
    // Example loads whose client hangs up after 300 ms, each from a fresh session.
    for _ in 0..4 {
        let (url, stats) = (url.to_owned(), Arc::clone(&stats));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let client = Client::builder()
                    .cookie_store(true)
                    .timeout(Duration::from_millis(300))
                    .build()
                    .unwrap_or_else(|_| Client::new());
                let (answer, took) = call(
                    &client,
                    &url,
                    "load_example",
                    &[("file", "flights-3m.parquet".into())],
                )
                .await;
                stats.record("hung-up example loads", "load_example", took, answer.err());
            }
        }));
    }
    // Slow senders: a byte a second, each replaced when the server cuts it off.
    let addr = url.trim_start_matches("http://").to_owned();
    for _ in 0..8 {
        let (addr, stats) = (addr.clone(), Arc::clone(&stats));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let (status, took) = drip(&addr, deadline).await;
                stats.record("slow senders (1 byte/s)", "upload", took, status);
            }
        }));
    }
    futures::future::join_all(tasks).await;
    let rss = sampler.stop().await;
    let mut verdict = stats.verdict(&[WELL_BEHAVED]);
    if rss_of(pid).is_none() {
        verdict = Verdict::Fail("the server is gone".into());
    }
    let title = format!(
        "/data: {sessions} sessions x (upload 20,000-row CSV, filter, page, plot, download, drop) for {} s, \
         beside crafted files, hung-up example loads and slow senders",
        length.as_secs()
    );
    let budget = report::budget_of(url).await;
    report::write(&title, &stats.table(length), &rss, budget, prefix, &verdict);
    verdict
}
