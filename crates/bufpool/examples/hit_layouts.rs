//! What a random page hit costs at GiB scale under different page-table and frame-header layouts (issue 14).
//!
//! ```text
//! cargo run --release -p bufpool --example hit_layouts -- [--rounds 40] [--ops 250000]
//! ```
//!
//! A skeleton of the pool's hit path with none of its other work (no policy, statistics, closures or error
//! paths): 2^18 frames of 4 KiB (1 GiB, advised for huge pages like the pool's), every page resident in a frame
//! chosen by a random permutation, uniform random hits that read four words of the page (its start, a third, two
//! thirds and its end, as `bufpool bench --workload hit` does). Each layout below finds the frame its own way,
//! then reads the page. Layouts take turns, `--ops` hits each, for `--rounds` rounds; each layout's figure is
//! the median over rounds of its time over the current layout's in the same round, so load from other processes
//! touches all alike.
//!
//! The layouts (`table.rs` and `frame.rs` describe the current one):
//! - `raw`: the page's lines only, page `p` at frame `p` (no table): the floor, `raw-memory` in the bench.
//! - `bucket->page`: the frame index from the bucket, no header read: the floor for any hashed table.
//! - `current`: `u32` bucket -> 64-byte header (page id compare, state word) -> page, optimistic (version read
//!   before and re-checked after).
//! - `current, shared latch`: the same with a CAS on the state word before the page and a release after.
//! - `8-byte bucket {tag, frame}`: the issue's option in 8 bytes: a 32-bit tag of the page id beside the frame
//!   index, so a hit on the chain's head finds its frame without the header; the header is still read for the
//!   state word.
//! - `16-byte bucket {page id, frame}`: the same with the whole page id.
//! - `hot header split`: `u32` bucket -> a dense 16-byte {state, page id} per frame (4 per line) -> page.
//! - `32-byte headers`: two frames' headers per line.
//! - `prefetch after bucket`: `current`, with the header and the page's first line prefetched as soon as the
//!   bucket is read.
//! - `state in the table entry`: the page id and the version (the whole state word) in the table, as the issue
//!   also suggests: open addressing (linear probing, half full) over 16-byte entries {page id, state word and
//!   frame}, so a hit reads one entry, then the page (vmcache keeps the state word with the page id in the same
//!   way). Not the pool's protocol (a frame's latch would have to move with its page); what moving the latch
//!   into the table would buy at best.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Instant;

use bufpool::storage::AlignedBuf;

const FRAMES: usize = 1 << 18;
const BITS: u32 = 18;
const PAGE_WORDS: usize = 4096 / 8;
const NIL: u32 = u32::MAX;
const EXCLUSIVE: u64 = 253;

#[repr(align(64))]
struct Header64 {
    state: AtomicU64,
    page_id: AtomicU64,
    next: AtomicU32,
}

#[repr(align(32))]
struct Header32 {
    state: AtomicU64,
    page_id: AtomicU64,
    next: AtomicU32,
}

#[repr(align(16))]
struct Hot {
    state: AtomicU64,
    page_id: AtomicU64,
}

/// `n` zeroed elements in memory advised for transparent huge pages and aligned to them (as the pool's
/// `HugeSlice`), kept for the life of the program. Only for types made of atomics, for which all-zero bytes are
/// a valid value.
fn huge<T>(n: usize) -> &'static [T] {
    const HUGE: usize = 2 << 20;
    let bytes = (n * std::mem::size_of::<T>()).next_multiple_of(HUGE);
    let buf = Box::leak(Box::new(AlignedBuf::zeroed_huge(bytes, HUGE)));
    // SAFETY: the buffer holds at least n * size_of::<T>() zeroed bytes, aligned to 2 MiB (at least T's
    // alignment), and is leaked, so it lives for ever; every T used here is made of atomics, valid when zero.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<T>(), n) }
}

#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 neither faults nor makes an observable load, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The pool's bucket hash (`table.rs`: Fibonacci hashing).
#[inline(always)]
fn bucket(page: u64) -> usize {
    (page.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS)) as usize
}

/// The bench's op-stream generator (splitmix64).
struct Rng(u64);

impl Rng {
    #[inline(always)]
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((u128::from(z ^ (z >> 31)) * u128::from(n)) >> 64) as u64
    }
}

struct Layouts {
    pages: &'static [AtomicU64],
    perm: Vec<u32>,
    buckets: &'static [AtomicU32],
    headers: &'static [Header64],
    tagged: &'static [AtomicU64],
    wide: &'static [[AtomicU64; 2]],
    hot: &'static [Hot],
    headers32: &'static [Header32],
    entries: &'static [[AtomicU64; 2]],
}

impl Layouts {
    fn new() -> Layouts {
        let mut perm: Vec<u32> = (0..FRAMES as u32).collect();
        let mut rng = Rng(7);
        for i in (1..FRAMES).rev() {
            perm.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let l = Layouts {
            pages: huge(FRAMES * PAGE_WORDS),
            perm,
            buckets: huge(FRAMES),
            headers: huge(FRAMES),
            tagged: huge(FRAMES),
            wide: huge(FRAMES),
            hot: huge(FRAMES),
            headers32: huge(FRAMES),
            entries: huge(2 * FRAMES),
        };
        for (i, w) in l.pages.iter().enumerate() {
            w.store((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), Relaxed);
        }
        for f in 0..FRAMES {
            l.buckets[f].store(NIL, Relaxed);
            l.entries[2 * f][0].store(u64::MAX, Relaxed);
            l.entries[2 * f + 1][0].store(u64::MAX, Relaxed);
            l.headers[f].state.store(1 << 8, Relaxed);
            l.hot[f].state.store(1 << 8, Relaxed);
            l.headers32[f].state.store(1 << 8, Relaxed);
        }
        for page in 0..FRAMES {
            let f = l.perm[page];
            let b = bucket(page as u64);
            let head = l.buckets[b].load(Relaxed);
            for (id, next) in [(&l.headers[f as usize].page_id, &l.headers[f as usize].next), {
                let h = &l.headers32[f as usize];
                (&h.page_id, &h.next)
            }] {
                id.store(page as u64, Relaxed);
                next.store(head, Relaxed);
            }
            l.hot[f as usize].page_id.store(page as u64, Relaxed);
            l.buckets[b].store(f, Relaxed);
            // The chain's head in the wider buckets (the rest of a chain is found through the headers).
            l.tagged[b].store((tag(page as u64) << 32) | u64::from(f), Relaxed);
            l.wide[b][0].store(page as u64, Relaxed);
            l.wide[b][1].store(u64::from(f), Relaxed);
            let mut e = entry(page as u64);
            while l.entries[e][0].load(Relaxed) != u64::MAX {
                e = (e + 1) % (2 * FRAMES);
            }
            l.entries[e][0].store(page as u64, Relaxed);
            l.entries[e][1].store((u64::from(f) << 32) | 1 << 8, Relaxed);
        }
        l
    }

    #[inline(always)]
    fn read_page(&self, frame: u32) -> u64 {
        let b = frame as usize * PAGE_WORDS;
        let w = &self.pages[b..b + PAGE_WORDS];
        w[0].load(Relaxed)
            ^ w[PAGE_WORDS / 3].load(Relaxed)
            ^ w[2 * PAGE_WORDS / 3].load(Relaxed)
            ^ w[PAGE_WORDS - 1].load(Relaxed)
    }

    /// The current chain walk (`PageTable::lookup`) from frame `f`.
    #[inline(always)]
    fn walk(&self, mut f: u32, page: u64) -> u32 {
        while f != NIL {
            let h = &self.headers[f as usize];
            if h.page_id.load(Acquire) == page {
                return f;
            }
            f = h.next.load(Acquire);
        }
        NIL
    }

    /// An optimistic read of frame `f` through its state word: the page's words if the version held.
    #[inline(always)]
    fn optimistic(&self, state: &AtomicU64, id: &AtomicU64, f: u32, page: u64) -> Option<u64> {
        let s = state.load(Acquire);
        if s & 0xFF == EXCLUSIVE || id.load(Acquire) != page {
            return None;
        }
        let x = self.read_page(f);
        std::sync::atomic::fence(Acquire);
        (state.load(Relaxed) == s).then_some(x)
    }

    /// One hit on `page` through layout `v`.
    #[inline(always)]
    fn hit(&self, v: usize, page: u64) -> Option<u64> {
        let b = bucket(page);
        match v {
            0 => Some(self.read_page(page as u32)),
            1 => Some(self.read_page(self.buckets[b].load(Acquire))),
            2 | 8 => {
                let head = self.buckets[b].load(Acquire);
                if v == 8 {
                    prefetch(&self.headers[head as usize]);
                    prefetch(&self.pages[head as usize * PAGE_WORDS]);
                }
                let f = self.walk(head, page);
                let h = self.headers.get(f as usize)?;
                self.optimistic(&h.state, &h.page_id, f, page)
            }
            3 => {
                let f = self.walk(self.buckets[b].load(Acquire), page);
                let h = self.headers.get(f as usize)?;
                let s = h.state.load(Relaxed);
                if s & 0xFF >= EXCLUSIVE || h.state.compare_exchange_weak(s, s + 1, Acquire, Relaxed).is_err() {
                    return None;
                }
                let ok = h.page_id.load(Relaxed) == page;
                let x = self.read_page(f);
                h.state.fetch_sub(1, Release);
                ok.then_some(x)
            }
            4 => {
                let t = self.tagged[b].load(Acquire);
                let f = if t >> 32 == tag(page) {
                    t as u32
                } else {
                    self.walk(self.buckets[b].load(Acquire), page)
                };
                let h = self.headers.get(f as usize)?;
                self.optimistic(&h.state, &h.page_id, f, page)
            }
            5 => {
                let w = &self.wide[b];
                let f = if w[0].load(Acquire) == page {
                    w[1].load(Acquire) as u32
                } else {
                    self.walk(self.buckets[b].load(Acquire), page)
                };
                let h = self.headers.get(f as usize)?;
                self.optimistic(&h.state, &h.page_id, f, page)
            }
            6 => {
                let mut f = self.buckets[b].load(Acquire);
                while f != NIL && self.hot[f as usize].page_id.load(Acquire) != page {
                    f = self.headers[f as usize].next.load(Acquire);
                }
                let h = self.hot.get(f as usize)?;
                self.optimistic(&h.state, &h.page_id, f, page)
            }
            9 => {
                let mut e = entry(page);
                loop {
                    let id = self.entries[e][0].load(Acquire);
                    if id == page {
                        break;
                    }
                    if id == u64::MAX {
                        return None;
                    }
                    e = (e + 1) % (2 * FRAMES);
                }
                let word = &self.entries[e][1];
                let s = word.load(Acquire);
                if s & 0xFF == EXCLUSIVE {
                    return None;
                }
                let x = self.read_page((s >> 32) as u32);
                std::sync::atomic::fence(Acquire);
                (word.load(Relaxed) == s).then_some(x)
            }
            _ => {
                let mut f = self.buckets[b].load(Acquire);
                while f != NIL && self.headers32[f as usize].page_id.load(Acquire) != page {
                    f = self.headers32[f as usize].next.load(Acquire);
                }
                let h = self.headers32.get(f as usize)?;
                self.optimistic(&h.state, &h.page_id, f, page)
            }
        }
    }
}

/// The first slot of `page`'s probe sequence in the open-addressed table (twice as many slots as frames).
#[inline(always)]
fn entry(page: u64) -> usize {
    (page.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS - 1)) as usize
}

/// The 32-bit tag of `page` kept beside its frame in the 8-byte bucket: hash bits the bucket index does not use.
#[inline(always)]
fn tag(page: u64) -> u64 {
    let h = page.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h ^ (h >> 32)) & 0xFFFF_FFFF
}

const NAMES: [&str; 10] = [
    "raw",
    "bucket->page",
    "current",
    "current, shared latch",
    "8-byte bucket {tag, frame}",
    "16-byte bucket {page id, frame}",
    "hot header split (16 B a frame)",
    "32-byte headers",
    "prefetch after bucket",
    "state in the table entry",
];
const CURRENT: usize = 2;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds = arg("--rounds", 40).max(1) as usize;
    let ops = arg("--ops", 250_000).max(1);
    let l = Layouts::new();
    let mut ns = vec![Vec::with_capacity(rounds); NAMES.len()];
    let (mut sink, mut failed) = (0u64, 0u64);
    for round in 0..rounds {
        for (v, times) in ns.iter_mut().enumerate() {
            let mut rng = Rng(round as u64 * 1000 + v as u64);
            let t = Instant::now();
            for _ in 0..ops {
                match l.hit(v, rng.below(FRAMES as u64)) {
                    Some(x) => sink = sink.wrapping_add(x),
                    None => failed += 1,
                }
            }
            times.push(t.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    assert_eq!(failed, 0, "every hit finds its page");
    println!("{FRAMES} frames of 4 KiB, {rounds} rounds of {ops} uniform hits per layout (checksum {sink:x})");
    println!("{:34} {:>8} {:>12} {:>10}", "layout", "ns/hit", "/ current", "/ raw");
    for v in 0..NAMES.len() {
        let mut own = ns[v].clone();
        let mut to_current: Vec<f64> = (0..rounds).map(|r| ns[v][r] / ns[CURRENT][r]).collect();
        let mut to_raw: Vec<f64> = (0..rounds).map(|r| ns[v][r] / ns[0][r]).collect();
        println!(
            "{:34} {:>8.1} {:>11.2}x {:>9.2}x",
            NAMES[v],
            median(&mut own),
            median(&mut to_current),
            median(&mut to_raw)
        );
    }
}
