//! The fuzzing campaign over what comes in (issue 23): structure-aware mutations of real
//! Parquet and Arrow IPC files and an Excel workbook, aimed at their metadata (lengths,
//! counts, offsets, nesting, compression prefixes; a zip's central directory), run
//! through the checks and then polars (calamine for the workbook).
//!
//! The property: every file is either refused by the checks with an [`IngestError`], or
//! read by polars into a frame no larger than the bytes the checks declared (what the
//! upload reserves). A panic inside polars is allowed (the server runs reads on the
//! blocking pool, where a panic is a failed request); an abort (stack overflow) or a
//! frame larger than declared is a finding.
//!
//! CI runs `STAYPUT_FUZZ_CASES` cases (default 300, ~10 s in a debug build); the long
//! run in docs/RELIABILITY.md is the same test with a larger count.

use std::io::Write;

use polars::prelude::*;
use proptest::prelude::*;

use super::format::{detect, Format};
use super::missing::Spellings;
use super::parse;

#[path = "../../tests/files/mod.rs"]
mod crafted;

/// The seed files: written by polars the way users' tools write them, and the crafted
/// shapes at an honest size.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut frame = df!(
        "city" => ["Oslo", "Rome", "Lima", "Oslo"],
        "temp" => [4.5, 18.0, 22.1, -3.0],
        "n" => [1i64, 2, 3, 4],
        "ok" => [true, false, true, true],
    )
    .expect("frame");
    let lists = Series::new("l".into(), [1i64, 2, 3, 4])
        .implode()
        .expect("list")
        .into_series();
    let mut nested = DataFrame::new_infer_height(vec![lists.into_column()]).expect("nested");
    let ipc = |frame: &mut DataFrame, compression| {
        let mut out = Vec::new();
        IpcWriter::new(&mut out)
            .with_compression(compression)
            .finish(frame)
            .expect("ipc");
        out
    };
    let parquet = |frame: &mut DataFrame, compression| {
        let mut out = Vec::new();
        ParquetWriter::new(&mut out)
            .with_compression(compression)
            .finish(frame)
            .expect("parquet");
        out
    };
    vec![
        ("a.arrow", ipc(&mut frame, None)),
        (
            "z.arrow",
            ipc(&mut frame, Some(IpcCompression::ZSTD(Default::default()))),
        ),
        ("l.arrow", ipc(&mut frame, Some(IpcCompression::LZ4))),
        ("n.arrow", ipc(&mut nested, None)),
        ("a.parquet", parquet(&mut frame, ParquetCompression::Uncompressed)),
        ("z.parquet", parquet(&mut frame, ParquetCompression::Zstd(None))),
        ("n.parquet", parquet(&mut nested, ParquetCompression::Snappy)),
        ("c.arrow", crafted::ipc_plain(64)),
        ("d.arrow", crafted::ipc_deep(4)),
        ("c.parquet", crafted::parquet_list(64)),
        // A real workbook, written by LibreOffice (dates, merged cells, formulas).
        (
            "w.xlsx",
            include_bytes!("../../tests/fixtures/seattle-weather.xlsx").to_vec(),
        ),
    ]
}

/// One change to a file, biased towards its metadata (the footer, at its end).
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR a byte `at` from the end (within the last 512 bytes: the footer).
    TailFlip { at: usize, mask: u8 },
    /// Overwrite 4 bytes `at` from the end with a little-endian value.
    TailInt { at: usize, value: u32 },
    /// Overwrite 8 bytes `at` from the end with a little-endian value.
    TailLong { at: usize, value: u64 },
    /// XOR a byte anywhere (`at` scaled to the file's length).
    Flip { at: usize, mask: u8 },
    /// Keep only the first part (a fraction, in thousandths) and then the original
    /// last 12 bytes (so the footer length and magic still lead the reader on).
    Cut { thousandths: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let extreme = prop_oneof![
        Just(0u32),
        Just(1),
        Just(0x7fff_ffff),
        Just(0xffff_ffff),
        Just(1 << 27),
        Just(5_000),
        any::<u32>()
    ];
    let extreme_long = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(1 << 33),
        Just(i64::MAX as u64),
        any::<u64>()
    ];
    prop_oneof![
        3 => (0usize..512, 1u8..=255).prop_map(|(at, mask)| Mutation::TailFlip { at, mask }),
        3 => (4usize..512, extreme).prop_map(|(at, value)| Mutation::TailInt { at, value }),
        2 => (8usize..512, extreme_long).prop_map(|(at, value)| Mutation::TailLong { at, value }),
        1 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => (1usize..1000).prop_map(|thousandths| Mutation::Cut { thousandths }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    let from_end = |at: usize, width: usize| (at < len && at >= width).then(|| len - at);
    match *mutation {
        Mutation::TailFlip { at, mask } => {
            if let Some(i) = from_end(at + 1, 1) {
                bytes[i] ^= mask;
            }
        }
        Mutation::TailInt { at, value } => {
            if let Some(i) = from_end(at, 4) {
                bytes[i..i + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        Mutation::TailLong { at, value } => {
            if let Some(i) = from_end(at, 8) {
                bytes[i..i + 8].copy_from_slice(&value.to_le_bytes());
            }
        }
        Mutation::Flip { at, mask } => {
            if len > 0 {
                bytes[at % len] ^= mask;
            }
        }
        Mutation::Cut { thousandths } => {
            let keep = len * thousandths / 1000;
            if keep + 12 < len {
                let tail = bytes[len - 12..].to_vec();
                bytes.truncate(keep);
                bytes.extend_from_slice(&tail);
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("STAYPUT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// What one mutated file came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    /// No longer the format (told by its first bytes).
    NotTheFormat,
    /// Refused by the checks.
    Refused,
    /// Accepted by the checks, then refused (or panicked on) by polars.
    PolarsFailed,
    /// Read, within what was declared.
    Read,
}

fn run_one(
    seeds: &[(&'static str, Vec<u8>)],
    seed: usize,
    mutations: &[Mutation],
) -> Result<Outcome, TestCaseError> {
    let (name, mut bytes) = seeds[seed % seeds.len()].clone();
    for m in mutations {
        apply(&mut bytes, m);
    }
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&bytes).expect("write");
    let path = file.path();
    let head = &bytes[..bytes.len().min(4096)];
    let Ok(format @ (Format::Ipc | Format::Parquet | Format::Xlsx)) = detect(name, head) else {
        return Ok(Outcome::NotTheFormat);
    };
    if format == Format::Xlsx {
        // The workbook's check and reader catch calamine's panics themselves (a 400).
        let Ok(plan) = super::xlsx::plan(path, None, bytes.len() as u64) else {
            return Ok(Outcome::Refused);
        };
        return match super::xlsx::read(path, &plan) {
            Ok(frame) => {
                let held = frame.estimated_size() as u64;
                prop_assert!(
                    held <= plan.bytes,
                    "{name} after {mutations:?}: read {held} bytes, planned {}",
                    plan.bytes
                );
                Ok(Outcome::Read)
            }
            Err(_) => Ok(Outcome::PolarsFailed),
        };
    }
    let Ok(super::Declared { bytes: declared, .. }) =
        parse::expected_bytes(path, format, bytes.len() as u64, 0)
    else {
        return Ok(Outcome::Refused);
    };
    match std::panic::catch_unwind(|| parse::read(path, format, Spellings::ALL)) {
        Ok(Ok(frame)) => {
            let held = frame.estimated_size() as u64;
            prop_assert!(
                held <= declared,
                "{name} after {mutations:?}: read {held} bytes, declared {declared}"
            );
            Ok(Outcome::Read)
        }
        _ => Ok(Outcome::PolarsFailed),
    }
}

#[test]
fn a_mutated_file_is_refused_or_read_within_what_it_declared() {
    let seeds = seeds();
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let counts = std::sync::Mutex::new(std::collections::HashMap::<Outcome, u64>::new());
    let strategy = (0usize..seeds.len(), proptest::collection::vec(mutation(), 1..6));
    let result = runner.run(&strategy, |(seed, mutations)| {
        let outcome = run_one(&seeds, seed, &mutations)?;
        *counts.lock().expect("counts").entry(outcome).or_default() += 1;
        Ok(())
    });
    let counts = counts.into_inner().expect("counts");
    eprintln!("fuzz outcomes over {} cases: {counts:?}", cases());
    if let Err(err) = result {
        panic!("{err}");
    }
    // Not vacuous: mutations reach the checks' refusals and polars' reads alike.
    for outcome in [Outcome::Refused, Outcome::Read] {
        assert!(
            counts.get(&outcome).copied().unwrap_or(0) > 0,
            "no case came to {outcome:?}: {counts:?}"
        );
    }
}
