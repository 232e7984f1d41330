//! Panic safety: a panic in any code the caller gives the pool leaves the pool fully usable (issue 11, "Close the
//! class"). One test per callback; RELIABILITY.md's panic-safety table points here.
//!
//! Two rules, documented in the crate docs:
//! - Code the pool calls on its own behalf (the `Storage`, the `Wal`, the eviction veto) may run while the pool
//!   holds latches for other threads' sake: its panic is caught and returned as `Error::Panicked`, after the
//!   pool released what the call held (a storage write or sync that panicked fails the file, as an I/O error).
//! - The caller's own closures (`read_many`'s visitor, `read_optimistic`'s closure) unwind out of the call,
//!   with every latch released and every load of a batch finished.
//!
//! After each panic the tests check the pool is whole: every page can still be write-latched (no latch left
//! behind), every frame can hold a page at once (none leaked), and the bytes are the ones written.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::storage::{IoRequest, Storage, StorageInfo};
use bufpool::{BufferPool, Error, FileId, Lsn, MemoryStorage, PageId, Wal};

const PAGE: usize = 4096;

/// A memory storage whose calls panic on demand.
#[derive(Default)]
struct Panicky {
    inner: MemoryStorage,
    read: AtomicBool,
    write: AtomicBool,
    sync: AtomicBool,
    submit: AtomicBool,
}

impl Panicky {
    fn with_pages(n: usize) -> Arc<Panicky> {
        Arc::new(Panicky {
            inner: MemoryStorage::from_bytes(vec![0; n * PAGE]),
            ..Default::default()
        })
    }
}

impl Storage for Panicky {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        assert!(!self.read.load(SeqCst), "storage read panics");
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        assert!(!self.write.load(SeqCst), "storage write panics");
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        assert!(!self.sync.load(SeqCst), "storage sync panics");
        Ok(())
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        assert!(!self.submit.load(SeqCst), "storage submit panics");
        self.inner.submit(batch)
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "panicky",
            direct: false,
        }
    }
}

/// Every frame holds a page at once and every page can be write-latched: nothing latched or leaked.
fn assert_whole(pool: &BufferPool, file: FileId) {
    let pages = pool.file_pages(file).unwrap();
    let n = (pool.frames() as u32).min(pages);
    let failed = pool.stats().files.iter().any(|f| f.file == file && f.failed);
    if failed {
        // A failed file refuses write guards; shared ones still show no frame is leaked or exclusively held.
        let guards: Vec<_> = (0..n)
            .map(|p| {
                pool.read(PageId::new(file, p))
                    .unwrap_or_else(|e| panic!("page {p}: {e}"))
            })
            .collect();
        drop(guards);
    } else {
        let guards: Vec<_> = (0..n)
            .map(|p| {
                pool.write(PageId::new(file, p))
                    .unwrap_or_else(|e| panic!("page {p}: {e}"))
            })
            .collect();
        drop(guards);
    }
    let stats = pool.stats();
    assert!(stats.resident <= pool.frames());
}

fn is_panicked(r: &Error, what: &str) -> bool {
    matches!(r, Error::Panicked { what: w, .. } if *w == what)
}

#[test]
fn storage_read_panic_fails_the_load_and_frees_the_frame() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let storage = Panicky::with_pages(8);
    let file = pool.open_storage(storage.clone()).unwrap();
    storage.read.store(true, SeqCst);
    for n in 0..8 {
        let e = pool.read(PageId::new(file, n)).unwrap_err();
        assert!(is_panicked(&e, "Storage::read_at"), "{e}");
    }
    storage.read.store(false, SeqCst);
    assert_eq!(pool.stats().resident, 0);
    assert_whole(&pool, file);
}

#[test]
fn storage_write_panic_fails_the_file_and_keeps_the_page() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let storage = Panicky::with_pages(0);
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        g[0] = 0x42;
        g.page_id()
    };
    storage.write.store(true, SeqCst);
    let e = pool.flush(page).unwrap_err();
    assert!(is_panicked(&e, "Storage::write_at"), "{e}");
    assert_eq!(pool.stats().dirty, 1, "an unwritten page stays dirty");
    // The outcome of the write is unknown: the file is failed, as for EIO.
    assert!(matches!(pool.write(page), Err(Error::FileFailed { .. })));
    assert_eq!(
        pool.read(page).unwrap()[0],
        0x42,
        "the page is still readable, unlatched"
    );
}

#[test]
fn storage_sync_panic_is_an_error_of_the_sync() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let storage = Panicky::with_pages(0);
    let file = pool.open_storage(storage.clone()).unwrap();
    drop(pool.new_page(file).unwrap());
    storage.sync.store(true, SeqCst);
    let e = pool.checkpoint().unwrap_err();
    assert!(is_panicked(&e, "Storage::sync"), "{e}");
    assert!(matches!(pool.checkpoint(), Err(Error::FileFailed { .. })));
    assert_whole(&pool, file);
}

#[test]
fn storage_submit_panic_fails_each_page_of_the_batch() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let storage = Panicky::with_pages(8);
    let file = pool.open_storage(storage.clone()).unwrap();
    let pages: Vec<PageId> = (0..3).map(|n| PageId::new(file, n)).collect();
    storage.submit.store(true, SeqCst);
    let mut errors = 0;
    pool.read_many(&pages, |_, r| {
        let e = r.unwrap_err();
        assert!(is_panicked(&e, "Storage::submit"), "{e}");
        errors += 1;
    });
    assert_eq!(errors, 3);
    // Prefetch goes through submit too (on the I/O worker): its loads fail, waiters get the error, no frame stays.
    assert_eq!(pool.prefetch(&pages).unwrap(), 3);
    for &p in &pages {
        match pool.read(p) {
            Ok(_) => {}
            Err(e) => assert!(is_panicked(&e, "Storage::submit"), "{e}"),
        }
    }
    storage.submit.store(false, SeqCst);
    assert_whole(&pool, file);
}

/// A log whose flush panics on demand.
#[derive(Default)]
struct PanickyWal {
    panic: AtomicBool,
}

impl Wal for PanickyWal {
    fn flush_to(&self, _lsn: Lsn) -> bufpool::Result<()> {
        assert!(!self.panic.load(SeqCst), "wal flush panics");
        Ok(())
    }
}

#[test]
fn wal_panic_keeps_the_page_dirty_and_unwritten() {
    let wal = Arc::new(PanickyWal::default());
    let pool = BufferPool::builder().frames(2).wal(wal.clone()).build().unwrap();
    let storage = Panicky::with_pages(0);
    let file = pool.open_storage(storage.clone()).unwrap();
    for lsn in 1..=2 {
        let mut g = pool.new_page(file).unwrap();
        g.set_lsn(lsn);
        g[0] = lsn as u8;
    }
    wal.panic.store(true, SeqCst);
    let e = pool.checkpoint().unwrap_err();
    assert!(is_panicked(&e, "Wal::flush_for_pages"), "{e}");
    assert_eq!(pool.stats().dirty, 2);
    // A miss must evict a dirty page, whose log flush panics: the miss fails, the victims stay.
    let third = pool.new_page(file).unwrap_err();
    assert!(is_panicked(&third, "Wal::flush_for_pages"), "{third}");
    assert_eq!(pool.stats().dirty, 2);
    wal.panic.store(false, SeqCst);
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
    for n in 0..2 {
        assert_eq!(pool.read(PageId::new(file, n)).unwrap()[0], n as u8 + 1);
    }
    assert_whole(&pool, file);
}

#[test]
fn eviction_veto_panic_fails_the_miss_and_releases_the_candidate() {
    let panic = Arc::new(AtomicBool::new(false));
    let flag = panic.clone();
    let pool = BufferPool::builder()
        .frames(2)
        .eviction_veto(move |_| {
            assert!(!flag.load(SeqCst), "veto panics");
            false
        })
        .build()
        .unwrap();
    let storage = Panicky::with_pages(4);
    let file = pool.open_storage(storage).unwrap();
    drop(pool.read(PageId::new(file, 0)).unwrap());
    drop(pool.read(PageId::new(file, 1)).unwrap());
    panic.store(true, SeqCst);
    let e = pool.read(PageId::new(file, 2)).unwrap_err();
    assert!(is_panicked(&e, "eviction veto"), "{e}");
    panic.store(false, SeqCst);
    drop(pool.read(PageId::new(file, 2)).unwrap());
    drop(pool.read(PageId::new(file, 3)).unwrap());
    assert_whole(&pool, file);
}

#[test]
fn read_many_visitor_panic_unwinds_with_everything_released() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(Panicky::with_pages(12)).unwrap();
    // Half resident, half not: the panic comes while later loads of the batch are reserved.
    for n in (0..12).step_by(2) {
        drop(pool.read(PageId::new(file, n)).unwrap());
    }
    let pages: Vec<PageId> = (0..12).map(|n| PageId::new(file, n)).collect();
    for panic_at in [0, 1, 5, 11] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.read_many(&pages, |i, g| {
                g.unwrap();
                assert_ne!(i, panic_at, "visitor panics");
            })
        }));
        assert!(r.is_err());
        assert_whole(&pool, file);
    }
}

#[test]
fn read_optimistic_closure_panic_unwinds_with_nothing_latched() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(Panicky::with_pages(4)).unwrap();
    let resident = PageId::new(file, 0);
    drop(pool.read(resident).unwrap());
    // Resident: the closure runs without a latch.
    let r = catch_unwind(AssertUnwindSafe(|| {
        pool.read_optimistic(resident, |_| panic!("closure panics")).unwrap()
    }));
    assert!(r.is_err());
    // Not resident: the page is loaded and the closure runs under a shared latch, which the unwind releases.
    let cold = PageId::new(file, 3);
    let r = catch_unwind(AssertUnwindSafe(|| {
        pool.read_optimistic(cold, |_| panic!("closure panics")).unwrap()
    }));
    assert!(r.is_err());
    assert_whole(&pool, file);
}
