//! A flush or checkpoint that put off a file's runs (its log needed a flush first, `Wal::needs_flush_for_pages`)
//! while that file was dropped and another opened under its id (R32-2 in RELIABILITY.md).
//!
//! The put-off runs' files were remembered by id alone: after the pass, the call looked the id up again and asked
//! *that* file's log to flush to the LSN of the dropped file's pages, an LSN the newer file's log never gave (a
//! `TreeWal` refuses it with an error, a log that waits for an LSN to be appended would wait for ever); and the
//! error it got back, recorded by id, became the newer file's outcome: a checkpoint reported a file opened while
//! it ran, and synced by it, as failed. `FileOptions::id` promises that "a call that named the earlier file never
//! acts on the newer one's pages"; a flush names its files.
//!
//! The drop and reopen are made to land between the pass and the put-off flush: the pass goes in file order, and a
//! second file's log holds its `needs_flush_for_pages` (asked under its run's latch, after the first file's runs
//! were put off) until the test has dropped and reopened the first.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use bufpool::{BufferPool, Error, FileId, FileOptions, Lsn, MemoryStorage, PageId, Wal};

use crate::common;

/// A log that gave LSNs up to `end`, records every LSN it is asked to flush, refuses one past `end` (as
/// `TreeWal` does) and, when `puts_off`, says every run needs a flush first. With `hold`, its first
/// `needs_flush_for_pages` holds until `go`.
#[derive(Default)]
struct TestWal {
    end: Lsn,
    puts_off: bool,
    hold: bool,
    holding: AtomicBool,
    go: AtomicBool,
    /// Its first `flush_to` holds until `flush_go`.
    hold_flush: bool,
    flush_holding: AtomicBool,
    flush_go: AtomicBool,
    asked: Mutex<Vec<Lsn>>,
}

impl TestWal {
    fn new(end: Lsn, puts_off: bool, hold: bool) -> Arc<TestWal> {
        Arc::new(TestWal {
            end,
            puts_off,
            hold,
            ..Default::default()
        })
    }
}

impl Wal for TestWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        self.asked.lock().unwrap().push(lsn);
        if self.hold_flush && !self.flush_holding.swap(true, SeqCst) {
            while !self.flush_go.load(SeqCst) {
                std::thread::yield_now();
            }
        }
        if lsn > self.end {
            return Err(Error::Wal {
                lsn,
                reason: format!("past the log's end {}", self.end).into(),
            });
        }
        Ok(())
    }
    fn needs_flush_for_pages(&self, _lsn: Lsn, _first: PageId, _count: usize) -> bool {
        if self.hold && !self.holding.swap(true, SeqCst) {
            while !self.go.load(SeqCst) {
                std::thread::yield_now();
            }
        }
        self.puts_off
    }
}

/// File 0 (its runs put off, a page at LSN 100) and file 1 (whose log holds the pass), each with a dirty page.
fn two_files(pool: &BufferPool) -> (FileId, FileId, Arc<TestWal>) {
    two_files_held_by(pool, TestWal::new(5, false, true))
}

/// [`two_files`] with file 1's log `holder`.
fn two_files_held_by(pool: &BufferPool, holder: Arc<TestWal>) -> (FileId, FileId, Arc<TestWal>) {
    let first = TestWal::new(100, true, false);
    let a = pool
        .open_storage_with(MemoryStorage::new(), FileOptions::new().id(FileId(0)).wal(first))
        .unwrap();
    let b = pool
        .open_storage_with(
            MemoryStorage::new(),
            FileOptions::new().id(FileId(1)).wal(holder.clone()),
        )
        .unwrap();
    for (file, lsn) in [(a, 100), (b, 5)] {
        let mut g = pool.new_page(file).unwrap();
        g[0] = 1;
        g.set_lsn(lsn);
    }
    (a, b, holder)
}

/// While `holder` holds the pass: drops `a` and opens another file under its id, whose log gave LSNs up to 10.
fn drop_and_reopen(pool: &BufferPool, a: FileId, holder: &TestWal) -> Arc<TestWal> {
    while !holder.holding.load(SeqCst) {
        std::thread::yield_now();
    }
    pool.drop_file(a).unwrap();
    let newer = TestWal::new(10, false, false);
    let again = pool
        .open_storage_with(MemoryStorage::new(), FileOptions::new().id(a).wal(newer.clone()))
        .unwrap();
    assert_eq!(again, a);
    holder.go.store(true, SeqCst);
    newer
}

#[test]
fn a_flush_never_asks_the_newer_files_log_for_the_dropped_files_lsn() {
    common::within("flush_files across a drop and reopen of one of its files", || {
        let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
        let (a, b, holder) = two_files(&pool);
        let flush = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.flush_files(&[a, b]))
        };
        let newer = drop_and_reopen(&pool, a, &holder);
        let got = flush.join().unwrap();
        let asked = newer.asked.lock().unwrap().clone();
        assert!(
            asked.iter().all(|&lsn| lsn <= 10),
            "the newer file's log was asked for LSNs it never gave: {asked:?}"
        );
        // The file the call named is gone: `FileNotOpen` for it, as the docs say; the other file is durable.
        match got {
            Err(Error::FileNotOpen(f)) => assert_eq!(f, a),
            other => panic!("expected FileNotOpen for the dropped file, got {other:?}"),
        }
    });
}

#[test]
fn a_checkpoint_reports_a_file_opened_while_it_ran_by_its_own_outcome() {
    common::within("a checkpoint across a drop and reopen", || {
        let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
        let (a, b, holder) = two_files(&pool);
        let checkpoint = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.checkpoint_report())
        };
        let newer = drop_and_reopen(&pool, a, &holder);
        let report = checkpoint.join().unwrap();
        let asked = newer.asked.lock().unwrap().clone();
        assert!(
            asked.iter().all(|&lsn| lsn <= 10),
            "the newer file's log was asked {asked:?}"
        );
        // The file open under the id at the end was synced by the checkpoint, with nothing of its own dirty when
        // it started: durable. (The dropped one's put-off page was discarded by its drop.)
        let open_now: Vec<_> = report
            .files
            .iter()
            .filter(|o| o.file == a && o.path.is_none())
            .collect();
        assert!(
            open_now.iter().any(|o| o.result.is_ok()),
            "the file opened under the id while the checkpoint ran is reported failed: {report:?}"
        );
        assert!(
            report.files.iter().any(|o| o.file == b && o.result.is_ok()),
            "{report:?}"
        );
        assert!(
            report
                .files
                .iter()
                .all(|o| !matches!(&o.result, Err(Error::Wal { .. }))),
            "{report:?}"
        );
    });
}

/// R32-2's left case (R33-3): the file dropped before the put-off flush and opened again under its id only after
/// the flush looked it up (not open then): its runs' error was recorded with no open, and the checkpoint's outcome
/// for the id taken by whichever open held it at the end: the newer file, synced by the checkpoint, was reported
/// `FileNotOpen`. File 1's log puts its runs off too, holds the pass (the drop lands there) and holds its put-off
/// flush, which comes after file 0's look-up (the reopen lands there).
#[test]
fn a_checkpoint_reports_a_file_reopened_after_its_put_off_flush_by_its_own_outcome() {
    common::within("a checkpoint across a drop, its put-off flush, and a reopen", || {
        let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
        let (a, b, holder) = two_files_held_by(
            &pool,
            Arc::new(TestWal {
                end: 5,
                puts_off: true,
                hold: true,
                hold_flush: true,
                ..Default::default()
            }),
        );
        let checkpoint = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.checkpoint_report())
        };
        while !holder.holding.load(SeqCst) {
            std::thread::yield_now();
        }
        pool.drop_file(a).unwrap();
        holder.go.store(true, SeqCst);
        while !holder.flush_holding.load(SeqCst) {
            std::thread::yield_now();
        }
        let newer = TestWal::new(10, false, false);
        let again = pool
            .open_storage_with(MemoryStorage::new(), FileOptions::new().id(a).wal(newer.clone()))
            .unwrap();
        assert_eq!(again, a);
        holder.flush_go.store(true, SeqCst);
        let report = checkpoint.join().unwrap();
        assert!(newer.asked.lock().unwrap().is_empty(), "the newer file's log was asked");
        assert!(
            report
                .files
                .iter()
                .any(|o| o.file == a && o.path.is_none() && o.result.is_ok()),
            "the file opened under the id after the put-off flush is reported failed: {report:?}"
        );
        assert!(
            report.files.iter().any(|o| o.file == b && o.result.is_ok()),
            "{report:?}"
        );
        // The dropped open's put-off page: reported for the file closed while the checkpoint ran.
        assert!(
            report
                .files
                .iter()
                .any(|o| o.file == a && matches!(o.result, Err(Error::FileNotOpen(f)) if f == a)),
            "{report:?}"
        );
    });
}
