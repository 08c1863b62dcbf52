//! The contract of `/`, the caching benchmark: its two steps and their answers.

use serde::{Deserialize, Serialize};
use stayput_cache::FrameHandle;

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

/// One benchmark step, sent on the page's WebSocket ([`STEPS_PATH`]).
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
}

/// The answer to one [`Step`], in the order the steps were sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepReply {
    /// The handle of the frame step 1 built.
    Created(FrameHandle),
    /// The mean step 2 computed.
    Mean(MeanReply),
}
