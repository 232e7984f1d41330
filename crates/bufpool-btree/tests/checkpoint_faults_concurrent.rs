//! Session 46 (review46b): a tree's checkpoint whose `n`-th page write, data sync, log write or log sync fails
//! (EIO, or ENOSPC on a write) while three threads put, delete and commit, then a power loss of both devices and
//! a reopen. `structure_faults_everywhere.rs` walks a fault over every call of one thread's structure changes;
//! `sim_crash.rs` and `whole_api_model.rs` draw faults at random rates; `checkpoint_all.rs` fails one sync with
//! no thread running. None walks the calls of a checkpoint (its page writes and their fsync, its notes, the log
//! cut's record write-out, header slot or region switch, and their fsyncs) one by one with committers racing it.
//!
//! A run: a tree on two `FaultyStorage`s (`FaultConfig::crash_only`: each unsynced sector kept or lost at a power
//! loss) in a 48-frame pool, so evictions write pages during the checkpoint; the log unbounded, or bounded at
//! the smallest capacity (its cut switches region). 600 keys put, committed, checkpointed. Then three writers
//! (one owner a key, so the model is exact per key: version `v`'s op is a delete if `v % 4 == 0`, else a put of
//! `value(id, v)`) run batches of 1 to 8 ops and a commit, while the main thread forces the fault at the `n`-th
//! call of its kind from the checkpoint's start and checkpoints; at stage 1 it also checkpoints again (a retry).
//! Then both devices lose power with the writers still running (in either order), or, at stage 2, the tree is
//! dropped and reopened on the devices as they are (the same process) and checkpointed, and then the power
//! fails. What must hold: no panic; no error that calls the fault corruption (`Invariant`, `CorruptNode`); the
//! reopen after the power loss succeeds, `Tree::check` is clean, and each key holds the state of a version from
//! its last committed one (a commit that returned `Ok`) to the last one started, not one whose op returned `Err`
//! (the writers, model and devices: `common::writers`, shared with `structure_faults_concurrent.rs`).
//!
//! CI walks `n` over the first 7 calls of each kind and 3 later ones; `BUFPOOL_CHECKPOINT_FAULT_CALLS=N` walks
//! every `n` up to `N`, `BUFPOOL_CHECKPOINT_FAULT_ROUNDS=R` repeats each with other seeds, logs and stages (e.g.
//! 40 and 2: 480 runs, 25 s in a debug build). One seed in three also garbles the data file's pages in flight at
//! the power loss (since session 47, once R46-O40 and R46-O41 were fixed; `BUFPOOL_CHECKPOINT_FAULT_GARBLE=0`
//! turns it off). The data file keeps a file record (`common::Sidecar`), as a file opened by path does: a meta
//! page garbled whole is rebuilt from the log only in a file whose log names it (R47-1); unbound, R46-O41's
//! refusal stays (by design: nothing tells such a page 0 from a foreign file's). Half the seeds build their pools
//! with every write guard clean (`Builder::clean_write_guards`, session 48: R47-30's replay in such a pool).

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bufpool::storage::{Fault, Op};
use bufpool::BufferPool;
use bufpool_btree::{Error, Tree};
use common::writers::{writer, Devices, Model};
use common::{key, value};

const KEYS: u64 = 600;
const WRITERS: u64 = 3;
const FRAMES: usize = 48;

#[derive(Clone, Copy, Debug)]
enum Target {
    DataWrite,
    DataSync,
    LogWrite,
    LogSync,
}

/// What version `v` of key `id` leaves.
fn state(id: u64, v: u64) -> Option<Vec<u8>> {
    (!v.is_multiple_of(4)).then(|| value(id, v))
}

fn no_corruption(e: &Error, what: &str) {
    assert!(
        !matches!(e, Error::Invariant(_) | Error::CorruptNode { .. }),
        "{what}: a device fault reported as corruption: {e}"
    );
}

/// The tree on `dev` in a pool of its own; `clean`: every write guard of the pool clean
/// (`Builder::clean_write_guards`), so that replay's latch is too and replay dirties what it meets itself (R47-30).
fn open(dev: &Devices, clean: bool) -> Result<Tree, Error> {
    let pool = Arc::new(
        BufferPool::builder()
            .frames(FRAMES)
            .clean_write_guards(clean)
            .build()
            .unwrap(),
    );
    dev.open(&pool)
}

/// Arms the fault at the `n`-th call of `target` from now.
fn arm(dev: &Devices, target: Target, fault: Fault, n: u64) {
    let (storage, op) = match target {
        Target::DataWrite => (&dev.data, Op::Write),
        Target::DataSync => (&dev.data, Op::Sync),
        Target::LogWrite => (&dev.log, Op::Write),
        Target::LogSync => (&dev.log, Op::Sync),
    };
    let c = storage.counts();
    let done = match op {
        Op::Read => c.reads,
        Op::Write => c.writes,
        Op::Sync => c.syncs,
    };
    storage.inject_nth(op, done + n, fault);
}

/// The power loss of both devices (the log's first if `seed` is even, the writers still running): the data file's
/// pages garbled in flight if `seed % 3 == 1` (`Devices::power_loss`), unless `BUFPOOL_CHECKPOINT_FAULT_GARBLE=0`
/// (it failed before R46-O40 and R46-O41 were fixed, R47-1 given the data file's record).
fn power_loss(dev: &Devices, seed: u64) -> Devices {
    let garble = !std::env::var("BUFPOOL_CHECKPOINT_FAULT_GARBLE").is_ok_and(|v| v == "0");
    dev.power_loss(seed, garble && seed % 3 == 1, seed.is_multiple_of(2))
}

/// Of a walk's runs: how many checkpoints met the fault, and how many failed.
#[derive(Default)]
struct Tally {
    runs: u64,
    fired: u64,
    failed: u64,
}

/// The faults injected so far into both devices.
fn injected(dev: &Devices) -> u64 {
    [dev.log.counts(), dev.data.counts()]
        .iter()
        .map(|c| c.write_eio + c.write_no_space + c.sync_eio)
        .sum()
}

fn run(target: Target, fault: Fault, n: u64, bounded: bool, stage: u64, seed: u64, tally: &mut Tally) {
    tally.runs += 1;
    let what =
        format!("{target:?} {fault:?} at call {n} of the checkpoint, bounded {bounded}, stage {stage}, seed {seed}");
    let dev = Devices::new(seed, bounded);
    // Half the seeds (independent of the garbling's and the power loss order's): a pool of clean write guards.
    let clean = (seed / 2) % 2 == 1;
    let tree = open(&dev, clean).unwrap();
    for id in 0..KEYS {
        if let Err(e) = tree.put(&key(id), &value(id, 1)) {
            // A bounded log's region is full: a checkpoint frees it.
            assert!(e.is_no_space(), "{what}: put {id}: {e}");
            tree.checkpoint().unwrap();
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    let model = Model::new(KEYS, state);
    let stop = AtomicBool::new(false);
    let commits = AtomicU64::new(0);
    let mut after = None;
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let (tree, model, stop, commits) = (&tree, &model, &stop, &commits);
            s.spawn(move || writer(tree, model, (t, WRITERS), seed, stop, commits, no_corruption));
        }
        // Some commits before the checkpoint, so that it has pages to write and its cut records to keep.
        while commits.load(Ordering::Acquire) < WRITERS * 2 {
            std::thread::yield_now();
        }
        arm(&dev, target, fault, n);
        let before = injected(&dev);
        let r = tree.checkpoint();
        tally.fired += u64::from(injected(&dev) > before);
        tally.failed += u64::from(r.is_err());
        if let Err(e) = r {
            no_corruption(&e, &format!("{what}: the checkpoint"));
        }
        dev.log.clear_triggers();
        dev.data.clear_triggers();
        if stage == 1 {
            // A few more commits first, if the log still takes them (bounded: a failed log takes none).
            let c = commits.load(Ordering::Acquire);
            for _ in 0..200 {
                if commits.load(Ordering::Acquire) >= c + 2 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if let Err(e) = tree.checkpoint() {
                no_corruption(&e, &format!("{what}: the retried checkpoint"));
            }
        }
        if stage != 2 {
            after = Some(power_loss(&dev, seed + 2));
        }
        stop.store(true, Ordering::Release);
    });
    let dev = match after {
        Some(crashed) => {
            drop(tree);
            crashed
        }
        None => {
            // The same process opens the tree again on the devices as they are, checkpoints, and the power fails.
            drop(tree);
            let again = open(&dev, clean).unwrap_or_else(|e| panic!("{what}: the reopen without a crash: {e}"));
            again
                .check()
                .unwrap_or_else(|e| panic!("{what}: check after the reopen without a crash: {e}"));
            if let Err(e) = again.checkpoint() {
                no_corruption(&e, &format!("{what}: the reopen's checkpoint"));
            }
            drop(again);
            power_loss(&dev, seed + 2)
        }
    };
    let tree = open(&dev, clean).unwrap_or_else(|e| panic!("{what}: the reopen after the power loss: {e}"));
    tree.check()
        .unwrap_or_else(|e| panic!("{what}: check after the power loss: {e}"));
    if let Err(e) = model.check_committed(&tree, &format!("{what}: after the power loss")) {
        panic!("{e}");
    }
}

/// The calls walked: 1 to `BUFPOOL_CHECKPOINT_FAULT_CALLS` if set, else the first 6 and a few later ones.
fn calls() -> Vec<u64> {
    match std::env::var("BUFPOOL_CHECKPOINT_FAULT_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(n) => (1..=n).collect(),
        None => vec![1, 2, 3, 4, 5, 6, 7, 9, 14, 25],
    }
}

/// Each `n` in `BUFPOOL_CHECKPOINT_FAULT_ROUNDS` rounds (default 1), each with its own seed, log and stage.
fn walk(target: Target, faults: &[Fault]) {
    let rounds = std::env::var("BUFPOOL_CHECKPOINT_FAULT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut tally = Tally::default();
    for round in 0..rounds {
        for &fault in faults {
            for n in calls() {
                let seed = n * 31 + fault as u64 * 7 + target as u64 * 1000 + round * 100_003;
                run(
                    target,
                    fault,
                    n,
                    (n + round) % 2 == 1,
                    (n + round) % 3,
                    seed,
                    &mut tally,
                );
            }
        }
    }
    eprintln!(
        "{target:?}: {} runs, the fault met by {} checkpoints, {} checkpoints failed",
        tally.runs, tally.fired, tally.failed
    );
    // A walk whose faults never reached a checkpoint tested nothing.
    assert!(
        tally.fired > 0 && tally.failed > 0,
        "{target:?}: no checkpoint met its fault"
    );
}

#[test]
fn a_failed_page_write_of_a_checkpoint_racing_commits_loses_nothing() {
    walk(Target::DataWrite, &[Fault::Eio, Fault::NoSpace]);
}

#[test]
fn a_failed_data_sync_of_a_checkpoint_racing_commits_loses_nothing() {
    walk(Target::DataSync, &[Fault::Eio]);
}

#[test]
fn a_failed_log_write_of_a_checkpoint_racing_commits_loses_nothing() {
    walk(Target::LogWrite, &[Fault::Eio, Fault::NoSpace]);
}

#[test]
fn a_failed_log_sync_of_a_checkpoint_racing_commits_loses_nothing() {
    walk(Target::LogSync, &[Fault::Eio]);
}
