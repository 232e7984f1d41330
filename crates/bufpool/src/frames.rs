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
use std::sync::atomic::{AtomicU64, AtomicUsize};

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use crate::frame::{FrameHeader, FrameMemory};
use crate::page::{AllocFailed, HugeSlice, PageId};
use crate::policy::FrameIdx;
use crate::table::PageTable;

/// Free frames a core's cache holds at most; beyond that they go to the shared queue.
const FREE_CACHE: usize = 32;
/// Caches at most: one bit each in [`Frames::cached`].
const CACHES_MAX: usize = 64;

/// One core's cache of free frames: a short stack under a lock that only its own threads take, save a thief.
struct FreeCache {
    frames: Mutex<Vec<FrameIdx>>,
    /// `frames.len()`, readable without the lock (for [`Frames::free_len`]).
    len: AtomicUsize,
}

/// The frame array: headers, page bytes, page table, free list.
pub(crate) struct Frames {
    headers: HugeSlice<FrameHeader>,
    memory: FrameMemory,
    table: PageTable,
    /// The free list: per-core caches in front of one shared queue. A thread pops from its core's cache, then
    /// the shared queue, then steals from another core's cache; it pushes to its own cache until it holds
    /// [`FREE_CACHE`] frames, then to the shared queue. Threads map to caches by their statistics stripe, so
    /// there are as many caches as cores and each is mostly one thread's. Frames reach the free list when pages
    /// are freed (`free_page`), files closed or dropped, loads fail, and when the background writer evicts ahead
    /// of misses; a miss takes one before looking for a victim. On a many-core machine, a thread that frees and
    /// then takes frames (an engine's merge freeing a page and its next split taking one, a failed read and its
    /// retry) touches only its own cache's line instead of the shared queue's head and tail, which every core
    /// would otherwise bounce between them; frames the background writer frees still cross cores (through its
    /// cache or the queue), as they must. With every cache empty, the steady state of a full pool, a miss reads
    /// the queue and one word (`cached`), not every cache. On this project's 2-core machines there is no
    /// contention to remove: BENCHMARKS.md ("Per-core free-frame caches") has what they cost here.
    free: ArrayQueue<FrameIdx>,
    caches: Box<[CachePadded<FreeCache>]>,
    /// Bit `i` set: cache `i` may hold frames (set after a push to an empty cache, cleared after a pop empties
    /// it, both under the cache's lock). A miss with every cache empty, the steady state of a full pool, reads
    /// this one word instead of every cache's length.
    cached: CachePadded<AtomicU64>,
}

impl Drop for Frames {
    /// A read guard passed to `mem::forget` leaves its frame latched shared, and its header's address in its
    /// thread's list of read guards (`held.rs`), for good. Were the headers' memory freed, the next pool built
    /// could get its headers at the same address (same size, just freed), and the entry would name one of *its*
    /// frames: that thread's wait for the frame while another thread reads it would be refused with
    /// `HeldByCaller` (R10-2 in RELIABILITY.md). So the headers of a pool dropped with a frame latched shared
    /// are leaked, as the forgotten guard leaked its latch, and no later header is ever at a listed address.
    /// (No frame is latched otherwise by then: the pool's own latches are tokens, released before it can drop.)
    fn drop(&mut self) {
        let forgotten = self.headers.iter().any(|h| {
            let lock = h.state.load() & crate::frame::LOCK_MASK;
            (1..=crate::frame::SHARED_MAX).contains(&lock)
        });
        if forgotten {
            let empty = HugeSlice::new(0, |_| FrameHeader::new());
            std::mem::forget(std::mem::replace(&mut self.headers, empty));
        }
    }
}

impl Frames {
    /// `frames` free frames of `page_size` bytes each, or [`AllocFailed`] if the allocator refuses the headers,
    /// the page bytes or the page table (what was taken is freed). The free list's queue cannot fail softly
    /// (crossbeam's `ArrayQueue::new` aborts): `Builder::build` made room for it first (`reserve_bookkeeping`).
    pub(crate) fn try_new(frames: usize, page_size: usize) -> Result<Frames, AllocFailed> {
        let free = ArrayQueue::new(frames);
        for i in 0..frames {
            free.push(i as FrameIdx).expect("queue sized for every frame");
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let caches = (0..cores.clamp(1, CACHES_MAX.min(crate::stats::OWNED_STRIPES)))
            .map(|_| {
                CachePadded::new(FreeCache {
                    frames: Mutex::new(Vec::with_capacity(FREE_CACHE)),
                    len: AtomicUsize::new(0),
                })
            })
            .collect();
        Ok(Frames {
            headers: HugeSlice::try_new(frames, |_| FrameHeader::new())?,
            memory: FrameMemory::try_new(frames, page_size)?,
            table: PageTable::try_new(frames)?,
            free,
            caches,
            cached: CachePadded::new(AtomicU64::new(0)),
        })
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

    /// [`Frames::lookup`] with the frame's header: the hit paths' lookup (`PageTable::lookup_header`).
    #[inline]
    pub(crate) fn lookup_header(&self, page: PageId) -> Option<(FrameIdx, &FrameHeader)> {
        self.table.lookup_header(page, &self.headers)
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
        let mine = self.my_cache();
        if let Some(idx) = self.cache_pop(mine) {
            return Some(idx);
        }
        if let Some(idx) = self.free.pop() {
            return Some(idx);
        }
        // Steal from the other caches that hold frames, nearest first. Their locks are held for a push or a pop
        // only, so waiting for one is short, and a `None` here means every part of the list was empty when looked
        // at (as a single queue's `None` would): a miss never takes a victim, or reports the pool exhausted,
        // while a free frame sits in a cache it skipped.
        let mut others = self.cached.load(Relaxed) & !(1 << mine);
        while others != 0 {
            let k = others.rotate_right(mine as u32).trailing_zeros();
            let victim = (mine + k as usize) % CACHES_MAX;
            others &= !(1 << victim);
            if let Some(idx) = self.cache_pop(victim) {
                return Some(idx);
            }
        }
        None
    }

    /// The cache of the calling thread's core: the thread's statistics stripe (`stats.rs`), one per thread, spread
    /// over the caches.
    #[inline]
    fn my_cache(&self) -> usize {
        crate::stats::thread_stripe() % self.caches.len()
    }

    /// A frame from cache `i`, if it has one.
    fn cache_pop(&self, i: usize) -> Option<FrameIdx> {
        let c = &self.caches[i];
        if c.len.load(Relaxed) == 0 {
            return None;
        }
        let mut v = c.frames.lock();
        let idx = v.pop();
        c.len.store(v.len(), Relaxed);
        if v.is_empty() {
            self.cached.fetch_and(!(1 << i), Relaxed);
        }
        idx
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
        let mine = self.my_cache();
        let c = &self.caches[mine];
        {
            let mut v = c.frames.lock();
            if v.len() < FREE_CACHE {
                v.push(idx);
                c.len.store(v.len(), Relaxed);
                if v.len() == 1 {
                    self.cached.fetch_or(1 << mine, Relaxed);
                }
                return;
            }
        }
        self.free.push(idx).expect("free list holds every frame at most once");
    }

    /// Frames on the free list now.
    #[inline]
    pub(crate) fn free_len(&self) -> usize {
        self.free.len() + self.caches.iter().map(|c| c.len.load(Relaxed)).sum::<usize>()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn every_free_frame_comes_back_once_across_threads() {
        const FRAMES: usize = 256;
        let frames = Frames::try_new(FRAMES, 4096).unwrap();
        assert_eq!(frames.free_len(), FRAMES);
        // 16 threads take and give back frames; a frame taken twice at once, or lost, fails the test.
        let taken: Vec<AtomicBool> = (0..FRAMES).map(|_| AtomicBool::new(false)).collect();
        std::thread::scope(|s| {
            for t in 0..16u64 {
                let (frames, taken) = (&frames, &taken);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for _ in 0..20_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Hold up to 40 frames (more than a core's cache), so pushes overflow to the shared queue.
                        if mine.len() < 40 && x % 3 != 0 {
                            if let Some(idx) = frames.pop_free() {
                                assert!(!taken[idx as usize].swap(true, Relaxed), "frame {idx} handed out twice");
                                mine.push(idx);
                            }
                        } else if let Some(idx) = mine.pop() {
                            taken[idx as usize].store(false, Relaxed);
                            frames.push_free(idx);
                        }
                    }
                    for idx in mine {
                        taken[idx as usize].store(false, Relaxed);
                        frames.push_free(idx);
                    }
                });
            }
        });
        assert_eq!(frames.free_len(), FRAMES);
        // Every frame is still there, once: one thread takes them all (its own cache, the queue, then stealing).
        let mut all: Vec<FrameIdx> = std::iter::from_fn(|| frames.pop_free()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..FRAMES as FrameIdx).collect::<Vec<_>>());
        assert_eq!(frames.free_len(), 0);
    }

    #[test]
    fn a_thread_takes_frames_another_thread_cached() {
        let frames = Frames::try_new(8, 4096).unwrap();
        let all: Vec<FrameIdx> = std::iter::from_fn(|| frames.pop_free()).collect();
        assert_eq!(all.len(), 8);
        // Another thread gives them back: they land in its core's cache (8 < FREE_CACHE), not the shared queue.
        std::thread::scope(|s| {
            s.spawn(|| all.iter().for_each(|&i| frames.push_free(i)));
        });
        assert_eq!(frames.free_len(), 8);
        let again: Vec<FrameIdx> = std::iter::from_fn(|| frames.pop_free()).collect();
        assert_eq!(
            again.len(),
            8,
            "frames in another core's cache are stolen, never stranded"
        );
    }
}
