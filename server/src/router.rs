//! The whole HTTP surface in one router, so `main` and the tests serve the same thing.

use app::server::context::Limits;
use app::server::heavy::HeavyJobs;
use app::server::state::AppState;
use app::{shell, App};
use axum::http::header;
use axum::middleware;
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

use stayput_cache::{CacheConfig, CacheError, DiskTier, FrameCache, PurgeGuard, SharedStore};
use stayput_data::Uploads;
use stayput_figures::PyramidStore;
use stayput_sessions::{FrameCacheRouter, SessionCookie};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::access::{self, Access};
use crate::{guards, Config};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "stayput.sid";

/// The session cookie's name behind HTTPS (`STAYPUT_SECURE_COOKIE=true`): the `__Host-`
/// prefix makes browsers refuse it unless it is `Secure`, `Path=/` and has no `Domain`,
/// so a page on a sibling subdomain or another port of the same site cannot plant a
/// session of its choosing here (and collect what the victim then uploads).
pub const SECURE_SESSION_COOKIE: &str = "__Host-stayput.sid";

/// A built server: the router plus what must live as long as it.
pub struct Stayput {
    /// Serve this.
    pub router: Router,
    /// `/metrics` alone, to serve on `STAYPUT_METRICS_ADDR` when that is set (then the
    /// site's router does not have it).
    pub metrics: Option<Router>,
    /// The handle cache behind the server functions (for logs and tests).
    pub cache: FrameCache,
    /// The uploads directory the cache reads ingested frames back from (for tests).
    pub uploads: Uploads,
    /// Keeps the idle-expiry sweep running; dropping it stops the sweep.
    pub purger: PurgeGuard,
    /// Lines' min/max pyramids kept between figures (for tests).
    pub pyramids: Arc<PyramidStore>,
}

/// Largest request body on any route but client mode's upload: server function
/// arguments are a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Where Prometheus scrapes the cache's metrics.
pub const METRICS_PATH: &str = "/metrics";

/// Builds the router for `config`, on this server alone. Must be called inside a tokio
/// runtime. Fails only when the cache directory cannot be used (the error names it and
/// the setting).
pub fn build(config: &Config) -> Result<Stayput, CacheError> {
    build_shared(config, None)
}

/// Builds the router for `config`; with `shared` (connected to `STAYPUT_REDIS_URL`) its
/// sessions, handles and small frames are shared with every server using that Redis.
pub fn build_shared(config: &Config, shared: Option<SharedStore>) -> Result<Stayput, CacheError> {
    let disk = DiskTier::open(&config.cache_dir, config.disk_budget)?;
    // Uploads are kept beside the frames, within a disk budget of their own (the same
    // figure as the disk tier's); in the shared directory when several servers must
    // read them.
    let uploads_dir = match &config.shared_dir {
        Some(dir) => dir.join("uploads"),
        None => config.cache_dir.join("uploads"),
    };
    // A directory other servers may use too is never emptied at start-up.
    let uploads = if shared.is_some() || config.shared_dir.is_some() {
        Uploads::open_shared(
            &uploads_dir,
            config.upload_max.bytes(),
            config.disk_budget.bytes(),
        )?
    } else {
        Uploads::open(
            &uploads_dir,
            config.upload_max.bytes(),
            config.disk_budget.bytes(),
        )?
    }
    .with_parse_piece(usize::try_from(config.upload_piece.bytes()).unwrap_or(usize::MAX));
    let mut cache_config = CacheConfig::new(config.memory_budget);
    cache_config.session_quota = config.session_quota;
    cache_config.auto_threshold = stayput_cache::ByteSize(config.session_quota.bytes() / 2);
    cache_config.idle_timeout = config.idle_timeout;
    cache_config.session_timeout = config.session_timeout;
    cache_config.max_frames_per_session = config.max_frames;
    let builder = app::server::recipes::with_recipes(FrameCache::builder(cache_config));
    let mut builder = app::server::recipes::with_data(builder, &uploads).cold_tier(Arc::new(disk));
    if let Some(shared) = shared {
        builder = builder.shared(shared);
    }
    let cache = builder.build();
    let purger = cache.spawn_purger();
    let limits = Limits {
        client_max_rows: config.client_max_rows,
        frame_max_bytes: config.session_quota.bytes().min(config.memory_budget.bytes()),
        disk_max_bytes: config.disk_budget.bytes(),
        body_timeout: config.body_timeout,
        request_timeout: config.request_timeout,
    };
    let state = AppState::new(
        cache.clone(),
        uploads.clone(),
        HeavyJobs::new(config.heavy),
        limits,
        config.examples_dir.clone(),
        (config.sockets_per_session, config.max_sockets),
    );
    let options = config.leptos.clone();

    let cookie = SessionCookie {
        name: if config.secure_cookie {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
        .to_owned(),
        secure: config.secure_cookie,
        max_sessions: config.max_sessions,
    };
    // Random floats do not compress; gzip would only burn CPU on client mode's bytes.
    let compression = CompressionLayer::new()
        .compress_when(SizeAbove::new(256).and(NotForContentType::new("application/octet-stream")));

    let routes = generate_route_list(App);
    let pyramids = Arc::clone(&state.pyramids);
    let (metrics_cache, metrics_pyramids, metrics_uploads) =
        (cache.clone(), Arc::clone(&pyramids), uploads.clone());
    // Client mode's and `/data`'s uploads are the large bodies, each bounded while it
    // streams by its own limit; everything else is a few hundred bytes of arguments, so
    // a small limit covers every other route (a layer, read while streaming: an
    // oversized body is refused before it is buffered).
    let upload_routes: Router = app::server::routes::upload_routes().with_state(state.clone());
    let metrics: Router = Router::new().route(
        METRICS_PATH,
        get(move || {
            let mut text = metrics_cache.render_metrics();
            text.push_str(&pyramid_metrics(&metrics_pyramids));
            text.push_str(&format!(
                "# HELP stayput_uploads_streamed_total Uploads parsed while they arrived.\n\
                 # TYPE stayput_uploads_streamed_total counter\nstayput_uploads_streamed_total {}\n\
                 # HELP stayput_uploads_stream_fallbacks_total Uploads whose parse as they arrived was turned off (read whole instead).\n\
                 # TYPE stayput_uploads_stream_fallbacks_total counter\nstayput_uploads_stream_fallbacks_total {}\n",
                metrics_uploads.streamed_uploads(),
                metrics_uploads.stream_fallbacks()
            ));
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
        }),
    );
    let router = Router::new()
        .merge(app::server::routes::routes().with_state(state.clone()))
        .leptos_routes_with_context(&options, routes, move || provide_context(state.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn(guards::too_large_as_json))
        .merge(upload_routes)
        .with_frame_cache(cache.clone(), cookie)
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            guards::deadline,
        ))
        .layer(middleware::from_fn(guards::same_origin));
    // `/metrics` on its own address when one is set, else beside the site.
    let (router, metrics) = match config.metrics_addr {
        // Its own address is under the same Host check: a DNS-rebinding page must not
        // read it either.
        Some(_) => (
            router,
            Some(
                protect(metrics, &config.access).layer(middleware::from_fn_with_state(
                    config.allowed_hosts.clone(),
                    crate::hosts::allowed_host,
                )),
            ),
        ),
        None => (router.merge(metrics), None),
    };
    let router = protect(router, &config.access)
        .layer(middleware::from_fn_with_state(
            config.allowed_hosts.clone(),
            crate::hosts::allowed_host,
        ))
        .layer(compression)
        .layer(TraceLayer::new_for_http());
    Ok(Stayput {
        router,
        metrics,
        cache,
        uploads,
        purger,
        pyramids,
    })
}

/// The pyramids' gauges in Prometheus' text format.
fn pyramid_metrics(pyramids: &PyramidStore) -> String {
    format!(
        "# HELP stayput_pyramid_bytes Bytes of lines' min/max pyramids kept.\n\
         # TYPE stayput_pyramid_bytes gauge\nstayput_pyramid_bytes {}\n\
         # HELP stayput_pyramids Lines' min/max pyramids kept.\n\
         # TYPE stayput_pyramids gauge\nstayput_pyramids {}\n",
        pyramids.bytes(),
        pyramids.len()
    )
}

/// `router` behind the configured credentials (unchanged when access is open).
fn protect(router: Router, access: &Access) -> Router {
    if access.is_open() {
        return router;
    }
    router.layer(middleware::from_fn_with_state(access.clone(), access::require))
}
