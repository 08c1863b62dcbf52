//! A brush drawn in place: the lines, scatters and histograms of the rows a selection of
//! ranges keeps, made by reading the frame's own columns, with no copy of the kept rows.
//!
//! [`crate::linked`] filters a copy of the columns for any selection and any figure. For
//! ranges (a brushed histogram, a box drawn on a line or scatter) and these figures, this
//! module gives the same figures, tested so, in one read of the columns, split across
//! the cores. A histogram is drawn on the bins of its view's rows unfiltered: over every
//! row they and the counts of the blocks kept whole come from the column's counts by
//! block ([`crate::bin_counts`]), else its range is read first.
//!
//! A line's reduction keeps each pixel bucket's min and max, and its buckets hold equal
//! counts of *kept* rows, which are only known once the predicate has run. So one parallel
//! pass summarises blocks of [`BLOCK`] rows: how many rows each keeps, its first and last
//! kept row, and the extremes of its kept values. A bucket then merges the summaries of
//! the blocks wholly inside it and reads again only the two blocks at its edges.

mod histogram;

use std::ops::Range;

use polars::prelude::*;
use rayon::prelude::*;

use crate::axis::{x_axis, XValues};
use crate::bin_counts::BinsOf;
use crate::columns::{is_sorted_f64, values};
use crate::line::{drawn_line, Drawn, Picked};
use crate::pyramid::MinMaxPyramid;
use crate::ranges::{Class, Keep, PyramidOf};
use crate::select::{Clause, LinkedFigure};
use crate::{ChartKind, Figure, FigureError, FigureSpec, MAX_WIDTH_PX, MIN_WIDTH_PX, ROW};

/// Rows one block summary covers: small enough that a bucket's two edge blocks are a
/// small share of what it spans (at 1e8 rows and 1,000 px, 2 % of the rows are read
/// again), large enough that the summaries are 4 % of an f64 column. The tests' frames
/// are small, so their blocks are too: a bucket there spans many, as it does at 1e8.
const BLOCK: usize = if cfg!(test) { 1 << 5 } else { 1 << 10 };

/// Blocks one rayon task summarises: 256K rows, enough to pay for the task.
const BLOCKS_PER_TASK: usize = 1 << 8;

/// Whether `specs`, over the rows `clauses` keep, can be drawn in place: a selection of
/// ranges over the row number or numeric columns, and lines, scatters or histograms of
/// a numeric column over the row number or a sorted f64 x in one chunk without nulls,
/// with an ordered range. A column that polars does not hold as one f64 chunk without
/// nulls is copied whole to be read in place, so then only when the figures show every
/// row (`window`, the rows they can show, is all of them): a zoom's filtered copy reads
/// only its window. Anything else is drawn from a filtered copy, which also names what
/// is wrong.
pub(crate) fn applies(frame: &DataFrame, specs: &[&LinkedFigure], clauses: &[Clause], window: usize) -> bool {
    let numeric = |name: &str| frame.column(name).is_ok_and(|c| c.dtype().is_primitive_numeric());
    let ranges = clauses.iter().all(|c| match c {
        Clause::Range { column, .. } => column == ROW || numeric(column),
        _ => false,
    });
    let figures = specs.iter().all(|f| {
        let s = &f.spec;
        let kind = matches!(
            s.kind,
            ChartKind::Line | ChartKind::Scatter | ChartKind::Histogram
        );
        let x = s.x == ROW
            || frame
                .column(&s.x)
                .is_ok_and(|c| is_sorted_f64(c) && c.n_chunks() == 1 && c.null_count() == 0);
        let ordered = match s.range {
            (Some(lo), Some(hi)) => lo <= hi,
            _ => true,
        };
        kind && x && ordered && s.y != ROW && numeric(&s.y)
    });
    let whole = window >= frame.height() || !read(specs, clauses).any(|name| copied(frame, name));
    !clauses.is_empty() && ranges && figures && whole
}

/// The columns drawing in place reads: the clauses', then each figure's x and y.
fn read<'a>(specs: &'a [&LinkedFigure], clauses: &'a [Clause]) -> impl Iterator<Item = &'a str> {
    clauses
        .iter()
        .flat_map(Clause::columns)
        .chain(specs.iter().flat_map(|f| [f.spec.x.as_str(), f.spec.y.as_str()]))
}

/// Whether column `name` is copied to be read as f64: not the row number, nor one f64
/// chunk without nulls.
fn copied(frame: &DataFrame, name: &str) -> bool {
    name != ROW
        && frame
            .column(name)
            .is_ok_and(|c| !(c.dtype() == &DataType::Float64 && c.n_chunks() == 1 && c.null_count() == 0))
}

/// Bytes drawing in place takes at most, to reserve before it runs: an f64 copy of each
/// column it reads that polars does not hold as one f64 chunk without nulls (each
/// figure reads its own), and one figure's block summaries and their running counts.
pub(crate) fn bytes(frame: &DataFrame, specs: &[&LinkedFigure], clauses: &[Clause]) -> u64 {
    let rows = frame.height() as u64;
    let per_block = (std::mem::size_of::<Block>() + std::mem::size_of::<usize>()) as u64;
    let summaries = (rows / BLOCK as u64 + 2) * per_block;
    copies_bytes(frame, specs, clauses).saturating_add(summaries)
}

/// Bytes of the f64 copies of the columns `specs` and `clauses` read that polars does not
/// hold as one f64 chunk without nulls: what drawing them from `frame` itself copies.
pub(crate) fn copies_bytes(frame: &DataFrame, specs: &[&LinkedFigure], clauses: &[Clause]) -> u64 {
    let copies = read(specs, clauses).filter(|name| copied(frame, name)).count() as u64;
    (frame.height() as u64).saturating_mul(8 * copies)
}

/// The figure `spec` of the rows of `frame` that `keep` keeps, drawn in place (see
/// [`applies`]); [`FigureError::NoRows`] when its view keeps none.
pub(crate) fn figure(
    frame: &DataFrame,
    keep: &Keep<'_>,
    spec: &FigureSpec,
    pyramid_of: PyramidOf<'_>,
    bins_of: BinsOf<'_>,
) -> Result<Figure, FigureError> {
    let y = values(frame, &spec.y)?;
    let (x, rows) = x_axis(frame, spec)?;
    let total_rows = frame.height() as u64;
    // A histogram of every row reads the column's counts by block; anything else, y's
    // pyramid: the extremes of the blocks kept whole, a line's buckets', a histogram's
    // range.
    let counts = match spec.kind {
        ChartKind::Histogram if rows.len() == y.len() => bins_of(&spec.y, &y),
        _ => None,
    };
    let pyramid = match counts {
        None => pyramid_of(&spec.y, &y),
        Some(_) => None,
    };
    let y = Ys {
        values: &y,
        pyramid: pyramid.as_deref(),
    };
    match spec.kind {
        ChartKind::Histogram => histogram::histogram(spec, keep, y, rows, total_rows, counts.as_deref()),
        _ => line(spec, keep, &x, y, rows, total_rows),
    }
}

/// The lowest and highest value seen and their rows (the earliest of equals), as
/// [`crate::decimate::minmax_pairs`] scans a bucket: NaN is never an extreme, and a
/// bucket with no extreme keeps its first row.
#[derive(Clone, Copy)]
struct Extremes {
    lo: usize,
    lo_v: f64,
    hi: usize,
    hi_v: f64,
}

impl Extremes {
    fn at(row: usize) -> Self {
        Self {
            lo: row,
            lo_v: f64::INFINITY,
            hi: row,
            hi_v: f64::NEG_INFINITY,
        }
    }

    #[inline]
    fn see(&mut self, row: usize, v: f64) {
        if v < self.lo_v {
            (self.lo, self.lo_v) = (row, v);
        }
        if v > self.hi_v {
            (self.hi, self.hi_v) = (row, v);
        }
    }

    /// Extremes of rows that come after this one's.
    fn merge(&mut self, later: &Self) {
        if later.lo_v < self.lo_v {
            (self.lo, self.lo_v) = (later.lo, later.lo_v);
        }
        if later.hi_v > self.hi_v {
            (self.hi, self.hi_v) = (later.hi, later.hi_v);
        }
    }

    /// The two rows, the earlier first.
    fn pair(&self) -> (usize, usize) {
        (self.lo.min(self.hi), self.lo.max(self.hi))
    }
}

/// What one block of rows keeps.
#[derive(Clone, Copy)]
struct Block {
    kept: usize,
    first: usize,
    last: usize,
    extremes: Extremes,
}

/// The blocks of `rows`, in order, for rayon's workers: aligned to multiples of
/// [`BLOCK`] rows (so a whole block is whole blocks of a pyramid), the first and last
/// cut to `rows`.
fn par_blocks(rows: &Range<usize>) -> impl IndexedParallelIterator<Item = Range<usize>> + '_ {
    (0..block_count(rows))
        .into_par_iter()
        .with_min_len(BLOCKS_PER_TASK)
        .map(move |k| block_rows(rows, k))
}

fn block_count(rows: &Range<usize>) -> usize {
    blocks_of(rows, BLOCK).len()
}

/// The rows of block `k` of `rows`.
fn block_rows(rows: &Range<usize>, k: usize) -> Range<usize> {
    sized_block(rows, rows.start / BLOCK + k, BLOCK)
}

/// The numbers of the blocks of `size` rows (aligned to multiples of it) that `rows`
/// touches.
fn blocks_of(rows: &Range<usize>, size: usize) -> Range<usize> {
    if rows.is_empty() {
        0..0
    } else {
        rows.start / size..rows.end.div_ceil(size)
    }
}

/// The rows of `rows` in block `k` of `size` rows.
fn sized_block(rows: &Range<usize>, k: usize, size: usize) -> Range<usize> {
    (k * size).max(rows.start)..((k + 1) * size).min(rows.end)
}

/// A line's y: its values and their min/max pyramid, when there is one.
#[derive(Clone, Copy)]
struct Ys<'y> {
    values: &'y [f64],
    pyramid: Option<&'y MinMaxPyramid>,
}

impl Ys<'_> {
    /// The extremes of every row of `rows`: from the pyramid's summaries, or a scan.
    fn extremes(&self, rows: Range<usize>) -> Extremes {
        match self.pyramid.filter(|p| p.rows() == self.values.len()) {
            Some(pyramid) => {
                let ((lo, lo_v), (hi, hi_v)) = pyramid.extremes_and_values(self.values, rows);
                Extremes { lo, lo_v, hi, hi_v }
            }
            None => {
                let mut seen = Extremes::at(rows.start);
                for row in rows {
                    seen.see(row, self.values[row]);
                }
                seen
            }
        }
    }
}

/// The kept rows of a view summarised by block, and the kept rows before each block.
struct Blocks<'k, 'y> {
    rows: Range<usize>,
    keep: &'k Keep<'k>,
    y: &'y [f64],
    blocks: Vec<Block>,
    before: Vec<usize>,
}

impl<'k, 'y> Blocks<'k, 'y> {
    /// Each block's summary: none read when the ranges' pyramids say it keeps no row,
    /// only y's when it keeps them all (its pyramid's, when there is one), else each
    /// row tested.
    fn of(rows: Range<usize>, keep: &'k Keep<'k>, y: Ys<'y>) -> Self {
        let blocks: Vec<Block> = par_blocks(&rows)
            .map(|part| {
                let mut block = Block {
                    kept: 0,
                    first: part.start,
                    last: part.start,
                    extremes: Extremes::at(part.start),
                };
                match keep.class(&part) {
                    Class::None => {}
                    Class::All => {
                        block.kept = part.len();
                        block.last = part.end - 1;
                        block.extremes = y.extremes(part);
                    }
                    Class::Some => {
                        for row in part {
                            if keep.keeps(row) {
                                if block.kept == 0 {
                                    block.first = row;
                                }
                                block.last = row;
                                block.kept += 1;
                                block.extremes.see(row, y.values[row]);
                            }
                        }
                    }
                }
                block
            })
            .collect();
        let mut before = Vec::with_capacity(blocks.len() + 1);
        before.push(0);
        for block in &blocks {
            before.push(before[before.len() - 1] + block.kept);
        }
        Self {
            rows,
            keep,
            y: y.values,
            blocks,
            before,
        }
    }

    fn kept(&self) -> usize {
        self.before[self.blocks.len()]
    }

    /// The first and the last kept row (the view's first row when none is).
    fn ends(&self) -> (usize, usize) {
        let mut kept = self.blocks.iter().filter(|b| b.kept > 0);
        let first = kept.next();
        let last = kept.next_back().or(first);
        (
            first.map_or(self.rows.start, |b| b.first),
            last.map_or(self.rows.start, |b| b.last),
        )
    }

    /// Every kept row, in order (for views that keep few).
    fn kept_rows(&self) -> Vec<usize> {
        let mut rows = Vec::with_capacity(self.kept());
        for (k, _) in self.blocks.iter().enumerate().filter(|(_, b)| b.kept > 0) {
            rows.extend(block_rows(&self.rows, k).filter(|&row| self.keep.keeps(row)));
        }
        rows
    }

    /// The rows of the min and max of the kept rows ranked `ranks` (in row order):
    /// the blocks wholly inside merged, the ones at the edges read again.
    fn bucket(&self, ranks: Range<usize>) -> (usize, usize) {
        let mut k = self
            .before
            .partition_point(|&c| c <= ranks.start)
            .saturating_sub(1);
        let mut seen: Option<Extremes> = None;
        while k < self.blocks.len() && self.before[k] < ranks.end {
            let block = &self.blocks[k];
            let (from, to) = (self.before[k], self.before[k + 1]);
            if block.kept > 0 && from >= ranks.start && to <= ranks.end {
                seen.get_or_insert(Extremes::at(block.first))
                    .merge(&block.extremes);
            } else if block.kept > 0 {
                let mut rank = from;
                for row in block_rows(&self.rows, k) {
                    if rank >= ranks.end {
                        break;
                    }
                    if self.keep.keeps(row) {
                        if rank >= ranks.start {
                            seen.get_or_insert(Extremes::at(row)).see(row, self.y[row]);
                        }
                        rank += 1;
                    }
                }
            }
            k += 1;
        }
        // Every bucket holds at least one kept row (there are more rows than buckets).
        seen.map_or((ranks.start, ranks.start), |s| s.pair())
    }
}

/// A line or scatter of the kept rows of `rows`: all of them when they fit in two
/// points per pixel, else each of `width` equal-count buckets' min and max.
fn line(
    spec: &FigureSpec,
    keep: &Keep<'_>,
    x: &XValues<'_>,
    y: Ys<'_>,
    rows: Range<usize>,
    total_rows: u64,
) -> Result<Figure, FigureError> {
    let width = spec.width_px.clamp(MIN_WIDTH_PX, MAX_WIDTH_PX) as usize;
    let blocks = Blocks::of(rows, keep, y);
    let kept = blocks.kept();
    if kept == 0 {
        return Err(FigureError::NoRows);
    }
    let picked = if kept > 2 * width {
        Picked::Pairs(
            (0..width)
                .into_par_iter()
                .map(|b| blocks.bucket(b * kept / width..(b + 1) * kept / width))
                .collect(),
        )
    } else {
        Picked::All(blocks.kept_rows())
    };
    let (first, last) = blocks.ends();
    let drawn = Drawn {
        first,
        last,
        rows: kept,
        picked,
    };
    Ok(drawn_line(spec, x, y.values, drawn, width, total_rows))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::bin_counts::BinCounts;
    use crate::demo::{time_series, START_MS, STEP_MS, TIME};
    use crate::figure::HISTOGRAM_BINS;
    use crate::linked::draw_copied;
    use crate::nothing::or_nothing;

    const ROWS: usize = 30_000;

    /// The demo series and two columns with gaps: `gappy` (f64 with NaN, nulls and
    /// infinities) and `count` (i64 with nulls).
    fn frame() -> DataFrame {
        let mut frame = time_series(ROWS, 11).expect("frame");
        let gappy: Vec<Option<f64>> = (0..ROWS)
            .map(|i| match i {
                _ if i % 89 == 0 => None,
                _ if i % 97 == 0 => Some(f64::NAN),
                _ if i % 1_999 == 0 => Some(f64::INFINITY),
                _ if i % 2_003 == 0 => Some(f64::NEG_INFINITY),
                _ => Some(((i * 7_919) % 1_000) as f64 / 10.0),
            })
            .collect();
        let count: Vec<Option<i64>> = (0..ROWS)
            .map(|i| (i % 13 != 0).then_some(((i * 31) % 500) as i64))
            .collect();
        frame
            .with_column(Column::new("gappy".into(), gappy))
            .expect("gappy");
        frame
            .with_column(Column::new("count".into(), count))
            .expect("count");
        frame
    }

    fn drawn_both_ways(frame: &DataFrame, figures: &[LinkedFigure], clauses: &[Clause]) {
        drawn_both_ways_with(frame, figures, clauses, false);
        drawn_both_ways_with(frame, figures, clauses, true);
    }

    /// The figures drawn in place (with every column's pyramid and counts by block, or
    /// none) are the filtered copy's.
    fn drawn_both_ways_with(frame: &DataFrame, figures: &[LinkedFigure], clauses: &[Clause], pyramids: bool) {
        let specs: Vec<&LinkedFigure> = figures.iter().collect();
        assert!(applies(frame, &specs, clauses, frame.height()), "{clauses:?}");
        let built = |_: &str, values: &[f64]| Some(Arc::new(MinMaxPyramid::build(values)));
        let none = |_: &str, _: &[f64]| None;
        let pyramid_of: PyramidOf<'_> = if pyramids { &built } else { &none };
        let counted = |_: &str, values: &[f64]| Some(Arc::new(BinCounts::build(values, HISTOGRAM_BINS)));
        let uncounted = |_: &str, _: &[f64]| None;
        let bins_of: BinsOf<'_> = if pyramids { &counted } else { &uncounted };
        let keep = Keep::of(frame, clauses, pyramid_of).expect("keep");
        let total = frame.height() as u64;
        let in_place: Result<Vec<Figure>, FigureError> = specs
            .iter()
            .map(|f| {
                or_nothing(
                    figure(frame, &keep, &f.spec, pyramid_of, bins_of),
                    f.spec.kind,
                    total,
                )
            })
            .collect();
        let copied = draw_copied(frame, &specs, &clauses.to_vec());
        if let (Ok(a), Ok(b)) = (&in_place, &copied) {
            for (a, b) in a.iter().zip(b) {
                let at = a
                    .figure
                    .bytes()
                    .zip(b.figure.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                let around = |s: &str| s[at.saturating_sub(80)..(at + 80).min(s.len())].to_owned();
                assert_eq!(around(&a.figure), around(&b.figure), "{clauses:?}");
                assert_eq!(
                    (a.points, a.rows_in_range, a.total_rows, &a.method),
                    (b.points, b.rows_in_range, b.total_rows, &b.method),
                    "{clauses:?}"
                );
            }
        }
        assert_eq!(in_place, copied, "{clauses:?}");
    }

    fn linked(
        kind: ChartKind,
        x: &str,
        y: &str,
        range: (Option<f64>, Option<f64>),
        width_px: u32,
    ) -> LinkedFigure {
        LinkedFigure {
            spec: FigureSpec {
                x: x.into(),
                y: y.into(),
                kind,
                range,
                width_px,
                time_x: x == TIME,
            },
            filters: vec![0],
        }
    }

    fn kind() -> impl Strategy<Value = ChartKind> {
        prop_oneof![
            Just(ChartKind::Line),
            Just(ChartKind::Scatter),
            Just(ChartKind::Histogram)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Any ranges, over any of these columns or the row number, and any figure of
        /// these kinds, x, zoom and width: the figures drawn in place are the figures of
        /// the filtered copy, byte for byte.
        #[test]
        fn drawn_in_place_is_what_the_filtered_copy_draws(
            column in prop::sample::select(vec!["walk", "gappy", "count", ROW]),
            (a, b) in (0.0..1.0_f64, 0.0..1.0_f64),
            second in prop::option::of((0.0..0.9_f64, 0.001..0.3_f64)),
            figures in prop::collection::vec(
                (kind(), prop::bool::ANY, prop::sample::select(vec!["walk", "sine", "gappy", "count"]),
                 prop::option::of((0.0..0.9_f64, 0.0001..0.5_f64)), 100_u32..700),
                1..3,
            ),
        ) {
            let frame = frame();
            let span = |name: &str| -> (f64, f64) {
                if name == ROW {
                    return (0.0, ROWS as f64);
                }
                let v = values(&frame, name).expect("values");
                let finite = v.iter().copied().filter(|v| v.is_finite());
                finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
            };
            let (lo, hi) = span(column);
            let at = |f: f64| lo + f * (hi - lo);
            let mut clauses = vec![Clause::Range { column: column.into(), lo: at(a.min(b)), hi: at(a.max(b)) }];
            if let Some((from, share)) = second {
                // A box on a line: a range of its x too.
                let (first, last) = (from * ROWS as f64, (from + share) * ROWS as f64);
                clauses.push(Clause::Range { column: ROW.into(), lo: first.floor(), hi: last.floor() });
            }
            let figures: Vec<LinkedFigure> = figures
                .into_iter()
                .map(|(kind, on_time, y, zoom, width)| {
                    let x = if on_time { TIME } else { ROW };
                    let range = zoom.map_or((None, None), |(from, share)| {
                        let (first, last) = (from * ROWS as f64, (from + share) * ROWS as f64);
                        if on_time {
                            (Some(START_MS + first * STEP_MS), Some(START_MS + last * STEP_MS))
                        } else {
                            (Some(first), Some(last))
                        }
                    });
                    linked(kind, x, y, range, width)
                })
                .collect();
            drawn_both_ways(&frame, &figures, &clauses);
        }
    }

    #[test]
    fn a_brush_that_keeps_nothing_or_a_handful_is_drawn_as_the_copy_draws_it() {
        let frame = frame();
        let line = linked(ChartKind::Line, ROW, "walk", (None, None), 400);
        let hist = linked(ChartKind::Histogram, TIME, "gappy", (None, None), 400);
        let over_time = linked(ChartKind::Scatter, TIME, "sine", (None, None), 400);
        for (lo, hi) in [(1e9, 2e9), (50.0, 50.0), (99.0, 99.9), (f64::MIN, f64::MAX)] {
            let clauses = [Clause::Range {
                column: "gappy".into(),
                lo,
                hi,
            }];
            drawn_both_ways(&frame, &[line.clone(), hist.clone(), over_time.clone()], &clauses);
        }
        // A few rows in one block, drawn over time: the trace spans its first and last.
        let few = [Clause::Range {
            column: ROW.into(),
            lo: 100.0,
            hi: 120.0,
        }];
        drawn_both_ways(&frame, &[over_time], &few);
        // A histogram zoomed between two rows shows none (with pyramids too).
        let between = linked(ChartKind::Histogram, ROW, "walk", (Some(5.2), Some(5.8)), 400);
        let walk = [Clause::range("walk", f64::MIN, f64::MAX)];
        drawn_both_ways(&frame, &[between, hist], &walk);
    }

    #[test]
    fn only_ranges_and_these_figures_are_drawn_in_place() {
        let frame = frame();
        let range = vec![Clause::Range {
            column: "walk".into(),
            lo: 0.0,
            hi: 1.0,
        }];
        let line = linked(ChartKind::Line, ROW, "walk", (None, None), 400);
        assert!(applies(&frame, &[&line], &range, ROWS));
        let lasso = vec![Clause::Polygon {
            x: ROW.into(),
            y: "walk".into(),
            points: vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
        }];
        assert!(!applies(&frame, &[&line], &lasso, ROWS), "a lasso is filtered");
        let density = linked(ChartKind::Density, ROW, "walk", (None, None), 400);
        let boxed = linked(ChartKind::Box, ROW, "walk", (None, None), 400);
        assert!(
            !applies(&frame, &[&line, &density], &range, ROWS),
            "a heatmap is drawn from a copy"
        );
        assert!(!applies(&frame, &[&boxed], &range, ROWS), "so is a box");
        let unsorted = linked(ChartKind::Line, "walk", "sine", (None, None), 400);
        assert!(
            !applies(&frame, &[&unsorted], &range, ROWS),
            "an unsorted x is the copy's error"
        );
        let inverted = linked(ChartKind::Line, ROW, "walk", (Some(5.0), Some(1.0)), 400);
        assert!(
            !applies(&frame, &[&inverted], &range, ROWS),
            "so is an inverted range"
        );
        let unknown = vec![Clause::Range {
            column: "nope".into(),
            lo: 0.0,
            hi: 1.0,
        }];
        assert!(
            !applies(&frame, &[&line], &unknown, ROWS),
            "and an unknown column"
        );
        // A column copied to be read (i64, nulls) is read in place only when every row
        // is shown: a zoom's copy reads only its window.
        let count = linked(ChartKind::Line, ROW, "count", (Some(10.0), Some(20.0)), 400);
        assert!(applies(&frame, &[&count], &range, ROWS));
        assert!(!applies(&frame, &[&count], &range, 11), "zoomed, it is copied");
        assert!(
            applies(&frame, &[&line], &range, 11),
            "f64 in one chunk is read as it is"
        );
    }
}
