//! The contract of `/explore`: the figure engine's own vocabulary (compiled for the
//! browser without the engine), under the names the pages use.

pub use stayput_figures::{with_thousands, ChartKind, ColumnInfo, Figure as FigureReply, MAX_WIDTH_PX, ROW};
