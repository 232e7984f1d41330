//! R39-2: an open retried after an open (or a commit) whose log fsync failed. The failed fsync leaves its records
//! readable but not durable (Linux keeps the pages cached and marks them clean; `FaultyStorage` drops its pending
//! writes the same way). The next open read them as the log, replayed them, and its checkpoint wrote pages at
//! their LSNs; a power loss before that checkpoint's cut was durable then left pages ahead of the log on disk
//! ("page 0 has LSN ..., beyond the end of the log"), torn pages without their images, or committed changes lost.
//! Found by the B+tree's whole-API model (`whole_api_model.rs`, its reopens under faults, seeds 2269, 2955 and
//! others: RELIABILITY.md). An open now writes the records it read again and syncs them before anything relies
//! on them (`wal.rs`, `rewrite`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use crate::common::hooked::{changes_bytes, Hooked, Hooks};
use crate::common::{key, value};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, MemoryStorage, Op, Storage};
use bufpool_btree::{BufferPool, Tree, TreeWal};

/// The log's header slots lie in its first 1,024 bytes (`wal.rs`, `LOG_HDR`); its records after them.
const HEADER_BYTES: u64 = 8192;

/// A log storage's hooks that make its sync fail, once armed, when a header slot was changed since the last sync:
/// the cut that ends a checkpoint (its new header) never becomes durable, as after a power loss just before its
/// fsync. `log` is the storage below, whose own fault (`Fault::Eio` on the sync) drops its pending writes. An
/// open's rewrite of the slots as read (L42-1, R42-3) changes no byte and is let through, and the mark is cleared
/// at every sync: until session 43 any slot write counted and the mark outlived the first life, so the retried
/// open failed at its first fsync, before replay, and this test passed without R39-2's fix (R43-4 in
/// RELIABILITY.md). Since R43-1 an open's own slot write changes bytes (the header in force, written to the other
/// slot at the next sequence): `let_through` such syncs pass first, once armed.
struct HeaderSyncFails {
    log: Arc<FaultyStorage>,
    armed: AtomicBool,
    header_changed: AtomicBool,
    let_through: AtomicU32,
}

impl Hooks for HeaderSyncFails {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if offset < HEADER_BYTES && changes_bytes(below, buf, offset)? {
            self.header_changed.store(true, Ordering::SeqCst);
        }
        below.write_at(buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> std::io::Result<()> {
        if self.header_changed.swap(false, Ordering::SeqCst)
            && self.armed.load(Ordering::SeqCst)
            && self
                .let_through
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            self.log.inject_next(Op::Sync, Fault::Eio);
        }
        below.sync()
    }
}

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).page_size(4096).build().unwrap())
}

/// 300 keys committed; 300 more whose commit's log fsync fails (their records readable, not durable); a second
/// open replays them and checkpoints, but its cut's fsync fails too (the open returns an error); then a power loss
/// keeps only what was synced. Recovery must open, the tree must check clean, and the 300 committed keys must be
/// there (the 300 unacknowledged ones whole or not at all).
#[test]
fn an_open_after_a_failed_log_sync_makes_the_records_it_replays_durable() {
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let data = Arc::new(FaultyStorage::new(2, FaultConfig::none()));
    let dev = Arc::new(Hooked::new(
        log.clone(),
        HeaderSyncFails {
            log: log.clone(),
            armed: AtomicBool::new(false),
            header_changed: AtomicBool::new(false),
            let_through: AtomicU32::new(0),
        },
    ));
    {
        let wal = TreeWal::open_storage(dev.clone()).unwrap();
        let tree = Tree::create_storage(pool(), wal, data.clone()).unwrap();
        for id in 0..300 {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.commit().unwrap();
        for id in 300..600 {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        log.inject_next(Op::Sync, Fault::Eio);
        assert!(tree.commit().is_err(), "the commit's log fsync was made to fail");
    }
    assert!(
        log.live_image() != log.durable_image(),
        "the failed commit's records are readable, not durable"
    );
    // The retry: replays the 300 unacknowledged puts and checkpoints; the cut's header never becomes durable.
    // The retried open's own slot write (R43-1) passes; its checkpoint's cut is the header write that fails.
    dev.hooks.let_through.store(1, Ordering::SeqCst);
    dev.hooks.armed.store(true, Ordering::SeqCst);
    let data_before = data.durable_image();
    let retried = TreeWal::open_storage(dev.clone()).and_then(|wal| Tree::open_storage(pool(), wal, data.clone()));
    assert!(retried.is_err(), "the open's cut was made to fail");
    assert!(
        data.durable_image() != data_before,
        "the retried open failed before its checkpoint wrote the data file: not the case this test is about"
    );
    drop(retried);
    // Power loss: only synced bytes survive.
    let log2 = MemoryStorage::from_bytes(log.durable_image());
    let data2 = MemoryStorage::from_bytes(data.durable_image());
    let tree = TreeWal::open_storage(log2)
        .and_then(|wal| Tree::open_storage(pool(), wal, data2))
        .unwrap_or_else(|e| panic!("recovery after the power loss failed: {e}"));
    let stats = tree
        .check()
        .unwrap_or_else(|e| panic!("the recovered tree does not check: {e}"));
    for id in 0..300 {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 0)), "committed key {id}");
    }
    let later = (300..600)
        .filter(|&id| tree.get(&key(id)).unwrap() == Some(value(id, 1)))
        .count();
    assert!(
        later == 0 || later == 300,
        "the unacknowledged commit is partly there: {later} of 300"
    );
    assert_eq!(stats.entries, 300 + later);
}
