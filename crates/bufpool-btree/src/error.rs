//! The crate's error type: the pool's errors plus what the tree itself can refuse or detect.

use bufpool::PageId;

/// Result alias for the tree.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the tree.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer pool failed (I/O, corruption caught by the page checksum, exhaustion, ...).
    #[error(transparent)]
    Pool(#[from] bufpool::Error),
    /// The key is longer than [`crate::Limits::max_key`].
    #[error("key of {len} bytes is longer than the tree's limit of {max} bytes (larger pages take longer keys)")]
    KeyTooLong {
        /// Length given.
        len: usize,
        /// Longest accepted.
        max: usize,
    },
    /// The value is longer than [`crate::Limits::max_value`].
    #[error("value of {len} bytes is longer than the tree's limit of {max} bytes (larger pages take longer values)")]
    ValueTooLong {
        /// Length given.
        len: usize,
        /// Longest accepted.
        max: usize,
    },
    /// A page of the tree is not a well-formed node although its checksum is valid (a bug, or foreign bytes).
    #[error(
        "{page} is not a well-formed tree node ({what}) although its checksum is valid: a bug, or foreign bytes \
        in the data file"
    )]
    CorruptNode {
        /// The page.
        page: PageId,
        /// What was wrong.
        what: &'static str,
    },
    /// The data file is not a tree of this format (bad meta page), or was made with another page size.
    #[error("cannot use the data file as a tree: {0}")]
    BadMeta(String),
    /// The log failed (I/O) or is unreadable where it must be valid (its header).
    #[error("log error: {0}")]
    Log(String),
    /// The log's device is full (ENOSPC, EDQUOT) while writing its buffered records out. Retryable: the log has
    /// not failed, and nothing was lost. The records stay buffered, in order and with their LSNs, and the next
    /// write-out (a commit, a flush, a checkpoint) writes them again from the same place, over whatever prefix
    /// of them landed; from [`crate::BUF_HARD_MAX`] buffered bytes on, appends are refused with this error
    /// too (nothing appended) until a write-out succeeds. A commit that returned it is not acknowledged: its
    /// records become durable with the next commit that succeeds, or are lost by a crash before it. A failed
    /// fsync is never this error: it fails the log ([`Error::Log`]). A new log whose header the full device
    /// refused at [`crate::TreeWal::open`] is this error too: nothing was opened; open it again once space is freed.
    #[error("no space left for the log ({0}); nothing was lost: retry once space is freed")]
    NoSpace(String),
    /// A record given to [`crate::TreeWal::append`] that the log could not read back, refused (nothing appended,
    /// the log goes on): more than 65,535 ops, a key longer than 65,535 bytes, a `Patch` whose edits do not fit
    /// its value ([`crate::edits_fit`]), or more than [`crate::RECORD_MAX`] bytes in all.
    #[error("log record refused: {0}")]
    BadRecord(String),
    /// A raw log call ([`crate::TreeWal::append`], [`crate::TreeWal::append_leaf`],
    /// [`crate::TreeWal::truncate_before`]) on a log that serves a tree (claimed by an open tree, or naming its data
    /// file: [`crate::TreeWal::data_file`]), refused: nothing was appended or cut. A tree's log holds the tree's
    /// records only, each replayed into its pages at the next open, and is cut by the tree's checkpoint
    /// ([`crate::Tree::checkpoint`]), which first notes in the meta page where the log must start; a layer above
    /// logs in a log of its own ([`crate::TreeWal::flush_first`]). R35-1 in RELIABILITY.md.
    #[error("{0}")]
    TreeOwnsLog(String),
    /// The log's header names a record format this build does not read: a newer build wrote it. Refused before
    /// anything was read, cut or written; open it with a build that knows its format. A build before this variant
    /// (session 42) refuses such a log too, as one with no valid header. Until then the log had no format: a build
    /// met an op it did not know as the log's torn end, and cut every record from there on (L41-O1 in
    /// RELIABILITY.md; `wal.rs`' module docs, "The format version").
    #[error(
        "{log}: the log's header names {}, and this build reads record formats up to {known}: a newer build wrote \
        it; nothing was opened or changed: open it with that build or a newer one",
        match .found { Some(f) => format!("record format {f}"), None => "a header layout this build does not know".into() }
    )]
    LogFormat {
        /// The log (its path, or "the log storage").
        log: String,
        /// The record format the header names; `None` for a header layout this build does not know (a magic
        /// `BPTWAL` followed by other bytes than its own).
        found: Option<u32>,
        /// The newest record format this build reads ([`crate::LOG_FORMAT`]).
        known: u32,
    },
    /// The log is not the tree's: another log's identity (a lost log replaced by a new one), or it lacks records
    /// the tree's pages need (it starts after the tree's last checkpoint, or ends before a page's LSN).
    #[error("the log does not belong to the tree: {0}")]
    LogMismatch(String),
    /// [`crate::Tree::bulk_load`]'s first key does not lie above every key of the tree: a bulk load into a
    /// non-empty tree appends, so its first key must be above the tree's largest key (and within its last leaf's
    /// range: not below that leaf's low fence, when the leaf is empty).
    #[error("bulk load appends: its first key is not above the tree's largest key")]
    NotAbove,
    /// [`crate::Tree::bulk_load`] found, when it came to switch its pages in, that a page of the tree's right edge
    /// (the last leaf or an inner node above it) had changed since the load began: a concurrent write or structure
    /// change there. Nothing was loaded; the load may be retried.
    #[error("the tree's right edge changed during the bulk load; nothing was loaded")]
    ChangedDuringLoad,
    /// [`crate::Tree::bulk_load`]'s input is not in strictly ascending key order (a key equal to or below the
    /// one before it).
    #[error("bulk load input out of order at pair {index}: keys must be strictly ascending")]
    Unsorted {
        /// Position (from 0) of the first pair whose key is not above the previous one's.
        index: u64,
    },
    /// A structural check of the tree failed (see [`crate::Tree::check`]).
    #[error("tree invariant violated: {0}")]
    Invariant(String),
    /// A data page older than the last checkpoint wrote it: the page's LSN is below the one the checkpoint's
    /// note in the log (kept past its cut) requires, so the device dropped a write of it (a stale but valid
    /// version; R21-10 in RELIABILITY.md) and the log no longer holds the records to redo. Found at open, which is
    /// refused, only for a page cached at the open or past the data file's end: any other noted page is checked
    /// by the pool at its first read, which fails with `Error::Pool(Corrupt { reason: StaleWrite, .. })` naming
    /// it (R22-10). Restore the data file (and its log) from a backup.
    #[error(
        "{page} holds LSN {lsn}, older than LSN {written} it was written at before the last checkpoint's cut: the \
        device dropped that write, and the log no longer holds its changes"
    )]
    StalePage {
        /// The page.
        page: PageId,
        /// Its LSN on disk (0 if the file ends before it).
        lsn: u64,
        /// The LSN the checkpoint's note requires.
        written: u64,
    },
}

impl Error {
    /// True for a write refused because a device is full, which fails nothing and is retried once space is
    /// freed: the log's [`Error::NoSpace`], and the pool's ([`bufpool::Error::is_no_space`]: a data page's
    /// write, the log's under the write-ahead rule, a checkpoint that failed only so).
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::NoSpace(_) => true,
            Error::Pool(e) => e.is_no_space(),
            _ => false,
        }
    }
}

/// A [`crate::Tree::close`] that failed: the error, and the tree, still open and usable (nothing was lost), to
/// close again once the cause is gone (space freed after [`Error::NoSpace`]) or to drop.
pub struct CloseError {
    pub(crate) tree: crate::Tree,
    pub(crate) error: Error,
}

impl CloseError {
    /// Why the close failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The tree, to close again (or use).
    pub fn into_inner(self) -> crate::Tree {
        self.tree
    }

    /// The error, dropping the tree (its data file stays open in the pool: see [`crate::Tree::close`]).
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The error and the tree.
    pub fn into_parts(self) -> (Error, crate::Tree) {
        (self.error, self.tree)
    }
}

impl std::fmt::Debug for CloseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloseError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for CloseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "closing the tree failed (it is still open): {}", self.error)
    }
}

impl std::error::Error for CloseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<CloseError> for Error {
    /// [`CloseError::into_error`]: the tree is dropped.
    fn from(e: CloseError) -> Error {
        e.error
    }
}
