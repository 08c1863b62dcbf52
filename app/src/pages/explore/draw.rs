//! `/explore`'s draws: a figure request per spec or zoom, stale replies dropped, zooms
//! made while one is on its way coalesced into the newest.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::Explorer;
use crate::browser;
use crate::contract::benchmark::{Step, StepReply};
use crate::contract::figure::{FigureReply, SavedFigure};
use crate::contract::sizes::with_thousands;
use crate::contract::StayputError;

/// Asks for the figure of the current spec over `range` and draws it, unless a newer
/// request has been made by the time the reply arrives.
pub(super) fn redraw(ex: Explorer, range: Option<(f64, f64)>) {
    let Some(handle) = ex.handle.get_untracked() else {
        return;
    };
    ex.range.set(range);
    let seq = next_request(ex);
    let width = plot_width(ex);
    let (x, y, kind) = (
        ex.x.get_untracked(),
        ex.y.get_untracked(),
        ex.kind.get_untracked(),
    );
    spawn_local(async move {
        let started = browser::now_ms();
        let step = Step::Figure {
            handle,
            x,
            y,
            kind,
            x_min: range.map(|r| r.0),
            x_max: range.map(|r| r.1),
            width,
        };
        browser::mark("stayput:figure-asked");
        let answer = ex.steps.run(step).await;
        browser::mark("stayput:figure-answered");
        let reply = match answer {
            Ok(StepReply::Figure(reply)) => Ok(reply),
            Ok(_) => Err(StayputError::Network("an unexpected reply".into())),
            Err(err) => Err(err),
        };
        if ex.latest.try_get_value() != Some(seq) {
            return; // superseded by a newer zoom or spec, or the page is gone
        }
        let shown = match reply {
            Ok(reply) => show(ex, &reply, started).await,
            Err(err) => Err(err),
        };
        ex.error.set(shown.err().map(|e| e.to_string()));
        settle(ex, seq);
    });
}

/// Numbers a new figure request (older replies are then dropped) and marks it on its way.
pub(super) fn next_request(ex: Explorer) -> u64 {
    let seq = ex.latest.get_value() + 1;
    ex.latest.set_value(seq);
    ex.in_flight.set_value(true);
    seq
}

/// Request `seq` is answered: unless a newer one is on its way, the newest zoom made
/// meanwhile is asked for now.
pub(super) fn settle(ex: Explorer, seq: u64) {
    if ex.latest.try_get_value() == Some(seq) {
        ex.in_flight.set_value(false);
        if let Some(range) = ex.pending_zoom.try_update_value(Option::take).flatten() {
            on_zoom(ex, range);
        }
    }
}

/// The plot's width in CSS pixels, which the server reduces for.
pub(super) fn plot_width(ex: Explorer) -> u32 {
    ex.plot
        .get_untracked()
        .map_or(800, |div| div.client_width().max(100)) as u32
}

/// Draws `reply`, marks the plot for tests and listens for zooms after the first draw.
/// `started` is when the figure was asked for (the page's clock, ms).
pub(super) async fn show(ex: Explorer, reply: &FigureReply, started: f64) -> Result<(), StayputError> {
    let root = ex
        .plot
        .get_untracked()
        .ok_or_else(|| StayputError::Draw("the plot area is missing".into()))?;
    browser::draw_figure(&root, &reply.figure).await?;
    let Some(draws) = ex.draws.try_get_value().map(|d| d + 1) else {
        return Ok(()); // the page is gone
    };
    ex.draws.set_value(draws);
    let mark = |name: &str, value: String| {
        root.set_attribute(name, &value)
            .map_err(|_| StayputError::Draw("could not mark the plot".into()))
    };
    mark("data-points", reply.points.to_string())?;
    mark("data-rows", reply.rows_in_range.to_string())?;
    mark("data-ms", format!("{:.1}", browser::now_ms() - started))?;
    mark("data-token", draws.to_string())?;
    ex.reduction.set(format!(
        "{} of {} points ({}){}",
        with_thousands(reply.points),
        with_thousands(reply.total_rows),
        reply.method,
        if reply.rows_in_range < reply.total_rows {
            format!(", {} rows in view", with_thousands(reply.rows_in_range))
        } else {
            String::new()
        }
    ));
    if let Some(handle) = ex.handle.get_untracked() {
        // What is on show is in the URL: a reload or a link draws it again.
        let saved = SavedFigure {
            x: ex.x.get_untracked(),
            y: ex.y.get_untracked(),
            kind: ex.kind.get_untracked(),
            range: ex.range.get_untracked(),
        };
        browser::replace_query(
            "/explore",
            &[("h", handle.id.as_str()), ("view", &saved.to_param())],
        );
    }
    if !ex.hooked.get_value() {
        ex.hooked.set_value(true);
        browser::on_x_relayout(&root, move |range| on_zoom(ex, range))?;
    }
    Ok(())
}

/// A zoom, pan or reset: asked for at once when no figure request is on its way;
/// otherwise kept (only the newest) until that request is answered. Stale replies are
/// dropped by [`redraw`].
fn on_zoom(ex: Explorer, range: Option<(f64, f64)>) {
    if range == ex.range.get_untracked() {
        return; // our own redraw reporting the range it was drawn with
    }
    if ex.in_flight.get_value() {
        ex.pending_zoom.set_value(Some(range));
        return;
    }
    ex.pending_zoom.set_value(None);
    redraw(ex, range);
}
