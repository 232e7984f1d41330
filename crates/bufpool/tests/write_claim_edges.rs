//! Session 50 (review50): an outside review of R49-1's write claim (`FrameHeader::writing`, `writer.rs`'
//! `WriteClaim`): a flush, a checkpoint or the background writer that writes a page under a shared latch claims
//! it, and another write-back of the page waits for the claim with nothing held, then looks at the page again.
//! Every new wait is a new way to hang, so each test here holds a claimed write at its storage's `write_at` or
//! its log's flush (the user's callbacks, where a claim is held longest) and combines it with what a user can do
//! meanwhile: the write failing or panicking, the file dropped and another opened under its id, a waiter that
//! goes on to other pages, a callback that flushes, the background writer's claim and the pool's drop. Each wait
//! is bounded by a watchdog (`STEP_WAIT_MAX`, a broken schedule's guard, not a timing assertion).

use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage};
use bufpool::{BufferPool, Error, FileId, FileOptions, Lsn, PageId, Wal, WriterConfig};
use parking_lot::Mutex;

use crate::common::hooked::{Hooked, Hooks};
use crate::common::{Hold, STEP_WAIT_MAX};

/// What a held call does once let go (one shot: the next call does `OK`).
const OK: u8 = 0;
const EIO: u8 = 1;
const ENOSPC: u8 = 2;
const PANIC: u8 = 3;
/// The log refuses for good (`Error::Wal`), or for space (`WalNoSpace`).
const WAL_FAILED: u8 = 4;
const WAL_FULL: u8 = 5;

/// The pool a callback calls back into.
type Slot = Arc<OnceLock<Weak<BufferPool>>>;

/// Storage hooks whose writes can be held ([`Hold`]) and then fail or panic once, and whose write can flush a
/// page through the pool (`flush_in_write`: a callback calling back), over a `MemoryStorage` ([`Gated`]).
#[derive(Default)]
struct Gate {
    /// Replaced for each held write (a [`Hold`]'s gates open once).
    write: Mutex<Arc<Hold>>,
    outcome: AtomicU8,
    pool: Slot,
    flush_in_write: Mutex<Option<PageId>>,
    seen: Mutex<Vec<(PageId, bufpool::Result<()>)>>,
}

type Gated = Hooked<MemoryStorage, Arc<Gate>>;

impl Gate {
    /// The hold of the next write (armed by the caller).
    fn hold(&self) -> Arc<Hold> {
        self.write.lock().clone()
    }

    /// A fresh hold for the next write, armed for any thread.
    fn arm_again(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        hold.arm_for(0);
        *self.write.lock() = hold.clone();
        hold
    }
}

impl Hooks for Gate {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let hold = self.hold();
        hold.pass("the test lets the held write go on");
        let target = self.flush_in_write.lock().take();
        if let Some(page) = target {
            let r = self.pool.get().and_then(Weak::upgrade).unwrap().flush(page);
            self.seen.lock().push((page, r));
        }
        match self.outcome.swap(OK, SeqCst) {
            EIO => Err(std::io::Error::from_raw_os_error(libc::EIO)),
            ENOSPC => Err(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            PANIC => panic!("the test's storage panics in write_at"),
            _ => below.write_at(buf, offset),
        }
    }
}

/// A log whose flushes can be held, then refuse or panic once, and can flush a page through the pool.
#[derive(Default)]
struct GatedWal {
    hold: Arc<Hold>,
    outcome: AtomicU8,
    pool: Slot,
    flush_in_flush: Mutex<Option<PageId>>,
    seen: Mutex<Vec<(PageId, bufpool::Result<()>)>>,
}

impl Wal for GatedWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        self.hold.pass("the test lets the held log flush go on");
        let target = self.flush_in_flush.lock().take();
        if let Some(page) = target {
            let r = self.pool.get().and_then(Weak::upgrade).unwrap().flush(page);
            self.seen.lock().push((page, r));
        }
        match self.outcome.swap(OK, SeqCst) {
            WAL_FAILED => Err(Error::Wal {
                lsn,
                reason: "the test's log failed".into(),
            }),
            WAL_FULL => Err(Error::WalNoSpace {
                lsn,
                reason: "the test's log is full".into(),
            }),
            PANIC => panic!("the test's log panics in flush_to"),
            _ => Ok(()),
        }
    }
}

struct Setup {
    pool: Arc<BufferPool>,
    file: FileId,
    storage: Arc<Gate>,
    device: Arc<Gated>,
    wal: Arc<GatedWal>,
}

/// A pool of 16 frames, one file of pages 0..4 written and synced; page 1 then changed (generation 2, LSN 5).
fn setup(writer: Option<WriterConfig>) -> Setup {
    let mut builder = BufferPool::builder().frames(16);
    if let Some(w) = writer {
        builder = builder.background_writer(w);
    }
    let pool = Arc::new(builder.build().unwrap());
    let (storage, wal) = (Arc::new(Gate::default()), Arc::new(GatedWal::default()));
    storage.pool.set(Arc::downgrade(&pool)).unwrap();
    wal.pool.set(Arc::downgrade(&pool)).unwrap();
    let device = Arc::new(Hooked::new(MemoryStorage::new(), storage.clone()));
    let file = pool
        .open_storage_with(device.clone(), FileOptions::new().wal(wal.clone()))
        .unwrap();
    for n in 0..4 {
        let mut g = pool.new_page(file).unwrap();
        crate::common::fill_page(&mut g, n, 1);
        g.set_lsn(1);
    }
    pool.flush_file(file).unwrap();
    change(&pool, PageId::new(file, 1), 2, 5);
    Setup {
        pool,
        file,
        storage,
        device,
        wal,
    }
}

/// Changes `page` to generation `generation` (`common::fill_page`), at LSN `lsn`.
fn change(pool: &BufferPool, page: PageId, generation: u64, lsn: Lsn) {
    let mut g = pool.write(page).unwrap();
    crate::common::fill_page(&mut g, page.page_no(), generation);
    g.set_lsn(lsn);
}

/// `f` on a thread of its own; its result, or a failed test if it has not returned after [`STEP_WAIT_MAX`].
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let what = what.to_string();
    thread::spawn(move || {
        let watchdog = thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(STEP_WAIT_MAX) {
                eprintln!("{what}: still running after {STEP_WAIT_MAX:?}: a wait that never ends");
                std::process::abort();
            }
        });
        let r = f();
        drop(tx);
        let _ = watchdog.join();
        r
    })
}

/// A flush of `page` on a thread of its own ([`bounded`]).
fn flushing(pool: &Arc<BufferPool>, page: PageId, what: &str) -> thread::JoinHandle<bufpool::Result<()>> {
    let pool = pool.clone();
    bounded(what, move || pool.flush(page))
}

/// Waits until the pool has counted `n` waits for a write claim (a watchdog, not a timing assertion).
fn wait_for_write_waits(pool: &BufferPool, n: u64, what: &str) {
    let start = std::time::Instant::now();
    while pool.stats().write_waits < n {
        assert!(start.elapsed() < STEP_WAIT_MAX, "never reached: {what}");
        thread::sleep(Duration::from_micros(200));
    }
}

/// A flush of page 1 held in its claimed write (at the storage's `write_at`, or the log's flush before it), a
/// second flush of page 1 waiting for the claim; the held call then fails (or panics) with `outcome`.
/// `expect_first` judges the first flush's error; the second must return (its own write, or the file's
/// failure), the page be dirty exactly when the file failed, and a third flush must not wait.
fn claimed_write_fails(in_log: bool, outcome: u8, expect_first: fn(&Error) -> bool) {
    let s = setup(None);
    let page = PageId::new(s.file, 1);
    let hold = if in_log { s.wal.hold.clone() } else { s.storage.hold() };
    hold.arm_for(0);
    let first = flushing(&s.pool, page, "the first flush");
    hold.entered.wait("the first flush's claimed write");
    let second = flushing(&s.pool, page, "the second flush, waiting for the claim");
    wait_for_write_waits(&s.pool, 1, "the second flush waiting for the claim");
    match in_log {
        true => s.wal.outcome.store(outcome, SeqCst),
        false => s.storage.outcome.store(outcome, SeqCst),
    }
    hold.go.open();
    let first = first.join().unwrap();
    let what = format!("outcome {outcome} in the {}", if in_log { "log" } else { "storage" });
    assert!(
        first.as_ref().is_err_and(expect_first),
        "{what}: the first flush: {first:?}"
    );
    let failed = s.pool.stats().files[0].failed;
    let second = second.join().unwrap();
    match failed {
        // The second flush found the page still dirty and the file failed.
        true => assert!(
            matches!(second, Err(Error::FileFailed { .. })),
            "{what}: the second flush: {second:?}"
        ),
        // The second flush wrote the page itself (the fault was one shot).
        false => assert!(second.is_ok(), "{what}: the second flush: {second:?}"),
    }
    assert_eq!(
        s.pool.stats().dirty,
        usize::from(failed),
        "{what}: page 1 dirty exactly when unwritten"
    );
    let third = flushing(&s.pool, page, "a third flush");
    let third = third.join().unwrap();
    assert_eq!(third.is_ok(), !failed, "{what}: a third flush: {third:?}");
    assert!(
        crate::common::check_page(&s.pool.read(page).unwrap(), 1) == 2,
        "{what}: page 1 reads its change"
    );
}

#[test]
fn a_failed_claimed_write_leaves_the_page_dirty_and_frees_the_claim() {
    claimed_write_fails(false, EIO, |e| matches!(e, Error::Io { op: "write", .. }));
    claimed_write_fails(false, ENOSPC, |e| matches!(e, Error::NoSpace { .. }));
    claimed_write_fails(true, WAL_FAILED, |e| matches!(e, Error::Wal { .. }));
    claimed_write_fails(true, WAL_FULL, |e| matches!(e, Error::WalNoSpace { .. }));
}

#[test]
fn a_panic_in_a_claimed_write_frees_the_claim() {
    claimed_write_fails(false, PANIC, |e| {
        matches!(
            e,
            Error::Panicked {
                what: "Storage::write_at",
                ..
            }
        )
    });
    claimed_write_fails(true, PANIC, |e| matches!(e, Error::Panicked { .. }));
}

/// A claimed write held while another flush waits for it and the file is dropped, then another file opened under
/// its id, whose pages take the same frames: every call returns, and the new file's pages flush (a claim left set
/// on a frame would make every later write-back of the frame's page wait for ever).
#[test]
fn a_file_dropped_and_reopened_under_its_id_while_its_claim_is_waited_for() {
    let s = setup(None);
    let page = PageId::new(s.file, 1);
    s.storage.hold().arm_for(0);
    let first = flushing(&s.pool, page, "the first flush");
    s.storage.hold().entered.wait("the first flush's claimed write");
    let second = flushing(&s.pool, page, "the second flush");
    wait_for_write_waits(&s.pool, 1, "the second flush waiting for the claim");
    let dropped = {
        let (pool, file) = (s.pool.clone(), s.file);
        bounded("drop_file", move || pool.drop_file(file))
    };
    s.storage.hold().go.open();
    first.join().unwrap().unwrap();
    let second = second.join().unwrap();
    assert!(
        matches!(second, Ok(()) | Err(Error::FileNotOpen(_))),
        "the waiting flush: {second:?}"
    );
    // The drop waited for the claimed write's latch (or gave up after a second of it on a slow machine).
    match dropped.join().unwrap() {
        Ok(()) => {}
        Err(Error::PageLatched { .. }) => s.pool.drop_file(s.file).unwrap(),
        Err(e) => panic!("drop_file: {e}"),
    }
    let again = s
        .pool
        .open_storage_with(MemoryStorage::new(), FileOptions::new().id(s.file))
        .unwrap();
    assert_eq!(again, s.file);
    for n in 0..16 {
        crate::common::fill_page(&mut s.pool.new_page(again).unwrap(), n, 3);
    }
    let pool = s.pool.clone();
    bounded("the new file's flushes", move || {
        for n in 0..16 {
            pool.flush(PageId::new(again, n)).unwrap();
        }
        pool.checkpoint().unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(s.pool.stats().dirty, 0);
}

/// A write-back that waits for a claim holds no claim (or latch) of its own meanwhile: the run before the
/// claimed page is written and let go first. So a flush of that earlier page, while the waiter still waits,
/// neither waits for it nor finds the page dirty again.
#[test]
fn a_claim_waiter_holds_no_claim_of_another_page() {
    let s = setup(None);
    let (p1, p3) = (PageId::new(s.file, 1), PageId::new(s.file, 3));
    change(&s.pool, p3, 2, 6);
    s.storage.hold().arm_for(0);
    let holder = flushing(&s.pool, p3, "the flush of page 3");
    s.storage.hold().entered.wait("page 3's claimed write");
    // The file's flush writes page 1 (a run of its own), then waits for page 3's claim.
    let waiter = {
        let (pool, file) = (s.pool.clone(), s.file);
        bounded("the file's flush", move || pool.flush_file(file))
    };
    wait_for_write_waits(&s.pool, 1, "the file's flush waiting for page 3's claim");
    // Page 1 changed again and flushed while the file's flush still waits.
    change(&s.pool, p1, 3, 7);
    flushing(&s.pool, p1, "a flush of page 1 beside the waiter")
        .join()
        .unwrap()
        .unwrap();
    assert!(!waiter.is_finished(), "the file's flush waits for page 3's claim");
    s.storage.hold().go.open();
    holder.join().unwrap().unwrap();
    waiter.join().unwrap().unwrap();
    assert_eq!(s.pool.stats().dirty, 0);
}

/// A callback of the claimed write (the storage's `write_at`, the log's flush) that flushes the page it writes is
/// told `CallbackReentry` at once (its own claim); the write goes on and the page is clean after it.
#[test]
fn a_callback_flushing_the_page_of_its_claimed_write_is_told_at_once() {
    for in_log in [false, true] {
        let s = setup(None);
        let page = PageId::new(s.file, 1);
        let callback = match in_log {
            true => {
                *s.wal.flush_in_flush.lock() = Some(page);
                "Wal::flush_for_pages"
            }
            false => {
                *s.storage.flush_in_write.lock() = Some(page);
                "Storage::write_at"
            }
        };
        flushing(&s.pool, page, callback).join().unwrap().unwrap();
        let seen = match in_log {
            true => std::mem::take(&mut *s.wal.seen.lock()),
            false => std::mem::take(&mut *s.storage.seen.lock()),
        };
        assert!(
            matches!(&seen[..], [(p, Err(Error::CallbackReentry { page: q, callback: c }))] if *p == page && *q == page && *c == callback),
            "{callback}: {seen:?}"
        );
        assert_eq!(s.pool.stats().dirty, 0, "{callback}");
    }
}

/// A callback on one thread that flushes a page whose claimed write another thread's callback holds: that
/// callback may wait for this one (R37-1), so the flush is told `CallbackReentry` rather than wait.
#[test]
fn a_callback_flushing_a_page_another_threads_callback_writes_is_told_at_once() {
    let s = setup(None);
    let (p1, p3) = (PageId::new(s.file, 1), PageId::new(s.file, 3));
    change(&s.pool, p3, 2, 1);
    s.storage.hold().arm_for(0);
    let holder = flushing(&s.pool, p1, "the flush of page 1");
    s.storage
        .hold()
        .entered
        .wait("page 1's claimed write, in the storage's write_at");
    // Page 3's write, on this thread, flushes page 1 from its `write_at`.
    *s.storage.flush_in_write.lock() = Some(p1);
    flushing(&s.pool, p3, "the flush of page 3").join().unwrap().unwrap();
    let seen = std::mem::take(&mut *s.storage.seen.lock());
    assert!(
        matches!(&seen[..], [(p, Err(Error::CallbackReentry { page: q, callback: "Storage::write_at" }))] if *p == p1 && *q == p1),
        "{seen:?}"
    );
    s.storage.hold().go.open();
    holder.join().unwrap().unwrap();
    assert_eq!(s.pool.stats().dirty, 0);
}

/// The background writer's claimed write held: a flush of the page waits for it and returns; then the writer held
/// again and the pool's last reference dropped meanwhile: the drop waits for the writer's write and returns.
#[test]
fn the_background_writers_claim_is_waited_for_and_its_shutdown_waits_for_it() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 0,
        dirty_ratio_max: 0.0,
        ..WriterConfig::for_frames(16)
    };
    let s = setup(Some(writer));
    let page = PageId::new(s.file, 1);
    // The writer may have written page 1 already: changed again, and its next write held.
    let hold = s.storage.arm_again();
    change(&s.pool, page, 3, 10);
    hold.entered.wait("the writer's write of page 1");
    assert_eq!(s.pool.stats().dirty, 1, "page 1, whose write is held");
    let flush = flushing(&s.pool, page, "a flush of the page the writer writes");
    wait_for_write_waits(&s.pool, 1, "the flush waiting for the writer's claim");
    hold.go.open();
    flush.join().unwrap().unwrap();
    assert_eq!(s.pool.stats().dirty, 0);
    // Held again, and the pool's last reference dropped meanwhile.
    let hold = s.storage.arm_again();
    change(&s.pool, page, 4, 11);
    hold.entered.wait("the writer's second write of page 1");
    let Setup { pool, device, .. } = s;
    let dropped = bounded("the pool's drop", move || drop(pool));
    hold.go.open();
    dropped.join().unwrap();
    // The writer's held write completed before the pool went: page 1's last change is on the storage.
    let mut buf = vec![0u8; 4096];
    device.below.read_at(&mut buf, 4096).unwrap();
    assert_eq!(crate::common::check_page(&buf[bufpool::PAGE_HEADER_SIZE..], 1), 4);
}
