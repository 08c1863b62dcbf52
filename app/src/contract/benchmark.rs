//! The contract of the steps socket: `/`'s two benchmark steps and `/explore`'s figure
//! requests, and their answers.

use serde::{Deserialize, Serialize};
use stayput_cache::FrameHandle;

use crate::contract::figure::{ChartKind, FigureReply};

/// The answer of step 2, `frame_mean`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanReply {
    /// Mean of the `rnd` column.
    pub mean: f64,
}

/// Where the page opens its steps socket: each message is one [`Step`] as JSON text,
/// each answer one `Result<StepReply, StayputError>` as JSON text, in order.
pub const STEPS_PATH: &str = "/api/steps";

/// Largest message the steps socket accepts (a step is a few hundred bytes).
pub const MAX_STEP_MESSAGE: usize = 16 * 1024;

/// One step, sent on the page's WebSocket ([`STEPS_PATH`]): the benchmark's two, and
/// `/explore`'s figure requests (a zoom costs one message, not one `fetch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Step 1, as `create_frame`.
    Create {
        /// Rows of the new frame.
        rows: u64,
        /// The frame the page held until now, released first.
        replaces: Option<FrameHandle>,
    },
    /// Step 2, as `frame_mean`.
    Mean {
        /// The frame to average.
        handle: FrameHandle,
    },
    /// `/explore`'s figure of `y` over `x` for the visible `x_min..=x_max`, as
    /// `explore_figure`.
    Figure {
        /// The frame to draw.
        handle: FrameHandle,
        /// The x column (or the row number).
        x: String,
        /// The y column.
        y: String,
        /// The kind of chart.
        kind: ChartKind,
        /// The visible range's low end (open when absent).
        x_min: Option<f64>,
        /// The visible range's high end (open when absent).
        x_max: Option<f64>,
        /// The plot's width in CSS pixels.
        width: u32,
    },
}

/// The answer to one [`Step`], in the order the steps were sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepReply {
    /// The handle of the frame step 1 built.
    Created(FrameHandle),
    /// The mean step 2 computed.
    Mean(MeanReply),
    /// The figure asked for.
    Figure(FigureReply),
}
