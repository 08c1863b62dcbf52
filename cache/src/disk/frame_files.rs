//! The disk tier's files: their names, the directory's clean-up and modes, and writing
//! and reading one frame file.
//!
//! The tier touches only names it writes itself (`<session>-<frame>.arrow`, the same
//! with `.tmp` while writing, and its start-up probe), never follows a symbolic link, and
//! keeps everything private to the server's user: directory 0700, files 0600. A file is
//! written under its temp name and renamed into place, so a writer killed mid-write
//! leaves only a temp file, which is never read and is removed at the next start.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use polars::prelude::DataFrame;
use polars_io::ipc::{IpcReader, IpcWriter};
use polars_io::{SerReader, SerWriter};

use crate::sync::lock;
use crate::tier::FrameKey;

/// Suffix of a complete frame file.
const FRAME_SUFFIX: &str = ".arrow";
/// Suffix of a frame file being written.
const TEMP_SUFFIX: &str = ".arrow.tmp";
/// The file written once at start-up to prove the directory is writable.
const PROBE: &str = ".probe.tmp";

/// The file name of `key`'s frame: both ids as 32 lower-case hex digits.
pub(super) fn file_name(key: FrameKey) -> String {
    format!(
        "{}-{}{FRAME_SUFFIX}",
        key.session.uuid().simple(),
        key.id.simple()
    )
}

/// Whether `name` is one the tier writes: a frame file, a frame file being written, or
/// the probe. Nothing else in the directory is ever removed.
pub(super) fn is_ours(name: &str) -> bool {
    if name == PROBE {
        return true;
    }
    let stem = name
        .strip_suffix(TEMP_SUFFIX)
        .or_else(|| name.strip_suffix(FRAME_SUFFIX));
    let Some((session, frame)) = stem.and_then(|s| s.split_once('-')) else {
        return false;
    };
    let hex32 = |s: &str| s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    hex32(session) && hex32(frame)
}

/// Creates `frames` (mode 0700) or makes the existing one private, refusing a symbolic
/// link or anything that is not a directory. Returns the tier's leftovers removed.
pub(super) fn prepare_dir(frames: &Path) -> io::Result<u64> {
    match fs::symlink_metadata(frames) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(io::Error::other("is a symbolic link"));
        }
        Ok(meta) if !meta.is_dir() => return Err(io::Error::other("is not a directory")),
        Ok(_) => fs::set_permissions(frames, fs::Permissions::from_mode(0o700))?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(frames)?;
            // `recursive` applies the mode before the umask; say it once more.
            fs::set_permissions(frames, fs::Permissions::from_mode(0o700))?;
        }
        Err(err) => return Err(err),
    }
    // Leftovers of an earlier run: no session can reach them any more. Only our own
    // names, only regular files or links (a link is removed, never followed).
    let mut removed = 0;
    for entry in fs::read_dir(frames)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let ours = entry.file_name().to_str().is_some_and(is_ours);
        if ours && (kind.is_file() || kind.is_symlink()) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    // Prove the directory is writable now rather than at the first spill.
    let probe = frames.join(PROBE);
    create_private(&probe)?.write_all(b"stayput")?;
    fs::remove_file(&probe)?;
    Ok(removed)
}

/// A new file at `path`, mode 0600, that did not exist (never an existing file or the
/// target of a link someone placed there).
fn create_private(path: &Path) -> io::Result<File> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// What a write in progress and the request waiting for it share, so that a request that
/// goes away leaves no file: the writer stops at its next write call, and a file already
/// renamed into place is removed by whoever learns of the cancellation second. A write
/// also stops once its file outgrows `limit` (the disk budget: it could never be kept).
#[derive(Default)]
pub(super) struct WriteShare {
    cancelled: AtomicBool,
    /// Set under the lock when the file is renamed into place.
    placed: Mutex<bool>,
    /// Most bytes the file may take; none when 0.
    limit: u64,
    /// Set when the write stopped at `limit`.
    outgrew: AtomicBool,
}

impl WriteShare {
    /// A share for a write whose file may take at most `limit` bytes.
    pub(super) fn up_to(limit: u64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Whether the write stopped because its file outgrew its limit.
    pub(super) fn outgrew(&self) -> bool {
        self.outgrew.load(Ordering::Acquire)
    }

    /// Says the waiting request went away; removes `path` if it was already placed.
    pub(super) fn cancel(&self, path: &Path) {
        self.cancelled.store(true, Ordering::Release);
        let placed = lock(&self.placed);
        if *placed {
            let _ = fs::remove_file(path);
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

/// A writer that fails as soon as its write is cancelled, or would pass its limit.
struct Cancellable<'a, W> {
    inner: W,
    share: &'a WriteShare,
    written: u64,
}

impl<W: Write> Write for Cancellable<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.share.is_cancelled() {
            // Not `Interrupted`: `write_all` retries that kind for ever.
            return Err(io::Error::other("write cancelled"));
        }
        let after = self.written.saturating_add(buf.len() as u64);
        if self.share.limit > 0 && after > self.share.limit {
            self.share.outgrew.store(true, Ordering::Release);
            return Err(io::Error::other("the file outgrew the disk budget"));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes of one IPC record batch. polars' IPC writer encodes each record batch into a
/// buffer before writing it; batches this small stay in the CPU cache, where one batch
/// of the whole frame would copy it through memory once more (measured: 444 MiB/s for
/// an 80 MB frame written as one batch).
const BATCH_BYTES: usize = 1 << 20;

/// Bytes of a column in one record batch, at least: a wide frame's batches are larger
/// than [`BATCH_BYTES`], so that each array read back (one a column a batch) holds enough
/// data for its own bookkeeping to stay small beside it (see `pages::mapped_ranges`).
const COLUMN_BATCH_BYTES: usize = 128 << 10;

/// `frame` as a frame of record batches of about [`BATCH_BYTES`] each (more for a wide
/// frame, [`COLUMN_BATCH_BYTES`] a column). Slices share the frame's buffers, so nothing
/// is copied here; reading the file back memory-mapped gives one chunk per batch.
fn in_batches(frame: &DataFrame) -> polars::prelude::PolarsResult<DataFrame> {
    let rows = frame.height();
    let row_bytes = frame.estimated_size() / rows.max(1);
    let target = BATCH_BYTES.max(frame.width().saturating_mul(COLUMN_BATCH_BYTES));
    let batch = (target / row_bytes.max(1)).max(1);
    if rows <= batch {
        return Ok(frame.clone()); // cheap: columns are shared, not copied
    }
    let mut out = frame.slice(0, batch);
    for offset in (batch..rows).step_by(batch) {
        out.vstack_mut(&frame.slice(offset as i64, batch))?;
    }
    Ok(out)
}

/// Writes `frame` to `path` through its temp file and a rename; returns the file size.
/// Nothing is left behind on failure or cancellation.
pub(super) fn write_file(path: &Path, frame: &DataFrame, share: &WriteShare) -> io::Result<u64> {
    write_with(path, share, |writer| {
        let mut frame = in_batches(frame).map_err(io::Error::other)?;
        IpcWriter::new(writer)
            .finish(&mut frame)
            .map_err(io::Error::other)
    })
}

/// Writes the file `write` writes to `path`, through its temp file and a rename;
/// returns the file size. Nothing is left behind on failure or cancellation: `write`'s
/// writer fails from the moment `share` is cancelled.
pub(super) fn write_with(
    path: &Path,
    share: &WriteShare,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<u64> {
    let tmp = path.with_extension("arrow.tmp");
    if share.is_cancelled() {
        return Err(io::Error::other("write cancelled"));
    }
    let result = (|| {
        let file = create_private(&tmp)?;
        let mut writer = BufWriter::with_capacity(
            1 << 20,
            Cancellable {
                inner: file,
                share,
                written: 0,
            },
        );
        write(&mut writer)?;
        let file = writer.into_inner().map_err(io::IntoInnerError::into_error)?.inner;
        let len = file.metadata()?.len();
        drop(file);
        let mut placed = lock(&share.placed);
        if share.is_cancelled() {
            return Err(io::Error::other("write cancelled"));
        }
        fs::rename(&tmp, path)?;
        *placed = true;
        Ok(len)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Which file: its device and inode, as `/proc/self/maps` names a mapping's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    /// Major and minor device numbers.
    device: (u32, u32),
    pub(super) inode: u64,
}

impl FileId {
    fn of(metadata: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let dev = metadata.dev();
        Self {
            device: (libc::major(dev), libc::minor(dev)),
            inode: metadata.ino(),
        }
    }

    /// Whether a line of `/proc/self/maps` (`start-end perms offset major:minor inode
    /// path`) maps this file; its (start, end) if so.
    pub(super) fn maps(&self, line: &str) -> Option<(usize, usize)> {
        let mut fields = line.split_whitespace();
        let (range, device, inode) = (fields.next()?, fields.nth(2)?, fields.next()?);
        let (major, minor) = device.split_once(':')?;
        let device = (
            u32::from_str_radix(major, 16).ok()?,
            u32::from_str_radix(minor, 16).ok()?,
        );
        if device != self.device || inode.parse::<u64>().ok()? != self.inode {
            return None;
        }
        let (start, end) = range.split_once('-')?;
        Some((
            usize::from_str_radix(start, 16).ok()?,
            usize::from_str_radix(end, 16).ok()?,
        ))
    }
}

/// The frame in `path`, memory-mapped, and which file it is; `None` when there is no
/// such file.
pub(super) fn read_file(path: &Path) -> io::Result<Option<(DataFrame, FileId)>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let id = FileId::of(&file.metadata()?);
    let reader = IpcReader::new(file);
    // SAFETY: the file is mapped read-only and never modified after its rename into
    // place: a frame file is only ever written under a temp name, and replaced or
    // removed by unlinking, which leaves existing mappings intact on Unix.
    #[allow(unsafe_code)]
    let reader = unsafe { reader.memory_mapped(Some(path.to_path_buf())) };
    let mut frame = reader.finish().map_err(io::Error::other)?;
    crate::sorted::restore_sorted(&mut frame);
    Ok(Some((frame, id)))
}

/// Ensures `share` is cancelled when the request waiting for a write goes away first.
pub(super) struct CancelOnDrop {
    pub(super) share: Arc<WriteShare>,
    pub(super) path: std::path::PathBuf,
    pub(super) armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.share.cancel(&self.path);
        }
    }
}
