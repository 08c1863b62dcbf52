//! The names of Stayput's recipes: what a frame's lineage says made it. The server
//! registers recipes under these names; pages read them back from `/cache`'s listing.

/// The benchmark's frame of uniform random numbers. The name says its generator
/// (wyrand): a lineage recorded by a server that filled with SplitMix64 (recipe
/// `create_frame`, e.g. in a shared Redis during an upgrade) is not rebuilt into
/// different numbers here; it reads as expired.
pub const CREATE_FRAME: &str = "create_frame/wyrand";

/// `/explore`'s uniform random numbers larger than memory, made straight into the disk
/// tier (the same numbers as [`CREATE_FRAME`]'s for the same seed).
pub const UNIFORM_ON_DISK: &str = "uniform_on_disk/wyrand";

/// `/explore`'s built-in time series.
pub const TIME_SERIES: &str = "time_series";

/// A file or upload, and `/data`'s transforms (an upload's chain of steps): the data
/// crate's recipes.
pub use stayput_data::{TRANSFORM_RECIPE as TRANSFORM, UPLOAD_RECIPE as UPLOAD};
