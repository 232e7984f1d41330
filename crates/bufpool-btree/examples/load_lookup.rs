//! Loads N tuples (8-byte keys, 120-byte values) into a fresh tree, then runs uniform random lookups.
//!
//! ```text
//! cargo run -p bufpool-btree --release --example load_lookup -- [tuples] [frames] [threads] [lookup_secs] [dir]
//! ```
//! `dir` defaults to a new temporary directory (removed afterwards); a given `dir` must not hold a tree.

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
        ..BenchConfig::default()
    };
    let tmp;
    let dir = match args.get(4) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = std::env::temp_dir().join(format!("bufpool-btree-bench-{}", std::process::id()));
            tmp
        }
    };
    let report = run(&dir, &cfg);
    if args.get(4).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = report?;
    println!(
        "tuples={} frames={} threads={} load={:.0} puts/s lookups={:.0} ops/s ({} lookups) tree={:?}",
        cfg.tuples,
        cfg.frames,
        cfg.threads,
        report.load_ops_per_sec,
        report.lookup_ops_per_sec,
        report.lookups,
        report.stats
    );
    Ok(())
}
