//! Crash test: a child process (this test binary re-run with `crash_child`) puts, updates and deletes keys in
//! committed batches, checkpointing now and then, and records each batch in `ops.log` (intent lines before the
//! ops, a `C` line after the commit returned). The parent SIGKILLs it at a random moment, reopens the tree
//! (recovery), checks its invariants, and checks that every committed change is there: committed puts present
//! with their last committed value, committed deletes absent. Only the ops of the batch in flight at the kill
//! are uncertain. Repeated over several rounds on the same files, so recovery also runs over recovered files.
//!
//! Longer soak: `BTREE_CRASH_ROUNDS=100 cargo test -p bufpool-btree --release --test crash`.

mod common;

use std::path::PathBuf;

use common::crash::{run_and_kill, verify, Workload};
use common::{key, value};

const CHILD_DIR: &str = "BTREE_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "BTREE_CRASH_ROUND";

/// The child: runs until killed.
#[test]
#[ignore = "helper, run in a child process by `crash_recovery`"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let tree = common::open(&dir, 128);
    // The log's cuts punch out its dead records; in odd rounds they also rewrite the file whenever it is 256 KiB
    // long (`TreeWal::set_rewrite_len`), so kills land in both kinds of cut.
    if round % 2 == 1 {
        tree.wal().set_rewrite_len(256 << 10);
    }
    let mut work = Workload::new(&dir, round, 0);
    loop {
        work.batch(&tree);
    }
}

#[test]
fn crash_recovery() {
    let rounds = common::crash::rounds(6);
    let dir = tempfile::tempdir().unwrap();
    let mut commits = 0;
    for round in 0..rounds {
        let env = [
            (CHILD_DIR, dir.path().display().to_string()),
            (CHILD_ROUND, round.to_string()),
        ];
        run_and_kill("crash_child", &env, round);
        commits = verify(&common::open(dir.path(), 128), dir.path());
    }
    eprintln!("crash test: {commits} batches committed over {rounds} rounds");
    assert!(commits > 0, "no batch was ever committed: the test checked nothing");
}

/// A page torn by a crash mid-write fails its checksum; recovery rebuilds it from the full image the log holds
/// for its first change after the checkpoint (full-page writes), instead of failing.
#[test]
fn torn_page_is_rebuilt_from_its_logged_image() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1500u64;
    {
        // A pool far smaller than the tree: most pages reach the data file through eviction.
        let tree = common::open(dir.path(), 16);
        for id in 0..n {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        tree.commit().unwrap();
        // Dropped without close: a crash after the commit.
    }
    let data = dir.path().join(bufpool_btree::DATA_FILE);
    let mut bytes = std::fs::read(&data).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    assert!(pages > 20, "the tree reached the file: {pages} pages");
    // Tear a few written pages: the second half of each replaced by zeroes, as a torn 4 KiB write leaves it.
    let mut torn = 0;
    for p in [3, pages / 2, pages - 2] {
        let pg = &mut bytes[p * page..(p + 1) * page];
        if pg.iter().any(|&b| b != 0) {
            pg[page / 2..].fill(0);
            torn += 1;
        }
    }
    assert!(torn > 0);
    std::fs::write(&data, &bytes).unwrap();
    let tree = common::open(dir.path(), 64);
    assert_eq!(tree.check().unwrap().entries, n as usize);
    for id in 0..n {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "id {id}");
    }
}

/// A leaf split logs the split leaf and the parent that took the separator as ops (the pair and the separator),
/// not page images: a few hundred bytes beside the new right leaf's image instead of three images. Recovery
/// replays them (the tree is dropped unclosed, after a commit).
#[test]
fn splits_are_logged_as_ops_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let pair = |i: u64| ((common::mix(i)).to_be_bytes(), [i as u8; 120]);
    let tree = common::open(dir.path(), 4096);
    for i in 0..20_000 {
        let (k, v) = pair(i);
        tree.put(&k, &v).unwrap();
    }
    tree.checkpoint().unwrap();
    // Every leaf's first change after the checkpoint logs its image (full-page writes): done here, without splits.
    for i in 0..20_000 {
        let (k, v) = pair(i);
        tree.put(&k, &v).unwrap();
    }
    let (lsn0, leaves0) = (tree.wal().end_lsn(), tree.check().unwrap().leaves);
    let n = 20_000u64;
    for i in n..2 * n {
        let (k, v) = pair(i);
        tree.put(&k, &v).unwrap();
    }
    let splits = (tree.check().unwrap().leaves - leaves0) as u64;
    // A put's record: 16-byte header, op count, tag, page, key and value lengths, key, value.
    let puts = n * (16 + 2 + 1 + 4 + 2 + 4 + 8 + 120);
    let per_split = (tree.wal().end_lsn() - lsn0 - puts) / splits;
    // The right leaf's image (about half a page without its free middle) and ~300 bytes; three images were
    // about 7 KiB.
    assert!(
        splits > 500 && per_split < 3000,
        "{splits} splits, {per_split} log bytes each"
    );
    tree.commit().unwrap();
    drop(tree);
    let tree = common::open(dir.path(), 4096);
    assert_eq!(tree.check().unwrap().entries as u64, 2 * n);
    for i in (0..2 * n).step_by(7) {
        let (k, v) = pair(i);
        assert_eq!(tree.get(&k).unwrap().as_deref(), Some(&v[..]));
    }
}
