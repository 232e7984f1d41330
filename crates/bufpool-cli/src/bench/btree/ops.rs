//! What the B+tree workloads do: the YCSB core workloads' operation mixes, the scrambled Zipfian key chooser, and
//! the pre-generated per-thread operation sequences every system replays.
//!
//! Invariant: a sequence depends only on the seed, the case (workload, distribution, tuples, threads) and the
//! thread's index, never on the system, so every system of a case is asked for the same tuples in the same order.

use std::fmt;

use crate::bench::workload::{Dist, Rng, Zipf};

/// Ops per pre-generated thread sequence; a thread that reaches the end starts over.
pub const SEQ_LEN: usize = 1 << 18;
/// Longest scan of YCSB E (its `maxscanlength`); lengths are uniform in `1..=SCAN_MAX`.
pub const SCAN_MAX: u64 = 100;
/// Bits of an encoded op that hold the tuple id.
const ID_BITS: u32 = 48;
/// Largest number of tuples a case may have.
pub const TUPLES_MAX: u64 = 1 << ID_BITS;
const KIND_SHIFT: u32 = 60;
const LEN_SHIFT: u32 = ID_BITS;

/// One YCSB operation, as encoded in a sequence.
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

impl Op {
    /// The op's 64-bit encoding.
    pub fn encode(self) -> u64 {
        let (kind, id, len) = match self {
            Op::Read(id) => (0, id, 0),
            Op::Update(id) => (1, id, 0),
            Op::ReadModifyWrite(id) => (2, id, 0),
            Op::Scan(id, len) => (3, id, len),
            Op::Insert => (4, 0, 0),
        };
        debug_assert!(id < TUPLES_MAX && len <= SCAN_MAX);
        (kind << KIND_SHIFT) | (len << LEN_SHIFT) | id
    }

    /// Decodes [`Op::encode`]'s output.
    #[inline]
    pub fn decode(x: u64) -> Op {
        let id = x & (TUPLES_MAX - 1);
        match x >> KIND_SHIFT {
            0 => Op::Read(id),
            1 => Op::Update(id),
            2 => Op::ReadModifyWrite(id),
            3 => Op::Scan(id, (x >> LEN_SHIFT) & 0x7f),
            _ => Op::Insert,
        }
    }
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

fn stream(seed: u64, salt: u64, threads: usize, thread: usize) -> Rng {
    Rng::new(seed ^ salt.wrapping_mul(0x1000_0000_01b3) ^ ((threads as u64) << 40) ^ ((thread as u64) << 48))
}

/// Thread `thread`'s sequence of tuple ids to look up.
pub fn lookup_sequence(keys: &KeyChooser, seed: u64, threads: usize, thread: usize) -> Vec<u64> {
    let mut rng = stream(seed, 0x100c, threads, thread);
    (0..SEQ_LEN).map(|_| keys.pick(&mut rng)).collect()
}

/// Thread `thread`'s sequence of encoded ops of workload `w`.
pub fn ycsb_sequence(w: Ycsb, keys: &KeyChooser, seed: u64, threads: usize, thread: usize) -> Vec<u64> {
    let mut rng = stream(seed, 0x9c5b_0000 + w as u64, threads, thread);
    (0..SEQ_LEN).map(|_| w.draw(&mut rng, keys).encode()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip() {
        for op in [
            Op::Read(0),
            Op::Update(TUPLES_MAX - 1),
            Op::ReadModifyWrite(5),
            Op::Scan(77, SCAN_MAX),
            Op::Scan(1, 1),
            Op::Insert,
        ] {
            assert_eq!(Op::decode(op.encode()), op);
        }
    }

    #[test]
    fn mixes_have_their_shares() {
        let keys = KeyChooser::new(Dist::Uniform, 1000);
        let seq = ycsb_sequence(Ycsb::B, &keys, 1, 1, 0);
        let updates = seq.iter().filter(|&&x| matches!(Op::decode(x), Op::Update(_))).count();
        let share = updates as f64 / seq.len() as f64;
        assert!((0.04..0.06).contains(&share), "B updates {share}");
        let seq = ycsb_sequence(Ycsb::E, &keys, 1, 1, 0);
        assert!(seq.iter().all(|&x| match Op::decode(x) {
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
