//! `Builder::custom_policy` (issue 12): a caller's own replacement policy, or a built-in with non-default
//! parameters, runs the pool. Before it, a pool could only be built with a `PolicyKind` and its default
//! parameters, although the policies took parameters (`LruK::with_params`, `TwoQ::with_params`, ...).

use crate::common;

use bufpool::policy::{Lru, LruK, TinyLfuAdmission, TwoQ, WTinyLfu};
use bufpool::{BufferPool, FileId, FrameIdx, MemoryStorage, PageId, Policy, PolicyKind};
use parking_lot::Mutex;

/// A caller's own policy, written from scratch: evicts the most recently inserted page first (LIFO), the
/// opposite of FIFO, so its choices are easy to tell from every built-in's.
struct Newest {
    stack: Mutex<Vec<FrameIdx>>,
}

impl Policy for Newest {
    fn name(&self) -> &'static str {
        "newest"
    }
    fn on_hit(&self, _frame: FrameIdx) {}
    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        self.stack.lock().push(frame);
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.stack.lock().retain(|&f| f != frame);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut stack = self.stack.lock();
        // Newest first; one pass over every tracked frame, then give up (the contract's bound).
        let pos = stack.iter().rposition(|&f| try_take(f))?;
        Some(stack.remove(pos))
    }
}

/// `pool` over a file of `pages` written pages, reopened so that nothing is resident.
fn with_pages(pool: BufferPool, pages: u32) -> (BufferPool, FileId) {
    let storage = std::sync::Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..pages {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage).unwrap();
    (pool, file)
}

fn resident(pool: &BufferPool, file: FileId, n: u32) -> bool {
    let misses = pool.stats().misses;
    pool.read_optimistic(PageId::new(file, n), |_| ()).unwrap();
    pool.stats().misses == misses
}

#[test]
fn a_callers_own_policy_runs_the_pool() {
    let pool = BufferPool::builder()
        .frames(4)
        .policy(PolicyKind::Fifo) // replaced by the custom policy: the last choice wins
        .custom_policy(Box::new(Newest {
            stack: Mutex::new(Vec::new()),
        }))
        .build()
        .unwrap();
    assert_eq!(pool.policy_name(), "newest");
    let (pool, file) = with_pages(pool, 8);
    for n in 0..4 {
        drop(pool.read(PageId::new(file, n)).unwrap());
    }
    // Page 4's miss evicts the newest page (3) under this policy; FIFO would have evicted page 0.
    assert_eq!(common::check_page(&pool.read(PageId::new(file, 4)).unwrap(), 4), 1);
    assert!(resident(&pool, file, 0), "the oldest page stayed");
    assert!(resident(&pool, file, 4));
    assert!(!resident(&pool, file, 3), "the newest page was the victim");
    for n in 0..8 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
    }
    assert!(pool.stats().evictions >= 4);
}

#[test]
fn built_ins_with_non_default_parameters_run_the_pool() {
    let frames = 16;
    let policies: Vec<(Box<dyn Policy>, &str)> = vec![
        (Box::new(LruK::with_params(frames, 3, 2, frames)), "lru-k"),
        (Box::new(TwoQ::with_params(frames, frames / 2, frames)), "2q"),
        (Box::new(WTinyLfu::with_window(frames, 20, false)), "w-tinylfu"),
        (
            Box::new(TinyLfuAdmission::with_probation_floor(
                Box::new(Lru::new(frames)),
                frames,
                2,
            )),
            "lru+tinylfu",
        ),
    ];
    for (policy, name) in policies {
        let pool = BufferPool::builder()
            .frames(frames)
            .custom_policy(policy)
            .build()
            .unwrap();
        let (pool, file) = with_pages(pool, 64);
        assert_eq!(pool.policy_name(), name);
        // A skewed loop: a hot set of 8 pages between cold ones, every page checked.
        for i in 0..400u32 {
            let n = if i % 2 == 0 { i % 8 } else { 8 + (i * 7) % 56 };
            assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
        }
        let st = pool.stats();
        assert!(st.evictions > 0 && st.hits > 0, "{name}: {st}");
    }
}
