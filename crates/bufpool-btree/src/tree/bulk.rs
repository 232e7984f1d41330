//! [`Tree::bulk_load`]: builds a whole tree bottom-up from pairs in ascending key order, into new pages, and
//! switches it in with one logged record (the way LMDB's append mode and RocksDB's file ingestion serve engines).
//!
//! Owns the build (leaf runs, the per-level inner nodes in progress, the pages taken) and the switch. Node bytes
//! are `node.rs`'s (`node::rebuild` writes each node whole), the switch record is an ordinary structure-change
//! record of full images (`Tree::log_images`).
//!
//! # How
//! - **Leaves** are filled to 100%: a pair joins the leaf in progress if the leaf, with it, still fits its page
//!   with the high fence it would then get (the shortest separator between the pair's key and the next input
//!   key, seen by peeking); otherwise the leaf is closed with high fence `separator(last key, this key)`, which
//!   the leaf was checked to fit when its last key joined. Each leaf's page is taken when the leaf before it
//!   closes, so that one links to it: the leaf chain is built as the leaves are.
//! - **Inner nodes**: a closed node is a child `(page, low, high)` of the level above; it joins that level's node
//!   in progress as the entry `(low, page)` (its low fence is its separator) if that node then fits with the
//!   child's high fence as its own, else that node is closed (high fence = this child's low fence) and passed up
//!   in turn, and a new one starts with this child as its leftmost. So every child's fences are exactly its
//!   parent's bounds for it (`node.rs`'s invariant). At the end each level's last node is closed bottom-up; a
//!   top level left with one child is not written (that child is the root). The last node of a level may be
//!   thin (down to one child); it is a legal node and the first deletes under it merge it.
//! - **Pages** come from `BufferPool::new_page` (new pages at the end of the file, or page numbers the pool
//!   freed unwritten): never pages the log names, so no earlier record is replayed over them. They are written
//!   unlogged with LSN 0, so a page's first change after the load is logged as a full image (full-page writes).
//!
//! # Crash safety
//! The switch: `BufferPool::flush_file` (every new page written and the file fsynced), then under the meta latch
//! one record of two full images: the meta page naming the new root, and the old (empty) root leaf turned into
//! a free-list page; then a log commit. A crash before that record is durable leaves the meta page naming the
//! old, empty root: the tree is as before the load, and the new pages are leaked past the old end of the file
//! (the file keeps its length; nothing names them; they are not reclaimed). A crash after it replays the record:
//! the tree is complete, since every page it names was durable before the record was written. A load that fails
//! with an error (bad input, a full pool, I/O) gives its pages back to the pool (`BufferPool::free_page`), whose
//! later `new_page`s reuse them.
//!
//! # Concurrency
//! Readers and writers may run during a build; they see the empty tree until the switch and the whole loaded
//! tree after it. A write that lands in the empty tree meanwhile makes the switch refuse ([`Error::NotEmpty`]):
//! a bulk load never merges, it only replaces an empty tree.

use super::*;
use crate::node::{entry_size, fixed_bytes, separator_len, shortest_separator};

/// The pairs of one node in progress, packed in one buffer.
#[derive(Default)]
struct Run {
    bytes: Vec<u8>,
    /// `(start in bytes, key length, value length)` per pair.
    at: Vec<(usize, usize, usize)>,
    /// Sum of [`entry_size`] over the pairs: the bytes they take in a node, slots included.
    size: usize,
}

impl Run {
    fn push(&mut self, k: &[u8], v: &[u8]) {
        self.at.push((self.bytes.len(), k.len(), v.len()));
        self.bytes.extend_from_slice(k);
        self.bytes.extend_from_slice(v);
        self.size += entry_size(k, v);
    }

    fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.at
            .iter()
            .map(|&(s, kl, vl)| (&self.bytes[s..s + kl], &self.bytes[s + kl..s + kl + vl]))
    }

    fn last_key(&self) -> Option<&[u8]> {
        self.at.last().map(|&(s, kl, _)| &self.bytes[s..s + kl])
    }

    fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.at.clear();
        self.size = 0;
    }
}

/// An inner node in progress: its leftmost child, its `(separator, child)` entries, and its fences so far (the
/// high one is its last child's).
struct Inner {
    low: Option<Vec<u8>>,
    high: Option<Vec<u8>>,
    link: PageNo,
    run: Run,
}

/// A build in progress.
struct Build<'t> {
    tree: &'t Tree,
    /// Every page taken so far (given back if the load fails).
    pages: Vec<PageNo>,
    /// `levels[i]`: the node in progress at level `i + 1`.
    levels: Vec<Inner>,
}

impl<'t> Build<'t> {
    fn page(&mut self) -> Result<WriteGuard<'t>> {
        let g = self.tree.pool.new_page(self.tree.file)?;
        self.pages.push(g.page_id().page_no());
        Ok(g)
    }

    /// Adds the closed node `child` with fences `low..high` to the node in progress at `levels[level]`, closing
    /// and passing up full nodes as far as needed.
    fn add_child(&mut self, level: usize, child: PageNo, low: Option<Vec<u8>>, high: Option<Vec<u8>>) -> Result<()> {
        let (mut level, mut child, mut low, mut high) = (level, child, low, high);
        let user = self.tree.limits.user_bytes;
        loop {
            let Some(n) = self.levels.get_mut(level) else {
                self.levels.push(Inner {
                    low,
                    high,
                    link: child,
                    run: Run::default(),
                });
                return Ok(());
            };
            let sep = low
                .as_deref()
                .ok_or_else(|| Error::Invariant("bulk load: a child after the first has no low fence".into()))?;
            let need = entry_size(sep, &child.to_le_bytes());
            let fence = |f: &Option<Vec<u8>>| f.as_ref().map_or(0, Vec::len);
            if fixed_bytes(fence(&n.low), fence(&high)) + n.run.size + need <= user {
                n.run.push(sep, &child.to_le_bytes());
                n.high = high;
                return Ok(());
            }
            // Full: close it (its high fence, its last child's, is this child's low) and pass it up; this child
            // starts the next node of the level.
            let next = Inner {
                low: low.clone(),
                high,
                link: child,
                run: Run::default(),
            };
            let full = std::mem::replace(n, next);
            child = self.write_inner(level, &full)?;
            (low, high) = (full.low, full.high);
            level += 1;
        }
    }

    /// Writes `n`, a node of level `level + 1`, into a new page; returns the page.
    fn write_inner(&mut self, level: usize, n: &Inner) -> Result<PageNo> {
        let lvl = u8::try_from(level + 1).map_err(|_| Error::Invariant("bulk load: over 255 levels".into()))?;
        let mut g = self.page()?;
        let no = g.page_id().page_no();
        node::rebuild(
            &mut g,
            node::KIND_INNER,
            lvl,
            n.link,
            n.low.as_deref(),
            n.high.as_deref(),
            n.run.pairs(),
        )
        .map_err(|_| Error::Invariant("bulk load: an inner node overflowed its page".into()))?;
        Ok(no)
    }

    /// Writes the leaf `run` with these fences and link into `g`; returns its page.
    fn write_leaf(g: &mut WriteGuard<'_>, run: &Run, low: Fence<'_>, high: Fence<'_>, link: PageNo) -> Result<PageNo> {
        node::rebuild(g, node::KIND_LEAF, 0, link, low, high, run.pairs())
            .map_err(|_| Error::Invariant("bulk load: a leaf overflowed its page".into()))?;
        Ok(g.page_id().page_no())
    }

    /// Builds the tree of `pairs`; returns its root and the number of pairs, or `None` if there were none.
    fn build<I, K, V>(&mut self, pairs: I) -> Result<Option<(PageNo, u64)>>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let tree = self.tree;
        let user = tree.limits.user_bytes;
        let mut it = pairs.into_iter().peekable();
        let mut leaf = Run::default();
        let mut low: Option<Vec<u8>> = None;
        // The page of the leaf in progress, once the leaf before it has closed (and linked to it).
        let mut page: Option<PageNo> = None;
        let mut n = 0u64;
        while let Some((k, v)) = it.next() {
            let (k, v) = (k.as_ref(), v.as_ref());
            tree.check_key(k)?;
            if v.len() > tree.limits.max_value {
                return Err(Error::ValueTooLong {
                    len: v.len(),
                    max: tree.limits.max_value,
                });
            }
            if let Some(last) = leaf.last_key() {
                if k <= last {
                    return Err(Error::Unsorted { index: n });
                }
                // The high fence this leaf would get with `k` as its last key.
                let high_len = it.peek().map_or(0, |(k2, _)| separator_len(k, k2.as_ref()));
                let low_len = low.as_ref().map_or(0, Vec::len);
                if fixed_bytes(low_len, high_len) + leaf.size + entry_size(k, v) > user {
                    let sep = shortest_separator(last, k);
                    let mut g = match page {
                        Some(no) => tree.pool.write(tree.pid(no))?,
                        None => self.page()?,
                    };
                    let next = self.page()?.page_id().page_no();
                    let no = Self::write_leaf(&mut g, &leaf, low.as_deref(), Some(&sep), next)?;
                    drop(g);
                    self.add_child(0, no, low.take(), Some(sep.clone()))?;
                    low = Some(sep);
                    leaf.clear();
                    page = Some(next);
                }
            }
            leaf.push(k, v);
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        let mut g = match page {
            Some(no) => tree.pool.write(tree.pid(no))?,
            None => self.page()?,
        };
        let no = Self::write_leaf(&mut g, &leaf, low.as_deref(), None, NO_PAGE)?;
        drop(g);
        self.add_child(0, no, low, None)?;
        // Close each level's last node bottom-up; the top one is the root (or, left with one child, that child).
        let mut level = 0;
        loop {
            let top = level + 1 == self.levels.len();
            if top && self.levels[level].run.is_empty() {
                return Ok(Some((self.levels[level].link, n)));
            }
            let last = std::mem::replace(
                &mut self.levels[level],
                Inner {
                    low: None,
                    high: None,
                    link: NO_PAGE,
                    run: Run::default(),
                },
            );
            let no = self.write_inner(level, &last)?;
            if top {
                return Ok(Some((no, n)));
            }
            self.add_child(level + 1, no, last.low, None)?;
            level += 1;
        }
    }

    /// Gives every page taken back to the pool (a failed load).
    fn give_back(&self) {
        for &no in &self.pages {
            // A page that cannot be freed stays a page past the tree's end: leaked, nothing changed.
            let _ = self.tree.pool.free_page(self.tree.pid(no));
        }
    }
}

impl Tree {
    /// Loads `pairs`, in strictly ascending key order, into this tree, which must be empty: builds the whole tree
    /// bottom-up in new pages (leaves and inner nodes filled as full as their pages allow, leaves chained), writes
    /// and syncs them, then switches the root to it with one logged record and commits. Returns the number of
    /// pairs loaded. Durable when it returns.
    ///
    /// Crash-safe: killed at any point, the tree reopens as it was before the call (empty) or with every pair
    /// loaded; the pages of an interrupted load are leaked past the end of the data file (see the module docs of
    /// `tree/bulk.rs`). Later `put`s and `delete`s work as on any tree (a put into a full leaf splits it).
    ///
    /// # Errors
    /// [`Error::NotEmpty`] if the tree's root is not an empty leaf (when called, or when the build is done: a write
    /// that landed meanwhile); [`Error::Unsorted`] if a key is not above the one before it; [`Error::KeyTooLong`] /
    /// [`Error::ValueTooLong`] as for [`Tree::put`]; pool and log errors. On an error before the switch the tree is
    /// unchanged and the pages built so far go back to the pool. One error comes after it: the final log commit's
    /// (the log has failed, and refuses every later change); the loaded tree is then in place but, as a `put`
    /// whose [`Tree::commit`] failed, not durable: a crash reopens the tree empty or loaded.
    pub fn bulk_load<I, K, V>(&self, pairs: I) -> Result<u64>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        if !self.is_empty_tree()? {
            return Err(Error::NotEmpty);
        }
        let mut b = Build {
            tree: self,
            pages: Vec::new(),
            levels: Vec::new(),
        };
        let built = b.build(pairs).and_then(|built| match built {
            Some((root, n)) => self.switch_root(root).map(|()| n),
            None => Ok(0),
        });
        match built {
            Ok(n) => {
                self.wal.commit()?;
                Ok(n)
            }
            Err(e) => {
                b.give_back();
                Err(e)
            }
        }
    }

    /// True if the root is a leaf with no entries.
    fn is_empty_tree(&self) -> Result<bool> {
        let root = meta_u32(&self.pool.read(self.pid(META))?, M_ROOT);
        let g = self.pool.read(self.pid(root))?;
        Ok(Node::parse(&g).is_some_and(|n| n.is_leaf() && n.count() == 0))
    }

    /// Makes `root` (a built tree, not yet written) the tree's root: writes and syncs the data file, then logs
    /// the meta page naming `root` and the old empty root leaf freed, as one record. Fails, changing nothing, if
    /// the tree is no longer empty.
    fn switch_root(&self, root: PageNo) -> Result<()> {
        self.pool.flush_file(self.file)?;
        let mut meta = self.hold(META)?;
        let old_no = meta_u32(&meta, M_ROOT);
        let mut old = self.hold(old_no)?;
        if !Node::parse(&old).is_some_and(|n| n.is_leaf() && n.count() == 0) {
            return Err(Error::NotEmpty);
        }
        self.wal.check()?;
        set_meta_u32(&mut meta, M_ROOT, root);
        self.free(&mut meta, &mut old);
        self.log_images(&mut [&mut old, &mut meta])?;
        self.root.store(root, Ordering::Release);
        // The old root, then the meta page: the meta latch is released last (see `Held`).
        drop(old);
        drop(meta);
        Ok(())
    }
}
