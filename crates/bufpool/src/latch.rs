//! Frame latch tokens: how the pool's own code holds a frame's latch.
//!
//! Owns [`ExclusiveFrame`], [`SharedFrame`] and [`Victim`] (an exclusive frame taken for eviction). Every latch
//! the pool takes outside the user guards is one of these, so the release is paired with the acquisition by the
//! type, not by hand on every path: a token can be given up only through its own methods (release unchanged,
//! release changed, release to the free state, downgrade, or hand-over to a user guard), and one dropped without
//! that (an early return, a `?`, a panic unwinding through the pool) releases its latch on the way out; a victim
//! dropped so also goes back into the policy. The user guards ([`crate::ReadGuard`], [`crate::WriteGuard`]) hold
//! these tokens too.
//!
//! What a drop does is the safe default for each mode: a shared token just releases; an exclusive token releases
//! *changed* (bumps the version), so that an optimistic reader that ran meanwhile retries rather than trusting
//! bytes the holder may have been writing. A frame reserved for a load (mapped, exclusively latched, its bytes
//! not yet read) needs more than a release on failure: the load's owner unmaps it (`BufferPool::finish_load`, and
//! `LoadBatch` for batches, which does it on unwind too).
//!
//! The state word's raw operations (`frame.rs`) are called from here, from the guards through these tokens, and
//! from the loom models; nowhere else.

use std::marker::PhantomData;

use crate::frame::{FrameHeader, TryLatch};
use crate::page::PageId;
use crate::policy::FrameIdx;
use crate::pool::BufferPool;

/// The frame a token latches: what both tokens can tell about it (reached through their `Deref`). Built only
/// inside a token, and neither `Clone` nor `Copy`, so a `FrameRef` always stands for a held latch.
pub(crate) struct FrameRef<'p> {
    pool: &'p BufferPool,
    idx: FrameIdx,
    /// The frame's header, looked up once: the hit path asks for it several times, each side of atomic
    /// operations that would make the compiler index (and bounds-check) the header array again.
    header: &'p FrameHeader,
}

impl<'p> FrameRef<'p> {
    /// The pool the frame belongs to.
    #[inline]
    pub(crate) fn pool(&self) -> &'p BufferPool {
        self.pool
    }

    /// The frame.
    #[inline]
    pub(crate) fn idx(&self) -> FrameIdx {
        self.idx
    }

    /// The frame's header.
    #[inline]
    pub(crate) fn header(&self) -> &'p FrameHeader {
        self.header
    }

    /// The page the frame holds (`PageId::INVALID` for none).
    #[inline]
    pub(crate) fn page_id(&self) -> PageId {
        self.header().page_id()
    }

    /// The frame's bytes (the whole page, header included).
    #[inline]
    pub(crate) fn page(&self) -> &[u8] {
        // SAFETY: a FrameRef lives only inside a token, whose latch excludes every writer but the token's own
        // holder; the borrow is tied to &self, hence to the token, and an exclusive token's `page_mut` takes
        // &mut self, so no slice from here is alive while it writes.
        unsafe { self.pool.memory().page(self.idx) }
    }
}

/// An exclusive latch on a frame, held by the calling code (see the module docs). Not `Send`: a latch is
/// released by the thread that took it.
#[must_use = "dropping the token releases the latch at once"]
pub(crate) struct ExclusiveFrame<'p> {
    at: FrameRef<'p>,
    _not_send: PhantomData<*const ()>,
}

impl<'p> ExclusiveFrame<'p> {
    /// Latches frame `idx` exclusively if it holds a page and nobody else latches it: otherwise `Busy` (with the
    /// version seen) or `Free`.
    #[inline]
    pub(crate) fn try_latch(pool: &'p BufferPool, idx: FrameIdx) -> Result<Self, TryLatch> {
        Self::try_latch_found(pool, idx, pool.header(idx))
    }

    /// [`ExclusiveFrame::try_latch`] with the frame's header, `pool.header(idx)`, as a lookup found it (the hit
    /// path: no second bounds check of the index).
    #[inline]
    pub(crate) fn try_latch_found(
        pool: &'p BufferPool,
        idx: FrameIdx,
        header: &'p FrameHeader,
    ) -> Result<Self, TryLatch> {
        match header.state.try_latch_exclusive() {
            TryLatch::Ok => Ok(ExclusiveFrame {
                at: FrameRef { pool, idx, header },
                _not_send: PhantomData,
            }),
            other => Err(other),
        }
    }

    /// Latches frame `idx`, just taken from the free list (so nobody else may latch it), exclusively.
    pub(crate) fn latch_free(pool: &'p BufferPool, idx: FrameIdx) -> Option<Self> {
        pool.header(idx)
            .state
            .latch_free_exclusive()
            .then(|| Self::adopt(pool, idx))
    }

    /// Takes over the exclusive latch on `idx` that the calling thread took without a token: in a policy's victim
    /// callback (`BufferPool::try_take`, which the policy calls by frame index), or a user guard's latch handed
    /// back to pool code. The caller must hold that latch and own it from here on.
    #[inline]
    pub(crate) fn adopt(pool: &'p BufferPool, idx: FrameIdx) -> Self {
        debug_assert_eq!(
            pool.header(idx).state.load() & crate::frame::LOCK_MASK,
            crate::frame::EXCLUSIVE,
            "adopting a latch that is not held exclusively"
        );
        ExclusiveFrame {
            at: FrameRef {
                pool,
                idx,
                header: pool.header(idx),
            },
            _not_send: PhantomData,
        }
    }

    /// The frame's bytes, to change (the whole page, header included).
    #[inline]
    pub(crate) fn page_mut(&mut self) -> &mut [u8] {
        // SAFETY: this token holds the exclusive latch, and &mut self makes this the only live slice from it.
        unsafe { self.at.pool.memory().page_mut(self.at.idx) }
    }

    /// Releases the latch, taken only to inspect the frame: the version stays, so optimistic readers that ran
    /// meanwhile validate.
    #[inline]
    pub(crate) fn release_unchanged(self) {
        self.header().state.unlatch_exclusive_unchanged();
        std::mem::forget(self);
    }

    /// Releases the latch after changing the page: bumps the version (what a drop does).
    #[inline]
    pub(crate) fn release_changed(self) {
        drop(self);
    }

    /// Releases the latch of a frame that no longer holds a page (its page cleared): the frame becomes *free*.
    /// Returns the new version.
    pub(crate) fn release_to_free(self) -> u64 {
        debug_assert_eq!(self.page_id(), PageId::INVALID, "a freed frame holds no page");
        let v = self.header().state.unlatch_to_free();
        std::mem::forget(self);
        v
    }

    /// Hands the latch of a frame reserved for a load to a `LoadBatch` (which may pass it to an I/O worker), by
    /// index: the batch finishes the load exactly once, on drop too, and adopts the latch back to do it.
    pub(crate) fn into_reserved(self) -> FrameIdx {
        let idx = self.at.idx;
        std::mem::forget(self);
        idx
    }

    /// Turns the latch into a shared one (after a change: bumps the version) without letting a writer in.
    #[inline]
    pub(crate) fn downgrade(self) -> SharedFrame<'p> {
        let (pool, idx) = (self.at.pool, self.at.idx);
        pool.header(idx).state.downgrade();
        std::mem::forget(self);
        SharedFrame::adopt(pool, idx)
    }
}

impl<'p> std::ops::Deref for ExclusiveFrame<'p> {
    type Target = FrameRef<'p>;
    #[inline]
    fn deref(&self) -> &FrameRef<'p> {
        &self.at
    }
}

impl Drop for ExclusiveFrame<'_> {
    #[inline]
    fn drop(&mut self) {
        self.header().state.unlatch_exclusive();
    }
}

/// A frame taken as an eviction victim: exclusively latched and no longer tracked by the policy (the policy's
/// `victim` dropped it, or the scan ring's take-back did). Consumed by a successful eviction
/// ([`Victim::into_unmapped`], once the caller has unmapped it); dropped otherwise (a failed write, an error, a
/// panic), it goes back as it was: tracked again and released unchanged.
#[must_use = "dropping a victim puts it back in the policy"]
pub(crate) struct Victim<'p> {
    frame: Option<ExclusiveFrame<'p>>,
}

impl<'p> Victim<'p> {
    /// A victim whose exclusive latch the calling thread holds (taken by `BufferPool::try_take`, or a scan ring's
    /// take-back) and which the policy no longer tracks.
    pub(crate) fn adopt(frame: ExclusiveFrame<'p>) -> Self {
        Victim { frame: Some(frame) }
    }

    /// The evicted frame, its page unmapped by the caller: it leaves the policy for good.
    pub(crate) fn into_unmapped(mut self) -> ExclusiveFrame<'p> {
        let frame = self.frame.take().expect("a victim holds its frame until consumed");
        debug_assert_eq!(frame.page_id(), PageId::INVALID, "an evicted victim is unmapped");
        frame
    }
}

impl<'p> std::ops::Deref for Victim<'p> {
    type Target = ExclusiveFrame<'p>;
    #[inline]
    fn deref(&self) -> &ExclusiveFrame<'p> {
        self.frame.as_ref().expect("a victim holds its frame until consumed")
    }
}

impl Drop for Victim<'_> {
    fn drop(&mut self) {
        if let Some(frame) = self.frame.take() {
            {
                // Listed as held for the callback, as every insert's frame is: a policy reading the page it is
                // told of gets `CallbackReentry`, not a wait for this thread's own latch (R37-21).
                let _for = crate::held::for_callback("Policy::on_insert", [frame.header()]);
                frame
                    .pool()
                    .core
                    .policy
                    .on_insert(frame.idx(), frame.page_id().as_u64());
            }
            frame.release_unchanged();
        }
    }
}

/// A shared latch on a frame, held by the calling code (see the module docs).
#[must_use = "dropping the token releases the latch at once"]
pub(crate) struct SharedFrame<'p> {
    at: FrameRef<'p>,
}

impl<'p> SharedFrame<'p> {
    /// Latches frame `idx` shared if it holds a page and no writer latches it: otherwise `Busy` (with the version
    /// seen) or `Free`.
    #[inline]
    pub(crate) fn try_latch(pool: &'p BufferPool, idx: FrameIdx) -> Result<Self, TryLatch> {
        Self::try_latch_found(pool, idx, pool.header(idx))
    }

    /// [`SharedFrame::try_latch`] with the frame's header, `pool.header(idx)`, as a lookup found it (the hit path:
    /// no second bounds check of the index).
    #[inline]
    pub(crate) fn try_latch_found(
        pool: &'p BufferPool,
        idx: FrameIdx,
        header: &'p FrameHeader,
    ) -> Result<Self, TryLatch> {
        match header.state.try_latch_shared() {
            TryLatch::Ok => Ok(SharedFrame {
                at: FrameRef { pool, idx, header },
            }),
            other => Err(other),
        }
    }

    /// Takes over a shared latch on `idx` that the calling code holds without a token.
    #[inline]
    pub(crate) fn adopt(pool: &'p BufferPool, idx: FrameIdx) -> Self {
        SharedFrame {
            at: FrameRef {
                pool,
                idx,
                header: pool.header(idx),
            },
        }
    }

    /// Turns the shared latch into an exclusive one if it is the only one; otherwise gives the token back.
    #[inline]
    pub(crate) fn try_upgrade(self) -> Result<ExclusiveFrame<'p>, Self> {
        if !self.header().state.try_upgrade() {
            return Err(self);
        }
        let (pool, idx) = (self.at.pool, self.at.idx);
        std::mem::forget(self);
        Ok(ExclusiveFrame::adopt(pool, idx))
    }

    /// Releases the latch (what a drop does).
    #[inline]
    pub(crate) fn release(self) {
        drop(self);
    }
}

impl<'p> std::ops::Deref for SharedFrame<'p> {
    type Target = FrameRef<'p>;
    #[inline]
    fn deref(&self) -> &FrameRef<'p> {
        &self.at
    }
}

impl Drop for SharedFrame<'_> {
    #[inline]
    fn drop(&mut self) {
        self.header().state.unlatch_shared();
    }
}
