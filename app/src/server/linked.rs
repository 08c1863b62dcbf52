//! Linked views on the server: the figures of one frame, each re-aggregated against the
//! selections made on the others (the figure engine's [`stayput_figures::linked_kept`],
//! reading the frame's min/max pyramids that `/explore`'s and `/data`'s lines keep).
//! Refused before any work when the request is malformed or too large; what the work
//! will take (every row kept, the filter's temporaries) is reserved in the memory budget
//! before it starts, and the slot and the reservation are held by the work itself, so a
//! client that hangs up does not free them while it runs.

use std::sync::Arc;

use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_figures::select::{Clause, LinkedFigure, Selection, MAX_VERTICES};
use stayput_figures::PyramidStore;

use crate::contract::figure::{ChartKind, FigureReply};
use crate::contract::StayputError;
use crate::server::heavy::HeavyJobs;
use crate::server::{blocking, in_pool_for};

/// Most clauses one request may carry, all its selections together.
pub const MAX_REQUEST_CLAUSES: usize = 32;

/// Checks what needs no frame: the view's shape ([`stayput_figures::check_view`]), and at
/// most [`MAX_REQUEST_CLAUSES`] clauses and [`MAX_VERTICES`] lasso vertices in all.
pub fn check(figures: &[LinkedFigure], selections: &[Selection]) -> Result<(), StayputError> {
    stayput_figures::check_view(figures, selections)?;
    let clauses = selections.iter().map(Vec::len).sum::<usize>();
    let vertices: usize = selections
        .iter()
        .flatten()
        .map(|c| match c {
            Clause::Polygon { points, .. } => points.len(),
            _ => 0,
        })
        .sum();
    if clauses > MAX_REQUEST_CLAUSES || vertices > MAX_VERTICES {
        return Err(StayputError::BadSpec(format!(
            "a linked view's selections may have {MAX_REQUEST_CLAUSES} clauses and {MAX_VERTICES} lasso vertices in all"
        )));
    }
    Ok(())
}

/// Refuses [`ChartKind::Bar`] where a figure is y over x (`/explore`, `/data`'s plot):
/// bars count a column's values, and only a linked view sizes that work.
pub fn not_bars(kind: ChartKind) -> Result<(), StayputError> {
    if kind == ChartKind::Bar {
        return Err(StayputError::BadSpec(
            "bars count a column's values: draw them in a linked view".into(),
        ));
    }
    Ok(())
}

/// The figures of `session`'s frame `handle`, each drawn from the rows the selections
/// it names keep. An unknown or foreign handle is [`StayputError::UnknownHandle`].
pub async fn figures(
    (cache, heavy, pyramids): (&FrameCache, &HeavyJobs, &Arc<PyramidStore>),
    session: SessionKey,
    handle: &FrameHandle,
    figures: Vec<LinkedFigure>,
    selections: Vec<Selection>,
) -> Result<Vec<FigureReply>, StayputError> {
    check(&figures, &selections)?;
    let whole = crate::server::data::entry(cache, session, handle)?;
    let rows = whole.rows;
    let slot = heavy
        .admit(Some(session), crate::server::work::Work::ReadWhole(&whole))
        .await?;
    // Read first: the frame is then the session's most recently used, the last its own
    // reservation would evict.
    let frame = cache.get(session, handle).await?;
    let room = cache
        .reserve(
            session,
            stayput_figures::linked_bytes(&frame, &figures, &selections),
        )
        .await?;
    let pyramids = Arc::clone(pyramids);
    blocking(move || {
        let _held_while_working = (slot, room);
        in_pool_for(rows, || {
            Ok(stayput_figures::linked_kept(
                &frame,
                &figures,
                &selections,
                &pyramids,
            )?)
        })
    })
    .await
}
