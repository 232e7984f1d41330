//! A crash-safe B+tree key-value engine built only on bufpool's public API.
//!
//! Keys and values are byte strings. The tree lives in one pool file (page 0 is the meta page naming the root
//! and the free list) and logs every change to its own redo log ([`TreeWal`]), which is also the pool's
//! [`bufpool::Wal`]: the pool never writes a page before the log covering its LSN is durable.
//!
//! # Limits
//! With a page of `P` bytes the user region is `U = P - 24` bytes; keys may be up to `U / 32` bytes and values up
//! to `U / 4` bytes (4 KiB pages: 127-byte keys, 1018-byte values). Longer ones are refused with
//! [`Error::KeyTooLong`] / [`Error::ValueTooLong`]. See [`Limits`].
//!
//! # Use
//! ```
//! # fn main() -> Result<(), bufpool_btree::Error> {
//! use bufpool_btree::{open_dir, Options};
//! # let dir = tempfile::tempdir().unwrap();
//! let tree = open_dir(dir.path().join("mytree"), Options::default())?; // tree.db + tree.wal in that directory
//! tree.put(b"hello", b"world")?;
//! tree.commit()?;                      // durable from here on
//! assert_eq!(tree.get(b"hello")?.as_deref(), Some(&b"world"[..]));
//! for pair in tree.range(&b"a"[..]..&b"z"[..]) {
//!     let (key, value) = pair?;
//!     println!("{key:?} = {value:?}");
//! }
//! tree.close()?; // a checkpoint, then the file closed; without it, the next open recovers from the log
//! # Ok(()) }
//! ```
//!
//! [`open_dir`] builds a pool of its own. Trees can also share one pool, each with its own log: a tree opens its
//! data file with its log as that file's own WAL (`bufpool::FileOptions::wal`), so the pool writes a tree's
//! page only after *that tree's* log is durable up to the page's LSN, and never asks another tree's log:
//! ```
//! # fn main() -> Result<(), bufpool_btree::Error> {
//! use std::sync::Arc;
//! use bufpool_btree::{BufferPool, Tree, TreeWal};
//! # let dir = tempfile::tempdir().unwrap();
//! # let t = dir.path();
//! let pool = Arc::new(BufferPool::builder().frames(1 << 12).build()?);
//! let users = Tree::open(pool.clone(), TreeWal::open(t.join("users.wal"))?, t.join("users.db"))?;
//! let orders = Tree::open(pool, TreeWal::open(t.join("orders.wal"))?, t.join("orders.db"))?;
//! users.put(b"alice", b"1")?;
//! orders.put(b"order 1", b"alice")?;
//! Tree::checkpoint_all(&[users, orders])?; // both data files in one pass, then each log cut
//! # Ok(()) }
//! ```
//! Each tree recovers from its own log ([`Tree::open`]) and checkpoints its own file ([`Tree::checkpoint`]).
//!
//! # Design in brief
//! - **Nodes** (`node.rs`, meta format 4): slotted pages; every node stores its low and high *fence keys*, so a copy
//!   of a node says by itself which keys it is responsible for. Slots are 8 aligned bytes: entry offset, key
//!   length and a 4-byte *head* (the key bytes after the fences' common prefix, as LeanStore's heads), so a
//!   binary search reads one slot word a step and touches an entry only when heads tie; an inner node also keeps
//!   its children's page numbers in an array after the slots, so a descent reads no entry either. Separators are the
//!   shortest prefixes that split two neighbours (suffix truncation). A leaf split by a key past all its
//!   entries keeps them (full leaves after ascending loads, also of many runs side by side). Leaves are chained left to right. Page 0
//!   is the meta page (root, free list).
//! - **Concurrency** (`tree.rs`): lookups take no latch: each node is probed in place through
//!   `BufferPool::read_optimistic` with bounds-checked decoding, and the result is trusted only if the node is a
//!   live node of the expected level whose fences cover the key (else restart from the root). Leaf writers latch
//!   one leaf. Structure changes (split, merge, redistribution, root change) are serialised by the meta page's
//!   exclusive latch and latch top-down. Latch order: meta → inner nodes top-down → leaves → free-list pages;
//!   only the meta holder ever holds two latches, so there is no deadlock.
//! - **Memory-level parallelism**: a probe prefetches the node's header, fences and slot lines together;
//!   [`Tree::get_many`] (and [`Tree::get_many_hinted`], which also names each key's leaf, and
//!   [`Tree::get_many_part`], which copies out a part of each value; [`Tree::get_many_at_hints`], which first
//!   probes the leaf each key's hint names, the keys it does not answer descending together) descends a batch level by
//!   level in three passes (page-table lines, frames, probes) so the misses of different keys overlap; range scans keep a window of leaves (growing to [`RANGE_READAHEAD`])
//!   prefetched from the parents' child lists, and [`Tree::scan`] visits borrowed pairs.
//! - **Log** (`wal.rs`): a redo log of CRC-checked records; a leaf change is one physiological record (`PUT`,
//!   `DEL`) or, for the first change of a page after a checkpoint, a full page image (full-page writes; not on
//!   the pool's doublewrite area, [`TreeOptions::doublewrite`], which keeps every page the pool writes whole); a
//!   structure change is one atomic record of full images, but for a leaf split's leaf and the parent that takes
//!   its separator, logged as the ops done to them (`SPLIT`, `INNER`; the same full-page-write rule). So a page
//!   must not be written for a latch that changed nothing: every write latch is a clean guard
//!   ([`bufpool::BufferPool::write_clean`]), node changes borrow the page mutably only to change it, and a structure
//!   change that fails puts its pages back clean ([`bufpool::WriteGuard::restore`]); else a power loss that tears
//!   that write leaves a page no record rebuilds (R46-O40 in RELIABILITY.md).
//!   LSN = byte position; a page's LSN is the end of its
//!   last record. The log is the pool's [`bufpool::Wal`]: no page is written before its record is durable.
//!   [`Tree::commit`] is a group commit: concurrent committers share one fsync. Its header names the record
//!   format ([`LOG_FORMAT`]): a log of a newer format is refused ([`Error::LogFormat`], no record read, nothing
//!   written), and a log written before the format was named (session 42) opens whole, its header rewritten at
//!   the open (`wal.rs`, "The format version").
//! - **Covered changes** ([`Tree::put_covered`], [`Tree::delete_covered`]): for a layer above that logs its
//!   writes itself in a log this tree's log depends on ([`TreeWal::flush_first`]); the tree logs no record for
//!   them (one log write per change), each page waits for that log as far as its own covered changes need
//!   (`deps.rs`), the layer redoes them after recovery.
//!   A [`LeafHint`] lets such a change skip its descent. ARCHITECTURE.md has the argument.
//! - **Bulk load** ([`Tree::bulk_load`], `tree/bulk.rs`): ascending pairs built bottom-up into an empty tree or
//!   appended above a non-empty one's keys: full nodes in new pages written unlogged and synced, then switched in
//!   by one logged record of the tree's right edge (its last leaf and the last node of each level, rewritten in
//!   place) and the meta page. Each run of pages it takes is announced in the log first (a `TAKING` note), so
//!   replay after a crash that lost them accepts the gap.
//! - **Recovery** ([`Tree::open`]): replay every valid record from the log's start (the last checkpoint's redo
//!   point) whose LSN is above its page's LSN, in log order, the pages of the records ahead prefetched
//!   (`BufferPool::prefetch`, since session 51) so that the redo does not wait for one read at a time; a torn
//!   tail is cut off; a torn data page is rebuilt from its logged image (on the doublewrite area, restored from
//!   its copy there by the data file's open, before replay). The log's open writes the records it
//!   read again, then the header in force into the other slot (one slot a write: R43-1), and syncs them, before
//!   they count as durable (readable is not durable after a failed fsync). [`Tree::checkpoint`] = note the redo
//!   point, write and sync the tree's data file (`BufferPool::flush_files`), then cut the log before the redo
//!   point (a new header slot; in a file the dead blocks punched out, the tail rewritten into a new file only past
//!   [`REWRITE_LEN`]: `wal.rs`, "Truncation").
//!
//! Module map: `node.rs` (page layout of a node), `wal.rs` (log format, group commit, recovery scan), `deps.rs`
//! (per page, the position in the log above that its write waits for), `tree.rs` (the tree: concurrency
//! protocol, structure changes, recovery, invariant checker), `tree/bulk.rs` (the bulk load), `bench.rs` (a
//! load-and-lookup driver for `bufpool bench`).

pub mod bench;
mod deps;
mod error;
mod node;
mod tree;
mod wal;

use std::path::Path;
use std::sync::Arc;

pub use bufpool::BufferPool;
pub use error::{CloseError, Error, Result};
pub use node::Limits;
pub use tree::{CoveredPut, LeafHint, RangeIter, Tree, TreeOptions, TreeStats, RANGE_READAHEAD, RESTARTS_MAX};
pub use wal::{
    apply_edits, decode_ops, edits_fit, encode_edits, encode_ranges, visit_ops, Op, OwnedOp, SyncCause, TreeWal,
    BUF_HARD_MAX, BUF_SOFT_MAX, GROW_STEP, LOG_FORMAT, RECORD_MAX, REGION_MIN, REWRITE_LEN,
};

/// File name of the data file inside a tree directory.
pub const DATA_FILE: &str = "tree.db";
/// File name of the log inside a tree directory.
pub const WAL_FILE: &str = "tree.wal";

/// Settings for [`open_dir`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Frames of the pool.
    pub frames: usize,
    /// Page size in bytes (a power of two, 4096..=65536).
    pub page_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frames: 4096,
            page_size: 4096,
        }
    }
}

/// Opens (creating if needed) the tree in directory `dir` (`tree.db` + `tree.wal`) with a pool of its own built
/// from `opts`; runs recovery. To put several trees in one pool, use [`open_dir_in`].
pub fn open_dir(dir: impl AsRef<Path>, opts: Options) -> Result<Tree> {
    let pool = BufferPool::builder()
        .frames(opts.frames)
        .page_size(opts.page_size)
        .build()?;
    open_dir_in(Arc::new(pool), dir)
}

/// Opens (creating if needed) the tree in directory `dir` (`tree.db` + `tree.wal`) in a pool shared with other
/// trees or engines; runs recovery. The tree's data file is written under the tree's own log only.
pub fn open_dir_in(pool: Arc<BufferPool>, dir: impl AsRef<Path>) -> Result<Tree> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| Error::Log(format!("create {}: {e}", dir.display())))?;
    let wal = TreeWal::open(dir.join(WAL_FILE))?;
    Tree::open(pool, wal, dir.join(DATA_FILE))
}
