//! 64 frames serve 10,000 pages: every page is written once, then all are read back in random order. Every
//! byte must survive eviction and reload through a real file, and the evictions must show in the stats.

use crate::common;

use bufpool::{BufferPool, PageId};
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[test]
fn ten_thousand_pages_through_sixty_four_frames() {
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let file = pool.open_file(dir.path().join("data")).unwrap();
    const PAGES: u32 = 10_000;
    for n in 0..PAGES {
        let mut g = pool.new_page(file).unwrap();
        assert_eq!(g.page_id(), PageId::new(file, n));
        common::fill_page(&mut g, n, 1);
    }
    let mut order: Vec<u32> = (0..PAGES).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    for &n in &order {
        let g = pool.read(PageId::new(file, n)).unwrap();
        assert_eq!(common::check_page(&g, n), 1);
    }
    let s = pool.stats();
    // Writing evicts all but the last 64 pages; reading back misses on all but at most 64 of them again.
    assert!(s.evictions >= 2 * (PAGES - 64) as u64, "evictions {}", s.evictions);
    assert!(
        s.dirty_evictions >= (PAGES - 64) as u64,
        "dirty evictions {}",
        s.dirty_evictions
    );
    assert!(s.misses >= (PAGES - 64) as u64);
    assert_eq!(s.corrupt_pages, 0);
    assert!(s.resident <= 64);
    assert_eq!(pool.file_pages(file).unwrap(), PAGES);
}
