//! A JSON file checked while it streams in, before polars reads it: an array of records
//! (`[{…}, {…}]`) or one record a line (NDJSON), brackets that balance, strings that close,
//! nesting no deeper than [`MAX_DEPTH`] (polars reads nested values by recursion: a file
//! nested thousands deep would overflow the stack), and the records and their values
//! counted (the upload's progress, and the frame's size before it is read). One pass
//! over each chunk; UTF-8 is checked by the parser.

use super::{IngestError, MAX_DEPTH};

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
    /// Records opened.
    records: u64,
    /// Values of records (their keys), to size the frame.
    values: u64,
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
            records: 0,
            values: 0,
        }
    }

    /// Records seen so far.
    pub(super) fn rows(&self) -> u64 {
        self.records
    }

    /// Values of the records seen so far (each key of each record).
    pub(super) fn values(&self) -> u64 {
        self.values
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
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    b'\n' => return Err(self.damaged("a string runs past the end of its line")),
                    _ => {}
                }
                continue;
            }
            match b {
                b'\n' => {
                    self.line += 1;
                    continue;
                }
                b' ' | b'\t' | b'\r' => continue,
                _ if self.closed => return Err(self.damaged("text after the array's end")),
                _ => {}
            }
            if !self.begun {
                const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
                if self.line == 1 && BOM.get(self.bom) == Some(&b) {
                    self.bom += 1; // the parser skips it
                    continue;
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
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    if b == b'{' && self.depth == self.record_depth() {
                        self.records += 1;
                    }
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(IngestError::TooDeep {
                            format: "JSON",
                            max: MAX_DEPTH,
                        });
                    }
                }
                b'}' | b']' => {
                    self.depth = match self.depth.checked_sub(1) {
                        Some(depth) => depth,
                        None => return Err(self.damaged("a closing bracket that nothing opened")),
                    };
                    if self.layout == JsonLayout::Array && self.depth == 0 {
                        self.closed = true;
                    }
                }
                b':' if self.depth == self.record_depth() + 1 => self.values += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// The end of the file: every bracket closed, every string too, some record read.
    pub(super) fn finish(&mut self) -> Result<(), IngestError> {
        if !self.begun {
            return Err(IngestError::Empty);
        }
        if self.in_string || self.depth > 0 {
            return Err(IngestError::Truncated("JSON"));
        }
        if self.records == 0 {
            return Err(IngestError::Damaged {
                format: "JSON",
                reason: "it holds no records (objects, `{…}`), so no rows".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(layout: JsonLayout, text: &[u8], chunk: usize) -> Result<(u64, u64), IngestError> {
        let mut check = JsonCheck::new(layout);
        for part in text.chunks(chunk.max(1)) {
            check.feed(part)?;
        }
        check.finish()?;
        Ok((check.rows(), check.values()))
    }

    #[test]
    fn records_and_values_are_counted_whatever_the_chunks() {
        let array = br#"[{"a": 1, "b": "x]}"}, {"a": 2, "b": "y\"{", "c": [1, {"d": 2}]}]"#;
        let lines = b"{\"a\": 1}\n{\"a\": 2, \"b\": {\"c\": 3}}\n\n{\"a\": 3}\n";
        for chunk in [1, 3, 1000] {
            assert_eq!(check(JsonLayout::Array, array, chunk), Ok((2, 5)));
            assert_eq!(check(JsonLayout::Lines, lines, chunk), Ok((3, 4)));
        }
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
        assert_eq!(err, Ok((1, 1)), "a line that is an array is polars' to refuse");
        let err = check(JsonLayout::Lines, b"{\"a\": \"x\ny\"}\n", 5).expect_err("refused");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
