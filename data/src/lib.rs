//! Bring your own data: files and uploads become frames behind handles, checked before
//! they are believed.
//!
//! `Uploads` is the directory a server keeps uploaded files in. An upload arrives
//! chunk by chunk into an `Incoming` (a CSV or JSON checked on the way), becomes a
//! frame in a `stayput_cache::FrameCache` (`Uploads::ingest`), and stays on disk as
//! the frame's source: views scan the kept file lazily (`Uploads::scan`), and a read
//! of the whole frame rebuilds it from there. Build the cache through
//! `Uploads::wire`, so it knows how to read the files back and when they go.
//!
//! # Layout
//! - `ingest`: files as frames: a file's kind by its bytes (`format`), a CSV checked as
//!   it streams (`check`), the missing-value spellings a CSV holds (`missing`), JSON checked likewise (`json_check`), gzip unpacked as it
//!   arrives (`gunzip`), Arrow and Parquet metadata checked against the file
//!   (`ipc_footer`, `parquet_footer`), Excel workbooks checked and read (`xlsx_zip`,
//!   `xlsx`), polars' readers (`parse`), the uploads directory and its budget (`uploads`),
//!   its files (`private_files`),
//!   an upload arriving (`incoming`), downloads' scratch files (`scratch`), the fuzzing
//!   campaign (`fuzz`, tests only).
//! - `into_cache`: ingested files becoming handles in the cache, and the cache wired to
//!   read them back (`Uploads::wire`, `Uploads::ingest`, `Uploads::source_of`).
//! - [`transform`]: `/data`'s steps as the browser sends them ([`transform::Transform`]; always
//!   built, shared with the wasm client).
//! - `chain`: a frame's chain (its upload and the steps after it, the lineage of every
//!   transformed frame) and how each step becomes part of one lazy polars query, every
//!   column and value checked first; `exprs`: the expressions of a step's parts
//!   (aggregates, derived columns, filter conditions).
//! - `sizing`: what running a chain will take in memory (a join's real row widths, a
//!   chain's peak), worked out before it runs.
//! - `streamed`: lazy queries run by polars' streaming engine a batch at a time, into an
//!   Arrow IPC file (frames larger than memory) or only counted (their check).
//! - [`table`]: a frame's schema with each column's nulls and range, and pages of its
//!   rows (the types always built; the functions with `engine`).
//! - [`error`]: [`StepError`], why a step could not be planned, sized or run.
//!
//! Without its default `engine` feature the crate holds only plain data types, with no
//! polars or tokio, so the browser build can use them.

#[cfg(feature = "engine")]
pub mod chain;
pub mod error;
#[cfg(feature = "engine")]
mod exprs;
#[cfg(feature = "engine")]
pub mod ingest;
#[cfg(feature = "engine")]
mod into_cache;
#[cfg(feature = "engine")]
pub mod sizing;
#[cfg(feature = "engine")]
pub mod streamed;
pub mod table;
pub mod transform;

pub use error::StepError;

/// The recipe that reads an ingested frame back from its kept file (the file is its
/// lineage's arguments, an `UploadSource`): `Uploads::wire` registers it.
pub const UPLOAD_RECIPE: &str = "upload";

/// The recipe that makes a transformed frame by running its chain (the chain is its
/// lineage's arguments): an app registers `Chain::run` under this name.
pub const TRANSFORM_RECIPE: &str = "transform";

#[cfg(feature = "engine")]
pub use ingest::{
    Incoming, IngestError, UploadLimit, UploadSource, Uploads, GZIP_SLACK, MAX_COLUMNS, MAX_DEPTH,
    MAX_EXPANSION, MAX_FIELDS, MAX_GZIP_RATIO, MAX_ROWS, MAX_XLSX_RATIO,
};
