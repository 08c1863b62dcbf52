//! Criterion benchmarks of the min/max pyramid: a line figure of a random walk of 1e7,
//! 1e8 and 1e9 rows (x = the row number, a 1,000 px plot), over the full range and over
//! 1 % of it, read from the column's kept pyramid (`figure_kept`) beside the plain scan
//! (`figure`); and the pyramid's one-off build. Figure JSON included. Each size also
//! prints the pyramid's bytes as a share of the column's.
//!
//! Run with `cargo bench -p stayput-figures --bench pyramid`; 1e9 rows take 8 GB
//! (`STAYPUT_BENCH_MAX_ROWS=100000000` leaves them out).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod common;
use common::walk;

use stayput_figures::pyramid::MinMaxPyramid;
use stayput_figures::{figure, figure_kept, ChartKind, FigureSpec, PyramidStore, ROW};

fn line(c: &mut Criterion) {
    let max_rows: usize = std::env::var("STAYPUT_BENCH_MAX_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000_000);
    let mut group = c.benchmark_group("pyramid_line");
    group.sample_size(10);
    for rows in [10_000_000_usize, 100_000_000, 1_000_000_000] {
        if rows > max_rows {
            continue;
        }
        let frame = std::sync::Arc::new(walk(rows));
        let label = format!("{rows:.0e}");
        let spec = |range| FigureSpec {
            x: ROW.into(),
            y: "walk".into(),
            kind: ChartKind::Line,
            range,
            width_px: 1_000,
            time_x: false,
        };
        let full = spec((None, None));
        let lo = (rows / 2) as f64;
        let zoom = spec((Some(lo), Some(lo + (rows / 100) as f64)));
        let store = PyramidStore::new(u64::MAX);
        figure_kept(&frame, &full, &store).expect("the pyramid, built once");
        let values = frame.column("walk").expect("walk").f64().expect("f64");
        let values = values.cont_slice().expect("one chunk");
        println!(
            "pyramid of {label} rows: {} bytes, {:.2} % of the column's {} bytes",
            store.bytes(),
            store.bytes() as f64 * 100.0 / (rows * 8) as f64,
            rows * 8,
        );
        group.bench_function(BenchmarkId::new("full_range_pyramid", &label), |b| {
            b.iter(|| figure_kept(&frame, &full, &store).expect("figure"))
        });
        group.bench_function(BenchmarkId::new("one_percent_pyramid", &label), |b| {
            b.iter(|| figure_kept(&frame, &zoom, &store).expect("figure"))
        });
        group.bench_function(BenchmarkId::new("full_range_scan", &label), |b| {
            b.iter(|| figure(&frame, &full).expect("figure"))
        });
        group.bench_function(BenchmarkId::new("one_percent_scan", &label), |b| {
            b.iter(|| figure(&frame, &zoom).expect("figure"))
        });
        group.bench_function(BenchmarkId::new("build", &label), |b| {
            b.iter(|| MinMaxPyramid::build(values))
        });
    }
    group.finish();
}

criterion_group!(benches, line);
criterion_main!(benches);
