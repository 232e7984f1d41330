//! Node layout: how a B+tree node (leaf or inner) is laid out in a page's user region, and the pure operations
//! on it (search, insert, remove, split, merge) over plain byte slices.
//!
//! Owns the slotted-page format and its invariants. Nothing here knows the pool, latches or the log: the tree
//! hands in the bytes of a latched page (or a private copy taken by an optimistic read) and gets bytes back.
//!
//! # Layout (all integers little-endian, offsets within the user region of `U` bytes)
//!
//! | bytes            | field       | meaning                                                                 |
//! |------------------|-------------|-------------------------------------------------------------------------|
//! | 0                | `kind`      | [`KIND_DEAD`] (free page), [`KIND_LEAF`] or [`KIND_INNER`]               |
//! | 1                | `level`     | 0 for leaves, parent = child + 1                                        |
//! | 2..4             | `count`     | number of entries (slots)                                               |
//! | 4..6             | `heap_lo`   | start of the entry heap, which grows down from `U`                      |
//! | 6..8             | `garbage`   | bytes in the heap held by removed entries (reclaimed by compaction)     |
//! | 8..12            | `link`      | leaf: next leaf's page number; inner: leftmost child; dead: next free   |
//! | 12..14           | `low_len`   | length of the low fence key, [`INFINITE`] for minus infinity            |
//! | 14..16           | `high_len`  | length of the high fence key, [`INFINITE`] for plus infinity            |
//! | 16..20           | `magic`     | [`NODE_MAGIC`]                                                          |
//! | 20..22           | `prefix`    | length of the fences' common prefix (0 if either is infinite)           |
//! | 22..24           | reserved    | zero                                                                    |
//! | 24..             | fences      | low fence bytes, then high fence bytes                                  |
//! | next 8-aligned   | slots       | `count` × 8-byte slots in key order: entry offset u16, key length u16,  |
//! |                  |             | key head u32 (see below)                                                |
//! | after the slots  | children    | inner only: `count` × child page number u32, child `i` the value of     |
//! |                  |             | entry `i` (see "Child numbers")                                         |
//! | `heap_lo`..`U`   | heap        | entries: `klen u16, vlen u16, key, value` (inner: value = child u32)    |
//!
//! Every byte of a 4 KiB page, for a leaf of the benchmarks' shape (8-byte keys, 120-byte values):
//!
//! | bytes of the page | what                                                                                 |
//! |-------------------|--------------------------------------------------------------------------------------|
//! | 0..24             | the pool's page header (checksum, page number, LSN, magic, format, size, file id)    |
//! | 24..48            | the node header above (24 bytes)                                                     |
//! | 48..48+f          | the fences: low and high separators, each the shortest prefix that splits two keys  |
//! |                   | (1 to 8 bytes each here, so `f` is 2 to 16), then zero padding up to a multiple of 8 |
//! | s..s+8n           | `n` slots of 8 bytes: entry offset u16, key length u16, key head u32 (`s` is 56 to  |
//! |                   | 64)                                                                                  |
//! | hole              | free space                                                                           |
//! | heap, to 4096     | `n` entries of 132 bytes: key length u16, value length u16, key (8), value (120)    |
//!
//! So a tuple takes 140 bytes of a leaf: 128 of payload, 12 of slot and lengths (the slot's head duplicates 4
//! key bytes so a search reads no entry). A full leaf holds `(4072 - 40) / 140 = 28` tuples (with the longest
//! fences; 28 with the shortest too), 3,960 of the 4,072 bytes of its user region. An inner node's entry is a
//! slot, its child number in the children array, the lengths, the separator (1 to 8 bytes) and the 4-byte child
//! page number again: 21 to 28 bytes, so an inner node has about 145 to 190 children. A tree
//! [`crate::Tree::bulk_load`] filled takes 147 bytes of data file a tuple (vmcache: 143); after random-order
//! inserts, whose leaves are half to fully used (68% on average), about 210.
//!
//! # Key heads
//! Every key in a node starts with the `prefix` bytes its two fences share (a key `k` with `low <= k < high`
//! does). A slot's *head* is the next four key bytes, big-endian, zero-padded: comparing heads as integers orders
//! keys by those bytes, so a binary search reads only the slot array (one aligned 8-byte load a step) and touches
//! an entry only when two heads tie, as LeanStore's heads do. With 8-byte keys and fences that share 4 or more
//! bytes (all but the top of a large tree), heads decide every comparison. Keys are stored whole in the entries
//! (no prefix truncation), so every other operation reads plain keys.
//!
//! # Child numbers (inner nodes)
//! A descent's search ends at a slot, and what it wants from there is the child's page number. Stored only in
//! the entry, it cost one more dependent cache miss per inner node (the entry lies anywhere in the heap, a line
//! the search had not touched). So an inner node keeps a second copy of its children's numbers in an array right
//! after the slot array, in slot order: child `i + 1` (the value of entry `i`) is the u32 at
//! `slots + 8 count + 4 i`. A probe prefetches slots and children together from the header, so the child's line
//! is in flight with the slots' and the search reads no entry unless two heads tie. The array is a separate one,
//! not a wider slot, so a binary search step still reads one word of 8 slots' bytes per slot, and leaves and inner
//! nodes share [`search_slots`]. Every inner change goes through [`insert_at`], [`remove_at`] and [`rebuild`],
//! which write both copies; [`Node::check_slots`] (so `Tree::check`) tests that they agree. The cost is 4 bytes an
//! inner entry (12 bytes of slot and child instead of 8): about 1.2 times as many inner nodes, which are about
//! half a percent of a tree's pages. Trees written before it (meta format 3) are refused at open
//! (`Error::BadMeta`).
//!
//! # Invariants
//! - Keys in a node are strictly increasing and lie in `[low, high)` (the fences).
//! - Inner node: children `[link, child(0), .., child(count-1)]`; child `p` covers `[sep(p-1), sep(p))`, with the
//!   node's own fences at the ends, and that child's fences are exactly those bounds. This is what makes an
//!   optimistic reader's copy self-validating: a live node whose fences cover the key is the right node.
//! - A dead page (freed) has `kind == KIND_DEAD`; readers that reach it through a stale pointer restart.
//!
//! Every accessor is bounds-checked and returns `None` on malformed bytes, so a torn optimistic copy or a
//! crafted page can never cause a panic.
//!
//! # Reading a node that may be torn ([`probe`])
//! An optimistic reader ([`probe`] over the pool's page view) reads a page a writer may be changing: any value it
//! reads may be garbage, and the pool's version check afterwards discards whatever it computed from a torn page.
//! So the probe must never read outside the page, panic or loop without bound on garbage, and must answer right on
//! a consistent page. How each is kept:
//! - **Inside the page.** Every page read is a whole aligned word by index ([`PageBytes::word`]), and an index
//!   past the end reads the last word: an offset or length taken from the page is bounded by clamping inside the
//!   read (a compare and a conditional move), not by a test on each read. Unaligned bytes come from two such words.
//!   [`used_parts`] (what of a node a scan copies) reads the same way, two header words, and clamps its answer
//!   into the region.
//! - **No panic, no endless loop.** Lengths from the page index only the page (above), never a slice of the
//!   caller's; the binary searches run over at most `count` slots (16 bits), and so does a gallop from a slot
//!   ([`probe_run`] starts each key's search where the previous key's ended, a slot index below `count` whatever
//!   the bytes), a byte comparison over at most the key's length.
//! - **Searches started past slot 0.** A run's key searched from the previous key's slot assumes the slots before
//!   it hold smaller keys. On a consistent page they do (slots ascend, keys of a run ascend); on a torn one the
//!   answer may differ from a whole search's, which is only another wrong answer the version check discards.
//! - **Right on a consistent page.** What decides the answer is tested: the magic, kind and level against what the
//!   parent promised, `slots + 8 count <= heap_lo <= len` (so fences and slots lie in the page), the prefix the
//!   fences allow, the fences against the key (a node that split or merged since its parent was read no longer
//!   covers it: restart), and the entry a found slot or a child names (in the heap, its key length the slot's, its
//!   value inside the page). A page this module did not write therefore reads as malformed where those tests see
//!   it, and otherwise gives some answer, never a panic.

use std::cmp::Ordering;
use std::ops::DerefMut;

/// A freed page (on the tree's free list).
pub const KIND_DEAD: u8 = 0;
/// A leaf node: keys and values.
pub const KIND_LEAF: u8 = 1;
/// An inner node: separators and child page numbers.
pub const KIND_INNER: u8 = 2;
/// Fence length meaning "infinite" (no bound).
pub const INFINITE: u16 = 0xFFFF;
/// "No page" in a link field.
pub const NO_PAGE: u32 = u32::MAX;
/// Marks a node page (bytes 16..20).
pub const NODE_MAGIC: u32 = 0x4454_4E42; // "BNTD"
/// Size of the node header.
pub const HDR: usize = 24;
/// Bytes of an entry besides key and value (klen, vlen).
pub const ENTRY_OVERHEAD: usize = 4;
/// Bytes from the start of a node a probe prefetches before reading its header: header, fences and a leaf's slot
/// array of 8-byte keys (5 cache lines). `Tree::get_many` prefetches as much of each node one pass earlier.
pub const PROBE_PREFETCH: usize = 320;
/// Bytes of one slot.
pub const SLOT: usize = 8;
/// Bytes of one child number in an inner node's children array (after its slots).
pub const CHILD: usize = 4;
/// Bytes of a key head.
const HEAD: usize = 4;

const OFF_KIND: usize = 0;
const OFF_LEVEL: usize = 1;
const OFF_COUNT: usize = 2;
const OFF_HEAP: usize = 4;
const OFF_GARBAGE: usize = 6;
const OFF_LINK: usize = 8;
const OFF_LOW: usize = 12;
const OFF_HIGH: usize = 14;
const OFF_MAGIC: usize = 16;
const OFF_PREFIX: usize = 20;

// The layout, checked when the crate compiles: header fields in order, each ending where the next begins, the
// last ending at the header's end; slots aligned so a slot word is one aligned load; offsets fit the u16 fields.
const _: () = {
    assert!(OFF_KIND + 1 == OFF_LEVEL);
    assert!(OFF_LEVEL + 1 == OFF_COUNT);
    assert!(OFF_COUNT + 2 == OFF_HEAP);
    assert!(OFF_HEAP + 2 == OFF_GARBAGE);
    assert!(OFF_GARBAGE + 2 == OFF_LINK);
    assert!(OFF_LINK + 4 == OFF_LOW);
    assert!(OFF_LOW + 2 == OFF_HIGH);
    assert!(OFF_HIGH + 2 == OFF_MAGIC);
    assert!(OFF_MAGIC + 4 == OFF_PREFIX);
    assert!(OFF_PREFIX + 2 <= HDR);
    assert!(HDR.is_multiple_of(SLOT) && SLOT == 8 && HEAD + 4 == SLOT);
    assert!(USER_BYTES_MAX <= u16::MAX as usize);
    assert!(PROBE_PREFETCH >= HDR && PROBE_PREFETCH.is_multiple_of(64));
};

/// The node's bytes are not a well-formed node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Malformed;

/// Upper bound of the page's user region this format supports (offsets are u16).
pub const USER_BYTES_MAX: usize = 65535;

/// Size limits derived from the page's user region; see [`crate::Limits`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// Bytes of the user region.
    pub user_bytes: usize,
    /// Longest key accepted.
    pub max_key: usize,
    /// Longest value accepted.
    pub max_value: usize,
}

impl Limits {
    /// Limits for a user region of `user_bytes`: keys up to `user_bytes / 32`, values up to `user_bytes / 4`.
    ///
    /// Why these suffice: a node's capacity besides header and two fences is `U - 24 - 2K`; a split of a full
    /// node plus one more entry must leave two halves that fit, which holds while that capacity is at least
    /// three largest entries, `3 (4 + 2 + K + V)`: true for every `U >= 4072` with `K = U/32`, `V = U/4`.
    pub fn for_user_bytes(user_bytes: usize) -> Limits {
        Limits {
            user_bytes,
            max_key: user_bytes / 32,
            max_value: user_bytes / 4,
        }
    }

    /// Bytes a leaf entry of the largest size takes, slot included.
    pub fn max_leaf_entry(&self) -> usize {
        entry_size(KIND_LEAF, &[], &[]) + self.max_key + self.max_value
    }

    /// Bytes an inner entry of the largest size takes, slot included.
    pub fn max_inner_entry(&self) -> usize {
        entry_size(KIND_INNER, &[], &[0; 4]) + self.max_key
    }

    /// Entry bytes below which a non-root node is considered underfull and merged with a sibling.
    pub fn underflow_bytes(&self) -> usize {
        self.user_bytes / 4
    }
}

#[inline]
fn rd16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

#[inline]
fn rd32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

#[inline]
fn rd64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

#[inline]
fn wr16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

#[inline]
fn wr32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// A fence key: `None` is infinite (minus infinity for a low fence, plus infinity for a high one).
pub type Fence<'a> = Option<&'a [u8]>;

/// A read-only, validated view of a node.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    b: &'a [u8],
    count: usize,
    heap_lo: usize,
    slots_at: usize,
    prefix: usize,
    /// [`slot_bytes`] of its kind.
    slot_bytes: usize,
}

impl<'a> Node<'a> {
    /// Validates the header of `b` and returns a view; `None` if it is not a live, well-formed node header.
    /// Individual entries are checked as they are read.
    pub fn parse(b: &'a [u8]) -> Option<Node<'a>> {
        if b.len() > USER_BYTES_MAX || b.len() < HDR {
            return None;
        }
        let kind = *b.get(OFF_KIND)?;
        let level = *b.get(OFF_LEVEL)?;
        if rd32(b, OFF_MAGIC)? != NODE_MAGIC {
            return None;
        }
        match kind {
            KIND_LEAF if level == 0 => {}
            KIND_INNER if level > 0 => {}
            _ => return None,
        }
        let count = rd16(b, OFF_COUNT)? as usize;
        let heap_lo = rd16(b, OFF_HEAP)? as usize;
        let (low_raw, high_raw) = (rd16(b, OFF_LOW)?, rd16(b, OFF_HIGH)?);
        let prefix = rd16(b, OFF_PREFIX)? as usize;
        if prefix > max_prefix(low_raw, high_raw) {
            return None;
        }
        let slots_at = slots_start(fence_len(low_raw), fence_len(high_raw));
        let slot_bytes = slot_bytes(kind);
        if slots_at + count * slot_bytes > heap_lo || heap_lo > b.len() {
            return None;
        }
        Some(Node {
            b,
            count,
            heap_lo,
            slots_at,
            prefix,
            slot_bytes,
        })
    }

    /// True if the page is a dead (freed) node page.
    pub fn is_dead(b: &[u8]) -> bool {
        b.first() == Some(&KIND_DEAD) && rd32(b, OFF_MAGIC) == Some(NODE_MAGIC)
    }

    /// The link of a dead page (next free page).
    pub fn dead_link(b: &[u8]) -> Option<u32> {
        rd32(b, OFF_LINK)
    }

    /// True for a leaf.
    pub fn is_leaf(&self) -> bool {
        self.b[OFF_KIND] == KIND_LEAF
    }

    /// Level: 0 for leaves.
    pub fn level(&self) -> u8 {
        self.b[OFF_LEVEL]
    }

    /// Number of entries.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Leaf: next leaf; inner: leftmost child.
    pub fn link(&self) -> u32 {
        rd32(self.b, OFF_LINK).unwrap_or(NO_PAGE)
    }

    /// The low fence (inclusive).
    pub fn low(&self) -> Fence<'a> {
        let len = rd16(self.b, OFF_LOW).unwrap_or(INFINITE);
        if len == INFINITE {
            None
        } else {
            self.b.get(HDR..HDR + len as usize)
        }
    }

    /// The high fence (exclusive).
    pub fn high(&self) -> Fence<'a> {
        let len = rd16(self.b, OFF_HIGH).unwrap_or(INFINITE);
        if len == INFINITE {
            return None;
        }
        let at = HDR + fence_len(rd16(self.b, OFF_LOW).unwrap_or(INFINITE));
        self.b.get(at..at + len as usize)
    }

    /// True if `key` lies in `[low, high)`.
    pub fn covers(&self, key: &[u8]) -> bool {
        self.low().is_none_or(|lo| key >= lo) && self.high().is_none_or(|hi| key < hi)
    }

    /// Bytes held by live entries and their slots.
    pub fn entry_bytes(&self) -> usize {
        let garbage = rd16(self.b, OFF_GARBAGE).unwrap_or(0) as usize;
        (self.b.len() - self.heap_lo).saturating_sub(garbage) + self.count * self.slot_bytes
    }

    /// Bytes available for entries (contiguous free space plus garbage).
    pub fn free_bytes(&self) -> usize {
        let garbage = rd16(self.b, OFF_GARBAGE).unwrap_or(0) as usize;
        self.heap_lo - (self.slots_at + self.count * self.slot_bytes) + garbage
    }

    /// Entry `i` as `(key, value)`.
    pub fn entry(&self, i: usize) -> Option<(&'a [u8], &'a [u8])> {
        if i >= self.count {
            return None;
        }
        let off = rd16(self.b, self.slots_at + i * SLOT)? as usize;
        if off < self.heap_lo {
            return None;
        }
        let klen = rd16(self.b, off)? as usize;
        let vlen = rd16(self.b, off + 2)? as usize;
        let k0 = off + ENTRY_OVERHEAD;
        let key = self.b.get(k0..k0 + klen)?;
        let val = self.b.get(k0 + klen..k0 + klen + vlen)?;
        Some((key, val))
    }

    /// Key of entry `i`.
    pub fn key(&self, i: usize) -> Option<&'a [u8]> {
        self.entry(i).map(|(k, _)| k)
    }

    /// Binary search: `Ok(i)` if entry `i` has `key`, `Err(i)` for the insertion point. `None` if malformed.
    pub fn search(&self, key: &[u8]) -> Option<Result<usize, usize>> {
        // Heads order only keys that carry the node's prefix; a key without it lies below or above every entry.
        let shared = self.b.get(HDR..HDR + self.prefix)?;
        match key[..self.prefix.min(key.len())].cmp(&shared[..self.prefix.min(key.len())]) {
            Ordering::Less => return Some(Err(0)),
            Ordering::Greater => return Some(Err(self.count)),
            Ordering::Equal if key.len() < self.prefix => return Some(Err(0)),
            Ordering::Equal => {}
        }
        search_slots(
            self.b,
            self.slots_at,
            self.count,
            self.heap_lo,
            self.prefix,
            SearchKey::new(key),
            SearchFrom::START,
        )
        .map(|(r, _)| r)
    }

    /// [`Node::search`] among the slots from `from` on, for a key known to be above every key before `from`:
    /// the same answer, without reading the slots before `from` (none to search: `Err(count)`, at once).
    pub fn search_from(&self, key: &[u8], from: usize) -> Option<Result<usize, usize>> {
        if from >= self.count {
            return (from == self.count).then_some(Err(from));
        }
        if from == 0 {
            return self.search(key);
        }
        // Keys above a key of the node carry its prefix unless they are above all of them (the prefix check of
        // `search`, with only its `Greater` case left).
        let shared = self.b.get(HDR..HDR + self.prefix)?;
        if key[..self.prefix.min(key.len())] > shared[..self.prefix.min(key.len())] {
            return Some(Err(self.count));
        }
        let slots_at = self.slots_at + from * SLOT;
        search_slots(
            self.b,
            slots_at,
            self.count - from,
            self.heap_lo,
            self.prefix,
            SearchKey::new(key),
            SearchFrom::START,
        )
        .map(|(r, _)| r.map(|i| i + from).map_err(|i| i + from))
    }

    /// Leaf lookup: the value stored under `key`, if any.
    #[cfg(test)]
    pub fn leaf_get(&self, key: &[u8]) -> Option<Option<&'a [u8]>> {
        match self.search(key)? {
            Ok(i) => Some(Some(self.entry(i)?.1)),
            Err(_) => Some(None),
        }
    }

    /// Inner node: the number of children (`count + 1`).
    pub fn children(&self) -> usize {
        self.count + 1
    }

    /// Inner node: child at position `p` (0 is the leftmost, `link`), from the children array.
    pub fn child_at(&self, p: usize) -> Option<u32> {
        if p == 0 {
            return rd32(self.b, OFF_LINK);
        }
        if self.is_leaf() || p > self.count {
            return None;
        }
        rd32(self.b, children_at(self.slots_at, self.count) + (p - 1) * CHILD)
    }

    /// Inner node: position of the child covering `key`.
    pub fn child_pos(&self, key: &[u8]) -> Option<usize> {
        Some(match self.search(key)? {
            Ok(i) => i + 1,
            Err(i) => i,
        })
    }

    /// Inner node: the bounds `[low, high)` child `p` must have.
    pub fn child_bounds(&self, p: usize) -> Option<(Fence<'a>, Fence<'a>)> {
        if p > self.count {
            return None;
        }
        let lo = if p == 0 { self.low() } else { Some(self.key(p - 1)?) };
        let hi = if p == self.count {
            self.high()
        } else {
            Some(self.key(p)?)
        };
        Some((lo, hi))
    }

    /// Checks what a search trusts besides key order: the declared prefix is the fences' common prefix, every
    /// slot's key length and head match its entry, and (inner node) every child number in the children array is
    /// its entry's value. Returns the first slot that does not (`Err(count)` for the prefix).
    pub fn check_slots(&self) -> Result<(), usize> {
        if fences_prefix(self.low(), self.high()) != self.prefix {
            return Err(self.count);
        }
        for i in 0..self.count {
            let w = rd64(self.b, self.slots_at + i * SLOT).ok_or(i)?;
            let (_, klen, h) = slot_fields(w);
            let key = self.key(i).ok_or(i)?;
            if klen != key.len() || h != head(key, self.prefix) {
                return Err(i);
            }
            if !self.is_leaf() {
                let (_, v) = self.entry(i).ok_or(i)?;
                let child = <[u8; CHILD]>::try_from(v).ok().map(u32::from_le_bytes);
                if child.is_none() || child != self.child_at(i + 1) {
                    return Err(i);
                }
            }
        }
        Ok(())
    }

    /// The end of the used region before the heap (header, fences, slots): the start of the free "hole".
    pub fn hole(&self) -> (usize, usize) {
        let start = self.slots_at + self.count * self.slot_bytes;
        (start, self.heap_lo - start)
    }
}

/// The two parts of a node's region that its readers look at, from its header (two words, so from a page that
/// may be torn): `[0, front)` (header, fences, slots) and `[heap, len)` (the entries), with
/// `HDR.min(len) <= front <= heap <= len` whatever the bytes. A copy of these two parts alone parses and reads as
/// the whole region would: [`Node`] reads nothing else of a node whose header is well formed (its fences, slots
/// and an inner node's children array end at `front`, and every entry is checked to lie at or after `heap_lo`
/// before it is read), a dead page's fields are in the header, and a header that is not well formed parses as
/// malformed whatever the free space between the parts holds. From a torn page the parts are garbage, but inside the region; the optimistic reader
/// that copied them discards the copy.
#[inline]
pub fn used_parts<S: PageBytes + ?Sized>(s: &S) -> (usize, usize) {
    let len = s.len();
    let (w0, w1) = (s.word(0), s.word(1));
    let (count, heap_lo) = ((w0 >> 16) as u16 as usize, (w0 >> 32) as u16 as usize);
    let (low_raw, high_raw) = ((w1 >> 32) as u16, (w1 >> 48) as u16);
    let front =
        (slots_start(fence_len(low_raw), fence_len(high_raw)) + count * slot_bytes(w0 as u8)).clamp(HDR.min(len), len);
    (front, heap_lo.clamp(front, len))
}

/// Where the slot array starts for fences of these lengths: the first 8-aligned offset after them, so every
/// slot is one aligned 8-byte load (the user region starts 8-aligned in the page).
#[inline(always)]
fn slots_start(low_len: usize, high_len: usize) -> usize {
    // `next_multiple_of(SLOT)` without its test for an exact multiple (an add and a mask).
    (HDR + low_len + high_len + SLOT - 1) & !(SLOT - 1)
}

/// Length of the longest common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The prefix every key of a node with these fences carries: their common prefix, or none if either is infinite.
fn fences_prefix(low: Fence<'_>, high: Fence<'_>) -> usize {
    match (low, high) {
        (Some(l), Some(h)) => common_prefix(l, h),
        _ => 0,
    }
}

/// The longest prefix a node with these raw fence lengths can declare: 0 unless both fences are finite.
fn max_prefix(low_raw: u16, high_raw: u16) -> usize {
    if low_raw == INFINITE || high_raw == INFINITE {
        0
    } else {
        low_raw.min(high_raw) as usize
    }
}

/// The head of `key` in a node whose keys share `prefix` bytes: the next four bytes, big-endian, zero-padded.
#[inline]
fn head(key: &[u8], prefix: usize) -> u32 {
    let rest = key.get(prefix..).unwrap_or(&[]);
    if let Some(b) = rest.first_chunk::<HEAD>() {
        return u32::from_be_bytes(*b);
    }
    // Fewer than four bytes: zero-padded on the right, read as `be_bytes` reads a short key (a byte loop here was
    // a `memcpy` call, about 25 instructions, for every TPC-C key with fewer than four bytes after the prefix).
    match rest.len() {
        0 => 0,
        n => (be_bytes(rest, 0, n) << (8 * (HEAD - n))) as u32,
    }
}

/// A slot word's fields: entry offset, key length, head.
#[inline]
fn slot_fields(w: u64) -> (usize, usize, u32) {
    ((w & 0xFFFF) as usize, ((w >> 16) & 0xFFFF) as usize, (w >> 32) as u32)
}

/// Where [`search_slots`] starts: every slot before `slot` holds a key below the one searched for (on a
/// consistent page), and whether to gallop from there (probe slots `slot`, `slot + 2`, `slot + 6`, .. until a
/// head is not below the key's, then binary-search the last gap) rather than binary-search all of
/// `slot..count`. A run of sorted keys ([`probe_run`]) starts each key's search at the previous key's answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct SearchFrom {
    slot: usize,
    gallop: bool,
}

impl SearchFrom {
    /// A whole search: slots `0..count`, binary.
    const START: SearchFrom = SearchFrom { slot: 0, gallop: false };
}

/// A searched key with its first 8 bytes as one word ([`short_word`]), made once a probe: the fence tests, the
/// key's head ([`SearchKey::head`]) and every tied slot's compare of a key of up to 8 bytes read the word instead
/// of loading and shifting the key's bytes again (four times or more a probe of a TPC-C key). Derived from the
/// caller's key only, never from the page, so a torn page changes nothing here (the node's prefix length, which
/// the head takes from the page, is bounded there: any value gives some head, never a panic).
#[derive(Clone, Copy)]
struct SearchKey<'k> {
    bytes: &'k [u8],
    word: u64,
}

impl<'k> SearchKey<'k> {
    #[inline(always)]
    fn new(bytes: &'k [u8]) -> SearchKey<'k> {
        SearchKey {
            bytes,
            word: short_word(bytes),
        }
    }

    /// [`head`] of the key in a node whose keys share `prefix` bytes. A key of up to 8 bytes has it in its word,
    /// which pads the key with zero bytes as a head does: the word shifted past the prefix, its top four bytes (0
    /// for a prefix of 8 bytes or more, at or past the key's end). One shift where [`head`] tests how many bytes
    /// follow the prefix and loads them again (about 15 instructions a probe of a TPC-C key, session 48).
    #[inline(always)]
    fn head(self, prefix: usize) -> u32 {
        if self.bytes.len() <= 8 {
            // `prefix.min(8)`: a shift of 64 bits (a prefix of 8 or more, any value a torn page gives) is `None`.
            (self.word.checked_shl(8 * prefix.min(8) as u32).unwrap_or(0) >> 32) as u32
        } else {
            head(self.bytes, prefix)
        }
    }
}

/// Binary search for `key` (which must carry the node's `prefix`) over `count` slots at `slots_at`, reading one
/// slot word a step and an entry's key bytes only when heads tie. `Ok(i)` with slot `i`'s word if found, else
/// `Err(insertion point)`. `None` if a slot points outside the heap (malformed or torn bytes).
///
/// Two phases: a branch-free lower bound on the heads alone (the first slot whose head is not below the key's;
/// a step is one load, one compare and a conditional move, with few values live, so nothing spills), then, only
/// if that slot's head ties with the key's, [`search_ties`] from there, comparing key tails. Keys whose heads
/// differ never reach the second phase; a found key (heads tie) reaches it once.
///
/// `from` ([`SearchFrom::START`] for a whole search): the key is above every key of the slots before
/// `from.slot` (not checked: on a consistent page the answer is then the same; otherwise it is some slot from
/// `from.slot` on, and a torn page's answer is discarded anyway). `from.slot` must be at most `count` (reads stay
/// in the page whatever it is: clamped words). The gallop costs about `2 log2(g) + 1` head reads for an answer
/// `g` slots on, the binary search `log2(count - from.slot) + 1`: the caller gallops when the keys it has left
/// lie densely in the slots left.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn search_slots<S: PageBytes + ?Sized>(
    s: &S,
    slots_at: usize,
    count: usize,
    heap_lo: usize,
    prefix: usize,
    key: SearchKey<'_>,
    from: SearchFrom,
) -> Option<(Result<usize, usize>, u64)> {
    let kh = key.head(prefix);
    debug_assert!(from.slot <= count);
    if from.slot >= count {
        return Some((Err(count), 0));
    }
    // Slot `i` is word `sw + i` (the slot array starts 8-aligned). The callers checked that the `count` slots lie
    // before `heap_lo`, inside the region; a torn page's slot index still reads a word of the page (clamped).
    debug_assert!(slots_at.is_multiple_of(SLOT));
    let sw = slots_at / SLOT;
    let head_of = |i: usize| slot_fields(s.word(sw + i)).2;
    // Invariant: the first slot whose head is >= kh lies in [base, base + size], and size >= 1 (or the search
    // ended at `base`, if the gallop found it).
    let (mut base, mut size) = (from.slot, count - from.slot);
    if from.gallop {
        // Probe `base + step - 1` with step 1, 2, 4, ..: every head below kh moves `base` past it. Each probe is
        // at most `count - 1`, and `base` grows each time, so at most log2(count) + 1 rounds on any bytes.
        let mut step = 1;
        loop {
            let at = base + step - 1;
            if at >= count {
                size = count - base;
                break;
            }
            let w = s.word(sw + at);
            if slot_fields(w).2 >= kh {
                if at == base {
                    // Slot `base` is the first whose head is not below kh: no gap left to search.
                    return search_tail(s, sw, base, w, count, heap_lo, prefix, key, kh);
                }
                size = at - base;
                break;
            }
            base = at + 1;
            step *= 2;
        }
        if size == 0 {
            // Every slot was below kh.
            return Some((Err(count), 0));
        }
    }
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        // A conditional move, not a branch: a random key takes either side half the time. (Written as `if`, the
        // compiler chose a branch.)
        base = std::hint::select_unpredictable(head_of(mid) < kh, mid, base);
        size -= half;
    }
    let w = s.word(sw + base);
    let first = base + usize::from(slot_fields(w).2 < kh);
    if first == count {
        return Some((Err(count), 0));
    }
    let w = if first == base { w } else { s.word(sw + first) };
    search_tail(s, sw, first, w, count, heap_lo, prefix, key, kh)
}

/// [`search_slots`] once `first` (below `count`, its slot word `w`) is the first slot from its start whose
/// head is not below `kh`: the answer is `first` unless the heads tie, else [`search_ties`] decides (the next
/// slot's head first).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn search_tail<S: PageBytes + ?Sized>(
    s: &S,
    sw: usize,
    first: usize,
    w: u64,
    count: usize,
    heap_lo: usize,
    prefix: usize,
    key: SearchKey<'_>,
    kh: u32,
) -> Option<(Result<usize, usize>, u64)> {
    let head_of = |i: usize| slot_fields(s.word(sw + i)).2;
    if slot_fields(w).2 != kh {
        return Some((Err(first), 0));
    }
    // Most heads are unique: if the next slot's head is above the key's, slot `first` is the only candidate.
    let next = first + 1;
    if next == count || head_of(next) > kh {
        return Some(match cmp_tie(s, w, heap_lo, prefix, key)? {
            Ordering::Less => (Err(next), 0),
            Ordering::Greater => (Err(first), 0),
            Ordering::Equal => (Ok(first), w),
        });
    }
    search_ties(s, sw, first, count, heap_lo, prefix, key, kh)
}

/// The order of the entry of slot word `w` against `key`, when the slot's head ties with the key's: the keys agree
/// up to `prefix + 4` bytes (zero padding included); the rest decides, then the length (a key that ends inside
/// the head is a prefix of the longer one). `None` if the entry's key does not lie in the heap (on a consistent
/// page, it does: that is what this module wrote).
#[inline(always)]
fn cmp_tie<S: PageBytes + ?Sized>(
    s: &S,
    w: u64,
    heap_lo: usize,
    prefix: usize,
    key: SearchKey<'_>,
) -> Option<Ordering> {
    let (off, klen, _) = slot_fields(w);
    let (word, key) = (key.word, key.bytes);
    if off < heap_lo || off + ENTRY_OVERHEAD + klen > s.len() {
        return None;
    }
    if klen <= 8 && key.len() <= 8 {
        // Two keys of up to 8 bytes (a tree of short keys, its separators included): one load each, compared as
        // `short_order` does.
        let entry = load_at(s, off + ENTRY_OVERHEAD).swap_bytes() & left_mask(klen);
        return Some(short_order(entry, klen, word, key.len()));
    }
    let rest = klen.saturating_sub(prefix + HEAD);
    let from = (prefix + HEAD).min(key.len());
    Some(cmp_at(s, off + ENTRY_OVERHEAD + klen - rest, rest, key, from).then(klen.cmp(&key.len())))
}

/// The mask of the first `n` (0 to 8) bytes of a left-aligned big-endian word ([`LEFT_MASKS`]; all ones for an
/// `n` past 8, as a shift by 64 bits or more would give).
#[inline(always)]
fn left_mask(n: usize) -> u64 {
    debug_assert!(n <= 8);
    LEFT_MASKS[n.min(8)]
}

/// [`left_mask`] of 0 to 8 bytes, looked up: a compare, a conditional move and a load, where the shift and its
/// test for a shift by 64 bits took seven instructions (three masks a probe of a leaf's key, session 48).
const LEFT_MASKS: [u64; 9] = {
    let mut m = [0u64; 9];
    let mut n = 1;
    while n <= 8 {
        m[n] = u64::MAX << (64 - 8 * n);
        n += 1;
    }
    m
};

/// A key of up to 8 bytes as a big-endian word, left-aligned and zero-padded (only its first 8 bytes count
/// for a longer one; callers use it for keys of at most 8, and a batch's sort as every key's first order:
/// `a <= b` implies `short_word(a) <= short_word(b)`, so keys whose words differ are ordered by them).
#[inline(always)]
pub(crate) fn short_word(key: &[u8]) -> u64 {
    match key.len() {
        0 => 0,
        n @ 1..8 => be_bytes(key, 0, n) << (64 - 8 * n),
        _ => be_bytes(key, 0, 8),
    }
}

/// The order of two byte strings of at most 8 bytes each, given as left-aligned, zero-padded big-endian words
/// and their lengths: that of the words, then of the lengths. Equal words mean that one string is the other
/// followed by zero bytes, so the shorter is a prefix of the longer and comes first; at the first byte where
/// the words differ, a padding byte (0) is below any byte that differs from it, as a string that ended there is
/// below one that goes on.
#[inline(always)]
fn short_order(a: u64, a_len: usize, b: u64, b_len: usize) -> Ordering {
    a.cmp(&b).then(a_len.cmp(&b_len))
}

/// [`search_slots`]'s second phase: a binary search over slots `lo..hi` (slot `i` is word `sw + i`), where slot
/// `lo` is the first whose head is not below `kh` and ties with it and every slot from `hi` on is above the key,
/// comparing the key bytes after the heads where heads tie (a slot whose head is above `kh` is above the key
/// without reading its entry).
#[allow(clippy::too_many_arguments)]
#[inline]
fn search_ties<S: PageBytes + ?Sized>(
    s: &S,
    sw: usize,
    lo: usize,
    hi: usize,
    heap_lo: usize,
    prefix: usize,
    key: SearchKey<'_>,
    kh: u32,
) -> Option<(Result<usize, usize>, u64)> {
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let w = s.word(sw + mid);
        let ord = match slot_fields(w).2.cmp(&kh) {
            Ordering::Equal => cmp_tie(s, w, heap_lo, prefix, key)?,
            o => o,
        };
        match ord {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Some((Ok(mid), w)),
        }
    }
    Some((Err(lo), 0))
}

fn fence_len(raw: u16) -> usize {
    if raw == INFINITE {
        0
    } else {
        raw as usize
    }
}

fn fence_raw(f: Fence<'_>) -> u16 {
    match f {
        None => INFINITE,
        Some(k) => k.len() as u16,
    }
}

/// The entry `(key, value)` bytes needed in a node of `kind`, slot (and an inner node's child number) included.
pub fn entry_size(kind: u8, key: &[u8], val: &[u8]) -> usize {
    slot_bytes(kind) + ENTRY_OVERHEAD + key.len() + val.len()
}

/// Writes an empty node with the given header into `b` (the whole user region).
pub fn init(b: &mut [u8], kind: u8, level: u8, link: u32, low: Fence<'_>, high: Fence<'_>) {
    b.fill(0);
    b[OFF_KIND] = kind;
    b[OFF_LEVEL] = level;
    wr16(b, OFF_COUNT, 0);
    wr16(b, OFF_HEAP, b.len() as u16);
    wr16(b, OFF_GARBAGE, 0);
    wr32(b, OFF_LINK, link);
    wr16(b, OFF_LOW, fence_raw(low));
    wr16(b, OFF_HIGH, fence_raw(high));
    wr32(b, OFF_MAGIC, NODE_MAGIC);
    wr16(b, OFF_PREFIX, fences_prefix(low, high) as u16);
    let mut at = HDR;
    for f in [low, high].into_iter().flatten() {
        b[at..at + f.len()].copy_from_slice(f);
        at += f.len();
    }
}

/// Marks `b` as a dead page whose free-list link is `next_free`.
pub fn init_dead(b: &mut [u8], next_free: u32) {
    b.fill(0);
    b[OFF_KIND] = KIND_DEAD;
    wr32(b, OFF_LINK, next_free);
    wr32(b, OFF_MAGIC, NODE_MAGIC);
}

/// Inserts `(key, val)` as entry `idx`, compacting if needed. `Ok(false)` if it does not fit (page unchanged).
/// In an inner node `val` is the child number (4 bytes), which also goes into the children array.
pub fn insert_at(b: &mut [u8], idx: usize, key: &[u8], val: &[u8]) -> Result<bool, Malformed> {
    let n = Node::parse(b).ok_or(Malformed)?;
    let (count, slots_at, prefix, unit) = (n.count, n.slots_at, n.prefix, n.slot_bytes);
    let child: Option<[u8; CHILD]> = if n.is_leaf() {
        None
    } else {
        Some(val.try_into().map_err(|_| Malformed)?)
    };
    if idx > count || key.len() >= INFINITE as usize || val.len() >= INFINITE as usize {
        return Err(Malformed);
    }
    let need = unit + ENTRY_OVERHEAD + key.len() + val.len();
    if n.free_bytes() < need {
        return Ok(false);
    }
    if n.heap_lo - (slots_at + count * unit) < need {
        compact(b)?;
    }
    let heap_lo = rd16(b, OFF_HEAP).ok_or(Malformed)? as usize;
    if heap_lo < slots_at + (count + 1) * unit + need - unit {
        // Only reachable when the garbage counter lied: the page is not what this module wrote.
        return Err(Malformed);
    }
    let off = heap_lo - (need - unit);
    wr16(b, off, key.len() as u16);
    wr16(b, off + 2, val.len() as u16);
    b[off + 4..off + 4 + key.len()].copy_from_slice(key);
    b[off + 4 + key.len()..off + 4 + key.len() + val.len()].copy_from_slice(val);
    if let Some(child) = child {
        // The children array moves up by a slot, opening a gap at `idx`: its tail first (it moves furthest), then
        // its head, before the slots grow over where it began.
        let cs = children_at(slots_at, count);
        b.copy_within(cs + idx * CHILD..cs + count * CHILD, cs + SLOT + (idx + 1) * CHILD);
        b.copy_within(cs..cs + idx * CHILD, cs + SLOT);
        let at = cs + SLOT + idx * CHILD;
        b[at..at + CHILD].copy_from_slice(&child);
    }
    let s = slots_at + idx * SLOT;
    b.copy_within(s..slots_at + count * SLOT, s + SLOT);
    wr16(b, s, off as u16);
    wr16(b, s + 2, key.len() as u16);
    b[s + 4..s + 8].copy_from_slice(&head(key, prefix).to_le_bytes());
    wr16(b, OFF_COUNT, (count + 1) as u16);
    wr16(b, OFF_HEAP, off as u16);
    Ok(true)
}

/// Removes entry `idx`.
pub fn remove_at(b: &mut [u8], idx: usize) -> Result<(), Malformed> {
    let n = Node::parse(b).ok_or(Malformed)?;
    let (k, v) = n.entry(idx).ok_or(Malformed)?;
    let size = ENTRY_OVERHEAD + k.len() + v.len();
    let (count, slots_at, inner) = (n.count, n.slots_at, !n.is_leaf());
    let garbage = rd16(b, OFF_GARBAGE).ok_or(Malformed)? as usize + size;
    let s = slots_at + idx * SLOT;
    b.copy_within(s + SLOT..slots_at + count * SLOT, s);
    if inner {
        // The children array follows the slots down by a slot, closing the gap at `idx`.
        let cs = children_at(slots_at, count);
        b.copy_within(cs..cs + idx * CHILD, cs - SLOT);
        b.copy_within(cs + (idx + 1) * CHILD..cs + count * CHILD, cs - SLOT + idx * CHILD);
    }
    wr16(b, OFF_COUNT, (count - 1) as u16);
    wr16(b, OFF_GARBAGE, garbage as u16);
    if count == 1 {
        // Empty: reset the heap so the whole region is contiguous again.
        wr16(b, OFF_HEAP, b.len() as u16);
        wr16(b, OFF_GARBAGE, 0);
    }
    Ok(())
}

/// Rewrites the heap without garbage, keeping entries and their order.
pub fn compact(b: &mut [u8]) -> Result<(), Malformed> {
    let n = Node::parse(b).ok_or(Malformed)?;
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..n.count)
        .map(|i| n.entry(i).map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Option<_>>()
        .ok_or(Malformed)?;
    let (kind, level, link) = (b[OFF_KIND], b[OFF_LEVEL], n.link());
    let low = n.low().map(<[u8]>::to_vec);
    let high = n.high().map(<[u8]>::to_vec);
    rebuild(
        b,
        kind,
        level,
        link,
        low.as_deref(),
        high.as_deref(),
        entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
    )
}

/// Writes a fresh node holding `entries` (in key order) in one pass: each entry goes below the last in the heap,
/// its slot after the last slot; then an inner node's children array, from the entries written. `Err` if they do
/// not fit, or an inner entry's value is not a 4-byte child number (the bytes are then a partial node: callers
/// rebuild into a page they own, or a scratch copy).
pub fn rebuild<'e>(
    b: &mut [u8],
    kind: u8,
    level: u8,
    link: u32,
    low: Fence<'_>,
    high: Fence<'_>,
    entries: impl IntoIterator<Item = (&'e [u8], &'e [u8])>,
) -> Result<(), Malformed> {
    init(b, kind, level, link, low, high);
    let prefix = fences_prefix(low, high);
    let slots_at = fixed_bytes(low.map_or(0, <[u8]>::len), high.map_or(0, <[u8]>::len));
    let (unit, inner) = (slot_bytes(kind), kind == KIND_INNER);
    let (mut heap, mut count) = (b.len(), 0usize);
    for (k, v) in entries {
        if k.len() >= INFINITE as usize || v.len() >= INFINITE as usize || (inner && v.len() != CHILD) {
            return Err(Malformed);
        }
        let size = ENTRY_OVERHEAD + k.len() + v.len();
        let slot = slots_at + count * SLOT;
        // Room for this entry's slot and child number besides those before it.
        if slots_at + (count + 1) * unit + size > heap {
            return Err(Malformed);
        }
        let off = heap - size;
        wr16(b, off, k.len() as u16);
        wr16(b, off + 2, v.len() as u16);
        b[off + ENTRY_OVERHEAD..off + ENTRY_OVERHEAD + k.len()].copy_from_slice(k);
        b[off + ENTRY_OVERHEAD + k.len()..off + size].copy_from_slice(v);
        wr16(b, slot, off as u16);
        wr16(b, slot + 2, k.len() as u16);
        b[slot + 4..slot + SLOT].copy_from_slice(&head(k, prefix).to_le_bytes());
        heap = off;
        count += 1;
    }
    if inner {
        // Each entry's child number, from the entry just written (its value, after its key).
        let cs = children_at(slots_at, count);
        for i in 0..count {
            let s = slots_at + i * SLOT;
            let (off, klen) = (
                rd16(b, s).ok_or(Malformed)? as usize,
                rd16(b, s + 2).ok_or(Malformed)? as usize,
            );
            let v = off + ENTRY_OVERHEAD + klen;
            b.copy_within(v..v + CHILD, cs + i * CHILD);
        }
    }
    wr16(b, OFF_COUNT, count as u16);
    wr16(b, OFF_HEAP, heap as u16);
    Ok(())
}

/// Bytes of a node before its slots (header and fences, padded to the slot alignment) for fences of these
/// lengths: a node holds entries of `S` bytes in all (slots and child numbers included, [`entry_size`]) iff this
/// plus `S` is at most the user region.
pub fn fixed_bytes(low_len: usize, high_len: usize) -> usize {
    slots_start(low_len, high_len)
}

/// True if a node of `kind` with these fences and entries would fit in `user_bytes`.
pub fn fits<'e>(
    user_bytes: usize,
    kind: u8,
    low: Fence<'_>,
    high: Fence<'_>,
    entries: impl IntoIterator<Item = (&'e [u8], &'e [u8])>,
) -> bool {
    let fixed = fixed_bytes(low.map_or(0, <[u8]>::len), high.map_or(0, <[u8]>::len));
    let var: usize = entries.into_iter().map(|(k, v)| entry_size(kind, k, v)).sum();
    fixed + var <= user_bytes
}

/// Leaf: insert or replace `key`. `Ok(false)` if it does not fit (page unchanged).
///
/// The page is borrowed mutably only once the put is known to change it: a page that the put leaves unchanged
/// (it does not fit) is only read, so a clean write guard (`bufpool::BufferPool::write_clean`) stays clean
/// (R46-O40 in RELIABILITY.md). The same holds for [`leaf_upsert_after`] and [`leaf_delete`].
pub fn leaf_upsert<P: DerefMut<Target = [u8]>>(b: &mut P, key: &[u8], val: &[u8]) -> Result<bool, Malformed> {
    leaf_upsert_after(b, key, val, None).map(|put| put.is_some())
}

/// Leaf: [`leaf_upsert`] of a key whose slot is guessed: `after`, the slot the run's previous key went to in
/// this leaf (a run of ascending keys), or the key's own slot or the one before it as a read of the key found
/// them (a hint). If that slot holds `key`, the put goes there (no search); if `key` is above that slot's key,
/// the next slot is compared first (the key itself, or one above it: no search), then only the slots after it
/// are searched, and a key above them all is appended without a search (a run of inserts at a leaf's end); else
/// (no slot, or a key below it: any guess is correct) the whole leaf is searched. The slot `key` went to and
/// whether the put removed bytes from the leaf (it replaced a longer value: [`Node::entry_bytes`] went down),
/// `Ok(None)` if it does not fit (page unchanged).
pub fn leaf_upsert_after<P: DerefMut<Target = [u8]>>(
    b: &mut P,
    key: &[u8],
    val: &[u8],
    after: Option<usize>,
) -> Result<Option<(usize, bool)>, Malformed> {
    match upsert::<false, P>(b, key, val, after) {
        Ok(Upsert::Put { slot, shrank }) => Ok(Some((slot, shrank))),
        Ok(Upsert::Full) => Ok(None),
        // Not asked to check the fences, it never answers `NotCovered`.
        Ok(Upsert::NotCovered) | Err(_) => Err(Malformed),
    }
}

/// What [`leaf_upsert_covering`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Upsert {
    /// The page is not a live leaf covering the key (a dead page, an inner node, a leaf whose fences exclude the
    /// key): nothing changed, the caller finds the leaf that covers it.
    NotCovered,
    /// The pair does not fit the leaf: nothing changed (the caller splits it).
    Full,
    /// Put at `slot`; `shrank` if the leaf's [`Node::entry_bytes`] went down (a longer value replaced).
    Put { slot: usize, shrank: bool },
}

/// Why [`leaf_upsert_covering`] failed (nothing changed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UpsertError {
    /// The page is neither a node nor a dead node page (the check of a latched leaf's header failed).
    NotANode,
    /// A live leaf covering the key, whose slots or entries are malformed ([`leaf_upsert_after`]'s `Malformed`).
    Malformed,
}

/// [`leaf_upsert_after`] into a latched page that should be the live leaf covering `key`, with that check made
/// from the same parse of the header as the put (R48-O32 in BENCHMARKS.md: the tree's check of a latched leaf,
/// then the put, parsed it twice, about 48 instructions each): a dead page, an inner node or a leaf whose fences
/// exclude `key` is [`Upsert::NotCovered`] and left unchanged, a page that is no node at all
/// [`UpsertError::NotANode`]; a covering leaf gets exactly what [`leaf_upsert_after`] does to it, with its
/// errors as [`UpsertError::Malformed`]. The page is borrowed mutably only to change it (see [`leaf_upsert`]).
pub fn leaf_upsert_covering<P: DerefMut<Target = [u8]>>(
    b: &mut P,
    key: &[u8],
    val: &[u8],
    after: Option<usize>,
) -> Result<Upsert, UpsertError> {
    upsert::<true, P>(b, key, val, after)
}

/// [`leaf_upsert_after`] (`COVER` false: a page that is no leaf is malformed) and [`leaf_upsert_covering`]
/// (`COVER` true: the header's parse also decides whether the page is the live leaf covering `key`).
#[inline(always)]
fn upsert<const COVER: bool, P: DerefMut<Target = [u8]>>(
    b: &mut P,
    key: &[u8],
    val: &[u8],
    after: Option<usize>,
) -> Result<Upsert, UpsertError> {
    use UpsertError::Malformed as Bad;
    // The page read once through the guard (each `Deref` of a `WriteGuard` is a call where LLVM does not inline
    // it: R49-O20 in BENCHMARKS.md), and taken mutably once, to change it.
    let page: &[u8] = b;
    let n = match Node::parse(page) {
        Some(n) => n,
        None if COVER && Node::is_dead(page) => return Ok(Upsert::NotCovered),
        None if COVER => return Err(UpsertError::NotANode),
        None => return Err(Bad),
    };
    if COVER && !(n.is_leaf() && n.covers(key)) {
        return Ok(Upsert::NotCovered);
    }
    if !n.is_leaf() {
        return Err(Bad);
    }
    let found = match after.filter(|&s| s < n.count) {
        Some(s) => match n.key(s).ok_or(Bad)?.cmp(key) {
            // The key's own slot, as a read of it found it (a STOCK row a New-Order read and changed).
            Ordering::Equal => Some(Ok(s)),
            // The slot after decides alone if its key is this one or above it: the next order line of a
            // Delivery's run, or a key of the next district after a New-Order's order lines.
            Ordering::Less => match n.key(s + 1) {
                _ if s + 1 == n.count => Some(Err(s + 1)),
                None => None,
                Some(next) => match next.cmp(key) {
                    Ordering::Equal => Some(Ok(s + 1)),
                    Ordering::Greater => Some(Err(s + 1)),
                    Ordering::Less => n.search_from(key, s + 2),
                },
            },
            Ordering::Greater => n.search(key),
        },
        None => n.search(key),
    };
    match found.ok_or(Bad)? {
        Ok(i) => {
            let (_, old) = n.entry(i).ok_or(Bad)?;
            if old.len() == val.len() {
                // Same size: overwrite in place, where `entry` found the old value (`DerefMut` gives `Deref`'s bytes).
                let at = old.as_ptr() as usize - page.as_ptr() as usize;
                b[at..at + val.len()].copy_from_slice(val);
                return Ok(Upsert::Put { slot: i, shrank: false });
            }
            if n.free_bytes() + ENTRY_OVERHEAD + key.len() + old.len() < entry_size(KIND_LEAF, key, val) - SLOT {
                return Ok(Upsert::Full);
            }
            let shrank = val.len() < old.len();
            let page: &mut [u8] = b;
            remove_at(page, i).map_err(|_| Bad)?;
            let ok = insert_at(page, i, key, val).map_err(|_| Bad)?;
            debug_assert!(ok, "space was checked");
            Ok(if ok {
                Upsert::Put { slot: i, shrank }
            } else {
                Upsert::Full
            })
        }
        // `insert_at`'s own room check, made here on the page as read (see `leaf_upsert`).
        Err(_) if n.free_bytes() < entry_size(KIND_LEAF, key, val) => Ok(Upsert::Full),
        Err(i) => Ok(match insert_at(b, i, key, val).map_err(|_| Bad)? {
            true => Upsert::Put { slot: i, shrank: false },
            false => Upsert::Full,
        }),
    }
}

/// Leaf: remove `key`. `Ok(false)` if absent (the page only read: see [`leaf_upsert`]).
pub fn leaf_delete<P: DerefMut<Target = [u8]>>(b: &mut P, key: &[u8]) -> Result<bool, Malformed> {
    let n = Node::parse(b).ok_or(Malformed)?;
    if !n.is_leaf() {
        return Err(Malformed);
    }
    match n.search(key).ok_or(Malformed)? {
        Ok(i) => remove_at(b, i).map(|()| true),
        Err(_) => Ok(false),
    }
}

/// The shortest separator `s` with `left < s <= right`, for `left < right`: a prefix of `right`.
pub fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    right[..separator_len(left, right)].to_vec()
}

/// The length of [`shortest_separator`]`(left, right)`, without building it.
pub fn separator_len(left: &[u8], right: &[u8]) -> usize {
    (common_prefix(left, right) + 1).min(right.len())
}

/// Owned entries of a node.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// All entries of a node, owned.
pub fn entries(n: &Node<'_>) -> Result<Entries, Malformed> {
    (0..n.count())
        .map(|i| n.entry(i).map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Option<_>>()
        .ok_or(Malformed)
}

/// Entries of a node borrowed from its page.
type BorrowedEntries<'a> = Vec<(&'a [u8], &'a [u8])>;

/// All entries of a node, borrowed from its page: one allocation, where [`entries`] makes two an entry.
fn borrowed_entries<'a>(n: &Node<'a>) -> Result<BorrowedEntries<'a>, Malformed> {
    (0..n.count())
        .map(|i| n.entry(i))
        .collect::<Option<_>>()
        .ok_or(Malformed)
}

/// Index at which to split `entries` (of a node of `kind`) so that both halves hold about half the bytes; at least
/// one entry each side.
fn split_point<K: AsRef<[u8]>, V: AsRef<[u8]>>(kind: u8, entries: &[(K, V)]) -> usize {
    let entry_size = |k: &K, v: &V| entry_size(kind, k.as_ref(), v.as_ref());
    let total: usize = entries.iter().map(|(k, v)| entry_size(k, v)).sum();
    let mut acc = 0;
    for (i, (k, v)) in entries.iter().enumerate() {
        acc += entry_size(k, v);
        if acc * 2 >= total {
            return (i + 1).clamp(1, entries.len() - 1);
        }
    }
    entries.len() / 2
}

/// Splits the full leaf `left` after upserting `(key, val)` into it: `left` keeps the lower half, `right` (a fresh
/// page numbered `right_no`) gets the upper half. Returns the separator (the new high fence of `left`, low fence
/// of `right`).
pub fn split_leaf(
    left: &mut [u8],
    right: &mut [u8],
    right_no: u32,
    key: &[u8],
    val: &[u8],
) -> Result<Vec<u8>, Malformed> {
    // The halves are planned, and the right one written, from the leaf's entries borrowed where they lie (no
    // copy of the page). The left half is then the leaf cut in place, or written to a scratch page first if it
    // holds the new pair or a replaced value.
    if let Some(sep) = append_split(left, right, right_no, key, val)? {
        return Ok(sep);
    }
    let (sep, m, rebuilt) = {
        let n = Node::parse(left).ok_or(Malformed)?;
        if !n.is_leaf() {
            return Err(Malformed);
        }
        let mut es = borrowed_entries(&n)?;
        // `changed`: the entry the pair is (inserted or replaced); `at`: the same, if inserted.
        let (changed, at) = match es.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(i) => {
                es[i].1 = val;
                (i, None)
            }
            Err(i) => {
                es.insert(i, (key, val));
                (i, Some(i))
            }
        };
        if es.len() < 2 {
            return Err(Malformed);
        }
        let (low, high, next) = (n.low(), n.high(), n.link());
        // A key past every other in the leaf is most likely the next of an ascending run (sequence numbers,
        // timestamps): keep the old entries together and start the new leaf with the new key, so ascending inserts
        // leave full leaves behind instead of half-full ones (PostgreSQL's rightmost split does the same for the
        // rightmost leaf). So is a key that ends a run followed in the leaf by the head of another, in the upper half
        // of the leaf (one of many runs side by side: TPC-C's order lines grow at the end of each district's key
        // range, in a leaf that also holds the first lines of the next district): "ends a run" when it shares a longer
        // prefix with the entry before it than with the entry after it. Then the new key stays left and the other
        // run's head goes right, so the run's next keys are appended to a leaf of its own from the next split on
        // (halving would carry the head along into every leaf the run fills, about half of it). (The left leaf gets a
        // new high fence, so it may have to give up a few more entries.)
        let run_end = at.and_then(|i| {
            if i + 1 == es.len() {
                return Some(i);
            }
            let (below, above) = (es.get(i.checked_sub(1)?)?.0, es[i + 1].0);
            let tail: usize = es[i + 1..].iter().map(|(k, v)| entry_size(KIND_LEAF, k, v)).sum();
            let total: usize = es.iter().map(|(k, v)| entry_size(KIND_LEAF, k, v)).sum();
            (common_prefix(key, below) > common_prefix(key, above) && tail * 2 <= total).then_some(i + 1)
        });
        let m = if let Some(start) = run_end {
            let mut m = start;
            while m > 1
                && !fits(
                    left.len(),
                    KIND_LEAF,
                    low,
                    Some(&shortest_separator(es[m - 1].0, es[m].0)),
                    es[..m].iter().copied(),
                )
            {
                m -= 1;
            }
            m
        } else {
            split_point(KIND_LEAF, &es)
        };
        let sep = shortest_separator(es[m - 1].0, es[m].0);
        let (lo_es, hi_es) = es.split_at(m);
        rebuild(right, KIND_LEAF, 0, next, Some(&sep), high, hi_es.iter().copied())?;
        let rebuilt = if changed < m {
            let mut page = vec![0u8; left.len()];
            rebuild(
                &mut page,
                KIND_LEAF,
                0,
                right_no,
                low,
                Some(&sep),
                lo_es.iter().copied(),
            )?;
            Some(page)
        } else {
            None
        };
        (sep, m, rebuilt)
    };
    match rebuilt {
        Some(page) => left.copy_from_slice(&page),
        // The left half is the leaf's first `m` entries as they were (the pair went right): an append split, the
        // steady state of an ascending run (the new leaf starts with the new key, above). The leaf is cut in
        // place: its entries stay where they are, and only its fence, link, slots and count change, where a
        // rebuild rewrote every entry (about 9 K instructions of a split's 27 K in TPC-C). If its slots do not fit
        // below the heap with the new fence, `cut_leaf` rebuilds it (the entries below `sep` are its first `m`).
        None => {
            if !cut_in_place(left, m, &sep, right_no)? {
                cut_leaf(left, &sep, right_no)?;
            }
        }
    }
    Ok(sep)
}

/// [`split_leaf`] of a leaf by a key past all of its keys, if every old entry fits with the new high fence: what
/// the general plan would do (the old entries stay, the new pair starts the right leaf), without collecting the
/// entries to plan it. `Ok(None)`, with both pages unchanged, for any other split.
fn append_split(
    left: &mut [u8],
    right: &mut [u8],
    right_no: u32,
    key: &[u8],
    val: &[u8],
) -> Result<Option<Vec<u8>>, Malformed> {
    let n = Node::parse(left).ok_or(Malformed)?;
    let count = n.count();
    if !n.is_leaf() || count == 0 {
        return Ok(None);
    }
    let last = n.key(count - 1).ok_or(Malformed)?;
    if last >= key {
        return Ok(None);
    }
    let sep = shortest_separator(last, key);
    let low_len = n.low().map_or(0, <[u8]>::len);
    if fixed_bytes(low_len, sep.len()) + n.entry_bytes() > left.len() {
        return Ok(None);
    }
    let (high, next) = (n.high(), n.link());
    rebuild(right, KIND_LEAF, 0, next, Some(&sep), high, [(key, val)])?;
    if !cut_in_place(left, count, &sep, right_no)? {
        cut_leaf(left, &sep, right_no)?;
    }
    Ok(Some(sep))
}

/// Leaf `b` cut in place to its first `keep` entries, under the new high fence `sep` and link `right` (the left
/// half of a split whose other entries went right): the kept entries stay where they are in the heap and the
/// others' bytes become garbage; the slot array moves by the fences' change in length, and if the fences' common
/// prefix changed, each kept slot's head is computed again. The same node, entry for entry, as a [`rebuild`] of
/// those entries under those fences. `Ok(false)`, with `b` unchanged, if the moved slots would not fit below the
/// heap; `Err` if `b` is not a leaf, `keep` is more than its entries, or `sep` is not above its low fence.
fn cut_in_place(b: &mut [u8], keep: usize, sep: &[u8], right: u32) -> Result<bool, Malformed> {
    let n = Node::parse(b).ok_or(Malformed)?;
    let (count, slots_at, heap_lo, prefix) = (n.count, n.slots_at, n.heap_lo, n.prefix);
    let low_len = n.low().map_or(0, <[u8]>::len);
    if !n.is_leaf() || keep > count || sep.len() >= INFINITE as usize || n.low().is_some_and(|low| low >= sep) {
        return Err(Malformed);
    }
    let new_prefix = fences_prefix(n.low(), Some(sep));
    let new_slots_at = slots_start(low_len, sep.len());
    if new_slots_at + keep * SLOT > heap_lo {
        return Ok(false);
    }
    // The bytes of the entries cut off, read before anything moves.
    let mut cut = 0;
    for i in keep..count {
        let (k, v) = n.entry(i).ok_or(Malformed)?;
        cut += ENTRY_OVERHEAD + k.len() + v.len();
    }
    let garbage = rd16(b, OFF_GARBAGE).ok_or(Malformed)? as usize + cut;
    // If the prefix changes, every kept slot's head is computed again from its key, after the move: each key is
    // checked to lie in the heap first (like everything that can fail, before the first write: `b` stays as it
    // was on `Err`).
    let len = b.len();
    let reheads = new_prefix != prefix;
    if reheads {
        for i in 0..keep {
            let (off, klen, _) = slot_fields(rd64(b, slots_at + i * SLOT).ok_or(Malformed)?);
            if off < heap_lo || off + ENTRY_OVERHEAD + klen > len {
                return Err(Malformed);
            }
        }
    }
    // Slots first (they lie after the fences, and the new fence is written over where they began), then the
    // fence and the zero padding up to the slots, as `init` leaves it.
    b.copy_within(slots_at..slots_at + keep * SLOT, new_slots_at);
    let fence_at = HDR + low_len;
    b[fence_at..fence_at + sep.len()].copy_from_slice(sep);
    b[fence_at + sep.len()..new_slots_at].fill(0);
    if reheads {
        for s in (new_slots_at..new_slots_at + keep * SLOT).step_by(SLOT) {
            let (off, klen, _) = slot_fields(rd64(b, s).unwrap_or(0));
            let h = head(&b[off + ENTRY_OVERHEAD..off + ENTRY_OVERHEAD + klen], new_prefix);
            b[s + HEAD..s + SLOT].copy_from_slice(&h.to_le_bytes());
        }
    }
    wr16(b, OFF_COUNT, keep as u16);
    wr16(b, OFF_HIGH, sep.len() as u16);
    wr16(b, OFF_PREFIX, new_prefix as u16);
    wr32(b, OFF_LINK, right);
    if keep == 0 {
        // Empty: the whole region contiguous again, as `remove_at` leaves it.
        wr16(b, OFF_HEAP, b.len() as u16);
        wr16(b, OFF_GARBAGE, 0);
    } else {
        wr16(b, OFF_GARBAGE, garbage as u16);
    }
    Ok(true)
}

/// Leaf `b` as the left half of a split at `sep` (the redo of a `CUT` op, `wal.rs`): keeps its entries below
/// `sep`, takes `sep` as its high fence and `right` as its link. `Err` (with `b` unchanged) if `b` is not a leaf,
/// `sep` is not above its low fence, or the entries kept do not fit with the new fence.
pub fn cut_leaf(b: &mut [u8], sep: &[u8], right: u32) -> Result<(), Malformed> {
    let copy = b.to_vec();
    let n = Node::parse(&copy).ok_or(Malformed)?;
    if !n.is_leaf() || n.low().is_some_and(|low| low >= sep) {
        return Err(Malformed);
    }
    let es: Vec<(&[u8], &[u8])> = (0..n.count())
        .map(|i| n.entry(i))
        .collect::<Option<_>>()
        .ok_or(Malformed)?;
    let keep = &es[..es.partition_point(|(k, _)| *k < sep)];
    if !fits(b.len(), KIND_LEAF, n.low(), Some(sep), keep.iter().copied()) {
        return Err(Malformed);
    }
    rebuild(b, KIND_LEAF, 0, right, n.low(), Some(sep), keep.iter().copied())
}

/// Inner node: inserts separator `sep` with child `child` (the child right of `sep`). `Ok(false)` if no room.
pub fn inner_insert(b: &mut [u8], sep: &[u8], child: u32) -> Result<bool, Malformed> {
    let n = Node::parse(b).ok_or(Malformed)?;
    if n.is_leaf() {
        return Err(Malformed);
    }
    match n.search(sep).ok_or(Malformed)? {
        Ok(_) => Err(Malformed),
        Err(i) => insert_at(b, i, sep, &child.to_le_bytes()),
    }
}

/// Splits the full inner node `left` after inserting `(sep, child)`; `right` is a fresh page. Returns the
/// separator promoted to the parent (it moves up: it is in neither half).
pub fn split_inner(left: &mut [u8], right: &mut [u8], sep: &[u8], child: u32) -> Result<Vec<u8>, Malformed> {
    let n = Node::parse(left).ok_or(Malformed)?;
    if n.is_leaf() {
        return Err(Malformed);
    }
    let mut es = entries(&n)?;
    let at = match es.binary_search_by(|(k, _)| k.as_slice().cmp(sep)) {
        Ok(_) => return Err(Malformed),
        Err(i) => {
            es.insert(i, (sep.to_vec(), child.to_le_bytes().to_vec()));
            i
        }
    };
    if es.len() < 3 {
        return Err(Malformed);
    }
    let low = n.low().map(<[u8]>::to_vec);
    let high = n.high().map(<[u8]>::to_vec);
    let (level, child0) = (n.level(), n.link());
    // A separator past every other one comes from the rightmost child's split: an ascending run (a table loaded
    // in key order) splits its last leaf again and again. As `split_leaf` keeps the old entries of such a leaf
    // together, the old separators stay left (but for the one promoted) and the new one starts the right node,
    // so ascending inserts leave full inner nodes behind instead of half-full ones. (Halved, TPC-C's STOCK,
    // CUSTOMER and ORDER-LINE at 4 warehouses were one level deeper, under a root of 2 or 3 children: a node
    // more for every descent.) The left node's new high fence (the promoted separator) may be longer than its
    // old one: it gives up entries until it fits.
    let m = if at + 1 == es.len() {
        let mut m = es.len() - 2;
        let pairs = |m: usize| es[..m].iter().map(|(k, v)| (k.as_slice(), v.as_slice()));
        while m > 1 && !fits(left.len(), KIND_INNER, low.as_deref(), Some(&es[m].0), pairs(m)) {
            m -= 1;
        }
        m
    } else {
        split_point(KIND_INNER, &es).clamp(1, es.len() - 2)
    };
    let (up, right_child0) = es[m].clone();
    let right_child0 = u32::from_le_bytes(right_child0.as_slice().try_into().map_err(|_| Malformed)?);
    let hi_es = es[m + 1..].to_vec();
    let lo_es = es[..m].to_vec();
    rebuild(
        right,
        KIND_INNER,
        level,
        right_child0,
        Some(&up),
        high.as_deref(),
        hi_es.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
    )?;
    rebuild(
        left,
        KIND_INNER,
        level,
        child0,
        low.as_deref(),
        Some(&up),
        lo_es.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
    )?;
    Ok(up)
}

/// Merges the right sibling `right` into `left` (same kind and level, adjacent, `sep` the parent's separator
/// between them). `Ok(false)` if the result would not fit (both unchanged).
pub fn merge(left: &mut [u8], right: &[u8], sep: &[u8]) -> Result<bool, Malformed> {
    // The merged node is written over `left` from the entries as they were: borrowed from a copy of `left` and
    // from `right` (until session 33 an owned key and value each, two allocations an entry: about 140 K
    // instructions a merge of TPC-C's NEW-ORDER leaves, after Delivery's deletes).
    let old = left.to_vec();
    let l = Node::parse(&old).ok_or(Malformed)?;
    let r = Node::parse(right).ok_or(Malformed)?;
    if l.is_leaf() != r.is_leaf() || l.level() != r.level() {
        return Err(Malformed);
    }
    let child = r.link().to_le_bytes();
    let mut es = borrowed_entries(&l)?;
    if !l.is_leaf() {
        es.push((sep, &child));
    }
    es.extend(borrowed_entries(&r)?);
    let (low, high) = (l.low(), r.high());
    let (kind, level) = (old[OFF_KIND], old[OFF_LEVEL]);
    if !fits(left.len(), kind, low, high, es.iter().copied()) {
        return Ok(false);
    }
    let link = if l.is_leaf() { r.link() } else { l.link() };
    rebuild(left, kind, level, link, low, high, es)?;
    Ok(true)
}

/// Leaves `left` and `right` (adjacent, `right` numbered `right_no`) whose merge did not fit: moves entries so both
/// hold about half the bytes. `parent_accepts(sep)` says whether the parent can take the new separator in place of
/// the old; if not (or if nothing would move), both pages stay unchanged and `Ok(None)` is returned.
pub fn redistribute_leaves(
    left: &mut [u8],
    right: &mut [u8],
    right_no: u32,
    parent_accepts: impl FnOnce(&[u8]) -> bool,
) -> Result<Option<Vec<u8>>, Malformed> {
    // Both pages are rewritten from the entries as they were, borrowed from copies of the two (see `merge`).
    let (old_l, old_r) = (left.to_vec(), right.to_vec());
    let l = Node::parse(&old_l).ok_or(Malformed)?;
    let r = Node::parse(&old_r).ok_or(Malformed)?;
    if !l.is_leaf() || !r.is_leaf() || l.link() != right_no {
        return Err(Malformed);
    }
    let (l_count, mut es) = (l.count(), borrowed_entries(&l)?);
    es.extend(borrowed_entries(&r)?);
    if es.len() < 2 {
        return Ok(None);
    }
    let m = split_point(KIND_LEAF, &es);
    if m == l_count {
        return Ok(None);
    }
    let sep = shortest_separator(es[m - 1].0, es[m].0);
    let (low, high, next) = (l.low(), r.high(), r.link());
    let (lo_es, hi_es) = es.split_at(m);
    if !fits(left.len(), KIND_LEAF, low, Some(&sep), lo_es.iter().copied())
        || !fits(right.len(), KIND_LEAF, Some(&sep), high, hi_es.iter().copied())
        || !parent_accepts(&sep)
    {
        return Ok(None);
    }
    rebuild(right, KIND_LEAF, 0, next, Some(&sep), high, hi_es.iter().copied())?;
    rebuild(left, KIND_LEAF, 0, right_no, low, Some(&sep), lo_es.iter().copied())?;
    Ok(Some(sep))
}

/// Bytes a node can be read from without a full copy: a plain slice, or the pool's optimistic page view.
/// `read` fills `dst` from `off` and returns false (touching nothing it should not) if that is out of range.
///
/// `word` has no failure case: an index past the end reads the last word. The probe bounds the offsets it takes
/// from a page that may be torn by clamping them (inside `word`, a compare and a conditional move) instead of
/// testing each: a torn page then gives a wrong answer, which the optimistic reader discards when the version does
/// not validate, never an access outside the region. It still tests what decides its answer on a consistent page
/// (the header, the fences, an entry's lengths), so a page this module did not write reads as malformed.
pub trait PageBytes {
    /// Length of the user region.
    fn len(&self) -> usize;
    /// Copies `dst.len()` bytes at `off` into `dst`; false if out of range.
    fn read(&self, off: usize, dst: &mut [u8]) -> bool;
    /// The little-endian aligned word `i` (bytes `8 * i..8 * i + 8`), one load in the pool's view. An `i` past the
    /// last word reads the last word; a region whose length is not a multiple of 8 reads its last, partial word
    /// zero-padded (one shorter than 8 bytes reads 0).
    fn word(&self, i: usize) -> u64;
    /// A hint that bytes `off..off + len` are about to be read (the pool's view prefetches their cache lines).
    fn prefetch(&self, _off: usize, _len: usize) {}
}

impl PageBytes for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&self, off: usize, dst: &mut [u8]) -> bool {
        match off.checked_add(dst.len()).and_then(|end| self.get(off..end)) {
            Some(src) => {
                dst.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
    fn word(&self, i: usize) -> u64 {
        let at = SLOT * i.min(self.len().div_ceil(SLOT).saturating_sub(1));
        match rd64(self, at) {
            Some(w) => w,
            None => {
                let mut b = [0u8; 8];
                let tail = self.get(at..).unwrap_or(&[]);
                b[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(b)
            }
        }
    }
}

/// The 8 bytes at any offset `off`, little-endian, from the one or two aligned words that hold them: two loads, a
/// shift and an or, no branch. Bytes past the region's end are whatever the clamped word holds ([`PageBytes::word`]):
/// callers use only bytes they have bounded.
#[inline(always)]
fn load_at<S: PageBytes + ?Sized>(s: &S, off: usize) -> u64 {
    let (i, r) = (off / 8, (off % 8) as u32 * 8);
    let (lo, hi) = (s.word(i), s.word(i + 1));
    // `hi << (64 - r)` as two shifts, so that r = 0 shifts every bit of `hi` out instead of overflowing.
    (lo >> r) | ((hi << 1) << (63 - r))
}

/// Compares the `len` bytes at `off` with `key`, then the lengths (no buffer, no allocation): `len` page bytes
/// ordered against `key` as byte slices are.
///
/// Reads up to 8 bytes a step with [`load_at`] and compares them as big-endian integers, inlined into the search:
/// fences and key tails are a few bytes, where a copy through [`PageBytes::read`] cost about 75 instructions a
/// call and `memcmp` a call of its own. Callers bound `off + len` by the region (a torn page's lengths may not
/// be, and then read some bytes of the page: a wrong answer the version check discards); the loop runs at most
/// `len.min(key.len()) / 8 + 1` times.
#[inline(always)]
fn cmp_at<S: PageBytes + ?Sized>(s: &S, off: usize, len: usize, key: &[u8], from: usize) -> Ordering {
    debug_assert!(from <= key.len());
    let key_len = key.len() - from;
    let common = len.min(key_len);
    let mut i = 0;
    while i < common {
        let n = (common - i).min(8);
        // The n page bytes and the n key bytes as big-endian integers: compared as numbers, ordered as bytes.
        let page = load_at(s, off + i).swap_bytes() >> (64 - 8 * n);
        let k = be_bytes(key, from + i, n);
        if page != k {
            return page.cmp(&k);
        }
        i += n;
    }
    len.cmp(&key_len)
}

/// Bytes `at..at + n` of `b` (`n` 1 to 8, inside `b`) as a big-endian integer: one load when `b` has 8 bytes
/// from `at`, or 8 bytes at all (the tail of an 8-byte key after its head is its last 8 bytes, shifted).
#[inline(always)]
fn be_bytes(b: &[u8], at: usize, n: usize) -> u64 {
    debug_assert!((1..=8).contains(&n) && at + n <= b.len());
    if let Some(w) = b.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        return u64::from_be_bytes(*w) >> (64 - 8 * n);
    }
    if let Some(w) = b.last_chunk::<8>() {
        // `at + 8 > b.len() >= 8`: the bytes start `skip` (1 to 7) bytes into the last eight.
        let skip = at + 8 - b.len();
        return (u64::from_be_bytes(*w) << (8 * skip)) >> (64 - 8 * n);
    }
    // A key shorter than 8 bytes (TPC-C's are 2 to 7 bytes; a loop over the bytes cost about 20 instructions a
    // call): two loads of 4 (or 2) bytes from the two ends, which overlap for fewer than 8 (or 4) bytes. An
    // overlapping byte lands on the same bits in both, so or-ing them is exact.
    let s = &b[at..at + n];
    if let (Some(h), Some(t)) = (s.first_chunk::<4>(), s.last_chunk::<4>()) {
        return (u64::from(u32::from_be_bytes(*h)) << (8 * (n - 4))) | u64::from(u32::from_be_bytes(*t));
    }
    if let (Some(h), Some(t)) = (s.first_chunk::<2>(), s.last_chunk::<2>()) {
        return (u64::from(u16::from_be_bytes(*h)) << (8 * (n - 2))) | u64::from(u16::from_be_bytes(*t));
    }
    s.first().map_or(0, |&x| u64::from(x))
}

/// What one look at a node for a search key found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Probe {
    /// Not a live node of the expected level covering the key (freed, split away, replaced): start again.
    Restart,
    /// The bytes are not a well-formed node.
    Malformed,
    /// An inner node: descend to this child, which must have `level`.
    Child {
        /// Child page number.
        page: u32,
        /// The child's level.
        level: u8,
    },
    /// The covering leaf: whether the key is present (its value was copied out if asked).
    Leaf {
        /// The key is in the leaf.
        found: bool,
    },
}

/// Looks at a node for `key` reading only what a search needs (header, fences, the probed slots and keys), from
/// bytes that may be torn: every offset and length is bounds-checked, so garbage gives `Malformed` or a wrong
/// answer (which the optimistic reader discards), never a panic or an endless loop. For a leaf that holds the key
/// and a `value` buffer, copies the value into it. (The tree calls [`probe_at`], which also says where a leaf's
/// search ended.)
#[cfg(test)]
pub fn probe<S: PageBytes + ?Sized>(s: &S, key: &[u8], expect_level: Option<u8>, value: Option<&mut Vec<u8>>) -> Probe {
    probe_at(s, key, expect_level, value, ALL).0
}

/// Which bytes of a found value a probe copies out: `value[from..to]`, with `to` then `from` clamped to the
/// value's length (a part past a shorter value's end is empty, never an error).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Part {
    /// First byte.
    pub from: usize,
    /// One past the last byte.
    pub to: usize,
}

/// The whole value.
pub const ALL: Part = Part {
    from: 0,
    to: usize::MAX,
};

impl Part {
    /// The part as a range of a value of `len` bytes: `from..to` clamped into `0..len` (`from` no later than `to`).
    #[inline(always)]
    pub fn within(self, len: usize) -> std::ops::Range<usize> {
        let to = self.to.min(len);
        self.from.min(to)..to
    }
}

/// [`probe`] copying only `part` of a found value (a field of a row, without the rest of it; [`ALL`] for the
/// whole value), with the slot a leaf's search ended at: the key's own slot if the leaf holds it, else the
/// insertion point (0 for an answer that is not a leaf's). A write of the key can start its search of the leaf
/// there ([`leaf_upsert_after`]): a guess, which the write checks against the key.
pub fn probe_at<S: PageBytes + ?Sized>(
    s: &S,
    key: &[u8],
    expect_level: Option<u8>,
    value: Option<&mut Vec<u8>>,
    part: Part,
) -> (Probe, usize) {
    probe_inner(s, key, expect_level, value, part).unwrap_or((Probe::Malformed, 0))
}

/// The link of a live leaf that lies wholly below `key` (its low fence at or below the key, its high fence too):
/// the next leaf as this one names it, where the key may be. `None` for anything else: a leaf that covers the key
/// or lies above it, the last leaf (no high fence, or no link), a dead node, an inner node, malformed bytes. A
/// point read at a hinted leaf that [`probe_at`] did not answer (a leaf split since its hint was noted, or the
/// hint of a neighbourhood of keys that straddles two leaves) tries that leaf next, as `Tree::scan_from` does with
/// [`LeafScan::Beyond`], instead of descending from the root.
///
/// From bytes that may be torn, as [`probe`]: the header is checked as a probe checks it, so the fences lie in
/// the region; a torn page's answer is discarded by the optimistic reader, and the page a consistent one names is
/// checked by its own probe (a live leaf covering the key) as a stale child pointer is. Separate from
/// [`probe_at`] so that a hit's probe pays nothing for it: the caller asks only after a probe's
/// [`Probe::Restart`], in the same optimistic read.
pub fn right_link<S: PageBytes + ?Sized>(s: &S, key: &[u8]) -> Option<u32> {
    let len = s.len();
    if !(HDR..=USER_BYTES_MAX).contains(&len) {
        return None;
    }
    let hd = ProbedHeader::read(s, len, Some(0))?.ok()?;
    if hd.high_raw == INFINITE || hd.link == NO_PAGE {
        return None;
    }
    let low_ok = hd.low_raw == INFINITE || cmp_at(s, HDR, hd.low_len, key, 0) != Ordering::Greater;
    let below = cmp_at(s, HDR + hd.low_len, hd.high_len, key, 0) != Ordering::Greater;
    (low_ok && below).then_some(hd.link)
}

/// Bytes per entry in front of the heap for a node of `kind`: its slot, and an inner node's child number.
#[inline(always)]
pub fn slot_bytes(kind: u8) -> usize {
    SLOT + CHILD * usize::from(kind == KIND_INNER)
}

/// Where an inner node's children array starts: right after its `count` slots (module docs, "Child numbers").
#[inline(always)]
fn children_at(slots_at: usize, count: usize) -> usize {
    slots_at + count * SLOT
}

/// A node header as `probe` reads it: every field checked against the page, so later offsets stay in bounds.
struct ProbedHeader {
    kind: u8,
    level: u8,
    count: usize,
    heap_lo: usize,
    link: u32,
    low_raw: u16,
    high_raw: u16,
    /// The fences' lengths ([`fence_len`] of the raw ones: 0 for an infinite fence), made once by the header check.
    low_len: usize,
    high_len: usize,
    prefix: usize,
    slots_at: usize,
}

impl ProbedHeader {
    /// Reads and checks the header of a node of `len` bytes (`HDR..=USER_BYTES_MAX`); `Err` is the answer when
    /// the header alone decides it (a dead node, or not the level expected: restart), `None` a malformed one.
    ///
    /// The header is three words. What is checked, so that every later offset is bounded on a consistent page:
    /// the magic; kind and level (a live node of the level the parent promised: one compare of their two bytes in
    /// the usual case); `slots_at + count * slot_bytes(kind) <= heap_lo <= len`, so the fences, slots and an inner
    /// node's children lie in the region; the prefix no longer than the fences allow.
    #[inline(always)]
    fn read<S: PageBytes + ?Sized>(s: &S, len: usize, expect_level: Option<u8>) -> Option<Result<Self, Probe>> {
        const { assert!(OFF_COUNT == 2 && OFF_HEAP == 4 && OFF_LINK == 8 && OFF_LOW == 12 && OFF_HIGH == 14) };
        const { assert!(OFF_MAGIC == 16 && OFF_PREFIX == 20 && HDR == 24) };
        let (w0, w1, w2) = (s.word(0), s.word(1), s.word(2));
        if w2 as u32 != NODE_MAGIC {
            return None;
        }
        let (kind, level) = (w0 as u8, (w0 >> 8) as u8);
        let promised = expect_level.map(|l| u16::from_le_bytes([if l == 0 { KIND_LEAF } else { KIND_INNER }, l]));
        if promised != Some(w0 as u16) {
            if let Some(answer) = Self::unpromised(kind, level, expect_level)? {
                return Some(Err(answer));
            }
        }
        let (count, heap_lo) = ((w0 >> 16) as u16 as usize, (w0 >> 32) as u16 as usize);
        let (low_raw, high_raw) = ((w1 >> 32) as u16, (w1 >> 48) as u16);
        let prefix = (w2 >> 32) as u16 as usize;
        let (low_len, high_len) = (fence_len(low_raw), fence_len(high_raw));
        let slots_at = slots_start(low_len, high_len);
        // The prefix bound is `max_prefix`: an infinite fence has length 0 here. One branch for the three tests.
        let front = slots_at + count * slot_bytes(kind);
        if (front > heap_lo) | (heap_lo > len) | (prefix > low_len.min(high_len)) {
            return None;
        }
        Some(Ok(ProbedHeader {
            kind,
            level,
            count,
            heap_lo,
            link: w1 as u32,
            low_raw,
            high_raw,
            low_len,
            high_len,
            prefix,
            slots_at,
        }))
    }

    /// A node whose kind and level are not the ones the parent promised (or the root, for which nothing was):
    /// `Some(Some(Restart))` for a dead node or a live one of another level, `Some(None)` for a live node when no
    /// level was expected, `None` for a kind and level no node has.
    fn unpromised(kind: u8, level: u8, expect_level: Option<u8>) -> Option<Option<Probe>> {
        match kind {
            KIND_DEAD => return Some(Some(Probe::Restart)),
            KIND_LEAF if level == 0 => {}
            KIND_INNER if level > 0 => {}
            _ => return None,
        }
        Some(expect_level.is_some_and(|l| l != level).then_some(Probe::Restart))
    }

    /// Whether the node's fences cover `key` (false: the node moved on, restart). The header check bounded the
    /// fences by the region.
    ///
    /// A key of 8 bytes or more against a fence of 1 to 8 bytes is one integer compare: the fence's bytes against
    /// as many leading bytes of the key, big-endian. Equal leading bytes make the fence a prefix of the key, so at
    /// or below it: inside the low fence, outside the high one. A shorter key against a fence of up to 8 bytes is
    /// one too, of the two as padded words and then their lengths ([`short_order`]). Either way the key's side is
    /// its word ([`SearchKey`]: a key of 8 bytes or more has its first 8 there).
    #[inline(always)]
    fn covers<S: PageBytes + ?Sized>(&self, s: &S, key: SearchKey<'_>) -> bool {
        let (low_len, high_len) = (self.low_len, self.high_len);
        let short = |fence_len: usize| (1..=8).contains(&fence_len);
        let (kw, klen) = (key.word, key.bytes.len());
        // A key of up to 8 bytes against a fence of up to 8: one load of the fence, compared as `short_order` does.
        let (short_key, long_key) = (klen <= 8, klen >= 8);
        let fence = |at: usize, len: usize| load_at(s, at).swap_bytes() & left_mask(len);
        // The low fence starts where the header ends, on a word: its first 8 bytes are that word, one load where
        // `load_at` makes two (`load_at(s, HDR)` is that word whatever the bytes).
        let low_word = || s.word(HDR / SLOT).swap_bytes();
        let low_ok = self.low_raw == INFINITE
            || match () {
                _ if long_key && short(low_len) => {
                    let shift = 64 - 8 * low_len;
                    kw >> shift >= low_word() >> shift
                }
                _ if short_key && low_len <= 8 => {
                    short_order(kw, klen, low_word() & left_mask(low_len), low_len) != Ordering::Less
                }
                _ => cmp_at(s, HDR, low_len, key.bytes, 0) != Ordering::Greater,
            };
        let high_ok = self.high_raw == INFINITE
            || match () {
                _ if long_key && short(high_len) => {
                    let shift = 64 - 8 * high_len;
                    kw >> shift < load_at(s, HDR + low_len).swap_bytes() >> shift
                }
                _ if short_key && high_len <= 8 => {
                    short_order(kw, klen, fence(HDR + low_len, high_len), high_len) == Ordering::Less
                }
                _ => cmp_at(s, HDR + low_len, high_len, key.bytes, 0) == Ordering::Greater,
            };
        low_ok && high_ok
    }

    /// The entry of slot word `w`: (start of its value, value length), checked against the page (in the heap, the
    /// entry's own key length the slot's, the value inside the region).
    #[inline(always)]
    fn value_of<S: PageBytes + ?Sized>(&self, s: &S, w: u64) -> Option<(usize, usize)> {
        let (off, klen, _) = slot_fields(w);
        // The entry's two lengths; an offset from a torn page reads some bytes of the page (see `load_at`).
        let eh = load_at(s, off);
        let (entry_klen, vlen) = (eh as u16 as usize, (eh >> 16) as u16 as usize);
        let v0 = off + ENTRY_OVERHEAD + klen;
        (off >= self.heap_lo && entry_klen == klen && v0 + vlen <= s.len()).then_some((v0, vlen))
    }

    /// The end of the slots, and of an inner node's children array after them: what a search may read.
    #[inline(always)]
    fn front(&self) -> usize {
        self.slots_at + self.count * slot_bytes(self.kind)
    }

    /// Inner node: child `p` (`p` from 1 to `count`) from the children array, which the header check bounded by
    /// `heap_lo`. The array starts 8-aligned, so the number is half of one word.
    #[inline(always)]
    fn child_at<S: PageBytes + ?Sized>(&self, s: &S, p: usize) -> u32 {
        let at = children_at(self.slots_at, self.count) + (p - 1) * CHILD;
        (s.word(at / 8) >> (8 * (at % 8))) as u32
    }
}

fn probe_inner<S: PageBytes + ?Sized>(
    s: &S,
    key: &[u8],
    expect_level: Option<u8>,
    value: Option<&mut Vec<u8>>,
    part: Part,
) -> Option<(Probe, usize)> {
    let len = s.len();
    if !(HDR..=USER_BYTES_MAX).contains(&len) {
        return None;
    }
    // The header, the fences and the start of the slot array (all of a leaf's, for short keys) are read next:
    // start their lines together rather than learning from the header where the slots are first.
    s.prefetch(0, PROBE_PREFETCH);
    let hd = match ProbedHeader::read(s, len, expect_level)? {
        Ok(hd) => hd,
        Err(answer) => return Some((answer, 0)),
    };
    let slots_end = hd.front();
    // The rest of the slot array, read a word at a time by the binary search, and an inner node's children array:
    // start all their lines now, so their misses overlap instead of following one another.
    if slots_end > PROBE_PREFETCH {
        s.prefetch(PROBE_PREFETCH, slots_end - PROBE_PREFETCH);
    }
    // The fences must cover the key; then the key carries the fences' common prefix, as every entry does.
    let key = SearchKey::new(key);
    if !hd.covers(s, key) {
        return Some((Probe::Restart, 0));
    }
    hd.search_after(s, key, value, part, SearchFrom::START)
}

impl ProbedHeader {
    /// The answer for `key`, which the fences cover: the child to descend to, or whether a leaf holds the key
    /// (with `part` of its value copied into `value` if given), and the slot the search ended at (the next key's
    /// `from.slot` in a run). `None` if what the search read is malformed. The key must be above every key of the
    /// slots before `from.slot` ([`search_slots`]; [`SearchFrom::START`] for a whole search).
    #[inline(always)]
    fn search_after<S: PageBytes + ?Sized>(
        &self,
        s: &S,
        key: SearchKey<'_>,
        value: Option<&mut Vec<u8>>,
        part: Part,
        from: SearchFrom,
    ) -> Option<(Probe, usize)> {
        let (pos, w) = search_slots(s, self.slots_at, self.count, self.heap_lo, self.prefix, key, from)?;
        let at = pos.unwrap_or_else(|i| i);
        if self.kind == KIND_LEAF {
            let found = pos.is_ok();
            if let (true, Some(out)) = (found, value) {
                let (v0, vlen) = self.value_of(s, w)?;
                let part = part.within(vlen);
                // The batch's buffer already has the length when the rows before had it (a batch of one table's
                // rows): no call to resize it (about 30 instructions a key, session 33). A longer buffer (the row
                // before was longer: STOCK's and CUSTOMER's rows differ in length) is cut inline, no call either:
                // `resize` was called for about half of a batch's keys (session 48).
                if out.len() > part.len() {
                    out.truncate(part.len());
                } else if out.len() < part.len() {
                    out.resize(part.len(), 0);
                }
                if !s.read(v0 + part.start, out) {
                    return None;
                }
            }
            return Some((Probe::Leaf { found }, at));
        }
        // Inner: the child right of the last separator <= key (`link` if there is none), from the children array:
        // no entry is read.
        let child = match pos {
            Ok(i) => self.child_at(s, i + 1),
            Err(0) => self.link,
            Err(i) => self.child_at(s, i),
        };
        Some((
            Probe::Child {
                page: child,
                level: self.level - 1,
            },
            at,
        ))
    }
}

/// [`probe`] (no value asked for) for each of `n` keys in ascending order, `key(0) <= key(1) <= ..`, at one node:
/// the keys of a batch that share a node. Pushes `n` answers onto `out`, answer `i` the one `probe(s, key(i),
/// expect_level, None)` gives on a consistent page. The header is read and checked once, and the fences are tested
/// against the first and the last key only (on a consistent page those two bound the others); if either is not
/// covered (the node split or merged since its parent was read), every key is tested on its own. Each key's slot
/// search starts at the slot the previous covered key's ended at (`search_slots`'s `from`), galloping while the
/// keys left are dense in the slots left.
///
/// On a torn page every read stays in the page, as in [`probe`], and the answers are garbage the optimistic reader
/// discards. Keys out of order give wrong answers on a consistent page too, never an unsafe one: a key sent to a
/// child that does not cover it restarts there, at the child's own fence test.
pub fn probe_run<'k, S: PageBytes + ?Sized>(
    s: &S,
    n: usize,
    key: impl Fn(usize) -> &'k [u8],
    expect_level: Option<u8>,
    out: &mut Vec<Probe>,
) {
    debug_assert!((1..n).all(|i| key(i - 1) <= key(i)));
    let len = s.len();
    if !(HDR..=USER_BYTES_MAX).contains(&len) {
        out.extend(std::iter::repeat_n(Probe::Malformed, n));
        return;
    }
    s.prefetch(0, PROBE_PREFETCH);
    let hd = match ProbedHeader::read(s, len, expect_level) {
        Some(Ok(hd)) => hd,
        Some(Err(answer)) => return out.extend(std::iter::repeat_n(answer, n)),
        None => return out.extend(std::iter::repeat_n(Probe::Malformed, n)),
    };
    let slots_end = hd.front();
    if slots_end > PROBE_PREFETCH {
        s.prefetch(PROBE_PREFETCH, slots_end - PROBE_PREFETCH);
    }
    let bounded = n > 0 && hd.covers(s, SearchKey::new(key(0))) && hd.covers(s, SearchKey::new(key(n - 1)));
    // Each key's search starts at the slot the previous covered key's ended at: on a consistent page every slot
    // before it holds a key below that key, so below this one (the keys ascend). It gallops from there while the
    // keys left are dense in the slots left (about `2 log2(gap) + 1` reads against `log2(slots left) + 1`).
    let mut at = 0;
    out.extend((0..n).map(|i| {
        let k = SearchKey::new(key(i));
        if !bounded && !hd.covers(s, k) {
            return Probe::Restart;
        }
        let left = n - i;
        let from = SearchFrom {
            slot: at,
            gallop: 2 * (hd.count - at) < left * left,
        };
        match hd.search_after(s, k, None, ALL, from) {
            Some((p, end)) => {
                at = end;
                p
            }
            None => Probe::Malformed,
        }
    }));
}

/// The rows of a leaf a scan copied ([`leaf_rows`]): the part of the leaf's heap that holds them in `bytes`, at
/// the offsets the leaf has them (the rest of `bytes` is whatever it was), each row's place and slot in `rows`,
/// and the leaf's high fence in `high` when the copy reached the leaf's end.
#[derive(Default)]
pub struct LeafRows {
    /// As long as the region once used; the rows' entries at their offsets in the leaf.
    pub bytes: Vec<u8>,
    /// The rows copied, in key order.
    pub rows: Vec<RowAt>,
    /// The leaf's high fence, when [`leaf_rows`] answered [`RowsEnd::Leaf`] with one.
    pub high: Vec<u8>,
}

/// Where [`LeafRows::bytes`] holds one row: its key at `at..at + klen`, its value right after, `vlen` bytes; and
/// the row's slot in the leaf it was copied from.
#[derive(Clone, Copy, Debug)]
pub struct RowAt {
    /// First byte of the key.
    pub at: usize,
    /// Key length.
    pub klen: usize,
    /// Value length.
    pub vlen: usize,
    /// The row's slot in its leaf.
    pub slot: usize,
}

impl LeafRows {
    /// Row `r` as `(key, value)`.
    pub fn row(&self, r: RowAt) -> (&[u8], &[u8]) {
        let (key, rest) = self.bytes[r.at..].split_at(r.klen);
        (key, &rest[..r.vlen])
    }
}

/// What [`leaf_rows`] found in a node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LeafScan {
    /// Not a live leaf (freed, another level, not a node): the scan finds its leaf again.
    Restart,
    /// A live leaf whose fences do not cover the scan's start (split or merged since it was named), with its
    /// link (the next leaf's page as it names it, [`NO_PAGE`] for none): a scan started at a hinted leaf tries
    /// that one next, a scan that found the leaf through its parent finds its leaf again.
    Beyond(u32),
    /// The header is well formed and the leaf covers the start, but a row read is not (on a consistent page: a
    /// corrupt leaf).
    Malformed,
    /// The rows from the start were copied; why the copy stopped.
    Rows(RowsEnd),
}

/// Why [`leaf_rows`] stopped copying.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RowsEnd {
    /// The leaf's next row is past the range's end, or the range is empty: the scan is over.
    End,
    /// Every row of the leaf from the start was copied; `true` if the leaf has a high fence (copied into
    /// [`LeafRows::high`]), where the scan's next rows begin.
    Leaf(bool),
    /// `max` rows were copied and the leaf has a row after them inside the range.
    Full,
}

/// A scan's look at a leaf, from bytes that may be torn (as [`probe`]): checks that the node is a live leaf whose
/// fences cover `start`, finds the rows of the range from there by two searches of the slots (`start`, past it if
/// `after`, and `end`), and copies up to `max` of them into `out`, in key order: only the part of the heap that
/// holds them (one read), not the leaf (`Tree::scan` copied whole leaves until session 44: a leaf for one to ten
/// rows). Every offset and length read from the page is checked before it is used and the copy lies in the
/// region, so garbage gives a wrong answer or `Malformed` (which the optimistic reader discards), never a panic,
/// an endless loop or an unbounded buffer. A reversed or empty range copies nothing ([`RowsEnd::End`]).
pub fn leaf_rows<S: PageBytes + ?Sized>(
    s: &S,
    start: &[u8],
    after: bool,
    end: std::ops::Bound<&[u8]>,
    max: usize,
    out: &mut LeafRows,
) -> LeafScan {
    out.rows.clear();
    leaf_rows_inner(s, start, after, end, max, out).unwrap_or(LeafScan::Malformed)
}

fn leaf_rows_inner<S: PageBytes + ?Sized>(
    s: &S,
    start: &[u8],
    after: bool,
    end: std::ops::Bound<&[u8]>,
    max: usize,
    out: &mut LeafRows,
) -> Option<LeafScan> {
    use std::ops::Bound;
    let len = s.len();
    if !(HDR..=USER_BYTES_MAX).contains(&len) {
        return None;
    }
    s.prefetch(0, PROBE_PREFETCH);
    let hd = match ProbedHeader::read(s, len, Some(0)) {
        Some(Ok(hd)) => hd,
        Some(Err(_)) | None => return Some(LeafScan::Restart),
    };
    let key = SearchKey::new(start);
    if !hd.covers(s, key) {
        return Some(LeafScan::Beyond(hd.link));
    }
    let search = |k: SearchKey<'_>| search_slots(s, hd.slots_at, hd.count, hd.heap_lo, hd.prefix, k, SearchFrom::START);
    let first = match search(key)?.0 {
        Ok(i) if after => i + 1,
        Ok(i) | Err(i) => i,
    };
    // The first slot past the range's end. An end not above the start empties the range (the caller's bounds,
    // not the page's); an end above the start that the fences do not cover lies at or past the high fence.
    let stop = match end {
        Bound::Unbounded => hd.count,
        Bound::Included(e) | Bound::Excluded(e)
            if e < start || (e == start && (after || matches!(end, Bound::Excluded(_)))) =>
        {
            return Some(LeafScan::Rows(RowsEnd::End));
        }
        Bound::Included(e) | Bound::Excluded(e) => {
            let ek = SearchKey::new(e);
            if !hd.covers(s, ek) {
                hd.count
            } else {
                match search(ek)?.0 {
                    Ok(i) if matches!(end, Bound::Included(_)) => i + 1,
                    Ok(i) | Err(i) => i,
                }
            }
        }
    };
    let last = stop.max(first).min(first.saturating_add(max));
    // Each row's entry, checked (in the heap, its key length the slot's, inside the region), and the part of the
    // heap that holds them all.
    let sw = hd.slots_at / SLOT;
    let (mut lo, mut hi) = (len, 0);
    for slot in first..last {
        let (off, klen, _) = slot_fields(s.word(sw + slot));
        let eh = load_at(s, off);
        let (entry_klen, vlen) = (eh as u16 as usize, (eh >> 16) as u16 as usize);
        let (k0, e) = (off + ENTRY_OVERHEAD, off + ENTRY_OVERHEAD + klen + vlen);
        if off < hd.heap_lo || entry_klen != klen || e > len {
            return None;
        }
        (lo, hi) = (lo.min(k0), hi.max(e));
        out.rows.push(RowAt {
            at: k0,
            klen,
            vlen,
            slot,
        });
    }
    if lo < hi {
        if out.bytes.len() < len {
            out.bytes.resize(len, 0);
        }
        if !s.read(lo, &mut out.bytes[lo..hi]) {
            return None;
        }
    }
    if last < stop {
        return Some(LeafScan::Rows(RowsEnd::Full));
    }
    if stop < hd.count {
        return Some(LeafScan::Rows(RowsEnd::End));
    }
    let high = hd.high_raw != INFINITE;
    if high {
        out.high.resize(hd.high_len, 0);
        if !s.read(HDR + hd.low_len, &mut out.high) {
            return None;
        }
    }
    Some(LeafScan::Rows(RowsEnd::Leaf(high)))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A xorshift generator started at `x`: `rnd(n)` is a number below `n` (the crate's unit tests' seeded draws).
    pub(crate) fn xorshift(mut x: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        }
    }

    const U: usize = 4096 - 24;

    fn leaf(low: Fence<'_>, high: Fence<'_>) -> Vec<u8> {
        let mut b = vec![0u8; U];
        init(&mut b, KIND_LEAF, 0, NO_PAGE, low, high);
        b
    }

    fn keys(b: &[u8]) -> Vec<Vec<u8>> {
        let n = Node::parse(b).unwrap();
        (0..n.count()).map(|i| n.key(i).unwrap().to_vec()).collect()
    }

    #[test]
    fn upsert_get_delete() {
        let mut b = leaf(None, None);
        assert!(leaf_upsert(&mut b, b"b", b"2").unwrap());
        assert!(leaf_upsert(&mut b, b"a", b"1").unwrap());
        assert!(leaf_upsert(&mut b, b"c", b"3").unwrap());
        assert!(leaf_upsert(&mut b, b"b", b"22").unwrap());
        assert!(leaf_upsert(&mut b, b"a", b"9").unwrap());
        let n = Node::parse(&b).unwrap();
        assert_eq!(n.leaf_get(b"b"), Some(Some(&b"22"[..])));
        assert_eq!(n.leaf_get(b"a"), Some(Some(&b"9"[..])));
        assert_eq!(n.leaf_get(b"x"), Some(None));
        assert_eq!(keys(&b), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert!(leaf_delete(&mut b, b"b").unwrap());
        assert!(!leaf_delete(&mut b, b"b").unwrap());
        assert_eq!(keys(&b), vec![b"a".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn an_upsert_after_a_slot_ends_as_a_whole_search_would_whatever_the_slot() {
        // Fences sharing a prefix (so heads start past it), keys of mixed lengths (ties on heads), and `after`
        // slots right (the run's previous put; the key's own slot or the one before it, as a read's hint gives),
        // stale, below or above the key, past the end, or none.
        let (low, high) = (b"tp\x00".to_vec(), b"tp\x7f".to_vec());
        let mut rnd = xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..300 {
            let (mut b, mut model) = (leaf(Some(&low), Some(&high)), BTreeMap::new());
            let mut prev: Option<usize> = None;
            for _ in 0..60 {
                let mut key = b"tp".to_vec();
                let len = 1 + rnd(if round % 2 == 0 { 3 } else { 7 }) as usize;
                key.extend((0..len).map(|_| rnd(4) as u8 * 40));
                let val = vec![rnd(256) as u8; rnd(if round % 3 == 0 { 120 } else { 30 }) as usize];
                let at = Node::parse(&b).unwrap().search(&key).unwrap();
                let after = match rnd(7) {
                    0 => None,
                    1 => Some(rnd(70) as usize),
                    // The key's own slot (or its insertion point), and the slot before it.
                    2 => Some(at.unwrap_or_else(|i| i)),
                    3 => at.unwrap_or_else(|i| i).checked_sub(1),
                    _ => prev,
                };
                let before = Node::parse(&b).unwrap().entry_bytes();
                match leaf_upsert_after(&mut b, &key, &val, after).unwrap() {
                    Some((slot, shrank)) => {
                        let after = Node::parse(&b).unwrap().entry_bytes();
                        assert_eq!(
                            shrank,
                            after < before,
                            "round {round}: shrank iff the entry bytes went down"
                        );
                        model.insert(key.clone(), val);
                        assert_eq!(Node::parse(&b).unwrap().key(slot), Some(&key[..]), "round {round}");
                        prev = Some(slot);
                    }
                    None => {
                        let mut fresh = b.clone();
                        assert!(!leaf_upsert(&mut fresh, &key, &val).unwrap(), "a whole search fits it");
                        assert_eq!(fresh, b, "not fitted: unchanged");
                    }
                }
                let n = Node::parse(&b).unwrap();
                let got: Vec<_> = (0..n.count()).map(|i| n.entry(i).unwrap()).collect();
                let want: Vec<_> = model.iter().map(|(k, v)| (&k[..], &v[..])).collect();
                assert_eq!(got, want, "round {round}");
                assert_eq!(n.check_slots(), Ok(()));
            }
        }
    }

    #[test]
    fn fills_then_compacts_then_refuses() {
        let mut b = leaf(None, None);
        let v = vec![7u8; 100];
        let mut n = 0u32;
        while leaf_upsert(&mut b, &n.to_be_bytes(), &v).unwrap() {
            n += 1;
        }
        assert!(n > 30);
        let full = Node::parse(&b).unwrap().entry_bytes();
        // Delete every other entry, then the freed space is reusable through compaction.
        for i in (0..n).step_by(2) {
            assert!(leaf_delete(&mut b, &i.to_be_bytes()).unwrap());
        }
        for i in (0..n).step_by(2) {
            assert!(leaf_upsert(&mut b, &i.to_be_bytes(), &v).unwrap(), "{i}");
        }
        assert_eq!(Node::parse(&b).unwrap().entry_bytes(), full);
        assert_eq!(Node::parse(&b).unwrap().count(), n as usize);
    }

    #[test]
    fn split_leaf_keeps_order_and_fences() {
        let mut l = leaf(Some(b"a"), Some(b"z"));
        let v = vec![1u8; 200];
        let mut i = 0u8;
        while leaf_upsert(&mut l, &[b'b', i], &v).unwrap() {
            i += 1;
        }
        let mut r = vec![0u8; U];
        let sep = split_leaf(&mut l, &mut r, 42, &[b'b', i], &v).unwrap();
        let (ln, rn) = (Node::parse(&l).unwrap(), Node::parse(&r).unwrap());
        assert_eq!(ln.count() + rn.count(), i as usize + 1);
        assert_eq!(ln.high(), Some(&sep[..]));
        assert_eq!(rn.low(), Some(&sep[..]));
        assert_eq!(ln.low(), Some(&b"a"[..]));
        assert_eq!(rn.high(), Some(&b"z"[..]));
        assert_eq!(ln.link(), 42);
        assert!(keys(&l).iter().all(|k| k.as_slice() < sep.as_slice()));
        assert!(keys(&r).iter().all(|k| k.as_slice() >= sep.as_slice()));
    }

    #[test]
    fn ascending_appends_leave_full_leaves() {
        // A leaf split by a key past all its others keeps every old entry (whether it is the rightmost leaf or
        // one with a high fence: the end of one of several ascending runs), and so does one past all but a few
        // (the end of a run before the head of the next); any other split halves.
        let v = vec![1u8; 100];
        let fill = |low: Fence<'_>, high: Fence<'_>| {
            let mut l = leaf(low, high);
            let mut i = 0u32;
            while leaf_upsert(&mut l, &(1000 + i).to_be_bytes(), &v).unwrap() {
                i += 1;
            }
            (l, i as usize)
        };
        let (mut l, n) = fill(None, None);
        let mut r = vec![0u8; U];
        split_leaf(&mut l, &mut r, 9, &5000u32.to_be_bytes(), &v).unwrap();
        assert_eq!(
            (Node::parse(&l).unwrap().count(), Node::parse(&r).unwrap().count()),
            (n, 1)
        );
        let (mut l, n) = fill(None, Some(&[0xff]));
        split_leaf(&mut l, &mut r, 9, &5000u32.to_be_bytes(), &v).unwrap();
        let (ln, rn) = (Node::parse(&l).unwrap(), Node::parse(&r).unwrap());
        // The left leaf's new high fence may cost it an entry or two; the new key starts the right leaf.
        assert!(
            ln.count() + 2 >= n && ln.count() + rn.count() == n + 1,
            "{} {}",
            ln.count(),
            rn.count()
        );
        assert!(rn.count() <= 3);
        // The end of one run followed by the head of the next (three entries): the run's entries and the new key
        // stay left, the next run's head starts the new leaf.
        let mut l = leaf(None, None);
        for h in 0..3u32 {
            assert!(leaf_upsert(&mut l, &(9000 + h).to_be_bytes(), &v).unwrap());
        }
        let mut n = 0u32;
        while leaf_upsert(&mut l, &(1000 + n).to_be_bytes(), &v).unwrap() {
            n += 1;
        }
        split_leaf(&mut l, &mut r, 9, &(1000 + n).to_be_bytes(), &v).unwrap();
        assert_eq!(
            (Node::parse(&l).unwrap().count(), Node::parse(&r).unwrap().count()),
            (n as usize + 1, 3)
        );
        assert_eq!(keys(&r)[0], 9000u32.to_be_bytes());
        // A head of more than half the leaf: halves.
        let mut l = leaf(None, None);
        let mut h = 0u32;
        while Node::parse(&l).unwrap().entry_bytes() < U * 3 / 5 {
            assert!(leaf_upsert(&mut l, &(9000 + h).to_be_bytes(), &v).unwrap());
            h += 1;
        }
        let mut n = 0u32;
        while leaf_upsert(&mut l, &(1000 + n).to_be_bytes(), &v).unwrap() {
            n += 1;
        }
        split_leaf(&mut l, &mut r, 9, &(1000 + n).to_be_bytes(), &v).unwrap();
        let (lc, rc) = (Node::parse(&l).unwrap().count(), Node::parse(&r).unwrap().count());
        assert!(lc.abs_diff(rc) <= 2, "{lc} {rc}");
        let (mut l, n) = fill(None, Some(&[0xff]));
        // Not past every key: halves.
        split_leaf(&mut l, &mut r, 9, &1000u32.to_be_bytes()[..3], &v).unwrap();
        assert!(Node::parse(&r).unwrap().count() >= n / 2);
        let (mut l, n) = fill(None, None);
        split_leaf(&mut l, &mut r, 9, &999u32.to_be_bytes(), &v).unwrap();
        assert!(Node::parse(&r).unwrap().count() >= n / 2);
    }

    /// What a node holds, whatever its bytes' layout: kind, level, link, fences, prefix, entries and free bytes.
    #[allow(clippy::type_complexity)]
    fn logical(b: &[u8]) -> (bool, u32, Option<Vec<u8>>, Option<Vec<u8>>, usize, Entries, usize) {
        let n = Node::parse(b).unwrap();
        assert_eq!(n.check_slots(), Ok(()));
        let fence = |f: Fence<'_>| f.map(<[u8]>::to_vec);
        let es = entries(&n).unwrap();
        (
            n.is_leaf(),
            n.link(),
            fence(n.low()),
            fence(n.high()),
            n.prefix,
            es,
            n.free_bytes(),
        )
    }

    #[test]
    fn a_split_cut_in_place_is_the_rebuilt_node_entry_for_entry() {
        // Random leaves (keys sharing prefixes of any length, fences finite or not, garbage from deletes and
        // longer values), each filled until it refuses a pair, then split by it (past every key, inside, or
        // replacing one): both halves must hold what a rebuild of the upserted entries split at the separator
        // holds, free bytes included, and take the same inserts after it. And every leaf cut in place at every
        // entry with a separator there reads as `cut_leaf`'s rebuild of it.
        let mut rnd = xorshift(0x5eed_cafe);
        let (mut in_place, mut appends) = (0, 0);
        for round in 0..300 {
            let base: Vec<u8> = (0..rnd(6)).map(|_| rnd(3) as u8).collect();
            let key = |rnd: &mut dyn FnMut(u64) -> u64| {
                let mut k = base.clone();
                k.extend((0..1 + rnd(6)).map(|_| 1 + rnd(4) as u8));
                k
            };
            let low = (round % 3 != 0).then(|| base.clone());
            let high = (round % 4 != 0).then(|| {
                let mut h = base.clone();
                h.push(0xf0);
                h
            });
            let mut l = leaf(low.as_deref(), high.as_deref());
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let pair = loop {
                let k = key(&mut rnd);
                let v = vec![rnd(256) as u8; 1 + rnd(150) as usize];
                if rnd(5) == 0 && !model.is_empty() {
                    let gone = model.keys().nth(rnd(model.len() as u64) as usize).unwrap().clone();
                    assert!(leaf_delete(&mut l, &gone).unwrap());
                    model.remove(&gone);
                }
                if !leaf_upsert(&mut l, &k, &v).unwrap() {
                    break (k, v);
                }
                model.insert(k, v);
            };
            // Also the append split itself: a key past every other.
            let pair = if round % 2 == 0 {
                let mut k = model.keys().next_back().cloned().unwrap_or_default();
                k.push(1);
                appends += 1;
                (k, pair.1)
            } else {
                pair
            };
            for keep in 1..model.len() {
                let (below, above) = (model.keys().nth(keep - 1).unwrap(), model.keys().nth(keep).unwrap());
                let sep = shortest_separator(below, above);
                let mut cut = l.clone();
                if cut_in_place(&mut cut, keep, &sep, 7).unwrap() {
                    in_place += 1;
                    let mut rebuilt = l.clone();
                    cut_leaf(&mut rebuilt, &sep, 7).unwrap();
                    assert_eq!(logical(&cut), logical(&rebuilt), "round {round} keep {keep}");
                } else {
                    assert_eq!(cut, l, "a refused cut leaves the leaf as it was");
                }
            }
            let mut left = l.clone();
            let mut right = vec![0u8; U];
            if split_leaf(&mut left, &mut right, 7, &pair.0, &pair.1).is_err() {
                continue;
            }
            let (ln, rn) = (logical(&left), logical(&right));
            model.insert(pair.0.clone(), pair.1.clone());
            let sep = ln.3.clone().unwrap();
            let (mut want_l, mut want_r) = (leaf(low.as_deref(), Some(&sep)), leaf(Some(&sep), high.as_deref()));
            let (lo, hi): (Vec<_>, Vec<_>) = model.iter().partition(|(k, _)| k.as_slice() < sep.as_slice());
            fn pairs<'a>(es: Vec<(&'a Vec<u8>, &'a Vec<u8>)>) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
                es.into_iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
            }
            rebuild(&mut want_l, KIND_LEAF, 0, 7, low.as_deref(), Some(&sep), pairs(lo)).unwrap();
            rebuild(
                &mut want_r,
                KIND_LEAF,
                0,
                NO_PAGE,
                Some(&sep),
                high.as_deref(),
                pairs(hi),
            )
            .unwrap();
            assert_eq!(ln, logical(&want_l), "round {round}: left half");
            assert_eq!(rn, logical(&want_r), "round {round}: right half");
            // The same inserts after the split, to the same end.
            for _ in 0..20 {
                let mut k = sep.clone();
                k.truncate(base.len());
                k.extend((0..1 + rnd(6)).map(|_| 1 + rnd(4) as u8));
                if k.as_slice() >= sep.as_slice() || low.as_deref().is_some_and(|lo| k.as_slice() < lo) {
                    continue;
                }
                let v = vec![3u8; 1 + rnd(100) as usize];
                assert_eq!(leaf_upsert(&mut left, &k, &v), leaf_upsert(&mut want_l, &k, &v));
            }
            assert_eq!(logical(&left), logical(&want_l), "round {round}: after inserts");
        }
        assert!(
            in_place > 1000 && appends > 100,
            "{in_place} cuts in place, {appends} append splits"
        );
    }

    #[test]
    fn cut_leaf_redoes_the_left_half_of_a_split_over_an_older_leaf() {
        // The split as logged: a full leaf split by an appended key.
        let v = vec![1u8; 100];
        let mut l = leaf(Some(&[0, 0]), Some(&[0xff]));
        let mut i = 0u32;
        while leaf_upsert(&mut l, &(1000 + i).to_be_bytes(), &v).unwrap() {
            i += 1;
        }
        let older = l.clone();
        let mut r = vec![0u8; U];
        let sep = split_leaf(&mut l, &mut r, 9, &(1000 + i).to_be_bytes(), &v).unwrap();
        // Redone over the same leaf as it was before the split: the split's left half, byte for byte in what
        // it holds.
        let mut redone = older.clone();
        cut_leaf(&mut redone, &sep, 9).unwrap();
        let (a, b) = (Node::parse(&redone).unwrap(), Node::parse(&l).unwrap());
        assert_eq!((a.low(), a.high(), a.link()), (b.low(), b.high(), b.link()));
        assert_eq!(keys(&redone), keys(&l));
        // Over an older leaf lacking its last entries (covered changes the log above redoes): those are missing,
        // nothing else differs.
        let mut fewer = older.clone();
        for k in i - 5..i {
            assert!(leaf_delete(&mut fewer, &(1000 + k).to_be_bytes()).unwrap());
        }
        cut_leaf(&mut fewer, &sep, 9).unwrap();
        assert_eq!(keys(&fewer), keys(&l)[..keys(&l).len() - 5].to_vec());
        assert_eq!(Node::parse(&fewer).unwrap().high(), Some(&sep[..]));
        // Entries at or above the separator go (they moved right).
        let mut mid = older.clone();
        let cut = (1000 + i / 2).to_be_bytes();
        cut_leaf(&mut mid, &cut, 9).unwrap();
        assert!(keys(&mid).iter().all(|k| k.as_slice() < &cut[..]));
        assert_eq!(keys(&mid).len(), i as usize / 2);
        // Not a leaf, or a separator not above the low fence: refused, the page unchanged.
        let mut low = older.clone();
        assert!(cut_leaf(&mut low, &[0, 0], 9).is_err());
        assert_eq!(low, older);
        let mut inner = vec![0u8; U];
        init(&mut inner, KIND_INNER, 1, 3, None, None);
        assert!(cut_leaf(&mut inner, b"m", 9).is_err());
        // Entries that no longer fit with a longer high fence: refused, the page unchanged.
        let mut full = leaf(None, None);
        let mut j = 0u32;
        while leaf_upsert(&mut full, &j.to_be_bytes(), &v[..20]).unwrap() {
            j += 1;
        }
        let before = full.clone();
        assert!(cut_leaf(&mut full, &[0xff; 200], 9).is_err());
        assert_eq!(full, before);
    }

    #[test]
    fn separator_is_short_and_between() {
        assert_eq!(shortest_separator(b"abc", b"abd"), b"abd");
        assert_eq!(shortest_separator(b"ab", b"abzz"), b"abz");
        assert_eq!(shortest_separator(b"a", b"zzz"), b"z");
    }

    #[test]
    fn inner_split_and_merge_roundtrip() {
        let mut b = vec![0u8; U];
        init(&mut b, KIND_INNER, 1, 1000, None, None);
        let mut i = 0u32;
        loop {
            let k = format!("key{:06}{}", i * 2, "x".repeat(60));
            if !inner_insert(&mut b, k.as_bytes(), i).unwrap() {
                break;
            }
            i += 1;
        }
        let mut r = vec![0u8; U];
        let k = format!("key{:06}", 1);
        let up = split_inner(&mut b, &mut r, k.as_bytes(), 77).unwrap();
        let (ln, rn) = (Node::parse(&b).unwrap(), Node::parse(&r).unwrap());
        assert_eq!(ln.children() + rn.children(), i as usize + 2);
        assert_eq!(ln.high(), Some(&up[..]));
        assert_eq!(rn.low(), Some(&up[..]));
        // Merging back restores every separator, the promoted one included.
        let r_copy = r.clone();
        assert!(merge(&mut b, &r_copy, &up).unwrap());
        let n = Node::parse(&b).unwrap();
        assert_eq!(n.children(), i as usize + 2);
        assert_eq!(n.high(), None);
        let ks = keys(&b);
        assert!(ks.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn ascending_separators_leave_full_inner_nodes() {
        // An inner node split by a separator past all its others (the rightmost child split: an ascending run)
        // keeps every old separator but the one promoted, with or without a high fence (a high fence longer than
        // the promoted separator's room costs an entry or two); the new separator starts the right node, whose
        // first child is the promoted separator's. A separator anywhere else halves.
        let fill = |high: Fence<'_>| {
            let mut b = vec![0u8; U];
            init(&mut b, KIND_INNER, 1, 1000, Some(&[0, 0]), high);
            let mut i = 0u32;
            while inner_insert(&mut b, &(1000 + i).to_be_bytes(), i).unwrap() {
                i += 1;
            }
            (b, i as usize)
        };
        for high in [None, Some(&[0xff][..])] {
            let (mut b, n) = fill(high);
            let mut r = vec![0u8; U];
            let up = split_inner(&mut b, &mut r, &5000u32.to_be_bytes(), 77).unwrap();
            let (ln, rn) = (Node::parse(&b).unwrap(), Node::parse(&r).unwrap());
            let (lc, rc) = (ln.count(), rn.count());
            assert!(
                lc + 2 >= n && lc + rc == n && rc <= 2,
                "{lc} {rc} of {n}, high fence {high:?}"
            );
            assert_eq!(up, (1000 + lc as u32).to_be_bytes());
            assert_eq!((ln.high(), rn.low(), rn.high()), (Some(&up[..]), Some(&up[..]), high));
            assert_eq!((rn.link(), rn.child_at(rc)), (lc as u32, Some(77)));
        }
        let (mut b, n) = fill(None);
        let mut r = vec![0u8; U];
        split_inner(&mut b, &mut r, &999u32.to_be_bytes(), 77).unwrap();
        let (lc, rc) = (Node::parse(&b).unwrap().count(), Node::parse(&r).unwrap().count());
        assert!(lc.abs_diff(rc) <= 2 && lc + rc == n, "{lc} {rc}");
    }

    /// A copy of a node's used parts over garbage reads as the node: same header, fences, entries and searches
    /// (leaves with removed entries, whose garbage lies in the heap, and an inner node); a dead page stays dead.
    #[test]
    fn used_parts_copy_reads_as_the_whole_node() {
        let copy = |b: &[u8]| {
            let (front, heap) = used_parts(b);
            assert!(HDR <= front && front <= heap && heap <= b.len());
            let mut c = vec![0xA5u8; b.len()];
            c[..front].copy_from_slice(&b[..front]);
            c[heap..].copy_from_slice(&b[heap..]);
            c
        };
        let same = |b: &[u8], c: &[u8], probes: &[Vec<u8>]| {
            let (n, m) = (Node::parse(b).unwrap(), Node::parse(c).unwrap());
            assert_eq!((n.count(), n.level(), n.link()), (m.count(), m.level(), m.link()));
            assert_eq!((n.low(), n.high(), n.free_bytes()), (m.low(), m.high(), m.free_bytes()));
            for i in 0..n.count() {
                assert_eq!(n.entry(i), m.entry(i));
            }
            for k in probes {
                assert_eq!(n.search(k), m.search(k));
            }
            assert_eq!(m.check_slots(), Ok(()));
        };
        let mut b = leaf(Some(b"k0000"), Some(b"k9999"));
        let mut probes = Vec::new();
        for i in 0..60u32 {
            let k = format!("k{:04}", i * 7).into_bytes();
            assert!(leaf_upsert(&mut b, &k, &vec![i as u8; 20 + i as usize % 9]).unwrap());
            probes.push(k);
        }
        for i in (0..60u32).step_by(3) {
            assert!(leaf_delete(&mut b, format!("k{:04}", i * 7).as_bytes()).unwrap());
        }
        probes.push(b"k0001".to_vec());
        same(&b, &copy(&b), &probes);
        // An empty leaf and a full one.
        let e = leaf(None, None);
        same(&e, &copy(&e), &probes);
        let mut f = leaf(None, None);
        let mut n = 0u32;
        while leaf_upsert(&mut f, &n.to_be_bytes(), &[1u8; 100]).unwrap() {
            n += 1;
        }
        same(&f, &copy(&f), &[3u32.to_be_bytes().to_vec()]);
        let mut inner = vec![0u8; U];
        init(&mut inner, KIND_INNER, 1, 1000, None, Some(b"z"));
        for i in 0..40u32 {
            assert!(inner_insert(&mut inner, format!("key{:03}", i * 2).as_bytes(), i).unwrap());
        }
        same(&inner, &copy(&inner), &[b"key011".to_vec(), b"a".to_vec()]);
        let mut dead = vec![0u8; U];
        init_dead(&mut dead, 42);
        let d = copy(&dead);
        assert!(Node::is_dead(&d) && Node::dead_link(&d) == Some(42));
    }

    /// `be_bytes` is the big-endian integer of the bytes, for every slice length (short keys included), offset
    /// and width.
    #[test]
    fn be_bytes_is_the_big_endian_value() {
        let all: Vec<u8> = (1..=16u8).map(|x| x.wrapping_mul(37)).collect();
        for len in 1..=all.len() {
            let b = &all[..len];
            for at in 0..len {
                for n in 1..=(len - at).min(8) {
                    let want = b[at..at + n].iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
                    assert_eq!(be_bytes(b, at, n), want, "len {len} at {at} n {n}");
                }
            }
        }
    }

    /// `short_order` over padded words orders byte strings of up to 8 bytes as slices are ordered, zero bytes and
    /// prefixes included (every string of up to 3 bytes over a small alphabet, and longer ones).
    #[test]
    fn short_order_is_slice_order() {
        let mut all: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=3 {
            let mut k = vec![0u8; len];
            loop {
                all.push(k.clone());
                let mut at = len;
                while at > 0 {
                    at -= 1;
                    k[at] = match k[at] {
                        0 => 1,
                        1 => 0xFF,
                        _ => 0,
                    };
                    if k[at] != 0 {
                        break;
                    }
                }
                if k.iter().all(|&b| b == 0) {
                    break;
                }
            }
        }
        all.extend([
            b"\x01\x00\x00\x00\x00\x00\x00".to_vec(),
            b"\x01\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        ]);
        all.extend([
            b"abcdefgh".to_vec(),
            b"abcdefg".to_vec(),
            b"abcdefgi".to_vec(),
            b"abcdef\xff".to_vec(),
        ]);
        for a in &all {
            for b in &all {
                let got = short_order(short_word(a), a.len(), short_word(b), b.len());
                assert_eq!(got, a.cmp(b), "{a:?} vs {b:?}");
                let page = u64::from_be_bytes({
                    let mut w = [0xEEu8; 8];
                    w[..a.len()].copy_from_slice(a);
                    w
                }) & left_mask(a.len());
                assert_eq!(page, short_word(a));
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut good = leaf(None, None);
        for i in 0..20u32 {
            leaf_upsert(&mut good, &i.to_be_bytes(), b"value").unwrap();
        }
        for _ in 0..2000 {
            let mut b = good.clone();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..64.min(b.len()));
                b[at] = rng.random();
                let at = rng.random_range(0..b.len());
                b[at] = rng.random();
            }
            let (front, heap) = used_parts(&b[..]);
            assert!(HDR <= front && front <= heap && heap <= b.len());
            if let Some(n) = Node::parse(&b) {
                let _ = n.search(b"\x00\x00\x00\x05");
                let _ = n.child_pos(b"abc");
                let _ = n.child_at(3);
                let _ = (n.low(), n.high(), n.entry_bytes(), n.free_bytes());
            }
            let _ = leaf_upsert(&mut b, b"k", b"v");
            let _ = leaf_delete(&mut b, b"\x00\x00\x00\x05");
        }
    }

    /// A probe's key head from the key's word (session 48) is [`head`] for every key of up to 8 bytes and every
    /// prefix length a page can declare (a torn page's included: up to 65,535), and a longer key's is `head`'s.
    #[test]
    fn a_search_keys_head_is_head() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(48);
        let prefixes = (0..=20).chain([63, 64, 255, 256, 4096, 65534, 65535]);
        for prefix in prefixes {
            for len in 0..=12 {
                for _ in 0..200 {
                    let key: Vec<u8> = (0..len)
                        .map(|_| [0u8, 1, 0x7f, 0x80, 0xff, rng.random()][rng.random_range(0..6)])
                        .collect();
                    assert_eq!(
                        SearchKey::new(&key).head(prefix),
                        head(&key, prefix),
                        "key {key:?} prefix {prefix}"
                    );
                }
            }
        }
    }

    /// The looked-up masks are the shifted ones for every length (session 48), and the low fence's word is
    /// `load_at`'s 8 bytes at the header's end on any bytes of any length (a torn page's, a short region's).
    #[test]
    fn left_masks_and_the_low_fence_word_are_what_they_replace() {
        use rand::{Rng, SeedableRng};
        for n in 0..=64usize {
            // Past 8 (never asked for: `left_mask`'s debug assertion) the lookup is all ones, as the shift was.
            let got = if n <= 8 { left_mask(n) } else { LEFT_MASKS[n.min(8)] };
            assert_eq!(got, !u64::MAX.checked_shr(8 * n as u32).unwrap_or(0), "n {n}");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(48);
        for len in HDR..HDR + 40 {
            for _ in 0..50 {
                let b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                assert_eq!(b[..].word(HDR / SLOT), load_at(&b[..], HDR), "len {len}");
            }
        }
    }

    /// A found value is copied into a buffer of any length before (shorter, longer, the same), whole or in part,
    /// and the buffer then holds exactly that part.
    #[test]
    fn a_found_value_replaces_whatever_the_buffer_held() {
        let mut b = leaf(None, None);
        for i in 0..20u8 {
            leaf_upsert(&mut b, &[b'k', i], &vec![i; 3 * usize::from(i)]).unwrap();
        }
        for before in [0usize, 1, 5, 30, 57, 200] {
            for i in 0..20u8 {
                let value = vec![i; 3 * usize::from(i)];
                for part in [
                    ALL,
                    Part { from: 2, to: 9 },
                    Part { from: 40, to: 50 },
                    Part { from: 0, to: 1 },
                ] {
                    let mut out = vec![0xAB; before];
                    let got = probe_at(&b[..], &[b'k', i], Some(0), Some(&mut out), part).0;
                    assert_eq!(got, Probe::Leaf { found: true });
                    assert_eq!(
                        out,
                        value[part.within(value.len())],
                        "row {i} part {part:?} buffer of {before}"
                    );
                }
            }
        }
    }

    #[test]
    fn cmp_at_orders_as_byte_slices() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let page: Vec<u8> = (0..256).map(|_| rng.random_range(0..4u8)).collect();
        for _ in 0..20_000 {
            let off = rng.random_range(0..200);
            let len = rng.random_range(0..40);
            let mut key: Vec<u8> = page[off..off + len.min(page.len() - off)].to_vec();
            key.truncate(rng.random_range(0..=key.len()));
            for _ in 0..rng.random_range(0..3) {
                if key.is_empty() {
                    break;
                }
                let at = rng.random_range(0..key.len());
                key[at] = rng.random_range(0..4u8);
            }
            key.extend((0..rng.random_range(0..3)).map(|_| rng.random_range(0..4u8)));
            let want = page[off..off + len].cmp(&key[..]);
            assert_eq!(cmp_at(&page[..], off, len, &key, 0), want, "{off} {len} {key:?}");
            // The same key after `from` bytes of something else (a key tail after its head).
            let from = rng.random_range(0..10);
            let mut longer: Vec<u8> = (0..from).map(|_| rng.random()).collect();
            longer.extend_from_slice(&key);
            assert_eq!(
                cmp_at(&page[..], off, len, &longer, from),
                want,
                "{off} {len} {longer:?} {from}"
            );
        }
        assert_eq!(head(b"abcdef", 1), u32::from_be_bytes(*b"bcde"));
        assert_eq!(head(b"abc", 1), u32::from_be_bytes([b'b', b'c', 0, 0]));
        assert_eq!(head(b"ab", 5), 0);
    }

    #[test]
    fn search_agrees_with_a_linear_scan_when_heads_tie() {
        // Keys that share their first five bytes (so heads tie in runs), of several lengths, some ending inside
        // the head: the head-only lower bound must hand every tie to the full comparison.
        let mut b = leaf(None, None);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for a in 0..6u8 {
            for t in 0..5u8 {
                let mut k = b"share".to_vec();
                k.push(a);
                k.extend(std::iter::repeat_n(b'x', usize::from(t)));
                k.push(t);
                keys.push(k);
            }
        }
        keys.push(b"shar".to_vec());
        keys.push(b"share".to_vec());
        for k in &keys {
            assert!(leaf_upsert(&mut b, k, b"v").unwrap());
        }
        keys.sort();
        let n = Node::parse(&b).unwrap();
        let mut probes = keys.clone();
        for k in &keys {
            let mut longer = k.clone();
            longer.push(0);
            probes.push(longer);
            if let Some(shorter) = k.get(..k.len() - 1) {
                probes.push(shorter.to_vec());
            }
        }
        probes.extend([b"".to_vec(), b"a".to_vec(), b"zz".to_vec(), b"sharez".to_vec()]);
        for p in &probes {
            let want = keys.binary_search(p);
            assert_eq!(n.search(p), Some(want), "{p:?}");
            let found = matches!(probe(&b[..], p, None, None), Probe::Leaf { found: true });
            assert_eq!(found, want.is_ok(), "{p:?}");
        }
    }

    #[test]
    fn probe_agrees_with_node() {
        let mut leafb = leaf(Some(b"b"), Some(b"y"));
        for i in 0..40u8 {
            leaf_upsert(&mut leafb, &[b'c', i, i], &[i; 30]).unwrap();
        }
        let mut val = Vec::new();
        assert_eq!(probe(&leafb[..], b"a", None, None), Probe::Restart);
        assert_eq!(probe(&leafb[..], b"y", None, None), Probe::Restart);
        assert_eq!(probe(&leafb[..], b"c", Some(1), None), Probe::Restart);
        for i in 0..40u8 {
            assert_eq!(
                probe(&leafb[..], &[b'c', i, i], Some(0), Some(&mut val)),
                Probe::Leaf { found: true }
            );
            assert_eq!(val, vec![i; 30]);
            assert_eq!(probe(&leafb[..], &[b'c', i], None, None), Probe::Leaf { found: false });
        }
        let mut inner = vec![0u8; U];
        init(&mut inner, KIND_INNER, 2, 7, None, None);
        for i in 1..50u32 {
            inner_insert(&mut inner, &[b'k', i as u8], 100 + i).unwrap();
        }
        let n = Node::parse(&inner).unwrap();
        for probe_key in [&b"a"[..], b"k", b"k\x01", b"k\x01\x00", b"k\x31", b"z"] {
            let want = n.child_at(n.child_pos(probe_key).unwrap()).unwrap();
            assert_eq!(
                probe(&inner[..], probe_key, None, None),
                Probe::Child { page: want, level: 1 }
            );
        }
        let mut dead = vec![0u8; U];
        init_dead(&mut dead, 5);
        assert_eq!(probe(&dead[..], b"k", None, None), Probe::Restart);
        // Garbage: any answer but no panic.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for _ in 0..3000 {
            let mut b = if rng.random() { leafb.clone() } else { inner.clone() };
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..200);
                b[at] = rng.random();
            }
            let _ = probe(&b[..], b"c\x05\x05", None, Some(&mut val));
        }
    }

    /// A node with fences `[b, y)`: an inner node of 149 separators `c..` (`inner`) or a leaf of 60 entries `c..`
    /// of 30 bytes each, the page the probe property tests patch and probe.
    /// `probe_run` over runs that take every key of a full node and the keys between them, or every 2nd, 5th,
    /// 20th or 60th of those (dense runs gallop from the previous key's slot, sparse ones search the slots after
    /// it), with equal keys repeated: each key's answer is `probe`'s for it alone.
    #[test]
    fn probe_run_from_the_previous_slot_answers_as_probe() {
        for inner in [false, true] {
            let b = fenced_node(inner);
            let n = Node::parse(&b).unwrap();
            let mut all: Vec<Vec<u8>> = (0..n.count()).map(|i| n.key(i).unwrap().to_vec()).collect();
            let between: Vec<Vec<u8>> = all.iter().map(|k| [&k[..], &[0]].concat()).collect();
            all.extend(between);
            all.extend([b"c".to_vec(), b"cz".to_vec(), b"x".to_vec()]);
            all.sort();
            for stride in [1, 2, 5, 20, 60] {
                for start in [0, 1] {
                    let mut keys: Vec<&[u8]> = all.iter().skip(start).step_by(stride).map(Vec::as_slice).collect();
                    keys.push(keys[keys.len() / 2]);
                    keys.sort();
                    let mut got = Vec::new();
                    probe_run(&b[..], keys.len(), |i| keys[i], Some(u8::from(inner)), &mut got);
                    let want: Vec<Probe> = keys
                        .iter()
                        .map(|k| probe(&b[..], k, Some(u8::from(inner)), None))
                        .collect();
                    assert_eq!(got, want, "inner {inner}, stride {stride}, start {start}");
                }
            }
        }
    }

    /// Whether `b` parses as a node whose slots match their entries and hold strictly ascending keys: what a
    /// search from a previous key's slot assumes of a consistent page.
    fn slots_ascend(b: &[u8]) -> bool {
        let Some(n) = Node::parse(b) else { return false };
        let keys: Option<Vec<&[u8]>> = (0..n.count()).map(|i| n.key(i)).collect();
        n.check_slots().is_ok() && keys.is_some_and(|k| k.windows(2).all(|w| w[0] < w[1]))
    }

    /// A page that counts the times it was taken mutably (as a write guard marks itself dirty).
    struct Counted(Vec<u8>, usize);

    impl std::ops::Deref for Counted {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            &self.0
        }
    }

    impl std::ops::DerefMut for Counted {
        fn deref_mut(&mut self) -> &mut [u8] {
            self.1 += 1;
            &mut self.0
        }
    }

    fn fenced_node(inner: bool) -> Vec<u8> {
        if inner {
            let mut b = vec![0u8; U];
            init(&mut b, KIND_INNER, 1, 7, Some(b"b"), Some(b"y"));
            for i in 1..150u32 {
                inner_insert(&mut b, &[b'c', (i >> 8) as u8, i as u8], 100 + i).unwrap();
            }
            b
        } else {
            let mut b = leaf(Some(b"b"), Some(b"y"));
            for i in 0..60u8 {
                leaf_upsert(&mut b, &[b'c', i, i], &[i; 30]).unwrap();
            }
            b
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]
        /// `probe` on bytes that are not a node this module wrote gives some answer, never a panic or an endless
        /// loop: well-formed leaves and inner nodes with random bytes written anywhere (header, fences, slots,
        /// entries), or whole random pages, at lengths that are and are not a multiple of 8.
        #[test]
        fn probe_never_panics_on_garbage(
            inner in proptest::bool::ANY,
            random_page in proptest::bool::ANY,
            patches in proptest::collection::vec((0usize..U, proptest::num::u8::ANY), 0..24),
            words in proptest::collection::vec((0usize..U / 8, proptest::num::u64::ANY), 0..8),
            seed in proptest::num::u64::ANY,
            key in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, b'c', b'k', 0xff]), 0..12),
            expect in proptest::option::of(0u8..3),
            cut in 0usize..20,
        ) {
            use rand::{Rng, SeedableRng};
            let mut b = if random_page {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                (0..U).map(|_| rng.random()).collect()
            } else {
                fenced_node(inner)
            };
            for (at, x) in patches {
                b[at] = x;
            }
            for (i, w) in words {
                b[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
            }
            b.truncate(U - cut);
            let mut val = Vec::new();
            let _ = probe(&b[..], &key, expect, Some(&mut val));
            let _ = probe(&b[..], &key, None, None);
            // A hinted read's look for the next leaf (session 48).
            let _ = right_link(&b[..], &key);
            // A scan's look (session 44): rows copied within the region, never more than it holds.
            let mut rows = LeafRows::default();
            for end in [std::ops::Bound::Unbounded, std::ops::Bound::Excluded(&[0xffu8][..]), std::ops::Bound::Included(&key[..])] {
                if let LeafScan::Rows(_) = leaf_rows(&b[..], &key, cut % 2 == 0, end, 1 + cut * 7, &mut rows) {
                    assert!(rows.rows.len() <= 1 + cut * 7);
                    for &r in &rows.rows {
                        assert!(r.at + r.klen + r.vlen <= b.len());
                        let _ = rows.row(r);
                    }
                }
            }
        }

        /// `right_link` gives a leaf's link exactly when the leaf lies wholly below the key (low fence at or below
        /// it, high fence too) and has a next leaf: never for a leaf that covers the key or lies above it, the
        /// last leaf, a leaf without a link, or an inner node (session 48: a hinted read follows it once).
        #[test]
        fn right_link_is_the_link_of_a_leaf_wholly_below_the_key(
            low in proptest::option::of(proptest::collection::vec(proptest::sample::select(vec![b'b', b'c', 0u8, 0xff]), 1..10)),
            high in proptest::option::of(proptest::collection::vec(proptest::sample::select(vec![b'c', b'd', b'y', 0xff]), 1..10)),
            key in proptest::collection::vec(proptest::sample::select(vec![0u8, b'b', b'c', b'd', b'y', 0xff]), 0..12),
            linked in proptest::bool::ANY,
            inner in proptest::bool::ANY,
            n in 0usize..20,
        ) {
            let (low, high) = (low.as_deref(), high.as_deref());
            if let (Some(l), Some(h)) = (low, high) {
                proptest::prop_assume!(l < h);
            }
            let link = if linked { 77 } else { NO_PAGE };
            let mut b = vec![0u8; U];
            init(&mut b, if inner { KIND_INNER } else { KIND_LEAF }, u8::from(inner), link, low, high);
            if !inner {
                for i in 0..n {
                    // Entries inside the fences (they change nothing here, but a probe of a real leaf meets them).
                    let mut k = low.map_or(vec![], <[u8]>::to_vec);
                    k.push(i as u8);
                    if high.is_none_or(|h| &k[..] < h) {
                        leaf_upsert(&mut b, &k, b"v").unwrap();
                    }
                }
            }
            let below = !inner
                && linked
                && low.is_none_or(|l| l <= &key[..])
                && high.is_some_and(|h| h <= &key[..]);
            proptest::prop_assert_eq!(right_link(&b[..], &key), below.then_some(77));
            // Where it gives the link, the probe did not answer (the leaf does not cover the key).
            if below {
                proptest::prop_assert_eq!(probe(&b[..], &key, Some(0), None), Probe::Restart);
            }
        }

        /// `leaf_upsert_covering` (one parse of the header, R48-O32) answers and writes what the tree's check of a
        /// latched leaf (`Tree::latched_leaf_covers`: a live leaf whose fences cover the key; a dead page or
        /// another node is not covered; anything else is not a node) followed by `leaf_upsert_after` did, on
        /// leaves inside and outside the key's fences, inner nodes, dead pages and all of them garbled (random
        /// bytes anywhere, cut short), with every kind of `after` slot; and it takes the page mutably only to
        /// change it (a clean write guard stays clean, R46-O40).
        #[test]
        fn an_upsert_that_checks_its_leaf_does_what_the_check_then_the_upsert_did(
            page in 0u8..4,
            low in proptest::option::of(proptest::collection::vec(proptest::sample::select(vec![b'b', b'c', 0u8]), 1..4)),
            high in proptest::option::of(proptest::collection::vec(proptest::sample::select(vec![b'c', b'd', b'y']), 1..4)),
            key in proptest::collection::vec(proptest::sample::select(vec![0u8, b'b', b'c', b'd', b'y', 0xff]), 1..6),
            val_len in proptest::sample::select(vec![0usize, 1, 3, 30, 400, 1000]),
            after in proptest::option::of(0usize..70),
            patches in proptest::collection::vec((0usize..U, proptest::num::u8::ANY), 0..6),
            garble in proptest::bool::ANY,
            cut in 0usize..20,
        ) {
            let (low, high) = (low.as_deref(), high.as_deref());
            if let (Some(l), Some(h)) = (low, high) {
                proptest::prop_assume!(l < h);
            }
            let mut b = match page {
                0 | 1 => {
                    // A leaf of keys inside its fences, of several lengths (the same length as the puts' values
                    // too, so some puts overwrite in place).
                    let mut b = leaf(low, high);
                    for i in 0..40u8 {
                        let mut k = low.map_or(vec![b'c'], <[u8]>::to_vec);
                        k.extend_from_slice(&[i % 7, i]);
                        if high.is_none_or(|h| &k[..] < h) {
                            leaf_upsert(&mut b, &k, &vec![i; if page == 0 { 30 } else { 3 }]).unwrap();
                        }
                    }
                    b
                }
                2 => fenced_node(true),
                _ => {
                    let mut b = vec![0u8; U];
                    init_dead(&mut b, 9);
                    b
                }
            };
            if garble {
                for &(at, x) in &patches {
                    b[at] = x;
                }
                b.truncate(U - cut);
            }
            let val = vec![0x5a; val_len];
            // The old path: the latched leaf's check, then the put.
            let mut old = b.clone();
            let want = match Node::parse(&old) {
                Some(n) if n.is_leaf() && n.covers(&key) => match leaf_upsert_after(&mut old, &key, &val, after) {
                    Ok(Some((slot, shrank))) => Ok(Upsert::Put { slot, shrank }),
                    Ok(None) => Ok(Upsert::Full),
                    Err(Malformed) => Err(UpsertError::Malformed),
                },
                Some(_) => Ok(Upsert::NotCovered),
                None if Node::is_dead(&old) => Ok(Upsert::NotCovered),
                None => Err(UpsertError::NotANode),
            };
            let mut new = Counted(b.clone(), 0);
            let got = leaf_upsert_covering(&mut new, &key, &val, after);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(&new.0, &old, "the same bytes after");
            if matches!(got, Ok(Upsert::NotCovered | Upsert::Full) | Err(UpsertError::NotANode)) {
                proptest::prop_assert_eq!(new.1, 0, "a page left unchanged is not taken mutably");
                proptest::prop_assert_eq!(&new.0, &b);
            }
        }

        /// `leaf_rows` copies what a parsed node's entries hold from the start on: the rows from the first at or
        /// past `start` (past it if `after`) up to the first past `end` or `max` of them, with their slots, and
        /// says why it stopped (the range's end, `max` rows before it, or the leaf's end with its high fence);
        /// `Beyond` with the leaf's link for a start outside the fences, and nothing for a reversed range.
        #[test]
        fn leaf_rows_copies_what_the_entries_hold(
            n in 0usize..70,
            vlen in 0usize..60,
            start in proptest::collection::vec(proptest::sample::select(vec![b'a', b'c', b'd', 3u8, 40, 0xff]), 0..5),
            end in proptest::collection::vec(proptest::sample::select(vec![b'c', b'd', b'y', b'z', 0u8, 7, 0xff]), 0..5),
            kind in 0u8..3,
            after in proptest::bool::ANY,
            max in 1usize..80,
        ) {
            use std::ops::Bound;
            let mut b = leaf(Some(b"b"), Some(b"y"));
            for i in 0..n {
                let i = i as u8;
                let key = [b'c', i.wrapping_mul(37), i];
                leaf_upsert(&mut b, &key, &vec![i; vlen + usize::from(i % 5)]).unwrap_or(false);
            }
            let node = Node::parse(&b).unwrap();
            let entries: Vec<(usize, &[u8], &[u8])> = (0..node.count()).map(|i| {
                let (k, v) = node.entry(i).unwrap();
                (i, k, v)
            }).collect();
            let end_bound = match kind {
                0 => Bound::Unbounded,
                1 => Bound::Included(&end[..]),
                _ => Bound::Excluded(&end[..]),
            };
            let mut rows = LeafRows::default();
            let got = leaf_rows(&b[..], &start, after, end_bound, max, &mut rows);
            let low_ok = start.as_slice() >= &b"b"[..];
            let high_ok = start.as_slice() < &b"y"[..];
            if !(low_ok && high_ok) {
                proptest::prop_assert_eq!(got, LeafScan::Beyond(NO_PAGE));
                return Ok(());
            }
            let in_start = |k: &[u8]| if after { k > &start[..] } else { k >= &start[..] };
            let before_end = |k: &[u8]| match end_bound {
                Bound::Unbounded => true,
                Bound::Included(e) => k <= e,
                Bound::Excluded(e) => k < e,
            };
            let reversed = match end_bound {
                Bound::Unbounded => false,
                Bound::Included(e) => e < &start[..] || (after && e == &start[..]),
                Bound::Excluded(e) => e <= &start[..],
            };
            let from: Vec<_> = entries.iter().filter(|(_, k, _)| in_start(k)).collect();
            let inside: Vec<_> = from.iter().take_while(|(_, k, _)| before_end(k)).collect();
            let want_rows: Vec<(usize, Vec<u8>, Vec<u8>)> = if reversed {
                Vec::new()
            } else {
                inside.iter().take(max).map(|(i, k, v)| (*i, k.to_vec(), v.to_vec())).collect()
            };
            let want_end = if reversed {
                RowsEnd::End
            } else if inside.len() > max {
                RowsEnd::Full
            } else if inside.len() < from.len() {
                RowsEnd::End
            } else {
                RowsEnd::Leaf(true)
            };
            proptest::prop_assert_eq!(got, LeafScan::Rows(want_end));
            let got_rows: Vec<(usize, Vec<u8>, Vec<u8>)> = rows.rows.iter().map(|&r| {
                let (k, v) = rows.row(r);
                (r.slot, k.to_vec(), v.to_vec())
            }).collect();
            proptest::prop_assert_eq!(got_rows, want_rows);
            if want_end == RowsEnd::Leaf(true) {
                proptest::prop_assert_eq!(&rows.high[..], &b"y"[..]);
            }
        }

        /// `probe_run` gives each key of an ascending run the answer `probe` gives it alone, on leaves and inner
        /// nodes, for runs inside the fences and runs that cross either of them (or both), short runs (each key's
        /// search binary from the previous key's slot) and long ones (galloping from it), and on nodes with bytes
        /// patched anywhere while their slots still hold ascending keys that match them: the first and last key's
        /// fence tests bound the others' whatever the header says. On other patched bytes (a torn page's, slots out
        /// of order) the answers may differ, as the searches start from other slots: one answer a key, no panic.
        #[test]
        fn probe_run_matches_probe(
            inner in proptest::bool::ANY,
            keys in proptest::collection::vec(
                (
                    proptest::sample::select(vec![b'a', b'b', b'c', b'c', b'c', b'x', b'y', b'z']),
                    proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 2, 0xff]), 0..4),
                ),
                0..200),
            patches in proptest::collection::vec((0usize..U, proptest::num::u8::ANY), 0..3),
            expect in proptest::option::of(0u8..3),
        ) {
            let mut b = fenced_node(inner);
            for (at, x) in patches {
                b[at] = x;
            }
            // Mostly inside the fences [b, y), some runs starting or ending outside.
            let mut keys: Vec<Vec<u8>> = keys.into_iter().map(|(first, rest)| [&[first][..], &rest].concat()).collect();
            keys.sort();
            let mut got = Vec::new();
            probe_run(&b[..], keys.len(), |i| &keys[i], expect, &mut got);
            let want: Vec<Probe> = keys.iter().map(|k| probe(&b[..], k, expect, None)).collect();
            if slots_ascend(&b) {
                proptest::prop_assert_eq!(got, want);
            } else {
                proptest::prop_assert_eq!(got.len(), want.len());
            }
        }

        /// `probe` restarts exactly for keys its node's fences do not cover ([`Node::covers`], byte-slice order),
        /// for fences of 1 to 10 bytes (the one-compare path takes those of up to 8 against keys of 8 or more) and
        /// keys of any length.
        #[test]
        fn probe_fence_check_matches_covers(
            a in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]), 1..11),
            b in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]), 1..11),
            low_infinite in proptest::bool::ANY,
            high_infinite in proptest::bool::ANY,
            keys in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]), 0..13), 1..30),
        ) {
            proptest::prop_assume!(a != b);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let low = (!low_infinite).then_some(lo.as_slice());
            let high = (!high_infinite).then_some(hi.as_slice());
            let b = leaf(low, high);
            let n = Node::parse(&b).unwrap();
            for k in &keys {
                let restart = probe(&b[..], k, Some(0), None) == Probe::Restart;
                proptest::prop_assert_eq!(restart, !n.covers(k), "key {:?} fences {:?} {:?}", k, low, high);
            }
        }

        /// Head-based search (on a plain slice and through `probe`, and started from any slot at or before the
        /// answer, galloping or binary) agrees with a linear search over sorted keys, for keys that tie in their
        /// heads, end inside them, or hold zero bytes, under fences sharing a prefix.
        #[test]
        fn head_search_matches_linear(
            prefix in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 0x7f, 0xff]), 0..6),
            suffixes in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 2, 0x80, 0xff]), 0..9), 1..60),
            probes in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 2, 0x80, 0xff]), 0..9), 1..40),
            inner in proptest::bool::ANY,
            fenced in proptest::bool::ANY,
        ) {
            // Fences [prefix, prefix ++ ff ff ..): every key starting with `prefix` below the high fence is covered.
            let low = prefix.clone();
            let mut high = prefix.clone();
            high.extend_from_slice(&[0xff; 10]);
            let (lo_f, hi_f) = if fenced { (Some(&low[..]), Some(&high[..])) } else { (None, None) };
            let mut b = vec![0u8; U];
            let (kind, level) = if inner { (KIND_INNER, 1) } else { (KIND_LEAF, 0) };
            init(&mut b, kind, level, 5, lo_f, hi_f);
            let with_prefix = |s: &Vec<u8>| [&prefix[..], s].concat();
            let mut keys: Vec<Vec<u8>> = suffixes.iter().map(with_prefix).collect();
            keys.sort();
            keys.dedup();
            for (i, k) in keys.iter().enumerate() {
                let n = Node::parse(&b).unwrap();
                let at = n.search(k).unwrap().unwrap_err();
                proptest::prop_assert!(insert_at(&mut b, at, k, &(i as u32).to_le_bytes()).unwrap());
            }
            let n = Node::parse(&b).unwrap();
            proptest::prop_assert_eq!(n.check_slots(), Ok(()));
            for p in probes.iter().map(with_prefix).chain(keys.iter().cloned()) {
                let want = keys.binary_search(&p);
                proptest::prop_assert_eq!(n.search(&p), Some(want), "key {:?}", p);
                // From any slot whose keys before it are below `p` (up to its answer), galloping or binary.
                for slot in 0..=want.unwrap_or_else(|i| i) {
                    for gallop in [false, true] {
                        let from = SearchFrom { slot, gallop };
                        let key = SearchKey::new(&p);
                        let got = search_slots(&b[..], n.slots_at, n.count, n.heap_lo, n.prefix, key, from);
                        proptest::prop_assert_eq!(got.map(|(r, _)| r), Some(want), "key {:?} from {:?}", p, from);
                    }
                }
                let mut val = Vec::new();
                let got = probe(&b[..], &p, None, Some(&mut val));
                if inner {
                    let pos = match want { Ok(i) => i + 1, Err(i) => i };
                    proptest::prop_assert_eq!(got, Probe::Child { page: n.child_at(pos).unwrap(), level: 0 });
                } else {
                    proptest::prop_assert_eq!(got, Probe::Leaf { found: want.is_ok() });
                    if let Ok(i) = want {
                        proptest::prop_assert_eq!(val, (i as u32).to_le_bytes().to_vec());
                    }
                }
            }
        }
    }

    #[test]
    fn redistribute_balances_two_leaves() {
        let mut l = leaf(Some(b"a"), Some(b"m"));
        let mut r = leaf(Some(b"m"), None);
        init(&mut l, KIND_LEAF, 0, 9, Some(b"a"), Some(b"m"));
        leaf_upsert(&mut l, b"b", &[1; 100]).unwrap();
        for i in 0..30u8 {
            leaf_upsert(&mut r, &[b'n', i], &[2; 100]).unwrap();
        }
        let sep = redistribute_leaves(&mut l, &mut r, 9, |_| true).unwrap().unwrap();
        let (ln, rn) = (Node::parse(&l).unwrap(), Node::parse(&r).unwrap());
        assert_eq!(ln.count() + rn.count(), 31);
        assert!(ln.count() >= 14 && rn.count() >= 14, "{} {}", ln.count(), rn.count());
        assert_eq!((ln.high(), rn.low()), (Some(&sep[..]), Some(&sep[..])));
        assert_eq!((ln.low(), rn.high(), ln.link()), (Some(&b"a"[..]), None, 9));
        // A parent that cannot take the separator leaves both pages as they were.
        let (l2, r2) = (l.clone(), r.clone());
        assert_eq!(redistribute_leaves(&mut l, &mut r, 9, |_| false).unwrap(), None);
        assert_eq!((l, r), (l2, r2));
    }

    #[test]
    fn inner_inserts_and_removes_keep_the_children_array_in_slot_order() {
        // Separators of 1 to 20 bytes (heads tie on the long ones) under fences sharing a prefix, inserted and
        // removed at random, with compactions when the heap fills with garbage: after each change every child
        // number in the array is its entry's, and a probe of each separator, and of keys between them, descends
        // to the model's child (read from the array, not the entry).
        let (low, high) = (b"in\x00".to_vec(), b"in\xff".to_vec());
        let mut rnd = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut b = vec![0u8; U];
        init(&mut b, KIND_INNER, 3, 77, Some(&low), Some(&high));
        let mut model: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        let mut compactions = 0;
        for step in 0..4000u32 {
            let n = Node::parse(&b).unwrap();
            if rnd(5) < 3 || model.is_empty() {
                let mut sep = b"in".to_vec();
                sep.extend((0..1 + rnd(20)).map(|_| 1 + rnd(3) as u8));
                if model.contains_key(&sep) {
                    continue;
                }
                let at = n.search(&sep).unwrap().unwrap_err();
                let before = n.hole().1;
                let fits = insert_at(&mut b, at, &sep, &step.to_le_bytes()).unwrap();
                if fits {
                    compactions += usize::from(before < entry_size(KIND_INNER, &sep, &[0; 4]));
                    model.insert(sep, step);
                } else {
                    // Full: empty a good part of it, leaving garbage for the next inserts to compact.
                    for _ in 0..model.len() / 2 {
                        let i = rnd(model.len() as u64) as usize;
                        remove_at(&mut b, i).unwrap();
                        let k = model.keys().nth(i).unwrap().clone();
                        model.remove(&k);
                    }
                }
            } else {
                let i = rnd(model.len() as u64) as usize;
                remove_at(&mut b, i).unwrap();
                let k = model.keys().nth(i).unwrap().clone();
                model.remove(&k);
            }
            let n = Node::parse(&b).unwrap();
            assert_eq!(n.check_slots(), Ok(()), "step {step}");
            assert_eq!(n.count(), model.len());
            assert_eq!(n.child_at(0), Some(77));
            for (p, (k, &c)) in model.iter().enumerate() {
                assert_eq!(n.key(p), Some(&k[..]));
                assert_eq!(n.child_at(p + 1), Some(c), "step {step}");
                assert_eq!(probe(&b[..], k, Some(3), None), Probe::Child { page: c, level: 2 });
                let mut above = k.clone();
                above.push(0);
                assert_eq!(probe(&b[..], &above, Some(3), None), Probe::Child { page: c, level: 2 });
            }
            assert_eq!(
                probe(&b[..], b"in\x00", Some(3), None),
                Probe::Child { page: 77, level: 2 }
            );
        }
        assert!(compactions > 10, "{compactions} compactions");
    }
}
