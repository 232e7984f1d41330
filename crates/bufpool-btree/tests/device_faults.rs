//! A tree's data file on a device that lies (session 20's `fault20`): a write torn at sector boundaries, a write of
//! a new page the device dropped (the page reads back as zeros), and rewrites of existing pages the device dropped
//! (the previous version stays, with a valid checksum). The faults are made on the real files between two opens,
//! as a device would leave them: the tree is dropped without `close` (a process killed) or closed, the file's bytes
//! changed, and the tree opened again.
//!
//! - A torn page and a dropped new page are typed errors naming the page (`Error::Pool(Corrupt { page, .. })`),
//!   from lookups, scans and `Tree::check`; every other key still reads (passes on main).
//! - A dropped rewrite whose records the log still holds (written by eviction after the last checkpoint) is redone
//!   by recovery: every key acknowledged reads its last value (passes on main).
//! - A dropped rewrite of a checkpoint after which the log was cut (R20-O20) is refused at each read of the page
//!   after the next open, `Corrupt { StaleWrite }` naming it (R21-10 in RELIABILITY.md: before it, the tree
//!   opened and 1,000 of the 3,000 keys read their previous value; R22-10: the open no longer reads the noted
//!   pages), also after opens and closes that read nothing and cut the log holding the notes; and no valid page
//!   is refused after pages are freed and reused across checkpoints, closes and crashes.
//! - At run time, without a crash: a leaf's write-back the device dropped, the leaf evicted and read again, is
//!   `Corrupt { StaleWrite }` naming it (R21-11: on main the lookup returned the previous value, and a later put
//!   into the leaf logged the stale leaf as the truth).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bufpool::{CorruptReason, PageNo};
use bufpool_btree::{Error, LeafHint, Tree};

use crate::common::hooked::{DropsWrites, Hooked};
use crate::common::{self, key, value};

const PAGE: usize = 4096;

/// The leaf holding `k` now.
fn leaf_of(tree: &Tree, k: &[u8]) -> PageNo {
    let mut hint = LeafHint::default();
    tree.get_hinted(k, &mut hint, |_| ()).unwrap();
    hint.page().expect("a lookup names its leaf")
}

fn data_file(dir: &Path) -> std::path::PathBuf {
    dir.join(bufpool_btree::DATA_FILE)
}

/// Overwrites bytes `at..at + bytes.len()` of page `no` of the tree's data file.
fn patch_page(dir: &Path, no: PageNo, at: usize, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(data_file(dir)).unwrap();
    f.write_all_at(bytes, (no as usize * PAGE + at) as u64).unwrap();
    f.sync_all().unwrap();
}

/// `Err(Pool(Corrupt { page }))` naming page `no`, and why.
fn corrupt_page(e: &Error, no: PageNo) -> Option<CorruptReason> {
    match e {
        Error::Pool(bufpool::Error::Corrupt { page, reason }) if page.page_no() == no => Some(*reason),
        _ => None,
    }
}

/// Every key of `model` outside page `no` reads its value, those in it (`in_page`) fail naming it, and so do
/// `Tree::check` and a scan; the reason of the keys' errors.
fn reads_but_the_page(tree: &Tree, model: &BTreeMap<u64, u64>, in_page: &[u64], no: PageNo) -> CorruptReason {
    let mut reason = None;
    for (&id, &ver) in model {
        match tree.get(&key(id)) {
            Ok(v) => {
                assert!(
                    !in_page.contains(&id),
                    "key {id} of the damaged page {no} read without an error"
                );
                assert_eq!(v, Some(value(id, ver)), "key {id}");
            }
            Err(e) => {
                assert!(in_page.contains(&id), "key {id} outside the damaged page: {e}");
                reason = Some(corrupt_page(&e, no).unwrap_or_else(|| panic!("key {id}: {e} does not name page {no}")));
            }
        }
    }
    let err = tree.check().expect_err("check passes over the damaged page");
    assert!(corrupt_page(&err, no).is_some(), "check: {err}");
    let err = tree.scan(.., |_, _| true).expect_err("a scan over the damaged page");
    assert!(corrupt_page(&err, no).is_some(), "scan: {err}");
    reason.expect("no key of the damaged page was read")
}

/// Fills a tree with `n` keys (several levels of 4 KiB pages), committed.
fn fill(tree: &Tree, n: u64, ver: u64, model: &mut BTreeMap<u64, u64>) {
    for id in 0..n {
        tree.put(&key(id), &value(id, ver)).unwrap();
        model.insert(id, ver);
    }
    tree.commit().unwrap();
}

/// The ids of `model` whose leaf is `no`.
fn ids_in(tree: &Tree, model: &BTreeMap<u64, u64>, no: PageNo) -> Vec<u64> {
    model
        .keys()
        .copied()
        .filter(|&id| leaf_of(tree, &key(id)) == no)
        .collect()
}

#[test]
fn a_torn_leaf_is_a_typed_error_naming_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let (no, in_page) = {
        let tree = common::open(dir.path(), 256);
        fill(&tree, 3000, 1, &mut model);
        let no = leaf_of(&tree, &key(1234));
        let in_page = ids_in(&tree, &model, no);
        tree.close().unwrap();
        (no, in_page)
    };
    // Sectors 4 to 7 of the page are another write's (garbage here): the device tore the write.
    patch_page(dir.path(), no, 2048, &[0x5a; 2048]);
    let reason = reads_but_the_page(&common::open(dir.path(), 256), &model, &in_page, no);
    assert!(matches!(reason, CorruptReason::ChecksumMismatch { .. }), "{reason:?}");
}

#[test]
fn a_new_page_the_device_dropped_is_a_lost_write_naming_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let (no, in_page) = {
        let tree = common::open(dir.path(), 256);
        fill(&tree, 300, 1, &mut model);
        tree.checkpoint().unwrap();
        // New leaves, written by the close's checkpoint only.
        for id in 300..3000 {
            tree.put(&key(id), &value(id, 1)).unwrap();
            model.insert(id, 1);
        }
        tree.commit().unwrap();
        let pages = std::fs::metadata(data_file(dir.path())).unwrap().len() / PAGE as u64;
        let no = (pages as PageNo..)
            .find(|&no| model.keys().any(|&id| leaf_of(&tree, &key(id)) == no))
            .expect("a leaf past the file's end at the checkpoint");
        let in_page = ids_in(&tree, &model, no);
        tree.close().unwrap();
        (no, in_page)
    };
    patch_page(dir.path(), no, 0, &[0; PAGE]);
    let reason = reads_but_the_page(&common::open(dir.path(), 256), &model, &in_page, no);
    assert!(matches!(reason, CorruptReason::LostWrite { .. }), "{reason:?}");
}

/// 3,000 keys, closed; reopened with 24 frames (the updates' leaves are written by eviction, after the log's redo
/// point), every third key updated and committed, then, with `checkpoint`, a checkpoint that cuts the log; the
/// files copied into `image` as they are (the process killed). Returns the data file's bytes before the updates:
/// after the reopen, whose recovery checkpoints (it replays the close's record of the meta page).
fn update_and_kill(dir: &Path, image: &Path, model: &mut BTreeMap<u64, u64>, checkpoint: bool) -> Vec<u8> {
    {
        let tree = common::open(dir, 24);
        fill(&tree, 3000, 1, model);
        tree.close().unwrap();
    }
    let tree = common::open(dir, 24);
    let before = std::fs::read(data_file(dir)).unwrap();
    for id in (0..3000).step_by(3) {
        tree.put(&key(id), &value(id, 2)).unwrap();
        model.insert(id, 2);
    }
    tree.commit().unwrap();
    if checkpoint {
        let start = tree.wal().start_lsn();
        tree.checkpoint().unwrap();
        assert!(tree.wal().start_lsn() > start, "the checkpoint cut the log");
    }
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), image.join(f.file_name())).unwrap();
    }
    before
}

/// Puts every page of `image`'s data file from `skip` on that differs from `before` back to its bytes there (the
/// device dropped every rewrite since); returns their numbers.
fn drop_rewrites(image: &Path, before: &[u8], skip: usize) -> Vec<PageNo> {
    let mut now = std::fs::read(data_file(image)).unwrap();
    let mut dropped = Vec::new();
    for (no, (new, old)) in now.chunks_mut(PAGE).zip(before.chunks(PAGE)).enumerate().skip(skip) {
        if new != old {
            new.copy_from_slice(old);
            dropped.push(no as PageNo);
        }
    }
    std::fs::write(data_file(image), &now).unwrap();
    dropped
}

#[test]
fn rewrites_the_device_dropped_are_redone_while_the_log_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let image = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let before = update_and_kill(dir.path(), image.path(), &mut model, false);
    let dropped = drop_rewrites(image.path(), &before, 0).len();
    assert!(dropped > 10, "only {dropped} pages rewritten");
    let tree = common::open(image.path(), 24);
    for (&id, &ver) in &model {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, ver)), "key {id}");
    }
    tree.check().unwrap();
}

const OPTS: bufpool_btree::Options = bufpool_btree::Options {
    frames: 24,
    page_size: 4096,
};

/// Every key of `model` reads its last value, or fails with `Corrupt { StaleWrite }` naming one of the `dropped`
/// pages (its leaf, or an inner node on its path); returns how many failed.
fn stale_reads(tree: &Tree, model: &BTreeMap<u64, u64>, dropped: &[PageNo]) -> usize {
    let mut failed = 0;
    for (&id, &ver) in model {
        match tree.get(&key(id)) {
            Ok(v) => assert_eq!(v, Some(value(id, ver)), "key {id} read another value than its last"),
            Err(Error::Pool(bufpool::Error::Corrupt {
                page,
                reason: CorruptReason::StaleWrite { lsn, written },
            })) => {
                assert!(dropped.contains(&page.page_no()), "key {id}: {page} was not dropped");
                assert!(lsn < written, "{lsn} {written}");
                failed += 1;
            }
            Err(e) => panic!("key {id}: not StaleWrite: {e}"),
        }
    }
    failed
}

/// The setup of R21-10's experiment: rewrites of a checkpoint after which the log was cut, dropped by the device
/// (every data page's since the reopen but the meta page's, whose drop is refused already: `LogMismatch`), in a
/// crash image in `image`; returns the dropped pages. The files as they are open whole first: every key reads its
/// last value.
fn dropped_before_the_cut(dir: &Path, image: &Path, model: &mut BTreeMap<u64, u64>) -> Vec<PageNo> {
    // The updated leaves are written by evictions and by the checkpoint, whose cut drops their records.
    let before = update_and_kill(dir, image, model, true);
    {
        let tree = common::open(dir, 24);
        for (&id, &ver) in model.iter() {
            assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, ver)), "key {id}");
        }
    }
    let dropped = drop_rewrites(image, &before, 1);
    assert!(dropped.len() > 100, "only {} pages rewritten", dropped.len());
    dropped
}

/// R21-10 (R22-10: checked at each page's first read since, the open reads none of them).
#[test]
fn a_rewrite_the_device_dropped_before_the_logs_cut_is_refused_at_its_first_read() {
    let dir = tempfile::tempdir().unwrap();
    let image = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let dropped = dropped_before_the_cut(dir.path(), image.path(), &mut model);
    let tree = common::open(image.path(), OPTS.frames);
    let reads = tree.pool().stats().reads;
    assert!(reads < 5, "the open read {reads} pages");
    let failed = stale_reads(&tree, &model, &dropped);
    assert!(failed >= 1000, "only {failed} keys refused");
}

/// R22-10: an open hands the notes to the pool without reading their pages, and its checkpoint (after replay)
/// cuts the records that held them: the notes of pages no read has confirmed are carried into each cut, so two
/// opens and closes that read nothing leave the drop as caught as before.
#[test]
fn a_dropped_rewrite_not_read_since_is_caught_after_reopens_that_cut_its_notes() {
    let dir = tempfile::tempdir().unwrap();
    let image = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let dropped = dropped_before_the_cut(dir.path(), image.path(), &mut model);
    for _ in 0..2 {
        let tree = common::open(image.path(), OPTS.frames);
        let start = tree.wal().start_lsn();
        tree.checkpoint().unwrap();
        assert!(tree.wal().start_lsn() > start, "the checkpoint cut the log");
        tree.close().unwrap();
    }
    let tree = common::open(image.path(), OPTS.frames);
    let failed = stale_reads(&tree, &model, &dropped);
    assert!(failed >= 1000, "only {failed} keys refused");
}

/// R22-10: no valid page is refused, whatever the notes name: pages freed by merges and reused by splits across
/// checkpoints, clean closes and crash images (the tree dropped unclosed, its files copied as they were), with
/// 24 frames (evictions write most pages), every key checked at each open. In memory: each eviction's write
/// syncs the log first (the WAL rule), and those syncs on a disk made this the suite's longest test.
#[test]
fn pages_freed_and_reused_across_checkpoints_reopens_and_crashes_are_never_refused() {
    let dirs: Vec<_> = (0..7).map(|_| common::memory_tempdir()).collect();
    let mut model = BTreeMap::new();
    for (round, dir) in dirs.iter().enumerate() {
        let tree = common::open(dir.path(), 24);
        for (&id, &ver) in &model {
            assert_eq!(
                tree.get(&key(id)).unwrap(),
                Some(value(id, ver)),
                "round {round}: key {id}"
            );
        }
        tree.check().unwrap();
        let ver = round as u64 + 1;
        // Even rounds fill 4,000 keys (reusing what odd rounds freed), odd ones delete four in five.
        for id in 0..4000u64 {
            if round % 2 == 0 {
                tree.put(&key(id), &value(id, ver)).unwrap();
                model.insert(id, ver);
            } else if id % 5 != 0 {
                tree.delete(&key(id)).unwrap();
                model.remove(&id);
            }
            if id == 2000 {
                tree.commit().unwrap();
                tree.checkpoint().unwrap();
            }
        }
        tree.commit().unwrap();
        tree.checkpoint().unwrap();
        for id in (0..4000u64).step_by(7) {
            tree.put(&key(id), &value(id, ver + 100)).unwrap();
            model.insert(id, ver + 100);
        }
        tree.commit().unwrap();
        let Some(next) = dirs.get(round + 1) else { break };
        if round % 3 == 2 {
            tree.close().unwrap();
        }
        // The next round opens a copy (of a live tree's files: a crash image; or of a closed one's).
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), next.path().join(f.file_name())).unwrap();
        }
    }
}

#[test]
fn a_write_back_the_device_dropped_is_caught_when_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let drop_at = Arc::new(AtomicU64::new(u64::MAX));
    let dropped = Arc::new(AtomicU64::new(0));
    // Unbound, as the test was written (its storage forwarded no file record).
    let storage = Hooked::unbound(
        bufpool::storage::MemoryStorage::new(),
        DropsWrites {
            at: drop_at.clone(),
            dropped: dropped.clone(),
        },
    );
    let pool = Arc::new(common::pool_builder().frames(24).build().unwrap());
    let wal = bufpool_btree::TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open_storage(pool, wal, storage).unwrap();
    let mut model = BTreeMap::new();
    fill(&tree, 3000, 1, &mut model);
    tree.checkpoint().unwrap();
    let leaf = leaf_of(&tree, &key(1500));
    let in_page = ids_in(&tree, &model, leaf);
    // The device drops the leaf's next write-backs; the leaf changes, then is evicted by lookups of the others.
    drop_at.store(leaf as u64 * PAGE as u64, Ordering::SeqCst);
    tree.put(&key(1500), &value(1500, 2)).unwrap();
    model.insert(1500, 2);
    tree.commit().unwrap();
    for id in (0..3000).filter(|id| !in_page.contains(id)) {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "key {id}");
    }
    assert!(dropped.load(Ordering::SeqCst) > 0, "the leaf was not written back");
    let reason = reads_but_the_page(&tree, &model, &in_page, leaf);
    assert!(matches!(reason, CorruptReason::StaleWrite { .. }), "{reason:?}");
    // A put into the leaf is refused too: the stale leaf is never logged as the tree's state.
    let e = tree
        .put(&key(1500), &value(1500, 3))
        .expect_err("a put into the stale leaf");
    assert!(corrupt_page(&e, leaf).is_some(), "{e}");
}

/// R33-11 through a tree: the device dropped the close's writes past the data file's old end, the extension
/// included (the file is back to its length at the checkpoint before), while the pool's record kept the raised
/// written mark. The leaves past the old end are lost; the tree must refuse the open or say so for their keys (a
/// typed error) and never serve a wrong value, also after new puts allocate pages. Before R33-11 the open was
/// refused (the checkpoint's notes met pages past the file's end: `StalePage`); since, the pool counts the lost
/// pages, the tree opens and each lost leaf's read fails (`ShortRead`), as a dropped rewrite within the file's
/// length is caught at its read (R22-10), while new pages get new numbers.
#[test]
fn leaves_lost_with_the_files_extension_are_errors_never_other_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    let old_len = {
        let tree = common::open(dir.path(), 256);
        fill(&tree, 300, 1, &mut model);
        tree.checkpoint().unwrap();
        let old_len = std::fs::metadata(data_file(dir.path())).unwrap().len();
        for id in 300..3000 {
            tree.put(&key(id), &value(id, 1)).unwrap();
            model.insert(id, 1);
        }
        tree.close().unwrap();
        old_len
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(data_file(dir.path()))
        .unwrap();
    assert!(
        file.metadata().unwrap().len() > old_len + PAGE as u64,
        "the close grew the file"
    );
    file.set_len(old_len).unwrap();
    drop(file);
    let opened = bufpool_btree::open_dir(
        dir.path(),
        bufpool_btree::Options {
            frames: 256,
            page_size: PAGE,
        },
    );
    let tree = match opened {
        Ok(tree) => tree,
        // Refusing the tree is a typed answer too (its meta page or a path node was among the lost pages).
        Err(e) => return eprintln!("refused at the open: {e}"),
    };
    let check = |tree: &Tree, model: &BTreeMap<u64, u64>, what: &str| {
        let mut lost = 0;
        for (&id, &ver) in model {
            match tree.get(&key(id)) {
                Ok(got) => assert_eq!(got.as_deref(), Some(&value(id, ver)[..]), "{what}: key {id}"),
                Err(_) => lost += 1,
            }
        }
        lost
    };
    assert!(
        check(&tree, &model, "reopened") > 0,
        "no key was lost with the file's extension"
    );
    for id in 10_000..10_400 {
        if tree.put(&key(id), &value(id, 2)).is_ok() {
            model.insert(id, 2);
        }
    }
    let _ = tree.commit();
    check(&tree, &model, "after new puts");
}
