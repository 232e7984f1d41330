//! bufpool-btree as a TPC-C engine: each table and index its own [`Tree`] (data file + its own [`TreeWal`]) in
//! one shared pool, and a transaction log above them that makes each transaction atomic and durable.
//!
//! # Transactions
//! - **Write set.** A transaction's writes are buffered in its worker's write set (reads look there first, so a
//!   transaction sees its own writes; a scan over a range the write set touches merges the two). Rolling back is
//!   dropping the write set: nothing reached a tree.
//! - **Commit** = append one record holding the whole write set (table, key, value or delete) to the transaction
//!   log (`txn.log`, a [`TreeWal`] whose ops carry the table number where a tree log carries a page number), then
//!   apply the writes to the trees as *covered* changes ([`Tree::put_covered`], [`Tree::delete_covered`]), then
//!   (`durable`, or every N-th commit of a thread in `batch:N`) make the transaction log durable up to its end
//!   (one fsync shared by concurrent committers). A transaction is acknowledged only after that.
//! - **One log write per change.** The transaction log's record is the only log record of a row change: a tree
//!   log records only structure changes (splits, merges: page images) and a leaf's full image on its first
//!   change after a tree checkpoint (torn-page protection), not each put and delete (it did until issue 15's
//!   second pass, which logged every change twice).
//! - **Ordering on disk** (the write-ahead rule for covered changes). Every tree log depends on the transaction
//!   log ([`TreeWal::flush_first`]): each covered change notes, under its leaf's exclusive latch, the
//!   transaction log's end at that moment, and before the pool writes a tree page the transaction log is made
//!   durable that far (and before a tree log writes a record, as far as its end when the record was appended).
//!   A transaction's record is appended before it changes any page, and the pool latches a page against
//!   writers before that flush, so no page (and no tree record) holding a change of a transaction reaches the
//!   disk before that transaction's record. An old page whose transactions are durable already is written
//!   without an fsync of the transaction log (ARCHITECTURE.md, "The B+tree under a log above it").
//! - **Recovery** ([`Ours::open`]): each tree recovers from its own log (structure changes and full images: a
//!   consistent tree whose leaves hold a mix of committed states), then the transaction log's records are
//!   replayed in order (puts and deletes of whole values: idempotent, so replaying a transaction that had
//!   already reached the trees, wholly or partly, is harmless, and the last write of each key wins). A torn last
//!   record is cut by the log itself: its transaction was never acknowledged, and none of its writes can be on
//!   disk (previous point).
//! - **Isolation.** One reader-writer lock per warehouse: a transaction locks, in increasing warehouse order (no
//!   deadlock), every warehouse whose rows it writes (exclusive) or, read-only, its home warehouse (shared), and
//!   holds them from its first read to the end of its apply. Every TPC-C table but ITEM (read-only) is keyed by
//!   warehouse first, so transactions that touch a common row are serialised and the log's order is their
//!   order. District locks would not add concurrency: every Payment writes its warehouse's row.
//! - **Checkpoint** (when the transaction log passes [`LOG_MAX`], and at close): hold the `gate` exclusively
//!   (commits hold it shared from append to the end of their apply) just long enough to take the log's end `r`:
//!   every record before `r` is then applied; checkpoint every tree ([`Tree::checkpoint`]: its dirty pages
//!   written and synced, its log cut); only then cut the transaction log before `r`. The trees' checkpoints begin
//!   after `r` is taken, so a leaf torn later is rebuilt from a full image taken after `r` plus the transaction
//!   records from `r` on. A tree also checkpoints alone when its log passes [`LOG_MAX`] (checked every 2 ms by
//!   the driver's tick); that cuts nothing the transaction log needs.
//! - **Tree-log write-outs off the transactions' path.** A tree log's records (leaf images after a checkpoint,
//!   structure changes) hold covered changes, so writing them needs the transaction log durable as far as them:
//!   an fsync. An appender (a committing transaction, holding its locks) leaves a buffer past
//!   [`bufpool_btree::BUF_SOFT_MAX`] that would need one to the driver's tick ([`TreeWal::write_out`]), up to
//!   [`bufpool_btree::BUF_HARD_MAX`]; before issue 15's 2-thread pass it paid that fsync itself, under its locks.
//!
//! `nondurable-autocommit` uses the same path without the fsync: transactions stay atomic after a crash (a lost
//! suffix, never a partial transaction), as LMDB's `NO_SYNC` and redb's `Durability::None` commits are.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::sync::{LockResult, TryLockError, TryLockResult};

use anyhow::{anyhow, bail, Context, Result};
use bufpool_btree::{BufferPool, LeafHint, Op, OwnedOp, SyncCause, Tree, TreeWal};

use super::engine::{Body, Durability, Engine, Txn, Worker};
use super::schema::Table;

/// Page size of every tree.
pub const PAGE_BYTES: usize = 4096;
/// A log longer than this is cut by a checkpoint (the transaction log's, or a tree's own), unless the
/// environment variable [`LOG_MAX_ENV`] gives another bound (the crash test makes checkpoints frequent with it).
pub const LOG_MAX: u64 = 256 << 20;
/// Environment variable overriding [`LOG_MAX`] (bytes).
pub const LOG_MAX_ENV: &str = "BUFPOOL_TPCC_LOG_MAX";

/// [`LOG_MAX`], or the bound [`LOG_MAX_ENV`] sets.
fn log_max() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var(LOG_MAX_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(LOG_MAX)
    })
}
/// File name of the transaction log.
pub const TXN_LOG: &str = "txn.log";

/// The TPC-C tables on bufpool-btree.
pub struct Ours {
    pool: Arc<BufferPool>,
    /// One tree per [`Table`], by [`Table::index`].
    trees: Vec<Tree>,
    txlog: Arc<TreeWal>,
    /// Commits hold it shared from their append to the end of their apply; a checkpoint takes it exclusively.
    gate: RwLock<()>,
    /// One lock per warehouse id (index 0 unused).
    locks: Vec<RwLock<()>>,
    /// Warehouse-lock acquisitions, and those that found the lock taken and waited.
    lock_taken: AtomicU64,
    lock_waited: AtomicU64,
    /// One checkpoint at a time.
    checkpointing: Mutex<()>,
    /// Set when a checkpoint failed (reported by the next tick).
    failed: AtomicBool,
    dir: PathBuf,
}

fn tree_err(e: bufpool_btree::Error) -> anyhow::Error {
    anyhow!(e)
}

impl Ours {
    /// Opens (creating if needed) the tables in `dir` on a pool of `frames` frames, for warehouses
    /// `1..=warehouses`; recovers the trees, then replays the transaction log (see the module docs).
    pub fn open(dir: &Path, frames: usize, warehouses: u16) -> Result<Ours> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let pool = Arc::new(
            BufferPool::builder()
                .frames(frames.max(64))
                .page_size(PAGE_BYTES)
                .build()?,
        );
        let txlog = TreeWal::open(dir.join(TXN_LOG))?;
        let mut trees = Vec::with_capacity(Table::ALL.len());
        for t in Table::ALL {
            let wal = TreeWal::open(dir.join(format!("{}.wal", t.name())))?;
            wal.flush_first(txlog.clone())?;
            let tree = Tree::open(pool.clone(), wal, dir.join(format!("{}.db", t.name())))
                .with_context(|| format!("opening the {} tree", t.name()))?;
            trees.push(tree);
        }
        let ours = Ours {
            pool,
            trees,
            txlog,
            gate: RwLock::new(()),
            locks: (0..=warehouses).map(|_| RwLock::new(())).collect(),
            lock_taken: AtomicU64::new(0),
            lock_waited: AtomicU64::new(0),
            checkpointing: Mutex::new(()),
            failed: AtomicBool::new(false),
            dir: dir.to_path_buf(),
        };
        ours.replay()?;
        Ok(ours)
    }

    /// Redoes every transaction in the transaction log, in order, then checkpoints it.
    fn replay(&self) -> Result<()> {
        let mut records = 0u64;
        self.txlog
            .scan(|_, ops| {
                records += 1;
                for op in ops {
                    match op {
                        OwnedOp::Put(t, k, v) => self.tree_no(t)?.put_covered(&k, &v, &mut LeafHint::default())?,
                        OwnedOp::Del(t, k) => {
                            self.tree_no(t)?.delete_covered(&k, &mut LeafHint::default())?;
                        }
                        OwnedOp::Image(..) | OwnedOp::Split(..) | OwnedOp::Inner(..) => {
                            return Err(bufpool_btree::Error::Log("a page op in the transaction log".into()))
                        }
                    }
                }
                Ok(())
            })
            .map_err(tree_err)
            .context("replaying the transaction log")?;
        if records > 0 {
            self.checkpoint_txlog()?;
        }
        Ok(())
    }

    fn tree_no(&self, t: u32) -> bufpool_btree::Result<&Tree> {
        self.trees
            .get(t as usize)
            .ok_or_else(|| bufpool_btree::Error::Log(format!("table {t} in the transaction log")))
    }

    fn tree(&self, t: Table) -> &Tree {
        &self.trees[t.index()]
    }

    /// Cuts the transaction log before its current end (see the module docs).
    fn checkpoint_txlog(&self) -> Result<()> {
        let r = {
            let _all = self.gate.write().map_err(|_| anyhow!("a committer panicked"))?;
            self.txlog.begin_checkpoint()
        };
        for t in &self.trees {
            t.checkpoint()?;
        }
        self.txlog.truncate_before(r)?;
        Ok(())
    }

    /// Checkpoints every tree and the transaction log, then closes the trees.
    pub fn close(self) -> Result<()> {
        self.checkpoint_txlog()?;
        for t in self.trees {
            t.close()?;
        }
        Ok(())
    }

    /// Pages of every tree's data file together.
    pub fn data_pages(&self) -> Result<u64> {
        let mut n = 0;
        for t in &self.trees {
            n += u64::from(self.pool.file_pages(t.file())?);
        }
        Ok(n)
    }

    /// Checks every tree's structure; returns the entries of each table.
    pub fn check_trees(&self) -> Result<Vec<(Table, usize)>> {
        Table::ALL
            .into_iter()
            .map(|t| Ok((t, self.tree(t).check()?.entries)))
            .collect()
    }
}

/// One buffered write: `(table, key start, key len, value start and len or None for a delete, leaf hint)` in
/// the arena.
type Entry = (Table, usize, usize, Option<(usize, usize)>, LeafHint);

/// A transaction's buffered writes: one arena of bytes and one entry per write, in order; and where the
/// transaction's latest tree read found its key, so that a write of the key just read is applied without a
/// descent ([`Tree::put_covered`]'s hint).
#[derive(Default)]
struct WriteSet {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    /// The latest key read from a tree: its table, its bytes and the leaf that covered it.
    read: Option<Table>,
    read_key: Vec<u8>,
    read_hint: LeafHint,
}

impl WriteSet {
    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.read = None;
    }

    fn push(&mut self, t: Table, key: &[u8], val: Option<&[u8]>) {
        let hint = if self.read == Some(t) && self.read_key == key {
            self.read_hint
        } else {
            LeafHint::default()
        };
        let k = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let v = val.map(|v| {
            let at = self.bytes.len();
            self.bytes.extend_from_slice(v);
            (at, v.len())
        });
        self.entries.push((t, k, key.len(), v, hint));
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.1..e.1 + e.2]
    }

    fn val(&self, e: &Entry) -> Option<&[u8]> {
        e.3.map(|(at, len)| &self.bytes[at..at + len])
    }

    /// The latest write of `key` in `t`: `Some(Some(v))` put, `Some(None)` deleted, `None` not written.
    fn find(&self, t: Table, key: &[u8]) -> Option<Option<&[u8]>> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.0 == t && self.key(e) == key)
            .map(|e| self.val(e))
    }
}

/// The transaction a worker runs: reads through the write set to the trees, writes into the write set.
struct OursTxn<'a> {
    ours: &'a Ours,
    set: &'a mut WriteSet,
    read_only: bool,
}

impl Txn for OursTxn<'_> {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        if let Some(w) = self.set.find(t, key) {
            return Ok(w
                .map(|v| {
                    out.clear();
                    out.extend_from_slice(v);
                })
                .is_some());
        }
        let set = &mut *self.set;
        set.read = Some(t);
        set.read_key.clear();
        set.read_key.extend_from_slice(key);
        Ok(self.ours.tree(t).get_hinted(key, &mut set.read_hint, |v| {
            v.map(|v| {
                out.clear();
                out.extend_from_slice(v);
            })
            .is_some()
        })?)
    }

    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()> {
        if self.read_only {
            bail!("a write in a read-only transaction");
        }
        self.set.push(t, key, Some(val));
        Ok(())
    }

    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()> {
        if self.read_only {
            bail!("a write in a read-only transaction");
        }
        self.set.push(t, key, None);
        Ok(())
    }

    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let range = (Bound::Included(from), Bound::Excluded(to));
        let set = &*self.set;
        let touched = set.entries.iter().any(|e| e.0 == t && (from..to).contains(&set.key(e)));
        if !touched {
            return Ok(self.ours.tree(t).scan(range, f)?);
        }
        // The write set changes this range: merge (rare; no TPC-C transaction scans what it wrote).
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        self.ours.tree(t).scan(range, |k, v| {
            merged.insert(k.to_vec(), Some(v.to_vec()));
            true
        })?;
        for e in set.entries.iter().filter(|e| e.0 == t) {
            let k = set.key(e);
            if (from..to).contains(&k) {
                merged.insert(k.to_vec(), set.val(e).map(<[u8]>::to_vec));
            }
        }
        for (k, v) in &merged {
            if let Some(v) = v {
                if !f(k, v) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Writes straight into the trees (the load: no transaction log, made durable by [`Engine::finish_load`]).
struct LoadTxn<'a>(&'a Ours);

impl Txn for LoadTxn<'_> {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        OursTxn {
            ours: self.0,
            set: &mut WriteSet::default(),
            read_only: true,
        }
        .get(t, key, out)
    }
    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()> {
        Ok(self.0.tree(t).put(key, val)?)
    }
    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()> {
        self.0.tree(t).delete(key)?;
        Ok(())
    }
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        Ok(self.0.tree(t).scan((Bound::Included(from), Bound::Excluded(to)), f)?)
    }
}

/// A thread's handle: its write set and its commit count.
pub struct OursWorker<'a> {
    ours: &'a Ours,
    set: WriteSet,
    durability: Durability,
    commits: u64,
}

/// How long a transaction that finds its warehouse locked retries before it parks: about one transaction's length
/// (20-40 us in memory). `std`'s locks park a waiter after a short spin, and waking a parked thread costs more than
/// that on these machines: at 4 warehouses and 2 threads, 14% of acquisitions wait, and futex waits were 40% of
/// the workers' context switches.
const LOCK_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// A lock guard: at once if `try_take` finds the lock free; else, counted in `waited` (the contention of the lock
/// design, reported per run), by retrying `try_take` for up to [`LOCK_SPIN`], then by `block`. `Err(())` if the
/// lock is poisoned.
fn take<G>(
    mut try_take: impl FnMut() -> TryLockResult<G>,
    block: impl FnOnce() -> LockResult<G>,
    waited: &AtomicU64,
) -> Result<G, ()> {
    let mut tried = try_take();
    if matches!(tried, Err(TryLockError::WouldBlock)) {
        waited.fetch_add(1, Ordering::Relaxed);
        let start = std::time::Instant::now();
        while matches!(tried, Err(TryLockError::WouldBlock)) && start.elapsed() < LOCK_SPIN {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            tried = try_take();
        }
    }
    match tried {
        Ok(g) => Ok(g),
        Err(TryLockError::WouldBlock) => block().map_err(|_| ()),
        Err(TryLockError::Poisoned(_)) => Err(()),
    }
}

enum Held<'a> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

impl Worker for OursWorker<'_> {
    fn run(&mut self, warehouses: &[u16], read_only: bool, body: Body<'_>) -> Result<bool> {
        let ours = self.ours;
        let mut held = Vec::with_capacity(warehouses.len());
        let mut last = 0u16;
        for &w in warehouses {
            let lock = ours
                .locks
                .get(usize::from(w))
                .filter(|_| w > last)
                .ok_or_else(|| anyhow!("warehouse {w}: out of range or out of order"))?;
            last = w;
            let poisoned = || anyhow!("a transaction panicked holding warehouse {w}");
            ours.lock_taken.fetch_add(1, Ordering::Relaxed);
            held.push(if read_only {
                Held::Shared(take(|| lock.try_read(), || lock.read(), &ours.lock_waited).map_err(|_| poisoned())?)
            } else {
                Held::Exclusive(take(|| lock.try_write(), || lock.write(), &ours.lock_waited).map_err(|_| poisoned())?)
            });
        }
        self.set.clear();
        let commit = body(&mut OursTxn {
            ours,
            set: &mut self.set,
            read_only,
        })?;
        if !commit || self.set.entries.is_empty() {
            return Ok(commit);
        }
        {
            let _gate = ours.gate.read().map_err(|_| anyhow!("a checkpoint panicked"))?;
            let set = &self.set;
            let ops: Vec<Op<'_>> = set
                .entries
                .iter()
                .map(|e| match set.val(e) {
                    Some(val) => Op::Put {
                        page: e.0.index() as u32,
                        key: set.key(e),
                        val,
                    },
                    None => Op::Del {
                        page: e.0.index() as u32,
                        key: set.key(e),
                    },
                })
                .collect();
            ours.txlog.append(&ops)?;
            // A write without a hint of its own (an insert) tries the leaf of the transaction's previous write to
            // the same table: a New-Order's consecutive order lines, a Delivery's.
            let mut last = [LeafHint::default(); Table::ALL.len()];
            for e in &set.entries {
                let tree = ours.tree(e.0);
                let hint = &mut last[e.0.index()];
                if e.4 != LeafHint::default() {
                    *hint = e.4;
                }
                match set.val(e) {
                    Some(v) => tree.put_covered(set.key(e), v, hint)?,
                    None => {
                        tree.delete_covered(set.key(e), hint)?;
                    }
                }
            }
        }
        drop(held);
        self.commits += 1;
        if self.durability.commits_after(self.commits) {
            ours.txlog.commit()?;
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        if self.durability != Durability::NondurableAutocommit {
            self.ours.txlog.commit()?;
        }
        Ok(())
    }
}

impl Engine for Ours {
    type Worker<'a> = OursWorker<'a>;

    fn worker(&self, durability: Durability) -> Result<OursWorker<'_>> {
        Ok(OursWorker {
            ours: self,
            set: WriteSet::default(),
            durability,
            commits: 0,
        })
    }

    fn load(&self, body: &mut dyn FnMut(&mut dyn Txn) -> Result<()>) -> Result<()> {
        body(&mut LoadTxn(self))?;
        // Bound the trees' logs during a long load.
        for t in &self.trees {
            if t.wal().file_len() > log_max() {
                t.checkpoint()?;
            }
        }
        Ok(())
    }

    fn finish_load(&self) -> Result<()> {
        for t in &self.trees {
            t.commit()?;
            t.checkpoint()?;
        }
        Ok(())
    }

    fn syncs(&self) -> u64 {
        self.txlog.syncs() + self.trees.iter().map(|t| t.wal().syncs()).sum::<u64>()
    }

    fn syncs_by_cause(&self) -> Vec<(String, u64)> {
        let txn = self.txlog.syncs_by();
        let trees = self.trees.iter().fold([0; SyncCause::ALL.len()], |mut sum, t| {
            for (s, n) in sum.iter_mut().zip(t.wal().syncs_by()) {
                *s += n;
            }
            sum
        });
        let named = |log: &str, by: [u64; SyncCause::ALL.len()]| {
            SyncCause::ALL
                .into_iter()
                .zip(by)
                .map(move |(c, n)| (format!("{log}.{}", c.name()), n))
                .collect::<Vec<_>>()
        };
        let mut all = named("txn", txn);
        all.extend(named("tree", trees));
        all
    }

    fn lock_counts(&self) -> Option<(u64, u64)> {
        Some((
            self.lock_taken.load(Ordering::Relaxed),
            self.lock_waited.load(Ordering::Relaxed),
        ))
    }

    fn cache_counts(&self) -> Option<(u64, u64)> {
        let st = self.pool.stats();
        Some((st.hits, st.misses))
    }

    fn tick(&self) -> Result<()> {
        if self.failed.load(Ordering::Relaxed) {
            bail!("a checkpoint failed");
        }
        let Ok(_one) = self.checkpointing.try_lock() else {
            return Ok(());
        };
        let run = || -> Result<()> {
            // A tree log's large buffer is written out here, off the transactions' path: its records need the
            // transaction log durable first, an fsync an appender (holding its transaction's locks) leaves to us.
            for t in &self.trees {
                t.wal().write_out()?;
            }
            if self.txlog.file_len() > log_max() {
                self.checkpoint_txlog()?;
            }
            for t in &self.trees {
                if t.wal().file_len() > log_max() {
                    t.checkpoint()?;
                }
            }
            Ok(())
        };
        run().inspect_err(|_| self.failed.store(true, Ordering::Relaxed))
    }

    fn db_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    fn settle(&self) -> Result<()> {
        self.txlog.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tpcc::schema::item_key;

    fn all(t: &mut dyn Txn) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        t.scan(Table::Item, &[], &[0xff], &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
        out
    }

    fn pairs(items: &[(u32, &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
        items.iter().map(|&(i, v)| (item_key(i).to_vec(), v.to_vec())).collect()
    }

    fn read_all(e: &Ours) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut got = Vec::new();
        e.worker(Durability::Durable)
            .unwrap()
            .run(&[1], true, &mut |t| {
                got = all(t);
                Ok(true)
            })
            .unwrap();
        got
    }

    #[test]
    fn reads_see_the_write_set_rollback_drops_it_and_commits_survive_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let e = Ours::open(dir.path(), 256, 1).unwrap();
        e.load(&mut |t| {
            t.put(Table::Item, &item_key(1), b"a")?;
            t.put(Table::Item, &item_key(3), b"c")
        })
        .unwrap();
        e.finish_load().unwrap();
        let mut w = e.worker(Durability::Durable).unwrap();
        for commit in [false, true] {
            let done = w
                .run(&[1], false, &mut |t| {
                    t.put(Table::Item, &item_key(2), b"b")?;
                    t.delete(Table::Item, &item_key(3))?;
                    let mut v = Vec::new();
                    assert!(t.get(Table::Item, &item_key(2), &mut v)?);
                    assert_eq!(v, b"b");
                    assert!(!t.get(Table::Item, &item_key(3), &mut v)?);
                    // The scan merges the write set with the tree.
                    assert_eq!(all(t), pairs(&[(1, b"a"), (2, b"b")]));
                    Ok(commit)
                })
                .unwrap();
            assert_eq!(done, commit);
            if !commit {
                assert_eq!(read_all(&e), pairs(&[(1, b"a"), (3, b"c")]), "rolled back");
            }
        }
        assert!(w.run(&[2], false, &mut |_| Ok(true)).is_err(), "no warehouse 2");
        drop(w);
        // Dropped without a checkpoint: the trees may not hold the commit; the transaction log does.
        drop(e);
        let e = Ours::open(dir.path(), 256, 1).unwrap();
        assert_eq!(read_all(&e), pairs(&[(1, b"a"), (2, b"b")]));
        e.check_trees().unwrap();
        e.close().unwrap();
    }
}
