//! `bufpool-btree` as a benchmarked system: the crate's [`Tree`] in a directory of its own (`tree.db` +
//! `tree.wal`), on a pool of the case's frames.
//!
//! Load: `put` per tuple with no commit until the end (the log is written out as its buffer fills, never
//! synced), then `commit` + `checkpoint`, so the load ends with the data durable in `tree.db`; a checkpoint also
//! runs whenever the log grows past twice the data file's size (or [`LOAD_LOG_MIN`], if more), to bound the
//! log's size. The bound grows with the data so that checkpoints come at a spacing proportional to the pages each
//! writes: a random-order load dirties nearly every page between two checkpoints, and a fixed bound (1 GiB
//! once) made the number of checkpoints, and so the pages written, grow with the square of the tuples. With
//! `--load-order bulk`, `Tree::bulk_load` instead (durable when it returns). The load also checkpoints early when
//! the disk runs short: when the free space of the tree's filesystem falls below what a checkpoint may still add
//! to the data file (the pool's bytes not yet in the file) plus [`LOAD_DISK_MARGIN`], so that the log (which may
//! reach twice the data file, 20 GB at 50 M tuples) never fills the disk. [`Ours::load_notes`] says where a load's
//! time went.
//!
//! Runs: reads are the tree's latch-free optimistic lookups; writes are `put`s, committed (`Tree::commit`: a log
//! fsync shared by concurrent committers) after each one (`durable`), after every N of a thread's (`batch:N`),
//! or never (`nondurable-autocommit`: the log is written as its buffer fills and synced only by the WAL rule).
//!
//! Memory: the pool's frames are bounded; the log is written through the OS page cache, which they do not bound.
//! Out of memory the log is evicted from the OS page cache every few milliseconds while a case runs
//! ([`Ours::tick`]), as redb's file is and LMDB's map: the same soft bound for every system, and the same
//! write-back that the eviction starts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bufpool::BufferPool;
use bufpool_btree::{open_dir_in, Tree, TreeStats};

use crate::bench::tick::{TICK_MAX, TICK_MIN};

use super::driver::{Durability, KvStore, KvWorker, Loader};
use super::tuple::{self, key, value};

/// Page size of the tree.
pub const PAGE_BYTES: usize = 4096;
/// The load checkpoints (and so cuts the log) when the log is longer than this and than [`LOAD_LOG_PER_DATA`]
/// times the data file.
pub const LOAD_LOG_MIN: u64 = 1 << 30;
/// Log bytes per data file byte above which the load checkpoints. Above 1, because the first change of each page
/// after a checkpoint logs its full image (nearly the data file again, in a random-order load): with a bound of
/// one data file those images alone refilled the log, and checkpoints came every ~1.5 M tuples at 10 M.
pub const LOAD_LOG_PER_DATA: u64 = 2;
/// Free disk bytes the load keeps beyond what a checkpoint may still add to the data file (see the module docs).
pub const LOAD_DISK_MARGIN: u64 = 2 << 30;

/// Bytes free for an unprivileged writer on the filesystem holding `path`, or `None` if it cannot be told.
fn free_disk_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path that outlives the call; `st` is written whole by a successful call and
    // read only then.
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// The tree opened on a pool of its own.
pub struct Ours {
    tree: Tree,
    dir: std::path::PathBuf,
    frames: usize,
    /// Tuples inserted by the load so far.
    loaded: u64,
    /// Out of memory: evict the log from the OS page cache on every tick.
    evict_log: bool,
    /// Checkpoints the load ran (the final one included; of them, those the disk's free space called), and their
    /// time.
    load_checkpoints: u32,
    disk_checkpoints: u32,
    load_checkpoint_time: std::time::Duration,
}

impl Ours {
    /// Opens (or creates) the tree in `dir` on a pool of `frames` frames; `out_of_memory` keeps its log out of
    /// the OS page cache while cases run; `io_spin` is the pool's `Builder::io_spin`.
    pub fn open(dir: &Path, frames: usize, out_of_memory: bool, io_spin: std::time::Duration) -> Result<Ours> {
        let pool = BufferPool::builder()
            .frames(frames.max(16))
            .page_size(PAGE_BYTES)
            .io_spin(io_spin)
            .build()
            .context("building bufpool-btree's pool")?;
        let tree =
            open_dir_in(Arc::new(pool), dir).with_context(|| format!("opening bufpool-btree in {}", dir.display()))?;
        Ok(Ours {
            tree,
            dir: dir.to_path_buf(),
            frames: frames.max(16),
            loaded: 0,
            evict_log: out_of_memory,
            load_checkpoints: 0,
            disk_checkpoints: 0,
            load_checkpoint_time: std::time::Duration::ZERO,
        })
    }

    /// Pages of the data file.
    pub fn file_pages(&self) -> Result<u64> {
        Ok(u64::from(self.tree.pool().file_pages(self.tree.file())?))
    }

    /// Checkpoints and closes.
    pub fn close(self) -> Result<()> {
        self.tree.close().map_err(bufpool_btree::CloseError::into_error)?;
        Ok(())
    }

    /// Checks the tree's invariants and that it holds `tuples` entries; returns its shape.
    pub fn check(&self, tuples: u64) -> Result<TreeStats> {
        let st = self.tree.check()?;
        anyhow::ensure!(
            st.entries as u64 == tuples,
            "bufpool-btree holds {} tuples, {tuples} were loaded",
            st.entries
        );
        Ok(st)
    }

    /// Where the load's time and writes went: its checkpoints, and the pool's page writes; and the memory of the
    /// pool's stale-write check (`Stats::written_lsn_bytes`, R23-10).
    pub fn load_notes(&self) -> String {
        let st = self.tree.pool().stats();
        format!(
            "{} checkpoints ({} for disk space) in {:.1} s; pool wrote {} pages ({} by dirty evictions); \
             stale-write table {:.1} MiB ({} entries forgotten)",
            self.load_checkpoints,
            self.disk_checkpoints,
            self.load_checkpoint_time.as_secs_f64(),
            st.writes,
            st.dirty_evictions,
            st.written_lsn_bytes as f64 / (1 << 20) as f64,
            st.written_lsns_dropped
        )
    }

    fn load_checkpoint(&mut self) -> Result<()> {
        let t = std::time::Instant::now();
        self.tree.checkpoint()?;
        self.load_checkpoints += 1;
        self.load_checkpoint_time += t.elapsed();
        Ok(())
    }

    /// Log fsyncs so far.
    pub fn syncs(&self) -> u64 {
        self.tree.wal().syncs()
    }
}

impl Loader for Ours {
    fn insert(&mut self, id: u64) -> Result<()> {
        self.tree.put(&key(id), &value(id, 0))?;
        self.loaded += 1;
        if self.loaded.is_multiple_of(1 << 18) {
            let data = self.file_pages()? * PAGE_BYTES as u64;
            let log = self.tree.wal().log_bytes();
            // The most a checkpoint may still add to the data file: the pool's pages not yet in it.
            let growth = ((self.frames * PAGE_BYTES) as u64).saturating_sub(data);
            let by_log = log > (LOAD_LOG_PER_DATA * data).max(LOAD_LOG_MIN);
            let short_of_disk =
                log > LOAD_LOG_MIN && free_disk_bytes(&self.dir).is_some_and(|free| free < growth + LOAD_DISK_MARGIN);
            if by_log || short_of_disk {
                self.disk_checkpoints += u32::from(!by_log);
                self.load_checkpoint()?;
            }
        }
        Ok(())
    }

    fn bulk(&mut self, ids: &[u64]) -> Result<bool> {
        self.loaded += self.tree.bulk_load(ids.iter().map(|&id| (key(id), value(id, 0))))?;
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        self.tree.commit()?;
        self.load_checkpoint()
    }
}

impl KvStore for Ours {
    type Worker<'a> = OursWorker<'a>;

    fn worker(&self, durability: Durability) -> Result<OursWorker<'_>> {
        Ok(OursWorker {
            tree: &self.tree,
            keys: Vec::new(),
            durability,
            writes: 0,
        })
    }

    fn syncs(&self) -> u64 {
        self.tree.wal().syncs()
    }

    fn settle(&self) -> Result<()> {
        self.tree.commit()?;
        Ok(())
    }

    fn memory_bytes(&self) -> u64 {
        // The pool's frames (allocated up front) plus whatever of its files the OS caches (the data file is
        // read with O_DIRECT where the filesystem allows it; the log is written through the page cache).
        (self.frames * PAGE_BYTES) as u64
            + super::driver::resident_bytes(&self.dir.join("tree.db"))
            + super::driver::resident_bytes(&self.dir.join(bufpool_btree::WAL_FILE))
    }

    fn cache_counts(&self) -> Option<(u64, u64)> {
        let st = self.tree.pool().stats();
        Some((st.hits, st.misses))
    }

    fn tick(&self) -> Duration {
        if !self.evict_log {
            return TICK_MAX;
        }
        {
            // Opened by name each time: a log truncation renames a new file over the old one.
            if let Ok(f) = std::fs::File::open(self.dir.join(bufpool_btree::WAL_FILE)) {
                use std::os::fd::AsRawFd;
                // SAFETY: plain syscall on a descriptor we own; a failure only leaves pages cached.
                unsafe {
                    libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
                }
            }
        }
        TICK_MIN
    }
}

/// A thread's handle on the tree.
pub struct OursWorker<'a> {
    tree: &'a Tree,
    keys: Vec<[u8; tuple::KEY_BYTES]>,
    durability: Durability,
    /// Writes so far; those since the last commit are `writes % N` in `batch:N`.
    writes: u64,
}

impl OursWorker<'_> {
    /// Up to `len` pairs from `from` on through `Tree::scan` (borrowed slices, as the peers' cursors give), each
    /// checked; returns how many there were.
    fn visit(&self, from: &[u8], len: u64) -> Result<u64> {
        if len == 0 {
            return Ok(0);
        }
        let (mut n, mut bad) = (0u64, None);
        self.tree.scan(from.., |k, v| {
            if let Err(e) = tuple::check_pair(k, v) {
                bad = Some(e);
                return false;
            }
            n += 1;
            n < len
        })?;
        bad.map_or(Ok(n), Err)
    }
}

impl KvWorker for OursWorker<'_> {
    fn get(&mut self, id: u64) -> Result<u64> {
        self.tree.get_with(&key(id), |v| tuple::check(id, v))?
    }

    fn get_many(&mut self, ids: &[u64]) -> Result<()> {
        self.keys.clear();
        self.keys.extend(ids.iter().map(|&id| key(id)));
        let refs: Vec<&[u8]> = self.keys.iter().map(|k| &k[..]).collect();
        // Each value checked in the call's buffer, as the peers check theirs in place (`Tree::get_many` would
        // collect a `Vec` a key: about 720 instructions a key, a quarter of the batch's work).
        let mut bad = None;
        self.tree.get_many_hinted(&refs, |i, v, _| {
            if bad.is_none() {
                bad = tuple::check(ids[i], v).err();
            }
        })?;
        bad.map_or(Ok(()), Err)
    }

    fn put(&mut self, id: u64, version: u64) -> Result<()> {
        self.tree.put(&key(id), &value(id, version))?;
        self.writes += 1;
        if self.durability.commits_after(self.writes) {
            self.tree.commit()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Durability::Batch(n) = self.durability {
            if !self.writes.is_multiple_of(u64::from(n)) {
                self.tree.commit()?;
            }
        }
        Ok(())
    }

    fn scan(&mut self, id: u64, len: u64) -> Result<u64> {
        let k = key(id);
        self.visit(&k, len)
    }

    fn scan_all(&mut self) -> Result<u64> {
        self.visit(&[], u64::MAX)
    }
}
