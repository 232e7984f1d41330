//! The page table: `PageId -> frame index`, read without locks.
//!
//! Owns the mapping from resident (or loading) pages to frames. A chained hash table whose chains run through the
//! frame headers (`FrameHeader::next`), so it never needs more room than the frames themselves and never allocates
//! after start-up. Buckets: the next power of two at or above the frame count, each a bare `u32` frame index (a
//! wider bucket, with a tag or the page id beside the index, measured slower at 1 GiB: ARCHITECTURE.md, "Page
//! table").
//!
//! # Protocol
//! - Readers ([`PageTable::lookup`]) take no lock and write nothing: they walk a chain with atomic loads and
//!   compare each frame's `page_id`. The answer is a *hint*: the caller latches the frame and re-checks that it
//!   still holds the page (see `pool.rs`). A concurrent unlink may send a reader down another chain, so a reader
//!   may miss a mapping that exists (a false negative) but never invents one; the walk is bounded by the frame
//!   count, so a reader can never loop.
//! - Writers (insert, remove) lock one of many striped mutexes, chosen by bucket, and are exact. The miss path
//!   confirms every negative under the stripe lock ([`PageTable::lookup_locked`], [`PageTable::insert_if_absent`]),
//!   so a false negative costs a lock, never a duplicate load.
//! - Lock order: ARCHITECTURE.md ("Lock order"); in short, nothing is acquired while holding a stripe lock.

use std::sync::atomic::Ordering::*;

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU32, SectionLock};

use crate::frame::{FrameHeader, NIL};
use crate::page::{AllocFailed, HugeSlice, PageId};
use crate::policy::FrameIdx;

/// Upper bound on writer stripes.
const STRIPES_MAX: usize = 1024;

pub(crate) struct PageTable {
    buckets: HugeSlice<AtomicU32>,
    shift: u32,
    stripes: Box<[CachePadded<SectionLock>]>,
}

impl PageTable {
    /// A table for `frames` frames: the next power of two of buckets, or [`AllocFailed`] if that count overflows
    /// or the allocator refuses the buckets.
    pub(crate) fn try_new(frames: usize) -> Result<PageTable, AllocFailed> {
        let n = frames.max(2).checked_next_power_of_two().ok_or(AllocFailed)?;
        let stripes = n.min(STRIPES_MAX);
        Ok(PageTable {
            buckets: HugeSlice::try_new(n, |_| AtomicU32::new(NIL))?,
            shift: 64 - n.trailing_zeros(),
            stripes: (0..stripes).map(|_| CachePadded::new(SectionLock::new())).collect(),
        })
    }

    #[inline]
    fn bucket(&self, page: PageId) -> usize {
        // Fibonacci hashing: consecutive page numbers spread over all buckets.
        (page.as_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn stripe(&self, bucket: usize) -> &SectionLock {
        &self.stripes[bucket & (self.stripes.len() - 1)]
    }

    /// Starts loading the cache line of `page`'s bucket (a hint for a lookup soon after).
    #[inline]
    pub(crate) fn prefetch_bucket(&self, page: PageId) {
        crate::frame::prefetch_line(&self.buckets[self.bucket(page)]);
    }

    /// The frame that (probably) holds `page`; see the module docs for what "probably" means.
    #[inline]
    pub(crate) fn lookup(&self, page: PageId, headers: &[FrameHeader]) -> Option<FrameIdx> {
        self.lookup_header(page, headers).map(|(idx, _)| idx)
    }

    /// [`PageTable::lookup`] with the header it found (`&headers[idx]`), for the hit paths, which read the
    /// header next: handing it over spares them a second bounds check of the index.
    #[inline]
    pub(crate) fn lookup_header<'h>(
        &self,
        page: PageId,
        headers: &'h [FrameHeader],
    ) -> Option<(FrameIdx, &'h FrameHeader)> {
        let mut idx = self.buckets[self.bucket(page)].load(Acquire);
        let mut steps = 0;
        while idx != NIL && steps <= headers.len() {
            let h = &headers[idx as usize];
            if h.page_id.load(Acquire) == page.as_u64() {
                return Some((idx, h));
            }
            idx = h.next.load(Acquire);
            steps += 1;
        }
        None
    }

    fn find_locked(&self, b: usize, page: PageId, headers: &[FrameHeader]) -> Option<FrameIdx> {
        let mut idx = self.buckets[b].load(Relaxed);
        while idx != NIL {
            let h = &headers[idx as usize];
            if h.page_id.load(Relaxed) == page.as_u64() {
                return Some(idx);
            }
            idx = h.next.load(Relaxed);
        }
        None
    }

    /// Exact lookup under the stripe lock.
    pub(crate) fn lookup_locked(&self, page: PageId, headers: &[FrameHeader]) -> Option<FrameIdx> {
        let b = self.bucket(page);
        let _g = self.stripe(b).lock();
        self.find_locked(b, page, headers)
    }

    /// The frame holding `page`, with no false negative: the lock-free lookup first, and a miss confirmed under
    /// the stripe lock. For callers that must not overlook a resident page (flush, free).
    pub(crate) fn lookup_exact(&self, page: PageId, headers: &[FrameHeader]) -> Option<FrameIdx> {
        self.lookup(page, headers).or_else(|| self.lookup_locked(page, headers))
    }

    /// Maps `page` to `frame` unless it is mapped already; then returns the frame that has it.
    /// The caller holds `frame`'s exclusive latch and has set its `page_id` to `page`.
    pub(crate) fn insert_if_absent(
        &self,
        page: PageId,
        frame: FrameIdx,
        headers: &[FrameHeader],
    ) -> Result<(), FrameIdx> {
        let b = self.bucket(page);
        let _g = self.stripe(b).lock();
        // `frame` already carries `page` as its id, but it is not linked yet, so the walk cannot find it.
        if let Some(existing) = self.find_locked(b, page, headers) {
            return Err(existing);
        }
        let h = &headers[frame as usize];
        debug_assert_eq!(h.page_id.load(Relaxed), page.as_u64());
        h.next.store(self.buckets[b].load(Relaxed), Release);
        self.buckets[b].store(frame, Release);
        Ok(())
    }

    /// Unmaps `page` from `frame`. The caller holds `frame`'s exclusive latch. Returns false if it was not mapped.
    pub(crate) fn remove(&self, page: PageId, frame: FrameIdx, headers: &[FrameHeader]) -> bool {
        let b = self.bucket(page);
        let _g = self.stripe(b).lock();
        let mut link = &self.buckets[b];
        loop {
            let idx = link.load(Relaxed);
            if idx == NIL {
                return false;
            }
            let h = &headers[idx as usize];
            if idx == frame {
                link.store(h.next.load(Relaxed), Release);
                // Leave `next` as it is: a reader standing on this frame still reaches the rest of the chain.
                return true;
            }
            link = &h.next;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::page::FileId;

    fn headers(n: usize) -> Vec<FrameHeader> {
        (0..n).map(|_| FrameHeader::new()).collect()
    }

    fn map(t: &PageTable, h: &[FrameHeader], p: PageId, f: u32) -> Result<(), u32> {
        h[f as usize].page_id.store(p.as_u64(), SeqCst);
        t.insert_if_absent(p, f, h)
    }

    #[test]
    fn insert_lookup_remove() {
        let h = headers(8);
        let t = PageTable::try_new(8).unwrap();
        let pages: Vec<PageId> = (0..8).map(|i| PageId::new(FileId(1), i * 8)).collect();
        for (f, &p) in pages.iter().enumerate() {
            map(&t, &h, p, f as u32).unwrap();
        }
        for (f, &p) in pages.iter().enumerate() {
            assert_eq!(t.lookup(p, &h), Some(f as u32));
            assert_eq!(t.lookup_locked(p, &h), Some(f as u32));
        }
        assert_eq!(t.lookup(PageId::new(FileId(2), 0), &h), None);
        assert!(t.remove(pages[3], 3, &h));
        assert!(!t.remove(pages[3], 3, &h));
        h[3].page_id.store(PageId::INVALID.as_u64(), SeqCst);
        assert_eq!(t.lookup(pages[3], &h), None);
        for (f, &p) in pages.iter().enumerate().filter(|(f, _)| *f != 3) {
            assert_eq!(t.lookup(p, &h), Some(f as u32), "other chain members survive a removal");
        }
    }

    #[test]
    fn second_insert_of_a_page_finds_the_first() {
        let h = headers(4);
        let t = PageTable::try_new(4).unwrap();
        let p = PageId::new(FileId(0), 42);
        map(&t, &h, p, 0).unwrap();
        assert_eq!(map(&t, &h, p, 1), Err(0));
    }
}
