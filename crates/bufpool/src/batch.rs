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
use crate::frame::TryLatch;
use crate::guard::ReadGuard;
use crate::page::PageId;
use crate::policy::FrameIdx;
use crate::pool::{BufferPool, Mode};
use crate::stats::Counter;
use crate::storage::IoRequest;

/// Most reads one batch keeps in flight.
pub const BATCH_PAGES_MAX: usize = 64;
/// Prefetch batches queued for the I/O workers before `prefetch` runs batches itself.
pub(crate) const PREFETCH_QUEUE_MAX: usize = 64;

/// A reserved load: the page, its file, and the frame exclusively latched for it.
pub(crate) struct PendingLoad {
    pub(crate) file: Arc<FileEntry>,
    pub(crate) page: PageId,
    pub(crate) idx: FrameIdx,
}

impl BufferPool {
    fn batch_limit(&self) -> usize {
        BATCH_PAGES_MAX.min(self.frames() / 4).max(1)
    }

    /// Reads every page of `pages` and calls `visit(i, guard)` for `pages[i]`, in the order pages become
    /// available (resident ones first). Missing pages are read in batches of up to [`BATCH_PAGES_MAX`], all in
    /// flight at once on a backend that can (io_uring). An error for one page is passed to `visit` for that page
    /// and does not stop the others.
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
        let mut pending: Vec<PendingLoad> = Vec::with_capacity(limit.min(pages.len()));
        let mut pending_at: Vec<usize> = Vec::with_capacity(limit.min(pages.len()));
        let mut deferred = Vec::new();
        for (i, &page) in pages.iter().enumerate() {
            if let Some(idx) = self.try_hit_shared(page) {
                visit(i, Ok(ReadGuard { pool: self, idx, page }));
                continue;
            }
            match self.reserve(page) {
                Ok(Some((file, idx))) => {
                    pending.push(PendingLoad { file, page, idx });
                    pending_at.push(i);
                }
                Ok(None) => deferred.push(i),
                // No frame free right now (our own batch or others' loads hold them): read it after the batch,
                // with an ordinary read, which waits for loads in flight.
                Err(Error::PoolExhausted { .. }) => deferred.push(i),
                Err(e) => visit(i, Err(e)),
            }
            if pending.len() >= limit {
                self.complete_batch(&mut pending, &mut pending_at, &mut visit);
            }
        }
        self.complete_batch(&mut pending, &mut pending_at, &mut visit);
        for i in deferred {
            visit(i, self.read(pages[i]));
        }
    }

    /// Reads the reserved pages of `pending` in one submission per file, finishes each load with a shared latch
    /// and visits it as `pages[pending_at[k]]`.
    fn complete_batch(
        &self,
        pending: &mut Vec<PendingLoad>,
        pending_at: &mut Vec<usize>,
        visit: &mut impl FnMut(usize, Result<ReadGuard<'_>>),
    ) {
        let results = self.submit_loads(pending);
        for ((load, i), got) in pending.drain(..).zip(pending_at.drain(..)).zip(results) {
            let r = self.finish_load(&load.file, load.page, load.idx, got, Some(Mode::Shared));
            visit(
                i,
                r.map(|()| ReadGuard {
                    pool: self,
                    idx: load.idx,
                    page: load.page,
                }),
            );
        }
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
                    let buf = unsafe { self.core.memory.page_mut(l.idx) };
                    IoRequest::read(l.page.page_no() as u64 * page_size as u64, buf)
                })
                .collect();
            run[0].file.storage.submit(&mut reqs);
            results.extend(
                reqs.into_iter()
                    .map(|r| r.result.unwrap_or_else(|| Err(std::io::ErrorKind::Other.into()))),
            );
        }
        results
    }

    /// A shared latch on `page` if it is resident and can be latched right now; never waits.
    fn try_hit_shared(&self, page: PageId) -> Option<FrameIdx> {
        let idx = self.core.table.lookup(page, &self.core.headers)?;
        let h = self.header(idx);
        if h.state.try_latch_shared() != TryLatch::Ok {
            return None;
        }
        if h.page_id() != page {
            h.state.unlatch_shared();
            return None;
        }
        self.core.policy.on_hit(idx);
        self.core.counters.inc(Counter::Hits);
        Some(idx)
    }

    /// Starts loading the pages of `pages` that are neither resident nor being loaded, and returns without
    /// waiting for the reads: the pool's I/O workers (see [`crate::Builder::io_threads`]) complete them. A later
    /// `read` of such a page waits for its load instead of reading it again. Returns how many loads were started.
    ///
    /// At most a quarter of the pool is reserved per call; if the pool has no frame to spare, the rest of the
    /// pages are skipped (prefetch is a hint). A page out of range or of a file that is not open is an error,
    /// returned after the valid pages were started.
    pub fn prefetch(&self, pages: &[PageId]) -> Result<usize> {
        let limit = self.batch_limit();
        let mut batch: Vec<PendingLoad> = Vec::new();
        let mut started = 0;
        let mut first_error = None;
        for &page in pages {
            // At most a quarter of the pool (and BATCH_PAGES_MAX per batch) in prefetches at once, across callers.
            if self.core.prefetches_in_flight.load(Acquire) >= (self.frames() / 4).max(1) {
                break;
            }
            if self.core.table.lookup(page, &self.core.headers).is_some() {
                continue;
            }
            match self.reserve(page) {
                Ok(Some((file, idx))) => {
                    self.core.prefetches_in_flight.fetch_add(1, AcqRel);
                    batch.push(PendingLoad { file, page, idx });
                }
                Ok(None) => {}
                Err(Error::PoolExhausted { .. }) => break,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            if batch.len() >= limit {
                started += batch.len();
                self.dispatch_prefetch(std::mem::take(&mut batch));
            }
        }
        started += batch.len();
        if !batch.is_empty() {
            self.dispatch_prefetch(batch);
        }
        self.core.counters.add(Counter::Prefetched, started as u64);
        first_error.map_or(Ok(started), Err)
    }

    fn dispatch_prefetch(&self, batch: Vec<PendingLoad>) {
        let batch = match &self.background {
            Some(bg) => match bg.prefetch_tx.try_send(batch) {
                Ok(()) => return,
                // Queue full (or the workers are gone): do it here rather than drop reserved loads.
                Err(e) => e.into_inner(),
            },
            None => batch,
        };
        self.run_prefetch(batch);
    }

    /// Completes a prefetch batch: reads, verifies, publishes unlatched (errors reach waiters, if any).
    pub(crate) fn run_prefetch(&self, batch: Vec<PendingLoad>) {
        let results = self.submit_loads(&batch);
        for (load, got) in batch.into_iter().zip(results) {
            let _ = self.finish_load(&load.file, load.page, load.idx, got, None);
            self.core.prefetches_in_flight.fetch_sub(1, AcqRel);
        }
    }
}
