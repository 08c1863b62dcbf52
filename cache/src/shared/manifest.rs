//! What a frame in Redis is made of: its columns in Arrow IPC files, each file in chunks
//! of at most [`CHUNK_BYTES`], all under one version.
//!
//! A column of [`FILE_BYTES`] or more is a file of its own; narrower ones share a file up
//! to about that size. A frame read back over the bytes it was read into (see
//! `in_place`) then holds each large column in an allocation of its own: a step that
//! keeps one column of it (a `select`) keeps that column's bytes alive, and at most about
//! [`FILE_BYTES`] more, not the whole frame's; and a frame of thousands of narrow columns
//! is still a few files.
//!
//! The manifest reads `cols <version> <bytes of file 0> <bytes of file 1>…`.
//! A manifest in any other form (an older server's) reads as a frame not in Redis, which
//! is then rebuilt from its lineage; its chunks expire.

use std::ops::Range;

use uuid::Uuid;

/// Bytes of one chunk: 1 MiB. Redis copies a value into its reply buffers before its
/// first byte goes out; `raw_get` asks for the next chunk as each reply starts, so Redis
/// copies one small chunk while the socket carries the one before (and, most likely, the
/// copy is still in the CPU's cache when it is sent). Measured on this VM for an 80 MB
/// frame (`scripts/bench-redis`, 2026-12-04): 8 MiB chunks asked for all at once read in
/// 90–107 ms, 1 MiB chunks all at once in 62–85; one ahead, 2 MiB chunks in 51–53,
/// 1 MiB in 39–44, and 512 KiB or 256 KiB no faster (41–58).
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// Bytes of columns a file holds before the next column starts another: 1 MiB.
pub(crate) const FILE_BYTES: usize = 1 << 20;

/// Most files a frame in Redis may have: more than a frame of `frame_max` bytes in files
/// of [`FILE_BYTES`] (plus one a column that is larger) can need.
pub(crate) const MAX_FILES: usize = 10_000;

const TAG: &str = "cols";

/// Which version, and the bytes of each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) version: String,
    pub(crate) files: Vec<usize>,
}

/// One chunk: its file, its index within the file, and its bytes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) file: usize,
    pub(crate) index: usize,
    pub(crate) range: Range<usize>,
}

impl Manifest {
    /// A new version of a frame whose files take `files` bytes each.
    pub(crate) fn new(files: Vec<usize>) -> Self {
        Self {
            version: Uuid::new_v4().simple().to_string(),
            files,
        }
    }

    /// The manifest in `text`, if it is one this server could have written: at least one
    /// file, at most [`MAX_FILES`], at most `max_bytes` in all.
    pub(crate) fn parse(text: &str, max_bytes: u64) -> Option<Self> {
        let mut parts = text.split(' ');
        if parts.next()? != TAG {
            return None;
        }
        let version = parts.next()?;
        if version.len() != 32 || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let files = parts
            .take(MAX_FILES + 1)
            .map(|n| n.parse::<usize>().ok())
            .collect::<Option<Vec<_>>>()?;
        let total = files.iter().try_fold(0u64, |sum, &n| sum.checked_add(n as u64))?;
        if files.is_empty() || files.len() > MAX_FILES || total > max_bytes {
            return None;
        }
        Some(Self {
            version: version.to_owned(),
            files,
        })
    }

    pub(crate) fn text(&self) -> String {
        let mut text = format!("{TAG} {}", self.version);
        for bytes in &self.files {
            text.push(' ');
            text.push_str(&bytes.to_string());
        }
        text
    }

    /// Bytes of every file.
    pub(crate) fn bytes(&self) -> u64 {
        self.files.iter().map(|&n| n as u64).sum()
    }

    /// Every chunk, file by file (a file of no bytes is one empty chunk).
    pub(crate) fn chunks(&self) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        for (file, &bytes) in self.files.iter().enumerate() {
            let count = bytes.div_ceil(CHUNK_BYTES).max(1);
            for index in 0..count {
                let start = index * CHUNK_BYTES;
                chunks.push(Chunk {
                    file,
                    index,
                    range: start..(start + CHUNK_BYTES).min(bytes),
                });
            }
        }
        chunks
    }

    /// The key of `chunk`, under the frame's key.
    pub(crate) fn chunk_key(&self, frame_key: &str, chunk: &Chunk) -> String {
        format!("{frame_key}:{}:{}:{}", self.version, chunk.file, chunk.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_read() {
        let manifest = Manifest::new(vec![CHUNK_BYTES * 2 + 5, 0, 100]);
        let back = Manifest::parse(&manifest.text(), 1 << 30).expect("parsed");
        assert_eq!(back, manifest);
        let chunks = back.chunks();
        let ranges: Vec<(usize, usize, Range<usize>)> = chunks
            .iter()
            .map(|c| (c.file, c.index, c.range.clone()))
            .collect();
        assert_eq!(
            ranges,
            vec![
                (0, 0, 0..CHUNK_BYTES),
                (0, 1, CHUNK_BYTES..2 * CHUNK_BYTES),
                (0, 2, 2 * CHUNK_BYTES..2 * CHUNK_BYTES + 5),
                (1, 0, 0..0),
                (2, 0, 0..100),
            ]
        );
        assert_eq!(back.bytes(), (CHUNK_BYTES * 2 + 105) as u64);
        assert!(back
            .chunk_key("p:frame:s:i", &chunks[1])
            .ends_with(&format!("{}:0:1", back.version)));
    }

    #[test]
    fn only_what_this_server_could_have_written() {
        let v = "0123456789abcdef0123456789abcdef";
        assert!(Manifest::parse(&format!("cols {v} 10 20"), 30).is_some());
        for bad in [
            format!("cols {v} 10 21"),                  // over the bytes allowed
            format!("cols {v}"),                        // no column
            format!("cols {v} 10 x"),                   // not a number
            format!("{v} 2 30"),                        // an older server's form
            "cols ../x 10".to_owned(),                  // not a version
            format!("cols {v} 18446744073709551615 1"), // overflow
        ] {
            assert_eq!(Manifest::parse(&bad, 30), None, "{bad}");
        }
        let wide = format!("cols {v}{}", " 0".repeat(MAX_FILES + 1));
        assert_eq!(Manifest::parse(&wide, 1 << 30), None, "too many files");
    }
}
