//! One open file's written-LSN table (`FileEntry::written_lsn` in `files.rs`): the LSN each page had when this
//! open last wrote it, or an engine expects it at (`BufferPool::expect_lsn`), for the miss path's stale-write
//! check (R21-11, R22-10 in RELIABILITY.md) and the notes an engine carries across its log's cuts
//! (`BufferPool::written_lsns`, R22-11).
//!
//! Owns the table's layout and its bound (R23-10). Pages are kept in chunks of [`CHUNK_PAGES`] consecutive page
//! numbers (an LSN each, 8 bytes a page), each allocated at the first entry noted in it (its 512 bytes on the heap) and found through a map
//! keyed by the chunk's number: a file costs what it has written, by chunks, not its highest page number (until
//! R23-10 a vector up to the highest page written: a write near page 2^32 asked for 32 GiB at once). At most
//! `max_chunks` chunks are kept ([`crate::Builder::stale_check_pages`]); a note that needs a chunk beyond them
//! first forgets one, chosen by a clock (second chance) over the chunks in the order they were made: a chunk
//! noted in again since the hand last passed it is passed over once. Its entries are then gone: a dropped write of
//! one of its pages is not caught at run time, and the page is not listed by `entries` for an engine's notes
//! (counted in `Stats::written_lsns_dropped`).
//!
//! Invariants:
//! - `chunks` holds at most `max_chunks` chunks, and `order` names each of them exactly once.
//! - Every allocation is fallible and small: a chunk's 512 bytes, or the map or the clock growing by
//!   doubling up to `max_chunks` entries. A failed one forgets the note (counted as dropped), never aborts.
//! - An entry whose bit is set in its chunk's `expected` mask is an engine's claim not yet confirmed by a read or
//!   a write of the page in this open. LSNs are kept whole, every `u64` (R38-2: the flag was the entry's top bit,
//!   and LSNs at or above 2^63 were kept as 2^63 - 1: `written_lsns` named such a page at another LSN, or not at
//!   all past 2^63 - 1, and a dropped write of it went uncaught).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::page::{Lsn, PageNo};

/// Pages a chunk covers: consecutive page numbers from a multiple of it.
pub(crate) const CHUNK_PAGES: usize = 64;

/// The most pages a table can be asked to keep: every page of the largest file (`PageNo` is a `u32`).
pub(crate) const PAGES_MAX: usize = 1 << 32;

/// Whether `pages` is a bound [`crate::Builder::stale_check_pages`] accepts: 0 (the check off), or from one chunk
/// to every page of the largest file (the one rule `Builder::build` and the config's key both apply).
pub(crate) fn valid_pages(pages: usize) -> bool {
    pages == 0 || (CHUNK_PAGES..=PAGES_MAX).contains(&pages)
}

/// The default bound of a pool of `frames` frames: eight pages a frame, at least 2^20 pages (8 MiB of LSNs).
pub(crate) fn default_pages(frames: usize) -> usize {
    frames.saturating_mul(8).clamp(1 << 20, PAGES_MAX)
}

struct Chunk {
    /// [`CHUNK_PAGES`] entries.
    lsns: Box<[Lsn]>,
    /// Bit `at` set: entry `at` is an engine's expectation, not yet confirmed (one bit a page: a chunk is 64 pages).
    expected: u64,
    /// Noted in since the clock's hand last passed it.
    referenced: bool,
}

/// A chunk's number as its hash: a multiply and a fold (the map's keys are small integers, often consecutive).
#[derive(Default)]
struct ChunkHasher(u64);

impl Hasher for ChunkHasher {
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

type ChunkMap = HashMap<u32, Chunk, BuildHasherDefault<ChunkHasher>>;

/// The table (see the module docs).
pub(crate) struct WrittenLsns {
    chunks: ChunkMap,
    /// The clock: chunk numbers in the order their chunks were made (or passed over), the hand at the front.
    order: VecDeque<u32>,
    max_chunks: usize,
}

/// The chunk of `page_no` and its index in it.
fn split(page_no: PageNo) -> (u32, usize) {
    (page_no / CHUNK_PAGES as u32, page_no as usize % CHUNK_PAGES)
}

impl WrittenLsns {
    /// An empty table keeping at most `pages` pages (rounded up to whole chunks; 0 keeps nothing).
    pub(crate) fn new(pages: usize) -> WrittenLsns {
        WrittenLsns {
            chunks: ChunkMap::default(),
            order: VecDeque::new(),
            max_chunks: pages.min(PAGES_MAX).div_ceil(CHUNK_PAGES),
        }
    }

    /// The chunk of `page_no` and the page's index in it, the chunk made if need be (forgetting another beyond
    /// the bound): `None` if the table keeps nothing or the chunk could not be allocated. Adds the entries
    /// forgotten to `dropped`.
    fn slot(&mut self, page_no: PageNo, dropped: &mut u64) -> Option<(&mut Chunk, usize)> {
        let (chunk, at) = split(page_no);
        if self.chunks.contains_key(&chunk) {
            let c = self.chunks.get_mut(&chunk)?;
            c.referenced = true;
            return Some((c, at));
        }
        if self.max_chunks == 0 {
            return None;
        }
        if self.chunks.len() >= self.max_chunks {
            *dropped += self.forget_one();
        }
        let fresh = self.chunks.try_reserve(1).is_ok() && self.order.try_reserve(1).is_ok();
        let Some(lsns) = fresh.then(new_chunk).flatten() else {
            *dropped += 1;
            return None;
        };
        self.order.push_back(chunk);
        let new = Chunk {
            lsns,
            expected: 0,
            referenced: false,
        };
        Some((self.chunks.entry(chunk).or_insert(new), at))
    }

    /// Forgets the chunk under the clock's hand that was not noted in since the hand last passed it; returns the
    /// entries it held. Two turns at most: the first clears every flag it passes.
    fn forget_one(&mut self) -> u64 {
        for _ in 0..2 * self.order.len() {
            let Some(no) = self.order.pop_front() else { break };
            match self.chunks.get_mut(&no) {
                Some(c) if c.referenced => {
                    c.referenced = false;
                    self.order.push_back(no);
                }
                Some(_) => {
                    let c = self.chunks.remove(&no);
                    return c.map_or(0, |c| c.lsns.iter().filter(|&&l| l != 0).count() as u64);
                }
                None => {}
            }
        }
        0
    }

    /// `page_no` was written with LSN `lsn` (the write completed): returns the entries forgotten to make room.
    pub(crate) fn note(&mut self, page_no: PageNo, lsn: Lsn) -> u64 {
        let mut dropped = 0;
        if lsn == 0 && self.lookup(page_no).0 == 0 {
            return 0;
        }
        if let Some((c, at)) = self.slot(page_no, &mut dropped) {
            c.lsns[at] = lsn;
            c.expected &= !(1 << at);
        }
        dropped
    }

    /// An engine expects `page_no` on disk at `lsn` or newer: kept unconfirmed unless the entry is at least as
    /// new. Returns the entries forgotten to make room.
    pub(crate) fn expect(&mut self, page_no: PageNo, lsn: Lsn) -> u64 {
        let mut dropped = 0;
        if lsn == 0 || self.lookup(page_no).0 >= lsn {
            return 0;
        }
        if let Some((c, at)) = self.slot(page_no, &mut dropped) {
            c.lsns[at] = lsn;
            c.expected |= 1 << at;
        }
        dropped
    }

    /// The LSN `page_no` must be read back at least at (0: none), and whether it is an unconfirmed expectation.
    #[inline]
    pub(crate) fn lookup(&self, page_no: PageNo) -> (Lsn, bool) {
        if self.chunks.is_empty() {
            return (0, false);
        }
        let (chunk, at) = split(page_no);
        self.chunks
            .get(&chunk)
            .map_or((0, false), |c| (c.lsns[at], c.expected & (1 << at) != 0))
    }

    /// A read confirmed `page_no`'s expectation `lsn` (from [`WrittenLsns::lookup`]), if the entry is unchanged.
    pub(crate) fn confirm(&mut self, page_no: PageNo, lsn: Lsn) {
        let (chunk, at) = split(page_no);
        if let Some(c) = self.chunks.get_mut(&chunk) {
            if c.lsns[at] == lsn {
                c.expected &= !(1 << at);
            }
        }
    }

    /// The pages written at an LSN in `after + 1..=upto`, and those expected at or below `upto` and unconfirmed,
    /// each with its LSN, by page number.
    pub(crate) fn entries(&self, after: Lsn, upto: Lsn) -> Vec<(PageNo, Lsn)> {
        let mut v: Vec<(PageNo, Lsn)> = (self.chunks.iter())
            .flat_map(|(&no, c)| {
                (c.lsns.iter().enumerate()).filter_map(move |(at, &lsn)| {
                    let expected = c.expected & (1 << at) != 0;
                    let wanted = lsn > 0 && lsn <= upto && (lsn > after || expected);
                    wanted.then_some((no * CHUNK_PAGES as u32 + at as u32, lsn))
                })
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// The table's memory in bytes: its chunks, the map's and the clock's room.
    pub(crate) fn bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u32, Chunk)>() + 1;
        self.chunks.len() * CHUNK_PAGES * std::mem::size_of::<Lsn>()
            + self.chunks.capacity() * slot
            + self.order.capacity() * std::mem::size_of::<u32>()
    }
}

/// A zeroed chunk's entries, or `None` if the allocation failed.
fn new_chunk() -> Option<Box<[Lsn]>> {
    let mut v: Vec<Lsn> = Vec::new();
    v.try_reserve_exact(CHUNK_PAGES).ok()?;
    v.resize(CHUNK_PAGES, 0);
    Some(v.into_boxed_slice())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_page_near_the_end_of_the_address_space_costs_one_chunk() {
        let mut t = WrittenLsns::new(default_pages(8));
        assert_eq!(t.note(u32::MAX - 1, 7), 0);
        assert_eq!(t.lookup(u32::MAX - 1), (7, false));
        assert_eq!(t.lookup(u32::MAX - 2), (0, false));
        assert_eq!(t.entries(0, 10), vec![(u32::MAX - 1, 7)]);
        assert!(t.bytes() < 4096, "{} bytes", t.bytes());
    }

    #[test]
    fn beyond_the_bound_the_chunk_not_noted_in_since_the_hand_passed_is_forgotten() {
        let mut t = WrittenLsns::new(2 * CHUNK_PAGES);
        t.note(0, 1);
        t.note(64, 2);
        // Chunk 0 noted in again: referenced; chunk 1 not.
        t.note(1, 3);
        assert_eq!(t.note(128, 4), 1, "chunk 1 (one entry) forgotten");
        assert_eq!(t.entries(0, 10), vec![(0, 1), (1, 3), (128, 4)]);
        assert_eq!(t.chunks.len(), 2);
        // Off: nothing kept, nothing counted.
        let mut off = WrittenLsns::new(0);
        assert_eq!(off.note(5, 5) + off.expect(5, 9), 0);
        assert_eq!(off.lookup(5), (0, false));
        assert_eq!(off.bytes(), 0);
    }

    #[test]
    fn an_expectation_is_confirmed_only_while_unchanged() {
        let mut t = WrittenLsns::new(CHUNK_PAGES);
        t.expect(3, 10);
        assert_eq!(t.lookup(3), (10, true));
        t.expect(3, 5);
        assert_eq!(t.lookup(3), (10, true), "a lower expectation changes nothing");
        t.note(3, 12);
        t.confirm(3, 10);
        assert_eq!(t.lookup(3), (12, false));
        t.expect(4, 8);
        t.confirm(4, 8);
        assert_eq!(t.lookup(4), (8, false));
        assert_eq!(t.entries(100, 100), vec![]);
    }

    #[test]
    fn lsns_at_the_top_of_their_range_are_kept_whole() {
        let mut t = WrittenLsns::new(CHUNK_PAGES);
        let high = 1 << 63;
        t.note(1, high + 5);
        assert_eq!(t.lookup(1), (high + 5, false));
        t.expect(2, u64::MAX);
        assert_eq!(t.lookup(2), (u64::MAX, true));
        assert_eq!(t.entries(high, u64::MAX), vec![(1, high + 5), (2, u64::MAX)]);
        t.confirm(2, u64::MAX);
        assert_eq!(t.lookup(2), (u64::MAX, false));
        assert_eq!(t.entries(u64::MAX - 1, u64::MAX), vec![(2, u64::MAX)]);
    }
}
