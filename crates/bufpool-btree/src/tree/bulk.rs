//! [`Tree::bulk_load`]: builds a tree bottom-up from pairs in ascending key order, into new pages, and switches
//! it in with one logged record (the way LMDB's append mode and RocksDB's file ingestion serve engines). Into an
//! empty tree, or appended to a non-empty one whose keys all lie below the first pair's (append mode).
//!
//! Owns the build (leaf runs, the per-level inner nodes in progress, the pages taken) and the switch. Node bytes
//! are `node.rs`'s (`node::rebuild` writes each node whole), the switch record is an ordinary structure-change
//! record of full images (`Tree::log_images`).
//!
//! # How
//! - **The right edge**: the build starts from the tree's right edge, read under the meta latch: the last leaf
//!   and the last inner node of each level above it (an empty tree's edge is its empty root leaf; an empty last
//!   leaf whose low fence is above the first pair's key, which deletes leave when their merges fail, is merged
//!   into its left neighbour first, `Tree::merge_underfull`, and the edge read again). Each edge node
//!   is the node in progress of its level: the last leaf's entries come before the input's pairs, and each edge
//!   inner node keeps its children but its last one (the edge node below, which rejoins it when it closes). An
//!   edge node is rewritten *in place*: its new image is kept in memory and only logged by the switch, never
//!   written before it, so the tree as it was stays intact on disk until then.
//! - **Leaves** are filled to 100%: a pair joins the leaf in progress if the leaf, with it, still fits its page
//!   with the high fence it would then get (the shortest separator between the pair's key and the next key,
//!   seen by peeking); otherwise the leaf is closed with high fence `separator(last key, this key)`, which the
//!   leaf was checked to fit when its last key joined. Each leaf's page is taken when the leaf before it closes,
//!   so that one links to it: the leaf chain is built as the leaves are (the old last leaf links to the first new
//!   one).
//! - **Inner nodes**: a closed node is a child `(page, low, high)` of the level above; it joins that level's node
//!   in progress as the entry `(low, page)` (its low fence is its separator) if that node then fits with the
//!   child's high fence as its own, else that node is closed (high fence = this child's low fence) and passed up
//!   in turn, and a new one starts with this child as its leftmost. So every child's fences are exactly its
//!   parent's bounds for it (`node.rs`'s invariant). At the end each level's last node is closed bottom-up; a
//!   top level left with one child is not written (that child is the root; an edge page left so is freed). The
//!   last node of a level may be thin (down to one child); it is a legal node and the first deletes under it
//!   merge it.
//! - **Pages** come from `BufferPool::new_page` (new pages at the end of the file, or page numbers the pool
//!   freed unwritten): never pages the log names, so no earlier record is replayed over them. They are written
//!   unlogged with LSN 0, so a page's first change after the load is logged as a full image (full-page writes).
//!
//! # Crash safety
//! The switch: `BufferPool::flush_file` (every new page written and the file fsynced), then under the meta latch
//! and the edge pages' latches one record of full images: the edge pages' new images and the meta page naming
//! the root; then a log commit. A crash before that record is durable leaves every page of the tree as before
//! the load (the edge pages were never written with their new images): the tree is as before the load, and the
//! new pages are leaked past the old end of the file (the file keeps its length; nothing names them; they are not
//! reclaimed). A crash after it replays the record: the tree is complete, since every page it names was durable
//! before the record was written. Before it takes each run of `TAKING_PAGES` pages the load appends a note of
//! them to the log (`Op::Taking`, unsynced): a power loss that drops the load's unsynced pages while a concurrent
//! change's record of a page taken after them is durable leaves that record as many pages past the file's end,
//! and replay reads the notes before it as room for them (`Tree::check_growth`; R41-20 in RELIABILITY.md). A
//! load that fails with an error (bad input, a full pool, I/O), or that a panic
//! in the caller's input unwinds, gives its pages back to the pool (`BufferPool::free_page`, when the build is
//! dropped), whose later `new_page`s reuse them.
//!
//! # Concurrency
//! Readers and writers may run during a build; they see the tree as before until the switch and the whole
//! loaded tree after it. Writes that change no edge page meanwhile are kept (the build shares every node off the
//! edge); a write that changed an edge page (a put into the last leaf, a split or merge reaching the edge) makes
//! the switch refuse ([`Error::ChangedDuringLoad`]), so a bulk load never loses a write. A change is recognised
//! by each edge page's LSN *and* bytes, compared with those read at the start: a covered change
//! ([`Tree::put_covered`]) to a leaf already logged since the last checkpoint leaves the page's LSN as it was
//! (R10B-1 in RELIABILITY.md: the LSN alone let the switch write the old entries over it).

use super::*;
use crate::node::{entry_size, fixed_bytes, separator_len, shortest_separator, Malformed};

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
    /// Adds a pair of a node of `kind` (`node::KIND_LEAF` or `node::KIND_INNER`).
    fn push(&mut self, kind: u8, k: &[u8], v: &[u8]) {
        self.at.push((self.bytes.len(), k.len(), v.len()));
        self.bytes.extend_from_slice(k);
        self.bytes.extend_from_slice(v);
        self.size += entry_size(kind, k, v);
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

/// An inner node in progress: its leftmost child (`None` only for an edge node whose one child is the edge node
/// below, not yet closed), its `(separator, child)` entries, its fences so far (the high one is its last
/// child's), and the edge page it rewrites in place (`None`: a new page).
struct Inner {
    low: Option<Vec<u8>>,
    high: Option<Vec<u8>>,
    link: Option<PageNo>,
    run: Run,
    page: Option<PageNo>,
}

/// The tree's right edge when the load begins (see the module docs).
struct Edge {
    /// The root page.
    root: PageNo,
    /// The last leaf's pairs and low fence.
    leaf: Vec<(Vec<u8>, Vec<u8>)>,
    low: Option<Vec<u8>>,
    /// `levels[i]`: the edge node of level `i + 1` as a node in progress (without its last child).
    levels: Vec<Inner>,
    /// Every edge node as read at the start, the leaf first.
    pages: Vec<EdgePage>,
}

/// A node of the right edge as the load found it: the switch refuses if the page changed since (see the module
/// docs, "Concurrency").
struct EdgePage {
    no: PageNo,
    lsn: Lsn,
    /// The user region: covered changes do not raise the LSN.
    bytes: Vec<u8>,
}

/// A key or value from the tree's last leaf (owned) or from the input.
enum Src<T> {
    Tree(Vec<u8>),
    Input(T),
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Src<T> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Src::Tree(b) => b,
            Src::Input(t) => t.as_ref(),
        }
    }
}

/// A build in progress.
struct Build<'t> {
    tree: &'t Tree,
    /// Every page taken so far (given back if the load fails).
    pages: Vec<PageNo>,
    /// `levels[i]`: the node in progress at level `i + 1`.
    levels: Vec<Inner>,
    /// The right edge's nodes when the load began, the leaf first.
    edge: Vec<EdgePage>,
    /// New images of edge pages, logged by the switch (never written before it).
    images: Vec<(PageNo, Vec<u8>)>,
    /// The pages the load announced in the log so far (`Op::Taking`, one note per `TAKING_PAGES`).
    announced: u64,
}

impl<'t> Build<'t> {
    /// Takes a new page from the pool, announcing the next run of pages in the log first when the ones announced
    /// are used up (module docs, "Crash safety").
    fn page(&mut self) -> Result<WriteGuard<'t>> {
        if self.pages.len() as u64 >= self.announced {
            let page = self.tree.pool.file_pages(self.tree.file)?;
            self.tree.wal().append_own(&[Op::Taking {
                page,
                pages: TAKING_PAGES,
            }])?;
            self.announced += u64::from(TAKING_PAGES);
        }
        let g = self.tree.pool.new_page(self.tree.file)?;
        self.pages.push(g.page_id().page_no());
        Ok(g)
    }

    /// Writes a node with `fill` into page `at`: an edge page's image is kept for the switch, a page taken
    /// earlier is written in the pool, and `None` takes a new page. Returns the page.
    fn write_node(
        &mut self,
        at: Option<PageNo>,
        fill: impl FnOnce(&mut [u8]) -> std::result::Result<(), Malformed>,
    ) -> Result<PageNo> {
        let overflow = |_| Error::Invariant("bulk load: a node overflowed its page".into());
        match at {
            Some(no) if self.edge.iter().any(|e| e.no == no) => {
                let mut image = vec![0u8; self.tree.limits.user_bytes];
                fill(&mut image).map_err(overflow)?;
                self.images.push((no, image));
                Ok(no)
            }
            Some(no) => {
                let mut g = self.tree.pool.write_clean(self.tree.pid(no))?;
                fill(&mut g[..]).map_err(overflow)?;
                Ok(no)
            }
            None => {
                let mut g = self.page()?;
                fill(&mut g[..]).map_err(overflow)?;
                Ok(g.page_id().page_no())
            }
        }
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
                    link: Some(child),
                    run: Run::default(),
                    page: None,
                });
                return Ok(());
            };
            if n.link.is_none() {
                // An edge node whose only child was the edge node below: that child rejoins it.
                n.link = Some(child);
                n.high = high;
                return Ok(());
            }
            let sep = low
                .as_deref()
                .ok_or_else(|| Error::Invariant("bulk load: a child after the first has no low fence".into()))?;
            let need = entry_size(node::KIND_INNER, sep, &child.to_le_bytes());
            let fence = |f: &Option<Vec<u8>>| f.as_ref().map_or(0, Vec::len);
            if fixed_bytes(fence(&n.low), fence(&high)) + n.run.size + need <= user {
                n.run.push(node::KIND_INNER, sep, &child.to_le_bytes());
                n.high = high;
                return Ok(());
            }
            // Full: close it (its high fence, its last child's, is this child's low) and pass it up; this child
            // starts the next node of the level.
            let next = Inner {
                low: low.clone(),
                high,
                link: Some(child),
                run: Run::default(),
                page: None,
            };
            let full = std::mem::replace(n, next);
            child = self.write_inner(level, &full)?;
            (low, high) = (full.low, full.high);
            level += 1;
        }
    }

    /// Writes `n`, a node of level `level + 1`, into its page; returns the page.
    fn write_inner(&mut self, level: usize, n: &Inner) -> Result<PageNo> {
        let lvl = u8::try_from(level + 1).map_err(|_| Error::Invariant("bulk load: over 255 levels".into()))?;
        let link = n
            .link
            .ok_or_else(|| Error::Invariant("bulk load: an inner node without a child".into()))?;
        self.write_node(n.page, |b| {
            node::rebuild(
                b,
                node::KIND_INNER,
                lvl,
                link,
                n.low.as_deref(),
                n.high.as_deref(),
                n.run.pairs(),
            )
        })
    }

    /// Writes the leaf `run` with these fences and link into page `at`; returns the page.
    fn write_leaf(&mut self, at: PageNo, run: &Run, low: Fence<'_>, high: Fence<'_>, link: PageNo) -> Result<PageNo> {
        self.write_node(Some(at), |b| {
            node::rebuild(b, node::KIND_LEAF, 0, link, low, high, run.pairs())
        })
    }

    /// Builds the tree of the edge leaf's pairs followed by `pairs` (`skip` = the edge leaf's pairs, already
    /// checked to lie below the input's), the first leaf being the edge leaf `page` with low fence `low`; returns
    /// the root and the number of the input's pairs.
    fn build<I, K, V>(&mut self, pairs: I, skip: u64, page: PageNo, low: Option<Vec<u8>>) -> Result<(PageNo, u64)>
    where
        I: Iterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let tree = self.tree;
        let user = tree.limits.user_bytes;
        let mut it = pairs.peekable();
        let mut leaf = Run::default();
        let (mut low, mut page) = (low, page);
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
                    return Err(Error::Unsorted {
                        index: n.saturating_sub(skip),
                    });
                }
                // The high fence this leaf would get with `k` as its last key.
                let high_len = it.peek().map_or(0, |(k2, _)| separator_len(k, k2.as_ref()));
                let low_len = low.as_ref().map_or(0, Vec::len);
                if fixed_bytes(low_len, high_len) + leaf.size + entry_size(node::KIND_LEAF, k, v) > user {
                    let sep = shortest_separator(last, k);
                    let next = self.page()?.page_id().page_no();
                    let no = self.write_leaf(page, &leaf, low.as_deref(), Some(&sep), next)?;
                    self.add_child(0, no, low.take(), Some(sep.clone()))?;
                    low = Some(sep);
                    leaf.clear();
                    page = next;
                }
            }
            leaf.push(node::KIND_LEAF, k, v);
            n += 1;
        }
        let no = self.write_leaf(page, &leaf, low.as_deref(), None, NO_PAGE)?;
        self.add_child(0, no, low, None)?;
        let loaded = n.saturating_sub(skip);
        // Close each level's last node bottom-up; the top one is the root (or, left with one child, that child).
        let mut level = 0;
        loop {
            let top = level + 1 == self.levels.len();
            if top && self.levels[level].run.is_empty() {
                let root = self.levels[level]
                    .link
                    .ok_or_else(|| Error::Invariant("bulk load: a top node without a child".into()))?;
                return Ok((root, loaded));
            }
            let last = std::mem::replace(
                &mut self.levels[level],
                Inner {
                    low: None,
                    high: None,
                    link: None,
                    run: Run::default(),
                    page: None,
                },
            );
            let no = self.write_inner(level, &last)?;
            if top {
                return Ok((no, loaded));
            }
            self.add_child(level + 1, no, last.low, None)?;
            level += 1;
        }
    }
}

impl Drop for Build<'_> {
    /// Gives every page taken back to the pool, unless the switch made them the tree's (`Tree::bulk_load` then
    /// empties `pages`): a load that failed, or that a panic in the caller's input unwound (R10B-4 in
    /// RELIABILITY.md: the pages stayed taken, named by nothing, for the file's life). No latch is held while the
    /// input runs (a page's guard lives only while the build writes it), so unwinding releases none by hand.
    fn drop(&mut self) {
        for &no in &self.pages {
            // A page that cannot be freed stays a page past the tree's end: leaked, nothing changed.
            let _ = self.tree.pool.free_page(self.tree.pid(no));
        }
    }
}

impl Tree {
    /// Loads `pairs`, in strictly ascending key order, into this tree: builds the nodes bottom-up in new pages
    /// (leaves and inner nodes filled as full as their pages allow, leaves chained), writes and syncs them, then
    /// switches them in with one logged record and commits. The tree may be empty, or hold keys that all lie below
    /// the first pair's (append mode, as LMDB's `MDB_APPEND`): the new pairs continue its last leaf and the last
    /// node of each level above it. An empty last leaf whose low fence lies above the first pair's key (left by
    /// deletes whose merges failed) is first merged into its left neighbour, as those deletes would have done.
    /// Returns the number of pairs loaded. Durable when it returns.
    ///
    /// Crash-safe: killed at any point, the tree reopens as it was before the call or with every pair loaded; the
    /// pages of an interrupted load are leaked past the end of the data file (see the module docs of
    /// `tree/bulk.rs`). Later `put`s and `delete`s work as on any tree (a put into a full leaf splits it).
    ///
    /// # Errors
    /// [`Error::NotAbove`] if the first pair's key is not above every key of the tree; [`Error::Unsorted`] if a
    /// key is not above the one before it; [`Error::ChangedDuringLoad`] if a concurrent write changed the tree's
    /// last leaf or an inner node above it while the load was building; [`Error::KeyTooLong`] /
    /// [`Error::ValueTooLong`] as for [`Tree::put`]; pool and log errors. On an error before the switch the tree
    /// is unchanged and the pages built so far go back to the pool: so for a full device under the data file
    /// ([`Error::is_no_space`]; free space and load again). One error comes after it: the final log commit's;
    /// the loaded pairs are then in place but, as a `put` whose [`Tree::commit`] failed, not durable: a crash
    /// reopens the tree as before or loaded. Refused for space ([`Error::NoSpace`], the log's device full), the
    /// next commit that succeeds once space is freed makes them durable; from a failed log ([`Error::Log`]),
    /// the log refuses every later change.
    ///
    /// # Panics
    /// Only if the input does (its iterator or a pair's `as_ref`); the tree is then unchanged, no latch is left
    /// held and the pages built so far go back to the pool, as on an error.
    pub fn bulk_load<I, K, V>(&self, pairs: I) -> Result<u64>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut input = pairs.into_iter().peekable();
        let Some((first, _)) = input.peek() else {
            return Ok(0);
        };
        let first = first.as_ref();
        let mut edge = self.right_edge()?;
        // An empty last leaf whose low fence is above the first key: the delete that emptied it could not merge
        // it into its left neighbour (a merge is best effort: `Tree::delete`), and the tree's keys may all lie
        // below the first key, or be none at all. Merge it away now, as that delete would have, while that
        // changes the edge; a leaf that still holds no key above the first one then refuses (R43-3 in
        // RELIABILITY.md: an emptied tree refused every load below its old keys).
        while edge.leaf.is_empty() && edge.low.as_deref().is_some_and(|low| first < low) {
            let low = edge.low.clone().unwrap_or_default();
            self.merge_underfull(&low)?;
            let next = self.right_edge()?;
            let same = next.root == edge.root && next.pages[0].no == edge.pages[0].no && next.low == edge.low;
            edge = next;
            if same {
                break;
            }
        }
        let above = match edge.leaf.last() {
            Some((last, _)) => first > last.as_slice(),
            None => edge.low.as_deref().is_none_or(|low| first >= low),
        };
        if !above {
            return Err(Error::NotAbove);
        }
        let skip = edge.leaf.len() as u64;
        let leaf_page = edge.pages[0].no;
        let mut b = Build {
            tree: self,
            pages: Vec::new(),
            levels: edge.levels,
            edge: edge.pages,
            images: Vec::new(),
            announced: 0,
        };
        let old = edge.leaf.into_iter().map(|(k, v)| (Src::Tree(k), Src::Tree(v)));
        let new = input.map(|(k, v)| (Src::Input(k), Src::Input(v)));
        let built = b
            .build(old.chain(new), skip, leaf_page, edge.low)
            .and_then(|(root, n)| self.switch_edge(&b, edge.root, root).map(|()| n));
        // On an error (or a panic in the input) `b` gives its pages back when dropped; switched, they are the tree's.
        let n = built?;
        b.pages.clear();
        self.wal().commit()?;
        Ok(n)
    }

    /// Reads the tree's right edge (see the module docs), under the meta latch so that no inner node changes
    /// meanwhile.
    fn right_edge(&self) -> Result<Edge> {
        let meta = self.pool.write_clean(self.pid(META))?;
        let root = meta_u32(&meta, M_ROOT);
        let (mut no, mut expect) = (root, None);
        let (mut levels, mut pages) = (Vec::new(), Vec::new());
        loop {
            let g = self.pool.read(self.pid(no))?;
            let n = Node::parse(&g).ok_or_else(|| self.corrupt(no, "not a node on the right edge"))?;
            if n.high().is_some() || expect.is_some_and(|l| l != n.level()) {
                return Err(self.corrupt(no, "a right edge node with a high fence or of the wrong level"));
            }
            pages.push(EdgePage {
                no,
                lsn: g.lsn(),
                bytes: g.to_vec(),
            });
            let low = n.low().map(<[u8]>::to_vec);
            let bad = || self.corrupt(no, "bad entry on the right edge");
            if n.is_leaf() {
                let leaf = (0..n.count())
                    .map(|i| n.entry(i).map(|(k, v)| (k.to_vec(), v.to_vec())).ok_or_else(bad))
                    .collect::<Result<Vec<_>>>()?;
                levels.reverse();
                pages.reverse();
                return Ok(Edge {
                    root,
                    leaf,
                    low,
                    levels,
                    pages,
                });
            }
            // Every child but the last (the edge node below, which rejoins this one when it closes).
            let last = n.count();
            let mut run = Run::default();
            for i in 0..last.saturating_sub(1) {
                let (k, v) = n.entry(i).ok_or_else(bad)?;
                run.push(node::KIND_INNER, k, v);
            }
            let (link, high) = match last {
                0 => (None, None),
                _ => (
                    Some(n.child_at(0).ok_or_else(bad)?),
                    Some(n.key(last - 1).ok_or_else(bad)?.to_vec()),
                ),
            };
            levels.push(Inner {
                low,
                high,
                link,
                run,
                page: Some(no),
            });
            no = n.child_at(last).ok_or_else(bad)?;
            expect = Some(n.level() - 1);
        }
    }

    /// Switches the built nodes in: writes and syncs the data file, then, under the meta latch and the edge
    /// pages' latches (top-down), logs the edge pages' new images (an edge page left without one, a top node the
    /// build did not need, freed) and the meta page naming `root`, as one record. Fails, changing nothing, if an
    /// edge page changed since the load began.
    fn switch_edge(&self, b: &Build<'_>, old_root: PageNo, root: PageNo) -> Result<()> {
        self.pool.flush_file(self.file)?;
        let mut meta = self.hold(META)?;
        if meta_u32(&meta, M_ROOT) != old_root {
            return Err(Error::ChangedDuringLoad);
        }
        let mut edge = Vec::with_capacity(b.edge.len());
        for e in b.edge.iter().rev() {
            let g = self.hold(e.no)?;
            // Both: a covered change leaves the LSN, and a change may leave bytes equal (then the image built
            // from them is right, but refusing is the simpler rule).
            if g.lsn() != e.lsn || g[..] != e.bytes[..] {
                return Err(Error::ChangedDuringLoad);
            }
            edge.push(g);
        }
        self.wal().check()?;
        for g in &mut edge {
            let no = g.page_id().page_no();
            match b.images.iter().find(|(p, _)| *p == no) {
                Some((_, image)) if image.len() == g.len() => g.copy_from_slice(image),
                Some(_) => return Err(Error::Invariant("bulk load: an edge image of the wrong size".into())),
                None => self.free(&mut meta, g),
            }
        }
        set_meta_u32(&mut meta, M_ROOT, root);
        let mut all: Vec<&mut Held<'_>> = edge.iter_mut().collect();
        all.push(&mut meta);
        self.log_images(&mut all)?;
        self.root.store(root, Ordering::Release);
        // The edge pages, then the meta page: the meta latch is released last (see `Held`).
        drop(edge);
        drop(meta);
        Ok(())
    }
}
