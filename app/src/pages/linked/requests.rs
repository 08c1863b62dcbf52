//! The figures of `/linked` asked for and drawn: one request at a time (a gesture made
//! while one is on its way waits, merged with the others), each reply's figures drawn in
//! turn, each painted before the next is drawn; and the gestures that ask for them (a
//! brush, a zoom).

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

/// Asks for figures `only` and draws each reply that is still the newest for its figure
/// (and for the same figures: adding or removing one, or opening another frame, starts a
/// new generation whose plots no older reply draws into).
pub(super) fn request(ln: Linked, mut only: Vec<usize>) {
    let count = ln.view.with_untracked(|v| v.figures.len());
    only.retain(|&i| i < count);
    if only.is_empty() {
        return;
    }
    if ln.in_flight.get_value() {
        // The newest gesture's figures first, in its order (a zoom's own first), then
        // the others still waiting.
        ln.pending.update_value(|p| {
            let rest: Vec<usize> = std::mem::take(p)
                .into_iter()
                .filter(|i| !only.contains(i))
                .collect();
            p.extend(only);
            p.extend(rest);
        });
        return;
    }
    let Some(handle) = ln.handle.get_untracked() else {
        return;
    };
    ln.in_flight.set_value(true);
    ln.requests.update_value(|n| *n += 1);
    let mine = ln.requests.get_value();
    let generation = ln.generation.get_value();
    ln.latest.update_value(|l| {
        l.resize(count, 0);
        for &i in &only {
            l[i] = mine;
        }
    });
    let width = |i: usize| match ln.widths.with_value(|w| w.get(i).copied().unwrap_or(0)) {
        0 => plot_of(i).map_or(600, |e| plot_width(&e)),
        known => known,
    };
    let (figures, selections) = ln.view.with_untracked(|v| v.request(&only, width));
    spawn_local(async move {
        let reply = linked_figures(handle, figures, selections).await;
        if ln.latest.try_get_value().is_none() {
            return; // the page is gone
        }
        match reply {
            Ok(drawn) => {
                ln.error.set(None);
                // The figure drawn last, not yet painted.
                let mut unpainted: Option<(usize, web_sys::Element)> = None;
                for (i, figure) in only.iter().copied().zip(drawn) {
                    match still_wanted(ln, generation, mine, i) {
                        None => return,          // the page is gone
                        Some(false) => continue, // a newer request asked for it, or the figures changed
                        Some(true) => {}
                    }
                    if let Some((j, root)) = unpainted.take() {
                        // Each figure is painted before the next is drawn: the first (the
                        // one the gesture came from, for a zoom) shows without waiting
                        // for the others' draws.
                        browser::after_paint().await;
                        painted(ln, generation, j, &root);
                        match still_wanted(ln, generation, mine, i) {
                            None => return,
                            Some(false) => continue,
                            Some(true) => {}
                        }
                    }
                    let Some(root) = plot_of(i) else { continue };
                    // Its own selection drawn with it; what plotly reports of it while we
                    // redraw is ours, not the user's, and is ignored.
                    let boxes = ln.view.with_untracked(|v| {
                        let figure = v.figures.get(i)?;
                        let boxes = selection_boxes(figure, v.selection(i)?);
                        serde_json::to_string(&boxes).ok()
                    });
                    ln.drawing.update_value(|d| d.push(i));
                    let drawn = browser::draw_figure_selected(&root, &figure.figure, boxes.as_deref()).await;
                    ln.drawing.update_value(|d| d.retain(|&j| j != i));
                    if let Err(err) = drawn {
                        ln.error.set(Some(err.to_string()));
                        continue;
                    }
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
                    unpainted = Some((i, root));
                }
                if let Some((j, root)) = unpainted {
                    spawn_local(async move {
                        browser::after_paint().await;
                        painted(ln, generation, j, &root);
                    });
                }
            }
            Err(err) => ln.error.set(Some(err.to_string())),
        }
        if ln.latest.try_get_value().is_none() {
            return; // the page is gone
        }
        ln.in_flight.set_value(false);
        let next = ln.pending.try_update_value(std::mem::take).unwrap_or_default();
        request(ln, next);
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
