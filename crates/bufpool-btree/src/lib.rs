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
//! ```no_run
//! # fn main() -> Result<(), bufpool_btree::Error> {
//! use bufpool_btree::{open_dir, Options};
//! let tree = open_dir("/tmp/mytree", Options::default())?;
//! tree.put(b"hello", b"world")?;
//! tree.commit()?;                      // durable from here on
//! assert_eq!(tree.get(b"hello")?.as_deref(), Some(&b"world"[..]));
//! for pair in tree.range(&b"a"[..]..&b"z"[..]) {
//!     let (k, v) = pair?;
//! }
//! # Ok(()) }
//! ```
//!
//! Module map: `node.rs` (page layout of a node), `wal.rs` (log format, group commit, recovery scan),
//! `tree.rs` (the tree: concurrency protocol, structure changes, recovery, invariant checker), `bench.rs` (a
//! load-and-lookup driver for `bufpool bench`).

pub mod bench;
mod error;
mod node;
mod tree;
mod wal;

use std::path::Path;
use std::sync::Arc;

pub use bufpool::BufferPool;
pub use error::{Error, Result};
pub use node::Limits;
pub use tree::{RangeIter, Tree, TreeStats, MAX_RESTARTS};
pub use wal::TreeWal;

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
/// from `opts` and the tree's log as the pool's WAL; runs recovery.
pub fn open_dir(dir: impl AsRef<Path>, opts: Options) -> Result<Tree> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| Error::Log(format!("create {}: {e}", dir.display())))?;
    let wal = TreeWal::open(dir.join(WAL_FILE))?;
    let pool = BufferPool::builder()
        .frames(opts.frames)
        .page_size(opts.page_size)
        .wal(wal.clone())
        .build()?;
    Tree::open(Arc::new(pool), wal, dir.join(DATA_FILE))
}
