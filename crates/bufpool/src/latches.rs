//! Latches held by guards, for diagnostics: [`BufferPool::held_latches`] lists them (page, mode, holders; how long
//! they have been held when [`crate::Builder::latch_times`] is on; in debug builds where the guard was taken), so
//! a leaked guard (one passed to `mem::forget`, or kept in a forgotten structure) shows up by name instead of as a
//! timeout somewhere else.
//!
//! Owns [`HeldLatch`] and the bookkeeping of a frame's `latched_since` (`frame.rs`): with `latch_times` on, the
//! coarse monotonic time at which the frame's current latch by guards began, or 0. Rules (each frame's word is
//! written only by guard holders and by `held_latches`):
//! - a write guard (taken by `write`, `new_page` or an upgrade) stores the time when it is made and 0 before its
//!   latch is released (or keeps it, when it is downgraded to a read guard: the latch goes on);
//! - a read guard stores the time when it is the frame's only holder (a new latch period) or finds 0 (a period
//!   whose start is unknown), and stores 0 when it leaves as the only holder;
//! - `held_latches` gives a latched frame found at 0 the time it found it (a reader that arrived while the last
//!   one left, or a shared latch of the pool's own flush), so such a latch is listed from then on;
//! - a shared latch of the pool's own (a write run's) that begins a latch period stores 0: the stamp an earlier
//!   `held_latches` gave an earlier period of the pool's own is not this period's start, and a reader joining
//!   this one (not the only holder) would keep it (R39-11; before, such a reader's latch was listed as held since
//!   a flush that had ended long before).
//!
//! The clock is `CLOCK_MONOTONIC_COARSE` (a few nanoseconds through the vDSO, a tick of 1 to 4 ms), read once
//! per guard that starts a latch period. That is why it is off by default: the listing itself needs nothing on
//! the hit path (it reads the state words), the durations cost a clock read per guard. Debug builds also record
//! the caller of the call that made the guard (`#[track_caller]`) per frame, whatever the setting.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::frame::{FrameHeader, EXCLUSIVE, LOCK_MASK, SHARED_MAX, UNLATCHED};
use crate::page::PageId;
use crate::policy::FrameIdx;
use crate::pool::BufferPool;

/// A latch a guard holds on a page now (see [`BufferPool::held_latches`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldLatch {
    /// The latched page.
    pub page: PageId,
    /// True for a [`crate::WriteGuard`]'s exclusive latch, false for shared latches ([`crate::ReadGuard`]s).
    pub exclusive: bool,
    /// Guards sharing the latch (1 for an exclusive latch). A flush or checkpoint writing the page holds a shared
    /// latch for the length of the write and is counted here too.
    pub holders: u32,
    /// With [`crate::Builder::latch_times`] on: how long the page has been latched without a break (for a
    /// shared latch: since a reader took it while no other guard held it), to the coarse clock's tick (1 to
    /// 4 ms). A latch whose start was missed (a reader arriving just as the last one left) counts from the first
    /// `held_latches` call that saw it. `None` when the setting is off.
    pub held_for: Option<Duration>,
    /// Debug builds: where the guard was taken (for a shared latch, the guard that began the latch period; a
    /// latch whose start was missed in a race names the previous one). `None` in release builds.
    pub taken_at: Option<&'static std::panic::Location<'static>>,
}

/// Coarse monotonic time in nanoseconds (never 0, which marks "not latched").
pub(crate) fn coarse_now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through the valid pointer we pass and keeps nothing.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return 1;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
        .max(1)
}

impl BufferPool {
    /// A guard was just made on the frame whose header is `h` (its latch is held: exclusive or shared). Records the
    /// start of the latch period if this guard begins one, and in debug builds where the guard was taken. Takes
    /// the header the guard's token holds, not the frame's index: no second bounds check on the hit.
    #[inline]
    #[cfg_attr(debug_assertions, track_caller)]
    pub(crate) fn note_guard_taken(&self, h: &FrameHeader, exclusive: bool) {
        #[cfg(debug_assertions)]
        if exclusive || h.state.load() & LOCK_MASK == 1 {
            *h.taken_at.lock() = Some(std::panic::Location::caller());
        }
        if !self.core.latch_times {
            return;
        }
        if exclusive || h.state.load() & LOCK_MASK == 1 || h.latched_since.load(Relaxed) == 0 {
            h.latched_since.store(coarse_now_ns(), Relaxed);
        }
    }

    /// A guard on the frame whose header is `h` is about to release its latch: ends the latch period if it is the
    /// last holder.
    #[inline]
    pub(crate) fn note_guard_leaving(&self, h: &FrameHeader, exclusive: bool) {
        if !self.core.latch_times {
            return;
        }
        if exclusive || h.state.load() & LOCK_MASK == 1 {
            h.latched_since.store(0, Relaxed);
        }
    }

    /// A shared latch of the pool's own (a write run's) was just taken on the frame whose header is `h`: if it is
    /// the only holder it begins a latch period whose start no guard recorded, so the frame's start is cleared
    /// (see the module docs).
    #[inline]
    pub(crate) fn note_own_shared_latch(&self, h: &FrameHeader) {
        if self.core.latch_times && h.state.load() & LOCK_MASK == 1 {
            h.latched_since.store(0, Relaxed);
        }
    }

    /// The latches guards hold now, one entry per latched page (oldest first with [`crate::Builder::latch_times`],
    /// else in page order): a diagnostic for leaked or
    /// long-held guards (a guard passed to `mem::forget` stays here for ever). Scans every frame; the answer is a
    /// snapshot that may be stale by the time it returns. Latches the pool takes for its own work (a load, an
    /// eviction) are not listed; a flush's or checkpoint's shared latch on a page being written may be.
    pub fn held_latches(&self) -> Vec<HeldLatch> {
        let timed = self.core.latch_times;
        let now = if timed { coarse_now_ns() } else { 0 };
        let mut held: Vec<HeldLatch> = (0..self.frames() as FrameIdx)
            .filter_map(|idx| {
                let h = self.header(idx);
                let lock = h.state.load() & LOCK_MASK;
                let exclusive = match lock {
                    UNLATCHED => return None,
                    // A pool-internal exclusive latch (load, eviction, sweep) has no owner thread.
                    EXCLUSIVE if h.owner.load(Relaxed) == 0 => return None,
                    EXCLUSIVE => true,
                    n if n <= SHARED_MAX => false,
                    _ => return None,
                };
                let page = h.page_id();
                if page == PageId::INVALID {
                    return None;
                }
                // Timed: a latch found at 0 began unseen, so it counts from now.
                let held_for = timed.then(|| match h.latched_since.compare_exchange(0, now, Relaxed, Relaxed) {
                    Ok(_) => Duration::ZERO,
                    Err(since) => Duration::from_nanos(now.saturating_sub(since)),
                });
                #[cfg(debug_assertions)]
                let taken_at = *h.taken_at.lock();
                #[cfg(not(debug_assertions))]
                let taken_at = None;
                Some(HeldLatch {
                    page,
                    exclusive,
                    holders: if exclusive { 1 } else { lock as u32 },
                    held_for,
                    taken_at,
                })
            })
            .collect();
        held.sort_by(|a, b| b.held_for.cmp(&a.held_for).then(a.page.cmp(&b.page)));
        held
    }
}
