//! Excel uploads through the real disk: a real workbook written by LibreOffice (dates,
//! a merged range, formulas with their cached values, two sheets) becomes a frame with
//! its types; a zip bomb, a sheet whose cells span more than the session may hold, one
//! wider than the column limit, a locked or old-format workbook and a sheet that does
//! not exist are refused before a column is built, and leave nothing behind.

use std::io::Write;
use std::path::PathBuf;

use polars::prelude::*;
use stayput_cache::{CacheError, SessionKey};
use stayput_data::{IngestError, MAX_COLUMNS};

#[path = "../../cache/tests/common/mod.rs"]
mod common;
mod uploading;
use uploading::{setup, setup_with};

fn fixture() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seattle-weather.xlsx");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A workbook of one sheet whose `<sheetData>` is `rows` (and `extra` parts besides).
fn workbook(rows: &str, extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        ::zip::write::SimpleFileOptions::default().compression_method(::zip::CompressionMethod::Deflated);
    let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let parts: Vec<(&str, Vec<u8>)> = vec![
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#.to_vec(),
        ),
        (
            "xl/workbook.xml",
            format!(r#"<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#).into_bytes(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_vec(),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!(r#"<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>"#).into_bytes(),
        ),
    ];
    for (name, bytes) in parts.iter().chain(extra) {
        zip.start_file(*name, options).expect("part");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

fn number(cell: &str, value: f64) -> String {
    format!(r#"<c r="{cell}"><v>{value}</v></c>"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_workbook_becomes_a_frame_with_its_types() {
    let s = setup();
    let session = SessionKey::random();
    let book = fixture();
    let handle = s
        .upload(session, "seattle-weather.xlsx", &book, 1000)
        .await
        .expect("workbook");
    assert_eq!((handle.rows, handle.cols), (28, 9));
    let frame = s.cache.get(session, &handle).await.expect("read");
    let names: Vec<&str> = frame.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "date",
            "week",
            "precipitation",
            "temp_max",
            "temp_min",
            "wind",
            "weather",
            "range",
            "warm"
        ]
    );
    // Real date cells: a datetime, 2012-01-01 first.
    let date = frame.column("date").expect("date");
    assert_eq!(date.dtype(), &DataType::Datetime(TimeUnit::Milliseconds, None));
    assert_eq!(
        date.get(0).expect("first").extract::<i64>(),
        Some(1_325_376_000_000)
    );
    // The merged week label: in its first cell only.
    let week = frame.column("week").expect("week").str().expect("text").clone();
    assert_eq!(week.get(0), Some("week 1"));
    assert_eq!(week.get(1), None);
    assert_eq!(week.get(7), Some("week 2"));
    assert_eq!(week.null_count(), 24);
    // Numbers, and the formulas' values as LibreOffice computed them.
    let max = frame.column("temp_max").expect("max").f64().expect("f64").clone();
    let min = frame.column("temp_min").expect("min").f64().expect("f64").clone();
    let range = frame.column("range").expect("range").f64().expect("f64").clone();
    for i in 0..28 {
        let (hi, lo, r) = (
            max.get(i).expect("max"),
            min.get(i).expect("min"),
            range.get(i).expect("range"),
        );
        assert!((hi - lo - r).abs() < 1e-9, "row {i}: {hi} - {lo} = {r}");
    }
    let warm = frame.column("warm").expect("warm").bool().expect("bool").clone();
    assert_eq!(warm.get(0), Some(true), "12.8 > 10");
    let warm_days = (0..28).filter(|&i| max.get(i).is_some_and(|v| v > 10.0)).count() as u32;
    assert_eq!(warm.sum(), Some(warm_days));
    assert_eq!(
        frame
            .column("weather")
            .expect("weather")
            .str()
            .expect("text")
            .get(1),
        Some("rain")
    );

    // The second sheet, chosen by name: formulas over the first.
    let mut incoming = s
        .uploads
        .incoming(session, "seattle-weather.xlsx")
        .expect("incoming");
    incoming.choose_sheet(Some("Totals".into()));
    incoming.write(&book).expect("write");
    let totals = s
        .uploads
        .ingest(&s.cache, session, incoming)
        .await
        .expect("totals");
    assert_eq!((totals.rows, totals.cols), (3, 2));
    let frame = s.cache.get(session, &totals).await.expect("read");
    let value = frame.column("value").expect("value").f64().expect("f64").clone();
    assert_eq!(value.get(0), Some(28.0));
    assert!((value.get(1).expect("mean") - 6.842_857_142_857_14).abs() < 1e-9);
    assert_eq!(value.get(2), Some(20.3));
}

#[tokio::test]
async fn a_sheet_that_does_not_exist_is_named_with_those_that_do() {
    let s = setup();
    let mut incoming = s
        .uploads
        .incoming(SessionKey::random(), "book.xlsx")
        .expect("incoming");
    incoming.choose_sheet(Some("Nope".into()));
    incoming.write(&fixture()).expect("write");
    let err = s
        .uploads
        .ingest(&s.cache, SessionKey::random(), incoming)
        .await
        .expect_err("no sheet");
    let message = err.to_string();
    assert!(
        message.contains("Nope") && message.contains("Weather, Totals"),
        "{message}"
    );
    assert!(s.files().is_empty());
}

#[tokio::test]
async fn hostile_workbooks_are_refused_before_a_column_is_built() {
    let s = setup();
    // A zip bomb: a sheet that unpacks to 64 MiB of blanks from ~64 KB.
    let blanks = vec![b' '; 64 << 20];
    let bomb = workbook("", &[("xl/worksheets/padding.xml", blanks)]);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    assert!(matches!(
        s.fails("bomb.xlsx", &bomb).await,
        IngestError::Inflates { .. }
    ));

    // A cell in A1 and one in column XFD: 16,384 columns from a few bytes.
    let wide = workbook(
        &format!(
            r#"<row r="1">{}{}</row><row r="2">{}</row>"#,
            number("A1", 1.0),
            number("XFD1", 2.0),
            number("A2", 3.0)
        ),
        &[],
    );
    assert!(matches!(
        s.fails("wide.xlsx", &wide).await,
        IngestError::TooManyColumns { found: 16_384, max } if max == MAX_COLUMNS
    ));

    // Cells out of row order.
    let shuffled = workbook(
        &format!(
            r#"<row r="2">{}</row><row r="1">{}</row>"#,
            number("A2", 1.0),
            number("A1", 2.0)
        ),
        &[],
    );
    assert!(matches!(
        s.fails("shuffled.xlsx", &shuffled).await,
        IngestError::Damaged { .. }
    ));

    // An old binary workbook (or a password-locked one: the same container).
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend_from_slice(&[0; 504]);
    assert_eq!(s.fails("old.xls", &ole).await, IngestError::LockedWorkbook);
    assert_eq!(s.fails("locked.xlsx", &ole).await, IngestError::LockedWorkbook);
    // A zip that is not a workbook.
    assert!(matches!(
        s.fails("notes.xlsx", &workbook_without_sheets()).await,
        IngestError::Damaged { .. }
    ));
}

fn workbook_without_sheets() -> Vec<u8> {
    let mut zip = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("notes.txt", ::zip::write::SimpleFileOptions::default())
        .expect("part");
    zip.write_all(b"not a workbook").expect("write");
    zip.finish().expect("zip").into_inner()
}

#[tokio::test]
async fn a_sparse_sheet_is_sized_by_the_rectangle_its_cells_span() {
    // Three cells: A1, ZZ1 and ZZ1048576: 702 columns × 1,048,575 rows, 5.9 GB as a
    // frame, from a file of a few hundred bytes. Refused by the session's room before a
    // column is built.
    let s = setup_with(16 << 20, 64);
    let sparse = workbook(
        &format!(
            r#"<row r="1">{}{}</row><row r="1048576">{}</row>"#,
            number("A1", 1.0),
            number("ZZ1", 2.0),
            number("ZZ1048576", 3.0)
        ),
        &[],
    );
    let session = SessionKey::random();
    let err = s
        .upload(session, "sparse.xlsx", &sparse, 100)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            IngestError::Cache(CacheError::TooLarge { .. }) | IngestError::Expands { .. }
        ),
        "{err}"
    );
    assert!(s.files().is_empty(), "{:?}", s.files());
}

/// [`workbook`] with its own workbook list and relationships (`sheets` sheets, all
/// named by one relationship whose target is `target_len` bytes long).
fn many_sheets(sheets: usize, target_len: usize) -> Vec<u8> {
    let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let list: String = (0..sheets)
        .map(|i| format!(r#"<sheet name="s{i}" sheetId="{i}" r:id="a"/>"#))
        .collect();
    let mut zip = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        ::zip::write::SimpleFileOptions::default().compression_method(::zip::CompressionMethod::Deflated);
    let parts = [
        (
            "xl/workbook.xml",
            format!(r#"<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{list}</sheets></workbook>"#),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="a" Type="{rel}/worksheet" Target="worksheets/{}"/></Relationships>"#,
                "x".repeat(target_len)
            ),
        ),
    ];
    for (name, text) in parts {
        zip.start_file(name, options).expect("part");
        zip.write_all(text.as_bytes()).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

#[tokio::test]
async fn what_calamine_would_blow_up_on_opening_is_refused_first() {
    let s = setup();
    // 25,000 sheets named by one 600 KB relationship target: calamine would build each
    // sheet's path from it, 15 GB, before any sheet is read.
    let paths = many_sheets(25_000, 600_000);
    assert!(paths.len() < 200_000, "{}", paths.len());
    assert!(matches!(
        s.fails("paths.xlsx", &paths).await,
        IngestError::WorkbookTooLarge {
            what: "list of sheets",
            ..
        }
    ));
    // 25,000 cell styles and a 5,000-character number format: each style is matched
    // against the format when the workbook opens.
    let styles = format!(
        r#"<styleSheet><numFmts><numFmt numFmtId="164" formatCode="{}"/></numFmts><cellXfs>{}</cellXfs></styleSheet>"#,
        "0".repeat(5_000),
        r#"<xf numFmtId="164"/>"#.repeat(25_000)
    );
    let styled = workbook("", &[("xl/styles.xml", styles.into_bytes())]);
    assert!(matches!(
        s.fails("styles.xlsx", &styled).await,
        IngestError::WorkbookTooLarge {
            what: "cell styles",
            ..
        }
    ));
    // A zip whose end record declares more parts than any workbook has.
    let mut declared = workbook("", &[]);
    let end = declared.len() - 22;
    assert_eq!(&declared[end..end + 4], b"PK\x05\x06");
    declared[end + 10..end + 12].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(matches!(
        s.fails("parts.xlsx", &declared).await,
        IngestError::Damaged { .. }
    ));
    // A gzip'd workbook: its zip's ratio would multiply gzip's.
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    packed.write_all(&fixture()).expect("gzip");
    let packed = packed.finish().expect("gzip");
    assert!(matches!(
        s.fails("book.xlsx.gz", &packed).await,
        IngestError::Compressed(_)
    ));
}

#[tokio::test]
async fn long_or_repeated_header_names_and_trailing_blanks_are_read() {
    let s = setup();
    let session = SessionKey::random();
    // 2,000 header cells naming one 100,000-character shared string, a data row, then a
    // styled blank cell and an error value below the last value.
    let long = "h".repeat(100_000);
    let header: String = (0..2_000)
        .map(|c| format!(r#"<c r="{}1" t="s"><v>0</v></c>"#, column(c)))
        .collect();
    let data: String = (0..2_000)
        .map(|c| number(&format!("{}2", column(c)), c as f64))
        .collect();
    let rows = format!(
        r#"<row r="1">{header}</row><row r="2">{data}</row><row r="40"><c r="A40" s="2"/><c r="B40" t="e"><v>#N/A</v></c></row>"#
    );
    let strings = format!(r#"<sst><si><t>{long}</t></si></sst>"#);
    let book = workbook(&rows, &[("xl/sharedStrings.xml", strings.into_bytes())]);
    let started = std::time::Instant::now();
    let handle = s
        .upload(session, "wide.xlsx", &book, 1 << 16)
        .await
        .expect("read");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((handle.rows, handle.cols), (1, 2_000));
    let frame = s.cache.get(session, &handle).await.expect("frame");
    let names = frame.get_column_names();
    assert_eq!(names[0].len(), 256, "a name is cut at 256 characters");
    assert_eq!(names[1].as_str(), format!("{}_2", &long[..256]));
    assert_eq!(names[1_999].as_str(), format!("{}_2000", &long[..256]));
}

/// The letters of column `c` (0-based): A, …, Z, AA, ….
fn column(c: usize) -> String {
    let mut c = c + 1;
    let mut letters = Vec::new();
    while c > 0 {
        letters.push(b'A' + ((c - 1) % 26) as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ascii")
}
