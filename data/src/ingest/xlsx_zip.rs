//! What an Excel workbook's zip holds, counted before calamine opens it ([`super::xlsx`]).
//!
//! calamine reads a workbook's sheet list, shared strings and styles whole when it
//! opens it, before anything of ours could size them, and some of what it makes there
//! grows with the product of two things the file states (each sheet's path is built from
//! a relationship's target; each custom cell style is matched against its number
//! format). So the zip is walked first, by the count it declares (checked before the
//! zip library allocates by it), and every entry unpacked once and scanned as it streams:
//! - what every entry really unpacks to, at most [`MAX_XLSX_RATIO`] times the file in all
//!   (beyond [`GZIP_SLACK`]): a zip bomb is a 413;
//! - the sheets the workbook lists × the bytes of its relationships (what the sheets'
//!   paths can take), the shared strings (their count and bytes), and the cell styles ×
//!   the longest number format, each within a stated bound.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use memchr::memmem;

use super::gunzip::{GZIP_SLACK, MAX_GZIP_RATIO};
use super::parse::first_line;
use super::IngestError;

/// At most this many times the file may a workbook unpack to (its zip entries, all told).
pub const MAX_XLSX_RATIO: u64 = MAX_GZIP_RATIO;

/// At most this many entries in a workbook's zip.
const MAX_ENTRIES: u64 = 10_000;

/// Bytes the sheets' paths may take while the workbook is opened (sheets × the bytes of
/// the relationships that name them).
const MAX_SHEET_PATHS: u64 = 64 << 20;

/// Bytes the shared strings may take in memory (a string's bytes and 48 bytes of
/// bookkeeping each) while the workbook is opened.
pub(super) const MAX_SHARED_STRINGS: u64 = 512 << 20;

/// Steps matching cell styles against number formats may take (styles × the longest
/// format).
const MAX_STYLE_STEPS: u64 = 100_000_000;

/// Bytes one shared string costs besides its text: its `String` and the list's growth.
const STRING_BYTES: u64 = 48;

/// What the workbook's parts hold, as far as calamine's opening goes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parts {
    /// What all the entries unpack to.
    pub(super) unpacked: u64,
    /// Bytes the shared strings will take in memory.
    pub(super) strings: u64,
    sheets: u64,
    relationships: u64,
    styles: u64,
    longest_format: u64,
}

fn damaged(reason: impl std::fmt::Display) -> IngestError {
    IngestError::Damaged {
        format: "Excel",
        reason: first_line(&reason.to_string()),
    }
}

/// The entries the zip at `file` declares, read from its end record (the zip64 one when
/// there is one) before the zip library allocates by it.
fn declared_entries(file: &mut File) -> Result<u64, IngestError> {
    let len = file.metadata().map_err(IngestError::io)?.len();
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))
        .map_err(IngestError::io)?;
    file.read_exact(&mut tail).map_err(IngestError::io)?;
    let end =
        memmem::rfind(&tail, b"PK\x05\x06").ok_or_else(|| damaged("it is not a zip (no end record)"))?;
    let le16 = |at: usize| {
        tail.get(at..at + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let mut entries = le16(end + 10).ok_or_else(|| damaged("its end record is cut short"))?;
    // A zip64 locator just before: the zip64 end record holds the real count.
    if end >= 20 && tail[end - 20..end - 16] == *b"PK\x06\x07" {
        let mut at = [0u8; 8];
        at.copy_from_slice(&tail[end - 12..end - 4]);
        let record = u64::from_le_bytes(at);
        if record.checked_add(56).is_none_or(|e| e > len) {
            return Err(damaged("its zip64 end record lies outside the file"));
        }
        let mut zip64 = [0u8; 56];
        file.seek(SeekFrom::Start(record)).map_err(IngestError::io)?;
        file.read_exact(&mut zip64).map_err(IngestError::io)?;
        if zip64[..4] != *b"PK\x06\x06" {
            return Err(damaged("its zip64 end record is not where it says"));
        }
        let mut count = [0u8; 8];
        count.copy_from_slice(&zip64[32..40]);
        entries = entries.max(u64::from_le_bytes(count));
    }
    Ok(entries)
}

/// Unpacks every entry of the workbook at `path` (of `file_bytes`) once, counting what
/// each really unpacks to (not what the zip declares) and scanning the parts calamine
/// reads when it opens the workbook; refused beyond any bound.
pub(super) fn scan(path: &Path, file_bytes: u64) -> Result<Parts, IngestError> {
    let mut file = File::open(path).map_err(IngestError::io)?;
    let declared = declared_entries(&mut file)?;
    if declared > MAX_ENTRIES {
        return Err(damaged(format!("it has more than {MAX_ENTRIES} parts")));
    }
    file.rewind().map_err(IngestError::io)?;
    let mut zip = ::zip::ZipArchive::new(BufReader::new(file)).map_err(damaged)?;
    let cap = file_bytes
        .saturating_mul(MAX_XLSX_RATIO)
        .saturating_add(GZIP_SLACK);
    let mut parts = Parts::default();
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(damaged)?;
        if entry.encrypted() {
            return Err(IngestError::LockedWorkbook);
        }
        let mut scanner = Scanner::new(Part::of(entry.name()));
        let room = cap - parts.unpacked;
        let read = io::copy(&mut entry.take(room.saturating_add(1)), &mut scanner).map_err(damaged)?;
        parts.unpacked += read;
        if parts.unpacked > cap {
            return Err(IngestError::Inflates { max: MAX_XLSX_RATIO });
        }
        scanner.add_to(&mut parts);
    }
    let too_large = |what: &'static str, max: u64| Err(IngestError::WorkbookTooLarge { what, max });
    if parts.sheets.saturating_mul(parts.relationships) > MAX_SHEET_PATHS {
        return too_large("list of sheets", MAX_SHEET_PATHS);
    }
    if parts.strings > MAX_SHARED_STRINGS {
        return too_large("shared strings", MAX_SHARED_STRINGS);
    }
    if parts.styles.saturating_mul(parts.longest_format) > MAX_STYLE_STEPS {
        return too_large("cell styles", MAX_STYLE_STEPS);
    }
    Ok(parts)
}

/// Which part of a workbook an entry is, as calamine finds them (names matched without
/// case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Workbook,
    Relationships,
    SharedStrings,
    Styles,
    Other,
}

impl Part {
    fn of(name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name.ends_with("workbook.xml.rels") {
            Self::Relationships
        } else if name.ends_with("workbook.xml") {
            Self::Workbook
        } else if name.ends_with("sharedstrings.xml") {
            Self::SharedStrings
        } else if name.ends_with("styles.xml") {
            Self::Styles
        } else {
            Self::Other
        }
    }
}

/// Counts, as a part streams past, what calamine will make of it: an upper bound (a
/// pattern in text counts too), never less.
struct Scanner {
    part: Part,
    bytes: u64,
    /// Matches of the part's patterns.
    found: u64,
    /// The last bytes of the previous chunk, so a pattern across two chunks is seen.
    carry: Vec<u8>,
    /// Inside a number format's value: its quote and length so far.
    format: Option<(u8, u64)>,
    /// A number format's marker ended the last chunk: its quote opens the next.
    pending: bool,
    longest: u64,
}

/// A number format's attribute, its value measured.
const FORMAT_CODE: &[u8] = b"formatCode=";

impl Scanner {
    fn new(part: Part) -> Self {
        Self {
            part,
            bytes: 0,
            found: 0,
            carry: Vec::new(),
            format: None,
            pending: false,
            longest: 0,
        }
    }

    /// The element names counted in this part (each also as a prefixed one, `x:si`).
    fn patterns(&self) -> &'static [&'static [u8]] {
        match self.part {
            // Every `sheet` in the list (`sheets` and `sheetId` count too: an upper bound).
            Part::Workbook => &[b"sheet"],
            Part::SharedStrings => &[b"<si", b":si"],
            Part::Styles => &[b"<xf", b":xf"],
            Part::Relationships | Part::Other => &[],
        }
    }

    fn add_to(&self, parts: &mut Parts) {
        match self.part {
            Part::Workbook => parts.sheets += self.found,
            Part::Relationships => parts.relationships += self.bytes,
            Part::SharedStrings => {
                parts.strings = parts
                    .strings
                    .saturating_add(self.bytes)
                    .saturating_add(self.found.saturating_mul(STRING_BYTES));
            }
            Part::Styles => {
                parts.styles += self.found;
                parts.longest_format = parts.longest_format.max(self.longest);
            }
            Part::Other => {}
        }
    }

    fn scan(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        let patterns = self.patterns();
        if patterns.is_empty() {
            return;
        }
        let mut window = std::mem::take(&mut self.carry);
        let carried = window.len();
        window.extend_from_slice(chunk);
        for pattern in patterns {
            // Only matches that end in the new bytes: none is counted twice.
            self.found += memmem::find_iter(&window, pattern)
                .filter(|&start| start + pattern.len() > carried)
                .count() as u64;
        }
        if self.part == Part::Styles {
            self.measure_formats(&window, carried);
        }
        let keep = window.len().min(FORMAT_CODE.len() - 1);
        self.carry = window[window.len() - keep..].to_vec();
    }

    /// Measures number formats' values in `window` (its first `carried` bytes were
    /// seen before: only a marker that ends after them is new).
    fn measure_formats(&mut self, window: &[u8], carried: usize) {
        let mut at = carried;
        if self.pending {
            match window.get(at) {
                Some(&quote) => {
                    self.pending = false;
                    if quote == b'"' || quote == b'\'' {
                        self.format = Some((quote, 0));
                        at += 1;
                    }
                }
                None => return,
            }
        }
        loop {
            if let Some((quote, length)) = self.format {
                match window[at..].iter().position(|&b| b == quote) {
                    Some(end) => {
                        self.longest = self.longest.max(length + end as u64);
                        self.format = None;
                        at += end + 1;
                    }
                    None => {
                        let length = length + (window.len() - at) as u64;
                        self.longest = self.longest.max(length);
                        self.format = Some((quote, length));
                        return;
                    }
                }
            }
            // A marker may start in the carried bytes; it then ends in the new ones.
            let from = at.saturating_sub(FORMAT_CODE.len() - 1);
            let Some(found) = memmem::find(&window[from..], FORMAT_CODE) else {
                return;
            };
            let value = from + found + FORMAT_CODE.len();
            match window.get(value) {
                Some(&quote) if quote == b'"' || quote == b'\'' => {
                    self.format = Some((quote, 0));
                    at = value + 1;
                }
                Some(_) => at = value,
                None => {
                    self.pending = true;
                    return;
                }
            }
        }
    }
}

impl Write for Scanner {
    fn write(&mut self, chunk: &[u8]) -> io::Result<usize> {
        self.scan(chunk);
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(part: Part, text: &[u8], chunk: usize) -> Scanner {
        let mut s = Scanner::new(part);
        for piece in text.chunks(chunk) {
            s.scan(piece);
        }
        s
    }

    #[test]
    fn patterns_and_formats_are_counted_across_chunks() {
        let styles = br#"<numFmts><numFmt numFmtId="164" formatCode="yyyy-mm-dd;@"/></numFmts><cellXfs><xf numFmtId="164"/><x:xf/></cellXfs>"#;
        for chunk in [1, 2, 3, 7, 1000] {
            let s = scanned(Part::Styles, styles, chunk);
            assert_eq!(s.found, 2, "chunks of {chunk}");
            assert_eq!(s.longest, "yyyy-mm-dd;@".len() as u64, "chunks of {chunk}");
        }
        // A prefixed closing tag counts too: an upper bound.
        let strings = b"<sst><si><t>a</t></si><si/><x:si><t>si</t></x:si></sst>";
        for chunk in [1, 4, 1000] {
            assert_eq!(
                scanned(Part::SharedStrings, strings, chunk).found,
                4,
                "chunks of {chunk}"
            );
        }
    }
}
