//! Batches whose pages belong to two files, one of them failing, on the io_uring backend (session 18,
//! fault18; the review of session 17 had not reached them). The pool's batched misses (`read_many`, `prefetch`)
//! split a batch into one submission per run of one file's pages, and its writes go one run (of one file) per
//! call, so each page gets its own file's result: these tests check that with real faults where the machine
//! can make them: a full tmpfs (ENOSPC on writes), a file cut short underneath the pool (its reads come back
//! short, at the end of the file), EIO on every read of one file (a storage layered on the real io_uring file:
//! this machine has no device-mapper to fail a device), and a file dropped while its reads are held in flight.
//! In each, every page of the healthy file reads back right, no error names the healthy file, the failing
//! file's errors name it, and nothing hangs.
//!
//! Where io_uring is unavailable the tests say so and run on the `pread` fallback; the tmpfs test needs root
//! (`mount`) and prints `SKIPPED` with the reason where it cannot mount.

mod common;

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use bufpool::storage::{uring_available, IoKind, IoRequest, OpenMode, StorageInfo};
use bufpool::{BufferPool, Error, FileId, IoBackend, PageId, Storage, UringStorage};
use common::tmpfs::{mount_tmpfs, remount};

/// io_uring where this machine has it; otherwise the `pread` fallback, said aloud.
fn backend(test: &str) -> IoBackend {
    if uring_available() {
        IoBackend::Uring
    } else {
        eprintln!("{test}: io_uring is unavailable here: testing the pread fallback instead");
        IoBackend::Pread
    }
}

/// `pages` pages of `a` and of `b`, interleaved: a0, b0, a1, b1, ...
fn interleaved(a: FileId, b: FileId, pages: u32) -> Vec<PageId> {
    (0..pages)
        .flat_map(|n| [PageId::new(a, n), PageId::new(b, n)])
        .collect()
}

/// Reads `pages` in one `read_many` on a thread of its own, and returns each page's generation or error; fails
/// the test if the call has not returned within 20 s (a hang).
fn read_many_within(pool: &Arc<BufferPool>, pages: Vec<PageId>) -> Vec<Result<u64, Error>> {
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    std::thread::spawn(move || {
        let mut got: Vec<Option<Result<u64, Error>>> = vec![None; pages.len()];
        p.read_many(&pages, |i, g| {
            got[i] = Some(g.map(|g| common::check_page(&g, pages[i].page_no())))
        });
        // The pool's handle goes before the answer: the caller may take the pool back (`Arc::into_inner`) as
        // soon as it has the answer, and a handle dropped after the send made that fail on a loaded machine.
        drop(p);
        let _ = tx.send(got.into_iter().map(|r| r.expect("every page visited")).collect());
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("read_many hung")
}

/// A full device under file `a` (a real tmpfs) and room under file `b`: a checkpoint writes `b` whole and
/// durable and refuses `a`'s pages for space, naming `a`, failing neither; once `a`'s device has room, the same
/// pool writes them; a fresh pool reads both files back in interleaved batches.
#[test]
fn a_full_device_under_one_file_refuses_only_its_pages() {
    let test = "a_full_device_under_one_file_refuses_only_its_pages";
    let backend = backend(test);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mount_a = match mount_tmpfs(dir_a.path(), "128k") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            return;
        }
    };
    let Ok(_mount_b) = mount_tmpfs(dir_b.path(), "8m") else {
        panic!("a second tmpfs mount failed after the first succeeded");
    };
    let (path_a, path_b) = (dir_a.path().join("a.db"), dir_b.path().join("b.db"));
    const PAGES: u32 = 64; // 256 KiB of pages each: twice `a`'s device
    let pool = Arc::new(BufferPool::builder().frames(256).io_backend(backend).build().unwrap());
    let a = pool.open_file(&path_a).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    for n in 0..PAGES {
        common::fill_page(&mut pool.new_page(a).unwrap(), n, 1);
        common::fill_page(&mut pool.new_page(b).unwrap(), n, 1);
    }
    let report = pool.checkpoint_report();
    let failed: Vec<FileId> = report.failed().map(|(f, _)| f).collect();
    assert_eq!(failed, vec![a], "{:?}", report.files);
    let (_, err) = report.failed().next().unwrap();
    assert!(err.is_no_space(), "{err}");
    assert!(matches!(err, Error::NoSpace { page, .. } if page.file() == a), "{err}");
    assert_eq!(report.durable().collect::<Vec<_>>(), vec![b]);
    for f in [a, b] {
        assert!(!pool.file_stats(f).unwrap().failed, "ENOSPC fails no file");
    }
    assert_eq!(
        pool.file_stats(b).unwrap().writes,
        PAGES as u64,
        "every page of `b` written once"
    );
    let err = pool.checkpoint().unwrap_err();
    assert_eq!(err.file(), Some(a), "{err}");
    // Every page of both still reads right in the pool, in interleaved batches.
    for got in read_many_within(&pool, interleaved(a, b, PAGES)) {
        assert_eq!(got.unwrap(), 1);
    }
    // Room under `a`: the same pool writes its pages.
    remount(&mount_a, "8m");
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
    Arc::into_inner(pool).unwrap().close().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(32).io_backend(backend).build().unwrap());
    let a = pool.open_file(&path_a).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    for got in read_many_within(&pool, interleaved(a, b, PAGES)) {
        assert_eq!(got.unwrap(), 1);
    }
}

/// `a` cut short underneath the pool (a device that lost its tail: its reads come back short, at the end of the
/// file) while `b` is whole: in batches of both files' pages, `b`'s pages read right, `a`'s pages past the cut
/// fail with errors that name `a`, and `a`'s pages before it read right; `read_many` and `prefetch` alike.
#[test]
fn short_reads_of_one_file_fail_only_its_pages() {
    let test = "short_reads_of_one_file_fail_only_its_pages";
    let backend = backend(test);
    let dir = tempfile::tempdir().unwrap();
    let (path_a, path_b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    const PAGES: u32 = 48;
    const CUT: u32 = 16;
    {
        let pool = BufferPool::builder().frames(256).io_backend(backend).build().unwrap();
        let a = pool.open_file(&path_a).unwrap();
        let b = pool.open_file(&path_b).unwrap();
        for n in 0..PAGES {
            common::fill_page(&mut pool.new_page(a).unwrap(), n, 1);
            common::fill_page(&mut pool.new_page(b).unwrap(), n, 1);
        }
        pool.close().unwrap();
    }
    let pool = Arc::new(
        BufferPool::builder()
            .frames(256)
            .io_backend(backend)
            .io_threads(2)
            .build()
            .unwrap(),
    );
    let a = pool.open_file(&path_a).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    assert_eq!(pool.file_pages(a).unwrap(), PAGES);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path_a)
        .unwrap()
        .set_len(CUT as u64 * pool.page_size() as u64)
        .unwrap();
    let check = |pages: &[PageId], got: Vec<Result<u64, Error>>| {
        for (page, got) in pages.iter().zip(got) {
            match got {
                Ok(generation) => {
                    assert_eq!(generation, 1, "{page}");
                    assert!(page.file() == b || page.page_no() < CUT, "{page} read past the cut");
                }
                Err(e) => {
                    assert_eq!(page.file(), a, "{page} of the whole file failed: {e}");
                    assert!(page.page_no() >= CUT, "{page} before the cut failed: {e}");
                    assert_eq!(e.file(), Some(a), "{page}: the error names its own file: {e}");
                }
            }
        }
    };
    let pages = interleaved(a, b, PAGES);
    check(&pages, read_many_within(&pool, pages.clone()));
    // Past the cut, each miss reads again and fails again; prefetch's batches likewise.
    for round in 0..3 {
        pool.prefetch(&pages).unwrap();
        let got = pages
            .iter()
            .map(|&p| pool.read(p).map(|g| common::check_page(&g, p.page_no())))
            .collect();
        check(&pages, got);
        check(&pages, read_many_within(&pool, pages.clone()));
        assert!(!pool.file_stats(b).unwrap().failed, "round {round}");
    }
    assert_eq!(
        pool.file_stats(b).unwrap().reads,
        PAGES as u64,
        "`b` read once per page"
    );
}

/// A file on the real io_uring backend whose every read of pages from `from` on fails with EIO after the kernel
/// did it, and whose reads may be held at a gate before they start.
struct Faulty {
    inner: UringStorage,
    from: u64,
    gate: Option<Gate>,
}

/// Holds a batch of reads before it starts until the test lets it go.
struct Gate {
    reached: Arc<Barrier>,
    release: Arc<Barrier>,
    armed: AtomicBool,
}

impl Storage for Faulty {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut batch = [IoRequest::read(offset, buf)];
        self.submit(&mut batch);
        batch[0].result.take().unwrap()
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        let reads = batch.iter().any(|r| matches!(r.kind, IoKind::Read(_)));
        if let Some(gate) = &self.gate {
            if reads && gate.armed.swap(false, SeqCst) {
                gate.reached.wait();
                gate.release.wait();
            }
        }
        self.inner.submit(batch);
        for r in batch.iter_mut() {
            if matches!(r.kind, IoKind::Read(_)) && r.offset >= self.from {
                r.result = Some(Err(io::Error::from_raw_os_error(libc::EIO)));
            }
        }
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
    fn identity(&self) -> Option<(u64, u64)> {
        self.inner.identity()
    }
    fn record_store(&self) -> Option<&dyn bufpool::storage::RecordStore> {
        self.inner.record_store()
    }
    fn try_lock(&self) -> io::Result<()> {
        self.inner.try_lock()
    }
}

/// Two files, `a.db` and `b.db`, of `pages` pages of generation 1 each, written and closed, in a new directory.
fn two_written_files(pages: u32) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (path_a, path_b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    for path in [&path_a, &path_b] {
        let pool = BufferPool::builder().frames(64).build().unwrap();
        let f = pool.open_file(path).unwrap();
        for n in 0..pages {
            common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
        }
        pool.close().unwrap();
    }
    (dir, path_a, path_b)
}

/// A pool on the io_uring backend, or `None` after saying why `test` is skipped: it layers a storage on
/// `UringStorage` (the pread backend's batches are checked by `short_reads_of_one_file_fail_only_its_pages`).
fn uring_pool(test: &str) -> Option<Arc<BufferPool>> {
    if !uring_available() {
        eprintln!("SKIPPED {test}: io_uring is unavailable here");
        return None;
    }
    Some(Arc::new(
        BufferPool::builder()
            .frames(256)
            .io_backend(IoBackend::Uring)
            .build()
            .unwrap(),
    ))
}

/// EIO on `a`'s reads from page `FROM` on, in batches with `b`'s pages: each page gets its own file's result.
#[test]
fn eio_on_one_file_fails_only_its_pages() {
    let Some(pool) = uring_pool("eio_on_one_file_fails_only_its_pages") else {
        return;
    };
    const PAGES: u32 = 40;
    const FROM: u32 = 10;
    let (_dir, path_a, path_b) = two_written_files(PAGES);
    let storage = Faulty {
        inner: UringStorage::open(&path_a, OpenMode::DirectOrBuffered).unwrap(),
        from: FROM as u64 * pool.page_size() as u64,
        gate: None,
    };
    let a = pool.open_storage(storage).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    let pages = interleaved(a, b, PAGES);
    for _ in 0..2 {
        for (page, got) in pages.iter().zip(read_many_within(&pool, pages.clone())) {
            if page.file() == a && page.page_no() >= FROM {
                let e = got.expect_err("EIO");
                assert!(
                    matches!(&e, Error::Io { file, op: "read", .. } if *file == a),
                    "{page}: {e}"
                );
            } else {
                assert_eq!(got.unwrap(), 1, "{page}");
            }
        }
    }
    assert!(!pool.file_stats(b).unwrap().failed);
}

/// `a` dropped while a batch of its reads is held in flight (in its storage's `submit`) in a `read_many` of both
/// files' pages: the drop waits for the batch or gives up with an error, the batch ends, `b`'s pages read right,
/// each of `a`'s is read or fails naming `a`, and the pool works on: `a` opens again with its pages whole.
#[test]
fn a_file_dropped_while_its_reads_are_in_flight() {
    const PAGES: u32 = 16;
    let (_dir, path_a, path_b) = two_written_files(PAGES);
    for hold in [Duration::from_millis(50), Duration::from_millis(1500)] {
        let Some(pool) = uring_pool("a_file_dropped_while_its_reads_are_in_flight") else {
            return;
        };
        let (reached, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let storage = Faulty {
            inner: UringStorage::open(&path_a, OpenMode::DirectOrBuffered).unwrap(),
            from: u64::MAX,
            gate: Some(Gate {
                reached: reached.clone(),
                release: release.clone(),
                armed: AtomicBool::new(true),
            }),
        };
        let a = pool.open_storage(storage).unwrap();
        let b = pool.open_file(&path_b).unwrap();
        let pages = interleaved(a, b, PAGES);
        let reader = {
            let (pool, pages) = (pool.clone(), pages.clone());
            std::thread::spawn(move || read_many_within(&pool, pages))
        };
        reached.wait(); // `a`'s first batch is in `submit`, its frames latched
        let (tx, rx) = mpsc::channel();
        let dropper = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let _ = tx.send(pool.drop_file(a));
            })
        };
        std::thread::sleep(hold);
        release.wait();
        let dropped = rx.recv_timeout(Duration::from_secs(20)).expect("drop_file hung");
        dropper.join().unwrap();
        let got = reader.join().unwrap();
        for (page, got) in pages.iter().zip(got) {
            match got {
                Ok(generation) => assert_eq!(generation, 1, "{page}"),
                Err(e) => {
                    assert_eq!(page.file(), a, "{page} of the healthy file failed: {e}");
                    assert_eq!(e.file(), Some(a), "{page}: {e}");
                }
            }
        }
        if let Err(e) = &dropped {
            // Held past the drop's wait for latched frames: it gives up and leaves the file open.
            assert_eq!(e.file(), Some(a), "held {hold:?}: {e}");
            pool.drop_file(a).unwrap();
        }
        let a = pool.open_file(&path_a).unwrap();
        for got in read_many_within(&pool, interleaved(a, b, PAGES)) {
            assert_eq!(got.unwrap(), 1, "held {hold:?}");
        }
    }
}
