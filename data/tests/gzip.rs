//! gzip'd uploads through the real disk: unpacked as they arrive into the same frames as
//! the files inside them, a gzip bomb refused at its ratio, and a stream cut short or
//! damaged refused with nothing left behind.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use stayput_cache::SessionKey;
use stayput_data::{IngestError, GZIP_SLACK, MAX_GZIP_RATIO};

#[path = "../../cache/tests/common/mod.rs"]
mod common;
mod uploading;
use common::MIB;
use uploading::{parquet_bytes, sample, setup, setup_with};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipd_file_becomes_the_same_frame_as_the_file_inside_it() {
    let s = setup();
    let session = SessionKey::random();
    let weather =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/examples/seattle-weather.csv"))
            .expect("run scripts/setup: it installs the examples");
    let tsv = b"a\tb\n1\tx\n2\ty\n3\tz\n";
    // Two gzip members one after the other (as `cat a.gz b.gz` makes): one file.
    let mut members = gzip(b"n,name\n1,one\n");
    members.extend(gzip(b"2,two\n3,three\n"));
    let cases: Vec<(&str, Vec<u8>, usize, u64, u64)> = vec![
        ("seattle-weather.csv.gz", gzip(&weather), 1, 1_461, 6),
        ("seattle-weather.csv.gz", gzip(&weather), 64 << 10, 1_461, 6),
        ("t.tsv.gz", gzip(tsv), 3, 3, 2),
        ("download", gzip(tsv), 5, 3, 2),
        ("members.csv.gz", members, 7, 3, 2),
        ("s.parquet.gz", gzip(&parquet_bytes(&mut sample())), 100, 3, 3),
    ];
    for (name, bytes, chunk, rows, cols) in cases {
        let handle = s
            .upload(session, name, &bytes, chunk)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((handle.rows, handle.cols), (rows, cols), "{name}");
        let frame = s.cache.get(session, &handle).await.expect("read");
        assert_eq!(frame.height() as u64, rows, "{name}");
    }
    // The unpacked file is what is kept (as Arrow IPC for text), counted in the budget.
    assert_eq!(s.files().len(), 6);
    assert!(s.uploads.used_bytes() > weather.len() as u64);
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_at_its_ratio_with_nothing_left() {
    let s = setup_with(1 << 30, 64);
    // 32 MiB of one repeated line unpack from about 32 KiB: ~1,000×.
    let line = b"0,0,0,0,0,0,0\n";
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(b"a,b,c,d,e,f,g\n").expect("gzip");
    for _ in 0..(32 * MIB as usize / line.len()) {
        encoder.write_all(line).expect("gzip");
    }
    let bomb = encoder.finish().expect("gzip");
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let err = s.fails("bomb.csv.gz", &bomb).await;
    assert_eq!(err, IngestError::Inflates { max: MAX_GZIP_RATIO });
    assert!(err.to_string().contains("gzip bomb"), "{err}");

    // Refused as it arrives, not at its end: the first chunks alone are refused.
    let session = SessionKey::random();
    let mut incoming = s.uploads.incoming(session, "bomb.csv.gz").expect("incoming");
    let mut sent = 0u64;
    let refused = bomb.chunks(1 << 10).find_map(|part| {
        sent += part.len() as u64;
        incoming.write(part).err()
    });
    assert_eq!(refused, Some(IngestError::Inflates { max: MAX_GZIP_RATIO }));
    assert!(
        sent < bomb.len() as u64 / 2,
        "refused after {sent} of {} bytes",
        bomb.len()
    );
    assert!(incoming.bytes() <= sent * MAX_GZIP_RATIO + GZIP_SLACK + (4 << 20));
    drop(incoming);
    assert!(s.files().is_empty(), "{:?}", s.files());
    assert_eq!(s.uploads.used_bytes(), 0);
}

#[tokio::test]
async fn unpacked_bytes_count_against_the_upload_limit() {
    // Text that unpacks 20×: under the ratio, over a 1 MiB limit unpacked.
    let s = setup_with(MIB, 64);
    let mut text = String::from("id,word\n");
    let mut i = 0u64;
    while text.len() < 3 * MIB as usize {
        text.push_str(&format!("{},word{}\n", i % 1000, i % 7));
        i += 1;
    }
    let packed = gzip(text.as_bytes());
    assert!((packed.len() as u64) < MIB);
    let err = s.fails("big.csv.gz", &packed).await;
    assert!(
        matches!(err, IngestError::TooLarge { max_bytes, .. } if max_bytes == MIB),
        "{err}"
    );
}

#[tokio::test]
async fn a_gzip_stream_cut_short_or_damaged_is_refused() {
    let s = setup();
    let whole = gzip(b"a,b\n1,2\n3,4\n5,6\n");
    let cut = s.fails("cut.csv.gz", &whole[..whole.len() - 12]).await;
    assert_eq!(cut, IngestError::Truncated("gzip"));
    // Cut inside its checksum: the checksum cannot match.
    let cut = s.fails("cut.csv.gz", &whole[..whole.len() - 6]).await;
    assert!(
        matches!(cut, IngestError::Damaged { format: "gzip", .. }),
        "{cut}"
    );
    let header_only = s.fails("header.csv.gz", &whole[..10]).await;
    assert_eq!(header_only, IngestError::Truncated("gzip"));
    let mut damaged = whole.clone();
    for byte in &mut damaged[10..14] {
        *byte ^= 0xff;
    }
    let err = s.fails("damaged.csv.gz", &damaged).await;
    assert!(
        matches!(
            err,
            IngestError::Damaged { format: "gzip", .. } | IngestError::Truncated("gzip")
        ),
        "{err}"
    );
    // The checksum at its end is checked: one that does not match is not let through.
    let mut flipped = whole.clone();
    let at = whole.len() - 7;
    flipped[at] ^= 0x01;
    let flipped = s.fails("flipped.csv.gz", &flipped).await;
    assert!(matches!(flipped, IngestError::Damaged { .. }), "{flipped}");
    // What the name says is checked against the bytes both ways.
    let err = s.fails("plain.csv.gz", b"a,b\n1,2\n").await;
    assert!(
        err.to_string().contains("named as gzip but its content is text"),
        "{err}"
    );
    let err = s.fails("packed.csv", &whole).await;
    assert!(
        err.to_string().contains("named as CSV but its content is gzip"),
        "{err}"
    );
    // gzip inside gzip and zip are still for the user to unpack.
    let err = s.fails("twice.csv.gz", &gzip(&whole)).await;
    assert!(matches!(err, IngestError::Compressed(_)), "{err}");
    // One byte: not gzip, and a one-byte CSV has no rows.
    let one = s.upload(SessionKey::random(), "one.csv", b"a", 1).await;
    assert!(matches!(one, Err(IngestError::NoRows)), "{one:?}");
}
