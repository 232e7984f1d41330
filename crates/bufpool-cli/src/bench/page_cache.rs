//! Bounding a peer's (or a log's) use of the OS page cache while an out-of-memory case runs, so that reads the
//! pool would have to take from the device reach the device for every system.
//!
//! Owns one rule, used by the B+tree bench and by TPC-C for LMDB and redb: a [`CacheBound`] names a file, optionally this process's mapping of it, and a budget. On each [`CacheBound::tick`]
//! (the drivers tick a system with a bound every 2 ms), a file with no budget is dropped from the page cache; a file with a budget
//! (LMDB, which has no cache of its own, so its budget is the pool's) is dropped, with its mapping's pages, when
//! more of it than the budget is resident. It then refills from nothing, so on average it holds less than the
//! budget. Measuring residency ([`resident_bytes`]) costs time (where the kernel lacks `cachestat`, `mincore` over
//! the file: about 45 ms for 7 GiB), so it is paced: after each measurement the next waits [`CHECK_SPACING`] times as long as the measurement took (at most 2% of a core,
//! taken from the workers on a 2-core machine otherwise), and between two measurements the file may grow past
//! the budget by what it reads meanwhile.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bench::tick::{TICK_MAX, TICK_MIN};

/// After a residency measurement, the next waits this many times its duration.
pub const CHECK_SPACING: u32 = 50;

/// How much of one file a case may keep in memory (see the module docs).
pub struct CacheBound {
    file: File,
    path: std::path::PathBuf,
    /// This process's mapping of the file `(address, length)`, whose pages are dropped with the file's.
    map: Option<(usize, usize)>,
    /// Bytes of the file that may stay resident; `None`: none (dropped on every tick).
    budget: Option<u64>,
    /// When residency may next be measured.
    next_check: Mutex<Instant>,
}

impl CacheBound {
    /// Drops `path` from the page cache on every tick (a system whose own cache is the budget: redb).
    pub fn file(path: &Path) -> Result<CacheBound> {
        Self::new(path, None, None)
    }

    /// Lets this process's mapping of `path` (found in /proc/self/maps) and the file's cached pages hold up to
    /// `budget` bytes (LMDB, which reads through its map and has no cache of its own).
    pub fn mapped(path: &Path, budget: u64) -> Result<CacheBound> {
        let map =
            mapping_of(path).with_context(|| format!("finding the map of {} in /proc/self/maps", path.display()))?;
        Self::new(path, Some(map), Some(budget))
    }

    fn new(path: &Path, map: Option<(usize, usize)>, budget: Option<u64>) -> Result<CacheBound> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let b = CacheBound {
            file,
            path: path.to_path_buf(),
            map,
            budget,
            next_check: Mutex::new(Instant::now()),
        };
        b.drop_all();
        Ok(b)
    }

    /// A peer's tick with its optional bound: applies `bound` if there is one and returns the wait before the next
    /// tick (`bench::tick`: [`TICK_MIN`] while a bound is kept out of memory, [`TICK_MAX`] in memory, where there
    /// is nothing to do).
    pub fn tick_optional(bound: Option<&CacheBound>) -> Duration {
        match bound {
            Some(b) => {
                b.tick();
                TICK_MIN
            }
            None => TICK_MAX,
        }
    }

    /// Applies the bound (see the module docs); called by the driver every few milliseconds.
    pub fn tick(&self) {
        if let Some(budget) = self.budget {
            let mut next = self.next_check.lock().unwrap_or_else(|e| e.into_inner());
            let t = Instant::now();
            if t < *next {
                return;
            }
            let resident = resident_bytes(&self.path);
            *next = t + Duration::from_millis(2).max(t.elapsed() * CHECK_SPACING);
            if resident <= budget {
                return;
            }
        }
        self.drop_all();
    }

    /// Drops the mapping's pages from this process and the file's pages from the OS page cache.
    fn drop_all(&self) {
        // SAFETY: plain syscalls. The range is a shared file mapping that its owner keeps mapped while this bound
        // lives (an LMDB map is never resized here); MADV_DONTNEED on a shared file mapping only drops this
        // process's page table entries (the next access faults the page in again from the file), it never
        // discards data. A failure only leaves pages in memory.
        unsafe {
            if let Some((addr, len)) = self.map {
                libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED);
            }
            libc::posix_fadvise(self.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
}

/// Bytes of `path` resident in the OS page cache; 0 if it cannot be measured. Asks `cachestat(2)` (Linux 6.5), whose
/// cost follows the file's cached pages, and falls back to `mincore` over a fresh map of the file where the kernel
/// lacks it. `mincore` looks up every page of the file: about 9 ms for the 1.8 GiB data file of 10 M tuples, most
/// of it on pages not cached (bufpool-btree reads with O_DIRECT), which the driver's thread took from the workers
/// of a 2-thread case on 2 cores (BENCHMARKS.md, "Two threads' lookups in memory").
pub fn resident_bytes(path: &Path) -> u64 {
    let Ok(f) = File::open(path) else {
        return 0;
    };
    cached_pages(&f).unwrap_or_else(|| mapped_resident_pages(&f)) * PAGE as u64
}

/// The page size `mincore` and `cachestat` count in.
const PAGE: usize = 4096;

/// `cachestat`'s number: 451 on every Linux architecture (the shared system call table).
const SYS_CACHESTAT: libc::c_long = 451;

/// `struct cachestat_range` of `cachestat(2)`: a `len` of 0 runs to the end of the file.
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat` of `cachestat(2)`.
#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Pages of `f` in the page cache by `cachestat(2)`; `None` if the kernel refuses it (older than 6.5, or filtered).
fn cached_pages(f: &File) -> Option<u64> {
    let range = CachestatRange { off: 0, len: 0 };
    let mut st = Cachestat::default();
    // SAFETY: plain syscall on a descriptor we own; the kernel reads `range` and writes `st`, both live and of
    // the layouts `cachestat(2)` defines, and keeps neither after it returns.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            f.as_raw_fd(),
            &range as *const CachestatRange,
            &mut st as *mut Cachestat,
            0u32,
        )
    };
    (rc == 0).then_some(st.nr_cache)
}

/// Pages of `f` resident in the page cache by `mincore` over a fresh map of it; 0 if it cannot be measured.
fn mapped_resident_pages(f: &File) -> u64 {
    let len = f.metadata().map_or(0, |m| m.len()) as usize;
    if len == 0 {
        return 0;
    }
    // SAFETY: a fresh read-only shared map of a file we opened, unmapped below; `mincore` writes one byte per
    // page of the range into `vec`, which has that many; nothing reads through the map.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        if p == libc::MAP_FAILED {
            return 0;
        }
        let mut vec = vec![0u8; len.div_ceil(PAGE)];
        let rc = libc::mincore(p, len, vec.as_mut_ptr());
        libc::munmap(p, len);
        if rc != 0 {
            return 0;
        }
        vec.iter().filter(|&&b| b & 1 == 1).count() as u64
    }
}

/// The `(address, length)` of this process's mapping of `path` (the first, if several), from /proc/self/maps.
fn mapping_of(path: &Path) -> Result<(usize, usize)> {
    let want = std::fs::canonicalize(path)?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    for line in maps.lines() {
        // `start-end perms offset dev inode path`
        let mut fields = line.split_whitespace();
        let (Some(range), Some(file)) = (fields.next(), fields.nth(4)) else {
            continue;
        };
        if Path::new(file) != want {
            continue;
        }
        if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (usize::from_str_radix(a, 16)?, usize::from_str_radix(b, 16)?);
            return Ok((a, b - a));
        }
    }
    anyhow::bail!("no mapping of {} found", want.display())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    /// `cachestat` and `mincore` agree on a file partly cached, then dropped from the cache (a wrong layout, unit
    /// or range in the `cachestat` call would differ from `mincore` here).
    #[test]
    fn cachestat_counts_what_mincore_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 64 * PAGE]).unwrap();
        let f = File::open(&path).unwrap();
        // SAFETY: plain syscalls on a descriptor we own; a failure only leaves pages cached.
        unsafe {
            libc::fsync(f.as_raw_fd());
            libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
        let mut buf = vec![0u8; 8 * PAGE];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut buf, 16 * PAGE as u64).unwrap();
        let Some(cached) = cached_pages(&f) else {
            // A kernel before 6.5: `resident_bytes` takes `mincore`, which has nothing to agree with.
            return;
        };
        assert_eq!(cached, mapped_resident_pages(&f));
        if cached == 0 {
            // This filesystem keeps no page cache for the file (or readahead of nothing): nothing more to compare.
            return;
        }
        assert!(
            (8..=64).contains(&cached),
            "{cached} pages cached after reading 8 of 64 after a drop"
        );
        assert_eq!(resident_bytes(&path), cached * PAGE as u64);
    }

    #[test]
    fn mapped_finds_this_process_map_of_the_file_and_refuses_an_unmapped_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mapped, unmapped) = (dir.path().join("m"), dir.path().join("u"));
        std::fs::write(&mapped, vec![7u8; 3 * 4096]).unwrap();
        std::fs::write(&unmapped, vec![7u8; 4096]).unwrap();
        let f = File::open(&mapped).unwrap();
        // SAFETY: a fresh read-only shared map of a file we opened, unmapped below; nothing reads through it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                3 * 4096,
                libc::PROT_READ,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let b = CacheBound::mapped(&mapped, 1 << 20).unwrap();
        assert_eq!(b.map, Some((p as usize, 3 * 4096)));
        // Within the budget: a tick measures and leaves the file alone; its next measurement is paced.
        b.tick();
        assert!(*b.next_check.lock().unwrap() > Instant::now());
        assert!(CacheBound::mapped(&unmapped, 1 << 20).is_err());
        assert!(CacheBound::file(&unmapped).is_ok());
        drop(b);
        // SAFETY: the map made above, of that length, no longer used.
        unsafe { libc::munmap(p, 3 * 4096) };
    }
}
