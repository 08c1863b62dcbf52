//! What a file is: told by its first bytes, checked against what its name says.

use super::gunzip::GZIP_MAGIC;
use super::IngestError;

/// A format the cache reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text with a header line, the separator given (`,` `;` `\t` `|`).
    Csv(u8),
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC, the file format (`ARROW1`).
    Ipc,
    /// JSON: one array of records.
    Json,
    /// NDJSON (JSON Lines): one record a line.
    NdJson,
    /// An Excel workbook (`.xlsx`, `.xlsm`): a zip of XML parts.
    Xlsx,
}

impl Format {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv(b'\t') => "TSV",
            Self::Csv(_) => "CSV",
            Self::Parquet => "Parquet",
            Self::Ipc => "Arrow IPC",
            Self::Json => "JSON",
            Self::NdJson => "NDJSON",
            Self::Xlsx => "Excel",
        }
    }
}

/// What the name's extension claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Text(Option<u8>),
    Parquet,
    Ipc,
    Json,
    NdJson,
    Excel,
    Gzip,
    Unknown,
}

impl Claim {
    fn name(self) -> &'static str {
        match self {
            Self::Text(Some(_)) => "TSV",
            Self::Text(None) => "CSV",
            Self::Parquet => "Parquet",
            Self::Ipc => "Arrow IPC",
            Self::Json => "JSON",
            Self::NdJson => "NDJSON",
            Self::Excel => "Excel",
            Self::Gzip => "gzip",
            Self::Unknown => "an unknown format",
        }
    }
}

fn claim(name: &str) -> Claim {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "csv" | "txt" => Claim::Text(None),
        "tsv" | "tab" => Claim::Text(Some(b'\t')),
        "parquet" | "pq" => Claim::Parquet,
        "arrow" | "feather" | "ipc" => Claim::Ipc,
        "json" => Claim::Json,
        "ndjson" | "jsonl" => Claim::NdJson,
        "xlsx" | "xlsm" => Claim::Excel,
        "gz" | "gzip" | "tgz" => Claim::Gzip,
        _ => Claim::Unknown,
    }
}

/// What the bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Parquet,
    Ipc,
    Gzip,
    Zip,
    /// OLE2 (compound file): an old `.xls`, or a password-locked `.xlsx`.
    Ole,
    Binary,
    Text,
}

fn seen(head: &[u8]) -> Seen {
    if head.starts_with(b"PAR1") {
        Seen::Parquet
    } else if head.starts_with(b"ARROW1") {
        Seen::Ipc
    } else if head.starts_with(&GZIP_MAGIC) {
        Seen::Gzip
    } else if head.starts_with(b"PK\x03\x04") {
        Seen::Zip
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Seen::Ole
    } else if head.contains(&0) {
        Seen::Binary
    } else {
        Seen::Text
    }
}

fn describe(seen: Seen) -> &'static str {
    match seen {
        Seen::Parquet => "a Parquet file",
        Seen::Ipc => "an Arrow IPC file",
        Seen::Gzip => "gzip-compressed",
        Seen::Zip => "a zip archive",
        Seen::Ole => "an old Office file",
        Seen::Binary => "binary data",
        Seen::Text => "text",
    }
}

/// Whether an upload named `name` whose first (two or more) bytes are `first` is gzip'd,
/// and the name its content is then checked against (without `.gz`). The bytes decide;
/// a name that says otherwise is an error.
pub(super) fn outer(name: &str, first: &[u8]) -> Result<(bool, String), IngestError> {
    let gzip = first.starts_with(&GZIP_MAGIC);
    match (claim(name), gzip) {
        (Claim::Gzip, true) => {
            let inner = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
            Ok((true, inner.to_owned()))
        }
        (Claim::Unknown, true) => Ok((true, name.to_owned())),
        (Claim::Gzip, false) => Err(IngestError::NotWhatItSays {
            claimed: "gzip",
            found: describe(seen(first)),
        }),
        (claimed, true) => Err(IngestError::NotWhatItSays {
            claimed: claimed.name(),
            found: describe(Seen::Gzip),
        }),
        (_, false) => Ok((false, name.to_owned())),
    }
}

/// The format of a file named `name` whose first bytes are `head` (up to a few KiB).
/// The content decides; a name that says otherwise is an error, as are compressed
/// archives (a gzip'd upload is unpacked before this is asked, [`outer`]; gzip inside
/// gzip, and zip, the user unpacks).
pub fn detect(name: &str, head: &[u8]) -> Result<Format, IngestError> {
    if head.is_empty() {
        return Err(IngestError::Empty);
    }
    let seen = seen(head);
    let claim = claim(name);
    match (claim, seen) {
        // A workbook is a zip; the name must say so (other zips are unpacked by the user).
        (Claim::Excel, Seen::Zip) => return Ok(Format::Xlsx),
        (Claim::Excel | Claim::Unknown, Seen::Ole) => return Err(IngestError::LockedWorkbook),
        (Claim::Excel, _) => {
            return Err(IngestError::NotWhatItSays {
                claimed: "Excel",
                found: describe(seen),
            })
        }
        _ => {}
    }
    if matches!(seen, Seen::Gzip | Seen::Zip) || claim == Claim::Gzip {
        return Err(IngestError::Compressed(describe(seen).to_owned()));
    }
    let mismatch = |expected: &'static str| IngestError::NotWhatItSays {
        claimed: expected,
        found: describe(seen),
    };
    match (claim, seen) {
        (Claim::Parquet, Seen::Parquet) | (Claim::Unknown, Seen::Parquet) => Ok(Format::Parquet),
        (Claim::Ipc, Seen::Ipc) | (Claim::Unknown, Seen::Ipc) => Ok(Format::Ipc),
        (Claim::Text(sep), Seen::Text) => Ok(Format::Csv(sep.unwrap_or_else(|| sniff_separator(head)))),
        (Claim::Json, Seen::Text) => match json_opening(head, false) {
            Some(b'[') => Ok(Format::Json),
            Some(b'{') => Ok(Format::NdJson),
            _ => Err(mismatch("JSON")),
        },
        (Claim::NdJson, Seen::Text) => Ok(Format::NdJson),
        (Claim::Unknown, Seen::Text) => Ok(match json_opening(head, true) {
            Some(b'[') => Format::Json,
            Some(b'{') => Format::NdJson,
            _ => Format::Csv(sniff_separator(head)),
        }),
        (Claim::Json, _) => Err(mismatch("JSON")),
        (Claim::NdJson, _) => Err(mismatch("NDJSON")),
        (Claim::Parquet, _) => Err(mismatch("Parquet")),
        (Claim::Ipc, _) => Err(mismatch("Arrow IPC")),
        (Claim::Text(Some(_)), _) => Err(mismatch("TSV")),
        (Claim::Text(None), _) => Err(mismatch("CSV")),
        (Claim::Excel, _) => Err(mismatch("Excel")),
        (_, Seen::Binary | Seen::Ole) => Err(IngestError::Unsupported),
        (Claim::Gzip, _) | (_, Seen::Gzip | Seen::Zip) => {
            Err(IngestError::Compressed(describe(seen).to_owned()))
        }
    }
}

/// The first byte of a text file after a byte-order mark and white space, when it opens
/// a JSON array or object. `strict` (the name says nothing): only an array of records
/// (`[` then `{` or `]`) or an object (`{` then `"` or `}`), so that a CSV whose header
/// starts with a bracket (`[id],[name]`) is not taken for JSON.
fn json_opening(head: &[u8], strict: bool) -> Option<u8> {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let mut significant = text.iter().copied().filter(|b| !b.is_ascii_whitespace());
    let first = significant.next()?;
    let then = significant.next();
    let fits = !strict && matches!(first, b'[' | b'{')
        || match first {
            b'[' => matches!(then, None | Some(b'{' | b']')),
            b'{' => matches!(then, None | Some(b'"' | b'}')),
            _ => false,
        };
    fits.then_some(first)
}

/// The separator of a text file: the most frequent of `,` `;` `\t` `|` outside quotes
/// in its first line (`,` when none occurs).
fn sniff_separator(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let mut counts = [(b',', 0usize), (b'\t', 0), (b';', 0), (b'|', 0)];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (sep, n) in &mut counts {
                if b == *sep {
                    *n += 1;
                }
            }
        }
    }
    // The first of the most frequent: a comma wins ties.
    let mut best = counts[0];
    for c in counts {
        if c.1 > best.1 {
            best = c;
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_and_names_must_agree() {
        assert_eq!(detect("a.csv", b"x,y\n1,2\n"), Ok(Format::Csv(b',')));
        assert_eq!(detect("a.tsv", b"x\ty\n1\t2\n"), Ok(Format::Csv(b'\t')));
        assert_eq!(detect("data", b"x;y\n1;2\n"), Ok(Format::Csv(b';')));
        assert_eq!(detect("a.parquet", b"PAR1...."), Ok(Format::Parquet));
        assert_eq!(detect("a.arrow", b"ARROW1\0\0"), Ok(Format::Ipc));
        assert!(matches!(
            detect("a.parquet", b"x,y\n1,2\n"),
            Err(IngestError::NotWhatItSays {
                claimed: "Parquet",
                found: "text"
            })
        ));
        assert!(matches!(
            detect("a.csv", b"PAR1\0\0"),
            Err(IngestError::NotWhatItSays { claimed: "CSV", .. })
        ));
        assert!(matches!(
            detect("a.csv.gz", &[0x1f, 0x8b, 8, 0]),
            Err(IngestError::Compressed(_))
        ));
        assert!(matches!(
            detect("a.csv", &[0x1f, 0x8b, 8, 0]),
            Err(IngestError::Compressed(_))
        ));
        assert_eq!(detect("a.csv", b""), Err(IngestError::Empty));
        assert_eq!(detect("a.json", b" \n[{\"a\": 1}]"), Ok(Format::Json));
        assert_eq!(detect("a.json", b"{\"a\": 1}\n"), Ok(Format::NdJson));
        assert_eq!(detect("a.jsonl", b"{\"a\": 1}\n"), Ok(Format::NdJson));
        assert_eq!(detect("download", b"\xef\xbb\xbf[{\"a\": 1}]"), Ok(Format::Json));
        assert_eq!(detect("a.csv", b"[a],b\n1,2\n"), Ok(Format::Csv(b',')));
        assert_eq!(detect("export", b"[id],[name]\n1,x\n"), Ok(Format::Csv(b',')));
        assert_eq!(detect("export", b"{x};y\n1;2\n"), Ok(Format::Csv(b';')));
        assert!(matches!(
            detect("a.json", b"a,b\n1,2\n"),
            Err(IngestError::NotWhatItSays { claimed: "JSON", .. })
        ));
        assert_eq!(
            detect("blob", b"\x89PNG\r\n\x1a\n\0\0"),
            Err(IngestError::Unsupported)
        );
    }

    #[test]
    fn gzip_is_told_by_its_bytes_and_its_name_must_agree() {
        let gz = [0x1f, 0x8b, 8, 0];
        assert_eq!(outer("a.csv.gz", &gz), Ok((true, "a.csv".to_owned())));
        assert_eq!(outer("a.TSV.GZ", &gz), Ok((true, "a.TSV".to_owned())));
        assert_eq!(outer("download", &gz), Ok((true, "download".to_owned())));
        assert_eq!(outer("a.csv", b"x,y\n"), Ok((false, "a.csv".to_owned())));
        assert_eq!(
            outer("a.csv", &gz),
            Err(IngestError::NotWhatItSays {
                claimed: "CSV",
                found: "gzip-compressed"
            })
        );
        assert_eq!(
            outer("a.csv.gz", b"x,y\n"),
            Err(IngestError::NotWhatItSays {
                claimed: "gzip",
                found: "text"
            })
        );
    }

    #[test]
    fn quoted_separators_do_not_count() {
        assert_eq!(sniff_separator(b"\"a,b,c\";d;e\n"), b';');
    }
}
