//! Session 47 (R46-O40 in RELIABILITY.md): a page the tree latched for an operation that changed nothing (one the
//! log refused, a check, a no-op) must stay clean. The tree's log holds a full image of a page at its first
//! change after a checkpoint, so a page written with no change since then has nothing in the log to rebuild it
//! from if a power loss garbles that write (a device that does not write a 4 KiB block atomically:
//! `FaultyStorage::crash_garbling_blocks`). Until session 47 the pool's default write guard made its page dirty
//! when taken, and every refused put or delete left its leaf dirty: evicted, written, garbled, lost.

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::BufferPool;
use bufpool_btree::{Tree, TreeWal};

use crate::common::{key, sized_value};

const KEYS: u64 = 600;
/// Fewer frames than the tree has pages, so that reading every key evicts (and writes, if dirty) its leaves.
const FRAMES: usize = 16;

/// The tree on `log` and `data` in a fresh pool; `clean`: the pool's `Builder::clean_write_guards`.
fn open(log: &Arc<FaultyStorage>, data: &Arc<FaultyStorage>, clean: bool) -> (Arc<BufferPool>, Tree) {
    let pool = Arc::new(
        BufferPool::builder()
            .frames(FRAMES)
            .clean_write_guards(clean)
            .build()
            .unwrap(),
    );
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let tree = Tree::open_storage(pool.clone(), wal, data.clone()).unwrap();
    (pool, tree)
}

/// Two fresh devices (seeds `seed`, `seed + 1`), a tree on them with every key at version 1, committed and
/// checkpointed, in a pool as [`open`]'s.
fn loaded(seed: u64, clean: bool) -> (Arc<FaultyStorage>, Arc<FaultyStorage>, Arc<BufferPool>, Tree) {
    let log = Arc::new(FaultyStorage::new(seed, FaultConfig::none()));
    let data = Arc::new(FaultyStorage::new(seed + 1, FaultConfig::none()));
    let (pool, tree) = open(&log, &data, clean);
    for id in 0..KEYS {
        tree.put(&key(id), &sized_value(id, 1, 100)).unwrap();
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    (log, data, pool, tree)
}

/// The tree reopened on what a power loss left (`log_image`, `data_image`), checked; each key's value as `want`
/// says (`None`: either version 1 or 2).
fn after_power_loss(log_image: Vec<u8>, data_image: Vec<u8>, want: impl Fn(u64) -> Option<u64>) {
    let log = Arc::new(FaultyStorage::from_image(90, FaultConfig::none(), log_image));
    let data = Arc::new(FaultyStorage::from_image(91, FaultConfig::none(), data_image));
    let (_pool, tree) = open(&log, &data, false);
    tree.check().unwrap();
    for id in 0..KEYS {
        let got = tree.get(&key(id)).unwrap();
        let ok = match want(id) {
            Some(v) => got == Some(sized_value(id, v, 100)),
            None => (1..=2).any(|v| got == Some(sized_value(id, v, 100))),
        };
        assert!(
            ok,
            "key {id} after the power loss: {got:?}, want version {:?}",
            want(id)
        );
    }
}

#[test]
fn refused_operations_leave_their_leaves_clean_and_a_garbling_power_loss_loses_nothing() {
    let (log, data, pool, tree) = loaded(1, false);
    assert_eq!(pool.stats().dirty, 0, "a checkpoint leaves nothing dirty");
    assert!(tree.check().unwrap().leaves > FRAMES, "more leaves than frames");
    assert_eq!(
        pool.stats().dirty,
        0,
        "Tree::check latched the meta page and made it dirty"
    );

    // The log fails: the put of key 0 changed its leaf (dirty, and unwritable until the log is durable), every
    // later change is refused after its leaf is latched.
    log.inject_next(Op::Sync, Fault::EioPersistent);
    tree.put(&key(0), &sized_value(0, 2, 100)).unwrap();
    assert!(tree.commit().is_err(), "the commit's sync was to fail");
    let dirty = pool.stats().dirty;
    for id in (10..KEYS).step_by(10) {
        assert!(
            tree.put(&key(id), &sized_value(id, 2, 100)).is_err(),
            "a put after the log failed"
        );
        assert!(tree.delete(&key(id)).is_err(), "a delete after the log failed");
    }
    assert_eq!(
        pool.stats().dirty,
        dirty,
        "refused puts and deletes made their leaves dirty"
    );

    // Reading every key evicts the leaves. With the refused ones dirty, these reads failed: no frame could be
    // freed while the log refused the flush their writes need. Then the power fails, every block written since
    // the last sync garbled.
    for id in 0..KEYS {
        assert!(tree.get(&key(id)).unwrap().is_some());
    }
    let (log_image, data_image) = (log.crash(), data.crash_garbling_blocks(1.0));
    drop(tree);
    drop(pool);

    // Key 0's put was not committed: either version.
    after_power_loss(log_image, data_image, |id| (id > 0).then_some(1));
}

/// What a clean latch must not reach: replay. After a failed data fsync the copies a read returns (the OS page
/// cache; here `FaultyStorage`'s live image) may not be on the device. A reopen on the devices as they are finds
/// pages newer than their records and skips the records; a page replay met must still be written again before
/// the next checkpoint cuts the log that holds its image, or a power loss after that cut finds the device's older
/// copy and no record to bring it forward (R47-30 in RELIABILITY.md: replay makes every page it meets dirty,
/// whatever kind of write guard the pool gives by default: both are run).
#[test]
fn a_reopen_after_a_failed_data_sync_rewrites_what_replay_met() {
    for clean in [false, true] {
        reopen_after_a_failed_data_sync(clean);
    }
}

fn reopen_after_a_failed_data_sync(clean: bool) {
    let (log, data, pool, tree) = loaded(5, clean);
    for id in 0..KEYS {
        tree.put(&key(id), &sized_value(id, 2, 100)).unwrap();
    }
    tree.commit().unwrap();
    data.inject_next(Op::Sync, Fault::Eio);
    assert!(tree.checkpoint().is_err(), "the checkpoint's data sync was to fail");
    assert!(
        data.counts().writes_dropped_by_failed_sync > 0,
        "the failed sync dropped the checkpoint's writes"
    );
    drop(tree);
    drop(pool);

    // The same devices, as they are: reads see the dropped writes.
    let (pool, tree) = open(&log, &data, clean);
    tree.checkpoint().unwrap();
    drop(tree);
    drop(pool);

    after_power_loss(log.crash(), data.crash(), |_| Some(2));
}
