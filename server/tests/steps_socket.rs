//! The benchmark's steps over the WebSocket `/api/bench_steps`, on the real router and
//! a real socket: the session comes from the upgrade's cookie, every step gets a reply
//! in order, a failed step leaves the socket open, and another session's handle reads
//! as unknown, exactly as over HTTP.

use app::api::{Step, StepReply};
use app::StayputError;
use futures::{SinkExt, StreamExt};
use stayput_cache::FrameHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start() -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<()>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().display().to_string();
    let config = server::Config::from_lookup(|key| (key == "STAYPUT_CACHE_DIR").then(|| path.clone()))
        .expect("config");
    let stayput = server::build(&config).expect("build");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _keep = stayput.purger;
        axum::serve(listener, stayput.router).await.expect("serve");
    });
    (addr, task, dir)
}

/// Opens the steps socket, with `cookie` if given; returns it and the session cookie.
async fn open(addr: std::net::SocketAddr, cookie: Option<&str>) -> (Socket, Option<String>) {
    let mut request = format!("ws://{addr}/api/bench_steps")
        .into_client_request()
        .expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("header"));
    }
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    let set = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (socket, set)
}

/// Sends `step` (tag byte 0, then JSON, as the server function client does) and reads
/// its reply.
async fn call(socket: &mut Socket, step: &Step) -> Result<StepReply, StayputError> {
    let mut bytes = vec![0_u8];
    bytes.extend(serde_json::to_vec(step).expect("json"));
    socket.send(Message::binary(bytes)).await.expect("send");
    loop {
        let message = socket.next().await.expect("a reply").expect("read");
        let data = match message {
            Message::Binary(data) => data.to_vec(),
            Message::Text(text) => text.as_bytes().to_vec(),
            _ => continue,
        };
        let (tag, body) = data.split_first().expect("tagged");
        return if *tag == 0 {
            Ok(serde_json::from_slice(body).expect("a StepReply"))
        } else {
            Err(serde_json::from_slice(body).expect("a StayputError"))
        };
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
    let (addr, task, _dir) = start().await;
    let (mut alice, cookie) = open(addr, None).await;
    let cookie = cookie.expect("a new session gets its cookie on the upgrade");

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
    let (mut again, _) = open(addr, Some(&cookie)).await;
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
    let (mut mallory, _) = open(addr, None).await;
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
    task.abort();
}
