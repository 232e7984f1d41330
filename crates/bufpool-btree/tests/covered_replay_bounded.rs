//! R40-1: a tree on a bounded log ([`TreeWal::open_storage_with_capacity`]) under a log above, recovered as
//! `bufpool-cli`'s TPC-C engine recovers its trees (`ours.rs`): the tree opened, every record of the log above
//! redone with `put_covered`, then a checkpoint of the tree and the cut of the log above. A covered change is not
//! refused for its region's room (its record is above already); in normal running the log above refuses appends
//! while the tree's log is past three quarters of its region (R25-4), but a replay appends nothing there, and
//! its leaf images overfilled the region: the checkpoint after the replay, which would have cut it, could not
//! write the records out, on every open (found by the whole-API model, `whole_api_model.rs`, covered mode).

use std::sync::Arc;

use crate::common::{key, value};

use bufpool::storage::MemoryStorage;
use bufpool_btree::{BufferPool, LeafHint, Op, OwnedOp, Tree, TreeWal, REGION_MIN};

/// The smallest bounded log.
const CAPACITY: u64 = 8192 + 2 * REGION_MIN;
const KEYS: u64 = 2000;

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(512).page_size(4096).build().unwrap())
}

/// The log above on `above`, the tree's bounded log on `log` made to depend on it.
fn logs(above: &Arc<MemoryStorage>, log: &Arc<MemoryStorage>) -> (Arc<TreeWal>, Arc<TreeWal>) {
    let upper = TreeWal::open_storage(above.clone()).unwrap();
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAPACITY).unwrap();
    wal.flush_first(upper.clone()).unwrap();
    (upper, wal)
}

#[test]
fn a_replay_of_the_log_above_does_not_overfill_a_bounded_log() {
    let (above, log, data) = (
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
    );
    {
        let (upper, wal) = logs(&above, &log);
        let tree = Tree::create_storage(pool(), wal, data.clone()).unwrap();
        // Each put a transaction of the log above, then its covered change; the tree checkpointed whenever the
        // log above refuses an append for the tree's log's room, as it must be (its log is then cut).
        let txn = |id: u64, ver: u64| {
            let (k, v) = (key(id), value(id, ver));
            let op = [Op::Put {
                page: 0,
                key: &k,
                val: &v,
            }];
            while let Err(e) = upper.append(&op) {
                assert!(e.is_no_space(), "append: {e}");
                tree.checkpoint().unwrap();
            }
            tree.put_covered(&k, &v, &mut LeafHint::default()).unwrap();
        };
        for ver in 0..2 {
            for id in 0..KEYS {
                txn(id, ver);
            }
        }
        upper.commit().unwrap();
        // The log above is not cut: the process ends here (every write kept).
    }
    {
        let (upper, wal) = logs(&above, &log);
        let tree = Tree::open_storage(pool(), wal, data.clone()).unwrap();
        let mut records = 0;
        upper
            .scan(|_, ops| {
                records += 1;
                for op in ops {
                    if let OwnedOp::Put(_, k, v) = op {
                        tree.put_covered(&k, &v, &mut LeafHint::default())?;
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("the replay of the log above: {e}"));
        assert_eq!(records, 2 * KEYS);
        let r = upper.begin_checkpoint();
        if let Err(e) = tree.checkpoint() {
            panic!("the checkpoint after the replay of {records} records of the log above failed: {e}");
        }
        upper.truncate_before(r).unwrap();
        tree.check().unwrap();
    }
    // Reopened: nothing left above to redo, every key at its last value.
    let (upper, wal) = logs(&above, &log);
    assert_eq!(upper.scan(|_, _| Ok(())).unwrap(), upper.start_lsn());
    let tree = Tree::open_storage(pool(), wal, data).unwrap();
    tree.check().unwrap();
    for id in 0..KEYS {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "key {id}");
    }
}
