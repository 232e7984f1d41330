//! Operator statistics (issue 12): page writes by source (eviction, background writer, checkpoint, flush) add up
//! to all page writes, each path counts under its own name, and `latched` counts the frames latched at the moment
//! of the snapshot.

use crate::common;

use std::time::Duration;

use bufpool::{BufferPool, MemoryStorage, PageId, WriterConfig};

#[test]
fn writes_are_counted_by_source_and_add_up() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    // Eviction: 12 new pages through 8 frames write at least 4 dirty victims.
    for n in 0..12 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    let st = pool.stats();
    assert!(st.dirty_evictions >= 4, "{st}");
    assert_eq!(
        (st.checkpoint_writes, st.flush_writes, st.writer_writes),
        (0, 0, 0),
        "{st}"
    );
    // Flush: one page.
    common::fill_page(&mut pool.write(PageId::new(f, 11)).unwrap(), 11, 2);
    pool.flush(PageId::new(f, 11)).unwrap();
    assert_eq!(pool.stats().flush_writes, 1);
    // Checkpoint: whatever is still dirty.
    let dirty = pool.stats().dirty as u64;
    assert!(dirty > 0);
    pool.checkpoint().unwrap();
    let st = pool.stats();
    assert_eq!(st.checkpoint_writes, dirty, "{st}");
    assert_eq!(
        st.writes,
        st.dirty_evictions + st.writer_writes + st.checkpoint_writes + st.flush_writes,
        "{st}"
    );
    assert!(st.to_string().contains("checkpoint"), "{st}");
}

#[test]
fn the_background_writer_counts_its_own_writes() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 4,
        ..WriterConfig::for_frames(16)
    };
    let pool = BufferPool::builder()
        .frames(16)
        .background_writer(writer)
        .build()
        .unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..16 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    // The writer refills the free list (writing dirty victims) and works the dirty ratio down on its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pool.stats().writer_writes == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer wrote nothing: {}",
            pool.stats()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let st = pool.stats();
    assert_eq!(st.checkpoint_writes + st.flush_writes, 0, "{st}");
}

#[test]
fn latched_counts_the_frames_latched_now() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..4 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    assert_eq!(pool.stats().latched, 0);
    let r1 = pool.read(PageId::new(f, 0)).unwrap();
    let r2 = pool.read(PageId::new(f, 0)).unwrap();
    let w = pool.write(PageId::new(f, 1)).unwrap();
    assert_eq!(pool.stats().latched, 2, "one frame shared twice, one exclusive");
    drop((r1, r2, w));
    assert_eq!(pool.stats().latched, 0);
}
