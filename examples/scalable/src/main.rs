//! The smallest app built only on Stayput's libraries, the way to use them in your own:
//! a Leptos + axum server keeps a million-row frame behind a handle (`stayput-cache`)
//! and draws it as a plotly.rs figure (`stayput-figures`, feature `plotly`) that is
//! reduced again on the server at every zoom. The browser holds the handle and the
//! figure, never the rows.
//!
//! It shows the libraries and nothing else: the limits a public server needs (admission
//! of heavy work, body limits, deadlines, same-origin checks, error messages cut for
//! users) are in Stayput's own server (`server/`), and its README says which.
//!
//! Run it with `cargo run -p stayput-example` (it serves plotly.js from the repository's
//! `node_modules`, which `scripts/setup` installs) and open the address it prints
//! (`STAYPUT_EXAMPLE_ADDR`, default `127.0.0.1:3001`).

use leptos::prelude::*;
use plotly::common::{Line, Mode};
use plotly::layout::{Axis, AxisType};
use plotly::{Layout, Plot, Scatter};
use stayput_cache::FrameHandle;

/// Rows of the example's random walk.
const ROWS: u64 = 1_000_000;

/// Makes the random walk on the server (once per session: memoized) and returns only
/// its handle.
#[server(endpoint = "make_walk", input = leptos::server_fn::codec::Json)]
pub async fn make_walk() -> Result<FrameHandle, ServerFnError> {
    use stayput_cache::Placement;
    use stayput_sessions::frame_cache;
    let (cache, session) = frame_cache().await.map_err(ServerFnError::new)?;
    cache
        .make_memoized(session, "walk", &ROWS, Placement::Auto)
        .await
        .map_err(ServerFnError::new)
}

/// The figure of the frame behind `handle` for the x range `x_min..=x_max` (open when
/// absent) on a plot `width` pixels wide: a plotly.rs `Plot` built as usual, its big
/// trace filled from the frame on the server.
#[server(endpoint = "walk_figure", input = leptos::server_fn::codec::Json)]
pub async fn walk_figure(
    handle: FrameHandle,
    x_min: Option<f64>,
    x_max: Option<f64>,
    width: u32,
) -> Result<String, ServerFnError> {
    use stayput_figures::demo::TIME;
    use stayput_figures::scalable::ScalablePlot;
    let (cache, session) = stayput_sessions::frame_cache()
        .await
        .map_err(ServerFnError::new)?;
    // Unknown, foreign and expired handles fail alike; an evicted frame is rebuilt.
    let frame = cache.get(session, &handle).await.map_err(ServerFnError::new)?;
    // A plotly.rs `Plot` is not `Send`: built where the reduction runs, off the runtime.
    let figure = tokio::task::spawn_blocking(move || {
        let mut plot = Plot::new();
        plot.set_layout(
            Layout::new()
                .title("A million seconds of a random walk, kept on the server")
                .x_axis(Axis::new().type_(AxisType::Date))
                .height(420),
        );
        let mut scalable = ScalablePlot::new(plot);
        let walk = Scatter::new(Vec::<f64>::new(), Vec::<f64>::new())
            .name("walk")
            .mode(Mode::Lines)
            .line(Line::new().color("#1f6feb").width(1.0));
        scalable.add_big_trace(walk, TIME, "walk");
        scalable.figure(&frame, (x_min, x_max), width)
    })
    .await
    .map_err(ServerFnError::new)?;
    figure.map_err(ServerFnError::new)
}

/// The page, rendered on the server; its script asks for the handle, then for a figure
/// at every zoom (the newest only: stale replies are dropped).
fn page() -> String {
    let body = view! {
        <main>
            <h1>"Stayput in your own app"</h1>
            <p>"The frame stays on the server behind a handle; each zoom asks for the visible range, reduced to the plot's pixels."</p>
            <p id="note" data-testid="note"></p>
            <div id="plot" data-testid="plot" style="width: 100%; height: 420px"></div>
        </main>
    }
    .to_html();
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Stayput example</title>
<script src="/plotly.min.js"></script></head><body>{body}<script>{SCRIPT}</script></body></html>"#
    )
}

/// What the page runs: a handle, a figure, a new figure on each zoom.
const SCRIPT: &str = r#"
const call = (name, args) => fetch('/api/' + name, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) })
  .then(async (r) => { const body = await r.json(); if (!r.ok) throw new Error(JSON.stringify(body)); return body; });
const plot = document.getElementById('plot');
const note = document.getElementById('note');
const ms = (v) => {
  if (typeof v === 'number') return v;
  const [date, time] = String(v).split(' ');
  return Date.parse(date + 'T' + (time || '00:00:00') + 'Z');
};
const fail = (e) => { note.textContent = 'error: ' + e.message; };
let handle = null, latest = 0, hooked = false;
async function draw(range) {
  const mine = ++latest;
  const args = { handle, x_min: range ? range[0] : null, x_max: range ? range[1] : null, width: plot.clientWidth };
  const figure = JSON.parse(await call('walk_figure', args));
  if (mine !== latest) return;
  await Plotly.react(plot, figure.data, figure.layout);
  const points = (figure.data[0].y && figure.data[0].y.bdata) ? 'typed' : 'plain';
  plot.dataset.draws = String(mine);
  note.textContent = 'figure ' + mine + ' (' + points + ' arrays) for ' + handle.rows.toLocaleString('en') + ' rows';
  if (!hooked) {
    hooked = true;
    plot.on('plotly_relayout', (e) => {
      if (e['xaxis.autorange']) return draw(null).catch(fail);
      const lo = e['xaxis.range[0]'] ?? (e['xaxis.range'] || [])[0];
      const hi = e['xaxis.range[1]'] ?? (e['xaxis.range'] || [])[1];
      if (lo !== undefined && hi !== undefined) draw([ms(lo), ms(hi)]).catch(fail);
    });
  }
}
call('make_walk', {}).then((h) => { handle = h; return draw(null); }).catch(fail);
"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    use axum::response::{Html, IntoResponse};
    use axum::routing::{get, post};
    use stayput_cache::{ByteSize, CacheConfig, FrameCache};
    use stayput_sessions::{FrameCacheRouter, SessionCookie};

    let cache = FrameCache::builder(CacheConfig::new(ByteSize(1 << 30)))
        .recipe("walk", |rows: u64| async move {
            let rows = usize::try_from(rows).unwrap_or(usize::MAX);
            tokio::task::spawn_blocking(move || stayput_figures::demo::time_series(rows, 7))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .build();
    let _purger = cache.spawn_purger();
    let plotly_js = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/plotly.js-dist-min/plotly.min.js"
    );
    let plotly_js = std::fs::read(plotly_js)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{plotly_js}: {e} (run scripts/setup)")))?;
    let router =
        axum::Router::new()
            .route("/", get(|| async { Html(page()) }))
            .route("/api/{*fn_name}", post(leptos_axum::handle_server_fns))
            .with_frame_cache(cache, SessionCookie::default())
            .route(
                "/plotly.min.js",
                get(move || async move {
                    ([("content-type", "text/javascript")], plotly_js.clone()).into_response()
                }),
            );
    let addr = std::env::var("STAYPUT_EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("Stayput example listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await
}
