//! The shared latches the calling thread holds through read guards, so that a wait for an exclusive latch the
//! thread itself shares ends in [`crate::Error::HeldByCaller`] instead of lasting for ever (the exclusive case
//! is the frame header's `owner`; both are asked through `FrameHeader::held_by_caller`, `frame.rs`). Also the
//! frames the pool itself latches on this thread while a callback of the user's runs in them ([`for_callback`]),
//! so that the callback's call back for such a page ends in [`crate::Error::CallbackReentry`]; the same listing
//! counts each frame in its header (`FrameHeader::callbacks`), so that a callback on another thread does not wait
//! for it either ([`callback_in`], R37-1 in RELIABILITY.md).
//!
//! Owns one thread-local list of frames, each named by its header's address: that names the frame *and its
//! pool* (several pools may live in one process), and it stays valid while a guard's borrow of the pool does. The
//! first [`SHARED_HELD_MAX`] entries live in a fixed array (no allocation on the hit path), the rest in a
//! growable overflow list that only a thread holding more read guards at once ever touches. A [`crate::ReadGuard`] adds its frame when it is made and removes one entry for it
//! when it lets its latch go (dropped, or turned into a write guard by `try_upgrade`); a downgraded write guard is
//! a new read guard. The guards are not `Send`, so the list of the thread that took a latch is the one that gives
//! it up.
//!
//! Rules:
//! - Entries for a frame never outnumber the thread's read guards on it: an entry is added only with a guard,
//!   and a leaving guard removes at most one entry of its frame. So an entry always stands for a shared latch
//!   the thread holds, and `HeldByCaller` is never reported for a frame the thread does not hold.
//! - Every read guard is listed, however many the thread holds: past the array's [`SHARED_HELD_MAX`] slots, in
//!   the overflow list (out of line: a push, and on release a search of the overflow list). Before, guards past
//!   the 16th were not listed, and a self-wait on one of their frames waited for ever (L11-6 in RELIABILITY.md).
//! - A guard passed to `mem::forget` keeps its entry, as it keeps its latch, for the thread's life: it costs the
//!   thread one slot (and, once forgotten guards fill the array, every later read guard of the thread takes the
//!   out-of-line path), but no detection. Its pool may be dropped, but not its
//!   frame headers: a pool dropped with a frame latched shared leaks them (`Frames`' drop), so no later pool's
//!   header is ever at a listed address (R10-2 in RELIABILITY.md: the next pool's headers at the same address
//!   made a wait for another thread's read guard `HeldByCaller`). `FrameHeader::held_by_caller` also trusts an
//!   entry only while the frame is latched shared, which costs nothing on the path that asks.
//! - The overflow list has a destructor (a `Vec`), so at thread exit it may be destroyed before another
//!   thread-local whose destructor still drops read guards (a cache of guards of a `'static` pool). From then on
//!   the array is the whole list: the overflow's entries are forgotten and a guard made past the array goes
//!   unlisted (only detections are lost, at the end of the thread), never a panic, which in a thread-local
//!   destructor aborts the process (R12-1 in RELIABILITY.md).
//!
//! Cost: a read guard's making and release each touch this thread's list (a length and one slot, through the
//! thread pointer: no lazy initialisation, no destructor to register); the release compares the newest entry
//! only, which is the guard's own in the usual last-taken, first-released order (any other order, or an entry in
//! the overflow list, searches the list, out of line). The list is read only on the slow path, when a wait for an
//! exclusive latch finds the frame busy. The overflow list (a `Vec`, with its destructor) is a thread-local of
//! its own, touched only out of line.

use std::cell::{Cell, RefCell};

/// Read guards a thread lists in its fixed array, on the hit path; more go to the overflow list, out of line. A
/// B+tree descent holds two or three; a range scan, a few more.
pub(crate) const SHARED_HELD_MAX: usize = 16;

/// One thread's listed shared latches, each a frame header's address: `frames[..len.min(SHARED_HELD_MAX)]`, then
/// `SHARED_HELD_MORE`'s entries (`len - SHARED_HELD_MAX` of them when `len` is larger).
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
    /// The entries past the array's: empty (never allocated) unless the thread holds more than
    /// [`SHARED_HELD_MAX`] read guards at once.
    static SHARED_HELD_MORE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The calling thread's read guard on the frame whose header is at `frame` has been made: lists it (in the
/// overflow list, out of line, when the array is full).
#[inline]
pub(crate) fn note_shared_taken(frame: *const crate::frame::FrameHeader) {
    SHARED_HELD.with(|held| {
        let len = held.len.get();
        if let Some(slot) = held.frames.get(len) {
            slot.set(frame as usize);
            held.len.set(len + 1);
        } else {
            take_past_array(held, frame as usize);
        }
    });
}

/// [`note_shared_taken`] with the array full: the entry goes to the overflow list.
#[cold]
#[inline(never)]
fn take_past_array(held: &SharedHeld, frame: usize) {
    // A guard made once the overflow list is destroyed (at thread exit) goes unlisted: see the module's rules.
    if SHARED_HELD_MORE.try_with(|more| more.borrow_mut().push(frame)).is_ok() {
        held.len.set(held.len.get() + 1);
    }
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

/// [`note_shared_leaving`] of a guard whose entry is not the newest in the array (or is in the overflow list):
/// removes the newest entry of `frame`, if any, the last entry taking its place (order does not matter).
#[cold]
#[inline(never)]
fn remove_older(held: &SharedHeld, frame: usize) {
    if SHARED_HELD_MORE
        .try_with(|more| remove_listed(held, frame, &mut more.borrow_mut()))
        .is_err()
    {
        // The overflow list is destroyed (at thread exit, before the thread-local whose destructor drops this
        // guard) and its entries with it: the array is all that is left (R12-1: `with` panicked here, inside a
        // thread-local destructor, which aborts the process).
        held.len.set(held.len.get().min(SHARED_HELD_MAX));
        remove_listed(held, frame, &mut Vec::new());
    }
}

/// [`remove_older`] with the overflow list `more`.
fn remove_listed(held: &SharedHeld, frame: usize, more: &mut Vec<usize>) {
    let len = held.len.get();
    if let Some(at) = more.iter().rposition(|&f| f == frame) {
        more.swap_remove(at);
        held.len.set(len - 1);
        return;
    }
    let in_array = len.min(SHARED_HELD_MAX);
    if let Some(at) = held.frames[..in_array].iter().rposition(|f| f.get() == frame) {
        // The last entry overall takes the freed slot: the overflow list's, if it has any.
        let last = more.pop().unwrap_or_else(|| held.frames[in_array - 1].get());
        held.frames[at].set(last);
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
    }) || SHARED_HELD_MORE
        .try_with(|more| more.borrow().contains(&(frame as usize)))
        .unwrap_or(false)
}

std::thread_local! {
    /// The frames the pool latches on this thread (in any mode) while it runs a callback of the user's in them
    /// (a `Storage` read or write, a `Wal` flush, the eviction veto, a policy's `on_insert`), each with the name
    /// of that callback: [`for_callback`]. Empty (never allocated) on a thread that never ran one.
    static POOL_HELD: RefCell<Vec<(usize, &'static str)>> = const { RefCell::new(Vec::new()) };
}

/// The pool's latches on some frames, listed for the calling thread while a callback of the user's runs in them
/// ([`for_callback`]), and counted in each frame's `FrameHeader::callbacks`; unlisted and uncounted when dropped.
pub(crate) struct ForCallback<'h> {
    /// How many entries the list had before: what the drop cuts it back to.
    before: usize,
    /// The frames counted: the first inline, the rest (a batch's, a write run's) in `more`, so a single frame's
    /// callback (a load's `read_at`, a victim's) allocates nothing.
    first: Option<&'h crate::frame::FrameHeader>,
    more: Vec<&'h crate::frame::FrameHeader>,
}

/// Lists `frames` (headers the calling thread latches, in any mode, for as long as the returned token lives) as
/// held by the pool for the callback `what`. A call back into the pool from that callback that would wait for one
/// of them (the page being loaded, written, or chosen as a victim) then returns
/// [`crate::Error::CallbackReentry`] instead of waiting for ever (R19-O21 in RELIABILITY.md). Each frame's
/// `FrameHeader::callbacks` counts the token too, for other threads: a thread running a callback of its own does
/// not wait for such a frame ([`callback_in`], R37-1). Costs a push and an atomic add per frame, on the I/O and
/// eviction paths only (never on a hit); past the list's life, at thread exit, lists nothing (only detections are
/// lost).
pub(crate) fn for_callback<'h>(
    what: &'static str,
    frames: impl IntoIterator<Item = &'h crate::frame::FrameHeader>,
) -> ForCallback<'h> {
    let mut frames = frames.into_iter();
    let first = frames.next();
    let more: Vec<_> = frames.collect();
    for h in first.iter().chain(&more) {
        h.callbacks.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
    let before = POOL_HELD
        .try_with(|held| {
            let mut held = held.borrow_mut();
            let before = held.len();
            held.extend(first.iter().chain(&more).map(|&h| (h as *const _ as usize, what)));
            before
        })
        .unwrap_or(usize::MAX);
    ForCallback { before, first, more }
}

/// Lists the callback `what` as running on the calling thread in the pool whose frame headers are `headers`,
/// while it holds none of its frames for it (a policy's `victim_for` before it takes a frame, under the policy's
/// own lock): [`callback_in`] then names it, so the callback does not wait for a frame another thread holds for a
/// callback (that thread's `Policy::on_insert` may be waiting for the lock this callback holds: R37-4). The entry
/// is the headers' address plus one, which no header has (they are 64-byte aligned), so
/// [`held_for_callback`] never matches it.
pub(crate) fn in_pool_callback<'h>(what: &'static str, headers: &'h [crate::frame::FrameHeader]) -> ForCallback<'h> {
    let marker = headers.as_ptr() as usize + 1;
    let before = POOL_HELD
        .try_with(|held| {
            let mut held = held.borrow_mut();
            held.push((marker, what));
            held.len() - 1
        })
        .unwrap_or(usize::MAX);
    ForCallback {
        before,
        first: None,
        more: Vec::new(),
    }
}

impl Drop for ForCallback<'_> {
    fn drop(&mut self) {
        if self.before != usize::MAX {
            let _ = POOL_HELD.try_with(|held| held.borrow_mut().truncate(self.before));
        }
        for h in self.first.iter().chain(&self.more) {
            h.callbacks.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
}

/// The callback the pool runs on this thread while it latches the frame at `frame` for it ([`for_callback`]),
/// if any: the innermost one.
#[cold]
#[inline(never)]
pub(crate) fn held_for_callback(frame: *const crate::frame::FrameHeader) -> Option<&'static str> {
    POOL_HELD
        .try_with(|held| {
            held.borrow()
                .iter()
                .rev()
                .find(|&&(f, _)| f == frame as usize)
                .map(|&(_, what)| what)
        })
        .ok()
        .flatten()
}

/// The innermost callback the pool runs on this thread in frames whose headers are in `headers` (one pool's), if
/// any. Asked only when a wait finds a frame busy and held for a callback on another thread (R37-1).
#[cold]
#[inline(never)]
pub(crate) fn callback_in(headers: &[crate::frame::FrameHeader]) -> Option<&'static str> {
    let range = headers.as_ptr_range();
    let (start, end) = (range.start as usize, range.end as usize);
    POOL_HELD
        .try_with(|held| {
            held.borrow()
                .iter()
                .rev()
                .find(|&&(f, _)| (start..end).contains(&f))
                .map(|&(_, what)| what)
        })
        .ok()
        .flatten()
}

/// Whether the callback `what` runs on this thread in frames the pool latches for it ([`for_callback`]). Asked
/// on a miss and before a wait for a busy latch (in the eviction veto's case, R36-21, R37-20): never on a hit.
pub(crate) fn running(what: &'static str) -> bool {
    POOL_HELD
        .try_with(|held| held.borrow().iter().any(|&(_, w)| w == what))
        .unwrap_or(false)
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

        // Fill the array, then two more guards: listed past it.
        for i in 0..SHARED_HELD_MAX + 2 {
            note_shared_taken(at(&headers, i));
        }
        assert!(holds_shared(at(&headers, SHARED_HELD_MAX - 1)));
        assert!(
            holds_shared(at(&headers, SHARED_HELD_MAX)) && holds_shared(at(&headers, SHARED_HELD_MAX + 1)),
            "past the array: still detected"
        );
        for i in (0..SHARED_HELD_MAX + 2).rev() {
            note_shared_leaving(at(&headers, i));
        }
        assert!((0..SHARED_HELD_MAX + 2).all(|i| !holds_shared(at(&headers, i))));
        SHARED_HELD.with(|held| assert_eq!(held.len.get(), 0));
    }

    #[test]
    fn released_out_of_order_across_the_array_and_the_overflow_every_guard_stays_detected() {
        let n = SHARED_HELD_MAX + 5;
        let headers: Vec<FrameHeader> = (0..n).map(|_| FrameHeader::new()).collect();
        for i in 0..n {
            note_shared_taken(at(&headers, i));
        }
        // Release the array's entries first (oldest first: never the newest), then the overflow's, checking after
        // each that exactly the guards still held are listed.
        let mut held: Vec<usize> = (0..n).collect();
        for i in (0..n).filter(|i| i % 2 == 0).chain((0..n).filter(|i| i % 2 == 1)) {
            note_shared_leaving(at(&headers, i));
            held.retain(|&h| h != i);
            for j in 0..n {
                assert_eq!(
                    holds_shared(at(&headers, j)),
                    held.contains(&j),
                    "guard {j} after releasing {i}"
                );
            }
        }
        SHARED_HELD.with(|held| assert_eq!(held.len.get(), 0));
        SHARED_HELD_MORE.with(|more| assert!(more.borrow().is_empty()));
    }
}
