//! `Frames`: the owner of the frame array.
//!
//! Owns the frame headers, the frame memory, the page table and the free list, behind private fields: the rest of
//! the pool reaches them through this small API (a header by index, the memory for the latch tokens, the page
//! table's lookups and (un)mapping, the free list), so what may touch a frame's bookkeeping is said in one
//! place. The states a frame passes through and which call moves it where are in ARCHITECTURE.md ("The states a
//! frame passes through"); the latch protocol is `frame.rs` and `latch.rs`.
//!
//! Memory: the headers and the page-table buckets live in `HugeSlice`s (`page.rs`), advised for transparent huge
//! pages like the frame bytes, so a random hit's bookkeeping reads add no TLB misses of their own.
//!
//! Invariants kept here: a frame is on the free list at most once, and only in the *free* state (no page, clean,
//! lock `FREE`: asserted in debug builds on every push); the page table maps a page to at most one frame, and only
//! to a frame whose `page_id` names it (callers store the id before mapping and clear it after unmapping).

use std::sync::atomic::Ordering::Relaxed;

use crossbeam_queue::ArrayQueue;

use crate::frame::{FrameHeader, FrameMemory};
use crate::page::{HugeSlice, PageId};
use crate::policy::FrameIdx;
use crate::table::PageTable;

/// The frame array: headers, page bytes, page table, free list.
pub(crate) struct Frames {
    headers: HugeSlice<FrameHeader>,
    memory: FrameMemory,
    table: PageTable,
    free: ArrayQueue<FrameIdx>,
}

impl Frames {
    /// `frames` free frames of `page_size` bytes each.
    pub(crate) fn new(frames: usize, page_size: usize) -> Frames {
        let free = ArrayQueue::new(frames);
        for i in 0..frames {
            free.push(i as FrameIdx).expect("queue sized for every frame");
        }
        Frames {
            headers: HugeSlice::new(frames, |_| FrameHeader::new()),
            memory: FrameMemory::new(frames, page_size),
            table: PageTable::new(frames),
            free,
        }
    }

    /// Number of frames.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.headers.len()
    }

    /// Frame `idx`'s header.
    #[inline]
    pub(crate) fn header(&self, idx: FrameIdx) -> &FrameHeader {
        &self.headers[idx as usize]
    }

    /// Every frame's header, in frame order (for scans: sweeps, statistics, the failed-file count).
    #[inline]
    pub(crate) fn headers(&self) -> &[FrameHeader] {
        &self.headers
    }

    /// The page bytes of every frame (reached through the latch tokens and guards).
    #[inline]
    pub(crate) fn memory(&self) -> &FrameMemory {
        &self.memory
    }

    /// The frame that probably holds `page`: a hint to confirm under the frame's latch (`table.rs`).
    #[inline]
    pub(crate) fn lookup(&self, page: PageId) -> Option<FrameIdx> {
        self.table.lookup(page, &self.headers)
    }

    /// Exact lookup under the page table's stripe lock.
    pub(crate) fn lookup_locked(&self, page: PageId) -> Option<FrameIdx> {
        self.table.lookup_locked(page, &self.headers)
    }

    /// The frame holding `page`, with no false negative (a miss confirmed under the stripe lock).
    pub(crate) fn lookup_exact(&self, page: PageId) -> Option<FrameIdx> {
        self.table.lookup_exact(page, &self.headers)
    }

    /// Maps `page` to frame `idx` (exclusively latched, its `page_id` already `page`) unless it is mapped; then
    /// returns the frame that has it.
    pub(crate) fn map(&self, page: PageId, idx: FrameIdx) -> Result<(), FrameIdx> {
        self.table.insert_if_absent(page, idx, &self.headers)
    }

    /// Unmaps `page` from frame `idx` (exclusively latched). False if it was not mapped there.
    pub(crate) fn unmap(&self, page: PageId, idx: FrameIdx) -> bool {
        self.table.remove(page, idx, &self.headers)
    }

    /// Starts loading the cache line of `page`'s page-table bucket.
    #[inline]
    pub(crate) fn prefetch_bucket(&self, page: PageId) {
        self.table.prefetch_bucket(page);
    }

    /// A frame from the free list, if any (the caller latches it: `ExclusiveFrame::latch_free`).
    #[inline]
    pub(crate) fn pop_free(&self) -> Option<FrameIdx> {
        self.free.pop()
    }

    /// Puts frame `idx`, now *free*, on the free list.
    pub(crate) fn push_free(&self, idx: FrameIdx) {
        let h = self.header(idx);
        debug_assert_eq!(h.page_id(), PageId::INVALID, "a free frame holds no page");
        debug_assert!(!h.dirty.load(Relaxed), "a free frame is clean");
        debug_assert_eq!(
            h.state.load() & crate::frame::LOCK_MASK,
            crate::frame::FREE,
            "a free frame is FREE"
        );
        self.free.push(idx).expect("free list holds every frame at most once");
    }

    /// Frames on the free list now.
    #[inline]
    pub(crate) fn free_len(&self) -> usize {
        self.free.len()
    }
}
