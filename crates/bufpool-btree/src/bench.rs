//! A load-and-lookup driver: builds a tree of `N` tuples (8-byte keys, 120-byte values) and measures random
//! point lookups. `bufpool bench` calls [`run`]; so does `examples/load_lookup.rs`.
//!
//! Every lookup checks the value it gets against the one loaded, so a run is also a consistency check.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::{open_dir, Options};

/// Bytes of each value.
pub const VALUE_BYTES: usize = 120;

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Tuples to load.
    pub tuples: u64,
    /// Pool frames during the load (and the lookups, unless `lookup_frames` is set).
    pub frames: usize,
    /// If set: after the load the tree is closed (checkpointed) and reopened with a pool of this many frames,
    /// so the lookups start cold and run out of memory when it is smaller than the tree, without paying for an
    /// out-of-memory load (every put a synchronous read and a dirty write-back).
    pub lookup_frames: Option<usize>,
    /// Page size in bytes.
    pub page_size: usize,
    /// Lookup threads.
    pub threads: usize,
    /// How long to run lookups. A duration too long to add to the current time (such as [`Duration::MAX`]) runs
    /// them until the process ends.
    pub lookup_time: Duration,
    /// Commit after this many puts during the load (group commit batches).
    pub commit_every: u64,
    /// Keys per lookup call: 1 uses `get_with` (no allocation); more use `get_many` (which prefetches the leaves).
    pub lookup_batch: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            tuples: 1_000_000,
            frames: 65536,
            lookup_frames: None,
            page_size: 4096,
            threads: 2,
            lookup_time: Duration::from_secs(10),
            commit_every: 10_000,
            lookup_batch: 1,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Puts per second during the load (including commits).
    pub load_ops_per_sec: f64,
    /// Lookups per second, all threads together.
    pub lookup_ops_per_sec: f64,
    /// Lookups done.
    pub lookups: u64,
    /// Lookups per second of process CPU time (user + system): the throughput a machine not shared with other
    /// work would see per busy core, roughly.
    pub lookup_ops_per_cpu_sec: f64,
    /// Shape of the loaded tree.
    pub stats: crate::TreeStats,
    /// The pool's counters over the load.
    pub load_pool: bufpool::Stats,
    /// The pool's counters over the lookups.
    pub lookup_pool: bufpool::Stats,
    /// Log fsyncs forced by the pool's write-back (WAL rule), over the load.
    pub load_wal_syncs: u64,
}

/// A bijective mix of the 64-bit space (splitmix64's finaliser): turns a counter into a scattered key.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The value loaded for key `k`.
pub fn value_for(k: u64) -> [u8; VALUE_BYTES] {
    let mut v = [0u8; VALUE_BYTES];
    for (i, c) in v.chunks_mut(8).enumerate() {
        c.copy_from_slice(&mix(k ^ i as u64).to_le_bytes()[..c.len()]);
    }
    v
}

/// When lookups started at `start` and running for `time` end: `None` (never) where `start + time` is past what an
/// [`Instant`] can hold, instead of the addition's panic.
fn deadline_after(start: Instant, time: Duration) -> Option<Instant> {
    start.checked_add(time)
}

/// Loads `cfg.tuples` tuples in scattered order into a new tree in `dir` (which must not hold a tree), then
/// runs uniform random lookups of loaded keys from `cfg.threads` threads for `cfg.lookup_time` (after reopening
/// with `cfg.lookup_frames` frames if set).
pub fn run(dir: &Path, cfg: &BenchConfig) -> Result<BenchReport> {
    let tree = open_dir(
        dir,
        Options {
            frames: cfg.frames,
            page_size: cfg.page_size,
        },
    )?;
    let syncs0 = tree.wal().syncs();
    let t0 = Instant::now();
    for i in 0..cfg.tuples {
        let k = mix(i);
        tree.put(&k.to_be_bytes(), &value_for(k))?;
        if (i + 1) % cfg.commit_every.max(1) == 0 {
            tree.commit()?;
        }
    }
    tree.commit()?;
    let load = t0.elapsed();
    let load_pool = tree.pool().stats();
    let load_wal_syncs = tree.wal().syncs() - syncs0;
    let stats = tree.check()?;
    if stats.entries as u64 != cfg.tuples {
        return Err(Error::Invariant(format!(
            "loaded {} tuples, tree holds {}",
            cfg.tuples, stats.entries
        )));
    }
    let tree = match cfg.lookup_frames {
        Some(frames) => {
            tree.close()?;
            open_dir(
                dir,
                Options {
                    frames,
                    page_size: cfg.page_size,
                },
            )?
        }
        None => tree,
    };
    let before = tree.pool().stats();
    let cpu1 = process_cpu_secs();
    let t1 = Instant::now();
    let deadline = deadline_after(t1, cfg.lookup_time);
    let counts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.threads.max(1))
            .map(|t| {
                let tree = &tree;
                s.spawn(move || -> Result<u64> {
                    let mut rng = mix(t as u64 + 0x5eed);
                    let mut n = 0u64;
                    let batch = cfg.lookup_batch.max(1);
                    let mut ids = Vec::with_capacity(batch);
                    while deadline.is_none_or(|d| Instant::now() < d) {
                        if batch > 1 {
                            ids.clear();
                            for _ in 0..batch {
                                rng = mix(rng);
                                ids.push(mix(rng % cfg.tuples.max(1)));
                            }
                            let keys: Vec<[u8; 8]> = ids.iter().map(|k| k.to_be_bytes()).collect();
                            let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
                            for (k, v) in ids.iter().zip(tree.get_many(&refs)?) {
                                if v.as_deref() != Some(&value_for(*k)[..]) {
                                    return Err(Error::Invariant(format!("wrong value for key {k}")));
                                }
                            }
                            n += batch as u64;
                            continue;
                        }
                        for _ in 0..256 {
                            rng = mix(rng);
                            let k = mix(rng % cfg.tuples.max(1));
                            let ok = tree.get_with(&k.to_be_bytes(), |v| v == Some(&value_for(k)[..]))?;
                            if !ok {
                                return Err(Error::Invariant(format!("wrong value for key {k}")));
                            }
                            n += 1;
                        }
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Invariant("lookup thread panicked".into())))
            })
            .collect::<Result<Vec<u64>>>()
    })?;
    let lookup = t1.elapsed();
    let lookup_cpu = process_cpu_secs() - cpu1;
    let lookups: u64 = counts.iter().sum();
    let mut lookup_pool = tree.pool().stats();
    lookup_pool.hits -= before.hits;
    lookup_pool.misses -= before.misses;
    lookup_pool.reads -= before.reads;
    lookup_pool.writes -= before.writes;
    lookup_pool.evictions -= before.evictions;
    lookup_pool.dirty_evictions -= before.dirty_evictions;
    lookup_pool.optimistic_retries -= before.optimistic_retries;
    lookup_pool.optimistic_fallbacks -= before.optimistic_fallbacks;
    Ok(BenchReport {
        load_ops_per_sec: cfg.tuples as f64 / load.as_secs_f64(),
        lookup_ops_per_sec: lookups as f64 / lookup.as_secs_f64(),
        lookups,
        lookup_ops_per_cpu_sec: lookups as f64 / lookup_cpu.max(1e-9),
        stats,
        load_pool,
        lookup_pool,
        load_wal_syncs,
    })
}

/// User plus system CPU time of this process, in seconds.
fn process_cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct we pass; a zeroed rusage is a valid value to start from.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid, exclusively borrowed out-pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_time_past_what_an_instant_holds_has_no_deadline_instead_of_a_panic() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::MAX), None);
        assert_eq!(
            deadline_after(now, Duration::from_secs(3)),
            Some(now + Duration::from_secs(3))
        );
    }
}
