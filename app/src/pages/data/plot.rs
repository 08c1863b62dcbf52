//! `/data`'s plot panel: any two columns as a figure reduced on the server, zoomed on
//! the server.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::forms::{is_numeric, ColumnPick};
use super::DataView;
use crate::api::data_plot;
use crate::browser;
use crate::contract::figure::{ChartKind, SavedFigure};
use crate::contract::sizes::with_thousands;

/// What the plot panel's draws read; `Copy`, so the zoom handler can hold it.
#[derive(Clone, Copy)]
struct PlotState {
    view_state: DataView,
    x: RwSignal<String>,
    y: RwSignal<String>,
    kind: RwSignal<ChartKind>,
    note: RwSignal<String>,
    /// The x range drawn (`None`: all of it).
    range: RwSignal<Option<(f64, f64)>>,
    /// Number of the latest request: older replies are dropped.
    latest: StoredValue<u64>,
    hooked: StoredValue<bool>,
    plot: NodeRef<html::Div>,
}

/// Asks for the figure of the frame on show within `zoom` and draws it; a zoom on the
/// drawn figure asks again for the new range, re-reduced on the server.
fn draw(state: PlotState, zoom: Option<(f64, f64)>) {
    let Some(handle) = state.view_state.handle.get_untracked() else {
        return;
    };
    let Some(root) = state.plot.get_untracked() else {
        return;
    };
    let width = root.client_width().max(300) as u32;
    state.latest.update_value(|n| *n += 1);
    let mine = state.latest.get_value();
    state.range.set(zoom);
    state.view_state.error.set(None);
    state.note.set("drawing…".into());
    let handle_id = handle.id.to_string();
    spawn_local(async move {
        let (lo, hi) = (zoom.map(|r| r.0), zoom.map(|r| r.1));
        let reply = data_plot(
            handle,
            state.x.get_untracked(),
            state.y.get_untracked(),
            state.kind.get_untracked(),
            lo,
            hi,
            width,
        )
        .await;
        if state.latest.get_value() != mine {
            return; // a newer request was made meanwhile
        }
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => {
                state.note.set(String::new());
                state.view_state.fail(err);
                return;
            }
        };
        let element: &web_sys::Element = &root;
        if let Err(err) = browser::draw_figure(element, &reply.figure).await {
            state.view_state.fail(err);
            return;
        }
        state.note.set(format!(
            "{} points drawn of {} rows",
            with_thousands(reply.points),
            with_thousands(reply.rows_in_range)
        ));
        remember(state, &handle_id, zoom);
        if !state.hooked.get_value() {
            state.hooked.set_value(true);
            let hooked = browser::on_x_relayout(element, move |range| {
                if range != state.range.get_untracked() {
                    draw(state, range);
                }
            });
            if let Err(err) = hooked {
                state.view_state.fail(err);
            }
        }
    });
}

/// The frame and its figure written into the URL, for a reload or a link to restore.
fn remember(state: PlotState, handle_id: &str, range: Option<(f64, f64)>) {
    let saved = SavedFigure {
        x: state.x.get_untracked(),
        y: state.y.get_untracked(),
        kind: state.kind.get_untracked(),
        range,
    };
    browser::replace_query("/data", &[("h", handle_id), ("plot", &saved.to_param())]);
}

/// Draws the figure the URL held when the page was opened, once the frame's columns are
/// in (so the pickers show it).
fn restore(state: PlotState) {
    Effect::new(move |_| {
        if state.view_state.info().is_none() {
            return;
        }
        let Some(saved) = state
            .view_state
            .saved_plot
            .try_update_value(Option::take)
            .flatten()
        else {
            return;
        };
        let Some(saved) = SavedFigure::from_param(&saved) else {
            return;
        };
        state.x.set(saved.x);
        state.y.set(saved.y);
        state.kind.set(saved.kind);
        draw(state, saved.range);
    });
}

/// x and y from the frame's columns, drawn with the figure engine (an unsorted x is
/// sorted on the server).
#[component]
pub fn PlotPanel(view_state: DataView) -> AnyView {
    let x = RwSignal::new(String::new());
    let y = RwSignal::new(String::new());
    let kind = RwSignal::new(ChartKind::Line);
    let note = RwSignal::new(String::new());
    let plot = NodeRef::<html::Div>::new();
    let state = PlotState {
        view_state,
        x,
        y,
        kind,
        note,
        range: RwSignal::new(None),
        latest: StoredValue::new(0),
        hooked: StoredValue::new(false),
        plot,
    };
    restore(state);
    let draw = move |_| draw(state, None);
    view! {
        <section class="plot-panel">
            <h3>"Plot"</h3>
            <div class="controls">
                <span>"x "</span>
                <ColumnPick view_state=view_state value=x testid="plot-x"/>
                <span>" y "</span>
                <ColumnPick view_state=view_state value=y keep=is_numeric testid="plot-y"/>
                <select
                    data-testid="plot-kind"
                    prop:value=move || kind.get().as_str()
                    on:change=move |ev| kind.set(ChartKind::parse(&event_target_value(&ev)).unwrap_or(ChartKind::Line))
                >
                    {ChartKind::ALL.iter().map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> }).collect_view()}
                </select>
                <button data-testid="apply-plot" on:click=draw>"Plot"</button>
                <span class="muted" data-testid="plot-note">{move || note.get()}</span>
            </div>
            <div class="plot" data-testid="plot" node_ref=plot></div>
        </section>
    }
    .into_any()
}
