//! R18-21 (session 17's leftover of E17-1): opening a file with no record (a storage that keeps none, or a
//! non-empty file opened without its `.bpmeta` sidecar), the pool reads page 0 to learn the page size the file
//! was written with, and refuses a file of another page size. A failed read of page 0 (EIO) was ignored and the
//! file opened unchecked: a file of 8 KiB pages opened by a 4 KiB pool after a transient EIO was taken as a 4 KiB
//! file, whose first write-back overwrites the second half of an 8 KiB page. Now the open fails with
//! `Error::OpenIo { op: "read page 0" }`, naming the path (or the id asked for) as every error of an open does.

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, Error, FileId, FileOptions};

/// The durable image of a file of two 8 KiB pages written by a pool of that page size (no record: a
/// `FaultyStorage` keeps none).
fn image_of_8k_pages() -> Vec<u8> {
    let pool = BufferPool::builder().frames(4).page_size(8192).build().unwrap();
    let storage = std::sync::Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let f = pool.open_storage(storage.clone()).unwrap();
    for i in 0..2u8 {
        pool.new_page(f).unwrap()[0] = i + 1;
    }
    pool.checkpoint().unwrap();
    storage.crash()
}

#[test]
fn an_eio_reading_page_0_of_a_file_without_record_fails_the_open() {
    let image = image_of_8k_pages();
    let pool = BufferPool::builder().frames(4).page_size(4096).build().unwrap();

    // Read page 0 fails: the open fails, saying what it was doing, and opens nothing.
    let storage = FaultyStorage::from_image(2, FaultConfig::none(), image.clone());
    storage.inject_next(Op::Read, Fault::Eio);
    let err = pool.open_storage(storage).unwrap_err();
    let Error::OpenIo { op, file, path, source } = &err else {
        panic!("the open fails with OpenIo, got {err:?}");
    };
    assert_eq!((*op, *file, path), ("read page 0", None, &None), "{err}");
    assert_eq!(source.raw_os_error(), Some(libc::EIO), "{err}");
    assert_eq!(
        err.to_string(),
        format!("cannot open the storage: read page 0 failed: {source}")
    );
    assert!(pool.stats().files.is_empty(), "nothing was opened");

    // Under an id asked for, the error names it.
    let storage = FaultyStorage::from_image(3, FaultConfig::none(), image.clone());
    storage.inject_next(Op::Read, Fault::Eio);
    let err = pool
        .open_storage_with(storage, FileOptions::new().id(FileId(7)))
        .unwrap_err();
    assert!(matches!(err, Error::OpenIo { op: "read page 0", .. }), "{err:?}");
    assert_eq!(err.file(), Some(FileId(7)), "{err}");

    // Read without a fault, page 0 says the file has 8 KiB pages: refused, as the failed read must not skip.
    let storage = FaultyStorage::from_image(4, FaultConfig::none(), image);
    let err = pool.open_storage(storage).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PageSizeMismatch {
                on_disk: 8192,
                pool: 4096,
                ..
            }
        ),
        "{err:?}"
    );
}
