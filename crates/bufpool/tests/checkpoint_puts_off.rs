//! A flush or checkpoint puts off the runs whose log is not durable far enough (`Wal::needs_flush_for_pages`)
//! and flushes the log once for all of them (issue 15). Before, it asked the log run by run, and a log that
//! flushes exactly as far as it is asked (as a log above pages changed all the time ends up doing: TPC-C's
//! transaction log, never synced by its nondurable commits) paid an fsync for every run whose page had changed
//! since the last: one run in 15 of every checkpoint in TPC-C in memory.
//!
//! The storage checks the write-ahead rule at each write: every page image carries an LSN its log had made
//! durable already.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, FileId, FileOptions, Lsn, PageId, Wal};
use common::Instrumented;
use parking_lot::Mutex;

const PAGE: usize = 4096;

/// A log that is durable exactly as far as it was asked (each advance an "fsync"), and that tells the pool
/// whether a run would need one, unless `hints` is off (then the trait's default: never).
struct ExactWal {
    durable: AtomicU64,
    syncs: AtomicU64,
    hints: bool,
}

impl ExactWal {
    fn new(hints: bool) -> Arc<ExactWal> {
        Arc::new(ExactWal {
            durable: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            hints,
        })
    }
}

impl Wal for ExactWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        if self.durable.fetch_max(lsn, SeqCst) < lsn {
            self.syncs.fetch_add(1, SeqCst);
        }
        Ok(())
    }

    fn needs_flush_for_pages(&self, lsn: Lsn, _first: PageId, _count: usize) -> bool {
        self.hints && self.durable.load(SeqCst) < lsn
    }
}

/// Opens a file whose storage records the page numbers it writes, and every write that breaks the write-ahead
/// rule of `wal`.
fn open_checked(
    pool: &BufferPool,
    wal: Arc<ExactWal>,
    written: Arc<Mutex<Vec<u64>>>,
    violations: Arc<Mutex<Vec<String>>>,
) -> FileId {
    let s = Instrumented::new();
    let log = wal.clone();
    *s.on_write.lock() = Some(Box::new(move |offset, buf| {
        for (k, page) in buf.chunks(PAGE).enumerate() {
            written.lock().push(offset / PAGE as u64 + k as u64);
            let lsn = u64::from_le_bytes(page[8..16].try_into().unwrap());
            let durable = log.durable.load(SeqCst);
            if lsn > durable {
                violations.lock().push(format!(
                    "page {} written with LSN {lsn}, its log durable to {durable}",
                    offset / PAGE as u64 + k as u64
                ));
            }
        }
    }));
    pool.open_storage_with(s, FileOptions::new().wal(wal)).unwrap()
}

/// Every other one of pages 0..20 changed with rising LSNs from `base`: ten runs of one page, each needing the
/// log further than the one before.
fn dirty_alternate_pages(pool: &BufferPool, file: FileId, base: Lsn) {
    for n in (0..20u32).step_by(2) {
        let mut g = pool.write(PageId::new(file, n)).unwrap();
        common::fill_page(&mut g, n, base + u64::from(n));
        g.set_lsn(base + u64::from(n));
    }
}

#[test]
fn a_checkpoint_flushes_the_log_once_for_the_runs_it_put_off() {
    for (hints, syncs) in [(true, 1), (false, 10)] {
        let (written, violations) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let pool = BufferPool::builder().frames(64).build().unwrap();
        let wal = ExactWal::new(hints);
        let file = open_checked(&pool, wal.clone(), written.clone(), violations.clone());
        for n in 0..20u32 {
            let mut g = pool.new_page(file).unwrap();
            common::fill_page(&mut g, n, 1);
            g.set_lsn(1);
        }
        pool.checkpoint().unwrap();
        let even: Vec<u64> = (0..20).step_by(2).collect();
        // A checkpoint, then a flush of the file: the same path.
        for (round, base) in [(0, 100), (1, 200)] {
            dirty_alternate_pages(&pool, file, base);
            let before = wal.syncs.load(SeqCst);
            written.lock().clear();
            if round == 0 {
                pool.checkpoint().unwrap();
            } else {
                pool.flush_file(file).unwrap();
            }
            assert_eq!(
                wal.syncs.load(SeqCst) - before,
                syncs,
                "log fsyncs (hints {hints}, round {round})"
            );
            assert_eq!(wal.durable.load(SeqCst), base + 18);
            let mut w = written.lock().clone();
            w.sort_unstable();
            assert_eq!(w, even, "every changed page was written, once");
            assert!(violations.lock().is_empty(), "{:?}", violations.lock());
        }
    }
}
