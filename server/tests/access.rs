//! Who may reach the server: with credentials configured every route asks for them,
//! and `/metrics` can live on an address of its own. The real router on a real socket.

use reqwest::StatusCode;

mod common;
use common::start;

#[tokio::test]
async fn with_credentials_configured_every_route_asks_for_them() {
    let token = "let-me-in";
    let digest = {
        use sha2::Digest;
        let bytes: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let server = start(&[("STAYPUT_AUTH_TOKEN_SHA256", digest.as_str())]).await;
    let client = reqwest::Client::new();
    for path in [
        "/",
        "/explore",
        "/plotly.min.js",
        "/metrics",
        "/api/start_session",
    ] {
        let anonymous = client.get(server.url(path)).send().await.expect("send");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(anonymous.headers().contains_key("www-authenticate"), "{path}");
        let wrong = client
            .get(server.url(path))
            .bearer_auth("let-me-out")
            .send()
            .await
            .expect("send");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let metrics = client
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(metrics.status(), StatusCode::OK);
    let created = client
        .post(server.url("/api/create_frame"))
        .bearer_auth(token)
        .form(&[("rows", "10")])
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address() {
    let server = start(&[("STAYPUT_METRICS_ADDR", "127.0.0.1:9")]).await;
    let on_site = reqwest::get(server.url("/metrics")).await.expect("send");
    assert_ne!(on_site.status(), StatusCode::OK, "not beside the site");
    let metrics = server.stayput.metrics.clone().expect("its own router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move { axum::serve(listener, metrics).await });
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("stayput_"), "{text}");
    task.abort();
}
