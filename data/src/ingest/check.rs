//! A CSV/TSV file checked while it streams in: valid UTF-8, quotes that close, every
//! record as wide as the header. Each problem is reported with its line number, and the
//! records counted so far are the upload's progress. One pass over each chunk as it
//! arrives, so the check costs no extra read of the file.

use super::missing::{may_hold, MissingNotes, Spellings};
use super::{IngestError, MAX_COLUMNS, MAX_RECORD_BYTES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: a second quote escapes it, a separator
    /// or line end closes the field, anything else is bad quoting.
    QuoteInQuoted,
}

/// The running check of one delimited text file.
#[derive(Debug)]
pub struct CsvCheck {
    sep: u8,
    /// Current line, from 1.
    line: u64,
    /// Line on which the current record began.
    record_line: u64,
    /// Separators seen in the current record.
    separators: u64,
    /// Whether the current record has any content (blank lines are skipped).
    started: bool,
    state: State,
    /// Fields of the header, once it is complete.
    header: Option<u64>,
    /// Data records completed.
    rows: u64,
    /// Bytes of the current record so far.
    record_bytes: u64,
    /// The start of a UTF-8 character cut by the end of the last chunk.
    carry: Vec<u8>,
    /// The missing-value spellings the data lines hold.
    missing: MissingNotes,
    /// Bytes scanned so far.
    scanned: u64,
    /// Bytes up to the end of the last line break outside quotes: the text before it is
    /// whole records (what a parse of the file so far may take).
    boundary: u64,
}

impl CsvCheck {
    /// A check of text separated by `sep`.
    pub fn new(sep: u8) -> Self {
        Self {
            sep,
            line: 1,
            record_line: 1,
            separators: 0,
            started: false,
            state: State::FieldStart,
            header: None,
            rows: 0,
            record_bytes: 0,
            carry: Vec::new(),
            missing: MissingNotes::default(),
            scanned: 0,
            boundary: 0,
        }
    }

    /// Bytes of the file, from its start, that end with a whole record (the header's
    /// line counted): a line break outside quotes. The text before it is checked.
    pub fn boundary(&self) -> u64 {
        self.boundary
    }

    /// The missing-value spellings the data lines hold as a whole field (or may: see
    /// [`super::missing`]).
    pub fn missing(&self) -> Spellings {
        self.missing.seen()
    }

    /// Data records (after the header) seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Fields of the header, once its line is complete.
    pub fn columns(&self) -> Option<u64> {
        self.header
    }

    /// Checks the next `chunk` of the file.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), IngestError> {
        if !self.carry.is_empty() {
            // Complete the character cut at the last chunk's end.
            let need = utf8_len(self.carry[0]).saturating_sub(self.carry.len());
            let take = need.min(chunk.len());
            self.carry.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.carry.len() < utf8_len(self.carry[0]) {
                return Ok(()); // still incomplete: a tiny chunk
            }
            let whole = std::mem::take(&mut self.carry);
            if std::str::from_utf8(&whole).is_err() {
                return Err(IngestError::InvalidUtf8 { line: self.line });
            }
            self.scan(&whole)?;
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => self.scan(chunk),
            Err(err) => {
                let valid = err.valid_up_to();
                self.scan(&chunk[..valid])?;
                match err.error_len() {
                    Some(_) => Err(IngestError::InvalidUtf8 { line: self.line }),
                    None => {
                        self.carry = chunk[valid..].to_vec();
                        Ok(())
                    }
                }
            }
        }
    }

    /// The end of the file: the last record (without a final line break) counts, an
    /// open quote is an error, and a file of only a header has no rows.
    pub fn finish(&mut self) -> Result<(), IngestError> {
        if !self.carry.is_empty() {
            return Err(IngestError::InvalidUtf8 { line: self.line });
        }
        if self.state == State::Quoted {
            return Err(IngestError::UnterminatedQuote {
                line: self.record_line,
            });
        }
        if self.started {
            self.end_record()?;
        }
        match self.header {
            None => Err(IngestError::Empty),
            Some(_) if self.rows == 0 => Err(IngestError::NoRows),
            Some(_) => Ok(()),
        }
    }

    /// Scans `bytes`: a line without quotes is counted in one pass eight bytes at a time
    /// ([`Line::ahead`]), a line with quotes byte by byte.
    fn scan(&mut self, mut bytes: &[u8]) -> Result<(), IngestError> {
        let base = self.scanned;
        let total = bytes.len();
        self.scanned += total as u64;
        // The offset in the file of `bytes[0]`, as `bytes` is consumed.
        let at = |rest: &[u8]| base + (total - rest.len()) as u64;
        // Where the next `N` or `n` is: only a data line with one, or a line a chunk cuts,
        // is shown to the missing-value notes, so a line of numbers costs them nothing.
        let mut letter = memchr::memchr2(b'N', b'n', bytes);
        // Whether any line has a quote to look for (most files have none).
        let quotes = memchr::memchr(b'"', bytes).is_some();
        while !bytes.is_empty() {
            let ahead = match quotes {
                true => Line::ahead::<true>(bytes, self.sep),
                false => Line::ahead::<false>(bytes, self.sep),
            };
            let newline = ahead.newline;
            let segment = &bytes[..newline.unwrap_or(bytes.len())];
            // One record (one cell) may not grow without end: a file of one endless line
            // would be held whole by the parser.
            self.record_bytes += segment.len() as u64 + u64::from(newline.is_some());
            if self.record_bytes > MAX_RECORD_BYTES {
                return Err(IngestError::RecordTooLong {
                    line: self.record_line,
                    max: MAX_RECORD_BYTES,
                });
            }
            if self.state != State::Quoted && self.state != State::QuoteInQuoted && !ahead.quote {
                let text = segment.strip_suffix(b"\r").unwrap_or(segment);
                let noted = newline.is_none()
                    || self.missing.pending()
                    || (letter.is_some_and(|at| at < segment.len()) && may_hold(text, self.sep));
                if noted && self.header.is_some() {
                    self.missing.unquoted(text, self.sep, newline.is_some());
                }
                if let Some(&last) = text.last() {
                    self.started = true;
                    self.separators += ahead.separators;
                    self.state = if last == self.sep {
                        State::FieldStart
                    } else {
                        State::Unquoted
                    };
                }
                match newline {
                    Some(i) => {
                        if self.started {
                            self.end_record()?;
                        }
                        self.boundary = at(bytes) + i as u64 + 1;
                        self.line += 1;
                        self.record_line = self.line;
                        bytes = &bytes[i + 1..];
                        letter = past(letter, i + 1, bytes);
                    }
                    None => bytes = &[],
                }
                continue;
            }
            let end = newline.map_or(bytes.len(), |i| i + 1);
            self.scan_bytes(&bytes[..end], at(bytes))?;
            bytes = &bytes[end..];
            letter = past(letter, end, bytes);
        }
        Ok(())
    }

    /// The byte-by-byte scan of a line with quotes, `bytes[0]` at offset `at` of the file.
    fn scan_bytes(&mut self, bytes: &[u8], at: u64) -> Result<(), IngestError> {
        if self.header.is_some() {
            self.missing.quoted(bytes, bytes.ends_with(b"\n"));
        }
        for (i, &b) in bytes.iter().enumerate() {
            match self.state {
                State::Quoted => {
                    if b == b'"' {
                        self.state = State::QuoteInQuoted;
                    } else if b == b'\n' {
                        self.line += 1;
                    }
                    continue;
                }
                State::QuoteInQuoted if b == b'"' => {
                    self.state = State::Quoted;
                    continue;
                }
                State::QuoteInQuoted if b != self.sep && b != b'\n' && b != b'\r' => {
                    return Err(IngestError::BadQuote { line: self.line });
                }
                _ => {}
            }
            if b == b'\n' {
                if self.started {
                    self.end_record()?;
                }
                self.boundary = at + i as u64 + 1;
                self.line += 1;
                self.record_line = self.line;
            } else if b == b'\r' {
                // Part of a CRLF line end (or stray): not content.
            } else if b == self.sep {
                self.started = true;
                self.separators += 1;
                self.state = State::FieldStart;
            } else {
                self.started = true;
                self.state = match (self.state, b) {
                    (State::FieldStart, b'"') => State::Quoted,
                    // polars' reader treats any quote as one that opens or closes: a quote
                    // inside an unquoted field would merge records silently.
                    (State::Unquoted, b'"') => return Err(IngestError::BadQuote { line: self.line }),
                    _ => State::Unquoted,
                };
            }
        }
        Ok(())
    }

    fn end_record(&mut self) -> Result<(), IngestError> {
        let fields = self.separators + 1;
        match self.header {
            None => {
                if fields > MAX_COLUMNS {
                    return Err(IngestError::TooManyColumns {
                        found: fields,
                        max: MAX_COLUMNS,
                    });
                }
                self.header = Some(fields);
            }
            Some(expected) if expected != fields => {
                return Err(IngestError::Ragged {
                    line: self.record_line,
                    expected,
                    found: fields,
                });
            }
            Some(_) => self.rows += 1,
        }
        self.separators = 0;
        self.record_bytes = 0;
        self.started = false;
        self.state = State::FieldStart;
        Ok(())
    }
}

/// What one pass finds of the line at the start of some bytes.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    /// Where its `\n` is (`None`: the bytes end first).
    newline: Option<usize>,
    /// Separators before it.
    separators: u64,
    /// Whether it has a quote.
    quote: bool,
}

impl Line {
    /// The line at the start of `bytes`, eight bytes at a time; quotes are looked for
    /// only when `QUOTES` (the caller found one in its bytes). A line of a typical CSV is
    /// a few words: this one pass, instead of memchr's three calls on each line, took the
    /// check from 1.0 to 1.4 GB/s on this VM (`cargo run --release -p stayput-data
    /// --example csv_check`).
    fn ahead<const QUOTES: bool>(bytes: &[u8], sep: u8) -> Self {
        const ONES: u64 = u64::from_ne_bytes([1; 8]);
        // The high bit of each byte of `word` that equals `byte`, and no other bit (no
        // carry crosses a byte: the low seven bits of each are added to 0x7f alone).
        let equal = |word: u64, byte: u8| {
            let t = word ^ (ONES * u64::from(byte));
            !(((t & (ONES * 0x7f)) + ONES * 0x7f) | t) & (ONES * 0x80)
        };
        let mut separators = 0u64;
        let mut quote = false;
        let mut words = bytes.chunks_exact(8);
        for (index, word) in words.by_ref().enumerate() {
            let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            let seps = equal(word, sep);
            let newlines = equal(word, b'\n');
            if newlines == 0 {
                separators += u64::from(seps.count_ones());
                quote |= QUOTES && equal(word, b'"') != 0;
                continue;
            }
            // Little-endian: byte k of the word is bits 8k..8k+8.
            let k = newlines.trailing_zeros() / 8;
            let before = (1u64 << (8 * k)) - 1;
            separators += u64::from((seps & before).count_ones());
            quote |= QUOTES && equal(word, b'"') & before != 0;
            return Self {
                newline: Some(index * 8 + k as usize),
                separators,
                quote,
            };
        }
        let done = bytes.len() - words.remainder().len();
        for (i, &b) in words.remainder().iter().enumerate() {
            if b == b'\n' {
                return Self {
                    newline: Some(done + i),
                    separators,
                    quote,
                };
            }
            separators += u64::from(b == sep);
            quote |= QUOTES && b == b'"';
        }
        Self {
            newline: None,
            separators,
            quote,
        }
    }
}

/// Where the next `N` or `n` is in `rest`, the bytes after the `by` just scanned, given
/// where it was before them.
fn past(letter: Option<usize>, by: usize, rest: &[u8]) -> Option<usize> {
    match letter {
        Some(at) if at >= by => Some(at - by),
        Some(_) => memchr::memchr2(b'N', b'n', rest),
        None => None,
    }
}

/// Length of the UTF-8 sequence that `first` starts (1 for a byte that cannot start one:
/// the validation then reports it).
fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// The line of the first record whose field `column` (from 0) is `value`, in the text
/// read from `input` separated by `sep` (header on line 1): where a value that does not
/// fit its column's type sits. Quote-aware, streamed; `None` when no record has it (or
/// the input cannot be read).
pub(super) fn line_of_value(input: impl std::io::Read, sep: u8, column: usize, value: &str) -> Option<u64> {
    use std::io::Read;
    let mut bytes = std::io::BufReader::with_capacity(1 << 16, input)
        .bytes()
        .peekable();
    let mut line = 1u64;
    let mut record_line = 1u64;
    let mut field = 0usize;
    let mut quoted = false;
    let mut current: Vec<u8> = Vec::new();
    let mut header = true;
    let matches = |current: &Vec<u8>| current.as_slice() == value.as_bytes();
    while let Some(b) = bytes.next() {
        let b = b.ok()?;
        if quoted {
            if b == b'"' {
                if matches!(bytes.peek(), Some(Ok(b'"'))) {
                    current.push(b'"');
                    bytes.next();
                } else {
                    quoted = false;
                }
            } else {
                if b == b'\n' {
                    line += 1;
                }
                current.push(b);
            }
        } else if b == b'"' && current.is_empty() {
            quoted = true;
        } else if b == sep || b == b'\n' {
            if !header && field == column && matches(&current) {
                return Some(record_line);
            }
            current.clear();
            if b == b'\n' {
                header = false;
                field = 0;
                line += 1;
                record_line = line;
            } else {
                field += 1;
            }
        } else if b != b'\r' {
            current.push(b);
        }
    }
    (!header && field == column && matches(&current)).then_some(record_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &[u8], chunk: usize) -> Result<CsvCheck, IngestError> {
        let mut c = CsvCheck::new(b',');
        for part in text.chunks(chunk.max(1)) {
            c.feed(part)?;
        }
        c.finish()?;
        Ok(c)
    }

    #[test]
    fn good_files_count_their_rows_however_they_are_cut() {
        let text = "a,b,c\n1,\"x, \"\"y\"\"\nz\",3\n\n4,é,6\r\n7,ü,9".as_bytes();
        for chunk in [1, 2, 3, 7, 1000] {
            let c = check(text, chunk).expect("good");
            assert_eq!((c.rows(), c.columns()), (3, Some(3)), "chunk {chunk}");
        }
    }

    #[test]
    fn each_problem_names_its_line() {
        assert_eq!(
            check(b"a,b\n1,2\n3,4,5\n", 4).err(),
            Some(IngestError::Ragged {
                line: 3,
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            check(b"a,b\n1,2\n3\n", 4).err(),
            Some(IngestError::Ragged {
                line: 3,
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            check(b"a,b\n1,\"2\n3,4\n", 3).err(),
            Some(IngestError::UnterminatedQuote { line: 2 })
        );
        assert_eq!(
            check(b"a,b\n1,\"2\"x\n", 3).err(),
            Some(IngestError::BadQuote { line: 2 })
        );
        assert_eq!(
            check(b"a,b\n1,2\n3,\xff\n", 5).err(),
            Some(IngestError::InvalidUtf8 { line: 3 })
        );
        // A character cut between chunks is fine; a truncated one at the end is not.
        assert_eq!(
            check(b"a,b\n1,\xc3", 100).err(),
            Some(IngestError::InvalidUtf8 { line: 2 })
        );
        assert_eq!(check(b"a,b\n", 2).err(), Some(IngestError::NoRows));
        assert_eq!(check(b"\n\n", 2).err(), Some(IngestError::Empty));
        // One endless cell, in chunks (quoted or not).
        let long = format!("a,b\n1,{}\n", "x".repeat((MAX_RECORD_BYTES + 10) as usize));
        assert_eq!(
            check(long.as_bytes(), 1 << 16).err(),
            Some(IngestError::RecordTooLong {
                line: 2,
                max: MAX_RECORD_BYTES
            })
        );
        let quoted = format!(
            "a,b\n1,\"{}\"\n",
            "x\n".repeat((MAX_RECORD_BYTES / 2 + 10) as usize)
        );
        assert!(matches!(
            check(quoted.as_bytes(), 1 << 16).err(),
            Some(IngestError::RecordTooLong { line: 2, .. })
        ));
        let wide = vec!["c"; 10_000].join(",") + "\n";
        assert!(matches!(
            check(wide.as_bytes(), 4096).err(),
            Some(IngestError::TooManyColumns { found: 10_000, .. })
        ));
    }

    /// The eight-bytes-at-a-time pass finds what a byte-by-byte one does, for any bytes
    /// and any separator, wherever the line ends in a word.
    #[test]
    fn a_line_ahead_is_what_a_byte_by_byte_pass_finds() {
        use proptest::prelude::*;
        let reference = |bytes: &[u8], sep: u8| {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let line = &bytes[..newline.unwrap_or(bytes.len())];
            Line {
                newline,
                separators: line.iter().filter(|&&b| b == sep).count() as u64,
                quote: line.contains(&b'"'),
            }
        };
        let byte = prop_oneof![
            Just(b','),
            Just(b'\t'),
            Just(b'\n'),
            Just(b'"'),
            Just(b'\r'),
            Just(0x80u8),
            Just(0xffu8),
            Just(0x2bu8),
            Just(0x0au8 ^ 0x80),
            any::<u8>(),
        ];
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 2_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        runner
            .run(
                &(
                    proptest::collection::vec(byte, 0..80),
                    prop_oneof![Just(b','), Just(b'\t'), Just(b';'), Just(b'|')],
                ),
                |(bytes, sep)| {
                    let want = reference(&bytes, sep);
                    prop_assert_eq!(Line::ahead::<true>(&bytes, sep), want);
                    let without = Line::ahead::<false>(&bytes, sep);
                    let want = reference(&bytes, sep);
                    prop_assert_eq!(
                        (without.newline, without.separators, without.quote),
                        (want.newline, want.separators, false)
                    );
                    Ok(())
                },
            )
            .expect("the same line");
    }

    #[test]
    fn a_value_is_found_on_its_line() {
        let text: &[u8] = b"a,b\n1,2\n\"3\n\",x\n5,oops\n";
        assert_eq!(line_of_value(text, b',', 1, "oops"), Some(5));
        assert_eq!(line_of_value(text, b',', 1, "x"), Some(3));
        assert_eq!(
            line_of_value(text, b',', 0, "b"),
            None,
            "the header is not a record"
        );
    }
}
