//! A large CSV parsed while it arrives: its checked text is cut at record ends into
//! pieces of [`PIECE`] bytes, each parsed by polars on a worker thread as the next
//! arrives, and written to the kept Arrow IPC file as one more record batch. When the
//! last byte is in, the frame is already on disk: nothing is read twice, and no more
//! than a few pieces are ever in memory.
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
//! the types of the first rows, no free worker) turns it off, and the upload is read
//! whole as before: the error, if any, is then the one the whole read gives, with its
//! line. At most [`MAX_STREAMS`] run at once, server-wide, so their memory is bounded:
//! each holds a piece gathering, one queued, one parsing and its frame (about 4 ×
//! [`PIECE`]).

use std::fs;
use std::io::{BufWriter, Cursor, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use polars::prelude::*;

use super::check::CsvCheck;
use super::missing::Spellings;
use super::parse::{csv_options, INFER_ROWS};
use super::private_files::create_private;
use super::Uploads;

/// Bytes of text a piece gathers before it is parsed.
pub(super) const PIECE: usize = 16 << 20;

/// Most bytes the first piece may gather while waiting for its [`INFER_ROWS`] records:
/// past it (records of over 12 KiB), the file is read whole instead.
const FIRST_MOST: usize = 128 << 20;

/// Most uploads parsed as they arrive at once, server-wide; others are read whole once
/// complete, as before.
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
}

/// The parse of one upload as it arrives.
pub(super) struct StreamParse {
    sep: u8,
    /// Text not yet handed to the worker; `start` is its offset in the file.
    pending: Vec<u8>,
    start: u64,
    phase: Phase,
    /// The kept file it writes, and the directory's budget.
    target: PathBuf,
    uploads: Uploads,
    durable: bool,
    /// Bytes of text a piece gathers ([`PIECE`] unless the directory says otherwise).
    piece: usize,
}

enum Phase {
    /// Gathering the first piece.
    Gathering,
    Running(Worker),
    Off,
}

struct Worker {
    pieces: SyncSender<Piece>,
    /// Buffers the worker is done with, to be filled again.
    spent: Receiver<Vec<u8>>,
    done: JoinHandle<Option<Streamed>>,
}

enum Piece {
    Text(Vec<u8>, Spellings),
    End,
}

impl StreamParse {
    pub(super) fn new(sep: u8, target: PathBuf, uploads: Uploads) -> Self {
        Self {
            durable: uploads.durable(),
            piece: uploads.parse_piece(),
            sep,
            pending: Vec::new(),
            start: 0,
            phase: Phase::Gathering,
            target,
            uploads,
        }
    }

    /// Takes `bytes`, the next of the file, which `check` has just been fed; hands a
    /// piece to the worker when one is whole. Blocks while the worker is a piece behind.
    pub(super) fn push(&mut self, bytes: &[u8], check: &CsvCheck) {
        if matches!(self.phase, Phase::Off) {
            return;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() < self.piece {
            return;
        }
        let cut = usize::try_from(check.boundary().saturating_sub(self.start)).unwrap_or(0);
        if matches!(self.phase, Phase::Gathering) {
            if check.rows() <= INFER_ROWS as u64 {
                if self.pending.len() > FIRST_MOST {
                    self.off();
                }
                return;
            }
            match self.start_worker() {
                Some(worker) => self.phase = Phase::Running(worker),
                None => return self.off(),
            }
        }
        if cut > 0 {
            self.hand_over(cut, check.missing());
        }
    }

    /// Whether the next [`StreamParse::push`] of `more` bytes may wait for the worker.
    pub(super) fn may_wait(&self, more: usize) -> bool {
        matches!(self.phase, Phase::Running(_)) && self.pending.len() + more >= self.piece
    }

    /// The file is complete and `check` has passed it: the rest goes to the worker, and
    /// its frame comes back (blocking until it is written). `None` when it never ran or
    /// was turned off: the file is then read whole.
    pub(super) fn finish(&mut self, check: &CsvCheck) -> Option<Streamed> {
        if !matches!(self.phase, Phase::Running(_)) {
            self.off();
            return None;
        }
        let rest = self.pending.len();
        if rest > 0 {
            self.hand_over(rest, check.missing());
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

    fn off(&mut self) {
        self.phase = Phase::Off;
        self.pending = Vec::new();
    }

    /// Sends the first `cut` bytes of the pending text to the worker.
    fn hand_over(&mut self, cut: usize, missing: Spellings) {
        let Phase::Running(worker) = &self.phase else {
            return;
        };
        let mut next = worker
            .spent
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.piece + (1 << 20)));
        next.clear();
        next.extend_from_slice(&self.pending[cut..]);
        self.pending.truncate(cut);
        let piece = std::mem::replace(&mut self.pending, next);
        self.start += cut as u64;
        if worker.pieces.send(Piece::Text(piece, missing)).is_err() {
            // The worker stopped (a piece it could not read): the file is read whole.
            self.off();
        }
    }

    fn start_worker(&self) -> Option<Worker> {
        let slot = Slot::take()?;
        let (pieces, inbox) = sync_channel(1);
        let (give_back, spent) = sync_channel(2);
        let job = Job {
            sep: self.sep,
            target: self.target.clone(),
            uploads: self.uploads.clone(),
            durable: self.durable,
            reserved: 0,
        };
        let done = std::thread::Builder::new()
            .name("stayput-csv-stream".into())
            .spawn(move || {
                let _slot = slot;
                job.run(&inbox, &give_back)
            })
            .ok()?;
        Some(Worker { pieces, spent, done })
    }
}

impl Drop for StreamParse {
    fn drop(&mut self) {
        // The upload went away: the worker sees its pieces end without `End`, removes
        // what it wrote and gives its bytes back (not waited for here).
        self.phase = Phase::Off;
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

/// The worker's side: parses pieces and appends them to the kept file.
struct Job {
    sep: u8,
    target: PathBuf,
    uploads: Uploads,
    durable: bool,
    /// Bytes reserved in the uploads budget for the file.
    reserved: u64,
}

impl Job {
    fn run(mut self, inbox: &Receiver<Piece>, give_back: &SyncSender<Vec<u8>>) -> Option<Streamed> {
        match self.write_all(inbox, give_back) {
            Ok(streamed) => Some(streamed),
            Err(reason) => {
                tracing::info!(%reason, "an upload parsed as it arrived is read whole instead");
                let _ = fs::remove_file(&self.target);
                self.uploads.unreserve(self.reserved);
                None
            }
        }
    }

    fn write_all(
        &mut self,
        inbox: &Receiver<Piece>,
        give_back: &SyncSender<Vec<u8>>,
    ) -> Result<Streamed, String> {
        let file = create_private(&self.target).map_err(|e| e.to_string())?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut schema: Option<SchemaRef> = None;
        let mut writer = None;
        let (mut rows, mut cols, mut frame_bytes) = (0u64, 0u64, 0u64);
        loop {
            let (text, missing) = match inbox.recv() {
                Ok(Piece::Text(text, missing)) => (text, missing),
                Ok(Piece::End) => break,
                Err(_) => return Err("the upload went away".into()),
            };
            let mut frame = parse_piece(&text, self.sep, missing, schema.clone())?;
            // Given back to be filled again (dropped when two are already waiting).
            let _ = give_back.try_send(text);
            // One record batch a piece: the frame read back has as many chunks as pieces.
            frame.rechunk_mut_par();
            let bytes = frame.estimated_size() as u64;
            let margin = if writer.is_none() {
                64 * 1024 + 512 * frame.width() as u64
            } else {
                0
            };
            self.uploads.reserve(bytes + margin).map_err(|e| e.to_string())?;
            self.reserved += bytes + margin;
            if writer.is_none() {
                let fields = frame.schema().clone();
                let arrow = fields.to_arrow(CompatLevel::newest());
                let ipc_fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
                writer = Some(
                    IpcWriter::new(&mut out)
                        .batched(&fields, ipc_fields)
                        .map_err(|e| e.to_string())?,
                );
                cols = frame.width() as u64;
                schema = Some(fields);
            }
            if let Some(writer) = writer.as_mut() {
                writer.write_batch(&frame).map_err(|e| e.to_string())?;
            }
            rows += frame.height() as u64;
            frame_bytes += bytes;
        }
        let Some(mut writer) = writer else {
            return Err("no piece arrived".into());
        };
        writer.finish().map_err(|e| e.to_string())?;
        drop(writer);
        out.flush().map_err(|e| e.to_string())?;
        let file = out.into_inner().map_err(|e| e.to_string())?;
        if self.durable {
            file.sync_data().map_err(|e| e.to_string())?;
        }
        let file_bytes = file.metadata().map_err(|e| e.to_string())?.len();
        // The reservation made to measure: what the file takes.
        if file_bytes > self.reserved {
            self.uploads
                .reserve(file_bytes - self.reserved)
                .map_err(|e| e.to_string())?;
        } else {
            self.uploads.unreserve(self.reserved - file_bytes);
        }
        self.reserved = file_bytes;
        Ok(Streamed {
            rows,
            cols,
            frame_bytes,
            file_bytes,
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
) -> Result<DataFrame, String> {
    let options = csv_options(sep, missing);
    let options = match schema {
        None => options,
        Some(schema) => options.with_has_header(false).with_schema(Some(schema)),
    };
    options
        .into_reader_with_file_handle(Cursor::new(text))
        .finish()
        .map_err(|err| err.to_string())
}
