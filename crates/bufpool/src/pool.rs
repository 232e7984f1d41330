//! `BufferPool` and its `Builder`: the entry points, the miss path, eviction and write-back.
//!
//! Principal entry points: [`BufferPool::read`], [`BufferPool::write`], [`BufferPool::read_optimistic`],
//! [`BufferPool::new_page`], [`BufferPool::flush`], [`BufferPool::checkpoint`]. See also `frame.rs` (the latch
//! protocol), `table.rs` (the page table), `files.rs` (open files and their failure state), `ARCHITECTURE.md`.
//!
//! # Hit path (no lock, no allocation)
//! table lookup -> latch the frame (or read its version) -> confirm the frame still holds this page -> policy hit
//! hook -> guard. If the frame was reused in between, start again.
//!
//! # Miss path (single flight)
//! 1. Confirm the miss under the table's stripe lock.
//! 2. Take a frame: a free one, or the policy's victim, which `try_take` latched exclusively (so never a latched
//!    page, nor one the eviction veto protects). A dirty victim is written first: `wal.flush_to(page_lsn)`, then a
//!    checksummed private copy is written; then its mapping is removed.
//! 3. Map the page to the frame while it is exclusively latched. If another thread mapped it first, give the frame
//!    back and wait for theirs: concurrent requests for one page cause one read.
//! 4. Read and verify. On success, downgrade to the latch that was asked for. On failure, unmap, free the frame,
//!    record the error in the frame's error slot and bump the version: every waiter gets the same error.
//!
//! # Write-back
//! A page image is written only by a thread that excludes writers (shared or exclusive latch), after
//! `wal.flush_to(page_lsn)` returned. The dirty flag is cleared only after the write succeeded, so two flushers
//! may both write one page (harmless: same bytes) but none ever reports durable a page it did not see written.
//! After a failed write or sync the file refuses further writes (`files.rs`).
//!
//! # Lock order
//! frame latch (at most one, held by the pool itself) -> table stripe lock | policy's internal lock -> file
//! registry lock | file sync lock. The pool never waits for a frame latch while holding another, except a
//! caller's own guards, which the caller orders.

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use parking_lot::Mutex;

use crate::checksum::{self, Verified};
use crate::error::{Error, Result};
use crate::files::{FileEntry, Files};
use crate::frame::{FrameHeader, FrameMemory, TryLatch};
use crate::guard::{PageView, ReadGuard, WriteGuard};
use crate::page::{AlignedBuf, FileId, PageId, PageSize};
use crate::policy::{FrameIdx, Policy, PolicyKind};
use crate::stats::{Counter, Counters, Stats};
use crate::storage::{FileStorage, OpenMode, Storage};
use crate::sync::Backoff;
use crate::table::PageTable;
use crate::wal::{NoWal, Wal};

/// How many victims a miss tries before giving up (each may fail to be written).
const EVICT_ATTEMPTS_MAX: usize = 8;
/// Optimistic attempts before falling back to a shared latch.
const OPTIMISTIC_ATTEMPTS_MAX: u32 = 64;
/// How long `free_page`, `close_file` and `drop_file` wait for a latched page before reporting
/// [`Error::PageLatched`].
const LATCH_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(1);
/// Largest pool: frame indices are `u32` and `u32::MAX` marks a chain's end.
const FRAMES_MAX: usize = (u32::MAX - 1) as usize;

/// A predicate the engine registers to protect pages from eviction (for example pages an open snapshot still
/// needs). Called with the page an eviction is about to take; `true` keeps it.
pub type EvictionVeto = dyn Fn(PageId) -> bool + Send + Sync;

/// The error of a frame's last failed load, with the version it was recorded at.
type LoadErrorSlot = Mutex<Option<(u64, Error)>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Shared,
    Exclusive,
}

/// Configures and builds a [`BufferPool`].
pub struct Builder {
    frames: usize,
    page_size: usize,
    policy: PolicyKind,
    wal: Arc<dyn Wal>,
    open_mode: OpenMode,
    veto: Option<Box<EvictionVeto>>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            frames: 1024,
            page_size: PageSize::DEFAULT.bytes(),
            policy: PolicyKind::default(),
            wal: Arc::new(NoWal),
            open_mode: OpenMode::default(),
            veto: None,
        }
    }
}

impl Builder {
    /// Number of frames (pages held in memory). Default 1024.
    pub fn frames(mut self, n: usize) -> Self {
        self.frames = n;
        self
    }

    /// Page size in bytes: a power of two from 4 KiB to 64 KiB. Default 4096.
    pub fn page_size(mut self, bytes: usize) -> Self {
        self.page_size = bytes;
        self
    }

    /// The replacement policy. Default [`PolicyKind::Clock`].
    pub fn policy(mut self, policy: PolicyKind) -> Self {
        self.policy = policy;
        self
    }

    /// The engine's write-ahead log: no page is written before `wal.flush_to(page_lsn)` returned.
    pub fn wal(mut self, wal: Arc<dyn Wal>) -> Self {
        self.wal = wal;
        self
    }

    /// How [`BufferPool::open_file`] opens files. Default: O_DIRECT where the filesystem allows it.
    pub fn open_mode(mut self, mode: OpenMode) -> Self {
        self.open_mode = mode;
        self
    }

    /// Registers the eviction veto: pages for which it returns `true` are never evicted (counted in
    /// [`Stats::veto_skips`]). It runs on the eviction path, possibly inside the policy's critical section: keep
    /// it short and never call into the pool from it.
    pub fn eviction_veto(mut self, veto: impl Fn(PageId) -> bool + Send + Sync + 'static) -> Self {
        self.veto = Some(Box::new(veto));
        self
    }

    /// Allocates the frames and builds the pool.
    pub fn build(self) -> Result<BufferPool> {
        let page_size = PageSize::new(self.page_size).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "page size {} is not a power of two from {} to {}",
                self.page_size,
                PageSize::MIN,
                PageSize::MAX
            ))
        })?;
        if self.frames == 0 || self.frames > FRAMES_MAX {
            return Err(Error::InvalidConfig(format!(
                "frames must be in 1..={FRAMES_MAX}, got {}",
                self.frames
            )));
        }
        if self
            .frames
            .checked_mul(page_size.bytes())
            .is_none_or(|b| b > isize::MAX as usize / 2)
        {
            return Err(Error::InvalidConfig(format!(
                "{} frames of {} bytes do not fit",
                self.frames,
                page_size.bytes()
            )));
        }
        let free = ArrayQueue::new(self.frames);
        for i in 0..self.frames {
            free.push(i as FrameIdx)
                .expect("queue sized for every frame");
        }
        Ok(BufferPool {
            page_size,
            headers: (0..self.frames).map(|_| FrameHeader::new()).collect(),
            memory: FrameMemory::new(self.frames, page_size.bytes()),
            load_errors: (0..self.frames).map(|_| Mutex::new(None)).collect(),
            table: PageTable::new(self.frames),
            free,
            policy: self.policy.build(self.frames),
            wal: self.wal,
            files: Files::new(),
            counters: Counters::new(),
            open_mode: self.open_mode,
            veto: self.veto,
        })
    }
}

/// A fixed set of page frames shared by many threads, caching pages of many files.
///
/// See the crate docs for the model and an example.
pub struct BufferPool {
    page_size: PageSize,
    headers: Box<[FrameHeader]>,
    memory: FrameMemory,
    /// Per frame: the error of the last failed load and the version it was recorded at (cold; see `fix`).
    load_errors: Box<[LoadErrorSlot]>,
    table: PageTable,
    free: ArrayQueue<FrameIdx>,
    policy: Box<dyn Policy>,
    wal: Arc<dyn Wal>,
    files: Files,
    counters: Counters,
    open_mode: OpenMode,
    veto: Option<Box<EvictionVeto>>,
}

thread_local! {
    /// Private copy of a page being written: the checksum is stamped into the copy, never into the shared frame,
    /// which readers may be using (PostgreSQL's FlushBuffer does the same).
    static WRITE_BUF: RefCell<Option<AlignedBuf>> = const { RefCell::new(None) };
}

impl BufferPool {
    /// A builder with the defaults: 1024 frames of 4 KiB, CLOCK, no WAL.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.page_size.bytes()
    }

    /// Bytes of each page that belong to the caller (the page minus the pool's header).
    pub fn user_bytes(&self) -> usize {
        self.page_size.user_bytes()
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.headers.len()
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }

    #[inline]
    pub(crate) fn header(&self, idx: FrameIdx) -> &FrameHeader {
        &self.headers[idx as usize]
    }

    #[inline]
    pub(crate) fn memory(&self) -> &FrameMemory {
        &self.memory
    }

    // ---------------------------------------------------------------------------------------------------------
    // Files

    /// Opens or creates the data file at `path` under a fresh id. O_DIRECT is used where the filesystem allows it
    /// (see [`Builder::open_mode`]); [`Stats::files`] says which.
    pub fn open_file(&self, path: impl AsRef<Path>) -> Result<FileId> {
        self.open_path(None, path.as_ref())
    }

    /// Opens or creates the data file at `path` under the engine's own persistent `id`. Refused if `id` is open.
    pub fn open_file_as(&self, id: FileId, path: impl AsRef<Path>) -> Result<FileId> {
        if self.files.get(id).is_ok() {
            return Err(Error::FileIdInUse(id));
        }
        self.open_path(Some(id), path.as_ref())
    }

    fn open_path(&self, id: Option<FileId>, path: &Path) -> Result<FileId> {
        let storage = FileStorage::open(path, self.open_mode).map_err(|e| Error::Open {
            path: path.to_path_buf(),
            source: Arc::new(e),
        })?;
        self.files.register(
            id,
            Box::new(storage),
            Some(path.to_path_buf()),
            self.page_size(),
        )
    }

    /// Serves pages from any [`Storage`] (in-memory, fault-injecting, ...) under a fresh id.
    pub fn open_storage(&self, storage: impl Storage) -> Result<FileId> {
        self.files
            .register(None, Box::new(storage), None, self.page_size())
    }

    /// Serves pages from any [`Storage`] under the engine's own `id`.
    pub fn open_storage_as(&self, id: FileId, storage: impl Storage) -> Result<FileId> {
        self.files
            .register(Some(id), Box::new(storage), None, self.page_size())
    }

    /// Pages allocated in `file`: page numbers `0..file_pages` exist.
    pub fn file_pages(&self, file: FileId) -> Result<u32> {
        Ok(self.files.get(file)?.pages.load(Acquire))
    }

    /// Writes the file's dirty pages, syncs it, discards its pages from the pool and closes it.
    /// Fails with [`Error::PageLatched`] if a guard on one of its pages is held for more than about a second.
    pub fn close_file(&self, file: FileId) -> Result<()> {
        let f = self.files.get(file)?;
        self.flush_file_entry(&f)?;
        self.sweep_file(&f, true)?;
        self.sync_file(&f)?;
        self.files.unregister(file);
        Ok(())
    }

    /// Discards the file's cached pages without writing them, and closes it (the file itself is left on disk:
    /// removing it is the engine's business).
    pub fn drop_file(&self, file: FileId) -> Result<()> {
        let f = self.files.get(file)?;
        self.sweep_file(&f, false)?;
        self.files.unregister(file);
        Ok(())
    }

    /// Empties the pool of `file`'s pages: marks it closing (loads racing with the sweep undo themselves), then
    /// latches and discards every frame holding one of its pages, writing dirty ones first if `write_dirty`.
    fn sweep_file(&self, file: &FileEntry, write_dirty: bool) -> Result<()> {
        file.closing.store(true, SeqCst);
        let result = (0..self.frames() as FrameIdx).try_for_each(|idx| {
            let h = self.header(idx);
            if PageId::from_u64(h.page_id.load(SeqCst)).file() != file.id {
                return Ok(());
            }
            if !self.latch_exclusive_waiting(idx)? {
                return Ok(());
            }
            let page = h.page_id();
            if page.file() != file.id {
                h.state.unlatch_exclusive_unchanged();
                return Ok(());
            }
            if write_dirty && h.dirty.load(Acquire) {
                if let Err(e) = self.write_frame(file, page, idx) {
                    h.state.unlatch_exclusive_unchanged();
                    return Err(e);
                }
            }
            self.discard(idx, page);
            Ok(())
        });
        if result.is_err() {
            file.closing.store(false, SeqCst);
        }
        result
    }

    /// Latches frame `idx` exclusively, waiting up to [`LATCH_WAIT_MAX`]. `Ok(false)` if the frame is free.
    fn latch_exclusive_waiting(&self, idx: FrameIdx) -> Result<bool> {
        let h = self.header(idx);
        let mut backoff = Backoff::new();
        let mut deadline = None;
        loop {
            match h.state.try_latch_exclusive() {
                TryLatch::Ok => return Ok(true),
                TryLatch::Free => return Ok(false),
                TryLatch::Busy { .. } => {
                    let now = std::time::Instant::now();
                    if now >= *deadline.get_or_insert(now + LATCH_WAIT_MAX) {
                        return Err(Error::PageLatched { page: h.page_id() });
                    }
                    backoff.snooze();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Page access

    /// A shared latch on `page`, loading it if needed.
    pub fn read(&self, page: PageId) -> Result<ReadGuard<'_>> {
        let idx = self.fix(page, Mode::Shared)?;
        Ok(ReadGuard {
            pool: self,
            idx,
            page,
        })
    }

    /// An exclusive latch on `page`, loading it if needed. Marks the page dirty.
    pub fn write(&self, page: PageId) -> Result<WriteGuard<'_>> {
        let f = self.files.get(page.file())?;
        if f.is_failed() {
            return Err(f.failed_error());
        }
        let idx = self.fix(page, Mode::Exclusive)?;
        self.header(idx).dirty.store(true, Release);
        Ok(WriteGuard {
            pool: self,
            idx,
            page,
        })
    }

    /// Runs `f` on `page` without latching it: reads the frame's version, runs `f` over a [`PageView`] (atomic
    /// loads), and returns `f`'s result only if the version is unchanged; otherwise runs `f` again. After
    /// 64 conflicts it takes a shared latch, so it always makes progress. A page that is
    /// not resident is loaded (and `f` runs under a shared latch).
    ///
    /// `f` may see torn bytes on a run whose result is discarded; see [`PageView`].
    pub fn read_optimistic<R>(
        &self,
        page: PageId,
        mut f: impl FnMut(&PageView<'_>) -> R,
    ) -> Result<R> {
        let mut backoff = Backoff::new();
        for attempt in 0..OPTIMISTIC_ATTEMPTS_MAX {
            let Some(idx) = self.table.lookup(page, &self.headers) else {
                if attempt == 0 {
                    break;
                }
                continue;
            };
            let h = self.header(idx);
            let Some(version) = h.state.optimistic_begin() else {
                backoff.snooze();
                continue;
            };
            if h.page_id.load(Acquire) != page.as_u64() {
                continue;
            }
            let view = PageView {
                pool: self,
                idx,
                page,
                bad: Default::default(),
            };
            let r = f(&view);
            if h.state.optimistic_validate(version) {
                self.policy.on_hit(idx);
                self.counters.inc(Counter::Hits);
                return view_result(&view, r);
            }
            self.counters.inc(Counter::OptimisticRetries);
        }
        let guard = self.read(page)?;
        let view = PageView {
            pool: self,
            idx: guard.idx,
            page,
            bad: Default::default(),
        };
        let r = f(&view);
        view_result(&view, r)
    }

    /// Latches `page` in `mode`, loading it if needed. The single entry to the hit and miss paths.
    fn fix(&self, page: PageId, mode: Mode) -> Result<FrameIdx> {
        let mut backoff = Backoff::new();
        // The frame we last waited on while it held `page` latched, and the version we saw: if a load into it
        // fails meanwhile, we return that load's error instead of trying again (one failed read, one error).
        let mut waited: Option<(FrameIdx, u64)> = None;
        loop {
            if let Some(idx) = self.table.lookup(page, &self.headers) {
                let h = self.header(idx);
                let latched = match mode {
                    Mode::Shared => h.state.try_latch_shared(),
                    Mode::Exclusive => h.state.try_latch_exclusive(),
                };
                match latched {
                    TryLatch::Ok if h.page_id() == page => {
                        self.policy.on_hit(idx);
                        self.counters.inc(Counter::Hits);
                        return Ok(idx);
                    }
                    TryLatch::Ok => self.unlatch_unchanged(idx, mode),
                    TryLatch::Busy { version } if h.page_id() == page => {
                        if waited.is_none() {
                            self.counters.inc(Counter::SingleFlightWaits);
                        }
                        waited = Some((idx, version));
                        backoff.snooze();
                        continue;
                    }
                    TryLatch::Busy { .. } | TryLatch::Free => {}
                }
                // The frame no longer holds the page (evicted, or its load failed): look again.
                if let Some(e) = waited.and_then(|(i, v)| self.load_error(i, v)) {
                    return Err(e);
                }
                continue;
            }
            if let Some(e) = waited.and_then(|(i, v)| self.load_error(i, v)) {
                return Err(e);
            }
            if let Some(idx) = self.load(page, mode)? {
                return Ok(idx);
            }
        }
    }

    fn unlatch_unchanged(&self, idx: FrameIdx, mode: Mode) {
        let s = &self.header(idx).state;
        match mode {
            Mode::Shared => s.unlatch_shared(),
            Mode::Exclusive => s.unlatch_exclusive_unchanged(),
        }
    }

    /// The error of a load into `idx` that failed right after we saw it latched at `version`.
    fn load_error(&self, idx: FrameIdx, version: u64) -> Option<Error> {
        if self.header(idx).failed_version.load(Acquire) != version + 1 {
            return None;
        }
        match &*self.load_errors[idx as usize].lock() {
            Some((v, e)) if *v == version + 1 => Some(e.clone()),
            _ => None,
        }
    }

    /// The miss path. `Ok(None)` when another thread mapped the page first (the caller looks again).
    fn load(&self, page: PageId, mode: Mode) -> Result<Option<FrameIdx>> {
        let file = self.files.get(page.file())?;
        let pages = file.pages.load(Acquire);
        if page.page_no() >= pages {
            return Err(Error::OutOfRange { page, pages });
        }
        if self.table.lookup_locked(page, &self.headers).is_some() {
            return Ok(None);
        }
        let idx = self.acquire_frame()?;
        let h = self.header(idx);
        h.page_id.store(page.as_u64(), SeqCst);
        if self
            .table
            .insert_if_absent(page, idx, &self.headers)
            .is_err()
        {
            self.release_unmapped(idx);
            return Ok(None);
        }
        if file.closing.load(SeqCst) {
            self.table.remove(page, idx, &self.headers);
            self.release_unmapped(idx);
            return Err(Error::FileNotOpen(page.file()));
        }
        self.counters.inc(Counter::Misses);
        match self.read_frame(&file, page, idx) {
            Ok(lsn) => {
                h.lsn.store(lsn, Relaxed);
                h.dirty.store(false, Relaxed);
                self.policy.on_insert(idx, page.as_u64());
                if mode == Mode::Shared {
                    h.state.downgrade();
                }
                Ok(Some(idx))
            }
            Err(e) => {
                self.table.remove(page, idx, &self.headers);
                h.page_id.store(PageId::INVALID.as_u64(), SeqCst);
                let version = (h.state.load() >> 8) + 1;
                *self.load_errors[idx as usize].lock() = Some((version, e.clone()));
                h.failed_version.store(version, Release);
                let v = h.state.unlatch_to_free();
                debug_assert_eq!(v, version);
                self.push_free(idx);
                Err(e)
            }
        }
    }

    /// Reads and verifies `page` into frame `idx` (exclusively latched by the caller). Returns the page LSN.
    fn read_frame(&self, file: &FileEntry, page: PageId, idx: FrameIdx) -> Result<u64> {
        // SAFETY: the caller holds the exclusive latch on idx.
        let buf = unsafe { self.memory.page_mut(idx) };
        self.counters.inc(Counter::Reads);
        let want = buf.len();
        let got = match file
            .storage
            .read_at(buf, self.page_size.offset_of(page.page_no()))
        {
            Ok(n) => n,
            Err(e) => {
                self.counters.inc(Counter::ReadErrors);
                return Err(Error::io(file.id, Some(page), "read", e));
            }
        };
        if got < want {
            self.counters.inc(Counter::ReadErrors);
            return Err(Error::ShortRead { page, got, want });
        }
        match checksum::verify(buf, page.page_no()) {
            Ok(Verified::Valid) => Ok(checksum::lsn_of(buf)),
            Ok(Verified::Fresh) => Ok(0),
            Err(reason) => {
                self.counters.inc(Counter::CorruptPages);
                Err(Error::Corrupt { page, reason })
            }
        }
    }

    /// A free frame, exclusively latched, holding no page and not in the table or the policy.
    fn acquire_frame(&self) -> Result<FrameIdx> {
        let mut last_error = None;
        for _ in 0..EVICT_ATTEMPTS_MAX {
            if let Some(idx) = self.free.pop() {
                let latched = self.header(idx).state.latch_free_exclusive();
                assert!(latched, "frame {idx} on the free list was not free");
                return Ok(idx);
            }
            let Some(idx) = self.policy.victim(&mut |idx| self.try_take(idx)) else {
                break;
            };
            match self.evict(idx) {
                Ok(()) => return Ok(idx),
                Err(e) => last_error = Some(e),
            }
        }
        self.counters.inc(Counter::Exhausted);
        Err(last_error.unwrap_or(Error::PoolExhausted {
            frames: self.frames(),
        }))
    }

    /// The policy offers `idx`: take it if it can be latched exclusively and nothing protects it.
    fn try_take(&self, idx: FrameIdx) -> bool {
        let h = self.header(idx);
        if h.state.try_latch_exclusive() != TryLatch::Ok {
            self.counters.inc(Counter::LatchedSkips);
            return false;
        }
        let page = h.page_id();
        let refuse = page == PageId::INVALID
            || self.veto.as_ref().is_some_and(|veto| {
                let v = veto(page);
                if v {
                    self.counters.inc(Counter::VetoSkips);
                }
                v
            })
            // A dirty page of a failed (or vanished) file cannot be written, so it must not be evicted.
            || (h.dirty.load(Acquire) && self.files.get(page.file()).map_or(true, |f| f.is_failed()));
        if refuse {
            h.state.unlatch_exclusive_unchanged();
        }
        !refuse
    }

    /// Empties victim `idx` (exclusively latched, no longer tracked by the policy): writes it if dirty, unmaps it.
    /// On a failed write the page stays, dirty, tracked again, and unlatched.
    fn evict(&self, idx: FrameIdx) -> Result<()> {
        let h = self.header(idx);
        let page = h.page_id();
        if h.dirty.load(Acquire) {
            if let Err(e) = self
                .files
                .get(page.file())
                .and_then(|f| self.write_frame(&f, page, idx))
            {
                self.policy.on_insert(idx, page.as_u64());
                h.state.unlatch_exclusive_unchanged();
                return Err(e);
            }
            self.counters.inc(Counter::DirtyEvictions);
        }
        let removed = self.table.remove(page, idx, &self.headers);
        debug_assert!(removed, "victim {page:?} was not mapped");
        h.page_id.store(PageId::INVALID.as_u64(), SeqCst);
        self.counters.inc(Counter::Evictions);
        Ok(())
    }

    /// Drops the page in `idx` (exclusively latched) without writing it and frees the frame.
    fn discard(&self, idx: FrameIdx, page: PageId) {
        let h = self.header(idx);
        self.table.remove(page, idx, &self.headers);
        self.policy.on_remove(idx);
        h.dirty.store(false, Release);
        h.page_id.store(PageId::INVALID.as_u64(), SeqCst);
        h.state.unlatch_to_free();
        self.push_free(idx);
    }

    /// Frees `idx`, which is exclusively latched, not mapped and not tracked.
    fn release_unmapped(&self, idx: FrameIdx) {
        let h = self.header(idx);
        h.page_id.store(PageId::INVALID.as_u64(), SeqCst);
        h.state.unlatch_to_free();
        self.push_free(idx);
    }

    fn push_free(&self, idx: FrameIdx) {
        self.free
            .push(idx)
            .expect("free list holds every frame at most once");
    }

    /// A new zeroed page of `file`: the lowest freed page number, or a new one at the end of the file. The page is
    /// dirty; it reaches the file when it is flushed, checkpointed or evicted.
    pub fn new_page(&self, file: FileId) -> Result<WriteGuard<'_>> {
        let f = self.files.get(file)?;
        if f.is_failed() {
            return Err(f.failed_error());
        }
        let reused = f.free.lock().pop_first();
        let page_no = match reused {
            Some(n) => n,
            None => f
                .pages
                .fetch_update(AcqRel, Acquire, |n| {
                    n.checked_add(1).filter(|&n| n < u32::MAX)
                })
                .map_err(|n| Error::OutOfRange {
                    page: PageId::new(file, n),
                    pages: n,
                })?,
        };
        let page = PageId::new(file, page_no);
        let idx = match self.acquire_frame() {
            Ok(idx) => idx,
            Err(e) => {
                // Give the page number back: shrink the file again if nobody allocated after us.
                if reused.is_some()
                    || f.pages
                        .compare_exchange(page_no + 1, page_no, AcqRel, Acquire)
                        .is_err()
                {
                    f.free.lock().insert(page_no);
                }
                return Err(e);
            }
        };
        let h = self.header(idx);
        // SAFETY: acquire_frame returned idx exclusively latched.
        unsafe { self.memory.page_mut(idx) }.fill(0);
        h.lsn.store(0, Relaxed);
        h.dirty.store(true, Release);
        h.page_id.store(page.as_u64(), SeqCst);
        if self
            .table
            .insert_if_absent(page, idx, &self.headers)
            .is_err()
        {
            // A stale copy of this freed page is still resident (someone read it after free_page): reuse it.
            self.release_unmapped(idx);
            let mut g = self.write(page)?;
            g.fill(0);
            g.set_lsn(0);
            return Ok(g);
        }
        self.policy.on_insert(idx, page.as_u64());
        Ok(WriteGuard {
            pool: self,
            idx,
            page,
        })
    }

    /// Returns `page` to its file's free list (reused by a later [`BufferPool::new_page`]) and discards its
    /// cached copy unwritten. The free list lives in memory: an engine that needs it across restarts keeps its
    /// own record (as every engine keeps its free-space map), and re-frees those pages after reopening.
    pub fn free_page(&self, page: PageId) -> Result<()> {
        let f = self.files.get(page.file())?;
        let pages = f.pages.load(Acquire);
        if page.page_no() >= pages {
            return Err(Error::OutOfRange { page, pages });
        }
        if let Some(idx) = self
            .table
            .lookup(page, &self.headers)
            .or_else(|| self.table.lookup_locked(page, &self.headers))
        {
            if self.latch_exclusive_waiting(idx)? {
                if self.header(idx).page_id() == page {
                    self.discard(idx, page);
                } else {
                    self.header(idx).state.unlatch_exclusive_unchanged();
                }
            }
        }
        f.free.lock().insert(page.page_no());
        Ok(())
    }

    // ---------------------------------------------------------------------------------------------------------
    // Write-back

    /// Writes the image of `page` (in frame `idx`, latched shared or exclusive by the caller) to its file, after
    /// making the WAL durable up to the page's LSN. Does not touch the dirty flag.
    fn write_frame(&self, file: &FileEntry, page: PageId, idx: FrameIdx) -> Result<()> {
        if file.is_failed() {
            return Err(file.failed_error());
        }
        let lsn = self.header(idx).lsn.load(Acquire);
        self.counters.inc(Counter::WalFlushes);
        self.wal.flush_to(lsn)?;
        let page_size = self.page_size();
        let result = WRITE_BUF.with(|cell| {
            let mut cell = cell.borrow_mut();
            let buf = match &mut *cell {
                Some(b) if b.len() == page_size => b,
                slot => slot.insert(AlignedBuf::zeroed(page_size)),
            };
            // SAFETY: the caller holds a latch on idx, so no writer changes the page while we copy it.
            buf.copy_from_slice(unsafe { self.memory.page(idx) });
            checksum::stamp(buf, page.page_no());
            file.storage
                .write_at(buf, self.page_size.offset_of(page.page_no()))
        });
        if let Err(e) = result {
            self.counters.inc(Counter::WriteErrors);
            let err = Error::io(file.id, Some(page), "write", e);
            file.fail(&err);
            return Err(err);
        }
        file.unsynced.store(true, Release);
        self.counters.inc(Counter::Writes);
        Ok(())
    }

    /// Writes frame `idx` (latched by the caller, holding `page`) if it is dirty; clears the flag only after.
    fn write_if_dirty(&self, file: &FileEntry, page: PageId, idx: FrameIdx) -> Result<()> {
        let h = self.header(idx);
        if h.dirty.load(Acquire) {
            self.write_frame(file, page, idx)?;
            h.dirty.store(false, Release);
        }
        Ok(())
    }

    /// Makes every completed write of `file` durable.
    fn sync_file(&self, file: &FileEntry) -> Result<()> {
        // Serialise syncs: a caller whose write another thread's sync is covering waits for that sync to finish
        // instead of returning early on a cleared flag.
        let _g = file.sync_lock.lock();
        if file.is_failed() {
            return Err(file.failed_error());
        }
        if !file.unsynced.swap(false, AcqRel) {
            return Ok(());
        }
        self.counters.inc(Counter::Syncs);
        if let Err(e) = file.storage.sync() {
            self.counters.inc(Counter::WriteErrors);
            file.unsynced.store(true, Release);
            let err = Error::io(file.id, None, "sync", e);
            file.fail(&err);
            return Err(err);
        }
        Ok(())
    }

    /// Writes `page` if it is dirty, then syncs its file: when this returns `Ok`, the page's current content is
    /// durable.
    pub fn flush(&self, page: PageId) -> Result<()> {
        let file = self.files.get(page.file())?;
        if let Some(idx) = self.latch_resident_shared(page) {
            let r = self.write_if_dirty(&file, page, idx);
            self.header(idx).state.unlatch_shared();
            r?;
        }
        self.sync_file(&file)
    }

    /// A shared latch on `page` if it is resident (waiting for an exclusive holder); `None` if it is not.
    fn latch_resident_shared(&self, page: PageId) -> Option<FrameIdx> {
        let mut backoff = Backoff::new();
        loop {
            let idx = self
                .table
                .lookup(page, &self.headers)
                .or_else(|| self.table.lookup_locked(page, &self.headers))?;
            let h = self.header(idx);
            match h.state.try_latch_shared() {
                TryLatch::Ok if h.page_id() == page => return Some(idx),
                TryLatch::Ok => h.state.unlatch_shared(),
                TryLatch::Busy { .. } => backoff.snooze(),
                TryLatch::Free => {}
            }
        }
    }

    /// Writes every dirty page of `file` (in page order) and syncs it.
    pub fn flush_file(&self, file: FileId) -> Result<()> {
        let f = self.files.get(file)?;
        self.flush_file_entry(&f)
    }

    fn flush_file_entry(&self, f: &FileEntry) -> Result<()> {
        let first_error = self.write_dirty(|p| p.file() == f.id);
        let synced = self.sync_file(f);
        first_error.map_or(synced, Err)
    }

    /// Writes every page that was dirty when it started (in file and page order), then syncs every file with
    /// unsynced writes. Keeps going after an error and returns the first one.
    pub fn checkpoint(&self) -> Result<()> {
        let mut first_error = self.write_dirty(|_| true);
        for f in self.files.all() {
            if let Err(e) = self.sync_file(&f) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Writes the dirty pages `select`ed, sorted by page id; returns the first error.
    fn write_dirty(&self, select: impl Fn(PageId) -> bool) -> Option<Error> {
        let mut dirty: Vec<(PageId, FrameIdx)> = (0..self.frames() as FrameIdx)
            .filter_map(|idx| {
                let h = self.header(idx);
                let page = h.page_id();
                (page != PageId::INVALID && h.dirty.load(Acquire) && select(page))
                    .then_some((page, idx))
            })
            .collect();
        dirty.sort_unstable();
        let mut first_error = None;
        for (page, idx) in dirty {
            let h = self.header(idx);
            let mut backoff = Backoff::new();
            let latched = loop {
                match h.state.try_latch_shared() {
                    TryLatch::Ok => break true,
                    TryLatch::Free => break false,
                    TryLatch::Busy { .. } => backoff.snooze(),
                }
            };
            if !latched {
                continue;
            }
            if h.page_id() == page {
                let r = self
                    .files
                    .get(page.file())
                    .and_then(|f| self.write_if_dirty(&f, page, idx));
                if let Err(e) = r {
                    first_error.get_or_insert(e);
                }
            }
            h.state.unlatch_shared();
        }
        first_error
    }

    /// Checkpoints and closes every file, reporting the first error. Dropping a pool does not write anything:
    /// call this (or [`BufferPool::checkpoint`]) to make dirty pages durable.
    pub fn close(self) -> Result<()> {
        let mut first_error = self.checkpoint().err();
        for f in self.files.all() {
            if let Err(e) = self.close_file(f.id) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    // ---------------------------------------------------------------------------------------------------------
    // Statistics

    /// Counters since the pool was built, and a scan of the frames (resident and dirty counts) and files.
    pub fn stats(&self) -> Stats {
        let mut s = self.counters.snapshot();
        s.frames = self.frames();
        for h in self.headers.iter() {
            if h.page_id() != PageId::INVALID {
                s.resident += 1;
                s.dirty += h.dirty.load(Relaxed) as usize;
            }
        }
        s.files = self.files.all().iter().map(|f| f.stats()).collect();
        s
    }
}

fn view_result<R>(view: &PageView<'_>, r: R) -> Result<R> {
    match view.bad.get() {
        Some((offset, len)) => Err(Error::InvalidAccess { offset, len }),
        None => Ok(r),
    }
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool")
            .field("frames", &self.frames())
            .field("page_size", &self.page_size())
            .field("policy", &self.policy.name())
            .finish_non_exhaustive()
    }
}
