//! What a figure is asked for and what comes back: plain serde data, compiled without the
//! `engine` feature too, so a wasm client and the server share one vocabulary.

use serde::{Deserialize, Serialize};

/// The pseudo-column "row number": an x axis every frame has, sorted by construction.
pub const ROW: &str = "row";

/// Widest plot the engine reduces for; wider requests are clamped.
pub const MAX_WIDTH_PX: u32 = 4_000;

/// Narrowest plot the engine reduces for; narrower requests are widened to it.
pub const MIN_WIDTH_PX: u32 = 100;

/// An empty figure with a line figure's size and margins: what a page draws before it
/// has data (as Dash draws an empty `dcc.Graph`), so that its first figure is a redraw
/// of a plot that is already set up, not plotly's first `newPlot`.
pub const EMPTY_FIGURE: &str =
    r#"{"data":[],"layout":{"height":420,"margin":{"t":48,"b":48,"l":56,"r":16}}}"#;

/// How a figure draws its y column. On the wire by its lower-case name, as
/// [`ChartKind::as_str`] spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// A line through the points, decimated to about two points per pixel column.
    Line,
    /// Markers, decimated like the line.
    Scatter,
    /// Counts of y in equal bins, over the visible x range.
    Histogram,
    /// A box of y's quartiles over the visible x range (quantiles from a fine histogram).
    Box,
    /// A 2-D density heatmap of (x, y), for scatters too dense to draw.
    Density,
    /// Rows counted by value of x (a group-by's bars; x needs not be sorted or numeric,
    /// y is not read). Not in [`ChartKind::ALL`]: it is not a figure of y over x.
    Bar,
}

impl ChartKind {
    /// Every kind, in a picker's order.
    pub const ALL: [ChartKind; 5] = [
        ChartKind::Line,
        ChartKind::Scatter,
        ChartKind::Histogram,
        ChartKind::Box,
        ChartKind::Density,
    ];

    /// Lower-case name, as in a picker's option values.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Scatter => "scatter",
            Self::Histogram => "histogram",
            Self::Box => "box",
            Self::Density => "density",
            Self::Bar => "bar",
        }
    }

    /// The kind named `name` (see [`ChartKind::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain([Self::Bar])
            .find(|k| k.as_str() == name)
    }
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureSpec {
    /// The x column ([`ROW`] for the row number); must be sorted ascending.
    pub x: String,
    /// The y column; must be numeric.
    pub y: String,
    /// How to draw it.
    pub kind: ChartKind,
    /// Visible x range, both ends inclusive; `None` is open.
    pub range: (Option<f64>, Option<f64>),
    /// Width of the plot area in CSS pixels (clamped to
    /// [`MIN_WIDTH_PX`]`..=`[`MAX_WIDTH_PX`]).
    pub width_px: u32,
    /// Whether x holds milliseconds since the Unix epoch (drawn on a date axis).
    pub time_x: bool,
}

/// One column of a frame as a figure can use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Its name.
    pub name: String,
    /// Whether it can be a y column (numeric).
    pub numeric: bool,
    /// Whether it can be the x axis (numeric and sorted ascending).
    pub sorted: bool,
    /// Whether its values are milliseconds since the epoch (drawn on a date axis).
    pub time: bool,
}

/// A figure and how it was reduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Plotly figure JSON (`{"data": [...], "layout": {...}}`).
    pub figure: String,
    /// Points (or bins) drawn.
    pub points: u64,
    /// Rows of the frame inside the visible x range.
    pub rows_in_range: u64,
    /// Rows of the frame.
    pub total_rows: u64,
    /// How the rows were reduced, e.g. "MinMax" or "none".
    pub method: String,
}
