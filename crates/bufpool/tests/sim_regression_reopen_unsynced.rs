//! Regression test for finding B2 (RELIABILITY.md), met while designing the crash simulation's model.
//!
//! The story: `flush(page)` promises "when this returns `Ok`, the page's current content is durable". A file's
//! `unsynced` flag starts `false` when it is opened, and a flush of a clean (or non-resident) page only syncs
//! when that flag is set. So writes that reached the storage through an *earlier* handle of the same file and
//! were never synced are not made durable by a flush after reopening:
//! 1. page 0 is written (evicted by page 1's arrival in a one-frame pool): the write completes, no sync yet;
//! 2. `drop_file`, then the same storage is opened again (as an engine does after `drop_file`, or a restarted
//!    process finds a warm OS page cache);
//! 3. `flush(page 0)` returns `Ok` without any sync: the new handle believes nothing is unsynced;
//! 4. power is lost: page 0 never reached the durable image, although its content was current and flushed.
//!
//! PostgreSQL meets the same situation at start-up and fsyncs the whole data directory before trusting it. A fix
//! here: open a file with `unsynced = true` (one extra sync on the first flush or checkpoint, cheap). Fixed:
//! a file now opens with `unsynced = true`.

use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultyStorage};
use bufpool::{BufferPool, PageId};

#[test]
fn flush_after_reopen_makes_earlier_writes_durable() {
    let storage = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let pool = BufferPool::builder().frames(1).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    pool.new_page(file).unwrap().fill(0xA1);
    pool.new_page(file).unwrap().fill(0xB2); // evicts page 0: written, not synced
    assert!(storage.counts().writes >= 1 && storage.counts().syncs == 0);
    pool.drop_file(file).unwrap();
    let file = pool.open_storage_as(file, storage.clone()).unwrap();
    let page0 = PageId::new(file, 0);
    assert!(
        pool.read(page0).unwrap().iter().all(|&b| b == 0xA1),
        "the content is current"
    );
    pool.flush(page0).unwrap();

    let image = storage.crash();
    let after = BufferPool::builder().frames(4).build().unwrap();
    let file = after.open_storage(bufpool::MemoryStorage::from_bytes(image)).unwrap();
    let page = after.read(PageId::new(file, 0));
    assert!(
        page.is_ok_and(|g| g.iter().all(|&b| b == 0xA1)),
        "page 0 was flushed after it was read back, so it must survive the crash"
    );
}
