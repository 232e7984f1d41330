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
//!    page, nor one the eviction veto protects). A dirty victim is written first: `wal.flush_for_pages` (by
//!    default `flush_to(page_lsn)`), then a checksummed private copy is written; then its mapping is removed.
//! 3. Map the page to the frame while it is exclusively latched. If another thread mapped it first, give the frame
//!    back and wait for theirs: concurrent requests for one page cause one read.
//! 4. Read and verify (checksum, page number, identity; and a page LSN not below the one this open last wrote
//!    the page with, or an engine expects it at, `expect_lsn`: `Corrupt { StaleWrite }` otherwise, a write the
//!    device dropped). On success, downgrade to
//!    the latch that was asked for. On failure, unmap, free the frame, record the error in the frame's error slot
//!    and bump the version: every waiter gets the same error.
//!
//! # Write-back
//! A page image is written only by a thread that excludes writers (shared or exclusive latch), after
//! `wal.flush_for_pages(page_lsn, page, 1)` (by default `flush_to(page_lsn)`) returned. The dirty flag is cleared
//! only after the write succeeded, so none ever reports durable a page it did not see written. A writer under a
//! shared latch claims the page for its write first (`writer.rs`, rule 1): two flushers of one page at once were
//! not harmless, the later write could land after the other's sync (R49-1 in RELIABILITY.md).
//! After a failed write or sync the file refuses further writes (`files.rs`).
//!
//! # Lock order
//! Specified once, in ARCHITECTURE.md ("Lock order").

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::*;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::batch::{PendingLoad, PREFETCH_QUEUE_MAX};
use crate::caught_policy::{take_policy_panic, CaughtPolicy};
use crate::checksum::{self, Verified};
use crate::error::{CorruptReason, Error, Result};
use crate::file_options::FileOptions;
use crate::files::{FileEntry, Files, IdReservation, OpenAs};
use crate::frame::{FrameHeader, FrameMemory, LatchWait, TryLatch};
use crate::frames::Frames;
use crate::guard::{PageView, ReadGuard, WriteGuard};
use crate::latch::{ExclusiveFrame, SharedFrame, Victim};
use crate::page::{AllocFailed, FileId, Lsn, PageId, PageNo, PageSize};
use crate::policy::{FrameIdx, Policy, PolicyConfig, PoolPolicy};
use crate::preset::Preset;
use crate::skips::Skip;
use crate::snapshot::SnapshotTracker;
use crate::stats::{Counter, Counters, Stats};
use crate::storage::{uring_available, FileStorage, OpenMode, Opened, Storage, UringStorage};
use crate::sync::Backoff;
use crate::wal::{NoWal, Wal};
use crate::writer::{WriteSource, WriterConfig};

/// How many victims a miss tries before giving up (each may fail to be written).
const EVICT_ATTEMPTS_MAX: usize = 8;
/// How long a miss waits for frames latched by other threads' loads in flight before reporting
/// [`Error::PoolExhausted`].
const LOADS_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(1);
/// Optimistic attempts before falling back to a shared latch.
const OPTIMISTIC_ATTEMPTS_MAX: u32 = 64;
/// How long `free_page`, `close_file` and `drop_file` wait for a latched page before reporting
/// [`Error::PageLatched`].
const LATCH_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(1);
/// How long `open_file` waits for another opener's lock on the data file before [`Error::FileLocked`] (see
/// `BufferPool::lock_storage`).
const LOCK_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(2);
/// Files an open by path opens and finds replaced under its name once it holds their lock before it gives up with
/// [`Error::FileLocked`] (`BufferPool::open_path`, R46-1).
const OPEN_LOCKED_TRIES: usize = 8;
/// Largest pool: frame indices are `u32` and `u32::MAX` marks a chain's end.
const FRAMES_MAX: usize = (u32::MAX - 1) as usize;
/// Most prefetch I/O threads a pool starts ([`Builder::io_threads`]): far more reads in flight than a device
/// serves at once, and few enough threads that a configuration's typo (`io_threads = 100000`) is refused rather
/// than spawned until the machine runs out of threads (R34-3).
pub const IO_THREADS_MAX: usize = 256;
/// Heap bytes per frame that [`reserve_bookkeeping`] makes sure of before the allocations that cannot fail softly:
/// the free list's queue slot (16) and a built-in policy's per-frame state at its peak while built, the largest
/// 102 (`adaptive+tinylfu`; `tests/build_out_of_memory.rs` measures every policy against this bound).
pub(crate) const BOOKKEEPING_BYTES_PER_FRAME: usize = 192;

/// Makes sure the allocator has room for the per-frame bookkeeping whose allocations abort rather than fail
/// (crossbeam's `ArrayQueue::new`, the built-in policies' vectors): a fallible allocation of their size, freed at
/// once, that the caller follows with theirs. Not a reservation: another thread of the process that allocates
/// in between can still take the room; what it rules out is a pool sized past what the process may have.
fn reserve_bookkeeping(frames: usize, builtin_policy: bool) -> std::result::Result<(), AllocFailed> {
    let per_frame = if builtin_policy {
        BOOKKEEPING_BYTES_PER_FRAME
    } else {
        16
    };
    let bytes = frames.checked_mul(per_frame).ok_or(AllocFailed)?;
    let mut room: Vec<u8> = Vec::new();
    room.try_reserve_exact(bytes).map_err(|_| AllocFailed)
}

/// A predicate the engine registers to protect pages from eviction (for example pages an open snapshot still
/// needs). Called with the page an eviction is about to take; `true` keeps it.
pub type EvictionVeto = dyn Fn(PageId) -> bool + Send + Sync;

thread_local! {
    /// A panic of the eviction veto caught on this thread, with the page it was asked about, waiting for the miss
    /// (or the background writer's round) that ran it to report it.
    static VETO_PANIC: std::cell::RefCell<Option<(PageId, Error)>> = const { std::cell::RefCell::new(None) };
}

/// The eviction veto's name in errors ([`Error::CallbackReentry`], [`Error::Panicked`]).
const VETO: &str = "eviction veto";

/// Takes the eviction veto's panic caught on this thread, if any. (`try_with`: a thread being torn down may run
/// pool calls from a thread-local's destructor after this one is destroyed; then none is kept, R12-2.)
fn take_veto_panic() -> Option<Error> {
    take_veto_panic_at().map(|(_, e)| e)
}

/// [`take_veto_panic`] with the page the veto panicked on: the background writer keeps the panic for that page's
/// file (R34-22).
pub(crate) fn take_veto_panic_at() -> Option<(PageId, Error)> {
    VETO_PANIC.try_with(|p| p.borrow_mut().take()).ok().flatten()
}

/// A count of one kind of the pool's own holds of frames ([`Core::loads_in_flight`], [`Core::io_holds`],
/// [`Core::frame_takers`]), and how many of them have ended, in one word: the holds now in its low 32 bits, the
/// ends so far (wrapping) in its high 32. A hold's end takes it off the count and counts the end in one atomic
/// add, so a miss that reads the count without a hold it met also reads that hold's end (`acquire_frame`, R32-1).
pub(crate) struct HoldCount(AtomicU64);

/// One end in a [`HoldCount`]'s high half.
const HOLD_ENDED: u64 = 1 << 32;

impl HoldCount {
    pub(crate) const fn new() -> HoldCount {
        HoldCount(AtomicU64::new(0))
    }

    fn begin(&self, n: u64) {
        self.0.fetch_add(n, AcqRel);
    }

    /// `n` holds end: off the count, one end counted (one add: the count is at least `n`, so no borrow).
    fn end(&self, n: u64) {
        self.0.fetch_add(HOLD_ENDED.wrapping_sub(n), AcqRel);
    }

    /// `n` holds that latched nothing end uncounted as ends (see [`Hold::cancel`]).
    fn cancel(&self, n: u64) {
        self.0.fetch_sub(n, AcqRel);
    }

    /// The word: [`HoldCount::holds`] and [`HoldCount::ends`] of it.
    fn read(&self) -> u64 {
        self.0.load(Acquire)
    }

    fn holds(word: u64) -> u64 {
        word & (HOLD_ENDED - 1)
    }

    fn ends(word: u64) -> u64 {
        word >> 32
    }
}

/// One of the pool's own holds of frames, counted while alive (frames latched for I/O, threads taking victims):
/// see [`HoldCount`].
pub(crate) struct Hold<'a> {
    count: &'a HoldCount,
    n: u64,
}

impl<'a> Hold<'a> {
    /// `n` frames latched by a write run, or one latched exclusively to discard its page or look at it (a
    /// sweep's, `free_page`'s, `expect_lsn`'s: [`BufferPool::try_latch_exclusive_held`]), or about to be: taken
    /// before the latch, so no moment of the latch goes uncounted.
    pub(crate) fn io(core: &'a Core, n: usize) -> Hold<'a> {
        Hold::new(&core.io_holds, n as u64)
    }

    /// Tries `latch` on one frame, counted as one of the pool's own I/O holds ([`Hold::io`]) from before it is
    /// tried: the hold comes back with the latch, to be dropped after the latch's release; a refused latch
    /// cancels it. What `try_latch_held` (a write run's shared latch) and `try_latch_exclusive_held` (a sweep's,
    /// `free_page`'s, `expect_lsn`'s) share.
    pub(crate) fn io_latch<L>(
        core: &'a Core,
        latch: impl FnOnce() -> std::result::Result<L, TryLatch>,
    ) -> std::result::Result<(L, Hold<'a>), TryLatch> {
        let held = Hold::io(core, 1);
        match latch() {
            Ok(frame) => Ok((frame, held)),
            Err(e) => {
                held.cancel();
                Err(e)
            }
        }
    }

    /// The calling thread is taking a frame (a victim, a free frame, a scan ring's own).
    pub(crate) fn taker(core: &'a Core) -> Hold<'a> {
        Hold::new(&core.frame_takers, 1)
    }

    fn new(count: &'a HoldCount, n: u64) -> Hold<'a> {
        count.begin(n);
        Hold { count, n }
    }

    /// Ends a hold that latched nothing (a latch it was taken for was refused): no frame came back, so its end is
    /// not counted as one (a miss waiting on frames held by guards is not kept waiting by it).
    pub(crate) fn cancel(self) {
        self.count.cancel(self.n);
        std::mem::forget(self);
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.count.end(self.n);
    }
}

/// Ends a [`BufferPool::taken`] count when dropped (`new_page`, whose exits are many).
struct EndTaken<'p>(&'p BufferPool);

impl Drop for EndTaken<'_> {
    fn drop(&mut self) {
        self.0.end_taken();
    }
}

/// An exclusive latch and its count as the pool's own hold ([`BufferPool::try_latch_exclusive_held`]).
type HeldExclusive<'p> = (ExclusiveFrame<'p>, Hold<'p>);

/// Takes a frame [`BufferPool::taken`] off the pool's own holds while its taker waits on a latch that a guard may
/// hold (`new_page` waiting for a stale copy), and counts it again when dropped.
struct OnGuard<'p>(&'p BufferPool);

impl<'p> OnGuard<'p> {
    fn new(pool: &'p BufferPool) -> OnGuard<'p> {
        pool.end_taken();
        OnGuard(pool)
    }
}

impl Drop for OnGuard<'_> {
    fn drop(&mut self) {
        self.0.core.loads_in_flight.begin(1);
    }
}

/// The error of a frame's last failed load, with the version it was recorded at and the page that failed.
type LoadErrorSlot = Mutex<Option<(u64, PageId, Error)>>;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Shared,
    Exclusive,
}

/// A frame latched by [`BufferPool::fix`] in the mode asked for.
pub(crate) enum Latched<'p> {
    Shared(SharedFrame<'p>),
    Exclusive(ExclusiveFrame<'p>),
}

impl<'p> Latched<'p> {
    /// The shared token of a `fix(.., Mode::Shared)`.
    #[inline]
    pub(crate) fn shared(self) -> SharedFrame<'p> {
        match self {
            Latched::Shared(frame) => frame,
            Latched::Exclusive(_) => unreachable!("fixed in shared mode"),
        }
    }

    /// The exclusive token of a `fix(.., Mode::Exclusive)`.
    #[inline]
    pub(crate) fn exclusive(self) -> ExclusiveFrame<'p> {
        match self {
            Latched::Exclusive(frame) => frame,
            Latched::Shared(_) => unreachable!("fixed in exclusive mode"),
        }
    }

    /// Releases the latch, taken only to look: nothing changed.
    #[inline]
    pub(crate) fn release_unchanged(self) {
        match self {
            Latched::Shared(frame) => frame.release(),
            Latched::Exclusive(frame) => frame.release_unchanged(),
        }
    }
}

/// What a finished load leaves on its frame: the latch its caller asked for, or none (batches, prefetch).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterLoad {
    Shared,
    Exclusive,
    Unlatched,
}

impl From<Mode> for AfterLoad {
    fn from(mode: Mode) -> AfterLoad {
        match mode {
            Mode::Shared => AfterLoad::Shared,
            Mode::Exclusive => AfterLoad::Exclusive,
        }
    }
}

/// Which storage backend [`BufferPool::open_file`] uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum IoBackend {
    /// io_uring where the kernel allows it (probed once per process), `pread`/`pwrite` otherwise. The default.
    #[default]
    Auto,
    /// Always `pread`/`pwrite` ([`FileStorage`]).
    Pread,
    /// Always io_uring ([`crate::storage::UringStorage`]); opening fails where it is unavailable.
    Uring,
}

/// Configures and builds a [`BufferPool`].
pub struct Builder {
    frames: usize,
    page_size: usize,
    policy: PolicyConfig,
    /// A caller's policy (`Builder::custom_policy`), used instead of `policy` when set.
    custom_policy: Option<Box<dyn Policy>>,
    wal: Arc<dyn Wal>,
    open_mode: OpenMode,
    veto: Option<Box<EvictionVeto>>,
    snapshots: Option<SnapshotTracker>,
    latch_times: bool,
    clean_write_guards: bool,
    io_threads: usize,
    writer: Option<WriterConfig>,
    io_backend: IoBackend,
    io_spin: std::time::Duration,
    frame_wait: std::time::Duration,
    strict_fresh: bool,
    failed_file_frames: Option<usize>,
    slow_io: std::time::Duration,
    stale_check_pages: Option<usize>,
}

/// [`Builder::frames`]'s default.
pub(crate) const FRAMES_DEFAULT: usize = 1024;

impl Default for Builder {
    fn default() -> Self {
        Builder {
            frames: FRAMES_DEFAULT,
            page_size: PageSize::DEFAULT.bytes(),
            policy: PolicyConfig::default(),
            custom_policy: None,
            wal: Arc::new(NoWal),
            open_mode: OpenMode::default(),
            veto: None,
            snapshots: None,
            latch_times: false,
            clean_write_guards: false,
            io_threads: 1,
            writer: None,
            io_backend: IoBackend::default(),
            io_spin: std::time::Duration::ZERO,
            frame_wait: std::time::Duration::ZERO,
            strict_fresh: true,
            failed_file_frames: None,
            slow_io: crate::latency::SLOW_IO_DEFAULT,
            stale_check_pages: None,
        }
    }
}

impl Builder {
    /// Strict mode for all-zero pages (default on): in a file with a record, an all-zero page below the record's
    /// written mark (every page below it was written and synced by a checkpoint) is refused as
    /// [`crate::CorruptReason::LostWrite`] instead of read as a page never written. Files without a record
    /// (unbound: a storage that keeps none, or a non-empty file opened without its `.bpmeta` sidecar) are never
    /// strict. Off: such pages read as zeroes, as before (still counted in [`Stats::fresh_reads`]).
    pub fn strict_fresh(mut self, on: bool) -> Self {
        self.strict_fresh = on;
        self
    }

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

    /// The replacement policy, optionally with an admission filter: a [`crate::PolicyKind`] or a
    /// [`crate::policy::PolicyConfig`] (`PolicyKind::Lru.with_admission(Admission::TinyLfu)`). Default S3-FIFO.
    ///
    /// Replaces a policy given earlier with [`Builder::custom_policy`] (the last call wins).
    pub fn policy(mut self, policy: impl Into<PolicyConfig>) -> Self {
        self.policy = policy.into();
        self.custom_policy = None;
        self
    }

    /// Runs the pool with a policy object: a built-in with non-default parameters (`LruK::with_params`,
    /// `TwoQ::with_params`, `WTinyLfu::with_window`, `TinyLfuAdmission::with_probation_floor`, ... in
    /// [`crate::policy`]) or the caller's own implementation of [`Policy`], which must keep the contract in
    /// [`crate::policy`]'s docs ("Implementing a policy"). It must be built for at least the pool's frame count
    /// ([`Builder::frames`]): the pool hands it frame indices `0..frames`; [`Builder::build`] refuses one whose
    /// [`Policy::frames`] says it was made for fewer. Replaces a [`Builder::policy`] given earlier (the last call
    /// wins).
    pub fn custom_policy(mut self, policy: Box<dyn Policy>) -> Self {
        self.custom_policy = Some(policy);
        self
    }

    /// The default write-ahead log: no page of a file opened without its own log ([`FileOptions::wal`]) is
    /// written before `wal.flush_to(page_lsn)` returned. Files opened with their own log never ask this one.
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
    /// it short and never call into the pool from it (a read of its candidate, a miss, or a read that would wait
    /// for a latch another thread holds returns [`Error::CallbackReentry`]; a hit on another page that no thread
    /// holds latched is served).
    pub fn eviction_veto(mut self, veto: impl Fn(PageId) -> bool + Send + Sync + 'static) -> Self {
        self.veto = Some(Box::new(veto));
        self
    }

    /// Protects the pages open MVCC snapshots need: while a snapshot of `tracker` is open, a page whose LSN is at
    /// or above the oldest open snapshot's is not evicted (counted in [`Stats::snapshot_skips`]). A miss that finds
    /// every unlatched frame protected fails at once with [`Error::AllProtected`]. See [`SnapshotTracker`].
    pub fn snapshots(mut self, tracker: SnapshotTracker) -> Self {
        self.snapshots = Some(tracker);
        self
    }

    /// The storage backend for files opened by path. Default [`IoBackend::Auto`]; [`Stats::files`] says which
    /// backend each file got.
    pub fn io_backend(mut self, backend: IoBackend) -> Self {
        self.io_backend = backend;
        self
    }

    /// How long a thread waiting for its own reads or writes on an io_uring file polls for them before sleeping
    /// in the kernel (default zero: it sleeps at once; ignored for `pread` files). On a VM whose idle vCPUs halt,
    /// a sleeping thread's wake-up is a trip through the hypervisor, a large part of a fast device's read; polling
    /// for less than the device's median read (50 us on the machine this was measured on: 1-22% more single-key
    /// lookups out of memory at 1 thread, as often a loss as a gain at 2 threads on 2 cores) avoids it at the
    /// price of a core kept busy while the thread waits. A longer spin lost throughput once the waiting threads
    /// filled the cores. See
    /// [`crate::storage::UringStorage::with_completion_spin`].
    pub fn io_spin(mut self, spin: std::time::Duration) -> Self {
        self.io_spin = spin;
        self
    }

    /// Threads that complete [`BufferPool::prefetch`] reads (default 1; with the io_uring backend one thread keeps
    /// a whole batch in flight, with pread each thread keeps one). 0: `prefetch` reads synchronously. At most
    /// [`IO_THREADS_MAX`]: [`Builder::build`] refuses more.
    pub fn io_threads(mut self, n: usize) -> Self {
        self.io_threads = n;
        self
    }

    /// How long a miss (or `new_page`) that finds every frame latched by guards waits for one to be released
    /// before returning [`Error::PoolExhausted`]. Default zero: report it at once, so a thread that holds the
    /// guards itself learns it immediately. Frames held only by the pool's own I/O (loads, write runs) are always
    /// waited for, up to a second, whatever this says. A thread waiting here holds its other guards meanwhile. A
    /// miss from one of your callbacks that holds frames (a `Storage` or `Wal` reading a page not resident) waits
    /// at most a second too, whatever this says: other threads' callbacks may hold the frames while they wait for
    /// its own.
    pub fn frame_wait(mut self, wait: std::time::Duration) -> Self {
        self.frame_wait = wait;
        self
    }

    /// The most frames a failed file's unwritable pages may keep once other pages need frames (default: a quarter
    /// of the pool). A file fails when a write or fsync of it fails in a way that cannot be retried (EIO, a failed
    /// fsync, a read-only filesystem); its dirty pages, and pages written since its last good sync, can then be
    /// neither written nor evicted without losing them. Up to this many stay cached, so that an engine can read
    /// them out; beyond it, misses on other pages take them as victims and drop them (counted in
    /// [`Stats::failed_pages_dropped`](crate::Stats::failed_pages_dropped)), and a later read of a dropped page
    /// returns the file's [`Error::FileFailed`] rather than the older version on disk. Without the bound one
    /// failed file could pin the whole pool and every other file would get [`Error::PoolExhausted`]. Set it to
    /// [`Builder::frames`]'s value to keep every such page (and risk that); the way out either way is to read
    /// out what is needed, [`BufferPool::drop_file`], and recover the file from the log (RELIABILITY.md, "Real
    /// faults").
    pub fn failed_file_frames(mut self, frames: usize) -> Self {
        self.failed_file_frames = Some(frames);
        self
    }

    /// The most pages of each open file whose LSN the run-time stale-write check keeps (R21-11, R22-10, R23-10 in
    /// RELIABILITY.md): the LSN each page had when the pool last wrote it, or that an engine expects it at
    /// ([`BufferPool::expect_lsn`]), which a later load of the page must read back at least (a page read older is
    /// a write the device dropped: [`Error::Corrupt`] `{ reason: StaleWrite }`). Default: eight pages a frame, at
    /// least 2^20 pages. The table costs 8 bytes a page kept, in chunks of 64 consecutive pages (512 bytes) made at
    /// the first write of one of their pages, plus its map's room (under 2 bytes a page): a sparse file costs what
    /// it wrote, by chunks, and a dense one at most about `pages * 10` bytes ([`FileStats::written_lsn_bytes`](crate::FileStats::written_lsn_bytes)).
    /// Beyond it, the chunk not written since a clock hand last passed it is forgotten, counted in
    /// [`Stats::written_lsns_dropped`]: a dropped write of one of its pages is then read as valid, and
    /// [`BufferPool::written_lsns`] no longer lists the page, so an engine's checkpoint notes leave it out (the
    /// B+tree's: `bufpool_btree`'s `Tree::checkpoint`). 0 turns the check off: nothing is kept or counted, no
    /// dropped write is caught at run time, and `written_lsns` lists nothing. Rounded up to whole chunks;
    /// [`Builder::build`] refuses 1 to 63 (less than a chunk) and more than 2^32 (more pages than a file has)
    /// with [`Error::InvalidConfig`].
    pub fn stale_check_pages(mut self, pages: usize) -> Self {
        self.stale_check_pages = Some(pages);
        self
    }

    /// A [`WriteGuard`] whose bytes are never changed (no mutable access, no [`WriteGuard::set_lsn`]) leaves its
    /// page clean, so inspecting a page under an exclusive latch costs no write-back. Off by default: then taking
    /// a write guard marks the page dirty at once, as it always did, which code written against that contract
    /// relies on (the outside review's test of a failed `close_file`, `tests/review_findings.rs`, takes a write
    /// guard to dirty a page without touching its bytes); [`BufferPool::write_clean`] takes a clean guard for one
    /// call whatever this says. With it on, a page becomes dirty at its guard's first
    /// change; checkpoints and flushes still cover every change made under a guard held when they start (they
    /// wait for exclusively latched pages). [`BufferPool::new_page`] pages are dirty from the start either way.
    pub fn clean_write_guards(mut self, on: bool) -> Self {
        self.clean_write_guards = on;
        self
    }

    /// Records when each guard's latch began, so that [`BufferPool::held_latches`] can say how long each latch
    /// has been held ([`crate::HeldLatch::held_for`]). Off by default: it reads a coarse clock for every guard
    /// that begins a latch (a `read` hit took 137 instructions instead of 106 under callgrind, BENCHMARKS.md), as
    /// PostgreSQL leaves `track_io_timing` off for its clock reads. Without it `held_latches` still lists every latch, its page,
    /// mode and holders (and, in debug builds, where its guard was taken).
    pub fn latch_times(mut self, on: bool) -> Self {
        self.latch_times = on;
        self
    }

    /// The slow-I/O threshold: a storage call (a page read, a run's write, a sync, a batch) that takes at least
    /// this long is reported as a `slow io` event (feature `tracing`, module `trace`). Default 100 ms. Every
    /// storage call is timed whatever this says, for [`Stats::read_latency`], [`Stats::write_latency`] and
    /// [`Stats::sync_latency`]; hits are never timed. Set it from the device's latency: a few times its p99 (say
    /// 10 ms on an NVMe drive, 200 ms on a network volume) reports stalls without reporting the ordinary tail.
    pub fn slow_io(mut self, threshold: std::time::Duration) -> Self {
        self.slow_io = threshold;
        self
    }

    /// Applies a [`Preset`]'s settings (policy, background writer, I/O backend and threads; the table on
    /// [`Preset`] gives the figure behind each). Call it after [`Builder::frames`] (the writer's free-frame target
    /// is a fraction of the frames) and before the settings you want to override.
    pub fn preset(mut self, preset: Preset) -> Self {
        self.writer = preset.background_writer(self.frames);
        preset.apply(self)
    }

    /// Starts a background writer with these settings (see [`WriterConfig`]); off by default. [`Builder::build`]
    /// refuses invalid settings ([`WriterConfig::validate`]).
    pub fn background_writer(mut self, config: WriterConfig) -> Self {
        self.writer = Some(config);
        self
    }

    /// Allocates the frames and builds the pool.
    ///
    /// Errors, each before anything is allocated or started unless said otherwise (no setting panics or aborts):
    /// - [`Error::InvalidConfig`] for a frame count of 0 or above `u32::MAX - 1` (`usize::MAX` included);
    /// - [`Error::InvalidConfig`] for a page size that is not a power of two from 4 KiB to 64 KiB (0, below the
    ///   page header, `usize::MAX`);
    /// - [`Error::InvalidConfig`] for frames whose bytes overflow the address space (`frames * page_size` over
    ///   `isize::MAX / 2`);
    /// - [`Error::InvalidConfig`] for a background writer that cannot work in this pool
    ///   ([`WriterConfig::validate`]: a zero interval or batch, a dirty ratio outside `0.0..=1.0`, more free
    ///   frames wanted than the pool has, as when [`Builder::preset`] came before a smaller [`Builder::frames`]);
    /// - [`Error::InvalidConfig`] for a [`Builder::custom_policy`] made for fewer frames than the pool has;
    /// - [`Error::InvalidConfig`] for a [`Builder::stale_check_pages`] of 1 to 63 or above 2^32;
    /// - [`Error::InvalidConfig`] for more [`Builder::io_threads`] than [`IO_THREADS_MAX`] (before, every one was
    ///   spawned until the system refused one: R34-3);
    /// - [`Error::OutOfMemory`] when the process cannot allocate the frames (their memory, or their bookkeeping),
    ///   having freed what it took;
    /// - [`Error::InvalidConfig`] when a pool thread (an I/O worker, the writer) cannot be started, after the
    ///   frames were allocated (they are freed).
    ///
    /// Settings that need no check: a pool of one frame works (batches and prefetch reserve at most a quarter of
    /// the pool, at least one frame); [`Builder::failed_file_frames`] above the frame count keeps every failed
    /// page; a writer's [`WriterConfig::batch_pages`] above it handles every frame a round (R18-23); durations up to `Duration::MAX` ([`Builder::frame_wait`], [`Builder::io_spin`],
    /// [`Builder::slow_io`], [`WriterConfig::interval`]) overflow no deadline. There is no memory limit setting:
    /// the pool's memory is `frames * page_size` plus its bookkeeping, and `frames` is the limit.
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
        if self.io_threads > IO_THREADS_MAX {
            return Err(Error::InvalidConfig(format!(
                "io_threads must be at most {IO_THREADS_MAX}, got {}",
                self.io_threads
            )));
        }
        if let Some(pages) = self.stale_check_pages {
            if !crate::written::valid_pages(pages) {
                let (min, max) = (crate::written::CHUNK_PAGES, crate::written::PAGES_MAX);
                return Err(Error::InvalidConfig(format!(
                    "stale_check_pages must be 0 (off) or in {min}..={max}, got {pages}"
                )));
            }
        }
        if let Some(writer) = &self.writer {
            writer.validate(self.frames)?;
        }
        // A policy object runs under the pool's panic wrapper (R19-20): its panics are caught, as the storage's.
        let custom_policy = self.custom_policy.map(|p| CaughtPolicy::new(p, self.frames));
        if let Some(policy) = &custom_policy {
            if let Some(made_for) = policy.made_for()?.filter(|&n| n < self.frames) {
                return Err(Error::InvalidConfig(format!(
                    "the custom policy {} was made for {made_for} frames, fewer than the pool's {}",
                    policy.name(),
                    self.frames
                )));
            }
        }
        // Every per-frame allocation fails softly (R13-O1): those behind APIs that abort (the policy's vectors,
        // the free list's queue) come first, right after a fallible reservation of their room; then the frame
        // memory, headers, page table and load-error slots, each fallible. A failure frees what was taken.
        let out_of_memory = |_| Error::OutOfMemory {
            frames: self.frames,
            bytes: self.frames * page_size.bytes(),
        };
        reserve_bookkeeping(self.frames, custom_policy.is_none()).map_err(out_of_memory)?;
        let policy = match custom_policy {
            Some(policy) => PoolPolicy::Dyn(Box::new(policy)),
            None => PoolPolicy::build(self.policy, self.frames),
        };
        let frames = Frames::try_new(self.frames, page_size.bytes()).map_err(out_of_memory)?;
        let mut load_errors = Vec::new();
        load_errors
            .try_reserve_exact(self.frames)
            .map_err(|_| out_of_memory(AllocFailed))?;
        load_errors.extend((0..self.frames).map(|_| Mutex::new(None)));
        let core = Arc::new(Core {
            page_size,
            frames,
            load_errors: load_errors.into_boxed_slice(),
            policy,
            wal: self.wal,
            files: Files::new(
                page_size.bytes(),
                self.strict_fresh,
                self.slow_io,
                self.stale_check_pages
                    .unwrap_or_else(|| crate::written::default_pages(self.frames)),
            ),
            counters: Counters::new(),
            open_mode: self.open_mode,
            io_backend: self.io_backend,
            io_spin: self.io_spin,
            veto: self.veto,
            snapshots: self.snapshots,
            latch_times: self.latch_times,
            clean_write_guards: self.clean_write_guards,
            dirty_pages: AtomicUsize::new(0),
            loads_in_flight: HoldCount::new(),
            prefetches_in_flight: AtomicUsize::new(0),
            io_holds: HoldCount::new(),
            frame_takers: HoldCount::new(),
            frame_wait: self.frame_wait,
            failed_file_frames: self.failed_file_frames.unwrap_or(self.frames / 4),
            background_error: Mutex::new(None),
        });
        let writer = self.writer;
        let io_threads = self.io_threads;
        BufferPool::start_background(core, io_threads, writer)
    }
}

/// A fixed set of page frames shared by many threads, caching pages of many files.
///
/// `Send + Sync`: share it by reference or in an `Arc`. See the crate docs for the model and an example.
pub struct BufferPool {
    pub(crate) core: Arc<Core>,
    /// The pool's threads; `None` in the handles those threads use themselves.
    pub(crate) background: Option<Background>,
}

/// The threads a pool owns: I/O workers (prefetch) and the background writer. Dropping the senders stops them.
pub(crate) struct Background {
    pub(crate) prefetch_tx: crossbeam_channel::Sender<Vec<PendingLoad>>,
    stop_tx: Option<crossbeam_channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

// The contract: threads share one pool by reference or `Arc`.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BufferPool>();
};

/// The pool's state, shared with its background workers.
pub(crate) struct Core {
    pub(crate) page_size: PageSize,
    /// The frame array: headers, page bytes, page table, free list (`frames.rs`).
    pub(crate) frames: Frames,
    /// Per frame: the error of the last failed load and the version it was recorded at (cold; see `fix`).
    pub(crate) load_errors: Box<[LoadErrorSlot]>,
    pub(crate) policy: PoolPolicy,
    pub(crate) wal: Arc<dyn Wal>,
    pub(crate) files: Files,
    pub(crate) counters: Counters,
    pub(crate) open_mode: OpenMode,
    pub(crate) io_backend: IoBackend,
    /// How long an io_uring call polls before sleeping (`Builder::io_spin`).
    pub(crate) io_spin: std::time::Duration,
    pub(crate) veto: Option<Box<EvictionVeto>>,
    /// Open MVCC snapshots whose pages eviction leaves resident (`Builder::snapshots`; `snapshot.rs`).
    pub(crate) snapshots: Option<SnapshotTracker>,
    /// Guards record when their latch began (`Builder::latch_times`; `latches.rs`).
    pub(crate) latch_times: bool,
    /// A write guard marks its page dirty at its first change, not when taken (`Builder::clean_write_guards`).
    pub(crate) clean_write_guards: bool,
    /// Frames whose dirty flag is set (maintained by `mark_dirty` / `mark_clean`).
    pub(crate) dirty_pages: AtomicUsize,
    /// Frames taken for a page and not yet released or handed to a caller's latch: from `acquire_frame`'s return
    /// (counted before its taker's hold ends) through a load's read to `finish_load`'s release (or `new_page`'s
    /// guard, a failed reservation's release), but for `new_page`'s wait on a guard of a stale copy (`OnGuard`).
    /// A miss that finds every frame latched waits for these rather than failing, since they come back by
    /// themselves. Ended by [`BufferPool::end_taken`].
    pub(crate) loads_in_flight: HoldCount,
    /// Of those, loads started by `prefetch` (bounded to a quarter of the pool, whatever the number of callers).
    pub(crate) prefetches_in_flight: AtomicUsize,
    /// Frames latched by the pool's own write runs (flush, checkpoint, eviction, the background writer): a flush's
    /// or checkpoint's from before each latch to after its release (`writer.rs`, `try_latch_held`), every run's
    /// while its write is in flight (`write_run`); and a frame latched exclusively by a `close_file`/`drop_file`
    /// sweep, `free_page` or `expect_lsn` to discard or look at its page (R33-1). Like loads, they come back by
    /// themselves.
    pub(crate) io_holds: HoldCount,
    /// Threads inside `acquire_frame` (or the writer's refill), which may hold a victim latched for a moment.
    pub(crate) frame_takers: HoldCount,
    /// How long a miss waits for a frame held by guards before [`Error::PoolExhausted`] (`Builder::frame_wait`).
    pub(crate) frame_wait: std::time::Duration,
    /// The most frames a failed file's unwritable pages keep when others need frames (`Builder::failed_file_frames`).
    pub(crate) failed_file_frames: usize,
    /// The first error the background writer hit since a caller last saw one, with the file of the page whose
    /// write met it (a WAL error names no file itself).
    pub(crate) background_error: Mutex<Option<(FileId, Error)>>,
}

impl BufferPool {
    /// Wraps `core` and starts its threads.
    fn start_background(core: Arc<Core>, io_threads: usize, writer: Option<WriterConfig>) -> Result<BufferPool> {
        let (prefetch_tx, prefetch_rx) = crossbeam_channel::bounded::<Vec<PendingLoad>>(PREFETCH_QUEUE_MAX);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let mut pool = BufferPool {
            core,
            background: Some(Background {
                prefetch_tx,
                stop_tx: Some(stop_tx),
                threads: Vec::new(),
            }),
        };
        // A spawn refused after others succeeded returns here with `pool`, whose drop closes both channels and
        // joins every thread already started: a failed build leaves no thread and no memory behind (checked by
        // `tests::a_refused_spawn_leaves_no_thread_behind`).
        let spawn_error = |e: std::io::Error| Error::InvalidConfig(format!("cannot start a pool thread: {e}"));
        for n in 0..io_threads {
            #[cfg(test)]
            tests::refuse_spawn(n, &pool.core).map_err(spawn_error)?;
            let handle = pool.handle();
            let rx = prefetch_rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("bufpool-io-{n}"))
                .spawn(move || {
                    for mut batch in rx.iter() {
                        // Batches queued meanwhile (a scan's one-leaf readaheads, several callers' prefetches)
                        // join this one: one submission, all their reads in flight together instead of one
                        // batch's reads at a time.
                        while batch.len() < crate::BATCH_PAGES_MAX {
                            match rx.try_recv() {
                                Ok(more) => batch.extend(more),
                                Err(_) => break,
                            }
                        }
                        handle.run_prefetch(batch);
                    }
                })
                .map_err(spawn_error)?;
            pool.background.as_mut().expect("set above").threads.push(t);
        }
        if let Some(config) = writer {
            #[cfg(test)]
            tests::refuse_spawn(io_threads, &pool.core).map_err(spawn_error)?;
            let handle = pool.handle();
            let t = std::thread::Builder::new()
                .name("bufpool-writer".into())
                .spawn(move || handle.writer_loop(&config, &stop_rx))
                .map_err(spawn_error)?;
            pool.background.as_mut().expect("set above").threads.push(t);
        }
        Ok(pool)
    }

    /// A handle on the same pool for its own threads (owns no threads itself).
    fn handle(&self) -> BufferPool {
        BufferPool {
            core: self.core.clone(),
            background: None,
        }
    }

    /// A builder with the defaults: 1024 frames of 4 KiB, S3-FIFO, no WAL.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use bufpool::{BufferPool, Lsn, Preset, Wal};
    ///
    /// /// The engine's log, as the pool sees it: make it durable up to an LSN before a page with that LSN is written.
    /// struct Log { durable: AtomicU64 }
    /// impl Wal for Log {
    ///     fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
    ///         self.durable.fetch_max(lsn, Ordering::SeqCst); // a real log writes and fsyncs here
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # fn main() -> bufpool::Result<()> {
    /// let log = Arc::new(Log { durable: AtomicU64::new(0) });
    /// let pool = BufferPool::builder()
    ///     .frames(4096) // 16 MiB of 4 KiB pages, allocated here, once
    ///     .preset(Preset::Oltp) // policy, background writer and I/O for point reads and writes
    ///     .wal(log.clone())
    ///     .build()?;
    /// let file = pool.open_storage(bufpool::MemoryStorage::new())?;
    /// let mut page = pool.new_page(file)?;
    /// page.set_lsn(42);
    /// drop(page);
    /// pool.checkpoint()?;
    /// assert!(log.durable.load(Ordering::SeqCst) >= 42); // the write-ahead rule
    /// # Ok(()) }
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> usize {
        self.core.page_size.bytes()
    }

    /// Bytes of each page that belong to the caller (the page minus the pool's header).
    pub fn user_bytes(&self) -> usize {
        self.core.page_size.user_bytes()
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.core.frames.len()
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &'static str {
        self.core.policy.name()
    }

    #[inline]
    pub(crate) fn header(&self, idx: FrameIdx) -> &FrameHeader {
        self.core.frames.header(idx)
    }

    #[inline]
    pub(crate) fn memory(&self) -> &FrameMemory {
        self.core.frames.memory()
    }

    // ---------------------------------------------------------------------------------------------------------
    // Files

    /// Opens or creates the data file at `path` under a fresh id. O_DIRECT is used where the filesystem allows it
    /// (see [`Builder::open_mode`]); [`Stats::files`] says which.
    ///
    /// Errors: [`Error::Open`] (the OS refused: no such directory, permissions); [`Error::FileLocked`] (another
    /// pool or process has the file open); [`Error::FileAlreadyOpen`] (this pool has it open, under the id named);
    /// [`Error::NotARegularFile`]; [`Error::PageSizeMismatch`] (written by a pool of another page size);
    /// [`Error::BadFileRecord`] (its `.bpmeta` sidecar is damaged); [`Error::OpenIo`] reading its size or record.
    /// Each names `path` ([`Error::path`]); none names a file id but the one asked for ([`FileOptions::id`]): a
    /// refused file has none of its own.
    pub fn open_file(&self, path: impl AsRef<Path>) -> Result<FileId> {
        self.open_file_with(path, FileOptions::new())
    }

    /// Opens or creates the data file at `path` under the engine's own persistent `id`. Refused if `id` is open.
    pub fn open_file_as(&self, id: FileId, path: impl AsRef<Path>) -> Result<FileId> {
        self.open_file_with(path, FileOptions::new().id(id))
    }

    /// Opens or creates the data file at `path` with per-file settings: the engine's own id (refused with
    /// [`Error::FileIdInUse`] if an open file or another open in progress has it, and with [`Error::InvalidConfig`]
    /// if it is above [`FileId::MAX`], in every case before the file is created; the id of a file just closed or
    /// dropped is taken once the calls still running on that file have returned, see [`FileOptions::id`]; from
    /// then until this call returns no other open takes the id) and the file's own log,
    /// asked before any page of this file is written and never for another file's pages. Engines sharing one pool each open their files with their
    /// own log (see [`FileOptions`]).
    pub fn open_file_with(&self, path: impl AsRef<Path>, options: FileOptions) -> Result<FileId> {
        // The id is taken before the path is opened (and maybe created), and kept until the file is registered:
        // a refusal for the id comes before anything exists (R38-4, R39-10).
        let reserved = options.id.map(|id| self.core.files.reserve_id(id)).transpose()?;
        self.open_path(options, path.as_ref(), reserved.as_ref())
    }

    /// Opens the data file at `path` and locks it: the file the name leads to once the lock is held. A file
    /// opened, then replaced under its name (renamed over, or deleted and made anew) while another opener held it
    /// and the lock was waited for, is locked once that opener lets it go, and no name leads to it: the name is
    /// opened again, and after [`OPEN_LOCKED_TRIES`] files replaced under it the open is refused (`FileLocked`).
    /// Until this check such an open returned the replaced file, its pages served as the path's, its first sync
    /// refused (`DataFileUnlinked`), and beside a holder that had opened the new file two pools had the path's
    /// file open (R46-1 in RELIABILITY.md; R45-3 for a tree's log).
    fn open_path(&self, options: FileOptions, path: &Path, reserved: Option<&IdReservation<'_>>) -> Result<FileId> {
        let mode = self.core.open_mode;
        for _ in 0..OPEN_LOCKED_TRIES {
            let storage: std::io::Result<Box<dyn Storage>> = match self.core.io_backend {
                IoBackend::Pread => FileStorage::open(path, mode).map(|s| Box::new(s) as Box<dyn Storage>),
                IoBackend::Uring => self.open_uring(path, mode),
                IoBackend::Auto if uring_available() => self.open_uring(path, mode),
                IoBackend::Auto => FileStorage::open(path, mode).map(|s| Box::new(s) as Box<dyn Storage>),
            };
            let storage = storage.map_err(|e| self.open_error(path, None, e))?;
            // The opened file's identity, not the path's: the path may name another file by now (R42-2).
            let ident = storage.identity();
            self.lock_storage(ident, &*storage)
                .map_err(|e| self.open_error(path, ident, e))?;
            // Through the name's links, as the open went. A file backend always has an identity.
            let named =
                ident.is_none_or(|ident| std::fs::metadata(path).is_ok_and(|now| (now.dev(), now.ino()) == ident));
            if named {
                return self.register_file(options, storage, Some(path.to_path_buf()), reserved);
            }
            // Dropped: its lock and descriptors go with it.
        }
        Err(Error::FileLocked {
            path: path.to_path_buf(),
        })
    }

    fn open_uring(&self, path: &Path, mode: OpenMode) -> std::io::Result<Box<dyn Storage>> {
        let storage = UringStorage::open(path, mode)?.with_completion_spin(self.core.io_spin);
        Ok(Box::new(storage))
    }

    /// Registers an opened storage with `options`, the builder's WAL standing in for a file without its own;
    /// `reserved`: the id an open by path took before it opened the path ([`Files::reserve_id`]).
    fn register_file(
        &self,
        options: FileOptions,
        storage: Box<dyn Storage>,
        path: Option<PathBuf>,
        reserved: Option<&IdReservation<'_>>,
    ) -> Result<FileId> {
        let wal = options.wal.unwrap_or_else(|| self.core.wal.clone());
        let how = OpenAs {
            id: options.id,
            wal,
            doublewrite: options.doublewrite,
        };
        self.core
            .files
            .register(how, reserved, storage, path, &self.core.counters)
    }

    /// Takes the data file's lock. A lock held by another opener is waited for up to [`LOCK_WAIT_MAX`] before
    /// it is reported (`WouldBlock`): a process killed while it had io_uring requests in flight keeps its file
    /// (and so its `flock`) until the kernel has torn its rings down, a few milliseconds after the process is
    /// gone, and a restart right after a crash must not fail on that. A file this pool has open is refused at
    /// once: `ident` is the opened storage's identity ([`Storage::identity`]), never what its path names at the
    /// check, which a rename may have changed since the open (R42-2 in RELIABILITY.md).
    fn lock_storage(&self, ident: Option<(u64, u64)>, storage: &dyn Storage) -> std::io::Result<()> {
        self.lock_waiting(storage, || self.open_as(ident).is_some())
    }

    /// The file this pool has open whose data file is `ident` (device, inode), if any: how a refused lock tells
    /// this pool's own open of the file from another opener's.
    fn open_as(&self, ident: Option<(u64, u64)>) -> Option<FileId> {
        ident.and_then(|i| self.core.files.open_as(i))
    }

    /// [`Storage::try_lock`], a lock held by another opener waited for up to [`LOCK_WAIT_MAX`] unless `ours()`
    /// says this pool is the holder (refused at once).
    fn lock_waiting(&self, storage: &dyn Storage, ours: impl Fn() -> bool) -> std::io::Result<()> {
        let start = std::time::Instant::now();
        loop {
            match storage.try_lock() {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if ours() || start.elapsed() >= LOCK_WAIT_MAX {
                        return Err(e);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                other => return other,
            }
        }
    }

    /// The typed error for a failed open of `path`: already open in this pool, locked by another opener, not a
    /// regular file, or the OS error. `ident`: the opened storage's identity, for a refused lock.
    fn open_error(&self, path: &Path, ident: Option<(u64, u64)>, e: std::io::Error) -> Error {
        match e.kind() {
            std::io::ErrorKind::WouldBlock => match self.open_as(ident) {
                Some(file) => Error::FileAlreadyOpen {
                    path: Some(path.to_path_buf()),
                    file,
                },
                None => Error::FileLocked {
                    path: path.to_path_buf(),
                },
            },
            std::io::ErrorKind::Unsupported if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => {
                Error::NotARegularFile {
                    path: path.to_path_buf(),
                    kind: std::fs::metadata(path).map_or("special file", |m| crate::storage::file_kind(&m)),
                }
            }
            _ => Error::Open {
                path: path.to_path_buf(),
                source: Arc::new(e),
            },
        }
    }

    /// Serves pages from any [`Storage`] (in-memory, fault-injecting, ...) under a fresh id.
    pub fn open_storage(&self, storage: impl Storage) -> Result<FileId> {
        self.open_storage_with(storage, FileOptions::new())
    }

    /// Serves pages from any [`Storage`] under the engine's own `id`.
    pub fn open_storage_as(&self, id: FileId, storage: impl Storage) -> Result<FileId> {
        self.open_storage_with(storage, FileOptions::new().id(id))
    }

    /// Serves pages from any [`Storage`] with per-file settings (id, own log), as
    /// [`BufferPool::open_file_with`].
    ///
    /// A storage over a data file ([`FileStorage`], [`UringStorage`], or one that forwards [`Storage::try_lock`]
    /// to them) is locked as an open by path is, before anything is read: [`Error::FileLocked`] (path "the
    /// storage") while another pool or process has the file open, [`Error::FileAlreadyOpen`] while this pool has
    /// it (R40-10 in RELIABILITY.md: it was registered unlocked, and two pools wrote one file). One storage shared
    /// through an `Arc` is locked for one opener at a time: another pool's open of it is `FileLocked` until this
    /// pool closes or drops the file (R41-3: `flock` granted the lock again through the one descriptor).
    pub fn open_storage_with(&self, storage: impl Storage, options: FileOptions) -> Result<FileId> {
        // The id first, as an open by path takes it (R18-O1: no refusal for the lock names a file open under it),
        // and kept through the wait for the lock.
        let reserved = options.id.map(|id| self.core.files.reserve_id(id)).transpose()?;
        // The caller's storage is called under the pool's panic wrapper, as `register` calls it (R18-O2).
        let locked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ident = storage.identity();
            self.lock_waiting(&storage, || self.open_as(ident).is_some())
                .map_err(|e| match (e.kind(), self.open_as(ident)) {
                    (std::io::ErrorKind::WouldBlock, Some(file)) => Error::FileAlreadyOpen { path: None, file },
                    (std::io::ErrorKind::WouldBlock, None) => Error::FileLocked {
                        path: PathBuf::from("the storage"),
                    },
                    _ => Error::OpenIo {
                        path: None,
                        file: options.id,
                        op: "lock",
                        source: Arc::new(e),
                    },
                })
        }));
        locked.unwrap_or_else(|payload| Err(Error::panicked("Storage (opening the file)", payload)))?;
        // Locked: held so that the lock is given back when the file is closed or dropped, or the open refused
        // (R41-3: a storage shared through an `Arc` is locked for one opener at a time).
        self.register_file(options, Box::new(Opened::new(storage)), None, reserved.as_ref())
    }

    /// Pages allocated in `file`: page numbers `0..file_pages` exist. At open, the file's length in pages, or its
    /// written mark if that is higher (pages a checkpoint made durable that the file lost: their reads fail).
    pub fn file_pages(&self, file: FileId) -> Result<u32> {
        Ok(self.core.files.get(file)?.pages.load(Acquire))
    }

    /// The identity this open of `file` stamps into the pages it writes (and, for a file with a record, requires
    /// of every page it reads): its record's, random per file and kept in its sidecar; for a file without one,
    /// the identity its page 0 carries if that page verifies. `None` if it has none (an unbound file whose page
    /// 0 is not a valid bufpool page, or was written unbound). An engine can name its data file by it in its own
    /// files, as a resident list does ([`crate::ResidentList::files`]) and `bufpool-btree`'s log header does, to tell
    /// its own data file from another after a restart, even one whose page 0 is torn or that is empty.
    pub fn file_identity(&self, file: FileId) -> Result<Option<u32>> {
        Ok(Some(self.core.files.get(file)?.stamp).filter(|&s| s != 0))
    }

    /// Raises the engine's mark of `file` to `mark`: a value of the engine's, kept durably in the file's record
    /// (the sidecar `<file>.bpmeta` of a file opened by path), outside the file's pages, so that no garbled or stale
    /// page can speak for it. A mark at or above `mark` is left as it is (the mark only grows, whatever order
    /// concurrent callers come in); otherwise the record at its next sequence is written and synced before this
    /// returns (two slots written in turn: a power loss during the update leaves the previous mark).
    /// [`BufferPool::engine_mark`] reads it back, in this open or a later one. `bufpool-btree` keeps the highest
    /// point its checkpoints cut their log at there, which the tree's meta page also holds, to refuse a stale copy
    /// of its data file whose meta page is unreadable (R48-O10 in RELIABILITY.md). Returns `false`, nothing kept,
    /// for a file without a record (a storage that keeps none). A failed update returns the error
    /// ([`Error::Io`], or [`Error::Panicked`] for a record store that panicked) and leaves the previous mark; the
    /// file is not failed.
    pub fn raise_engine_mark(&self, file: FileId, mark: u64) -> Result<bool> {
        self.core.files.get(file)?.raise_engine_mark(mark)
    }

    /// The engine's mark in `file`'s record ([`BufferPool::raise_engine_mark`]): `None` for a file without a record,
    /// or whose record has none (never raised, or last written by a build before the mark).
    pub fn engine_mark(&self, file: FileId) -> Result<Option<u64>> {
        Ok(self.core.files.get(file)?.engine_mark())
    }

    /// Tells the pool that `page` is on disk at LSN `lsn` or newer, written before this open (an engine's own
    /// record of it, e.g. a checkpoint's note in its log after a restart: R22-10 in RELIABILITY.md). Checked as
    /// the pool checks its own writes (R21-11): a load of the page that reads a valid version (or zeroes) with
    /// a lower LSN fails with [`Error::Corrupt`] `{ reason: StaleWrite }` naming it, a write the device dropped;
    /// on a miss only, never on a hit, so nothing is read now. A copy cached now is checked now: the same error
    /// if its LSN is lower (the copy stays cached: the caller must not use the page). A lower `lsn` than the
    /// pool's own last write of the page changes nothing. [`Error::OutOfRange`] for a page past the file's end
    /// (the file lost pages the engine wrote). Kept until the file is closed or dropped;
    /// [`BufferPool::written_lsns`] lists the ones no read or write has confirmed yet.
    pub fn expect_lsn(&self, page: PageId, lsn: Lsn) -> Result<()> {
        let f = self.core.files.get(page.file())?;
        let pages = f.pages.load(Acquire);
        if page.page_no() >= pages {
            return Err(Error::OutOfRange { page, pages });
        }
        // Noted first: a load from now on checks it; a copy mapped before is checked here, under its latch.
        let dropped = f.expect_lsn(page.page_no(), lsn);
        if dropped > 0 {
            self.core.counters.add(Counter::WrittenLsnsDropped, dropped);
        }
        let Some(idx) = self.core.frames.lookup_exact(page) else {
            return Ok(());
        };
        let Some((frame, _held)) = self.latch_exclusive_waiting(idx, page.file())? else {
            return Ok(());
        };
        let cached = (frame.page_id() == page).then(|| self.header(idx).lsn.load(Acquire));
        frame.release_unchanged();
        match cached {
            Some(cached) if cached < lsn => {
                self.core.counters.inc(Counter::CorruptPages);
                Err(Error::Corrupt {
                    page,
                    reason: CorruptReason::StaleWrite {
                        lsn: cached,
                        written: lsn,
                    },
                })
            }
            // Confirmed by the copy (a dirty one is written newer).
            Some(cached) => {
                let _ = f.stale_below(page.page_no(), cached);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The pages of `file` this open wrote at an LSN above `after` and at most `upto`, and those
    /// [`BufferPool::expect_lsn`] named at most `upto` that no read or write of the page has confirmed since, each
    /// with its LSN (the last written, or the one expected), by page number. What an engine notes at a checkpoint
    /// that drops its log's records up to `upto` (written since its previous cut at `after`), to hand back to
    /// `expect_lsn` after a restart. Of the pages the table keeps: at most [`Builder::stale_check_pages`], beyond
    /// which pages are forgotten ([`Stats::written_lsns_dropped`]), and none with the check off. A scan of the
    /// table's chunks in memory (8 bytes a page kept); no I/O.
    pub fn written_lsns(&self, file: FileId, after: Lsn, upto: Lsn) -> Result<Vec<(PageNo, Lsn)>> {
        Ok(self.core.files.get(file)?.written_lsns(after, upto))
    }

    /// Writes the file's dirty pages, syncs it, discards its pages from the pool and closes it.
    /// Fails with [`Error::PageLatched`] if a guard on one of its pages is held for more than about a second, and
    /// with [`Error::HeldByCaller`] at once if the calling thread holds one.
    ///
    /// If it fails (a page stays latched, a write or the final sync fails), the file stays open and readable,
    /// with whatever pages the sweep had not yet written still cached. Closed, it takes with it any error the
    /// background writer met on it and no call has reported yet (every page is written and synced now).
    ///
    /// # What is closed when it returns `Ok`
    /// The file's storage is dropped: for a file opened by path, its descriptor and its record sidecar's are
    /// closed and its lock released, so the engine may unmount, delete or replace it at once. Calls of other
    /// threads that looked the file up before it closed (a load, a prefetch, a write run, a sync) are waited for,
    /// up to about a second (a return past that bound, the file still held, is counted in
    /// [`Stats::files_released_late`]); the pool's own threads, checkpoints and flushes of other files hold no
    /// closed file while they wait for anything else. With the io_uring backend the kernel frees a request it ran
    /// on a worker thread through the submitting thread's ring: the calling thread's pending frees are run before
    /// the close; another thread's run at its next I/O (see ARCHITECTURE.md, "Close/drop"). A failed close closes
    /// nothing.
    pub fn close_file(&self, file: FileId) -> Result<()> {
        let f = self.core.files.get(file)?;
        self.flush_entries(std::slice::from_ref(&f))?;
        let closing = self.sweep_file(&f, true)?;
        self.sync_file(&f)?;
        closing.commit();
        self.retire(file, f);
        Ok(())
    }

    /// Discards the file's cached pages without writing them, and closes it (the file itself is left on disk:
    /// removing it is the engine's business; [`crate::storage::remove_data_file`] removes a file opened by path
    /// with its record, which a later open of that path as a new file needs: R34-20), with any error the
    /// background writer met on it and no call has reported yet. When it returns `Ok`, the file's descriptors are closed as after [`BufferPool::close_file`]
    /// (see there); a file that failed (a write or sync error, a filesystem gone read-only) is dropped the same
    /// way. Fails as `close_file` does when a guard on one of its pages is held; the file then stays open.
    pub fn drop_file(&self, file: FileId) -> Result<()> {
        let f = self.core.files.get(file)?;
        self.sweep_file(&f, false)?.commit();
        self.retire(file, f);
        Ok(())
    }

    /// The end of a close or drop that emptied the pool of `file`'s pages: the file leaves the table with any
    /// background error no call has reported, and the call waits (bounded) for other threads' holds on it to go.
    fn retire(&self, file: FileId, f: Arc<FileEntry>) {
        let removed = self.core.files.unregister(&f);
        self.forget_background_error(file);
        // Another close or drop of the file that ran with this one returns without waiting (it would wait for
        // this one, which waits for it).
        if removed && !crate::files::release(f) {
            self.core.counters.add(Counter::FilesReleasedLate, 1);
        }
    }

    /// Empties the pool of `file`'s pages: marks it closing (loads racing with the sweep undo themselves), then
    /// latches and discards every frame holding one of its pages, writing dirty ones first if `write_dirty`. The
    /// file stays closing while the returned mark lives and for good once it is committed; a failed sweep (or one
    /// that unwinds) takes its mark back, and another sweep of the file in progress keeps its own.
    fn sweep_file<'f>(&self, file: &'f FileEntry, write_dirty: bool) -> Result<crate::files::Closing<'f>> {
        let closing = file.begin_closing();
        (0..self.frames() as FrameIdx).try_for_each(|idx| {
            let h = self.header(idx);
            if PageId::from_u64(h.page_id.load(SeqCst)).file() != file.id {
                return Ok(());
            }
            let Some((frame, _held)) = self.latch_exclusive_waiting(idx, file.id)? else {
                return Ok(());
            };
            let page = frame.page_id();
            if page.file() != file.id {
                frame.release_unchanged();
                return Ok(());
            }
            if write_dirty && h.dirty.load(Acquire) {
                if let Err(e) = self.write_run(file, &[(page, idx)], WriteSource::Flush) {
                    frame.release_unchanged();
                    return Err(e);
                }
            }
            self.discard(frame, page);
            Ok(())
        })?;
        Ok(closing)
    }

    /// Latches frame `idx`, which held a page of `file`, exclusively, waiting up to [`LATCH_WAIT_MAX`] while it
    /// holds one. `Ok(None)` if the frame is free or holds no page of `file` any more: an evictor that had it
    /// latched took the page away and moved the frame to another page (another file's, whose guard holders
    /// are no concern of this sweep); the caller checks the page again under the latch it gets. An error names the
    /// page of `file` that is latched, read in the same round as the latch was found taken (before this check, a
    /// frame that had moved was waited for as well, and the error named the page it had moved to: another
    /// file's). The latch comes with its count as the pool's own hold: release the frame before the hold drops.
    fn latch_exclusive_waiting(&self, idx: FrameIdx, file: FileId) -> Result<Option<HeldExclusive<'_>>> {
        let h = self.header(idx);
        let mut backoff = Backoff::new();
        let mut deadline = None;
        loop {
            match self.try_latch_exclusive_held(idx) {
                Ok(frame) => return Ok(Some(frame)),
                Err(TryLatch::Free) => return Ok(None),
                Err(_) => {
                    let page = h.page_id();
                    if page.file() != file {
                        return Ok(None);
                    }
                    if h.held_by_caller() {
                        return Err(h.caller_hold_error(page));
                    }
                    let now = std::time::Instant::now();
                    if now >= *deadline.get_or_insert(now + LATCH_WAIT_MAX) {
                        return Err(Error::PageLatched { page });
                    }
                    backoff.snooze_on(&h.state, LatchWait::Exclusive);
                }
            }
        }
    }

    /// An exclusive latch on frame `idx` taken by a call that discards its page or looks at it and lets it go at
    /// once (a sweep, `free_page`, `expect_lsn`), counted as the pool's own hold ([`Hold::io`]) from before the
    /// latch: a miss that finds the frame latched meanwhile waits for it (R33-1), as it waits for a write run's.
    fn try_latch_exclusive_held(&self, idx: FrameIdx) -> std::result::Result<HeldExclusive<'_>, TryLatch> {
        Hold::io_latch(&self.core, || ExclusiveFrame::try_latch(self, idx))
    }

    // ---------------------------------------------------------------------------------------------------------
    // Page access

    /// A shared latch on `page`, loading it if needed. A freed page ([`BufferPool::free_page`], not reused by
    /// `new_page` since) is read from its last image, which a reader following a stale pointer must validate; with
    /// no image in the file, the read fails with [`Error::PageFreed`].
    ///
    /// A miss takes a frame as [`BufferPool::new_page`] does, with its errors: a dirty victim of another file
    /// whose write failed is [`Error::VictimWrite`] (naming the victim), never that file's or log's error bare.
    ///
    /// Its body is the hit path alone (`#[inline]`; a miss, or a frame found latched, is a call of `read_slow`): the
    /// hit's token no longer passes through the miss path's result (BENCHMARKS.md, issue 14, session 23).
    #[inline]
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn read(&self, page: PageId) -> Result<ReadGuard<'_>> {
        match self.try_fix_fast(page, Mode::Shared) {
            Some(frame) => Ok(ReadGuard::new(frame.shared(), page)),
            None => self.read_slow(page),
        }
    }

    /// [`BufferPool::read`] past its hit path: waits for a latched frame, or loads the page.
    #[inline(never)]
    #[cfg_attr(debug_assertions, track_caller)]
    fn read_slow(&self, page: PageId) -> Result<ReadGuard<'_>> {
        let frame = self
            .fix_with(page, Mode::Shared, &mut |p| self.acquire_frame(p, true))?
            .shared();
        Ok(ReadGuard::new(frame, page))
    }

    /// An exclusive latch on `page`, loading it if needed. Taking it marks the page dirty (with
    /// [`Builder::clean_write_guards`], its first change through the guard does: mutable access or `set_lsn`). A freed page
    /// ([`BufferPool::free_page`], not reused by `new_page` since) is refused with [`Error::PageFreed`]; when it is
    /// not resident, before a frame is taken for it, so a full pool or a failed policy does not change that answer.
    /// A miss's errors are [`BufferPool::read`]'s ([`Error::VictimWrite`] for another file's victim).
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn write(&self, page: PageId) -> Result<WriteGuard<'_>> {
        self.write_in(page, self.core.clean_write_guards)
    }

    /// As [`BufferPool::write`], but the guard is clean whatever [`Builder::clean_write_guards`] says: the page
    /// becomes dirty at the guard's first change (mutable access or `set_lsn`), and a guard dropped without one
    /// leaves a clean page clean, so the pool never writes it for this latch.
    ///
    /// For an engine whose log holds a full image of a page at its first change after a checkpoint (full-page
    /// writes, as PostgreSQL's): a page written with no change since then has no image to rebuild it from if the
    /// write is torn by a power loss, so latching a page to look at it, or for an operation that then fails, must
    /// not make it dirty. `bufpool-btree` takes every write latch this way (R46-O40 in RELIABILITY.md).
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn write_clean(&self, page: PageId) -> Result<WriteGuard<'_>> {
        self.write_in(page, true)
    }

    #[inline]
    #[cfg_attr(debug_assertions, track_caller)]
    fn write_in(&self, page: PageId, clean: bool) -> Result<WriteGuard<'_>> {
        if self.core.files.any_failed() {
            let f = self.core.files.get(page.file())?;
            if f.is_failed() {
                return Err(f.failed_error());
            }
        }
        let frame = self.fix(page, Mode::Exclusive)?.exclusive();
        let h = frame.header();
        if h.freed.load(Relaxed) {
            frame.release_unchanged();
            return Err(Error::PageFreed { page });
        }
        Ok(WriteGuard::new(frame, page, clean))
    }

    /// Cache hint, first of two stages for a batch of independent lookups: starts loading the page-table line
    /// that names `page`'s frame. Call it for every page of the batch, then [`BufferPool::prefetch_frame`] for
    /// each, then read them: each stage's cache misses then overlap across the batch instead of following one
    /// another page by page (software pipelining, as in AMAC-style batched index lookups). No effect on
    /// correctness, no I/O, no statistics.
    #[inline]
    pub fn prefetch_lookup(&self, page: PageId) {
        self.core.frames.prefetch_bucket(page);
    }

    /// Cache hint, second stage (see [`BufferPool::prefetch_lookup`]): if `page` is resident, starts loading its
    /// frame's state line and the first `bytes` of its user region (say a node's header and slot array). A page
    /// that is not resident is ignored (use [`BufferPool::prefetch`] to start its I/O). Returns whether the page
    /// was found resident, so that a batch passes only the others to [`BufferPool::prefetch`] (a hint too: the
    /// page may be evicted right after, and its read then loads it).
    #[inline]
    pub fn prefetch_frame(&self, page: PageId, bytes: usize) -> bool {
        match self.core.frames.lookup(page) {
            Some(idx) => {
                crate::frame::prefetch_line(self.header(idx));
                self.memory().prefetch(idx, crate::page::PAGE_HEADER_SIZE, bytes);
                true
            }
            None => false,
        }
    }

    /// Runs `f` on `page` without latching it: reads the frame's version, runs `f` over a [`PageView`] (atomic
    /// loads), and returns `f`'s result only if the version is unchanged; otherwise runs `f` again. After
    /// 64 conflicts it takes a shared latch, so it always makes progress. A page that is
    /// not resident is loaded (and `f` runs under a shared latch).
    ///
    /// `f` may see torn bytes on a run whose result is discarded; see [`PageView`].
    ///
    /// ```
    /// # fn main() -> bufpool::Result<()> {
    /// let pool = bufpool::BufferPool::builder().frames(64).build()?;
    /// let file = pool.open_storage(bufpool::MemoryStorage::new())?;
    /// let page = {
    ///     let mut g = pool.new_page(file)?;
    ///     g[8..16].copy_from_slice(&99u64.to_le_bytes());
    ///     g.page_id()
    /// };
    /// // No latch taken, nothing written to shared memory: the version check alone validates the read.
    /// let n = pool.read_optimistic(page, |view| view.read_u64(8))?;
    /// assert_eq!(n, 99);
    /// // Out of range reads do not panic: on a consistent page they become an error.
    /// let past_end = pool.read_optimistic(page, |view| view.read_u64(view.len()));
    /// assert!(matches!(past_end, Err(bufpool::Error::InvalidAccess { .. })));
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn read_optimistic<R>(&self, page: PageId, mut f: impl FnMut(&PageView<'_>) -> R) -> Result<R> {
        let mut backoff = Backoff::new();
        let mut resident = true;
        for attempt in 0..OPTIMISTIC_ATTEMPTS_MAX {
            let Some((idx, h)) = self.core.frames.lookup_header(page) else {
                if attempt == 0 {
                    resident = false;
                    break;
                }
                continue;
            };
            let Some(version) = h.state.optimistic_begin() else {
                if self.optimistic_waits_for_caller(idx) {
                    // The shared fallback says `HeldByCaller`, at once, instead of parking on our own latch.
                    break;
                }
                backoff.snooze_on(&h.state, LatchWait::Optimistic);
                continue;
            };
            if h.page_id.load(Acquire) != page.as_u64() {
                continue;
            }
            let view = PageView::new(self, idx, page);
            let r = f(&view);
            if h.state.optimistic_validate(version) {
                self.core.policy.on_hit(idx);
                self.core.counters.hit(page.file());
                return view_result(&view, r);
            }
            self.core.counters.inc(Counter::OptimisticRetries);
        }
        self.read_latched(page, resident, f)
    }

    /// True if frame `idx`, found exclusively latched by an optimistic read, is latched by the calling thread's own
    /// write guard: retrying (and, past the spins, parking up to 5 ms an attempt) would wait for a release that
    /// cannot come before the call returns (R10-3 in RELIABILITY.md: about 240 ms per call before the fallback
    /// reported it). Out of line, so `read_optimistic`'s inlined body stays small.
    #[cold]
    #[inline(never)]
    fn optimistic_waits_for_caller(&self, idx: FrameIdx) -> bool {
        self.header(idx).held_exclusive_by_caller()
    }

    /// `read_optimistic`'s way out, kept out of line so that its hit path stays small enough to inline into the
    /// caller (with it inline, an optimistic hit of the page bench cost 40 more instructions): a miss, or
    /// every attempt conflicting with a writer, reads `page` under a shared latch.
    #[cold]
    #[inline(never)]
    fn read_latched<R>(&self, page: PageId, resident: bool, mut f: impl FnMut(&PageView<'_>) -> R) -> Result<R> {
        if resident {
            // Every attempt conflicted with a writer (or the page moved): give up and take a shared latch.
            self.core.counters.inc(Counter::OptimisticFallbacks);
        }
        let guard = self.read(page)?;
        let view = PageView::new(self, guard.idx(), page);
        let r = f(&view);
        view_result(&view, r)
    }

    /// Latches `page` in `mode`, loading it if needed. The single entry to the hit and miss paths.
    #[inline]
    fn fix(&self, page: PageId, mode: Mode) -> Result<Latched<'_>> {
        match self.try_fix_fast(page, mode) {
            Some(frame) => Ok(frame),
            None => self.fix_with(page, mode, &mut |p| self.acquire_frame(p, true)),
        }
    }

    /// The hit path, inlined into `read` and `write` (and used by `read_many`): one lookup, one latch attempt, no
    /// waiting. Anything else (a miss, a busy latch, a frame reused meanwhile) goes to [`BufferPool::fix_with`].
    #[inline(always)]
    pub(crate) fn try_fix_fast(&self, page: PageId, mode: Mode) -> Option<Latched<'_>> {
        let (idx, h) = self.core.frames.lookup_header(page)?;
        self.latch_hit(idx, h, page, mode).ok()
    }

    /// The one hit step: latches frame `idx` (a lookup's answer for `page`, `h` its header) in `mode` and confirms
    /// it still holds `page`, counting the hit. `Busy` if it holds `page` but is latched by someone else; `Free` if
    /// it no longer holds `page` (reused meanwhile), with nothing latched.
    #[inline(always)]
    fn latch_hit<'p>(
        &'p self,
        idx: FrameIdx,
        h: &'p FrameHeader,
        page: PageId,
        mode: Mode,
    ) -> std::result::Result<Latched<'p>, TryLatch> {
        let latched = match mode {
            Mode::Shared => SharedFrame::try_latch_found(self, idx, h).map(Latched::Shared),
            Mode::Exclusive => ExclusiveFrame::try_latch_found(self, idx, h).map(Latched::Exclusive),
        };
        match latched {
            Ok(frame) if h.page_id() == page => {
                self.core.policy.on_hit(idx);
                self.core.counters.hit(page.file());
                Ok(frame)
            }
            Ok(frame) => {
                frame.release_unchanged();
                Err(TryLatch::Free)
            }
            Err(TryLatch::Busy { version }) if h.page_id() == page => Err(TryLatch::Busy { version }),
            Err(_) => Err(TryLatch::Free),
        }
    }

    /// [`BufferPool::fix`] taking frames for a miss from `acquire` (the policy, or a scan ring).
    #[inline(never)]
    pub(crate) fn fix_with<'p>(
        &'p self,
        page: PageId,
        mode: Mode,
        acquire: &mut dyn FnMut(PageId) -> Result<ExclusiveFrame<'p>>,
    ) -> Result<Latched<'p>> {
        let mut backoff = Backoff::new();
        // The frame we last waited on while it held `page` latched, and the version we saw: if a load into it
        // fails meanwhile, we return that load's error instead of trying again (one failed read, one error).
        let mut waited: Option<(FrameIdx, u64)> = None;
        loop {
            if let Some((idx, h)) = self.core.frames.lookup_header(page) {
                match self.latch_hit(idx, h, page, mode) {
                    Ok(frame) => return Ok(frame),
                    Err(TryLatch::Busy { version }) => {
                        if self.waits_for_caller(idx, mode) {
                            return Err(self.header(idx).caller_hold_error(page));
                        }
                        if let Some(callback) = self.callback_waits_for_callback(idx) {
                            return Err(Error::CallbackReentry { page, callback });
                        }
                        if waited.is_none() {
                            self.core.counters.inc(Counter::SingleFlightWaits);
                        }
                        waited = Some((idx, version));
                        let want = match mode {
                            Mode::Shared => LatchWait::Shared,
                            Mode::Exclusive => LatchWait::Exclusive,
                        };
                        backoff.snooze_on(&self.header(idx).state, want);
                        continue;
                    }
                    Err(_) => {}
                }
                // The frame no longer holds the page (evicted, or its load failed): look again.
                if let Some(e) = waited.and_then(|(i, v)| self.load_error(i, v, page)) {
                    return Err(e);
                }
                continue;
            }
            if let Some(e) = waited.and_then(|(i, v)| self.load_error(i, v, page)) {
                return Err(e);
            }
            if let Some(frame) = self.load(page, mode, acquire)? {
                return Ok(frame);
            }
        }
    }

    /// True if waiting for frame `idx`'s latch in `mode` would wait for the calling thread itself: for an
    /// exclusive latch, the caller holds the frame through any guard; for a shared one, through a `WriteGuard`
    /// (its own read guards do not stop another shared latch: `FrameHeader::held_exclusive_by_caller`).
    #[cold]
    fn waits_for_caller(&self, idx: FrameIdx, mode: Mode) -> bool {
        let h = self.header(idx);
        match mode {
            Mode::Exclusive => h.held_by_caller(),
            Mode::Shared => h.held_exclusive_by_caller(),
        }
    }

    /// The callback the calling thread runs, if its wait for frame `idx`, found busy, is not to be begun:
    /// - the eviction veto waits for no latch (R37-20): it runs inside a victim search, with the victim latched and
    ///   a list policy's lock held, and the latch's holder may be waiting for that search (its own miss, a batch's
    ///   next frame);
    /// - a callback in frames of this pool does not wait for a frame the pool holds for a callback on another
    ///   thread (R37-1 in RELIABILITY.md). The other callback may be waiting, or about to wait, for a frame this
    ///   thread holds for its own (two `Storage::read_at`s each reading the page the other loads, a `Wal` flush
    ///   reading the victim another eviction writes): neither latch would ever be released. Both calls may be
    ///   refused; each callback's own operation goes on. The count is asked again each time the wait wakes, so a
    ///   callback that begins after this thread began waiting stops the wait too.
    #[cold]
    pub(crate) fn callback_waits_for_callback(&self, idx: FrameIdx) -> Option<&'static str> {
        if crate::held::running(VETO) {
            return Some(VETO);
        }
        if self.header(idx).callbacks.load(Acquire) == 0 {
            return None;
        }
        crate::held::callback_in(self.core.frames.headers())
    }

    /// The error of a load of `page` into `idx` that failed right after we saw it latched at `version`. The page
    /// must match: the latch we waited on may have been an evictor's, whose frame then served another page's
    /// miss, and that page's failure is not ours (bug B3, `tests/sim_regression_foreign_load_error.rs`).
    fn load_error(&self, idx: FrameIdx, version: u64, page: PageId) -> Option<Error> {
        if self.header(idx).failed_version.load(Acquire) != version + 1 {
            return None;
        }
        match &*self.core.load_errors[idx as usize].lock() {
            Some((v, p, e)) if *v == version + 1 && *p == page => Some(e.clone()),
            _ => None,
        }
    }

    /// The miss path. `Ok(None)` when another thread mapped the page first (the caller looks again).
    fn load<'p>(
        &'p self,
        page: PageId,
        mode: Mode,
        acquire: &mut dyn FnMut(PageId) -> Result<ExclusiveFrame<'p>>,
    ) -> Result<Option<Latched<'p>>> {
        let Some((file, mut frame)) = self.reserve_with(page, matches!(mode, Mode::Exclusive), acquire)? else {
            return Ok(None);
        };
        let got = {
            let _for = crate::held::for_callback("Storage::read_at", [frame.header()]);
            file.read_at(frame.page_mut(), self.core.page_size.offset_of(page.page_no()))
        };
        let latched = self.finish_load(&file, page, frame, got, mode.into())?;
        // A freed page's copy (marked by `finish_load`) takes no write guard.
        if let Some(Latched::Exclusive(frame)) = &latched {
            if frame.header().freed.load(Relaxed) {
                return Err(Error::PageFreed { page });
            }
        }
        Ok(latched)
    }

    /// First half of a miss: checks the page exists, takes a frame and maps the page to it, exclusively latched,
    /// so concurrent requests wait for this load (single flight). `Ok(None)` if the page is mapped already.
    /// The caller must read into the frame and call [`BufferPool::finish_load`].
    pub(crate) fn reserve(&self, page: PageId) -> Result<Option<(Arc<FileEntry>, ExclusiveFrame<'_>)>> {
        self.reserve_with(page, false, &mut |p| self.acquire_frame(p, false))
    }

    /// [`BufferPool::reserve`] taking the frame from `acquire`.
    fn reserve_with<'p>(
        &'p self,
        page: PageId,
        for_write: bool,
        acquire: &mut dyn FnMut(PageId) -> Result<ExclusiveFrame<'p>>,
    ) -> Result<Option<(Arc<FileEntry>, ExclusiveFrame<'p>)>> {
        let file = self.core.files.get(page.file())?;
        let pages = file.pages.load(Acquire);
        if page.page_no() >= pages {
            return Err(Error::OutOfRange { page, pages });
        }
        // A write of a freed page is refused before it takes a frame: whether a frame could be had (every one
        // pinned, the policy failed) does not change the answer, and no page is evicted and no image read to
        // give it (R38-20 in RELIABILITY.md). A number freed after this is caught by `finish_load`'s mark, as
        // for reads; one `new_page` takes off the list after it was listed here: the refusal came first.
        if for_write && file.is_freed(page.page_no()) {
            return Err(Error::PageFreed { page });
        }
        if self.core.frames.lookup_locked(page).is_some() {
            return Ok(None);
        }
        // Not held while a frame is taken, which can wait (for a frame, a victim's write, the engine's veto): a
        // file dropped meanwhile stayed open past `drop_file`'s return (R25-12 in RELIABILITY.md). Taken up again
        // once the page is mapped: from then on a sweep of the file waits for this frame.
        let weak = Arc::downgrade(&file);
        drop(file);
        // Counted in `loads_in_flight` by `acquire` (`taken`) until `finish_load` releases it; here when it goes
        // back unused.
        let frame = acquire(page)?;
        let idx = frame.idx();
        frame.header().page_id.store(page.as_u64(), SeqCst);
        if self.core.frames.map(page, idx).is_err() {
            self.release_unmapped(frame);
            self.end_taken();
            return Ok(None);
        }
        let file = match weak.upgrade() {
            Some(file) => file,
            None => {
                self.core.frames.unmap(page, idx);
                self.release_unmapped(frame);
                self.end_taken();
                return Err(Error::FileNotOpen(page.file()));
            }
        };
        if file.is_closing() {
            self.core.frames.unmap(page, idx);
            self.release_unmapped(frame);
            self.end_taken();
            return Err(Error::FileNotOpen(page.file()));
        }
        self.core.counters.add_for(&file.counters, Counter::Misses, 1);
        Ok(Some((file, frame)))
    }

    /// Second half of a miss: `got` is the outcome of reading `page` into frame `idx` (reserved by the caller).
    /// Marks the copy of a freed page (`FrameHeader::freed`), verifies the image and publishes the page, leaving
    /// the frame latched as `after` says; or, on failure, unmaps the page, frees the frame and records the error
    /// for every waiter (`PageFreed` for a freed page with no image).
    pub(crate) fn finish_load<'p>(
        &'p self,
        file: &FileEntry,
        page: PageId,
        frame: ExclusiveFrame<'p>,
        got: std::io::Result<usize>,
        after: AfterLoad,
    ) -> Result<Option<Latched<'p>>> {
        let (idx, h) = (frame.idx(), frame.header());
        // A freed page: readers may see its last image (a stale pointer they will validate), writers may not
        // change it (`write` checks the mark); one never written has no image at all. Asked after the page was
        // mapped (`reserve`), under the list's lock: a `free_page` commits either after this or after seeing
        // this frame mapped and discarding it (P1, `FreeClaim::commit_unless_cached`). Lock order: this frame's
        // latch, then the list's mutex.
        let freed = file.is_freed(page.page_no());
        if freed {
            h.freed.store(true, Relaxed);
        }
        let verified = match self.verify_frame(file, page, &frame, got) {
            Err(Error::ShortRead { .. }) if freed => Err(Error::PageFreed { page }),
            v => v,
        };
        // The load leaves `loads_in_flight` once its frame is released or the caller's (R32-1: taken off before
        // the policy's `on_insert` and the release, a miss in between saw the only frame latched and no load, and
        // returned `PoolExhausted` at once).
        match verified {
            Ok(lsn) => {
                h.lsn.store(lsn, Relaxed);
                debug_assert!(!h.dirty.load(Relaxed), "a reserved frame is clean");
                {
                    let _for = crate::held::for_callback("Policy::on_insert", [h]);
                    self.core.policy.on_insert(idx, page.as_u64());
                }
                let latched = match after {
                    AfterLoad::Shared => Some(Latched::Shared(frame.downgrade())),
                    AfterLoad::Exclusive => Some(Latched::Exclusive(frame)),
                    AfterLoad::Unlatched => {
                        frame.release_changed();
                        None
                    }
                };
                self.end_taken();
                Ok(latched)
            }
            Err(e) => {
                self.core.frames.unmap(page, idx);
                h.clear_page();
                let version = (h.state.load() >> 8) + 1;
                *self.core.load_errors[idx as usize].lock() = Some((version, page, e.clone()));
                h.failed_version.store(version, Release);
                let v = frame.release_to_free();
                debug_assert_eq!(v, version);
                self.push_free(idx);
                self.end_taken();
                Err(e)
            }
        }
    }

    /// Checks the outcome of a read into frame `idx` (exclusively latched by the caller). Returns the page LSN.
    fn verify_frame(
        &self,
        file: &FileEntry,
        page: PageId,
        frame: &ExclusiveFrame<'_>,
        got: std::io::Result<usize>,
    ) -> Result<u64> {
        self.core.counters.add_for(&file.counters, Counter::Reads, 1);
        // A page whose newer image a failed file dropped: the disk holds an older version (checked after the
        // read, under the frame's latch, so no load can slip between the drop and the check).
        if file.was_dropped(page.page_no()) {
            return Err(file.failed_error());
        }
        let buf = frame.page();
        let want = buf.len();
        let got = got.map_err(|e| {
            self.core.counters.inc(Counter::ReadErrors);
            Error::io(file.id, Some(page), "read", e)
        })?;
        if got < want {
            self.core.counters.inc(Counter::ReadErrors);
            return Err(Error::ShortRead { page, got, want });
        }
        let verified = checksum::verify_for(buf, page.page_no(), file.expected_identity());
        // A valid page (or zeroes) older than this open last wrote it, or than an engine expects it (R22-10): the
        // device dropped that write (R21-11). Zeroes below the file's written mark are the lost write below.
        if let Ok(v) = verified {
            let lsn = if v == Verified::Valid { checksum::lsn_of(buf) } else { 0 };
            let lost = v == Verified::Fresh && file.lost_write_below().is_some_and(|w| page.page_no() < w);
            if let Some(written) = file.stale_below(page.page_no(), lsn).filter(|_| !lost) {
                self.core.counters.inc(Counter::CorruptPages);
                return Err(Error::Corrupt {
                    page,
                    reason: CorruptReason::StaleWrite { lsn, written },
                });
            }
        }
        match verified {
            Ok(Verified::Valid) => {
                file.note_written(page.page_no());
                Ok(checksum::lsn_of(buf))
            }
            Ok(Verified::Fresh) => {
                self.core.counters.inc(Counter::FreshReads);
                match file.lost_write_below() {
                    Some(written_pages) if page.page_no() < written_pages => {
                        self.core.counters.inc(Counter::LostWrites);
                        self.core.counters.inc(Counter::CorruptPages);
                        Err(Error::Corrupt {
                            page,
                            reason: CorruptReason::LostWrite { written_pages },
                        })
                    }
                    _ => Ok(0),
                }
            }
            Err(reason) => {
                self.core.counters.inc(Counter::CorruptPages);
                Err(Error::Corrupt { page, reason })
            }
        }
    }

    /// A free frame for `page`, exclusively latched, holding no page and not in the table or the policy.
    ///
    /// When every frame is latched: with `wait_for_loads`, waits (up to [`LOADS_WAIT_MAX`]) while frames are held
    /// only briefly by the pool itself (loads in flight, write runs, other threads taking victims), and up to
    /// [`Builder::frame_wait`] for frames held by guards; batches, which may hold such frames themselves, never
    /// wait.
    pub(crate) fn acquire_frame(&self, page: PageId, wait_for_loads: bool) -> Result<ExclusiveFrame<'_>> {
        // The eviction veto runs inside a victim search, under the policy's lock (list policies) or with a frame
        // taken: a miss from the veto itself would search again on this thread and wait for ever (R36-21).
        // A miss from a policy object's victim search would too (R37-5): the search would run again on this thread,
        // and a policy that keeps its lists under a lock of its own would wait for it for ever. The veto first: it
        // runs inside `victim_for`, so both are listed then.
        for callback in [VETO, "Policy::victim_for", "Policy::victim"] {
            if crate::held::running(callback) {
                return Err(Error::CallbackReentry { page, callback });
            }
        }
        let _taking = Hold::taker(&self.core);
        // A panic of the veto met by a scan ring's take-back on this thread (see `take_veto_panic`).
        if let Some(e) = take_veto_panic() {
            return Err(e);
        }
        let mut last_error = None;
        let mut failed_evictions = 0;
        // The files of victims whose writes failed in this call.
        let mut refused_files: Vec<FileId> = Vec::new();
        let mut backoff = Backoff::new();
        let mut started = None;
        loop {
            // Before the search: a hold of the pool's own that ends after it is seen below (R32-1).
            let before = self.own_holds();
            if let Some(idx) = self.core.frames.pop_free() {
                let frame = ExclusiveFrame::latch_free(self, idx);
                let frame = frame.unwrap_or_else(|| panic!("frame {idx} on the free list was not free"));
                // -> *reserved*: latched, no page yet, clean.
                debug_assert_eq!(frame.page_id(), PageId::INVALID);
                debug_assert!(!frame.header().dirty.load(Relaxed));
                return Ok(self.taken(frame));
            }
            crate::skips::begin_search();
            // After a victim's write failed (a full device leaves it dirty and its file usable, and the policy
            // may offer it, or another dirty page of the file, again), the miss first looks past that file's dirty
            // pages, and takes one of them only when nothing else can be taken: a full device failed misses with
            // clean frames to spare (R34-11).
            // The frame the policy took stays listed as held for it until it answers (`held::for_callback`): a
            // policy that reads the page of the frame it just took is told `CallbackReentry`, not left waiting.
            let search = |passed_over: &[FileId]| {
                // A policy object's `victim_for` may hold its own lock, which another thread's `on_insert` waits
                // for while it holds a frame for that callback: listed, so the policy's call back does not wait
                // for such a frame (R37-4).
                let _in = crate::held::in_pool_callback("Policy::victim_for", self.core.frames.headers());
                let mut taken = None;
                self.core.policy.victim_for(page.as_u64(), &mut |idx| {
                    let h = self.header(idx);
                    let passed =
                        !passed_over.is_empty() && h.dirty.load(Acquire) && passed_over.contains(&h.page_id().file());
                    let took = !passed && self.try_take(idx);
                    if took {
                        taken = Some(crate::held::for_callback("Policy::victim_for", [h]));
                    }
                    took
                })
            };
            let mut victim = search(&refused_files);
            if victim.is_none() && !refused_files.is_empty() {
                if let Some(e) = take_policy_panic() {
                    return Err(e);
                }
                crate::skips::begin_search();
                victim = search(&[]);
            }
            let victim = victim.map(|idx| Victim::adopt(ExclusiveFrame::adopt(self, idx)));
            // A policy object that panicked (`caught_policy.rs`): the frame it took, if any, goes back unchanged.
            if let Some(e) = take_policy_panic() {
                drop(victim);
                return Err(e);
            }
            // A panic of the veto met by this search is this miss's to report, whatever else the search found: left
            // in the slot when no victim was found (`AllProtected`, or every frame latched), the thread's next miss,
            // in any pool, reported it (R33-5).
            if let Some(e) = take_veto_panic() {
                drop(victim); // tracked again, released
                return Err(e);
            }
            if let Some(e) = victim.is_none().then(|| self.protection_error()).flatten() {
                self.core.counters.inc(Counter::Exhausted);
                #[cfg(feature = "tracing")]
                crate::trace::pool_exhausted(self.frames(), &e);
                return Err(e);
            }
            match victim {
                Some(frame) => match (frame.header().page_id(), self.evict(frame)) {
                    (_, Ok(frame)) => return Ok(self.taken(frame)),
                    (refused, Err(e)) => {
                        refused_files.push(refused.file());
                        last_error = Some(self.victim_error(page, refused, e));
                        failed_evictions += 1;
                        if failed_evictions >= EVICT_ATTEMPTS_MAX {
                            break;
                        }
                    }
                },
                // Every frame is latched. Frames held by the pool itself (loads in flight, write runs, victims
                // being taken by other threads) come back by themselves within an I/O: wait for them, a bounded
                // time, rather than fail (U2). Frames held by guards may never come back: wait only as long as
                // the builder allows (default: not at all). A hold of the pool's own is counted from before its
                // latch to after its release, and its end is counted before it leaves its count: so either it is
                // still counted here, or it ended since `before` was read and this search may have met it (R32-1:
                // a load's end, uncounted while its frame was still latched, was taken for a guard's).
                None if wait_for_loads => {
                    let now = self.own_holds();
                    let transient = HoldCount::holds(now[0]) > 0
                        || HoldCount::holds(now[1]) > 0
                        || HoldCount::holds(now[2]) > 1
                        || (0..3).any(|k| HoldCount::ends(now[k]) != HoldCount::ends(before[k]));
                    let limit = if transient {
                        LOADS_WAIT_MAX.max(self.core.frame_wait)
                    } else {
                        self.core.frame_wait
                    };
                    // A miss from a callback that holds frames of this pool: the frames it waits for may be held
                    // by callbacks on other threads whose own misses wait for its frames (two loads whose storages
                    // each read a page not resident, in a pool their loads fill). Waited for at most as long as
                    // the pool's own I/O, however long `frame_wait` is (R37-6).
                    let limit = match crate::held::callback_in(self.core.frames.headers()) {
                        Some(_) => limit.min(LOADS_WAIT_MAX),
                        None => limit,
                    };
                    // The time waited, not a deadline: `start + limit` overflowed for a `frame_wait` of
                    // `Duration::MAX` and panicked (R13-3).
                    let now = std::time::Instant::now();
                    if now.duration_since(*started.get_or_insert(now)) >= limit {
                        break;
                    }
                    backoff.snooze();
                }
                None => break,
            }
        }
        self.core.counters.inc(Counter::Exhausted);
        let e = last_error.unwrap_or_else(|| Error::PoolExhausted {
            frames: self.frames(),
            failed_file_pages: self.failed_file_pages(),
        });
        #[cfg(feature = "tracing")]
        crate::trace::pool_exhausted(self.frames(), &e);
        Err(e)
    }

    /// The error a miss for `page` reports for its victim `victim`'s failed write `e`: as is for a victim of the
    /// miss's own file, [`Error::VictimWrite`] naming the victim (and its path) for another file's, so that the
    /// caller does not take another file's log or device failing for its own (R49-O11 in RELIABILITY.md).
    #[cold]
    fn victim_error(&self, page: PageId, victim: PageId, e: Error) -> Error {
        if victim.file() == page.file() {
            return e;
        }
        let path = self.core.files.get(victim.file()).ok().and_then(|f| f.path.clone());
        Error::VictimWrite {
            victim,
            path,
            source: Box::new(e),
        }
    }

    /// Frames holding dirty pages of failed (or vanished) files: pinned until the file is dropped. Only scanned on
    /// the exhaustion path, and only when some file has failed.
    fn failed_file_pages(&self) -> usize {
        if !self.core.files.any_failed() {
            return 0;
        }
        self.core
            .frames
            .headers()
            .iter()
            .filter(|h| {
                let page = h.page_id();
                page != PageId::INVALID
                    && h.dirty.load(Acquire)
                    && self.core.files.get(page.file()).map_or(true, |f| f.is_failed())
            })
            .count()
    }

    /// The policy offers `idx`: take it if it can be latched exclusively and nothing protects it. On `true` the
    /// calling thread holds the frame's exclusive latch, which the caller adopts ([`ExclusiveFrame::adopt`]) once
    /// the policy has returned the frame.
    pub(crate) fn try_take(&self, idx: FrameIdx) -> bool {
        let Ok(frame) = ExclusiveFrame::try_latch(self, idx) else {
            crate::skips::note(&self.core.counters, Skip::Latched);
            return false;
        };
        if !self.evictable(&frame) {
            frame.release_unchanged();
            return false;
        }
        std::mem::forget(frame); // the latch stays held, for the policy's caller to adopt
        true
    }

    /// Whether the page in frame `idx` (exclusively latched by the caller) may be evicted: it holds a page, the
    /// engine's veto does not protect it, no open snapshot does (`snapshot.rs`), and, if its file has failed (or
    /// vanished), it is neither dirty (it could not be written and would be lost) nor written since the file's
    /// last good sync (after a failed fsync the kernel may have dropped that write, and a re-read could return the
    /// older image: U3), unless the failed file holds more such frames than `Builder::failed_file_frames` allows
    /// ([`BufferPool::evict`] then drops the page).
    ///
    /// A veto that panics protects the page; the panic is kept for the caller (see [`take_veto_panic`]).
    pub(crate) fn evictable(&self, frame: &ExclusiveFrame<'_>) -> bool {
        let h = frame.header();
        let page = h.page_id();
        if page == PageId::INVALID {
            return false;
        }
        if let Some(veto) = &self.core.veto {
            let _for = crate::held::for_callback(VETO, [h]);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| veto(page))) {
                Ok(false) => {}
                Ok(true) => {
                    crate::skips::note(&self.core.counters, Skip::Veto);
                    return false;
                }
                Err(payload) => {
                    // On a thread being torn down, past this thread-local's life, the panic is not kept: the
                    // page is protected all the same, and the miss reports what else it meets (R12-2).
                    let _ = VETO_PANIC.try_with(|p| {
                        p.borrow_mut()
                            .get_or_insert_with(|| (page, Error::panicked(VETO, payload)));
                    });
                    return false;
                }
            }
        }
        if let Some(s) = &self.core.snapshots {
            if s.protects(h.lsn.load(Acquire)) {
                crate::skips::note(&self.core.counters, Skip::Snapshot);
                return false;
            }
        }
        let dirty = h.dirty.load(Acquire);
        let written = h.written_at.load(Acquire);
        if !dirty && written == 0 {
            return true;
        }
        if !self.core.files.any_failed() && !dirty {
            return true;
        }
        match self.core.files.get(page.file()) {
            Ok(f) if f.is_failed() => !f.would_lose(h) || self.failed_file_over_bound(&f),
            Ok(_) => true,
            Err(_) => !dirty,
        }
    }

    /// Whether failed file `f` holds more frames of unwritable pages than the builder's bound. Counted on first
    /// need after the failure; a drop lowers the count. `write` and `try_upgrade` refuse a failed file, but a write
    /// guard taken before the failure can still make its page dirty (a clean guard's first change) or clean again
    /// (`WriteGuard::restore`) after it: then the count is taken again at its next need
    /// ([`BufferPool::note_guard_dirtiness`]; R48-10 in RELIABILITY.md: it was kept, and the file held more frames
    /// than its bound, or dropped pages its bound let it keep).
    fn failed_file_over_bound(&self, f: &FileEntry) -> bool {
        f.unwritable_frames(|| self.count_unwritable(f)) > self.core.failed_file_frames
    }

    /// Frames holding failed file `f`'s unwritable pages (`FileEntry::would_lose`), counted from the headers.
    fn count_unwritable(&self, f: &FileEntry) -> usize {
        self.core
            .frames
            .headers()
            .iter()
            .filter(|h| h.page_id() != PageId::INVALID && h.page_id().file() == f.id && f.would_lose(h))
            .count()
    }

    /// Empties victim `idx` (exclusively latched, no longer tracked by the policy): writes it if dirty, unmaps it.
    /// On a failed write the page stays, dirty, tracked again, and unlatched. A victim of a failed file is not
    /// written: [`BufferPool::evictable`] let it go because it is clean and synced, or because its file is over
    /// its bound, and then its unwritable image is dropped here if the file is still over its bound
    /// (`FileEntry::drop_unwritable` decides and drops under one lock); else the victim goes back as for a failed
    /// write ([`Error::FileFailed`]): its file failed after `evictable` chose it, or another miss dropped a page of
    /// the file meanwhile (R50-12 in RELIABILITY.md: the page was dropped within the bound).
    pub(crate) fn evict<'p>(&'p self, victim: Victim<'p>) -> Result<ExclusiveFrame<'p>> {
        let h = victim.header();
        let page = h.page_id();
        if self.core.files.any_failed() {
            if let Ok(f) = self.core.files.get(page.file()) {
                if f.is_failed() {
                    if f.would_lose(h) {
                        crate::points::point(crate::points::EVICT_DROP_UNWRITABLE);
                        let dropped = f.drop_unwritable(
                            page.page_no(),
                            self.core.failed_file_frames,
                            || self.count_unwritable(&f),
                            || {
                                self.mark_clean(h);
                                self.unmap_victim(&victim, page);
                            },
                        );
                        if !dropped {
                            return Err(f.failed_error()); // the victim goes back
                        }
                        self.core.counters.inc(Counter::FailedPagesDropped);
                    } else {
                        self.unmap_victim(&victim, page);
                    }
                    self.core.counters.inc(Counter::Evictions);
                    return Ok(victim.into_unmapped());
                }
            }
        }
        if h.dirty.load(Acquire) {
            // On error the victim goes back (dropped: tracked again, released unchanged).
            self.core
                .files
                .get(page.file())
                .and_then(|f| self.write_run(&f, &[(page, victim.idx())], WriteSource::Eviction))?;
            self.mark_clean(h);
            self.core.counters.inc(Counter::DirtyEvictions);
        }
        self.unmap_victim(&victim, page);
        self.core.counters.inc(Counter::Evictions);
        Ok(victim.into_unmapped())
    }

    /// Unmaps the clean page of a victim; the caller then takes the frame ([`Victim::into_unmapped`]).
    pub(crate) fn unmap_victim(&self, victim: &Victim<'_>, page: PageId) {
        let removed = self.core.frames.unmap(page, victim.idx());
        debug_assert!(removed, "victim {page:?} was not mapped");
        victim.header().clear_page();
    }

    /// Sets a page's dirty flag (the caller holds its exclusive latch), keeping the dirty-page count. True if the
    /// page was clean.
    #[inline]
    pub(crate) fn mark_dirty(&self, h: &FrameHeader) -> bool {
        let was_clean = !h.dirty.swap(true, AcqRel);
        if was_clean {
            self.core.dirty_pages.fetch_add(1, Relaxed);
        }
        was_clean
    }

    /// A write guard on `page` made it dirty (it was clean) or, by `WriteGuard::restore`, clean again: if its file
    /// has failed, whether the page is unwritable may have changed, and the count kept for the file's bound is taken
    /// again at its next need ([`BufferPool::failed_file_over_bound`]). One load while no file has failed.
    #[inline]
    pub(crate) fn note_guard_dirtiness(&self, page: PageId) {
        if self.core.files.any_failed() {
            self.forget_unwritable_frames(page);
        }
    }

    #[cold]
    fn forget_unwritable_frames(&self, page: PageId) {
        if let Ok(f) = self.core.files.get(page.file()) {
            if f.is_failed() {
                f.forget_unwritable_frames();
            }
        }
    }

    /// Clears a page's dirty flag (after its image was written, or when it is discarded).
    #[inline]
    pub(crate) fn mark_clean(&self, h: &FrameHeader) {
        if h.dirty.swap(false, AcqRel) {
            self.core.dirty_pages.fetch_sub(1, Relaxed);
        }
    }

    /// Drops the page of `frame` without writing it and frees the frame.
    fn discard(&self, frame: ExclusiveFrame<'_>, page: PageId) {
        let (idx, h) = (frame.idx(), frame.header());
        self.core.frames.unmap(page, idx);
        self.core.policy.on_remove(idx);
        self.mark_clean(h);
        h.clear_page();
        frame.release_to_free();
        self.push_free(idx);
    }

    /// `frame`, just taken for a page (by `acquire_frame`, or a scan ring taking its own back), counted in
    /// [`Core::loads_in_flight`] as the pool's own hold while the taker's hold still stands, so no moment of its
    /// latch goes uncounted (R32-1). Its taker ends the count with [`BufferPool::end_taken`].
    pub(crate) fn taken<'p>(&'p self, frame: ExclusiveFrame<'p>) -> ExclusiveFrame<'p> {
        self.core.loads_in_flight.begin(1);
        frame
    }

    /// Ends the count [`BufferPool::taken`] began, once its frame is released or a caller's latch.
    pub(crate) fn end_taken(&self) {
        self.core.loads_in_flight.end(1);
    }

    /// The words of the pool's own holds: frames taken for a page, write runs' latches, threads taking frames
    /// ([`HoldCount::read`]).
    fn own_holds(&self) -> [u64; 3] {
        let c = &self.core;
        [c.loads_in_flight.read(), c.io_holds.read(), c.frame_takers.read()]
    }

    /// Frees `frame`, which is not mapped and not tracked.
    pub(crate) fn release_unmapped(&self, frame: ExclusiveFrame<'_>) {
        let idx = frame.idx();
        frame.header().clear_page();
        frame.release_to_free();
        self.push_free(idx);
    }

    fn push_free(&self, idx: FrameIdx) {
        self.core.frames.push_free(idx);
    }

    /// A new zeroed page of `file`: the lowest freed page number, or a new one at the end of the file. The page is
    /// dirty; it reaches the file when it is flushed, checkpointed or evicted.
    ///
    /// The number is this call's alone until it returns: a [`BufferPool::free_page`] of it meanwhile fails with
    /// [`Error::PageFreed`], and on an error the number goes back to the free list.
    ///
    /// A freed number whose stale copy the calling thread still holds a guard on (read after `free_page`) is
    /// skipped: the call takes the next freed number, or a new one, and the skipped number stays on the free list
    /// for a later call (once the guard is gone).
    ///
    /// # Errors
    /// - [`Error::FileNotOpen`]: no file is open under `file`, or it is being closed or dropped.
    /// - [`Error::FileFailed`]: the file has failed (its writes are refused).
    /// - [`Error::OutOfRange`]: the file has `u32::MAX` pages and no freed number to reuse.
    /// - [`Error::HeldByCaller`]: only when nothing else is possible: the file has `u32::MAX` pages and the
    ///   calling thread holds a guard on the stale copy of every freed number (it names the lowest). Drop a guard
    ///   first.
    /// - Taking a frame, as a miss does: [`Error::PoolExhausted`], [`Error::AllProtected`], a dirty victim's failed
    ///   write: [`Error::VictimWrite`] naming the victim, its file's path and its error, for a victim of another
    ///   file (whose log or device failed, not this file's); the error itself ([`Error::Io`], [`Error::NoSpace`],
    ///   [`Error::Wal`], [`Error::WalNoSpace`], [`Error::FileFailed`]) for a page of `file`;
    ///   [`Error::Panicked`] (the storage, the WAL or the eviction veto panicked).
    ///
    /// Never [`Error::PageFreed`]: a freed number this call took cannot be freed again before it returns (O5 in
    /// RELIABILITY.md).
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn new_page(&self, file: FileId) -> Result<WriteGuard<'_>> {
        let f = self.core.files.get(file)?;
        if f.is_failed() {
            return Err(f.failed_error());
        }
        if f.is_closing() {
            return Err(Error::FileNotOpen(file));
        }
        // The frame first, so that a full pool leaves no page number to give back. The file is not held while the
        // frame is taken, which can wait (for a frame, a victim's write, the engine's veto): a file dropped
        // meanwhile stayed open past `drop_file`'s return (R26-1 in RELIABILITY.md; R25-12 for a miss). Taken up
        // again after; a sweep that ran meanwhile left it closing, which the check after the mapping sees.
        let hint = PageId::new(file, f.pages.load(Relaxed));
        let weak = Arc::downgrade(&f);
        drop(f);
        let mut frame = self.acquire_frame(hint, true)?;
        // The frame is the pool's own until this returns (released, or the caller's guard).
        let _taken = EndTaken(self);
        let Some(f) = weak.upgrade() else {
            self.release_unmapped(frame);
            return Err(Error::FileNotOpen(file));
        };
        let (idx, h) = (frame.idx(), frame.header());
        frame.page_mut().fill(0);
        h.lsn.store(0, Relaxed);
        // Number and map the page under the file's allocation lock. A page past the old end becomes visible to
        // readers (the page count) only after it is mapped, so a concurrent read of it waits for this frame
        // instead of reading past the end of the storage (U7 in RELIABILITY.md). A reused number is this call's
        // (an `Allocation`, `free_pages.rs`) from the moment it leaves the free list: dropped on any error below,
        // it goes back.
        //
        // A freed number whose stale copy the calling thread holds (a read guard it took after `free_page`) cannot
        // be reused now: `new_page_over_stale` would wait for the caller itself. It is skipped, kept by this call
        // (so it is not taken again) and goes back on the list when the call returns, whatever the outcome; the
        // next freed number, or a new one, is taken instead (P2). While skipped, its stale copy stays mapped (the
        // caller's guard pins it), so no load of it runs to see it unlisted, and it is still marked freed.
        // Declared before `free`: skipped numbers go back on the list after the lock is released (drop order).
        let mut skipped: Vec<crate::free_pages::Allocation<'_>> = Vec::new();
        let mut free = f.free.lock();
        let (page, reused, stale) = loop {
            let reused = f.free.take_freed(&mut free);
            let page_no = match &reused {
                Some(a) => a.page_no(),
                None => {
                    let n = f.pages.load(Acquire);
                    if n == u32::MAX {
                        drop(free);
                        self.release_unmapped(frame);
                        return Err(match skipped.first() {
                            // Nothing else is possible: the guard is what stands in the way.
                            Some(a) => Error::HeldByCaller {
                                page: PageId::new(file, a.page_no()),
                            },
                            None => Error::OutOfRange {
                                page: PageId::new(file, n),
                                pages: n,
                            },
                        });
                    }
                    n
                }
            };
            let page = PageId::new(file, page_no);
            h.page_id.store(page.as_u64(), SeqCst);
            match self.core.frames.map(page, idx) {
                Ok(()) => break (page, reused, false),
                Err(copy) => match reused {
                    // The caller's latch on the copy keeps it in its frame, holding this page: stable here.
                    Some(a) if self.header(copy).held_by_caller() => skipped.push(a),
                    reused => break (page, reused, true),
                },
            }
        };
        let page_no = page.page_no();
        if stale {
            drop(free);
            match self.new_page_over_stale(&f, page, frame)? {
                Ok(g) => {
                    if let Some(a) = reused {
                        a.hand_out();
                    }
                    return Ok(g);
                }
                Err(mapped) => {
                    frame = mapped;
                    free = f.free.lock();
                }
            }
        }
        // A new number is this call's too from the moment the page count shows it.
        let allocation = match reused {
            Some(a) => a,
            None => {
                f.pages.store(page_no + 1, Release);
                f.free.take_new(&mut free, page_no)
            }
        };
        drop(free);
        f.note_new(page_no);
        // A sweep of the file may have passed this frame before we mapped it (SeqCst page id store, then this
        // SeqCst load; the sweep stores `closing`, then loads page ids): undo, or the page would outlive the file
        // (F1 in RELIABILITY.md).
        if f.is_closing() {
            // The number goes back on the free list first, while this frame still maps the page under our latch
            // (lock order: the frame's latch, then the list's mutex): a load waiting for the frame then maps a
            // copy of its own and finds the number listed, so it marks the copy freed. Unmapped first, a load in
            // between kept an unmarked copy of a listed page, which took write guards (L11-8, as L11-7).
            drop(allocation);
            self.core.frames.unmap(page, idx);
            self.release_unmapped(frame);
            return Err(Error::FileNotOpen(file));
        }
        self.mark_dirty(h);
        {
            let _for = crate::held::for_callback("Policy::on_insert", [h]);
            self.core.policy.on_insert(idx, page.as_u64());
        }
        allocation.hand_out();
        Ok(WriteGuard::new(frame, page, self.core.clean_write_guards))
    }

    /// `new_page` found its (freed, reused) page mapped already: a stale copy someone read after `free_page`, or
    /// such a read still in flight. `idx` is `new_page`'s frame, exclusively latched. Waits for the stale copy and
    /// returns it zeroed (our frame goes back clean: F2); if the stale read fails instead, its error is not
    /// `new_page`'s (M1): maps `frame` once the failed load has unmapped the page and gives it back (`Err`),
    /// leaving the caller to finish as for any new page. On any other error the caller's `Allocation` puts the
    /// page number back on the free list.
    ///
    /// The page is freed no more while this runs: the caller owns its number, so no `free_page` can put it back
    /// on the list, and the load this may do (the stale copy evicted meanwhile) never sees it freed (O5).
    #[cfg_attr(debug_assertions, track_caller)]
    fn new_page_over_stale<'p>(
        &'p self,
        f: &FileEntry,
        page: PageId,
        frame: ExclusiveFrame<'p>,
    ) -> Result<std::result::Result<WriteGuard<'p>, ExclusiveFrame<'p>>> {
        let (idx, h) = (frame.idx(), frame.header());
        h.page_id.store(PageId::INVALID.as_u64(), SeqCst);
        f.note_new(page.page_no());
        loop {
            // Not `write`: a stale copy is marked freed, and this is the page's reuse. While this waits for the
            // copy, `frame` waits on whoever holds it (a reader's guard, for as long as the reader likes): not
            // counted as the pool's own hold meanwhile, so a miss that finds both latched fails as for guards
            // rather than waiting a second for this frame (R33-2); counted again once the wait returns.
            let stale = {
                let _waiting = OnGuard::new(self);
                self.fix(page, Mode::Exclusive)
            };
            match stale.map(|stale| stale.exclusive()) {
                Ok(stale) => {
                    self.release_unmapped(frame);
                    if f.is_closing() {
                        // The file is being closed or dropped, or the id names another file by now (dropped,
                        // reopened under the same id: M7). The number goes back on the list when this returns,
                        // so the copy must stay refused to writers, as a freed page's (L11-7: it was unmarked
                        // and made dirty before this check, and a `write` succeeded once the close had failed).
                        // Marked only if it is this file's (another file's page is not ours to mark); this
                        // call's own load of it, if it was evicted meanwhile, did not mark it, since the call
                        // owned the number.
                        let ours = self.core.files.get(page.file()).is_ok_and(|cur| std::ptr::eq(&*cur, f));
                        if ours {
                            stale.header().freed.store(true, Relaxed);
                        }
                        stale.release_unchanged();
                        return Err(Error::FileNotOpen(page.file()));
                    }
                    let sh = stale.header();
                    sh.freed.store(false, Relaxed);
                    self.mark_dirty(sh);
                    let mut g = WriteGuard::new(stale, page, self.core.clean_write_guards);
                    g.fill(0);
                    g.set_lsn(0);
                    return Ok(Ok(g));
                }
                // The stale read failed and unmapped the page: a new page's content never comes from storage.
                // `PageFreed` is such a failure too: a stale read of a never-written page that asked the free list
                // while the number was still listed (before this call took it) records `PageFreed` for its
                // waiters (`finish_load`), and this call waited on it. This call's own load cannot see the number
                // listed: it owns it.
                Err(
                    Error::Io { .. }
                    | Error::ShortRead { .. }
                    | Error::Corrupt { .. }
                    | Error::Panicked { .. }
                    | Error::PageFreed { .. },
                ) => {
                    h.page_id.store(page.as_u64(), SeqCst);
                    if self.core.frames.map(page, idx).is_ok() {
                        return Ok(Err(frame));
                    }
                    h.page_id.store(PageId::INVALID.as_u64(), SeqCst);
                }
                Err(e) => {
                    debug_assert!(
                        !matches!(e, Error::PageFreed { .. }),
                        "{page} freed while new_page owned it"
                    );
                    self.release_unmapped(frame);
                    if f.is_closing() {
                        // The id names another file by now (M7): this one is gone.
                        return Err(Error::FileNotOpen(page.file()));
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Returns `page` to its file's free list (reused by a later [`BufferPool::new_page`]) and discards its
    /// cached copy unwritten. The free list lives in memory: an engine that needs it across restarts keeps its
    /// own record (as every engine keeps its free-space map), and re-frees those pages after reopening.
    ///
    /// Exactly one `free_page` of an allocated page succeeds: the call claims the page number from its user first
    /// (`free_pages.rs`), so a second call, at the same time or later, fails with [`Error::PageFreed`] until a
    /// `new_page` has returned the number again.
    ///
    /// Once it returns `Ok`, the page is freed for every thread: a [`BufferPool::write`] of it fails with
    /// [`Error::PageFreed`] until `new_page` reuses the number, and so does a read when the page has no image in
    /// the file (a read of its last image is served: a reader following a stale pointer validates what it reads).
    /// A `read` or `write` that runs at the same time either comes first (its guard, if it still holds one, makes
    /// this call wait for it) or sees the page freed: none keeps a copy that takes write guards afterwards (P1 in
    /// RELIABILITY.md).
    ///
    /// # Errors
    /// - [`Error::PageFreed`]: the page is not the caller's to free: it is on the free list already, another
    ///   `free_page` of it is running, or a [`BufferPool::new_page`] is giving the number out (a double free).
    ///   A call made before a close (or drop) and reopen of the file may look the file up after the reopen (the
    ///   id names the newer file): it frees the newer file's page of that number, or meets this error.
    /// - [`Error::OutOfRange`]: the file has no such page.
    /// - [`Error::FileNotOpen`]: no file is open under the id, or it is being closed or dropped.
    /// - [`Error::PageLatched`]: a guard holds the page for more than about a second (or other threads' reads
    ///   load it again each time its copy leaves, for as long); [`Error::HeldByCaller`]: the calling thread holds
    ///   a guard on it. The page is not freed, and its cached copy is kept.
    pub fn free_page(&self, page: PageId) -> Result<()> {
        let f = self.core.files.get(page.file())?;
        let pages = f.pages.load(Acquire);
        if page.page_no() >= pages {
            return Err(Error::OutOfRange { page, pages });
        }
        // "Is it the user's?" and "it is this call's" in one step under the list's lock: from here until the
        // number is on the list, no other `free_page` passes this check and no `new_page` can take it. On an
        // error below, the claim drops and the page is the user's again.
        let Some(mut claim) = f.free.claim(page.page_no()) else {
            return Err(Error::PageFreed { page });
        };
        // The number goes on the list only when no load can keep an unmarked copy of the page (P1): with no copy
        // mapped, confirmed under the list's lock, which every load asks after mapping its copy
        // (`commit_unless_cached`); or with the copy latched exclusively here, so no load of the page runs until
        // it is discarded, after the commit. Every failure below comes before anything changed: the claim drops
        // and the page is the user's, cached copy included.
        let mut backoff = Backoff::new();
        let mut deadline = None;
        loop {
            let idx = match claim.commit_unless_cached(|| self.core.frames.lookup_exact(page)) {
                Ok(()) => return Ok(()),
                Err((back, idx)) => {
                    claim = back;
                    idx
                }
            };
            let h = self.header(idx);
            match self.try_latch_exclusive_held(idx) {
                Ok((frame, _held)) if frame.page_id() == page => {
                    if f.is_closing() {
                        // The file is being closed or dropped: the call fails as one made after the close would.
                        // (The frame cannot hold a newer file's page of the same id: no file is registered under
                        // the id while this call holds `f`, `Files::retired`.)
                        frame.release_unchanged();
                        return Err(Error::FileNotOpen(page.file()));
                    }
                    // Lock order: this frame's latch, then the list's mutex (as a load asking `is_free`).
                    claim.commit();
                    self.discard(frame, page);
                    return Ok(());
                }
                // The copy left the frame after the lookup (evicted, its load failed): look again.
                Ok((frame, _held)) => frame.release_unchanged(),
                Err(TryLatch::Busy { .. }) if h.page_id() == page => {
                    if h.held_by_caller() {
                        return Err(h.caller_hold_error(page));
                    }
                    backoff.snooze_on(&h.state, LatchWait::Exclusive);
                }
                // Free, or busy with another page: the copy left too.
                Err(_) => {}
            }
            // Bounded as the other exclusive waits: a guard holding the copy (or loads bringing it back each time
            // it leaves) for about a second ends the call.
            let now = std::time::Instant::now();
            if now >= *deadline.get_or_insert(now + LATCH_WAIT_MAX) {
                return Err(Error::PageLatched { page });
            }
        }
    }

    /// Checkpoints and closes every file. One failed file does not stop the others from being written, synced
    /// and closed; the error names the failed files (as [`BufferPool::checkpoint`]'s), and a failed file that
    /// could not be closed stays open in the pool until it is dropped. Dropping a pool does not write anything:
    /// call this (or [`BufferPool::checkpoint`]) to make dirty pages durable. A pool shared through an `Arc`
    /// calls [`BufferPool::close_all`] instead.
    pub fn close(self) -> Result<()> {
        self.close_all()
    }

    /// [`BufferPool::close`] through a shared reference (an `Arc<BufferPool>`): checkpoints, then closes every
    /// file open when it starts ([`BufferPool::close_file`]: dirty pages written, file synced, its pages
    /// discarded). The pool stays usable and, unless other threads opened files meanwhile, holds no page and no
    /// file afterwards. A file with a page latched by a guard for more than about a second is left open
    /// ([`Error::PageLatched`]); so is one whose writes fail.
    pub fn close_all(&self) -> Result<()> {
        let mut report = self.checkpoint_report();
        // Ids and paths, not the entries: a file dropped by another thread while this closes an earlier one must
        // not stay open past that drop's return (R25-11 in RELIABILITY.md).
        let open: Vec<(FileId, Option<PathBuf>)> =
            self.core.files.all().iter().map(|f| (f.id, f.path.clone())).collect();
        for (id, path) in open {
            if let Err(e) = self.close_file(id) {
                match report.files.iter_mut().find(|o| o.file == id) {
                    Some(o) if o.result.is_ok() => o.result = Err(e),
                    Some(_) => {}
                    None => report.files.push(crate::writer::FileOutcome {
                        file: id,
                        path,
                        result: Err(e),
                    }),
                }
            }
        }
        report.into_result()
    }

    // ---------------------------------------------------------------------------------------------------------
    // Statistics

    /// One open file's facts and counts since it was opened: hits, misses, pages read and written (the entry of
    /// [`Stats::files`] for it, without scanning the frames).
    pub fn file_stats(&self, file: FileId) -> Result<crate::FileStats> {
        Ok(self.core.files.get(file)?.stats(&self.core.counters))
    }

    /// Counters since the pool was built, and a scan of the frames (resident and dirty counts) and files.
    pub fn stats(&self) -> Stats {
        let mut s = self.core.counters.snapshot();
        s.frames = self.frames();
        for h in self.core.frames.headers().iter() {
            if h.page_id() != PageId::INVALID {
                s.resident += 1;
                s.dirty += h.dirty.load(Relaxed) as usize;
            }
            let lock = h.state.load() & crate::frame::LOCK_MASK;
            s.latched += (lock != crate::frame::UNLATCHED && lock != crate::frame::FREE) as usize;
        }
        s.files = self
            .core
            .files
            .all()
            .iter()
            .map(|f| f.stats(&self.core.counters))
            .collect();
        s.written_lsn_bytes = s.files.iter().map(|f| f.written_lsn_bytes).sum();
        [s.read_latency, s.write_latency, s.sync_latency] = self.core.files.latency().snapshot();
        s
    }
}

fn view_result<R>(view: &PageView<'_>, r: R) -> Result<R> {
    match view.bad.get() {
        Some((offset, len)) => Err(Error::InvalidAccess { offset, len }),
        None => Ok(r),
    }
}

impl Drop for BufferPool {
    /// Stops the pool's threads (the writer finishes its round; queued prefetches complete). Writes nothing else:
    /// see [`BufferPool::close`]. When it returns, every file the pool had open is closed (its descriptors, its
    /// lock): nothing of the pool outlives it, except, with the io_uring backend, a request the kernel ran on its
    /// worker and whose free it deferred to a pool thread's ring, which goes when that ring is torn down with its
    /// thread (asynchronously, in the kernel).
    fn drop(&mut self) {
        if let Some(mut bg) = self.background.take() {
            drop(bg.stop_tx.take());
            drop(bg.prefetch_tx);
            for t in bg.threads {
                let _ = t.join();
            }
        }
        // Every hold of the pool's own has ended (no guard or call can outlive the pool): a count left behind
        // would make every later exhaustion wait a second (R32-1).
        if !std::thread::panicking() {
            debug_assert_eq!(
                self.own_holds().map(HoldCount::holds),
                [0, 0, 0],
                "the pool's own holds (taken frames, I/O latches, takers) left counted at its drop"
            );
        }
    }
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool")
            .field("frames", &self.frames())
            .field("page_size", &self.page_size())
            .field("policy", &self.core.policy.name())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::sync::Weak;

    use super::*;

    thread_local! {
        /// The pool thread (I/O workers first, then the writer) whose spawn this thread's next build refuses.
        static REFUSE_SPAWN: Cell<Option<usize>> = const { Cell::new(None) };
        /// The core of the build whose spawn was refused, kept weakly to see it freed.
        static REFUSED_CORE: RefCell<Option<Weak<Core>>> = const { RefCell::new(None) };
    }

    /// Test hook of `start_background`: refuses the spawn of thread `n` if the test asked for it.
    pub(super) fn refuse_spawn(n: usize, core: &Arc<Core>) -> std::io::Result<()> {
        if REFUSE_SPAWN.get() != Some(n) {
            return Ok(());
        }
        REFUSED_CORE.set(Some(Arc::downgrade(core)));
        Err(std::io::Error::other("spawn refused by the test"))
    }

    /// `io_threads` whose spawn fails after others were spawned (session 18 left it unchecked): the build is
    /// refused with `InvalidConfig` and the threads already started are stopped and joined, so nothing holds the
    /// pool's core (its frames, its page table) once `build` has returned.
    #[test]
    fn a_refused_spawn_leaves_no_thread_behind() {
        // The first I/O worker, one after two were started, and the writer after all four.
        for refused in [0, 2, 4] {
            REFUSE_SPAWN.set(Some(refused));
            let built = BufferPool::builder()
                .frames(16)
                .io_threads(4)
                .background_writer(WriterConfig::for_frames(16))
                .build();
            REFUSE_SPAWN.set(None);
            assert!(
                matches!(built, Err(Error::InvalidConfig(_))),
                "refused at {refused}: {built:?}"
            );
            let core = REFUSED_CORE.take().expect("the hook ran");
            assert!(
                core.upgrade().is_none(),
                "refused at {refused}: a pool thread still holds the core"
            );
        }
        // The hook off, the same build starts.
        let pool = BufferPool::builder().frames(16).io_threads(4).build().unwrap();
        drop(pool);
    }
}
