//! The contract of `/explore`: the figure engine's own vocabulary (compiled for the
//! browser without the engine), under the names the pages use.

pub use stayput_figures::{
    with_thousands, ChartKind, ColumnInfo, Figure as FigureReply, EMPTY_FIGURE, MAX_WIDTH_PX, ROW,
};

use serde::{Deserialize, Serialize};
use stayput_cache::FrameHandle;

/// The data `/explore` can make.
pub mod data {
    /// The time series: `time` and three value columns (32 bytes a row).
    pub const SERIES: &str = "series";
    /// One column of uniform random numbers, x = the row number (8 bytes a row): the
    /// work plotly-resampler's reference does, made by the benchmark's own recipe.
    pub const UNIFORM: &str = "uniform";
}

/// Bytes a row of each kind of data takes in the cache.
pub const SERIES_BYTES_PER_ROW: u64 = 32;
/// See [`SERIES_BYTES_PER_ROW`].
pub const UNIFORM_BYTES_PER_ROW: u64 = 8;

/// The most rows of each kind the server's settings let one session hold: the page
/// offers no size it would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreSizes {
    /// Most rows of the time series.
    pub series_max_rows: u64,
    /// Most rows of uniform random numbers: in memory, or on disk when the disk budget
    /// holds more (up to [`crate::contract::sizes::MAX_DISK_ROWS`]).
    pub uniform_max_rows: u64,
    /// Most rows of uniform random numbers kept in memory: a larger frame is made on
    /// disk.
    pub uniform_memory_rows: u64,
}

impl ExploreSizes {
    /// The limits for `bytes`, the most one frame may take in memory (the smaller of
    /// the session quota and the memory budget), `disk_bytes`, the disk budget, and
    /// `pyramid_bytes`, the figure store's budget: a frame made on disk is drawn from its
    /// min/max pyramid (33 bytes a 256 rows), so no larger one is offered than its
    /// pyramid fits, nor than its file (with a MiB for its schema and footer) does.
    pub fn for_frame_bytes(bytes: u64, disk_bytes: u64, pyramid_bytes: u64) -> Self {
        use crate::contract::sizes::{MAX_DISK_ROWS, MAX_ROWS};
        let memory = (bytes / UNIFORM_BYTES_PER_ROW).min(MAX_ROWS);
        let file = disk_bytes.saturating_sub(1 << 20) / UNIFORM_BYTES_PER_ROW;
        let pyramid = pyramid_bytes.saturating_mul(256) / 33;
        let disk = file.min(pyramid).min(MAX_DISK_ROWS);
        Self {
            series_max_rows: bytes / SERIES_BYTES_PER_ROW,
            uniform_max_rows: memory.max(disk),
            uniform_memory_rows: memory,
        }
    }

    /// The most rows of `kind` ([`data`]).
    pub fn max_rows(&self, kind: &str) -> u64 {
        if kind == data::UNIFORM {
            self.uniform_max_rows
        } else {
            self.series_max_rows
        }
    }
}

/// What `/explore`'s Make answers, in one call: the new frame's handle, its columns, the
/// axes of its first figure ([`first_axes`]) and that figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MadeReply {
    /// The frame made and kept on the server.
    pub handle: FrameHandle,
    /// Its columns, as the page offers them.
    pub columns: Vec<ColumnInfo>,
    /// The x column of the first figure.
    pub x: String,
    /// The y column of the first figure.
    pub y: String,
    /// The first figure.
    pub figure: FigureReply,
}

/// The axes a frame is first drawn with: its time column (else the row number) against
/// its first numeric column that is not sorted, else its first numeric column other than
/// x (a frame of a row or two is sorted by chance); empty when it has none.
pub fn first_axes(columns: &[ColumnInfo]) -> (String, String) {
    let x = columns
        .iter()
        .find(|c| c.time)
        .map_or_else(|| ROW.to_owned(), |c| c.name.clone());
    let y = columns
        .iter()
        .find(|c| c.numeric && !c.sorted)
        .or_else(|| columns.iter().find(|c| c.numeric && c.name != x && c.name != ROW))
        .map(|c| c.name.clone())
        .unwrap_or_default();
    (x, y)
}

/// A figure on show as a page's URL keeps it (`/explore`'s `view`, `/data`'s `plot`), so
/// that a reload or a link draws it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedFigure {
    /// The x column.
    pub x: String,
    /// The y column.
    pub y: String,
    /// How it is drawn.
    pub kind: ChartKind,
    /// The x range zoomed to (`None`: all of it).
    pub range: Option<(f64, f64)>,
}

impl SavedFigure {
    /// As a URL parameter's value (JSON; the page encodes it).
    pub fn to_param(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The figure a URL parameter holds, if it reads as one.
    pub fn from_param(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}
