//! Files and uploads becoming handles in a [`FrameCache`]; the cache told how to read
//! them back and when their files go ([`Uploads::wire`]).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use stayput_cache::{
    FrameCache, FrameCacheBuilder, FrameHandle, FrameId, KeptFiles, Lineage, Placement, SessionKey,
};

use crate::ingest::{files_named, Incoming, IngestError, Kept, UploadSource, Uploads, UPLOAD_RECIPE};

impl Uploads {
    /// `builder`, able to rebuild an ingested frame from its kept file (the recipe
    /// [`UPLOAD_RECIPE`], sized by the frame it read) and deciding when kept files go: a
    /// session's when it ends, and those no lineage names after each idle purge. Build
    /// every cache that this directory's handles go into with it.
    pub fn wire(&self, builder: FrameCacheBuilder) -> FrameCacheBuilder {
        let reader = self.clone();
        builder
            .sized_recipe(
                UPLOAD_RECIPE,
                |source: &UploadSource| source.bytes,
                move |source: UploadSource| {
                    let reader = reader.clone();
                    async move {
                        type Boxed = Box<dyn std::error::Error + Send + Sync>;
                        match tokio::task::spawn_blocking(move || reader.read(&source)).await {
                            Ok(read) => read.map_err(Boxed::from),
                            // The reader panicked: the server's storage, as the cache
                            // reports a tier that failed (a 503, not the file's fault).
                            Err(err) => {
                                tracing::error!(%err, "reading a kept upload");
                                Err(Boxed::from(stayput_cache::CacheError::Storage {
                                    tier: "uploads",
                                }))
                            }
                        }
                    }
                },
            )
            // Placed on disk (larger than memory), written into the disk tier batch by
            // batch from its kept file, and read back mapped.
            .disk_file_recipe(
                UPLOAD_RECIPE,
                |source: &UploadSource| stayput_cache::DiskWrite {
                    file: on_disk_bytes(source.bytes),
                    memory: crate::streamed::IN_FLIGHT_BYTES,
                },
                {
                    let writer = self.clone();
                    move |source: UploadSource, out: &mut dyn std::io::Write| {
                        writer.write_on_disk(&source, out)
                    }
                },
            )
            .kept_files(Arc::new(self.clone()))
    }

    /// Makes a handle in `cache` of a complete upload: its frame is sized and memory
    /// reserved for it first (what the session cannot hold is refused before it is read
    /// whole), then read and written to its kept file (a large CSV was already, while it
    /// arrived). The handle is made from the kept file alone ([`FrameCache::put_lineage`]):
    /// views and transforms scan the file, and a read of the whole frame builds it from
    /// there. Nothing half-parsed is kept. The cache must have been built through
    /// [`Uploads::wire`].
    pub async fn ingest(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        incoming: Incoming,
    ) -> Result<FrameHandle, IngestError> {
        self.ingest_holding(cache, session, incoming, ()).await
    }

    /// [`Uploads::ingest`], with `hold` (a slot of the caller's admission, say) moved
    /// into the parse with the memory reservation: both are given back when the parse
    /// ends, not when the request goes away, so clients that hang up cannot start any
    /// number of parses at once.
    pub async fn ingest_holding<H: Send + 'static>(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        incoming: Incoming,
        hold: H,
    ) -> Result<FrameHandle, IngestError> {
        if !cache.has_recipe(UPLOAD_RECIPE) {
            tracing::error!("a cache not built through Uploads::wire was given an upload");
            return Err(IngestError::NotWired);
        }
        // Completed and sized first (a Parquet footer read), so that what the session
        // cannot hold is refused before anything is decoded.
        // `hold` goes with the sizing too: a workbook's is a full unpack and walk, and a
        // client that hangs up meanwhile must not free its slot while it runs.
        let (incoming, expected, hold) = tokio::task::spawn_blocking(move || {
            let mut incoming = incoming;
            let expected = incoming.expected_frame_bytes();
            expected.map(|bytes| (incoming, bytes, hold))
        })
        .await
        .map_err(|_| IngestError::Storage)??;
        // Larger than memory: kept without being read whole, and placed on disk.
        if expected > cache.memory_limit().1 && cache.has_disk() && incoming.keeps_on_disk() {
            return self
                .ingest_on_disk(cache, session, incoming, expected, hold)
                .await;
        }
        let reservation = cache.reserve(session, expected).await?;
        // The reservation goes into the parse and comes back with it: when the request
        // goes away mid-parse (a client that hangs up), the parse runs on, and its memory
        // stays reserved until it ends instead of being handed to the next request.
        let (kept, reservation, hold) = tokio::task::spawn_blocking({
            let uploads = self.clone();
            move || (uploads.keep(incoming), reservation, hold)
        })
        .await
        .map_err(reader_panicked)?;
        let _held_until_stored = (hold, reservation);
        self.store_kept(cache, session, kept?, Placement::Memory).await
    }

    /// The handle of `kept` in `session`, placed as `placement`: the frame is in its kept
    /// file, and the handle reads it from there when first asked. A handle that cannot be
    /// made takes the file with it.
    async fn store_kept(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        kept: Kept,
        placement: Placement,
    ) -> Result<FrameHandle, IngestError> {
        let Kept { source, cols } = kept;
        let stored = async {
            let lineage = Lineage::new(UPLOAD_RECIPE, &source)?;
            Ok::<_, IngestError>(
                cache
                    .put_lineage(session, source.rows, cols, source.bytes, lineage, placement)
                    .await?,
            )
        }
        .await;
        if stored.is_err() {
            self.discard(&source);
        }
        stored
    }

    /// [`Uploads::ingest_holding`] of an upload whose frame is larger than memory: kept
    /// without being read whole ([`Uploads::keep_on_disk`]) and placed on disk, counted
    /// against the disk budget only. Its first read writes it into the disk tier batch by
    /// batch and maps it.
    async fn ingest_on_disk<H: Send + 'static>(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        incoming: Incoming,
        expected: u64,
        hold: H,
    ) -> Result<FrameHandle, IngestError> {
        // Refused before it is read at all when even the disk cannot hold it.
        cache.fits_on_disk(on_disk_bytes(expected))?;
        // Read a batch at a time, it holds one whole record batch or row group at once.
        incoming.check_units(cache.memory_limit().1 / 4)?;
        let (kept, hold) = tokio::task::spawn_blocking({
            let uploads = self.clone();
            move || (uploads.keep_on_disk(incoming), hold)
        })
        .await
        .map_err(reader_panicked)?;
        let _held_until_stored = hold;
        self.store_kept(cache, session, kept?, Placement::Disk).await
    }

    /// Makes a handle in `cache` of the file at `path` on the server's disk (named `name`
    /// to the user), as [`Uploads::ingest`] does an upload.
    pub async fn ingest_file(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        path: &Path,
        name: &str,
    ) -> Result<FrameHandle, IngestError> {
        self.ingest_file_holding(cache, session, path, name, ()).await
    }

    /// [`Uploads::ingest_file`] holding `hold` as [`Uploads::ingest_holding`] does.
    pub async fn ingest_file_holding<H: Send + 'static>(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        path: &Path,
        name: &str,
        hold: H,
    ) -> Result<FrameHandle, IngestError> {
        let mut incoming = self.incoming(session, name)?;
        let path = path.to_path_buf();
        let incoming = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut file = std::fs::File::open(&path).map_err(IngestError::io)?;
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buffer).map_err(IngestError::io)?;
                if n == 0 {
                    return Ok::<_, IngestError>(incoming);
                }
                incoming.write(&buffer[..n])?;
            }
        })
        .await
        .map_err(|_| IngestError::Storage)??;
        self.ingest_holding(cache, session, incoming, hold).await
    }

    /// The kept file behind `session`'s ingested frame `id` in `cache`: `None` when the
    /// frame was made some other way; [`stayput_cache::CacheError::Unknown`] (inside
    /// [`IngestError::Cache`]) for a handle the session does not hold.
    pub fn source_of(
        &self,
        cache: &FrameCache,
        session: SessionKey,
        id: &FrameId,
    ) -> Result<Option<UploadSource>, IngestError> {
        match cache.lineage(session, id)? {
            Some(lineage) if lineage.function == UPLOAD_RECIPE => {
                serde_json::from_str(&lineage.args).map(Some).map_err(|err| {
                    IngestError::Cache(stayput_cache::CacheError::BadArguments {
                        function: UPLOAD_RECIPE.to_owned(),
                        reason: err.to_string(),
                    })
                })
            }
            _ => Ok(None),
        }
    }
}

/// About how many bytes the Arrow IPC file of a frame of `bytes` takes in the disk tier
/// (each batch's headers and padding beside its buffers): reserved before it is written,
/// trued up after.
fn on_disk_bytes(bytes: u64) -> u64 {
    bytes.saturating_add(bytes / 64).saturating_add(64 << 10)
}

impl KeptFiles for Uploads {
    fn recipe(&self) -> &str {
        UPLOAD_RECIPE
    }

    fn named_in(&self, args: &str, named: &mut HashSet<String>) {
        files_named(args, named);
    }

    fn sessions(&self) -> HashSet<SessionKey> {
        Uploads::sessions(self)
    }

    fn remove_session(&self, session: SessionKey) {
        Uploads::remove_session(self, session);
    }

    fn sweep(&self, named: &HashSet<String>, keep: &HashSet<SessionKey>) -> usize {
        Uploads::sweep(self, named, keep)
    }
}

/// A reader that panicked on the file: the file's fault, reported as such (the upload's
/// temporary file went with the unwinding).
fn reader_panicked(_: tokio::task::JoinError) -> IngestError {
    IngestError::Damaged {
        format: "uploaded",
        reason: "its content could not be parsed".into(),
    }
}
