//! `/data`'s upload area: the file chooser, the drop zone, the progress and the cancel
//! button, and the built-in examples.

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use super::DataView;
use crate::browser;
use crate::contract::sizes::with_thousands;

/// The file chooser, the drop zone, the progress and the cancel button.
#[component]
pub fn UploadArea(view_state: DataView) -> AnyView {
    let progress = RwSignal::new(String::new());
    let uploading = RwSignal::new(false);
    // An Excel workbook's sheet to read; empty: its first.
    let sheet = RwSignal::new(String::new());
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
        let chosen_sheet = sheet.get_untracked();
        let chosen_sheet = Some(chosen_sheet.trim()).filter(|s| !s.is_empty());
        match browser::upload_file(&file, chosen_sheet, shown) {
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
                    accept=".csv,.tsv,.txt,.json,.ndjson,.jsonl,.gz,.parquet,.arrow,.feather,.ipc,.xlsx,.xlsm"
                    on:change=chosen
                    disabled=move || uploading.get()
                />
            </label>
            <span class="muted">" or drop one here"</span>
            <label class="sheet">
                " Excel sheet "
                <input
                    type="text"
                    data-testid="sheet"
                    placeholder="the first"
                    size="12"
                    prop:value=move || sheet.get()
                    on:input=move |ev| sheet.set(event_target_value(&ev))
                    disabled=move || uploading.get()
                />
            </label>
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
