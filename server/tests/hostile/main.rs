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

#[path = "../common/mod.rs"]
mod common;
use common::{create, frame_mean, start, Running};

mod handles;
mod harness;
mod session;
mod strategies;
mod surface;
use harness::*;
use session::*;
use strategies::*;
use surface::*;

// ---------------------------------------------------------------------------------------
// Properties.

#[test]
fn the_list_covers_every_server_function() {
    let api = include_str!("../../../app/src/api.rs");
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
