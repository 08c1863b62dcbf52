//! A large CSV parsed while it arrives: its checked text is cut at record ends into
//! pieces of [`PIECE`] bytes, each read back from the upload's file (still in the page
//! cache) and parsed by polars on a worker thread as the next arrives, and appended to
//! the kept Arrow IPC file as one more record batch. When the last byte is in, the
//! frame is already on disk: only the last piece and the file's end are left.
//!
//! It gives the frame that reading the whole file at once gives:
//! - the first piece holds the header and more than [`INFER_ROWS`] records, so the
//!   column types are inferred from the same rows; later pieces are read with them;
//! - each piece is read with the missing-value spellings the check had noted by then,
//!   which include every one in the piece (they only grow, and a spelling found later
//!   is in no earlier piece);
//! - pieces end where the check saw a line break outside quotes, so no record is cut.
//!
//! Anything it cannot do the same way (a piece polars refuses, a value that does not fit
//! the types of the first rows, a piece that starts with a byte-order mark, no free
//! worker) turns it off, and the upload is read whole as before: the error, if any, is
//! then the one the whole read gives, with its line. One known difference: polars takes
//! a date column's format from the first value of each chunk it parses, and the chunks
//! differ, so a column that mixes two date formats may be refused one way and read the
//! other (when both read it, the values are the same).
//!
//! Bounds: at most [`MAX_STREAMS`] run at once, server-wide; others are read whole once
//! complete. Gathering a piece holds nothing in memory (the text is on disk); a worker
//! holds one piece and its frame: about 2 × [`PIECE`] (the first piece, up to
//! [`FIRST_MOST`]). The parse runs on polars' threads while the body
//! arrives, before the upload is admitted as heavy work: its CPU is what the two
//! streams take, and the memory above is the stated overhead beside the budget.

use std::fs::{self, File};
use std::io::{BufWriter, Cursor, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use polars::prelude::*;

use super::check::CsvCheck;
use super::keep::ipc_margin;
use super::missing::Spellings;
use super::parse::{csv_options, first_line, INFER_ROWS};
use super::private_files::create_private;
use super::{IngestError, Uploads};

/// Bytes of text a piece gathers before it is parsed.
pub(super) const PIECE: usize = 16 << 20;

/// Most bytes the first piece may take to hold its [`INFER_ROWS`] records: past it
/// (records of over 6 KiB), the file is read whole instead.
const FIRST_MOST: u64 = 64 << 20;

/// Bytes of text under which a piece's chunks are joined before they are written.
const SMALL_CHUNK: usize = 256 << 10;

/// Most uploads parsed as they arrive at once, server-wide.
pub(super) const MAX_STREAMS: usize = 2;

static STREAMS: AtomicUsize = AtomicUsize::new(0);

/// A frame written while its upload arrived.
#[derive(Debug, Clone, Copy)]
pub(super) struct Streamed {
    pub(super) rows: u64,
    pub(super) cols: u64,
    /// What the frame takes in memory (its batches' estimated sizes).
    pub(super) frame_bytes: u64,
    /// The kept file's size, reserved in the uploads budget.
    pub(super) file_bytes: u64,
    /// The worker's time parsing pieces, and writing them (with the file's end).
    pub(super) parse: Duration,
    pub(super) write: Duration,
}

/// The parse of one upload as it arrives.
pub(super) struct StreamParse {
    sep: u8,
    /// Bytes of the file handed to the worker, and fed to [`StreamParse::push`].
    start: u64,
    fed: u64,
    phase: Phase,
    /// The kept file it writes, and the directory's budget.
    target: PathBuf,
    uploads: Uploads,
    /// Bytes of text a piece gathers ([`PIECE`] unless the directory says otherwise).
    piece: u64,
    /// Set when the upload goes away: the worker stops at its next piece.
    gone: Arc<AtomicBool>,
    /// A worker told to stop early, joined before the file is read whole (so that it has
    /// removed what it wrote).
    stopped: Option<JoinHandle<Option<Streamed>>>,
}

enum Phase {
    /// Gathering the first piece.
    Gathering,
    Running(Worker),
    Off,
}

struct Worker {
    pieces: SyncSender<Piece>,
    done: JoinHandle<Option<Streamed>>,
}

enum Piece {
    /// The text from `from` to `to` of the upload's file, and the missing-value
    /// spellings noted by then.
    Range {
        from: u64,
        to: u64,
        missing: Spellings,
    },
    End,
}

impl StreamParse {
    pub(super) fn new(sep: u8, target: PathBuf, uploads: Uploads) -> Self {
        Self {
            piece: uploads.parse_piece() as u64,
            sep,
            start: 0,
            fed: 0,
            phase: if uploads.parse_piece() == 0 {
                Phase::Off
            } else {
                Phase::Gathering
            },
            target,
            uploads,
            gone: Arc::new(AtomicBool::new(false)),
            stopped: None,
        }
    }

    /// `len` more bytes of the file were written to `file` and fed to `check`; hands the
    /// worker a piece when one is whole (flushing `file` first). Blocks while the worker
    /// is a piece behind.
    pub(super) fn push(&mut self, len: usize, check: &CsvCheck, file: &mut BufWriter<File>) {
        self.fed += len as u64;
        if matches!(self.phase, Phase::Off) {
            return;
        }
        let whole = check.boundary();
        if whole.saturating_sub(self.start) < self.piece {
            return;
        }
        if matches!(self.phase, Phase::Gathering) {
            if check.rows() <= INFER_ROWS as u64 {
                if whole > FIRST_MOST {
                    self.phase = Phase::Off;
                }
                return;
            }
            match self.start_worker(file) {
                Some(worker) => self.phase = Phase::Running(worker),
                None => {
                    self.phase = Phase::Off;
                    return;
                }
            }
        }
        if file.flush().is_err() {
            // The write fails again for the upload itself, and says so.
            self.stop();
            return;
        }
        self.hand_over(whole, check.missing());
    }

    /// Whether the next [`StreamParse::push`] of `more` bytes may wait for the worker.
    pub(super) fn may_wait(&self, more: usize) -> bool {
        matches!(self.phase, Phase::Running(_)) && self.fed + more as u64 - self.start >= self.piece
    }

    /// The file is complete (`len` bytes, flushed) and `check` has passed it: the rest
    /// goes to the worker, and its frame comes back (blocking until it is written).
    /// `None` when it never ran or was turned off: the file is then read whole.
    pub(super) fn finish(&mut self, len: u64, check: &CsvCheck) -> Option<Streamed> {
        if len > self.start {
            self.hand_over(len, check.missing());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.join();
            return None;
        }
        match std::mem::replace(&mut self.phase, Phase::Off) {
            Phase::Running(worker) => {
                // A worker that has stopped has its outcome waiting.
                let _ = worker.pieces.send(Piece::End);
                drop(worker.pieces);
                worker.done.join().ok().flatten()
            }
            _ => None,
        }
    }

    /// Hands the worker the text from where the last piece ended to `to`.
    fn hand_over(&mut self, to: u64, missing: Spellings) {
        let Phase::Running(worker) = &self.phase else {
            return;
        };
        let piece = Piece::Range {
            from: self.start,
            to,
            missing,
        };
        self.start = to;
        if worker.pieces.send(piece).is_err() {
            // The worker stopped (a piece it could not read): the file is read whole.
            self.stop();
        }
    }

    /// Turns the parse off; a running worker is told to stop, and joined by
    /// [`StreamParse::finish`].
    fn stop(&mut self) {
        self.gone.store(true, Ordering::Release);
        if let Phase::Running(worker) = std::mem::replace(&mut self.phase, Phase::Off) {
            drop(worker.pieces);
            self.stopped = Some(worker.done);
        }
    }

    fn start_worker(&self, file: &BufWriter<File>) -> Option<Worker> {
        let slot = Slot::take()?;
        let text = file.get_ref().try_clone().ok()?;
        let (pieces, inbox) = sync_channel(2);
        let job = Job {
            sep: self.sep,
            text,
            target: self.target.clone(),
            uploads: self.uploads.clone(),
            gone: Arc::clone(&self.gone),
            reserved: 0,
            kept: false,
        };
        let done = std::thread::Builder::new()
            .name("stayput-csv-stream".into())
            .spawn(move || {
                let _slot = slot;
                job.run(&inbox)
            })
            .ok()?;
        Some(Worker { pieces, done })
    }
}

impl Drop for StreamParse {
    fn drop(&mut self) {
        // The upload went away (or was read): a worker still running stops at its next
        // piece, removes what it wrote and gives its bytes back (not waited for here).
        self.gone.store(true, Ordering::Release);
    }
}

/// A place among the [`MAX_STREAMS`], given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Self> {
        STREAMS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_STREAMS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        STREAMS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a parse as it arrived stopped (the upload is then read whole).
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("the upload went away")]
    Gone,
    #[error("a piece starts with a byte-order mark, which polars would drop")]
    ByteOrderMark,
    #[error("no piece arrived")]
    NoPiece,
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Ingest(#[from] IngestError),
}

/// The worker's side: parses pieces and appends them to the kept file. Dropped before
/// it is kept (an error, the upload gone, a panic), it removes the file and gives its
/// bytes back.
struct Job {
    sep: u8,
    /// The upload's file, read by offset.
    text: File,
    target: PathBuf,
    uploads: Uploads,
    gone: Arc<AtomicBool>,
    /// Bytes reserved in the uploads budget for the kept file.
    reserved: u64,
    kept: bool,
}

impl Drop for Job {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.target);
            self.uploads.unreserve(self.reserved);
        }
    }
}

impl Job {
    fn run(mut self, inbox: &Receiver<Piece>) -> Option<Streamed> {
        match self.write_all(inbox) {
            Ok(streamed) => {
                self.kept = true;
                Some(streamed)
            }
            Err(Fault::Gone) => None,
            Err(fault) => {
                // Its first line, cut short: polars quotes the value it met, which may be
                // a record of megabytes.
                let fault = first_line(&fault.to_string());
                tracing::info!(%fault, "an upload parsed as it arrived is read whole instead");
                self.uploads.stream_fell_back();
                None
            }
        }
    }

    fn write_all(&mut self, inbox: &Receiver<Piece>) -> Result<Streamed, Fault> {
        let file = create_private(&self.target)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut schema: Option<SchemaRef> = None;
        let mut writer = None;
        let mut text = Vec::new();
        let (mut rows, mut frame_bytes) = (0u64, 0u64);
        let (mut parse, mut write) = (Duration::ZERO, Duration::ZERO);
        loop {
            let (from, to, missing) = match inbox.recv() {
                Ok(Piece::Range { from, to, missing }) => (from, to, missing),
                Ok(Piece::End) => break,
                Err(_) => return Err(Fault::Gone),
            };
            if self.gone.load(Ordering::Acquire) {
                return Err(Fault::Gone);
            }
            let parsing = Instant::now();
            let len = usize::try_from(to - from).map_err(|_| Fault::NoPiece)?;
            text.resize(len, 0);
            self.text.read_exact_at(&mut text, from)?;
            if from > 0 && text.starts_with(b"\xef\xbb\xbf") {
                return Err(Fault::ByteOrderMark);
            }
            let mut frame = parse_piece(&text, self.sep, missing, schema.clone())?;
            // Written chunk by chunk as the reader left them (16 a thread), not joined
            // first: a joined copy of every piece took fresh memory, and touching it
            // first cost this 2-core VM 2.6 s of the 6.4 s a 1 GB file took. Joined
            // when its chunks are small (many threads, small pieces), so that the kept
            // file has at most a batch every [`SMALL_CHUNK`] bytes of text.
            if frame.first_col_n_chunks() > 1 && len / frame.first_col_n_chunks() < SMALL_CHUNK {
                frame.rechunk_mut_par();
            } else {
                frame.align_chunks_par();
            }
            parse += parsing.elapsed();
            let writing = Instant::now();
            let bytes = frame.estimated_size() as u64;
            let first = writer.is_none();
            // The file's own metadata reserved once, with the first batch.
            let margin = if first { ipc_margin(frame.width()) } else { 0 };
            self.uploads.reserve(bytes + margin)?;
            self.reserved += bytes + margin;
            if first {
                let fields = frame.schema().clone();
                let arrow = fields.to_arrow(CompatLevel::newest());
                let ipc_fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
                writer = Some(IpcWriter::new(&mut out).batched(&fields, ipc_fields)?);
                schema = Some(fields);
            }
            if let Some(writer) = writer.as_mut() {
                writer.write_batch(&frame)?;
            }
            rows += frame.height() as u64;
            frame_bytes += bytes;
            write += writing.elapsed();
        }
        let writing = Instant::now();
        let Some(mut writer) = writer else {
            return Err(Fault::NoPiece);
        };
        writer.finish()?;
        drop(writer);
        out.flush()?;
        let file = out.into_inner().map_err(|err| err.into_error())?;
        if self.uploads.durable() {
            file.sync_data()?;
        }
        let file_bytes = file.metadata()?.len();
        // The reservation made to measure: what the file takes.
        self.uploads.resize_reservation(self.reserved, file_bytes)?;
        self.reserved = file_bytes;
        Ok(Streamed {
            rows,
            cols: schema.map_or(0, |s| s.len() as u64),
            frame_bytes,
            file_bytes,
            parse,
            write: write + writing.elapsed(),
        })
    }
}

/// One piece of the file as a frame: the first with its header, the column types
/// inferred; the others with `schema`, the first's.
fn parse_piece(
    text: &[u8],
    sep: u8,
    missing: Spellings,
    schema: Option<SchemaRef>,
) -> PolarsResult<DataFrame> {
    let options = csv_options(sep, missing);
    let options = match schema {
        None => options,
        Some(schema) => options.with_has_header(false).with_schema(Some(schema)),
    };
    options.into_reader_with_file_handle(Cursor::new(text)).finish()
}
