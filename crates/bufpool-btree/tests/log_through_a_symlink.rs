//! A tree's log opened through a symbolic link (R30-2 in RELIABILITY.md): a log kept on another device than its
//! tree, the link naming it where the engine looks for it. A checkpoint's cut that rewrites the log (its live tail
//! copied into `<name>.tmp`, renamed over the log: `wal.rs`, "Truncation") renamed the new file over the *link*:
//! the link became a regular file in the link's directory (the log moved off its device), and the file it led to
//! was left behind, stale, holding the log as it was before the cut. Opened through that file's own name, the tree
//! opened without error and without every commit made after the rewrite.

use std::path::Path;
use std::sync::Arc;

use bufpool_btree::{BufferPool, Tree, TreeWal};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// Opens the tree of `data` with its log at `log`, a pool of its own.
fn open(data: &Path, log: &Path) -> Tree {
    let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
    Tree::open(pool, TreeWal::open(log).unwrap(), data).unwrap()
}

/// Keys `0..n` are in the tree with their values, and no other.
fn assert_holds(tree: &Tree, n: u32, through: &str) {
    for i in 0..n {
        assert_eq!(
            tree.get(&key(i)).unwrap().as_deref(),
            Some(&key(i)[..]),
            "committed key {i} lost, the log opened through {through}"
        );
    }
    assert_eq!(tree.range(..).count(), n as usize, "the log opened through {through}");
}

#[test]
fn a_rewrite_of_a_log_opened_through_a_symbolic_link_replaces_the_file_it_leads_to() {
    rewritten_through_a_link(false);
}

/// The same with a link that names its target relative to the link's directory.
#[test]
fn a_rewrite_through_a_relative_symbolic_link_replaces_the_file_it_leads_to() {
    rewritten_through_a_link(true);
}

fn rewritten_through_a_link(relative: bool) {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("log-device");
    std::fs::create_dir(&elsewhere).unwrap();
    let target = elsewhere.join("t.wal");
    let link = dir.path().join("t.wal");
    let named = if relative {
        Path::new("log-device/t.wal")
    } else {
        &target
    };
    std::os::unix::fs::symlink(named, &link).unwrap();
    let data = dir.path().join("t.db");

    let tree = open(&data, &link);
    // Every cut rewrites when the file is at least 8 times the tail it keeps.
    tree.wal().set_rewrite_len(0);
    for i in 0..2000 {
        tree.put(&key(i), &key(i)).unwrap();
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    assert!(
        tree.wal().rewrites() >= 1,
        "the checkpoint's cut did not rewrite the log"
    );
    // Committed after the rewrite, never checkpointed: only the log has them.
    for i in 2000..2100 {
        tree.put(&key(i), &key(i)).unwrap();
    }
    tree.commit().unwrap();
    drop(tree); // unclosed: the next open recovers from the log

    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(
        kind.is_symlink(),
        "the link was replaced by a regular file in its own directory"
    );
    assert!(
        !elsewhere.join("t.wal.tmp").exists() && !dir.path().join("t.wal.tmp").exists(),
        "a rewrite's temporary file was left behind"
    );
    // The log file the link leads to is the log: opened by its own name, it has every commit.
    let tree = open(&data, &target);
    assert_holds(&tree, 2100, "the file the link leads to");
    tree.close().unwrap();
    let tree = open(&data, &link);
    assert_holds(&tree, 2100, "the link");
    tree.close().unwrap();
}
