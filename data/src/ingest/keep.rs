//! A complete upload kept ([`Uploads::keep`]): read whole into a frame and written as
//! its kept file, or, for a CSV parsed while it arrived, its kept file already written.

use std::fs;

use polars::prelude::PolarsError;

use super::check::CsvCheck;
use super::format::Format;
use super::incoming::{ms, Incoming};
use super::missing::Spellings;
use super::private_files::write_ipc;
use super::stream_parse::Streamed;
use super::{parse, IngestError, UploadSource, Uploads};

/// Bytes an Arrow IPC file takes beyond its frame's buffers (schema, footer, padding):
/// this much, and [`IPC_MARGIN_PER_COLUMN`] a column, reserved with them before a CSV is
/// converted.
const IPC_MARGIN: u64 = 64 << 10;
const IPC_MARGIN_PER_COLUMN: u64 = 512;

/// What an Arrow IPC file of `cols` columns takes beyond its frame's buffers.
pub(super) fn ipc_margin(cols: usize) -> u64 {
    IPC_MARGIN.saturating_add(cols as u64 * IPC_MARGIN_PER_COLUMN)
}

/// An upload kept: the file its frame is read from, and the frame's width.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) source: UploadSource,
    pub(crate) cols: u64,
}

impl Uploads {
    /// Converts a complete upload into its kept file (a CSV parsed while it arrived is
    /// already there), and says what its frame is.
    pub(crate) fn keep(&self, mut incoming: Incoming) -> Result<Kept, IngestError> {
        let format = incoming.finish()?;
        if let Some(streamed) = incoming.streamed.take() {
            return Ok(self.keep_streamed(incoming, format, streamed));
        }
        let part = incoming.path.clone();
        let parsing = std::time::Instant::now();
        let frame = match (format, &incoming.workbook) {
            (Format::Xlsx, Some(plan)) => super::xlsx::read(&part, plan)?,
            // Planned (sized) first, as `expected_frame_bytes` does.
            (Format::Xlsx, None) => {
                let plan = super::xlsx::plan(&part, incoming.sheet.as_deref(), incoming.bytes)?;
                super::xlsx::read(&part, &plan)?
            }
            _ => {
                let missing = incoming.check.as_ref().map_or(Spellings::ALL, CsvCheck::missing);
                parse::read(&part, format, missing)?
            }
        };
        incoming.stages.parse = parsing.elapsed();
        let writing = std::time::Instant::now();
        let (stored, ext) = match format {
            Format::Parquet => ("parquet", "parquet"),
            Format::Ipc | Format::Csv(_) | Format::Json | Format::NdJson | Format::Xlsx => ("ipc", "arrow"),
        };
        let kept = self.dir().join(format!("{}.{ext}", incoming.id));
        let kept_bytes = match format {
            // Kept as it came.
            Format::Parquet | Format::Ipc => {
                fs::rename(&part, &kept).map_err(IngestError::io)?;
                incoming.bytes
            }
            // Written once as Arrow IPC; the text (or workbook) goes.
            Format::Csv(_) | Format::Json | Format::NdJson | Format::Xlsx => {
                // Its bytes reserved before it is written (the frame's size in memory,
                // what Arrow IPC takes, and a margin for its metadata): a conversion
                // the budget cannot hold is refused, not written past the budget.
                let estimate = (frame.estimated_size() as u64).saturating_add(ipc_margin(frame.width()));
                self.reserve(estimate)?;
                let written = write_ipc(&kept, &frame, self.durable());
                let _ = fs::remove_file(&part);
                // The text is gone; the IPC file takes its place in the budget.
                self.unreserve(incoming.reserved);
                incoming.reserved = estimate;
                let bytes = written?;
                if let Err(err) = self.resize_reservation(estimate, bytes) {
                    let _ = fs::remove_file(&kept);
                    return Err(err);
                }
                incoming.reserved = bytes;
                bytes
            }
        };
        // The bytes now belong to the kept file.
        incoming.reserved = 0;
        incoming.file = None;
        self.record_kept(&incoming.id, incoming.session, kept_bytes, false);
        let stages = incoming.stages;
        tracing::info!(
            format = format.name(),
            bytes = incoming.bytes,
            rows = frame.height(),
            receive_ms = ms(stages.receive),
            check_ms = ms(stages.check),
            store_ms = ms(stages.store),
            size_ms = ms(stages.size),
            parse_ms = ms(stages.parse),
            write_ms = ms(writing.elapsed()),
            "upload kept"
        );
        let source = UploadSource {
            file: incoming.id.clone(),
            stored: stored.to_owned(),
            name: incoming.name.clone(),
            bytes: frame.estimated_size() as u64,
            rows: frame.height() as u64,
        };
        incoming.kept = true;
        Ok(Kept {
            source,
            cols: frame.width() as u64,
        })
    }

    /// Converts a complete upload into its kept file without holding its frame whole: for
    /// a frame larger than memory, placed on disk. A CSV parsed while it arrived is kept as
    /// it is; an Arrow or Parquet file is checked batch by batch (every batch decoded and
    /// counted by polars' streaming engine, nothing kept) and kept as it came. Other
    /// uploads are read whole ([`Incoming::keeps_on_disk`] says which).
    pub(crate) fn keep_on_disk(&self, mut incoming: Incoming) -> Result<Kept, IngestError> {
        let format = incoming.finish()?;
        if let Some(streamed) = incoming.streamed.take() {
            return Ok(self.keep_streamed(incoming, format, streamed));
        }
        let (stored, ext, name) = match format {
            Format::Ipc => ("ipc", "arrow", "Arrow IPC"),
            Format::Parquet => ("parquet", "parquet", "Parquet"),
            _ => return self.keep(incoming),
        };
        let checking = std::time::Instant::now();
        // polars may name the file it read: its path never reaches the browser.
        let path = incoming.path.display().to_string();
        let damaged = |err: PolarsError| IngestError::Damaged {
            format: name,
            reason: parse::first_line(&err.to_string().replace(&path, "the file")),
        };
        let scan = super::uploads::scan_file(incoming.path.clone(), stored).map_err(damaged)?;
        let counted = crate::streamed::count(scan).map_err(damaged)?;
        incoming.stages.parse = checking.elapsed();
        let kept = self.dir().join(format!("{}.{ext}", incoming.id));
        fs::rename(&incoming.path, &kept).map_err(IngestError::io)?;
        // The bytes now belong to the kept file.
        incoming.reserved = 0;
        incoming.file = None;
        self.record_kept(&incoming.id, incoming.session, incoming.bytes, false);
        tracing::info!(
            format = format.name(),
            bytes = incoming.bytes,
            rows = counted.rows,
            receive_ms = ms(incoming.stages.receive),
            size_ms = ms(incoming.stages.size),
            check_ms = ms(incoming.stages.parse),
            on_disk = true,
            "upload kept"
        );
        incoming.kept = true;
        Ok(Kept {
            source: UploadSource {
                file: incoming.id.clone(),
                stored: stored.to_owned(),
                name: incoming.name.clone(),
                // Batches the engine sliced from one record batch or row group each
                // count the text they share: what the file declares (checked against
                // it, never less than it holds) bounds that.
                bytes: match incoming.declared.bytes {
                    0 => counted.bytes,
                    declared => counted.bytes.min(declared),
                },
                rows: counted.rows,
            },
            cols: counted.cols,
        })
    }

    /// Keeps a CSV whose frame was written to its kept file while it arrived
    /// ([`super::stream_parse`]): the text goes, and the file's bytes (already reserved)
    /// are the kept file's.
    fn keep_streamed(&self, mut incoming: Incoming, format: Format, streamed: Streamed) -> Kept {
        let _ = fs::remove_file(&incoming.path);
        incoming.file = None;
        self.unreserve(incoming.reserved);
        incoming.reserved = 0;
        self.record_kept(&incoming.id, incoming.session, streamed.file_bytes, true);
        let stages = incoming.stages;
        tracing::info!(
            format = format.name(),
            bytes = incoming.bytes,
            rows = streamed.rows,
            receive_ms = ms(stages.receive),
            check_ms = ms(stages.check),
            store_ms = ms(stages.store),
            size_ms = ms(stages.size),
            parse_ms = ms(streamed.parse),
            write_ms = ms(streamed.write),
            tail_ms = ms(stages.tail),
            streamed = true,
            "upload kept"
        );
        incoming.kept = true;
        Kept {
            source: UploadSource {
                file: incoming.id.clone(),
                stored: "ipc".to_owned(),
                name: incoming.name.clone(),
                bytes: streamed.frame_bytes,
                rows: streamed.rows,
            },
            cols: streamed.cols,
        }
    }
}
