//! A policy object (`Builder::custom_policy`) that panics (R19-20, session 19, fault19).
//!
//! Before the fix, a policy's panic unwound through the pool's own code. In `victim`, after `try_take` had
//! latched a frame (and forgotten the latch for the policy's caller to adopt), the unwind left that frame latched
//! for good: every later read of the page it held waited for ever (the first test, on main: "a read of the page
//! whose frame the policy took: still waiting after 10 s"). A panic in `on_insert` or `on_hit` unwound out of a
//! read whose page had loaded fine, and one in `frames` out of `build`. A policy's panics are now caught
//! (`caught_policy.rs`): the call returns `Error::Panicked`, the frame the policy took goes back unchanged, and
//! the policy, whose state is unknown, is not called again: misses that need a victim fail with its panic;
//! resident pages and free frames go on serving.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, Error, FileId, FrameIdx, MemoryStorage, PageId, Policy};
use parking_lot::Mutex;

use crate::common;

/// Where a [`Brittle`] policy panics.
#[derive(Default)]
struct Faults {
    /// In `victim`, after `try_take` accepted a frame.
    victim_after_take: AtomicBool,
    on_insert: AtomicBool,
    on_hit: AtomicBool,
    frames: AtomicBool,
}

/// FIFO, panicking where its [`Faults`] say.
struct Brittle {
    queue: Mutex<VecDeque<FrameIdx>>,
    faults: Arc<Faults>,
}

impl Brittle {
    fn new(faults: &Arc<Faults>) -> Box<Brittle> {
        Box::new(Brittle {
            queue: Mutex::new(VecDeque::new()),
            faults: faults.clone(),
        })
    }
}

impl Policy for Brittle {
    fn name(&self) -> &'static str {
        "brittle"
    }
    fn frames(&self) -> Option<usize> {
        assert!(!self.faults.frames.load(SeqCst), "policy frames panics");
        None
    }
    fn on_hit(&self, _frame: FrameIdx) {
        assert!(!self.faults.on_hit.load(SeqCst), "policy on_hit panics");
    }
    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        assert!(!self.faults.on_insert.load(SeqCst), "policy on_insert panics");
        self.queue.lock().push_back(frame);
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.queue.lock().retain(|&f| f != frame);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut queue = self.queue.lock();
        let pos = queue.iter().position(|&f| try_take(f))?;
        // The frame was taken but is still queued: the state a bug leaves a policy in.
        assert!(
            !self.faults.victim_after_take.load(SeqCst),
            "policy victim panics after try_take"
        );
        queue.remove(pos)
    }
}

/// A pool of 2 frames under a [`Brittle`] policy, and a file of 4 written pages, nothing resident.
fn brittle_pool(faults: &Arc<Faults>) -> (Arc<BufferPool>, FileId, Arc<MemoryStorage>) {
    let pool = BufferPool::builder()
        .frames(2)
        .custom_policy(Brittle::new(faults))
        .build()
        .unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..4 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    (Arc::new(pool), file, storage)
}

fn is_panicked(e: &Error, what: &str) -> bool {
    matches!(e, Error::Panicked { what: w, .. } if *w == what)
}

#[test]
fn a_policy_panicking_in_victim_after_taking_a_frame_leaves_it_unlatched() {
    let faults = Arc::new(Faults::default());
    let (pool, file, _storage) = brittle_pool(&faults);
    for n in 0..2 {
        common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n);
    }
    faults.victim_after_take.store(true, SeqCst);
    let miss = catch_unwind(AssertUnwindSafe(|| pool.read(PageId::new(file, 2)).map(|_| ())));
    faults.victim_after_take.store(false, SeqCst);
    // The victim the policy took (page 0's frame) must not be left latched: its page is read at once, from
    // another thread (on main it waits for ever, for a latch nobody holds).
    let p = pool.clone();
    common::within("a read of the page whose frame the policy took", move || {
        for n in 0..2 {
            common::check_page(&p.read(PageId::new(file, n)).unwrap(), n);
        }
    });
    match miss {
        Ok(Err(e)) => assert!(is_panicked(&e, "Policy::victim_for"), "{e}"),
        Ok(Ok(())) => panic!("the miss succeeded although the policy panicked"),
        Err(_) => panic!("the policy's panic unwound out of the pool"),
    }
    // The policy is failed for good: a miss that needs a victim reports its panic, and the file closes (nothing
    // latched), its frames then free for another file.
    let e = pool.read(PageId::new(file, 3)).unwrap_err();
    assert!(is_panicked(&e, "Policy::victim_for"), "{e}");
    pool.close_file(file).unwrap();
    let other = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..2 {
        drop(pool.new_page(other).unwrap());
    }
}

#[test]
fn a_policy_panicking_on_insert_or_hit_loses_no_page() {
    for what in ["Policy::on_insert", "Policy::on_hit"] {
        let faults = Arc::new(Faults::default());
        let (pool, file, _storage) = brittle_pool(&faults);
        let fault = if what == "Policy::on_hit" {
            common::check_page(&pool.read(PageId::new(file, 0)).unwrap(), 0);
            &faults.on_hit
        } else {
            &faults.on_insert
        };
        fault.store(true, SeqCst);
        // The load (or hit) completes, the page read and verified: the panic is the policy's, not the page's.
        let read = catch_unwind(AssertUnwindSafe(|| {
            common::check_page(&pool.read(PageId::new(file, 0)).unwrap(), 0);
        }));
        assert!(read.is_ok(), "the policy's {what} panic unwound out of the read");
        fault.store(false, SeqCst);
        // Nothing latched: the page is read again at once, from another thread.
        let p = pool.clone();
        common::within("a read of the page after the policy panicked", move || {
            common::check_page(&p.read(PageId::new(file, 0)).unwrap(), 0);
        });
        // A free frame still serves a miss; the one after it needs a victim and reports the panic.
        common::check_page(&pool.read(PageId::new(file, 1)).unwrap(), 1);
        let e = pool.read(PageId::new(file, 2)).unwrap_err();
        assert!(is_panicked(&e, what), "{e}");
        pool.close_file(file).unwrap();
    }
}

#[test]
fn a_policy_whose_frames_panics_is_refused_by_build() {
    let faults = Arc::new(Faults::default());
    faults.frames.store(true, SeqCst);
    let built = catch_unwind(AssertUnwindSafe(|| {
        BufferPool::builder()
            .frames(2)
            .custom_policy(Brittle::new(&faults))
            .build()
            .map(|_| ())
    }));
    match built {
        Ok(Err(e)) => assert!(is_panicked(&e, "Policy::frames"), "{e}"),
        Ok(Ok(())) => panic!("built with a policy that panicked"),
        Err(_) => panic!("the policy's panic unwound out of build"),
    }
}
