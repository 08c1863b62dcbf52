//! `/data`: bring your own data. A file goes up once (streamed, with progress and a
//! cancel button) or a built-in example is opened; then the page looks at it a page of
//! rows at a time, transforms it step by step, plots and downloads it. The browser holds
//! only handles and small specs.
//!
//! - this module: the page, the frame on show (kept in the URL) and its chain;
//! - [`upload`]: the file chooser, drop zone, progress, cancel, and the examples;
//! - [`table`]: the schema with statistics and the pages of rows;
//! - [`forms`]: the step forms and what they share;
//! - [`derive_form`], [`join_form`]: the two forms with parts of their own;
//! - [`plot`]: two columns as a figure reduced and zoomed on the server.

pub mod derive_form;
pub mod forms;
pub mod join_form;
pub mod plot;
pub mod table;
pub mod upload;

use leptos::prelude::*;
use stayput_cache::{FrameHandle, FrameId};

use crate::api::{data_examples, data_rows, data_summary, DataTransform, LoadExample};
use crate::contract::data::{DataInfo, RowsPage, SortBy};
use crate::contract::sizes::with_thousands;
use crate::contract::StayputError;
use forms::StepForms;
use plot::PlotPanel;
use table::{Rows, Schema};
use upload::UploadArea;

/// What a page of rows answers: the frame, the first row and the order asked for.
type RowsKey = (FrameId, u64, Option<SortBy>);

/// A resource's reply, with what it answers (only a reply for what is on show is shown).
type Reply<K, T> = LocalResource<Option<(K, Result<T, StayputError>)>>;

/// Everything the page's parts share; `Copy`, so handlers can hold it.
#[derive(Clone, Copy)]
pub struct DataView {
    /// The frame on show (from the URL, only its id is known until its summary is in).
    pub handle: RwSignal<Option<FrameHandle>>,
    /// Its schema and chain: a resource read again whenever another frame is shown.
    summary: Reply<FrameId, DataInfo>,
    /// The first row of the page on show.
    pub offset: RwSignal<u64>,
    /// How the table is ordered.
    pub sort: RwSignal<Option<SortBy>>,
    /// The page of rows on show: a resource of the frame, the offset and the order.
    rows: Reply<RowsKey, RowsPage>,
    /// The message of the last failed action (a step, an upload, a plot).
    pub error: RwSignal<Option<String>>,
    /// A step applied to the frame on show (a server action: its reply is shown).
    pub transform: ServerAction<DataTransform>,
    /// A built-in example opened (a server action: its frame is shown).
    pub open: ServerAction<LoadExample>,
    /// The URL's `plot` when the page was opened: the plot panel draws it again.
    pub saved_plot: StoredValue<Option<String>>,
}

impl DataView {
    /// The page's state, its resources following the frame on show.
    fn new() -> Self {
        let handle = RwSignal::new(None::<FrameHandle>);
        let offset = RwSignal::new(0);
        let sort = RwSignal::new(None::<SortBy>);
        // Only the id counts: a frame shown again with its true shape is not fetched again.
        let shown = Memo::new(move |_| handle.with(|h| h.as_ref().map(|h| h.id.clone())));
        let summary = LocalResource::new(move || {
            let (id, handle) = (shown.get(), handle.get_untracked());
            async move {
                let (id, handle) = (id?, handle?);
                Some((id, data_summary(handle).await))
            }
        });
        // Asked for once the frame's summary is in, as before it: both are reads that
        // may bring the frame back into memory, and a session's heavy reads go one at a
        // time (the second would be refused while the first runs).
        let rows = LocalResource::new(move || {
            let id = shown.get();
            let summarized = summary.with(|reply| {
                reply
                    .as_ref()
                    .and_then(Option::as_ref)
                    .is_some_and(|(of, reply)| Some(of) == id.as_ref() && reply.is_ok())
            });
            let key = id.filter(|_| summarized).map(|id| (id, offset.get(), sort.get()));
            let handle = handle.get_untracked();
            async move {
                let (key, handle) = (key?, handle?);
                let reply = data_rows(handle, key.1, key.2.clone()).await;
                Some((key, reply))
            }
        });
        Self {
            handle,
            summary,
            offset,
            sort,
            rows,
            error: RwSignal::new(None),
            transform: ServerAction::new(),
            open: ServerAction::new(),
            saved_plot: StoredValue::new(None),
        }
    }

    /// Shows `handle`: its schema, chain and first page come as the resources answer.
    pub(crate) fn show(self, handle: FrameHandle) {
        // The same frame again (an example opened twice, a step that gave the same
        // handle): asked for again, so a failure on the way before does not stay.
        // (Untracked: `show` runs in handlers and effects, and must not subscribe them.)
        let again = self
            .handle
            .with_untracked(|h| h.as_ref().map(|h| &h.id) == Some(&handle.id));
        self.error.set(None);
        self.sort.set(None);
        self.offset.set(0);
        // The frame on show is in the URL: a reload or a link opens it again.
        crate::browser::replace_query("/data", &[("h", handle.id.as_str())]);
        self.handle.set(Some(handle));
        if again {
            self.retry();
        }
    }

    /// Asks again for the summary and the page on show (after a refusal: busy, too many
    /// requests).
    fn retry(self) {
        self.summary.refetch();
        self.rows.refetch();
    }

    /// Whether what failed last is a read of the frame on show (worth asking again).
    fn read_failed(self) -> bool {
        self.error.get().is_none()
            && (matches!(self.summary_reply(), Some(Err(_))) || matches!(self.rows_reply(), Some(Err(_))))
    }

    /// The id of the frame on show.
    fn shown_id(self) -> Option<FrameId> {
        self.handle.with(|h| h.as_ref().map(|h| h.id.clone()))
    }

    /// The summary's reply, when it answers for the frame on show.
    fn summary_reply(self) -> Option<Result<DataInfo, StayputError>> {
        let id = self.shown_id()?;
        self.summary
            .get()
            .flatten()
            .filter(|(of, _)| *of == id)
            .map(|(_, reply)| reply)
    }

    /// The page's reply, when it answers for the frame, offset and order on show.
    fn rows_reply(self) -> Option<Result<RowsPage, StayputError>> {
        let key = (self.shown_id()?, self.offset.get(), self.sort.get());
        self.rows
            .get()
            .flatten()
            .filter(|(of, _)| *of == key)
            .map(|(_, reply)| reply)
    }

    /// The schema and chain of the frame on show, once in.
    pub(crate) fn info(self) -> Option<DataInfo> {
        self.summary_reply().and_then(Result::ok)
    }

    /// The columns the pickers offer: the frame on show's, or while its summary is on
    /// its way the last frame's (a step's result mostly has them), so a choice is not
    /// lost to a moment without any.
    pub(crate) fn picker_info(self) -> Option<DataInfo> {
        self.summary.get().flatten().and_then(|(_, reply)| reply.ok())
    }

    /// The page of rows on show, once in (none while another frame's or page's is all
    /// there is: paging from it would page from the wrong place).
    pub(crate) fn page(self) -> Option<RowsPage> {
        self.rows_reply().and_then(Result::ok)
    }

    /// Whether the frame on show could not be read (unknown, expired, foreign).
    fn unreadable(self) -> bool {
        matches!(self.summary_reply(), Some(Err(_)))
    }

    /// What the page says went wrong: the last action's failure, else the frame's or the
    /// page's.
    fn error_text(self) -> Option<String> {
        self.error
            .get()
            .or_else(|| self.summary_reply()?.err().map(|e| e.to_string()))
            .or_else(|| self.rows_reply()?.err().map(|e| e.to_string()))
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
    let view_state = DataView::new();
    view_state.show_replies();
    // The built-in examples this server has (read once, in the browser).
    let examples = LocalResource::new(data_examples);
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
    });
    let open_example = move |file: String| {
        view_state.error.set(None);
        view_state.open.dispatch(LoadExample { file });
    };
    let shape = move || {
        view_state
            .info()
            .map(|i| i.handle)
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
                {move || match examples.get() {
                    Some(Err(err)) => {
                        view! { <span class="muted">{format!("(none: {err})")}</span> }.into_any()
                    }
                    listed => listed
                        .and_then(Result::ok)
                        .unwrap_or_default()
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
                        .into_any(),
                }}
            </div>
            <Show when=move || view_state.error_text().is_some()>
                <p data-testid="error" class="error" role="alert">
                    {move || view_state.error_text().unwrap_or_default()}
                    <Show when=move || view_state.read_failed()>
                        " "
                        <button class="link" data-testid="retry" on:click=move |_| view_state.retry()>
                            "Try again"
                        </button>
                    </Show>
                </p>
            </Show>
            <Show when=move || view_state.handle.get().is_some() && !view_state.unreadable()>
                <h2 data-testid="name">{move || view_state.info().map(|i| i.name).unwrap_or_default()}</h2>
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
                let chain = view_state.info().map(|i| i.chain).unwrap_or_default();
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
