//! Session 47 (review47): "readable is not durable" after a failed data fsync, for two trees checkpointed together
//! (`Tree::checkpoint_all` over one pool) whose changes freed and reused pages (merges: the free list), then the
//! process restarts on the same devices (a fresh pool and trees, no power loss between: the failed writes still
//! readable), goes on, and loses the power later. Replay is safe only because it dirties every page it meets (R47-30
//! in RELIABILITY.md); these pages include free-list pages and pages the second tree's checkpoint wrote while the
//! first tree's was synced. Checked, sound on main `bf8903e`: every acknowledged change survives, `Tree::check`
//! passes (free list included).

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::BufferPool;
use bufpool_btree::{Tree, TreeWal};

use crate::common::{key, value};

/// One tree's log and data devices.
struct Devices {
    log: Arc<FaultyStorage>,
    data: Arc<FaultyStorage>,
}

impl Devices {
    fn new(seed: u64) -> Devices {
        Devices {
            log: Arc::new(FaultyStorage::new(seed, FaultConfig::none())),
            data: Arc::new(FaultyStorage::new(seed + 1, FaultConfig::none())),
        }
    }

    /// What a power loss that keeps no unsynced write leaves.
    fn power_loss(&self, seed: u64) -> Devices {
        let image =
            |s: &FaultyStorage, n| Arc::new(FaultyStorage::from_image(n, FaultConfig::none(), s.durable_image()));
        Devices {
            log: image(&self.log, seed),
            data: image(&self.data, seed + 1),
        }
    }
}

/// Both trees opened in one fresh pool (a new process on the same devices).
fn open(devs: &[Devices]) -> bufpool_btree::Result<Vec<Tree>> {
    let pool = Arc::new(BufferPool::builder().frames(128).build().unwrap());
    devs.iter()
        .map(|d| Tree::open_storage(pool.clone(), TreeWal::open_storage(d.log.clone())?, d.data.clone()))
        .collect()
}

/// Every tree's keys: `0..deleted` absent, `deleted..updated` at version 1, `updated..end` at version 0 or 2 (`last`).
fn check(trees: &[Tree], deleted: u64, updated: u64, end: u64, when: &str) {
    for (t, tree) in trees.iter().enumerate() {
        tree.check().unwrap_or_else(|e| panic!("{when}: tree {t}: check: {e}"));
        for id in 0..end {
            let want = match id {
                _ if id < deleted => None,
                _ if id < updated => Some(value(id, 1)),
                _ => Some(value(id, 2)),
            };
            assert_eq!(tree.get(&key(id)).unwrap(), want, "{when}: tree {t}: key {id}");
        }
    }
}

/// The second tree's data fsync fails in a `checkpoint_all` of both (the first tree's file synced, no log cut),
/// after deletes that merged leaves (their pages on the free list) and puts that took them again. A restart on the
/// same devices, more changes, a checkpoint of both, a power loss: nothing acknowledged may be lost.
#[test]
fn checkpoint_all_whose_second_data_fsync_failed_then_a_restart_and_a_power_loss_loses_nothing() {
    const KEYS: u64 = 3_000;
    let devs = [Devices::new(1), Devices::new(3)];
    let trees = open(&devs).unwrap();
    for tree in &trees {
        for id in 0..KEYS {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
    }
    Tree::checkpoint_all(&trees).unwrap();
    for tree in &trees {
        for id in 0..KEYS / 2 {
            tree.delete(&key(id)).unwrap();
        }
        for id in KEYS / 2..KEYS * 3 / 4 {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        for id in KEYS * 3 / 4..KEYS + KEYS / 2 {
            tree.put(&key(id), &value(id, 2)).unwrap();
        }
        tree.commit().unwrap();
    }
    devs[1].data.inject_next(Op::Sync, Fault::Eio);
    assert!(
        Tree::checkpoint_all(&trees).is_err(),
        "the second tree's data fsync was to fail"
    );
    assert!(
        devs[1].data.counts().writes_dropped_by_failed_sync > 0,
        "the failed fsync dropped no write"
    );
    drop(trees);
    let trees = open(&devs).unwrap();
    check(&trees, KEYS / 2, KEYS * 3 / 4, KEYS + KEYS / 2, "the restart");
    for tree in &trees {
        for id in KEYS + KEYS / 2..KEYS * 2 {
            tree.put(&key(id), &value(id, 2)).unwrap();
        }
        tree.commit().unwrap();
    }
    Tree::checkpoint_all(&trees).unwrap();
    let lost: Vec<Devices> = devs
        .iter()
        .enumerate()
        .map(|(i, d)| d.power_loss(10 + 2 * i as u64))
        .collect();
    drop(trees);
    let trees = open(&lost).unwrap();
    check(&trees, KEYS / 2, KEYS * 3 / 4, KEYS * 2, "after a power loss");
}

/// A data fsync fails in a checkpoint, and again in the checkpoint of the open after the restart (which rewrote
/// every page replay met): a second restart, its open's checkpoint synced, then a power loss.
#[test]
fn two_failed_data_fsyncs_in_a_row_across_restarts_then_a_power_loss_loses_nothing() {
    const KEYS: u64 = 2_000;
    let devs = [Devices::new(21)];
    let trees = open(&devs).unwrap();
    for id in 0..KEYS {
        trees[0].put(&key(id), &value(id, 0)).unwrap();
    }
    trees[0].checkpoint().unwrap();
    for id in 0..KEYS / 4 {
        trees[0].delete(&key(id)).unwrap();
    }
    for id in KEYS / 4..KEYS / 2 {
        trees[0].put(&key(id), &value(id, 1)).unwrap();
    }
    for id in KEYS / 2..KEYS {
        trees[0].put(&key(id), &value(id, 2)).unwrap();
    }
    trees[0].commit().unwrap();
    devs[0].data.inject_next(Op::Sync, Fault::Eio);
    assert!(trees[0].checkpoint().is_err(), "the first data fsync was to fail");
    drop(trees);
    devs[0].data.inject_next(Op::Sync, Fault::Eio);
    assert!(open(&devs).is_err(), "the open's checkpoint was to fail its data fsync");
    let trees = open(&devs).unwrap();
    check(&trees, KEYS / 4, KEYS / 2, KEYS, "the second restart");
    let lost = devs[0].power_loss(30);
    drop(trees);
    check(&open(&[lost]).unwrap(), KEYS / 4, KEYS / 2, KEYS, "after a power loss");
}
