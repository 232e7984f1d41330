//! Round 16's review of a tree's lifecycle around its log's claim (R15-3: a log serves one open tree, released when
//! the tree is dropped) and of callbacks that panic: combinations a user reaches that the authors' tests did not
//! take. A user would see a log that stays claimed after a tree's open failed or the tree was dropped by a panic
//! (every later open refused with `LogMismatch`), two trees open on one log when two threads race to open it, or a
//! tree or pool left latched by a `get_many_hinted` callback that panicked.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier};

use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).build().unwrap())
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// Every key below `n` holds `value`, and the tree checks.
fn assert_keys(tree: &Tree, n: u32, value: &[u8]) {
    for i in 0..n {
        assert_eq!(tree.get(&key(i)).unwrap().as_deref(), Some(value), "key {i}");
    }
    tree.check().unwrap();
}

/// A tree refused halfway through its open (here `Tree::create` on a data file that is not empty, after the log
/// was claimed and the file opened) leaves the log unclaimed: the right open on the same `Arc<TreeWal>` goes on.
#[test]
fn a_refused_open_releases_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let other = Tree::open(
        pool.clone(),
        TreeWal::open(dir.path().join("b.wal")).unwrap(),
        dir.path().join("b.db"),
    )
    .unwrap();
    other.put(b"b", b"1").unwrap();
    other.close().unwrap();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    match Tree::create(pool.clone(), wal.clone(), dir.path().join("b.db")) {
        Err(Error::BadMeta(_)) => {}
        other => panic!("create on a non-empty file: {other:?}"),
    }
    let a = Tree::open(pool.clone(), wal.clone(), dir.path().join("a.db")).unwrap();
    a.put(b"a", b"1").unwrap();
    a.close().unwrap();
    let a = Tree::open(pool, wal, dir.path().join("a.db")).unwrap();
    assert_eq!(a.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

/// A tree dropped by a panic (unwinding) releases its log: once its data file is closed in the pool, the tree
/// reopens on the same `Arc<TreeWal>` in the same pool with every committed key.
#[test]
fn a_tree_dropped_by_a_panic_releases_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal.clone(), dir.path().join("a.db")).unwrap();
    let file = tree.file();
    let r = catch_unwind(AssertUnwindSafe(move || {
        for i in 0..500 {
            tree.put(&key(i), b"committed").unwrap();
        }
        tree.commit().unwrap();
        panic!("the caller's bug, the tree in hand");
    }));
    assert!(r.is_err());
    pool.close_file(file).unwrap();
    let tree = Tree::open(pool, wal, dir.path().join("a.db")).unwrap();
    assert_keys(&tree, 500, b"committed");
}

/// Two threads open the tree on one `Arc<TreeWal>` at once: exactly one opens, the other is refused with
/// `LogMismatch` (before it opens the data file, so it leaves nothing open), every round; after the winner is
/// closed, the log serves the next round's, which finds every earlier round's key.
#[test]
fn two_threads_opening_on_one_log_get_one_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    for round in 0..20 {
        let barrier = Arc::new(Barrier::new(2));
        let opens: Vec<_> = (0..2)
            .map(|_| {
                let (pool, wal, barrier) = (pool.clone(), wal.clone(), barrier.clone());
                let path = dir.path().join("a.db");
                std::thread::spawn(move || {
                    barrier.wait();
                    Tree::open(pool, wal, path)
                })
            })
            .collect();
        let results: Vec<_> = opens.into_iter().map(|t| t.join().unwrap()).collect();
        let opened: Vec<&Tree> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(opened.len(), 1, "round {round}: {results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, Error::LogMismatch(_)), "round {round}: {e}");
            }
        }
        let tree = results.into_iter().find_map(|r| r.ok()).unwrap();
        for i in 0..round {
            assert_eq!(
                tree.get(&key(i)).unwrap().as_deref(),
                Some(&b"v"[..]),
                "round {round}, key {i}"
            );
        }
        tree.put(&key(round), b"v").unwrap();
        tree.close().unwrap();
    }
}

/// A `get_many_hinted` callback that panics mid-batch leaves no latch held and no thread-local state broken: the
/// same thread then puts into the leaves the batch read, reads them back one by one and in a batch, and the tree
/// checks.
#[test]
fn a_get_many_callback_that_panics_leaves_the_tree_usable() {
    let dir = tempfile::tempdir().unwrap();
    let tree = Tree::open(
        pool(),
        TreeWal::open(dir.path().join("a.wal")).unwrap(),
        dir.path().join("a.db"),
    )
    .unwrap();
    for i in 0..3000 {
        tree.put(&key(i), &[7u8; 40]).unwrap();
    }
    let keys: Vec<Vec<u8>> = (0..3000).step_by(7).map(key).collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    for stop in [0, 1, 100, refs.len() - 1] {
        let mut seen = 0;
        let r = catch_unwind(AssertUnwindSafe(|| {
            tree.get_many_hinted(&refs, |_, _, _| {
                if seen == stop {
                    panic!("callback {stop}");
                }
                seen += 1;
            })
        }));
        assert!(r.is_err(), "stop {stop}");
        let r = catch_unwind(AssertUnwindSafe(|| {
            tree.get_many_part(&refs, 2..4, |_, _, _| panic!("part"))
        }));
        assert!(r.is_err());
        for k in &refs {
            tree.put(k, b"after").unwrap();
        }
        let got = tree.get_many(&refs).unwrap();
        assert!(got.iter().all(|v| v.as_deref() == Some(&b"after"[..])), "stop {stop}");
        assert_eq!(tree.get(refs[0]).unwrap().as_deref(), Some(&b"after"[..]));
    }
    tree.check().unwrap();
    tree.close().unwrap();
}

/// R17-1 (R16-O1 in RELIABILITY.md): a tree dropped without `close` leaves its data file open in the pool, its
/// unwritten changes only in the log. The drop released the log's claim, so `Tree::open` of a wrong, empty data
/// file on the same log (before any checkpoint cut it) succeeded: it replayed the tree's records into the wrong
/// file and its checkpoint cut the log, which the real file's unwritten pages still needed (a crash then lost
/// them). Now the claim lasts until the data file is closed in the pool: the wrong open is refused with
/// `LogMismatch` and touches nothing; once the file is closed, the right open finds every committed key.
#[test]
fn a_tree_dropped_without_close_keeps_its_log_until_its_file_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal.clone(), dir.path().join("a.db")).unwrap();
    let file = tree.file();
    for i in 0..500 {
        tree.put(&key(i), b"committed").unwrap();
    }
    tree.commit().unwrap();
    drop(tree);
    let start = wal.start_lsn();
    let wrong = dir.path().join("b.db");
    match Tree::open(pool.clone(), wal.clone(), &wrong) {
        Err(Error::LogMismatch(_)) => {}
        Err(e) => panic!("another error: {e}"),
        Ok(t) => panic!("a wrong data file opened on a log whose tree's file is open: {t:?}"),
    }
    assert_eq!(
        std::fs::metadata(&wrong).map_or(0, |m| m.len()),
        0,
        "the wrong file was written"
    );
    assert_eq!(wal.start_lsn(), start, "the log was cut");
    pool.close_file(file).unwrap();
    let tree = Tree::open(pool, wal, dir.path().join("a.db")).unwrap();
    assert_keys(&tree, 500, b"committed");
}

/// R17-1: the same with the data file dropped from the pool (`drop_file`, its cached pages discarded) instead of
/// closed: the log is free again once the file is gone, and recovery brings every committed key back.
#[test]
fn a_tree_dropped_without_close_frees_its_log_when_its_file_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal.clone(), dir.path().join("a.db")).unwrap();
    let file = tree.file();
    for i in 0..300 {
        tree.put(&key(i), b"v").unwrap();
    }
    tree.commit().unwrap();
    drop(tree);
    assert!(matches!(
        Tree::open(pool.clone(), wal.clone(), dir.path().join("a.db")),
        Err(Error::LogMismatch(_))
    ));
    pool.drop_file(file).unwrap();
    let tree = Tree::open(pool, wal, dir.path().join("a.db")).unwrap();
    assert_keys(&tree, 300, b"v");
}
