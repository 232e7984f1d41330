//! `page-db`: crates.io `page-db` 1.0's `BufferPool` over its own `PageFile` (its own page format: 32-byte
//! header, CRC-32C checked on every read), given the same frame count and its fastest settings for this job:
//! 4 KiB pages, Direct I/O on (its default; off only where the filesystem refuses it, as for the other systems).
//! Its pool keeps one mutex over the page table and does miss I/O under it; it has no optimistic reads.
//!
//! Device I/O is counted by [`Counted`], a `PageStore` wrapper, so its hit ratio is derived like everyone's.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use page_db::{BufferPool, Page, PageFile, PageFileOptions, PageId, PageResult, PageStore, DEFAULT_PAGE_SIZE};

use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck;

/// Opens `path` with Direct I/O, or buffered if the filesystem refuses it; returns the file and which it is.
fn open(path: &Path) -> Result<(PageFile, bool)> {
    let direct = PageFileOptions::new()
        .page_size(DEFAULT_PAGE_SIZE)
        .direct_io(true)
        .open(path);
    match direct {
        Ok(f) => Ok((f, true)),
        Err(_) => Ok((
            PageFileOptions::new()
                .page_size(DEFAULT_PAGE_SIZE)
                .direct_io(false)
                .open(path)
                .with_context(|| format!("opening page-db file {}", path.display()))?,
            false,
        )),
    }
}

/// Writes `pages` fresh pages in page-db's own format and makes them durable.
pub fn prepare(path: &Path, pages: u32, seed: u64) -> Result<()> {
    let (file, _) = open(path)?;
    let mut page = file.allocate_page();
    for p in 0..pages {
        page.payload_mut().fill(0);
        selfcheck::init(page.payload_mut(), seed, p);
        file.write_page(PageId::new(u64::from(p)), &mut page)?;
    }
    file.sync()?;
    Ok(())
}

/// A `PageStore` that counts the pool's device reads and writes.
pub struct Counted {
    inner: PageFile,
    counters: Arc<IoCounters>,
}

impl PageStore for Counted {
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }
    fn allocate_page(&self) -> Page {
        self.inner.allocate_page()
    }
    fn read_into(&self, id: PageId, page: &mut Page) -> PageResult<()> {
        self.counters.read(id.get());
        self.inner.read_into(id, page)
    }
    fn write_page(&self, id: PageId, page: &mut Page) -> PageResult<()> {
        self.counters.write();
        self.inner.write_page(id, page)
    }
    fn sync(&self) -> PageResult<()> {
        self.inner.sync()
    }
}

/// page-db's pool over its prepared file.
pub struct PageDb {
    pool: BufferPool<Counted>,
    /// Shared with the pool's store, which the pool does not hand out.
    counters: Arc<IoCounters>,
    seed: u64,
    direct: bool,
}

impl PageDb {
    /// A pool of `frames` frames over the page-db file at `path`.
    pub fn open(path: &Path, frames: usize, seed: u64) -> Result<PageDb> {
        let (inner, direct) = open(path)?;
        let counters = Arc::new(IoCounters::default());
        let store = Counted {
            inner,
            counters: Arc::clone(&counters),
        };
        Ok(PageDb {
            pool: BufferPool::new(store, frames),
            counters,
            seed,
            direct,
        })
    }

    /// Creates pages `0..pages` in the pool with its `new_page` (in memory, dirty, no read), each with its
    /// self-check: the `hit` workload's resident pages, over an empty file that is never written.
    pub fn populate(&self, pages: u32) -> Result<()> {
        for p in 0..pages {
            let guard = self.pool.new_page(PageId::new(u64::from(p)))?;
            selfcheck::init(guard.write().payload_mut(), self.seed, p);
        }
        Ok(())
    }

    /// Whether the file bypasses the page cache.
    pub fn direct(&self) -> bool {
        self.direct
    }
}

/// A thread's handle on [`PageDb`].
pub struct PageDbWorker<'a>(&'a PageDb);

impl System for PageDb {
    type Worker<'a> = PageDbWorker<'a>;

    fn worker(&self) -> Result<PageDbWorker<'_>> {
        Ok(PageDbWorker(self))
    }

    fn counters(&self) -> &IoCounters {
        &self.counters
    }
}

impl Worker for PageDbWorker<'_> {
    fn op(&mut self, page: u32, kind: OpKind) -> Result<()> {
        let sys = self.0;
        let guard = sys.pool.fetch(PageId::new(u64::from(page)))?;
        if kind == OpKind::Write {
            let mut p = guard.write();
            selfcheck::verify_and_bump(p.payload_mut(), sys.seed, page)
        } else {
            let p = guard.read();
            selfcheck::verify(p.payload(), sys.seed, page)
        }
    }
}
