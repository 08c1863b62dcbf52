//! The uploads directory's own files: each created private (exclusive, 0600, never
//! through a link), named by an id the directory recognises, and a kept frame written
//! as Arrow IPC.

use std::fs::{self, File, OpenOptions};
use std::io::BufWriter;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use polars::prelude::*;

use super::IngestError;

/// Writes `frame` to a new Arrow IPC file at `path`, flushed to the disk when `durable`;
/// returns its size.
pub(super) fn write_ipc(path: &Path, frame: &DataFrame, durable: bool) -> Result<u64, IngestError> {
    let file = create_private(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut frame = frame.clone();
    IpcWriter::new(&mut out).finish(&mut frame).map_err(|err| {
        tracing::warn!(%err, "writing a kept upload");
        let _ = fs::remove_file(path);
        IngestError::Storage
    })?;
    let file = out
        .into_inner()
        .map_err(|err| IngestError::io(err.into_error()))?;
    if durable {
        file.sync_data().map_err(IngestError::io)?;
    }
    Ok(file.metadata().map_err(IngestError::io)?.len())
}

/// A new file of the uploads directory at `path`: created exclusively, 0600, never
/// through a link; open for reading and writing.
pub(super) fn create_private(path: &Path) -> Result<File, IngestError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(IngestError::io)
}

pub(super) fn is_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `name` is one the directory writes.
pub(super) fn is_ours(name: &str) -> bool {
    ["part", "arrow", "parquet"]
        .iter()
        .any(|ext| name.strip_suffix(&format!(".{ext}")).is_some_and(is_id))
}
