//! Write-back paths beyond a single page: checkpoints coalesce consecutive dirty pages into one write; a spread
//! checkpoint writes the same pages while other threads work; the background writer keeps free frames ready and
//! the dirty ratio down, surfaces its errors to the next caller, never marks an unwritten page clean, and stops
//! when the pool is dropped.

use crate::common;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use bufpool::{BufferPool, Error, PageId, WriterConfig};

#[test]
fn checkpoint_coalesces_consecutive_pages() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(128).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..64 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    assert_eq!(
        storage.writes.load(SeqCst),
        2,
        "64 consecutive pages go out as two 32-page writes"
    );
    assert_eq!(pool.stats().writes, 64);
    // Every other page dirty: no coalescing possible.
    for n in (0..64).step_by(2) {
        common::fill_page(&mut pool.write(PageId::new(file, n)).unwrap(), n, 2);
    }
    pool.checkpoint().unwrap();
    assert_eq!(storage.writes.load(SeqCst), 2 + 32);
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..64 {
        let want = if n % 2 == 0 { 2 } else { 1 };
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), want);
    }
}

#[test]
fn spread_checkpoint_writes_everything_while_readers_run() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(256).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..200 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    std::thread::scope(|s| {
        s.spawn(|| pool.checkpoint_spread(Duration::from_millis(200)).unwrap());
        for _ in 0..2000 {
            let n = rand::random_range(0..200);
            assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
        }
    });
    assert_eq!(pool.stats().dirty, 0);
    assert_eq!(pool.stats().writes, 200);
}

fn writer_config() -> WriterConfig {
    WriterConfig {
        interval: Duration::from_millis(2),
        free_frames_target: 8,
        dirty_ratio_max: 0.25,
        pages_per_sec_max: 0,
        batch_pages: 64,
    }
}

fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn writer_keeps_free_frames_and_the_dirty_ratio_down() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder()
        .frames(64)
        .background_writer(writer_config())
        .build()
        .unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..200 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    assert!(
        wait_for(|| pool.stats().frames - pool.stats().resident >= 8),
        "writer refills the free list"
    );
    assert!(
        wait_for(|| pool.stats().dirty <= 16),
        "writer brings the dirty ratio under 25%"
    );
    // Everything written by the writer or by evictions is intact.
    pool.checkpoint().unwrap();
    for n in 0..200 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
    }
}

#[test]
fn writer_error_surfaces_and_nothing_is_marked_clean() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder()
        .frames(64)
        .background_writer(writer_config())
        .build()
        .unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    storage.fail_writes.store(true, SeqCst);
    for n in 0..40 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    assert!(
        wait_for(|| pool.stats().write_errors > 0),
        "the writer tried and failed"
    );
    let err = pool.checkpoint().unwrap_err();
    assert!(
        matches!(err, Error::Io { op: "write", .. } | Error::FileFailed { .. }),
        "{err}"
    );
    let st = pool.stats();
    assert_eq!(st.dirty, 40, "no page was marked clean");
    assert!(st.files[0].failed);
    for n in 0..40 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
    }
}

#[test]
fn dropping_a_pool_stops_its_threads() {
    for _ in 0..20 {
        let pool = BufferPool::builder()
            .frames(16)
            .io_threads(2)
            .background_writer(writer_config())
            .build()
            .unwrap();
        let file = pool.open_storage(bufpool::MemoryStorage::new()).unwrap();
        drop(pool.new_page(file).unwrap());
        drop(pool); // joins the threads; a hang here fails the test by timeout
    }
}
