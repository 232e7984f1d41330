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
    /// The page was written with another page size (both named): a file opened by a pool of the wrong page size.
    WrongPageSize {
        /// The page size the header names.
        stored: usize,
        /// The page size of the pool reading it.
        expected: usize,
    },
    /// The page belongs to another file: its header names another file identity (a misdirected write across
    /// files, or blocks of a deleted file reused by this one).
    ForeignFile {
        /// The identity in the page header.
        stored: u32,
        /// This file's identity (from its file record).
        expected: u32,
    },
    /// An all-zero page below the file's durable written mark: its record says every page below the mark was
    /// written and synced by a checkpoint, so zeroes mean a write was lost (or the page zeroed by the device).
    /// Only in strict mode ([`crate::Builder::strict_fresh`], on by default) and for files with a record.
    LostWrite {
        /// The file's written mark: pages below it were durably written.
        written_pages: u32,
    },
    /// A valid page older than this pool last wrote it: its LSN is below the one the pool's last write of it
    /// carried, so the device dropped that write and kept the previous version (R21-11 in RELIABILITY.md). Checked
    /// against the writes of the file's current open only (the pool keeps each page's last written LSN).
    StaleWrite {
        /// The LSN in the page read.
        lsn: u64,
        /// The LSN of the pool's last write of the page.
        written: u64,
    },
    /// The header's magic or format version is not bufpool's: with a valid checksum, or with a failed one when
    /// both fields are foreign (and not zero): the bytes are not a bufpool page (another file, a wrong offset).
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
            CorruptReason::WrongPageSize { stored, expected } => write!(
                f,
                "written with {stored}-byte pages, read by a pool of {expected}-byte pages"
            ),
            CorruptReason::ForeignFile { stored, expected } => write!(
                f,
                "the page belongs to another file (identity {stored:#010x}, this file is {expected:#010x})"
            ),
            CorruptReason::LostWrite { written_pages } => write!(
                f,
                "all zeroes below the file's durable written mark ({written_pages} pages): a lost write"
            ),
            CorruptReason::StaleWrite { lsn, written } => write!(
                f,
                "the page read has LSN {lsn}, older than the LSN {written} it was last written with: the device \
                 dropped that write"
            ),
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
    #[error(
        "short read of {page}: got {got} of {want} bytes (the file ends inside the page: truncated, or a torn \
        extension)"
    )]
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
    ///
    /// `failed_file_pages` frames hold dirty pages of failed files ([`Error::FileFailed`]): those can be neither
    /// written nor evicted (they would be lost), and dropping guards does not free them. Each failed file keeps at
    /// most [`crate::Builder::failed_file_frames`] of them (a quarter of the pool by default) before the pool
    /// drops the rest, so this is the cause only when the bound allows it or several files failed. The way out: read out
    /// what is needed, then [`crate::BufferPool::drop_file`] the failed file (which discards its dirty pages and
    /// frees the frames) and rebuild it from the log (RELIABILITY.md, "Real faults").
    #[error("buffer pool exhausted: {} latched or protected{}", Plural(*frames as u64, "frame").all(),
        if *failed_file_pages > 0 { format!("; {failed_file_pages} hold dirty pages of failed files, which cannot \
        be written or evicted: drop_file the failed file and recover it from the log") } else { String::new() })]
    PoolExhausted {
        /// Number of frames in the pool.
        frames: usize,
        /// Frames held by dirty pages of failed files (the real cause when it is most of `frames`).
        failed_file_pages: usize,
    },
    /// No frame can be freed for a miss, and waiting cannot help: no candidate was latched, and the pages the
    /// policy offered are all protected from eviction, by open snapshots (their LSN is at or above the oldest
    /// open snapshot's: [`crate::SnapshotTracker`]) or by the eviction veto. Returned at once, whatever
    /// [`crate::Builder::frame_wait`] says. The way out: end old snapshots (the oldest is named), let the veto
    /// release pages, or build a larger pool. Counted in [`crate::Stats::exhausted`].
    #[error("no frame can be evicted: all {frames} protected ({snapshot_skips} refusals for open snapshots{}, \
        {veto_skips} by the eviction veto)", oldest_snapshot.map(|l| format!(", oldest at LSN {l}")).unwrap_or_default())]
    AllProtected {
        /// Number of frames in the pool.
        frames: usize,
        /// Candidates this miss's search refused because an open snapshot protected them.
        snapshot_skips: u64,
        /// Candidates this miss's search refused because the eviction veto protected them.
        veto_skips: u64,
        /// The oldest open snapshot's LSN, if snapshots are tracked and one is open.
        oldest_snapshot: Option<crate::page::Lsn>,
    },
    /// A resident-page list ([`crate::BufferPool::save_resident`], [`crate::BufferPool::prewarm`]) could not be
    /// written or read, or is not one (bad magic, truncated, checksum mismatch).
    #[error("resident list {path}: {reason}")]
    ResidentList {
        /// The list's path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The page number is past the end of the file.
    #[error("{page} is out of range (file has {})", Plural(u64::from(*pages), "page"))]
    OutOfRange {
        /// The page asked for.
        page: PageId,
        /// Pages the file has.
        pages: u32,
    },
    /// A write or fsync of this file failed earlier; the file refuses further writes, because after a failed
    /// fsync the kernel may have dropped dirty data and a retry cannot be trusted (ENOSPC is not such a failure:
    /// see [`Error::NoSpace`]). Reads still work, from the pool and from the file.
    ///
    /// The file's dirty pages stay in the pool (they are never evicted: they would be lost) and hold frames
    /// ([`Error::PoolExhausted`] counts them). The way out, as RELIABILITY.md "Real faults" describes:
    /// - `close_file` of a failed file itself fails (its dirty pages cannot be written), and so do `flush`,
    ///   `flush_file` and the file's part of `checkpoint` (other files are unaffected: `checkpoint_report`);
    /// - [`crate::BufferPool::drop_file`] discards the dirty pages unwritten and frees their frames: read out what
    ///   is needed first, or replay the log after reopening;
    /// - reopening can fail too (EROFS when the kernel forced the filesystem read-only after I/O errors);
    /// - a file reopened through the page cache (buffered) can show data whose fsync failed and which will never
    ///   be durable (Linux drops the dirty pages' error after reporting it once): only crash recovery (reading
    ///   the durable image after a restart, then replaying the log) makes it trustworthy again.
    #[error(
        "{file} failed earlier and refuses writes (reads still work; drop_file it, reopen it and recover from \
        the log): {first}"
    )]
    FileFailed {
        /// The failed file.
        file: FileId,
        /// The first error, as text.
        first: Arc<str>,
    },
    /// The builder or a call was given an invalid setting.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// [`crate::Builder::build`] could not allocate the pool: the machine (or the process's memory limit) has
    /// no room for `frames` frames, `bytes` of page memory plus a few dozen bytes of bookkeeping each. Nothing
    /// was kept: what the build had taken is freed, and a smaller pool may be built.
    #[error("out of memory: cannot allocate a pool of {frames} frames ({bytes} bytes of pages and their bookkeeping)")]
    OutOfMemory {
        /// The frames asked for.
        frames: usize,
        /// Their page memory: frames times the page size.
        bytes: usize,
    },
    /// No file with this id is open.
    #[error("{0} is not open")]
    FileNotOpen(FileId),
    /// The file id is already in use by an open file, or by a closed or dropped one whose calls that started
    /// before the close (a `free_page`, a `flush`, a load) were still running a second later.
    #[error(
        "file id {} is in use by an open file (or by calls still running on a file just closed under it)",
        .0.0
    )]
    FileIdInUse(FileId),
    /// The same file (same device and inode) is already open under another id.
    #[error("{} is already open as {file}", Opening(path, &None))]
    FileAlreadyOpen {
        /// The path given, for a file opened by path.
        path: Option<PathBuf>,
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
    /// The WAL could not be made durable up to the page's LSN because its device is full (ENOSPC, EDQUOT), so
    /// the page was not written. Retryable, as [`Error::NoSpace`]: the log has not failed, the page stays dirty,
    /// and a later write (a flush, a checkpoint, an eviction) writes it once space is freed. A [`crate::Wal`]
    /// returns this rather than [`Error::Wal`] for a write its device refused for space, so that callers can
    /// tell it by type ([`Error::is_no_space`]), never by its text.
    #[error("WAL flush to LSN {lsn} refused for space: {reason}")]
    WalNoSpace {
        /// The LSN asked for.
        lsn: u64,
        /// The WAL's error, as text.
        reason: Arc<str>,
    },
    /// A miss (a `read`, `write` or `new_page` of a page not resident, a batch's or a prefetch's load) could free
    /// no frame but by writing a dirty page of *another* file, the `victim`, and that write failed: `source` is
    /// the victim's error ([`Error::Wal`] or [`Error::WalNoSpace`] from the victim's log, [`Error::Io`],
    /// [`Error::NoSpace`], [`Error::FileFailed`], [`Error::Panicked`], ...). The file the miss was for, and its
    /// log, are not concerned: its pages are as they were, and the miss succeeds once frames free up (guards
    /// dropped) or the victim's file is fixed or dropped. A victim of the miss's own file reports its error as
    /// is, unwrapped: it is that file's. Before this variant the victim's error came bare, and a `WalNoSpace` or
    /// `Wal` of another file's log read as the caller's own log failing (R49-O11 in RELIABILITY.md).
    /// [`Error::file`] and [`Error::path`] name the victim's file; [`Error::is_no_space`] answers for `source`.
    #[error(
        "no frame free: the victim {victim}{} of another file could not be written: {source}",
        path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default()
    )]
    VictimWrite {
        /// The page of another file whose write failed.
        victim: PageId,
        /// The victim's data file, for a file opened by path.
        path: Option<PathBuf>,
        /// The victim's write error.
        #[source]
        source: Box<Error>,
    },
    /// A page is latched by a guard, so the operation (free, drop, close) cannot proceed.
    #[error("{page} is latched by a guard held for over a second: drop the guard, then retry")]
    PageLatched {
        /// The page.
        page: PageId,
    },
    /// The page is on its file's free list ([`crate::BufferPool::free_page`]) and not yet reused by `new_page`:
    /// freeing it again, writing it, or reading it when it was never written is refused. Reading a freed page
    /// that has an image is allowed (a reader following a stale pointer sees the last image and must validate).
    /// `free_page` also refuses a page another `free_page` is freeing or a `new_page` is giving out (a double
    /// free); `new_page` itself never returns it.
    #[error("{page} is freed (on its file's free list, not reused by new_page since)")]
    PageFreed {
        /// The page.
        page: PageId,
    },
    /// The calling thread itself holds a guard on this page that the call would have to wait for, so the wait
    /// would never end: drop the guard first. An exclusive guard ([`crate::WriteGuard`]) of the calling thread
    /// stops every call that waits for the page: `read`, `write`, `read_optimistic`, `read_many`, `flush`,
    /// `flush_file`, `checkpoint`, `free_page`, `close_file`, `drop_file`. A shared guard
    /// ([`crate::ReadGuard`]) of the calling thread stops the calls that need the page exclusively: `write`,
    /// `free_page`, `close_file`, `drop_file` (reading or flushing a page one reads is fine). `new_page` skips a
    /// freed number whose stale copy the caller still reads and takes another; it returns this only when no other
    /// number is possible (the file has `u32::MAX` pages). Every read guard of the thread counts, however many
    /// it holds, and so does one passed to `mem::forget` (its latch is held for ever: this thread is told, another
    /// thread's exclusive wait for the page ends in [`Error::PageLatched`] or lasts for ever).
    #[error("{page} is held by a guard of the calling thread: drop it first")]
    HeldByCaller {
        /// The page.
        page: PageId,
    },
    /// A callback of yours ([`crate::Storage`], [`crate::Wal`], the eviction veto, a [`crate::Policy`] object)
    /// called back into the pool, on the thread the pool runs it on, for the very page the pool holds latched
    /// for that callback: the page being loaded (`Storage::read_at`; with `Storage::submit`, any page of the batch
    /// being loaded, whichever file it is of), written (`Storage::write_at`,
    /// `Wal::flush_for_pages`), inserted (`Policy::on_insert`), or chosen as a victim (the veto, the frame a
    /// policy's `victim` just took). The wait would never end,
    /// so the call returns this at once; the callback's own call goes on. A miss from the eviction veto (a page
    /// not resident, or `new_page`) is this error too, for the page asked: the veto runs inside a victim search,
    /// which the miss would start again on the same thread. So is the veto's read of a page another thread holds
    /// latched: that thread may be waiting for the same search (its miss, under a list policy's lock, R37-20).
    /// And a callback's call that would wait for a page
    /// whose frame the pool holds for a callback on *another* thread (`callback` is then the calling thread's own):
    /// that callback may be waiting for this one's page (two loads whose `Storage::read_at`s read each other's
    /// page), so neither waits (R37-1). The crate docs' rule: callbacks must not
    /// call back into the pool (calls for other pages may still wait for this thread's own latches elsewhere).
    #[error("{page} is held by the pool for its {callback} call running on this thread: a callback must not wait for the page it runs for")]
    CallbackReentry {
        /// The page.
        page: PageId,
        /// The callback the pool holds the page for: "Storage::read_at", "Wal::flush_for_pages", ...
        callback: &'static str,
    },
    /// Code the pool called on its own behalf (the [`crate::Storage`], the [`crate::Wal`], the eviction veto, a
    /// [`crate::Policy`] object) panicked. The pool caught the panic and released everything the call held; a
    /// storage write or sync that panicked has an unknown outcome, so the file is failed as for an I/O error. A
    /// policy object's victim answer that breaks its contract (a frame `try_take` did not accept) is reported
    /// the same way, `message` saying so: the pool treats it as a panic of the policy.
    #[error("{what} panicked: {message}")]
    Panicked {
        /// Which callback: "Storage::read_at", "Wal::flush_for_pages", "eviction veto", ...
        what: &'static str,
        /// The panic's message, when it was a string.
        message: Arc<str>,
    },
    /// The data file is locked by another opener: another pool of this process or another process has it open
    /// (bufpool takes an exclusive `flock` on every data file it opens by path or as a file storage, held until
    /// the file is closed). Reported after waiting about two seconds for the lock (a crashed process's lock can
    /// outlive it briefly).
    #[error("{path} is locked by another opener (another pool or process has it open)")]
    FileLocked {
        /// The path given; "the storage" for a file opened as a storage ([`crate::BufferPool::open_storage`]).
        path: PathBuf,
    },
    /// The path is not a regular file (a block device reports length 0 and would be overwritten from its start;
    /// bufpool refuses devices rather than guess their size and sector size).
    #[error("cannot use {path} as a data file: it is a {kind}, not a regular file")]
    NotARegularFile {
        /// The path given.
        path: PathBuf,
        /// What it is: "block device", "character device", ...
        kind: &'static str,
    },
    /// The file was written with another page size than the pool's (from its file record or its first page).
    /// The file is not opened.
    #[error(
        "{} was written with {on_disk}-byte pages; this pool uses {pool}-byte pages: open it with a pool \
        built with page_size({on_disk})",
        Opening(path, file)
    )]
    PageSizeMismatch {
        /// The path given, for a file opened by path ([`crate::BufferPool::open_file`] and the like).
        path: Option<PathBuf>,
        /// The id asked for ([`crate::FileOptions::id`]), if one was: the file has no id of its own yet.
        file: Option<FileId>,
        /// The page size on disk.
        on_disk: usize,
        /// The pool's page size.
        pool: usize,
    },
    /// The file's record (its `.bpmeta` sidecar) exists but neither slot is valid; the file is not opened.
    #[error(
        "{} not opened: its file record{} is damaged: neither slot is valid", Opening(path, file),
        path.as_ref().map(|p| format!(" ({})", crate::storage::sidecar_path(p).display())).unwrap_or_default()
    )]
    BadFileRecord {
        /// The path given, for a file opened by path: its record is the sidecar `<path>.bpmeta`.
        path: Option<PathBuf>,
        /// The id asked for ([`crate::FileOptions::id`]), if one was: the file has no id of its own yet.
        file: Option<FileId>,
    },
    /// The data file is empty, but its file record (for a file opened by path, the `.bpmeta` sidecar beside it)
    /// says a checkpoint wrote and synced `written_pages` pages to it: they are gone (a device that dropped the
    /// file's writes and length, or the file deleted, truncated or replaced outside bufpool). The file is not
    /// opened and nothing is changed. To start the file over, delete its record too (the sidecar:
    /// [`crate::storage::remove_data_file`] deletes both); an open of an empty data file without a record makes a
    /// new one (R34-20 in RELIABILITY.md).
    #[error(
        "{} not opened: it is empty, but its file record{} says {} written and synced: \
         the data is lost (to start the file over, delete the record too)",
        Opening(path, file),
        path.as_ref().map(|p| format!(" ({})", crate::storage::sidecar_path(p).display())).unwrap_or_default(),
        Plural(u64::from(*written_pages), "page")
    )]
    DataFileEmptied {
        /// The path given, for a file opened by path: its record is the sidecar `<path>.bpmeta`.
        path: Option<PathBuf>,
        /// The id asked for ([`crate::FileOptions::id`]), if one was: the file has no id of its own yet.
        file: Option<FileId>,
        /// The record's written mark: pages `0..written_pages` were written and synced.
        written_pages: u32,
    },
    /// Opening a file failed at an I/O call after the file itself was opened: reading its length, reading its
    /// record (for a file opened by path, the `.bpmeta` sidecar beside it), creating that record, or, for a file
    /// with no record, reading its page 0 to check the page size it was written with ("read page 0": opened
    /// unchecked, a file of another page size would be overwritten at the wrong offsets). The file is not
    /// opened; nothing of it was changed but, for a new file, its record.
    #[error("cannot open {}: {op} failed: {source}", Opening(path, file))]
    OpenIo {
        /// The path given, for a file opened by path.
        path: Option<PathBuf>,
        /// The id asked for ([`crate::FileOptions::id`]), if one was: the file has no id of its own yet.
        file: Option<FileId>,
        /// What was being done: "stat", "read record", "create record", "read page 0".
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The data file was deleted, or replaced by a rename over its name, while this pool had it open: no name
    /// leads to the file the pool writes any more ([`crate::storage::Storage::links`] is 0), so what it wrote and
    /// synced there is lost when the file is closed, and the next open of the path finds another file (or none).
    /// Reported by the sync that made writes durable (a checkpoint, a flush, `close_file`) instead of its `Ok`
    /// (R41-1 in RELIABILITY.md: every checkpoint and close returned `Ok`, and a reopen read a restored backup's
    /// older pages). The file then refuses writes as a failed file does ([`Error::FileFailed`]); its pages can
    /// still be read (from the file it opened) to save them, and `drop_file` closes it. The pool's other files go
    /// on. A scratch file unlinked on purpose after its open fails so at its first sync that wrote (a checkpoint
    /// syncs every file): nothing of it could outlive its close anyway; `drop_file` it instead.
    #[error(
        "{file}'s data file{} was deleted or replaced while open: no name leads to the file its pages were \
         written and synced to, so they are not durable under that name; the file refuses writes (its pages can \
         still be read)",
        path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default()
    )]
    DataFileUnlinked {
        /// The file.
        file: FileId,
        /// Its path, for a file opened by path.
        path: Option<PathBuf>,
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

/// The file an open refused: its path when it was opened by path, else the id asked for, else "the storage".
pub(crate) struct Opening<'a>(pub(crate) &'a Option<PathBuf>, pub(crate) &'a Option<FileId>);

impl std::fmt::Display for Opening<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opening(Some(path), _) => write!(f, "{}", path.display()),
            Opening(None, Some(file)) => write!(f, "{file}"),
            Opening(None, None) => f.write_str("the storage"),
        }
    }
}

/// `n` and a noun, in the plural unless `n` is 1: "1 page", "2 pages". Every count in a message goes through
/// it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plural(pub(crate) u64, pub(crate) &'static str);

impl Plural {
    /// "its only frame is" / "all 3 frames are", for a sentence about every one of them.
    pub(crate) fn all(self) -> impl std::fmt::Display {
        struct All(Plural);
        impl std::fmt::Display for All {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.0 .0 {
                    1 => write!(f, "its only {} is", self.0 .1),
                    n => write!(f, "all {n} {}s are", self.0 .1),
                }
            }
        }
        All(self)
    }
}

impl std::fmt::Display for Plural {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Plural(n, noun) = *self;
        write!(f, "{n} {noun}{}", if n == 1 { "" } else { "s" })
    }
}

/// Whether an OS error says the device is full (ENOSPC, EDQUOT): the kernel took none of the refused bytes, so
/// the write may be done again once space is freed.
fn device_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

impl Error {
    /// Builds an [`Error::Io`] (or [`Error::NoSpace`] for a full device) from an OS error.
    pub fn io(file: FileId, page: Option<PageId>, op: &'static str, e: io::Error) -> Error {
        // A panic caught from the storage travels as an io::Error (see files.rs): give it back its own type.
        if let Some(panicked @ Error::Panicked { .. }) = e.get_ref().and_then(|r| r.downcast_ref::<Error>()) {
            return panicked.clone();
        }
        if let Some(p) = page {
            if device_full(&e) {
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

    /// The [`Error::Panicked`] for a panic payload caught from callback `what` (by `std::panic::catch_unwind`):
    /// its message when the payload is a string. For an engine that reports a callback's panic as the pool does.
    pub fn panicked(what: &'static str, payload: Box<dyn std::any::Any + Send>) -> Error {
        let message: Arc<str> = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).into()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.as_str().into()
        } else {
            "(a non-string payload)".into()
        };
        Error::Panicked { what, message }
    }

    /// The file this error concerns, when it concerns one.
    pub fn file(&self) -> Option<FileId> {
        match self {
            Error::Io { file, .. }
            | Error::FileFailed { file, .. }
            | Error::FileAlreadyOpen { file, .. }
            | Error::DataFileUnlinked { file, .. } => Some(*file),
            Error::NoSpace { page, .. }
            | Error::ShortRead { page, .. }
            | Error::Corrupt { page, .. }
            | Error::OutOfRange { page, .. }
            | Error::PageLatched { page }
            | Error::PageFreed { page }
            | Error::HeldByCaller { page }
            | Error::CallbackReentry { page, .. }
            | Error::VictimWrite { victim: page, .. } => Some(page.file()),
            Error::FileNotOpen(file) => Some(*file),
            // A refused open: the id it asked for belongs to another open file, which this error is not about
            // (R18-O1: an engine routing errors by file would send it to that healthy file).
            Error::FileIdInUse(_) => None,
            // A refused open: the id asked for, if one was (the file has none of its own).
            Error::PageSizeMismatch { file, .. }
            | Error::BadFileRecord { file, .. }
            | Error::DataFileEmptied { file, .. }
            | Error::OpenIo { file, .. } => *file,
            _ => None,
        }
    }

    /// The path this error concerns, when it concerns a file opened by path: every error of opening one
    /// ([`crate::BufferPool::open_file`] and the like) names the path given, and so does a resident list's.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Open { path, .. }
            | Error::FileLocked { path }
            | Error::NotARegularFile { path, .. }
            | Error::ResidentList { path, .. } => Some(path),
            Error::FileAlreadyOpen { path, .. }
            | Error::PageSizeMismatch { path, .. }
            | Error::BadFileRecord { path, .. }
            | Error::DataFileEmptied { path, .. }
            | Error::DataFileUnlinked { path, .. }
            | Error::VictimWrite { path, .. }
            | Error::OpenIo { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// True for a write refused because a device is full, which fails nothing and is retried once space is
    /// freed: [`Error::NoSpace`] (a data file's), [`Error::WalNoSpace`] (the log's, under the write-ahead rule),
    /// a [`Error::CheckpointFailed`] whose every failed file failed so, and an open refused so ([`Error::Open`],
    /// [`Error::OpenIo`] with ENOSPC or EDQUOT: a new file's creation or record; nothing was opened, and the same
    /// path opens once space is back, R36-20), and a miss's [`Error::VictimWrite`] whose victim's write was
    /// refused so.
    pub fn is_no_space(&self) -> bool {
        match self {
            Error::NoSpace { .. } | Error::WalNoSpace { .. } => true,
            Error::VictimWrite { source, .. } => source.is_no_space(),
            Error::Open { source, .. } | Error::OpenIo { source, .. } => device_full(source),
            Error::CheckpointFailed { failed } => !failed.is_empty() && failed.iter().all(|(_, e)| e.is_no_space()),
            _ => false,
        }
    }

    /// True for [`Error::Corrupt`].
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Corrupt { .. })
    }
}
