//! Files and uploads becoming handles (see [`crate::ingest`]).

use std::path::Path;

use super::FrameCache;
use crate::ingest::{Incoming, IngestError, UploadSource, Uploads, UPLOAD_RECIPE};
use crate::{CacheError, FrameHandle, FrameId, Lineage, Placement, SessionKey};

impl FrameCache {
    /// The uploads directory, when the cache was built with one.
    pub fn uploads(&self) -> Option<&Uploads> {
        self.inner.uploads.as_ref()
    }

    /// Makes a handle of a complete upload: its frame is read (within memory reserved
    /// for it first, so what the session cannot hold is refused before parsing), its
    /// source kept, and the frame released at once: views and transforms scan the kept
    /// file, and a read of the whole frame rebuilds it. Nothing half-parsed is kept.
    pub async fn ingest(&self, session: SessionKey, incoming: Incoming) -> Result<FrameHandle, CacheError> {
        self.ingest_holding(session, incoming, ()).await
    }

    /// [`FrameCache::ingest`], with `hold` (a slot of the caller's admission, say) moved
    /// into the parse with the memory reservation: both are given back when the parse
    /// ends, not when the request goes away, so clients that hang up cannot start any
    /// number of parses at once.
    pub async fn ingest_holding<H: Send + 'static>(
        &self,
        session: SessionKey,
        incoming: Incoming,
        hold: H,
    ) -> Result<FrameHandle, CacheError> {
        let uploads = self.inner.uploads.clone().ok_or(CacheError::NotWired)?;
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
        .map_err(|_| CacheError::Ingest(IngestError::Storage))??;
        let reservation = self.reserve(session, expected).await?;
        // The reservation goes into the parse and comes back with it: when the request
        // goes away mid-parse (a client that hangs up), the parse runs on, and its memory
        // stays reserved until it ends instead of being handed to the next request.
        let (kept, reservation, hold) = tokio::task::spawn_blocking({
            let uploads = uploads.clone();
            move || (uploads.keep(incoming), reservation, hold)
        })
        .await
        // A reader that panicked on the file: the file's fault, reported as such (the
        // upload's temporary file went with the unwinding).
        .map_err(|_| {
            CacheError::Ingest(IngestError::Damaged {
                format: "uploaded",
                reason: "its content could not be parsed".into(),
            })
        })?;
        let (source, frame) = kept?;
        let _held_until_stored = hold;
        let stored = async {
            let lineage = Lineage::new(UPLOAD_RECIPE, &source)?;
            let handle = self
                .put_reserved(
                    session,
                    frame,
                    Placement::Memory,
                    Some(lineage),
                    Some(&reservation),
                )
                .await?;
            self.release(session, &handle.id).await;
            Ok::<_, CacheError>(handle)
        }
        .await;
        if stored.is_err() {
            uploads.discard(&source);
        }
        stored
    }

    /// Makes a handle of the file at `path` on the server's disk (named `name` to the
    /// user), as [`FrameCache::ingest`] does an upload.
    pub async fn ingest_file(
        &self,
        session: SessionKey,
        path: &Path,
        name: &str,
    ) -> Result<FrameHandle, CacheError> {
        self.ingest_file_holding(session, path, name, ()).await
    }

    /// [`FrameCache::ingest_file`] holding `hold` as [`FrameCache::ingest_holding`] does.
    pub async fn ingest_file_holding<H: Send + 'static>(
        &self,
        session: SessionKey,
        path: &Path,
        name: &str,
        hold: H,
    ) -> Result<FrameHandle, CacheError> {
        let uploads = self.inner.uploads.clone().ok_or(CacheError::NotWired)?;
        let mut incoming = uploads.incoming(session, name)?;
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
        .map_err(|_| CacheError::Ingest(IngestError::Storage))??;
        self.ingest_holding(session, incoming, hold).await
    }

    /// The lineage of `session`'s frame `id` (`None` for a frame stored without one);
    /// [`CacheError::Unknown`] for a handle the session does not hold.
    pub fn lineage(&self, session: SessionKey, id: &FrameId) -> Result<Option<Lineage>, CacheError> {
        let key = Self::key(session, id)?;
        let state = self.state();
        let entry = state.entries.get(&key).ok_or(CacheError::Unknown)?;
        Ok(entry.lineage.clone())
    }

    /// The kept file behind `session`'s ingested frame `id`: `None` when the frame was
    /// made some other way.
    pub fn upload_source(
        &self,
        session: SessionKey,
        id: &FrameId,
    ) -> Result<Option<UploadSource>, CacheError> {
        match self.lineage(session, id)? {
            Some(lineage) if lineage.function == UPLOAD_RECIPE => serde_json::from_str(&lineage.args)
                .map(Some)
                .map_err(|err| CacheError::BadArguments {
                    function: UPLOAD_RECIPE.to_owned(),
                    reason: err.to_string(),
                }),
            _ => Ok(None),
        }
    }
}
