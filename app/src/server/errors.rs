//! Library errors as the [`StayputError`] a user sees: clear words, no internal detail.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use stayput_cache::CacheError;
use stayput_figures::FigureError;

use crate::contract::StayputError;

impl From<CacheError> for StayputError {
    fn from(err: CacheError) -> Self {
        match err {
            // Expired and unknown read the same to the browser: a foreign handle must
            // not be distinguishable from one that expired.
            CacheError::Unknown | CacheError::Expired => Self::UnknownHandle,
            CacheError::TooLarge {
                needed,
                limit,
                budget,
            } => Self::TooLarge {
                needed: needed.to_string(),
                limit: limit.to_owned(),
                budget: budget.to_string(),
                setting: setting_of(limit).map(str::to_owned),
            },
            CacheError::Busy => Self::Busy { retry_after_s: 1 },
            CacheError::Storage { tier } => Self::Storage(tier.to_owned()),
            CacheError::SharedUnavailable => Self::SharedUnavailable,
            CacheError::Recompute(reason) => Self::Rebuild(reason),
            CacheError::Ingest(err) => crate::server::data::ingest_error(err),
            err @ CacheError::LineageTooLong { .. } => Self::BadSpec(err.to_string()),
            other => {
                tracing::error!(err = %other, "cache misuse");
                Self::Internal
            }
        }
    }
}

/// The `STAYPUT_*` setting that raises the cache's `limit`.
fn setting_of(limit: &str) -> Option<&'static str> {
    match limit {
        "memory budget" => Some("STAYPUT_MEMORY_BUDGET"),
        "session quota" | "session quota (part of it held on other servers)" => Some("STAYPUT_SESSION_QUOTA"),
        "disk budget" => Some("STAYPUT_DISK_BUDGET"),
        _ => None,
    }
}

impl From<FigureError> for StayputError {
    fn from(err: FigureError) -> Self {
        Self::BadSpec(err.to_string())
    }
}

/// `err` as an HTTP response: its one status ([`StayputError::status`]), its JSON (what
/// the pages decode), and `Retry-After` when a retry is the answer. Client errors are
/// logged at debug, server faults at error.
pub fn error_response(err: StayputError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    log(&err);
    let retry = match &err {
        StayputError::Busy { retry_after_s } => HeaderValue::from_str(&retry_after_s.to_string()).ok(),
        StayputError::SharedUnavailable => Some(HeaderValue::from_static("2")),
        _ => None,
    };
    let mut response = (status, Json(err)).into_response();
    if let Some(retry) = retry {
        response.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    response
}

/// Logs `err` at the level its status deserves: a bad request is not a server fault.
pub fn log(err: &StayputError) {
    if err.is_client_error() {
        tracing::debug!(%err, status = err.status(), "request refused");
    } else if matches!(
        err,
        StayputError::Busy { .. } | StayputError::TimedOut(_) | StayputError::SharedUnavailable
    ) {
        tracing::info!(%err, "request shed");
    } else {
        tracing::error!(%err, status = err.status(), "request failed");
    }
}
