//! A log rewrite whose directory fsync fails must not leave commits going to the replaced file (R10-4 in
//! RELIABILITY.md).
//!
//! A rewrite (the truncation that copies the live tail into `<log>.tmp`) renames the new file over the log, then
//! fsyncs the directory, then switches the log's file handle to the new file. When the directory fsync failed,
//! `rewrite` returned the error *before* the switch and without failing the log: the log went on appending and
//! committing through its handle of the old file, which the rename had already unlinked. Those commits returned
//! `Ok`, fsynced into an inode no name leads to; the reopened log (the new file) did not have them.
//!
//! The fault is real: this test (alone in its binary, so no other test opens files meanwhile) lowers the soft
//! limit on open files so that exactly one more can be opened: the rewrite's `<log>.tmp` gets it, and the
//! directory it then opens to fsync fails with EMFILE, as a directory fsync fails on a device error.

mod common;

use bufpool_btree::TreeWal;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Appends `n` records of 300-byte values from page `first`; returns their ends, or the first error.
fn try_append(wal: &TreeWal, first: u32, n: u32) -> bufpool_btree::Result<Vec<u64>> {
    common::append_puts(wal, first, n, 300, 7)
}

fn append(wal: &TreeWal, first: u32, n: u32) -> Vec<u64> {
    try_append(wal, first, n).unwrap()
}

#[test]
fn a_commit_after_a_rewrite_whose_directory_fsync_failed_is_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    // A tail under 1/8 of the file: with a rewrite bound of 0, the cut rewrites.
    append(&wal, 0, 100);
    let redo = wal.begin_checkpoint();
    let mut committed = append(&wal, 100, 5);
    wal.commit().unwrap();
    wal.set_rewrite_len(0);

    // Exactly one more file may be opened: the lowest free descriptor is the last one allowed.
    let lowest_free = {
        use std::os::fd::AsRawFd;
        std::fs::File::open("/dev/null").unwrap().as_raw_fd()
    };
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(lowest_free as u64 + 1),
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let cut = wal.truncate_before(redo);
    setrlimit(Resource::Nofile, limit).unwrap();
    let err = cut.expect_err("the directory fsync cannot open the directory");
    assert!(err.to_string().contains("directory"), "{err}");
    assert_eq!(wal.rewrites(), 0, "the rewrite did not finish");

    // Whatever the log does now, a commit it acknowledges must survive a reopen.
    if let Ok(more) = try_append(&wal, 200, 3) {
        if wal.commit().is_ok() {
            committed.extend(more);
        }
    }
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    let seen = common::record_ends(&wal);
    for end in committed {
        assert!(
            seen.contains(&end),
            "a commit acknowledged up to LSN {end} is lost after a reopen"
        );
    }
}
