//! `/`: the caching benchmark from the Plotly forum thread, with the frame kept on the
//! server (server mode) or sent through the browser and back (client mode).

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::{ByteSize, FrameHandle};

use crate::api::frame_histogram;
use crate::browser;
use crate::contract::benchmark::{MeanReply, Step, StepReply};
use crate::contract::sizes::{with_thousands, DEFAULT_ROWS, OFFERED};
use crate::contract::StayputError;
use crate::steps::Steps;

/// How long a run goes before the loading overlay covers the page.
const OVERLAY_DELAY: std::time::Duration = std::time::Duration::from_millis(120);

/// Where the frame lives between the two steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The frame stays on the server; the browser holds a handle.
    Server,
    /// The frame travels to the browser and back.
    Client,
}

/// The signals one run writes to, and the channel its steps go on.
#[derive(Clone, Copy)]
struct RunView {
    result: RwSignal<Option<String>>,
    handle: RwSignal<Option<FrameHandle>>,
    plot: NodeRef<html::Div>,
    steps: Steps,
}

/// The benchmark page.
#[component]
pub fn BenchmarkPage() -> impl IntoView {
    let rows = RwSignal::new(DEFAULT_ROWS.to_string());
    let mode = RwSignal::new(Mode::Server);
    let running = RwSignal::new(false);
    // The overlay appears only when a run takes long enough to notice: painting it (and
    // its animation) for a 20 ms run would cost more than the run and only flicker.
    let overlay = RwSignal::new(false);
    let runs = RwSignal::new(0_u32);
    let error = RwSignal::new(None::<String>);
    let ready = RwSignal::new(false);
    let view_state = RunView {
        result: RwSignal::new(None),
        handle: RwSignal::new(None),
        plot: NodeRef::new(),
        steps: Steps::new(),
    };
    // Effects run only in the browser: open the steps' channel, and mark the page as
    // hydrated for tests.
    Effect::new(move |_| {
        view_state.steps.connect();
        ready.set(true);
    });

    // One click: `reuse` is `None` for a full run (both steps), or the current handle
    // for step 2 alone on the frame the server already holds.
    let start = move |reuse: Option<FrameHandle>| {
        if running.get_untracked() {
            return;
        }
        let k = runs.get_untracked() + 1;
        let rows_text = rows.get_untracked();
        let mode = mode.get_untracked();
        // Spawned first: the run is queued ahead of the render effects the writes below
        // wake, so step 1 leaves before they run.
        spawn_local(async move {
            if let Err(err) = run_once(k, &rows_text, mode, reuse, view_state).await {
                error.set(Some(err.to_string()));
            }
            running.set(false);
            overlay.set(false);
        });
        runs.set(k);
        error.set(None);
        running.set(true);
        set_timeout(
            move || {
                if running.get_untracked() && runs.get_untracked() == k {
                    overlay.set(true);
                }
            },
            OVERLAY_DELAY,
        );
    };

    view! {
        <section
            class="benchmark"
            data-ready=move || ready.get().to_string()
            data-steps=move || if view_state.steps.on_socket() { "socket" } else { "http" }
        >
            <header>
                <h1>"Stayput"</h1>
                <p class="lede">
                    "DataFrames stay put on the server. The browser holds a handle and receives only the figure."
                </p>
            </header>
            <div class="controls">
                <label>
                    "Rows "
                    <select data-testid="size" on:change=move |ev| rows.set(event_target_value(&ev))>
                        {OFFERED
                            .iter()
                            .map(|&n| {
                                view! {
                                    <option value=n.to_string() selected=n == DEFAULT_ROWS>
                                        {with_thousands(n)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Mode "
                    <select
                        data-testid="mode"
                        on:change=move |ev| {
                            mode.set(if event_target_value(&ev) == "client" { Mode::Client } else { Mode::Server })
                        }
                    >
                        <option value="server" selected=true>"server: the frame stays put"</option>
                        <option value="client">"client: the frame travels"</option>
                    </select>
                </label>
                <button data-testid="run" on:click=move |_| start(None) disabled=move || overlay.get()>
                    "Run benchmark"
                </button>
                <button
                    data-testid="again"
                    class="secondary"
                    title="Step 2 only: the mean of the frame the server already holds"
                    on:click=move |_| start(view_state.handle.get_untracked())
                    disabled=move || overlay.get() || view_state.handle.with(Option::is_none)
                >
                    "Mean again"
                </button>
            </div>
            <p data-testid="result" class="result">{move || view_state.result.get().unwrap_or_default()}</p>
            <Show when=move || error.get().is_some()>
                <p data-testid="error" class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <p class="handle">
                {move || {
                    view_state
                        .handle
                        .get()
                        .map(|h| {
                            format!(
                                "On the server: frame {} · {} rows · {}. The browser holds only its handle.",
                                h.short_id(),
                                with_thousands(h.rows),
                                ByteSize(h.bytes),
                            )
                        })
                }}
            </p>
            <div class="plot" data-testid="histogram" node_ref=view_state.plot></div>
            <Show when=move || overlay.get()>
                <div class="overlay" data-testid="loading" aria-busy="true">
                    <div class="spinner"></div>
                    <p>"Running…"</p>
                </div>
            </Show>
        </section>
    }
}

/// One click: step 1 (unless `reuse` names the frame), step 2, show the result, then
/// fetch and draw the histogram.
async fn run_once(
    k: u32,
    rows_text: &str,
    mode: Mode,
    reuse: Option<FrameHandle>,
    view_state: RunView,
) -> Result<(), StayputError> {
    let rows: u64 = rows_text
        .trim()
        .parse()
        .map_err(|_| StayputError::InvalidSize(rows_text.to_owned()))?;
    let started = browser::now_ms();
    browser::mark("stayput:run");
    let show = |mean: f64| {
        let elapsed = (browser::now_ms() - started) / 1000.0;
        view_state.result.set(Some(format!(
            "run {k}: ELAPSED = {elapsed:.4}s (and mean is {mean:.3})"
        )));
    };
    let steps = view_state.steps;
    let mean_of = |handle: FrameHandle| async move {
        match steps.run(Step::Mean { handle }).await? {
            StepReply::Mean(MeanReply { mean }) => {
                browser::mark("stayput:mean");
                Ok(mean)
            }
            _ => Err(StayputError::Network("an unexpected reply".into())),
        }
    };
    // The mean is what the user waits for: it reaches the DOM (`after_render`) before the
    // handle's line and the histogram's request are even started.
    let figure = match (mode, reuse) {
        (_, Some(handle)) => {
            show(mean_of(handle.clone()).await?);
            browser::after_render().await;
            histogram_after_paint(handle).await?
        }
        (Mode::Server, None) => {
            let replaces = view_state.handle.get_untracked();
            let handle = match steps.run(Step::Create { rows, replaces }).await? {
                StepReply::Created(handle) => {
                    browser::mark("stayput:created");
                    handle
                }
                _ => return Err(StayputError::Network("an unexpected reply".into())),
            };
            show(mean_of(handle.clone()).await?);
            browser::after_render().await;
            view_state.handle.set(Some(handle.clone()));
            histogram_after_paint(handle).await?
        }
        (Mode::Client, None) => {
            let reply = browser::client_round_trip(rows).await?;
            show(reply.mean);
            browser::after_render().await;
            view_state.handle.set(None);
            browser::after_paint().await;
            reply.figure
        }
    };
    let root = view_state
        .plot
        .get_untracked()
        .ok_or_else(|| StayputError::Draw("the plot area is missing".into()))?;
    browser::draw_figure(&root, &figure).await?;
    root.set_attribute("data-token", &k.to_string())
        .map_err(|_| StayputError::Draw("could not mark the plot".into()))
}

/// The histogram of `handle`, asked for only once the mean shown just before it has been
/// painted. Drawn in the same frame, its plotly draw (tens of ms) held back the paint of
/// the mean, which is what the user waits for (measured at 1e3: mean in the DOM after
/// ~10 ms, painted after ~57 ms); asked for at once, its computation on the server and
/// its fetch took the 2-core machine's CPU from the frame that paints the mean (at 1e6,
/// 40 runs: median click → painted 24.1 ms with the fetch at once, 19.1 ms after).
async fn histogram_after_paint(handle: FrameHandle) -> Result<String, StayputError> {
    browser::after_paint().await;
    frame_histogram(handle).await
}
