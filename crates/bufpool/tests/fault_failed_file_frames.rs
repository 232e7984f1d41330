//! Dirty pages of a failed file pin their frames (issue 19). They can be neither written nor evicted (they would
//! be lost), so with a small pool every other miss failed with `PoolExhausted` "all N frames are latched or
//! protected", though nothing was latched. The error now says how many frames failed files hold and what to do;
//! `drop_file` of the failed file frees them. And a failed file now keeps at most `Builder::failed_file_frames`
//! of them (default a quarter of the pool) once other pages need frames: the rest are dropped, counted, and a
//! later read of a dropped page returns `FileFailed`, never the older version on disk.

use crate::common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use std::time::Duration;

use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId, WriterConfig};

#[test]
fn exhaustion_by_a_failed_files_dirty_pages_says_so_and_drop_file_frees_them() {
    let bad = Arc::new(FaultyStorage::new(9, FaultConfig::none()));
    // Keep every unwritable page: the behaviour without the bound.
    let pool = BufferPool::builder().frames(4).failed_file_frames(4).build().unwrap();
    let f = pool.open_storage(bad.clone()).unwrap();
    let g = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..4 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    bad.inject_next(Op::Write, Fault::EioPersistent);
    assert!(pool.flush_file(f).is_err());
    assert!(pool.stats().files[0].failed);
    let err = pool.new_page(g).map(|w| w.page_id()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PoolExhausted {
                frames: 4,
                failed_file_pages: 4
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("failed files"), "{err}");
    // The failed file's pages can still be read out...
    assert_eq!(common::check_page(&pool.read(PageId::new(f, 2)).unwrap(), 2), 1);
    // ...and closing it fails (its dirty pages cannot be written), while dropping it frees the frames.
    assert!(pool.close_file(f).is_err());
    pool.drop_file(f).unwrap();
    common::fill_page(&mut pool.new_page(g).unwrap(), 0, 1);
    pool.checkpoint().unwrap();
}

/// Fails file `f` (16 dirty pages, version 1) in a 16-frame pool; returns the pool, `f` and a healthy file.
fn pool_with_a_failed_file(writer: Option<WriterConfig>) -> (BufferPool, FileId, FileId) {
    let bad = Arc::new(FaultyStorage::new(10, FaultConfig::none()));
    let mut b = BufferPool::builder().frames(16);
    if let Some(w) = writer {
        b = b.background_writer(w);
    }
    let pool = b.build().unwrap();
    let f = pool.open_storage(bad.clone()).unwrap();
    let g = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..16 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    bad.inject_next(Op::Write, Fault::EioPersistent);
    assert!(pool.flush_file(f).is_err());
    assert!(pool.stats().files[0].failed);
    (pool, f, g)
}

/// Pages of `f` that still read their version; the others must fail with `FileFailed`.
fn readable_pages(pool: &BufferPool, f: FileId) -> usize {
    (0..16)
        .filter(|&n| match pool.read(PageId::new(f, n)) {
            Ok(page) => {
                assert_eq!(common::check_page(&page, n), 1);
                true
            }
            Err(Error::FileFailed { .. }) => false,
            Err(e) => panic!("page {n}: {e}"),
        })
        .count()
}

#[test]
fn a_failed_file_keeps_at_most_its_bound_and_the_rest_of_the_pool_serves_other_files() {
    let (pool, f, g) = pool_with_a_failed_file(None);
    // Without the bound all 16 frames were pinned and this failed at once. Default bound: 16 / 4 = 4 frames.
    for n in 0..12 {
        common::fill_page(&mut pool.new_page(g).unwrap(), n, 1);
    }
    let st = pool.stats();
    assert_eq!(st.failed_pages_dropped, 12, "{st}");
    assert_eq!(
        st.dirty, 16,
        "4 kept pages of the failed file and 12 of the healthy one"
    );
    // The healthy file's pages cycle through the rest of the pool, and are never dropped.
    for n in 12..40 {
        common::fill_page(&mut pool.new_page(g).unwrap(), n, 1);
    }
    assert_eq!(pool.stats().failed_pages_dropped, 12);
    pool.flush_file(g).unwrap();
    for n in 0..40 {
        assert_eq!(common::check_page(&pool.read(PageId::new(g, n)).unwrap(), n), 1);
    }
    // Reading out the failed file: some kept pages may have been evicted meanwhile? No: they are unwritable and
    // within the bound, so exactly 4 still read their version; the 12 dropped ones say FileFailed.
    assert_eq!(readable_pages(&pool, f), 4);
    pool.drop_file(f).unwrap();
    pool.checkpoint().unwrap();
}

#[test]
fn the_background_writer_drops_beyond_the_bound_without_writing() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 8,
        ..WriterConfig::for_frames(16)
    };
    let (pool, f, _g) = pool_with_a_failed_file(Some(writer));
    // The writer may have met the injected EIO itself (it writes concurrently with the flush): take that error.
    let _ = pool.checkpoint_report();
    // The writer refills the free list from the failed file's excess pages: no write is tried, no error kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pool.stats().failed_pages_dropped < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never freed frames: {}",
            pool.stats()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let report = pool.checkpoint_report();
    assert!(
        report.background.is_none(),
        "the writer tried the failed file again: {:?}",
        report.background
    );
    let kept = readable_pages(&pool, f);
    assert!((4..=8).contains(&kept), "{kept} pages kept");
}
