//! What a random page hit costs at GiB scale under different page-table and frame-header layouts (issue 14).
//!
//! ```text
//! cargo run --release -p bufpool --example hit_layouts -- [--rounds 40] [--ops 250000] [--evict-rounds 20]
//! cargo run --release -p bufpool --example hit_layouts -- --pool [--threads 1] [--rounds 40] [--ops 250000]
//! ```
//!
//! `--pool` runs only raw memory's hit and the real pool's `read_optimistic` and `read` hits, each reading and
//! checking six words of the page as the bench's op does (`check_words`), on `--threads` threads at once, in
//! interleaved rounds that draw the same pages for each: the pool's hit over raw memory's measured in one process, which the
//! bench's separate runs of each system cannot do on a loaded machine (about 2 GiB; issue 14, session 22). It also
//! runs four of the skeleton's layouts below with the same checked op over raw memory's pages (`POOL_KINDS`,
//! session 24), so that the skeleton's floor and the pool are measured by the same op in the same rounds.
//!
//! A skeleton of the pool's hit path with none of its other work (no policy, statistics, closures or error
//! paths): 2^18 frames of 4 KiB (1 GiB, advised for huge pages like the pool's), every page resident in a frame
//! chosen by a random permutation, uniform random hits that read four words of the page (its start, a third, two
//! thirds and its end, as `bufpool bench --workload hit` does). Each layout below finds the frame its own way,
//! then reads the page. Layouts take turns, `--ops` hits each, for `--rounds` rounds; each layout's figure is
//! the median over rounds of its time over the current layout's in the same round, so load from other processes
//! touches all alike. With the two vmcache regions below the program holds about 3 GiB.
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
//! - `vmcache`: a translation with no table read, the idea of vmcache (Leis et al., "Virtual-Memory Assisted
//!   Buffer Management", SIGMOD 2023): a per-file virtual region (an anonymous private `mmap` of the file's size,
//!   page `p` at `base + p * 4096`, every page touched in) and a dense array of one 8-byte state word a page
//!   (version and latch, on huge pages), indexed by the page id. A hit computes both addresses from the page id,
//!   so the state word's and the page's loads issue together; no load waits on another. Optimistic (the version
//!   before and after) and shared latch (CAS, release), each on two copies of the region: on 4 KiB pages
//!   (`MADV_NOHUGEPAGE`: what a pool that evicts single pages with `MADV_DONTNEED` must use, so a random hit
//!   may walk the page table in hardware) and on huge pages (`MADV_HUGEPAGE`, as the frame array above: only for
//!   a pool that evicts 2 MiB at a time). `raw, 4 KiB` and `raw, huge (mmap)` read the same regions with no
//!   state word: the floor on each page size (`raw` above and `raw, huge (mmap)` should agree).
//!
//! - The pool's own hit, grown onto `current` one step at a time (session 20: where the real hit's time goes beyond
//!   the skeleton's): `+ lookup, re-check` walks the chain as `PageTable::lookup` does (a step bound against the
//!   header count) and re-reads the page id after the version, as `read_optimistic` does; `+ policy counter`
//!   adds S3-FIFO's `on_hit` (a one-byte counter a frame, loaded, stored while below 3); `+ hit count` adds the
//!   statistics' per-thread stripe (a thread-local slot, a load and a store); `+ dyn hook, closure call` calls
//!   the counter through a `dyn` trait object and reads the page's words in a function not inlined, as the pool
//!   calls its policy and the caller's closure.
//! - `pool: read_optimistic` and `pool: read (shared)`: the real [`bufpool::BufferPool`] (2^18 frames of 4 KiB,
//!   default policy, every page made by `new_page`, so resident), reading the same four words of each page's user
//!   region (the bench's `hit` case without the bench's loop).
//! - `..., fenced`: the same layout with an `lfence` after each hit, so no hit starts before the previous one has
//!   finished: the latency of one hit alone. The unfenced figure over the fenced one is how much of a hit's time
//!   consecutive hits overlap (the core's window: a hit with more instructions leaves room for fewer others).
//!
//! - `pool: read_optimistic, read_word`: the same with the closure reading through `PageView::read_word` (one
//!   load, no branch) instead of `read_u64` (a bounds and alignment check each).
//! - `current + 48 / 144 add instructions`: `current` with that many independent register additions before each
//!   hit: what instructions that touch no memory cost a hit here, by taking room in the core's window.
//!
//! After the table, with `--evict-rounds N` (default 20, 0 to skip), what such a pool's eviction and misses would
//! cost on this machine: a batch of 64 single-page `madvise(MADV_DONTNEED)`s on random resident pages of the
//! 4 KiB region (vmcache evicts so, 64 a batch) and the page fault of each page's next first touch, with the
//! process alone and with a second thread reading the region's other half (so each `madvise` must also flush the
//! other core's TLB); 64 random pages in one vectored `process_madvise` (recent kernels accept `MADV_DONTNEED`
//! on the calling process; the program says if refused); one `madvise` of 64 contiguous pages; and one 2 MiB
//! unit of the huge region.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::*};
use std::time::Instant;

use bufpool::storage::AlignedBuf;
use bufpool::{BufferPool, FileId, MemoryStorage, PageId};

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

/// An anonymous private mapping of `bytes` (a multiple of 2 MiB) starting on a 2 MiB boundary, advised for
/// transparent huge pages (`huge`) or against them, with every page touched in: word `i` holds the same value as
/// word `i` of [`Layouts::pages`]. Kept for the life of the program.
fn region(bytes: usize, huge: bool) -> &'static [AtomicU64] {
    const HUGE: usize = 2 << 20;
    // SAFETY: a new anonymous mapping at an address the kernel chooses: it overlaps no memory of the program.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes + HUGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert!(raw != libc::MAP_FAILED, "mmap of {bytes} bytes failed");
    let base = (raw as usize).next_multiple_of(HUGE) as *mut libc::c_void;
    let advice = if huge {
        libc::MADV_HUGEPAGE
    } else {
        libc::MADV_NOHUGEPAGE
    };
    // SAFETY: [base, base + bytes) lies inside the mapping just made; the advice changes only how the kernel
    // backs it, never its contents or validity.
    let r = unsafe { libc::madvise(base, bytes, advice) };
    assert_eq!(r, 0, "madvise of the region failed");
    // SAFETY: the range is mapped readable and writable for the life of the program (never unmapped), zero-filled
    // (a valid AtomicU64 is any bit pattern), and aligned to 2 MiB; it is only ever accessed through atomics.
    let words = unsafe { std::slice::from_raw_parts(base.cast::<AtomicU64>(), bytes / 8) };
    for (i, w) in words.iter().enumerate() {
        w.store(word(i), Relaxed);
    }
    words
}

/// The value of word `i` of the pages (any pattern the loads cannot predict).
fn word(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `(size, AnonHugePages)` in KiB of the mapping that holds `addr`, from `/proc/self/smaps`: how much of it the
/// kernel backs with huge pages.
fn huge_backed(addr: usize) -> Option<(u64, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    let mut size = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let (a, b) = (usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?);
            inside = (a..b).contains(&addr);
            size = (b - a) as u64 / 1024;
        } else if inside && first == "AnonHugePages:" {
            return Some((size, line.split_whitespace().nth(1)?.parse().ok()?));
        }
    }
    None
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

/// The policy's hit hook, called through a trait object as the pool calls its policy.
trait Hook: Sync {
    fn on_hit(&self, frame: u32);
}

/// S3-FIFO's hit counters (`policy/s3fifo.rs`): one byte a frame, counting to 3.
struct Freq(&'static [AtomicU8]);

impl Hook for Freq {
    #[inline(always)]
    fn on_hit(&self, frame: u32) {
        let c = &self.0[frame as usize];
        let v = c.load(Relaxed);
        if v < 3 {
            c.store(v + 1, Relaxed);
        }
    }
}

thread_local! {
    /// The thread's statistics stripe (`stats.rs`: a slot taken at the thread's first count).
    static SLOT: usize = const { 0 };
}

/// Counters of one statistics stripe, as many as the pool's (per-file hits in 256 slots).
const STRIPE_WORDS: usize = 256 + 32;

/// Raw memory's pages and the real pool holding the same pages, all resident: what `--pool` compares.
struct PoolAndRaw {
    /// Page `p` at words `p * PAGE_WORDS..`, word `i` holding [`word`]`(i)`: `raw`.
    pages: &'static [AtomicU64],
    /// 2^18 frames of 4 KiB, default settings (S3-FIFO, statistics), pages `0..FRAMES` of `file` made by
    /// `new_page` with the same words in their user region, so every read is a hit.
    pool: BufferPool,
    file: FileId,
    /// The skeleton's tables over the same pages (frame `p` holds page `p`): `u32` buckets chained through
    /// 64-byte headers (`current`), and vmcache's state words indexed by the page id.
    buckets: &'static [AtomicU32],
    headers: &'static [Header64],
    states: &'static [AtomicU64],
}

impl PoolAndRaw {
    fn new() -> PoolAndRaw {
        let pool = BufferPool::builder()
            .frames(FRAMES)
            .page_size(4096)
            .build()
            .expect("pool");
        let file = pool.open_storage(MemoryStorage::new()).expect("file");
        for p in 0..FRAMES {
            let mut g = pool.new_page(file).expect("new page");
            assert_eq!(g.page_id(), PageId::new(file, p as u32));
            for (i, w) in g.chunks_exact_mut(8).enumerate() {
                w.copy_from_slice(&word(p * PAGE_WORDS + i).to_le_bytes());
            }
        }
        let pages: &[AtomicU64] = huge(FRAMES * PAGE_WORDS);
        for (i, w) in pages.iter().enumerate() {
            w.store(word(i), Relaxed);
        }
        let (buckets, headers, states): (&[AtomicU32], &[Header64], &[AtomicU64]) =
            (huge(FRAMES), huge(FRAMES), huge(FRAMES));
        for b in buckets {
            b.store(NIL, Relaxed);
        }
        for page in 0..FRAMES {
            let h = &headers[page];
            h.state.store(1 << 8, Relaxed);
            h.page_id.store(page as u64, Relaxed);
            h.next.store(buckets[bucket(page as u64)].load(Relaxed), Relaxed);
            buckets[bucket(page as u64)].store(page as u32, Relaxed);
            states[page].store(1 << 8, Relaxed);
        }
        PoolAndRaw {
            pages,
            pool,
            file,
            buckets,
            headers,
            states,
        }
    }

    /// Frame `f`'s page (the skeleton's frames are raw memory's pages), read by `check_words`.
    #[inline(always)]
    fn checked_frame(&self, f: u32, page: u64) -> Option<u64> {
        let b = f as usize * PAGE_WORDS;
        let w = &self.pages[b..b + PAGE_WORDS];
        check_words(page, PAGE_WORDS, |i| w[i].load(Relaxed))
    }

    /// The skeleton's chain walk from `page`'s bucket (`PageTable::lookup` without its step bound).
    #[inline(always)]
    fn walk(&self, page: u64) -> Option<(u32, &Header64)> {
        let mut f = self.buckets[bucket(page)].load(Acquire);
        while f != NIL {
            let h = &self.headers[f as usize];
            if h.page_id.load(Acquire) == page {
                return Some((f, h));
            }
            f = h.next.load(Acquire);
        }
        None
    }

    /// One checked hit on `page` of kind `kind` ([`check_words`]), as [`POOL_KINDS`] names them: raw memory,
    /// the pool's `read_optimistic`, its `read`, then the skeleton's layouts over raw memory's pages.
    #[inline(always)]
    fn hit(&self, kind: usize, page: u64) -> Option<u64> {
        match kind {
            0 => self.checked_frame(page as u32, page),
            3 => {
                // The chain's head need not hold `page`: its own page is read and checked, the same work.
                let f = self.buckets[bucket(page)].load(Acquire);
                self.checked_frame(f, u64::from(f))
            }
            4 => {
                let (f, h) = self.walk(page)?;
                let s = h.state.load(Acquire);
                if s & 0xFF == EXCLUSIVE || h.page_id.load(Acquire) != page {
                    return None;
                }
                let x = self.checked_frame(f, page);
                std::sync::atomic::fence(Acquire);
                (h.state.load(Relaxed) == s).then_some(x?)
            }
            5 => {
                let (f, h) = self.walk(page)?;
                // As the pool's latch: a CAS that lost to another reader (with `--threads 2`, both on the same
                // page) or failed spuriously tries again; only an exclusive holder sends the hit away.
                let mut s = h.state.load(Relaxed);
                loop {
                    if s & 0xFF >= EXCLUSIVE {
                        return None;
                    }
                    match h.state.compare_exchange_weak(s, s + 1, Acquire, Relaxed) {
                        Ok(_) => break,
                        Err(now) => s = now,
                    }
                }
                let ok = h.page_id.load(Relaxed) == page;
                let x = self.checked_frame(f, page);
                h.state.fetch_sub(1, Release);
                ok.then_some(x?)
            }
            6 => {
                let state = &self.states[page as usize];
                let s = state.load(Acquire);
                if s & 0xFF >= EXCLUSIVE {
                    return None;
                }
                let x = self.checked_frame(page as u32, page);
                std::sync::atomic::fence(Acquire);
                (state.load(Relaxed) == s).then_some(x?)
            }
            1 => {
                let id = PageId::new(self.file, page as u32);
                let r = self
                    .pool
                    .read_optimistic(id, |v| check_words(page, v.len() / 8, |i| v.read_u64(8 * i)));
                r.ok().flatten()
            }
            _ => {
                let g = self.pool.read(PageId::new(self.file, page as u32)).ok()?;
                let w = |i: usize| u64::from_le_bytes(g[8 * i..8 * i + 8].try_into().expect("8 bytes"));
                check_words(page, g.len() / 8, w)
            }
        }
    }
}

/// The bench's hit op on page `page` of `words` words read by `read` (`bufpool bench --workload hit`, its
/// self-check): six words of the page on four lines (its first three, a third, two thirds, its last), each
/// compared with the value it was written with; their xor, or `None` on a mismatch. The same work on every side,
/// so that raw memory's op, like the bench's, is not a bare four loads.
#[inline(always)]
fn check_words(page: u64, words: usize, read: impl Fn(usize) -> u64) -> Option<u64> {
    let base = page as usize * PAGE_WORDS;
    let mut sum = 0;
    for i in [0, 1, 2, words / 3, 2 * words / 3, words - 1] {
        let x = read(i);
        if x != word(base + i) {
            return None;
        }
        sum ^= x;
    }
    Some(sum)
}

/// The pool's optimistic hit on `page`, reading the four words of its user region `read_words` reads of a raw
/// page (start, a third, two thirds, end), through `PageView::read_u64` as the bench's closure does.
#[inline(always)]
fn pool_optimistic(pool: &BufferPool, file: FileId, page: u64) -> Option<u64> {
    pool.read_optimistic(PageId::new(file, page as u32), |v| {
        let n = v.len();
        v.read_u64(0) ^ v.read_u64((n / 3) & !7) ^ v.read_u64((2 * n / 3) & !7) ^ v.read_u64(n - 8)
    })
    .ok()
}

/// The pool's shared hit on `page` (`read`, the guard dropped after), reading the same four words.
#[inline(always)]
fn pool_shared(pool: &BufferPool, file: FileId, page: u64) -> Option<u64> {
    let g = pool.read(PageId::new(file, page as u32)).ok()?;
    let n = g.len();
    let w = |o: usize| u64::from_le_bytes(g[o..o + 8].try_into().expect("8 bytes"));
    Some(w(0) ^ w((n / 3) & !7) ^ w((2 * n / 3) & !7) ^ w(n - 8))
}

/// What `--pool` times, each the bench's checked op ([`PoolAndRaw::hit`]): raw memory (page `p` at frame `p`),
/// the real pool's two hits, and the skeleton's layouts over raw memory's pages (session 24): `bucket -> page`
/// (a `u32` bucket names the frame, no header), `current` (bucket -> 64-byte header -> page, optimistic: the
/// version before and after, the page id re-read), the same with a shared latch (CAS, release), and vmcache's
/// translation on huge pages (the state word indexed by the page id, read beside the page).
const POOL_KINDS: [&str; 7] = [
    "raw memory",
    "pool: read_optimistic",
    "pool: read (shared)",
    "skeleton: bucket->page",
    "skeleton: current, opt.",
    "skeleton: current, shared",
    "skeleton: vmcache, huge",
];

/// `--pool`: raw memory's hit, the pool's optimistic hit and its shared hit, each the bench's checked op
/// ([`check_words`]) and nothing else, on `threads` threads
/// at once (each its own uniform stream over all pages). A round runs the three kinds one after another, `ops`
/// hits a thread each, in an order that turns every round; every kind of a round draws the same pages (the same
/// seeds). Prints each kind's median ns a hit and the median over rounds of its time over raw memory's in the
/// same round, with the rounds' quartiles: load from other processes touches the three alike.
fn pool_ratio(rounds: usize, ops: u64, threads: usize) {
    const KINDS: [&str; 7] = POOL_KINDS;
    let p = PoolAndRaw::new();
    let mut ns: [Vec<f64>; 7] = Default::default();
    let failed = std::sync::atomic::AtomicU64::new(0);
    for round in 0..rounds {
        for i in 0..KINDS.len() {
            let kind = (round + i) % KINDS.len();
            let t = Instant::now();
            std::thread::scope(|scope| {
                for thread in 0..threads {
                    let (p, failed) = (&p, &failed);
                    scope.spawn(move || {
                        let (mut rng, mut sink, mut missed) = (Rng((round * 1000 + thread) as u64), 0u64, 0);
                        for _ in 0..ops {
                            match p.hit(kind, rng.below(FRAMES as u64)) {
                                Some(x) => sink = sink.wrapping_add(x),
                                None => missed += 1,
                            }
                        }
                        std::hint::black_box(sink);
                        failed.fetch_add(missed, Relaxed);
                    });
                }
            });
            ns[kind].push(t.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    // An optimistic read may retry under a writer; there is none, so every hit must succeed.
    assert_eq!(failed.load(Relaxed), 0, "every hit finds its page");
    println!("{FRAMES} frames of 4 KiB, {threads} thread(s), {rounds} rounds of {ops} uniform hits a thread per kind");
    println!(
        "{:24} {:>8} {:>10} {:>18}",
        "kind", "ns/hit", "/ raw", "/ raw, quartiles"
    );
    for (kind, name) in KINDS.iter().enumerate() {
        let mut q: Vec<f64> = (0..rounds).map(|r| ns[kind][r] / ns[0][r]).collect();
        q.sort_by(f64::total_cmp);
        let (lo, hi) = (q[rounds / 4], q[(3 * rounds) / 4]);
        println!(
            "{:24} {:>8.1} {:>9.2}x {:>10.2}-{:.2}x",
            name,
            median(&mut ns[kind].clone()),
            median(&mut q),
            lo,
            hi
        );
    }
}

struct Layouts {
    pages: &'static [AtomicU64],
    /// The real pool and its file, pages `0..FRAMES` resident.
    pool: BufferPool,
    file: FileId,
    freq: Freq,
    hook: Box<dyn Hook>,
    stripes: Box<[[AtomicU64; STRIPE_WORDS]]>,
    perm: Vec<u32>,
    buckets: &'static [AtomicU32],
    headers: &'static [Header64],
    tagged: &'static [AtomicU64],
    wide: &'static [[AtomicU64; 2]],
    hot: &'static [Hot],
    headers32: &'static [Header32],
    entries: &'static [[AtomicU64; 2]],
    /// vmcache's state words, one a page, indexed by page id.
    states: &'static [AtomicU64],
    /// vmcache's virtual region on 4 KiB pages: page `p` at word `p * PAGE_WORDS`.
    small: &'static [AtomicU64],
    /// The same on huge pages.
    large: &'static [AtomicU64],
}

impl Layouts {
    fn new() -> Layouts {
        let mut perm: Vec<u32> = (0..FRAMES as u32).collect();
        let mut rng = Rng(7);
        for i in (1..FRAMES).rev() {
            perm.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let PoolAndRaw { pages, pool, file, .. } = PoolAndRaw::new();
        let l = Layouts {
            pages,
            pool,
            file,
            freq: Freq(huge(FRAMES)),
            hook: Box::new(Freq(huge(FRAMES))),
            stripes: (0..4).map(|_| std::array::from_fn(|_| AtomicU64::new(0))).collect(),
            perm,
            buckets: huge(FRAMES),
            headers: huge(FRAMES),
            tagged: huge(FRAMES),
            wide: huge(FRAMES),
            hot: huge(FRAMES),
            headers32: huge(FRAMES),
            entries: huge(2 * FRAMES),
            states: huge(FRAMES),
            small: region(FRAMES * 4096, false),
            large: region(FRAMES * 4096, true),
        };
        for f in 0..FRAMES {
            l.states[f].store(1 << 8, Relaxed);
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
        read_words(self.pages, frame)
    }

    /// vmcache's optimistic hit on `page` of `region`: the state word and the page, both found from the page id.
    #[inline(always)]
    fn vm_optimistic(&self, region: &[AtomicU64], page: u64) -> Option<u64> {
        let state = &self.states[page as usize];
        let s = state.load(Acquire);
        if s & 0xFF >= EXCLUSIVE {
            return None;
        }
        let x = read_words(region, page as u32);
        std::sync::atomic::fence(Acquire);
        (state.load(Relaxed) == s).then_some(x)
    }

    /// vmcache's shared-latch hit on `page` of `region`: CAS on the state word, the page, release.
    #[inline(always)]
    fn vm_shared(&self, region: &[AtomicU64], page: u64) -> Option<u64> {
        let state = &self.states[page as usize];
        let s = state.load(Relaxed);
        if s & 0xFF >= EXCLUSIVE || state.compare_exchange_weak(s, s + 1, Acquire, Relaxed).is_err() {
            return None;
        }
        let x = read_words(region, page as u32);
        state.fetch_sub(1, Release);
        Some(x)
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

    /// `PageTable::lookup`: the chain walk with its step bound.
    #[inline(always)]
    fn lookup(&self, page: u64) -> Option<u32> {
        let mut f = self.buckets[bucket(page)].load(Acquire);
        let mut steps = 0;
        while f != NIL && steps <= self.headers.len() {
            let h = &self.headers[f as usize];
            if h.page_id.load(Acquire) == page {
                return Some(f);
            }
            f = h.next.load(Acquire);
            steps += 1;
        }
        None
    }

    /// The statistics' hit count (`Counters::hit`): the thread's stripe, slot `file mod 256`, a plain load and
    /// store.
    #[inline(always)]
    fn count_hit(&self) {
        let slot = SLOT.try_with(|s| *s).unwrap_or(3);
        let c = &self.stripes[slot][32 + 7];
        c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// The pool's optimistic hit grown onto `current` up to step `step` (1: the lookup and the page id re-read;
    /// 2: + the policy counter; 3: + the hit count; 4: the counter through `dyn`, the page read in a call).
    #[inline(always)]
    fn grown(&self, step: usize, page: u64) -> Option<u64> {
        let f = self.lookup(page)?;
        let h = &self.headers[f as usize];
        let s = h.state.load(Acquire);
        if s & 0xFF == EXCLUSIVE || h.page_id.load(Acquire) != page {
            return None;
        }
        let x = if step >= 4 {
            read_words_call(self.pages, f)
        } else {
            self.read_page(f)
        };
        std::sync::atomic::fence(Acquire);
        if h.state.load(Relaxed) != s {
            return None;
        }
        match step {
            0 | 1 => {}
            2 | 3 => self.freq.on_hit(f),
            _ => std::hint::black_box(&*self.hook).on_hit(f),
        }
        if step >= 3 {
            self.count_hit();
        }
        Some(x)
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
            16 => pool_optimistic(&self.pool, self.file, page),
            17 => pool_shared(&self.pool, self.file, page),
            18..=21 => self.grown(v - 17, page),
            22 => {
                let id = PageId::new(self.file, page as u32);
                self.pool
                    .read_optimistic(id, |v| {
                        let n = v.len() / 8;
                        v.read_word(0) ^ v.read_word(n / 3) ^ v.read_word(2 * n / 3) ^ v.read_word(n - 1)
                    })
                    .ok()
            }
            23 | 24 => {
                pad(v == 24);
                self.hit(CURRENT, page)
            }
            10 => Some(read_words(self.small, page as u32)),
            11 => self.vm_optimistic(self.small, page),
            12 => self.vm_shared(self.small, page),
            13 => Some(read_words(self.large, page as u32)),
            14 => self.vm_optimistic(self.large, page),
            15 => self.vm_shared(self.large, page),
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

/// The four words of the page in frame `frame` of `pages` that the bench reads (start, a third, two thirds,
/// end).
#[inline(always)]
fn read_words(pages: &[AtomicU64], frame: u32) -> u64 {
    let b = frame as usize * PAGE_WORDS;
    let w = &pages[b..b + PAGE_WORDS];
    w[0].load(Relaxed)
        ^ w[PAGE_WORDS / 3].load(Relaxed)
        ^ w[2 * PAGE_WORDS / 3].load(Relaxed)
        ^ w[PAGE_WORDS - 1].load(Relaxed)
}

/// 48 (`long`: 144) independent one-cycle instructions (adds on four registers), which take room in the core's
/// window as much as the pool's own instructions do; the four sums are then kept by `black_box` (a store each).
#[inline(always)]
fn pad(long: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
        // SAFETY: register arithmetic only: no memory, no stack.
        unsafe {
            if long {
                std::arch::asm!(".rept 36", "add {a}, 1", "add {b}, 1", "add {c}, 1", "add {d}, 1", ".endr",
                    a = inout(reg) a, b = inout(reg) b, c = inout(reg) c, d = inout(reg) d, options(nomem, nostack));
            } else {
                std::arch::asm!(".rept 12", "add {a}, 1", "add {b}, 1", "add {c}, 1", "add {d}, 1", ".endr",
                    a = inout(reg) a, b = inout(reg) b, c = inout(reg) c, d = inout(reg) d, options(nomem, nostack));
            }
        }
        std::hint::black_box((a, b, c, d));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = long;
}

/// [`read_words`], not inlined: the page read as a call, as the pool calls the caller's closure.
#[inline(never)]
fn read_words_call(pages: &[AtomicU64], frame: u32) -> u64 {
    read_words(pages, frame)
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

const NAMES: [&str; 25] = [
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
    "raw, 4 KiB pages",
    "vmcache, 4 KiB pages",
    "vmcache, 4 KiB, shared latch",
    "raw, huge pages (mmap)",
    "vmcache, huge pages",
    "vmcache, huge, shared latch",
    "pool: read_optimistic",
    "pool: read (shared)",
    "current + lookup, re-check",
    "  + policy counter",
    "  + hit count",
    "  + dyn hook, closure call",
    "pool: read_optimistic, read_word",
    "current + 48 add instructions",
    "current + 144 add instructions",
];

/// Layouts also timed with an `lfence` after each hit (see the header).
const FENCED: [usize; 6] = [0, 1, CURRENT, 21, 16, 17];
const CURRENT: usize = 2;

/// The `raw` layout on the same page size as layout `v`.
fn raw_of(v: usize) -> usize {
    match v {
        10..=12 => 10,
        13..=15 => 13,
        _ => 0,
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

/// TLB shootdown interrupts taken so far, all CPUs together (`/proc/interrupts`, line `TLB`).
fn tlb_shootdowns() -> u64 {
    let interrupts = std::fs::read_to_string("/proc/interrupts").unwrap_or_default();
    let Some(line) = interrupts.lines().find(|l| l.trim_start().starts_with("TLB:")) else {
        return 0;
    };
    line.split_whitespace()
        .skip(1)
        .map_while(|f| f.parse::<u64>().ok())
        .sum()
}

/// `madvise(MADV_DONTNEED)` over `len` bytes at word `at` of `region`: the kernel drops those pages, which read
/// as zero on their next touch (a page fault that maps a new zeroed page).
fn dontneed(region: &[AtomicU64], at: usize, len: usize) {
    assert!(at + len / 8 <= region.len() && (at * 8).is_multiple_of(4096) && len.is_multiple_of(4096));
    // SAFETY: the range is page-aligned and inside a private anonymous mapping made by `region`, which stays
    // mapped: its words only become zero, as if stored by another thread, and they are only used through atomics.
    let r = unsafe { libc::madvise(region[at..].as_ptr() as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    assert_eq!(r, 0, "madvise(MADV_DONTNEED) failed");
}

/// Pins the calling thread to CPU `cpu`; whether the kernel agreed (it may not, in a restricted cpuset).
fn pin(cpu: usize) -> bool {
    // SAFETY: `cpu_set_t` is plain bits, valid when zeroed; `CPU_SET` sets a bit inside it (it ignores a `cpu`
    // beyond its size); `sched_setaffinity` only reads the set, for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// What a vmcache-style pool's eviction and misses cost here (see the header), `rounds` rounds; prints medians.
fn evict_costs(l: &Layouts, rounds: usize) {
    const BATCH: usize = 64;
    const HALF: u64 = FRAMES as u64 / 2;
    const UNITS: usize = FRAMES / 512;
    let mut rng = Rng(0xE71C7);
    // The evicting thread on CPU 0 and the reader on CPU 1, so that the reader's core holds the mapping's
    // translations whenever a `madvise` runs.
    let pinned = pin(0);
    // [alone, with a reader]: ns a madvise, ns a first touch, shootdowns a madvise; then 64 contiguous pages
    // (us a madvise, ns a page's touch) and a 2 MiB unit (us a madvise, us a first touch).
    let mut single = [
        [Vec::new(), Vec::new(), Vec::new()],
        [Vec::new(), Vec::new(), Vec::new()],
    ];
    let mut run = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    let mut unit = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    // One vectored `process_madvise` of 64 random pages: us a call, shootdowns a call; the error if refused.
    let mut vectored = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    let mut refused = None;
    // SAFETY: pidfd_open takes no pointers; it returns a new descriptor for this process, or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, std::process::id(), 0) };
    for _ in 0..rounds {
        for (mode, reader) in [false, true].into_iter().enumerate() {
            let (started, stop) = (
                std::sync::atomic::AtomicBool::new(false),
                std::sync::atomic::AtomicBool::new(false),
            );
            std::thread::scope(|scope| {
                if reader {
                    scope.spawn(|| {
                        pin(1);
                        let (mut r, mut sink) = (Rng(5), 0u64);
                        started.store(true, Relaxed);
                        while !stop.load(Relaxed) {
                            sink = sink.wrapping_add(read_words(l.small, (HALF + r.below(HALF)) as u32));
                        }
                        std::hint::black_box(sink);
                    });
                    while !started.load(Relaxed) {
                        std::hint::spin_loop();
                    }
                }
                let mut batch: Vec<usize> = (0..BATCH).map(|_| rng.below(HALF) as usize * PAGE_WORDS).collect();
                batch.sort_unstable();
                batch.dedup();
                let n = batch.len() as f64;
                let shot = tlb_shootdowns();
                let t = Instant::now();
                for &at in &batch {
                    dontneed(l.small, at, 4096);
                }
                let evicted = t.elapsed().as_nanos() as f64;
                let shot = tlb_shootdowns() - shot;
                let t = Instant::now();
                for &at in &batch {
                    l.small[at].store(word(at), Relaxed);
                }
                single[mode][0].push(evicted / n);
                single[mode][1].push(t.elapsed().as_nanos() as f64 / n);
                single[mode][2].push(shot as f64 / n);

                let at = rng.below(HALF / BATCH as u64) as usize * BATCH * PAGE_WORDS;
                let t = Instant::now();
                dontneed(l.small, at, BATCH * 4096);
                run[mode][0].push(t.elapsed().as_nanos() as f64 / 1000.0);
                let t = Instant::now();
                for p in 0..BATCH {
                    l.small[at + p * PAGE_WORDS].store(word(at + p * PAGE_WORDS), Relaxed);
                }
                run[mode][1].push(t.elapsed().as_nanos() as f64 / BATCH as f64);

                let mut batch: Vec<usize> = (0..BATCH).map(|_| rng.below(HALF) as usize * PAGE_WORDS).collect();
                batch.sort_unstable();
                batch.dedup();
                let iov: Vec<libc::iovec> = batch
                    .iter()
                    .map(|&at| libc::iovec {
                        iov_base: l.small[at..].as_ptr() as *mut libc::c_void,
                        iov_len: 4096,
                    })
                    .collect();
                let shot = tlb_shootdowns();
                let t = Instant::now();
                // SAFETY: every iovec names one page-aligned page inside the 4 KiB region, which stays mapped
                // (see `dontneed`); the kernel only reads the iovec array, which outlives the call.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_process_madvise,
                        pidfd,
                        iov.as_ptr(),
                        iov.len(),
                        libc::MADV_DONTNEED,
                        0,
                    )
                };
                let took = t.elapsed().as_nanos() as f64 / 1000.0;
                if r == (iov.len() * 4096) as libc::c_long {
                    vectored[mode][0].push(took);
                    vectored[mode][1].push((tlb_shootdowns() - shot) as f64);
                } else {
                    refused = Some(std::io::Error::last_os_error());
                }
                for &at in &batch {
                    l.small[at].store(word(at), Relaxed);
                }

                let at = rng.below(UNITS as u64) as usize * (2 << 20) / 8;
                let t = Instant::now();
                dontneed(l.large, at, 2 << 20);
                unit[mode][0].push(t.elapsed().as_nanos() as f64 / 1000.0);
                let t = Instant::now();
                l.large[at].store(word(at), Relaxed);
                unit[mode][1].push(t.elapsed().as_nanos() as f64 / 1000.0);
                stop.store(true, Relaxed);
            });
        }
    }
    println!(
        "eviction and first touch, median of {rounds} rounds (alone / with a reader on the other core; threads \
         pinned: {pinned}):"
    );
    let m = |v: &mut Vec<f64>| median(v);
    let [a, b] = &mut single;
    println!(
        "  {BATCH} single-page madvise(DONTNEED) on random pages: {:.0} / {:.0} ns a page ({:.1} / {:.1} us a batch), \
         {:.2} / {:.2} TLB shootdown interrupts a page; first touch after: {:.0} / {:.0} ns a page",
        m(&mut a[0]),
        m(&mut b[0]),
        m(&mut a[0]) * BATCH as f64 / 1000.0,
        m(&mut b[0]) * BATCH as f64 / 1000.0,
        m(&mut a[2]),
        m(&mut b[2]),
        m(&mut a[1]),
        m(&mut b[1])
    );
    let [a, b] = &mut run;
    println!(
        "  one madvise(DONTNEED) of {BATCH} contiguous pages: {:.1} / {:.1} us; first touch after: {:.0} / {:.0} ns a page",
        m(&mut a[0]),
        m(&mut b[0]),
        m(&mut a[1]),
        m(&mut b[1])
    );
    let [a, b] = &mut vectored;
    match refused {
        Some(e) if a[0].is_empty() || b[0].is_empty() => println!("  process_madvise(MADV_DONTNEED) refused: {e}"),
        _ => println!(
            "  one process_madvise(MADV_DONTNEED) of {BATCH} random pages: {:.1} / {:.1} us, {:.0} / {:.0} TLB \
             shootdown interrupts a call",
            m(&mut a[0]),
            m(&mut b[0]),
            m(&mut a[1]),
            m(&mut b[1])
        ),
    }
    let [a, b] = &mut unit;
    println!(
        "  one 2 MiB unit of the huge region: madvise {:.1} / {:.1} us, first touch after {:.1} / {:.1} us",
        m(&mut a[0]),
        m(&mut b[0]),
        m(&mut a[1]),
        m(&mut b[1])
    );
    if let Some((size, huge)) = huge_backed(l.large.as_ptr() as usize) {
        println!("  huge region after: {huge} of {size} KiB in huge pages");
    }
}

/// Waits until every earlier instruction has finished before any later one starts (x86 `lfence`).
#[inline(always)]
fn lfence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: LFENCE only orders the instruction stream; it touches no memory.
    unsafe {
        std::arch::x86_64::_mm_lfence()
    };
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds = arg("--rounds", 40).max(1) as usize;
    let ops = arg("--ops", 250_000).max(1);
    let evict_rounds = arg("--evict-rounds", 20) as usize;
    if std::env::args().any(|a| a == "--pool") {
        pool_ratio(rounds, ops, arg("--threads", 1).max(1) as usize);
        return;
    }
    let l = Layouts::new();
    for (name, addr) in [
        ("frame array (`raw` and the hashed layouts)", l.pages.as_ptr() as usize),
        ("vmcache state words", l.states.as_ptr() as usize),
        ("vmcache region, 4 KiB", l.small.as_ptr() as usize),
        ("vmcache region, huge", l.large.as_ptr() as usize),
    ] {
        match huge_backed(addr) {
            Some((size, huge)) => println!("{name}: {huge} of its mapping's {size} KiB in huge pages"),
            None => println!("{name}: /proc/self/smaps not readable"),
        }
    }
    // Rows: every layout, then the fenced ones.
    let rows: Vec<(usize, bool)> = (0..NAMES.len())
        .map(|v| (v, false))
        .chain(FENCED.iter().map(|&v| (v, true)))
        .collect();
    let mut ns = vec![Vec::with_capacity(rounds); rows.len()];
    let (mut sink, mut failed) = (0u64, 0u64);
    for round in 0..rounds {
        for (r, times) in ns.iter_mut().enumerate() {
            let (v, fenced) = rows[r];
            let mut rng = Rng(round as u64 * 1000 + r as u64);
            let t = Instant::now();
            for _ in 0..ops {
                match l.hit(v, rng.below(FRAMES as u64)) {
                    Some(x) => sink = sink.wrapping_add(x),
                    None => failed += 1,
                }
                if fenced {
                    lfence();
                }
            }
            times.push(t.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    assert_eq!(failed, 0, "every hit finds its page");
    println!("{FRAMES} frames of 4 KiB, {rounds} rounds of {ops} uniform hits per layout (checksum {sink:x})");
    let frame_memory = l.pool.read(PageId::new(l.file, 0)).expect("page 0").as_ptr() as usize;
    if let Some((size, huge)) = huge_backed(frame_memory) {
        println!("pool's frame memory: {huge} of its mapping's {size} KiB in huge pages");
    }
    println!(
        "{:34} {:>8} {:>12} {:>10} {:>16}",
        "layout", "ns/hit", "/ current", "/ raw", "/ raw, same size"
    );
    let current = rows.iter().position(|&r| r == (CURRENT, false)).expect("current");
    for (r, &(v, fenced)) in rows.iter().enumerate() {
        // A fenced row is compared with the fenced raw and current.
        let base = |w: usize| rows.iter().position(|&x| x == (w, fenced)).unwrap_or(current);
        let mut own = ns[r].clone();
        let ratio = |b: usize| -> f64 {
            let mut q: Vec<f64> = (0..rounds).map(|i| ns[r][i] / ns[b][i]).collect();
            median(&mut q)
        };
        let name = if fenced {
            format!("{}, fenced", NAMES[v])
        } else {
            NAMES[v].to_string()
        };
        println!(
            "{:34} {:>8.1} {:>11.2}x {:>9.2}x {:>15.2}x",
            name,
            median(&mut own),
            ratio(base(CURRENT)),
            ratio(base(0)),
            ratio(base(raw_of(v)))
        );
    }
    if evict_rounds > 0 {
        evict_costs(&l, evict_rounds);
    }
}
