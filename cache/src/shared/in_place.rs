//! A frame read from Redis, decoded where its bytes already lie.
//!
//! The chunks are read into one 8-byte-aligned buffer ([`AlignedBytes`], see `raw_get`).
//! A frame of fixed-width columns (numbers, booleans, dates, datetimes, durations) is
//! then built over that buffer with no copy, the way the disk tier maps its files
//! (polars-arrow's `mmap_unchecked`): the frame keeps the buffer alive. polars does not
//! check such a frame's buffers against its rows before it reads them (a validity or
//! boolean buffer shorter than its column would be read past its end), so [`decode`]
//! checks every batch itself first, through the flatbuffer types polars uses
//! (`polars-arrow-format`, bounds-checked): each buffer inside its batch, long enough for
//! its rows and aligned for its type. Anything else (strings, lists, categoricals, a
//! compressed or odd file) is decoded by polars' IPC reader with a copy, as before.

use std::io::Cursor;
use std::sync::Arc;

use polars::prelude::{polars_err, DataFrame, PolarsResult};
use polars_arrow::io::ipc::read::{read_file_metadata, Dictionaries};
use polars_arrow_format::ipc::planus::ReadAsRoot;
use polars_arrow_format::ipc::{
    DateUnit, Endianness, FooterRef, MessageHeaderRef, MessageRef, Precision, TimeUnit, TypeRef,
};
use polars_io::ipc::IpcReader;
use polars_io::SerReader;

/// Bytes in a buffer aligned for any fixed-width value polars maps (8 bytes).
pub(crate) struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// `len` zero bytes. Zeroed memory of this size comes straight from the kernel,
    /// untouched: its pages are first touched when the bytes are read into them.
    pub(crate) fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0u64; len.div_ceil(8)],
            len,
        }
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }
}

impl AsRef<[u8]> for AlignedBytes {
    fn as_ref(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }
}

/// How a frame was decoded (for the benchmark's stages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// Built over the buffer, no copy.
    InPlace,
    /// Copied out by polars' IPC reader.
    Copied,
}

/// The frame in `bytes` (a whole Arrow IPC file), over `bytes` where it can be.
pub(crate) fn decode(bytes: AlignedBytes) -> PolarsResult<(DataFrame, Decoded)> {
    if !fixed_width_and_sound(bytes.as_ref()) {
        // polars' reader panics on some files (an extension type it was not built for):
        // that is a frame that cannot be read, not a crash.
        let read = std::panic::catch_unwind(|| IpcReader::new(Cursor::new(bytes)).finish());
        let frame = read.map_err(|_| polars_err!(ComputeError: "polars could not read this Arrow IPC"))??;
        return Ok((frame, Decoded::Copied));
    }
    let bytes = Arc::new(bytes);
    let metadata = read_file_metadata(&mut Cursor::new(bytes.as_ref().as_ref()))?;
    let dictionaries = Dictionaries::default();
    let mut frame: Option<DataFrame> = None;
    for index in 0..metadata.blocks.len() {
        // SAFETY: `fixed_width_and_sound` checked every batch of this file: only
        // fixed-width columns, every buffer inside its batch, long enough for its rows
        // and aligned for its type, so nothing is read outside `bytes`, which the
        // frame's buffers keep alive and nothing writes to again.
        #[allow(unsafe_code)]
        let batch = unsafe {
            polars_arrow::mmap::mmap_unchecked(&metadata, &dictionaries, Arc::clone(&bytes), index)?
        };
        let part = DataFrame::from(batch);
        match &mut frame {
            Some(frame) => {
                frame.vstack_mut(&part)?;
            }
            None => frame = Some(part),
        }
    }
    // `fixed_width_and_sound` found at least one batch.
    let frame = frame.ok_or_else(|| polars_err!(ComputeError: "an Arrow IPC file with no batch"))?;
    Ok((frame, Decoded::InPlace))
}

/// Whether `file` is an Arrow IPC file of flat fixed-width columns, little-endian and
/// uncompressed, with at least one record batch, every one of which
/// [`mmap_unchecked`](polars_arrow::mmap::mmap_unchecked) can read within the file.
fn fixed_width_and_sound(file: &[u8]) -> bool {
    check(file).is_some()
}

/// A column's values: bytes a value, or bits (booleans).
#[derive(Clone, Copy)]
enum Width {
    Bytes(u64),
    Bits,
}

impl Width {
    /// Bytes `rows` values take.
    fn bytes(self, rows: u64) -> Option<u64> {
        match self {
            Self::Bytes(n) => rows.checked_mul(n),
            Self::Bits => Some(rows.div_ceil(8)),
        }
    }

    fn align(self) -> u64 {
        match self {
            Self::Bytes(n) => n,
            Self::Bits => 1,
        }
    }
}

/// The width of a column of this type, when polars keeps such a column as its buffers
/// hold it.
fn width(kind: &TypeRef<'_>) -> Option<Width> {
    match kind {
        TypeRef::Bool(_) => Some(Width::Bits),
        TypeRef::Int(int) => match int.bit_width().ok()? {
            n @ (8 | 16 | 32 | 64) => Some(Width::Bytes(n as u64 / 8)),
            _ => None,
        },
        TypeRef::FloatingPoint(float) => match float.precision().ok()? {
            Precision::Single => Some(Width::Bytes(4)),
            Precision::Double => Some(Width::Bytes(8)),
            Precision::Half => None,
        },
        TypeRef::Date(date) => (date.unit().ok()? == DateUnit::Day).then_some(Width::Bytes(4)),
        TypeRef::Timestamp(ts) => (ts.unit().ok()? != TimeUnit::Second).then_some(Width::Bytes(8)),
        TypeRef::Duration(d) => (d.unit().ok()? != TimeUnit::Second).then_some(Width::Bytes(8)),
        _ => None,
    }
}

/// Zero bits among the first `rows` bits of `bits` (least significant bit first).
fn zero_bits(bits: &[u8], rows: u64) -> u64 {
    let full = (rows / 8) as usize;
    let mut zeros: u64 = bits[..full].iter().map(|b| u64::from(b.count_zeros())).sum();
    let tail = (rows % 8) as u32;
    if tail > 0 {
        let mask = (1u8 << tail) - 1;
        zeros += u64::from((!bits[full] & mask).count_ones());
    }
    zeros
}

fn word(file: &[u8], at: usize) -> Option<[u8; 4]> {
    file.get(at..at.checked_add(4)?)?.try_into().ok()
}

fn check(file: &[u8]) -> Option<()> {
    // "ARROW1", padding, messages, footer, its i32 length, "ARROW1".
    if file.len() < 8 + 10 || &file[..6] != b"ARROW1" || &file[file.len() - 6..] != b"ARROW1" {
        return None;
    }
    let footer_len = usize::try_from(i32::from_le_bytes(word(file, file.len() - 10)?)).ok()?;
    let data_end = file.len().checked_sub(10)?.checked_sub(footer_len)?;
    let footer = FooterRef::read_as_root(file.get(data_end..file.len() - 10)?).ok()?;
    let schema = footer.schema().ok()??;
    if schema.endianness().ok()? != Endianness::Little {
        return None;
    }
    let mut widths = Vec::new();
    for field in schema.fields().ok()??.iter() {
        let field = field.ok()?;
        let flat = field.children().ok()?.is_none_or(|c| c.is_empty());
        if !flat || field.dictionary().ok()?.is_some() {
            return None;
        }
        // An extension type is read as another type than its buffers say.
        for pair in field.custom_metadata().ok()?.into_iter().flatten() {
            if pair
                .ok()?
                .key()
                .ok()?
                .is_some_and(|key| key.starts_with("ARROW:extension"))
            {
                return None;
            }
        }
        widths.push(width(&field.type_().ok()??)?);
    }
    if footer.dictionaries().ok()?.is_some_and(|d| !d.is_empty()) {
        return None;
    }
    let blocks = footer.record_batches().ok()??;
    if blocks.is_empty() {
        return None;
    }
    for block in blocks.iter() {
        let offset = usize::try_from(block.offset()).ok()?;
        let meta_len = usize::try_from(block.meta_data_length()).ok()?;
        let body_len = usize::try_from(block.body_length()).ok()?;
        let body = offset.checked_add(meta_len)?;
        if body.checked_add(body_len)? > data_end || !body.is_multiple_of(8) {
            return None;
        }
        // A continuation marker, then the message's length, then the message.
        let (prefix, len) = match word(file, offset)? {
            [0xff, 0xff, 0xff, 0xff] => (8, word(file, offset + 4)?),
            len => (4, len),
        };
        let len = usize::try_from(i32::from_le_bytes(len)).ok()?;
        if prefix + len > meta_len {
            return None;
        }
        let message = MessageRef::read_as_root(&file[offset + prefix..offset + prefix + len]).ok()?;
        let Some(MessageHeaderRef::RecordBatch(batch)) = message.header().ok()? else {
            return None;
        };
        if batch.compression().ok()?.is_some() {
            return None;
        }
        let rows = u64::try_from(batch.length().ok()?).ok()?;
        let nodes = batch.nodes().ok()??;
        let buffers = batch.buffers().ok()??;
        if nodes.len() != widths.len() || buffers.len() != 2 * widths.len() {
            return None;
        }
        for (column, (node, width)) in nodes.iter().zip(&widths).enumerate() {
            let nulls = u64::try_from(node.null_count()).ok()?;
            if u64::try_from(node.length()).ok()? != rows || nulls > rows {
                return None;
            }
            let (validity, values) = (buffers.get(2 * column)?, buffers.get(2 * column + 1)?);
            let inside = |offset: i64, length: i64| -> Option<(u64, u64)> {
                let (offset, length) = (u64::try_from(offset).ok()?, u64::try_from(length).ok()?);
                (offset.checked_add(length)? <= body_len as u64).then_some((offset, length))
            };
            let (validity_at, validity_len) = inside(validity.offset(), validity.length())?;
            if nulls > 0 {
                // polars trusts the count (a sort reserves that many places for the nulls,
                // then writes one for each zero bit): it must be the bits' own.
                let start = body + usize::try_from(validity_at).ok()?;
                let bits = file.get(start..start + usize::try_from(rows.div_ceil(8)).ok()?)?;
                if validity_len < rows.div_ceil(8) || zero_bits(bits, rows) != nulls {
                    return None;
                }
            }
            let (at, length) = inside(values.offset(), values.length())?;
            if length < width.bytes(rows)? || !((body as u64) + at).is_multiple_of(width.align()) {
                return None;
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;
    use polars_io::ipc::IpcWriter;
    use polars_io::SerWriter;

    use super::*;

    fn ipc(frame: &mut DataFrame) -> AlignedBytes {
        let mut out = Vec::new();
        IpcWriter::new(&mut out).finish(frame).expect("write");
        let mut bytes = AlignedBytes::zeroed(out.len());
        bytes.as_mut_bytes().copy_from_slice(&out);
        bytes
    }

    fn values_address(frame: &DataFrame, column: &str) -> usize {
        let column = frame.column(column).expect("column");
        column
            .f64()
            .expect("f64")
            .downcast_iter()
            .next()
            .expect("a chunk")
            .values()
            .as_ptr() as usize
    }

    #[test]
    fn fixed_width_columns_are_read_where_they_lie() {
        let mut frame = df!(
            "x" => (0..1_000).map(|i| i as f64 * 0.5).collect::<Vec<_>>(),
            "n" => (0..1_000i32).map(|i| (i % 7 != 0).then_some(i)).collect::<Vec<_>>(),
            "b" => (0..1_000).map(|i| i % 3 == 0).collect::<Vec<_>>(),
        )
        .expect("frame");
        let mut two = frame.clone();
        two.vstack_mut(&frame.slice(0, 10)).expect("a second batch");
        for frame in [&mut frame, &mut two] {
            let bytes = ipc(frame);
            let range = bytes.as_ref().as_ptr_range();
            let (back, how) = decode(bytes).expect("decode");
            assert_eq!(how, Decoded::InPlace);
            assert!(back.equals_missing(frame), "the same frame");
            let at = values_address(&back, "x");
            assert!(
                range.contains(&(at as *const u8)),
                "x lies in the buffer it was read into"
            );
        }
    }

    #[test]
    fn zero_bits_are_counted_in_the_rows_only() {
        assert_eq!(zero_bits(&[0xff, 0x00], 16), 8);
        assert_eq!(zero_bits(&[0xff, 0b1111_1110], 9), 1);
        assert_eq!(
            zero_bits(&[0xff, 0b1111_1101], 9),
            0,
            "bits past the rows do not count"
        );
        assert_eq!(zero_bits(&[0x0f], 4), 0);
        assert_eq!(zero_bits(&[], 0), 0);
    }

    #[test]
    fn other_columns_are_copied_out() {
        let mut frame = df!("s" => ["a", "bb", "ccc"], "x" => [1.0, 2.0, 3.0]).expect("frame");
        let (back, how) = decode(ipc(&mut frame)).expect("decode");
        assert_eq!(how, Decoded::Copied);
        assert!(back.equals_missing(&frame));
        let mut empty = df!("x" => Vec::<f64>::new()).expect("frame");
        let (back, _) = decode(ipc(&mut empty)).expect("decode");
        assert_eq!(back.height(), 0);
    }

    /// Where the two i64 `a`, `b` lie one after the other in `bytes`.
    fn pair_at(bytes: &[u8], a: i64, b: i64) -> Vec<usize> {
        let pair: Vec<u8> = a.to_le_bytes().into_iter().chain(b.to_le_bytes()).collect();
        bytes
            .windows(16)
            .enumerate()
            .filter(|(_, w)| *w == &pair[..])
            .map(|(i, _)| i)
            .collect()
    }

    /// A file whose batch says its boolean values or validity are shorter than its rows
    /// is never built over the buffer (polars would read past their end).
    #[test]
    fn short_buffers_are_never_mapped() {
        let mut frame = df!(
            "b" => (0..4_096).map(|i| i % 3 == 0).collect::<Vec<_>>(),
            "n" => (0..4_096).map(|i| (i % 7 != 0).then_some(i as f64)).collect::<Vec<_>>(),
        )
        .expect("frame");
        let good = ipc(&mut frame);
        assert!(fixed_width_and_sound(good.as_ref()));
        // A batch lists its buffers as (offset, length) pairs of i64, 16 bytes each:
        // the booleans' validity (0, 0) and values (0, 512), then the floats' validity
        // (512, 512) and values (1024, 32768). Shrink each length in turn.
        let bytes = good.as_ref().to_vec();
        let found = pair_at(&bytes, 1_024, 32_768);
        assert_eq!(found.len(), 1, "the floats' values are listed once: {found:?}");
        for (at, was) in [
            (found[0] - 32 + 8, 512i64),
            (found[0] - 16 + 8, 512),
            (found[0] + 8, 32_768),
        ] {
            assert_eq!(bytes[at..at + 8], was.to_le_bytes(), "the length at {at}");
            let mut bad = bytes.clone();
            bad[at..at + 8].copy_from_slice(&8i64.to_le_bytes());
            assert!(!fixed_width_and_sound(&bad), "a buffer of {was} bytes cut to 8");
        }
        // A column's node is (length, null count): the floats' (4096, 586). A count that
        // is not the validity's own zero bits is refused.
        let found = pair_at(&bytes, 4_096, 586);
        assert_eq!(found.len(), 1, "the floats' node is listed once");
        for count in [1i64, 585, 587] {
            let mut bad = bytes.clone();
            bad[found[0] + 8..found[0] + 16].copy_from_slice(&count.to_le_bytes());
            assert!(
                !fixed_width_and_sound(&bad),
                "a null count of {count} for 586 nulls"
            );
        }
        for cut in [0, 7, 17, bytes.len() / 2, bytes.len() - 1] {
            assert!(!fixed_width_and_sound(&bytes[..cut]));
        }
    }
}
