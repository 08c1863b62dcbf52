//! The figures of `/linked` asked for and drawn: one figure a request, one request at a
//! time (a gesture made while one is on its way waits, merged with the others), each
//! reply drawn and painted before the next is drawn; and the gestures that ask for them
//! (a brush, a zoom).

use futures::channel::oneshot;
use futures::FutureExt;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{remember, Linked};
use crate::api::linked_figures;
use crate::browser;
use crate::contract::figure::ChartKind;
use crate::contract::linked::{selection_boxes, selection_of, Brush};
use crate::contract::sizes::with_thousands;

pub(super) fn plot_id(i: usize) -> String {
    format!("linked-plot-{i}")
}

/// The width a figure of plot `root` is reduced for: its width in CSS pixels, at least 300.
fn plot_width(root: &web_sys::Element) -> u32 {
    root.client_width().max(300) as u32
}

fn plot_of(i: usize) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(&plot_id(i))
}

/// Asks for figures `only`, one request a figure, in turn: the first now (or, while a
/// request is on its way, as soon as it is answered), the rest waiting in
/// [`Linked::pending`]. Each reply is drawn and painted before the next is drawn; a reply
/// older than one already in for its figure, or for other figures (one added or removed,
/// another frame opened: a new generation), is dropped.
///
/// One figure a request, because a reply waits for every figure it carries: a brush at
/// 1e8 rows would hold the line (8 ms on the server) behind a histogram of the tens of
/// millions of rows the brush keeps (45 ms). The next figure is asked for as soon as a
/// reply is in, so the server works on it while the page draws the one before.
pub(super) fn request(ln: Linked, mut only: Vec<usize>) {
    let count = ln.view.with_untracked(|v| v.figures.len());
    only.retain(|&i| i < count);
    // The newest gesture's figures first, in its order (a zoom's own first), then the
    // others still waiting.
    let waiting = ln.pending.try_update_value(|p| {
        let rest: Vec<usize> = std::mem::take(p)
            .into_iter()
            .filter(|i| !only.contains(i))
            .collect();
        p.extend(only);
        p.extend(rest);
        p.retain(|&i| i < count); // asked for before a figure was removed
        if ln.in_flight.get_value() || p.is_empty() {
            None
        } else {
            Some(p.remove(0))
        }
    });
    let Some(Some(i)) = waiting else {
        return;
    };
    let Some(handle) = ln.handle.get_untracked() else {
        return;
    };
    ln.in_flight.set_value(true);
    ln.requests.update_value(|n| *n += 1);
    let mine = ln.requests.get_value();
    let generation = ln.generation.get_value();
    let width = |i: usize| match ln.widths.with_value(|w| w.get(i).copied().unwrap_or(0)) {
        0 => plot_of(i).map_or(600, |e| plot_width(&e)),
        known => known,
    };
    let (figures, selections) = ln.view.with_untracked(|v| v.request(&[i], width));
    // Replies are drawn in the order they were asked for: this one after the one before
    // has been drawn and painted.
    let (drawn_here, this_drawn) = oneshot::channel::<()>();
    let before = ln
        .drawn
        .try_update_value(|d| d.replace(this_drawn.shared()))
        .flatten();
    spawn_local(async move {
        let reply = linked_figures(handle, figures, selections).await;
        if ln.latest.try_get_value().is_none() {
            return; // the page is gone
        }
        // This reply is the newest in for figure `i`: an older one not yet drawn drops it.
        ln.latest.update_value(|l| {
            l.resize(l.len().max(i + 1), 0);
            l[i] = l[i].max(mine);
        });
        ln.in_flight.set_value(false);
        request(ln, Vec::new());
        if let Some(before) = before {
            let _ = before.await; // cancelled (a reply dropped early) is drawn too
        }
        match reply {
            Ok(drawn) => {
                let Some(figure) = drawn.into_iter().next() else {
                    return;
                };
                if still_wanted(ln, generation, mine, i) != Some(true) {
                    return; // the page is gone, a newer reply is in, or the figures changed
                }
                let Some(root) = plot_of(i) else { return };
                // Its own selection drawn with it; what plotly reports of it while we
                // redraw is ours, not the user's, and is ignored.
                let boxes = ln.view.with_untracked(|v| {
                    let figure = v.figures.get(i)?;
                    let boxes = selection_boxes(figure, v.selection(i)?);
                    serde_json::to_string(&boxes).ok()
                });
                ln.drawing.update_value(|d| d.push(i));
                let drawn = browser::draw_figure_selected(&root, &figure.figure, boxes.as_deref()).await;
                if ln.drawing.try_update_value(|d| d.retain(|&j| j != i)).is_none() {
                    return; // the page is gone
                }
                if let Err(err) = drawn {
                    ln.error.set(Some(err.to_string()));
                    return;
                }
                ln.error.set(None);
                // For tests and benchmarks: how many draws.
                let _ = root.set_attribute("data-draws", &mine.to_string());
                ln.notes.update(|n| {
                    n.resize(count, String::new());
                    n[i] = format!(
                        "{} points of {} rows",
                        with_thousands(figure.points),
                        with_thousands(figure.rows_in_range)
                    );
                });
                hook(ln, i, &root);
                // Painted before the next reply is drawn: the first figure asked for (the
                // one a zoom came from) shows without waiting for the others' draws.
                browser::after_paint().await;
                painted(ln, generation, i, &root);
            }
            Err(err) => {
                if still_wanted(ln, generation, mine, i) == Some(true) {
                    ln.error.set(Some(err.to_string()));
                }
            }
        }
        let _ = drawn_here.send(());
    });
}

/// Whether request `mine`'s figure `i` is still to be drawn: `None` when the page is
/// gone, `false` when a newer request asked for it or the figures changed.
fn still_wanted(ln: Linked, generation: u64, mine: u64, i: usize) -> Option<bool> {
    let latest = ln.latest.try_get_value()?;
    Some(ln.generation.try_get_value()? == generation && latest.get(i) == Some(&mine))
}

/// After figure `i` (in `root`) has been painted: its performance mark, where the tests
/// and benchmarks read when it was (as `/` and `/explore` leave theirs), and its width,
/// read now that the page is laid out.
fn painted(ln: Linked, generation: u64, i: usize, root: &web_sys::Element) {
    browser::mark(&format!("stayput:painted-{i}"));
    if ln.generation.try_get_value() == Some(generation) {
        ln.widths.update_value(|w| {
            w.resize(w.len().max(i + 1), 0);
            w[i] = plot_width(root);
        });
    }
}

/// Listens to figure `i`'s selections (and a line's zooms), once.
fn hook(ln: Linked, i: usize, root: &web_sys::Element) {
    let done = ln.hooked.try_update_value(|h| {
        if h.len() <= i {
            h.resize(i + 1, false);
        }
        std::mem::replace(&mut h[i], true)
    });
    if done != Some(false) {
        return;
    }
    let picked = browser::on_select(root, move |brush: Option<Brush>| on_brush(ln, i, brush));
    let kind = ln.view.with_untracked(|v| v.figures.get(i).map(|f| f.kind));
    let zoomable = matches!(
        kind,
        Some(ChartKind::Line | ChartKind::Scatter | ChartKind::Density)
    );
    let zoomed = if zoomable {
        browser::on_x_relayout(root, move |range| on_zoom(ln, i, range))
    } else {
        Ok(())
    };
    if let Err(err) = picked.and(zoomed) {
        ln.error.set(Some(err.to_string()));
    }
}

/// A brush on figure `i` (or its clearing): every other figure re-aggregated.
pub(super) fn on_brush(ln: Linked, i: usize, brush: Option<Brush>) {
    if ln.drawing.try_with_value(|d| d.contains(&i)) != Some(false) {
        return; // the page's own redraw, or the page is gone
    }
    let Some(figure) = ln.view.with_untracked(|v| v.figures.get(i).cloned()) else {
        return;
    };
    let selection = brush.and_then(|b| selection_of(&figure, &b));
    if ln.view.with_untracked(|v| v.selection(i) == selection.as_ref()) {
        return;
    }
    ln.view.update(|v| v.select(i, selection));
    remember(ln);
    let count = ln.view.with_untracked(|v| v.figures.len());
    request(ln, (0..count).filter(|&j| j != i).collect());
}

/// A zoom of figure `i`'s x: every figure over the same x re-reduced to the range.
fn on_zoom(ln: Linked, i: usize, range: Option<(f64, f64)>) {
    let Some(x) = ln.view.with_untracked(|v| v.figures.get(i).map(|f| f.x.clone())) else {
        return;
    };
    if ln.view.with_untracked(|v| v.range_of(&x) == range) {
        return;
    }
    ln.view.update(|v| v.zoom(&x, range));
    remember(ln);
    // The zoomed figure first (drawn and painted first), then the others over its x.
    let same_x = ln.view.with_untracked(|v| {
        std::iter::once(i)
            .chain(
                (0..v.figures.len())
                    .filter(|&j| j != i && v.figures[j].x == x && v.figures[j].kind != ChartKind::Bar),
            )
            .collect()
    });
    request(ln, same_x);
}
