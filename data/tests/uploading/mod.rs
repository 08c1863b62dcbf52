//! The setup of the ingestion tests: a cache taking uploads into a fresh directory, and
//! uploads sent to it in chunks (`data/tests/ingest.rs`).
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use polars::prelude::*;
use stayput_cache::{FrameCache, SessionKey};
use stayput_data::{IngestError, Uploads};

use crate::common::{config, MIB};

/// A cache taking uploads into a fresh directory of its own.
pub struct Setup {
    pub cache: FrameCache,
    pub uploads: Uploads,
    pub dir: tempfile::TempDir,
}

pub fn setup_with(limit: u64, budget_mib: u64) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let uploads = Uploads::open(&dir.path().join("uploads"), limit, 64 * MIB).expect("uploads");
    let cache = uploads
        .wire(FrameCache::builder(config(
            budget_mib,
            budget_mib,
            Duration::from_secs(600),
        )))
        .build();
    Setup { cache, uploads, dir }
}

pub fn setup() -> Setup {
    setup_with(16 * MIB, 64)
}

impl Setup {
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("uploads"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `bytes` uploaded as `name` in chunks of `chunk`.
    pub async fn upload(
        &self,
        session: SessionKey,
        name: &str,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<stayput_cache::FrameHandle, IngestError> {
        let mut incoming = self.uploads.incoming(session, name)?;
        for part in bytes.chunks(chunk.max(1)) {
            incoming.write(part)?;
        }
        self.uploads.ingest(&self.cache, session, incoming).await
    }

    pub async fn fails(&self, name: &str, bytes: &[u8]) -> IngestError {
        let session = SessionKey::random();
        match self.upload(session, name, bytes, 7).await {
            Err(err) if !matches!(err, IngestError::Cache(_)) => {
                assert!(
                    self.files().is_empty(),
                    "{name}: nothing is left behind: {:?}",
                    self.files()
                );
                assert_eq!(self.uploads.used_bytes(), 0, "{name}: its bytes are given back");
                assert!(self.cache.list(session).is_empty(), "{name}: no handle");
                err
            }
            other => panic!("{name}: expected an ingest error, got {other:?}"),
        }
    }
}

pub fn parquet_bytes(frame: &mut DataFrame) -> Vec<u8> {
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(frame).expect("parquet");
    out
}

pub fn ipc_bytes(frame: &mut DataFrame) -> Vec<u8> {
    let mut out = Vec::new();
    IpcWriter::new(&mut out).finish(frame).expect("ipc");
    out
}

pub fn sample() -> DataFrame {
    df!("city" => ["Oslo", "Rome", "Lima"], "temp" => [4.5, 18.0, 22.1], "n" => [1i64, 2, 3]).expect("frame")
}
