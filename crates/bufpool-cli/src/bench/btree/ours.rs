//! `bufpool-btree` as a benchmarked system: the crate's [`Tree`] in a directory of its own (`tree.db` +
//! `tree.wal`), on a pool of the case's frames.
//!
//! Load: `put` per tuple with no commit until the end (the log is written out as its buffer fills, never
//! synced), then `commit` + `checkpoint`, so the load ends with the data durable in `tree.db`; a checkpoint also
//! runs whenever the log passes [`LOAD_LOG_MAX`], to bound the log's size. Runs: reads are the tree's latch-free
//! optimistic lookups; writes are `put`s that are never committed (no system syncs during runs).

use std::path::Path;

use anyhow::{Context, Result};
use bufpool_btree::{open_dir, Options, Tree};

use super::driver::{KvStore, KvWorker, Loader};
use super::tuple::{self, key, value};

/// Page size of the tree.
pub const PAGE_BYTES: usize = 4096;
/// The load checkpoints (and so cuts the log) when the log is longer than this.
pub const LOAD_LOG_MAX: u64 = 1 << 30;

/// The tree opened on a pool of its own.
pub struct Ours {
    tree: Tree,
}

impl Ours {
    /// Opens (or creates) the tree in `dir` on a pool of `frames` frames.
    pub fn open(dir: &Path, frames: usize) -> Result<Ours> {
        let tree = open_dir(
            dir,
            Options {
                frames: frames.max(16),
                page_size: PAGE_BYTES,
            },
        )
        .with_context(|| format!("opening bufpool-btree in {}", dir.display()))?;
        Ok(Ours { tree })
    }

    /// Pages of the data file.
    pub fn file_pages(&self) -> Result<u64> {
        Ok(u64::from(self.tree.pool().file_pages(self.tree.file())?))
    }

    /// Checkpoints and closes.
    pub fn close(self) -> Result<()> {
        self.tree.close()?;
        Ok(())
    }

    /// Checks the tree's invariants and that it holds `tuples` entries.
    pub fn check(&self, tuples: u64) -> Result<()> {
        let st = self.tree.check()?;
        anyhow::ensure!(
            st.entries as u64 == tuples,
            "bufpool-btree holds {} tuples, {tuples} were loaded",
            st.entries
        );
        Ok(())
    }
}

impl Loader for Ours {
    fn insert(&mut self, id: u64) -> Result<()> {
        self.tree.put(&key(id), &value(id, 0))?;
        if id.is_multiple_of(1 << 18) && self.tree.wal().file_len() > LOAD_LOG_MAX {
            self.tree.checkpoint()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.tree.commit()?;
        self.tree.checkpoint()?;
        Ok(())
    }
}

impl KvStore for Ours {
    type Worker<'a> = OursWorker<'a>;

    fn worker(&self) -> Result<OursWorker<'_>> {
        Ok(OursWorker {
            tree: &self.tree,
            keys: Vec::new(),
        })
    }

    fn cache_counts(&self) -> Option<(u64, u64)> {
        let st = self.tree.pool().stats();
        Some((st.hits, st.misses))
    }
}

/// A thread's handle on the tree.
pub struct OursWorker<'a> {
    tree: &'a Tree,
    keys: Vec<[u8; tuple::KEY_BYTES]>,
}

impl OursWorker<'_> {
    /// Up to `len` pairs from `from` on through `Tree::scan` (borrowed slices, as the peers' cursors give), each
    /// checked; returns how many there were.
    fn visit(&self, from: &[u8], len: u64) -> Result<u64> {
        if len == 0 {
            return Ok(0);
        }
        let (mut n, mut bad) = (0u64, None);
        self.tree.scan(from.., |k, v| {
            if let Err(e) = tuple::check_pair(k, v) {
                bad = Some(e);
                return false;
            }
            n += 1;
            n < len
        })?;
        bad.map_or(Ok(n), Err)
    }
}

impl KvWorker for OursWorker<'_> {
    fn get(&mut self, id: u64) -> Result<u64> {
        self.tree.get_with(&key(id), |v| tuple::check(id, v))?
    }

    fn get_many(&mut self, ids: &[u64]) -> Result<()> {
        self.keys.clear();
        self.keys.extend(ids.iter().map(|&id| key(id)));
        let refs: Vec<&[u8]> = self.keys.iter().map(|k| &k[..]).collect();
        let got = self.tree.get_many(&refs)?;
        for (&id, v) in ids.iter().zip(&got) {
            tuple::check(id, v.as_deref())?;
        }
        Ok(())
    }

    fn put(&mut self, id: u64, version: u64) -> Result<()> {
        self.tree.put(&key(id), &value(id, version))?;
        Ok(())
    }

    fn scan(&mut self, id: u64, len: u64) -> Result<u64> {
        let k = key(id);
        self.visit(&k, len)
    }

    fn scan_all(&mut self) -> Result<u64> {
        self.visit(&[], u64::MAX)
    }
}
