//! `/linked`'s form that adds a figure of any kind over the frame's columns.

use leptos::prelude::*;

use super::{remember, Linked};
use crate::contract::figure::{ChartKind, ColumnInfo, ROW};
use crate::contract::linked::{ViewFigure, MAX_FIGURES};

/// A form that adds a figure of any kind over the frame's columns.
#[component]
pub fn AddFigure(ln: Linked) -> impl IntoView {
    let kind = RwSignal::new(ChartKind::Histogram);
    let x = RwSignal::new(ROW.to_owned());
    let y = RwSignal::new(String::new());
    let names = move |keep: fn(&ColumnInfo, ChartKind) -> bool| {
        let k = kind.get();
        ln.columns
            .get()
            .into_iter()
            .filter(move |c| keep(c, k))
            .map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> })
            .collect_view()
    };
    let add = move |_| {
        let (k, x, y) = (kind.get_untracked(), x.get_untracked(), y.get_untracked());
        let time = ln
            .columns
            .with_untracked(|cs| cs.iter().any(|c| c.name == x && c.time));
        ln.view.update(|v| v.add(ViewFigure { kind: k, x, y, time }));
        remember(ln);
    };
    let full = move || ln.view.with(|v| v.figures.len() >= MAX_FIGURES);
    view! {
        <div class="controls add-figure">
            <span class="muted">"Add a figure: "</span>
            <select data-testid="add-kind" on:change=move |ev| kind.set(ChartKind::parse(&event_target_value(&ev)).unwrap_or(ChartKind::Line))>
                {ChartKind::ALL.iter().chain([&ChartKind::Bar]).map(|k| view! { <option value=k.as_str() selected=*k == ChartKind::Histogram>{k.as_str()}</option> }).collect_view()}
            </select>
            <span>" x "</span>
            // A bar's x is any column (its values are counted); any other figure's is sorted.
            <select data-testid="add-x" prop:value=move || x.get() on:change=move |ev| x.set(event_target_value(&ev))>
                {move || names(|c, k| if k == ChartKind::Bar { c.name != ROW } else { c.sorted })}
            </select>
            <Show when=move || kind.get() != ChartKind::Bar>
                <span>" y "</span>
                <select data-testid="add-y" prop:value=move || y.get() on:change=move |ev| y.set(event_target_value(&ev))>
                    <option value="">"—"</option>
                    {move || names(|c, _| c.numeric && c.name != ROW)}
                </select>
            </Show>
            <button data-testid="add-figure" class="secondary" disabled=full on:click=add>"Add"</button>
        </div>
    }
}
