//! The steps socket ([`STEPS_PATH`]): `/`'s two benchmark steps and `/explore`'s figure
//! requests on one open WebSocket, for the same session as the page's HTTP calls.
//!
//! Held to account like any request: a message is at most [`MAX_STEP_MESSAGE`] bytes,
//! steps are answered one at a time (nothing queues on the server: the next message is
//! read only when the last one is answered, so a client sending faster only fills its
//! own TCP window), a session holds at most a set number of sockets, an idle socket is
//! closed, and large steps wait for a heavy-job slot like their HTTP twins.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use stayput_cache::SessionKey;

#[cfg(doc)]
use crate::contract::benchmark::STEPS_PATH;
use crate::contract::benchmark::{Step, StepReply, MAX_STEP_MESSAGE};
use crate::contract::error::cut;
use crate::contract::StayputError;
use crate::server::caller::Caller;
use crate::server::errors::error_response;
use crate::server::ops;
use crate::server::places::Places;
use crate::server::state::AppState;

/// A socket with no message for this long is closed (the page opens another when it
/// needs one).
pub const IDLE: Duration = Duration::from_secs(10 * 60);

/// The open steps sockets, capped per session and in all.
#[derive(Clone)]
pub struct Sockets {
    open: Places<SessionKey>,
    step_timeout: Duration,
}

impl Sockets {
    /// At most `per_session` open sockets for one session and `most` in all; a step
    /// runs at most `step_timeout` (the server's request timeout).
    pub fn new(per_session: usize, most: usize, step_timeout: Duration) -> Self {
        Self {
            open: Places::new(per_session, most),
            step_timeout,
        }
    }
}

/// The upgrade: needs the page's session (its cookie; a socket never starts one) and a
/// free place among the session's sockets.
pub async fn upgrade(
    State(state): State<AppState>,
    caller: Caller,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        // Not a WebSocket request, or not one we speak: its own status (400, 405, 426).
        Err(rejection) => return rejection.into_response(),
    };
    let session = match caller.existing_session().await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return error_response(StayputError::BadRequest(
                "the steps socket needs the page's session cookie".into(),
            ))
        }
        Err(err) => return error_response(err),
    };
    let place = match state.sockets.open.enter_session(session) {
        Ok(place) => place,
        Err(err) => return error_response(err),
    };
    upgrade
        .max_message_size(MAX_STEP_MESSAGE)
        .max_frame_size(MAX_STEP_MESSAGE)
        // Replies are sent one at a time (the largest, a figure at the widest plot, is a
        // few hundred KB): a client that does not read stalls its own socket, never the
        // server's memory.
        .max_write_buffer_size(1024 * 1024)
        .on_upgrade(move |socket| async move {
            serve(socket, state, session).await;
            drop(place);
        })
        .into_response()
}

/// Answers steps until the client closes, breaks a limit or sends no step for [`IDLE`]
/// (pings do not count). A reply the client does not read is cut off by the server's
/// write timeout (`server/src/serve.rs`).
async fn serve(mut socket: WebSocket, state: AppState, session: SessionKey) {
    let step_timeout = state.sockets.step_timeout;
    let mut last_step = tokio::time::Instant::now();
    loop {
        let message = match tokio::time::timeout_at(last_step + IDLE, socket.recv()).await {
            Ok(Some(Ok(message))) => message,
            // Closed, broken (e.g. a message over the limit), or idle.
            Ok(Some(Err(_)) | None) | Err(_) => break,
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue, // answered by the socket itself
            Message::Binary(_) => {
                let refusal: Result<StepReply, StayputError> =
                    Err(StayputError::BadRequest("send each step as JSON text".into()));
                if send(&mut socket, &refusal).await.is_err() {
                    break;
                }
                continue;
            }
        };
        last_step = tokio::time::Instant::now();
        let reply = match tokio::time::timeout(step_timeout, run(&state, session, text.as_str())).await {
            Ok(reply) => reply,
            Err(_) => Err(StayputError::TimedOut(step_timeout.as_secs())),
        };
        let sent = send(&mut socket, &reply).await;
        tracing::debug!(
            elapsed_ms = last_step.elapsed().as_secs_f64() * 1e3,
            "steps socket: message in → reply sent"
        );
        if sent.is_err() {
            break;
        }
    }
}

async fn run(state: &AppState, session: SessionKey, text: &str) -> Result<StepReply, StayputError> {
    let step: Step = serde_json::from_str(text)
        .map_err(|err| StayputError::BadRequest(cut(format!("not a step: {err}"))))?;
    ops::run_step(&state.cache, session, (&state.heavy, &state.pyramids), step).await
}

async fn send(socket: &mut WebSocket, reply: &Result<StepReply, StayputError>) -> Result<(), axum::Error> {
    let text = serde_json::to_string(reply).unwrap_or_else(|_| r#"{"Err":"Internal"}"#.to_owned());
    socket.send(Message::Text(text.into())).await
}
