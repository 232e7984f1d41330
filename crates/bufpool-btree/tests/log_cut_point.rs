//! A cut of a log ([`TreeWal::truncate_before`]) at an LSN the log never gave must be refused, not made (R40-20
//! in RELIABILITY.md). What a layer above the trees (a transaction log of its own, as the covered changes ask
//! for) saw before the fix: `truncate_before(redo)` with `redo` past the log's end, or inside a record, returned
//! `Ok` and wrote a header slot naming `redo` as the log's start. Every record appended after it was then
//! unreadable (a scan from `redo` finds no record there: past the end, zeros; inside a record, a torn one), so
//! each commit returned `Ok` for records that neither the next `scan` nor the next open read back; the open cut
//! them off as a torn tail. On a bounded log (`open_storage_with_capacity`) a cut past the end panicked
//! instead (`attempt to subtract with overflow` in `cut_before`), in release a wrapped length. An LSN the log
//! gave (a record's end from `append`, `end_lsn`, `begin_checkpoint`) is always where a record starts or the
//! end; the fix refuses any other with [`Error::Log`], nothing cut.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use crate::common;

use bufpool::MemoryStorage;
use bufpool_btree::{Error, Op, TreeWal};

/// The three kinds of log a caller can open, each reopenable over what it wrote.
#[derive(Clone, Copy, Debug)]
enum Kind {
    File,
    Storage,
    Bounded,
}

fn open(kind: Kind, dir: &Path, storage: &Arc<MemoryStorage>) -> Arc<TreeWal> {
    match kind {
        Kind::File => TreeWal::open(dir.join("log")).unwrap(),
        Kind::Storage => TreeWal::open_storage(storage.clone()).unwrap(),
        Kind::Bounded => TreeWal::open_storage_with_capacity(storage.clone(), 1 << 22).unwrap(),
    }
}

/// Appends `n` records, one `Put` of 100 bytes each; returns their ends.
fn append(wal: &TreeWal, n: usize) -> Vec<u64> {
    let val = [7u8; 100];
    (0..n)
        .map(|_| {
            wal.append(&[Op::Put {
                page: 1,
                key: b"k",
                val: &val,
            }])
            .unwrap()
        })
        .collect()
}

/// `truncate_before(redo)`, its panic turned into a message.
fn cut(wal: &TreeWal, redo: u64) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| wal.truncate_before(redo))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:?}")),
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or(panic.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )),
    }
}

#[test]
fn a_cut_at_an_lsn_the_log_never_gave_is_refused_and_loses_nothing() {
    for kind in [Kind::File, Kind::Storage, Kind::Bounded] {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(MemoryStorage::new());
        let wal = open(kind, dir.path(), &storage);
        let mut ends = append(&wal, 10);
        wal.commit().unwrap();
        // Three more in the log's buffer, not yet written: a cut point among them is checked there.
        ends.extend(append(&wal, 3));
        let end = wal.end_lsn();
        assert_eq!(ends.last(), Some(&end));
        for redo in [
            end + 1,
            end + 10_000,
            u64::MAX,
            end - 5,
            ends[4] + 1,
            ends[10] + 3,
            ends[11] - 1,
        ] {
            let r = cut(&wal, redo);
            assert!(
                matches!(&r, Err(e) if e.starts_with("Log(")),
                "{kind:?}: truncate_before({redo}), an LSN the log never gave (records end at {ends:?}), was not \
                refused with Error::Log: {r:?}"
            );
        }
        ends.extend(append(&wal, 10));
        wal.commit().unwrap();
        assert_eq!(
            common::record_ends(&wal),
            ends,
            "{kind:?}: every record is read back after the refused cuts"
        );
        drop(wal);
        let wal = open(kind, dir.path(), &storage);
        assert_eq!(
            common::record_ends(&wal),
            ends,
            "{kind:?}: every committed record is read back after a reopen"
        );
        // Cuts at LSNs the log gave still work: a record's end on the device, one in the buffer, and the end.
        wal.truncate_before(ends[4]).unwrap();
        assert_eq!(
            common::record_ends(&wal),
            ends[5..],
            "{kind:?}: the cut kept the records after it"
        );
        let more = append(&wal, 3);
        wal.truncate_before(more[1]).unwrap();
        assert_eq!(common::record_ends(&wal), more[2..], "{kind:?}: a cut in the buffer");
        let end = wal.end_lsn();
        wal.truncate_before(end).unwrap();
        assert!(common::record_ends(&wal).is_empty(), "{kind:?}: a cut at the end");
        let last = append(&wal, 2);
        wal.commit().unwrap();
        drop(wal);
        let wal = open(kind, dir.path(), &storage);
        assert_eq!(common::record_ends(&wal), last, "{kind:?}: reopened after the cuts");
        // A cut at or before the start is no cut, as before.
        wal.truncate_before(0).unwrap();
        assert_eq!(common::record_ends(&wal), last, "{kind:?}: a cut before the start");
        assert!(
            matches!(wal.truncate_before(last[0] + 1), Err(Error::Log(_))),
            "{kind:?}"
        );
    }
}
