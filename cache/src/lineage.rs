//! How a frame was made: the recipe (a named function) and its arguments.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The function and arguments that produced a frame. Arguments are kept as JSON, so
/// the lineage is small, comparable (memoization keys on it) and shown on `/cache`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lineage {
    /// Name of the recipe (usually the server function's name).
    pub function: String,
    /// The arguments, as compact JSON.
    pub args: String,
}

#[cfg(feature = "server")]
impl Lineage {
    /// The lineage of `function(args)`. Fails only when `args` cannot be written as JSON.
    pub fn new<A: Serialize>(function: &str, args: &A) -> Result<Self, crate::CacheError> {
        let args = serde_json::to_string(args).map_err(|err| crate::CacheError::BadArguments {
            function: function.to_owned(),
            reason: err.to_string(),
        })?;
        if args.len() > crate::state::MAX_LINEAGE_BYTES {
            return Err(crate::CacheError::LineageTooLong {
                bytes: args.len(),
                max: crate::state::MAX_LINEAGE_BYTES,
            });
        }
        Ok(Self {
            function: function.to_owned(),
            args,
        })
    }
}

impl fmt::Display for Lineage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.function, self.args)
    }
}
