//! A covered change to the tree's last leaf while a bulk load appends must be kept or make the load refuse
//! (R10B-1 in RELIABILITY.md).
//!
//! The story: `Tree::bulk_load` in append mode continues the tree's last leaf and rewrites it in place, from the
//! copy of its entries it read when the load began. To never lose a write made meanwhile, the switch compared
//! each edge page's LSN with the one read at the start (`ChangedDuringLoad` if it moved). A *covered* change
//! (`Tree::put_covered`, `Tree::delete_covered`: a layer above logged it in its own log) does not raise the
//! page's LSN once the page has been logged since the last checkpoint, so the switch saw no change and wrote the
//! old entries over the covered one: the put (or delete) was gone from the live tree with no error, and the next
//! checkpoint wrote the page without it, after which the layer above may cut its log. Here two covered puts (an
//! update and an insert) land in the last leaf in the middle of an append: afterwards the tree must show both
//! (the load refused with `ChangedDuringLoad`, or done with the changes kept), also after a close and reopen.

use std::sync::Arc;

use bufpool_btree::{BufferPool, Error, LeafHint, Op, Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// A tree whose log depends on `above` (both in `dir`), holding the even keys below `2 n`, put the ordinary way.
fn tree_below(dir: &std::path::Path, above: &Arc<TreeWal>, n: u32) -> Tree {
    let wal = TreeWal::open(dir.join("t.wal")).unwrap();
    wal.flush_first(above.clone()).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(512).build().unwrap());
    let tree = Tree::open(pool, wal, dir.join("t.db")).unwrap();
    for i in 0..n {
        tree.put(&key(2 * i), &[1u8; 100]).unwrap();
    }
    tree
}

/// A covered put as the layer above makes it: its record in `above` first, then the change in the tree. (No
/// covered delete here: one that left the leaf underfull would merge it, a logged change the switch sees.)
fn covered_put(above: &TreeWal, tree: &Tree, k: &[u8], val: &[u8]) {
    above.append(&[Op::Put { page: 0, key: k, val }]).unwrap();
    tree.put_covered(k, val, &mut LeafHint::default()).unwrap();
}

#[test]
fn a_covered_change_to_the_last_leaf_during_an_append_is_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.wal")).unwrap();
    let tree = tree_below(dir.path(), &above, 1000);
    // The last leaf holds key 1998, the largest, and covers 1997.
    let during = |i: u32| {
        if i == 2100 {
            covered_put(&above, &tree, &key(1998), b"during");
            covered_put(&above, &tree, &key(1997), b"new");
        }
    };
    let r = tree.bulk_load((2000..3000u32).map(|i| {
        during(i);
        (key(i), [2u8; 100])
    }));
    match r {
        Ok(n) => {
            assert_eq!(n, 1000);
            assert_eq!(tree.get(&key(2999)).unwrap().as_deref(), Some(&[2u8; 100][..]));
        }
        Err(Error::ChangedDuringLoad) => assert_eq!(tree.get(&key(2000)).unwrap(), None),
        Err(e) => panic!("bulk load: {e}"),
    }
    let during_load = |tree: &Tree| {
        assert_eq!(
            tree.get(&key(1998)).unwrap().as_deref(),
            Some(&b"during"[..]),
            "the covered update made during the load"
        );
        assert_eq!(
            tree.get(&key(1997)).unwrap().as_deref(),
            Some(&b"new"[..]),
            "the covered insert made during the load"
        );
    };
    during_load(&tree);
    let st = tree.check().unwrap();
    assert_eq!(st.entries, if r.is_ok() { 2001 } else { 1001 });
    // And after a checkpoint (which writes the leaf) and a reopen, with nothing left to redo from above.
    above.commit().unwrap();
    tree.close().unwrap();
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    wal.flush_first(above.clone()).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(512).build().unwrap());
    let tree = Tree::open(pool, wal, dir.path().join("t.db")).unwrap();
    during_load(&tree);
    tree.check().unwrap();
}
