//! A large CSV parsed while it arrives (`data/src/ingest/stream_parse.rs`), through the
//! real disk: in small pieces it gives exactly the frame that reading the whole file
//! gives, for text that tries every way a piece could differ; what it cannot read alike
//! is read whole, with the whole read's error; an upload that goes away leaves nothing.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use polars::prelude::*;
use stayput_cache::{FrameCache, FrameHandle, SessionKey};
use stayput_data::{IngestError, Uploads};

#[path = "../../cache/tests/common/mod.rs"]
mod common;
use common::config;

/// At most two uploads are parsed as they arrive, server-wide (here: in this test
/// binary): the tests take turns so that each knows whether its upload streamed.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bytes of text in each piece: hundreds of pieces from a file of a few MB.
const PIECE: usize = 8 << 10;

struct Setup {
    cache: FrameCache,
    uploads: Uploads,
    dir: tempfile::TempDir,
}

/// Uploads parsed as they arrive in pieces of `piece` bytes (a piece larger than the
/// file: read whole).
fn setup(piece: usize) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let uploads = Uploads::open(&dir.path().join("uploads"), 64 << 20, 256 << 20)
        .expect("uploads")
        .with_parse_piece(piece);
    let cache = uploads
        .wire(FrameCache::builder(config(512, 512, Duration::from_secs(600))))
        .build();
    Setup { cache, uploads, dir }
}

impl Setup {
    async fn upload(
        &self,
        session: SessionKey,
        name: &str,
        bytes: &[u8],
    ) -> Result<FrameHandle, IngestError> {
        let mut incoming = self.uploads.incoming(session, name)?;
        // Network-sized chunks that cut lines, quotes and characters anywhere.
        for part in bytes.chunks(3_001) {
            incoming.write(part)?;
        }
        self.uploads.ingest(&self.cache, session, incoming).await
    }

    fn kept_path(&self, session: SessionKey, handle: &FrameHandle) -> PathBuf {
        let source = self
            .uploads
            .source_of(&self.cache, session, &handle.id)
            .expect("known")
            .expect("an upload");
        self.dir
            .path()
            .join("uploads")
            .join(format!("{}.arrow", source.file))
    }

    /// Record batches in the kept file: at least one a piece when it streamed.
    fn batches(&self, session: SessionKey, handle: &FrameHandle) -> usize {
        let mut file = std::fs::File::open(self.kept_path(session, handle)).expect("kept file");
        polars_arrow::io::ipc::read::read_file_metadata(&mut file)
            .expect("metadata")
            .blocks
            .len()
    }

    fn files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("uploads"))
            .expect("dir")
            .count()
    }
}

/// Text that tries every way a piece could differ from the whole file: quoted fields
/// with separators, doubled quotes and line breaks; missing values spelled four ways,
/// one of them first met long after the rows that set the types; dates; CRLF line
/// ends; blank lines; non-ASCII text cut by chunks; and no final line break.
fn tricky_csv(rows: usize, crlf: bool) -> Vec<u8> {
    let end = if crlf { "\r\n" } else { "\n" };
    let mut out = format!("id,x,name,day,flag{end}").into_bytes();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..rows {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = match (i, state % 97) {
            (i, 0) if i > 20_000 => "NA".to_owned(),
            (_, 1) => String::new(),
            (_, 2) => "null".to_owned(),
            (i, 3) if i > 15_000 => "N/A".to_owned(),
            _ => format!("{:.3}", (state % 100_000) as f64 / 7.0),
        };
        let name = match state % 11 {
            0 => "\"Smith, \"\"Jo\"\"\"".to_owned(),
            1 => format!("\"two{end}lines {i}\""),
            2 => "Zürich–Genève ☀".to_owned(),
            3 => "\"\"".to_owned(),
            _ => format!("n{}", state % 1_000),
        };
        let day = format!("2024-{:02}-{:02}", 1 + state % 12, 1 + (state >> 8) % 28);
        let flag = if state & 1 == 0 { "true" } else { "false" };
        out.extend_from_slice(format!("{i},{x},{name},{day},{flag}").as_bytes());
        if i + 1 < rows {
            out.extend_from_slice(end.as_bytes());
            if state.is_multiple_of(501) {
                out.extend_from_slice(end.as_bytes()); // a blank line
            }
        }
    }
    out
}

/// `csv` read both ways: in pieces as it arrives, and whole.
async fn both_ways(name: &str, bytes: &[u8]) -> (DataFrame, DataFrame, usize) {
    let streaming = setup(PIECE);
    let whole = setup(usize::MAX);
    let session = SessionKey::random();
    let a = streaming.upload(session, name, bytes).await.expect("streamed");
    let b = whole.upload(session, name, bytes).await.expect("whole");
    assert_eq!(streaming.uploads.streamed_uploads(), 1, "parsed as it arrived");
    assert_eq!(whole.uploads.streamed_uploads(), 0, "read whole");
    let batches = streaming.batches(session, &a);
    let fa = streaming.cache.get(session, &a).await.expect("read");
    let fb = whole.cache.get(session, &b).await.expect("read");
    assert_eq!((a.rows, a.cols), (fb.height() as u64, fb.width() as u64));
    ((*fa).clone(), (*fb).clone(), batches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_parsed_in_pieces_as_it_arrives_is_the_frame_read_whole() {
    let _turn = TURN.lock().await;
    for crlf in [false, true] {
        let bytes = tricky_csv(40_000, crlf);
        let (streamed, whole, batches) = both_ways("tricky.csv", &bytes).await;
        // At least a batch a piece: the first holds the rows the types are inferred
        // from, each other one piece and at most a chunk more.
        assert!(
            batches >= (bytes.len() - bytes.len() / 3) / (PIECE + 3_001),
            "a batch a piece at least: {batches} batches for {} bytes",
            bytes.len()
        );
        // Pieces this small are joined before they are written: one batch each.
        assert!(
            batches <= bytes.len() / PIECE + 1,
            "a batch a piece at most: {batches} batches for {} bytes",
            bytes.len()
        );
        assert_eq!(streamed.schema(), whole.schema(), "crlf {crlf}");
        assert_eq!(whole.column("day").expect("day").dtype(), &DataType::Date);
        assert!(streamed.equals_missing(&whole), "crlf {crlf}: the frames differ");
        // The late spellings are missing values, not text: x stayed a float column.
        assert_eq!(whole.column("x").expect("x").dtype(), &DataType::Float64);
        assert!(whole.column("x").expect("x").null_count() > 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipped_csv_streams_as_it_unpacks() {
    let _turn = TURN.lock().await;
    let bytes = tricky_csv(30_000, false);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let (streamed, whole, batches) = both_ways("tricky.csv.gz", &gz).await;
    assert!(batches > 10, "a batch a piece at least: {batches} batches");
    assert!(streamed.equals_missing(&whole));
}

/// A value that does not fit the type the first rows gave its column, far into the
/// file: the whole read's error (with its line), and nothing left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_does_not_fit_late_in_the_file_gets_the_whole_reads_error() {
    let _turn = TURN.lock().await;
    let mut text = String::from("n,label\n");
    for i in 0..30_000 {
        let n = if i == 25_000 {
            "lots".to_owned()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{n},row {i}\n"));
    }
    let session = SessionKey::random();
    let mut errors = Vec::new();
    for piece in [PIECE, usize::MAX] {
        let s = setup(piece);
        let err = s
            .upload(session, "late.csv", text.as_bytes())
            .await
            .expect_err("refused");
        assert!(
            matches!(
                err,
                IngestError::MixedTypes {
                    line: Some(25_002),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(s.files(), 0, "nothing is left behind");
        assert_eq!(s.uploads.used_bytes(), 0, "its bytes are given back");
        assert!(s.cache.list(session).is_empty());
        // In pieces, the parse ran, met the value, and turned itself off.
        let fell_back = u64::from(piece == PIECE);
        assert_eq!(s.uploads.stream_fallbacks(), fell_back, "piece {piece}");
        errors.push(err.to_string());
    }
    assert_eq!(errors[0], errors[1]);
}

/// An upload that goes away after pieces were written: its parse stops, and its
/// files and bytes go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_goes_away_mid_parse_leaves_nothing() {
    let _turn = TURN.lock().await;
    let s = setup(PIECE);
    let bytes = tricky_csv(40_000, false);
    let mut incoming = s
        .uploads
        .incoming(SessionKey::random(), "gone.csv")
        .expect("incoming");
    for part in bytes[..bytes.len() * 3 / 4].chunks(3_001) {
        incoming.write(part).expect("write");
    }
    assert_eq!(s.files(), 2, "the text and the Arrow file being written");
    drop(incoming);
    let deadline = Instant::now() + Duration::from_secs(20);
    while (s.files() > 0 || s.uploads.used_bytes() > 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.files(), 0, "its files went");
    assert_eq!(s.uploads.used_bytes(), 0, "its bytes came back");
    assert_eq!(s.uploads.streamed_uploads(), 0);
    // And the next upload streams again: the worker's place came back too.
    s.upload(SessionKey::random(), "again.csv", &bytes)
        .await
        .expect("again");
    assert_eq!(s.uploads.streamed_uploads(), 1);
}

/// More uploads than may stream at once: the others are read whole, and all give the
/// same frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_streams_allowed_at_once_are_read_whole() {
    let _turn = TURN.lock().await;
    let s = setup(PIECE);
    let bytes = tricky_csv(20_000, false);
    let session = SessionKey::random();
    let mut open = Vec::new();
    for i in 0..3 {
        let mut incoming = s
            .uploads
            .incoming(session, &format!("{i}.csv"))
            .expect("incoming");
        for part in bytes[..bytes.len() / 2].chunks(3_001) {
            incoming.write(part).expect("write");
        }
        open.push(incoming);
    }
    let mut streamed = Vec::new();
    let mut frames = Vec::new();
    for mut incoming in open {
        for part in bytes[bytes.len() / 2..].chunks(3_001) {
            incoming.write(part).expect("write");
        }
        let handle = s.uploads.ingest(&s.cache, session, incoming).await.expect("kept");
        streamed.push(s.uploads.streamed_uploads());
        frames.push(s.cache.get(session, &handle).await.expect("read"));
    }
    assert_eq!(streamed, [1, 2, 2], "two streamed, the third was read whole");
    assert!(frames[0].equals_missing(&frames[2]) && frames[1].equals_missing(&frames[2]));
}

/// Every line starts with a byte-order mark (a text column's): polars drops one at the
/// start of what it reads, so a piece that starts with one would lose it. The stream
/// turns off and the file is read whole: the marks stay in the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_that_would_start_with_a_byte_order_mark_is_read_whole() {
    let _turn = TURN.lock().await;
    let mut text = String::from("label,n\n");
    for i in 0..30_000 {
        text.push_str(&format!("\u{feff}row {i},{i}\n"));
    }
    let s = setup(PIECE);
    let session = SessionKey::random();
    let handle = s.upload(session, "bom.csv", text.as_bytes()).await.expect("kept");
    assert_eq!(s.uploads.streamed_uploads(), 0, "read whole");
    assert_eq!(
        s.uploads.stream_fallbacks(),
        1,
        "the parse ran and turned itself off"
    );
    let frame = s.cache.get(session, &handle).await.expect("read");
    let labels = frame.column("label").expect("label").str().expect("text").clone();
    assert_eq!(labels.get(0), Some("\u{feff}row 0"));
    assert_eq!(labels.get(29_999), Some("\u{feff}row 29999"));
    assert_eq!(s.files(), 1, "only the kept file");
    assert_eq!(
        s.uploads.used_bytes(),
        std::fs::metadata(s.kept_path(session, &handle))
            .expect("kept")
            .len()
    );
}
