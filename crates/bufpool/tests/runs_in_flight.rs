//! A flush's or checkpoint's runs of one file go out several to a submission (`Storage::submit`), each run still
//! one write of consecutive pages (session 51, branch ckpt51: before, one `write_at` and one wait a run). A write
//! that fails among them fails its file and leaves its own pages dirty; the runs submitted with it are written as
//! their results say, and no run of the file is written after it.

use crate::common;

use std::io;
use std::sync::Arc;

use bufpool::storage::{IoKind, IoRequest, MemoryStorage};
use bufpool::{BufferPool, FileId, PageId, Storage};
use common::hooked::{Hooked, Hooks};
use parking_lot::Mutex;

const PAGE: u64 = 4096;

/// Hooks that record each submission's writes (first page, pages) and each `write_at`, and fail the write that
/// starts at page `fail_at`.
#[derive(Default)]
struct Recording {
    batches: Mutex<Vec<Vec<(u64, u64)>>>,
    single: Mutex<Vec<(u64, u64)>>,
    fail_at: Mutex<Option<u64>>,
}

/// A memory storage seen through [`Recording`] (no file record, as a bare storage).
type Recorded = Hooked<MemoryStorage, Recording>;

impl Recording {
    fn put(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        if *self.fail_at.lock() == Some(offset / PAGE) {
            return Err(io::Error::from_raw_os_error(5));
        }
        below.write_at(buf, offset)
    }
}

impl Hooks for Recording {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        self.single.lock().push((offset / PAGE, buf.len() as u64 / PAGE));
        self.put(below, buf, offset)
    }
    fn submit(&self, below: &dyn Storage, batch: &mut [IoRequest<'_>]) {
        let mut seen = Vec::new();
        for req in batch.iter_mut() {
            req.result = Some(match &mut req.kind {
                IoKind::Read(buf) => below.read_at(buf, req.offset),
                IoKind::Write(buf) => {
                    seen.push((req.offset / PAGE, buf.len() as u64 / PAGE));
                    self.put(below, buf, req.offset).map(|()| buf.len())
                }
            });
        }
        self.batches.lock().push(seen);
    }
}

/// Runs of 2, 1, 3, 1, 2 and 1 pages, apart.
const RUNS: [(u32, u32); 6] = [(0, 2), (4, 1), (8, 3), (14, 1), (20, 2), (30, 1)];

/// A file of 32 pages, all written once (generation 1), then the pages of `RUNS` changed (generation 2).
fn file_with_runs(pool: &BufferPool, storage: &Arc<Recorded>) -> FileId {
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..32u32 {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, n, 1);
    }
    pool.checkpoint().unwrap();
    storage.hooks.batches.lock().clear();
    storage.hooks.single.lock().clear();
    for (first, len) in RUNS {
        for n in first..first + len {
            let mut g = pool.write(PageId::new(file, n)).unwrap();
            common::fill_page(&mut g, n, 2);
        }
    }
    file
}

/// The generation of each page as a fresh pool reads it from `storage`.
fn generations(storage: &Arc<Recorded>) -> Vec<u64> {
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    (0..32u32)
        .map(|n| common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n))
        .collect()
}

#[test]
fn a_checkpoint_writes_a_files_runs_four_to_a_submission() {
    let storage = Arc::new(Hooked::unbound(MemoryStorage::new(), Recording::default()));
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let file = file_with_runs(&pool, &storage);
    pool.checkpoint().unwrap();
    let want: Vec<(u64, u64)> = RUNS.iter().map(|&(n, len)| (u64::from(n), u64::from(len))).collect();
    let (batches, single) = (
        storage.hooks.batches.lock().clone(),
        storage.hooks.single.lock().clone(),
    );
    assert_eq!(batches, vec![want[..4].to_vec(), want[4..].to_vec()]);
    assert!(single.is_empty(), "{single:?}");
    assert_eq!(pool.stats().dirty, 0);
    pool.close_file(file).unwrap();
    let changed = |n: u32| RUNS.iter().any(|&(first, len)| (first..first + len).contains(&n));
    let want: Vec<u64> = (0..32u32).map(|n| if changed(n) { 2 } else { 1 }).collect();
    assert_eq!(generations(&storage), want);
}

#[test]
fn a_failed_write_in_a_submission_fails_its_file_and_leaves_its_run_dirty() {
    let storage = Arc::new(Hooked::unbound(MemoryStorage::new(), Recording::default()));
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let file = file_with_runs(&pool, &storage);
    *storage.hooks.fail_at.lock() = Some(8);
    let err = pool.checkpoint().unwrap_err();
    assert!(err.to_string().contains("write"), "{err}");
    // The first submission held the failed run and three written ones; the file failed with it, and its last two
    // runs were not written.
    let (batches, single) = (
        storage.hooks.batches.lock().clone(),
        storage.hooks.single.lock().clone(),
    );
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert!(single.is_empty(), "{single:?}");
    assert!(pool.stats().files.iter().any(|f| f.file == file && f.failed));
    // Pages 8-10 (failed), 20-21 and 30 (never written) are dirty.
    assert_eq!(pool.stats().dirty, 6);
    *storage.hooks.fail_at.lock() = None;
    drop(pool);
    let gens = generations(&storage);
    for (n, g) in gens.iter().enumerate() {
        let want = if [0, 1, 4, 14].contains(&n) { 2 } else { 1 };
        assert_eq!(*g, want, "page {n}");
    }
}
