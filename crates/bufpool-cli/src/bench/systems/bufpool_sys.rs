//! `bufpool`: the pool under test, built with the run's frame count, 4 KiB pages and its defaults (S3-FIFO, no
//! WAL, O_DIRECT probed with a buffered fallback), over a data file written through the pool itself, so every
//! page carries a valid pool header and checksum.
//!
//! The file is opened with `open_storage` over the backend `open_file` would pick (by default io_uring where the
//! kernel allows it, else `pread`; `--bufpool-io` overrides; O_DIRECT probed either way), wrapped in [`Counted`] so device reads and writes
//! are counted the same way as for every other system.
//!
//! Besides one op at a time, a worker drives the pool's bulk and background paths where a case asks for them
//! ([`Worker::run`]): `batch` misses through `read_many`, the scanner through a `ScanRing`, and the checkpoint
//! workload's checkpointing thread. The background writer is a build option ([`Bufpool::open`]).

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use bufpool::storage::{uring_available, IoKind, IoRequest, StorageInfo};
use bufpool::{BufferPool, FileId, FileStorage, IoBackend, OpenMode, PageId, Storage, UringStorage, WriterConfig};

use crate::bench::driver::{self, IoCounters, OpKind, System, ThreadCtx, Worker};
use crate::bench::selfcheck::{self, Words};
use crate::bench::variant::{self, CheckpointMode, Variant};
use crate::bench::workload::{Access, Workload, BATCH_PAGES, OP_WRITE};

const PAGE_SIZE: usize = 4096;

/// Writes `pages` pages through a pool of `frames` frames: `new_page`, the self-check into the user bytes, and a
/// final checkpoint.
pub fn prepare(path: &Path, pages: u32, frames: usize, seed: u64) -> Result<()> {
    let pool = BufferPool::builder().frames(frames).page_size(PAGE_SIZE).build()?;
    let file = pool.open_file(path)?;
    new_pages(&pool, file, pages, seed)?;
    pool.checkpoint()?;
    pool.close()?;
    Ok(())
}

/// Creates pages `0..pages` of the empty `file` with `new_page`, each with its self-check.
fn new_pages(pool: &BufferPool, file: FileId, pages: u32, seed: u64) -> Result<()> {
    for p in 0..pages {
        let mut g = pool.new_page(file)?;
        ensure!(
            g.page_id().page_no() == p,
            "new_page returned {:?}, expected page {p}",
            g.page_id()
        );
        selfcheck::init(&mut g, seed, p);
    }
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

    /// Counts an access of `len` bytes at `offset`: a write counts every page of its run (the pool coalesces
    /// write-backs of consecutive pages into one call), a read its page.
    fn count(&self, offset: u64, len: usize, write: bool) {
        if write {
            self.counters.write_pages(len.div_ceil(PAGE_SIZE).max(1) as u64);
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
        self.count(offset, buf.len(), false);
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.count(offset, buf.len(), true);
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        for req in batch.iter() {
            match &req.kind {
                IoKind::Read(buf) => self.count(req.offset, buf.len(), false),
                IoKind::Write(buf) => self.count(req.offset, buf.len(), true),
            }
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
    /// How long one `checkpoint_spread` of the checkpoint workload aims to take.
    spread: Duration,
    /// Pages `read_many` refused with `PoolExhausted` (other threads' batches held every frame) and the
    /// benchmark read again.
    exhausted_retries: AtomicU64,
}

/// Rounds a batch's refused pages are retried before the run fails.
const EXHAUSTED_RETRIES_MAX: u32 = 100_000;

impl Bufpool {
    /// A pool of `frames` frames with replacement policy `policy` over the file at `path`, with a background
    /// writer if `writer` is given, for cases of `case_duration`.
    pub fn open(
        path: &Path,
        frames: usize,
        seed: u64,
        backend: IoBackend,
        policy: bufpool::policy::PolicyConfig,
        writer: Option<WriterConfig>,
        case_duration: Duration,
    ) -> Result<Bufpool> {
        let mut builder = BufferPool::builder()
            .frames(frames)
            .page_size(PAGE_SIZE)
            .policy(policy)
            .io_backend(backend);
        if let Some(config) = writer {
            builder = builder.background_writer(config);
        }
        let pool = builder.build()?;
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
            spread: variant::spread_target(case_duration),
            exhausted_retries: AtomicU64::new(0),
        })
    }

    /// Creates pages `0..pages` in the pool over its (empty) file with `new_page`: the `hit` workload's resident
    /// pages, made in memory instead of read from a file (see `Runner::open` in `bench/mod.rs`). They stay
    /// dirty and are never written: a hit case does no I/O, and dropping a pool writes nothing.
    pub fn populate(&self, pages: u32) -> Result<()> {
        new_pages(&self.pool, self.file, pages, self.seed)
    }

    /// Pages `read_many` refused with `PoolExhausted` so far (read again; see `run_batches`).
    pub fn exhausted_retries(&self) -> u64 {
        self.exhausted_retries.load(Ordering::Relaxed)
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
                let words = sys.pool.read_optimistic(id, |v| {
                    let [m0, m1] = selfcheck::spread_offsets(v.len());
                    Words {
                        page: v.read_u64(selfcheck::OFF_PAGE),
                        tag: v.read_u64(selfcheck::OFF_TAG),
                        head: v.read_u64(selfcheck::OFF_HEAD),
                        mid: [v.read_u64(m0), v.read_u64(m1)],
                        tail: v.read_u64(v.len() - selfcheck::TAIL_FROM_END),
                    }
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

    fn run(&mut self, ctx: &mut ThreadCtx<'_>) -> Result<()> {
        let case = ctx.case;
        match (case.workload, case.variant, ctx.thread) {
            (Workload::Miss, _, _) if case.access == Access::Batch => self.run_batches(ctx),
            (Workload::Scan, Variant::ScanRing(true), 1) => self.run_scan_ring(ctx),
            (Workload::Checkpoint, Variant::Checkpoint(mode), 2) => self.run_checkpoints(ctx, mode),
            _ => driver::replay(ctx, |page, kind| self.op(page, kind)),
        }
    }
}

impl BufpoolWorker<'_> {
    /// Reads the sequence in batches of [`BATCH_PAGES`] through `read_many`, verifying each page in the visit.
    /// A sampled op's latency runs from the batch's start to its page's visit (as raw-uring's runs from
    /// submission to completion).
    ///
    /// `read_many` caps one batch's reserved frames at a quarter of the pool, but not the sum over threads: in a
    /// small pool, concurrent batches can hold every frame, and a batch that has reserved nothing yet gets
    /// `PoolExhausted` for its pages instead of waiting. Such pages are read again (a `read_many` of them, after
    /// a yield) and counted ([`Bufpool::exhausted_retries`]); any other error fails the run.
    fn run_batches(&mut self, ctx: &mut ThreadCtx<'_>) -> Result<()> {
        let sys = self.0;
        let mut n = 0u64;
        let mut ids: Vec<PageId> = Vec::with_capacity(BATCH_PAGES);
        let mut nums: Vec<u32> = Vec::with_capacity(BATCH_PAGES);
        while !ctx.stop.load(Ordering::Relaxed) {
            ctx.progress.store(n, Ordering::Relaxed);
            ids.clear();
            nums.clear();
            for _ in 0..BATCH_PAGES {
                let page = ctx.stream.next_op() & !OP_WRITE;
                nums.push(page);
                ids.push(PageId::new(sys.file, page));
            }
            let mut first_error: Option<anyhow::Error> = None;
            let mut visited = 0usize;
            // Indices into the batch still to read, and their page ids.
            let mut todo: Vec<usize> = (0..BATCH_PAGES).collect();
            let mut todo_ids = ids.clone();
            let mut refused: Vec<usize> = Vec::new();
            // Only a timed phase reads the clock (see `driver::Phase`).
            let t0 = (ctx.sample_every != 0).then(Instant::now);
            for round in 0..=EXHAUSTED_RETRIES_MAX {
                if round > 0 {
                    std::thread::yield_now();
                }
                sys.pool.read_many(&todo_ids, |j, got| {
                    let k = todo[j];
                    let checked = match got {
                        Err(bufpool::Error::PoolExhausted { .. }) if round < EXHAUSTED_RETRIES_MAX => {
                            refused.push(k);
                            return;
                        }
                        got => got
                            .map_err(anyhow::Error::from)
                            .and_then(|g| selfcheck::verify(&g, sys.seed, nums[k])),
                    };
                    visited += 1;
                    if let Err(e) = checked {
                        first_error.get_or_insert(e);
                    }
                    if let Some(t0) = t0.filter(|_| ctx.timed(n + k as u64)) {
                        ctx.record(t0.elapsed());
                    }
                });
                if refused.is_empty() {
                    break;
                }
                sys.exhausted_retries.fetch_add(refused.len() as u64, Ordering::Relaxed);
                todo = std::mem::take(&mut refused);
                todo_ids = todo.iter().map(|&k| ids[k]).collect();
            }
            if let Some(e) = first_error {
                return Err(e.context(format!("read_many of pages {nums:?}")));
            }
            ensure!(
                visited == BATCH_PAGES,
                "read_many visited {visited} of {BATCH_PAGES} pages"
            );
            n += BATCH_PAGES as u64;
        }
        ctx.ops = n;
        Ok(())
    }

    /// The scanner, reading through a scan ring of [`variant::SCAN_RING_FRAMES`] (PostgreSQL's bulk-read
    /// strategy), so its misses recycle the ring's frames instead of evicting the hot set.
    fn run_scan_ring(&mut self, ctx: &mut ThreadCtx<'_>) -> Result<()> {
        let sys = self.0;
        let mut ring = sys.pool.scan_ring(variant::SCAN_RING_FRAMES);
        driver::replay(ctx, |page, _| {
            let g = ring.read(PageId::new(sys.file, page))?;
            selfcheck::verify(&g, sys.seed, page)
        })
    }

    /// The checkpoint workload's third thread: checkpoints back to back (spread or immediate) until the case
    /// ends, or idles for the baseline. Its ops are the checkpoints completed.
    fn run_checkpoints(&mut self, ctx: &mut ThreadCtx<'_>, mode: CheckpointMode) -> Result<()> {
        let sys = self.0;
        let mut n = 0u64;
        while !ctx.stop.load(Ordering::Relaxed) {
            match mode {
                CheckpointMode::None => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                CheckpointMode::Spread => sys.pool.checkpoint_spread(sys.spread)?,
                CheckpointMode::Immediate => sys.pool.checkpoint()?,
            }
            n += 1;
            ctx.progress.store(n, Ordering::Relaxed);
        }
        ctx.ops = n;
        Ok(())
    }
}
