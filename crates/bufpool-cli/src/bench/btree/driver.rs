//! The key-value measurement loop: the [`KvStore`]/[`KvWorker`] traits every B+tree system implements, the
//! load driver, and the timed multi-thread run of one case.
//!
//! Measurement rules (BENCHMARKS.md, "B+tree workloads"):
//! - Threads start together on a barrier and stop when the driver raises a flag after the case's duration.
//! - Throughput is completed ops / wall time; an op is one lookup (a `get_many` batch of `b` keys counts `b`),
//!   one YCSB operation (a scan of up to 100 tuples counts 1, as YCSB counts it), or one loaded tuple.
//! - Latency: one op (or one `get_many` batch) in [`SAMPLE_EVERY`] is timed with an `Instant::now()` pair whose
//!   calibrated cost is subtracted.
//! - Ops are drawn on the fly from per-thread generators ([`OpStream`]), never replayed from a finite list.
//! - CPU ns/op: the whole process's CPU time (`getrusage(RUSAGE_SELF)`) during the case per op: every thread a
//!   system runs counts (the pool's I/O thread, a peer's helpers), and the driver's ticks alike for all.
//! - Durability ([`Durability`]): how writes are committed; `syncs_per_op` is bufpool-btree's log fsyncs (group
//!   commits and WAL-rule flushes, counted by its log) and the peers' durable commits (each one or more
//!   fsync/msync of their files, which they do not count for us) per op.
//! - Device traffic: the process's `read_bytes`/`write_bytes` from `/proc/self/io` (which count what reached the
//!   storage layer, whoever issued it: O_DIRECT, buffered reads that missed the OS page cache, write-back), in
//!   4 KiB units per op. One system runs at a time, so the whole process's traffic is the system's.
//! - Every value read is checked ([`super::tuple::check`]): a wrong value ends the run with an error.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use super::ops::{Op, OpStream};
use super::tuple;
use crate::bench::tick::{TICK_MAX, TICK_MIN};

/// One op (or batch) in this many is timed for the latency histogram.
pub const SAMPLE_EVERY: u64 = 32;
/// The driver samples a system's memory at most every this long...
const MEMORY_SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// ...and waits at least this many times a sample's own duration before the next. A sample measures the system's
/// files' residency ([`resident_bytes`]): where the kernel lacks `cachestat`, a `mincore` over each file, about
/// 45 ms of kernel time for a 7 GiB data file, so sampling every 50 ms took most of a core from the driver's
/// thread, which the worker threads of a 2-thread case on 2 cores then shared with it. At 50x, sampling costs at
/// most 2% of a core whatever the files' size.
const MEMORY_SAMPLE_SPACING: u32 = 50;

/// A key-value system opened over its loaded data, bounded to the case's memory.
pub trait KvStore: Sync {
    /// A thread's handle.
    type Worker<'a>: KvWorker
    where
        Self: 'a;

    /// A handle for one thread, committing its writes as `durability` says.
    fn worker(&self, durability: Durability) -> Result<Self::Worker<'_>>;

    /// Syncs done so far: bufpool-btree's log fsyncs, the peers' durable commits.
    fn syncs(&self) -> u64;

    /// `(hits, misses)` of the system's cache so far, where it reports them.
    fn cache_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Called while a case runs (a system whose file is read through the OS page cache evicts it here when it
    /// must be kept out of memory); returns how long the system can wait for the next call (`bench::tick`:
    /// [`TICK_MIN`] for such an eviction, [`TICK_MAX`] when there is nothing to do).
    fn tick(&self) -> Duration {
        TICK_MAX
    }

    /// Memory the system holds now: its cache's bound plus its files' pages resident in the OS page cache.
    fn memory_bytes(&self) -> u64;

    /// Makes every write so far durable. Called after every case, outside its time, so no case pays for the
    /// writes an earlier one left unsynced (redb's first `Durability::Immediate` commit after many
    /// `Durability::None` ones writes them all).
    fn settle(&self) -> Result<()>;
}

pub use crate::bench::page_cache::resident_bytes;

/// One thread's view of a [`KvStore`]. Every read checks the values it gets.
pub trait KvWorker {
    /// Looks tuple `id` up (it must exist) and returns the version it found.
    fn get(&mut self, id: u64) -> Result<u64>;

    /// Looks up every tuple of `ids` (they must exist) as one batch.
    fn get_many(&mut self, ids: &[u64]) -> Result<()>;

    /// Writes tuple `id` at `version` (insert or overwrite), committed as the worker's [`Durability`] says.
    fn put(&mut self, id: u64, version: u64) -> Result<()>;

    /// Commits what an open batch holds (the end of a run belongs to its time).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    /// Reads up to `len` tuples in key order from tuple `id`'s key; returns how many it read.
    fn scan(&mut self, id: u64, len: u64) -> Result<u64>;

    /// Reads every tuple in key order (checking each); returns how many there are. Used to warm caches.
    fn scan_all(&mut self) -> Result<u64>;
}

/// How a case uses its thread streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each drawn tuple id is looked up with `get`.
    Get,
    /// `get_many` over batches of this many drawn ids.
    GetMany(usize),
    /// Each draw is a YCSB [`Op`].
    Ycsb,
}

/// How a write is committed: the same contract for every system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Durability {
    /// Each write atomic and visible when it returns, made durable only by a later sync: bufpool-btree's `put`
    /// (its record in the log buffer), redb's `Durability::None` commit, LMDB's `NO_SYNC` commit.
    NondurableAutocommit,
    /// Each write committed and durable when it returns: bufpool-btree's `put` + `commit` (concurrent committers
    /// share one log fsync), redb's `Durability::Immediate` commit, LMDB's commit + `mdb_env_sync`.
    Durable,
    /// Each thread commits durably after every N of its writes (redb and LMDB: one write transaction of N
    /// writes, which holds their single writer lock meanwhile).
    Batch(u32),
}

impl Durability {
    /// The name in output and JSON: `nondurable-autocommit`, `durable`, `batch:N`.
    pub fn label(self) -> String {
        match self {
            Durability::NondurableAutocommit => "nondurable-autocommit".into(),
            Durability::Durable => "durable".into(),
            Durability::Batch(n) => format!("batch:{n}"),
        }
    }

    /// Parses [`Durability::label`]'s output.
    pub fn parse(s: &str) -> std::result::Result<Durability, String> {
        match s.trim() {
            "nondurable-autocommit" => Ok(Durability::NondurableAutocommit),
            "durable" => Ok(Durability::Durable),
            other => match other.strip_prefix("batch:").map(str::parse::<u32>) {
                Some(Ok(n)) if (1..=1_000_000).contains(&n) => Ok(Durability::Batch(n)),
                _ => Err(format!(
                    "unknown durability `{other}`: expected nondurable-autocommit, durable or batch:N (N in 1..=1000000)"
                )),
            },
        }
    }

    /// Whether the `n`-th write of a thread (counting from 1) ends with a durable commit.
    pub fn commits_after(self, n: u64) -> bool {
        match self {
            Durability::NondurableAutocommit => false,
            Durability::Durable => true,
            Durability::Batch(b) => n.is_multiple_of(u64::from(b)),
        }
    }
}

pub use crate::bench::driver::calibrate_timer;
use crate::bench::driver::process_cpu_ns;

/// `(read_bytes, write_bytes)` of this process so far (zeros where `/proc/self/io` cannot be read).
pub fn process_io() -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string("/proc/self/io") else {
        return (0, 0);
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("read_bytes:"), field("write_bytes:"))
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static histogram bounds are valid")
}

fn record(hist: &mut Histogram<u64>, d: Duration, timer_ns: u64) {
    hist.saturating_record((d.as_nanos() as u64).saturating_sub(timer_ns).max(1));
}

/// The raw outcome of one case (or one load) on one system.
#[derive(Debug)]
pub struct Measured {
    /// Ops per second, all threads together.
    pub ops_per_sec: f64,
    /// Latency samples (ns per op, or per `get_many` batch).
    pub hist: Histogram<u64>,
    /// Ops completed.
    pub ops: u64,
    /// CPU ns per op of the measured threads.
    pub cpu_ns_per_op: f64,
    /// Wall seconds measured.
    pub seconds: f64,
    /// Bytes read from and written to the storage layer by the process during the run.
    pub io_bytes: (u64, u64),
    /// Cache `(hits, misses)` during the run, where the system reports them.
    pub cache: Option<(u64, u64)>,
    /// Syncs during the run ([`KvStore::syncs`]).
    pub syncs: u64,
    /// The most memory the system held when sampled during the run ([`KvStore::memory_bytes`]).
    pub memory_bytes: u64,
}

/// What a thread needs besides its worker.
struct ThreadRun<'a> {
    mode: Mode,
    stop: &'a AtomicBool,
    next_insert: &'a AtomicU64,
    thread: usize,
    timer_ns: u64,
}

fn run_thread<W: KvWorker>(
    w: &mut W,
    r: &ThreadRun<'_>,
    ops: &mut OpStream<'_>,
    hist: &mut Histogram<u64>,
) -> Result<u64> {
    let (mut n, mut round) = (0u64, 0u64);
    let mut batch: Vec<u64> = Vec::new();
    // Versions written by this thread: distinct from every other thread's and from the load's version 0.
    let mut version = ((r.thread as u64 + 1) << 40) | 1;
    loop {
        // Not before the first round (a timed one): a thread started after a short case ended still measures.
        if round > 0 && round % 16 == 0 && r.stop.load(Ordering::Relaxed) {
            break;
        }
        let timed = round % SAMPLE_EVERY == 0;
        let t0 = timed.then(Instant::now);
        match r.mode {
            Mode::Get => {
                w.get(ops.next_id())?;
                n += 1;
            }
            Mode::GetMany(size) => {
                batch.clear();
                batch.extend((0..size).map(|_| ops.next_id()));
                w.get_many(&batch)?;
                n += size as u64;
            }
            Mode::Ycsb => {
                match ops.next_op() {
                    Op::Read(id) => {
                        w.get(id)?;
                    }
                    Op::Update(id) => {
                        version += 1;
                        w.put(id, version)?;
                    }
                    Op::ReadModifyWrite(id) => {
                        let v = w.get(id)?;
                        w.put(id, v.wrapping_add(1))?;
                    }
                    Op::Scan(id, len) => {
                        w.scan(id, len)?;
                    }
                    Op::Insert => {
                        let id = r.next_insert.fetch_add(1, Ordering::Relaxed);
                        w.put(id, 0)?;
                    }
                }
                n += 1;
            }
        }
        if let Some(t0) = t0 {
            record(hist, t0.elapsed(), r.timer_ns);
        }
        round += 1;
    }
    w.finish()?;
    Ok(n)
}

/// Runs `mode` on `sys` for `duration`, thread `t` drawing from `streams[t]`, writes committed as `durability`
/// says. `next_insert` hands out the ids of inserted tuples (YCSB E).
#[allow(clippy::too_many_arguments)]
pub fn measure<S: KvStore>(
    sys: &S,
    mode: Mode,
    streams: Vec<OpStream<'_>>,
    durability: Durability,
    duration: Duration,
    timer_ns: u64,
    next_insert: &AtomicU64,
) -> Result<Measured> {
    let threads = streams.len();
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let (outs, start, io0, io1, c0, c1, cpu, syncs, memory_bytes) = std::thread::scope(|s| {
        let handles: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(thread, mut ops)| {
                let r = ThreadRun {
                    mode,
                    stop: &stop,
                    next_insert,
                    thread,
                    timer_ns,
                };
                let barrier = &barrier;
                s.spawn(move || -> Result<(u64, Histogram<u64>, Instant)> {
                    let worker = sys.worker(durability);
                    barrier.wait();
                    let mut worker = worker?;
                    let mut hist = new_hist();
                    let got = run_thread(&mut worker, &r, &mut ops, &mut hist);
                    if got.is_err() {
                        r.stop.store(true, Ordering::Relaxed);
                    }
                    got.map(|n| (n, hist, Instant::now()))
                })
            })
            .collect();
        // The case starts bounded (the warm-up or the last case may have left more in memory).
        sys.tick();
        let (io0, c0, syncs0, cpu0) = (process_io(), sys.cache_counts(), sys.syncs(), process_cpu_ns());
        barrier.wait();
        let start = Instant::now();
        let (mut next_sample, mut memory) = (start + MEMORY_SAMPLE_EVERY, 0u64);
        while start.elapsed() < duration && !stop.load(Ordering::Relaxed) {
            // Sampled before an eviction, when the most has piled up.
            if Instant::now() >= next_sample {
                let t = Instant::now();
                memory = memory.max(sys.memory_bytes());
                next_sample = t + MEMORY_SAMPLE_EVERY.max(t.elapsed() * MEMORY_SAMPLE_SPACING);
            }
            let wait = sys.tick().clamp(TICK_MIN, TICK_MAX);
            // Woken for the next memory sample too, and at the case's end.
            let wait = wait
                .min(next_sample.saturating_duration_since(Instant::now()))
                .min(duration.saturating_sub(start.elapsed()));
            std::thread::sleep(wait);
        }
        stop.store(true, Ordering::Relaxed);
        let outs: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a benchmark thread panicked")))
            })
            .collect();
        let cpu = process_cpu_ns().saturating_sub(cpu0);
        let syncs = sys.syncs().saturating_sub(syncs0);
        let memory = memory.max(sys.memory_bytes());
        (
            outs,
            start,
            io0,
            process_io(),
            c0,
            sys.cache_counts(),
            cpu,
            syncs,
            memory,
        )
    });
    sys.settle().context("making the case's writes durable after it")?;
    let mut hist = new_hist();
    let (mut ops, mut end) = (0u64, start);
    for out in outs {
        let (n, h, thread_end) = out?;
        ops += n;
        end = end.max(thread_end);
        hist.add(&h).context("merging latency histograms")?;
    }
    let seconds = (end - start).as_secs_f64().max(1e-9);
    Ok(Measured {
        ops_per_sec: ops as f64 / seconds,
        hist,
        ops,
        cpu_ns_per_op: cpu as f64 / ops.max(1) as f64,
        seconds,
        io_bytes: (io1.0.saturating_sub(io0.0), io1.1.saturating_sub(io0.1)),
        cache: c0
            .zip(c1)
            .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
        syncs,
        memory_bytes,
    })
}

/// A system being loaded, one tuple at a time (or all at once, by a bulk path), on one thread.
pub trait Loader {
    /// Inserts tuple `id` at version 0.
    fn insert(&mut self, id: u64) -> Result<()>;

    /// Loads every tuple of `ids` (in ascending key order) into the empty system through its bulk path; `false`
    /// (nothing done) if it has none, and then [`load`] inserts them one by one.
    fn bulk(&mut self, _ids: &[u64]) -> Result<bool> {
        Ok(false)
    }

    /// Makes everything inserted durable in the system's files (final commit, sync, checkpoint).
    fn finish(&mut self) -> Result<()>;
}

/// Loads the tuples of `ids` in that order (with `bulk`, through the system's bulk path if it has one; no
/// per-insert latency is then sampled) and then calls `finish`; the whole is the load's time. `progress` is
/// called every 64 Ki tuples with the count so far.
pub fn load(
    l: &mut impl Loader,
    ids: &[u64],
    bulk: bool,
    timer_ns: u64,
    mut progress: impl FnMut(u64),
) -> Result<Measured> {
    let tuples = ids.len() as u64;
    let mut hist = new_hist();
    let io0 = process_io();
    let cpu0 = process_cpu_ns();
    let start = Instant::now();
    let one_by_one: &[u64] = if bulk && l.bulk(ids)? { &[] } else { ids };
    for (i, &id) in (0u64..).zip(one_by_one) {
        if i % SAMPLE_EVERY == 0 {
            let t0 = Instant::now();
            l.insert(id)?;
            record(&mut hist, t0.elapsed(), timer_ns);
        } else {
            l.insert(id)?;
        }
        if i % (1 << 16) == 0 {
            progress(i);
        }
    }
    l.finish()?;
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    let cpu = process_cpu_ns().saturating_sub(cpu0);
    let io1 = process_io();
    Ok(Measured {
        ops_per_sec: tuples as f64 / seconds,
        hist,
        ops: tuples,
        cpu_ns_per_op: cpu as f64 / tuples.max(1) as f64,
        seconds,
        io_bytes: (io1.0.saturating_sub(io0.0), io1.1.saturating_sub(io0.1)),
        cache: None,
        syncs: 0,
        memory_bytes: 0,
    })
}

/// Checks every pair a scan returned and counts them; `len` bounds the pairs taken.
pub fn check_scan<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    pairs: impl Iterator<Item = Result<(K, V)>>,
    len: u64,
) -> Result<u64> {
    let mut n = 0;
    for pair in pairs.take(len as usize) {
        let (k, v) = pair?;
        tuple::check_pair(k.as_ref(), v.as_ref())?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::bench::btree::ops::{KeyChooser, Ycsb};
    use crate::bench::workload::Dist;

    /// Records what it is asked; raises `stop` after `limit` lookups; counts commits as a batch would.
    struct Recorder<'a> {
        ids: HashSet<u64>,
        asked: u64,
        limit: u64,
        stop: &'a AtomicBool,
        puts: u64,
        finished: bool,
    }

    impl KvWorker for Recorder<'_> {
        fn get(&mut self, id: u64) -> Result<u64> {
            self.ids.insert(id);
            self.asked += 1;
            if self.asked >= self.limit {
                self.stop.store(true, Ordering::Relaxed);
            }
            Ok(0)
        }
        fn get_many(&mut self, ids: &[u64]) -> Result<()> {
            for &id in ids {
                self.get(id)?;
            }
            Ok(())
        }
        fn put(&mut self, _id: u64, _version: u64) -> Result<()> {
            self.puts += 1;
            Ok(())
        }
        fn scan(&mut self, _id: u64, _len: u64) -> Result<u64> {
            Ok(0)
        }
        fn scan_all(&mut self) -> Result<u64> {
            Ok(0)
        }
        fn finish(&mut self) -> Result<()> {
            self.finished = true;
            Ok(())
        }
    }

    fn distinct(mode: Mode, ycsb: Option<Ycsb>, limit: u64) -> (usize, bool) {
        let keys = KeyChooser::new(Dist::Uniform, 1 << 40);
        let stop = AtomicBool::new(false);
        let next_insert = AtomicU64::new(0);
        let r = ThreadRun {
            mode,
            stop: &stop,
            next_insert: &next_insert,
            thread: 0,
            timer_ns: 0,
        };
        let mut w = Recorder {
            ids: HashSet::new(),
            asked: 0,
            limit,
            stop: &stop,
            puts: 0,
            finished: false,
        };
        let mut ops = OpStream::new(&keys, ycsb, 1, 0, 1, 0);
        run_thread(&mut w, &r, &mut ops, &mut new_hist()).unwrap();
        (w.ids.len(), w.finished)
    }

    /// The looping sequences of old: each thread replayed 2^18 pre-drawn ids, so a run of 2^20 lookups asked for at
    /// most 2^18 distinct tuples (50 M tuples at a 14% pool then read at a 0.989 hit ratio). Drawn on the fly,
    /// a long run's distinct keys grow with its length.
    #[test]
    fn a_long_runs_distinct_keys_grow_with_its_length() {
        for (mode, ycsb) in [
            (Mode::Get, None),
            (Mode::GetMany(64), None),
            (Mode::Ycsb, Some(Ycsb::C)),
        ] {
            let (short, finished) = distinct(mode, ycsb, 1 << 18);
            let (long, _) = distinct(mode, ycsb, 1 << 20);
            assert!(short > (1 << 18) - 100, "{mode:?}: {short}");
            assert!(long > 3 * (1 << 18), "{mode:?}: {long} distinct of 2^20");
            assert!(finished, "{mode:?}: the run did not end with finish()");
        }
    }
}
