//! The `Storage` trait: where page images live. The seam for every backend and every reliability test.
//!
//! Owns: the byte-level contract between the pool and a file-like device. Implementations:
//! - [`FileStorage`]: a real file through `pread`/`pwrite`, O_DIRECT probed at open with a buffered
//!   fallback where the filesystem refuses it (tmpfs, some overlay filesystems);
//! - [`MemoryStorage`]: a growable in-memory image for unit tests;
//! - `FaultyStorage` (with the cargo feature `testing` only): test tooling: seeded fault injection
//!   (EIO, short, torn and misdirected writes, latency) and crash simulation over a live and a durable image;
//! - [`UringStorage`]: the same file through io_uring, a whole [`Storage::submit`] batch in flight;
//!
//! # Contract
//! - Offsets and lengths the pool passes are multiples of the page size, and buffers are aligned to
//!   [`IO_ALIGN`], so an O_DIRECT backend can pass them straight through.
//! - `read_at` returns the number of bytes read: fewer than asked only at end of file. Any other failure is an
//!   `Err`. `write_at` writes everything or fails.
//! - `sync` makes every completed write durable. After a failed `sync` the pool trusts nothing: it marks the file
//!   failed (see [`crate::Error::FileFailed`]); backends need not (and should not) retry.
//! - `submit` is the batch form: a backend that can keep many requests in flight (io_uring) overrides it; the
//!   default runs the batch one request at a time. Every request's `result` is set before `submit` returns.
//! - Implementations are `Send + Sync`; the pool calls them from many threads at once, for different offsets.
//! - A backend must not call back into the pool (the crate docs' rules for callers): `read_at`, `submit` and
//!   `write_at` run with the frames they fill or write latched. A call back that would wait for one of those,
//!   or for a frame another thread's callback holds (another thread's `read_at` loading the page asked for),
//!   returns [`crate::Error::CallbackReentry`] instead of waiting.

#[cfg(feature = "testing")]
mod faulty;
mod file;
mod memory;
mod uring;

use std::io;

#[cfg(feature = "testing")]
pub use faulty::{AreaImages, Fault, FaultConfig, FaultCounts, FaultyStorage, Op, BLOCK_SIZE, SECTOR_SIZE};
pub(crate) use file::existing_area;
#[cfg(feature = "testing")]
pub use file::fail_dir_syncs;
pub use file::{
    area_path, create_anew, file_kind, read_past_cache, remove_data_file, replace_file, replaced_path, sidecar_path,
    sync_parent_dir, temp_path, FileStorage, OpenMode,
};
pub use memory::{MemoryRecord, MemoryStorage};
pub use uring::{uring_available, uring_fallbacks, UringStorage};

pub use crate::page::{AlignedBuf, IO_ALIGN};

/// One request of a batch.
#[derive(Debug)]
pub struct IoRequest<'a> {
    /// Byte offset in the file.
    pub offset: u64,
    /// What to do, with the buffer.
    pub kind: IoKind<'a>,
    /// Set by [`Storage::submit`]: bytes transferred, or the error.
    pub result: Option<io::Result<usize>>,
}

impl<'a> IoRequest<'a> {
    /// A read of `buf.len()` bytes at `offset`.
    pub fn read(offset: u64, buf: &'a mut [u8]) -> Self {
        IoRequest {
            offset,
            kind: IoKind::Read(buf),
            result: None,
        }
    }

    /// A write of `buf` at `offset`.
    pub fn write(offset: u64, buf: &'a [u8]) -> Self {
        IoRequest {
            offset,
            kind: IoKind::Write(buf),
            result: None,
        }
    }
}

/// The direction and buffer of an [`IoRequest`].
#[derive(Debug)]
pub enum IoKind<'a> {
    /// Read into this buffer.
    Read(&'a mut [u8]),
    /// Write this buffer.
    Write(&'a [u8]),
}

/// Static facts about a backend, reported in [`crate::Stats`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StorageInfo {
    /// Short name: "pread", "io_uring", "memory", "faulty", ...
    pub backend: &'static str,
    /// True when reads and writes bypass the OS page cache (O_DIRECT).
    pub direct: bool,
}

/// A file-like device addressed by byte offset. See the module docs for the contract.
#[allow(clippy::len_without_is_empty)] // `len` is a fallible size query, not a collection length.
pub trait Storage: Send + Sync + 'static {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (fewer only at end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// [`Storage::read_at`] of what the device holds, past any cache in front of it that may hold other bytes:
    /// after a failed `sync` Linux keeps the written pages cached and marks them clean, so a read through the
    /// page cache returns bytes the device never took, in this process and in any later one on the same running
    /// system. `bufpool-btree`'s log reads its header slots so at every open before it trusts one (R46-10 in
    /// RELIABILITY.md), and the records it read, to write again only the 4 KiB blocks of them the device lacks
    /// (R47-10); the pool does not call it. Calls of a few KiB (the slots) to 1 MiB (the records): no alignment
    /// is asked of `buf`, `offset` or the length. Default: [`Storage::read_at`], right for a storage with no such
    /// cache (memory, a file opened O_DIRECT); [`FileStorage`] and [`UringStorage`] opened buffered read the file
    /// O_DIRECT ([`read_past_cache`]); `FaultyStorage` reads its durable image. A wrapper storage forwards it; one
    /// that does not answers with what its reads return, and a log on it takes those for the device's (its
    /// header slots, and records a failed fsync left readable, which its open then does not write again).
    fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_at(buf, offset)
    }

    /// Makes every completed write durable.
    fn sync(&self) -> io::Result<()>;

    /// Runs a batch of requests, setting each one's `result`. The default runs them one at a time.
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        for req in batch.iter_mut() {
            req.result = Some(match &mut req.kind {
                IoKind::Read(buf) => self.read_at(buf, req.offset),
                IoKind::Write(buf) => self.write_at(buf, req.offset).map(|()| buf.len()),
            });
        }
    }

    /// What this backend is.
    fn info(&self) -> StorageInfo;

    /// `(device, inode)` of the underlying file, so the pool can refuse to open one file twice. `None` for
    /// backends that are not files.
    fn identity(&self) -> Option<(u64, u64)> {
        None
    }

    /// How many names lead to the underlying file now (its link count, `st_nlink`): 0 once it was deleted, or
    /// replaced by a rename over its name, while open, so that what is written and synced in it goes with it when
    /// it is closed. The pool asks after each sync that made writes durable, and fails the file with
    /// [`crate::Error::DataFileUnlinked`] on 0 (R41-1 in RELIABILITY.md). `None` (the default): not a file, or
    /// not known; a wrapper storage forwards it as it forwards [`Storage::identity`].
    fn links(&self) -> Option<u64> {
        None
    }

    /// Where this storage keeps bufpool's file record (identity, page size, written mark: ARCHITECTURE.md, "Page
    /// format and file record"). `None` (the default): the file is *unbound*: pages are not checked against a
    /// file identity and all-zero pages always read as never written.
    fn record_store(&self) -> Option<&dyn RecordStore> {
        None
    }

    /// Where this storage keeps the file's doublewrite area (a copy of each batch of pages, synced before they are
    /// written in place, from which the open restores a page a crash tore: `doublewrite.rs`), for a file opened
    /// with [`crate::FileOptions::doublewrite`], asked only for such a file. `None` (the default): the storage keeps
    /// none, and such an open is refused; an error (the sidecar `<path>.bpdw` of a file could not be opened or
    /// made) refuses it too.
    fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
        Ok(None)
    }

    /// Takes an exclusive advisory lock on the underlying file (`flock`, held until the storage is dropped), so
    /// no other opener (another pool, this process or another) writes it meanwhile; a conflict is
    /// [`io::ErrorKind::WouldBlock`]. The pool calls it when it opens a file, by path or as a storage, before it
    /// reads anything, and so does `bufpool-btree`'s log. One opener per storage: `FileStorage` and
    /// `UringStorage` refuse a second call once one took the lock (`WouldBlock`), so one storage shared through an
    /// `Arc` by two pools or two logs is opened by the first only (R41-3 in RELIABILITY.md: `flock` grants the
    /// lock again through the descriptor that holds it, and both wrote the file). Default: no lock (`Ok`): a
    /// wrapper storage that does not forward it, or a storage of memory, cannot tell a second opener, and the
    /// caller must not open it twice.
    fn try_lock(&self) -> io::Result<()> {
        Ok(())
    }

    /// Gives back the lock [`Storage::try_lock`] took, for an opener done with the storage: the pool when the
    /// file is closed or dropped or its open refused, a log when it is dropped or its open refused (both hold the
    /// storage in an [`Opened`], which calls this when dropped). A storage shared through an `Arc` can then be
    /// opened again while a clone lives. Called only by the opener that holds the lock. Default: nothing (a
    /// wrapper that forwards `try_lock` but not this keeps its lock until it is dropped).
    fn unlock(&self) {}
}

/// A storage whose lock ([`Storage::try_lock`]) its opener holds, given back ([`Storage::unlock`]) when this is
/// dropped; every call is forwarded. The pool holds a storage handed to [`crate::BufferPool::open_storage`] so,
/// and `bufpool-btree`'s log one handed to its `open_storage`: one shared through an `Arc` is locked while an
/// opener has it, and opens again once that opener is done (R41-3 in RELIABILITY.md).
#[derive(Debug)]
pub struct Opened<S: Storage + ?Sized>(S);

impl<S: Storage> Opened<S> {
    /// Wraps `storage`, whose lock the caller has just taken ([`Storage::try_lock`] returned `Ok`).
    pub fn new(storage: S) -> Opened<S> {
        Opened(storage)
    }
}

impl<S: Storage + ?Sized> std::ops::Deref for Opened<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S: Storage + ?Sized> Drop for Opened<S> {
    /// Under a panic wrapper: a caller's `unlock` that panics must not end the thread that dropped the last
    /// reference (an I/O worker's, the writer's: R21-40).
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.unlock()));
    }
}

/// A small byte store beside a storage's pages for bufpool's file record: the sidecar `<file>.bpmeta` of a
/// file opened by path, a vector for [`MemoryStorage`]. `write_at` followed by `sync` must make the bytes
/// durable; the record's two slots make a torn update harmless.
pub trait RecordStore: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes completed writes durable.
    fn sync(&self) -> io::Result<()>;

    /// Sets aside room for the store's first `len` bytes before they are written, where it can (the doublewrite
    /// area, at its open: its slots allocated once, not as the ring first reaches each), durable with the next
    /// [`RecordStore::sync`]. The default, and a file system without the means or the room: nothing (the store
    /// grows as it is written, and a write refused for space fails then).
    fn reserve(&self, len: u64) -> io::Result<()> {
        let _ = len;
        Ok(())
    }
}

/// `Storage` through a smart pointer (`Box<dyn Storage>`, a test's `Arc<FaultyStorage>`, an [`Opened`]): every
/// call forwarded.
macro_rules! forward_storage {
    ($($ptr:ident),*) => {$(
        impl<S: Storage + ?Sized> Storage for $ptr<S> {
            fn len(&self) -> io::Result<u64> {
                (**self).len()
            }
            fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
                (**self).read_at(buf, offset)
            }
            fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
                (**self).write_at(buf, offset)
            }
            fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
                (**self).read_device_at(buf, offset)
            }
            fn sync(&self) -> io::Result<()> {
                (**self).sync()
            }
            fn submit(&self, batch: &mut [IoRequest<'_>]) {
                (**self).submit(batch)
            }
            fn info(&self) -> StorageInfo {
                (**self).info()
            }
            fn identity(&self) -> Option<(u64, u64)> {
                (**self).identity()
            }
            fn links(&self) -> Option<u64> {
                (**self).links()
            }
            fn record_store(&self) -> Option<&dyn RecordStore> {
                (**self).record_store()
            }
            fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
                (**self).doublewrite_store()
            }
            fn try_lock(&self) -> io::Result<()> {
                (**self).try_lock()
            }
            fn unlock(&self) {
                (**self).unlock()
            }
        }
    )*};
}

use std::sync::Arc;
forward_storage!(Box, Arc, Opened);

/// Reads exactly `buf.len()` bytes, looping over short transfers; returns the count actually read, which is less
/// than `buf.len()` only at end of file. Shared by backends whose primitive may return short.
pub(crate) fn read_full(
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    buf: &mut [u8],
    offset: u64,
) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match read(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
