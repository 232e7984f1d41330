//! Guards: the only way to reach page bytes.
//!
//! Owns [`ReadGuard`] (shared latch), [`WriteGuard`] (exclusive latch; the page becomes dirty when it is taken,
//! or at its first change with `Builder::clean_write_guards`), and [`PageView`] (what an optimistic reader sees).
//! A guard borrows the pool, so it cannot outlive it; dropping it releases the latch. Guards deref to the page's
//! *user region* (the page minus the pool's 24-byte header). The guards hold the latch as a token (`latch.rs`);
//! what they add is the bookkeeping of a user's latch: the holder noted for `held_latches`, the owner thread of
//! an exclusive one, the thread's list of its shared ones (`held.rs`), the dirty flag.
//!
//! A thread that asks for a page it already holds a conflicting guard on gets [`crate::Error::HeldByCaller`]
//! instead of waiting for ever (for a read guard: as long as the thread holds at most 16 at once, `held.rs`).
//! Threads that hold several guards at once must take them in one global order (e.g. parent before child, left
//! before right) to avoid deadlocks between them; the pool itself never waits for a latch while it holds one,
//! except the eviction of an unlatched frame, which never blocks.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use crate::frame::Region;
use crate::latch::{ExclusiveFrame, SharedFrame};
use crate::page::{Lsn, PageId, OFF_LSN, PAGE_HEADER_SIZE};
use crate::policy::FrameIdx;
use crate::pool::BufferPool;

/// A shared latch on a page: many readers at once, no writer.
///
/// Not `Send`: the latch belongs to the thread that took it, which lists it (however many read guards it holds),
/// so that thread asking for the page exclusively (`write`, `free_page`, ...) gets
/// [`crate::Error::HeldByCaller`] instead of waiting for ever. Reading the page again, or flushing it, is fine.
///
/// A guard passed to `mem::forget` keeps its latch, and its entry in the thread's list, for good: the page can
/// never be written, freed, evicted or its file closed (other threads' exclusive waits end in
/// [`crate::Error::PageLatched`] or, for `write`, last for ever; this thread is told `HeldByCaller`), and a pool
/// dropped with it leaks its frame headers (64 bytes a frame). It costs the thread no `HeldByCaller` detection of
/// its other guards; once 16 forgotten guards fill the list's fixed slots, the thread's later read guards are
/// listed out of line (a little slower). [`crate::BufferPool::held_latches`] shows forgotten guards.
///
/// ```
/// # fn main() -> bufpool::Result<()> {
/// let pool = bufpool::BufferPool::builder().frames(64).build()?;
/// let file = pool.open_storage(bufpool::MemoryStorage::new())?;
/// let page = pool.new_page(file)?.page_id(); // the write guard is dropped at the end of the statement
///
/// let guard = pool.read(page)?; // shared: other threads may read the page too
/// assert_eq!(guard[0], 0); // derefs to the page's user region (a new page is zeroed)
/// assert!(matches!(pool.write(page), Err(bufpool::Error::HeldByCaller { .. }))); // not a deadlock
///
/// // Change the page only if it still needs it, without letting another writer in between.
/// let mut guard = guard.try_upgrade().unwrap_or_else(|_| panic!("another thread holds it too"));
/// guard[0] = 1;
/// # Ok(()) }
/// ```
pub struct ReadGuard<'a> {
    // Released by `Drop` after the holder note ends; taken out whole by `try_upgrade` (the guards' `unsafe`
    // blocks, each on a guard that is consumed: see there). Holding the token bare keeps a guard small.
    frame: ManuallyDrop<SharedFrame<'a>>,
    pub(crate) page: PageId,
}

impl<'a> ReadGuard<'a> {
    /// Wraps the shared latch `frame`, which holds `page`, for the calling thread (which lists it). Always
    /// inlined: `read`'s hit path is near the compiler's size limit, and made a call (as the default policy's
    /// inlined hit step made it) it cost a shared hit 13 more instructions (BENCHMARKS.md, issue 14, session 22).
    #[inline(always)]
    #[cfg_attr(debug_assertions, track_caller)]
    pub(crate) fn new(frame: SharedFrame<'a>, page: PageId) -> ReadGuard<'a> {
        frame.pool().note_guard_taken(frame.header(), false);
        crate::held::note_shared_taken(frame.header());
        ReadGuard {
            frame: ManuallyDrop::new(frame),
            page,
        }
    }

    /// The read guard of a latch this thread's write guard held and [`WriteGuard::downgrade`]d: listed for the
    /// thread, but its latch period (`Builder::latch_times`) and where it was taken go on from the write guard's
    /// (the latch never broke: `latches.rs`). Noted anew, a guard held for an hour and downgraded was listed by
    /// `held_latches` as taken just now, at the downgrade (R38-3).
    fn downgraded(frame: SharedFrame<'a>, page: PageId) -> ReadGuard<'a> {
        crate::held::note_shared_taken(frame.header());
        ReadGuard {
            frame: ManuallyDrop::new(frame),
            page,
        }
    }

    /// The frame this guard holds.
    #[inline]
    pub(crate) fn idx(&self) -> FrameIdx {
        self.frame.idx()
    }

    /// Ends the guard's note and listing, and hands its latch to the caller.
    fn into_frame(self) -> SharedFrame<'a> {
        let mut this = ManuallyDrop::new(self);
        this.frame.pool().note_guard_leaving(this.frame.header(), false);
        crate::held::note_shared_leaving(this.frame.header());
        // SAFETY: `this` is never dropped (ManuallyDrop) nor used again, so the token is moved out exactly once.
        unsafe { ManuallyDrop::take(&mut this.frame) }
    }

    /// The page this guard holds.
    pub fn page_id(&self) -> PageId {
        self.page
    }

    /// The page's LSN.
    pub fn lsn(&self) -> Lsn {
        self.frame.header().lsn.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns this shared latch into an exclusive one without releasing it, if this guard is the page's only
    /// shared holder; otherwise gives the guard back unchanged. For check-then-modify paths: read under a shared
    /// latch, and pay for the exclusive one only when a change is needed.
    ///
    /// On success the page is marked dirty exactly as by [`crate::BufferPool::write`], and what this guard read is still the page's content: no writer came in between.
    ///
    /// `Err(self)` when another guard (or the pool itself, for the moment it takes to write the page during a
    /// flush or checkpoint) also holds a shared latch, when the page's file refuses writes after a failed
    /// write ([`crate::Error::FileFailed`]), or when the guard holds the last image of a freed page
    /// ([`crate::BufferPool::free_page`], not reused by `new_page` since: `write` refuses it with
    /// [`crate::Error::PageFreed`]; R36-1 in RELIABILITY.md). Then drop the guard and call
    /// [`crate::BufferPool::write`], which waits for the exclusive latch (or reports the error); anything read
    /// under the shared latch must be checked again, since another writer may get in between. Never waits, so two
    /// threads that both try to upgrade cannot deadlock: at most one succeeds.
    ///
    /// Why not an upgradable latch that excludes other upgraders but admits readers (as `parking_lot`'s
    /// upgradable reads): that needs a third latch mode in the frame's state word, and every exclusive
    /// acquisition (evictor, loader, writer) would have to respect it. The sole-holder upgrade is one CAS on the
    /// existing word (`lock 1 -> exclusive`), costs the hit path nothing, and is never wrong, only sometimes
    /// refused.
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn try_upgrade(self) -> std::result::Result<WriteGuard<'a>, ReadGuard<'a>> {
        let (pool, page) = (self.frame.pool(), self.page);
        // As BufferPool::write: a failed file takes no new guards (their pages could never be evicted once dirty;
        // a guard taken before the failure may still dirty its page after it: R48-10).
        let refused = pool.core.files.any_failed() && pool.core.files.get(page.file()).map_or(true, |f| f.is_failed());
        // As `write` too: a freed page's image takes no write guard. The mark changes only under the frame's
        // exclusive latch (set by the load, cleared by `new_page`), so the shared latch held here keeps it.
        if refused || self.frame.header().freed.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(self);
        }
        match self.into_frame().try_upgrade() {
            // The shared latch became the exclusive one: the WriteGuard now owns it (and notes it anew).
            Ok(frame) => Ok(WriteGuard::new(frame, page, pool.core.clean_write_guards)),
            Err(frame) => Err(ReadGuard::new(frame, page)),
        }
    }
}

impl Deref for ReadGuard<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.frame.page()[PAGE_HEADER_SIZE..]
    }
}

impl Drop for ReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.frame.pool().note_guard_leaving(self.frame.header(), false);
        crate::held::note_shared_leaving(self.frame.header());
        // SAFETY: the token is dropped here once, and `self` is going away; `into_frame` never lets this run.
        unsafe { ManuallyDrop::drop(&mut self.frame) }
    }
}

impl fmt::Debug for ReadGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadGuard")
            .field("page", &self.page)
            .field("frame", &self.frame.idx())
            .finish()
    }
}

/// An exclusive latch on a page. Taking it marks the page dirty: it will be written before its frame is reused.
/// A *clean* guard ([`crate::BufferPool::write_clean`], or every guard with [`crate::Builder::clean_write_guards`])
/// marks the page dirty only at its first change through it (the first mutable access to its bytes, `DerefMut`, or
/// [`WriteGuard::set_lsn`]), so a guard that only reads leaves a clean page clean. (A page from [`crate::BufferPool::new_page`] is dirty from the start either way.)
///
/// Not `Send`: the latch belongs to the thread that took it (the pool records it, so that thread asking for the
/// page again, or flushing it, gets [`crate::Error::HeldByCaller`] instead of waiting for ever).
///
/// ```
/// # fn main() -> bufpool::Result<()> {
/// let pool = bufpool::BufferPool::builder().frames(64).build()?;
/// let file = pool.open_storage(bufpool::MemoryStorage::new())?;
/// let page = pool.new_page(file)?.page_id();
///
/// let mut guard = pool.write(page)?; // exclusive: no other reader or writer until it is dropped
/// guard[..3].copy_from_slice(b"abc"); // derefs mutably to the page's user region
/// guard.set_lsn(7); // the log record of this change ends at LSN 7: the page is written only after it is durable
/// let guard = guard.downgrade(); // now shared, with no writer let in between
/// assert_eq!(&guard[..3], b"abc");
/// assert_eq!(guard.lsn(), 7);
/// # Ok(()) }
/// ```
pub struct WriteGuard<'a> {
    // Released by `Drop` after the owner mark and the holder note end; taken out whole by `downgrade`.
    pub(crate) frame: ManuallyDrop<ExclusiveFrame<'a>>,
    page: PageId,
    /// This guard has marked the page dirty (its first change): later changes skip the flag's atomic swap.
    dirtied: bool,
    /// The page was clean when this guard marked it dirty, and its LSN has not been set through this guard:
    /// [`WriteGuard::restore`] may mark it clean again.
    made_dirty: bool,
}

impl<'a> WriteGuard<'a> {
    /// Wraps the exclusive latch `frame`, which holds `page`, for the calling thread. `clean`: the page becomes
    /// dirty at the guard's first change, not now ([`crate::BufferPool::write_clean`]).
    #[inline]
    #[cfg_attr(debug_assertions, track_caller)]
    pub(crate) fn new(frame: ExclusiveFrame<'a>, page: PageId, clean: bool) -> WriteGuard<'a> {
        frame.pool().note_guard_taken(frame.header(), true);
        frame
            .header()
            .owner
            .store(crate::sync::thread_token(), std::sync::atomic::Ordering::Relaxed);
        // Unless the guard is clean (`Builder::clean_write_guards`, `BufferPool::write_clean`), taking it is the
        // change.
        let dirtied = !clean;
        let made_dirty = dirtied && frame.pool().mark_dirty(frame.header());
        if made_dirty {
            // The file may have failed since `write` looked (R48-10).
            frame.pool().note_guard_dirtiness(page);
        }
        WriteGuard {
            frame: ManuallyDrop::new(frame),
            page,
            dirtied,
            made_dirty,
        }
    }

    /// Ends the guard's owner mark and hands its latch, still noted (its period goes on), to a downgrade.
    fn into_frame(self) -> ExclusiveFrame<'a> {
        let mut this = ManuallyDrop::new(self);
        this.frame.header().owner.store(0, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: `this` is never dropped (ManuallyDrop) nor used again, so the token is moved out exactly once.
        unsafe { ManuallyDrop::take(&mut this.frame) }
    }

    /// The calling thread stops being the frame's recorded owner, and the latch's note ends.
    #[inline]
    fn end_marks(&self) {
        self.frame.pool().note_guard_leaving(self.frame.header(), true);
        self.frame.header().owner.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Marks the page dirty at this guard's first change (the exclusive latch is held).
    #[inline]
    fn dirty(&mut self) {
        if !self.dirtied {
            self.made_dirty = self.frame.pool().mark_dirty(self.frame.header());
            self.dirtied = true;
            if self.made_dirty {
                // A clean guard taken before its file failed makes a page dirty after the failure (R48-10).
                self.frame.pool().note_guard_dirtiness(self.page);
            }
        }
    }

    /// The page this guard holds.
    pub fn page_id(&self) -> PageId {
        self.page
    }

    /// The page's LSN.
    pub fn lsn(&self) -> Lsn {
        self.frame.header().lsn.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the page's LSN: the log record that describes the latest change to this page. The pool will not
    /// write the page before `wal.flush_to(lsn)` has returned. Marks the page dirty.
    pub fn set_lsn(&mut self, lsn: Lsn) {
        self.dirty();
        // The LSN is not part of what `restore` puts back: the page stays dirty.
        self.made_dirty = false;
        self.frame.page_mut()[OFF_LSN..OFF_LSN + 8].copy_from_slice(&lsn.to_le_bytes());
        self.frame.header().lsn.store(lsn, std::sync::atomic::Ordering::Relaxed);
    }

    /// Undoes this guard's changes to the page: copies `before` over the user region, and if the page was clean
    /// when this guard first changed it (and its LSN was not set through this guard), marks it clean again, so the
    /// pool writes nothing for this latch. Copies nothing if the region already holds `before` (a clean guard,
    /// [`crate::BufferPool::write_clean`], then stays clean).
    ///
    /// For an engine that copies a page before a change and puts the copy back when the change fails before it
    /// is logged (`bufpool-btree`'s structure changes): left dirty, the page would be written with no change
    /// since the last checkpoint, which a log of full-page images cannot rebuild if that write is torn (R46-O40 in
    /// RELIABILITY.md). `before` must be the user region as this guard found it (the caller's copy, made under this
    /// latch): the pool does not keep one, and a page marked clean whose bytes differ from its stored image loses
    /// the difference at its eviction.
    ///
    /// [`crate::Error::InvalidAccess`] (nothing changed) if `before` is not as long as the user region.
    pub fn restore(&mut self, before: &[u8]) -> crate::Result<()> {
        let region = &self.frame.page()[PAGE_HEADER_SIZE..];
        if before.len() != region.len() {
            return Err(crate::Error::InvalidAccess {
                offset: 0,
                len: before.len(),
            });
        }
        if region != before {
            self.frame.page_mut()[PAGE_HEADER_SIZE..].copy_from_slice(before);
        }
        if self.made_dirty {
            self.frame.pool().mark_clean(self.frame.header());
            self.frame.pool().note_guard_dirtiness(self.page);
            self.made_dirty = false;
            self.dirtied = false;
        }
        Ok(())
    }

    /// Turns the exclusive latch into a shared one without letting another writer in between.
    #[cfg_attr(debug_assertions, track_caller)]
    pub fn downgrade(self) -> ReadGuard<'a> {
        let page = self.page;
        ReadGuard::downgraded(self.into_frame().downgrade(), page)
    }
}

impl Deref for WriteGuard<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.frame.page()[PAGE_HEADER_SIZE..]
    }
}

impl DerefMut for WriteGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.dirty();
        &mut self.frame.page_mut()[PAGE_HEADER_SIZE..]
    }
}

impl Drop for WriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.end_marks();
        // SAFETY: the token is dropped here once, and `self` is going away; `into_frame` never lets this run.
        unsafe { ManuallyDrop::drop(&mut self.frame) }
    }
}

impl fmt::Debug for WriteGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteGuard")
            .field("page", &self.page)
            .field("frame", &self.frame.idx())
            .finish()
    }
}

/// The page's user region as an optimistic reader sees it: read through atomic loads, possibly torn by a
/// concurrent writer. Whatever the closure computes from it is discarded and the closure re-run unless the page
/// was unchanged throughout, so the closure must tolerate garbage (never loop on it, never trust a length from it
/// without bounds). Out-of-range reads do not panic: they return zeroes and, if the page turns out to have been
/// consistent, [`crate::Error::InvalidAccess`] is returned instead of the closure's result.
pub struct PageView<'a> {
    /// The frame's user region, located once (a pointer and a length): each read is a bounds check and loads.
    region: Region,
    page: PageId,
    pub(crate) bad: Cell<Option<(usize, usize)>>,
    _pool: PhantomData<&'a BufferPool>,
}

impl<'a> PageView<'a> {
    /// A view of frame `idx`, which holds (or held, for an optimistic reader who validates later) `page`.
    #[inline]
    pub(crate) fn new(pool: &'a BufferPool, idx: FrameIdx, page: PageId) -> PageView<'a> {
        PageView {
            region: pool.memory().user_region(idx),
            page,
            bad: Cell::new(None),
            _pool: PhantomData,
        }
    }
}

impl PageView<'_> {
    /// The page being read.
    pub fn page_id(&self) -> PageId {
        self.page
    }

    /// Size of the user region.
    #[inline]
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Copies `buf.len()` bytes at `offset` of the user region into `buf`. Returns false (and fills `buf` with
    /// zeroes) if the range is outside the user region.
    #[inline]
    pub fn read_into(&self, offset: usize, buf: &mut [u8]) -> bool {
        match offset.checked_add(buf.len()) {
            Some(end) if end <= self.len() => {
                self.region.read_atomic(offset, buf);
                true
            }
            _ => {
                buf.fill(0);
                if self.bad.get().is_none() {
                    self.bad.set(Some((offset, buf.len())));
                }
                false
            }
        }
    }

    /// `N` bytes at `offset`.
    #[inline]
    pub fn read_array<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut b = [0u8; N];
        self.read_into(offset, &mut b);
        b
    }

    /// The byte at `offset`.
    #[inline]
    pub fn read_u8(&self, offset: usize) -> u8 {
        self.read_array::<1>(offset)[0]
    }

    /// A little-endian `u16` at `offset`.
    #[inline]
    pub fn read_u16(&self, offset: usize) -> u16 {
        u16::from_le_bytes(self.read_array(offset))
    }

    /// A little-endian `u32` at `offset`.
    #[inline]
    pub fn read_u32(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.read_array(offset))
    }

    /// A little-endian `u64` at `offset` (one atomic load when `offset` is 8-aligned).
    #[inline(always)]
    pub fn read_u64(&self, offset: usize) -> u64 {
        match self.region.load_u64(offset) {
            Some(v) => v,
            None => self.read_u64_unaligned(offset),
        }
    }

    /// The little-endian aligned word `index` of the user region (bytes `8 * index..8 * index + 8`): one load, no
    /// branch. An index past the last whole word reads the last whole word (never out of the page, never an
    /// [`crate::Error::InvalidAccess`]): for a search that bounds its offsets by clamping rather than by testing
    /// each, as a reader of a page that may be torn must bound every offset it reads from the page.
    #[inline(always)]
    pub fn read_word(&self, index: usize) -> u64 {
        self.region.load_word(index)
    }

    /// [`PageView::read_u64`] at an offset that is not 8-aligned, or out of range: out of line, so the aligned
    /// load inlines into a caller's search loop.
    #[cold]
    #[inline(never)]
    fn read_u64_unaligned(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.read_array(offset))
    }

    /// Starts loading bytes `offset..offset + len` of the user region into the CPU cache (a hint; clamped to the
    /// page, no effect on correctness). A search that knows which part of the page it will read next, such as a
    /// node's slot array after its header, can overlap those cache misses instead of taking them one by one.
    #[inline]
    pub fn prefetch(&self, offset: usize, len: usize) {
        self.region.prefetch(offset, len);
    }

    /// A copy of the whole user region.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len()];
        self.read_into(0, &mut v);
        v
    }
}

impl fmt::Debug for PageView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageView").field("page", &self.page).finish()
    }
}
