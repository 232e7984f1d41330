//! `raw-memory`, the floor for hits: the pages in one plain in-memory array, no pool, no latch, no lookup.
//!
//! The array asks for transparent huge pages, like bufpool's frame memory. An access computes the page's address and checks its self-check words, as every other system does. The words
//! are `AtomicU64`s read and written with `Relaxed` ordering, which compiles to plain loads and stores: the
//! cheapest race-free access there is. With no latch, concurrent writers may interleave their two counter stores,
//! so this limit checks page number and tag only, never `head == tail`.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;

use super::raw_file::{RawFile, RAW_PAGE};
use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck::{self, Words};

const WORDS: usize = RAW_PAGE / 8;

/// Word indices of the self-check's spread words in a raw page.
const SPREAD_WORDS: [usize; 2] = {
    let [a, b] = selfcheck::spread_offsets(RAW_PAGE);
    [a / 8, b / 8]
};

/// The pages in memory.
pub struct RawMemory {
    words: Box<[AtomicU64]>,
    seed: u64,
    counters: IoCounters,
}

impl RawMemory {
    /// Loads pages `0..pages` of the raw file into memory.
    pub fn load(file: &RawFile, pages: u32, seed: u64) -> Result<RawMemory> {
        let mut buf = bufpool::storage::AlignedBuf::zeroed(RAW_PAGE);
        Self::build(pages, seed, &mut buf, |p, page| {
            file.read_page(p, page)?;
            selfcheck::verify(page, seed, p)
        })
    }

    /// Pages `0..pages` made in memory with their self-check (the `hit` workload's data, no file).
    pub fn generate(pages: u32, seed: u64) -> RawMemory {
        let mut buf = vec![0u8; RAW_PAGE];
        Self::build(pages, seed, &mut buf, |p, page| {
            page.fill(0);
            selfcheck::init(page, seed, p);
            Ok(())
        })
        .expect("making pages in memory cannot fail")
    }

    /// The array of pages `0..pages`, each filled into `buf` by `fill` and then copied in.
    fn build(
        pages: u32,
        seed: u64,
        buf: &mut [u8],
        mut fill: impl FnMut(u32, &mut [u8]) -> Result<()>,
    ) -> Result<RawMemory> {
        let mut words: Vec<AtomicU64> = Vec::with_capacity(pages as usize * WORDS);
        advise_huge_pages(&words);
        for p in 0..pages {
            fill(p, buf)?;
            words.extend(
                buf.chunks_exact(8)
                    .map(|w| AtomicU64::new(u64::from_le_bytes(w.try_into().expect("8 bytes")))),
            );
        }
        Ok(RawMemory {
            words: words.into_boxed_slice(),
            seed,
            counters: IoCounters::default(),
        })
    }
}

/// Asks for transparent huge pages over the (still untouched) allocation behind `v`, as bufpool does for its
/// frames, so the floor does not pay TLB misses the pool avoids. Advisory: failure changes nothing.
fn advise_huge_pages(v: &Vec<AtomicU64>) {
    const HUGE: usize = 2 << 20;
    let start = v.as_ptr() as usize;
    let end = start + v.capacity() * 8;
    let (a, b) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if b > a {
        // SAFETY: [a, b) lies inside the allocation `v` owns; MADV_HUGEPAGE only changes how the kernel backs
        // those pages, never their contents or validity.
        unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE) };
    }
}

/// A thread's handle on [`RawMemory`].
pub struct RawMemoryWorker<'a>(&'a RawMemory);

impl System for RawMemory {
    type Worker<'a> = RawMemoryWorker<'a>;

    fn worker(&self) -> Result<RawMemoryWorker<'_>> {
        Ok(RawMemoryWorker(self))
    }

    fn counters(&self) -> &IoCounters {
        &self.counters
    }
}

impl Worker for RawMemoryWorker<'_> {
    #[inline]
    fn op(&mut self, page: u32, kind: OpKind) -> Result<()> {
        let m = self.0;
        let base = page as usize * WORDS;
        let w = &m.words[base..base + WORDS];
        let [m0, m1] = SPREAD_WORDS;
        let words = Words {
            page: w[selfcheck::OFF_PAGE / 8].load(Ordering::Relaxed),
            tag: w[selfcheck::OFF_TAG / 8].load(Ordering::Relaxed),
            head: w[selfcheck::OFF_HEAD / 8].load(Ordering::Relaxed),
            mid: [w[m0].load(Ordering::Relaxed), w[m1].load(Ordering::Relaxed)],
            tail: w[WORDS - 1].load(Ordering::Relaxed),
        };
        words.verify(m.seed, page, false)?;
        if kind == OpKind::Write {
            let next = words.head.wrapping_add(1);
            w[selfcheck::OFF_HEAD / 8].store(next, Ordering::Relaxed);
            w[WORDS - 1].store(next, Ordering::Relaxed);
        }
        Ok(())
    }
}
