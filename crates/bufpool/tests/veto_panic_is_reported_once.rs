//! A panic of the eviction veto is reported by the miss that ran it, and only by it (R33-5 in RELIABILITY.md).
//!
//! The veto runs inside the victim search (`try_take` -> `evictable`), which catches its panic and keeps it in a
//! thread-local slot for the miss to report. The miss took it out only when the search found a victim (or at the
//! start of its next search): a search that found none (every other frame vetoed: `AllProtected`; or latched:
//! `PoolExhausted`) returned its own error and left the panic in the slot, and the thread's next miss, in any pool,
//! failed at once with that old `Panicked`, though its own veto had not panicked and a frame was free to take.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

/// A two-frame pool whose veto protects page 0 and panics on page 1 while `panicking` (set once the pool is
/// ready), and its file of 4 pages (pages 0 and 1 resident).
fn vetoed_pool(panicking: &Arc<AtomicBool>) -> (BufferPool, bufpool::FileId) {
    panicking.store(false, SeqCst);
    let p = panicking.clone();
    let pool = BufferPool::builder()
        .frames(2)
        .eviction_veto(move |page: PageId| match page.page_no() {
            0 => true,
            1 if p.load(SeqCst) => panic!("a veto that panics"),
            _ => false,
        })
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..4u8 {
        pool.new_page(file).unwrap()[0] = n;
    }
    pool.flush_file(file).unwrap();
    for n in 0..2 {
        drop(pool.read(PageId::new(file, n)).unwrap());
    }
    panicking.store(true, SeqCst);
    (pool, file)
}

#[test]
fn a_veto_panic_met_by_a_miss_that_found_no_victim_is_not_reported_by_the_next_miss() {
    let panicking = Arc::new(AtomicBool::new(true));
    let (pool, file) = vetoed_pool(&panicking);
    let first = pool.read(PageId::new(file, 2)).map(|g| g[0]);
    // The miss that ran the veto reports its panic (before the fix: `AllProtected`, the panic kept).
    assert!(matches!(first, Err(Error::Panicked { .. })), "{first:?}");
    // The veto no longer panics: page 1's frame may be taken.
    panicking.store(false, SeqCst);
    let second = pool.read(PageId::new(file, 3)).map(|g| g[0]);
    assert_eq!(
        second.unwrap(),
        3,
        "the next miss reported the earlier miss's veto panic"
    );
}

#[test]
fn a_veto_panic_of_one_pool_is_not_reported_by_another_pools_miss() {
    let panicking = Arc::new(AtomicBool::new(true));
    let (pool, file) = vetoed_pool(&panicking);
    let _ = pool.read(PageId::new(file, 2));
    // Another pool, on the same thread, with no veto at all.
    let other = BufferPool::builder().frames(1).build().unwrap();
    let f = other.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..2u8 {
        other.new_page(f).unwrap()[0] = n;
    }
    let got = other.read(PageId::new(f, 0)).map(|g| g[0]);
    assert_eq!(got.unwrap(), 0, "another pool's miss reported this pool's veto panic");
}

/// R34-22: a panic of the veto in the background writer's victim search (it keeps `free_frames_target` frames
/// free) stayed in the writer thread's slot, which no miss of that thread ever takes: it was never reported. Now
/// the writer keeps it for the page's file, and the file's next flush returns it, once, as the writer's other
/// errors are returned; the page stays protected meanwhile.
#[test]
fn a_veto_panic_in_the_background_writer_is_reported_by_the_files_next_flush() {
    use bufpool::WriterConfig;
    use std::sync::atomic::AtomicU64;
    use std::time::{Duration, Instant};
    let (panicking, asked) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let (p, a) = (panicking.clone(), asked.clone());
    let pool = BufferPool::builder()
        .frames(8)
        .eviction_veto(move |page: PageId| {
            if p.load(SeqCst) && page.page_no() == 0 {
                a.fetch_add(1, SeqCst);
                panic!("a veto that panics in the writer");
            }
            false
        })
        .background_writer(WriterConfig {
            interval: Duration::from_millis(1),
            free_frames_target: 8,
            dirty_ratio_max: 1.0,
            pages_per_sec_max: 0,
            batch_pages: 8,
        })
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    pool.new_page(file).unwrap()[0] = 7;
    pool.flush_file(file).unwrap();
    drop(pool.read(PageId::new(file, 0)).unwrap());
    panicking.store(true, SeqCst);
    // Asked twice: the writer's first round that met the panic has ended (it records its errors at its end).
    let start = Instant::now();
    while asked.load(SeqCst) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the writer never asked the veto"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    panicking.store(false, SeqCst);
    match pool.flush_file(file) {
        Err(Error::Panicked { what, message }) => {
            assert_eq!(what, "eviction veto");
            assert_eq!(&*message, "a veto that panics in the writer");
        }
        other => panic!("the writer's veto panic was not reported: {other:?}"),
    }
    pool.flush_file(file).unwrap();
    assert_eq!(pool.read(PageId::new(file, 0)).unwrap()[0], 7);
}
