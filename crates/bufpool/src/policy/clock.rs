//! CLOCK (second chance; Corbató 1968, as in PostgreSQL's clock sweep with a usage count capped at 1).
//!
//! One reference bit per frame and a hand that sweeps the frames. A hit sets the bit with a plain relaxed store
//! (and only if it is clear, so a hot page's cache line is not written on every hit). The hand clears set bits
//! and offers frames whose bit is clear. Lock-free: concurrent sweeps each advance the shared hand.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};

use super::{FrameIdx, Policy};

/// The CLOCK policy. Lock-free on every path.
#[derive(Debug)]
pub struct Clock {
    referenced: Box<[AtomicU8]>,
    tracked: Box<[AtomicBool]>,
    hand: AtomicUsize,
}

impl Clock {
    /// A CLOCK over `frames` frames (at least one).
    pub fn new(frames: usize) -> Clock {
        let frames = frames.max(1);
        Clock {
            referenced: (0..frames).map(|_| AtomicU8::new(0)).collect(),
            tracked: (0..frames).map(|_| AtomicBool::new(false)).collect(),
            hand: AtomicUsize::new(0),
        }
    }
}

impl Policy for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.referenced.len())
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        let r = &self.referenced[frame as usize];
        if r.load(Relaxed) == 0 {
            r.store(1, Relaxed);
        }
    }

    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        // A new page starts unreferenced: it must be hit again before the hand passes to earn a second chance.
        // That is what keeps a one-pass scan from pushing out pages that are used.
        self.referenced[frame as usize].store(0, Relaxed);
        self.tracked[frame as usize].store(true, Relaxed);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.tracked[frame as usize].store(false, Relaxed);
        self.referenced[frame as usize].store(0, Relaxed);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let n = self.referenced.len();
        // Pass 1 may only clear bits; pass 2 then finds every unlatched frame unreferenced; pass 3 covers frames
        // whose bit concurrent hits set again meanwhile. Past that, everything is latched: give up.
        for _ in 0..3 * n {
            let i = self.hand.fetch_add(1, Relaxed) % n;
            if !self.tracked[i].load(Relaxed) {
                continue;
            }
            if self.referenced[i].swap(0, Relaxed) != 0 {
                continue;
            }
            if try_take(i as FrameIdx) {
                self.tracked[i].store(false, Relaxed);
                return Some(i as FrameIdx);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_chance_order() {
        let c = Clock::new(3);
        for f in 0..3 {
            c.on_insert(f, f as u64);
        }
        c.on_hit(0);
        // Frame 0 is referenced: the hand clears it and takes 1.
        assert_eq!(c.victim(&mut |_| true), Some(1));
        assert_eq!(c.victim(&mut |_| true), Some(2));
        assert_eq!(c.victim(&mut |_| true), Some(0));
        assert_eq!(c.victim(&mut |_| true), None, "nothing tracked");
    }

    #[test]
    fn refused_frames_are_skipped_and_exhaustion_ends() {
        let c = Clock::new(4);
        for f in 0..4 {
            c.on_insert(f, 0);
        }
        assert_eq!(c.victim(&mut |f| f == 3), Some(3));
        assert_eq!(c.victim(&mut |_| false), None);
        c.on_remove(0);
        let mut seen = vec![];
        assert_eq!(
            c.victim(&mut |f| {
                seen.push(f);
                false
            }),
            None
        );
        assert!(
            !seen.contains(&0) && !seen.contains(&3),
            "untracked frames are never offered: {seen:?}"
        );
    }
}
