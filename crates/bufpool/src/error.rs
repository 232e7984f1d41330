//! The one error type of the library.
//!
//! Every variant is something a caller can act on. Errors are `Clone` (I/O errors are shared behind an `Arc`)
//! because one failed load wakes every thread that waited for that page with the same error.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::page::{FileId, PageId};

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a page image failed verification.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CorruptReason {
    /// The stored CRC-32C does not match the page's bytes (bit flip, torn write, stray bytes).
    ChecksumMismatch {
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum computed over the bytes read.
        computed: u32,
    },
    /// The checksum is valid but the page says it is another page: a misdirected write or a page copied to the
    /// wrong offset.
    WrongPageNumber {
        /// Page number stored in the header.
        stored: u32,
    },
    /// The image is shorter than a page header: not a page at all.
    TooShort {
        /// Length of the image.
        len: usize,
    },
    /// The header's magic or format version is not bufpool's.
    BadMagic {
        /// Magic stored in the header.
        magic: u16,
        /// Format version stored in the header.
        format: u16,
    },
}

impl std::fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            CorruptReason::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            CorruptReason::WrongPageNumber { stored } => {
                write!(f, "page header names page {stored} (misdirected write?)")
            }
            CorruptReason::TooShort { len } => write!(f, "{len} bytes is shorter than a page header"),
            CorruptReason::BadMagic { magic, format } => {
                write!(f, "not a bufpool page (magic {magic:#06x}, format {format})")
            }
        }
    }
}

/// Everything that can go wrong in the pool.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed. `page` is set when it concerned one page.
    #[error("I/O error on {file} during {op}{}: {source}", page.map(|p| format!(" of {p}")).unwrap_or_default())]
    Io {
        /// The file the operation was on.
        file: FileId,
        /// The page, when the operation concerned one.
        page: Option<PageId>,
        /// What was being done: "read", "write", "sync", ...
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The device is full (ENOSPC/EDQUOT) while writing the run of `pages` consecutive pages starting at `page`.
    ///
    /// Retryable: the file is *not* marked failed (a write refused for space drops nothing in the kernel, unlike
    /// a failed fsync; PostgreSQL treats it so). No page of the run is reported written: every one stays dirty
    /// in the pool and is written again by the next flush, checkpoint or eviction, once space has been freed.
    /// Some of the run's pages may have reached the file before the device filled up; they are simply written
    /// again with the same bytes. Nothing already made durable is affected.
    #[error("no space left writing {pages} page(s) from {page}; they stay dirty and are retried")]
    NoSpace {
        /// The first page of the run that could not be written.
        page: PageId,
        /// Pages in the run (`page` and the ones after it), all still dirty.
        pages: u32,
    },
    /// A data file could not be opened or created.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The file ended before the page did: a truncated file or a torn extension.
    #[error("short read of {page}: got {got} of {want} bytes")]
    ShortRead {
        /// The page being read.
        page: PageId,
        /// Bytes read.
        got: usize,
        /// Bytes wanted.
        want: usize,
    },
    /// A page failed verification; its bytes are never handed out.
    #[error("corrupt {page}: {reason}")]
    Corrupt {
        /// The page that failed.
        page: PageId,
        /// What was wrong.
        reason: CorruptReason,
    },
    /// Every frame is latched (or protected), so no frame can be freed for a miss. Drop some guards and retry.
    #[error("buffer pool exhausted: all {frames} frames are latched or protected")]
    PoolExhausted {
        /// Number of frames in the pool.
        frames: usize,
    },
    /// The page number is past the end of the file.
    #[error("{page} is out of range (file has {pages} pages)")]
    OutOfRange {
        /// The page asked for.
        page: PageId,
        /// Pages the file has.
        pages: u32,
    },
    /// A write or fsync of this file failed earlier; the file refuses further writes, because after a failed
    /// fsync the kernel may have dropped dirty data and a retry cannot be trusted. Reopen the file after recovery.
    #[error("{file} failed earlier and refuses writes: {first}")]
    FileFailed {
        /// The failed file.
        file: FileId,
        /// The first error, as text.
        first: Arc<str>,
    },
    /// The builder or a call was given an invalid setting.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// No file with this id is open.
    #[error("{0} is not open")]
    FileNotOpen(FileId),
    /// The file id is already in use by an open file.
    #[error("{0} is already open")]
    FileIdInUse(FileId),
    /// The same file (same device and inode) is already open under another id.
    #[error("{path} is already open as {file}")]
    FileAlreadyOpen {
        /// The path given.
        path: PathBuf,
        /// The id it is open under.
        file: FileId,
    },
    /// The WAL could not be made durable up to the page's LSN, so the page was not written.
    #[error("WAL flush to LSN {lsn} failed: {reason}")]
    Wal {
        /// The LSN asked for.
        lsn: u64,
        /// The WAL's error, as text.
        reason: Arc<str>,
    },
    /// A page is latched by a guard, so the operation (free, drop, close) cannot proceed.
    #[error("{page} is latched by a guard")]
    PageLatched {
        /// The page.
        page: PageId,
    },
    /// A checkpoint (or `close`) failed for several files; every other file is durable as of it. Each entry is a
    /// failed file and its first error. [`crate::BufferPool::checkpoint_report`] gives the same per file.
    #[error("checkpoint failed for {} files ({}); the other files are durable", failed.len(),
        failed.iter().map(|(f, e)| format!("{f}: {e}")).collect::<Vec<_>>().join("; "))]
    CheckpointFailed {
        /// The failed files with their errors, in file id order.
        failed: Arc<[(FileId, Error)]>,
    },
    /// An optimistic reader's closure read outside the page's user region on a consistent page: a bug in the
    /// caller's decoding, reported instead of a panic.
    #[error("optimistic read of {len} bytes at offset {offset} is outside the page's user region")]
    InvalidAccess {
        /// Offset requested.
        offset: usize,
        /// Length requested.
        len: usize,
    },
}

impl Error {
    /// Builds an [`Error::Io`] (or [`Error::NoSpace`] for a full device) from an OS error.
    pub fn io(file: FileId, page: Option<PageId>, op: &'static str, e: io::Error) -> Error {
        if let Some(p) = page {
            if matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
                || e.kind() == io::ErrorKind::StorageFull
            {
                return Error::NoSpace { page: p, pages: 1 };
            }
        }
        Error::Io {
            file,
            page,
            op,
            source: Arc::new(e),
        }
    }

    /// The file this error concerns, when it concerns one.
    pub fn file(&self) -> Option<FileId> {
        match self {
            Error::Io { file, .. } | Error::FileFailed { file, .. } | Error::FileAlreadyOpen { file, .. } => {
                Some(*file)
            }
            Error::NoSpace { page, .. }
            | Error::ShortRead { page, .. }
            | Error::Corrupt { page, .. }
            | Error::OutOfRange { page, .. }
            | Error::PageLatched { page } => Some(page.file()),
            Error::FileNotOpen(file) | Error::FileIdInUse(file) => Some(*file),
            _ => None,
        }
    }

    /// True for [`Error::Corrupt`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Corrupt { .. })
    }
}
