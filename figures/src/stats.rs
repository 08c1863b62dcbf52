//! Statistics of f64 slices that figures are made of: a parallel mean and equal-width
//! histograms. Slices, not frames, so a multi-chunk polars column is read in place.

use rayon::prelude::*;

/// Values summed or binned by one rayon task: large enough to amortise scheduling,
/// small enough to balance two cores.
const CHUNK: usize = 1 << 18;

/// Values summed on the calling thread: a sum is bound by memory bandwidth, not by
/// cores, and up to 2M values (16 MB) one thread is as fast as two without waiting for
/// rayon's workers to wake, which another process's load delays (1e6 values on this
/// 2-core machine: ~1.3 ms either way when idle; with a competing process 1.4 ms on one
/// thread, 1.9 ms on rayon). Tuned on this 2-core machine: where many cores share a
/// wider memory bus, a lower bound would pay.
const SEQUENTIAL_SUM: usize = 1 << 21;

/// The mean of all values of `slices`, summed in parallel when there are many; `NaN`
/// when there are none.
pub fn mean_of(slices: &[&[f64]]) -> f64 {
    let count: usize = slices.iter().map(|s| s.len()).sum();
    let sum: f64 = if count <= SEQUENTIAL_SUM {
        // On this thread, never queued behind large jobs on rayon.
        slices.iter().map(|s| lane_sum(s)).sum()
    } else {
        slices
            .par_iter()
            .flat_map(|s| s.par_chunks(CHUNK))
            .map(lane_sum)
            .sum()
    };
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Sum of `values` in eight independent lanes: one running total would wait on each
/// addition's latency (~4 cycles); eight let the CPU vectorise and keep up with memory.
fn lane_sum(values: &[f64]) -> f64 {
    let mut lanes = [0.0_f64; 8];
    let mut blocks = values.chunks_exact(8);
    for block in &mut blocks {
        for (lane, v) in lanes.iter_mut().zip(block) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f64>() + blocks.remainder().iter().sum::<f64>()
}

/// Equal-width bins over the range of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub start: f64,
    /// Width of every bin.
    pub width: f64,
    /// Values per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Values counted (NaN is not).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `p`-quantile (0..=1), interpolated within the bin it falls in: off by at most
    /// one bin's width.
    pub fn quantile(&self, p: f64) -> f64 {
        let target = p * self.total() as f64;
        let mut seen = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            let c = c as f64;
            if c > 0.0 && seen + c >= target {
                let within = ((target - seen) / c).clamp(0.0, 1.0);
                return self.start + (i as f64 + within) * self.width;
            }
            seen += c;
        }
        self.end()
    }

    /// Right edge of the last bin.
    pub fn end(&self) -> f64 {
        self.start + self.width * self.counts.len() as f64
    }

    /// `bins` empty bins (at least one), as a histogram of no value is.
    pub(crate) fn empty(bins: usize) -> Self {
        Self {
            start: 0.0,
            width: 1.0,
            counts: vec![0; bins.max(1)],
        }
    }

    /// `bins` empty equal bins (at least one) from `lo` to `hi`, the smallest and the
    /// largest value to be binned; `None` when either is not finite (no value, or an
    /// infinite one), whose histogram counts nothing ([`Histogram::empty`]).
    pub(crate) fn spanning(lo: f64, hi: f64, bins: usize) -> Option<Self> {
        if !lo.is_finite() || !hi.is_finite() {
            return None;
        }
        let bins = bins.max(1);
        let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
        Some(Self {
            start: lo,
            width,
            counts: vec![0; bins],
        })
    }

    /// The bin `v` falls in (the largest value in the last), `None` for NaN.
    #[inline]
    pub(crate) fn bin_of(&self, v: f64) -> Option<usize> {
        (!v.is_nan()).then(|| (((v - self.start) / self.width) as usize).min(self.counts.len() - 1))
    }
}

/// Bins `slices` into `bins` equal bins between their min and max, in parallel. NaN
/// values are not counted; with no finite value every bin is empty.
pub fn histogram_of(slices: &[&[f64]], bins: usize) -> Histogram {
    let (lo, hi) = range_of_all(slices);
    match Histogram::spanning(lo, hi, bins) {
        Some(hist) => binned_as(slices, hist),
        None => Histogram::empty(bins),
    }
}

/// Smallest and largest value of `slices`, in parallel when there are many (infinite
/// when there is none; NaN is not a value).
pub(crate) fn range_of_all(slices: &[&[f64]]) -> (f64, f64) {
    let count: usize = slices.iter().map(|s| s.len()).sum();
    let widest = |a: (f64, f64), b: (f64, f64)| (a.0.min(b.0), a.1.max(b.1));
    let none = (f64::INFINITY, f64::NEG_INFINITY);
    if count <= CHUNK {
        // One task's worth: on this thread, never queued behind large jobs on rayon.
        return slices.iter().map(|s| range_of(s)).fold(none, widest);
    }
    slices
        .par_iter()
        .flat_map(|s| s.par_chunks(CHUNK))
        .map(range_of)
        .reduce(|| none, widest)
}

/// Bins `slices` into the bins of `hist` (its counts replaced), in parallel: the
/// histogram of some rows on the bins of others (a filtered histogram on its unfiltered
/// bins). A value outside them falls in the nearest end bin; NaN is not counted.
pub fn binned_as(slices: &[&[f64]], mut hist: Histogram) -> Histogram {
    let count: usize = slices.iter().map(|s| s.len()).sum();
    let mut lanes = Lanes::new(&hist);
    if count <= CHUNK {
        slices.iter().for_each(|s| lanes.count(s, &hist));
    } else {
        lanes = slices
            .par_iter()
            .flat_map(|s| s.par_chunks(CHUNK))
            .fold(
                || Lanes::new(&hist),
                |mut lanes, c| {
                    lanes.count(c, &hist);
                    lanes
                },
            )
            .reduce(|| Lanes::new(&hist), Lanes::merged);
    }
    hist.counts = lanes.summed();
    hist
}

/// Smallest and largest value of `values` (infinite when there is none; NaN is not a
/// value).
fn range_of(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Bin counts kept in [`LANES`] lanes, the values counted in each in turn. With one
/// array of counts each increment waits on the one before when neighbouring values fall
/// in the same bin, as most of a walk's or a sine's do; lanes let the CPU overlap them
/// (40M values of a sine, one thread: 120 → 83 ms; one by one, 93 ms).
pub(crate) struct Lanes {
    bins: usize,
    counts: Vec<u64>,
    /// Where the lane the next value goes to starts.
    next: usize,
}

/// Lanes of counts: enough to hide an increment's store-to-load latency.
const LANES: usize = 4;

impl Lanes {
    /// Empty lanes for the bins of `hist`.
    pub(crate) fn new(hist: &Histogram) -> Self {
        let bins = hist.counts.len();
        Self {
            bins,
            counts: vec![0; LANES * bins],
            next: 0,
        }
    }

    /// Counts `values`, binned as `hist` (the histogram these lanes were made for) bins
    /// them (NaN is not counted).
    pub(crate) fn count(&mut self, values: &[f64], hist: &Histogram) {
        let bins = self.bins;
        debug_assert_eq!(hist.counts.len(), bins, "lanes of another histogram");
        let (a, rest) = self.counts.split_at_mut(bins);
        let (b, rest) = rest.split_at_mut(bins);
        let (c, d) = rest.split_at_mut(bins);
        let mut quads = values.chunks_exact(LANES);
        for quad in &mut quads {
            // Written out: an array of the four lanes zipped with the values is slower.
            if let Some(bin) = hist.bin_of(quad[0]) {
                a[bin] += 1;
            }
            if let Some(bin) = hist.bin_of(quad[1]) {
                b[bin] += 1;
            }
            if let Some(bin) = hist.bin_of(quad[2]) {
                c[bin] += 1;
            }
            if let Some(bin) = hist.bin_of(quad[3]) {
                d[bin] += 1;
            }
        }
        quads.remainder().iter().for_each(|&v| self.count_one(v, hist));
    }

    /// Counts one value, binned as `hist` bins it.
    #[inline]
    pub(crate) fn count_one(&mut self, v: f64, hist: &Histogram) {
        debug_assert_eq!(hist.counts.len(), self.bins, "lanes of another histogram");
        if let Some(bin) = hist.bin_of(v) {
            self.counts[self.next + bin] += 1;
            self.next += self.bins;
            if self.next == self.counts.len() {
                self.next = 0;
            }
        }
    }

    /// Adds counts already made for these bins (one per bin, in order).
    pub(crate) fn add(&mut self, counts: impl Iterator<Item = u64>) {
        self.counts.iter_mut().zip(counts).for_each(|(x, y)| *x += y);
    }

    /// These counts and `other`'s, lane by lane.
    pub(crate) fn merged(mut self, other: Self) -> Self {
        self.counts
            .iter_mut()
            .zip(other.counts)
            .for_each(|(x, y)| *x += y);
        self
    }

    /// The count of each bin, all lanes summed.
    pub(crate) fn summed(&self) -> Vec<u64> {
        (0..self.bins)
            .map(|bin| (0..LANES).map(|lane| self.counts[lane * self.bins + bin]).sum())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_count_what_one_array_counts() {
        // Runs of one bin (as a walk's), NaN, the top edge, a length no multiple of four,
        // values counted in slices and one by one, and two tallies merged.
        let values: Vec<f64> = (0..1_003)
            .map(|i| match i % 97 {
                0 => f64::NAN,
                1 => 10.0,
                _ => ((i / 50) % 10) as f64,
            })
            .collect();
        let hist = Histogram::spanning(0.0, 10.0, 7).expect("finite");
        let mut plain = vec![0_u64; 7];
        values
            .iter()
            .filter_map(|&v| hist.bin_of(v))
            .for_each(|b| plain[b] += 1);
        let mut first = Lanes::new(&hist);
        first.count(&values[..501], &hist);
        values[501..700].iter().for_each(|&v| first.count_one(v, &hist));
        let mut second = Lanes::new(&hist);
        second.count(&values[700..], &hist);
        assert_eq!(first.merged(second).summed(), plain);
        assert_eq!(plain.iter().sum::<u64>(), 1_003 - 11, "NaN is not counted");
    }

    #[test]
    fn mean_and_histogram_are_exact_on_known_data() {
        let values = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(mean_of(&[&values]), 1.5);
        assert_eq!(mean_of(&[&values[..1], &values[1..]]), 1.5, "across chunks");
        assert!(mean_of(&[]).is_nan());
        let hist = histogram_of(&[&values], 3);
        assert_eq!(hist.counts, vec![1, 1, 2], "the max lands in the last bin");
        assert_eq!((hist.start, hist.width, hist.end()), (0.0, 1.0, 3.0));
    }

    #[test]
    fn lane_sum_matches_a_plain_sum_for_every_remainder() {
        for n in 0_u64..40 {
            let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(lane_sum(&values), (n * n.saturating_sub(1) / 2) as f64, "n = {n}");
        }
    }

    #[test]
    fn a_single_value_has_one_full_bin_and_nan_is_not_counted() {
        let hist = histogram_of(&[&[0.25]], 50);
        assert_eq!((hist.total(), hist.counts[0]), (1, 1));
        let hist = histogram_of(&[&[f64::NAN, 1.0, 2.0]], 2);
        assert_eq!(hist.counts, vec![1, 1]);
        assert_eq!(histogram_of(&[&[f64::NAN]], 4).total(), 0);
    }

    #[test]
    fn quantiles_of_a_ramp() {
        let ramp: Vec<f64> = (0..=100_000).map(f64::from).collect();
        let hist = histogram_of(&[&ramp], 8_192);
        let tolerance = 100_000.0 / 8_192.0;
        for (p, want) in [(0.25, 25_000.0), (0.5, 50_000.0), (0.75, 75_000.0)] {
            assert!((hist.quantile(p) - want).abs() <= tolerance, "p = {p}");
        }
        assert_eq!(hist.quantile(1.0), 100_000.0);
    }
}
