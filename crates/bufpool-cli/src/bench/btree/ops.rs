//! What the B+tree workloads do: the YCSB core workloads' operation mixes, the scrambled Zipfian key chooser, and
//! the per-thread op streams ([`OpStream`]) every system draws from, on the fly: a run of any length keeps
//! drawing new keys (a replayed list of 2^18 ops once made 50 M tuples look like the few pages it touched).
//!
//! Invariant: a stream depends only on the seed, the case (workload, distribution, tuples, threads), the round
//! and the thread's index, never on the system, so every system of a round is asked for the same tuples in the
//! same order; rounds draw distinct streams.

use std::fmt;

use crate::bench::workload::{mix, Dist, Rng, Zipf};

/// Longest scan of YCSB E (its `maxscanlength`); lengths are uniform in `1..=SCAN_MAX`.
pub const SCAN_MAX: u64 = 100;
/// Bits of an encoded op that hold the tuple id.
const ID_BITS: u32 = 48;
/// Largest number of tuples a case may have.
pub const TUPLES_MAX: u64 = 1 << ID_BITS;

/// One YCSB operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read tuple `id`.
    Read(u64),
    /// Overwrite tuple `id` with a new version.
    Update(u64),
    /// Read tuple `id`, then write it back with the next version.
    ReadModifyWrite(u64),
    /// Read `len` tuples in key order from tuple `id`'s key.
    Scan(u64, u64),
    /// Insert a new tuple (its id is taken when the op runs).
    Insert,
}

/// A YCSB core workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ycsb {
    /// 50% reads, 50% updates.
    A,
    /// 95% reads, 5% updates.
    B,
    /// 100% reads.
    C,
    /// 95% short scans (1..=100 tuples), 5% inserts.
    E,
    /// 50% reads, 50% read-modify-writes.
    F,
}

impl Ycsb {
    /// Every workload, in the order they run (read-only first, inserts last, so earlier cases see the loaded data).
    pub const ALL: [Ycsb; 5] = [Ycsb::C, Ycsb::B, Ycsb::A, Ycsb::F, Ycsb::E];

    /// The workload's name in output and JSON (`ycsb-a`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Ycsb::A => "ycsb-a",
            Ycsb::B => "ycsb-b",
            Ycsb::C => "ycsb-c",
            Ycsb::E => "ycsb-e",
            Ycsb::F => "ycsb-f",
        }
    }

    /// The letter, used as the `access` of its rows.
    pub fn letter(self) -> &'static str {
        match self {
            Ycsb::A => "a",
            Ycsb::B => "b",
            Ycsb::C => "c",
            Ycsb::E => "e",
            Ycsb::F => "f",
        }
    }

    fn draw(self, rng: &mut Rng, keys: &KeyChooser) -> Op {
        let p = rng.below(100);
        let id = keys.pick(rng);
        match self {
            Ycsb::A if p < 50 => Op::Read(id),
            Ycsb::A => Op::Update(id),
            Ycsb::B if p < 95 => Op::Read(id),
            Ycsb::B => Op::Update(id),
            Ycsb::C => Op::Read(id),
            Ycsb::E if p < 95 => Op::Scan(id, 1 + rng.below(SCAN_MAX)),
            Ycsb::E => Op::Insert,
            Ycsb::F if p < 50 => Op::Read(id),
            Ycsb::F => Op::ReadModifyWrite(id),
        }
    }
}

impl fmt::Display for Ycsb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// FNV-1a over the 8 bytes of `x`: YCSB's scrambling hash.
fn fnv1a64(x: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in x.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Picks which loaded tuple an op touches: uniform, or scrambled Zipfian (a Zipf rank hashed over the ids, so
/// the popular tuples are spread over the key space instead of clustered in one corner, as YCSB's
/// `ScrambledZipfianGenerator` does).
#[derive(Clone, Debug)]
pub struct KeyChooser {
    n: u64,
    zipf: Option<Zipf>,
}

impl KeyChooser {
    /// A chooser over tuple ids `0..n` (`n > 0`).
    pub fn new(dist: Dist, n: u64) -> KeyChooser {
        KeyChooser {
            n,
            zipf: match dist {
                Dist::Uniform => None,
                Dist::Zipf(theta) => Some(Zipf::new(n, theta)),
            },
        }
    }

    /// The next tuple id.
    #[inline]
    pub fn pick(&self, rng: &mut Rng) -> u64 {
        match &self.zipf {
            None => rng.below(self.n),
            Some(z) => fnv1a64(z.rank(rng)) % self.n,
        }
    }
}

impl Ycsb {
    /// Whether the workload writes (its rows name a durability mode).
    pub fn writes(self) -> bool {
        self != Ycsb::C
    }
}

/// One thread's endless stream of ops in one round of a case.
pub struct OpStream<'k> {
    rng: Rng,
    keys: &'k KeyChooser,
    ycsb: Option<Ycsb>,
}

impl<'k> OpStream<'k> {
    /// Thread `thread` of `threads`, round `round`: lookups (`ycsb` `None`) or YCSB `ycsb`'s ops over `keys`.
    pub fn new(keys: &'k KeyChooser, ycsb: Option<Ycsb>, seed: u64, round: u64, threads: usize, thread: usize) -> Self {
        let salt = ycsb.map_or(0x100c, |w| 0x9c5b_0000 + w as u64);
        let s = seed
            ^ salt.wrapping_mul(0x1000_0000_01b3)
            ^ ((threads as u64) << 40)
            ^ ((thread as u64) << 48)
            ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(7);
        OpStream {
            rng: Rng::new(mix(s)),
            keys,
            ycsb,
        }
    }

    /// The next tuple id to look up.
    #[inline]
    pub fn next_id(&mut self) -> u64 {
        self.keys.pick(&mut self.rng)
    }

    /// The next YCSB op (a lookup stream reads).
    #[inline]
    pub fn next_op(&mut self) -> Op {
        match self.ycsb {
            Some(w) => w.draw(&mut self.rng, self.keys),
            None => Op::Read(self.next_id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_have_their_shares() {
        let keys = KeyChooser::new(Dist::Uniform, 1000);
        let take = |w| {
            let mut s = OpStream::new(&keys, Some(w), 1, 0, 1, 0);
            (0..1 << 18).map(|_| s.next_op()).collect::<Vec<Op>>()
        };
        let seq = take(Ycsb::B);
        let updates = seq.iter().filter(|x| matches!(x, Op::Update(_))).count();
        let share = updates as f64 / seq.len() as f64;
        assert!((0.04..0.06).contains(&share), "B updates {share}");
        let seq = take(Ycsb::E);
        assert!(seq.iter().all(|&x| match x {
            Op::Scan(id, len) => id < 1000 && (1..=SCAN_MAX).contains(&len),
            Op::Insert => true,
            _ => false,
        }));
    }

    #[test]
    fn scrambled_zipf_is_skewed_and_in_range() {
        let n = 10_000;
        let keys = KeyChooser::new(Dist::Zipf(0.99), n);
        let mut rng = Rng::new(3);
        let mut counts = vec![0u32; n as usize];
        for _ in 0..100_000 {
            counts[keys.pick(&mut rng) as usize] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: u32 = counts[..100].iter().sum();
        // With theta 0.99 over 10^4 items the top 1% of items draw about half of the requests; uniform would
        // give 1%.
        assert!(top > 30_000, "top 100 tuples drew {top} of 100000");
    }
}
