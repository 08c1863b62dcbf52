//! What the figure engine's benches share: the data they draw.

use polars::prelude::*;

/// A random walk of `rows` steps in [-0.5, 0.5), as a one-column frame.
pub(crate) fn walk(rows: usize) -> DataFrame {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut level = 0.0;
    let values: Vec<f64> = (0..rows)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            level += (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            level
        })
        .collect();
    DataFrame::new(rows, vec![Column::new("walk".into(), values)]).expect("frame")
}
