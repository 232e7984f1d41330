//! R12-3 (RELIABILITY.md): a pool whose storage writes through another pool (a storage layered on a second
//! `BufferPool`: here it counts its writes in a page of the other pool and flushes it) failed its file on its
//! first page write: `checkpoint` returned `Error::Io` ("Storage::write_at panicked: already borrowed") and every
//! later write of the file was refused (`FileFailed`).
//!
//! The story: `write_run` (`writer.rs`) stamps a page's checksum into a private copy in a per-thread buffer
//! (`WRITE_BUF`) and calls the storage's `write_at` while it holds the buffer's `RefCell` borrow. The storage's
//! own page write in the other pool ran `write_run` again on the same thread, whose `borrow_mut` panicked; the
//! outer call caught the panic as its storage's (`catch_io`), and a failed write of unknown outcome fails the file.
//! The pool's other per-thread I/O resource, `uring.rs`'s ring, already gave a re-entrant call plain I/O instead.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bufpool::storage::{Storage, StorageInfo};
use bufpool::{BufferPool, FileId, MemoryStorage, PageId};

/// A storage that keeps its bytes in memory and, after each write, counts it in page 0 of a file of another
/// pool, flushed at once (as a storage that logs or mirrors its writes through a pool would).
struct Layered {
    inner: MemoryStorage,
    other: Arc<BufferPool>,
    file: FileId,
    /// Writes made (and counted in the other pool).
    calls: Arc<AtomicU32>,
}

impl Storage for Layered {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_at(buf, offset)?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let page = PageId::new(self.file, 0);
        let mut g = self.other.write(page).map_err(io::Error::other)?;
        let n = u32::from_le_bytes(g[..4].try_into().unwrap()) + 1;
        g[..4].copy_from_slice(&n.to_le_bytes());
        drop(g);
        self.other.flush(page).map_err(io::Error::other)
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
}

#[test]
fn a_storage_that_writes_through_another_pool_on_the_same_thread_works() {
    let other = Arc::new(BufferPool::builder().frames(4).build().unwrap());
    let counts = other.open_storage(MemoryStorage::new()).unwrap();
    drop(other.new_page(counts).unwrap());
    other.checkpoint().unwrap();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let file = pool
        .open_storage(Layered {
            inner: MemoryStorage::new(),
            other: other.clone(),
            file: counts,
            calls: calls.clone(),
        })
        .unwrap();
    // Ten pages through four frames: evictions write pages, and so does the checkpoint.
    for i in 0..10u32 {
        pool.new_page(file).unwrap()[..4].copy_from_slice(&i.to_le_bytes());
    }
    pool.checkpoint().unwrap();
    for i in 0..10u32 {
        assert_eq!(pool.read(PageId::new(file, i)).unwrap()[..4], i.to_le_bytes());
    }
    let written = u32::from_le_bytes(other.read(PageId::new(counts, 0)).unwrap()[..4].try_into().unwrap());
    assert!(written > 0, "the pool's page writes went through the storage");
    assert_eq!(
        written,
        calls.load(Ordering::Relaxed),
        "every write was counted in the other pool"
    );
    pool.write(PageId::new(file, 3)).unwrap()[0] = 0xee;
    pool.checkpoint().unwrap();
}
