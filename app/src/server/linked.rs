//! Linked views on the server: the figures of one frame, each re-aggregated against the
//! selections made on the others (the figure engine's [`stayput_figures::linked`]).
//! Refused before any work when the request is malformed, and its worst case (every row
//! kept) is reserved in the memory budget before a row is copied.

use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_figures::select::{check_selection, LinkedFigure, Selection, MAX_FIGURES};
use stayput_figures::ROW;

use crate::contract::figure::{ChartKind, FigureReply};
use crate::contract::StayputError;
use crate::server::blocking;
use crate::server::heavy::HeavyJobs;

/// Checks what needs no frame: 1 to [`MAX_FIGURES`] figures, at most as many
/// selections, each of a valid shape, and every filter naming one of them.
pub fn check(figures: &[LinkedFigure], selections: &[Selection]) -> Result<(), StayputError> {
    if figures.is_empty() || figures.len() > MAX_FIGURES || selections.len() > MAX_FIGURES {
        return Err(StayputError::BadSpec(format!(
            "a linked view has 1 to {MAX_FIGURES} figures and at most {MAX_FIGURES} selections"
        )));
    }
    for selection in selections {
        check_selection(selection)?;
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

/// Bytes the filtered copies of a view take at most: for each distinct set of filters,
/// every row of the columns its figures read, the row number and the mask.
fn worst_case_bytes(rows: u64, figures: &[LinkedFigure]) -> u64 {
    let mut groups: Vec<(Vec<usize>, Vec<&str>)> = Vec::new();
    for f in figures.iter().filter(|f| !f.filters.is_empty()) {
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
    groups
        .iter()
        .map(|(_, columns)| rows.saturating_mul(8 * (columns.len() as u64 + 1) + 1))
        .fold(0, u64::saturating_add)
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
    let _slot = heavy.admit(Some(session), rows).await?;
    let _room = cache.reserve(session, worst_case_bytes(rows, &figures)).await?;
    let frame = cache.get(session, handle).await?;
    blocking(move || Ok(stayput_figures::linked(&frame, &figures, &selections)?)).await
}
