//! A policy object (`Builder::custom_policy`) whose victim answer breaks the `Policy` contract, and one that
//! panics on the background writer's thread (R20-1, R20-2, session 20, review20).
//!
//! The pool adopts the exclusive latch of the frame `victim` returns, a latch `try_take` took. Before R20-1 the
//! answer was trusted: a frame the policy returned without `try_take` accepting it was adopted unlatched, and
//! evicted while a guard still read it (the guard then saw another page's bytes; a debug build's assertion
//! panicked out of the read); a frame out of range panicked out of the pool (an index out of bounds); a frame
//! taken but not returned, or a first frame taken before a second, stayed latched for good (every read of its
//! page waited for ever). The answer is now checked (`caught_policy.rs`): a request accepts one frame, and any
//! other answer fails the policy as a panic does, with `Error::Panicked`; the frame it took goes back unchanged.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bufpool::{BufferPool, Error, FileId, FrameIdx, MemoryStorage, PageId, Policy, WriterConfig};
use parking_lot::Mutex;

use crate::common;

/// How a [`Liar`] answers a victim request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Lie {
    /// Honestly, as FIFO.
    None,
    /// Returns the oldest frame without offering it to `try_take`.
    Untaken,
    /// Returns a frame the pool does not have.
    OutOfRange,
    /// Takes the oldest frame it can, returns `None`.
    TakenNotReturned,
    /// Offers every frame to `try_take`, returns the last one accepted.
    TakesAll,
    /// Honest, but panics after `try_take` accepted a frame on the pool's writer thread.
    PanicOnWriter,
}

const LIES: [Lie; 6] = [
    Lie::None,
    Lie::Untaken,
    Lie::OutOfRange,
    Lie::TakenNotReturned,
    Lie::TakesAll,
    Lie::PanicOnWriter,
];

/// FIFO, answering victim requests as its `lie` says.
struct Liar {
    queue: Mutex<VecDeque<FrameIdx>>,
    lie: Arc<AtomicU8>,
    /// Set once it has lied (or panicked).
    lied: Arc<AtomicBool>,
}

impl Policy for Liar {
    fn name(&self) -> &'static str {
        "liar"
    }
    fn on_hit(&self, _frame: FrameIdx) {}
    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        self.queue.lock().push_back(frame);
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.queue.lock().retain(|&f| f != frame);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut queue = self.queue.lock();
        let lie = LIES[usize::from(self.lie.load(SeqCst))];
        let lying = |v| {
            self.lied.store(true, SeqCst);
            v
        };
        match lie {
            Lie::None => {}
            Lie::Untaken => return lying(queue.pop_front()),
            Lie::OutOfRange => return lying(Some(1 << 30)),
            Lie::TakenNotReturned => {
                let pos = queue.iter().position(|&f| try_take(f))?;
                queue.remove(pos);
                return lying(None);
            }
            Lie::TakesAll => {
                let taken: Vec<usize> = (0..queue.len()).filter(|&i| try_take(queue[i])).collect();
                let last = *taken.last()?;
                if taken.len() > 1 {
                    self.lied.store(true, SeqCst);
                }
                return queue.remove(last);
            }
            Lie::PanicOnWriter => {}
        }
        let pos = queue.iter().position(|&f| try_take(f))?;
        if lie == Lie::PanicOnWriter && std::thread::current().name() == Some("bufpool-writer") {
            self.lied.store(true, SeqCst);
            panic!("policy victim panics on the writer's thread");
        }
        queue.remove(pos)
    }
}

/// A pool of `frames` frames under a [`Liar`] (honest for now), and a file of `pages` written pages, nothing
/// resident.
fn liar_pool(
    frames: usize,
    pages: u32,
    writer: Option<WriterConfig>,
) -> (
    Arc<BufferPool>,
    FileId,
    Arc<MemoryStorage>,
    Arc<AtomicU8>,
    Arc<AtomicBool>,
) {
    let (lie, lied) = (Arc::new(AtomicU8::new(0)), Arc::new(AtomicBool::new(false)));
    let policy = Liar {
        queue: Mutex::new(VecDeque::new()),
        lie: lie.clone(),
        lied: lied.clone(),
    };
    let mut builder = BufferPool::builder().frames(frames).custom_policy(Box::new(policy));
    if let Some(writer) = writer {
        builder = builder.background_writer(writer);
    }
    let pool = builder.build().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..pages {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    (Arc::new(pool), file, storage, lie, lied)
}

fn is_policy_error(e: &Error) -> bool {
    matches!(e, Error::Panicked { what, .. } if what.starts_with("Policy::victim"))
}

/// Every lie in a miss's victim request: the miss returns the policy's `Error::Panicked`, a guard held on the
/// page the policy named still reads that page, nothing is left latched, and the file closes.
#[test]
fn a_policy_victim_answer_that_breaks_the_contract_is_a_typed_error() {
    let failed: Vec<String> = [Lie::Untaken, Lie::OutOfRange, Lie::TakenNotReturned]
        .into_iter()
        .filter_map(|lie| {
            catch_unwind(|| answer_breaking_the_contract(lie))
                .err()
                .map(|p| format!("{lie:?}: {}", panic_message(&*p)))
        })
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// One lie, told in a miss's victim request with a guard held on the page of the frame it names.
fn answer_breaking_the_contract(lie: Lie) {
    let (pool, file, _storage, how, lied) = liar_pool(2, 4, None);
    // Page 0 in the oldest frame, held by a guard; page 1 in the other.
    let guard = pool.read(PageId::new(file, 0)).unwrap();
    common::check_page(&pool.read(PageId::new(file, 1)).unwrap(), 1);
    how.store(lie as u8, SeqCst);
    let miss = catch_unwind(AssertUnwindSafe(|| pool.read(PageId::new(file, 2)).map(|_| ())));
    how.store(Lie::None as u8, SeqCst);
    assert!(lied.load(SeqCst), "the policy was asked for no victim");
    match miss {
        Ok(Err(e)) => assert!(is_policy_error(&e), "{e}"),
        Ok(Ok(())) => panic!("the miss took a frame the policy had not been given"),
        Err(_) => panic!("the policy's answer panicked out of the pool"),
    }
    // The guard's page was not evicted under it.
    common::check_page(&guard, 0);
    drop(guard);
    // Nothing latched: both resident pages are read at once from another thread.
    let p = pool.clone();
    common::within("a read of the resident pages", move || {
        for n in 0..2 {
            common::check_page(&p.read(PageId::new(file, n)).unwrap(), n);
        }
    });
    assert!(pool.held_latches().is_empty(), "{:?}", pool.held_latches());
    // The policy is failed for good, as after a panic; the file closes.
    let e = pool.read(PageId::new(file, 3)).unwrap_err();
    assert!(is_policy_error(&e), "{e}");
    pool.close_file(file).unwrap();
}

/// A policy that offers every frame to `try_take`: only the first is accepted (the second would stay latched
/// for good), and the miss is served by it.
#[test]
fn a_policy_taking_two_frames_in_one_request_leaves_none_latched() {
    let (pool, file, _storage, how, _lied) = liar_pool(2, 4, None);
    for n in 0..2 {
        common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n);
    }
    how.store(Lie::TakesAll as u8, SeqCst);
    let miss = catch_unwind(AssertUnwindSafe(|| {
        pool.read(PageId::new(file, 2)).map(|g| common::check_page(&g, 2))
    }));
    how.store(Lie::None as u8, SeqCst);
    assert!(matches!(miss, Ok(Ok(_))), "the miss failed");
    let p = pool.clone();
    common::within("a read of every page after a request that took two frames", move || {
        for n in 0..4 {
            common::check_page(&p.read(PageId::new(file, n)).unwrap(), n);
        }
    });
    assert!(pool.held_latches().is_empty(), "{:?}", pool.held_latches());
    pool.close_file(file).unwrap();
}

/// The writer's victim search (`writer.rs` `take_victims`) with a policy that panics there, after taking a dirty
/// frame, and only on the writer's thread: the frame goes back unchanged (dirty, resident, unlatched), the
/// writer goes on running, a miss that needs a victim reports the panic, and a checkpoint writes every page.
#[test]
fn a_policy_panicking_in_the_writers_victim_search_leaves_its_frame_dirty_and_unlatched() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 2,
        dirty_ratio_max: 1.0,
        pages_per_sec_max: 0,
        batch_pages: 4,
    };
    let (pool, file, storage, how, lied) = liar_pool(4, 8, Some(writer));
    how.store(Lie::PanicOnWriter as u8, SeqCst);
    // Dirty pages in every frame (generation 2): the writer wants two free frames and asks the policy.
    for n in 0..4 {
        let mut g = pool.write(PageId::new(file, n)).unwrap();
        common::fill_page(&mut g, n, 2);
    }
    let l = lied.clone();
    common::within("the writer's victim search", move || {
        while !l.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    // The writer's frame went back: every page is read at once, with its new bytes, from another thread.
    let p = pool.clone();
    common::within("a read of every resident page after the writer's panic", move || {
        for n in 0..4 {
            assert_eq!(common::check_page(&p.read(PageId::new(file, n)).unwrap(), n), 2);
        }
    });
    assert!(pool.held_latches().is_empty(), "{:?}", pool.held_latches());
    let e = pool.read(PageId::new(file, 7)).unwrap_err();
    // The writer's panic, in `Policy::victim`, is the one kept.
    assert!(
        matches!(
            &e,
            Error::Panicked {
                what: "Policy::victim",
                ..
            }
        ),
        "{e}"
    );
    // Nothing was lost: the dirty pages are written by a checkpoint, and a fresh pool reads them.
    pool.checkpoint().unwrap();
    pool.close_file(file).unwrap();
    let pool = Arc::into_inner(pool).expect("no other handle");
    common::within("dropping the pool (its writer stops)", move || drop(pool));
    let fresh = BufferPool::builder().frames(8).build().unwrap();
    let file = fresh.open_storage(storage).unwrap();
    for n in 0..8 {
        let want = if n < 4 { 2 } else { 1 };
        assert_eq!(common::check_page(&fresh.read(PageId::new(file, n)).unwrap(), n), want);
    }
}
