//! The atomics the latch protocol is built on: `std` normally, `loom`'s under `--cfg loom`, so the state-word
//! protocol in `frame.rs` can be model-checked unchanged (the `loom_models` module at the end of `frame.rs`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64};

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
/// be held across a disk read). Every wait loop in the pool uses this, so the policy is in one place.
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Spins up to 2^SPIN_LIMIT iterations per step before yielding.
    const SPIN_LIMIT: u32 = 6;
    /// Steps of yielding before sleeping.
    const YIELD_LIMIT: u32 = 16;

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
}
