//! One file storage shared through an `Arc` and handed to two logs (R41-3 in RELIABILITY.md). `TreeWal::open_storage`
//! takes the storage's lock (R13-O2) and refuses a log another opener holds; but `flock` grants the lock again
//! through the descriptor that holds it, so a second log over the same `Arc` opened too (its docs asked the caller
//! not to), and both appended over one file: the second log's records at the offsets of the first's, the first
//! one's commits gone from the file. Now a `FileStorage` holds its lock for one opener: the second log is refused
//! `FileLocked` ("the log storage") before it reads or writes anything, and so is a pool's open of the storage a
//! log has; the lock is given back when the log is dropped.

use std::sync::Arc;

use bufpool::{FileStorage, OpenMode};
use bufpool_btree::{BufferPool, Error, Op, OwnedOp, TreeWal};

#[test]
fn a_file_storage_shared_by_two_logs_is_opened_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.wal");
    let storage = Arc::new(FileStorage::open(&path, OpenMode::Buffered).unwrap());
    let first = TreeWal::open_storage(storage.clone()).unwrap();
    first
        .append(&[Op::Put {
            page: 1,
            key: b"a",
            val: b"1",
        }])
        .unwrap();
    first.commit().unwrap();
    match TreeWal::open_storage(storage.clone()) {
        Err(Error::Pool(bufpool::Error::FileLocked { path })) => assert_eq!(path.to_str(), Some("the log storage")),
        Ok(second) => {
            second
                .append(&[Op::Put {
                    page: 2,
                    key: b"b",
                    val: b"2",
                }])
                .unwrap();
            second.commit().unwrap();
            first
                .append(&[Op::Put {
                    page: 3,
                    key: b"c",
                    val: b"3",
                }])
                .unwrap();
            first.commit().unwrap();
            drop((first, second, storage));
            panic!(
                "a second log opened the storage the first has open; after the second committed key b and the \
                 first key c, the file's records hold keys {:?} (a, b and c were committed)",
                keys(&TreeWal::open_storage(FileStorage::open(&path, OpenMode::Buffered).unwrap()).unwrap())
            );
        }
        Err(e) => panic!("expected FileLocked, got {e:?}"),
    }
    // Nor may a pool take it as a data file while the log has it (the pool's wait for the lock, then refused).
    let pool = BufferPool::builder().frames(8).build().unwrap();
    assert!(matches!(
        pool.open_storage(storage.clone()),
        Err(bufpool::Error::FileLocked { .. })
    ));
    // The first log's record is whole; dropped, the log gives its lock back and the storage opens again (a clone
    // alive) with that record.
    assert_eq!(records(&first), 1);
    drop(first);
    assert_eq!(records(&TreeWal::open_storage(storage.clone()).unwrap()), 1);
}

fn records(log: &TreeWal) -> usize {
    keys(log).len()
}

/// The key of each record's `Put`, in log order.
fn keys(log: &TreeWal) -> Vec<String> {
    let mut keys = Vec::new();
    log.scan(|_, ops| {
        for op in ops {
            if let OwnedOp::Put(_, key, _) = op {
                keys.push(String::from_utf8_lossy(&key).into_owned());
            }
        }
        Ok(())
    })
    .unwrap();
    keys
}
