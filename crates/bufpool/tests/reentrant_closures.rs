//! The caller's own closures calling back into the pool (session 19, fault19, item 5 of the brief: checked, no
//! defect). `read_many`'s visitor runs with a `ReadGuard` on the page it visits, and `read_optimistic`'s closure
//! with no latch (or, on its fallback, a shared one): a call from them that would wait for the thread's own guard
//! returns `Error::HeldByCaller` at once, never a self-deadlock, and a call that does not wait succeeds. The crate
//! docs state the rule ("must not call back into the pool" is for the pool's callbacks, not these closures).

use std::sync::Arc;

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

use crate::common;

#[test]
fn a_visitor_calling_back_into_the_pool_gets_held_by_caller_or_succeeds() {
    common::within("read_many's visitor calling into the pool", || {
        let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        let pages: Vec<PageId> = (0..4).map(|_| pool.new_page(file).unwrap().page_id()).collect();
        pool.checkpoint().unwrap();
        let mut seen = 0;
        pool.read_many(&pages, |i, guard| {
            let guard = guard.unwrap();
            let page = pages[i];
            // Waits for the visitor's own guard: refused at once.
            assert!(matches!(pool.write(page), Err(Error::HeldByCaller { .. })));
            assert!(matches!(pool.drop_file(file), Err(Error::HeldByCaller { .. })));
            assert!(matches!(pool.close_file(file), Err(Error::HeldByCaller { .. })));
            // A second shared latch and a flush of a clean page wait for nothing.
            drop(pool.read(page).unwrap());
            pool.flush(page).unwrap();
            pool.read_optimistic(page, |v| v.read_u8(0)).unwrap();
            drop(guard);
            seen += 1;
        });
        assert_eq!(seen, pages.len());
        // And the pool is whole: every page write-latched, the file dropped.
        for &p in &pages {
            drop(pool.write(p).unwrap());
        }
        pool.drop_file(file).unwrap();
    });
}

#[test]
fn an_optimistic_closure_calling_back_into_the_pool_does_not_wait_for_itself() {
    common::within("read_optimistic's closure calling into the pool", || {
        let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        let page = pool.new_page(file).unwrap().page_id();
        let other = pool.new_page(file).unwrap().page_id();
        let got = pool
            .read_optimistic(page, |_| {
                // Holds no latch: writes of this page and another succeed (the optimistic read then retries).
                drop(pool.write(other).unwrap());
                pool.flush(other).unwrap();
                pool.read(page).map(|g| g[0])
            })
            .unwrap();
        assert_eq!(got.unwrap(), 0);
        pool.drop_file(file).unwrap();
    });
}
