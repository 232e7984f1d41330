//! R48-10 (RELIABILITY.md, session 48, review48): a failed file's bound on unwritable frames
//! (`Builder::failed_file_frames`) was counted once, on first need after the failure, on the rule that "a failed
//! file takes no new dirty pages, so the count only falls". Session 47's guards broke the rule both ways:
//! - a clean write guard (`BufferPool::write_clean`, `Builder::clean_write_guards`) taken before the failure makes
//!   its page dirty at its first change, after it: a new unwritable page the count did not hold, so the file kept
//!   more frames than its bound (one per guard in flight; `bufpool-btree` latches every leaf this way);
//! - `WriteGuard::restore` marks clean again a page its guard made dirty: counted while dirty, it stayed in the
//!   count, so the file dropped pages its bound let it keep (and a later read of each is `FileFailed`).
//!
//! R49-O10 (RELIABILITY.md, session 50, review50): the count is taken again after a guard forgets it. An eviction
//! that drops an unwritable page noted the drop (decrementing the count, a no-op while forgotten), then cleaned
//! and unmapped the page: a recount by another miss between the two counted the page being dropped, and nothing
//! took it off, so the file kept one unwritable page fewer than its bound. The test holds an eviction at its drop
//! (`bufpool::points`, feature `testing`), where a guard's first change forgets the count and another miss counts
//! again.
//!
//! Session 50 (review50), the same path: a file that fails between a miss's choice of its dirty page as a victim
//! (the file healthy: the page may be written) and the eviction (the file failed: the page cannot be written) had
//! that page dropped whatever its bound, as one over the bound is: the file kept fewer unwritable pages than its
//! bound let it (a `FileFailed` at the page's next read instead of its bytes). The test holds the miss in its
//! policy, between the two.
//!
//! Session 51 (R50-O11): the same fix's other case, two misses that both chose a page of a failed file one over
//! its bound, held together at the drop (two hooks at `EVICT_DROP_UNWRITABLE`): the first drops, the second
//! decides again under the count's lock and gives its victim back. With the decision taken away (every such
//! victim dropped, as before R50-12) it fails: "dropped 2 of its pages".

use crate::common;

use std::sync::Arc;
use std::thread;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, Builder, Error, FileId, MemoryStorage, PageId, PolicyKind};

/// The bound both tests set.
const BOUND: usize = 2;

/// An 8-frame FIFO pool whose file `f` has pages 0..8 written (generation 1), synced and clean, and a healthy
/// file.
fn pool_of_a_file_about_to_fail() -> (BufferPool, Arc<FaultyStorage>, FileId, FileId) {
    file_about_to_fail(BufferPool::builder().policy(PolicyKind::Fifo))
}

/// [`pool_of_a_file_about_to_fail`] with `builder`'s policy.
fn file_about_to_fail(builder: Builder) -> (BufferPool, Arc<FaultyStorage>, FileId, FileId) {
    let bad = Arc::new(FaultyStorage::new(48, FaultConfig::none()));
    let pool = builder.frames(8).failed_file_frames(BOUND).build().unwrap();
    let f = pool.open_storage(bad.clone()).unwrap();
    let g = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..8 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    pool.flush_file(f).unwrap();
    assert_eq!(pool.stats().dirty, 0);
    (pool, bad, f, g)
}

/// Changes `pages` of `f` (generation 2), then fails the file by a failed write of the first of them.
fn fail_with_pages_dirty(pool: &BufferPool, bad: &FaultyStorage, f: FileId, pages: std::ops::Range<u32>) {
    for n in pages.clone() {
        common::fill_page(&mut pool.write(PageId::new(f, n)).unwrap(), n, 2);
    }
    bad.inject_next(Op::Write, Fault::EioPersistent);
    assert!(pool.flush(PageId::new(f, pages.start)).is_err());
    assert!(pool.stats().files[0].failed);
}

/// A new page of `g`, this thread held at its eviction's drop of a failed file's page (`hold` passed at
/// `EVICT_DROP_UNWRITABLE`, naming `what` if it never goes on).
fn new_page_held_at_drop(
    pool: &BufferPool,
    g: FileId,
    hold: Arc<common::Hold>,
    what: &'static str,
) -> Result<(), Error> {
    bufpool::points::on_points(Some(Box::new(move |point| {
        if point == bufpool::points::EVICT_DROP_UNWRITABLE {
            hold.pass(what);
        }
    })));
    let page = pool.new_page(g).map(drop);
    bufpool::points::on_points(None);
    page
}

/// Takes `pages` new pages of the healthy file `g`: every one needs a victim.
fn fill_healthy(pool: &BufferPool, g: FileId, pages: u32) {
    for n in 0..pages {
        let mut page = pool.new_page(g).unwrap();
        let no = page.page_id().page_no();
        common::fill_page(&mut page, no, n.into());
    }
}

/// Pages of `f` in `pages` that still read generation `generation`; the others must be `FileFailed`.
fn readable(pool: &BufferPool, f: FileId, pages: std::ops::Range<u32>, generation: u64) -> usize {
    pages
        .filter(|&n| match pool.read(PageId::new(f, n)) {
            Ok(page) => {
                assert_eq!(common::check_page(&page, n), generation, "page {n}");
                true
            }
            Err(Error::FileFailed { .. }) => false,
            Err(e) => panic!("page {n}: {e}"),
        })
        .count()
}

#[test]
fn a_clean_guards_first_change_after_the_failure_counts_against_the_bound() {
    let (pool, bad, f, g) = pool_of_a_file_about_to_fail();
    // Four clean guards, taken before the failure, unchanged so far.
    let mut guards: Vec<_> = (0..4).map(|n| pool.write_clean(PageId::new(f, n)).unwrap()).collect();
    fail_with_pages_dirty(&pool, &bad, f, 4..8);
    // Misses count the failed file's unwritable frames (pages 4..8) and drop two of them to the bound.
    fill_healthy(&pool, g, 2);
    assert_eq!(pool.stats().failed_pages_dropped, 2);
    // The guards change their pages now: four more pages of the failed file that can never be written.
    for (n, guard) in (0..4).zip(guards.iter_mut()) {
        common::fill_page(guard, n, 2);
    }
    drop(guards);
    fill_healthy(&pool, g, 32);
    let st = pool.stats();
    assert_eq!(
        st.failed_pages_dropped,
        6,
        "the failed file kept {} frames of unwritable pages, its bound is {BOUND}: {st}",
        8 - st.failed_pages_dropped
    );
    assert_eq!(readable(&pool, f, 0..8, 2), BOUND);
}

#[test]
fn a_page_restored_clean_after_the_failure_no_longer_counts_against_the_bound() {
    let (pool, bad, f, g) = pool_of_a_file_about_to_fail();
    // Four guards change their pages before the failure (dirty), and will put the bytes back after it.
    let mut guards: Vec<_> = (0..4)
        .map(|n| {
            let mut guard = pool.write_clean(PageId::new(f, n)).unwrap();
            let before = guard.to_vec();
            common::fill_page(&mut guard, n, 2);
            (guard, before)
        })
        .collect();
    fail_with_pages_dirty(&pool, &bad, f, 4..8);
    // A miss counts the unwritable frames while pages 0..4 are dirty (eight), and drops page 4.
    fill_healthy(&pool, g, 1);
    assert_eq!(pool.stats().failed_pages_dropped, 1);
    for (guard, before) in &mut guards {
        guard.restore(before).unwrap();
    }
    drop(guards);
    assert_eq!(
        pool.stats().dirty,
        4,
        "pages 5..8 of the failed file and the healthy file's new page"
    );
    // Pages 0..4 are clean and synced again: only 5..8 are unwritable, one more than the bound.
    fill_healthy(&pool, g, 32);
    let st = pool.stats();
    assert_eq!(
        st.failed_pages_dropped, 2,
        "the failed file dropped {} of its unwritable pages, keeping fewer than its bound of {BOUND}: {st}",
        st.failed_pages_dropped
    );
    assert_eq!(readable(&pool, f, 4..8, 2), BOUND);
    assert_eq!(readable(&pool, f, 0..4, 1), 4, "the restored pages read as synced");
}

#[test]
fn a_recount_beside_an_eviction_dropping_a_page_counts_it_once() {
    let (pool, bad, f, g) = pool_of_a_file_about_to_fail();
    // A clean guard on page 0 (taken before the failure: its first change comes after it), read guards on pages
    // 1..4: the misses' only candidates are the unwritable pages 4..8.
    let mut clean = pool.write_clean(PageId::new(f, 0)).unwrap();
    let reads: Vec<_> = (1..4).map(|n| pool.read(PageId::new(f, n)).unwrap()).collect();
    fail_with_pages_dirty(&pool, &bad, f, 4..8);
    let hold = Arc::new(common::Hold::default());
    hold.arm_for(0);
    thread::scope(|s| {
        // A miss whose victim is page 4 (four unwritable pages, bound 2: dropped), held at the drop.
        let evictor = s.spawn(|| new_page_held_at_drop(&pool, g, hold.clone(), "the eviction's drop of page 4"));
        hold.entered.wait("an eviction dropping a failed file's page");
        // The guard's first change forgets the count; another miss counts again (page 0 now, and page 4, still
        // in its frame) and drops page 5.
        common::fill_page(&mut clean, 0, 2);
        pool.new_page(g).unwrap();
        assert_eq!(
            pool.stats().failed_pages_dropped,
            1,
            "page 5, dropped by the second miss"
        );
        hold.go.open();
        evictor.join().unwrap().unwrap();
    });
    drop((clean, reads));
    // Unwritable now: pages 0, 6 and 7, one over the bound; the misses drop one of them, and keep two.
    fill_healthy(&pool, g, 32);
    let st = pool.stats();
    assert_eq!(
        st.failed_pages_dropped,
        3,
        "the failed file kept {} of its unwritable pages (0, 6, 7 after two drops), its bound is {BOUND}: {st}",
        5 - st.failed_pages_dropped
    );
    assert_eq!(readable(&pool, f, 0..1, 2) + readable(&pool, f, 4..8, 2), BOUND);
}

#[test]
fn a_file_failing_after_its_dirty_page_was_taken_as_a_victim_keeps_it_within_its_bound() {
    let hold = Arc::new(common::Hold::default());
    let policy = common::InOrder::held_after_take(8, hold.clone());
    let (pool, bad, f, g) = file_about_to_fail(BufferPool::builder().custom_policy(Box::new(policy)));
    // Page 0 changed: the first victim in order, dirty, of a healthy file.
    common::fill_page(&mut pool.write(PageId::new(f, 0)).unwrap(), 0, 2);
    thread::scope(|s| {
        let miss = s.spawn(|| {
            hold.arm_for(common::test_thread());
            pool.new_page(g).map(drop)
        });
        hold.entered.wait("the miss, its victim (page 0) taken");
        // The file fails with page 1 changed too: two unwritable pages, within its bound of 2.
        common::fill_page(&mut pool.write(PageId::new(f, 1)).unwrap(), 1, 2);
        bad.inject_next(Op::Write, Fault::EioPersistent);
        assert!(pool.flush(PageId::new(f, 1)).is_err());
        assert!(pool.stats().files[0].failed);
        hold.go.open();
        miss.join().unwrap().unwrap();
    });
    let st = pool.stats();
    assert_eq!(
        st.failed_pages_dropped, 0,
        "the failed file's page 0, taken as a victim before the failure, was dropped within its bound: {st}"
    );
    assert_eq!(readable(&pool, f, 0..2, 2), 2);
}

#[test]
fn two_misses_dropping_a_failed_files_pages_at_once_stop_at_its_bound() {
    let (pool, bad, f, g) = pool_of_a_file_about_to_fail();
    // Read guards on pages 0..5; pages 5..8 changed and the file failed: three unwritable pages, one over the
    // bound, and the misses' only candidates.
    let reads: Vec<_> = (0..5).map(|n| pool.read(PageId::new(f, n)).unwrap()).collect();
    fail_with_pages_dirty(&pool, &bad, f, 5..8);
    let holds: Vec<Arc<common::Hold>> = (0..2).map(|_| Arc::new(common::Hold::default())).collect();
    thread::scope(|s| {
        // Two misses, each held at the drop of its victim (pages 5 and 6, in FIFO order): both chose it while the
        // file was one over its bound, and neither has dropped yet.
        let misses: Vec<_> = holds
            .iter()
            .map(|hold| {
                hold.arm_for(0);
                let miss =
                    s.spawn(|| new_page_held_at_drop(&pool, g, hold.clone(), "a miss's drop of a failed file's page"));
                hold.entered.wait("a miss at the drop of a failed file's page");
                miss
            })
            .collect();
        // The first drops its victim, down to the bound; the second decides again and gives its victim back, then
        // takes the first's new page (dirty, of the healthy file: written) instead.
        for (hold, miss) in holds.iter().zip(misses) {
            hold.go.open();
            miss.join().unwrap().unwrap();
        }
    });
    drop(reads);
    let st = pool.stats();
    assert_eq!(
        st.failed_pages_dropped, 1,
        "two misses that both found the failed file one over its bound of {BOUND} dropped {} of its pages: {st}",
        st.failed_pages_dropped
    );
    assert_eq!(readable(&pool, f, 5..8, 2), BOUND);
    assert_eq!(readable(&pool, f, 0..5, 1), 5);
}
