//! The pool's callbacks calling back into the pool for the very page the pool holds latched for them (R35-20, was
//! R19-O21 in RELIABILITY.md). The crate docs say callbacks must not call back into the pool; a user's `Storage`,
//! `Wal`, eviction veto or policy that does so anyway, for the page it runs for, waited for ever: the pool holds
//! that page's latch on the same thread (a load's, a write run's, a victim's) and its own latches were not
//! listed as the caller's. Now each such call returns `Error::CallbackReentry` at once, naming the callback, and
//! the pool's own operation completes. Calls for other pages go on as before (a storage reading another page).
//! Each scenario runs under `common::within`: on the old code each waits for ever and fails there.

use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op, StorageInfo};
use bufpool::{BufferPool, Error, FileId, FrameIdx, Lsn, MemoryStorage, PageId, Policy, Storage, Wal};
use parking_lot::Mutex;

use crate::common;

/// The pool a callback calls back into (set once it is built).
type PoolSlot = Arc<OnceLock<Weak<BufferPool>>>;

fn pool_of(slot: &PoolSlot) -> Arc<BufferPool> {
    slot.get().and_then(Weak::upgrade).expect("the pool is alive")
}

/// What [`Reentering`] does from its next call.
const NOTHING: u8 = 0;
const READ_IN_READ_AT: u8 = 1;
const WRITE_IN_WRITE_AT: u8 = 2;

/// A page and what a callback's call for it returned.
type Seen = Arc<Mutex<Vec<(PageId, std::result::Result<(), Error>)>>>;

/// A memory storage whose next read (or write) calls `read` (or `write`) of the target page on the pool, once.
struct Reentering {
    inner: MemoryStorage,
    pool: PoolSlot,
    mode: Arc<AtomicU8>,
    target: Arc<Mutex<Option<PageId>>>,
    seen: Seen,
}

impl Reentering {
    fn call_back(&self, want: u8) {
        if self.mode.compare_exchange(want, NOTHING, SeqCst, SeqCst).is_err() {
            return;
        }
        let target = self.target.lock().expect("a target");
        let pool = pool_of(&self.pool);
        let r = match want {
            READ_IN_READ_AT => pool.read(target).map(drop),
            _ => pool.write(target).map(drop),
        };
        self.seen.lock().push((target, r));
    }
}

impl Storage for Reentering {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.call_back(READ_IN_READ_AT);
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.call_back(WRITE_IN_WRITE_AT);
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
}

struct Setup {
    pool: Arc<BufferPool>,
    file: FileId,
    mode: Arc<AtomicU8>,
    target: Arc<Mutex<Option<PageId>>>,
    seen: Seen,
}

/// A pool of `frames` frames over a [`Reentering`] storage holding `pages` pages, all written and evicted but
/// the last `frames`.
fn setup(frames: usize, pages: usize) -> (Setup, Vec<PageId>) {
    let slot = PoolSlot::default();
    let pool = Arc::new(BufferPool::builder().frames(frames).build().unwrap());
    slot.set(Arc::downgrade(&pool)).unwrap();
    let (mode, target, seen) = (Arc::new(AtomicU8::new(NOTHING)), Arc::default(), Seen::default());
    let file = pool
        .open_storage(Reentering {
            inner: MemoryStorage::new(),
            pool: slot,
            mode: mode.clone(),
            target: Arc::clone(&target),
            seen: Arc::clone(&seen),
        })
        .unwrap();
    let ids: Vec<PageId> = (0..pages).map(|_| pool.new_page(file).unwrap().page_id()).collect();
    pool.checkpoint().unwrap();
    for &p in &ids[pages - frames..] {
        drop(pool.read(p).unwrap());
    }
    let s = Setup {
        pool,
        file,
        mode,
        target,
        seen,
    };
    (s, ids)
}

fn assert_reentry(seen: &Seen, page: PageId, callback: &str) {
    let seen = seen.lock();
    assert_eq!(seen.len(), 1, "the callback called back once: {seen:?}");
    match &seen[0] {
        (p, Err(Error::CallbackReentry { page: q, callback: c })) if *p == page && *q == page && *c == callback => {}
        other => panic!("expected CallbackReentry for {page} in {callback}, got {other:?}"),
    }
}

#[test]
fn a_storage_reading_the_page_it_is_loading_is_told_at_once() {
    common::within("Storage::read_at reading its own page", || {
        let (s, ids) = setup(4, 10);
        *s.target.lock() = Some(ids[0]);
        s.mode.store(READ_IN_READ_AT, SeqCst);
        drop(s.pool.read(ids[0]).expect("the load itself completes"));
        assert_reentry(&s.seen, ids[0], "Storage::read_at");
        // And the page was loaded whole: it reads again, now a hit.
        drop(s.pool.read(ids[0]).unwrap());
        s.pool.drop_file(s.file).unwrap();
    });
}

#[test]
fn a_storage_reading_the_page_it_is_loading_in_a_batch_is_told_at_once() {
    common::within("Storage::submit reading a page of its batch", || {
        // Frames enough for the batch's three loads at once.
        let (s, ids) = setup(32, 40);
        *s.target.lock() = Some(ids[1]);
        s.mode.store(READ_IN_READ_AT, SeqCst);
        let mut got = 0;
        s.pool.read_many(&ids[..3], |_, guard| {
            guard.expect("every page of the batch loads");
            got += 1;
        });
        assert_eq!(got, 3);
        assert_reentry(&s.seen, ids[1], "Storage::submit");
        s.pool.drop_file(s.file).unwrap();
    });
}

#[test]
fn a_storage_reading_another_page_while_loading_one_still_reads_it() {
    common::within("Storage::read_at reading another page", || {
        let (s, ids) = setup(4, 10);
        *s.target.lock() = Some(ids[1]);
        s.mode.store(READ_IN_READ_AT, SeqCst);
        drop(s.pool.read(ids[0]).unwrap());
        let seen = s.seen.lock();
        assert!(matches!(seen.as_slice(), [(p, Ok(()))] if *p == ids[1]), "{seen:?}");
        drop(seen);
        s.pool.drop_file(s.file).unwrap();
    });
}

#[test]
fn a_storage_writing_the_page_it_is_writing_is_told_at_once() {
    common::within("Storage::write_at writing its own page", || {
        let (s, ids) = setup(4, 10);
        let page = ids[9];
        s.pool.write(page).unwrap()[100] = 7;
        *s.target.lock() = Some(page);
        s.mode.store(WRITE_IN_WRITE_AT, SeqCst);
        s.pool.flush(page).expect("the flush itself completes");
        assert_reentry(&s.seen, page, "Storage::write_at");
        // The flush wrote the page: it is clean, and its byte is on the storage.
        assert_eq!(s.pool.stats().dirty, 0);
        s.pool.drop_file(s.file).unwrap();
    });
}

/// A log whose next `flush_for_pages` (or, with `needs`, `needs_flush_for_pages`) writes the target page.
struct WritingLog {
    pool: PoolSlot,
    target: Mutex<Option<PageId>>,
    in_needs: bool,
    seen: Seen,
}

impl WritingLog {
    fn call_back(&self) {
        if let Some(target) = self.target.lock().take() {
            let r = pool_of(&self.pool).write(target).map(drop);
            self.seen.lock().push((target, r));
        }
    }
}

impl Wal for WritingLog {
    fn flush_to(&self, _lsn: Lsn) -> bufpool::Result<()> {
        Ok(())
    }
    fn flush_for_pages(&self, _lsn: Lsn, _first: PageId, _count: usize) -> bufpool::Result<()> {
        if !self.in_needs {
            self.call_back();
        }
        Ok(())
    }
    fn needs_flush_for_pages(&self, _lsn: Lsn, _first: PageId, _count: usize) -> bool {
        if self.in_needs {
            self.call_back();
        }
        false
    }
}

fn log_writing_its_page(in_needs: bool, callback: &'static str) {
    let slot = PoolSlot::default();
    let seen = Seen::default();
    let log = Arc::new(WritingLog {
        pool: slot.clone(),
        target: Mutex::new(None),
        in_needs,
        seen: Arc::clone(&seen),
    });
    let pool = Arc::new(BufferPool::builder().frames(8).wal(log.clone()).build().unwrap());
    slot.set(Arc::downgrade(&pool)).unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        g.set_lsn(5);
        g.page_id()
    };
    *log.target.lock() = Some(page);
    // A checkpoint asks `needs_flush_for_pages` of each run, then writes it (`flush_for_pages`, `write_at`).
    pool.checkpoint().expect("the checkpoint itself completes");
    assert_reentry(&seen, page, callback);
    assert_eq!(pool.stats().dirty, 0);
    pool.drop_file(file).unwrap();
}

#[test]
fn a_log_writing_the_page_it_is_flushed_for_is_told_at_once() {
    common::within("Wal::flush_for_pages writing its page", || {
        log_writing_its_page(false, "Wal::flush_for_pages")
    });
}

#[test]
fn a_log_asked_whether_a_run_needs_a_flush_writing_the_runs_page_is_told_at_once() {
    common::within("Wal::needs_flush_for_pages writing its page", || {
        log_writing_its_page(true, "Wal::needs_flush_for_pages")
    });
}

#[test]
fn an_eviction_veto_reading_the_victim_is_told_at_once() {
    common::within("the eviction veto reading its page", || {
        let slot = PoolSlot::default();
        let seen = Seen::default();
        let (slot2, seen2) = (slot.clone(), Arc::clone(&seen));
        let pool = Arc::new(
            BufferPool::builder()
                .frames(2)
                .eviction_veto(move |page| {
                    let mut seen = seen2.lock();
                    if seen.is_empty() {
                        let r = pool_of(&slot2).read(page).map(drop);
                        seen.push((page, r));
                    }
                    false
                })
                .build()
                .unwrap(),
        );
        slot.set(Arc::downgrade(&pool)).unwrap();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        let pages: Vec<PageId> = (0..3).map(|_| pool.new_page(file).unwrap().page_id()).collect();
        let seen = seen.lock();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            pages[..2].contains(&seen[0].0),
            "the veto was asked about a resident page"
        );
        assert!(
            matches!(&seen[0].1, Err(Error::CallbackReentry { page, callback: "eviction veto" }) if *page == seen[0].0),
            "{seen:?}"
        );
    });
}

/// What [`ReadingPolicy`] does next, once.
const READ_IN_ON_INSERT: u8 = 1;
const READ_IN_VICTIM: u8 = 2;

/// FIFO, whose next `on_insert` reads the page just inserted, or whose next `victim` reads the page of the frame
/// it just took.
struct ReadingPolicy {
    queue: Mutex<std::collections::VecDeque<(FrameIdx, u64)>>,
    pool: PoolSlot,
    armed: Arc<AtomicU8>,
    seen: Seen,
}

impl ReadingPolicy {
    fn read(&self, key: u64) {
        let page = PageId::from_u64(key);
        let r = pool_of(&self.pool).read(page).map(drop);
        self.seen.lock().push((page, r));
    }
}

impl Policy for ReadingPolicy {
    fn name(&self) -> &'static str {
        "reading"
    }
    fn on_hit(&self, _frame: FrameIdx) {}
    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.queue.lock().push_back((frame, key));
        if self
            .armed
            .compare_exchange(READ_IN_ON_INSERT, 0, SeqCst, SeqCst)
            .is_ok()
        {
            self.read(key);
        }
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.queue.lock().retain(|&(f, _)| f != frame);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let queue: Vec<(FrameIdx, u64)> = self.queue.lock().iter().copied().collect();
        let (frame, key) = queue.into_iter().find(|&(f, _)| try_take(f))?;
        if self.armed.compare_exchange(READ_IN_VICTIM, 0, SeqCst, SeqCst).is_ok() {
            self.read(key);
        }
        Some(frame)
    }
}

/// A pool of 4 frames under a [`ReadingPolicy`], with what arms the policy and what its reads returned.
fn reading_pool() -> (Arc<BufferPool>, Arc<AtomicU8>, Seen) {
    let slot = PoolSlot::default();
    let (armed, seen) = (Arc::new(AtomicU8::new(0)), Seen::default());
    let pool = Arc::new(
        BufferPool::builder()
            .frames(4)
            .custom_policy(Box::new(ReadingPolicy {
                queue: Mutex::default(),
                pool: slot.clone(),
                armed: Arc::clone(&armed),
                seen: Arc::clone(&seen),
            }))
            .build()
            .unwrap(),
    );
    slot.set(Arc::downgrade(&pool)).unwrap();
    (pool, armed, seen)
}

#[test]
fn a_policy_reading_the_page_it_is_told_of_is_told_at_once() {
    common::within("Policy::on_insert reading its page", || {
        let (pool, armed, seen) = reading_pool();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        // A new page's insert.
        armed.store(READ_IN_ON_INSERT, SeqCst);
        let page = pool.new_page(file).unwrap().page_id();
        assert_reentry(&seen, page, "Policy::on_insert");
        // A load's insert.
        pool.checkpoint().unwrap();
        let others: Vec<PageId> = (0..4).map(|_| pool.new_page(file).unwrap().page_id()).collect();
        drop(others);
        seen.lock().clear();
        armed.store(READ_IN_ON_INSERT, SeqCst);
        drop(pool.read(page).unwrap());
        assert_reentry(&seen, page, "Policy::on_insert");
        // A miss's victim: the policy reads the page of the frame it took (the oldest insert still resident).
        pool.checkpoint().unwrap();
        seen.lock().clear();
        armed.store(READ_IN_VICTIM, SeqCst);
        let more = pool.new_page(file).unwrap().page_id();
        let seen_now = seen.lock().clone();
        assert_eq!(seen_now.len(), 1, "{seen_now:?}");
        let (victim, got) = &seen_now[0];
        assert_ne!(*victim, more);
        assert!(
            matches!(got, Err(Error::CallbackReentry { page: p, callback: "Policy::victim_for" }) if p == victim),
            "{seen_now:?}"
        );
        pool.drop_file(file).unwrap();
    });
}

/// A pool from `builder` whose eviction veto is `veto(candidate, slot, pages)` (`pool_of(slot)` is the pool), and
/// `pages` new pages of one file, written out, with pages 3 and on read in: a miss of page 0, 1 or 2 then evicts,
/// running the veto. The veto lets every candidate go until the pages are made.
fn veto_pool(
    builder: bufpool::Builder,
    pages: usize,
    veto: impl Fn(PageId, &PoolSlot, &[PageId]) -> bool + Send + Sync + 'static,
) -> (Arc<BufferPool>, Vec<PageId>) {
    let slot = PoolSlot::default();
    let made: Arc<OnceLock<Vec<PageId>>> = Arc::default();
    let (slot2, made2) = (slot.clone(), Arc::clone(&made));
    let pool = Arc::new(
        builder
            .eviction_veto(move |candidate| made2.get().is_some_and(|pages| veto(candidate, &slot2, pages)))
            .build()
            .unwrap(),
    );
    slot.set(Arc::downgrade(&pool)).unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    made.set((0..pages).map(|_| pool.new_page(file).unwrap().page_id()).collect())
        .unwrap();
    let pages = made.get().unwrap().clone();
    pool.checkpoint().unwrap();
    for &p in &pages[3..] {
        drop(pool.read(p).unwrap());
    }
    (pool, pages)
}

/// R36-21: an eviction veto reading *another* page that is not resident. The veto runs inside the miss's victim
/// search (under the policy's lock for the list policies, S3-FIFO's included), so its own miss searched again on
/// the same thread and waited for ever; on `9de118a` this test fails by `within`'s "still waiting after 10 s".
/// Now the veto's miss is told `CallbackReentry` at once, naming the page it asked for, and the miss that ran the
/// veto loads its page. A veto's read of a resident page (a hit) is served as before.
#[test]
fn an_eviction_veto_reading_another_page_that_misses_is_told_at_once() {
    common::within("the eviction veto missing on another page", || {
        let seen = Seen::default();
        let seen2 = Arc::clone(&seen);
        // The veto's first call reads page 1 (not resident: a miss) and protects its candidate; its second reads a
        // resident page other than its candidate (a hit) and lets the candidate go.
        let armed = Arc::new(AtomicU8::new(0));
        let armed2 = Arc::clone(&armed);
        let (pool, pages) = veto_pool(BufferPool::builder().frames(3), 6, move |candidate, slot, pages| {
            let (target, protect) = match armed2.load(SeqCst) {
                1 => (pages[1], true),
                2 => (*pages[3..].iter().find(|&&p| p != candidate).unwrap(), false),
                _ => return false,
            };
            armed2.fetch_add(1, SeqCst);
            let r = pool_of(slot).read(target).map(drop);
            seen2.lock().push((target, r));
            protect
        });
        armed.store(1, SeqCst);
        drop(pool.read(pages[0]).expect("the miss that ran the veto loads its page"));
        let seen = seen.lock();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            matches!(&seen[0], (p, Err(Error::CallbackReentry { page, callback: "eviction veto" })) if *p == pages[1] && *page == pages[1]),
            "{seen:?}"
        );
        assert!(matches!(&seen[1], (p, Ok(())) if pages[3..].contains(p)), "{seen:?}");
    });
}

/// R37-20: an eviction veto reading a resident page that another thread holds latched waited for that latch,
/// inside the victim search: with the victim's frame latched and, for the list policies, the policy's lock held.
/// The other thread's next miss waited for that lock, and the two threads for each other for ever (the whole-API
/// model's CI hang on seed 129 was this cycle with a batch holding its loads' frames). Here thread B holds a write
/// guard on page 3 and, once the veto runs on thread A and reads page 3, misses on page 1: on `85a409f` this test
/// fails by `within`'s "still waiting after 10 s". Now a veto's read that would wait for a latch is told
/// `CallbackReentry { callback: "eviction veto" }` at once, like its misses (R36-21); both misses load their
/// pages. Every policy alike, the ones without a lock (CLOCK) too.
#[test]
fn an_eviction_veto_reading_a_page_another_thread_holds_is_told_at_once() {
    for kind in bufpool::PolicyKind::ALL {
        common::within(
            &format!("the eviction veto waiting for another thread's latch ({kind:?})"),
            move || {
                let seen = Seen::default();
                let seen2 = Arc::clone(&seen);
                let armed = Arc::new(AtomicU8::new(0));
                let armed2 = Arc::clone(&armed);
                let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
                let entered_tx = Mutex::new(entered_tx);
                let (read_tx, read_rx) = std::sync::mpsc::channel::<()>();
                let read_tx = Mutex::new(read_tx);
                let builder = BufferPool::builder().frames(4).policy(*kind);
                let (pool, pages) = veto_pool(builder, 7, move |_candidate, slot, pages| {
                    if armed2.compare_exchange(1, 2, SeqCst, SeqCst).is_err() {
                        return false;
                    }
                    let target = pages[3];
                    entered_tx.lock().send(()).unwrap();
                    let r = pool_of(slot).read(target).map(drop);
                    seen2.lock().push((target, r));
                    read_tx.lock().send(()).unwrap();
                    false
                });
                // Thread B: a write guard on page 3, then (once the veto runs) a miss of its own.
                let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
                let b = {
                    let pool = Arc::clone(&pool);
                    let pages = pages.clone();
                    std::thread::spawn(move || {
                        let guard = pool.write(pages[3]).unwrap();
                        held_tx.send(()).unwrap();
                        entered_rx.recv().unwrap();
                        drop(pool.read(pages[1]).expect("thread B's miss loads its page"));
                        // Held until the veto's read returned: under a policy without a lock (CLOCK) this miss
                        // does not wait for the veto's search, and a guard dropped first let the read through.
                        read_rx.recv().unwrap();
                        drop(guard);
                    })
                };
                held_rx.recv().unwrap();
                armed.store(1, SeqCst);
                drop(pool.read(pages[0]).expect("the miss that ran the veto loads its page"));
                b.join().unwrap();
                let seen = seen.lock();
                assert!(
                    matches!(&seen[..], [(p, Err(Error::CallbackReentry { page, callback: "eviction veto" }))] if *p == pages[3] && *page == pages[3]),
                    "{kind:?}: {seen:?}"
                );
            },
        );
    }
}

/// R37-21: a victim whose write failed goes back to the policy (`Policy::on_insert`) with its frame still latched
/// by the miss, and that call did not list the frame as held for the callback: a policy reading the page it is told
/// of waited for its own thread's latch for ever (with `Victim::drop`'s listing taken out of `2c7546c`, this test
/// fails by `within`'s "still waiting after 10 s"; the whole-API model met it as seed 4096, a read falling back
/// from `read_optimistic`). Now it is told
/// `CallbackReentry { callback: "Policy::on_insert" }` at once, as for the inserts of loads and new pages.
#[test]
fn a_policy_reading_a_victim_put_back_after_a_failed_write_is_told_at_once() {
    common::within("Policy::on_insert reading a victim put back", || {
        let (pool, armed, seen) = reading_pool();
        let storage = Arc::new(FaultyStorage::new(37, FaultConfig::none()));
        let file = pool.open_storage(Arc::clone(&storage)).unwrap();
        let dirty: Vec<PageId> = (0..4).map(|_| pool.new_page(file).unwrap().page_id()).collect();
        storage.inject_next(Op::Write, Fault::EioPersistent);
        armed.store(READ_IN_ON_INSERT, SeqCst);
        // The victim's write fails and it goes back to the policy; whether the miss then drops a page of the now
        // failed file (`Builder::failed_file_frames`) or fails is not this test's concern.
        let _ = pool.new_page(file).map(|g| g.page_id());
        let seen = seen.lock().clone();
        assert!(
            matches!(&seen[..], [(p, Err(Error::CallbackReentry { page, callback: "Policy::on_insert" }))] if p == page && dirty.contains(p)),
            "{seen:?}"
        );
    });
}
