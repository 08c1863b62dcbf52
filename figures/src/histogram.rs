//! Histograms: equal bins of the visible values, drawn as touching bars. Their size
//! follows the number of bins, never the number of rows binned.

use serde_json::json;

use crate::layout::{axis, margin, round6};
use crate::stats::Histogram;
use crate::with_thousands;

/// Height of a histogram figure, in CSS pixels.
const HEIGHT: u32 = 320;

/// Plotly figure JSON of `hist`, the histogram of `rows` values of the column `name`:
/// one bar trace, bars touching, centres and width rounded to 6 significant digits.
pub fn histogram_figure(hist: &Histogram, name: &str, rows: u64) -> String {
    let centers: Vec<f64> = (0..hist.counts.len())
        .map(|i| round6(hist.start + (i as f64 + 0.5) * hist.width))
        .collect();
    json!({
        "data": [{
            "type": "bar",
            "x": centers,
            "y": hist.counts,
            "name": name,
            "width": round6(hist.width),
        }],
        "layout": {
            "title": {
                "text": format!("{name}: {} rows in {} bins", with_thousands(rows), hist.counts.len()),
            },
            "bargap": 0.0,
            "height": HEIGHT,
            "margin": margin(48, 40, 56, 16),
            "xaxis": axis(name, false),
            "yaxis": axis("count", false),
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::histogram_of;

    #[test]
    fn figure_size_follows_bins_not_rows() {
        let values = |n: usize| -> Vec<f64> { (0..n).map(|i| ((i * 7_919) % 1_000) as f64).collect() };
        let (small, large) = (values(1_000), values(1_000_000));
        let small = histogram_figure(&histogram_of(&[&small], 50), "v", 1_000);
        let large = histogram_figure(&histogram_of(&[&large], 50), "v", 1_000_000);
        let parsed: serde_json::Value = serde_json::from_str(&large).expect("valid JSON");
        assert_eq!(parsed["data"][0]["type"], "bar");
        assert_eq!(parsed["data"][0]["y"].as_array().map(Vec::len), Some(50));
        let counted: u64 = parsed["data"][0]["y"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_u64)
            .sum();
        assert_eq!(counted, 1_000_000);
        assert_eq!(parsed["layout"]["title"]["text"], "v: 1,000,000 rows in 50 bins");
        let diff = large.len().abs_diff(small.len());
        assert!(diff < 300, "{} vs {} bytes", small.len(), large.len());
    }
}
