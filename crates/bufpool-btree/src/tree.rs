//! The B+tree: lookups, updates, structure changes, range scans, recovery and the invariant checker.
//!
//! Owns the tree's concurrency protocol and its use of the pool and the log. Node bytes are `node.rs`'s
//! business, log records `wal.rs`'s.
//!
//! # Concurrency protocol
//! - **Readers** (`get`, `get_many`, `range`, `scan`) take no latch. Point lookups probe each node in place
//!   (`node::probe` inside `pool.read_optimistic`, which validates against the page version and re-runs on change);
//!   scans copy from each leaf, in the same optimistic read that checks it, the rows of the range it holds (16 at
//!   first, `node::leaf_rows`, since session 44; whole leaves before), and from a scan's third leaf on copy the
//!   parent that lists the leaves ahead, all of it but its free space (`node::used_parts`; the first two leaves'
//!   parents are searched in place, and a scan may start at a hinted leaf, `Tree::scan_from`; a point read too,
//!   `Tree::get_at_hint`, or at the leaf a hinted leaf's link names when the hinted one lies wholly below the
//!   key, `Tree::probe_link`). Either way the node is checked on its own: it must be a live node of the expected level whose fence keys cover the search
//!   key. Fence keys make every consistent read self-validating, so no parent/child version coupling is needed: a stale
//!   child pointer leads to a node that is dead (freed), of the wrong level, or whose fences no longer cover the key,
//!   and the reader restarts from the root (bounded by [`RESTARTS_MAX`]). A node whose fences cover the key at the
//!   moment it is read holds that key's current entry, because every change to an entry happens under the exclusive
//!   latch of the leaf covering it.
//! - **Leaf writers** (`put`, `delete` that change one leaf only) descend optimistically, latch the leaf with
//!   `pool.write`, re-check it (live leaf covering the key), change it, log, `set_lsn`, release. They hold one
//!   latch and never wait for another while holding it.
//! - **Structure changes** (split, merge, root change) are serialised by the exclusive latch of the meta page
//!   (page 0). While it is held, inner nodes cannot change (only structure changes touch them), so the path
//!   read under short shared latches stays valid. The changer then latches, top-down, the path nodes it will
//!   modify (for a split only from the highest node that absorbs the separator; for a merge the whole path),
//!   then siblings and pages taken from the free list, does the change, logs one atomic record of full page
//!   images (a leaf split logs its leaf and the parent that took the separator as ops instead, `SPLIT` or under a
//!   log above `CUT`, and `INNER`: `wal.rs`), stamps every page, publishes a new root, and releases.
//! - **Latch order** (deadlock freedom): meta page → inner nodes top-down → leaves (path leaf, then its
//!   sibling) → free-list pages. Only the meta holder ever holds more than one latch, so two threads can never
//!   wait on each other in a cycle: leaf writers hold one latch and wait for none while holding it, readers hold
//!   none. The log's mutexes are leaves of this order (taken while holding latches, never the other way).
//!
//! # Durability
//! Every change is logged (`wal.rs`) before its page latch is released and the page is stamped with the
//! record's end LSN; the pool writes a page only after the log is durable to that LSN (`Wal::flush_for_pages`,
//! which `TreeWal` implements). [`Tree::commit`] makes every
//! earlier change durable. Recovery ([`Tree::open`]) redoes every record whose LSN is above the page's LSN, in
//! log order, prefetching the pages of the records a window ahead (`Tree::recover`).
//! The exception is a *covered* leaf change ([`Tree::put_covered`], [`Tree::delete_covered`]): a layer above
//! the tree logged it first in the log the tree's log depends on, the tree's log records nothing for it (bar a
//! full-page image on the leaf's first change after a checkpoint), and that layer redoes it after `open`. Such
//! a page's LSN is not raised by the change; its write waits for the other log instead, as far as the page's
//! noted position there (`TreeWal::note_covered`, `deps.rs`). Structure changes are logged in the tree's log
//! whatever caused them.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::LocalKey;

use bufpool::storage::Storage;
use bufpool::{BufferPool, FileId, FileOptions, Lsn, PageId, PageNo, PageView, WriteGuard};

use crate::error::{CloseError, Error, Result};
use crate::node::{self, Fence, LeafScan, Limits, Node, PageBytes, Probe, RowsEnd, Upsert, UpsertError, NO_PAGE};
use crate::wal::{images_bound, Op, OwnedOp, Room, TreeClaim, TreeWal, LOG_HDR, REGION_MIN, TAKING_PAGES};

mod bulk;

/// Restarts of one operation after which the tree reports an error instead of spinning (a sign of corruption,
/// e.g. fence keys that cover nothing, rather than of contention).
pub const RESTARTS_MAX: usize = 1_000_000;

/// The meta page.
const META: PageNo = 0;
const META_MAGIC: &[u8; 8] = b"BPTREE01";
/// The format of the tree's pages: 4 since inner nodes keep their children's numbers in an array after their
/// slots (`node.rs`, "Child numbers"); a tree of another format is refused at open, before its log is replayed.
const META_FORMAT: u32 = 4;
const M_FORMAT: usize = 8;
const M_PAGE_SIZE: usize = 12;
const M_ROOT: usize = 16;
const M_FREE: usize = 20;
/// The identity of the tree's log ([`TreeWal::id`]): a tree opens only with its own log.
const M_LOG_ID: usize = 24;
/// The first LSN the tree needs from its log: the redo point of its last checkpoint (set before the checkpoint
/// writes the pages, so the log, which is cut to that point only after, always starts at or before it).
const M_LOG_START: usize = 32;

fn meta_u64(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn set_meta_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn meta_u32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(NO_PAGE, u32::from_le_bytes)
}

fn set_meta_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// The least [`Growth::budget`]: pages, 4 MiB of 4 KiB pages.
const GROWTH_MIN: u64 = 1024;

/// Pages a window of [`Tree::recover`]'s records changes, past which the window is prefetched and the one before
/// it redone: a few batches of the pool's reads in flight ([`bufpool::BATCH_PAGES_MAX`]), and at most twice this
/// many decoded records held (a leaf image each, mostly: about 2 MiB).
const AHEAD_PAGES: usize = 256;
/// Records a window holds at most, whatever pages they name (a log of row changes names few pages a record).
const AHEAD_RECORDS: usize = 4096;

/// [`Tree::recover`]'s two windows of records: `ready`, whose pages are being loaded, and `filling`, whose pages
/// (`pages`) are not yet asked for.
#[derive(Default)]
struct Ahead {
    ready: Vec<(Lsn, Vec<OwnedOp>)>,
    filling: Vec<(Lsn, Vec<OwnedOp>)>,
    pages: Vec<PageId>,
}

/// What replay added past the data file's end, bounded ([`Tree::check_growth`]).
struct Growth {
    /// The most pages replay may hold zeroed and unfilled past the file's end at once: the larger of the file's
    /// pages at the open, the pool's frames and [`GROWTH_MIN`], plus the pages bulk loads announced in the log
    /// replayed (`announced`). A crashed tree's log leaves such pages only where pages taken before a logged new
    /// page were neither logged nor written: a structure change's not yet logged (a few), or a bulk load's that
    /// a crash lost before its switch, which the load announced before it took them (`OwnedOp::Taking`, R41-20 in
    /// RELIABILITY.md; `wal.rs`, "A bulk load's pages in the log").
    budget: u64,
    /// The pages bulk loads announced (`OwnedOp::Taking`) in the records replayed so far, part of `budget`.
    announced: u64,
    /// The pages replay added zeroed (below a page an image named) that no image has filled since.
    zeroed: HashSet<PageNo>,
}

/// A page latched by a structure change, with its image from before the change: the change's undo.
///
/// A structure change (split, merge, redistribution, root change) changes several latched pages, and can fail
/// after changing some of them (an allocation, a latch or a read that fails). Every page it latches is taken as a
/// `Held`, which copies the page first; unless [`Held::logged`] is called (by `Tree::log_images`, once the
/// change's record is appended and the page stamped), dropping a `Held` writes the copy back before the latch
/// is released, and a page the change added to the end of the file is handed back to the pool. So a structure
/// change that returns early, by `?` or otherwise, leaves every page as it was: same bytes, same LSN, and clean if it
/// was clean (`WriteGuard::restore`: a page written with no logged change since the last checkpoint has no image in
/// the log to rebuild it from if the write is torn; R46-O40 in RELIABILITY.md). The meta
/// page is held the same way, and is dropped last (it was latched first), so no other structure change sees a
/// page before it is restored.
struct Held<'p> {
    /// `None` only while being dropped.
    guard: Option<WriteGuard<'p>>,
    /// The user region before the change; empty for a page new to the file.
    before: Vec<u8>,
    /// The page was added to the end of the file by this change (`BufferPool::new_page`): undone by
    /// `BufferPool::free_page`, which discards it unwritten.
    new_in_file: bool,
    logged: bool,
    pool: &'p BufferPool,
}

impl<'p> Held<'p> {
    fn new(pool: &'p BufferPool, guard: WriteGuard<'p>) -> Held<'p> {
        Held {
            before: guard.to_vec(),
            guard: Some(guard),
            new_in_file: false,
            logged: false,
            pool,
        }
    }

    fn new_in_file(pool: &'p BufferPool, guard: WriteGuard<'p>) -> Held<'p> {
        Held {
            before: Vec::new(),
            guard: Some(guard),
            new_in_file: true,
            logged: false,
            pool,
        }
    }

    /// The change is logged and this page stamped with its LSN: keep it.
    fn logged(&mut self) {
        self.logged = true;
    }
}

impl<'p> std::ops::Deref for Held<'p> {
    type Target = WriteGuard<'p>;
    fn deref(&self) -> &WriteGuard<'p> {
        // `guard` is `Some` until `drop` takes it.
        self.guard.as_ref().expect("held page guard")
    }
}

impl<'p> std::ops::DerefMut for Held<'p> {
    fn deref_mut(&mut self) -> &mut WriteGuard<'p> {
        self.guard.as_mut().expect("held page guard")
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Some(mut g) = self.guard.take() else { return };
        if self.logged {
            return;
        }
        if self.new_in_file {
            // Zero (as `new_page` gave it) so that a write before `free_page` discards it shows no half-change.
            g.fill(0);
            let page = g.page_id();
            drop(g);
            // Discards the page unwritten; its number goes to the pool's free list, where the tree's next
            // `new_page` (under the meta latch, which we still hold) finds it. If this fails, the page stays a
            // zeroed page past the tree's end: a page leaked, nothing changed.
            let _ = self.pool.free_page(page);
        } else {
            // The copy back leaves the page clean if it was clean before the change (and nothing if the change
            // had not touched it yet): a page the tree latched for a change that was not logged is not written
            // for it, since a write of a page with no change since the last checkpoint has no image in the log
            // to rebuild it from if a power loss tears it (R46-O40). `before` is this guard's length.
            let _ = g.restore(&self.before);
        }
    }
}

thread_local! {
    /// One value buffer per thread for `get_with`; taken (not borrowed) so re-entrant use from a `get_with`
    /// closure simply allocates another.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// [`Tree::scan_hinted`]'s buffers: the page its copies of leaves and parents go to, its bounds' keys (the start's
/// buffer is the key the scan resumes at after each leaf), and its list of leaves ahead.
#[derive(Default)]
struct ScanScratch {
    page: Vec<u8>,
    from: Vec<u8>,
    end: Vec<u8>,
    upcoming: VecDeque<PageNo>,
    rows: node::LeafRows,
}

thread_local! {
    /// One [`ScanScratch`] per thread for `Tree::scan`, taken (not borrowed) the same way: a scan started from a
    /// scan's callback allocates its own. A scan that allocated and zeroed a fresh page each time cost about 5 K
    /// instructions of its 21 K (TPC-C's short scans), malloc's large-chunk path; one that allocated its bounds'
    /// keys and its list of leaves, three allocations and their frees, about 0.7 K (until session 32).
    static SCAN: Cell<ScanScratch> = const {
        Cell::new(ScanScratch {
            page: Vec::new(),
            from: Vec::new(),
            end: Vec::new(),
            upcoming: VecDeque::new(),
            rows: node::LeafRows {
                bytes: Vec::new(),
                rows: Vec::new(),
                high: Vec::new(),
            },
        })
    };
}

/// [`Tree::get_many_hinted`]'s vectors: the keys pending at this level and the next, the level's pages, a value.
#[derive(Default)]
struct BatchScratch {
    at: Vec<(usize, PageNo, Option<u8>)>,
    next: Vec<(usize, PageNo, Option<u8>)>,
    pages: Vec<PageId>,
    val: Vec<u8>,
    /// The probes of a run of keys that share a node.
    probes: Vec<Probe>,
    /// The batch's sort: each key's first 8 bytes as a big-endian word ([`node::short_word`]), and its index.
    order: Vec<(u64, usize)>,
    /// The keys with a leaf hint of this tree ([`Tree::get_many_at_hints`]), in key index order: the key's index,
    /// the leaf (its page number and the pool's id of that page), and whether it was in memory when prefetched.
    hinted: Vec<(usize, PageNo, PageId, bool)>,
}

thread_local! {
    /// One [`BatchScratch`] per thread, taken for a `get_many_hinted` call (a call from its callback, which finds
    /// it taken, starts with empty vectors), so a call allocates nothing once they have grown (it allocated four
    /// vectors and a sort's index vector each time).
    static BATCH: Cell<BatchScratch> = const {
        Cell::new(BatchScratch {
            at: Vec::new(),
            next: Vec::new(),
            pages: Vec::new(),
            val: Vec::new(),
            probes: Vec::new(),
            order: Vec::new(),
            hinted: Vec::new(),
        })
    };
}

/// Runs `f` on this thread's buffer `key` (`SCRATCH`), taken for the call and put back after.
/// On a thread being torn down, past the buffer's life (a read from another thread-local's destructor), a new
/// buffer serves the call and is dropped after it (R12-2: `with` panicked there, and a panic in a thread-local
/// destructor aborts the process).
fn with_thread_buf<R>(key: &'static LocalKey<Cell<Vec<u8>>>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = key.try_with(Cell::take).unwrap_or_default();
    let r = f(&mut buf);
    let _ = key.try_with(|s| s.set(buf));
    r
}

fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    with_thread_buf(&SCRATCH, f)
}

/// The pool's optimistic view as [`PageBytes`]; `read`'s ranges are checked here, so the pool never sees an
/// out-of-range read (which it would report as a caller bug), and `word` is the view's clamped `read_word`.
struct ViewBytes<'v, 'p>(&'v PageView<'p>);

impl PageBytes for ViewBytes<'_, '_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read(&self, off: usize, dst: &mut [u8]) -> bool {
        match off.checked_add(dst.len()) {
            Some(end) if end <= self.0.len() => self.0.read_into(off, dst),
            _ => false,
        }
    }
    #[inline(always)]
    fn word(&self, i: usize) -> u64 {
        // The user region is a whole number of words (a page size is a power of two of at least 4 KiB, its header
        // 24 bytes), and the view clamps `i` to its last word, as `PageBytes::word` asks.
        self.0.read_word(i)
    }
    #[inline]
    fn prefetch(&self, off: usize, len: usize) {
        self.0.prefetch(off, len);
    }
}

/// [`ViewBytes`] of a node whose first [`node::PROBE_PREFETCH`] bytes a batch has asked for already
/// (`BufferPool::prefetch_frame`, one pass earlier): a probe's hint for those lines is skipped (about 20
/// instructions a probe), one for lines past them (an inner node's long slot array) is still given.
struct BatchViewBytes<'v, 'p>(&'v PageView<'p>);

impl PageBytes for BatchViewBytes<'_, '_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn read(&self, off: usize, dst: &mut [u8]) -> bool {
        ViewBytes(self.0).read(off, dst)
    }
    #[inline(always)]
    fn word(&self, i: usize) -> u64 {
        self.0.read_word(i)
    }
    #[inline]
    fn prefetch(&self, off: usize, len: usize) {
        let (from, end) = (off.max(node::PROBE_PREFETCH), off.saturating_add(len));
        if end > from {
            self.0.prefetch(from, end - from);
        }
    }
}

/// Counts of a tree's pages and entries, from [`Tree::check`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct TreeStats {
    /// Levels (1 for a tree that is a single leaf).
    pub depth: usize,
    /// Inner nodes.
    pub inner_nodes: usize,
    /// Leaves.
    pub leaves: usize,
    /// Key-value pairs.
    pub entries: usize,
    /// Pages on the tree's free list.
    pub free_pages: usize,
    /// Bytes of the leaves' user regions in use (header, fences, slots, entries; the rest is free space).
    pub leaf_bytes_used: usize,
    /// Bytes of the leaves' user regions in all (`leaves` × [`Limits::user_bytes`]).
    pub leaf_bytes: usize,
}

impl TreeStats {
    /// The leaves' fill: the share of their bytes in use, 0 to 1 (0 for a tree without leaves).
    pub fn leaf_fill(&self) -> f64 {
        self.leaf_bytes_used as f64 / self.leaf_bytes.max(1) as f64
    }
}

/// The node that took a split's separator without splitting: `(page, separator, child)`.
type Absorbed = (PageNo, Vec<u8>, PageNo);

/// What one level of a merge did (see `Tree::merge_level`).
enum LevelMerge<'p> {
    /// The node was not underfull, had no sibling, or was too full to merge with it (inner nodes): stop here.
    Unchanged,
    /// Two leaves too full to merge were evened out: the sibling changed; stop here (nothing was removed above).
    Evened(Held<'p>),
    /// The node and its sibling became one; the parent lost a separator and may be underfull in turn.
    Merged(Held<'p>),
}

/// A crash-safe B+tree of byte-string keys and values on a [`BufferPool`] file and a [`TreeWal`].
///
/// `Send + Sync`: share it by reference or in an `Arc`; every method takes `&self` but [`Tree::close`].
///
/// ```
/// use std::sync::Arc;
/// use bufpool_btree::{BufferPool, Tree, TreeWal};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let pool = Arc::new(BufferPool::builder().frames(256).build()?);
/// let tree = Tree::open(pool.clone(), TreeWal::open(dir.path().join("t.wal"))?, dir.path().join("t.db"))?;
/// # fn shared<T: Send + Sync>(_: &T) {}
/// # shared(&tree);
///
/// tree.put(b"apple", b"red")?;
/// tree.put(b"banana", b"yellow")?;
/// tree.put(b"cherry", b"dark red")?;
/// tree.commit()?; // durable from here on: one fsync of the log, shared by concurrent committers
/// assert_eq!(tree.get(b"banana")?.as_deref(), Some(&b"yellow"[..]));
/// assert!(tree.delete(b"apple")?);
///
/// // Keys in a range, in order, borrowed (no allocation per pair); return false to stop early.
/// let mut keys = Vec::new();
/// tree.scan(&b"b"[..].., |k, _v| {
///     keys.push(k.to_vec());
///     true
/// })?;
/// assert_eq!(keys, [&b"banana"[..], b"cherry"]);
///
/// tree.close()?; // checkpoint (pages written and synced, log cut), then the file is closed
///
/// // Reopening recovers: committed changes are there whether or not the close ran.
/// let tree = Tree::open(pool, TreeWal::open(dir.path().join("t.wal"))?, dir.path().join("t.db"))?;
/// assert_eq!(tree.get(b"cherry")?.as_deref(), Some(&b"dark red"[..]));
/// assert_eq!(tree.get(b"apple")?, None);
/// # Ok(()) }
/// ```
pub struct Tree {
    pool: Arc<BufferPool>,
    file: FileId,
    /// Cached root page number; changed only under the meta latch, after the meta page itself.
    root: AtomicU32,
    limits: Limits,
    /// For a tree whose log depends on another: a change to a leaf whose LSN is at or below this is logged with
    /// the leaf's image, above it as the op done (a covered split's `CUT`, an uncovered `PUT` or `DEL`: `wal.rs`,
    /// "Splits under a log above"). Raised to the log's end when the tree opens and at every covered change that
    /// removes bytes from a leaf (a delete, a shorter value), under the leaf's exclusive latch; read under the
    /// changing leaf's, so a change of that leaf is always seen. So a leaf's records since its last image, all
    /// made since the open, are ops logged under the same rule, with no such change of that leaf in between: what
    /// a crash leaves of it, redone up to any of them, is its image's entries plus covered inserts and growths,
    /// with the ops redone exactly (`PUT`, `DEL`, `CUT`): a subset, each entry no longer, of what the leaf held
    /// when the op was logged, so the op fits. (Before R11-2 an uncovered `PUT` was always an op, and a covered
    /// delete's room that the leaf on disk had not made left it no room on redo: recovery failed.)
    shrunk_at: AtomicU64,
    /// This tree value's own number ([`NEXT_TREE_ID`]): the hints it gives name it, and it follows only its own
    /// (R10B-O6 in RELIABILITY.md).
    id: u64,
    /// The tree's log ([`Tree::wal`]), claimed: the pool holds the claim too, as the data file's log, and the log
    /// serves no other tree until both let go (R17-1 in RELIABILITY.md).
    claim: Arc<TreeClaim>,
}

/// The next [`Tree`]'s `id`: unique within the process, never 0.
static NEXT_TREE_ID: AtomicU64 = AtomicU64::new(1);

/// Where a key was last seen: a leaf of one tree, a guess that saves a covered change its descent when the leaf
/// still covers the key ([`Tree::get_hinted`], [`Tree::put_covered`]). A stale hint costs one latch and a check
/// (a page that was split, merged, freed or reused is recognised by its fences). A hint names the [`Tree`] value
/// that gave it, and another tree (another file, or the same file opened again) ignores it: a page number of one
/// tree may name, in another, a page a `bulk_load` has built and not yet switched in, which looks like a live
/// leaf (R10B-O6 in RELIABILITY.md). The default names no leaf.
///
/// A hint from a read or a covered change also names a slot of the leaf: the key's own slot if the leaf held it,
/// else the slot before the key's place (none if there is none or it is unknown). A covered change of the key
/// compares that slot's key first and searches the leaf only if it is not the key or the one before it (a STOCK
/// row a New-Order read and changed is overwritten where the read found it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeafHint(Option<(u64, PageNo, u16)>);

/// A [`LeafHint`]'s slot when it names none.
const NO_SLOT: u16 = u16::MAX;

/// The slot a hint names after a look at a leaf that ended at slot `at` (the key's own if `found`, else its
/// insertion point): the key's slot, or the one before its place.
fn hint_slot(found: bool, at: usize) -> Option<usize> {
    if found {
        Some(at)
    } else {
        at.checked_sub(1)
    }
}

impl LeafHint {
    /// The page number of the leaf the hint names, if any (for diagnostics and tests: a hint is only a guess).
    pub fn page(&self) -> Option<PageNo> {
        self.0.map(|(_, no, _)| no)
    }

    /// Whether the two hints name the same leaf of the same tree (or both none), whatever slots they name.
    pub fn same_leaf(&self, other: &LeafHint) -> bool {
        self.0.map(|(tree, no, _)| (tree, no)) == other.0.map(|(tree, no, _)| (tree, no))
    }
}

/// One put of a run given to [`Tree::put_covered_run`].
#[derive(Clone, Copy, Debug)]
pub struct CoveredPut<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Its new value, which replaces any it had.
    pub val: &'a [u8],
    /// Where the key was last seen, as for [`Tree::put_covered`] (the default: nowhere); on return, the leaf the
    /// put went to (nothing after a split).
    pub hint: LeafHint,
}

impl Drop for Tree {
    /// Releases the log for the next tree opened on it (a log serves one open tree) once the pool lets go of the
    /// data file: at once after [`Tree::close`], else when the file is closed or dropped in the pool (R17-1).
    fn drop(&mut self) {
        self.claim.tree_dropped();
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("file", &self.file)
            .field("root", &self.root.load(Ordering::Relaxed))
            .field("limits", &self.limits)
            .finish()
    }
}

/// How a tree is opened ([`Tree::open_with`], [`Tree::create_with`] and their storage forms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeOptions {
    /// Protect the data file against pages a crash tears mid-write with the pool's doublewrite area
    /// ([`bufpool::FileOptions::doublewrite`]: each batch of pages the pool writes goes first into the area,
    /// synced, and an open restores a torn page from its copy) instead of full-page images in the tree's log (a
    /// leaf's first change after a checkpoint logged as its whole page, PostgreSQL's full-page writes). The log
    /// then holds each such change as its op (tens of bytes instead of a page), and a covered change logs nothing;
    /// what recovery redoes it over is a page as the pool last wrote it, whole (ARCHITECTURE.md, "Torn pages after
    /// a crash"). The storage must keep an area (a file by path does: `<file>.bpdw`, 33 MB at 4 KiB pages,
    /// reserved at the open). Off by default. Open a tree the same way every time: a data file by path opened
    /// without the area while its area holds copies from a crash is refused (`InvalidConfig`, naming the area:
    /// open it with the area, which repairs it; R57-O3 in RELIABILITY.md); a data file by storage is not looked
    /// at, and there an open without the area in between leaves the area's old copies, which a later open with it
    /// would restore over a page torn then (R56-O4).
    pub doublewrite: bool,
}

impl TreeOptions {
    /// The defaults: full-page images in the log, no doublewrite area.
    pub const fn new() -> TreeOptions {
        TreeOptions { doublewrite: false }
    }

    /// Sets [`TreeOptions::doublewrite`].
    pub const fn doublewrite(mut self, on: bool) -> TreeOptions {
        self.doublewrite = on;
        self
    }
}

impl Tree {
    /// Creates a new tree in the data file at `path` (which must be empty or absent, or hold only what a create
    /// or open refused halfway left in it: see [`Tree::open`]), logging to `wal` (which must be empty). The data file is opened with `wal` as its own log ([`FileOptions::wal`]), so the pool may be
    /// shared with other trees and engines, each with its own log.
    pub fn create(pool: Arc<BufferPool>, wal: Arc<TreeWal>, path: impl AsRef<Path>) -> Result<Tree> {
        Tree::create_with(pool, wal, path, TreeOptions::default())
    }

    /// [`Tree::create`] with `options` ([`TreeOptions`]).
    pub fn create_with(
        pool: Arc<BufferPool>,
        wal: Arc<TreeWal>,
        path: impl AsRef<Path>,
        options: TreeOptions,
    ) -> Result<Tree> {
        Tree::attach(
            pool,
            wal,
            options,
            |pool, options| pool.open_file_with(path, options),
            Tree::create_in,
        )
    }

    /// [`Tree::create`] on any [`Storage`] (`BufferPool::open_storage`) instead of a path: an empty storage.
    pub fn create_storage(pool: Arc<BufferPool>, wal: Arc<TreeWal>, storage: impl Storage) -> Result<Tree> {
        Tree::create_storage_with(pool, wal, storage, TreeOptions::default())
    }

    /// [`Tree::create_storage`] with `options` ([`TreeOptions`]).
    pub fn create_storage_with(
        pool: Arc<BufferPool>,
        wal: Arc<TreeWal>,
        storage: impl Storage,
        options: TreeOptions,
    ) -> Result<Tree> {
        Tree::attach(
            pool,
            wal,
            options,
            |pool, options| pool.open_storage_with(storage, options),
            Tree::create_in,
        )
    }

    fn create_in(&self) -> Result<()> {
        if self.pool.file_pages(self.file)? != 0 && !self.unfinished_create(0)? {
            return Err(Error::BadMeta("create: the data file is not empty".into()));
        }
        let (end, durable) = (self.wal().end_lsn(), self.wal().durable_lsn());
        if end != durable {
            // Records appended but not durable (R21-O3): an earlier create on this log refused for space, or another
            // tree's records left by a close that failed. Which, the log cannot tell; they are not this call's to
            // write into a new tree's log.
            return Err(Error::BadMeta(format!(
                "create: the log holds records not yet durable (LSN {durable} to {end}), left by an earlier call \
                 that failed (a create refused for space: `Tree::open` on the same pair finishes it)"
            )));
        }
        let mut found_records = false;
        self.wal().scan(|_, _| {
            found_records = true;
            Ok(())
        })?;
        if found_records {
            return Err(Error::BadMeta("create: the log is not empty".into()));
        }
        self.init_new()
    }

    /// Opens the tree in the data file at `path`, running recovery from `wal`; creates a new tree if both the file
    /// and the log are empty (or the log is empty and the file holds only the pages, never logged, of a create
    /// refused halfway, which another thread's miss may have written before the refusal dropped the file: R49-10
    /// in RELIABILITY.md). The data file is opened with `wal` as its own log ([`FileOptions::wal`]): the pool
    /// may be shared with other trees and engines, each with its own log. Refuses, with
    /// [`Error::LogMismatch`], a log that is not the tree's: another log's identity, a log whose header names
    /// another data file (before replay: [`TreeWal::data_file`]), a log that starts after the
    /// tree's last checkpoint (by the meta page, or, when page 0 cannot be read before replay, by the mark each
    /// checkpoint raises in the data file's record: a stale copy restored with its record, R48-O10), or one that
    /// ends before the LSN of a page (a lost or replaced log); and, with
    /// [`Error::BadMeta`], before replay, a data file that is not a tree's: page 0 neither a tree's meta page nor
    /// torn (a failed checksum over a bufpool header) nor never written (R28-1 in RELIABILITY.md), nor garbled
    /// whole by a power loss (no bufpool header left) in a file its log names by its record's identity, the log
    /// holding the page's image to rebuild it from (R47-1; a file without a record cannot be told from a foreign
    /// one so, and is refused). Whatever refuses the open (this, a replay's I/O error, its closing checkpoint
    /// refused for space, a panic), the pool is left as before the call: the data file is not open in it and the
    /// log is free, to open both again once the cause is fixed. [`Tree::create`] is the same.
    pub fn open(pool: Arc<BufferPool>, wal: Arc<TreeWal>, path: impl AsRef<Path>) -> Result<Tree> {
        Tree::open_with(pool, wal, path, TreeOptions::default())
    }

    /// [`Tree::open`] with `options` ([`TreeOptions`]).
    pub fn open_with(
        pool: Arc<BufferPool>,
        wal: Arc<TreeWal>,
        path: impl AsRef<Path>,
        options: TreeOptions,
    ) -> Result<Tree> {
        Tree::attach(
            pool,
            wal,
            options,
            |pool, options| pool.open_file_with(path, options),
            Tree::open_in,
        )
    }

    /// [`Tree::open`] on any [`Storage`] (`BufferPool::open_storage`) instead of a path.
    pub fn open_storage(pool: Arc<BufferPool>, wal: Arc<TreeWal>, storage: impl Storage) -> Result<Tree> {
        Tree::open_storage_with(pool, wal, storage, TreeOptions::default())
    }

    /// [`Tree::open_storage`] with `options` ([`TreeOptions`]).
    pub fn open_storage_with(
        pool: Arc<BufferPool>,
        wal: Arc<TreeWal>,
        storage: impl Storage,
        options: TreeOptions,
    ) -> Result<Tree> {
        Tree::attach(
            pool,
            wal,
            options,
            |pool, options| pool.open_storage_with(storage, options),
            Tree::open_in,
        )
    }

    fn open_in(&self) -> Result<()> {
        // No leaf logged before the open is split with a `CUT` (see `shrunk_at`).
        self.shrunk_at.store(self.wal().end_lsn(), Ordering::Relaxed);
        // Before replay changes any page: a foreign log's records must not touch this tree. A meta page that
        // cannot be read yet (torn: a checksum that fails over a bufpool header; garbled whole, header included,
        // when the log names this file and holds the page's image: `check_garbled_meta`) or was never written
        // (zeroes) is rebuilt by replay and checked after it. Anything else in page 0 is not a tree's meta page,
        // and the file not a tree's: replayed, another tree's log rebuilt its meta page over it, passed the check
        // after replay and the open's checkpoint wrote that tree over the file (R28-1).
        let pages = self.pool.file_pages(self.file)?;
        if pages > 0 {
            match self.pool.read(self.pid(META)) {
                Ok(meta) if meta.get(..8) == Some(&META_MAGIC[..]) => {
                    let format = meta_u32(&meta, M_FORMAT);
                    if format != META_FORMAT {
                        // Replay would apply this build's node operations to pages of another layout.
                        return Err(Error::BadMeta(format!(
                            "the tree's pages are of format {format}, this build reads format {META_FORMAT} only \
                             (format 4 added inner nodes' children arrays): open it with the build that made it"
                        )));
                    }
                    self.check_log_matches(&meta, meta.lsn())?;
                }
                Ok(meta) if meta.iter().all(|&b| b == 0) => self.check_record_mark()?,
                Ok(_) => {
                    return Err(Error::BadMeta(
                        "page 0 is a bufpool page but not a tree's meta page: not a tree's data file".into(),
                    ))
                }
                Err(bufpool::Error::Corrupt {
                    reason:
                        reason @ (bufpool::CorruptReason::BadMagic { .. } | bufpool::CorruptReason::WrongPageSize { .. }),
                    ..
                }) => {
                    self.check_garbled_meta(reason)?;
                    self.check_record_mark()?;
                }
                Err(_) => self.check_record_mark()?,
            }
        } else if self.wal().was_cut() {
            // A log is cut only after a checkpoint wrote and synced its tree's pages: an empty data file is not
            // this log's (a wrong path, a lost file). Replayed, the log's tail made a partial tree of it, and the
            // open's checkpoint cut the log its own tree still needed (R15-3).
            return Err(Error::LogMismatch(format!(
                "the data file is empty, but the log (from LSN {}) was cut at a checkpoint of its tree's pages: \
                 not this log's data file",
                self.wal().start_lsn()
            )));
        }
        let replayed = self.recover()?;
        if self.pool.file_pages(self.file)? == 0 || self.unfinished_create(replayed)? {
            return self.init_new();
        }
        let meta = self.pool.read(self.pid(META))?;
        if meta.get(..8) != Some(&META_MAGIC[..]) || meta_u32(&meta, M_FORMAT) != META_FORMAT {
            return Err(Error::BadMeta("bad magic or format in page 0".into()));
        }
        self.check_log_matches(&meta, meta.lsn())?;
        let ps = meta_u32(&meta, M_PAGE_SIZE) as usize;
        if ps != self.pool.page_size() {
            return Err(Error::BadMeta(format!(
                "tree was made with {ps}-byte pages, the pool has {}",
                self.pool.page_size()
            )));
        }
        self.root.store(meta_u32(&meta, M_ROOT), Ordering::Release);
        drop(meta);
        // Recovered pages go to disk and the replayed log is cut, so the next recovery starts here.
        if replayed > 0 {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Before replay, page 0 reads as no bufpool page (its header's magic, format or page size gone, `reason`):
    /// the page of a file that is not a tree's, or this tree's meta page garbled by a power loss during its write
    /// (a device that does not write a 4 KiB block atomically garbles every sector of it in flight, its header's
    /// included; a torn write that kept the header fails its checksum instead, and is replayed as it always was).
    /// The page itself cannot tell the two apart; what a garble cannot forge can:
    /// - the log names this data file by the identity in its record ([`TreeWal::data_file`],
    ///   [`BufferPool::file_identity`]: the sidecar `<file>.bpmeta` of a file opened by path), so the file is the
    ///   one its tree's opens bound the log to ([`Tree::check_data_file`] has refused another identity already);
    ///   a file without a record (another program's, a storage that keeps none) or a log that names none is
    ///   refused as not a tree's data file, as before (R28-1), since nothing pairs them;
    /// - and the log's first record of page 0 is its image, which replay rebuilds it from (the meta page is
    ///   logged whole at each change, and a checkpoint logs it after its redo point, so a tree's log holds it);
    ///   a log without one cannot rebuild the page, and the open is refused before anything is replayed.
    ///
    /// Then the open replays, as for a torn meta page, and checks the rebuilt page after replay (R46-O41, R47-1
    /// in RELIABILITY.md: until then every such page 0 was refused as foreign, and the tree with it).
    fn check_garbled_meta(&self, reason: bufpool::CorruptReason) -> Result<()> {
        let paired = matches!(
            (self.pool.file_identity(self.file)?, self.wal().data_file()),
            (Some(file), Some(named)) if file == named
        );
        if !paired {
            return Err(Error::BadMeta(format!(
                "page 0 is not a tree's meta page ({reason}): not a tree's data file (a tree's meta page garbled by \
                 a power loss is rebuilt from its log only when the log names the data file by its record's \
                 identity, and this pair has none to compare)"
            )));
        }
        let mut first = None;
        self.wal().scan(|_, ops| {
            if first.is_none() {
                first = ops
                    .iter()
                    .find(|op| op.page() == META && !matches!(op, OwnedOp::Written(..) | OwnedOp::Taking(..)))
                    .map(|op| matches!(op, OwnedOp::Image(..)));
            }
            Ok(())
        })?;
        if first != Some(true) {
            return Err(Error::BadMeta(format!(
                "page 0, the tree's meta page, is unreadable ({reason}), and its log, which names this data file, \
                 holds no image of it to rebuild it from: restore the data file and its log from a backup; nothing \
                 was replayed or written"
            )));
        }
        Ok(())
    }

    /// Before replay, page 0 cannot speak for the data file (unreadable: torn, garbled, a failed read; or zeroes):
    /// refuses the open if the file's record ([`BufferPool::engine_mark`], the sidecar of a file opened by path)
    /// says its tree's last checkpoint was at an LSN before the log's start. Each checkpoint raises the mark to its cut
    /// point, durably before the cut (`checkpoint_pass`), so the log of the file's own tree never starts past it;
    /// one that does is newer than the data file: a stale copy of the file restored with its record, which
    /// replay would otherwise open over its current log, every change the cut records held lost, and
    /// [`Tree::check`] clean (R48-O10 in RELIABILITY.md). A readable meta page answers the same question itself
    /// (`check_log_matches`), and a record without a mark (none, or written by a build before it) answers
    /// nothing, as before.
    fn check_record_mark(&self) -> Result<()> {
        let Some(mark) = self.pool.engine_mark(self.file)? else {
            return Ok(());
        };
        let start = self.wal().start_lsn();
        if start > mark {
            return Err(Error::LogMismatch(format!(
                "page 0, the tree's meta page, cannot be read before replay (torn, garbled, unreadable or never \
                 written), and the data file's record says its tree's last checkpoint was at LSN {mark}, before the \
                 log's start at {start}: the data file is older than its log (a stale copy restored with its \
                 record?); nothing was replayed or written"
            )));
        }
        Ok(())
    }

    /// Refuses a log that is not this tree's (see [`Tree::open`]): `meta` is the meta page, `lsn` its page LSN.
    fn check_log_matches(&self, meta: &[u8], lsn: Lsn) -> Result<()> {
        let (id, start) = (meta_u64(meta, M_LOG_ID), meta_u64(meta, M_LOG_START));
        if id != self.wal().id() {
            return Err(Error::LogMismatch(format!(
                "the tree was made with log {id:#018x}, this is log {:#018x} (a lost or replaced log?)",
                self.wal().id()
            )));
        }
        if self.wal().start_lsn() > start {
            return Err(Error::LogMismatch(format!(
                "the log starts at LSN {}, after the tree's last checkpoint at {start}",
                self.wal().start_lsn()
            )));
        }
        self.check_page_lsn(META, lsn)
    }

    /// A page can only be on disk after the log up to its LSN was durable: a page newer than the log's end means
    /// the log lost its tail or is not this tree's.
    fn check_page_lsn(&self, no: PageNo, lsn: Lsn) -> Result<()> {
        let end = self.wal().end_lsn();
        if lsn > end {
            return Err(Error::LogMismatch(format!(
                "page {no} has LSN {lsn}, beyond the end of the log ({end})"
            )));
        }
        Ok(())
    }

    /// Claims `wal` for the tree (a log serves one open tree: [`TreeWal::claim_for_tree`]), opens the data file
    /// with `open`, `wal` its own log, makes the tree of it and runs `start` on it (recovery, or a new tree's
    /// first pages). The claim ([`TreeClaim`]) is the data file's log in the pool: it is released once the tree
    /// is dropped and the pool let go of the file (R17-1). A refused start leaves the pool as before the call:
    /// the data file is dropped from it (its cached pages discarded unwritten: the log still holds every change
    /// replay made to them), which releases the claim, so the caller can fix the cause and open the same file and
    /// log again in the same pool (F16-1 in RELIABILITY.md). A file the pool cannot drop stays open, its log
    /// claimed. A panic out of `start` (a log [`Storage`] of the caller's that panics, or a bug) is refused the
    /// same way, as the pool's [`bufpool::Error::Panicked`] (R17-O2 in RELIABILITY.md).
    fn attach(
        pool: Arc<BufferPool>,
        wal: Arc<TreeWal>,
        options: TreeOptions,
        open: impl FnOnce(&BufferPool, FileOptions) -> bufpool::Result<FileId>,
        start: impl FnOnce(&Tree) -> Result<()>,
    ) -> Result<Tree> {
        let user = pool.user_bytes();
        if !(4096 - bufpool::PAGE_HEADER_SIZE..=node::USER_BYTES_MAX).contains(&user) {
            return Err(Error::BadMeta(format!("unsupported page user size {user}")));
        }
        // A bounded log's region holds at least what `REGION_MIN` is for 4 KiB pages (32 pages), so that the
        // quarter kept for a checkpoint holds its records and those of the appends that passed the check: with
        // larger pages a few leaf images passed the region's end, and no commit or checkpoint was taken again
        // (R25-2 in RELIABILITY.md).
        if let Some(capacity) = wal.capacity() {
            let least = REGION_MIN / 4096 * pool.page_size() as u64;
            if wal.region_len() < least {
                return Err(Error::Log(format!(
                    "the tree's log was made with a capacity of {capacity} bytes, too small for pages of {} bytes: \
                     a bounded log's regions must hold 32 pages; nothing was opened or changed: give the tree a \
                     log of at least {} bytes",
                    pool.page_size(),
                    LOG_HDR + 2 * least
                )));
            }
        }
        let claim = wal.claim_for_tree()?;
        // Before the open: its recovery appends too. A claim is the log's one tree, so the setting is this tree's.
        wal.set_page_images(!options.doublewrite);
        let file = open(
            &pool,
            FileOptions::new().wal(claim.clone()).doublewrite(options.doublewrite),
        )?;
        let tree = Tree {
            pool,
            claim,
            file,
            root: AtomicU32::new(NO_PAGE),
            limits: Limits::for_user_bytes(user),
            shrunk_at: AtomicU64::new(0),
            id: NEXT_TREE_ID.fetch_add(1, Ordering::Relaxed),
        };
        // A panic out of `start` is refused as any start is (R17-O2): unwound past here, it left the data file
        // open in the pool, its replayed pages cached and, since R17-1, the log claimed with it, so an open
        // after it was refused until the caller closed a file whose id it was never given.
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tree.check_data_file()?;
            start(&tree)?;
            tree.bind_data_file()
        }))
        .unwrap_or_else(|payload| {
            Err(bufpool::Error::panicked("the tree's start (recovery, or a new tree's first pages)", payload).into())
        });
        match started {
            Ok(()) => Ok(tree),
            Err(e) => {
                // The refusal is the error to report; a file the sweep cannot drop (a page latched by another
                // call for over a second) stays open, as it did before F16-1, and keeps the log claimed.
                let _ = tree.pool.drop_file(tree.file);
                Err(e)
            }
        }
    }

    /// Before anything is replayed or written: a log whose header names another data file than this one
    /// ([`TreeWal::data_file`], [`BufferPool::file_identity`]) is not this tree's. The data file alone cannot
    /// always tell: an empty file, or one whose meta page is torn, was replayed from whatever log it was given,
    /// and the open's checkpoint then cut that log, which another tree's unwritten pages needed (R28-O2 in
    /// RELIABILITY.md, fixed as R33-20). Logs that name no file (made before session 33, or whose tree's data
    /// file has no identity) are not checked here; the meta page's log identity still is, after replay.
    fn check_data_file(&self) -> Result<()> {
        match (self.pool.file_identity(self.file)?, self.wal().data_file()) {
            (Some(file), Some(named)) if file != named => Err(Error::LogMismatch(format!(
                "the log serves the data file of identity {named:08x}, and this data file's identity is {file:08x}: \
                 not this data file's log (another tree's, or this file was made anew); nothing was replayed or \
                 written"
            ))),
            _ => Ok(()),
        }
    }

    /// After a successful open or create: the log's header names this data file from now on (once; a no-op
    /// when it does already), so that [`Tree::check_data_file`] can refuse the log with another data file.
    fn bind_data_file(&self) -> Result<()> {
        match self.pool.file_identity(self.file)? {
            Some(identity) => self.wal().bind_data_file(identity),
            None => Ok(()),
        }
    }

    /// Whether the data file holds nothing but what a create refused halfway left in it ([`Tree::init_new`]: its
    /// pages taken, then a frame, the log's append or its commit refused): the log holds no record and was never
    /// cut, so no change of this tree was ever logged, let alone committed; `replayed` (the records the open read)
    /// is 0; and the file has at most the two pages a create takes, each of page LSN 0 (written by the pool with no
    /// logged change: zeroes, or a meta page and root leaf the create filled but did not log). The refused create
    /// drops the data file from the pool, discarding its pages unwritten, but only after it released them: in
    /// between, another thread's miss may take such a page as its victim and write it (a page of LSN 0 waits for
    /// no log). Every later open then found a data file of one zero page and was refused ("bad magic or format in
    /// page 0"), and every create "the data file is not empty", for good, where `Tree::open`'s docs promise that a
    /// refused open leaves the pair to open again once the cause is fixed (R49-10 in RELIABILITY.md). A file of
    /// another program's, or of a tree with a log replaced by an empty one, is not taken for it: page 0 passed
    /// [`Tree::open_in`]'s check before replay (all zeroes, or a meta page naming this log), and a tree's create
    /// logs its meta page and root leaf, so a tree's pages have LSNs above 0.
    fn unfinished_create(&self, replayed: usize) -> Result<bool> {
        let wal = self.wal();
        if replayed > 0 || wal.was_cut() || wal.end_lsn() != wal.start_lsn() {
            return Ok(false);
        }
        let pages = self.pool.file_pages(self.file)?;
        if pages > META + 2 {
            return Ok(false);
        }
        for no in META..pages {
            match self.pool.read(self.pid(no)) {
                Ok(g) if g.lsn() == 0 => {}
                // Not a page of a create: the file is refused as before ("bad magic or format in page 0").
                Ok(_) | Err(bufpool::Error::Corrupt { .. } | bufpool::Error::ShortRead { .. }) => return Ok(false),
                // A full pool, an I/O error: the open is refused with it, to be tried again.
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// The page a new tree's create makes `no` (the meta page, then the root leaf): a new page at the end of the
    /// file, or, in a file a create refused halfway left ([`Tree::unfinished_create`]), the page it left there.
    fn page_for_create(&self, no: PageNo) -> Result<WriteGuard<'_>> {
        let mut g = match no < self.pool.file_pages(self.file)? {
            true => self.pool.write_clean(self.pid(no))?,
            false => self.pool.new_page(self.file)?,
        };
        if g.page_id().page_no() != no {
            return Err(Error::BadMeta("new file did not start at page 0".into()));
        }
        g.fill(0);
        Ok(g)
    }

    fn init_new(&self) -> Result<()> {
        let mut meta = self.page_for_create(META)?;
        let mut root = self.page_for_create(META + 1)?;
        meta[..8].copy_from_slice(META_MAGIC);
        set_meta_u32(&mut meta, M_FORMAT, META_FORMAT);
        set_meta_u32(&mut meta, M_PAGE_SIZE, self.pool.page_size() as u32);
        set_meta_u32(&mut meta, M_ROOT, 1);
        set_meta_u32(&mut meta, M_FREE, NO_PAGE);
        set_meta_u64(&mut meta, M_LOG_ID, self.wal().id());
        set_meta_u64(&mut meta, M_LOG_START, self.wal().start_lsn());
        node::init(&mut root, node::KIND_LEAF, 0, NO_PAGE, None, None);
        let lsn = self.wal().append_own(&[
            Op::Image {
                page: META,
                bytes: &meta,
            },
            Op::Image { page: 1, bytes: &root },
        ])?;
        meta.set_lsn(lsn);
        root.set_lsn(lsn);
        self.root.store(1, Ordering::Release);
        drop((meta, root));
        self.wal().commit()
    }

    /// Redoes every valid log record whose LSN is above its page's LSN, then hands the pool what the log says
    /// each page's LSN on disk is at least ([`Tree::expect_written`]); returns the number of records read.
    ///
    /// Records are redone in log order, as read, but a window behind the scan ([`Ahead`]): the pages a window's
    /// records change are handed to the pool as a prefetch ([`BufferPool::prefetch`]) when the window fills, and
    /// the window before it is redone meanwhile. A redo reads every page it changes before it changes it (the
    /// page's LSN decides whether the record applies; a torn page is rebuilt from its image), and one read at a
    /// time, a device's latency each, was most of a tree's open after a crash: 54 us a record of STOCK's log
    /// (BENCHMARKS.md, "Session 51"). The prefetch is a hint: the redo reads each page as before (waiting for its
    /// load if it is under way), and whatever a prefetched read met (a torn page, an I/O error) the redo's own
    /// read meets again and handles as before.
    fn recover(&self) -> Result<usize> {
        let mut records = 0;
        let mut written: HashMap<PageNo, Lsn> = HashMap::new();
        let pages = self.pool.file_pages(self.file)?;
        let mut growth = Growth {
            budget: u64::from(pages).max(self.pool.frames() as u64).max(GROWTH_MIN),
            announced: 0,
            zeroed: HashSet::new(),
        };
        let mut ahead = Ahead::default();
        self.wal().scan(|lsn, ops| {
            records += 1;
            ahead.pages.extend(
                ops.iter()
                    .filter(|op| !matches!(op, OwnedOp::Written(..) | OwnedOp::Taking(..)) && op.page() < pages)
                    .map(|op| self.pid(op.page())),
            );
            ahead.filling.push((lsn, ops));
            if ahead.pages.len() >= AHEAD_PAGES || ahead.filling.len() >= AHEAD_RECORDS {
                self.prefetch(&mut ahead.pages);
                for (lsn, ops) in std::mem::replace(&mut ahead.ready, std::mem::take(&mut ahead.filling)) {
                    self.redo_record(lsn, ops, &mut written, &mut growth)?;
                }
            }
            Ok(())
        })?;
        self.prefetch(&mut ahead.pages);
        for (lsn, ops) in ahead.ready.into_iter().chain(ahead.filling) {
            self.redo_record(lsn, ops, &mut written, &mut growth)?;
        }
        self.expect_written(written)?;
        Ok(records)
    }

    /// Starts loading `pages` (sorted, each once) without waiting, and empties the list: a hint for the reads of
    /// the redo to come ([`Tree::recover`]). Its error is not the open's: a page whose load failed is read again
    /// by the redo, which reports what that read meets.
    fn prefetch(&self, pages: &mut Vec<PageId>) {
        pages.sort_unstable();
        pages.dedup();
        let _ = self.pool.prefetch(pages);
        pages.clear();
    }

    /// Redoes the ops of the record ending at `lsn` ([`Tree::recover`]), noting in `written` the LSN each page it
    /// names holds at least.
    fn redo_record(
        &self,
        lsn: Lsn,
        ops: Vec<OwnedOp>,
        written: &mut HashMap<PageNo, Lsn>,
        growth: &mut Growth,
    ) -> Result<()> {
        for op in ops {
            let (page, at) = match op {
                OwnedOp::Written(page, at) => (page, at),
                // Not a page's change: room for the pages a bulk load took after it, as many as a load
                // announces at once at most (a note naming more is not a load's).
                OwnedOp::Taking(_, pages) => {
                    let pages = u64::from(pages.min(TAKING_PAGES));
                    growth.announced = growth.announced.saturating_add(pages);
                    growth.budget = growth.budget.saturating_add(pages);
                    continue;
                }
                op => {
                    let page = op.page();
                    self.redo(lsn, op, growth)?;
                    (page, lsn)
                }
            };
            let w = written.entry(page).or_default();
            *w = (*w).max(at);
        }
        Ok(())
    }

    /// After replay: each page a checkpoint's note names (`OwnedOp::Written`: the page was written, before the
    /// log's start was cut, at that LSN), and each page a replayed record changed (at the last such record's
    /// end), is handed to the pool as the LSN the page holds at least ([`BufferPool::expect_lsn`]). A page read
    /// from now on older than that is a write the device dropped, which nothing in the log can redo: the pool
    /// refuses it at each read, `Corrupt { StaleWrite }` naming it, and a cached copy older now, or a page past
    /// the file's end, refuses the open with [`Error::StalePage`] (R21-10, R22-10 in RELIABILITY.md; `wal.rs`,
    /// "Dropped writes"). Nothing is read here; the pool's table keeps them for the next checkpoint's notes
    /// ([`Tree::note_cut`]) until a read or a write of the page confirms them.
    fn expect_written(&self, written: HashMap<PageNo, Lsn>) -> Result<()> {
        let mut written: Vec<(PageNo, Lsn)> = written.into_iter().collect();
        written.sort_unstable();
        for (no, at) in written {
            match self.pool.expect_lsn(self.pid(no), at) {
                Ok(()) => {}
                Err(bufpool::Error::Corrupt {
                    page,
                    reason: bufpool::CorruptReason::StaleWrite { lsn, written },
                }) => return Err(Error::StalePage { page, lsn, written }),
                Err(bufpool::Error::OutOfRange { page, .. }) => {
                    return Err(Error::StalePage {
                        page,
                        lsn: 0,
                        written: at,
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn redo(&self, lsn: Lsn, op: OwnedOp, growth: &mut Growth) -> Result<()> {
        let no = op.page();
        let end = self.pool.file_pages(self.file)?;
        if no >= end {
            self.check_growth(lsn, &op, end, growth)?;
            growth.zeroed.extend(end..no);
            while self.pool.file_pages(self.file)? <= no {
                drop(self.pool.new_page(self.file)?);
            }
        }
        if matches!(op, OwnedOp::Image(..)) {
            growth.zeroed.remove(&no);
        }
        // Replay makes every page it meets dirty, applied or not (below), so the next checkpoint writes it again
        // before it cuts the log. After a failed fsync the copy a read returns (the OS page cache) may not be on the
        // device: a reopen in the same process (or after a restart, the cache being the kernel's) finds a page
        // newer than its records, skips them, and with the page left clean a checkpoint cut the log that held its
        // images while the device held an older copy (R47-30 in RELIABILITY.md). A page replay meets has a full
        // image after the redo point (its first change after it), so this write of it is one the log covers; with
        // the doublewrite area (`TreeOptions::doublewrite`), the area covers it as every write (`wal.rs`, "Torn
        // pages: the doublewrite area").
        let mut g = match self.pool.write_clean(self.pid(no)) {
            Ok(g) => g,
            // A page torn by a crash mid-write fails its checksum (with the doublewrite area the file's open
            // restored it already). Its first change after the redo point was
            // logged as a full image (full-page writes), so an image is what replay meets first: rebuild the
            // page from it. The pool has no "overwrite unread" call; freeing the page and allocating it again
            // (the pool hands out the lowest free page number) gives a zeroed frame for it, unread.
            // A torn write that extended the file leaves a partial last page, which reads short: the same case.
            Err(bufpool::Error::Corrupt { .. } | bufpool::Error::ShortRead { .. })
                if matches!(op, OwnedOp::Image(..)) =>
            {
                self.pool.free_page(self.pid(no))?;
                let g = self.pool.new_page(self.file)?;
                if g.page_id() != self.pid(no) {
                    return Err(self.corrupt(no, "could not reclaim a torn page for its logged image"));
                }
                g
            }
            Err(e) => return Err(e.into()),
        };
        self.check_page_lsn(no, g.lsn())?;
        // Dirty whatever the pool's default guard (`Builder::clean_write_guards`): the page stamped with its own
        // LSN, a change of nothing but the dirty mark.
        let page_lsn = g.lsn();
        g.set_lsn(page_lsn);
        if page_lsn >= lsn {
            return Ok(());
        }
        let applied = match &op {
            OwnedOp::Image(_, img) if img.len() == g.len() => {
                g.copy_from_slice(img);
                true
            }
            OwnedOp::Image(..) => false,
            OwnedOp::Put(_, k, v) => node::leaf_upsert(&mut g, k, v).unwrap_or(false),
            OwnedOp::Del(_, k) => node::leaf_delete(&mut g, k).is_ok(),
            // The right half is logged as an image of its own page: here it is built and dropped.
            OwnedOp::Split(_, right, k, v) => {
                let mut right_half = vec![0u8; g.len()];
                node::split_leaf(&mut g, &mut right_half, *right, k, v).is_ok()
            }
            OwnedOp::Inner(_, sep, child) => node::inner_insert(&mut g, sep, *child).unwrap_or(false),
            OwnedOp::Cut(_, right, sep) => node::cut_leaf(&mut g, sep, *right).is_ok(),
            // Only a layer above the trees logs these (a transaction log), never a tree's own log. A checkpoint's
            // note changes nothing (`recover` checks it after replay).
            OwnedOp::Patch(..) | OwnedOp::Written(..) | OwnedOp::Taking(..) => false,
        };
        if !applied {
            return Err(self.corrupt(no, "log record does not apply to the page"));
        }
        g.set_lsn(lsn);
        Ok(())
    }

    /// Before replay adds pages up to `op`'s page, `end` and past the data file's (and the pages replay added so
    /// far): refuses, naming the page and the record's LSN, a record a crashed tree's log cannot hold (R40-30 in
    /// RELIABILITY.md). A tree logs a new page's full image before any other change to it (its LSN is 0, below
    /// any redo point: full-page writes; a bulk load's pages are synced before its record), so a record of
    /// another kind past the end is not the tree's; and the pages between the end and an image's page were
    /// taken from the pool before it (pages of changes logged after it, a bulk load's pages a crash lost, which
    /// the load announced in the log before it took them: R41-20), so the pages replay adds zeroed and no image
    /// has filled yet stay within [`Growth::budget`]. Without this, a record naming page `u32::MAX - 1` had replay
    /// add zeroed pages one by one towards it (R40-O20).
    fn check_growth(&self, lsn: Lsn, op: &OwnedOp, end: PageNo, growth: &Growth) -> Result<()> {
        let no = op.page();
        if !matches!(op, OwnedOp::Image(..)) {
            return Err(Error::LogMismatch(format!(
                "the record at LSN {lsn} changes page {no}, past the data file's end ({end} pages), and no image \
                 before it made that page (a tree logs a new page's full image first): a corrupt log, or not this \
                 data file's; the open is refused before the file grows"
            )));
        }
        let zeroed = growth.zeroed.len() as u64 + u64::from(no - end);
        if no == NO_PAGE || zeroed > growth.budget {
            return Err(Error::LogMismatch(format!(
                "the record at LSN {lsn} holds an image of page {no}, {} pages past the data file's end ({end} \
                 pages): replay would leave {zeroed} zeroed pages that no record has filled, more than the {} a \
                 crashed tree's log can need (the larger of the file's pages at the open, the pool's frames and \
                 {GROWTH_MIN}, plus the {} bulk loads announced in the records before it): a corrupt log, or not \
                 this data file's; the open is refused before the file grows",
                no - end,
                growth.budget,
                growth.announced
            )));
        }
        Ok(())
    }

    /// The size limits of keys and values for this tree's page size.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The pool the tree lives in.
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// The tree's log.
    pub fn wal(&self) -> &Arc<TreeWal> {
        self.claim.wal()
    }

    /// The pool's id of the data file.
    pub fn file(&self) -> FileId {
        self.file
    }

    fn pid(&self, no: PageNo) -> PageId {
        PageId::new(self.file, no)
    }

    fn corrupt(&self, no: PageNo, what: &'static str) -> Error {
        Error::CorruptNode {
            page: self.pid(no),
            what,
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.len() > self.limits.max_key {
            return Err(Error::KeyTooLong {
                len: key.len(),
                max: self.limits.max_key,
            });
        }
        Ok(())
    }

    /// Copies a consistent image of node `no` into `buf` (as long as the user region): the parts of the region a
    /// reader of the node looks at ([`node::used_parts`]: header, fences and slots; the entries), not the free
    /// space between them, whose bytes in `buf` stay whatever they were. A scan's parents (`leaf_run`); its leaves
    /// until session 44, which now give only their rows in range ([`node::leaf_rows`]).
    fn copy_node(&self, no: PageNo, buf: &mut [u8]) -> Result<()> {
        // A torn copy is discarded by the pool's version check; a consistent one is decoded with bounds checks.
        self.pool.read_optimistic(self.pid(no), |v| {
            let (front, heap) = node::used_parts(&ViewBytes(v));
            if buf.len() != v.len() {
                // Not a buffer of the region's size (a caller's bug): the pool reports the out-of-range read.
                return v.read_into(0, buf);
            }
            v.read_into(0, &mut buf[..front]) && v.read_into(heap, &mut buf[heap..])
        })?;
        Ok(())
    }

    fn restart(&self, restarts: &mut usize) -> Result<()> {
        *restarts += 1;
        if *restarts >= RESTARTS_MAX {
            return Err(Error::Invariant(format!(
                "gave up after {RESTARTS_MAX} restarts: fence keys cover nothing?"
            )));
        }
        if (*restarts).is_multiple_of(64) {
            std::thread::yield_now();
        }
        Ok(())
    }

    /// Descends to the leaf covering `key` reading only what each search needs from each node (no page copy);
    /// returns the leaf's page number, whether it holds `key`, whose value is copied into `value` if given, and
    /// the slot of the leaf a hint names ([`LeafHint`]).
    fn descend(&self, key: &[u8], value: Option<&mut Vec<u8>>) -> Result<(PageNo, bool, Option<usize>)> {
        self.descend_path(key, value, false)
            .map(|(leaf, found, _, slot)| (leaf, found, slot))
    }

    /// [`Tree::descend`], also returning the leaf's parent as the descent found it ([`NO_PAGE`] for a root leaf).
    /// With `stop_at_parent` the leaf itself is not read: the descent returns the leaf as its parent names it, and
    /// `found` is false (no slot).
    fn descend_path(
        &self,
        key: &[u8],
        mut value: Option<&mut Vec<u8>>,
        stop_at_parent: bool,
    ) -> Result<(PageNo, bool, PageNo, Option<usize>)> {
        let mut restarts = 0;
        'restart: loop {
            let mut no = self.root.load(Ordering::Acquire);
            let mut parent = NO_PAGE;
            let mut expect: Option<u8> = None;
            loop {
                let (p, at) = self.pool.read_optimistic(self.pid(no), |v| {
                    node::probe_at(&ViewBytes(v), key, expect, value.as_deref_mut(), node::ALL)
                })?;
                match p {
                    Probe::Restart => {
                        self.restart(&mut restarts)?;
                        continue 'restart;
                    }
                    Probe::Malformed => return Err(self.corrupt(no, "not a tree node")),
                    Probe::Child { page, level: 0 } if stop_at_parent => return Ok((page, false, no, None)),
                    Probe::Child { page, level } => {
                        (parent, no) = (no, page);
                        expect = Some(level);
                    }
                    Probe::Leaf { found } => return Ok((no, found, parent, hint_slot(found, at))),
                }
            }
        }
    }

    /// The leaf covering `key` and the leaves after it under the same parent whose keys may lie before `end` (at
    /// most [`RANGE_RUN_MAX`]), read from a consistent copy of the parent (in `buf`), and where the run stops: the
    /// low key of the leaf after it, if the run ended at the parent's end and that key is before `end` (else
    /// `None`). Leaves are not read: the caller validates each by its fences.
    fn leaf_run(
        &self,
        key: &[u8],
        end: &Bound<Vec<u8>>,
        buf: &mut [u8],
    ) -> Result<(VecDeque<PageNo>, Option<Vec<u8>>)> {
        let mut restarts = 0;
        loop {
            // Upper levels are searched in place; only the parent, whose child list is kept, is copied (the leaf is
            // read once, by the scan).
            let (leaf, _, parent, _) = self.descend_path(key, None, true)?;
            if parent == NO_PAGE {
                return Ok((VecDeque::from([leaf]), None));
            }
            self.copy_node(parent, buf)?;
            let n = match Node::parse(buf) {
                Some(n) if n.level() == 1 && n.covers(key) => n,
                None if !Node::is_dead(buf) => return Err(self.corrupt(parent, "not a tree node")),
                _ => {
                    // Changed since the descent read it (split, merged away, freed): descend again.
                    self.restart(&mut restarts)?;
                    continue;
                }
            };
            let bad = || self.corrupt(parent, "bad inner entry");
            let pos = n.child_pos(key).ok_or_else(bad)?;
            let mut run = VecDeque::new();
            let last = n.children().min(pos + RANGE_RUN_MAX);
            for p in pos..last {
                let (low, _) = n.child_bounds(p).ok_or_else(bad)?;
                if p > pos && !low.is_none_or(|l| before_end(end, l)) {
                    return Ok((run, None));
                }
                run.push_back(n.child_at(p).ok_or_else(bad)?);
            }
            let then = if last == n.children() {
                n.high()
            } else {
                n.child_bounds(last).ok_or_else(bad)?.0
            };
            return Ok((run, then.filter(|h| before_end(end, h)).map(<[u8]>::to_vec)));
        }
    }

    /// Looks `key` up and calls `f` with its value (or `None`) while the value is still in the thread's page
    /// buffer: no allocation.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        self.check_key(key)?;
        with_scratch(|buf| {
            let (_, found, _) = self.descend(key, Some(buf))?;
            Ok(f(found.then_some(buf.as_slice())))
        })
    }

    /// The value stored under `key`. Takes no latch (an optimistic read of each node on the path).
    ///
    /// Errors: [`Error::KeyTooLong`]; [`Error::Pool`] when a node's page could not be read (an I/O error, a
    /// corrupt page, no frame for a miss); [`Error::CorruptNode`].
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, |v| v.map(<[u8]>::to_vec))
    }

    /// Looks up a batch of keys; result `i` belongs to `keys[i]`. Every result reflects the tree at some moment
    /// during the call. [`Tree::get_many_hinted`] without the hints, collected.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = vec![None; keys.len()];
        self.get_many_hinted(keys, |i, v, _| out[i] = v.map(<[u8]>::to_vec))?;
        Ok(out)
    }

    /// Looks up a batch of keys and calls `f(i, value of keys[i] or None, the leaf that covered it)` once for each
    /// `i`, in key order (not in `i` order), while the value is still in the call's buffer: no allocation per key.
    /// Every result reflects the tree at some moment during the call; each hint serves a covered change of that
    /// key as [`Tree::get_hinted`]'s does.
    ///
    /// The batch descends level by level, in key order (neighbours share upper nodes), and each level is read in
    /// three passes over the batch, so the cache misses of different keys overlap instead of following one
    /// another key by key: start loading every node's page-table line (`BufferPool::prefetch_lookup`), then every
    /// node's frame and first bytes (`BufferPool::prefetch_frame`) and the I/O of the nodes it did not find resident
    /// (`BufferPool::prefetch`), then probe each node in place: the keys that share an inner node (every key at
    /// the root, neighbours lower down) in one optimistic read of it, its header checked once, its fences
    /// tested against the run's first and last key only, and each key's slot search started at the slot the key
    /// before it ended at (galloping from there when the run is dense in the node), a leaf once per key (its value is copied
    /// out). A key whose node changed meanwhile (the probe asks for a restart) takes a normal
    /// [`Tree::get_hinted`].
    pub fn get_many_hinted(&self, keys: &[&[u8]], mut f: impl FnMut(usize, Option<&[u8]>, LeafHint)) -> Result<()> {
        self.get_many_part_in(keys, &[], node::ALL, &mut f)
    }

    /// [`Tree::get_many_hinted`] passing `f` only bytes `part` of each value found, copied out of the page without
    /// the rest of the value (a field of a row): `value[part]` with `part.end`, then `part.start`, clamped to the
    /// value's length, so a value that ends before `part.end` gives the bytes it has from `part.start` on (none
    /// if it ends before that), never an error. A key that is absent gives `None`, as in `get_many_hinted`.
    pub fn get_many_part(
        &self,
        keys: &[&[u8]],
        part: std::ops::Range<usize>,
        f: impl FnMut(usize, Option<&[u8]>, LeafHint),
    ) -> Result<()> {
        self.get_many_at_hints(keys, &[], part, f)
    }

    /// [`Tree::get_many_part`] that first tries, for each key `keys[i]`, the leaf `hints[i]` names (a hint of a
    /// key near it, such as a leaf a read of a neighbouring key found: TPC-C's ITEM and STOCK rows), as
    /// [`Tree::get_at_hint`] does for one key: one optimistic probe of that page, answered only if it is a live
    /// leaf whose fences cover the key (a stale page number is no worse than a stale child pointer). The keys it
    /// does not answer (no hint, another tree's, a page split, merged, freed or reused since, or one that cannot
    /// be read now, or not in memory: its read is left to the descent, which starts a level's reads together)
    /// descend together as in [`Tree::get_many_hinted`]. The hinted leaves are prefetched together first (their
    /// page-table lines, then their frames), so their misses overlap as a level's do. A key without
    /// an entry in `hints` (a shorter slice) has none. `part` as in [`Tree::get_many_part`] (`0..usize::MAX`:
    /// whole values); `f` is called once for each `i`, the hinted keys' answers first (in `i` order), then the
    /// others' in key order, each with the leaf that covered the key.
    pub fn get_many_at_hints(
        &self,
        keys: &[&[u8]],
        hints: &[LeafHint],
        part: std::ops::Range<usize>,
        mut f: impl FnMut(usize, Option<&[u8]>, LeafHint),
    ) -> Result<()> {
        let part = node::Part {
            from: part.start,
            to: part.end,
        };
        self.get_many_part_in(keys, hints, part, &mut f)
    }

    fn get_many_part_in(
        &self,
        keys: &[&[u8]],
        hints: &[LeafHint],
        part: node::Part,
        f: &mut impl FnMut(usize, Option<&[u8]>, LeafHint),
    ) -> Result<()> {
        for k in keys {
            self.check_key(k)?;
        }
        // As `with_thread_buf`: past the thread-local's life (thread teardown), new vectors for this call.
        let mut scratch = BATCH.try_with(Cell::take).unwrap_or_default();
        let r = self.get_many_in(keys, hints, part, &mut scratch, f);
        let _ = BATCH.try_with(|s| s.set(scratch));
        r
    }

    /// [`Tree::get_many_hinted`]'s descent, with the thread's vectors (no allocation once they have grown).
    fn get_many_in(
        &self,
        keys: &[&[u8]],
        hints: &[LeafHint],
        part: node::Part,
        scratch: &mut BatchScratch,
        f: &mut impl FnMut(usize, Option<&[u8]>, LeafHint),
    ) -> Result<()> {
        let BatchScratch {
            at,
            next,
            pages,
            val,
            probes,
            order,
            hinted,
        } = scratch;
        let root = self.root.load(Ordering::Acquire);
        // Pending keys in key order: (index into `keys`, node to probe next, the level that node must have).
        at.clear();
        next.clear();
        order.clear();
        // The keys with a leaf hint of this tree: that leaf probed first (`get_many_at_hints`), every hinted page's
        // lines prefetched before the first probe. A hinted leaf not in memory is left to the descent, which starts
        // the reads of a level's missing pages together (and a stale hint would have read a page for nothing).
        // Each hint is checked and its page named once (until session 46 twice, in the prefetch's pass and the
        // probe's).
        hinted.clear();
        hinted.extend(
            (hints.iter().take(keys.len()).enumerate())
                .filter_map(|(i, &h)| self.own_leaf(h).map(|no| (i, no, self.pid(no), false))),
        );
        for &(_, _, p, _) in hinted.iter() {
            self.pool.prefetch_lookup(p);
        }
        for (_, _, p, resident) in hinted.iter_mut() {
            *resident = self.pool.prefetch_frame(*p, node::PROBE_PREFETCH);
        }
        let mut hinted = hinted.iter().peekable();
        for (i, &key) in keys.iter().enumerate() {
            let hint = hinted.next_if(|h| h.0 == i).filter(|h| h.3);
            if let Some(&(_, no, page, _)) = hint {
                // Only a leaf (the level expected) covering the key answers, or the one after it (as in
                // `get_at_hint`); a read error is left to the descent, which reports what it meets.
                let probe = self.pool.read_optimistic(page, |v| {
                    let (p, at) = node::probe_at(&BatchViewBytes(v), key, Some(0), Some(&mut *val), part);
                    let link = matches!(p, Probe::Restart).then(|| node::right_link(&BatchViewBytes(v), key));
                    (p, at, link.flatten())
                });
                match probe {
                    Ok((Probe::Leaf { found }, at, _)) => {
                        f(
                            i,
                            found.then_some(val.as_slice()),
                            self.hint_at(no, hint_slot(found, at)),
                        );
                        continue;
                    }
                    Ok((_, _, Some(link))) => {
                        if let Some((found, hint)) = self.probe_link(link, key, val, part) {
                            f(i, found.then_some(val.as_slice()), hint);
                            continue;
                        }
                    }
                    _ => {}
                }
            }
            // Sorted (below) by each key's first 8 bytes as one word, the keys compared only where those tie: the
            // key order, as `short_word` is monotone in it. (Sorted by the keys alone, each comparison was a slice
            // compare, a `memcmp` call: the sort cost about 400 instructions a key of a 64-key batch of 8-byte
            // keys.)
            order.push((node::short_word(key), i));
        }
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| keys[a.1].cmp(keys[b.1])));
        at.extend(order.iter().map(|&(_, i)| (i, root, None)));
        while !at.is_empty() {
            pages.clear();
            pages.extend(at.iter().map(|&(_, no, _)| self.pid(no)));
            pages.dedup();
            for &p in pages.iter() {
                self.pool.prefetch_lookup(p);
            }
            // The resident nodes' lines; the others (not resident when looked up) start their I/O. A hint: errors
            // surface in the probes' own reads. (In memory nothing is left, and the I/O pass is skipped: it looked
            // every node up again.)
            pages.retain(|&p| !self.pool.prefetch_frame(p, node::PROBE_PREFETCH));
            if !pages.is_empty() {
                let _ = self.pool.prefetch(pages);
            }
            let mut j = 0;
            while j < at.len() {
                let (_, no, expect) = at[j];
                // The run of keys (neighbours in key order) whose next node is this one: the upper levels' nodes
                // are shared by many keys of a batch (all of them at the root).
                let run = at[j..].iter().take_while(|e| e.1 == no && e.2 == expect).count();
                let (from, to) = (j, j + run);
                j = to;
                if run > 1 && expect != Some(0) {
                    // An inner node (or the root): one optimistic read of the node probes every key of the run,
                    // instead of a page-table lookup, version check and hit count per key. No values are asked
                    // for, so a node that turns out to be a leaf (a root leaf) is probed again key by key.
                    let keys_at = &at[from..to];
                    // The header is checked once, the fences against the run's first and last key.
                    self.pool.read_optimistic(self.pid(no), |v| {
                        probes.clear();
                        node::probe_run(
                            &BatchViewBytes(v),
                            keys_at.len(),
                            |r| keys[keys_at[r].0],
                            expect,
                            probes,
                        );
                    })?;
                    if !probes.iter().any(|p| matches!(p, Probe::Leaf { .. })) {
                        for (&(i, _, _), &p) in keys_at.iter().zip(probes.iter()) {
                            self.batch_step(keys[i], i, no, (p, 0), next, val, part, f)?;
                        }
                        continue;
                    }
                }
                for &(i, no, expect) in &at[from..to] {
                    let key = keys[i];
                    let (p, at) = self.pool.read_optimistic(self.pid(no), |v| {
                        node::probe_at(&BatchViewBytes(v), key, expect, Some(&mut *val), part)
                    })?;
                    self.batch_step(key, i, no, (p, at), next, val, part, f)?;
                }
            }
            std::mem::swap(at, next);
            next.clear();
        }
        Ok(())
    }

    /// What [`Tree::get_many_hinted`] does with probe `p` of node `no` for `key` (`keys[i]`), whose search ended
    /// at slot `at`: a child goes to the next level's keys, a leaf's answer (its value's `part` in `val`) to `f`;
    /// a node that changed meanwhile sends the key through [`Tree::get_hinted`].
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn batch_step(
        &self,
        key: &[u8],
        i: usize,
        no: PageNo,
        (p, at): (Probe, usize),
        next: &mut Vec<(usize, PageNo, Option<u8>)>,
        val: &[u8],
        part: node::Part,
        f: &mut impl FnMut(usize, Option<&[u8]>, LeafHint),
    ) -> Result<()> {
        match p {
            Probe::Child { page, level } => next.push((i, page, Some(level))),
            Probe::Leaf { found } => f(i, found.then_some(val), self.hint_at(no, hint_slot(found, at))),
            Probe::Restart => {
                let mut hint = LeafHint::default();
                let v = self.get_hinted(key, &mut hint, |v| v.map(|v| v[part.within(v.len())].to_vec()))?;
                f(i, v.as_deref(), hint);
            }
            Probe::Malformed => return Err(self.corrupt(no, "not a tree node")),
        }
        Ok(())
    }

    /// Inserts `key` with `val`, replacing any value it had. Not durable until [`Tree::commit`].
    ///
    /// Errors leave the tree as it was (a split either completes and is logged or leaves no trace):
    /// [`Error::KeyTooLong`] / [`Error::ValueTooLong`] ([`Tree::limits`]); a full device, the log's or (for a
    /// dirty page evicted to make room) the data file's ([`Error::is_no_space`]: retry once space is freed);
    /// [`Error::Log`] once the log has failed (reopen the tree to recover); [`Error::Pool`] when a node's page
    /// could not be read or given a frame (an I/O error, a corrupt page, `PoolExhausted`).
    pub fn put(&self, key: &[u8], val: &[u8]) -> Result<()> {
        self.put_as(key, val, false, &mut LeafHint::default())
    }

    /// [`Tree::put`] as a *covered* change: the caller has already appended a record of it (a whole-value put,
    /// redone idempotently) to the log this tree's log depends on ([`TreeWal::flush_first`]), so the tree's own
    /// log records nothing for it but a full image of the leaf on its first change after a checkpoint (structure
    /// changes are logged as always). The pool writes the leaf only after that other log is durable to its end.
    /// [`Tree::open`] does not restore covered changes: the caller redoes its log's records after it, and cuts
    /// its log at a point `p` only after every tree completed a [`Tree::checkpoint`] begun after every change
    /// recorded before `p` was applied. Refused unless the tree's log has a dependency.
    ///
    /// `hint` is where the key was last seen ([`Tree::get_hinted`], or an earlier covered change of this key or
    /// of the key before it in an ascending run): the leaf it names is latched and used if it still covers the
    /// key, which saves the descent; otherwise the change descends as [`Tree::put`] does. On return `hint`
    /// names the leaf the change went to (or nothing after a split).
    ///
    /// On a bounded log ([`TreeWal::open_storage_with_capacity`]) past three quarters of its region, the change
    /// first checkpoints the tree ([`Tree::checkpoint`]), which cuts the log: a covered change is not refused for
    /// the region's room, and a replay of the log above appends nothing there that would be refused instead (so
    /// also [`Tree::delete_covered`] and each leaf of [`Tree::put_covered_run`]).
    pub fn put_covered(&self, key: &[u8], val: &[u8], hint: &mut LeafHint) -> Result<()> {
        self.wal().check_covered()?;
        self.room_for_covered();
        self.put_as(key, val, true, hint)
    }

    /// [`Tree::put_covered`] for each put of `run`, in order, with the puts that one leaf covers applied under
    /// one latch of it: one latch and one note of its dependency on the log above (and at most one image) for the
    /// run's puts into that leaf, instead of one each; each put checks that the leaf covers its key from its own
    /// parse of the leaf (`node::leaf_upsert_covering`). The caller has appended a record of every put before the
    /// call, as for [`Tree::put_covered`].
    ///
    /// Any order of keys is correct (each put goes to the leaf that covers its key, and a key put twice ends
    /// with the later value); ascending keys are what make it cheaper: a put whose key the leaf of the put
    /// before it covers is applied without a latch of its own, and found in the leaf from the slot of the put
    /// before it on (the next slot first: no search for a run of consecutive keys or of inserts); else it
    /// latches the leaf its own `hint` names if that still covers the key (no hint: a descent). A put that does
    /// not fit its leaf splits it as [`Tree::put_covered`] does. On return each put's `hint` names the leaf it
    /// went to (nothing after a split).
    ///
    /// Every key and value is checked against the tree's limits before anything changes. An error after that
    /// (the log failed, an I/O error, a corrupt node) leaves the puts before some point of the run applied and
    /// the rest not, as a sequence of [`Tree::put_covered`] calls failing at that point would: the caller's
    /// record redoes the whole run on recovery.
    pub fn put_covered_run(&self, run: &mut [CoveredPut<'_>]) -> Result<()> {
        self.wal().check_covered()?;
        for p in run.iter() {
            self.check_put(p.key, p.val)?;
        }
        let mut i = 0;
        while i < run.len() {
            self.room_for_covered();
            // The first put's leaf: the one its hint names if the put finds that it is the live leaf covering its
            // key (checked from the put's own parse of the header: R48-O32 in BENCHMARKS.md), else the one
            // `latch_leaf` finds. A hinted page that cannot be latched now is left to the descent, as in
            // `latch_leaf`.
            // The leaf's note is prefetched before its latch (`TreeWal::prefetch_note`), here and after a descent.
            let hinted = self.own_leaf(run[i].hint).and_then(|no| {
                self.wal().prefetch_note(no);
                Some((no, self.pool.write_clean(self.pid(no)).ok()?))
            });
            let put = match hinted {
                Some((no, g)) => self.put_run_in_leaf(run, i, no, g)?,
                None => None,
            };
            i = match put {
                Some(j) => j,
                None => {
                    let (no, g) = self.latch_leaf(run[i].key, LeafHint::default())?;
                    self.wal().prefetch_note(no);
                    // `latch_leaf` checked under this latch that the leaf covers the key.
                    self.put_run_in_leaf(run, i, no, g)?
                        .ok_or_else(|| self.corrupt(no, "leaf"))?
                }
            };
        }
        Ok(())
    }

    /// [`Tree::put_covered_run`]'s puts from `run[i]` on into leaf `no`, exclusively latched (`g`), as far as it
    /// covers their keys: the index of the first put not applied (the run's end, a key the leaf does not cover,
    /// or after a put that split the leaf, applied by `split_insert`); `None` if the leaf does not cover
    /// `run[i]`'s key (a dead page, an inner node, a leaf whose fences exclude it: nothing changed).
    fn put_run_in_leaf(
        &self,
        run: &mut [CoveredPut<'_>],
        i: usize,
        no: PageNo,
        mut g: WriteGuard<'_>,
    ) -> Result<Option<usize>> {
        // Before the page changes: after it, logging the change cannot fail (see `TreeWal::check`).
        self.check_log(true, 1)?;
        let page_lsn = g.lsn();
        let (mut j, mut full, mut failed, mut shrunk) = (i, false, None, false);
        // The slot of the run's previous put into this leaf: a run of ascending keys searches only past it. The
        // first put starts at the slot its hint names (where a read found the key, or the run's last insert).
        let mut prev_slot = self.own_slot(run[i].hint, no);
        while let Some(p) = run.get_mut(j) {
            // One parse of the leaf's header a put, for both the check that it covers the key (the leaf's fences
            // cannot change under the latch, but a key past them belongs to another leaf) and the put.
            match node::leaf_upsert_covering(&mut g, p.key, p.val, prev_slot) {
                Ok(Upsert::Put { slot, shrank }) => {
                    prev_slot = Some(slot);
                    // A put that made one entry shorter (see `shrunk_at`), per put: another put of the run may
                    // grow the leaf back.
                    shrunk |= shrank;
                    p.hint = self.hint_at(no, Some(slot));
                    j += 1;
                }
                Ok(Upsert::NotCovered) if j == i => return Ok(None),
                Ok(Upsert::NotCovered) => break,
                Ok(Upsert::Full) => {
                    full = true;
                    break;
                }
                Err(UpsertError::NotANode) => {
                    failed = Some(self.corrupt(no, "not a tree node"));
                    break;
                }
                Err(UpsertError::Malformed) => {
                    failed = Some(self.corrupt(no, "leaf"));
                    break;
                }
            }
        }
        // The puts applied to this leaf, if any, are logged as one (a failure after some of them still notes
        // them: they are on the page).
        if j > i {
            if shrunk {
                self.note_shrink();
            }
            let op = Op::Put {
                page: no,
                key: run[i].key,
                val: run[i].val,
            };
            if let Some(lsn) = self.log_leaf(page_lsn, no, &g, op, true) {
                g.set_lsn(lsn);
            }
        }
        drop(g);
        if let Some(e) = failed {
            return Err(e);
        }
        if full {
            let p = &mut run[j];
            p.hint = LeafHint::default();
            self.split_insert(p.key, p.val, true)?;
            j += 1;
        }
        Ok(Some(j))
    }

    /// [`Tree::delete`] as a covered change, with a leaf hint (see [`Tree::put_covered`]).
    pub fn delete_covered(&self, key: &[u8], hint: &mut LeafHint) -> Result<bool> {
        self.wal().check_covered()?;
        self.room_for_covered();
        self.delete_as(key, true, hint)
    }

    /// Before a covered change (no latch held): a bounded log past three quarters of its region is checkpointed
    /// first, which cuts it. A covered change is not refused for the region's room (its record is in the log
    /// above already); in normal running the log above refuses appends while this log is past that bound (R25-4
    /// in RELIABILITY.md), but a replay of the log above after a crash appends nothing there, and its changes'
    /// leaf images overfilled the region until not even the checkpoint that would cut it could write its records
    /// out: refused for space at every open (R40-1). Two atomic loads for an unbounded log. A checkpoint that fails
    /// leaves the change to go ahead (its own check reports a failed log).
    fn room_for_covered(&self) {
        if self.wal().check().is_err_and(|e| e.is_no_space()) {
            let _ = self.checkpoint();
        }
    }

    /// [`Tree::get_with`], also noting in `hint` the leaf that covers `key` (found or not), for a covered change
    /// of the same key that follows ([`Tree::put_covered`]).
    pub fn get_hinted<R>(&self, key: &[u8], hint: &mut LeafHint, f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        self.check_key(key)?;
        with_scratch(|buf| {
            let (leaf, found, slot) = self.descend(key, Some(buf))?;
            *hint = self.hint_at(leaf, slot);
            Ok(f(found.then_some(buf.as_slice())))
        })
    }

    /// [`Tree::get_hinted`] that first tries the leaf `hint` names (a key read again, such as TPC-C's DISTRICT
    /// rows): one optimistic probe of that page, which answers only if it is a live leaf whose fences cover `key`,
    /// the check a descent's last step makes of the leaf its parent named (module docs, "Readers": a stale page
    /// number is no worse than a stale child pointer). Else (a hint of another tree or none, a page split, merged,
    /// freed or reused since, or one that cannot be read now) it descends from the root as [`Tree::get_hinted`]
    /// does. On return `hint` names the leaf that answered.
    pub fn get_at_hint<R>(&self, key: &[u8], hint: &mut LeafHint, f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        self.check_key(key)?;
        with_scratch(|buf| {
            if let Some(no) = self.own_leaf(*hint) {
                // Only a leaf of the level expected, covering the key, answers; a read error is left to the descent,
                // which reports what it meets (as `latch_leaf` does with a hint). A live leaf wholly below the key
                // names, in the same read, the leaf after it, which answers if it covers the key
                // (`Tree::probe_link`).
                let probe = self.pool.read_optimistic(self.pid(no), |v| {
                    let (p, at) = node::probe_at(&ViewBytes(v), key, Some(0), Some(&mut *buf), node::ALL);
                    let link = matches!(p, Probe::Restart).then(|| node::right_link(&ViewBytes(v), key));
                    (p, at, link.flatten())
                });
                match probe {
                    Ok((Probe::Leaf { found }, at, _)) => {
                        *hint = self.hint_at(no, hint_slot(found, at));
                        return Ok(f(found.then_some(buf.as_slice())));
                    }
                    Ok((_, _, Some(link))) => {
                        if let Some((found, next)) = self.probe_link(link, key, buf, node::ALL) {
                            *hint = next;
                            return Ok(f(found.then_some(buf.as_slice())));
                        }
                    }
                    _ => {}
                }
            }
            let (leaf, found, slot) = self.descend(key, Some(buf))?;
            *hint = self.hint_at(leaf, slot);
            Ok(f(found.then_some(buf.as_slice())))
        })
    }

    /// The answer for `key` of leaf `link`, the leaf after a hinted leaf that lies wholly below `key` (its link as
    /// `node::right_link` read it, in the same optimistic read as the probe that did not answer), if `link` is a
    /// live leaf covering `key`: whether it holds the key (`part` of its value then in `value`), and a hint of it.
    /// A page number read from a consistent leaf is no worse than a stale child pointer (module docs, "Readers"):
    /// the probe checks it. One link only, as
    /// [`Tree::scan_from`] follows; `None` (not that leaf now, or a page that cannot be read now) leaves the key to
    /// the descent, which reports what it meets. Saves the descent of a read whose hinted leaf split, or whose
    /// neighbourhood of keys straddles two leaves and was noted at the first (R47-O20 in BENCHMARKS.md).
    fn probe_link(&self, link: PageNo, key: &[u8], value: &mut Vec<u8>, part: node::Part) -> Option<(bool, LeafHint)> {
        let probe = self.pool.read_optimistic(self.pid(link), |v| {
            node::probe_at(&ViewBytes(v), key, Some(0), Some(&mut *value), part)
        });
        match probe {
            Ok((Probe::Leaf { found }, at)) => Some((found, self.hint_at(link, hint_slot(found, at)))),
            _ => None,
        }
    }

    /// A hint naming leaf `no` of this tree.
    #[inline]
    fn hint_at(&self, no: PageNo, slot: Option<usize>) -> LeafHint {
        let slot = slot.and_then(|s| u16::try_from(s).ok()).unwrap_or(NO_SLOT);
        LeafHint(Some((self.id, no, slot)))
    }

    /// The leaf `hint` names, if this tree gave it.
    #[inline]
    fn own_leaf(&self, hint: LeafHint) -> Option<PageNo> {
        hint.0.filter(|&(tree, _, _)| tree == self.id).map(|(_, no, _)| no)
    }

    /// The slot `hint` names in leaf `no` of this tree, if it names one there.
    #[inline]
    fn own_slot(&self, hint: LeafHint, no: PageNo) -> Option<usize> {
        hint.0
            .filter(|&(tree, page, slot)| tree == self.id && page == no && slot != NO_SLOT)
            .map(|(_, _, slot)| usize::from(slot))
    }

    /// The leaf covering `key`, exclusively latched: the one `hint` names if it is a live leaf covering `key`
    /// (one latch, no descent), else the one a descent finds (restarting until a latched leaf covers `key`).
    fn latch_leaf(&self, key: &[u8], hint: LeafHint) -> Result<(PageNo, WriteGuard<'_>)> {
        if let Some(no) = self.own_leaf(hint) {
            // A hint is only a guess: a page that cannot be latched now (beyond the file after a failed
            // extension, an I/O error) is left to the descent, which reports what it meets.
            if let Ok(g) = self.pool.write_clean(self.pid(no)) {
                if self.latched_leaf_covers(no, &g, key)? {
                    return Ok((no, g));
                }
            }
        }
        let mut restarts = 0;
        loop {
            // The descent stops at the leaf's parent: the leaf itself is read once, latched, by the check below (an
            // optimistic probe of it first cost a third of the descent, of 2.4 K instructions in TPC-C, and decided
            // nothing).
            let (no, _, _, _) = self.descend_path(key, None, true)?;
            let g = self.pool.write_clean(self.pid(no))?;
            if self.latched_leaf_covers(no, &g, key)? {
                return Ok((no, g));
            }
            drop(g);
            self.restart(&mut restarts)?;
        }
    }

    /// The log's part of a change just made to leaf `no` (exclusively latched by the caller), which held
    /// `page_lsn` before: `op` in the tree's log, or for a `covered` change nothing (either way a full image on
    /// the leaf's first change after a checkpoint), and the leaf's dependency on the log above noted
    /// ([`TreeWal::note_covered`]). The LSN to stamp, if a record was appended. The caller checked the log
    /// (cannot fail).
    #[inline]
    fn log_leaf(&self, page_lsn: Lsn, no: PageNo, image: &[u8], op: Op<'_>, covered: bool) -> Option<Lsn> {
        if covered {
            self.wal().note_covered(no);
            let lsn = self.wal().cover_leaf_checked(page_lsn, no, image);
            // The pool asks the log before writing only pages with an LSN: a covered change always leaves one
            // (0 is at or before every redo point, so the first covered change logs an image).
            debug_assert!(page_lsn > 0 || lsn.is_some());
            lsn
        } else {
            // Its redo may meet the leaf without covered changes made before it: after one that made room (see
            // `shrunk_at`), the leaf on disk may not have the room the op used, so the image is logged (R11-2).
            let op = if self.wal().has_dependency() && page_lsn <= self.shrunk_at.load(Ordering::Relaxed) {
                Op::Image { page: no, bytes: image }
            } else {
                op
            };
            Some(self.wal().append_leaf_checked(page_lsn, no, image, op))
        }
    }

    /// Notes, under the exclusive latch of the leaf it changed, a covered change that removed bytes from it
    /// (see `shrunk_at`).
    fn note_shrink(&self) {
        self.shrunk_at.fetch_max(self.wal().end_lsn(), Ordering::Relaxed);
    }

    /// `Err` unless `key` and `val` are within the tree's limits.
    fn check_put(&self, key: &[u8], val: &[u8]) -> Result<()> {
        self.check_key(key)?;
        if val.len() > self.limits.max_value {
            return Err(Error::ValueTooLong {
                len: val.len(),
                max: self.limits.max_value,
            });
        }
        Ok(())
    }

    fn put_as(&self, key: &[u8], val: &[u8], covered: bool, hint: &mut LeafHint) -> Result<()> {
        self.check_put(key, val)?;
        let (no, mut g) = self.latch_leaf(key, std::mem::take(hint))?;
        if covered {
            self.wal().prefetch_note(no);
        }
        // Before the page changes: after it, logging the change cannot fail (see `TreeWal::check`). Held until
        // the change is logged.
        let room = self.check_log(covered, 1)?;
        let bytes = |g: &[u8]| Node::parse(g).map_or(0, |n| n.entry_bytes());
        let before = if covered { bytes(&g) } else { 0 };
        let fitted = node::leaf_upsert(&mut g, key, val).map_err(|_| self.corrupt(no, "leaf"))?;
        if fitted {
            if covered && bytes(&g) < before {
                self.note_shrink();
            }
            if let Some(lsn) = self.log_leaf(g.lsn(), no, &g, Op::Put { page: no, key, val }, covered) {
                g.set_lsn(lsn);
            }
            *hint = self.hint_at(no, None);
            return Ok(());
        }
        drop((g, room));
        self.split_insert(key, val, covered)
    }

    /// After latching the leaf an optimistic descent found: is it still the live leaf covering `key`? (It may
    /// have been split, merged away or freed in between; then the caller restarts.)
    fn latched_leaf_covers(&self, no: PageNo, page: &[u8], key: &[u8]) -> Result<bool> {
        match Node::parse(page) {
            Some(n) => Ok(n.is_leaf() && n.covers(key)),
            None if Node::is_dead(page) => Ok(false),
            None => Err(self.corrupt(no, "not a tree node")),
        }
    }

    /// Removes `key`; `true` if it was present. Not durable until [`Tree::commit`]. Errors as for [`Tree::put`].
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.delete_as(key, false, &mut LeafHint::default())
    }

    fn delete_as(&self, key: &[u8], covered: bool, hint: &mut LeafHint) -> Result<bool> {
        self.check_key(key)?;
        let mut guess = std::mem::take(hint);
        // A covered delete (a transaction's, or a replay's) deletes a key its caller knows is there: it latches the
        // leaf at once.
        if !covered && self.own_leaf(guess).is_none() {
            let (leaf, found, slot) = self.descend(key, None)?;
            // Absent from a consistent look at the covering leaf: absent at that moment, no latch needed.
            if !found {
                return Ok(false);
            }
            guess = self.hint_at(leaf, slot);
        }
        let (no, mut g) = self.latch_leaf(key, guess)?;
        if covered {
            self.wal().prefetch_note(no);
        }
        let before = Node::parse(&g).map_or(0, |n| n.entry_bytes());
        let _room = self.check_log(covered, 1)?;
        if !node::leaf_delete(&mut g, key).map_err(|_| self.corrupt(no, "leaf"))? {
            *hint = self.hint_at(no, None);
            return Ok(false);
        }
        if covered {
            self.note_shrink();
        }
        if let Some(lsn) = self.log_leaf(g.lsn(), no, &g, Op::Del { page: no, key }, covered) {
            g.set_lsn(lsn);
        }
        // Try a merge when this delete made the leaf underfull, or empty; not on every delete from a leaf
        // that stayed underfull because its sibling was too full (that would take the meta latch each time).
        let threshold = self.limits.underflow_bytes();
        let underfull = Node::parse(&g)
            .is_some_and(|n| n.entry_bytes() < threshold && (before >= threshold || n.count() == 0))
            && no != self.root.load(Ordering::Acquire);
        drop(g);
        // The delete is applied and logged; the merge is an optimisation that either completes or leaves no
        // trace (see `merge_underfull`). A failed merge leaves a legal underfull leaf, so the delete reports
        // success; the failure's cause (exhaustion, I/O) meets the next operation that needs the same.
        if underfull {
            let _ = self.merge_underfull(key);
        } else {
            *hint = self.hint_at(no, None);
        }
        Ok(true)
    }

    /// Page numbers from the root to the leaf covering `key`. Only valid while the meta latch is held (inner
    /// nodes are then stable).
    fn path_to(&self, meta: &[u8], key: &[u8]) -> Result<Vec<PageNo>> {
        let mut no = meta_u32(meta, M_ROOT);
        let mut path = Vec::new();
        loop {
            path.push(no);
            if path.len() > 64 {
                return Err(Error::Invariant("path longer than 64 levels".into()));
            }
            let g = self.pool.read(self.pid(no))?;
            let n = Node::parse(&g).ok_or_else(|| self.corrupt(no, "not a node on the path"))?;
            if !n.covers(key) {
                return Err(self.corrupt(no, "path node does not cover the key"));
            }
            if n.is_leaf() {
                return Ok(path);
            }
            no = n
                .child_pos(key)
                .and_then(|p| n.child_at(p))
                .ok_or_else(|| self.corrupt(no, "bad inner entry"))?;
        }
    }

    /// Takes a page for a new node: the head of the free list, or a new page at the end of the file.
    /// The meta page changes last, after every fallible step; and the caller's `Held` meta undoes it anyway.
    fn alloc<'p>(&'p self, meta: &mut Held<'_>) -> Result<Held<'p>> {
        let head = meta_u32(meta, M_FREE);
        if head == NO_PAGE {
            return Ok(Held::new_in_file(&self.pool, self.pool.new_page(self.file)?));
        }
        let g = Held::new(&self.pool, self.pool.write_clean(self.pid(head))?);
        if !Node::is_dead(&g) {
            return Err(self.corrupt(head, "free-list page is not free"));
        }
        let next = Node::dead_link(&g).unwrap_or(NO_PAGE);
        set_meta_u32(meta, M_FREE, next);
        Ok(g)
    }

    /// Latches `no` for a structure change (see [`Held`]).
    fn hold(&self, no: PageNo) -> Result<Held<'_>> {
        Ok(Held::new(&self.pool, self.pool.write_clean(self.pid(no))?))
    }

    /// Puts a node's page on the free list (the caller has unlinked it and holds its latch).
    fn free(&self, meta: &mut WriteGuard<'_>, g: &mut WriteGuard<'_>) {
        node::init_dead(g, meta_u32(meta, M_FREE));
        set_meta_u32(meta, M_FREE, g.page_id().page_no());
    }

    /// Logs `pages` (all changed) as one atomic record, stamps them and keeps them (see [`Held`]). Either the
    /// record is appended and every page kept, or (the log has failed) nothing is appended and the pages are
    /// restored when dropped.
    fn log_images(&self, pages: &mut [&mut Held<'_>]) -> Result<()> {
        self.log_change(pages, &[], false)
    }

    /// The log's check before a change whose record holds at most `pages` page images (see [`TreeWal::check`]):
    /// a covered one's (`covered`, its record already in the log above: it must not fail for room, and a bounded
    /// log's region does not refuse it, the log above having refused its record instead while the region was
    /// past its bound) or the tree's own (refused past a bounded log's bound, whether the log has a dependency or
    /// not: R25-4 in RELIABILITY.md), which reserves room for its record until the returned room is dropped,
    /// after the append (R25-O1).
    fn check_log(&self, covered: bool, pages: usize) -> Result<Option<Room<'_>>> {
        match covered {
            true => self.wal().check_beyond_region().map(|()| None),
            false => self.wal().reserve(images_bound(pages, self.pool.page_size())).map(Some),
        }
    }

    /// [`Tree::log_images`], except that a page with an op in `ops` is logged as that op (the change done to it,
    /// physiological) unless the page was last logged before the checkpoint redo point (full-page writes).
    /// `covered`: the change makes room for a covered change ([`Tree::check_log`]).
    fn log_change(&self, pages: &mut [&mut Held<'_>], ops: &[Op<'_>], covered: bool) -> Result<()> {
        let lsn = {
            let ops: Vec<(Op<'_>, Option<(Lsn, Op<'_>)>)> = pages
                .iter()
                .map(|g| {
                    let page = g.page_id().page_no();
                    let alt = ops.iter().find(|op| op.page() == page).map(|&op| (g.lsn(), op));
                    (Op::Image { page, bytes: g }, alt)
                })
                .collect();
            let _room = self.check_log(covered, ops.len())?;
            self.wal().append_change_checked(&ops)
        };
        for g in pages.iter_mut() {
            // A structure change may move covered changes into any of its pages (a split's new right leaf, a
            // merge's survivor): each now waits for the log above as far as its record (`TreeWal::note_covered`).
            self.wal().note_covered(g.page_id().page_no());
            g.set_lsn(lsn);
            g.logged();
        }
        Ok(())
    }

    /// Inserts `(key, val)` into a full leaf: splits the leaf, and its ancestors as far as needed.
    ///
    /// Atomic (see [`Held`]): every page is latched as a `Held`, so any error before the change is logged leaves
    /// every page as it was.
    fn split_insert(&self, key: &[u8], val: &[u8], covered: bool) -> Result<()> {
        let mut meta = self.hold(META)?;
        let path = self.path_to(&meta, key)?;
        let leaf_at = path.len() - 1;
        let (top, root_splits) = self.split_top(&path)?;
        let mut guards = Vec::with_capacity(path.len() - top);
        for &no in &path[top..] {
            guards.push(self.hold(no)?);
        }
        // The leaf's record, if the put fits now; a split reserves its own in `log_change`.
        let _room = self.check_log(covered, 1)?;
        // A concurrent delete may have made room meanwhile.
        let leaf_no = path[leaf_at];
        let Some(leaf) = guards.last_mut() else {
            return Err(Error::Invariant("empty path".into()));
        };
        if node::leaf_upsert(&mut **leaf, key, val).map_err(|_| self.corrupt(leaf_no, "leaf"))? {
            if covered {
                // It may have replaced a longer value (a rare path: conservatively).
                self.note_shrink();
            }
            let op = Op::Put {
                page: leaf_no,
                key,
                val,
            };
            if let Some(lsn) = self.log_leaf(leaf.lsn(), leaf_no, leaf, op, covered) {
                leaf.set_lsn(lsn);
            }
            leaf.logged();
            return Ok(());
        }
        let mut fresh: Vec<Held<'_>> = Vec::new();
        let mut right = self.alloc(&mut meta)?;
        let right_no = right.page_id().page_no();
        // Read under the leaf's latch, before the change stamps it (see `shrunk_at`).
        let cut = leaf.lsn() > self.shrunk_at.load(Ordering::Relaxed);
        let sep =
            node::split_leaf(leaf, &mut right, right_no, key, val).map_err(|_| self.corrupt(leaf_no, "leaf split"))?;
        // Only a covered split: an uncovered key the split inserts is in no other log, and `CUT` carries no entry
        // (R11-1: one that stayed in the left half was lost in a crash).
        let cut_sep = (covered && cut && self.wal().has_dependency()).then(|| sep.clone());
        fresh.push(right);
        let (new_root, absorbed) = self.split_ancestors(
            &path[top..],
            root_splits,
            &mut guards,
            &mut meta,
            &mut fresh,
            (sep, right_no),
        )?;
        // The leaf and the parent that took the separator are logged as the ops done to them; every other page
        // (the new right leaf, inner nodes that split, a new root, the meta page) as its image. The leaf of a
        // tree that takes covered changes (`put_covered`) not as `SPLIT`: recovery replays this log before the
        // layer above redoes those changes, so the leaf it would split again lacks them, `split_leaf` would
        // choose another separator than the one logged for the parent and the right leaf's image, and the halves
        // would overlap. A covered split's is logged as `CUT` (separator and link given) where `shrunk_at` allows,
        // else as its image (`wal.rs`, "Splits under a log above"). (Inner nodes hold no covered changes: their
        // ops replay exactly.)
        let mut ops = Vec::with_capacity(2);
        if !self.wal().has_dependency() {
            ops.push(Op::Split {
                page: leaf_no,
                right: right_no,
                pair: (key, val),
            });
        }
        if let Some(sep) = &cut_sep {
            ops.push(Op::Cut {
                page: leaf_no,
                right: right_no,
                sep,
            });
        }
        if let Some((page, sep, child)) = &absorbed {
            ops.push(Op::Inner {
                page: *page,
                sep,
                child: *child,
            });
        }
        let mut all: Vec<&mut Held<'_>> = guards.iter_mut().chain(fresh.iter_mut()).collect();
        all.push(&mut meta);
        self.log_change(&mut all, &ops, covered)?;
        if let Some(r) = new_root {
            self.root.store(r, Ordering::Release);
        }
        Ok(())
    }

    /// The plan of a split: the index in `path` of the highest node that changes (the first ancestor of the leaf
    /// with room for a separator of any size), and whether the root itself splits (every node up to it is full).
    /// Inner nodes are stable while the caller holds the meta latch.
    fn split_top(&self, path: &[PageNo]) -> Result<(usize, bool)> {
        let mut top = path.len() - 1;
        loop {
            if top == 0 {
                return Ok((0, true));
            }
            let g = self.pool.read(self.pid(path[top - 1]))?;
            let n = Node::parse(&g).ok_or_else(|| self.corrupt(path[top - 1], "inner"))?;
            top -= 1;
            if n.free_bytes() >= self.limits.max_inner_entry() {
                return Ok((top, false));
            }
        }
    }

    /// The upper half of a split: `guards[j]` holds `path[j]`, and the last of them has just split, `split`
    /// being the separator and the new right node. Inserts the separator into each parent, splitting parents
    /// that are full, up to `path[0]`; a root that splits gets a new root above it (returned first). New nodes
    /// go to `fresh`. Also returns the node that took the last separator without splitting, if one did:
    /// `(page, separator, child)`.
    fn split_ancestors<'a>(
        &'a self,
        path: &[PageNo],
        root_splits: bool,
        guards: &mut [Held<'a>],
        meta: &mut Held<'a>,
        fresh: &mut Vec<Held<'a>>,
        split: (Vec<u8>, PageNo),
    ) -> Result<(Option<PageNo>, Option<Absorbed>)> {
        let (mut sep, mut right_no) = split;
        // guards[j] holds path[j]; the node at index j has just split into itself and `right_no`.
        let mut j = guards.len() - 1;
        loop {
            if j == 0 {
                if root_splits {
                    let old_root = path[0];
                    let level = Node::parse(&guards[0])
                        .ok_or_else(|| self.corrupt(old_root, "root"))?
                        .level();
                    let mut r = self.alloc(meta)?;
                    let r_no = r.page_id().page_no();
                    node::init(&mut r, node::KIND_INNER, level + 1, old_root, None, None);
                    if !node::inner_insert(&mut r, &sep, right_no).map_err(|_| self.corrupt(r_no, "new root"))? {
                        return Err(self.corrupt(r_no, "separator does not fit a new root"));
                    }
                    set_meta_u32(meta, M_ROOT, r_no);
                    fresh.push(r);
                    return Ok((Some(r_no), None));
                }
                return Err(Error::Invariant(
                    "split reached a node predicted to absorb the separator".into(),
                ));
            }
            let parent_no = path[j - 1];
            let parent = &mut guards[j - 1];
            if node::inner_insert(parent, &sep, right_no).map_err(|_| self.corrupt(parent_no, "inner"))? {
                return Ok((None, Some((parent_no, sep, right_no))));
            }
            if j - 1 == 0 && !root_splits {
                return Err(Error::Invariant("node predicted to absorb a separator is full".into()));
            }
            let mut r = self.alloc(meta)?;
            let r_no = r.page_id().page_no();
            sep = node::split_inner(parent, &mut r, &sep, right_no)
                .map_err(|_| self.corrupt(parent_no, "inner split"))?;
            right_no = r_no;
            fresh.push(r);
            j -= 1;
        }
    }

    /// After a delete left the leaf covering `key` underfull: merges it with a sibling (or, for a leaf whose
    /// sibling is too full, redistributes the two), and ancestors that become underfull in turn; collapses a root
    /// left with one child.
    ///
    /// Atomic as [`Tree::split_insert`] is: a failure at an upper level (a sibling that cannot be latched) after a
    /// lower level merged undoes the lower level too.
    fn merge_underfull(&self, key: &[u8]) -> Result<()> {
        let mut meta = self.hold(META)?;
        let path = self.path_to(&meta, key)?;
        if path.len() == 1 {
            return Ok(());
        }
        let mut guards = Vec::with_capacity(path.len());
        for &no in &path {
            guards.push(self.hold(no)?);
        }
        let mut changed = vec![false; path.len()];
        let mut others: Vec<Held<'_>> = Vec::new();
        let mut changed_any = false;
        let mut j = path.len() - 1;
        while j > 0 {
            let (sib, go_up) = match self.merge_level(key, &path, j, &mut guards, &mut meta)? {
                LevelMerge::Unchanged => break,
                LevelMerge::Evened(sib) => (sib, false),
                LevelMerge::Merged(sib) => (sib, true),
            };
            others.push(sib);
            changed[j] = true;
            changed[j - 1] = true;
            changed_any = true;
            if !go_up {
                break;
            }
            j -= 1;
        }
        // A root inner node left with a single child hands the root to that child.
        let mut new_root = None;
        let r = Node::parse(&guards[0]).ok_or_else(|| self.corrupt(path[0], "root"))?;
        if !r.is_leaf() && r.count() == 0 {
            let child = r.link();
            self.free(&mut meta, &mut guards[0]);
            set_meta_u32(&mut meta, M_ROOT, child);
            new_root = Some(child);
            changed[0] = true;
            changed_any = true;
        }
        if !changed_any {
            return Ok(());
        }
        let mut all: Vec<&mut Held<'_>> = guards
            .iter_mut()
            .zip(&changed)
            .filter(|(_, &c)| c)
            .map(|(g, _)| g)
            .chain(others.iter_mut())
            .collect();
        all.push(&mut meta);
        self.log_images(&mut all)?;
        if let Some(r) = new_root {
            self.root.store(r, Ordering::Release);
        }
        Ok(())
    }

    /// One level of [`Tree::merge_underfull`]: if `path[j]` (held in `guards[j]`) is underfull, merges it with a
    /// sibling under `path[j - 1]` (the separator removed from the parent), or evens out two leaves too full to
    /// merge. Returns what it did and the sibling it changed (to be logged with the rest).
    fn merge_level<'a>(
        &'a self,
        key: &[u8],
        path: &[PageNo],
        j: usize,
        guards: &mut [Held<'a>],
        meta: &mut Held<'a>,
    ) -> Result<LevelMerge<'a>> {
        let n = Node::parse(&guards[j]).ok_or_else(|| self.corrupt(path[j], "node"))?;
        if n.entry_bytes() >= self.limits.underflow_bytes() {
            return Ok(LevelMerge::Unchanged);
        }
        let is_leaf = n.is_leaf();
        let p = Node::parse(&guards[j - 1]).ok_or_else(|| self.corrupt(path[j - 1], "inner"))?;
        let pos = p.child_pos(key).ok_or_else(|| self.corrupt(path[j - 1], "inner"))?;
        if p.child_at(pos) != Some(path[j]) {
            return Err(Error::Invariant("path changed under the meta latch".into()));
        }
        if p.children() < 2 {
            return Ok(LevelMerge::Unchanged);
        }
        let parent_room = p.free_bytes();
        // Merge children `lpos` and `lpos + 1`, whichever pair includes ours.
        let lpos = if pos + 1 < p.children() { pos } else { pos - 1 };
        let sep = p.key(lpos).ok_or_else(|| self.corrupt(path[j - 1], "inner"))?.to_vec();
        let sib_no = if lpos == pos {
            p.child_at(pos + 1)
        } else {
            p.child_at(pos - 1)
        }
        .ok_or_else(|| self.corrupt(path[j - 1], "inner"))?;
        let mut sib = self.hold(sib_no)?;
        let merged = if lpos == pos {
            // Ours is the left one: absorb the right sibling, which is freed.
            let ok = node::merge(&mut guards[j], &sib, &sep).map_err(|_| self.corrupt(path[j], "merge"))?;
            if ok {
                self.free(meta, &mut sib);
            }
            ok
        } else {
            // Ours is the right one: the left sibling absorbs it, ours is freed.
            let ok = node::merge(&mut sib, &guards[j], &sep).map_err(|_| self.corrupt(sib_no, "merge"))?;
            if ok {
                self.free(meta, &mut guards[j]);
            }
            ok
        };
        if !merged {
            // Too full to merge: even the two leaves out instead (inner nodes are left as they are).
            if is_leaf {
                let (old_sep_len, room) = (sep.len(), parent_room);
                let (left, right, right_no) = if lpos == pos {
                    (&mut **guards[j], &mut **sib, sib_no)
                } else {
                    (&mut **sib, &mut **guards[j], path[j])
                };
                let new_sep = node::redistribute_leaves(left, right, right_no, |s| room + old_sep_len >= s.len())
                    .map_err(|_| self.corrupt(path[j], "redistribute"))?;
                if let Some(new_sep) = new_sep {
                    let parent = &mut guards[j - 1];
                    node::remove_at(parent, lpos).map_err(|_| self.corrupt(path[j - 1], "inner"))?;
                    let ok = node::insert_at(parent, lpos, &new_sep, &right_no.to_le_bytes())
                        .map_err(|_| self.corrupt(path[j - 1], "inner"))?;
                    if !ok {
                        return Err(Error::Invariant("separator room was checked".into()));
                    }
                    return Ok(LevelMerge::Evened(sib));
                }
            }
            return Ok(LevelMerge::Unchanged);
        }
        node::remove_at(&mut guards[j - 1], lpos).map_err(|_| self.corrupt(path[j - 1], "inner"))?;
        Ok(LevelMerge::Merged(sib))
    }

    /// Calls `f` on the pairs with keys in `range`, in key order, with borrowed slices (no allocation per pair),
    /// until `f` returns false. The same walk as [`Tree::range`] (same consistency, same readahead): each key at
    /// most once, a key in the tree for the whole scan exactly once (unless `f` stopped the scan before it), a
    /// reversed range nothing.
    pub fn scan<'k, R: RangeBounds<&'k [u8]>>(&self, range: R, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.scan_hinted(range, |k, v, _| f(k, v))
    }

    /// [`Tree::scan`], also giving `f` with each pair a hint of the leaf and slot it was found in, as
    /// [`Tree::get_hinted`] does for one key: for a covered change of the same key that follows
    /// ([`Tree::put_covered`], [`Tree::delete_covered`]), which then latches that leaf instead of descending if
    /// it still covers the key (a hint is checked, never trusted).
    pub fn scan_hinted<'k, R: RangeBounds<&'k [u8]>>(
        &self,
        range: R,
        f: impl FnMut(&[u8], &[u8], LeafHint) -> bool,
    ) -> Result<()> {
        self.scan_from(range, &mut LeafHint::default(), f)
    }

    /// [`Tree::scan_hinted`] starting at the leaf `start` names instead of descending from the root, if it (or
    /// the leaf its link names, when the range's start has moved past it) is a live leaf of this tree whose fences
    /// cover the range's start: that leaf is then the first the scan must read, as a descent would find it (a hint
    /// is checked, never trusted); else the scan descends. On return `start` names the first leaf the scan read
    /// (unchanged if it read none): for the next scan of about the same range, as Delivery's scans of a district's
    /// oldest new order and its order lines follow the district's previous ones (session 44).
    pub fn scan_from<'k, R: RangeBounds<&'k [u8]>>(
        &self,
        range: R,
        start: &mut LeafHint,
        mut f: impl FnMut(&[u8], &[u8], LeafHint) -> bool,
    ) -> Result<()> {
        // The buffers are the thread's (as `with_thread_buf`: past the thread-local's life, new ones for this
        // call). A node copy (`copy_node`, a parent) overwrites every byte a reader of the node looks at, and a
        // leaf's rows (`node::leaf_rows`) the bytes its rows' entries take; the rest keeps earlier bytes, which
        // nothing reads.
        let mut scratch = SCAN.try_with(Cell::take).unwrap_or_default();
        scratch.page.resize(self.limits.user_bytes, 0);
        let mut it = self.range_reusing(range, scratch);
        it.hint = self.own_leaf(*start);
        let mut more = true;
        let mut done = Ok(());
        while more && it.from.is_some() {
            done = it.fill(|k, v, hint| {
                more = f(k, v, hint);
                more
            });
            if done.is_err() {
                break;
            }
        }
        if let Some(first) = it.first_leaf {
            *start = self.hint_at(first, None);
        }
        let scratch = it.into_scratch();
        let _ = SCAN.try_with(|s| s.set(scratch));
        done
    }

    /// Iterates over the pairs with keys in `range`, in key order. Each leaf's rows in range are copied
    /// consistently at the moment it is reached (no latch is held between calls), so concurrent changes to leaves
    /// not yet reached are seen. Every key is returned at most once, in increasing order, even while other threads
    /// split and merge the leaves the scan walks (it resumes at the upper fence of the leaf it copied last, above
    /// every key that leaf held, or past the last row it copied of a leaf with more in range); a key in the tree for the whole scan is returned exactly once, and a key put or deleted meanwhile
    /// once or not at all. A reversed range (its start above its end, or both ends excluding one key) returns
    /// nothing (where `BTreeMap::range` panics).
    pub fn range<'k, R: RangeBounds<&'k [u8]>>(&self, range: R) -> RangeIter<'_> {
        self.range_in(range, vec![0u8; self.limits.user_bytes])
    }

    /// [`Tree::range`] copying pages into `buf`, which must be [`Limits::user_bytes`] long.
    fn range_in<'k, R: RangeBounds<&'k [u8]>>(&self, range: R, buf: Vec<u8>) -> RangeIter<'_> {
        self.range_reusing(
            range,
            ScanScratch {
                page: buf,
                ..ScanScratch::default()
            },
        )
    }

    /// [`Tree::range_in`] with the vectors of `s` (`s.page` [`Limits::user_bytes`] long): the bounds' keys are
    /// copied into `s.from` and `s.end` ([`RangeIter::into_scratch`] gives them back).
    fn range_reusing<'k, R: RangeBounds<&'k [u8]>>(&self, range: R, s: ScanScratch) -> RangeIter<'_> {
        debug_assert_eq!(s.page.len(), self.limits.user_bytes);
        let own = |b: Bound<&&[u8]>, mut v: Vec<u8>| {
            b.map(|k| {
                v.clear();
                v.extend_from_slice(k);
                v
            })
        };
        let mut upcoming = s.upcoming;
        upcoming.clear();
        RangeIter {
            tree: self,
            buf: s.page,
            batch: VecDeque::new(),
            from: Some(own(range.start_bound(), s.from)),
            end: own(range.end_bound(), s.end),
            upcoming,
            prefetched: 0,
            run_end: None,
            leaves_read: 0,
            spent: Vec::new(),
            rows: s.rows,
            max_rows: SCAN_FIRST_ROWS,
            hint: None,
            first_leaf: None,
        }
    }

    /// Makes every change made before the call durable (one fsync shared by concurrent committers).
    /// [`Error::NoSpace`] if the device is full: nothing is lost and the tree goes on; the changes are not
    /// durable yet, and the next commit that succeeds, once space is freed, makes them so (see the error).
    pub fn commit(&self) -> Result<()> {
        self.wal().commit()
    }

    /// Writes every dirty page of the tree's data file, syncs it, and cuts the log before the checkpoint's redo
    /// point, so recovery starts there. Only this tree's file: in a shared pool, other engines' pages are theirs
    /// to checkpoint (and another file's failure does not stop this tree's log from being cut).
    pub fn checkpoint(&self) -> Result<()> {
        Tree::checkpoint_all(std::slice::from_ref(self))
    }

    /// [`Tree::checkpoint`] of several trees at once: each tree's redo point taken, then every dirty page of
    /// their data files written in one pass over the pool's frames ([`BufferPool::flush_files`]) and the files
    /// synced, then each tree's log cut before its redo point. Trees of different pools are checkpointed one
    /// after the other. If a write or a sync fails, no tree's log is cut (each keeps its previous redo point)
    /// and the error is returned; the trees stay usable, and a later checkpoint retries. A tree under a log above
    /// ([`TreeWal::flush_first`]) whose bounded log had no room for its checkpoint's redo point is checkpointed a
    /// second time (R41-21 in RELIABILITY.md); should that one still cut at an earlier point, the call returns
    /// [`Error::NoSpace`] after its cuts: a caller that cuts its log above after a checkpoint must not cut it for
    /// this one, and checkpoints again.
    pub fn checkpoint_all(trees: &[Tree]) -> Result<()> {
        Tree::checkpoint_paced(trees, None)
    }

    /// [`Tree::checkpoint`] with the page writes paced over about `target` ([`BufferPool::flush_files_spread`]),
    /// so foreground work keeps the device's attention meanwhile. Only this tree's file, as `checkpoint`: another
    /// file's failure in a shared pool neither fails this call nor keeps this tree's log from being cut (R21-O2).
    pub fn checkpoint_spread(&self, target: std::time::Duration) -> Result<()> {
        Tree::checkpoint_paced(std::slice::from_ref(self), Some(target))
    }

    /// [`Tree::checkpoint_all`], its page writes paced over about `spread` if given.
    fn checkpoint_paced(trees: &[Tree], spread: Option<std::time::Duration>) -> Result<()> {
        let Some(first) = trees.first() else {
            return Ok(());
        };
        if trees.iter().any(|t| !Arc::ptr_eq(&t.pool, &first.pool)) {
            return trees
                .iter()
                .try_for_each(|t| Tree::checkpoint_paced(std::slice::from_ref(t), spread));
        }
        if Tree::checkpoint_pass(trees, spread)? {
            // A tree under a log above cut at an earlier checkpoint's redo point (its bounded region had no room for
            // its own): that cut kept leaf images older than covered changes, and the caller cuts the log above
            // once this returns. The cut switched region, so a second pass logs its own redo point (the log now
            // starts at the earlier one) and cuts there (R41-21 in RELIABILITY.md; `Tree::note_log_start`).
            // Should it still cut at an earlier point (another thread's checkpoint noted one meanwhile), the
            // checkpoint is refused, so that the caller keeps its log above.
            if Tree::checkpoint_pass(trees, spread)? {
                return Err(Error::NoSpace(
                    "the checkpoint cut a tree's log at an earlier checkpoint's redo point twice (its bounded region \
                     had no room for its own): its log may hold leaf images older than covered changes, so the log \
                     above must not be cut for this checkpoint; nothing was lost: checkpoint again"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// One pass of [`Tree::checkpoint_paced`] over trees of one pool: each tree's redo point noted, the pages
    /// written and synced, the notes appended, the logs cut. Returns whether a tree whose log depends on another
    /// cut at an earlier checkpoint's redo point than its own ([`Tree::note_log_start`]).
    fn checkpoint_pass(trees: &[Tree], spread: Option<std::time::Duration>) -> Result<bool> {
        let Some(first) = trees.first() else {
            return Ok(false);
        };
        let mut redo = Vec::with_capacity(trees.len());
        let mut earlier = false;
        for t in trees {
            let r = t.wal().begin_checkpoint();
            let point = t.note_log_start(r)?;
            earlier |= point < r && t.wal().has_dependency();
            redo.push(point);
        }
        let files: Vec<FileId> = trees.iter().map(|t| t.file).collect();
        match spread {
            Some(target) => first.pool.flush_files_spread(&files, target)?,
            None => first.pool.flush_files(&files)?,
        }
        // The notes of the pages whose records the cuts drop, for the next open to check (R21-10, R22-10).
        for (t, &r) in trees.iter().zip(&redo) {
            t.note_cut(r)?;
        }
        // Each cut point in its data file's record, durably before the cut: the meta page holds it too, but a
        // stale copy of the file whose meta page is unreadable cannot say so (R48-O10; `check_record_mark`). A
        // raise, never a set: a concurrent checkpoint may have cut at a later point and kept it already.
        for (t, &r) in trees.iter().zip(&redo) {
            t.pool.raise_engine_mark(t.file, r)?;
        }
        trees.iter().zip(redo).try_for_each(|(t, r)| t.wal().cut_before(r))?;
        Ok(earlier)
    }

    /// Before a checkpoint's cut at `redo` (its pages written and synced): appends to the log, after `redo`, a
    /// [`Op::Written`] note for each page the pool wrote at an LSN between the log's start and `redo` (so every
    /// page a record the cut drops changed: written since, by this checkpoint or an eviction), and for each page
    /// an earlier note or replayed record named that no read or write has confirmed in this open, each with its
    /// LSN ([`BufferPool::written_lsns`]). From memory: the log is not read (R22-11 in RELIABILITY.md). The cut
    /// keeps them and makes them durable; the next open hands them back to the pool ([`Tree::expect_written`]).
    /// Only of the pages the pool's table keeps: beyond `bufpool::Builder::stale_check_pages` it forgets some
    /// (counted in `Stats::written_lsns_dropped`), and with the check off it lists none (R23-10).
    fn note_cut(&self, redo: Lsn) -> Result<()> {
        let start = self.wal().start_lsn();
        if redo <= start {
            return Ok(());
        }
        let pages = self.pool.written_lsns(self.file, start, redo)?;
        self.wal().append_notes(&pages)
    }

    /// Records in the meta page (a logged change, written by the checkpoint that follows) that the tree needs its
    /// log only from `redo` on; returns the redo point to cut at. That is `redo`, unless an earlier checkpoint
    /// that did not cut (its page writes or its cut failed) recorded its own, past the log's start: then that
    /// one, and nothing is logged. A cut there keeps more (the pages are all written either way), and retries
    /// refused for as long as the data device is full no longer log a meta page's image each: in a bounded log
    /// they filled the quarter of its region kept for a checkpoint and passed its end, and no checkpoint could
    /// then write its pages or cut (R25-3 in RELIABILITY.md).
    ///
    /// Not so for a log that depends on another (covered changes) while a bounded log's region has room for the
    /// meta page's image within seven eighths ([`TreeWal::room_for_checkpoint_image`]; always for an unbounded
    /// log): there `redo` is logged as for a first checkpoint. A cut at the earlier point (an earlier checkpoint
    /// that failed, or one still running in another thread) kept the leaf images logged between it and `redo`,
    /// older than covered changes made after them, which no record of this log describes; the caller then cuts
    /// the log above before its own checkpoint's start, and a leaf torn by a later failed write (a refused
    /// recovery's checkpoint) was rebuilt from such an image at the next open, without those changes, which
    /// nothing could redo any more (R40-2 in RELIABILITY.md). Where such a region has no room (past seven eighths:
    /// covered changes of several threads, each checked against three quarters before any logged its leaf's
    /// image), the earlier point is taken and [`Tree::checkpoint_paced`] checkpoints again once that cut has
    /// switched region: the log then starts at the earlier point, so the second pass logs its own (R41-21).
    fn note_log_start(&self, redo: Lsn) -> Result<Lsn> {
        let mut meta = self.hold(META)?;
        let logged = meta_u64(&meta, M_LOG_START);
        if logged >= redo {
            return Ok(redo);
        }
        if logged > self.wal().start_lsn()
            && !(self.wal().has_dependency() && self.wal().room_for_checkpoint_image(meta.len()))
        {
            return Ok(logged);
        }
        self.wal().check_beyond_region()?;
        set_meta_u64(&mut meta, M_LOG_START, redo);
        let lsn = self.wal().append_checked(&[Op::Image {
            page: META,
            bytes: &meta,
        }]);
        meta.set_lsn(lsn);
        meta.logged();
        Ok(redo)
    }

    /// Checkpoints and closes the data file in the pool. (Dropping a `Tree` without `close` loses nothing that was
    /// committed: the next `open` recovers it from the log; but its data file stays open in the pool, and so does
    /// its log, locked and claimed (a tree opened on it meanwhile is refused with [`Error::LogMismatch`]), until
    /// the pool is dropped or the caller closes the file with [`BufferPool::close_file`]`(tree.file())` or drops
    /// it with [`BufferPool::drop_file`].)
    ///
    /// A close that fails gives the tree back, still open and usable, with the error ([`CloseError`], as
    /// [`std::io::IntoInnerError`] gives a writer back): after a retryable failure (a full device,
    /// [`Error::is_no_space`]) free space and close it again; or drop it ([`CloseError::into_error`]), as above.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use bufpool_btree::{BufferPool, Tree, TreeWal};
    /// # fn main() -> Result<(), bufpool_btree::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let pool = Arc::new(BufferPool::builder().frames(64).build()?);
    /// # let tree = Tree::open(pool, TreeWal::open(dir.path().join("t.wal"))?, dir.path().join("t.db"))?;
    /// match tree.close() {
    ///     Ok(()) => {}
    ///     // A full device: nothing was lost and the tree is still open. Free space, then close it again.
    ///     Err(e) if e.error().is_no_space() => e.into_inner().close()?,
    ///     Err(e) => return Err(e.into_error()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn close(self) -> std::result::Result<(), CloseError> {
        match self.checkpoint().and_then(|()| Ok(self.pool.close_file(self.file)?)) {
            Ok(()) => Ok(()),
            Err(error) => Err(CloseError { tree: self, error }),
        }
    }

    /// Checks every structural invariant: node format, levels (all leaves at one depth), keys sorted and within
    /// their fences, each child's fences equal to its parent's bounds for it, the leaf chain linking the leaves in
    /// key order, and the free list. Excludes structure changes while it runs (meta latch); run it while no
    /// leaf writers are active for an exact result. The meta latch is the pool's write latch: a data file that an
    /// earlier write or fsync failed refuses it ([`bufpool::Error::FileFailed`]; reads still work), so check such
    /// a tree after reopening it (R39-O1 in RELIABILITY.md).
    pub fn check(&self) -> Result<TreeStats> {
        let meta = self.pool.write_clean(self.pid(META))?;
        let root = meta_u32(&meta, M_ROOT);
        if root != self.root.load(Ordering::Acquire) {
            return Err(Error::Invariant("cached root differs from the meta page".into()));
        }
        let mut stats = TreeStats::default();
        let mut leaves = Vec::new();
        let rb = self.pool.read(self.pid(root))?.to_vec();
        let level = Node::parse(&rb).ok_or_else(|| self.corrupt(root, "root"))?.level();
        stats.depth = level as usize + 1;
        self.check_node(root, level, None, None, &mut leaves, &mut stats)?;
        for w in leaves.windows(2) {
            if w[0].1 != w[1].0 {
                return Err(Error::Invariant(format!(
                    "leaf {} links to {}, next leaf is {}",
                    w[0].0, w[0].1, w[1].0
                )));
            }
        }
        if leaves.last().is_some_and(|l| l.1 != NO_PAGE) {
            return Err(Error::Invariant("last leaf links somewhere".into()));
        }
        let mut free = meta_u32(&meta, M_FREE);
        while free != NO_PAGE {
            stats.free_pages += 1;
            if stats.free_pages > self.pool.file_pages(self.file)? as usize {
                return Err(Error::Invariant("free list has a cycle".into()));
            }
            let g = self.pool.read(self.pid(free))?;
            if !Node::is_dead(&g) {
                return Err(Error::Invariant(format!("free page {free} is not dead")));
            }
            free = Node::dead_link(&g).unwrap_or(NO_PAGE);
        }
        Ok(stats)
    }

    fn check_node(
        &self,
        no: PageNo,
        level: u8,
        low: Fence<'_>,
        high: Fence<'_>,
        leaves: &mut Vec<(PageNo, PageNo)>,
        stats: &mut TreeStats,
    ) -> Result<()> {
        let g = self.pool.read(self.pid(no))?;
        self.check_page_lsn(no, g.lsn())?;
        let b = g.to_vec();
        drop(g);
        let n = Node::parse(&b).ok_or_else(|| self.corrupt(no, "not a node"))?;
        let fail = |what: String| Err(Error::Invariant(format!("page {no}: {what}")));
        if n.level() != level {
            return fail(format!("level {} where {level} expected", n.level()));
        }
        if n.low() != low || n.high() != high {
            return fail(format!(
                "fences {:?}..{:?}, parent says {low:?}..{high:?}",
                n.low(),
                n.high()
            ));
        }
        if let Err(i) = n.check_slots() {
            return fail(format!(
                "slot {i}: key length or head disagrees with its entry (or the prefix, if {i} = count)"
            ));
        }
        let mut prev: Option<&[u8]> = None;
        for i in 0..n.count() {
            let (k, _) = n.entry(i).ok_or_else(|| self.corrupt(no, "entry"))?;
            if prev.is_some_and(|p| p >= k) {
                return fail(format!("keys out of order at slot {i}"));
            }
            if !n.covers(k) {
                return fail(format!("key at slot {i} outside the fences"));
            }
            prev = Some(k);
        }
        if n.is_leaf() {
            stats.leaves += 1;
            stats.entries += n.count();
            stats.leaf_bytes += b.len();
            stats.leaf_bytes_used += b.len() - n.free_bytes();
            leaves.push((no, n.link()));
            return Ok(());
        }
        stats.inner_nodes += 1;
        for p in 0..n.children() {
            let (lo, hi) = n.child_bounds(p).ok_or_else(|| self.corrupt(no, "bounds"))?;
            let child = n.child_at(p).ok_or_else(|| self.corrupt(no, "child"))?;
            self.check_node(child, level - 1, lo, hi, leaves, stats)?;
        }
        Ok(())
    }
}

/// Leaves a long range scan keeps prefetched ahead of the one being read (`BufferPool::prefetch`), so a cold scan
/// keeps that many reads in flight. The window starts at one leaf and grows by one with each leaf read.
pub const RANGE_READAHEAD: usize = 16;

/// Most leaves taken from one parent at a time by a range scan.
const RANGE_RUN_MAX: usize = 256;

/// The most rows a scan's first leaf read copies ([`node::leaf_rows`]); once a leaf had more in range, every row of
/// the range each leaf holds. TPC-C's short scans read one row (Delivery's oldest new order, Order-Status' newest
/// order of a customer), about three (the by-name lookups) or five to fifteen (an order's lines), and the range's
/// end is found by a search, not copied: such a scan copies the rows it returns and at most 16 (session 44). A
/// long one (Stock-Level's 200 order lines) reads its first leaf twice; doubling the bound each time instead
/// (16, 32, 64, ..) read it three or four times, about 2.8 K instructions a Stock-Level scan more (counted).
pub const SCAN_FIRST_ROWS: usize = 16;

/// True if `k` lies before the end bound of a range.
fn before_end(end: &Bound<Vec<u8>>, k: &[u8]) -> bool {
    match end {
        Bound::Included(e) => k <= e.as_slice(),
        Bound::Excluded(e) => k < e.as_slice(),
        Bound::Unbounded => true,
    }
}

/// Iterator returned by [`Tree::range`]: `(key, value)` pairs in key order, or the error that ended the scan.
pub struct RangeIter<'t> {
    tree: &'t Tree,
    buf: Vec<u8>,
    batch: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Lower bound of the keys not yet returned; `None` once the scan is over.
    from: Option<Bound<Vec<u8>>>,
    end: Bound<Vec<u8>>,
    /// The leaves expected next, in key order, as their parent listed them; each is validated when read.
    upcoming: VecDeque<PageNo>,
    /// How many of `upcoming` (from the front) have been prefetched.
    prefetched: usize,
    /// The low key of the leaf after the last of `upcoming`, if the scan goes on past it: where to read the next
    /// parent's list when the window reaches that far.
    run_end: Option<Vec<u8>>,
    /// Leaves read so far: the readahead window grows with it (see [`RANGE_READAHEAD`]).
    leaves_read: usize,
    /// The start's buffer once the scan is over (`from` is `None`), kept for [`RangeIter::into_scratch`].
    spent: Vec<u8>,
    /// The rows the last leaf read gave ([`node::leaf_rows`]).
    rows: node::LeafRows,
    /// The most rows the next leaf read copies: [`SCAN_FIRST_ROWS`] at first, all once a leaf had more in range.
    max_rows: usize,
    /// A leaf to read first instead of the first descent ([`Tree::scan_from`]); taken when tried.
    hint: Option<PageNo>,
    /// The first leaf whose rows the scan read.
    first_leaf: Option<PageNo>,
}

impl std::fmt::Debug for RangeIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeIter")
            .field("from", &self.from)
            .field("end", &self.end)
            .finish()
    }
}

/// The key of bound `b` (an empty vector for an unbounded one), to be used again.
fn bound_key(b: Bound<Vec<u8>>) -> Vec<u8> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => k,
        Bound::Unbounded => Vec::new(),
    }
}

impl RangeIter<'_> {
    /// The iterator's vectors, for another scan ([`Tree::range_reusing`]).
    fn into_scratch(mut self) -> ScanScratch {
        ScanScratch {
            page: std::mem::take(&mut self.buf),
            from: self
                .from
                .take()
                .map_or_else(|| std::mem::take(&mut self.spent), bound_key),
            end: bound_key(std::mem::replace(&mut self.end, Bound::Unbounded)),
            upcoming: std::mem::take(&mut self.upcoming),
            rows: std::mem::take(&mut self.rows),
        }
    }

    /// Prefetches the upcoming leaves that are not prefetched yet, up to a window of as many leaves as the scan has
    /// read (at most [`RANGE_READAHEAD`]): a scan that stops after a few leaves (a `take(n)` over an open range)
    /// wastes few reads, a long one soon keeps the whole window in flight.
    fn read_ahead(&mut self) -> Result<()> {
        let window = RANGE_READAHEAD.min(self.leaves_read.max(1));
        // The window reaches past this parent's leaves: append the next parent's (one descent per parent).
        if self.upcoming.len() < window {
            if let Some(key) = self.run_end.take() {
                let (more, then) = self.tree.leaf_run(&key, &self.end, &mut self.buf)?;
                self.upcoming.extend(more);
                self.run_end = then;
            }
        }
        let want = self.upcoming.len().min(window);
        if self.prefetched < want {
            // At most RANGE_READAHEAD pages (`want <= window`): on the stack, no allocation per leaf.
            let mut pages = [self.tree.pid(META); RANGE_READAHEAD];
            let mut n = 0;
            for (slot, &p) in pages.iter_mut().zip(self.upcoming.range(self.prefetched..want)) {
                *slot = self.tree.pid(p);
                n += 1;
            }
            // A hint: a failed or skipped prefetch only means the leaf's own read does the I/O.
            let _ = self.tree.pool.prefetch(&pages[..n]);
            self.prefetched = want;
        }
        Ok(())
    }

    /// Reads the next leaf, calls `visit` on its pairs in range (in order, until it returns false, which ends the
    /// scan), and keeps the readahead window of leaves after it prefetched. The first two leaves come each from a
    /// descent that stops at its parent (the parent is searched in place, not copied), the next leaves from their
    /// parent's list (one descent and one copy per parent, not per leaf); a leaf that no longer covers the scan
    /// position (split or merged since the parent was read) sends the scan back through a descent. The first leaf
    /// may come from a hint instead ([`Tree::scan_from`]: it, or the leaf its link names, if it covers the start).
    /// The leaf's rows in range are copied out of it, at most `max_rows` ([`node::leaf_rows`]); a leaf with more
    /// is read again by the next call, from past the last row copied. `visit` gets with each pair the leaf and
    /// slot it was read from, as a hint ([`Tree::scan_hinted`]).
    fn fill(&mut self, mut visit: impl FnMut(&[u8], &[u8], LeafHint) -> bool) -> Result<()> {
        let Some(from) = self.from.take() else {
            return Ok(());
        };
        let (start, after): (&[u8], bool) = match &from {
            Bound::Included(k) => (k, false),
            Bound::Excluded(k) => (k, true),
            Bound::Unbounded => (&[], false),
        };
        let (mut restarts, mut linked) = (0, false);
        let (copied, stop) = loop {
            // This read's leaf is the hint's (or the one its link names), not one a parent or a descent named.
            let mut hinted = false;
            if let Some(leaf) = self
                .hint
                .take()
                .filter(|_| self.upcoming.is_empty() && self.leaves_read == 0)
            {
                self.upcoming.push_back(leaf);
                (self.run_end, self.prefetched, hinted) = (None, 0, true);
            } else if self.upcoming.is_empty() && self.leaves_read < 2 {
                // The scan's first leaf, as its parent names it (read in place, not copied): most scans end in it
                // (TPC-C's by-name customer lookups, Delivery's oldest new order), and the parent's copy and its
                // list of leaves cost more than the rest of such a scan. Its second leaf the same way: most scans
                // that go past their first leaf end in the second (a Delivery's order lines that straddle two
                // leaves, its oldest new order past a leaf its deliveries emptied), where the parent's copy cost
                // about 3.5 K instructions more than a descent (session 32). A scan that goes on past it reads the
                // parent's list from its third leaf on.
                let (leaf, _, _, _) = self.tree.descend_path(start, None, true)?;
                self.upcoming.push_back(leaf);
                (self.run_end, self.prefetched) = (None, 0);
            } else if self.upcoming.is_empty() {
                (self.upcoming, self.run_end) = self.tree.leaf_run(start, &self.end, &mut self.buf)?;
                self.prefetched = 0;
            }
            let Some(no) = self.upcoming.pop_front() else {
                return Err(Error::Invariant("an inner node listed no leaf".into()));
            };
            self.prefetched = self.prefetched.saturating_sub(1);
            self.read_ahead()?;
            // The rows from the start, copied out of the leaf in one optimistic read (not the leaf: session 44).
            let (rows, max) = (&mut self.rows, self.max_rows);
            let end = self.end.as_ref().map(Vec::as_slice);
            let found = match self.tree.pool.read_optimistic(self.tree.pid(no), |v| {
                node::leaf_rows(&ViewBytes(v), start, after, end, max, rows)
            }) {
                Ok(found) => found,
                // A hint is only a guess: a page that cannot be read now (a freed page's bad sector, an I/O
                // error) is left to the descent, which reports what it meets, as `get_at_hint` and `latch_leaf`
                // do (R45-1 in RELIABILITY.md: the scan failed, and with it every later scan from the kept hint).
                Err(_) if hinted => {
                    self.upcoming.clear();
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match found {
                LeafScan::Rows(stop) => {
                    if self.leaves_read == 0 {
                        self.first_leaf = Some(no);
                    }
                    self.leaves_read += 1;
                    break (no, stop);
                }
                LeafScan::Malformed => return Err(self.tree.corrupt(no, "leaf entry")),
                LeafScan::Beyond(link) if hinted => {
                    // The hinted leaf no longer covers the start: the leaf after it may (a district's next order's
                    // lines), once; then a descent.
                    self.upcoming.clear();
                    if !linked && link != NO_PAGE {
                        (self.hint, linked) = (Some(link), true);
                    }
                }
                LeafScan::Restart | LeafScan::Beyond(_) => {
                    self.upcoming.clear();
                    self.tree.restart(&mut restarts)?;
                }
            }
        };
        for &r in &self.rows.rows {
            let (k, v) = self.rows.row(r);
            if !visit(k, v, self.tree.hint_at(copied, Some(r.slot))) {
                self.upcoming.clear();
                self.spent = bound_key(from);
                return Ok(());
            }
        }
        let mut key = bound_key(from);
        match stop {
            RowsEnd::Full => {
                // More rows of this leaf in range: the next fill reads it again from past the last row copied (a
                // leaf split or merged meanwhile no longer covers that key, and the scan finds its leaf again),
                // copying every row in range from then on.
                let Some(&last) = self.rows.rows.last() else {
                    return Err(Error::Invariant("a full copy of no rows".into()));
                };
                key.clear();
                key.extend_from_slice(self.rows.row(last).0);
                self.from = Some(Bound::Excluded(key));
                self.upcoming.push_front(copied);
                self.prefetched += 1;
                // The same leaf again: not a leaf more for the readahead window and the first two leaves' descents.
                self.leaves_read -= 1;
                self.max_rows = usize::MAX;
            }
            RowsEnd::Leaf(true) if before_end(&self.end, &self.rows.high) => {
                // The start's buffer holds the next start.
                key.clear();
                key.extend_from_slice(&self.rows.high);
                self.from = Some(Bound::Included(key));
            }
            RowsEnd::Leaf(_) | RowsEnd::End => {
                self.upcoming.clear();
                self.spent = key;
            }
        }
        Ok(())
    }
}

impl Iterator for RangeIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.batch.is_empty() {
            self.from.as_ref()?;
            let mut batch = std::mem::take(&mut self.batch);
            let filled = self.fill(|k, v, _| {
                batch.push_back((k.to_vec(), v.to_vec()));
                true
            });
            self.batch = batch;
            if let Err(e) = filled {
                self.from = None;
                return Some(Err(e));
            }
        }
        self.batch.pop_front().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bufpool::storage::MemoryStorage;

    /// R17-O2: a panic out of an open's start (here the start itself panics, as a log `Storage` that panics
    /// did in recovery's scan, or a bug would) unwound out of `Tree::open`, leaving the data file open in the
    /// pool and its log claimed with it: the next open on the log waited a second and was refused
    /// (`LogMismatch`, "held by a dropped tree whose data file is still open"). It is now refused as any start
    /// is: the pool's `Panicked`, the file dropped, the log free at once.
    #[test]
    fn a_panic_in_the_start_of_an_open_leaves_nothing_open_and_the_log_free() {
        let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
        let wal = TreeWal::open_storage(MemoryStorage::new()).unwrap();
        let data = Arc::new(MemoryStorage::new());
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Tree::attach(
                pool.clone(),
                wal.clone(),
                TreeOptions::default(),
                |pool, options| pool.open_storage_with(data.clone(), options),
                |tree| {
                    tree.init_new()?;
                    panic!("a start that panics")
                },
            )
        }));
        let refused = opened.expect("the panic unwound out of the open");
        match refused {
            Err(Error::Pool(bufpool::Error::Panicked { message, .. })) => {
                assert_eq!(&*message, "a start that panics")
            }
            other => panic!("the open must be refused with the pool's Panicked, not {other:?}"),
        }
        assert!(pool.stats().files.is_empty(), "the data file is still open");
        assert_eq!(pool.stats().resident, 0, "its pages are still cached");
        // The same log and data file open the tree (refused before: the log held with the file still open),
        // from the log's records of the new tree's first pages, which the dropped file never got.
        let tree = Tree::open_storage(pool.clone(), wal, data).unwrap();
        tree.put(b"k", b"v").unwrap();
        assert_eq!(tree.get(b"k").unwrap(), Some(b"v".to_vec()));
        tree.close().unwrap();
    }

    /// R47-1: a data file whose page 0 holds no bufpool header (garbled whole by a power loss), with a log that
    /// names the file but holds no image of page 0 (here a lost log replaced by a new one, bound to the file): the
    /// open is refused before replay, with `BadMeta` saying so, and writes nothing. With its own log (cut by the
    /// close, the checkpoint's image of page 0 kept after its redo point) the same file opens, page 0 rebuilt.
    #[test]
    fn a_garbled_meta_page_is_replayed_only_from_a_log_that_holds_its_image() {
        let pool = Arc::new(BufferPool::builder().frames(64).page_size(4096).build().unwrap());
        let data = Arc::new(MemoryStorage::new());
        let log = Arc::new(MemoryStorage::new());
        let tree = Tree::open_storage(pool.clone(), TreeWal::open_storage(log.clone()).unwrap(), data.clone()).unwrap();
        tree.put(b"k", b"v").unwrap();
        let identity = pool
            .file_identity(tree.file())
            .unwrap()
            .expect("a memory storage keeps a record");
        tree.close().map_err(Error::from).unwrap();
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        data.write_at(&noise, 0).unwrap();
        let bytes = |s: &MemoryStorage| {
            let mut b = vec![0u8; s.len().unwrap() as usize];
            assert_eq!(s.read_at(&mut b, 0).unwrap(), b.len());
            b
        };
        let before = bytes(&data);
        let other = TreeWal::open_storage(MemoryStorage::new()).unwrap();
        other.bind_data_file(identity).unwrap();
        match Tree::open_storage(pool.clone(), other, data.clone()) {
            Err(Error::BadMeta(m)) if m.contains("holds no image of it") => {}
            Err(e) => panic!("refused with another error: {e}"),
            Ok(_) => panic!("opened with a log that cannot rebuild its meta page"),
        }
        assert!(pool.stats().files.is_empty(), "the refused file is still open");
        assert!(bytes(&data) == before, "the refused open wrote the data file");
        let tree = Tree::open_storage(pool, TreeWal::open_storage(log).unwrap(), data).unwrap();
        assert_eq!(tree.get(b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(tree.check().unwrap().entries, 1);
    }
}
