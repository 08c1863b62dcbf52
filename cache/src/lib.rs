//! The handle cache: DataFrames stay on the server, the browser holds handles.
//!
//! A server function that builds a frame puts it into a [`FrameCache`] under the
//! caller's [`SessionKey`] and returns the [`FrameHandle`] it gets back. The handle is
//! all the browser ever sees; the next server function turns it back into the frame
//! with [`FrameCache::get`], without copying it (values are `Arc<DataFrame>`).
//!
//! # Layout
//! - [`handle`]: the serialisable handle type, shared with the wasm client.
//! - [`size`]: human byte sizes (`4GiB`, `512MB`) for configuration and display.
//! - [`error`]: [`CacheError`], the one error type of the store.
//! - `store` (feature `server`): [`FrameCache`], the in-memory tier with a global
//!   byte budget, size-aware LRU eviction and idle expiry.
//! - `session` (feature `server`): [`SessionKey`], whom a handle belongs to.
//!
//! The crate builds without its default `server` feature for the browser: then it
//! holds only the handle and size types, with no polars, moka, tokio or uuid.

pub mod error;
pub mod handle;
pub mod size;

#[cfg(feature = "server")]
mod session;
#[cfg(feature = "server")]
mod store;

pub use error::CacheError;
pub use handle::FrameHandle;
pub use size::ByteSize;

#[cfg(feature = "server")]
pub use session::SessionKey;
#[cfg(feature = "server")]
pub use store::{CacheConfig, CacheStats, FrameCache, PurgeGuard};
