//! `/explore`: a figure of any size. The frame stays on the server; the server reduces it
//! to about two points per pixel column and re-reduces the visible range on every zoom.
//!
//! - this module: the page, its form, Make and the restore from the URL;
//! - `draw`: a figure request per spec or zoom, stale replies dropped, zooms coalesced.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::FrameHandle;

use crate::api::{cache_view, explore_limits, explore_make, frame_columns};
use crate::browser;
use crate::contract::figure::{data, first_axes, ChartKind, ColumnInfo, SavedFigure, EMPTY_FIGURE};
use crate::contract::recipes::CREATE_FRAME;
use crate::contract::sizes::with_thousands;
use crate::contract::StayputError;
use crate::steps::Steps;

mod draw;
use draw::{next_request, plot_width, redraw, settle, show};

/// Row counts on offer (those the server's settings can hold, see [`ExploreSizes`]).
const SERIES_ROWS: [u64; 6] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
/// Uniform randoms also come larger than memory, made on disk.
const DISK_ROWS: u64 = crate::contract::sizes::MAX_DISK_ROWS;

/// Everything a draw reads; `Copy`, so event handlers can share it.
#[derive(Clone, Copy)]
struct Explorer {
    handle: RwSignal<Option<FrameHandle>>,
    /// The frame this page's Make made last: released when Make makes the next.
    made: RwSignal<Option<FrameHandle>>,
    x: RwSignal<String>,
    y: RwSignal<String>,
    kind: RwSignal<ChartKind>,
    range: RwSignal<Option<(f64, f64)>>,
    error: RwSignal<Option<String>>,
    reduction: RwSignal<String>,
    /// Number of the latest figure request: older replies are dropped.
    latest: StoredValue<u64>,
    /// A figure request is on its way (zooms then wait for it, coalesced).
    in_flight: StoredValue<bool>,
    /// The newest zoom that arrived while a request was on its way: asked for as soon
    /// as that request is answered, so a drag never floods the server and a single
    /// zoom never waits.
    pending_zoom: StoredValue<Option<Option<(f64, f64)>>>,
    draws: StoredValue<u64>,
    hooked: StoredValue<bool>,
    plot: NodeRef<html::Div>,
    /// The page's steps socket: figure requests go on it (HTTP until it is open).
    steps: Steps,
}

/// The explore page.
#[component]
pub fn ExplorePage() -> impl IntoView {
    let rows = RwSignal::new(1_000_000_u64.to_string());
    let kind_of_data = RwSignal::new(data::SERIES.to_owned());
    // The sizes this server offers (read once, in the browser); until they are in, or if
    // they cannot be read, every size is offered and the server refuses what it must.
    let limits = LocalResource::new(explore_limits);
    // Each size with whether it is made on disk (larger than memory).
    let offered = move || {
        let kind = kind_of_data.get();
        let (most, in_memory) = match limits.get() {
            Some(Ok(l)) => (
                l.max_rows(&kind),
                if kind == data::UNIFORM {
                    l.uniform_memory_rows
                } else {
                    u64::MAX
                },
            ),
            Some(Err(err)) => {
                leptos::logging::warn!("sizes on offer unknown: {err}");
                (u64::MAX, u64::MAX)
            }
            None => (u64::MAX, u64::MAX),
        };
        let disk = (kind == data::UNIFORM).then_some(DISK_ROWS);
        SERIES_ROWS
            .iter()
            .copied()
            .chain(disk)
            .filter(move |&n| n <= most)
            .map(move |n| (n, n > in_memory))
    };
    let columns = RwSignal::new(Vec::<ColumnInfo>::new());
    let ready = RwSignal::new(false);
    let making = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let ex = Explorer {
        handle: RwSignal::new(None),
        made: RwSignal::new(None),
        x: RwSignal::new(String::new()),
        y: RwSignal::new(String::new()),
        kind: RwSignal::new(ChartKind::Line),
        range: RwSignal::new(None),
        error: RwSignal::new(None),
        reduction: RwSignal::new(String::new()),
        latest: StoredValue::new(0),
        in_flight: StoredValue::new(false),
        pending_zoom: StoredValue::new(None),
        draws: StoredValue::new(0),
        hooked: StoredValue::new(false),
        plot: NodeRef::new(),
        steps: Steps::new(),
    };
    Effect::new(move |_| ex.steps.connect());
    let query = leptos_router::hooks::use_query_map();
    // A frame named in the URL (a reload, a link from /cache) is drawn as it was; one
    // from another session reads as unknown.
    Effect::new(move |_| {
        let Some(id) = query.with_untracked(|q| q.get("h")) else {
            return;
        };
        let saved = query
            .with_untracked(|q| q.get("view"))
            .and_then(|v| SavedFigure::from_param(&v));
        making.set(true);
        spawn_local(async move {
            let handle = FrameHandle {
                id: id.into(),
                rows: 0,
                cols: 0,
                bytes: 0,
            };
            match frame_columns(handle.clone()).await {
                Ok(cols) => {
                    let (x, y) = first_axes(&cols);
                    let saved = saved.unwrap_or(SavedFigure {
                        x,
                        y,
                        kind: ChartKind::Line,
                        range: None,
                    });
                    ex.x.set(saved.x);
                    ex.y.set(saved.y);
                    ex.kind.set(saved.kind);
                    columns.set(cols);
                    ex.handle.set(Some(handle));
                    redraw(ex, saved.range);
                }
                Err(err) => ex.error.set(Some(err.to_string())),
            }
            making.set(false);
        });
    });
    // An empty plot as soon as the page runs, as Dash draws an empty graph: the first
    // figure then redraws a plot that is set up (plotly's first `newPlot` on a page
    // took 80-97 ms here, measured in the make + first draw bench).
    Effect::new(move |_| {
        if let Some(root) = ex.plot.get() {
            if ex.draws.get_value() == 0 {
                spawn_local(async move {
                    if let Err(err) = browser::draw_figure(&root, EMPTY_FIGURE).await {
                        leptos::logging::warn!("no empty plot: {err}");
                    }
                });
            }
        }
    });

    let make = move |_| {
        let Ok(n) = rows.get_untracked().parse::<u64>() else {
            ex.error
                .set(Some(StayputError::InvalidSize(rows.get_untracked()).to_string()));
            return;
        };
        making.set(true);
        ex.error.set(None);
        let kind = kind_of_data.get_untracked();
        // Replies to figure requests of the frame this replaces are dropped from now on.
        let seq = next_request(ex);
        let width = plot_width(ex);
        let chart = ex.kind.get_untracked();
        spawn_local(async move {
            let started = browser::now_ms();
            let answer = explore_make(kind, n, ex.made.get_untracked(), chart, width).await;
            let Some(latest) = ex.latest.try_get_value() else {
                return; // the page is gone
            };
            match answer {
                Ok(made) => {
                    ex.x.set(made.x);
                    ex.y.set(made.y);
                    columns.set(made.columns);
                    ex.made.set(Some(made.handle.clone()));
                    ex.handle.set(Some(made.handle));
                    ex.range.set(None);
                    // A zoom of the figure this replaces means nothing for the new one.
                    ex.pending_zoom.set_value(None);
                    if latest == seq {
                        let shown = show(ex, &made.figure, started).await;
                        ex.error.set(shown.err().map(|e| e.to_string()));
                        settle(ex, seq);
                    } else {
                        // Superseded (the pickers are disabled while Make runs, so only
                        // by a request made before it): draw the new frame as it stands.
                        redraw(ex, None);
                    }
                }
                Err(err) => {
                    ex.error.set(Some(err.to_string()));
                    settle(ex, seq);
                }
            }
            making.set(false);
        });
    };
    let use_benchmark = move |_| {
        making.set(true);
        ex.error.set(None);
        spawn_local(async move {
            match load_benchmark_frame().await {
                Ok((handle, cols)) => {
                    let (x, y) = first_axes(&cols);
                    ex.x.set(x);
                    ex.y.set(y);
                    columns.set(cols);
                    ex.handle.set(Some(handle));
                    redraw(ex, None);
                }
                Err(err) => ex.error.set(Some(err.to_string())),
            }
            making.set(false);
        });
    };
    let options = move |want_x: bool| {
        columns
            .get()
            .into_iter()
            .filter(move |c| if want_x { c.sorted } else { c.numeric })
            .map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> })
            .collect_view()
    };

    view! {
        <section
            class="explore"
            data-ready=move || ready.get().to_string()
            data-steps=move || if ex.steps.on_socket() { "socket" } else { "http" }
        >
            <header>
                <h1>"Explore"</h1>
                <p class="lede">
                    "Figures of any size: the server sends about two points per pixel and re-reduces the visible range when you zoom. Double-click resets."
                </p>
            </header>
            <div class="controls">
                <label>
                    "Data "
                    <select
                        data-testid="series-kind"
                        title="Uniform randoms: one column, the work plotly-resampler's reference does"
                        on:change=move |ev| kind_of_data.set(event_target_value(&ev))
                    >
                        <option value=data::SERIES>"time series (4 columns)"</option>
                        <option value=data::UNIFORM>"uniform randoms (1 column)"</option>
                    </select>
                </label>
                <label>
                    "rows "
                    <select
                        data-testid="series-rows"
                        prop:value=move || rows.get()
                        on:change=move |ev| rows.set(event_target_value(&ev))
                    >
                        {move || {
                            offered()
                                .map(|(n, on_disk)| {
                                    let label = if on_disk {
                                        format!("{} (on disk)", with_thousands(n))
                                    } else {
                                        with_thousands(n)
                                    };
                                    view! {
                                        <option value=n.to_string() selected=n == 1_000_000>
                                            {label}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
                <button data-testid="make-series" on:click=make disabled=move || making.get()>
                    "Make"
                </button>
                <button
                    data-testid="use-benchmark"
                    class="secondary"
                    title="The frame your last benchmark run left on the server"
                    on:click=use_benchmark
                    disabled=move || making.get()
                >
                    "Use my benchmark frame"
                </button>
            </div>
            <div class="controls">
                <label>
                    "x "
                    <select
                        data-testid="x"
                        disabled=move || making.get()
                        prop:value=move || ex.x.get()
                        on:change=move |ev| {
                            ex.x.set(event_target_value(&ev));
                            redraw(ex, None);
                        }
                    >
                        {move || options(true)}
                    </select>
                </label>
                <label>
                    "y "
                    <select
                        data-testid="y"
                        disabled=move || making.get()
                        prop:value=move || ex.y.get()
                        on:change=move |ev| {
                            ex.y.set(event_target_value(&ev));
                            redraw(ex, None);
                        }
                    >
                        {move || options(false)}
                    </select>
                </label>
                <label>
                    "chart "
                    <select
                        data-testid="kind"
                        disabled=move || making.get()
                        prop:value=move || ex.kind.get().as_str()
                        on:change=move |ev| {
                            if let Some(kind) = ChartKind::parse(&event_target_value(&ev)) {
                                ex.kind.set(kind);
                                redraw(ex, None);
                            }
                        }
                    >
                        {ChartKind::ALL
                            .iter()
                            .map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <Show when=move || ex.error.get().is_some()>
                <p data-testid="error" class="error" role="alert">{move || ex.error.get().unwrap_or_default()}</p>
            </Show>
            <p data-testid="reduction" class="muted">
                {move || ex.reduction.get()}
                <Show when=move || ex.handle.get().is_some()>
                    " · "
                    <a
                        data-testid="open-linked"
                        href=move || {
                            ex.handle
                                .get()
                                .map(|h| format!("{}?h={}", crate::contract::linked::LINKED_PATH, h.id))
                                .unwrap_or_default()
                        }
                    >
                        "Open in a linked view"
                    </a>
                </Show>
            </p>
            <div class="plot explore-plot" data-testid="figure" node_ref=ex.plot></div>
        </section>
    }
}

/// The newest benchmark frame this session holds on the server, and its columns.
async fn load_benchmark_frame() -> Result<(FrameHandle, Vec<ColumnInfo>), StayputError> {
    let listing = cache_view().await?;
    let newest = listing
        .entries
        .into_iter()
        .rev()
        .find(|e| e.lineage.as_ref().is_some_and(|l| l.function == CREATE_FRAME))
        .ok_or(StayputError::NoBenchmarkFrame)?;
    let handle = newest.handle();
    let columns = frame_columns(handle.clone()).await?;
    Ok((handle, columns))
}
