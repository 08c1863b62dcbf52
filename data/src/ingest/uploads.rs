//! The uploads directory: files arriving ([`Incoming`]) and files kept as the source of
//! ingested frames ([`Uploads`]).
//!
//! Names are the directory's own: `<32 hex>.part` while arriving, `<32 hex>.arrow` or
//! `<32 hex>.parquet` once kept; the id is random (128 bits) and known only to the
//! server's index, so no handle can point at another session's file. The directory is
//! 0700 and never a link, files are 0600 and created exclusively; leftovers of our own
//! names are removed at start-up (sessions do not outlive the process). Every byte on
//! disk counts against the uploads budget, reserved as it arrives.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File};
use std::io::{self, BufWriter};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use uuid::Uuid;

use super::format::Format;
use super::incoming::Incoming;
use super::missing::Spellings;
use super::private_files::{create_private, is_id, is_ours};
use super::{parse, IngestError, UploadLimit, UploadSource};
use stayput_cache::sync::lock;
use stayput_cache::{CacheError, SessionKey};

/// The uploads directory of a cache (cheap to clone).
#[derive(Clone)]
pub struct Uploads {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// Most bytes one upload may have.
    limit: u64,
    /// Most bytes all files together may take.
    budget: u64,
    /// Bytes on disk or promised to arrivals, and who owns each kept file.
    books: Mutex<Books>,
    /// How old a kept file no lineage names must be before a sweep removes it (its
    /// handle may still be on its way).
    grace: std::time::Duration,
    /// Whether a kept file outlives this server (the directory is shared, and another
    /// server may read it after this one stops), so that it is `fsync`'d before its
    /// handle is answered. A directory of one server's own is emptied when it starts
    /// again, so flushing there would only make the upload wait (2.4 of the 3.0 s that
    /// writing a 793 MiB frame took).
    durable: bool,
    /// Bytes of text a large CSV gathers for each piece parsed while it arrives.
    piece: usize,
    /// Uploads kept whose frame was written while they arrived, and parses as they
    /// arrived that were turned off (the file read whole instead).
    streamed: std::sync::atomic::AtomicU64,
    fell_back: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Books {
    used: u64,
    /// Kept file id → (session, bytes on disk, when kept).
    kept: HashMap<String, (SessionKey, u64, std::time::Instant)>,
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads")
            .field("limit", &self.inner.limit)
            .finish_non_exhaustive()
    }
}

impl Uploads {
    /// The uploads directory `dir` (created 0700 if missing, refused if it is a link),
    /// accepting files of at most `limit` bytes and `budget` bytes in all. Our own
    /// leftovers from an earlier run are removed.
    pub fn open(dir: &Path, limit: u64, budget: u64) -> Result<Self, CacheError> {
        Self::open_with(dir, limit, budget, true)
    }

    /// Like [`Uploads::open`], for a directory several servers share (every server
    /// reads the files the others kept, to rebuild their frames): nothing found there
    /// is removed at start-up, and the files this server keeps are removed when their
    /// session has ended on every server.
    pub fn open_shared(dir: &Path, limit: u64, budget: u64) -> Result<Self, CacheError> {
        Self::open_with(dir, limit, budget, false)
    }

    fn open_with(dir: &Path, limit: u64, budget: u64, wipe: bool) -> Result<Self, CacheError> {
        let fail = |err: io::Error| CacheError::CacheDir {
            path: dir.display().to_string(),
            reason: err.to_string(),
            setting: "STAYPUT_CACHE_DIR",
        };
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                return Err(fail(io::Error::other(
                    "the uploads directory is not a plain directory",
                )));
            }
            Ok(_) => {}
            Err(_) => DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(dir)
                .map_err(fail)?,
        }
        for entry in fs::read_dir(dir).map_err(fail)?.flatten() {
            let name = entry.file_name();
            if wipe && is_ours(&name.to_string_lossy()) {
                let _ = fs::remove_file(entry.path());
            }
        }
        // Prove it is writable now rather than at the first upload.
        let probe = dir.join(format!("{}.part", Uuid::new_v4().simple()));
        File::create(&probe).map_err(fail)?;
        let _ = fs::remove_file(&probe);
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                limit,
                budget,
                books: Mutex::new(Books::default()),
                grace: std::time::Duration::from_secs(60),
                durable: !wipe,
                piece: super::stream_parse::PIECE,
                streamed: Default::default(),
                fell_back: Default::default(),
            }),
        })
    }

    /// The same directory with kept files that no lineage names removed by a sweep once
    /// they are `grace` old (default one minute).
    pub fn with_sweep_grace(self, grace: std::time::Duration) -> Self {
        self.with_settings(grace, self.inner.piece)
    }

    /// The same directory with a large CSV parsed while it arrives in pieces of `bytes`
    /// of text (16 MiB unless told; `0`: every upload read whole once complete).
    pub fn with_parse_piece(self, bytes: usize) -> Self {
        self.with_settings(self.inner.grace, bytes)
    }

    /// The same directory, limits and budget with these settings (nothing kept yet).
    fn with_settings(&self, grace: std::time::Duration, piece: usize) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                dir: inner.dir.clone(),
                limit: inner.limit,
                budget: inner.budget,
                books: Mutex::new(Books::default()),
                grace,
                durable: inner.durable,
                piece,
                streamed: Default::default(),
                fell_back: Default::default(),
            }),
        }
    }

    /// Most bytes one upload may have.
    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// Most bytes all files together may take (scratch files included).
    pub fn budget(&self) -> u64 {
        self.inner.budget
    }

    /// Bytes the directory holds or has promised to uploads in progress.
    pub fn used_bytes(&self) -> u64 {
        lock(&self.inner.books).used
    }

    /// A new upload for `session`, named `name` by the user (its extension is checked
    /// against its content). Write its bytes with [`Incoming::write`].
    pub fn incoming(&self, session: SessionKey, name: &str) -> Result<Incoming, IngestError> {
        let id = Uuid::new_v4().simple().to_string();
        let path = self.inner.dir.join(format!("{id}.part"));
        let file = create_private(&path)?;
        Ok(Incoming {
            uploads: self.clone(),
            session,
            name: name.chars().take(200).collect(),
            id,
            path,
            file: Some(BufWriter::with_capacity(64 << 10, file)),
            first: Vec::new(),
            gzip: None,
            inner_name: None,
            received: 0,
            head: Vec::new(),
            format: None,
            check: None,
            json: None,
            bytes: 0,
            reserved: 0,
            kept: false,
            finished: None,
            sheet: None,
            workbook: None,
            declared: super::Declared::default(),
            stages: super::incoming::Stages::new(),
            stream: None,
            streamed: None,
        })
    }

    /// Whether kept files are `fsync`'d (the directory is shared).
    pub(super) fn durable(&self) -> bool {
        self.inner.durable
    }

    /// Uploads kept so far whose frame was parsed and written while they arrived (the
    /// rest were read whole once complete).
    pub fn streamed_uploads(&self) -> u64 {
        self.inner.streamed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Parses as they arrived that were turned off, so that their file was read whole
    /// (a value that does not fit the first rows' types, a piece polars refuses).
    pub fn stream_fallbacks(&self) -> u64 {
        self.inner.fell_back.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn stream_fell_back(&self) {
        self.inner
            .fell_back
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records the kept file `id` as `session`'s, `bytes` on disk (already reserved);
    /// `streamed` when it was parsed while it arrived.
    pub(super) fn record_kept(&self, id: &str, session: SessionKey, bytes: u64, streamed: bool) {
        lock(&self.inner.books)
            .kept
            .insert(id.to_owned(), (session, bytes, std::time::Instant::now()));
        if streamed {
            self.inner
                .streamed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Bytes of text in each piece of a CSV parsed while it arrives.
    pub(super) fn parse_piece(&self) -> usize {
        self.inner.piece
    }

    /// The uploads directory itself.
    pub(super) fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Reserves `more` bytes in the budget, or says which limit refuses them.
    pub(super) fn reserve(&self, more: u64) -> Result<(), IngestError> {
        let mut books = lock(&self.inner.books);
        if books.used.saturating_add(more) > self.inner.budget {
            return Err(IngestError::TooLarge {
                limit: UploadLimit::UploadsSpace,
                max_bytes: self.inner.budget,
            });
        }
        books.used += more;
        Ok(())
    }

    /// Turns a reservation of `reserved` bytes into one of `actual` (what a file took
    /// once written), or says which limit refuses the difference (`reserved` stays).
    pub(super) fn resize_reservation(&self, reserved: u64, actual: u64) -> Result<(), IngestError> {
        if actual > reserved {
            self.reserve(actual - reserved)
        } else {
            self.unreserve(reserved - actual);
            Ok(())
        }
    }

    pub(super) fn unreserve(&self, bytes: u64) {
        let mut books = lock(&self.inner.books);
        books.used = books.used.saturating_sub(bytes);
    }

    fn kept_path(&self, source: &UploadSource) -> Result<PathBuf, IngestError> {
        let ext = match source.stored.as_str() {
            "ipc" => "arrow",
            "parquet" => "parquet",
            _ => return Err(IngestError::Storage),
        };
        if !is_id(&source.file) {
            return Err(IngestError::Storage);
        }
        Ok(self.inner.dir.join(format!("{}.{ext}", source.file)))
    }

    /// The frame of `source` as a lazy scan of its file: a query reads only the columns
    /// and rows it needs.
    pub fn scan(&self, source: &UploadSource) -> Result<LazyFrame, IngestError> {
        scan_file(self.kept_path(source)?, &source.stored).map_err(|err| {
            tracing::warn!(%err, "scan of a kept upload");
            IngestError::Storage
        })
    }

    /// Writes the frame of `source` to `out` as an Arrow IPC file, batch by batch, never
    /// whole: how an upload placed on disk goes into the disk tier
    /// ([`stayput_cache::FrameCacheBuilder::disk_file_recipe`]).
    pub fn write_on_disk(&self, source: &UploadSource, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let scan = self.scan(source).map_err(std::io::Error::other)?;
        crate::streamed::write_ipc(scan, out)
            .map(|_| ())
            .map_err(std::io::Error::other)
    }

    /// The whole frame of `source`, read from its file.
    pub fn read(&self, source: &UploadSource) -> Result<DataFrame, IngestError> {
        let path = self.kept_path(source)?;
        let format = if source.stored == "parquet" {
            Format::Parquet
        } else {
            Format::Ipc
        };
        parse::read(&path, format, Spellings::ALL)
    }

    /// Removes every file kept for `session` (its session ended).
    pub fn remove_session(&self, session: SessionKey) {
        let gone: Vec<(String, u64)> = {
            let mut books = lock(&self.inner.books);
            let ids: Vec<String> = books
                .kept
                .iter()
                .filter(|(_, (s, _, _))| *s == session)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| books.kept.remove(&id).map(|(_, bytes, _)| (id, bytes)))
                .collect()
        };
        self.delete(gone);
    }

    /// The sessions this server kept files for.
    pub(crate) fn sessions(&self) -> std::collections::HashSet<SessionKey> {
        lock(&self.inner.books)
            .kept
            .values()
            .map(|(s, _, _)| *s)
            .collect()
    }

    /// Removes the kept files that no frame's lineage names any more (`referenced` holds
    /// the ids that are named) and whose session is not in `keep` (still in use on
    /// another server), once they are a minute old: a dropped upload whose steps went
    /// too, an ingest whose request went away before its handle was made, a session that
    /// ended with no frames. Returns how many went.
    pub(crate) fn sweep(
        &self,
        referenced: &std::collections::HashSet<String>,
        keep: &std::collections::HashSet<SessionKey>,
    ) -> usize {
        let gone: Vec<(String, u64)> = {
            let mut books = lock(&self.inner.books);
            let stale: Vec<String> = books
                .kept
                .iter()
                .filter(|(id, (session, _, at))| {
                    !referenced.contains(*id) && !keep.contains(session) && at.elapsed() >= self.inner.grace
                })
                .map(|(id, _)| id.clone())
                .collect();
            stale
                .into_iter()
                .filter_map(|id| books.kept.remove(&id).map(|(_, bytes, _)| (id, bytes)))
                .collect()
        };
        let count = gone.len();
        self.delete(gone);
        count
    }

    fn delete(&self, gone: Vec<(String, u64)>) {
        for (id, bytes) in gone {
            for ext in ["arrow", "parquet"] {
                let _ = fs::remove_file(self.inner.dir.join(format!("{id}.{ext}")));
            }
            self.unreserve(bytes);
        }
    }

    /// Forgets the kept file of `source` (a handle for it could not be made).
    pub(crate) fn discard(&self, source: &UploadSource) {
        // Bound first, so the books' guard is dropped before `unreserve` takes it again
        // (in an `if let` scrutinee it would live to the end of the block: a deadlock).
        let removed = lock(&self.inner.books).kept.remove(&source.file);
        if let Some((_, bytes, _)) = removed {
            self.unreserve(bytes);
        }
        if let Ok(path) = self.kept_path(source) {
            let _ = fs::remove_file(path);
        }
    }
}

/// The file at `path`, kept as `stored` (`"ipc"` or `"parquet"`), as a lazy scan.
pub(super) fn scan_file(path: PathBuf, stored: &str) -> PolarsResult<LazyFrame> {
    let path = PlRefPath::try_from_pathbuf(path)?;
    match stored {
        "parquet" => LazyFrame::scan_parquet(path, ScanArgsParquet::default()),
        _ => LazyFrame::scan_ipc(path, IpcScanOptions::default(), UnifiedScanArgs::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 23's hang: `discard` took the books' lock in an `if let` scrutinee and
    /// called `unreserve` (the same lock) inside the block. Run on a thread with a
    /// deadline: a deadlock fails the test instead of hanging it.
    #[test]
    fn discarding_a_kept_upload_gives_its_bytes_back_without_deadlock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let uploads = Uploads::open(&dir.path().join("uploads"), 1 << 20, 1 << 20).expect("uploads");
        let mut incoming = uploads.incoming(SessionKey::random(), "a.csv").expect("incoming");
        incoming.write(b"a,b\n1,2\n3,4\n").expect("write");
        let source = uploads.keep(incoming).expect("kept").source;
        assert!(uploads.used_bytes() > 0);
        let (done, finished) = std::sync::mpsc::channel();
        let worker = uploads.clone();
        std::thread::spawn(move || {
            worker.discard(&source);
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("discard returned (no self-deadlock on the books' lock)");
        assert_eq!(uploads.used_bytes(), 0, "its bytes are given back");
        assert_eq!(
            std::fs::read_dir(dir.path().join("uploads"))
                .expect("dir")
                .count(),
            0
        );
    }
}
