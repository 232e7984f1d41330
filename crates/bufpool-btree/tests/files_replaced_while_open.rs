//! A tree's log or data file deleted, or replaced by a rename over its name, while the tree has it open (R41-1
//! and R41-2 in RELIABILITY.md). The tree writes and fsyncs through the descriptors it opened, which then lead to a
//! file no name leads to: until session 41 every commit and checkpoint returned `Ok`, and the next open lost what
//! they acknowledged (a log replaced by a copy of itself read back without the commits made since the copy; a data
//! file replaced so let the checkpoint cut the log past changes that only the unlinked file held, and the reopen was
//! refused with `LogMismatch`, those commits gone). Now the log's commit fails (`Error::Log`, the log refusing
//! changes as after a failed fsync), and the data file's checkpoint fails (`DataFileUnlinked`) before the log is
//! cut, so the log keeps every commit and a restart recovers them into the file under the name.

use std::path::Path;
use std::sync::Arc;

use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(64).build().unwrap())
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn put_all(tree: &Tree, keys: std::ops::Range<u32>, value: &[u8]) {
    for i in keys {
        tree.put(&key(i), value).unwrap();
    }
}

/// A copy of `path` renamed over it: a backup restored over a live file.
fn replace_by_copy(path: &Path) {
    let tmp = path.with_extension("copy");
    std::fs::copy(path, &tmp).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// What a restart (a new pool, the log opened again) finds of keys `0..n`, for the message of a failed test.
fn after_restart(db: &Path, log: &Path, n: u32, value: &[u8]) -> String {
    let opened = TreeWal::open(log).and_then(|wal| Tree::open(pool(), wal, db));
    match opened {
        Ok(tree) => {
            let kept = (0..n)
                .filter(|&i| tree.get(&key(i)).ok().flatten().as_deref() == Some(value))
                .count();
            format!("after a restart {kept} of the {n} keys read their last committed value")
        }
        Err(e) => format!("after a restart the tree does not open: {e}"),
    }
}

/// A tree at `db`/`log` with keys `0..100` committed and checkpointed.
fn tree_with_keys(db: &Path, log: &Path) -> Tree {
    let tree = Tree::open(pool(), TreeWal::open(log).unwrap(), db).unwrap();
    put_all(&tree, 0..100, b"v1");
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    tree
}

/// The log changed by `change` after keys `0..100` were checkpointed: the commit of keys `100..200` must be
/// refused. Returns the directory, the tree dropped.
fn log_scenario(what: &str, change: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("t.db"), dir.path().join("t.wal"));
    let tree = tree_with_keys(&db, &log);
    change(&log);
    put_all(&tree, 100..200, b"v2");
    match tree.commit() {
        Err(Error::Log(why)) => assert!(why.contains("deleted or replaced while open"), "{what}: {why}"),
        Ok(()) => {
            let close = tree.close().map(|_| ()).map_err(|e| e.to_string());
            panic!(
                "{what}: the commit of keys 100..200 returned Ok (the close then {close:?}); {}",
                after_restart(&db, &log, 200, b"v2").replace(
                    "200 keys read their last",
                    "200 keys (100 of them committed after the change) read"
                )
            );
        }
        Err(e) => panic!("{what}: expected Error::Log, got {e:?}"),
    }
    // The log refuses every change from now on; the tree's reads go on.
    assert!(tree.put(&key(0), b"v3").and_then(|()| tree.commit()).is_err());
    assert_eq!(tree.get(&key(5)).unwrap().as_deref(), Some(&b"v1"[..]));
    dir
}

#[test]
fn a_log_replaced_while_open_refuses_the_next_commit() {
    let dir = log_scenario("the log replaced by a copy of itself", replace_by_copy);
    // The copy holds what was committed before it: a restart reads keys 0..100, and none of the refused commit's.
    let (db, log) = (dir.path().join("t.db"), dir.path().join("t.wal"));
    let tree = Tree::open(pool(), TreeWal::open(&log).unwrap(), &db).unwrap();
    assert!((0..100).all(|i| tree.get(&key(i)).unwrap().as_deref() == Some(&b"v1"[..])));
    tree.check().unwrap();
    tree.close().unwrap();
}

#[test]
fn a_log_deleted_while_open_refuses_the_next_commit() {
    let dir = log_scenario("the log deleted", |log| std::fs::remove_file(log).unwrap());
    // A restart finds a new, empty log beside a tree whose checkpoint names the old one: refused, typed (as before).
    let (db, log) = (dir.path().join("t.db"), dir.path().join("t.wal"));
    match TreeWal::open(&log).and_then(|wal| Tree::open(pool(), wal, &db)) {
        Err(Error::LogMismatch(_)) => {}
        other => panic!("a restart after the log was deleted: {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_data_file_replaced_while_open_fails_the_checkpoint_and_the_log_keeps_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("t.db"), dir.path().join("t.wal"));
    let tree = tree_with_keys(&db, &log);
    replace_by_copy(&db);
    put_all(&tree, 0..300, b"v2");
    tree.commit().unwrap();
    match tree.checkpoint() {
        Err(Error::Pool(bufpool::Error::DataFileUnlinked { path, .. })) => assert_eq!(path.as_deref(), Some(&*db)),
        Ok(()) => {
            let close = tree.close().map(|_| ()).map_err(|e| e.to_string());
            panic!(
                "the checkpoint after t.db was replaced by a copy of itself returned Ok (the close then {close:?}); \
                 {}",
                after_restart(&db, &log, 300, b"v2")
            );
        }
        Err(e) => panic!("expected DataFileUnlinked, got {e:?}"),
    }
    // Reads go on; a restart recovers every commit from the log into the file under the name.
    assert_eq!(tree.get(&key(250)).unwrap().as_deref(), Some(&b"v2"[..]));
    drop(tree);
    let tree = Tree::open(pool(), TreeWal::open(&log).unwrap(), &db).unwrap();
    assert!((0..300).all(|i| tree.get(&key(i)).unwrap().as_deref() == Some(&b"v2"[..])));
    tree.check().unwrap();
    tree.checkpoint().unwrap();
    tree.close().unwrap();
}
