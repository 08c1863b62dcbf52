//! What a Parquet file says it holds, checked against the file before polars reads it.
//!
//! A Parquet file's footer is believed by its readers: a row group's `total_byte_size`
//! is measured after encoding, so a list of 2^27 equal values costs 644 bytes on disk and
//! 1 GiB in memory, and polars builds the schema tree by recursion. This module decodes
//! the footer itself with the thrift types polars-parquet uses (`polars-parquet-format`,
//! whose reader caps what a declared list may allocate and how deep it skips), then:
//!
//! - walks the flat schema list with an explicit stack, refusing it deeper than
//!   [`MAX_DEPTH`], with more than [`MAX_FIELDS`] elements or [`MAX_COLUMNS`] at the top;
//! - checks every column chunk lies inside the file (no chunk in another file, no
//!   encrypted or missing metadata) and reads each of its page headers, since a page's
//!   own value count and uncompressed size are what the decoder allocates by;
//! - sizes the frame from the values each chunk and its pages declare, at the physical
//!   width of the column (a 16-byte view for byte arrays, plus their bytes), a byte a
//!   value for validity, 8 bytes a value for each list level's offsets, and each page's
//!   uncompressed size.
//!
//! The caller reserves that many bytes in the session's room, or refuses the file, and
//! refuses a file that would expand more than [`MAX_EXPANSION`] times.
//!
//! [`MAX_EXPANSION`]: super::MAX_EXPANSION

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
use polars_parquet_format::{
    ColumnChunk, ConvertedType, FieldRepetitionType, FileMetaData, LogicalType, PageHeader, PageType,
    SchemaElement, Type,
};

use super::{read_at, Declared, IngestError, MAX_COLUMNS, MAX_DEPTH, MAX_FIELDS, MAX_ROWS};

const FORMAT: &str = "Parquet";

/// Most bytes of footer read, and most a thrift list in it may make the decoder allocate.
const MAX_METADATA: u64 = 64 << 20;

/// Most row groups, and most pages in all, read from one file.
const MAX_ROW_GROUPS: usize = 100_000;
const MAX_PAGES: u64 = 1_000_000;

/// Most bytes of one page header (statistics included).
const MAX_PAGE_HEADER: usize = 1 << 20;

fn damaged(reason: impl Into<String>) -> IngestError {
    IngestError::Damaged {
        format: FORMAT,
        reason: reason.into(),
    }
}

/// A leaf column of the schema: what its values cost once decoded.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    /// Bytes a decoded value takes (a byte array's 16-byte view; its bytes come from the
    /// pages' sizes).
    width: u64,
    /// Repeated levels above it (lists): each adds an offset a value.
    lists: u64,
}

/// What the Parquet file at `path` declares, checked: its rows and the bytes its frame
/// will take.
pub(super) fn declared(path: &Path) -> Result<Declared, IngestError> {
    let mut file = File::open(path).map_err(IngestError::io)?;
    let len = file.metadata().map_err(IngestError::io)?.len();
    if len < 12 {
        return Err(IngestError::Truncated(FORMAT));
    }
    let mut tail = [0u8; 8];
    read_at(&mut file, len - 8, &mut tail, FORMAT)?;
    if &tail[4..] != b"PAR1" {
        return Err(IngestError::Truncated(FORMAT));
    }
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_len > MAX_METADATA || footer_len + 12 > len {
        return Err(damaged("its footer is longer than the file"));
    }
    let data_end = len - 8 - footer_len;
    let mut footer = vec![0u8; footer_len as usize];
    read_at(&mut file, data_end, &mut footer, FORMAT)?;
    let meta = FileMetaData::read_from_in_protocol(&mut TCompactInputProtocol::new(
        footer.as_slice(),
        MAX_METADATA as usize,
    ))
    .map_err(|_| damaged("its footer is not valid Parquet metadata"))?;

    let leaves = walk_schema(&meta.schema)?;
    // polars reads the Arrow schema a writer may embed (`ARROW:schema`) with the IPC
    // schema reader, which recurses: walked first, like an Arrow file's.
    for entry in meta.key_value_metadata.iter().flatten() {
        if entry.key == "ARROW:schema" {
            super::ipc_footer::check_embedded_schema(entry.value.as_deref().unwrap_or(""))?;
        }
    }
    let rows = u64::try_from(meta.num_rows).map_err(|_| damaged("it declares a negative number of rows"))?;
    if rows > MAX_ROWS {
        return Err(IngestError::TooManyRows {
            found: rows,
            max: MAX_ROWS,
        });
    }
    if meta.row_groups.len() > MAX_ROW_GROUPS {
        return Err(damaged(format!(
            "it has {} row groups; at most {MAX_ROW_GROUPS} are read",
            meta.row_groups.len()
        )));
    }
    // The decoded footer itself stays in memory while the file is read.
    let mut bytes = footer_len.saturating_mul(16);
    let mut pages = 0u64;
    let mut largest = 0u64;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    for group in &meta.row_groups {
        if group.columns.len() != leaves.len() {
            return Err(damaged("a row group does not have one chunk per column"));
        }
        let group_rows = u64::try_from(group.num_rows)
            .map_err(|_| damaged("a row group has a negative number of rows"))?;
        let mut one = group_rows.saturating_mul(leaves.len() as u64);
        for (chunk, leaf) in group.columns.iter().zip(&leaves) {
            one = one.saturating_add(chunk_bytes(&mut reader, chunk, *leaf, data_end, &mut pages)?);
        }
        bytes = bytes.saturating_add(one);
        largest = largest.max(one);
    }
    Ok(Declared { bytes, rows, largest })
}

/// Walks the flat, depth-first schema list without recursion (a stack of the children
/// still to come at each level), refusing it too deep, too wide or inconsistent.
/// Returns its leaves in order.
fn walk_schema(schema: &[SchemaElement]) -> Result<Vec<Leaf>, IngestError> {
    let (root, rest) = schema.split_first().ok_or(IngestError::Empty)?;
    if schema.len() > MAX_FIELDS {
        return Err(IngestError::TooManyFields { max: MAX_FIELDS });
    }
    let top = children(root)?;
    if top > MAX_COLUMNS {
        return Err(IngestError::TooManyColumns {
            found: top,
            max: MAX_COLUMNS,
        });
    }
    if top == 0 {
        return Err(IngestError::Empty);
    }
    // (children still to come, whether this level is repeated)
    let mut stack: Vec<(u64, bool)> = vec![(top, false)];
    let mut leaves = Vec::new();
    for element in rest {
        let Some(parent) = stack.last_mut() else {
            return Err(damaged("its schema lists more fields than its groups hold"));
        };
        parent.0 -= 1;
        let repeated = element.repetition_type == Some(FieldRepetitionType::REPEATED);
        let n = children(element)?;
        if n > 0 {
            if stack.len() >= MAX_DEPTH {
                return Err(IngestError::TooDeep {
                    format: FORMAT,
                    max: MAX_DEPTH,
                });
            }
            stack.push((n, repeated));
        } else {
            let lists = stack.iter().filter(|(_, r)| *r).count() as u64 + u64::from(repeated);
            leaves.push(Leaf {
                width: width(element)?,
                lists,
            });
        }
        while stack.last().is_some_and(|(left, _)| *left == 0) {
            stack.pop();
        }
    }
    if !stack.is_empty() {
        return Err(damaged("its schema has groups with missing fields"));
    }
    Ok(leaves)
}

fn children(element: &SchemaElement) -> Result<u64, IngestError> {
    u64::try_from(element.num_children.unwrap_or(0))
        .map_err(|_| damaged("a group declares a negative number of fields"))
}

/// Bytes one decoded value of a leaf of this physical type takes.
fn width(element: &SchemaElement) -> Result<u64, IngestError> {
    let decimal = element.converted_type == Some(ConvertedType::DECIMAL)
        || matches!(element.logical_type, Some(LogicalType::DECIMAL(_)));
    Ok(match element.type_ {
        // Decimals become 16-byte values whatever their physical type.
        Some(Type::INT32 | Type::INT64) if decimal => 16,
        Some(Type::BOOLEAN) => 1,
        Some(Type::INT32) | Some(Type::FLOAT) => 4,
        Some(Type::INT64) | Some(Type::DOUBLE) => 8,
        Some(Type::INT96) => 12,
        Some(Type::BYTE_ARRAY) => 16,
        Some(Type::FIXED_LEN_BYTE_ARRAY) => {
            let len = element.type_length.unwrap_or(0);
            16 + u64::try_from(len).map_err(|_| damaged("a fixed-length column has a negative length"))?
        }
        _ => return Err(damaged("a column has no physical type")),
    })
}

/// Bytes one column chunk decodes to, its pages' headers read and checked.
fn chunk_bytes(
    reader: &mut BufReader<File>,
    chunk: &ColumnChunk,
    leaf: Leaf,
    data_end: u64,
    pages: &mut u64,
) -> Result<u64, IngestError> {
    if chunk.file_path.is_some() {
        return Err(damaged("a column refers to another file"));
    }
    let meta = chunk
        .meta_data
        .as_ref()
        .ok_or_else(|| damaged("a column chunk has no metadata (encrypted files are not read)"))?;
    let negative = || damaged("a column chunk declares a negative size");
    let values = u64::try_from(meta.num_values).map_err(|_| negative())?;
    let compressed = u64::try_from(meta.total_compressed_size).map_err(|_| negative())?;
    let data_page = u64::try_from(meta.data_page_offset).map_err(|_| negative())?;
    // Where polars starts reading the chunk: at the dictionary page when one is named.
    let start = match meta.dictionary_page_offset {
        Some(dict) => u64::try_from(dict).map_err(|_| negative())?,
        None => data_page,
    };
    let end = start.checked_add(compressed).ok_or_else(negative)?;
    if start < 4 || end > data_end {
        return Err(damaged("a column chunk lies outside the file"));
    }
    // Every page in the chunk: the values and bytes it will decode to.
    let mut at = start;
    let mut page_values = 0u64;
    let mut page_bytes = 0u64;
    while at < end {
        *pages += 1;
        if *pages > MAX_PAGES {
            return Err(damaged(format!("it has more than {MAX_PAGES} pages")));
        }
        let (header, header_len) = page_header(reader, at, end)?;
        let size = u64::try_from(header.compressed_page_size).map_err(|_| negative())?;
        let unpacked = u64::try_from(header.uncompressed_page_size).map_err(|_| negative())?;
        // The sub-header the page's type names, as the decoder picks it.
        let missing = || damaged("a page header lacks the part its type needs");
        let declared = match header.type_ {
            PageType::DATA_PAGE => header.data_page_header.as_ref().ok_or_else(missing)?.num_values,
            PageType::DATA_PAGE_V2 => {
                header
                    .data_page_header_v2
                    .as_ref()
                    .ok_or_else(missing)?
                    .num_values
            }
            PageType::DICTIONARY_PAGE => {
                header
                    .dictionary_page_header
                    .as_ref()
                    .ok_or_else(missing)?
                    .num_values
            }
            PageType::INDEX_PAGE => 0,
            _ => return Err(damaged("a page has an unknown type")),
        };
        page_values = page_values.saturating_add(u64::try_from(declared).map_err(|_| negative())?);
        page_bytes = page_bytes.saturating_add(unpacked);
        at = at
            .checked_add(header_len)
            .and_then(|a| a.checked_add(size))
            .filter(|a| *a <= end)
            .ok_or_else(|| damaged("a page runs past its column chunk"))?;
    }
    let values = values.max(page_values);
    let per_value = leaf.width + 1 + 8 * leaf.lists;
    Ok(values.saturating_mul(per_value).saturating_add(page_bytes))
}

/// The page header at `at` and its length in bytes.
fn page_header(reader: &mut BufReader<File>, at: u64, end: u64) -> Result<(PageHeader, u64), IngestError> {
    reader.seek(SeekFrom::Start(at)).map_err(IngestError::io)?;
    let limit = (end - at).min(MAX_PAGE_HEADER as u64);
    let mut counted = Counted {
        inner: reader.by_ref().take(limit),
        read: 0,
    };
    let header =
        PageHeader::read_from_in_protocol(&mut TCompactInputProtocol::new(&mut counted, MAX_PAGE_HEADER))
            .map_err(|_| damaged("a page header is not valid"))?;
    Ok((header, counted.read))
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}
