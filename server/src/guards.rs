//! Middleware that keeps requests honest: a deadline for each, JSON for every refusal,
//! same-site only for anything that changes state. (Server functions set their own
//! status: `app::server::errors::answered`.)

use app::server::errors::error_response;
use app::StayputError;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Answers 503 [`StayputError::TimedOut`] when a request runs past `limit`, dropping its
/// work: fills and reductions stop at their next chunk (they watch for their request
/// going away), and their reservations and slots come back.
///
/// `/data`'s upload is exempt: a 2 GB file on a slow link takes longer than any request
/// should, and it is held to account otherwise (`STAYPUT_BODY_TIMEOUT` between chunks,
/// `STAYPUT_UPLOAD_MAX`, disk reserved as bytes arrive, a heavy slot only once the body
/// is complete; a large CSV parsed while it arrives takes one of two places server-wide
/// instead, see `stayput_data`'s `stream_parse`).
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    if request.uri().path() == app::contract::data::UPLOAD_PATH {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(StayputError::TimedOut(limit.as_secs())),
    }
}

/// The body limit answers 413 in plain text; the pages read errors as JSON. This gives
/// them the same JSON error as every other refusal.
pub async fn too_large_as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return error_response(StayputError::BodyTooLarge("this request".into()));
    }
    response
}

/// Refuses, with 403, a request that would change state (any method but GET, HEAD and
/// OPTIONS, and every WebSocket upgrade) when the browser says it comes from another
/// site: its `Origin` names another host than the one it asked, or `Sec-Fetch-Site`
/// says `cross-site`/`same-site`. Requests with neither header come from programs, not
/// from a page a victim's browser was led to, and pass.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if changes_state(request.method(), request.headers()) && from_another_site(request.headers()) {
        return error_response(StayputError::CrossOrigin);
    }
    next.run(request).await
}

fn changes_state(method: &Method, headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    upgrade || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn from_another_site(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN) {
        // `Origin: null` (sandboxed frames, some redirects) is another site too.
        let origin_host = origin.split_once("://").map(|(_, host)| host);
        return origin_host.is_none_or(|host| Some(host) != text(header::HOST));
    }
    matches!(
        text(header::HeaderName::from_static("sec-fetch-site")),
        Some("cross-site" | "same-site")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn only_state_changes_from_another_site_are_refused() {
        let same = headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")]);
        let other_port = headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3001")]);
        let null = headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]);
        let fetch_site = headers(&[("host", "a"), ("sec-fetch-site", "cross-site")]);
        let program = headers(&[("host", "127.0.0.1:3000")]);
        assert!(!from_another_site(&same));
        assert!(from_another_site(&other_port), "another port is another origin");
        assert!(from_another_site(&null));
        assert!(from_another_site(&fetch_site));
        assert!(!from_another_site(&program));
        assert!(changes_state(&Method::POST, &program));
        assert!(!changes_state(&Method::GET, &program));
        let upgrade = headers(&[("upgrade", "websocket")]);
        assert!(changes_state(&Method::GET, &upgrade), "a socket runs steps");
    }
}
