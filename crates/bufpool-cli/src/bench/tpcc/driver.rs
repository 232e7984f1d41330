//! The timed run of TPC-C on one engine: threads start together on a barrier, each draws transactions from the
//! mix on a uniformly chosen home warehouse and runs them back to back (no think time) until the driver raises
//! the stop flag after the run's duration; the driver ticks the engine meanwhile, as often as the engine asks
//! ([`Engine::tick`]: from every 2 ms to every 100 ms, `bench::tick`): its fast part ([`Engine::tick_fast`],
//! bufpool-btree's log write-outs) on the driver's thread, between the samples, and its slow part
//! ([`Engine::tick_slow`], bufpool-btree's checkpoints) on a thread of its own, so that a checkpoint's seconds
//! stop neither the write-outs (which the workers would then pay, R23-20) nor the samples. An error or a panic on
//! any of these threads raises the stop flag, so the run ends and reports it (R24-1: a panic used not to).
//!
//! Measurement rules (BENCHMARKS.md, "TPC-C"): throughput is committed transactions per second of wall time
//! (rolled-back New-Orders are counted apart); every transaction is timed (an `Instant::now()` pair, its
//! calibrated cost subtracted: a transaction takes tens of microseconds); CPU time is the whole process's
//! (`getrusage`); device traffic is the process's `/proc/self/io` in 4 KiB units; syncs are the engine's
//! ([`Engine::syncs`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;

use super::engine::{Durability, Engine, FullDevice, Worker};
use super::random::{uniform, NuConstants};
use super::schema::Scale;
use super::txns::{self, Ctx, Kind};
use crate::bench::btree::driver::process_io;
use crate::bench::driver::process_cpu_ns;
use crate::bench::tick::{TICK_MAX, TICK_MIN};
use crate::bench::workload::Rng;

/// What one run measured.
#[derive(Debug)]
pub struct Measured {
    /// Committed transactions.
    pub committed: u64,
    /// Rolled-back New-Orders (clause 2.4.2.3).
    pub rollbacks: u64,
    /// Transactions run, by type (rolled back ones included).
    pub by_kind: BTreeMap<Kind, u64>,
    /// Latency of every transaction, ns.
    pub hist: Histogram<u64>,
    /// Latency by type, ns.
    pub hist_by_kind: BTreeMap<Kind, Histogram<u64>>,
    /// Wall seconds.
    pub seconds: f64,
    /// Process CPU ns during the run.
    pub cpu_ns: u64,
    /// Bytes read and written by the process during the run.
    pub io_bytes: (u64, u64),
    /// Engine syncs during the run.
    pub syncs: u64,
    /// Engine syncs during the run by who asked ([`Engine::syncs_by_cause`]), those that happened.
    pub syncs_by_cause: Vec<(String, u64)>,
    /// Pages the engine's cache wrote during the run by cause ([`Engine::writes_by_cause`]), those that happened.
    pub writes_by_cause: Vec<(String, u64)>,
    /// Cache `(hits, misses)` during the run, where the engine reports them.
    pub cache: Option<(u64, u64)>,
    /// Lock `(acquisitions, waits)` during the run, where the engine reports them.
    pub locks: Option<(u64, u64)>,
}

/// How often [`RunSpec::progress`] is called.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("static histogram bounds are valid")
}

/// What the threads share.
pub struct RunSpec<'a> {
    /// Cardinalities of the database.
    pub scale: Scale,
    /// The run's NURand constants.
    pub nu: NuConstants,
    /// Threads.
    pub threads: usize,
    /// How transactions commit.
    pub durability: Durability,
    /// Measured time: the run ends when it has passed (or earlier, see [`RunSpec::transactions`]).
    pub duration: Duration,
    /// If set, each worker stops after this many transactions (committed or rolled back), and the run ends when
    /// every worker has stopped or `duration` has passed, whichever is first (`--tpcc-transactions`): with one
    /// thread and a fixed seed, two builds then run the same transactions, so their instruction counts compare.
    pub transactions: Option<u64>,
    /// Seed of the threads' generators.
    pub seed: u64,
    /// Calibrated cost of an `Instant::now()` pair.
    pub timer_ns: u64,
    /// Where to append each acknowledged New-Order (`w d o` per line), if anywhere.
    pub acks: Option<&'a File>,
    /// Called about every [`PROGRESS_EVERY`] with the transactions committed so far.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Where to append a line about every [`SAMPLE_EVERY`] of the run, if anywhere (`--tpcc-samples`): see
    /// [`SAMPLE_HEADER`].
    pub samples: Option<&'a File>,
}

/// How often a line goes to [`RunSpec::samples`].
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The columns of [`RunSpec::samples`]' lines, each since the previous line (the first: since the run began):
/// the end of the interval in seconds from the run's start, then transactions committed, cache misses (where
/// the engine counts them), engine syncs, and the process's device reads and writes (4 KiB units) per second of
/// it. A run's lines follow a line `# LABEL` naming it; its last line covers what is left of the run after the
/// line before (under a second, up to when the last worker ended).
pub const SAMPLE_HEADER: &str = "seconds,tx_per_s,misses_per_s,syncs_per_s,reads_per_s,writes_per_s";

/// What a sample line counts, at one instant.
#[derive(Clone, Copy)]
struct Counts {
    at: Instant,
    tx: u64,
    misses: u64,
    syncs: u64,
    io: (u64, u64),
}

impl Counts {
    fn now(engine: &impl Engine, tx: u64) -> Counts {
        Counts {
            at: Instant::now(),
            tx,
            misses: engine.cache_counts().map_or(0, |c| c.1),
            syncs: engine.syncs(),
            io: process_io(),
        }
    }

    /// The line for the interval from `self` to `to`, `start` being the run's start.
    fn line(&self, to: &Counts, start: Instant) -> String {
        let s = to.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let rate = |a: u64, b: u64| b.saturating_sub(a) as f64 / s;
        format!(
            "{:.2},{:.0},{:.0},{:.1},{:.0},{:.0}\n",
            to.at.duration_since(start).as_secs_f64(),
            rate(self.tx, to.tx),
            rate(self.misses, to.misses),
            rate(self.syncs, to.syncs),
            rate(self.io.0, to.io.0) / 4096.0,
            rate(self.io.1, to.io.1) / 4096.0,
        )
    }
}

struct ThreadOut {
    committed: u64,
    rollbacks: u64,
    by_kind: BTreeMap<Kind, u64>,
    hist: BTreeMap<Kind, Histogram<u64>>,
    end: Instant,
}

fn run_thread(
    worker: &mut impl Worker,
    spec: &RunSpec<'_>,
    thread: usize,
    stop: &AtomicBool,
    done: &Committed,
    finished: &AtomicUsize,
) -> Result<ThreadOut> {
    let mut rng = Rng::new(spec.seed ^ (thread as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut ctx = Ctx::new(spec.scale, spec.nu, thread as u16);
    let mut out = ThreadOut {
        committed: 0,
        rollbacks: 0,
        by_kind: BTreeMap::new(),
        hist: Kind::ALL.into_iter().map(|k| (k, new_hist())).collect(),
        end: Instant::now(),
    };
    let mut left = spec.transactions.unwrap_or(u64::MAX);
    while !stop.load(Ordering::Relaxed) && left > 0 {
        left -= 1;
        let kind = Kind::draw(&mut rng);
        let w = uniform(&mut rng, 1, u64::from(spec.scale.warehouses)) as u16;
        let t0 = Instant::now();
        let o = txns::run(worker, &mut ctx, &mut rng, kind, w)?;
        let ns = (t0.elapsed().as_nanos() as u64).saturating_sub(spec.timer_ns).max(1);
        if let Some(h) = out.hist.get_mut(&kind) {
            h.saturating_record(ns);
        }
        *out.by_kind.entry(kind).or_default() += 1;
        if o.committed {
            out.committed += 1;
            done.fetch_add(1, Ordering::Relaxed);
        } else {
            out.rollbacks += 1;
        }
        if let (Some(mut f), Some((w, d, o))) = (spec.acks, o.new_order) {
            // One write per line on an O_APPEND file: lines of different threads never mix.
            f.write_all(format!("{w} {d} {o}\n").as_bytes())
                .context("writing an acknowledgement")?;
        }
    }
    worker.finish()?;
    out.end = Instant::now();
    finished.fetch_add(1, Ordering::Relaxed);
    Ok(out)
}

/// One worker's committed transactions so far, on a cache line of its own: both workers count every commit, and
/// a shared counter would bounce its line between them on every transaction of the run being measured.
type Committed = CachePadded<AtomicU64>;

/// Every worker's committed transactions so far.
/// Counters by name (`after`) less what they were at the run's start (`before`), those that moved: an engine's
/// syncs or page writes by cause during the run.
fn since(before: &[(String, u64)], after: Vec<(String, u64)>) -> Vec<(String, u64)> {
    after
        .into_iter()
        .map(|(name, n)| {
            let b = before.iter().find(|b| b.0 == name).map_or(0, |b| b.1);
            (name, n.saturating_sub(b))
        })
        .filter(|b| b.1 > 0)
        .collect()
}

fn committed(all: &[Committed]) -> u64 {
    all.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

/// Raises the run's stop flag if dropped while its thread unwinds from a panic: every other thread of the run
/// (the workers, the slow tick's, the driver's loop) runs until that flag, inside a scope that joins them all, so
/// a panic on one of them must end the run (review24: a panic in the fast tick left the workers running for ever,
/// one in the slow tick or a worker left the others running out the run's time). The panic is then reported by
/// the join (or goes on up from the driver's own thread).
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `f`, then waits at `barrier` whether `f` returned or panicked, then returns `f`'s value or resumes its
/// panic: a thread of the run that panics before the start barrier must not leave the others waiting there
/// (review24's R24-1 note: with `StopOnPanic` the panic then ends the run).
fn past_barrier<T>(barrier: &Barrier, f: impl FnOnce() -> T) -> T {
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    barrier.wait();
    got.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

/// Calls `engine`'s [`Engine::tick_slow`] as often as it asks until `stop` (at once if it has no slow part). An
/// error other than a full device's (reported once, retried: F14-3) raises `stop` and is returned.
fn slow_ticks<E: Engine>(engine: &E, stop: &AtomicBool) -> Result<()> {
    let mut full_ticks = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let wait = match engine.tick_slow() {
            None => return Ok(()),
            Some(Err(e)) if e.downcast_ref::<FullDevice>().is_some() => {
                if full_ticks == 0 {
                    eprintln!("warning: {e:#}");
                }
                full_ticks += 1;
                TICK_MIN
            }
            Some(Err(e)) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
            Some(Ok(wait)) => wait.clamp(TICK_MIN, TICK_MAX),
        };
        std::thread::sleep(wait);
    }
    Ok(())
}

/// Runs the mix on `engine` as `spec` says.
pub fn measure<E: Engine>(engine: &E, spec: &RunSpec<'_>) -> Result<Measured> {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(spec.threads + 1);
    // Committed so far, a line a thread (for the progress callback and the samples).
    let done: Vec<Committed> = (0..spec.threads).map(|_| Committed::default()).collect();
    // Workers that ran their `spec.transactions` and stopped.
    let finished = AtomicUsize::new(0);
    let (outs, start, io0, c0, syncs0, cpu0, tick_err, sample_err, l0, by0) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.threads)
            .map(|thread| {
                let (barrier, stop, done, finished) = (&barrier, &stop, &done[thread], &finished);
                s.spawn(move || -> Result<ThreadOut> {
                    let _stop = StopOnPanic(stop);
                    // Every thread reaches the barrier, even one whose worker panicked while it was made: the
                    // others would wait there for ever. The panic goes on after it (and raises `stop`).
                    let worker = past_barrier(barrier, || engine.worker(spec.durability));
                    let got = worker.and_then(|mut w| run_thread(&mut w, spec, thread, stop, done, finished));
                    if got.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    got
                })
            })
            .collect();
        let ((io0, c0, syncs0, cpu0), l0, by0) = {
            // The driver's thread too: a panic in the engine's counters raises `stop` (so the workers let go)
            // and goes on up once the barrier is passed.
            let _stop = StopOnPanic(&stop);
            past_barrier(&barrier, || {
                let counts = (process_io(), engine.cache_counts(), engine.syncs(), process_cpu_ns());
                (
                    counts,
                    engine.lock_counts(),
                    (engine.syncs_by_cause(), engine.writes_by_cause()),
                )
            })
        };
        let start = Instant::now();
        // The engine's slow tick (checkpoints) on a thread of its own, so that the fast one (log write-outs) and
        // the samples go on while a checkpoint takes seconds (R23-20).
        let slow = s.spawn(|| {
            let _stop = StopOnPanic(&stop);
            slow_ticks(engine, &stop)
        });
        let _stop = StopOnPanic(&stop);
        let mut tick_err = None;
        let mut full_ticks = 0u64;
        let mut next_progress = start;
        let mut sampled = Counts::now(engine, 0);
        sampled.at = start;
        let mut sample_err = None;
        loop {
            let elapsed = start.elapsed();
            if elapsed >= spec.duration
                || stop.load(Ordering::Relaxed)
                || finished.load(Ordering::Relaxed) == spec.threads
            {
                break;
            }
            let wait = match engine.tick_fast() {
                // Reported once; the engine goes on and the next tick retries (F14-3).
                Err(e) if e.downcast_ref::<FullDevice>().is_some() => {
                    if full_ticks == 0 {
                        eprintln!("warning: {e:#}");
                    }
                    full_ticks += 1;
                    TICK_MIN
                }
                Err(e) => {
                    tick_err = Some(e);
                    break;
                }
                Ok(wait) => wait.clamp(TICK_MIN, TICK_MAX),
            };
            if Instant::now() >= next_progress {
                (spec.progress)(committed(&done));
                next_progress += PROGRESS_EVERY;
            }
            if let Some(mut f) = spec.samples {
                if sampled.at.elapsed() >= SAMPLE_EVERY && sample_err.is_none() {
                    let now = Counts::now(engine, committed(&done));
                    sample_err = f.write_all(sampled.line(&now, start).as_bytes()).err();
                    sampled = now;
                }
            }
            std::thread::sleep(wait.min(spec.duration.saturating_sub(elapsed)));
        }
        stop.store(true, Ordering::Relaxed);
        let outs: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a TPC-C thread panicked"))))
            .collect();
        let slow = slow
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the engine's slow tick panicked")));
        if let (Err(e), None) = (slow, &tick_err) {
            tick_err = Some(e);
        }
        // The run's last interval (under a second, up to when the last worker ended) gets its line too, so the
        // lines cover the whole run (R19-O3).
        if let (Some(mut f), None) = (spec.samples, &sample_err) {
            let now = Counts::now(engine, committed(&done));
            sample_err = f.write_all(sampled.line(&now, start).as_bytes()).err();
        }
        (outs, start, io0, c0, syncs0, cpu0, tick_err, sample_err, l0, by0)
    });
    let cpu_ns = process_cpu_ns().saturating_sub(cpu0);
    let io1 = process_io();
    let syncs = engine.syncs().saturating_sub(syncs0);
    let c1 = engine.cache_counts();
    let l1 = engine.lock_counts();
    let syncs_by_cause = since(&by0.0, engine.syncs_by_cause());
    let writes_by_cause = since(&by0.1, engine.writes_by_cause());
    if let Some(e) = tick_err {
        return Err(e.context("the engine's tick (a checkpoint) failed during the run"));
    }
    if let Some(e) = sample_err {
        return Err(anyhow!(e).context("writing a sample line"));
    }
    let mut m = Measured {
        committed: 0,
        rollbacks: 0,
        by_kind: BTreeMap::new(),
        hist: new_hist(),
        hist_by_kind: Kind::ALL.into_iter().map(|k| (k, new_hist())).collect(),
        seconds: 0.0,
        cpu_ns,
        io_bytes: (io1.0.saturating_sub(io0.0), io1.1.saturating_sub(io0.1)),
        syncs,
        syncs_by_cause,
        writes_by_cause,
        cache: c0
            .zip(c1)
            .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
        locks: l0
            .zip(l1)
            .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
    };
    let mut end = start;
    for out in outs {
        let o = out?;
        m.committed += o.committed;
        m.rollbacks += o.rollbacks;
        for (k, n) in o.by_kind {
            *m.by_kind.entry(k).or_default() += n;
        }
        for (k, h) in o.hist {
            m.hist.add(&h).context("merging histograms")?;
            if let Some(all) = m.hist_by_kind.get_mut(&k) {
                all.add(&h).context("merging histograms")?;
            }
        }
        end = end.max(o.end);
    }
    m.seconds = (end - start).as_secs_f64().max(1e-9);
    engine.settle().context("making the run's commits durable after it")?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::super::engine::{Access, Body, Txn};
    use super::*;

    /// Which part of an [`Unruly`] engine's tick panics.
    #[derive(Clone, Copy, Debug)]
    enum Panics {
        FastTick,
        SlowTick,
        Worker,
        /// [`Engine::worker`], before the run's start barrier.
        WorkerStart,
        /// [`Engine::cache_counts`], on the driver's thread before the barrier.
        Counts,
    }

    /// An engine holding nothing: each transaction rolls back at once (after a millisecond), and one part panics.
    struct Unruly(Panics);

    struct Idle(Panics);

    impl Worker for Idle {
        fn run(&mut self, _: &Access, _: Body<'_>) -> Result<bool> {
            std::thread::sleep(Duration::from_millis(1));
            if matches!(self.0, Panics::Worker) {
                panic!("a worker's transaction panicked");
            }
            Ok(false)
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }

    impl Engine for Unruly {
        type Worker<'a> = Idle;
        fn worker(&self, _: Durability) -> Result<Idle> {
            if matches!(self.0, Panics::WorkerStart) {
                panic!("making a worker panicked");
            }
            Ok(Idle(self.0))
        }
        fn cache_counts(&self) -> Option<(u64, u64)> {
            if matches!(self.0, Panics::Counts) {
                panic!("the engine's counters panicked");
            }
            None
        }
        fn load(&self, _: &mut dyn FnMut(&mut dyn Txn) -> Result<()>) -> Result<()> {
            Ok(())
        }
        fn finish_load(&self) -> Result<()> {
            Ok(())
        }
        fn syncs(&self) -> u64 {
            0
        }
        fn tick_fast(&self) -> Result<Duration> {
            if matches!(self.0, Panics::FastTick) {
                panic!("the fast tick panicked");
            }
            Ok(TICK_MIN)
        }
        fn tick_slow(&self) -> Option<Result<Duration>> {
            if matches!(self.0, Panics::SlowTick) {
                panic!("the slow tick (a checkpoint) panicked");
            }
            Some(Ok(TICK_MIN))
        }
        fn db_bytes(&self) -> u64 {
            0
        }
        fn settle(&self) -> Result<()> {
            Ok(())
        }
    }

    /// A run of an hour on an engine one part of which panics at once ends without waiting out its time: the
    /// panic raises the stop flag every other thread of the run waits for, and is reported (review24; before,
    /// a panic in the fast tick left the workers running for ever inside the scope that joins them, and a panic
    /// in the slow tick's thread or a worker left the others running out the hour). Also before the start
    /// barrier: a worker that panics while it is made, or the driver's thread in the engine's counters, used to
    /// leave the other threads waiting at the barrier for ever.
    #[test]
    fn a_panic_in_a_tick_or_a_worker_ends_the_run_and_is_reported() {
        for panics in [
            Panics::SlowTick,
            Panics::Worker,
            Panics::FastTick,
            Panics::WorkerStart,
            Panics::Counts,
        ] {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let progress = |_: u64| {};
                let spec = RunSpec {
                    scale: Scale::standard(1),
                    nu: NuConstants {
                        c_last: 0,
                        c_id: 0,
                        ol_i_id: 0,
                    },
                    threads: 2,
                    durability: Durability::Durable,
                    duration: Duration::from_secs(3600),
                    transactions: None,
                    seed: 1,
                    timer_ns: 0,
                    acks: None,
                    progress: &progress,
                    samples: None,
                };
                let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    measure(&Unruly(panics), &spec).map(|m| m.committed)
                }));
                let _ = tx.send(got.map_err(|_| ()));
            });
            // Not a timing assertion: a run that waits out its hour (or for ever) is the failure, and two minutes
            // is far beyond what the fixed run takes on any machine (milliseconds).
            let got = rx
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("{panics:?}: the run went on after the panic"));
            match (panics, got) {
                // The driver's own thread: the panic goes on up from `measure`, once the run has stopped.
                (Panics::FastTick | Panics::Counts, Err(())) => {}
                (_, Err(())) => panic!("{panics:?}: measure panicked instead of reporting it"),
                (_, Ok(Ok(n))) => panic!("{panics:?}: the run ended Ok ({n} committed)"),
                (Panics::FastTick | Panics::Counts, Ok(Err(e))) => panic!("{panics:?}: {e:#}"),
                (_, Ok(Err(e))) => assert!(format!("{e:#}").contains("panicked"), "{panics:?}: {e:#}"),
            }
        }
    }
}
