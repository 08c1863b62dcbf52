//! What only the browser can do: its clock, raw-byte fetches and plotly.js.
//!
//! Compiled on both sides so that components type-check in the server build, but
//! only ever called from event handlers, which run in the browser.

use js_sys::{Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::contract::client_mode::{ClientMeanReply, FRAME_PATH, MEAN_PATH};
use crate::contract::StayputError;

#[wasm_bindgen]
extern "C" {
    /// `Plotly.react(root, data, layout, config)`: draws or redraws in place.
    #[wasm_bindgen(js_namespace = Plotly, js_name = react, catch)]
    fn plotly_react(
        root: &web_sys::Element,
        data: &JsValue,
        layout: &JsValue,
        config: &JsValue,
    ) -> Result<js_sys::Promise, JsValue>;
}

fn describe(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// Milliseconds on the page's monotonic clock (`performance.now()`).
pub(crate) fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// Marks `name` on the page's performance timeline (`performance.mark`), where DevTools
/// and the benchmarks read the stages of a run. Only the newest mark of a name is kept.
pub(crate) fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        performance.clear_marks_with_mark_name(name);
        let _ = performance.mark(name);
    }
}

/// Lets what the caller has just written to signals reach the DOM before it goes on.
///
/// Awaits an already-resolved promise: its continuation is a microtask queued behind the
/// render effects those writes woke (and behind what their DOM changes queue, such as a
/// `MutationObserver`'s callback), so the work after it (setting up a `fetch` is ~1 ms
/// in Chromium here) no longer runs between a result and its rendering.
pub(crate) async fn after_render() {
    let _ = JsFuture::from(js_sys::Promise::resolve(&JsValue::UNDEFINED)).await;
}

/// Resolves once the browser has painted what is in the DOM now: an animation frame
/// (its callbacks run just before the paint), then a task (which runs after it). A long
/// draw started only then cannot hold back the paint of what came before it. A hidden
/// page paints nothing and gets no frame: there it resolves at once.
pub(crate) async fn after_paint() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let Some(window) = web_sys::window() else {
            let _ = resolve.call0(&JsValue::NULL);
            return;
        };
        if window.document().is_none_or(|d| d.hidden()) {
            let _ = resolve.call0(&JsValue::NULL);
            return;
        }
        let done = resolve.clone();
        let after = Closure::once_into_js(move || {
            let _ = done.call0(&JsValue::NULL);
        });
        let later = window.clone();
        let frame = Closure::once_into_js(move || {
            if later.set_timeout_with_callback(after.unchecked_ref()).is_err() {
                // No timers: the frame has come, which is enough.
            }
        });
        if window.request_animation_frame(frame.unchecked_ref()).is_err() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Draws Plotly figure JSON (`{"data": [...], "layout": {...}}`) into `root`.
pub(crate) async fn draw_figure(root: &web_sys::Element, figure_json: &str) -> Result<(), StayputError> {
    draw_figure_selected(root, figure_json, None).await
}

/// [`draw_figure`], with `selections` (JSON, plotly's `layout.selections`) drawn on it.
pub(crate) async fn draw_figure_selected(
    root: &web_sys::Element,
    figure_json: &str,
    selections: Option<&str>,
) -> Result<(), StayputError> {
    let global = js_sys::global();
    if !Reflect::has(&global, &"Plotly".into()).unwrap_or(false) {
        return Err(StayputError::Draw("plotly.js did not load".into()));
    }
    let figure = JSON::parse(figure_json).map_err(|e| StayputError::Draw(describe(&e)))?;
    let field =
        |name: &str| Reflect::get(&figure, &name.into()).map_err(|e| StayputError::Draw(describe(&e)));
    if let Some(selections) = selections {
        let boxes = JSON::parse(selections).map_err(|e| StayputError::Draw(describe(&e)))?;
        Reflect::set(&field("layout")?, &"selections".into(), &boxes)
            .map_err(|e| StayputError::Draw(describe(&e)))?;
    }
    let config = JSON::parse(r#"{"responsive":true,"displaylogo":false}"#)
        .map_err(|e| StayputError::Draw(describe(&e)))?;
    let promise = plotly_react(root, &field("data")?, &field("layout")?, &config)
        .map_err(|e| StayputError::Draw(describe(&e)))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| StayputError::Draw(describe(&e)))?;
    Ok(())
}

/// POSTs `body` to `url` and returns the response, or the server's error.
async fn post(url: &str, body: Option<&JsValue>) -> Result<web_sys::Response, StayputError> {
    let network = |e: JsValue| StayputError::Network(describe(&e));
    let window = web_sys::window().ok_or_else(|| StayputError::Network("no window".into()))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    if let Some(body) = body {
        init.set_body(body);
    }
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(network)?
        .dyn_into()
        .map_err(network)?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(network)?)
        .await
        .map_err(network)?
        .as_string()
        .unwrap_or_default();
    Err(serde_json::from_str::<StayputError>(&text)
        .unwrap_or_else(|_| StayputError::Network(format!("HTTP {status}"))))
}

/// Both steps of client mode: fetch the whole frame, then send it back for its mean.
///
/// The frame is held as an `ArrayBuffer`, the way a Dash store holds its JSON.
pub(crate) async fn client_round_trip(rows: u64) -> Result<ClientMeanReply, StayputError> {
    let network = |e: JsValue| StayputError::Network(describe(&e));
    let response = post(&format!("{FRAME_PATH}?rows={rows}"), None).await?;
    let frame = JsFuture::from(response.array_buffer().map_err(network)?)
        .await
        .map_err(network)?;
    let response = post(MEAN_PATH, Some(&frame)).await?;
    let text = JsFuture::from(response.text().map_err(network)?)
        .await
        .map_err(network)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| StayputError::Network(format!("unreadable answer: {e}")))
}

/// A plotly axis value as a number: numbers as they are, date strings
/// (`2024-01-01 05:33:20.5`, UTC) as milliseconds since the epoch.
fn axis_value(value: &JsValue) -> Option<f64> {
    if let Some(n) = value.as_f64() {
        return Some(n);
    }
    let text = value.as_string()?;
    let iso = match text.split_once(' ') {
        Some((date, time)) => format!("{date}T{time}Z"),
        None => format!("{text}T00:00:00Z"),
    };
    let ms = js_sys::Date::parse(&iso);
    (!ms.is_nan()).then_some(ms)
}

/// What a `plotly_relayout` event says about the x axis: `Some(Some(range))` for a zoom
/// or pan, `Some(None)` for a reset (double click), `None` when x did not change.
fn relayout_x(event: &JsValue) -> Option<Option<(f64, f64)>> {
    let get = |key: &str| {
        Reflect::get(event, &key.into())
            .ok()
            .filter(|v| !v.is_undefined())
    };
    if get("xaxis.autorange").is_some_and(|v| v.as_bool() == Some(true)) {
        return Some(None);
    }
    let (lo, hi) = match (get("xaxis.range[0]"), get("xaxis.range[1]")) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => {
            let pair = get("xaxis.range")?;
            let pair: &js_sys::Array = pair.dyn_ref()?;
            (pair.get(0), pair.get(1))
        }
    };
    let (lo, hi) = (axis_value(&lo)?, axis_value(&hi)?);
    Some(Some((lo.min(hi), lo.max(hi))))
}

/// Calls `handler` whenever the user zooms, pans or resets the x axis of the plot in
/// `root` (plotly's `plotly_relayout` event). Attach once, after the first draw.
pub(crate) fn on_x_relayout(
    root: &web_sys::Element,
    handler: impl Fn(Option<(f64, f64)>) + 'static,
) -> Result<(), StayputError> {
    let on = Reflect::get(root, &"on".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| StayputError::Draw("the plot cannot report zooms".into()))?;
    let callback = Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
        // Where a zoom's time starts for the benchmarks: before anything of ours runs.
        mark("stayput:relayout");
        if let Some(range) = relayout_x(&event) {
            handler(range);
        }
    });
    on.call2(root, &"plotly_relayout".into(), callback.as_ref())
        .map_err(|e| StayputError::Draw(describe(&e)))?;
    // The plot keeps the listener for as long as the element lives.
    callback.forget();
    Ok(())
}

/// An upload on its way: [`Upload::cancel`] aborts it (the server then removes what it
/// received).
pub(crate) struct Upload {
    xhr: web_sys::XmlHttpRequest,
}

impl Upload {
    /// Stops the upload.
    pub(crate) fn cancel(&self) {
        let _ = self.xhr.abort();
    }
}

/// Sends `file` to `/data`'s upload route as the raw body (the browser streams it from
/// disk: never read into the page's memory, never base64), with the `sheet` to read when
/// it is an Excel workbook, calling `progress(sent,
/// total)` as it goes. Returns the upload (to cancel it) and its answer.
pub(crate) fn upload_file(
    file: &web_sys::File,
    sheet: Option<&str>,
    progress: impl Fn(f64, f64) + 'static,
) -> Result<
    (
        Upload,
        impl std::future::Future<Output = Result<stayput_cache::FrameHandle, StayputError>>,
    ),
    StayputError,
> {
    use crate::contract::data::UPLOAD_PATH;
    let fail = |e: JsValue| StayputError::Network(describe(&e));
    let xhr = web_sys::XmlHttpRequest::new().map_err(fail)?;
    let name = String::from(js_sys::encode_uri_component(&file.name()));
    let sheet = sheet
        .map(|s| format!("&sheet={}", String::from(js_sys::encode_uri_component(s))))
        .unwrap_or_default();
    xhr.open("POST", &format!("{UPLOAD_PATH}?name={name}{sheet}"))
        .map_err(fail)?;
    let on_progress = Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |event: web_sys::ProgressEvent| {
        progress(event.loaded(), event.total());
    });
    xhr.upload()
        .map_err(fail)?
        .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    // Lives as long as the request (one small closure per upload).
    on_progress.forget();
    let done = js_sys::Promise::new(&mut |resolve, _reject| {
        let resolve = resolve.clone();
        let on_end = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        xhr.set_onloadend(Some(on_end.unchecked_ref()));
    });
    xhr.send_with_opt_blob(Some(file)).map_err(fail)?;
    let answer = {
        let xhr = xhr.clone();
        async move {
            let _ = JsFuture::from(done).await;
            let status = xhr.status().unwrap_or(0);
            let text = xhr.response_text().ok().flatten().unwrap_or_default();
            if status == 0 {
                return Err(StayputError::Network("the upload was stopped".into()));
            }
            if (200..300).contains(&status) {
                return serde_json::from_str(&text)
                    .map_err(|e| StayputError::Network(format!("unreadable answer: {e}")));
            }
            Err(serde_json::from_str::<StayputError>(&text)
                .unwrap_or_else(|_| StayputError::Network(format!("HTTP {status}"))))
        }
    };
    Ok((Upload { xhr }, answer))
}

/// What a `plotly_selected` event says was drawn: a box's ranges, a lasso's vertices,
/// the categories of the bars inside. `None` when it holds nothing (a click that
/// cleared the selection).
fn brush_of(event: &JsValue) -> Option<crate::contract::linked::Brush> {
    use crate::contract::linked::Brush;
    if event.is_undefined() || event.is_null() {
        return None;
    }
    let get = |from: &JsValue, key: &str| {
        Reflect::get(from, &key.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let numbers = |from: &JsValue| -> Option<Vec<f64>> {
        let list: &js_sys::Array = from.dyn_ref()?;
        list.iter().map(|v| axis_value(&v)).collect()
    };
    let pair = |from: Option<JsValue>| -> Option<(f64, f64)> {
        let v = numbers(&from?)?;
        (v.len() == 2).then(|| (v[0].min(v[1]), v[0].max(v[1])))
    };
    let mut brush = Brush::default();
    if let Some(range) = get(event, "range") {
        brush.x = pair(get(&range, "x"));
        brush.y = pair(get(&range, "y"));
    }
    if let Some(lasso) = get(event, "lassoPoints") {
        let (xs, ys) = (numbers(&get(&lasso, "x")?)?, numbers(&get(&lasso, "y")?)?);
        let mut points: Vec<[f64; 2]> = xs.into_iter().zip(ys).map(|(x, y)| [x, y]).collect();
        // A long lasso thinned to what the server takes: every k-th vertex.
        let most = crate::contract::linked::MAX_VERTICES;
        if points.len() > most {
            let step = points.len().div_ceil(most);
            points = points.into_iter().step_by(step).collect();
        }
        brush.lasso = Some(points);
    }
    if let Some(points) = get(event, "points").and_then(|p| p.dyn_into::<js_sys::Array>().ok()) {
        let mut seen: Vec<String> = Vec::new();
        for point in points.iter() {
            let label =
                get(&point, "x").and_then(|x| x.as_string().or_else(|| x.as_f64().map(|n| n.to_string())));
            if let Some(label) = label.filter(|l| !seen.contains(l)) {
                seen.push(label);
            }
        }
        brush.categories = seen;
    }
    Some(brush)
}

/// Calls `handler` with what the user selects on the plot in `root` (plotly's
/// `plotly_selected`, once the drag ends: a drag never floods), and with `None` when
/// the selection is cleared (`plotly_deselect`, a double click). Attach once.
pub(crate) fn on_select(
    root: &web_sys::Element,
    handler: impl Fn(Option<crate::contract::linked::Brush>) + 'static,
) -> Result<(), StayputError> {
    let on = Reflect::get(root, &"on".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| StayputError::Draw("the plot cannot report selections".into()))?;
    let handler = std::rc::Rc::new(handler);
    let selected = {
        let handler = handler.clone();
        Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
            mark("stayput:selected");
            handler(brush_of(&event));
        })
    };
    let cleared = Closure::<dyn Fn(JsValue)>::new(move |_: JsValue| handler(None));
    for (name, callback) in [("plotly_selected", &selected), ("plotly_deselect", &cleared)] {
        on.call2(root, &name.into(), callback.as_ref())
            .map_err(|e| StayputError::Draw(describe(&e)))?;
    }
    // The plot keeps the listeners for as long as the element lives.
    selected.forget();
    cleared.forget();
    Ok(())
}

/// Replaces the page's URL with `path?params` (no navigation, no history entry): the
/// page's state, for a reload or a shared link to restore.
pub(crate) fn replace_query(path: &str, params: &[(&str, &str)]) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(query) = web_sys::UrlSearchParams::new() else {
        return;
    };
    for (name, value) in params {
        query.append(name, value);
    }
    let url = format!("{path}?{}", String::from(query.to_string()));
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
}
