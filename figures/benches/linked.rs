//! Criterion benchmarks of a linked view's brush: a random walk of 1e7 and 1e8 rows drawn
//! as a line over the row number (1,000 px) and a 100-bin histogram of its values, and a
//! brush on the histogram that keeps the values in its middle fifth. What is timed is
//! `linked`, figure JSON included (the page's request and draw are not): `line` is what
//! a brush on the histogram asks for (the line re-aggregated over the rows kept),
//! `line_kept` the same reading the frame's min/max pyramids as the server does, and
//! `line_and_histogram` both figures (the histogram of every row). `line_and_wave_kept`
//! is what a brush asks of the server in `/linked`'s three-figure view: the line and a
//! histogram of a second column (a sine of the row number), both over the rows kept,
//! reading the pyramids and the sine's counts by block; `wave_kept` is that histogram
//! alone.
//!
//! Run with `cargo bench -p stayput-figures --bench linked`;
//! `STAYPUT_BENCH_MAX_ROWS=10000000` leaves 1e8 out.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use polars::prelude::*;

mod common;
use common::walk;

use stayput_figures::select::{Clause, LinkedFigure};

use stayput_figures::{linked, linked_kept, ChartKind, FigureSpec, PyramidStore, ROW};

fn spec(x: &str, y: &str, kind: ChartKind) -> FigureSpec {
    FigureSpec {
        x: x.into(),
        y: y.into(),
        kind,
        range: (None, None),
        width_px: 1_000,
        time_x: false,
    }
}

fn brush(c: &mut Criterion) {
    let max_rows: usize = std::env::var("STAYPUT_BENCH_MAX_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000_000);
    let mut group = c.benchmark_group("linked_brush");
    group.sample_size(10);
    for rows in [10_000_000_usize, 100_000_000] {
        if rows > max_rows {
            continue;
        }
        let mut frame = walk(rows);
        let wave: Vec<f64> = (0..rows).map(|i| (i as f64 * 1e-3).sin()).collect();
        frame.with_column(Column::new("wave".into(), wave)).expect("wave");
        let values = frame.column("walk").expect("walk").f64().expect("f64");
        let (lo, hi) = (values.min().unwrap_or(0.0), values.max().unwrap_or(0.0));
        let fifth = (hi - lo) / 5.0;
        let selection = vec![Clause::Range {
            column: "walk".into(),
            lo: lo + 2.0 * fifth,
            hi: lo + 3.0 * fifth,
        }];
        let figures = [
            LinkedFigure {
                spec: spec(ROW, "walk", ChartKind::Line),
                filters: vec![0],
            },
            LinkedFigure {
                spec: spec(ROW, "walk", ChartKind::Histogram),
                filters: vec![],
            },
        ];
        let label = format!("{rows:.0e}");
        let drawn = linked(&frame, &figures, std::slice::from_ref(&selection)).expect("drawn");
        println!("{label}: the brush keeps {} rows", drawn[0].rows_in_range);
        // What a brush on the histogram asks of the server: the line, re-aggregated.
        group.bench_function(BenchmarkId::new("line", &label), |b| {
            b.iter(|| linked(&frame, &figures[..1], std::slice::from_ref(&selection)).expect("drawn"))
        });
        // The same, reading the frame's pyramids as the server does (built by the first
        // call, before the timing): only the blocks the brush's edges cut are read.
        let frame = Arc::new(frame);
        let store = PyramidStore::new(1 << 30);
        linked_kept(&frame, &figures[..1], std::slice::from_ref(&selection), &store).expect("drawn");
        group.bench_function(BenchmarkId::new("line_kept", &label), |b| {
            b.iter(|| {
                linked_kept(&frame, &figures[..1], std::slice::from_ref(&selection), &store).expect("drawn")
            })
        });
        let both_kept = [
            figures[0].clone(),
            LinkedFigure {
                spec: spec(ROW, "wave", ChartKind::Histogram),
                filters: vec![0],
            },
        ];
        linked_kept(&frame, &both_kept, std::slice::from_ref(&selection), &store).expect("drawn");
        group.bench_function(BenchmarkId::new("line_and_wave_kept", &label), |b| {
            b.iter(|| {
                linked_kept(&frame, &both_kept, std::slice::from_ref(&selection), &store).expect("drawn")
            })
        });
        group.bench_function(BenchmarkId::new("wave_kept", &label), |b| {
            b.iter(|| {
                linked_kept(&frame, &both_kept[1..], std::slice::from_ref(&selection), &store).expect("drawn")
            })
        });
        group.bench_function(BenchmarkId::new("line_and_histogram", &label), |b| {
            b.iter(|| linked(&frame, &figures, std::slice::from_ref(&selection)).expect("drawn"))
        });
    }
    group.finish();
}

criterion_group!(benches, brush);
criterion_main!(benches);
