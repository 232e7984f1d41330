//! `TreeWal::open` of a path that names a small file that is not a log (R28-4 in RELIABILITY.md): a mistyped log
//! path, or a data directory's neighbour (`notes.txt`, a lock or config file). The open took any file shorter than
//! a log header (1 KiB) that had no valid header for "a crash while the header of a new log was being written",
//! and wrote a new log's header over it: `Ok`, and the file's bytes gone. A crash during a new log's header write
//! leaves only zeroes, or a header slot (torn or whole) and zeroes; anything else is another file's bytes, which
//! the open must refuse (`Error::Log`, "no valid log header") and leave as they were. The crash cases still open as
//! a new log.

use bufpool_btree::{Error, TreeWal};

#[test]
fn a_small_file_that_is_not_a_log_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("notes.txt", b"remember: the tree lives in t.db\n".to_vec()),
        ("one-byte", vec![b'x']),
        (
            "config.toml",
            b"frames = 4096\npage_size = 4096\n"
                .iter()
                .copied()
                .cycle()
                .take(1024)
                .collect(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        match TreeWal::open(&path) {
            Err(Error::Log(m)) => assert!(m.contains("no valid log header"), "{name}: {m}"),
            Err(e) => panic!("{name}: refused with an unexpected error: {e}"),
            Ok(_) => panic!("{name}: opened as a new log"),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name}: changed by a refused open"
        );
    }
}

/// What a crash while a new log's header was written can leave, each opened as a new log that takes records.
#[test]
fn what_a_crash_creating_a_log_leaves_still_opens_as_a_new_log() {
    let dir = tempfile::tempdir().unwrap();
    // A whole new log's header region, as the first open wrote it.
    let made = dir.path().join("made.wal");
    drop(TreeWal::open(&made).unwrap());
    let header = std::fs::read(&made).unwrap();
    // The block layout's header region (session 44; until then 1,024 bytes).
    assert_eq!(header.len(), 8192);
    let mut torn_slot = header.clone();
    torn_slot[20] ^= 0xff; // the slot's checksum fails: torn within the slot
    let mut cases = vec![
        ("empty", Vec::new()),
        ("zeroes-512", vec![0u8; 512]),
        ("zeroes-1024", vec![0u8; 1024]),
        ("slot-torn", torn_slot.clone()),
        ("first-sector-only", torn_slot[..512].to_vec()),
    ];
    let mut zero_first = vec![0u8; header.len()];
    zero_first[512..].copy_from_slice(&header[512..]);
    cases.push(("second-sector-only", zero_first));
    cases.push(("first-block-only", header[..4096].to_vec()));
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let wal = TreeWal::open(&path).unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        assert_eq!(wal.end_lsn(), wal.start_lsn(), "{name}: a new log holds no record");
    }
}
