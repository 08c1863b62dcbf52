//! `/data`'s step forms (filter, columns, rename, sort, group-by, derived columns, join)
//! and its plot panel. Each form sends the handle and a small spec; the server answers
//! with a new handle (the same one for the same step on the same parent).

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::FrameHandle;

use super::data::DataView;
use crate::api::{cache_view, data_plot, data_transform};
use crate::browser;
use crate::contract::data::{
    Agg, AggFn, ArithOp, Condition, DatePart, Derived, JoinHow, Op, Operand, SortBy, Step,
};
use crate::contract::figure::ChartKind;
use crate::contract::recipes::{TRANSFORM, UPLOAD};
use crate::contract::sizes::with_thousands;

/// Whether a polars type name is a number type (`i64`, `u8`, `f64`, …).
fn is_numeric(dtype: &str) -> bool {
    let mut chars = dtype.chars();
    matches!(chars.next(), Some('i' | 'u' | 'f')) && chars.all(|c| c.is_ascii_digit()) && dtype.len() > 1
}

/// Whether a polars type name is a date or time.
fn is_temporal(dtype: &str) -> bool {
    dtype.starts_with("date") || dtype.starts_with("time")
}

/// Runs `step` on the frame on show and shows the result.
fn apply(view_state: DataView, step: Step) {
    let Some(handle) = view_state.handle.get_untracked() else {
        return;
    };
    view_state.busy.set(true);
    view_state.error.set(None);
    spawn_local(async move {
        match data_transform(handle, step).await {
            Ok(next) => view_state.show(next),
            Err(err) => view_state.fail(err),
        }
        view_state.busy.set(false);
    });
}

/// `<option>`s of the columns of the frame on show that pass `keep` (by type name).
fn column_options(view_state: DataView, keep: fn(&str) -> bool) -> impl Fn() -> AnyView {
    move || {
        view_state
            .info
            .get()
            .map(|i| i.columns)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| keep(&c.dtype))
            .map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> })
            .collect_view()
            .into_any()
    }
}

fn any(_: &str) -> bool {
    true
}

/// A `<select>` bound to `value`, whose options follow the frame on show; the first
/// option is chosen whenever the current value is not among them.
#[component]
fn ColumnPick(
    view_state: DataView,
    value: RwSignal<String>,
    #[prop(default = any)] keep: fn(&str) -> bool,
    testid: &'static str,
) -> AnyView {
    Effect::new(move |_| {
        let names: Vec<String> = view_state
            .info
            .get()
            .map(|i| i.columns)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| keep(&c.dtype))
            .map(|c| c.name)
            .collect();
        if !names.contains(&value.get_untracked()) {
            value.set(names.first().cloned().unwrap_or_default());
        }
    });
    view! {
        <select data-testid=testid prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
            {column_options(view_state, keep)}
        </select>
    }
    .into_any()
}

/// The forms of every step.
#[component]
pub fn StepForms(view_state: DataView) -> AnyView {
    view! {
        <section class="steps" data-testid="steps">
            <h3>"Transform"</h3>
            <FilterForm view_state=view_state/>
            <GroupForm view_state=view_state/>
            <ColumnsForm view_state=view_state/>
            <SortForm view_state=view_state/>
            <DeriveForm view_state=view_state/>
            <JoinForm view_state=view_state/>
        </section>
    }
    .into_any()
}

#[component]
fn FilterForm(view_state: DataView) -> AnyView {
    let column = RwSignal::new(String::new());
    let op = RwSignal::new(Op::Eq);
    let value = RwSignal::new(String::new());
    // Conditions added so far, combined with "and" in one step.
    let pending = RwSignal::new(Vec::<Condition>::new());
    let current = move || Condition {
        column: column.get_untracked(),
        op: op.get_untracked(),
        value: value.get_untracked(),
    };
    view! {
        <div class="controls">
            <span>"Filter "</span>
            <ColumnPick view_state=view_state value=column testid="filter-column"/>
            <select
                data-testid="filter-op"
                on:change=move |ev| {
                    let i: usize = event_target_value(&ev).parse().unwrap_or(0);
                    op.set(Op::ALL.get(i).copied().unwrap_or(Op::Eq));
                }
            >
                {Op::ALL.iter().enumerate().map(|(i, o)| view! { <option value=i.to_string()>{o.symbol()}</option> }).collect_view()}
            </select>
            <input
                data-testid="filter-value"
                placeholder="value"
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                disabled=move || !op.get().takes_value()
            />
            <button class="secondary" data-testid="filter-and" title="Add this condition and another" on:click=move |_| pending.update(|p| p.push(current()))>
                "and …"
            </button>
            <button
                data-testid="apply-filter"
                disabled=move || view_state.busy.get()
                on:click=move |_| {
                    let mut all = pending.get_untracked();
                    all.push(current());
                    pending.set(Vec::new());
                    apply(view_state, Step::Filter(all));
                }
            >
                "Filter"
            </button>
            <span class="muted">
                {move || {
                    let p = pending.get();
                    if p.is_empty() {
                        String::new()
                    } else {
                        Step::Filter(p).label().replacen("filter ", "pending: ", 1) + " and …"
                    }
                }}
            </span>
        </div>
    }
    .into_any()
}

#[component]
fn GroupForm(view_state: DataView) -> AnyView {
    let key = RwSignal::new(String::new());
    let func = RwSignal::new(AggFn::Count);
    let column = RwSignal::new(String::new());
    view! {
        <div class="controls">
            <span>"Group by "</span>
            <ColumnPick view_state=view_state value=key testid="group-key"/>
            <select
                data-testid="group-fn"
                on:change=move |ev| func.set(AggFn::parse(&event_target_value(&ev)).unwrap_or(AggFn::Count))
            >
                {AggFn::ALL.iter().map(|a| view! { <option value=a.as_str()>{a.as_str()}</option> }).collect_view()}
            </select>
            <span>" of "</span>
            <ColumnPick view_state=view_state value=column testid="group-column"/>
            <button
                data-testid="apply-group"
                disabled=move || view_state.busy.get()
                on:click=move |_| {
                    apply(
                        view_state,
                        Step::GroupBy {
                            keys: vec![key.get_untracked()],
                            aggs: vec![Agg { column: column.get_untracked(), func: func.get_untracked() }],
                        },
                    )
                }
            >
                "Group"
            </button>
        </div>
    }
    .into_any()
}

#[component]
fn ColumnsForm(view_state: DataView) -> AnyView {
    let chosen = RwSignal::new(Vec::<String>::new());
    let picker = NodeRef::<html::Select>::new();
    let read = move || {
        let Some(select) = picker.get_untracked() else {
            return Vec::new();
        };
        let options = select.selected_options();
        (0..options.length())
            .filter_map(|i| options.item(i))
            .filter_map(|o| o.get_attribute("value"))
            .collect::<Vec<_>>()
    };
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    view! {
        <div class="controls">
            <span>"Columns "</span>
            <select multiple data-testid="columns-pick" node_ref=picker on:change=move |_| chosen.set(read())>
                {column_options(view_state, any)}
            </select>
            <button data-testid="apply-select" class="secondary" on:click=move |_| apply(view_state, Step::Select(read()))>
                "Keep these"
            </button>
            <button data-testid="apply-drop" class="secondary" on:click=move |_| apply(view_state, Step::Drop(read()))>
                "Drop these"
            </button>
            <span>" Rename "</span>
            <ColumnPick view_state=view_state value=from testid="rename-from"/>
            <input data-testid="rename-to" placeholder="new name" on:input=move |ev| to.set(event_target_value(&ev))/>
            <button
                data-testid="apply-rename"
                class="secondary"
                on:click=move |_| apply(view_state, Step::Rename { from: from.get_untracked(), to: to.get_untracked() })
            >
                "Rename"
            </button>
        </div>
    }
    .into_any()
}

#[component]
fn SortForm(view_state: DataView) -> AnyView {
    let column = RwSignal::new(String::new());
    let descending = RwSignal::new(false);
    view! {
        <div class="controls">
            <span>"Sort by "</span>
            <ColumnPick view_state=view_state value=column testid="sort-column"/>
            <label>
                <input type="checkbox" data-testid="sort-descending" on:change=move |ev| descending.set(event_target_checked(&ev))/>
                " largest first"
            </label>
            <button
                data-testid="apply-sort"
                class="secondary"
                on:click=move |_| {
                    apply(view_state, Step::Sort(SortBy { column: column.get_untracked(), descending: descending.get_untracked() }))
                }
            >
                "Sort"
            </button>
        </div>
    }
    .into_any()
}

#[component]
fn DeriveForm(view_state: DataView) -> AnyView {
    let name = RwSignal::new(String::new());
    let left = RwSignal::new(String::new());
    let op = RwSignal::new(ArithOp::Mul);
    let right = RwSignal::new(String::from("1"));
    let date = RwSignal::new(String::new());
    let part = RwSignal::new(DatePart::Year);
    let ops = [
        (ArithOp::Add, "+"),
        (ArithOp::Sub, "−"),
        (ArithOp::Mul, "×"),
        (ArithOp::Div, "÷"),
    ];
    let parts = [
        (DatePart::Year, "year"),
        (DatePart::Month, "month"),
        (DatePart::Day, "day"),
        (DatePart::Weekday, "weekday"),
        (DatePart::Hour, "hour"),
    ];
    let derive = move |_| {
        let text = right.get_untracked();
        let right = match text.trim().parse::<f64>() {
            Ok(n) => Operand::Number(n),
            Err(_) => Operand::Column(text.trim().to_owned()),
        };
        apply(
            view_state,
            Step::Derive {
                name: name.get_untracked(),
                expr: Derived::Arith {
                    left: Operand::Column(left.get_untracked()),
                    op: op.get_untracked(),
                    right,
                },
            },
        );
    };
    let date_part = move |_| {
        let p = part.get_untracked();
        let label = parts.iter().find(|(q, _)| *q == p).map_or("part", |(_, l)| *l);
        apply(
            view_state,
            Step::Derive {
                name: format!("{}_{label}", date.get_untracked()),
                expr: Derived::Part {
                    column: date.get_untracked(),
                    part: p,
                },
            },
        );
    };
    view! {
        <div class="controls">
            <span>"New column "</span>
            <input data-testid="derive-name" placeholder="name" on:input=move |ev| name.set(event_target_value(&ev))/>
            " = "
            <ColumnPick view_state=view_state value=left keep=is_numeric testid="derive-left"/>
            <select
                data-testid="derive-op"
                on:change=move |ev| {
                    let i: usize = event_target_value(&ev).parse().unwrap_or(2);
                    op.set(ops.get(i).map_or(ArithOp::Mul, |o| o.0));
                }
            >
                {ops.iter().enumerate().map(|(i, (_, s))| view! { <option value=i.to_string() selected=i == 2>{*s}</option> }).collect_view()}
            </select>
            <input data-testid="derive-right" placeholder="number or column" prop:value=move || right.get() on:input=move |ev| right.set(event_target_value(&ev))/>
            <button data-testid="apply-derive" class="secondary" on:click=derive>"Add"</button>
            <span>" Date part "</span>
            <ColumnPick view_state=view_state value=date keep=is_temporal testid="part-column"/>
            <select
                data-testid="part"
                on:change=move |ev| {
                    let i: usize = event_target_value(&ev).parse().unwrap_or(0);
                    part.set(parts.get(i).map_or(DatePart::Year, |p| p.0));
                }
            >
                {parts.iter().enumerate().map(|(i, (_, l))| view! { <option value=i.to_string()>{*l}</option> }).collect_view()}
            </select>
            <button data-testid="apply-part" class="secondary" on:click=date_part>"Add"</button>
        </div>
    }
    .into_any()
}

#[component]
fn JoinForm(view_state: DataView) -> AnyView {
    let others = RwSignal::new(Vec::<(FrameHandle, String)>::new());
    let other = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let how = RwSignal::new(JoinHow::Inner);
    let refresh = move || {
        spawn_local(async move {
            if let Ok(listing) = cache_view().await {
                let found: Vec<(FrameHandle, String)> = listing
                    .entries
                    .into_iter()
                    .filter(|e| {
                        e.lineage.as_ref().is_some_and(|l| {
                            l.function == UPLOAD
                                || (l.function == TRANSFORM && !l.args.contains("{\"plot\":"))
                        })
                    })
                    .map(|e| {
                        let label = format!(
                            "{} ({} × {})",
                            e.short_id(),
                            with_thousands(e.rows),
                            with_thousands(e.cols)
                        );
                        (e.handle(), label)
                    })
                    .collect();
                if let Some((first, _)) = found.first() {
                    if other.get_untracked().is_empty() {
                        other.set(first.id.as_str().to_owned());
                    }
                }
                others.set(found);
            }
        });
    };
    Effect::new(move |_| {
        view_state.handle.track();
        refresh();
    });
    let join = move |_| {
        let id = other.get_untracked();
        let Some((handle, _)) = others
            .get_untracked()
            .into_iter()
            .find(|(h, _)| h.id.as_str() == id)
        else {
            view_state.error.set(Some("choose the frame to join with".into()));
            return;
        };
        apply(
            view_state,
            Step::Join {
                other: handle,
                on: key.get_untracked(),
                how: how.get_untracked(),
            },
        );
    };
    view! {
        <div class="controls">
            <span>"Join with "</span>
            <select data-testid="join-other" prop:value=move || other.get() on:change=move |ev| other.set(event_target_value(&ev))>
                {move || {
                    others
                        .get()
                        .into_iter()
                        .map(|(h, label)| view! { <option value=h.id.as_str().to_owned()>{label}</option> })
                        .collect_view()
                }}
            </select>
            <span>" on "</span>
            <ColumnPick view_state=view_state value=key testid="join-key"/>
            <select
                data-testid="join-how"
                on:change=move |ev| how.set(if event_target_value(&ev) == "left" { JoinHow::Left } else { JoinHow::Inner })
            >
                <option value="inner">"matching rows"</option>
                <option value="left">"all rows here"</option>
            </select>
            <button data-testid="apply-join" class="secondary" on:click=join>"Join"</button>
        </div>
    }
    .into_any()
}

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
