//! Engine hooks of the replacement layer. A scan through a `ScanRing` recycles its own few frames, so a hot set
//! read between the scan's pages keeps hitting; the same scan without a ring pushes the hot set out. The eviction
//! veto keeps the pages it protects resident whatever the policy would choose, and counts its refusals.

use crate::common;

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, Error, MemoryStorage, PageId, PolicyKind};

const FRAMES: usize = 64;
const HOT: u32 = 32;
const SCAN: u32 = 640;

/// Returns the hot set's misses while a scan of SCAN cold pages runs, hot reads interleaved.
fn hot_misses_during_scan(policy: PolicyKind, ring: bool) -> u64 {
    let pool = BufferPool::builder().frames(FRAMES).policy(policy).build().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..HOT + SCAN {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage).unwrap();
    // Warm the hot set: every hot page resident and referenced.
    for _ in 0..3 {
        for n in 0..HOT {
            drop(pool.read(PageId::new(file, n)).unwrap());
        }
    }
    let mut scan = pool.scan_ring(8);
    let before = pool.stats().misses;
    let mut scan_misses = 0;
    for (i, n) in (HOT..HOT + SCAN).enumerate() {
        let m0 = pool.stats().misses;
        let g = if ring {
            scan.read(PageId::new(file, n)).unwrap()
        } else {
            pool.read(PageId::new(file, n)).unwrap()
        };
        assert_eq!(common::check_page(&g, n), 1);
        drop(g);
        scan_misses += pool.stats().misses - m0;
        let hot = (i as u32 * 7) % HOT;
        assert_eq!(common::check_page(&pool.read(PageId::new(file, hot)).unwrap(), hot), 1);
    }
    assert_eq!(scan_misses, SCAN as u64, "every scanned page was a miss");
    pool.stats().misses - before - scan_misses
}

#[test]
fn scan_ring_keeps_the_hot_set() {
    for policy in [PolicyKind::Clock, PolicyKind::Lru, PolicyKind::S3Fifo] {
        assert_eq!(
            hot_misses_during_scan(policy, true),
            0,
            "{policy:?}: the ring protected the hot set"
        );
    }
    // Without the ring the same scan costs hot misses under FIFO (which ignores hits): the test can fail.
    assert!(hot_misses_during_scan(PolicyKind::Fifo, false) > 0);
}

#[test]
fn veto_protects_pages_and_counts_refusals() {
    let protected_below = Arc::new(AtomicU32::new(4));
    let p2 = protected_below.clone();
    let pool = BufferPool::builder()
        .frames(8)
        .policy(PolicyKind::Fifo)
        .eviction_veto(move |page| page.page_no() < p2.load(SeqCst))
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..100 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    let st = pool.stats();
    assert!(st.veto_skips > 0);
    let resident: Vec<u32> = (0..4)
        .filter(|&n| pool.read_optimistic(PageId::new(file, n), |_| ()).is_ok())
        .collect();
    assert_eq!(resident.len(), 4);
    assert_eq!(pool.stats().misses, 0, "protected pages never left the pool");
    // Protect everything: a miss has nowhere to go, and says why (no frame is latched: waiting cannot help).
    protected_below.store(u32::MAX, SeqCst);
    assert!(matches!(
        pool.read(PageId::new(file, 50)),
        Err(Error::AllProtected { veto_skips: 1.., .. })
    ));
    protected_below.store(0, SeqCst);
    assert!(pool.read(PageId::new(file, 50)).is_ok());
}
