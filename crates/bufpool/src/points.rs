//! Named points in the pool's own code where a test runs code of its own on the thread that reaches them (feature
//! `testing`), to script a race whose window no callback of the user's reaches. Without the feature a point is an
//! empty inline function and nothing here is compiled.
//!
//! A hook is set per thread ([`on_points`]): the thread a test arms is the only one held, so tests running at
//! once in one binary do not meet each other's hooks. Points:
//! - [`EVICT_DROP_UNWRITABLE`]: an eviction of a failed file's unwritable page, before the page is dropped
//!   (R49-O10 in RELIABILITY.md).

/// An eviction (`BufferPool::evict`) of a page of a failed file that would be lost (dirty, or written since the
/// last good sync): reached after the victim was chosen, before the page is dropped if its file is over its bound
/// (the decision, the drop and the file's count of unwritable frames then go together, under the count's lock).
pub const EVICT_DROP_UNWRITABLE: &str = "evict: dropping a failed file's unwritable page";

/// A thread's hook: called with the name of each point the thread reaches.
#[cfg(feature = "testing")]
pub type Hook = Box<dyn FnMut(&'static str)>;

#[cfg(feature = "testing")]
std::thread_local! {
    static HOOK: std::cell::RefCell<Option<Hook>> = const { std::cell::RefCell::new(None) };
}

/// Sets (or, with `None`, clears) the calling thread's hook: from now on every point this thread reaches calls it
/// with the point's name (one of this module's constants). A point reached while the hook runs (the hook calls
/// the pool) does not call it again.
#[cfg(feature = "testing")]
pub fn on_points(hook: Option<Hook>) {
    HOOK.with(|h| *h.borrow_mut() = hook);
}

/// Point `name`: the calling thread's hook, if it set one.
#[cfg(feature = "testing")]
#[cold]
pub(crate) fn point(name: &'static str) {
    let hook = HOOK
        .try_with(|h| h.try_borrow_mut().ok().and_then(|mut h| h.take()))
        .ok()
        .flatten();
    if let Some(mut hook) = hook {
        hook(name);
        let _ = HOOK.try_with(|h| {
            if let Ok(mut slot) = h.try_borrow_mut() {
                slot.get_or_insert(hook);
            }
        });
    }
}

/// Point `name`: nothing without the feature `testing`.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub(crate) fn point(_name: &'static str) {}
