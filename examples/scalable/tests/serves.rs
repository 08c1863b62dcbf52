//! The example app as a user runs it: its own binary on a free loopback port, asked over
//! HTTP as its page asks. (Playwright drives the same binary in a browser.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// The running example; killed when dropped.
struct Example {
    child: Child,
    url: String,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Example {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stayput-example"))
        .env("STAYPUT_EXAMPLE_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().expect("its output");
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    stdout.read_line(&mut line).expect("its first line");
    // The rest of its output is read on, so a later line never meets a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    if line.is_empty() {
        let _ = child.wait();
        panic!("the example exited before listening (has scripts/setup installed plotly.js?)");
    }
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Example { child, url }
}

async fn call(client: &reqwest::Client, example: &Example, name: &str, args: Value) -> (u16, Value) {
    let reply = client
        .post(format!("{}/api/{name}", example.url))
        .json(&args)
        .send()
        .await
        .expect("call");
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("a reply");
    // Errors are the server function's error text; answers are JSON.
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn the_example_keeps_its_frame_on_the_server_and_reduces_each_view() {
    let example = start();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let page = client.get(&example.url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("/plotly.min.js"));

    let (status, handle) = call(&client, &example, "make_walk", json!({})).await;
    assert_eq!(status, 200, "{handle}");
    assert_eq!(handle["rows"], 1_000_000);

    // The whole series on a 600-pixel plot: at most two points a pixel column, the
    // user's plotly.rs title and trace style kept.
    let figure = |x_min: Option<f64>, x_max: Option<f64>| json!({ "handle": handle, "x_min": x_min, "x_max": x_max, "width": 600 });
    let (status, whole) = call(&client, &example, "walk_figure", figure(None, None)).await;
    assert_eq!(status, 200, "{whole}");
    let whole: Value = serde_json::from_str(whole.as_str().expect("figure JSON as text")).expect("figure");
    assert_eq!(whole["data"][0]["name"], "walk");
    assert_eq!(whole["data"][0]["line"]["color"], "#1f6feb");
    let points = |figure: &Value| {
        // y, as x may be only its start and step (x0, dx) on an evenly spaced stretch.
        let y = &figure["data"][0]["y"];
        if let Some(values) = y.as_array() {
            return values.len();
        }
        // A typed array: base64 of `dtype` items.
        let text = y["bdata"].as_str().expect("y as values or a typed array");
        let bytes = text.len() / 4 * 3 - text.bytes().rev().take_while(|&b| b == b'=').count();
        let width: usize = y["dtype"]
            .as_str()
            .and_then(|d| d[1..].parse().ok())
            .expect("dtype");
        bytes / width
    };
    let n = points(&whole);
    assert!(n > 600 && n <= 2 * 600 + 2, "{n} points for 600 pixels");

    // Another browser (no cookie) cannot use the handle.
    let stranger = reqwest::Client::new();
    let (status, refused) = call(&stranger, &example, "walk_figure", figure(None, None)).await;
    assert_eq!(status, 500, "a foreign handle answered {status}: {refused}");
    assert!(
        refused.to_string().contains("unknown"),
        "reads as unknown: {refused}"
    );
}
