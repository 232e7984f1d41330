//! R49-O11 (RELIABILITY.md, session 49, review49; fixed in session 50, review50): a miss that could free a frame
//! only by writing a dirty page of another file, whose write then failed, returned that victim's error bare. With
//! per-file logs (`FileOptions::wal`), the victim's `Error::Wal` or `WalNoSpace` named neither its file nor its
//! page, so an engine on the healthy file read another log's failure as its own log failing (the B+tree's
//! `structure_faults_concurrent` met it: a healthy tree's open failed with another tree's "WAL flush to LSN ...
//! failed"). Now such a miss returns `Error::VictimWrite`, naming the victim page, its file's path and its error;
//! a victim of the miss's own file still reports its error as is.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, Error, FileId, FileOptions, Lsn, MemoryStorage, PageId, PolicyKind, Wal};

use crate::common;

/// A log that refuses every flush once told to: for good (`Error::Wal`) or for space (`WalNoSpace`).
#[derive(Default)]
struct FailingWal {
    failed: AtomicBool,
    full: AtomicBool,
}

impl Wal for FailingWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        if self.full.load(SeqCst) {
            return Err(Error::WalNoSpace {
                lsn,
                reason: "log device full".into(),
            });
        }
        if self.failed.load(SeqCst) {
            return Err(Error::Wal {
                lsn,
                reason: "the log storage failed earlier".into(),
            });
        }
        Ok(())
    }
}

const FRAMES: u32 = 6;

/// A pool of 6 frames (FIFO): the healthy file `good` (its own log) has pages 0..6 written and synced, 3..6 of
/// them resident; file `bad` (opened by path, its own log) holds pages 0..3, dirty, with LSNs its log now refuses
/// (failed for good, or full). Returns the pool, the files and the directory.
fn two_files(full: bool) -> (BufferPool, FileId, FileId, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder()
        .frames(FRAMES as usize)
        .policy(PolicyKind::Fifo)
        .build()
        .unwrap();
    let good_wal = Arc::new(FailingWal::default());
    let good = pool
        .open_storage_with(MemoryStorage::new(), FileOptions::new().wal(good_wal))
        .unwrap();
    for n in 0..FRAMES {
        let mut page = pool.new_page(good).unwrap();
        common::fill_page(&mut page, n, 1);
        page.set_lsn(u64::from(n) + 1);
    }
    pool.flush_file(good).unwrap();
    let bad_wal = Arc::new(FailingWal::default());
    let bad = pool
        .open_file_with(dir.path().join("bad.db"), FileOptions::new().wal(bad_wal.clone()))
        .unwrap();
    for n in 0..3 {
        let mut page = pool.new_page(bad).unwrap();
        common::fill_page(&mut page, n, 7);
        page.set_lsn(100 + u64::from(n));
    }
    match full {
        true => bad_wal.full.store(true, SeqCst),
        false => bad_wal.failed.store(true, SeqCst),
    }
    (pool, good, bad, dir)
}

fn victim_error(full: bool) {
    let (pool, good, bad, dir) = two_files(full);
    // The healthy file's resident pages (3..6: its pages 0..3 made room for the bad file's, FIFO) read by guards:
    // the only frames a miss can take are the bad file's.
    let resident: Vec<_> = (3..FRAMES).map(|n| pool.read(PageId::new(good, n)).unwrap()).collect();
    let e = pool.read(PageId::new(good, 0)).map(drop).unwrap_err();
    let Error::VictimWrite { victim, path, source } = &e else {
        panic!("a miss of the healthy file whose only victims are the other file's: {e:?}");
    };
    assert_eq!(victim.file(), bad, "{e}");
    assert!(victim.page_no() < 3, "{e}");
    assert_eq!(path.as_deref(), Some(dir.path().join("bad.db").as_path()));
    match full {
        true => assert!(matches!(**source, Error::WalNoSpace { .. }), "{e}"),
        false => assert!(matches!(**source, Error::Wal { .. }), "{e}"),
    }
    assert_eq!(e.file(), Some(bad));
    assert_eq!(e.is_no_space(), full);
    let text = e.to_string();
    assert!(text.contains(&victim.to_string()) && text.contains("bad.db"), "{text}");
    // A miss of the bad file itself (a new page) meets its own log's error, bare.
    let own = pool.new_page(bad).map(drop);
    match full {
        true => assert!(matches!(own, Err(Error::WalNoSpace { .. })), "{own:?}"),
        false => assert!(matches!(own, Err(Error::Wal { .. })), "{own:?}"),
    }
    // Nothing of the healthy file changed: once frames free up, every page reads as written, and it flushes.
    drop(resident);
    for n in 0..FRAMES {
        let page = pool.read(PageId::new(good, n)).unwrap();
        assert_eq!(common::check_page(&page, n), 1, "page {n} of the healthy file");
    }
    pool.flush_file(good).unwrap();
    let st = pool.stats();
    assert!(st.files.iter().all(|f| !f.failed), "{st}");
    // The bad file's pages are still dirty, unwritten (its log refuses them), and still read as changed.
    for n in 0..3 {
        let page = pool.read(PageId::new(bad, n)).unwrap();
        assert_eq!(common::check_page(&page, n), 7);
    }
}

#[test]
fn a_miss_names_another_files_victim_whose_log_failed() {
    victim_error(false);
}

#[test]
fn a_miss_names_another_files_victim_whose_log_is_full() {
    victim_error(true);
}
