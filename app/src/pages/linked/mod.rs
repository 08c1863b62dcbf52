//! `/linked`: several figures of one frame, linked. A brush on one (a range on a
//! histogram, bars picked, a box or lasso on a line) re-aggregates every other figure on
//! the server against the rows it keeps; zooming a line zooms every figure over the same
//! x. Only figure JSON crosses. The whole view (handle, figures, selections, ranges) is
//! in the URL, so a reload or a link restores it; in another session the handle reads as
//! unknown.
//!
//! - this module: the page and its state;
//! - [`requests`]: the figures asked for and drawn, and the gestures that ask;
//! - [`add_figure`]: the form that adds a figure.

pub mod add_figure;
mod requests;

use add_figure::AddFigure;
use requests::{on_brush, plot_id, request};

use futures::channel::oneshot;
use futures::future::Shared;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::FrameHandle;

use crate::api::{cache_view, data_transform, frame_columns};
use crate::browser;
use crate::contract::data::Transform;
use crate::contract::figure::ColumnInfo;
use crate::contract::linked::{LinkedView, LINKED_PATH};
use crate::contract::recipes::{TRANSFORM, UPLOAD};
use crate::contract::sizes::with_thousands;
use crate::contract::StayputError;

/// Everything a draw reads (the page's state); `Copy`, so event handlers can share it.
#[derive(Clone, Copy)]
pub struct Linked {
    handle: RwSignal<Option<FrameHandle>>,
    view: RwSignal<LinkedView>,
    /// The frame was made from a file, so a selection can be kept as a step.
    keepable: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// What each figure drew, under it.
    notes: RwSignal<Vec<String>>,
    /// Number of the newest request whose reply is in, for each figure: older replies not
    /// yet drawn are dropped.
    latest: StoredValue<Vec<u64>>,
    requests: StoredValue<u64>,
    in_flight: StoredValue<bool>,
    /// Figures waiting to be asked for, one a request, as soon as the one on its way is
    /// answered (a burst of brushes asks once for each figure; a single brush never
    /// waits).
    pending: StoredValue<Vec<usize>>,
    hooked: StoredValue<Vec<bool>>,
    /// Bumped when the figures change (added, removed, another frame opened).
    generation: StoredValue<u64>,
    /// Figures being redrawn by the page (their selection events are the redraw's).
    drawing: StoredValue<Vec<usize>>,
    /// The frame's columns, for the add-a-figure form.
    columns: RwSignal<Vec<ColumnInfo>>,
    /// Each plot's width, read after its last paint (0: not known). A gesture's request
    /// then sets off without making the browser lay the page out first; a resize of the
    /// window or a change of the figures forgets them.
    widths: StoredValue<Vec<u32>>,
    /// Resolves when the newest reply asked for has been drawn and painted (or dropped):
    /// the next reply is drawn after it.
    drawn: StoredValue<Option<Shared<oneshot::Receiver<()>>>>,
}

/// The page's state written into its URL.
fn remember(ln: Linked) {
    let Some(handle) = ln.handle.get_untracked() else {
        return;
    };
    let view = ln.view.with_untracked(LinkedView::to_param);
    browser::replace_query(LINKED_PATH, &[("h", handle.id.as_str()), ("view", &view)]);
}

/// Opens the frame `handle` with `view` (its first view when `None`).
async fn open(ln: Linked, handle: FrameHandle, view: Option<LinkedView>) -> Result<(), StayputError> {
    let columns = frame_columns(handle.clone()).await?;
    let view = match view {
        Some(view) => view,
        None => LinkedView::first_for(&columns),
    };
    ln.columns.set(columns);
    if view.figures.is_empty() {
        return Err(StayputError::BadSpec(
            "this frame has no numeric column to draw".into(),
        ));
    }
    // Its true shape, and whether it was made from a file (only those have a chain a
    // selection can be kept in).
    let entry = cache_view()
        .await?
        .entries
        .into_iter()
        .find(|e| e.id == handle.id)
        .ok_or(StayputError::UnknownHandle)?;
    ln.keepable.set(
        entry
            .lineage
            .as_ref()
            .is_some_and(|l| l.function == UPLOAD || l.function == TRANSFORM),
    );
    ln.handle.set(Some(entry.handle()));
    let count = view.figures.len();
    let before = ln.view.with_untracked(|v| v.figures.len());
    ln.view.set(view);
    ln.notes.set(vec![String::new(); count]);
    remember(ln);
    if count == before {
        // The same plots (a kept selection): drawn again here, since the page's watch of
        // the figure count does not fire.
        browser::after_render().await;
        request(ln, (0..count).collect());
    }
    Ok(())
}

/// Keeps the rows of every selection as a step: a new frame, shown with the same
/// figures. An action: its button waits while one is on its way, so a second click is
/// plainly refused, never lost or doubled.
fn keep_action(ln: Linked) -> Action<(), Result<(), StayputError>> {
    Action::new_local(move |_: &()| async move {
        let Some(handle) = ln.handle.get_untracked() else {
            return Ok(());
        };
        let clauses = ln.view.with_untracked(LinkedView::all_clauses);
        if clauses.is_empty() {
            return Ok(());
        }
        let kept = data_transform(handle, Transform::Within(clauses)).await?;
        ln.generation.update_value(|g| *g += 1);
        let mut view = ln.view.get_untracked();
        view.selections = vec![None; view.figures.len()];
        view.ranges.clear();
        open(ln, kept, Some(view)).await
    })
}

/// The linked view page.
#[component]
pub fn LinkedPage() -> impl IntoView {
    let ready = RwSignal::new(false);
    let ln = Linked {
        handle: RwSignal::new(None),
        view: RwSignal::new(LinkedView::default()),
        keepable: RwSignal::new(false),
        error: RwSignal::new(None),
        notes: RwSignal::new(Vec::new()),
        latest: StoredValue::new(Vec::new()),
        requests: StoredValue::new(0),
        in_flight: StoredValue::new(false),
        pending: StoredValue::new(Vec::new()),
        hooked: StoredValue::new(Vec::new()),
        drawing: StoredValue::new(Vec::new()),
        generation: StoredValue::new(0),
        columns: RwSignal::new(Vec::new()),
        widths: StoredValue::new(Vec::new()),
        drawn: StoredValue::new(None),
    };
    let resized = window_event_listener(leptos::ev::resize, move |_| ln.widths.set_value(Vec::new()));
    on_cleanup(move || resized.remove());
    let query = leptos_router::hooks::use_query_map();
    Effect::new(move |_| {
        ready.set(true);
        let Some(id) = query.with_untracked(|q| q.get("h")) else {
            ln.error.set(Some(
                "no frame to show: open one from /cache, /data or /explore".into(),
            ));
            return;
        };
        let view = query
            .with_untracked(|q| q.get("view"))
            .and_then(|v| LinkedView::from_param(&v));
        let handle = FrameHandle {
            id: id.into(),
            rows: 0,
            cols: 0,
            bytes: 0,
        };
        spawn_local(async move {
            if let Err(err) = open(ln, handle, view).await {
                ln.error.set(Some(err.to_string()));
            }
        });
    });
    let keeping = keep_action(ln);
    Effect::watch(
        move || keeping.version().get(),
        move |_, _, _| {
            if let Some(Err(err)) = keeping.value().get_untracked() {
                ln.error.set(Some(err.to_string()));
            }
        },
        false,
    );
    let selections = move || {
        let view = ln.view.get();
        (0..view.figures.len())
            .filter_map(|i| view.selection(i).map(|s| (i, s.clone())))
            .map(|(i, s)| {
                let label: Vec<String> = s.iter().map(|c| c.label()).collect();
                view! {
                    <li data-testid=format!("selection-{i}")>
                        {label.join(" and ")}
                        " "
                        <button
                            class="link"
                            on:click=move |_| {
                                on_brush(ln, i, None);
                                request(ln, vec![i]); // its box goes too
                            }
                        >
                            "clear"
                        </button>
                    </li>
                }
            })
            .collect_view()
    };
    let any_selection = move || ln.view.with(|v| v.selections.iter().any(Option::is_some));
    // The plots are made once per figure count: a selection or zoom redraws into them.
    let count = Memo::new(move |_| ln.view.with(|v| v.figures.len()));
    // A figure added or removed makes the plots anew: all drawn and listened to again.
    Effect::watch(
        move || count.get(),
        move |&n, _, _| {
            ln.hooked.set_value(Vec::new());
            ln.widths.set_value(Vec::new());
            ln.generation.update_value(|g| *g += 1);
            spawn_local(async move {
                browser::after_render().await;
                request(ln, (0..n).collect());
            });
        },
        false,
    );
    let clear_all = move |_| {
        ln.view
            .update(|v| v.selections.iter_mut().for_each(|s| *s = None));
        remember(ln);
        request(ln, (0..ln.view.with_untracked(|v| v.figures.len())).collect());
    };

    view! {
        <section class="linked" data-ready=move || ready.get().to_string()>
            <header>
                <h1>"Linked view"</h1>
                <p class="lede">
                    "Brush a histogram, pick bars, or box- or lasso-select a line: every other figure is re-aggregated on the server against the rows you kept. Zoom a line and the figures over the same x follow. The view is in the URL: reload it or bookmark it."
                </p>
                <p class="muted" data-testid="linked-frame">
                    {move || ln.handle.get().map(|h| format!("frame {} · {} rows", h.short_id(), with_thousands(h.rows))).unwrap_or_default()}
                </p>
            </header>
            <div class="controls">
                <button data-testid="clear-selections" class="secondary" disabled=move || !any_selection() on:click=clear_all>
                    "Clear selections"
                </button>
                <Show when=move || ln.keepable.get()>
                    <button
                        data-testid="keep-selection"
                        disabled=move || !any_selection() || keeping.pending().get()
                        title="Keep the selected rows as a new frame (a filter step with lineage)"
                        on:click=move |_| {
                            keeping.dispatch(());
                        }
                    >
                        "Keep the selection"
                    </button>
                </Show>
            </div>
            <AddFigure ln=ln/>
            <ul class="selections" data-testid="selections">{selections}</ul>
            <Show when=move || ln.error.get().is_some()>
                <p data-testid="error" class="error" role="alert">{move || ln.error.get().unwrap_or_default()}</p>
            </Show>
            <div class="linked-grid">
                {move || {
                    (0..count.get())
                        .map(|i| {
                            view! {
                                <figure class="linked-figure">
                                    <button
                                        class="link remove"
                                        data-testid=format!("remove-{i}")
                                        title="Remove this figure"
                                        on:click=move |_| {
                                            ln.view.update(|v| v.remove(i));
                                            remember(ln);
                                        }
                                    >
                                        "remove"
                                    </button>
                                    <div class="plot" id=plot_id(i) data-testid=format!("linked-{i}")></div>
                                    <figcaption class="muted" data-testid=format!("linked-note-{i}")>
                                        {move || ln.notes.with(|n| n.get(i).cloned().unwrap_or_default())}
                                    </figcaption>
                                </figure>
                            }
                        })
                        .collect_view()
                }}
            </div>
        </section>
    }
}
