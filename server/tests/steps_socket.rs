//! The benchmark's steps over the WebSocket `/api/steps`, on the real router and a real
//! socket: the session comes from the upgrade's cookie (a socket without one is
//! refused), every step gets a reply in order, a failed step leaves the socket open,
//! another session's handle reads as unknown, exactly as over HTTP; and the socket's
//! limits: message size, sockets per session, malformed steps.

use app::contract::benchmark::{Step, StepReply};
use app::StayputError;
use futures::{SinkExt, StreamExt};
use stayput_cache::FrameHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

mod common;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A new browser session: `start_session` over HTTP, as the page does; its cookie.
async fn new_session(addr: std::net::SocketAddr) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/start_session"))
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success(), "{}", response.status());
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .expect("a session cookie")
}

/// Opens the steps socket with `cookie`, if any.
async fn open(addr: std::net::SocketAddr, cookie: Option<&str>) -> Result<Socket, String> {
    let mut request = format!("ws://{addr}/api/steps")
        .into_client_request()
        .expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
        .map_err(|err| err.to_string())
}

/// Sends `step` as JSON text, as the page does, and reads its reply.
async fn call(socket: &mut Socket, step: &Step) -> Result<StepReply, StayputError> {
    let text = serde_json::to_string(step).expect("json");
    send_text(socket, text).await.expect("an answer")
}

/// Sends `text` and reads the answer; `None` when the server closed the socket.
async fn send_text(socket: &mut Socket, text: String) -> Option<Result<StepReply, StayputError>> {
    socket.send(Message::text(text)).await.ok()?;
    loop {
        match socket.next().await? {
            Ok(Message::Text(reply)) => return Some(serde_json::from_str(reply.as_str()).expect("a Result")),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

fn created(reply: Result<StepReply, StayputError>) -> FrameHandle {
    match reply {
        Ok(StepReply::Created(handle)) => handle,
        other => panic!("expected a handle, got {other:?}"),
    }
}

#[tokio::test]
async fn steps_on_the_socket_belong_to_the_upgrades_session() {
    let server = common::start(&[]).await;
    let addr = server.addr;
    // Without the page's session cookie the socket is refused (the page then uses
    // HTTP): a socket must never run steps in a session of its own.
    assert!(open(addr, None).await.is_err(), "a cookie-less socket is refused");

    let cookie = new_session(addr).await;
    let mut alice = open(addr, Some(&cookie)).await.expect("upgrade");
    let first = created(
        call(
            &mut alice,
            &Step::Create {
                rows: 1_000,
                replaces: None,
            },
        )
        .await,
    );
    assert_eq!((first.rows, first.bytes), (1_000, 8_000));
    let mean = call(
        &mut alice,
        &Step::Mean {
            handle: first.clone(),
        },
    )
    .await;
    assert!(
        matches!(mean, Ok(StepReply::Mean(m)) if (m.mean - 0.5).abs() < 0.05),
        "{mean:?}"
    );

    // A failed step is answered with its error, and the socket stays open.
    let refused = call(
        &mut alice,
        &Step::Create {
            rows: 0,
            replaces: None,
        },
    )
    .await;
    assert_eq!(refused, Err(StayputError::InvalidSize("0".into())));
    let second = created(
        call(
            &mut alice,
            &Step::Create {
                rows: 10,
                replaces: Some(first.clone()),
            },
        )
        .await,
    );

    // The same session on a second socket (the cookie) sees both frames; the released
    // one is rebuilt from its lineage, with the same numbers.
    let mut again = open(addr, Some(&cookie)).await.expect("upgrade");
    assert_eq!(
        call(
            &mut again,
            &Step::Mean {
                handle: first.clone()
            }
        )
        .await,
        mean
    );
    assert!(call(&mut again, &Step::Mean { handle: second }).await.is_ok());

    // Another session has the handle but not the cookie: unknown, like a made-up id.
    let mallory_cookie = new_session(addr).await;
    let mut mallory = open(addr, Some(&mallory_cookie)).await.expect("upgrade");
    let foreign = call(
        &mut mallory,
        &Step::Mean {
            handle: first.clone(),
        },
    )
    .await;
    let mut made_up = first;
    made_up.id = "7d444840-9dc0-41a6-a1f3-2a5f3c1e6b6e".into();
    let unknown = call(&mut mallory, &Step::Mean { handle: made_up }).await;
    assert_eq!(foreign, Err(StayputError::UnknownHandle));
    assert_eq!(foreign, unknown);
    drop(server);
}

/// `/explore`'s figure request on the socket: the same figure as `explore_figure` over
/// HTTP in the same session, a zoom re-reduced to its range, a bad column a clear error
/// that leaves the socket open, another session's handle unknown.
#[tokio::test]
async fn figure_requests_on_the_socket_answer_as_over_http() {
    let server = common::start(&[]).await;
    let addr = server.addr;
    let cookie = new_session(addr).await;
    let mut alice = open(addr, Some(&cookie)).await.expect("upgrade");
    let frame = created(
        call(
            &mut alice,
            &Step::Create {
                rows: 100_000,
                replaces: None,
            },
        )
        .await,
    );
    let figure = |handle: FrameHandle, y: &str, range: (Option<f64>, Option<f64>)| Step::Figure {
        handle,
        x: "row".into(),
        y: y.into(),
        kind: app::contract::figure::ChartKind::Line,
        x_min: range.0,
        x_max: range.1,
        width: 800,
    };
    let on_socket = match call(&mut alice, &figure(frame.clone(), "rnd", (None, None))).await {
        Ok(StepReply::Figure(reply)) => reply,
        other => panic!("expected a figure, got {other:?}"),
    };
    assert_eq!((on_socket.rows_in_range, on_socket.points), (100_000, 1_600));

    // The same request over HTTP, with the same cookie: the same figure.
    let mut fields = common::handle_fields(&serde_json::to_value(&frame).expect("json"));
    for (name, value) in [("x", "row"), ("y", "rnd"), ("kind", "line"), ("width", "800")] {
        fields.push((name, value.to_owned()));
    }
    let over_http: app::contract::figure::FigureReply = reqwest::Client::new()
        .post(format!("http://{addr}/api/explore_figure"))
        .header("cookie", &cookie)
        .form(&fields)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("a figure");
    assert_eq!(on_socket, over_http);

    // A zoom: 1 % of the rows, drawn exactly.
    match call(
        &mut alice,
        &figure(frame.clone(), "rnd", (Some(50_000.0), Some(50_999.0))),
    )
    .await
    {
        Ok(StepReply::Figure(zoom)) => assert_eq!(zoom.rows_in_range, 1_000),
        other => panic!("expected a figure, got {other:?}"),
    }
    // A column the frame does not have: its error, and the socket still answers.
    let bad = call(&mut alice, &figure(frame.clone(), "nope", (None, None))).await;
    assert!(matches!(bad, Err(StayputError::BadSpec(_))), "{bad:?}");
    assert!(matches!(
        call(&mut alice, &figure(frame.clone(), "rnd", (None, None))).await,
        Ok(StepReply::Figure(_))
    ));

    // Another session: the handle reads as unknown.
    let mallory_cookie = new_session(addr).await;
    let mut mallory = open(addr, Some(&mallory_cookie)).await.expect("upgrade");
    assert_eq!(
        call(&mut mallory, &figure(frame, "rnd", (None, None))).await,
        Err(StayputError::UnknownHandle)
    );
    drop(server);
}

#[tokio::test]
async fn the_socket_holds_its_limits() {
    let server = common::start(&[("STAYPUT_SOCKETS_PER_SESSION", "2")]).await;
    let addr = server.addr;
    let cookie = new_session(addr).await;
    let mut first = open(addr, Some(&cookie)).await.expect("upgrade");
    let second = open(addr, Some(&cookie)).await.expect("upgrade");
    let third = open(addr, Some(&cookie)).await;
    assert!(
        third.as_ref().is_err_and(|e| e.contains("429")),
        "a session holds at most 2 sockets: {:?}",
        third.err()
    );
    // Another session is not affected; a closed socket gives its place back.
    let other = new_session(addr).await;
    assert!(open(addr, Some(&other)).await.is_ok());
    drop(second);
    let mut back = None;
    for _ in 0..100 {
        if let Ok(socket) = open(addr, Some(&cookie)).await {
            back = Some(socket);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(back.is_some(), "the closed socket's place came back");

    // Malformed steps get a 400-class error and the socket stays open.
    let bad = send_text(&mut first, "{\"Create\":{\"rows\":\"many\"}}".into()).await;
    assert!(matches!(bad, Some(Err(StayputError::BadRequest(_)))), "{bad:?}");
    let long = send_text(&mut first, format!("\"{}\"", "x".repeat(10_000))).await;
    match long {
        Some(Err(StayputError::BadRequest(message))) => assert!(message.len() < 400, "not echoed: {message}"),
        other => panic!("{other:?}"),
    }
    assert!(call(
        &mut first,
        &Step::Create {
            rows: 10,
            replaces: None
        }
    )
    .await
    .is_ok());

    // A message over the limit closes the socket; the server carries on.
    let huge = format!("\"{}\"", "x".repeat(1 << 20));
    assert!(
        send_text(&mut first, huge).await.is_none(),
        "closed, not buffered"
    );
    let mut fresh = open(addr, Some(&other)).await.expect("upgrade");
    assert!(call(
        &mut fresh,
        &Step::Create {
            rows: 10,
            replaces: None
        }
    )
    .await
    .is_ok());
}
