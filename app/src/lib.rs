//! Stayput's user interface and its contract with the server.
//!
//! # Layout
//! - [`pages`]: one module a page; `/` is the caching benchmark, `/cache` what the
//!   session holds on the server.
//! - [`api`]: the `#[server]` functions, thin wrappers that the browser calls by URL.
//! - [`error`]: [`StayputError`], every failure a user can see, as a clear message.
//! - [`sizes`]: which frame sizes the benchmark offers and accepts.
//! - [`client_mode`]: the bulk byte transfer of the "client" benchmark mode.
//! - `browser` (runs in wasm): performance clock, fetch of raw bytes, plotly.js.
//! - [`explore`]: the contract of `/explore` (chart kinds, columns, figure replies).
//! - `ops`, `compute`, `context` (feature `ssr`): the plain functions behind the
//!   server functions, the polars/plotly work they do, and Stayput's own settings.
//! - `series`, `decimate`, `figures` (feature `ssr`): `/explore`'s time-series
//!   generator, the MinMax decimator and the figures reduced to the plot's pixels.

pub mod api;
mod browser;
pub mod client_mode;
pub mod error;
pub mod explore;
pub mod pages;
pub mod sizes;
mod steps;

#[cfg(feature = "ssr")]
pub mod buffers;
#[cfg(feature = "ssr")]
pub mod compute;
#[cfg(feature = "ssr")]
pub mod context;
#[cfg(feature = "ssr")]
pub mod decimate;
#[cfg(feature = "ssr")]
pub mod figures;
#[cfg(feature = "ssr")]
pub mod ops;
#[cfg(feature = "ssr")]
pub mod series;
#[cfg(feature = "ssr")]
pub mod typed;

pub use error::StayputError;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::StaticSegment;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                // plotly.js is served by our own server (copied from npm at build time).
                <script src="/plotly.min.js" defer></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: routes to the pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/stayput.css"/>
        <Title text="Stayput"/>
        <Router>
            <nav class="top">
                <A href="/">"Benchmark"</A>
                <A href="/explore">"Explore"</A>
                <A href="/cache">"Cache"</A>
            </nav>
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::benchmark::BenchmarkPage/>
                    <Route path=StaticSegment("cache") view=pages::cache::CachePage/>
                    <Route path=StaticSegment("explore") view=pages::explore::ExplorePage/>
                </Routes>
            </main>
        </Router>
    }
}
