//! S3-FIFO (Yang, Zhang, Qiu, Yue, Rashmi, "FIFO queues are all you need for cache eviction", SOSP 2023).
//!
//! Three FIFO queues: S (small, 10 % of the frames), M (main, the rest) and G (ghost keys, as many as M's
//! capacity, the memory bound). [`S3Fifo::with_params`] sets S's share and G's size otherwise (parameter
//! studies; the pool's `s3-fifo` is the paper's setting). Each page has a 2-bit access counter capped at 3.
//! - Insert: into M if the key is in G (removing it from G), else into S. The counter starts at 0.
//! - Victim (the paper's Algorithm 1): if |S| ≥ 10 % of the frames, `evictS`, else `evictM`.
//!   `evictS` takes S's tail: if its counter is > 1 (accessed at least twice in S, the paper's `t.freq > 1`
//!   and libCacheSim's `move-to-main-threshold=2`) it moves to M with its counter cleared, and if that leaves M
//!   over capacity `evictM` supplies the victim; otherwise it is evicted and its key enters G.
//!   `evictM` takes M's tail: a page with a nonzero counter is reinserted at M's head with the counter
//!   decremented; the first page with counter 0 is evicted (no ghost).
//!
//! Adaptation to frames: one call frees exactly one frame, so a promotion that overfills M makes `evictM`'s
//! eviction the victim (where the paper's `evictS` would go on to evict from S as well). Refused pages keep
//! their place (their counter is still consumed by a pass); when one queue yields nothing the other is tried,
//! and `evictM`'s walk is bounded (`4 |M| + 1` steps), so `None` comes after bounded work.
//!
//! Hit path: lock-free, one relaxed load and (below the cap) one relaxed store of the frame's counter (the
//! counters in huge pages: `HugeSlice`).
//! Insert, remove and victim take one mutex over the queues and G.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use parking_lot::Mutex;

use super::ghost::GhostList;
use super::list::FrameLists;
use super::{FrameIdx, Policy};
use crate::page::HugeSlice;

const SMALL: usize = 0;
const MAIN: usize = 1;
/// Counter cap (2 bits).
const FREQ_MAX: u8 = 3;
/// A page leaves S for M when its counter is at least this.
const PROMOTE_FREQ: u8 = 2;

#[derive(Debug)]
struct State {
    lists: FrameLists,
    keys: Box<[u64]>,
    ghost: GhostList,
    small_target: usize,
    main_cap: usize,
    ghost_cap: usize,
    /// G's size in percent of M's capacity.
    ghost_percent: usize,
}

/// `(small_target, main_cap, ghost_cap)` for `frames` (at least 1) frames.
fn sizes(frames: usize, small_percent: usize, ghost_percent: usize) -> (usize, usize, usize) {
    let small_target = (frames * small_percent.min(100) / 100).clamp(1, frames.saturating_sub(1).max(1));
    let main_cap = frames.saturating_sub(small_target).max(1);
    (small_target, main_cap, main_cap * ghost_percent / 100)
}

/// The S3-FIFO policy.
#[derive(Debug)]
pub struct S3Fifo {
    /// One counter a frame, read (and below the cap written) by every hit: in huge pages, as the frame headers,
    /// so that a hit's counter costs no TLB miss of its own (at 3.3 M frames the array spans 800 base pages).
    freq: HugeSlice<AtomicU8>,
    state: Mutex<State>,
}

impl S3Fifo {
    /// S3-FIFO over `frames` frames: S is 10 % of them (at least one), M and G the rest.
    pub fn new(frames: usize) -> S3Fifo {
        S3Fifo::with_params(frames, 10, 100)
    }

    /// S3-FIFO over `frames` frames whose S is `small_percent` % of them (at least one frame, at most all
    /// but one) and whose G holds `ghost_percent` % of M's capacity in keys (the paper's setting is
    /// `with_params(frames, 10, 100)`, which is [`S3Fifo::new`]). For parameter studies (`bufpool sim`'s
    /// `s3-fifo:small=S:ghost=G`).
    pub fn with_params(frames: usize, small_percent: usize, ghost_percent: usize) -> S3Fifo {
        let frames = frames.max(1);
        let (small_target, main_cap, ghost_cap) = sizes(frames, small_percent, ghost_percent);
        S3Fifo {
            freq: HugeSlice::new(frames, |_| AtomicU8::new(0)),
            state: Mutex::new(State {
                lists: FrameLists::new(frames, 2),
                keys: vec![0; frames].into(),
                ghost: GhostList::default(),
                small_target,
                main_cap,
                ghost_cap,
                ghost_percent,
            }),
        }
    }

    fn evict_small(&self, st: &mut State, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut cur = st.lists.front(SMALL);
        while let Some(t) = cur {
            cur = st.lists.next(t);
            if self.freq[t as usize].load(Relaxed) >= PROMOTE_FREQ {
                self.freq[t as usize].store(0, Relaxed);
                st.lists.move_to_back(MAIN, t);
                if st.lists.len(MAIN) > st.main_cap {
                    if let Some(f) = self.evict_main(st, try_take) {
                        return Some(f);
                    }
                }
            } else if try_take(t) {
                st.lists.remove(t);
                let key = st.keys[t as usize];
                st.ghost.push_back(key, ());
                let cap = st.ghost_cap;
                st.ghost.truncate_front(cap);
                return Some(t);
            }
        }
        None
    }

    fn evict_main(&self, st: &mut State, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut steps = 4 * st.lists.len(MAIN) + 1;
        let mut cur = st.lists.front(MAIN);
        while let Some(t) = cur {
            if steps == 0 {
                break;
            }
            steps -= 1;
            let next = st.lists.next(t);
            let freq = self.freq[t as usize].load(Relaxed);
            if freq > 0 {
                self.freq[t as usize].store(freq.min(FREQ_MAX) - 1, Relaxed);
                st.lists.move_to_back(MAIN, t);
                cur = next.or(Some(t));
            } else if try_take(t) {
                st.lists.remove(t);
                return Some(t);
            } else {
                cur = next;
            }
        }
        None
    }
}

impl S3Fifo {
    /// Sets S's share to `small_percent` % of the frames (M's capacity and G's size follow), as
    /// [`S3Fifo::with_params`] would. No page moves: if S is now over its share, the next victims come from S
    /// (its pages hit twice move to M, the others leave through G); if under, from M until S has grown to it.
    pub(crate) fn set_small_percent(&self, small_percent: usize) {
        let mut st = self.state.lock();
        let (small_target, main_cap, ghost_cap) = sizes(st.keys.len(), small_percent, st.ghost_percent);
        st.small_target = small_target;
        st.main_cap = main_cap;
        st.ghost_cap = ghost_cap;
    }

    /// Per frame, what S3-FIFO knows of its page's recent hits, for another policy taking over: its counter
    /// (0 to 3), plus 2 if the page is in M (it was hit at least twice in S, or came back from G). Frames it
    /// does not track get 0.
    pub(crate) fn hit_estimates(&self) -> Vec<u8> {
        let st = self.state.lock();
        (0..self.freq.len())
            .map(|f| {
                let in_main = st.lists.list_of(f as FrameIdx) == Some(MAIN);
                self.freq[f].load(Relaxed) + if in_main { 2 } else { 0 }
            })
            .collect()
    }
}

impl Policy for S3Fifo {
    fn name(&self) -> &'static str {
        "s3-fifo"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.freq.len())
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        let f = &self.freq[frame as usize];
        let v = f.load(Relaxed);
        if v < FREQ_MAX {
            f.store(v + 1, Relaxed);
        }
    }

    fn on_insert(&self, frame: FrameIdx, key: u64) {
        let mut st = self.state.lock();
        st.lists.remove(frame);
        st.keys[frame as usize] = key;
        self.freq[frame as usize].store(0, Relaxed);
        let list = if st.ghost.remove(key).is_some() { MAIN } else { SMALL };
        st.lists.push_back(list, frame);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.state.lock().lists.remove(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut st = self.state.lock();
        if st.lists.len(SMALL) >= st.small_target || st.lists.len(MAIN) == 0 {
            self.evict_small(&mut st, try_take)
                .or_else(|| self.evict_main(&mut st, try_take))
        } else {
            self.evict_main(&mut st, try_take)
                .or_else(|| self.evict_small(&mut st, try_take))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hit_wonders_leave_through_small_and_ghost_readmits_to_main() {
        let p = S3Fifo::new(10); // S target 1, M capacity 9
        for f in 0..10 {
            p.on_insert(f, u64::from(f));
        }
        p.on_hit(0);
        p.on_hit(0);
        p.on_hit(1);
        // S holds all ten: 0 (two hits) moves to M, 1 (one hit) is evicted into G.
        assert_eq!(p.victim(&mut |_| true), Some(1));
        p.on_insert(1, 1); // key 1 is in G: straight to M
        {
            let st = p.state.lock();
            assert_eq!(st.lists.list_of(1), Some(MAIN));
            assert_eq!(st.lists.list_of(0), Some(MAIN));
            assert!(st.ghost.len() == 0);
        }
        // 0 was promoted (counter cleared) and 1 readmitted from G: both in M, so 2 each; 2 had no hit.
        p.on_hit(1);
        let est = p.hit_estimates();
        assert_eq!((est[0], est[1], est[2]), (2, 3, 0));
        assert_eq!(p.victim(&mut |f| f != 2), Some(3), "2 refused keeps its place");
    }

    #[test]
    fn with_params_sizes_the_small_queue_and_the_ghost_list() {
        // 20 frames, S 30 % = 6, M 14, G 50 % of M = 7 keys.
        let p = S3Fifo::with_params(20, 30, 50);
        for f in 0..20 {
            p.on_insert(f, u64::from(f));
        }
        // All 20 in S (|S| ≥ 6): each victim is S's oldest, unhit, into G.
        for f in 0..10 {
            assert_eq!(p.victim(&mut |_| true), Some(f));
        }
        {
            let st = p.state.lock();
            assert_eq!((st.small_target, st.main_cap, st.ghost.len()), (6, 14, 7));
            // G kept the 7 most recent of keys 0..10: 3..10.
            assert!(st.ghost.contains(3) && !st.ghost.contains(2));
        }
        // The default: S 10 %, G as large as M.
        let d = S3Fifo::new(20);
        let st = d.state.lock();
        assert_eq!((st.small_target, st.main_cap, st.ghost_cap), (2, 18, 18));
    }

    #[test]
    fn main_reinserts_until_counters_run_out() {
        let p = S3Fifo::new(2); // S target 1, M capacity 1
        p.on_insert(0, 10);
        assert_eq!(p.victim(&mut |_| true), Some(0)); // 10 -> G
        p.on_insert(0, 10); // into M
        p.on_insert(1, 11); // into S
        p.on_hit(0);
        p.on_hit(0);
        p.on_hit(0);
        p.on_hit(0); // capped at 3
                     // |S| = 1 ≥ target: S's 11 (no hits) goes, not the hot main page.
        assert_eq!(p.victim(&mut |_| true), Some(1));
        // S empty: evictM walks 0 three times (3, 2, 1 -> 0), then evicts it.
        assert_eq!(p.victim(&mut |_| true), Some(0));
    }
}
