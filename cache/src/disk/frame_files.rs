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
/// renamed into place is removed by whoever learns of the cancellation second.
#[derive(Default)]
pub(super) struct WriteShare {
    cancelled: AtomicBool,
    /// Set under the lock when the file is renamed into place.
    placed: Mutex<bool>,
}

impl WriteShare {
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

/// A writer that fails as soon as its write is cancelled.
struct Cancellable<'a, W> {
    inner: W,
    share: &'a WriteShare,
}

impl<W: Write> Write for Cancellable<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.share.is_cancelled() {
            // Not `Interrupted`: `write_all` retries that kind for ever.
            return Err(io::Error::other("write cancelled"));
        }
        self.inner.write(buf)
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
/// data for its own bookkeeping to stay small beside it (see [`mapped_ranges`]).
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
        let mut writer = BufWriter::with_capacity(1 << 20, Cancellable { inner: file, share });
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
    inode: u64,
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
    fn maps(&self, line: &str) -> Option<(usize, usize)> {
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

/// What a kept frame holds in the heap beside its mapping, an array (one column of one
/// record batch) at a time: its boxed array, shared storages and type (about this many
/// bytes, estimated from polars-arrow's types, not measured).
const BYTES_AN_ARRAY: usize = 512;

/// The page-aligned ranges (start, length) of this process's memory that hold `frame`'s
/// data, when all of it is mapped from the file `file` (as `/proc/self/maps` says): only
/// these may be handed to [`unmap_pages`]. `None` when any of it lies elsewhere (polars
/// copied it into the heap as it read the file: a kept mapping would then hold memory no
/// budget counts), when a column is of a kind whose buffers [`buffers`] does not list,
/// or when its arrays' own bookkeeping ([`BYTES_AN_ARRAY`] each, in the heap, counted by
/// no budget) would be over 1 % of its data (a wide frame of many small batches).
pub(super) fn mapped_ranges(frame: &DataFrame, file: FileId) -> Option<Vec<(usize, usize)>> {
    let (buffers, arrays) = buffers(frame)?;
    let data: usize = buffers.iter().map(|&(_, len)| len).sum();
    if arrays.saturating_mul(BYTES_AN_ARRAY).saturating_mul(100) > data.max(1) {
        return None;
    }
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    // (start, end) of every mapping of the file.
    let file: Vec<(usize, usize)> = maps.lines().filter_map(|line| file.maps(line)).collect();
    let page = page_size();
    buffers
        .into_iter()
        .filter(|&(_, len)| len > 0)
        .map(|(start, len)| {
            let (start, end) = (start - start % page, (start + len).div_ceil(page) * page);
            file.iter()
                .any(|&(lo, hi)| lo <= start && end <= hi)
                .then_some((start, end - start))
        })
        .collect()
}

/// Every buffer (start, length in bytes) holding `frame`'s data, and how many arrays
/// hold them: each column's values, validity, and a string or binary column's views and
/// bytes. `None` for a frame with a column of another kind: lists and structs (polars
/// maps them, but their buffers are not walked here), categoricals (read into a
/// dictionary in the heap), 128-bit integers, decimals and 16-bit floats.
fn buffers(frame: &DataFrame) -> Option<(Vec<(usize, usize)>, usize)> {
    use polars::prelude::{DataType, PolarsNumericType};
    use polars_arrow::array::Array;
    use polars_arrow::bitmap::Bitmap;

    fn bitmap(bits: Option<&Bitmap>, out: &mut Vec<(usize, usize)>) {
        if let Some(bits) = bits {
            let (bytes, _, _) = bits.as_slice();
            out.push((bytes.as_ptr() as usize, bytes.len()));
        }
    }
    fn values<T>(values: &[T], out: &mut Vec<(usize, usize)>) {
        out.push((values.as_ptr() as usize, std::mem::size_of_val(values)));
    }
    fn numeric<T: PolarsNumericType>(
        column: polars::prelude::PolarsResult<&polars::prelude::ChunkedArray<T>>,
        out: &mut Vec<(usize, usize)>,
    ) -> Option<()> {
        for array in column.ok()?.downcast_iter() {
            values(array.values().as_slice(), out);
            bitmap(array.validity(), out);
        }
        Some(())
    }

    let mut out = Vec::new();
    let mut arrays = 0;
    for column in frame.columns() {
        if column.dtype().is_categorical() || column.dtype().is_enum() {
            return None;
        }
        arrays += column.n_chunks();
        let series = column.as_materialized_series().to_physical_repr();
        let out = &mut out;
        match series.dtype() {
            DataType::Boolean => {
                for array in series.bool().ok()?.downcast_iter() {
                    bitmap(Some(array.values()), out);
                    bitmap(array.validity(), out);
                }
            }
            DataType::String => {
                for array in series.str().ok()?.downcast_iter() {
                    values(array.views().as_slice(), out);
                    for data in array.data_buffers().iter() {
                        values(data.as_slice(), out);
                    }
                    bitmap(array.validity(), out);
                }
            }
            DataType::Binary => {
                for array in series.binary().ok()?.downcast_iter() {
                    values(array.views().as_slice(), out);
                    for data in array.data_buffers().iter() {
                        values(data.as_slice(), out);
                    }
                    bitmap(array.validity(), out);
                }
            }
            DataType::Int8 => numeric(series.i8(), out)?,
            DataType::Int16 => numeric(series.i16(), out)?,
            DataType::Int32 => numeric(series.i32(), out)?,
            DataType::Int64 => numeric(series.i64(), out)?,
            DataType::UInt8 => numeric(series.u8(), out)?,
            DataType::UInt16 => numeric(series.u16(), out)?,
            DataType::UInt32 => numeric(series.u32(), out)?,
            DataType::UInt64 => numeric(series.u64(), out)?,
            DataType::Float32 => numeric(series.f32(), out)?,
            DataType::Float64 => numeric(series.f64(), out)?,
            DataType::Null => {}
            _ => return None,
        }
    }
    Some((out, arrays))
}

/// Takes the pages of `ranges` (from [`mapped_ranges`]: shared mappings of a frame
/// file) out of this process's memory map (`MADV_DONTNEED`). The file and the page
/// cache keep them; a later read maps them again. Without it, pages a figure touched
/// stay mapped (on this VM's kernel a whole 2 MiB folio a touch: one full-range figure
/// of a 1e9-row frame left 4.2 GB of the file mapped, counted in the server's RSS).
pub(super) fn unmap_pages(ranges: &[(usize, usize)]) {
    for &(start, len) in ranges {
        // SAFETY: every range lies within a read-only shared mapping of a frame file
        // (checked against /proc/self/maps by `mapped_ranges`, and kept mapped by the
        // frame that owns it). MADV_DONTNEED on a file mapping only drops this process's
        // page-table entries: the data stays in the file and the page cache, and the next
        // read faults it back in, the same bytes. It never touches anonymous memory here.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
}

fn page_size() -> usize {
    // SAFETY: the page size query has no preconditions.
    #[allow(unsafe_code)]
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096).max(1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    /// Kilobytes of the process's memory mapped from the file with `inode` (smaps).
    fn mapped_kb(inode: u64) -> u64 {
        let smaps = fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut ours = false;
        let mut kb = 0;
        for line in smaps.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields
                .first()
                .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
            {
                ours = fields.get(4).and_then(|i| i.parse::<u64>().ok()) == Some(inode);
            } else if ours && fields.first() == Some(&"Rss:") {
                kb += fields[1].parse::<u64>().expect("kB");
            }
        }
        kb
    }

    #[test]
    fn only_mapped_values_are_unmapped_and_they_read_the_same_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("frame.arrow");
        let values: Vec<f64> = (0..2_000_000).map(|i| i as f64 * 0.25).collect();
        let names = vec!["v".to_owned()];
        let share = WriteShare::default();
        write_with(&path, &share, |out| {
            let mut writer = super::super::one_batch::ColumnsWriter::start(out, &names, values.len() as u64)?;
            writer.push(&values)?;
            writer.finish().map(|_| ())
        })
        .expect("written");
        let (frame, id) = read_file(&path).expect("read").expect("there");
        let inode = id.inode;
        let ranges = mapped_ranges(&frame, id).expect("all mapped");
        assert_eq!(ranges.len(), 1, "one column, one mapped range");
        let sum = |frame: &DataFrame| {
            frame
                .column("v")
                .expect("v")
                .f64()
                .expect("f64")
                .sum()
                .expect("sum")
        };
        let expected: f64 = values.iter().sum();
        assert_eq!(sum(&frame), expected);
        assert!(mapped_kb(inode) >= 15_000, "every value read: mapped");
        unmap_pages(&ranges);
        assert!(mapped_kb(inode) < 64, "unmapped: {} kB", mapped_kb(inode));
        assert_eq!(sum(&frame), expected, "read again from the page cache, the same");

        // A frame in the heap has no mapped range: it is never handed to madvise.
        let heap = df!("v" => &values).expect("frame");
        assert_eq!(mapped_ranges(&heap, id), None);
    }

    /// A frame read back as many small arrays (a file of tiny record batches) is not
    /// kept: their own bookkeeping, in the heap, would be far over 1 % of the data. The
    /// tier's own writes of the same frame are in batches large enough to be kept.
    #[test]
    fn many_small_arrays_are_not_kept_and_the_tiers_writes_avoid_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let columns: Vec<Column> = (0..50)
            .map(|c| {
                Column::new(
                    format!("c{c}").into(),
                    (0..20_000).map(|i| (i * c) as f64).collect::<Vec<_>>(),
                )
            })
            .collect();
        let frame = DataFrame::new(20_000, columns).expect("frame");
        let mut tiny = frame.slice(0, 20);
        for offset in (20..20_000).step_by(20) {
            tiny.vstack_mut(&frame.slice(offset, 20)).expect("stacked");
        }
        let path = dir.path().join("tiny.arrow");
        write_with(&path, &WriteShare::default(), |out| {
            IpcWriter::new(out).finish(&mut tiny).map_err(io::Error::other)
        })
        .expect("written");
        let (read, id) = read_file(&path).expect("read").expect("there");
        assert_eq!(read.first_col_n_chunks(), 1_000);
        assert!(read.equals(&frame));
        assert_eq!(mapped_ranges(&read, id), None, "50,000 arrays for 8 MB");

        let path = dir.path().join("ours.arrow");
        write_file(&path, &frame, &WriteShare::default()).expect("written");
        let (read, id) = read_file(&path).expect("read").expect("there");
        assert!(read.equals(&frame));
        assert!(
            mapped_ranges(&read, id).is_some(),
            "{} batches of 50 columns",
            read.first_col_n_chunks()
        );
    }

    /// Every buffer of a frame of strings, booleans, integers and nulls is found in its
    /// file's mapping (views, string bytes, validity), and unmapping them leaves the same
    /// frame to read.
    #[test]
    fn strings_booleans_and_nulls_are_mapped_and_unmapped_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("frame.arrow");
        let rows: i32 = 300_000;
        let frame = df!(
            "s" => (0..rows).map(|i| (i % 9 != 0).then(|| format!("row number {i} of a long text"))).collect::<Vec<_>>(),
            "ok" => (0..rows).map(|i| (i % 4 != 0).then_some(i % 3 == 0)).collect::<Vec<_>>(),
            "n" => (0..rows).map(|i| (i % 5 != 0).then_some(i)).collect::<Vec<_>>(),
        )
        .expect("frame");
        write_file(&path, &frame, &WriteShare::default()).expect("written");
        let (read, id) = read_file(&path).expect("read").expect("there");
        let inode = id.inode;
        let (buffers, _) = buffers(&read).expect("listed");
        let ranges = mapped_ranges(&read, id).expect("every buffer mapped");
        assert_eq!(ranges.len(), buffers.iter().filter(|&&(_, len)| len > 0).count());
        assert!(
            buffers.len() >= 7,
            "views, bytes and validity of s; values and validity of ok and n: {buffers:?}"
        );
        assert!(read.equals_missing(&frame));
        assert!(mapped_kb(inode) > 0);
        unmap_pages(&ranges);
        assert!(mapped_kb(inode) < 64, "unmapped: {} kB", mapped_kb(inode));
        assert!(read.equals_missing(&frame), "read again, the same");
    }
}
