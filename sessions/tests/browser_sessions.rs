//! The wiring through a real axum server on loopback and a real HTTP client: a session is
//! stored (its cookie set) only once it holds a frame or the page asked for it, the key
//! never leaves the server, and a cookie names its own session's frames only.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::routing::{get, post};
use axum::Router;
use polars::prelude::*;
use stayput_cache::{ByteSize, CacheConfig, FrameCache, FrameId, Placement};
use stayput_sessions::{BrowserSession, FrameCacheRouter, SessionCookie};

/// Starts the server and returns its address.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

/// A cache and routes that each do one thing with the caller's session.
fn app() -> (FrameCache, Router) {
    let cache = FrameCache::builder(CacheConfig::new(ByteSize(64 << 20))).build();
    let router = Router::new()
        // Resolves the session and makes nothing.
        .route(
            "/touch",
            post(|caller: BrowserSession| async move {
                caller.key().await.map(|_| "ok").map_err(|e| e.to_string())
            }),
        )
        // Keeps the session before it holds anything (a page about to open a socket).
        .route(
            "/start",
            post(|caller: BrowserSession| async move {
                caller
                    .started_key()
                    .await
                    .map(|_| "ok")
                    .map_err(|e| e.to_string())
            }),
        )
        // Stores a frame and answers its handle, as a server function would.
        .route(
            "/make",
            post(|caller: BrowserSession| async move {
                let key = caller.key().await.map_err(|e| e.to_string())?;
                let frame = df!("x" => [1.0f64, 2.0, 3.0]).map_err(|e| e.to_string())?;
                let handle = caller
                    .cache()
                    .put(key, frame, Placement::Memory)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(handle.id.to_string())
            }),
        )
        // The caller's key, which a real app never sends: here only so that the test can
        // look for it in what the browser gets.
        .route(
            "/key",
            get(|caller: BrowserSession| async move {
                match caller.existing_key().await {
                    Ok(Some(key)) => key.uuid().to_string(),
                    _ => "none".to_owned(),
                }
            }),
        )
        // Whether the caller has a session (never starts one).
        .route(
            "/peek",
            get(|caller: BrowserSession| async move {
                match caller.existing_key().await {
                    Ok(Some(_)) => "some",
                    Ok(None) => "none",
                    Err(_) => "error",
                }
            }),
        )
        // The rows of the caller's frame `id`, or why not.
        .route(
            "/rows/{id}",
            get(|caller: BrowserSession, Path(id): Path<String>| async move {
                let Some(key) = caller.existing_key().await.map_err(|e| e.to_string())? else {
                    return Err("no session".to_owned());
                };
                let frame = caller
                    .cache()
                    .get(key, &FrameId::from(id))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(frame.height().to_string())
            }),
        )
        .with_frame_cache(cache.clone(), SessionCookie::default());
    (cache, router)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .map(|v| v.to_str().expect("ascii cookie").to_owned())
}

#[tokio::test]
async fn a_call_that_makes_nothing_stores_no_session() {
    let (_cache, router) = app();
    let addr = serve(router).await;
    let browser = client();
    let touched = browser
        .post(format!("http://{addr}/touch"))
        .send()
        .await
        .expect("touch");
    assert_eq!(touched.status(), 200);
    assert_eq!(
        set_cookie(&touched),
        None,
        "a session holding nothing sets no cookie"
    );
    let peek = browser
        .get(format!("http://{addr}/peek"))
        .send()
        .await
        .expect("peek");
    assert_eq!(peek.text().await.expect("body"), "none");
}

#[tokio::test]
async fn a_session_is_kept_once_it_holds_a_frame_and_its_key_stays_on_the_server() {
    let (cache, router) = app();
    let addr = serve(router).await;
    let browser = client();
    let made = browser
        .post(format!("http://{addr}/make"))
        .send()
        .await
        .expect("make");
    assert_eq!(made.status(), 200);
    let cookie = set_cookie(&made).expect("a session holding a frame sets its cookie");
    assert!(cookie.starts_with("stayput.sid="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let id = made.text().await.expect("body");
    let rows = browser
        .get(format!("http://{addr}/rows/{id}"))
        .send()
        .await
        .expect("rows");
    assert_eq!(rows.text().await.expect("body"), "3");

    // The cookie carries tower-sessions' id, not the cache's key.
    let totals = cache.totals();
    assert_eq!(totals.sessions, 1, "{totals:?}");
    let key = browser
        .get(format!("http://{addr}/key"))
        .send()
        .await
        .expect("key")
        .text()
        .await
        .expect("body");
    let key = uuid::Uuid::parse_str(&key).expect("the session's key");
    for form in [key.to_string(), key.simple().to_string()] {
        assert!(
            !cookie.contains(&form),
            "the key {form} is in the cookie {cookie}"
        );
        assert!(!id.contains(&form), "the key {form} is in the handle {id}");
    }

    // Another browser, with its own cookie, reads the handle as unknown.
    let stranger = client();
    let mine = stranger
        .post(format!("http://{addr}/make"))
        .send()
        .await
        .expect("make");
    assert_eq!(mine.status(), 200);
    let theirs = stranger
        .get(format!("http://{addr}/rows/{id}"))
        .send()
        .await
        .expect("rows");
    let text = theirs.text().await.expect("body");
    assert_ne!(text, "3");
    assert!(
        text.contains("unknown"),
        "a foreign handle reads as unknown: {text}"
    );
}

#[tokio::test]
async fn a_started_session_is_kept_before_it_holds_anything() {
    let (_cache, router) = app();
    let addr = serve(router).await;
    let browser = client();
    let started = browser
        .post(format!("http://{addr}/start"))
        .send()
        .await
        .expect("start");
    assert_eq!(started.status(), 200);
    assert!(
        set_cookie(&started).is_some(),
        "a started session sets its cookie"
    );
    let peek = browser
        .get(format!("http://{addr}/peek"))
        .send()
        .await
        .expect("peek");
    assert_eq!(peek.text().await.expect("body"), "some");
    // A cookie that names no session is no session: its holder starts a new one, under
    // an id of the server's choosing, never the one it made up.
    let made_up = "stayput.sid=AAAAAAAAAAAAAAAAAAAAAA";
    let forged = reqwest::Client::new()
        .get(format!("http://{addr}/peek"))
        .header(reqwest::header::COOKIE, made_up)
        .send()
        .await
        .expect("peek");
    assert_eq!(forged.text().await.expect("body"), "none");
    let made = reqwest::Client::new()
        .post(format!("http://{addr}/make"))
        .header(reqwest::header::COOKIE, made_up)
        .send()
        .await
        .expect("make");
    assert_eq!(made.status(), 200);
    let issued = set_cookie(&made).expect("a new session's cookie");
    assert!(issued.starts_with("stayput.sid="), "{issued}");
    assert!(
        !issued.starts_with(made_up),
        "the made-up id was adopted: {issued}"
    );
}

#[tokio::test]
async fn a_router_not_wired_answers_500_not_a_panic() {
    let router = Router::new().route("/peek", get(|_caller: BrowserSession| async { "reached" }));
    let addr = serve(router).await;
    let answer = reqwest::get(format!("http://{addr}/peek")).await.expect("peek");
    assert_eq!(answer.status(), 500);
    assert_eq!(
        answer.text().await.expect("body"),
        "the server is not wired for the frame cache"
    );
}
