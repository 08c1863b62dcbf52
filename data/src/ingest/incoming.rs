//! An upload arriving ([`Incoming`]): its bytes streamed to a private temporary file in
//! the uploads directory (a gzip'd one unpacked on the way, [`super::gunzip`]), counted
//! against the limits as they come, a CSV checked on the way. [`super::uploads`] keeps it
//! once it is complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::check::CsvCheck;
use super::format::{detect, outer, Format};
use super::gunzip::Gunzip;
use super::json_check::{JsonCheck, JsonLayout};
use super::stream_parse::{StreamParse, Streamed};
use super::{parse, IngestError, UploadLimit, Uploads};
use stayput_cache::SessionKey;

/// Bytes looked at to tell a file's format.
const HEAD: usize = 4096;

/// An upload arriving: its bytes go to a private temporary file, counted against the
/// limits as they come; a CSV is checked on the way. Dropped before it is ingested, it
/// removes its file and gives its bytes back.
pub struct Incoming {
    pub(super) uploads: Uploads,
    pub(super) session: SessionKey,
    pub(super) name: String,
    pub(super) id: String,
    pub(super) path: PathBuf,
    pub(super) file: Option<BufWriter<File>>,
    /// The first bytes as they arrived, until it is known whether they are gzip'd.
    pub(super) first: Vec<u8>,
    /// Unpacks a gzip'd upload; `None` for one sent as it is.
    pub(super) gzip: Option<Box<Gunzip>>,
    /// The name the content is checked against (a gzip'd file's without `.gz`).
    pub(super) inner_name: Option<String>,
    /// Bytes that arrived (compressed ones, for a gzip'd upload).
    pub(super) received: u64,
    /// The first bytes of the content, until the format is known.
    pub(super) head: Vec<u8>,
    pub(super) format: Option<Format>,
    pub(super) check: Option<CsvCheck>,
    /// A JSON file's running check.
    pub(super) json: Option<JsonCheck>,
    /// Bytes of the content written to the file (unpacked ones, for a gzip'd upload).
    pub(super) bytes: u64,
    /// Bytes reserved in the uploads budget.
    pub(super) reserved: u64,
    pub(super) kept: bool,
    /// The format, once the upload is complete ([`Incoming::finish`]).
    pub(super) finished: Option<Format>,
    /// The sheet asked for, when it is a workbook (else its first).
    pub(super) sheet: Option<String>,
    /// A workbook's checked plan, once it is sized ([`Incoming::expected_frame_bytes`]).
    pub(super) workbook: Option<super::xlsx::Plan>,
    /// What an Arrow or a Parquet file declares, once it is sized: its frame's bytes
    /// and its largest record batch's or row group's (what a read of it a batch at a
    /// time holds at once).
    pub(super) declared: super::Declared,
    /// How long each stage took, logged when the upload is kept.
    pub(super) stages: Stages,
    /// A large CSV's parse while it arrives ([`super::stream_parse`]), and once complete,
    /// the frame it wrote to the kept file (`None`: read whole).
    pub(super) stream: Option<StreamParse>,
    pub(super) streamed: Option<Streamed>,
}

/// How long each stage of an upload took: logged (`upload kept`, at info) when it is
/// kept, so the stages are timed apart (`scripts/bench-upload` reads the line).
#[derive(Debug, Clone, Copy)]
pub(super) struct Stages {
    /// When the first byte arrived (the `Incoming` was made).
    pub(super) started: Instant,
    /// From the first byte to the last: the body arriving, written and checked.
    pub(super) receive: Duration,
    /// Of `receive`, the running check (CSV, JSON) and the disk writes.
    pub(super) check: Duration,
    pub(super) store: Duration,
    /// Sizing the frame before it is read (a footer, a workbook's walk).
    pub(super) size: Duration,
    /// The reader (polars, calamine) making the frame.
    pub(super) parse: Duration,
    /// A CSV parsed while it arrived: from its last byte to its kept file complete.
    pub(super) tail: Duration,
}

impl Stages {
    pub(super) fn new() -> Self {
        Self {
            started: Instant::now(),
            receive: Duration::ZERO,
            check: Duration::ZERO,
            store: Duration::ZERO,
            size: Duration::ZERO,
            parse: Duration::ZERO,
            tail: Duration::ZERO,
        }
    }
}

/// Milliseconds of `d`, for the log.
pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

impl Incoming {
    /// Appends `chunk`: refused once the upload passes its limit or the budget, when a
    /// gzip'd one unpacks past its ratio, or when a CSV shows a problem (its line named).
    /// Blocking file IO of one chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), IngestError> {
        self.received = self.received.saturating_add(chunk.len() as u64);
        if self.received > self.uploads.limit() {
            return Err(self.too_large());
        }
        if self.inner_name.is_none() {
            // Two bytes tell gzip; until they are here, nothing is written.
            self.first.extend_from_slice(chunk);
            if self.first.len() < 2 {
                return Ok(());
            }
            let first = std::mem::take(&mut self.first);
            self.sniff(&first)?;
            return self.pass(&first);
        }
        self.pass(chunk)
    }

    /// Whether writing the next chunk, of `len` bytes, may take long: it may unpack to
    /// many times its size (the upload is gzip'd, or its first bytes have not told yet),
    /// or wait for the parse of the text before it. A caller on an async runtime runs
    /// such a chunk off its workers; any other chunk is a check and a buffered write,
    /// done in place.
    pub fn may_block(&self, len: usize) -> bool {
        self.inner_name.is_none()
            || self.gzip.is_some()
            || self.stream.as_ref().is_some_and(|s| s.may_wait(len))
    }

    /// Whether the upload is gzip'd, told by its first bytes and checked against its name.
    fn sniff(&mut self, first: &[u8]) -> Result<(), IngestError> {
        let (gzip, inner) = outer(&self.name, first)?;
        self.gzip = gzip.then(|| Box::new(Gunzip::new()));
        self.inner_name = Some(inner);
        Ok(())
    }

    /// `raw` as it arrived: unpacked first when gzip'd.
    fn pass(&mut self, raw: &[u8]) -> Result<(), IngestError> {
        match self.gzip.take() {
            None => self.store(raw),
            Some(mut gzip) => {
                let unpacked = gzip.unpack(raw, &mut |bytes| self.store(bytes));
                self.gzip = Some(gzip);
                unpacked
            }
        }
    }

    fn too_large(&self) -> IngestError {
        IngestError::TooLarge {
            limit: UploadLimit::UploadMax,
            max_bytes: self.uploads.limit(),
        }
    }

    /// Writes content bytes: counted against the limit and the budget, the format told
    /// from the first [`HEAD`] of them, a CSV checked.
    fn store(&mut self, chunk: &[u8]) -> Result<(), IngestError> {
        let total = self.bytes.saturating_add(chunk.len() as u64);
        if total > self.uploads.limit() {
            return Err(self.too_large());
        }
        self.uploads.reserve(chunk.len() as u64)?;
        self.reserved += chunk.len() as u64;
        self.bytes = total;
        let writing = Instant::now();
        let file = self.file.as_mut().ok_or(IngestError::Storage)?;
        file.write_all(chunk).map_err(IngestError::io)?;
        self.stages.store += writing.elapsed();
        if self.format.is_none() {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() < HEAD {
                return Ok(());
            }
            self.decide()?;
            let head = std::mem::take(&mut self.head);
            self.feed_checks(&head)?;
            return self.feed_checks(&chunk[take..]);
        }
        self.feed_checks(chunk)
    }

    /// The running check of a CSV or JSON file, fed `bytes`, and a CSV's parse as it
    /// arrives given them once checked.
    fn feed_checks(&mut self, bytes: &[u8]) -> Result<(), IngestError> {
        self.run_checks(bytes)?;
        if let (Some(stream), Some(check), Some(file)) =
            (self.stream.as_mut(), self.check.as_ref(), self.file.as_mut())
        {
            stream.push(bytes.len(), check, file);
        }
        Ok(())
    }

    /// The running check of a CSV or JSON file, fed `bytes`.
    fn run_checks(&mut self, bytes: &[u8]) -> Result<(), IngestError> {
        let checking = Instant::now();
        if let Some(check) = self.check.as_mut() {
            check.feed(bytes)?;
        }
        if let Some(json) = self.json.as_mut() {
            json.feed(bytes)?;
        }
        self.stages.check += checking.elapsed();
        Ok(())
    }

    fn decide(&mut self) -> Result<(), IngestError> {
        let name = self.inner_name.as_deref().unwrap_or(&self.name);
        let format = detect(name, &self.head)?;
        if format == Format::Xlsx && name != self.name {
            // A workbook is already a zip: gzip'd, its ratio cap would multiply the zip's.
            return Err(IngestError::Compressed("an Excel workbook inside gzip".into()));
        }
        match format {
            Format::Csv(sep) => {
                self.check = Some(CsvCheck::new(sep));
                self.stream = Some(StreamParse::new(sep, self.streamed_path(), self.uploads.clone()));
            }
            Format::Json => self.json = Some(JsonCheck::new(JsonLayout::Array)),
            Format::NdJson => self.json = Some(JsonCheck::new(JsonLayout::Lines)),
            Format::Parquet | Format::Ipc | Format::Xlsx => {}
        }
        self.format = Some(format);
        Ok(())
    }

    /// Where a CSV parsed as it arrives is written: the file it is kept as.
    pub(super) fn streamed_path(&self) -> PathBuf {
        self.uploads.dir().join(format!("{}.arrow", self.id))
    }

    /// Bytes of content so far (unpacked ones, for a gzip'd upload).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records of a CSV or JSON file counted so far (0 for other formats).
    pub fn rows_so_far(&self) -> u64 {
        self.check.as_ref().map_or(0, CsvCheck::rows) + self.json.as_ref().map_or(0, JsonCheck::rows)
    }

    /// Reads the sheet named `sheet` when the upload is an Excel workbook (its first
    /// sheet when `None`); other formats have no sheets and ignore it.
    pub fn choose_sheet(&mut self, sheet: Option<String>) {
        self.sheet = sheet.map(|s| s.chars().take(200).collect());
    }

    /// The name it was uploaded under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Completes the upload: its last bytes unpacked and checked, and a CSV parsed while
    /// it arrived written to its kept file (blocking). Call it as soon as the body is in,
    /// before waiting for anything: the parse's place is held until it ends.
    pub fn complete(&mut self) -> Result<(), IngestError> {
        self.finish().map(|_| ())
    }

    /// The upload is complete: flushed, its format known, a CSV's last record checked.
    pub(super) fn finish(&mut self) -> Result<Format, IngestError> {
        if let Some(format) = self.finished {
            return Ok(format);
        }
        if self.inner_name.is_none() {
            // Fewer than two bytes: not gzip.
            let first = std::mem::take(&mut self.first);
            self.sniff(&first)?;
            self.pass(&first)?;
        }
        if let Some(mut gzip) = self.gzip.take() {
            if let Err(err) = gzip.finish(&mut |bytes| self.store(bytes)) {
                // Nothing more is read from it: a second call fails too.
                self.file = None;
                return Err(err);
            }
        }
        let file = self.file.take().ok_or(IngestError::Storage)?;
        let file = file
            .into_inner()
            .map_err(|err| IngestError::io(err.into_error()))?;
        drop(file);
        if self.format.is_none() {
            self.decide()?;
            let head = std::mem::take(&mut self.head);
            self.feed_checks(&head)?;
        }
        if let Some(check) = self.check.as_mut() {
            if let Err(err) = check.finish() {
                self.stream = None;
                return Err(err);
            }
        }
        if let Some(json) = self.json.as_mut() {
            json.finish()?;
        }
        self.stages.receive = self.stages.started.elapsed();
        if let (Some(mut stream), Some(check)) = (self.stream.take(), self.check.as_ref()) {
            let tail = Instant::now();
            self.streamed = stream.finish(self.bytes, check);
            self.stages.tail = tail.elapsed();
        }
        let format = self.format.ok_or(IngestError::Empty)?;
        self.finished = Some(format);
        Ok(format)
    }

    /// Completes the upload and says how many bytes its frame will take, before it is
    /// decoded (blocking: a Parquet footer is read).
    /// Whether the complete upload can be kept without its frame held whole
    /// ([`Uploads::keep_on_disk`]): a CSV parsed while it arrived, an Arrow or a Parquet
    /// file. Known once it is finished ([`Incoming::expected_frame_bytes`]).
    pub(crate) fn keeps_on_disk(&self) -> bool {
        self.streamed.is_some() || matches!(self.finished, Some(Format::Ipc | Format::Parquet))
    }

    pub(crate) fn expected_frame_bytes(&mut self) -> Result<u64, IngestError> {
        let format = self.finish()?;
        let sizing = Instant::now();
        let expected = self.sized(format);
        self.stages.size = sizing.elapsed();
        expected
    }

    fn sized(&mut self, format: Format) -> Result<u64, IngestError> {
        if format == Format::Xlsx {
            // Unpacked and walked once, keeping only counts: sized before it is read.
            let plan = super::xlsx::plan(&self.path, self.sheet.as_deref(), self.bytes)?;
            let bytes = plan.bytes;
            self.workbook = Some(plan);
            return Ok(parse::expected_bytes(&self.path, format, self.bytes, bytes)?.bytes);
        }
        // What a text file's own check says its frame takes.
        let counted = match (&self.check, &self.json) {
            (Some(c), _) => c
                .columns()
                .map_or(0, |cols| c.rows().saturating_mul(cols).saturating_mul(8)),
            (_, Some(json)) => json.frame_bytes(self.bytes),
            _ => 0,
        };
        let declared = parse::expected_bytes(&self.path, format, self.bytes, counted)?;
        self.declared = declared;
        Ok(declared.bytes)
    }

    /// [`IngestError::UnitTooLarge`] when the complete upload, kept on disk and read a
    /// batch at a time, would hold more than `max` bytes at once: a record batch or a row
    /// group larger than that (known once it is sized).
    pub(crate) fn check_units(&self, max: u64) -> Result<(), IngestError> {
        let (format, unit, units) = match self.finished {
            Some(Format::Ipc) => ("Arrow IPC", "record batch", "record batches"),
            Some(Format::Parquet) => ("Parquet", "row group", "row groups"),
            _ => return Ok(()),
        };
        if self.streamed.is_none() && self.declared.largest > max {
            return Err(IngestError::UnitTooLarge {
                format,
                unit,
                units,
                bytes: self.declared.largest,
                max,
            });
        }
        Ok(())
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.kept {
            drop(self.file.take());
            let _ = fs::remove_file(&self.path);
            if let Some(streamed) = self.streamed.take() {
                // Written while it arrived, never kept: its file and bytes go too.
                let _ = fs::remove_file(self.streamed_path());
                self.uploads.unreserve(streamed.file_bytes);
            }
        }
        self.uploads.unreserve(self.reserved);
    }
}
