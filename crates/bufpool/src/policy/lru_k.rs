//! LRU-K (O'Neil, O'Neil, Weikum, "The LRU-K Page Replacement Algorithm For Database Disk Buffering",
//! SIGMOD 1993), K = 2 by default.
//!
//! Each page keeps `HIST(p, 1..=K)`, the times of its last K uncorrelated references, and `LAST(p)`, the time
//! of its last reference. Time is logical: one tick per reference (hit or insert). The victim is the page with
//! the oldest `HIST(p, K)` (the greatest backward K-distance; pages with fewer than K references have
//! `HIST(p, K) = 0` and go first) among the pages not referenced within the last `crp` ticks (the paper's
//! correlated reference period); ties are broken by oldest `LAST(p)` (LRU as the subsidiary policy). A
//! reference within `crp` ticks of `LAST(p)` is correlated: it updates only `LAST(p)`. An uncorrelated one
//! shifts the history, closing the correlated period as the paper's pseudo-code does
//! (`HIST(p, i) = HIST(p, i-1) + (LAST(p) - HIST(p, 1))`).
//!
//! Retained history: the history of evicted pages is kept (the paper's retained information) and restored
//! when the page comes back. The paper bounds it by a time (Retained Information Period); here it is bounded by
//! count: at most `history` pages (default: one per frame), dropping the longest-evicted first. Memory bound:
//! `history * (K + 1)` u64 plus hash-map overhead. Pages discarded with `on_remove` keep no history.
//!
//! Deviation: when every unrefused page is inside its correlated period, the paper gives no victim; this
//! falls back to the same order ignoring the period, so the pool is not reported exhausted.
//!
//! Hit path: no lock; hits go through the lock-free hit buffer (`hitbuf`) and are replayed, in order when
//! single-threaded, before each insert, removal and victim. Under the mutex, each replayed hit and insert is
//! O(log n) (an ordered set keyed by `(HIST(p, K), LAST(p))`).

use std::collections::BTreeSet;

use super::ghost::GhostList;
use super::hitbuf::{ApplyHit, Buffered};
use super::{FrameIdx, Policy};

/// Default K.
pub const DEFAULT_K: usize = 2;
/// Default correlated reference period, in references (0: every reference is uncorrelated).
pub const DEFAULT_CRP: u64 = 0;

#[derive(Debug, Clone)]
struct History {
    /// `hist[i]` = HIST(p, i + 1); 0 = no such reference.
    hist: Box<[u64]>,
    last: u64,
}

#[derive(Debug)]
struct State {
    k: usize,
    crp: u64,
    history_cap: usize,
    /// Logical time: the number of references seen.
    now: u64,
    keys: Box<[u64]>,
    /// Resident pages' history, by frame; `None` = untracked.
    pages: Box<[Option<History>]>,
    /// `(HIST(p, K), LAST(p), frame)` for every tracked frame: the victim order.
    order: BTreeSet<(u64, u64, FrameIdx)>,
    /// Retained history of evicted pages, oldest eviction first.
    retained: GhostList<History>,
}

impl State {
    fn order_key(&self, frame: FrameIdx, h: &History) -> (u64, u64, FrameIdx) {
        (h.hist[self.k - 1], h.last, frame)
    }

    fn untrack(&mut self, frame: FrameIdx) -> Option<History> {
        let h = self.pages.get_mut(frame as usize)?.take()?;
        let key = self.order_key(frame, &h);
        self.order.remove(&key);
        Some(h)
    }

    fn track(&mut self, frame: FrameIdx, h: History) {
        let key = self.order_key(frame, &h);
        self.order.insert(key);
        self.pages[frame as usize] = Some(h);
    }
}

impl ApplyHit for State {
    fn apply_hit(&mut self, frame: FrameIdx) {
        let Some(mut h) = self.untrack(frame) else {
            return;
        };
        self.now += 1;
        let t = self.now;
        if t - h.last > self.crp {
            // A new, uncorrelated reference: close the correlated period and shift the history.
            let correlated = h.last - h.hist[0];
            for i in (1..self.k).rev() {
                h.hist[i] = if h.hist[i - 1] == 0 {
                    0
                } else {
                    h.hist[i - 1] + correlated
                };
            }
            h.hist[0] = t;
        }
        h.last = t;
        self.track(frame, h);
    }
}

/// The LRU-K policy.
#[derive(Debug)]
pub struct LruK {
    state: Buffered<State>,
}

impl LruK {
    /// LRU-2 over `frames` frames, no correlated reference period, history retained for `frames` pages.
    pub fn new(frames: usize) -> LruK {
        LruK::with_params(frames, DEFAULT_K, DEFAULT_CRP, frames)
    }

    /// LRU-`k` (`k` ≥ 1) with a correlated reference period of `crp` references and history retained for at
    /// most `history` evicted pages.
    pub fn with_params(frames: usize, k: usize, crp: u64, history: usize) -> LruK {
        let frames = frames.max(1);
        LruK {
            state: Buffered::new(State {
                k: k.max(1),
                crp,
                history_cap: history,
                now: 0,
                keys: vec![0; frames].into(),
                pages: vec![None; frames].into(),
                order: BTreeSet::new(),
                retained: GhostList::default(),
            }),
        }
    }
}

impl Policy for LruK {
    fn name(&self) -> &'static str {
        "lru-k"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.state.lock().keys.len())
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        self.state.on_hit(frame);
    }

    fn on_insert(&self, frame: FrameIdx, key: u64) {
        let mut st = self.state.lock();
        st.untrack(frame);
        st.now += 1;
        let t = st.now;
        let k = st.k;
        let h = match st.retained.remove(key) {
            Some(mut h) => {
                for i in (1..k).rev() {
                    h.hist[i] = h.hist[i - 1];
                }
                h.hist[0] = t;
                h.last = t;
                h
            }
            None => {
                let mut hist = vec![0; k].into_boxed_slice();
                hist[0] = t;
                History { hist, last: t }
            }
        };
        st.keys[frame as usize] = key;
        st.track(frame, h);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.state.lock().untrack(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut st = self.state.lock();
        // The time of the reference that needs this frame.
        let t = st.now + 1;
        let crp = st.crp;
        let mut chosen = None;
        // Pass 0: pages outside their correlated period (the paper's eligible pages). Pass 1: the rest.
        'passes: for pass in 0..2 {
            for &(_, last, f) in st.order.iter() {
                let eligible = t - last > crp;
                if eligible == (pass == 0) && try_take(f) {
                    chosen = Some(f);
                    break 'passes;
                }
            }
        }
        let f = chosen?;
        if let Some(h) = st.untrack(f) {
            let key = st.keys[f as usize];
            let cap = st.history_cap;
            st.retained.push_back(key, h);
            st.retained.truncate_front(cap);
        }
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_with_fewer_than_k_references_go_first_then_oldest_kth() {
        let p = LruK::new(3);
        for f in 0..3 {
            p.on_insert(f, 100 + u64::from(f)); // t = 1, 2, 3
        }
        p.on_hit(0); // t4: HIST(0) = [4, 1]
        p.on_hit(1); // t5: HIST(1) = [5, 2]
                     // Frame 2 has one reference: evicted first despite being the most recent insert.
        assert_eq!(p.victim(&mut |_| true), Some(2));
        p.on_insert(2, 200); // t6, new page
        p.on_hit(2); // t7: HIST(2) = [7, 6]
        assert_eq!(p.victim(&mut |_| true), Some(0), "oldest 2nd-last reference (t1)");
        assert_eq!(p.victim(&mut |f| f != 1), Some(2), "1 refused");
    }

    #[test]
    fn retained_history_survives_eviction() {
        let p = LruK::new(2);
        p.on_insert(0, 7); // t1
        p.on_hit(0); // t2
        p.on_insert(1, 8); // t3
        assert_eq!(p.victim(&mut |f| f == 0), Some(0)); // page 7 evicted with HIST [2, 1]
        p.on_insert(0, 7); // t4: HIST [4, 2]: page 7 has its second reference already
        p.on_hit(1); // t5: HIST(8) = [5, 3]
        assert_eq!(
            p.victim(&mut |_| true),
            Some(0),
            "page 7's K-th reference (t2) is older"
        );
    }

    #[test]
    fn correlated_references_do_not_count() {
        let p = LruK::with_params(2, 2, 5, 2);
        p.on_insert(0, 1); // t1
        p.on_hit(0); // t2: correlated, only LAST moves
        p.on_insert(1, 2); // t3
                           // Page in frame 0 still has one uncorrelated reference; both are inside the period; LAST decides.
        assert_eq!(p.victim(&mut |_| true), Some(0));
    }
}
