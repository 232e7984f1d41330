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
    /// Pool frames.
    pub frames: usize,
    /// Page size in bytes.
    pub page_size: usize,
    /// Lookup threads.
    pub threads: usize,
    /// How long to run lookups.
    pub lookup_time: Duration,
    /// Commit after this many puts during the load (group commit batches).
    pub commit_every: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            tuples: 1_000_000,
            frames: 65536,
            page_size: 4096,
            threads: 2,
            lookup_time: Duration::from_secs(10),
            commit_every: 10_000,
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
    /// Shape of the loaded tree.
    pub stats: crate::TreeStats,
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

/// Loads `cfg.tuples` tuples in scattered order into a new tree in `dir` (which must not hold a tree), then
/// runs uniform random lookups of loaded keys from `cfg.threads` threads for `cfg.lookup_time`.
pub fn run(dir: &Path, cfg: &BenchConfig) -> Result<BenchReport> {
    let tree = open_dir(
        dir,
        Options {
            frames: cfg.frames,
            page_size: cfg.page_size,
        },
    )?;
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
    let stats = tree.check()?;
    if stats.entries as u64 != cfg.tuples {
        return Err(Error::Invariant(format!(
            "loaded {} tuples, tree holds {}",
            cfg.tuples, stats.entries
        )));
    }
    let t1 = Instant::now();
    let deadline = t1 + cfg.lookup_time;
    let counts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.threads.max(1))
            .map(|t| {
                let tree = &tree;
                s.spawn(move || -> Result<u64> {
                    let mut rng = mix(t as u64 + 0x5eed);
                    let mut n = 0u64;
                    while Instant::now() < deadline {
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
    let lookups: u64 = counts.iter().sum();
    Ok(BenchReport {
        load_ops_per_sec: cfg.tuples as f64 / load.as_secs_f64(),
        lookup_ops_per_sec: lookups as f64 / lookup.as_secs_f64(),
        lookups,
        stats,
    })
}
