//! One module a page.
//!
//! - [`benchmark`]: `/`, the caching benchmark (server mode against client mode).
//! - [`explore`]: `/explore`, a figure of any size, reduced and zoomed on the server.
//! - [`data`]: `/data`, your own data: upload, look, transform, plot, download.
//! - [`linked`]: `/linked`, several figures of one frame brushed and zoomed together.
//! - [`cache`]: `/cache`, what the session holds on the server.

pub mod benchmark;
pub mod cache;
pub mod data;
pub mod explore;
pub mod linked;
