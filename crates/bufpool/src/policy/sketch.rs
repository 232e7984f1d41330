//! Count-min frequency sketch with aging, as used by TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly
//! Efficient Cache Admission Policy", ACM ToS 2017) and Caffeine's `FrequencySketch`.
//!
//! 4-bit counters packed sixteen to a `u64` word; a key touches one counter in each of four rows (row `i` uses
//! nibbles `4i..4i+4` of a word picked by an independent hash), so an estimate is the minimum of four counters
//! and a counter saturates at 15. Aging ("reset"): after `10 * capacity` increments that changed a counter,
//! every counter is halved, so the sketch tracks recent frequency. No doorkeeper (the optional Bloom filter in
//! front of the sketch) is kept: at buffer-pool sizes the sketch is small anyway.
//!
//! Lock-free: counters are updated with CAS on their word; the increment counter is one shared atomic. Under
//! concurrency an increment may be lost across a concurrent reset; single-threaded it is exact and
//! deterministic. Memory: `next_power_of_two(capacity)` words (8 bytes per cached page, rounded up).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::ghost::mix64;

const SEEDS: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x27d4_eb2f_1656_67c5,
];
/// Increments between two agings, per unit of capacity (Caffeine's sample size factor).
const SAMPLE_FACTOR: usize = 10;

/// A 4-bit count-min sketch with periodic halving.
#[derive(Debug)]
pub(crate) struct FrequencySketch {
    table: Box<[AtomicU64]>,
    mask: usize,
    sample_size: usize,
    additions: AtomicUsize,
}

impl FrequencySketch {
    /// A sketch sized for a cache of `capacity` pages.
    pub(crate) fn new(capacity: usize) -> FrequencySketch {
        let words = capacity.max(16).next_power_of_two();
        FrequencySketch {
            table: (0..words).map(|_| AtomicU64::new(0)).collect(),
            mask: words - 1,
            sample_size: SAMPLE_FACTOR * capacity.max(1),
            additions: AtomicUsize::new(0),
        }
    }

    /// Increments since the last aging reaching this number trigger the next aging.
    pub(crate) fn sample_size(&self) -> usize {
        self.sample_size
    }

    #[inline]
    fn slot(&self, key: u64, row: usize) -> (usize, u32) {
        let h = mix64(key ^ SEEDS[row]);
        let word = (h as usize) & self.mask;
        let nibble = (row as u32) * 4 + ((h >> 60) as u32 & 3);
        (word, nibble * 4)
    }

    /// The estimated recent frequency of `key` (0..=15).
    pub(crate) fn frequency(&self, key: u64) -> u8 {
        (0..4)
            .map(|row| {
                let (w, shift) = self.slot(key, row);
                ((self.table[w].load(Relaxed) >> shift) & 0xf) as u8
            })
            .min()
            .unwrap_or(0)
    }

    /// Counts one access to `key`; ages the sketch every `sample_size` effective increments.
    pub(crate) fn increment(&self, key: u64) {
        let mut added = false;
        for row in 0..4 {
            let (w, shift) = self.slot(key, row);
            let r = self.table[w].fetch_update(Relaxed, Relaxed, |v| {
                ((v >> shift) & 0xf != 0xf).then(|| v + (1 << shift))
            });
            added |= r.is_ok();
        }
        if added && self.additions.fetch_add(1, Relaxed) + 1 == self.sample_size {
            self.age();
        }
    }

    /// Halves every counter.
    fn age(&self) {
        for w in self.table.iter() {
            let _ = w.fetch_update(Relaxed, Relaxed, |v| Some((v >> 1) & 0x7777_7777_7777_7777));
        }
        self.additions.store(self.sample_size / 2, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_age() {
        let s = FrequencySketch::new(64);
        for _ in 0..20 {
            s.increment(7);
        }
        assert_eq!(s.frequency(7), 15);
        assert!(s.frequency(8) <= 1, "an unseen key may only collide, at most once here");
        for k in 1000..1000 + s.sample_size() as u64 {
            s.increment(k);
        }
        assert!(s.frequency(7) <= 7, "aged: {}", s.frequency(7));
    }
}
