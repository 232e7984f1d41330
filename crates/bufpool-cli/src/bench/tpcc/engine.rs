//! The engine trait the TPC-C transactions run on: a table-level key-value transaction ([`Txn`]) inside a
//! worker's [`Worker::run`], implemented by bufpool-btree (`ours.rs`), LMDB (`lmdb.rs`) and redb (`redb_sys.rs`).
//! The transaction code (`txns.rs`, `load.rs`, `check.rs`) sees only these traits, so every system runs the
//! same work.
//!
//! Contract of a transaction: its reads see its own writes; its writes become visible to others together when
//! it commits and not at all if it rolls back; two transactions that write a warehouse's rows (the tables whose
//! keys start with a warehouse id) do not interleave. How each engine provides that is in its own file.

use anyhow::Result;

use super::schema::Table;
pub use crate::bench::btree::driver::Durability;

/// One transaction's access to the tables.
pub trait Txn {
    /// Copies the value of `key` in `t` into `out`; `false` (and `out` untouched) if it is absent.
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool>;
    /// Inserts or replaces `key` in `t`.
    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()>;
    /// Removes `key` from `t` (which the transaction has seen present).
    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()>;
    /// Calls `f` on the pairs of `t` with `from <= key < to`, in key order, until it returns `false`.
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()>;
}

/// The body of a transaction: `Ok(true)` commits, `Ok(false)` rolls back, `Err` rolls back and fails the run.
pub type Body<'b> = &'b mut dyn FnMut(&mut dyn Txn) -> Result<bool>;

/// One thread's handle on an engine.
pub trait Worker {
    /// Runs `body` as one transaction that writes only rows of the warehouses `warehouses` (sorted, distinct;
    /// the engine may lock them) or, if `read_only`, writes nothing. Returns whether it committed. Committed
    /// transactions are durable as the worker's [`Durability`] says when this returns.
    fn run(&mut self, warehouses: &[u16], read_only: bool, body: Body<'_>) -> Result<bool>;

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

    /// `(hits, misses)` of the engine's cache so far, where it reports them.
    fn cache_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// `(acquisitions, acquisitions that waited for another thread)` of the engine's locks so far, where it has
    /// its own (bufpool-btree's warehouse locks).
    fn lock_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Called every few milliseconds while a run goes on (bufpool-btree checkpoints here when its logs grow).
    fn tick(&self) -> Result<()> {
        Ok(())
    }

    /// Bytes of the engine's files now.
    fn db_bytes(&self) -> u64;

    /// Makes everything committed durable (after a run, outside its time).
    fn settle(&self) -> Result<()>;
}
