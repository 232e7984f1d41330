//! `tracing` events for the things an operator must hear about (feature `tracing`).
//!
//! Owns the pool's events; the rest of the pool calls them through one-line hooks under
//! `#[cfg(feature = "tracing")]`, so without the feature they are not compiled at all. Every event has target
//! `bufpool` and these fields:
//!
//! - `file failed` (ERROR; `file`, `reason`): a write or sync of the file failed with an unknown outcome and the
//!   file now refuses writes ([`Error::FileFailed`]). Emitted once per file, when the
//!   failure is latched.
//! - `write failed` (WARN; `file`, `error`): a run of page writes failed, including a full disk, which does not
//!   fail the file (the pages stay dirty and are retried).
//! - `pool exhausted` (WARN; `frames`, `error`): a request found no frame to take
//!   ([`Error::PoolExhausted`] or `AllProtected`).
//! - `slow io` (WARN; `file`, `op` = "read", "write", "sync" or "submit", `elapsed_us`): one storage call took
//!   longer than [`SLOW_IO`]. Only calls to storage are timed, never a hit.

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::page::FileId;

/// A storage call that takes longer than this is reported as slow I/O.
pub const SLOW_IO: Duration = Duration::from_millis(100);

/// A file's failure was latched: it refuses writes from now on.
pub(crate) fn file_failed(file: FileId, reason: &Error) {
    tracing::error!(target: "bufpool", file = file.0, reason = %reason, "file failed");
}

/// A run of page writes failed.
pub(crate) fn write_failed(file: FileId, error: &Error) {
    tracing::warn!(target: "bufpool", file = file.0, error = %error, "write failed");
}

/// A request found no frame to take.
pub(crate) fn pool_exhausted(frames: usize, error: &Error) {
    tracing::warn!(target: "bufpool", frames, error = %error, "pool exhausted");
}

/// Times one storage call; reports it when dropped if it took longer than [`SLOW_IO`].
pub(crate) struct IoTimer {
    file: FileId,
    op: &'static str,
    started: Instant,
}

impl IoTimer {
    /// Starts timing `op` on `file`.
    pub(crate) fn start(file: FileId, op: &'static str) -> IoTimer {
        IoTimer {
            file,
            op,
            started: Instant::now(),
        }
    }
}

impl Drop for IoTimer {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        if elapsed > SLOW_IO {
            let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            tracing::warn!(target: "bufpool", file = self.file.0, op = self.op, elapsed_us, "slow io");
        }
    }
}
