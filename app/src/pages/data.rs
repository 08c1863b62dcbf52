//! `/data`: bring your own data. A file goes up once (streamed, with progress and a
//! cancel button) or a built-in example is opened; then the page looks at it a page of
//! rows at a time, transforms it step by step, plots and downloads it. The browser holds
//! only handles and small specs (the steps' forms are in [`super::data_steps`]).

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use stayput_cache::FrameHandle;
use wasm_bindgen::JsCast;

use super::data_steps::{PlotPanel, StepForms};
use crate::api::{data_examples, data_rows, data_summary, load_example};
use crate::browser;
use crate::contract::data::{DataExample, DataInfo, RowsPage, SortBy};
use crate::contract::sizes::with_thousands;
use crate::contract::StayputError;

/// Everything the page's parts share; `Copy`, so handlers can hold it.
#[derive(Clone, Copy)]
pub struct DataView {
    /// The frame on show.
    pub handle: RwSignal<Option<FrameHandle>>,
    /// Its schema and chain.
    pub info: RwSignal<Option<DataInfo>>,
    /// The page of rows on show.
    pub page: RwSignal<Option<RowsPage>>,
    /// How the table is ordered.
    pub sort: RwSignal<Option<SortBy>>,
    /// The message of the last failure.
    pub error: RwSignal<Option<String>>,
    /// Work in progress (buttons wait).
    pub busy: RwSignal<bool>,
}

impl DataView {
    /// Shows `handle`: its schema, chain and first page.
    pub(crate) fn show(self, handle: FrameHandle) {
        self.error.set(None);
        self.sort.set(None);
        self.handle.set(Some(handle.clone()));
        spawn_local(async move {
            match data_summary(handle.clone()).await {
                Ok(info) => self.info.set(Some(info)),
                Err(err) => self.fail(err),
            }
            self.load_page(0).await;
        });
    }

    /// Loads the page of rows from `offset` in the current order.
    pub(crate) async fn load_page(self, offset: u64) {
        let Some(handle) = self.handle.get_untracked() else {
            return;
        };
        match data_rows(handle, offset, self.sort.get_untracked()).await {
            Ok(page) => self.page.set(Some(page)),
            Err(err) => self.fail(err),
        }
    }

    /// Shows `err`.
    pub(crate) fn fail(self, err: StayputError) {
        self.error.set(Some(err.to_string()));
    }
}

/// The data page.
#[component]
pub fn DataPage() -> AnyView {
    let view_state = DataView {
        handle: RwSignal::new(None),
        info: RwSignal::new(None),
        page: RwSignal::new(None),
        sort: RwSignal::new(None),
        error: RwSignal::new(None),
        busy: RwSignal::new(false),
    };
    let examples = RwSignal::new(Vec::<DataExample>::new());
    let ready = RwSignal::new(false);
    Effect::new(move |_| {
        ready.set(true);
        spawn_local(async move {
            match data_examples().await {
                Ok(found) => examples.set(found),
                Err(err) => view_state.fail(err),
            }
        });
    });
    let open_example = move |file: String| {
        view_state.busy.set(true);
        view_state.error.set(None);
        spawn_local(async move {
            match load_example(file).await {
                Ok(handle) => view_state.show(handle),
                Err(err) => view_state.fail(err),
            }
            view_state.busy.set(false);
        });
    };
    let shape = move || {
        view_state
            .handle
            .get()
            .map(|h| {
                format!(
                    "{} rows × {} columns",
                    with_thousands(h.rows),
                    with_thousands(h.cols)
                )
            })
            .unwrap_or_default()
    };

    view! {
        <section class="data" data-ready=move || ready.get().to_string()>
            <header>
                <h1>"Data"</h1>
                <p class="lede">
                    "Upload a CSV, TSV, Parquet or Arrow file once; it stays on the server. Look at it, transform it and plot it: only pages of rows and figures come back."
                </p>
            </header>
            <UploadArea view_state=view_state/>
            <div class="controls examples">
                <span class="muted">"Or open an example: "</span>
                {move || {
                    examples
                        .get()
                        .into_iter()
                        .map(|ex| {
                            let file = ex.file.clone();
                            view! {
                                <button
                                    class="secondary"
                                    data-testid=format!("example-{}", ex.file)
                                    title=ex.title.clone()
                                    disabled=move || view_state.busy.get()
                                    on:click=move |_| open_example(file.clone())
                                >
                                    {ex.file.clone()}
                                </button>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <Show when=move || view_state.error.get().is_some()>
                <p data-testid="error" class="error" role="alert">
                    {move || view_state.error.get().unwrap_or_default()}
                </p>
            </Show>
            <Show when=move || view_state.handle.get().is_some()>
                <h2 data-testid="name">{move || view_state.info.get().map(|i| i.name).unwrap_or_default()}</h2>
                <p data-testid="shape" class="shape">{shape}</p>
                <Breadcrumb view_state=view_state/>
                <Downloads view_state=view_state/>
                <Schema view_state=view_state/>
                <Rows view_state=view_state/>
                <StepForms view_state=view_state/>
                <PlotPanel view_state=view_state/>
            </Show>
        </section>
    }
    .into_any()
}

/// The file chooser, the drop zone, the progress and the cancel button.
#[component]
fn UploadArea(view_state: DataView) -> AnyView {
    let progress = RwSignal::new(String::new());
    let uploading = RwSignal::new(false);
    // The upload in flight, only ever set in the browser (one thread). Not a `new_local`
    // value: its wrapper is made on the server too, and dropping it on another of the
    // server's threads after rendering panics; here only a `Some` is wrapped.
    let current: StoredValue<Option<SendWrapper<browser::Upload>>> = StoredValue::new(None);
    let start = move |file: web_sys::File| {
        view_state.error.set(None);
        uploading.set(true);
        let size = file.size();
        progress.set(format!("Uploading {} …", file.name()));
        let shown = move |sent: f64, total: f64| {
            let total = if total > 0.0 { total } else { size };
            if sent >= total {
                progress.set("Uploaded; the server is reading the file…".to_owned());
            } else {
                progress.set(format!(
                    "Uploading: {:.0} % ({} of {} MB)",
                    100.0 * sent / total.max(1.0),
                    (sent / 1e6).round(),
                    (total / 1e6).round()
                ));
            }
        };
        match browser::upload_file(&file, shown) {
            Ok((upload, answer)) => {
                current.set_value(Some(SendWrapper::new(upload)));
                spawn_local(async move {
                    match answer.await {
                        Ok(handle) => {
                            progress.set(format!(
                                "Done: {} rows × {} columns",
                                with_thousands(handle.rows),
                                with_thousands(handle.cols)
                            ));
                            view_state.show(handle);
                        }
                        Err(err) => {
                            progress.set(String::new());
                            view_state.fail(err);
                        }
                    }
                    current.set_value(None);
                    uploading.set(false);
                });
            }
            Err(err) => {
                uploading.set(false);
                view_state.fail(err);
            }
        }
    };
    let chosen = move |ev: leptos::ev::Event| {
        let input = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
        if let Some(file) = input.as_ref().and_then(|i| i.files()).and_then(|f| f.get(0)) {
            start(file);
        }
        if let Some(input) = input {
            input.set_value("");
        }
    };
    let dropped = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        if let Some(file) = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            start(file);
        }
    };
    let cancel = move |_| {
        current.with_value(|u| {
            if let Some(upload) = u {
                upload.cancel();
            }
        });
        progress.set("Cancelled.".to_owned());
    };
    view! {
        <div
            class="drop-zone"
            data-testid="drop-zone"
            on:dragover=move |ev: leptos::ev::DragEvent| ev.prevent_default()
            on:drop=dropped
        >
            <label>
                "Choose a file "
                <input
                    type="file"
                    data-testid="upload"
                    accept=".csv,.tsv,.txt,.parquet,.arrow,.feather,.ipc"
                    on:change=chosen
                    disabled=move || uploading.get()
                />
            </label>
            <span class="muted">" or drop one here"</span>
            <p data-testid="progress" class="progress" aria-live="polite">{move || progress.get()}</p>
            <Show when=move || uploading.get()>
                <button class="secondary" data-testid="cancel-upload" on:click=cancel>
                    "Cancel"
                </button>
            </Show>
        </div>
    }
    .into_any()
}

/// The chain from the upload to the frame on show; any step with a handle is revisited
/// with a click.
#[component]
fn Breadcrumb(view_state: DataView) -> AnyView {
    view! {
        <nav class="breadcrumb" data-testid="breadcrumb">
            {move || {
                let chain = view_state.info.get().map(|i| i.chain).unwrap_or_default();
                let last = chain.len().saturating_sub(1);
                chain
                    .into_iter()
                    .enumerate()
                    .map(|(i, link)| {
                        let label = link.label.clone();
                        let sep = if i == 0 { "" } else { " → " };
                        match link.handle {
                            Some(handle) if i != last => {
                                view! {
                                    <span>
                                        {sep}
                                        <button class="link" on:click=move |_| view_state.show(handle.clone())>
                                            {label}
                                        </button>
                                    </span>
                                }
                                    .into_any()
                            }
                            _ => view! { <span>{sep} <strong>{label}</strong></span> }.into_any(),
                        }
                    })
                    .collect_view()
            }}
        </nav>
    }
    .into_any()
}

/// Links that download the frame on show, streamed from the server.
#[component]
fn Downloads(view_state: DataView) -> AnyView {
    let href = move |format: &'static str| {
        view_state
            .handle
            .get()
            .map(|h| {
                format!(
                    "{}?handle={}&format={format}",
                    crate::contract::data::DOWNLOAD_PATH,
                    h.id.as_str()
                )
            })
            .unwrap_or_default()
    };
    view! {
        <p class="downloads">
            "Download: "
            <a data-testid="download-csv" href=move || href("csv") download>"CSV"</a>
            " · "
            <a data-testid="download-parquet" href=move || href("parquet") download>"Parquet"</a>
        </p>
    }
    .into_any()
}

/// The schema: each column's type, missing values and range.
#[component]
fn Schema(view_state: DataView) -> AnyView {
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
                        .info
                        .get()
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
fn Rows(view_state: DataView) -> AnyView {
    let sort_by = move |column: String| {
        let descending = view_state
            .sort
            .get_untracked()
            .is_some_and(|s| s.column == column && !s.descending);
        view_state.sort.set(Some(SortBy { column, descending }));
        spawn_local(async move { view_state.load_page(0).await });
    };
    let go = move |forward: bool| {
        let Some(page) = view_state.page.get_untracked() else {
            return;
        };
        let step = crate::contract::data::PAGE_ROWS;
        let offset = if forward {
            page.offset + step
        } else {
            page.offset.saturating_sub(step)
        };
        if offset < page.total {
            spawn_local(async move { view_state.load_page(offset).await });
        }
    };
    let position = move || {
        view_state
            .page
            .get()
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
                <button class="secondary" data-testid="prev-page" on:click=move |_| go(false)>"◀"</button>
                <span data-testid="position">{position}</span>
                <button class="secondary" data-testid="next-page" on:click=move |_| go(true)>"▶"</button>
            </div>
            <table data-testid="rows">
                <thead>
                    <tr>
                        {move || {
                            let sort = view_state.sort.get();
                            view_state
                                .page
                                .get()
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
                            .page
                            .get()
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
