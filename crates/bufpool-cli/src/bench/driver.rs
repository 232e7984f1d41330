//! The measurement loop: runs one case against one system on N threads and turns what happened into numbers.
//!
//! Owns: the [`System`] and [`Worker`] traits every benchmarked system implements, the shared I/O counters
//! ([`IoCounters`]) from which hit ratios and device reads/writes per op are derived, and latency sampling.
//!
//! Measurement rules (documented in BENCHMARKS.md):
//! - Threads start together on a barrier and stop when the driver raises a flag after the case's duration.
//! - Throughput is completed ops / elapsed wall time. "ns/op" in ratios is `threads / ops_per_sec` (the mean
//!   time one thread spends per op).
//! - **The clock is charged to no system** where systems are compared on cheap ops ([`phases`]: hit, miss,
//!   scan): a round is two phases. The first times nothing: throughput, CPU per op, device I/O and the hit ratio
//!   come from it. The second ([`Phase::Latency`], a quarter of the case's duration, on a distinct stream) times
//!   every op and gives only the percentiles. A timed op costs more than its two clock reads: the vDSO clock
//!   orders the TSC read after every earlier load (`lfence; rdtsc` or `rdtscp`), which waits for the misses a
//!   system keeps in flight, so a system that overlaps independent reads (raw-memory) would pay more for each
//!   sample than one whose reads are serial (a pool's lookup, then its page): the same number of clock reads per
//!   op is not the same cost (reasoned from the clock's ordering, not measured apart). `mixed` (disk-bound,
//!   every op timed: the clock is under 0.1% of an op) and `checkpoint` (bufpool alone, 1 op in
//!   [`SAMPLE_EVERY`]) keep one phase ([`Phase::Inline`]): there every system of the case pays the same clock
//!   reads per op.
//! - Each latency sample is an `Instant::now()` pair (vDSO, TSC clock here); the calibrated cost of the pair is
//!   subtracted from every sample, the same for every system. On the AMD EPYC VM this was built on, the TSC
//!   itself advances in steps of ~10 ns, so hit percentiles are only good to about +-10 ns; the throughput-derived
//!   ns/op is the precise figure for hits. (A fenced `rdtsc` clock was tried and dropped: same steps, same cost.)
//! - Ops come from per-thread generators ([`OpStream`]) drawn on the fly: a run never loops over a finite list.
//!   The draw (a few ns, a Zipf draw about 20 ns) is inside every system's measured time alike.
//! - CPU ns/op is the whole process's CPU time (`getrusage(RUSAGE_SELF)`, user + system) during the case per
//!   measured op: it counts every thread a system runs (bufpool's I/O thread and background writer, a peer's
//!   helpers) and the driver's own timer thread (asleep but for a wake-up every 2 ms, the same for all systems).
//!   In `scan` and `checkpoint` it includes the scanner's, writer's and checkpointer's CPU. Unlike wall-clock
//!   throughput it does not count time a thread sat descheduled. It counts spinning, not blocking or I/O wait.
//! - Hit ratio is `1 - device reads of measured pages / measured ops`, counted by the wrappers around each
//!   system's storage, the same way for every system (a pool miss is one device read).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

use super::workload::{CaseOps, CaseSpec, OpStream, Workload, OP_WRITE};

/// A scan case runs at most this many times its duration while waiting for the scanner to pass the pool.
pub const SCAN_EXTEND_MAX: u32 = 20;

/// One op in this many is timed in a [`Phase::Inline`] round of `checkpoint` (see [`Phase::sample_every`]).
pub const SAMPLE_EVERY: u64 = 32;

/// What one measured stretch of a round is for, and which of its ops are timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No op is timed: throughput, CPU per op, device I/O and hit ratio come from this phase.
    Untimed,
    /// Every op is timed: only the latency percentiles come from this phase (a quarter of the case's duration,
    /// on a stream of its own, right after the untimed phase).
    Latency,
    /// One phase gives everything, timing every op of `mixed` and 1 op in [`SAMPLE_EVERY`] of `checkpoint`.
    Inline,
}

impl Phase {
    /// Ops per latency sample in this phase of `workload` (0: none is timed). `mixed` times every op (disk-bound,
    /// a few thousand ops a second, whose p99 would otherwise rest on a handful of samples; the clock pair costs
    /// under 0.1% of such an op).
    pub fn sample_every(self, workload: Workload) -> u64 {
        match self {
            Phase::Untimed => 0,
            Phase::Latency => 1,
            Phase::Inline if workload == Workload::Mixed => 1,
            Phase::Inline => SAMPLE_EVERY,
        }
    }

    /// The round number whose streams this phase of round `round` draws: the latency phase draws its own, so it
    /// does not re-read what the untimed phase just loaded.
    pub fn stream_round(self, round: u64) -> u64 {
        if self == Phase::Latency {
            round ^ LATENCY_STREAMS
        } else {
            round
        }
    }

    /// How long this phase of a case of `duration` runs.
    pub fn duration(self, duration: Duration) -> Duration {
        if self == Phase::Latency {
            duration / 4
        } else {
            duration
        }
    }
}

/// Set in the round number of a latency phase's streams (measured rounds are small numbers).
const LATENCY_STREAMS: u64 = 1 << 62;

/// The round number of the warm-up streams (no measured phase draws it), so no measured stream starts with pages
/// the warm-up just loaded.
pub const WARM_ROUND: u64 = u64::MAX;

/// The phases of a round of `workload`. Where systems are compared on ops of tens of ns (hit) or where the
/// comparison is per op against a limit (miss, scan), throughput and CPU are measured untimed and latency apart,
/// so the clock is charged to no system (see the module notes); `mixed` and `checkpoint` time inline.
pub fn phases(workload: Workload) -> &'static [Phase] {
    match workload {
        Workload::Hit | Workload::Miss | Workload::Scan => &[Phase::Untimed, Phase::Latency],
        Workload::Mixed | Workload::Checkpoint => &[Phase::Inline],
    }
}

/// The order in which `systems` systems run `repeat` rounds of one case: `(round, system)`, every system once per
/// round before any runs the next round, the first to run rotating from round to round. Systems measured side by
/// side in time see the same machine: this VM's memory latency drifts by 20% within minutes, so running one
/// system's rounds after another's would compare the machine's moods.
pub fn interleaved(systems: usize, repeat: usize) -> Vec<(usize, usize)> {
    (0..repeat)
        .flat_map(|round| (0..systems).map(move |k| (round, (round + k) % systems)))
        .collect()
}

/// The kind of an individual access, as a system sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Optimistic read.
    Optimistic,
    /// Shared-latched read.
    Shared,
    /// Exclusive-latched write of the page's counters.
    Write,
}

/// Device I/O a system performed, counted where it touches its file.
#[derive(Debug, Default)]
pub struct IoCounters {
    /// Page reads from the device.
    pub reads: AtomicU64,
    /// Page reads of pages below the measured limit (the hot set of `scan`; every page otherwise).
    pub measured_reads: AtomicU64,
    /// Page writes to the device (a write of a run counts each of its pages).
    pub writes: AtomicU64,
    /// Pages at or above this number are not measured for the hit ratio.
    pub measured_below: AtomicU64,
}

impl IoCounters {
    /// Counts one device read of `page`.
    #[inline]
    pub fn read(&self, page: u64) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if page < self.measured_below.load(Ordering::Relaxed) {
            self.measured_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one device write.
    #[inline]
    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a device write of `pages` pages (one call writing a run of consecutive pages).
    #[inline]
    pub fn write_pages(&self, pages: u64) {
        self.writes.fetch_add(pages, Ordering::Relaxed);
    }

    fn snapshot(&self) -> [u64; 3] {
        [
            self.reads.load(Ordering::Relaxed),
            self.measured_reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        ]
    }
}

/// A benchmarked system: a pool, a peer or a limit, opened over its prepared data file.
pub trait System: Sync {
    /// A thread's handle (its private buffers, ring, ...).
    type Worker<'a>: Worker
    where
        Self: 'a;

    /// A handle for one thread.
    fn worker(&self) -> Result<Self::Worker<'_>>;

    /// The system's I/O counters.
    fn counters(&self) -> &IoCounters;
}

/// One thread's view of a system.
pub trait Worker {
    /// Accesses `page` as `kind` and verifies its self-check; an `Err` is a consistency failure (or I/O error)
    /// and aborts the run.
    fn op(&mut self, page: u32, kind: OpKind) -> Result<()>;

    /// Draws ops from `ctx.stream` until `ctx.stop` is raised. Systems that keep several operations in flight
    /// (io_uring) override this; the default issues one op at a time.
    fn run(&mut self, ctx: &mut ThreadCtx<'_>) -> Result<()> {
        replay(ctx, |page, kind| self.op(page, kind))
    }
}

/// Draws `ctx.stream` through `op`, one op at a time, until `ctx.stop` is raised: the loop behind
/// [`Worker::run`], for systems that override `run` for some cases only.
pub fn replay(ctx: &mut ThreadCtx<'_>, mut op: impl FnMut(u32, OpKind) -> Result<()>) -> Result<()> {
    let mut n = 0u64;
    let read = ctx.read_kind;
    let every = ctx.sample_every;
    loop {
        if n.is_multiple_of(32) {
            ctx.progress.store(n, Ordering::Relaxed);
            // Not before the first op: a thread the scheduler started after a short case ended still measures
            // one (timed) op, so no row of a loaded machine comes out without a latency sample.
            if n > 0 && ctx.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let encoded = ctx.stream.next_op();
        let kind = if encoded & OP_WRITE != 0 { OpKind::Write } else { read };
        let page = encoded & !OP_WRITE;
        if every != 0 && n.is_multiple_of(every) {
            let t0 = Instant::now();
            op(page, kind)?;
            ctx.record(t0.elapsed());
        } else {
            op(page, kind)?;
        }
        n += 1;
    }
    ctx.ops = n;
    Ok(())
}

/// What one thread is given and what it reports.
pub struct ThreadCtx<'a> {
    /// The case being measured.
    pub case: &'a CaseSpec,
    /// This thread's index in the case (`scan`: 1 is the scanner; `checkpoint`: 1 writes, 2 checkpoints).
    pub thread: usize,
    /// This thread's ops for this round (each round of a case draws a distinct stream, so a stateful workload
    /// (miss, mixed) never re-reads the pages an earlier round loaded).
    pub stream: OpStream<'a>,
    /// How reads are made in this case.
    pub read_kind: OpKind,
    /// Raised by the driver when time is up (or a thread failed).
    pub stop: &'a AtomicBool,
    /// Ops completed so far, published every few dozen ops (the driver watches the scanner's).
    pub progress: &'a AtomicU64,
    /// Latency samples in ns.
    pub hist: Histogram<u64>,
    /// Ops completed.
    pub ops: u64,
    /// Calibrated cost of timing an op, subtracted from each sample.
    pub timer_ns: u64,
    /// Ops per latency sample in this phase (0: no op is timed); see [`ThreadCtx::timed`].
    pub sample_every: u64,
}

impl ThreadCtx<'_> {
    /// Whether this thread's op number `n` (counted from 0 in this phase) is timed. Systems that drive their
    /// own loop ([`Worker::run`]) time exactly these ops, so every system is timed alike.
    #[inline]
    pub fn timed(&self, n: u64) -> bool {
        self.sample_every != 0 && n.is_multiple_of(self.sample_every)
    }

    /// Records one latency sample.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        let ns = (d.as_nanos() as u64).saturating_sub(self.timer_ns).max(1);
        self.hist.saturating_record(ns);
    }
}

/// Cost of `let t = Instant::now(); t.elapsed()` in ns: the median of many tries.
pub fn calibrate_timer() -> u64 {
    let mut v: Vec<u64> = (0..2001)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

/// CPU time (user + system) the whole process has used, in ns (`getrusage(RUSAGE_SELF)`): every thread, the
/// measured ones and any a system runs behind them.
pub fn process_cpu_ns() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; the call only writes it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return 0;
    }
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    ns(ru.ru_utime) + ns(ru.ru_stime)
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static histogram bounds are valid")
}

/// The raw outcome of one case on one system.
#[derive(Debug)]
pub struct Measured {
    /// Measured ops per second (for `scan`: the hot reader's).
    pub ops_per_sec: f64,
    /// Latency samples of the measured threads.
    pub hist: Histogram<u64>,
    /// Ops of the measured threads.
    pub measured_ops: u64,
    /// Ops of each thread (to continue its sequence in the next round).
    pub thread_ops: Vec<u64>,
    /// CPU time of the whole process during the case per measured op (excludes time descheduled or blocked).
    pub cpu_ns_per_op: f64,
    /// Ops of every thread.
    pub all_ops: u64,
    /// The scanner's ops per second (`scan` only).
    pub scan_ops_per_sec: Option<f64>,
    /// Measured seconds (longer than asked for a scan whose scanner was slow to pass the pool).
    pub seconds: f64,
    /// `[reads, measured reads, writes]` during the case.
    pub io: [u64; 3],
    /// Device reads during the latency phase (whose other numbers are dropped), so a hit case can still require
    /// none.
    pub latency_phase_reads: u64,
}

/// Runs round `round` of `case` on `sys`: each of the workload's [`phases`] in turn (the untimed one for
/// `duration`, the latency one for a quarter of it), merged into one [`Measured`]: the latency percentiles from
/// the timed phase, every other number from the untimed one.
pub fn measure_round<S: System>(
    sys: &S,
    case: &CaseSpec,
    ops: &CaseOps,
    round: u64,
    read_kind: OpKind,
    duration: Duration,
    timer_ns: u64,
) -> Result<Measured> {
    let mut out: Option<Measured> = None;
    for &phase in phases(case.workload) {
        let m = measure(sys, case, ops, round, read_kind, phase, duration, timer_ns)?;
        out = Some(match (out, phase) {
            (Some(mut first), Phase::Latency) => {
                first.hist = m.hist;
                first.latency_phase_reads = m.io[0];
                first
            }
            (_, _) => m,
        });
    }
    Ok(out.expect("every workload has a phase"))
}

/// Runs `phase` of round `round` of `case` on `sys` (for `phase.duration(duration)`): one op stream per thread
/// (`ops.stream(phase.stream_round(round), thread)`); for `scan`, thread 0 is the measured hot reader and
/// thread 1 the scanner.
#[allow(clippy::too_many_arguments)]
pub fn measure<S: System>(
    sys: &S,
    case: &CaseSpec,
    ops: &CaseOps,
    round: u64,
    read_kind: OpKind,
    phase: Phase,
    duration: Duration,
    timer_ns: u64,
) -> Result<Measured> {
    let duration = phase.duration(duration);
    let sample_every = phase.sample_every(case.workload);
    let round = phase.stream_round(round);
    let threads = case.threads;
    let stop = AtomicBool::new(false);
    let progress: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    let barrier = Barrier::new(threads + 1);
    // A scan case also runs until the scanner has passed through the whole pool once (else the scan puts no
    // pressure on the hot set), within a bound.
    let is_scan = case.workload == super::workload::Workload::Scan;
    // (The latency phase only times ops; the untimed phase before it made the scan's pressure.)
    let scan_pages_min = if is_scan && phase != Phase::Latency {
        u64::from(case.frames)
    } else {
        0
    };
    let duration_max = duration * SCAN_EXTEND_MAX;
    sys.counters()
        .measured_below
        .store(u64::from(case.hot_pages), Ordering::Relaxed);
    let (outs, before, after, start, process_cpu) = std::thread::scope(|s| {
        let handles: Vec<_> = progress
            .iter()
            .enumerate()
            .map(|(thread, progress)| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || -> Result<(u64, Histogram<u64>, Instant)> {
                    let worker = sys.worker();
                    barrier.wait();
                    let mut worker = worker?;
                    let mut ctx = ThreadCtx {
                        case,
                        thread,
                        stream: ops.stream(round, thread),
                        read_kind,
                        stop,
                        progress,
                        hist: new_hist(),
                        ops: 0,
                        timer_ns,
                        sample_every,
                    };
                    let r = worker.run(&mut ctx);
                    if r.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    r.map(|()| (ctx.ops, ctx.hist, Instant::now()))
                })
            })
            .collect();
        let before = sys.counters().snapshot();
        let cpu0 = process_cpu_ns();
        barrier.wait();
        let start = Instant::now();
        let scanned = || progress.get(1).map_or(0, |p| p.load(Ordering::Relaxed));
        while !stop.load(Ordering::Relaxed) {
            let t = start.elapsed();
            if t >= duration_max || (t >= duration && scanned() >= scan_pages_min) {
                break;
            }
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
        // Every thread has stopped: the counters now cover exactly the ops counted.
        let after = sys.counters().snapshot();
        let cpu = process_cpu_ns().saturating_sub(cpu0);
        (outs, before, after, start, cpu)
    });
    let mut hist = new_hist();
    let (mut measured_ops, mut all_ops, mut scan_ops) = (0u64, 0u64, 0u64);
    let mut thread_ops = Vec::with_capacity(threads);
    let mut end = start;
    for (t, out) in outs.into_iter().enumerate() {
        let (ops, h, thread_end) = out?;
        thread_ops.push(ops);
        all_ops += ops;
        if t >= case.measured_threads() {
            // The scanner, or the checkpoint workload's writer and checkpointer.
            if is_scan {
                scan_ops += ops;
            }
        } else {
            // Measured time ends with the measured threads (a checkpointer may finish its checkpoint later).
            end = end.max(thread_end);
            measured_ops += ops;
            hist.add(&h).expect("histograms share bounds");
        }
    }
    let secs = (end - start).as_secs_f64().max(1e-9);
    let io = [after[0] - before[0], after[1] - before[1], after[2] - before[2]];
    Ok(Measured {
        ops_per_sec: measured_ops as f64 / secs,
        hist,
        measured_ops,
        thread_ops,
        cpu_ns_per_op: process_cpu as f64 / measured_ops.max(1) as f64,
        all_ops,
        scan_ops_per_sec: is_scan.then(|| scan_ops as f64 / secs),
        seconds: secs,
        io,
        latency_phase_reads: 0,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::bench::workload::{Access, Dist, Workload};

    /// Counts ops; fails once it has done `fail_after` of them (on any thread).
    struct Flaky {
        done: AtomicU64,
        fail_after: u64,
        counters: IoCounters,
    }

    struct FlakyWorker<'a>(&'a Flaky);

    impl System for Flaky {
        type Worker<'a> = FlakyWorker<'a>;
        fn worker(&self) -> Result<FlakyWorker<'_>> {
            Ok(FlakyWorker(self))
        }
        fn counters(&self) -> &IoCounters {
            &self.counters
        }
    }

    impl Worker for FlakyWorker<'_> {
        fn op(&mut self, page: u32, _kind: OpKind) -> Result<()> {
            if page.is_multiple_of(7) {
                self.0.counters.read(u64::from(page));
            }
            if self.0.done.fetch_add(1, Ordering::Relaxed) + 1 == self.0.fail_after {
                anyhow::bail!("self-check mismatch on page {page}");
            }
            Ok(())
        }
    }

    fn case(threads: usize) -> CaseSpec {
        CaseSpec {
            workload: Workload::Hit,
            access: Access::Shared,
            dist: Dist::Uniform,
            threads,
            pages: 64,
            frames: 64,
            hot_pages: 64,
            variant: crate::bench::workload::Variant::Plain,
        }
    }

    fn flaky(fail_after: u64) -> Flaky {
        Flaky {
            done: AtomicU64::new(0),
            fail_after,
            counters: IoCounters::default(),
        }
    }

    #[test]
    fn a_failing_access_fails_the_case_and_stops_every_thread() {
        let sys = flaky(1000);
        let c = case(2);
        let err = measure_round(
            &sys,
            &c,
            &CaseOps::new(&c, 1),
            0,
            OpKind::Shared,
            Duration::from_secs(30),
            0,
        )
        .expect_err("the mismatch must fail the case");
        assert!(format!("{err:#}").contains("mismatch"), "{err:#}");
        // The other thread stopped too: the case did not run for its 30 s.
        assert!(sys.done.load(Ordering::Relaxed) < 10_000_000);
    }

    #[test]
    fn counts_ops_and_device_reads_of_the_case() {
        let sys = flaky(u64::MAX);
        let c = case(1);
        let ops = CaseOps::new(&c, 7);
        let m = measure_round(&sys, &c, &ops, 2, OpKind::Shared, Duration::from_millis(30), 0).unwrap();
        assert!(m.measured_ops > 0 && m.measured_ops == m.all_ops);
        assert_eq!(m.thread_ops, vec![m.measured_ops]);
        // The pages that are multiples of 7 count a read; the untimed phase drew round 2's stream of thread 0.
        let mut s = ops.stream(2, 0);
        let expected = (0..m.measured_ops).filter(|_| s.next_op().is_multiple_of(7)).count() as u64;
        assert_eq!(m.io[0], expected);
        assert_eq!(m.io[0], m.io[1], "every page is measured in a hit case");
        assert!(m.ops_per_sec > 0.0 && !m.hist.is_empty());
        // The latency phase read pages of its own stream, and they are reported apart.
        assert!(m.latency_phase_reads > 0);
    }

    /// The clock is charged to no system where systems are compared on cheap ops: the phase that gives
    /// throughput and CPU times no op, the latency phase times every one, on streams of its own.
    #[test]
    fn throughput_is_measured_untimed_and_latency_apart() {
        for w in [Workload::Hit, Workload::Miss, Workload::Scan] {
            assert_eq!(phases(w), [Phase::Untimed, Phase::Latency], "{w:?}");
            assert_eq!(Phase::Untimed.sample_every(w), 0);
            assert_eq!(Phase::Latency.sample_every(w), 1);
        }
        assert_eq!(phases(Workload::Mixed), [Phase::Inline]);
        assert_eq!(Phase::Inline.sample_every(Workload::Mixed), 1);
        assert_eq!(Phase::Inline.sample_every(Workload::Checkpoint), SAMPLE_EVERY);
        for round in [0, 1, 7] {
            assert_eq!(Phase::Untimed.stream_round(round), round);
            assert_ne!(Phase::Latency.stream_round(round), round);
            assert_ne!(Phase::Latency.stream_round(round), WARM_ROUND);
        }
        let d = Duration::from_millis(400);
        assert_eq!(Phase::Latency.duration(d), Duration::from_millis(100));
        assert_eq!(Phase::Untimed.duration(d), d);

        let sys = flaky(u64::MAX);
        let c = case(2);
        let ops = CaseOps::new(&c, 3);
        let run = |phase| measure(&sys, &c, &ops, 0, OpKind::Shared, phase, Duration::from_millis(20), 0).unwrap();
        let untimed = run(Phase::Untimed);
        assert!(untimed.measured_ops > 0);
        assert!(
            untimed.hist.is_empty(),
            "an untimed phase timed {} ops",
            untimed.hist.len()
        );
        let timed = run(Phase::Latency);
        assert_eq!(timed.hist.len(), timed.measured_ops, "the latency phase times every op");
        // A system driving its own loop asks the context which ops to time: the same ones.
        let (stop, progress) = (AtomicBool::new(false), AtomicU64::new(0));
        let mut ctx = thread_ctx(&c, &ops, &stop, &progress);
        ctx.sample_every = Phase::Inline.sample_every(Workload::Checkpoint);
        assert!(ctx.timed(0) && !ctx.timed(1) && ctx.timed(SAMPLE_EVERY));
        ctx.sample_every = Phase::Untimed.sample_every(Workload::Hit);
        assert!((0..100).all(|n| !ctx.timed(n)));
    }

    /// Thread 0's context for round 0 of `c`, shared reads, no op timed.
    fn thread_ctx<'a>(
        c: &'a CaseSpec,
        ops: &'a CaseOps,
        stop: &'a AtomicBool,
        progress: &'a AtomicU64,
    ) -> ThreadCtx<'a> {
        ThreadCtx {
            case: c,
            thread: 0,
            stream: ops.stream(0, 0),
            read_kind: OpKind::Shared,
            stop,
            progress,
            hist: new_hist(),
            ops: 0,
            timer_ns: 0,
            sample_every: 0,
        }
    }

    #[test]
    fn systems_take_turns_within_each_round() {
        let order = interleaved(3, 4);
        assert_eq!(order.len(), 12);
        for (round, chunk) in order.chunks(3).enumerate() {
            let mut systems: Vec<usize> = chunk
                .iter()
                .map(|&(r, s)| {
                    assert_eq!(r, round);
                    s
                })
                .collect();
            systems.sort_unstable();
            assert_eq!(systems, [0, 1, 2], "round {round}: every system once");
        }
        // No system always goes first (the first of a round pays for what the last one left in the caches).
        let firsts: Vec<usize> = order.chunks(3).map(|c| c[0].1).collect();
        assert_eq!(firsts, [0, 1, 2, 0]);
        assert!(interleaved(0, 3).is_empty());
    }

    /// The loop behind every system's run draws new ops for as long as it runs: over many pages, the distinct
    /// pages it visits grow with the ops it makes (a replayed list of 2^18 ops capped them at 2^18).
    #[test]
    fn replay_keeps_drawing_new_pages() {
        let mut c = case(1);
        c.pages = 1 << 28;
        c.hot_pages = c.pages;
        let ops = CaseOps::new(&c, 11);
        let distinct = |n: u64| {
            let (stop, progress) = (AtomicBool::new(false), AtomicU64::new(0));
            let mut ctx = thread_ctx(&c, &ops, &stop, &progress);
            let mut seen = std::collections::HashSet::new();
            let mut done = 0u64;
            replay(&mut ctx, |page, _| {
                seen.insert(page);
                done += 1;
                if done == n {
                    stop.store(true, Ordering::Relaxed);
                }
                Ok(())
            })
            .unwrap();
            seen.len()
        };
        let (short, long) = (distinct(1 << 18), distinct(1 << 20));
        assert!(short > (1 << 18) - 1000, "{short}");
        assert!(long > 3 * (1 << 18), "{long}");
    }
}
