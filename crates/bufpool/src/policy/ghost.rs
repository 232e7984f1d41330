//! Bounded-by-caller FIFO sets of page keys: ghost lists (2Q's A1out, ARC's B1/B2, S3-FIFO's G) and retained
//! history (LRU-K), with an optional value per key.
//!
//! Keys are the `u64` page keys given to `on_insert`. Membership test, removal of any key, push at the back and
//! pop at the front are O(1) amortised. Removal is lazy in the order queue: a stale queue entry is skipped when
//! it reaches the front, and the queue is compacted once stale entries outnumber live ones, so memory stays
//! within a constant factor of `len()` (at most `2 * len() + 16` queue entries). The owner bounds `len()`.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hasher for page keys (a 64-bit finaliser). Page keys are not attacker-chosen in a buffer pool.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        mix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 ^= i;
    }
}

/// `HashMap` keyed by page keys.
pub(crate) type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// SplitMix64's finaliser: a bijective mix of all 64 bits.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An insertion-ordered set of keys with a value each.
#[derive(Debug)]
pub(crate) struct GhostList<V = ()> {
    /// key -> (sequence number of its live queue entry, value).
    map: KeyMap<(u64, V)>,
    /// (key, sequence) in insertion order; entries whose sequence no longer matches `map` are stale.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

impl<V> Default for GhostList<V> {
    fn default() -> Self {
        GhostList {
            map: KeyMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }
}

impl<V> GhostList<V> {
    /// Number of live keys.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether `key` is in the list.
    pub(crate) fn contains(&self, key: u64) -> bool {
        self.map.contains_key(&key)
    }

    /// Adds `key` at the back (newest end), replacing an older entry for it.
    pub(crate) fn push_back(&mut self, key: u64, value: V) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.map.insert(key, (seq, value));
        self.order.push_back((key, seq));
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|(live, _)| live == s));
        }
    }

    /// Removes `key`; returns its value if it was present.
    pub(crate) fn remove(&mut self, key: u64) -> Option<V> {
        self.map.remove(&key).map(|(_, v)| v)
    }

    /// Removes and returns the oldest key.
    pub(crate) fn pop_front(&mut self) -> Option<(u64, V)> {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|(live, _)| *live == seq) {
                return self.map.remove(&key).map(|(_, v)| (key, v));
            }
        }
        None
    }

    /// Pops oldest keys until at most `cap` remain.
    pub(crate) fn truncate_front(&mut self, cap: usize) {
        while self.len() > cap {
            self.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_with_removals_and_reinsertions() {
        let mut g = GhostList::default();
        for k in 0..5u64 {
            g.push_back(k, ());
        }
        assert!(g.remove(1).is_some());
        g.push_back(0, ()); // re-added: now the newest
        assert_eq!(g.len(), 4);
        let order: Vec<u64> = std::iter::from_fn(|| g.pop_front().map(|(k, _)| k)).collect();
        assert_eq!(order, [2, 3, 4, 0]);
    }

    #[test]
    fn stale_entries_are_compacted() {
        let mut g = GhostList::default();
        for i in 0..10_000u64 {
            g.push_back(i % 3, i);
        }
        assert_eq!(g.len(), 3);
        assert!(g.order.len() <= 2 * 3 + 17);
        g.truncate_front(1);
        assert_eq!(g.pop_front(), Some((9_999 % 3, 9_999)));
    }
}
