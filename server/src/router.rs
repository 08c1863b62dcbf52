//! The whole HTTP surface in one router, so `main` and the tests serve the same thing.

use app::client_mode::{self, FRAME_PATH, MEAN_PATH};
use app::context::{AppContext, Limits};
use app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use stayput_cache::{CacheConfig, FrameCache, PurgeGuard};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::time;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer};

use crate::Config;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "stayput.sid";

/// A built server: the router plus what must live as long as it.
pub struct Stayput {
    /// Serve this.
    pub router: Router,
    /// The handle cache behind the server functions (for logs and tests).
    pub cache: FrameCache,
    /// Keeps the idle-expiry sweep running; dropping it stops the sweep.
    pub purger: PurgeGuard,
}

/// Builds the router for `config`. Must be called inside a tokio runtime.
pub fn build(config: &Config) -> Stayput {
    let cache = FrameCache::new(CacheConfig {
        memory_budget: config.memory_budget,
        idle_timeout: config.idle_timeout,
    });
    let purger = cache.spawn_purger();
    let limits = Limits {
        client_max_rows: config.client_max_rows,
    };
    let context = AppContext {
        cache: cache.clone(),
        limits,
    };
    let options = config.leptos.clone();

    let idle = time::Duration::seconds(i64::try_from(config.idle_timeout.as_secs()).unwrap_or(i64::MAX));
    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookie)
        .with_expiry(Expiry::OnInactivity(idle));

    // Random floats do not compress; gzip would only burn CPU on client mode's bytes.
    let compression = CompressionLayer::new()
        .compress_when(SizeAbove::new(256).and(NotForContentType::new("application/octet-stream")));
    let upload_limit = usize::try_from(config.client_max_rows * 8 + 4096).unwrap_or(usize::MAX);

    let routes = generate_route_list(App);
    let router = Router::new()
        .route(FRAME_PATH, post(move |query| client_mode::frame(limits, query)))
        .route(
            MEAN_PATH,
            post(client_mode::mean).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .leptos_routes_with_context(&options, routes, move || provide_context(context.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .layer(sessions)
        .layer(compression)
        .layer(TraceLayer::new_for_http());
    Stayput {
        router,
        cache,
        purger,
    }
}
