//! How often the drivers tick a system while a case runs.
//!
//! A tick does a system's background work between the workers' operations (bufpool-btree's log write-outs and
//! checkpoints in TPC-C, a peer's page-cache bound out of memory). The drivers used to tick every 2 ms whatever
//! the system needed: about 500 wakeups a second, each taking a core from a worker on a 2-core machine (issue
//! 15's 2-thread runs found each worker runnable but not running 13% of its time). Now each tick says how long
//! the system can wait for the next: [`TICK_MIN`] where a bound must be applied that often (a page-cache bound,
//! a log filling fast), up to [`TICK_MAX`] where nothing needs doing, and [`Pace`] derives it from how fast a
//! system's logs grow and how much room their bounds leave.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest wait between two ticks: the 2 ms of before, which a page-cache bound keeps (`page_cache.rs`).
pub const TICK_MIN: Duration = Duration::from_millis(2);

/// The longest wait between two ticks (the drivers also wake this often to report progress and see a worker's
/// error).
pub const TICK_MAX: Duration = Duration::from_millis(100);

/// Paces ticks by the growth of bounded byte counts (a log's bytes against the size that triggers its checkpoint,
/// a buffer against the size that triggers its write-out): the next tick comes when the fastest-filling of them
/// would have used half its room at the rate appends went since the last tick, within [`TICK_MIN`] and
/// [`TICK_MAX`]. The half is a margin for a rate that grows between two ticks (up to twice the last interval's).
#[derive(Debug, Default)]
pub struct Pace {
    /// `(when, bytes appended by then)` at the last tick.
    last: Mutex<Option<(Instant, u64)>>,
}

impl Pace {
    /// The wait before the next tick, at `now`, with `appended` bytes appended so far to everything bounded (a
    /// count that only grows) and `room` bytes left before the nearest bound (the least of each bound minus its
    /// count: a count grows no faster than all appends together).
    pub fn next(&self, now: Instant, appended: u64, room: u64) -> Duration {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let prev = last.replace((now, appended));
        let Some((then, before)) = prev else {
            return TICK_MIN;
        };
        let secs = now.saturating_duration_since(then).as_secs_f64();
        let grown = appended.saturating_sub(before);
        if grown == 0 {
            return TICK_MAX;
        }
        if secs <= 0.0 {
            return TICK_MIN;
        }
        let rate = grown as f64 / secs;
        // Past what a `Duration` holds (a vast room at a trickle: `from_secs_f64` panicked), the longest wait.
        Duration::try_from_secs_f64(room as f64 / 2.0 / rate).map_or(TICK_MAX, |d| d.clamp(TICK_MIN, TICK_MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log growing at `rate` bytes a second, ticked as [`Pace::next`] says and cut to empty whenever a tick finds
    /// it past `bound` (as bufpool-btree's checkpoints cut its TPC-C logs): the largest it gets, at a tick.
    fn largest(rates: &[(f64, Duration)], bound: u64) -> u64 {
        let pace = Pace::default();
        let t0 = Instant::now();
        let (mut t, mut appended, mut level, mut largest) = (Duration::ZERO, 0f64, 0f64, 0u64);
        for &(rate, until) in rates {
            while t < until {
                largest = largest.max(level as u64);
                if level as u64 > bound {
                    level = 0.0;
                }
                let wait = pace.next(t0 + t, appended as u64, bound.saturating_sub(level as u64));
                assert!((TICK_MIN..=TICK_MAX).contains(&wait), "{wait:?}");
                appended += rate * wait.as_secs_f64();
                level += rate * wait.as_secs_f64();
                t += wait;
            }
        }
        largest
    }

    /// A tick that waits up to [`TICK_MAX`] still cuts a log near its bound: at any steady rate, and after the rate
    /// doubles, the log never passes its bound by more than what grows in [`TICK_MIN`] (a pace that ignored the
    /// room, waiting [`TICK_MAX`] whenever something grew, lets a 1 MiB bound at 64 MB/s reach 6.4 MB).
    #[test]
    fn paced_ticks_keep_a_log_within_its_bound() {
        let bound = 1u64 << 20;
        let s = Duration::from_secs;
        for rate in [1e3, 1e5, 1e6, 1e7, 6.4e7, 2e8] {
            let slack = (rate * TICK_MIN.as_secs_f64()) as u64;
            let got = largest(&[(rate, s(20))], bound);
            assert!(got <= bound + slack, "{rate} B/s: {got} bytes, bound {bound}");
            let got = largest(&[(rate, s(10)), (rate * 2.0, s(20))], bound);
            assert!(
                got <= bound + 2 * slack,
                "{rate} then twice as fast: {got} bytes, bound {bound}"
            );
        }
    }

    /// R18-3: a room and a rate whose quotient is past what a `Duration` holds (here a room of `u64::MAX` bytes
    /// and one byte appended in 100 s, 9e20 s to half of it) panicked in `Duration::from_secs_f64`, which would
    /// have stopped the driver's tick thread; it is the longest wait.
    #[test]
    fn a_room_too_large_for_a_duration_is_the_longest_wait() {
        let pace = Pace::default();
        let t0 = Instant::now();
        assert_eq!(pace.next(t0, 0, u64::MAX), TICK_MIN);
        assert_eq!(pace.next(t0 + Duration::from_secs(100), 1, u64::MAX), TICK_MAX);
    }

    /// Nothing appended: the longest wait; appends with plenty of room: longer waits than the 2 ms of before.
    #[test]
    fn idle_or_roomy_logs_are_ticked_seldom() {
        let pace = Pace::default();
        let t0 = Instant::now();
        assert_eq!(pace.next(t0, 0, 1 << 30), TICK_MIN, "the first tick knows no rate yet");
        assert_eq!(pace.next(t0 + TICK_MIN, 0, 1 << 30), TICK_MAX, "nothing appended");
        // 10 MB/s with 512 MiB of room: 26 s to half of it.
        let t1 = t0 + TICK_MIN + Duration::from_millis(100);
        assert_eq!(pace.next(t1, 1_000_000, 512 << 20), TICK_MAX);
        // 10 MB/s with 100 KB of room: 5 ms to half of it.
        let wait = pace.next(t1 + Duration::from_millis(100), 2_000_000, 100_000);
        assert!(
            wait < Duration::from_millis(6) && wait > Duration::from_millis(4),
            "{wait:?}"
        );
    }
}
