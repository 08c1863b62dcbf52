//! Stayput's load and abuse campaign: real HTTP sessions against a running server on a
//! loopback address, bounded in count and time, ending by themselves.
//!
//! ```text
//! stayput-loadgen load  URL PID [SECONDS] [SESSIONS] [HEAVY] [REPORT-PREFIX]
//! stayput-loadgen abuse URL PID [REPORT-PREFIX]
//! stayput-loadgen data  URL PID [SECONDS] [SESSIONS] [REPORT-PREFIX]
//! ```
//!
//! `load`: SESSIONS independent sessions (own cookie jars) each build a 1e5-row frame,
//! read its mean and ask for its histogram figure, over and over for SECONDS, while HEAVY
//! sessions build 1e7-row frames. `abuse`: while one well-behaved session keeps working at 1e6,
//! 20 fresh sessions ask at once for the largest frame, one session floods one-row
//! frames, and a flood of cookie-less requests asks for made-up handles. `data` (module
//! [`data`]): SESSIONS sessions upload, step, page, plot and download on `/data`, beside
//! crafted files, hung-up example loads and slow senders.
//!
//! All sample the server's resident memory (`/proc/PID/status`) every second and print
//! a Markdown report; with a REPORT-PREFIX they also write `PREFIX.md` and `PREFIX.svg`
//! (RSS over time). The exit status is 1 when a well-behaved session saw an error, or
//! the server stopped answering.
//!
//! Modules: `data` (the `/data` run), `stats` (latencies and errors by kind, the
//! verdict), `report` (the RSS sampler, the Markdown report and its SVG plot).

mod data;
mod report;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;

use report::{rss_of, RssSampler};
use stats::{Stats, Verdict};

/// Rows of the well-behaved session's frames in the abuse run: the benchmark's 1e6, a
/// heavy job (1 % of a 1e8 fill) that must not queue behind the flood (issue 23).
const WELL_BEHAVED_ROWS: u64 = 1_000_000;

/// How long the 20 sessions of 1e8 keep asking.
const FLOOD: Duration = Duration::from_secs(10);

/// Longest any one request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let (Some(mode), Some(url), Some(pid)) = (arg(0), arg(1), arg(2).and_then(|p| p.parse::<u32>().ok()))
    else {
        eprintln!("usage: stayput-loadgen load|abuse URL PID [...] (see the crate docs)");
        return ExitCode::FAILURE;
    };
    if !is_loopback(url) {
        eprintln!("stayput-loadgen: {url} is not a loopback address; refusing to send load there");
        return ExitCode::FAILURE;
    }
    let verdict = match mode {
        "load" => {
            let seconds = arg(3).and_then(|s| s.parse().ok()).unwrap_or(60_u64).min(600);
            let sessions = arg(4)
                .and_then(|s| s.parse().ok())
                .unwrap_or(200_usize)
                .min(1_000);
            let heavy = arg(5).and_then(|s| s.parse().ok()).unwrap_or(3_usize).min(20);
            load(url, pid, Duration::from_secs(seconds), sessions, heavy, arg(6)).await
        }
        "abuse" => abuse(url, pid, arg(3)).await,
        "data" => {
            let seconds = arg(3).and_then(|s| s.parse().ok()).unwrap_or(60_u64).min(600);
            let sessions = arg(4).and_then(|s| s.parse().ok()).unwrap_or(50_usize).min(500);
            data::campaign(url, pid, Duration::from_secs(seconds), sessions, arg(5)).await
        }
        other => {
            eprintln!("stayput-loadgen: unknown mode {other:?}: load, abuse or data");
            return ExitCode::FAILURE;
        }
    };
    match verdict {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail(why) => {
            eprintln!("stayput-loadgen: FAILED: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Only `http://127.x.x.x`, `http://localhost` and `http://[::1]`.
fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// A browser: its own cookie jar, hence its own session.
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .timeout(REQUEST_TIMEOUT)
        // Under the server's 10 s keep-alive: never reuse a connection it is closing.
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|_| Client::new())
}

/// One server function call; `Ok(body)` on 2xx, else the status (0 when the request
/// itself failed) and the time it took either way.
async fn call(
    client: &Client,
    url: &str,
    name: &str,
    form: &[(&str, String)],
) -> (Result<Value, u16>, Duration) {
    let started = Instant::now();
    let answer = client.post(format!("{url}/api/{name}")).form(form).send().await;
    let result = match answer {
        Ok(response) if response.status().is_success() => response.json::<Value>().await.map_err(|_| 0),
        Ok(response) => Err(response.status().as_u16()),
        Err(_) => Err(0),
    };
    (result, started.elapsed())
}

fn handle_form(handle: &Value) -> Vec<(&'static str, String)> {
    let field = |name: &str| handle[name].to_string().trim_matches('"').to_owned();
    vec![
        ("handle[id]", field("id")),
        ("handle[rows]", field("rows")),
        ("handle[bytes]", field("bytes")),
    ]
}

/// One round of the benchmark as a page does it: create, mean, histogram. Records each
/// call in `stats` under `kind`.
async fn round(client: &Client, url: &str, rows: u64, stats: &Stats, kind: &str) {
    let (made, took) = call(client, url, "create_frame", &[("rows", rows.to_string())]).await;
    stats.record(kind, "create_frame", took, made.as_ref().err().copied());
    let Ok(handle) = made else { return };
    let form = handle_form(&handle);
    let (mean, took) = call(client, url, "frame_mean", &form).await;
    stats.record(kind, "frame_mean", took, mean.err());
    let (figure, took) = call(client, url, "frame_histogram", &form).await;
    stats.record(kind, "frame_histogram", took, figure.err());
}

async fn load(
    url: &str,
    pid: u32,
    length: Duration,
    sessions: usize,
    heavy: usize,
    prefix: Option<&str>,
) -> Verdict {
    let stats = Arc::new(Stats::default());
    let sampler = RssSampler::start(pid);
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for i in 0..sessions + heavy {
        let (url, stats) = (url.to_owned(), Arc::clone(&stats));
        let (rows, kind) = if i < sessions {
            (100_000, "1e5 sessions")
        } else {
            (10_000_000, "1e7 sessions")
        };
        tasks.push(tokio::spawn(async move {
            let client = browser();
            while Instant::now() < deadline {
                round(&client, &url, rows, &stats, kind).await;
            }
        }));
    }
    futures::future::join_all(tasks).await;
    let rss = sampler.stop().await;
    let title = format!(
        "load: {sessions} sessions x (1e5 create, mean, histogram) + {heavy} sessions of 1e7, {} s",
        length.as_secs()
    );
    let verdict = stats.verdict(&["1e5 sessions"]);
    let budget = report::budget_of(url).await;
    report::write(&title, &stats.table(length), &rss, budget, prefix, &verdict);
    verdict
}

async fn abuse(url: &str, pid: u32, prefix: Option<&str>) -> Verdict {
    let stats = Arc::new(Stats::default());
    let sampler = RssSampler::start(pid);
    // The well-behaved session's unloaded pace first.
    let good = browser();
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        round(&good, url, WELL_BEHAVED_ROWS, &stats, "well-behaved, unloaded").await;
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let (url, stats, done) = (url.to_owned(), Arc::clone(&stats), Arc::clone(&done));
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                round(
                    &good,
                    &url,
                    WELL_BEHAVED_ROWS,
                    &stats,
                    "well-behaved, under abuse",
                )
                .await;
            }
        })
    };
    // 20 fresh sessions ask at once for the largest frame, and again as soon as they
    // have an answer (no heed to Retry-After), for FLOOD.
    let flood_until = Instant::now() + FLOOD;
    let largest: Vec<_> = (0..20)
        .map(|_| {
            let (url, stats) = (url.to_owned(), Arc::clone(&stats));
            tokio::spawn(async move {
                let client = browser();
                loop {
                    let (made, took) =
                        call(&client, &url, "create_frame", &[("rows", "100000000".into())]).await;
                    stats.record("20 x 1e8 at once", "create_frame", took, made.err());
                    if Instant::now() >= flood_until {
                        break;
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(largest).await;
    // One session floods one-row frames, 8 at a time.
    let flooder = browser();
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (url, stats, client) = (url.to_owned(), Arc::clone(&stats), flooder.clone());
            tokio::spawn(async move {
                for _ in 0..250 {
                    let (made, took) = call(&client, &url, "create_frame", &[("rows", "1".into())]).await;
                    stats.record("one-row flood (1 session)", "create_frame", took, made.err());
                }
            })
        })
        .collect();
    futures::future::join_all(flood).await;
    // Cookie-less requests with made-up handles, 16 at a time.
    let anonymous: Vec<_> = (0..16)
        .map(|t| {
            let (url, stats) = (url.to_owned(), Arc::clone(&stats));
            tokio::spawn(async move {
                let client = Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .pool_idle_timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_else(|_| Client::new());
                for i in 0..125_u64 {
                    let made_up = serde_json::json!({
                        "id": format!("00000000-0000-4000-8000-{:012x}", t * 1_000 + i),
                        "rows": 1, "bytes": 8,
                    });
                    let (mean, took) = call(&client, &url, "frame_mean", &handle_form(&made_up)).await;
                    stats.record("cookie-less flood", "frame_mean", took, mean.err());
                }
            })
        })
        .collect();
    futures::future::join_all(anonymous).await;
    done.store(true, std::sync::atomic::Ordering::Release);
    let _ = worker.await;
    let rss = sampler.stop().await;
    let alive = rss_of(pid).is_some();
    let mut verdict = stats.verdict(&["well-behaved, unloaded", "well-behaved, under abuse"]);
    if !alive {
        verdict = Verdict::Fail("the server is gone".into());
    }
    let slowdown = stats.median_ratio("well-behaved, under abuse", "well-behaved, unloaded");
    let title = format!(
        "abuse: 20 sessions asking for 1e8 again and again for 10 s, 2,000 one-row frames from one session, 2,000 cookie-less requests; \
         well-behaved median {slowdown:.1}x its unloaded value"
    );
    let budget = report::budget_of(url).await;
    report::write(
        &title,
        &stats.table(Duration::ZERO),
        &rss,
        budget,
        prefix,
        &verdict,
    );
    verdict
}
