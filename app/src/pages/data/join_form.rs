//! `/data`'s join form: another frame of the session, a key both have, inner or left.

use leptos::prelude::*;
use stayput_cache::FrameHandle;

use super::forms::{apply, ColumnPick};
use super::DataView;
use crate::api::cache_view;
use crate::contract::data::{JoinHow, Transform};
use crate::contract::recipes::{TRANSFORM, UPLOAD};
use crate::contract::sizes::with_thousands;

#[component]
pub fn JoinForm(view_state: DataView) -> AnyView {
    let other = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let how = RwSignal::new(JoinHow::Inner);
    // The session's other frames made from files, read again whenever another frame is
    // shown (a resource: a listing asked for before the last is never shown).
    let listing = LocalResource::new(move || {
        view_state.handle.track();
        cache_view()
    });
    let others = move || -> Vec<(FrameHandle, String)> {
        let Some(Ok(listing)) = listing.get() else {
            return Vec::new();
        };
        listing
            .entries
            .into_iter()
            .filter(|e| {
                e.lineage.as_ref().is_some_and(|l| {
                    l.function == UPLOAD || (l.function == TRANSFORM && !l.args.contains("{\"plot\":"))
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
            .collect()
    };
    // The first of them is chosen until the user chooses.
    Effect::new(move |_| {
        if let Some((first, _)) = others().first() {
            if other.get_untracked().is_empty() {
                other.set(first.id.as_str().to_owned());
            }
        }
    });
    let join = move |_| {
        let id = other.get_untracked();
        let Some((handle, _)) = untrack(others).into_iter().find(|(h, _)| h.id.as_str() == id) else {
            view_state.error.set(Some("choose the frame to join with".into()));
            return;
        };
        apply(
            view_state,
            Transform::Join {
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
                    others()
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
