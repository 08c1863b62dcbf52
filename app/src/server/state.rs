//! The application's state: everything its server side needs, built once by the binary.
//! The same value is the axum state of the app's own routes ([`crate::server::routes`])
//! and the Leptos context of its server functions ([`crate::server::context`]), so
//! every way into the app reads one thing.

use std::path::PathBuf;
use std::sync::Arc;

use stayput_cache::FrameCache;
use stayput_data::Uploads;
use stayput_figures::PyramidStore;

use crate::server::context::Limits;
use crate::server::data::io::Uploading;
use crate::server::heavy::HeavyJobs;
use crate::server::steps_socket::Sockets;

/// The app's state (cheap to clone: every part is shared).
#[derive(Clone)]
pub struct AppState {
    /// The handle cache.
    pub cache: FrameCache,
    pub uploads: Uploads,
    /// The admission of heavy jobs, shared by every request.
    pub heavy: HeavyJobs,
    /// Limits that are configuration rather than code.
    pub limits: Limits,
    /// `STAYPUT_EXAMPLES_DIR`: where the built-in datasets are.
    pub examples_dir: PathBuf,
    /// `/data`'s uploads in progress, per session and in all.
    pub uploading: Uploading,
    /// `/data`'s downloads in progress, per session and in all.
    pub downloading: Uploading,
    /// The open steps sockets.
    pub sockets: Sockets,
    /// Lines' min/max pyramids, kept between figures in 1/32 of the memory budget
    /// ([`PYRAMID_SHARE`]).
    pub pyramids: Arc<PyramidStore>,
}

/// The share of `STAYPUT_MEMORY_BUDGET` that lines' min/max pyramids may hold, beside
/// the frames (a pyramid is about 1.6 % of its column).
pub const PYRAMID_SHARE: u64 = 32;

impl AppState {
    /// The state of an app serving `cache`, with steps sockets capped at `per_session`
    /// and `max_sockets`, a step running at most `limits.request_timeout`.
    pub fn new(
        cache: FrameCache,
        uploads: Uploads,
        heavy: HeavyJobs,
        limits: Limits,
        examples_dir: PathBuf,
        (sockets_per_session, max_sockets): (usize, usize),
    ) -> Self {
        let pyramids = Arc::new(PyramidStore::new(
            cache.config().memory_budget.bytes() / PYRAMID_SHARE,
        ));
        Self {
            pyramids,
            cache,
            uploads,
            heavy,
            limits,
            examples_dir,
            uploading: Uploading::default(),
            downloading: Uploading::default(),
            sockets: Sockets::new(sockets_per_session, max_sockets, limits.request_timeout),
        }
    }
}

impl axum::extract::FromRef<AppState> for FrameCache {
    fn from_ref(state: &AppState) -> Self {
        state.cache.clone()
    }
}
