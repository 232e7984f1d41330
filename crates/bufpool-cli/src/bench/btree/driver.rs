//! The key-value measurement loop: the [`KvStore`]/[`KvWorker`] traits every B+tree system implements, the
//! load driver, and the timed multi-thread run of one case.
//!
//! Measurement rules (BENCHMARKS.md, "B+tree workloads"):
//! - Threads start together on a barrier and stop when the driver raises a flag after the case's duration.
//! - Throughput is completed ops / wall time; an op is one lookup (a `get_many` batch of `b` keys counts `b`),
//!   one YCSB operation (a scan of up to 100 tuples counts 1, as YCSB counts it), or one loaded tuple.
//! - Latency: one op (or one `get_many` batch) in [`SAMPLE_EVERY`] is timed with an `Instant::now()` pair whose
//!   calibrated cost is subtracted.
//! - CPU ns/op: the measured threads' `CLOCK_THREAD_CPUTIME_ID` time per op.
//! - Device traffic: the process's `read_bytes`/`write_bytes` from `/proc/self/io` (which count what reached the
//!   storage layer, whoever issued it: O_DIRECT, buffered reads that missed the OS page cache, write-back), in
//!   4 KiB units per op. One system runs at a time, so the whole process's traffic is the system's.
//! - Every value read is checked ([`super::tuple::check`]): a wrong value ends the run with an error.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use super::ops::Op;
use super::tuple;

/// One op (or batch) in this many is timed for the latency histogram.
pub const SAMPLE_EVERY: u64 = 32;

/// A key-value system opened over its loaded data, bounded to the case's memory.
pub trait KvStore: Sync {
    /// A thread's handle.
    type Worker<'a>: KvWorker
    where
        Self: 'a;

    /// A handle for one thread.
    fn worker(&self) -> Result<Self::Worker<'_>>;

    /// `(hits, misses)` of the system's cache so far, where it reports them.
    fn cache_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Called every few milliseconds while a case runs (a system whose file is read through the OS page cache
    /// evicts it here when it must be kept out of memory).
    fn tick(&self) {}
}

/// One thread's view of a [`KvStore`]. Every read checks the values it gets.
pub trait KvWorker {
    /// Looks tuple `id` up (it must exist) and returns the version it found.
    fn get(&mut self, id: u64) -> Result<u64>;

    /// Looks up every tuple of `ids` (they must exist) as one batch.
    fn get_many(&mut self, ids: &[u64]) -> Result<()>;

    /// Writes tuple `id` at `version` (insert or overwrite), not durable until the system's next sync.
    fn put(&mut self, id: u64, version: u64) -> Result<()>;

    /// Reads up to `len` tuples in key order from tuple `id`'s key; returns how many it read.
    fn scan(&mut self, id: u64, len: u64) -> Result<u64>;

    /// Reads every tuple in key order (checking each); returns how many there are. Used to warm caches.
    fn scan_all(&mut self) -> Result<u64>;
}

/// How a case uses its thread sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each sequence entry is a tuple id, looked up with `get`.
    Get,
    /// Each sequence entry is a tuple id; `get_many` over consecutive batches of this many ids.
    GetMany(usize),
    /// Each sequence entry is an encoded YCSB [`Op`].
    Ycsb,
}

pub use crate::bench::driver::calibrate_timer;
use crate::bench::driver::thread_cpu_ns;

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
}

/// What a thread needs besides its worker.
struct ThreadRun<'a> {
    seq: &'a [u64],
    mode: Mode,
    stop: &'a AtomicBool,
    next_insert: &'a AtomicU64,
    thread: usize,
    timer_ns: u64,
}

fn run_thread<W: KvWorker>(w: &mut W, r: &ThreadRun<'_>, hist: &mut Histogram<u64>) -> Result<u64> {
    let seq = r.seq;
    let (mut i, mut n, mut round) = (0usize, 0u64, 0u64);
    // Versions written by this thread: distinct from every other thread's and from the load's version 0.
    let mut version = ((r.thread as u64 + 1) << 40) | 1;
    loop {
        if round % 16 == 0 && r.stop.load(Ordering::Relaxed) {
            break;
        }
        let timed = round % SAMPLE_EVERY == 0;
        let t0 = timed.then(Instant::now);
        match r.mode {
            Mode::Get => {
                w.get(seq[i])?;
                i += 1;
                n += 1;
            }
            Mode::GetMany(batch) => {
                if i + batch > seq.len() {
                    i = 0;
                }
                w.get_many(&seq[i..i + batch])?;
                i += batch;
                n += batch as u64;
            }
            Mode::Ycsb => {
                match Op::decode(seq[i]) {
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
                i += 1;
                n += 1;
            }
        }
        if i >= seq.len() {
            i = 0;
        }
        if let Some(t0) = t0 {
            record(hist, t0.elapsed(), r.timer_ns);
        }
        round += 1;
    }
    Ok(n)
}

/// Runs `mode` over `seqs` (one per thread) on `sys` for `duration`. `next_insert` hands out the ids of inserted
/// tuples (YCSB E).
pub fn measure<S: KvStore>(
    sys: &S,
    mode: Mode,
    seqs: &[Vec<u64>],
    duration: Duration,
    timer_ns: u64,
    next_insert: &AtomicU64,
) -> Result<Measured> {
    let threads = seqs.len();
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let (outs, start, io0, io1, c0, c1) = std::thread::scope(|s| {
        let handles: Vec<_> = seqs
            .iter()
            .enumerate()
            .map(|(thread, seq)| {
                let r = ThreadRun {
                    seq,
                    mode,
                    stop: &stop,
                    next_insert,
                    thread,
                    timer_ns,
                };
                let barrier = &barrier;
                s.spawn(move || -> Result<(u64, Histogram<u64>, Instant, u64)> {
                    let worker = sys.worker();
                    barrier.wait();
                    let mut worker = worker?;
                    let mut hist = new_hist();
                    let cpu0 = thread_cpu_ns();
                    let got = run_thread(&mut worker, &r, &mut hist);
                    let cpu = thread_cpu_ns().saturating_sub(cpu0);
                    if got.is_err() {
                        r.stop.store(true, Ordering::Relaxed);
                    }
                    got.map(|n| (n, hist, Instant::now(), cpu))
                })
            })
            .collect();
        let (io0, c0) = (process_io(), sys.cache_counts());
        barrier.wait();
        let start = Instant::now();
        while start.elapsed() < duration && !stop.load(Ordering::Relaxed) {
            sys.tick();
            std::thread::sleep(Duration::from_millis(2).min(duration));
        }
        stop.store(true, Ordering::Relaxed);
        let outs: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a benchmark thread panicked")))
            })
            .collect();
        (outs, start, io0, process_io(), c0, sys.cache_counts())
    });
    let mut hist = new_hist();
    let (mut ops, mut cpu, mut end) = (0u64, 0u64, start);
    for out in outs {
        let (n, h, thread_end, c) = out?;
        ops += n;
        cpu += c;
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
    })
}

/// A system being loaded, one tuple at a time, on one thread.
pub trait Loader {
    /// Inserts tuple `id` at version 0.
    fn insert(&mut self, id: u64) -> Result<()>;

    /// Makes everything inserted durable in the system's files (final commit, sync, checkpoint).
    fn finish(&mut self) -> Result<()>;
}

/// Loads tuples `0..tuples` in id order (random key order) and then calls `finish`; the whole is the load's
/// time. `progress` is called every 64 Ki tuples with the count so far.
pub fn load(l: &mut impl Loader, tuples: u64, timer_ns: u64, mut progress: impl FnMut(u64)) -> Result<Measured> {
    let mut hist = new_hist();
    let io0 = process_io();
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    for id in 0..tuples {
        if id % SAMPLE_EVERY == 0 {
            let t0 = Instant::now();
            l.insert(id)?;
            record(&mut hist, t0.elapsed(), timer_ns);
        } else {
            l.insert(id)?;
        }
        if id % (1 << 16) == 0 {
            progress(id);
        }
    }
    l.finish()?;
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    let cpu = thread_cpu_ns().saturating_sub(cpu0);
    let io1 = process_io();
    Ok(Measured {
        ops_per_sec: tuples as f64 / seconds,
        hist,
        ops: tuples,
        cpu_ns_per_op: cpu as f64 / tuples.max(1) as f64,
        seconds,
        io_bytes: (io1.0.saturating_sub(io0.0), io1.1.saturating_sub(io0.1)),
        cache: None,
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
