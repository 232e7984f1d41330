//! O5 (RELIABILITY.md): `new_page` returned `Error::PageFreed`, an error its docs do not list, and a second
//! `free_page` of one number put it back in the free list while a `new_page` was giving it out.
//!
//! The story: page 1 is freed, and a reader loads its stale image. `new_page` pops 1 from the free list, finds
//! the stale copy mapped (and latched: an evictor holds it) and waits for it in `new_page_over_stale`. The
//! evictor takes the stale copy away, so `new_page` must load page 1 itself, and while that load looks for a
//! frame, a second `free_page(1)` runs. Before the fix that call found the number on neither the free list nor
//! in the page table: it passed its "already freed?" check and put 1 back in the free list, so two parties owned
//! the number (the free list, and the allocation in progress). The load then saw the page freed and refused the
//! exclusive latch, and `new_page` returned `PageFreed`: the caller of `new_page` got an error that was not
//! theirs. (Seen first in the 16-thread stress model, where two `free_page` calls of one number overlapped across
//! a close and reopen of the file: the call begun before the close looked the file up after the reopen.)
//!
//! Now a page number is owned by one party at a time: the user, the free list, one `new_page` that popped it, or
//! one `free_page` that claimed it. The second `free_page` finds 1 owned by the allocation and fails with
//! `PageFreed` (a double free, refused); `new_page` returns page 1, and the number is on the free list no more.
//!
//! The schedule is forced, not hoped for: an eviction veto stops the evictor while it holds the stale copy, and
//! stops `new_page`'s own load while it looks for a frame; the single-flight wait counter says when `new_page`
//! waits for the stale copy. A replacement policy that takes no lock lets the other threads evict meanwhile.

use crate::common;

use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool::{BufferPool, Error, MemoryStorage, PageId};
use common::{Gate, InOrder, STEP_WAIT_MAX};

/// The page freed twice.
const FREED: u32 = 1;
/// The page the evictor reads (not resident), whose miss evicts the stale copy of `FREED`.
const EVICTOR_READS: u32 = 4;
/// Pages in the file.
const PAGES: u32 = 5;

/// What the eviction veto does, by phase (see `veto`).
#[derive(Default)]
struct Script {
    phase: AtomicU8,
    evictor_holds_stale: Gate,
    release_evictor: Gate,
    new_page_loads: Gate,
    release_new_page: Gate,
}

/// Phase 0: evict anything.
const PASS: u8 = 0;
/// Phase 1: the evictor's miss takes the stale copy of `FREED` and stops there (other pages are protected from it).
const HOLD_EVICTOR: u8 = 1;
/// Phase 2: the next eviction by the `new_page` thread (its load of `FREED`) stops.
const HOLD_NEW_PAGE: u8 = 2;

const EVICTOR: &str = "evictor";
const NEW_PAGE: &str = "new-page";

/// The eviction veto: runs on the evicting thread with the candidate latched, before the page is unmapped.
fn veto(script: &Script, page: PageId) -> bool {
    let thread = std::thread::current();
    match (script.phase.load(SeqCst), thread.name()) {
        (HOLD_EVICTOR, Some(EVICTOR)) if page.page_no() == FREED => {
            script.evictor_holds_stale.open();
            script.release_evictor.wait("release of the evictor");
            false
        }
        (HOLD_EVICTOR, Some(EVICTOR)) => true,
        (HOLD_NEW_PAGE, Some(NEW_PAGE)) => {
            script.new_page_loads.open();
            script.release_new_page.wait("release of new_page's load");
            false
        }
        _ => false,
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP_WAIT_MAX;
    while !done() {
        assert!(Instant::now() < deadline, "never reached: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_double_free_during_new_page_is_refused_and_new_page_gets_the_page() {
    const FRAMES: usize = 3;
    let script = Arc::new(Script::default());
    let veto_script = script.clone();
    let pool = Arc::new(
        BufferPool::builder()
            .frames(FRAMES)
            .custom_policy(Box::new(InOrder::new(FRAMES)))
            .eviction_veto(move |page| veto(&veto_script, page))
            .build()
            .unwrap(),
    );
    let storage = Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..PAGES {
        let mut g = pool.new_page(file).unwrap();
        g.fill(n as u8 + 1);
    }
    pool.checkpoint().unwrap();
    // Reopened: nothing resident, every page on storage, the free list empty.
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage).unwrap();
    let page = move |n| PageId::new(file, n);

    // The pool full of clean pages: 0, 2, and the stale image of freed page 1 (a reader followed a stale pointer).
    drop(pool.read(page(0)).unwrap());
    drop(pool.read(page(2)).unwrap());
    pool.free_page(page(FREED)).unwrap();
    drop(pool.read(page(FREED)).unwrap());
    assert_eq!(pool.stats().resident, FRAMES);

    // The evictor's miss latches the stale copy as its victim and stops in the veto.
    script.phase.store(HOLD_EVICTOR, SeqCst);
    let evictor = {
        let pool = pool.clone();
        std::thread::Builder::new()
            .name(EVICTOR.into())
            .spawn(move || pool.read(page(EVICTOR_READS)).map(drop))
            .unwrap()
    };
    script.evictor_holds_stale.wait("the evictor holding the stale copy");

    // `new_page` evicts page 0 for its frame, pops page number 1, finds the stale copy mapped and waits for it.
    let waits_before = pool.stats().single_flight_waits;
    let new_page = {
        let pool = pool.clone();
        std::thread::Builder::new()
            .name(NEW_PAGE.into())
            .spawn(move || {
                pool.new_page(file).map(|g| {
                    let zeroed = g.iter().all(|&b| b == 0);
                    (g.page_id(), zeroed)
                })
            })
            .unwrap()
    };
    wait_until("new_page waiting for the stale copy", || {
        pool.stats().single_flight_waits > waits_before
    });

    // The evictor takes the stale copy away; `new_page` must load page 1 and stops while taking a frame for it.
    script.phase.store(HOLD_NEW_PAGE, SeqCst);
    script.release_evictor.open();
    script.new_page_loads.wait("new_page loading the freed page");

    // The double free: page 1 is on no free list and in no frame, but it is `new_page`'s.
    let double_free = pool.free_page(page(FREED));

    script.phase.store(PASS, SeqCst);
    script.release_new_page.open();
    let new_page = new_page.join().unwrap();
    evictor.join().unwrap().unwrap();

    assert_eq!(
        new_page.as_ref().map_err(|e| e.to_string()),
        Ok(&(page(FREED), true)),
        "new_page over the freed number"
    );
    assert!(
        matches!(double_free, Err(Error::PageFreed { page: p }) if p == page(FREED)),
        "free_page of a number new_page was giving out: {double_free:?}"
    );
    // Page 1 has one owner (the caller who got it from new_page): the next new page is a new number, and one
    // free of page 1 succeeds, a second is refused.
    let next = pool.new_page(file).unwrap().page_id();
    assert_eq!(next, page(PAGES), "page 1 was handed out twice");
    pool.free_page(page(FREED)).unwrap();
    assert!(matches!(pool.free_page(page(FREED)), Err(Error::PageFreed { .. })));
}
