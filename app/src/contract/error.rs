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
    /// The frame would not fit in the limit that applies to it, whatever was evicted:
    /// refused before any work.
    #[error("a frame of {needed} does not fit in the server's {limit} of {budget}{}", setting_hint(.setting))]
    TooLarge {
        /// Size of the frame.
        needed: String,
        /// Which limit ("memory budget", "session quota", "disk budget").
        limit: String,
        /// The limit.
        budget: String,
        /// The server setting that raises the limit, if the operator can.
        #[serde(default)]
        setting: Option<String>,
    },
    /// The server is at its limit of concurrent large jobs, or their memory is reserved:
    /// a retry in `retry_after_s` seconds is likely to succeed.
    #[error("the server is busy with other large requests; try again in {retry_after_s} s")]
    Busy {
        /// Seconds to wait before trying again (also the `Retry-After` header).
        retry_after_s: u64,
    },
    /// The request ran past `STAYPUT_REQUEST_TIMEOUT` (seconds); its work was cancelled.
    #[error("the request ran longer than the server allows ({0} s) and was stopped")]
    TimedOut(u64),
    /// This session already runs as many large jobs as one session may.
    #[error("your session already runs {0} large requests at once; wait for one to finish")]
    SessionBusy(u64),
    /// The request's body is larger than the route accepts (named here): refused while
    /// reading it.
    #[error("the request is larger than the server accepts for {0}")]
    BodyTooLarge(String),
    /// The request's body stopped arriving: nothing came for this many seconds
    /// (`STAYPUT_BODY_TIMEOUT`), so the upload was cut off and what it held freed.
    #[error("the upload stopped: nothing arrived for {0} s, so the server cut it off; send it again")]
    BodyStalled(u64),
    /// The request's body arrived slower than this many bytes a second on average (after
    /// the first `STAYPUT_BODY_TIMEOUT`), so the upload was cut off and what it held freed:
    /// a drip of a byte every few seconds cannot hold an upload place forever.
    #[error("the upload arrived slower than {0} bytes a second on average, so the server cut it off; send it again")]
    BodyTooSlow(u64),
    /// An uploaded file that cannot be read (the message names the problem, with its
    /// line where the format has lines).
    #[error("the file could not be read: {0}")]
    BadFile(String),
    /// A file of a kind Stayput does not read (compressed, or not what its name says).
    #[error("{0}")]
    UnsupportedFile(String),
    /// A file whose own metadata declares more than a stated limit (rows, or bytes in
    /// memory against its size): refused before it is read.
    #[error("{0}")]
    FileTooLarge(String),
    /// A request from another site tried to change something here.
    #[error("requests from another site may not change anything here")]
    CrossOrigin,
    /// The server's cache could not store or load the data (e.g. its disk is full).
    #[error("the server's cache is unavailable right now ({0} tier); try again")]
    Storage(String),
    /// The shared cache (Redis) that several servers use is out of reach: what needs it
    /// (a new session, a new handle, a handle made on another server) waits for it.
    #[error("the shared cache is unavailable right now; try again shortly")]
    SharedUnavailable,

    /// The servers keep as many sessions as `STAYPUT_MAX_SESSIONS` allows: no new one.
    #[error("the server keeps as many sessions as it may ({0}); try again later")]
    TooManySessions(u64),
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

/// ` (the setting STAYPUT_X raises it)`, or nothing.
fn setting_hint(setting: &Option<String>) -> String {
    setting
        .as_ref()
        .map(|s| format!(" (the server setting {s} raises it)"))
        .unwrap_or_default()
}

/// Longest text of a request that an error message repeats; the rest is cut, so a huge
/// argument never comes back in the answer or the log.
pub const MAX_ECHO: usize = 200;

/// `text`, cut to [`MAX_ECHO`] characters.
pub fn cut(text: String) -> String {
    if text.chars().count() <= MAX_ECHO {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_ECHO).collect();
    cut.push('…');
    cut
}

impl StayputError {
    /// The one HTTP status of this error, whichever way it reaches the browser (server
    /// functions, raw routes): 400 bad input, 403 another site, 404 unknown handle (the
    /// same for foreign, malformed and expired), 408 an upload that stalled, 413 too large, 429 this session is
    /// busy, 503 the server is busy or a tier is down, 500 only for real server faults.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidSize(_) | Self::BadRequest(_) | Self::BadSpec(_) | Self::NoBenchmarkFrame => 400,
            Self::CrossOrigin => 403,
            Self::BodyStalled(_) | Self::BodyTooSlow(_) => 408,
            Self::BadFile(_) => 400,
            Self::UnsupportedFile(_) => 415,
            Self::UnknownHandle => 404,
            Self::ClientModeTooLarge { .. }
            | Self::TooLarge { .. }
            | Self::BodyTooLarge(_)
            | Self::FileTooLarge(_) => 413,
            Self::SessionBusy(_) => 429,
            Self::Busy { .. }
            | Self::Storage(_)
            | Self::TimedOut(_)
            | Self::SharedUnavailable
            | Self::TooManySessions(_) => 503,
            Self::Rebuild(_) | Self::Draw(_) | Self::Network(_) | Self::Internal => 500,
        }
    }

    /// Whether the fault is the request's (a 4xx): logged below ERROR.
    pub fn is_client_error(&self) -> bool {
        self.status() < 500
    }
}

impl FromServerFnError for StayputError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let err = match value {
            ServerFnErrorErr::Args(msg)
            | ServerFnErrorErr::MissingArg(msg)
            | ServerFnErrorErr::Deserialization(msg) => Self::BadRequest(cut(msg)),
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Response(msg) => Self::Network(cut(msg)),
            _ => Self::Internal,
        };
        // On the server, a request server_fn could not decode gets its status here (the
        // function's own errors get theirs in `crate::server::errors::answered`).
        #[cfg(feature = "ssr")]
        crate::server::errors::answer_with(&err);
        err
    }
}
