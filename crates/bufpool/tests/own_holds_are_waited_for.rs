//! A miss that finds every frame latched by the pool's own work (a prefetch's load finishing) waits for it, even
//! with the default `frame_wait` of zero; only frames held by guards fail it at once (R32-1 in RELIABILITY.md,
//! which resolves R31-O1).
//!
//! Before the fix, `finish_load` took its load off `loads_in_flight` before it released the frame (it still ran
//! the policy's `on_insert` and the latch's release): a miss that looked in that window saw every frame latched
//! and no load, I/O or other taker counted, took the frame for a guard's and returned `PoolExhausted` at once.
//! That is what `builder_edges::a_one_frame_pool_with_writer_and_prefetch_works` met once in CI: its last read ran
//! while the I/O thread finished the prefetch of page 0 in the only frame.
//!
//! The same held for a write run's latch outside its write: a checkpoint's pass latches a run, asks the log
//! whether it needs a flush (`Wal::needs_flush_for_pages`), then writes it; only the write was counted as the
//! pool's own I/O, so a miss while the log was asked took the run's frame for a guard's.
//!
//! Each test holds the pool's thread inside that window on purpose: a policy's `on_insert` (the load's window) or
//! the log's `needs_flush_for_pages` (the run's) waits until the reading thread has searched for a victim twice
//! (it is waiting, as it must) or has returned (it failed, the defect). No timing: each side waits for the other's
//! step.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::policy::{Fifo, FrameIdx, Policy};
use bufpool::{BufferPool, Lsn, MemoryStorage, PageId, Wal};

/// The steps each side waits for.
#[derive(Default)]
struct Steps {
    /// Set by the test: the next `on_insert` is the prefetch's, and waits.
    armed: AtomicBool,
    /// Set by the test: the next `on_remove` is a discard's (a sweep's or `free_page`'s), and waits.
    armed_remove: AtomicBool,
    /// Set by that `on_insert` once it is waiting (the load is off the count, the frame still latched).
    in_window: AtomicBool,
    /// Victim searches since `in_window` (the reading thread's).
    searches: AtomicUsize,
    /// Set by the test when its read returned.
    read_done: AtomicBool,
}

impl Steps {
    /// Called by the pool's thread in the window: waits there until the reader waited or failed.
    fn hold_window(&self) {
        self.hold_window_if(&self.armed)
    }

    fn hold_window_if(&self, armed: &AtomicBool) {
        if armed.swap(false, SeqCst) {
            self.in_window.store(true, SeqCst);
            while self.searches.load(SeqCst) < 2 && !self.read_done.load(SeqCst) {
                std::thread::yield_now();
            }
        }
    }

    /// Called by the test: waits for the window, then reads `page` and lets the window go.
    fn read_in_window(&self, pool: &BufferPool, page: PageId) -> bufpool::Result<u8> {
        while !self.in_window.load(SeqCst) {
            std::thread::yield_now();
        }
        let got = pool.read(page).map(|g| g[0]);
        self.read_done.store(true, SeqCst);
        got
    }
}

/// FIFO, with `on_insert` held while armed (see the module docs).
struct Gate {
    inner: Fifo,
    steps: Arc<Steps>,
}

impl Policy for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    fn frames(&self) -> Option<usize> {
        self.inner.frames()
    }
    fn on_hit(&self, frame: FrameIdx) {
        self.inner.on_hit(frame)
    }
    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.steps.hold_window();
        self.inner.on_insert(frame, key)
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.steps.hold_window_if(&self.steps.armed_remove);
        self.inner.on_remove(frame)
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        if self.steps.in_window.load(SeqCst) {
            self.steps.searches.fetch_add(1, SeqCst);
        }
        self.inner.victim(try_take)
    }
}

/// A log with nothing to flush, whose `needs_flush_for_pages` (asked under a checkpoint's run latch) holds the
/// window while armed.
struct GateWal {
    steps: Arc<Steps>,
}

impl Wal for GateWal {
    fn flush_to(&self, _lsn: Lsn) -> bufpool::Result<()> {
        Ok(())
    }
    fn needs_flush_for_pages(&self, _lsn: Lsn, _first: PageId, _count: usize) -> bool {
        self.steps.hold_window();
        false
    }
}

fn gated_pool(steps: &Arc<Steps>, builder: bufpool::Builder) -> BufferPool {
    builder
        .frames(1)
        .custom_policy(Box::new(Gate {
            inner: Fifo::new(1),
            steps: steps.clone(),
        }))
        .build()
        .unwrap()
}

#[test]
fn a_miss_waits_for_a_prefetch_finishing_in_the_only_frame() {
    let steps = Arc::new(Steps::default());
    let pool = gated_pool(&steps, BufferPool::builder().io_threads(1));
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..2u8 {
        pool.new_page(file).unwrap()[0] = n;
    }
    // Page 1 is resident; the prefetch evicts it for page 0, whose load the I/O thread finishes.
    steps.armed.store(true, SeqCst);
    assert_eq!(pool.prefetch(&[PageId::new(file, 0)]).unwrap(), 1);
    let got = steps.read_in_window(&pool, PageId::new(file, 1));
    assert_eq!(
        got.unwrap(),
        1,
        "the only frame was the prefetch's, finishing its load: the read must wait for it"
    );
    assert_eq!(pool.read(PageId::new(file, 0)).unwrap()[0], 0);
}

#[test]
fn a_miss_waits_for_a_checkpoints_run_latched_while_its_log_is_asked() {
    let steps = Arc::new(Steps::default());
    let wal = Arc::new(GateWal { steps: steps.clone() });
    let pool = gated_pool(&steps, BufferPool::builder().wal(wal));
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..2u8 {
        let mut g = pool.new_page(file).unwrap();
        g[0] = n;
        g.set_lsn(1 + u64::from(n));
    }
    // Page 1 is resident and dirty with an LSN: the checkpoint latches it and asks the log about it.
    steps.armed.store(true, SeqCst);
    std::thread::scope(|s| {
        let checkpoint = s.spawn(|| pool.checkpoint());
        let got = steps.read_in_window(&pool, PageId::new(file, 0));
        checkpoint.join().unwrap().unwrap();
        assert_eq!(
            got.unwrap(),
            0,
            "the only frame was the checkpoint's, latched for its write: the read must wait for it"
        );
    });
    assert_eq!(pool.read(PageId::new(file, 1)).unwrap()[0], 1);
}

/// A pool of one frame holding a dirty page of file `a`, and file `b` whose page 0 (content 7) is on its storage.
fn one_frame_a_over_b(steps: &Arc<Steps>) -> (BufferPool, bufpool::FileId, bufpool::FileId) {
    let pool = gated_pool(steps, BufferPool::builder());
    let b = pool.open_storage(MemoryStorage::new()).unwrap();
    pool.new_page(b).unwrap()[0] = 7;
    pool.flush(PageId::new(b, 0)).unwrap();
    let a = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..2u8 {
        pool.new_page(a).unwrap()[0] = n;
    }
    (pool, a, b)
}

/// Runs `discard` (a call that latches `a`'s frame exclusively to discard it, whose `on_remove` holds the window)
/// on another thread, and reads `b`'s page 0 in the window: the only frame is latched by the pool's own discard,
/// which frees it at once, so the read must wait for it rather than fail (R33-1).
fn read_b_while_discarding(steps: &Arc<Steps>, pool: &BufferPool, b: bufpool::FileId, discard: impl FnOnce() + Send) {
    steps.armed_remove.store(true, SeqCst);
    std::thread::scope(|s| {
        s.spawn(discard);
        let got = steps.read_in_window(pool, PageId::new(b, 0));
        assert_eq!(
            got.unwrap(),
            7,
            "the only frame was latched by a discard of another file's page: the read must wait for it"
        );
    });
}

#[test]
fn a_miss_waits_for_a_drop_files_sweep_of_the_only_frame() {
    let steps = Arc::new(Steps::default());
    let (pool, a, b) = one_frame_a_over_b(&steps);
    read_b_while_discarding(&steps, &pool, b, || pool.drop_file(a).unwrap());
}

#[test]
fn a_miss_waits_for_a_close_files_sweep_of_the_only_frame() {
    let steps = Arc::new(Steps::default());
    let (pool, a, b) = one_frame_a_over_b(&steps);
    read_b_while_discarding(&steps, &pool, b, || pool.close_file(a).unwrap());
}

#[test]
fn a_miss_waits_for_free_page_discarding_the_only_frame() {
    let steps = Arc::new(Steps::default());
    let (pool, a, b) = one_frame_a_over_b(&steps);
    read_b_while_discarding(&steps, &pool, b, || pool.free_page(PageId::new(a, 1)).unwrap());
    assert_eq!(
        pool.new_page(a).unwrap().page_id(),
        PageId::new(a, 1),
        "the freed number is reused"
    );
}

/// Three threads, each holding at most one latch at a time (a guard, or its own miss's frame), in a pool of four
/// frames with a background writer and two I/O threads: every time a miss finds every frame latched, at least
/// one is held by the pool's own work (a prefetch's or a batch's load, a write run, the writer's refill, a
/// checkpoint's run), so no call may fail with `PoolExhausted`, under the default `frame_wait` of zero. Seeded;
/// the interleavings are the scheduler's.
#[test]
fn a_small_pool_never_runs_out_for_its_own_work() {
    use rand::{Rng, SeedableRng};
    const THREADS: usize = 3;
    const PAGES: u32 = 24;
    let ops: usize = std::env::var("BUFPOOL_OWN_HOLDS_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let pool = BufferPool::builder()
        .frames(THREADS + 1)
        .io_threads(2)
        .background_writer(bufpool::WriterConfig::for_frames(THREADS + 1))
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..PAGES {
        pool.new_page(file).unwrap()[0] = n as u8;
    }
    let page = |n: u32| PageId::new(file, n);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let pool = &pool;
            s.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(32 + t as u64);
                for i in 0..ops {
                    let n = rng.random_range(0..PAGES);
                    let what = rng.random_range(0..8u32);
                    let got: bufpool::Result<()> = match what {
                        0 | 1 => pool.read(page(n)).map(|g| assert_eq!(g[0], n as u8)),
                        2 => pool.write(page(n)).map(|mut g| g[1] = g[1].wrapping_add(1)),
                        3 => {
                            let pages: Vec<PageId> = (0..4).map(|k| page((n + k) % PAGES)).collect();
                            pool.prefetch(&pages).map(drop)
                        }
                        4 => {
                            let pages: Vec<PageId> = (0..3).map(|k| page((n + k * 5) % PAGES)).collect();
                            let mut first = Ok(());
                            pool.read_many(&pages, |_, g| {
                                if let Err(e) = g {
                                    first = first.clone().and(Err(e));
                                }
                            });
                            first
                        }
                        5 => pool.flush(page(n)),
                        6 if i % 16 == 0 => pool.checkpoint(),
                        _ => pool.read(page(n)).map(drop),
                    };
                    if let Err(e) = got {
                        panic!("thread {t}, op {i} ({what} on page {n}): {e:?}");
                    }
                }
            });
        }
    });
    for n in 0..PAGES {
        assert_eq!(pool.read(page(n)).unwrap()[0], n as u8);
    }
}

/// FIFO that counts its victim searches.
struct Counting {
    inner: Fifo,
    searches: Arc<AtomicUsize>,
}

impl Policy for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn frames(&self) -> Option<usize> {
        self.inner.frames()
    }
    fn on_hit(&self, frame: FrameIdx) {
        self.inner.on_hit(frame)
    }
    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.inner.on_insert(frame, key)
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.inner.on_remove(frame)
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.searches.fetch_add(1, SeqCst);
        self.inner.victim(try_take)
    }
}

/// `new_page` reusing a freed number whose stale copy another thread reads waits for that reader's guard, holding
/// the frame it took meanwhile. That frame waits on a guard, not on the pool's own work: a miss that finds it and
/// the guarded copy latched (here the guard's own thread, which nothing else will unblock) must fail at once, as
/// the default `frame_wait` of zero says, not take it for the pool's own hold and search for a second (R33-2). The
/// number of victim searches tells the two apart without timing: one (or two, if a hold ended meanwhile) against
/// hundreds.
#[test]
fn a_miss_beside_new_page_waiting_for_a_guard_on_its_stale_copy_fails_at_once() {
    let searches = Arc::new(AtomicUsize::new(0));
    let pool = BufferPool::builder()
        .frames(2)
        .custom_policy(Box::new(Counting {
            inner: Fifo::new(2),
            searches: searches.clone(),
        }))
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..3u8 {
        pool.new_page(file).unwrap()[0] = n + 1;
    }
    pool.checkpoint().unwrap();
    let page = |n: u32| PageId::new(file, n);
    pool.free_page(page(0)).unwrap();
    // A reader following a stale pointer: the freed page's last image, guarded.
    let stale = pool.read(page(0)).unwrap();
    assert_eq!(stale[0], 1);
    let waits = pool.stats().single_flight_waits;
    std::thread::scope(|s| {
        let new = s.spawn(|| pool.new_page(file).map(|g| (g.page_id(), g[0])));
        // `new_page` took the other frame and waits for `stale`'s guard.
        while pool.stats().single_flight_waits == waits {
            std::thread::yield_now();
        }
        let before = searches.load(SeqCst);
        let got = pool.read(page(2)).map(|g| g[0]);
        let searched = searches.load(SeqCst) - before;
        assert!(
            matches!(got, Err(bufpool::Error::PoolExhausted { frames: 2, .. })),
            "both frames wait on this thread's guard: {got:?}"
        );
        assert!(
            searched <= 2,
            "the miss searched {searched} times: it took new_page's frame, waiting on a guard, for the pool's own hold"
        );
        drop(stale);
        assert_eq!(new.join().unwrap().unwrap(), (page(0), 0), "the freed number, zeroed");
    });
    assert_eq!(pool.read(page(2)).unwrap()[0], 3);
}
