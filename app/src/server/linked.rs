//! Linked views on the server: the figures of one frame, each re-aggregated against the
//! selections made on the others (the figure engine's [`stayput_figures::linked`]).
//! Refused before any work when the request is malformed or too large; what the work
//! will take (every row kept, the filter's temporaries) is reserved in the memory budget
//! before it starts, and the slot and the reservation are held by the work itself, so a
//! client that hangs up does not free them while it runs.

use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_figures::select::{check_selection, Clause, LinkedFigure, Selection, MAX_FIGURES, MAX_VERTICES};
use stayput_figures::ROW;

use crate::contract::figure::{ChartKind, FigureReply};
use crate::contract::StayputError;
use crate::server::heavy::HeavyJobs;
use crate::server::{blocking, in_pool_for};

/// Most clauses one request may carry, all its selections together.
pub const MAX_REQUEST_CLAUSES: usize = 32;

/// Checks what needs no frame: 1 to [`MAX_FIGURES`] figures, at most as many
/// selections, each of a valid shape, at most [`MAX_REQUEST_CLAUSES`] clauses and
/// [`MAX_VERTICES`] lasso vertices in all, and every filter naming a selection sent.
pub fn check(figures: &[LinkedFigure], selections: &[Selection]) -> Result<(), StayputError> {
    if figures.is_empty() || figures.len() > MAX_FIGURES || selections.len() > MAX_FIGURES {
        return Err(StayputError::BadSpec(format!(
            "a linked view has 1 to {MAX_FIGURES} figures and at most {MAX_FIGURES} selections"
        )));
    }
    for selection in selections {
        check_selection(selection)?;
    }
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
    if figures
        .iter()
        .flat_map(|f| &f.filters)
        .any(|&i| i >= selections.len())
    {
        return Err(StayputError::BadSpec(
            "a figure names a selection that was not sent".into(),
        ));
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

/// Bytes a view's work takes at most, for a frame of `rows` rows: for each distinct set
/// of filters, every row of the columns its figures read (24 bytes a value, room for a
/// text column's views), the row number (u32 and f64), each clause's temporaries (an f64
/// or text copy of its column, a lasso's mask) and the mask; for every bar figure, its
/// column as text and the groups (32 bytes a row at worst: every value distinct).
fn worst_case_bytes(rows: u64, figures: &[LinkedFigure], selections: &[Selection]) -> u64 {
    let mut groups: Vec<(Vec<usize>, Vec<&str>)> = Vec::new();
    let mut per_row: u64 = 0;
    for f in figures {
        if f.spec.kind == ChartKind::Bar {
            per_row += 32;
        }
        if f.filters.is_empty() {
            continue;
        }
        let mut filters = f.filters.clone();
        filters.sort_unstable();
        filters.dedup();
        let at = match groups.iter().position(|(g, _)| *g == filters) {
            Some(at) => at,
            None => {
                groups.push((filters, Vec::new()));
                groups.len() - 1
            }
        };
        let columns = &mut groups[at].1;
        let y = (f.spec.kind != ChartKind::Bar).then_some(f.spec.y.as_str());
        for name in std::iter::once(f.spec.x.as_str()).chain(y) {
            if name != ROW && !columns.contains(&name) {
                columns.push(name);
            }
        }
    }
    for (filters, columns) in &groups {
        let clauses: u64 = filters
            .iter()
            .map(|&s| selections.get(s).map_or(0, Vec::len) as u64)
            .sum();
        per_row += 24 * columns.len() as u64 + 12 + 24 * clauses + 1;
    }
    rows.saturating_mul(per_row)
}

/// The figures of `session`'s frame `handle`, each drawn from the rows the selections
/// it names keep. An unknown or foreign handle is [`StayputError::UnknownHandle`].
pub async fn figures(
    cache: &FrameCache,
    session: SessionKey,
    heavy: &HeavyJobs,
    handle: &FrameHandle,
    figures: Vec<LinkedFigure>,
    selections: Vec<Selection>,
) -> Result<Vec<FigureReply>, StayputError> {
    check(&figures, &selections)?;
    let rows = crate::server::data::entry(cache, session, handle)?.rows;
    let slot = heavy.admit(Some(session), rows).await?;
    // Read first: the frame is then the session's most recently used, the last its own
    // reservation would evict.
    let frame = cache.get(session, handle).await?;
    let room = cache
        .reserve(session, worst_case_bytes(rows, &figures, &selections))
        .await?;
    blocking(move || {
        let _held_while_working = (slot, room);
        in_pool_for(rows, || {
            Ok(stayput_figures::linked(&frame, &figures, &selections)?)
        })
    })
    .await
}
