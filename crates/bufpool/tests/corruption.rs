//! A bit flip, a torn page (half old, half new) and a valid page copied to the wrong offset: each must come back
//! as `Error::Corrupt`, never as bytes, and be counted. A never-written (all-zero) page reads as zeroes.

use bufpool::{BufferPool, CorruptReason, Error, MemoryStorage, PageId};
use std::sync::Arc;

fn pool_with_pages(n: u32) -> (BufferPool, Arc<MemoryStorage>, bufpool::FileId) {
    let storage = Arc::new(MemoryStorage::new());
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for i in 0..n {
        let mut g = pool.new_page(file).unwrap();
        g.fill(i as u8 + 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    (pool, storage, file)
}

#[test]
fn bit_flip() {
    let (pool, storage, file) = pool_with_pages(3);
    storage.with_bytes(|b| b[4096 + 2000] ^= 0x04);
    match pool.read(PageId::new(file, 1)) {
        Err(Error::Corrupt {
            page,
            reason: CorruptReason::ChecksumMismatch { .. },
        }) => {
            assert_eq!(page, PageId::new(file, 1))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(pool.read(PageId::new(file, 0)).is_ok() && pool.read(PageId::new(file, 2)).is_ok());
    assert_eq!(pool.stats().corrupt_pages, 1);
}

#[test]
fn torn_page() {
    let (pool, storage, file) = pool_with_pages(2);
    let old = storage.with_bytes(|b| b[0..4096].to_vec());
    {
        let mut g = pool.write(PageId::new(file, 0)).unwrap();
        g.fill(0xEE);
    }
    pool.checkpoint().unwrap();
    // The device kept the first half of the new image and the second half of the old one.
    storage.with_bytes(|b| b[2048..4096].copy_from_slice(&old[2048..4096]));
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    assert!(pool.read(PageId::new(file, 0)).unwrap_err().is_corrupt());
}

#[test]
fn page_at_the_wrong_offset() {
    let (pool, storage, file) = pool_with_pages(3);
    storage.with_bytes(|b| {
        let p0 = b[0..4096].to_vec();
        b[8192..12288].copy_from_slice(&p0);
    });
    match pool.read(PageId::new(file, 2)) {
        Err(Error::Corrupt {
            reason: CorruptReason::WrongPageNumber { stored: 0 },
            ..
        }) => {}
        other => panic!("expected WrongPageNumber, got {other:?}"),
    }
    // The same check holds for optimistic readers, which load through the same path.
    assert!(pool
        .read_optimistic(PageId::new(file, 2), |v| v.read_u8(0))
        .unwrap_err()
        .is_corrupt());
}

#[test]
fn never_written_page_reads_as_zeroes() {
    let storage = Arc::new(MemoryStorage::from_bytes(vec![0; 3 * 4096]));
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(storage).unwrap();
    let g = pool.read(PageId::new(file, 1)).unwrap();
    assert!(g.iter().all(|&b| b == 0));
    assert_eq!(g.len(), 4096 - bufpool::PAGE_HEADER_SIZE);
}
