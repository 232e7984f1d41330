//! P1 (RELIABILITY.md): a page read while `free_page` ran kept a copy that took write guards after the page was
//! freed, where `write`'s and `free_page`'s docs say a freed page refuses them (`Error::PageFreed`).
//!
//! The story: a load asks the free list whether its page is freed and, if so, marks its copy (write guards
//! refused). `free_page` claimed the number, looked the page up, discarded the copy it found, and only then put
//! the number on the list. A load that mapped the page after the lookup and asked the list before the insert
//! found the number in transit, not listed, and kept an unmarked copy: after `free_page` returned `Ok`, `write`
//! of the page succeeded. Here the lookup finds the copy latched by an evictor, so `free_page` waits for that
//! frame; the evictor takes the copy away and reads another page into the frame (its read held), and meanwhile a
//! reader following a stale pointer loads the page afresh. `free_page` then gets the frame, finds another page
//! in it, and lists the number, leaving the reader's copy unmarked. The batch loads (`read_many`, `prefetch`)
//! did not ask the list at all: their copy of a freed page took write guards too, and a freed page with no image
//! failed with `ShortRead` instead of `PageFreed`.
//!
//! Now the number is listed only with the page's copy latched by `free_page` (discarded right after), or with no
//! copy mapped, confirmed under the list's lock, which every load asks after mapping its copy
//! (`FreeClaim::commit_unless_cached`): a load that asked before the listing mapped its copy before it, and
//! `free_page` finds and discards that copy; every later load finds the number listed. Every load, batched or
//! not, asks in `finish_load`.
//!
//! The schedule is forced by gates: an eviction veto stops the evictor while it holds the copy, and the storage
//! stops the evictor's read of the other page. Two `free_page` calls run: one claims the number, the other finds
//! it claimed (`PageFreed`), which says the claim is made; a short pause then covers the few instructions from
//! the claim to the lookup. Were the pause too short, the lookup would come after the evictor's and the test would
//! pass on the unfixed pool: it never fails a correct one.

use crate::common;

use std::io;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage};
use bufpool::{BufferPool, Error, PageId};
use common::hooked::{Hooked, Hooks};
use common::{Gate, InOrder, STEP_WAIT_MAX};

/// The page freed while a reader loads it.
const FREED: u32 = 1;
/// The page the evictor reads (not resident), whose miss evicts the copy of `FREED`.
const EVICTOR_READS: u32 = 4;
/// Pages in the file.
const PAGES: u32 = 5;
/// From the claim `free_page` makes to its lookup of the page: a few instructions, no wait.
const CLAIM_TO_LOOKUP_PAUSE: Duration = Duration::from_millis(50);

const EVICTOR: &str = "evictor";

/// What the eviction veto and the storage do, by phase.
#[derive(Default)]
struct Script {
    phase: AtomicU8,
    evictor_holds_copy: Gate,
    release_evictor: Gate,
    evictor_reads: Gate,
    release_read: Gate,
}

/// Phase 0: evict anything, read anything.
const PASS: u8 = 0;
/// Phase 1: the evictor's miss takes the copy of `FREED` (other pages are protected from it) and stops there; its
/// read of `EVICTOR_READS` stops too.
const HOLD_EVICTOR: u8 = 1;

/// The eviction veto: runs on the evicting thread with the candidate latched, before the page is unmapped.
fn veto(script: &Script, page: PageId) -> bool {
    if script.phase.load(SeqCst) != HOLD_EVICTOR || std::thread::current().name() != Some(EVICTOR) {
        return false;
    }
    if page.page_no() != FREED {
        return true;
    }
    script.evictor_holds_copy.open();
    script.release_evictor.wait("release of the evictor");
    false
}

/// Hooks that stop a storage's reads on the evictor's thread while the script says so.
struct GatedReads(Arc<Script>);

impl Hooks for GatedReads {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if self.0.phase.load(SeqCst) == HOLD_EVICTOR && std::thread::current().name() == Some(EVICTOR) {
            self.0.evictor_reads.open();
            self.0.release_read.wait("release of the evictor's read");
        }
        below.read_at(buf, offset)
    }
}

fn refused_as_freed<T>(r: bufpool::Result<T>, page: PageId, call: &str) {
    match r {
        Err(Error::PageFreed { page: p }) => assert_eq!(p, page, "{call} names the page"),
        Err(e) => panic!("{call} of a freed page: {e} (expected PageFreed)"),
        Ok(_) => panic!("{call} of a freed page succeeded"),
    }
}

#[test]
fn a_read_while_free_page_runs_leaves_no_copy_that_takes_write_guards() {
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
    // Unbound, as the test was written (its storage forwarded no file record).
    let storage = Arc::new(Hooked::unbound(MemoryStorage::new(), GatedReads(script.clone())));
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..PAGES {
        pool.new_page(file).unwrap().fill(n as u8 + 1);
    }
    pool.checkpoint().unwrap();
    // Reopened: nothing resident, every page on storage.
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage).unwrap();
    let page = move |n| PageId::new(file, n);

    // The pool full of clean pages: 0, 2 and the page to free.
    for n in [0, 2, FREED] {
        drop(pool.read(page(n)).unwrap());
    }
    assert_eq!(pool.stats().resident, FRAMES);

    // The evictor's miss latches the copy of the page as its victim and stops in the veto.
    script.phase.store(HOLD_EVICTOR, SeqCst);
    let evictor = {
        let pool = pool.clone();
        std::thread::Builder::new()
            .name(EVICTOR.into())
            .spawn(move || pool.read(page(EVICTOR_READS)).map(|g| g[0]))
            .unwrap()
    };
    script.evictor_holds_copy.wait("the evictor holding the copy");

    // Two frees of the page: one claims the number and waits for the copy's latch, the other is refused.
    let (tx, rx) = mpsc::channel();
    for name in ["free-a", "free-b"] {
        let (pool, tx) = (pool.clone(), tx.clone());
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || tx.send(pool.free_page(page(FREED))).unwrap())
            .unwrap();
    }
    let refused = rx.recv_timeout(STEP_WAIT_MAX).expect("a free_page returned");
    refused_as_freed(refused, page(FREED), "the second free_page");
    std::thread::sleep(CLAIM_TO_LOOKUP_PAUSE);

    // The evictor takes the copy away and reads its own page into the frame, where its read stops.
    script.release_evictor.open();
    script
        .evictor_reads
        .wait("the evictor reading its page into the copy's frame");
    script.phase.store(PASS, SeqCst);

    // A reader follows a stale pointer to the page while it is being freed: it is served the page's image
    // (before the fix from a copy it loaded itself, unmarked, as the number was not listed yet).
    assert_eq!(pool.read(page(FREED)).unwrap()[0], FREED as u8 + 1);

    script.release_read.open();
    assert_eq!(evictor.join().unwrap().unwrap(), EVICTOR_READS as u8 + 1);
    let freed = rx.recv_timeout(STEP_WAIT_MAX).expect("the other free_page returned");
    assert!(freed.is_ok(), "the free_page that claimed the page: {freed:?}");

    // Freed: no write guard, however the page is reached; its last image is still read.
    refused_as_freed(pool.write(page(FREED)), page(FREED), "write");
    assert_eq!(pool.read(page(FREED)).unwrap()[0], FREED as u8 + 1);
    refused_as_freed(pool.write(page(FREED)), page(FREED), "write after a read");

    // One owner: new_page reuses the number, zeroed, and the page takes writes again.
    let g = pool.new_page(file).unwrap();
    assert_eq!(g.page_id(), page(FREED));
    assert!(g.iter().all(|&b| b == 0), "a reused page starts zeroed");
    drop(g);
    pool.write(page(FREED)).unwrap()[0] = 9;
    assert_eq!(pool.read(page(FREED)).unwrap()[0], 9);
}

#[test]
fn batch_loads_of_a_freed_page_mark_it_freed() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..3u32 {
        pool.new_page(file).unwrap().fill(n as u8 + 1);
    }
    pool.checkpoint().unwrap();
    let page = |n| PageId::new(file, n);
    // Page 3, never written: it has no image in the file.
    let fresh = pool.new_page(file).unwrap().page_id();
    assert_eq!(fresh, page(3));

    // read_many: the freed page's last image is served, and the copy it loaded takes no write guard.
    pool.free_page(page(1)).unwrap();
    let mut seen = Vec::new();
    pool.read_many(&[page(1)], |_, r| seen.push(r.map(|g| g[0]).map_err(|e| e.to_string())));
    assert_eq!(seen, [Ok(2)]);
    refused_as_freed(pool.write(page(1)), page(1), "write after read_many");

    // prefetch: the same, whether `write` finds the load finished or waits for it.
    pool.free_page(page(2)).unwrap();
    assert_eq!(pool.prefetch(&[page(2)]).unwrap(), 1);
    refused_as_freed(pool.write(page(2)), page(2), "write after prefetch");
    assert_eq!(pool.read(page(2)).unwrap()[0], 3);

    // A freed page never written has no image: refused as freed, by read_many as by read.
    pool.free_page(fresh).unwrap();
    let mut seen = Vec::new();
    pool.read_many(&[fresh], |_, r| seen.push(r.map(drop)));
    match seen.pop() {
        Some(r) => refused_as_freed(r, fresh, "read_many"),
        None => panic!("read_many did not visit the page"),
    }
    refused_as_freed(pool.read(fresh), fresh, "read");

    // Reused, in number order: the pages take writes again.
    for n in [1, 2, 3] {
        let mut g = pool.new_page(file).unwrap();
        assert_eq!(g.page_id(), page(n));
        g[0] = 7;
    }
    pool.write(page(1)).unwrap()[0] = 8;
}
