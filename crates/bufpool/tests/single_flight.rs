//! Eight threads ask for one page that is not resident, all at once. The read is slow (the storage sleeps), so
//! they all arrive while it is in flight: exactly one read may reach storage, and all eight see the page.

use crate::common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Barrier;

use bufpool::{BufferPool, PageId};

#[test]
fn eight_threads_one_read() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, 0, 5);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = PageId::new(file, 0);
    storage.reads.store(0, SeqCst);
    storage.read_delay_ms.store(200, SeqCst);
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                let g = pool.read(page).unwrap();
                assert_eq!(common::check_page(&g, 0), 5);
            });
        }
    });
    assert_eq!(
        storage.reads.load(SeqCst),
        1,
        "single flight: one read for eight requests"
    );
    let st = pool.stats();
    assert_eq!(st.misses, 1);
    assert_eq!(st.hits, 7);
}

#[test]
fn a_failed_load_wakes_every_waiter_with_its_error() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    drop(pool.new_page(file).unwrap());
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    storage.reads.store(0, SeqCst);
    storage.read_delay_ms.store(200, SeqCst);
    storage.fail_reads.store(true, SeqCst);
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                let e = pool.read(PageId::new(file, 0)).unwrap_err();
                assert!(matches!(e, bufpool::Error::Io { op: "read", .. }), "{e}");
            });
        }
    });
    assert_eq!(storage.reads.load(SeqCst), 1, "one failed read, eight errors");
    let st = pool.stats();
    assert_eq!(st.resident, 0, "the failed frame went back to the free list");
    storage.fail_reads.store(false, SeqCst);
    storage.read_delay_ms.store(0, SeqCst);
    assert!(
        pool.read(PageId::new(file, 0)).is_ok(),
        "the page loads once the device recovers"
    );
}
