//! Open files: `FileId <-> storage`, each file opened once.
//!
//! Owns the file registry and each file's durable-state bookkeeping: its page count, its in-memory free-page
//! list, whether it has writes not yet synced, and whether it has failed.
//!
//! Invariants:
//! - Two open files never share a `FileId`, and one `(device, inode)` is open at most once, so cached pages of
//!   different files can never be confused.
//! - After the first failed write or sync the file is *failed* for good: every later write or sync is refused
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
use crate::page::{FileId, PageNo};
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
}

impl FileEntry {
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

    /// Registers `storage` under `id` (or a fresh id). `page_size` sets the page count from the length.
    pub(crate) fn register(
        &self,
        id: Option<FileId>,
        storage: Box<dyn Storage>,
        path: Option<PathBuf>,
        page_size: usize,
    ) -> Result<FileId> {
        let identity = storage.identity();
        let len = storage
            .len()
            .map_err(|e| Error::io(id.unwrap_or(FileId(0)), None, "stat", e))?;
        let pages = len.div_ceil(page_size as u64);
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
            }),
        );
        Ok(id)
    }

    pub(crate) fn unregister(&self, id: FileId) {
        self.map.write().remove(&id);
    }
}
