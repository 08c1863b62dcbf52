//! The disk tier on a shared machine: it removes only what it wrote, never follows a
//! link, keeps its files private, reserves its budget before writing, and a write whose
//! request goes away leaves nothing behind. Against the real disk.

mod common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{files_in, frame_of_mib, MIB};
use stayput_cache::{ByteSize, CacheError, ColdTier, DiskTier, FrameKey, SessionKey};

fn key(n: u128) -> FrameKey {
    FrameKey {
        session: SessionKey::random(),
        id: uuid::Uuid::from_u128(n),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_directory_and_files_are_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = dir.path().join("frames");
    std::fs::create_dir_all(&frames).expect("mkdir");
    std::fs::set_permissions(&frames, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let tier = DiskTier::open(dir.path(), ByteSize(64 * MIB)).expect("open");
    assert_eq!(mode(&frames), 0o700, "an existing directory is made private");
    tier.store(key(1), Arc::new(frame_of_mib(1, 0)))
        .await
        .expect("stored");
    let file = files_in(dir.path()).pop().expect("one file");
    assert_eq!(mode(&frames.join(file)), 0o600);
}

#[tokio::test]
async fn start_up_removes_only_its_own_names_and_follows_no_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("precious.arrow");
    std::fs::write(&victim, b"not the cache's").expect("write");
    {
        let tier = DiskTier::open(dir.path(), ByteSize(64 * MIB)).expect("open");
        tier.store(key(1), Arc::new(frame_of_mib(1, 0)))
            .await
            .expect("stored");
    }
    let frames = dir.path().join("frames");
    let ours_tmp = format!("{}-{}.arrow.tmp", "a".repeat(32), "b".repeat(32));
    std::fs::write(frames.join(&ours_tmp), b"half").expect("write");
    std::fs::write(frames.join("notes.txt"), b"someone else's").expect("write");
    std::fs::create_dir(frames.join("sub")).expect("mkdir");
    let link_name = format!("{}-{}.arrow", "c".repeat(32), "d".repeat(32));
    symlink(&victim, frames.join(&link_name)).expect("symlink");
    symlink(outside.path(), frames.join("elsewhere")).expect("symlink");

    let _tier = DiskTier::open(dir.path(), ByteSize(64 * MIB)).expect("reopen");
    assert_eq!(files_in(dir.path()), ["elsewhere", "notes.txt", "sub"]);
    assert_eq!(
        std::fs::read(&victim).expect("still there"),
        b"not the cache's",
        "a link's target is never touched"
    );
}

#[test]
fn a_linked_frames_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    symlink(outside.path(), dir.path().join("frames")).expect("symlink");
    let err = DiskTier::open(dir.path(), ByteSize(MIB)).err().expect("refused");
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_never_overshoot_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room for three 4 MiB files; eight are written at once.
    let tier = Arc::new(DiskTier::open(dir.path(), ByteSize(13 * MIB)).expect("open"));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let frames = dir.path().join("frames");
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut most = 0_u64;
            for _ in 0..10_000 {
                let on_disk: u64 = std::fs::read_dir(&frames)
                    .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
                    .unwrap_or(0);
                most = most.max(on_disk);
                if done.load(Ordering::Acquire) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            most
        })
    };
    let mut writers = Vec::new();
    for n in 0..8 {
        let tier = Arc::clone(&tier);
        writers.push(tokio::spawn(async move {
            tier.store(key(n), Arc::new(frame_of_mib(4, n as u64))).await
        }));
    }
    let mut stored = 0;
    for writer in writers {
        match writer.await.expect("joined") {
            Ok(_) => stored += 1,
            Err(CacheError::Busy) => {} // the room was held by writes in progress
            Err(err) => panic!("{err:?}"),
        }
    }
    done.store(true, Ordering::Release);
    assert!(stored >= 3, "{stored} stored");
    let usage = tier.usage();
    assert!(usage.bytes <= 13 * MIB, "{usage:?}");
    assert!(usage.entries <= 3, "{usage:?}");
    let most = watcher.await.expect("watcher");
    assert!(most <= 13 * MIB, "at most the budget on disk at any time: {most}");
}

#[tokio::test]
async fn a_frame_larger_than_the_budget_is_refused_before_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = DiskTier::open(dir.path(), ByteSize(2 * MIB)).expect("open");
    let err = tier
        .store(key(1), Arc::new(frame_of_mib(8, 0)))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            CacheError::TooLarge {
                limit: stayput_cache::Limit::DiskBudget,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_request_goes_away_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tier = Arc::new(DiskTier::open(dir.path(), ByteSize(600 * MIB)).expect("open"));
    let frames = dir.path().join("frames");
    for (n, wait_ms) in [(1_u128, 0_u64), (2, 5), (3, 50)] {
        let frame = Arc::new(frame_of_mib(256, 1));
        let store = {
            let tier = Arc::clone(&tier);
            tokio::spawn(async move { tier.store(key(n), frame).await })
        };
        // Cancel at various points of the write: before it starts, during it.
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        store.abort();
        let _ = store.await;
        // The blocking writer notices at its next write call and removes its file: wait
        // until the directory has stayed empty for 300 ms (the writer may start late).
        let mut empty_since = None;
        for _ in 0..1_000 {
            let left = files_in(dir.path());
            match (left.is_empty(), empty_since) {
                (false, _) => empty_since = None,
                (true, None) => empty_since = Some(std::time::Instant::now()),
                (true, Some(since)) if since.elapsed() > Duration::from_millis(300) => break,
                (true, Some(_)) => {}
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = files_in(dir.path());
        assert!(left.is_empty(), "cancelled after {wait_ms} ms: {left:?}");
        let usage = tier.usage();
        assert_eq!((usage.entries, usage.bytes), (0, 0));
    }
    assert!(std::fs::read_dir(&frames).expect("dir").next().is_none());
    // The budget reserved for the cancelled writes (3 × 256 MiB) came back.
    tier.store(key(9), Arc::new(frame_of_mib(512, 2)))
        .await
        .expect("the whole budget is free again");
}
