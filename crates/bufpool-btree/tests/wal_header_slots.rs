//! A log's two header slots must leave a valid header whatever a crash does to the one being written (R10-1 in
//! RELIABILITY.md).
//!
//! The log keeps two header slots (bytes 0 and 4096, different 4 KiB blocks; 0 and 512 until session 44) so that a cut writing the slot *not* in
//! force can be torn by a power loss and leave the other one. A rewrite (the cut that copies the live tail into
//! a new file) wrote its header into slot 0 whatever its sequence number, and left slot 1 empty; the next
//! header-slot cut writes slot `seq % 2`. After a rewrite with an odd sequence number (the first cut of a new log
//! being a rewrite is enough: sequence 1), the next cut (sequence 2) wrote slot 0 again: over the only valid
//! header. A crash tearing that write left no valid header, and `TreeWal::open` refused the log ("has no valid
//! log header"): every committed record lost with it.
//!
//! The test runs cuts of both kinds in an order that gives rewrites of both parities, and before each one
//! keeps the file as the crash would find it: the records committed, the cut's slot write torn. Opening that
//! image must find the header that was in force before the cut and every record it held.

use crate::common;

use std::path::Path;

use bufpool_btree::{Op, TreeWal};

/// Byte offsets and length of the two header slots (the file format in `wal.rs`).
const SLOTS: [usize; 2] = [0, 4096];
const SLOT_LEN: usize = 64;

/// Appends `n` records and commits them; returns their ends.
fn append_committed(wal: &TreeWal, first: u32, n: u32) -> Vec<u64> {
    let ends = (first..first + n)
        .map(|i| {
            wal.append(&[Op::Put {
                page: i,
                key: &i.to_be_bytes(),
                val: &[i as u8; 600],
            }])
            .unwrap()
        })
        .collect();
    wal.commit().unwrap();
    ends
}

/// Opens the log image `bytes` in a file of its own.
fn open_image(dir: &Path, name: &str, bytes: &[u8]) -> std::sync::Arc<TreeWal> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    TreeWal::open(&path).unwrap_or_else(|e| panic!("{name}: the log does not open: {e}"))
}

/// One cut of `wal` (at `path`): a rewrite or a header-slot cut, after records before and after its redo point;
/// for a header-slot cut, checks the crash image that tears its slot write. `i` names the cut in messages.
fn cut_and_check(wal: &TreeWal, path: &Path, rewrite: bool, i: u32) {
    append_committed(wal, i * 100, 40);
    let redo = wal.begin_checkpoint();
    append_committed(wal, i * 100 + 40, 5);
    let before = std::fs::read(path).unwrap();
    let in_force = common::record_ends(wal);
    let start = wal.start_lsn();
    wal.set_rewrite_len(if rewrite { 0 } else { u64::MAX });
    let rewrites = wal.rewrites();
    wal.truncate_before(redo).unwrap();
    assert_eq!(
        wal.rewrites(),
        rewrites + u64::from(rewrite),
        "cut {i}: the kind asked for"
    );
    if rewrite {
        // A crash during a rewrite leaves the old file (the new one is renamed in whole): nothing torn.
        return;
    }
    let after = std::fs::read(path).unwrap();
    let written: Vec<usize> = SLOTS
        .into_iter()
        .filter(|&at| before[at..at + SLOT_LEN] != after[at..at + SLOT_LEN])
        .collect();
    assert_eq!(written.len(), 1, "cut {i}: one header slot written");
    // The crash image: the file as it was before the cut (every record committed), the slot being written
    // torn, so not valid.
    let mut torn = before;
    torn[written[0]..written[0] + SLOT_LEN].fill(0xa5);
    let dir = path.parent().unwrap();
    let reopened = open_image(dir, &format!("torn-{i}"), &torn);
    assert_eq!(
        reopened.start_lsn(),
        start,
        "cut {i}: the header in force before the cut"
    );
    assert_eq!(
        common::record_ends(&reopened),
        in_force,
        "cut {i}: every record the log held"
    );
}

#[test]
fn a_torn_header_slot_write_after_a_rewrite_leaves_the_header_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    // true: the cut rewrites the file; false: it writes a header slot (and punches). The order gives rewrites
    // of odd and even sequence numbers, each followed by header-slot cuts.
    let cuts = [true, false, false, true, false, true, true, false, false, true];
    let wal = TreeWal::open(&path).unwrap();
    for (i, &rewrite) in cuts.iter().enumerate() {
        cut_and_check(&wal, &path, rewrite, i as u32);
    }
    // Reopened after a rewrite (of sequence 5, in slot 0): the slot in force is found in the file.
    let kept = common::record_ends(&wal);
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    assert_eq!(common::record_ends(&wal), kept);
    for i in 10..13 {
        cut_and_check(&wal, &path, false, i);
    }
}
