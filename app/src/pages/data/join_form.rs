//! `/data`'s join form: another frame of the session, a key both have, inner or left.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::FrameHandle;

use super::forms::{apply, ColumnPick};
use super::DataView;
use crate::api::cache_view;
use crate::contract::data::{JoinHow, Transform};
use crate::contract::recipes::{TRANSFORM, UPLOAD};
use crate::contract::sizes::with_thousands;

#[component]
pub fn JoinForm(view_state: DataView) -> AnyView {
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
