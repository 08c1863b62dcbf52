//! `/data`: bring your own data. A file goes up once (streamed, with progress and a
//! cancel button) or a built-in example is opened; then the page looks at it a page of
//! rows at a time, transforms it step by step, plots and downloads it. The browser holds
//! only handles and small specs (its parts are the modules below).

pub mod derive_form;
pub mod forms;
pub mod join_form;
pub mod plot;
pub mod table;
pub mod upload;

use leptos::prelude::*;
use leptos::task::spawn_local;
use stayput_cache::FrameHandle;

use crate::api::{data_examples, data_rows, data_summary, DataTransform, LoadExample};
use crate::contract::data::{DataExample, DataInfo, RowsPage, SortBy};
use crate::contract::sizes::with_thousands;
use crate::contract::StayputError;
use forms::StepForms;
use plot::PlotPanel;
use table::{Rows, Schema};
use upload::UploadArea;

/// Everything the page's parts share; `Copy`, so handlers can hold it.
#[derive(Clone, Copy)]
pub struct DataView {
    /// The frame on show.
    pub handle: RwSignal<Option<FrameHandle>>,
    /// Its schema and chain.
    pub info: RwSignal<Option<DataInfo>>,
    /// The page of rows on show.
    pub page: RwSignal<Option<RowsPage>>,
    /// How many pages were asked for: only the last one asked is shown.
    pub pages_asked: StoredValue<u64>,
    /// How the table is ordered.
    pub sort: RwSignal<Option<SortBy>>,
    /// The message of the last failure.
    pub error: RwSignal<Option<String>>,
    /// A step applied to the frame on show (a server action: its reply is shown).
    pub transform: ServerAction<DataTransform>,
    /// A built-in example opened (a server action: its frame is shown).
    pub open: ServerAction<LoadExample>,
    /// The URL's `plot` when the page was opened: the plot panel draws it again.
    pub saved_plot: StoredValue<Option<String>>,
}

impl DataView {
    /// Shows `handle`: its schema, chain and first page.
    pub(crate) fn show(self, handle: FrameHandle) {
        self.error.set(None);
        self.sort.set(None);
        // The last frame's rows go: paging from them would page the new frame from
        // the wrong place.
        self.page.set(None);
        self.handle.set(Some(handle.clone()));
        // The frame on show is in the URL: a reload or a link opens it again.
        crate::browser::replace_query("/data", &[("h", handle.id.as_str())]);
        spawn_local(async move {
            match data_summary(handle.clone()).await {
                // A reply for a frame no longer on show (another was opened since) is dropped.
                _ if self.handle.try_get_untracked().flatten().map(|h| h.id) != Some(handle.id.clone()) => {
                    return
                }
                Ok(info) => {
                    if self.handle.get_untracked().as_ref() != Some(&info.handle) {
                        // Its true shape (a handle from the URL carries only its id).
                        self.handle.set(Some(info.handle.clone()));
                    }
                    self.info.set(Some(info));
                }
                Err(err) => {
                    self.handle.set(None);
                    return self.fail(err);
                }
            }
            self.load_page(0).await;
        });
    }

    /// Loads the page of rows from `offset` in the current order.
    pub(crate) async fn load_page(self, offset: u64) {
        let Some(handle) = self.handle.get_untracked() else {
            return;
        };
        let asked = self.pages_asked.get_value() + 1;
        self.pages_asked.set_value(asked);
        let reply = data_rows(handle, offset, self.sort.get_untracked()).await;
        // A reply to a page asked for before the last (the first page of a new frame
        // arriving after a click on "next") is dropped, not shown over the newer one.
        if self.pages_asked.try_get_value() != Some(asked) {
            return;
        }
        match reply {
            Ok(page) => self.page.set(Some(page)),
            Err(err) => self.fail(err),
        }
    }

    /// Shows `err`.
    pub(crate) fn fail(self, err: StayputError) {
        self.error.set(Some(err.to_string()));
    }

    /// Whether a step or an example is on its way (its buttons wait).
    pub(crate) fn is_busy(self) -> bool {
        self.transform.pending().get() || self.open.pending().get()
    }

    /// Shows the frame each action answers with, or its error, once it is in.
    fn show_replies(self) {
        let actions = [
            (self.transform.version(), self.transform.value()),
            (self.open.version(), self.open.value()),
        ];
        for (version, value) in actions {
            Effect::watch(
                move || version.get(),
                move |_, _, _| match value.get_untracked() {
                    Some(Ok(handle)) => self.show(handle),
                    Some(Err(err)) => self.fail(err),
                    None => {}
                },
                false,
            );
        }
    }
}

/// The data page.
#[component]
pub fn DataPage() -> AnyView {
    let view_state = DataView {
        handle: RwSignal::new(None),
        info: RwSignal::new(None),
        page: RwSignal::new(None),
        pages_asked: StoredValue::new(0),
        sort: RwSignal::new(None),
        error: RwSignal::new(None),
        transform: ServerAction::new(),
        open: ServerAction::new(),
        saved_plot: StoredValue::new(None),
    };
    view_state.show_replies();
    let examples = RwSignal::new(Vec::<DataExample>::new());
    let ready = RwSignal::new(false);
    let query = leptos_router::hooks::use_query_map();
    Effect::new(move |_| {
        ready.set(true);
        // A frame named in the URL (a reload, a link from /cache) is opened; one from
        // another session reads as unknown.
        if let Some(id) = query.with_untracked(|q| q.get("h")) {
            // The figure drawn then, if any, is drawn again once the frame is in.
            view_state
                .saved_plot
                .set_value(query.with_untracked(|q| q.get("plot")));
            view_state.show(FrameHandle {
                id: id.into(),
                rows: 0,
                cols: 0,
                bytes: 0,
            });
        }
        spawn_local(async move {
            match data_examples().await {
                Ok(found) => examples.set(found),
                Err(err) => view_state.fail(err),
            }
        });
    });
    let open_example = move |file: String| {
        view_state.error.set(None);
        view_state.open.dispatch(LoadExample { file });
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
                    "Upload a CSV, TSV, JSON, Parquet or Arrow file (gzip'd or not) once; it stays on the server. Look at it, transform it and plot it: only pages of rows and figures come back."
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
                                    disabled=move || view_state.is_busy()
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
            " · "
            <a
                data-testid="open-linked"
                href=move || {
                    view_state
                        .handle
                        .get()
                        .map(|h| format!("{}?h={}", crate::contract::linked::LINKED_PATH, h.id))
                        .unwrap_or_default()
                }
            >
                "Linked view"
            </a>
        </p>
    }
    .into_any()
}
