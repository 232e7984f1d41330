//! A caller's replacement policy ([`crate::Builder::custom_policy`]) run under the pool's panic wrapper.
//!
//! Owns [`CaughtPolicy`], the one `Policy` the pool holds when it was given a policy object, and the thread's
//! slot for a policy panic ([`take_policy_panic`]). The built-in policies run bare (their hit path is the pool's
//! hottest code and they do not panic); every policy object runs through this wrapper (R19-20 in
//! RELIABILITY.md).
//!
//! Before it, a policy's panic unwound through the pool's own code. In `victim`, after `try_take` had latched a
//! frame and forgotten the latch for the policy's caller to adopt, the frame stayed latched for good: every later
//! read of its page waited for ever, and `close_file`/`drop_file` of its file failed with `PageLatched`.
//!
//! Invariants:
//! - A panic of any policy call is caught. The first one *fails* the policy for good: its state is unknown (a
//!   half-done list, a lock left poisoned), so it is never called again. A failed policy tracks nothing, offers
//!   no victim, and every request for a victim leaves the panic's [`Error::Panicked`] in the asking thread's slot,
//!   which the pool's caller returns. Resident pages and free frames go on serving.
//! - A frame `try_take` accepted during a `victim` call that panicked is returned as the victim (the calling
//!   thread holds its latch): the pool's caller finds the panic in its slot and releases the frame unchanged
//!   (`Victim`'s drop), its page still mapped and readable. Nothing is left latched.
//! - The pool adopts the latch of the frame `victim` returns, so the answer is checked, not trusted (R20-1): a
//!   request accepts at most one frame (a second `try_take` is refused without asking the pool), and an answer
//!   other than that frame (one never accepted, out of range, or `None` after a take) fails the policy as a
//!   panic does, with an [`Error::Panicked`] that says so; the frame it took goes back unchanged. Before, the
//!   pool adopted a latch nobody held (two owners of a frame a guard still read), indexed out of range (a
//!   panic), or left a taken frame latched for good.
//! - So is what the policy offers `try_take` (R34-1): an index the pool does not have (`frames` or above) is
//!   refused without reaching the pool, and fails the policy as a panic does once its call returns. Before, the
//!   pool's `try_take` indexed its frame headers with it: a panic of the pool's own (an index out of bounds,
//!   printed by the panic hook, an abort under `panic = "abort"`), which this wrapper then reported as the
//!   policy's.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::*};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::policy::{FrameIdx, Policy};

thread_local! {
    /// A policy panic met by a victim request on this thread (see [`take_policy_panic`]).
    static POLICY_PANIC: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Takes the policy panic met on this thread by the last victim request, if any. (`try_with`: a thread being torn
/// down, past this thread-local's life, keeps none; its victim request found no victim all the same.)
pub(crate) fn take_policy_panic() -> Option<Error> {
    POLICY_PANIC.try_with(|p| p.borrow_mut().take()).ok().flatten()
}

/// Leaves `e` for this thread's caller of the victim request.
fn keep_for_caller(e: Error) {
    let _ = POLICY_PANIC.try_with(|p| *p.borrow_mut() = Some(e));
}

/// A policy object whose panics are caught (see the module docs).
pub(crate) struct CaughtPolicy {
    inner: Box<dyn Policy>,
    /// The pool's frame count: `try_take` is offered indices below it only.
    frames: usize,
    /// Set by the first panic: the policy is not called again. Checked on every call (relaxed: a call racing the
    /// panic may still reach the policy, which the policy's own state must survive as any concurrent call).
    failed: AtomicBool,
    /// The first panic, for every later victim request.
    panic: Mutex<Option<Error>>,
}

impl CaughtPolicy {
    /// `inner`, for a pool of `frames` frames.
    pub(crate) fn new(inner: Box<dyn Policy>, frames: usize) -> CaughtPolicy {
        CaughtPolicy {
            inner,
            frames,
            failed: AtomicBool::new(false),
            panic: Mutex::new(None),
        }
    }

    /// The policy's [`Policy::frames`], or the builder's error if it panicked.
    pub(crate) fn made_for(&self) -> Result<Option<usize>> {
        catch_unwind(AssertUnwindSafe(|| self.inner.frames())).map_err(|p| Error::panicked("Policy::frames", p))
    }

    /// The kept panic, if the policy has failed.
    fn panic(&self) -> Option<Error> {
        self.panic.lock().clone()
    }

    /// Runs `call` unless the policy has failed; a panic fails it (`None` then).
    #[inline]
    fn call<T>(&self, what: &'static str, call: impl FnOnce() -> T) -> Option<T> {
        if self.failed.load(Relaxed) {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(v) => Some(v),
            Err(payload) => {
                self.fail(|| Error::panicked(what, payload));
                None
            }
        }
    }

    /// A victim request: the policy's answer, checked against what `try_take` accepted. After a panic, or an
    /// answer that breaks the contract, the frame `try_take` accepted (if any) with the error left in this
    /// thread's slot (see the module docs).
    fn victim_with(
        &self,
        what: &'static str,
        try_take: &mut dyn FnMut(FrameIdx) -> bool,
        victim: impl FnOnce(&mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx>,
    ) -> Option<FrameIdx> {
        let mut taken = None;
        let mut offered_out_of_range = None;
        let mut take = |idx: FrameIdx| {
            // An index the pool does not have would index its headers out of bounds (R34-1).
            if idx as usize >= self.frames {
                offered_out_of_range.get_or_insert(idx);
                return false;
            }
            // One frame per request: a second one accepted would stay latched for good (R20-1).
            if taken.is_some() {
                return false;
            }
            let took = try_take(idx);
            if took {
                taken = Some(idx);
            }
            took
        };
        let chosen = self.call(what, || victim(&mut take));
        if let Some(idx) = offered_out_of_range {
            self.fail(|| Error::Panicked {
                what,
                message: format!(
                    "broke the Policy contract: offered frame {idx} to try_take, but the pool has {} frames",
                    self.frames
                )
                .into(),
            });
            self.leave_for_caller();
            return taken;
        }
        match chosen {
            Some(chosen) if chosen == taken => chosen,
            Some(chosen) => {
                // A frame it was not given (latched by nobody, held by a guard, out of range), or none although
                // it took one: the caller would adopt a latch it does not hold (R20-1). Failed as by a panic.
                self.fail(|| Error::Panicked {
                    what,
                    message: format!(
                        "broke the Policy contract: returned {}, but try_take had accepted {}",
                        frame_name(chosen),
                        frame_name(taken)
                    )
                    .into(),
                });
                self.leave_for_caller();
                taken
            }
            None => {
                self.leave_for_caller();
                taken
            }
        }
    }

    /// Fails the policy for good, keeping `error` unless an earlier failure is kept.
    fn fail(&self, error: impl FnOnce() -> Error) {
        self.panic.lock().get_or_insert_with(error);
        self.failed.store(true, Release);
    }

    /// Leaves the kept failure, if the policy has failed, in this thread's slot for the victim request's caller.
    fn leave_for_caller(&self) {
        if let Some(e) = self.panic() {
            keep_for_caller(e);
        }
    }
}

/// A victim answer, for an error message.
fn frame_name(frame: Option<FrameIdx>) -> String {
    frame.map_or_else(|| "no frame".into(), |f| format!("frame {f}"))
}

impl Policy for CaughtPolicy {
    fn name(&self) -> &'static str {
        // Asked of a failed policy too (the pool's `Debug`, `policy_name`): a name that panics has none.
        catch_unwind(AssertUnwindSafe(|| self.inner.name())).unwrap_or("(a policy whose name panicked)")
    }

    fn frames(&self) -> Option<usize> {
        self.call("Policy::frames", || self.inner.frames()).flatten()
    }

    #[inline]
    fn on_hit(&self, frame: FrameIdx) {
        self.call("Policy::on_hit", || self.inner.on_hit(frame));
    }

    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.call("Policy::on_insert", || self.inner.on_insert(frame, key));
    }

    fn on_remove(&self, frame: FrameIdx) {
        self.call("Policy::on_remove", || self.inner.on_remove(frame));
    }

    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.victim_with("Policy::victim", try_take, |take| self.inner.victim(take))
    }

    fn victim_for(&self, key: u64, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.victim_with("Policy::victim_for", try_take, |take| self.inner.victim_for(key, take))
    }
}
