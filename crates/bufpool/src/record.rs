//! The file record: what bufpool keeps durably about a data file beside its pages.
//!
//! Owns the record's format and its crash-safe update. A record names the file's random *identity* (stamped into
//! every page header, so a page of another file is `Error::Corrupt`), the *page size* it was created with, and
//! the *written mark*: every page below it was written and synced by a checkpoint, so an all-zero page there is a
//! lost write, not a page never written (ARCHITECTURE.md, "Page format and file record").
//!
//! The record lives in the storage's [`RecordStore`] (for a file opened by path, the sidecar `<file>.bpmeta`),
//! never in the page space, so page `n` stays at byte `n * page_size` and storages without a record keep working
//! (*unbound* files: no identity check, no strict mode). Two 512-byte slots, each with a sequence number and a
//! CRC-32C, at bytes 0 and 4096 (the slot a sequence selects: its parity); an update writes the slot the current
//! one is not in, then syncs: a torn update leaves the other slot, the previous record, intact. Each slot has a
//! 4 KiB block of its own (session 44, R44-2 in RELIABILITY.md): through a file system a write puts the whole page
//! of the page cache it touches in flight, and a device that does not write 4 KiB atomically may garble any sector
//! of it at a power loss; until session 44 slot 1 was at byte 512, so every update had both slots in flight.
//! A store in that layout still reads: its slot at 512 is read beside the two, and the first write after reading
//! it goes to byte 4096 ([`seq_after`]), never into the block that holds it; the slot format is unchanged, so a
//! build before session 44 reads slot 0 of the new layout (maybe an older mark than slot 1's: a lower mark checks
//! fewer pages, never more), and writes its own slot 1 at 512, which this build reads. A record is only ever created for an empty file, and never over a record
//! whose mark is above 0: an empty file beside such a record lost pages a checkpoint made durable, and its open is
//! refused (`Error::DataFileEmptied`, R34-20 in RELIABILITY.md); starting such a file over deletes the record too.
//! An open relies on a record it read only after writing it again, into the other slot at the next sequence (never
//! over the slot read, which may be the only one on the device: R43-2), and syncing it (`files.rs`,
//! `open_record`): a record whose sync failed stays readable and is not durable (R42-4).
//!
//! | bytes  | field           |
//! |--------|-----------------|
//! | 0..8   | magic `BPFILREC` |
//! | 8..12  | record format (1) |
//! | 12..16 | page size in bytes |
//! | 16..20 | file identity (random, non-zero) |
//! | 20..24 | written mark (pages) |
//! | 24..32 | sequence number |
//! | 32..36 | CRC-32C of bytes 0..32 |
//! | 36..40 | `MARK` if an engine mark follows, else zeros |
//! | 40..48 | the engine's mark ([`crate::BufferPool::raise_engine_mark`]) |
//! | 48..52 | CRC-32C of bytes 0..48 |
//!
//! The engine's mark (R48-O10 in RELIABILITY.md) is an extension the slot's first 36 bytes do not cover, so a build
//! before it reads a record that has one (format 1 still), and writes its own without one, which this build reads
//! as a record without a mark: never a wrong mark, only none.

use std::io;

use crate::storage::RecordStore;

/// Bytes of one slot; the record is two slots.
pub(crate) const SLOT_BYTES: usize = 512;
/// The unit a write through a file system puts in flight (a page of the page cache): no two slots share one.
const BLOCK: u64 = 4096;
/// Byte offsets of the two slots: slot `seq % 2` holds a record of sequence `seq`.
const SLOT_AT: [u64; 2] = [0, BLOCK];
/// Slot 1 of the layout before session 44, in slot 0's block: read, never written.
const LEGACY_SLOT_AT: u64 = 512;
const _: () = assert!(SLOT_AT[1] / BLOCK != SLOT_AT[0] / BLOCK && SLOT_BYTES as u64 <= BLOCK);
const _: () = assert!(LEGACY_SLOT_AT / BLOCK == SLOT_AT[0] / BLOCK);
const MAGIC: &[u8; 8] = b"BPFILREC";
const FORMAT: u32 = 1;
/// Tag of the engine mark's extension (bytes 36..40).
const MARK_TAG: &[u8; 4] = b"MARK";

/// The decoded record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FileRecord {
    pub(crate) page_size: u32,
    pub(crate) identity: u32,
    pub(crate) written_pages: u32,
    pub(crate) seq: u64,
    /// The engine's mark, if one was raised ([`crate::BufferPool::raise_engine_mark`]).
    pub(crate) engine_mark: Option<u64>,
}

/// What reading a store found.
pub(crate) enum Loaded {
    /// No slot was ever written (an empty store).
    Empty,
    /// The newest valid slot, and the byte offset it was read at (for [`seq_after`]).
    Found(FileRecord, u64),
    /// Bytes are there but no slot is valid.
    Invalid,
}

impl FileRecord {
    fn encode(&self) -> [u8; SLOT_BYTES] {
        let mut b = [0u8; SLOT_BYTES];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        b[12..16].copy_from_slice(&self.page_size.to_le_bytes());
        b[16..20].copy_from_slice(&self.identity.to_le_bytes());
        b[20..24].copy_from_slice(&self.written_pages.to_le_bytes());
        b[24..32].copy_from_slice(&self.seq.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..32]);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
        if let Some(mark) = self.engine_mark {
            b[36..40].copy_from_slice(MARK_TAG);
            b[40..48].copy_from_slice(&mark.to_le_bytes());
            let crc = crc32c::crc32c(&b[0..48]);
            b[48..52].copy_from_slice(&crc.to_le_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Option<FileRecord> {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        if b.len() < 36 || &b[0..8] != MAGIC || u32_at(32) != crc32c::crc32c(&b[0..32]) || u32_at(8) != FORMAT {
            return None;
        }
        // A mark whose extension does not verify is no mark (the first 36 bytes verified on their own).
        let engine_mark = (b.len() >= 52 && &b[36..40] == MARK_TAG && u32_at(48) == crc32c::crc32c(&b[0..48]))
            .then(|| u64::from_le_bytes(b[40..48].try_into().expect("8 bytes")));
        Some(FileRecord {
            page_size: u32_at(12),
            identity: u32_at(16),
            written_pages: u32_at(20),
            seq: u64::from_le_bytes(b[24..32].try_into().expect("8 bytes")),
            engine_mark,
        })
    }
}

/// Reads both slots (and a store of the layout before session 44's slot at byte 512) and returns the newest valid
/// one.
pub(crate) fn load(store: &dyn RecordStore) -> io::Result<Loaded> {
    let mut buf = vec![0u8; (SLOT_AT[1] as usize) + SLOT_BYTES];
    let mut got = 0;
    while got < buf.len() {
        match store.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    if got == 0 {
        return Ok(Loaded::Empty);
    }
    let best = [SLOT_AT[0], LEGACY_SLOT_AT, SLOT_AT[1]]
        .into_iter()
        .filter_map(|at| {
            let slot = buf[..got].get(at as usize..)?;
            FileRecord::decode(&slot[..slot.len().min(SLOT_BYTES)]).map(|r| (r, at))
        })
        .max_by_key(|(r, _)| r.seq);
    Ok(best.map_or(Loaded::Invalid, |(r, at)| Loaded::Found(r, at)))
}

/// The sequence of the next write of a record of sequence `seq` read at byte `at`: the next whose slot lies in
/// another 4 KiB block, so that a power loss garbling that write's block leaves the slot read. `seq + 1` but
/// after a read of the legacy slot at byte 512 (odd sequences, in slot 0's block), whose next goes to byte 4096.
pub(crate) fn seq_after(seq: u64, at: u64) -> u64 {
    match at {
        LEGACY_SLOT_AT => seq + 2 - (seq + 1) % 2,
        _ => seq + 1,
    }
}

/// Writes `record` into the slot its sequence number selects and syncs the store.
pub(crate) fn store(store: &dyn RecordStore, record: &FileRecord) -> io::Result<()> {
    store.write_at(&record.encode(), SLOT_AT[(record.seq % 2) as usize])?;
    store.sync()
}

/// Creates the record of a new, empty file: a fresh identity, written mark 0, both slots written.
pub(crate) fn create(st: &dyn RecordStore, page_size: usize) -> io::Result<FileRecord> {
    let mut record = FileRecord {
        page_size: page_size as u32,
        identity: random_identity(),
        written_pages: 0,
        seq: 0,
        engine_mark: None,
    };
    st.write_at(&record.encode(), 0)?;
    record.seq = 1;
    store(st, &record)?;
    Ok(record)
}

/// A random non-zero identity: `getrandom(2)`, or (if that fails) a hash of the time, the process id and a
/// counter. Identities only need to differ between files with high probability, not to be secret.
fn random_identity() -> u32 {
    let mut bytes = [0u8; 4];
    #[cfg(all(target_os = "linux", not(miri)))]
    // SAFETY: the buffer is valid for 4 writable bytes; getrandom writes at most that many.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let got = -1;
    let mut id = u32::from_le_bytes(bytes);
    if got != 4 {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ COUNTER.fetch_add(1, Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        id = crc32c::crc32c(&seed.to_le_bytes());
    }
    id.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryRecord;

    #[test]
    fn create_update_and_survive_a_torn_update() {
        let st = MemoryRecord::default();
        assert!(matches!(load(&st).unwrap(), Loaded::Empty));
        let mut r = create(&st, 4096).unwrap();
        assert_ne!(r.identity, 0);
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x, 4096) if x == r));
        r.seq += 1;
        r.written_pages = 10;
        store(&st, &r).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x, 0) if x.written_pages == 10));
        // Tear the newest slot: the previous record is read.
        let slot = SLOT_AT[(r.seq % 2) as usize];
        st.write_at(&[0xff; 8], slot + 20).unwrap();
        assert!(
            matches!(load(&st).unwrap(), Loaded::Found(x, 4096) if x.written_pages == 0 && x.identity == r.identity)
        );
        for at in SLOT_AT {
            st.write_at(&[0u8; SLOT_BYTES], at).unwrap();
        }
        assert!(matches!(load(&st).unwrap(), Loaded::Invalid));
    }

    /// The engine's mark round-trips; a slot without one (a build before the mark wrote it) reads as none, with
    /// the rest of the record; a mark whose extension is damaged reads as none, the record still valid.
    #[test]
    fn the_engine_mark_round_trips_and_reads_as_none_where_absent_or_damaged() {
        let st = MemoryRecord::default();
        let mut r = create(&st, 4096).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x, _) if x.engine_mark.is_none()));
        r.seq += 1;
        r.engine_mark = Some(0x0123_4567_89ab_cdef);
        store(&st, &r).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x, _) if x == r));
        // What an older build writes: the first 36 bytes only (zeros after them).
        let older = FileRecord {
            seq: r.seq + 1,
            engine_mark: None,
            ..r
        };
        let mut bytes = older.encode();
        assert!(bytes[36..].iter().all(|&b| b == 0));
        st.write_at(&bytes, SLOT_AT[(older.seq % 2) as usize]).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x, _) if x == older));
        // A damaged mark: the record is read, without it.
        let marked = FileRecord {
            seq: older.seq + 1,
            engine_mark: Some(7),
            ..r
        };
        bytes = marked.encode();
        bytes[41] ^= 1;
        st.write_at(&bytes, SLOT_AT[(marked.seq % 2) as usize]).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x, _) if x == FileRecord { engine_mark: None, ..marked }));
    }

    /// A store in the layout before session 44 (slots at 0 and 512): read, and the next write after either slot
    /// goes to byte 4096, outside the block that holds them both.
    #[test]
    fn a_store_of_the_legacy_layout_is_read_and_its_next_write_leaves_its_block() {
        for (seq, at) in [(6u64, 0u64), (7, LEGACY_SLOT_AT)] {
            let st = MemoryRecord::default();
            let r = FileRecord {
                page_size: 4096,
                identity: 77,
                written_pages: 3,
                seq,
                engine_mark: None,
            };
            let older = FileRecord { seq: seq - 1, ..r };
            st.write_at(&r.encode(), at).unwrap();
            st.write_at(&older.encode(), if at == 0 { LEGACY_SLOT_AT } else { 0 })
                .unwrap();
            let Loaded::Found(got, got_at) = load(&st).unwrap() else {
                panic!("seq {seq}: no record read");
            };
            assert_eq!((got, got_at), (r, at));
            let next = seq_after(got.seq, got_at);
            assert!(
                next > seq && SLOT_AT[(next % 2) as usize] == BLOCK,
                "seq {seq}: next {next}"
            );
            store(&st, &FileRecord { seq: next, ..r }).unwrap();
            assert!(matches!(load(&st).unwrap(), Loaded::Found(x, BLOCK) if x.seq == next));
        }
        // In this layout the next write goes to the other slot.
        assert_eq!((seq_after(4, 0), seq_after(5, BLOCK)), (5, 6));
    }
}
