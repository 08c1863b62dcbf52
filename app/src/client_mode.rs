//! Client mode: the frame travels to the browser and back, as a Dash `dcc.Store` does.
//!
//! Kept so a user can see what Stayput saves. The bytes are raw little-endian f64 (8
//! bytes a row, the most compact lossless encoding; JSON would be ~19 bytes a row and
//! slow to parse), moved by two plain HTTP routes because a server function's JSON or
//! URL encodings would inflate them. The browser keeps the bytes as an `ArrayBuffer`
//! and never copies them into wasm memory.

use serde::{Deserialize, Serialize};

/// `POST ?rows=N`: step 1, answers the frame's raw bytes.
pub const FRAME_PATH: &str = "/api/client/frame";
/// `POST` the raw bytes: step 2, answers a [`ClientMeanReply`].
pub const MEAN_PATH: &str = "/api/client/mean";
/// Default cap on rows in client mode: 1e7 rows, 80 MB each way.
pub const DEFAULT_MAX_ROWS: u64 = 10_000_000;

/// What step 2 of client mode answers: the mean and the histogram of the uploaded frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMeanReply {
    /// Mean of the uploaded values.
    pub mean: f64,
    /// Plotly figure JSON of their histogram.
    pub figure: String,
}

#[cfg(feature = "ssr")]
pub use handlers::{frame, mean};

#[cfg(feature = "ssr")]
mod handlers {
    use axum::body::Bytes;
    use axum::extract::rejection::{BytesRejection, QueryRejection};
    use axum::extract::Query;
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use serde::Deserialize;

    use super::ClientMeanReply;
    use crate::compute;
    use crate::context::Limits;
    use crate::ops::blocking;
    use crate::sizes::validate_rows;
    use crate::StayputError;

    /// Query of [`FRAME_PATH`](super::FRAME_PATH).
    #[derive(Debug, Deserialize)]
    pub struct FrameQuery {
        rows: u64,
    }

    fn error_response(err: StayputError) -> Response {
        let status = match err {
            StayputError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            StayputError::TooLarge { .. } | StayputError::ClientModeTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        (status, Json(err)).into_response()
    }

    /// Step 1 of client mode: builds the frame and sends all of it to the browser.
    pub async fn frame(limits: Limits, query: Result<Query<FrameQuery>, QueryRejection>) -> Response {
        let result = async {
            let Query(FrameQuery { rows }) =
                query.map_err(|err| StayputError::BadRequest(err.body_text()))?;
            let rows = validate_rows(rows)?;
            if rows > limits.client_max_rows {
                return Err(StayputError::ClientModeTooLarge {
                    rows,
                    max: limits.client_max_rows,
                    max_bytes: limits.client_max_rows * 8 / 1_000_000,
                });
            }
            blocking(move || {
                compute::frame_to_bytes(&compute::random_frame(rows as usize, compute::new_seed()))
            })
            .await
        }
        .await;
        match result {
            Ok(bytes) => (
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response(),
            Err(err) => error_response(err),
        }
    }

    /// Step 2 of client mode: receives the frame back, answers its mean and histogram.
    pub async fn mean(body: Result<Bytes, BytesRejection>) -> Response {
        let body = match body {
            Ok(body) => body,
            Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let err = StayputError::BadRequest("the upload is larger than client mode allows".into());
                return (StatusCode::PAYLOAD_TOO_LARGE, Json(err)).into_response();
            }
            Err(err) => return error_response(StayputError::BadRequest(err.body_text())),
        };
        let result = async {
            blocking(move || {
                let frame = compute::frame_from_bytes(&body)?;
                let mean = compute::column_mean(&frame)?;
                let hist = compute::histogram(&frame, compute::HISTOGRAM_BINS)?;
                let figure = compute::histogram_figure(&hist, frame.height() as u64);
                Ok(ClientMeanReply { mean, figure })
            })
            .await
        }
        .await;
        match result {
            Ok(reply) => Json(reply).into_response(),
            Err(err) => error_response(err),
        }
    }
}
