//! Storage-call latencies: one histogram each for reads, writes and syncs, and the slow-I/O threshold.
//!
//! Owns [`Latency`] (the public snapshot in [`crate::Stats`]), the concurrent histogram behind it, and
//! [`IoTimer`], which every storage call of a file goes through (`FileEntry::{read_at, write_at, sync, submit}`):
//! it reads the clock before and after the call, records the elapsed time, and (feature `tracing`) reports a call
//! that took at least the pool's slow-I/O threshold ([`crate::Builder::slow_io`]). Hits never reach here: only
//! calls into [`crate::Storage`] are timed, two clock reads each (a few tens of nanoseconds through the vDSO,
//! against microseconds for the call itself).
//!
//! What one sample is: a `read_at` (one page) or `write_at` (one run of up to [`crate::RUN_PAGES_MAX`] pages)
//! call, a `sync`, or one request of a [`crate::Storage::submit`] batch, which records the batch's time (the
//! latency that request saw). So `read` counts match [`crate::Stats::reads`] and `sync` counts
//! [`crate::Stats::syncs`]; `write` counts are runs written (a flush's or checkpoint's runs go out up to four a
//! submission), at most `Stats::writes` (pages).
//!
//! # The histogram
//! Written by hand rather than with `hdrhistogram`: its `Histogram::record` takes `&mut self`, so a pool shared by
//! every I/O thread would need a lock (or its channel-based `SyncHistogram`, which allocates and needs a refresh
//! thread) on the I/O path. Here recording is two relaxed atomic adds and a `fetch_max`, from any thread (one of each for a whole batch).
//! Buckets are log-linear over nanoseconds, as HDR histograms are: values below [`SUB_BUCKETS`] have one bucket
//! each, and every power of two above is split into [`SUB_BUCKETS`] equal buckets, so a quantile is reported as
//! its bucket's upper bound, at most 1/[`SUB_BUCKETS`] (12.5%) above the true value, and never above the
//! exact maximum, which is kept separately. 64 powers of two cover every `u64` of nanoseconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::page::FileId;

/// The slow-I/O threshold unless [`crate::Builder::slow_io`] sets one.
pub(crate) const SLOW_IO_DEFAULT: Duration = Duration::from_millis(100);

/// Buckets per power of two (a power of two itself): the histogram's relative precision is 1/`SUB_BUCKETS`.
pub(crate) const SUB_BUCKETS: usize = 8;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
/// Buckets in all: `SUB_BUCKETS` exact ones, then `SUB_BUCKETS` per power of two from `SUB_BUCKETS` to 2^64.
const BUCKETS: usize = SUB_BUCKETS * (64 - SUB_BITS as usize + 1);
const _: () = assert!(SUB_BUCKETS.is_power_of_two() && SUB_BUCKETS >= 2);

/// The bucket of a value in nanoseconds.
#[inline]
fn bucket_of(ns: u64) -> usize {
    if ns < SUB_BUCKETS as u64 {
        return ns as usize;
    }
    // ns in [2^e, 2^(e+1)), e >= SUB_BITS: the top SUB_BITS bits below the leading one pick the sub-bucket.
    let e = 63 - ns.leading_zeros();
    let sub = (ns >> (e - SUB_BITS)) as usize & (SUB_BUCKETS - 1);
    SUB_BUCKETS * (e - SUB_BITS + 1) as usize + sub
}

/// The largest value in nanoseconds that falls in bucket `b`.
fn bucket_upper(b: usize) -> u64 {
    if b < SUB_BUCKETS {
        return b as u64;
    }
    let e = (b / SUB_BUCKETS) as u32 + SUB_BITS - 1;
    let sub = (b % SUB_BUCKETS) as u64;
    let low = (1u64 << e) + (sub << (e - SUB_BITS));
    low.saturating_add((1u64 << (e - SUB_BITS)) - 1)
}

/// A concurrent latency histogram (see the module docs).
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            max_ns: AtomicU64::new(0),
        }
    }

    /// Records `n` calls that took `elapsed` each.
    #[inline]
    fn record(&self, elapsed: Duration, n: u64) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(ns)].fetch_add(n, Relaxed);
        self.sum_ns.fetch_add(ns.saturating_mul(n), Relaxed);
        self.max_ns.fetch_max(ns, Relaxed);
    }

    fn snapshot(&self) -> Latency {
        // Buckets are read one by one while others record: the counts are each exact at their moment, and the
        // snapshot's count is their sum, so quantiles are always consistent with it.
        let buckets: Vec<(u64, u64)> = self
            .buckets
            .iter()
            .enumerate()
            .filter_map(|(b, n)| {
                let n = n.load(Relaxed);
                (n > 0).then(|| (bucket_upper(b), n))
            })
            .collect();
        let max_ns = self.max_ns.load(Relaxed);
        Latency {
            count: buckets.iter().map(|&(_, n)| n).sum(),
            sum: Duration::from_nanos(self.sum_ns.load(Relaxed)),
            max: Duration::from_nanos(max_ns),
            buckets,
        }
    }
}

/// The latencies of one kind of storage call (reads, writes or syncs) since the pool was built: a snapshot of a
/// log-linear histogram (see [`crate::Stats::read_latency`]). Quantiles are upper bounds at most 12.5% above
/// the true value, never above [`Latency::max`], which is exact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Calls recorded.
    pub count: u64,
    /// Their total time (the mean is `sum / count`).
    pub sum: Duration,
    /// The longest call.
    pub max: Duration,
    /// Non-empty buckets in ascending order: (largest value in nanoseconds, calls).
    buckets: Vec<(u64, u64)>,
}

impl Latency {
    /// The latency at quantile `q` (0.0 to 1.0; clamped): the smallest bucket bound at or below which at least
    /// `q` of the calls fall, capped at the maximum. Zero when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the call at quantile q, 1-based: at least one call, at most all of them.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for &(upper, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Duration::from_nanos(upper).min(self.max);
            }
        }
        self.max
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// The mean (zero when nothing was recorded).
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.sum / n,
            Err(_) => Duration::from_nanos((self.sum.as_nanos() / u128::from(self.count)) as u64),
        }
    }
}

/// "p50 / p99 / max over count", in microseconds: one field of [`crate::Stats`]'s `Display`.
impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "p50 {:.1} us, p99 {:.1} us, max {:.1} us over {}",
            us(self.p50()),
            us(self.p99()),
            us(self.max),
            self.count
        )
    }
}

/// What a timed storage call was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IoOp {
    Read,
    Write,
    Sync,
}

impl IoOp {
    /// The name the `slow io` event gives it.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Sync => "sync",
        }
    }
}

/// The pool's storage-call latencies and its slow-I/O threshold, shared by every open file.
pub(crate) struct IoLatency {
    read: Histogram,
    write: Histogram,
    sync: Histogram,
    /// A call that takes at least this long is reported (feature `tracing`; `Builder::slow_io`).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    slow_io: Duration,
}

impl IoLatency {
    pub(crate) fn new(slow_io: Duration) -> IoLatency {
        IoLatency {
            read: Histogram::new(),
            write: Histogram::new(),
            sync: Histogram::new(),
            slow_io,
        }
    }

    fn histogram(&self, op: IoOp) -> &Histogram {
        match op {
            IoOp::Read => &self.read,
            IoOp::Write => &self.write,
            IoOp::Sync => &self.sync,
        }
    }

    /// Snapshots of the read, write and sync histograms.
    pub(crate) fn snapshot(&self) -> [Latency; 3] {
        [self.read.snapshot(), self.write.snapshot(), self.sync.snapshot()]
    }

    /// Records `calls` calls of `op` on `file` that took `elapsed` each (a batch's requests share its time), and
    /// reports a slow one.
    fn record(&self, file: FileId, op: IoOp, calls: usize, elapsed: Duration) {
        if calls > 0 {
            self.histogram(op).record(elapsed, calls as u64);
        }
        #[cfg(feature = "tracing")]
        if calls > 0 && elapsed >= self.slow_io {
            crate::trace::slow_io(file, op.name(), elapsed);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = file;
    }
}

/// Times one storage call of a file (see the module docs); [`IoTimer::finish`] records it.
pub(crate) struct IoTimer<'a> {
    latency: &'a IoLatency,
    file: FileId,
    started: Instant,
}

impl<'a> IoTimer<'a> {
    /// Starts timing a call on `file`.
    #[inline]
    pub(crate) fn start(latency: &'a IoLatency, file: FileId) -> IoTimer<'a> {
        IoTimer {
            latency,
            file,
            started: Instant::now(),
        }
    }

    /// The call returned: records `calls` samples of `op` (one for a single call; one per request of a batch).
    #[inline]
    pub(crate) fn finish(&self, op: IoOp, calls: usize) {
        self.latency.record(self.file, op, calls, self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_whose_bound_is_at_most_an_eighth_above_it() {
        let mut values: Vec<u64> = (0..4096).collect();
        values.extend((12..64).flat_map(|e| {
            let p = 1u64 << e;
            [p - 1, p, p + 1, p + p / 3]
        }));
        values.push(u64::MAX);
        let mut last_bucket = 0;
        for (i, &v) in values.iter().enumerate() {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v} -> {b}");
            let upper = bucket_upper(b);
            assert!(upper >= v, "{v}: bucket {b} ends at {upper}");
            assert!(upper - v <= v / SUB_BUCKETS as u64, "{v}: bucket {b} ends at {upper}");
            // The bucket before ends below v: v is in its own bucket, not a later one.
            if b > 0 {
                assert!(
                    bucket_upper(b - 1) < v,
                    "{v}: bucket {} ends at {}",
                    b - 1,
                    bucket_upper(b - 1)
                );
            }
            if i > 0 && v > values[i - 1] {
                assert!(b >= last_bucket, "buckets ascend with values");
            }
            last_bucket = b;
        }
    }

    #[test]
    fn quantiles_come_from_the_recorded_values() {
        let h = Histogram::new();
        assert_eq!(h.snapshot().p99(), Duration::ZERO);
        // 90 calls of 1 us, 9 of 100 us, 1 of 10 ms.
        h.record(Duration::from_micros(1), 90);
        for _ in 0..9 {
            h.record(Duration::from_micros(100), 1);
        }
        h.record(Duration::from_millis(10), 1);
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert_eq!(s.max, Duration::from_millis(10));
        let near = |d: Duration, want: Duration| d >= want && d <= want + want / 8;
        assert!(near(s.p50(), Duration::from_micros(1)), "{:?}", s.p50());
        assert!(
            near(s.quantile(0.95), Duration::from_micros(100)),
            "{:?}",
            s.quantile(0.95)
        );
        assert!(near(s.p99(), Duration::from_micros(100)), "{:?}", s.p99());
        assert_eq!(s.quantile(1.0), Duration::from_millis(10));
        assert_eq!(s.quantile(0.0), s.quantile(0.001));
        assert_eq!(
            s.mean(),
            (Duration::from_micros(90 + 900) + Duration::from_millis(10)) / 100
        );
    }
}
