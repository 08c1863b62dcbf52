//! Why a figure cannot be drawn.

/// A figure spec that does not fit the frame. Every message names the column or range
/// at fault and is safe to show to the person who asked: a column name comes back quoted
/// and cut to [`MAX_NAME_SHOWN`] characters, so a huge name sent in a request never does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// The frame has no such column.
    #[error("no column named {}", shown(.0))]
    NoColumn(String),
    /// The column holds no numbers (strings, lists, …).
    #[error("column {} is not numeric ({dtype})", shown(.name))]
    NotNumeric {
        /// The column.
        name: String,
        /// Its polars data type, as polars prints it.
        dtype: String,
    },
    /// A numeric column whose values could not be read as f64.
    #[error("column {} cannot be read as numbers", shown(.0))]
    Unreadable(String),
    /// x must be sorted ascending (and flagged so) for its visible rows to be found by
    /// binary search.
    #[error("x column {} is not sorted ascending; pick \"row\" or a sorted column", shown(.0))]
    NotSorted(String),
    /// The visible range's low end is above its high end (or one is NaN).
    #[error("the visible range is empty")]
    EmptyRange,
    /// No row's x falls in the visible range.
    #[error("no rows in the visible range")]
    NoRows,
    /// A selection that cannot be applied: the message says why (an inverted or
    /// non-numeric range, a lasso of too many vertices, a column of the wrong type).
    #[error("{0}")]
    BadSelection(String),
}

/// Longest column name a message repeats.
pub(crate) const MAX_NAME_SHOWN: usize = 64;

/// `name` quoted, cut to [`MAX_NAME_SHOWN`] characters.
pub(crate) fn shown(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_SHOWN {
        return format!("{name:?}");
    }
    let cut: String = name.chars().take(MAX_NAME_SHOWN).collect();
    format!("{cut:?}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_cut() {
        let long = FigureError::NoColumn("x".repeat(10_000)).to_string();
        assert!(long.len() < 100, "{long}");
        assert!(long.ends_with('…'));
        assert_eq!(
            FigureError::NoColumn("a".into()).to_string(),
            "no column named \"a\""
        );
    }
}
