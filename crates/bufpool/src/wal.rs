//! The WAL hook: the engine's log, as far as the pool needs to know it.
//!
//! Owns the write-ahead rule's interface. Before the pool writes a run of pages whose highest LSN is `lsn`
//! (eviction, flush, checkpoint, background writer: every write-back goes through `BufferPool::write_run`), it
//! calls [`Wal::flush_for_pages`]`(lsn, first, count)` and writes the pages only after that returned `Ok`. Its
//! default is [`Wal::flush_to`]`(lsn)`; a log that knows more about a page than its LSN (a B+tree whose pages
//! hold changes logged in another log, `bufpool-btree`'s covered changes) overrides it to flush exactly what
//! those pages need. A flush or checkpoint asks [`Wal::needs_flush_for_pages`] first and writes the runs that need
//! no log flush before the others, which one flush then covers. A pool built without a WAL uses [`NoWal`], which
//! has nothing to flush.
//!
//! A log must not call back into the pool: `flush_for_pages` runs with the run's pages latched. A read of one of
//! them, or of a page whose frame the pool holds for a callback on another thread (the victim another eviction
//! is flushing the log for), returns [`crate::Error::CallbackReentry`] instead of waiting.

use crate::error::Result;
use crate::page::{Lsn, PageId};

/// The engine's write-ahead log, seen from the pool.
pub trait Wal: Send + Sync {
    /// Makes the log durable up to and including `lsn`. Called before writing any page whose LSN is `lsn`;
    /// must be cheap when the log is already durable that far (through [`Wal::flush_for_pages`]'s default, the
    /// pool calls it before every run of pages it writes).
    /// An error (e.g. [`crate::Error::Wal`]; [`crate::Error::WalNoSpace`] for a log write refused for space)
    /// keeps the page dirty and unwritten.
    fn flush_to(&self, lsn: Lsn) -> Result<()>;

    /// Makes the log durable as far as the pages `first .. first + count` (consecutive pages of one file, at
    /// most [`crate::RUN_PAGES_MAX`]) need before they are written; `lsn` is the highest page LSN among them
    /// (never 0: pages that never got an LSN are written without asking the log). The pool calls this, not
    /// `flush_to`, on every write-back path, while it holds a latch on each of the pages that excludes writers:
    /// nothing the log learns about a page under that page's exclusive latch can change until the write is
    /// done. Must be cheap when nothing needs flushing. The default is `flush_to(lsn)`.
    fn flush_for_pages(&self, lsn: Lsn, first: PageId, count: usize) -> Result<()> {
        let _ = (first, count);
        self.flush_to(lsn)
    }

    /// Whether [`Wal::flush_for_pages`] with the same arguments would have to make the log durable further (an
    /// fsync) before the pages could be written. A flush or a checkpoint asks it, holding the same latches, and
    /// puts such a run off to the end of its pass, where one [`Wal::flush_to`] of the highest LSN it put off
    /// makes them all writable at once: about one log fsync a pass, where asking run by run could cost one for
    /// every run holding a page changed since the last. Only a hint (must be cheap, and never flush): the
    /// pool calls `flush_for_pages` before it writes any run anyway. The default is `false` (never put off).
    fn needs_flush_for_pages(&self, lsn: Lsn, first: PageId, count: usize) -> bool {
        let _ = (lsn, first, count);
        false
    }
}

/// The WAL of a pool that has none: every LSN is already durable.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWal;

impl Wal for NoWal {
    fn flush_to(&self, _lsn: Lsn) -> Result<()> {
        Ok(())
    }
}
