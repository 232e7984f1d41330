//! A `Tree::open` or `Tree::create` refused after it opened its data file leaves the pool as before the call
//! (F16-1 in RELIABILITY.md; R15-O2 before it): the file closed, no page of it cached, the log's claim released
//! and the log not held by the pool, so that the caller can fix the cause and open the same file and log again
//! in the same pool. Each way an open can be refused there: a log that is not the tree's (`LogMismatch`), a tree
//! of another format (`BadMeta`), a replay that meets a read error, a data file that is not empty for `create`;
//! and the same in a pool where another tree is busy all the while (nothing of the refused open reaches it, and a
//! tree made later under a reused file id sees none of the refused file's pages). The open whose closing
//! checkpoint is refused for space is in `full_filesystem.rs` (it needs a full file system).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::PageId;
use bufpool_btree::{BufferPool, Error, Tree, TreeWal};
use common::{key, value};

fn pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(frames).page_size(4096).build().unwrap())
}

/// Nothing of a refused open is left in `pool`: only the files of `open` (the busy trees') are open, and every
/// cached page is one of theirs.
fn nothing_left(pool: &BufferPool, open: &[&Tree], what: &str) {
    let files: Vec<_> = pool.stats().files.iter().map(|f| f.file).collect();
    let ours: Vec<_> = open.iter().map(|t| t.file()).collect();
    assert_eq!(files, ours, "{what}: files open in the pool");
    if open.is_empty() {
        assert_eq!(pool.stats().resident, 0, "{what}: pages still cached");
    }
}

/// A closed tree at `dir/t.db` with log `dir/t.wal` holding keys `0..n` at version 0, and, if `tail`, keys
/// `n..n + tail` committed to the log only (the next open replays them).
fn make_tree(dir: &Path, n: u64, tail: u64) {
    let pool = pool(256);
    let wal = TreeWal::open(dir.join("t.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal, dir.join("t.db")).unwrap();
    for id in 0..n {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.close().unwrap();
    if tail > 0 {
        let wal = TreeWal::open(dir.join("t.wal")).unwrap();
        let tree = Tree::open(pool.clone(), wal, dir.join("t.db")).unwrap();
        for id in n..n + tail {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.commit().unwrap();
        // Dropped unclosed with its pool, which writes nothing: the log holds what the file lacks.
    }
}

fn holds(tree: &Tree, keys: u64) {
    assert_eq!(tree.check().unwrap().entries, keys as usize);
    for id in (0..keys).step_by(7) {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 0)), "key {id}");
    }
}

/// Sets the format field of the meta page (bytes 8..12 of page 0's user bytes) of the closed tree `db`.
fn set_format(db: &Path, format: u32) {
    let pool = pool(16);
    let file = pool.open_file(db).unwrap();
    {
        let mut meta = pool.write(PageId::new(file, 0)).unwrap();
        meta[8..12].copy_from_slice(&format.to_le_bytes());
    }
    pool.close_file(file).unwrap();
}

/// A log of another tree: `LogMismatch`. On main the data file stayed open in the pool, so the right log's
/// open of the same file was refused (`FileAlreadyOpen`), and the pool's file entry kept the wrong log (and its
/// file lock) alive after the caller dropped it.
#[test]
fn an_open_with_the_wrong_log_leaves_nothing_open_and_the_right_log_opens_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), 2000, 300);
    let other = tempfile::tempdir().unwrap();
    make_tree(other.path(), 10, 0);
    let pool = pool(256);
    let wrong = TreeWal::open(other.path().join("t.wal")).unwrap();
    match Tree::open(pool.clone(), wrong.clone(), dir.path().join("t.db")) {
        Err(Error::LogMismatch(_)) => {}
        r => panic!("the wrong log was taken: {:?}", r.map(|_| ())),
    }
    nothing_left(&pool, &[], "after LogMismatch");
    drop(wrong);
    // The pool does not hold the wrong log: its lock went with the caller's handle.
    drop(TreeWal::open(other.path().join("t.wal")).expect("the wrong log, dropped, is not locked by the pool"));
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).expect("the right log, same file and pool");
    holds(&tree, 2300);
    tree.close().unwrap();
    nothing_left(&pool, &[], "after close");
}

/// A tree of format 3: `BadMeta`, before replay. Set back to format 4 (what a conversion would do), the same
/// pool opens it.
#[test]
fn an_open_refused_for_the_format_leaves_nothing_open() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), 2000, 300);
    set_format(&dir.path().join("t.db"), 3);
    let pool = pool(256);
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    match Tree::open(pool.clone(), wal.clone(), dir.path().join("t.db")) {
        Err(Error::BadMeta(m)) => assert!(m.contains("format 3"), "{m}"),
        r => panic!("a format-3 tree opened: {:?}", r.map(|_| ())),
    }
    nothing_left(&pool, &[], "after BadMeta");
    set_format(&dir.path().join("t.db"), 4);
    let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).expect("the same file, pool and log");
    holds(&tree, 2300);
}

/// `create` of a data file that is not empty: `BadMeta`, and the file is not left open.
#[test]
fn a_create_refused_leaves_nothing_open() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), 500, 0);
    let pool = pool(64);
    let fresh = TreeWal::open(dir.path().join("fresh.wal")).unwrap();
    match Tree::create(pool.clone(), fresh.clone(), dir.path().join("t.db")) {
        Err(Error::BadMeta(_)) => {}
        r => panic!("create took a tree's file: {:?}", r.map(|_| ())),
    }
    nothing_left(&pool, &[], "after a refused create");
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    holds(&Tree::open(pool, wal, dir.path().join("t.db")).unwrap(), 500);
}

/// The durable image of a tree's data file (on a `FaultyStorage`) whose log is `dir/f.wal` (closed on return),
/// the last `tail` of its keys in the log only.
fn faulty_tree(dir: &Path, n: u64, tail: u64) -> Vec<u8> {
    let pool = pool(256);
    let storage = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let wal = TreeWal::open(dir.join("f.wal")).unwrap();
    let tree = Tree::create_storage(pool.clone(), wal, storage.clone()).unwrap();
    for id in 0..n {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.checkpoint().unwrap();
    for id in n..n + tail {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.commit().unwrap();
    storage.durable_image()
}

/// A copy of `dir/f.wal` named `name`, opened (an open that succeeds cuts its log: each round replays a copy).
fn log_copy(dir: &Path, name: &str) -> Arc<TreeWal> {
    std::fs::copy(dir.join("f.wal"), dir.join(name)).unwrap();
    TreeWal::open(dir.join(name)).unwrap()
}

/// A replay that meets a read error of the data file (EIO on the n-th read, for every read replay makes): the
/// open returns the error and leaves nothing in the pool; the same storage, healed, opens in the same pool with
/// every key. On main each refused open left its file and pages in the pool.
#[test]
fn a_replay_refused_on_a_read_error_leaves_nothing_open() {
    let logdir = tempfile::tempdir().unwrap();
    let image = faulty_tree(logdir.path(), 3000, 600);
    let pool = pool(16);
    let mut refused = 0;
    for nth in 1..200 {
        let wal = log_copy(logdir.path(), &format!("r{nth}.wal"));
        let storage = Arc::new(FaultyStorage::from_image(nth, FaultConfig::none(), image.clone()));
        storage.inject_nth(Op::Read, nth, Fault::EioPersistent);
        match Tree::open_storage(pool.clone(), wal.clone(), storage.clone()) {
            Err(e) => {
                assert!(matches!(e, Error::Pool(_)), "read {nth}: {e}");
                refused += 1;
                nothing_left(&pool, &[], &format!("after a replay refused at read {nth}"));
                storage.heal();
                let tree = Tree::open_storage(pool.clone(), wal, storage).expect("healed, the same storage and log");
                holds(&tree, 3600);
                tree.close().unwrap();
            }
            Ok(tree) => {
                // Replay made fewer reads than `nth`: so does every later round.
                storage.clear_triggers();
                holds(&tree, 3600);
                break;
            }
        }
    }
    assert!(refused > 10, "only {refused} opens met the read error");
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// In a pool where another tree commits and checkpoints all the while, opens refused (the wrong log, a read
/// error in replay) and retried leave nothing of themselves in the pool, the busy tree keeps every key it
/// acknowledged, and a new tree created in a file opened after the refusals (under a file id the refused file
/// may have had) holds none of the refused file's pages.
#[test]
fn refused_opens_beside_a_busy_tree_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), 2000, 300);
    let logdir = tempfile::tempdir().unwrap();
    let image = faulty_tree(logdir.path(), 2000, 400);
    let faulty_wal = log_copy(logdir.path(), "copy.wal");
    let pool = pool(48);
    let busy_wal = TreeWal::open(dir.path().join("busy.wal")).unwrap();
    let busy = Tree::create(pool.clone(), busy_wal, dir.path().join("busy.db")).unwrap();
    let stop = AtomicBool::new(false);
    let acked = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let mut acked = BTreeMap::new();
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) || round < 20 {
                for j in 0..50 {
                    let id = 1_000_000 + (round * 37 + j) % 3000;
                    busy.put(&key(id), &value(id, round)).unwrap();
                    acked.insert(id, round);
                }
                busy.commit().unwrap();
                if round.is_multiple_of(5) {
                    busy.checkpoint().unwrap();
                }
                round += 1;
            }
            acked
        });
        // Stops the worker however this thread leaves the scope (a failed assertion too).
        let _stop = StopOnDrop(&stop);
        for attempt in 0..30u64 {
            // The wrong log for the tree in `dir`.
            let wrong = TreeWal::open(logdir.path().join(format!("wrong{attempt}.wal"))).unwrap();
            let r = Tree::open(pool.clone(), wrong, dir.path().join("t.db"));
            assert!(matches!(r, Err(Error::LogMismatch(_))), "{:?}", r.map(|_| ()));
            nothing_left(&pool, &[&busy], "beside the busy tree, after LogMismatch");
            // A replay refused on a read error.
            let storage = Arc::new(FaultyStorage::from_image(attempt, FaultConfig::none(), image.clone()));
            storage.inject_nth(Op::Read, 3 + attempt % 7, Fault::EioPersistent);
            let r = Tree::open_storage(pool.clone(), faulty_wal.clone(), storage.clone());
            assert!(matches!(r, Err(Error::Pool(_))), "{:?}", r.map(|_| ()));
            nothing_left(&pool, &[&busy], "beside the busy tree, after a read error");
            // A new tree in a new file: none of the refused file's pages.
            let fresh = Tree::create(
                pool.clone(),
                TreeWal::open(logdir.path().join(format!("n{attempt}.wal"))).unwrap(),
                logdir.path().join(format!("n{attempt}.db")),
            )
            .unwrap();
            assert_eq!(fresh.check().unwrap().entries, 0);
            assert_eq!(fresh.get(&key(7)).unwrap(), None);
            fresh.put(&key(7), b"fresh").unwrap();
            fresh.close().unwrap();
        }
        // Retried after the cause is fixed: the right log, the storage healed.
        let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
        let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap();
        holds(&tree, 2300);
        tree.close().unwrap();
        drop(_stop);
        worker.join().unwrap()
    });
    for (id, round) in &acked {
        assert_eq!(busy.get(&key(*id)).unwrap(), Some(value(*id, *round)), "busy key {id}");
    }
    busy.check().unwrap();
    busy.close().unwrap();
    let busy = Tree::open(
        pool.clone(),
        TreeWal::open(dir.path().join("busy.wal")).unwrap(),
        dir.path().join("busy.db"),
    )
    .unwrap();
    for (id, round) in &acked {
        assert_eq!(
            busy.get(&key(*id)).unwrap(),
            Some(value(*id, *round)),
            "busy key {id} reopened"
        );
    }
}

/// R21-O3 (session 22): a `Tree::create` refused for space (its log's write) leaves the meta page's and root's
/// images buffered in the log; a second `create` on the same pair is refused, and says why (records not yet
/// durable, `Tree::open` finishes it), where it said "the data file is not empty" of an empty file. `Tree::open` on
/// the same pair then makes the tree, and it holds what is put into it.
#[test]
fn a_create_retried_after_one_refused_for_space_says_why_and_open_finishes_it() {
    let pool = pool(64);
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    log.inject_next(Op::Write, Fault::NoSpace);
    let data = Arc::new(FaultyStorage::new(2, FaultConfig::none()));
    let first = Tree::create_storage(pool.clone(), wal.clone(), data.clone()).expect_err("create on a full device");
    assert!(matches!(first, Error::NoSpace(_)), "{first}");
    nothing_left(&pool, &[], "after the refused create");
    let again = Tree::create_storage(pool.clone(), wal.clone(), data.clone()).expect_err("a retried create");
    let msg = again.to_string();
    assert!(
        matches!(again, Error::BadMeta(_)) && msg.contains("not yet durable") && !msg.contains("not empty"),
        "{msg}"
    );
    let tree = Tree::open_storage(pool.clone(), wal, data).unwrap();
    tree.put(&key(1), &value(1, 0)).unwrap();
    tree.commit().unwrap();
    assert_eq!(tree.get(&key(1)).unwrap(), Some(value(1, 0)));
    tree.check().unwrap();
}
