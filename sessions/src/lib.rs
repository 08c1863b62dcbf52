//! Browser sessions bound to the frame cache: the cache takes a [`SessionKey`], and this
//! crate is where a browser gets one.
//!
//! [`FrameCacheRouter::with_frame_cache`] installs the session cookie and makes the
//! cache reachable from every route added before it. A plain axum handler takes a
//! [`BrowserSession`] (an extractor); inside a server function, [`frame_cache`] returns
//! the cache and the caller's key through the same extractor. The key is random, kept in
//! the server-side session record and never sent to the browser: the cookie carries only
//! tower-sessions' own session id. A session is stored only once it holds a frame, and
//! with a cache shared through Redis (feature `redis`) the records live in Redis, counted
//! so that all the servers together keep at most [`SessionCookie::max_sessions`].
//!
//! # Use it in a Leptos app
//!
//! Two server functions pass a frame by handle: the first builds it (memoized and
//! rebuildable from its lineage, through a registered recipe), the second reads it. The
//! browser only ever holds the [`stayput_cache::FrameHandle`].
//!
//! ```no_run
//! use leptos::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use stayput_cache::FrameHandle;
//!
//! /// The arguments of the `squares` recipe: also its lineage.
//! #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
//! pub struct Squares {
//!     pub rows: u32,
//! }
//!
//! fn squares(args: Squares) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
//!     use polars::prelude::*;
//!     let x: Vec<f64> = (0..args.rows).map(f64::from).collect();
//!     let y: Vec<f64> = x.iter().map(|v| v * v).collect();
//!     df!("x" => x, "y" => y)
//! }
//!
//! /// Step 1: builds the frame on the server and returns only its handle.
//! #[server]
//! pub async fn make_squares(rows: u32) -> Result<FrameHandle, ServerFnError> {
//!     use stayput_cache::Placement;
//!     let (cache, session) = stayput_sessions::frame_cache().await.map_err(ServerFnError::new)?;
//!     // Same arguments in the same session: the existing handle, computed once.
//!     cache
//!         .make_memoized(session, "squares", &Squares { rows }, Placement::Auto)
//!         .await
//!         .map_err(ServerFnError::new)
//! }
//!
//! /// Step 2: reads the frame behind the handle (no copy) and returns a small answer.
//! #[server]
//! pub async fn sum_of_squares(handle: FrameHandle) -> Result<f64, ServerFnError> {
//!     use polars::prelude::ChunkAgg;
//!     let (cache, session) = stayput_sessions::frame_cache().await.map_err(ServerFnError::new)?;
//!     // Unknown, foreign and expired handles fail alike; evicted ones are rebuilt.
//!     let frame = cache.get(session, &handle).await.map_err(ServerFnError::new)?;
//!     let y = frame.column("y").and_then(|c| c.f64().cloned()).map_err(ServerFnError::new)?;
//!     Ok(y.sum().unwrap_or(0.0))
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     use stayput_cache::{ByteSize, CacheConfig, FrameCache};
//!     use stayput_sessions::{FrameCacheRouter, SessionCookie};
//!
//!     let cache = FrameCache::builder(CacheConfig::new(ByteSize(1 << 30)))
//!         .recipe("squares", |args: Squares| async move { squares(args) })
//!         .build();
//!     let _purger = cache.spawn_purger(); // idle expiry and session-end cleanup
//!     let router = axum::Router::new()
//!         .route("/api/{*fn_name}", axum::routing::post(leptos_axum::handle_server_fns))
//!         // The one call: session cookie + cache for every route above.
//!         .with_frame_cache(cache, SessionCookie::default());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, router).await
//! }
//! ```
//!
//! In a cargo-leptos app the router is the one `leptos_routes` builds; add
//! `.with_frame_cache(..)` after it (axum layers cover only the routes added before).
//!
//! # Layout
//! - [`cookie`]: [`SessionCookie`] and the session layer that sets it.
//! - [`router`]: [`FrameCacheRouter`], and the middleware that forgets a session a
//!   request started when it ends holding nothing.
//! - [`caller`]: [`BrowserSession`], the cache and the request's session, and
//!   [`frame_cache`] and its variants for server functions.
//! - [`SessionError`] (in [`error`]): why a request got no session.
//! - `redis_store` (feature `redis`): the records in Redis behind a local copy, and the
//!   count of sessions all the servers keep.

pub mod caller;
pub mod cookie;
pub mod error;
#[cfg(feature = "redis")]
mod redis_store;
pub mod router;

pub use caller::{existing_frame_cache, frame_cache, started_frame_cache, BrowserSession};
pub use cookie::{SessionCookie, DEFAULT_MAX_SESSIONS};
pub use error::SessionError;
pub use router::FrameCacheRouter;
pub use stayput_cache::SessionKey;
