//! Frames in Redis: Arrow IPC files of a few columns each (see `manifest`), in chunks
//! well below Redis's 512 MB value limit.
//!
//! A frame is written as chunks under a fresh version, then its manifest (the version
//! and each file's bytes) is set in one command, which is what makes the new version
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
use polars::prelude::{polars_bail, Column, DataFrame, PolarsResult};
use polars_io::ipc::IpcWriter;
use polars_io::SerWriter;

use super::in_place::{self, AlignedBytes, Decoded};
use super::manifest::{Manifest, FILE_BYTES, MAX_FILES};
use super::{raw_get, SharedStore};
use crate::recipe::BoxFuture;
use crate::sync::lock;
use crate::tier::{ColdTier, FrameKey, Stored, TierUsage};
use crate::{ByteSize, CacheError, Limit};

/// How long each stage of one read from Redis took, in milliseconds
/// ([`RedisTier::load_timed`]; `scripts/bench-redis` prints them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadStages {
    /// The manifest's `GET`.
    pub manifest_ms: f64,
    /// The chunks' `GET`s, read into their files' buffers over a plain connection.
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

impl SharedStore {
    fn frame_key(&self, key: FrameKey) -> String {
        format!(
            "{}:frame:{}:{}",
            self.settings().prefix,
            key.session.uuid().simple(),
            key.id.simple()
        )
    }

    /// The manifest in `text`, if it is one this server could have written (at most
    /// `frame_max` bytes): a manifest read back, or replaced, is never believed further.
    fn manifest(&self, text: Option<&str>) -> Option<Manifest> {
        Manifest::parse(text?, self.settings().frame_max)
    }

    /// Writes `frame` under `key`, its columns in Arrow IPC files of a few columns each
    /// (see `manifest`); returns the bytes written. Frames over the configured
    /// `frame_max` are not written (`Ok(None)`).
    async fn store_frame(&self, key: FrameKey, frame: &DataFrame) -> Result<Option<u64>, CacheError> {
        let max = self.settings().frame_max;
        if frame.estimated_size() as u64 > max {
            return Ok(None);
        }
        self.ensure_up()?;
        let frame = frame.clone();
        let files = tokio::task::spawn_blocking(move || column_files(&frame, max))
            .await
            .map_err(|_| CacheError::Storage { tier: "redis" })?
            .map_err(|err| {
                tracing::warn!(%err, "a frame could not be written as Arrow IPC");
                CacheError::Storage { tier: "redis" }
            })?;
        let Some(files) = files else {
            return Ok(None);
        };
        let ttl = Some(Expiration::PX(SharedStore::ttl_ms(self.settings().frame_ttl)));
        let manifest = Manifest::new(files.iter().map(Vec::len).collect());
        let frame_key = self.frame_key(key);
        let files: Vec<bytes::Bytes> = files.into_iter().map(bytes::Bytes::from).collect();
        // Slices of the files (no copy), sent at once over the pool's connections.
        let writes = manifest.chunks().into_iter().map(|chunk| {
            let bytes = files[chunk.file].slice(chunk.range.clone());
            let chunk_key = manifest.chunk_key(&frame_key, &chunk);
            let ttl = ttl.clone();
            async move {
                let written: Result<(), _> = self.pool().set(chunk_key, bytes, ttl, None, false).await;
                written.map_err(|err| self.failed(err))
            }
        });
        futures_util::future::try_join_all(writes).await?;
        let old: Option<String> = self
            .pool()
            .set(&frame_key, manifest.text(), ttl, None, true)
            .await
            .map_err(|err| self.failed(err))?;
        if let Some(old) = self.manifest(old.as_deref()) {
            self.delete_chunks(&frame_key, &old).await;
        }
        Ok(Some(manifest.bytes()))
    }

    /// The frame under `key`, or `None` when Redis does not hold it (whole), with how
    /// long each stage took.
    async fn load_frame(&self, key: FrameKey) -> Result<(Option<DataFrame>, ReadStages), CacheError> {
        let mut stages = ReadStages::default();
        let started = Instant::now();
        self.ensure_up()?;
        let frame_key = self.frame_key(key);
        let manifest: Option<String> = self
            .pool()
            .get(&frame_key)
            .await
            .map_err(|err| self.failed(err))?;
        stages.manifest_ms = ms_since(started);
        // Never more than this server would have written itself.
        let Some(manifest) = self.manifest(manifest.as_deref()) else {
            return Ok((None, stages));
        };
        // Each file read into a buffer of its own, over a plain connection, and
        // decoded where it lies when it can be: both off the async runtime.
        let endpoint = Arc::clone(&self.endpoint);
        let per_command = self.settings().command_timeout;
        let read = tokio::task::spawn_blocking(move || {
            let fetching = Instant::now();
            let mut files: Vec<AlignedBytes> =
                manifest.files.iter().map(|&n| AlignedBytes::zeroed(n)).collect();
            let whole = fetch(&endpoint, &frame_key, &manifest, &mut files, per_command);
            let fetch_ms = ms_since(fetching);
            match whole {
                Ok(true) => {}
                other => return (other, fetch_ms, None),
            }
            let decoding = Instant::now();
            let frame = join_columns(files);
            let decode_ms = ms_since(decoding);
            let sorting = Instant::now();
            let frame = frame.map(|(mut frame, in_place)| {
                crate::sorted::restore_sorted(&mut frame);
                (frame, in_place)
            });
            (Ok(true), fetch_ms, Some((frame, decode_ms, ms_since(sorting))))
        })
        .await
        .map_err(|_| CacheError::Storage { tier: "redis" })?;
        let (whole, fetch_ms, decoded) = read;
        stages.fetch_ms = fetch_ms;
        match whole {
            Ok(_) => {}
            // Redis could not be reached, or stopped answering: unavailable.
            Err(err @ raw_get::RawError::Io(_)) => {
                self.broke(&err);
                return Err(CacheError::SharedUnavailable);
            }
            // It answered, but not with the chunks (a key of another type, say): the
            // frame is not in Redis, and Redis is still up for everything else.
            Err(err) => {
                tracing::warn!(%err, "a frame's chunks in Redis could not be read; it will be rebuilt");
                return Ok((None, stages));
            }
        }
        // Expired or replaced meanwhile: not in Redis (whole).
        let Some(decoded) = decoded else {
            return Ok((None, stages));
        };
        let (frame, decode_ms, sorted_ms) = decoded;
        stages.decode_ms = decode_ms;
        stages.sorted_ms = sorted_ms;
        match frame {
            Ok((frame, in_place)) => {
                stages.in_place = in_place;
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
        let frame_key = self.frame_key(key);
        let manifest: Option<String> = self
            .pool()
            .getdel(&frame_key)
            .await
            .map_err(|err| self.failed(err))?;
        if let Some(manifest) = self.manifest(manifest.as_deref()) {
            self.delete_chunks(&frame_key, &manifest).await;
        }
        Ok(())
    }

    async fn delete_chunks(&self, frame_key: &str, manifest: &Manifest) {
        let keys: Vec<String> = manifest
            .chunks()
            .iter()
            .map(|chunk| manifest.chunk_key(frame_key, chunk))
            .collect();
        let deleted: Result<u64, _> = self.pool().del(keys).await;
        if let Err(err) = deleted {
            tracing::debug!(%err, "old chunks not deleted; they expire");
        }
    }
}

/// Columns of `frame`, in order, as Arrow IPC files of one record batch each: a column
/// of [`FILE_BYTES`] or more is a file of its own, narrower ones share a file up to about
/// that size (so a step keeping one column keeps at most that much more alive, and a
/// frame of thousands of narrow columns is still a few files). `None` once the files pass
/// `max` bytes in all.
fn column_files(frame: &DataFrame, max: u64) -> PolarsResult<Option<Vec<Vec<u8>>>> {
    let mut groups: Vec<Vec<Column>> = Vec::new();
    let mut group_bytes = usize::MAX;
    for column in frame.columns() {
        let bytes = column.as_materialized_series().estimated_size();
        if group_bytes >= FILE_BYTES || bytes >= FILE_BYTES {
            groups.push(Vec::new());
            group_bytes = 0;
        }
        group_bytes += bytes;
        if let Some(group) = groups.last_mut() {
            group.push(column.clone());
        }
    }
    if groups.is_empty() {
        groups.push(Vec::new()); // a frame of no columns: one file of none
    }
    if groups.len() > MAX_FILES {
        return Ok(None);
    }
    let mut files = Vec::with_capacity(groups.len());
    let mut total = 0u64;
    for group in groups {
        let mut part = DataFrame::new(frame.height(), group)?;
        // One batch, so that it reads back as one chunk.
        part.rechunk_mut();
        let mut out = Vec::new();
        IpcWriter::new(&mut out).finish(&mut part)?;
        total += out.len() as u64;
        if total > max {
            return Ok(None);
        }
        files.push(out);
    }
    Ok(Some(files))
}

/// Reads every chunk of `manifest` into its place in its file's buffer.
fn fetch(
    endpoint: &raw_get::Endpoint,
    frame_key: &str,
    manifest: &Manifest,
    files: &mut [AlignedBytes],
    per_command: std::time::Duration,
) -> Result<bool, raw_get::RawError> {
    let chunks = manifest.chunks();
    let mut pieces = Vec::with_capacity(chunks.len());
    let mut rest: Vec<&mut [u8]> = files.iter_mut().map(AlignedBytes::as_mut_bytes).collect();
    for chunk in &chunks {
        // The chunks of a file come in order: each takes the front of what is left.
        let left = std::mem::take(&mut rest[chunk.file]);
        let (piece, after) = left.split_at_mut(chunk.range.len());
        rest[chunk.file] = after;
        pieces.push((manifest.chunk_key(frame_key, chunk), piece));
    }
    raw_get::read_into(endpoint, pieces, per_command)
}

/// The frame of the files' columns, and whether every column was built where it was
/// read (see `in_place`).
fn join_columns(files: Vec<AlignedBytes>) -> PolarsResult<(DataFrame, bool)> {
    let mut columns = Vec::new();
    let mut in_place = true;
    let mut height = None;
    for file in files {
        let (part, how) = in_place::decode(file)?;
        in_place &= how == Decoded::InPlace;
        if height.is_some_and(|h| h != part.height()) {
            polars_bail!(ComputeError: "the files of a frame in Redis differ in height");
        }
        height = Some(part.height());
        columns.extend(part.into_columns());
    }
    Ok((DataFrame::new(height.unwrap_or(0), columns)?, in_place))
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
