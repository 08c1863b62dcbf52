//! Files crafted the way issue 23's hostile stranger made them, written byte by byte with
//! the same flatbuffer (Arrow IPC) and thrift (Parquet) types polars reads them with, so
//! a test can make both the hostile size and a small, honest one of the same shape (the
//! small one must be read, or the check refuses too much).
//!
//! Shared by `data/tests/crafted_files.rs` (the library) and `server/tests/crafted_files.rs` (a real
//! server process, for the files that used to abort it).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use polars_arrow_format::ipc::planus::Builder;
use polars_arrow_format::ipc::{
    Block, BodyCompression, BodyCompressionMethod, Buffer, CompressionType, Endianness, Field, FieldNode,
    Footer, Int, List, Message, MessageHeader, MetadataVersion, RecordBatch, Schema, Type,
};
use polars_parquet_format as pq;
use polars_parquet_format::thrift::protocol::{TCompactOutputProtocol, TOutputProtocol};

fn pad8(bytes: &mut Vec<u8>) {
    while !bytes.len().is_multiple_of(8) {
        bytes.push(0);
    }
}

/// An encapsulated IPC message (continuation marker, length, flatbuffer, padding).
fn message(message: &Message) -> Vec<u8> {
    let mut builder = Builder::new();
    let flat = builder.finish(message, None).to_vec();
    let mut padded = flat.clone();
    while !padded.len().is_multiple_of(8) {
        padded.push(0);
    }
    let mut out = vec![0xff; 4];
    out.extend_from_slice(&(padded.len() as i32).to_le_bytes());
    out.extend_from_slice(&padded);
    out
}

fn int64(name: &str) -> Field {
    Field {
        name: Some(name.into()),
        nullable: false,
        type_: Some(Type::Int(Box::new(Int {
            bit_width: 64,
            is_signed: true,
        }))),
        dictionary: None,
        children: Some(vec![]),
        custom_metadata: None,
    }
}

fn schema(fields: Vec<Field>) -> Schema {
    Schema {
        endianness: Endianness::Little,
        fields: Some(fields),
        custom_metadata: None,
        features: None,
    }
}

/// An Arrow IPC file of `schema` with the given batches (each: rows, nodes, buffers as
/// (bytes), body compression).
fn ipc_file(schema: Schema, batches: Vec<(i64, Vec<FieldNode>, Vec<Vec<u8>>)>, zstd: bool) -> Vec<u8> {
    let mut out = b"ARROW1\0\0".to_vec();
    out.extend(message(&Message {
        version: MetadataVersion::V5,
        header: Some(MessageHeader::Schema(Box::new(schema.clone()))),
        body_length: 0,
        custom_metadata: None,
    }));
    let mut blocks = Vec::new();
    for (rows, nodes, buffers) in batches {
        let mut body = Vec::new();
        let mut described = Vec::new();
        for buffer in &buffers {
            let offset = body.len() as i64;
            body.extend_from_slice(buffer);
            described.push(Buffer {
                offset,
                length: buffer.len() as i64,
            });
            pad8(&mut body);
        }
        let meta = message(&Message {
            version: MetadataVersion::V5,
            header: Some(MessageHeader::RecordBatch(Box::new(RecordBatch {
                length: rows,
                nodes: Some(nodes),
                buffers: Some(described),
                compression: zstd.then(|| {
                    Box::new(BodyCompression {
                        codec: CompressionType::Zstd,
                        method: BodyCompressionMethod::Buffer,
                    })
                }),
                variadic_buffer_counts: None,
            }))),
            body_length: body.len() as i64,
            custom_metadata: None,
        });
        blocks.push(Block {
            offset: out.len() as i64,
            meta_data_length: meta.len() as i32,
            body_length: body.len() as i64,
        });
        out.extend(meta);
        out.extend(body);
    }
    let footer = Footer {
        version: MetadataVersion::V5,
        schema: Some(Box::new(schema)),
        dictionaries: Some(vec![]),
        record_batches: Some(blocks),
        custom_metadata: None,
    };
    let mut builder = Builder::new();
    let footer = builder.finish(&footer, None).to_vec();
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as i32).to_le_bytes());
    out.extend_from_slice(b"ARROW1");
    out
}

/// Issue 23's first file: `batches` batches of one Int64 column of `rows` zeros, each
/// buffer zstd-compressed (the 8-byte prefix declares the uncompressed length). At
/// `rows = 1 << 27` and 6 batches: ~200 KB on disk declaring 6 GiB.
pub fn ipc_zeros_zstd(batches: usize, rows: i64) -> Vec<u8> {
    use std::io::Write;
    let bytes = rows as usize * 8;
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(zeros.len());
        encoder.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    let frame = encoder.finish().unwrap();
    let mut values = (bytes as i64).to_le_bytes().to_vec();
    values.extend_from_slice(&frame);
    let batch = (
        rows,
        vec![FieldNode {
            length: rows,
            null_count: 0,
        }],
        vec![Vec::new(), values],
    );
    ipc_file(schema(vec![int64("a")]), vec![batch; batches], true)
}

/// An honest, uncompressed IPC file of one Int64 column `0..rows`.
pub fn ipc_plain(rows: i64) -> Vec<u8> {
    let values: Vec<u8> = (0..rows).flat_map(|v| v.to_le_bytes()).collect();
    let batch = (
        rows,
        vec![FieldNode {
            length: rows,
            null_count: 0,
        }],
        vec![Vec::new(), values],
    );
    ipc_file(schema(vec![int64("a")]), vec![batch], false)
}

/// Issue 23's second file: one column, a list nested `depth` deep around an Int64, no
/// rows (at 5,000 deep: ~440 KB, and polars' recursive schema walk overflows the stack).
/// Built on a thread with a large stack: the flatbuffer builder recurses too.
pub fn ipc_deep(depth: usize) -> Vec<u8> {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || {
            let mut field = int64("item");
            for level in 0..depth {
                field = Field {
                    name: Some(if level + 1 == depth {
                        "a".into()
                    } else {
                        "item".into()
                    }),
                    nullable: true,
                    type_: Some(Type::List(Box::new(List {}))),
                    dictionary: None,
                    children: Some(vec![field]),
                    custom_metadata: None,
                };
            }
            ipc_file(schema(vec![field]), vec![], false)
        })
        .unwrap()
        .join()
        .unwrap()
}

fn thrift<F: FnOnce(&mut TCompactOutputProtocol<&mut Vec<u8>>)>(write: F) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut protocol = TCompactOutputProtocol::new(&mut out);
        write(&mut protocol);
        protocol.flush().unwrap();
    }
    out
}

/// An RLE run of `count` copies of `value` (bit width 1 or 0), as the hybrid encoding
/// writes it.
fn rle_run(count: u32, value: Option<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut header = u64::from(count) << 1;
    loop {
        let byte = (header & 0x7f) as u8;
        header >>= 7;
        if header == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    if let Some(value) = value {
        out.push(value);
    }
    out
}

fn leveled(runs: &[(u32, u8)]) -> Vec<u8> {
    let data: Vec<u8> = runs.iter().flat_map(|(n, v)| rle_run(*n, Some(*v))).collect();
    let mut out = (data.len() as u32).to_le_bytes().to_vec();
    out.extend(data);
    out
}

fn element(
    name: &str,
    kind: Option<pq::Type>,
    repetition: pq::FieldRepetitionType,
    children: Option<i32>,
) -> pq::SchemaElement {
    pq::SchemaElement {
        type_: kind,
        type_length: None,
        repetition_type: Some(repetition),
        name: name.into(),
        num_children: children,
        converted_type: None,
        scale: None,
        precision: None,
        field_id: None,
        logical_type: None,
    }
}

/// Issue 23's third file: one row, one column holding a list of `values` equal Int64s,
/// dictionary-encoded (one dictionary value, every index an RLE run of zeros), so its
/// size does not grow with `values`: at `1 << 27`, ~650 bytes declaring 1 GiB.
pub fn parquet_list(values: u32) -> Vec<u8> {
    let mut out = b"PAR1".to_vec();
    let dictionary_offset = out.len() as i64;
    let dictionary = 42i64.to_le_bytes().to_vec();
    out.extend(thrift(|p| {
        pq::PageHeader {
            type_: pq::PageType::DICTIONARY_PAGE,
            uncompressed_page_size: dictionary.len() as i32,
            compressed_page_size: dictionary.len() as i32,
            crc: None,
            data_page_header: None,
            index_page_header: None,
            dictionary_page_header: Some(pq::DictionaryPageHeader {
                num_values: 1,
                encoding: pq::Encoding::PLAIN,
                is_sorted: None,
            }),
            data_page_header_v2: None,
        }
        .write_to_out_protocol(p)
        .unwrap();
    }));
    out.extend_from_slice(&dictionary);
    let data_offset = out.len() as i64;
    // Repetition levels (a new row, then the same list), definition levels (all
    // present), then the indices: bit width 0, one run.
    let mut data = leveled(&[(1, 0), (values - 1, 1)]);
    data.extend(leveled(&[(values, 1)]));
    data.push(0);
    data.extend(rle_run(values, None));
    out.extend(thrift(|p| {
        pq::PageHeader {
            type_: pq::PageType::DATA_PAGE,
            uncompressed_page_size: data.len() as i32,
            compressed_page_size: data.len() as i32,
            crc: None,
            data_page_header: Some(pq::DataPageHeader {
                num_values: values as i32,
                encoding: pq::Encoding::RLE_DICTIONARY,
                definition_level_encoding: pq::Encoding::RLE,
                repetition_level_encoding: pq::Encoding::RLE,
                statistics: None,
            }),
            index_page_header: None,
            dictionary_page_header: None,
            data_page_header_v2: None,
        }
        .write_to_out_protocol(p)
        .unwrap();
    }));
    out.extend_from_slice(&data);
    let chunk_size = out.len() as i64 - dictionary_offset;
    let required = pq::FieldRepetitionType::REQUIRED;
    let mut list = element("a", None, required, Some(1));
    list.converted_type = Some(pq::ConvertedType::LIST);
    let meta = pq::FileMetaData {
        version: 1,
        schema: vec![
            element("schema", None, required, Some(1)),
            list,
            element("list", None, pq::FieldRepetitionType::REPEATED, Some(1)),
            element("element", Some(pq::Type::INT64), required, None),
        ],
        num_rows: 1,
        row_groups: vec![pq::RowGroup {
            columns: vec![pq::ColumnChunk {
                file_path: None,
                file_offset: dictionary_offset,
                meta_data: Some(pq::ColumnMetaData {
                    type_: pq::Type::INT64,
                    encodings: vec![
                        pq::Encoding::PLAIN,
                        pq::Encoding::RLE,
                        pq::Encoding::RLE_DICTIONARY,
                    ],
                    path_in_schema: vec!["a".into(), "list".into(), "element".into()],
                    codec: pq::CompressionCodec::UNCOMPRESSED,
                    num_values: i64::from(values),
                    total_uncompressed_size: chunk_size,
                    total_compressed_size: chunk_size,
                    key_value_metadata: None,
                    data_page_offset: data_offset,
                    index_page_offset: None,
                    dictionary_page_offset: Some(dictionary_offset),
                    statistics: None,
                    encoding_stats: None,
                    bloom_filter_offset: None,
                    bloom_filter_length: None,
                    size_statistics: None,
                }),
                offset_index_offset: None,
                offset_index_length: None,
                column_index_offset: None,
                column_index_length: None,
                crypto_metadata: None,
                encrypted_column_metadata: None,
            }],
            total_byte_size: chunk_size,
            num_rows: 1,
            sorting_columns: None,
            file_offset: Some(dictionary_offset),
            total_compressed_size: Some(chunk_size),
            ordinal: Some(0),
        }],
        key_value_metadata: None,
        created_by: Some("stayput crafted".into()),
        column_orders: None,
        encryption_algorithm: None,
        footer_signing_key_metadata: None,
    };
    let footer = thrift(|p| {
        meta.write_to_out_protocol(p).unwrap();
    });
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    out
}
