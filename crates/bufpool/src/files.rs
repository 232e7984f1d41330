//! Open files: `FileId <-> storage`, each file opened once.
//!
//! Owns the file registry and each file's durable-state bookkeeping: its page count, its in-memory free-page
//! list, whether it has writes not yet synced, whether it has failed, and its file record (identity, written
//! mark: `record.rs`).
//!
//! Invariants:
//! - Two open files never share a `FileId`, and one `(device, inode)` is open at most once, so cached pages of
//!   different files can never be confused.
//! - After the first failed sync, or failed write other than ENOSPC, the file is *failed* for good: every later
//!   write or sync is refused
//!   with [`Error::FileFailed`] (a retry after a failed fsync cannot be trusted: the kernel may have dropped the
//!   dirty data and cleared the error). Reads still work.
//! - `unsynced` is set after every completed write and cleared just before a sync: a write completing after the
//!   clear sets it again, so no completed write is ever left out of both this sync and the next.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};
use crate::page::{AlignedBuf, FileId, PageHeader, PageNo, PAGE_FORMAT_VERSION, PAGE_MAGIC};
use crate::record::{self, FileRecord, Loaded};
use crate::stats::FileStats;
use crate::storage::{Storage, StorageInfo};

pub(crate) struct FileEntry {
    pub(crate) id: FileId,
    pub(crate) storage: Box<dyn Storage>,
    pub(crate) info: StorageInfo,
    pub(crate) path: Option<PathBuf>,
    identity: Option<(u64, u64)>,
    /// Pages allocated: page numbers `0..pages` exist (on disk or as new dirty pages in the pool).
    pub(crate) pages: AtomicU32,
    /// Freed page numbers, reused lowest first by `new_page`. In memory only (see `BufferPool::free_page`).
    pub(crate) free: Mutex<BTreeSet<PageNo>>,
    pub(crate) unsynced: AtomicBool,
    /// Serialises syncs of this file (see `BufferPool::sync_file`).
    pub(crate) sync_lock: Mutex<()>,
    /// Set (SeqCst) when the file is being closed or dropped; loads of its pages then undo themselves.
    pub(crate) closing: AtomicBool,
    failed: Mutex<Option<Arc<str>>>,
    failed_flag: AtomicBool,
    /// The registry's "some file has failed" flag, set with ours (see [`Files::any_failed`]).
    any_failed: Arc<AtomicBool>,
    /// The file identity stamped into every page written and required of every page read; 0 for an unbound file
    /// (no record: nothing is required).
    pub(crate) bound: u32,
    /// The durable record (bound files only); its lock serialises record updates.
    record: Mutex<Option<FileRecord>>,
    /// Strict mode: an all-zero page below the record's written mark is a lost write.
    strict: bool,
    /// Pages not known to be durably written (bound files only): pages created by `new_page` and not yet written,
    /// and pages at or above the record's mark that the file had when it was opened, until written or read valid.
    /// The written mark never passes the lowest of them.
    unwritten: Mutex<BTreeSet<PageNo>>,
}

impl FileEntry {
    /// The identity a page read from this file must carry, if the file is bound.
    #[inline]
    pub(crate) fn expected_identity(&self) -> Option<u32> {
        (self.bound != 0).then_some(self.bound)
    }

    /// In strict mode, the written mark below which an all-zero page is a lost write.
    pub(crate) fn lost_write_below(&self) -> Option<u32> {
        if !self.strict {
            return None;
        }
        self.record.lock().map(|r| r.written_pages)
    }

    /// `page_no` was created by `new_page` and is not on disk yet.
    pub(crate) fn note_new(&self, page_no: PageNo) {
        if self.bound != 0 {
            self.unwritten.lock().insert(page_no);
        }
    }

    /// `page_no` was written (or read back valid): it no longer holds the written mark back.
    pub(crate) fn note_written(&self, page_no: PageNo) {
        if self.bound != 0 {
            let mut u = self.unwritten.lock();
            if !u.is_empty() {
                u.remove(&page_no);
            }
        }
    }

    /// The written mark this file may record once a sync that starts now succeeds: every page below it has been
    /// written (its write completed before the sync starts). `None` for an unbound file.
    pub(crate) fn mark_candidate(&self) -> Option<u32> {
        if self.bound == 0 {
            return None;
        }
        let pages = self.pages.load(Acquire);
        Some(self.unwritten.lock().first().map_or(pages, |&n| n.min(pages)))
    }

    /// Records `candidate` (from [`FileEntry::mark_candidate`], taken before a successful sync) durably if it
    /// raises the written mark.
    pub(crate) fn advance_mark(&self, candidate: Option<u32>) -> Result<()> {
        let Some(candidate) = candidate else {
            return Ok(());
        };
        let mut rec = self.record.lock();
        let Some(current) = *rec else {
            return Ok(());
        };
        if candidate <= current.written_pages {
            return Ok(());
        }
        let store = self.storage.record_store().expect("a bound file has a record store");
        let next = FileRecord {
            written_pages: candidate,
            seq: current.seq + 1,
            ..current
        };
        record::store(store, &next).map_err(|e| Error::io(self.id, None, "record", e))?;
        *rec = Some(next);
        Ok(())
    }
    #[inline]
    pub(crate) fn is_failed(&self) -> bool {
        self.failed_flag.load(Acquire)
    }

    /// The error to return for a write to a failed file.
    pub(crate) fn failed_error(&self) -> Error {
        Error::FileFailed {
            file: self.id,
            first: self.failed.lock().clone().unwrap_or_else(|| "unknown".into()),
        }
    }

    /// Latches the failure: the first reason is kept.
    pub(crate) fn fail(&self, reason: &Error) {
        let mut f = self.failed.lock();
        if f.is_none() {
            *f = Some(reason.to_string().into());
        }
        self.failed_flag.store(true, Release);
        self.any_failed.store(true, Release);
    }

    pub(crate) fn stats(&self) -> FileStats {
        FileStats {
            file: self.id,
            path: self.path.clone(),
            backend: self.info.backend,
            direct: self.info.direct,
            pages: self.pages.load(Relaxed),
            failed: self.is_failed(),
        }
    }
}

/// The registry of open files.
pub(crate) struct Files {
    map: RwLock<HashMap<FileId, Arc<FileEntry>>>,
    next_id: Mutex<u32>,
    any_failed: Arc<AtomicBool>,
}

impl Files {
    pub(crate) fn new() -> Files {
        Files {
            map: RwLock::new(HashMap::new()),
            next_id: Mutex::new(0),
            any_failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// False until some file of this pool has failed: lets the write hit path skip the registry lookup (a shared
    /// lock and a reference count, contended between cores) in the normal case.
    #[inline]
    pub(crate) fn any_failed(&self) -> bool {
        self.any_failed.load(Acquire)
    }

    #[inline]
    pub(crate) fn get(&self, id: FileId) -> Result<Arc<FileEntry>> {
        self.map.read().get(&id).cloned().ok_or(Error::FileNotOpen(id))
    }

    pub(crate) fn all(&self) -> Vec<Arc<FileEntry>> {
        let mut v: Vec<_> = self.map.read().values().cloned().collect();
        v.sort_by_key(|f| f.id);
        v
    }

    /// The id under which the file `(device, inode)` is open, if it is.
    pub(crate) fn open_as(&self, ident: (u64, u64)) -> Option<FileId> {
        self.map
            .read()
            .values()
            .find(|f| f.identity == Some(ident))
            .map(|f| f.id)
    }

    /// Registers `storage` under `id` (or a fresh id). `page_size` sets the page count from the length. Reads (or,
    /// for an empty file whose storage keeps one, creates) the file record; refuses a file of another page size.
    pub(crate) fn register(
        &self,
        id: Option<FileId>,
        storage: Box<dyn Storage>,
        path: Option<PathBuf>,
        page_size: usize,
        strict: bool,
    ) -> Result<FileId> {
        let identity = storage.identity();
        let err_id = id.unwrap_or(FileId(0));
        let len = storage.len().map_err(|e| Error::io(err_id, None, "stat", e))?;
        let pages = len.div_ceil(page_size as u64);
        let record = open_record(&*storage, err_id, len, page_size)?;
        let mut map = self.map.write();
        if let Some(ident) = identity {
            if let Some(f) = map.values().find(|f| f.identity == Some(ident)) {
                return Err(Error::FileAlreadyOpen {
                    path: path.unwrap_or_default(),
                    file: f.id,
                });
            }
        }
        let id = match id {
            Some(id) if id > FileId::MAX => {
                return Err(Error::InvalidConfig(format!("file id {} is reserved", id.0)));
            }
            Some(id) if map.contains_key(&id) => return Err(Error::FileIdInUse(id)),
            Some(id) => id,
            None => {
                let mut next = self.next_id.lock();
                while map.contains_key(&FileId(*next)) {
                    *next = next.checked_add(1).filter(|n| *n <= FileId::MAX.0).unwrap_or(0);
                }
                let id = FileId(*next);
                *next = next.checked_add(1).filter(|n| *n <= FileId::MAX.0).unwrap_or(0);
                id
            }
        };
        let pages = u32::try_from(pages).map_err(|_| {
            Error::InvalidConfig(format!("file has {pages} pages; at most {} are addressable", u32::MAX))
        })?;
        let info = storage.info();
        map.insert(
            id,
            Arc::new(FileEntry {
                id,
                storage,
                info,
                path,
                identity,
                pages: AtomicU32::new(pages),
                free: Mutex::new(BTreeSet::new()),
                // Writes made through an earlier handle of this file may not be durable yet (a reopened file, a
                // restarted process over a warm page cache): the first flush or checkpoint syncs, as PostgreSQL
                // fsyncs its data directory at start-up. See tests/sim_regression_reopen_unsynced.rs.
                unsynced: AtomicBool::new(true),
                sync_lock: Mutex::new(()),
                closing: AtomicBool::new(false),
                failed: Mutex::new(None),
                failed_flag: AtomicBool::new(false),
                any_failed: self.any_failed.clone(),
                bound: record.map_or(0, |r| r.identity),
                strict: strict && record.is_some(),
                // Pages the file had beyond its mark may be holes (new pages never written before a crash).
                unwritten: Mutex::new(record.map_or_else(BTreeSet::new, |r| (r.written_pages..pages).collect())),
                record: Mutex::new(record),
            }),
        );
        Ok(id)
    }

    pub(crate) fn unregister(&self, id: FileId) {
        // (The file's flock and record sidecar are released when its storage is dropped.)
        self.map.write().remove(&id);
    }
}

/// The file's record: read, or created for an empty file whose storage keeps records; `None` for an unbound
/// file. Refuses a file whose record or first page names another page size.
fn open_record(storage: &dyn Storage, file: FileId, len: u64, page_size: usize) -> Result<Option<FileRecord>> {
    let mismatch = |on_disk: usize| Error::PageSizeMismatch {
        file,
        on_disk,
        pool: page_size,
    };
    let record = match storage.record_store() {
        None => None,
        Some(store) => match record::load(store).map_err(|e| Error::io(file, None, "read record", e))? {
            Loaded::Found(r) if len == 0 && r.written_pages > 0 => {
                // A record left by a deleted data file (the file was recreated empty): start afresh.
                Some(record::create(store, page_size).map_err(|e| Error::io(file, None, "create record", e))?)
            }
            Loaded::Found(r) => Some(r),
            Loaded::Empty | Loaded::Invalid if len == 0 => {
                Some(record::create(store, page_size).map_err(|e| Error::io(file, None, "create record", e))?)
            }
            Loaded::Empty => None,
            Loaded::Invalid => return Err(Error::BadFileRecord { file }),
        },
    };
    if let Some(r) = record {
        if r.page_size as usize != page_size {
            return Err(mismatch(r.page_size as usize));
        }
    } else if len >= crate::page::IO_ALIGN as u64 {
        // Unbound: the first page's header, if it is a bufpool page, names its page size.
        let mut buf = AlignedBuf::zeroed(crate::page::IO_ALIGN);
        if storage.read_at(&mut buf, 0).is_ok() {
            if let Some(h) = PageHeader::decode(&buf) {
                if h.magic == PAGE_MAGIC && h.format == PAGE_FORMAT_VERSION {
                    if let Some(size) = h.page_size().filter(|&s| s != page_size) {
                        return Err(mismatch(size));
                    }
                }
            }
        }
    }
    Ok(record)
}
