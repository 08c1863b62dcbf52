//! The floor of the upload benchmark (`scripts/bench-upload`): polars reading a file
//! from local disk with the settings ingestion uses, and the same file ingested through
//! the cache's public API (no HTTP). Prints one line of JSON.
//!
//! `cargo run --release -p stayput-data --example read_floor -- FILE`

use std::path::PathBuf;
use std::time::Instant;

use polars::prelude::*;
use stayput_cache::{ByteSize, CacheConfig, FrameCache, SessionKey};
use stayput_data::Uploads;

fn polars_alone(path: &PathBuf) -> PolarsResult<DataFrame> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    if extension == "parquet" {
        return ParquetReader::new(std::fs::File::open(path)?).finish();
    }
    if extension == "arrow" {
        return IpcReader::new(std::fs::File::open(path)?).finish();
    }
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(10_000))
        .map_parse_options(|p| p.with_try_parse_dates(true))
        .try_into_reader_with_file_path(Some(path.clone()))?
        .finish()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = PathBuf::from(std::env::args().nth(1).ok_or("usage: read_floor FILE")?);
    let bytes = std::fs::metadata(&path)?.len();
    let started = Instant::now();
    let frame = polars_alone(&path)?;
    let floor_s = started.elapsed().as_secs_f64();
    let frame_bytes = frame.estimated_size();
    drop(frame);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let scratch = std::env::temp_dir().join(format!("stayput-floor-{}", std::process::id()));
    let ingest_s = runtime.block_on(async {
        let uploads = Uploads::open(&scratch, u64::MAX, u64::MAX)?;
        let cache = uploads
            .wire(FrameCache::builder(CacheConfig::new(ByteSize(64 << 30))))
            .build();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let started = Instant::now();
        uploads
            .ingest_file(&cache, SessionKey::random(), &path, &name)
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(started.elapsed().as_secs_f64())
    })?;
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "{{\"file_bytes\":{bytes},\"frame_bytes\":{frame_bytes},\"polars_s\":{floor_s:.3},\"polars_mb_s\":{:.1},\"ingest_s\":{ingest_s:.3},\"ingest_mb_s\":{:.1}}}",
        bytes as f64 / 1e6 / floor_s,
        bytes as f64 / 1e6 / ingest_s
    );
    Ok(())
}
