//! One suite of `Storage` contract tests, run against every backend: `FileStorage` (pread), `MemoryStorage`,
//! and `UringStorage` (io_uring; skipped with a printed notice only where `uring_available()` is false), the
//! file backends both with O_DIRECT (where the filesystem allows it) and buffered.
//!
//! Each test is written once against a `Backend` (a storage plus, for file backends, the path to reopen it
//! at) and instantiated per backend by the `contract_suite!` macro at the bottom. Buffers are `AlignedBuf`
//! and offsets are page multiples, as the pool promises, so the file backends run with O_DIRECT where the
//! temporary directory's filesystem allows it.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use bufpool::storage::{
    uring_available, AlignedBuf, FileStorage, IoKind, IoRequest, MemoryStorage, OpenMode, Storage, UringStorage,
};

const PAGE: usize = 4096;

/// A storage under test, and what is needed to look at its bytes from outside.
struct Backend {
    storage: Arc<dyn Storage>,
    /// The file behind a file backend, to reopen it with `FileStorage` and check what reached the file.
    path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

fn file_backend() -> Option<Backend> {
    file_backend_in(OpenMode::DirectOrBuffered)
}

fn file_buffered_backend() -> Option<Backend> {
    file_backend_in(OpenMode::Buffered)
}

fn file_backend_in(mode: OpenMode) -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let storage = FileStorage::open(&path, mode).unwrap();
    Some(Backend {
        storage: Arc::new(storage),
        path: Some(path),
        _dir: Some(dir),
    })
}

fn memory_backend() -> Option<Backend> {
    Some(Backend {
        storage: Arc::new(MemoryStorage::new()),
        path: None,
        _dir: None,
    })
}

fn uring_backend() -> Option<Backend> {
    uring_backend_in(OpenMode::DirectOrBuffered)
}

fn uring_buffered_backend() -> Option<Backend> {
    uring_backend_in(OpenMode::Buffered)
}

fn uring_backend_in(mode: OpenMode) -> Option<Backend> {
    if !uring_available() {
        println!("NOTICE: io_uring is unavailable on this machine: UringStorage contract test skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let storage = UringStorage::open(&path, mode).unwrap();
    Some(Backend {
        storage: Arc::new(storage),
        path: Some(path),
        _dir: Some(dir),
    })
}

/// A page whose every byte is `seed`, followed by the page number so pages of one seed still differ.
fn page(seed: u8, page_no: u64) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed(PAGE);
    b.fill(seed);
    b[..8].copy_from_slice(&page_no.to_le_bytes());
    b
}

fn assert_page(buf: &[u8], seed: u8, page_no: u64, what: &str) {
    assert_eq!(&buf[..8], &page_no.to_le_bytes(), "{what}: page number stamp");
    assert!(
        buf[8..PAGE].iter().all(|&b| b == seed),
        "{what}: expected fill {seed:#04x}"
    );
}

fn off(page_no: u64) -> u64 {
    page_no * PAGE as u64
}

fn reads_back_what_was_written(b: Backend) {
    let s = &b.storage;
    for p in [0u64, 2, 1] {
        s.write_at(&page(0x10 + p as u8, p), off(p)).unwrap();
    }
    let mut back = AlignedBuf::zeroed(PAGE);
    for p in 0..3u64 {
        assert_eq!(s.read_at(&mut back, off(p)).unwrap(), PAGE);
        assert_page(&back, 0x10 + p as u8, p, "read_at");
    }
    // A multi-page read sees the pages in order.
    let mut three = AlignedBuf::zeroed(3 * PAGE);
    assert_eq!(s.read_at(&mut three, 0).unwrap(), 3 * PAGE);
    for p in 0..3u64 {
        let at = p as usize * PAGE;
        assert_page(&three[at..at + PAGE], 0x10 + p as u8, p, "multi-page read");
    }
    // Overwriting replaces.
    s.write_at(&page(0x99, 1), off(1)).unwrap();
    assert_eq!(s.read_at(&mut back, off(1)).unwrap(), PAGE);
    assert_page(&back, 0x99, 1, "overwritten page");
}

fn short_count_at_and_after_eof(b: Backend) {
    let s = &b.storage;
    for p in 0..3u64 {
        s.write_at(&page(7, p), off(p)).unwrap();
    }
    let mut two = AlignedBuf::zeroed(2 * PAGE);
    assert_eq!(
        s.read_at(&mut two, off(2)).unwrap(),
        PAGE,
        "a read across the end returns what exists"
    );
    assert_page(&two[..PAGE], 7, 2, "last page");
    assert_eq!(s.read_at(&mut two, off(3)).unwrap(), 0, "read at end of file");
    assert_eq!(s.read_at(&mut two, off(50)).unwrap(), 0, "read past end of file");
    assert_eq!(s.len().unwrap(), off(3), "reads do not extend");
}

fn write_extends_the_file(b: Backend) {
    let s = &b.storage;
    assert_eq!(s.len().unwrap(), 0);
    s.write_at(&page(3, 5), off(5)).unwrap();
    assert_eq!(s.len().unwrap(), off(6));
    let mut back = AlignedBuf::zeroed(PAGE);
    assert_eq!(
        s.read_at(&mut back, off(2)).unwrap(),
        PAGE,
        "the gap reads as a full page"
    );
    assert!(back.iter().all(|&x| x == 0), "the gap reads as zeros");
    assert_eq!(s.read_at(&mut back, off(5)).unwrap(), PAGE);
    assert_page(&back, 3, 5, "extending write");
}

fn mixed_batch_sets_each_result(b: Backend) {
    let s = &b.storage;
    for p in 0..4u64 {
        s.write_at(&page(0x40 + p as u8, p), off(p)).unwrap();
    }
    let w4 = page(0x54, 4);
    let w9 = page(0x59, 9);
    let mut r0 = AlignedBuf::zeroed(PAGE);
    let mut r3 = AlignedBuf::zeroed(PAGE);
    let mut r_past = AlignedBuf::zeroed(PAGE);
    let mut r_empty = [0u8; 0];
    let mut batch = vec![
        IoRequest::write(off(4), &w4),
        IoRequest::read(off(0), &mut r0),
        IoRequest::write(off(9), &w9),
        IoRequest::read(off(3), &mut r3),
        IoRequest::read(off(40), &mut r_past),
        IoRequest::read(off(1), &mut r_empty),
    ];
    b.storage.submit(&mut batch);
    let counts: Vec<usize> = batch
        .iter()
        .map(|r| match &r.result {
            Some(Ok(n)) => *n,
            other => panic!("request at {} failed: {other:?}", r.offset),
        })
        .collect();
    assert_eq!(counts, vec![PAGE, PAGE, PAGE, PAGE, 0, 0]);
    assert!(matches!(batch[1].kind, IoKind::Read(_)));
    drop(batch);
    assert_page(&r0, 0x40, 0, "batched read of page 0");
    assert_page(&r3, 0x43, 3, "batched read of page 3");
    assert_eq!(s.len().unwrap(), off(10), "the batched write extended the file");
    let mut back = AlignedBuf::zeroed(PAGE);
    for (p, seed) in [(4u64, 0x54u8), (9, 0x59)] {
        assert_eq!(s.read_at(&mut back, off(p)).unwrap(), PAGE);
        assert_page(&back, seed, p, "batched write");
    }
    // An empty batch is fine.
    s.submit(&mut []);
}

fn sync_makes_writes_reach_the_file(b: Backend) {
    let s = &b.storage;
    s.write_at(&page(0x77, 0), 0).unwrap();
    s.write_at(&page(0x78, 1), off(1)).unwrap();
    s.sync().unwrap();
    s.sync().unwrap();
    let mut back = AlignedBuf::zeroed(PAGE);
    assert_eq!(s.read_at(&mut back, off(1)).unwrap(), PAGE);
    assert_page(&back, 0x78, 1, "after sync");
    if let Some(path) = &b.path {
        // Another handle on the same file sees the bytes.
        let other = FileStorage::open(path, OpenMode::Buffered).unwrap();
        assert_eq!(other.len().unwrap(), off(2));
        assert_eq!(other.read_at(&mut back, 0).unwrap(), PAGE);
        assert_page(&back, 0x77, 0, "reopened after sync");
    }
}

fn identity_names_the_file(b: Backend) {
    let s = &b.storage;
    match &b.path {
        Some(path) => {
            let id = s.identity().expect("a file backend has an identity");
            let same = FileStorage::open(path, OpenMode::Buffered).unwrap();
            assert_eq!(same.identity(), Some(id), "same file, same identity");
            let other_path = path.with_file_name("other");
            let other = FileStorage::open(&other_path, OpenMode::Buffered).unwrap();
            assert_ne!(other.identity(), Some(id), "another file, another identity");
        }
        None => assert_eq!(s.identity(), None),
    }
    let info = s.info();
    assert!(["pread", "io_uring", "memory"].contains(&info.backend), "{info:?}");
}

/// Threads each own the pages `t, t + THREADS, ...`; every round each writes its pages in one batch and reads
/// them back in another (mixed with reads of the shared page 0, written once before the threads start).
fn concurrent_batches_from_many_threads(b: Backend) {
    const THREADS: u64 = 4;
    const PAGES_PER_THREAD: u64 = 24;
    const ROUNDS: u8 = 8;
    let s = &b.storage;
    s.write_at(&page(0xAB, 0), 0).unwrap();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let s = Arc::clone(s);
            scope.spawn(move || {
                let mine: Vec<u64> = (0..PAGES_PER_THREAD).map(|i| 1 + t + i * THREADS).collect();
                for round in 0..ROUNDS {
                    let seed = (t as u8) << 4 | round;
                    let writes: Vec<AlignedBuf> = mine.iter().map(|&p| page(seed, p)).collect();
                    let mut batch: Vec<IoRequest<'_>> = mine
                        .iter()
                        .zip(&writes)
                        .map(|(&p, w)| IoRequest::write(off(p), w))
                        .collect();
                    s.submit(&mut batch);
                    for r in &batch {
                        assert_eq!(r.result.as_ref().unwrap().as_ref().unwrap(), &PAGE);
                    }
                    drop(batch);
                    let mut reads: Vec<AlignedBuf> = (0..=mine.len()).map(|_| AlignedBuf::zeroed(PAGE)).collect();
                    let (shared, own) = reads.split_first_mut().unwrap();
                    let mut batch: Vec<IoRequest<'_>> = mine
                        .iter()
                        .zip(own.iter_mut())
                        .map(|(&p, r)| IoRequest::read(off(p), r))
                        .collect();
                    batch.push(IoRequest::read(0, shared));
                    s.submit(&mut batch);
                    for r in &batch {
                        assert_eq!(r.result.as_ref().unwrap().as_ref().unwrap(), &PAGE);
                    }
                    drop(batch);
                    assert_page(shared, 0xAB, 0, "shared page");
                    for (&p, r) in mine.iter().zip(own.iter()) {
                        assert_page(r, seed, p, "own page read back");
                    }
                }
            });
        }
    });
    let last = ROUNDS - 1;
    let mut back = AlignedBuf::zeroed(PAGE);
    for t in 0..THREADS {
        for i in 0..PAGES_PER_THREAD {
            let p = 1 + t + i * THREADS;
            assert_eq!(s.read_at(&mut back, off(p)).unwrap(), PAGE);
            assert_page(&back, (t as u8) << 4 | last, p, "final contents");
        }
    }
}

macro_rules! contract_suite {
    ($module:ident, $make:path) => {
        mod $module {
            use super::*;

            fn run(test: fn(Backend)) {
                if let Some(backend) = $make() {
                    test(backend);
                }
            }

            #[test]
            fn reads_back_what_was_written() {
                run(super::reads_back_what_was_written);
            }
            #[test]
            fn short_count_at_and_after_eof() {
                run(super::short_count_at_and_after_eof);
            }
            #[test]
            fn write_extends_the_file() {
                run(super::write_extends_the_file);
            }
            #[test]
            fn mixed_batch_sets_each_result() {
                run(super::mixed_batch_sets_each_result);
            }
            #[test]
            fn sync_makes_writes_reach_the_file() {
                run(super::sync_makes_writes_reach_the_file);
            }
            #[test]
            fn identity_names_the_file() {
                run(super::identity_names_the_file);
            }
            #[test]
            fn concurrent_batches_from_many_threads() {
                run(super::concurrent_batches_from_many_threads);
            }
        }
    };
}

contract_suite!(file, file_backend);
contract_suite!(memory, memory_backend);
contract_suite!(uring, uring_backend);
// Through the page cache too: another kernel path (buffered io_uring reads may complete short or be punted to
// worker threads).
contract_suite!(file_buffered, file_buffered_backend);
contract_suite!(uring_buffered, uring_buffered_backend);

/// On a direct file, a misaligned request fails alone: the rest of its batch still succeeds.
#[test]
fn uring_failed_request_does_not_fail_its_batch() {
    let Some(b) = uring_backend() else { return };
    if !b.storage.info().direct {
        println!("NOTICE: temporary directory refuses O_DIRECT: misaligned-request test skipped");
        return;
    }
    let s = &b.storage;
    s.write_at(&page(1, 0), 0).unwrap();
    s.write_at(&page(2, 1), off(1)).unwrap();
    let mut good = AlignedBuf::zeroed(PAGE);
    let mut big = AlignedBuf::zeroed(2 * PAGE);
    let mut batch = vec![
        IoRequest::read(0, &mut good),
        // O_DIRECT refuses a buffer that is not block-aligned.
        IoRequest::read(off(1), &mut big[1..PAGE + 1]),
    ];
    s.submit(&mut batch);
    assert!(matches!(batch[0].result, Some(Ok(PAGE))), "{:?}", batch[0].result);
    let err = batch[1].result.as_ref().unwrap().as_ref().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    drop(batch);
    assert_page(&good, 1, 0, "the good request of the batch");
}

/// Both file backends probe O_DIRECT with the same code, so they agree on one directory.
#[test]
fn uring_and_pread_agree_on_direct_io() {
    let Some(u) = uring_backend() else { return };
    let f = file_backend().unwrap();
    println!(
        "io_uring available; O_DIRECT in the temporary directory: {}",
        u.storage.info().direct
    );
    assert_eq!(u.storage.info().backend, "io_uring");
    assert_eq!(f.storage.info().backend, "pread");
    assert_eq!(u.storage.info().direct, f.storage.info().direct);
}

/// The pool runs on `UringStorage` as on any backend: 600 pages through 16 frames, read back from two threads,
/// every miss and dirty eviction going through io_uring.
#[test]
fn pool_over_uring_survives_eviction() {
    let Some(b) = uring_backend() else { return };
    let path = b.path.clone().unwrap();
    drop(b.storage);
    let pool = bufpool::BufferPool::builder().frames(16).build().unwrap();
    let file = pool
        .open_storage(UringStorage::open(&path, OpenMode::DirectOrBuffered).unwrap())
        .unwrap();
    const PAGES: u32 = 600;
    for n in 0..PAGES {
        let mut g = pool.new_page(file).unwrap();
        g[..4].copy_from_slice(&n.to_le_bytes());
        g[4..64].fill(n as u8);
    }
    thread::scope(|scope| {
        for t in 0..2u32 {
            let pool = &pool;
            scope.spawn(move || {
                for i in 0..PAGES {
                    let n = (i * 7 + t * 301) % PAGES;
                    let g = pool.read(bufpool::PageId::new(file, n)).unwrap();
                    assert_eq!(&g[..4], &n.to_le_bytes(), "page {n}");
                    assert!(g[4..64].iter().all(|&x| x == n as u8), "page {n}");
                }
            });
        }
    });
    let stats = pool.stats();
    assert!(stats.dirty_evictions >= (PAGES - 16) as u64, "{stats:?}");
    assert!(stats.misses >= (PAGES - 16) as u64, "{stats:?}");
    assert_eq!(stats.corrupt_pages, 0);
    let info = stats.files.iter().find(|f| f.file == file).unwrap();
    assert_eq!(info.backend, "io_uring");
    pool.close().unwrap();
}

/// The pool's batched reads (`read_many`, `prefetch`) hand whole batches to `UringStorage::submit`: every page
/// comes back intact into a pool that has none of them cached.
#[test]
fn pool_batched_reads_over_uring() {
    let Some(b) = uring_backend() else { return };
    let path = b.path.clone().unwrap();
    drop(b.storage);
    const PAGES: u32 = 300;
    {
        let pool = bufpool::BufferPool::builder().frames(32).build().unwrap();
        let file = pool
            .open_storage(UringStorage::open(&path, OpenMode::DirectOrBuffered).unwrap())
            .unwrap();
        for n in 0..PAGES {
            let mut g = pool.new_page(file).unwrap();
            g[..4].copy_from_slice(&n.to_le_bytes());
        }
        pool.close().unwrap();
    }
    let pool = bufpool::BufferPool::builder().frames(128).build().unwrap();
    let file = pool
        .open_storage(UringStorage::open(&path, OpenMode::DirectOrBuffered).unwrap())
        .unwrap();
    let wanted: Vec<bufpool::PageId> = (0..PAGES)
        .rev()
        .step_by(3)
        .map(|n| bufpool::PageId::new(file, n))
        .collect();
    let mut seen = 0;
    pool.read_many(&wanted, |i, g| {
        let g = g.unwrap();
        assert_eq!(g.page_id(), wanted[i]);
        assert_eq!(&g[..4], &wanted[i].page_no().to_le_bytes());
        seen += 1;
    });
    assert_eq!(seen, wanted.len());
    let more: Vec<bufpool::PageId> = (1..PAGES).step_by(3).map(|n| bufpool::PageId::new(file, n)).collect();
    pool.prefetch(&more).unwrap();
    for &p in &more {
        let g = pool.read(p).unwrap();
        assert_eq!(&g[..4], &p.page_no().to_le_bytes());
    }
    assert_eq!(pool.stats().corrupt_pages, 0);
}
