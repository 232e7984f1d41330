//! A data file deleted, or replaced by a rename over its name, while a pool has it open (R41-1 in RELIABILITY.md).
//! The pool writes through the descriptor it opened, so its writes and fsyncs go on reaching the old file, which
//! no name leads to any more: until R41-1 every checkpoint, flush and close returned `Ok` for pages that the next
//! open of the path never saw (a backup restored over a live file read back its older pages with good checksums:
//! a silent wrong answer; a deleted file was found empty, `DataFileEmptied`, only at the next open). Now a sync
//! that made writes durable checks that a name still leads to the file (its link count); if not, the file fails with `Error::DataFileUnlinked` (its writes refused, its pages still
//! readable), and the pool's other files go on. And what a file truncated behind the pool's back gives (R41-O1):
//! typed errors, checked here with a background writer running.

use std::path::Path;

use bufpool::{BufferPool, Error, FileId, PageId, WriterConfig};

fn pool() -> BufferPool {
    BufferPool::builder().frames(16).page_size(4096).build().unwrap()
}

/// Writes `byte` over the first bytes of pages `0..pages` of `file` (new pages where the file has fewer), at `lsn`.
fn fill(pool: &BufferPool, file: FileId, pages: u32, byte: u8, lsn: u64) {
    for n in 0..pages {
        let mut page = if n < pool.file_pages(file).unwrap() {
            pool.write(PageId::new(file, n)).unwrap()
        } else {
            pool.new_page(file).unwrap()
        };
        page[..8].fill(byte);
        page.set_lsn(lsn);
    }
}

fn first_byte(pool: &BufferPool, page: PageId) -> u8 {
    pool.read(page).unwrap()[0]
}

/// What a fresh pool reads at `path`'s page 0, for the message of a test that failed.
fn reopened_page0(path: &Path) -> String {
    let pool = pool();
    match pool.open_file(path) {
        Ok(f) => match pool.read(PageId::new(f, 0)) {
            Ok(p) => format!("a reopen reads page 0 as {:#04x}", p[0]),
            Err(e) => format!("a reopen's read of page 0 fails: {e}"),
        },
        Err(e) => format!("a reopen is refused: {e}"),
    }
}

/// The checkpoint's outcome for `a` must be `DataFileUnlinked` naming it, `b`'s `Ok`; else the story of what was lost.
fn expect_unlinked(pool: BufferPool, a: FileId, b: FileId, path: &Path, what: &str) -> BufferPool {
    let report = pool.checkpoint_report();
    let outcome = |f: FileId| &report.files.iter().find(|o| o.file == f).unwrap().result;
    match outcome(a) {
        Err(e @ Error::DataFileUnlinked { file, path: p }) => {
            assert_eq!((*file, p.as_deref()), (a, Some(path)));
            assert_eq!((e.file(), e.path()), (Some(a), Some(path)));
        }
        Ok(()) => {
            let close = pool.close();
            panic!(
                "{what}: the checkpoint returned Ok for it (the close then {close:?}), though its pages went to a \
                 file no name leads to; {} (the checkpoint wrote 0xbb)",
                reopened_page0(path)
            );
        }
        Err(e) => panic!("{what}: expected DataFileUnlinked, got {e:?}"),
    }
    assert!(outcome(b).is_ok(), "the other file must stay durable: {:?}", outcome(b));
    pool
}

fn scenario(what: &str, change: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let (path_a, path_b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let pool = pool();
    let a = pool.open_file(&path_a).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    fill(&pool, a, 4, 0xaa, 1);
    fill(&pool, b, 2, 0xaa, 1);
    pool.checkpoint().unwrap();

    change(&path_a);
    fill(&pool, a, 4, 0xbb, 2);
    fill(&pool, b, 2, 0xbb, 2);
    let pool = expect_unlinked(pool, a, b, &path_a, what);

    // The file is failed: writes refused, reads served (from the file it opened), the error named again by a
    // flush and a close; the close leaves it open, a drop closes it. The other file goes on.
    assert!(matches!(pool.write(PageId::new(a, 0)), Err(Error::FileFailed { file, .. }) if file == a));
    assert_eq!(first_byte(&pool, PageId::new(a, 3)), 0xbb);
    assert!(pool.close_file(a).is_err());
    assert_eq!(first_byte(&pool, PageId::new(a, 0)), 0xbb);
    fill(&pool, b, 3, 0xcc, 3);
    pool.checkpoint_report().failed().for_each(|(f, _)| assert_eq!(f, a));
    pool.close_file(b).unwrap();
    pool.drop_file(a).unwrap();
    pool.close().unwrap();

    let pool = self::pool();
    let b = pool.open_file(&path_b).unwrap();
    assert_eq!(pool.file_pages(b).unwrap(), 3);
    assert!((0..3).all(|n| first_byte(&pool, PageId::new(b, n)) == 0xcc));
    pool.close().unwrap();
}

#[test]
fn a_data_file_replaced_while_open_fails_at_the_next_sync_and_the_other_files_go_on() {
    // A copy of the file as it was at the checkpoint renamed over it (a backup restored over a live file).
    scenario("a.db replaced by a copy of itself", |path| {
        let tmp = path.with_extension("copy");
        std::fs::copy(path, &tmp).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    });
}

#[test]
fn a_data_file_deleted_while_open_fails_at_the_next_sync_and_the_other_files_go_on() {
    scenario("a.db deleted", |path| std::fs::remove_file(path).unwrap());
}

#[test]
fn a_file_a_name_still_leads_to_is_not_refused() {
    // Syncs with nothing to write, the file renamed, its directory renamed, its first name removed after a hard
    // link was made: a name still leads to the file, so what the pool synced is durable under it, and no call is
    // refused (a check of the path given would refuse the three moves).
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("d");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("a.db");
    let pool = pool();
    let a = pool.open_file(&path).unwrap();
    let moves: [&dyn Fn(); 3] = [
        &|| std::fs::rename(sub.join("a.db"), sub.join("b.db")).unwrap(),
        &|| std::fs::rename(&sub, dir.path().join("e")).unwrap(),
        &|| {
            let e = dir.path().join("e");
            std::fs::hard_link(e.join("b.db"), e.join("c.db")).unwrap();
            std::fs::remove_file(e.join("b.db")).unwrap();
        },
    ];
    for (round, moved) in moves.iter().enumerate() {
        let byte = round as u8 + 1;
        fill(&pool, a, 5, byte, u64::from(byte));
        pool.flush(PageId::new(a, 0)).unwrap();
        pool.flush_file(a).unwrap();
        pool.checkpoint().unwrap();
        pool.flush_file(a).unwrap();
        moved();
    }
    fill(&pool, a, 6, 9, 9);
    pool.checkpoint().unwrap();
    pool.close_file(a).unwrap();
    let path = dir.path().join("e").join("c.db");
    std::fs::rename(
        dir.path().join("e").join("a.db.bpmeta"),
        bufpool::storage::sidecar_path(&path),
    )
    .unwrap();
    let a = pool.open_file(&path).unwrap();
    assert!((0..6).all(|n| first_byte(&pool, PageId::new(a, n)) == 9));
    pool.close().unwrap();
}

#[test]
fn a_data_file_truncated_while_open_gives_typed_errors_with_a_background_writer() {
    // R41-O1: truncated under a pool whose background writer runs: the lost pages' reads fail (`ShortRead` past
    // the end, `LostWrite` for a hole below the written mark a later write-back made), never zeroes as data, and
    // a checkpoint, the close and a reopen go on; the other file keeps every page.
    let dir = tempfile::tempdir().unwrap();
    let (path_a, path_b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let pool = BufferPool::builder()
        .frames(16)
        .page_size(4096)
        .background_writer(WriterConfig::for_frames(16))
        .build()
        .unwrap();
    let a = pool.open_file(&path_a).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    fill(&pool, a, 40, 0xaa, 1);
    fill(&pool, b, 8, 0xaa, 1);
    pool.checkpoint().unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path_a)
        .unwrap()
        .set_len(10 * 4096)
        .unwrap();
    // A new page 40 (written back past the new end: pages 10..40 become a hole of zeroes below the mark).
    fill(&pool, b, 8, 0xbb, 2);
    let mut page = pool.new_page(a).unwrap();
    assert_eq!(page.page_id(), PageId::new(a, 40));
    page[..8].fill(0xbb);
    page.set_lsn(2);
    drop(page);
    pool.checkpoint().unwrap();
    // Returns how many of the lost pages' reads failed.
    let check = |pool: &BufferPool, a: FileId| {
        let mut failed = 0;
        for n in 0..41 {
            let page = PageId::new(a, n);
            match pool.read(page) {
                Ok(p) if n < 10 || p[0] != 0 => assert_eq!(p[0], if n == 40 { 0xbb } else { 0xaa }, "{page}"),
                Ok(_) => panic!("{page} of the truncated file read as zeroes"),
                Err(Error::ShortRead { .. } | Error::Corrupt { .. }) if n >= 10 => failed += 1,
                Err(e) => panic!("{page}: {e:?}"),
            }
        }
        failed
    };
    // At most the 16 frames' pages were still resident, and read as they were.
    assert!(check(&pool, a) >= 30 - 16);
    pool.close().unwrap();
    let pool = self::pool();
    let a = pool.open_file(&path_a).unwrap();
    let b = pool.open_file(&path_b).unwrap();
    assert_eq!(pool.file_pages(a).unwrap(), 41);
    assert_eq!(check(&pool, a), 30);
    assert!((0..8).all(|n| first_byte(&pool, PageId::new(b, n)) == 0xbb));
    pool.close().unwrap();
}
