//! The tests' fault-injecting storages, written once: [`Hooked`] forwards every `Storage` call to the storage
//! below, and its reads, writes, syncs, batches, file record and doublewrite area through a test's [`Hooks`], whose
//! default methods forward too; a test overrides only the calls it changes (fails, drops, holds, counts, taps). Used by
//! `bufpool-btree`'s tests through `#[path]` (its `tests/common/mod.rs`) and by some of the pool's own; the others
//! still forward by hand (R43-O10 in RELIABILITY.md).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bufpool::storage::{IoKind, IoRequest, RecordStore, Storage, StorageInfo};

/// What a test's storage does instead of, or around, a call to the storage below (`below`). Each default
/// method forwards the call.
pub trait Hooks: Send + Sync + 'static {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        below.read_at(buf, offset)
    }
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        below.write_at(buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> io::Result<()> {
        below.sync()
    }
    /// A read of what the device holds (`Storage::read_device_at`: a log's open reads its header slots so): by
    /// default the one below, not through [`Hooks::read`].
    fn read_device(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        below.read_device_at(buf, offset)
    }
    /// A batch: by default each request through [`Hooks::read`] and [`Hooks::write`], one at a time, as
    /// `Storage::submit`'s default runs a batch (so a fault on writes meets the pool's batched writes too).
    fn submit(&self, below: &dyn Storage, batch: &mut [IoRequest<'_>]) {
        for req in batch.iter_mut() {
            req.result = Some(match &mut req.kind {
                IoKind::Read(buf) => self.read(below, buf, req.offset),
                IoKind::Write(buf) => self.write(below, buf, req.offset).map(|()| buf.len()),
            });
        }
    }
    /// The file record the pool binds the pages to: by default the one below (`None` serves the pages
    /// unbound, as a file written before records existed).
    fn record_store<'a>(&'a self, below: &'a dyn Storage) -> Option<&'a dyn RecordStore> {
        below.record_store()
    }
    /// The doublewrite area (`FileOptions::doublewrite`): by default the one below.
    fn doublewrite_store<'a>(&'a self, below: &'a dyn Storage) -> io::Result<Option<&'a dyn RecordStore>> {
        below.doublewrite_store()
    }
}

/// Hooks shared: a test keeps one `Arc` to arm them or read what they counted, the storage another.
impl<H: Hooks> Hooks for Arc<H> {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read(below, buf, offset)
    }
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        (**self).write(below, buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> io::Result<()> {
        (**self).sync(below)
    }
    fn read_device(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_device(below, buf, offset)
    }
    fn submit(&self, below: &dyn Storage, batch: &mut [IoRequest<'_>]) {
        (**self).submit(below, batch)
    }
    fn record_store<'a>(&'a self, below: &'a dyn Storage) -> Option<&'a dyn RecordStore> {
        (**self).record_store(below)
    }
    fn doublewrite_store<'a>(&'a self, below: &'a dyn Storage) -> io::Result<Option<&'a dyn RecordStore>> {
        (**self).doublewrite_store(below)
    }
}

/// `below` as the pool or the log sees it through `hooks`. Every other call (`len`, `info`, `identity`,
/// `links`, `try_lock`, `unlock`) is forwarded as it is. A clone over an `Arc` below and `Arc` hooks is another
/// handle on the same device and the same hooks.
#[derive(Clone)]
pub struct Hooked<S, H> {
    pub below: S,
    pub hooks: H,
    /// False: no file record ([`Hooked::unbound`]).
    bound: bool,
}

impl<S: Storage, H: Hooks> Hooked<S, H> {
    pub fn new(below: S, hooks: H) -> Hooked<S, H> {
        Hooked {
            below,
            hooks,
            bound: true,
        }
    }

    /// With no file record, whatever `below` has: the pool serves its pages unbound (no identity check, all-zero
    /// pages never written), as a file written before records existed, or as a test storage that forwarded none.
    pub fn unbound(below: S, hooks: H) -> Hooked<S, H> {
        Hooked {
            below,
            hooks,
            bound: false,
        }
    }
}

impl<S: Storage, H: Hooks> Storage for Hooked<S, H> {
    fn len(&self) -> io::Result<u64> {
        self.below.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.hooks.read(&self.below, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.hooks.write(&self.below, buf, offset)
    }
    fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.hooks.read_device(&self.below, buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.hooks.sync(&self.below)
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        self.hooks.submit(&self.below, batch)
    }
    fn info(&self) -> StorageInfo {
        self.below.info()
    }
    fn identity(&self) -> Option<(u64, u64)> {
        self.below.identity()
    }
    fn links(&self) -> Option<u64> {
        self.below.links()
    }
    fn record_store(&self) -> Option<&dyn RecordStore> {
        self.bound.then(|| self.hooks.record_store(&self.below)).flatten()
    }
    fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
        self.hooks.doublewrite_store(&self.below)
    }
    fn try_lock(&self) -> io::Result<()> {
        self.below.try_lock()
    }
    fn unlock(&self) {
        self.below.unlock()
    }
}

/// Whether writing `buf` at `offset` would change the bytes `below` holds there (a write past its end does).
/// An open writes its log's header slots again as read (L42-1, R42-3): a hook that counts a cut's or an
/// upgrade's slot writes counts only the writes that change bytes.
pub fn changes_bytes(below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<bool> {
    let mut was = vec![0u8; buf.len()];
    Ok(below.read_at(&mut was, offset)? != buf.len() || was != buf)
}

/// A device that acknowledges and drops every write at byte `at` (`u64::MAX`: none), counting them in
/// `dropped`.
pub struct DropsWrites {
    pub at: Arc<AtomicU64>,
    pub dropped: Arc<AtomicU64>,
}

impl Hooks for DropsWrites {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        if offset == self.at.load(Ordering::SeqCst) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        below.write_at(buf, offset)
    }
}
