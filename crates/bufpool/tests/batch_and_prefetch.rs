//! Batched reads and prefetch. `read_many` visits every page once with its own content, resident or not, and
//! reports per-page errors without stopping. `prefetch` returns before the reads are done, never loads a page
//! twice (a `read` arriving during a prefetch waits for it: single flight), and its loads land in the pool.

use crate::common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use bufpool::{BufferPool, Error, PageId};

fn pool_with(pages: u32, frames: usize) -> (BufferPool, Arc<common::Instrumented>, bufpool::FileId) {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(frames).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..pages {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 9);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    storage.reads.store(0, SeqCst);
    (pool, storage, file)
}

#[test]
fn read_many_visits_every_page_once() {
    let (pool, storage, file) = pool_with(300, 128);
    // Some resident, some not, one duplicate, one out of range.
    for n in 0..10 {
        drop(pool.read(PageId::new(file, n)).unwrap());
    }
    let mut pages: Vec<PageId> = (0..100).map(|n| PageId::new(file, n * 3)).collect();
    pages.push(PageId::new(file, 3));
    pages.push(PageId::new(file, 5000));
    let mut seen = vec![0u32; pages.len()];
    pool.read_many(&pages, |i, g| match g {
        Ok(g) => {
            assert_eq!(g.page_id(), pages[i]);
            assert_eq!(common::check_page(&g, pages[i].page_no()), 9);
            seen[i] += 1;
        }
        Err(Error::OutOfRange { .. }) => {
            assert_eq!(i, pages.len() - 1);
            seen[i] += 1;
        }
        Err(e) => panic!("page {i}: {e}"),
    });
    assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
    // 10 were resident (4 of them among the multiples of 3); each other page was read exactly once.
    assert_eq!(storage.reads.load(SeqCst), 10 + 96);
}

#[test]
fn prefetch_then_read_is_one_read_per_page() {
    let (pool, storage, file) = pool_with(64, 128);
    let pages: Vec<PageId> = (0..16).map(|n| PageId::new(file, n)).collect();
    // Reads block until the gate opens, so reaching the assertion proves prefetch did not wait for them. A
    // watchdog opens the gate after 10 s so that a regression fails instead of hanging.
    storage.read_gate_closed.store(true, SeqCst);
    let watchdog_opened = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, w2) = (storage.clone(), watchdog_opened.clone());
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(10));
        w2.store(s2.read_gate_closed.swap(false, SeqCst), SeqCst);
    });
    let started = pool.prefetch(&pages).unwrap();
    assert_eq!(started, 16);
    let gate_was_closed = storage.read_gate_closed.swap(false, SeqCst);
    assert!(
        gate_was_closed && !watchdog_opened.load(SeqCst),
        "prefetch waited for its reads"
    );
    drop(watchdog);
    // Reading right away waits for the prefetch's load instead of reading again.
    for &p in &pages {
        assert_eq!(common::check_page(&pool.read(p).unwrap(), p.page_no()), 9);
    }
    assert_eq!(storage.reads.load(SeqCst), 16);
    assert_eq!(
        pool.prefetch(&pages).unwrap(),
        0,
        "resident pages are not prefetched again"
    );
    assert_eq!(pool.stats().prefetched, 16);
    assert!(matches!(
        pool.prefetch(&[PageId::new(file, 999)]),
        Err(Error::OutOfRange { .. })
    ));
}

#[test]
fn prefetch_without_io_threads_reads_inline() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(32).io_threads(0).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..8 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 2);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    assert_eq!(
        pool.prefetch(&(0..8).map(|n| PageId::new(file, n)).collect::<Vec<_>>())
            .unwrap(),
        8
    );
    assert_eq!(pool.stats().resident, 8);
}

#[test]
fn prefetch_failure_reaches_the_reader() {
    let (pool, storage, file) = pool_with(8, 32);
    storage.fail_reads.store(true, SeqCst);
    storage.read_delay_ms.store(100, SeqCst);
    pool.prefetch(&[PageId::new(file, 1)]).unwrap();
    assert!(matches!(
        pool.read(PageId::new(file, 1)),
        Err(Error::Io { op: "read", .. })
    ));
    storage.fail_reads.store(false, SeqCst);
    storage.read_delay_ms.store(0, SeqCst);
    assert!(pool.read(PageId::new(file, 1)).is_ok());
}

/// Found by the bench (`bench_btree_smoke`: "all 16 frames are latched"): prefetch could reserve the whole pool,
/// and a miss meanwhile failed with `PoolExhausted`. Prefetch now stays within a quarter of the pool across
/// callers, and a miss waits for frames that loads in flight hold.
#[test]
fn prefetch_leaves_frames_for_misses() {
    let (pool, storage, file) = pool_with(200, 16);
    storage.read_delay_ms.store(5, SeqCst);
    let pages: Vec<PageId> = (0..100).map(|n| PageId::new(file, n)).collect();
    let started = pool.prefetch(&pages).unwrap() + pool.prefetch(&pages[50..]).unwrap();
    assert!(started <= 4, "prefetch reserved {started} of 16 frames");
    assert_eq!(common::check_page(&pool.read(PageId::new(file, 150)).unwrap(), 150), 9);
}

#[test]
fn concurrent_batches_on_a_small_pool_never_exhaust_it() {
    let (pool, _storage, file) = pool_with(400, 32);
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let pool = &pool;
            s.spawn(move || {
                let pages: Vec<PageId> = (0..40).map(|n| PageId::new(file, (n * 7 + t * 13) % 400)).collect();
                for _ in 0..5 {
                    pool.read_many(&pages, |i, g| {
                        let g = g.unwrap_or_else(|e| panic!("page {i}: {e}"));
                        assert_eq!(common::check_page(&g, g.page_id().page_no()), 9);
                    });
                }
            });
        }
    });
}

/// The cache hints of batched lookups (`prefetch_lookup`, `prefetch_frame`, `PageView::prefetch`) are hints only:
/// any page id and any length, resident or not, open or not, leave the pool, its storage and its statistics as
/// they were; `prefetch_frame` tells a resident page from the others.
#[test]
fn cache_hints_change_nothing() {
    let (pool, storage, file) = pool_with(40, 32);
    drop(pool.read(PageId::new(file, 1)).unwrap());
    let before = pool.stats();
    let unknown_file = bufpool::FileId(7);
    for page in [
        PageId::new(file, 1),
        PageId::new(file, 2),
        PageId::new(file, 1_000_000),
        PageId::new(unknown_file, 1),
    ] {
        pool.prefetch_lookup(page);
        for bytes in [0, 64, 4096, usize::MAX] {
            assert_eq!(
                pool.prefetch_frame(page, bytes),
                page == PageId::new(file, 1),
                "{page:?}"
            );
        }
    }
    pool.read_optimistic(PageId::new(file, 1), |v| {
        v.prefetch(0, usize::MAX);
        v.prefetch(usize::MAX, usize::MAX);
        v.prefetch(100, 0);
    })
    .unwrap();
    let after = pool.stats();
    assert_eq!(
        (after.misses, after.reads, after.prefetched),
        (before.misses, before.reads, before.prefetched)
    );
    assert_eq!(after.hits, before.hits + 1, "only the optimistic read counts");
    assert_eq!(storage.reads.load(SeqCst), 1);
}

/// Prefetch under read faults in the middle of a batch (R34-O12): one request of eight fails with EIO, another
/// comes back short (`FaultyStorage`'s seeded faults through `Storage::submit`, as a ring returns them). Each page
/// gets its own outcome: the six good pages are in the pool (read again with no storage read), the two failed
/// ones are not kept as valid (the next read goes to storage again and returns the page), and nothing is failed
/// or lost; with and without I/O threads, and in `read_many`.
#[test]
fn prefetch_with_one_failed_and_one_short_read_in_its_batch_keeps_only_the_good_pages() {
    use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
    for io_threads in [0, 1] {
        let storage = Arc::new(FaultyStorage::new(7, FaultConfig::none()));
        let pool = BufferPool::builder().frames(64).io_threads(io_threads).build().unwrap();
        let file = pool.open_storage(storage.clone()).unwrap();
        for n in 0..8 {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 3);
        }
        pool.checkpoint().unwrap();
        pool.drop_file(file).unwrap();
        let mut file = pool.open_storage(storage.clone()).unwrap();
        for batch in ["prefetch", "read_many"] {
            // Nothing resident: every page of the batch is read from storage.
            pool.drop_file(file).unwrap();
            file = pool.open_storage(storage.clone()).unwrap();
            let pages: Vec<PageId> = (0..8).map(|n| PageId::new(file, n)).collect();
            let reads = storage.counts().reads;
            storage.inject_nth(Op::Read, reads + 3, Fault::Eio);
            storage.inject_nth(Op::Read, reads + 6, Fault::Short);
            match batch {
                // A read of a page whose load is in flight waits for it (single flight) and gets its outcome.
                "prefetch" => assert_eq!(pool.prefetch(&pages).unwrap(), 8),
                _ => pool.read_many(&pages, |i, g| {
                    assert_eq!(g.is_err(), i == 2 || i == 5, "read_many: page {i}: {:?}", g.map(|_| ()));
                }),
            }
            let mut failed = Vec::new();
            for (i, &page) in pages.iter().enumerate() {
                match pool.read(page) {
                    Ok(g) => assert_eq!(common::check_page(&g, i as u32), 3, "{batch}, {io_threads} threads"),
                    Err(e) => {
                        assert!(matches!(e, Error::Io { .. } | Error::ShortRead { .. }), "{batch}: {e}");
                        failed.push(i);
                    }
                }
            }
            let after = storage.counts();
            assert_eq!(
                after.read_eio + after.short_reads,
                2 * (1 + (batch == "read_many") as u64)
            );
            // Every page reads now: the failed loads left nothing behind, and each is read once more.
            let before = storage.counts().reads;
            for (i, &page) in pages.iter().enumerate() {
                assert_eq!(
                    common::check_page(&pool.read(page).unwrap(), i as u32),
                    3,
                    "{batch}: page {i}"
                );
            }
            let again = storage.counts().reads - before;
            assert!(
                again <= 2,
                "{batch}: {again} pages read again; only the two failed may be: {failed:?}"
            );
            assert!(!pool.stats().files[0].failed);
        }
    }
}
