//! Results: one [`CaseResult`] per measured (case, system), the JSON file, and the summary table.
//!
//! Owns the JSON schema: `{"results": [CaseResult, ...], "unavailable": [{"system", "reason"}], "notes": [..]}`.
//! Ratios in the table compare mean ns/op (`threads / ops_per_sec`), which carries no timer overhead.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// One measured case on one system.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// hit | miss | mixed | scan | checkpoint; B+tree: btree-load | btree-lookup | ycsb-a | ycsb-b | ycsb-c | ycsb-e |
    /// ycsb-f.
    pub workload: &'static str,
    /// bufpool | raw-memory | raw-pread | raw-uring | page-db | naive-lru | quick-cache; B+tree: bufpool-btree | redb | lmdb.
    pub system: &'static str,
    /// optimistic | shared | exclusive | mixed | scan | batch; B+tree: load | get | get_many | the YCSB letter (a..f).
    pub access: &'static str,
    /// uniform | zipf:THETA.
    pub dist: String,
    /// Threads issuing ops (scan: hot reader + scanner = 2).
    pub threads: usize,
    /// Data pages of the case.
    pub pages: u32,
    /// Pool frames (cache capacity in pages).
    pub frames: u32,
    /// Ops per second of the measured threads (scan: the hot reader).
    pub ops_per_sec: f64,
    /// Median sampled latency.
    pub ns_per_op_p50: f64,
    /// 99th percentile sampled latency.
    pub ns_per_op_p99: f64,
    /// 99.9th percentile sampled latency.
    pub ns_per_op_p999: f64,
    /// Mean time a thread spends per op: `threads / ops_per_sec` (scan: of the hot reader alone).
    pub ns_per_op_mean: f64,
    /// CPU time per op of the measured threads: wall-clock time minus time descheduled, blocked or in I/O wait.
    pub cpu_ns_per_op: f64,
    /// `1 - device reads of measured pages / measured ops` (scan: the hot set's during the scan).
    pub hit_ratio: f64,
    /// Device page reads per op (all threads' ops).
    pub reads_per_op: f64,
    /// Device page writes per op (all threads' ops).
    pub writes_per_op: f64,
    /// The scanner's pages per second (scan only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_ops_per_sec: Option<f64>,
    /// Whether the system's file bypassed the page cache (O_DIRECT); `None` for raw-memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_io: Option<bool>,
    /// Measured seconds.
    pub seconds: f64,
    /// bufpool's feature variant of the case (scan ring, background writer, checkpoint) and what it did; fields
    /// absent where they do not apply.
    #[serde(flatten)]
    pub features: super::variant::Features,
    /// B+tree workloads: tuples loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuples: Option<u64>,
    /// B+tree workloads: the system's cache size / bufpool-btree's data file size (below 1: out of memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_fraction: Option<f64>,
    /// B+tree workloads: how writes commit (`nondurable-autocommit`, `durable`, `batch:N`; `read-only` for a
    /// case that does not write, `bulk` for a load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<String>,
    /// B+tree workloads: syncs per op (bufpool-btree: log fsyncs; redb, LMDB: durable commits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncs_per_op: Option<f64>,
    /// B+tree workloads: the most memory the system held during the case: its cache's bound plus its files'
    /// pages resident in the OS page cache (sampled with `mincore`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// B+tree workloads: pages of the system's data file (`pages` is its live data: tree pages in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_pages: Option<u64>,
    /// B+tree workloads: live tree bytes per loaded tuple (`pages x 4096 / tuples`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_bytes_per_tuple: Option<f64>,
}

/// A system that could not run at all.
#[derive(Clone, Debug, Serialize)]
pub struct Unavailable {
    /// The system's name.
    pub system: &'static str,
    /// Why.
    pub reason: String,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    results: &'a [CaseResult],
    unavailable: &'a [Unavailable],
    notes: &'a [String],
}

/// Writes the JSON file.
pub fn write_json(path: &Path, results: &[CaseResult], unavailable: &[Unavailable], notes: &[String]) -> Result<()> {
    let out = JsonOut {
        results,
        unavailable,
        notes,
    };
    let text = serde_json::to_string_pretty(&out)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Operations per second, short: `1.23M`, `45.6k`, `789`.
pub(crate) fn fmt_ops(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Nanoseconds, short: `1.23ms`, `45.6us`, `789`.
pub(crate) fn fmt_ns(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}ms", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}us", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Lines of a summary table after which its column header is printed again (at the next section): a reader
/// scrolling a long table (a full `bench` prints some 190 rows) has one on the screen.
pub(crate) const HEADER_EVERY_LINES: usize = 40;

/// A summary table built section by section: its column header opens the table, each workload's first section,
/// and the first section after [`HEADER_EVERY_LINES`] lines without it. A section is never split.
pub(crate) struct Table {
    header: String,
    text: String,
    since_header: usize,
    workload: Option<String>,
}

impl Table {
    /// An empty table under the column `header` (one line, without its newline).
    pub(crate) fn new(header: String) -> Table {
        Table {
            header,
            text: String::new(),
            since_header: 0,
            workload: None,
        }
    }

    /// Appends `section` (a heading line and its rows, each ending in a newline) of `workload`.
    pub(crate) fn section(&mut self, workload: &str, section: &str) {
        let lines = section.lines().count();
        if self.workload.as_deref() != Some(workload) || self.since_header + lines > HEADER_EVERY_LINES {
            if !self.text.is_empty() {
                self.text.push('\n');
            }
            self.text.push_str(&self.header);
            self.text.push('\n');
            self.since_header = 0;
            self.workload = Some(workload.to_string());
        }
        self.text.push_str(section);
        self.since_header += lines;
    }

    /// The table's text.
    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// The summary table: one block per case, one row per system, with bufpool's mean and median ns/op over each
/// other system's (below 1.0: bufpool is faster).
pub fn summary(results: &[CaseResult], timer_ns: u64) -> String {
    let mut groups: BTreeMap<(usize, u32, &str, String, usize), Vec<&CaseResult>> = BTreeMap::new();
    let order = |w: &str| {
        ["hit", "miss", "mixed", "scan", "checkpoint"]
            .iter()
            .position(|x| *x == w)
            .unwrap_or(9)
    };
    for r in results {
        groups
            .entry((order(r.workload), r.frames, r.access, r.dist.clone(), r.threads))
            .or_default()
            .push(r);
    }
    let mut table = Table::new(format!(
        "{:<19} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7}  bufpool/this: ns/op cpu/op p50",
        "system", "ops/s", "ns/op", "cpu/op", "p50", "p99", "p99.9", "hit", "rd/op", "wr/op",
    ));
    for ((_, _, access, dist, threads), rows) in groups {
        let first = rows[0];
        let mut s = String::new();
        let _ = writeln!(
            s,
            "-- {} {access} {dist} threads={threads} pages={} frames={}",
            first.workload, first.pages, first.frames
        );
        let bp = rows
            .iter()
            .find(|r| r.system == "bufpool")
            .map(|r| (r.ns_per_op_mean, r.cpu_ns_per_op, r.ns_per_op_p50));
        for r in rows {
            let ratio = match (bp, r.system) {
                (Some(_), "bufpool") | (None, _) => String::new(),
                (Some((mean, cpu, p50)), _) => format!(
                    "{:>5.2}x {:>6.2}x {:>6}",
                    mean / r.ns_per_op_mean,
                    cpu / r.cpu_ns_per_op,
                    p50_ratio(p50, r.ns_per_op_p50, timer_ns).unwrap_or_else(|| "-".into())
                ),
            };
            let _ = writeln!(
                s,
                "{:<19} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7.4} {:>7.3} {:>7.3}  {}{}",
                super::variant::row_label(r),
                fmt_ops(r.ops_per_sec),
                fmt_ns(r.ns_per_op_mean),
                fmt_ns(r.cpu_ns_per_op),
                fmt_ns(r.ns_per_op_p50),
                fmt_ns(r.ns_per_op_p99),
                fmt_ns(r.ns_per_op_p999),
                r.hit_ratio,
                r.reads_per_op,
                r.writes_per_op,
                ratio,
                match r.scan_ops_per_sec {
                    Some(x) => format!("  (scanner {} pages/s)", fmt_ops(x)),
                    None => String::new(),
                }
            );
        }
        table.section(first.workload, &s);
    }
    table.finish()
}

/// Below this many timer costs a p50 is mostly the timer (the calibrated cost of an `Instant::now()` pair is
/// subtracted from each sample, but its jitter is of the same order): a ratio of two such p50s means nothing.
const P50_TIMER_COSTS_MIN: u64 = 4;

/// `a / b` formatted as a ratio, or `None` when either p50 is within the timer's resolution.
fn p50_ratio(a: f64, b: f64, timer_ns: u64) -> Option<String> {
    let floor = (P50_TIMER_COSTS_MIN * timer_ns.max(1)) as f64;
    (a >= floor && b >= floor).then(|| format!("{:.2}x", a / b))
}

/// One line naming the peers, printed with the summary.
pub const SYSTEMS_LEGEND: &str = "systems: page-db = the page-db crate's buffer pool (a peer); naive-lru = a \
    Mutex<HashMap + LRU list> pool, the kind most projects write first; quick-cache = the quick_cache crate holding \
    page buffers; raw-* = no pool: the hardware's limits (memory, pread, io_uring)";

/// How many times as fast as `r` `b` is per device read: `(r's ns/op / r's reads per op) / (b's ns/op / b's reads
/// per op)`. A pool's miss row includes its free hits (0.97 reads per op against raw-pread's 1.00), which its
/// throughput per op counts in its favour; per device read, each is charged for the reads it made. `None` where
/// either made no read.
pub fn per_device_read(b: &CaseResult, r: &CaseResult) -> Option<f64> {
    if b.reads_per_op <= 0.0 || r.reads_per_op <= 0.0 {
        return None;
    }
    let per_read = |x: &CaseResult| x.ns_per_op_mean / x.reads_per_op;
    Some(per_read(r) / per_read(b))
}

/// The targets, judged from this run's results: one line per comparison that the run measured. Hit cost
/// against raw memory is judged on CPU ns/op (steady on a shared machine); throughput targets on wall-clock rates.
pub fn targets(results: &[CaseResult], timer_ns: u64) -> String {
    let mut s = String::new();
    // Hit targets, judged at each scale the run measured (pages = frames).
    let mut scales: Vec<u32> = results
        .iter()
        .filter(|r| r.workload == "hit")
        .map(|r| r.frames)
        .collect();
    scales.sort_unstable();
    scales.dedup();
    for f in scales {
        let rows: Vec<CaseResult> = results
            .iter()
            .filter(|r| r.workload != "hit" || r.frames == f)
            .cloned()
            .collect();
        s.push_str(&hit_targets(&rows, timer_ns, &format!("hit frames={f}")));
    }
    s.push_str(&miss_targets(results));
    s.push_str(&super::variant::targets(results));
    s
}

/// The row of workload `w`, system `s`, access `a`, distribution `d`, `t` threads (the first one).
fn find<'r>(results: &'r [CaseResult], w: &str, s: &str, a: &str, d: &str, t: usize) -> Option<&'r CaseResult> {
    results
        .iter()
        .find(|r| r.workload == w && r.system == s && r.access == a && r.dist == d && r.threads == t)
}

/// The hit targets of the one scale `results`' hit rows have, each line naming the case as `label`.
fn hit_targets(results: &[CaseResult], timer_ns: u64, label: &str) -> String {
    let find = |w: &str, s: &str, a: &str, d: &str, t: usize| find(results, w, s, a, d, t);
    let mut dists: Vec<&str> = results
        .iter()
        .filter(|r| r.workload == "hit")
        .map(|r| r.dist.as_str())
        .collect();
    dists.sort_unstable();
    dists.dedup();
    let mut threads: Vec<usize> = results.iter().map(|r| r.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut s = String::new();
    for (access, limit) in [("optimistic", 1.3), ("shared", 1.6)] {
        for d in &dists {
            for &t in &threads {
                let (Some(b), Some(r)) = (
                    find("hit", "bufpool", access, d, t),
                    find("hit", "raw-memory", access, d, t),
                ) else {
                    continue;
                };
                let mean = b.ns_per_op_mean / r.ns_per_op_mean;
                let cpu = b.cpu_ns_per_op / r.cpu_ns_per_op;
                let p50 = match p50_ratio(b.ns_per_op_p50, r.ns_per_op_p50, timer_ns) {
                    Some(x) => format!(", p50 {x}"),
                    None => String::new(),
                };
                let _ = writeln!(
                    s,
                    "{access} {label} {d} threads={t}: bufpool/raw-memory cpu ns/op {cpu:.2}x (wall {mean:.2}x{p50}), \
                     target <= {limit}x: {}",
                    verdict(cpu <= limit)
                );
            }
        }
    }
    for access in ["optimistic", "shared", "exclusive"] {
        for d in &dists {
            for sys in ["bufpool", "raw-memory"] {
                let (Some(one), Some(two)) = (find("hit", sys, access, d, 1), find("hit", sys, access, d, 2)) else {
                    continue;
                };
                let x = two.ops_per_sec / one.ops_per_sec;
                // What two threads would do with a core each: twice one thread's rate at the CPU cost per op
                // measured with two (contention raises the cost; time descheduled does not count).
                let cpu_x = 2.0 * one.cpu_ns_per_op / two.cpu_ns_per_op;
                let v = if sys == "bufpool" {
                    format!(", target >= 1.9x: {}", verdict(x >= 1.9))
                } else {
                    " (the machine's ceiling)".to_string()
                };
                let _ = writeln!(
                    s,
                    "{access} {label} {d}: {sys} 2 threads / 1 thread throughput {x:.2}x (a core each: {cpu_x:.2}x){v}"
                );
            }
        }
    }
    for access in ["shared", "exclusive"] {
        for d in &dists {
            for &t in &threads {
                let (Some(b), Some(p)) = (
                    find("hit", "bufpool", access, d, t),
                    find("hit", "page-db", access, d, t),
                ) else {
                    continue;
                };
                let x = b.ops_per_sec / p.ops_per_sec;
                let _ = writeln!(
                    s,
                    "{access} {label} {d} threads={t}: bufpool/page-db throughput {x:.2}x, target >= 3x: {}",
                    verdict(x >= 3.0)
                );
            }
        }
    }
    s
}

/// The miss targets: bufpool against raw-pread, per op and per device read.
fn miss_targets(results: &[CaseResult]) -> String {
    let mut threads: Vec<usize> = results.iter().map(|r| r.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let find = |w: &str, s: &str, a: &str, d: &str, t: usize| find(results, w, s, a, d, t);
    let mut s = String::new();
    for &t in &threads {
        let (Some(b), Some(r)) = (
            find("miss", "bufpool", "shared", "uniform", t),
            find("miss", "raw-pread", "shared", "uniform", t),
        ) else {
            continue;
        };
        let x = b.ops_per_sec / r.ops_per_sec;
        let per_read = per_device_read(b, r).map_or("-".to_string(), |p| format!("{p:.2}x"));
        let _ = writeln!(
            s,
            "miss threads={t}: bufpool/raw-pread throughput {x:.2}x (bufpool reads {:.2} pages/op, raw-pread {:.2}; \
             per device read {per_read}), target >= 0.9x: {}",
            b.reads_per_op,
            r.reads_per_op,
            verdict(x >= 0.9)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miss_row(system: &'static str, ns_per_op: f64, reads_per_op: f64) -> CaseResult {
        CaseResult {
            workload: "miss",
            system,
            access: "shared",
            dist: "uniform".into(),
            threads: 1,
            pages: 640,
            frames: 64,
            ops_per_sec: 1e9 / ns_per_op,
            ns_per_op_p50: ns_per_op,
            ns_per_op_p99: ns_per_op,
            ns_per_op_p999: ns_per_op,
            ns_per_op_mean: ns_per_op,
            cpu_ns_per_op: 1000.0,
            hit_ratio: 1.0 - reads_per_op,
            reads_per_op,
            writes_per_op: 0.0,
            scan_ops_per_sec: None,
            direct_io: Some(true),
            seconds: 1.0,
            features: Default::default(),
            tuples: None,
            pool_fraction: None,
            durability: None,
            syncs_per_op: None,
            memory_bytes: None,
            file_pages: None,
            tree_bytes_per_tuple: None,
        }
    }

    #[test]
    fn misses_compare_per_device_read() {
        // 10% free hits make bufpool look 1.11x as fast per op; per device read it is exactly as fast.
        let b = miss_row("bufpool", 90_000.0, 0.9);
        let r = miss_row("raw-pread", 100_000.0, 1.0);
        assert!((r.ns_per_op_mean / b.ns_per_op_mean - 1.111).abs() < 0.001);
        assert!((per_device_read(&b, &r).unwrap() - 1.0).abs() < 1e-9);
        // Slower per read: below 1.
        let slow = miss_row("bufpool", 99_000.0, 0.9);
        assert!(per_device_read(&slow, &r).unwrap() < 0.95);
        assert_eq!(per_device_read(&miss_row("bufpool", 50.0, 0.0), &r), None);
        let text = targets(&[b, r], 25);
        assert!(text.contains("per device read 1.00x"), "{text}");
    }

    /// The column header is repeated at each workload and at least every `HEADER_EVERY_LINES` lines (it was
    /// printed once, above some 190 rows of a full run).
    #[test]
    fn the_summary_repeats_its_header() {
        let mut rows = Vec::new();
        for workload in ["hit", "miss"] {
            for threads in 1..=12 {
                for (system, ns) in [("bufpool", 100.0), ("raw-pread", 120.0), ("naive-lru", 300.0)] {
                    rows.push(CaseResult {
                        workload,
                        threads,
                        ..miss_row(system, ns, 0.5)
                    });
                }
            }
        }
        let text = summary(&rows, 25);
        let lines: Vec<&str> = text.lines().collect();
        let headers: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("system ")).collect();
        assert_eq!(headers[0], 0, "{text}");
        // Each workload opens with the header.
        for workload in ["-- hit ", "-- miss "] {
            let first = lines.iter().position(|l| l.starts_with(workload)).unwrap();
            assert_eq!(lines[first - 1], lines[0], "{text}");
        }
        // Never more than HEADER_EVERY_LINES lines from one header to the next (or to the end).
        let mut ends = headers.clone();
        ends.push(lines.len());
        for w in ends.windows(2) {
            let body = lines[w[0] + 1..w[1]].iter().filter(|l| !l.is_empty()).count();
            assert!(body <= HEADER_EVERY_LINES, "{body} lines under one header:\n{text}");
        }
        // 24 sections of 4 lines: 96 lines, so at least 4 headers; every section whole under one.
        assert!(headers.len() >= 4, "{text}");
        assert_eq!(lines.iter().filter(|l| l.starts_with("-- ")).count(), 24);
    }

    #[test]
    fn p50_ratios_at_the_timers_resolution_are_dropped() {
        // A 25 ns timer: p50s of 30 and 60 ns are mostly the timer.
        assert_eq!(p50_ratio(60.0, 30.0, 25), None);
        assert_eq!(p50_ratio(1000.0, 30.0, 25), None);
        assert_eq!(p50_ratio(400.0, 200.0, 25).as_deref(), Some("2.00x"));
    }
}
