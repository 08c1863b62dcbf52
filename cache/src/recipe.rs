//! Recipes: named functions that rebuild a frame from the arguments in its lineage.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use polars::prelude::DataFrame;
use serde::de::DeserializeOwned;

use crate::error::RecipeError;
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

/// The registered recipes, by name.
#[derive(Clone, Default)]
pub(crate) struct Recipes {
    by_name: HashMap<String, Arc<RecipeFn>>,
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

    pub(crate) fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
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
