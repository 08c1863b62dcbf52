//! The harness: a runtime per test, clients, answers read and checked, panics seen on
//! the server's threads.

use super::*;

/// Name of the server's runtime threads (its workers and its blocking pool), so that a
/// panic there is told apart from a failing assertion on a test's thread.
pub(crate) const SERVER_THREAD: &str = "server-under-test";

/// Panics on the server's threads (or polars' pool) since the test binary started.
pub(crate) static SERVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records every panic on a server thread, then reports it as usual. Such a panic does
/// not always reach the client (a detached task, say), so every test checks this too.
pub(crate) fn watch_server_panics() {
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

pub(crate) fn assert_no_server_panic() -> Result<(), TestCaseError> {
    let panics = SERVER_PANICS.lock().map(|p| p.clone()).unwrap_or_default();
    if panics.is_empty() {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!("the server panicked: {panics:#?}")))
    }
}

/// A runtime for one test's server and client (the server on its own named threads).
pub(crate) fn runtime() -> Runtime {
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
pub(crate) fn stranger() -> Client {
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
pub(crate) fn runner(cases: u32) -> TestRunner {
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
pub(crate) fn check<'a, S: Strategy>(
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
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// The body, lossily as text.
    pub(crate) body: String,
    /// Every header value, for the echo check (a redirect's `Location` carries text too).
    pub(crate) headers: String,
}

pub(crate) async fn read(response: reqwest::Response) -> Result<Answer, TestCaseError> {
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

pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<Answer, TestCaseError> {
    let response = request.send().await.map_err(|e| {
        TestCaseError::fail(format!(
            "no answer: the server dropped the connection (a panic?): {e:?}"
        ))
    })?;
    read(response).await
}

/// 2xx or 4xx; a 3xx only for a client that asked for HTML (server_fn answers a plain
/// HTML form post with a redirect back to the page, the error in its URL).
pub(crate) fn status_ok(answer: &Answer, accept_html: bool) -> Result<(), TestCaseError> {
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

pub(crate) fn cut(text: &str, most: usize) -> String {
    text.chars().take(most).collect()
}

/// Whether `answer` repeats a run of more than `most` consecutive characters of
/// `input`. Rabin–Karp over characters: linear, so 60 KB inputs cost nothing.
pub(crate) fn echoes_more_than(input: &str, answer: &str, most: usize) -> bool {
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

pub(crate) fn no_echo(inputs: &[&str], answer: &Answer) -> Result<(), TestCaseError> {
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
