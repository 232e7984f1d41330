//! Session 42 (same42): "readable is not durable" after a failed fsync, then a reopen in the same process on the
//! same storage objects (L42-1's class). Each test: write, an fsync fails, what failed is dropped, the tree is
//! opened again on the same devices (the failed writes still readable), goes on (commit, checkpoint), then a power
//! loss keeps only what was synced, and every acknowledged change must be there.

use crate::common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::BufferPool;
use bufpool_btree::{Tree, TreeWal};
use common::hooked::Hooked;
use common::{key, value, Sidecar};

struct Devices {
    log: Arc<FaultyStorage>,
    data: Arc<FaultyStorage>,
}

impl Devices {
    fn new() -> Devices {
        Devices {
            log: Arc::new(FaultyStorage::new(1, FaultConfig::none())),
            data: Arc::new(FaultyStorage::new(2, FaultConfig::none())),
        }
    }

    /// The devices as a power loss that keeps no unsynced write leaves them.
    fn power_loss(&self) -> Devices {
        Devices {
            log: Arc::new(FaultyStorage::from_image(
                3,
                FaultConfig::none(),
                self.log.durable_image(),
            )),
            data: Arc::new(FaultyStorage::from_image(
                4,
                FaultConfig::none(),
                self.data.durable_image(),
            )),
        }
    }

    fn open(&self) -> Tree {
        let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
        let wal = TreeWal::open_storage(self.log.clone()).unwrap();
        Tree::open_storage(pool, wal, self.data.clone()).unwrap()
    }
}

fn check(tree: &Tree, ids: std::ops::Range<u64>, version: u64, when: &str) {
    check_keys(tree, ids, key, version, when)
}

fn check_keys(tree: &Tree, ids: std::ops::Range<u64>, key: fn(u64) -> Vec<u8>, version: u64, when: &str) {
    tree.check().unwrap();
    for id in ids {
        assert_eq!(
            tree.get(&key(id)).unwrap(),
            Some(value(id, version)),
            "{when}: key {id}"
        );
    }
}

/// Checks that a failed fsync dropped `what`, written past the data file's durable length `durable`: readable
/// (the live image longer), not durable (the durable image as long as before).
fn dropped_past(data: &FaultyStorage, durable: usize, what: &str) {
    assert!(
        data.live_image().len() > durable && data.durable_image().len() == durable,
        "the failed fsync was to drop {what}: durable {} bytes, live {}",
        data.durable_image().len(),
        data.live_image().len()
    );
}

/// Pages appended past the data file's old end (a tree grown from a few keys to thousands: new leaves and inner
/// pages), their checkpoint's data fsync failed: the file's readable length and pages are not durable. The
/// reopen in the same process reads them; its checkpoint cuts the log; a power loss must lose nothing.
#[test]
fn new_pages_whose_data_fsync_failed_are_not_trusted_by_a_reopen_in_the_same_process() {
    const KEYS: u64 = 3_000;
    let dev = Devices::new();
    let tree = dev.open();
    for id in 0..4 {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.checkpoint().unwrap();
    let pages = dev.data.durable_image().len();
    for id in 0..KEYS {
        tree.put(&key(id), &value(id, 1)).unwrap();
    }
    tree.commit().unwrap();
    dev.data.inject_next(Op::Sync, Fault::Eio);
    assert!(tree.checkpoint().is_err(), "the checkpoint whose data fsync failed");
    dropped_past(&dev.data, pages, "pages past the old end");
    drop(tree);
    let tree = dev.open();
    check(&tree, 0..KEYS, 1, "the reopen");
    let end = tree.wal().end_lsn();
    tree.checkpoint().unwrap();
    for id in KEYS..KEYS + 50 {
        tree.put(&key(id), &value(id, 1)).unwrap();
    }
    tree.commit().unwrap();
    // The reopen's checkpoint cut the log past every record of the changes whose pages the fsync dropped.
    assert!(
        tree.wal().start_lsn() >= end,
        "the reopen's checkpoint did not cut the log: start {} end {end}",
        tree.wal().start_lsn()
    );
    let lost = dev.power_loss();
    drop(tree);
    check(&lost.open(), 0..KEYS + 50, 1, "after a power loss");
}

/// Keys in the order of their ids (a bulk load's input is sorted).
fn ordered(id: u64) -> Vec<u8> {
    format!("key{id:010}").into_bytes()
}

/// A bulk load whose data fsync failed (its pages written past the old end, readable, not durable; the load
/// refused before its switch), then the same load again after a reopen in the same process (the file's readable
/// length counts the first load's pages), a commit, a checkpoint, a power loss: every pair of the second load,
/// which returned `Ok` ("durable when it returns"), must be there, and the keys before it too.
#[test]
fn a_bulk_load_retried_after_its_failed_data_fsync_and_a_reopen_survives_a_power_loss() {
    const BEFORE: u64 = 200;
    const LOADED: u64 = 5_000;
    let dev = Devices::new();
    let tree = dev.open();
    for id in 0..BEFORE {
        tree.put(&ordered(id), &value(id, 0)).unwrap();
    }
    tree.checkpoint().unwrap();
    let pairs = || (BEFORE..BEFORE + LOADED).map(|id| (ordered(id), value(id, 0)));
    let durable = dev.data.durable_image().len();
    dev.data.inject_next(Op::Sync, Fault::Eio);
    let r = tree.bulk_load(pairs());
    assert!(r.is_err(), "the load whose data fsync failed: {r:?}");
    dropped_past(&dev.data, durable, "the load's pages");
    drop(tree);
    let tree = dev.open();
    check_keys(&tree, 0..BEFORE, ordered, 0, "the reopen");
    assert_eq!(tree.bulk_load(pairs()).unwrap(), LOADED);
    for id in 0..BEFORE {
        tree.put(&ordered(id), &value(id, 0)).unwrap();
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    let lost = dev.power_loss();
    drop(tree);
    check_keys(&lost.open(), 0..BEFORE + LOADED, ordered, 0, "after a power loss");
}

/// A new data file's record (its identity, which the tree's log then names) whose sync failed: the pool's open
/// fails, the record's writes stay readable, not durable. The tree opened again in the same process on the same
/// storages read that record, and its log's header was bound to the identity in it. A commit, then a power loss
/// before any checkpoint (the data file empty on the device, every change in the log): the record was gone, the
/// open made a new one with another identity, and the tree's open refused its own log (`LogMismatch`), every
/// acknowledged change in it unreachable.
#[test]
fn a_file_record_whose_sync_failed_is_not_trusted_by_a_reopen_in_the_same_process() {
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let record = Arc::new(FaultyStorage::new(2, FaultConfig::none()));
    let pages = Arc::new(FaultyStorage::new(3, FaultConfig::none()));
    let open = |log: &Arc<FaultyStorage>, pages: &Arc<FaultyStorage>, record: &Arc<FaultyStorage>| {
        let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
        let wal = TreeWal::open_storage(log.clone())?;
        let data = Hooked::new(pages.clone(), Sidecar(record.clone()));
        Tree::open_storage(pool, wal, data)
    };
    record.inject_next(Op::Sync, Fault::Eio);
    let failed = open(&log, &pages, &record);
    assert!(failed.is_err(), "the record's sync was to fail the open");
    assert_eq!(
        record.counts().sync_eio,
        1,
        "the injected fault did not fire where meant"
    );
    drop(failed);
    let tree = open(&log, &pages, &record).unwrap();
    for id in 0..500 {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.commit().unwrap();
    // A power loss: only what was synced is left.
    let image = |s: &FaultyStorage| Arc::new(FaultyStorage::from_image(9, FaultConfig::none(), s.durable_image()));
    let (log2, pages2, record2) = (image(&log), image(&pages), image(&record));
    drop(tree);
    let tree = open(&log2, &pages2, &record2).unwrap_or_else(|e| {
        panic!(
            "after a power loss the tree whose commits are in its log does not open ({} bytes of data, {} of \
             record on the device): {e}",
            pages.durable_image().len(),
            record.durable_image().len()
        )
    });
    check(&tree, 0..500, 0, "after a power loss");
}

/// The layer above (a transaction log over the trees, as bufpool-cli's TPC-C engine `ours.rs`): covered changes
/// logged in `above`, applied with `put_covered`; its open replays `above` into the tree, checkpoints the tree and
/// cuts `above`. Here a checkpoint's data fsync failed after the covered changes were written (their leaves
/// readable, not durable), the engine reopened in the same process on the same devices (its replay puts values the
/// leaves already hold), checkpointed and cut `above`, then a power loss.
#[test]
fn covered_changes_whose_data_fsync_failed_survive_a_same_process_reopen_and_cut_of_the_log_above() {
    const KEYS: u64 = 600;
    let dev = Devices::new();
    let above_dev = Arc::new(FaultyStorage::new(5, FaultConfig::none()));
    let open = |dev: &Devices, above_dev: &Arc<FaultyStorage>| {
        let above = TreeWal::open_storage(above_dev.clone()).unwrap();
        let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
        let wal = TreeWal::open_storage(dev.log.clone()).unwrap();
        wal.flush_first(above.clone()).unwrap();
        let tree = Tree::open_storage(pool, wal, dev.data.clone()).unwrap();
        // The engine's replay, then its checkpoint and the cut of the log above.
        common::redo_above(&above, &tree);
        let r = above.begin_checkpoint();
        Tree::checkpoint_all(std::slice::from_ref(&tree)).unwrap();
        above.truncate_before(r).unwrap();
        (above, tree)
    };
    let (above, tree) = open(&dev, &above_dev);
    for id in 0..KEYS {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.checkpoint().unwrap();
    for id in 0..KEYS {
        common::covered_put(&above, &tree, &key(id), &value(id, 1));
    }
    above.commit().unwrap();
    dev.data.inject_next(Op::Sync, Fault::Eio);
    assert!(tree.checkpoint().is_err(), "the checkpoint whose data fsync failed");
    assert!(
        dev.data.counts().writes_dropped_by_failed_sync > 0,
        "the failed fsync dropped no write"
    );
    drop((tree, above));
    let (above, tree) = open(&dev, &above_dev);
    check(&tree, 0..KEYS, 1, "the reopen");
    assert_eq!(above.start_lsn(), above.end_lsn(), "the reopen cut the log above");
    let lost = dev.power_loss();
    let above_lost = Arc::new(FaultyStorage::from_image(
        6,
        FaultConfig::none(),
        above_dev.durable_image(),
    ));
    drop((tree, above));
    let (_above, tree) = open(&lost, &above_lost);
    check(&tree, 0..KEYS, 1, "after a power loss");
}

/// A new log's directory fsync failed (its name readable, not durable: a power loss may take the file, every
/// record in it). The open fails; an open of the same path in the same process found the header the failed one
/// wrote, took the name for durable and appended: the commits it acknowledged could vanish with the file. It must
/// fsync the directory too (here refused, as the first one was), and open once that succeeds. The fault:
/// `bufpool::storage::fail_dir_syncs` on this test's own directory (matched by identity: no other test's).
#[test]
fn a_log_whose_directory_fsync_failed_is_not_trusted_by_a_reopen_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wal");
    bufpool::storage::fail_dir_syncs(Some(dir.path())).unwrap();
    let first = TreeWal::open(&path);
    let again = TreeWal::open(&path);
    bufpool::storage::fail_dir_syncs(None).unwrap();
    assert!(first.is_err(), "the new log's directory fsync was to fail its open");
    assert!(
        again.is_err(),
        "a reopen of a log whose directory fsync failed opened without one (its name may not be durable)"
    );
    let wal = TreeWal::open(&path).unwrap();
    wal.append(&[bufpool_btree::Op::Put {
        page: 1,
        key: b"k",
        val: b"v",
    }])
    .unwrap();
    wal.commit().unwrap();
}
