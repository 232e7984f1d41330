//! Hit counts of two pools in one process, by more threads than there are owned stripes, in waves that exit and
//! start again (review23, session 22's hit path: the `const` thread-local stripe index and the fixed stripe array
//! of `stats.rs`, the lookup handing over its header in `table.rs`). A thread's stripe index is the process's, not
//! a pool's: the same index counts its hits in both pools, and a thread that takes a slot an exited one gave back
//! continues that stripe in both. Every read of a resident page (shared, exclusive, optimistic) is one hit of its
//! pool and of its file, exactly; misses and reads do not move. Passes on main.

use std::sync::Barrier;

use bufpool::{BufferPool, FileId, MemoryStorage, PageId};

const PAGES: u32 = 32;

fn pool_with_file() -> (BufferPool, FileId) {
    let pool = BufferPool::builder().frames(128).build().unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..PAGES {
        drop(pool.new_page(f).unwrap());
    }
    pool.checkpoint().unwrap();
    (pool, f)
}

#[test]
fn hits_of_two_pools_by_waves_of_threads_add_up_exactly() {
    let (a, fa) = pool_with_file();
    let (b, fb) = pool_with_file();
    let before = (a.stats(), b.stats());
    let hits_before = (
        a.file_stats(fa).unwrap().hits.unwrap(),
        b.file_stats(fb).unwrap().hits.unwrap(),
    );
    // Waves of 80 threads (more than the 64 owned stripes), all alive at once within a wave.
    const WAVES: u64 = 4;
    const THREADS: u64 = 80;
    const READS: u64 = 300;
    for wave in 0..WAVES {
        let barrier = Barrier::new(THREADS as usize);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (a, b, barrier) = (&a, &b, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    for n in 0..READS {
                        let no = ((t + n + wave) % PAGES as u64) as u32;
                        // Pool A: shared and optimistic; pool B: optimistic and exclusive.
                        match n % 2 {
                            0 => drop(a.read(PageId::new(fa, no)).unwrap()),
                            _ => a.read_optimistic(PageId::new(fa, no), |_| ()).unwrap(),
                        }
                        match n % 3 {
                            0 => drop(b.write(PageId::new(fb, no)).unwrap()),
                            _ => b.read_optimistic(PageId::new(fb, no), |_| ()).unwrap(),
                        }
                    }
                });
            }
        });
    }
    let total = WAVES * THREADS * READS;
    for (pool, file, before, hits_before) in [(&a, fa, &before.0, hits_before.0), (&b, fb, &before.1, hits_before.1)] {
        let now = pool.stats();
        assert_eq!(now.hits - before.hits, total, "{now}");
        assert_eq!((now.misses, now.reads), (before.misses, before.reads), "{now}");
        assert_eq!(pool.file_stats(file).unwrap().hits.unwrap() - hits_before, total);
    }
}
