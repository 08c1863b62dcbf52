//! Stayput's user interface and its contract with the server.
//!
//! # Layout
//! - [`contract`]: the types both sides compile: errors, sizes, each page's requests and
//!   replies, recipe names.
//! - [`api`]: the `#[server]` functions, thin wrappers that the browser calls by URL.
//! - [`pages`]: one module a page: `/` the caching benchmark, `/explore` figures of any
//!   size, `/data` your own data (a directory: the page, its upload area, table, step
//!   forms and plot), `/linked` figures of one frame brushed and zoomed together,
//!   `/cache` what the session holds on the server.
//! - `steps` (browser): the benchmark's steps over the page's WebSocket, or HTTP.
//! - `browser` (browser): the page's clock, raw-byte fetches, plotly.js.
//! - [`server`] (feature `ssr`): the glue to the libraries: settings, recipes, the plain
//!   functions behind the server functions, the benchmark's workload, client mode's
//!   handlers.
//!
//! The figure engine is the `stayput-figures` crate, the handle cache `stayput-cache`.

pub mod api;
mod browser;
pub mod contract;
pub mod pages;
mod steps;

#[cfg(feature = "ssr")]
pub mod server;

pub use contract::StayputError;

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
                <A href="/data">"Data"</A>
                <A href="/cache">"Cache"</A>
            </nav>
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::benchmark::BenchmarkPage/>
                    <Route path=StaticSegment("cache") view=pages::cache::CachePage/>
                    <Route path=StaticSegment("explore") view=pages::explore::ExplorePage/>
                    <Route path=StaticSegment("data") view=pages::data::DataPage/>
                    <Route path=StaticSegment("linked") view=pages::linked::LinkedPage/>
                </Routes>
            </main>
        </Router>
    }
}
