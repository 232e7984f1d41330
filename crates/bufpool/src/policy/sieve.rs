//! SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi, "SIEVE is Simpler than LRU: an Efficient Turn-Key Eviction
//! Algorithm for Web Caches", NSDI 2024).
//!
//! A FIFO queue of pages (new pages at the head), one visited bit per page, and a hand that moves from the
//! tail towards the head: a visited page has its bit cleared and stays in place; the first unvisited page is
//! evicted and the hand stops at the next (newer) page. Past the head, the hand wraps to the tail. Unlike
//! CLOCK, survivors are not moved, so new pages stay near the head and are examined after the old ones.
//!
//! Hit path: lock-free, one relaxed load and (only if the bit is clear) one relaxed store of the frame's
//! visited bit. Insert, remove and victim take one mutex over the queue and the hand. A refused page keeps its
//! place and its (cleared) bit; the hand gives up after three sweeps (`None`), as CLOCK does.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::Mutex;

use super::list::FrameLists;
use super::{FrameIdx, Policy};

const QUEUE: usize = 0;

#[derive(Debug)]
struct State {
    /// Front = tail of the paper's queue (oldest), back = head (newest).
    queue: FrameLists,
    /// The paper's hand: the next page to examine; `None` = start from the oldest.
    hand: Option<FrameIdx>,
}

/// The SIEVE policy.
#[derive(Debug)]
pub struct Sieve {
    visited: Box<[AtomicBool]>,
    state: Mutex<State>,
}

impl Sieve {
    /// A SIEVE over `frames` frames.
    pub fn new(frames: usize) -> Sieve {
        let frames = frames.max(1);
        Sieve {
            visited: (0..frames).map(|_| AtomicBool::new(false)).collect(),
            state: Mutex::new(State {
                queue: FrameLists::new(frames, 1),
                hand: None,
            }),
        }
    }
}

impl State {
    fn unlink(&mut self, frame: FrameIdx) {
        if self.hand == Some(frame) {
            self.hand = self.queue.next(frame);
        }
        self.queue.remove(frame);
    }
}

impl Policy for Sieve {
    fn name(&self) -> &'static str {
        "sieve"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.visited.len())
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        let v = &self.visited[frame as usize];
        if !v.load(Relaxed) {
            v.store(true, Relaxed);
        }
    }

    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        let mut st = self.state.lock();
        st.unlink(frame);
        self.visited[frame as usize].store(false, Relaxed);
        st.queue.push_back(QUEUE, frame);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.state.lock().unlink(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut st = self.state.lock();
        let n = st.queue.len(QUEUE);
        let mut cur = st.hand.or_else(|| st.queue.front(QUEUE));
        for _ in 0..3 * n {
            let f = cur?;
            let next = st.queue.next(f);
            if !self.visited[f as usize].swap(false, Relaxed) && try_take(f) {
                st.queue.remove(f);
                st.hand = next;
                return Some(f);
            }
            cur = next.or_else(|| st.queue.front(QUEUE));
        }
        st.hand = cur;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_pages_stay_in_place_and_hand_moves_on() {
        let p = Sieve::new(4);
        for f in 0..4 {
            p.on_insert(f, u64::from(f));
        }
        p.on_hit(0);
        p.on_hit(2);
        assert_eq!(p.victim(&mut |_| true), Some(1), "0 visited: cleared, kept");
        p.on_insert(1, 9); // new page at the head, behind the hand
        assert_eq!(p.victim(&mut |_| true), Some(3), "hand resumed at 2: cleared, 3 out");
        // The hand moves on to the head, where the new page 1 sits unvisited.
        assert_eq!(p.victim(&mut |_| true), Some(1));
        // Wrapped to the tail: 0 (cleared on the first sweep) goes; 2 is refused.
        assert_eq!(p.victim(&mut |f| f != 2), Some(0));
        assert_eq!(p.victim(&mut |_| false), None);
    }
}
