//! R39-1: a read of the log that returns fewer bytes than asked, none at all, before the log's end. The
//! `Storage` contract says a read returns fewer bytes only at the end, but the project's model of an honest
//! device (`FaultConfig::honest`, the crash sims' and the whole-API models' faults) returns short reads, down to
//! zero bytes, and the pool copes with them. The log's recovery scan took a read of zero bytes for the end of the
//! log: it replayed the records before it, took the rest for a torn tail, and the open's checkpoint then cut
//! them: committed changes lost for good, with the open reporting success. Found by the B+tree's whole-API model
//! (`whole_api_model.rs`, seed 2040 of its first long run, where a page newer than the shortened log made the
//! open fail with `LogMismatch` instead).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common::hooked::{Hooked, Hooks};
use crate::common::{assert_committed_keys, committed_in_log_only};

use bufpool::storage::{MemoryStorage, Storage};
use bufpool_btree::{BufferPool, Tree, TreeWal};

/// A storage's hooks whose next read, once armed, returns `Ok(0)` (a short read of nothing, not the end).
struct ShortOnce {
    armed: AtomicBool,
}

impl Hooks for ShortOnce {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if self.armed.swap(false, Ordering::SeqCst) {
            return Ok(0);
        }
        below.read_at(buf, offset)
    }
}

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).page_size(4096).build().unwrap())
}

/// 300 committed keys in the log only (the tree dropped with its pool, which writes nothing); recovery's first
/// read of the records returns nothing. The open must fail (and a second open find every key) or find them all.
#[test]
fn a_short_read_in_recovery_is_not_the_end_of_the_log() {
    let (log, data) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    committed_in_log_only(&log, &data);
    let dev = Arc::new(Hooked::new(
        log.clone(),
        ShortOnce {
            armed: AtomicBool::new(false),
        },
    ));
    let pool = pool();
    let wal = TreeWal::open_storage(dev.clone()).unwrap();
    dev.hooks.armed.store(true, Ordering::SeqCst); // recovery's first read of the records
    let tree = match Tree::open_storage(pool.clone(), wal.clone(), data.clone()) {
        Ok(tree) => tree,
        Err(e) => {
            assert!(matches!(e, bufpool_btree::Error::Log(_)), "{e:?}");
            Tree::open_storage(pool, wal, data).unwrap()
        }
    };
    assert_committed_keys(&tree, "recovery took a read of 0 bytes for the end of the log");
}
