//! Scratch files in the uploads directory, counted in its budget: a download is written
//! to one, then streamed. Every byte written is reserved in the uploads budget first, so
//! a download of a frame larger than the room left stops with a clear error instead of
//! filling the disk (issue 23: the scratch file was invisible to the budget), and the
//! bytes come back when the file is closed.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};

use uuid::Uuid;

use super::private_files::create_private;
use super::{IngestError, Uploads};

/// A private scratch file, already unlinked (it vanishes when closed), whose bytes are
/// counted in the uploads budget while it is open.
#[derive(Debug)]
pub struct Scratch {
    file: File,
    held: ScratchBytes,
    /// Why the budget refused a write, kept here: a writer (polars' Parquet writer)
    /// may turn the `io::Error` into text.
    refused: Option<IngestError>,
}

/// The budget bytes a scratch file holds; given back when dropped. Kept beside the file
/// while it is streamed ([`Scratch::into_parts`]).
#[derive(Debug)]
pub struct ScratchBytes {
    uploads: Uploads,
    bytes: u64,
}

impl Drop for ScratchBytes {
    fn drop(&mut self) {
        self.uploads.unreserve(self.bytes);
    }
}

impl Uploads {
    /// A new scratch file in the directory, counted in its budget as it is written.
    pub fn scratch(&self) -> Result<Scratch, IngestError> {
        let path = self.dir().join(format!("{}.part", Uuid::new_v4().simple()));
        let file = create_private(&path)?;
        fs::remove_file(&path).map_err(IngestError::io)?;
        Ok(Scratch {
            file,
            held: ScratchBytes {
                uploads: self.clone(),
                bytes: 0,
            },
            refused: None,
        })
    }
}

impl Scratch {
    /// The uploads budget's refusal of a write, if one failed for want of room.
    pub fn refused(&self) -> Option<&IngestError> {
        self.refused.as_ref()
    }

    /// Bytes written so far (and held in the budget).
    pub fn bytes(&self) -> u64 {
        self.held.bytes
    }

    /// The file, rewound, and the budget bytes it holds (drop them when done with it).
    pub fn into_parts(mut self) -> io::Result<(File, ScratchBytes)> {
        self.file.seek(SeekFrom::Start(0))?;
        Ok((self.file, self.held))
    }
}

impl Write for Scratch {
    /// Writes `buf` once its bytes are reserved; over the budget, an error that
    /// [`IngestError`]'s message explains (the download stops).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Err(refused) = self.held.uploads.reserve(buf.len() as u64) {
            self.refused = Some(refused.clone());
            return Err(io::Error::other(refused));
        }
        match self.file.write(buf) {
            Ok(n) => {
                // Only what was written stays reserved.
                self.held.uploads.unreserve((buf.len() - n) as u64);
                self.held.bytes += n as u64;
                Ok(n)
            }
            Err(err) => {
                self.held.uploads.unreserve(buf.len() as u64);
                Err(err)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Read for Scratch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for Scratch {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::UploadLimit;

    #[test]
    fn a_refusal_is_kept_though_the_parquet_writer_turns_it_into_text() {
        use polars::prelude::{df, ParquetWriter};
        let dir = tempfile::tempdir().expect("tempdir");
        let uploads = Uploads::open(&dir.path().join("uploads"), 1 << 20, 4096).expect("uploads");
        let values: Vec<f64> = (0..10_000u32)
            .map(|i| f64::from(i.wrapping_mul(2_654_435_761)) / 7.0)
            .collect();
        let mut frame = df!("x" => values).expect("frame");
        let mut scratch = uploads.scratch().expect("scratch");
        let err = ParquetWriter::new(&mut scratch)
            .finish(&mut frame)
            .expect_err("larger than the room");
        assert!(
            matches!(
                scratch.refused(),
                Some(IngestError::TooLarge {
                    limit: UploadLimit::UploadsSpace,
                    ..
                })
            ),
            "{err}"
        );
        drop(scratch);
        assert_eq!(uploads.used_bytes(), 0);
    }

    #[test]
    fn a_scratch_file_holds_its_bytes_in_the_budget_and_stops_at_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let uploads = Uploads::open(&dir.path().join("uploads"), 1 << 20, 1000).expect("uploads");
        let mut scratch = uploads.scratch().expect("scratch");
        scratch.write_all(&[1u8; 600]).expect("within the budget");
        assert_eq!(uploads.used_bytes(), 600);
        let err = scratch.write_all(&[1u8; 600]).expect_err("past the budget");
        assert!(err.to_string().contains("space for uploads"), "{err}");
        // Kept by type, whatever a writer makes of the io::Error.
        assert!(
            matches!(
                scratch.refused(),
                Some(IngestError::TooLarge {
                    limit: UploadLimit::UploadsSpace,
                    ..
                })
            ),
            "{:?}",
            scratch.refused()
        );
        assert_eq!(uploads.used_bytes(), 600, "the refused write holds nothing");
        let (mut file, held) = scratch.into_parts().expect("parts");
        let mut back = Vec::new();
        file.read_to_end(&mut back).expect("read");
        assert_eq!(back.len(), 600);
        drop(held);
        assert_eq!(uploads.used_bytes(), 0, "given back when done");
        assert_eq!(
            fs::read_dir(dir.path().join("uploads")).expect("dir").count(),
            0,
            "unlinked"
        );
    }
}
