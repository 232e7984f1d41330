//! R40-2: a checkpoint of a tree whose log depends on a log above cut its log only at the redo point an earlier
//! checkpoint had noted in the meta page and not cut at (`Tree::note_log_start`: one whose page writes failed,
//! or one still running in another thread), not at its own. The leaf images logged between the two stayed in the
//! tree's log, older than covered changes made after them, which no record of the tree's log describes; the
//! caller then cut the log above before its checkpoint's start, as it may once the checkpoint returned. A leaf
//! torn later (in the whole-API model, `whole_api_model.rs`, a recovery attempt under faults whose page write
//! failed with part of the page landed) was rebuilt at the next open from such an image (`Tree::redo`, full-page
//! writes), without those changes, and nothing redid them: a committed covered change lost, silently.

use std::sync::Arc;

use crate::common::{key, value};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, MemoryStorage, Op as IoOp};
use bufpool_btree::{BufferPool, LeafHint, Op, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(64).page_size(4096).build().unwrap())
}

/// The log above on `above`, the tree's log on `log` made to depend on it.
fn logs(above: &Arc<MemoryStorage>, log: &Arc<MemoryStorage>) -> (Arc<TreeWal>, Arc<TreeWal>) {
    let upper = TreeWal::open_storage(above.clone()).unwrap();
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    wal.flush_first(upper.clone()).unwrap();
    (upper, wal)
}

#[test]
fn a_torn_leaf_is_not_rebuilt_from_an_image_older_than_a_checkpoint() {
    let (above, log) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let data = Arc::new(FaultyStorage::new(402, FaultConfig::none()));
    {
        let (upper, wal) = logs(&above, &log);
        let tree = Tree::create_storage(pool(), wal, data.clone()).unwrap();
        // A transaction of the log above: its record, then its covered change (`ours.rs`).
        let txn = |id: u64, ver: u64| {
            let (k, v) = (key(id), value(id, ver));
            upper
                .append(&[Op::Put {
                    page: 0,
                    key: &k,
                    val: &v,
                }])
                .unwrap();
            tree.put_covered(&k, &v, &mut LeafHint::default()).unwrap();
        };
        // The engine's checkpoint: the end of the log above, the tree's checkpoint, the cut above.
        let checkpoint = || {
            let r = upper.begin_checkpoint();
            Tree::checkpoint_all(std::slice::from_ref(&tree)).unwrap();
            upper.truncate_before(r).unwrap();
        };
        for id in 0..8 {
            txn(id, 0);
        }
        checkpoint();
        txn(0, 1);
        // A checkpoint whose page write is refused for space: it noted its redo point in the meta page, no cut.
        data.inject_next(IoOp::Write, Fault::NoSpace);
        let e = tree
            .checkpoint()
            .expect_err("a checkpoint whose page write was refused");
        assert!(e.is_no_space(), "{e}");
        // The leaf's first change after that redo point logs its image (with key 1's change); key 2's change
        // after it is in the log above only.
        txn(1, 1);
        txn(2, 1);
        // Everything is on disk and the log above is cut: key 2's change is in the leaf on disk, nowhere else.
        checkpoint();
        upper.commit().unwrap();
    }
    // The leaf (page 1, the root) torn, as a failed write of it that landed in part leaves it.
    let mut image = data.live_image();
    let leaf = 4096..2 * 4096;
    assert!(image.len() >= leaf.end, "the data file holds the leaf");
    image[leaf.start + 2048..leaf.end].fill(0);
    let data = Arc::new(FaultyStorage::from_image(402, FaultConfig::none(), image));
    let (upper, wal) = logs(&above, &log);
    assert_eq!(
        upper.scan(|_, _| Ok(())).unwrap(),
        upper.start_lsn(),
        "nothing above to redo"
    );
    // A torn page the tree's log cannot rebuild must be reported; rebuilt, it must hold every change.
    let Ok(tree) = Tree::open_storage(pool(), wal, data) else {
        return;
    };
    if let Ok(got) = tree.get(&key(2)) {
        let was = match got {
            Some(v) if v == value(2, 1) => return,
            Some(v) if v == value(2, 0) => "its value before its last change",
            _ => "another value",
        };
        panic!(
            "key 2 read back at {was}: its leaf was rebuilt from a log image older than that change, a covered \
             change the checkpoint had written and whose record the log above no longer holds"
        );
    }
}
