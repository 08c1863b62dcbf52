//! Frames in Redis: Arrow IPC, in chunks well below Redis's 512 MB value limit.
//!
//! A frame is written as chunks under a fresh version, then its manifest
//! (`version chunks bytes`) is set in one command, which is what makes the new version
//! visible: a reader sees a whole old version or a whole new one, never a mix. Two
//! servers writing the same frame at once each write their own version; the last
//! manifest wins and the chunks of the version it replaced are deleted (a reader caught
//! between the two finds a chunk missing and treats the frame as not in Redis, so it is
//! rebuilt from its lineage: never a corrupt frame). Each chunk is one `SET` of at most
//! [`CHUNK_BYTES`], so no command holds Redis for long.

use std::io::Cursor;

use fred::prelude::{Expiration, KeysInterface};
use polars::prelude::DataFrame;
use polars_io::ipc::{IpcReader, IpcWriter};
use polars_io::{SerReader, SerWriter};
use uuid::Uuid;

use super::SharedStore;
use crate::tier::FrameKey;
use crate::CacheError;

/// Bytes of one chunk: 8 MiB, a few milliseconds of Redis's time each.
pub(crate) const CHUNK_BYTES: usize = 8 << 20;

/// A manifest: which version, in how many chunks, of how many bytes.
struct Manifest {
    version: String,
    chunks: usize,
    bytes: usize,
}

impl Manifest {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let version = parts.next()?.to_owned();
        let chunks = parts.next()?.parse().ok()?;
        let bytes = parts.next()?.parse().ok()?;
        Some(Self {
            version,
            chunks,
            bytes,
        })
    }
}

impl SharedStore {
    fn frame_key(&self, key: FrameKey) -> String {
        format!(
            "{}:frame:{}:{}",
            self.settings().prefix,
            key.session.uuid().simple(),
            key.id.simple()
        )
    }

    fn chunk_key(&self, key: FrameKey, version: &str, index: usize) -> String {
        format!("{}:{version}:{index}", self.frame_key(key))
    }

    /// Writes `frame` under `key`; returns the bytes written. Frames over the configured
    /// `frame_max` are not written (`Ok(None)`).
    pub async fn store_frame(&self, key: FrameKey, frame: &DataFrame) -> Result<Option<u64>, CacheError> {
        if frame.estimated_size() as u64 > self.settings().frame_max {
            return Ok(None);
        }
        self.ensure_up()?;
        let mut frame = frame.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            IpcWriter::new(&mut out).finish(&mut frame).map(|()| out)
        })
        .await
        .map_err(|_| CacheError::Storage { tier: "redis" })?
        .map_err(|err| {
            tracing::warn!(%err, "a frame could not be written as Arrow IPC");
            CacheError::Storage { tier: "redis" }
        })?;
        if bytes.len() as u64 > self.settings().frame_max {
            return Ok(None);
        }
        let ttl = Some(Expiration::PX(SharedStore::ttl_ms(self.settings().frame_ttl)));
        let version = Uuid::new_v4().simple().to_string();
        let total = bytes.len();
        let chunks = total.div_ceil(CHUNK_BYTES).max(1);
        // Slices of one buffer (no copy), sent at once over the pool's connections.
        let bytes = bytes::Bytes::from(bytes);
        let writes = (0..chunks).map(|index| {
            let chunk = bytes.slice(index * CHUNK_BYTES..((index + 1) * CHUNK_BYTES).min(total));
            let key = self.chunk_key(key, &version, index);
            let ttl = ttl.clone();
            async move {
                let written: Result<(), _> = self.pool().set(key, chunk, ttl, None, false).await;
                written.map_err(|err| self.failed(err))
            }
        });
        futures_util::future::try_join_all(writes).await?;
        let manifest = format!("{version} {chunks} {total}");
        let old: Option<String> = self
            .pool()
            .set(self.frame_key(key), manifest, ttl, None, true)
            .await
            .map_err(|err| self.failed(err))?;
        if let Some(old) = old.as_deref().and_then(Manifest::parse) {
            self.delete_chunks(key, &old).await;
        }
        Ok(Some(total as u64))
    }

    /// The frame under `key`, or `None` when Redis does not hold it (whole).
    pub async fn load_frame(&self, key: FrameKey) -> Result<Option<DataFrame>, CacheError> {
        self.ensure_up()?;
        let manifest: Option<String> = self
            .pool()
            .get(self.frame_key(key))
            .await
            .map_err(|err| self.failed(err))?;
        let Some(manifest) = manifest.as_deref().and_then(Manifest::parse) else {
            return Ok(None);
        };
        // Never more than this server would have written itself.
        if manifest.bytes as u64 > self.settings().frame_max
            || manifest.chunks != manifest.bytes.div_ceil(CHUNK_BYTES).max(1)
        {
            return Ok(None);
        }
        // Fetched at once over the pool's connections.
        let reads = (0..manifest.chunks).map(|index| {
            let key = self.chunk_key(key, &manifest.version, index);
            async move {
                let chunk: Result<Option<bytes::Bytes>, _> = self.pool().get(key).await;
                chunk.map_err(|err| self.failed(err))
            }
        });
        let chunks = futures_util::future::try_join_all(reads).await?;
        let mut bytes = Vec::with_capacity(manifest.bytes);
        for chunk in chunks {
            match chunk {
                Some(chunk) => bytes.extend_from_slice(&chunk),
                None => return Ok(None), // expired, or replaced meanwhile
            }
        }
        if bytes.len() != manifest.bytes {
            return Ok(None);
        }
        let frame = tokio::task::spawn_blocking(move || {
            IpcReader::new(Cursor::new(bytes)).finish().map(|mut frame| {
                crate::sorted::restore_sorted(&mut frame);
                frame
            })
        })
        .await
        .map_err(|_| CacheError::Storage { tier: "redis" })?;
        match frame {
            Ok(frame) => Ok(Some(frame)),
            Err(err) => {
                tracing::warn!(%err, "a frame in Redis could not be read; it will be rebuilt");
                Ok(None)
            }
        }
    }

    /// Deletes the frame under `key` (manifest first, so no reader starts on it).
    pub async fn remove_frame(&self, key: FrameKey) -> Result<(), CacheError> {
        self.ensure_up()?;
        let manifest: Option<String> = self
            .pool()
            .getdel(self.frame_key(key))
            .await
            .map_err(|err| self.failed(err))?;
        if let Some(manifest) = manifest.as_deref().and_then(Manifest::parse) {
            self.delete_chunks(key, &manifest).await;
        }
        Ok(())
    }

    async fn delete_chunks(&self, key: FrameKey, manifest: &Manifest) {
        let keys: Vec<String> = (0..manifest.chunks)
            .map(|index| self.chunk_key(key, &manifest.version, index))
            .collect();
        let deleted: Result<u64, _> = self.pool().del(keys).await;
        if let Err(err) = deleted {
            tracing::debug!(%err, "old chunks not deleted; they expire");
        }
    }
}
