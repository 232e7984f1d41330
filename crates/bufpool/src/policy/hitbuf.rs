//! Lock-free hit recording for the policies that keep ordered lists (LRU, LRU-K, 2Q, ARC, W-TinyLFU).
//!
//! Instead of taking the policy lock on every hit, `on_hit` appends the frame index to a small striped ring
//! buffer (one stripe per thread, chosen by a thread-local index), in the manner of Caffeine's read buffer. The
//! hits are replayed into the policy's state, in the order each stripe recorded them, by whoever next holds the
//! policy lock: every `on_insert`, `on_remove` and `victim` drains all stripes before it looks at the lists.
//!
//! # Order guarantees
//! - One thread (the simulator, or any single-threaded user): every hit lands in one stripe and is applied,
//!   in order, before the next insert, removal or victim decision. When the stripe fills up, `on_hit` drains it
//!   under the lock itself (the `try_lock` always succeeds without contention). The policy is therefore exact.
//! - Many threads: hits of one thread stay in that thread's order; hits of different threads are interleaved
//!   stripe by stripe, not by time. A hit may be dropped (lossy) when its stripe is full and the lock is held by
//!   someone else, or when its slot reservation loses a race twice. A hit recorded for a frame that is evicted
//!   before the drain is ignored if the frame is untracked at drain time, and applied to the frame's next page
//!   if the frame was refilled meanwhile. Both only blur recency; neither can make a policy return an
//!   untracked or refused frame.
//!
//! Memory: `STRIPES * STRIPE_SLOTS` 4-byte slots per policy (2 KiB), fixed.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, MutexGuard};

use super::FrameIdx;

/// Stripes per buffer (a power of two).
const STRIPES: usize = 16;
/// Slots per stripe (a power of two).
const STRIPE_SLOTS: usize = 32;
/// Attempts to reserve a slot before a hit is dropped.
const RESERVE_ATTEMPTS: usize = 2;

#[derive(Debug)]
struct Stripe {
    /// Next slot to drain. Written only by the lock holder.
    head: AtomicUsize,
    /// Next slot to fill. Reserved by producers with a CAS.
    tail: AtomicUsize,
    /// `frame + 1`, or 0 while empty (or reserved but not yet written).
    slots: [AtomicU32; STRIPE_SLOTS],
}

/// A striped, bounded, lossy multi-producer buffer of frame indices, drained by one consumer at a time.
#[derive(Debug)]
struct HitBuffer {
    stripes: Box<[CachePadded<Stripe>]>,
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn stripe_index() -> usize {
    THREAD_STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        s.get()
    })
}

impl HitBuffer {
    fn new() -> HitBuffer {
        HitBuffer {
            stripes: (0..STRIPES)
                .map(|_| {
                    CachePadded::new(Stripe {
                        head: AtomicUsize::new(0),
                        tail: AtomicUsize::new(0),
                        slots: std::array::from_fn(|_| AtomicU32::new(0)),
                    })
                })
                .collect(),
        }
    }

    /// Records a hit. Returns false if this thread's stripe is full (nothing recorded).
    #[inline]
    fn push(&self, frame: FrameIdx) -> bool {
        let s = &self.stripes[stripe_index()];
        for _ in 0..RESERVE_ATTEMPTS {
            let tail = s.tail.load(Ordering::Relaxed);
            // Acquire pairs with the drainer's Release store of `head`: the slot we reuse was emptied before.
            let head = s.head.load(Ordering::Acquire);
            if tail.wrapping_sub(head) >= STRIPE_SLOTS {
                return false;
            }
            if s.tail
                .compare_exchange(tail, tail.wrapping_add(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                s.slots[tail % STRIPE_SLOTS].store(frame.wrapping_add(1), Ordering::Release);
                return true;
            }
        }
        true // lost the race twice: drop this hit (documented as lossy)
    }

    /// Replays every recorded hit into `apply`. Caller must hold the owning policy's lock (single consumer).
    fn drain(&self, apply: &mut impl FnMut(FrameIdx)) {
        for s in self.stripes.iter() {
            let mut head = s.head.load(Ordering::Relaxed);
            let tail = s.tail.load(Ordering::Acquire);
            while head != tail {
                let v = s.slots[head % STRIPE_SLOTS].swap(0, Ordering::Acquire);
                if v == 0 {
                    break; // reserved but not yet written: resume here next time
                }
                apply(v - 1);
                head = head.wrapping_add(1);
            }
            s.head.store(head, Ordering::Release);
        }
    }
}

/// A policy's locked state that can replay a hit.
pub(crate) trait ApplyHit: Send {
    /// Applies one recorded hit. Must ignore frames it does not track.
    fn apply_hit(&mut self, frame: FrameIdx);
}

/// A policy state behind one mutex, with hits recorded lock-free and replayed under the lock.
#[derive(Debug)]
pub(crate) struct Buffered<S> {
    state: Mutex<S>,
    hits: HitBuffer,
}

impl<S: ApplyHit> Buffered<S> {
    pub(crate) fn new(state: S) -> Buffered<S> {
        Buffered {
            state: Mutex::new(state),
            hits: HitBuffer::new(),
        }
    }

    /// Records a hit without locking; drains under `try_lock` when this thread's stripe is full.
    #[inline]
    pub(crate) fn on_hit(&self, frame: FrameIdx) {
        if self.hits.push(frame) {
            return;
        }
        if let Some(mut st) = self.state.try_lock() {
            self.hits.drain(&mut |f| st.apply_hit(f));
            st.apply_hit(frame);
        }
        // else: the lock holder is draining right now; this hit is dropped.
    }

    /// Locks the state with every recorded hit applied.
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        let mut st = self.state.lock();
        self.hits.drain(&mut |f| st.apply_hit(f));
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Log(Vec<FrameIdx>);
    impl ApplyHit for Log {
        fn apply_hit(&mut self, frame: FrameIdx) {
            self.0.push(frame);
        }
    }

    #[test]
    fn single_thread_hits_are_replayed_exactly_in_order() {
        let b = Buffered::new(Log(vec![]));
        let n = 3 * STRIPE_SLOTS as u32 + 5; // forces drains through the full-stripe path
        for f in 0..n {
            b.on_hit(f);
        }
        let st = b.lock();
        assert_eq!(st.0, (0..n).collect::<Vec<_>>());
    }
}
