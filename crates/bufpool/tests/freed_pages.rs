//! Freed pages (issue 17): while a page is on its file's free list, freeing it again, writing it, and reading it
//! when it was never written are refused with `Error::PageFreed`. Reading a freed page that has an image is
//! allowed (a reader that followed a stale pointer sees the last image and validates it; the review's
//! `audit_new_page_fallback_leaks_dirty_flag` relies on it). `new_page` reusing the number ends all of that.

use bufpool::{BufferPool, Error, MemoryStorage};

fn freed(r: bufpool::Result<impl Sized>, what: &str) {
    match r {
        Err(Error::PageFreed { .. }) => {}
        Err(e) => panic!("{what}: {e}"),
        Ok(_) => panic!("{what} of a freed page succeeded"),
    }
}

#[test]
fn a_freed_page_refuses_a_second_free_writes_and_empty_reads() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let written = {
        let mut g = pool.new_page(file).unwrap();
        g[0] = 5;
        g.page_id()
    };
    let never_written = pool.new_page(file).unwrap().page_id();
    pool.flush(written).unwrap();
    pool.free_page(written).unwrap();
    pool.free_page(never_written).unwrap();

    freed(pool.free_page(written), "a second free_page");
    freed(pool.write(written), "write (miss)");
    freed(pool.read(never_written), "read of a never-written page");
    // A stale reader may see the last image, but the resident stale copy takes no write guard either.
    assert_eq!(pool.read(written).unwrap()[0], 5);
    freed(pool.write(written), "write (hit on the stale copy)");
    assert_eq!(pool.stats().dirty, 0);

    // new_page reuses the lowest freed number, over the stale copy: zeroed and writable again.
    let mut g = pool.new_page(file).unwrap();
    assert_eq!(g.page_id(), written);
    assert_eq!(g[0], 0);
    g[0] = 6;
    drop(g);
    assert_eq!(pool.write(written).unwrap()[0], 6);
    let again = pool.new_page(file).unwrap().page_id();
    assert_eq!(again, never_written);
    drop(pool.write(never_written).unwrap());
    pool.checkpoint().unwrap();
}

/// The free list lives in memory (`BufferPool::free_page`'s docs): after a close and reopen, or a crash, a page
/// freed before is the user's again, served with its last durable image, writable, and not reused by `new_page`
/// until the engine frees it again (an engine keeps its own free-space record and re-frees). A freed page past
/// the last one ever written is simply gone. Added by the review of session 9 (its page-number ownership): passes
/// on main, and pins the answer to "leaked, reused or served?".
#[test]
fn freed_pages_are_the_users_again_after_a_reopen_or_a_crash() {
    use bufpool::storage::{FaultConfig, FaultyStorage};
    use bufpool::PageId;
    use std::sync::Arc;

    for crash in [false, true] {
        let storage = Arc::new(FaultyStorage::new(3, FaultConfig::none()));
        let pool = BufferPool::builder().frames(8).build().unwrap();
        let file = pool.open_storage(storage.clone()).unwrap();
        for n in 0..4u8 {
            pool.new_page(file).unwrap()[0] = n + 10;
        }
        pool.checkpoint().unwrap();
        // Freed: a written page in the middle, and a new page past the end never written.
        let tail = pool.new_page(file).unwrap().page_id();
        assert_eq!(tail.page_no(), 4);
        pool.free_page(PageId::new(file, 1)).unwrap();
        pool.free_page(tail).unwrap();
        let image = if crash {
            storage.durable_image()
        } else {
            pool.close_file(file).unwrap();
            storage.live_image()
        };
        drop(pool);

        let pool = BufferPool::builder().frames(8).build().unwrap();
        let file = pool.open_storage(MemoryStorage::from_bytes(image)).unwrap();
        assert_eq!(
            pool.file_pages(file).unwrap(),
            4,
            "crash {crash}: the unwritten tail page is gone"
        );
        let one = PageId::new(file, 1);
        assert_eq!(
            pool.read(one).unwrap()[0],
            11,
            "crash {crash}: served with its last image"
        );
        pool.write(one).unwrap()[0] = 21;
        // Not reused: the next new page is a new number.
        assert_eq!(pool.new_page(file).unwrap().page_id().page_no(), 4);
        // Freed again by the engine, it is reused.
        pool.free_page(one).unwrap();
        assert_eq!(pool.new_page(file).unwrap().page_id(), one);
        pool.checkpoint().unwrap();
    }
}

/// A policy that follows FIFO and panics in `on_insert` once armed, failing for good (the pool's panic wrapper).
struct PanicsOnInsert {
    inner: bufpool::policy::Fifo,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl bufpool::Policy for PanicsOnInsert {
    fn name(&self) -> &'static str {
        "panics-on-insert"
    }
    fn on_hit(&self, frame: bufpool::FrameIdx) {
        self.inner.on_hit(frame)
    }
    fn on_insert(&self, frame: bufpool::FrameIdx, key: u64) {
        assert!(!self.armed.load(std::sync::atomic::Ordering::SeqCst), "on_insert armed");
        self.inner.on_insert(frame, key)
    }
    fn on_remove(&self, frame: bufpool::FrameIdx) {
        self.inner.on_remove(frame)
    }
    fn victim(&self, try_take: &mut dyn FnMut(bufpool::FrameIdx) -> bool) -> Option<bufpool::FrameIdx> {
        self.inner.victim(try_take)
    }
}

/// A write of a freed page that is not resident is refused with `PageFreed` before it takes a frame: the answer
/// does not depend on whether a frame could be had. The 16-thread stress found it (CI, seed 1000026: "write of
/// a freed page: Panicked { what: \"Policy::on_insert\" }"): the write missed, asked the policy (failed by an
/// earlier panic) for a victim, and returned that panic; with every frame pinned it returned `PoolExhausted`.
/// Before the fix it also evicted a page and read the freed one, to refuse it.
#[test]
fn a_write_of_a_freed_page_is_refused_without_taking_a_frame() {
    use bufpool::PageId;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;

    let armed = Arc::new(AtomicBool::new(false));
    let pool = BufferPool::builder()
        .frames(4)
        .custom_policy(Box::new(PanicsOnInsert {
            inner: bufpool::policy::Fifo::new(4),
            armed: Arc::clone(&armed),
        }))
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..8u8 {
        pool.new_page(file).unwrap()[0] = n;
    }
    pool.checkpoint().unwrap();
    let page = |n| PageId::new(file, n);
    pool.free_page(page(0)).unwrap();

    // Every frame pinned by readers.
    let pinned: Vec<_> = (1..5).map(|n| pool.read(page(n)).unwrap()).collect();
    let reads = pool.stats().reads;
    freed(pool.write(page(0)), "write (miss) with every frame pinned");
    assert_eq!(pool.stats().reads, reads, "no read of the freed page to refuse it");
    drop(pinned);

    // The policy panics in `on_insert` (the load still serves its page) and fails for good: from then on a miss
    // that needs a victim returns its panic.
    armed.store(true, SeqCst);
    let resident = |pool: &BufferPool| -> Vec<PageId> { pool.resident_pages().iter().map(|r| r.page).collect() };
    let mut missing = (1..8).map(page).filter(|p| !resident(&pool).contains(p));
    let (first, second) = (missing.next().unwrap(), missing.next().unwrap());
    drop(pool.read(first).unwrap());
    match pool.read(second) {
        Err(Error::Panicked { what, .. }) => assert_eq!(what, "Policy::on_insert"),
        r => panic!("a miss with the policy failed: {:?}", r.map(|g| g[0])),
    }
    let after = resident(&pool);
    freed(pool.write(page(0)), "write (miss) with the policy failed");
    assert_eq!(resident(&pool), after, "a refused write evicted nothing");
}
