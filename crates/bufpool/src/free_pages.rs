//! A file's free page numbers, and who owns each number while `new_page` or `free_page` moves it.
//!
//! Owns [`FreePages`], the free list of one open file (`FileEntry::free`), and the two tokens that move a
//! number across it: an [`Allocation`] (`new_page` took the number off the list, or added it at the end of the
//! file, and has not handed it out yet) and a [`FreeClaim`] (`free_page` took the number from its user and has
//! not put it on the list yet).
//!
//! Invariant: a page number below the file's page count is owned by exactly one party at a time: the user (it is
//! allocated), the free list, one `new_page` in progress (`allocating`), or one `free_page` in progress
//! (`freeing`). Every move between them happens under the list's mutex, and the tokens make the in-progress
//! states impossible to leave by hand: an `Allocation` dropped without [`Allocation::hand_out`] puts its number
//! back on the list, a `FreeClaim` dropped without [`FreeClaim::commit`] gives it back to the user. So
//! `free_page`'s "is it the user's?" decision and its insert cannot straddle a `new_page`'s pop: a second
//! `free_page` of one number (a double free, or a call begun before a close and reopen that looks the file up
//! after it) finds the number owned by the list, an allocation or the first call, and fails with
//! `Error::PageFreed`; before this, it could put a number back on the list while `new_page` gave it out (O5 in
//! RELIABILITY.md, `tests/new_page_vs_double_free.rs`).
//!
//! A number reaches the list only when no unmarked copy of its page can be in the pool: a load asks the list
//! ([`FreeList::is_free`]) after it mapped the page, and marks its copy freed (write guards refused) if the
//! number is listed; a `FreeClaim` commits either with the page's one copy latched exclusively by the
//! committing `free_page` (discarded right after), or, with no copy, only after confirming under the list's
//! mutex that none is mapped ([`FreeClaim::commit_unless_cached`]). So a load that asked the list before the
//! commit had mapped its copy before it, and that copy is the one `free_page` discards; every later load finds
//! the number listed. Before this, `free_page` looked the page up, then committed, and a load between the two
//! kept an unmarked copy that took write guards (P1 in RELIABILITY.md, `tests/free_page_vs_load.rs`).
//!
//! Lock order: the mutex is taken briefly and never while waiting for a latch; a frame latch may be held while
//! it is taken (a load asking `is_free`, `free_page` committing). Under it a page-table stripe lock may be taken
//! (`new_page` maps its page, `free_page` confirms a miss), never the other way (ARCHITECTURE.md, "Lock
//! order"). The tokens take it in `hand_out`, `commit` and on drop: never drop or settle one while holding the
//! mutex.

use std::collections::BTreeSet;

use parking_lot::{Mutex, MutexGuard};

use crate::page::PageNo;

/// The numbers of one file that are not the user's: on the free list, or on their way to or from it.
#[derive(Default)]
pub(crate) struct FreePages {
    /// The free list: numbers freed and not taken since, reused lowest first. In memory only (see
    /// `BufferPool::free_page`).
    free: BTreeSet<PageNo>,
    /// Numbers a `new_page` took off the list and has not handed out yet (one per call in progress).
    allocating: BTreeSet<PageNo>,
    /// Numbers a `free_page` claimed from the user and has not put on the list yet (one per call in progress).
    freeing: BTreeSet<PageNo>,
}

impl FreePages {
    /// Whether `page_no` is owned by the pool (listed, or moving), not by the user.
    fn held(&self, page_no: PageNo) -> bool {
        self.free.contains(&page_no) || self.allocating.contains(&page_no) || self.freeing.contains(&page_no)
    }
}

/// A file's free list behind its mutex (also `new_page`'s allocation lock: see `BufferPool::new_page`).
#[derive(Default)]
pub(crate) struct FreeList {
    pages: Mutex<FreePages>,
}

impl FreeList {
    /// Locks the list (`new_page`'s allocation lock).
    pub(crate) fn lock(&self) -> MutexGuard<'_, FreePages> {
        self.pages.lock()
    }

    /// Whether `page_no` is on the free list (freed, not taken by a `new_page` since). A load asks it after mapping
    /// its page. A number in transit is not listed: a load that meets one is part of the `new_page` reusing it
    /// (or a stale read that `new_page` takes over), or runs before a `free_page`'s commit, which then finds the
    /// load's copy mapped and discards it ([`FreeClaim::commit_unless_cached`]).
    pub(crate) fn is_free(&self, page_no: PageNo) -> bool {
        let pages = self.pages.lock();
        !pages.free.is_empty() && pages.free.contains(&page_no)
    }

    /// Takes the lowest free number off the list for a `new_page`; `locked` is this list, locked by the caller.
    pub(crate) fn take_freed<'a>(&'a self, locked: &mut FreePages) -> Option<Allocation<'a>> {
        debug_assert!(std::ptr::eq(locked, self.pages.data_ptr()), "another list's lock");
        let page_no = locked.free.pop_first()?;
        let fresh = locked.allocating.insert(page_no);
        assert!(fresh, "page {page_no} was on the free list and allocating at once");
        Some(Allocation {
            list: self,
            page_no,
            settled: false,
        })
    }

    /// Records `page_no`, which a `new_page` has just added at the end of the file (under `locked`, this list's
    /// lock, in the same critical section as the page count grew), as that call's until it hands the page out.
    pub(crate) fn take_new<'a>(&'a self, locked: &mut FreePages, page_no: PageNo) -> Allocation<'a> {
        debug_assert!(std::ptr::eq(locked, self.pages.data_ptr()), "another list's lock");
        assert!(
            !locked.held(page_no),
            "new page {page_no} is owned by the free list already"
        );
        locked.allocating.insert(page_no);
        Allocation {
            list: self,
            page_no,
            settled: false,
        }
    }

    /// Claims `page_no` from its user for a `free_page`: `None` if the pool owns it already (on the list, being
    /// handed out by a `new_page`, or claimed by another `free_page`): a double free.
    pub(crate) fn claim(&self, page_no: PageNo) -> Option<FreeClaim<'_>> {
        let mut pages = self.pages.lock();
        if pages.held(page_no) {
            return None;
        }
        pages.freeing.insert(page_no);
        Some(FreeClaim {
            list: self,
            page_no,
            settled: false,
        })
    }
}

/// A number `new_page` took off the free list, or added at the end of the file: owned by that call until it hands
/// the page out. Dropped unsettled (an error, a panic, the file closing), it goes on the list.
#[must_use = "dropping an allocation puts the number back on the free list"]
pub(crate) struct Allocation<'a> {
    list: &'a FreeList,
    page_no: PageNo,
    settled: bool,
}

impl Allocation<'_> {
    /// The number taken.
    pub(crate) fn page_no(&self) -> PageNo {
        self.page_no
    }

    /// The page is the caller's now: the number leaves the pool's hands. Takes the list's lock.
    pub(crate) fn hand_out(mut self) {
        self.settled = true;
        let was = self.list.pages.lock().allocating.remove(&self.page_no);
        assert!(was, "page {} was not allocating", self.page_no);
    }
}

impl Drop for Allocation<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut pages = self.list.pages.lock();
        let was = pages.allocating.remove(&self.page_no);
        debug_assert!(was, "page {} was not allocating", self.page_no);
        pages.free.insert(self.page_no);
    }
}

/// A number `free_page` claimed from its user: owned by that call until it is on the free list. Dropped unsettled
/// (the call failed: the page is latched, the file is closing), it is the user's again.
#[must_use = "dropping a claim gives the number back to its user"]
pub(crate) struct FreeClaim<'a> {
    list: &'a FreeList,
    page_no: PageNo,
    settled: bool,
}

impl FreeClaim<'_> {
    /// Puts the number on the free list. The caller holds the page's cached copy exclusively latched (and
    /// discards it after this), so no load of the page can be running or start before the number is listed (see
    /// [`FreeClaim::commit_unless_cached`] for a page with no copy). Takes the list's lock.
    pub(crate) fn commit(mut self) {
        let list = self.list;
        self.settle(&mut list.pages.lock());
    }

    /// Puts the number on the free list if `cached`, asked under the list's lock, finds no copy of the page in
    /// the pool; otherwise gives the claim back with what it found (the caller latches that copy, then
    /// [`FreeClaim::commit`]s and discards it). Takes the list's lock and, inside it, whatever `cached` takes
    /// (`free_page`: a page-table stripe lock; `new_page` also takes one under this lock).
    ///
    /// A miss seen under the lock is final for loads: a load maps its page first and asks the list after
    /// ([`FreeList::is_free`], under this lock, while it holds the frame latched). Either its mapping is in place
    /// before this lock is taken, and `cached` finds it, or its question waits for this lock and finds the number
    /// on the list, so it marks its copy freed. No load can read the page in between and keep an unmarked copy of
    /// a freed page (a copy that would take write guards: P1 in RELIABILITY.md).
    pub(crate) fn commit_unless_cached<T>(mut self, cached: impl FnOnce() -> Option<T>) -> Result<(), (Self, T)> {
        let list = self.list;
        let mut pages = list.pages.lock();
        if let Some(found) = cached() {
            return Err((self, found));
        }
        self.settle(&mut pages);
        Ok(())
    }

    /// Moves the number from `freeing` to the list; `pages` is this claim's list, locked.
    fn settle(&mut self, pages: &mut FreePages) {
        self.settled = true;
        let was = pages.freeing.remove(&self.page_no);
        assert!(was, "page {} was not being freed", self.page_no);
        let fresh = pages.free.insert(self.page_no);
        assert!(
            fresh,
            "page {} was being freed and on the free list at once",
            self.page_no
        );
    }
}

impl Drop for FreeClaim<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let was = self.list.pages.lock().freeing.remove(&self.page_no);
        debug_assert!(was, "page {} was not being freed", self.page_no);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list holding `pages`, freed by their users.
    fn list_of(pages: &[PageNo]) -> FreeList {
        let list = FreeList::default();
        for &n in pages {
            list.claim(n).unwrap().commit();
        }
        list
    }

    /// `new_page`'s take, its lock released before the allocation is settled (as `new_page` does).
    fn take(list: &FreeList) -> Option<Allocation<'_>> {
        let mut locked = list.lock();
        list.take_freed(&mut locked)
    }

    #[test]
    fn a_number_being_allocated_cannot_be_claimed_and_returns_to_the_list_if_dropped() {
        let list = list_of(&[3, 7]);
        let a = take(&list).unwrap();
        assert_eq!(a.page_no(), 3);
        assert!(!list.is_free(3));
        assert!(list.claim(3).is_none(), "a double free during new_page");
        drop(a);
        assert!(list.is_free(3));
        assert!(list.claim(3).is_none(), "a free of a free page");
    }

    #[test]
    fn a_number_handed_out_is_the_users_and_can_be_freed_once() {
        let list = list_of(&[3]);
        take(&list).unwrap().hand_out();
        assert!(take(&list).is_none());
        let claim = list.claim(3).unwrap();
        assert!(list.claim(3).is_none(), "two frees at once");
        assert!(!list.is_free(3), "not on the list before the claim commits");
        claim.commit();
        assert!(list.is_free(3));
        assert!(list.claim(3).is_none());
    }

    #[test]
    fn a_new_number_is_the_callers_until_handed_out_and_joins_the_list_if_dropped() {
        let list = list_of(&[]);
        let a = {
            let mut locked = list.lock();
            list.take_new(&mut locked, 9)
        };
        assert!(list.claim(9).is_none(), "a free of a page new_page has not returned");
        drop(a);
        assert!(list.is_free(9));
        let b = take(&list).unwrap();
        assert_eq!(b.page_no(), 9);
        b.hand_out();
        list.claim(9).unwrap().commit();
    }

    #[test]
    fn a_claim_commits_only_when_no_copy_is_found_under_the_lock() {
        let list = list_of(&[]);
        let claim = list.claim(4).unwrap();
        // A copy found: the claim comes back, still held (a second free is refused), the number unlisted.
        let (claim, found) = match claim.commit_unless_cached(|| Some("copy")) {
            Err(back) => back,
            Ok(()) => panic!("committed with a copy found"),
        };
        assert_eq!(found, "copy");
        assert!(!list.is_free(4));
        assert!(list.claim(4).is_none(), "a second free while the first runs");
        // The question is asked under the list's lock: a load asking `is_free` meanwhile would wait for it.
        let asked_locked = claim.commit_unless_cached(|| list.pages.try_lock().is_none().then_some(()));
        let claim = match asked_locked {
            Err((back, ())) => back,
            Ok(()) => panic!("the lookup ran without the list's lock"),
        };
        assert!(claim.commit_unless_cached(|| None::<()>).is_ok());
        assert!(list.is_free(4));
        assert_eq!(take(&list).unwrap().page_no(), 4);
    }

    #[test]
    fn a_claim_dropped_leaves_the_number_with_its_user() {
        let list = list_of(&[]);
        drop(list.claim(5).unwrap());
        assert!(!list.is_free(5));
        assert!(take(&list).is_none());
        list.claim(5).unwrap().commit();
        assert_eq!(take(&list).unwrap().page_no(), 5);
    }
}
