//! MVCC snapshots: the watermark below which eviction is free, at and above which it is not.
//!
//! Owns [`SnapshotTracker`] and [`Snapshot`]. A multi-version engine opens a snapshot at the LSN it reads as of;
//! while it is open, every page whose LSN is at or above the oldest open snapshot's stays resident
//! (`BufferPool::evictable` asks [`SnapshotTracker::protects`]; refusals are counted in `Stats::snapshot_skips`).
//! That is SirixDB's revision watermark: a page changed since the oldest reader started may hold versions (or the
//! in-memory undo) that reader still needs, and an engine that keeps versions only in memory cannot read them back
//! from the file. Pages below the watermark evict as usual.
//!
//! Invariants:
//! - `oldest` is the smallest LSN of the open snapshots, or `NONE`; `any_open` says whether any is open (`NONE` is
//!   also `u64::MAX`, a valid LSN: a snapshot there, and pages there, must be told from no snapshot, R38-1). Both
//!   change only under `open`'s lock, so they always agree with the multiset when the lock is free.
//! - The eviction check is one atomic load and no lock; it sees a snapshot begun before the check started (SeqCst
//!   store in `begin`, SeqCst load in `protects`). An eviction decided while `begin` runs may still take a page
//!   the new snapshot would protect: an engine opens its snapshot before it relies on the pages being resident.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::page::Lsn;

/// `oldest` when no snapshot is open. Also the LSN `u64::MAX`, which a page can have and a snapshot can be begun at:
/// `Inner::any_open` tells the two apart.
const NONE: u64 = u64::MAX;

/// The open snapshots of one or more engines: what [`crate::Builder::snapshots`] protects from eviction.
///
/// Cheap to clone; clones share the same set of snapshots (give one to the builder, keep one in the engine).
///
/// ```
/// use bufpool::{BufferPool, SnapshotTracker};
///
/// # fn main() -> bufpool::Result<()> {
/// let snapshots = SnapshotTracker::new();
/// let pool = BufferPool::builder().frames(64).snapshots(snapshots.clone()).build()?;
/// let reader = snapshots.begin(120); // a transaction reading as of LSN 120
/// assert_eq!(snapshots.oldest(), Some(120)); // pages with LSN >= 120 stay resident
/// drop(reader);
/// assert_eq!(snapshots.oldest(), None);
/// # drop(pool);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct SnapshotTracker {
    inner: Arc<Inner>,
}

struct Inner {
    /// Open snapshots: LSN -> how many are open at it.
    open: Mutex<BTreeMap<Lsn, usize>>,
    /// The smallest key of `open`, or [`NONE`]; read without the lock by eviction.
    oldest: AtomicU64,
    /// `open` is not empty: with `oldest` at [`NONE`], a snapshot at `u64::MAX` is open. Read by eviction only for
    /// a page at `u64::MAX` (R38-1: such a page was protected with no snapshot open, for ever).
    any_open: AtomicBool,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            open: Mutex::new(BTreeMap::new()),
            oldest: AtomicU64::new(NONE),
            any_open: AtomicBool::new(false),
        }
    }
}

impl SnapshotTracker {
    /// A tracker with no open snapshot.
    pub fn new() -> SnapshotTracker {
        SnapshotTracker::default()
    }

    /// Opens a snapshot reading as of `lsn`; it ends when the returned [`Snapshot`] is dropped. From now on (for
    /// evictions that start after this returns), pages whose LSN is at or above the oldest open snapshot's stay
    /// resident. Several snapshots may share an LSN.
    pub fn begin(&self, lsn: Lsn) -> Snapshot {
        let mut open = self.inner.open.lock();
        *open.entry(lsn).or_insert(0) += 1;
        self.inner.any_open.store(true, SeqCst);
        self.inner.oldest.store(Self::first(&open), SeqCst);
        Snapshot {
            inner: self.inner.clone(),
            lsn,
        }
    }

    /// The LSN of the oldest open snapshot, if any: the watermark eviction respects.
    ///
    /// Read under the set's lock: the two atomics eviction reads without it can be caught between a `begin` and
    /// a drop, which would answer `Some(u64::MAX)` for a snapshot never opened (R39-20). Eviction tolerates that
    /// moment (it keeps a page at `u64::MAX` one pass longer); a caller asking for the watermark does not.
    pub fn oldest(&self) -> Option<Lsn> {
        self.inner.open.lock().keys().next().copied()
    }

    /// Number of open snapshots.
    pub fn open_snapshots(&self) -> usize {
        self.inner.open.lock().values().sum()
    }

    /// Whether a page whose LSN is `page_lsn` must stay resident: at or above the oldest open snapshot's LSN.
    /// One atomic load (two for a page at `u64::MAX`); called by eviction for each candidate.
    #[inline]
    pub(crate) fn protects(&self, page_lsn: Lsn) -> bool {
        let oldest = self.inner.oldest.load(SeqCst);
        page_lsn >= oldest && (oldest != NONE || self.inner.any_open.load(SeqCst))
    }

    fn first(open: &BTreeMap<Lsn, usize>) -> u64 {
        open.keys().next().copied().unwrap_or(NONE)
    }
}

impl fmt::Debug for SnapshotTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotTracker")
            .field("oldest", &self.oldest())
            .field("open", &self.open_snapshots())
            .finish()
    }
}

/// An open snapshot ([`SnapshotTracker::begin`]); it ends when dropped.
pub struct Snapshot {
    inner: Arc<Inner>,
    lsn: Lsn,
}

impl Snapshot {
    /// The LSN this snapshot reads as of.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut open = self.inner.open.lock();
        if let Some(n) = open.get_mut(&self.lsn) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.lsn);
            }
        }
        self.inner.oldest.store(SnapshotTracker::first(&open), SeqCst);
        self.inner.any_open.store(!open.is_empty(), SeqCst);
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot").field("lsn", &self.lsn).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_follows_the_open_snapshots() {
        let t = SnapshotTracker::new();
        assert_eq!(t.oldest(), None);
        assert!(
            !t.protects(u64::MAX),
            "nothing is protected without a snapshot, even at u64::MAX"
        );
        let shared = t.clone();
        let s10 = t.begin(10);
        let s5 = shared.begin(5);
        let s5b = t.begin(5);
        assert_eq!((t.oldest(), t.open_snapshots()), (Some(5), 3));
        assert!(t.protects(5) && t.protects(100) && !t.protects(4));
        drop(s5);
        assert_eq!(t.oldest(), Some(5), "a second snapshot at 5 is still open");
        drop(s5b);
        assert_eq!(shared.oldest(), Some(10));
        assert_eq!(s10.lsn(), 10);
        drop(s10);
        assert_eq!((t.oldest(), t.open_snapshots()), (None, 0));
        // A snapshot at the highest LSN is open, and protects pages there (R38-1).
        let top = t.begin(u64::MAX);
        assert_eq!(t.oldest(), Some(u64::MAX));
        assert!(t.protects(u64::MAX) && !t.protects(u64::MAX - 1));
        drop(top);
        assert!(t.oldest().is_none() && !t.protects(u64::MAX));
    }

    /// R39-20: `oldest` read `oldest` and `any_open` as two loads; a snapshot at 5 begun or ended between them
    /// made it answer `Some(u64::MAX)`, an LSN no snapshot was ever opened at.
    #[test]
    fn oldest_never_names_an_lsn_no_snapshot_was_opened_at() {
        let t = SnapshotTracker::new();
        let stop = Arc::new(AtomicBool::new(false));
        let toggler = {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(SeqCst) {
                    drop(t.begin(5));
                }
            })
        };
        let mut seen = [0u64; 2];
        for _ in 0..2_000_000 {
            match t.oldest() {
                None => seen[0] += 1,
                Some(5) => seen[1] += 1,
                other => {
                    stop.store(true, SeqCst);
                    panic!("oldest() = {other:?} with only snapshots at 5 opened (seen so far: {seen:?})");
                }
            }
        }
        stop.store(true, SeqCst);
        toggler.join().unwrap();
    }
}
