//! A tree's log opened with the wrong data file (R15-3). What a user saw: `Tree::open(pool, log, "b.db")`, a
//! mistyped data path next to tree `a`'s log, opened fine: the log's records since `a`'s last checkpoint were
//! replayed into the new, empty `b.db` (a partial copy of `a`: its meta page and the leaves logged since, every
//! other page missing), and the open's own checkpoint then cut the log. `a`, opened with its log afterwards, was
//! refused (`LogMismatch`: the log starts after its last checkpoint), and its committed changes since that
//! checkpoint, which only the log held, were gone. The same with `a` still open and its `Arc<TreeWal>` handed to a
//! second `Tree::open` (the log's file lock is per opener, and one `Arc` is one opener): the second tree's
//! checkpoint cut the log that `a`'s unwritten pages still needed.
//!
//! Now an empty data file with a log that was cut at a checkpoint (a tree's data file is written and synced
//! before its log is ever cut) is refused before anything is replayed, and a log serves one open tree at a time.

use std::sync::Arc;

use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).build().unwrap())
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// Tree `a` with keys 0..200 committed, keys 0..100 checkpointed, in `dir`; dropped without `close` (as by a
/// crash: its pool goes with it, so keys 100..200 are in the log only).
fn tree_a_with_a_tail_in_its_log(dir: &std::path::Path) {
    let tree = Tree::open(pool(), TreeWal::open(dir.join("a.wal")).unwrap(), dir.join("a.db")).unwrap();
    for i in 0..100 {
        tree.put(&key(i), b"checkpointed").unwrap();
    }
    tree.checkpoint().unwrap();
    for i in 100..200 {
        tree.put(&key(i), b"in the log only").unwrap();
    }
    tree.commit().unwrap();
}

fn check_a(tree: &Tree) {
    for i in 0..200 {
        let want: &[u8] = if i < 100 { b"checkpointed" } else { b"in the log only" };
        assert_eq!(tree.get(&key(i)).unwrap().as_deref(), Some(want), "key {i}");
    }
}

#[test]
fn a_log_with_the_wrong_empty_data_file_is_refused_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    tree_a_with_a_tail_in_its_log(dir.path());
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    match Tree::open(pool(), wal, dir.path().join("b.db")) {
        Err(Error::LogMismatch(_)) => {}
        Err(e) => panic!("the wrong data file: {e}"),
        Ok(_) => panic!("a log cut at a checkpoint opened with an empty data file"),
    }
    let a = Tree::open(
        pool(),
        TreeWal::open(dir.path().join("a.wal")).unwrap(),
        dir.path().join("a.db"),
    )
    .unwrap();
    check_a(&a);
    a.check().unwrap();
}

#[test]
fn a_log_serves_one_open_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    let a = Tree::open(pool.clone(), wal.clone(), dir.path().join("a.db")).unwrap();
    for i in 0..200 {
        a.put(&key(i), if i < 100 { b"checkpointed" } else { b"in the log only" })
            .unwrap();
        if i == 99 {
            a.checkpoint().unwrap();
        }
    }
    a.commit().unwrap();
    match Tree::open(pool.clone(), wal.clone(), dir.path().join("b.db")) {
        Err(Error::LogMismatch(_)) => {}
        Err(e) => panic!("a second tree on an open tree's log: {e}"),
        Ok(_) => panic!("a second tree opened on an open tree's log"),
    }
    // Also before any checkpoint cut the log, and by `Tree::create`.
    let other = TreeWal::open(dir.path().join("c.wal")).unwrap();
    let c = Tree::open(pool.clone(), other.clone(), dir.path().join("c.db")).unwrap();
    c.put(b"c", b"1").unwrap();
    assert!(Tree::open(pool.clone(), other.clone(), dir.path().join("d.db")).is_err());
    assert!(Tree::create(pool.clone(), other.clone(), dir.path().join("e.db")).is_err());
    // `a` goes on; its log was not cut by anyone else: reopened after a crash (its pool dropped unflushed), every
    // key is there.
    check_a(&a);
    drop((a, c, wal, other, pool));
    let a = Tree::open(
        self::pool(),
        TreeWal::open(dir.path().join("a.wal")).unwrap(),
        dir.path().join("a.db"),
    )
    .unwrap();
    check_a(&a);
    // Closed, the log serves the next open tree.
    let wal = a.wal().clone();
    let pool = a.pool().clone();
    a.close().unwrap();
    let a = Tree::open(pool, wal, dir.path().join("a.db")).unwrap();
    check_a(&a);
}

#[test]
fn a_data_file_emptied_under_its_record_is_refused_by_the_pool_and_loses_nothing() {
    // R34-20: `a.db` found empty beside its sidecar, whose mark says a checkpoint synced its pages (a device that
    // dropped them, or the file truncated outside bufpool). The pool refuses the open before the tree reads or
    // replays anything; with the file back, every committed key is there.
    let dir = tempfile::tempdir().unwrap();
    tree_a_with_a_tail_in_its_log(dir.path());
    let (db, kept) = (dir.path().join("a.db"), dir.path().join("a.db.kept"));
    std::fs::copy(&db, &kept).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(0)
        .unwrap();
    let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
    let log = std::fs::read(dir.path().join("a.wal")).unwrap();
    match Tree::open(pool(), wal, &db) {
        Err(Error::Pool(bufpool::Error::DataFileEmptied { written_pages, .. })) => {
            assert!(written_pages > 0)
        }
        Err(e) => panic!("an emptied data file: {e}"),
        Ok(_) => panic!("an emptied data file opened"),
    }
    assert_eq!(std::fs::read(dir.path().join("a.wal")).unwrap(), log, "the log changed");
    std::fs::rename(&kept, &db).unwrap();
    let a = Tree::open(pool(), TreeWal::open(dir.path().join("a.wal")).unwrap(), &db).unwrap();
    check_a(&a);
    a.check().unwrap();
}
