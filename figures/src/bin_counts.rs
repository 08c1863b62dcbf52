//! A column's histogram counted by blocks of rows, kept with the frame: the bins of the
//! whole column and, for each block of [`BIN_BLOCK`] rows, how many of its values fall
//! in each. A brush keeps most of a column's blocks whole or not at all (a walk's
//! range keeps runs of rows), so the histogram of the rows it keeps, on the column's
//! own bins, adds the counts of the blocks kept whole and bins only the rows of the
//! blocks its ranges cut: its cost follows those blocks, not the rows kept.

use std::sync::Arc;

use rayon::prelude::*;

use crate::stats::{range_of_all, Histogram, Lanes};

/// Where drawing in place finds a column's counts by block (its name and values), in
/// the linked view's bins: a store's (built by the first use), or none.
pub(crate) type BinsOf<'b> = &'b (dyn Fn(&str, &[f64]) -> Option<Arc<BinCounts>> + Sync);

/// Rows a block's counts cover: a multiple of the brush's blocks, and few enough that a
/// count fits in a `u16`. The tests' frames are small, so their blocks are too.
pub(crate) const BIN_BLOCK: usize = if cfg!(test) { 1 << 8 } else { 1 << 13 };

/// The bins of a column and their counts, block by block.
#[derive(Debug)]
pub struct BinCounts {
    rows: usize,
    /// The whole column's histogram (its bins span every value): `None` when a value is
    /// infinite or none is a number, as [`Histogram::spanning`] has it.
    whole: Option<Histogram>,
    /// `blocks × bins` counts, block after block.
    counts: Vec<u16>,
}

impl BinCounts {
    /// The counts of `values` in `bins` equal bins spanning them, block by block, built
    /// in parallel.
    pub fn build(values: &[f64], bins: usize) -> Self {
        let (lo, hi) = range_of_all(&[values]);
        let Some(template) = Histogram::spanning(lo, hi, bins) else {
            return Self {
                rows: values.len(),
                whole: None,
                counts: Vec::new(),
            };
        };
        let counts: Vec<u16> = values
            .par_chunks(BIN_BLOCK)
            .with_min_len(16)
            .flat_map_iter(|block| {
                let mut lanes = Lanes::new(&template);
                lanes.count(block, &template);
                // At most BIN_BLOCK values a bin: each fits.
                lanes.summed().into_iter().map(|c| c as u16)
            })
            .collect();
        let mut whole = template;
        for block in counts.chunks_exact(whole.counts.len()) {
            whole
                .counts
                .iter_mut()
                .zip(block)
                .for_each(|(t, &c)| *t += u64::from(c));
        }
        Self {
            rows: values.len(),
            whole: Some(whole),
            counts,
        }
    }

    /// Rows of the column it was built of.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes it holds.
    pub fn bytes(&self) -> u64 {
        let bins = self.whole.as_ref().map_or(0, |h| h.counts.len());
        (self.counts.len() * 2 + bins * 8 + std::mem::size_of::<Self>()) as u64
    }

    /// The whole column's histogram, `None` when it counts nothing (an infinite value,
    /// or no number).
    pub fn whole(&self) -> Option<&Histogram> {
        self.whole.as_ref()
    }

    /// Adds block `k`'s counts (rows `k * BIN_BLOCK ..`) into `lanes`, lanes of the
    /// bins of [`Self::whole`].
    pub(crate) fn add_block(&self, k: usize, lanes: &mut Lanes) {
        if let Some(whole) = &self.whole {
            let bins = whole.counts.len();
            lanes.add(
                self.counts[k * bins..(k + 1) * bins]
                    .iter()
                    .map(|&c| u64::from(c)),
            );
        }
    }
}

/// An upper bound of the bytes of the counts of `rows` rows in `bins` bins, known before
/// building them.
pub(crate) fn estimated_bytes(rows: usize, bins: usize) -> u64 {
    (rows.div_ceil(BIN_BLOCK) * bins * 2 + bins * 8 + 256) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::histogram_of;

    #[test]
    fn blocks_add_up_to_the_columns_histogram() {
        // A sine with NaN in it, over a number of rows that leaves a short last block.
        let values: Vec<f64> = (0..10_000)
            .map(|i| {
                if i % 777 == 0 {
                    f64::NAN
                } else {
                    (i as f64 / 97.0).sin()
                }
            })
            .collect();
        let counts = BinCounts::build(&values, 100);
        let whole = counts.whole().expect("finite");
        assert_eq!(whole, &histogram_of(&[&values], 100));
        for k in 0..values.len().div_ceil(BIN_BLOCK) {
            let mut lanes = Lanes::new(whole);
            counts.add_block(k, &mut lanes);
            let rows = k * BIN_BLOCK..((k + 1) * BIN_BLOCK).min(values.len());
            let mut direct = Lanes::new(whole);
            direct.count(&values[rows], whole);
            assert_eq!(lanes.summed(), direct.summed(), "block {k}");
        }
        assert!(counts.bytes() <= estimated_bytes(values.len(), 100));
    }

    #[test]
    fn a_column_with_an_infinity_or_no_number_counts_nothing() {
        let inf = BinCounts::build(&[1.0, f64::INFINITY, 2.0], 10);
        assert!(inf.whole().is_none());
        let mut lanes = Lanes::new(&Histogram::empty(10));
        inf.add_block(0, &mut lanes);
        assert_eq!(lanes.summed(), vec![0; 10]);
        assert!(BinCounts::build(&[f64::NAN; 5], 10).whole().is_none());
        assert_eq!(BinCounts::build(&[], 10).rows(), 0);
    }
}
