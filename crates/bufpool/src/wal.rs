//! The WAL hook: the engine's log, as far as the pool needs to know it.
//!
//! Owns the write-ahead rule's interface. Before the pool writes a page whose LSN is `lsn` (eviction, flush,
//! checkpoint, background writer), it calls [`Wal::flush_to`]`(lsn)` and writes the page only after that returned
//! `Ok`. A pool built without a WAL uses [`NoWal`], which has nothing to flush.

use crate::error::Result;
use crate::page::Lsn;

/// The engine's write-ahead log, seen from the pool.
pub trait Wal: Send + Sync {
    /// Makes the log durable up to and including `lsn`. Called before writing any page whose LSN is `lsn`;
    /// must be cheap when the log is already durable that far (the pool calls it for every page it writes).
    /// An error (e.g. [`crate::Error::Wal`]) keeps the page dirty and unwritten.
    fn flush_to(&self, lsn: Lsn) -> Result<()>;
}

/// The WAL of a pool that has none: every LSN is already durable.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWal;

impl Wal for NoWal {
    fn flush_to(&self, _lsn: Lsn) -> Result<()> {
        Ok(())
    }
}
