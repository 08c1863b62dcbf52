//! The pieces of plotly layout every figure shares, built as `serde_json` values.

use serde_json::{json, Value};

/// Height of an `/explore`-style figure, in CSS pixels.
pub(crate) const HEIGHT: u32 = 420;

/// An axis titled `title`; a date axis when it holds epoch milliseconds.
pub(crate) fn axis(title: &str, time: bool) -> Value {
    let mut axis = json!({ "title": { "text": title } });
    if time {
        axis["type"] = "date".into();
    }
    axis
}

/// Plot margins in CSS pixels (top, bottom, left, right).
pub(crate) fn margin(t: u32, b: u32, l: u32, r: u32) -> Value {
    json!({ "t": t, "b": b, "l": l, "r": r })
}

/// Rounds to 6 significant digits so that figure JSON does not grow with noise digits.
pub(crate) fn round6(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10_f64.powi(5 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}
