//! Recipes: named functions that rebuild a frame from the arguments in its lineage.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use polars::prelude::DataFrame;
use serde::de::DeserializeOwned;

use crate::disk::one_batch::body_bytes;
use crate::disk::ColumnsWriter;
use crate::error::RecipeError;
use crate::tier::WriteFn;
use crate::{CacheError, Lineage};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type RecipeFn = dyn Fn(&str) -> BoxFuture<'static, Result<DataFrame, CacheError>> + Send + Sync;

/// The bytes a recipe's frame will take, from its arguments (JSON text).
type SizeFn = dyn Fn(&str) -> Result<u64, CacheError> + Send + Sync;

/// A recipe's error as the cache's: a [`CacheError`] it passed on stays itself (a
/// reservation that did not fit is `TooLarge`, not a failed recipe); any other keeps its
/// type inside [`CacheError::Recipe`].
fn recipe_failed<E: Into<Box<dyn std::error::Error + Send + Sync>>>(err: E) -> CacheError {
    let err = RecipeError::new(err);
    match err.downcast_ref::<CacheError>() {
        Some(cache) => cache.clone(),
        None => CacheError::Recipe(err),
    }
}

/// The frame a disk recipe makes ([`crate::FrameCacheBuilder::disk_recipe`]): f64
/// columns with no nulls, named in order, of `rows` rows each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskShape {
    /// The columns' names, in the order their values are given.
    pub columns: Vec<String>,
    /// Rows of each column.
    pub rows: u64,
}

/// Where a disk recipe gives its values: the first column's in order, then the next
/// column's. It fails when the write fails, or once the request waiting has gone away.
pub type Values<'a> = &'a mut dyn FnMut(&[f64]) -> std::io::Result<()>;

/// What a disk-file recipe's write takes ([`crate::FrameCacheBuilder::disk_file_recipe`]):
/// about how many bytes its file has, reserved in the disk budget before it starts, and
/// the memory it holds while it runs (its batches in flight), reserved in the memory
/// budget and the session's quota until it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskWrite {
    /// Bytes of the file.
    pub file: u64,
    /// Bytes of memory the write holds at most at once.
    pub memory: u64,
}

/// What a disk recipe will write, from its arguments: the frame's shape when the recipe
/// says it (f64 columns, [`crate::FrameCacheBuilder::disk_recipe`]), about how many bytes
/// its file takes (reserved in the disk budget first), the memory the write holds, and
/// the write itself.
pub(crate) struct DiskJob {
    pub(crate) shape: Option<DiskShape>,
    pub(crate) bytes: u64,
    pub(crate) memory: u64,
    pub(crate) write: WriteFn,
}

/// A disk recipe: from its arguments, what it will write.
type DiskFn = dyn Fn(&str) -> Result<DiskJob, CacheError> + Send + Sync;

/// A recipe's arguments read from their JSON text.
fn parse_args<A: DeserializeOwned>(function: &str, args: &str) -> Result<A, CacheError> {
    serde_json::from_str(args).map_err(|err| CacheError::BadArguments {
        function: function.to_owned(),
        reason: err.to_string(),
    })
}

/// The registered recipes, by name.
#[derive(Clone, Default)]
pub(crate) struct Recipes {
    by_name: HashMap<String, Arc<RecipeFn>>,
    disk: HashMap<String, Arc<DiskFn>>,
    sizes: HashMap<String, Arc<SizeFn>>,
    to_end: HashSet<String>,
}

impl Recipes {
    /// Declares the size of the frames `name` makes, so that the cache reserves it
    /// before running the recipe.
    pub(crate) fn add_size<A>(&mut self, name: &str, size: impl Fn(&A) -> u64 + Send + Sync + 'static)
    where
        A: DeserializeOwned + 'static,
    {
        let function = name.to_owned();
        let size = move |args: &str| -> Result<u64, CacheError> {
            let args: A = serde_json::from_str(args).map_err(|err| CacheError::BadArguments {
                function: function.clone(),
                reason: err.to_string(),
            })?;
            Ok(size(&args))
        };
        self.sizes.insert(name.to_owned(), Arc::new(size));
    }

    /// The bytes the frame of `lineage` will take, when its recipe declared it.
    pub(crate) fn expected_bytes(&self, lineage: &Lineage) -> Result<Option<u64>, CacheError> {
        self.sizes
            .get(&lineage.function)
            .map(|size| size(&lineage.args))
            .transpose()
    }

    pub(crate) fn add<A, F, Fut, E>(&mut self, name: &str, recipe: F)
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<DataFrame, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    {
        let function = name.to_owned();
        let recipe = Arc::new(recipe);
        let call = move |args: &str| -> BoxFuture<'static, Result<DataFrame, CacheError>> {
            let parsed: Result<A, _> = serde_json::from_str(args);
            let function = function.clone();
            let recipe = Arc::clone(&recipe);
            Box::pin(async move {
                let args = parsed.map_err(|err| CacheError::BadArguments {
                    function,
                    reason: err.to_string(),
                })?;
                recipe(args).await.map_err(recipe_failed)
            })
        };
        self.by_name.insert(name.to_owned(), Arc::new(call));
    }

    /// Registers the disk recipe `name`: `shape` says what `fill` gives, `fill` gives
    /// it, on the blocking pool.
    pub(crate) fn add_disk<A, E>(
        &mut self,
        name: &str,
        shape: impl Fn(&A) -> DiskShape + Send + Sync + 'static,
        fill: impl Fn(A, Values<'_>) -> Result<(), E> + Send + Sync + 'static,
    ) where
        A: DeserializeOwned + Send + 'static,
        E: std::fmt::Display,
    {
        let function = name.to_owned();
        let fill = Arc::new(fill);
        let job = move |args: &str| -> Result<DiskJob, CacheError> {
            let args: A = parse_args(&function, args)?;
            let made = shape(&args);
            let (columns, rows) = (made.columns.clone(), made.rows);
            let fill = Arc::clone(&fill);
            let write: WriteFn = Box::new(move |out: &mut dyn std::io::Write| {
                let mut writer = ColumnsWriter::start(out, &columns, rows)?;
                {
                    let mut push = |values: &[f64]| writer.push(values);
                    fill(args, &mut push).map_err(|err| std::io::Error::other(err.to_string()))?;
                }
                writer.finish().map(|_| ())
            });
            Ok(DiskJob {
                bytes: body_bytes(made.columns.len(), made.rows),
                // A column's values are handed over a block at a time.
                memory: 0,
                shape: Some(made),
                write,
            })
        };
        self.disk.insert(name.to_owned(), Arc::new(job));
    }

    /// Registers `write` as how the recipe `name` writes its frame's Arrow IPC file
    /// straight into the disk tier (taking what `cost` says), for its frames placed on
    /// disk.
    pub(crate) fn add_disk_file<A>(
        &mut self,
        name: &str,
        cost: impl Fn(&A) -> DiskWrite + Send + Sync + 'static,
        write: impl Fn(A, &mut dyn std::io::Write) -> std::io::Result<()> + Send + Sync + 'static,
    ) where
        A: DeserializeOwned + Send + 'static,
    {
        let function = name.to_owned();
        let write = Arc::new(write);
        let job = move |args: &str| -> Result<DiskJob, CacheError> {
            let args: A = parse_args(&function, args)?;
            let cost = cost(&args);
            let write = Arc::clone(&write);
            Ok(DiskJob {
                shape: None,
                bytes: cost.file,
                memory: cost.memory,
                write: Box::new(move |out: &mut dyn std::io::Write| write(args, out)),
            })
        };
        self.disk.insert(name.to_owned(), Arc::new(job));
    }

    /// What the disk recipe of `lineage` writes; `None` when it has none.
    pub(crate) fn disk_job(&self, lineage: &Lineage) -> Option<Result<DiskJob, CacheError>> {
        self.disk.get(&lineage.function).map(|job| job(&lineage.args))
    }

    /// Whether the frames of `lineage`'s recipe placed as `placement` are written by it
    /// straight into the disk tier: always for a recipe that writes only there, and for
    /// one that also builds frames in memory, those placed on disk.
    pub(crate) fn writes_to_disk(&self, name: &str, placement: crate::Placement) -> bool {
        self.disk.contains_key(name)
            && (placement == crate::Placement::Disk || !self.by_name.contains_key(name))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.disk.contains_key(name)
    }

    /// Marks the recipe `name` as work that cannot be stopped once started.
    pub(crate) fn run_to_end(&mut self, name: &str) {
        self.to_end.insert(name.to_owned());
    }

    /// Runs the recipe of `lineage`, holding `hold` (its memory reservation, say) while
    /// it runs, and hands `hold` back with the frame. A recipe that runs to its end does
    /// so in its own task: when the caller goes away, the work goes on and `hold` is
    /// dropped only when it ends, so its memory is never handed to the next request
    /// while the work still uses it.
    pub(crate) async fn run_holding<H: Send + 'static>(
        &self,
        lineage: &Lineage,
        hold: H,
    ) -> Result<(DataFrame, H), CacheError> {
        let recipe = self
            .by_name
            .get(&lineage.function)
            .ok_or_else(|| CacheError::NoRecipe(lineage.function.clone()))?;
        let work = recipe(&lineage.args);
        if !self.to_end.contains(&lineage.function) {
            return work.await.map(|frame| (frame, hold));
        }
        let (frame, hold) = tokio::spawn(async move { (work.await, hold) })
            .await
            .map_err(|_| recipe_failed(format!("the recipe {} panicked", lineage.function)))?;
        frame.map(|frame| (frame, hold))
    }
}
