//! A histogram of the rows a selection of ranges keeps, drawn in place on the bins of
//! its view's rows unfiltered. Over every row, the bins and the counts of the blocks
//! kept whole come from the column's counts by block ([`crate::bin_counts`]); otherwise
//! the view's range is read first (from y's pyramid, when there is one) and every kept
//! row is binned.

use std::ops::Range;

use rayon::prelude::*;

use super::{blocks_of, sized_block, Ys, BLOCK, BLOCKS_PER_TASK};
use crate::bin_counts::{BinCounts, BIN_BLOCK};
use crate::figure::{histogram_drawn, HISTOGRAM_BINS};
use crate::ranges::{Class, Keep};
use crate::stats::{range_of_all, Histogram, Lanes};
use crate::{Figure, FigureError, FigureSpec};

/// A histogram of the kept values of `y[rows]`, on the bins of all the values of
/// `y[rows]` (its bins unfiltered: a brush's bars stand where the view's do, and the
/// axis stays put). When `rows` is the whole column and its counts by block are kept
/// (`counts`), a block kept whole adds its counts; otherwise its values are binned.
pub(super) fn histogram(
    spec: &FigureSpec,
    keep: &Keep<'_>,
    y: Ys<'_>,
    rows: Range<usize>,
    total_rows: u64,
    counts: Option<&BinCounts>,
) -> Result<Figure, FigureError> {
    if rows.is_empty() {
        // A zoom between two rows: nothing to bin (and no range to read).
        return Err(FigureError::NoRows);
    }
    let values = y.values;
    let counts = counts.filter(|c| c.rows() == values.len() && rows.len() == values.len());
    let bins = match counts {
        Some(counts) => counts.whole().cloned(),
        None => {
            let (lo, hi) = match y.pyramid.filter(|p| p.rows() == values.len()) {
                Some(_) => {
                    let seen = y.extremes(rows.clone());
                    (seen.lo_v, seen.hi_v)
                }
                None => range_of_all(&[&values[rows.clone()]]),
            };
            Histogram::spanning(lo, hi, HISTOGRAM_BINS)
        }
    };
    // With no bins (an infinite value, or no number) nothing is counted, rows are.
    let countable = bins.is_some();
    let mut hist = bins.unwrap_or_else(|| Histogram::empty(HISTOGRAM_BINS));
    let binned = &hist;
    let count = |lanes: &mut Lanes, part: Range<usize>| {
        if countable {
            lanes.count(&values[part], binned);
        }
    };
    let count_one = |lanes: &mut Lanes, row: usize| {
        if countable {
            lanes.count_one(values[row], binned);
        }
    };
    let (kept, lanes) = blocks_of(&rows, BIN_BLOCK)
        .into_par_iter()
        .with_min_len(BLOCKS_PER_TASK * BLOCK / BIN_BLOCK)
        .fold(
            || (0_usize, Lanes::new(binned)),
            |(mut kept, mut lanes), k| {
                let part = sized_block(&rows, k, BIN_BLOCK);
                match (keep.class(&part), counts) {
                    (Class::None, _) => {}
                    (Class::All, Some(counts)) => {
                        kept += part.len();
                        counts.add_block(k, &mut lanes);
                    }
                    (Class::All, None) => {
                        kept += part.len();
                        count(&mut lanes, part);
                    }
                    (Class::Some, _) => {
                        for b in blocks_of(&part, BLOCK) {
                            let sub = sized_block(&part, b, BLOCK);
                            match keep.class(&sub) {
                                Class::None => {}
                                Class::All => {
                                    kept += sub.len();
                                    count(&mut lanes, sub);
                                }
                                Class::Some => {
                                    for row in sub.filter(|&row| keep.keeps(row)) {
                                        kept += 1;
                                        count_one(&mut lanes, row);
                                    }
                                }
                            }
                        }
                    }
                }
                (kept, lanes)
            },
        )
        .reduce(|| (0, Lanes::new(binned)), |a, b| (a.0 + b.0, a.1.merged(b.1)));
    if kept == 0 {
        return Err(FigureError::NoRows);
    }
    hist.counts = lanes.summed();
    Ok(histogram_drawn(&hist, spec, kept as u64, total_rows))
}
