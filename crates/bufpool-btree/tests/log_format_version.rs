//! The log's header names its record format (L41-O1 in RELIABILITY.md; `wal.rs`' module docs, "The format
//! version").
//!
//! Session 41 added op tags 9 (`TAKING`) and 10-12 (the short row ops). A build that does not know a tag reads the
//! record as malformed, that is as the log's torn end, and its open cuts the log there: every committed record
//! from that one on was silently lost. Measured across builds (`review42`'s write-up): a log of 1,000 committed
//! puts written by main `a7933b7` (short ops), opened by a build of `fe784b6` (before session 41): "opened: 0
//! records, end 1", the file cut to its 1,024-byte header. Nothing in the log said it was not for that build.
//!
//! Now every header slot this build writes is `BPTWAL04`, which names the record format ([`LOG_FORMAT`]); a log
//! whose header names a newer format, or a `BPTWAL` layout this build does not know, is refused
//! ([`Error::LogFormat`]) with nothing read, cut or written. A legacy log (`BPTWAL02`, `BPTWAL03`: every log
//! written before) opens with every record, and its open rewrites both slots in the new layout before it returns,
//! so an older build (which knows neither) refuses the log from then on instead of cutting it. (That an older
//! build refuses a `BPTWAL04` log is shown across builds in the write-up, and by `wal.rs`' unit test
//! `a_log_opened_by_a_build_that_knows_an_older_format_is_refused_and_left_whole`.)

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bufpool::storage::{MemoryStorage, Storage};
use bufpool_btree::{Error, Op, TreeWal, LOG_FORMAT};

use crate::common::hooked::{changes_bytes, Hooked, Hooks};

// The two layouts' slots and the conversion, shared with `full_filesystem.rs` (a test binary of its own).
pub(crate) use crate::common::layouts::{sectors_layout, BLOCK_SLOT_AT, SLOT_AT};

/// [`sectors_layout`] of the log file at `path`, in place.
pub(crate) fn to_sectors_layout(path: &Path) {
    let image = std::fs::read(path).unwrap();
    std::fs::write(path, sectors_layout(&image)).unwrap();
}

/// [`sectors_layout`] of the log on `log`: its image, in a storage of its own.
pub(crate) fn sectors_storage(log: &MemoryStorage) -> Arc<MemoryStorage> {
    let mut image = vec![0u8; log.len().unwrap() as usize];
    assert_eq!(log.read_at(&mut image, 0).unwrap(), image.len());
    Arc::new(MemoryStorage::from_bytes(sectors_layout(&image)))
}
const PUTS: u32 = 1_000;

/// Appends `PUTS` committed puts (page 3: short row ops) to `wal` after a record it then cuts, so that both
/// header slots are valid (the cut writes the second), as in a log that has seen a checkpoint.
fn fill(wal: &TreeWal) {
    let dead = wal.append(&[Op::Del { page: 3, key: b"dead" }]).unwrap();
    for i in 0..PUTS {
        let key = format!("key{i:05}");
        wal.append(&[Op::Put {
            page: 3,
            key: key.as_bytes(),
            val: b"value",
        }])
        .unwrap();
    }
    wal.commit().unwrap();
    wal.truncate_before(dead).unwrap();
}

/// The records `wal` holds, each checked to be the `i`th put of [`fill`].
fn count(wal: &TreeWal) -> u32 {
    let mut n = 0;
    wal.scan(|_, ops| {
        assert_eq!(ops.len(), 1);
        match &ops[0] {
            bufpool_btree::OwnedOp::Put(page, key, val) => {
                assert_eq!(
                    (*page, key.as_slice(), val.as_slice()),
                    (3, format!("key{n:05}").as_bytes(), &b"value"[..])
                );
            }
            op => panic!("record {n} holds {op:?}, not a put"),
        }
        n += 1;
        Ok(())
    })
    .unwrap();
    n
}

fn seq(slot: &[u8]) -> u64 {
    u64::from_le_bytes(slot[32..40].try_into().unwrap())
}

/// A `BPTWAL04` slot's fields as a legacy slot of the same log: `BPTWAL02` (unbounded: magic, id, origin, start,
/// seq, CRC-32C of bytes 0..40) or `BPTWAL03` (bounded: then base, region length, CRC-32C of bytes 0..56), as a
/// build before session 42 wrote them (64 bytes, the rest of the slot as it was).
pub(crate) fn legacy(v4: &[u8; 128]) -> [u8; 128] {
    assert_eq!(&v4[..8], b"BPTWAL04");
    let mut s = *v4;
    let region_len = u64::from_le_bytes(v4[48..56].try_into().unwrap());
    if region_len == 0 {
        s[..8].copy_from_slice(b"BPTWAL02");
        s[40..64].fill(0);
        let crc = crc32c::crc32c(&s[..40]);
        s[40..44].copy_from_slice(&crc.to_le_bytes());
    } else {
        s[..8].copy_from_slice(b"BPTWAL03");
        s[56..64].fill(0);
        let crc = crc32c::crc32c(&s[..56]);
        s[56..60].copy_from_slice(&crc.to_le_bytes());
    }
    s
}

/// A `BPTWAL04` slot naming record format `format` (its checksum made good): a newer build's.
fn with_format(v4: &[u8; 128], format: u32) -> [u8; 128] {
    let mut s = *v4;
    s[56..60].copy_from_slice(&format.to_le_bytes());
    let crc = crc32c::crc32c(&s[..60]);
    s[60..64].copy_from_slice(&crc.to_le_bytes());
    s
}

fn slots_of(read: impl Fn(&mut [u8], u64)) -> [[u8; 128]; 2] {
    SLOT_AT.map(|at| {
        let mut b = [0u8; 128];
        read(&mut b, at);
        b
    })
}

fn file_slots(path: &Path) -> [[u8; 128]; 2] {
    let f = std::fs::File::open(path).unwrap();
    slots_of(|b, at| f.read_exact_at(b, at).unwrap())
}

fn write_file_slot(path: &Path, at: u64, slot: &[u8; 128]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(slot, at).unwrap();
}

/// The slot in force (the valid one with the higher sequence; both are valid here) and its offset.
fn in_force(slots: &[[u8; 128]; 2]) -> (usize, [u8; 128]) {
    let i = usize::from(seq(&slots[1]) > seq(&slots[0]));
    (i, slots[i])
}

/// A log of sessions 42 and 43 (both slots `BPTWAL04` at bytes 0 and 512 once a cut wrote the second), `PUTS`
/// records: one of this build, both slots `BPTWAL05` at bytes 0 and 4096, moved to that layout
/// ([`sectors_layout`]).
fn new_log(path: &Path) {
    let wal = TreeWal::open(path).unwrap();
    fill(&wal);
    drop(wal);
    let f = std::fs::File::open(path).unwrap();
    for at in BLOCK_SLOT_AT {
        let mut s = [0u8; 128];
        f.read_exact_at(&mut s, at).unwrap();
        assert_eq!(&s[..8], b"BPTWAL05", "this build writes the block layout");
        assert_eq!(u32::from_le_bytes(s[56..60].try_into().unwrap()), LOG_FORMAT);
    }
    to_sectors_layout(path);
    assert!(file_slots(path).iter().all(|s| &s[..8] == b"BPTWAL04"));
}

fn refused_newer(r: bufpool_btree::Result<Arc<TreeWal>>, want: Option<u32>) {
    match r {
        Err(Error::LogFormat { found, known, .. }) => {
            assert_eq!((found, known), (want, LOG_FORMAT));
        }
        Err(e) => panic!("a log of a newer format refused with another error: {e}"),
        Ok(wal) => panic!(
            "a log of a newer format was opened ({} records read): its records past the first op this build \
             does not know would be cut",
            count(&wal)
        ),
    }
}

#[test]
fn a_log_whose_header_names_a_newer_format_is_refused_and_left_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wal");
    new_log(&path);
    let slots = file_slots(&path);
    let (i, force) = in_force(&slots);
    // A newer build's log: its slot in force names the next format, or the slot not in force does (a newer build
    // upgrading this build's log, stopped between its two slot writes), or a layout of its own.
    let newer_magic = {
        let mut s = force;
        s[..8].copy_from_slice(b"BPTWAL06");
        s
    };
    let cases: [(&str, usize, [u8; 128], Option<u32>); 4] = [
        ("in force", i, with_format(&force, LOG_FORMAT + 1), Some(LOG_FORMAT + 1)),
        (
            "not in force",
            1 - i,
            with_format(&slots[1 - i], LOG_FORMAT + 1),
            Some(LOG_FORMAT + 1),
        ),
        ("far newer", i, with_format(&force, u32::MAX), Some(u32::MAX)),
        ("newer layout", i, newer_magic, None),
    ];
    for (what, at, slot, want) in cases {
        write_file_slot(&path, SLOT_AT[at], &slot);
        let before = std::fs::read(&path).unwrap();
        refused_newer(TreeWal::open(&path), want);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{what}: the refused open changed the log"
        );
        write_file_slot(&path, SLOT_AT[at], &slots[at]);
    }
    // Put back, the log opens whole.
    assert_eq!(count(&TreeWal::open(&path).unwrap()), PUTS);
}

#[test]
fn a_legacy_log_opens_with_every_record_and_its_header_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wal");
    new_log(&path);
    let slots = file_slots(&path);
    let (_, force) = in_force(&slots);
    // Both slots legacy: a log a build before session 42 wrote (the short ops in it, as main of session 41's).
    for (at, s) in slots.iter().enumerate() {
        write_file_slot(&path, SLOT_AT[at], &legacy(s));
    }
    let wal = TreeWal::open(&path).unwrap();
    assert_eq!(count(&wal), PUTS, "a legacy log lost records");
    // Appends go on, and both slots are this build's before the open returned.
    wal.append(&[Op::Put {
        page: 3,
        key: format!("key{PUTS:05}").as_bytes(),
        val: b"value",
    }])
    .unwrap();
    wal.commit().unwrap();
    // A log file moves to the block layout by a rewrite (session 44): a new file whose slot 0 names the log from
    // the same start at the next sequence, `BPTWAL05`; nothing at 512 (where a build before session 44 reads a
    // slot), and slot 1 not written yet.
    let image = std::fs::read(&path).unwrap();
    let now: [u8; 128] = image[..128].try_into().unwrap();
    assert_eq!(&now[..8], b"BPTWAL05", "the log was not moved to the block layout");
    assert_eq!(
        (now[8..16] == force[8..16], now[24..32] == force[24..32]),
        (true, true),
        "another log or start"
    );
    assert_eq!(seq(&now), seq(&force) + 1);
    assert!(image[512..1024].iter().chain(&image[4096..4224]).all(|&b| b == 0));
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    let mut n = 0;
    wal.scan(|_, _| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, PUTS + 1);
    drop(wal);

    // A crash between the open's two slot writes: the slot not in force this build's, the other still legacy
    // (which a build before session 42 still opens, with no record of this build's written since). This build
    // opens it whole and finishes the rewrite.
    let path = dir.path().join("u.wal");
    new_log(&path);
    let slots = file_slots(&path);
    let (i2, _) = in_force(&slots);
    write_file_slot(&path, SLOT_AT[1 - i2], &legacy(&slots[1 - i2]));
    let wal = TreeWal::open(&path).unwrap();
    assert_eq!(count(&wal), PUTS);
    drop(wal);
    let image = std::fs::read(&path).unwrap();
    assert_eq!(&image[..8], b"BPTWAL05");
    assert!(image[512..1024].iter().all(|&b| b == 0));
}

#[test]
fn a_legacy_bounded_log_on_a_storage_opens_with_every_record() {
    // A bounded log of the layout before session 44: its header region is 1,024 bytes.
    const CAP: u64 = 1024 + 2 * (256 << 10);
    let log = Arc::new(MemoryStorage::new());
    {
        let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP + 7168).unwrap();
        fill(&wal);
    }
    let log = sectors_storage(&log);
    let read = |b: &mut [u8], at: u64| assert_eq!(log.read_at(b, at).unwrap(), b.len());
    let slots = slots_of(read);
    for (at, s) in slots.iter().enumerate() {
        assert_eq!(&s[..8], b"BPTWAL04");
        log.write_at(&legacy(s), SLOT_AT[at]).unwrap();
    }
    assert!(slots_of(read).iter().all(|s| &s[..8] == b"BPTWAL03"));
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    assert_eq!(
        wal.capacity(),
        Some(CAP),
        "the legacy bounded header's capacity was not kept"
    );
    assert_eq!(count(&wal), PUTS, "a legacy bounded log lost records");
    drop(wal);
    assert!(slots_of(read).iter().all(|s| &s[..8] == b"BPTWAL04"));
    // A newer format on the storage: refused, nothing written.
    let (i, force) = in_force(&slots_of(read));
    log.write_at(&with_format(&force, LOG_FORMAT + 1), SLOT_AT[i]).unwrap();
    let len = log.len().unwrap();
    let mut before = vec![0u8; len as usize];
    read(&mut before, 0);
    refused_newer(TreeWal::open_storage(log.clone()), Some(LOG_FORMAT + 1));
    let mut after = vec![0u8; len as usize];
    read(&mut after, 0);
    assert!(
        before == after && log.len().unwrap() == len,
        "the refused open changed the log storage"
    );
}

/// A log storage's hooks whose `fail_at`-th header slot write (a write below byte 1,024 that changes bytes: the
/// open's rewrite of what it read is not one), counted from 1, fails with EIO and writes nothing: a crash (or an
/// error) at that point of an open's header rewrite.
struct FailsHeaderWrite {
    fail_at: u32,
    header_writes: std::sync::atomic::AtomicU32,
}

impl Hooks for FailsHeaderWrite {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
        // The open writes the header slots again as read before it upgrades them (L42-1, R42-3): not counted.
        if offset < 1024
            && changes_bytes(below, buf, offset)?
            && self.header_writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == self.fail_at
        {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        below.write_at(buf, offset)
    }
}

/// The open's rewrite of a legacy header stopped at its first slot write (nothing changed: both slots legacy) or
/// at its second (the slot not in force this build's, the one in force still legacy, as an older build reads it):
/// the open fails, nothing opened; the next open reads every record and finishes the rewrite.
#[test]
fn a_legacy_header_rewrite_stopped_at_either_slot_leaves_a_log_that_opens_whole() {
    for fail_at in [1, 2] {
        let log = Arc::new(MemoryStorage::new());
        {
            let wal = TreeWal::open_storage(log.clone()).unwrap();
            fill(&wal);
        }
        // Of the sector layout, and its records in the second block: an open leaves it in that layout (R44-O1).
        let log = sectors_storage(&log);
        let read = |b: &mut [u8], at: u64| assert_eq!(log.read_at(b, at).unwrap(), b.len());
        let slots = slots_of(read);
        for (at, s) in slots.iter().enumerate() {
            log.write_at(&legacy(s), SLOT_AT[at]).unwrap();
        }
        let (in_force_at, _) = in_force(&slots);
        let failing = Hooked::new(
            log.clone(),
            FailsHeaderWrite {
                fail_at,
                header_writes: Default::default(),
            },
        );
        match TreeWal::open_storage(failing) {
            Err(Error::Log(_)) => {}
            Err(e) => panic!("slot write {fail_at} failed: the open returned another error: {e}"),
            Ok(_) => panic!("slot write {fail_at} failed: the open returned Ok"),
        }
        let now = slots_of(read);
        assert_eq!(
            &now[in_force_at][..8],
            b"BPTWAL02",
            "the slot in force was rewritten first"
        );
        let other = if fail_at == 1 { b"BPTWAL02" } else { b"BPTWAL04" };
        assert_eq!(&now[1 - in_force_at][..8], other, "slot write {fail_at} failed");
        let wal = TreeWal::open_storage(log.clone()).unwrap();
        assert_eq!(count(&wal), PUTS, "slot write {fail_at} failed: records lost");
        drop(wal);
        assert!(slots_of(read).iter().all(|s| &s[..8] == b"BPTWAL04"));
    }
}
