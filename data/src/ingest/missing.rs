//! The texts a CSV reads as missing values, and which of them a file holds.
//!
//! polars compares every field with every spelling it is given, and with all twelve that
//! doubled the parse of a 1 GB upload of numbers that held none of them. So the running
//! check ([`super::check::CsvCheck`]) notes which spellings a file holds as a whole field,
//! and the parse is given only those. The notes err on the side of a spelling: a field is
//! matched the way polars matches it (its exact bytes, a final `\r` dropped), and a line
//! with quotes that has an `N` or `n` in it notes every spelling.

/// Texts read as a missing value in any column: the spellings spreadsheets, R and
/// pandas write (pandas' own default list, minus the empty string, which is missing
/// anyway). Each has an `N` or an `n`, which is what lets a line without either be
/// passed over at memchr's speed.
pub(super) const MISSING: [&str; 12] = [
    "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "#N/A", "#NA", "<NA>",
];

/// The longest spelling, in bytes.
const LONGEST: usize = 4;

/// A set of [`MISSING`]'s spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spellings(u16);

impl Spellings {
    /// Every spelling: what a file is parsed with when nothing was noted about it.
    pub const ALL: Self = Self((1 << MISSING.len()) - 1);

    /// The spellings in the set.
    pub(super) fn texts(self) -> impl Iterator<Item = &'static str> {
        MISSING
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, text)| *text)
    }

    /// Adds `field`'s spelling when it is one, as polars would read it.
    fn note(&mut self, field: &[u8]) {
        let field = field.strip_suffix(b"\r").unwrap_or(field);
        if field.len() > LONGEST || !has_letter(field) {
            return;
        }
        for (i, text) in MISSING.iter().enumerate() {
            if field == text.as_bytes() {
                self.0 |= 1 << i;
            }
        }
    }
}

/// Whether `bytes` hold an `N` or an `n`.
fn has_letter(bytes: &[u8]) -> bool {
    memchr::memchr2(b'N', b'n', bytes).is_some()
}

/// The bytes a spelling starts with.
const FIRST_BYTES: [u8; 5] = [b'N', b'n', b'-', b'#', b'<'];

/// Whether `text`, a whole data line without quotes or its line end, separated by `sep`,
/// may hold a spelling as a whole field: an `N` or an `n` in a field of at most
/// [`LONGEST`] bytes that starts as a spelling does. A line of words with those letters
/// in them (`Pune`, `Nancy`) is passed over without being split into fields.
pub(super) fn may_hold(text: &[u8], sep: u8) -> bool {
    memchr::memchr2_iter(b'N', b'n', text).any(|at| {
        let low = at.saturating_sub(LONGEST);
        let start = match memchr::memrchr(sep, &text[low..at]) {
            Some(i) => low + i + 1,
            None if low == 0 => 0,
            None => return false, // its field has more than LONGEST bytes before it
        };
        let high = (start + LONGEST + 1).min(text.len());
        let end = memchr::memchr(sep, &text[at..high]).map_or(high, |i| at + i);
        end - start <= LONGEST && FIRST_BYTES.contains(&text[start])
    })
}

/// The start of a field cut by the end of a chunk.
#[derive(Debug, Clone, Copy, Default)]
enum Cut {
    #[default]
    None,
    /// Its bytes so far (at most [`LONGEST`] + 1: a final `\r` may be dropped).
    Short([u8; LONGEST + 1], u8),
    /// Longer than any spelling.
    Long,
    /// Begun in a line with quotes, its start not kept; `letter`: whether it has had
    /// an `N` or an `n` since.
    Unknown { letter: bool },
}

impl Cut {
    /// The field's bytes so far followed by `more`.
    fn then(self, more: &[u8]) -> Self {
        let (bytes, len) = match self {
            Self::Long => return Self::Long,
            Self::Unknown { letter } => {
                return Self::Unknown {
                    letter: letter || has_letter(more),
                }
            }
            Self::None => ([0; LONGEST + 1], 0),
            Self::Short(bytes, len) => (bytes, usize::from(len)),
        };
        if len + more.len() > LONGEST + 1 {
            return Self::Long;
        }
        let mut joined = bytes;
        joined[len..len + more.len()].copy_from_slice(more);
        Self::Short(joined, (len + more.len()) as u8)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Short(bytes, len) => &bytes[..usize::from(*len)],
            Self::None | Self::Long | Self::Unknown { .. } => &[],
        }
    }
}

/// The spellings noted in a file's data lines so far, fed as they arrive.
#[derive(Debug, Default)]
pub(super) struct MissingNotes {
    seen: Spellings,
    /// The field the last chunk ended in.
    cut: Cut,
}

impl MissingNotes {
    /// The spellings noted.
    pub(super) fn seen(&self) -> Spellings {
        self.seen
    }

    /// Notes a whole field.
    fn field(&mut self, field: Cut) {
        match field {
            Cut::Unknown { letter: true } => self.seen = Spellings::ALL,
            field => self.seen.note(field.bytes()),
        }
    }

    /// Whether a field cut by the end of the last chunk waits for the rest of its line.
    pub(super) fn pending(&self) -> bool {
        !matches!(self.cut, Cut::None)
    }

    /// Notes the fields of `text`, a data line without quotes separated by `sep`, or
    /// its part up to the end of a chunk (`ends_line` false: its last field goes on in
    /// the next chunk).
    pub(super) fn unquoted(&mut self, text: &[u8], sep: u8, ends_line: bool) {
        if self.seen == Spellings::ALL {
            return;
        }
        let cut = std::mem::take(&mut self.cut);
        let Some(last_sep) = memchr::memrchr(sep, text) else {
            // One field, going on from the cut one.
            let field = cut.then(text);
            if ends_line {
                self.field(field);
            } else {
                self.cut = field;
            }
            return;
        };
        let first_sep = memchr::memchr(sep, text).unwrap_or(last_sep);
        self.field(cut.then(&text[..first_sep]));
        if first_sep < last_sep {
            let middle = &text[first_sep + 1..last_sep];
            if has_letter(middle) {
                let mut start = 0;
                for end in memchr::memchr_iter(sep, middle).chain([middle.len()]) {
                    self.seen.note(&middle[start..end]);
                    start = end + 1;
                }
            }
        }
        let last = &text[last_sep + 1..];
        if ends_line {
            self.seen.note(last);
        } else {
            self.cut = Cut::None.then(last);
        }
    }

    /// Notes a data line with quotes, or its part in this chunk (`ends_line` false):
    /// every spelling when it has an `N` or an `n`, or goes on from a field that did.
    pub(super) fn quoted(&mut self, bytes: &[u8], ends_line: bool) {
        let cut = std::mem::take(&mut self.cut);
        let letter = match cut {
            Cut::Unknown { letter } => letter,
            cut => has_letter(cut.bytes()),
        };
        if letter || has_letter(bytes) {
            self.seen = Spellings::ALL;
        }
        if !ends_line {
            self.cut = Cut::Unknown { letter: false };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noted(chunks: &[&[u8]], sep: u8) -> Vec<&'static str> {
        let mut notes = MissingNotes::default();
        let n = chunks.len();
        for (i, chunk) in chunks.iter().enumerate() {
            notes.unquoted(chunk, sep, i + 1 == n);
        }
        notes.seen().texts().collect()
    }

    #[test]
    fn a_line_notes_the_spellings_it_holds_as_whole_fields() {
        assert_eq!(noted(&[b"1,NA,2.5,null"], b','), ["NA", "null"]);
        assert_eq!(noted(&[b"Nancy,NAB,nan\r"], b','), ["nan"]);
        assert_eq!(noted(&[b"1;2;3"], b';'), Vec::<&str>::new());
        assert_eq!(noted(&[b"#N/A"], b','), ["#N/A"]);
    }

    #[test]
    fn a_line_may_hold_a_spelling_only_in_a_short_field_that_starts_as_one() {
        for text in MISSING {
            assert!(text.len() <= LONGEST && has_letter(text.as_bytes()), "{text}");
            assert!(FIRST_BYTES.contains(&text.as_bytes()[0]), "{text}");
            for line in [
                text.to_owned(),
                format!("1,{text}"),
                format!("{text},2"),
                format!("x,{text},y"),
            ] {
                assert!(may_hold(line.as_bytes(), b','), "{line}");
            }
        }
        for line in [
            "Pune,1",
            "1,Pune",
            "Nancy,2",
            "xNA,1",
            "1,2,3",
            "1,Oslo",
            "Kyiv,n5xyz",
        ] {
            assert!(!may_hold(line.as_bytes(), b','), "{line}");
        }
        // Short fields that start as a spelling are looked at (and then not noted).
        for line in ["Nan,1", "1,NAB", "NANA", "n5"] {
            assert!(may_hold(line.as_bytes(), b','), "{line}");
            assert_eq!(noted(&[line.as_bytes()], b','), Vec::<&str>::new(), "{line}");
        }
    }

    #[test]
    fn a_field_cut_by_a_chunk_is_read_whole() {
        assert_eq!(noted(&[b"1,2,#", b"N", b"/A"], b','), ["#N/A"]);
        assert_eq!(noted(&[b"1,N", b"A,3"], b','), ["NA"]);
        assert_eq!(noted(&[b"1,N", b"AB,3"], b','), Vec::<&str>::new());
        assert_eq!(noted(&[b"xxxxxxxxN", b"A"], b','), Vec::<&str>::new());
    }

    #[test]
    fn a_quoted_line_with_a_letter_notes_everything() {
        let mut notes = MissingNotes::default();
        notes.quoted(b"\"a, b\",1", true);
        assert_eq!(notes.seen(), Spellings::default());
        notes.quoted(b"\"x\",#", false);
        notes.unquoted(b"A", b',', true);
        assert_eq!(notes.seen(), Spellings::default(), "no letter in the field");
        notes.quoted(b"\"x\",#", false);
        notes.unquoted(b"NA", b',', true);
        assert_eq!(notes.seen(), Spellings::ALL, "#NA, its start not kept");
        let mut notes = MissingNotes::default();
        notes.quoted(b"\"Nancy\",1", true);
        assert_eq!(notes.seen(), Spellings::ALL);
    }

    /// The property that matters: the frame read with the spellings the check noted is
    /// the frame read with all of them, whatever the fields and wherever the chunks cut.
    mod same_frame {
        use proptest::prelude::*;

        use super::super::super::check::CsvCheck;
        use super::super::super::format::Format;
        use super::super::super::parse;
        use super::super::Spellings;

        const FIELDS: [&str; 26] = [
            "NA",
            "N/A",
            "n/a",
            "NULL",
            "null",
            "NaN",
            "nan",
            "-NaN",
            "-nan",
            "#N/A",
            "#NA",
            "<NA>",
            "1",
            "2.5",
            "-1e3",
            "Nancy",
            "NAB",
            "Pune",
            "Nan",
            "xNA",
            "nNA",
            "",
            "\"NA\"",
            "\"x,y\"",
            "\"N\"\"a\"",
            "n",
        ];

        fn file() -> impl Strategy<Value = String> {
            let row = prop::collection::vec(0..FIELDS.len(), 3)
                .prop_map(|fields| fields.iter().map(|&i| FIELDS[i]).collect::<Vec<_>>().join(","));
            (prop::collection::vec(row, 1..40), any::<bool>()).prop_map(|(rows, crlf)| {
                let end = if crlf { "\r\n" } else { "\n" };
                let mut text = format!("a,b,c{end}");
                for row in rows {
                    text.push_str(&row);
                    text.push_str(end);
                }
                text
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn the_noted_spellings_read_the_same_frame(
                text in file(),
                cuts in prop::collection::vec(1usize..9, 1..200),
                whole in any::<bool>(),
            ) {
                // Tiny chunks cut lines anywhere; one chunk leaves every line whole.
                let cuts = if whole { vec![text.len().max(1)] } else { cuts };
                let mut check = CsvCheck::new(b',');
                let mut rest = text.as_bytes();
                for cut in cuts.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let (chunk, after) = rest.split_at((*cut).min(rest.len()));
                    check.feed(chunk).expect("a well-formed file");
                    rest = after;
                }
                check.finish().expect("a well-formed file");
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("f.csv");
                std::fs::write(&path, &text).expect("write");
                let all = parse::read(&path, Format::Csv(b','), Spellings::ALL);
                let noted = parse::read(&path, Format::Csv(b','), check.missing());
                match (all, noted) {
                    (Ok(all), Ok(noted)) => prop_assert!(
                        all.equals_missing(&noted),
                        "noted {:?}:\n{all}\n{noted}", check.missing().texts().collect::<Vec<_>>()
                    ),
                    (Err(_), Err(_)) => {}
                    (all, noted) => prop_assert!(false, "{all:?} against {noted:?}"),
                }
            }
        }

        #[test]
        fn a_file_of_numbers_is_parsed_with_none() {
            let mut check = CsvCheck::new(b',');
            check.feed(b"x,y\n1,2.5\n3,-1e3\n").expect("fed");
            check.finish().expect("finished");
            assert_eq!(check.missing(), Spellings::default());
        }
    }
}
