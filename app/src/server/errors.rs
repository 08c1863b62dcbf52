//! Library errors as the [`StayputError`] a user sees: clear words, no internal detail.

use std::future::Future;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use stayput_cache::{CacheError, Limit};
use stayput_data::{IngestError, StepError, UploadLimit};
use stayput_figures::FigureError;
use stayput_sessions::SessionError;

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
                limit: limit.to_string(),
                budget: budget.to_string(),
                setting: Some(setting_of(limit).to_owned()),
            },
            CacheError::Busy => Self::Busy { retry_after_s: 1 },
            CacheError::Storage { tier } => Self::Storage(tier.to_owned()),
            CacheError::SharedUnavailable => Self::SharedUnavailable,
            // A recipe's own error keeps its status: a user's bad step stays a 400.
            CacheError::Recipe(err) => match err.downcast_ref::<StayputError>() {
                Some(own) => own.clone(),
                None => Self::Rebuild(err.to_string()),
            },
            // A rebuild that fails is the server's fault, unless the server only shed
            // it (busy, timed out, a tier down), which a retry may get past.
            CacheError::Rebuild(err) => match err.downcast_ref::<StayputError>() {
                Some(own) if !own.is_client_error() => own.clone(),
                _ => {
                    tracing::error!(%err, "rebuilding a frame from its lineage failed");
                    Self::Rebuild(err.to_string())
                }
            },
            err @ CacheError::LineageTooLong { .. } => Self::BadSpec(err.to_string()),
            other => {
                tracing::error!(err = %other, "cache misuse");
                Self::Internal
            }
        }
    }
}

/// An ingest failure as the user's message and status.
impl From<IngestError> for StayputError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::TooLarge { limit, max_bytes } => Self::TooLarge {
                needed: format!("more than {}", stayput_cache::ByteSize(max_bytes)),
                limit: limit.to_string(),
                budget: stayput_cache::ByteSize(max_bytes).to_string(),
                setting: Some(upload_setting_of(limit).to_owned()),
            },
            IngestError::Storage => Self::Storage("uploads".into()),
            IngestError::NotWired => Self::Internal,
            IngestError::Cache(err) => err.into(),
            err @ (IngestError::Expands { .. }
            | IngestError::Inflates { .. }
            | IngestError::WorkbookTooLarge { .. }
            | IngestError::UnitTooLarge { .. }
            | IngestError::TooManyRows { .. }) => Self::FileTooLarge(err.to_string()),
            err if err.is_unsupported_format() => Self::UnsupportedFile(err.to_string()),
            err => Self::BadFile(crate::contract::error::cut(err.to_string())),
        }
    }
}

/// A step the frame cannot take is the user's to fix (400); a lineage that is not a
/// chain is the server's fault (500).
impl From<StepError> for StayputError {
    fn from(err: StepError) -> Self {
        match err {
            StepError::Bad(message) => Self::BadSpec(crate::contract::error::cut(message)),
            err @ StepError::NotFromFile => Self::BadSpec(err.to_string()),
            StepError::Unreadable => Self::Internal,
            StepError::Ingest(err) => err.into(),
        }
    }
}

impl From<SessionError> for StayputError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::SharedUnavailable => Self::SharedUnavailable,
            SessionError::TooManySessions { max } => Self::TooManySessions(max),
            SessionError::Store => Self::Storage("session".to_owned()),
            SessionError::NotWired => Self::Internal,
        }
    }
}

/// The `STAYPUT_*` setting that raises `limit`.
pub(crate) fn setting_of(limit: Limit) -> &'static str {
    match limit {
        Limit::MemoryBudget => "STAYPUT_MEMORY_BUDGET",
        Limit::SessionQuota | Limit::SessionQuotaHeldElsewhere => "STAYPUT_SESSION_QUOTA",
        Limit::DiskBudget => "STAYPUT_DISK_BUDGET",
        Limit::RedisFrameMax => "STAYPUT_REDIS_FRAME_MAX",
    }
}

/// The `STAYPUT_*` setting that raises an upload's `limit`.
pub(crate) fn upload_setting_of(limit: UploadLimit) -> &'static str {
    match limit {
        UploadLimit::UploadMax => "STAYPUT_UPLOAD_MAX",
        UploadLimit::UploadsSpace => "STAYPUT_DISK_BUDGET",
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
    let retry = retry_after(&err);
    let mut response = (status, Json(err)).into_response();
    if let Some(retry) = retry {
        response.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    response
}

/// Where server functions are served (their endpoints are `/api/<name>`).
const SERVER_FN_PREFIX: &str = "/api/";

/// The `Retry-After` seconds of `err`, when a retry is the answer.
fn retry_after(err: &StayputError) -> Option<HeaderValue> {
    match err {
        StayputError::Busy { retry_after_s } => HeaderValue::from_str(&retry_after_s.to_string()).ok(),
        // The client reconnects to Redis within two seconds.
        StayputError::SharedUnavailable => Some(HeaderValue::from_static("2")),
        // Sessions end after a day idle at most; a minute is a polite first wait.
        StayputError::TooManySessions(_) => Some(HeaderValue::from_static("60")),
        _ => None,
    }
}

/// A server function's answer to `err`: its one status and `Retry-After`, set through
/// Leptos's own response options (server_fn answers every error 500 otherwise), and the
/// log line its status deserves. Outside a server function's own request (a page
/// rendered on the server calls them too, and its status is the page's) it only logs.
pub fn answer_with(err: &StayputError) {
    use leptos::prelude::use_context;
    log(err);
    let own_request = use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with(SERVER_FN_PREFIX));
    let Some(response) = use_context::<leptos_axum::ResponseOptions>().filter(|_| own_request) else {
        return;
    };
    response.set_status(StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(retry) = retry_after(err) {
        response.insert_header(header::RETRY_AFTER, retry);
    }
}

/// Runs a server function's `work`, answering its error with [`answer_with`].
pub async fn answered<T>(work: impl Future<Output = Result<T, StayputError>>) -> Result<T, StayputError> {
    let result = work.await;
    if let Err(err) = &result {
        answer_with(err);
    }
    result
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

#[cfg(test)]
mod tests {
    use stayput_cache::{ByteSize, RecipeError};

    use super::*;

    #[test]
    fn a_recipe_error_keeps_its_status() {
        // A user's bad step, found when the recipe runs: a 400, not a server fault.
        let bad = StayputError::BadSpec("\"a\" is selected twice".into());
        let err = StayputError::from(CacheError::Recipe(RecipeError::new(bad.clone())));
        assert_eq!(err, bad);
        assert_eq!(err.status(), 400);
        // A recipe timing out is shed (503), as the same request would be.
        let err = StayputError::from(CacheError::Recipe(RecipeError::new(StayputError::TimedOut(30))));
        assert_eq!(err.status(), 503);
        // Any other error is a fault the user cannot fix.
        let err = StayputError::from(CacheError::Recipe(RecipeError::new("the disk vanished")));
        assert_eq!(err, StayputError::Rebuild("the disk vanished".into()));
        assert_eq!(err.status(), 500);
        // Rebuilding, even a "bad step" is the server's fault (the same chain made the
        // frame before), but a shed rebuild stays shed.
        let err = StayputError::from(CacheError::Rebuild(RecipeError::new(bad)));
        assert_eq!(err.status(), 500);
        let err = StayputError::from(CacheError::Rebuild(RecipeError::new(StayputError::TimedOut(30))));
        assert_eq!(err, StayputError::TimedOut(30));
    }

    #[test]
    fn every_limit_names_the_setting_that_raises_it() {
        let err = StayputError::from(CacheError::TooLarge {
            needed: ByteSize(10),
            limit: Limit::SessionQuotaHeldElsewhere,
            budget: ByteSize(5),
        });
        let StayputError::TooLarge { limit, setting, .. } = err else {
            panic!("TooLarge");
        };
        assert_eq!(limit, "session quota (part of it held on other servers)");
        assert_eq!(setting.as_deref(), Some("STAYPUT_SESSION_QUOTA"));
        assert_eq!(upload_setting_of(UploadLimit::UploadMax), "STAYPUT_UPLOAD_MAX");
    }
}
