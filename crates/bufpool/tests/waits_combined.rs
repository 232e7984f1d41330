//! Combinations of session 9's waits that no test walked before (the review of session 9's code, R10 in
//! RELIABILITY.md): they passed on main when written, and pin what must keep holding.
//!
//! - A panic unwinding through several read guards, more than the thread's list holds, leaves no entry behind:
//!   every page can be written afterwards (a leftover entry would make that `HeldByCaller`).
//! - Upgrade and downgrade chains past the list's size keep the detection of the listed guards and never report
//!   a frame the thread no longer holds.
//! - A reader parked on a page's latch while another thread drops the page's file wakes and gets an answer (the
//!   page, or `FileNotOpen`), and the drop goes through: nobody is left parked on a frame that became free.
//! - A read guard held while closing, flushing or checkpointing *another* file does not get in the way.
//! - A thread that panics holding a write guard releases it on the way out and wakes every thread parked on it.
//!
//! Each scenario runs on a thread of its own with a 10 s bound (a hang), as in `held_by_caller_shared.rs`.

use crate::common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId};
use common::within;

/// A pool with one file of `pages` pages, written and checkpointed.
fn pool_with(frames: usize, pages: u32) -> (Arc<BufferPool>, FileId) {
    let pool = Arc::new(BufferPool::builder().frames(frames).build().unwrap());
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for i in 0..pages {
        pool.new_page(file).unwrap()[0] = i as u8 + 1;
    }
    pool.checkpoint().unwrap();
    (pool, file)
}

fn held(r: bufpool::Result<impl Sized>, page: PageId, call: &str) {
    match r {
        Err(Error::HeldByCaller { page: p }) => assert_eq!(p, page, "{call} names the page"),
        Err(e) => panic!("{call}: {e} (expected HeldByCaller)"),
        Ok(_) => panic!("{call} succeeded under the caller's own guard"),
    }
}

#[test]
fn a_panic_unwinding_through_many_read_guards_leaves_no_entry_behind() {
    within("panic through 20 read guards", || {
        let (pool, file) = pool_with(64, 24);
        let pages: Vec<PageId> = (0..24).map(|n| PageId::new(file, n)).collect();
        let outer: Vec<_> = pages[..4].iter().map(|&p| pool.read(p).unwrap()).collect();
        let r = catch_unwind(AssertUnwindSafe(|| {
            // Taken in one order, some twice, then the panic drops them in reverse.
            let _guards: Vec<_> = pages[4..24]
                .iter()
                .chain(&pages[4..8])
                .map(|&p| pool.read(p).unwrap())
                .collect();
            panic!("a visitor fails");
        }));
        assert!(r.is_err());
        // The guards from before the panic are still listed and detected.
        for &p in &pages[..4] {
            held(pool.write(p), p, "write under a guard taken before the panic");
        }
        drop(outer);
        for &p in &pages {
            pool.write(p).unwrap()[1] = 1;
        }
    });
}

#[test]
fn upgrade_and_downgrade_chains_past_the_list_keep_it_true() {
    within("upgrade/downgrade chains with 20 guards", || {
        let (pool, file) = pool_with(64, 20);
        let pages: Vec<PageId> = (0..20).map(|n| PageId::new(file, n)).collect();
        let mut guards: Vec<_> = pages.iter().map(|&p| Some(pool.read(p).unwrap())).collect();
        // Each guard goes up and down three times, in an order unlike the one taken; the list was full before
        // the first went up, so some come back listed and some not.
        for round in 0..3 {
            for i in (0..20).rev().step_by(2).chain((0..20).step_by(2)) {
                let r = guards[i].take().unwrap();
                let mut w = r.try_upgrade().unwrap_or_else(|_| panic!("sole holder of page {i}"));
                w[2] = round;
                held(pool.read(pages[i]), pages[i], "read under one's own upgraded guard");
                guards[i] = Some(w.downgrade());
            }
        }
        // Still holding every page shared: the first 16 were listed before the list filled, and each went up
        // and came back down listed again, so they are still detected (the last four never were: a write of one
        // of those would wait for ever, the documented limit).
        for &p in &pages[..16] {
            held(pool.write(p), p, "write under a downgraded guard");
        }
        for (i, g) in guards.iter_mut().enumerate() {
            *g = None;
            pool.write(pages[i]).unwrap();
        }
    });
}

#[test]
fn a_reader_parked_on_a_page_whose_file_is_dropped_wakes_and_the_drop_goes_through() {
    within("parked reader, file dropped", || {
        for _ in 0..3 {
            let (pool, file) = pool_with(8, 2);
            let page = PageId::new(file, 1);
            let (held_tx, held_rx) = mpsc::channel();
            let writer = {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut g = pool.write(page).unwrap();
                    held_tx.send(()).unwrap();
                    // Long enough for the reader to spin, yield and park.
                    std::thread::sleep(Duration::from_millis(100));
                    g[0] = 42;
                })
            };
            held_rx.recv().unwrap();
            let reader = {
                let pool = pool.clone();
                std::thread::spawn(move || match pool.read(page) {
                    Ok(g) => assert_eq!(g[0], 42, "the writer's change"),
                    Err(Error::FileNotOpen(f)) => assert_eq!(f, file),
                    Err(e) => panic!("read of a page whose file is dropped: {e}"),
                })
            };
            std::thread::sleep(Duration::from_millis(20));
            pool.drop_file(file).unwrap();
            writer.join().unwrap();
            reader.join().unwrap();
            assert!(matches!(pool.read(page), Err(Error::FileNotOpen(_))));
            assert_eq!(pool.stats().resident, 0, "no frame left behind");
        }
    });
}

#[test]
fn a_read_guard_does_not_stop_closing_flushing_or_checkpointing_another_file() {
    within("read guard on file A, close of file B", || {
        let (pool, a) = pool_with(16, 2);
        let b = pool.open_storage(MemoryStorage::new()).unwrap();
        pool.new_page(b).unwrap()[0] = 9;
        let mine = pool.read(PageId::new(a, 0)).unwrap();
        pool.write(PageId::new(a, 1)).unwrap()[0] = 8;
        pool.checkpoint().unwrap();
        pool.flush_file(b).unwrap();
        pool.close_file(b).unwrap();
        held(pool.close_file(a), PageId::new(a, 0), "close of the guard's own file");
        assert_eq!(mine[0], 1);
        drop(mine);
        pool.close_file(a).unwrap();
    });
}

#[test]
fn a_thread_that_panics_holding_a_write_guard_wakes_the_threads_parked_on_it() {
    within("panic under a write guard, parked waiters", || {
        let (pool, file) = pool_with(8, 1);
        let page = PageId::new(file, 0);
        let (held_tx, held_rx) = mpsc::channel();
        let panicker = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut g = pool.write(page).unwrap();
                g[0] = 77;
                held_tx.send(()).unwrap();
                // Long enough for the waiters to park.
                std::thread::sleep(Duration::from_millis(100));
                panic!("the engine fails while holding the page");
            })
        };
        held_rx.recv().unwrap();
        let waiters: Vec<_> = (0..3)
            .map(|k| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    if k == 0 {
                        pool.write(page).unwrap()[1] = 1;
                    } else {
                        assert_eq!(pool.read(page).unwrap()[0], 77, "what the guard wrote before the panic");
                    }
                })
            })
            .collect();
        assert!(panicker.join().is_err());
        for w in waiters {
            w.join().unwrap();
        }
        assert!(pool.held_latches().is_empty(), "no latch left behind");
    });
}
