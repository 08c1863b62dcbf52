//! Client mode's two raw-byte axum handlers: the frame goes to the browser and comes
//! back, as a Dash `dcc.Store` does (the contract is [`crate::contract::client_mode`]).
//!
//! Their buffers are admitted like frames: the bytes they will hold (the frame and its
//! raw bytes, or the upload and the frame decoded from it) are reserved in the cache's
//! memory budget before anything is allocated, and a request that cannot have them is
//! refused at once (413 beyond the budget, 503 when the free room is too small: a
//! transfer never evicts anyone's frames). Every transfer, whatever its size, takes a
//! heavy-job slot, and a client that does not read its download is cut off by the
//! server's write timeout. Client mode has no session, so each request reserves as one
//! of its own.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use stayput_cache::{FrameCache, Reservation, SessionKey};

use crate::contract::client_mode::ClientMeanReply;
use crate::contract::sizes::validate_rows;
use crate::contract::StayputError;
use crate::server::bench_frame;
use crate::server::blocking;
use crate::server::body;
use crate::server::errors::error_response;
use crate::server::state::AppState;
use crate::server::work::Work;

/// Query of [`FRAME_PATH`](crate::contract::client_mode::FRAME_PATH).
#[derive(Debug, Deserialize)]
pub struct FrameQuery {
    rows: u64,
}

/// Step 1 of client mode: builds the frame and sends all of it to the browser.
pub async fn frame(
    State(AppState {
        cache, heavy, limits, ..
    }): State<AppState>,
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
        let _slot = heavy
            .admit(
                None,
                Work::Transfer {
                    bytes: rows.saturating_mul(8),
                },
            )
            .await?;
        // The frame and its bytes, side by side while the one is copied into the other.
        let room = admit(&cache, rows.saturating_mul(16))?;
        let bytes = blocking(move || {
            bench_frame::frame_to_bytes(&bench_frame::random_frame(rows as usize, bench_frame::new_seed()))
        })
        .await?;
        Ok((bytes, room))
    }
    .await;
    match result {
        Ok((bytes, room)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (header::CONTENT_LENGTH, bytes.len().to_string()),
            ],
            // The reservation is given back once the bytes have gone to the socket.
            Body::from_stream(futures::StreamExt::chain(
                futures::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(bytes))]),
                futures::stream::once(async move {
                    drop(room);
                    Ok(Bytes::new())
                }),
            )),
        )
            .into_response(),
        Err(err) => error_response(err),
    }
}

/// Step 2 of client mode: receives the frame back, answers its mean and histogram. The
/// upload's bytes are reserved as they arrive, a block at a time (issue 23: reserving
/// twice its declared `Content-Length` before a byte came let a slow client hold that
/// much for nothing), the decoded frame's once it is complete; an upload that stops
/// sending, or drips, is cut off, freeing both.
pub async fn mean(
    State(AppState {
        cache, heavy, limits, ..
    }): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = usize::try_from(limits.client_upload_bytes()).unwrap_or(usize::MAX);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|bytes| bytes > limit as u64) {
        return error_response(StayputError::BodyTooLarge("client mode's upload".into()));
    }
    let expected = declared.unwrap_or(limit as u64);
    let result = async {
        // What can never fit (the upload and its frame, within the whole budget) is
        // refused on its declared length, before a byte is read.
        let budget = cache.config().memory_budget;
        if expected.saturating_mul(2) > budget.bytes() {
            return Err(StayputError::from(stayput_cache::CacheError::TooLarge {
                needed: stayput_cache::ByteSize(expected.saturating_mul(2)),
                limit: stayput_cache::Limit::MemoryBudget,
                budget,
            }));
        }
        // The upload, reserved a block at a time as it arrives.
        let mut held: Vec<Reservation> = Vec::new();
        let mut reserved = 0u64;
        let mut buffer: Vec<u8> = Vec::new();
        body::for_each_chunk(body, limit as u64, limits.body_timeout, |chunk: Bytes| {
            let needed = (buffer.len() + chunk.len()) as u64;
            if needed > reserved {
                let block = (needed - reserved).max(RESERVE_BLOCK);
                held.push(admit(&cache, block)?);
                reserved += block;
                // Allocated as reserved, not by doubling past it.
                buffer.reserve_exact(usize::try_from(reserved).unwrap_or(usize::MAX) - buffer.len());
            }
            buffer.extend_from_slice(&chunk);
            Ok::<(), StayputError>(())
        })
        .await
        .map_err(|fault| match fault {
            Ok(fault) => fault.into_error("client mode's upload", limits.body_timeout),
            Err(err) => err,
        })?;
        // The heavy slot once the body is here: a slow sender holds no slot while it
        // sends (cookie-less requests share one session's slots).
        let _slot = heavy
            .admit(
                None,
                Work::Transfer {
                    bytes: buffer.len() as u64,
                },
            )
            .await?;
        // The frame decoded from it.
        held.push(admit(&cache, buffer.len() as u64)?);
        let body = Bytes::from(buffer);
        blocking(move || {
            let _held = held;
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

/// Bytes of client mode's upload reserved at a time as it arrives.
const RESERVE_BLOCK: u64 = 1 << 20;

/// `bytes` reserved in the cache's memory budget for one client-mode request, from the
/// room that is free now: a transfer never evicts anyone's frames.
fn admit(cache: &FrameCache, bytes: u64) -> Result<Reservation, StayputError> {
    Ok(cache.reserve_free(SessionKey::random(), bytes)?)
}
