//! Guard-leak detection (issue 12, seed 003): `pool.held_latches()` lists the latches guards hold, with how long
//! and (debug builds) where the guard was taken. Before it, a guard passed to `mem::forget` showed only as a
//! `PageLatched` timeout or a `PoolExhausted` somewhere else, naming nothing.

use crate::common;

use bufpool::{BufferPool, FileId, PageId};

fn pool_with_pages(pages: u32) -> (BufferPool, FileId) {
    let pool = BufferPool::builder().frames(16).latch_times(true).build().unwrap();
    let file = pool.open_storage(bufpool::MemoryStorage::new()).unwrap();
    for n in 0..pages {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    (pool, file)
}

#[test]
fn guards_are_listed_while_held_and_gone_when_dropped() {
    let (pool, file) = pool_with_pages(4);
    assert!(pool.held_latches().is_empty(), "no guard, no latch");
    let (p0, p1, p2) = (PageId::new(file, 0), PageId::new(file, 1), PageId::new(file, 2));
    let r1 = pool.read(p0).unwrap();
    let r2 = pool.read(p0).unwrap();
    let w = pool.write(p1).unwrap();
    let mut held = pool.held_latches();
    held.sort_by_key(|l| l.page);
    assert_eq!(held.len(), 2, "{held:?}");
    assert_eq!((held[0].page, held[0].exclusive, held[0].holders), (p0, false, 2));
    assert_eq!((held[1].page, held[1].exclusive, held[1].holders), (p1, true, 1));
    if cfg!(debug_assertions) {
        for l in &held {
            let at = l.taken_at.expect("debug builds record where the guard was taken");
            assert!(at.file().ends_with("held_latches.rs"), "{at}");
        }
    }
    drop(r1);
    assert_eq!(pool.held_latches().len(), 2, "one reader of p0 is left");
    drop((r2, w));
    assert!(pool.held_latches().is_empty());

    // Downgrade keeps the latch (now shared); upgrade makes it exclusive again.
    let latched = || -> Vec<(PageId, bool)> { pool.held_latches().iter().map(|l| (l.page, l.exclusive)).collect() };
    let w = pool.write(p2).unwrap();
    let r = w.downgrade();
    assert_eq!(latched(), [(p2, false)]);
    let w = r.try_upgrade().unwrap();
    assert_eq!(latched(), [(p2, true)]);
    drop(w);
    assert!(pool.held_latches().is_empty());
}

#[test]
fn a_forgotten_guard_shows_up() {
    let (pool, file) = pool_with_pages(3);
    let line = line!() + 1;
    std::mem::forget(pool.read(PageId::new(file, 1)).unwrap());
    std::mem::forget(pool.write(PageId::new(file, 2)).unwrap());
    // Other guards come and go on other pages; the leaked ones stay listed.
    for _ in 0..3 {
        drop(pool.read(PageId::new(file, 0)).unwrap());
    }
    let held = pool.held_latches();
    let pages: Vec<(u32, bool)> = {
        let mut v: Vec<_> = held.iter().map(|l| (l.page.page_no(), l.exclusive)).collect();
        v.sort();
        v
    };
    assert_eq!(pages, [(1, false), (2, true)]);
    if cfg!(debug_assertions) {
        let lines: Vec<u32> = {
            let mut v: Vec<_> = held.iter().map(|l| l.taken_at.unwrap().line()).collect();
            v.sort();
            v
        };
        assert_eq!(lines, [line, line + 1], "the leak names its line");
    }
    // The leaked shared latch keeps being listed while other readers of its page come and go.
    for _ in 0..3 {
        drop(pool.read(PageId::new(file, 1)).unwrap());
    }
    let held = pool.held_latches();
    assert!(held.iter().any(|l| l.page == PageId::new(file, 1) && l.holders == 1));
    assert_eq!(held.len(), 2);
}

/// Durations are recorded only with `Builder::latch_times` (a clock read per guard); the listing works without.
#[test]
fn durations_only_with_latch_times() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(bufpool::MemoryStorage::new()).unwrap();
    drop(pool.new_page(file).unwrap());
    let g = pool.read(PageId::new(file, 0)).unwrap();
    let held = pool.held_latches();
    assert_eq!((held.len(), held[0].held_for), (1, None));
    drop(g);
    let (timed, file) = pool_with_pages(1);
    let _g = timed.write(PageId::new(file, 0)).unwrap();
    assert!(timed.held_latches()[0].held_for.is_some());
}
