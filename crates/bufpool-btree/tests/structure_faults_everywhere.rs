//! A write, sync or space fault at every write a tree's structure changes make, and a pool with no frame to spare
//! at every size (review27, RELIABILITY.md R27-O1; `read_faults_everywhere.rs` walks the reads).
//!
//! The data file and the log each on a `FaultyStorage`, under a pool of a few frames, so that a split or merge
//! evicts dirty pages (data writes) in the middle of its steps: a root split, splits cascading through inner
//! levels (90-byte keys), merges that empty parents and the root collapsing back to a leaf, then the root split
//! again. Each operation is committed at once. For each `n` one fault is forced at the `n`-th call of one kind
//! from the batch's start: a data write (EIO, or ENOSPC), a log write (EIO, or ENOSPC), a log sync (EIO). What
//! must hold for every `n`: no panic, no hang; no error that calls a fault corruption (`Invariant`,
//! `CorruptNode`); then, without a crash (the tree dropped, both files reopened as they are) and after a power
//! loss (the unsynced sectors of both files kept or lost at random), recovery gives the tree of the last
//! acknowledged commit followed by a prefix of the operations that returned `Ok` after it (an operation that
//! returned `Err` in none), and `Tree::check` is clean; and the reopened tree takes the failed operations again
//! (a retry) and keeps them through a checkpoint and another reopen. `BUFPOOL_STRUCTURE_FAULT_RUNS=N` (default
//! 24) runs of each walk: every call up to the `N/2`-th, then a sample of the rest.
//!
//! The frames: the same batch in a pool of which all but `free` frames are held by read guards of another file
//! (`free` from 0, every frame pinned, to 9), so that each split or merge meets `PoolExhausted` at another of its
//! steps (the meta page, a path node, a sibling, a new page). Each failed operation must fail with that typed
//! error and leave no trace; once the guards are released, each is retried and must succeed, and the tree must
//! hold what the acknowledged operations say, also after a power loss and recovery.

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, MemoryStorage, Op};
use bufpool::PageId;
use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

const FRAMES: usize = 10;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u32) -> Vec<u8> {
    // Long keys: inner nodes split after a few dozen separators, so splits cascade.
    let mut k = vec![b'w'; 90];
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn val(i: u32, ver: u32) -> Vec<u8> {
    vec![(i ^ ver) as u8; 60 + (i as usize * 13 + ver as usize) % 200]
}

/// One operation of the batch.
#[derive(Clone, Debug)]
enum Step {
    Put(u32, u32),
    Delete(u32),
}

/// The batch: grow the tree (root and inner splits), shrink it to a few keys (merges emptying parents, the root
/// collapsing), grow it again.
fn steps() -> Vec<Step> {
    let mut s = Vec::new();
    for i in 0..420u32 {
        s.push(Step::Put((i * 7919) % 700, i));
    }
    for id in 0..700u32 {
        if id % 97 != 0 {
            s.push(Step::Delete(id));
        }
    }
    for i in 0..160u32 {
        s.push(Step::Put(700 + i, i));
    }
    s
}

/// Which call a fault is forced at.
#[derive(Clone, Copy, Debug)]
enum Target {
    DataWrite(Fault),
    LogWrite(Fault),
    LogSync,
}

/// What the batch left: the states recovery may give (the last acknowledged commit's, then one after each
/// operation that returned `Ok` since), and the operations that failed.
struct Outcome {
    allowed: Vec<Model>,
    failed: Vec<Step>,
    /// Calls of the faulted kind the batch made.
    calls: u64,
    /// Calls (operations and commits) that returned an error.
    errors: usize,
}

fn apply(tree: &Tree, step: &Step) -> Result<(), Error> {
    match *step {
        Step::Put(id, ver) => tree.put(&key(id), &val(id, ver)),
        Step::Delete(id) => tree.delete(&key(id)).map(drop),
    }
}

fn apply_model(model: &mut Model, step: &Step) {
    match *step {
        Step::Put(id, ver) => drop(model.insert(key(id), val(id, ver))),
        Step::Delete(id) => drop(model.remove(&key(id))),
    }
}

fn contents(tree: &Tree, what: &str) -> Model {
    let st = tree.check().unwrap_or_else(|e| panic!("{what}: check: {e}"));
    let got: Model = tree.range::<std::ops::RangeFull>(..).map(Result::unwrap).collect();
    assert_eq!(st.entries, got.len(), "{what}");
    got
}

fn open(data: Vec<u8>, log: Vec<u8>) -> (Tree, Arc<FaultyStorage>, Arc<FaultyStorage>) {
    let data = Arc::new(FaultyStorage::from_image(0, FaultConfig::none(), data));
    let log = Arc::new(FaultyStorage::from_image(0, FaultConfig::none(), log));
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    (Tree::open_storage(pool, wal, data.clone()).unwrap(), data, log)
}

/// Recovery of one image pair must give one of the allowed states; then the failed operations are retried on
/// the reopened tree, checkpointed, and the tree reopened once more without a crash.
fn recover_and_retry(data: Vec<u8>, log: Vec<u8>, out: &Outcome, what: &str) {
    let (tree, data, log) = open(data, log);
    let got = contents(&tree, what);
    if !out.allowed.contains(&got) {
        let last = out.allowed.last().unwrap();
        let lost = last.keys().filter(|k| !got.contains_key(*k)).count();
        panic!(
            "{what}: recovered {} keys, not a state the acknowledged operations allow ({} states, the last of {} \
             keys; {lost} of its keys missing)",
            got.len(),
            out.allowed.len(),
            last.len(),
        );
    }
    let mut model = got;
    for step in &out.failed {
        apply(&tree, step).unwrap_or_else(|e| panic!("{what}: retry of {step:?} after a reopen: {e}"));
        apply_model(&mut model, step);
    }
    tree.checkpoint().unwrap();
    assert_eq!(contents(&tree, what), model, "{what}: after the retries");
    drop(tree);
    let (tree, _, _) = open(data.live_image(), log.live_image());
    assert_eq!(contents(&tree, what), model, "{what}: reopened after the retries");
}

/// A tree of 200 keys, checkpointed, in a pool of `frames`, its data file and log on `FaultyStorage`s whose
/// crashes keep each unsynced sector with probability one half; and its contents.
fn setup(frames: usize, seed: u64) -> (Tree, Arc<FaultyStorage>, Arc<FaultyStorage>, Model) {
    let data = Arc::new(FaultyStorage::new(seed, FaultConfig::crash_only()));
    let log = Arc::new(FaultyStorage::new(seed ^ 0x55, FaultConfig::crash_only()));
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(frames).build().unwrap());
    let tree = Tree::open_storage(pool, wal, data.clone()).unwrap();
    let mut model = Model::new();
    for i in 0..200u32 {
        tree.put(&key(i * 3), &val(i * 3, 0)).unwrap();
        model.insert(key(i * 3), val(i * 3, 0));
    }
    tree.checkpoint().unwrap();
    (tree, data, log, model)
}

/// Builds the tree, runs the batch with a fault at the `n`-th call of `target`'s kind (none for `None`), and
/// checks recovery without and with a crash. Returns the calls of that kind the batch made and the errors its
/// operations and commits returned.
fn run(target: Target, n: Option<u64>, seed: u64) -> (u64, usize) {
    let (tree, data, log, mut acked) = setup(FRAMES, seed);
    let (storage, op) = match target {
        Target::DataWrite(_) => (&data, Op::Write),
        Target::LogWrite(_) => (&log, Op::Write),
        Target::LogSync => (&log, Op::Sync),
    };
    let count = |s: &FaultyStorage| match op {
        Op::Write => s.counts().writes,
        Op::Sync => s.counts().syncs,
        Op::Read => s.counts().reads,
    };
    let before = count(storage);
    if let Some(n) = n {
        let fault = match target {
            Target::DataWrite(f) | Target::LogWrite(f) => f,
            Target::LogSync => Fault::Eio,
        };
        storage.inject_nth(op, before + n, fault);
    }
    let what = format!("{target:?} at n = {n:?}");
    let mut out = Outcome {
        allowed: vec![acked.clone()],
        failed: Vec::new(),
        calls: 0,
        errors: 0,
    };
    let check = |e: &Error, step: &Step| {
        assert!(
            !matches!(e, Error::Invariant(_) | Error::CorruptNode { .. }),
            "{what}: {step:?}: a fault reported as {e}"
        );
    };
    for step in steps() {
        match apply(&tree, &step) {
            Ok(()) => {
                apply_model(&mut acked, &step);
                out.allowed.push(acked.clone());
                match tree.commit() {
                    // Committed: only this state (and those after it) from now on.
                    Ok(()) => out.allowed = vec![acked.clone()],
                    Err(e) => {
                        check(&e, &step);
                        out.errors += 1;
                    }
                }
            }
            // It must leave no trace (it is in no allowed state), and is retried after the reopen.
            Err(e) => {
                check(&e, &step);
                out.errors += 1;
                out.failed.push(step.clone());
            }
        }
    }
    out.calls = count(storage) - before;
    storage.clear_triggers();
    let _ = tree.commit();
    // Without a crash: the files as they are (every write made, nothing lost), the tree dropped unclosed.
    drop(tree);
    let (live_data, live_log) = (data.live_image(), log.live_image());
    recover_and_retry(live_data, live_log, &out, &format!("{what}, no crash"));
    // After a power loss of both devices.
    let (crashed_data, crashed_log) = (data.crash(), log.crash());
    recover_and_retry(crashed_data, crashed_log, &out, &format!("{what}, power loss"));
    (out.calls, out.errors)
}

fn walk(target: Target) {
    let (calls, errors) = run(target, None, 1);
    assert_eq!(errors, 0);
    assert!(calls > 20, "{target:?}: the batch made only {calls} such calls");
    // Every call up to half the runs, then a sample of the later ones: `BUFPOOL_STRUCTURE_FAULT_RUNS` runs
    // (default 24) a walk.
    let want: u64 = std::env::var("BUFPOOL_STRUCTURE_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
        .max(2);
    let (mut runs, mut errors, mut runs_failing) = (0, 0, 0);
    let mut n = 1;
    while n <= calls {
        let e = run(target, Some(n), n).1;
        errors += e;
        runs_failing += usize::from(e > 0);
        runs += 1;
        n += if n < want / 2 { 1 } else { calls / (want / 2) + 1 };
    }
    eprintln!("{target:?}: {runs} runs over {calls} calls, {runs_failing} with an error ({errors} errors in all)");
    // A data write refused for space fails nothing: the pool keeps the page dirty and evicts another.
    if !matches!(target, Target::DataWrite(Fault::NoSpace)) {
        assert_eq!(runs_failing, runs, "{target:?}: a fault that failed no call");
    }
}

#[test]
fn a_data_write_eio_at_any_write_loses_no_committed_key() {
    walk(Target::DataWrite(Fault::Eio));
}

#[test]
fn a_data_write_enospc_at_any_write_loses_no_committed_key() {
    walk(Target::DataWrite(Fault::NoSpace));
}

#[test]
fn a_log_write_eio_at_any_write_loses_no_committed_key() {
    walk(Target::LogWrite(Fault::Eio));
}

#[test]
fn a_log_write_enospc_at_any_write_loses_no_committed_key() {
    walk(Target::LogWrite(Fault::NoSpace));
}

#[test]
fn a_log_sync_eio_at_any_sync_loses_no_committed_key() {
    walk(Target::LogSync);
}

/// The batch in a pool with `free` frames not pinned by another file's guards.
fn run_pinned(free: usize, seed: u64) -> (usize, usize) {
    const FRAMES: usize = 16;
    let (tree, data, log, mut acked) = setup(FRAMES, seed);
    let pool = tree.pool().clone();
    let other = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..FRAMES - free {
        drop(pool.new_page(other).unwrap());
    }
    let pins: Vec<_> = (0..(FRAMES - free) as u32)
        .map(|no| pool.read(PageId::new(other, no)).unwrap())
        .collect();
    let what = format!("{free} frames free");
    let mut failed = Vec::new();
    for step in steps() {
        match apply(&tree, &step) {
            Ok(()) => apply_model(&mut acked, &step),
            Err(e) => {
                assert!(
                    matches!(e, Error::Pool(bufpool::Error::PoolExhausted { .. })),
                    "{what}: {step:?}: {e}"
                );
                failed.push(step);
            }
        }
    }
    // Nothing a failed operation began is visible (each is in no state of the model); `check` itself needs a
    // frame for each level it holds.
    if free >= 4 {
        assert_eq!(contents(&tree, &what), acked, "{what}: before the retries");
    }
    drop(pins);
    for step in &failed {
        apply(&tree, step).unwrap_or_else(|e| panic!("{what}: retry of {step:?}: {e}"));
        apply_model(&mut acked, step);
    }
    assert_eq!(contents(&tree, &what), acked, "{what}: after the retries");
    tree.commit().unwrap();
    drop(tree);
    let out = Outcome {
        allowed: vec![acked],
        failed: Vec::new(),
        calls: 0,
        errors: 0,
    };
    recover_and_retry(data.crash(), log.crash(), &out, &format!("{what}, power loss"));
    (failed.len(), steps().len())
}

#[test]
fn a_pool_with_no_frame_to_spare_fails_changes_whole_and_they_succeed_when_retried() {
    let mut failing_sizes = 0;
    for free in 0..10 {
        let (failed, ops) = run_pinned(free, free as u64);
        eprintln!("{free} frames free: {failed} of {ops} operations failed");
        if free == 0 {
            assert_eq!(failed, ops, "every frame pinned: every operation must fail");
        }
        failing_sizes += usize::from(failed > 0 && failed < ops);
    }
    assert!(failing_sizes > 2, "too few pool sizes failed only some operations");
}
