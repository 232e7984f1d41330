//! The WAL rule: no page reaches storage before `wal.flush_to(page_lsn)` returned. A recording WAL keeps the
//! durable LSN; the storage checks, at every write, that the LSN in the page being written is already durable.
//! Pages are written through every path: eviction, flush, checkpoint, close.

use crate::common;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::{BufferPool, PageId, Wal};

#[derive(Default)]
struct RecordingWal {
    durable: AtomicU64,
    calls: AtomicUsize,
}

impl Wal for RecordingWal {
    fn flush_to(&self, lsn: u64) -> bufpool::Result<()> {
        self.calls.fetch_add(1, SeqCst);
        self.durable.fetch_max(lsn, SeqCst);
        Ok(())
    }
}

#[test]
fn every_write_follows_its_log_flush() {
    let wal = Arc::new(RecordingWal::default());
    let storage = common::Instrumented::new();
    let violations = Arc::new(AtomicUsize::new(0));
    {
        let (wal, violations) = (wal.clone(), violations.clone());
        *storage.on_write.lock() = Some(Box::new(move |_off, page: &[u8]| {
            let lsn = u64::from_le_bytes(page[8..16].try_into().unwrap());
            if lsn > wal.durable.load(SeqCst) {
                violations.fetch_add(1, SeqCst);
            }
        }));
    }
    let pool = BufferPool::builder().frames(8).wal(wal.clone()).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let mut lsn = 0;
    for n in 0..64u32 {
        let mut g = pool.new_page(file).unwrap();
        lsn += 10;
        g.set_lsn(lsn);
        g[0] = n as u8;
    }
    for round in 0..3 {
        for n in (0..64u32).rev() {
            let mut g = pool.write(PageId::new(file, n)).unwrap();
            lsn += 1;
            g.set_lsn(lsn);
            g[1] = round;
            drop(g);
            if n % 9 == 0 {
                pool.flush(PageId::new(file, n)).unwrap();
            }
        }
        pool.checkpoint().unwrap();
    }
    assert!(
        storage.writes.load(SeqCst) > 64 * 3,
        "pages were written through eviction and checkpoints"
    );
    assert_eq!(
        violations.load(SeqCst),
        0,
        "a page was written before its LSN was durable"
    );
    assert_eq!(wal.calls.load(SeqCst) as u64, pool.stats().wal_flushes);
    assert!(pool.stats().dirty_evictions > 0);
    let g = pool.read(PageId::new(file, 5)).unwrap();
    assert_eq!(g.lsn(), pool.read(PageId::new(file, 5)).unwrap().lsn());
}

/// A WAL that cannot flush keeps the page dirty and unwritten.
#[test]
fn failed_log_flush_blocks_the_write() {
    struct BrokenWal;
    impl Wal for BrokenWal {
        fn flush_to(&self, lsn: u64) -> bufpool::Result<()> {
            Err(bufpool::Error::Wal {
                lsn,
                reason: "log device gone".into(),
            })
        }
    }
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder()
        .frames(4)
        .wal(Arc::new(BrokenWal))
        .build()
        .unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        g.set_lsn(1); // a page without an LSN needs no log flush (tests/new_user_errors.rs)
        g.page_id()
    };
    assert!(matches!(pool.flush(page), Err(bufpool::Error::Wal { lsn: 1, .. })));
    assert_eq!(storage.writes.load(SeqCst), 0);
    assert_eq!(pool.stats().dirty, 1, "the page is still dirty");
    let _ = PageId::new(file, 0);
}
