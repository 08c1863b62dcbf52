//! `/data`'s step forms (filter, columns, rename, sort, group-by; derived columns and
//! join have their own modules) and what they share. Each form sends the handle and a
//! small spec; the server answers with a new handle (the same one for the same step on
//! the same parent).

use leptos::html;
use leptos::prelude::*;

use super::derive_form::DeriveForm;
use super::join_form::JoinForm;
use super::DataView;
use crate::api::DataTransform;
use crate::contract::data::{Agg, AggFn, Condition, Op, SortBy, Transform};

/// Whether a polars type name is a number type (`i64`, `u8`, `f64`, …).
pub(super) fn is_numeric(dtype: &str) -> bool {
    let mut chars = dtype.chars();
    matches!(chars.next(), Some('i' | 'u' | 'f')) && chars.all(|c| c.is_ascii_digit()) && dtype.len() > 1
}

/// Whether a polars type name is a date or time.
pub(super) fn is_temporal(dtype: &str) -> bool {
    dtype.starts_with("date") || dtype.starts_with("time")
}

/// Runs `step` on the frame on show and shows the result.
pub(super) fn apply(view_state: DataView, step: Transform) {
    let Some(handle) = view_state.handle.get_untracked() else {
        return;
    };
    view_state.error.set(None);
    view_state.transform.dispatch(DataTransform { handle, step });
}

/// `<option>`s of the columns of the frame on show that pass `keep` (by type name).
pub(super) fn column_options(view_state: DataView, keep: fn(&str) -> bool) -> impl Fn() -> AnyView {
    move || {
        view_state
            .picker_info()
            .map(|i| i.columns)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| keep(&c.dtype))
            .map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> })
            .collect_view()
            .into_any()
    }
}

pub(super) fn any(_: &str) -> bool {
    true
}

/// A `<select>` bound to `value`, whose options follow the frame on show; the first
/// option is chosen whenever the current value is not among them.
#[component]
pub fn ColumnPick(
    view_state: DataView,
    value: RwSignal<String>,
    #[prop(default = any)] keep: fn(&str) -> bool,
    testid: &'static str,
) -> AnyView {
    Effect::new(move |_| {
        // No columns while the next frame's summary is on its way: the choice stays.
        let Some(info) = view_state.picker_info() else {
            return;
        };
        let names: Vec<String> = info
            .columns
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
                disabled=move || view_state.is_busy()
                on:click=move |_| {
                    let mut all = pending.get_untracked();
                    all.push(current());
                    pending.set(Vec::new());
                    apply(view_state, Transform::Filter(all));
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
                        Transform::Filter(p).label().replacen("filter ", "pending: ", 1) + " and …"
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
                disabled=move || view_state.is_busy()
                on:click=move |_| {
                    apply(
                        view_state,
                        Transform::GroupBy {
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
            <button data-testid="apply-select" class="secondary" on:click=move |_| apply(view_state, Transform::Select(read()))>
                "Keep these"
            </button>
            <button data-testid="apply-drop" class="secondary" on:click=move |_| apply(view_state, Transform::Drop(read()))>
                "Drop these"
            </button>
            <span>" Rename "</span>
            <ColumnPick view_state=view_state value=from testid="rename-from"/>
            <input data-testid="rename-to" placeholder="new name" on:input=move |ev| to.set(event_target_value(&ev))/>
            <button
                data-testid="apply-rename"
                class="secondary"
                on:click=move |_| apply(view_state, Transform::Rename { from: from.get_untracked(), to: to.get_untracked() })
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
                    apply(view_state, Transform::Sort(SortBy { column: column.get_untracked(), descending: descending.get_untracked() }))
                }
            >
                "Sort"
            </button>
        </div>
    }
    .into_any()
}
