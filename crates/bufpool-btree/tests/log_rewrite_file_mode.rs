//! A log's rewrite keeps the log file's permissions (R30-3 in RELIABILITY.md). The rewrite (`wal.rs`, "Truncation":
//! the live tail copied into `<name>.tmp`, renamed over the log) made its new file with the default mode, 0666
//! less the process's umask: a log an operator had made readable by its owner only (its keys and values are the
//! tree's data) became readable by every user at the first checkpoint that rewrote it, and one the operator's
//! group was to write could no longer be written by it.

use std::os::unix::fs::PermissionsExt;

use bufpool_btree::TreeWal;

use crate::common;

/// The log at `path`, made with `mode`, rewritten by a checkpoint's cut: its mode after the rewrite.
fn mode_after_a_rewrite(mode: u32) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wal");
    let wal = TreeWal::open(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    common::append_puts(&wal, 0, 100, 300, 7).unwrap();
    let redo = wal.begin_checkpoint();
    common::append_puts(&wal, 100, 5, 300, 7).unwrap();
    wal.commit().unwrap();
    // A tail under 1/8 of the file: with a rewrite bound of 0, the cut rewrites.
    wal.set_rewrite_len(0);
    wal.truncate_before(redo).unwrap();
    assert_eq!(wal.rewrites(), 1, "the cut did not rewrite the log");
    std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_rewrite_keeps_a_log_readable_by_its_owner_only() {
    assert_eq!(
        mode_after_a_rewrite(0o600),
        0o600,
        "the rewritten log is readable by others"
    );
}

#[test]
fn a_rewrite_keeps_group_permissions_the_umask_would_take_away() {
    assert_eq!(mode_after_a_rewrite(0o660), 0o660);
    assert_eq!(mode_after_a_rewrite(0o640), 0o640);
}
