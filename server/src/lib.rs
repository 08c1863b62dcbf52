//! Stayput's server: configuration, the session layer and the wiring of the app's
//! pages, server functions and static assets into one axum router.
//!
//! # Layout
//! - [`config`]: `STAYPUT_*` and `LEPTOS_*` settings with embedded defaults.
//! - [`access`]: optional credentials (bearer token, basic) on every route.
//! - [`router`]: [`router::build`], the whole HTTP surface, used by `main` and tests.
//! - [`guards`]: middleware: one HTTP status per error, same-site only for changes.
//! - [`hosts`]: the `Host` names the server answers for (DNS rebinding closed).
//! - [`serve`]: the accept loop: header and write deadlines, graceful shutdown.

pub mod access;
pub mod config;
pub mod guards;
pub mod hosts;
pub mod router;
pub mod serve;

pub use config::{Config, ConfigError};
pub use router::{build, build_shared, Stayput};
