//! Eviction candidates refused, by reason: the counters, and the tally that tells a miss whether protection alone
//! left it without a victim.
//!
//! Owns [`Skip`] and the calling thread's tally of one victim search. Every refusal of a candidate the policy
//! offers (`BufferPool::try_take` and `BufferPool::evictable`) goes through [`note`], which counts it in `Stats`
//! (`latched_skips`, `snapshot_skips`, `veto_skips`) and in the tally. `acquire_frame` starts a search with
//! [`begin_search`]; when the policy returns no victim, [`BufferPool::protection_error`] reads the tally: no
//! candidate latched and some protected means nothing the pool waits for can free a frame (only ending snapshots
//! or changing the veto can), so the miss fails at once with [`Error::AllProtected`] instead of waiting
//! `Builder::frame_wait` for guards that do not exist.

use std::cell::Cell;

use crate::error::Error;
use crate::pool::BufferPool;
use crate::stats::{Counter, Counters};

/// Why an eviction candidate was refused.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Skip {
    /// Latched (pinned) by a guard or by the pool's own I/O.
    Latched,
    /// Its LSN is at or above the oldest open snapshot's ([`crate::SnapshotTracker`]).
    Snapshot,
    /// The engine's eviction veto protects it.
    Veto,
}

/// Refusals of the current victim search on this thread: latched, snapshot, veto.
#[derive(Clone, Copy, Default)]
struct Tally {
    latched: u64,
    snapshot: u64,
    veto: u64,
}

thread_local! {
    static TALLY: Cell<Tally> = const { Cell::new(Tally { latched: 0, snapshot: 0, veto: 0 }) };
}

/// Counts a refused candidate in the pool's statistics and in this thread's search tally.
#[inline]
pub(crate) fn note(counters: &Counters, why: Skip) {
    counters.inc(match why {
        Skip::Latched => Counter::LatchedSkips,
        Skip::Snapshot => Counter::SnapshotSkips,
        Skip::Veto => Counter::VetoSkips,
    });
    TALLY.with(|t| {
        let mut v = t.get();
        match why {
            Skip::Latched => v.latched += 1,
            Skip::Snapshot => v.snapshot += 1,
            Skip::Veto => v.veto += 1,
        }
        t.set(v);
    });
}

/// Starts a victim search on this thread: the tally restarts from zero.
#[inline]
pub(crate) fn begin_search() {
    TALLY.with(|t| t.set(Tally::default()));
}

impl BufferPool {
    /// After a victim search found nothing: [`Error::AllProtected`] if no candidate was latched and some were
    /// protected (by open snapshots or the veto), so that waiting cannot help; `None` otherwise.
    pub(crate) fn protection_error(&self) -> Option<Error> {
        let t = TALLY.with(|t| t.get());
        if t.latched > 0 || t.snapshot + t.veto == 0 {
            return None;
        }
        Some(Error::AllProtected {
            frames: self.frames(),
            snapshot_skips: t.snapshot,
            veto_skips: t.veto,
            oldest_snapshot: self.core.snapshots.as_ref().and_then(|s| s.oldest()),
        })
    }
}
