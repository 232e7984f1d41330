//! A caller's storage failing while its file is being opened (session 19, fault19).
//!
//! - R19-21 (R18-O1): an open asking for an id another open file had (`open_storage_as(FileId(7), ..)`, 7 open),
//!   refused for its own storage (a failed `len`), answered `OpenIo` whose `Error::file()` was `Some(FileId(7))`:
//!   an engine routing errors by file sent it to that healthy file. The id is now checked before the storage is
//!   asked anything (and again after a refusal, for an open that took the id meanwhile), and `FileIdInUse`'s
//!   `file()` is `None`: the error is about an open that never got a file.
//! - R19-22 (R18-O2): a storage that panicked while its file was being registered (`len`, the first page's read,
//!   the record store) unwound out of `open_storage_with` instead of returning `Error::Panicked`; now caught, with
//!   nothing registered and the id free for the next open.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bufpool::storage::{Storage, StorageInfo};
use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId};

fn is_panicked(e: &Error, what: &str) -> bool {
    matches!(e, Error::Panicked { what: w, .. } if *w == what)
}

/// A storage whose `len` fails, or panics, or whose reads panic.
struct OpenFaults {
    inner: MemoryStorage,
    len_fails: bool,
    len_panics: bool,
    read_panics: bool,
}

impl OpenFaults {
    fn new(pages: usize) -> OpenFaults {
        OpenFaults {
            inner: MemoryStorage::from_bytes(vec![0; pages * 4096]),
            len_fails: false,
            len_panics: false,
            read_panics: false,
        }
    }
}

impl Storage for OpenFaults {
    fn len(&self) -> std::io::Result<u64> {
        assert!(!self.len_panics, "storage len panics");
        if self.len_fails {
            return Err(std::io::Error::other("len fails"));
        }
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        assert!(!self.read_panics, "storage read panics");
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "open-faults",
            direct: false,
        }
    }
}

#[test]
fn an_open_under_a_taken_id_never_names_the_file_that_has_it() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let seven = pool.open_storage_as(FileId(7), MemoryStorage::new()).unwrap();
    drop(pool.new_page(seven).unwrap());
    let refused = pool
        .open_storage_as(
            FileId(7),
            OpenFaults {
                len_fails: true,
                ..OpenFaults::new(0)
            },
        )
        .unwrap_err();
    assert_eq!(
        refused.file(),
        None,
        "{refused:?} names the open file 7, which is not this open's"
    );
    assert!(matches!(refused, Error::FileIdInUse(FileId(7))), "{refused:?}");
    // Free, the id is this open's: its own storage error names it.
    let free = pool
        .open_storage_as(
            FileId(8),
            OpenFaults {
                len_fails: true,
                ..OpenFaults::new(0)
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            free,
            Error::OpenIo {
                file: Some(FileId(8)),
                ..
            }
        ),
        "{free:?}"
    );
    assert!(pool.read(PageId::new(seven, 0)).is_ok());
}

#[test]
fn a_storage_panicking_while_its_file_opens_is_an_error_and_leaves_the_id_free() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    for storage in [
        OpenFaults {
            len_panics: true,
            ..OpenFaults::new(0)
        },
        OpenFaults {
            read_panics: true,
            ..OpenFaults::new(1)
        }, // page 0's header is read for its page size
    ] {
        let opened = catch_unwind(AssertUnwindSafe(|| pool.open_storage_as(FileId(3), storage)));
        match opened {
            Ok(Err(e)) => assert!(is_panicked(&e, "Storage (opening the file)"), "{e}"),
            Ok(Ok(_)) => panic!("opened although the storage panicked"),
            Err(_) => panic!("the storage's panic unwound out of the open"),
        }
        assert!(pool.stats().files.is_empty(), "nothing is registered");
    }
    let file = pool.open_storage_as(FileId(3), MemoryStorage::new()).unwrap();
    assert_eq!(file, FileId(3));
    drop(pool.new_page(file).unwrap());
}
