//! The app's own routes, besides its pages and server functions: client mode's two
//! raw-byte handlers, `/data`'s upload and download, and the steps socket. The binary
//! mounts them with the [`AppState`] it built, under its own layers.

use axum::routing::{get, post};
use axum::Router;

use crate::contract::benchmark::STEPS_PATH;
use crate::contract::client_mode::{FRAME_PATH, MEAN_PATH};
use crate::contract::data::{DOWNLOAD_PATH, UPLOAD_PATH};
use crate::server::data::io as data_io;
use crate::server::state::AppState;
use crate::server::{client_mode, steps_socket};

/// Routes whose requests are a few hundred bytes: the binary puts them under its small
/// body limit.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(STEPS_PATH, get(steps_socket::upgrade))
        .route(DOWNLOAD_PATH, get(data_io::download))
        .route(FRAME_PATH, post(client_mode::frame))
}

/// Routes that take a large body, each bounded while it streams by its own limit
/// (client mode's by `STAYPUT_CLIENT_MAX_ROWS`, `/data`'s by `STAYPUT_UPLOAD_MAX`).
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route(MEAN_PATH, post(client_mode::mean))
        .route(UPLOAD_PATH, post(data_io::upload))
}
