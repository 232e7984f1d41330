//! bufpool: a buffer pool manager for Rust storage engines.
//!
//! A storage engine asks for page `P` of file `F` and gets bytes it may read (or write) for as long as it holds a
//! guard. The pool keeps a fixed number of page-sized frames in memory, decides which page to evict when it needs
//! a frame, writes dirty pages back (after the log that describes them is durable), verifies every page it reads,
//! and reports what it did ([`Stats`]).
//!
//! # The model
//! - **Pages** are named by [`PageId`]: a [`FileId`] and a page number, packed into one `u64`. One pool serves
//!   many files. Page `n` of a file lives at byte offset `n * page_size`.
//! - **Frames** are one aligned allocation made at build time. Each frame has a state word holding a latch and a
//!   version; the page table maps pages to frames without locks on lookups.
//! - **Guards** are the only way to reach page bytes: [`ReadGuard`] (shared latch), [`WriteGuard`] (exclusive
//!   latch; taking it marks the page dirty, or, for a clean guard ([`BufferPool::write_clean`], or every guard with
//!   [`Builder::clean_write_guards`]), its first change does, so a guard that only reads costs no write-back, and
//!   [`WriteGuard::restore`] undoes a change the log never saw, clean again), and [`BufferPool::read_optimistic`], which runs a closure over a
//!   [`PageView`] without latching and re-runs it if a writer intervened. A latched page is pinned: it is never evicted.
//!   Guards deref to the page's *user region*: the page minus a 24-byte header the pool owns. A read guard
//!   whose holder decides to change the page can become a write guard without letting another writer in
//!   between ([`ReadGuard::try_upgrade`]).
//! - **Misses** are single-flight: however many threads ask for a missing page, it is read once.
//! - **Write-back** obeys the WAL rule ([`Wal::flush_for_pages`], by default [`Wal::flush_to`] the page LSN,
//!   before a page is written) and stamps a CRC-32C that covers the page number, the page size and the file's
//!   identity, so bit flips, torn pages and misdirected writes (within a file or across files with a record) come
//!   back as [`Error::Corrupt`], never as bytes; a file opened with [`FileOptions::doublewrite`] has a page a crash
//!   tore mid-write restored from its copy at the next open instead. One write-back of a page at a time: a page is written again only
//!   after a change, never beside another flush's write of it (whose late landing after a checkpoint's sync a
//!   power loss could garble, with no log record left to repair it). After a failed sync or write, a file refuses writes
//!   ([`Error::FileFailed`]); a write refused for space is retried ([`Error::NoSpace`]). Data files opened by
//!   path are locked (`flock`) while open, and so is a file storage handed to [`BufferPool::open_storage`] (one
//!   opener at a time, also through an `Arc`); a data file deleted, or replaced by a rename, while open fails at
//!   its next sync ([`Error::DataFileUnlinked`]): what it syncs then goes with the file when it is closed.
//! - **Replacement** is pluggable ([`PolicyKind`], [`Policy`]); S3-FIFO is the default (the [`policy`] module
//!   compares them). A built-in with non-default parameters, or a policy of your own, runs a pool through
//!   [`Builder::custom_policy`] (the [`policy`] module states the contract for implementers).
//! - **Storage** is a trait ([`Storage`]): a real file with O_DIRECT where possible, an in-memory image, or any
//!   backend you write.
//!
//! # Example
//! ```
//! use bufpool::{BufferPool, PageId};
//!
//! # fn main() -> bufpool::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let pool = BufferPool::builder().frames(256).build()?;
//! let file = pool.open_file(dir.path().join("data.db"))?;
//!
//! // A new page is zeroed and exclusively latched; writing through the guard marks it dirty.
//! let page: PageId = {
//!     let mut guard = pool.new_page(file)?;
//!     guard[..5].copy_from_slice(b"hello");
//!     guard.set_lsn(1); // the log record that describes this change
//!     guard.page_id()
//! }; // dropping the guard releases the latch
//!
//! // Shared and optimistic reads.
//! assert_eq!(&pool.read(page)?[..5], b"hello");
//! let first = pool.read_optimistic(page, |view| view.read_u8(0))?;
//! assert_eq!(first, b'h');
//!
//! // Make it durable, and look at what happened.
//! pool.checkpoint()?;
//! let stats = pool.stats();
//! assert_eq!(stats.writes, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Rules for callers
//! - **Waits.** Every call that waits for a page the calling thread itself holds through a [`WriteGuard`]
//!   (`read`, `write`, `read_optimistic`, `read_many`, `flush`, `flush_file`, `checkpoint`, `free_page`,
//!   `close_file`, `drop_file`) returns [`Error::HeldByCaller`] instead of waiting for ever, and so does every
//!   call that needs a page exclusively (`write`, `free_page`, `close_file`, `drop_file`) while the thread holds
//!   a [`ReadGuard`] on it (`new_page` skips a freed number whose stale copy the thread holds, and takes
//!   another); guards are not `Send`, so the pool always knows their thread, however many guards it holds. What
//!   the pool cannot see, and you must not do: take several guards in different orders on different threads
//!   (take them in one global order, e.g. parent before child). `free_page`, `close_file` and `drop_file` wait at
//!   most about a second for another thread's guard ([`Error::PageLatched`]); a miss waits for frames the pool itself holds
//!   (loads, write runs) up to a second, and for frames held by guards only as long as
//!   [`Builder::frame_wait`] says (default: not at all, [`Error::PoolExhausted`]). A miss that could free a
//!   frame only by writing another file's dirty page, whose write failed, returns [`Error::VictimWrite`] naming
//!   that page and its error: another file's log or device failed, not the caller's.
//! - **Panics.** A panic in code the pool calls on its own behalf (your [`Storage`], your [`Wal`], the eviction
//!   veto, your [`Policy`]) is caught, everything the call held is released, and the operation returns
//!   [`Error::Panicked`] (a storage write or sync that panicked has an unknown outcome and fails the file, as an
//!   I/O error does). A panic in your own closure (`read_many`'s visitor, `read_optimistic`'s closure) unwinds
//!   out of the call with every latch released and every load of the batch finished; threads waiting for such a
//!   load get an error.
//!   The built-in replacement policies never panic; a policy object ([`Builder::custom_policy`]) that panics is
//!   not called again (its state is unknown): the call that met the panic completes (a victim it had taken goes
//!   back unchanged), and every later miss that needs a victim returns that [`Error::Panicked`]; resident pages
//!   and free frames go on serving.
//! - **Leaked guards.** [`BufferPool::held_latches`] lists every latch guards hold now ([`HeldLatch`]: page,
//!   exclusive or shared, holders, how long with [`Builder::latch_times`], and in debug builds where the guard
//!   was taken). A guard passed to
//!   `mem::forget` stays latched for ever and is listed there by its line; poll it from a watchdog, or call it
//!   when a `PageLatched` or `PoolExhausted` error surprises you.
//! - The callbacks (`Storage`, `Wal`, eviction veto, a [`Policy`] of your own) must not call back into the pool:
//!   they may run while the pool holds a frame latch (a load's, a write run's, a victim's) on this very thread.
//!   A call back for the page the pool holds for the callback (a `Storage` reading the page it loads or any other
//!   page of the batch it loads, `read_many`'s, `prefetch`'s or `prewarm`'s, a `Wal`
//!   writing the page it is flushed for, the veto, `Policy::on_insert` or `Policy::victim` reading their page)
//!   returns [`Error::CallbackReentry`] at once instead of waiting for ever, and so does a miss from the veto,
//!   or a read from it that would wait for a latch another thread holds (the veto runs inside a victim search,
//!   which that thread may be waiting for). Across threads too: a callback that calls back for a page whose frame
//!   the pool holds for a callback on *another* thread (two loads whose `Storage::read_at`s each read the page
//!   the other loads, a `Wal` flush reading the victim another eviction writes) gets
//!   [`Error::CallbackReentry`] naming its own callback instead of waiting, since the other callback may be
//!   waiting for it; it may get it where the other would have finished (a page another thread is just loading):
//!   treat it as a refusal, not a failure of the page. Other calls back are not checked and may wait for ever (a
//!   `Storage::sync` that flushes the file it syncs, `Policy::on_hit` or `Policy::on_remove` reading their page,
//!   a callback waiting for a page a guard holds while the guard's thread waits for the callback's page). Your own closures (`read_optimistic`'s, `read_many`'s visitor) may call the pool: a call that
//!   would wait for a guard the thread holds returns [`Error::HeldByCaller`].
//! - The closure given to [`BufferPool::read_optimistic`] may see torn bytes on runs whose result is discarded: it
//!   must not trust lengths or offsets it reads without bounds (the [`PageView`] readers never panic).
//! - Dropping a pool writes nothing: call [`BufferPool::checkpoint`] or [`BufferPool::close`] to make dirty pages
//!   durable ([`BufferPool::close_all`] does the same through an `Arc<BufferPool>`).
//!
//! # Many engines in one pool
//! One pool can serve several engines (several B+trees, a table store and an index, tenants of one process), as
//! PostgreSQL's shared buffers serve every database of a cluster. Each engine opens its files with
//! [`BufferPool::open_file_with`] and a [`FileOptions`]:
//! - `.wal(log)`: the file's own log. A page of that file is written (by an eviction any engine caused, a flush,
//!   a checkpoint or the background writer) only after `log.flush_to(page_lsn)` returned, and no other engine's
//!   log is ever asked for it. A file opened without one uses the builder's [`Builder::wal`].
//! - `.id(FileId)`: a persistent id the engine keeps in its catalog; an id held by an open file is refused
//!   ([`Error::FileIdInUse`]). Reopening under the id of a file just closed or dropped waits until every call
//!   that started on the earlier file has returned: no call that named the earlier file acts on the newer one.
//!   A call made after the reopen with a page id kept from before names the newer file's page, as the id says:
//!   an engine that reuses ids must not keep page ids across its own close and reopen.
//!
//! Each engine checkpoints its own files with [`BufferPool::flush_file`] (what [`BufferPool::checkpoint`] does for
//! every file, restricted to one), so one engine's checkpoint neither writes nor waits for another's pages, and a
//! failed file of one engine does not fail another's checkpoint. `examples/two_engines.rs` is a whole program;
//! `bufpool-btree` opens each tree's file with the tree's log, so trees share a pool as they are.
//!
//! ## Rules for MVCC engines
//! A multi-version engine whose readers need pages changed since they started (versions or undo kept in memory)
//! builds the pool with [`Builder::snapshots`] and opens a [`Snapshot`] per reader ([`SnapshotTracker::begin`] at
//! the LSN it reads as of; dropping the snapshot ends it):
//! - while snapshots are open, a page whose LSN is at or above the oldest open snapshot's is never evicted
//!   (SirixDB's revision watermark); pages below it evict as usual. Refusals are counted by reason in
//!   [`Stats::latched_skips`], [`Stats::snapshot_skips`] and [`Stats::veto_skips`];
//! - protection keeps pages resident, not unwritten: checkpoints and flushes still write protected dirty pages;
//! - open the snapshot before relying on its pages being resident (an eviction already deciding while `begin`
//!   runs may still take one);
//! - the pool must hold every page changed since the oldest open snapshot plus the working set. When protection
//!   leaves a miss no victim, the miss fails at once with [`Error::AllProtected`] (naming the oldest snapshot),
//!   never waits: end long-running snapshots, or build a larger pool;
//! - the watermark applies to every file of the pool: engines that share a tracker must share one LSN space (an
//!   engine with its own log numbering keeps its own rule with [`Builder::eviction_veto`]).
//!
//! # Presets
//! [`Builder::preset`] sets a pool up for a kind of workload; any setting made after it overrides it. The scan
//! ring is chosen per scan ([`BufferPool::scan_ring`]`(preset.`[`scan_ring_frames`](Preset::scan_ring_frames)`())`).
//!
//! | preset | policy | background writer | I/O | prefetch threads | scan ring |
//! |---|---|---|---|---|---|
//! | `Oltp` | S3-FIFO | on (`WriterConfig::for_frames`) | io_uring where available | 1 | 64 frames |
//! | `Analytics` | W-TinyLFU | off | io_uring where available | 4 | 128 frames |
//!
//! [`Preset`] gives the figure behind each setting, and says which are judgements.
//!
//! # Operations
//! - [`BufferPool::stats`]: counters (hits, misses, reads, writes, syncs, evictions, writes by source, skips by
//!   reason: latched, snapshot, veto), read, write and sync latency histograms, the pool's occupancy, and per
//!   open file its hits, misses, reads and writes ([`BufferPool::file_stats`] for one file), with a readable
//!   `Display`.
//! - [`BufferPool::resident_pages`]: every resident page with its frame, dirty and latched flags and LSN (what
//!   PostgreSQL's `pg_buffercache` shows). [`BufferPool::held_latches`]: the latches guards hold, and for how long.
//! - Warm restart: [`BufferPool::save_resident`] writes the resident pages (ids, and each one's frame, dirty and
//!   latched flags and LSN, which [`read_resident_list`] and `bufpool inspect --pool` show) to a file (at shutdown,
//!   or now and then); after a restart, reopen the files (in any order: the list names each file by the identity
//!   its pages carry, as well as by its id) and [`BufferPool::prewarm`] reads those pages back in batches (InnoDB's buffer pool dump and load, `pg_prewarm`):
//!   a working set of 8192 pages was served at >= 95% hits 4.2x to 4.7x sooner than by missing page by page, on
//!   io_uring; on `pread`, which reads a batch one page at a time, no sooner (`bufpool bench --workload
//!   warm-restart`, BENCHMARKS.md "Warm restart").
//!
//! ## Operations: metrics and tracing
//! Two optional features hand the same facts to the tools a service already runs; both are off by default and
//! cost nothing when off.
//! - `metrics`: `BufferPool::publish_metrics` (and `Stats::publish`) records the statistics through the
//!   [`metrics`](https://docs.rs/metrics) facade, so any installed exporter (Prometheus, StatsD, ...) picks them
//!   up: the totals as counters (`bufpool_hits`, `bufpool_writes`, ...), the occupancy as gauges (`bufpool_frames`,
//!   `bufpool_resident`, `bufpool_dirty`), the read, write and sync latency quantiles as gauges
//!   (`bufpool_read_latency_p99_seconds`, ...) and per file, labelled `file`, `bufpool_file_pages` and
//!   `bufpool_file_failed`. Call it when the exporter wants fresh figures; module `publish` lists every name.
//! - `tracing`: [`tracing`](https://docs.rs/tracing) events with target `bufpool` when a file fails (ERROR, with
//!   the file and the first error), a page write fails, a request finds the pool exhausted, or one storage call
//!   takes at least [`Builder::slow_io`] (default 100 ms). Only storage calls are timed, never a hit. Module
//!   `trace` lists the events and their fields.
//!
//! Without either feature, [`Stats`] carries what an operator tunes with, among them the latency histograms of
//! storage reads, writes and syncs ([`Stats::read_latency`], a [`Latency`] with counts, p50, p99 and max).
//!
//! # Checkpoints and the log
//! When [`BufferPool::checkpoint`] returns `Ok`, every change whose [`WriteGuard::set_lsn`] happened before the
//! call is written and synced, while other threads go on writing. An engine learns its redo point from its own
//! log: it notes the log's end just before the call, checkpoints, then stores that LSN and truncates the log
//! before it. This holds when the engine appends a page's log record while it holds the page's write guard; see
//! [`BufferPool::checkpoint`] for the recipe and why the pool does not report an LSN itself.
//!
//! # Cargo features
//! - `testing`: test tooling for engines built on the pool: `storage::FaultyStorage`, seeded fault injection (EIO,
//!   short, torn and misdirected writes) and crash simulation with separate live and durable images. Off by
//!   default; enable it in your `[dev-dependencies]`.
//! - `metrics` and `tracing`: statistics and events for operators (see "Operations: metrics and tracing").
//! - `serde`: `Config`, the pool's settings as an engine's configuration file gives them (TOML, JSON, ...), and
//!   `Config::builder`, which checks each value and returns the [`Builder`]; unknown keys and bad values are
//!   errors naming the key (`Config`'s docs).
#![forbid(unsafe_op_in_unsafe_fn)]

mod batch;
mod caught_policy;
pub mod checksum;
#[cfg(feature = "serde")]
mod config;
mod doublewrite;
mod error;
mod file_options;
mod files;
mod frame;
mod frames;
mod free_pages;
mod guard;
mod held;
mod latch;
mod latches;
mod latency;
pub mod page;
pub mod policy;
// Test tooling (feature `testing`): points in the pool's code where a test holds a thread.
#[cfg(feature = "testing")]
pub mod points;
#[cfg(not(feature = "testing"))]
mod points;
mod pool;
mod preset;
#[cfg(feature = "metrics")]
pub mod publish;
mod record;
mod resident;
mod scan;
mod skips;
mod snapshot;
mod stats;
pub mod storage;
mod sync;
mod table;
#[cfg(feature = "tracing")]
pub mod trace;
mod wal;
mod writer;
mod written;

pub use batch::BATCH_PAGES_MAX;
#[cfg(feature = "serde")]
pub use config::{Config, ConfigError, WriterSection};
pub use error::{CorruptReason, Error, Result};
pub use file_options::FileOptions;
pub use guard::{PageView, ReadGuard, WriteGuard};
pub use latches::HeldLatch;
pub use latency::Latency;
pub use page::{FileId, Lsn, PageId, PageNo, PageSize, PAGE_HEADER_SIZE};
pub use policy::{FrameIdx, Policy, PolicyKind};
pub use pool::{BufferPool, Builder, EvictionVeto, IoBackend, IO_THREADS_MAX};
pub use preset::Preset;
pub use resident::{read_resident_list, ListedFile, ListedPage, Prewarmed, ResidentList, ResidentPage};
pub use scan::{ScanRing, SCAN_RING_MIN};
pub use snapshot::{Snapshot, SnapshotTracker};
pub use stats::{FileStats, Stats};
pub use storage::{FileStorage, MemoryStorage, OpenMode, Storage, UringStorage};
pub use wal::{NoWal, Wal};
pub use writer::{CheckpointReport, FileOutcome, WriterConfig, RUN_PAGES_MAX};

/// Asks the CPU to start loading the cache line that holds `value`, for an engine that knows it will touch it soon
/// and has other work to do first (the B+tree prefetches a page's write-ahead note before it changes the page).
/// A hint only: no load the memory model sees is made, it cannot fault, and it does nothing off x86-64. (Not a
/// page prefetch: that is [`BufferPool::prefetch`], which reads pages from storage into frames.)
#[inline(always)]
pub fn prefetch_cache_line<T>(value: &T) {
    frame::prefetch_line(value as *const T);
}

/// The README's example, compiled and run as a doctest so it cannot rot.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
