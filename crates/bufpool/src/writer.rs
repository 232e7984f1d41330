//! Write-back: page runs, flush, checkpoints (immediate and spread), syncs, and the background writer.
//!
//! Owns every path by which a page image reaches storage except the eviction of a single victim (`pool.rs`),
//! which calls [`BufferPool::write_run`] too. Principal entry points: [`BufferPool::flush`],
//! [`BufferPool::flush_file`], [`BufferPool::flush_files_spread`], [`BufferPool::checkpoint`], [`BufferPool::checkpoint_spread`], and the writer
//! thread started by [`crate::Builder::background_writer`].
//!
//! # The write rule (as PostgreSQL's FlushBuffer reads)
//! 1. The writer holds a latch that excludes writers (shared, or exclusive when evicting) on every page it writes;
//!    under a shared latch it also holds the page's write claim ([`WriteClaim`], `FrameHeader::writing`), so no two
//!    write-backs of one page are in flight at once: a second one waits for the claim with no latch held, then
//!    looks at the page again (R49-1 in RELIABILITY.md: the later of two writes could land after the other's
//!    sync, once a checkpoint had returned and the engine had cut its log, where a power loss garbled it).
//! 2. `wal.flush_for_pages(max page LSN of the run, the run's pages)` returns first (by default `flush_to` that LSN),
//!    `wal` being the run's file's log (`FileOptions::wal`, else the builder's).
//! 3. Each page is copied to a private buffer and checksummed there; the shared frame is never modified.
//! 4. A run of consecutive pages of one file goes out as one write; a flush, a checkpoint or the writer's
//!    write-back in page order queues up to `RUNS_IN_FLIGHT` runs of one file, each latched and claimed, and
//!    writes them in one submission (`write_runs`, `Storage::submit`) before it waits for anything or sleeps.
//! 5. Only after the write succeeded is the dirty flag cleared; a failed sync, or a failed write other than
//!    ENOSPC (whose outcome is unknown), latches the file failed. A run refused for space stays dirty, unlatched,
//!    and is retried by the next flush, checkpoint or eviction ([`crate::Error::NoSpace`]).
//!
//! A flush or checkpoint (not the background writer) first asks `wal.needs_flush_for_pages` for each run and puts
//! off the runs that would need a log flush; after its pass it calls `wal.flush_to(highest LSN put off)` once per
//! file and goes over the runs put off again (each still through rule 2, then usually free), putting off those
//! changed meanwhile, for at most `PUT_OFF_PASSES_MAX` passes (the last puts nothing off). A log above pages that
//! keep changing while a checkpoint writes would otherwise be flushed for every run holding a page changed since
//! its last flush. A spread flush or checkpoint paces the pages it writes, over all the passes (`Pacing`): runs
//! put off do not count, so a first pass that puts everything off is not paced and the passes that write are.
//!
//! A writer never *waits* for a latch while it holds others: when the next page of a run is busy, the run so far
//! is written and released first (callers may latch pages in any order, so waiting while holding could deadlock).
//!
//! # The background writer
//! Wakes every `interval` and (1) keeps `free_frames_target` frames on the free list by evicting victims in
//! batches, writing dirty ones in sorted, coalesced runs, so a miss rarely runs the policy or waits for a write;
//! (2) when more than `dirty_ratio_max` of the frames are dirty, writes dirty pages in page order, coalesced;
//! (3) never writes more than `pages_per_sec_max` pages a second. Its errors latch the file failed (as any write
//! failure does, ENOSPC excepted), are counted in [`crate::Stats::write_errors`], and are returned once by the
//! next `flush`, `flush_file`, `checkpoint` or `close` (a refusal for space is not: the flush tries the pages
//! itself, R34-21). After a round whose writes all failed it backs off
//! (`WriteBackoff`: doubling pauses, at most `WRITER_BACKOFF_MAX`, 1 s, in which it frees clean frames only).
//! It stops when the pool is dropped.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checksum;
use crate::doublewrite::Area;
use crate::error::{Error, Result};
use crate::files::FileEntry;
use crate::frame::{LatchWait, TryLatch};
use crate::latch::{ExclusiveFrame, SharedFrame, Victim};
use crate::page::{AlignedBuf, FileId, Lsn, PageId, PageNo};
use crate::policy::FrameIdx;
use crate::pool::{BufferPool, Hold};
use crate::stats::Counter;
use crate::storage::IoRequest;
use crate::sync::Backoff;

/// Most pages written by one call to `write_at` (128 KiB of 4 KiB pages).
pub const RUN_PAGES_MAX: usize = 32;

/// Most runs of one file a flush or checkpoint writes in one submission (`write_runs`), each still one write: a
/// checkpoint's dirty pages are mostly short runs (session 51: 17 pages a write on average in TPC-C), and one write in
/// flight at a time cost a system call, a device notification (a VM exit on a virtual disk) and a wake-up each.
pub(crate) const RUNS_IN_FLIGHT: usize = 4;

/// Settings of the background writer, started by [`crate::Builder::background_writer`].
///
/// The writer is a thread that wakes every `interval` and does two jobs, each at most `batch_pages` pages a
/// round: (1) keeps `free_frames_target` frames free by evicting the policy's victims, writing dirty ones in
/// sorted, coalesced runs, so a miss rarely has to evict or wait for a write; (2) when more than
/// `dirty_ratio_max` of the frames are dirty, writes dirty pages back in page order. It writes at most
/// `pages_per_sec_max` pages a second. Its write errors fail the file as any write error does (ENOSPC does not:
/// the pages stay dirty and are retried), are counted in [`crate::Stats::write_errors`], and are returned once by
/// the next `flush`, `flush_file`, `checkpoint` or `close` (a refusal for space is not: that flush tries the
/// pages itself and returns its own result). After a round whose writes all failed (a full device)
/// it writes nothing for 1, 2, 4, ... rounds, up to about a second, and only frees clean frames meanwhile; the first
/// round that writes a page ends the pause. It stops when the pool is dropped. [`WriterConfig::for_frames`] gives
/// measured defaults; [`crate::Builder::build`] refuses invalid settings ([`WriterConfig::validate`]).
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// How often the writer wakes up.
    pub interval: Duration,
    /// Free frames the writer keeps ready for misses; 0 turns that part off.
    pub free_frames_target: usize,
    /// When more than this fraction of frames is dirty, the writer writes dirty pages back.
    pub dirty_ratio_max: f64,
    /// At most this many page writes per second (0: no limit).
    pub pages_per_sec_max: u64,
    /// Pages handled per round, for each of the two jobs (at least 1; more than the pool's frames is as many).
    pub batch_pages: usize,
}

impl WriterConfig {
    /// Checks every setting, naming the first bad field in [`Error::InvalidConfig`]. [`crate::Builder::build`]
    /// calls it, so a pool never starts a writer that would spin (`interval` zero), do nothing (`batch_pages`
    /// zero) or never trigger (`dirty_ratio_max` outside `0.0..=1.0`).
    pub fn validate(&self, frames: usize) -> Result<()> {
        let bad = |field: &str, why: String| Err(Error::InvalidConfig(format!("WriterConfig::{field} {why}")));
        if self.interval.is_zero() {
            return bad("interval", "must be more than zero".into());
        }
        if self.free_frames_target > frames {
            return bad(
                "free_frames_target",
                format!(
                    "must be at most the pool's {frames} frames, got {}",
                    self.free_frames_target
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.dirty_ratio_max) {
            return bad(
                "dirty_ratio_max",
                format!("must be a fraction from 0.0 to 1.0, got {}", self.dirty_ratio_max),
            );
        }
        if self.batch_pages == 0 {
            return bad("batch_pages", "must be at least 1, got 0".into());
        }
        Ok(())
    }

    /// Defaults for a pool of `frames` frames: wake every 2 ms, keep 1/32 of the frames free (at least 1), write
    /// back above 10% dirty, no rate limit, 32 pages per round (so at most 16k pages/s for each job). Small, frequent
    /// rounds queue fewer writes ahead of foreground reads than large ones: with 10 ms / 64 pages the mixed
    /// workload's p99 with the writer on was 182-185 us, with 2 ms / 32 pages 146-175 us (BENCHMARKS.md).
    pub fn for_frames(frames: usize) -> WriterConfig {
        WriterConfig {
            interval: Duration::from_millis(2),
            free_frames_target: (frames / 32).max(1),
            dirty_ratio_max: 0.10,
            pages_per_sec_max: 0,
            batch_pages: 32,
        }
    }
}

thread_local! {
    /// Private copies of pages being written: the checksum is stamped into the copy, never into the shared frame.
    static WRITE_BUF: RefCell<Option<AlignedBuf>> = const { RefCell::new(None) };
}

impl BufferPool {
    /// The highest page LSN of a latched run (0: no log record describes any of its pages), what the run's
    /// write-ahead flush must cover.
    fn run_lsn(&self, run: &[PageAt]) -> Lsn {
        run.iter()
            .map(|&(_, idx)| self.header(idx).lsn.load(Acquire))
            .max()
            .unwrap_or(0)
    }

    /// Writes a run of consecutive pages of `file` (each latched by the caller so no writer changes it) as one
    /// write, after its file's `wal.flush_for_pages` (the run's highest LSN and its pages). Does not touch dirty
    /// flags.
    pub(crate) fn write_run(&self, file: &FileEntry, run: &[PageAt], source: WriteSource) -> Result<()> {
        let mut outcome = Ok(());
        self.write_runs(file, &[run], source, |_, r| outcome = r);
        outcome
    }

    /// Writes several runs of `file` (each as [`BufferPool::write_run`]: latched by the caller, consecutive pages,
    /// its log flushed for it first), one write a run, all in one submission ([`Storage::submit`]: one system call
    /// and one wait for them all on io_uring, where the kernel also dispatches them to the device together); one
    /// run alone goes through `write_at`. `done(i, outcome)` is called once for each run. A run whose log
    /// flush failed is not written; the others are. Does not touch dirty flags.
    ///
    /// [`Storage::submit`]: crate::Storage::submit
    fn write_runs(
        &self,
        file: &FileEntry,
        runs: &[&[PageAt]],
        source: WriteSource,
        mut done: impl FnMut(usize, Result<()>),
    ) {
        debug_assert!(!runs.is_empty() && runs.len() <= RUNS_IN_FLIGHT);
        debug_assert!(runs.iter().all(|run| !run.is_empty() && run.len() <= RUN_PAGES_MAX));
        debug_assert!(runs
            .iter()
            .all(|run| run.windows(2).all(|w| w[1].0.page_no() == w[0].0.page_no() + 1)));
        if file.is_failed() {
            (0..runs.len()).for_each(|i| done(i, Err(file.failed_error())));
            return;
        }
        let _held = Hold::io(&self.core, runs.iter().map(|run| run.len()).sum());
        // Each run's write-ahead flush, before any of them is copied. LSN 0 means "no log record describes this
        // page" (a page never given an LSN): nothing to flush.
        let mut flushed = [false; RUNS_IN_FLIGHT];
        for (i, run) in runs.iter().enumerate() {
            let lsn = self.run_lsn(run);
            let outcome = if lsn > 0 {
                self.core.counters.inc(Counter::WalFlushes);
                // The file's own log (or the builder's, for a file opened without one): never another file's. The
                // pages are latched (no writer), so what the log knows of them cannot change until they are
                // written.
                let _for =
                    crate::held::for_callback("Wal::flush_for_pages", run.iter().map(|&(_, idx)| self.header(idx)));
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    file.wal.flush_for_pages(lsn, run[0].0, run.len())
                }))
                .unwrap_or_else(|payload| Err(Error::panicked("Wal::flush_for_pages", payload)))
            } else {
                Ok(())
            };
            match outcome {
                Ok(()) => flushed[i] = true,
                Err(e) => done(i, Err(e)),
            }
        }
        let page_size = self.page_size();
        let len: usize = runs
            .iter()
            .zip(flushed)
            .filter(|(_, f)| *f)
            .map(|(run, _)| run.len() * page_size)
            .sum();
        if len == 0 {
            return;
        }
        // A file with a doublewrite area: the buffer starts with a block for the batch's header, so that the area
        // takes the header and the copies in one aligned transfer (`Area::write`); the in-place writes start past it.
        let head = if file.area.is_some() {
            crate::doublewrite::BLOCK
        } else {
            0
        };
        let mut results: [Option<std::io::Result<()>>; RUNS_IN_FLIGHT] = Default::default();
        // Returns the doublewrite batch, if the file has an area: in flight until the caller drops it, after
        // `finish_write` noted the writes unsynced, so that a sync that finds the batch completed covers them.
        let write = |buf: &mut AlignedBuf,
                     results: &mut [Option<std::io::Result<()>>; RUNS_IN_FLIGHT]|
         -> Option<crate::doublewrite::Batch<'_>> {
            let mut at = head;
            let mut spans = [(0usize, 0usize); RUNS_IN_FLIGHT];
            for (i, run) in runs.iter().enumerate().filter(|&(i, _)| flushed[i]) {
                spans[i] = (at, run.len() * page_size);
                for &(page, idx) in run.iter() {
                    let copy = &mut buf[at..at + page_size];
                    // SAFETY: the caller holds a latch on idx that excludes writers while we copy.
                    copy.copy_from_slice(unsafe { self.core.frames.memory().page(idx) });
                    checksum::stamp_for(copy, page.page_no(), file.stamp);
                    at += page_size;
                }
            }
            // The written runs' pages, in the order of their copies in `buf`.
            let written = || {
                runs.iter()
                    .enumerate()
                    .filter(|&(i, _)| flushed[i])
                    .flat_map(|(_, run)| run.iter())
            };
            // The doublewrite area first (`FileOptions::doublewrite`): the batch's copies synced before any of
            // its pages is written in place.
            let batch = match &file.area {
                None => None,
                Some(area) => {
                    let numbers: Vec<PageNo> = written().map(|&(page, _)| page.page_no()).collect();
                    // Caller code (the area's store, and a sync of the file when the ring wraps) with the runs
                    // latched: a call back into the pool for one of them is refused, as from `Storage::write_at`.
                    let latched = written().map(|&(_, idx)| self.header(idx));
                    let _for = crate::held::for_callback("RecordStore (the doublewrite area)", latched);
                    match self.write_area(file, area, &numbers, &mut buf[..head + len]) {
                        Ok(batch) => Some(batch),
                        Err(e) => {
                            for (i, _) in runs.iter().enumerate().filter(|&(i, _)| flushed[i]) {
                                results[i] = Some(Err(match e.raw_os_error() {
                                    Some(code) => std::io::Error::from_raw_os_error(code),
                                    None => std::io::Error::new(e.kind(), format!("the doublewrite area: {e}")),
                                }));
                            }
                            return None;
                        }
                    }
                }
            };
            let pages = written().map(|&(_, idx)| self.header(idx));
            let offset = |run: &[PageAt]| self.core.page_size.offset_of(run[0].0.page_no());
            if runs.len() == 1 {
                let _for = crate::held::for_callback("Storage::write_at", pages);
                results[0] = Some(file.write_at(&buf[head..head + len], offset(runs[0])));
                return batch;
            }
            let mut reqs: Vec<IoRequest<'_>> = Vec::with_capacity(runs.len());
            for (i, run) in runs.iter().enumerate().filter(|&(i, _)| flushed[i]) {
                let (at, n) = spans[i];
                reqs.push(IoRequest::write(offset(run), &buf[at..at + n]));
            }
            {
                let _for = crate::held::for_callback("Storage::submit", pages);
                file.submit(&mut reqs);
            }
            for ((i, _), req) in runs.iter().enumerate().filter(|&(i, _)| flushed[i]).zip(reqs) {
                let (_, n) = spans[i];
                results[i] = Some(match req.result {
                    Some(Ok(written)) if written == n => Ok(()),
                    Some(Ok(written)) => Err(std::io::Error::new(
                        std::io::ErrorKind::WriteZero,
                        format!("a write of {n} bytes wrote {written}"),
                    )),
                    Some(Err(e)) => Err(e),
                    None => Err(std::io::Error::other("the storage left a write without a result")),
                });
            }
            batch
        };
        // The thread's buffer, unless this write runs inside another's (a storage whose `write_at` writes
        // through a pool on this thread: R12-3, the borrow panicked and the outer write failed its file) or past
        // the thread-local's life (a flush from another thread-local's destructor: R12-2, `with` panicked, and a
        // panic in a thread-local destructor aborts the process); then a buffer of its own. It grows in steps of
        // a full run, up to a full batch of them (and the area's header block).
        let step = RUN_PAGES_MAX * page_size;
        let most = RUNS_IN_FLIGHT * step + crate::doublewrite::BLOCK;
        let need = head + len;
        let wrote = WRITE_BUF
            .try_with(|cell| {
                let mut cell = cell.try_borrow_mut().ok()?;
                let buf = match &mut *cell {
                    Some(b) if b.len() >= need && b.len() <= most => b,
                    slot => slot.insert(AlignedBuf::zeroed((need.div_ceil(step) * step).min(most))),
                };
                Some(write(buf, &mut results))
            })
            .ok()
            .flatten();
        let batch = match wrote {
            Some(batch) => batch,
            None => write(&mut AlignedBuf::zeroed(need), &mut results),
        };
        for (i, run) in runs.iter().enumerate() {
            if let Some(result) = results[i].take() {
                done(i, self.finish_write(file, run, source, result));
            }
        }
        drop(batch);
    }

    /// Writes a batch's copies (`slot`: a block for the header, then `pages`' bytes in that order) into `file`'s
    /// doublewrite area and syncs it, once the batch's slot is free: the batch the slot held before must be durable
    /// in place, so this waits for it to complete, and syncs the data file (noting it in the area) if no sync has
    /// covered it yet
    /// (`doublewrite.rs`, "Why only batches after `done`"). The batch returned is in flight until dropped.
    fn write_area<'a>(
        &self,
        file: &FileEntry,
        area: &'a Area,
        pages: &[PageNo],
        slot: &mut [u8],
    ) -> std::io::Result<crate::doublewrite::Batch<'a>> {
        let batch = area.reserve();
        loop {
            match area.slot_free(&batch) {
                Ok(()) => break,
                Err(true) => area.wait_changed(),
                Err(false) => {
                    let done = area.done_candidate();
                    self.sync_file(file).map_err(std::io::Error::other)?;
                    // A sync that found nothing unsynced noted nothing: every completed write was covered by an
                    // earlier one that succeeded, `done`'s batches included.
                    file.area_note(area, done)?;
                }
            }
        }
        file.area_write(area, &batch, pages, slot)?;
        self.core.counters.inc(Counter::DoublewriteBatches);
        Ok(batch)
    }

    /// After a run's write returned `result`: a failure counted and turned into the pool's error (the file latched
    /// failed, unless the device was full), a success noted on the run's frames and its file.
    fn finish_write(
        &self,
        file: &FileEntry,
        run: &[PageAt],
        source: WriteSource,
        result: std::io::Result<()>,
    ) -> Result<()> {
        if let Err(e) = result {
            self.core.counters.inc(Counter::WriteErrors);
            let err = match Error::io(file.id, Some(run[0].0), "write", e) {
                // ENOSPC drops nothing in the kernel: the run stays dirty (the caller cleans only on Ok) and is
                // retried; the file is not latched. Any other failed write has an unknown outcome: latch.
                Error::NoSpace { page, .. } => Error::NoSpace {
                    page,
                    pages: run.len() as u32,
                },
                err => {
                    file.fail(&err);
                    err
                }
            };
            #[cfg(feature = "tracing")]
            crate::trace::write_failed(file.id, &err);
            return Err(err);
        }
        // The first sync to start from now on covers this write (see `FileEntry::syncs_started`).
        let written_at = file.syncs_started.load(SeqCst).wrapping_add(1);
        for &(page, idx) in run {
            self.header(idx).written_at.store(written_at, Release);
            file.note_written(page.page_no());
            let dropped = file.note_written_lsn(page.page_no(), self.header(idx).lsn.load(Acquire));
            if dropped > 0 {
                self.core.counters.add(Counter::WrittenLsnsDropped, dropped);
            }
        }
        file.unsynced.store(true, Release);
        self.core
            .counters
            .add_for(&file.counters, Counter::Writes, run.len() as u64);
        if let Some(counter) = source.counter() {
            self.core.counters.add(counter, run.len() as u64);
        }
        Ok(())
    }

    /// Writes a run whose pages are latched and dirty, then marks them clean.
    fn write_run_and_clean(&self, file: &FileEntry, run: &[PageAt], source: WriteSource) -> Result<()> {
        self.write_run(file, run, source)?;
        self.mark_run_clean(run);
        Ok(())
    }

    /// Marks the pages of a run just written clean (their latches exclude writers).
    fn mark_run_clean(&self, run: &[PageAt]) {
        for &(_, idx) in run {
            self.mark_clean(self.header(idx));
        }
    }

    /// Makes every completed write of `file` durable; if no name leads to the file any more, fails it with
    /// [`Error::DataFileUnlinked`] instead (R41-1).
    pub(crate) fn sync_file(&self, file: &FileEntry) -> Result<()> {
        // Serialise syncs: a caller whose write another thread's sync is covering waits for that sync to finish
        // instead of returning early on a cleared flag.
        let _g = file.sync_lock.lock();
        if file.is_failed() {
            return Err(file.failed_error());
        }
        if !file.unsynced.swap(false, AcqRel) {
            return Ok(());
        }
        self.core.counters.inc(Counter::Syncs);
        // Writes that complete from here on may miss this sync: they record the next count. So may doublewrite
        // batches that complete from here on: the area notes only those completed before.
        let area_done = file.area.as_ref().map(|a| a.done_candidate());
        let started = file.syncs_started.fetch_add(1, SeqCst).wrapping_add(1);
        // After the fsync, the writes are durable in the file the pool opened; they are durable under its name
        // only if some name still leads to it (R41-1: a file deleted or renamed over while open took every later
        // write with it, each checkpoint and close returning `Ok`). One `fstat` per sync that made writes durable.
        let failed = match file.sync() {
            Err(e) => {
                self.core.counters.inc(Counter::WriteErrors);
                Some(Error::io(file.id, None, "sync", e))
            }
            Ok(()) => match file.unlinked() {
                Ok(false) => None,
                Ok(true) => Some(Error::DataFileUnlinked {
                    file: file.id,
                    path: file.path.clone(),
                }),
                Err(e) => Some(Error::io(file.id, None, "sync", e)),
            },
        };
        if let Some(err) = failed {
            file.unsynced.store(true, Release);
            file.fail(&err);
            return Err(err);
        }
        file.syncs_done.store(started, Release);
        if let (Some(area), Some(done)) = (&file.area, area_done) {
            // The data is durable; a note that fails only keeps more batches candidates at the next open (and the
            // next sync notes again), so the file is not failed for it.
            file.area_note(area, done)
                .map_err(|e| Error::io(file.id, None, "doublewrite note", e))?;
        }
        Ok(())
    }

    /// Writes `page` if it is dirty, then syncs its file: when this returns `Ok`, the page's content as of the
    /// call is durable. A page past the end of its file is [`Error::OutOfRange`], as for every other call.
    pub fn flush(&self, page: PageId) -> Result<()> {
        self.take_background_error(&[page.file()])?;
        let file = self.core.files.get(page.file())?;
        let pages = file.pages.load(Acquire);
        if page.page_no() >= pages {
            return Err(Error::OutOfRange { page, pages });
        }
        while let Some((frame, held)) = self.latch_resident_shared(page)? {
            // The id may name a newer file by now: dropped, reopened under the same id and given a page of this
            // number while this call waited for the latch (M7). The frame's page is then that file's, so it is
            // written and synced through the entry that names the id now, never through the one looked up above
            // (whose storage is the dropped file's: the write would land there, the page be marked clean, and the
            // newer file lose it). Under the shared latch the entry cannot change again: a drop waits for it.
            let current = match self.core.files.get(page.file()) {
                Ok(current) => current,
                Err(e) => {
                    frame.release();
                    return Err(e);
                }
            };
            let r = if frame.header().dirty.load(Acquire) {
                let Some(_claim) = try_claim_write(frame.header()) else {
                    // Another write-back of the page is in flight (R49-1): waited for with no latch held, then
                    // the page is looked at again.
                    let idx = frame.idx();
                    frame.release();
                    drop((held, current));
                    self.wait_write_claim(idx, page)?;
                    continue;
                };
                self.write_run_and_clean(&current, &[(page, frame.idx())], WriteSource::Flush)
            } else {
                Ok(())
            };
            frame.release();
            r?;
            return self.sync_file(&current);
        }
        self.sync_file(&file)
    }

    /// A shared latch on `page` if it is resident (waiting for an exclusive holder), counted as the pool's own
    /// I/O ([`BufferPool::try_latch_held`]); `None` if it is not. [`Error::HeldByCaller`] if the calling thread
    /// holds it exclusively (its own shared latches do not stop this one).
    fn latch_resident_shared(&self, page: PageId) -> Result<Option<HeldLatch<'_>>> {
        let mut backoff = Backoff::new();
        loop {
            let Some(idx) = self.core.frames.lookup_exact(page) else {
                return Ok(None);
            };
            let h = self.header(idx);
            match self.try_latch_held(idx) {
                Ok(latched) if latched.0.page_id() == page => return Ok(Some(latched)),
                Ok(latched) => drop(latched),
                Err(TryLatch::Busy { .. }) if h.held_exclusive_by_caller() && h.page_id() == page => {
                    return Err(h.caller_hold_error(page));
                }
                Err(TryLatch::Busy { .. }) => backoff.snooze_on(&h.state, LatchWait::Shared),
                Err(_) => {}
            }
        }
    }

    /// Writes every dirty page of `file` (in page order, coalesced) and syncs it.
    pub fn flush_file(&self, file: FileId) -> Result<()> {
        self.flush_files(&[file])
    }

    /// [`BufferPool::flush_file`] of several files in one pass over the frames: every dirty page of each file
    /// in `files` written (in file and page order, consecutive pages coalesced), then each file synced, the
    /// others still synced after one failed. `Ok` when every one of them is durable; otherwise the one failed
    /// file's error (it names its file), or [`Error::CheckpointFailed`] naming every failed file (the other files
    /// of `files` are durable). An engine that checkpoints several files at once (one log per file, as
    /// `bufpool-btree`'s trees) scans the frames once instead of once a file.
    ///
    /// An error the background writer met on one of `files` since it was last reported is returned first,
    /// before anything is written (a later call retries); one on another file is left for that file's flush or
    /// the next checkpoint (or forgotten when that file is closed or dropped: it never concerns a file opened
    /// under the same id later).
    ///
    /// A file of `files` closed or dropped by another thread while this runs is not held open by it: it is
    /// reported [`Error::FileNotOpen`] (this call did not sync it).
    pub fn flush_files(&self, files: &[FileId]) -> Result<()> {
        self.flush_files_paced(files, None)
    }

    /// [`BufferPool::flush_files`] with the page writes paced over about `target`, as
    /// [`BufferPool::checkpoint_spread`] paces a checkpoint's: only the pages of `files`, so an engine that owns
    /// some files of a shared pool checkpoints them, spread, without writing (or being failed by) the others'.
    /// Blocks the calling thread for about `target` (or longer, if the writes take longer).
    pub fn flush_files_spread(&self, files: &[FileId], target: Duration) -> Result<()> {
        self.flush_files_paced(files, Some(target))
    }

    fn flush_files_paced(&self, files: &[FileId], spread: Option<Duration>) -> Result<()> {
        self.take_background_error(files)?;
        let named = files
            .iter()
            .map(|&f| self.core.files.get(f).map(|f| named(&f)))
            .collect::<Result<Vec<_>>>()?;
        self.flush_named_paced(named, spread)
    }

    pub(crate) fn flush_entries(&self, files: &[Arc<FileEntry>]) -> Result<()> {
        self.flush_named_paced(files.iter().map(|f| named(f)).collect(), None)
    }

    /// Writes and syncs the files `named` (see [`named`]): each is taken up again by its id for its sync, as the
    /// same open, not held from the start to the last sync: held so, a file dropped meanwhile (while the pages
    /// were written, or another file synced) stayed open past `drop_file`'s return (R26-2 in RELIABILITY.md;
    /// R25-11 for a checkpoint).
    fn flush_named_paced(&self, named: Vec<(FileId, u64, Option<PathBuf>)>, spread: Option<Duration>) -> Result<()> {
        let dirty = self.dirty_pages(|p| named.iter().any(|&(id, ..)| id == p.file()));
        let mut errors = self.write_dirty(dirty, spread, WriteSource::Flush);
        // Every file synced (once, if named twice) even after another failed; each outcome its write error, else
        // its sync's. A file closed or dropped before its turn is not open (a close synced it, a drop discarded
        // its pages: this call made neither durable).
        let mut outcomes: Vec<FileOutcome> = Vec::with_capacity(named.len());
        for (id, serial, path) in named {
            if outcomes.iter().any(|o| o.file == id) {
                continue;
            }
            let synced = match self.core.files.get(id) {
                Ok(f) if f.serial == serial => self.sync_and_mark(&f),
                _ => Err(Error::FileNotOpen(id)),
            };
            outcomes.push(FileOutcome {
                file: id,
                path,
                result: errors.take(id, serial).map_or(synced, Err),
            });
        }
        outcomes.sort_unstable_by_key(|o| o.file);
        CheckpointReport {
            files: outcomes,
            background: None,
        }
        .into_result()
    }

    /// Syncs `f`, then raises its durable written mark to what the sync covered (bound files).
    fn sync_and_mark(&self, f: &FileEntry) -> Result<()> {
        let candidate = f.mark_candidate();
        self.sync_file(f)?;
        f.advance_mark(candidate)
    }

    /// Writes every page that was dirty when it started (in file and page order, consecutive pages coalesced),
    /// then syncs every file with unsynced writes. Keeps going after an error: one failed file does not stop the
    /// others from being written and synced. Returns `Ok` when every file is durable; otherwise the error of the
    /// one failed file (it names the file), or [`Error::CheckpointFailed`] naming each failed file. To learn which
    /// files are durable as of this checkpoint and go on with them, call [`BufferPool::checkpoint_report`].
    ///
    /// # What is durable when it returns `Ok`, while other threads keep writing
    /// Every change whose [`WriteGuard::set_lsn`](crate::WriteGuard::set_lsn) happened before the call, and
    /// every change made under a write guard that was already held when the call started (the checkpoint waits
    /// for every guard held exclusively when it starts and writes what it left, if it changed anything). Changes under guards taken
    /// after the call started may or may not be included. Pages are written in place, so a page the checkpoint
    /// wrote may be rewritten (and, after a crash, torn) later: repairing it is the log's business, for example a
    /// full image of each page at its first change after a checkpoint.
    ///
    /// # The redo point, and truncating the log
    /// The pool does not report a checkpoint LSN: it keeps only each page's latest LSN, and the smallest of those
    /// over dirty pages is not a safe redo point (a dirty page's oldest unwritten change can be older than its
    /// latest). The engine takes the redo point from its own log, which works when it appends a page's log record
    /// while holding that page's write guard (the usual WAL protocol):
    /// 1. `redo = log.end()`: the LSN the next record will get;
    /// 2. `pool.checkpoint()?`: every record before `redo` has its change on disk now, since that change's guard
    ///    was taken before step 1;
    /// 3. store `redo` durably (a checkpoint record, a control file) and drop the log before it; recovery replays
    ///    from `redo`. If the checkpoint fails, keep the log: the previous redo point stands.
    ///
    /// `bufpool-btree`'s `Tree::checkpoint` is this recipe; the pool's test suite checks it under concurrent
    /// writers and a crash that loses every unsynced write.
    pub fn checkpoint(&self) -> Result<()> {
        self.checkpoint_paced(None).into_result()
    }

    /// A checkpoint (as [`BufferPool::checkpoint`]) that reports its outcome file by file: which files are durable
    /// as of this checkpoint and which failed, and why. An engine goes on with its healthy files and recovers the
    /// failed ones (RELIABILITY.md, "Real faults").
    pub fn checkpoint_report(&self) -> CheckpointReport {
        self.checkpoint_paced(None)
    }

    /// A checkpoint spread over about `target` (PostgreSQL's `checkpoint_completion_target`): the same writes as
    /// [`BufferPool::checkpoint`], paced so foreground reads and writes keep the device's attention meanwhile.
    /// Blocks the calling thread for about `target` (or longer, if the writes take longer); other threads work on.
    pub fn checkpoint_spread(&self, target: Duration) -> Result<()> {
        self.checkpoint_paced(Some(target)).into_result()
    }

    fn checkpoint_paced(&self, target: Option<Duration>) -> CheckpointReport {
        let background = self.core.background_error.lock().take();
        let mut errors = self.write_dirty(self.dirty_pages(|_| true), target, WriteSource::Checkpoint);
        let mut files = Vec::new();
        // Each file is taken up again for its sync: held from the start to the last sync, a file closed or
        // dropped meanwhile (while an earlier one synced) stayed open past `drop_file`'s return (R25-11 in
        // RELIABILITY.md). One gone since has nothing left to make durable here (a close synced it; a drop
        // discarded its pages); a write error met on it is reported below.
        let open: Vec<std::sync::Weak<FileEntry>> = self.core.files.all().iter().map(Arc::downgrade).collect();
        for f in open {
            let Some(f) = f.upgrade() else { continue };
            // Synced even after a write error: what was written is made durable.
            let synced = self.sync_and_mark(&f);
            let result = match errors.take(f.id, f.serial) {
                Some(e) => Err(e),
                None => synced,
            };
            files.push(FileOutcome {
                file: f.id,
                path: f.path.clone(),
                result,
            });
        }
        // Files closed while the checkpoint ran.
        for (file, _, e) in errors.0 {
            files.push(FileOutcome {
                file,
                path: None,
                result: Err(e),
            });
        }
        CheckpointReport { files, background }
    }

    /// The dirty pages `select`ed, sorted by page id (so by file, then page number), and the pages latched
    /// exclusively now: a write guard marks its page dirty only at its first change, which may come after this
    /// scan, and the checkpoint contract covers every change made under a guard already held when it started.
    /// `write_dirty` waits for those guards and writes the pages they left dirty (and skips the clean ones).
    /// Each frame's state word is read before its dirty flag, both `Acquire`: `bufpool-btree`'s covered changes
    /// rely on it (a caller's SeqCst fence before this scan pairs with one after a writer's latch: its `wal.rs`,
    /// "The redo point against a covered change", and `loom_redo_point_against_dirty_scan` in `frame.rs`).
    fn dirty_pages(&self, select: impl Fn(PageId) -> bool) -> Vec<PageAt> {
        let mut dirty: Vec<PageAt> = (0..self.frames() as FrameIdx)
            .filter_map(|idx| {
                let h = self.header(idx);
                let page = h.page_id();
                let exclusive = h.state.load() & crate::frame::LOCK_MASK == crate::frame::EXCLUSIVE;
                (page != PageId::INVALID && (h.dirty.load(Acquire) || exclusive) && select(page)).then_some((page, idx))
            })
            .collect();
        dirty.sort_unstable();
        dirty
    }

    /// Writes the pages of `dirty` (sorted) that are still dirty, in coalesced runs, optionally paced over
    /// `spread`; returns the first error of each file.
    fn write_dirty(&self, dirty: Vec<PageAt>, spread: Option<Duration>, source: WriteSource) -> FileErrors {
        // A flush or checkpoint puts off the runs whose log is not durable far enough yet (`Wal::
        // needs_flush_for_pages`), flushes each file's log once for all of them, and goes over them again: pages
        // changed while a pass ran are put off again, for a shorter pass, up to `PUT_OFF_PASSES_MAX` passes.
        // The pacing counts the pages written, over every pass: a pass that puts its runs off is not paced (when
        // every run of the first pass needed a log flush, as in TPC-C in memory, the first pass slept through
        // `spread` writing nothing and the next wrote everything unpaced).
        let put_off = matches!(source, WriteSource::Flush | WriteSource::Checkpoint);
        let mut pace = spread.map(|target| Pacing {
            start: Instant::now(),
            target,
            total: dirty.len().max(1),
            written: 0,
        });
        let mut todo = dirty;
        let mut first_error = FileErrors::default();
        for pass in 1..=PUT_OFF_PASSES_MAX {
            let mut later = (put_off && pass < PUT_OFF_PASSES_MAX).then(PutOff::default);
            first_error.merge(self.write_pass(todo, pace.as_mut(), source, later.as_mut()));
            let Some(PutOff { pages, files }) = later.filter(|l| !l.pages.is_empty()) else {
                break;
            };
            // Each file's highest LSN among its runs put off, read under their latches (a frame's LSN read now
            // could be another file's page's, if the frame was reused meanwhile). The runs still pass
            // `flush_for_pages` under their latches when they are written: pages changed since need what that
            // asks for. Asked of the open the runs were put off in: a file dropped (or closed) meanwhile and
            // another opened under its id has a log that never gave that LSN (R32-2: it was asked, and its
            // refusal became the newer file's outcome); the runs' open is reported not open, as for a close, and
            // by that open also when no file holds the id now (R33-3: recorded with no open, the error went to a
            // file opened under the id after this look-up).
            for (file, serial, lsn) in files {
                match self.core.files.get(file) {
                    Ok(f) if f.serial == serial => {
                        // The log, not the file's entry, is held while it flushes, which can take long: holding
                        // the entry kept a file dropped meanwhile open past `drop_file`'s return (R25-10).
                        let (wal, serial) = (f.wal.clone(), f.serial);
                        drop(f);
                        let flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wal.flush_to(lsn)))
                            .unwrap_or_else(|payload| Err(Error::panicked("Wal::flush_to", payload)));
                        if let Err(e) = flushed {
                            first_error.push(file, Some(serial), e);
                        }
                    }
                    _ => first_error.push(file, Some(serial), Error::FileNotOpen(file)),
                }
            }
            // A file whose log failed keeps its pages dirty (the flush reports it); the others are written now.
            todo = pages
                .into_iter()
                .filter(|(page, _)| !first_error.has(page.file()))
                .collect();
        }
        first_error
    }

    /// One pass of [`BufferPool::write_dirty`] over `dirty`: with `later`, a run whose log would need a flush is
    /// released unwritten and put off there.
    fn write_pass(
        &self,
        dirty: Vec<PageAt>,
        mut pace: Option<&mut Pacing>,
        source: WriteSource,
        mut later: Option<&mut PutOff>,
    ) -> FileErrors {
        let mut p = PassRuns {
            run: Vec::with_capacity(RUN_PAGES_MAX),
            file: None,
            ready: Ready::default(),
            errors: FileErrors::default(),
            source,
        };
        for (page, idx) in dirty {
            let h = self.header(idx);
            let extends = p
                .run
                .last()
                .is_some_and(|(last, ..)| continues_run(*last, page, p.run.len()));
            if !extends {
                let written = self.finish_run(&mut p, later.as_deref_mut());
                if let Some(pace) = pace.as_deref_mut() {
                    // The pacing sleeps holding no latch: the runs ready go out first.
                    self.write_ready(&mut p);
                    pace.wait_after(written);
                }
            }
            // The page latched shared and claimed for this write (`WriteClaim`), if it still needs one.
            let claimed = loop {
                let latched = match self.try_latch_held(idx) {
                    Ok(frame) => Some(frame),
                    Err(TryLatch::Free) => None,
                    Err(_) => {
                        self.finish_run_counted(&mut p, later.as_deref_mut(), pace.as_deref_mut());
                        match self.latch_shared_waiting(idx) {
                            Ok(latched) => latched,
                            Err(e) => {
                                p.errors.record(page.file(), e);
                                None
                            }
                        }
                    }
                };
                let Some(frame) = latched else {
                    break None;
                };
                if frame.0.page_id() != page || !h.dirty.load(Acquire) {
                    break None;
                }
                if let Some(claim) = try_claim_write(h) {
                    break Some((claim, frame));
                }
                // Another write-back of the page is in flight (R49-1): its latch and the run's let go, waited for,
                // then the page looked at again (usually clean by then).
                drop(frame);
                self.finish_run_counted(&mut p, later.as_deref_mut(), pace.as_deref_mut());
                if let Err(e) = self.wait_write_claim(idx, page) {
                    p.errors.record(page.file(), e);
                    break None;
                }
            };
            let Some((claim, frame)) = claimed else {
                continue;
            };
            if p.run.is_empty() || p.file.as_ref().is_none_or(|f| f.id != page.file()) {
                match self.core.files.get(page.file()) {
                    Ok(f) => p.file = Some(f),
                    Err(e) => {
                        p.errors.record(page.file(), e);
                        continue;
                    }
                }
            }
            p.run.push((page, claim, frame));
        }
        self.finish_run_counted(&mut p, later, pace);
        p.errors
    }

    /// Queues the latched run (if any) in `ready`, to be written with the runs of its file queued before it
    /// ([`BufferPool::write_ready`], which this calls first when `ready` is full or holds another file's runs);
    /// with `later`, releases it unwritten into `later` instead if its log would need a flush first
    /// ([`Wal::needs_flush_for_pages`](crate::Wal::needs_flush_for_pages)). Returns the pages it queued (a write
    /// that then fails counts too, for the pacing).
    fn finish_run<'p>(&'p self, p: &mut PassRuns<'p>, later: Option<&mut PutOff>) -> usize {
        if p.run.is_empty() {
            return 0;
        }
        // The run's file goes with the run, and before its latches: kept past them (the next runs, the wait for a
        // page latched elsewhere, the pass's pacing), it kept a file dropped meanwhile open past `drop_file`'s
        // return (R25-10 in RELIABILITY.md).
        let file = p.file.take().expect("a run always has its file");
        let pages: Vec<PageAt> = p.run.iter().map(|(page, _, frame)| (*page, frame.0.idx())).collect();
        if let Some(later) = later {
            let lsn = self.run_lsn(&pages);
            let needs = lsn > 0 && {
                let _for = crate::held::for_callback(
                    "Wal::needs_flush_for_pages",
                    pages.iter().map(|&(_, idx)| self.header(idx)),
                );
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    file.wal.needs_flush_for_pages(lsn, pages[0].0, pages.len())
                }))
                .unwrap_or(false)
            };
            if needs {
                later.pages.extend_from_slice(&pages);
                match later
                    .files
                    .iter_mut()
                    .find(|(f, s, _)| *f == file.id && *s == file.serial)
                {
                    Some((_, _, max)) => *max = (*max).max(lsn),
                    None => later.files.push((file.id, file.serial, lsn)),
                }
                drop(file);
                p.run.clear(); // releases the latches
                return 0;
            }
        }
        if p.ready.runs.len() == RUNS_IN_FLIGHT || p.ready.file.as_ref().is_some_and(|f| !Arc::ptr_eq(f, &file)) {
            self.write_ready(p);
        }
        let written = pages.len();
        p.ready.file = Some(file);
        p.ready
            .runs
            .push(std::mem::replace(&mut p.run, Vec::with_capacity(RUN_PAGES_MAX)));
        p.ready.pages.push(pages);
        written
    }

    /// Writes the runs queued in `ready` together ([`BufferPool::write_runs`]), marks each written run's pages
    /// clean, then lets the file go and releases the runs' claims and latches.
    fn write_ready(&self, p: &mut PassRuns<'_>) {
        let (ready, errors) = (&mut p.ready, &mut p.errors);
        let Some(file) = ready.file.take() else {
            return;
        };
        let runs: Vec<&[PageAt]> = ready.pages.iter().map(Vec::as_slice).collect();
        self.write_runs(&file, &runs, p.source, |i, outcome| match outcome {
            Ok(()) => self.mark_run_clean(runs[i]),
            Err(e) => errors.record_entry(&file, e),
        });
        drop(runs);
        drop(file);
        ready.pages.clear();
        ready.runs.clear(); // releases the claims, then the latches
    }

    /// [`BufferPool::finish_run`], then every run queued written ([`BufferPool::write_ready`]), with the pages
    /// counted for the pacing: before a wait for a latch or a write claim (a writer never waits while it holds a
    /// run's latches), and at the end of a pass.
    fn finish_run_counted<'p>(&'p self, p: &mut PassRuns<'p>, later: Option<&mut PutOff>, pace: Option<&mut Pacing>) {
        let written = self.finish_run(p, later);
        self.write_ready(p);
        if let Some(pace) = pace {
            pace.written += written;
        }
    }

    /// A shared latch on frame `idx` for a write run, counted as the pool's own I/O ([`Hold::io`]) from before
    /// it is taken to after it is released: a miss that finds every frame latched waits for it rather than take it
    /// for a guard's (R32-1; `write_run` counted only its write, not the latch before and after it).
    fn try_latch_held(&self, idx: FrameIdx) -> std::result::Result<HeldLatch<'_>, TryLatch> {
        let held = Hold::io_latch(&self.core, || SharedFrame::try_latch(self, idx))?;
        self.note_own_shared_latch(self.header(idx));
        Ok(held)
    }

    /// Waits, holding no latch, until no write-back holds frame `idx`'s claim ([`WriteClaim`]; counted in
    /// [`crate::Stats::write_waits`]). The claim's holder only copies, writes and cleans the page, so it ends
    /// without waiting for anything of the caller's, unless the caller runs a callback of the user's: then
    /// [`Error::CallbackReentry`] if the claim is this thread's own (a flush of the page from the `Wal` or
    /// `Storage` call of its write), or if another thread's callback holds the frame (it may wait for a frame of
    /// this thread's: R37-1).
    fn wait_write_claim(&self, idx: FrameIdx, page: PageId) -> Result<()> {
        let h = self.header(idx);
        self.core.counters.inc(Counter::WriteWaits);
        let mut backoff = Backoff::new();
        while h.writing.load(Acquire) {
            if let Some(callback) = crate::held::held_for_callback(h).or_else(|| self.callback_waits_for_callback(idx))
            {
                return Err(Error::CallbackReentry { page, callback });
            }
            backoff.snooze();
        }
        Ok(())
    }

    /// Waits for a shared latch on frame `idx` (as [`BufferPool::try_latch_held`]), holding no other latch; `None`
    /// if the frame became free. [`Error::HeldByCaller`] if the calling thread holds it exclusively itself (it
    /// would wait for ever).
    fn latch_shared_waiting(&self, idx: FrameIdx) -> Result<Option<HeldLatch<'_>>> {
        let h = self.header(idx);
        let mut backoff = Backoff::new();
        loop {
            match self.try_latch_held(idx) {
                Ok(frame) => return Ok(Some(frame)),
                Err(TryLatch::Free) => return Ok(None),
                Err(_) if h.held_exclusive_by_caller() => return Err(h.caller_hold_error(h.page_id())),
                Err(_) => backoff.snooze_on(&h.state, LatchWait::Shared),
            }
        }
    }

    /// Returns (once) the error the background writer hit since the last call, if it was writing one of
    /// `files` then; another file's error stays for that file's flush or the next checkpoint (R15-1: a healthy
    /// file's flush failed with, and took, another file's write error). A kept refusal for space
    /// ([`Error::is_no_space`]: nothing failed, the pages stayed dirty) is taken and not returned: the flush tries
    /// those pages itself, and its own result answers whether they are durable, as a checkpoint's does (R18-20).
    /// Returned first, it failed the flush an engine made after freeing space, which then wrote nothing (R34-21).
    fn take_background_error(&self, files: &[FileId]) -> Result<()> {
        let mut pending = self.core.background_error.lock();
        match pending.take_if(|(file, _)| files.contains(file)) {
            Some((_, e)) if !e.is_no_space() => Err(e),
            _ => Ok(()),
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The background writer

    /// The writer thread's loop: one round per `interval` until `stop` is disconnected (the pool was dropped).
    pub(crate) fn writer_loop(&self, config: &WriterConfig, stop: &crossbeam_channel::Receiver<()>) {
        let mut budget = RateBudget::new(config.pages_per_sec_max);
        let mut backoff = WriteBackoff::new(config.interval);
        let mut cursor: usize = 0;
        loop {
            match stop.recv_timeout(config.interval) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            // While backing off, the round writes nothing: it frees clean frames only (misses are still served).
            let writes_due = backoff.writes_due();
            let written_before = self.core.counters.sum(Counter::WriterWrites);
            let errors = self.refill_free_frames(config, &mut budget, writes_due);
            let mut failed = !errors.is_empty();
            self.record_background_error(errors);
            let dirty_max = (config.dirty_ratio_max * self.frames() as f64) as usize;
            if writes_due && self.core.dirty_pages.load(Relaxed) > dirty_max {
                let pages = self.dirty_batch_from(&mut cursor, config.batch_pages.min(budget.take(config.batch_pages)));
                let errors = self.write_dirty(pages, None, WriteSource::Writer);
                failed |= !errors.is_empty();
                self.record_background_error(errors);
            }
            if writes_due {
                backoff.round_done(failed && self.core.counters.sum(Counter::WriterWrites) == written_before);
            }
        }
    }

    /// Keeps the first of a writer round's `errors` for a flush or checkpoint to report, unless one is pending
    /// already or its file is no longer the open it was met on. Each error is kept under the file of the page
    /// whose write met it: an error such as the file's own log's (`Error::Wal`) names no file, and kept as no
    /// file's it failed every other file's flush (E17-3). A close or drop forgets its file's error
    /// (`forget_background_error`), and one recorded after it would be reported to a file opened under the same
    /// id (R16-1): so the file must still be open, and as the same open (`FileEntry::serial`), not by its id
    /// alone, since the write released the file before this record, and a drop and an open under the same id in
    /// between handed the dropped file's error to the new one (R18-1).
    fn record_background_error(&self, errors: FileErrors) {
        let Some((file, Some(serial), e)) = errors.into_first() else {
            // None, or an error met with the file not open: no open file's.
            return;
        };
        let mut pending = self.core.background_error.lock();
        if self.core.files.get(file).is_ok_and(|f| f.serial == serial) {
            pending.get_or_insert((file, e));
        }
    }

    /// Forgets the writer's pending error if it is `file`'s: the file was closed (every page written and synced)
    /// or dropped (its pages discarded). Kept, it was reported to the next file opened under the same id, a
    /// healthy file whose first flush failed with it (R16-1). The caller still holds the file's entry, so no file
    /// is opened under its id before this returns (`Files::retired`), and none can have recorded an error here.
    pub(crate) fn forget_background_error(&self, file: FileId) {
        self.core.background_error.lock().take_if(|(f, _)| *f == file);
    }

    /// Up to `n` dirty pages, scanning the frames round-robin from `cursor`, sorted. Pages of failed files are
    /// left out: they cannot be written, and trying every round would only repeat the file's error to callers
    /// of other files.
    fn dirty_batch_from(&self, cursor: &mut usize, n: usize) -> Vec<PageAt> {
        let frames = self.frames();
        let failed: Vec<FileId> = if self.core.files.any_failed() {
            self.core
                .files
                .all()
                .iter()
                .filter(|f| f.is_failed())
                .map(|f| f.id)
                .collect()
        } else {
            Vec::new()
        };
        // At most every frame: `n` is the writer's `batch_pages`, which may be anything up to `usize::MAX` (a
        // capacity of it panicked or aborted the writer thread, R18-23).
        let mut out = Vec::with_capacity(n.min(frames));
        let mut scanned = 0;
        while out.len() < n && scanned < frames {
            let idx = (*cursor % frames) as FrameIdx;
            *cursor = cursor.wrapping_add(1);
            scanned += 1;
            let h = self.header(idx);
            let page = h.page_id();
            if page != PageId::INVALID && h.dirty.load(Acquire) && !failed.contains(&page.file()) {
                out.push((page, idx));
            }
        }
        out.sort_unstable();
        out
    }

    /// Evicts victims in a batch until the free list holds `free_frames_target` frames; dirty victims are written
    /// in sorted, coalesced runs first, unless `writes_due` is false (the writer is backing off): then only clean
    /// victims are taken.
    fn refill_free_frames(&self, config: &WriterConfig, budget: &mut RateBudget, writes_due: bool) -> FileErrors {
        let want = config
            .free_frames_target
            .saturating_sub(self.core.frames.free_len())
            .min(config.batch_pages);
        if want == 0 {
            return FileErrors::default();
        }
        let _taking = Hold::taker(&self.core);
        let dirty_allowed = if writes_due { budget.take(want) } else { 0 };
        let victims = self.take_victims(want, dirty_allowed);
        let mut errors = self.write_and_free(victims);
        // A panic of the eviction veto in this search protected its page and was kept in this thread's slot, which
        // no miss of the writer's thread ever takes: kept for the page's file instead, reported as the writer's
        // errors are (R34-22; until then it was never reported).
        if let Some((page, e)) = crate::pool::take_veto_panic_at() {
            match self.core.files.get(page.file()) {
                Ok(file) => errors.record_entry(&file, e),
                Err(_) => errors.record(page.file(), e),
            }
        }
        errors
    }

    /// Up to `want` victims from the policy, sorted by page, at most `dirty_allowed` of them dirty. A failed
    /// file's page is never written: `evict` unmaps it at once (dropping an unwritable image that the file's
    /// bound let go) or gives it back (within the bound), and it counts toward `want` without being returned.
    fn take_victims(&self, want: usize, mut dirty_allowed: usize) -> Vec<(PageId, Victim<'_>)> {
        let mut victims: Vec<(PageId, Victim<'_>)> = Vec::with_capacity(want);
        let mut dropped = 0;
        while victims.len() + dropped < want {
            // The frame taken stays listed as held for the policy until it answers (`held::for_callback`), and so
            // do the victims this round took before, latched on this thread (a call back for one of them waited for
            // ever: R37-5); the policy runs as a callback of this pool (R37-4).
            let in_policy = crate::held::in_pool_callback("Policy::victim", self.core.frames.headers());
            let earlier = crate::held::for_callback("Policy::victim", victims.iter().map(|(_, v)| v.header()));
            let mut taken = None;
            let chosen = self.core.policy.victim(&mut |idx| {
                let h = self.header(idx);
                // Over the write budget, take only clean pages.
                if dirty_allowed == 0 && h.dirty.load(Relaxed) {
                    return false;
                }
                let took = self.try_take(idx);
                if took {
                    taken = Some(crate::held::for_callback("Policy::victim", [h]));
                }
                took
            });
            drop(taken);
            drop(earlier);
            drop(in_policy);
            // A policy object that panicked (R19-20) left its panic in this thread's slot (the policy keeps it for
            // every miss to report) and gave back the frame it took, if any: that frame goes back unchanged.
            let panicked = crate::caught_policy::take_policy_panic().is_some();
            let Some(idx) = chosen else { break };
            let victim = Victim::adopt(ExclusiveFrame::adopt(self, idx));
            if panicked {
                break;
            }
            let h = victim.header();
            if self.core.files.any_failed() && self.core.files.get(h.page_id().file()).is_ok_and(|f| f.is_failed()) {
                // Refused (the file failed after the take, or is no longer over its bound: R50-12), the victim is
                // back with the policy; counted all the same, so a round never offers it again and again.
                if let Ok(frame) = self.evict(victim) {
                    self.release_unmapped(frame);
                }
                dropped += 1;
                continue;
            }
            if h.dirty.load(Acquire) {
                dirty_allowed = dirty_allowed.saturating_sub(1);
            }
            victims.push((h.page_id(), victim));
        }
        victims.sort_unstable_by_key(|&(page, _)| page);
        victims
    }

    /// Writes the dirty ones of sorted `victims` in coalesced runs, then frees every victim that is clean; a
    /// victim whose write failed stays resident, tracked again, unlatched. Returns the first write error of each
    /// file.
    fn write_and_free(&self, mut victims: Vec<(PageId, Victim<'_>)>) -> FileErrors {
        let mut first_error = FileErrors::default();
        // Runs of consecutive pages of one file, taken off the front of `victims`.
        while !victims.is_empty() {
            let mut end = 1;
            while end < victims.len() && continues_run(victims[end - 1].0, victims[end].0, end) {
                end += 1;
            }
            let run: Vec<PageAt> = victims[..end]
                .iter()
                .map(|(page, frame)| (*page, frame.idx()))
                .filter(|&(_, idx)| self.header(idx).dirty.load(Acquire))
                .collect();
            let run_file = victims[0].0.file();
            // The error, with the open of the file it was met on (`None`: the file was not open).
            let written: std::result::Result<(), (Option<u64>, Error)> = if run.is_empty() {
                Ok(())
            } else {
                let contiguous = run.len() == end;
                match self.core.files.get(run_file) {
                    // Clean pages in the middle break contiguity: write the dirty ones one by one then.
                    Ok(f) if contiguous => self
                        .write_run_and_clean(&f, &run, WriteSource::Writer)
                        .map_err(|e| (Some(f.serial), e)),
                    Ok(f) => run
                        .iter()
                        .try_for_each(|&one| self.write_run_and_clean(&f, &[one], WriteSource::Writer))
                        .map_err(|e| (Some(f.serial), e)),
                    Err(e) => Err((None, e)),
                }
            };
            for (page, victim) in victims.drain(..end) {
                // A dirty one was not written (an error): dropped, it stays resident, tracked again, unlatched.
                if !victim.header().dirty.load(Acquire) {
                    self.unmap_victim(&victim, page);
                    self.core.counters.inc(Counter::Evictions);
                    self.release_unmapped(victim.into_unmapped());
                }
            }
            if let Err((serial, e)) = written {
                first_error.push(run_file, serial, e);
            }
        }
        first_error
    }
}

/// Who asked for a page write: the pool's writes by source in [`crate::Stats`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WriteSource {
    /// A miss (or scan ring) writing its dirty victim: counted as `dirty_evictions` where the eviction completes.
    Eviction,
    /// The background writer.
    Writer,
    /// A checkpoint.
    Checkpoint,
    /// An explicit flush, `flush_file`, or a `close_file` sweep.
    Flush,
}

impl WriteSource {
    /// The counter of pages written for this source (eviction has its own, `DirtyEvictions`).
    fn counter(self) -> Option<Counter> {
        match self {
            WriteSource::Eviction => None,
            WriteSource::Writer => Some(Counter::WriterWrites),
            WriteSource::Checkpoint => Some(Counter::CheckpointWrites),
            WriteSource::Flush => Some(Counter::FlushWrites),
        }
    }
}

/// A write run's shared latch and its count as the pool's own I/O: the latch is released first (field order).
type HeldLatch<'p> = (SharedFrame<'p>, Hold<'p>);

/// A page of a write run: latched shared and claimed for the write. Dropped claim first, then latch.
type RunPage<'p> = (PageId, WriteClaim<'p>, HeldLatch<'p>);

/// Runs of one file that a flush or checkpoint pass latched and will write together (at most
/// [`RUNS_IN_FLIGHT`]), with their file; written before the pass waits for anything or sleeps, as a single run was.
#[derive(Default)]
struct Ready<'p> {
    file: Option<Arc<FileEntry>>,
    /// Each run's pages, latched and claimed.
    runs: Vec<Vec<RunPage<'p>>>,
    /// Each run's pages and frames, as [`BufferPool::write_runs`] takes them.
    pages: Vec<Vec<PageAt>>,
}

/// A flush or checkpoint pass's runs ([`BufferPool::write_pass`]): the run being latched and its file, the runs
/// ready to write, and the first error of each file met so far.
struct PassRuns<'p> {
    run: Vec<RunPage<'p>>,
    file: Option<Arc<FileEntry>>,
    ready: Ready<'p>,
    errors: FileErrors,
    source: WriteSource,
}

/// A write-back's claim on a frame's page (`FrameHeader::writing`), taken under a shared latch on the frame by
/// [`try_claim_write`] and held until the write returned and the dirty flag was cleared (or the write failed or
/// was put off); released on drop. Evictions and a close's sweep write under the exclusive latch and take none.
pub(crate) struct WriteClaim<'p>(&'p crate::frame::FrameHeader);

impl Drop for WriteClaim<'_> {
    fn drop(&mut self) {
        self.0.writing.store(false, Release);
    }
}

/// Claims `h`'s page for a write-back (the caller holds a shared latch on it); `None` while another write-back
/// holds the claim.
fn try_claim_write(h: &crate::frame::FrameHeader) -> Option<WriteClaim<'_>> {
    h.writing
        .compare_exchange(false, true, Acquire, Relaxed)
        .ok()
        .map(|_| WriteClaim(h))
}

/// A page and the frame it was found in (a candidate for write-back, or a member of a latched run).
pub(crate) type PageAt = (PageId, FrameIdx);

/// The one rule for coalescing write-back into runs (`write_dirty` and `refill_free_frames`): `next` extends a
/// run of `len` pages ending at `last` if it is the next page of the same file and the run is not full.
fn continues_run(last: PageId, next: PageId, len: usize) -> bool {
    len < RUN_PAGES_MAX && last.file() == next.file() && last.page_no().checked_add(1) == Some(next.page_no())
}

/// A file as a flush names it until its sync: its id, its open ([`FileEntry::serial`]) and its path.
fn named(f: &FileEntry) -> (FileId, u64, Option<PathBuf>) {
    (f.id, f.serial, f.path.clone())
}

/// The first write error of each file, in the order met, with the open of the file it was met on
/// ([`FileEntry::serial`]; `None` when the file was not open by then): the background writer keeps an error
/// only for that open (R18-1).
#[derive(Default)]
struct FileErrors(Vec<(FileId, Option<u64>, Error)>);

/// Passes of a flush or checkpoint (the last puts nothing off): each pass after the first writes only the runs
/// that changed while the one before ran, so they shrink fast; the bound keeps a page changed all the time from
/// holding the checkpoint.
const PUT_OFF_PASSES_MAX: usize = 16;

/// The pacing of a spread flush or checkpoint ([`BufferPool::checkpoint_spread`]) over all its passes: the
/// `written`-th of `total` pages is due `target * written / total` after `start`.
struct Pacing {
    start: Instant,
    target: Duration,
    total: usize,
    written: usize,
}

impl Pacing {
    /// When the next page to write is due, after `start`: runs put off unwritten do not move it.
    fn due(&self) -> Duration {
        self.target
            .mul_f64(self.written.min(self.total) as f64 / self.total as f64)
    }

    /// Counts `written` more pages, then sleeps (the caller holding no latch) until the next page is due.
    fn wait_after(&mut self, written: usize) {
        self.written += written;
        if let Some(wait) = self.due().checked_sub(self.start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// The runs a flush or checkpoint pass put off ([`crate::Wal::needs_flush_for_pages`]): their pages, and per
/// file (and its open, [`FileEntry::serial`]) the highest page LSN among them, read while the run was latched.
#[derive(Default)]
struct PutOff {
    pages: Vec<PageAt>,
    files: Vec<(FileId, u64, Lsn)>,
}

impl FileErrors {
    /// `e`, met on `file` with the file not open (or before its entry was looked up).
    fn record(&mut self, file: FileId, e: Error) {
        self.push(file, None, e);
    }

    /// `e`, met writing through `file`'s entry.
    fn record_entry(&mut self, file: &FileEntry, e: Error) {
        self.push(file.id, Some(file.serial), e);
    }

    fn push(&mut self, file: FileId, serial: Option<u64>, e: Error) {
        if !self.has(file) {
            self.0.push((file, serial, e));
        }
    }

    /// Each of `other`'s errors whose file has none here yet.
    fn merge(&mut self, other: FileErrors) {
        for (file, serial, e) in other.0 {
            self.push(file, serial, e);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn has(&self, file: FileId) -> bool {
        self.0.iter().any(|(f, _, _)| *f == file)
    }

    /// The error of `file`'s open `serial` (or met with the file not open): one recorded on an earlier open of
    /// the id stays, for the files closed while the call ran (R32-2: a checkpoint reported a file opened under
    /// the id while it ran by the dropped one's error).
    fn take(&mut self, file: FileId, serial: u64) -> Option<Error> {
        let i = self
            .0
            .iter()
            .position(|(f, s, _)| *f == file && s.is_none_or(|s| s == serial))?;
        Some(self.0.remove(i).2)
    }

    fn into_first(self) -> Option<(FileId, Option<u64>, Error)> {
        self.0.into_iter().next()
    }
}

/// What a checkpoint did, file by file ([`BufferPool::checkpoint_report`]).
#[derive(Clone, Debug)]
pub struct CheckpointReport {
    /// One outcome per file open at the end of the checkpoint, in file id order, then any file closed while it
    /// ran whose pages could not be written.
    pub files: Vec<FileOutcome>,
    /// The background writer's error since the last flush or checkpoint, if any, with the file whose page write
    /// met it. Informational: the checkpoint tried that file's pages again, and its outcome in `files` says
    /// whether it is durable now (`Ok`: the checkpoint wrote what the writer could not, say after an ENOSPC that
    /// cleared or a log that refused a flush and then took it).
    pub background: Option<(FileId, Error)>,
}

/// One file's outcome in a [`CheckpointReport`].
#[derive(Clone, Debug)]
pub struct FileOutcome {
    /// The file.
    pub file: FileId,
    /// Its path, for files opened by path.
    pub path: Option<PathBuf>,
    /// `Ok`: every page of this file that was dirty when the checkpoint started is written and the file is
    /// synced, so it is durable as of this checkpoint. `Err`: the first error met writing or syncing it; its
    /// pages stay dirty in the pool ([`Error::NoSpace`]: retried later; [`Error::FileFailed`] or a failed sync:
    /// the file refuses writes until it is recovered, see [`Error::FileFailed`]).
    pub result: Result<()>,
}

impl CheckpointReport {
    /// True when every file is durable as of this checkpoint.
    pub fn is_ok(&self) -> bool {
        self.files.iter().all(|f| f.result.is_ok())
    }

    /// The files durable as of this checkpoint.
    pub fn durable(&self) -> impl Iterator<Item = FileId> + '_ {
        self.files.iter().filter(|f| f.result.is_ok()).map(|f| f.file)
    }

    /// The files that failed, with their errors.
    pub fn failed(&self) -> impl Iterator<Item = (FileId, &Error)> + '_ {
        self.files
            .iter()
            .filter_map(|f| f.result.as_ref().err().map(|e| (f.file, e)))
    }

    /// `Ok` when every file is durable as of this checkpoint; the one failed file's error; or
    /// [`Error::CheckpointFailed`] naming every failed file.
    ///
    /// The background writer's error ([`CheckpointReport::background`]) is never returned by itself: it was met
    /// on a file whose pages this checkpoint wrote again, so that file's own outcome is the answer. (It was
    /// returned before when it named no file, such as a file's log refusing a flush, `Error::Wal`: a checkpoint
    /// that made every file durable failed with a log error the log had since recovered from, R18-20.)
    pub fn into_result(self) -> Result<()> {
        let mut failed: Vec<(FileId, Error)> = self
            .files
            .into_iter()
            .filter_map(|f| f.result.err().map(|e| (f.file, e)))
            .collect();
        match failed.len() {
            0 => Ok(()),
            1 => Err(failed.pop().expect("one").1),
            _ => Err(Error::CheckpointFailed { failed: failed.into() }),
        }
    }
}

/// Longest pause of the background writer's writes after rounds that met errors and wrote nothing.
const WRITER_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The background writer's back-off (R34-10 in RELIABILITY.md): a round whose writes all failed (a full device:
/// `Error::NoSpace` leaves the pages dirty and the file usable, so they are due again; a log refusing its flush)
/// is followed by 1, 2, 4, ... rounds that write nothing, up to `WRITER_BACKOFF_MAX` of rounds; a round that
/// writes a page, or meets no error, ends it. Before, every round (2 ms by default) rewrote the same refused pages:
/// 1,383 failed writes in 1.5 s on a full tmpfs with a 1 ms interval. Rounds that fail count nothing but time, so
/// the device healing is noticed within one pause.
struct WriteBackoff {
    /// Rounds still to skip.
    skip: u32,
    /// Rounds to skip after the next failed round.
    next: u32,
    /// The most rounds skipped in a row: [`WRITER_BACKOFF_MAX`] over the interval, at least 1.
    cap: u32,
}

impl WriteBackoff {
    fn new(interval: Duration) -> WriteBackoff {
        let cap = (WRITER_BACKOFF_MAX.as_nanos() / interval.as_nanos().max(1)).clamp(1, u32::MAX as u128) as u32;
        WriteBackoff { skip: 0, next: 1, cap }
    }

    /// Whether this round may write; counts a skipped round.
    fn writes_due(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// After a round that could write: `failed` when it met errors and wrote nothing.
    fn round_done(&mut self, failed: bool) {
        if failed {
            self.skip = self.next;
            self.next = self.next.saturating_mul(2).min(self.cap);
        } else {
            self.skip = 0;
            self.next = 1;
        }
    }
}

/// A token bucket for the writer's page budget: refills `per_sec` tokens a second, holds at most one second's.
struct RateBudget {
    per_sec: u64,
    tokens: f64,
    last: Instant,
}

impl RateBudget {
    fn new(per_sec: u64) -> RateBudget {
        RateBudget {
            per_sec,
            tokens: per_sec as f64,
            last: Instant::now(),
        }
    }

    /// Takes up to `n` tokens; returns how many were granted (always `n` without a limit).
    fn take(&mut self, n: usize) -> usize {
        if self.per_sec == 0 {
            return n;
        }
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_sec as f64).min(self.per_sec as f64);
        self.last = now;
        let granted = (self.tokens as usize).min(n);
        self.tokens -= granted as f64;
        granted
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use crate::storage::{MemoryStorage, Storage, StorageInfo};
    use crate::{BufferPool, Error, FileId, FileOptions};

    use super::WriteSource;

    /// A storage whose every write fails with EIO.
    struct WritesFail;

    impl Storage for WritesFail {
        fn len(&self) -> io::Result<u64> {
            Ok(0)
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
            Ok(0)
        }
        fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::EIO))
        }
        fn sync(&self) -> io::Result<()> {
            Ok(())
        }
        fn info(&self) -> StorageInfo {
            StorageInfo {
                backend: "writes-fail",
                direct: false,
            }
        }
    }

    /// R18-1 (was R17-O1): the background writer's round, step by step as `writer_loop` runs it, with a drop and
    /// an open under the same id landing between the failed write (which has released the file's entry) and the
    /// record of its error. The error was recorded by the id alone, found open (the new file), and the new,
    /// healthy file's first flush failed with the dropped file's `Io { file: 7, op: "write" }` (R16-1 in that
    /// window). The record now checks that the file is still the open the write met the error on.
    #[test]
    fn a_writer_error_recorded_after_a_drop_and_reopen_under_its_id_is_not_the_new_files() {
        let pool = BufferPool::builder().frames(16).build().unwrap();
        let id = FileId(7);
        let old = pool.open_storage_with(WritesFail, FileOptions::new().id(id)).unwrap();
        drop(pool.new_page(old).unwrap());
        // The writer's second job (dirty pages written back), as `writer_loop` runs it.
        let errors = pool.write_dirty(pool.dirty_pages(|_| true), None, WriteSource::Writer);
        assert!(errors.has(id), "the write must fail");
        pool.drop_file(old).unwrap();
        let new = pool
            .open_storage_with(MemoryStorage::new(), FileOptions::new().id(id))
            .unwrap();
        assert_eq!(new, id);
        pool.record_background_error(errors);
        drop(pool.new_page(new).unwrap());
        let flushed = pool.flush_file(new);
        assert!(
            flushed.is_ok(),
            "the new file's flush failed with the dropped file's error: {flushed:?}"
        );
        pool.checkpoint().unwrap();

        // The same round without the drop: the error is the file's, and its flush reports it once.
        let pool = BufferPool::builder().frames(16).build().unwrap();
        let f = pool.open_storage_with(WritesFail, FileOptions::new().id(id)).unwrap();
        drop(pool.new_page(f).unwrap());
        let errors = pool.write_dirty(pool.dirty_pages(|_| true), None, WriteSource::Writer);
        pool.record_background_error(errors);
        match pool.flush_file(f) {
            Err(Error::Io { file, op: "write", .. }) => assert_eq!(file, id),
            other => panic!("the writer's own error, not {other:?}"),
        }
    }
}
