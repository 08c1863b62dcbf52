//! The contract of `/data`: uploads, the built-in examples, looking at a frame (schema,
//! pages of rows), transform steps, plots and downloads.

use serde::{Deserialize, Serialize};
use stayput_cache::FrameHandle;

/// `POST` the file's bytes as the body, `?name=<file name>`: the reply is the new
/// handle (JSON), or a [`crate::StayputError`].
pub const UPLOAD_PATH: &str = "/api/upload";

/// `GET ?handle=<id>&format=csv|parquet`: the frame, streamed as a file.
pub const DOWNLOAD_PATH: &str = "/api/download";

/// A dataset shipped with Stayput (from the npm package `vega-datasets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataExample {
    /// Its file name, also its id.
    pub file: String,
    /// What it holds, in a few words.
    pub title: String,
}

/// One step of a frame's chain, as the breadcrumb shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainLink {
    /// What the step did ("upload weather.csv", "filter temp > 10", …).
    pub label: String,
    /// The handle of the frame after this step (revisit it), when this session has it.
    pub handle: Option<FrameHandle>,
}

/// What `/data` shows of a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The handle described.
    pub handle: FrameHandle,
    /// Name of the file it comes from.
    pub name: String,
    /// Its columns.
    pub columns: Vec<ColumnSummary>,
    /// How it was made, the upload first.
    pub chain: Vec<ChainLink>,
}

pub use stayput_data::table::{ColumnSummary, RowsPage, MAX_CELL_CHARS, PAGE_ROWS};
pub use stayput_data::transform::{
    Agg, AggFn, ArithOp, Condition, DatePart, Derived, JoinHow, Op, Operand, SortBy, Transform,
};
