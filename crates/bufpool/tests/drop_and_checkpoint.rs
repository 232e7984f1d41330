//! `drop_file` discards cached pages without writing them; after `checkpoint`, a new pool over the same file reads
//! everything back; `close` makes everything durable.

use crate::common;

use bufpool::{BufferPool, PageId};

#[test]
fn drop_file_discards_unwritten_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let pool = BufferPool::builder().frames(32).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    for n in 0..10 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    for n in 0..10 {
        common::fill_page(&mut pool.write(PageId::new(file, n)).unwrap(), n, 2);
    }
    let writes = pool.stats().writes;
    pool.drop_file(file).unwrap();
    assert_eq!(pool.stats().writes, writes, "dropping writes nothing");
    assert_eq!(pool.stats().resident, 0);
    let file = pool.open_file(&path).unwrap();
    for n in 0..10 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
    }
}

#[test]
fn checkpoint_then_fresh_pool_reads_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    {
        let pool = BufferPool::builder().frames(16).build().unwrap();
        let file = pool.open_file(&path).unwrap();
        for n in 0..200 {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 3);
        }
        pool.checkpoint().unwrap();
        // Dropping the pool writes nothing more; the checkpoint already made everything durable.
    }
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    assert_eq!(pool.file_pages(file).unwrap(), 200);
    for n in (0..200).rev() {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 3);
    }
}

#[test]
fn close_makes_everything_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    for n in 0..20 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 4);
    }
    pool.close().unwrap();
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    for n in 0..20 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 4);
    }
    pool.close_file(file).unwrap();
    assert!(pool.read(PageId::new(file, 0)).is_err());
}
