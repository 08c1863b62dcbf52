//! Why a figure cannot be drawn.

/// A figure spec that does not fit the frame. Every message names the column or range
/// at fault and is safe to show to the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// The frame has no such column.
    #[error("no column named {0:?}")]
    NoColumn(String),
    /// The column holds no numbers (strings, lists, …).
    #[error("column {name:?} is not numeric ({dtype})")]
    NotNumeric {
        /// The column.
        name: String,
        /// Its polars data type, as polars prints it.
        dtype: String,
    },
    /// A numeric column whose values could not be read as f64.
    #[error("column {0:?} cannot be read as numbers")]
    Unreadable(String),
    /// x must be sorted ascending (and flagged so) for its visible rows to be found by
    /// binary search.
    #[error("x column {0:?} is not sorted ascending; pick \"row\" or a sorted column")]
    NotSorted(String),
    /// The visible range's low end is above its high end (or one is NaN).
    #[error("the visible range is empty")]
    EmptyRange,
    /// No row's x falls in the visible range.
    #[error("no rows in the visible range")]
    NoRows,
}
