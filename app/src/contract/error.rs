//! Every failure a user can see, each with a message that says what to do.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The error type of every server function and every browser-side step.
///
/// Messages are written for the person at the browser and never carry internal
/// detail (paths, panics, backtraces): those go to the server log instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum StayputError {
    /// The handle is not (or no longer) known to this session. Deliberately the same
    /// for made-up, foreign, expired and evicted handles.
    #[error("unknown or expired data: the server no longer holds this frame, run again to rebuild it")]
    UnknownHandle,
    /// A frame size outside what the benchmark offers.
    #[error("invalid size {0}: choose a number of rows from 1 to 100,000,000")]
    InvalidSize(String),
    /// Client mode moves the frame through the browser and is capped.
    #[error(
        "client mode is limited to {} rows ({max_bytes} MB through the browser and back); use server mode for {} rows",
        crate::contract::sizes::with_thousands(*.max),
        crate::contract::sizes::with_thousands(*.rows)
    )]
    ClientModeTooLarge {
        /// Rows asked for.
        rows: u64,
        /// The cap.
        max: u64,
        /// The cap in megabytes of transfer each way.
        max_bytes: u64,
    },
    /// The frame would not fit in the limit that applies to it.
    #[error("a frame of {needed} does not fit in the server's {limit} of {budget}")]
    TooLarge {
        /// Size of the frame.
        needed: String,
        /// Which limit ("memory budget", "session quota", "disk budget").
        limit: String,
        /// The limit.
        budget: String,
    },
    /// The server's cache could not store or load the data (e.g. its disk is full).
    #[error("the server's cache is unavailable right now ({0} tier); try again")]
    Storage(String),
    /// An evicted frame could not be rebuilt.
    #[error("the data could not be rebuilt: {0}")]
    Rebuild(String),
    /// The request could not be understood.
    #[error("the request could not be read: {0}")]
    BadRequest(String),
    /// A figure was asked for that cannot be drawn (unknown or non-numeric column,
    /// unsorted x, empty range).
    #[error("cannot draw this figure: {0}")]
    BadSpec(String),
    /// `/explore` was asked for the benchmark's frame, but the session has none.
    #[error("your session holds no benchmark frame: run the benchmark on the first page")]
    NoBenchmarkFrame,
    /// The browser could not draw the figure.
    #[error("the figure could not be drawn: {0}")]
    Draw(String),
    /// The browser could not reach the server or read its answer.
    #[error("could not reach the server: {0}")]
    Network(String),
    /// Something failed on the server; the details are in the server log.
    #[error("the server could not complete the request (details are in the server log)")]
    Internal,
}

impl FromServerFnError for StayputError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(msg)
            | ServerFnErrorErr::MissingArg(msg)
            | ServerFnErrorErr::Deserialization(msg) => Self::BadRequest(msg),
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Response(msg) => Self::Network(msg),
            _ => Self::Internal,
        }
    }
}
