//! LMDB (through the `heed` crate) as a benchmarked system: one unnamed database of `Bytes -> Bytes` in an
//! environment directory.
//!
//! LMDB maps its file and reads through the OS page cache; it has no cache of its own. Out of memory it is bounded
//! by a [`CacheBound`] of the pool's budget (`crate::bench::page_cache`): when more of its file than the budget is
//! resident, [`Lmdb::tick`] drops its map's pages from the process and its file from the OS page cache, so its
//! reads reach the device. Load: `WRITE_MAP | NO_SYNC | NO_META_SYNC | MAP_ASYNC` (its fastest documented settings) in
//! write transactions of [`LOAD_TXN_TUPLES`], then one `force_sync`; `--load-order bulk` puts with
//! `MDB_APPEND` ([`LmdbLoader`]'s bulk path). Runs: `WRITE_MAP | NO_SYNC`; each write its
//! own transaction (`nondurable-autocommit`), followed by `mdb_env_sync` (`durable`: what LMDB's synchronous
//! commit does with `WRITE_MAP`), or a thread's N writes in one transaction then `mdb_env_sync` (`batch:N`);
//! each reader keeps a read transaction for [`READS_PER_TXN`] reads (or until it writes).

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use anyhow::{Context, Result};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, PutFlags, RoTxn, RwTxn, WithoutTls};

use crate::bench::page_cache::CacheBound;

use super::driver::{check_scan, Durability, KvStore, KvWorker, Loader};
use super::tuple::{self, key, value};

/// Tuples per write transaction during the load.
pub const LOAD_TXN_TUPLES: u64 = 100_000;
/// Reads a reader makes in one read transaction.
pub const READS_PER_TXN: u32 = 256;

/// The database handle, valid while the environment is borrowed.
type Db<'e> = Database<'e, Bytes, Bytes>;

/// An open LMDB environment holding one unnamed database.
pub struct Lmdb {
    env: Env<WithoutTls>,
    /// Out of memory: its map and file may keep the pool's budget resident (`None`: leave them alone).
    bound: Option<CacheBound>,
    dir: std::path::PathBuf,
    /// Durable commits of the runs so far.
    syncs: AtomicU64,
}

impl Lmdb {
    /// Opens (or creates) the environment in `dir` with a map of `map_bytes`; `load` selects the load flags;
    /// `budget_bytes` (out of memory) bounds what of its file it may keep resident while cases run.
    pub fn open(dir: &Path, map_bytes: usize, load: bool, budget_bytes: Option<u64>) -> Result<Lmdb> {
        std::fs::create_dir_all(dir)?;
        let mut flags = EnvFlags::WRITE_MAP | EnvFlags::NO_SYNC | EnvFlags::NO_READ_AHEAD;
        if load {
            flags |= EnvFlags::NO_META_SYNC | EnvFlags::MAP_ASYNC;
        }
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        opts.map_size(map_bytes).max_dbs(1).max_readers(126);
        // SAFETY: heed marks these unsafe because LMDB's guarantees rest on the flags' contracts: NO_SYNC and
        // MAP_ASYNC give up durability until `force_sync` (which the load calls), and the environment must not be
        // opened twice in one process (we open each benchmark directory once at a time).
        let env = unsafe {
            opts.flags(flags);
            opts.open(dir)
        }
        .with_context(|| format!("opening LMDB in {}", dir.display()))?;
        let wtxn = env.write_txn()?;
        env.create_databases_and_commit(wtxn, |o, w| {
            o.create_database::<Bytes, Bytes>(w, None)
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .map_err(|e: heed::Error| e)?;
        // LMDB reports its map's address only for a fixed map (`me_mapaddr`), so the bound finds it in our maps.
        let bound = budget_bytes
            .map(|b| CacheBound::mapped(&dir.join("data.mdb"), b))
            .transpose()?;
        Ok(Lmdb {
            env,
            bound,
            dir: dir.to_path_buf(),
            syncs: AtomicU64::new(0),
        })
    }

    /// A handle on the database.
    fn db(&self) -> Result<Db<'_>> {
        let rtxn = self.env.read_txn()?;
        let db = self
            .env
            .open_databases_and_commit(rtxn, |o, r| {
                o.open_database::<Bytes, Bytes>(r, None)
                    .map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(|e: heed::Error| e)?;
        match db {
            CommitOrAbort::Commit(Some(db)) => Ok(db),
            _ => anyhow::bail!("LMDB: the database is missing"),
        }
    }

    /// Flushes the map to the file (runs use `NO_SYNC`).
    pub fn sync(&self) -> Result<()> {
        self.env.force_sync()?;
        Ok(())
    }

    /// A loader over this environment.
    pub fn loader(&self) -> Result<LmdbLoader<'_>> {
        Ok(LmdbLoader {
            lmdb: self,
            db: self.db()?,
            txn: None,
            in_txn: 0,
        })
    }

    /// Live pages of the database (branch, leaf and overflow pages), not the map's free space.
    pub fn live_pages(&self) -> Result<u64> {
        let db = self.db()?;
        let rtxn = self.env.read_txn()?;
        let st = db.stat(&rtxn)?;
        Ok((st.branch_pages + st.leaf_pages + st.overflow_pages) as u64 * u64::from(st.page_size) / 4096)
    }

    /// Bytes of the data file in `dir`.
    pub fn file_bytes(dir: &Path) -> Result<u64> {
        Ok(std::fs::metadata(dir.join("data.mdb"))?.len())
    }
}

/// Loads LMDB in transactions of [`LOAD_TXN_TUPLES`].
pub struct LmdbLoader<'a> {
    lmdb: &'a Lmdb,
    db: Db<'a>,
    txn: Option<RwTxn<'a>>,
    in_txn: u64,
}

impl LmdbLoader<'_> {
    /// Puts tuple `id` with `flags` into the open load transaction (opening one if needed), and commits the
    /// transaction once it holds [`LOAD_TXN_TUPLES`].
    fn put(&mut self, id: u64, flags: PutFlags) -> Result<()> {
        let txn = match &mut self.txn {
            Some(txn) => txn,
            none => none.insert(self.lmdb.env.write_txn()?),
        };
        self.db.put_with_flags(txn, flags, &key(id), &value(id, 0))?;
        self.in_txn += 1;
        if self.in_txn >= LOAD_TXN_TUPLES {
            if let Some(txn) = self.txn.take() {
                txn.commit()?;
            }
            self.in_txn = 0;
        }
        Ok(())
    }
}

impl Loader for LmdbLoader<'_> {
    fn insert(&mut self, id: u64) -> Result<()> {
        self.put(id, PutFlags::empty())
    }

    /// LMDB's bulk path: `MDB_APPEND` puts (each key goes to the end of the last leaf, which splits without
    /// moving entries), in the same transactions of [`LOAD_TXN_TUPLES`] as ordinary puts. LMDB refuses a key not
    /// above the last one (`MDB_KEYEXIST`), which fails the load.
    fn bulk(&mut self, ids: &[u64]) -> Result<bool> {
        for &id in ids {
            self.put(id, PutFlags::APPEND)?;
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(txn) = self.txn.take() {
            txn.commit()?;
        }
        self.lmdb.env.force_sync()?;
        Ok(())
    }
}

impl KvStore for Lmdb {
    type Worker<'a> = LmdbWorker<'a>;

    fn worker(&self, durability: Durability) -> Result<LmdbWorker<'_>> {
        Ok(LmdbWorker {
            lmdb: self,
            db: self.db()?,
            txn: None,
            reads: 0,
            durability,
            batch: None,
            writes: 0,
        })
    }

    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn settle(&self) -> Result<()> {
        self.sync()
    }

    fn memory_bytes(&self) -> u64 {
        // LMDB's cache is its file's pages in the OS page cache (its map shares them).
        super::driver::resident_bytes(&self.dir.join("data.mdb"))
    }

    fn tick(&self) -> Duration {
        CacheBound::tick_optional(self.bound.as_ref())
    }
}

/// A thread's handle on LMDB.
pub struct LmdbWorker<'a> {
    lmdb: &'a Lmdb,
    db: Db<'a>,
    txn: Option<RoTxn<'a, WithoutTls>>,
    reads: u32,
    durability: Durability,
    /// `batch:N`: the open write transaction of this thread's current batch.
    batch: Option<RwTxn<'a>>,
    writes: u64,
}

impl LmdbWorker<'_> {
    fn sync(&self) -> Result<()> {
        self.lmdb.env.force_sync()?;
        self.lmdb.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl<'a> LmdbWorker<'a> {
    fn txn(&mut self) -> Result<&RoTxn<'a, WithoutTls>> {
        if self.reads >= READS_PER_TXN {
            self.txn = None;
        }
        if self.txn.is_none() {
            self.txn = Some(self.lmdb.env.read_txn()?);
            self.reads = 0;
        }
        self.reads += 1;
        Ok(self.txn.as_ref().expect("just set"))
    }
}

impl KvWorker for LmdbWorker<'_> {
    fn get(&mut self, id: u64) -> Result<u64> {
        let db = self.db;
        let txn = self.txn()?;
        tuple::check(id, db.get(txn, &key(id))?)
    }

    fn get_many(&mut self, ids: &[u64]) -> Result<()> {
        // LMDB has no batch lookup: the batch shares one read transaction.
        self.txn = None;
        let db = self.db;
        let txn = self.txn()?;
        for &id in ids {
            tuple::check(id, db.get(txn, &key(id))?)?;
        }
        Ok(())
    }

    fn put(&mut self, id: u64, version: u64) -> Result<()> {
        // A thread should not hold a read transaction while it waits for the writer lock (it would pin old
        // pages for no reason): drop it first.
        self.txn = None;
        let mut w = match self.batch.take() {
            Some(w) => w,
            None => self.lmdb.env.write_txn()?,
        };
        self.db.put(&mut w, &key(id), &value(id, version))?;
        self.writes += 1;
        match self.durability {
            Durability::NondurableAutocommit => w.commit()?,
            d if d.commits_after(self.writes) => {
                w.commit()?;
                self.sync()?;
            }
            _ => self.batch = Some(w),
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.batch.take() {
            w.commit()?;
            self.sync()?;
        }
        Ok(())
    }

    fn scan(&mut self, id: u64, len: u64) -> Result<u64> {
        let db = self.db;
        let k = key(id);
        let txn = self.txn()?;
        let range = (Bound::Included(&k[..]), Bound::Unbounded);
        check_scan(db.range(txn, &range)?.map(|p| p.map_err(anyhow::Error::from)), len)
    }

    fn scan_all(&mut self) -> Result<u64> {
        self.txn = None;
        let db = self.db;
        let txn = self.txn()?;
        check_scan(db.iter(txn)?.map(|p| p.map_err(anyhow::Error::from)), u64::MAX)
    }
}
