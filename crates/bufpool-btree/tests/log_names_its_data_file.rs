//! A tree's log names the data file it serves (R33-20 in RELIABILITY.md; was R28-O2). `Tree::open` checks the log
//! against the meta page, but a data file cannot always speak for itself: an empty one (a mistyped path, a file
//! made anew) and one whose meta page is torn are replayed from whatever log they are given. Given another tree's
//! log whose records include that tree's meta page image (a log not cut since the tree was made), the open
//! rebuilt the other tree in the file, passed the check after replay, and its checkpoint cut the other tree's log:
//! that tree's own data file was then refused with it, and the keys only its log held were gone. Now the log's
//! header names the identity of the data file of the tree that opened it (`TreeWal::data_file`,
//! `BufferPool::file_identity`), and an open with another data file is refused before anything is replayed.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).page_size(4096).build().unwrap())
}

fn key(tree: &str, i: u32) -> Vec<u8> {
    format!("{tree}-{i:05}").into_bytes()
}

/// A tree `name` in `dir` with keys 0..n committed and, if `checkpointed`, the first half checkpointed; dropped
/// unclosed with its pool (as by a crash), so its log holds what came after its last checkpoint, and, never cut,
/// everything from the tree's creation on, its meta page's first image among it.
fn tree(dir: &Path, name: &str, n: u32, checkpointed: bool) {
    let t = Tree::open(
        pool(),
        TreeWal::open(dir.join(format!("{name}.wal"))).unwrap(),
        dir.join(format!("{name}.db")),
    )
    .unwrap();
    for i in 0..n {
        t.put(&key(name, i), b"value").unwrap();
        if checkpointed && i == n / 2 {
            t.checkpoint().unwrap();
        }
    }
    t.commit().unwrap();
}

/// Opens tree `name` from its own files and checks it holds exactly keys 0..n.
fn holds(dir: &Path, name: &str, n: u32) {
    let t = Tree::open(
        pool(),
        TreeWal::open(dir.join(format!("{name}.wal"))).unwrap(),
        dir.join(format!("{name}.db")),
    )
    .unwrap_or_else(|e| panic!("tree {name} no longer opens with its own log: {e}"));
    for i in 0..n {
        assert_eq!(
            t.get(&key(name, i)).unwrap().as_deref(),
            Some(&b"value"[..]),
            "{name}: key {i}"
        );
    }
    assert_eq!(t.check().unwrap().entries, n as usize, "{name}: entries");
    t.close().unwrap();
}

/// Opens `db` with the log at `log`: it must be refused with `LogMismatch` before anything is replayed or
/// written, the data file left with its bytes and the pool without it.
fn refused(db: &Path, log: &Path) {
    let before = std::fs::read(db).ok();
    let pool = pool();
    match Tree::open(pool.clone(), TreeWal::open(log).unwrap(), db) {
        Err(Error::LogMismatch(m)) => assert!(m.contains("not this data file's log"), "{m}"),
        Err(e) => panic!("refused with another error than LogMismatch: {e}"),
        Ok(t) => {
            let entries = t.check().map(|s| s.entries);
            drop(t);
            panic!("opened (entries {entries:?}) with another tree's log")
        }
    }
    assert_eq!(
        pool.stats().files.len(),
        0,
        "the refused data file stays open in the pool"
    );
    drop(pool);
    let after = std::fs::read(db).ok();
    // A path that named no file: the pool's open made it, empty (nothing replayed into it).
    let made_empty = before.is_none() && after.as_deref().is_none_or(<[u8]>::is_empty);
    assert!(after == before || made_empty, "a refused open changed the data file");
}

#[test]
fn an_empty_data_file_with_another_trees_log_never_cut_is_refused_and_that_tree_keeps_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), "b", 300, false);
    // A mistyped path: a new, empty data file next to `b`'s log.
    refused(&dir.path().join("c.db"), &dir.path().join("b.wal"));
    holds(dir.path(), "b", 300);
}

#[test]
fn a_torn_meta_page_with_another_trees_log_is_refused_and_both_trees_keep_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), "a", 300, true);
    tree(dir.path(), "b", 300, false);
    // `a`'s meta page torn by a crash: its bufpool header whole, a byte of its body from another write.
    let db = dir.path().join("a.db");
    let f = std::fs::OpenOptions::new().read(true).write(true).open(&db).unwrap();
    let mut byte = [0u8; 1];
    f.read_exact_at(&mut byte, 2048).unwrap();
    f.write_all_at(&[byte[0] ^ 0x5a], 2048).unwrap();
    drop(f);
    refused(&db, &dir.path().join("b.wal"));
    holds(dir.path(), "b", 300);
}

#[test]
fn a_log_that_names_no_data_file_opens_as_before_and_names_its_tree_from_then_on() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), "a", 200, true);
    // A log as a build before the name wrote it: nothing after each slot's checksummed fields (the slots at
    // bytes 0 and 512; the name at offset 64 of each).
    let log = dir.path().join("a.wal");
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    for slot in [0u64, 512] {
        f.write_all_at(&[0u8; 64], slot + 64).unwrap();
    }
    drop(f);
    assert_eq!(TreeWal::open(&log).unwrap().data_file(), None);
    let pool = pool();
    let t = Tree::open(pool.clone(), TreeWal::open(&log).unwrap(), dir.path().join("a.db")).unwrap();
    let identity = pool.file_identity(t.file()).unwrap();
    assert!(identity.is_some(), "a data file made by the pool has an identity");
    assert_eq!(t.wal().data_file(), identity, "the open names its data file in the log");
    assert_eq!(t.check().unwrap().entries, 200);
    t.close().unwrap();
    drop(pool);
    assert_eq!(
        TreeWal::open(&log).unwrap().data_file(),
        identity,
        "the name is durable"
    );
    holds(dir.path(), "a", 200);
}

#[test]
fn the_name_is_kept_by_every_kind_of_cut_and_a_reopen() {
    for rewrite in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool();
        let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
        if rewrite {
            // Every cut rewrites the file (a new file renamed over the log) instead of writing a header slot.
            wal.set_rewrite_len(0);
        }
        let t = Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap();
        let identity = pool.file_identity(t.file()).unwrap();
        assert!(identity.is_some());
        for i in 0..2000 {
            t.put(&key("t", i), b"value").unwrap();
            if i % 500 == 499 {
                t.checkpoint().unwrap();
                assert_eq!(t.wal().data_file(), identity, "rewrite {rewrite}: after the cut at {i}");
            }
        }
        assert_eq!(t.wal().rewrites() > 0, rewrite, "rewrite {rewrite}: the cuts' kind");
        t.close().unwrap();
        drop(pool);
        assert_eq!(
            TreeWal::open(dir.path().join("t.wal")).unwrap().data_file(),
            identity,
            "rewrite {rewrite}: after a reopen"
        );
        // And another tree's data file is refused with it.
        tree(dir.path(), "u", 10, false);
        refused(&dir.path().join("u.db"), &dir.path().join("t.wal"));
    }
}

/// A slot written by a build before the name (64 bytes: its fields and their checksum) over a slot that named a
/// file leaves the name's bytes behind; their checksum covers the slot's fields, so under the older build's slot
/// they name nothing, and the next open by this build names the file again. (A checksum over the slot's bytes
/// 0..68 in order did not: the fields' own CRC-32C follows them, after which a CRC's state is the same whatever
/// the fields were, and the stale name read as valid.)
#[test]
fn a_slot_an_older_build_wrote_over_a_named_one_names_no_file() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), "a", 200, true);
    let log = dir.path().join("a.wal");
    let named = TreeWal::open(&log).unwrap().data_file();
    assert!(named.is_some());
    // A log of the layout before session 44 (slots at 0 and 512), which an older build writes.
    crate::log_format_version::to_sectors_layout(&log);
    // Both slots name the file now (the bind wrote one, the checkpoint's cut the other): write, as an older
    // build's cut would, the next sequence's 64-byte slot over the slot not in force.
    let f = std::fs::OpenOptions::new().read(true).write(true).open(&log).unwrap();
    let slot = |at: u64| {
        let mut b = [0u8; 128];
        f.read_exact_at(&mut b, at).unwrap();
        b
    };
    let (s0, s1) = (slot(0), slot(512));
    let seq = |b: &[u8; 128]| u64::from_le_bytes(b[32..40].try_into().unwrap());
    let (in_force, other_at) = if seq(&s0) >= seq(&s1) { (s0, 512) } else { (s1, 0) };
    // This build's slots are `BPTWAL04` (L41-O1), which an older build refuses; the case is a legacy log a build
    // of sessions 33 to 41 named, cut by an older build: its slot is `BPTWAL02` over the same fields.
    assert_eq!(&in_force[..8], b"BPTWAL04");
    let mut old = [0u8; 64];
    old[..40].copy_from_slice(&in_force[..40]);
    old[..8].copy_from_slice(b"BPTWAL02");
    old[32..40].copy_from_slice(&(seq(&in_force) + 1).to_le_bytes());
    let crc = crc32c::crc32c(&old[..40]);
    old[40..44].copy_from_slice(&crc.to_le_bytes());
    f.write_all_at(&old, other_at).unwrap();
    drop(f);
    assert_ne!(
        slot_bytes(&log, other_at)[64..72],
        [0u8; 8],
        "the name's bytes are left behind"
    );
    assert_eq!(
        TreeWal::open(&log).unwrap().data_file(),
        None,
        "a stale name read under an older slot"
    );
    holds(dir.path(), "a", 200);
    assert_eq!(
        TreeWal::open(&log).unwrap().data_file(),
        named,
        "named again by the open"
    );
}

fn slot_bytes(log: &Path, at: u64) -> [u8; 128] {
    let mut b = [0u8; 128];
    std::fs::File::open(log).unwrap().read_exact_at(&mut b, at).unwrap();
    b
}
