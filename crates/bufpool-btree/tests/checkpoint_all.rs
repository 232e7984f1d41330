//! `Tree::checkpoint_all`: every tree of one pool checkpointed in one pass over the frames (the TPC-C engine's
//! transaction-log checkpoint). After it each tree's log is cut and its data file holds every change, so a power
//! loss right after loses nothing; a failed write or sync of one tree's file cuts no tree's log; trees of
//! different pools are checkpointed one by one.

use crate::common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::BufferPool;
use bufpool_btree::{Error, Tree, TreeWal};
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

/// `TREES` trees in one pool, filled and committed, whose `checkpoint_all` failed on tree 1's data file's fsync
/// (once: the device takes the next one); each log's bytes before it.
fn after_a_failed_data_sync() -> (Vec<Devices>, Vec<Tree>, Vec<u64>) {
    let devices: Vec<Devices> = (0..TREES).map(Devices::new).collect();
    let trees = open(&devices, 1);
    fill(&trees);
    for t in &trees {
        t.commit().unwrap();
    }
    let before: Vec<u64> = trees.iter().map(|t| t.wal().log_bytes()).collect();
    devices[1].data.inject_next(Op::Sync, Fault::Eio);
    assert!(Tree::checkpoint_all(&trees).is_err());
    (devices, trees, before)
}

#[test]
fn a_failed_sync_cuts_no_log_and_loses_nothing() {
    let (devices, trees, before) = after_a_failed_data_sync();
    for (t, tree) in trees.iter().enumerate() {
        assert!(tree.wal().log_bytes() >= before[t], "tree {t}: its log was cut");
    }
    power_loss_then_check(&devices, trees);
}

/// fsyncgate (session 20, `fault20`): a data file's fsync fails once, dropping its unsynced writes, and the device
/// would take the next fsync. No later checkpoint of that tree may succeed (its dropped pages are clean in no
/// one's eyes but the pool's) nor cut its log, and its changes are refused; the other trees checkpoint; a log
/// whose fsync failed refuses every later commit though the device would take the next one; and a power loss
/// then loses no commit acknowledged.
#[test]
fn after_a_failed_fsync_no_later_sync_is_reported_durable() {
    let (devices, trees, before) = after_a_failed_data_sync();
    // The device is healthy again; the writes its failed fsync dropped are not on it.
    let again = Tree::checkpoint_all(&trees).expect_err("a checkpoint after the failed fsync");
    assert!(
        trees[1].checkpoint().is_err(),
        "tree 1's own checkpoint after its failed fsync: {again}"
    );
    assert!(trees[1].wal().log_bytes() >= before[1], "tree 1: its log was cut");
    trees[0].checkpoint().unwrap();
    trees[2].checkpoint().unwrap();
    // Its file is failed: a change is refused (typed), and the tree reads on.
    let refused = trees[1]
        .put(&key(0), b"refused")
        .expect_err("a put into the failed file");
    assert!(
        matches!(refused, Error::Pool(bufpool::Error::FileFailed { .. })),
        "{refused}"
    );
    assert_eq!(trees[1].get(&key(0)).unwrap(), Some(value(0, 1)));
    // A log's fsync fails once: that commit and every later one are refused, the device willing or not.
    trees[2].put(&key(KEYS), b"never acknowledged").unwrap();
    devices[2].log.inject_next(Op::Sync, Fault::Eio);
    assert!(trees[2].commit().is_err());
    assert!(trees[2].commit().is_err(), "a commit after the log's failed fsync");
    assert!(
        trees[2].checkpoint().is_err(),
        "a checkpoint after the log's failed fsync"
    );
    power_loss_then_check(&devices, trees);
}

/// R21-O2 (fixed in session 22): a tree's `checkpoint_spread` in a shared pool, after another tree's data file
/// failed its fsync, checkpoints its own file and cuts its own log, as `checkpoint` does; it was the pool-wide
/// spread checkpoint, which returned the other file's `FileFailed` and so never cut this tree's log. The failed
/// tree's own `checkpoint_spread` still fails and keeps its log; a power loss then loses nothing.
#[test]
fn a_spread_checkpoint_is_not_failed_by_another_trees_file() {
    let (devices, trees, before) = after_a_failed_data_sync();
    let target = std::time::Duration::from_millis(20);
    for t in [0, 2] {
        trees[t]
            .checkpoint_spread(target)
            .unwrap_or_else(|e| panic!("tree {t}'s spread checkpoint: {e}"));
        let after = trees[t].wal().log_bytes();
        assert!(
            after < before[t] / 4,
            "tree {t}: log {} bytes before, {after} after its spread checkpoint",
            before[t]
        );
    }
    assert!(
        trees[1].checkpoint_spread(target).is_err(),
        "tree 1's spread checkpoint"
    );
    assert!(trees[1].wal().log_bytes() >= before[1], "tree 1: its log was cut");
    power_loss_then_check(&devices, trees);
}

/// L42's data-file question (L42-1 is the log's): after a data file's fsync failed, its pages' writes are readable
/// and not durable (Linux keeps them cached, marked clean; `FaultyStorage` keeps them in the live image). A tree
/// reopened in the same process, on the same devices, reads those pages back with their LSNs, and its recovery
/// need not redo the records they hold; if its checkpoint then cut the log past them without writing them again,
/// a power loss would bring back the pages' older versions with no record left to redo the changes. Every
/// acknowledged change must survive: reopen, checkpoint, commit, power loss.
#[test]
fn a_reopen_in_the_same_process_after_a_failed_data_fsync_loses_nothing_at_a_power_loss() {
    let devices = vec![Devices::new(41)];
    let trees = open(&devices, 1);
    for id in 0..KEYS {
        trees[0].put(&key(id), &value(id, 9)).unwrap();
    }
    trees[0].checkpoint().unwrap();
    // The values every check expects (`check_all`: tree 0's version is 0), committed, in the log only.
    fill(&trees);
    trees[0].commit().unwrap();
    devices[0].data.inject_next(Op::Sync, Fault::Eio);
    assert!(trees[0].checkpoint().is_err(), "the checkpoint whose data fsync failed");
    drop(trees);
    // The same process opens the tree again on the same devices (a new pool), checkpoints and commits.
    let trees = open(&devices, 1);
    check_all(&trees);
    let before = trees[0].wal().log_bytes();
    trees[0].checkpoint().unwrap();
    trees[0].commit().unwrap();
    // The cut took the records of the changes whose pages the failed fsync dropped: so those pages were written
    // again (not just read back) before it.
    let after = trees[0].wal().log_bytes();
    assert!(
        after < before / 4,
        "the reopen's checkpoint did not cut the log: {before} -> {after} bytes"
    );
    power_loss_then_check(&devices, trees);
}
