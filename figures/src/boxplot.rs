//! Box plots: quartiles read from a fine histogram, whiskers at min and max, and the
//! mean: five numbers whatever the number of rows.

use serde_json::json;

use crate::layout::{axis, HEIGHT};
use crate::stats::{histogram_of, mean_of};
use crate::{with_thousands, Figure};

/// Bins of the fine histogram that box quantiles are read from: a quantile is off by at
/// most (max - min) / QUANTILE_BINS.
pub(crate) const QUANTILE_BINS: usize = 8_192;

/// A box of `values`' quartiles, of the column `name`.
pub(crate) fn box_figure(name: &str, values: &[f64], total_rows: u64) -> Figure {
    let hist = histogram_of(&[values], QUANTILE_BINS);
    let mean = mean_of(&[values]);
    let (q1, median, q3) = (hist.quantile(0.25), hist.quantile(0.5), hist.quantile(0.75));
    let figure = json!({
        "data": [{
            "type": "box",
            "name": name,
            "q1": [q1], "median": [median], "q3": [q3],
            "lowerfence": [hist.start], "upperfence": [hist.end()], "mean": [mean],
        }],
        "layout": {
            "title": { "text": format!("{name}: quartiles of {} rows", with_thousands(hist.total())) },
            "height": HEIGHT,
            "yaxis": axis(name, false),
        },
    });
    Figure {
        figure: figure.to_string(),
        points: 5,
        rows_in_range: values.len() as u64,
        total_rows,
        method: "quantiles from 8,192 bins".to_owned(),
    }
}
