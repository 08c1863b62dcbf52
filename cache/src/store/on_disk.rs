//! Frames larger than memory: made straight into the disk tier by a disk recipe
//! ([`crate::FrameCacheBuilder::disk_recipe`]), never whole in memory, and read back
//! memory-mapped. They count against the disk budget, not the memory budget or a
//! session's quota; a read brings in only the pages it touches.

use polars::prelude::DataFrame;
use serde::Serialize;
use std::sync::{Arc, Mutex};

use super::put::Undo;
use super::FrameCache;
use crate::state::Data;
use crate::sync::lock;
use crate::tier::FrameKey;
use crate::{CacheError, FrameHandle, FrameId, Lineage, Placement, RecipeError, SessionKey};

impl FrameCache {
    /// Runs the disk recipe `function` on `args`, its frame written straight into the
    /// disk tier chunk by chunk, and returns its handle. Refused before anything is
    /// written when the cache has no disk tier ([`CacheError::NoDisk`]), when `function`
    /// has no disk recipe ([`CacheError::NoRecipe`]), or when the frame is larger than
    /// the disk budget ([`CacheError::TooLarge`]). Evicted from the disk tier later, a
    /// read writes it again from its lineage.
    pub async fn make_on_disk<A: Serialize>(
        &self,
        session: SessionKey,
        function: &str,
        args: &A,
    ) -> Result<FrameHandle, CacheError> {
        let lineage = Lineage::new(function, args)?;
        self.build_on_disk(session, lineage, ()).await
    }

    /// [`FrameCache::make_on_disk`] of `lineage`, holding `hold` until its write ends
    /// (though the caller goes away first). Its handle is listed while it is written (a
    /// read of it joins the write), with the shape its recipe says, or none until the
    /// frame read back gives it.
    pub(super) async fn build_on_disk<H: Send + 'static>(
        &self,
        session: SessionKey,
        lineage: Lineage,
        hold: H,
    ) -> Result<FrameHandle, CacheError> {
        let Some(cold) = self.inner.cold.as_ref() else {
            return Err(CacheError::NoDisk);
        };
        let job = self
            .inner
            .recipes
            .disk_job(&lineage)
            .ok_or_else(|| CacheError::NoRecipe(lineage.function.clone()))??;
        let bytes = job.bytes;
        Self::fits_disk(cold.as_ref(), bytes)?;
        let (rows, cols) = job
            .shape
            .as_ref()
            .map_or((0, 0), |shape| (shape.rows, shape.columns.len() as u64));
        drop(job);
        let key = self.new_key(session).await;
        let mut handle = FrameHandle {
            id: FrameId::from(key.id.to_string()),
            rows,
            cols,
            bytes,
        };
        self.insert_new(key, Placement::Disk, Some(lineage.clone()), &handle, true);
        let mut undo = Undo {
            cache: self,
            key,
            armed: true,
        };
        // In the flight a read of this key joins (its id is listed while it is written):
        // one write of the file, never two at once.
        let hold: Box<dyn Send> = Box::new(hold);
        let frame = self
            .inner
            .rebuilding
            .run(key, || self.write_on_disk(key, &lineage, hold))
            .await?;
        (handle.rows, handle.cols) = (frame.height() as u64, frame.width() as u64);
        drop(frame);
        if let Some(entry) = self.state().entries.get(&key) {
            handle.bytes = entry.bytes;
        }
        // Every server must know the handle before the browser has it.
        self.publish(key, None, false).await?;
        self.report_held(session).await;
        undo.armed = false;
        Ok(handle)
    }

    /// [`CacheError::TooLarge`] for a frame of `bytes` larger than the disk budget of
    /// `cold`: no eviction could make room for it.
    pub(super) fn fits_disk(cold: &dyn crate::tier::ColdTier, bytes: u64) -> Result<(), CacheError> {
        let budget = cold.usage().budget;
        let needed = cold.reserved_for_file(bytes);
        if needed > budget {
            return Err(CacheError::TooLarge {
                needed: crate::ByteSize(needed),
                limit: crate::Limit::DiskBudget,
                budget: crate::ByteSize(budget),
            });
        }
        Ok(())
    }

    /// Writes the frame of `key` into the disk tier by its disk recipe, and reads it
    /// back (mapped): what a read of a frame evicted from the disk tier does, once
    /// however many readers ask at the same time.
    pub(super) async fn rebuild_on_disk(
        &self,
        key: FrameKey,
        lineage: Lineage,
    ) -> Result<Arc<DataFrame>, CacheError> {
        self.inner
            .rebuilding
            .run(key, || async {
                if let Some(frame) = self.load_cold(key).await? {
                    return Ok(frame); // another reader wrote it meanwhile
                }
                let frame = self.write_on_disk(key, &lineage, Box::new(())).await?;
                crate::metrics::Counters::bump(&self.inner.counters.recomputes);
                Ok(frame)
            })
            .await
    }

    /// Runs the disk recipe of `lineage` into the disk tier under `key` and reads it back
    /// (mapped); then marks the entry as there with the frame's shape, in one step, so no
    /// one sees it there without its rows (or forgets the file again if the entry went
    /// meanwhile). The memory the write holds is reserved first; that reservation and
    /// `hold` go with the write itself, released when it really ends.
    async fn write_on_disk(
        &self,
        key: FrameKey,
        lineage: &Lineage,
        hold: Box<dyn Send>,
    ) -> Result<Arc<DataFrame>, CacheError> {
        let Some(cold) = self.inner.cold.as_ref() else {
            return Err(CacheError::NoDisk);
        };
        let job = self
            .inner
            .recipes
            .disk_job(lineage)
            .ok_or_else(|| CacheError::NoRecipe(lineage.function.clone()))??;
        let working = match job.memory {
            0 => None,
            bytes => Some(self.reserve_counting(key.session, bytes, false).await?),
        };
        // The recipe's own error (a step the data cannot take), as it said it.
        let failed: Arc<Mutex<Option<RecipeError>>> = Arc::default();
        let write = job.write;
        let write: crate::WriteFn = Box::new({
            let failed = Arc::clone(&failed);
            move |out: &mut dyn std::io::Write| {
                let _held_to_the_end = (working, hold);
                write(out).inspect_err(|err| {
                    if let Some(own) = err.get_ref().and_then(|e| e.downcast_ref::<RecipeError>()) {
                        *lock(&failed) = Some(own.clone());
                    }
                })
            }
        });
        let started = std::time::Instant::now();
        let stored = cold.store_written(key, job.bytes, write).await;
        self.cold_lost();
        let own = lock(&failed).take();
        if let Some(own) = own {
            return Err(CacheError::Recipe(own));
        }
        let stored = stored?;
        self.cold_evicted(&stored.evicted);
        // Its file may have made room for another's before it was read: a read makes
        // it again.
        let frame = cold.load(key).await?.ok_or(CacheError::Expired)?;
        let kept = {
            let mut state = self.state();
            let kept = state.entries.contains_key(&key);
            if kept {
                state.set_data(key, Data::Cold);
                if let Some(entry) = state.entries.get_mut(&key) {
                    entry.bytes = stored.bytes;
                    (entry.rows, entry.cols) = (frame.height() as u64, frame.width() as u64);
                }
            }
            kept
        };
        if !kept {
            // Dropped while it was written (its owner, or its session ended).
            let _ = cold.remove(key).await;
            return Err(CacheError::Unknown);
        }
        tracing::info!(
            frame = %key.id,
            recipe = %lineage.function,
            bytes = stored.bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "made on disk"
        );
        Ok(frame)
    }
}
