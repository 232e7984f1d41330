//! A log on a `Storage` of the caller's that panics (`TreeWal::open_storage`): the pool catches its data files'
//! storages' panics (`bufpool::Error::Panicked`, the file failed), and a tree's log must not be left worse off by
//! its own. A panic in an open's recovery left the data file open and the log claimed (R17-O2); a panic in a
//! write of the log's records lost them and let the next commit succeed past the hole (R18-2).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::common::panicky::Panicky;
use crate::common::{assert_committed_keys, committed_in_log_only, key, value};

use bufpool::storage::MemoryStorage;
use bufpool_btree::{BufferPool, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).page_size(4096).build().unwrap())
}

/// R17-O2: a log storage that panics while an open's recovery reads the log. The panic unwound out of
/// `Tree::open_storage`, leaving the data file open in the pool with the replay's pages and the log claimed with
/// it (R17-1): the next open was refused ("held by a dropped tree whose data file is still open") until the
/// caller closed a file whose id no call had returned. Now the open is refused with an error naming the panic,
/// nothing is left in the pool, and the same log and file open the tree at once, every key there.
#[test]
fn a_log_storage_panicking_in_recovery_refuses_the_open_and_leaves_nothing_open() {
    let (log, data) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    committed_in_log_only(&log, &data);
    let pool = pool();
    let dev = Panicky::new(log, "the log storage");
    let wal = TreeWal::open_storage(dev.clone()).unwrap();
    dev.hooks.reads.store(0, Ordering::SeqCst); // recovery's first read of the log
    let opened = catch_unwind(AssertUnwindSafe(|| {
        Tree::open_storage(pool.clone(), wal.clone(), data.clone())
    }));
    // Unwound (main), what it left is checked first.
    let unwound = opened.is_err();
    if let Ok(opened) = opened {
        let e = opened.expect_err("an open whose recovery could not read the log");
        assert!(
            e.to_string().contains("panicked") && e.to_string().contains("the log storage's read panicked"),
            "{e}"
        );
    }
    assert!(pool.stats().files.is_empty(), "the data file is still open in the pool");
    assert_eq!(pool.stats().resident, 0, "the replay's pages are still cached");
    assert!(!unwound, "the log storage's panic unwound out of Tree::open_storage");
    let tree = Tree::open_storage(pool.clone(), wal, data).unwrap();
    assert_committed_keys(&tree, "after the refused open");
    tree.close().unwrap();
}

/// R18-2: a log storage that panics in a commit's write. The write had taken the buffered records from the log's
/// buffer, so the panic dropped them; the next commit wrote the records after them at their own offsets and made
/// them durable, past the hole. Recovery stops at the hole: a commit acknowledged after the panic was lost at the
/// next open (and a page of it written meanwhile would make the tree refuse to open: its LSN past the log's end).
/// Now the panic is the write's error: the log fails, the commit returns it, and every later change is refused.
#[test]
fn a_log_storage_panicking_in_a_write_fails_the_log_and_loses_nothing_acknowledged() {
    let (log, data) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let dev = Panicky::new(log.clone(), "the log storage");
    let mut acknowledged = Vec::new();
    let unwound;
    {
        let wal = TreeWal::open_storage(dev.clone()).unwrap();
        let tree = Tree::create_storage(pool(), wal, data.clone()).unwrap();
        for id in 0..10 {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.commit().unwrap();
        acknowledged.extend(0..10);
        dev.hooks.writes.store(0, Ordering::SeqCst); // the next commit's write
        tree.put(&key(10), &value(10, 0)).unwrap();
        let committed = catch_unwind(AssertUnwindSafe(|| tree.commit()));
        // Unwound (main), what follows is checked first.
        unwound = committed.is_err();
        if let Ok(committed) = committed {
            let e = committed.expect_err("a commit whose write panicked");
            assert!(e.to_string().contains("the log storage's write panicked"), "{e}");
        }
        // The log is failed: nothing after the lost records is acknowledged.
        if tree.put(&key(11), &value(11, 0)).and_then(|()| tree.commit()).is_ok() {
            acknowledged.push(11);
        }
        // Dropped with its pool, which writes nothing: what a restart finds is the log.
    }
    let wal = TreeWal::open_storage(log).unwrap();
    let tree = Tree::open_storage(pool(), wal, data).unwrap();
    for &id in &acknowledged {
        assert_eq!(
            tree.get(&key(id)).unwrap(),
            Some(value(id, 0)),
            "acknowledged key {id} lost"
        );
    }
    tree.check().unwrap();
    assert_eq!(
        acknowledged.len(),
        10,
        "a commit acknowledged after the log lost records"
    );
    assert!(!unwound, "the log storage's panic unwound out of Tree::commit");
}
