//! Rows and the summary of the B+tree workloads.
//!
//! Rows are the bench command's [`CaseResult`] with `tuples` and `pool_fraction` set. The summary has one block
//! per case (workload, access, distribution, threads, tuples, pool fraction) and one line per system, with
//! bufpool-btree's mean ns/op, CPU ns/op and median latency over each peer's (below 1.0: bufpool-btree is
//! faster), as the page workloads' summary has for bufpool.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::driver::Measured;
use crate::bench::report::{fmt_ns, fmt_ops, CaseResult, Table};

/// What a row describes besides its measurement.
pub struct RowSpec {
    /// `btree-load`, `btree-lookup`, `ycsb-a`, ...
    pub workload: &'static str,
    /// bufpool-btree | redb | lmdb.
    pub system: &'static str,
    /// `load`, `get`, `get_many`, or the YCSB letter.
    pub access: &'static str,
    /// Key distribution.
    pub dist: String,
    /// Threads.
    pub threads: usize,
    /// Live pages (4 KiB) of the system's tree after the load.
    pub pages: u64,
    /// Pages (4 KiB) of the system's data file after the load.
    pub file_pages: u64,
    /// Cache of the system in 4 KiB pages (0: not bounded, LMDB).
    pub frames: u64,
    /// Tuples loaded.
    pub tuples: u64,
    /// Cache size / bufpool-btree's data file size.
    pub pool_fraction: f64,
    /// How writes commit ([`super::driver::Durability::label`], `read-only`, or `bulk` for a load).
    pub durability: String,
}

/// The row of one measurement.
pub fn row(s: &RowSpec, m: &Measured) -> CaseResult {
    let q = |p: f64| m.hist.value_at_quantile(p) as f64;
    let ops = m.ops.max(1) as f64;
    let hit_ratio = match m.cache {
        Some((hits, misses)) if hits + misses > 0 => hits as f64 / (hits + misses) as f64,
        _ => f64::NAN,
    };
    CaseResult {
        workload: s.workload,
        system: s.system,
        access: s.access,
        dist: s.dist.clone(),
        threads: s.threads,
        pages: u32::try_from(s.pages).unwrap_or(u32::MAX),
        frames: u32::try_from(s.frames).unwrap_or(u32::MAX),
        ops_per_sec: m.ops_per_sec,
        ns_per_op_p50: q(0.5),
        ns_per_op_p99: q(0.99),
        ns_per_op_p999: q(0.999),
        ns_per_op_mean: s.threads as f64 * 1e9 / m.ops_per_sec.max(1e-9),
        cpu_ns_per_op: m.cpu_ns_per_op,
        hit_ratio,
        reads_per_op: m.io_bytes.0 as f64 / 4096.0 / ops,
        writes_per_op: m.io_bytes.1 as f64 / 4096.0 / ops,
        scan_ops_per_sec: None,
        direct_io: None,
        seconds: m.seconds,
        tuples: Some(s.tuples),
        pool_fraction: Some(s.pool_fraction),
        features: Default::default(),
        durability: Some(s.durability.clone()),
        syncs_per_op: Some(m.syncs as f64 / ops),
        memory_bytes: Some(m.memory_bytes),
        file_pages: Some(s.file_pages),
        tree_bytes_per_tuple: Some((s.pages * 4096) as f64 / s.tuples.max(1) as f64),
    }
}

const ORDER: [&str; 7] = [
    "btree-load",
    "btree-lookup",
    "ycsb-c",
    "ycsb-b",
    "ycsb-a",
    "ycsb-f",
    "ycsb-e",
];

/// The summary table of the B+tree rows of `results` (other rows are ignored).
pub fn summary(results: &[CaseResult]) -> String {
    type Key<'a> = (usize, u64, u64, &'a str, &'a str, &'a str, usize);
    let mut groups: BTreeMap<Key<'_>, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        let (Some(order), Some(tuples), Some(f)) =
            (ORDER.iter().position(|w| *w == r.workload), r.tuples, r.pool_fraction)
        else {
            continue;
        };
        // Loads group by tuples only (their pool fractions differ by system).
        let f_key = if r.workload == "btree-load" {
            0
        } else {
            (f * 1e6) as u64
        };
        groups
            .entry((
                order,
                tuples,
                u64::MAX - f_key,
                r.access,
                &r.dist,
                r.durability.as_deref().unwrap_or(""),
                r.threads,
            ))
            .or_default()
            .push(r);
    }
    let mut table = Table::new(format!(
        "{:<14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {:>7} {:>6}  bufpool-btree/this: ns/op cpu/op p50",
        "system", "ops/s", "ns/op", "cpu/op", "p50", "p99", "hit", "rd/op", "wr/op", "syncs/op", "mem MiB", "B/tup",
    ));
    for ((_, tuples, _, access, dist, durability, threads), rows) in groups {
        let first = rows[0];
        let mut s = String::new();
        let memory = if first.workload == "btree-load" {
            String::new()
        } else {
            let f = first.pool_fraction.unwrap_or(0.0);
            let what = if f >= 1.0 { "in memory" } else { "out of memory" };
            format!(" pool-fraction={f} ({what}, {} pages)", first.frames)
        };
        // Every write row names how its writes commit.
        let mode = match durability {
            "" | "read-only" => String::new(),
            d => format!(" durability={d}"),
        };
        let _ = writeln!(
            s,
            "-- {} {access} {dist}{mode} threads={threads} tuples={tuples}{memory}",
            first.workload
        );
        let ours = rows
            .iter()
            .find(|r| r.system == "bufpool-btree")
            .map(|r| (r.ns_per_op_mean, r.cpu_ns_per_op, r.ns_per_op_p50));
        for r in rows {
            let ratio = match (ours, r.system) {
                (Some(_), "bufpool-btree") | (None, _) => String::new(),
                (Some((mean, cpu, p50)), _) => format!(
                    "{:>5.2}x {:>6.2}x {:>6}",
                    mean / r.ns_per_op_mean,
                    cpu / r.cpu_ns_per_op,
                    // A bulk load samples no per-insert latency (p50 0): no ratio.
                    if p50 > 0.0 && r.ns_per_op_p50 > 0.0 {
                        format!("{:.2}x", p50 / r.ns_per_op_p50)
                    } else {
                        "-".into()
                    }
                ),
            };
            let hit = if r.hit_ratio.is_nan() {
                "-".to_string()
            } else {
                format!("{:.4}", r.hit_ratio)
            };
            let _ = writeln!(
                s,
                "{:<14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7.3} {:>7.3} {:>8.3} {:>7.0} {:>6.0}  {}",
                r.system,
                fmt_ops(r.ops_per_sec),
                fmt_ns(r.ns_per_op_mean),
                fmt_ns(r.cpu_ns_per_op),
                fmt_ns(r.ns_per_op_p50),
                fmt_ns(r.ns_per_op_p99),
                hit,
                r.reads_per_op,
                r.writes_per_op,
                r.syncs_per_op.unwrap_or(0.0),
                r.memory_bytes.unwrap_or(0) as f64 / (1 << 20) as f64,
                r.tree_bytes_per_tuple.unwrap_or(0.0),
                ratio,
            );
        }
        table.section(first.workload, &s);
    }
    table.finish()
}

/// In-memory lookups on one thread, bufpool-btree: at least this many per second.
pub const TARGET_IN_MEMORY_GET: f64 = 1.0e6;
/// Out-of-memory `get_many` lookups on two threads, bufpool-btree: at least this many per second.
pub const TARGET_OUT_OF_MEMORY_GET_MANY: f64 = 40e3;

/// The two lookup targets, judged from this run's rows.
pub fn targets(results: &[CaseResult], memory_latency_ns: Option<f64>) -> String {
    let mut s = String::new();
    for r in results
        .iter()
        .filter(|r| r.system == "bufpool-btree" && r.workload == "btree-lookup")
    {
        let (Some(f), Some(tuples)) = (r.pool_fraction, r.tuples) else {
            continue;
        };
        let (target, what) = match (f >= 1.0, r.access, r.threads) {
            (true, "get", 1) => (TARGET_IN_MEMORY_GET, "in memory, get, 1 thread"),
            (true, "get_many", 1) => (TARGET_IN_MEMORY_GET, "in memory, get_many, 1 thread"),
            (false, "get_many", 2) => (TARGET_OUT_OF_MEMORY_GET_MANY, "out of memory, get_many, 2 threads"),
            _ => continue,
        };
        let verdict = if r.ops_per_sec >= target { "met" } else { "MISSED" };
        // What the threads would do with a core each, from the CPU time they used per lookup (on a shared
        // machine the wall-clock rate also counts time the threads sat descheduled).
        let per_core = 1e9 / r.cpu_ns_per_op.max(1e-9) * r.threads as f64;
        let _ = writeln!(
            s,
            "bufpool-btree {what}, {tuples} tuples, pool fraction {f}: {} lookups/s (CPU {:.0} ns per lookup, {}/s with \
             a core per thread), target >= {}: {verdict}",
            fmt_ops(r.ops_per_sec),
            r.cpu_ns_per_op,
            fmt_ops(per_core),
            fmt_ops(target)
        );
        if let (true, Some(lat)) = (f >= 1.0, memory_latency_ns) {
            let _ = writeln!(
                s,
                "  (one lookup here costs {:.1} dependent memory loads of {lat:.0} ns, measured in this run)",
                r.cpu_ns_per_op / lat
            );
        }
    }
    s
}
