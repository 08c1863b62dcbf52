//! A min/max pyramid: each block of a column's rows summarised by its lowest and highest
//! value and their rows, at several block sizes, so the MinMax reduction of any range
//! reads a few hundred summaries and two short runs of raw rows per pixel instead of
//! every row.
//!
//! Level 0 sums up blocks of [`BASE_ROWS`] rows; each level above, [`FANOUT`] blocks of
//! the one below. A range is covered left to right by the largest whole blocks that fit
//! it, and only the rows before the first block and after the last are read raw. The
//! answer is the very same rows as [`crate::decimate::minmax_pairs`]' scan (tested on
//! random data with ties, NaN and infinities): a block keeps the first row of its
//! extreme, and blocks are merged by value, then by row.
//!
//! Memory: 32 bytes per 256 rows at level 0 and 1/32 of that for each level above, about
//! 1.6 % of an f64 column. Built once with rayon, in one pass over the column and a
//! short one over each level.

use std::ops::Range;

use rayon::prelude::*;

/// Rows summarised by one block of level 0.
pub const BASE_ROWS: usize = 256;
/// Blocks of one level summarised by one block of the next.
pub const FANOUT: usize = 32;
/// No row: the extreme of a block with no number in it (all NaN, or only infinities on
/// the side that can't be an extreme).
const NONE: u64 = u64::MAX;

/// The lowest and highest value of some rows, and the first row holding each.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Extremes {
    lo_v: f64,
    lo: u64,
    hi_v: f64,
    hi: u64,
}

impl Extremes {
    const EMPTY: Self = Self {
        lo_v: f64::INFINITY,
        lo: NONE,
        hi_v: f64::NEG_INFINITY,
        hi: NONE,
    };

    /// The rows `start..` of `values` scanned in order, as the plain reduction scans them
    /// (a value must be strictly lower or higher than the one kept: NaN never is, and
    /// neither is an infinity on its own side).
    fn scan(values: &[f64], start: usize) -> Self {
        let mut out = Self::EMPTY;
        for (offset, &v) in values.iter().enumerate() {
            if v < out.lo_v {
                out.lo_v = v;
                out.lo = (start + offset) as u64;
            }
            if v > out.hi_v {
                out.hi_v = v;
                out.hi = (start + offset) as u64;
            }
        }
        out
    }

    /// Both merged: the lower (higher) value, and on a tie the earlier row, so merging
    /// in any order gives what one scan of all the rows gives.
    fn merge(&mut self, other: &Self) {
        if other.lo_v < self.lo_v || (other.lo_v == self.lo_v && other.lo < self.lo) {
            self.lo_v = other.lo_v;
            self.lo = other.lo;
        }
        if other.hi_v > self.hi_v || (other.hi_v == self.hi_v && other.hi < self.hi) {
            self.hi_v = other.hi_v;
            self.hi = other.hi;
        }
    }
}

/// The pyramid of one column: see the module docs.
#[derive(Debug, Clone)]
pub struct MinMaxPyramid {
    rows: usize,
    /// `levels[k]` holds one summary per whole block of `BASE_ROWS * FANOUT^k` rows.
    levels: Vec<Vec<Extremes>>,
    /// Whether any value is NaN (which no summary counts).
    nan: bool,
}

impl MinMaxPyramid {
    /// The pyramid of `values`, built in parallel.
    pub fn build(values: &[f64]) -> Self {
        let mut builder = PyramidBuilder::default();
        builder.push(values);
        builder.finish()
    }

    /// Whether any value of the column is NaN.
    pub(crate) fn has_nan(&self) -> bool {
        self.nan
    }

    /// The lowest and highest number of the whole level-0 blocks that cover `range` (a
    /// superset of it: every number of `range` is within them); `None` when the range
    /// reaches the rows after the last whole block, or is empty. NaN is not a number
    /// here; with none, the range is (inf, -inf).
    pub(crate) fn covering_range(&self, range: Range<usize>) -> Option<(f64, f64)> {
        let base = &self.levels[0];
        let blocks = base.get(range.start / BASE_ROWS..range.end.checked_sub(1)? / BASE_ROWS + 1)?;
        Some(
            blocks
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), b| {
                    (lo.min(b.lo_v), hi.max(b.hi_v))
                }),
        )
    }

    /// Rows of the column it was built of.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes the pyramid holds.
    pub fn bytes(&self) -> u64 {
        let summaries: usize = self.levels.iter().map(Vec::len).sum();
        (summaries * std::mem::size_of::<Extremes>() + std::mem::size_of::<Self>()) as u64
    }

    /// The rows of the lowest and of the highest value of `values[range]`, the earlier
    /// first, exactly as one scan of the range finds them: the first row of each
    /// extreme, and the range's first row for a side with no number. `values` must be
    /// the column the pyramid was built of (else the answer means nothing; a column of
    /// another length panics), and `range` within it and not empty.
    pub fn extremes(&self, values: &[f64], range: Range<usize>) -> (usize, usize) {
        let ((lo, _), (hi, _)) = self.extremes_and_values(values, range);
        (lo.min(hi), lo.max(hi))
    }

    /// [`MinMaxPyramid::extremes`], the lowest's row and value and the highest's: a
    /// side with no number is the range's first row and an infinity (inf for the lowest).
    pub(crate) fn extremes_and_values(
        &self,
        values: &[f64],
        range: Range<usize>,
    ) -> ((usize, f64), (usize, f64)) {
        assert_eq!(values.len(), self.rows, "a pyramid of another column");
        debug_assert!(range.end <= values.len() && range.start < range.end);
        let mut out = Extremes::EMPTY;
        let mut row = range.start;
        while row < range.end {
            match self.widest_block(row, range.end) {
                Some((level, block)) => {
                    out.merge(&self.levels[level][block]);
                    row += block_rows(level);
                }
                None => {
                    let stop = ((row / BASE_ROWS + 1) * BASE_ROWS).min(range.end);
                    out.merge(&Extremes::scan(&values[row..stop], row));
                    row = stop;
                }
            }
        }
        let or_start = |r: u64| if r == NONE { range.start } else { r as usize };
        ((or_start(out.lo), out.lo_v), (or_start(out.hi), out.hi_v))
    }

    /// The level and index of the widest block that starts at `row` and ends by `end`.
    fn widest_block(&self, row: usize, end: usize) -> Option<(usize, usize)> {
        (0..self.levels.len()).rev().find_map(|level| {
            let rows = block_rows(level);
            let block = row / rows;
            (row.is_multiple_of(rows) && row + rows <= end && block < self.levels[level].len())
                .then_some((level, block))
        })
    }
}

/// Builds a [`MinMaxPyramid`] from a column's values given a piece at a time, in
/// order, of any lengths: the pyramid of a frame written to disk as it is made, built
/// from the pieces in hand. The same pyramid as [`MinMaxPyramid::build`] of the whole.
#[derive(Debug, Default)]
pub struct PyramidBuilder {
    base: Vec<Extremes>,
    rows: usize,
    nan: bool,
    /// The rows of the block not yet whole.
    partial: Vec<f64>,
}

impl PyramidBuilder {
    /// Adds the next `values` of the column (whole blocks scanned in parallel).
    pub fn push(&mut self, mut values: &[f64]) {
        self.rows += values.len();
        if !self.partial.is_empty() {
            let take = (BASE_ROWS - self.partial.len()).min(values.len());
            self.partial.extend_from_slice(&values[..take]);
            values = &values[take..];
            if self.partial.len() == BASE_ROWS {
                let start = self.base.len() * BASE_ROWS;
                self.nan |= self.partial.iter().any(|v| v.is_nan());
                self.base.push(Extremes::scan(&self.partial, start));
                self.partial.clear();
            }
        }
        let first = self.base.len();
        let (blocks, nans): (Vec<Extremes>, Vec<bool>) = values
            .par_chunks_exact(BASE_ROWS)
            .with_min_len(256)
            .enumerate()
            .map(|(b, block)| {
                (
                    Extremes::scan(block, (first + b) * BASE_ROWS),
                    block.iter().any(|v| v.is_nan()),
                )
            })
            .unzip();
        self.nan |= nans.into_iter().any(|n| n);
        let whole = blocks.len() * BASE_ROWS;
        self.base.extend(blocks);
        self.partial.extend_from_slice(&values[whole..]);
    }

    /// The pyramid of every value pushed.
    pub fn finish(self) -> MinMaxPyramid {
        let nan = self.nan || self.partial.iter().any(|v| v.is_nan());
        let mut levels = vec![self.base];
        while let Some(below) = levels.last().filter(|level| level.len() >= FANOUT) {
            let above = below
                .par_chunks_exact(FANOUT)
                .with_min_len(64)
                .map(|blocks| {
                    let mut out = Extremes::EMPTY;
                    blocks.iter().for_each(|block| out.merge(block));
                    out
                })
                .collect();
            levels.push(above);
        }
        MinMaxPyramid {
            rows: self.rows,
            levels,
            nan,
        }
    }
}

/// Rows in one block of `level`.
fn block_rows(level: usize) -> usize {
    BASE_ROWS * FANOUT.pow(level as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain scan's answer for one range (what `minmax_pairs` does per bucket).
    fn scanned(values: &[f64], range: Range<usize>) -> (usize, usize) {
        let found = Extremes::scan(&values[range.clone()], range.start);
        let or_start = |r: u64| if r == NONE { range.start } else { r as usize };
        let (lo, hi) = (or_start(found.lo), or_start(found.hi));
        (lo.min(hi), lo.max(hi))
    }

    #[test]
    fn levels_and_size() {
        let values: Vec<f64> = (0..1_000_000).map(|i| (i % 977) as f64).collect();
        let pyramid = MinMaxPyramid::build(&values);
        let lens: Vec<usize> = pyramid.levels.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![3_906, 122, 3]);
        assert!(pyramid.bytes() * 100 < 8_000_000 * 2, "under 2 % of the column");
        assert_eq!(pyramid.rows(), 1_000_000);
    }

    #[test]
    fn built_a_piece_at_a_time_it_is_the_same_pyramid() {
        let mut values: Vec<f64> = (0..200_003_u64).map(|i| ((i * 7_919) % 10_007) as f64).collect();
        values[100] = f64::NAN;
        values[150_000..150_300].iter_mut().for_each(|v| *v = f64::NAN);
        let whole = MinMaxPyramid::build(&values);
        for pieces in [[1, 255, 256], [257, 9_999, 65_536], [100_000, 3, 17]] {
            let mut builder = PyramidBuilder::default();
            let mut rest = &values[..];
            for &n in pieces.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at(n.min(rest.len()));
                builder.push(now);
                rest = later;
            }
            let pieced = builder.finish();
            assert_eq!(pieced.levels, whole.levels, "{pieces:?}");
            assert_eq!((pieced.rows, pieced.nan), (whole.rows, whole.nan));
        }
        let mut clean = PyramidBuilder::default();
        clean.push(&values[..100]);
        clean.push(&values[101..1_000]);
        assert!(!clean.finish().has_nan(), "NaN only where there is one");
    }

    #[test]
    fn short_columns_are_scanned_raw() {
        let values = [3.0, f64::NAN, -1.0, 7.0];
        let pyramid = MinMaxPyramid::build(&values);
        assert_eq!(pyramid.levels, vec![Vec::<Extremes>::new()]);
        assert_eq!(pyramid.extremes(&values, 0..4), (2, 3));
        assert_eq!(pyramid.extremes(&values, 1..2), (1, 1), "all NaN: the first row");
    }

    #[test]
    fn extremes_and_their_values_are_a_scans_with_nan_and_infinities() {
        // What a brushed histogram reads of the blocks it keeps whole: the lowest and
        // highest values, over ranges that take whole summaries of every level.
        let mut values: Vec<f64> = (0..300_000_u64)
            .map(|i| ((i * 7_919) % 10_007) as f64 - 5_000.0)
            .collect();
        for (row, v) in [
            (0, f64::NAN),
            (77_777, f64::INFINITY),
            (150_001, f64::NEG_INFINITY),
        ] {
            values[row] = v;
        }
        values[200_000..266_000].iter_mut().for_each(|v| *v = f64::NAN);
        let pyramid = MinMaxPyramid::build(&values);
        for range in [
            0..300_000,
            1..77_777,
            70_000..80_000,
            65_536..131_072,
            150_001..150_002,
            199_000..267_000,
            200_000..266_000,
            255..299_999,
        ] {
            let found = Extremes::scan(&values[range.clone()], range.start);
            let or_start = |r: u64| if r == NONE { range.start } else { r as usize };
            let scanned = ((or_start(found.lo), found.lo_v), (or_start(found.hi), found.hi_v));
            let read = pyramid.extremes_and_values(&values, range.clone());
            assert_eq!(format!("{read:?}"), format!("{scanned:?}"), "{range:?}");
        }
    }

    #[test]
    fn ties_keep_the_first_row_across_blocks() {
        // The same extremes in every block: the first of them wins, as in one scan.
        let values: Vec<f64> = (0..100_000).map(|i| (i % 10) as f64).collect();
        let pyramid = MinMaxPyramid::build(&values);
        for range in [0..100_000, 3..99_999, 9_000..90_001, 255..257] {
            assert_eq!(pyramid.extremes(&values, range.clone()), scanned(&values, range));
        }
    }
}
