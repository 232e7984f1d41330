//! Replacement policies: which frame to give up when the pool needs one.
//!
//! Owns the [`Policy`] trait and its contract, and [`PolicyKind`], the names a user picks from. One file per
//! policy beside this one. The pool and `bufpool sim` call the same policy code: the simulator never
//! reimplements a policy. The pool holds its policy as a `PoolPolicy`: the default S3-FIFO by value, so that
//! a hit's `on_hit` is a direct, inlined call of S3-FIFO's own method, any other policy as a `dyn Policy`.
//!
//! # Contract
//! A policy sees frame indices (`0..frames`) and, at insertion, the page's key (`u64::from(PageId)`), never page
//! bytes. The pool calls it from many threads at once, so every method takes `&self`.
//!
//! Implementers MUST:
//! - keep [`Policy::on_hit`] cheap: no allocation, and no lock for the default policy. A policy that needs a
//!   lock on a hit says so in its docs and shards that lock.
//! - in [`Policy::victim`], offer candidates to `try_take` in the policy's own order and return the first one it
//!   accepts, after removing that frame from the policy's tracking (recording ghost history if the policy keeps
//!   any). A refused candidate stays tracked. Return `None` once every tracked frame has been refused within a
//!   bounded number of passes (at most a few sweeps): the pool then reports [`crate::Error::PoolExhausted`].
//! - never call `try_take` for a frame it does not track, and never hold a lock that `on_hit` of the same
//!   frame needs while waiting on anything but its own short critical sections (`try_take` never blocks).
//!
//! The pool guarantees:
//! - `on_insert(frame, key)` is called exactly once after a page is placed in a frame (after a miss or a new
//!   page), before any latched `on_hit` for that placement (an optimistic reader's hit may trail a frame's exit:
//!   see "Concurrency" below);
//! - a frame leaves the policy either through `victim` (returned) or through `on_remove` (the pool discarded the
//!   page: `drop_file`, `free_page`, a failed load), never both;
//! - `try_take(frame)` returns true only after it has latched the frame exclusively, so a victim is never a
//!   latched page, nor one the engine's eviction veto protects.
//!
//! # Implementing a policy
//! A policy of your own runs a pool through [`crate::Builder::custom_policy`]; so does a built-in with
//! non-default parameters. What each call means, and what may run at the same time:
//! - **Frames, not pages.** The pool names frames `0..frames` (build the policy for the pool's frame count). `key`
//!   (the page, as `u64`) is given at insertion only, for ghost lists and frequency sketches.
//! - **`try_take(frame)`** asks the pool to take `frame` as the victim. It tries to latch the frame exclusively
//!   without waiting and checks what protects it: a guard or the pool's own I/O holds it (latched), an open
//!   snapshot needs it, the eviction veto keeps it, or it is a dirty page of a failed file. `true`: the frame is
//!   now the pool's, latched; the policy must stop tracking it and return it from `victim`, and must not offer
//!   it again. `false`: nothing changed; the frame stays tracked (move on to the next candidate; a policy may
//!   count it as a second chance). `try_take` never blocks and never calls back into the policy, so it may be
//!   called under the policy's own lock. Each refusal is counted in the pool's statistics by reason.
//! - **Giving up.** `victim` returns `None` after a bounded number of passes in which every tracked frame was
//!   refused. The pool then reports [`crate::Error::AllProtected`] (nothing latched, everything protected) or
//!   [`crate::Error::PoolExhausted`], or waits for frames its own I/O holds; it never spins inside the policy.
//! - **Concurrency.** Every method may be called from many threads at once. `on_hit` runs concurrently with
//!   everything, including `victim` examining the same frame (which is then latched, so `try_take` refuses it),
//!   and may arrive for a frame that has just left the policy (an optimistic reader's hit racing an eviction):
//!   ignore it or make it harmless. `on_insert`, `on_remove` and `victim` run concurrently for *different*
//!   frames; for one frame the pool orders them (`on_insert`, then hits, then one of `victim`'s return or
//!   `on_remove`, then possibly `on_insert` again). The built-ins serialise their bookkeeping with one mutex and
//!   keep `on_hit` lock-free (a hit buffer or a relaxed bit); a policy that locks on a hit slows every hit.
//! - **No panics.** A policy object's panic is caught (`caught_policy.rs`, R19-20 in RELIABILITY.md), but it
//!   ends the policy: the pool never calls it again, and every miss that needs a victim fails with the panic's
//!   [`crate::Error::Panicked`] until the pool is rebuilt. The built-in policies run bare (no wrapper on the hit
//!   path) and do not panic.
//! - **The answer is checked.** A policy object's `victim` answer must be the frame `try_take` accepted in that
//!   call (or `None` if it accepted none); `try_take` accepts at most one frame per call. Any other answer (a
//!   frame never offered, out of range, `None` after a take) fails the policy as a panic does (R20-1), and so does
//!   offering `try_take` an index at or above the pool's frame count, which `try_take` refuses (R34-1).
//!
//! Callers that know which page the frame is wanted for (a miss, `new_page`, the simulator) should call
//! [`Policy::victim_for`] with that page's key: ARC is only exact that way, and every other policy accepts it.
//!
//! # The policies
//! | name        | file           | hit path                                   | miss path (insert/remove/victim) |
//! |-------------|----------------|--------------------------------------------|----------------------------------|
//! | `fifo`      | `fifo.rs`      | nothing                                    | one mutex, O(1)                  |
//! | `clock`     | `clock.rs`     | lock-free: relaxed store of a bit          | lock-free                        |
//! | `lru`       | `lru.rs`       | lock-free: hit buffer (`hitbuf.rs`)        | one mutex, O(1)                  |
//! | `lru-k`     | `lru_k.rs`     | lock-free: hit buffer                      | one mutex, O(log n)              |
//! | `2q`        | `two_q.rs`     | lock-free: hit buffer                      | one mutex, O(1)                  |
//! | `arc`       | `arc.rs`       | lock-free: hit buffer                      | one mutex, O(1)                  |
//! | `sieve`     | `sieve.rs`     | lock-free: relaxed store of a bit          | one mutex, O(1) amortised        |
//! | `s3-fifo`   | `s3fifo.rs`    | lock-free: relaxed store of a 2-bit count  | one mutex, O(1) amortised        |
//! | `w-tinylfu` | `wtinylfu.rs`  | lock-free: hit buffer                      | one mutex, O(1) + sketch aging   |
//! | `adaptive`  | `adaptive.rs`  | S3-FIFO's + a sampled-flag load and compare | both live policies', + shadow mutex |
//! | `+tinylfu`  | `admission.rs` | inner's + lock-free sketch increment       | wrapper mutex, then inner's      |
//!
//! The adaptive policy's hit also goes to W-TinyLFU's hit buffer while W-TinyLFU is the one running, and a
//! sampled page's hit `try_lock`s the shadows' mutex (see `adaptive.rs`).
//!
//! The hit buffer records hits lock-free and replays them under the policy's mutex before every insert,
//! removal and victim (when a thread's stripe is full, `on_hit` drains it with `try_lock`: it never waits, and
//! drops the hit if the lock is busy); single-threaded (the simulator) the order is exact, with many threads it is per-thread
//! (see `hitbuf.rs` for the precise guarantees). Shared helpers: `list.rs` (intrusive frame lists),
//! `ghost.rs` (bounded ghost key lists), `sketch.rs` (count-min sketch), `shadow.rs` (miniature simulation: the
//! adaptive policy's sampled shadow caches). Each policy file's `//!` header cites
//! its paper, states its memory bound for ghost or history state, and lists its deviations.

mod adaptive;
mod admission;
mod arc;
mod clock;
mod fifo;
mod ghost;
mod hitbuf;
mod list;
mod lru;
mod lru_k;
mod s3fifo;
mod shadow;
mod sieve;
mod sketch;
mod two_q;
mod wtinylfu;

pub use adaptive::{Adaptive, Candidate};
pub use admission::TinyLfuAdmission;
pub use arc::ArcPolicy;
pub use clock::Clock;
pub use fifo::Fifo;
pub use lru::Lru;
pub use lru_k::LruK;
pub use s3fifo::S3Fifo;
pub use sieve::Sieve;
pub use two_q::TwoQ;
pub use wtinylfu::WTinyLfu;

/// Index of a frame in the pool's frame array.
pub type FrameIdx = u32;

/// A replacement policy. See the module docs for the contract.
pub trait Policy: Send + Sync {
    /// Short name, as in `bufpool sim --policy`.
    fn name(&self) -> &'static str;

    /// How many frames this policy was made for (it takes frame indices `0..frames`), if it is bounded:
    /// [`crate::Builder::build`] refuses a policy made for fewer frames than the pool has, which would be handed
    /// indices it has no room for. The default, `None`, says the policy takes any index; every built-in policy
    /// says its bound.
    fn frames(&self) -> Option<usize> {
        None
    }

    /// The page in `frame` was accessed. Hot path, called on every hit by many threads at once.
    ///
    /// MUST: allocate nothing and take no lock that `victim` may hold while it waits (the default policy takes
    /// none at all); a policy that needs a lock here says so in its docs and shards that lock. MUST NOT panic.
    /// The pool guarantees `frame` was given to `on_insert`. A latched hit comes while the frame is tracked; an
    /// optimistic reader's hit (`read_optimistic` reports it after validating its read, holding no latch) can
    /// arrive just after the frame left through `victim` or `on_remove`: MUST tolerate that (ignore it, or let it
    /// at worst mark a frame that is re-inserted).
    fn on_hit(&self, frame: FrameIdx);

    /// A page with key `key` was just placed in `frame`.
    ///
    /// The pool guarantees it is called exactly once per placement (after a miss or a new page), before any
    /// `on_hit` of that placement, and that `frame` is not tracked at that moment. MUST start tracking `frame`.
    fn on_insert(&self, frame: FrameIdx, key: u64);

    /// The page in `frame` was discarded by the pool (not through [`Policy::victim`]): `drop_file`, `free_page`,
    /// a scan ring taking its frame back.
    ///
    /// MUST stop tracking `frame` (a frame leaves through `victim` or `on_remove`, never both). MUST NOT record
    /// ghost history for it unless the policy documents why a discarded page should count as evicted.
    fn on_remove(&self, frame: FrameIdx);

    /// Chooses a frame to evict.
    ///
    /// MUST offer candidates to `try_take` in the policy's own order, only frames it tracks, and return the first
    /// one accepted after removing it from its tracking (recording ghost history if it keeps any); a refused
    /// candidate stays tracked. MUST return `None` after a bounded number of passes (a few sweeps) in which every
    /// tracked frame was refused: the pool then reports [`crate::Error::PoolExhausted`]. `try_take` never blocks
    /// (it only CAS-latches the frame and checks what protects it: open snapshots, the eviction veto, a failed file); the policy may call it under its own lock, but
    /// MUST NOT hold a lock that `on_hit` needs while doing anything else that can wait.
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx>;

    /// Chooses a frame to evict to make room for the page `key`, which missed and will be placed (with
    /// [`Policy::on_insert`]) in the frame returned. Same contract as [`Policy::victim`].
    ///
    /// Callers that know the incoming page (the pool's miss path, `bufpool sim`) should call this rather than
    /// `victim`: ARC's choice depends on whether the incoming page is in a ghost list (the paper's
    /// `REPLACE(x, p)` runs after `p` adapts to `x`), so only this entry point reproduces the paper exactly.
    /// The default ignores `key`.
    fn victim_for(&self, key: u64, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let _ = key;
        self.victim(try_take)
    }
}

/// The policies a pool can be built with.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// FIFO: evict in insertion order; hits are ignored.
    Fifo,
    /// CLOCK (second chance): one reference bit per frame, a sweeping hand.
    Clock,
    /// Exact LRU.
    Lru,
    /// LRU-K (K = 2), with retained history and a correlated reference period.
    LruK,
    /// Full 2Q: A1in FIFO, A1out ghost FIFO, Am LRU.
    TwoQ,
    /// ARC: T1, T2, ghost lists B1, B2 and the adaptive target `p`.
    Arc,
    /// SIEVE: a FIFO with a visited bit and a hand that keeps visited pages in place.
    Sieve,
    /// S3-FIFO: small FIFO (10 %), main FIFO with reinsertion, ghost FIFO. The default: the lowest miss ratios of the
    /// policies with a lock-free hit path on the traces in `../shared/traces` (POLICIES.md), and a hit costs what a
    /// CLOCK hit costs.
    #[default]
    S3Fifo,
    /// W-TinyLFU: window LRU, SLRU main, count-min sketch admission, hill-climbed window size.
    WTinyLfu,
    /// Adaptive: runs S3-FIFO (its small queue at 1, 10 or 30 %) or W-TinyLFU, whichever misses least in
    /// scaled-down shadow caches fed by a hashed sample of the accesses (miniature simulation). See [`Adaptive`].
    Adaptive,
}

impl PolicyKind {
    /// Every policy, in the order `bufpool sim` reports them.
    pub const ALL: &'static [PolicyKind] = &[
        PolicyKind::Fifo,
        PolicyKind::Clock,
        PolicyKind::Lru,
        PolicyKind::LruK,
        PolicyKind::TwoQ,
        PolicyKind::Arc,
        PolicyKind::Sieve,
        PolicyKind::S3Fifo,
        PolicyKind::WTinyLfu,
        PolicyKind::Adaptive,
    ];

    /// The policy's name (as accepted by [`PolicyKind::from_name`]).
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Fifo => "fifo",
            PolicyKind::Clock => "clock",
            PolicyKind::Lru => "lru",
            PolicyKind::LruK => "lru-k",
            PolicyKind::TwoQ => "2q",
            PolicyKind::Arc => "arc",
            PolicyKind::Sieve => "sieve",
            PolicyKind::S3Fifo => "s3-fifo",
            PolicyKind::WTinyLfu => "w-tinylfu",
            PolicyKind::Adaptive => "adaptive",
        }
    }

    /// Parses a name as printed by [`PolicyKind::name`].
    pub fn from_name(name: &str) -> Option<PolicyKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Builds the policy for a pool (or simulated cache) of `frames` frames, with its default parameters.
    pub fn build(self, frames: usize) -> Box<dyn Policy> {
        match self {
            PolicyKind::Fifo => Box::new(Fifo::new(frames)),
            PolicyKind::Clock => Box::new(Clock::new(frames)),
            PolicyKind::Lru => Box::new(Lru::new(frames)),
            PolicyKind::LruK => Box::new(LruK::new(frames)),
            PolicyKind::TwoQ => Box::new(TwoQ::new(frames)),
            PolicyKind::Arc => Box::new(ArcPolicy::new(frames)),
            PolicyKind::Sieve => Box::new(Sieve::new(frames)),
            PolicyKind::S3Fifo => Box::new(S3Fifo::new(frames)),
            PolicyKind::WTinyLfu => Box::new(WTinyLfu::new(frames)),
            PolicyKind::Adaptive => Box::new(Adaptive::new(frames)),
        }
    }

    /// This policy with an admission filter in front of it.
    pub fn with_admission(self, admission: Admission) -> PolicyConfig {
        PolicyConfig { kind: self, admission }
    }
}

/// An admission filter that can sit in front of any [`PolicyKind`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
#[non_exhaustive]
pub enum Admission {
    /// Every missed page is admitted to the policy (no filter). The default.
    #[default]
    None,
    /// TinyLFU admission: a missed page colder than the page it displaced waits on probation and is evicted
    /// first. See [`TinyLfuAdmission`].
    TinyLfu,
}

/// A replacement policy and its admission filter: what a pool or a simulation is built with.
///
/// Names: a [`PolicyKind`] name, optionally followed by `+tinylfu` (`"lru+tinylfu"`, `"arc+tinylfu"`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct PolicyConfig {
    /// The replacement policy.
    pub kind: PolicyKind,
    /// The admission filter in front of it.
    pub admission: Admission,
}

impl From<PolicyKind> for PolicyConfig {
    fn from(kind: PolicyKind) -> PolicyConfig {
        kind.with_admission(Admission::None)
    }
}

impl PolicyConfig {
    /// The configuration's name, as accepted by [`PolicyConfig::from_name`].
    pub fn name(self) -> String {
        match self.admission {
            Admission::None => self.kind.name().to_string(),
            Admission::TinyLfu => format!("{}+tinylfu", self.kind.name()),
        }
    }

    /// Parses `KIND` or `KIND+tinylfu`.
    pub fn from_name(name: &str) -> Option<PolicyConfig> {
        let (kind, admission) = match name.strip_suffix("+tinylfu") {
            Some(kind) => (kind, Admission::TinyLfu),
            None => (name, Admission::None),
        };
        Some(PolicyKind::from_name(kind)?.with_admission(admission))
    }

    /// Builds the policy (wrapped in its admission filter, if any) for `frames` frames.
    pub fn build(self, frames: usize) -> Box<dyn Policy> {
        let inner = self.kind.build(frames);
        match self.admission {
            Admission::None => inner,
            Admission::TinyLfu => Box::new(TinyLfuAdmission::new(inner, frames)),
        }
    }
}

/// The pool's policy: the default, S3-FIFO with no admission filter, held by value, so that a hit calls its
/// [`Policy::on_hit`] directly (inlined into the hit path: a load and a store, no `dyn` call and no register spills
/// around one); any other policy, and a caller's own, as a `dyn Policy`. Every other method is reached through the
/// `dyn Policy` either way ([`Deref`](std::ops::Deref)); only `on_hit` is chosen here, and it runs the policy's
/// own code in both cases.
// One a pool, in its `Core`: its size does not matter, and boxing S3-FIFO would put back the load a hit saves.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PoolPolicy {
    S3Fifo(S3Fifo),
    Dyn(Box<dyn Policy>),
}

impl PoolPolicy {
    /// The built-in policy `config` for `frames` frames.
    pub(crate) fn build(config: PolicyConfig, frames: usize) -> PoolPolicy {
        match config {
            PolicyConfig {
                kind: PolicyKind::S3Fifo,
                admission: Admission::None,
            } => PoolPolicy::S3Fifo(S3Fifo::new(frames)),
            _ => PoolPolicy::Dyn(config.build(frames)),
        }
    }

    /// [`Policy::on_hit`] of the policy, inlined for S3-FIFO.
    #[inline(always)]
    pub(crate) fn on_hit(&self, frame: FrameIdx) {
        match self {
            PoolPolicy::S3Fifo(p) => p.on_hit(frame),
            PoolPolicy::Dyn(p) => p.on_hit(frame),
        }
    }
}

impl std::ops::Deref for PoolPolicy {
    type Target = dyn Policy;

    fn deref(&self) -> &(dyn Policy + 'static) {
        match self {
            PoolPolicy::S3Fifo(p) => p,
            PoolPolicy::Dyn(p) => &**p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool's default policy is S3-FIFO held by value, any other a `dyn Policy`, and a hit reaches the
    /// policy either way: frame 0, hit twice, is promoted to S3-FIFO's M (or is LRU's most recent), so the
    /// first victim is frame 1, not frame 0. Were `PoolPolicy::on_hit` to drop a hit, frame 0 would go first.
    #[test]
    fn pool_policy_hits_reach_the_policy() {
        for (config, by_value) in [
            (PolicyConfig::from(PolicyKind::S3Fifo), true),
            (PolicyConfig::from(PolicyKind::Lru), false),
        ] {
            let p = PoolPolicy::build(config, 10);
            assert_eq!(matches!(p, PoolPolicy::S3Fifo(_)), by_value, "{config:?}");
            for f in 0..10 {
                p.on_insert(f, u64::from(f));
            }
            p.on_hit(0);
            p.on_hit(0);
            assert_eq!(p.victim(&mut |_| true), Some(1), "{config:?}");
        }
        let filtered = PoolPolicy::build(PolicyKind::S3Fifo.with_admission(Admission::TinyLfu), 10);
        assert!(matches!(filtered, PoolPolicy::Dyn(_)));
    }

    #[test]
    fn names_round_trip() {
        let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "fifo",
                "clock",
                "lru",
                "lru-k",
                "2q",
                "arc",
                "sieve",
                "s3-fifo",
                "w-tinylfu",
                "adaptive"
            ]
        );
        for &k in PolicyKind::ALL {
            assert_eq!(PolicyKind::from_name(k.name()), Some(k));
            assert_eq!(k.build(4).name(), k.name());
            let c = k.with_admission(Admission::TinyLfu);
            assert_eq!(PolicyConfig::from_name(&c.name()), Some(c));
            assert_eq!(c.build(4).name(), c.name());
            assert_eq!(PolicyConfig::from_name(k.name()), Some(k.into()));
        }
        assert_eq!(PolicyKind::default(), PolicyKind::S3Fifo);
        assert_eq!(PolicyConfig::from_name("nope+tinylfu"), None);
    }
}
