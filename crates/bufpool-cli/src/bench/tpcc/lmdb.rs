//! LMDB (through `heed`) as a TPC-C engine: one environment holding the eleven tables and indexes as named
//! databases; each transaction is one LMDB write transaction (LMDB runs one writer at a time, so writers are
//! serialised by LMDB itself) or, read-only, one read transaction (a snapshot). Rolling back is aborting.
//!
//! The environment is opened with `NO_SYNC` (no `WRITE_MAP`, so the file grows only as the data does):
//! `nondurable-autocommit` commits only; `durable` commits then `mdb_env_sync`s (what LMDB's synchronous commit
//! does); `batch:N` syncs after every N-th commit of a thread. LMDB reads through its map of the file (the OS page
//! cache); below `--pool-fraction 1` a [`CacheBound`] of the pool's bytes bounds that while runs go on.

use std::ops::{Bound, Range};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

use crate::bench::page_cache::CacheBound;

use super::engine::{part_of, Access, Body, Durability, Engine, Txn, Worker, WHOLE};
use super::schema::Table;

type Db = Database<'static, Bytes, Bytes>;

/// The TPC-C tables in one LMDB environment.
pub struct Lmdb {
    env: Env<WithoutTls>,
    dbs: [Db; 11],
    dir: std::path::PathBuf,
    syncs: AtomicU64,
    /// Out of memory: how much of its map and file may stay resident (`None`: no bound).
    bound: Option<CacheBound>,
}

impl Lmdb {
    /// Opens (or creates) the environment in `dir` with a map of `map_bytes`; `budget_bytes` (out of memory)
    /// bounds what of its file may stay resident while runs go on.
    pub fn open(dir: &Path, map_bytes: usize, budget_bytes: Option<u64>) -> Result<Lmdb> {
        std::fs::create_dir_all(dir)?;
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        opts.map_size(map_bytes)
            .max_dbs(Table::ALL.len() as u32)
            .max_readers(126);
        // SAFETY: heed marks opening unsafe because LMDB's guarantees rest on the flags' contracts: NO_SYNC gives
        // up durability until `force_sync` (which every durable commit and the load call), and the environment
        // must not be opened twice in one process (each directory is opened once at a time).
        let env = unsafe {
            opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_READ_AHEAD);
            opts.open(dir)
        }
        .with_context(|| format!("opening LMDB in {}", dir.display()))?;
        let wtxn = env.write_txn()?;
        let dbs = env
            .create_databases_and_commit(wtxn, |o, w| {
                let mut v = Vec::with_capacity(Table::ALL.len());
                for t in Table::ALL {
                    v.push(o.create_database::<Bytes, Bytes>(w, Some(t.name()))?);
                }
                let arr: [_; 11] = v.try_into().map_err(|_| heed::Error::Io(std::io::Error::other("11")))?;
                Ok::<_, heed::Error>(CommitOrAbort::<_, ()>::Commit(arr))
            })
            .map_err(|e: heed::Error| e)?;
        let CommitOrAbort::Commit(dbs) = dbs else {
            bail!("LMDB: creating the databases was aborted");
        };
        let bound = budget_bytes
            .map(|b| CacheBound::mapped(&dir.join("data.mdb"), b))
            .transpose()?;
        Ok(Lmdb {
            env,
            dbs,
            dir: dir.to_path_buf(),
            syncs: AtomicU64::new(0),
            bound,
        })
    }

    fn sync(&self) -> Result<()> {
        self.env.force_sync()?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Scans `db` in `txn` (a read or a write transaction).
fn scan(
    db: Db,
    txn: &RoTxn<'_, WithoutTls>,
    from: &[u8],
    to: &[u8],
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    // LMDB refuses an empty key, even as a bound: an empty `from` is the start of the table.
    let lo = if from.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Included(from)
    };
    let range = (lo, Bound::Excluded(to));
    for pair in db.range(txn, &range)? {
        let (k, v) = pair?;
        if !f(k, v) {
            break;
        }
    }
    Ok(())
}

/// Copies bytes `part` of `key`'s value (borrowed from the map) into `out`.
fn get(db: Db, txn: &RoTxn<'_, WithoutTls>, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
    Ok(db
        .get(txn, key)?
        .map(|v| {
            out.clear();
            out.extend_from_slice(&v[part_of(v, &part)]);
        })
        .is_some())
}

struct WriteTxn<'a> {
    dbs: &'a [Db; 11],
    txn: RwTxn<'a>,
}

impl Txn for WriteTxn<'_> {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(self.dbs[t.index()], &self.txn, key, WHOLE, out)
    }
    fn get_part(&mut self, t: Table, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        get(self.dbs[t.index()], &self.txn, key, part, out)
    }
    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()> {
        Ok(self.dbs[t.index()].put(&mut self.txn, key, val)?)
    }
    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()> {
        self.dbs[t.index()].delete(&mut self.txn, key)?;
        Ok(())
    }
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        scan(self.dbs[t.index()], &self.txn, from, to, f)
    }
}

struct ReadTxn<'a> {
    dbs: &'a [Db; 11],
    txn: RoTxn<'a, WithoutTls>,
}

impl Txn for ReadTxn<'_> {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(self.dbs[t.index()], &self.txn, key, WHOLE, out)
    }
    fn get_part(&mut self, t: Table, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        get(self.dbs[t.index()], &self.txn, key, part, out)
    }
    fn put(&mut self, _: Table, _: &[u8], _: &[u8]) -> Result<()> {
        bail!("a write in a read-only transaction")
    }
    fn delete(&mut self, _: Table, _: &[u8]) -> Result<()> {
        bail!("a write in a read-only transaction")
    }
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        scan(self.dbs[t.index()], &self.txn, from, to, f)
    }
}

/// A thread's handle on LMDB.
pub struct LmdbWorker<'a> {
    lmdb: &'a Lmdb,
    durability: Durability,
    commits: u64,
}

impl Worker for LmdbWorker<'_> {
    fn run(&mut self, access: &Access, body: Body<'_>) -> Result<bool> {
        let read_only = access.read_only;
        let l = self.lmdb;
        if read_only {
            let mut t = ReadTxn {
                dbs: &l.dbs,
                txn: l.env.read_txn()?,
            };
            return body(&mut t);
        }
        let mut t = WriteTxn {
            dbs: &l.dbs,
            txn: l.env.write_txn()?,
        };
        if !body(&mut t)? {
            t.txn.abort();
            return Ok(false);
        }
        t.txn.commit()?;
        self.commits += 1;
        if self.durability.commits_after(self.commits) {
            l.sync()?;
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        if self.durability != Durability::NondurableAutocommit {
            self.lmdb.sync()?;
        }
        Ok(())
    }
}

impl Engine for Lmdb {
    type Worker<'a> = LmdbWorker<'a>;

    fn worker(&self, durability: Durability) -> Result<LmdbWorker<'_>> {
        Ok(LmdbWorker {
            lmdb: self,
            durability,
            commits: 0,
        })
    }

    fn load(&self, body: &mut dyn FnMut(&mut dyn Txn) -> Result<()>) -> Result<()> {
        let mut t = WriteTxn {
            dbs: &self.dbs,
            txn: self.env.write_txn()?,
        };
        body(&mut t)?;
        t.txn.commit()?;
        Ok(())
    }

    fn finish_load(&self) -> Result<()> {
        self.env.force_sync().map_err(|e| anyhow!(e))
    }

    fn tick(&self) -> Result<Duration> {
        Ok(CacheBound::tick_optional(self.bound.as_ref()))
    }

    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn db_bytes(&self) -> u64 {
        std::fs::metadata(self.dir.join("data.mdb")).map_or(0, |m| m.len())
    }

    fn settle(&self) -> Result<()> {
        self.env.force_sync()?;
        Ok(())
    }
}
