//! Plotly typed arrays: a trace's numbers as base64 bytes (`{"dtype", "bdata"}`, which
//! plotly.js decodes into a typed array) instead of JSON text.
//!
//! A JSON number costs 12–20 bytes; an `f4` costs 5.3 base64 characters and an `f8`
//! 10.7, and the browser skips parsing them. Values go at what a pixel can show: y as
//! `f4` (~7 significant digits), x as `u4`/`i4` when it holds small whole numbers (row
//! numbers), as `f4` when rounding to f32 moves no value by more than
//! [`PIXEL_FRACTION`] of a pixel of the visible range, else as `f8`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// Largest rounding of an x value, as a fraction of a pixel, that `f4` may introduce.
pub const PIXEL_FRACTION: f64 = 1.0 / 8.0;

/// The plotly typed array of `dtype` with `bytes` (little-endian values).
fn typed(dtype: &str, bytes: &[u8]) -> Value {
    json!({ "dtype": dtype, "bdata": STANDARD.encode(bytes) })
}

/// `values` as `f4`.
pub fn f4(values: &[f64]) -> Value {
    let bytes: Vec<u8> = values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
    typed("f4", &bytes)
}

/// `values` as `f8` (exact).
pub fn f8(values: &[f64]) -> Value {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    typed("f8", &bytes)
}

/// `values` as the narrowest exact 32-bit integer type, if every value is a whole
/// number that fits one.
fn integers(values: &[f64]) -> Option<Value> {
    let whole = |lo: f64, hi: f64| values.iter().all(|&v| v.fract() == 0.0 && (lo..=hi).contains(&v));
    if whole(0.0, f64::from(u32::MAX)) {
        let bytes: Vec<u8> = values.iter().flat_map(|&v| (v as u32).to_le_bytes()).collect();
        return Some(typed("u4", &bytes));
    }
    if whole(f64::from(i32::MIN), f64::from(i32::MAX)) {
        let bytes: Vec<u8> = values.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect();
        return Some(typed("i4", &bytes));
    }
    None
}

/// x values for a plot where one pixel spans `pixel` x units: exact integers when they
/// fit, `f4` when it is within [`PIXEL_FRACTION`] of a pixel, `f8` otherwise.
pub fn x_values(values: &[f64], pixel: f64) -> Value {
    if let Some(exact) = integers(values) {
        return exact;
    }
    let tolerance = pixel * PIXEL_FRACTION;
    let close = values
        .iter()
        .all(|&v| v.is_finite() && (f64::from(v as f32) - v).abs() <= tolerance);
    if close {
        f4(values)
    } else {
        f8(values)
    }
}

/// The numbers of a typed array or of a plain JSON array (tests and tools read figures
/// with it); `None` for anything else.
pub fn decode(value: &Value) -> Option<Vec<f64>> {
    if let Some(items) = value.as_array() {
        return items.iter().map(Value::as_f64).collect();
    }
    let bytes = STANDARD.decode(value.get("bdata")?.as_str()?).ok()?;
    let read = |size: usize, f: fn(&[u8]) -> f64| -> Option<Vec<f64>> {
        (bytes.len() % size == 0).then(|| bytes.chunks_exact(size).map(f).collect())
    };
    match value.get("dtype")?.as_str()? {
        "f4" => read(4, |b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "f8" => read(8, |b| {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }),
        "u4" => read(4, |b| f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "i4" => read(4, |b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dtype_round_trips() {
        let rows = [0.0, 1.0, 99_999_999.0];
        assert_eq!(x_values(&rows, 1.0)["dtype"], "u4");
        assert_eq!(decode(&x_values(&rows, 1.0)), Some(rows.to_vec()));
        let signed = [-5.0, 7.0];
        assert_eq!(x_values(&signed, 1.0)["dtype"], "i4");
        assert_eq!(decode(&x_values(&signed, 1.0)), Some(signed.to_vec()));
        let exact = [0.1, 0.2];
        assert_eq!(decode(&f8(&exact)), Some(exact.to_vec()));
        assert_eq!(decode(&f4(&[0.5, -2.25])), Some(vec![0.5, -2.25]));
        assert_eq!(decode(&json!([1.5, 2])), Some(vec![1.5, 2.0]));
        assert_eq!(
            decode(&json!({"dtype": "f4", "bdata": "AAA"})),
            None,
            "not whole values"
        );
        assert_eq!(decode(&json!({"dtype": "i8", "bdata": ""})), None);
        // Five characters and a third per f4, not a dozen per JSON number.
        let bdata = f4(&[0.123_456_789; 3_000]);
        assert_eq!(bdata["bdata"].as_str().map(str::len), Some(16_000));
    }

    #[test]
    fn timestamps_go_as_f4_only_while_a_pixel_hides_the_rounding() {
        // Milliseconds since the epoch: f32 keeps them to ~131 s (2^17 ms).
        let times = [1.704e12 + 1.0, 1.704e12 + 86_400_000.0 * 365.0 + 7.0];
        // A year over 1,000 px: a pixel is ~8.8 h, far above the rounding.
        let year_pixel = 86_400_000.0 * 365.0 / 1_000.0;
        assert_eq!(x_values(&times, year_pixel)["dtype"], "f4");
        let back = decode(&x_values(&times, year_pixel)).expect("decoded");
        for (b, t) in back.iter().zip(times) {
            assert!((b - t).abs() <= year_pixel * PIXEL_FRACTION);
        }
        // A minute over 1,000 px: 60 ms a pixel, so the rounding would show.
        assert_eq!(x_values(&times, 60.0)["dtype"], "f8");
        assert_eq!(decode(&x_values(&times, 60.0)), Some(times.to_vec()));
        assert_eq!(
            x_values(&[f64::NAN, 1.5], 1e9)["dtype"],
            "f8",
            "NaN is kept exactly"
        );
    }
}
