//! The contract between the browser and the server: every type both sides compile, with
//! no `cfg` of their own. The server functions that carry them are in [`crate::api`].
//!
//! - [`error`]: [`StayputError`], every failure a user can see.
//! - [`sizes`]: the frame sizes the pages offer and the server accepts.
//! - [`benchmark`]: `/`'s two steps and their replies.
//! - [`client_mode`]: the raw-byte routes of the benchmark's "client" mode.
//! - [`figure`]: `/explore`'s chart kinds, columns and figure replies.
//! - [`cache_view`]: `/cache`'s listing.
//! - [`data`]: `/data`'s uploads, views, transforms, plots and downloads.
//! - [`linked`]: `/linked`'s view state, brushes made selections, and its URL.
//! - [`recipes`]: the names lineage records.

pub mod benchmark;
pub mod cache_view;
pub mod client_mode;
pub mod data;
pub mod error;
pub mod figure;
pub mod linked;
pub mod recipes;
pub mod sizes;

pub use error::StayputError;
