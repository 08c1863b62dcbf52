//! Hostile input against the real router on a real loopback socket, property-tested.
//!
//! - Every server function's arguments, decoded from whatever a stranger sends
//!   (malformed forms, wrong types, huge numbers, NaN, unicode, nested brackets, random
//!   bytes under any content type, any method): a 2xx or a 4xx, never a 5xx, never a
//!   dropped connection or a panic, the server still serving the next normal request,
//!   and no answer repeating more than `MAX_ECHO` characters of the input.
//! - A 10 MB body on every route: 413 (or 400 when it arrives chunked), never a 5xx.
//! - 10,000 random handles, and every handle of session A tried from session B: each
//!   answers exactly like one made-up handle (status and bytes of the body), and in the
//!   same time within noise.
//!
//! Case counts are bounded (`PROPTEST_CASES` overrides them); everything is loopback.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use app::contract::error::MAX_ECHO;
use futures::StreamExt;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

mod common;
use common::{create, frame_mean, start, Running};

// ---------------------------------------------------------------------------------------
// The surface under test.

/// A server function's endpoint (`/api/<name>`) and its form fields as the browser
/// sends them (struct arguments as `arg[field]`).
#[derive(Debug)]
struct Endpoint {
    name: &'static str,
    fields: &'static [&'static str],
}

/// A `FrameHandle` argument named `handle`.
const HANDLE: &[&str] = &["handle[id]", "handle[rows]", "handle[cols]", "handle[bytes]"];

/// Every HTTP server function of `app/src/api.rs` (the WebSocket `bench_steps` is
/// tested in `steps_socket.rs`). `the_list_covers_every_server_function` keeps it whole.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: "create_frame",
        fields: &[
            "rows",
            "replaces[id]",
            "replaces[rows]",
            "replaces[cols]",
            "replaces[bytes]",
        ],
    },
    Endpoint {
        name: "start_session",
        fields: &[],
    },
    Endpoint {
        name: "frame_mean",
        fields: HANDLE,
    },
    Endpoint {
        name: "frame_histogram",
        fields: HANDLE,
    },
    Endpoint {
        name: "cache_view",
        fields: &[],
    },
    Endpoint {
        name: "drop_frame",
        fields: &["id"],
    },
    Endpoint {
        name: "drop_all",
        fields: &[],
    },
    Endpoint {
        name: "explore_limits",
        fields: &[],
    },
    Endpoint {
        name: "make_series",
        fields: &["rows"],
    },
    Endpoint {
        name: "frame_columns",
        fields: HANDLE,
    },
    Endpoint {
        name: "explore_figure",
        fields: &[
            "handle[id]",
            "handle[rows]",
            "handle[cols]",
            "handle[bytes]",
            "x",
            "y",
            "kind",
            "x_min",
            "x_max",
            "width",
        ],
    },
    Endpoint {
        name: "explore_make",
        fields: &[
            "kind",
            "rows",
            "replaces[id]",
            "replaces[rows]",
            "replaces[cols]",
            "replaces[bytes]",
            "chart",
            "width",
        ],
    },
    Endpoint {
        name: "data_examples",
        fields: &[],
    },
    Endpoint {
        name: "load_example",
        fields: &["file"],
    },
    Endpoint {
        name: "data_info",
        fields: HANDLE,
    },
    Endpoint {
        name: "data_rows",
        fields: &[
            "handle[id]",
            "handle[rows]",
            "handle[cols]",
            "handle[bytes]",
            "offset",
            "sort[column]",
            "sort[descending]",
        ],
    },
    // JSON input: a form is refused as unreadable, whatever its fields.
    Endpoint {
        name: "data_transform",
        fields: &["handle[id]", "step"],
    },
    // JSON input, like data_transform.
    Endpoint {
        name: "linked_figures",
        fields: &["handle[id]", "figures", "selections"],
    },
    Endpoint {
        name: "data_plot",
        fields: &[
            "handle[id]",
            "handle[rows]",
            "handle[cols]",
            "handle[bytes]",
            "x",
            "y",
            "kind",
            "x_min",
            "x_max",
            "width",
        ],
    },
];

/// Every field of every endpoint, for keys sent to the wrong endpoint.
fn all_fields() -> Vec<&'static str> {
    let mut fields: Vec<_> = ENDPOINTS.iter().flat_map(|e| e.fields.iter().copied()).collect();
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// Small budgets, so that a random valid row count is refused (413) before any work
/// rather than filling hundreds of megabytes in a debug build.
const LIMITS: &[(&str, &str)] = &[
    ("STAYPUT_MEMORY_BUDGET", "64MiB"),
    ("STAYPUT_SESSION_QUOTA", "8MiB"),
];

/// A handle no session holds.
const MADE_UP_ID: &str = "7d444840-9dc0-41a6-a1f3-2a5f3c1e6b6e";

// Placeholders a generated value may hold, replaced when the request is sent by the
// session's real frames (which a case may have dropped: they are re-made after it).
const FRAME: &str = "⟪frame⟫";
const SERIES: &str = "⟪series⟫";
const ROWS: &str = "⟪rows⟫";
const BYTES: &str = "⟪bytes⟫";
const COLUMNS: [&str; 4] = ["⟪col0⟫", "⟪col1⟫", "⟪col2⟫", "⟪col3⟫"];

// ---------------------------------------------------------------------------------------
// Harness: a runtime per test, clients, panics seen on the server's threads.

/// Name of the server's runtime threads (its workers and its blocking pool), so that a
/// panic there is told apart from a failing assertion on a test's thread.
const SERVER_THREAD: &str = "server-under-test";

/// Panics on the server's threads (or polars' pool) since the test binary started.
static SERVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records every panic on a server thread, then reports it as usual. Such a panic does
/// not always reach the client (a detached task, say), so every test checks this too.
fn watch_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name == SERVER_THREAD || name.contains("polars") || name.contains("rayon") {
                if let Ok(mut panics) = SERVER_PANICS.lock() {
                    panics.push(format!("thread {name}: {info}"));
                }
            }
            previous(info);
        }));
    });
}

fn assert_no_server_panic() -> Result<(), TestCaseError> {
    let panics = SERVER_PANICS.lock().map(|p| p.clone()).unwrap_or_default();
    if panics.is_empty() {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!("the server panicked: {panics:#?}")))
    }
}

/// A runtime for one test's server and client (the server on its own named threads).
fn runtime() -> Runtime {
    watch_server_panics();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A hostile browser: its own session, redirects not followed (an HTML form post is
/// answered with one), every request bounded in time.
fn stranger() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        // Never reuse a connection: the server closes one after refusing a request
        // whose body it did not read (a 405 to a PUT with 19 KB of form, say), and a next
        // request written to it as it closes fails before the server sees it
        // (`IncompleteMessage`), which says nothing about whether the server still serves.
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

/// A property runner: `cases` cases unless `PROPTEST_CASES` says otherwise, bounded
/// shrinking, no regression files written into the tree.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    })
}

/// Runs `test` over `strategy` in `rt`; a failure panics with the shrunk input.
fn check<'a, S: Strategy>(
    rt: &Runtime,
    cases: u32,
    strategy: &S,
    test: impl Fn(S::Value) -> std::pin::Pin<Box<dyn Future<Output = Result<(), TestCaseError>> + 'a>>,
) where
    S::Value: std::fmt::Debug,
{
    let result = runner(cases).run(strategy, |value| rt.block_on(test(value)));
    if let Err(err) = result {
        panic!("{err}");
    }
}

/// One answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    /// The body, lossily as text.
    body: String,
    /// Every header value, for the echo check (a redirect's `Location` carries text too).
    headers: String,
}

async fn read(response: reqwest::Response) -> Result<Answer, TestCaseError> {
    let status = response.status();
    let headers = response
        .headers()
        .values()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let body = response
        .bytes()
        .await
        .map_err(|e| TestCaseError::fail(format!("{status}: the body broke off: {e}")))?;
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        headers,
    })
}

async fn send(request: reqwest::RequestBuilder) -> Result<Answer, TestCaseError> {
    let response = request.send().await.map_err(|e| {
        TestCaseError::fail(format!(
            "no answer: the server dropped the connection (a panic?): {e:?}"
        ))
    })?;
    read(response).await
}

/// 2xx or 4xx; a 3xx only for a client that asked for HTML (server_fn answers a plain
/// HTML form post with a redirect back to the page, the error in its URL).
fn status_ok(answer: &Answer, accept_html: bool) -> Result<(), TestCaseError> {
    let status = answer.status;
    let fine = status.is_success() || status.is_client_error() || (status.is_redirection() && accept_html);
    if fine {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "status {status}, body {:?}",
            cut(&answer.body, 500)
        )))
    }
}

fn cut(text: &str, most: usize) -> String {
    text.chars().take(most).collect()
}

/// Whether `answer` repeats a run of more than `most` consecutive characters of
/// `input`. Rabin–Karp over characters: linear, so 60 KB inputs cost nothing.
fn echoes_more_than(input: &str, answer: &str, most: usize) -> bool {
    let n = most + 1;
    let input: Vec<char> = input.chars().collect();
    let answer: Vec<char> = answer.chars().collect();
    if input.len() < n || answer.len() < n {
        return false;
    }
    const BASE: u64 = 1_000_003;
    let top = (1..n).fold(1u64, |acc, _| acc.wrapping_mul(BASE));
    let hashes = |text: &[char]| {
        let mut out = Vec::with_capacity(text.len() + 1 - n);
        let mut hash = text[..n]
            .iter()
            .fold(0u64, |h, &c| h.wrapping_mul(BASE).wrapping_add(c as u64));
        out.push(hash);
        for i in n..text.len() {
            hash = hash
                .wrapping_sub((text[i - n] as u64).wrapping_mul(top))
                .wrapping_mul(BASE)
                .wrapping_add(text[i] as u64);
            out.push(hash);
        }
        out
    };
    let answer_hashes = hashes(&answer);
    let seen: HashSet<u64> = answer_hashes.iter().copied().collect();
    hashes(&input).iter().enumerate().any(|(i, h)| {
        seen.contains(h)
            && answer_hashes
                .iter()
                .enumerate()
                .any(|(j, g)| g == h && answer[j..j + n] == input[i..i + n])
    })
}

fn no_echo(inputs: &[&str], answer: &Answer) -> Result<(), TestCaseError> {
    for input in inputs {
        for (what, text) in [("body", &answer.body), ("headers", &answer.headers)] {
            if echoes_more_than(input, text, MAX_ECHO) {
                return Err(TestCaseError::fail(format!(
                    "the answer's {what} repeats more than {MAX_ECHO} characters of a \
                     {}-character input: {:?}",
                    input.chars().count(),
                    cut(text, 600)
                )));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A session with real frames, kept alive across cases.

/// The session's real frames, whose ids and columns the placeholders stand for.
#[derive(Debug, Clone)]
struct Real {
    frame: Value,
    series: Value,
    columns: Vec<String>,
}

struct Session<'a> {
    server: &'a Running,
    client: Client,
    real: Mutex<Option<Real>>,
    /// How often each status answered a case (printed: shows the cases reach past
    /// decoding, not only its refusals).
    statuses: Mutex<BTreeMap<u16, u32>>,
}

fn field(handle: &Value, name: &str) -> String {
    handle[name].to_string().trim_matches('"').to_owned()
}

fn handle_form(prefix: &str, handle: &Value) -> Vec<(String, String)> {
    ["id", "rows", "cols", "bytes"]
        .iter()
        .filter(|name| !handle[**name].is_null())
        .map(|name| (format!("{prefix}[{name}]"), field(handle, name)))
        .collect()
}

impl<'a> Session<'a> {
    fn new(server: &'a Running) -> Self {
        Self {
            server,
            client: stranger(),
            real: Mutex::new(None),
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, status: StatusCode) {
        *self
            .statuses
            .lock()
            .expect("lock")
            .entry(status.as_u16())
            .or_default() += 1;
    }

    fn statuses(&self) -> BTreeMap<u16, u32> {
        self.statuses.lock().expect("lock").clone()
    }

    fn post(&self, endpoint: &str) -> reqwest::RequestBuilder {
        self.client.post(self.server.url(&format!("/api/{endpoint}")))
    }

    fn real(&self) -> Real {
        self.real.lock().expect("lock").clone().expect("frames made")
    }

    /// The normal requests every case is followed by: the session's benchmark frame
    /// answers its mean and its series its columns, each re-made when a case dropped
    /// or replaced it. Any failure here means hostile input broke the server.
    async fn still_serves(&self) -> Result<(), TestCaseError> {
        let mut real = self.real.lock().expect("lock").clone();
        let frame_ok = match &real {
            Some(r) => frame_mean(self.server, &self.client, &r.frame).await.status() == StatusCode::OK,
            None => false,
        };
        let series_ok = match &real {
            Some(r) => {
                let answer = send(self.post("frame_columns").form(&handle_form("handle", &r.series))).await?;
                answer.status == StatusCode::OK
            }
            None => false,
        };
        if !frame_ok || !series_ok {
            let made = create(self.server, &self.client, "1000").await;
            if made.status() != StatusCode::OK {
                return Err(TestCaseError::fail(format!(
                    "a normal create_frame failed after the case: {}",
                    made.status()
                )));
            }
            let frame: Value = made
                .json()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let made = send(self.post("make_series").form(&[("rows", "1000")])).await?;
            if made.status != StatusCode::OK {
                return Err(TestCaseError::fail(format!(
                    "a normal make_series failed after the case: {made:?}"
                )));
            }
            let series: Value =
                serde_json::from_str(&made.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let columns = send(self.post("frame_columns").form(&handle_form("handle", &series))).await?;
            if columns.status != StatusCode::OK {
                return Err(TestCaseError::fail(format!(
                    "a normal frame_columns failed after the case: {columns:?}"
                )));
            }
            let columns: Vec<Value> =
                serde_json::from_str(&columns.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let columns = columns.iter().map(|c| field(c, "name")).collect();
            real = Some(Real {
                frame,
                series,
                columns,
            });
        }
        let mean = frame_mean(self.server, &self.client, &real.as_ref().expect("made").frame).await;
        if mean.status() != StatusCode::OK {
            return Err(TestCaseError::fail(format!(
                "a normal frame_mean failed after the case: {}",
                mean.status()
            )));
        }
        *self.real.lock().expect("lock") = real;
        assert_no_server_panic()
    }

    /// `text` with its placeholders replaced by this session's real frames.
    fn fill(&self, text: &str) -> String {
        if !text.contains('⟪') {
            return text.to_owned();
        }
        let real = self.real();
        let mut text = text
            .replace(FRAME, &field(&real.frame, "id"))
            .replace(SERIES, &field(&real.series, "id"))
            .replace(ROWS, &field(&real.series, "rows"))
            .replace(BYTES, &field(&real.series, "bytes"));
        for (i, placeholder) in COLUMNS.iter().enumerate() {
            text = text.replace(placeholder, real.columns.get(i).map_or("", String::as_str));
        }
        text
    }
}

// ---------------------------------------------------------------------------------------
// Strategies.

/// Values no argument expects: numbers that do not fit or are not numbers, empty,
/// JSON where a form value goes, percent-escapes, unicode, control characters, long text.
fn hostile_value() -> BoxedStrategy<String> {
    let fixed = prop::sample::select(vec![
        "",
        " ",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "18446744073709551615",
        "340282366920938463463374607431768211456",
        "-1",
        "-0",
        "0",
        "-9223372036854775809",
        "4294967296",
        "NaN",
        "nan",
        "-NaN",
        "inf",
        "-inf",
        "+inf",
        "Infinity",
        "infinity",
        "1.5",
        "0x10",
        "1_000",
        " 1",
        "1 ",
        "+1",
        "01",
        "1e3",
        "null",
        "true",
        "[]",
        "{}",
        "\"1\"",
        "%",
        "%zz",
        "%00",
        "%FF%FE",
        "&",
        "=",
        "[",
        "]",
        "\u{0}",
        "\u{feff}",
        "ü",
        "🦀",
        "\u{202e}",
        "line",
        "density",
        MADE_UP_ID,
        FRAME,
        SERIES,
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        6 => fixed,
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => "[0-9]{20,400}",
        2 => ".{0,40}",
        1 => "[\\x00-\\x7f]{0,40}",
        1 => long_text(),
    ]
    .boxed()
}

/// Text well over `MAX_ECHO` characters (up to 20,000), of characters no encoding
/// changes, so an echo of it is found as such.
fn long_text() -> BoxedStrategy<String> {
    ("[a-zA-Z0-9]{16,64}", (MAX_ECHO + 50)..20_000)
        .prop_map(|(seed, len)| seed.chars().cycle().take(len).collect())
        .boxed()
}

/// Keys: the endpoint's own fields, other endpoints' fields, bracket junk, deep
/// nesting, random text.
fn hostile_key(fields: &'static [&'static str]) -> BoxedStrategy<String> {
    let own = if fields.is_empty() {
        all_fields()
    } else {
        fields.to_vec()
    };
    let junk = prop::sample::select(vec![
        "handle",
        "handle[]",
        "handle[id][id]",
        "handle[id",
        "handle]id[",
        "handle[[id]]",
        "handle[id]]",
        "handle[0]",
        "handle[-1]",
        "handle[18446744073709551616]",
        "handle%5Bid%5D",
        "handle[id]%00",
        "[id]",
        "[]",
        "[",
        "]",
        "rows[]",
        "rows[0]",
        "rows[rows]",
        "replaces",
        "replaces[]",
        "replaces[id][]",
        "x[]",
        "kind[line]",
        "width[]",
        "a[b][c][d][e][f][g]",
        "",
    ]);
    prop_oneof![
        3 => prop::sample::select(own).prop_map(str::to_owned),
        2 => prop::sample::select(all_fields()).prop_map(str::to_owned),
        2 => junk.prop_map(str::to_owned),
        1 => (1usize..3_000).prop_map(|n| format!("handle{}", "[a]".repeat(n))),
        1 => (1usize..3_000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        2 => ".{0,16}",
    ]
    .boxed()
}

/// A plausible value for `field` (often the session's real frame or column, so that
/// decoding gets past the handle and the other arguments reach the work); `None` leaves
/// an optional field out.
fn valid_value(field: &str) -> BoxedStrategy<Option<String>> {
    let leaf = field.rsplit('[').next().unwrap_or(field).trim_end_matches(']');
    let text = |values: Vec<&'static str>| prop::sample::select(values).prop_map(str::to_owned);
    let value: BoxedStrategy<String> = match leaf {
        "rows" => prop_oneof![(1u64..=2_000).prop_map(|n| n.to_string()), Just(ROWS.to_owned()),].boxed(),
        "cols" => {
            return prop::option::weighted(0.5, (0u64..8).prop_map(|n| n.to_string())).boxed();
        }
        "bytes" => prop_oneof![
            Just(BYTES.to_owned()),
            (0u64..100_000).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        "id" => text(vec![FRAME, FRAME, SERIES, SERIES, MADE_UP_ID]).boxed(),
        "x" => text(vec![COLUMNS[0], COLUMNS[0], COLUMNS[1], "row"]).boxed(),
        "y" => text(COLUMNS.to_vec()).boxed(),
        // `kind` is a chart kind for explore_figure and a kind of data for explore_make.
        "kind" => text(vec![
            "line",
            "scatter",
            "histogram",
            "box",
            "density",
            "series",
            "uniform",
        ])
        .boxed(),
        "chart" => text(vec!["line", "scatter", "histogram", "box", "density"]).boxed(),
        "x_min" | "x_max" => {
            let bound = prop_oneof![
                any::<f64>().prop_map(|f| f.to_string()),
                (-2e12..2e12f64).prop_map(|f| f.to_string()),
                (0.0..2_000.0f64).prop_map(|f| f.to_string()),
                text(vec!["NaN", "inf", "-inf", "1e400", "-1e400", "-0", "0"]),
            ];
            return prop::option::weighted(0.5, bound).boxed();
        }
        "width" => prop_oneof![
            any::<u32>().prop_map(|n| n.to_string()),
            (0u32..4_000).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        _ => hostile_value(),
    };
    value.prop_map(Some).boxed()
}

/// A request the endpoint would serve (every field plausible, optional ones sometimes
/// absent), then up to two of its fields replaced by a hostile value or dropped, and
/// sometimes a few stray pairs: the hostile part reaches decoding with everything
/// around it right, and often gets past it into the work.
fn structured_pairs(fields: &'static [&'static str]) -> BoxedStrategy<Vec<(String, String)>> {
    let valid: Vec<_> = fields.iter().map(|&name| valid_value(name)).collect();
    let mutations = prop::collection::vec(
        (
            0..fields.len().max(1),
            prop_oneof![3 => hostile_value().prop_map(Some), 1 => Just(None)],
        ),
        0..=2,
    );
    let stray = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec((hostile_key(fields), hostile_value()), 1..3),
    ];
    // `replaces` (an optional handle) is sent whole or not at all.
    let replaces = any::<bool>();
    (valid, mutations, stray, replaces)
        .prop_map(move |(valid, mutations, stray, replaces)| {
            let mut values: Vec<Option<String>> = valid;
            for (i, value) in mutations {
                if let Some(slot) = values.get_mut(i) {
                    *slot = value;
                }
            }
            fields
                .iter()
                .zip(values)
                .filter(|(name, _)| replaces || !name.starts_with("replaces["))
                .filter_map(|(name, value)| Some(((*name).to_owned(), value?)))
                .chain(stray)
                .collect()
        })
        .boxed()
}

/// How a form case's pairs go on the wire.
#[derive(Debug, Clone)]
enum Shape {
    /// Properly form-encoded.
    Encoded(Vec<(String, String)>),
    /// `k=v&k=v` as is: `%`, `&`, `=`, `+` and brackets in them break the structure.
    Unencoded(Vec<(String, String)>),
    /// Form-ish characters at random.
    Text(String),
}

#[derive(Debug, Clone)]
struct FormCase {
    shape: Shape,
    content_type: Option<&'static str>,
    accept: Option<&'static str>,
}

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=zz",
    "application/cbor",
    "application/octet-stream",
    "garbage",
    "",
];

const ACCEPTS: &[&str] = &[
    "*/*",
    "application/json",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/plain",
    "application/cbor",
];

fn content_type() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![
        4 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(None),
        2 => prop::sample::select(CONTENT_TYPES.to_vec()).prop_map(Some),
    ]
    .boxed()
}

fn accept() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![
        3 => Just(None),
        2 => prop::sample::select(ACCEPTS.to_vec()).prop_map(Some),
    ]
    .boxed()
}

fn form_case(fields: &'static [&'static str]) -> BoxedStrategy<FormCase> {
    let shape = prop_oneof![
        4 => structured_pairs(fields).prop_map(Shape::Encoded),
        2 => prop::collection::vec((hostile_key(fields), hostile_value()), 0..8).prop_map(Shape::Encoded),
        2 => structured_pairs(fields).prop_map(Shape::Unencoded),
        1 => "[a-z_\\[\\]=&%+;0-9 .-]{0,300}".prop_map(Shape::Text),
    ];
    (shape, content_type(), accept())
        .prop_map(|(shape, content_type, accept)| FormCase {
            shape,
            content_type,
            accept,
        })
        .boxed()
}

/// A body of any bytes, under any content type, by any method, to any endpoint.
#[derive(Debug, Clone)]
struct RawCase {
    endpoint: usize,
    method: &'static str,
    content_type: Option<&'static str>,
    accept: Option<&'static str>,
    body: Vec<u8>,
}

fn raw_body() -> BoxedStrategy<Vec<u8>> {
    let json_field = (prop::sample::select(all_fields()), hostile_value())
        .prop_map(|(k, v)| serde_json::json!({ k: v }).to_string().into_bytes());
    let json_handle = (hostile_value(), hostile_value(), hostile_value()).prop_map(|(id, rows, bytes)| {
        format!(r#"{{"handle":{{"id":"{id}","rows":{rows},"bytes":{bytes}}}}}"#).into_bytes()
    });
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..4_096),
        2 => ".{0,2000}".prop_map(String::into_bytes),
        2 => json_field,
        2 => json_handle,
        1 => (1usize..20_000).prop_map(|n| "[".repeat(n).into_bytes()),
        1 => (1usize..5_000).prop_map(|n| r#"{"a":"#.repeat(n).into_bytes()),
        1 => (1usize..20_000).prop_map(|n| "a[".repeat(n).into_bytes()),
    ]
    .boxed()
}

fn raw_case() -> BoxedStrategy<RawCase> {
    let method = prop_oneof![
        6 => Just("POST"),
        1 => prop::sample::select(vec!["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    ];
    (0..ENDPOINTS.len(), method, content_type(), accept(), raw_body())
        .prop_map(|(endpoint, method, content_type, accept, body)| RawCase {
            endpoint,
            method,
            content_type,
            accept,
            body,
        })
        .boxed()
}

/// A random handle: mostly well-formed UUIDs (v4 like the server's, or any hex), and
/// garbage ids of any text; rows, bytes and columns anything.
#[derive(Debug, Clone)]
struct RandomHandle {
    id: String,
    rows: u64,
    cols: Option<u64>,
    bytes: u64,
}

fn random_handle() -> BoxedStrategy<RandomHandle> {
    let id = prop_oneof![
        6 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        1 => "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
        1 => "[0-9a-fA-F{}:urn-]{0,48}",
        1 => ".{0,80}",
        1 => "[\\x00-\\x7f]{0,300}",
    ];
    (id, any::<u64>(), prop::option::of(any::<u64>()), any::<u64>())
        .prop_map(|(id, rows, cols, bytes)| RandomHandle {
            id,
            rows,
            cols,
            bytes,
        })
        .boxed()
}

impl RandomHandle {
    fn form(&self) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("handle[id]", self.id.clone()),
            ("handle[rows]", self.rows.to_string()),
            ("handle[bytes]", self.bytes.to_string()),
        ];
        if let Some(cols) = self.cols {
            form.push(("handle[cols]", cols.to_string()));
        }
        form
    }
}

/// `count` values of `strategy`, drawn at random.
fn draw<T: std::fmt::Debug>(strategy: &BoxedStrategy<T>, count: usize) -> Vec<T> {
    let mut runner = TestRunner::default();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("value").current())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Properties.

#[test]
fn the_list_covers_every_server_function() {
    let api = include_str!("../../app/src/api.rs");
    let mut found: Vec<&str> = api
        .split("endpoint = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| *name != "bench_steps")
        .collect();
    found.sort_unstable();
    let mut listed: Vec<&str> = ENDPOINTS.iter().map(|e| e.name).collect();
    listed.sort_unstable();
    assert_eq!(
        listed, found,
        "ENDPOINTS must list every HTTP server function of api.rs"
    );
}

/// Cases of the form property for an endpoint: more for more arguments (64 for none,
/// 224 for explore_figure's ten fields).
fn form_cases(endpoint: &Endpoint) -> u32 {
    64 + 16 * endpoint.fields.len() as u32
}

#[test]
fn every_server_function_answers_hostile_forms_with_a_4xx() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    for endpoint in ENDPOINTS {
        // Each endpoint in its own session with its own real frames: drop_all and
        // drop_frame must not take the other endpoints' frames away.
        let session = Session::new(&server);
        rt.block_on(session.still_serves()).expect("first frames");
        check(&rt, form_cases(endpoint), &form_case(endpoint.fields), |case| {
            let session = &session;
            Box::pin(async move {
                let (body, texts): (String, Vec<String>) = match &case.shape {
                    Shape::Encoded(pairs) | Shape::Unencoded(pairs) => {
                        let pairs: Vec<(String, String)> = pairs
                            .iter()
                            .map(|(k, v)| (session.fill(k), session.fill(v)))
                            .collect();
                        let body = match &case.shape {
                            Shape::Encoded(_) => serde_urlencoded(&pairs),
                            _ => pairs
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join("&"),
                        };
                        let texts = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
                        (body, texts)
                    }
                    Shape::Text(text) => (text.clone(), Vec::new()),
                };
                let mut request = session.post(endpoint.name);
                if let Some(content_type) = case.content_type {
                    request = request.header("content-type", content_type);
                }
                if let Some(accept) = case.accept {
                    request = request.header("accept", accept);
                }
                let answer = send(request.body(body.clone())).await?;
                session.count(answer.status);
                let accept_html = case.accept.is_some_and(|a| a.contains("text/html"));
                status_ok(&answer, accept_html)
                    .map_err(|e| TestCaseError::fail(format!("/api/{}: {e}", endpoint.name)))?;
                let mut inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
                inputs.push(&body);
                no_echo(&inputs, &answer)?;
                session.still_serves().await
            })
        });
        eprintln!("/api/{}: statuses {:?}", endpoint.name, session.statuses());
    }
}

/// Found by the property above (and fixed): a figure error repeated the column name it
/// was given uncut. The minimal input: the session's real series, a valid y column, and
/// an x column name far longer than `MAX_ECHO`.
#[test]
fn a_figure_error_does_not_repeat_a_long_column_name() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let session = Session::new(&server);
    rt.block_on(async {
        session.still_serves().await.expect("frames");
        let real = session.real();
        let long = "x".repeat(10_000);
        let mut form = handle_form("handle", &real.series);
        form.push(("x".into(), long.clone()));
        form.push(("y".into(), real.columns[1].clone()));
        form.push(("kind".into(), "line".into()));
        form.push(("width".into(), "800".into()));
        let answer = send(session.post("explore_figure").form(&form))
            .await
            .expect("answer");
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        assert!(
            !echoes_more_than(&long, &answer.body, MAX_ECHO),
            "a {}-character answer repeats the 10,000-character column name: {:?}",
            answer.body.chars().count(),
            cut(&answer.body, 120)
        );
    });
}

/// Form-encodes `pairs` as a browser does (reqwest's own encoder, through a request
/// that is built but never sent).
fn serde_urlencoded(pairs: &[(String, String)]) -> String {
    let request = Client::new()
        .post("http://127.0.0.1/")
        .form(pairs)
        .build()
        .expect("form");
    let bytes = request.body().and_then(|b| b.as_bytes()).unwrap_or_default();
    String::from_utf8(bytes.to_vec()).expect("form-encoding is ASCII")
}

const RAW_CASES: u32 = 300;

#[test]
fn random_bodies_of_any_type_by_any_method_get_a_4xx() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let session = Session::new(&server);
    rt.block_on(session.still_serves()).expect("first frames");
    check(&rt, RAW_CASES, &raw_case(), |case| {
        let session = &session;
        Box::pin(async move {
            let endpoint = &ENDPOINTS[case.endpoint];
            let method = Method::from_bytes(case.method.as_bytes()).expect("method");
            let mut request = session
                .client
                .request(method, session.server.url(&format!("/api/{}", endpoint.name)));
            if let Some(content_type) = case.content_type {
                request = request.header("content-type", content_type);
            }
            if let Some(accept) = case.accept {
                request = request.header("accept", accept);
            }
            let answer = send(request.body(case.body.clone())).await?;
            session.count(answer.status);
            let accept_html = case.accept.is_some_and(|a| a.contains("text/html"));
            status_ok(&answer, accept_html)
                .map_err(|e| TestCaseError::fail(format!("{} /api/{}: {e}", case.method, endpoint.name)))?;
            no_echo(&[&String::from_utf8_lossy(&case.body)], &answer)?;
            session.still_serves().await
        })
    });
    eprintln!("random bodies: statuses {:?}", session.statuses());
}

/// Sends `head` then `body` on a raw socket, reading the answer at the same time (the
/// server may answer and close before the body is all sent); returns the status line's
/// code and what was read of the answer.
async fn raw_exchange(server: &Running, head: String, body: Vec<u8>) -> (Option<u16>, String) {
    let stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let write = async move {
        // The server may stop reading once it has refused the body: errors are expected.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            for chunk in body.chunks(64 * 1024) {
                if writer.write_all(chunk).await.is_err() {
                    break;
                }
            }
        }
        let _ = writer.shutdown().await;
    };
    let read = async move {
        let mut answer = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        // Until the head and some body are in, or the server closes.
        while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buffer)).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((_, rest)) = text.split_once("\r\n\r\n") {
                if !rest.is_empty() {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    };
    let ((), answer) = tokio::join!(
        async {
            let _ = tokio::time::timeout(Duration::from_secs(20), write).await;
        },
        read
    );
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, answer)
}

#[test]
fn a_ten_megabyte_body_is_refused_on_every_route() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let client = stranger();
    rt.block_on(async {
        let ten_mb = format!("rows={}", "9".repeat(10 << 20));
        for endpoint in ENDPOINTS {
            // Declared up front (Content-Length): refused before it is read.
            let head = format!(
                "POST /api/{} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                 content-length: {}\r\n\r\n",
                endpoint.name,
                server.addr,
                ten_mb.len()
            );
            let (status, answer) = raw_exchange(&server, head, ten_mb.clone().into_bytes()).await;
            assert_eq!(
                status,
                Some(413),
                "/api/{}, Content-Length: {}",
                endpoint.name,
                cut(&answer, 400)
            );
            assert!(answer.len() < 2_000, "echoed: {}", cut(&answer, 400));
            // Chunked: the limit trips while reading; refused as too large or unreadable.
            let head = format!(
                "POST /api/{} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                 transfer-encoding: chunked\r\n\r\n",
                endpoint.name, server.addr
            );
            let mut body = Vec::with_capacity(ten_mb.len() + 4_096);
            for chunk in ten_mb.as_bytes().chunks(64 * 1024) {
                body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
            let (status, answer) = raw_exchange(&server, head, body).await;
            eprintln!("/api/{}: 10 MB chunked: {status:?}", endpoint.name);
            assert!(
                matches!(status, Some(413 | 400)),
                "/api/{}, chunked: {}",
                endpoint.name,
                cut(&answer, 400)
            );
            assert!(answer.len() < 2_000, "echoed: {}", cut(&answer, 400));
        }
        // And through a real client, as a page would send it.
        let answer = send(
            client
                .post(server.url("/api/create_frame"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(ten_mb.clone()),
        )
        .await;
        // The client may see the refusal, or the connection closed under its upload;
        // never a 5xx.
        if let Ok(answer) = answer {
            assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
        }
        assert_eq!(create(&server, &client, "10").await.status(), StatusCode::OK);
    });
    assert_no_server_panic().expect("no panic");
}

/// The answer to the made-up handle: status and body, byte for byte.
async fn unknown_answer(server: &Running, client: &Client) -> Answer {
    let made_up = serde_json::json!({"id": MADE_UP_ID, "rows": 1000, "bytes": 8000});
    let answer = read(frame_mean(server, client, &made_up).await)
        .await
        .expect("read");
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{answer:?}");
    answer
}

#[test]
fn ten_thousand_random_handles_answer_exactly_as_an_unknown_one() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let client = stranger();
    rt.block_on(async {
        // A session that holds real frames: random handles must not find them either.
        let mut real = Vec::new();
        for _ in 0..3 {
            let made = create(&server, &client, "1000").await;
            assert_eq!(made.status(), StatusCode::OK);
            real.push(made.json::<Value>().await.expect("handle"));
        }
        let unknown = unknown_answer(&server, &client).await;
        let handles = draw(&random_handle(), 10_000);
        let url = server.url("/api/frame_mean");
        let started = Instant::now();
        let answers: Vec<(RandomHandle, Result<Answer, TestCaseError>)> = futures::stream::iter(handles)
            .map(|handle| {
                let request = client.post(&url).form(&handle.form());
                async move { (handle, send(request).await) }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let elapsed = started.elapsed();
        let differing: Vec<String> = answers
            .iter()
            .filter(|(_, answer)| {
                !matches!(answer, Ok(a) if a.status == unknown.status && a.body == unknown.body)
            })
            .take(5)
            .map(|(handle, answer)| format!("{handle:?} -> {answer:?}"))
            .collect();
        assert!(
            differing.is_empty(),
            "answered unlike the unknown handle ({} {:?}), e.g.:\n{}",
            unknown.status,
            unknown.body,
            differing.join("\n")
        );
        eprintln!("10,000 random handles: all 404, identical body, in {elapsed:?}");
        for handle in &real {
            assert_eq!(
                frame_mean(&server, &client, handle).await.status(),
                StatusCode::OK
            );
        }
    });
    assert_no_server_panic().expect("no panic");
}

/// The median of `samples`, in microseconds.
fn median_us(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

/// `frame_mean` of `handle`, timed from sending to the body's last byte.
async fn timed(server: &Running, client: &Client, handle: &Value) -> (Duration, Answer) {
    let t0 = Instant::now();
    let answer = read(frame_mean(server, client, handle).await)
        .await
        .expect("read");
    (t0.elapsed(), answer)
}

/// Request/answer pairs timed per kind, after a warm-up.
const TIMED_PAIRS: usize = 400;
const WARM_UP_PAIRS: usize = 40;

#[test]
fn another_sessions_handles_answer_exactly_as_unknown_ones_in_status_body_and_time() {
    let rt = runtime();
    let server = rt.block_on(start(LIMITS));
    let (owner, other) = (stranger(), stranger());
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..20 {
            let made = create(&server, &owner, "1000").await;
            assert_eq!(made.status(), StatusCode::OK);
            handles.push(made.json::<Value>().await.expect("handle"));
        }
        let started = send(other.post(server.url("/api/start_session")))
            .await
            .expect("session");
        assert_eq!(started.status, StatusCode::OK);
        let unknown = unknown_answer(&server, &other).await;

        // Every handle of the owner, from the other session: exactly the unknown answer,
        // on every endpoint that takes a handle or an id; so are spellings of its id
        // that a lenient parser might take for the same UUID.
        let made_up = serde_json::json!({"id": MADE_UP_ID, "rows": 1000, "cols": 1, "bytes": 8000});
        for handle in &handles {
            let answer = read(frame_mean(&server, &other, handle).await)
                .await
                .expect("read");
            assert_eq!(
                (answer.status, &answer.body),
                (unknown.status, &unknown.body),
                "{handle}"
            );
            let id = field(handle, "id");
            for spelling in [
                id.to_uppercase(),
                format!("{{{id}}}"),
                format!("urn:uuid:{id}"),
                id.replace('-', ""),
                format!(" {id} "),
            ] {
                let mut variant = handle.clone();
                variant["id"] = Value::from(spelling.as_str());
                let answer = read(frame_mean(&server, &other, &variant).await)
                    .await
                    .expect("read");
                assert_eq!(
                    (answer.status, &answer.body),
                    (unknown.status, &unknown.body),
                    "{spelling}"
                );
            }
            for endpoint in ["frame_histogram", "frame_columns", "explore_figure", "drop_frame"] {
                let form = |h: &Value| {
                    let mut form = match endpoint {
                        "drop_frame" => vec![("id".to_owned(), field(h, "id"))],
                        _ => handle_form("handle", h),
                    };
                    if endpoint == "explore_figure" {
                        for (k, v) in [("x", "row"), ("y", "value"), ("kind", "line"), ("width", "800")] {
                            form.push((k.to_owned(), v.to_owned()));
                        }
                    }
                    form
                };
                let url = server.url(&format!("/api/{endpoint}"));
                let foreign = send(other.post(&url).form(&form(handle))).await.expect("foreign");
                let unknown_here = send(other.post(&url).form(&form(&made_up)))
                    .await
                    .expect("unknown");
                assert_eq!(
                    (foreign.status, &foreign.body),
                    (unknown_here.status, &unknown_here.body),
                    "/api/{endpoint}"
                );
                assert!(foreign.status.is_client_error() || endpoint == "drop_frame");
            }
        }
        // None of that touched the owner's frames.
        for handle in &handles {
            assert_eq!(frame_mean(&server, &owner, handle).await.status(), StatusCode::OK);
        }

        // Timing. Both kinds of request are timed alternately on the same connection
        // (which goes first alternates too), so whatever else loads this machine (other
        // tests, builds; 2 cores) falls on both alike, and medians ignore the stalls.
        // The bound is generous on purpose: loopback latency of a debug build under load
        // varies by tens of percent between runs, while a lookup that treated a foreign
        // handle differently (a second lookup, a decryption, a log line with a backtrace,
        // a rebuild attempt) would cost a multiple. So: medians differ by less than
        // 1 ms or half the larger, whichever is more.
        let fresh_ids = draw(&random_handle(), WARM_UP_PAIRS + TIMED_PAIRS);
        let (mut foreign_times, mut unknown_times) = (Vec::new(), Vec::new());
        for (i, made_up) in fresh_ids.iter().enumerate() {
            let foreign = &handles[i % handles.len()];
            let mut made_up_handle = foreign.clone();
            made_up_handle["id"] = Value::from(made_up.id.as_str());
            let ((foreign_time, foreign_answer), (unknown_time, unknown_answer)) = if i % 2 == 0 {
                let a = timed(&server, &other, foreign).await;
                (a, timed(&server, &other, &made_up_handle).await)
            } else {
                let b = timed(&server, &other, &made_up_handle).await;
                (timed(&server, &other, foreign).await, b)
            };
            assert_eq!(foreign_answer.body, unknown.body);
            assert_eq!(unknown_answer.body, unknown.body, "{made_up:?}");
            if i >= WARM_UP_PAIRS {
                foreign_times.push(foreign_time);
                unknown_times.push(unknown_time);
            }
        }
        let foreign = median_us(&mut foreign_times);
        let unknown = median_us(&mut unknown_times);
        let bound = f64::max(1_000.0, 0.5 * foreign.max(unknown));
        eprintln!(
            "median latency over {TIMED_PAIRS} each: foreign {foreign:.0} µs, made-up {unknown:.0} µs \
             (bound {bound:.0} µs)"
        );
        assert!(
            (foreign - unknown).abs() < bound,
            "a foreign handle takes {foreign:.0} µs, a made-up one {unknown:.0} µs: distinguishable"
        );
    });
    assert_no_server_panic().expect("no panic");
}
