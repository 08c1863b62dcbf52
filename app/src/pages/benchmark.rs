//! `/`: the caching benchmark from the Plotly forum thread, with the frame kept on the
//! server (server mode) or sent through the browser and back (client mode).

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::{ByteSize, FrameHandle};

use crate::api::{drop_frame, frame_histogram};
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
    /// The frame shown in the handle's line (set once the mean is painted).
    handle: RwSignal<Option<FrameHandle>>,
    /// The frame the server holds for this page, set the moment step 1 answers: the
    /// next run replaces it, and "Mean again" reads it, even when the click comes before
    /// `handle` is shown.
    held: StoredValue<Option<FrameHandle>>,
    /// Frames whose histogram is on its way (one entry a request).
    drawing: StoredValue<Vec<FrameHandle>>,
    /// Frames a later run did not replace because their histogram was on its way (a
    /// release then would only make the histogram rebuild them); dropped once it is in.
    to_drop: StoredValue<Vec<FrameHandle>>,
    plot: NodeRef<html::Div>,
    steps: Steps,
}

impl RunView {
    /// The frame a new run may release now: the one held, unless its histogram is on
    /// its way, in which case it is dropped once that is in.
    fn take_replaceable(self) -> Option<FrameHandle> {
        let held = self.held.try_get_value().flatten()?;
        let busy = self
            .drawing
            .try_with_value(|d| d.iter().any(|h| h.id == held.id))
            .unwrap_or(false);
        if busy {
            self.to_drop.update_value(|d| d.push(held));
            return None;
        }
        Some(held)
    }

    /// The histogram of `handle` is in: drop the frame if a later run left it to us
    /// and no other histogram of it is still on its way.
    fn drawn(self, handle: &FrameHandle) {
        let same = |h: &FrameHandle| h.id == handle.id;
        let still_drawn = self.drawing.try_update_value(|d| {
            if let Some(i) = d.iter().position(same) {
                d.swap_remove(i);
            }
            d.iter().any(same)
        });
        if still_drawn != Some(false) {
            return;
        }
        let orphan = self.to_drop.try_update_value(|d| {
            let found = d.iter().position(same);
            found.map(|i| d.swap_remove(i)).is_some()
        });
        if orphan == Some(true) {
            let id = handle.id.clone();
            spawn_local(async move {
                let _ = drop_frame(id).await;
            });
        }
    }
}

/// What a click asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Click {
    /// Both steps: make a frame, then its mean.
    Run,
    /// Step 2 alone, on the frame the server already holds.
    MeanAgain,
}

/// The page's state of runs: which run is the latest, and what is in flight.
#[derive(Clone, Copy)]
struct Runs {
    /// The latest run's number (`k` in "run k"); a run whose number is no longer the
    /// latest has been superseded and writes nothing more.
    latest: RwSignal<u32>,
    /// The latest run's steps are in flight: a click now is refused. Cleared as its
    /// result is shown. (Not shown on the page itself: see `overlay`.)
    busy: RwSignal<bool>,
    /// Covers the page while a run's steps take long enough to notice: painting it (and
    /// its animation) for a 20 ms run would cost more than the run and only flicker.
    overlay: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

impl Runs {
    fn new() -> Self {
        Self {
            latest: RwSignal::new(0),
            busy: RwSignal::new(false),
            overlay: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Whether run `k` is still the latest (`false` once the page is gone).
    fn is_latest(self, k: u32) -> bool {
        self.latest.try_get_untracked() == Some(k)
    }

    /// Run `k`'s steps are over (its result shown, or failed): a click is taken again.
    fn settle(self, k: u32) {
        if self.is_latest(k) {
            self.busy.set(false);
            self.overlay.set(false);
        }
    }
}

/// The benchmark page.
#[component]
pub fn BenchmarkPage() -> impl IntoView {
    let rows = RwSignal::new(DEFAULT_ROWS.to_string());
    let mode = RwSignal::new(Mode::Server);
    let runs = Runs::new();
    let error = runs.error;
    let overlay = runs.overlay;
    let ready = RwSignal::new(false);
    let view_state = RunView {
        result: RwSignal::new(None),
        handle: RwSignal::new(None),
        held: StoredValue::new(None),
        drawing: StoredValue::new(Vec::new()),
        to_drop: StoredValue::new(Vec::new()),
        plot: NodeRef::new(),
        steps: Steps::new(),
    };
    // Effects run only in the browser: open the steps' channel, and mark the page as
    // hydrated for tests.
    Effect::new(move |_| {
        view_state.steps.connect();
        ready.set(true);
    });

    // One click. No click is lost: once a run's mean is shown, a click starts the next
    // run at once, and the last run's histogram, if it is still on its way, is dropped.
    // While its steps are in flight a click is refused: within the overlay's delay it is
    // the same click twice (a double click is one run); after it, the overlay covers the
    // page and the buttons are disabled and `aria-busy`. Nothing on the page changes at
    // the click itself: a change then made Chromium draw a frame that took the vsync
    // slot the mean would have been painted in (1e6: 18.0 ms painted, 8.2 ms of it from
    // the DOM to the frame, against 9.6 / 1.0 ms without; docs/BENCHMARKS.md).
    let start = move |click: Click| {
        if runs.busy.get_untracked() {
            return;
        }
        let reuse = match click {
            Click::Run => None,
            Click::MeanAgain => match view_state
                .held
                .get_value()
                .filter(|_| view_state.handle.with_untracked(Option::is_some))
            {
                Some(handle) => Some(handle),
                None => return,
            },
        };
        let k = runs.latest.get_untracked() + 1;
        let rows_text = rows.get_untracked();
        let mode = mode.get_untracked();
        // Spawned first: the run is queued ahead of the render effects the writes below
        // wake, so step 1 leaves before they run.
        spawn_local(async move {
            if let Err(err) = run_once(k, &rows_text, mode, reuse, view_state, runs).await {
                if runs.is_latest(k) {
                    error.set(Some(err.to_string()));
                }
            }
            runs.settle(k);
        });
        runs.latest.set(k);
        runs.busy.set(true);
        error.set(None);
        set_timeout(
            move || {
                if runs.is_latest(k) && runs.busy.try_get_untracked() == Some(true) {
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
                <button
                    data-testid="run"
                    on:click=move |_| start(Click::Run)
                    disabled=move || overlay.get()
                    aria-busy=move || overlay.get().to_string()
                >
                    "Run benchmark"
                </button>
                <button
                    data-testid="again"
                    class="secondary"
                    title="Step 2 only: the mean of the frame the server already holds"
                    on:click=move |_| start(Click::MeanAgain)
                    disabled=move || overlay.get() || view_state.handle.with(Option::is_none)
                    aria-busy=move || overlay.get().to_string()
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
/// fetch and draw the histogram, unless a later click has superseded this run by then.
async fn run_once(
    k: u32,
    rows_text: &str,
    mode: Mode,
    reuse: Option<FrameHandle>,
    view_state: RunView,
    runs: Runs,
) -> Result<(), StayputError> {
    let rows: u64 = rows_text
        .trim()
        .parse()
        .map_err(|_| StayputError::InvalidSize(rows_text.to_owned()))?;
    let started = browser::now_ms();
    browser::mark("stayput:run");
    // The mean is what the user waits for. Written in one go with the end of the steps,
    // so the next click is taken as soon as the result can be seen.
    let show = |mean: f64| {
        let elapsed = (browser::now_ms() - started) / 1000.0;
        view_state.result.set(Some(format!(
            "run {k}: ELAPSED = {elapsed:.4}s (and mean is {mean:.3})"
        )));
        runs.settle(k);
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
    // The mean reaches the DOM (`after_render`) before the handle's line and the
    // histogram's request are even started.
    let figure = match (mode, reuse) {
        (_, Some(handle)) => {
            show(mean_of(handle.clone()).await?);
            browser::after_render().await;
            view_state.handle.set(Some(handle.clone()));
            histogram_after_paint(handle, k, runs, view_state).await?
        }
        (Mode::Server, None) => {
            let replaces = view_state.take_replaceable();
            let handle = match steps.run(Step::Create { rows, replaces }).await? {
                StepReply::Created(handle) => {
                    browser::mark("stayput:created");
                    handle
                }
                _ => return Err(StayputError::Network("an unexpected reply".into())),
            };
            view_state.held.set_value(Some(handle.clone()));
            show(mean_of(handle.clone()).await?);
            browser::after_render().await;
            view_state.handle.set(Some(handle.clone()));
            histogram_after_paint(handle, k, runs, view_state).await?
        }
        (Mode::Client, None) => {
            // The frame the server holds stays `held`: the next run in server mode
            // replaces it.
            let reply = browser::client_round_trip(rows).await?;
            show(reply.mean);
            browser::after_render().await;
            view_state.handle.set(None);
            browser::after_paint().await;
            Some(reply.figure)
        }
    };
    // Superseded: a later click owns the plot now.
    let Some(figure) = figure.filter(|_| runs.is_latest(k)) else {
        return Ok(());
    };
    let root = view_state
        .plot
        .try_get_untracked()
        .flatten()
        .ok_or_else(|| StayputError::Draw("the plot area is missing".into()))?;
    browser::draw_figure(&root, &figure).await?;
    if !runs.is_latest(k) {
        return Ok(());
    }
    root.set_attribute("data-token", &k.to_string())
        .map_err(|_| StayputError::Draw("could not mark the plot".into()))
}

/// The histogram of `handle`, asked for only once the mean shown just before it has been
/// painted. Drawn in the same frame, its plotly draw (tens of ms) held back the paint of
/// the mean, which is what the user waits for (measured at 1e3: mean in the DOM after
/// ~10 ms, painted after ~57 ms); asked for at once, its computation on the server and
/// its fetch took the 2-core machine's CPU from the frame that paints the mean (at 1e6,
/// 40 runs: median click → painted 24.1 ms with the fetch at once, 19.1 ms after).
///
/// `None` when a later click superseded run `k` before the histogram was asked for.
/// While it is on its way, a later run does not release the frame (the histogram's read
/// would rebuild it) but drops it once it is in ([`RunView::drawn`]).
async fn histogram_after_paint(
    handle: FrameHandle,
    k: u32,
    runs: Runs,
    view_state: RunView,
) -> Result<Option<String>, StayputError> {
    browser::after_paint().await;
    if !runs.is_latest(k) {
        return Ok(None);
    }
    view_state.drawing.update_value(|d| d.push(handle.clone()));
    let figure = frame_histogram(handle.clone()).await;
    view_state.drawn(&handle);
    figure.map(Some)
}
