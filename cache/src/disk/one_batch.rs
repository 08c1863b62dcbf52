//! A frame larger than memory, written straight into an Arrow IPC file as one record
//! batch, column by column and chunk by chunk ([`ColumnsWriter`]).
//!
//! Read back memory-mapped, each column is one contiguous chunk of the file: figures
//! read it with no copy and bring in only the pages they touch, while the writer holds
//! only the chunk in hand. polars' own writer encodes each batch in memory before it
//! writes it, and many batches read back as many chunks, which the figures would join
//! into one copy of the column.
//!
//! The layout is Arrow's IPC file format: the magic, the schema message, one record
//! batch message whose body is each column's values back to back (each padded to 64
//! bytes; no validity buffer, as there are no nulls), then the footer naming that one
//! block. The schema comes from polars' arrow crate, and the batch's header and the
//! footer are its flatbuffer types, so the file is what polars would write for the
//! same frame in one batch (tested by reading it back both ways).

use std::io::{self, Write};

use polars::prelude::{CompatLevel, DataType, Field, Schema, SchemaExt};
use polars_arrow::datatypes::ArrowSchema;
use polars_arrow::io::ipc::write::{default_ipc_fields, schema::serialize_schema, schema_to_bytes};
use polars_arrow_format::ipc::{self as fb, planus::Builder};

/// The file's magic, padded to 8 bytes.
const MAGIC: &[u8; 8] = b"ARROW1\0\0";
/// The marker before each message's length.
const CONTINUATION: [u8; 4] = [0xff; 4];
/// Bytes of one f64.
const VALUE: u64 = 8;

/// The bytes one column of `rows` values takes in the body, padded to 64.
fn column_bytes(rows: u64) -> u64 {
    (rows * VALUE).div_ceil(64) * 64
}

/// The size of the file [`ColumnsWriter`] writes for `columns` f64 columns of `rows`
/// rows, but for its schema and footer (a few hundred bytes a column).
pub(crate) fn body_bytes(columns: usize, rows: u64) -> u64 {
    column_bytes(rows).saturating_mul(columns as u64)
}

/// Writes a frame of f64 columns with no nulls as one Arrow IPC record batch: the
/// values of the first column in order, then of the next ([`ColumnsWriter::push`]).
pub struct ColumnsWriter<W: Write> {
    out: W,
    schema: ArrowSchema,
    rows: u64,
    /// The column being written, and its values written so far.
    column: usize,
    filled: u64,
    /// Bytes written so far.
    written: u64,
    /// The record batch's place in the file.
    block: fb::Block,
}

impl<W: Write> ColumnsWriter<W> {
    /// Starts the file of the columns `names`, `rows` rows each, on `out`: writes its
    /// magic, schema and the batch's header.
    pub fn start(out: W, names: &[String], rows: u64) -> io::Result<Self> {
        let schema: Schema = names
            .iter()
            .map(|name| Field::new(name.as_str().into(), DataType::Float64))
            .collect();
        let schema = schema.to_arrow(CompatLevel::newest());
        let length = i64::try_from(rows).map_err(|_| io::Error::other("too many rows"))?;
        let mut writer = Self {
            out,
            schema,
            rows,
            column: 0,
            filled: 0,
            written: 0,
            block: fb::Block::default(),
        };
        writer.write(MAGIC)?;
        let fields = default_ipc_fields(writer.schema.iter_values());
        writer.message(&schema_to_bytes(&writer.schema, &fields, None))?;
        let mut buffers = Vec::with_capacity(2 * names.len());
        let mut offset = 0;
        for _ in names {
            buffers.push(fb::Buffer { offset, length: 0 });
            buffers.push(fb::Buffer {
                offset,
                length: length * VALUE as i64,
            });
            offset += column_bytes(rows) as i64;
        }
        let batch = fb::RecordBatch {
            length,
            nodes: Some(vec![
                fb::FieldNode {
                    length,
                    null_count: 0
                };
                names.len()
            ]),
            buffers: Some(buffers),
            compression: None,
            variadic_buffer_counts: None,
        };
        let message = fb::Message {
            version: fb::MetadataVersion::V5,
            header: Some(fb::MessageHeader::RecordBatch(Box::new(batch))),
            body_length: offset,
            custom_metadata: None,
        };
        let start = writer.written as i64;
        let meta = writer.message(Builder::new().finish(&message, None))?;
        writer.block = fb::Block {
            offset: start,
            meta_data_length: meta as i32,
            body_length: offset,
        };
        Ok(writer)
    }

    /// Rows each column has.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends `values` to the columns: to the one being written, and on to the next
    /// once it has all its rows. More values than the columns' rows is an error.
    pub fn push(&mut self, mut values: &[f64]) -> io::Result<()> {
        while !values.is_empty() {
            if self.column >= self.schema.len() {
                return Err(io::Error::other("more values than the frame's rows"));
            }
            let room = (self.rows - self.filled).min(values.len() as u64) as usize;
            let (now, rest) = values.split_at(room);
            // In the machine's byte order, which the schema names.
            self.write(bytemuck::cast_slice(now))?;
            self.filled += room as u64;
            values = rest;
            if self.filled == self.rows {
                self.pad_column()?;
            }
        }
        if self.rows == 0 {
            while self.column < self.schema.len() {
                self.pad_column()?;
            }
        }
        Ok(())
    }

    /// Ends the column being written (all its rows are in) with its padding.
    fn pad_column(&mut self) -> io::Result<()> {
        let pad = column_bytes(self.rows) - self.rows * VALUE;
        self.write(&[0u8; 64][..pad as usize])?;
        self.column += 1;
        self.filled = 0;
        Ok(())
    }

    /// Writes the footer once every column has all its rows; returns the output and the
    /// bytes written. A column short of rows is an error.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.rows == 0 {
            self.push(&[])?;
        }
        if self.column < self.schema.len() {
            return Err(io::Error::other("the frame is missing rows"));
        }
        // The end-of-stream marker, then the footer and its length.
        self.write(&CONTINUATION)?;
        self.write(&0_i32.to_le_bytes())?;
        let fields = default_ipc_fields(self.schema.iter_values());
        let footer = fb::Footer {
            version: fb::MetadataVersion::V5,
            schema: Some(Box::new(serialize_schema(&self.schema, &fields, None))),
            dictionaries: Some(Vec::new()),
            record_batches: Some(vec![self.block]),
            custom_metadata: None,
        };
        let mut builder = Builder::new();
        let footer = builder.finish(&footer, None);
        let len = footer.len() as i32;
        let footer = footer.to_vec();
        self.write(&footer)?;
        self.write(&len.to_le_bytes())?;
        self.write(&MAGIC[..6])?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }

    /// Writes one encapsulated message (its flatbuffer `meta`, padded to 8); returns its
    /// length with the prefix.
    fn message(&mut self, meta: &[u8]) -> io::Result<usize> {
        let aligned = (meta.len() + 8).div_ceil(8) * 8;
        self.write(&CONTINUATION)?;
        self.write(&((aligned - 8) as i32).to_le_bytes())?;
        self.write(meta)?;
        self.write(&[0u8; 8][..aligned - 8 - meta.len()])?;
        Ok(aligned)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use polars::prelude::*;
    use polars_io::ipc::IpcReader;
    use polars_io::SerReader;

    use super::*;

    fn written(names: &[&str], columns: &[Vec<f64>], chunk: usize) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let rows = columns.first().map_or(0, Vec::len) as u64;
        let mut writer = ColumnsWriter::start(Vec::new(), &names, rows).expect("start");
        for column in columns {
            for piece in column.chunks(chunk.max(1)) {
                writer.push(piece).expect("push");
            }
        }
        let (out, len) = writer.finish().expect("finish");
        assert_eq!(len, out.len() as u64);
        out
    }

    #[test]
    fn reads_back_as_the_frame_in_one_chunk_a_column() {
        let a: Vec<f64> = (0..1_000).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..1_000)
            .map(|i| if i == 7 { f64::NAN } else { -(i as f64) })
            .collect();
        for chunk in [1, 3, 64, 999, 5_000] {
            let bytes = written(&["a", "b"], &[a.clone(), b.clone()], chunk);
            let frame = IpcReader::new(Cursor::new(bytes)).finish().expect("read");
            let expected = df!("a" => &a, "b" => &b).expect("frame");
            assert!(frame.equals_missing(&expected), "chunk {chunk}");
            assert_eq!(frame.column("a").expect("a").n_chunks(), 1);
        }
    }

    #[test]
    fn odd_lengths_and_no_rows() {
        for rows in [0_usize, 1, 7, 9] {
            let v: Vec<f64> = (0..rows).map(|i| i as f64).collect();
            let bytes = written(&["x", "y", "z"], &[v.clone(), v.clone(), v.clone()], 2);
            let frame = IpcReader::new(Cursor::new(bytes)).finish().expect("read");
            assert_eq!(frame.shape(), (rows, 3));
            assert_eq!(
                frame
                    .column("z")
                    .expect("z")
                    .f64()
                    .expect("f64")
                    .into_no_null_iter()
                    .collect::<Vec<_>>(),
                v
            );
        }
    }

    #[test]
    fn too_many_or_too_few_values_are_errors() {
        let names = vec!["a".to_owned()];
        let mut writer = ColumnsWriter::start(Vec::new(), &names, 3).expect("start");
        assert!(writer.push(&[1.0, 2.0, 3.0, 4.0]).is_err(), "a fourth value");
        let mut writer = ColumnsWriter::start(Vec::new(), &names, 3).expect("start");
        writer.push(&[1.0, 2.0]).expect("push");
        assert!(writer.finish().is_err(), "a row short");
    }
}
