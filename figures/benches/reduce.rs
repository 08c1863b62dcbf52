//! Criterion benchmarks of the reduction: a line figure of the reference time series for
//! 1e6, 1e7 and 1e8 rows, over the full range and over 1 % of it, for a plot 1,000 px
//! wide (so at most 2,000 points). Figure JSON included.
//!
//! Run with `cargo bench -p stayput-figures --bench reduce`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use stayput_figures::demo::{time_series, START_MS, STEP_MS, TIME};
use stayput_figures::{figure, ChartKind, FigureSpec};

fn line(c: &mut Criterion) {
    // The group keeps its old name so results compare with earlier runs.
    let mut group = c.benchmark_group("explore_line");
    group.sample_size(10);
    for rows in [1_000_000_usize, 10_000_000, 100_000_000] {
        let frame = time_series(rows, 1).expect("series");
        let label = format!("{rows:.0e}");
        let spec = |range| FigureSpec {
            x: TIME.into(),
            y: "walk".into(),
            kind: ChartKind::Line,
            range,
            width_px: 1_000,
            time_x: true,
        };
        let full = spec((None, None));
        group.bench_function(BenchmarkId::new("full_range", &label), |b| {
            b.iter(|| figure(&frame, &full).expect("figure"))
        });
        let lo = START_MS + (rows / 2) as f64 * STEP_MS;
        let hi = lo + (rows / 100) as f64 * STEP_MS;
        let zoom = spec((Some(lo), Some(hi)));
        group.bench_function(BenchmarkId::new("one_percent", &label), |b| {
            b.iter(|| figure(&frame, &zoom).expect("figure"))
        });
    }
    group.finish();
}

criterion_group!(benches, line);
criterion_main!(benches);
