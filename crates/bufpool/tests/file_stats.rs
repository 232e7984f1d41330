//! Operator statistics (issue 12): hits, misses, reads and writes per file. Two files in one pool, each with a
//! known pattern of requests, report exactly their own counts, in `file_stats` and in `stats().files`; their hits
//! add up to the pool's. A third file whose id shares the first one's hit slot (ids equal modulo 256) makes both
//! report their hits as unknown, never as each other's.

use crate::common;

use bufpool::{BufferPool, FileId, PageId};

#[test]
fn each_file_counts_its_own_hits_misses_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, b_path) = (dir.path().join("a"), dir.path().join("b"));
    {
        let pool = BufferPool::builder().frames(16).build().unwrap();
        for path in [&a_path, &b_path] {
            let f = pool.open_file(path).unwrap();
            for n in 0..4 {
                common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
            }
        }
        pool.close().unwrap();
    }

    let pool = BufferPool::builder().frames(16).build().unwrap();
    let a = pool.open_file_as(FileId(3), &a_path).unwrap();
    let b = pool.open_file_as(FileId(4), &b_path).unwrap();
    // a: every page read twice (4 misses then 4 hits), then once optimistically (4 more hits).
    for _ in 0..2 {
        for n in 0..4 {
            assert_eq!(common::check_page(&pool.read(PageId::new(a, n)).unwrap(), n), 1);
        }
    }
    for n in 0..4 {
        pool.read_optimistic(PageId::new(a, n), |_| ()).unwrap();
    }
    // b: page 0 five times (1 miss, 4 hits); page 1 changed and flushed (1 miss, 1 write).
    for _ in 0..5 {
        drop(pool.read(PageId::new(b, 0)).unwrap());
    }
    common::fill_page(&mut pool.write(PageId::new(b, 1)).unwrap(), 1, 2);
    pool.flush(PageId::new(b, 1)).unwrap();

    let fa = pool.file_stats(a).unwrap();
    assert_eq!((fa.hits, fa.misses, fa.reads, fa.writes), (Some(8), 4, 4, 0), "{fa}");
    assert_eq!(fa.hit_ratio(), Some(8.0 / 12.0));
    let fb = pool.file_stats(b).unwrap();
    assert_eq!((fb.hits, fb.misses, fb.reads, fb.writes), (Some(4), 2, 2, 1), "{fb}");
    let st = pool.stats();
    assert_eq!(st.files, vec![fa.clone(), fb.clone()]);
    assert_eq!(st.hits, 8 + 4, "{st}");
    assert_eq!((st.misses, st.reads, st.writes), (6, 6, 1), "{st}");
    assert!(
        st.to_string()
            .contains("hits 8, misses 4, pages read 4, pages written 0"),
        "{st}"
    );

    // A file whose id shares a's hit slot: a's and its hits cannot be told apart, so both are unknown; b keeps
    // its own. Misses, reads and writes stay exact.
    let c = pool
        .open_storage_as(FileId(3 + 256), bufpool::MemoryStorage::new())
        .unwrap();
    common::fill_page(&mut pool.new_page(c).unwrap(), 0, 1);
    drop(pool.read(PageId::new(c, 0)).unwrap());
    let (fa, fb, fc) = (
        pool.file_stats(a).unwrap(),
        pool.file_stats(b).unwrap(),
        pool.file_stats(c).unwrap(),
    );
    assert_eq!((fa.hits, fa.misses, fa.reads), (None, 4, 4), "{fa}");
    assert_eq!(fc.hits, None, "{fc}");
    assert_eq!(fb.hits, Some(4), "{fb}");
    assert!(fa.to_string().contains("hits unknown"), "{fa}");
    assert_eq!(pool.stats().hits, 8 + 4 + 1);
    assert!(pool.file_stats(FileId(99)).is_err());
}
