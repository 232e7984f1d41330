//! Loads N tuples (8-byte keys, 120-byte values) into a fresh tree, then runs uniform random lookups.
//!
//! ```text
//! cargo run -p bufpool-btree --release --example load_lookup -- \
//!     [tuples] [frames] [threads] [lookup_secs] [lookup_frames|-] [lookup_batch] [dir]
//! ```
//! `lookup_frames` (or `-`): reopen with that many frames after the load, so lookups start cold. `lookup_batch`:
//! keys per `get_many` call (1, the default, uses `get_with`). `dir` defaults to
//! a new temporary directory (removed afterwards); a given `dir` must not hold a tree.

use std::time::Duration;

use bufpool_btree::bench::{run, BenchConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| -> u64 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default) };
    let cfg = BenchConfig {
        tuples: arg(0, 1_000_000),
        frames: arg(1, 65_536) as usize,
        threads: arg(2, 2) as usize,
        lookup_time: Duration::from_secs(arg(3, 10)),
        lookup_frames: args.get(4).and_then(|s| s.parse().ok()),
        lookup_batch: arg(5, 1) as usize,
        ..BenchConfig::default()
    };
    let tmp;
    let dir = match args.get(6) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = std::env::temp_dir().join(format!("bufpool-btree-bench-{}", std::process::id()));
            tmp
        }
    };
    let report = run(&dir, &cfg);
    if args.get(6).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = report?;
    println!(
        "tuples={} frames={} lookup_frames={:?} lookup_batch={} threads={} load={:.0} puts/s lookups={:.0} ops/s ({:.0} per CPU-second, {} lookups) tree={:?}",
        cfg.tuples,
        cfg.frames,
        cfg.lookup_frames,
        cfg.lookup_batch,
        cfg.threads,
        report.load_ops_per_sec,
        report.lookup_ops_per_sec,
        report.lookup_ops_per_cpu_sec,
        report.lookups,
        report.stats
    );
    let (l, q) = (&report.load_pool, &report.lookup_pool);
    println!(
        "load: pool hits={} misses={} writes={} dirty_evictions={} wal_flush_calls={} log_fsyncs={}",
        l.hits, l.misses, l.writes, l.dirty_evictions, l.wal_flushes, report.load_wal_syncs
    );
    println!(
        "lookups: pool hits={} misses={} hit_ratio={:.3} optimistic_retries={}",
        q.hits,
        q.misses,
        q.hits as f64 / (q.hits + q.misses).max(1) as f64,
        q.optimistic_retries
    );
    Ok(())
}
