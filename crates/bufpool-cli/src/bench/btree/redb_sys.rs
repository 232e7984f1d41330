//! redb as a benchmarked system: one table of `&[u8] -> &[u8]` in one file, with redb's own page cache set to
//! the case's memory (`Builder::set_cache_size`).
//!
//! Load: write transactions of [`LOAD_TXN_TUPLES`] inserts committed with `Durability::None`, the last one with
//! `Durability::Immediate` (redb's fastest documented way to bulk-load durably). Runs: each write is its own
//! transaction with `Durability::None` (`nondurable-autocommit`) or `Durability::Immediate` (`durable`), or a
//! thread's N writes share one transaction committed with `Durability::Immediate` (`batch:N`; the thread holds
//! redb's single write transaction meanwhile, as an application batching writes would); each reader keeps a read transaction for [`READS_PER_TXN`] reads (or
//! until it writes itself), so the per-transaction set-up is shared as a real reader would share it.
//!
//! redb reads its file through the OS page cache, which its cache size does not bound. When a case must be out
//! of memory, [`RedbSys::tick`] evicts the file from the OS page cache every few milliseconds (a
//! [`CacheBound`] with no budget: redb's own cache is the budget), so redb's cache misses reach the device as the
//! pool's do.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use anyhow::{Context, Result};
use redb::{Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use crate::bench::page_cache::CacheBound;

use super::driver::{Durability, KvStore, KvWorker, Loader};
use super::tuple::{self, key, value};

/// Tuples per write transaction during the load.
pub const LOAD_TXN_TUPLES: u64 = 100_000;
/// Reads a reader makes in one read transaction.
pub const READS_PER_TXN: u32 = 256;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tuples");

/// The file of the database in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("redb.db")
}

/// An open redb database.
pub struct RedbSys {
    db: Database,
    /// Out of memory: keeps the file out of the OS page cache (`None`: leave the cache alone).
    bound: Option<CacheBound>,
    path: PathBuf,
    cache_bytes: usize,
    /// Durable commits of the runs so far.
    syncs: AtomicU64,
}

impl RedbSys {
    /// Opens (or creates) the database in `dir` with a cache of `cache_bytes`; `out_of_memory` keeps its file
    /// out of the OS page cache while cases run.
    pub fn open(dir: &Path, cache_bytes: usize, out_of_memory: bool) -> Result<RedbSys> {
        std::fs::create_dir_all(dir)?;
        let p = path(dir);
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(&p)
            .with_context(|| format!("opening redb at {}", p.display()))?;
        let bound = if out_of_memory {
            Some(CacheBound::file(&p)?)
        } else {
            None
        };
        Ok(RedbSys {
            db,
            bound,
            path: p,
            cache_bytes,
            syncs: AtomicU64::new(0),
        })
    }

    /// Makes every commit so far durable (runs commit with `Durability::None`).
    pub fn sync(&self) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)?;
        txn.commit()?;
        Ok(())
    }

    /// A loader over this database.
    pub fn loader(&self) -> RedbLoader<'_> {
        RedbLoader {
            db: &self.db,
            txn: None,
            in_txn: 0,
        }
    }

    /// Live pages (4 KiB) of the database: its trees' branch and leaf pages, not the file's free space.
    pub fn live_pages(&self) -> Result<u64> {
        let st = self.db.begin_write()?.stats()?;
        Ok((st.leaf_pages() + st.branch_pages()) * st.page_size() as u64 / 4096)
    }

    /// Bytes of the database file.
    pub fn file_bytes(dir: &Path) -> Result<u64> {
        Ok(std::fs::metadata(path(dir))?.len())
    }
}

/// Loads redb in transactions of [`LOAD_TXN_TUPLES`].
pub struct RedbLoader<'a> {
    db: &'a Database,
    txn: Option<redb::WriteTransaction>,
    in_txn: u64,
}

impl RedbLoader<'_> {
    fn commit(&mut self, durability: redb::Durability) -> Result<()> {
        if let Some(mut txn) = self.txn.take() {
            txn.set_durability(durability)?;
            txn.commit()?;
        }
        self.in_txn = 0;
        Ok(())
    }
}

impl Loader for RedbLoader<'_> {
    fn insert(&mut self, id: u64) -> Result<()> {
        if self.txn.is_none() {
            self.txn = Some(self.db.begin_write()?);
        }
        let txn = self.txn.as_ref().expect("just set");
        txn.open_table(TABLE)?.insert(&key(id)[..], &value(id, 0)[..])?;
        self.in_txn += 1;
        if self.in_txn >= LOAD_TXN_TUPLES {
            self.commit(redb::Durability::None)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.txn.is_none() {
            self.txn = Some(self.db.begin_write()?);
            self.txn.as_ref().expect("just set").open_table(TABLE)?;
        }
        self.commit(redb::Durability::Immediate)
    }
}

impl KvStore for RedbSys {
    type Worker<'a> = RedbWorker<'a>;

    fn worker(&self, durability: Durability) -> Result<RedbWorker<'_>> {
        Ok(RedbWorker {
            db: &self.db,
            table: None,
            reads: 0,
            durability,
            batch: None,
            writes: 0,
            syncs: &self.syncs,
        })
    }

    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn settle(&self) -> Result<()> {
        self.sync()
    }

    fn memory_bytes(&self) -> u64 {
        // The cache's bound (redb does not report what it holds) plus its file's pages in the OS page cache.
        self.cache_bytes as u64 + super::driver::resident_bytes(&self.path)
    }

    fn tick(&self) -> Duration {
        CacheBound::tick_optional(self.bound.as_ref())
    }
}

fn commit(mut txn: redb::WriteTransaction, durability: redb::Durability) -> Result<()> {
    txn.set_durability(durability)?;
    txn.commit()?;
    Ok(())
}

/// Checks up to `len` pairs of `range` through redb's borrowed guards (no copy, as the other systems' scans
/// borrow); returns how many there were.
fn visit(range: redb::Range<'_, &'static [u8], &'static [u8]>, len: u64) -> Result<u64> {
    let mut n = 0;
    for pair in range.take(len as usize) {
        let (k, v) = pair?;
        tuple::check_pair(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

/// A thread's handle on redb.
pub struct RedbWorker<'a> {
    db: &'a Database,
    table: Option<ReadOnlyTable<&'static [u8], &'static [u8]>>,
    reads: u32,
    durability: Durability,
    /// `batch:N`: the open write transaction of this thread's current batch.
    batch: Option<redb::WriteTransaction>,
    writes: u64,
    syncs: &'a AtomicU64,
}

impl RedbWorker<'_> {
    fn table(&mut self) -> Result<&ReadOnlyTable<&'static [u8], &'static [u8]>> {
        if self.reads >= READS_PER_TXN {
            self.table = None;
        }
        if self.table.is_none() {
            self.table = Some(self.db.begin_read()?.open_table(TABLE)?);
            self.reads = 0;
        }
        self.reads += 1;
        Ok(self.table.as_ref().expect("just set"))
    }
}

impl KvWorker for RedbWorker<'_> {
    fn get(&mut self, id: u64) -> Result<u64> {
        let got = self.table()?.get(&key(id)[..])?;
        tuple::check(id, got.as_ref().map(|g| g.value()))
    }

    fn get_many(&mut self, ids: &[u64]) -> Result<()> {
        // redb has no batch lookup: the batch shares one read transaction.
        self.table = None;
        let t = self.table()?;
        for &id in ids {
            let got = t.get(&key(id)[..])?;
            tuple::check(id, got.as_ref().map(|g| g.value()))?;
        }
        Ok(())
    }

    fn put(&mut self, id: u64, version: u64) -> Result<()> {
        let txn = match self.batch.take() {
            Some(txn) => txn,
            None => self.db.begin_write()?,
        };
        txn.open_table(TABLE)?.insert(&key(id)[..], &value(id, version)[..])?;
        self.writes += 1;
        match self.durability {
            Durability::NondurableAutocommit => commit(txn, redb::Durability::None)?,
            d if d.commits_after(self.writes) => {
                commit(txn, redb::Durability::Immediate)?;
                self.syncs.fetch_add(1, Ordering::Relaxed);
            }
            _ => self.batch = Some(txn),
        }
        self.table = None;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(txn) = self.batch.take() {
            commit(txn, redb::Durability::Immediate)?;
            self.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn scan(&mut self, id: u64, len: u64) -> Result<u64> {
        let k = key(id);
        let range = self.table()?.range::<&[u8]>(&k[..]..)?;
        visit(range, len)
    }

    fn scan_all(&mut self) -> Result<u64> {
        self.table = None;
        let range = self.table()?.range::<&[u8]>(..)?;
        visit(range, u64::MAX)
    }
}
