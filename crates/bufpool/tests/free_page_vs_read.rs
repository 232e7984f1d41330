//! `free_page` against concurrent readers (issue 11): readers keep reading every page while one thread frees
//! pages and (in the second test) creates them again. A read returns a whole version of the page asked for
//! (`common::check_page`: never torn, never another page's bytes) or zeroes for a recreated page; `free_page`
//! fails only with `PageLatched`, and once it returns `Ok` the page refuses write guards (P1); afterwards every
//! page can be write-latched (under a watchdog), a checkpoint leaves nothing dirty, and dropping the file leaves
//! nothing resident.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bufpool::{BufferPool, Error, PageId};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PAGES: u32 = 24;
const READERS: usize = 3;

fn run(reuse: bool, seed: u64) {
    let storage = common::Instrumented::new();
    let pool = Arc::new(BufferPool::builder().frames(16).build().unwrap());
    let f = pool.open_storage(storage.clone()).unwrap();
    for n in 0..PAGES {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Stops the readers however this function ends (a panic included).
    let _stop_readers = StopOnDrop(stop.clone());
    let (done_tx, done_rx) = std::sync::mpsc::channel::<u64>();
    for r in 0..READERS {
        let (pool, stop, done_tx) = (pool.clone(), stop.clone(), done_tx.clone());
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed ^ r as u64);
            let mut reads = 0u64;
            while !stop.load(SeqCst) {
                let n = rng.random_range(0..PAGES);
                match pool.read(PageId::new(f, n)) {
                    Ok(g) => {
                        common::check_page(&g, n);
                        reads += 1;
                    }
                    Err(e) => panic!("read of page {n}: {e:?}"),
                }
            }
            let _ = done_tx.send(reads);
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut freed = Vec::new();
    for round in 0..400u64 {
        let n = rng.random_range(0..PAGES);
        if !freed.contains(&n) {
            match pool.free_page(PageId::new(f, n)) {
                Ok(()) => {
                    freed.push(n);
                    // Freed for every thread from here: a reader's concurrent load left no copy that takes write
                    // guards (P1).
                    match pool.write(PageId::new(f, n)) {
                        Err(Error::PageFreed { .. }) => {}
                        other => panic!("seed {seed}: write of freed page {n}: {:?}", other.map(drop)),
                    }
                }
                Err(Error::PageLatched { .. }) => {}
                Err(e) => panic!("free_page({n}): {e:?}"),
            }
        }
        if reuse && !freed.is_empty() && rng.random_bool(0.5) {
            let mut g = pool.new_page(f).expect("new_page reusing a freed page");
            let n = g.page_id().page_no();
            assert!(g.iter().all(|&b| b == 0), "a reused page starts zeroed");
            freed.retain(|&m| m != n);
            common::fill_page(&mut g, n, round + 2);
        }
        if round % 50 == 0 {
            pool.checkpoint().unwrap();
        }
        std::thread::yield_now();
    }
    stop.store(true, SeqCst);
    for _ in 0..READERS {
        // A reader that failed dropped its sender; one that hangs on a latch trips the watchdog.
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("seed {seed}: a reader failed or hung: {e:?}"));
    }
    // No latch left held: every page write-latched from a fresh thread, under a watchdog.
    let (tx, rx) = std::sync::mpsc::channel();
    let p = pool.clone();
    std::thread::spawn(move || {
        for n in 0..PAGES {
            // A page still on the free list refuses write guards (issue 17); any other error is a failure.
            match p.write(PageId::new(f, n)) {
                Ok(_) | Err(bufpool::Error::PageFreed { .. }) => {}
                Err(e) => panic!("write of page {n}: {e}"),
            }
        }
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "seed {seed}: a latch is held"
    );
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0, "seed {seed}");
    pool.drop_file(f).unwrap();
    let st = pool.stats();
    assert_eq!(
        (st.resident, st.dirty),
        (0, 0),
        "seed {seed}: pages left after drop_file"
    );
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// Runs `run(reuse, seed)` for a few seeds on its own thread: a hang (the freeing thread waiting on a latch
/// held forever) fails the test after 60 s instead of hanging it.
fn seeds_under_watchdog(reuse: bool) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for seed in 0..4 {
            run(reuse, seed);
        }
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("hung for 60 s (a latch is held)"),
        Err(e) => panic!("failed: {e:?} (see the panic above)"),
    }
}

#[test]
fn free_page_against_readers() {
    seeds_under_watchdog(false);
}

/// Reuse of a page that a reader has just read back after `free_page` takes `new_page`'s fallback: F2.
#[test]
fn free_and_reuse_against_readers() {
    seeds_under_watchdog(true);
}
