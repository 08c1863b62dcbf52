//! A JSON file checked while it streams in, before polars reads it: an array of records
//! (`[{…}, {…}]`) or one record a line (NDJSON). Brackets balance and strings close;
//! nesting is no deeper than [`MAX_DEPTH`] (polars reads nested values by recursion: a
//! file nested thousands deep would overflow the stack); a record is at most
//! [`MAX_RECORD_BYTES`]; the records' distinct keys are at most [`MAX_COLUMNS`], and the
//! keys at every depth at most [`MAX_FIELDS`] (each is a column, or a struct field, as
//! tall as the frame). The rows, keys and values are counted: the upload's progress, and
//! what the frame and polars' reading of it will take, reserved before it is read
//! ([`JsonCheck::frame_bytes`]). One pass over each chunk; UTF-8 is checked by the parser.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use super::{IngestError, MAX_COLUMNS, MAX_DEPTH, MAX_FIELDS, MAX_RECORD_BYTES};

/// Longest key taken, in bytes (a column name).
const MAX_KEY_BYTES: usize = 256;

/// How the records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonLayout {
    /// One array of records.
    Array,
    /// One record a line (NDJSON, JSON Lines).
    Lines,
}

/// The running check of one JSON file.
#[derive(Debug)]
pub(super) struct JsonCheck {
    layout: JsonLayout,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Whether anything but white space (and a byte-order mark) has come.
    begun: bool,
    /// Bytes of a UTF-8 byte-order mark seen at the start.
    bom: usize,
    /// Whether the array has closed (only white space may follow).
    closed: bool,
    /// Current line, from 1.
    line: u64,
    /// Whether the next value at the record depth starts a row.
    expect_row: bool,
    /// Rows (records, and whatever else stands where one should).
    rows: u64,
    /// Values at every depth (commas and openings), for the parser's tree.
    values: u64,
    /// Values inside a record's nested lists and objects.
    nested: u64,
    /// Bytes of the current record.
    record_bytes: u64,
    /// Whether the current string is an object's key, and its bytes so far.
    key: Option<Vec<u8>>,
    /// One entry per open bracket: `None` for a list; for an object, whether the next
    /// string in it is a key.
    open: Vec<Option<bool>>,
    /// The records' distinct keys.
    /// (Kept as keyed 64-bit hashes: a few bytes a key, whatever its length, so a file's
    /// 10,000 keys hold ~200 KB, not megabytes, for each of the uploads at once.)
    columns: HashSet<u64>,
    /// Distinct keys at every depth, with their depth.
    fields: HashSet<u64>,
    /// Hashes keys (randomly keyed: collisions cannot be chosen by the file).
    hasher: RandomState,
}

impl JsonCheck {
    /// A check of JSON laid out as `layout`.
    pub(super) fn new(layout: JsonLayout) -> Self {
        Self {
            layout,
            depth: 0,
            in_string: false,
            escaped: false,
            begun: false,
            bom: 0,
            closed: false,
            line: 1,
            expect_row: layout == JsonLayout::Lines,
            rows: 0,
            values: 0,
            nested: 0,
            record_bytes: 0,
            key: None,
            open: Vec::new(),
            columns: HashSet::new(),
            fields: HashSet::new(),
            hasher: RandomState::new(),
        }
    }

    /// Rows seen so far.
    pub(super) fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes the frame of a `file_bytes` file takes while polars reads it, at most: every
    /// column as tall as the frame (16 bytes a cell: missing keys are nulls), each value's
    /// node in the parser's tree (80 bytes) for an array, which polars reads whole after
    /// copying it (twice the file); for NDJSON, read a line at a time, the file and each
    /// nested value as a small column of its own (256 bytes).
    pub(super) fn frame_bytes(&self, file_bytes: u64) -> u64 {
        let table = self
            .rows
            .saturating_mul(self.columns.len().max(1) as u64)
            .saturating_mul(16);
        let reading = match self.layout {
            JsonLayout::Array => file_bytes
                .saturating_mul(2)
                .saturating_add(self.values.saturating_mul(80)),
            JsonLayout::Lines => file_bytes.saturating_add(self.nested.saturating_mul(256)),
        };
        table.saturating_add(reading)
    }

    /// The depth at which a record opens.
    fn record_depth(&self) -> usize {
        match self.layout {
            JsonLayout::Array => 1,
            JsonLayout::Lines => 0,
        }
    }

    fn damaged(&self, what: &str) -> IngestError {
        IngestError::Damaged {
            format: "JSON",
            reason: format!("line {}: {what}", self.line),
        }
    }

    /// Checks the next `chunk` of the file.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<(), IngestError> {
        for &b in chunk {
            self.byte(b)?;
        }
        Ok(())
    }

    fn byte(&mut self, b: u8) -> Result<(), IngestError> {
        if self.depth > self.record_depth() {
            self.record_bytes += 1;
            if self.record_bytes > MAX_RECORD_BYTES {
                return Err(IngestError::RecordTooLong {
                    line: self.line,
                    max: MAX_RECORD_BYTES,
                });
            }
        }
        if self.in_string {
            match b {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => {
                    self.in_string = false;
                    if let Some(key) = self.key.take() {
                        self.keep_key(key)?;
                    }
                    return Ok(());
                }
                b'\n' => return Err(self.damaged("a string runs past the end of its line")),
                _ => {}
            }
            if let Some(key) = self.key.as_mut() {
                if key.len() == MAX_KEY_BYTES {
                    return Err(self.damaged("a key longer than 256 bytes"));
                }
                key.push(b);
            }
            return Ok(());
        }
        match b {
            b'\n' => {
                if self.layout == JsonLayout::Lines {
                    if self.depth > 0 {
                        return Err(self.damaged(
                            "a record runs onto the next line: NDJSON has one record a line \
                             (a JSON file of records is an array, [{…}, {…}])",
                        ));
                    }
                    self.expect_row = true;
                }
                self.line += 1;
                return Ok(());
            }
            b' ' | b'\t' | b'\r' => return Ok(()),
            _ if self.closed => return Err(self.damaged("text after the array's end")),
            _ => {}
        }
        if !self.begun {
            const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
            if self.line == 1 && BOM.get(self.bom) == Some(&b) {
                self.bom += 1; // the parser skips it
                return Ok(());
            }
            self.begun = true;
            let opens = match self.layout {
                JsonLayout::Array => b == b'[',
                JsonLayout::Lines => b == b'{',
            };
            // Anything else is not JSON (nor compressed JSON, which the parser would
            // unpack whole in memory).
            if !opens {
                return Err(self.damaged(match self.layout {
                    JsonLayout::Array => "a JSON file of records starts with '['",
                    JsonLayout::Lines => "each line of an NDJSON file is a record '{…}'",
                }));
            }
        }
        if self.depth == self.record_depth() && self.expect_row && !matches!(b, b',' | b']') {
            self.rows += 1;
            self.expect_row = false;
            self.record_bytes = 0;
        }
        if self.depth > self.record_depth() + 1 && matches!(b, b',' | b'{' | b'[') {
            self.nested += 1;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.open.last() == Some(&Some(true)) {
                    self.key = Some(Vec::new());
                }
            }
            b'{' | b'[' => {
                self.values += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(IngestError::TooDeep {
                        format: "JSON",
                        max: MAX_DEPTH,
                    });
                }
                self.open.push((b == b'{').then_some(true));
                if self.layout == JsonLayout::Array && self.depth == 1 {
                    self.expect_row = true;
                }
            }
            b'}' | b']' => {
                self.depth = match self.depth.checked_sub(1) {
                    Some(depth) => depth,
                    None => return Err(self.damaged("a closing bracket that nothing opened")),
                };
                self.open.pop();
                if self.layout == JsonLayout::Array && self.depth == 0 {
                    self.closed = true;
                }
            }
            b',' => {
                self.values += 1;
                if let Some(Some(expect)) = self.open.last_mut() {
                    *expect = true; // in an object, a key comes next
                }
                if self.depth == self.record_depth() {
                    self.expect_row = true;
                }
            }
            b':' => {
                if let Some(Some(expect)) = self.open.last_mut() {
                    *expect = false;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A key of an object at the current depth: counted as a column (a record's) or a
    /// field (a nested object's).
    fn keep_key(&mut self, key: Vec<u8>) -> Result<(), IngestError> {
        let column = self.hasher.hash_one(&key);
        if self.depth == self.record_depth() + 1 && !self.columns.contains(&column) {
            if self.columns.len() as u64 >= MAX_COLUMNS {
                return Err(IngestError::TooManyColumns {
                    found: self.columns.len() as u64 + 1,
                    max: MAX_COLUMNS,
                });
            }
            self.columns.insert(column);
        }
        let field = self.hasher.hash_one((self.depth, &key));
        if self.fields.len() < MAX_FIELDS || self.fields.contains(&field) {
            self.fields.insert(field);
            Ok(())
        } else {
            Err(IngestError::TooManyFields { max: MAX_FIELDS })
        }
    }

    /// The end of the file: every bracket closed, every string too, some record read.
    pub(super) fn finish(&mut self) -> Result<(), IngestError> {
        if !self.begun {
            return Err(IngestError::Empty);
        }
        if self.in_string || self.depth > 0 {
            return Err(IngestError::Truncated("JSON"));
        }
        if self.columns.is_empty() {
            return Err(IngestError::Damaged {
                format: "JSON",
                reason: "it holds no records (objects with keys, `{…}`), so no columns".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows, columns and the reservation of `text` fed in chunks of `chunk`.
    fn shape(layout: JsonLayout, text: &[u8], chunk: usize) -> Result<(u64, u64, u64), IngestError> {
        let mut check = JsonCheck::new(layout);
        for part in text.chunks(chunk.max(1)) {
            check.feed(part)?;
        }
        check.finish()?;
        Ok((
            check.rows(),
            check.columns.len() as u64,
            check.frame_bytes(text.len() as u64),
        ))
    }

    fn check(layout: JsonLayout, text: &[u8], chunk: usize) -> Result<(u64, u64), IngestError> {
        shape(layout, text, chunk).map(|(rows, columns, _)| (rows, columns))
    }

    #[test]
    fn rows_keys_and_values_are_counted_whatever_the_chunks() {
        let array = br#"[{"a": 1, "b": "x]}"}, {"a": 2, "b": "y\"{", "c": [1, {"d": 2}]}, null]"#;
        let lines = b"{\"a\": 1}\n{\"a\": 2, \"b\": {\"c\": 3}}\n\n{\"a\": 3}\n";
        for chunk in [1, 3, 1000] {
            let (rows, columns, _) = shape(JsonLayout::Array, array, chunk).expect("array");
            assert_eq!(
                (rows, columns),
                (3, 3),
                "a null row counts, nested keys are not columns"
            );
            let (rows, columns, _) = shape(JsonLayout::Lines, lines, chunk).expect("lines");
            assert_eq!((rows, columns), (3, 2));
        }
    }

    #[test]
    fn the_reservation_follows_the_table_polars_builds() {
        // One wide record, then empty ones: every column is as tall as the frame.
        let mut wide = String::from("[{");
        wide.push_str(
            &(0..1000)
                .map(|i| format!("\"k{i}\": 0"))
                .collect::<Vec<_>>()
                .join(","),
        );
        wide.push('}');
        wide.push_str(&",{}".repeat(10_000));
        wide.push(']');
        let (rows, columns, bytes) = shape(JsonLayout::Array, wide.as_bytes(), 4096).expect("wide");
        assert_eq!((rows, columns), (10_001, 1000));
        assert!(bytes >= 10_001 * 1000 * 16, "{bytes}");
        // More distinct keys than columns allowed: refused as they arrive.
        let keys: String = (0..3000)
            .map(|i| format!("{{\"k{i}\": 0}}"))
            .collect::<Vec<_>>()
            .join(",");
        let err = shape(JsonLayout::Array, format!("[{keys}]").as_bytes(), 4096).expect_err("too many");
        assert!(
            matches!(err, IngestError::TooManyColumns { max: MAX_COLUMNS, .. }),
            "{err}"
        );
        // A record longer than a record may be.
        let long = format!("[{{\"a\": \"{}\"}}]", "x".repeat(MAX_RECORD_BYTES as usize + 1));
        let err = shape(JsonLayout::Array, long.as_bytes(), 1 << 16).expect_err("too long");
        assert!(matches!(err, IngestError::RecordTooLong { .. }), "{err}");
        // A pretty-printed object is not NDJSON.
        let err = shape(JsonLayout::Lines, b"{\n  \"a\": 1\n}\n", 7).expect_err("spans lines");
        assert!(err.to_string().contains("runs onto the next line"), "{err}");
    }

    #[test]
    fn deep_unbalanced_and_strange_files_are_refused() {
        let deep = format!("[{}{}]", "[".repeat(5_000), "]".repeat(5_000));
        assert_eq!(
            check(JsonLayout::Array, deep.as_bytes(), 4096),
            Err(IngestError::TooDeep {
                format: "JSON",
                max: MAX_DEPTH
            })
        );
        assert_eq!(
            check(JsonLayout::Array, b"[{\"a\": 1}", 7),
            Err(IngestError::Truncated("JSON"))
        );
        assert_eq!(
            check(JsonLayout::Array, b"[{\"a\": \"1}]", 7),
            Err(IngestError::Truncated("JSON"))
        );
        let none = check(JsonLayout::Array, b"[1, 2]", 7).expect_err("no records");
        assert!(none.to_string().contains("no records"), "{none}");
        assert_eq!(
            check(JsonLayout::Array, b"\xef\xbb\xbf[{\"a\": 1}]", 1),
            Ok((1, 1))
        );
        assert_eq!(check(JsonLayout::Array, b"  \n ", 7), Err(IngestError::Empty));
        let bom_zlib = b"\xef\xbb\xbfx\x9c\x01";
        for bad in [
            &b"\x28\xb5\x2f\xfd"[..],
            bom_zlib,
            b"[{}]]",
            b"[{}] [{}]",
            b"a,b\n1,2\n",
        ] {
            let err = check(JsonLayout::Array, bad, 3).expect_err("refused");
            assert!(
                matches!(err, IngestError::Damaged { format: "JSON", .. }),
                "{err}"
            );
        }
        let err = check(JsonLayout::Lines, b"{\"a\": 1}\n[1]\n", 5);
        assert_eq!(err, Ok((2, 1)), "a line that is an array is polars' to refuse");
        let err = check(JsonLayout::Lines, b"{\"a\": \"x\ny\"}\n", 5).expect_err("refused");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    mod counted_like_a_parser {
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        use super::*;

        /// Keys and text with what a scanner could trip on: quotes, backslashes,
        /// brackets, colons and commas, a line break (escaped by the writer), non-ASCII.
        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex(r#"[a-c"\\{}\[\]:, \n é]{0,6}"#).expect("regex")
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i32>().prop_map(Value::from),
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::vec((text(), inner), 0..4)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        fn record() -> impl Strategy<Value = Map<String, Value>> {
            proptest::collection::vec((text(), value()), 1..5).prop_map(|kv| kv.into_iter().collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the records hold and however the bytes are cut, the check counts
            /// the rows and the distinct keys a parser finds, as an array and as NDJSON.
            #[test]
            fn rows_and_columns_match_the_records(
                records in proptest::collection::vec(record(), 1..6),
                chunk in 1usize..40,
            ) {
                let mut keys: Vec<&String> = records.iter().flat_map(|r| r.keys()).collect();
                keys.sort();
                keys.dedup();
                let expected = (records.len() as u64, keys.len() as u64);
                let array = serde_json::to_string(&records).expect("json");
                prop_assert_eq!(check(JsonLayout::Array, array.as_bytes(), chunk), Ok(expected));
                let pretty = serde_json::to_string_pretty(&records).expect("json");
                prop_assert_eq!(check(JsonLayout::Array, pretty.as_bytes(), chunk), Ok(expected));
                let lines: String = records
                    .iter()
                    .map(|r| serde_json::to_string(r).expect("json") + "\n")
                    .collect();
                prop_assert_eq!(check(JsonLayout::Lines, lines.as_bytes(), chunk), Ok(expected));
            }
        }
    }
}
