//! A tree and its log on a file system that fills up (a real one: a small tmpfs, where this process may mount
//! it; each test skips, saying why, where it cannot). Added by the review of session 9's code (its log
//! truncation: header slot, punched hole, rewrite).
//!
//! - Whatever fails first (a page write of a checkpoint, a log write of a commit, a log rewrite's new file),
//!   every commit acknowledged before keeps its keys after space is freed and the tree reopened, and the tree's
//!   invariants hold (passes on main).
//! - A log rewrite that runs out of space leaves the log usable (R10-5: on main it failed the log).
//! - A commit whose log write the full file system refuses returns `Error::NoSpace`, loses nothing, and the
//!   same tree (a tree with its log, and a tree under a log above) commits once space is freed, without a
//!   restart (F13-1: on main the log failed for good, P12-O1). A crash image taken while the file system is
//!   full holds every acknowledged commit.
//! - A tree's log under a log above stays bounded while the file system is full (F15-1), and a close refused for
//!   space gives the tree back to close again (F15-2).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};

use bufpool_btree::{BufferPool, Error, LeafHint, Op, Tree, TreeWal};
use common::layouts::sectors_layout;
use common::{key, value};

/// Unmounts (lazily) on drop, so a failed assertion does not leave the mount behind. Holds [`SERIAL`] until then.
struct Mount(PathBuf, #[allow(dead_code)] MutexGuard<'static, ()>);

/// One test of this file at a time, from its mount to its unmount. A `mount` or `umount` child forked by one
/// test holds a copy of every descriptor of the process until it execs, and with it the file lock of a log
/// another test just dropped: that test's reopen then saw `FileLocked` (R15-O1 in RELIABILITY.md).
static SERIAL: Mutex<()> = Mutex::new(());

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not root".into());
    }
    // A test that failed holding it poisoned it; the next test's mount is its own.
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if !out.status.success() {
        return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(Mount(dir.to_path_buf(), serial))
}

/// [`mount_tmpfs`], or `None` after saying why `test` is skipped (not root, or no `mount` here).
fn tmpfs_or_skip(dir: &Path, size: &str, test: &str) -> Option<Mount> {
    mount_tmpfs(dir, size)
        .map_err(|why| eprintln!("SKIPPED {test}: {why}"))
        .ok()
}

fn remount(mount: &Mount, size: &str) {
    let ok = Command::new("mount")
        .args(["-o", &format!("remount,size={size}")])
        .arg(&mount.0)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "remount to {size}");
}

#[test]
fn every_commit_acknowledged_before_the_file_system_filled_survives() {
    // Rewrite bounds: none (cuts punch), and small (cuts rewrite the log into a new file, which needs space);
    // file system sizes that fill at different moments of the work.
    let runs = [u64::MAX, 24 << 10]
        .into_iter()
        .flat_map(|r| [160, 224, 320, 480].map(|kib| (r, kib)));
    for (rewrite_len, kib) in runs {
        let dir = tempfile::tempdir().unwrap();
        let Some(mount) = tmpfs_or_skip(
            dir.path(),
            &format!("{kib}k"),
            "every_commit_acknowledged_before_the_file_system_filled_survives",
        ) else {
            return;
        };
        let tree_dir = dir.path().join("t");
        let mut committed = BTreeMap::new();
        // The batch in flight when the error came: its changes may or may not have reached the log.
        let mut in_flight = BTreeMap::new();
        let first_error = {
            let tree = common::open(&tree_dir, 32);
            tree.wal().set_rewrite_len(rewrite_len);
            let mut batch = 0u64;
            let error = 'fill: loop {
                assert!(batch < 100_000, "the file system never filled");
                in_flight.clear();
                for j in 0..10 {
                    let id = (batch * 10 + j) % 700; // updates too, so checkpoints have dead log to cut
                    in_flight.insert(id, batch);
                    if let Err(e) = tree.put(&key(id), &value(id, batch)) {
                        break 'fill e;
                    }
                }
                if let Err(e) = tree.commit() {
                    break 'fill e;
                }
                committed.append(&mut in_flight);
                if batch % 8 == 7 {
                    if let Err(e) = tree.checkpoint() {
                        break 'fill e;
                    }
                }
                batch += 1;
            };
            // Not a panic, and not before anything was committed.
            assert!(!committed.is_empty(), "{error}");
            eprintln!(
                "{kib} KiB, rewrite_len {rewrite_len}: full after {batch} batches, {} rewrites: {error}",
                tree.wal().rewrites()
            );
            error.to_string()
        };
        remount(&mount, "64m");
        let tree = common::open(&tree_dir, 32);
        tree.check()
            .unwrap_or_else(|e| panic!("rewrite_len {rewrite_len}, after {first_error}: invariants: {e}"));
        for (&id, &ver) in &committed {
            let got = tree.get(&key(id)).unwrap();
            let uncertain = in_flight.get(&id).map(|&b| value(id, b));
            assert!(
                got.as_deref() == Some(&value(id, ver)[..]) || (uncertain.is_some() && got == uncertain),
                "{kib} KiB, rewrite_len {rewrite_len}: key {id} (committed at batch {ver}) after {first_error}"
            );
        }
        tree.checkpoint().unwrap();
        drop(tree);
        drop(mount);
    }
}

/// R10-5 (RELIABILITY.md): a log rewrite that runs out of space (the live tail does not fit beside the old
/// file) failed the whole log, so every later commit was refused until the tree was reopened, and its
/// `<log>.tmp` stayed behind, holding the very space the file system lacked. Nothing durable was at stake: the
/// old file and its header in force were untouched. Now the cut returns the error, removes `<log>.tmp`, and the
/// log goes on; a later cut, with space, rewrites.
#[test]
fn a_log_rewrite_that_runs_out_of_space_leaves_the_log_usable() {
    use bufpool_btree::TreeWal;
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "1m",
        "a_log_rewrite_that_runs_out_of_space_leaves_the_log_usable",
    ) else {
        return;
    };
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    let append = |wal: &TreeWal, from: u32, n: u32| common::append_puts(wal, from, n, 1000, 5);
    // About 400 KiB of dead records, then a live tail of about 48 KiB.
    append(&wal, 0, 400).unwrap();
    let redo = wal.begin_checkpoint();
    let mut committed = append(&wal, 400, 48).unwrap();
    wal.commit().unwrap();
    // Fill the file system, then give back 16 KiB: less than the tail a rewrite copies.
    let filler_path = dir.path().join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    let block = vec![1u8; 4096];
    while filler.write_all(&block).is_ok() {}
    let len = filler.metadata().unwrap().len();
    filler.set_len(len - (16 << 10)).unwrap();
    filler.sync_all().unwrap();

    wal.set_rewrite_len(0);
    let err = wal.truncate_before(redo).expect_err("the tail does not fit");
    // Retryable, and typed so (R14-2: it was `Error::Log`, which says the log failed).
    assert!(matches!(err, Error::NoSpace(_)), "{err:?}");
    assert_eq!(wal.rewrites(), 0);
    assert!(!dir.path().join("log.tmp").exists(), "the new file is removed");
    // The log goes on: a commit fits in the space left.
    committed.extend(append(&wal, 500, 4).expect("appends after a failed rewrite"));
    wal.commit().expect("a commit after a failed rewrite");
    // Space back: the next cut rewrites, and a reopen finds every committed record.
    drop(filler);
    std::fs::remove_file(&filler_path).unwrap();
    wal.truncate_before(redo).unwrap();
    assert_eq!(wal.rewrites(), 1);
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    let seen = common::record_ends(&wal);
    assert_eq!(seen, committed);
    drop(wal);
    drop(mount);
}

/// Copies every file of `from` into `to`: on a tmpfs the page cache is the disk, so this is what a crash at this
/// moment would leave (the kernel's view, synced or not).
fn crash_image(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Checks that `tree` holds every key of `committed` at its version, or at its version in `uncertain` (a batch
/// whose commit was refused: its records may have landed, unacknowledged), and no key of neither.
fn holds(tree: &Tree, committed: &BTreeMap<u64, u64>, uncertain: &BTreeMap<u64, u64>, what: &str) {
    tree.check().unwrap_or_else(|e| panic!("{what}: invariants: {e}"));
    for id in committed.keys().chain(uncertain.keys()) {
        let got = tree.get(&key(*id)).unwrap();
        let ok = |m: &BTreeMap<u64, u64>| m.get(id).is_some_and(|&v| got.as_deref() == Some(&value(*id, v)[..]));
        let absent_ok = !committed.contains_key(id) && got.is_none();
        assert!(ok(committed) || ok(uncertain) || absent_ok, "{what}: key {id}");
    }
}

/// A crash now, while full: the tree in a copy of `tree_dir` holds every acknowledged commit, and the refused
/// batches only whole or not at all ([`holds`]).
fn holds_after_a_crash_now(tree_dir: &Path, committed: &BTreeMap<u64, u64>, refused: &BTreeMap<u64, u64>) {
    let image = tempfile::tempdir().unwrap();
    crash_image(tree_dir, image.path());
    let crashed = common::open(image.path(), 64);
    holds(&crashed, committed, refused, "crash image while full");
}

/// F13-1 (RELIABILITY.md; P12-O1 before it): a tree's log that met ENOSPC on a write failed for good, so once
/// the file system had filled, every later commit of the tree was refused (`log failed earlier`) even after
/// space was freed, until a restart, although the refused write had dropped nothing. Now the commit returns
/// `Error::NoSpace`, the records stay buffered, and the same tree commits them once space is back. The pool is
/// large enough that no page is written: only the log fills the file system.
#[test]
fn a_commit_refused_for_space_is_taken_by_the_same_tree_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "160k",
        "a_commit_refused_for_space_is_taken_by_the_same_tree_once_space_is_freed",
    ) else {
        return;
    };
    let tree_dir = dir.path().join("t");
    let tree = common::open(&tree_dir, 512);
    let (mut committed, mut refused) = (BTreeMap::new(), BTreeMap::new());
    let mut batch = 0u64;
    let err = loop {
        assert!(batch < 10_000, "the file system never filled");
        for j in 0..10 {
            let id = batch * 10 + j;
            tree.put(&key(id), &value(id, batch))
                .expect("a put only buffers its record");
            refused.insert(id, batch);
        }
        if let Err(e) = tree.commit() {
            break e;
        }
        committed.append(&mut refused);
        batch += 1;
    };
    assert!(!committed.is_empty());
    assert!(
        matches!(err, Error::NoSpace(_)),
        "a full file system under the log: {err}"
    );
    // Still full: the tree takes puts, and a commit is refused for space again, not for a failed log.
    let id = batch * 10 + 10;
    tree.put(&key(id), &value(id, batch)).unwrap();
    refused.insert(id, batch);
    let again = tree.commit().unwrap_err();
    assert!(matches!(again, Error::NoSpace(_)), "{again}");
    // A crash now: every acknowledged commit is there; the refused batches may be, whole records each.
    holds_after_a_crash_now(&tree_dir, &committed, &refused);
    // Space back: the same tree commits what it had, and goes on.
    remount(&mount, "64m");
    tree.commit().expect("a commit once space is freed");
    committed.append(&mut refused);
    for id in 0..50 {
        tree.put(&key(id), &value(id, 1_000_000)).unwrap();
        committed.insert(id, 1_000_000);
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    drop(tree);
    let tree = common::open(&tree_dir, 64);
    holds(&tree, &committed, &BTreeMap::new(), "reopened after space was freed");
    drop(tree);
    drop(mount);
}

/// F13-1, for a tree under a log above (covered changes, as the TPC-C engine's trees under its `txn.log`): the
/// log above refuses a commit for space, the tree's own log (which depends on it) puts its records back too,
/// and once space is freed both go on: the commit above, then the tree's checkpoint. A crash image taken while
/// full, its log above redone, holds every acknowledged change.
#[test]
fn a_log_above_refused_for_space_and_its_tree_go_on_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    // The tree's log grows its zeroed tail at its first write (up to 512 KiB, `GROW_STEP`), taking what the file
    // system has; the log above's first records then need a block of their own (R44-1's layout: records from
    // byte 8192, where before session 44 they fitted in the header's first block, bytes 1024..4096). 640 KiB
    // leave the log above room for its first commits after the tree log's growth (at 160 KiB to 384 KiB its
    // first commit was refused).
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "640k",
        "a_log_above_refused_for_space_and_its_tree_go_on_once_space_is_freed",
    ) else {
        return;
    };
    let open = |d: &Path, frames: usize| {
        let above = TreeWal::open(d.join("above.log")).unwrap();
        let wal = TreeWal::open(d.join("t.wal")).unwrap();
        wal.flush_first(above.clone()).unwrap();
        let pool = Arc::new(BufferPool::builder().frames(frames).build().unwrap());
        (above, Tree::open(pool, wal, d.join("t.db")).unwrap())
    };
    let (above, tree) = open(dir.path(), 512);
    let put = |id: u64, ver: u64| {
        common::covered_put(&above, &tree, &key(id), &value(id, ver));
    };
    let (mut committed, mut refused) = (BTreeMap::new(), BTreeMap::new());
    let mut batch = 0u64;
    let err = loop {
        assert!(batch < 10_000, "the file system never filled");
        for j in 0..10 {
            put(batch * 10 + j, batch);
            refused.insert(batch * 10 + j, batch);
        }
        if let Err(e) = above.commit() {
            break e;
        }
        committed.append(&mut refused);
        batch += 1;
        if batch.is_multiple_of(16) {
            // The tree's log writes leaf images and splits, after the log above (its dependency).
            if let Err(e) = tree.commit() {
                break e;
            }
        }
    };
    assert!(
        !committed.is_empty(),
        "the file system filled before the first commit: {err}; files: {:?}",
        std::fs::read_dir(dir.path()).map(|d| d
            .flatten()
            .map(|e| (e.file_name(), e.metadata().map(|m| m.len()).ok()))
            .collect::<Vec<_>>())
    );
    assert!(
        matches!(err, Error::NoSpace(_)),
        "a full file system under the logs: {err}"
    );
    let e = tree.commit().unwrap_err();
    assert!(
        matches!(e, Error::NoSpace(_)),
        "the tree's log, its dependency full: {e}"
    );
    let image = tempfile::tempdir().unwrap();
    crash_image(dir.path(), image.path());
    let (crashed_above, crashed) = open(image.path(), 64);
    common::redo_above(&crashed_above, &crashed);
    holds(
        &crashed,
        &committed,
        &refused,
        "crash image while full, the log above redone",
    );
    drop((crashed_above, crashed));
    remount(&mount, "64m");
    above.commit().expect("the log above commits once space is freed");
    committed.append(&mut refused);
    tree.checkpoint().expect("the tree checkpoints once space is freed");
    drop((above, tree));
    let (above, tree) = open(dir.path(), 64);
    common::redo_above(&above, &tree);
    holds(&tree, &committed, &BTreeMap::new(), "reopened after space was freed");
    drop((above, tree));
    drop(mount);
}

/// F13-1: while the file system is full, a log's buffer is bounded. Its write-outs are refused for space and
/// keep the records buffered; past `BUF_HARD_MAX` an append tries the write-out itself and, refused, appends
/// nothing and returns `Error::NoSpace` (what lets the TPC-C engine roll a transaction back before applying
/// anything). Once space is freed, appends and the commit go on, and a reopen finds every record, in order.
#[test]
fn an_append_past_the_buffer_bound_is_refused_for_space_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "4m",
        "an_append_past_the_buffer_bound_is_refused_for_space_and_appends_nothing",
    ) else {
        return;
    };
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    let mut ends = Vec::new();
    let err = loop {
        let i = ends.len() as u32;
        assert!(i < 1000, "never refused");
        match common::append_puts(&wal, i, 1, 64 << 10, 7) {
            Ok(e) => ends.extend(e),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::NoSpace(_)), "{err}");
    assert_eq!(
        wal.end_lsn(),
        *ends.last().unwrap(),
        "the refused append appended nothing"
    );
    assert!(
        wal.end_lsn() - wal.durable_lsn() > bufpool_btree::BUF_HARD_MAX as u64,
        "refused only past the bound"
    );
    remount(&mount, "64m");
    ends.extend(common::append_puts(&wal, ends.len() as u32, 4, 64 << 10, 7).expect("appends once space is freed"));
    wal.commit().unwrap();
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    let seen = common::record_ends(&wal);
    assert_eq!(seen, ends);
    drop(wal);
    drop(mount);
}

/// Fills the file system holding `dir` with a file `dir/filler`, whose removal gives the space back.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut filler = std::fs::File::create(&path).unwrap();
    let block = vec![1u8; 64 << 10];
    while filler.write_all(&block).is_ok() {}
    let small = [1u8; 512];
    while filler.write_all(&small).is_ok() {}
    path
}

/// F15-1 (F14-O1 in RELIABILITY.md): while the file system is full, a tree's log that depends on a log above
/// (covered changes, as the TPC-C engine's nine tree logs under its `txn.log`) stays within `BUF_HARD_MAX`
/// plus one change's records. A covered change on a leaf not logged since the last checkpoint logs the leaf's
/// whole image in the tree's log (about 4 KiB for a record of about 300 bytes above), and the log above alone
/// bounded nothing of it: on main the tree's log grew to one image per leaf of the tree while the log above took
/// every append. Now the log above refuses an append (`NoSpace`, nothing appended) while the tree's log is past
/// its bound and cannot be written out; once space is freed the appends and the commit go on, and a crash image
/// then holds every acknowledged change.
#[test]
fn a_dependent_log_stays_bounded_while_the_file_system_is_full() {
    const KEYS: u64 = 120_000;
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "256m",
        "a_dependent_log_stays_bounded_while_the_file_system_is_full",
    ) else {
        return;
    };
    let open = |d: &Path| {
        let above = TreeWal::open(d.join("above.log")).unwrap();
        let wal = TreeWal::open(d.join("t.wal")).unwrap();
        wal.flush_first(above.clone()).unwrap();
        // Every page fits: while the file system is full, no eviction needs a write.
        let pool = Arc::new(BufferPool::builder().frames(32 << 10).build().unwrap());
        (above, Tree::open(pool, wal, d.join("t.db")).unwrap())
    };
    let (above, tree) = open(dir.path());
    let page = tree.pool().page_size();
    let append = |id: u64, ver: u64| {
        let (k, v) = (key(id), value(id, ver));
        above.append(&[Op::Put {
            page: 0,
            key: &k,
            val: &v,
        }])
    };
    let put = |id: u64, ver: u64| {
        tree.put_covered(&key(id), &value(id, ver), &mut LeafHint::default())
            .unwrap()
    };
    let mut committed = BTreeMap::new();
    for id in 0..KEYS {
        append(id, 0).unwrap();
        put(id, 0);
        committed.insert(id, 0);
    }
    above.commit().unwrap();
    // A checkpoint: every leaf's next covered change logs its image.
    let redo = above.begin_checkpoint();
    tree.checkpoint().unwrap();
    above.truncate_before(redo).unwrap();
    let filler = fill(dir.path());

    // Changes to random rows until the log above refuses one.
    let mut refused = BTreeMap::new();
    let (mut n, mut largest) = (0u64, 0);
    let err = loop {
        assert!(n < KEYS, "the log above never refused an append");
        let id = common::mix(n) % KEYS;
        let end = above.end_lsn();
        match append(id, 1 + n) {
            Ok(_) => {
                put(id, 1 + n);
                refused.insert(id, 1 + n);
            }
            Err(e) => {
                assert_eq!(above.end_lsn(), end, "the refused append appended nothing");
                break e;
            }
        }
        largest = largest.max(tree.wal().buffered_bytes());
        assert!(
            largest <= bufpool_btree::BUF_HARD_MAX + 4 * page,
            "after {n} changes the tree's log holds {largest} bytes"
        );
        n += 1;
    };
    assert!(matches!(err, Error::NoSpace(_)), "{err}");
    assert!(
        tree.wal().buffered_bytes() > bufpool_btree::BUF_HARD_MAX,
        "refused only past the bound"
    );
    eprintln!(
        "refused after {n} changes: the tree's log holds {} bytes, the log above {}",
        tree.wal().buffered_bytes(),
        above.buffered_bytes()
    );
    // Still full: refused again, and a commit too.
    assert!(matches!(append(0, 0), Err(Error::NoSpace(_))));
    assert!(matches!(above.commit(), Err(Error::NoSpace(_))));

    // Space back: appends go on (the tree's log written out first), and the commit acknowledges them all.
    std::fs::remove_file(filler).unwrap();
    remount(&mount, "512m");
    for k in 0..100 {
        let id = common::mix(n + k) % KEYS;
        append(id, 1 + n + k).expect("appends once space is freed");
        put(id, 1 + n + k);
        refused.insert(id, 1 + n + k);
    }
    assert!(tree.wal().buffered_bytes() <= bufpool_btree::BUF_HARD_MAX);
    above.commit().unwrap();
    committed.append(&mut refused);
    // A crash now: the log above redone over what the tree's files hold.
    let image = tempfile::tempdir().unwrap();
    crash_image(dir.path(), image.path());
    let (crashed_above, crashed) = open(image.path());
    common::redo_above(&crashed_above, &crashed);
    holds(
        &crashed,
        &committed,
        &BTreeMap::new(),
        "crash image after space was freed",
    );
    drop((crashed_above, crashed, above, tree));
    drop(mount);
}

/// F15-2 (R14-O1 in RELIABILITY.md): a `Tree::close` whose checkpoint the full file system refuses gives the
/// tree back with the error (`CloseError`), still open and usable, and the error says by its type that space is
/// what is missing (`is_no_space`: here the pool's write of a page met its log's refusal, `WalNoSpace`, which
/// until F15-3 was the untyped `Error::Wal`).
/// Once space is freed the same tree closes, and reopens in the same pool with every key. Until F15-2 `close`
/// took the tree and dropped it on error, its data file still open in the shared pool (a reopen was refused
/// until the caller closed the file by an id it had to have kept), and the close could not be retried.
#[test]
fn a_close_refused_for_space_gives_the_tree_back_to_close_again() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "8m",
        "a_close_refused_for_space_gives_the_tree_back_to_close_again",
    ) else {
        return;
    };
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let open = || {
        let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
        Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap()
    };
    let tree = open();
    let mut committed = BTreeMap::new();
    for id in 0..3000 {
        tree.put(&key(id), &value(id, 0)).unwrap();
        committed.insert(id, 0);
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    let filler = fill(dir.path());
    // Changes to most leaves, committed by the close's checkpoint: every dirty page waits for its log.
    for id in (0..3000).step_by(3) {
        tree.put(&key(id), &value(id, 1)).unwrap();
        committed.insert(id, 1);
    }
    let failed = tree.close().expect_err("the checkpoint has no space to write");
    assert!(failed.error().is_no_space(), "{failed}");
    let tree = failed.into_inner();
    holds(&tree, &committed, &BTreeMap::new(), "the tree given back");
    std::fs::remove_file(filler).unwrap();
    tree.close().expect("a close once space is freed");
    let tree = open();
    holds(&tree, &committed, &BTreeMap::new(), "reopened in the same pool");
    drop(tree);
    drop(mount);
}

/// F16-1 (R15-O2 in RELIABILITY.md): an open that replays its log ends with a checkpoint; refused for space, the
/// open failed and left its data file open in the pool (and its log held by it), so the reopen once space was
/// freed was refused (`FileAlreadyOpen`). Now the refused open leaves nothing in the pool, and the same pool opens
/// the tree, with every committed key, once space is freed.
#[test]
fn an_open_whose_checkpoint_is_refused_for_space_leaves_nothing_open() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "8m",
        "an_open_whose_checkpoint_is_refused_for_space_leaves_nothing_open",
    ) else {
        return;
    };
    let open = |pool: &Arc<BufferPool>| {
        let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
        Tree::open(pool.clone(), wal, dir.path().join("t.db"))
    };
    let mut committed = BTreeMap::new();
    {
        let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
        let tree = open(&pool).unwrap();
        for id in 0..3000 {
            tree.put(&key(id), &value(id, 0)).unwrap();
            committed.insert(id, 0);
        }
        tree.close().unwrap();
        let tree = open(&pool).unwrap();
        for id in (0..6000).step_by(2) {
            tree.put(&key(id), &value(id, 1)).unwrap();
            committed.insert(id, 1);
        }
        tree.commit().unwrap();
        // Dropped unclosed with its pool (which writes nothing): the next open replays the log.
    }
    let filler = fill(dir.path());
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let err = open(&pool).map(|_| ()).expect_err("the open's checkpoint has no space");
    assert!(err.is_no_space(), "{err}");
    assert!(pool.stats().files.is_empty(), "the refused open's file is left open");
    assert_eq!(pool.stats().resident, 0, "the refused open's pages are left cached");
    std::fs::remove_file(filler).unwrap();
    let tree = open(&pool).expect("the same pool opens the tree once space is freed");
    holds(&tree, &committed, &BTreeMap::new(), "reopened in the same pool");
    drop(tree);
    drop(mount);
}

/// R36-20 (was R35-O11's and R33-O15's left item): a new log, and a new tree's data file, on a full file system
/// are refused with an error that says so (`is_no_space`: nothing was opened, retry once space is freed), and
/// both open once space is back. Before, the log's refused header write was `Error::Log("... write header: No
/// space left on device ...")` and the data file's refused record `Pool(OpenIo { .. })`, for which
/// `is_no_space()` was false, so a caller that retries on a full device (as the docs of `is_no_space` say) gave up.
#[test]
fn a_new_log_and_a_new_data_file_on_a_full_device_are_refused_for_space_and_open_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(dir.path(), "1m", "a_new_log_and_a_new_data_file_on_a_full_device") else {
        return;
    };
    // A log made while there is room, for the data file's turn below.
    let made = TreeWal::open(dir.path().join("made.wal")).unwrap();
    let filler = fill(dir.path());
    let err = TreeWal::open(dir.path().join("new.wal"))
        .map(|_| ())
        .expect_err("a new log on a full device");
    assert!(err.is_no_space(), "a new log's header refused for space: {err}");
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let err = Tree::open(pool.clone(), made, dir.path().join("t.db"))
        .map(|_| ())
        .expect_err("a new data file");
    assert!(err.is_no_space(), "a new data file refused for space: {err}");
    assert!(pool.stats().files.is_empty(), "the refused open left a file open");
    std::fs::remove_file(filler).unwrap();
    let tree = Tree::open(
        pool.clone(),
        TreeWal::open(dir.path().join("new.wal")).unwrap(),
        dir.path().join("t.db"),
    )
    .expect("the same paths open once space is back");
    let mut committed = BTreeMap::new();
    for id in 0..200 {
        tree.put(&key(id), &value(id, 0)).unwrap();
        committed.insert(id, 0);
    }
    tree.close().unwrap();
    let tree = Tree::open(
        pool,
        TreeWal::open(dir.path().join("new.wal")).unwrap(),
        dir.path().join("t.db"),
    )
    .unwrap();
    holds(&tree, &committed, &BTreeMap::new(), "reopened");
    drop(tree);
    drop(mount);
}

/// A key above every `key(id)` (those start with `k`), in ascending order of `i`: pairs for an append load.
fn bulk_key(i: u64) -> Vec<u8> {
    let mut k = b"zz-bulk-".to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// `Tree::bulk_load` on a full file system (session 18, fault18): the load is refused for space (`is_no_space`),
/// the tree is as before the load (every committed key, none of the load's; its invariants hold; a crash image
/// taken while full opens so too), and once space is freed the same tree takes puts, commits, checkpoints and
/// the same load again, and reopens with every key. Two pools: a small one, where the build's evictions meet
/// the full device, and one that holds the whole load, where the switch's flush of the new pages does.
#[test]
fn a_bulk_load_refused_for_space_leaves_the_tree_as_before() {
    const LOAD: u64 = 3000;
    for frames in [32, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let Some(mount) = tmpfs_or_skip(
            dir.path(),
            "8m",
            "a_bulk_load_refused_for_space_leaves_the_tree_as_before",
        ) else {
            return;
        };
        let tree_dir = dir.path().join("t");
        let tree = common::open(&tree_dir, frames);
        let mut committed = BTreeMap::new();
        for id in 0..500 {
            tree.put(&key(id), &value(id, 0)).unwrap();
            committed.insert(id, 0);
        }
        tree.commit().unwrap();
        tree.checkpoint().unwrap();
        let entries = tree.check().unwrap().entries;
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..LOAD).map(|i| (bulk_key(i), value(i, 7))).collect();
        let filler = fill(dir.path());

        let err = tree
            .bulk_load(pairs.clone())
            .expect_err("no space for the load's pages");
        assert!(err.is_no_space(), "{frames} frames: {err}");
        holds(&tree, &committed, &BTreeMap::new(), "after the refused load");
        assert_eq!(tree.check().unwrap().entries, entries, "{frames} frames");
        assert_eq!(tree.get(&bulk_key(0)).unwrap(), None, "{frames} frames");
        let image = tempfile::tempdir().unwrap();
        crash_image(&tree_dir, image.path());
        let crashed = common::open(image.path(), 64);
        holds(&crashed, &committed, &BTreeMap::new(), "crash image while full");
        assert_eq!(crashed.get(&bulk_key(0)).unwrap(), None, "{frames} frames");
        drop(crashed);

        std::fs::remove_file(filler).unwrap();
        for id in 500..600 {
            tree.put(&key(id), &value(id, 1)).unwrap();
            committed.insert(id, 1);
        }
        tree.commit().expect("a commit once space is freed");
        tree.checkpoint().expect("a checkpoint once space is freed");
        assert_eq!(
            tree.bulk_load(pairs.clone())
                .expect("the same load once space is freed"),
            LOAD
        );
        drop(tree);
        let tree = common::open(&tree_dir, 64);
        holds(&tree, &committed, &BTreeMap::new(), "reopened after the load");
        assert_eq!(tree.check().unwrap().entries, entries + 100 + LOAD as usize);
        for (k, v) in pairs.iter().step_by(97) {
            assert_eq!(tree.get(k).unwrap().as_deref(), Some(&v[..]), "{frames} frames");
        }
        drop(tree);
        drop(mount);
    }
}

/// `Tree::bulk_load` whose last step, the log commit of its switch record, is refused for space (the log on a
/// full file system, the data file on another with room, so every new page is written and synced first): the
/// load returns `is_no_space`, and the tree is loaded but not durable, as a `put` whose commit was refused (a
/// crash image taken now opens as before the load); once space is freed the next commit makes it durable, and
/// the tree reopens loaded (session 18, fault18). Since R31-1 the log keeps a zeroed tail, which takes commits on
/// the full file system: updates use it up first.
#[test]
fn a_bulk_load_whose_commit_is_refused_for_space_is_made_durable_by_the_next_commit() {
    const LOAD: u64 = 2000;
    let log_dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        log_dir.path(),
        "8m",
        "a_bulk_load_whose_commit_is_refused_for_space_is_made_durable_by_the_next_commit",
    ) else {
        return;
    };
    let open = |pool: &Arc<BufferPool>, dir: &Path, log: &Path| {
        let wal = TreeWal::open(log.join("t.wal")).unwrap();
        (Tree::open(pool.clone(), wal.clone(), dir.join("t.db")).unwrap(), wal)
    };
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let (tree, wal) = open(&pool, data_dir.path(), log_dir.path());
    let mut committed = BTreeMap::new();
    for id in 0..300 {
        tree.put(&key(id), &value(id, 0)).unwrap();
        committed.insert(id, 0);
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..LOAD).map(|i| (bulk_key(i), value(i, 7))).collect();
    let filler = fill(log_dir.path());
    // The log's zeroed tail (R31-1) takes commits on the full file system: updates of one key use it up to less
    // than the load's record of page images needs (the log was never rewritten: its records start at byte 8192,
    // past its two header slots of a 4 KiB block each, `wal.rs`' `LOG_HDR` since R44-1, with LSN 1).
    let room = || wal.file_len() - (8192 + wal.end_lsn() - 1);
    let mut ver = 1;
    while room() > 1500 {
        tree.put(&key(0), &value(0, ver)).unwrap();
        tree.commit()
            .expect("a commit into the zeroed tail on the full file system");
        committed.insert(0, ver);
        ver += 1;
        assert!(ver < 100_000, "the zeroed tail is never used up");
    }

    let err = tree.bulk_load(pairs.clone()).expect_err("no space for the commit");
    assert!(err.is_no_space(), "{err}");
    // Loaded, not durable: a crash now reopens the tree as before the load.
    assert_eq!(tree.get(&bulk_key(0)).unwrap().as_deref(), Some(&pairs[0].1[..]));
    let image = tempfile::tempdir().unwrap();
    crash_image(data_dir.path(), image.path());
    crash_image(log_dir.path(), image.path());
    std::fs::remove_file(image.path().join("filler")).unwrap();
    {
        let crash_pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
        let (crashed, _) = open(&crash_pool, image.path(), image.path());
        holds(&crashed, &committed, &BTreeMap::new(), "crash image while full");
        let got = crashed.get(&bulk_key(0)).unwrap();
        let entries = crashed.check().unwrap().entries;
        assert!(
            (got.is_none() && entries == 300) || entries == 300 + LOAD as usize,
            "as before the load or loaded whole: {entries} entries"
        );
    }
    std::fs::remove_file(filler).unwrap();
    tree.commit().expect("the next commit once space is freed");
    tree.close().unwrap();
    drop(wal);
    let (tree, _) = open(&pool, data_dir.path(), log_dir.path());
    holds(&tree, &committed, &BTreeMap::new(), "reopened");
    assert_eq!(tree.check().unwrap().entries, 300 + LOAD as usize);
    for (k, v) in pairs.iter().step_by(61) {
        assert_eq!(tree.get(k).unwrap().as_deref(), Some(&v[..]));
    }
    drop(tree);
    drop(mount);
}

/// The log's zeroed tail (R31-1) on a file system that fills and then gets space back (R33-O12): growths refused
/// for space are given up without failing the log (commits go on into the zeros already written, then are
/// refused for space), and once space is back the tail grows again, so commits return to overwriting written
/// zeros (R31-1's protection) instead of extending the file; a crash image while full and the reopened tree hold
/// every acknowledged commit.
#[test]
fn the_zeroed_tail_grows_again_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(dir.path(), "160k", "the_zeroed_tail_grows_again_once_space_is_freed") else {
        return;
    };
    let tree_dir = dir.path().join("t");
    let tree = common::open(&tree_dir, 512);
    let log_len = || std::fs::metadata(tree_dir.join("tree.wal")).unwrap().len();
    let (mut committed, mut refused) = (BTreeMap::new(), BTreeMap::new());
    let mut batch = 0u64;
    let mut grows_seen = Vec::new();
    let err = loop {
        assert!(batch < 10_000, "the file system never filled");
        for j in 0..4 {
            let id = batch * 4 + j;
            tree.put(&key(id), &value(id, batch)).unwrap();
            refused.insert(id, batch);
        }
        match tree.commit() {
            Ok(()) => committed.append(&mut refused),
            Err(e) => break e,
        }
        grows_seen.push(tree.wal().grows());
        batch += 1;
    };
    assert!(matches!(err, Error::NoSpace(_)), "{err}");
    let grows_full = tree.wal().grows();
    // Commits were acknowledged after the last growth that succeeded: into the zeros it wrote.
    let after_last_growth = grows_seen.iter().filter(|&&g| g == grows_full).count();
    assert!(
        after_last_growth > 1,
        "no commit went into the tail once growths failed: {grows_seen:?}"
    );
    holds_after_a_crash_now(&tree_dir, &committed, &refused);

    remount(&mount, "64m");
    tree.commit().expect("a commit once space is freed");
    committed.append(&mut refused);
    assert!(
        tree.wal().grows() > grows_full,
        "the tail did not grow again once space was back"
    );
    // Commits now overwrite the new zeros: the file's length stays put for a while.
    let len = log_len();
    for id in 0..20 {
        tree.put(&key(id), &value(id, 1_000_000)).unwrap();
        tree.commit().unwrap();
        committed.insert(id, 1_000_000);
    }
    assert_eq!(
        log_len(),
        len,
        "commits after space came back extended the log instead of using its tail"
    );
    drop(tree);
    let tree = common::open(&tree_dir, 64);
    holds(&tree, &committed, &BTreeMap::new(), "reopened after space was freed");
    drop(tree);
    drop(mount);
}

/// What one committer of [`concurrent_committers_and_checkpoints_on_a_filling_file_system_lose_nothing`] left:
/// the last acknowledged state of each of its ids (`Some((version, length))`, `None` deleted), the ops of the
/// batch its error interrupted that returned `Ok` (acknowledged by the next commit that succeeds), the id whose
/// op returned the error (either state), its acknowledged commits, and the error (`None`: stopped by the test).
#[derive(Default)]
struct Committer {
    acked: std::collections::HashMap<u64, Option<(u64, usize)>>,
    pending: std::collections::HashMap<u64, Option<(u64, usize)>>,
    failed_op: Option<u64>,
    live: Vec<u64>,
    next: u64,
    batch: u64,
    commits: u64,
    error: Option<Error>,
}

impl Committer {
    /// Batches of 1..=8 puts (new ids and updates, values up to `max_len` bytes) and deletes on `tree`, each
    /// committed, a checkpoint every 8th, until an error, `batches` batches, or `stop`.
    fn work(
        &mut self,
        tree: &Tree,
        rng: &mut rand::rngs::StdRng,
        max_len: usize,
        batches: u64,
        stop: &std::sync::atomic::AtomicBool,
    ) {
        use rand::Rng;
        for _ in 0..batches {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            self.batch += 1;
            let batch = self.batch;
            let mut added = Vec::new();
            let result = (|| {
                for _ in 0..rng.random_range(1..=8) {
                    let choice = rng.random_range(0..10);
                    if choice < 3 && !self.live.is_empty() {
                        let id = self.live.swap_remove(rng.random_range(0..self.live.len()));
                        self.failed_op = Some(id);
                        assert!(tree.delete(&key(id))?, "id {id:#x} acknowledged, not there");
                        self.pending.insert(id, None);
                    } else {
                        let id = if choice < 6 && !self.live.is_empty() {
                            self.live[rng.random_range(0..self.live.len())]
                        } else {
                            self.next += 1;
                            added.push(self.next);
                            self.next
                        };
                        let len = rng.random_range(16..=max_len);
                        self.failed_op = Some(id);
                        tree.put(&key(id), &common::sized_value(id, batch, len))?;
                        self.pending.insert(id, Some((batch, len)));
                    }
                    self.failed_op = None;
                }
                tree.commit()?;
                self.commits += 1;
                self.acked.extend(self.pending.drain());
                self.live.append(&mut added);
                if batch.is_multiple_of(8) {
                    tree.checkpoint()?;
                }
                Ok::<(), Error>(())
            })();
            if let Err(e) = result {
                // The ids the interrupted batch added: live once its records are committed (or rewritten).
                self.live.append(&mut added);
                self.error = Some(e);
                return;
            }
        }
    }

    /// Once space is back: a commit (acknowledging the interrupted batch's `Ok` ops), and the failed op's id
    /// written anew, so that every id has one acknowledged state again.
    fn resume(&mut self, tree: &Tree, what: &str) {
        tree.commit()
            .unwrap_or_else(|e| panic!("{what}: the same tree's commit once space is back: {e}"));
        self.acked.extend(self.pending.drain());
        if let Some(id) = self.failed_op.take() {
            self.batch += 1;
            tree.put(&key(id), &common::sized_value(id, self.batch, 40))
                .unwrap_or_else(|e| panic!("{what}: a put once space is back: {e}"));
            tree.commit()
                .unwrap_or_else(|e| panic!("{what}: a commit once space is back: {e}"));
            self.acked.insert(id, Some((self.batch, 40)));
            if !self.live.contains(&id) {
                self.live.push(id);
            }
        }
        self.error = None;
    }
}

/// Checks `tree` against the committers that wrote it: the structure, every acknowledged state (an id of a
/// batch in flight, `pending` or `failed_op`, may hold any of its states), and nothing never written.
fn holds_acknowledged(tree: &Tree, committers: &[&Committer], what: &str) {
    tree.check().unwrap_or_else(|e| panic!("{what}: invariants: {e}"));
    let mut lost = Vec::new();
    for c in committers {
        for (&id, &want) in &c.acked {
            let got = tree
                .get(&key(id))
                .unwrap_or_else(|e| panic!("{what}: get {id:#x}: {e}"));
            let got = got.map(|v| (u64::from_le_bytes(v[8..16].try_into().unwrap()), v.len(), v));
            let is = |s: Option<(u64, usize)>| match (&got, s) {
                (None, None) => true,
                (Some((_, _, v)), Some((ver, len))) => *v == common::sized_value(id, ver, len),
                _ => false,
            };
            // A batch in flight may have reached the log in part (its records are written in order).
            let in_flight = c.failed_op == Some(id) || c.pending.contains_key(&id);
            if !is(want) && !in_flight {
                lost.push(format!(
                    "id {id:#x}: acknowledged {want:?}, found {:?}",
                    got.map(|g| (g.0, g.1))
                ));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{what}: {} acknowledged changes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.unwrap_or_else(|e| panic!("{what}: scan: {e}"));
        let id = u64::from_le_bytes(v[..8].try_into().unwrap());
        assert_eq!(key(id), k, "{what}: a value under a foreign key");
        let known = committers
            .iter()
            .any(|c| c.acked.contains_key(&id) || c.pending.contains_key(&id) || c.failed_op == Some(id));
        assert!(known, "{what}: id {id:#x} present, never written");
    }
}

/// Session 35 (faults35, R35-10 in RELIABILITY.md): the tree's concurrency on a file system that fills. Two
/// trees in one small pool (48 frames of 4 KiB: evictions write and grow the data files between checkpoints,
/// and a miss may find every victim refused), four threads each putting, updating and deleting its own ids with
/// values up to 900 bytes (splits, merges) and committing, and a thread checkpointing both trees all the while,
/// on a tmpfs that fills: whatever each meets (a log write refused, a page write of a split's new page or its
/// parent refused at eviction or checkpoint, a log cut's rewrite), every thread must stop with an error that
/// says the device is full (`is_no_space`: nothing failed) and no other; a crash image taken while full holds
/// every acknowledged change with the trees' invariants; once space is back the same trees (no restart) commit
/// what was interrupted, go on with splits, merges and checkpoints, and after a close and reopen hold every
/// acknowledged change.
#[test]
fn concurrent_committers_and_checkpoints_on_a_filling_file_system_lose_nothing() {
    use rand::SeedableRng;
    use std::sync::atomic::{AtomicBool, Ordering};
    const THREADS: u64 = 4;
    let seed0 = std::env::var("BUFPOOL_FULL_SEED").map_or_else(
        |_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |s| s.parse().expect("BUFPOOL_FULL_SEED: a number"),
    );
    let rounds: u64 = std::env::var("BUFPOOL_FULL_ROUNDS").map_or(3, |s| s.parse().expect("a number"));
    for round in 0..rounds {
        let seed = seed0.wrapping_add(round);
        let kib = [1536, 2048, 3072][(seed % 3) as usize];
        let max_len = if seed % 2 == 0 { 900 } else { 200 };
        let what = format!("seed {seed} ({kib} KiB, values up to {max_len} B)");
        let dir = tempfile::tempdir().unwrap();
        let Some(mount) = tmpfs_or_skip(
            dir.path(),
            &format!("{kib}k"),
            "concurrent_committers_and_checkpoints_on_a_filling_file_system_lose_nothing",
        ) else {
            return;
        };
        let tree_dirs = [dir.path().join("t0"), dir.path().join("t1")];
        let pool = Arc::new(BufferPool::builder().frames(48).page_size(4096).build().unwrap());
        let trees: Vec<Tree> = tree_dirs
            .iter()
            .map(|d| {
                let tree = bufpool_btree::open_dir_in(pool.clone(), d).unwrap();
                // Cuts rewrite the log into a new file now and then, which needs space too.
                tree.wal().set_rewrite_len(32 << 10);
                tree
            })
            .collect();
        let stop = AtomicBool::new(false);
        let (mut committers, checkpoint_errors) = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (tree, stop) = (&trees[(t % 2) as usize], &stop);
                    s.spawn(move || {
                        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (t << 40));
                        let mut c = Committer {
                            next: t << 32,
                            ..Committer::default()
                        };
                        c.work(tree, &mut rng, max_len, 100_000, stop);
                        c
                    })
                })
                .collect();
            let checkpointer = s.spawn(|| {
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for tree in &trees {
                        if let Err(e) = tree.checkpoint() {
                            errors.push(e);
                        }
                    }
                    std::thread::yield_now();
                }
                errors
            });
            let t0 = std::time::Instant::now();
            while !handles.iter().all(|h| h.is_finished()) && t0.elapsed() < std::time::Duration::from_secs(60) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            stop.store(true, Ordering::Relaxed);
            let committers: Vec<Committer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (committers, checkpointer.join().unwrap())
        });
        let commits: u64 = committers.iter().map(|c| c.commits).sum();
        eprintln!(
            "{what}: {commits} acknowledged commits; stopped at {:?}; {} checkpoints refused",
            committers
                .iter()
                .map(|c| c.error.as_ref().map(ToString::to_string))
                .collect::<Vec<_>>(),
            checkpoint_errors.len()
        );
        assert!(commits > 0, "{what}: nothing acknowledged");
        for (t, c) in committers.iter().enumerate() {
            let e = c
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: thread {t} was still going after 60 s on a full file system"));
            assert!(
                e.is_no_space(),
                "{what}: thread {t} stopped at an error other than space: {e}"
            );
        }
        for e in &checkpoint_errors {
            assert!(e.is_no_space(), "{what}: a checkpoint failed other than for space: {e}");
        }
        // A crash now, while full: each tree in a copy of its files holds every acknowledged change.
        for (i, d) in tree_dirs.iter().enumerate() {
            let image = tempfile::tempdir().unwrap();
            crash_image(d, image.path());
            let crashed = common::open(image.path(), 64);
            let mine: Vec<&Committer> = committers.iter().skip(i).step_by(2).collect();
            holds_acknowledged(&crashed, &mine, &format!("{what}: tree {i}'s crash image while full"));
        }
        // Space back: the same trees go on, no restart.
        remount(&mount, "64m");
        std::thread::scope(|s| {
            for (t, c) in committers.iter_mut().enumerate() {
                let (tree, what) = (&trees[t % 2], &what);
                s.spawn(move || {
                    c.resume(tree, what);
                    let mut rng = rand::rngs::StdRng::seed_from_u64(!seed ^ ((t as u64) << 40));
                    let go = AtomicBool::new(false);
                    c.work(tree, &mut rng, max_len, 40, &go);
                    if let Some(e) = &c.error {
                        panic!("{what}: thread {t} once space is back: {e}");
                    }
                });
            }
        });
        for (i, tree) in trees.iter().enumerate() {
            tree.checkpoint()
                .unwrap_or_else(|e| panic!("{what}: tree {i}'s checkpoint once space is back: {e}"));
        }
        drop(trees);
        drop(pool);
        for (i, d) in tree_dirs.iter().enumerate() {
            let tree = common::open(d, 64);
            let mine: Vec<&Committer> = committers.iter().skip(i).step_by(2).collect();
            holds_acknowledged(&tree, &mine, &format!("{what}: tree {i} reopened"));
        }
        drop(mount);
    }
}

/// R45-2 (review45): session 44 moves a log file of the sector layout (every log file written before it) to the
/// block layout at its open by a rewrite (`TreeWal::rewrite`): a copy of every record since the last checkpoint
/// into `<name>.tmp`, up to `TREE_LOG_MAX` (512 MiB) of TPC-C's tree logs. The move is optional (a log that
/// cannot move stays in its layout, R44-O1), but a copy refused for space refused the open (`NoSpace`): a tree
/// that main before session 44 opened in place, replayed and checkpointed on the space it had (its pages
/// overwritten in place, its log punched) could not be opened at all by this build until as much space as its
/// log held was freed. Now a move refused for space leaves the log in the sector layout, opened in place as
/// before session 44; a later open with space moves it.
#[test]
fn a_log_file_of_the_sector_layout_opens_in_place_when_its_move_is_refused_for_space() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = tmpfs_or_skip(
        dir.path(),
        "16m",
        "a_log_file_of_the_sector_layout_opens_in_place_when_its_move_is_refused_for_space",
    ) else {
        return;
    };
    let (log, data) = (dir.path().join("t.wal"), dir.path().join("t.db"));
    let open = |pool: &Arc<BufferPool>| {
        let wal = TreeWal::open(&log)?;
        Tree::open(pool.clone(), wal, &data)
    };
    let val = |id: u64, ver: u64| common::sized_value(id, ver, 200);
    {
        let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
        let tree = open(&pool).unwrap();
        for id in 0..2000 {
            tree.put(&key(id), &val(id, 0)).unwrap();
        }
        // Every page written: the updates below change pages in place, and the data file does not grow.
        tree.checkpoint().unwrap();
        for ver in 1..=4 {
            for id in 0..2000 {
                tree.put(&key(id), &val(id, ver)).unwrap();
            }
        }
        tree.commit().unwrap();
        // Dropped unclosed with its pool (which writes nothing): the next open replays the log.
    }
    // The log as a build of sessions 42 and 43 left it.
    let image = std::fs::read(&log).unwrap();
    let records = image.len() as u64 - 8192;
    std::fs::write(&log, sectors_layout(&image)).unwrap();
    // Full, then 256 KiB given back: room for the open's checkpoint (pages in place, a punch), not for a copy of
    // the log's records.
    let filler = fill(dir.path());
    let f = std::fs::OpenOptions::new().write(true).open(&filler).unwrap();
    f.set_len(f.metadata().unwrap().len() - (256 << 10)).unwrap();
    drop(f);
    assert!(
        records > 1 << 20,
        "the log holds {records} bytes of records: not more than the room left"
    );
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let tree = open(&pool).unwrap_or_else(|e| {
        panic!("a log of the sector layout ({records} B of records) on a file system with 256 KiB free: {e}")
    });
    for id in 0..2000 {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(val(id, 4)), "key {id}");
    }
    tree.check().unwrap();
    tree.close().unwrap();
    // Space back: the next open moves the log (or the cut above did, by a rewrite of what it kept).
    std::fs::remove_file(&filler).unwrap();
    let tree = open(&pool).unwrap();
    let head = std::fs::read(&log).unwrap();
    assert_eq!(
        &head[..8],
        b"BPTWAL05",
        "the log is of the block layout once space is back"
    );
    for id in 0..2000 {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(val(id, 4)), "key {id} after the move");
    }
    drop(tree);
    drop(mount);
}
