//! Intrusive doubly linked lists over frame indices, shared by the ordered policies (FIFO, LRU, 2Q, ARC, SIEVE,
//! S3-FIFO, W-TinyLFU).
//!
//! One `prev`/`next` pair per frame and a small owner tag: a frame is in at most one list at a time, so several
//! lists (T1 and T2, window/probation/protected) share the same link arrays. Every operation is O(1) and
//! allocation-free after construction. The front of a list is its oldest (LRU / FIFO-tail) end, the back its
//! newest (MRU) end. Not synchronised: each policy keeps its lists under its own lock.

use super::FrameIdx;

const NIL: u32 = u32::MAX;
const NO_LIST: u8 = u8::MAX;

#[derive(Clone, Copy, Debug)]
struct Ends {
    front: u32,
    back: u32,
    len: usize,
}

/// Up to 255 lists threaded through one set of per-frame links.
#[derive(Debug)]
pub(crate) struct FrameLists {
    prev: Box<[u32]>,
    next: Box<[u32]>,
    /// Which list holds the frame, or `NO_LIST`. Invariant: a frame is linked iff its owner is not `NO_LIST`.
    owner: Box<[u8]>,
    ends: Box<[Ends]>,
}

impl FrameLists {
    /// `lists` empty lists over `frames` frames.
    pub(crate) fn new(frames: usize, lists: usize) -> FrameLists {
        debug_assert!(lists < NO_LIST as usize);
        debug_assert!(frames < NIL as usize, "frame indices must not reach the NIL sentinel");
        FrameLists {
            prev: vec![NIL; frames].into(),
            next: vec![NIL; frames].into(),
            owner: vec![NO_LIST; frames].into(),
            ends: vec![
                Ends {
                    front: NIL,
                    back: NIL,
                    len: 0
                };
                lists
            ]
            .into(),
        }
    }

    /// How many frames these lists were made for: indices `0..frames`.
    pub(crate) fn frames(&self) -> usize {
        self.owner.len()
    }

    /// The list holding `frame`, if any. Frames out of range are in no list.
    #[inline]
    pub(crate) fn list_of(&self, frame: FrameIdx) -> Option<usize> {
        match self.owner.get(frame as usize) {
            Some(&o) if o != NO_LIST => Some(o as usize),
            _ => None,
        }
    }

    /// Number of frames in `list`.
    #[inline]
    pub(crate) fn len(&self, list: usize) -> usize {
        self.ends[list].len
    }

    /// The oldest frame of `list`.
    #[inline]
    pub(crate) fn front(&self, list: usize) -> Option<FrameIdx> {
        some(self.ends[list].front)
    }

    /// The frame after `frame` (towards the back) in its list.
    #[inline]
    pub(crate) fn next(&self, frame: FrameIdx) -> Option<FrameIdx> {
        some(self.next[frame as usize])
    }

    /// Appends `frame` (which must be in no list) at the back (newest end) of `list`.
    pub(crate) fn push_back(&mut self, list: usize, frame: FrameIdx) {
        let f = frame as usize;
        debug_assert_eq!(self.owner[f], NO_LIST, "frame {frame} already linked");
        let e = &mut self.ends[list];
        self.prev[f] = e.back;
        self.next[f] = NIL;
        if e.back == NIL {
            e.front = frame;
        } else {
            self.next[e.back as usize] = frame;
        }
        e.back = frame;
        e.len += 1;
        self.owner[f] = list as u8;
    }

    /// Unlinks `frame` from whichever list holds it; returns that list.
    pub(crate) fn remove(&mut self, frame: FrameIdx) -> Option<usize> {
        let list = self.list_of(frame)?;
        let f = frame as usize;
        let (p, n) = (self.prev[f], self.next[f]);
        let e = &mut self.ends[list];
        if p == NIL {
            e.front = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            e.back = p;
        } else {
            self.prev[n as usize] = p;
        }
        e.len -= 1;
        self.prev[f] = NIL;
        self.next[f] = NIL;
        self.owner[f] = NO_LIST;
        Some(list)
    }

    /// Moves `frame` (linked or not) to the back of `list`.
    pub(crate) fn move_to_back(&mut self, list: usize, frame: FrameIdx) {
        self.remove(frame);
        self.push_back(list, frame);
    }

    /// Unlinks and returns the oldest frame of `list`.
    pub(crate) fn pop_front(&mut self, list: usize) -> Option<FrameIdx> {
        let f = self.front(list)?;
        self.remove(f);
        Some(f)
    }

    /// Offers the frames of `list`, oldest first, to `try_take`; unlinks and returns the first one accepted.
    /// Refused frames keep their place.
    pub(crate) fn take_first(&mut self, list: usize, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let mut cur = self.front(list);
        while let Some(f) = cur {
            cur = self.next(f);
            if try_take(f) {
                self.remove(f);
                return Some(f);
            }
        }
        None
    }
}

#[inline]
fn some(i: u32) -> Option<FrameIdx> {
    (i != NIL).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(l: &FrameLists, list: usize) -> Vec<FrameIdx> {
        let mut v = vec![];
        let mut cur = l.front(list);
        while let Some(f) = cur {
            v.push(f);
            cur = l.next(f);
        }
        v
    }

    #[test]
    fn push_remove_move_keep_order_and_lengths() {
        let mut l = FrameLists::new(6, 2);
        for f in 0..4 {
            l.push_back(0, f);
        }
        l.push_back(1, 5);
        assert_eq!(collect(&l, 0), [0, 1, 2, 3]);
        assert_eq!(l.remove(2), Some(0));
        assert_eq!(l.remove(2), None);
        l.move_to_back(0, 0);
        assert_eq!(collect(&l, 0), [1, 3, 0]);
        l.move_to_back(1, 3);
        assert_eq!(collect(&l, 1), [5, 3]);
        assert_eq!((l.len(0), l.len(1)), (2, 2));
        assert_eq!(l.pop_front(0), Some(1));
        assert_eq!(l.take_first(1, &mut |f| f == 3), Some(3));
        assert_eq!(collect(&l, 1), [5]);
        assert_eq!(l.list_of(0), Some(0));
        assert_eq!(l.list_of(3), None);
    }
}
