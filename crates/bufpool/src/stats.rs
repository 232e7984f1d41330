//! Counters and their snapshot.
//!
//! Owns [`Stats`] (the public snapshot) and the striped counters behind it. A hit increments a counter, so a
//! single shared `AtomicU64` would bounce one cache line between every core on every hit; and any `lock`-prefixed
//! increment is a full barrier on x86, which stops consecutive hits' cache misses from overlapping. So each thread
//! owns one cache-padded stripe while it lives (a slot taken from a global table, given back when the thread
//! exits) and increments it with a plain load and store: exact, because a stripe has one writer. Threads beyond
//! the table's size share a last stripe with atomic adds. [`Counters::snapshot`] sums the stripes. The counting
//! path reads the thread's stripe index from a `const` thread-local `Cell` with no destructor (one load; the
//! claim itself, which has one, is touched only by a thread's first count and its exit), and the stripes are a
//! fixed-size array, so the index it has just compared with `OWNED_STRIPES` needs no bounds check.
//!
//! # Per-file counts
//! Misses, reads and writes are counted per file as well, in the file's [`FileCounters`] (atomic adds: they sit
//! beside a page read or write, which costs microseconds). Hits cannot take a file lookup or a shared atomic, so
//! they are counted per file in the stripes themselves: a stripe has [`HIT_SLOTS`] hit counters, and a hit on file
//! `f` increments slot `f mod HIT_SLOTS` of the thread's stripe, an index computed from the page id the hit path
//! already holds (a mask and an add more than a single hit counter; the pool's `hits` is the sum of the slots).
//! A file's hits are its slot's sum minus the slot's sum when the file was opened, exact as long as no other
//! file used the slot while it was open; when two open files share a slot (ids equal modulo [`HIT_SLOTS`]) both
//! report their hits as unknown rather than wrong ([`FileStats::hits`] is `None`).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};

use crossbeam_utils::CachePadded;

use crate::error::Plural;
use crate::latency::Latency;
use crate::page::FileId;

/// What a counter counts. The order is the order of the fields of [`Stats`].
#[derive(Clone, Copy, Debug)]
#[repr(usize)]
pub(crate) enum Counter {
    Misses,
    Reads,
    Writes,
    Evictions,
    DirtyEvictions,
    CorruptPages,
    OptimisticRetries,
    OptimisticFallbacks,
    Syncs,
    WalFlushes,
    ReadErrors,
    WriteErrors,
    Exhausted,
    VetoSkips,
    LatchedSkips,
    SingleFlightWaits,
    Prefetched,
    FreshReads,
    LostWrites,
    FailedPagesDropped,
    SnapshotSkips,
    WriterWrites,
    CheckpointWrites,
    FlushWrites,
    WrittenLsnsDropped,
    FilesReleasedLate,
    WriteWaits,
    DoublewriteBatches,
    DoublewriteRestored,
}

const COUNTERS: usize = Counter::DoublewriteRestored as usize + 1;
/// Hit counters per stripe, one per file slot (a power of two: a file's slot is its id's low bits).
pub(crate) const HIT_SLOTS: usize = 256;
const _: () = assert!(HIT_SLOTS.is_power_of_two());
/// A stripe: the counters, then the hit slots.
const STRIPE: usize = COUNTERS + HIT_SLOTS;
/// Stripes owned by one thread each; the stripe after them is shared by any further threads.
pub(crate) const OWNED_STRIPES: usize = 64;

/// The pool's counters, one stripe per thread. A fixed-size array, so an index checked below `OWNED_STRIPES`
/// (as the counting path checks it anyway, to choose a plain or an atomic add) needs no bounds check.
pub(crate) struct Counters {
    stripes: Box<[CachePadded<[AtomicU64; STRIPE]>; OWNED_STRIPES + 1]>,
}

/// The hit slot of `file`'s hits.
#[inline(always)]
pub(crate) fn hit_slot(file: FileId) -> usize {
    file.0 as usize & (HIT_SLOTS - 1)
}

/// Which owned stripe slots are taken, by live threads, across every pool of the process.
static SLOT_TAKEN: [AtomicBool; OWNED_STRIPES] = [const { AtomicBool::new(false) }; OWNED_STRIPES];

/// A thread's claim on a stripe slot; gives it back when the thread exits.
struct Slot(usize);

impl Slot {
    fn claim() -> Slot {
        let start = NEXT_STRIPE.fetch_add(1, Relaxed);
        for k in 0..OWNED_STRIPES {
            let i = (start + k) % OWNED_STRIPES;
            if SLOT_TAKEN[i].compare_exchange(false, true, Acquire, Relaxed).is_ok() {
                MY_STRIPE.set(i);
                return Slot(i);
            }
        }
        MY_STRIPE.set(OWNED_STRIPES);
        Slot(OWNED_STRIPES)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.0 < OWNED_STRIPES {
            // From here on the thread's counts (other thread-locals' destructors may still count) go to the
            // shared stripe, with atomic adds: the slot is about to be another thread's.
            MY_STRIPE.set(OWNED_STRIPES);
            // Release: the next owner's plain increments start from everything this thread added.
            SLOT_TAKEN[self.0].store(false, Release);
        }
    }
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

/// [`MY_STRIPE`] before the thread's first count has claimed a slot.
const UNCLAIMED: usize = usize::MAX;

thread_local! {
    /// The thread's claim on a stripe slot, made at its first count and given back when it exits.
    static SLOT: Slot = Slot::claim();
    /// The claimed slot's index (`OWNED_STRIPES`: the shared stripe, also once the claim is given back at thread
    /// exit), or [`UNCLAIMED`]. A copy of `SLOT`'s for the counting path: a `Cell` made by a `const` and needing
    /// no destructor, so reading it is one load, with none of the lazy initialisation's and teardown's checks
    /// that reading `SLOT` costs.
    static MY_STRIPE: Cell<usize> = const { Cell::new(UNCLAIMED) };
}

/// The calling thread's stripe, `0..=OWNED_STRIPES` (the last one shared by threads past the first 64 and by
/// threads being torn down). Also spreads threads over the free list's per-core caches (`frames.rs`).
#[inline]
pub(crate) fn thread_stripe() -> usize {
    match MY_STRIPE.get() {
        UNCLAIMED => SLOT.try_with(|s| s.0).unwrap_or(OWNED_STRIPES),
        stripe => stripe,
    }
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters {
            // Built on the heap (150 KiB), then typed as the fixed-size array it is.
            stripes: (0..=OWNED_STRIPES)
                .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect::<Box<[_]>>()
                .try_into()
                .unwrap_or_else(|_| unreachable!("OWNED_STRIPES + 1 stripes were made")),
        }
    }

    #[inline]
    pub(crate) fn add(&self, c: Counter, n: u64) {
        self.add_at(c as usize, n);
    }

    /// Counts a hit on a page of `file` (see "Per-file counts").
    #[inline]
    pub(crate) fn hit(&self, file: FileId) {
        self.add_at(COUNTERS + hit_slot(file), 1);
    }

    /// Counts `n` of `c` for the pool and for one file (misses, reads, writes).
    #[inline]
    pub(crate) fn add_for(&self, file: &FileCounters, c: Counter, n: u64) {
        self.add(c, n);
        let cell = match c {
            Counter::Misses => &file.misses,
            Counter::Reads => &file.reads,
            Counter::Writes => &file.writes,
            _ => return,
        };
        cell.fetch_add(n, Relaxed);
    }

    #[inline(always)]
    fn add_at(&self, index: usize, n: u64) {
        let slot = MY_STRIPE.get();
        if slot < OWNED_STRIPES {
            // This thread is the stripe's only writer: no atomic read-modify-write (and no barrier) needed.
            let cell = &self.stripes[slot][index];
            cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
        } else {
            self.add_first_or_shared(index, n);
        }
    }

    /// [`Counters::add_at`] for a thread with no stripe of its own yet (its first count claims one), past the
    /// first 64 threads, or being torn down (its slot given back): the shared stripe then, with an atomic add.
    #[cold]
    #[inline(never)]
    fn add_first_or_shared(&self, index: usize, n: u64) {
        let slot = thread_stripe();
        let cell = &self.stripes[slot.min(OWNED_STRIPES)][index];
        if slot < OWNED_STRIPES {
            cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
        } else {
            cell.fetch_add(n, Relaxed);
        }
    }

    #[inline]
    pub(crate) fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    pub(crate) fn sum(&self, c: Counter) -> u64 {
        self.sum_at(c as usize)
    }

    fn sum_at(&self, index: usize) -> u64 {
        self.stripes.iter().map(|s| s[index].load(Relaxed)).sum()
    }

    /// Hits counted in `slot` since the pool was built, by every file that used it.
    pub(crate) fn slot_hits(&self, slot: usize) -> u64 {
        self.sum_at(COUNTERS + slot)
    }

    pub(crate) fn snapshot(&self) -> Stats {
        use Counter::*;
        Stats {
            hits: (0..HIT_SLOTS).map(|slot| self.slot_hits(slot)).sum(),
            misses: self.sum(Misses),
            reads: self.sum(Reads),
            writes: self.sum(Writes),
            evictions: self.sum(Evictions),
            dirty_evictions: self.sum(DirtyEvictions),
            corrupt_pages: self.sum(CorruptPages),
            optimistic_retries: self.sum(OptimisticRetries),
            optimistic_fallbacks: self.sum(OptimisticFallbacks),
            syncs: self.sum(Syncs),
            wal_flushes: self.sum(WalFlushes),
            read_errors: self.sum(ReadErrors),
            write_errors: self.sum(WriteErrors),
            exhausted: self.sum(Exhausted),
            veto_skips: self.sum(VetoSkips),
            latched_skips: self.sum(LatchedSkips),
            single_flight_waits: self.sum(SingleFlightWaits),
            prefetched: self.sum(Prefetched),
            fresh_reads: self.sum(FreshReads),
            lost_writes: self.sum(LostWrites),
            failed_pages_dropped: self.sum(FailedPagesDropped),
            snapshot_skips: self.sum(SnapshotSkips),
            writer_writes: self.sum(WriterWrites),
            checkpoint_writes: self.sum(CheckpointWrites),
            flush_writes: self.sum(FlushWrites),
            written_lsns_dropped: self.sum(WrittenLsnsDropped),
            files_released_late: self.sum(FilesReleasedLate),
            write_waits: self.sum(WriteWaits),
            doublewrite_batches: self.sum(DoublewriteBatches),
            doublewrite_restored: self.sum(DoublewriteRestored),
            ..Stats::default()
        }
    }
}

/// One open file's counts (see "Per-file counts" in the module docs).
pub(crate) struct FileCounters {
    misses: AtomicU64,
    reads: AtomicU64,
    writes: AtomicU64,
    /// Its hit slot's count when the file was opened.
    hits_base: u64,
    /// Another file used the slot while this one was open: its hits cannot be told apart.
    hits_shared: AtomicBool,
}

impl FileCounters {
    /// The counts of a file opened now, whose hit slot had counted `hits_base`.
    pub(crate) fn new(hits_base: u64) -> FileCounters {
        FileCounters {
            misses: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            hits_base,
            hits_shared: AtomicBool::new(false),
        }
    }

    /// Another open file shares this file's hit slot.
    pub(crate) fn share_hits(&self) {
        self.hits_shared.store(true, Relaxed);
    }

    /// Fills `stats`'s counts; `slot_hits` is the file's hit slot's count now.
    pub(crate) fn fill(&self, stats: &mut FileStats, slot_hits: u64) {
        stats.hits = (!self.hits_shared.load(Relaxed)).then(|| slot_hits.wrapping_sub(self.hits_base));
        stats.misses = self.misses.load(Relaxed);
        stats.reads = self.reads.load(Relaxed);
        stats.writes = self.writes.load(Relaxed);
    }
}

/// A snapshot of the pool's counters (monotonic since the pool was built) and of its state.
///
/// What the figures promise (tested in `tests/stats_agree.rs`, R34-O3 in RELIABILITY.md):
/// - **At rest** (no call in flight, no prefetch loading): `reads == read_latency.count`,
///   `syncs == sync_latency.count`, `write_latency.count <= writes`, and `writes` is the sum of `dirty_evictions`,
///   `writer_writes`, `checkpoint_writes` and `flush_writes`. Each page asked for by `read`, `write`,
///   `read_optimistic`, a [`crate::ScanRing`]'s read or `read_many` is one hit, one miss or one `exhausted`
///   (when the only errors are for want of a frame: a call refused before any lookup, such as `OutOfRange`,
///   counts nothing), and each page [`crate::BufferPool::prefetch`] loads is one miss. The open files' `hits`,
///   `misses`, `reads` and `writes` ([`FileStats`]) plus those of the files closed or dropped since the pool was
///   built are the pool's.
/// - **Per open**: a file's figures start from zero when it is opened, under any id; a file opened under the id
///   of a closed or dropped one inherits none of its figures (the old file's stay in the pool's totals only;
///   an optimistic read of the old file racing its close may still count its hit to the new one, R20-O2).
/// - **While other threads count**: the counters are read one at a time, not at one instant, so figures that
///   agree at rest may differ by the calls in flight; no counter ever goes back from one snapshot to the next,
///   and `dirty <= resident <= frames`, `latched <= frames` in every snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests served from a resident page.
    pub hits: u64,
    /// Requests that had to load the page (one per load: threads that waited for another's load count as hits).
    pub misses: u64,
    /// Page reads from storage.
    pub reads: u64,
    /// Page writes to storage.
    pub writes: u64,
    /// Pages evicted to free a frame.
    pub evictions: u64,
    /// Evictions that had to write the page first: the pages written by eviction (a miss that found no clean
    /// victim, or a scan ring's take-back). With `writer_writes`, `checkpoint_writes` and `flush_writes`, the
    /// pool's page writes by source (`close_file` and `drop_file` sweeps write as flushes).
    pub dirty_evictions: u64,
    /// Pages written by the background writer (its free-frame refill and its dirty-ratio rounds).
    pub writer_writes: u64,
    /// Pages written by checkpoints (`checkpoint`, `checkpoint_report`, `checkpoint_spread`, `close`).
    pub checkpoint_writes: u64,
    /// Pages written by explicit flushes (`flush`, `flush_file`, `close_file`).
    pub flush_writes: u64,
    /// Pages that failed verification on read.
    pub corrupt_pages: u64,
    /// Optimistic reads re-run because the page changed underneath.
    pub optimistic_retries: u64,
    /// Optimistic reads that gave up retrying and took a shared latch.
    pub optimistic_fallbacks: u64,
    /// File syncs (fsync/fdatasync) issued.
    pub syncs: u64,
    /// Calls to the WAL's `flush_to` before page writes.
    pub wal_flushes: u64,
    /// Failed page reads (I/O errors and short reads; corruption is counted separately).
    pub read_errors: u64,
    /// Failed page writes and syncs.
    pub write_errors: u64,
    /// Requests refused with [`crate::Error::PoolExhausted`].
    pub exhausted: u64,
    /// Eviction candidates skipped because the engine's veto protected them.
    pub veto_skips: u64,
    /// Eviction candidates skipped because they were latched (pinned).
    pub latched_skips: u64,
    /// Requests that found their page latched in a conflicting mode by another thread (being loaded: single
    /// flight; or held by a writer, readers, or a flush) and waited for it. Counted once per request.
    pub single_flight_waits: u64,
    /// Page write-backs (a flush, a checkpoint, the background writer) that found another write-back of the same
    /// page in flight and waited for it to end before looking at the page again (R49-1 in RELIABILITY.md: two at
    /// once, the later write could land after the other's sync). Counted once per page a write-back waited for.
    pub write_waits: u64,
    /// Batches of pages written into files' doublewrite areas before their in-place writes
    /// ([`crate::FileOptions::doublewrite`]): one area write and sync each.
    pub doublewrite_batches: u64,
    /// Pages found torn (failing verification) when a file with a doublewrite area was opened, and restored from
    /// their copies in it.
    pub doublewrite_restored: u64,
    /// Loads started by [`crate::BufferPool::prefetch`].
    pub prefetched: u64,
    /// All-zero pages read from storage and handed out as pages never written (a hole, or a page allocated and
    /// not yet written before a crash; also a lost write in a file without a record, or with strict mode off).
    pub fresh_reads: u64,
    /// All-zero pages refused as lost writes (strict mode: below the file record's written mark; also counted in
    /// `corrupt_pages`).
    pub lost_writes: u64,
    /// Unwritable pages of failed files (dirty, or written since the file's last good sync) dropped from the pool
    /// to keep each failed file within [`Builder::failed_file_frames`](crate::Builder::failed_file_frames). Their
    /// changes are lost; a later read of one returns the file's `FileFailed` error.
    pub failed_pages_dropped: u64,
    /// Eviction candidates skipped because an open snapshot protected them: their LSN is at or above the oldest
    /// open snapshot's ([`crate::SnapshotTracker`], [`crate::Builder::snapshots`]).
    pub snapshot_skips: u64,
    /// Entries of the stale-write check's tables forgotten to keep each file's table within
    /// [`Builder::stale_check_pages`](crate::Builder::stale_check_pages) (or because their memory could not be
    /// allocated): pages written (or expected by [`crate::BufferPool::expect_lsn`]) whose dropped write would no
    /// longer be caught, nor listed by [`crate::BufferPool::written_lsns`] (R23-10 in RELIABILITY.md).
    pub written_lsns_dropped: u64,
    /// Closes and drops of a file ([`crate::BufferPool::close_file`], [`crate::BufferPool::drop_file`]) that returned
    /// after waiting their bound (about a second) for another call that still held the file, such as a storage
    /// call that hangs: that file's descriptors (and its lock) stayed open past the return, until the call let go
    /// (R26-O1 in RELIABILITY.md). Zero unless a storage call outlasts the bound.
    pub files_released_late: u64,
    /// Bytes of the stale-write check's tables of the open files at the time of the snapshot (the sum of
    /// [`FileStats::written_lsn_bytes`]).
    pub written_lsn_bytes: usize,
    /// Frames in the pool.
    pub frames: usize,
    /// Frames holding a page at the time of the snapshot.
    pub resident: usize,
    /// Frames holding a dirty page at the time of the snapshot.
    pub dirty: usize,
    /// Frames latched (by guards or by the pool's own I/O) at the time of the snapshot: a figure that stays
    /// high points at long-held or leaked guards ([`crate::BufferPool::held_latches`] lists them).
    pub latched: usize,
    /// Open files.
    pub files: Vec<FileStats>,
    /// Latencies of page reads from storage: one sample per page read (a batch's requests each record the batch's
    /// time), so its count equals `reads`. See [`Latency`] for the precision.
    pub read_latency: Latency,
    /// Latencies of storage writes: one sample per run of up to [`crate::RUN_PAGES_MAX`] consecutive pages
    /// written (a `write_at` call, or one write of a submission, which records the submission's time), so the count
    /// is at most `writes`, which counts pages.
    pub write_latency: Latency,
    /// Latencies of file syncs: one sample per sync, so its count equals `syncs`.
    pub sync_latency: Latency,
}

impl Stats {
    /// Hits over all requests (1.0 when there were none).
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            1.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// A readable multi-line summary: the pool's occupancy, then requests, I/O, evictions, waits and errors, then one
/// line per open file. For logs and command-line tools; parse the fields, not this text.
impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // "label value" pairs, so no count needs a plural.
        writeln!(
            f,
            "frames {}: resident {}, dirty {}, latched {}",
            self.frames, self.resident, self.dirty, self.latched
        )?;
        writeln!(
            f,
            "requests {}: hits {}, misses {} (hit ratio {:.1}%), prefetched {}",
            self.hits + self.misses,
            self.hits,
            self.misses,
            self.hit_ratio() * 100.0,
            self.prefetched
        )?;
        writeln!(
            f,
            "I/O: pages read {}, pages written {} (eviction {}, writer {}, checkpoint {}, flush {}), syncs {}, WAL flushes {}",
            self.reads,
            self.writes,
            self.dirty_evictions,
            self.writer_writes,
            self.checkpoint_writes,
            self.flush_writes,
            self.syncs,
            self.wal_flushes
        )?;
        if self.doublewrite_batches > 0 || self.doublewrite_restored > 0 {
            writeln!(
                f,
                "doublewrite: batches {}, torn pages restored at open {}",
                self.doublewrite_batches, self.doublewrite_restored
            )?;
        }
        writeln!(
            f,
            "evictions {}: dirty {}; skipped latched {}, snapshot {}, vetoed {}",
            self.evictions, self.dirty_evictions, self.latched_skips, self.snapshot_skips, self.veto_skips
        )?;
        writeln!(
            f,
            "waits for a latched page {}, for a write-back in flight {}; optimistic re-runs {}, fallbacks to a latch {}",
            self.single_flight_waits, self.write_waits, self.optimistic_retries, self.optimistic_fallbacks
        )?;
        writeln!(f, "read latency: {}", self.read_latency)?;
        writeln!(f, "write latency: {}", self.write_latency)?;
        writeln!(f, "sync latency: {}", self.sync_latency)?;
        write!(
            f,
            "errors: corrupt pages {}, read errors {}, write errors {}, exhausted {}",
            self.corrupt_pages, self.read_errors, self.write_errors, self.exhausted
        )?;
        for file in &self.files {
            write!(f, "\n{file}")?;
        }
        Ok(())
    }
}

/// One line: id, path (or "no path" for a storage opened directly), backend, O_DIRECT, size, counts, failure.
impl std::fmt::Display for FileStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.file)?;
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => write!(f, "no path")?,
        }
        let direct = if self.direct { "O_DIRECT" } else { "buffered" };
        write!(
            f,
            " ({}, {direct}, {})",
            self.backend,
            Plural(u64::from(self.pages), "page")
        )?;
        match self.hits {
            Some(hits) => write!(f, ": hits {hits}")?,
            None => write!(f, ": hits unknown (shared slot)")?,
        }
        write!(
            f,
            ", misses {}, pages read {}, pages written {}",
            self.misses, self.reads, self.writes
        )?;
        if self.failed {
            write!(f, ", FAILED: refuses writes")?;
        }
        Ok(())
    }
}

/// Per-file facts in [`Stats`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStats {
    /// The file's id.
    pub file: FileId,
    /// The path it was opened from, if it is a file.
    pub path: Option<std::path::PathBuf>,
    /// The storage backend ("pread", "io_uring", "memory", ...).
    pub backend: &'static str,
    /// True when the file runs with O_DIRECT; false when buffered (the filesystem refused O_DIRECT, or asked).
    pub direct: bool,
    /// Pages allocated in the file.
    pub pages: u32,
    /// True once a write or sync failed: the file refuses writes.
    pub failed: bool,
    /// Bytes of the file's stale-write check table (the LSN of each page written in this open, or expected: at
    /// most [`Builder::stale_check_pages`](crate::Builder::stale_check_pages) pages, in chunks of 64 pages).
    pub written_lsn_bytes: usize,
    /// Requests for the file's pages served from the pool since it was opened; `None` if, since it was opened,
    /// another file whose id equals this one's modulo 256 was open beside it (hits are counted by the id's low
    /// byte to keep the hit path free of a file lookup, and two such files cannot be told apart: give files
    /// open together ids that differ in their low byte).
    pub hits: Option<u64>,
    /// Requests for the file's pages that loaded them (as [`Stats::misses`]).
    pub misses: u64,
    /// Pages of the file read from storage.
    pub reads: u64,
    /// Pages of the file written to storage.
    pub writes: u64,
}

impl FileStats {
    /// Hits over the file's requests: `None` if its hits are unknown (see [`FileStats::hits`]), 1.0 when there
    /// were no requests.
    pub fn hit_ratio(&self) -> Option<f64> {
        let hits = self.hits?;
        let total = hits + self.misses;
        Some(if total == 0 { 1.0 } else { hits as f64 / total as f64 })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A leaked pool's counters, for thread-locals' destructors (which outlive any borrow of a test's own).
    fn leaked() -> &'static Counters {
        Box::leak(Box::new(Counters::new()))
    }

    /// Every hit is counted exactly: by threads with a stripe of their own (plain adds), by threads past the 64
    /// owned stripes, all alive at once (atomic adds to the shared stripe), and by threads that took a slot
    /// another thread gave back at its exit.
    #[test]
    fn hits_of_many_threads_are_counted_exactly() {
        let c = leaked();
        let threads = OWNED_STRIPES + 8;
        let barrier = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let barrier = &barrier;
                s.spawn(move || {
                    c.hit(FileId(t as u32));
                    // Every thread holds its claim until all have made theirs.
                    barrier.wait();
                    for _ in 1..1000 {
                        c.hit(FileId(t as u32));
                    }
                });
            }
        });
        for _ in 0..4 {
            std::thread::spawn(move || (0..500).for_each(|_| c.hit(FileId(3))))
                .join()
                .unwrap();
        }
        assert_eq!(c.snapshot().hits, threads as u64 * 1000 + 2000);
        assert_eq!(c.slot_hits(3), 1000 + 2000);
        assert_eq!(c.slot_hits(threads), 0);
    }

    /// Counts made at thread exit, by a thread-local's destructor that runs after the thread's stripe was given
    /// back (it was first used before the thread's first count, so it is destroyed after the claim), are kept:
    /// they go to the shared stripe.
    #[test]
    fn counts_from_a_thread_locals_destructor_at_exit_are_kept() {
        struct CountOnExit(&'static Counters);
        impl Drop for CountOnExit {
            fn drop(&mut self) {
                for _ in 0..100 {
                    self.0.hit(FileId(9));
                }
            }
        }
        thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<CountOnExit>> = const { std::cell::RefCell::new(None) };
        }
        let c = leaked();
        std::thread::spawn(move || {
            ON_EXIT.with(|e| *e.borrow_mut() = Some(CountOnExit(c)));
            (0..10).for_each(|_| c.hit(FileId(9)));
        })
        .join()
        .unwrap();
        assert_eq!(c.slot_hits(9), 110);
    }
}
