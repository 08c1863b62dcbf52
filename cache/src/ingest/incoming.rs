//! An upload arriving ([`Incoming`]): its bytes streamed to a private temporary file in
//! the uploads directory, counted against the limits as they come, a CSV checked on the
//! way. [`super::files`] keeps it once it is complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::check::CsvCheck;
use super::format::{detect, Format};
use super::{parse, IngestError, Uploads};
use crate::SessionKey;

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
    /// The first bytes, until the format is known.
    pub(super) head: Vec<u8>,
    pub(super) format: Option<Format>,
    pub(super) check: Option<CsvCheck>,
    pub(super) bytes: u64,
    /// Bytes reserved in the uploads budget.
    pub(super) reserved: u64,
    pub(super) kept: bool,
    /// The format, once the upload is complete ([`Incoming::finish`]).
    pub(super) finished: Option<Format>,
}

impl Incoming {
    /// Appends `chunk`: refused once the upload passes its limit or the budget, or when a
    /// CSV shows a problem (its line named). Blocking file IO of one chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), IngestError> {
        let total = self.bytes.saturating_add(chunk.len() as u64);
        if total > self.uploads.limit() {
            return Err(IngestError::TooLarge {
                limit: crate::Limit::UploadMax,
                max_bytes: self.uploads.limit(),
            });
        }
        self.uploads.reserve(chunk.len() as u64)?;
        self.reserved += chunk.len() as u64;
        self.bytes = total;
        let file = self.file.as_mut().ok_or(IngestError::Storage)?;
        file.write_all(chunk).map_err(IngestError::io)?;
        if self.format.is_none() {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() < HEAD {
                return Ok(());
            }
            self.decide()?;
            let head = std::mem::take(&mut self.head);
            if let Some(check) = self.check.as_mut() {
                check.feed(&head)?;
                check.feed(&chunk[take..])?;
            }
            return Ok(());
        }
        if let Some(check) = self.check.as_mut() {
            check.feed(chunk)?;
        }
        Ok(())
    }

    fn decide(&mut self) -> Result<(), IngestError> {
        let format = detect(&self.name, &self.head)?;
        if let Format::Csv(sep) = format {
            self.check = Some(CsvCheck::new(sep));
        }
        self.format = Some(format);
        Ok(())
    }

    /// Bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records of a CSV counted so far (0 for other formats).
    pub fn rows_so_far(&self) -> u64 {
        self.check.as_ref().map_or(0, CsvCheck::rows)
    }

    /// The name it was uploaded under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The upload is complete: flushed, its format known, a CSV's last record checked.
    pub(super) fn finish(&mut self) -> Result<Format, IngestError> {
        if let Some(format) = self.finished {
            return Ok(format);
        }
        let file = self.file.take().ok_or(IngestError::Storage)?;
        let file = file
            .into_inner()
            .map_err(|err| IngestError::io(err.into_error()))?;
        drop(file);
        if self.format.is_none() {
            self.decide()?;
            let head = std::mem::take(&mut self.head);
            if let Some(check) = self.check.as_mut() {
                check.feed(&head)?;
            }
        }
        if let Some(check) = self.check.as_mut() {
            check.finish()?;
        }
        let format = self.format.ok_or(IngestError::Empty)?;
        self.finished = Some(format);
        Ok(format)
    }

    /// Completes the upload and says how many bytes its frame will take, before it is
    /// decoded (blocking: a Parquet footer is read).
    pub(crate) fn expected_frame_bytes(&mut self) -> Result<u64, IngestError> {
        let format = self.finish()?;
        let shape = self
            .check
            .as_ref()
            .and_then(|c| c.columns().map(|cols| (c.rows(), cols)));
        parse::expected_bytes(&self.path, format, self.bytes, shape)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.kept {
            drop(self.file.take());
            let _ = fs::remove_file(&self.path);
        }
        self.uploads.unreserve(self.reserved);
    }
}
