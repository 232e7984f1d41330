//! The stale-write check's table bounded (R23-10 in RELIABILITY.md; `written.rs`): a write near the last page
//! number a file can have costs one chunk, not a vector up to it; the table never grows past
//! `Builder::stale_check_pages`; every dropped write of a page the table keeps is caught; beyond the bound the
//! chunk the clock passes unwritten is forgotten (counted, and its dropped writes no longer caught) and a later
//! write of one of its pages is noted again and its drop caught; 0 turns the check off; bad bounds are refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;

use bufpool::storage::{Storage, StorageInfo};
use bufpool::{BufferPool, CorruptReason, Error, FileId, PageId, PolicyKind};
use parking_lot::Mutex;

const PAGE: usize = 4096;

/// A sparse device of `pages` pages (only the pages written are kept; the rest read as zeroes) that acknowledges
/// and drops every write while `dropping` is set.
struct Sparse {
    pages: u64,
    written: Mutex<HashMap<u64, Vec<u8>>>,
    dropping: AtomicBool,
}

impl Sparse {
    fn new(pages: u64) -> Arc<Sparse> {
        Arc::new(Sparse {
            pages,
            written: Mutex::new(HashMap::new()),
            dropping: AtomicBool::new(false),
        })
    }
}

impl Storage for Sparse {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.pages * PAGE as u64)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let written = self.written.lock();
        for (i, page) in buf.chunks_mut(PAGE).enumerate() {
            match written.get(&(offset + (i * PAGE) as u64)) {
                Some(bytes) => page.copy_from_slice(bytes),
                None => page.fill(0),
            }
        }
        Ok(buf.len())
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if !self.dropping.load(SeqCst) {
            let mut written = self.written.lock();
            for (i, page) in buf.chunks(PAGE).enumerate() {
                written.insert(offset + (i * PAGE) as u64, page.to_vec());
            }
        }
        Ok(())
    }
    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "sparse",
            direct: false,
        }
    }
}

/// A pool of 8 frames, FIFO (so reading 16 other pages evicts every page), the check kept to `pages` pages.
fn pool(pages: usize) -> BufferPool {
    (BufferPool::builder().frames(8).policy(PolicyKind::Fifo))
        .stale_check_pages(pages)
        .build()
        .unwrap()
}

/// Writes page `no` of `file` with LSN `lsn` and writes it back.
fn write(pool: &BufferPool, file: FileId, no: u32, lsn: u64) {
    let page = PageId::new(file, no);
    {
        let mut g = pool.write(page).unwrap();
        g[0] = lsn as u8;
        g.set_lsn(lsn);
    }
    pool.flush(page).unwrap();
}

/// Evicts every page by reading 16 pages from `from` (read only: reads note nothing).
fn evict_all(pool: &BufferPool, file: FileId, from: u32) {
    for no in from..from + 16 {
        drop(pool.read(PageId::new(file, no)).unwrap());
    }
}

/// The `(lsn read, lsn written)` of a `StaleWrite` refusal of page `no`, or `None` if it read.
fn stale(pool: &BufferPool, file: FileId, no: u32) -> Option<(u64, u64)> {
    match pool.read(PageId::new(file, no)) {
        Ok(_) => None,
        Err(Error::Corrupt {
            page,
            reason: CorruptReason::StaleWrite { lsn, written },
        }) if page.page_no() == no => Some((lsn, written)),
        Err(e) => panic!("page {no}: {e}"),
    }
}

fn table_bytes(pool: &BufferPool) -> usize {
    let s = pool.stats();
    assert_eq!(
        s.written_lsn_bytes,
        s.files.iter().map(|f| f.written_lsn_bytes).sum::<usize>()
    );
    s.written_lsn_bytes
}

#[test]
fn a_write_at_the_last_page_number_costs_one_chunk_and_its_drop_is_caught() {
    let pool = BufferPool::builder()
        .frames(8)
        .policy(PolicyKind::Fifo)
        .build()
        .unwrap();
    let dev = Sparse::new(u64::from(u32::MAX));
    let file = pool.open_storage(dev.clone()).unwrap();
    let last = u32::MAX - 1;
    write(&pool, file, last, 77);
    // One chunk of 64 LSNs and the map's room, not 8 bytes for each of the 2^32 - 1 pages below it (32 GiB: until
    // R23-10 a vector was resized to the page's number, and a failed allocation aborted the process).
    let bytes = table_bytes(&pool);
    assert!((512..4096).contains(&bytes), "the table holds {bytes} bytes");
    assert_eq!(pool.written_lsns(file, 0, 100).unwrap(), vec![(last, 77)]);
    dev.dropping.store(true, SeqCst);
    write(&pool, file, last, 78);
    evict_all(&pool, file, 0);
    assert_eq!(stale(&pool, file, last), Some((77, 78)));
    assert_eq!(pool.stats().written_lsns_dropped, 0);
}

#[test]
fn the_table_never_grows_past_its_bound_and_keeps_the_pages_written_last() {
    let pool = pool(256);
    let file = pool.open_storage(Sparse::new(4096)).unwrap();
    let bound = 256 * 8 + 1024;
    let mut largest = 0;
    for no in 0..2000 {
        write(&pool, file, no, u64::from(no) + 1);
        largest = largest.max(table_bytes(&pool));
        assert!(largest <= bound, "{largest} bytes after page {no}, above {bound}");
    }
    // Four chunks kept: the last four made (each was written in again before the hand came round, so each turn
    // of the clock passes them all once, then forgets the oldest).
    let kept = pool.written_lsns(file, 0, u64::MAX).unwrap();
    assert_eq!(kept, (1792..2000).map(|no| (no, u64::from(no) + 1)).collect::<Vec<_>>());
    assert_eq!(pool.stats().written_lsns_dropped, 1792);
}

#[test]
fn every_page_within_the_bound_is_caught_and_a_forgotten_page_written_again_is_caught_again() {
    let pool = pool(256);
    let dev = Sparse::new(2048);
    let file = pool.open_storage(dev.clone()).unwrap();
    for no in 0..256 {
        write(&pool, file, no, 10);
    }
    dev.dropping.store(true, SeqCst);
    for no in 0..256 {
        write(&pool, file, no, 20);
    }
    evict_all(&pool, file, 1000);
    for no in 0..256 {
        assert_eq!(stale(&pool, file, no), Some((10, 20)), "page {no}");
    }
    // A fifth chunk forgets the first (all four were written in again since made: the hand passes each once).
    dev.dropping.store(false, SeqCst);
    for no in 256..320 {
        write(&pool, file, no, 30);
    }
    assert_eq!(pool.stats().written_lsns_dropped, 64);
    evict_all(&pool, file, 1000);
    for no in 0..64 {
        assert_eq!(
            stale(&pool, file, no),
            None,
            "page {no}: forgotten, its drop not caught"
        );
    }
    for no in 64..256 {
        assert_eq!(stale(&pool, file, no), Some((10, 20)), "page {no}");
    }
    // Written again: noted again (forgetting the next chunk the hand finds unwritten since), its drop caught.
    dev.dropping.store(true, SeqCst);
    write(&pool, file, 0, 40);
    assert_eq!(pool.stats().written_lsns_dropped, 128);
    evict_all(&pool, file, 1000);
    assert_eq!(stale(&pool, file, 0), Some((10, 40)));
    assert_eq!(stale(&pool, file, 64), None, "page 64: forgotten");
    assert_eq!(stale(&pool, file, 128), Some((10, 20)));
}

#[test]
fn zero_turns_the_check_off_and_bounds_below_a_chunk_or_above_a_file_are_refused() {
    for pages in [1, 63, (1 << 32) + 1, usize::MAX] {
        match BufferPool::builder().stale_check_pages(pages).build() {
            Err(Error::InvalidConfig(msg)) => assert!(msg.contains("stale_check_pages"), "{msg}"),
            Err(e) => panic!("{pages}: {e}"),
            Ok(_) => panic!("{pages}: accepted"),
        }
    }
    for pages in [64, 100, 1 << 32] {
        BufferPool::builder()
            .frames(8)
            .stale_check_pages(pages)
            .build()
            .unwrap();
    }
    let pool = pool(0);
    let dev = Sparse::new(64);
    let file = pool.open_storage(dev.clone()).unwrap();
    write(&pool, file, 3, 10);
    dev.dropping.store(true, SeqCst);
    write(&pool, file, 3, 20);
    pool.expect_lsn(PageId::new(file, 5), 30).unwrap();
    evict_all(&pool, file, 32);
    assert_eq!(stale(&pool, file, 3), None, "off: the drop is read as valid");
    assert_eq!(stale(&pool, file, 5), None, "off: the expectation is not kept");
    assert_eq!(pool.written_lsns(file, 0, u64::MAX).unwrap(), vec![]);
    let s = pool.stats();
    assert_eq!((s.written_lsn_bytes, s.written_lsns_dropped), (0, 0));
}

/// The table's life at its bound (review24): a file whose table is at the bound, closed or dropped and opened
/// again under its id, on the same device or on another whose pages carry lower LSNs than the earlier life's,
/// starts an empty table: no valid page is refused, whatever the earlier table held or forgot. An expectation of
/// a page whose chunk was forgotten is kept again (its chunk made again) and confirmed by a valid read. The bound
/// is each file's, as documented: files each at it add up, and a closed file's table leaves the stats.
#[test]
fn a_file_reopened_under_its_id_at_the_bound_refuses_no_valid_page_and_the_bound_is_each_files() {
    let pool = pool(128);
    let id = FileId(9);
    let old = Sparse::new(1024);
    assert_eq!(pool.open_storage_as(id, old.clone()).unwrap(), id);
    for no in 0..512 {
        write(&pool, id, no, 1000 + u64::from(no));
    }
    assert_eq!(pool.stats().written_lsns_dropped, 384, "six of eight chunks forgotten");
    // Page 0's chunk is forgotten: the engine's claim of its true LSN is kept again and confirmed by a read.
    pool.expect_lsn(PageId::new(id, 0), 1000).unwrap();
    assert_eq!(pool.written_lsns(id, 1000, 1000).unwrap(), vec![(0, 1000)]);
    evict_all(&pool, id, 600);
    for no in 0..512 {
        assert_eq!(stale(&pool, id, no), None, "page {no} of the first life");
    }
    assert_eq!(
        pool.written_lsns(id, 1000, 1000).unwrap(),
        vec![],
        "page 0's expectation confirmed"
    );
    pool.close_file(id).unwrap();
    // The same device again: every page as the first life left it.
    assert_eq!(pool.open_storage_as(id, old.clone()).unwrap(), id);
    assert_eq!(
        pool.written_lsns(id, 0, u64::MAX).unwrap(),
        vec![],
        "a new life, an empty table"
    );
    for no in 0..512 {
        assert_eq!(stale(&pool, id, no), None, "page {no} reopened");
    }
    pool.drop_file(id).unwrap();
    // Another device under the id, its pages written at LSNs below the first life's.
    let new = Sparse::new(1024);
    assert_eq!(pool.open_storage_as(id, new.clone()).unwrap(), id);
    for no in (0..512).rev() {
        write(&pool, id, no, 1 + u64::from(no % 7));
    }
    evict_all(&pool, id, 600);
    for no in 0..512 {
        assert_eq!(stale(&pool, id, no), None, "page {no} of the new device");
    }
    // Eight files each at the bound: each table within one file's bound, their sum the pool's.
    let files: Vec<FileId> = (0..8).map(|_| pool.open_storage(Sparse::new(1024)).unwrap()).collect();
    for &f in &files {
        for no in 0..512 {
            write(&pool, f, no, 5);
        }
    }
    let per_file = |pool: &BufferPool, f: FileId| {
        let s = pool.stats();
        s.files
            .iter()
            .find(|s| s.file == f)
            .map(|s| s.written_lsn_bytes)
            .unwrap()
    };
    for &f in &files {
        let bytes = per_file(&pool, f);
        assert!(
            (1024..=2048).contains(&bytes),
            "file {f:?}: {bytes} bytes at a bound of two chunks"
        );
    }
    let all = table_bytes(&pool);
    for &f in &files[..4] {
        pool.close_file(f).unwrap();
    }
    let left = table_bytes(&pool);
    assert!(
        left < all && left <= 5 * 2048,
        "{all} bytes, {left} after closing four of nine files"
    );
}
