//! `bufpool`: the pool under test, built with the run's frame count, 4 KiB pages and its defaults (CLOCK, no
//! WAL, O_DIRECT probed with a buffered fallback), over a data file written through the pool itself, so every
//! page carries a valid pool header and checksum.
//!
//! The file is opened with `open_storage` over the backend `open_file` would pick (by default io_uring where the
//! kernel allows it, else `pread`; `--bufpool-io` overrides; O_DIRECT probed either way), wrapped in [`Counted`] so device reads and writes
//! are counted the same way as for every other system.

use std::io;
use std::path::Path;
use std::sync::Arc;

use anyhow::{ensure, Result};
use bufpool::storage::{uring_available, IoKind, IoRequest, StorageInfo};
use bufpool::{BufferPool, FileId, FileStorage, IoBackend, OpenMode, PageId, Storage, UringStorage};

use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck::{self, Words};

const PAGE_SIZE: usize = 4096;

/// Writes `pages` pages through a pool of `frames` frames: `new_page`, the self-check into the user bytes, and a
/// final checkpoint.
pub fn prepare(path: &Path, pages: u32, frames: usize, seed: u64) -> Result<()> {
    let pool = BufferPool::builder().frames(frames).page_size(PAGE_SIZE).build()?;
    let file = pool.open_file(path)?;
    for p in 0..pages {
        let mut g = pool.new_page(file)?;
        ensure!(
            g.page_id().page_no() == p,
            "new_page returned {:?}, expected page {p}",
            g.page_id()
        );
        selfcheck::init(&mut g, seed, p);
    }
    pool.checkpoint()?;
    pool.close()?;
    Ok(())
}

/// A [`Storage`] that counts the pool's device reads and writes.
pub struct Counted {
    inner: Box<dyn Storage>,
    counters: Arc<IoCounters>,
}

impl Counted {
    fn page_of(offset: u64) -> u64 {
        offset / PAGE_SIZE as u64
    }

    fn count(&self, offset: u64, write: bool) {
        if write {
            self.counters.write();
        } else {
            self.counters.read(Self::page_of(offset));
        }
    }
}

impl Storage for Counted {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.count(offset, false);
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.count(offset, true);
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        for req in batch.iter() {
            self.count(req.offset, matches!(req.kind, IoKind::Write(_)));
        }
        self.inner.submit(batch)
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
    fn identity(&self) -> Option<(u64, u64)> {
        self.inner.identity()
    }
}

/// bufpool over its prepared file.
pub struct Bufpool {
    pool: BufferPool,
    file: FileId,
    counters: Arc<IoCounters>,
    seed: u64,
    direct: bool,
    backend: &'static str,
}

impl Bufpool {
    /// A pool of `frames` frames over the file at `path`.
    pub fn open(path: &Path, frames: usize, seed: u64, backend: IoBackend) -> Result<Bufpool> {
        let pool = BufferPool::builder().frames(frames).page_size(PAGE_SIZE).build()?;
        // The choice `open_file` makes for this backend.
        let uring = match backend {
            IoBackend::Auto => uring_available(),
            IoBackend::Uring => true,
            IoBackend::Pread => false,
        };
        let inner: Box<dyn Storage> = if uring {
            Box::new(UringStorage::open(path, OpenMode::DirectOrBuffered)?)
        } else {
            Box::new(FileStorage::open(path, OpenMode::DirectOrBuffered)?)
        };
        let info = inner.info();
        let (direct, backend) = (info.direct, info.backend);
        let counters = Arc::new(IoCounters::default());
        let file = pool.open_storage(Counted {
            inner,
            counters: Arc::clone(&counters),
        })?;
        Ok(Bufpool {
            pool,
            file,
            counters,
            seed,
            direct,
            backend,
        })
    }

    /// Whether the file bypasses the page cache.
    pub fn direct(&self) -> bool {
        self.direct
    }

    /// The storage backend's name ("io_uring", "pread").
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The pool's own counters, for the cross-checks in the report.
    pub fn stats(&self) -> bufpool::Stats {
        self.pool.stats()
    }
}

/// A thread's handle on [`Bufpool`].
pub struct BufpoolWorker<'a>(&'a Bufpool);

impl System for Bufpool {
    type Worker<'a> = BufpoolWorker<'a>;

    fn worker(&self) -> Result<BufpoolWorker<'_>> {
        Ok(BufpoolWorker(self))
    }

    fn counters(&self) -> &IoCounters {
        &self.counters
    }
}

impl Worker for BufpoolWorker<'_> {
    #[inline]
    fn op(&mut self, page: u32, kind: OpKind) -> Result<()> {
        let sys = self.0;
        let id = PageId::new(sys.file, page);
        match kind {
            OpKind::Optimistic => {
                let words = sys.pool.read_optimistic(id, |v| Words {
                    page: v.read_u64(selfcheck::OFF_PAGE),
                    tag: v.read_u64(selfcheck::OFF_TAG),
                    head: v.read_u64(selfcheck::OFF_HEAD),
                    tail: v.read_u64(v.len() - selfcheck::TAIL_FROM_END),
                })?;
                words.verify(sys.seed, page, true)
            }
            OpKind::Shared => {
                let g = sys.pool.read(id)?;
                selfcheck::verify(&g, sys.seed, page)
            }
            OpKind::Write => {
                let mut g = sys.pool.write(id)?;
                selfcheck::verify_and_bump(&mut g, sys.seed, page)
            }
        }
    }
}
