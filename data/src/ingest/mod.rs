//! Bring your own data: a file or an upload stream becomes a handle.
//!
//! The bytes go to a private temporary file as they arrive ([`Incoming`]), never whole
//! in memory; a CSV/TSV is checked on the way (UTF-8, quotes, record widths, each
//! problem with its line) and its records counted (the upload's progress). Once
//! complete, [`Uploads::ingest`] reads it with polars, keeps the source in a columnar
//! file (CSV becomes Arrow IPC; Parquet and Arrow IPC are kept as they came) and
//! registers a handle whose lineage names that file. A large CSV is parsed while it
//! arrives instead, piece by piece into its kept file (`stream_parse`), so that little
//! is left to do after its last byte. The handle's frame leaves memory
//! at once: views and transforms scan the file lazily ([`Uploads::scan`]), and a read
//! of the whole frame rebuilds it from the file, like any evicted frame.
//!
//! ```no_run
//! # use stayput_cache::{ByteSize, CacheConfig, FrameCache, SessionKey};
//! # use stayput_data::{IngestError, Uploads};
//! # async fn demo(session: SessionKey) -> Result<(), IngestError> {
//! let uploads = Uploads::open(std::path::Path::new("uploads"), 1 << 30, 4 << 30)?;
//! // The cache learns to read ingested frames back and when their files go.
//! let cache = uploads.wire(FrameCache::builder(CacheConfig::new(ByteSize(1 << 30)))).build();
//! // A file on the server's disk…
//! let handle = uploads.ingest_file(&cache, session, std::path::Path::new("weather.csv"), "weather.csv").await?;
//! // …or a stream, chunk by chunk, as an upload arrives.
//! let mut incoming = uploads.incoming(session, "flights.parquet")?;
//! # let chunks: Vec<Vec<u8>> = Vec::new();
//! for chunk in chunks {
//!     incoming.write(&chunk)?; // refuses what is over the limit, checks CSV as it goes
//! }
//! let flights = uploads.ingest(&cache, session, incoming).await?;
//! println!("{} rows × {} columns", flights.rows, flights.cols);
//! # Ok(()) }
//! ```

mod check;
mod format;
#[cfg(test)]
mod fuzz;
mod gunzip;
mod incoming;
mod ipc_footer;
mod json_check;
mod keep;
mod missing;
mod parquet_footer;
mod parse;
mod private_files;
mod scratch;
mod stream_parse;
mod uploads;
mod xlsx;
mod xlsx_zip;

use serde::{Deserialize, Serialize};

pub use check::CsvCheck;
pub use format::{detect, Format};
pub use gunzip::{GZIP_SLACK, MAX_GZIP_RATIO};
pub use incoming::Incoming;
pub(crate) use keep::Kept;
pub use scratch::{Scratch, ScratchBytes};
pub use uploads::Uploads;
pub use xlsx_zip::MAX_XLSX_RATIO;

pub use crate::UPLOAD_RECIPE;

/// Most columns a file may have.
pub const MAX_COLUMNS: u64 = 2_000;

/// Longest record (and so longest cell) of a CSV/TSV file, in bytes.
pub const MAX_RECORD_BYTES: u64 = 8 << 20;

/// Deepest nesting a file's schema may have (a list of lists is 2 deep). polars walks
/// schemas by recursion: checked first, without it, so a deep one is refused, not an abort.
pub const MAX_DEPTH: usize = 64;

/// Most fields a file's schema may have, nested ones included.
pub const MAX_FIELDS: usize = 10_000;

/// Most rows a file may have (polars indexes rows with 32 bits).
pub const MAX_ROWS: u64 = u32::MAX as u64;

/// Most times a binary file's frame may be larger than the file: Parquet and compressed
/// Arrow IPC hold repeated values in a few bytes, so a few hundred bytes can declare
/// gigabytes. Real files seen here stay under 20× (flights-3m.parquet: ~8×).
pub const MAX_EXPANSION: u64 = 1_000;

/// What a binary file's metadata declares, once checked against the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Declared {
    /// Bytes its frame will take while it is read.
    pub(crate) bytes: u64,
    /// Its rows.
    pub(crate) rows: u64,
    /// Bytes of its largest record batch or row group: what a read of it a batch at a
    /// time holds at once.
    pub(crate) largest: u64,
}

/// Reads `into.len()` bytes at `offset` of a `format` file: a file that ends first is
/// truncated.
fn read_at(
    file: &mut std::fs::File,
    offset: u64,
    into: &mut [u8],
    format: &'static str,
) -> Result<(), IngestError> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset)).map_err(IngestError::io)?;
    file.read_exact(into).map_err(|err| match err.kind() {
        std::io::ErrorKind::UnexpectedEof => IngestError::Truncated(format),
        _ => IngestError::io(err),
    })
}

/// The lineage arguments of an ingested frame: which stored file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UploadSource {
    /// The stored file's id (32 hex digits; the session is part of its name on disk).
    pub file: String,
    /// How the file is stored: `"ipc"` or `"parquet"`.
    pub stored: String,
    /// The name it was uploaded under (shown to the user).
    pub name: String,
    /// Bytes the frame takes in memory (its declared size when rebuilt).
    pub bytes: u64,
    /// Rows it holds (0 in lineages written before it was recorded: unknown).
    #[serde(default)]
    pub rows: u64,
}

/// The limits on uploads (the cache's own limits are [`stayput_cache::Limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadLimit {
    /// `Uploads`' largest single upload.
    UploadMax,
    /// The space all kept uploads share.
    UploadsSpace,
}

impl UploadLimit {
    /// Its name in a message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UploadMax => "upload limit",
            Self::UploadsSpace => "space for uploads",
        }
    }
}

impl std::fmt::Display for UploadLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a file could not become a frame. Messages name the problem (and the line, where
/// the format has lines) and never a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Nothing in the file.
    #[error("the file is empty")]
    Empty,
    /// A header and no records.
    #[error("the file has a header but no rows")]
    NoRows,
    /// zip, or gzip inside gzip: not unpacked on the server.
    #[error(
        "the file is {0}: unpack it and upload the CSV, TSV, JSON, Parquet, Arrow or Excel file itself (a text, Parquet or Arrow file may be gzip'd)"
    )]
    Compressed(String),
    /// The name says one format and the bytes another.
    #[error("the file is named as {claimed} but its content is {found}")]
    NotWhatItSays {
        /// What the extension says.
        claimed: &'static str,
        /// What the bytes look like.
        found: &'static str,
    },
    /// Not a format the cache reads.
    #[error("this is not a CSV, TSV, JSON, NDJSON, Parquet, Arrow IPC or Excel (.xlsx) file")]
    Unsupported,
    /// Bytes that are not UTF-8 text.
    #[error("line {line}: the text is not valid UTF-8")]
    InvalidUtf8 {
        /// Line of the first bad byte.
        line: u64,
    },
    /// A record with more or fewer fields than the header.
    #[error("line {line}: {found} fields where the header has {expected}")]
    Ragged {
        /// Line the record starts on.
        line: u64,
        /// Fields of the header.
        expected: u64,
        /// Fields of this record.
        found: u64,
    },
    /// A quoted field that never closes.
    #[error("line {line}: a quoted field is never closed")]
    UnterminatedQuote {
        /// Line the record starts on.
        line: u64,
    },
    /// Text right after a closing quote, or a quote inside an unquoted field.
    #[error("line {line}: a stray quote (quote the whole field, and write a quote inside it as \"\")")]
    BadQuote {
        /// Line of the quote.
        line: u64,
    },
    /// A value that does not fit the type the column's first rows have.
    #[error("{}column {column:?}: the value {value:?} is not {dtype} like the rows before it", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    MixedTypes {
        /// The column.
        column: String,
        /// The value.
        value: String,
        /// The type read from the first rows.
        dtype: String,
        /// Its line, when found.
        line: Option<u64>,
    },
    /// More columns than [`MAX_COLUMNS`].
    #[error("the file has {found} columns; at most {max} are accepted")]
    TooManyColumns {
        /// Columns in the file.
        found: u64,
        /// The limit.
        max: u64,
    },
    /// A record (a line, with its quoted line breaks) longer than [`MAX_RECORD_BYTES`].
    #[error("line {line}: a record is longer than {max} bytes")]
    RecordTooLong {
        /// Line the record starts on.
        line: u64,
        /// The limit.
        max: u64,
    },
    /// A schema nested deeper than [`MAX_DEPTH`].
    #[error("the {format} file's schema is nested more than {max} levels deep")]
    TooDeep {
        /// Its format.
        format: &'static str,
        /// The limit.
        max: usize,
    },
    /// More fields than [`MAX_FIELDS`], nested ones included.
    #[error("the file's schema has more than {max} fields")]
    TooManyFields {
        /// The limit.
        max: usize,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("the file has {found} rows; at most {max} are accepted")]
    TooManyRows {
        /// Rows it declares.
        found: u64,
        /// The limit.
        max: u64,
    },
    /// A file whose frame would be more than [`MAX_EXPANSION`] times its size.
    #[error("the {format} file would expand to {bytes} bytes in memory, more than {max}× its size")]
    Expands {
        /// Its format.
        format: &'static str,
        /// Bytes it declares.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// A file larger than memory whose one record batch or row group is too large to be
    /// read a batch at a time within a stated bound: every read of it decodes one whole.
    #[error(
        "the {format} file is larger than memory, and one {unit} of it takes {} in memory: over {}, a quarter of what one frame may take; write it in smaller {units}",
        stayput_cache::ByteSize(*bytes),
        stayput_cache::ByteSize(*max)
    )]
    UnitTooLarge {
        /// Its format.
        format: &'static str,
        /// What it is read by: a record batch, a row group.
        unit: &'static str,
        /// The same, plural.
        units: &'static str,
        /// Bytes of the largest.
        bytes: u64,
        /// The most allowed.
        max: u64,
    },
    /// A gzip'd upload that unpacks to more than [`MAX_GZIP_RATIO`] times its size.
    #[error("the file unpacks to more than {max}× its size (beyond its first MiB): refused as a likely zip or gzip bomb")]
    Inflates {
        /// The limit.
        max: u64,
    },
    /// An Excel workbook locked with a password, or in the old binary format (`.xls`).
    #[error(
        "the workbook is password-protected or in the old .xls format: save it as .xlsx without a password"
    )]
    LockedWorkbook,
    /// A workbook whose sheet list, shared strings or styles would take more than a
    /// stated bound to open.
    #[error("the workbook's {what} would take more than {max} bytes (or steps) to read")]
    WorkbookTooLarge {
        /// What is too large.
        what: &'static str,
        /// The bound.
        max: u64,
    },
    /// No sheet of the workbook has the name asked for.
    #[error("the workbook has no sheet named {name:?}; its sheets: {sheets}")]
    NoSuchSheet {
        /// The name asked for.
        name: String,
        /// The sheets it has.
        sheets: String,
    },
    /// A binary file cut short.
    #[error("the {0} file is truncated (it does not end with its footer)")]
    Truncated(&'static str),
    /// A file the library could not read.
    #[error("the {format} file could not be read: {reason}")]
    Damaged {
        /// Its format.
        format: &'static str,
        /// What went wrong (one line, no paths).
        reason: String,
    },
    /// More bytes than the limit that applies (named).
    #[error("the file is larger than the {limit} of {max_bytes} bytes")]
    TooLarge {
        /// Which limit: the largest upload, or the space all uploads share.
        limit: UploadLimit,
        /// The limit.
        max_bytes: u64,
    },
    /// The server's storage failed (logged; the message is safe to show).
    #[error("the server could not store the file")]
    Storage,
    /// The cache was not built through [`Uploads::wire`]: it could neither read an
    /// ingested frame back nor know when its file goes. A bug of the server.
    #[error("the server is not wired for uploads")]
    NotWired,
    /// The cache refused the frame (no room in the session's quota, say) or the handle.
    #[error(transparent)]
    Cache(#[from] stayput_cache::CacheError),
}

impl IngestError {
    /// A storage failure, logged with its detail (which may name a path).
    pub(crate) fn io(err: std::io::Error) -> Self {
        tracing::warn!(%err, "upload storage");
        Self::Storage
    }

    /// Whether the file's format is the problem (not its content): 415 in HTTP terms.
    pub fn is_unsupported_format(&self) -> bool {
        matches!(
            self,
            Self::Compressed(_) | Self::NotWhatItSays { .. } | Self::Unsupported | Self::LockedWorkbook
        )
    }
}

/// The ids of kept files a lineage's arguments name (`"file":"<32 hex>"`, also inside
/// the chains of joins).
pub(crate) fn files_named(args: &str, into: &mut std::collections::HashSet<String>) {
    for (i, _) in args.match_indices("\"file\":\"") {
        let start = i + "\"file\":\"".len();
        if let Some(id) = args.get(start..start + 32) {
            into.insert(id.to_owned());
        }
    }
}
