//! `/cache`: the frames the caller's session holds on the server, how each was made,
//! where it lives and how it is used; links open it (in `/data` or `/explore`, and in a
//! linked view); buttons drop one or all. Totals cover the whole
//! server without any other session's details.

use leptos::prelude::*;
use stayput_cache::{ByteSize, EntryInfo, FrameId, Residence, Totals};

use crate::api::{cache_view, DropAll, DropFrame};
use crate::contract::cache_view::CacheListing;
use crate::contract::linked::LINKED_PATH;
use crate::contract::recipes::{TRANSFORM, UPLOAD};
use crate::contract::sizes::with_thousands;

/// The cache page: the listing is a resource, read again when either drop completes or
/// Refresh is clicked; the drops are server actions.
#[component]
pub fn CachePage() -> impl IntoView {
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let drop_one = ServerAction::<DropFrame>::new();
    let drop_all = ServerAction::<DropAll>::new();
    let listing = Resource::new(
        move || (drop_one.version().get(), drop_all.version().get()),
        |_| cache_view(),
    );
    let refresh = move || listing.refetch();
    // What the drop that finished last said, if it failed (or found its frame already
    // gone); a drop that succeeds clears it.
    let error = RwSignal::new(None::<String>);
    Effect::watch(
        move || drop_one.version().get(),
        move |_, _, _| {
            error.set(drop_one.value().get_untracked().and_then(|done| match done {
                Ok(true) => None,
                Ok(false) => Some("that frame was already gone".to_owned()),
                Err(err) => Some(err.to_string()),
            }));
        },
        false,
    );
    Effect::watch(
        move || drop_all.version().get(),
        move |_, _, _| {
            error.set(
                drop_all
                    .value()
                    .get_untracked()
                    .and_then(|done| done.err().map(|err| err.to_string())),
            );
        },
        false,
    );
    let drop_one = move |id: FrameId| {
        drop_one.dispatch(DropFrame { id });
    };
    let drop_everything = move |_| {
        drop_all.dispatch(DropAll {});
    };

    view! {
        <section class="cache" data-ready=move || ready.get().to_string()>
            <header>
                <h1>"Cache"</h1>
                <p class="lede">
                    "The frames your session holds on the server. The browser never had them: it holds only their handles."
                </p>
            </header>
            <div class="controls">
                <button data-testid="refresh" on:click=move |_| refresh()>
                    "Refresh"
                </button>
                <button data-testid="drop-all" class="secondary" on:click=drop_everything>
                    "Drop all"
                </button>
            </div>
            <Show when=move || error.get().is_some()>
                <p data-testid="error" class="error" role="alert">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match listing.await {
                        Ok(view) => listing_view(view, drop_one).into_any(),
                        Err(err) => {
                            view! {
                                <p data-testid="error" class="error" role="alert">
                                    {err.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// The table of the session's frames and the totals under it.
fn listing_view(
    view: CacheListing,
    drop_one: impl Fn(FrameId) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let CacheListing {
        entries,
        session_bytes,
        totals,
    } = view;
    let session_line = format!(
        "Your session holds {} in memory; its quota is {}.",
        ByteSize(session_bytes),
        ByteSize(totals.session_quota)
    );
    let table = if entries.is_empty() {
        view! {
            <p data-testid="cache-empty" class="muted">
                "Your session holds no frames. Run the benchmark to make one."
            </p>
        }
        .into_any()
    } else {
        view! {
            <table data-testid="cache-table">
                <thead>
                    <tr>
                        <th>"Handle"</th>
                        <th>"Made by"</th>
                        <th>"Rows × cols"</th>
                        <th>"Size"</th>
                        <th>"Tier"</th>
                        <th>"Age"</th>
                        <th>"Last use"</th>
                        <th>"Hits"</th>
                        <th>"Open"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {entries.into_iter().map(|entry| entry_row(entry, drop_one)).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        {table}
        <p data-testid="session-total" class="muted">{session_line}</p>
        <p data-testid="server-totals" class="muted">{totals_line(&totals)}</p>
    }
}

fn entry_row(entry: EntryInfo, drop_one: impl Fn(FrameId) + Copy + Send + Sync + 'static) -> impl IntoView {
    let made_by = entry
        .lineage
        .as_ref()
        .map_or_else(|| "—".to_owned(), ToString::to_string);
    let tier = match (entry.residence, entry.recomputable) {
        (Residence::Gone, true) => "gone · rebuilt on read".to_owned(),
        (Residence::Gone, false) => "gone".to_owned(),
        (residence, _) => residence.as_str().to_owned(),
    };
    let id = entry.id.clone();
    // Frames made from files open in /data (their chain, steps and table); any other in
    // /explore. Every frame opens in a linked view.
    let from_file = entry
        .lineage
        .as_ref()
        .is_some_and(|l| l.function == UPLOAD || l.function == TRANSFORM);
    let page = if from_file { "/data" } else { "/explore" };
    let open = format!("{page}?h={}", entry.id);
    let linked = format!("{LINKED_PATH}?h={}", entry.id);
    view! {
        <tr data-testid="cache-entry" data-id=entry.id.to_string()>
            <td>
                <code title=entry.id.to_string()>{entry.short_id().to_owned()}</code>
            </td>
            <td class="lineage">
                <code>{made_by}</code>
            </td>
            <td>{format!("{} × {}", with_thousands(entry.rows), entry.cols)}</td>
            <td>{ByteSize(entry.bytes).to_string()}</td>
            <td>{tier}</td>
            <td>{duration(entry.age_ms)}</td>
            <td>{format!("{} ago", duration(entry.idle_ms))}</td>
            <td>{entry.hits}</td>
            <td>
                <a data-testid="open" href=open>"open"</a>
                " · "
                <a data-testid="open-linked" href=linked>"linked"</a>
            </td>
            <td>
                <button data-testid="drop" class="secondary" on:click=move |_| drop_one(id.clone())>
                    "Drop"
                </button>
            </td>
        </tr>
    }
}

fn totals_line(totals: &Totals) -> String {
    let cold = totals.cold.as_ref().map_or_else(String::new, |(name, tier)| {
        format!(
            " · {name}: {} of {} in {} frames",
            ByteSize(tier.bytes),
            ByteSize(tier.budget),
            tier.entries
        )
    });
    format!(
        "Whole server: {} sessions · memory: {} of {} in {} frames{cold} · {} gone",
        totals.sessions,
        ByteSize(totals.memory.bytes),
        ByteSize(totals.memory.budget),
        totals.memory.entries,
        totals.gone,
    )
}

/// A short human duration: `0.4 s`, `12 s`, `3 min`, `2 h`.
fn duration(ms: u64) -> String {
    match ms {
        0..=9_999 => format!("{:.1} s", ms as f64 / 1000.0),
        10_000..=119_999 => format!("{} s", ms / 1000),
        120_000..=7_199_999 => format!("{} min", ms / 60_000),
        _ => format!("{} h", ms / 3_600_000),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(400), "0.4 s");
        assert_eq!(duration(12_345), "12 s");
        assert_eq!(duration(180_000), "3 min");
        assert_eq!(duration(7_200_000), "2 h");
    }
}
