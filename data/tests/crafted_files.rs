//! Issue 23's crafted files through the real upload path and the real disk: each hostile
//! one refused by what its metadata declares, before polars reads it, with nothing left
//! behind; the same shape at an honest size read as usual (so the checks do not refuse
//! what they should take).

use std::time::Duration;

use stayput_cache::{FrameCache, SessionKey};
use stayput_data::{IngestError, Uploads, MAX_DEPTH};

#[path = "../../cache/tests/common/mod.rs"]
mod common;
#[path = "files/mod.rs"]
mod crafted;
use common::{config, MIB};

struct Setup {
    cache: FrameCache,
    uploads: Uploads,
    dir: tempfile::TempDir,
}

/// A 2 GiB memory budget and session quota, as in the issue.
fn setup() -> Setup {
    setup_pieces(None)
}

/// [`setup`], a large CSV parsed while it arrives in pieces of `piece` bytes (`Some(0)`:
/// every upload read whole once complete).
fn setup_pieces(piece: Option<usize>) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let uploads = Uploads::open(&dir.path().join("uploads"), 64 * MIB, 256 * MIB).expect("uploads");
    let uploads = match piece {
        Some(bytes) => uploads.with_parse_piece(bytes),
        None => uploads,
    };
    let cache = uploads
        .wire(FrameCache::builder(config(2048, 2048, Duration::from_secs(600))))
        .build();
    Setup { cache, uploads, dir }
}

impl Setup {
    async fn upload(
        &self,
        session: SessionKey,
        name: &str,
        bytes: &[u8],
    ) -> Result<stayput_cache::FrameHandle, IngestError> {
        let mut incoming = self.uploads.incoming(session, name)?;
        for part in bytes.chunks(1 << 16) {
            incoming.write(part)?;
        }
        self.uploads.ingest(&self.cache, session, incoming).await
    }

    /// The refusal of `bytes`, after checking that nothing stayed: no file, no bytes
    /// counted, no handle, no memory reserved.
    async fn refused(&self, name: &str, bytes: &[u8]) -> IngestError {
        let session = SessionKey::random();
        let err = match self.upload(session, name, bytes).await {
            Err(err) if !matches!(err, IngestError::Cache(_)) => err,
            other => panic!("{name}: expected an ingest error, got {other:?}"),
        };
        let left = std::fs::read_dir(self.dir.path().join("uploads"))
            .expect("dir")
            .count();
        assert_eq!(left, 0, "{name}: nothing is left on disk");
        assert_eq!(
            self.uploads.used_bytes(),
            0,
            "{name}: its disk bytes are given back"
        );
        assert!(self.cache.list(session).is_empty(), "{name}: no handle");
        assert_eq!(self.cache.reserved_bytes(), 0, "{name}: no memory stays reserved");
        err
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrow_file_whose_zstd_buffers_declare_gigabytes_is_refused_unread() {
    let s = setup();
    // 6 batches of 2^27 zeros: ~200 KB declaring 6 GiB (it took 12.3 GiB and hung the server).
    let bomb = crafted::ipc_zeros_zstd(6, 1 << 27);
    assert!(bomb.len() < 400_000, "{} bytes", bomb.len());
    let err = s.refused("zeros.arrow", &bomb).await;
    assert!(
        matches!(err, IngestError::Expands { format: "Arrow IPC", max: 1_000, bytes } if bytes >= 6 << 30),
        "{err:?}"
    );
    assert!(err.to_string().contains("1000× its size"), "{err}");
    // The same shape, honest and uncompressed, is read.
    let session = SessionKey::random();
    let handle = s
        .upload(session, "plain.arrow", &crafted::ipc_plain(1_000))
        .await
        .expect("honest file");
    assert_eq!((handle.rows, handle.cols), (1_000, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrow_schema_nested_deeper_than_the_limit_is_refused_without_recursion() {
    let s = setup();
    // 5,000 lists deep: polars' recursive walk overflowed the blocking pool's stack (an abort).
    let deep = crafted::ipc_deep(5_000);
    let err = s.refused("deep.arrow", &deep).await;
    assert_eq!(
        err,
        IngestError::TooDeep {
            format: "Arrow IPC",
            max: MAX_DEPTH
        }
    );
    // At the limit it is read (by polars: a well-formed file of no rows), one past it not.
    let at_limit = s
        .refused("at-limit.arrow", &crafted::ipc_deep(MAX_DEPTH - 1))
        .await;
    assert_eq!(
        at_limit,
        IngestError::NoRows,
        "read by polars, not refused by the check"
    );
    let past = s.refused("past.arrow", &crafted::ipc_deep(MAX_DEPTH)).await;
    assert!(matches!(past, IngestError::TooDeep { .. }), "{past:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_list_of_repeated_values_is_sized_by_its_pages_not_its_bytes() {
    let s = setup();
    // One row, a list of 2^27 equal values: ~650 bytes on disk, 1 GiB and more in memory.
    let bomb = crafted::parquet_list(1 << 27);
    assert!(bomb.len() < 1_000, "{} bytes", bomb.len());
    let err = s.refused("list.parquet", &bomb).await;
    assert!(
        matches!(err, IngestError::Expands { format: "Parquet", bytes, .. } if bytes >= 1 << 30),
        "{err:?}"
    );
    // The same file with a list of 1,000 is read: one row, one list column.
    let session = SessionKey::random();
    let handle = s
        .upload(session, "small-list.parquet", &crafted::parquet_list(1_000))
        .await
        .expect("honest file");
    assert_eq!((handle.rows, handle.cols), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_that_points_outside_the_file_is_damaged_not_believed() {
    let s = setup();
    // Cut the honest files anywhere in their metadata: each is refused with a message,
    // never read past its end, and leaves nothing.
    for (name, bytes) in [
        ("cut.arrow", crafted::ipc_plain(100)),
        ("cut.parquet", crafted::parquet_list(100)),
    ] {
        for keep in [bytes.len() - 1, bytes.len() - 9, bytes.len() / 2, 16] {
            let mut cut = bytes[..keep].to_vec();
            // Keep the tail magic so the reader trusts the footer length, then lies.
            cut.extend_from_slice(&bytes[bytes.len() - 10..]);
            let err = s.refused(name, &cut).await;
            assert!(
                matches!(err, IngestError::Damaged { .. } | IngestError::Truncated(_)),
                "{name} cut at {keep}: {err:?}"
            );
        }
    }
}

/// A client that hangs up mid-parse (issue 23: 40 of them took the server past its
/// budget): the parse runs on in the blocking pool, so its memory stays reserved until
/// the parse ends, not until the request goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parse_whose_client_hung_up_keeps_its_memory_reserved_until_it_ends() {
    // Read whole once complete: parsed while it arrived, the file has no parse left to
    // run when the request goes away (`stream_parse.rs` tests an upload that goes away
    // mid-parse).
    let s = setup_pieces(Some(0));
    let mut text = String::from("a,b,c,d,e,f,g,h\n");
    for i in 0..300_000u32 {
        text.push_str(&format!("{i},{i}.5,x{i},{i},{i},{i},{i},{i}\n"));
    }
    let session = SessionKey::random();
    let mut incoming = s.uploads.incoming(session, "big.csv").expect("incoming");
    for part in text.as_bytes().chunks(1 << 16) {
        incoming.write(part).expect("write");
    }
    let cache = s.cache.clone();
    let uploads = s.uploads.clone();
    let request = tokio::spawn(async move { uploads.ingest(&cache, session, incoming).await });
    // The request has reserved its memory and started parsing; then it goes away.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while s.cache.reserved_bytes() == 0 {
        assert!(std::time::Instant::now() < deadline, "the ingest never reserved");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    request.abort();
    let _ = request.await;
    assert!(
        s.cache.reserved_bytes() > 0,
        "the parse still runs, so its memory is still reserved"
    );
    while s.cache.reserved_bytes() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reservation was never given back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
