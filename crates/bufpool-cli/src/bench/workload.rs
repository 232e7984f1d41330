//! Workload shapes and their access sequences.
//!
//! Owns: the workloads ([`Workload`]), the access kinds a case measures ([`Access`]), key distributions
//! ([`Dist`], with a Zipf generator), and the pre-generated per-thread op sequences every system replays.
//!
//! Invariant: a sequence depends only on the run seed, the workload, the distribution, the thread count and the
//! thread's index, never on the system nor on the case's [`Variant`], so every system and every variant of a
//! case sees exactly the same pages in the same order.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};

pub use super::variant::Variant;

/// Ops per pre-generated thread sequence; a thread that reaches the end starts over.
pub const SEQ_LEN: usize = 1 << 18;

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
    /// data 10x the pool: random page reads.
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

/// Builds thread `thread`'s op sequence for `case` (op = page number, `| OP_WRITE` for a write).
pub fn sequence(case: &CaseSpec, seed: u64, thread: usize) -> Vec<u32> {
    let dist_salt = match case.dist {
        Dist::Uniform => 0,
        Dist::Zipf(t) => t.to_bits(),
    };
    let stream = seed
        ^ (case.workload as u64).wrapping_mul(0x1000_0000_01b3)
        ^ dist_salt.rotate_left(17)
        ^ ((case.threads as u64) << 40)
        ^ ((thread as u64) << 48);
    let mut rng = Rng::new(stream);
    let mut seq = Vec::with_capacity(SEQ_LEN);
    match case.workload {
        Workload::Scan if thread == 1 => {
            // The scanner: ascending through the scan range, over and over.
            let span = case.pages - case.hot_pages;
            seq.extend((0..SEQ_LEN as u32).map(|i| case.hot_pages + i % span));
        }
        Workload::Scan => {
            let picker = Picker::new(Dist::Uniform, u64::from(case.hot_pages), seed);
            seq.extend((0..SEQ_LEN).map(|_| picker.pick(&mut rng)));
        }
        Workload::Checkpoint => {
            // Thread 0 reads, thread 1 writes, thread 2 (the checkpointer) does not replay its sequence.
            let picker = Picker::new(case.dist, u64::from(case.pages), seed);
            let write = if thread == 1 { OP_WRITE } else { 0 };
            seq.extend((0..SEQ_LEN).map(|_| picker.pick(&mut rng) | write));
        }
        _ => {
            // The permutation depends on the seed only, so all threads agree on which pages are hot.
            let picker = Picker::new(case.dist, u64::from(case.pages), seed);
            let write_pct = if case.workload == Workload::Mixed {
                MIXED_WRITE_PERCENT
            } else {
                0
            };
            for _ in 0..SEQ_LEN {
                let page = picker.pick(&mut rng);
                let write = write_pct > 0 && rng.below(100) < write_pct;
                seq.push(if write { page | OP_WRITE } else { page });
            }
        }
    }
    seq
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

    #[test]
    fn sequences_are_reproducible_and_mixed_writes_about_a_fifth() {
        let case = CaseSpec {
            workload: Workload::Mixed,
            access: Access::Mixed,
            dist: Dist::Uniform,
            threads: 2,
            pages: 100,
            frames: 25,
            hot_pages: 100,
            variant: Variant::Plain,
        };
        let a = sequence(&case, 9, 1);
        assert_eq!(a, sequence(&case, 9, 1));
        assert_ne!(a, sequence(&case, 9, 0));
        let writes = a.iter().filter(|&&op| op & OP_WRITE != 0).count();
        let share = writes as f64 / a.len() as f64;
        assert!((0.18..0.22).contains(&share), "{share}");
        assert!(a.iter().all(|&op| op & !OP_WRITE < 100));
    }
}
