//! A data file found empty beside a record whose written mark is above 0 (R34-20 in RELIABILITY.md, was R33-O10).
//! The mark says a checkpoint wrote and synced that many pages; a file of length 0 has lost all of them (a device
//! that dropped the file's writes and length, or the file deleted, truncated or replaced outside bufpool). Until
//! R34-20 the open took it for a file deleted to start over and made a new record: every page was gone without an
//! error, and a raw-pool engine saw an empty file. Now the open is refused with `Error::DataFileEmptied` and changes
//! nothing; deleting the sidecar too is how a file starts over.

use std::path::Path;

use bufpool::storage::sidecar_path;
use bufpool::{BufferPool, Error, FileId, FileOptions, PageId};

fn pool() -> BufferPool {
    BufferPool::builder().frames(16).page_size(4096).build().unwrap()
}

/// A bound file at `path` with `pages` pages written, checkpointed (the record's mark raised to `pages`), closed.
fn make(path: &Path, pages: u32) {
    let pool = pool();
    let file = pool.open_file(path).unwrap();
    for n in 0..pages {
        let mut page = pool.new_page(file).unwrap();
        page[..4].copy_from_slice(&n.to_le_bytes());
        page.set_lsn(u64::from(n) + 1);
    }
    pool.checkpoint().unwrap();
    pool.close().unwrap();
}

fn refused(opened: bufpool::Result<FileId>, path: &Path, id: Option<FileId>, pages: u32) {
    match opened {
        Err(e @ Error::DataFileEmptied { .. }) => {
            let Error::DataFileEmptied { written_pages, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*written_pages, pages);
            assert_eq!(e.path(), Some(path));
            assert_eq!(e.file(), id);
            let text = e.to_string();
            assert!(text.contains(&sidecar_path(path).display().to_string()), "{text}");
            assert!(text.contains(&format!("{pages} pages written and synced")), "{text}");
        }
        other => panic!("expected DataFileEmptied for {}, got {other:?}", path.display()),
    }
}

#[test]
fn a_data_file_truncated_to_nothing_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    make(&path, 5);
    let record = std::fs::read(sidecar_path(&path)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();

    let pool = pool();
    refused(pool.open_file(&path), &path, None, 5);
    refused(pool.open_file_as(FileId(7), &path), &path, Some(FileId(7)), 5);
    refused(pool.open_file_with(&path, FileOptions::default()), &path, None, 5);
    // Nothing changed: the record keeps its identity and mark, the file stays empty, nothing is open.
    assert_eq!(std::fs::read(sidecar_path(&path)).unwrap(), record);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    assert!(pool.stats().files.is_empty());
    // The pool serves other files meanwhile.
    let other = pool.open_file(dir.path().join("u.db")).unwrap();
    pool.new_page(other).unwrap().set_lsn(1);
    pool.checkpoint().unwrap();
    pool.close_file(other).unwrap();
}

#[test]
fn a_data_file_deleted_beside_its_record_is_refused_until_the_record_goes_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    make(&path, 3);
    std::fs::remove_file(&path).unwrap();

    let pool = pool();
    refused(pool.open_file(&path), &path, None, 3);
    refused(pool.open_file(&path), &path, None, 3);

    // Starting over: the record deleted too (`remove_data_file` deletes both; the data file the refused opens
    // made again is there). A new record (mark 0), a new identity, no pages.
    bufpool::storage::remove_data_file(&path).unwrap();
    assert!(!path.exists() && !sidecar_path(&path).exists());
    bufpool::storage::remove_data_file(&path).unwrap();
    let file = pool.open_file(&path).unwrap();
    assert_eq!(pool.file_pages(file).unwrap(), 0);
    assert_eq!(pool.new_page(file).unwrap().page_id(), PageId::new(file, 0));
    pool.checkpoint().unwrap();
    pool.close().unwrap();
    let pool = self::pool();
    let file = pool.open_file(&path).unwrap();
    assert_eq!(pool.file_pages(file).unwrap(), 1);
    pool.close().unwrap();
}

#[test]
fn an_empty_file_whose_record_has_no_mark_still_opens() {
    // Made and closed without a page written (the record's mark 0), or deleted before its first checkpoint: no
    // synced page can be lost, so the open goes on as for a new file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let pool = pool();
        let file = pool.open_file(&path).unwrap();
        pool.close_file(file).unwrap();
    }
    assert!(sidecar_path(&path).exists());
    std::fs::remove_file(&path).unwrap();
    let pool = pool();
    let file = pool.open_file(&path).unwrap();
    assert_eq!(pool.file_pages(file).unwrap(), 0);
    pool.close().unwrap();

    // And a file shorter than its mark but not empty opens, its lost pages failing as they are read (R33-11).
    let path = dir.path().join("v.db");
    make(&path, 4);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2 * 4096)
        .unwrap();
    let pool = self::pool();
    let file = pool.open_file(&path).unwrap();
    assert_eq!(pool.file_pages(file).unwrap(), 4);
    assert_eq!(pool.read(PageId::new(file, 1)).unwrap()[..4], 1u32.to_le_bytes());
    assert!(matches!(pool.read(PageId::new(file, 3)), Err(Error::ShortRead { .. })));
    pool.close().unwrap();
}
