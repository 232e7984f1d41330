//! Session 40 (model40): the findings of the whole-API model's reach into files by path under faults, per-seed
//! open modes and I/O backends, and two pools on one path. Each test tells the story of one finding (R40-n in
//! RELIABILITY.md, "Session 40 (2026-12-05, model40)").

use std::path::Path;

use bufpool::{BufferPool, Error, FileId, FileStorage, OpenMode, PageId};

fn pool() -> BufferPool {
    BufferPool::builder().frames(16).build().unwrap()
}

/// Writes `byte` over page 0's user region (a new page if the file has none) and checkpoints.
fn write_page0(pool: &BufferPool, file: FileId, byte: u8) {
    if pool.file_pages(file).unwrap() == 0 {
        let mut g = pool.new_page(file).unwrap();
        assert_eq!(g.page_id(), PageId::new(file, 0));
        g.fill(byte);
    } else {
        pool.write(PageId::new(file, 0)).unwrap().fill(byte);
    }
    pool.checkpoint().unwrap();
}

fn file_storage(path: &Path) -> FileStorage {
    FileStorage::open(path, OpenMode::DirectOrBuffered).unwrap()
}

/// R40-10: `open_storage` of a [`FileStorage`] took no lock. An open by path takes the data file's `flock`, so a
/// second pool (or process) opening the same path is refused `FileLocked`; but the same file handed to a pool as a
/// storage (`FileStorage::open`, whose docs say "the pool then takes the file's lock") was registered without one,
/// beside a pool that had the path open, or with a pool then opening it by path. Both pools then wrote the file:
/// each took page 0 as its own new page, and the first one's checkpointed page was overwritten by the second's
/// (its bytes lost, or, read by the first pool after eviction, another open's page). The B+tree's log took the
/// storage's lock since R13-O2; now `open_storage` does too: a file storage another opener holds is refused
/// `FileLocked`, either way round, and in the pool that has the file open `FileAlreadyOpen` naming its id, before
/// anything is read or written; once the holder closes it (or is dropped) it opens again with its pages.
#[test]
fn r40_10_a_file_storage_opened_in_a_second_pool_is_refused_like_an_open_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    let (first, second) = (pool(), pool());
    let a = first.open_file(&path).unwrap();
    write_page0(&first, a, 0xA1);

    let refused = |what: &str, r: bufpool::Result<FileId>, pool: &BufferPool| match r {
        Err(Error::FileLocked { .. }) => {}
        Err(e) => panic!("{what}: another error than FileLocked: {e}"),
        Ok(b) => {
            // On main: registered. Show what that costs: the second pool takes page 0 as its own new page.
            let mut lost = String::new();
            if pool.file_pages(b).unwrap() <= 1 {
                write_page0(pool, b, 0xB2);
                let on_disk = std::fs::read(&path).unwrap();
                let page = first.page_size();
                lost = format!(
                    "; the second pool's checkpoint left page 0's user region as {:#x} on disk (the first pool's was 0xa1)",
                    on_disk[page - 1]
                );
            }
            panic!("{what}: a second pool opened a file another pool has open: Ok({b:?}){lost}")
        }
    };
    refused(
        "a file storage on a path another pool has open",
        second.open_storage(file_storage(&path)),
        &second,
    );
    // The pool that has it open names its id.
    match first.open_storage(file_storage(&path)) {
        Err(Error::FileAlreadyOpen { file, .. }) => assert_eq!(file, a),
        other => panic!("the same file as a storage in the pool that has it open: {other:?}"),
    }
    // The other way round: a storage holds the file, an open by path in another pool is refused.
    first.close_file(a).unwrap();
    let b = second.open_storage(file_storage(&path)).unwrap();
    refused(
        "an open by path of a file another pool has as a storage",
        first.open_file(&path),
        &first,
    );
    assert_eq!(second.read(PageId::new(b, 0)).unwrap()[0], 0xA1);
    write_page0(&second, b, 0xB2);
    // Released on close, and on the pool's drop.
    second.close_file(b).unwrap();
    let a = first.open_storage(file_storage(&path)).unwrap();
    assert_eq!(first.read(PageId::new(a, 0)).unwrap()[0], 0xB2);
    drop(first);
    let b = second.open_file(&path).unwrap();
    assert_eq!(second.read(PageId::new(b, 0)).unwrap()[0], 0xB2);
}

/// R40-O10: the lock of a file opened by path is let go by every way out of an open, and only by those: a second
/// pool is refused (`FileLocked`) while the file is open, however the first pool's calls ended meanwhile (an
/// eviction whose veto panicked, a refused open of the same path in the first pool), and opens it once it was
/// closed, dropped, or the first pool's open was refused after it had opened the file (another page size).
#[test]
fn r40_o10_a_file_by_path_is_unlocked_by_close_drop_and_a_refused_open_only() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    let panic_veto = Arc::new(AtomicBool::new(false));
    let veto = panic_veto.clone();
    let first = BufferPool::builder()
        .frames(4)
        .eviction_veto(move |_| {
            if veto.swap(false, SeqCst) {
                panic!("a veto that panics");
            }
            false
        })
        .build()
        .unwrap();
    let second = pool();
    let locked = |what: &str| match second.open_file(&path) {
        Err(Error::FileLocked { .. }) => {}
        other => panic!("{what}: the second pool's open: {other:?}, expected FileLocked"),
    };
    // Refused by a pool of another page size after it opened the file: nothing held.
    let other_size = BufferPool::builder().frames(4).page_size(8192).build().unwrap();
    let a = first.open_file(&path).unwrap();
    write_page0(&first, a, 0x11);
    // A panic in a callback while the file is open (a veto during an eviction of its page) leaves it locked.
    for n in 1..4 {
        drop(first.new_page(a).unwrap());
        assert_eq!(first.file_pages(a).unwrap(), n + 1);
    }
    panic_veto.store(true, SeqCst);
    let scratch = first.open_storage(bufpool::MemoryStorage::new()).unwrap();
    let _ = first.new_page(scratch).map(drop);
    assert!(!panic_veto.load(SeqCst), "the veto ran");
    assert!(matches!(first.open_file(&path), Err(Error::FileAlreadyOpen { file, .. }) if file == a));
    locked("open, after a veto's panic and a refused second open in the same pool");
    first.close_file(a).unwrap();
    match other_size.open_file(&path) {
        Err(Error::PageSizeMismatch { .. }) => {}
        other => panic!("a pool of another page size: {other:?}"),
    }
    let b = second.open_file(&path).unwrap();
    assert_eq!(second.read(PageId::new(b, 0)).unwrap()[0], 0x11);
    assert!(matches!(first.open_file(&path), Err(Error::FileLocked { .. })));
    second.drop_file(b).unwrap();
    let a = first.open_file(&path).unwrap();
    assert_eq!(first.read(PageId::new(a, 0)).unwrap()[0], 0x11);
    drop(first);
    second.open_file(&path).unwrap();
}
