//! Bugs found by the whole-API model (`whole_api_model.rs`), each pinned down by a deterministic test.
//!
//! Each test asserts the documented (or, for panics, the issue-11 "pool stays usable") behaviour; tests of open
//! bugs are `#[ignore]`d with the fix they wait for, so CI stays green until the fix lands (then remove the
//! `ignore`, and switch the trigger back on in `whole_api_model.rs`). Hangs are turned into failures by
//! `within`, a watchdog: the test fails after 5 s instead of hanging.
//! Seeds are those of `BUFPOOL_MODEL_SCHEDULES=300 BUFPOOL_MODEL_ALL=1` (4 threads x 60 ops) on branch `model`
//! (base f46c437); the model runs on real threads, so a seed replays the operations, not the interleaving.

use crate::common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage, StorageInfo};
use bufpool::{BufferPool, Error, Lsn, PageId, Wal};

/// Runs `f` on its own thread; `None` if it did not finish within 5 s (it is then left hanging).
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5)).ok()
}

/// A storage that panics on its next read, write or sync when told to.
#[derive(Default)]
struct PanicStorage {
    inner: MemoryStorage,
    panic_read: AtomicBool,
    panic_write: AtomicBool,
    panic_sync: AtomicBool,
    syncs: AtomicUsize,
}

impl Storage for PanicStorage {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if self.panic_read.swap(false, SeqCst) {
            panic!("storage read panics");
        }
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if self.panic_write.swap(false, SeqCst) {
            panic!("storage write panics");
        }
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        if self.panic_sync.swap(false, SeqCst) {
            panic!("storage sync panics");
        }
        self.syncs.fetch_add(1, SeqCst);
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "panic",
            direct: false,
        }
    }
}

/// M1 (U7 of issue 11 confirmed): `new_page` returns another thread's load error.
///
/// Symptom (model seeds 20 and 35: `new_page(FileId(2))` returned `Io { op: "read", page: 2:0 }`; seed 249:
/// `ShortRead { page: 1:1 }`): a `new_page` that reuses a freed page number (or extends the file) while another
/// thread's `read` of that number is loading it fails with that read's error, although `new_page` reads nothing.
/// Root cause: `pool.rs:1003-1006`: when `insert_if_absent` finds the page mapped (by the reader's miss), the
/// fallback calls `self.write(page)?`, which waits on the reader's load and, via `load_error` (`fix_with`),
/// returns its failure. Suggested fix: on that fallback, retry (the failed load unmapped the page, so the next
/// `insert_if_absent` succeeds) instead of propagating a read error; a new page's content never comes from storage.
#[test]
fn m1_new_page_returns_a_concurrent_readers_load_error() {
    let storage = common::Instrumented::new();
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let f = pool.open_storage(storage.clone()).unwrap();
    let p0 = pool.new_page(f).unwrap().page_id();
    pool.checkpoint().unwrap();
    pool.free_page(p0).unwrap();
    // A stale read of the freed page (legal: it is in range) blocks in the storage, then fails.
    storage.read_gate_closed.store(true, SeqCst);
    storage.fail_reads.store(true, SeqCst);
    let reader = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.read(p0).map(drop))
    };
    while storage.reads.load(SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let creator = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.new_page(f).map(|g| g.page_id()))
    };
    std::thread::sleep(Duration::from_millis(100)); // new_page is now waiting on the reader's load
    storage.read_gate_closed.store(false, SeqCst);
    assert!(reader.join().unwrap().is_err(), "the reader's load failed (injected)");
    let created = creator.join().unwrap();
    assert_eq!(created.as_ref().ok(), Some(&p0), "new_page reused page 0: {created:?}");
}

/// M2 (U8 of issue 11, `Storage::read_at`): a panicking read leaves the page mapped and latched forever.
///
/// Symptom (model, with `storage_panics` on: seeds 3, 15, 19, 23, 31, 32, 40, 42 hang in `write`): after a
/// `Storage::read_at` panic inside a miss, every later access to that page waits forever, and the frame is
/// counted in `loads_in_flight` for good (misses on a full pool then wait `LOADS_WAIT_MAX` each).
/// Root cause: `pool.rs:710` (`load`): the read runs between `reserve_with` (page mapped, frame exclusively
/// latched, `loads_in_flight + 1`) and `finish_load`; a panic skips `finish_load`. Same in `batch.rs`
/// `submit_loads` (read_many, prefetch). Suggested fix: hold the reservation in a guard value whose `Drop`
/// finishes the load as failed (unmap, free, record an error for waiters, `loads_in_flight - 1`).
#[test]
fn m2_storage_read_panic_leaves_the_page_latched() {
    let storage = Arc::new(PanicStorage::default());
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let f = pool.open_storage(storage.clone()).unwrap();
    let p = pool.new_page(f).unwrap().page_id();
    pool.checkpoint().unwrap();
    pool.drop_file(f).unwrap();
    let f = pool.open_storage(storage.clone()).unwrap();
    let p = PageId::new(f, p.page_no());
    storage.panic_read.store(true, SeqCst);
    assert_panic_surfaced(catch_unwind(AssertUnwindSafe(|| pool.read(p).map(drop))));
    let pool2 = pool.clone();
    let r = within(move || pool2.read(p).map(|g| g.len()));
    assert!(r.is_some(), "read after a panicking Storage::read_at hung for 5 s");
}

/// The callback's panic reached the caller: unwound out of the call, or (the pool's design since the fix: see
/// RELIABILITY.md, "Panic safety") caught and returned as `Error::Panicked`.
fn assert_panic_surfaced<T: std::fmt::Debug>(r: std::thread::Result<bufpool::Result<T>>) {
    match r {
        Err(_) | Ok(Err(bufpool::Error::Panicked { .. })) => {}
        Ok(other) => panic!("the callback's panic was lost: {other:?}"),
    }
}

/// A WAL whose next flush panics when told to.
#[derive(Default)]
struct PanicWal {
    panic_next: AtomicBool,
}

impl Wal for PanicWal {
    fn flush_to(&self, _lsn: Lsn) -> bufpool::Result<()> {
        if self.panic_next.swap(false, SeqCst) {
            panic!("wal flush panics");
        }
        Ok(())
    }
}

/// M3 (U8 of issue 11, `Wal::flush_to`): a panicking WAL flush during an eviction leaves the victim latched.
///
/// Symptom (model, with `wal_panics` on: writes hang on a page that was a victim): after `Wal::flush_to`
/// panicked while a miss evicted a dirty page, every later access to that page waits forever.
/// Root cause: `pool.rs:897` (`evict`) calls `write_run` (`writer.rs:94`, `wal.flush_to`) while holding the
/// victim's exclusive latch taken by `try_take`; the unwind skips `unlatch_exclusive_unchanged` and the
/// policy's re-insert. Same for `flush`/`checkpoint` runs (shared latches) and the background writer.
/// Suggested fix: a latch token whose `Drop` releases it (STYLE.md, LeanStore), or `catch_unwind` around the
/// callback turning a panic into an error after releasing.
#[test]
fn m3_wal_panic_during_eviction_leaves_the_victim_latched() {
    let wal = Arc::new(PanicWal::default());
    let pool = Arc::new(BufferPool::builder().frames(1).wal(wal.clone()).build().unwrap());
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let a = {
        let mut g = pool.new_page(f).unwrap();
        g.set_lsn(7);
        g.page_id()
    };
    wal.panic_next.store(true, SeqCst);
    // The next new page needs the only frame: a dirty victim, written after wal.flush_to(7), which panics once.
    // Since the fix the panic is an error of that eviction attempt, and the miss tries the victim again (as after
    // a failed write), so the new page may well be created; either way the victim must not stay latched.
    match catch_unwind(AssertUnwindSafe(|| pool.new_page(f).map(drop))) {
        Err(_) | Ok(Ok(())) | Ok(Err(bufpool::Error::Panicked { .. })) => {}
        Ok(Err(e)) => panic!("new_page: {e}"),
    }
    let pool2 = pool.clone();
    let r = within(move || pool2.write(a).map(|g| g.len()));
    assert!(
        r.is_some(),
        "write of the victim after a panicking Wal::flush_to hung for 5 s"
    );
}

/// M4 (U8 of issue 11, the eviction veto): a panicking veto leaves the candidate latched.
///
/// Symptom (model, with `veto_panics` on): after the eviction veto panicked, the page it was asked about can
/// never be latched again.
/// Root cause: `pool.rs:866-880` (`try_take`): the candidate is latched exclusively, then `evictable` calls the
/// veto (`pool.rs:888`); the unwind skips `unlatch_exclusive_unchanged`. Suggested fix: call the veto before
/// latching (it only needs the page id, re-checked after the latch), or release through a guard on unwind.
#[test]
fn m4_veto_panic_leaves_the_candidate_latched() {
    let armed = Arc::new(AtomicBool::new(false));
    let veto_armed = armed.clone();
    let pool = Arc::new(
        BufferPool::builder()
            .frames(1)
            .eviction_veto(move |_| {
                if veto_armed.swap(false, SeqCst) {
                    panic!("veto panics");
                }
                false
            })
            .build()
            .unwrap(),
    );
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let a = pool.new_page(f).unwrap().page_id();
    pool.checkpoint().unwrap();
    armed.store(true, SeqCst);
    assert_panic_surfaced(catch_unwind(AssertUnwindSafe(|| pool.new_page(f).map(drop))));
    let pool2 = pool.clone();
    let r = within(move || pool2.write(a).map(|g| g.len()));
    assert!(
        r.is_some(),
        "write of the veto's candidate after the veto panicked hung for 5 s"
    );
}

/// M5 (U8 of issue 11, `Storage::write_at`): a panicking write in `flush` leaves a shared latch held.
///
/// Symptom (model, with `storage_panics` on: quiesce checks hang write-latching a page): after
/// `Storage::write_at` panicked inside `flush(page)`, the page can be read but never written again.
/// Root cause: `writer.rs:156-166` (`flush`): `latch_resident_shared`, then `write_run_and_clean`
/// (`write_at` panics), and the unwind skips `h.state.unlatch_shared()` (`writer.rs:166`). `write_dirty`'s runs
/// (`finish_run`) leak every latch of the run the same way. Suggested fix: as M3.
#[test]
fn m5_storage_write_panic_in_flush_leaves_a_shared_latch() {
    let storage = Arc::new(PanicStorage::default());
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let f = pool.open_storage(storage.clone()).unwrap();
    let p = pool.new_page(f).unwrap().page_id();
    storage.panic_write.store(true, SeqCst);
    assert_panic_surfaced(catch_unwind(AssertUnwindSafe(|| pool.flush(p))));
    let pool2 = pool.clone();
    let r = within(move || pool2.write(p).map(|g| g.len()));
    assert!(
        r.is_some(),
        "write after a panicking Storage::write_at in flush hung for 5 s"
    );
}

/// M6 (U8 of issue 11, `Storage::sync`): a panicking sync loses the file's "unsynced" mark, so a later
/// `flush` returns `Ok` without syncing: a durability lie.
///
/// Symptom (found reading the model's failures around sync panics): after `Storage::sync` panicked, the next
/// `flush(page)` of a page written before returns `Ok` and calls no sync at all.
/// Root cause: `writer.rs:140` (`sync_file`) clears `unsynced` before `storage.sync()` (`writer.rs:144`); the
/// error path sets it again, the unwind does not. Suggested fix: set it again on unwind (a drop guard), or mark
/// the file failed: a sync that did not return cannot be trusted (as after a failed fsync).
#[test]
fn m6_storage_sync_panic_then_flush_claims_durability() {
    let storage = Arc::new(PanicStorage::default());
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let f = pool.open_storage(storage.clone()).unwrap();
    let p = pool.new_page(f).unwrap().page_id();
    storage.panic_sync.store(true, SeqCst);
    assert_panic_surfaced(catch_unwind(AssertUnwindSafe(|| pool.flush(p))));
    let before = storage.syncs.load(SeqCst);
    let r = pool.flush(p);
    assert!(
        r.is_err() || storage.syncs.load(SeqCst) > before,
        "flush returned {r:?} without syncing the write whose sync panicked"
    );
}

/// A smoke check that the harness above detects nothing on a healthy path (so the tests' teeth are the bugs').
#[test]
fn healthy_paths_pass_the_same_checks() {
    let storage = Arc::new(PanicStorage::default());
    let pool = Arc::new(BufferPool::builder().frames(1).build().unwrap());
    let f = pool.open_storage(storage.clone()).unwrap();
    let a = pool.new_page(f).unwrap().page_id();
    drop(pool.new_page(f).unwrap()); // evicts a (dirty): written
    let before = storage.syncs.load(SeqCst);
    pool.flush(a).unwrap();
    assert!(storage.syncs.load(SeqCst) > before);
    let pool2 = pool.clone();
    assert!(matches!(within(move || pool2.write(a).map(|g| g.len())), Some(Ok(_))));
    assert!(!matches!(pool.read(PageId::new(f, 9)), Err(Error::PageLatched { .. })));
}

/// R36-1 (session 36, model36): `ReadGuard::try_upgrade` turned a read guard on a freed page's last image into a
/// write guard. `free_page`'s docs: once it returns, "a `write` of it fails with `PageFreed` until `new_page`
/// reuses the number", a read is served the last image, and "none keeps a copy that takes write guards
/// afterwards" (P1). `write` checks the frame's `freed` mark; `try_upgrade` did not, so a reader that followed a
/// stale pointer to a freed page and decided to change it changed (and dirtied) a freed page. Found by the
/// whole-API model's `Upgrade` op (seed in RELIABILITY.md, R36-1).
#[test]
fn r36_1_try_upgrade_of_a_freed_pages_image_is_refused() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let p = {
        let mut g = pool.new_page(f).unwrap();
        g[0] = 7;
        g.set_lsn(1);
        g.page_id()
    };
    let _keep = pool.new_page(f).unwrap().page_id();
    pool.checkpoint().unwrap(); // p has an image in the file
    pool.free_page(p).unwrap();
    // The premise: `write` refuses the freed page; `read` serves its last image.
    assert!(matches!(pool.write(p), Err(Error::PageFreed { .. })));
    let g = pool.read(p).expect("a freed page with an image is read");
    assert_eq!(g[0], 7);
    match g.try_upgrade() {
        Ok(_) => panic!("try_upgrade of a freed page's image gave a write guard (write of it: PageFreed)"),
        Err(g) => assert_eq!(g[0], 7, "the refused guard is the same shared latch"),
    }
    assert!(matches!(pool.write(p), Err(Error::PageFreed { .. })));
    // Reused by new_page, the number takes write guards again, through either door.
    let q = pool.new_page(f).unwrap().page_id();
    assert_eq!(q, p);
    let g = pool.read(p).unwrap();
    assert!(g.try_upgrade().is_ok());
}

/// A storage that consults another page through the pool while the pool loads (`on_write` false) or writes back
/// (`on_write` true) one of its pages: its read or write number `fire_at` (counted from 1) reads `target`, and
/// records what the pool answered.
struct CallsBack {
    inner: MemoryStorage,
    pool: std::sync::OnceLock<std::sync::Weak<BufferPool>>,
    on_write: bool,
    calls: AtomicUsize,
    fire_at: AtomicUsize,
    target: std::sync::Mutex<Option<PageId>>,
    answer: std::sync::Mutex<Option<String>>,
}

impl CallsBack {
    fn new(on_write: bool) -> Arc<CallsBack> {
        Arc::new(CallsBack {
            inner: MemoryStorage::new(),
            pool: std::sync::OnceLock::new(),
            on_write,
            calls: AtomicUsize::new(0),
            fire_at: AtomicUsize::new(usize::MAX),
            target: std::sync::Mutex::new(None),
            answer: std::sync::Mutex::new(None),
        })
    }

    /// Reads `target` from the `nth` call from now.
    fn arm(&self, target: PageId, nth: usize) {
        *self.target.lock().unwrap() = Some(target);
        self.fire_at.store(self.calls.load(SeqCst) + nth, SeqCst);
    }

    fn call(&self) {
        if self.calls.fetch_add(1, SeqCst) + 1 != self.fire_at.load(SeqCst) {
            return;
        }
        let target = *self.target.lock().unwrap();
        if let (Some(target), Some(pool)) = (target, self.pool.get().and_then(|p| p.upgrade())) {
            let r = pool.read(target).map(|g| g.len());
            *self.answer.lock().unwrap() = Some(format!("{r:?}"));
        }
    }
}

impl Storage for CallsBack {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if !self.on_write {
            self.call();
        }
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if self.on_write {
            self.call();
        }
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "calls-back",
            direct: false,
        }
    }
}

/// R36-2 (session 36, model36): a `Storage::read_at` of a `read_many` batch (or `prewarm`'s) that read another
/// page of the same batch, one in a later run (another file, or the same file after another's pages), waited for
/// ever: the batch holds every page it loads exclusively latched on this thread until its run is submitted, but
/// only the frames of the run being submitted were listed as held for the callback (`held::for_callback` in
/// `submit_loads`), so the call back waited for a latch its own thread held, and every other thread that needed
/// one of the batch's pages waited behind it (the model's seed 230: `prewarm` with a call back armed, two
/// `new_page`s stuck). The crate docs: a call back for a page the pool holds for the callback returns
/// `CallbackReentry` at once. Now every page of the batch is listed around each run's submit.
#[test]
fn r36_2_storage_reading_a_page_of_its_own_batch_is_told_callback_reentry() {
    let a = CallsBack::new(false);
    let b = Arc::new(MemoryStorage::new());
    let pool = Arc::new(BufferPool::builder().frames(16).io_threads(0).build().unwrap());
    a.pool.set(Arc::downgrade(&pool)).unwrap();
    let (fa, fb) = (
        pool.open_storage(a.clone()).unwrap(),
        pool.open_storage(b.clone()).unwrap(),
    );
    let (pa, pb) = (
        pool.new_page(fa).unwrap().page_id(),
        pool.new_page(fb).unwrap().page_id(),
    );
    // Both pages on storage, neither resident.
    pool.close_file(fa).unwrap();
    pool.close_file(fb).unwrap();
    let (fa, fb) = (pool.open_storage(a.clone()).unwrap(), pool.open_storage(b).unwrap());
    let (pa, pb) = (PageId::new(fa, pa.page_no()), PageId::new(fb, pb.page_no()));
    // The batch [pa, pb] runs pa's file first; its read_at reads pb, reserved by the same batch.
    a.arm(pb, 1);
    let p = pool.clone();
    let visited = within(move || {
        let mut ok = 0;
        p.read_many(&[pa, pb], |_, g| ok += usize::from(g.is_ok()));
        ok
    });
    assert_eq!(
        visited,
        Some(2),
        "read_many whose storage read another page of its batch did not finish within 5 s"
    );
    let answer = a.answer.lock().unwrap().clone().unwrap();
    assert!(
        answer.contains("CallbackReentry"),
        "the storage's read of a page its batch holds: {answer}"
    );
}

/// R36-3 (session 36, model36): while `read_many` (or `prefetch`, `prewarm`) reserves the frames of its batch,
/// each exclusively latched on this thread from its reservation until the batch is submitted, the miss that takes
/// a frame for the next page runs callbacks (the veto, the log, `Storage::write_at` of a dirty victim, the
/// policy's); a call back from one of them for a page the batch had reserved already waited for ever for this
/// thread's own latch, R36-2's wait one step earlier (found by the model's `Reenter` injections: a watchdog hang
/// on an unreplayable seed, then pinned by this test). Now the batch's frames are listed as held for the
/// callbacks of each reservation (`reserve_beside` in `batch.rs`): `CallbackReentry` at once.
#[test]
fn r36_3_eviction_callback_reading_a_page_its_batch_reserved_does_not_hang() {
    let c = CallsBack::new(true);
    let a = Arc::new(MemoryStorage::new());
    let pool = Arc::new(BufferPool::builder().frames(8).io_threads(0).build().unwrap());
    c.pool.set(Arc::downgrade(&pool)).unwrap();
    let fa = pool.open_storage(a.clone()).unwrap();
    let (a0, a1) = (
        pool.new_page(fa).unwrap().page_id(),
        pool.new_page(fa).unwrap().page_id(),
    );
    pool.close_file(fa).unwrap();
    let fa = pool.open_storage(a).unwrap();
    let (a0, a1) = (PageId::new(fa, a0.page_no()), PageId::new(fa, a1.page_no()));
    // Every frame a dirty page of c: each reservation of the batch evicts one, writing it back.
    let fc = pool.open_storage(c.clone()).unwrap();
    for _ in 0..8 {
        drop(pool.new_page(fc).unwrap());
    }
    // The second write-back (reserving a1) reads a0, which the batch reserved first.
    c.arm(a0, 2);
    let p = pool.clone();
    let visited = within(move || {
        let mut ok = 0;
        p.read_many(&[a0, a1], |_, g| ok += usize::from(g.is_ok()));
        ok
    });
    let answer = c.answer.lock().unwrap().clone();
    assert!(
        visited.is_some(),
        "read_many did not finish within 5 s (the call back answered {answer:?})"
    );
    let answer = answer.expect("the call back fired");
    assert!(
        answer.contains("CallbackReentry"),
        "a call back for a page the batch holds: {answer}"
    );
}

/// R36-O1 (session 36, model36; fixed by the lead's R36-21 the same session): an eviction veto that reads a page
/// that is not resident wedged the pool. The built-in policies call `try_take`, and with it the veto, under their
/// own mutex; the veto's miss asked the policy for a victim again on the same thread and waited for ever for that
/// mutex, and so did every other thread that needed a victim afterwards (the model's long run met it three
/// times: seeds 13311, 14215, 16596). Now the veto's miss returns `CallbackReentry` and the outer miss finishes.
#[test]
fn r36_o1_an_eviction_veto_reading_a_missing_page_does_not_wedge_the_pool() {
    let pool: Arc<std::sync::OnceLock<std::sync::Weak<BufferPool>>> = Arc::new(std::sync::OnceLock::new());
    let target: Arc<std::sync::Mutex<Option<PageId>>> = Arc::default();
    let (p2, t2) = (pool.clone(), target.clone());
    let built = Arc::new(
        BufferPool::builder()
            .frames(4)
            .policy(bufpool::PolicyKind::Lru)
            .io_threads(0)
            .eviction_veto(move |_| {
                let t = t2.lock().unwrap().take();
                if let (Some(t), Some(pool)) = (t, p2.get().and_then(|p| p.upgrade())) {
                    let _ = pool.read(t).map(|g| g.len());
                }
                false
            })
            .build()
            .unwrap(),
    );
    pool.set(Arc::downgrade(&built)).unwrap();
    let f = built.open_storage(MemoryStorage::new()).unwrap();
    let pages: Vec<PageId> = (0..8).map(|_| built.new_page(f).unwrap().page_id()).collect();
    built.checkpoint().unwrap();
    // Pages 0..4 evicted, 4..8 resident; the next miss's veto reads page 1, not resident.
    *target.lock().unwrap() = Some(pages[1]);
    let b = built.clone();
    let done = within(move || b.read(pages[0]).map(|g| g.len()).is_ok());
    assert_eq!(
        done,
        Some(true),
        "a miss whose veto read a missing page did not finish within 5 s"
    );
}
