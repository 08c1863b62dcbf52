//! What an Arrow IPC file says it holds, checked against the file before polars reads it.
//!
//! polars allocates what an IPC file declares: every buffer at its stated length, a
//! compressed buffer at the uncompressed length written in its first 8 bytes (zstd or
//! lz4 inflate to any length), and it walks the schema by recursion. So a 198 KB file can
//! ask for 12 GiB, and a schema nested 5,000 deep overflows the stack (an abort, not a
//! panic). This module reads the footer and every batch's message itself, through the
//! same flatbuffer types polars uses (`polars-arrow-format`, whose readers are lazy and
//! bounds-checked), without recursion:
//!
//! - the schema walked with an explicit stack, refused deeper than [`MAX_DEPTH`] or with
//!   more than [`MAX_FIELDS`] fields (or [`MAX_COLUMNS`] at the top);
//! - every block's message and body inside the file, every buffer inside its body;
//! - the bytes the frame will take: the declared buffers (compressed ones at their
//!   declared uncompressed size), a byte a value for validity and null columns, and a
//!   16-byte view a value for strings, binaries and dictionary keys (polars converts
//!   them to views), summed over every record and dictionary batch.
//!
//! The caller reserves that many bytes in the session's room, or refuses the file, before
//! polars sees it.

use std::fs::File;
use std::path::Path;

use polars_arrow_format::ipc::planus::{self, ReadAsRoot, Vector};
use polars_arrow_format::ipc::{FieldRef, FooterRef, MessageHeaderRef, MessageRef, RecordBatchRef, TypeRef};

use super::{read_at, Declared, IngestError, MAX_COLUMNS, MAX_DEPTH, MAX_FIELDS, MAX_ROWS};

const FORMAT: &str = "Arrow IPC";

/// Most bytes of footer or of one message's metadata read: far above what 2,000 columns
/// of 100,000 batches need, far below memory.
const MAX_METADATA: u64 = 64 << 20;

/// Bytes polars keeps for each array it builds, beyond its buffers (a boxed array and
/// its shared buffers' headers; rounded up).
const ARRAY_OVERHEAD: u64 = 256;

/// Most record and dictionary batches in one file.
pub(super) const MAX_BATCHES: usize = 100_000;

/// Bytes per value polars adds when it converts a column of this kind on import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Import {
    /// Kept as the buffers hold it.
    AsIs,
    /// Strings and binaries (and dictionary keys) become 16-byte views; decimals and
    /// times are widened (to 16 and 8 bytes): charged 16 bytes a value more.
    Views,
}

fn damaged(reason: impl Into<String>) -> IngestError {
    IngestError::Damaged {
        format: FORMAT,
        reason: reason.into(),
    }
}

fn flatbuffer(what: &str) -> impl Fn(planus::Error) -> IngestError + '_ {
    move |_| damaged(format!("its {what} is not valid Arrow metadata"))
}

/// What the Arrow IPC file at `path` declares, checked: its rows and the bytes its frame
/// will take.
pub(super) fn declared(path: &Path) -> Result<Declared, IngestError> {
    let mut file = File::open(path).map_err(IngestError::io)?;
    let len = file.metadata().map_err(IngestError::io)?.len();
    // "ARROW1", 2 bytes of padding, …, footer, its i32 length, "ARROW1".
    if len < 8 + 10 {
        return Err(IngestError::Truncated(FORMAT));
    }
    let mut tail = [0u8; 10];
    read_at(&mut file, len - 10, &mut tail, FORMAT)?;
    if &tail[4..] != b"ARROW1" {
        return Err(IngestError::Truncated(FORMAT));
    }
    let footer_len = u64::try_from(i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]))
        .map_err(|_| damaged("its footer has a negative length"))?;
    if footer_len > MAX_METADATA || footer_len + 10 + 8 > len {
        return Err(damaged("its footer is longer than the file"));
    }
    let data_end = len - 10 - footer_len;
    let mut footer = vec![0u8; footer_len as usize];
    read_at(&mut file, data_end, &mut footer, FORMAT)?;
    let footer = FooterRef::read_as_root(&footer).map_err(flatbuffer("footer"))?;

    let schema = footer
        .schema()
        .map_err(flatbuffer("schema"))?
        .ok_or_else(|| damaged("it has no schema"))?;
    let fields = fields_of(schema.fields().map_err(flatbuffer("schema"))?)?;
    let imports = walk_schema(fields)?;

    let batches = footer
        .record_batches()
        .map_err(flatbuffer("list of batches"))?
        .ok_or_else(|| damaged("it lists no record batches"))?;
    let dictionaries = footer
        .dictionaries()
        .map_err(flatbuffer("list of dictionaries"))?;
    let count = batches.len() + dictionaries.as_ref().map_or(0, |d| d.len());
    if count > MAX_BATCHES {
        return Err(damaged(format!(
            "it has {count} batches; at most {MAX_BATCHES} are read"
        )));
    }

    let mut total = Declared::default();
    let mut scratch = Vec::new();
    let blocks = batches
        .iter()
        .map(|b| (b, true))
        .chain(dictionaries.iter().flat_map(|d| d.iter()).map(|b| (b, false)));
    let blocks: Vec<(Body, bool)> = blocks
        .map(|(b, is_record)| {
            Body::of_block(b.offset(), b.meta_data_length(), b.body_length(), data_end)
                .map(|body| (body, is_record))
        })
        .collect::<Result<_, _>>()?;
    // Each block its own bytes: a footer listing one small batch 100,000 times would
    // have polars build every copy, and this check parse each.
    let mut order: Vec<&Body> = blocks.iter().map(|(b, _)| b).collect();
    order.sort_by_key(|b| b.offset);
    if order
        .windows(2)
        .any(|w| w[0].offset + w[0].meta_len + w[0].len > w[1].offset)
    {
        return Err(damaged("two batches share the same bytes"));
    }
    for (body, is_record) in blocks {
        let message = read_message(&mut file, &body, &mut scratch)?;
        let batch = match message.header().map_err(flatbuffer("batch header"))? {
            Some(MessageHeaderRef::RecordBatch(batch)) if is_record => batch,
            Some(MessageHeaderRef::DictionaryBatch(dict)) if !is_record => dict
                .data()
                .map_err(flatbuffer("dictionary batch"))?
                .ok_or_else(|| damaged("a dictionary batch has no data"))?,
            _ => return Err(damaged("a block does not hold the batch the footer says")),
        };
        // A dictionary's values are one column of their own (strings become views).
        let columns: &[Import] = if is_record { &imports } else { &[Import::Views] };
        let one = batch_bytes(&mut file, &body, batch, columns)?;
        if is_record {
            total.rows = total.rows.saturating_add(one.rows);
        }
        total.bytes = total.bytes.saturating_add(one.bytes);
        total.largest = total.largest.max(one.bytes);
    }
    if total.rows > MAX_ROWS {
        return Err(IngestError::TooManyRows {
            found: total.rows,
            max: MAX_ROWS,
        });
    }
    Ok(total)
}

/// Checks the Arrow schema a Parquet writer embedded (`ARROW:schema`: base64 of an IPC
/// schema message) the way an Arrow file's is, since polars reads it by recursion too.
pub(super) fn check_embedded_schema(encoded: &str) -> Result<(), IngestError> {
    use base64::Engine as _;
    let bad = || IngestError::Damaged {
        format: "Parquet",
        reason: "its embedded Arrow schema is not valid".into(),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    if bytes.len() < 8 {
        return Err(bad());
    }
    let message = if bytes[..4] == [0xff; 4] {
        &bytes[8..]
    } else {
        &bytes[..]
    };
    let message = MessageRef::read_as_root(message).map_err(|_| bad())?;
    let Some(MessageHeaderRef::Schema(schema)) = message.header().map_err(|_| bad())? else {
        return Err(bad());
    };
    walk_schema(fields_of(schema.fields().map_err(|_| bad())?)?).map(drop)
}

/// Walks the schema's fields without recursion (an explicit stack), refusing it deeper
/// than [`MAX_DEPTH`], wider than [`MAX_COLUMNS`] at the top or with more than
/// [`MAX_FIELDS`] in all, and a dictionary over nested values (polars would copy the
/// values for every key). Returns how each field node is imported, in the order a
/// batch's nodes list them (depth first, parents before children).
fn walk_schema(top: Vec<FieldRef<'_>>) -> Result<Vec<Import>, IngestError> {
    let mut stack: Vec<(FieldRef<'_>, usize)> = top.into_iter().map(|f| (f, 1)).collect();
    if stack.len() as u64 > MAX_COLUMNS {
        return Err(IngestError::TooManyColumns {
            found: stack.len() as u64,
            max: MAX_COLUMNS,
        });
    }
    if stack.is_empty() {
        return Err(IngestError::Empty);
    }
    stack.reverse();
    let mut imports = Vec::new();
    while let Some((field, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(IngestError::TooDeep {
                format: FORMAT,
                max: MAX_DEPTH,
            });
        }
        if imports.len() >= MAX_FIELDS {
            return Err(IngestError::TooManyFields { max: MAX_FIELDS });
        }
        let kind = field.type_().map_err(flatbuffer("schema"))?;
        let dictionary = field.dictionary().map_err(flatbuffer("schema"))?.is_some();
        let views = matches!(
            kind,
            Some(
                TypeRef::Utf8(_)
                    | TypeRef::LargeUtf8(_)
                    | TypeRef::Binary(_)
                    | TypeRef::LargeBinary(_)
                    | TypeRef::FixedSizeBinary(_)
                    | TypeRef::Utf8View(_)
                    | TypeRef::BinaryView(_)
            )
        );
        let children = fields_of(field.children().map_err(flatbuffer("schema"))?)?;
        if dictionary && !children.is_empty() {
            return Err(IngestError::Damaged {
                format: FORMAT,
                reason: "a dictionary-encoded nested column is not read; write it without a dictionary"
                    .into(),
            });
        }
        // polars reads only the first child of these: any other would shift the costs.
        let one_child = matches!(
            kind,
            Some(TypeRef::List(_) | TypeRef::LargeList(_) | TypeRef::FixedSizeList(_) | TypeRef::Map(_))
        );
        if one_child && children.len() != 1 {
            return Err(damaged("a list column must have exactly one child field"));
        }
        // Decimals become 16-byte values and times 8-byte ones on import.
        let widened = matches!(kind, Some(TypeRef::Decimal(_) | TypeRef::Time(_)));
        imports.push(if views || dictionary || widened {
            Import::Views
        } else {
            Import::AsIs
        });
        stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
    }
    Ok(imports)
}

/// The fields of a schema or a field, each checked readable.
fn fields_of<'a>(
    fields: Option<Vector<'a, planus::Result<FieldRef<'a>>>>,
) -> Result<Vec<FieldRef<'a>>, IngestError> {
    fields
        .map(|list| list.iter().collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(flatbuffer("schema"))
        .map(Option::unwrap_or_default)
}

/// Where a block's message and body lie, checked inside the data part of the file.
struct Body {
    offset: u64,
    meta_len: u64,
    len: u64,
}

impl Body {
    fn of_block(offset: i64, meta_len: i32, body_len: i64, data_end: u64) -> Result<Self, IngestError> {
        let outside = || damaged("a batch lies outside the file");
        let offset = u64::try_from(offset).map_err(|_| outside())?;
        let meta_len = u64::try_from(meta_len).map_err(|_| outside())?;
        let len = u64::try_from(body_len).map_err(|_| outside())?;
        let end = offset
            .checked_add(meta_len)
            .and_then(|e| e.checked_add(len))
            .ok_or_else(outside)?;
        if offset < 8 || meta_len > MAX_METADATA || end > data_end {
            return Err(outside());
        }
        Ok(Self {
            offset,
            meta_len,
            len,
        })
    }

    fn start(&self) -> u64 {
        self.offset + self.meta_len
    }
}

/// The message at the start of a block, as polars reads it: an optional continuation
/// marker, its i32 length, the flatbuffer; all inside the block's metadata.
fn read_message<'s>(
    file: &mut File,
    body: &Body,
    scratch: &'s mut Vec<u8>,
) -> Result<MessageRef<'s>, IngestError> {
    let mut word = [0u8; 4];
    read_at(file, body.offset, &mut word, FORMAT)?;
    let mut prefix = 4;
    if word == [0xff; 4] {
        read_at(file, body.offset + 4, &mut word, FORMAT)?;
        prefix = 8;
    }
    let len = u64::try_from(i32::from_le_bytes(word))
        .map_err(|_| damaged("a batch's metadata has a negative length"))?;
    if prefix + len > body.meta_len {
        return Err(damaged("a batch's metadata is longer than its block"));
    }
    scratch.clear();
    scratch.resize(len as usize, 0);
    read_at(file, body.offset + prefix, scratch, FORMAT)?;
    MessageRef::read_as_root(scratch).map_err(flatbuffer("batch metadata"))
}

/// The rows of one batch and the bytes polars will allocate for it.
fn batch_bytes(
    file: &mut File,
    body: &Body,
    batch: RecordBatchRef<'_>,
    columns: &[Import],
) -> Result<Declared, IngestError> {
    let rows = u64::try_from(batch.length().map_err(flatbuffer("batch"))?)
        .map_err(|_| damaged("a batch has a negative length"))?;
    let mut bytes = 0u64;
    if let Some(nodes) = batch.nodes().map_err(flatbuffer("batch"))? {
        for (i, node) in nodes.iter().enumerate() {
            let values =
                u64::try_from(node.length()).map_err(|_| damaged("a column has a negative length"))?;
            let nulls = node.null_count();
            if nulls < 0 || nulls as u64 > values || values > MAX_ROWS.saturating_mul(MAX_FIELDS as u64) {
                return Err(damaged("a column declares an impossible length"));
            }
            let per_value = match columns.get(i) {
                Some(Import::Views) => 17,
                _ => 1,
            };
            // Plus an array's own bookkeeping, for every column of every batch.
            bytes = bytes
                .saturating_add(values.saturating_mul(per_value))
                .saturating_add(ARRAY_OVERHEAD);
        }
    }
    let compressed = batch.compression().map_err(flatbuffer("batch"))?.is_some();
    if let Some(buffers) = batch.buffers().map_err(flatbuffer("batch"))? {
        for buffer in buffers.iter() {
            let outside = || damaged("a buffer lies outside its batch");
            let offset = u64::try_from(buffer.offset()).map_err(|_| outside())?;
            let len = u64::try_from(buffer.length()).map_err(|_| outside())?;
            if offset.checked_add(len).is_none_or(|end| end > body.len) {
                return Err(outside());
            }
            let declared = if compressed && len > 0 {
                if len < 8 {
                    return Err(damaged("a compressed buffer has no length prefix"));
                }
                let mut prefix = [0u8; 8];
                read_at(file, body.start() + offset, &mut prefix, FORMAT)?;
                match i64::from_le_bytes(prefix) {
                    -1 => len - 8, // stored uncompressed
                    n => u64::try_from(n)
                        .map_err(|_| damaged("a compressed buffer declares a negative length"))?,
                }
            } else {
                len
            };
            bytes = bytes.saturating_add(declared);
        }
    }
    Ok(Declared {
        bytes,
        rows,
        largest: bytes,
    })
}
