//! Excel workbooks (`.xlsx`, `.xlsm`): one sheet (the first, or the one chosen) read
//! with calamine into a frame, kept as Arrow IPC like a CSV.
//!
//! What the workbook says about itself is checked before it is believed:
//! - a workbook is a zip: every entry is unpacked once, streamed and counted, and the
//!   whole may unpack to at most [`MAX_XLSX_RATIO`] times the file (beyond
//!   [`GZIP_SLACK`]), whatever sizes the zip declares: a zip bomb is a 413;
//! - the sheet's cells are walked once without keeping them ([`plan`]): the frame is the
//!   rectangle they span, so it is sized (and refused when wider than [`MAX_COLUMNS`] or
//!   over the session's room) before a column is built, and a cell in A1 and another in
//!   XFD1048576 cannot make a dense 17e9-cell table;
//! - cells must come row by row, left to right, as every spreadsheet program writes them.
//!
//! The first row of the used range is the header (an empty name becomes `column_<n>`, a
//! repeated one gets `_2`, `_3`…). A column of numbers is `i64` when every value is whole,
//! else `f64`; of dates, a datetime (ms); of times of day or durations, a duration (ms);
//! of `TRUE`/`FALSE`, booleans; anything mixed, text. A formula's value is the one the
//! program that saved the file computed (formulas are not evaluated here); an error value
//! (`#DIV/0!`…) is empty. A merged range keeps its value in its first cell, the others
//! empty, as pandas and polars' own Excel readers do.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx};
use polars::prelude::*;

use super::parse::first_line;
use super::{IngestError, MAX_COLUMNS, MAX_ROWS};

/// Bytes a string value takes in a frame besides its own bytes.
const VIEW_BYTES: u64 = 16;

/// What a column's values are, as far as they have been seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Bool,
    Int,
    Float,
    DateTime,
    Duration,
    Text,
}

impl Kind {
    fn of(value: &DataRef<'_>) -> Self {
        match value {
            DataRef::Empty | DataRef::Error(_) => Self::Empty,
            DataRef::Bool(_) => Self::Bool,
            DataRef::Int(_) => Self::Int,
            DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Self::Int,
            DataRef::Float(_) => Self::Float,
            DataRef::DateTime(d) if d.is_duration() => Self::Duration,
            DataRef::DateTime(_) => Self::DateTime,
            DataRef::String(_)
            | DataRef::SharedString(_)
            | DataRef::DateTimeIso(_)
            | DataRef::DurationIso(_) => Self::Text,
        }
    }

    fn join(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::Empty, x) | (x, Self::Empty) => x,
            (Self::Int, Self::Float) | (Self::Float, Self::Int) => Self::Float,
            _ => Self::Text,
        }
    }
}

/// What a first pass over the chosen sheet found: enough to size the frame and type its
/// columns before any is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// The sheet's name.
    pub(super) sheet: String,
    /// The header's row and the first column (0-based).
    first_row: u32,
    first_col: u32,
    /// Data rows (below the header) and columns.
    pub(super) rows: u64,
    pub(super) cols: u64,
    kinds: Vec<Kind>,
    /// Bytes the frame will take, and what the workbook's shared strings take while it
    /// is read.
    pub(super) bytes: u64,
}

fn damaged(reason: impl std::fmt::Display) -> IngestError {
    IngestError::Damaged {
        format: "Excel",
        reason: first_line(&reason.to_string()),
    }
}

fn open(path: &Path) -> Result<Xlsx<BufReader<File>>, IngestError> {
    let file = File::open(path).map_err(IngestError::io)?;
    Xlsx::new(BufReader::new(file)).map_err(|err| match err {
        calamine::XlsxError::Password => IngestError::LockedWorkbook,
        err => damaged(err),
    })
}

/// The sheet named `chosen`, or the first.
fn sheet_of(book: &Xlsx<BufReader<File>>, chosen: Option<&str>) -> Result<String, IngestError> {
    let names = book.sheet_names();
    match chosen {
        None => names.into_iter().next().ok_or(IngestError::Empty),
        Some(name) => {
            names
                .iter()
                .find(|n| n.as_str() == name)
                .cloned()
                .ok_or_else(|| IngestError::NoSuchSheet {
                    name: first_line(name),
                    sheets: first_line(&names.join(", ")),
                })
        }
    }
}

/// Checks the workbook at `path` (of `file_bytes`) and walks its sheet `chosen` (or the
/// first) once, keeping nothing but counts: the frame's shape, its columns' types and
/// the bytes it will take.
pub(super) fn plan(path: &Path, chosen: Option<&str>, file_bytes: u64) -> Result<Plan, IngestError> {
    caught(|| planned(path, chosen, file_bytes))
}

/// `work`, a panic of the reader on a malformed workbook being the file's fault (a 400),
/// not the server's.
fn caught<T>(work: impl FnOnce() -> Result<T, IngestError>) -> Result<T, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(damaged("its content could not be read")))
}

fn planned(path: &Path, chosen: Option<&str>, file_bytes: u64) -> Result<Plan, IngestError> {
    let parts = super::xlsx_zip::scan(path, file_bytes)?;
    let mut book = open(path)?;
    let sheet = sheet_of(&book, chosen)?;
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(damaged)?;
    let mut first: Option<(u32, u32)> = None;
    let (mut last_row, mut first_col, mut last_col) = (0u32, u32::MAX, 0u32);
    let mut previous: Option<(u32, u32)> = None;
    let mut kinds: HashMap<u32, Kind> = HashMap::new();
    let mut text_bytes = 0u64;
    while let Some(cell) = cells.next_cell().map_err(damaged)? {
        let (row, col) = cell.get_position();
        if previous.is_some_and(|p| (row, col) <= p) {
            return Err(damaged("its cells are not in row order"));
        }
        previous = Some((row, col));
        let value = cell.get_value();
        let kind = Kind::of(value);
        if kind == Kind::Empty {
            continue;
        }
        let header = *first.get_or_insert((row, col));
        first_col = first_col.min(col);
        last_col = last_col.max(col);
        last_row = row;
        if u64::from(last_col - first_col) + 1 > MAX_COLUMNS {
            return Err(IngestError::TooManyColumns {
                found: u64::from(last_col - first_col) + 1,
                max: MAX_COLUMNS,
            });
        }
        if row == header.0 {
            continue;
        }
        text_bytes += text_len(value);
        let seen = kinds.entry(col).or_insert(Kind::Empty);
        *seen = seen.join(kind);
    }
    let Some((first_row, _)) = first else {
        return Err(IngestError::Empty);
    };
    let rows = u64::from(last_row - first_row);
    if rows == 0 {
        return Err(IngestError::NoRows);
    }
    if rows > MAX_ROWS {
        return Err(IngestError::TooManyRows {
            found: rows,
            max: MAX_ROWS,
        });
    }
    let cols = u64::from(last_col - first_col) + 1;
    let kinds: Vec<Kind> = (first_col..=last_col)
        .map(|c| kinds.get(&c).copied().unwrap_or(Kind::Empty))
        .collect();
    let texts = kinds
        .iter()
        .filter(|k| matches!(k, Kind::Text | Kind::Empty))
        .count() as u64;
    let bytes = rows
        .saturating_mul(cols)
        .saturating_mul(8)
        .saturating_add(rows.saturating_mul(texts).saturating_mul(VIEW_BYTES))
        .saturating_add(text_bytes)
        // The workbook's shared strings, held while the sheet is read.
        .saturating_add(parts.strings);
    Ok(Plan {
        sheet,
        first_row,
        first_col,
        rows,
        cols,
        kinds,
        bytes,
    })
}

/// Bytes a value takes as text (what a text column holds of it).
fn text_len(value: &DataRef<'_>) -> u64 {
    match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len() as u64,
        DataRef::SharedString(s) => s.len() as u64,
        // A number or a date written out.
        _ => NUMBER_TEXT,
    }
}

/// One column being built, of its planned type.
enum Builder {
    Bool(BooleanChunkedBuilder),
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Millis(PrimitiveChunkedBuilder<Int64Type>, Kind),
    Text(StringChunkedBuilder),
}

impl Builder {
    fn new(kind: Kind, rows: usize) -> Self {
        let name = PlSmallStr::EMPTY;
        match kind {
            Kind::Bool => Self::Bool(BooleanChunkedBuilder::new(name, rows)),
            Kind::Int => Self::Int(PrimitiveChunkedBuilder::new(name, rows)),
            Kind::Float => Self::Float(PrimitiveChunkedBuilder::new(name, rows)),
            Kind::DateTime | Kind::Duration => Self::Millis(PrimitiveChunkedBuilder::new(name, rows), kind),
            Kind::Text | Kind::Empty => Self::Text(StringChunkedBuilder::new(name, rows)),
        }
    }

    fn push_null(&mut self) {
        match self {
            Self::Bool(b) => b.append_null(),
            Self::Int(b) | Self::Millis(b, _) => b.append_null(),
            Self::Float(b) => b.append_null(),
            Self::Text(b) => b.append_null(),
        }
    }

    /// Appends `value` (of a kind the plan allows here; anything else is empty).
    fn push(&mut self, value: &DataRef<'_>) {
        match (self, value) {
            (Self::Bool(b), DataRef::Bool(v)) => b.append_value(*v),
            (Self::Int(b), DataRef::Int(v)) => b.append_value(*v),
            (Self::Int(b), DataRef::Float(v)) => b.append_value(*v as i64),
            (Self::Float(b), DataRef::Int(v)) => b.append_value(*v as f64),
            (Self::Float(b), DataRef::Float(v)) => b.append_value(*v),
            (Self::Millis(b, _), DataRef::DateTime(d)) => b.append_option(millis(d)),
            (Self::Text(b), v) => match as_text(v) {
                Some(text) => b.append_value(text),
                None => b.append_null(),
            },
            (column, _) => column.push_null(),
        }
    }

    fn finish(self, name: &str) -> Column {
        let name = PlSmallStr::from(name);
        let series = match self {
            Self::Bool(b) => b.finish().into_series(),
            Self::Int(b) => b.finish().into_series(),
            Self::Float(b) => b.finish().into_series(),
            Self::Millis(b, Kind::Duration) => b.finish().into_duration(TimeUnit::Milliseconds).into_series(),
            Self::Millis(b, _) => b
                .finish()
                .into_datetime(TimeUnit::Milliseconds, None)
                .into_series(),
            Self::Text(b) => b.finish().into_series(),
        };
        series.with_name(name).into_column()
    }
}

/// A date's or duration's milliseconds (since 1970 for a date; the 1900 and 1904
/// systems both).
fn millis(value: &calamine::ExcelDateTime) -> Option<i64> {
    if value.is_duration() {
        let ms = value.as_f64() * 86_400_000.0;
        return ms.is_finite().then(|| ms.round() as i64);
    }
    value.as_datetime().map(|d| d.and_utc().timestamp_millis())
}

/// A number as text: plain, or with an exponent when plain would be long (`1e300`), so
/// it never takes more than [`NUMBER_TEXT`] bytes.
fn number_text(f: f64) -> String {
    let plain = f.to_string();
    if plain.len() <= NUMBER_TEXT as usize {
        plain
    } else {
        format!("{f:e}")
    }
}

/// The most bytes a number or a date takes as text.
const NUMBER_TEXT: u64 = 32;

/// A value as a text column holds it.
fn as_text(value: &DataRef<'_>) -> Option<String> {
    Some(match value {
        DataRef::Empty | DataRef::Error(_) => return None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::DateTime(d) => match (d.is_duration(), d.as_datetime()) {
            (false, Some(t)) => t.to_string(),
            _ => d.as_f64().to_string(),
        },
    })
}

/// The longest column name kept (a longer header cell is cut).
const MAX_NAME_CHARS: usize = 256;

/// A header cell's text, at most [`MAX_NAME_CHARS`] characters (never the whole of a
/// long shared string copied).
fn header_text(value: &DataRef<'_>) -> Option<String> {
    let cut = |s: &str| s.chars().take(MAX_NAME_CHARS).collect::<String>();
    match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Some(cut(s)),
        DataRef::SharedString(s) => Some(cut(s)),
        other => as_text(other),
    }
}

/// The column names of the header row: blanks named by position, repeats numbered.
fn header_names(header: Vec<Option<String>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    let mut taken: HashSet<String> = HashSet::with_capacity(header.len());
    let mut next: HashMap<String, usize> = HashMap::new();
    for (i, name) in header.into_iter().enumerate() {
        let base = name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("column_{}", i + 1));
        let mut name = base.clone();
        if taken.contains(&name) {
            let n = next.entry(base.clone()).or_insert(1);
            loop {
                *n += 1;
                name = format!("{base}_{n}");
                if !taken.contains(&name) {
                    break;
                }
            }
        }
        taken.insert(name.clone());
        names.push(name);
    }
    names
}

/// The frame of the sheet `plan` found in the workbook at `path`.
pub(super) fn read(path: &Path, plan: &Plan) -> Result<DataFrame, IngestError> {
    caught(|| built(path, plan))
}

fn built(path: &Path, plan: &Plan) -> Result<DataFrame, IngestError> {
    let mut book = open(path)?;
    let mut cells = book.worksheet_cells_reader(&plan.sheet).map_err(damaged)?;
    let rows = usize::try_from(plan.rows).map_err(|_| damaged("too many rows"))?;
    let width = plan.kinds.len();
    let mut header: Vec<Option<String>> = vec![None; width];
    let mut columns: Vec<Builder> = plan.kinds.iter().map(|k| Builder::new(*k, rows)).collect();
    let mut filled = vec![0usize; width];
    while let Some(cell) = cells.next_cell().map_err(damaged)? {
        let (row, col) = cell.get_position();
        if row < plan.first_row || col < plan.first_col {
            continue;
        }
        let c = (col - plan.first_col) as usize;
        if c >= width {
            continue;
        }
        let value = cell.get_value();
        if Kind::of(value) == Kind::Empty {
            // A styled blank or an error value: empty, wherever it is.
            continue;
        }
        if row == plan.first_row {
            header[c] = header_text(value);
            continue;
        }
        let r = (row - plan.first_row - 1) as usize;
        if r >= rows || r < filled[c] {
            // Past the planned rectangle, or out of order: the file changed, or lied.
            return Err(damaged("its cells are not in row order"));
        }
        while filled[c] < r {
            columns[c].push_null();
            filled[c] += 1;
        }
        columns[c].push(value);
        filled[c] += 1;
    }
    let names = header_names(header);
    let mut out = Vec::with_capacity(width);
    for ((mut column, name), done) in columns.into_iter().zip(&names).zip(filled) {
        for _ in done..rows {
            column.push_null();
        }
        out.push(column.finish(name));
    }
    DataFrame::new(rows, out).map_err(damaged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_widen_to_what_every_value_fits() {
        assert_eq!(Kind::Int.join(Kind::Float), Kind::Float);
        assert_eq!(Kind::Empty.join(Kind::Bool), Kind::Bool);
        assert_eq!(Kind::Bool.join(Kind::Int), Kind::Text);
        assert_eq!(Kind::DateTime.join(Kind::Duration), Kind::Text);
        assert_eq!(Kind::of(&DataRef::Float(3.0)), Kind::Int);
        assert_eq!(Kind::of(&DataRef::Float(3.5)), Kind::Float);
        assert_eq!(
            Kind::of(&DataRef::Error(calamine::CellErrorType::Div0)),
            Kind::Empty
        );
    }

    #[test]
    fn header_names_are_never_blank_or_repeated() {
        let names = header_names(vec![
            Some("a".into()),
            None,
            Some(" a ".into()),
            Some("".into()),
            Some("a".into()),
        ]);
        assert_eq!(names, ["a", "column_2", "a_2", "column_4", "a_3"]);
    }
}
