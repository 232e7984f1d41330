//! One pool, several engines, each with its own log (issue 12). Before per-file logs a pool had one `Wal`: two
//! engines sharing a pool had to share a log, or one engine's pages were written after asking the *other*
//! engine's log to flush, which says nothing about their own records. Now a file opened with
//! `FileOptions::wal` is written only after its own log flushed to the page's LSN, and no other log is asked for
//! it; files opened without one use the builder's WAL.
//!
//! The storages check the WAL rule at the moment of each write: every page image written carries an LSN its own
//! file's log had already made durable.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, Error, FileId, FileOptions, Lsn, PageId, PolicyKind, Wal};
use common::Instrumented;
use parking_lot::Mutex;

/// A log that records every `flush_to` and how far it is durable; fails when told to.
#[derive(Default)]
struct RecordingWal {
    durable: AtomicU64,
    calls: Mutex<Vec<Lsn>>,
    fail: std::sync::atomic::AtomicBool,
}

impl Wal for RecordingWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        self.calls.lock().push(lsn);
        if self.fail.load(SeqCst) {
            return Err(Error::Wal {
                lsn,
                reason: "log device gone".into(),
            });
        }
        self.durable.fetch_max(lsn, SeqCst);
        Ok(())
    }
}

const PAGE: usize = 4096;

/// A storage whose every page write is checked against `wal`: the page's LSN (header bytes 8..16) must already be
/// durable in that log. Violations are collected, not panicked on (a panic in a storage becomes a failed write).
fn checked_storage(
    wal: Arc<RecordingWal>,
    violations: Arc<Mutex<Vec<String>>>,
    name: &'static str,
) -> Arc<Instrumented> {
    let s = Instrumented::new();
    *s.on_write.lock() = Some(Box::new(move |offset, buf| {
        for (k, page) in buf.chunks(PAGE).enumerate() {
            let lsn = u64::from_le_bytes(page[8..16].try_into().unwrap());
            let durable = wal.durable.load(SeqCst);
            if lsn > durable {
                violations.lock().push(format!(
                    "{name}: page {} written with LSN {lsn}, its log durable to {durable}",
                    offset / PAGE as u64 + k as u64
                ));
            }
        }
    }));
    s
}

/// Writes page `n` of `file` (creating it if needed) with `lsn`.
fn write_page(pool: &BufferPool, file: FileId, n: u32, lsn: Lsn) {
    let mut g = if n < pool.file_pages(file).unwrap() {
        pool.write(PageId::new(file, n)).unwrap()
    } else {
        pool.new_page(file).unwrap()
    };
    assert_eq!(g.page_id(), PageId::new(file, n));
    common::fill_page(&mut g, n, lsn);
    g.set_lsn(lsn);
}

#[test]
fn each_file_is_written_under_its_own_log_only() {
    let default_wal = Arc::new(RecordingWal::default());
    let (wal_a, wal_b) = (Arc::new(RecordingWal::default()), Arc::new(RecordingWal::default()));
    let violations = Arc::new(Mutex::new(Vec::new()));
    // A small FIFO pool: most writes are evictions, interleaved between the two files.
    let pool = BufferPool::builder()
        .frames(8)
        .policy(PolicyKind::Fifo)
        .wal(default_wal.clone())
        .build()
        .unwrap();
    let a = pool
        .open_storage_with(
            checked_storage(wal_a.clone(), violations.clone(), "A"),
            FileOptions::new().wal(wal_a.clone()),
        )
        .unwrap();
    let b = pool
        .open_storage_with(
            checked_storage(wal_b.clone(), violations.clone(), "B"),
            FileOptions::new().wal(wal_b.clone()),
        )
        .unwrap();
    // Disjoint LSN ranges: A's records are 1000.., B's 5000.., the default log's 9000...
    for round in 0..3u64 {
        for n in 0..20u32 {
            write_page(&pool, a, n, 1000 + round * 100 + u64::from(n));
            write_page(&pool, b, n, 5000 + round * 100 + u64::from(n));
        }
    }
    pool.checkpoint().unwrap();
    assert!(pool.stats().evictions > 0, "evictions wrote pages too");
    let calls_a = wal_a.calls.lock().clone();
    let calls_b = wal_b.calls.lock().clone();
    assert!(!calls_a.is_empty() && !calls_b.is_empty());
    assert!(
        calls_a.iter().all(|l| (1000..5000).contains(l)),
        "A's log asked only for A's pages: {calls_a:?}"
    );
    assert!(
        calls_b.iter().all(|l| (5000..9000).contains(l)),
        "B's log asked only for B's pages: {calls_b:?}"
    );
    assert!(default_wal.calls.lock().is_empty(), "no file uses the builder's log");

    // A file opened without its own log uses the builder's.
    let c = pool
        .open_storage_with(
            checked_storage(default_wal.clone(), violations.clone(), "C"),
            FileOptions::new(),
        )
        .unwrap();
    let (before_a, before_b) = (calls_a.len(), calls_b.len());
    for n in 0..12u32 {
        write_page(&pool, c, n, 9000 + u64::from(n));
    }
    pool.checkpoint().unwrap();
    let calls_default = default_wal.calls.lock().clone();
    assert!(!calls_default.is_empty());
    assert!(calls_default.iter().all(|&l| l >= 9000), "{calls_default:?}");
    // Writing C's pages evicted A's and B's only if they were dirty: they are clean after the checkpoint.
    assert_eq!(wal_a.calls.lock().len(), before_a);
    assert_eq!(wal_b.calls.lock().len(), before_b);

    assert!(violations.lock().is_empty(), "{:#?}", violations.lock());
    // Everything reads back.
    for n in 0..20 {
        assert_eq!(
            common::check_page(&pool.read(PageId::new(a, n)).unwrap(), n),
            1200 + u64::from(n)
        );
        assert_eq!(
            common::check_page(&pool.read(PageId::new(b, n)).unwrap(), n),
            5200 + u64::from(n)
        );
    }
}

/// One engine's log failing keeps that engine's pages dirty and unwritten; the other engine's pages are written
/// and its part of the checkpoint succeeds.
#[test]
fn a_failing_log_holds_back_only_its_own_file() {
    let (wal_a, wal_b) = (Arc::new(RecordingWal::default()), Arc::new(RecordingWal::default()));
    let violations = Arc::new(Mutex::new(Vec::new()));
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let sa = checked_storage(wal_a.clone(), violations.clone(), "A");
    let sb = checked_storage(wal_b.clone(), violations.clone(), "B");
    let a = pool
        .open_storage_with(sa.clone(), FileOptions::new().wal(wal_a.clone()))
        .unwrap();
    let b = pool
        .open_storage_with(sb.clone(), FileOptions::new().wal(wal_b.clone()))
        .unwrap();
    for n in 0..4 {
        write_page(&pool, a, n, 10 + u64::from(n));
        write_page(&pool, b, n, 20 + u64::from(n));
    }
    wal_b.fail.store(true, SeqCst);
    let report = pool.checkpoint_report();
    let outcome = |f: FileId| report.files.iter().find(|o| o.file == f).unwrap().result.clone();
    assert!(outcome(a).is_ok(), "{:?}", outcome(a));
    assert!(matches!(outcome(b), Err(Error::Wal { .. })), "{:?}", outcome(b));
    assert_eq!(sa.writes.load(SeqCst), 1, "A's four pages went out as one run");
    assert_eq!(
        sb.writes.load(SeqCst),
        0,
        "B's pages were not written before B's log was durable"
    );
    assert_eq!(pool.stats().dirty, 4, "B's pages stay dirty");
    // B's log recovers: its pages go out.
    wal_b.fail.store(false, SeqCst);
    pool.checkpoint().unwrap();
    assert_eq!(sb.writes.load(SeqCst), 1);
    assert!(violations.lock().is_empty(), "{:#?}", violations.lock());
}

#[test]
fn an_id_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let wal = Arc::new(RecordingWal::default());
    let id = FileId(42);
    let opened = pool
        .open_file_with(dir.path().join("a.db"), FileOptions::new().id(id).wal(wal.clone()))
        .unwrap();
    assert_eq!(opened, id);
    assert!(matches!(
        pool.open_file_with(dir.path().join("b.db"), FileOptions::new().id(id)),
        Err(Error::FileIdInUse(f)) if f == id
    ));
    assert!(matches!(
        pool.open_storage_with(Instrumented::new(), FileOptions::new().id(id)),
        Err(Error::FileIdInUse(f)) if f == id
    ));
    // The refused opens left nothing behind: b.db opens under a fresh id, and the id is free after a close.
    let other = pool.open_file(dir.path().join("b.db")).unwrap();
    assert_ne!(other, id);
    pool.close_file(id).unwrap();
    assert_eq!(
        pool.open_file_with(dir.path().join("a.db"), FileOptions::new().id(id))
            .unwrap(),
        id
    );
    assert!(matches!(
        pool.open_storage_with(Instrumented::new(), FileOptions::new().id(FileId(u32::MAX))),
        Err(Error::InvalidConfig(_))
    ));
}
