//! Dirty pages of a failed file pin their frames (issue 19). They can be neither written nor evicted (they would
//! be lost), so with a small pool every other miss failed with `PoolExhausted` "all N frames are latched or
//! protected", though nothing was latched. The error now says how many frames failed files hold and what to do;
//! `drop_file` of the failed file frees them.

mod common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, Error, MemoryStorage, PageId};

#[test]
fn exhaustion_by_a_failed_files_dirty_pages_says_so_and_drop_file_frees_them() {
    let bad = Arc::new(FaultyStorage::new(9, FaultConfig::none()));
    let pool = BufferPool::builder().frames(4).build().unwrap();
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
