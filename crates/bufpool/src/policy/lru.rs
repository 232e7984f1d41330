//! Exact LRU: evict the page whose last access is oldest (the textbook policy; Mattson et al., "Evaluation
//! techniques for storage hierarchies", IBM Systems Journal 1970, for its stack property).
//!
//! Hit path: no lock. A hit is appended to a striped lock-free buffer (see `hitbuf`) and moved to the MRU end
//! when the next insert, removal or victim drains the buffer under the policy mutex. Single-threaded, the order
//! is exactly LRU (hits are applied in order before every decision); with many threads, recency between
//! threads is approximate and a hit may be dropped when a buffer stripe is full (see `hitbuf`'s docs).
//! Insert, remove and victim: one mutex, O(1) list operations (plus the drain).

use super::hitbuf::{ApplyHit, Buffered};
use super::list::FrameLists;
use super::{FrameIdx, Policy};

const LIST: usize = 0;

#[derive(Debug)]
struct State {
    /// Front = least recently used.
    list: FrameLists,
}

impl ApplyHit for State {
    fn apply_hit(&mut self, frame: FrameIdx) {
        if self.list.list_of(frame).is_some() {
            self.list.move_to_back(LIST, frame);
        }
    }
}

/// The exact LRU policy.
#[derive(Debug)]
pub struct Lru {
    state: Buffered<State>,
}

impl Lru {
    /// An LRU over `frames` frames.
    pub fn new(frames: usize) -> Lru {
        Lru {
            state: Buffered::new(State {
                list: FrameLists::new(frames.max(1), 1),
            }),
        }
    }
}

impl Policy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.state.lock().list.frames())
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        self.state.on_hit(frame);
    }

    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        self.state.lock().list.move_to_back(LIST, frame);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.state.lock().list.remove(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.state.lock().list.take_first(LIST, try_take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_goes_first() {
        let p = Lru::new(4);
        for f in 0..4 {
            p.on_insert(f, u64::from(f));
        }
        p.on_hit(0);
        p.on_hit(2);
        assert_eq!(p.victim(&mut |_| true), Some(1));
        assert_eq!(p.victim(&mut |f| f != 3), Some(0), "3 refused, 0 next");
        p.on_hit(3);
        assert_eq!(p.victim(&mut |_| true), Some(2));
        assert_eq!(p.victim(&mut |_| true), Some(3));
        assert_eq!(p.victim(&mut |_| true), None);
    }

    #[test]
    fn hits_on_untracked_frames_are_ignored() {
        let p = Lru::new(2);
        p.on_hit(1);
        p.on_insert(0, 0);
        assert_eq!(p.victim(&mut |_| true), Some(0));
        assert_eq!(p.victim(&mut |_| true), None);
    }
}
