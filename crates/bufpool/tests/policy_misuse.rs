//! A policy object (`Builder::custom_policy`) that misbehaves as user code can, beyond session 20's lies about
//! its victim answer (`policy_contract.rs`) and session 19's panics (`policy_panics.rs`); review34, task 1.
//!
//! - R34-1: a policy that offered `try_take` a frame index the pool does not have made the pool index its frame
//!   headers out of bounds: a panic of the pool's own (`frames.rs`, "index out of bounds: the len is 3 but the
//!   index is 4294967294"), printed by the panic hook and caught only because the policy wrapper catches every
//!   unwind out of a policy call; it was reported as the policy's panic, and under `panic = "abort"` it aborted
//!   the process. Now the wrapper refuses the index and fails the policy with a message that says so.
//! - R34-O1 (sound): a policy that finds nothing while unlatched frames exist gets `PoolExhausted` at once, and
//!   one that reads the pool's statistics from every callback (a policy that logs them) runs the pool.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{Arc, OnceLock, Weak};

use std::time::Duration;

use bufpool::{BufferPool, Error, FileId, FrameIdx, MemoryStorage, PageId, Policy, WriterConfig};
use parking_lot::Mutex;

use crate::common;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Way {
    /// FIFO, honestly.
    Honest,
    /// Offers a frame index the pool does not have to `try_take`, then goes on honestly.
    OffersOutOfRange,
    /// The same, on the background writer's thread only.
    OffersOutOfRangeOnWriter,
    /// Finds nothing, offering nothing, while unlatched frames exist.
    FindsNothing,
    /// Asks the pool for its statistics in every callback (a policy that logs them).
    AsksStats,
}

const WAYS: [Way; 5] = [
    Way::Honest,
    Way::OffersOutOfRange,
    Way::OffersOutOfRangeOnWriter,
    Way::FindsNothing,
    Way::AsksStats,
];

struct Odd {
    queue: Mutex<VecDeque<FrameIdx>>,
    way: Arc<AtomicU8>,
    pool: Arc<OnceLock<Weak<BufferPool>>>,
}

impl Odd {
    fn way(&self) -> Way {
        WAYS[usize::from(self.way.load(SeqCst))]
    }
    fn maybe_stats(&self) {
        if self.way() == Way::AsksStats {
            if let Some(pool) = self.pool.get().and_then(Weak::upgrade) {
                let s = pool.stats();
                assert!(s.resident <= s.frames);
            }
        }
    }
}

impl Policy for Odd {
    fn name(&self) -> &'static str {
        "odd"
    }
    fn on_hit(&self, _frame: FrameIdx) {
        self.maybe_stats();
    }
    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        self.maybe_stats();
        self.queue.lock().push_back(frame);
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.maybe_stats();
        self.queue.lock().retain(|&f| f != frame);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.maybe_stats();
        match self.way() {
            Way::FindsNothing => return None,
            Way::OffersOutOfRangeOnWriter if std::thread::current().name() != Some("bufpool-writer") => {}
            Way::OffersOutOfRange | Way::OffersOutOfRangeOnWriter => {
                if try_take(FrameIdx::MAX - 1) {
                    return Some(FrameIdx::MAX - 1);
                }
            }
            Way::Honest | Way::AsksStats => {}
        }
        let mut queue = self.queue.lock();
        let pos = queue.iter().position(|&f| try_take(f))?;
        queue.remove(pos)
    }
}

fn odd_pool(frames: usize, pages: u32, writer: Option<WriterConfig>) -> (Arc<BufferPool>, FileId, Arc<AtomicU8>) {
    let way = Arc::new(AtomicU8::new(Way::Honest as u8));
    let slot = Arc::new(OnceLock::new());
    let policy = Odd {
        queue: Mutex::new(VecDeque::new()),
        way: way.clone(),
        pool: slot.clone(),
    };
    let mut builder = BufferPool::builder().frames(frames).custom_policy(Box::new(policy));
    if let Some(writer) = writer {
        builder = builder.background_writer(writer);
    }
    let pool = Arc::new(builder.build().unwrap());
    slot.set(Arc::downgrade(&pool)).unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..pages {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    (pool, file, way)
}

/// Every resident page reads at once, from another thread, with generation `generation` (0, never written, for
/// a page past the first `written`); nothing is latched; the file drops.
fn pool_still_serves(pool: &Arc<BufferPool>, file: FileId, generation: u64, written: u32) {
    let p = pool.clone();
    common::within("a read of every resident page", move || {
        for page in p.resident_pages() {
            let n = page.page.page_no();
            let want = if n < written { generation } else { 0 };
            assert_eq!(common::check_page(&p.read(page.page).unwrap(), n), want);
        }
    });
    assert!(pool.held_latches().is_empty(), "{:?}", pool.held_latches());
    pool.drop_file(file).unwrap();
}

fn offered_a_frame_it_does_not_have(e: &Error, what: &str) -> bool {
    matches!(e, Error::Panicked { what: w, message } if *w == what
        && message.contains("broke the Policy contract: offered frame 4294967294 to try_take"))
}

/// R34-1, a miss's victim request: a typed error that names the policy's breach, not the pool's own index panic;
/// the policy is failed for good; resident pages go on serving.
#[test]
fn a_policy_offering_a_frame_the_pool_does_not_have_is_a_typed_error() {
    let (pool, file, how) = odd_pool(3, 8, None);
    how.store(Way::OffersOutOfRange as u8, SeqCst);
    let e = pool.read(PageId::new(file, 0)).map(|_| ()).unwrap_err();
    assert!(offered_a_frame_it_does_not_have(&e, "Policy::victim_for"), "{e:?}");
    how.store(Way::Honest as u8, SeqCst);
    let e = pool.read(PageId::new(file, 1)).map(|_| ()).unwrap_err();
    assert!(offered_a_frame_it_does_not_have(&e, "Policy::victim_for"), "{e:?}");
    pool_still_serves(&pool, file, 1, 8);
}

/// R34-1, the background writer's victim search: the writer's `try_take` indexed the headers with the policy's
/// index, a panic of the pool's own on its thread. Now the policy's breach is kept, and every miss reports it.
#[test]
fn a_policy_offering_the_writer_a_frame_the_pool_does_not_have_is_a_typed_error() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 2,
        dirty_ratio_max: 1.0,
        pages_per_sec_max: 0,
        batch_pages: 4,
    };
    // Four dirty pages in four frames: the writer wants two free frames and asks the policy.
    let (pool, file, how) = odd_pool(4, 4, Some(writer));
    how.store(Way::OffersOutOfRangeOnWriter as u8, SeqCst);
    // Until the writer has asked, the policy answers misses honestly: new pages go on being made.
    let p = pool.clone();
    common::within("the writer's victim search", move || loop {
        if let Err(e) = p.new_page(file) {
            assert!(offered_a_frame_it_does_not_have(&e, "Policy::victim"), "{e:?}");
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    });
    pool_still_serves(&pool, file, 1, 4);
}

/// R34-O1: a policy that offers nothing while every frame could be taken: each miss gets `PoolExhausted` at once
/// (counted in `exhausted`, neither a hit nor a miss), resident pages serve, and the pool works again when the
/// policy does.
#[test]
fn a_policy_that_finds_nothing_leaves_the_pool_exhausted_not_hung() {
    let (pool, file, how) = odd_pool(3, 8, None);
    how.store(Way::FindsNothing as u8, SeqCst);
    let p = pool.clone();
    common::within("misses under a policy that finds nothing", move || {
        for n in 0..5 {
            let e = p.read(PageId::new(file, n)).map(|_| ()).unwrap_err();
            assert!(matches!(e, Error::PoolExhausted { frames: 3, .. }), "{e:?}");
        }
    });
    let st = pool.stats();
    assert_eq!((st.exhausted, st.misses, st.hits, st.resident), (5, 0, 0, 3), "{st}");
    how.store(Way::Honest as u8, SeqCst);
    for n in 0..8 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
    }
    pool_still_serves(&pool, file, 1, 8);
}

/// R34-O1: a policy that reads `stats()` in every callback (on_hit, on_insert, on_remove, victim), through misses,
/// hits, dirty evictions, a free and a drop: every page is served right and nothing waits.
#[test]
fn a_policy_reading_the_pools_statistics_in_every_callback_runs_the_pool() {
    let (pool, file, how) = odd_pool(3, 8, None);
    how.store(Way::AsksStats as u8, SeqCst);
    let p = pool.clone();
    common::within("a pool whose policy reads its statistics", move || {
        for round in 0..3 {
            for n in 0..8 {
                assert_eq!(common::check_page(&p.read(PageId::new(file, n)).unwrap(), n), 1 + round);
                assert_eq!(common::check_page(&p.read(PageId::new(file, n)).unwrap(), n), 1 + round);
            }
            for n in 0..8 {
                common::fill_page(&mut p.write(PageId::new(file, n)).unwrap(), n, 2 + round);
            }
        }
        p.free_page(PageId::new(file, 7)).unwrap();
        p.checkpoint().unwrap();
    });
    let st = pool.stats();
    assert_eq!(st.hits + st.misses, 3 * 8 * 3, "{st}");
    pool_still_serves(&pool, file, 4, 8);
}
