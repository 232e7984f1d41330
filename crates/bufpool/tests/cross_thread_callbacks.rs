//! R37-1 .. R37-4 (RELIABILITY.md, session 37): two threads, each inside a callback of the user's that the pool runs
//! with a frame latched for it, each calling back into the pool for the page the *other* thread's callback holds.
//! Sessions 33-36 made a call back for a frame held on the *same* thread return `Error::CallbackReentry`; across
//! two threads each call waited in `fix_with` for the other's latch, and neither latch was ever released: a hang
//! (the whole-API model hung once in CI on a cycle across threads, seed 129, with the eviction veto: the lead's).
//!
//! The scenarios, each with both callbacks held open at a meeting point (no sleeps) before either calls back:
//! - two loads, of page P of file A and page Q of file B, whose `Storage::read_at`s read Q and P (R37-1);
//! - a batch (`read_many`) whose `Storage::submit` reads Q while a load of Q reads the batch's page (R37-2);
//! - two evictions of dirty victims whose `Wal::flush_for_pages` each read the other's victim (R37-3);
//! - a policy object whose `victim_for` reads, under its own lock, a page whose load then waits for that lock in
//!   `Policy::on_insert` (R37-4: the policy holds no frame yet, so it is listed as running in the pool);
//! - two loads whose storages each read a page not resident, in a pool their two loads fill, with a long
//!   `Builder::frame_wait` (R37-6: each miss waited that long for the other's frame).
//!
//! And two waits of a policy object's victim search on its own thread (R37-5): the background writer's policy
//! reading the page of a victim the writer took earlier in the round, and a policy's miss.
//!
//! Now a thread that runs a callback in frames of a pool does not wait for a frame of that pool which another
//! thread holds for a callback: the call returns `Error::CallbackReentry` naming the calling thread's callback,
//! and the callbacks' own operations complete. A watchdog fails a test that is still waiting after 20 s, with
//! what each thread was doing.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::Duration;

use bufpool::storage::{IoRequest, StorageInfo};
use bufpool::{BufferPool, Error, FileId, FrameIdx, Lsn, MemoryStorage, PageId, Policy, Storage, Wal};

/// How long the watchdog lets a scenario run before it calls it a hang (a hang, not a timing assertion: the
/// scenarios take milliseconds).
const HANG_AFTER: Duration = Duration::from_secs(20);

/// The pool the callbacks call back into (set once it is built).
type PoolSlot = Arc<OnceLock<Weak<BufferPool>>>;

fn pool_of(slot: &PoolSlot) -> Arc<BufferPool> {
    slot.get().and_then(Weak::upgrade).expect("the pool is alive")
}

/// What each thread of a scenario is doing, for the watchdog's report.
type States = Arc<Mutex<Vec<String>>>;

fn note(states: &States, s: String) {
    states.lock().unwrap().push(s);
}

/// Both callbacks of a scenario: each, once armed, waits until the other has arrived too (both hold their frames
/// then), and calls back into the pool for a page the other one holds.
struct Meeting {
    pool: PoolSlot,
    /// Callbacks that still call back: each callback fires once.
    armed: Mutex<u32>,
    arrived: Mutex<u32>,
    all_here: Condvar,
    /// Each call back: the callback, the page, what it returned.
    seen: Mutex<Vec<CallBack>>,
    states: States,
}

/// A call back: the callback it came from, the page asked, what it returned.
type CallBack = (&'static str, PageId, Result<(), Error>);

impl Meeting {
    fn new(states: &States) -> Arc<Meeting> {
        Arc::new(Meeting {
            pool: PoolSlot::default(),
            armed: Mutex::new(0),
            arrived: Mutex::new(0),
            all_here: Condvar::new(),
            seen: Mutex::new(Vec::new()),
            states: Arc::clone(states),
        })
    }

    fn arm(&self, callbacks: u32) {
        *self.armed.lock().unwrap() = callbacks;
    }

    /// Called by a callback `what`: if armed, waits for the other callback to arrive, then reads the page
    /// `other()` names (shared) or writes it (`write`), and notes what that returned.
    fn meet_then_call(&self, what: &'static str, other: impl FnOnce() -> PageId, write: bool) {
        if self.meet(what) {
            self.call_back(what, other(), write);
        }
    }

    /// Called by a callback `what`: if armed, waits for the other callback to arrive and returns true.
    fn meet(&self, what: &'static str) -> bool {
        {
            let mut armed = self.armed.lock().unwrap();
            if *armed == 0 {
                return false;
            }
            *armed -= 1;
        }
        let me = std::thread::current().name().unwrap_or("?").to_string();
        note(&self.states, format!("{me}: in {what}, waiting for the other callback"));
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, timeout) = self
            .all_here
            .wait_timeout_while(arrived, HANG_AFTER, |n| *n < 2)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "{me}: the other callback never came ({arrived} here)"
        );
        true
    }

    /// Waits until `n` callbacks have arrived at the meeting (a scenario that must start one thread's callback
    /// before the other's).
    fn wait_arrived(&self, n: u32) {
        let arrived = self.arrived.lock().unwrap();
        let (arrived, timeout) = self
            .all_here
            .wait_timeout_while(arrived, HANG_AFTER, |a| *a < n)
            .unwrap();
        assert!(!timeout.timed_out(), "only {arrived} callbacks arrived, not {n}");
    }

    /// The callback `what`'s call back into the pool for `page`, noted with what it returned.
    fn call_back(&self, what: &'static str, page: PageId, write: bool) {
        let me = std::thread::current().name().unwrap_or("?").to_string();
        note(&self.states, format!("{me}: in {what}, calling back for {page}"));
        let pool = pool_of(&self.pool);
        let r = if write {
            pool.write(page).map(drop)
        } else {
            pool.read(page).map(drop)
        };
        note(
            &self.states,
            format!("{me}: in {what}, the call for {page} returned {r:?}"),
        );
        self.seen.lock().unwrap().push((what, page, r));
    }

    /// Each call back returned `Ok` or `CallbackReentry` naming its own callback, and at least one was refused
    /// (both callbacks held their frames when either called back, so without a refusal both would still wait).
    fn assert_one_refused(&self) {
        let seen = self.seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "both callbacks called back: {seen:?}");
        for (what, page, r) in seen.iter() {
            match r {
                Ok(()) => {}
                Err(Error::CallbackReentry { page: p, callback }) if p == page && callback == what => {}
                other => panic!("{what} calling back for {page}: {other:?}"),
            }
        }
        assert!(
            seen.iter().any(|(_, _, r)| r.is_err()),
            "one of the two cross calls was refused: {seen:?}"
        );
    }
}

/// Runs `scenario` on threads of its own (it starts its two workers itself) and fails the test if it is not done
/// within [`HANG_AFTER`], printing what each thread was doing.
fn watchdog(what: &str, states: &States, scenario: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        scenario();
        let _ = tx.send(());
    });
    match rx.recv_timeout(HANG_AFTER) {
        Ok(()) => handle.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            let states = states.lock().unwrap().join("\n  ");
            panic!("{what}: still waiting after {HANG_AFTER:?} (a cross-thread wait hangs); the threads:\n  {states}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// A memory storage whose `read_at` (or `submit`), when its meeting is armed, meets the other callback and then
/// reads `other` through the pool, if set.
struct Crossing {
    inner: MemoryStorage,
    meeting: Arc<Meeting>,
    other: Arc<OnceLock<PageId>>,
}

impl Crossing {
    fn cross(&self, what: &'static str) {
        if self.meeting.meet(what) {
            if let Some(&other) = self.other.get() {
                self.meeting.call_back(what, other, false);
            }
        }
    }
}

impl Storage for Crossing {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.cross("Storage::read_at");
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.inner.sync()
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        self.cross("Storage::submit");
        self.inner.submit(batch)
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
}

/// A pool of `frames` frames (even) over two [`Crossing`] files A and B of `frames` pages each, of which only the
/// last `frames / 2` of each file are resident (so page 0 is not). Returns the pool, the files and, per file, the page its storage reads when armed (to be set).
fn two_crossing_files(
    frames: usize,
    meeting: &Arc<Meeting>,
) -> (Arc<BufferPool>, [FileId; 2], [Arc<OnceLock<PageId>>; 2]) {
    two_crossing_files_of(BufferPool::builder().frames(frames), frames, meeting)
}

/// [`two_crossing_files`] of a pool `builder` builds (of `frames` frames).
fn two_crossing_files_of(
    builder: bufpool::Builder,
    frames: usize,
    meeting: &Arc<Meeting>,
) -> (Arc<BufferPool>, [FileId; 2], [Arc<OnceLock<PageId>>; 2]) {
    let pool = Arc::new(builder.build().unwrap());
    meeting.pool.set(Arc::downgrade(&pool)).unwrap();
    let others = [Arc::new(OnceLock::new()), Arc::new(OnceLock::new())];
    let files = others.clone().map(|other| {
        pool.open_storage(Crossing {
            inner: MemoryStorage::new(),
            meeting: Arc::clone(meeting),
            other,
        })
        .unwrap()
    });
    for file in files {
        for _ in 0..frames {
            drop(pool.new_page(file).unwrap());
        }
    }
    pool.checkpoint().unwrap();
    // The last half of each file's pages fill the pool's frames and push the others out.
    for file in files {
        for n in frames as u32 / 2..frames as u32 {
            drop(pool.read(PageId::new(file, n)).unwrap());
        }
    }
    assert!(
        pool.resident_pages()
            .iter()
            .all(|r| r.page.page_no() as usize >= frames / 2),
        "the first half of each file's pages are not resident"
    );
    (pool, files, others)
}

/// Runs `a` and `b` on two named threads at once and returns their results.
fn both<T: Send + 'static>(a: impl FnOnce() -> T + Send + 'static, b: impl FnOnce() -> T + Send + 'static) -> (T, T) {
    let a = std::thread::Builder::new().name("A".into()).spawn(a).unwrap();
    let b = std::thread::Builder::new().name("B".into()).spawn(b).unwrap();
    (a.join().unwrap(), b.join().unwrap())
}

#[test]
fn two_loads_whose_storages_read_each_others_page_do_not_wait_for_each_other() {
    let states = States::default();
    let meeting = Meeting::new(&states);
    watchdog("Storage::read_at x Storage::read_at", &states, move || {
        let (pool, [a, b], [a_reads, b_reads]) = two_crossing_files(4, &meeting);
        let (p, q) = (PageId::new(a, 0), PageId::new(b, 0));
        a_reads.set(q).unwrap();
        b_reads.set(p).unwrap();
        meeting.arm(2);
        let (pa, pb) = (Arc::clone(&pool), Arc::clone(&pool));
        let (ra, rb) = both(move || pa.read(p).map(drop), move || pb.read(q).map(drop));
        meeting.assert_one_refused();
        ra.expect("the load of P completes");
        rb.expect("the load of Q completes");
        // Both loaded whole: hits now.
        drop(pool.read(p).unwrap());
        drop(pool.read(q).unwrap());
    });
}

#[test]
fn a_batch_and_a_load_whose_storages_read_each_others_page_do_not_wait_for_each_other() {
    let states = States::default();
    let meeting = Meeting::new(&states);
    watchdog("Storage::submit x Storage::read_at", &states, move || {
        // Frames enough for a batch of two (a batch takes at most a quarter of the pool).
        let (pool, [a, b], [a_reads, b_reads]) = two_crossing_files(8, &meeting);
        let (p, q) = (PageId::new(a, 0), PageId::new(b, 0));
        a_reads.set(q).unwrap();
        b_reads.set(p).unwrap();
        meeting.arm(2);
        let (pa, pb) = (Arc::clone(&pool), Arc::clone(&pool));
        let (ra, rb) = both(
            move || {
                let mut results = Vec::new();
                pa.read_many(&[p, PageId::new(a, 1)], |_, g| results.push(g.map(drop)));
                results.into_iter().collect::<Result<(), Error>>()
            },
            move || pb.read(q).map(drop),
        );
        meeting.assert_one_refused();
        ra.expect("the batch's loads complete");
        rb.expect("the load of Q completes");
    });
}

/// A log whose `flush_for_pages`, when its meeting is armed, meets the other flush and reads the other of the two
/// pages in `pages` (the one it is not flushed for).
struct CrossingLog {
    meeting: Arc<Meeting>,
    pages: Arc<OnceLock<[PageId; 2]>>,
}

impl Wal for CrossingLog {
    fn flush_to(&self, _lsn: Lsn) -> bufpool::Result<()> {
        Ok(())
    }
    fn flush_for_pages(&self, _lsn: Lsn, first: PageId, _count: usize) -> bufpool::Result<()> {
        let other = || {
            let [x, y] = *self.pages.get().unwrap();
            if first == x {
                y
            } else {
                x
            }
        };
        self.meeting.meet_then_call("Wal::flush_for_pages", other, false);
        Ok(())
    }
}

#[test]
fn two_evictions_whose_logs_read_each_others_victim_do_not_wait_for_each_other() {
    let states = States::default();
    let meeting = Meeting::new(&states);
    let pages = Arc::new(OnceLock::new());
    let log = CrossingLog {
        meeting: Arc::clone(&meeting),
        pages: Arc::clone(&pages),
    };
    watchdog("Wal::flush_for_pages x Wal::flush_for_pages", &states, move || {
        // Two frames, both holding dirty pages: each of two misses evicts one of them, and writes it after its
        // log flush.
        let pool = Arc::new(BufferPool::builder().frames(2).wal(Arc::new(log)).build().unwrap());
        meeting.pool.set(Arc::downgrade(&pool)).unwrap();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        let ids: Vec<PageId> = (0..4).map(|_| pool.new_page(file).unwrap().page_id()).collect();
        pool.checkpoint().unwrap();
        for &page in &ids[..2] {
            pool.write(page).unwrap().set_lsn(1);
        }
        pages.set([ids[0], ids[1]]).unwrap();
        let evicted_dirty = pool.stats().dirty_evictions;
        meeting.arm(2);
        let (pa, pb) = (Arc::clone(&pool), Arc::clone(&pool));
        let (r2, r3) = (ids[2], ids[3]);
        let (ra, rb) = both(move || pa.read(r2).map(drop), move || pb.read(r3).map(drop));
        meeting.assert_one_refused();
        ra.expect("the first miss completes");
        rb.expect("the second miss completes");
        // Both victims were written (their log flushes returned Ok).
        assert_eq!(pool.stats().dirty_evictions, evicted_dirty + 2);
    });
}

/// What a [`HookedFifo`]'s hook tells `victim` to do.
enum Then {
    Offer,
    OfferNothing,
}

/// The hook of a [`HookedFifo`]: given the page of the victim the policy gave last, if any.
type Hook = Box<dyn Fn(Option<PageId>) -> Then + Send + Sync>;

/// FIFO under one mutex, as the built-ins keep their lists. Each `victim` first runs `hook` with that mutex held
/// (a policy consulting a page under its lock, say a catalogue), given the page of the victim it gave last.
struct HookedFifo {
    queue: parking_lot::Mutex<std::collections::VecDeque<(FrameIdx, u64)>>,
    last_given: Mutex<Option<PageId>>,
    hook: Hook,
}

impl HookedFifo {
    fn with(hook: impl Fn(Option<PageId>) -> Then + Send + Sync + 'static) -> Box<HookedFifo> {
        Box::new(HookedFifo {
            queue: Default::default(),
            last_given: Mutex::new(None),
            hook: Box::new(hook),
        })
    }
}

impl Policy for HookedFifo {
    fn name(&self) -> &'static str {
        "hooked-fifo"
    }
    fn on_hit(&self, _frame: FrameIdx) {}
    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.queue.lock().push_back((frame, key));
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.queue.lock().retain(|&(f, _)| f != frame);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut queue = self.queue.lock();
        let last = *self.last_given.lock().unwrap();
        if let Then::OfferNothing = (self.hook)(last) {
            return None;
        }
        let pos = queue.iter().position(|&(f, _)| try_take(f))?;
        let (frame, key) = queue.remove(pos)?;
        *self.last_given.lock().unwrap() = Some(PageId::from(key));
        Some(frame)
    }
}

#[test]
fn a_policy_reading_a_page_whose_load_waits_for_the_policys_lock_does_not_wait_for_it() {
    let states = States::default();
    let meeting = Meeting::new(&states);
    let target: Arc<OnceLock<PageId>> = Arc::new(OnceLock::new());
    let (m, t) = (Arc::clone(&meeting), Arc::clone(&target));
    // Armed, the policy meets Q's load in its `read_at`, then reads Q while it holds its lock.
    let policy = HookedFifo::with(move |_| {
        if let Some(&q) = t.get() {
            if m.meet("Policy::victim_for") {
                m.call_back("Policy::victim_for", q, false);
            }
        }
        Then::Offer
    });
    watchdog("Policy::victim_for x Policy::on_insert", &states, move || {
        let pool = Arc::new(BufferPool::builder().frames(4).custom_policy(policy).build().unwrap());
        meeting.pool.set(Arc::downgrade(&pool)).unwrap();
        // File A's pages and file B's, written, then reopened so that nothing is resident.
        let (a_image, b_image) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
        let (a, b) = (
            pool.open_storage(Arc::clone(&a_image)).unwrap(),
            pool.open_storage(Arc::clone(&b_image)).unwrap(),
        );
        for file in [a, b] {
            for _ in 0..4 {
                drop(pool.new_page(file).unwrap());
            }
        }
        pool.checkpoint().unwrap();
        pool.drop_file(a).unwrap();
        pool.drop_file(b).unwrap();
        let a = pool.open_storage(Arc::clone(&a_image)).unwrap();
        let b = pool
            .open_storage(Crossing {
                inner: MemoryStorage::from_bytes_with_record(b_image.snapshot(), b_image.record_snapshot()),
                meeting: Arc::clone(&meeting),
                other: Arc::new(OnceLock::new()),
            })
            .unwrap();
        // Three of the four frames hold pages of A; the fourth is free, for B's load.
        for n in 0..3 {
            drop(pool.read(PageId::new(a, n)).unwrap());
        }
        let q = PageId::new(b, 0);
        target.set(q).unwrap();
        meeting.arm(2);
        // B's load of Q takes the free frame and meets in its `read_at`; then A's miss asks the policy for a
        // victim, and the policy, holding its lock, reads Q. Q's load then needs the lock for its `on_insert`.
        let pb = Arc::clone(&pool);
        let tb = std::thread::Builder::new()
            .name("B".into())
            .spawn(move || pb.read(q).map(drop))
            .unwrap();
        meeting.wait_arrived(1);
        let pa = Arc::clone(&pool);
        let ta = std::thread::Builder::new()
            .name("A".into())
            .spawn(move || pa.read(PageId::new(a, 3)).map(drop))
            .unwrap();
        let (ra, rb) = (ta.join().unwrap(), tb.join().unwrap());
        let seen = meeting.seen.lock().unwrap();
        assert!(
            matches!(
                seen.as_slice(),
                [(_, p, Err(Error::CallbackReentry { page, callback: "Policy::victim_for" }))] if *p == q && *page == q
            ),
            "the policy's read of Q is refused: {seen:?}"
        );
        ra.expect("A's miss completes");
        rb.expect("Q's load completes");
    });
}

#[test]
fn two_loads_whose_storages_miss_in_a_pool_their_loads_fill_do_not_wait_frame_wait() {
    let states = States::default();
    let meeting = Meeting::new(&states);
    watchdog(
        "a miss from Storage::read_at x a miss from Storage::read_at",
        &states,
        move || {
            // Two frames: the two loads hold both, and page 1 of each file, read by the other load's storage, is pushed
            // out by them. The builder waits up to an hour for frames guards hold.
            let builder = BufferPool::builder().frames(2).frame_wait(Duration::from_secs(3600));
            let (pool, [a, b], [a_reads, b_reads]) = two_crossing_files_of(builder, 2, &meeting);
            let (p, q) = (PageId::new(a, 0), PageId::new(b, 0));
            a_reads.set(PageId::new(b, 1)).unwrap();
            b_reads.set(PageId::new(a, 1)).unwrap();
            meeting.arm(2);
            let (pa, pb) = (Arc::clone(&pool), Arc::clone(&pool));
            let (ra, rb) = both(move || pa.read(p).map(drop), move || pb.read(q).map(drop));
            let seen = meeting.seen.lock().unwrap();
            assert_eq!(seen.len(), 2, "both callbacks called back: {seen:?}");
            assert!(
                seen.iter()
                    .all(|(_, _, r)| matches!(r, Ok(()) | Err(Error::PoolExhausted { .. }))),
                "{seen:?}"
            );
            assert!(
                seen.iter().any(|(_, _, r)| r.is_err()),
                "one of the two misses found every frame held: {seen:?}"
            );
            ra.expect("the load of P completes");
            rb.expect("the load of Q completes");
        },
    );
}

#[test]
fn the_background_writers_policy_reading_a_victim_of_its_round_is_told_at_once() {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let slot = PoolSlot::default();
    let armed = Arc::new(AtomicBool::new(false));
    let (a, p) = (Arc::clone(&armed), Arc::clone(&slot));
    // Offers nothing until armed; armed, gives one victim, and on its next call reads that victim's page.
    let policy = HookedFifo::with(move |last| {
        if !a.load(SeqCst) {
            return Then::OfferNothing;
        }
        let Some(page) = last else { return Then::Offer };
        a.store(false, SeqCst);
        let _ = tx.try_send(pool_of(&p).read(page).map(drop));
        Then::OfferNothing
    });
    let pool = Arc::new(
        BufferPool::builder()
            .frames(8)
            .custom_policy(policy)
            .background_writer(bufpool::WriterConfig {
                interval: Duration::from_millis(1),
                free_frames_target: 4,
                dirty_ratio_max: 1.0,
                pages_per_sec_max: 0,
                batch_pages: 4,
            })
            .build()
            .unwrap(),
    );
    slot.set(Arc::downgrade(&pool)).unwrap();
    // Eight pages fill the eight frames (free frames: no victim needed); the writer's rounds take nothing until
    // the policy is armed.
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..8 {
        drop(pool.new_page(file).unwrap());
    }
    pool.checkpoint().unwrap();
    // Armed: the writer's next round wants four victims; the policy gives one, then reads it.
    armed.store(true, SeqCst);
    match rx.recv_timeout(HANG_AFTER) {
        Ok(r) => assert!(
            matches!(
                r,
                Err(Error::CallbackReentry {
                    callback: "Policy::victim",
                    ..
                })
            ),
            "the policy's read of its own victim: {r:?}"
        ),
        Err(_) => {
            // The writer waits for ever, and the pool's drop would join it: leave the pool behind.
            std::mem::forget(pool);
            panic!("the background writer's policy, reading a victim of its round, still waits after {HANG_AFTER:?}");
        }
    }
}

#[test]
fn a_policy_missing_in_its_victim_search_is_told_at_once() {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let (slot, armed, target) = (
        PoolSlot::default(),
        Arc::new(AtomicBool::new(false)),
        Arc::new(OnceLock::new()),
    );
    let (a, t, p) = (Arc::clone(&armed), Arc::clone(&target), Arc::clone(&slot));
    // Armed, its next call reads `target` (not resident) under its lock: a miss whose own victim search would run
    // the policy again on this thread.
    let policy = HookedFifo::with(move |_| {
        if a.swap(false, SeqCst) {
            let _ = tx.try_send(pool_of(&p).read(*t.get().unwrap()).map(drop));
        }
        Then::Offer
    });
    let pool = Arc::new(BufferPool::builder().frames(2).custom_policy(policy).build().unwrap());
    slot.set(Arc::downgrade(&pool)).unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let ids: Vec<PageId> = (0..4).map(|_| pool.new_page(file).unwrap().page_id()).collect();
    pool.checkpoint().unwrap();
    // Pages 2 and 3 are resident (the last two made); the miss of page 0 runs the policy, which reads page 1.
    target.set(ids[1]).unwrap();
    armed.store(true, SeqCst);
    let p = Arc::clone(&pool);
    let missed = ids[0];
    let outer = std::thread::spawn(move || p.read(missed).map(drop));
    match rx.recv_timeout(HANG_AFTER) {
        Ok(r) => assert!(
            matches!(r, Err(Error::CallbackReentry { page, callback: "Policy::victim_for" }) if page == ids[1]),
            "the policy's miss: {r:?}"
        ),
        Err(_) => {
            std::mem::forget(pool);
            panic!("a policy's miss in its victim search still waits after {HANG_AFTER:?}");
        }
    }
    outer.join().unwrap().expect("the miss that ran the policy completes");
}
