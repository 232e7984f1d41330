//! The doublewrite area's format: a copy of each batch of pages the pool writes, synced before the pages are
//! written in place, so that a page a crash tears in place can be restored from its copy (InnoDB's doublewrite
//! buffer), for a file opened with [`crate::FileOptions::doublewrite`] (ARCHITECTURE.md, "Torn pages after a
//! crash"). The pool's write path (`writer.rs`, `write_runs`: [`Area::reserve`], [`Area::write`] before the
//! in-place writes, the batch dropped once they are noted) and its syncs (`sync_file`: [`Area::done_candidate`]
//! before the fsync, [`Area::note_done`] after it) drive it; the file's registration opens it ([`Area::open`]).
//!
//! Owns the area's bytes in a [`RecordStore`] beside the data file (for a file opened by path, a sidecar):
//!
//! | bytes | what |
//! |---|---|
//! | 0..4096, 4096..8192 | two *note* slots (the one a note's sequence selects: its parity), each a 4 KiB block of its own |
//! | 8192.. | `slots` batch slots of `4096 + pages_per_slot * page_size` bytes each, a ring: batch `seq` in slot `seq % slots` |
//!
//! A **batch slot** is a 4 KiB header (magic `BPDWBTCH`, format, the file's identity, the batch's sequence, the page
//! count, a CRC-32C of the header and its page numbers, then the page numbers) and the pages' bytes as the pool
//! writes them in place (stamped: each copy verifies by its own page checksum, so the header's CRC need not cover
//! them). A **note** (magic `BPDWNOTE`, format, identity, page size, `slots`, `pages_per_slot`, its own sequence,
//! `done`, CRC-32C) says that every batch of sequence up to `done` is durable in place: its in-place writes
//! completed before a sync of the data file that succeeded. Notes are written as the file record's slots are (the
//! slot the current note is not in, then a sync), so a torn note leaves the previous one.
//!
//! **Why only batches after `done`.** A write that completed but was not synced can be torn by a power loss as
//! much as one in flight, so a batch's copy must outlive every in-place write of it until a sync of the data file
//! covers them: the ring reuses slot `seq % slots` for batch `seq` only when batch `seq - slots` is at or below
//! `done` ([`Layout::may_reuse`]); the writer syncs the data file (and notes it) first otherwise. At open the
//! *candidates* are the batches after `done` whose header verifies, names the file and sits in its own slot; a
//! page of theirs is restored only if its in-place copy fails verification, from the newest candidate that holds
//! it. A page corrupt for another reason (not among the candidates) stays corrupt, never "repaired" with an old
//! copy; a page the candidates hold that verifies in place is left as it is (the in-place write completed, or never
//! began and the page holds its previous write, which the engine's log takes from there).

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use crate::checksum::{self, Verified};
use crate::page::{AlignedBuf, PageNo};
use crate::storage::{read_full, RecordStore, Storage};

/// The unit a write through a file system puts in flight: no two slots, and no slot and a header, share one.
pub(crate) const BLOCK: usize = 4096;
/// Byte offsets of the two note slots: a note of sequence `seq` goes to `NOTE_AT[seq % 2]`.
const NOTE_AT: [u64; 2] = [0, BLOCK as u64];
/// Where the batch slots start.
const SLOTS_AT: u64 = 2 * BLOCK as u64;
const NOTE_MAGIC: &[u8; 8] = b"BPDWNOTE";
const BATCH_MAGIC: &[u8; 8] = b"BPDWBTCH";
const FORMAT: u32 = 1;
/// Bytes of a note.
const NOTE_BYTES: usize = 48;
/// Bytes of a batch header's fixed fields; the page numbers follow.
const BATCH_FIXED: usize = 32;
/// The most batch slots of the pool's areas: a sync of the data file at least every this many batches.
pub(crate) const SLOTS: u32 = 64;

/// Batch slots of the area of a file of `file_pages` pages, for batches of up to `batch_pages`: as many as its
/// pages fill (so that a checkpoint writing the whole file wraps the ring no sooner than it would with all
/// [`SLOTS`], and the area is about as large as the file), at least 2, at most [`SLOTS`] (33 MB at 4 KiB pages).
/// Chosen at each open (the open's note makes every batch the area holds done, so nothing is read with the new
/// shape but batches written in it), and grown as the file grows, at a note that finds every batch written into
/// the area done ([`Area::note_done`]; R57-O1: a new file's area stayed at 2 slots until its next open, a sync of
/// the data file every other batch while it was loaded). Never shrunk while open.
pub(crate) fn slots_for(file_pages: u64, batch_pages: usize) -> u32 {
    u32::try_from(file_pages.div_ceil(batch_pages.max(1) as u64))
        .unwrap_or(SLOTS)
        .clamp(2, SLOTS)
}
/// The most pages one batch slot can name in its 4 KiB header.
pub(crate) const PAGES_PER_SLOT_MAX: usize = (BLOCK - BATCH_FIXED) / 4;

/// The area's shape: chosen at each open, its slots grown with the file ([`Area::note_done`]), kept in each note.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Layout {
    pub(crate) page_size: u32,
    pub(crate) slots: u32,
    pub(crate) pages_per_slot: u32,
}

impl Layout {
    /// A layout, `None` if a slot could not name its pages in its header or the ring has fewer than two slots.
    pub(crate) fn new(page_size: usize, slots: u32, pages_per_slot: usize) -> Option<Layout> {
        let fits = page_size > 0
            && page_size.is_multiple_of(BLOCK)
            && slots >= 2
            && (1..=PAGES_PER_SLOT_MAX).contains(&pages_per_slot);
        fits.then_some(Layout {
            page_size: page_size as u32,
            slots,
            pages_per_slot: pages_per_slot as u32,
        })
    }

    /// Bytes of one batch slot: its header block and room for its pages.
    pub(crate) fn slot_bytes(&self) -> u64 {
        BLOCK as u64 + u64::from(self.pages_per_slot) * u64::from(self.page_size)
    }

    /// Bytes of the whole area: its notes and every slot.
    pub(crate) fn bytes(&self) -> u64 {
        SLOTS_AT + u64::from(self.slots) * self.slot_bytes()
    }

    /// Byte offset of the slot that batch `seq` goes to.
    pub(crate) fn slot_at(&self, seq: u64) -> u64 {
        SLOTS_AT + (seq % u64::from(self.slots)) * self.slot_bytes()
    }

    /// Whether batch `seq` may be written into its slot when every batch up to `done` is durable in place: the
    /// batch the slot held before (`seq - slots`) must be.
    pub(crate) fn may_reuse(&self, seq: u64, done: u64) -> bool {
        seq < u64::from(self.slots) || seq - u64::from(self.slots) <= done
    }
}

/// A note: every batch up to `done` is durable in place.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Note {
    pub(crate) identity: u32,
    pub(crate) layout: Layout,
    pub(crate) seq: u64,
    pub(crate) done: u64,
}

impl Note {
    fn encode(&self) -> [u8; NOTE_BYTES] {
        let mut b = [0u8; NOTE_BYTES];
        b[0..8].copy_from_slice(NOTE_MAGIC);
        b[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        b[12..16].copy_from_slice(&self.identity.to_le_bytes());
        b[16..20].copy_from_slice(&self.layout.page_size.to_le_bytes());
        b[20..24].copy_from_slice(&self.layout.slots.to_le_bytes());
        b[24..28].copy_from_slice(&self.layout.pages_per_slot.to_le_bytes());
        b[28..36].copy_from_slice(&self.seq.to_le_bytes());
        b[36..44].copy_from_slice(&self.done.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Note> {
        if b.len() < NOTE_BYTES || &b[0..8] != NOTE_MAGIC || u32_at(b, 44) != crc32c::crc32c(&b[0..44]) {
            return None;
        }
        if u32_at(b, 8) != FORMAT {
            return None;
        }
        let layout = Layout::new(u32_at(b, 16) as usize, u32_at(b, 20), u32_at(b, 24) as usize)?;
        Some(Note {
            identity: u32_at(b, 12),
            layout,
            seq: u64_at(b, 28),
            done: u64_at(b, 36),
        })
    }
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// The header block of batch `seq` of the file of `identity`, naming `pages` (at most the layout's
/// `pages_per_slot`, checked by the caller), in the order their copies follow it.
pub(crate) fn batch_header(identity: u32, seq: u64, pages: &[PageNo]) -> [u8; BLOCK] {
    debug_assert!(pages.len() <= PAGES_PER_SLOT_MAX);
    let mut b = [0u8; BLOCK];
    b[0..8].copy_from_slice(BATCH_MAGIC);
    b[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    b[12..16].copy_from_slice(&identity.to_le_bytes());
    b[16..24].copy_from_slice(&seq.to_le_bytes());
    b[24..28].copy_from_slice(&(pages.len() as u32).to_le_bytes());
    for (i, &p) in pages.iter().enumerate() {
        let at = BATCH_FIXED + 4 * i;
        b[at..at + 4].copy_from_slice(&p.to_le_bytes());
    }
    let end = BATCH_FIXED + 4 * pages.len();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&b[0..28]), &b[BATCH_FIXED..end]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

/// A batch header that verifies: `(identity, seq, pages)`.
fn decode_batch(b: &[u8], max_pages: usize) -> Option<(u32, u64, Vec<PageNo>)> {
    if b.len() < BATCH_FIXED || &b[0..8] != BATCH_MAGIC || u32_at(b, 8) != FORMAT {
        return None;
    }
    let count = u32_at(b, 24) as usize;
    let end = BATCH_FIXED.checked_add(count.checked_mul(4)?)?;
    if count > max_pages || end > b.len() {
        return None;
    }
    if u32_at(b, 28) != crc32c::crc32c_append(crc32c::crc32c(&b[0..28]), &b[BATCH_FIXED..end]) {
        return None;
    }
    let pages = b[BATCH_FIXED..end]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Some((u32_at(b, 12), u64_at(b, 16), pages))
}

/// Writes `note` into the slot its sequence selects and syncs the store.
pub(crate) fn store_note(store: &dyn RecordStore, note: &Note) -> io::Result<()> {
    store.write_at(&note.encode(), NOTE_AT[(note.seq % 2) as usize])?;
    store.sync()
}

/// Reads what `buf.len()` bytes at `at` hold, fewer at the store's end.
fn read_upto(store: &dyn RecordStore, buf: &mut [u8], at: u64) -> io::Result<usize> {
    read_full(|b, o| store.read_at(b, o), buf, at)
}

/// The newest note that verifies, if any.
pub(crate) fn load_note(store: &dyn RecordStore) -> io::Result<Option<Note>> {
    let mut best: Option<Note> = None;
    for at in NOTE_AT {
        let mut b = [0u8; NOTE_BYTES];
        let got = read_upto(store, &mut b, at)?;
        if let Some(n) = Note::decode(&b[..got]) {
            if best.is_none_or(|b| n.seq > b.seq) {
                best = Some(n);
            }
        }
    }
    Ok(best)
}

/// Where the newest candidate copy of a page lies ([`plan`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Copy {
    /// The batch that holds it.
    pub(crate) seq: u64,
    /// Byte offset of the copy in the area.
    pub(crate) at: u64,
}

/// The open's repair plan for the file of `identity`, from the area's newest note: each page that a batch after
/// the note's `done` names, with the newest such batch's copy of it (module docs, "Why only batches after
/// `done`"). Empty for an area without a valid note of this file (never written, or another file's). A batch
/// slot whose header does not verify, names another file, or holds a batch of another slot's sequence is no
/// candidate (a torn header: its copies may be torn too, and its in-place writes never began, since they wait for
/// the slot's sync).
pub(crate) fn plan(store: &dyn RecordStore, identity: u32) -> io::Result<Plan> {
    let mut out = Plan::default();
    let Some(note) = load_note(store)? else {
        return Ok(out);
    };
    out.note_seq = note.seq;
    if note.identity != identity {
        return Ok(out);
    }
    out.note = Some(note);
    out.last = note.done;
    let layout = note.layout;
    let mut header = vec![0u8; BLOCK];
    for slot in 0..u64::from(layout.slots) {
        let at = SLOTS_AT + slot * layout.slot_bytes();
        let got = read_upto(store, &mut header, at)?;
        let Some((id, seq, pages)) = decode_batch(&header[..got], layout.pages_per_slot as usize) else {
            continue;
        };
        if id != identity || seq % u64::from(layout.slots) != slot {
            continue;
        }
        out.last = out.last.max(seq);
        if seq <= note.done {
            continue;
        }
        for (i, page) in pages.into_iter().enumerate() {
            let copy = Copy {
                seq,
                at: at + BLOCK as u64 + i as u64 * u64::from(layout.page_size),
            };
            if out.copies.get(&page).is_none_or(|c| c.seq < seq) {
                out.copies.insert(page, copy);
            }
        }
    }
    Ok(out)
}

/// What [`plan`] found.
#[derive(Default, Debug)]
pub(crate) struct Plan {
    /// The newest candidate copy of each page the candidates hold.
    pub(crate) copies: BTreeMap<PageNo, Copy>,
    /// The note read (of this file).
    pub(crate) note: Option<Note>,
    /// The newest valid note's sequence, whichever file's it is (0: none): the next note goes past it, so that a
    /// stale note of another file (an area left beside a file made anew) never outranks this file's.
    pub(crate) note_seq: u64,
    /// The highest batch sequence of this file the area holds, or the note's `done` if higher: the next open's
    /// batches start past it, so that none of them reads as done already.
    pub(crate) last: u64,
}

/// The area of one open file: its shape, and which batches are written, in flight and done. The store itself is
/// the storage's ([`Storage::doublewrite_store`]), asked at each use.
pub(crate) struct Area {
    /// Pages a slot holds: fixed for the open (a growth adds slots of the same size).
    pages_per_slot: u32,
    identity: u32,
    state: parking_lot::Mutex<State>,
    /// Signalled when a batch completes or `done` rises.
    changed: parking_lot::Condvar,
    /// Serialises note writes.
    noting: parking_lot::Mutex<()>,
}

struct State {
    /// The area's shape as the newest note records it: where batch `seq` goes.
    layout: Layout,
    /// Batches in flight that took their slot ([`Area::write`]): the shape may not change under them.
    slotted: usize,
    /// A note with a larger shape is being written: no batch takes its slot until it is (or failed).
    growing: bool,
    /// The next batch's sequence.
    next: u64,
    /// Batches reserved and not completed: waiting for their slot, being copied, or being written in place.
    in_flight: BTreeSet<u64>,
    /// Every batch up to this is durable in place, as the newest note says.
    done: u64,
    /// The newest note's sequence.
    note_seq: u64,
}

/// A batch reserved by [`Area::reserve`]: completed when dropped, so that a batch that failed anywhere never holds
/// `done` back (a failed in-place write fails the file, whose syncs are refused from then on, so nothing notes past
/// it in this open).
pub(crate) struct Batch<'a> {
    area: &'a Area,
    pub(crate) seq: u64,
    /// Whether it took its slot ([`Area::write`]).
    slotted: std::cell::Cell<bool>,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let mut st = self.area.state.lock();
        st.in_flight.remove(&self.seq);
        if self.slotted.get() {
            st.slotted -= 1;
        }
        drop(st);
        self.area.changed.notify_all();
    }
}

impl Area {
    /// Opens the area of the file of `identity` in `store`, before anything reads the file's pages: each page a
    /// candidate batch holds ([`plan`]) that does not verify in `storage` (torn, short, zeroes) is written again
    /// from its copy, if the copy verifies; the storage is synced if any was; then a note marks every batch the
    /// area holds done (`layout` is this open's). The area's bytes are set aside first where they can be
    /// ([`RecordStore::reserve`]). Returns the area and the pages restored.
    pub(crate) fn open(
        store: &dyn RecordStore,
        storage: &dyn Storage,
        identity: u32,
        layout: Layout,
    ) -> io::Result<(Area, Vec<PageNo>)> {
        store.reserve(layout.bytes())?;
        let found = plan(store, identity)?;
        let page_size = layout.page_size as usize;
        let mut restored = Vec::new();
        let mut page = AlignedBuf::zeroed(page_size);
        let mut copy = AlignedBuf::zeroed(page_size);
        for (&no, c) in &found.copies {
            let at = u64::from(no) * page_size as u64;
            let got = read_full(|b, o| storage.read_at(b, o), &mut page, at)?;
            if got == page_size && checksum::verify_for(&page, no, Some(identity)) == Ok(Verified::Valid) {
                continue;
            }
            let got = read_upto(store, &mut copy, c.at)?;
            if got != page_size || checksum::verify_for(&copy, no, Some(identity)) != Ok(Verified::Valid) {
                continue;
            }
            storage.write_at(&copy, at)?;
            restored.push(no);
        }
        if !restored.is_empty() {
            storage.sync()?;
        }
        let note = Note {
            identity,
            layout,
            seq: found.note_seq + 1,
            done: found.last,
        };
        store_note(store, &note)?;
        Ok((
            Area {
                pages_per_slot: layout.pages_per_slot,
                identity,
                state: parking_lot::Mutex::new(State {
                    layout,
                    slotted: 0,
                    growing: false,
                    next: found.last + 1,
                    in_flight: BTreeSet::new(),
                    done: found.last,
                    note_seq: note.seq,
                }),
                changed: parking_lot::Condvar::new(),
                noting: parking_lot::Mutex::new(()),
            },
            restored,
        ))
    }

    /// The most pages a batch may hold.
    pub(crate) fn pages_per_batch(&self) -> usize {
        self.pages_per_slot as usize
    }

    /// The area's current shape.
    #[cfg(test)]
    pub(crate) fn layout(&self) -> Layout {
        self.state.lock().layout
    }

    /// Reserves the next batch's sequence, in flight until the returned [`Batch`] is dropped.
    pub(crate) fn reserve(&self) -> Batch<'_> {
        let mut st = self.state.lock();
        let seq = st.next;
        st.next += 1;
        st.in_flight.insert(seq);
        Batch {
            area: self,
            seq,
            slotted: std::cell::Cell::new(false),
        }
    }

    /// Whether `batch`'s slot may be written now; if not, `Err(wait)`: `true` if a batch it must outlive is still
    /// in flight (wait for [`Area::wait_changed`]), `false` if every such batch completed and only a sync of the
    /// data file (and its note) is missing.
    pub(crate) fn slot_free(&self, batch: &Batch<'_>) -> Result<(), bool> {
        let st = self.state.lock();
        if st.layout.may_reuse(batch.seq, st.done) {
            return Ok(());
        }
        let before = batch.seq - u64::from(st.layout.slots);
        Err(st.in_flight.range(..=before).next().is_some())
    }

    /// Waits (up to 10 ms) for a batch to complete or `done` to rise.
    pub(crate) fn wait_changed(&self) {
        let mut st = self.state.lock();
        self.changed.wait_for(&mut st, std::time::Duration::from_millis(10));
    }

    /// Writes `batch` into its slot and syncs the store: `slot` is the header's block (filled here, naming
    /// `pages`) followed by the pages' copies in that order, stamped as they will be written in place, so that the
    /// whole slot is one transfer (aligned, when the pool's buffer is: a direct store takes it as it is). The
    /// caller checked [`Area::slot_free`] (which a growth since keeps true: more slots only move the batch that
    /// last held `batch`'s slot further back).
    pub(crate) fn write(
        &self,
        store: &dyn RecordStore,
        batch: &Batch<'_>,
        pages: &[PageNo],
        slot: &mut [u8],
    ) -> io::Result<()> {
        debug_assert!(pages.len() <= self.pages_per_batch());
        let at = {
            let mut st = self.state.lock();
            while st.growing {
                self.changed.wait(&mut st);
            }
            debug_assert_eq!(slot.len(), BLOCK + pages.len() * st.layout.page_size as usize);
            if !batch.slotted.replace(true) {
                st.slotted += 1;
            }
            st.layout.slot_at(batch.seq)
        };
        slot[..BLOCK].copy_from_slice(&batch_header(self.identity, batch.seq, pages));
        store.write_at(slot, at)?;
        store.sync()
    }

    /// The `done` a sync of the data file that starts now may note once it succeeds: every batch below the oldest
    /// one in flight has completed its in-place writes.
    pub(crate) fn done_candidate(&self) -> u64 {
        let st = self.state.lock();
        st.in_flight.first().map_or(st.next - 1, |&oldest| oldest - 1)
    }

    /// Notes durably that every batch up to `done` is durable in place (after a sync of the data file that began
    /// after they completed): nothing if the newest note says so already.
    ///
    /// The note grows the ring to `slots` (the file's size asks for more: [`slots_for`]) when every batch written
    /// into the area is at or below `done`: each batch after it is still in flight and has not taken its slot
    /// (those wait for the note, [`Area::write`]). No copy a later open would need then lies where the larger
    /// shape does not look (a slot keeps its offset; only batches after `done` are candidates), and a torn note
    /// leaves the previous one, under which nothing was written in the new slots. The room is reserved first
    /// ([`RecordStore::reserve`]); where that fails the ring keeps its shape.
    pub(crate) fn note_done(&self, store: &dyn RecordStore, done: u64, slots: u32) -> io::Result<()> {
        let slots = slots.min(SLOTS);
        let _one = self.noting.lock();
        let (seq, mut layout, grow) = {
            let mut st = self.state.lock();
            if done <= st.done {
                return Ok(());
            }
            let unwritten_after_done =
                st.slotted == 0 && st.in_flight.range(done + 1..).count() as u64 == st.next.saturating_sub(done + 1);
            let grow = slots > st.layout.slots && unwritten_after_done;
            st.growing = grow;
            (st.note_seq + 1, st.layout, grow)
        };
        // Clears `growing` however this returns (a caller's store may panic: `catch_io` above turns it into an
        // error, and no batch may wait for the flag forever).
        let _clear = grow.then_some(ClearGrowing(self));
        if grow {
            let larger = Layout { slots, ..layout };
            if store.reserve(larger.bytes()).is_ok() {
                layout = larger;
            }
        }
        store_note(
            store,
            &Note {
                identity: self.identity,
                layout,
                seq,
                done,
            },
        )?;
        let mut st = self.state.lock();
        st.note_seq = seq;
        st.done = done;
        st.layout = layout;
        drop(st);
        self.changed.notify_all();
        Ok(())
    }
}

/// Clears [`State::growing`] when dropped, and wakes the batches waiting for it.
struct ClearGrowing<'a>(&'a Area);

impl Drop for ClearGrowing<'_> {
    fn drop(&mut self) {
        self.0.state.lock().growing = false;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryRecord;

    fn layout() -> Layout {
        Layout::new(4096, 4, 3).unwrap()
    }

    #[test]
    fn an_area_has_as_many_slots_as_its_file_fills_two_to_sixty_four() {
        assert_eq!(slots_for(0, 128), 2);
        assert_eq!(slots_for(256, 128), 2);
        assert_eq!(slots_for(257, 128), 3);
        assert_eq!(slots_for(128 * 40, 128), 40);
        assert_eq!(slots_for(u64::MAX, 128), SLOTS);
        assert_eq!(Layout::new(4096, SLOTS, 128).unwrap().bytes(), 33_824_768);
    }

    /// Writes batch `seq` of `pages` into its slot as the writer would: header, then each page filled with its
    /// number's low byte and the batch's.
    fn write_batch(st: &MemoryRecord, l: &Layout, id: u32, seq: u64, pages: &[PageNo]) {
        let at = l.slot_at(seq);
        st.write_at(&batch_header(id, seq, pages), at).unwrap();
        for (i, &p) in pages.iter().enumerate() {
            let fill = vec![(p as u8) ^ (seq as u8); l.page_size as usize];
            st.write_at(&fill, at + BLOCK as u64 + i as u64 * u64::from(l.page_size))
                .unwrap();
        }
    }

    fn note(st: &MemoryRecord, id: u32, seq: u64, done: u64) {
        store_note(
            st,
            &Note {
                identity: id,
                layout: layout(),
                seq,
                done,
            },
        )
        .unwrap();
    }

    #[test]
    fn layouts_refuse_what_a_header_cannot_name() {
        assert!(Layout::new(4096, 1, 8).is_none());
        assert!(Layout::new(4096, 2, 0).is_none());
        assert!(Layout::new(4096, 2, PAGES_PER_SLOT_MAX + 1).is_none());
        assert!(Layout::new(1000, 2, 8).is_none());
        let l = Layout::new(8192, 3, PAGES_PER_SLOT_MAX).unwrap();
        assert_eq!(l.slot_at(0), SLOTS_AT);
        assert_eq!(l.slot_at(4), SLOTS_AT + l.slot_bytes());
    }

    #[test]
    fn a_slot_is_reused_only_once_its_last_batch_is_done() {
        let l = layout();
        for seq in 0..4 {
            assert!(l.may_reuse(seq, 0));
        }
        // Batch 4 goes where batch 0 was: batch 0 must be done.
        assert!(l.may_reuse(4, 0));
        assert!(!l.may_reuse(5, 0));
        assert!(l.may_reuse(5, 1));
        assert!(!l.may_reuse(9, 4));
        assert!(l.may_reuse(9, 5));
    }

    #[test]
    fn notes_round_trip_and_a_torn_one_leaves_the_previous() {
        let st = MemoryRecord::default();
        assert_eq!(load_note(&st).unwrap(), None);
        note(&st, 7, 1, 10);
        note(&st, 7, 2, 20);
        assert_eq!(load_note(&st).unwrap().map(|n| (n.seq, n.done)), Some((2, 20)));
        // Tear the newest note (slot 0): the one before is read.
        st.write_at(&[0xff; 4], NOTE_AT[0] + 36).unwrap();
        assert_eq!(load_note(&st).unwrap().map(|n| (n.seq, n.done)), Some((1, 10)));
        assert_eq!(load_note(&st).unwrap().map(|n| n.layout), Some(layout()));
    }

    #[test]
    fn batch_headers_round_trip_and_refuse_damage() {
        let h = batch_header(9, 42, &[3, 4, 5, 100]);
        assert_eq!(decode_batch(&h, 8), Some((9, 42, vec![3, 4, 5, 100])));
        // More pages than the layout allows, a damaged page number, a damaged count: no batch.
        assert_eq!(decode_batch(&h, 3), None);
        let mut bad = h;
        bad[BATCH_FIXED + 4] ^= 1;
        assert_eq!(decode_batch(&bad, 8), None);
        let mut bad = h;
        bad[24] = 0xff;
        assert_eq!(decode_batch(&bad, 8), None);
        assert_eq!(decode_batch(&[0u8; BLOCK], 8), None);
    }

    #[test]
    fn the_plan_holds_the_newest_copy_of_each_page_of_the_batches_after_done() {
        let st = MemoryRecord::default();
        let l = layout();
        // Nothing noted yet: no plan, whatever the slots hold.
        write_batch(&st, &l, 7, 1, &[10, 11]);
        assert!(plan(&st, 7).unwrap().copies.is_empty());
        note(&st, 7, 1, 0);
        write_batch(&st, &l, 7, 2, &[11, 12, 13]);
        write_batch(&st, &l, 7, 3, &[13]);
        let p = plan(&st, 7).unwrap().copies;
        assert_eq!(p.keys().copied().collect::<Vec<_>>(), vec![10, 11, 12, 13]);
        assert_eq!(p[&11].seq, 2);
        assert_eq!(p[&13].seq, 3);
        assert_eq!(p[&13].at, l.slot_at(3) + BLOCK as u64);
        assert_eq!(p[&12].at, l.slot_at(2) + BLOCK as u64 + 4096);
        // Another file's identity: nothing.
        assert!(plan(&st, 8).unwrap().copies.is_empty());
        // Batches up to 2 done: only batch 3's page.
        note(&st, 7, 2, 2);
        assert_eq!(
            plan(&st, 7).unwrap().copies.keys().copied().collect::<Vec<_>>(),
            vec![13]
        );
        // Batch 5 wraps into batch 1's slot (1 is done); batch 3's header torn: only batch 5's pages.
        write_batch(&st, &l, 7, 5, &[20]);
        st.write_at(&[0u8; 8], l.slot_at(3)).unwrap();
        assert_eq!(
            plan(&st, 7).unwrap().copies.keys().copied().collect::<Vec<_>>(),
            vec![20]
        );
    }

    /// An area left by another file (its notes of a high sequence): this file's first note goes past them, so the
    /// next open reads this file's note, not the stale one.
    #[test]
    fn another_files_stale_note_never_outranks_this_files() {
        let st = MemoryRecord::default();
        note(&st, 99, 500, 400);
        note(&st, 99, 501, 401);
        let (_area, restored) = Area::open(&st, &crate::storage::MemoryStorage::new(), 7, layout()).unwrap();
        assert!(restored.is_empty());
        let n = load_note(&st).unwrap().unwrap();
        assert_eq!((n.identity, n.seq, n.done), (7, 502, 0));
        assert_eq!(plan(&st, 7).unwrap().note.map(|n| n.seq), Some(502));
    }

    /// R57-O1: a note grows the ring once every batch written into the area is done, and not before; a batch
    /// written after the growth lies where the larger shape looks for it.
    #[test]
    fn a_note_grows_the_ring_only_once_every_written_batch_is_done() {
        let st = MemoryRecord::default();
        let data = crate::storage::MemoryStorage::new();
        let (area, _) = Area::open(&st, &data, 7, Layout::new(4096, 2, 3).unwrap()).unwrap();
        let write = |b: &Batch<'_>, page: PageNo| {
            area.write(&st, b, &[page], &mut vec![0u8; BLOCK + 4096]).unwrap();
        };
        let noted_slots = || load_note(&st).unwrap().unwrap().layout.slots;
        // Batches 1 and 2 written and completed; batch 3 reserved, not in its slot yet.
        for page in [1, 2] {
            write(&area.reserve(), page);
        }
        let b3 = area.reserve();
        // Noting batch 1: batch 2's copy lies after it, where a larger ring would not look. No growth.
        area.note_done(&st, 1, 8).unwrap();
        assert_eq!((area.layout().slots, noted_slots()), (2, 2));
        // Noting batch 2: only batch 3 is after it, and it has not taken its slot: the ring grows, durably.
        area.note_done(&st, 2, 8).unwrap();
        assert_eq!((area.layout().slots, noted_slots()), (8, 8));
        // Batch 3 goes to slot 3 of 8 (slot 1 of 2 before), and the plan finds it there.
        write(&b3, 5);
        drop(b3);
        assert_eq!(
            plan(&st, 7).unwrap().copies[&5].at,
            area.layout().slot_at(3) + BLOCK as u64
        );
        assert_ne!(area.layout().slot_at(3), Layout::new(4096, 2, 3).unwrap().slot_at(3));
        // A batch in its slot and still in flight holds the shape; once it completes and is noted, the ring grows
        // to at most SLOTS.
        let b4 = area.reserve();
        write(&b4, 6);
        area.note_done(&st, 3, 16).unwrap();
        assert_eq!(area.layout().slots, 8);
        drop(b4);
        area.note_done(&st, 4, u32::MAX).unwrap();
        assert_eq!((area.layout().slots, noted_slots()), (SLOTS, SLOTS));
    }

    #[test]
    fn a_batch_in_another_slots_place_is_no_candidate() {
        let st = MemoryRecord::default();
        let l = layout();
        note(&st, 7, 1, 0);
        // A header of batch 6 found in slot 1 (where batch 5 or 1 belongs): not a candidate.
        st.write_at(&batch_header(7, 6, &[1]), l.slot_at(1)).unwrap();
        assert!(plan(&st, 7).unwrap().copies.is_empty());
    }
}
