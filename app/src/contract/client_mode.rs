//! The contract of client mode: the frame travels to the browser and back, as a Dash
//! `dcc.Store` does. Kept so a user can see what Stayput saves.
//!
//! The bytes are raw little-endian f64 (8 bytes a row, the most compact lossless
//! encoding; JSON would be ~19 bytes a row and slow to parse), moved by two plain HTTP
//! routes because a server function's JSON or URL encodings would inflate them. The
//! browser keeps the bytes as an `ArrayBuffer` and never copies them into wasm memory.

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
