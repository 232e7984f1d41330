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
//! - `slow io` (WARN; `file`, `op` = "read", "write" or "sync", `elapsed_us`): one storage call (or one batch of
//!   [`crate::Storage::submit`], reported once for each kind of request it holds) took at least the pool's threshold,
//!   [`crate::Builder::slow_io`] ([`SLOW_IO`] unless set). Only calls to storage are timed, never a hit; the
//!   timing itself is `latency.rs`'s, which also feeds [`crate::Stats::read_latency`] and its siblings.

use std::time::Duration;

use crate::error::Error;
use crate::page::FileId;

/// The default slow-I/O threshold ([`crate::Builder::slow_io`]): a storage call that takes at least this long is
/// reported.
pub const SLOW_IO: Duration = crate::latency::SLOW_IO_DEFAULT;

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

/// A storage call took `elapsed`, at least the pool's slow-I/O threshold.
pub(crate) fn slow_io(file: FileId, op: &'static str, elapsed: Duration) {
    let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    tracing::warn!(target: "bufpool", file = file.0, op, elapsed_us, "slow io");
}
