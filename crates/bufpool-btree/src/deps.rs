//! Per-page dependencies on the log above: for each page of a tree that takes covered changes, a position in the
//! log its tree's log depends on ([`crate::TreeWal::flush_first`]) up to which that log must be durable before
//! the page may be written.
//!
//! Owns one number per page (by page number), kept in memory only. A page is noted ([`PageDeps::note`]) under its
//! exclusive latch whenever it takes a change that may hold covered changes (a covered put or delete, or a
//! structure change that moves entries), with the other log's *appended end* at that moment. The pool's
//! write-back reads it ([`PageDeps::max_over`]) while it holds a latch on the page that excludes writers.
//!
//! # Invariants
//! - **Covering.** A page's number is at or past the end of the record of every covered change the page holds:
//!   each such record was appended before its change was made (the caller's contract), so before the note that
//!   went with the change, and the other log's end only grows. Values only grow (a note stores only a larger
//!   number; notes of one page are one at a time, under its exclusive latch, and each page has its own slot), so
//!   two notes in any order can only make a number larger (a write waits longer), never smaller.
//! - **Stable while written.** Notes happen under the page's exclusive latch, the read under a latch that
//!   excludes writers: the latch's release/acquire orders them, and no note can come between the read and the
//!   page's write.
//! - **Never persisted.** A page read back from disk holds only changes whose records were durable when it was
//!   written (this rule), so it needs nothing; its old number, if still here, is only larger than needed. After a
//!   restart the numbers start at 0, so positions of a log's earlier life (which a restarted or recreated log may
//!   reuse) are never compared with the new log's.
//!
//! Storage: segments of doubling size (4,096 pages, then 8,192, 16,384, ...), each allocated on the first note
//! of a page in it, so memory is 8 bytes per page up to the highest page noted (at most twice that) and a lookup
//! is two loads with no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bufpool::{Lsn, PageNo};

/// log2 of the first segment's length.
const SEG0_BITS: u32 = 12;
/// Segments needed to cover every `PageNo` (see [`slot_of`]).
const SEGS: usize = (33 - SEG0_BITS) as usize;

/// Segment and offset of page `no`: with `q = no + 2^SEG0_BITS`, segment `k` holds the `q` in
/// `[2^(k + SEG0_BITS), 2^(k + SEG0_BITS + 1))`.
#[inline]
fn slot_of(no: PageNo) -> (usize, usize) {
    let q = u64::from(no) + (1u64 << SEG0_BITS);
    let top = 63 - q.leading_zeros();
    let seg = (top - SEG0_BITS) as usize;
    (seg, (q - (1u64 << top)) as usize)
}

const _: () =
    assert!((63 - ((u32::MAX as u64) + (1u64 << SEG0_BITS)).leading_zeros() - SEG0_BITS) as usize == SEGS - 1);

/// Per page of one data file, the position of the log above its write must wait for (see the module docs).
pub(crate) struct PageDeps {
    segs: [OnceLock<Box<[AtomicU64]>>; SEGS],
}

impl PageDeps {
    /// No page noted: every page needs nothing.
    pub(crate) fn new() -> PageDeps {
        PageDeps {
            segs: [const { OnceLock::new() }; SEGS],
        }
    }

    /// Raises page `no`'s number to at least `lsn`. Called under the page's exclusive latch (the only writer of
    /// its slot).
    #[inline]
    pub(crate) fn note(&self, no: PageNo, lsn: Lsn) {
        let (seg, off) = slot_of(no);
        let slots = self.segs[seg].get_or_init(|| {
            (0..1usize << (seg as u32 + SEG0_BITS))
                .map(|_| AtomicU64::new(0))
                .collect()
        });
        // Relaxed: the page latch's release (after this) and the writer's acquire (before `max_over`) order it.
        // A load and a store, not `fetch_max`: only the holder of the page's exclusive latch writes its slot, so
        // nothing comes between them, and a locked read-modify-write (about 10 a TPC-C transaction) bought
        // nothing (session 28).
        let slot = &slots[off];
        if lsn > slot.load(Ordering::Relaxed) {
            slot.store(lsn, Ordering::Relaxed);
        }
    }

    /// Starts loading page `no`'s slot into the CPU's caches (a hint; nothing if its segment is not allocated yet).
    /// A caller about to latch and change the page calls it first, so that the [`PageDeps::note`] after the change
    /// finds the slot's line there: in TPC-C at 2 threads the note's load of a slot not in the caches was most of
    /// `Tree::log_leaf`'s time, about 3.5% of a worker's (session 52, BENCHMARKS.md).
    #[inline]
    pub(crate) fn prefetch(&self, no: PageNo) {
        if let Some(slot) = self.slot(no) {
            bufpool::prefetch_cache_line(slot);
        }
    }

    /// Page `no`'s slot, if its segment is allocated (a page never noted may have none).
    #[inline]
    fn slot(&self, no: PageNo) -> Option<&AtomicU64> {
        let (seg, off) = slot_of(no);
        self.segs[seg].get().map(|slots| &slots[off])
    }

    /// The highest number among pages `first .. first + count` (0 for pages never noted). Called with the pages
    /// latched so no writer changes them.
    pub(crate) fn max_over(&self, first: PageNo, count: usize) -> Lsn {
        (0..count as u64)
            .map_while(|k| PageNo::try_from(u64::from(first) + k).ok())
            .map(|no| self.slot(no).map_or(0, |s| s.load(Ordering::Relaxed)))
            .max()
            .unwrap_or(0)
    }
}

impl std::fmt::Debug for PageDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pages: usize = self.segs.iter().filter_map(|s| s.get()).map(|s| s.len()).sum();
        f.debug_struct("PageDeps").field("pages", &pages).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_tile_the_page_numbers() {
        assert_eq!(slot_of(0), (0, 0));
        assert_eq!(slot_of(4095), (0, 4095));
        assert_eq!(slot_of(4096), (1, 0));
        assert_eq!(slot_of(8191), (1, 4095));
        assert_eq!(slot_of(12_287), (1, 8191));
        assert_eq!(slot_of(12_288), (2, 0));
        assert_eq!(slot_of(u32::MAX).0, SEGS - 1);
        // Consecutive pages map to consecutive slots, each within its segment's length.
        let mut prev = slot_of(0);
        for no in 1..100_000u32 {
            let s = slot_of(no);
            assert!(s == (prev.0, prev.1 + 1) || s == (prev.0 + 1, 0), "page {no}");
            assert!(s.1 < 1 << (s.0 as u32 + SEG0_BITS));
            prev = s;
        }
    }

    #[test]
    fn numbers_only_grow_and_runs_take_the_max() {
        let d = PageDeps::new();
        assert_eq!(d.max_over(0, 32), 0);
        d.note(5, 100);
        d.note(5, 40);
        assert_eq!(d.max_over(5, 1), 100, "a smaller note never lowers a page's number");
        d.note(9000, 7);
        assert_eq!(d.max_over(0, 5), 0);
        assert_eq!(d.max_over(0, 6), 100);
        assert_eq!(d.max_over(8990, 32), 7);
        assert_eq!(d.max_over(9001, 32), 0);
        // A run at the end of the page space stops there (its segment, never noted, is not allocated).
        assert_eq!(d.max_over(u32::MAX - 1, 32), 0);
    }
}
