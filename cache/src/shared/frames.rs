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
//!
//! [`RedisTier`] is this behind the [`ColdTier`] trait, like the disk tier: the cache
//! writes frames through it for the other servers and reads theirs through it, and it
//! can serve as a single server's cold tier too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use fred::prelude::{Expiration, KeysInterface};
use polars::prelude::DataFrame;
use polars_io::ipc::IpcWriter;
use polars_io::SerWriter;
use uuid::Uuid;

use super::in_place::{self, AlignedBytes, Decoded};
use super::{raw_get, SharedStore};
use crate::recipe::BoxFuture;
use crate::sync::lock;
use crate::tier::{ColdTier, FrameKey, Stored, TierUsage};
use crate::{ByteSize, CacheError, Limit};

/// Bytes of one chunk: 8 MiB, a few milliseconds of Redis's time each.
pub(crate) const CHUNK_BYTES: usize = 8 << 20;

/// How long each stage of one read from Redis took, in milliseconds
/// ([`RedisTier::load_timed`]; `scripts/bench-redis` prints them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadStages {
    /// The manifest's `GET`.
    pub manifest_ms: f64,
    /// The chunks' `GET`s, read into the frame's buffer over plain connections.
    pub fetch_ms: f64,
    /// Arrow IPC decoded: the frame built over the buffer, or copied out of it.
    pub decode_ms: f64,
    /// Sorted columns found and flagged (see the disk tier).
    pub sorted_ms: f64,
    /// Whether the frame was built over the buffer it was read into (fixed-width
    /// columns) rather than copied out of it.
    pub in_place: bool,
}

fn ms_since(at: Instant) -> f64 {
    at.elapsed().as_secs_f64() * 1e3
}

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
    async fn store_frame(&self, key: FrameKey, frame: &DataFrame) -> Result<Option<u64>, CacheError> {
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

    /// The frame under `key`, or `None` when Redis does not hold it (whole), with how
    /// long each stage took.
    async fn load_frame(&self, key: FrameKey) -> Result<(Option<DataFrame>, ReadStages), CacheError> {
        let mut stages = ReadStages::default();
        let started = Instant::now();
        self.ensure_up()?;
        let manifest: Option<String> = self
            .pool()
            .get(self.frame_key(key))
            .await
            .map_err(|err| self.failed(err))?;
        stages.manifest_ms = ms_since(started);
        let Some(manifest) = manifest.as_deref().and_then(Manifest::parse) else {
            return Ok((None, stages));
        };
        // Never more than this server would have written itself.
        if manifest.bytes as u64 > self.settings().frame_max
            || manifest.chunks != manifest.bytes.div_ceil(CHUNK_BYTES).max(1)
        {
            return Ok((None, stages));
        }
        // Read into one buffer the frame will keep, over a plain connection of its own,
        // and decoded where it lies when it can be: both off the async runtime.
        let keys: Vec<String> = (0..manifest.chunks)
            .map(|index| self.chunk_key(key, &manifest.version, index))
            .collect();
        let endpoint = Arc::clone(&self.endpoint);
        let per_command = self.settings().command_timeout;
        let bytes = manifest.bytes;
        let read = tokio::task::spawn_blocking(move || {
            let fetching = Instant::now();
            let mut buffer = AlignedBytes::zeroed(bytes);
            let whole = raw_get::read_into(&endpoint, &keys, buffer.as_mut_bytes(), CHUNK_BYTES, per_command);
            let fetch_ms = ms_since(fetching);
            match whole {
                Ok(true) => {}
                other => return (other, fetch_ms, None),
            }
            let decoding = Instant::now();
            let frame = in_place::decode(buffer);
            let decode_ms = ms_since(decoding);
            let sorting = Instant::now();
            let frame = frame.map(|(mut frame, how)| {
                crate::sorted::restore_sorted(&mut frame);
                (frame, how)
            });
            (Ok(true), fetch_ms, Some((frame, decode_ms, ms_since(sorting))))
        })
        .await
        .map_err(|_| CacheError::Storage { tier: "redis" })?;
        let (whole, fetch_ms, decoded) = read;
        stages.fetch_ms = fetch_ms;
        whole.map_err(|err| {
            self.broke(&err);
            CacheError::SharedUnavailable
        })?;
        // Expired or replaced meanwhile: not in Redis (whole).
        let Some(decoded) = decoded else {
            return Ok((None, stages));
        };
        let (frame, decode_ms, sorted_ms) = decoded;
        stages.decode_ms = decode_ms;
        stages.sorted_ms = sorted_ms;
        match frame {
            Ok((frame, how)) => {
                stages.in_place = how == Decoded::InPlace;
                Ok((Some(frame), stages))
            }
            Err(err) => {
                tracing::warn!(%err, "a frame in Redis could not be read; it will be rebuilt");
                Ok((None, stages))
            }
        }
    }

    /// Deletes the frame under `key` (manifest first, so no reader starts on it).
    async fn remove_frame(&self, key: FrameKey) -> Result<(), CacheError> {
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

/// Frames in Redis behind the [`ColdTier`] trait (see the module's docs). Cheap to clone:
/// clones share the connection and the record of what this server wrote.
///
/// As a single server's cold tier, mind that every frame expires `frame_ttl` after it
/// was written (reads do not renew it): set it to at least the idle timeout, or give
/// the frames a recipe so an expired one is rebuilt. Redis bounds its own memory
/// (`maxmemory`); the tier reports no budget of its own.
#[derive(Debug, Clone)]
pub struct RedisTier {
    store: SharedStore,
    /// The frames this server wrote, their bytes and when, dropped when this server
    /// removes them or their time to live has passed. Another server may replace or
    /// remove one meanwhile; what is listed here is what this server put there.
    written: Arc<Mutex<HashMap<FrameKey, (u64, Instant)>>>,
}

impl RedisTier {
    /// The tier over `store`'s connection, with its settings (`frame_max`, `frame_ttl`).
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            written: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// [`ColdTier::load`], with how long each stage took (for benchmarks).
    pub async fn load_timed(&self, key: FrameKey) -> Result<(Option<DataFrame>, ReadStages), CacheError> {
        self.store.load_frame(key).await
    }

    /// The record of what this server wrote, its expired entries dropped: on every write
    /// too, since a server that shares frames never asks for its usage and the record
    /// must not grow with every frame it ever wrote.
    fn written(&self) -> MutexGuard<'_, HashMap<FrameKey, (u64, Instant)>> {
        let ttl = self.store.settings().frame_ttl;
        let mut written = lock(&self.written);
        written.retain(|_, (_, at)| at.elapsed() < ttl);
        written
    }
}

impl ColdTier for RedisTier {
    fn name(&self) -> &'static str {
        "redis"
    }

    /// Refuses a frame over `frame_max` ([`Limit::RedisFrameMax`]): it stays where it
    /// was made, and other servers rebuild it from its lineage.
    fn store(&self, key: FrameKey, frame: Arc<DataFrame>) -> BoxFuture<'_, Result<Stored, CacheError>> {
        Box::pin(async move {
            match self.store.store_frame(key, &frame).await? {
                Some(bytes) => {
                    self.written().insert(key, (bytes, Instant::now()));
                    Ok(Stored {
                        bytes,
                        evicted: Vec::new(),
                    })
                }
                None => Err(CacheError::TooLarge {
                    needed: ByteSize(frame.estimated_size() as u64),
                    limit: Limit::RedisFrameMax,
                    budget: ByteSize(self.store.settings().frame_max),
                }),
            }
        })
    }

    fn load(&self, key: FrameKey) -> BoxFuture<'_, Result<Option<Arc<DataFrame>>, CacheError>> {
        Box::pin(async move { Ok(self.store.load_frame(key).await?.0.map(Arc::new)) })
    }

    fn remove(&self, key: FrameKey) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            lock(&self.written).remove(&key);
            self.store.remove_frame(key).await
        })
    }

    fn usage(&self) -> TierUsage {
        let written = self.written();
        TierUsage {
            entries: written.len() as u64,
            bytes: written.values().map(|(bytes, _)| bytes).sum(),
            budget: 0,
        }
    }
}
