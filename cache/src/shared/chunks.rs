//! A frame's chunks, as fetched from Redis, read as one file without joining them:
//! Arrow IPC is decoded straight out of them (one copy, into the frame's buffers, where
//! joining them first was a second copy of the whole frame).

use std::io::{self, Read, Seek, SeekFrom};

use bytes::Bytes;
use polars_io::mmap::MmapBytesReader;

/// Chunks read one after another as one seekable stream.
pub(crate) struct ChunksReader {
    chunks: Vec<Bytes>,
    /// Where each chunk starts in the whole.
    starts: Vec<u64>,
    len: u64,
    pos: u64,
}

impl ChunksReader {
    pub(crate) fn new(chunks: Vec<Bytes>) -> Self {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut len = 0u64;
        for chunk in &chunks {
            starts.push(len);
            len += chunk.len() as u64;
        }
        Self {
            chunks,
            starts,
            len,
            pos: 0,
        }
    }

    /// Bytes in all.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

impl Read for ChunksReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() && self.pos < self.len {
            // The chunk holding `pos`: the last one starting at or before it.
            let index = self.starts.partition_point(|&start| start <= self.pos) - 1;
            let chunk = &self.chunks[index];
            let within = (self.pos - self.starts[index]) as usize;
            let n = (chunk.len() - within).min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&chunk[within..within + n]);
            written += n;
            self.pos += n as u64;
        }
        Ok(written)
    }
}

impl Seek for ChunksReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target =
            target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = target;
        Ok(target)
    }
}

/// Not a file and not one slice: polars reads it through `Read` and `Seek`.
impl MmapBytesReader for ChunksReader {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_seeks_across_chunk_edges() {
        let whole: Vec<u8> = (0..=255u8).cycle().take(1_000).collect();
        let chunks = vec![
            Bytes::copy_from_slice(&whole[..3]),
            Bytes::copy_from_slice(&whole[3..500]),
            Bytes::new(),
            Bytes::copy_from_slice(&whole[500..]),
        ];
        let mut reader = ChunksReader::new(chunks);
        assert_eq!(reader.len(), 1_000);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).expect("read");
        assert_eq!(all, whole);
        for (at, n) in [(0u64, 10usize), (2, 5), (498, 7), (990, 10), (499, 1)] {
            reader.seek(SeekFrom::Start(at)).expect("seek");
            let mut part = vec![0u8; n];
            reader.read_exact(&mut part).expect("read_exact");
            assert_eq!(part, whole[at as usize..at as usize + n], "at {at}");
        }
        reader.seek(SeekFrom::End(-4)).expect("from the end");
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).expect("tail");
        assert_eq!(tail, whole[996..]);
        assert!(reader.seek(SeekFrom::Current(-2_000)).is_err());
        reader
            .seek(SeekFrom::Start(5_000))
            .expect("past the end is allowed");
        assert_eq!(reader.read(&mut [0u8; 4]).expect("eof"), 0);
    }
}
