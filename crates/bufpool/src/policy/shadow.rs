//! Miniature simulation (Waldspurger, Saemundsson, Ahmad, Park, "Cache Modeling and Optimization using
//! Miniature Simulations", USENIX ATC 2017): scaled-down shadow caches of candidate policies, fed by a spatially
//! hashed sample of the page keys, and the paired test that names the candidate that misses least.
//!
//! # Sampling
//! A key is in the sample iff `mix64(key ^ SAMPLE_SEED) <= threshold`, with `threshold = u64::MAX >> shift`:
//! a fixed subset of the pages (rate `2^-shift`), every access to a sampled page and none to the others. So the
//! sample is itself a page-access trace with the sampled pages' reuse distances scaled by the rate, and a cache
//! of `frames * rate` slots replaying it sees the miss ratio of a `frames`-slot cache on the whole trace
//! (the paper's spatial sampling). The seed keeps the sample independent of the hash that `KeyMap` and the
//! sketches apply to the same keys (`mix64(key)`, `mix64(key ^ row seed)`): sampling on `mix64(key)` itself would
//! give every sampled key the same low hash bits and pile them into a few buckets.
//!
//! The rate: the largest `2^-shift`, `shift <= SAMPLE_SHIFT_MAX` (1/128), that leaves each shadow cache at least
//! `SHADOW_FRAMES_MIN` (1024) slots. From 131,072 frames (512 MiB of 4 KiB pages) up, 1/128 of the pages are
//! sampled (1/64 from 65,536); a pool of fewer than 2,048 frames samples every page, its shadows being
//! full-size copies. The cap is the hit path's: a sampled hit replays the access in every shadow (about 400
//! instructions under callgrind with the first version's two shadows; four now). Measured (POLICIES.md), that share is small beside the fixed cost every hit
//! pays (the key load, the hash, the dispatch: about 33 instructions over a CLOCK hit's 235): the optimistic hit
//! cost 1.17x CLOCK's at 1/64 (65,536 frames) and 1.15x at 1/128 (262,144 frames), and 1.11x at 1/64 once the
//! test moved to insertion (`adaptive.rs`: a per-frame sampled flag). No shared trace reaches
//! 131,072 frames at 10 % of its pages, so the cap did not change their figures.
//! Below about a thousand slots a miniature cache's miss ratio drifts from the full cache's (the paper's
//! Figure 4 shows errors of a few percent at 1/1000 for small caches; a difference of 2% between candidates is
//! what we must resolve), and at this many slots a shadow costs 2-3 KiB per candidate per 1024 slots.
//!
//! # Decision
//! Every shadow replays every sampled access. For each candidate `c` against the candidate the live policy runs
//! (`active`), two counts: `gain[c]`, accesses where `c` hit and `active` missed, and `loss[c]`, the reverse.
//! Accesses where both hit or both missed say nothing about which is better (the pair is a sign test), so the
//! cold start, where everyone misses, does not count. At the end of each epoch (`EPOCH_MISSES` sampled misses of
//! `active`'s shadow) the candidate with the largest `gain - loss` wins if `gain - loss >= Z * sqrt(gain + loss)`
//! (normal approximation of the sign test, `Z = 2`: about 2.3 % one-sided false-switch chance per epoch when the
//! two are equal) and `gain - loss >= 2 %` of `active`'s sampled misses over the same window (a switch costs a
//! transition, see `adaptive.rs`: a difference below the 2 % tolerance is not worth one); the counts
//! are then reset. Without a winner they are halved, so each decision weighs about the last two epochs: a phase
//! change is followed within a few epochs, and a long run of near-equal epochs does not accumulate into a
//! switch on noise alone.
//!
//! Tuned on half of the shared traces (every other row of POLICIES.md's trace table: OLTP, orm-night, 2_pools,
//! cs, loop, multi2, ps; the other half is reported apart there), with the first version's two candidates
//! (S3-FIFO and W-TinyLFU); kept unchanged for the four of `adaptive.rs`. `EPOCH_MISSES`, `Z` and `SHADOW_FRAMES_MIN`
//! were set from the reasoning here and not varied; the 2 % minimum gain was chosen over none and 5 %, and over
//! asking for the same winner at two consecutive epochs, by the mean miss ratio against LRU at 10 % of
//! distinct pages on that half (-11.1 %, against -11.0 % without, -10.6 % at 5 %, -10.5 % with confirmation;
//! S3-FIFO alone -10.4 %).
//!
//! Why 1000 sampled misses per epoch: to see a 2 % relative difference in misses (the tolerance) when
//! about 10 % of the misses are discordant (one candidate hits where the other misses, typical of our traces
//! between S3-FIFO and W-TinyLFU), `0.02 M >= Z * sqrt(0.1 M)` needs `M >= Z^2 * 250 = 1000` misses. Larger
//! differences are seen sooner: they cross the bar within the first epoch.
//!
//! Locking: the owner keeps [`Shadows`] behind a mutex that only sampled accesses take. A shadow's policy is
//! driven single-threaded under that mutex, as the simulator drives a policy, so it is exact.

use super::adaptive::Candidate;
use super::ghost::{mix64, KeyMap};
use super::{FrameIdx, Policy};

/// Seed of the sampling hash (any constant other than the sketches' seeds and 0).
const SAMPLE_SEED: u64 = 0x5bd1_e995_c2b2_ae35;
/// Sampling rate at most `2^-SAMPLE_SHIFT_MAX`.
pub(crate) const SAMPLE_SHIFT_MAX: u32 = 7;
/// Each shadow cache keeps at least this many slots (unless the pool itself is smaller).
pub(crate) const SHADOW_FRAMES_MIN: usize = 1024;
/// Sampled misses of the active candidate's shadow per decision.
pub(crate) const EPOCH_MISSES: u64 = 1000;
/// Significance bar of the sign test, in standard deviations.
const Z: f64 = 2.0;
/// A switch also needs the winner to miss this much less than the active candidate over the same window.
const SWITCH_GAIN_MIN: f64 = 0.02;

/// Which page keys are in the sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sampler {
    threshold: u64,
    shift: u32,
}

impl Sampler {
    /// The sampler for a pool of `frames` frames (see the module docs for the rate).
    pub(crate) fn for_frames(frames: usize) -> Sampler {
        let mut shift = 0;
        while shift < SAMPLE_SHIFT_MAX && frames >> (shift + 1) >= SHADOW_FRAMES_MIN {
            shift += 1;
        }
        Sampler {
            threshold: u64::MAX >> shift,
            shift,
        }
    }

    /// Whether accesses to `key` are sampled: one hash, one compare.
    #[inline]
    pub(crate) fn sampled(self, key: u64) -> bool {
        mix64(key ^ SAMPLE_SEED) <= self.threshold
    }

    /// Slots of a shadow of a `frames`-frame cache: `frames` scaled by the rate, rounded up.
    pub(crate) fn shadow_frames(self, frames: usize) -> usize {
        frames.div_ceil(1 << self.shift).max(1)
    }

    /// `log2` of the inverse sampling rate.
    pub(crate) fn shift(self) -> u32 {
        self.shift
    }
}

/// One candidate's miniature cache: the candidate's own policy code over a few slots, driven the way the pool
/// and `bufpool sim` drive a policy (a key-to-slot map, a free list, `victim_for` when full).
struct ShadowCache {
    policy: Box<dyn Policy>,
    slot_of: KeyMap<FrameIdx>,
    key_in: Box<[Option<u64>]>,
    free: Vec<FrameIdx>,
}

impl std::fmt::Debug for ShadowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowCache")
            .field("policy", &self.policy.name())
            .field("slots", &self.key_in.len())
            .field("resident", &self.slot_of.len())
            .finish()
    }
}

impl ShadowCache {
    fn new(candidate: Candidate, slots: usize) -> ShadowCache {
        ShadowCache {
            policy: candidate.build(slots),
            slot_of: KeyMap::default(),
            key_in: vec![None; slots].into(),
            free: (0..slots as FrameIdx).rev().collect(),
        }
    }

    /// Replays one access; true on a hit.
    fn access(&mut self, key: u64) -> bool {
        if let Some(&slot) = self.slot_of.get(&key) {
            self.policy.on_hit(slot);
            return true;
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let key_in = &self.key_in;
                // Nothing is latched in a shadow: the contract makes the policy return a slot.
                let Some(s) = self
                    .policy
                    .victim_for(key, &mut |s| key_in.get(s as usize).is_some_and(Option::is_some))
                else {
                    debug_assert!(false, "{}: no victim in an unlatched shadow", self.policy.name());
                    return false;
                };
                if let Some(old) = self.key_in[s as usize].take() {
                    self.slot_of.remove(&old);
                }
                s
            }
        };
        self.key_in[slot as usize] = Some(key);
        self.slot_of.insert(key, slot);
        self.policy.on_insert(slot, key);
        false
    }
}

/// The shadow caches of every candidate and the running comparison against the active one.
#[derive(Debug)]
pub(crate) struct Shadows {
    caches: Box<[ShadowCache]>,
    active: usize,
    /// Per candidate: sampled accesses where it hit and `active`'s shadow missed (halved each quiet epoch).
    gain: Box<[f64]>,
    /// Per candidate: sampled accesses where it missed and `active`'s shadow hit.
    loss: Box<[f64]>,
    /// Sampled misses of `active`'s shadow in this epoch.
    epoch_misses: u64,
    /// Sampled misses of `active`'s shadow, decayed as `gain` and `loss` are.
    active_misses: f64,

    /// Reusable per-access hit flags, one per candidate.
    hit: Box<[bool]>,
}

impl Shadows {
    /// Shadows of `candidates` at `slots` slots each; candidate `active` is the one the live policy runs.
    pub(crate) fn new(candidates: &[Candidate], slots: usize, active: usize) -> Shadows {
        assert!(
            active < candidates.len(),
            "the active candidate is one of the candidates"
        );
        Shadows {
            caches: candidates.iter().map(|&k| ShadowCache::new(k, slots)).collect(),
            active,
            gain: vec![0.0; candidates.len()].into(),
            loss: vec![0.0; candidates.len()].into(),
            epoch_misses: 0,
            active_misses: 0.0,

            hit: vec![false; candidates.len()].into(),
        }
    }

    /// Replays one sampled access through every shadow. Returns the new winner when this access ends an epoch
    /// in which another candidate did significantly better than the active one (the caller switches to it).
    pub(crate) fn access(&mut self, key: u64) -> Option<usize> {
        for (c, cache) in self.caches.iter_mut().enumerate() {
            self.hit[c] = cache.access(key);
        }
        let active_hit = self.hit[self.active];
        for c in 0..self.caches.len() {
            match (self.hit[c], active_hit) {
                (true, false) => self.gain[c] += 1.0,
                (false, true) => self.loss[c] += 1.0,
                _ => {}
            }
        }
        if active_hit {
            return None;
        }
        self.epoch_misses += 1;
        self.active_misses += 1.0;
        if self.epoch_misses < EPOCH_MISSES {
            return None;
        }
        self.end_epoch()
    }

    /// The epoch's decision (see the module docs).
    fn end_epoch(&mut self) -> Option<usize> {
        self.epoch_misses = 0;
        let margin = |c: usize| self.gain[c] - self.loss[c];
        let best = (0..self.caches.len())
            .filter(|&c| c != self.active)
            .max_by(|&a, &b| margin(a).total_cmp(&margin(b)));
        let winner = best.filter(|&c| {
            margin(c) > 0.0
                && margin(c) >= Z * (self.gain[c] + self.loss[c]).sqrt()
                && margin(c) >= SWITCH_GAIN_MIN * self.active_misses
        });
        match winner {
            Some(c) => {
                self.active = c;
                self.gain.fill(0.0);
                self.loss.fill(0.0);
                self.active_misses = 0.0;
            }
            None => {
                self.gain.iter_mut().for_each(|g| *g *= 0.5);
                self.loss.iter_mut().for_each(|l| *l *= 0.5);
                self.active_misses *= 0.5;
            }
        }
        winner
    }

    /// The candidate the live policy should run.
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    /// Makes `active` the candidate the live policy runs, as a decision would (tests that force a switch).
    #[cfg(test)]
    pub(crate) fn set_active(&mut self, active: usize) {
        self.active = active;
        self.gain.fill(0.0);
        self.loss.fill(0.0);
        self.active_misses = 0.0;
        self.epoch_misses = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_keeps_shadows_at_least_the_minimum() {
        assert_eq!(Sampler::for_frames(10).shift(), 0);
        assert_eq!(Sampler::for_frames(2 * SHADOW_FRAMES_MIN - 1).shift(), 0);
        assert_eq!(Sampler::for_frames(2 * SHADOW_FRAMES_MIN).shift(), 1);
        assert_eq!(Sampler::for_frames(1 << 20).shift(), SAMPLE_SHIFT_MAX);
        let s = Sampler::for_frames(18_688);
        assert_eq!(s.shift(), 4);
        assert_eq!(s.shadow_frames(18_688), 1_168);
        assert!(Sampler::for_frames(1).sampled(12345), "rate 1 samples every key");
    }

    #[test]
    fn sample_is_about_the_rate_of_consecutive_page_keys() {
        // Page keys of one file are consecutive integers: the sample must still be close to the rate of them.
        let s = Sampler::for_frames(1 << 20);
        let n = 1u64 << 20;
        let sampled = (0..n).filter(|&k| s.sampled(k)).count() as f64;
        let expected = n as f64 / f64::from(1u32 << SAMPLE_SHIFT_MAX);
        assert!((sampled - expected).abs() < 0.03 * expected, "{sampled} sampled of {n}");
    }

    /// A loop over ten times the pages the shadow holds: S3-FIFO misses every access (each page leaves
    /// through the small queue and its ghost before it comes back), W-TinyLFU keeps part of the loop. The
    /// shadows must switch to W-TinyLFU within a few epochs and stay there.
    #[test]
    fn a_loop_switches_from_s3_fifo_to_w_tinylfu() {
        let mut sh = Shadows::new(&[Candidate::S3Fifo { small_percent: 10 }, Candidate::WTinyLfu], 100, 0);
        let mut switches = Vec::new();
        for i in 0..50_000u64 {
            if let Some(w) = sh.access(i % 1_000) {
                switches.push((i, w));
            }
        }
        assert_eq!(switches.len(), 1, "{switches:?}");
        assert_eq!(switches[0].1, 1);
        assert!(switches[0].0 < 4 * EPOCH_MISSES, "{switches:?}");
        assert_eq!(sh.active(), 1);
    }

    /// Two identical candidates never differ, so no epoch ever switches.
    #[test]
    fn equal_candidates_never_switch() {
        let s3 = Candidate::S3Fifo { small_percent: 10 };
        let mut sh = Shadows::new(&[s3, s3], 50, 0);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            assert_eq!(sh.access(x % 400), None);
        }
    }
}
