//! Scan rings: bulk scans that do not flush the hot set (PostgreSQL's `BufferAccessStrategy` ring buffers).
//!
//! Owns [`ScanRing`]. A long sequential scan that took its frames from the replacement policy would evict, one
//! by one, pages that other threads keep using, for pages it reads once. A scan ring is a small, fixed list of
//! frames the scan recycles: a miss through the ring first tries to take back the frame the ring used
//! `ring_size` misses ago (if it still holds the page the ring put there and nobody has it latched), writes it if
//! dirty (WAL rule as always), and reuses it. Only when that frame is gone (evicted, latched, vetoed) does the
//! ring ask the policy for a victim, as any miss would. Hits through the ring are ordinary hits.
//!
//! Pages the ring loads are tracked by the policy like any other, so they are evictable by everyone once the
//! ring is dropped; when the ring takes a frame back it removes it from the policy first (`on_remove`).
//!
//! A ring is used by one thread at a time (`&mut self`); each scanning thread makes its own.

use std::cell::RefCell;

use crate::error::Result;
use crate::guard::ReadGuard;
use crate::latch::{ExclusiveFrame, Victim};
use crate::page::PageId;
use crate::policy::FrameIdx;
use crate::pool::{BufferPool, Mode};

/// Smallest ring a caller can ask for (fewer frames would stall a scan on its own guards).
pub const SCAN_RING_MIN: usize = 4;

/// A scan's private ring of frames, so a long sequential scan does not evict the pages other threads keep using
/// (PostgreSQL's ring buffers). Made by [`BufferPool::scan_ring`].
///
/// A miss through the ring first takes back the frame the ring used `frames` misses ago, if that frame still
/// holds the ring's page and nobody has it latched (writing it first if dirty, WAL rule as always), and asks the
/// replacement policy for a victim only when that frame is gone. Hits through the ring are ordinary hits. Pages the
/// ring loaded stay cached and are evictable by everyone once the ring is dropped. One thread uses a ring at a
/// time (its methods take `&mut self`); each scanning thread makes its own.
pub struct ScanRing<'a> {
    pool: &'a BufferPool,
    /// For each slot: the page the ring last loaded there and its frame.
    slots: RefCell<Vec<Option<(PageId, FrameIdx)>>>,
    next: std::cell::Cell<usize>,
}

impl BufferPool {
    /// A scan ring of `frames` frames (at least [`SCAN_RING_MIN`], at most a quarter of the pool). PostgreSQL uses
    /// 256 KiB for sequential scans: 64 frames of 4 KiB.
    pub fn scan_ring(&self, frames: usize) -> ScanRing<'_> {
        let n = frames.clamp(SCAN_RING_MIN, (self.frames() / 4).max(SCAN_RING_MIN));
        ScanRing {
            pool: self,
            slots: RefCell::new(vec![None; n]),
            next: std::cell::Cell::new(0),
        }
    }
}

impl<'a> ScanRing<'a> {
    /// Frames in the ring.
    pub fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A shared latch on `page`; a miss recycles the ring's oldest frame.
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn read(&mut self, page: PageId) -> Result<ReadGuard<'a>> {
        let pool = self.pool;
        let frame = pool.fix_with(page, Mode::Shared, &mut |p| self.acquire(p))?.shared();
        Ok(ReadGuard::new(frame, page))
    }

    /// A frame for `page`: the ring's oldest one taken back if possible, else the policy's victim.
    fn acquire(&self, page: PageId) -> Result<ExclusiveFrame<'a>> {
        let pool = self.pool;
        let slot_no = self.next.get();
        self.next.set((slot_no + 1) % self.len());
        let previous = self.slots.borrow_mut()[slot_no].take();
        if let Some((old_page, idx)) = previous {
            // Counted as the pool's own from before its latch (R32-1), as `acquire_frame` counts its frames.
            let _taking = crate::pool::Hold::taker(&pool.core);
            if let Some(frame) = self.take_back(old_page, idx) {
                self.slots.borrow_mut()[slot_no] = Some((page, idx));
                return Ok(pool.taken(frame));
            }
        }
        let frame = pool.acquire_frame(page, true)?;
        self.slots.borrow_mut()[slot_no] = Some((page, frame.idx()));
        Ok(frame)
    }

    /// Empties frame `idx` if it still holds `page` (the ring's) and can be latched; returns it exclusively
    /// latched and untracked on success.
    fn take_back(&self, page: PageId, idx: FrameIdx) -> Option<ExclusiveFrame<'a>> {
        let pool = self.pool;
        let frame = ExclusiveFrame::try_latch(pool, idx).ok()?;
        if frame.page_id() != page || !pool.evictable(&frame) {
            frame.release_unchanged();
            return None;
        }
        pool.core.policy.on_remove(idx);
        // On a failed write the victim goes back (tracked again, unlatched); the ring then asks the policy.
        pool.evict(Victim::adopt(frame)).ok()
    }
}

impl std::fmt::Debug for ScanRing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanRing").field("frames", &self.len()).finish()
    }
}
