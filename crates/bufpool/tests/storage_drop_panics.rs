//! A caller's `Storage` whose `Drop` panics (R21-40; was R20-O3, session 20).
//!
//! A file's storage is freed by whichever thread drops the file's last reference after a close or drop: the
//! caller's, or the background writer's or an I/O worker's when a write run or a prefetch batch held the file
//! meanwhile. Neither pool thread runs under `catch_unwind`, so a storage whose `Drop` panicked there ended that
//! thread silently. Now the pool drops a file's storage (and its log) under the panic wrapper, on every thread: the
//! panic is reported by the panic hook, and the close, the drop and the thread go on. The caller's thread is the one
//! a test can choose; the pool threads run the same `Drop` (`FileEntry`'s, in `files.rs`).

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bufpool::storage::{Storage, StorageInfo};
use bufpool::{BufferPool, MemoryStorage, PageId};

use crate::common;

/// A memory storage whose `Drop` panics.
struct PanicsOnDrop(MemoryStorage);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the storage's drop panics");
    }
}

impl Storage for PanicsOnDrop {
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.0.sync()
    }
    fn info(&self) -> StorageInfo {
        self.0.info()
    }
}

#[test]
fn a_storage_whose_drop_panics_is_closed_and_dropped_without_unwinding_out_of_the_pool() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let other = pool.open_storage(MemoryStorage::new()).unwrap();
    common::fill_page(&mut pool.new_page(other).unwrap(), 0, 3);
    for close in [true, false] {
        let file = pool.open_storage(PanicsOnDrop(MemoryStorage::new())).unwrap();
        common::fill_page(&mut pool.new_page(file).unwrap(), 0, 7);
        let done = catch_unwind(AssertUnwindSafe(|| {
            if close {
                pool.close_file(file)
            } else {
                pool.drop_file(file)
            }
        }));
        // On main the storage's panic unwound out of `close_file` / `drop_file`.
        let verb = if close { "close_file" } else { "drop_file" };
        let result = done.unwrap_or_else(|_| panic!("the storage's panic unwound out of {verb}"));
        result.unwrap_or_else(|e| panic!("{verb}: {e}"));
        // The id is free again and the pool serves on.
        assert!(
            pool.read(PageId::new(file, 0)).is_err(),
            "{verb}: the file is still open"
        );
    }
    assert_eq!(common::check_page(&pool.read(PageId::new(other, 0)).unwrap(), 0), 3);
    pool.checkpoint().unwrap();
}
