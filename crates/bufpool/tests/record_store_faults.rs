//! A caller's storage whose file record store (`Storage::record_store`) panics, or vanishes, after the file was
//! opened (R20-2, session 20, review20).
//!
//! A bound file's written mark is raised after each good sync of a flush or checkpoint (`FileEntry::
//! advance_mark`), through the storage's record store: the caller's code. Its opening was caught (R19-22), but
//! not this later write: a `RecordStore::write_at` or `sync` that panicked unwound out of `checkpoint()` and
//! `flush_file()`, and a storage whose `record_store()` answered `None` after answering a store at open panicked
//! the pool itself ("a bound file has a record store"). Now the record update is caught like every other storage
//! call: the call returns the error (`Error::Panicked`, or `Error::Io` for a store that is gone), the mark stays
//! where it was, and the next checkpoint raises it.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::storage::{MemoryRecord, RecordStore, Storage, StorageInfo};
use bufpool::{BufferPool, Error, MemoryStorage, PageId};

use crate::common;

/// What a [`RecordFaults`] storage's record store does now.
const FINE: u8 = 0;
const WRITE_PANICS: u8 = 1;
const SYNC_PANICS: u8 = 2;
const GONE: u8 = 3;

/// A memory storage whose record store fails as `fault` says.
struct RecordFaults {
    pages: MemoryStorage,
    record: Faulty,
}

struct Faulty {
    inner: MemoryRecord,
    fault: Arc<AtomicU8>,
}

impl RecordStore for Faulty {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        assert_ne!(self.fault.load(SeqCst), WRITE_PANICS, "record write panics");
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        assert_ne!(self.fault.load(SeqCst), SYNC_PANICS, "record sync panics");
        self.inner.sync()
    }
}

impl Storage for RecordFaults {
    fn len(&self) -> io::Result<u64> {
        self.pages.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.pages.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.pages.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "record-faults",
            direct: false,
        }
    }
    fn record_store(&self) -> Option<&dyn RecordStore> {
        (self.record.fault.load(SeqCst) != GONE).then_some(&self.record as &dyn RecordStore)
    }
}

/// A pool, the switch of a fresh [`RecordFaults`] storage's record store (fine for now), and the storage.
fn setup() -> (BufferPool, Arc<AtomicU8>, Arc<RecordFaults>) {
    let how = Arc::new(AtomicU8::new(FINE));
    let storage = Arc::new(RecordFaults {
        pages: MemoryStorage::new(),
        record: Faulty {
            inner: MemoryRecord::default(),
            fault: how.clone(),
        },
    });
    (BufferPool::builder().frames(8).build().unwrap(), how, storage)
}

#[test]
fn a_record_store_failing_after_open_is_an_error_of_the_flush_not_a_panic() {
    for (fault, flush_file) in [(WRITE_PANICS, false), (SYNC_PANICS, true), (GONE, false), (GONE, true)] {
        let (pool, how, storage) = setup();
        let file = pool.open_storage(storage.clone()).unwrap();
        for n in 0..2 {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
        }
        // The pages are written and synced, then the written mark is raised (2 pages): the record store fails.
        how.store(fault, SeqCst);
        let flushed = catch_unwind(AssertUnwindSafe(|| {
            if flush_file {
                pool.flush_file(file)
            } else {
                pool.checkpoint()
            }
        }));
        how.store(FINE, SeqCst);
        match flushed {
            Ok(Err(Error::Panicked { what, .. })) if fault != GONE => {
                assert!(what.starts_with("RecordStore") || what.starts_with("Storage"), "{what}")
            }
            Ok(Err(Error::Io { file: f, op, .. })) if fault == GONE => {
                assert_eq!((f, op), (file, "record"));
            }
            Ok(other) => panic!("fault {fault}: the flush returned {other:?}"),
            Err(_) => panic!("fault {fault}: the record store's failure panicked out of the flush"),
        }
        // The file is not failed (its pages are on disk: only the mark lags); the next checkpoint records it.
        pool.checkpoint().unwrap();
        pool.close_file(file).unwrap();
        let file = pool.open_storage(storage).unwrap();
        for n in 0..2 {
            assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
        }
    }
}

/// The engine's mark (`raise_engine_mark`, R48-O10): kept in the record across a close and a reopen, never
/// lowered; a record store that fails (a panic, or gone) fails the call with the previous mark kept, the file not
/// failed; a storage that keeps no record keeps no mark.
#[test]
fn the_engine_mark_is_kept_in_the_record_only_raised_and_a_failed_update_keeps_the_previous_one() {
    let (pool, how, storage) = setup();
    let file = pool.open_storage(storage.clone()).unwrap();
    assert_eq!(pool.engine_mark(file).unwrap(), None);
    assert!(pool.raise_engine_mark(file, 41).unwrap());
    assert_eq!(pool.engine_mark(file).unwrap(), Some(41));
    for fault in [WRITE_PANICS, SYNC_PANICS, GONE] {
        how.store(fault, SeqCst);
        let set = catch_unwind(AssertUnwindSafe(|| pool.raise_engine_mark(file, 42)));
        how.store(FINE, SeqCst);
        match set {
            Ok(Err(Error::Panicked { what, .. })) if fault != GONE => {
                assert!(what.starts_with("RecordStore"), "{what}")
            }
            Ok(Err(Error::Io { file: f, op, .. })) if fault == GONE => assert_eq!((f, op), (file, "record")),
            other => panic!("fault {fault}: {other:?}"),
        }
        assert_eq!(pool.engine_mark(file).unwrap(), Some(41), "fault {fault}");
    }
    assert!(pool.raise_engine_mark(file, 43).unwrap());
    common::fill_page(&mut pool.new_page(file).unwrap(), 0, 1);
    pool.checkpoint().unwrap(); // raises the written mark: a record written again, keeping the engine's mark
    assert!(pool.raise_engine_mark(file, 40).unwrap()); // below the mark: left as it is
    assert_eq!(pool.engine_mark(file).unwrap(), Some(43));
    pool.close_file(file).unwrap();
    let file = pool.open_storage(storage).unwrap();
    assert_eq!(pool.engine_mark(file).unwrap(), Some(43));
    assert_eq!(common::check_page(&pool.read(PageId::new(file, 0)).unwrap(), 0), 1);
    // No record, no mark.
    let unbound = pool
        .open_storage(bufpool::storage::FaultyStorage::new(
            1,
            bufpool::storage::FaultConfig::none(),
        ))
        .unwrap();
    assert!(!pool.raise_engine_mark(unbound, 7).unwrap());
    assert_eq!(pool.engine_mark(unbound).unwrap(), None);
}
