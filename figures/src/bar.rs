//! Bars of a group-by: the rows of each value of a column, counted on the server. Their
//! size follows the number of values shown, never the rows counted.

use polars::prelude::*;
use serde_json::json;

use crate::layout::{axis, margin};
use crate::{with_thousands, Figure, FigureError};

/// The label of a bar of missing values (a selection of it keeps the missing values).
pub(crate) const MISSING: &str = "null";

/// Most bars drawn: the most frequent values, largest first.
pub(crate) const MAX_BARS: usize = 50;

/// Height of a bar figure, in CSS pixels.
const HEIGHT: u32 = 320;

/// The rows of `frame` counted by value of column `x` (as text; missing values are
/// "null"), the [`MAX_BARS`] most frequent drawn as bars.
pub(crate) fn bar_figure(frame: &DataFrame, x: &str) -> Result<Figure, FigureError> {
    if frame.column(x).is_err() {
        return Err(FigureError::NoColumn(x.to_owned()));
    }
    let unreadable = |_| FigureError::Unreadable(x.to_owned());
    let counts = frame
        .clone()
        .lazy()
        .group_by([col(x).cast(DataType::String).fill_null(lit(MISSING)).alias("key")])
        .agg([len().cast(DataType::UInt64).alias("count")])
        .sort_by_exprs(
            [col("count"), col("key")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()
        .map_err(unreadable)?;
    let keys: Vec<String> = counts
        .column("key")
        .and_then(|c| c.str().cloned())
        .map_err(unreadable)?
        .iter()
        .take(MAX_BARS)
        .map(|k| k.unwrap_or(MISSING).to_owned())
        .collect();
    let values: Vec<u64> = counts
        .column("count")
        .and_then(|c| c.u64().cloned())
        .map_err(unreadable)?
        .into_no_null_iter()
        .take(MAX_BARS)
        .collect();
    let rows = frame.height() as u64;
    let title = if counts.height() > MAX_BARS {
        format!(
            "{x}: {} rows, the {MAX_BARS} most frequent of {} values",
            with_thousands(rows),
            with_thousands(counts.height() as u64)
        )
    } else {
        format!("{x}: {} rows in {} values", with_thousands(rows), counts.height())
    };
    let points = keys.len() as u64;
    let figure = json!({
        "data": [{ "type": "bar", "x": keys, "y": values, "name": x }],
        "layout": {
            "title": { "text": title },
            "height": HEIGHT,
            "margin": margin(48, 64, 56, 16),
            "xaxis": { "type": "category", "title": { "text": x } },
            "yaxis": axis("rows", false),
        },
    });
    Ok(Figure {
        figure: figure.to_string(),
        points,
        rows_in_range: rows,
        total_rows: rows,
        method: "group-by count".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_count_each_value_most_frequent_first() {
        let frame = df!("city" => ["Oslo", "Rome", "Oslo", "Lima", "Oslo", "Rome"]).expect("frame");
        let bars = bar_figure(&frame, "city").expect("bars");
        let parsed: serde_json::Value = serde_json::from_str(&bars.figure).expect("json");
        assert_eq!(parsed["data"][0]["x"], json!(["Oslo", "Rome", "Lima"]));
        assert_eq!(parsed["data"][0]["y"], json!([3, 2, 1]));
        assert_eq!(bars.points, 3);
        let many = df!("n" => (0..500i64).collect::<Vec<_>>()).expect("frame");
        let bars = bar_figure(&many, "n").expect("bars");
        assert_eq!(bars.points, MAX_BARS as u64);
        assert!(bar_figure(&frame, "nope").is_err());
    }
}
