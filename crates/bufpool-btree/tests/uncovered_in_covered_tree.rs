//! Uncovered changes (`Tree::put`, logged in the tree's own log and made durable by `Tree::commit`) in a tree
//! that also takes covered changes (its log depends on a log above, `TreeWal::flush_first`), then a crash before
//! the leaf they went to is written again. Found by `sim_crash_covered.rs`; each test here is one of its
//! failures, reduced.
//!
//! - R11-1: an uncovered put that splits a leaf was logged with the leaf as a `CUT` op (session 10's log-bytes
//!   pass), which keeps of the leaf on disk what lies below the separator and carries no entry: the put's own
//!   key, when it stays in the left half, is in no log. After the crash, `Tree::commit` had returned `Ok` and the
//!   key was gone.
//! - R11-2: an uncovered put logged as a `PUT` op is redone over the leaf as it was on disk; covered deletes made
//!   between that write and the put (no record in the tree's log) had made the room the put used, so the leaf
//!   on disk has no room for it and recovery failed (`CorruptNode`: "log record does not apply to the page"): the
//!   tree could not be opened.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Op, Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// The tree in `dir` below the log above in `dir`, recovered and with the log above replayed, as a layer above
/// opens it.
fn open(dir: &Path) -> (Arc<TreeWal>, Tree) {
    let above = TreeWal::open(dir.join("above.log")).unwrap();
    let wal = TreeWal::open(dir.join("t.wal")).unwrap();
    wal.flush_first(above.clone()).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let tree = Tree::open(pool, wal, dir.join("t.db")).unwrap_or_else(|e| panic!("recovery: {e}"));
    common::redo_above(&above, &tree);
    (above, tree)
}

/// A covered change as the layer above makes it: its record above first, then the change.
fn covered(above: &TreeWal, tree: &Tree, k: &[u8], v: Option<&[u8]>) {
    match v {
        Some(val) => {
            above.append(&[Op::Put { page: 0, key: k, val }]).unwrap();
            tree.put_covered(k, val, &mut LeafHint::default()).unwrap();
        }
        None => {
            above.append(&[Op::Del { page: 0, key: k }]).unwrap();
            assert!(tree.delete_covered(k, &mut LeafHint::default()).unwrap());
        }
    }
}

/// R11-1: 28 covered inserts of 120 bytes fill most of the (root) leaf after a checkpoint, then an uncovered put
/// of a key below them all splits it; the halves split in the middle, so the put's key stays left. Both logs are
/// made durable and the process ends without writing a page. Recovery must show the uncovered key.
#[test]
fn an_uncovered_put_that_splits_a_leaf_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (above, tree) = open(dir.path());
        tree.put(&key(50), b"before").unwrap();
        tree.checkpoint().unwrap();
        let val = [7u8; 120];
        for i in 100..128 {
            covered(&above, &tree, &key(i), Some(&val));
        }
        assert_eq!(tree.check().unwrap().leaves, 1, "the covered puts fill one leaf");
        tree.put(&key(0), &[9u8; 500]).unwrap();
        assert!(tree.check().unwrap().leaves > 1, "the uncovered put split the leaf");
        above.commit().unwrap();
        tree.commit().unwrap();
        // Dropped unclosed: a crash (no page was written since the checkpoint).
    }
    let (_above, tree) = open(dir.path());
    tree.check().unwrap();
    assert_eq!(
        tree.get(&key(0)).unwrap().as_deref(),
        Some(&[9u8; 500][..]),
        "the uncovered put acknowledged by Tree::commit"
    );
    assert_eq!(tree.get(&key(50)).unwrap().as_deref(), Some(&b"before"[..]));
    for i in 100..128 {
        assert_eq!(
            tree.get(&key(i)).unwrap().as_deref(),
            Some(&[7u8; 120][..]),
            "covered key {i}"
        );
    }
}

/// R11-2: covered puts of large values reach the disk (a flush of the tree's file, no checkpoint), covered
/// deletes of most of them then make room (no record in the tree's log), an uncovered put of a large value uses
/// it and is committed, and the process ends. Recovery redoes the put over the leaf as written, which holds the
/// deleted values: it must still open the tree, with every change in place.
#[test]
fn an_uncovered_put_into_room_made_by_covered_deletes_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let big = |b: u8| [b; 1000];
    {
        let (above, tree) = open(dir.path());
        tree.put(&key(1), b"first").unwrap();
        tree.checkpoint().unwrap();
        for i in 2..5 {
            covered(&above, &tree, &key(i), Some(&big(i as u8)));
        }
        // The leaf reaches the disk with the three large values (the log above first, by the write-ahead rule).
        tree.pool().flush_file(tree.file()).unwrap();
        covered(&above, &tree, &key(3), None);
        covered(&above, &tree, &key(4), None);
        tree.put(&key(9), &big(9)).unwrap();
        assert_eq!(tree.check().unwrap().leaves, 1, "no split: the deletes made the room");
        above.commit().unwrap();
        tree.commit().unwrap();
        // Dropped unclosed: a crash.
    }
    let (_above, tree) = open(dir.path());
    tree.check().unwrap();
    assert_eq!(tree.get(&key(1)).unwrap().as_deref(), Some(&b"first"[..]));
    assert_eq!(tree.get(&key(2)).unwrap().as_deref(), Some(&big(2)[..]));
    assert_eq!(tree.get(&key(3)).unwrap(), None);
    assert_eq!(tree.get(&key(4)).unwrap(), None);
    assert_eq!(tree.get(&key(9)).unwrap().as_deref(), Some(&big(9)[..]));
}
