//! JSON and NDJSON uploads through the real disk: real vega-datasets files (plain and
//! gzip'd) become frames with their types; a file nested too deep, cut short, or not JSON
//! is refused before polars reads it, and leaves nothing behind.

use std::io::Write;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use polars::prelude::*;
use stayput_cache::SessionKey;
use stayput_data::{IngestError, MAX_DEPTH};

#[path = "../../cache/tests/common/mod.rs"]
mod common;
mod uploading;
use uploading::setup;

fn vega(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../node_modules/vega-datasets/data")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup)", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_json_files_become_frames_with_their_types() {
    let s = setup();
    let session = SessionKey::random();
    // cars.json: 406 records, nulls among the numbers, a year as a date text.
    let cars = vega("cars.json");
    let handle = s.upload(session, "cars.json", &cars, 4096).await.expect("cars");
    assert_eq!((handle.rows, handle.cols), (406, 9));
    let frame = s.cache.get(session, &handle).await.expect("read");
    assert_eq!(frame.column("Name").expect("Name").dtype(), &DataType::String);
    assert!(frame
        .column("Horsepower")
        .expect("hp")
        .dtype()
        .is_primitive_numeric());
    assert!(frame.column("Miles_per_Gallon").expect("mpg").null_count() > 0);

    // The same records one a line, and gzip'd.
    let records: Vec<serde_json::Value> = serde_json::from_slice(&cars).expect("json");
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    let handle = s
        .upload(session, "cars.ndjson", lines.as_bytes(), 1000)
        .await
        .expect("ndjson");
    assert_eq!((handle.rows, handle.cols), (406, 9));
    let mut packed = GzEncoder::new(Vec::new(), Compression::default());
    packed.write_all(&vega("flights-2k.json")).expect("gzip");
    let packed = packed.finish().expect("gzip");
    let handle = s
        .upload(session, "flights-2k.json.gz", &packed, 8192)
        .await
        .expect("gzip'd");
    assert_eq!(handle.rows, 2_000);
}

#[tokio::test]
async fn bad_json_is_refused_before_it_is_read_and_leaves_nothing() {
    let s = setup();
    // 5,000 levels deep in 10 KB: refused by the check, not a stack overflow in polars.
    let deep = format!("[{{\"a\": {}1{}}}]", "[".repeat(5_000), "]".repeat(5_000));
    assert_eq!(
        s.fails("deep.json", deep.as_bytes()).await,
        IngestError::TooDeep {
            format: "JSON",
            max: MAX_DEPTH
        }
    );
    assert_eq!(
        s.fails("cut.json", b"[{\"a\": 1}, {\"a\": 2").await,
        IngestError::Truncated("JSON")
    );
    let err = s.fails("none.json", b"[]").await;
    assert!(err.to_string().contains("no records"), "{err}");
    let err = s.fails("csv.json", b"a,b\n1,2\n").await;
    assert!(
        err.to_string().contains("named as JSON but its content is text"),
        "{err}"
    );
    let err = s.fails("scalars.json", b"[1, 2, 3]").await;
    assert!(err.to_string().contains("no records"), "{err}");
    let err = s.fails("mixed.json", b"[{\"a\": 1}, 2]").await;
    assert!(
        matches!(err, IngestError::Damaged { format: "JSON", .. }),
        "{err}"
    );
    let err = s.fails("bad.ndjson", b"{\"a\": 1}\n{\"a\": }\n").await;
    assert!(
        matches!(err, IngestError::Damaged { format: "NDJSON", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_small_file_that_declares_a_huge_table_is_refused_before_it_is_read() {
    // One record with 2,000 keys, then 100,000 empty ones (600 KB): polars would build
    // 2,000 columns of 100,001 rows (3.2 GB). Its size is reserved first, and refused.
    let s = setup();
    let mut text = String::from("[{");
    text.push_str(
        &(0..2000)
            .map(|i| format!("\"k{i}\": 0"))
            .collect::<Vec<_>>()
            .join(","),
    );
    text.push('}');
    text.push_str(&",{}".repeat(100_000));
    text.push(']');
    assert!(text.len() < 1 << 20);
    let session = SessionKey::random();
    let refused = s.upload(session, "wide.json", text.as_bytes(), 65_536).await;
    assert!(
        matches!(
            refused,
            Err(IngestError::Cache(stayput_cache::CacheError::TooLarge { .. }))
        ),
        "{refused:?}"
    );
    assert!(s.files().is_empty(), "{:?}", s.files());
    // More distinct keys than columns allowed: refused as the bytes arrive.
    let keys: String = (0..3000)
        .map(|i| format!("{{\"k{i}\": 0}}"))
        .collect::<Vec<_>>()
        .join(",");
    let err = s.fails("keys.json", format!("[{keys}]").as_bytes()).await;
    assert!(matches!(err, IngestError::TooManyColumns { .. }), "{err}");
}
