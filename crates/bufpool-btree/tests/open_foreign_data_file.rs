//! `Tree::open` of a data file that is not a tree, with a log that holds another tree's records (R28-1 in
//! RELIABILITY.md): a wrong path, or a wrong pairing of file and log. The open must refuse with a typed error and
//! leave the file's bytes as they were.
//!
//! The open checks the log against the meta page before replay (`LogMismatch`), but only when page 0 reads as a
//! tree's meta page: a page 0 that fails to read (meant for a meta page torn by a crash, which replay rebuilds from
//! its logged image) or reads as something else skipped the check. Replay then applied the other tree's records to
//! the file, the first of them the other tree's meta page image, after which the check passed (the meta page now
//! named the log), and the open's checkpoint wrote the other tree over the file: `Ok`, and the file's own content
//! gone.

use std::path::Path;
use std::sync::Arc;

use bufpool::PageId;
use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

fn pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(frames).page_size(4096).build().unwrap())
}

/// A log at `path` holding another tree's records, its first its meta page's image: a tree made on it, a few
/// puts committed, then dropped unclosed with its pool (nothing of it written to its own data file).
fn log_of_another_tree(dir: &Path) -> std::path::PathBuf {
    let pool = pool(64);
    let wal = TreeWal::open(dir.join("other.wal")).unwrap();
    let tree = Tree::open(pool, wal, dir.join("other.db")).unwrap();
    for i in 0u32..50 {
        tree.put(&i.to_be_bytes(), b"the other tree's value").unwrap();
    }
    tree.commit().unwrap();
    dir.join("other.wal")
}

/// Opens `db` with the other tree's log: it must be refused, and `db` keep its bytes.
fn refused_and_unchanged(dir: &Path, db: &Path, what: &str) {
    let before = std::fs::read(db).unwrap();
    let log = log_of_another_tree(dir);
    let pool = pool(64);
    let wal = TreeWal::open(&log).unwrap();
    match Tree::open(pool.clone(), wal, db) {
        Err(Error::LogMismatch(_) | Error::BadMeta(_) | Error::Pool(_)) => {}
        Err(e) => panic!("{what}: refused with an unexpected error: {e}"),
        Ok(tree) => {
            let entries = tree.check().map(|s| s.entries);
            drop(tree);
            panic!("{what}: opened as a tree (entries {entries:?}) with another tree's log")
        }
    }
    assert_eq!(
        pool.stats().files.len(),
        0,
        "{what}: the refused file stays open in the pool"
    );
    drop(pool);
    let after = std::fs::read(db).unwrap();
    assert!(after == before, "{what}: the data file was changed by a refused open");
}

/// A file of another program: three 4 KiB blocks of text, no bufpool page header.
#[test]
fn a_file_that_is_not_a_bufpool_file_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.txt");
    let text: Vec<u8> = b"not a tree: a user's notes. "
        .iter()
        .copied()
        .cycle()
        .take(3 * 4096)
        .collect();
    std::fs::write(&db, &text).unwrap();
    refused_and_unchanged(dir.path(), &db, "a text file");
}

/// A bufpool file of another engine (valid pages, page 0 not a tree's meta page).
#[test]
fn a_bufpool_file_that_is_not_a_tree_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    {
        let pool = pool(16);
        let file = pool.open_file(&db).unwrap();
        for n in 0..3u8 {
            let mut g = pool.new_page(file).unwrap();
            g.fill(0xA0 + n);
        }
        pool.close_file(file).unwrap();
    }
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 3 * 4096);
    // Its pages read back.
    {
        let pool = pool(16);
        let file = pool.open_file(&db).unwrap();
        assert_eq!(pool.read(PageId::new(file, 0)).unwrap()[0], 0xA0);
    }
    refused_and_unchanged(dir.path(), &db, "another engine's bufpool file");
}
