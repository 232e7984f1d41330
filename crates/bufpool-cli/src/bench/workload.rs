//! Workload shapes and their access sequences.
//!
//! Owns: the workloads ([`Workload`]), the access kinds a case measures ([`Access`]), key distributions
//! ([`Dist`], with a Zipf generator), and the per-thread op streams ([`OpStream`]) every system draws from.
//!
//! Ops are drawn on the fly from a per-thread seeded generator (as vmcache does), never replayed from a
//! finite list: a run of any length keeps drawing new pages, so a long run does not measure the few pages one
//! pass of a list touched (a looping list once reported a 0.989 hit ratio for a pool of 14% of the data).
//!
//! Invariant: a stream depends only on the run seed, the workload, the distribution, the thread count, the
//! thread's index and the round, never on the system nor on the case's [`Variant`], so every system and every
//! variant of a case sees exactly the same pages in the same order in a round; rounds draw distinct streams.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};

pub use super::variant::Variant;

/// Marks a write in an encoded op (the low 31 bits are the page number).
pub const OP_WRITE: u32 = 1 << 31;

/// Share of writes in the `mixed` workload, in percent.
pub const MIXED_WRITE_PERCENT: u64 = 20;

/// A small, fast, seedable generator (SplitMix64). Statistical quality is ample for picking pages.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for our sizes).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Shuffles `v` uniformly (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// How pages are picked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Every page equally likely.
    Uniform,
    /// Zipf with this skew (0 < theta < 1); rank r is drawn with probability proportional to 1 / r^theta, and
    /// ranks are scattered over the pages by a seeded permutation so hot pages are not neighbours.
    Zipf(f64),
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Uniform => write!(f, "uniform"),
            Dist::Zipf(t) => write!(f, "zipf:{t}"),
        }
    }
}

impl FromStr for Dist {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Dist, String> {
        if s == "uniform" {
            return Ok(Dist::Uniform);
        }
        if let Some(t) = s.strip_prefix("zipf:") {
            let theta: f64 = t
                .parse()
                .map_err(|_| format!("bad zipf skew `{t}`: expected a number, e.g. zipf:0.99"))?;
            if !(theta > 0.0 && theta < 1.0) {
                return Err(format!("zipf skew must be in (0, 1), got {theta}"));
            }
            return Ok(Dist::Zipf(theta));
        }
        Err(format!(
            "unknown distribution `{s}`: expected `uniform` or `zipf:THETA`"
        ))
    }
}

/// Draws page numbers in `0..n` from a [`Dist`].
pub struct Picker {
    n: u64,
    zipf: Option<Zipf>,
    perm: Vec<u32>,
}

/// Zipf ranks in `0..n` by the rejection-free method of Gray et al., "Quickly generating billion-record synthetic
/// databases" (SIGMOD 1994), the generator YCSB uses: one `powf` per draw after an O(n) set-up. Used by the page
/// workloads' [`Picker`] and the B+tree workloads' key chooser.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: u64,
    theta: f64,
    zetan: f64,
    alpha: f64,
    eta: f64,
}

impl Zipf {
    /// A generator of ranks in `0..n` (`n > 0`) with skew `theta` (0 < theta < 1).
    pub fn new(n: u64, theta: f64) -> Zipf {
        let zeta = |k: u64| (1..=k).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2.min(n));
        let alpha = 1.0 / (1.0 - theta);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipf {
            n,
            theta,
            zetan,
            alpha,
            eta,
        }
    }

    /// The next rank (0 is the most popular).
    pub fn rank(&self, rng: &mut Rng) -> u64 {
        let n = self.n;
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(n - 1);
        }
        let r = (n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(n - 1)
    }
}

impl Picker {
    /// A picker over `0..n` (`n > 0`); `seed` fixes the Zipf rank-to-page permutation.
    pub fn new(dist: Dist, n: u64, seed: u64) -> Picker {
        assert!(n > 0 && n <= u64::from(OP_WRITE), "page count out of range");
        match dist {
            Dist::Uniform => Picker {
                n,
                zipf: None,
                perm: Vec::new(),
            },
            Dist::Zipf(theta) => {
                let mut perm: Vec<u32> = (0..n as u32).collect();
                Rng::new(seed ^ 0x5eed_9e12_0000_0001).shuffle(&mut perm);
                Picker {
                    n,
                    zipf: Some(Zipf::new(n, theta)),
                    perm,
                }
            }
        }
    }

    /// The next page.
    #[inline]
    pub fn pick(&self, rng: &mut Rng) -> u32 {
        match &self.zipf {
            None => rng.below(self.n) as u32,
            Some(z) => self.perm[z.rank(rng) as usize],
        }
    }
}

/// A workload shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Workload {
    /// pages = frames, all resident: random reads by optimistic, shared and exclusive access.
    Hit,
    /// data 32x the pool: random page reads.
    Miss,
    /// 80% reads, 20% writes over data 4x the pool; dirty pages written back on eviction.
    Mixed,
    /// a hot set of half the pool read at random by one thread while another scans a range 10x the pool.
    Scan,
    /// pages = frames, all resident: one thread reads at random while a second writes at random and a third
    /// checkpoints (or idles, for the baseline).
    Checkpoint,
}

impl Workload {
    /// Every workload, in suite order.
    pub const ALL: [Workload; 5] = [
        Workload::Hit,
        Workload::Miss,
        Workload::Mixed,
        Workload::Scan,
        Workload::Checkpoint,
    ];

    /// The name used in output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Hit => "hit",
            Workload::Miss => "miss",
            Workload::Mixed => "mixed",
            Workload::Scan => "scan",
            Workload::Checkpoint => "checkpoint",
        }
    }
}

/// How a case accesses its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// Optimistic (version-validated, latch-free) reads.
    Optimistic,
    /// Shared-latched reads.
    Shared,
    /// Exclusive-latched accesses, each a write of the page's counters.
    Exclusive,
    /// Shared reads and exclusive writes mixed (the `mixed` workload).
    Mixed,
    /// A random reader on a hot set while a second thread scans (the `scan` workload).
    Scan,
    /// Reads issued in batches of [`BATCH_PAGES`], all of a batch's misses in flight at once (`miss` only).
    Batch,
}

/// Pages per batch of the `batch` access.
pub const BATCH_PAGES: usize = 32;

impl Access {
    /// The name used in output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Access::Optimistic => "optimistic",
            Access::Shared => "shared",
            Access::Exclusive => "exclusive",
            Access::Mixed => "mixed",
            Access::Scan => "scan",
            Access::Batch => "batch",
        }
    }
}

/// One measured case, before a system is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseSpec {
    /// The workload shape.
    pub workload: Workload,
    /// How pages are accessed.
    pub access: Access,
    /// How pages are picked.
    pub dist: Dist,
    /// Threads issuing operations (for `scan`: the hot reader and the scanner).
    pub threads: usize,
    /// Data pages the case draws from (for `scan`: hot set + scan range).
    pub pages: u32,
    /// Pool frames.
    pub frames: u32,
    /// For `scan`: pages `0..hot_pages` are the hot set, the scanner walks the rest. Otherwise `pages`.
    pub hot_pages: u32,
    /// How bufpool is set up for the case (scan ring, background writer, checkpoints); peers run only the
    /// [`Variant::is_plain`] ones.
    pub variant: Variant,
}

impl CaseSpec {
    /// Threads whose ops are measured: the first this many (`scan`: the hot reader; `checkpoint`: the reader).
    pub fn measured_threads(&self) -> usize {
        match self.workload {
            Workload::Scan | Workload::Checkpoint => 1,
            _ => self.threads,
        }
    }
}

/// A bijection of the 64-bit space (SplitMix64's finaliser): turns related seeds into unrelated ones.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The pickers of one case, built once (a Zipf set-up is O(pages)) and shared by its threads' [`OpStream`]s.
pub struct CaseOps {
    workload: Workload,
    /// Picks from every page (hot set of `scan`: from `0..hot_pages`).
    picker: Picker,
    hot_pages: u32,
    pages: u32,
    stream_seed: u64,
}

impl CaseOps {
    /// The pickers of `case` under the run's `seed` (the Zipf permutation depends on the seed only, so all
    /// threads agree on which pages are hot).
    pub fn new(case: &CaseSpec, seed: u64) -> CaseOps {
        let dist_salt = match case.dist {
            Dist::Uniform => 0,
            Dist::Zipf(t) => t.to_bits(),
        };
        let picker = match case.workload {
            Workload::Scan => Picker::new(Dist::Uniform, u64::from(case.hot_pages), seed),
            _ => Picker::new(case.dist, u64::from(case.pages), seed),
        };
        CaseOps {
            workload: case.workload,
            picker,
            hot_pages: case.hot_pages,
            pages: case.pages,
            stream_seed: seed
                ^ (case.workload as u64).wrapping_mul(0x1000_0000_01b3)
                ^ dist_salt.rotate_left(17)
                ^ ((case.threads as u64) << 40),
        }
    }

    /// Thread `thread`'s stream in round `round` (op = page number, `| OP_WRITE` for a write).
    pub fn stream(&self, round: u64, thread: usize) -> OpStream<'_> {
        let seed =
            self.stream_seed ^ ((thread as u64) << 48) ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(7);
        // Hashed, so streams of neighbouring seeds are not shifted copies of one SplitMix sequence.
        let mut rng = Rng::new(mix(seed));
        let shape = match (self.workload, thread) {
            (Workload::Scan, 1) => {
                // The scanner: ascending through the scan range from a random place, wrapping at its end.
                let span = self.pages - self.hot_pages;
                Shape::Scan {
                    first: self.hot_pages,
                    span,
                    at: rng.below(u64::from(span)) as u32,
                }
            }
            // Thread 0 reads, thread 1 writes, thread 2 (the checkpointer) draws nothing.
            (Workload::Checkpoint, 1) => Shape::Writes,
            (Workload::Mixed, _) => Shape::Mixed {
                write_pct: MIXED_WRITE_PERCENT,
            },
            _ => Shape::Mixed { write_pct: 0 },
        };
        OpStream {
            picker: &self.picker,
            rng,
            shape,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Random pages, `write_pct`% of them writes.
    Mixed { write_pct: u64 },
    /// Random pages, every one a write.
    Writes,
    /// Pages `first + at`, `first + at + 1`, ... wrapping within `span` pages.
    Scan { first: u32, span: u32, at: u32 },
}

/// One thread's endless op stream in one round: each call draws the next op.
pub struct OpStream<'a> {
    picker: &'a Picker,
    rng: Rng,
    shape: Shape,
}

impl OpStream<'_> {
    /// The next op (page number, `| OP_WRITE` for a write).
    #[inline]
    pub fn next_op(&mut self) -> u32 {
        match &mut self.shape {
            Shape::Mixed { write_pct: 0 } => self.picker.pick(&mut self.rng),
            Shape::Mixed { write_pct } => {
                let pct = *write_pct;
                let page = self.picker.pick(&mut self.rng);
                if self.rng.below(100) < pct {
                    page | OP_WRITE
                } else {
                    page
                }
            }
            Shape::Writes => self.picker.pick(&mut self.rng) | OP_WRITE,
            Shape::Scan { first, span, at } => {
                let page = *first + *at;
                *at = if *at + 1 == *span { 0 } else { *at + 1 };
                page
            }
        }
    }
}

/// Parses `1,2,8` into thread counts.
pub fn parse_threads(s: &str) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let n: usize = part
            .trim()
            .parse()
            .map_err(|_| format!("bad thread count `{part}` in `{s}`: expected e.g. 1,2,8"))?;
        if n == 0 || n > 256 {
            return Err(format!("thread count {n} out of range 1..=256"));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Checks the pieces of a case that arguments can break.
pub fn check_case(case: &CaseSpec) -> Result<()> {
    if case.pages == 0 || case.hot_pages == 0 || case.hot_pages > case.pages {
        bail!("{} workload needs at least one page", case.workload.name());
    }
    if case.workload == Workload::Scan && case.hot_pages == case.pages {
        bail!("scan workload needs a scan range");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let n = 1000;
        let p = Picker::new(Dist::Zipf(0.99), n, 1);
        let mut rng = Rng::new(3);
        let mut counts = vec![0u32; n as usize];
        for _ in 0..100_000 {
            counts[p.pick(&mut rng) as usize] += 1;
        }
        let mut sorted = counts.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        // Under Zipf(0.99) over 1000 pages the top page draws ~13%, the top 10 ~39%; uniform would be 0.1% / 1%.
        assert!(sorted[0] > 8_000, "top page drew {}", sorted[0]);
        assert!(sorted[..10].iter().sum::<u32>() > 30_000);
        let u = Picker::new(Dist::Uniform, n, 1);
        let mut top = vec![0u32; n as usize];
        for _ in 0..100_000 {
            top[u.pick(&mut rng) as usize] += 1;
        }
        assert!(top.iter().all(|&c| c < 300));
    }

    #[test]
    fn dist_parsing() {
        assert_eq!("uniform".parse::<Dist>(), Ok(Dist::Uniform));
        assert_eq!("zipf:0.99".parse::<Dist>(), Ok(Dist::Zipf(0.99)));
        assert!("zipf:1".parse::<Dist>().is_err());
        assert!("zipf:x".parse::<Dist>().is_err());
        assert!("normal".parse::<Dist>().is_err());
        assert_eq!(parse_threads("1,2,2,8"), Ok(vec![1, 2, 8]));
        assert!(parse_threads("0").is_err());
        assert!(parse_threads("a").is_err());
    }

    fn mixed_case(pages: u32) -> CaseSpec {
        CaseSpec {
            workload: Workload::Mixed,
            access: Access::Mixed,
            dist: Dist::Uniform,
            threads: 2,
            pages,
            frames: 25,
            hot_pages: pages,
            variant: Variant::Plain,
        }
    }

    fn take(s: &mut OpStream<'_>, n: usize) -> Vec<u32> {
        (0..n).map(|_| s.next_op()).collect()
    }

    #[test]
    fn streams_are_reproducible_and_mixed_writes_about_a_fifth() {
        let case = mixed_case(100);
        let ops = CaseOps::new(&case, 9);
        let a = take(&mut ops.stream(0, 1), 1 << 16);
        assert_eq!(a, take(&mut CaseOps::new(&case, 9).stream(0, 1), 1 << 16));
        assert_ne!(a, take(&mut ops.stream(0, 0), 1 << 16));
        let writes = a.iter().filter(|&&op| op & OP_WRITE != 0).count();
        let share = writes as f64 / a.len() as f64;
        assert!((0.18..0.22).contains(&share), "{share}");
        assert!(a.iter().all(|&op| op & !OP_WRITE < 100));
    }

    /// The looping sequences of old: each thread replayed 2^18 pre-drawn ops, so a run of 2^20 ops touched at most
    /// 2^18 distinct pages however many there were. A stream keeps drawing: its distinct pages grow with its length.
    #[test]
    fn a_long_runs_distinct_pages_grow_with_its_length() {
        let case = mixed_case(1 << 28);
        let ops = CaseOps::new(&case, 3);
        let mut s = ops.stream(0, 0);
        let mut seen = std::collections::HashSet::new();
        let (mut drawn, mut distinct_at) = (0usize, Vec::new());
        for n in [1usize << 18, 1 << 19, 1 << 20] {
            for _ in drawn..n {
                seen.insert(s.next_op() & !OP_WRITE);
            }
            drawn = n;
            distinct_at.push(seen.len());
        }
        // Over 2^28 pages almost every draw is new: about n distinct pages after n draws.
        assert!(distinct_at[2] > 3 * (1 << 18), "{distinct_at:?}");
        assert!(
            distinct_at[0] < distinct_at[1] && distinct_at[1] < distinct_at[2],
            "{distinct_at:?}"
        );
    }

    #[test]
    fn rounds_draw_distinct_streams_and_every_system_the_same_one() {
        let case = mixed_case(1 << 20);
        let ops = CaseOps::new(&case, 5);
        let r0: std::collections::HashSet<u32> = take(&mut ops.stream(0, 0), 4096).into_iter().collect();
        let r1: std::collections::HashSet<u32> = take(&mut ops.stream(1, 0), 4096).into_iter().collect();
        // A later round re-reading an earlier round's pages would find them cached: the overlap must be chance
        // alone (about 4096 * 4096 / 2^20 = 16 pages).
        assert!(r0.intersection(&r1).count() < 100);
        assert_eq!(take(&mut ops.stream(1, 0), 64), take(&mut ops.stream(1, 0), 64));
    }

    #[test]
    fn the_scanner_walks_its_range_and_wraps() {
        let case = CaseSpec {
            workload: Workload::Scan,
            access: Access::Scan,
            dist: Dist::Uniform,
            threads: 2,
            pages: 30,
            frames: 8,
            hot_pages: 10,
            variant: Variant::Plain,
        };
        let ops = CaseOps::new(&case, 1);
        let scan = take(&mut ops.stream(0, 1), 40);
        assert!(scan.iter().all(|&p| (10..30).contains(&p)));
        assert!(scan.windows(2).all(|w| w[1] == w[0] + 1 || (w[0] == 29 && w[1] == 10)));
        assert!(take(&mut ops.stream(0, 0), 1000).iter().all(|&p| p < 10));
    }
}
