//! Rows, the summary table and the JSON of the TPC-C workload.
//!
//! JSON: `{"results": [run rows], "loads": [load rows], "notes": [...]}`. A run row's `ops_per_sec` is committed
//! transactions per second; `consistent` is the result of conditions 1 to 12 checked after that run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::driver::Measured;
use crate::bench::report::{fmt_ns, fmt_ops};

/// One measured run of one system.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Always `tpcc`.
    pub workload: &'static str,
    /// bufpool-btree | redb | lmdb.
    pub system: &'static str,
    /// Warehouses.
    pub warehouses: u16,
    /// `standard` (the spec's cardinalities) or `reduced` (smoke runs).
    pub scale: &'static str,
    /// Threads.
    pub threads: usize,
    /// How transactions commit.
    pub durability: String,
    /// Pool (bufpool-btree) or cache (redb) size / bufpool-btree's data size after the load.
    pub pool_fraction: f64,
    /// bufpool-btree's pool frames (4 KiB); redb's cache in 4 KiB pages; 0 for LMDB (unbounded).
    pub frames: u64,
    /// Committed transactions per second.
    pub ops_per_sec: f64,
    /// Committed transactions.
    pub committed: u64,
    /// Transactions run by type (rolled-back New-Orders included).
    pub by_type: BTreeMap<&'static str, u64>,
    /// New-Orders rolled back on their unused item (the spec's 1%).
    pub rollbacks: u64,
    /// Transactions aborted by the engine (conflicts, deadlocks): none of these engines aborts, by design.
    pub aborts: u64,
    /// Median latency of a transaction, ns.
    pub ns_per_op_p50: f64,
    /// 99th percentile latency, ns.
    pub ns_per_op_p99: f64,
    /// Median latency by type, ns.
    pub p50_by_type: BTreeMap<&'static str, f64>,
    /// Process CPU ns per committed transaction.
    pub cpu_ns_per_op: f64,
    /// Device reads per committed transaction (4 KiB units).
    pub reads_per_op: f64,
    /// Device writes per committed transaction (4 KiB units).
    pub writes_per_op: f64,
    /// Syncs per committed transaction.
    pub syncs_per_op: f64,
    /// Syncs per committed transaction by who asked for them (bufpool-btree: `txn.` or `tree.` and the call
    /// site, `bufpool_btree::SyncCause`); empty where the engine does not attribute them.
    pub syncs_by_cause: BTreeMap<String, f64>,
    /// Pages the engine's cache wrote per committed transaction (4 KiB units) by cause (bufpool-btree: its pool's
    /// `pool.checkpoint`, `pool.eviction`, `pool.writer`, `pool.flush`; the rest of `writes_per_op` is its logs');
    /// empty where the engine does not write pages itself.
    pub writes_by_cause: BTreeMap<String, f64>,
    /// Cache hit ratio (bufpool-btree's pool), `null` where not reported.
    pub hit_ratio: Option<f64>,
    /// Share of transactions that had to wait for another thread at one of their locks (bufpool-btree), `null`
    /// where not reported.
    pub lock_wait_ratio: Option<f64>,
    /// Bytes of the system's files after the run.
    pub db_bytes: u64,
    /// Consistency conditions 1 to 12 held after the run.
    pub consistent: bool,
    /// The violated conditions, if any.
    pub check_failures: Vec<String>,
    /// Measured seconds.
    pub seconds: f64,
}

/// The load of one system.
#[derive(Clone, Debug, Serialize)]
pub struct LoadRow {
    /// bufpool-btree | redb | lmdb.
    pub system: &'static str,
    /// Warehouses.
    pub warehouses: u16,
    /// `standard` or `reduced`.
    pub scale: &'static str,
    /// Seconds the load took (`0` if an existing database was reused).
    pub seconds: f64,
    /// Bytes of the system's files after the load.
    pub db_bytes: u64,
}

/// Fills a row's measured fields.
pub fn measured_fields(row: &mut Row, m: &Measured) {
    let n = m.committed.max(1) as f64;
    row.ops_per_sec = m.committed as f64 / m.seconds;
    row.committed = m.committed;
    row.by_type = m.by_kind.iter().map(|(k, v)| (k.name(), *v)).collect();
    row.rollbacks = m.rollbacks;
    row.ns_per_op_p50 = m.hist.value_at_quantile(0.5) as f64;
    row.ns_per_op_p99 = m.hist.value_at_quantile(0.99) as f64;
    row.p50_by_type = m
        .hist_by_kind
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(k, h)| (k.name(), h.value_at_quantile(0.5) as f64))
        .collect();
    row.cpu_ns_per_op = m.cpu_ns as f64 / n;
    row.reads_per_op = m.io_bytes.0 as f64 / 4096.0 / n;
    row.writes_per_op = m.io_bytes.1 as f64 / 4096.0 / n;
    row.syncs_per_op = m.syncs as f64 / n;
    let per_op = |by: &[(String, u64)]| by.iter().map(|(k, v)| (k.clone(), *v as f64 / n)).collect();
    row.syncs_by_cause = per_op(&m.syncs_by_cause);
    row.writes_by_cause = per_op(&m.writes_by_cause);
    row.hit_ratio = m
        .cache
        .filter(|(h, mi)| h + mi > 0)
        .map(|(h, mi)| h as f64 / (h + mi) as f64);
    row.lock_wait_ratio = m
        .locks
        .filter(|(taken, _)| *taken > 0)
        .map(|(taken, waited)| waited as f64 / taken as f64);
    row.seconds = m.seconds;
}

/// The summary: one block per (warehouses, pool fraction, durability, threads), one line per system, with
/// bufpool-btree's throughput over each peer's.
pub fn summary(rows: &[Row], loads: &[LoadRow]) -> String {
    let mut s = String::new();
    for l in loads {
        let _ = writeln!(
            s,
            "load {} warehouses={} ({}): {:.1} s, {:.1} MiB",
            l.system,
            l.warehouses,
            l.scale,
            l.seconds,
            l.db_bytes as f64 / (1 << 20) as f64
        );
    }
    let _ = writeln!(
        s,
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>8} {:>7} {:>6} {:>10}  bufpool-btree tx/s / this",
        "system", "tx/s", "cpu/tx", "p50", "p99", "NO p50", "rd/tx", "wr/tx", "syncs/tx", "hit", "rbk", "consistent"
    );
    type Key = (u16, u64, String, usize);
    let mut groups: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((
                r.warehouses,
                (r.pool_fraction * 1e6) as u64,
                r.durability.clone(),
                r.threads,
            ))
            .or_default()
            .push(r);
    }
    for ((w, _, durability, threads), rs) in groups {
        let _ = writeln!(
            s,
            "-- tpcc warehouses={w} ({}) pool-fraction={} durability={durability} threads={threads}",
            rs[0].scale, rs[0].pool_fraction
        );
        let ours = rs.iter().find(|r| r.system == "bufpool-btree").map(|r| r.ops_per_sec);
        for r in rs {
            let ratio = match ours {
                Some(o) if r.system != "bufpool-btree" => format!("{:.2}x", o / r.ops_per_sec.max(1e-9)),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7.3} {:>7.3} {:>8.3} {:>7} {:>6} {:>10}  {ratio}",
                r.system,
                fmt_ops(r.ops_per_sec),
                fmt_ns(r.cpu_ns_per_op),
                fmt_ns(r.ns_per_op_p50),
                fmt_ns(r.ns_per_op_p99),
                fmt_ns(r.p50_by_type.get("new_order").copied().unwrap_or(0.0)),
                r.reads_per_op,
                r.writes_per_op,
                r.syncs_per_op,
                r.hit_ratio.map_or("-".into(), |h| format!("{h:.4}")),
                r.rollbacks,
                r.consistent,
            );
        }
    }
    s
}

#[derive(Serialize)]
struct JsonOut<'a> {
    results: &'a [Row],
    loads: &'a [LoadRow],
    notes: &'a [String],
}

/// Writes the JSON file.
pub fn write_json(path: &Path, rows: &[Row], loads: &[LoadRow], notes: &[String]) -> Result<()> {
    let text = serde_json::to_string_pretty(&JsonOut {
        results: rows,
        loads,
        notes,
    })?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
