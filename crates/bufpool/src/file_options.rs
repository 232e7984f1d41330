//! Per-file settings: what [`crate::BufferPool::open_file_with`] and [`crate::BufferPool::open_storage_with`]
//! take.
//!
//! Owns [`FileOptions`]: the id a file is opened under (an engine's persistent id, or one the pool assigns),
//! the file's own write-ahead log, and whether its pages go through a doublewrite area first. Several engines share one pool by opening their files each with its own log:
//! the pool writes a page only after *that page's file's* log is durable up to the page's LSN (`write_run` in
//! `writer.rs` asks `FileEntry::wal`, which is this log or the builder's default), and never asks another file's
//! log. The log is resolved once, when the file is registered, so the write path does one indirect call, as
//! before.

use std::fmt;
use std::sync::Arc;

use crate::page::FileId;
use crate::wal::Wal;

/// How to open one file of the pool: its id and its log. The defaults (`FileOptions::new()`) are those of
/// [`crate::BufferPool::open_file`]: an id chosen by the pool, and the builder's WAL ([`crate::Builder::wal`]).
///
/// ```
/// use std::sync::Arc;
/// use bufpool::{BufferPool, FileId, FileOptions, NoWal};
///
/// # fn main() -> bufpool::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let pool = BufferPool::builder().frames(64).build()?;
/// // An engine with its own persistent file id and its own log (here one with nothing to flush).
/// let file = pool.open_file_with(dir.path().join("orders.db"), FileOptions::new().id(FileId(7)).wal(Arc::new(NoWal)))?;
/// assert_eq!(file, FileId(7));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct FileOptions {
    pub(crate) id: Option<FileId>,
    pub(crate) wal: Option<Arc<dyn Wal>>,
    pub(crate) doublewrite: bool,
}

impl FileOptions {
    /// Options with the defaults: an id chosen by the pool, the builder's WAL.
    pub fn new() -> FileOptions {
        FileOptions::default()
    }

    /// Opens the file under the engine's own persistent `id` (as PostgreSQL's catalog keeps relfilenodes). An id
    /// held by an open file, or by an open by path still in progress under it, is refused
    /// ([`crate::Error::FileIdInUse`]); ids above [`FileId::MAX`] are reserved
    /// ([`crate::Error::InvalidConfig`]). The id of a file just closed or dropped is taken once every call that
    /// started on that file has returned (the open waits for them up to a second), so a call that named the
    /// earlier file never acts on the newer one's pages.
    pub fn id(mut self, id: FileId) -> FileOptions {
        self.id = Some(id);
        self
    }

    /// The file's own write-ahead log: a page of this file is written only after `wal.flush_to(page_lsn)` returned,
    /// and no other log is asked for it. Without this, the file uses the builder's WAL ([`crate::Builder::wal`]).
    pub fn wal(mut self, wal: Arc<dyn Wal>) -> FileOptions {
        self.wal = Some(wal);
        self
    }

    /// Writes each batch of the file's pages into its storage's doublewrite area first, synced, and only then in
    /// place, so that a page a crash tears while it is written in place is restored from its copy when the file is
    /// opened again (InnoDB's doublewrite buffer), instead of reading back as [`crate::Error::Corrupt`]: an engine
    /// needs no full-page images in its log then. Needs a storage that keeps a file record and an area
    /// ([`crate::storage::Storage::doublewrite_store`]); otherwise the open is refused
    /// ([`crate::Error::InvalidConfig`]). Each batch costs one more sequential write and a sync of the area;
    /// the data file is synced at least every time the area's ring wraps (as many slots as the file's pages fill,
    /// 2 to 64 batches, grown with the file; for a file by path the area is the sidecar `<file>.bpdw`, about the
    /// file's size and at most 33 MB at 4 KiB pages, reserved where there is room). A file by path opened without
    /// it while its sidecar holds copies from a crash is refused ([`crate::Error::InvalidConfig`]): open it with
    /// the area, which repairs it. ARCHITECTURE.md, "Torn pages after a crash".
    pub fn doublewrite(mut self, on: bool) -> FileOptions {
        self.doublewrite = on;
        self
    }
}

impl fmt::Debug for FileOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileOptions")
            .field("id", &self.id)
            .field("wal", &self.wal.as_ref().map_or("builder's", |_| "own"))
            .field("doublewrite", &self.doublewrite)
            .finish()
    }
}
