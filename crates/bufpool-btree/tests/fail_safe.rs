//! A structure change either completes and is logged, or leaves no trace (issue 20, D1-D4 and its suspicions).
//!
//! The story: a split moved a leaf's upper half to a new page, then failed to allocate the new root (a 3-frame
//! pool has no fourth frame); both pages stayed changed and unlogged, the next checkpoint wrote them and cut the
//! log, and half of the committed keys were gone. A merge failing at its second level left the first level merged
//! the same way. Each test here drives a tree into such a failure with a pool too small for the change (so
//! `PoolExhausted` is certain, not timed) and then checks what must hold: every committed key is present, the
//! tree's invariants hold, no page leaked, and the same after a checkpoint or a crash and recovery.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use bufpool_btree::{open_dir, Error, Options, Tree, TreeStats, TreeWal, DATA_FILE, WAL_FILE};
use common::{key, value};

fn open_frames(dir: &Path, frames: usize) -> Result<Tree, Error> {
    open_dir(
        dir,
        Options {
            frames,
            page_size: 4096,
        },
    )
}

fn is_exhausted(e: &Error) -> bool {
    matches!(e, Error::Pool(bufpool::Error::PoolExhausted { .. }))
}

/// Every page of the file is the meta page, a node or on the free list: nothing leaked.
fn assert_no_leak(tree: &Tree, stats: &TreeStats) {
    let pages = tree.pool().file_pages(tree.file()).unwrap() as usize;
    assert_eq!(
        pages,
        1 + stats.inner_nodes + stats.leaves + stats.free_pages,
        "pages in the file vs pages the tree accounts for ({stats:?})"
    );
}

/// Every key of `model` has its value, and nothing else is in the tree.
fn assert_model(tree: &Tree, model: &BTreeMap<u64, u64>) {
    for (&id, &ver) in model {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, ver)), "key {id}");
    }
    let stats = tree.check().unwrap();
    assert_eq!(stats.entries, model.len());
}

/// Reopens `dir` with a roomy pool (after the tree there was dropped, checkpointed or not) and checks it.
fn reopen_and_check(dir: &Path, model: &BTreeMap<u64, u64>) {
    let tree = open_frames(dir, 256).unwrap();
    assert_model(&tree, model);
    let stats = tree.check().unwrap();
    assert_no_leak(&tree, &stats);
}

/// D1: a root leaf that must split needs meta + leaf + right + new root = 4 frames. With 3, the new root cannot be
/// allocated after the split moved keys: the put must fail with nothing changed.
#[test]
fn split_that_cannot_allocate_its_root_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_frames(dir.path(), 3).unwrap();
    let mut model = BTreeMap::new();
    let mut failed = 0;
    for id in 0..60u64 {
        match tree.put(&key(id), &value(id, 1)) {
            Ok(()) => {
                tree.commit().unwrap();
                model.insert(id, 1);
            }
            Err(e) => {
                assert!(is_exhausted(&e), "{e}");
                failed += 1;
            }
        }
    }
    assert!(failed > 0, "the root leaf filled up and could not split");
    assert!(model.len() > 5);
    assert_model(&tree, &model);
    // The half-split pages, had they stayed, would be written here and the log cut.
    tree.checkpoint().unwrap();
    drop(tree);
    reopen_and_check(dir.path(), &model);
}

/// D1 and suspicion "alloc moves the free-list head before a later error": the split's right page comes from the
/// tree's free list (the alloc succeeds, moving the meta page's free-list head), then the new root cannot be had.
#[test]
fn split_from_the_free_list_that_fails_keeps_the_free_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    {
        // A two-level tree, then deletes until it collapses to a root leaf with freed pages on the free list.
        let tree = open_frames(dir.path(), 256).unwrap();
        for id in 0..120u64 {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        for id in 1..120u64 {
            tree.delete(&key(id)).unwrap();
        }
        model.insert(0, 0);
        let stats = tree.check().unwrap();
        assert_eq!(stats.depth, 1, "{stats:?}");
        assert!(stats.free_pages >= 2, "{stats:?}");
        tree.close().unwrap();
    }
    let tree = open_frames(dir.path(), 3).unwrap();
    let before = tree.check().unwrap();
    let mut failed = 0;
    for id in 1000..1060u64 {
        match tree.put(&key(id), &value(id, 1)) {
            Ok(()) => {
                tree.commit().unwrap();
                model.insert(id, 1);
            }
            Err(e) => {
                assert!(is_exhausted(&e), "{e}");
                failed += 1;
                assert_eq!(tree.check().unwrap().free_pages, before.free_pages, "free list changed");
            }
        }
    }
    assert!(failed > 0);
    assert_model(&tree, &model);
    assert_no_leak(&tree, &tree.check().unwrap());
    tree.checkpoint().unwrap();
    drop(tree);
    reopen_and_check(dir.path(), &model);
}

/// D2: a three-level tree in a 5-frame pool. A leaf merge latches meta + root + inner + leaf + sibling = 5
/// frames; when it leaves the inner node underfull, the inner node's sibling is a sixth page that cannot be
/// latched. The leaf merge below (already done, a page freed, a separator removed) must be undone, and the
/// delete, which was applied and logged before the merge, must report success.
#[test]
fn merge_that_fails_at_the_upper_level_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let ids = 3000u64;
    let mut model = BTreeMap::new();
    {
        let tree = open_frames(dir.path(), 512).unwrap();
        for id in 0..ids {
            tree.put(&key(id), &value(id, 0)).unwrap();
            model.insert(id, 0);
        }
        assert!(tree.check().unwrap().depth >= 3);
        tree.close().unwrap();
    }
    let tree = open_frames(dir.path(), 5).unwrap();
    // Delete most keys in key order (leaves empty one after another; their merges climb to level 1).
    let mut order: Vec<u64> = (0..ids).collect();
    order.sort_by_key(|&id| key(id));
    for (n, &id) in order.iter().enumerate() {
        if n % 8 == 0 {
            continue;
        }
        assert_eq!(
            tree.delete(&key(id)).map_err(|e| e.to_string()),
            Ok(true),
            "delete {id}"
        );
        model.remove(&id);
        if n % 64 == 0 {
            tree.commit().unwrap();
        }
    }
    tree.commit().unwrap();
    assert_model(&tree, &model);
    assert_no_leak(&tree, &tree.check().unwrap());
    // A crash: the pool wrote what eviction chose (every dirty page is a logged state), nothing else.
    drop(tree);
    reopen_and_check(dir.path(), &model);
}

/// D3: a torn write that extended the file leaves a partial last page (the pool reads it short). Its first change
/// since the log's start is a logged image, so recovery rebuilds it as it rebuilds a page that fails its checksum.
#[test]
fn partial_last_page_is_rebuilt_from_its_logged_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    {
        let tree = open_frames(dir.path(), 256).unwrap();
        for id in 0..400u64 {
            tree.put(&key(id), &value(id, 0)).unwrap();
            model.insert(id, 0);
        }
        tree.commit().unwrap();
        // Write every page but keep the log whole (no `Tree::checkpoint`): then crash.
        tree.pool().checkpoint().unwrap();
    }
    let data = dir.path().join(DATA_FILE);
    let len = std::fs::metadata(&data).unwrap().len();
    assert!(len >= 3 * 4096);
    let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.set_len(len - 4096 + 1536).unwrap();
    drop(f);
    reopen_and_check(dir.path(), &model);
}

fn is_log_mismatch(e: &Error) -> bool {
    e.to_string().contains("does not belong")
}

/// D4: a lost log (missing, or shorter than its header) is not replaced by a fresh one under the tree's pages.
#[test]
fn missing_or_short_log_is_refused() {
    for short in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        {
            let tree = open_frames(dir.path(), 256).unwrap();
            for id in 0..300u64 {
                tree.put(&key(id), &value(id, 0)).unwrap();
            }
            tree.checkpoint().unwrap();
            for id in 300..400u64 {
                tree.put(&key(id), &value(id, 0)).unwrap();
            }
            tree.commit().unwrap();
            tree.pool().checkpoint().unwrap();
        }
        let log = dir.path().join(WAL_FILE);
        if short {
            let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
            f.set_len(10).unwrap();
        } else {
            std::fs::remove_file(&log).unwrap();
        }
        match open_frames(dir.path(), 256) {
            Err(e) => assert!(is_log_mismatch(&e), "short={short}: {e}"),
            Ok(_) => panic!("short={short}: a tree opened with a fresh log in place of its own"),
        }
    }
}

/// D4: an older copy of the tree's own log (same identity) ends before the LSNs of pages already written.
#[test]
fn log_older_than_the_pages_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(WAL_FILE);
    let saved = dir.path().join("saved.wal");
    {
        let tree = open_frames(dir.path(), 256).unwrap();
        for id in 0..100u64 {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.commit().unwrap();
        std::fs::copy(&log, &saved).unwrap();
        for id in 100..400u64 {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.commit().unwrap();
        tree.pool().checkpoint().unwrap();
    }
    std::fs::copy(&saved, &log).unwrap();
    match open_frames(dir.path(), 256) {
        Err(e) => assert!(is_log_mismatch(&e), "{e}"),
        Ok(_) => panic!("a tree opened with a log that ends before its pages' LSNs"),
    }
}

/// Suspicion: two logs whose names differ only in extension shared one temp file (`with_extension("tmp")`)
/// during truncation. A file at that shared name must be left alone by either log's truncation.
#[test]
fn truncation_temp_file_is_the_logs_own() {
    let dir = tempfile::tempdir().unwrap();
    let shared_tmp = dir.path().join("x.tmp");
    std::fs::write(&shared_tmp, b"the other log's temp file").unwrap();
    for (log, data) in [("x.wal", "a.db"), ("x.log", "b.db")] {
        let wal = TreeWal::open(dir.path().join(log)).unwrap();
        let pool = bufpool::BufferPool::builder()
            .frames(64)
            .wal(wal.clone())
            .build()
            .unwrap();
        let tree = Tree::open(std::sync::Arc::new(pool), wal, dir.path().join(data)).unwrap();
        for id in 0..50u64 {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.checkpoint().unwrap();
        tree.put(&key(99), &value(99, 1)).unwrap();
        tree.commit().unwrap();
    }
    assert_eq!(std::fs::read(&shared_tmp).unwrap(), b"the other log's temp file");
}

/// Suspicion: a put that changed its leaf and then failed on the log stayed visible to readers (the change was
/// made before the append found the log failed). The log is now checked before the page changes.
#[test]
fn change_refused_by_a_failed_log_is_not_visible() {
    use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
    use std::sync::Arc;
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let pool = Arc::new(
        bufpool::BufferPool::builder()
            .frames(64)
            .wal(wal.clone())
            .build()
            .unwrap(),
    );
    let tree = Tree::create_storage(pool, wal, bufpool::MemoryStorage::new()).unwrap();
    tree.put(&key(1), &value(1, 0)).unwrap();
    tree.commit().unwrap();
    tree.put(&key(2), &value(2, 0)).unwrap();
    log.inject_next(Op::Sync, Fault::Eio);
    assert!(tree.commit().is_err());
    assert!(tree.put(&key(3), &value(3, 0)).is_err());
    assert_eq!(tree.get(&key(3)).unwrap(), None);
    assert!(tree.put(&key(1), &value(1, 9)).is_err());
    assert_eq!(tree.get(&key(1)).unwrap(), Some(value(1, 0)));
    assert!(tree.delete(&key(1)).is_err());
    assert_eq!(tree.get(&key(1)).unwrap(), Some(value(1, 0)));
}
