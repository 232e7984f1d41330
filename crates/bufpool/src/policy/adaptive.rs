//! Adaptive replacement by miniature simulation: the live cache runs S3-FIFO or W-TinyLFU, whichever the
//! scaled-down shadow caches of both (`shadow.rs`, after Waldspurger et al., USENIX ATC 2017) show to miss less
//! on a hashed sample of the pool's own accesses.
//!
//! # Why these two candidates, and whole policies
//! On the shared traces (POLICIES.md) the two are complementary: S3-FIFO is best where recency matters (OLTP,
//! web07, orm-night, sprite), W-TinyLFU where frequency does (loops, multi1-3, ps, gli, P3). Tuning one
//! family's parameter cannot cover both: S3-FIFO at any small-queue share misses every access of a loop longer
//! than the cache (a page leaves through the small queue, and its ghost, before it returns), which W-TinyLFU's
//! frequency admission avoids; and W-TinyLFU already hill-climbs its own window. So the candidates are the two
//! policies themselves, each with its default parameters.
//!
//! # How state carries over
//! Both candidates are live at once and both track every resident frame: `on_insert` and `on_remove` go to
//! both, and a victim chosen by the active one is removed from the other (`on_remove`, so no ghost entry in
//! it). A switch is therefore one atomic store, with no migration and no moment in which a frame is untracked.
//! What the inactive candidate lacks is history: S3-FIFO's counters are kept warm (its hit is a relaxed store,
//! so every hit goes to it whichever is active), but W-TinyLFU sees hits only while it is active (its hit goes
//! through a buffer and a sketch, 2.8 times a CLOCK hit: paying that on every hit while S3-FIFO runs would
//! double the common case's hit cost). An inactive W-TinyLFU's sketch has therefore counted the misses and not
//! the hits, which ranks the pages S3-FIFO kept missing above the ones it kept hitting. So a switch to W-TinyLFU
//! ([`WTinyLfu::take_over`]) empties its sketch, restarts its hill climber, and seeds both from what S3-FIFO
//! knows: each resident page's sketch count starts at its S3-FIFO counter (its recent hits, 0 to 3), and the
//! pages with a nonzero counter move to W-TinyLFU's protected segment. (Kept, the skewed sketch made it admit
//! every newcomer on a loop and miss every access where a cold W-TinyLFU misses 96 %: the unit test
//! `switches_to_w_tinylfu_on_a_loop`; seeding rather than only emptying the sketch brought ps at 10 % from
//! 51.4 % to 49.3 % misses.) After a switch to S3-FIFO its small queue may hold more than its 10 % (the inactive
//! S3-FIFO files every new page there); its next victims drain it by S3-FIFO's own rule (pages hit twice move
//! to main, the rest leave through the ghost). The shadows, replaying the sample from the start, measure each
//! candidate's steady state, not the transition a switch costs; the decision's hysteresis (`shadow.rs`: a sign
//! test at the 2-sigma level, a 2 % minimum gain, epochs of 1000 sampled misses) keeps switches to a handful
//! on most traces. Where the better candidate alternates with the workload's phases (orm-night at 1 %: hundreds
//! of switches), the transitions cost more than the shadows' gains (POLICIES.md).
//!
//! # Hit path
//! S3-FIFO's counter store (always), W-TinyLFU's buffered hit (only while it is active), then the sampling
//! test: one relaxed load of the frame's sampled flag (the hash of its key, computed once at insertion) and one
//! compare. A sampled hit (1/128 of the pages in a pool
//! of 131,072 frames or more; more in smaller pools, every page under 2,048 frames) `try_lock`s the shadows'
//! mutex and replays the access; if another thread holds it, the sample is dropped (as the hit buffers drop hits
//! under contention), so a hit never waits. Misses (`on_insert`) of sampled pages wait for the mutex: its
//! critical section is one access replayed in each shadow, O(1) amortised.
//!
//! # Contract
//! `victim` and `victim_for` are the active candidate's, so they offer only tracked frames, return only an
//! accepted one and give up after the active candidate's bounded passes. Neither lock of a candidate is held
//! while the other is called, and the shadows' mutex is never held while a live candidate's lock is wanted.
//! Memory: both candidates' state (each as when run alone) plus 9 bytes per frame for its key and flag, plus the
//! shadows: two caches of `frames / 128` slots (at least 1024, or `frames` if fewer), each its candidate's state
//! at that size plus a key-to-slot map.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use super::shadow::{Sampler, Shadows};
use super::{FrameIdx, Policy, PolicyKind, S3Fifo, WTinyLfu};

/// The candidates, by index: what `active` holds.
const CANDIDATES: [PolicyKind; 2] = [PolicyKind::S3Fifo, PolicyKind::WTinyLfu];
const S3FIFO: usize = 0;
const WTINYLFU: usize = 1;

/// The adaptive policy: S3-FIFO or W-TinyLFU, steered by miniature simulation. See the module docs.
#[derive(Debug)]
pub struct Adaptive {
    s3fifo: S3Fifo,
    wtinylfu: WTinyLfu,
    /// Index into `CANDIDATES` of the candidate that chooses victims. Written only under `shadows`' mutex.
    active: AtomicUsize,
    /// The key of each frame's page, set at insertion (read on a sampled hit, to replay it).
    keys: Box<[AtomicU64]>,
    /// Whether each frame's page is in the sample: the sampling test, done once at insertion, so that an
    /// unsampled hit pays one byte load and one compare.
    sampled: Box<[AtomicBool]>,
    sampler: Sampler,
    shadows: Mutex<Shadows>,
    /// Switches made so far.
    switches: AtomicU64,
    /// Set by a switch to W-TinyLFU: it is to take over ([`WTinyLfu::take_over`]) before its next decision (at
    /// the next insert or victim, so that a hit that made the switch never waits for W-TinyLFU's lock).
    take_over_pending: AtomicBool,
}

impl Adaptive {
    /// The adaptive policy over `frames` frames, starting with S3-FIFO.
    pub fn new(frames: usize) -> Adaptive {
        let frames = frames.max(1);
        let sampler = Sampler::for_frames(frames);
        Adaptive {
            s3fifo: S3Fifo::new(frames),
            wtinylfu: WTinyLfu::new(frames),
            active: AtomicUsize::new(S3FIFO),
            keys: (0..frames).map(|_| AtomicU64::new(0)).collect(),
            sampled: (0..frames).map(|_| AtomicBool::new(false)).collect(),
            sampler,
            shadows: Mutex::new(Shadows::new(&CANDIDATES, sampler.shadow_frames(frames), S3FIFO)),
            switches: AtomicU64::new(0),
            take_over_pending: AtomicBool::new(false),
        }
    }

    /// The candidates it chooses between, in a fixed order.
    pub fn candidates() -> &'static [PolicyKind] {
        &CANDIDATES
    }

    /// The candidate that currently chooses victims.
    pub fn active(&self) -> PolicyKind {
        CANDIDATES[self.active.load(Relaxed)]
    }

    /// How many times the live policy has switched candidates.
    pub fn switches(&self) -> u64 {
        self.switches.load(Relaxed)
    }

    /// The sampling rate's inverse: one page in this many is replayed in the shadow caches.
    pub fn sampling_period(&self) -> u64 {
        1 << self.sampler.shift()
    }

    fn live(&self, candidate: usize) -> &dyn Policy {
        match candidate {
            S3FIFO => &self.s3fifo,
            _ => &self.wtinylfu,
        }
    }

    /// Replays a sampled access and switches the live policy if the shadows ask for it.
    fn feed(&self, shadows: &mut Shadows, key: u64) {
        if let Some(winner) = shadows.access(key) {
            if winner == WTINYLFU {
                self.take_over_pending.store(true, Relaxed);
            }
            self.active.store(winner, Relaxed);
            self.switches.fetch_add(1, Relaxed);
        }
        debug_assert_eq!(
            shadows.active(),
            self.active.load(Relaxed),
            "written only under this lock"
        );
    }

    /// Applies a pending [`WTinyLfu::take_over`].
    fn settle_switch(&self) {
        if self.take_over_pending.swap(false, Relaxed) {
            self.wtinylfu.take_over(&|f| self.s3fifo.frequency(f));
        }
    }

    /// The active candidate's victim, then removed from the other one as well.
    fn take(&self, key: Option<u64>, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.settle_switch();
        let active = self.active.load(Relaxed);
        let victim = match key {
            Some(k) => self.live(active).victim_for(k, try_take),
            None => self.live(active).victim(try_take),
        }?;
        self.live(1 - active).on_remove(victim);
        Some(victim)
    }
}

impl Policy for Adaptive {
    fn name(&self) -> &'static str {
        "adaptive"
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        self.s3fifo.on_hit(frame);
        if self.active.load(Relaxed) == WTINYLFU {
            self.wtinylfu.on_hit(frame);
        }
        if self.sampled[frame as usize].load(Relaxed) {
            if let Some(mut shadows) = self.shadows.try_lock() {
                self.feed(&mut shadows, self.keys[frame as usize].load(Relaxed));
            }
        }
    }

    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.settle_switch();
        let sampled = self.sampler.sampled(key);
        self.keys[frame as usize].store(key, Relaxed);
        self.sampled[frame as usize].store(sampled, Relaxed);
        self.s3fifo.on_insert(frame, key);
        self.wtinylfu.on_insert(frame, key);
        if sampled {
            self.feed(&mut self.shadows.lock(), key);
        }
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.s3fifo.on_remove(frame);
        self.wtinylfu.on_remove(frame);
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.take(None, try_take)
    }

    fn victim_for(&self, key: u64, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.take(Some(key), try_take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives `policy` over `keys` as the simulator does; returns the misses.
    fn replay(policy: &dyn Policy, frames: usize, keys: impl Iterator<Item = u64>) -> u64 {
        let mut slot_of = std::collections::HashMap::new();
        let mut key_in: Vec<Option<u64>> = vec![None; frames];
        let mut free: Vec<FrameIdx> = (0..frames as FrameIdx).rev().collect();
        let mut misses = 0;
        for key in keys {
            if let Some(&f) = slot_of.get(&key) {
                policy.on_hit(f);
                continue;
            }
            misses += 1;
            let f = free.pop().unwrap_or_else(|| {
                let f = policy
                    .victim_for(key, &mut |f| key_in[f as usize].is_some())
                    .expect("a victim");
                slot_of.remove(&key_in[f as usize].take().expect("resident"));
                f
            });
            key_in[f as usize] = Some(key);
            slot_of.insert(key, f);
            policy.on_insert(f, key);
        }
        misses
    }

    /// A loop over ten times the cache (the LIRS `loop` trace at 10 %): S3-FIFO misses everything (a page's
    /// ghost is gone before it returns), W-TinyLFU keeps a fixed part of the loop. The adaptive policy must
    /// switch to W-TinyLFU once and keep most of W-TinyLFU's gain.
    #[test]
    fn switches_to_w_tinylfu_on_a_loop() {
        let (frames, pages, n) = (100usize, 1_000u64, 100_000u64);
        let adaptive = Adaptive::new(frames);
        let misses = replay(&adaptive, frames, (0..n).map(|i| i % pages));
        let s3 = replay(&S3Fifo::new(frames), frames, (0..n).map(|i| i % pages));
        let wt = replay(&WTinyLfu::new(frames), frames, (0..n).map(|i| i % pages));
        assert_eq!(adaptive.active(), PolicyKind::WTinyLfu);
        assert_eq!(adaptive.switches(), 1);
        assert_eq!(s3, n, "S3-FIFO misses every access of the loop");
        assert!(wt < s3 * 97 / 100, "w-tinylfu {wt}, s3-fifo {s3}");
        assert!(
            misses < s3 - (s3 - wt) / 2,
            "adaptive {misses}, s3-fifo {s3}, w-tinylfu {wt}"
        );
    }

    /// A drifting working set that fits the cache: both candidates hit alike, so it never switches and
    /// evicts exactly as S3-FIFO.
    #[test]
    fn stays_with_s3_fifo_when_nothing_is_gained() {
        let frames = 64;
        let keys = (0..40_000u64).map(|i| (i / 8) % 50 + i / 2_000);
        let adaptive = Adaptive::new(frames);
        let misses = replay(&adaptive, frames, keys.clone());
        assert_eq!(adaptive.switches(), 0);
        assert_eq!(misses, replay(&S3Fifo::new(frames), frames, keys));
    }

    #[test]
    fn both_candidates_track_every_resident_frame() {
        let p = Adaptive::new(8);
        for f in 0..8 {
            p.on_insert(f, u64::from(f) + 100);
        }
        p.on_remove(3);
        let v = p.victim(&mut |_| true).expect("a victim");
        assert_ne!(v, 3);
        // Neither candidate may offer 3 (removed) or v (evicted through the other's victim) again.
        for candidate in [S3FIFO, WTINYLFU] {
            let mut offered = Vec::new();
            let got = p.live(candidate).victim(&mut |f| {
                offered.push(f);
                false
            });
            assert_eq!(got, None, "refused everything, yet got a victim");
            assert!(!offered.contains(&3) && !offered.contains(&v), "{offered:?}");
            assert_eq!(offered.iter().collect::<std::collections::BTreeSet<_>>().len(), 6);
        }
    }
}
