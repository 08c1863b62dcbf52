//! Reading a received file into a frame with polars, and polars' complaints turned into
//! messages that name the problem.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use polars::prelude::*;

use super::check::line_of_value;
use super::format::Format;
use super::missing::Spellings;
use super::{ipc_footer, parquet_footer, IngestError, MAX_COLUMNS, MAX_EXPANSION};

/// Rows polars reads to infer a CSV column's type.
pub(super) const INFER_ROWS: usize = 10_000;

/// Bytes the frame of the complete file at `path` (`file_bytes` long) will take, known
/// before it is decoded, so that memory is reserved (or the file refused) first: a CSV's
/// records × fields counted while it arrived, at least 8 bytes a value; a JSON file's
/// table and what polars' reading takes, as its check counted
/// ([`super::json_check::JsonCheck::frame_bytes`]) (`counted`: either); a
/// Parquet or Arrow IPC file's own metadata, checked against the file first
/// ([`parquet_footer`], [`ipc_footer`]) and refused when it would expand more than
/// [`MAX_EXPANSION`] times.
pub(super) fn expected_bytes(
    path: &Path,
    format: Format,
    file_bytes: u64,
    counted: u64,
) -> Result<super::Declared, IngestError> {
    let declared = match format {
        Format::Csv(_) | Format::Json | Format::NdJson => {
            return Ok(super::Declared {
                bytes: file_bytes.max(counted),
                ..Default::default()
            })
        }
        // Walked by its own check ([`super::xlsx::plan`]), which counted it.
        Format::Xlsx => super::Declared {
            bytes: counted,
            ..Default::default()
        },
        Format::Ipc => ipc_footer::declared(path)?,
        Format::Parquet => parquet_footer::declared(path)?,
    };
    if declared.bytes > file_bytes.max(1).saturating_mul(MAX_EXPANSION) {
        return Err(IngestError::Expands {
            format: format.name(),
            bytes: declared.bytes,
            max: MAX_EXPANSION,
        });
    }
    Ok(super::Declared {
        bytes: declared.bytes.max(file_bytes),
        ..declared
    })
}

/// The frame in the file at `path`, of `format`; a CSV's fields that read as missing
/// are those of `missing` (what its check noted, or [`Spellings::ALL`]).
pub(super) fn read(path: &Path, format: Format, missing: Spellings) -> Result<DataFrame, IngestError> {
    let frame = match format {
        Format::Csv(sep) => read_csv(path, sep, missing)?,
        Format::Parquet => read_parquet(path)?,
        Format::Ipc => read_ipc(path)?,
        Format::Json | Format::NdJson => read_json(path, format)?,
        // Read with its plan ([`super::xlsx::read`]), never here.
        Format::Xlsx => return Err(IngestError::Storage),
    };
    if frame.width() as u64 > MAX_COLUMNS {
        return Err(IngestError::TooManyColumns {
            found: frame.width() as u64,
            max: MAX_COLUMNS,
        });
    }
    if frame.width() == 0 {
        return Err(IngestError::Empty);
    }
    if frame.height() == 0 {
        return Err(IngestError::NoRows);
    }
    Ok(frame)
}

/// How a CSV separated by `sep` is read: its header, its column types inferred from
/// [`INFER_ROWS`] records, dates recognised, the spellings of `missing` read as missing.
pub(super) fn csv_options(sep: u8, missing: Spellings) -> CsvReadOptions {
    let spellings: Vec<PlSmallStr> = missing.texts().map(PlSmallStr::from).collect();
    let null_values = (!spellings.is_empty()).then_some(NullValues::AllColumns(spellings));
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(INFER_ROWS))
        .map_parse_options(|p| {
            p.with_separator(sep)
                .with_try_parse_dates(true)
                .with_null_values(null_values.clone())
        })
}

fn read_csv(path: &Path, sep: u8, missing: Spellings) -> Result<DataFrame, IngestError> {
    let frame = csv_options(sep, missing)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
        .map_err(|err| csv_error(path, sep, &err.to_string()))?;
    Ok(frame)
}

/// A CSV failure as the user's problem: a value that does not fit its column's type
/// gets the line it is on; anything else polars' first line.
fn csv_error(path: &Path, sep: u8, message: &str) -> IngestError {
    if let Some(bad) = TypeMismatch::parse(message) {
        let line = File::open(path)
            .ok()
            .and_then(|file| line_of_value(file, sep, bad.column_number.saturating_sub(1), &bad.value));
        return IngestError::MixedTypes {
            column: bad.column,
            value: bad.value,
            dtype: bad.dtype,
            line,
        };
    }
    IngestError::Damaged {
        format: "CSV",
        reason: first_line(message),
    }
}

/// polars' "could not parse `v` as dtype `t` at column 'c' (column number n)".
struct TypeMismatch {
    value: String,
    dtype: String,
    column: String,
    column_number: usize,
}

impl TypeMismatch {
    fn parse(message: &str) -> Option<Self> {
        let rest = message.split_once("could not parse `")?.1;
        let (value, rest) = rest.split_once("` as dtype `")?;
        let (dtype, rest) = rest.split_once("` at column '")?;
        let (column, rest) = rest.rsplit_once("' (column number ")?;
        let (number, _) = rest.split_once(')')?;
        Some(Self {
            value: value.to_owned(),
            dtype: dtype.to_owned(),
            column: column.to_owned(),
            column_number: number.trim().parse().ok()?,
        })
    }
}

/// A JSON file, checked on its way in ([`super::json_check`]): polars infers each
/// column's type from all the records.
fn read_json(path: &Path, format: Format) -> Result<DataFrame, IngestError> {
    let damaged = |err: PolarsError| IngestError::Damaged {
        format: format.name(),
        reason: first_line(&err.to_string()),
    };
    let file = File::open(path).map_err(IngestError::io)?;
    let layout = match format {
        Format::NdJson => JsonFormat::JsonLines,
        _ => JsonFormat::Json,
    };
    // Not rechunked: joining its chunks would hold the frame twice.
    JsonReader::new(file)
        .set_rechunk(false)
        .with_json_format(layout)
        .infer_schema_len(None)
        .finish()
        .map_err(damaged)
}

fn read_parquet(path: &Path) -> Result<DataFrame, IngestError> {
    check_parquet_tail(path)?;
    let file = File::open(path).map_err(IngestError::io)?;
    // Not rechunked: joining the row groups' chunks would hold the frame twice.
    ParquetReader::new(file)
        .set_rechunk(false)
        .finish()
        .map_err(|err| IngestError::Damaged {
            format: "Parquet",
            reason: first_line(&err.to_string()),
        })
}

/// A Parquet file ends with its footer and "PAR1": without them it was cut off.
fn check_parquet_tail(path: &Path) -> Result<(), IngestError> {
    let mut file = File::open(path).map_err(IngestError::io)?;
    let len = file.metadata().map_err(IngestError::io)?.len();
    let mut tail = [0u8; 4];
    let whole = len >= 12
        && file.seek(SeekFrom::End(-4)).is_ok()
        && file.read_exact(&mut tail).is_ok()
        && &tail == b"PAR1";
    if whole {
        Ok(())
    } else {
        Err(IngestError::Truncated("Parquet"))
    }
}

fn read_ipc(path: &Path) -> Result<DataFrame, IngestError> {
    let file = File::open(path).map_err(IngestError::io)?;
    // Not rechunked: joining the batches would hold the frame twice.
    IpcReader::new(file)
        .set_rechunk(false)
        .finish()
        .map_err(|err| IngestError::Damaged {
            format: "Arrow IPC",
            reason: first_line(&err.to_string()),
        })
}

/// The first line of a library message, cut short: enough to name the problem, never a
/// path (polars' IO errors may carry one, so those are not passed on).
pub(super) fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    if line.contains('/') && line.to_ascii_lowercase().contains("os error") {
        return "the file could not be read".to_owned();
    }
    let mut cut: String = line.chars().take(160).collect();
    if line.chars().count() > 160 {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_largest_record_batch_or_row_group_is_declared() {
        let rows = 100_000usize;
        let whole = DataFrame::new(
            rows,
            vec![
                Column::new("x".into(), (0..rows).map(|i| i as f64).collect::<Vec<_>>()),
                Column::new(
                    "s".into(),
                    (0..rows).map(|i| format!("v{}", i % 97)).collect::<Vec<_>>(),
                ),
            ],
        )
        .expect("frame");
        let dir = tempfile::tempdir().expect("tempdir");
        // Ten record batches; ten row groups.
        let mut chunked = whole.slice(0, 10_000);
        for at in (10_000..rows).step_by(10_000) {
            chunked
                .vstack_mut(&whole.slice(at as i64, 10_000))
                .expect("stacked");
        }
        let ipc = dir.path().join("ten.arrow");
        let mut file = std::fs::File::create(&ipc).expect("file");
        IpcWriter::new(&mut file).finish(&mut chunked).expect("arrow");
        let parquet = dir.path().join("ten.parquet");
        let mut file = std::fs::File::create(&parquet).expect("file");
        ParquetWriter::new(&mut file)
            .with_row_group_size(Some(10_000))
            .finish(&mut whole.clone())
            .expect("parquet");
        for (path, format) in [(ipc, Format::Ipc), (parquet, Format::Parquet)] {
            let len = std::fs::metadata(&path).expect("len").len();
            let declared = expected_bytes(&path, format, len, 0).expect("declared");
            assert!(
                declared.largest > 0 && declared.largest * 8 < declared.bytes,
                "{format:?}: {declared:?}"
            );
        }
    }

    #[test]
    fn polars_type_errors_are_understood() {
        let m = "could not parse `abc` as dtype `i64` at column 'b' (column number 2)\n\nThe current offset";
        let bad = TypeMismatch::parse(m).expect("parsed");
        assert_eq!(
            (
                bad.value.as_str(),
                bad.dtype.as_str(),
                bad.column.as_str(),
                bad.column_number
            ),
            ("abc", "i64", "b", 2)
        );
    }
}
