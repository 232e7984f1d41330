//! Batched misses: [`BufferPool::read_many`] and [`BufferPool::prefetch`], and the I/O workers behind prefetch.
//!
//! Owns the batch form of the miss path. With one blocking read per miss, a thread never has more than one read
//! in flight; here a thread reserves frames for many missing pages (each mapped and exclusively latched, exactly
//! as a single miss does, so single flight still holds), then hands all the reads to [`Storage::submit`] at
//! once: the io_uring backend keeps them all in flight, the pread backend runs them one by one.
//!
//! Invariants:
//! - A batch never reserves more than [`BATCH_PAGES_MAX`] frames, nor more than a quarter of the pool, so a batch
//!   can never starve the pool of frames.
//! - Every reserved frame is finished ([`BufferPool::finish_load`]) exactly once, on success or failure, by the
//!   thread that submitted it; a prefetch that cannot be queued runs inline rather than being dropped.
//! - A page found latched by someone else is not waited for inside the batch (we may hold latches ourselves): it
//!   is read after the batch, with an ordinary latch.
//!
//! [`Storage::submit`]: crate::storage::Storage::submit

use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::files::FileEntry;
use crate::guard::ReadGuard;
use crate::latch::{ExclusiveFrame, SharedFrame};
use crate::page::PageId;
use crate::policy::FrameIdx;
use crate::pool::{AfterLoad, BufferPool, Mode};
use crate::stats::Counter;
use crate::storage::IoRequest;

/// Most reads one batch keeps in flight.
pub const BATCH_PAGES_MAX: usize = 64;
/// Prefetch batches queued for the I/O workers before `prefetch` runs batches itself.
pub(crate) const PREFETCH_QUEUE_MAX: usize = 64;

/// A reserved load: the page, its file, and the frame exclusively latched for it. The latch is held by index,
/// not by an [`ExclusiveFrame`] token, because prefetch batches move to the I/O workers; the [`LoadBatch`] that
/// holds the load is its owner and finishes it exactly once (on drop too).
pub(crate) struct PendingLoad {
    pub(crate) file: Arc<FileEntry>,
    pub(crate) page: PageId,
    pub(crate) idx: FrameIdx,
    /// Counted in `Core::prefetches_in_flight`.
    pub(crate) prefetch: bool,
}

/// Reserved loads, each of which must be finished exactly once. Whatever is left in it when it is dropped (an
/// early return, a panic unwinding through the caller) is failed as an abandoned read: waiters get that error,
/// the frames go back to the free list and the in-flight counts come down (F6 in RELIABILITY.md).
pub(crate) struct LoadBatch<'p> {
    pool: &'p BufferPool,
    pub(crate) loads: Vec<PendingLoad>,
}

impl<'p> LoadBatch<'p> {
    pub(crate) fn new(pool: &'p BufferPool, loads: Vec<PendingLoad>) -> LoadBatch<'p> {
        LoadBatch { pool, loads }
    }

    /// Hands the loads to someone else (an I/O worker), who must wrap them in a batch of its own.
    fn into_loads(mut self) -> Vec<PendingLoad> {
        std::mem::take(&mut self.loads)
    }
}

impl Drop for LoadBatch<'_> {
    fn drop(&mut self) {
        for load in self.loads.drain(..) {
            let abandoned = std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the batch reading this page was abandoned (a callback panicked)",
            );
            let _ = self.pool.finish_pending(load, Err(abandoned), AfterLoad::Unlatched);
        }
    }
}

impl BufferPool {
    fn batch_limit(&self) -> usize {
        BATCH_PAGES_MAX.min(self.prefetch_limit())
    }

    /// Finishes a reserved load (see [`BufferPool::finish_load`]) and its prefetch count.
    fn finish_pending(&self, load: PendingLoad, got: std::io::Result<usize>, after: AfterLoad) -> Result<()> {
        let frame = ExclusiveFrame::adopt(self, load.idx);
        let r = self.finish_load(&load.file, load.page, frame, got, after);
        if load.prefetch {
            self.core.prefetches_in_flight.fetch_sub(1, AcqRel);
        }
        r.map(|latched| debug_assert!(latched.is_none(), "batch loads finish unlatched"))
    }

    /// Reads every page of `pages` and calls `visit(i, guard)` for `pages[i]`, in the order pages become
    /// available (resident ones first). Missing pages are read in batches of up to [`BATCH_PAGES_MAX`], all in
    /// flight at once on a backend that can (io_uring). An error for one page is passed to `visit` for that page
    /// and does not stop the others.
    ///
    /// `visit` runs while this call holds no latch but the one of the guard it is given: it may read or write any
    /// other page, including pages of the same batch. If it panics, the panic unwinds out of `read_many` with
    /// every latch released and every load of the batch finished (waiters of an unfinished one get an error).
    ///
    /// ```
    /// # use bufpool::{BufferPool, MemoryStorage, PageId};
    /// # let pool = BufferPool::builder().frames(64).build().unwrap();
    /// # let file = pool.open_storage(MemoryStorage::new()).unwrap();
    /// # for i in 0..10u8 { pool.new_page(file).unwrap()[0] = i; }
    /// let pages: Vec<PageId> = (0..10).map(|n| PageId::new(file, n)).collect();
    /// let mut sum = 0u32;
    /// pool.read_many(&pages, |_i, page| sum += page.unwrap()[0] as u32);
    /// assert_eq!(sum, 45);
    /// ```
    pub fn read_many(&self, pages: &[PageId], mut visit: impl FnMut(usize, Result<ReadGuard<'_>>)) {
        let limit = self.batch_limit();
        // Reserved loads and, beside them, their index in `pages`.
        let mut batch = LoadBatch::new(self, Vec::with_capacity(limit.min(pages.len())));
        let mut batch_at: Vec<usize> = Vec::with_capacity(limit.min(pages.len()));
        // Pages met while the batch held reserved frames (visited after it, never while it holds them: F3), with
        // the error to report if one is known, else read with an ordinary latch.
        let mut later: Vec<(usize, Option<Error>)> = Vec::new();
        for (i, &page) in pages.iter().enumerate() {
            if batch.loads.is_empty() {
                if let Some(frame) = self.try_fix_fast(page, Mode::Shared) {
                    visit(i, Ok(ReadGuard::new(frame.shared(), page)));
                    continue;
                }
            } else if self.core.frames.lookup(page).is_some() {
                later.push((i, None));
                continue;
            }
            match self.reserve_beside(&batch, page) {
                Ok(Some((file, frame))) => {
                    batch.loads.push(PendingLoad {
                        file,
                        page,
                        idx: frame.into_reserved(),
                        prefetch: false,
                    });
                    batch_at.push(i);
                }
                // Mapped by someone else meanwhile, or no frame free right now (our own batch or others' loads
                // hold them): read it after the batch, with an ordinary read, which waits for loads in flight.
                Ok(None) | Err(Error::PoolExhausted { .. } | Error::AllProtected { .. }) => later.push((i, None)),
                Err(e) if batch.loads.is_empty() => visit(i, Err(e)),
                Err(e) => later.push((i, Some(e))),
            }
            if batch.loads.len() >= limit {
                self.complete_batch(&mut batch, &mut batch_at, pages, &mut later, &mut visit);
            }
        }
        self.complete_batch(&mut batch, &mut batch_at, pages, &mut later, &mut visit);
    }

    /// Reads the reserved pages of `batch` in one submission per file and finishes each load unlatched; then,
    /// holding nothing, visits each as `pages[batch_at[k]]`, and then the pages deferred in `later`.
    fn complete_batch(
        &self,
        batch: &mut LoadBatch<'_>,
        batch_at: &mut Vec<usize>,
        pages: &[PageId],
        later: &mut Vec<(usize, Option<Error>)>,
        visit: &mut impl FnMut(usize, Result<ReadGuard<'_>>),
    ) {
        let results = self.submit_loads(&batch.loads);
        let mut outcomes = Vec::with_capacity(results.len());
        for (load, got) in batch.loads.drain(..).zip(results) {
            let (page, idx) = (load.page, load.idx);
            outcomes.push(
                self.finish_pending(load, got, AfterLoad::Unlatched)
                    .map(|()| (page, idx)),
            );
        }
        for (i, outcome) in batch_at.drain(..).zip(outcomes) {
            let guard = outcome.and_then(|(page, idx)| match self.latch_loaded_shared(page, idx) {
                Some(frame) => Ok(ReadGuard::new(frame, page)),
                // Taken by a writer or evicted since: an ordinary read.
                None => self.read(page),
            });
            visit(i, guard);
        }
        for (i, error) in later.drain(..) {
            visit(i, error.map_or_else(|| self.read(pages[i]), Err));
        }
    }

    /// A shared latch on frame `idx` if it still holds `page` and can be latched now (no statistics: the load
    /// that just put it there counted it).
    fn latch_loaded_shared(&self, page: PageId, idx: FrameIdx) -> Option<SharedFrame<'_>> {
        SharedFrame::try_latch(self, idx)
            .ok()
            .filter(|frame| frame.page_id() == page)
    }

    /// [`BufferPool::reserve`] for the next page of `batch`. The batch's reserved frames stay exclusively latched
    /// on this thread meanwhile, and the miss may run callbacks (an eviction's veto, `Wal` flush and
    /// `Storage::write_at`, the policy's `victim_for` and `on_insert`): they are listed as held for them, so a call
    /// back for one returns [`Error::CallbackReentry`] at once instead of waiting for ever for this thread's own
    /// latch (R36-3 in RELIABILITY.md).
    fn reserve_beside(
        &self,
        batch: &LoadBatch<'_>,
        page: PageId,
    ) -> Result<Option<(Arc<FileEntry>, ExclusiveFrame<'_>)>> {
        let _held = (!batch.loads.is_empty())
            .then(|| crate::held::for_callback("a batch's loads", batch.loads.iter().map(|l| self.header(l.idx))));
        self.reserve(page)
    }

    /// Submits the reads of reserved loads, one batch per run of the same file; returns each read's outcome.
    pub(crate) fn submit_loads(&self, loads: &[PendingLoad]) -> Vec<std::io::Result<usize>> {
        let mut results = Vec::with_capacity(loads.len());
        let page_size = self.page_size();
        for run in loads.chunk_by(|a, b| Arc::ptr_eq(&a.file, &b.file)) {
            let mut reqs: Vec<IoRequest<'_>> = run
                .iter()
                .map(|l| {
                    // SAFETY: every frame of a pending load is exclusively latched by this batch, and the frames
                    // of one batch are distinct, so these slices do not alias and nobody else touches them.
                    let buf = unsafe { self.core.frames.memory().page_mut(l.idx) };
                    IoRequest::read(l.page.page_no() as u64 * page_size as u64, buf)
                })
                .collect();
            {
                // Every frame of the batch, not only this run's: the later runs' pages are latched on this thread
                // too, so a call back for one of them would wait for ever (R36-2 in RELIABILITY.md).
                let _for = crate::held::for_callback("Storage::submit", loads.iter().map(|l| self.header(l.idx)));
                run[0].file.submit(&mut reqs);
            }
            results.extend(
                reqs.into_iter()
                    .map(|r| r.result.unwrap_or_else(|| Err(std::io::ErrorKind::Other.into()))),
            );
        }
        results
    }

    /// Starts loading the pages of `pages` that are neither resident nor being loaded, and returns without
    /// waiting for the reads: the pool's I/O workers (see [`crate::Builder::io_threads`]) complete them. A later
    /// `read` of such a page waits for its load instead of reading it again. Returns how many loads were started.
    ///
    /// At most a quarter of the pool is reserved per call; if the pool has no frame to spare, the rest of the
    /// pages are skipped (prefetch is a hint). A page out of range or of a file that is not open is an error, and
    /// so is a failure to take a frame for a page, as for a miss (a dirty victim's failed write, a panic of the
    /// storage, the log or the eviction veto, caught: [`crate::Error::Panicked`]); the first such error is
    /// returned after the valid pages were started.
    pub fn prefetch(&self, pages: &[PageId]) -> Result<usize> {
        let limit = self.batch_limit();
        let mut batch = LoadBatch::new(self, Vec::new());
        let mut started = 0;
        let mut first_error = None;
        for &page in pages {
            // At most a quarter of the pool (and BATCH_PAGES_MAX per batch) in prefetches at once, across callers.
            if self.core.prefetches_in_flight.load(Acquire) >= self.prefetch_limit() {
                break;
            }
            if self.core.frames.lookup(page).is_some() {
                continue;
            }
            match self.reserve_beside(&batch, page) {
                Ok(Some((file, frame))) => {
                    self.core.prefetches_in_flight.fetch_add(1, AcqRel);
                    batch.loads.push(PendingLoad {
                        file,
                        page,
                        idx: frame.into_reserved(),
                        prefetch: true,
                    });
                }
                Ok(None) => {}
                Err(Error::PoolExhausted { .. } | Error::AllProtected { .. }) => break,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            if batch.loads.len() >= limit {
                started += batch.loads.len();
                self.dispatch_prefetch(std::mem::replace(&mut batch, LoadBatch::new(self, Vec::new())));
            }
        }
        started += batch.loads.len();
        if !batch.loads.is_empty() {
            self.dispatch_prefetch(batch);
        }
        self.core.counters.add(Counter::Prefetched, started as u64);
        first_error.map_or(Ok(started), Err)
    }

    /// Most frames held by prefetches at once, across callers: a quarter of the pool. Batches (`read_many`,
    /// `prefetch`) reserve at most this many at a time too ([`BufferPool::batch_limit`]).
    pub(crate) fn prefetch_limit(&self) -> usize {
        (self.frames() / 4).max(1)
    }

    fn dispatch_prefetch(&self, batch: LoadBatch<'_>) {
        if let Some(bg) = &self.background {
            if let Err(e) = bg.prefetch_tx.try_send(batch.into_loads()) {
                // Queue full (or the workers are gone): do it here rather than drop reserved loads.
                self.run_prefetch(e.into_inner());
            }
        } else {
            self.run_prefetch(batch.into_loads());
        }
    }

    /// Completes a prefetch batch: reads, verifies, publishes unlatched (errors reach waiters, if any).
    pub(crate) fn run_prefetch(&self, loads: Vec<PendingLoad>) {
        let mut batch = LoadBatch::new(self, loads);
        let results = self.submit_loads(&batch.loads);
        for (load, got) in batch.loads.drain(..).zip(results) {
            let _ = self.finish_pending(load, got, AfterLoad::Unlatched);
        }
    }
}
