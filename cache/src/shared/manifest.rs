//! What a frame in Redis is made of: its columns in Arrow IPC files, each file in chunks
//! of the size its manifest names (this server writes [`CHUNK_BYTES`]), all under one
//! version.
//!
//! A column of [`FILE_BYTES`] or more is a file of its own; narrower ones share a file up
//! to about that size. A frame read back over the bytes it was read into (see
//! `in_place`) then holds each large column in an allocation of its own: a step that
//! keeps one column of it (a `select`) keeps that column's bytes alive, and at most about
//! [`FILE_BYTES`] more, not the whole frame's; and a frame of thousands of narrow columns
//! is still a few files.
//!
//! The manifest reads `cols2 <version> <bytes a chunk> <bytes of file 0> <bytes of file 1>…`.
//! Stop 40's servers wrote `cols <version> <bytes of file 0>…` with 8 MiB chunks: that
//! form is still read (and its chunks removed) whole. A manifest in any other form (an
//! older server's) reads as a frame not in Redis, which is then rebuilt from its lineage;
//! its chunks expire. A server of stop 40 reads this form as not in Redis either, and
//! cannot list its chunks to remove them: while both share a Redis, chunks it replaces
//! wait for `frame_ttl`.

use std::ops::Range;

use uuid::Uuid;

/// Bytes of one chunk: 1 MiB. Redis copies a value into its reply buffers before its
/// first byte goes out; `raw_get` asks for the next chunk as each reply starts, so Redis
/// copies one small chunk while the socket carries the one before (and, most likely, the
/// copy is still in the CPU's cache when it is sent). Measured on this VM for an 80 MB
/// frame (`scripts/bench-redis`, 2026-12-04): 8 MiB chunks asked for all at once read in
/// 90–107 ms, 1 MiB chunks all at once in 62–85; one ahead, 2 MiB chunks in 51–53,
/// 1 MiB in 39–44, and 512 KiB or 256 KiB no faster (41–62).
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// Bytes of columns a file holds before the next column starts another: 1 MiB.
pub(crate) const FILE_BYTES: usize = 1 << 20;

/// Most files a frame in Redis may have: more than a frame of `frame_max` bytes in files
/// of [`FILE_BYTES`] (plus one a column that is larger) can need.
pub(crate) const MAX_FILES: usize = 10_000;

/// The manifest's first word: `cols2` names its chunks' size; `cols` (stop 40's
/// servers) had 8 MiB chunks and is still read, so a frame an older server wrote is read
/// and removed whole.
const TAG: &str = "cols2";
const OLD_TAG: &str = "cols";
const OLD_CHUNK_BYTES: usize = 8 << 20;

/// Chunk sizes a manifest may name: from 64 KiB to 64 MiB, a power of two.
fn sane_chunk(bytes: usize) -> bool {
    bytes.is_power_of_two() && (64 << 10..=64 << 20).contains(&bytes)
}

/// Which version, the bytes of its chunks, and the bytes of each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) version: String,
    pub(crate) chunk: usize,
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
            chunk: CHUNK_BYTES,
            files,
        }
    }

    /// The manifest in `text`, if it is one this server (or one of stop 40's, whose
    /// chunks were 8 MiB) could have written: at least one file, at most [`MAX_FILES`],
    /// at most `max_bytes` in all, chunks of a sane size.
    pub(crate) fn parse(text: &str, max_bytes: u64) -> Option<Self> {
        let mut parts = text.split(' ');
        let tag = parts.next()?;
        if tag != TAG && tag != OLD_TAG {
            return None;
        }
        let version = parts.next()?;
        let chunk = match tag {
            TAG => parts.next()?.parse::<usize>().ok().filter(|&n| sane_chunk(n))?,
            _ => OLD_CHUNK_BYTES,
        };
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
            chunk,
            files,
        })
    }

    pub(crate) fn text(&self) -> String {
        let mut text = format!("{TAG} {} {}", self.version, self.chunk);
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
            let count = bytes.div_ceil(self.chunk).max(1);
            for index in 0..count {
                let start = index * self.chunk;
                chunks.push(Chunk {
                    file,
                    index,
                    range: start..(start + self.chunk).min(bytes),
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
        let read = Manifest::parse(&format!("cols2 {v} 1048576 10 20"), 30).expect("this form");
        assert_eq!((read.chunk, read.files), (1 << 20, vec![10, 20]));
        // Stop 40's form: 8 MiB chunks, read and removed as they were written.
        let old =
            Manifest::parse(&format!("cols {v} {} 20", (8 << 20) + 1), 1 << 30).expect("the older form");
        assert_eq!(old.chunk, 8 << 20);
        assert_eq!(
            old.chunks().len(),
            3,
            "two chunks of the first file, one of the second"
        );
        for bad in [
            format!("cols2 {v} 1048576 10 21"), // over the bytes allowed
            format!("cols2 {v} 1048576"),       // no column
            format!("cols2 {v} 1048576 10 x"),  // not a number
            format!("cols2 {v} 1000 10"),       // not a power of two
            format!("cols2 {v} 1 10"),          // absurdly small chunks
            format!("cols2 {v} 1073741824 10"), // absurdly large chunks
            format!("{v} 2 30"),                // an even older form
            "cols2 ../x 1048576 10".to_owned(), // not a version
            format!("cols2 {v} 1048576 18446744073709551615 1"), // overflow
        ] {
            assert_eq!(Manifest::parse(&bad, 30), None, "{bad}");
        }
        let wide = format!("cols2 {v} 1048576{}", " 0".repeat(MAX_FILES + 1));
        assert_eq!(Manifest::parse(&wide, 1 << 30), None, "too many files");
    }
}
