//! One file storage shared through an `Arc` and handed to two pools (R41-3 in RELIABILITY.md; was R40-O12). The
//! pool takes a storage's lock (`Storage::try_lock`, a `flock`) before it reads anything, so a second opener of
//! the file through another descriptor is refused `FileLocked` (R40-10). But `flock` grants the lock again through
//! the open file description that holds it, and `Arc<S>` is a `Storage` that forwards every call: the second pool
//! got the lock too, both took page 0 as their own new page, and the second one's checkpoint overwrote the first
//! one's. Now a `FileStorage` or `UringStorage` holds its lock for one opener: the second pool is refused
//! `FileLocked` ("the storage"), the first pool a second open `FileAlreadyOpen`, and the lock is given back
//! when the first pool closes the file (`Storage::unlock`, through `storage::Opened`), a clone of the `Arc` alive
//! or not.

use std::path::Path;
use std::sync::Arc;

use bufpool::storage::{uring_available, Storage, UringStorage};
use bufpool::{BufferPool, Error, FileId, FileStorage, OpenMode, PageId};

fn pool() -> BufferPool {
    BufferPool::builder().frames(16).build().unwrap()
}

/// Page 0 of `file` (a new page if it has none) filled with `byte`, checkpointed.
fn write_page0(pool: &BufferPool, file: FileId, byte: u8) {
    if pool.file_pages(file).unwrap() == 0 {
        pool.new_page(file).unwrap().fill(byte);
    } else {
        pool.write(PageId::new(file, 0)).unwrap().fill(byte);
    }
    pool.checkpoint().unwrap();
}

fn shared_by_two_pools<S: Storage>(what: &str, path: &Path, open: impl Fn() -> S) {
    let storage = Arc::new(open());
    let (a, b) = (pool(), pool());
    let fa = a.open_storage(storage.clone()).unwrap();
    write_page0(&a, fa, 0xa1);
    match b.open_storage(storage.clone()) {
        Err(Error::FileLocked { path }) => assert_eq!(path, Path::new("the storage"), "{what}"),
        Ok(fb) => {
            write_page0(&b, fb, 0xb2);
            let on_disk = std::fs::read(path).unwrap();
            panic!(
                "{what}: a second pool opened the storage the first has open: Ok({fb:?}); its checkpoint left page \
                 0's byte at {:#04x} on disk (the first pool's was 0xa1)",
                on_disk[bufpool::PAGE_HEADER_SIZE]
            );
        }
        Err(e) => panic!("{what}: expected FileLocked, got {e:?}"),
    }
    // In the pool that has it: named, at once.
    assert!(matches!(a.open_storage(storage.clone()), Err(Error::FileAlreadyOpen { file, .. }) if file == fa));
    // Closed in the first pool, its lock is given back: the same storage opens in the second pool (a clone still
    // lives), with the first one's page; and once dropped, a new storage of the file opens after the second's close.
    a.close_file(fa).unwrap();
    let fb = b.open_storage(storage.clone()).unwrap();
    assert_eq!(b.read(PageId::new(fb, 0)).unwrap()[0], 0xa1, "{what}");
    b.close_file(fb).unwrap();
    drop(storage);
    let fb = b.open_storage(open()).unwrap();
    assert_eq!(b.read(PageId::new(fb, 0)).unwrap()[0], 0xa1, "{what}");
    b.close_file(fb).unwrap();
}

#[test]
fn a_file_storage_shared_by_two_pools_is_opened_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    shared_by_two_pools("FileStorage", &path, || {
        FileStorage::open(&path, OpenMode::Buffered).unwrap()
    });
    if uring_available() {
        let path = dir.path().join("u.db");
        shared_by_two_pools("UringStorage", &path, || {
            UringStorage::open(&path, OpenMode::Buffered).unwrap()
        });
    } else {
        eprintln!("SKIPPED the UringStorage case: io_uring is unavailable");
    }
}
