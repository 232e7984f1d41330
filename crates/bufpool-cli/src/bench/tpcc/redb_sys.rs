//! redb as a TPC-C engine: one database file holding the eleven tables and indexes as redb tables; each
//! transaction is one redb write transaction (redb runs one writer at a time) or, read-only, one read
//! transaction (a snapshot). Rolling back is aborting.
//!
//! `nondurable-autocommit` commits with `Durability::None`, `durable` with `Durability::Immediate`, `batch:N`
//! makes every N-th commit of a thread `Immediate`. redb's cache is set to the pool's bytes
//! (`Builder::set_cache_size`); it reads through the OS page cache, which that does not bound, so below
//! `--pool-fraction 1` a [`CacheBound`] keeps its file out of the page cache while runs go on.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::bench::page_cache::CacheBound;

use super::engine::{part_of, Access, Body, Durability, Engine, Txn, Worker, WHOLE};
use super::schema::Table;

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// The redb table of each [`Table`], by [`Table::index`] (names as [`Table::name`]).
const DEFS: [Def; 11] = [
    TableDefinition::new("warehouse"),
    TableDefinition::new("district"),
    TableDefinition::new("customer"),
    TableDefinition::new("customer_name"),
    TableDefinition::new("history"),
    TableDefinition::new("new_order"),
    TableDefinition::new("order"),
    TableDefinition::new("order_customer"),
    TableDefinition::new("order_line"),
    TableDefinition::new("item"),
    TableDefinition::new("stock"),
];

/// The TPC-C tables in one redb database.
pub struct RedbSys {
    db: Database,
    path: PathBuf,
    syncs: AtomicU64,
    /// Out of memory: keeps the file out of the OS page cache (`None`: no bound).
    bound: Option<CacheBound>,
}

impl RedbSys {
    /// Opens (or creates) the database in `dir` with a cache of `cache_bytes`; `out_of_memory` keeps its file out
    /// of the OS page cache while runs go on.
    pub fn open(dir: &Path, cache_bytes: usize, out_of_memory: bool) -> Result<RedbSys> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("redb.db");
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path)
            .with_context(|| format!("opening redb at {}", path.display()))?;
        let bound = if out_of_memory {
            Some(CacheBound::file(&path)?)
        } else {
            None
        };
        Ok(RedbSys {
            db,
            path,
            syncs: AtomicU64::new(0),
            bound,
        })
    }
}

struct WriteTxn<'t> {
    txn: &'t redb::WriteTransaction,
    tables: Vec<Option<redb::Table<'t, &'static [u8], &'static [u8]>>>,
}

impl<'t> WriteTxn<'t> {
    fn table(&mut self, t: Table) -> Result<&mut redb::Table<'t, &'static [u8], &'static [u8]>> {
        let slot = &mut self.tables[t.index()];
        if slot.is_none() {
            *slot = Some(self.txn.open_table(DEFS[t.index()])?);
        }
        Ok(slot.as_mut().expect("just opened"))
    }
}

fn scan_range<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    from: &[u8],
    to: &[u8],
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    for pair in table.range::<&[u8]>(from..to)? {
        let (k, v) = pair?;
        if !f(k.value(), v.value()) {
            break;
        }
    }
    Ok(())
}

/// Copies bytes `part` of `key`'s value (borrowed from the table's page) into `out`.
fn get_into<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    key: &[u8],
    part: Range<usize>,
    out: &mut Vec<u8>,
) -> Result<bool> {
    Ok(table
        .get(key)?
        .map(|v| {
            let v = v.value();
            out.clear();
            out.extend_from_slice(&v[part_of(v, &part)]);
        })
        .is_some())
}

impl Txn for WriteTxn<'_> {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get_into(&*self.table(t)?, key, WHOLE, out)
    }
    fn get_part(&mut self, t: Table, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        get_into(&*self.table(t)?, key, part, out)
    }
    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()> {
        self.table(t)?.insert(key, val)?;
        Ok(())
    }
    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()> {
        self.table(t)?.remove(key)?;
        Ok(())
    }
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        scan_range(&*self.table(t)?, from, to, f)
    }
}

struct ReadTxn {
    txn: redb::ReadTransaction,
    tables: Vec<Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>>,
}

impl ReadTxn {
    fn table(&mut self, t: Table) -> Result<&redb::ReadOnlyTable<&'static [u8], &'static [u8]>> {
        let slot = &mut self.tables[t.index()];
        if slot.is_none() {
            *slot = Some(self.txn.open_table(DEFS[t.index()])?);
        }
        Ok(slot.as_ref().expect("just opened"))
    }
}

impl Txn for ReadTxn {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get_into(self.table(t)?, key, WHOLE, out)
    }
    fn get_part(&mut self, t: Table, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        get_into(self.table(t)?, key, part, out)
    }
    fn put(&mut self, _: Table, _: &[u8], _: &[u8]) -> Result<()> {
        bail!("a write in a read-only transaction")
    }
    fn delete(&mut self, _: Table, _: &[u8]) -> Result<()> {
        bail!("a write in a read-only transaction")
    }
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        scan_range(self.table(t)?, from, to, f)
    }
}

/// Runs `body` in a write transaction of `db`; `Some(txn)` to commit, `None` if it rolled back.
fn write(db: &Database, body: &mut dyn FnMut(&mut dyn Txn) -> Result<bool>) -> Result<Option<redb::WriteTransaction>> {
    let txn = db.begin_write()?;
    let commit = {
        let mut t = WriteTxn {
            txn: &txn,
            tables: (0..DEFS.len()).map(|_| None).collect(),
        };
        body(&mut t)?
    };
    if !commit {
        txn.abort()?;
        return Ok(None);
    }
    Ok(Some(txn))
}

fn commit(mut txn: redb::WriteTransaction, durability: redb::Durability) -> Result<()> {
    txn.set_durability(durability)?;
    txn.commit()?;
    Ok(())
}

/// A thread's handle on redb.
pub struct RedbWorker<'a> {
    sys: &'a RedbSys,
    durability: Durability,
    commits: u64,
    /// The last commit was not durable (`batch:N`: `finish` makes it so).
    pending: bool,
}

impl Worker for RedbWorker<'_> {
    fn run(&mut self, access: &Access, body: Body<'_>) -> Result<bool> {
        let read_only = access.read_only;
        if read_only {
            let mut t = ReadTxn {
                txn: self.sys.db.begin_read()?,
                tables: (0..DEFS.len()).map(|_| None).collect(),
            };
            return body(&mut t);
        }
        let Some(txn) = write(&self.sys.db, body)? else {
            return Ok(false);
        };
        self.commits += 1;
        if self.durability.commits_after(self.commits) {
            commit(txn, redb::Durability::Immediate)?;
            self.sys.syncs.fetch_add(1, Ordering::Relaxed);
            self.pending = false;
        } else {
            commit(txn, redb::Durability::None)?;
            self.pending = true;
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        if self.pending && self.durability != Durability::NondurableAutocommit {
            self.sys.settle()?;
            self.sys.syncs.fetch_add(1, Ordering::Relaxed);
            self.pending = false;
        }
        Ok(())
    }
}

impl Engine for RedbSys {
    type Worker<'a> = RedbWorker<'a>;

    fn worker(&self, durability: Durability) -> Result<RedbWorker<'_>> {
        Ok(RedbWorker {
            sys: self,
            durability,
            commits: 0,
            pending: false,
        })
    }

    fn load(&self, body: &mut dyn FnMut(&mut dyn Txn) -> Result<()>) -> Result<()> {
        let txn = write(&self.db, &mut |t| body(t).map(|()| true))?;
        if let Some(txn) = txn {
            commit(txn, redb::Durability::None)?;
        }
        Ok(())
    }

    fn finish_load(&self) -> Result<()> {
        self.settle()
    }

    fn tick(&self) -> Result<Duration> {
        Ok(CacheBound::tick_optional(self.bound.as_ref()))
    }

    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn db_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    fn settle(&self) -> Result<()> {
        commit(self.db.begin_write()?, redb::Durability::Immediate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::TableHandle;

    #[test]
    fn each_table_has_its_own_redb_table_by_name() {
        for t in Table::ALL {
            assert_eq!(DEFS[t.index()].name(), t.name());
        }
    }
}
