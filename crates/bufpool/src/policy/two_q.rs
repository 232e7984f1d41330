//! Full 2Q (Johnson, Shasha, "2Q: A Low Overhead High Performance Buffer Management Replacement Algorithm",
//! VLDB 1994), with the paper's defaults Kin = 25 % and Kout = 50 % of the frames.
//!
//! - A1in: FIFO of pages referenced once recently. A hit there does nothing (correlated references).
//! - A1out: ghost FIFO of page keys evicted from A1in, at most Kout keys (the memory bound).
//! - Am: LRU of pages referenced again after they left A1in. A miss whose key is in A1out enters Am.
//!
//! Victim (the paper's `reclaimfor`): if |A1in| > Kin, the tail of A1in (its key goes to A1out); otherwise the
//! LRU page of Am (no ghost). When every candidate of the chosen queue is refused (or it is empty), the other
//! queue is tried, oldest first; a page taken from A1in always leaves a ghost.
//!
//! Hit path: no lock; hits go through the lock-free hit buffer (`hitbuf`), replayed in order (exactly, when
//! single-threaded) before every insert, removal and victim. Everything else: one mutex, O(1).

use super::ghost::GhostList;
use super::hitbuf::{ApplyHit, Buffered};
use super::list::FrameLists;
use super::{FrameIdx, Policy};

const A1IN: usize = 0;
const AM: usize = 1;

#[derive(Debug)]
struct State {
    lists: FrameLists,
    keys: Box<[u64]>,
    a1out: GhostList,
    kin: usize,
    kout: usize,
}

impl ApplyHit for State {
    fn apply_hit(&mut self, frame: FrameIdx) {
        if self.lists.list_of(frame) == Some(AM) {
            self.lists.move_to_back(AM, frame);
        }
    }
}

/// The 2Q policy.
#[derive(Debug)]
pub struct TwoQ {
    state: Buffered<State>,
}

impl TwoQ {
    /// 2Q over `frames` frames with Kin = 25 % and Kout = 50 % of `frames`.
    pub fn new(frames: usize) -> TwoQ {
        TwoQ::with_params(frames, frames / 4, frames / 2)
    }

    /// 2Q with A1in's threshold `kin` pages and at most `kout` ghost keys in A1out.
    pub fn with_params(frames: usize, kin: usize, kout: usize) -> TwoQ {
        let frames = frames.max(1);
        TwoQ {
            state: Buffered::new(State {
                lists: FrameLists::new(frames, 2),
                keys: vec![0; frames].into(),
                a1out: GhostList::default(),
                kin,
                kout,
            }),
        }
    }
}

impl Policy for TwoQ {
    fn name(&self) -> &'static str {
        "2q"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.state.lock().lists.frames())
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        self.state.on_hit(frame);
    }

    fn on_insert(&self, frame: FrameIdx, key: u64) {
        let mut st = self.state.lock();
        st.lists.remove(frame);
        st.keys[frame as usize] = key;
        let list = if st.a1out.remove(key).is_some() { AM } else { A1IN };
        st.lists.push_back(list, frame);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.state.lock().lists.remove(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut st = self.state.lock();
        let order = if st.lists.len(A1IN) > st.kin {
            [A1IN, AM]
        } else {
            [AM, A1IN]
        };
        for list in order {
            if let Some(f) = st.lists.take_first(list, try_take) {
                if list == A1IN {
                    let (key, kout) = (st.keys[f as usize], st.kout);
                    st.a1out.push_back(key, ());
                    st.a1out.truncate_front(kout);
                }
                return Some(f);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_after_a1out_enters_am_and_survives_a_scan() {
        let p = TwoQ::with_params(4, 1, 2);
        for f in 0..4 {
            p.on_insert(f, u64::from(f));
        }
        // A1in = [0,1,2,3] > Kin: its tail goes, key 0 remembered in A1out.
        assert_eq!(p.victim(&mut |_| true), Some(0));
        p.on_insert(0, 0); // key 0 again: into Am
        p.on_hit(0);
        // A1in = [1,2,3] still > Kin: the scan pages go first, page 0 stays.
        assert_eq!(p.victim(&mut |_| true), Some(1));
        assert_eq!(p.victim(&mut |_| true), Some(2));
        // A1in = [3] = Kin: Am's LRU (frame 0) now.
        assert_eq!(p.victim(&mut |_| true), Some(0));
        // Refused Am empty: falls back to A1in.
        assert_eq!(p.victim(&mut |_| true), Some(3));
        assert_eq!(p.victim(&mut |_| true), None);
    }
}
