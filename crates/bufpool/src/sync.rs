//! The atomics and the lock the latch protocol and the page table are built on: `std`'s (and `parking_lot`'s)
//! normally, `loom`'s under `--cfg loom`, so the state word, the frame header's page id, chain link and LSN, and
//! the page table with its stripe locks are model-checked unchanged (the `loom_models` module at the end of
//! `frame.rs`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64};

/// A lock guarding nothing but a critical section (the page table's stripes): `parking_lot`'s mutex, or loom's.
#[cfg(not(loom))]
pub(crate) struct SectionLock(parking_lot::Mutex<()>);
/// A lock guarding nothing but a critical section (the page table's stripes): `parking_lot`'s mutex, or loom's.
#[cfg(loom)]
pub(crate) struct SectionLock(loom::sync::Mutex<()>);

impl SectionLock {
    pub(crate) fn new() -> SectionLock {
        #[cfg(not(loom))]
        return SectionLock(parking_lot::Mutex::new(()));
        #[cfg(loom)]
        return SectionLock(loom::sync::Mutex::new(()));
    }

    /// Enters the section; it ends when the returned guard is dropped.
    #[inline]
    pub(crate) fn lock(&self) -> impl Drop + '_ {
        #[cfg(not(loom))]
        return self.0.lock();
        #[cfg(loom)]
        return self.0.lock().unwrap();
    }
}

#[cfg(loom)]
pub(crate) use loom::thread::yield_now;
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

/// A non-zero number naming the calling thread among live threads (the address of a thread-local), recorded by
/// write guards so a thread that would wait for its own latch gets an error instead (`FrameHeader::owner`).
#[inline]
pub(crate) fn thread_token() -> u64 {
    std::thread_local!(static TOKEN: u8 = const { 0 });
    TOKEN.with(|t| t as *const u8 as u64)
}

/// Waits politely for a latch held by another thread: a few spins, then yields, then short sleeps (a latch may
/// be held across a disk read), or for a frame's latch ([`Backoff::snooze_on`]) parks until it is released.
/// Every wait loop in the pool uses this, so the policy is in one place.
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Spins up to 2^SPIN_LIMIT iterations per step before yielding.
    const SPIN_LIMIT: u32 = 6;
    /// Steps of yielding before sleeping (or parking).
    const YIELD_LIMIT: u32 = 16;
    /// Longest park of [`Backoff::snooze_on`]: a release wakes the waiter before that; the bound lets a caller's
    /// deadline (a latch never released) still be noticed.
    const PARK_MAX: std::time::Duration = std::time::Duration::from_millis(5);

    pub(crate) fn new() -> Backoff {
        Backoff { step: 0 }
    }

    pub(crate) fn snooze(&mut self) {
        if self.step <= Self::SPIN_LIMIT {
            for _ in 0..1u32 << self.step {
                std::hint::spin_loop();
            }
        } else if self.step <= Self::YIELD_LIMIT || cfg!(loom) {
            yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(20));
        }
        self.step = self.step.saturating_add(1);
    }

    /// [`Backoff::snooze`] for a wait on a frame's latch: past the spins and yields, parks on the frame's state
    /// word until a release wakes it (or [`Backoff::PARK_MAX`]) instead of sleeping a fixed time (see `frame.rs`,
    /// "Waiting for a latch"). Under loom it only yields, as `snooze` does.
    pub(crate) fn snooze_on(&mut self, word: &crate::frame::StateWord, want: crate::frame::LatchWait) {
        if self.step <= Self::YIELD_LIMIT || cfg!(loom) {
            self.snooze();
        } else {
            word.park_while_busy(want, Self::PARK_MAX);
            self.step = self.step.saturating_add(1);
        }
    }
}
