//! Frames: the state word (latch + version), the frame headers, and the frame memory.
//!
//! Owns the latch protocol and most of the crate's `unsafe` (handing out page bytes under a latch; reading them
//! optimistically through atomics).
//!
//! # The state word (after vmcache and LeanStore)
//! One `u64` per frame: `version << 8 | WAITERS bit (0x80) | lock` (`lock` in the low 7 bits). `lock` is
//! - `0`: unlatched; `1..=SHARED_MAX`: that many shared holders;
//! - `EXCLUSIVE`: one exclusive holder (a writer, a loader, or the evictor);
//! - `FREE`: the frame holds no page.
//!
//! Rules: only an exclusive holder changes page bytes or the frame's page id; releasing an exclusive latch after a
//! change bumps the version; shared latches never change the version. An optimistic reader reads the version (it
//! must not be `EXCLUSIVE`/`FREE`), reads bytes through atomic loads, then re-reads the word: an unchanged version
//! means nothing was written meanwhile. A latched frame is pinned: the evictor takes only unlatched frames (by CAS
//! `0 -> EXCLUSIVE`).
//!
//! # Waiting for a latch: park, and no lost wakeup
//! A thread that cannot latch a frame spins, then yields, then parks (`parking_lot_core`, keyed by the word's
//! address) instead of sleeping a fixed time: a 20 us sleep became 50-100 us with the kernel's timer slack,
//! while the latches waited for in TPC-C at 2 threads are released within a few to a few hundred microseconds
//! (issue 15). Protocol ([`StateWord::park_while_busy`] and every release):
//! - The waiter sets `WAITERS` by a CAS on the very value it found busy, then parks with the check "the word is
//!   still exactly that value (with `WAITERS`)", which `parking_lot_core` runs under its queue lock.
//! - Every release that may let a waiter in (shared unlatch, exclusive unlatch, downgrade, unlatch to free) is a
//!   read-modify-write of the word (a swap or fetch-sub, never a plain store, so a `WAITERS` bit set meanwhile
//!   cannot be overwritten unseen) and, if the value it replaced had `WAITERS`, clears the bit and wakes every
//!   thread parked on the word (`unpark_all`, which takes the same queue lock).
//! - No lost wakeup: all changes of the word are in one modification order. If the release comes before the
//!   waiter's check, the check sees another value and the waiter does not park. If it comes after, it replaces
//!   a value holding the waiter's `WAITERS` (the bit is only cleared by a release, which also changes the
//!   value the check compares), so it wakes all parked threads, and the waiter, queued atomically with its
//!   check under the queue lock, is among them. Woken waiters retry from the start (a wakeup may be spurious),
//!   and a park is also bounded by a timeout, so the callers' deadlines ([`crate::pool`]'s `LATCH_WAIT_MAX`)
//!   still apply. `loom_park_no_lost_wakeup` checks this under loom with a modelled park (a lost wakeup
//!   deadlocks it).
//!
//! # Frame memory
//! One allocation of `frames * page_size` bytes, aligned to 2 MiB when large enough so the kernel can back it with
//! huge pages. Frame `i`'s page occupies `[i * page_size, (i + 1) * page_size)`.
//!
//! The optimistic path reads bytes with relaxed atomic loads while a writer may be storing into them with plain
//! stores under its exclusive latch (guards hand out `&mut [u8]`). That is the seqlock pattern: the value read is
//! discarded unless the version validates. It is the same position as `crossbeam`'s seqlock and the
//! `atomic-memcpy` crate until byte-wise atomic memcpy (C++ P1478) exists; readers never form a reference to
//! bytes that another thread may write.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};

use crate::page::{AlignedBuf, AllocFailed, PageId, HUGE_PAGE};
use crate::sync::{fence, AtomicU64};

/// Lock field values of the state word.
pub(crate) const LOCK_MASK: u64 = 0x7F;
pub(crate) const UNLATCHED: u64 = 0;
pub(crate) const SHARED_MAX: u64 = 120;
pub(crate) const EXCLUSIVE: u64 = 125;
pub(crate) const FREE: u64 = 127;
/// Set while a thread may be parked waiting for the latch (see the module docs, "Waiting for a latch").
pub(crate) const WAITERS: u64 = 0x80;
/// The low byte: the lock field and `WAITERS`.
const LATCH_BYTE: u64 = 0xFF;
const VERSION_ONE: u64 = 1 << 8;
const _: () = assert!(SHARED_MAX < EXCLUSIVE && EXCLUSIVE < FREE && FREE == LOCK_MASK && LOCK_MASK & WAITERS == 0);
const _: () = assert!(LOCK_MASK | WAITERS == LATCH_BYTE && LATCH_BYTE < VERSION_ONE);

/// What a waiter wants of a latch, which decides whether a word keeps it waiting
/// ([`StateWord::park_while_busy`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LatchWait {
    /// An optimistic read: blocked by an exclusive holder only.
    Optimistic,
    /// A shared latch: blocked by an exclusive holder or a full shared count.
    Shared,
    /// An exclusive latch: blocked by any holder.
    Exclusive,
}

impl LatchWait {
    /// Whether the lock field `lock` keeps this waiter out (a `FREE` frame never does: the caller looks again).
    fn blocked_by(self, lock: u64) -> bool {
        match self {
            LatchWait::Optimistic => lock == EXCLUSIVE,
            LatchWait::Shared => lock == EXCLUSIVE || (SHARED_MAX..FREE).contains(&lock),
            LatchWait::Exclusive => lock != UNLATCHED && lock != FREE,
        }
    }
}

/// Parks the calling thread on `key` while `still` holds (checked under the parking queue's lock), for at most
/// `timeout`. `parking_lot_core` normally; under loom a modelled queue (one condition variable for every key:
/// more wakeups than the real one, never fewer).
#[cfg(not(loom))]
fn park(key: usize, still: impl FnOnce() -> bool, timeout: std::time::Duration) {
    // SAFETY: `key` is the address of a state word, which only this module parks on (no other primitive of
    // parking_lot uses it); `still` is a load and compare, which neither panics nor calls into parking_lot.
    unsafe {
        parking_lot_core::park(
            key,
            still,
            || {},
            |_, _| {},
            parking_lot_core::DEFAULT_PARK_TOKEN,
            Some(std::time::Instant::now() + timeout),
        );
    }
}

/// Wakes every thread parked on `key`.
#[cfg(not(loom))]
fn unpark_all(key: usize) {
    // SAFETY: as in `park`: `key` is a state word's address, parked on only by this module.
    unsafe {
        parking_lot_core::unpark_all(key, parking_lot_core::DEFAULT_UNPARK_TOKEN);
    }
}

#[cfg(loom)]
loom::lazy_static! {
    static ref PARKED: (loom::sync::Mutex<()>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
}

/// Loom's model of `parking_lot_core::park`: the check and the wait are atomic with respect to `unpark_all`
/// (both under one mutex). No timeout, so a lost wakeup shows as a deadlock.
#[cfg(loom)]
fn park(_key: usize, still: impl FnOnce() -> bool, _timeout: std::time::Duration) {
    let queue = PARKED.0.lock().unwrap();
    if still() {
        drop(PARKED.1.wait(queue).unwrap());
    }
}

/// Loom's model of `parking_lot_core::unpark_all`.
#[cfg(loom)]
fn unpark_all(_key: usize) {
    let _queue = PARKED.0.lock().unwrap();
    PARKED.1.notify_all();
}

/// Outcome of trying to latch a frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TryLatch {
    /// Latched.
    Ok,
    /// Latched by someone else in a conflicting mode; `version` is the word's version seen.
    Busy { version: u64 },
    /// The frame holds no page.
    Free,
}

/// A frame's state word.
#[derive(Debug)]
pub(crate) struct StateWord(AtomicU64);

impl StateWord {
    /// A word for a frame that holds no page.
    pub(crate) fn new_free() -> StateWord {
        StateWord(AtomicU64::new(FREE))
    }

    #[inline]
    pub(crate) fn load(&self) -> u64 {
        self.0.load(Acquire)
    }

    #[inline]
    pub(crate) fn try_latch_shared(&self) -> TryLatch {
        let mut s = self.0.load(Relaxed);
        loop {
            let lock = s & LOCK_MASK;
            if lock == FREE {
                return TryLatch::Free;
            }
            if lock >= SHARED_MAX {
                return TryLatch::Busy { version: s >> 8 };
            }
            match self.0.compare_exchange_weak(s, s + 1, Acquire, Relaxed) {
                Ok(_) => return TryLatch::Ok,
                Err(now) => s = now,
            }
        }
    }

    #[inline]
    pub(crate) fn unlatch_shared(&self) {
        let prev = self.0.fetch_sub(1, Release);
        debug_assert!(
            (1..=SHARED_MAX).contains(&(prev & LOCK_MASK)),
            "unlatch_shared of {prev:#x}"
        );
        if prev & WAITERS != 0 {
            self.wake_waiters();
        }
    }

    /// After a release that replaced a value holding `WAITERS`: clears the bit and wakes every thread parked on
    /// the word (they retry, and park again if still kept out). Out of line: the hit path only tests the bit.
    #[cold]
    #[inline(never)]
    fn wake_waiters(&self) {
        self.0.fetch_and(!WAITERS, Relaxed);
        unpark_all(self.key());
    }

    /// The parking key: the word's address.
    fn key(&self) -> usize {
        &self.0 as *const AtomicU64 as usize
    }

    /// The holder's release of an exclusive latch: replaces the word by `new` (lock field and version set, no
    /// `WAITERS`) with a swap, so a `WAITERS` bit a waiter set meanwhile is seen, and wakes the waiters if so.
    #[inline]
    fn release_to(&self, new: u64) {
        debug_assert_eq!(new & WAITERS, 0);
        let prev = self.0.swap(new, Release);
        debug_assert_eq!(prev & LOCK_MASK, EXCLUSIVE, "exclusive release of {prev:#x}");
        if prev & WAITERS != 0 {
            unpark_all(self.key());
        }
    }

    /// Parks the calling thread (for at most `timeout`) if the word still holds a latch that keeps a `want`
    /// waiter out, setting `WAITERS` first; returns at once if it does not (the caller retries its latch), and
    /// after any wakeup or the timeout. The caller spun and yielded first: parking costs two context switches.
    /// See the module docs for why no wakeup is lost.
    pub(crate) fn park_while_busy(&self, want: LatchWait, timeout: std::time::Duration) {
        let mut s = self.0.load(Relaxed);
        loop {
            if !want.blocked_by(s & LOCK_MASK) {
                return;
            }
            if s & WAITERS != 0 {
                break;
            }
            match self.0.compare_exchange_weak(s, s | WAITERS, Relaxed, Relaxed) {
                Ok(_) => {
                    s |= WAITERS;
                    break;
                }
                Err(now) => s = now,
            }
        }
        // Parks only if no release happened since the word held `s` (a release changes the value and clears
        // `WAITERS`); checked under the queue lock that `unpark_all` takes too.
        park(self.key(), || self.0.load(Relaxed) == s, timeout);
    }

    /// Latches exclusively if (and only if) the frame holds a page and is unlatched.
    #[inline]
    pub(crate) fn try_latch_exclusive(&self) -> TryLatch {
        let s = self.0.load(Relaxed);
        match s & LOCK_MASK {
            FREE => TryLatch::Free,
            UNLATCHED => match self.0.compare_exchange(s, s | EXCLUSIVE, Acquire, Relaxed) {
                Ok(_) => {
                    // Order the latch before the stores that follow it, for optimistic readers (seqlock writer).
                    fence(Release);
                    TryLatch::Ok
                }
                Err(now) if now & LOCK_MASK == FREE => TryLatch::Free,
                Err(now) => TryLatch::Busy { version: now >> 8 },
            },
            _ => TryLatch::Busy { version: s >> 8 },
        }
    }

    /// Shared -> exclusive, if (and only if) the caller's shared latch is the only one (lock `1 -> EXCLUSIVE`, one
    /// CAS). The version is unchanged: nothing was written yet; the exclusive release that follows bumps it. With
    /// other shared holders the word is left alone and the caller still holds its shared latch.
    #[inline]
    pub(crate) fn try_upgrade(&self) -> bool {
        let s = self.0.load(Relaxed);
        debug_assert!((1..=SHARED_MAX).contains(&(s & LOCK_MASK)), "try_upgrade of {s:#x}");
        if s & LOCK_MASK != 1 {
            return false;
        }
        // A failed CAS means another thread took or released a shared latch meanwhile; the caller's latch is
        // still held, so report "not alone" rather than loop (the caller decides whether to retry).
        if self
            .0
            .compare_exchange(s, (s & !LOCK_MASK) | EXCLUSIVE, Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        // As in try_latch_exclusive: order the latch before the stores that follow it (seqlock writer).
        fence(Release);
        true
    }

    /// Latches a `FREE` frame exclusively (the caller took it from the free list, so nobody else may).
    pub(crate) fn latch_free_exclusive(&self) -> bool {
        let s = self.0.load(Relaxed);
        s & LOCK_MASK == FREE
            && self
                .0
                .compare_exchange(s, (s & !LOCK_MASK) | EXCLUSIVE, Acquire, Relaxed)
                .is_ok()
    }

    /// Releases an exclusive latch after changing the page: bumps the version.
    #[inline]
    pub(crate) fn unlatch_exclusive(&self) {
        let s = self.0.load(Relaxed);
        debug_assert_eq!(s & LOCK_MASK, EXCLUSIVE);
        self.release_to((s & !LATCH_BYTE) + VERSION_ONE);
    }

    /// Releases an exclusive latch taken only to inspect the frame: nothing changed, so the version stays.
    #[inline]
    pub(crate) fn unlatch_exclusive_unchanged(&self) {
        let s = self.0.load(Relaxed);
        debug_assert_eq!(s & LOCK_MASK, EXCLUSIVE);
        self.release_to(s & !LATCH_BYTE);
    }

    /// Exclusive -> one shared holder, after a change: bumps the version. Returns the new version.
    #[inline]
    pub(crate) fn downgrade(&self) -> u64 {
        let s = self.0.load(Relaxed);
        debug_assert_eq!(s & LOCK_MASK, EXCLUSIVE);
        let new = (s & !LATCH_BYTE) + VERSION_ONE;
        self.release_to(new | 1);
        new >> 8
    }

    /// Exclusive -> `FREE` (the frame no longer holds a page): bumps the version. Returns the new version.
    pub(crate) fn unlatch_to_free(&self) -> u64 {
        let s = self.0.load(Relaxed);
        debug_assert_eq!(s & LOCK_MASK, EXCLUSIVE);
        let new = (s & !LATCH_BYTE) + VERSION_ONE;
        self.release_to(new | FREE);
        new >> 8
    }

    /// Starts an optimistic read: the version, unless the frame is exclusively latched or free.
    #[inline]
    pub(crate) fn optimistic_begin(&self) -> Option<u64> {
        let s = self.0.load(Acquire);
        match s & LOCK_MASK {
            EXCLUSIVE | FREE => None,
            _ => Some(s >> 8),
        }
    }

    /// Ends an optimistic read begun at `version`: true if no exclusive holder intervened.
    #[inline]
    pub(crate) fn optimistic_validate(&self, version: u64) -> bool {
        // Keep the preceding (atomic) data loads before the re-read of the word (seqlock reader).
        fence(Acquire);
        let s = self.0.load(Relaxed);
        s >> 8 == version && !matches!(s & LOCK_MASK, EXCLUSIVE | FREE)
    }
}

/// Marks a frame on the page-table chain's end.
pub(crate) const NIL: u32 = u32::MAX;

/// Everything the pool keeps per frame besides the page bytes. Cache-line aligned so two frames' hot words never
/// share a line.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct FrameHeader {
    pub(crate) state: StateWord,
    /// The page held, or `PageId::INVALID`. Written only under the exclusive latch (SeqCst: `close`/`drop_file`
    /// sweeps pair with it, see `pool.rs`).
    pub(crate) page_id: crate::sync::AtomicU64,
    /// Next frame on this page's page-table chain (`NIL` at the end); written only under the table's stripe lock.
    pub(crate) next: crate::sync::AtomicU32,
    /// Set by every write guard; cleared only by the writer of the page image, while writers are excluded.
    pub(crate) dirty: AtomicBool,
    /// A write-back of the page is in flight: claimed (`writer.rs`' `WriteClaim`) by a flush, a checkpoint or the
    /// background writer, under its shared latch on the frame, from before the page is copied until after the
    /// write returned and the dirty flag was cleared (or the write failed or was put off). Another write-back
    /// waits for the claim to end, then looks at the page again, usually clean: two at once, the later write could
    /// land after the other's sync (R49-1 in RELIABILITY.md; PostgreSQL's `BM_IO_IN_PROGRESS`). Writers holding
    /// the exclusive latch (an eviction, a close's sweep) never meet a claim: it is held only under a shared latch.
    pub(crate) writing: AtomicBool,
    /// The page LSN (also stored in the page header bytes).
    pub(crate) lsn: crate::sync::AtomicU64,
    /// Version at which a load into this frame failed (the error is in the pool's error slots); 0 if never.
    pub(crate) failed_version: std::sync::atomic::AtomicU64,
    /// The [`crate::sync::thread_token`] of the thread whose `WriteGuard` holds the exclusive latch, else 0. Set
    /// after the latch is taken and cleared before it is released, by that thread only, so a thread that reads
    /// its own token here does hold the latch (see [`FrameHeader::held_by_caller`]).
    pub(crate) owner: std::sync::atomic::AtomicU64,
    /// The file's `syncs_started + 1` when this frame's page was last written to storage; 0 if it was not written
    /// since it came into the frame. After a failed sync, a clean page written after the last good sync may not
    /// be on disk and is kept (see `BufferPool::evictable`). Reset whenever the frame's page id is cleared.
    pub(crate) written_at: AtomicU32,
    /// The page was on its file's free list when it was read into this frame (a stale copy a reader asked for
    /// after `free_page`; the load asks after mapping the page, `BufferPool::finish_load`, so `free_page` either
    /// discards the copy or is seen by it: P1): write guards are refused on it (`Error::PageFreed`) until
    /// `new_page` reuses it. Cleared whenever the frame's page id is.
    pub(crate) freed: AtomicBool,
    /// How many callbacks of the user's the pool runs now, on any thread, with this frame latched for them
    /// (`held::for_callback`: a load's `Storage::read_at`, a write run's `Wal` flush, a victim's veto, ...). A
    /// thread that runs a callback in frames of this pool does not wait for a frame whose count is not 0: the
    /// other thread's callback may be waiting for one of its frames (R37-1, `BufferPool::fix_with`).
    pub(crate) callbacks: AtomicU32,
    /// When the frame's current latch by guards began (coarse monotonic ns), or 0: diagnostics only
    /// (`latches.rs`, `BufferPool::held_latches`). In this line, so keeping it costs a hit no cache miss.
    pub(crate) latched_since: std::sync::atomic::AtomicU64,
    /// Debug builds: where the guard that began the current latch was taken (`latches.rs`).
    #[cfg(debug_assertions)]
    pub(crate) taken_at: parking_lot::Mutex<Option<&'static std::panic::Location<'static>>>,
}

// One cache line per frame header in release builds (debug builds add where each latch was taken).
#[cfg(all(not(debug_assertions), not(loom)))]
const _: () = assert!(std::mem::size_of::<FrameHeader>() == 64);

impl FrameHeader {
    pub(crate) fn new() -> FrameHeader {
        FrameHeader {
            state: StateWord::new_free(),
            page_id: crate::sync::AtomicU64::new(PageId::INVALID.as_u64()),
            next: crate::sync::AtomicU32::new(NIL),
            dirty: AtomicBool::new(false),
            writing: AtomicBool::new(false),
            lsn: crate::sync::AtomicU64::new(0),
            failed_version: std::sync::atomic::AtomicU64::new(0),
            owner: std::sync::atomic::AtomicU64::new(0),
            written_at: AtomicU32::new(0),
            freed: AtomicBool::new(false),
            callbacks: AtomicU32::new(0),
            latched_since: std::sync::atomic::AtomicU64::new(0),
            #[cfg(debug_assertions)]
            taken_at: parking_lot::Mutex::new(None),
        }
    }

    /// True if the calling thread holds this frame's latch through a guard: exclusively (a `WriteGuard`,
    /// `owner`) or shared (a `ReadGuard`, listed in the thread's `held.rs` list). Waiting for the frame's
    /// *exclusive* latch would wait for ever. Asked only when a wait finds the frame busy.
    ///
    /// Also true while the pool itself latches the frame, in any mode, for a callback of the user's running on
    /// this thread in it (`held::for_callback`: the page being loaded, written, or chosen as a victim).
    #[inline]
    pub(crate) fn held_by_caller(&self) -> bool {
        self.owned_by_caller()
            || {
                // An entry stands for a read guard of this thread, held or forgotten; a forgotten one's pool,
                // dropped, leaks its headers, so no other pool's header is at its address (`held.rs`). Trusted
                // only while the frame is latched shared all the same, as it is while the guard lives.
                let lock = self.state.load() & LOCK_MASK;
                (1..=SHARED_MAX).contains(&lock) && crate::held::holds_shared(self)
            }
            || crate::held::held_for_callback(self).is_some()
    }

    /// True if the calling thread holds this frame's exclusive latch through a `WriteGuard`: waiting for the
    /// frame's *shared* latch would wait for ever. A shared latch of the caller does not stop another one (the
    /// latch admits readers while readers hold it, whatever waits), so shared waits ask only this; were the latch
    /// ever to turn readers away while a writer waits, they would have to ask [`FrameHeader::held_by_caller`].
    ///
    /// Also true while the pool itself latches the frame exclusively for a callback of the user's running on this
    /// thread in it (a load's frame, a victim): listed by `held::for_callback`, and latched exclusively now, which
    /// while the list names the frame only this thread can be holding.
    #[inline]
    pub(crate) fn held_exclusive_by_caller(&self) -> bool {
        self.owned_by_caller()
            || (self.state.load() & LOCK_MASK == EXCLUSIVE && crate::held::held_for_callback(self).is_some())
    }

    /// True if the calling thread's `WriteGuard` holds this frame's exclusive latch (`owner`).
    #[inline]
    fn owned_by_caller(&self) -> bool {
        // Relaxed: only this thread ever stores its own token, so it reads its own last store or another's.
        self.owner.load(Relaxed) == crate::sync::thread_token()
    }

    /// The error for a wait on this frame that [`FrameHeader::held_by_caller`] or
    /// [`FrameHeader::held_exclusive_by_caller`] found would wait for the calling thread: the pool's
    /// [`Error::CallbackReentry`] when the latch is the pool's, held for a callback running on this thread, else
    /// [`Error::HeldByCaller`] (a guard of the caller's).
    #[cold]
    pub(crate) fn caller_hold_error(&self, page: PageId) -> crate::error::Error {
        match crate::held::held_for_callback(self) {
            Some(callback) if !self.owned_by_caller() => crate::error::Error::CallbackReentry { page, callback },
            _ => crate::error::Error::HeldByCaller { page },
        }
    }

    /// The frame holds no page any more (the caller holds its exclusive latch and has unmapped it): clears the
    /// page id (SeqCst: sweeps pair with it) and the per-page state that goes with it (`written_at`, `freed`).
    #[inline]
    pub(crate) fn clear_page(&self) {
        self.page_id.store(PageId::INVALID.as_u64(), SeqCst);
        self.written_at.store(0, Relaxed);
        self.freed.store(false, Relaxed);
    }

    #[inline]
    pub(crate) fn page_id(&self) -> PageId {
        PageId::from_u64(self.page_id.load(Acquire))
    }
}

/// The page bytes of every frame: one aligned allocation.
pub(crate) struct FrameMemory {
    buf: AlignedBuf,
    page_size: usize,
}

/// Asks the CPU to start loading the cache line holding `p` into its caches. A hint: no load the memory model
/// sees is made, nothing can fault whatever `p` is, and it compiles to nothing off x86-64 (and under Miri).
#[inline(always)]
pub(crate) fn prefetch_line<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: PREFETCHT0 neither reads memory as far as the program can observe nor faults, for any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

impl FrameMemory {
    /// `frames` zeroed pages of `page_size` bytes, or [`AllocFailed`] if the product overflows or the allocator
    /// refuses it.
    pub(crate) fn try_new(frames: usize, page_size: usize) -> Result<FrameMemory, AllocFailed> {
        let len = frames.checked_mul(page_size).ok_or(AllocFailed)?;
        let buf = if len >= HUGE_PAGE {
            AlignedBuf::try_zeroed_huge(len, HUGE_PAGE)?
        } else {
            AlignedBuf::try_zeroed_aligned(len, page_size)?
        };
        Ok(FrameMemory { buf, page_size })
    }

    #[inline]
    fn page_ptr(&self, idx: u32) -> *mut u8 {
        debug_assert!((idx as usize + 1) * self.page_size <= self.buf.len());
        // SAFETY: idx < frames (callers index from the header array of the same length), so the offset stays
        // inside the allocation.
        unsafe { self.buf.as_ptr().add(idx as usize * self.page_size) }
    }

    /// The whole page of frame `idx`.
    ///
    /// # Safety
    /// The caller holds a latch on frame `idx` (shared or exclusive), so no other thread writes these bytes for the
    /// lifetime of the returned slice.
    #[inline]
    pub(crate) unsafe fn page(&self, idx: u32) -> &[u8] {
        // SAFETY: in bounds (page_ptr); no concurrent writer per the caller's latch.
        unsafe { std::slice::from_raw_parts(self.page_ptr(idx), self.page_size) }
    }

    /// The whole page of frame `idx`, writable.
    ///
    /// # Safety
    /// The caller holds the exclusive latch on frame `idx` (so no other thread reads or writes these bytes except
    /// optimistic readers, who only use atomic loads and discard what they read unless the version validates),
    /// and does not create two overlapping slices from it.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn page_mut(&self, idx: u32) -> &mut [u8] {
        // SAFETY: in bounds (page_ptr); exclusive per the caller's latch.
        unsafe { std::slice::from_raw_parts_mut(self.page_ptr(idx), self.page_size) }
    }

    /// Frame `idx`'s whole page as a [`Region`] for atomic, unlatched reads.
    #[inline]
    pub(crate) fn region(&self, idx: u32) -> Region {
        Region {
            base: self.page_ptr(idx),
            len: self.page_size,
        }
    }

    /// Frame `idx`'s user region (the page after its header) as a [`Region`]: what an optimistic reader's
    /// `PageView` reads, located once per view.
    #[inline]
    pub(crate) fn user_region(&self, idx: u32) -> Region {
        Region {
            // PAGE_HEADER_SIZE < page_size: inside frame idx's page.
            base: self.page_ptr(idx).wrapping_add(crate::page::PAGE_HEADER_SIZE),
            len: self.page_size - crate::page::PAGE_HEADER_SIZE,
        }
    }

    /// Asks the CPU to start loading the cache lines of bytes `offset..offset + len` of frame `idx`'s page (clamped
    /// to the page). A hint: see [`prefetch_line`].
    #[inline]
    pub(crate) fn prefetch(&self, idx: u32, offset: usize, len: usize) {
        self.region(idx).prefetch(offset, len);
    }
}

/// A byte range of one frame's page (`base..base + len`), read without a latch: only atomic loads, whose results
/// callers discard unless the frame's version validates (see the module docs for the race with a latched writer's
/// plain stores). Made only by [`FrameMemory::region`] and [`FrameMemory::user_region`], so `base` is 8-aligned
/// (pages start at multiples of the page size in an IO_ALIGN-aligned allocation; the page header is 24 bytes) and
/// the range lies inside frame memory, which lives as long as the pool. Holding one is a pointer and a length: an
/// optimistic reader locates its page once, then each word it reads costs a bounds check and one load.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    base: *const u8,
    len: usize,
}

impl Region {
    /// Length in bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The little-endian `u64` at `offset`, read with one atomic load, if `offset` is 8-aligned and in bounds
    /// (`None` otherwise: use [`Region::read_atomic`]).
    #[inline]
    pub(crate) fn load_u64(&self, offset: usize) -> Option<u64> {
        if !offset.is_multiple_of(8) || offset >= self.len || self.len - offset < 8 {
            return None;
        }
        // SAFETY: offset + 8 <= len, so the word lies inside the region (inside frame memory, valid for the pool's
        // lifetime); base is 8-aligned and offset a multiple of 8, so the address is aligned. Only an atomic load
        // is made.
        let w = unsafe { std::sync::atomic::AtomicU64::from_ptr(self.base.add(offset).cast::<u64>().cast_mut()) };
        Some(u64::from_le(w.load(Relaxed)))
    }

    /// The little-endian word `index` of the region (bytes `8 * index..8 * index + 8`), read with one atomic load;
    /// an index past the last whole word reads the last whole word instead. No branch: an optimistic reader whose
    /// offsets came from a torn page reads some word of this page (and discards the result when the version does
    /// not validate) rather than testing every offset.
    #[inline(always)]
    pub(crate) fn load_word(&self, index: usize) -> u64 {
        // Regions are made with len >= 8 (a page is at least PageSize::MIN bytes, its header 24), so `last` is a
        // whole word of the region.
        debug_assert!(self.len >= 8);
        let last = self.len / 8 - 1;
        let i = index.min(last);
        // SAFETY: i <= last, so 8 * i + 8 <= len: the word lies inside the region (inside frame memory, valid for
        // the pool's lifetime); base is 8-aligned, so the address is aligned. Only an atomic load is made.
        let w = unsafe { std::sync::atomic::AtomicU64::from_ptr(self.base.add(8 * i).cast::<u64>().cast_mut()) };
        u64::from_le(w.load(Relaxed))
    }

    /// Asks the CPU to start loading the cache lines of bytes `offset..offset + len` (clamped to the region). A
    /// hint: see [`prefetch_line`].
    #[inline]
    pub(crate) fn prefetch(&self, offset: usize, len: usize) {
        let end = self.base as usize + offset.saturating_add(len).min(self.len);
        let mut at = self.base.wrapping_add(offset) as usize & !63;
        // Four lines a step while four remain (a node's slot array is 20 to 25 lines: the loop's compare and branch
        // once per four prefetches instead of once per line), then one at a time. Every address is in one of the
        // range's lines.
        while at + 3 * 64 < end {
            for line in 0..4 {
                // A hint for an address inside the region's lines: never faults, whatever it is.
                prefetch_line((at + 64 * line) as *const u8);
            }
            at += 4 * 64;
        }
        while at < end {
            prefetch_line(at as *const u8);
            at += 64;
        }
    }

    /// Copies `dst.len()` bytes at `offset` into `dst` with atomic loads. The bytes may be torn by a concurrent
    /// writer: callers validate the version afterwards.
    #[inline]
    pub(crate) fn read_atomic(&self, offset: usize, dst: &mut [u8]) {
        use std::sync::atomic::{AtomicU64 as A64, AtomicU8};
        assert!(
            offset <= self.len && dst.len() <= self.len - offset,
            "optimistic read out of the page (callers check first)"
        );
        let base = self.base.cast_mut();
        // Bytes up to the first 8-aligned address, then whole words (one relaxed load each: a plain `mov` on x86),
        // then the remaining bytes.
        let start = base as usize + offset;
        let head = (start.next_multiple_of(8) - start).min(dst.len());
        let words = (dst.len() - head) / 8;
        let load_byte = |i: usize| {
            // SAFETY: offset + i < offset + dst.len() <= len (asserted above): inside the region, which is valid
            // for the pool's lifetime; u8 needs no alignment.
            unsafe { AtomicU8::from_ptr(base.add(offset + i)) }.load(Relaxed)
        };
        for (i, b) in dst[..head].iter_mut().enumerate() {
            *b = load_byte(i);
        }
        for (k, chunk) in dst[head..head + words * 8].chunks_exact_mut(8).enumerate() {
            // SAFETY: start + head is 8-aligned, so every word address is; head + 8k + 8 <= dst.len(), so the word
            // is inside the region (asserted above) and valid for the pool's lifetime.
            let w = unsafe { A64::from_ptr(base.add(offset + head + 8 * k).cast::<u64>()) }.load(Relaxed);
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
        let tail_from = head + words * 8;
        for (i, b) in dst[tail_from..].iter_mut().enumerate() {
            *b = load_byte(tail_from + i);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn shared_latches_count_and_exclude_writers() {
        let w = StateWord::new_free();
        assert_eq!(w.try_latch_shared(), TryLatch::Free);
        assert!(w.latch_free_exclusive());
        w.unlatch_exclusive();
        let v0 = w.optimistic_begin().unwrap();
        assert_eq!(w.try_latch_shared(), TryLatch::Ok);
        assert_eq!(w.try_latch_shared(), TryLatch::Ok);
        assert!(matches!(w.try_latch_exclusive(), TryLatch::Busy { .. }));
        assert!(
            w.optimistic_validate(v0),
            "shared latches do not invalidate optimistic readers"
        );
        w.unlatch_shared();
        w.unlatch_shared();
        assert_eq!(w.try_latch_exclusive(), TryLatch::Ok);
        assert_eq!(w.optimistic_begin(), None);
        assert!(!w.optimistic_validate(v0));
        w.unlatch_exclusive();
        assert!(!w.optimistic_validate(v0), "an exclusive release bumps the version");
        assert_eq!(w.optimistic_begin(), Some(v0 + 1));
    }

    #[test]
    fn unchanged_release_keeps_version_and_free_bumps_it() {
        let w = StateWord::new_free();
        assert!(w.latch_free_exclusive());
        w.unlatch_exclusive();
        let v = w.optimistic_begin().unwrap();
        assert_eq!(w.try_latch_exclusive(), TryLatch::Ok);
        w.unlatch_exclusive_unchanged();
        assert!(w.optimistic_validate(v));
        assert_eq!(w.try_latch_exclusive(), TryLatch::Ok);
        let nv = w.unlatch_to_free();
        assert_eq!(nv, v + 1);
        assert_eq!(w.try_latch_exclusive(), TryLatch::Free);
        assert_eq!(w.optimistic_begin(), None);
    }

    #[test]
    fn upgrade_only_for_the_sole_shared_holder() {
        let w = StateWord::new_free();
        assert!(w.latch_free_exclusive());
        w.unlatch_exclusive();
        let v = w.optimistic_begin().unwrap();
        assert_eq!(w.try_latch_shared(), TryLatch::Ok);
        assert_eq!(w.try_latch_shared(), TryLatch::Ok);
        assert!(!w.try_upgrade(), "two shared holders");
        assert_eq!(w.load() & LOCK_MASK, 2, "a refused upgrade leaves both latches held");
        w.unlatch_shared();
        assert!(w.try_upgrade());
        assert_eq!(w.load() & LOCK_MASK, EXCLUSIVE);
        assert_eq!(w.try_latch_shared(), TryLatch::Busy { version: v });
        assert_eq!(w.optimistic_begin(), None, "optimistic readers stay out while upgraded");
        w.unlatch_exclusive();
        assert!(
            !w.optimistic_validate(v),
            "the release after an upgrade bumps the version"
        );
        assert_eq!(w.load() & LOCK_MASK, UNLATCHED);
    }

    #[test]
    fn shared_count_saturates_as_busy() {
        let w = StateWord::new_free();
        assert!(w.latch_free_exclusive());
        w.unlatch_exclusive();
        for _ in 0..SHARED_MAX {
            assert_eq!(w.try_latch_shared(), TryLatch::Ok);
        }
        assert!(matches!(w.try_latch_shared(), TryLatch::Busy { .. }));
    }

    /// A waiter kept out registers (`WAITERS`) and parks; the release clears the bit and wakes it (the waiter's
    /// park is bounded by an hour: a lost wakeup hangs the test instead of passing); a word that does not keep
    /// the waiter out never parks it.
    #[test]
    fn parked_waiter_is_woken_by_the_release() {
        use std::time::Duration;
        let hour = Duration::from_secs(3600);
        let w = std::sync::Arc::new(StateWord::new_free());
        assert!(w.latch_free_exclusive());
        // Kept out: registers, parks, times out (nobody releases).
        w.park_while_busy(LatchWait::Optimistic, Duration::from_millis(1));
        assert_ne!(
            w.load() & WAITERS,
            0,
            "an exclusive latch keeps an optimistic reader out"
        );
        w.unlatch_exclusive();
        assert_eq!(
            w.load() & (WAITERS | LOCK_MASK),
            UNLATCHED,
            "the release clears WAITERS"
        );
        assert_eq!(w.try_latch_exclusive(), TryLatch::Ok);
        let w2 = w.clone();
        let waiter = std::thread::spawn(move || {
            while w2.try_latch_exclusive() != TryLatch::Ok {
                w2.park_while_busy(LatchWait::Exclusive, hour);
            }
            w2.unlatch_exclusive_unchanged();
        });
        // Release only once the waiter has registered, so the release is what has to let it in.
        while w.load() & WAITERS == 0 {
            std::thread::yield_now();
        }
        w.unlatch_exclusive();
        waiter.join().unwrap();
        assert_eq!(w.load() & (WAITERS | LOCK_MASK), UNLATCHED);
        // Not kept out (shared holders, for a shared or optimistic waiter): returns at once, registers nothing.
        assert_eq!(w.try_latch_shared(), TryLatch::Ok);
        w.park_while_busy(LatchWait::Shared, hour);
        w.park_while_busy(LatchWait::Optimistic, hour);
        assert_eq!(w.load() & WAITERS, 0);
        w.unlatch_shared();
    }

    #[test]
    fn atomic_read_copies_bytes() {
        let m = FrameMemory::try_new(2, 4096).unwrap();
        // SAFETY: single-threaded test; nobody else touches frame 1.
        let p = unsafe { m.page_mut(1) };
        for (i, b) in p.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut out = [0u8; 21];
        m.region(1).read_atomic(3, &mut out);
        assert!(out.iter().enumerate().all(|(i, &b)| b == (i + 3) as u8));
        // Every split of head bytes, whole words and tail bytes, up to the page's end.
        for offset in (0..24).chain(4096 - 40..4096) {
            for len in 0..=(4096 - offset).min(40) {
                let mut out = vec![0u8; len];
                m.region(1).read_atomic(offset, &mut out);
                assert!(
                    out.iter().enumerate().all(|(i, &b)| b == (i + offset) as u8),
                    "offset {offset} len {len}"
                );
                if len == 8 && offset % 8 == 0 {
                    assert_eq!(
                        m.region(1).load_u64(offset).map(u64::to_le_bytes),
                        Some(out[..].try_into().unwrap())
                    );
                }
            }
        }
        assert_eq!(m.region(1).load_u64(4), None, "unaligned");
        assert_eq!(m.region(1).load_u64(4096), None, "out of the page");
        assert_eq!(m.region(1).load_u64(4090), None, "straddles the page's end");
        // The user region starts after the page header and ends with the page.
        let user = m.user_region(1);
        assert_eq!(user.len(), 4096 - crate::page::PAGE_HEADER_SIZE);
        assert_eq!(user.load_u64(0), m.region(1).load_u64(crate::page::PAGE_HEADER_SIZE));
        assert_eq!(user.load_u64(user.len() - 8), m.region(1).load_u64(4088));
        assert_eq!(user.load_u64(user.len()), None);
    }
}

/// Model checks of the state-word protocol under every interleaving loom explores. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p bufpool --lib --release loom_` (CI does).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicU64 as LAtomicU64, AtomicUsize};
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering::Relaxed;

    fn unlatched() -> StateWord {
        let w = StateWord::new_free();
        assert!(w.latch_free_exclusive());
        w.unlatch_exclusive();
        w
    }

    /// Shared and exclusive latches exclude each other: the data written under the exclusive latch is never seen
    /// half-written under a shared one (loom's UnsafeCell reports any unsynchronised access).
    #[test]
    fn loom_latch_exclusion() {
        loom::model(|| {
            let w = Arc::new(unlatched());
            let cell = Arc::new(loom::cell::UnsafeCell::new((0u64, 0u64)));
            let (w2, c2) = (w.clone(), cell.clone());
            let writer = thread::spawn(move || {
                while w2.try_latch_exclusive() != TryLatch::Ok {
                    thread::yield_now();
                }
                // SAFETY: exclusive latch held.
                c2.with_mut(|p| unsafe { *p = (1, 1) });
                w2.unlatch_exclusive();
            });
            while w.try_latch_shared() != TryLatch::Ok {
                thread::yield_now();
            }
            // SAFETY: shared latch held: no writer.
            let (a, b) = cell.with(|p| unsafe { *p });
            assert_eq!(a, b);
            w.unlatch_shared();
            writer.join().unwrap();
        });
    }

    /// An optimistic read that validates saw no write in progress: both words agree.
    #[test]
    fn loom_optimistic_validate() {
        loom::model(|| {
            let w = Arc::new(unlatched());
            let data = Arc::new((LAtomicU64::new(0), LAtomicU64::new(0)));
            let (w2, d2) = (w.clone(), data.clone());
            let writer = thread::spawn(move || {
                while w2.try_latch_exclusive() != TryLatch::Ok {
                    thread::yield_now();
                }
                d2.0.store(1, Relaxed);
                d2.1.store(1, Relaxed);
                w2.unlatch_exclusive();
            });
            if let Some(v) = w.optimistic_begin() {
                let b = data.1.load(Relaxed);
                let a = data.0.load(Relaxed);
                if w.optimistic_validate(v) {
                    assert_eq!(a, b, "validated read saw a write in progress");
                }
            }
            writer.join().unwrap();
        });
    }

    /// The evictor's CAS never takes a latched frame, and a frame it freed refuses latches.
    #[test]
    fn loom_evict_against_reader() {
        loom::model(|| {
            let w = Arc::new(unlatched());
            let holders = Arc::new(AtomicUsize::new(0));
            let (w2, h2) = (w.clone(), holders.clone());
            let evictor = thread::spawn(move || {
                if w2.try_latch_exclusive() == TryLatch::Ok {
                    assert_eq!(h2.load(Relaxed), 0, "evicted a latched frame");
                    w2.unlatch_to_free();
                    true
                } else {
                    false
                }
            });
            match w.try_latch_shared() {
                TryLatch::Ok => {
                    holders.fetch_add(1, Relaxed);
                    holders.fetch_sub(1, Relaxed);
                    w.unlatch_shared();
                }
                TryLatch::Free => {}
                TryLatch::Busy { .. } => {}
            }
            let evicted = evictor.join().unwrap();
            assert_eq!(evicted, w.try_latch_shared() == TryLatch::Free);
        });
    }

    /// Eviction against an optimistic reader: the evictor changes the frame's page (id and bytes) under the
    /// exclusive latch and frees it; a reader that validates must have seen the old page whole, never a mix.
    #[test]
    fn loom_evict_against_optimistic_reader() {
        loom::model(|| {
            let w = Arc::new(unlatched());
            // (page id, byte of the page): page 1 holds 10; the evictor loads page 2 holding 20.
            let frame = Arc::new((LAtomicU64::new(1), LAtomicU64::new(10)));
            let (w2, f2) = (w.clone(), frame.clone());
            let evictor = thread::spawn(move || {
                if w2.try_latch_exclusive() == TryLatch::Ok {
                    f2.0.store(2, Relaxed);
                    f2.1.store(20, Relaxed);
                    w2.downgrade();
                    w2.unlatch_shared();
                }
            });
            if let Some(v) = w.optimistic_begin() {
                let id = frame.0.load(Relaxed);
                let byte = frame.1.load(Relaxed);
                if w.optimistic_validate(v) {
                    assert_eq!(byte, id * 10, "validated read mixed two pages");
                }
            }
            evictor.join().unwrap();
        });
    }

    /// The dirty flag against a concurrent flush: a writer changes the page and sets the flag under the
    /// exclusive latch; a flusher under a shared latch writes the page if dirty and clears the flag after. Once
    /// both are done, either the flag is still set or what was written is the page's final content: no change is
    /// ever marked clean unwritten.
    #[test]
    fn loom_dirty_flag_against_flush() {
        use loom::sync::atomic::AtomicBool as LAtomicBool;
        loom::model(|| {
            let w = Arc::new(unlatched());
            let page = Arc::new(LAtomicU64::new(0));
            let dirty = Arc::new(LAtomicBool::new(false));
            let written = Arc::new(LAtomicU64::new(0));
            let (w2, p2, d2) = (w.clone(), page.clone(), dirty.clone());
            let writer = thread::spawn(move || {
                while w2.try_latch_exclusive() != TryLatch::Ok {
                    thread::yield_now();
                }
                p2.store(7, Relaxed);
                d2.swap(true, std::sync::atomic::Ordering::AcqRel);
                w2.unlatch_exclusive();
            });
            while w.try_latch_shared() != TryLatch::Ok {
                thread::yield_now();
            }
            if dirty.load(std::sync::atomic::Ordering::Acquire) {
                written.store(page.load(Relaxed), Relaxed);
                dirty.swap(false, std::sync::atomic::Ordering::AcqRel);
            }
            w.unlatch_shared();
            writer.join().unwrap();
            assert!(
                dirty.load(std::sync::atomic::Ordering::Acquire) || written.load(Relaxed) == page.load(Relaxed),
                "a change was marked clean without being written"
            );
        });
    }

    /// `bufpool-btree`'s covered change against a checkpoint (its `wal.rs`, "The redo point against a covered
    /// change"): a worker latches a leaf, dirties it, and reads the redo point (`redo`, 0 before the checkpoint)
    /// to decide whether to log the leaf's image; the checkpoint stores the new redo point (1), then scans the
    /// frame as the pool's `dirty_pages` does (state word, then dirty flag). With a SeqCst fence on each side
    /// (`fences`), a worker that read the old point and skipped the image is always seen by the scan. The real
    /// state word; the redo point and the dirty flag are loom's (the flag is `std`'s in `FrameHeader`).
    fn redo_point_against_dirty_scan(fences: (bool, bool)) {
        use loom::sync::atomic::AtomicBool as LAtomicBool;
        use std::sync::atomic::Ordering::{AcqRel, Acquire, SeqCst};
        loom::model(move || {
            let w = Arc::new(unlatched());
            let dirty = Arc::new(LAtomicBool::new(false));
            let redo = Arc::new(LAtomicU64::new(0));
            let (w2, d2, r2) = (w.clone(), dirty.clone(), redo.clone());
            let worker = thread::spawn(move || {
                while w2.try_latch_exclusive() != TryLatch::Ok {
                    thread::yield_now();
                }
                d2.swap(true, AcqRel);
                if fences.0 {
                    loom::sync::atomic::fence(SeqCst);
                }
                let skipped = r2.load(Relaxed) == 0;
                w2.unlatch_exclusive();
                skipped
            });
            redo.store(1, Relaxed);
            if fences.1 {
                loom::sync::atomic::fence(SeqCst);
            }
            let exclusive = w.load() & LOCK_MASK == EXCLUSIVE;
            let included = dirty.load(Acquire) || exclusive;
            let skipped = worker.join().unwrap();
            assert!(
                !skipped || included,
                "a leaf that skipped its image was missed by the checkpoint's scan"
            );
        });
    }

    #[test]
    fn loom_redo_point_against_dirty_scan() {
        redo_point_against_dirty_scan((true, true));
    }

    /// The mutation checks of `loom_redo_point_against_dirty_scan`: without either fence, loom finds the miss.
    #[test]
    #[should_panic(expected = "missed by the checkpoint's scan")]
    fn loom_redo_point_without_worker_fence_misses() {
        redo_point_against_dirty_scan((false, true));
    }

    #[test]
    #[should_panic(expected = "missed by the checkpoint's scan")]
    fn loom_redo_point_without_checkpoint_fence_misses() {
        redo_point_against_dirty_scan((true, false));
    }

    /// Two shared holders both try to upgrade: at most one succeeds, and while it writes (under the upgraded
    /// latch) no one else reads or writes (loom's UnsafeCell reports any unsynchronised access). An optimistic
    /// reader that validates saw either no write or the whole write.
    #[test]
    fn loom_upgrade_excludes_other_holders() {
        loom::model(|| {
            let w = Arc::new(unlatched());
            let cell = Arc::new(loom::cell::UnsafeCell::new((0u64, 0u64)));
            let upgrades = Arc::new(AtomicUsize::new(0));
            let run = {
                let (w, cell, upgrades) = (w.clone(), cell.clone(), upgrades.clone());
                move || {
                    while w.try_latch_shared() != TryLatch::Ok {
                        thread::yield_now();
                    }
                    // SAFETY: shared latch held: no writer.
                    let (a, b) = cell.with(|p| unsafe { *p });
                    assert_eq!(a, b, "read a half-written pair under a shared latch");
                    if w.try_upgrade() {
                        upgrades.fetch_add(1, Relaxed);
                        // SAFETY: the upgrade made this the only latch holder.
                        cell.with_mut(|p| unsafe { *p = (a + 1, b + 1) });
                        w.unlatch_exclusive();
                    } else {
                        w.unlatch_shared();
                    }
                }
            };
            let t = thread::spawn(run.clone());
            run();
            t.join().unwrap();
            let n = upgrades.load(Relaxed) as u64;
            assert!(n <= 2);
            while w.try_latch_shared() != TryLatch::Ok {
                thread::yield_now();
            }
            // SAFETY: shared latch held.
            assert_eq!(cell.with(|p| unsafe { *p }), (n, n), "an upgrade's write was lost");
            w.unlatch_shared();
        });
    }

    /// Single flight over the real page table and frame headers: two threads miss the same page. Each takes its
    /// own free frame, stores the page id and maps it (`insert_if_absent`, under the stripe lock) as
    /// `BufferPool::reserve` does; the one that loses the race frees its frame and looks again; the winner
    /// "reads" the page (its LSN) and downgrades. The other finds the mapping by the lock-free chain walk,
    /// latches, confirms the page id and must see the finished read. Exactly one read.
    #[test]
    fn loom_single_flight_miss() {
        use crate::page::{FileId, PageId};
        use crate::table::PageTable;
        use std::sync::atomic::Ordering::SeqCst;
        loom::model(|| {
            let headers: Arc<Vec<FrameHeader>> = Arc::new((0..2).map(|_| FrameHeader::new()).collect());
            let table = Arc::new(PageTable::try_new(2).unwrap());
            let reads = Arc::new(AtomicUsize::new(0));
            let page = PageId::new(FileId(0), 7);
            let run = {
                let (headers, table, reads) = (headers.clone(), table.clone(), reads.clone());
                move |me: usize| loop {
                    if let Some(idx) = table.lookup(page, &headers) {
                        let h = &headers[idx as usize];
                        match h.state.try_latch_shared() {
                            TryLatch::Ok if h.page_id() == page => {
                                assert_eq!(h.lsn.load(Relaxed), 42, "saw the page before its read finished");
                                h.state.unlatch_shared();
                                return;
                            }
                            TryLatch::Ok => h.state.unlatch_shared(),
                            _ => thread::yield_now(),
                        }
                        continue;
                    }
                    let h = &headers[me];
                    assert!(h.state.latch_free_exclusive());
                    h.page_id.store(page.as_u64(), SeqCst);
                    if table.insert_if_absent(page, me as u32, &headers).is_err() {
                        h.clear_page();
                        h.state.unlatch_to_free();
                        continue;
                    }
                    reads.fetch_add(1, Relaxed);
                    h.lsn.store(42, Relaxed);
                    h.state.downgrade();
                    h.state.unlatch_shared();
                    return;
                }
            };
            let r2 = run.clone();
            let t = thread::spawn(move || r2(1));
            run(0);
            t.join().unwrap();
            assert_eq!(reads.load(Relaxed), 1);
        });
    }

    /// The page table's answer is a hint confirmed under the latch: while one thread evicts page `p` from frame 0
    /// (exclusive latch, `remove`, clear the page id) and maps page `q` into it (the id stored before `insert`),
    /// another walks the chain for `p` without a lock. Whatever it finds, once it has latched a frame whose id
    /// is `p`, the frame's content is `p`'s: never `q`'s bytes under `p`'s name. Both pages share the bucket
    /// (a one-bucket table), so the walk crosses the relinking.
    #[test]
    fn loom_lookup_against_eviction_and_reuse() {
        use crate::page::{FileId, PageId};
        use crate::table::PageTable;
        use std::sync::atomic::Ordering::SeqCst;
        loom::model(|| {
            let headers: Arc<Vec<FrameHeader>> = Arc::new((0..2).map(|_| FrameHeader::new()).collect());
            let table = Arc::new(PageTable::try_new(1).unwrap());
            let (p, q) = (PageId::new(FileId(0), 1), PageId::new(FileId(0), 2));
            // Frame 0 holds p (LSN 1), unlatched.
            let h0 = &headers[0];
            assert!(h0.state.latch_free_exclusive());
            h0.page_id.store(p.as_u64(), SeqCst);
            table.insert_if_absent(p, 0, &headers).unwrap();
            h0.lsn.store(1, Relaxed);
            h0.state.unlatch_exclusive();
            let evictor = {
                let (headers, table) = (headers.clone(), table.clone());
                thread::spawn(move || {
                    let h = &headers[0];
                    if h.state.try_latch_exclusive() != TryLatch::Ok {
                        return; // the reader holds it: no eviction this time
                    }
                    assert!(table.remove(p, 0, &headers));
                    h.clear_page();
                    h.page_id.store(q.as_u64(), SeqCst);
                    table.insert_if_absent(q, 0, &headers).unwrap();
                    h.lsn.store(2, Relaxed);
                    h.state.unlatch_exclusive();
                })
            };
            if let Some(idx) = table.lookup(p, &headers) {
                let h = &headers[idx as usize];
                if h.state.try_latch_shared() == TryLatch::Ok {
                    if h.page_id() == p {
                        assert_eq!(h.lsn.load(Relaxed), 1, "another page's content under p's name");
                    }
                    h.state.unlatch_shared();
                }
            }
            evictor.join().unwrap();
        });
    }

    /// F1's protocol: a sweep marks the file closing, then reads each frame's page id; a `new_page` (or a load)
    /// stores its page id, then reads the closing mark, each side with a SeqCst fence between its store and its
    /// load (`FileEntry::begin_closing`, `FileEntry::is_closing`). At least one side sees the other: the sweep
    /// finds the page, or the new page undoes itself. Never both miss. (Loom models SeqCst accesses as AcqRel,
    /// under which this store-buffering pattern fails: the fences are what make it hold, in loom and in C++.)
    #[test]
    fn loom_sweep_against_new_page() {
        use std::sync::atomic::Ordering::SeqCst;
        loom::model(|| {
            let closing = Arc::new(loom::sync::atomic::AtomicU32::new(0));
            let page_id = Arc::new(LAtomicU64::new(0));
            let sweeper = {
                let (closing, page_id) = (closing.clone(), page_id.clone());
                thread::spawn(move || {
                    closing.fetch_add(1, SeqCst);
                    loom::sync::atomic::fence(SeqCst);
                    page_id.load(SeqCst) == 7
                })
            };
            page_id.store(7, SeqCst);
            loom::sync::atomic::fence(SeqCst);
            let undone = closing.load(SeqCst) > 0;
            let swept = sweeper.join().unwrap();
            assert!(swept || undone, "a page created during a sweep survived it");
        });
    }

    /// A thread that parks waiting for a latch is always woken by its release (no lost wakeup; see the module
    /// docs, "Waiting for a latch"): a holder releases (exclusive, changed or not, downgraded, or shared) while a
    /// waiter tries, sets `WAITERS` and parks. Loom's park has no timeout, so a lost wakeup deadlocks the model.
    #[test]
    fn loom_park_no_lost_wakeup() {
        for release in 0..4 {
            loom::model(move || {
                let w = Arc::new(unlatched());
                if release == 3 {
                    assert_eq!(w.try_latch_shared(), TryLatch::Ok);
                } else {
                    assert_eq!(w.try_latch_exclusive(), TryLatch::Ok);
                }
                let w2 = w.clone();
                let waiter = thread::spawn(move || {
                    while w2.try_latch_exclusive() != TryLatch::Ok {
                        w2.park_while_busy(LatchWait::Exclusive, std::time::Duration::MAX);
                    }
                    w2.unlatch_exclusive();
                });
                match release {
                    0 => w.unlatch_exclusive(),
                    1 => w.unlatch_exclusive_unchanged(),
                    2 => {
                        w.downgrade();
                        w.unlatch_shared();
                    }
                    _ => w.unlatch_shared(),
                }
                waiter.join().unwrap();
                assert_eq!(w.load() & (WAITERS | LOCK_MASK), UNLATCHED);
            });
        }
    }

    /// Two waiters (an optimistic reader and a writer) on one exclusive holder: both get through. Three threads
    /// with retry loops: explored with at most two preemptions (loom's bound), which still covers the waiter that
    /// parks between a release and the other waiter's re-park.
    #[test]
    fn loom_park_two_waiters() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let w = Arc::new(unlatched());
            assert_eq!(w.try_latch_exclusive(), TryLatch::Ok);
            let (wa, wb) = (w.clone(), w.clone());
            let reader = thread::spawn(move || {
                while wa.optimistic_begin().is_none() {
                    wa.park_while_busy(LatchWait::Optimistic, std::time::Duration::MAX);
                }
            });
            let writer = thread::spawn(move || {
                while wb.try_latch_exclusive() != TryLatch::Ok {
                    wb.park_while_busy(LatchWait::Exclusive, std::time::Duration::MAX);
                }
                wb.unlatch_exclusive();
            });
            w.unlatch_exclusive();
            reader.join().unwrap();
            writer.join().unwrap();
        });
    }
}
