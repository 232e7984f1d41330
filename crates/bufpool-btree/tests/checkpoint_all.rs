//! `Tree::checkpoint_all`: every tree of one pool checkpointed in one pass over the frames (the TPC-C engine's
//! transaction-log checkpoint). After it each tree's log is cut and its data file holds every change, so a power
//! loss right after loses nothing; a failed write or sync of one tree's file cuts no tree's log; trees of
//! different pools are checkpointed one by one.

use crate::common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::BufferPool;
use bufpool_btree::{Tree, TreeWal};
use common::{key, value};

const TREES: u64 = 3;
const KEYS: u64 = 400;

/// One tree's devices: its log and its data file, both losing unsynced writes at a power loss.
struct Devices {
    log: Arc<FaultyStorage>,
    data: Arc<FaultyStorage>,
}

impl Devices {
    fn new(seed: u64) -> Devices {
        Devices {
            log: Arc::new(FaultyStorage::new(seed, FaultConfig::crash_only())),
            data: Arc::new(FaultyStorage::new(seed + 100, FaultConfig::crash_only())),
        }
    }

    /// The devices as a power loss leaves them.
    fn crashed(&self, seed: u64) -> Devices {
        Devices {
            log: Arc::new(FaultyStorage::from_image(seed, FaultConfig::none(), self.log.crash())),
            data: Arc::new(FaultyStorage::from_image(
                seed + 100,
                FaultConfig::none(),
                self.data.crash(),
            )),
        }
    }
}

/// Opens a tree on each of `devices`, all in `pools` pools (tree `i` in pool `i % pools`).
fn open(devices: &[Devices], pools: usize) -> Vec<Tree> {
    let pools: Vec<_> = (0..pools)
        .map(|_| Arc::new(BufferPool::builder().frames(256).build().unwrap()))
        .collect();
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let wal = TreeWal::open_storage(d.log.clone()).unwrap();
            Tree::open_storage(pools[i % pools.len()].clone(), wal, d.data.clone()).unwrap()
        })
        .collect()
}

/// `KEYS` keys into each tree (tree `t`'s values at version `t`), not committed: the checkpoint alone must make
/// them durable.
fn fill(trees: &[Tree]) {
    for (t, tree) in trees.iter().enumerate() {
        for id in 0..KEYS {
            tree.put(&key(id), &value(id, t as u64)).unwrap();
        }
    }
}

fn check_all(trees: &[Tree]) {
    for (t, tree) in trees.iter().enumerate() {
        tree.check().unwrap();
        for id in 0..KEYS {
            assert_eq!(
                tree.get(&key(id)).unwrap(),
                Some(value(id, t as u64)),
                "tree {t} key {id}"
            );
        }
    }
}

/// A power cut of every device (`trees` dropped after the images are taken), then every tree reopened in one
/// pool and checked.
fn power_loss_then_check(devices: &[Devices], trees: Vec<Tree>) {
    let crashed: Vec<Devices> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| d.crashed(i as u64 + 7))
        .collect();
    drop(trees);
    check_all(&open(&crashed, 1));
}

fn checkpoint_all_then_power_loss(pools: usize) {
    let devices: Vec<Devices> = (0..TREES).map(Devices::new).collect();
    let trees = open(&devices, pools);
    fill(&trees);
    let before: Vec<u64> = trees.iter().map(|t| t.wal().log_bytes()).collect();
    Tree::checkpoint_all(&trees).unwrap();
    for (t, tree) in trees.iter().enumerate() {
        let after = tree.wal().log_bytes();
        assert!(
            after < before[t] / 4,
            "tree {t}: log {} bytes before, {after} after",
            before[t]
        );
    }
    power_loss_then_check(&devices, trees);
}

#[test]
fn every_tree_of_one_pool_is_durable_and_its_log_cut() {
    checkpoint_all_then_power_loss(1);
}

#[test]
fn trees_of_different_pools_are_checkpointed_one_by_one() {
    checkpoint_all_then_power_loss(2);
}

#[test]
fn a_failed_sync_cuts_no_log_and_loses_nothing() {
    let devices: Vec<Devices> = (0..TREES).map(Devices::new).collect();
    let trees = open(&devices, 1);
    fill(&trees);
    for t in &trees {
        t.commit().unwrap();
    }
    let before: Vec<u64> = trees.iter().map(|t| t.wal().log_bytes()).collect();
    devices[1].data.inject_next(Op::Sync, Fault::Eio);
    assert!(Tree::checkpoint_all(&trees).is_err());
    for (t, tree) in trees.iter().enumerate() {
        assert!(tree.wal().log_bytes() >= before[t], "tree {t}: its log was cut");
    }
    power_loss_then_check(&devices, trees);
}
