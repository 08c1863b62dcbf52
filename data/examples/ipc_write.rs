//! Where writing a kept upload's Arrow IPC file goes (issue 26): a frame shaped like
//! `scripts/bench-upload`'s generated CSV (id, date, city, temperature, count), written
//! as ingestion writes it, and the same with each suspect taken away. Prints one line a
//! variant; `IPC_WRITE_MEMORY_FIRST=1` first writes it into memory, so any work polars
//! does once per frame is done before the first file.
//!
//! `cargo run --release -p stayput-data --example ipc_write -- [ROWS]`

use std::io::{BufWriter, Write};
use std::time::Instant;

use polars::prelude::*;

fn frame(rows: usize, chunks: usize) -> PolarsResult<DataFrame> {
    let cities = ["Oslo", "Rome", "Lima", "Pune", "Kyiv", "Doha"];
    let per = rows / chunks;
    let mut out: Option<DataFrame> = None;
    for c in 0..chunks {
        let ids: Vec<i64> = (c * per..(c + 1) * per).map(|i| i as i64).collect();
        let dates: Vec<i32> = ids.iter().map(|&i| 18_000 + (i % 3_000) as i32).collect();
        let city: Vec<&str> = ids.iter().map(|&i| cities[(i % 6) as usize]).collect();
        let temp: Vec<f64> = ids.iter().map(|&i| (i % 400) as f64 / 10.0).collect();
        let count: Vec<i64> = ids.iter().map(|&i| i % 1_000).collect();
        let part = DataFrame::new(
            per,
            vec![
                Column::new("id".into(), ids),
                Column::new("date".into(), dates).cast(&DataType::Date)?,
                Column::new("city".into(), city),
                Column::new("temp".into(), temp),
                Column::new("count".into(), count),
            ],
        )?;
        match &mut out {
            None => out = Some(part),
            Some(all) => {
                all.vstack_mut_owned(part)?;
            }
        }
    }
    out.ok_or_else(|| PolarsError::NoData("no rows".into()))
}

fn timed(label: &str, f: impl FnOnce() -> PolarsResult<u64>) -> PolarsResult<()> {
    let started = Instant::now();
    let bytes = f()?;
    let s = started.elapsed().as_secs_f64();
    println!(
        "{label}: {:.0} ms, {} MiB, {:.0} MiB/s",
        s * 1e3,
        bytes >> 20,
        (bytes >> 20) as f64 / s
    );
    Ok(())
}

fn to_file(frame: &DataFrame, path: &std::path::Path, compat: CompatLevel) -> PolarsResult<u64> {
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    IpcWriter::new(&mut out)
        .with_compat_level(compat)
        .finish(&mut frame.clone())?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Writes `frame` as Arrow IPC into memory; returns its size.
fn to_memory(frame: &DataFrame) -> PolarsResult<u64> {
    let mut out = Vec::new();
    IpcWriter::new(&mut out).finish(&mut frame.clone())?;
    Ok(out.len() as u64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(18_000_000);
    let dir = std::env::temp_dir().join(format!("stayput-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("frame.arrow");
    // As the CSV reader leaves it: one chunk a batch of rows.
    let chunked = frame(rows, 64)?;
    println!(
        "{} rows, {} chunks, {} MiB",
        chunked.height(),
        chunked.first_col_n_chunks(),
        chunked.estimated_size() >> 20
    );
    if std::env::var_os("IPC_WRITE_MEMORY_FIRST").is_some() {
        timed("into memory first (Vec), no file", || to_memory(&chunked))?;
    }
    timed("ingestion's write (newest, chunked)", || {
        to_file(&chunked, &path, CompatLevel::newest())
    })?;
    std::fs::remove_file(&path)?;
    timed("the same again (pages of the last file freed)", || {
        to_file(&chunked, &path, CompatLevel::newest())
    })?;
    let bytes = std::fs::read(&path)?;
    std::fs::remove_file(&path)?;
    timed("plain std::fs::write of those bytes (floor)", || {
        std::fs::write(&path, &bytes)?;
        Ok(bytes.len() as u64)
    })?;
    drop(bytes);
    std::fs::remove_file(&path)?;
    timed("into memory (Vec), no file", || to_memory(&chunked))?;
    timed("oldest compat (strings as large utf8)", || {
        to_file(&chunked, &path, CompatLevel::oldest())
    })?;
    std::fs::remove_file(&path)?;
    let numbers = chunked.drop("city")?;
    timed("without the string column", || {
        to_file(&numbers, &path, CompatLevel::newest())
    })?;
    std::fs::remove_file(&path)?;
    let mut one = chunked.clone();
    one.rechunk_mut_par();
    timed("one chunk", || to_file(&one, &path, CompatLevel::newest()))?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
