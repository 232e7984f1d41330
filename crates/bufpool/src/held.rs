//! The shared latches the calling thread holds through read guards, so that a wait for an exclusive latch the
//! thread itself shares ends in [`crate::Error::HeldByCaller`] instead of lasting for ever (the exclusive case
//! is the frame header's `owner`; both are asked through `FrameHeader::held_by_caller`, `frame.rs`).
//!
//! Owns one thread-local list of up to [`SHARED_HELD_MAX`] frames, each named by its header's address: that
//! names the frame *and its pool* (several pools may live in one process), and it stays valid while a guard's
//! borrow of the pool does. A [`crate::ReadGuard`] adds its frame when it is made and removes one entry for it
//! when it lets its latch go (dropped, or turned into a write guard by `try_upgrade`); a downgraded write guard is
//! a new read guard. The guards are not `Send`, so the list of the thread that took a latch is the one that gives
//! it up.
//!
//! Rules:
//! - Entries for a frame never outnumber the thread's read guards on it: an entry is added only with a guard,
//!   and a leaving guard removes at most one entry of its frame. So an entry always stands for a shared latch
//!   the thread holds, and `HeldByCaller` is never reported for a frame the thread does not hold.
//! - The list is bounded (no allocation on the hit path): while it is full, further read guards are not listed,
//!   and a self-wait on such a frame is not detected (it waits for ever, as any reader-writer lock would). When
//!   one of them leaves, it may remove a listed guard's entry of the same frame instead of nothing: a detection
//!   lost, never a false one.
//! - A guard passed to `mem::forget` keeps its entry, as it keeps its latch. Its pool may be dropped, but not its
//!   frame headers: a pool dropped with a frame latched shared leaks them (`Frames`' drop), so no later pool's
//!   header is ever at a listed address (R10-2 in RELIABILITY.md: the next pool's headers at the same address
//!   made a wait for another thread's read guard `HeldByCaller`). `FrameHeader::held_by_caller` also trusts an
//!   entry only while the frame is latched shared, which costs nothing on the path that asks.
//!
//! Cost: a read guard's making and release each touch this thread's list (a length and one slot, through the
//! thread pointer: no lazy initialisation, no destructor to register); the release compares the newest entry
//! only, which is the guard's own in the usual last-taken, first-released order (any other order searches the
//! list, out of line). The list is read only on the slow path, when a wait for an exclusive latch finds the frame
//! busy.

use std::cell::Cell;

/// Read guards a thread can hold at once and still be told `HeldByCaller` for any of them. A B+tree descent
/// holds two or three; a range scan, a few more.
pub(crate) const SHARED_HELD_MAX: usize = 16;

/// One thread's listed shared latches: `frames[..len]`, each a frame header's address.
struct SharedHeld {
    len: Cell<usize>,
    frames: [Cell<usize>; SHARED_HELD_MAX],
}

std::thread_local! {
    static SHARED_HELD: SharedHeld = const {
        SharedHeld {
            len: Cell::new(0),
            frames: [const { Cell::new(0) }; SHARED_HELD_MAX],
        }
    };
}

/// The calling thread's read guard on the frame whose header is at `frame` has been made: lists it, if the list
/// has room.
#[inline]
pub(crate) fn note_shared_taken(frame: *const crate::frame::FrameHeader) {
    SHARED_HELD.with(|held| {
        let len = held.len.get();
        if let Some(slot) = held.frames.get(len) {
            slot.set(frame as usize);
            held.len.set(len + 1);
        }
    });
}

/// A read guard of the calling thread on the frame at `frame` is letting its latch go: removes one entry of that
/// frame, if any is listed. The newest entry first, in one comparison: guards are usually released in the
/// reverse order of their making.
#[inline]
pub(crate) fn note_shared_leaving(frame: *const crate::frame::FrameHeader) {
    SHARED_HELD.with(|held| {
        let len = held.len.get();
        // `len - 1` wraps for an empty list, which `get` then refuses: one bounds check for both.
        match held.frames.get(len.wrapping_sub(1)) {
            Some(newest) if newest.get() == frame as usize => held.len.set(len - 1),
            _ => remove_older(held, frame as usize),
        }
    });
}

/// [`note_shared_leaving`] of a guard whose entry is not the newest (or that was never listed): removes the
/// newest entry of `frame`, if any, the last entry taking its place (order does not matter).
#[cold]
#[inline(never)]
fn remove_older(held: &SharedHeld, frame: usize) {
    let len = held.len.get().min(SHARED_HELD_MAX);
    if let Some(at) = held.frames[..len].iter().rposition(|f| f.get() == frame) {
        held.frames[at].set(held.frames[len - 1].get());
        held.len.set(len - 1);
    }
}

/// True if the calling thread's list names the frame at `frame`: it holds a read guard on it (see the module's
/// rules for a forgotten guard).
#[inline(never)]
pub(crate) fn holds_shared(frame: *const crate::frame::FrameHeader) -> bool {
    SHARED_HELD.with(|held| {
        let len = held.len.get().min(SHARED_HELD_MAX);
        held.frames[..len].iter().any(|f| f.get() == frame as usize)
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::frame::FrameHeader;

    fn at(headers: &[FrameHeader], i: usize) -> *const FrameHeader {
        &headers[i]
    }

    #[test]
    fn entries_follow_guards_and_overflow_loses_only_detections() {
        let headers: Vec<FrameHeader> = (0..SHARED_HELD_MAX + 2).map(|_| FrameHeader::new()).collect();
        // Two guards on frame 0, one on frame 1.
        note_shared_taken(at(&headers, 0));
        note_shared_taken(at(&headers, 0));
        note_shared_taken(at(&headers, 1));
        assert!(holds_shared(at(&headers, 0)) && holds_shared(at(&headers, 1)));
        note_shared_leaving(at(&headers, 0));
        assert!(holds_shared(at(&headers, 0)), "one guard on frame 0 is left");
        note_shared_leaving(at(&headers, 0));
        assert!(!holds_shared(at(&headers, 0)));
        note_shared_leaving(at(&headers, 1));
        assert!(!holds_shared(at(&headers, 1)));
        // A guard that was never listed removes nothing of another frame.
        note_shared_leaving(at(&headers, 1));

        // Fill the list, then two more guards that are not listed.
        for i in 0..SHARED_HELD_MAX + 2 {
            note_shared_taken(at(&headers, i));
        }
        assert!(holds_shared(at(&headers, SHARED_HELD_MAX - 1)));
        assert!(
            !holds_shared(at(&headers, SHARED_HELD_MAX)),
            "past the list: not detected"
        );
        for i in (0..SHARED_HELD_MAX + 2).rev() {
            note_shared_leaving(at(&headers, i));
        }
        assert!((0..SHARED_HELD_MAX + 2).all(|i| !holds_shared(at(&headers, i))));
        SHARED_HELD.with(|held| assert_eq!(held.len.get(), 0));
    }
}
