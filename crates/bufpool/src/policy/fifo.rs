//! FIFO: evict pages in the order they were placed (Belady, "A study of replacement algorithms for a
//! virtual-storage computer", IBM Systems Journal 1966, the baseline every later paper compares against).
//!
//! Hit path: nothing at all (hits do not change FIFO order). Insert, remove and victim take one mutex over an
//! intrusive queue (the miss path, which does I/O anyway). Refused frames keep their place in the queue.

use parking_lot::Mutex;

use super::list::FrameLists;
use super::{FrameIdx, Policy};

const QUEUE: usize = 0;

/// The FIFO policy.
#[derive(Debug)]
pub struct Fifo {
    queue: Mutex<FrameLists>,
}

impl Fifo {
    /// A FIFO over `frames` frames.
    pub fn new(frames: usize) -> Fifo {
        Fifo {
            queue: Mutex::new(FrameLists::new(frames.max(1), 1)),
        }
    }
}

impl Policy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn frames(&self) -> Option<usize> {
        Some(self.queue.lock().frames())
    }

    #[inline]
    fn on_hit(&self, _frame: FrameIdx) {}

    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        self.queue.lock().move_to_back(QUEUE, frame);
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.queue.lock().remove(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.queue.lock().take_first(QUEUE, try_take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertion_order_ignores_hits() {
        let p = Fifo::new(3);
        for f in [2, 0, 1] {
            p.on_insert(f, u64::from(f));
        }
        p.on_hit(2);
        assert_eq!(p.victim(&mut |f| f != 2), Some(0), "2 refused keeps its place");
        assert_eq!(p.victim(&mut |_| true), Some(2));
        p.on_remove(1);
        assert_eq!(p.victim(&mut |_| true), None);
    }
}
