//! `/data`'s look at a frame: its schema with statistics, and pages of rows sorted on
//! the server.

use leptos::prelude::*;

use super::DataView;
use crate::contract::data::SortBy;
use crate::contract::sizes::with_thousands;

/// The schema: each column's type, missing values and range.
#[component]
pub fn Schema(view_state: DataView) -> AnyView {
    view! {
        <table class="schema" data-testid="schema">
            <thead>
                <tr>
                    <th>"column"</th>
                    <th>"type"</th>
                    <th>"missing"</th>
                    <th>"min"</th>
                    <th>"max"</th>
                </tr>
            </thead>
            <tbody>
                {move || {
                    view_state
                        .info()
                        .map(|i| i.columns)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| {
                            view! {
                                <tr>
                                    <td>{c.name}</td>
                                    <td>{c.dtype}</td>
                                    <td>{with_thousands(c.nulls)}</td>
                                    <td>{c.min.unwrap_or_default()}</td>
                                    <td>{c.max.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
    .into_any()
}

/// One page of rows; a column's header orders the table by it (asked of the server).
#[component]
pub fn Rows(view_state: DataView) -> AnyView {
    let sort_by = move |column: String| {
        let descending = view_state
            .sort
            .get_untracked()
            .is_some_and(|s| s.column == column && !s.descending);
        view_state.sort.set(Some(SortBy { column, descending }));
        view_state.offset.set(0);
    };
    let go = move |forward: bool| {
        let Some(page) = untrack(|| view_state.page()) else {
            return;
        };
        let step = crate::contract::data::PAGE_ROWS;
        let offset = if forward {
            page.offset + step
        } else {
            page.offset.saturating_sub(step)
        };
        if offset < page.total {
            view_state.offset.set(offset);
        }
    };
    let position = move || {
        view_state
            .page()
            .map(|p| {
                let last = p.offset + p.rows.len() as u64;
                format!(
                    "rows {}–{} of {}",
                    with_thousands((p.offset + 1).min(last)),
                    with_thousands(last),
                    with_thousands(p.total)
                )
            })
            .unwrap_or_default()
    };
    view! {
        <div class="rows">
            <div class="controls">
                // No page of the frame on show yet (a new frame's first page on its way):
                // nothing to page from.
                <button
                    class="secondary"
                    data-testid="prev-page"
                    disabled=move || view_state.page().is_none()
                    on:click=move |_| go(false)
                >
                    "◀"
                </button>
                <span data-testid="position">{position}</span>
                <button
                    class="secondary"
                    data-testid="next-page"
                    disabled=move || view_state.page().is_none()
                    on:click=move |_| go(true)
                >
                    "▶"
                </button>
            </div>
            <table data-testid="rows">
                <thead>
                    <tr>
                        {move || {
                            let sort = view_state.sort.get();
                            view_state
                                .page()
                                .map(|p| p.columns)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|name| {
                                    let mark = match &sort {
                                        Some(s) if s.column == name && s.descending => " ↓",
                                        Some(s) if s.column == name => " ↑",
                                        _ => "",
                                    };
                                    let column = name.clone();
                                    view! {
                                        <th>
                                            <button class="link" title="Sort by this column" on:click=move |_| sort_by(column.clone())>
                                                {name}
                                                {mark}
                                            </button>
                                        </th>
                                    }
                                })
                                .collect_view()
                        }}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        view_state
                            .page()
                            .map(|p| p.rows)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|row| {
                                view! {
                                    <tr>
                                        {row
                                            .into_iter()
                                            .map(|cell| match cell {
                                                Some(text) => view! { <td>{text}</td> }.into_any(),
                                                None => view! { <td class="missing">"—"</td> }.into_any(),
                                            })
                                            .collect_view()}
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
