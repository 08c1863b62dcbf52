//! The start-up every server test shares: the real router, on a real socket on an
//! OS-picked loopback port, with its own cache directory.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

pub(crate) mod processes;

use std::net::SocketAddr;

use app::StayputError;
use reqwest::Client;
use serde_json::Value;
use server::{Config, Stayput};

/// A running server; dropping it stops it and removes its cache directory.
pub(crate) struct Running {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The built server (its cache, for assertions).
    pub(crate) stayput: Stayput,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    /// Shuts the server down as SIGTERM does: no new connections, in-flight requests
    /// finish; [`Running::stopped`] says when they have.
    pub(crate) fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether the server has stopped.
    pub(crate) fn stopped(&self) -> bool {
        self.task.is_finished()
    }
}

impl Running {
    /// `http://<addr><path>`.
    pub(crate) fn cache_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Starts a server configured by `vars` (`STAYPUT_*` settings; the cache directory is a
/// fresh temporary one unless `vars` names one).
pub(crate) async fn start(vars: &[(&str, &str)]) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_text = dir.path().display().to_string();
    let config = Config::from_lookup(|key| {
        vars.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| (key == "STAYPUT_CACHE_DIR").then(|| dir_text.clone()))
    })
    .expect("config");
    let stayput = server::build(&config).expect("build");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = stayput.router.clone();
    let limits = config.serve;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve::serve(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stayput,
        _dir: dir,
        task,
        stop: Some(stop),
    }
}

/// A browser: its own cookie jar, hence its own session.
pub(crate) fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        // Under the server's 10 s keep-alive (its header timeout): never reuse a
        // connection the server is closing.
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("client")
}

/// Step 1 as the browser calls it.
pub(crate) async fn create(server: &Running, client: &Client, rows: &str) -> reqwest::Response {
    client
        .post(server.url("/api/create_frame"))
        .form(&[("rows", rows)])
        .send()
        .await
        .expect("send")
}

/// Step 2 as the browser calls it.
pub(crate) async fn frame_mean(server: &Running, client: &Client, handle: &Value) -> reqwest::Response {
    let field = |name: &str| handle[name].to_string().trim_matches('"').to_owned();
    client
        .post(server.url("/api/frame_mean"))
        .form(&[
            ("handle[id]", field("id")),
            ("handle[rows]", field("rows")),
            ("handle[bytes]", field("bytes")),
        ])
        .send()
        .await
        .expect("send")
}

pub(crate) async fn error_of(response: reqwest::Response) -> StayputError {
    assert!(
        !response.status().is_success(),
        "expected an error, got {}",
        response.status()
    );
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("error body {text:?} is not a StayputError: {e}"))
}

/// A server the tests talk to: one in this process ([`Running`]) or a process of its own
/// ([`processes::Instance`]).
pub(crate) trait Site {
    /// `http://<its address><path>`.
    fn url(&self, path: &str) -> String;
}

impl Site for Running {
    fn url(&self, path: &str) -> String {
        Running::url(self, path)
    }
}

impl Site for processes::Instance {
    fn url(&self, path: &str) -> String {
        processes::Instance::url(self, path)
    }
}

/// The server function `name` called as the browser calls it, with form fields.
pub(crate) async fn form(
    site: &impl Site,
    client: &Client,
    name: &str,
    fields: &[(&str, String)],
) -> reqwest::Response {
    client
        .post(site.url(&format!("/api/{name}")))
        .form(fields)
        .send()
        .await
        .expect("send")
}

/// The server function `name` called with JSON arguments (as `/data`'s steps are).
pub(crate) async fn call(site: &impl Site, client: &Client, name: &str, args: Value) -> reqwest::Response {
    client
        .post(site.url(&format!("/api/{name}")))
        .json(&args)
        .send()
        .await
        .expect("send")
}

/// `/data`'s upload of `body` as the file `name`, as the page sends it.
pub(crate) async fn upload(
    site: &impl Site,
    client: &Client,
    name: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client
        .post(site.url(&format!("{}?name={name}", app::contract::data::UPLOAD_PATH)))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("send")
}

/// A handle as a server function's form arguments.
pub(crate) fn handle_fields(handle: &Value) -> Vec<(&'static str, String)> {
    let field = |name: &str| handle[name].to_string().trim_matches('"').to_owned();
    vec![
        ("handle[id]", field("id")),
        ("handle[rows]", field("rows")),
        ("handle[cols]", field("cols")),
        ("handle[bytes]", field("bytes")),
    ]
}

/// The sum of the first trace's `y` (a histogram's or bars' counts).
pub(crate) fn counted(reply: &serde_json::Value) -> u64 {
    let figure: serde_json::Value =
        serde_json::from_str(reply["figure"].as_str().expect("figure")).expect("json");
    figure["data"][0]["y"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_u64)
        .sum()
}
