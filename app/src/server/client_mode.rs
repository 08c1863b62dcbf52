//! Client mode's two raw-byte axum handlers: the frame goes to the browser and comes
//! back, as a Dash `dcc.Store` does (the contract is [`crate::contract::client_mode`]).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::contract::client_mode::ClientMeanReply;
use crate::contract::sizes::validate_rows;
use crate::contract::StayputError;
use crate::server::bench_frame;
use crate::server::blocking;
use crate::server::context::Limits;
use crate::server::errors::error_response;
use crate::server::heavy::HeavyJobs;

/// Query of [`FRAME_PATH`](crate::contract::client_mode::FRAME_PATH).
#[derive(Debug, Deserialize)]
pub struct FrameQuery {
    rows: u64,
}

/// Step 1 of client mode: builds the frame and sends all of it to the browser.
pub async fn frame(
    limits: Limits,
    heavy: HeavyJobs,
    query: Result<Query<FrameQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let Query(FrameQuery { rows }) = query.map_err(|err| StayputError::BadRequest(err.body_text()))?;
        let rows = validate_rows(rows)?;
        if rows > limits.client_max_rows {
            return Err(StayputError::ClientModeTooLarge {
                rows,
                max: limits.client_max_rows,
                max_bytes: limits.client_max_rows * 8 / 1_000_000,
            });
        }
        let _slot = heavy.admit(None, rows).await?;
        blocking(move || {
            bench_frame::frame_to_bytes(&bench_frame::random_frame(rows as usize, bench_frame::new_seed()))
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
pub async fn mean(heavy: HeavyJobs, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(StayputError::BodyTooLarge("client mode's upload".into()));
        }
        Err(err) => return error_response(StayputError::BadRequest(err.body_text())),
    };
    let result = async {
        let _slot = heavy.admit(None, body.len() as u64 / 8).await?;
        blocking(move || {
            let frame = bench_frame::frame_from_bytes(&body)?;
            let mean = bench_frame::column_mean(&frame)?;
            let hist = bench_frame::histogram(&frame, bench_frame::HISTOGRAM_BINS)?;
            let figure = bench_frame::histogram_figure(&hist, frame.height() as u64);
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
