//! R13-1 (RELIABILITY.md): a second opener of a tree's log while its tree lives (a second process started on the
//! same directory, or `Ours::open` again before the old engine is dropped, which the TPC-C engine's error text
//! after a failed commit invites: "reopen the engine") cut the live log, and the tree then lost commits it had
//! acknowledged as durable.
//!
//! The story: `TreeWal::open` scans the log for the end of its valid records and cuts the file there ("a torn
//! tail"), without a lock. The data file is `flock`ed by the pool, so the second opener fails, but only at
//! `Tree::open`, after its log's open has cut: a record the live tree appended (and fsynced, and acknowledged)
//! between the second opener's scan and its cut was cut off the file, and the live tree's next record went past
//! the hole; recovery stops at the hole, losing every commit from the cut record on.

use bufpool_btree::{open_dir, Error, Options, TreeWal, WAL_FILE};

fn key(i: u32) -> [u8; 8] {
    [
        b'k',
        b'e',
        b'y',
        0,
        (i >> 24) as u8,
        (i >> 16) as u8,
        (i >> 8) as u8,
        i as u8,
    ]
}

const OPTS: Options = Options {
    frames: 256,
    page_size: 4096,
};

/// A log opened by a live tree is refused to a second opener, `FileLocked` naming the log (it was opened and
/// cut); once the tree is dropped it opens.
#[test]
fn a_second_open_of_a_live_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_dir(dir.path(), OPTS).unwrap();
    tree.put(b"a", b"1").unwrap();
    tree.commit().unwrap();
    let locked = |r: Result<_, Error>| match r {
        Err(Error::Pool(bufpool::Error::FileLocked { path })) => assert!(path.ends_with(WAL_FILE), "{path:?}"),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("opened"),
    };
    locked(TreeWal::open(dir.path().join(WAL_FILE)).map(drop));
    // A second tree on the same directory: refused at its log, before anything is touched.
    locked(open_dir(dir.path(), OPTS).map(drop));
    drop(tree);
    let tree = open_dir(dir.path(), OPTS).unwrap();
    assert_eq!(tree.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

/// The harm: a tree commits key after key while another thread opens its log again and again (each open fails
/// or is dropped at once, as the second engine's did); after a restart every acknowledged commit is there.
/// Before R13-1 the opens cut records out of the live log: commits went missing after the restart (or the
/// recovery stopped at the hole). The loss depends on timing (a cut between an open's scan and its end), so a
/// run without the fix loses commits in most runs, not all; with it the opens are refused and nothing is cut.
#[test]
fn opening_a_live_log_again_loses_no_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::env::var("BUFPOOL_LOG_TWICE_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000u32);
    {
        let tree = open_dir(dir.path(), OPTS).unwrap();
        // A log of some length first, so an open's scan takes a while.
        for i in 0..20_000 {
            tree.put(&key(i), &[7; 40]).unwrap();
        }
        tree.commit().unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    drop(TreeWal::open(dir.path().join(WAL_FILE)));
                }
            });
            for i in 20_000..20_000 + n {
                tree.put(&key(i), &[9; 40]).unwrap();
                tree.commit().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        // Dropped without a checkpoint: the restart recovers from the log.
    }
    let tree = open_dir(dir.path(), OPTS).expect("recovery");
    let lost: Vec<u32> = (0..20_000 + n)
        .filter(|&i| tree.get(&key(i)).unwrap().is_none())
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged commits lost after the restart (first {:?})",
        lost.len(),
        20_000 + n,
        &lost[..lost.len().min(5)]
    );
    tree.check().unwrap();
}

/// R13-O2 (F14-2): `TreeWal::open_storage` took no lock, so a log opened on a file storage could be opened
/// again (by path, or by a second storage on the same file) and cut under the first. Now it takes the storage's
/// lock: a second opener of the same file, either way round, is refused with `FileLocked` before it reads or
/// cuts anything; once the first is dropped the file opens again, its records intact.
#[test]
fn a_log_on_a_file_storage_is_locked_like_a_log_opened_by_path() {
    use bufpool::{FileStorage, OpenMode};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(WAL_FILE);
    let storage = || FileStorage::open(&path, OpenMode::Buffered).unwrap();
    let locked = |what: &str, r: Result<std::sync::Arc<TreeWal>, Error>| match r {
        Err(Error::Pool(bufpool::Error::FileLocked { .. })) => {}
        Err(e) => panic!("{what}: another error: {e}"),
        Ok(_) => panic!("{what}: opened"),
    };
    let first = TreeWal::open_storage(storage()).unwrap();
    first
        .append(&[bufpool_btree::Op::Put {
            page: 1,
            key: b"k",
            val: b"kept",
        }])
        .unwrap();
    first.commit().unwrap();
    let end = first.end_lsn();
    locked("a second storage on the file", TreeWal::open_storage(storage()));
    locked("the file by path", TreeWal::open(&path));
    drop(first);
    let by_path = TreeWal::open(&path).unwrap();
    locked("a storage while open by path", TreeWal::open_storage(storage()));
    drop(by_path);
    let again = TreeWal::open_storage(storage()).unwrap();
    assert_eq!(again.end_lsn(), end, "the record was cut");
    drop(again);
    // A storage without a lock (memory) opens: the caller's guarantee, documented on `open_storage`.
    TreeWal::open_storage(bufpool::MemoryStorage::new()).unwrap();
}
