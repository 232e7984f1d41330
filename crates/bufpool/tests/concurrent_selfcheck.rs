//! 2 and 8 threads on overlapping pages, through a pool much smaller than the data, mixing shared reads,
//! optimistic reads and exclusive writes. Every page carries a self-check (page number + generation + fill) that
//! is verified on every access: a torn read, a lost write, or a page served from the wrong frame fails it. At the
//! end, each page's generation must equal the number of writes made to it (no lost update), including after a
//! checkpoint and a reload through a fresh pool.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use bufpool::{BufferPool, FileId, PageId};
use rand::{Rng, SeedableRng};

fn run(threads: usize, ops_per_thread: usize) {
    const PAGES: u32 = 256;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let pool = BufferPool::builder().frames(48).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    for n in 0..PAGES {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 0);
    }
    let writes: Vec<AtomicU64> = (0..PAGES).map(|_| AtomicU64::new(0)).collect();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (pool, writes) = (&pool, &writes);
            s.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                for _ in 0..ops_per_thread {
                    // Overlapping: a hot quarter of the pages gets half the accesses.
                    let n = if rng.random_bool(0.5) {
                        rng.random_range(0..PAGES / 4)
                    } else {
                        rng.random_range(0..PAGES)
                    };
                    let page = PageId::new(file, n);
                    match rng.random_range(0..10) {
                        0..=2 => {
                            let mut g = pool.write(page).unwrap();
                            let generation = common::check_page(&g, n);
                            common::fill_page(&mut g, n, generation + 1);
                            writes[n as usize].fetch_add(1, SeqCst);
                        }
                        3..=5 => {
                            let g = pool.read(page).unwrap();
                            common::check_page(&g, n);
                        }
                        _ => {
                            let ok = pool
                                .read_optimistic(page, |v| {
                                    // Copy first (the copy may be torn), check after validation.
                                    v.to_vec()
                                })
                                .unwrap();
                            common::check_page(&ok, n);
                        }
                    }
                }
            });
        }
    });
    for n in 0..PAGES {
        let g = pool.read(PageId::new(file, n)).unwrap();
        assert_eq!(
            common::check_page(&g, n),
            writes[n as usize].load(SeqCst),
            "page {n}: a write was lost"
        );
    }
    let s = pool.stats();
    assert!(s.evictions > 0 && s.misses > 0, "the pool was under pressure");
    pool.checkpoint().unwrap();
    drop(pool);
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file2 = pool.open_file_as(FileId(9), &path).unwrap();
    for n in 0..PAGES {
        let g = pool.read(PageId::new(file2, n)).unwrap();
        assert_eq!(common::check_page(&g, n), writes[n as usize].load(SeqCst));
    }
}

#[test]
fn two_threads() {
    run(2, 20_000);
}

#[test]
fn eight_threads() {
    run(8, 5_000);
}
