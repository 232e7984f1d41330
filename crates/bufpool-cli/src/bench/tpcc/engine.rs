//! The engine trait the TPC-C transactions run on: a table-level key-value transaction ([`Txn`]) inside a
//! worker's [`Worker::run`], implemented by bufpool-btree (`ours.rs`), LMDB (`lmdb.rs`) and redb (`redb_sys.rs`).
//! The transaction code (`txns.rs`, `load.rs`, `check.rs`) sees only these traits, so every system runs the
//! same work.
//!
//! Contract of a transaction: its reads see its own writes; its writes become visible to others together when
//! it commits and not at all if it rolls back; it runs as if alone among the transactions whose [`Access`]
//! overlaps its own (serialisable), except that Stock-Level's STOCK reads need only see committed rows
//! (clause 2.8.2.3). How each engine provides that is in its own file.

use std::ops::Range;
use std::time::Duration;

use anyhow::{bail, Result};

use super::schema::{Table, DISTRICTS};
pub use crate::bench::btree::driver::Durability;
use crate::bench::tick::TICK_MAX;

/// One transaction's access to the tables.
pub trait Txn {
    /// Copies the value of `key` in `t` into `out`; `false` (and `out` untouched) if it is absent.
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool>;
    /// Inserts or replaces `key` in `t`.
    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()>;
    /// Replaces the row `key` of `t`, which this transaction read whole ([`Txn::get`], a [`Txn::get_each`] of
    /// [`WHOLE`] rows, a [`Txn::scan`]) or wrote, with `row`: that row changed in place, of its length, in bytes
    /// `changed` only (the fields the body wrote, as `schema.rs` names them beside each in-place change). An
    /// engine that logs its changes may log those bytes alone (bufpool-btree: a patch of them, neither a copy of
    /// the row as read nor a diff). The caller must not change a byte outside `changed`. Default: [`Txn::put`].
    fn update(&mut self, t: Table, key: &[u8], row: &[u8], changed: &[Range<usize>]) -> Result<()> {
        let _ = changed;
        self.put(t, key, row)
    }
    /// Removes `key` from `t` (which the transaction has seen present).
    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()>;
    /// Calls `f` on the pairs of `t` with `from <= key < to`, in key order, until it returns `false`.
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()>;

    /// [`Txn::get`] of bytes `part` of the value only ([`part_of`]: clamped to the value), for a transaction that
    /// reads one field of a row. Default: the whole value, then the part kept; an engine that can copy only the
    /// part does (LMDB and redb borrow the value in place and copy the part; bufpool-btree's batches,
    /// [`Txn::get_each`], copy only the part out of the page with `Tree::get_many_part`).
    fn get_part(&mut self, t: Table, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        if !self.get(t, key, out)? {
            return Ok(false);
        }
        let keep = part_of(out, &part);
        out.truncate(keep.end);
        out.drain(..keep.start);
        Ok(true)
    }

    /// Reads every key of `keys` in `t` and calls `f(i, what get_part(keys[i], part) returns now)` once for each
    /// `i`, in any order, stopping at the first error `f` returns (`part` [`WHOLE`]: the whole rows). The same
    /// rows as that many [`Txn::get_part`]s; an engine that can start the reads together does (bufpool-btree:
    /// `Tree::get_many_hinted` and `Tree::get_many_part`, whose misses overlap). Default: one `get_part` after
    /// another, in `keys`' order.
    fn get_each(&mut self, t: Table, keys: &[&[u8]], part: Range<usize>, f: Each<'_>) -> Result<()> {
        let mut buf = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let found = self.get_part(t, k, part.clone(), &mut buf)?;
            f(i, found.then_some(buf.as_slice()))?;
        }
        Ok(())
    }

    /// Changes the existing row `key` of `t` by `change.0(row, arg)` in place, in bytes `change.1` only (as
    /// [`Txn::update`]), as part of this transaction, for an update that commutes with every other and whose
    /// result no transaction reads (W_YTD): an engine may defer it to the commit and hold the row's lock only
    /// from reading the row there to the end of the commit. The default reads, changes and writes the row at
    /// once (engines with one writer at a time).
    fn update_on_commit(&mut self, t: Table, key: &[u8], change: Change, arg: i64) -> Result<()> {
        let mut row = Vec::new();
        if !self.get(t, key, &mut row)? {
            bail!("{} row {:02x?} is missing", t.name(), key);
        }
        change.0(&mut row, arg)?;
        self.update(t, key, &row, change.1)
    }
}

/// What a transaction touches, named before it starts, so that an engine with its own locks takes them all in one
/// global order before the body's first read (no deadlock, never an abort). What is not named needs no lock:
/// ITEM and CUSTOMER-NAME are never written after the load; HISTORY rows are only inserted, each under a key
/// of its own; WAREHOUSE rows change only through [`Txn::update_on_commit`], and the fields transactions read
/// there (W_TAX, W_NAME) never change; STOCK rows read without a write are Stock-Level's, which need only be
/// committed (clause 2.8.2.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// The transaction writes nothing.
    pub read_only: bool,
    /// The districts `(w, d)` whose rows it reads or writes, sorted and distinct: the DISTRICT row and every row
    /// keyed by the district (CUSTOMER, ORDER, NEW-ORDER, ORDER-LINE and the ORDER-CUSTOMER index).
    pub districts: Vec<(u16, u8)>,
    /// The STOCK rows `(w, i)` it writes (any order, repeats allowed).
    pub stock: Vec<(u16, u32)>,
}

impl Access {
    /// The districts `districts` (in any order, repeats allowed), no STOCK row.
    pub fn districts(read_only: bool, districts: impl IntoIterator<Item = (u16, u8)>) -> Access {
        let mut districts: Vec<_> = districts.into_iter().collect();
        districts.sort_unstable();
        districts.dedup();
        Access {
            read_only,
            districts,
            stock: Vec::new(),
        }
    }

    /// Every district of warehouse `w` (Delivery; the consistency checks).
    pub fn warehouse(w: u16, read_only: bool) -> Access {
        Access::districts(read_only, (1..=DISTRICTS).map(|d| (w, d)))
    }
}

/// The part of a value that is all of it ([`Txn::get_each`] of whole rows).
pub const WHOLE: Range<usize> = 0..usize::MAX;

/// The bytes of a value `v` that [`Txn::get_part`] reads for `part`: `part.end`, then `part.start`, clamped to
/// `v`'s length (a part past the end of a shorter value is empty).
pub fn part_of(v: &[u8], part: &Range<usize>) -> Range<usize> {
    let end = part.end.min(v.len());
    part.start.min(end)..end
}

/// An in-place change of a row by an argument, and the bytes it writes ([`Txn::update_on_commit`]; such as
/// `(Warehouse::pay, Warehouse::PAY_FIELDS)`).
pub type Change = (fn(&mut [u8], i64) -> Result<()>, &'static [Range<usize>]);

/// What [`Txn::get_each`] calls for each key: its index and its value (`None`: absent).
pub type Each<'f> = &'f mut dyn FnMut(usize, Option<&[u8]>) -> Result<()>;

/// The body of a transaction: `Ok(true)` commits, `Ok(false)` rolls back, `Err` rolls back and fails the run.
pub type Body<'b> = &'b mut dyn FnMut(&mut dyn Txn) -> Result<bool>;

/// One thread's handle on an engine.
pub trait Worker {
    /// Runs `body` as one transaction that touches only what `access` names (the engine may lock it) and, if
    /// `access.read_only`, writes nothing. Returns whether it committed. Committed transactions are durable as
    /// the worker's [`Durability`] says when this returns.
    fn run(&mut self, access: &Access, body: Body<'_>) -> Result<bool>;

    /// Makes what an open `batch:N` group holds durable (the end of a run belongs to its time).
    fn finish(&mut self) -> Result<()>;
}

/// An engine holding the TPC-C tables.
pub trait Engine: Sync {
    /// A thread's handle.
    type Worker<'a>: Worker
    where
        Self: 'a;

    /// A handle for one thread, committing as `durability` says.
    fn worker(&self, durability: Durability) -> Result<Self::Worker<'_>>;

    /// Runs `body` as one bulk-load transaction (not durable until [`Engine::finish_load`]).
    fn load(&self, body: &mut dyn FnMut(&mut dyn Txn) -> Result<()>) -> Result<()>;

    /// Makes the load durable in the engine's files.
    fn finish_load(&self) -> Result<()>;

    /// Syncs so far: bufpool-btree's log fsyncs (transaction log and tree logs), the peers' durable commits.
    fn syncs(&self) -> u64;

    /// [`Engine::syncs`] by who asked for them, as `(name, count)`, where the engine attributes them
    /// (bufpool-btree: per log, transaction or tree, and per call site, `bufpool_btree::SyncCause`).
    fn syncs_by_cause(&self) -> Vec<(String, u64)> {
        Vec::new()
    }

    /// Pages its cache wrote so far (4 KiB units) by why it wrote them, as `(name, count)`, where the engine's
    /// cache writes pages itself and tells why (bufpool-btree: its pool's page writes by source,
    /// `bufpool::Stats`); the rest of a run's device writes are its logs'. Empty by default (LMDB and redb write
    /// through the OS page cache).
    fn writes_by_cause(&self) -> Vec<(String, u64)> {
        Vec::new()
    }

    /// `(hits, misses)` of the engine's cache so far, where it reports them.
    fn cache_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// `(transactions that took locks, those that waited for another thread at one of them at least)` so far,
    /// where the engine has locks of its own (bufpool-btree's district, STOCK-row and commit-time row locks).
    fn lock_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Called while a run goes on (bufpool-btree writes its logs out and checkpoints here when they grow, LMDB and
    /// redb apply their page-cache bound out of memory); returns how long the engine can wait for the next call
    /// (`bench::tick`: from `TICK_MIN` to [`TICK_MAX`], nothing to do). An error with [`FullDevice`] in its chain
    /// is retried at the next tick; any other ends the run.
    fn tick(&self) -> Result<Duration> {
        Ok(TICK_MAX)
    }

    /// [`Engine::tick`] without what [`Engine::tick_slow`] does, for a driver that gives that part a thread of
    /// its own (the TPC-C driver does: `driver.rs`), so that this part goes on while that one takes seconds
    /// (bufpool-btree: its tree logs' write-outs while a checkpoint runs, R23-20). Everything `tick` does, for an
    /// engine without a slow part.
    fn tick_fast(&self) -> Result<Duration> {
        self.tick()
    }

    /// The part of [`Engine::tick`] that may take seconds (bufpool-btree's checkpoints), or `None` if the engine
    /// has none: called on a thread of its own while [`Engine::tick_fast`] is called on another, the two together
    /// do what `tick` does. Errors as `tick`'s.
    fn tick_slow(&self) -> Option<Result<Duration>> {
        None
    }

    /// Bytes of the engine's files now.
    fn db_bytes(&self) -> u64;

    /// Makes everything committed durable (after a run, outside its time).
    fn settle(&self) -> Result<()>;
}

/// Context of a tick's error that met a full device (ENOSPC, EDQUOT) and left the engine able to go on: nothing
/// written was lost, and the next tick retries (F14-3). The driver reports it and keeps running.
#[derive(Debug)]
pub struct FullDevice;

impl std::fmt::Display for FullDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the device is full; the next tick retries")
    }
}
