//! plotly.rs figures made scalable (feature `plotly`): the Rust counterpart of
//! plotly-resampler's `FigureResampler(go.Figure())`.
//!
//! Build the figure as usual with the `plotly` crate: layout, annotations, small traces.
//! Add each big trace with [`ScalablePlot::add_big_trace`], naming the frame's columns
//! it draws instead of handing it the data. [`ScalablePlot::figure`] then returns the
//! figure JSON for a view: the user's layout and every trace's style as built, the small
//! traces untouched, and each big trace filled with its visible rows reduced to the
//! plot's pixels (MinMax: at most two points per pixel column, spikes kept). The rows
//! stay in the frame, on the server; each zoom is one more call.
//!
//! ```
//! use plotly::common::Mode;
//! use plotly::{Layout, Plot, Scatter};
//! use stayput_figures::demo::{time_series, TIME};
//! use stayput_figures::scalable::ScalablePlot;
//!
//! let frame = time_series(1_000_000, 7)?;
//! let mut plot = Plot::new();
//! plot.set_layout(Layout::new().title("A million seconds of a random walk"));
//! // A small trace: passed through as it is.
//! plot.add_trace(Scatter::new(vec![1.7e12], vec![0.0]).name("start").mode(Mode::Markers));
//! let mut scalable = ScalablePlot::new(plot);
//! // A big trace: its style here, its data the frame's columns.
//! let walk = Scatter::new(Vec::<f64>::new(), Vec::<f64>::new()).name("walk").mode(Mode::Lines);
//! scalable.add_big_trace(walk, TIME, "walk");
//!
//! let whole = scalable.figure(&frame, (None, None), 800)?;
//! let figure: serde_json::Value = serde_json::from_str(&whole)?;
//! assert_eq!(figure["layout"]["title"]["text"], "A million seconds of a random walk");
//! assert_eq!(figure["data"][0]["name"], "start");
//! assert_eq!(figure["data"][1]["name"], "walk");
//! assert_eq!(figure["data"][1]["mode"], "lines");
//! assert!(whole.len() < 40_000, "{} bytes for a million rows", whole.len());
//!
//! // A zoom: the same figure over 1 % of the rows, reduced again.
//! let (lo, hi) = (1_704_067_200_000.0, 1_704_067_200_000.0 + 10_000_000.0);
//! let zoomed = scalable.figure(&frame, (Some(lo), Some(hi)), 800)?;
//! assert!(zoomed.contains("\"walk\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use plotly::{Plot, Trace};
use polars::prelude::DataFrame;
use serde_json::Value;

use crate::{figure, ChartKind, FigureError, FigureSpec};

/// A plotly.rs figure whose big traces are drawn from a frame's columns, reduced per view.
#[derive(Clone)]
pub struct ScalablePlot {
    plot: Plot,
    /// The big traces: their place among the plot's traces and the columns they draw.
    big: Vec<BigTrace>,
}

#[derive(Clone)]
struct BigTrace {
    index: usize,
    x: String,
    y: String,
}

impl ScalablePlot {
    /// Wraps `plot`: its layout and traces are kept as they are.
    pub fn new(plot: Plot) -> Self {
        Self {
            plot,
            big: Vec::new(),
        }
    }

    /// Adds `trace` (its name, mode, line, marker… as built; its data ignored) drawing
    /// the frame's column `y` against `x` (sorted ascending, or [`crate::ROW`]).
    pub fn add_big_trace(&mut self, trace: Box<dyn Trace>, x: &str, y: &str) {
        let index = self.plot.data().len();
        self.plot.add_trace(trace);
        self.big.push(BigTrace {
            index,
            x: x.to_owned(),
            y: y.to_owned(),
        });
    }

    /// The plot as built (to change its layout or add small traces).
    pub fn plot_mut(&mut self) -> &mut Plot {
        &mut self.plot
    }

    /// Plotly figure JSON for the x `range` (`None` ends are open) on a plot `width_px`
    /// pixels wide: each big trace filled from `frame`, everything else as built.
    pub fn figure(
        &self,
        frame: &DataFrame,
        range: (Option<f64>, Option<f64>),
        width_px: u32,
    ) -> Result<String, FigureError> {
        let unreadable = |_| FigureError::Unreadable("the plot".into());
        let mut plot = serde_json::to_value(&self.plot).map_err(unreadable)?;
        for big in &self.big {
            let spec = FigureSpec {
                x: big.x.clone(),
                y: big.y.clone(),
                kind: ChartKind::Line,
                range,
                width_px,
                time_x: false,
            };
            let reduced = match figure(frame, &spec) {
                Err(FigureError::NoRows) => None,
                other => Some(other?),
            };
            let filled: Value = match reduced {
                Some(reduced) => {
                    serde_json::from_str::<Value>(&reduced.figure).map_err(unreadable)?["data"][0].take()
                }
                None => serde_json::json!({ "x": [], "y": [] }),
            };
            let Some(trace) = plot["data"].get_mut(big.index).and_then(Value::as_object_mut) else {
                continue;
            };
            // Only the numbers: the user's style stays.
            for key in ["x", "y", "x0", "dx"] {
                trace.remove(key);
                if let Some(value) = filled.get(key) {
                    trace.insert(key.to_owned(), value.clone());
                }
            }
        }
        let out = serde_json::json!({ "data": plot["data"].take(), "layout": plot["layout"].take() });
        Ok(out.to_string())
    }
}
