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
//! CRC-32C; an update writes the slot the current one is not in, then syncs: a torn update leaves the other
//! slot, the previous record, intact. A record is only ever created for an empty file, and never over a record
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

use std::io;

use crate::storage::RecordStore;

/// Bytes of one slot; the record is two slots.
pub(crate) const SLOT_BYTES: usize = 512;
const MAGIC: &[u8; 8] = b"BPFILREC";
const FORMAT: u32 = 1;

/// The decoded record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct FileRecord {
    pub(crate) page_size: u32,
    pub(crate) identity: u32,
    pub(crate) written_pages: u32,
    pub(crate) seq: u64,
}

/// What reading a store found.
pub(crate) enum Loaded {
    /// No slot was ever written (an empty store).
    Empty,
    /// The newest valid slot.
    Found(FileRecord),
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
        b
    }

    fn decode(b: &[u8]) -> Option<FileRecord> {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        if b.len() < 36 || &b[0..8] != MAGIC || u32_at(32) != crc32c::crc32c(&b[0..32]) || u32_at(8) != FORMAT {
            return None;
        }
        Some(FileRecord {
            page_size: u32_at(12),
            identity: u32_at(16),
            written_pages: u32_at(20),
            seq: u64::from_le_bytes(b[24..32].try_into().expect("8 bytes")),
        })
    }
}

/// Reads both slots and returns the newest valid one.
pub(crate) fn load(store: &dyn RecordStore) -> io::Result<Loaded> {
    let mut buf = vec![0u8; 2 * SLOT_BYTES];
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
    let best = buf[..got]
        .chunks(SLOT_BYTES)
        .filter_map(FileRecord::decode)
        .max_by_key(|r| r.seq);
    Ok(best.map_or(Loaded::Invalid, Loaded::Found))
}

/// Writes `record` into the slot its sequence number selects and syncs the store.
pub(crate) fn store(store: &dyn RecordStore, record: &FileRecord) -> io::Result<()> {
    let slot = record.seq % 2;
    store.write_at(&record.encode(), slot * SLOT_BYTES as u64)?;
    store.sync()
}

/// Creates the record of a new, empty file: a fresh identity, written mark 0, both slots written.
pub(crate) fn create(st: &dyn RecordStore, page_size: usize) -> io::Result<FileRecord> {
    let mut record = FileRecord {
        page_size: page_size as u32,
        identity: random_identity(),
        written_pages: 0,
        seq: 0,
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
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x) if x == r));
        r.seq += 1;
        r.written_pages = 10;
        store(&st, &r).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x) if x.written_pages == 10));
        // Tear the newest slot: the previous record is read.
        let slot = (r.seq % 2) as usize * SLOT_BYTES;
        st.write_at(&[0xff; 8], (slot + 20) as u64).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Found(x) if x.written_pages == 0 && x.identity == r.identity));
        st.write_at(&[0u8; 2 * SLOT_BYTES], 0).unwrap();
        assert!(matches!(load(&st).unwrap(), Loaded::Invalid));
    }
}
