//! Two engines sharing one pool, each with its own log.
//!
//! ```text
//! cargo run -p bufpool --example two_engines
//! ```
//!
//! An "accounts" engine and an "events" engine each keep their data file and their write-ahead log in a
//! temporary directory. Both open their file in one pool with `FileOptions`: a persistent file id and their own
//! log. The pool is far smaller than the two files together, so the engines' pages evict each other's; every page
//! the pool writes, whichever engine caused the eviction, is written only after *its own engine's* log was
//! flushed to the page's LSN. At the end each engine checkpoints its own file, and the program prints how often
//! each log was asked to flush and what the pool did.
//!
//! The log here is deliberately small (a length-prefixed record per change, appended to a file; `flush_to`
//! fsyncs once per call when the log is not yet durable that far), but it is a real one: the pool calls the same
//! [`Wal`] trait a database's log would implement.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bufpool::{BufferPool, FileId, FileOptions, Lsn, PageId, Wal};
use parking_lot::Mutex;

/// An append-only log: LSN = bytes appended so far.
struct Log {
    file: Mutex<File>,
    end: AtomicU64,
    durable: AtomicU64,
    /// `flush_to` calls that had to sync.
    syncs: AtomicU64,
}

impl Log {
    fn create(path: &Path) -> std::io::Result<Arc<Log>> {
        Ok(Arc::new(Log {
            file: Mutex::new(File::create(path)?),
            end: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        }))
    }

    /// Appends a record describing a change and returns its LSN (the log's end after it).
    fn append(&self, record: &[u8]) -> std::io::Result<Lsn> {
        let mut f = self.file.lock();
        f.write_all(&(record.len() as u32).to_le_bytes())?;
        f.write_all(record)?;
        Ok(self.end.fetch_add(4 + record.len() as u64, Ordering::SeqCst) + 4 + record.len() as u64)
    }
}

impl Wal for Log {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        if self.durable.load(Ordering::SeqCst) >= lsn {
            return Ok(());
        }
        let f = self.file.lock();
        let end = self.end.load(Ordering::SeqCst);
        f.sync_data().map_err(|e| bufpool::Error::Wal {
            lsn,
            reason: e.to_string().into(),
        })?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.durable.fetch_max(end, Ordering::SeqCst);
        Ok(())
    }
}

/// One engine: a data file of fixed-size slots in the shared pool, and its own log.
struct Engine {
    pool: Arc<BufferPool>,
    file: FileId,
    log: Arc<Log>,
}

impl Engine {
    fn open(pool: Arc<BufferPool>, dir: &Path, name: &str, id: FileId) -> bufpool::Result<Engine> {
        let log = Log::create(&dir.join(format!("{name}.wal"))).map_err(|e| bufpool::Error::Wal {
            lsn: 0,
            reason: e.to_string().into(),
        })?;
        let options = FileOptions::new().id(id).wal(log.clone());
        let file = pool.open_file_with(dir.join(format!("{name}.db")), options)?;
        Ok(Engine { pool, file, log })
    }

    /// Sets the `u64` in slot `slot` of page `page` (creating pages up to it): log the change, then change the page
    /// under its write guard and stamp the record's LSN on it.
    fn set(&self, page: u32, slot: usize, value: u64) -> bufpool::Result<()> {
        while self.pool.file_pages(self.file)? <= page {
            drop(self.pool.new_page(self.file)?);
        }
        let mut g = self.pool.write(PageId::new(self.file, page))?;
        let record = [
            &page.to_le_bytes()[..],
            &(slot as u32).to_le_bytes(),
            &value.to_le_bytes(),
        ]
        .concat();
        let lsn = self.log.append(&record).map_err(|e| bufpool::Error::Wal {
            lsn: 0,
            reason: e.to_string().into(),
        })?;
        g[slot * 8..slot * 8 + 8].copy_from_slice(&value.to_le_bytes());
        g.set_lsn(lsn);
        Ok(())
    }

    fn get(&self, page: u32, slot: usize) -> bufpool::Result<u64> {
        self.pool
            .read_optimistic(PageId::new(self.file, page), |v| v.read_u64(slot * 8))
    }

    /// Makes this engine's pages durable (not the other engine's).
    fn checkpoint(&self) -> bufpool::Result<()> {
        self.pool.flush_file(self.file)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // 32 frames for 2 x 64 pages: the engines evict each other's pages all the time.
    let pool = Arc::new(BufferPool::builder().frames(32).build()?);
    let accounts = Engine::open(pool.clone(), dir.path(), "accounts", FileId(1))?;
    let events = Engine::open(pool.clone(), dir.path(), "events", FileId(2))?;

    for round in 0..4u64 {
        for page in 0..64u32 {
            accounts.set(page, (round % 8) as usize, 1000 * round + u64::from(page))?;
            events.set(page, (round % 8) as usize, 7 * round + u64::from(page))?;
        }
    }
    for page in 0..64u32 {
        assert_eq!(accounts.get(page, 3)?, 3000 + u64::from(page));
        assert_eq!(events.get(page, 3)?, 21 + u64::from(page));
    }
    accounts.checkpoint()?;
    events.checkpoint()?;

    let stats = pool.stats();
    println!(
        "accounts: log {} bytes, {} log syncs asked by the pool",
        accounts.log.end.load(Ordering::Relaxed),
        accounts.log.syncs.load(Ordering::Relaxed)
    );
    println!(
        "events:   log {} bytes, {} log syncs asked by the pool",
        events.log.end.load(Ordering::Relaxed),
        events.log.syncs.load(Ordering::Relaxed)
    );
    println!("{stats}");
    Ok(())
}
