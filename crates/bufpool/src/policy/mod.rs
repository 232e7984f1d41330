//! Replacement policies: which frame to give up when the pool needs one.
//!
//! Owns the [`Policy`] trait and its contract, and [`PolicyKind`], the names a user picks from. One file per
//! policy beside this one. The pool and `bufpool sim` call the same policy code: the simulator never
//! reimplements a policy.
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
//!   page), before any `on_hit` for that placement;
//! - a frame leaves the policy either through `victim` (returned) or through `on_remove` (the pool discarded the
//!   page: `drop_file`, `free_page`, a failed load), never both;
//! - `try_take(frame)` returns true only after it has latched the frame exclusively, so a victim is never a
//!   latched page, nor one the engine's eviction veto protects.

mod clock;

pub use clock::Clock;

/// Index of a frame in the pool's frame array.
pub type FrameIdx = u32;

/// How a page is being accessed, so policies (and the pool's scan rings) can treat bulk scans differently.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum AccessHint {
    /// Ordinary access.
    #[default]
    Normal,
    /// Part of a long sequential scan: do not let it flush the hot set.
    Scan,
}

/// A replacement policy. See the module docs for the contract.
pub trait Policy: Send + Sync {
    /// Short name, as in `bufpool sim --policy`.
    fn name(&self) -> &'static str;

    /// The page in `frame` was accessed. Hot path: keep it cheap.
    fn on_hit(&self, frame: FrameIdx);

    /// A page with key `key` was just placed in `frame`.
    fn on_insert(&self, frame: FrameIdx, key: u64);

    /// The page in `frame` was discarded by the pool (not through [`Policy::victim`]).
    fn on_remove(&self, frame: FrameIdx);

    /// Chooses a frame to evict; see the module docs.
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx>;
}

/// The policies a pool can be built with.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum PolicyKind {
    /// CLOCK (second chance): one reference bit per frame, a sweeping hand. The default.
    #[default]
    Clock,
}

impl PolicyKind {
    /// Every policy, in the order `bufpool sim` reports them.
    pub const ALL: &'static [PolicyKind] = &[PolicyKind::Clock];

    /// The policy's name (as accepted by [`PolicyKind::from_name`]).
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Clock => "clock",
        }
    }

    /// Parses a name as printed by [`PolicyKind::name`].
    pub fn from_name(name: &str) -> Option<PolicyKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Builds the policy for a pool (or simulated cache) of `frames` frames.
    pub fn build(self, frames: usize) -> Box<dyn Policy> {
        match self {
            PolicyKind::Clock => Box::new(Clock::new(frames)),
        }
    }
}
