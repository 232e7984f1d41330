//! A write fails (EIO). The file must refuse every later write with `FileFailed` (a retry after a failed write
//! or fsync cannot be trusted), the dirty page must stay in the pool with its new content (not lost, not marked
//! clean), reads must go on working, and other files must be unaffected.

use crate::common;

use std::sync::atomic::Ordering::SeqCst;

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

#[test]
fn failed_write_latches_file_failure_and_keeps_the_page() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let other = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, 0, 1);
        g.page_id()
    };
    pool.flush(page).unwrap();
    {
        let mut g = pool.write(page).unwrap();
        common::fill_page(&mut g, 0, 2);
    }
    storage.fail_writes.store(true, SeqCst);
    assert!(matches!(pool.flush(page), Err(Error::Io { op: "write", .. })));
    storage.fail_writes.store(false, SeqCst);
    // The device is fine again, but the file is not trusted any more.
    assert!(matches!(pool.flush(page), Err(Error::FileFailed { .. })));
    assert!(matches!(pool.write(page), Err(Error::FileFailed { .. })));
    assert!(matches!(pool.new_page(file), Err(Error::FileFailed { .. })));
    assert!(pool.checkpoint().is_err());
    // The new content is still served, and the page is still dirty.
    assert_eq!(common::check_page(&pool.read(page).unwrap(), 0), 2);
    let st = pool.stats();
    assert_eq!(st.dirty, 1);
    assert!(st.files.iter().any(|f| f.file == file && f.failed));
    // Filling the pool with another file's pages never evicts the unwritable page.
    for _ in 0..10 {
        drop(pool.new_page(other).unwrap());
    }
    assert_eq!(common::check_page(&pool.read(page).unwrap(), 0), 2);
    assert!(pool.flush_file(other).is_ok(), "other files are unaffected");
}

#[test]
fn failed_sync_latches_file_failure() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    storage.fail_syncs.store(true, SeqCst);
    assert!(matches!(pool.flush(page), Err(Error::Io { op: "sync", .. })));
    storage.fail_syncs.store(false, SeqCst);
    assert!(matches!(pool.flush(page), Err(Error::FileFailed { .. })));
    let _ = PageId::new(file, 0);
}

#[test]
fn enospc_is_reported_as_no_space() {
    struct Full;
    impl bufpool::Storage for Full {
        fn len(&self) -> std::io::Result<u64> {
            Ok(0)
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> std::io::Result<usize> {
            Ok(0)
        }
        fn write_at(&self, _: &[u8], _: u64) -> std::io::Result<()> {
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        }
        fn sync(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn info(&self) -> bufpool::storage::StorageInfo {
            bufpool::storage::StorageInfo {
                backend: "full",
                direct: false,
            }
        }
    }
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(Full).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    assert!(matches!(pool.flush(page), Err(Error::NoSpace { page: p, pages: 1 }) if p == page));
    assert_eq!(pool.stats().dirty, 1, "nothing was lost");
}
