//! A record given to [`TreeWal::append`] must be one the log can read back, or be refused (R14-1 in
//! RELIABILITY.md). What a user saw before the fix: a layer above the trees (a transaction log, as the
//! covered changes ask for: one record per run of puts) appended a record of more than 65,535 ops, a key longer
//! than 65,535 bytes, more than 16 MiB in all, or a `Patch` whose edits do not fit its length; the append and the
//! commit after it returned `Ok`, and the next `TreeWal::open` stopped reading at that record, took it for a torn
//! tail and cut the file there: that record and every commit acknowledged after it were gone.

use crate::common;

use bufpool_btree::{Error, Op, TreeWal, RECORD_MAX};

/// A record that `what` says is unreadable, appended between two committed records; then a reopen.
fn survives(what: &str, bad: &[Op<'_>]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    let small = |wal: &TreeWal, key: &[u8]| {
        let end = wal.append(&[Op::Del { page: 1, key }]).unwrap();
        wal.commit().unwrap();
        end
    };
    let before = small(&wal, b"before");
    let appended = wal.append(bad);
    wal.commit().unwrap();
    let after = small(&wal, b"after");
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    let mut committed = vec![before];
    committed.extend(appended.as_ref().ok());
    committed.push(after);
    assert_eq!(
        common::record_ends(&wal),
        committed,
        "{what}: every committed record is read back after a reopen"
    );
    assert!(
        matches!(appended, Err(Error::BadRecord(_))),
        "{what}: refused as a record the log cannot read back: {appended:?}"
    );
    // The log goes on after the refusal: it is not failed.
    small(&wal, b"later");
}

#[test]
fn a_record_the_log_cannot_read_back_is_refused_and_loses_no_commit() {
    let key_too_long = vec![b'k'; usize::from(u16::MAX) + 1];
    survives(
        "a key of 65,536 bytes",
        &[Op::Put {
            page: 1,
            key: &key_too_long,
            val: b"v",
        }],
    );
    survives(
        "a deleted key of 65,536 bytes",
        &[Op::Del {
            page: 1,
            key: &key_too_long,
        }],
    );
    let ops = vec![Op::Del { page: 1, key: b"k" }; usize::from(u16::MAX) + 1];
    survives("65,536 ops", &ops);
    let val = vec![7u8; RECORD_MAX];
    survives(
        "a record over RECORD_MAX bytes",
        &[Op::Put {
            page: 1,
            key: b"k",
            val: &val,
        }],
    );
    survives(
        "a patch whose edits do not fit its value",
        &[Op::Patch {
            page: 1,
            key: b"k",
            len: 4,
            edits: &[0, 0, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        }],
    );
}

#[test]
fn the_largest_records_the_log_reads_back_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    let key = vec![b'k'; usize::from(u16::MAX)];
    let mut ends = vec![wal
        .append(&[Op::Put {
            page: 1,
            key: &key,
            val: b"v",
        }])
        .unwrap()];
    let ops = vec![Op::Del { page: 1, key: b"k" }; usize::from(u16::MAX)];
    ends.push(wal.append(&ops).unwrap());
    // Header (16 bytes), op count (2), and a put's tag, page, key and value lengths (11) and key (1).
    let val = vec![7u8; RECORD_MAX - 16 - 2 - 11 - 1];
    ends.push(
        wal.append(&[Op::Put {
            page: 1,
            key: b"k",
            val: &val,
        }])
        .unwrap(),
    );
    wal.commit().unwrap();
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    assert_eq!(common::record_ends(&wal), ends);
}
