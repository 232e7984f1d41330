//! A tree log on a `Storage` with a capacity (`TreeWal::open_storage_with_capacity`, R24-10 in RELIABILITY.md):
//! its footprint stays within the capacity under a load many times it, because a checkpoint's cut switches the
//! log into the other of its two regions (`wal.rs`, "A bounded log on a storage"); the region full refuses
//! appends for space until a checkpoint; and a crash at every write and sync of a switch recovers every
//! committed key and nothing that was not written.
//!
//! Before R24-10 a storage log's cut only wrote a header slot: the records stayed, and the storage grew by
//! every byte ever appended (`open_storage_with_capacity` did not exist; `unbounded_log_grows_by_every_append`
//! shows the old behaviour, kept for `TreeWal::open_storage`).

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, MemoryStorage, Op as IoOp, Storage};
use bufpool::BufferPool;
use bufpool_btree::{Error, Tree, TreeWal, REGION_MIN};

use crate::common::{key, value};

/// The log's header (`wal.rs`'s `LOG_HDR`).
const LOG_HDR: u64 = 1024;
/// The smallest capacity: two regions of `REGION_MIN` (128 KiB).
const CAP: u64 = LOG_HDR + 2 * REGION_MIN;

fn pool_for(wal: &Arc<TreeWal>) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(64).wal(wal.clone()).build().unwrap())
}

/// Every key of `model` reads its value in `tree`, and the tree holds no other key.
fn check_all(tree: &Tree, model: &BTreeMap<u64, u64>) {
    tree.check().unwrap();
    let mut n = 0;
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.unwrap();
        let id = u64::from_le_bytes(v[..8].try_into().unwrap());
        assert_eq!(k, key(id), "a key that was never written");
        assert_eq!(Some(&v), model.get(&id).map(|&ver| value(id, ver)).as_ref(), "key {id}");
        n += 1;
    }
    assert_eq!(n, model.len(), "keys recovered");
}

/// Puts `rounds` times over `ids` keys (versions 1, 2, ...), committing every 20 puts and checkpointing whenever
/// the log holds more than `ckpt_at` bytes; returns the model and the largest length the log storage reached.
fn load(tree: &Tree, log: &dyn Storage, ids: u64, rounds: u64, ckpt_at: u64) -> (BTreeMap<u64, u64>, u64) {
    let mut model = BTreeMap::new();
    let mut max_len = 0;
    for ver in 1..=rounds {
        for id in 0..ids {
            tree.put(&key(id), &value(id, ver)).unwrap();
            model.insert(id, ver);
            if id % 20 == 19 {
                tree.commit().unwrap();
            }
            if tree.wal().log_bytes() > ckpt_at {
                tree.checkpoint().unwrap();
            }
            max_len = max_len.max(log.len().unwrap());
        }
    }
    tree.commit().unwrap();
    (model, max_len)
}

/// The bug, shown on the log without a capacity (its behaviour is kept): the storage holds every byte ever
/// appended, however many checkpoints cut it.
#[test]
fn unbounded_log_grows_by_every_append() {
    let log = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), MemoryStorage::new()).unwrap();
    let (_, max_len) = load(&tree, &*log, 300, 8, 32 << 10);
    let appended = wal.end_lsn();
    println!("unbounded storage log: {appended} bytes appended, storage {max_len} bytes");
    assert!(max_len >= appended, "the records stay where they are");
}

/// A tree on a log of the smallest capacity, under a load of more than ten times it with checkpoints by log size:
/// the storage never passes the capacity, the log switches region many times, and after a reopen every key reads
/// its last value.
#[test]
fn bounded_log_stays_within_its_capacity() {
    let log = Arc::new(MemoryStorage::new());
    let data = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    assert_eq!(wal.capacity(), Some(CAP));
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let (model, max_len) = load(&tree, &*log, 300, 25, REGION_MIN / 4);
    let appended = wal.end_lsn();
    println!(
        "bounded storage log: {appended} bytes appended, {} switches, storage at most {max_len} bytes (capacity \
         {CAP})",
        wal.switches()
    );
    assert!(appended > 10 * CAP, "the load is {appended} bytes");
    assert!(
        max_len <= CAP,
        "the storage reached {max_len} bytes, past its capacity {CAP}"
    );
    assert!(wal.switches() >= 10, "{} switches", wal.switches());
    // Dropped without close: the reopen recovers from the log.
    drop(tree);
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let tree = Tree::open_storage(pool_for(&wal), wal, data.clone()).unwrap();
    check_all(&tree, &model);
    drop(tree);
    // `open_storage` finds the capacity in the header.
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    assert_eq!(wal.capacity(), Some(CAP));
    let tree = Tree::open_storage(pool_for(&wal), wal, data).unwrap();
    check_all(&tree, &model);
    assert!(log.len().unwrap() <= CAP);
}

/// A capacity too small for two regions is refused; so is another capacity than the log was made with, and a
/// capacity for a log made without one. Nothing is changed.
#[test]
fn capacity_mismatches_are_refused() {
    let small = TreeWal::open_storage_with_capacity(MemoryStorage::new(), CAP - 1);
    assert!(matches!(small, Err(Error::Log(_))), "{small:?}");
    let log = Arc::new(MemoryStorage::new());
    drop(TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap());
    let image = log.len().unwrap();
    let other = TreeWal::open_storage_with_capacity(log.clone(), 2 * CAP);
    assert!(matches!(other, Err(Error::Log(_))), "{other:?}");
    assert_eq!(log.len().unwrap(), image);
    let plain = Arc::new(MemoryStorage::new());
    drop(TreeWal::open_storage(plain.clone()).unwrap());
    let late = TreeWal::open_storage_with_capacity(plain, CAP);
    assert!(matches!(late, Err(Error::Log(_))), "{late:?}");
}

/// Without a checkpoint the region fills: puts are refused for space (nothing appended) before the storage
/// passes the capacity, a commit makes everything appended durable, a checkpoint then runs and cuts, and puts go
/// on. After a reopen every committed key is there.
#[test]
fn full_region_refuses_appends_until_a_checkpoint() {
    let log = Arc::new(MemoryStorage::new());
    let data = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let mut model = BTreeMap::new();
    let mut refused = None;
    'fill: for ver in 1..100u64 {
        for id in 0..200 {
            match tree.put(&key(id), &value(id, ver)) {
                Ok(()) => {
                    model.insert(id, ver);
                }
                Err(e) => {
                    assert!(e.is_no_space(), "{e}");
                    refused = Some(id);
                    break 'fill;
                }
            }
        }
    }
    let id = refused.expect("the region never filled");
    assert!(log.len().unwrap() <= CAP);
    tree.commit().unwrap();
    // Still refused: nothing was cut.
    assert!(tree.put(&key(id), &value(id, 1000)).unwrap_err().is_no_space());
    tree.checkpoint().unwrap();
    let switches = wal.switches();
    assert_eq!(switches, 1, "the cut of the full region switched");
    for id in 0..200 {
        tree.put(&key(id), &value(id, 2000)).unwrap();
        model.insert(id, 2000);
        if wal.log_bytes() > REGION_MIN / 4 {
            tree.checkpoint().unwrap();
        }
    }
    tree.commit().unwrap();
    assert!(log.len().unwrap() <= CAP);
    drop(tree);
    let wal = TreeWal::open_storage_with_capacity(log, CAP).unwrap();
    let tree = Tree::open_storage(pool_for(&wal), wal, data).unwrap();
    check_all(&tree, &model);
}

/// What one run of the switch scenario leaves: the model committed, the puts that returned `Ok` after it.
struct Run {
    committed: BTreeMap<u64, u64>,
    pending: Vec<(u64, u64)>,
    switches: u64,
    /// The log storage's writes and syncs before the checkpoint, and after it.
    counts: [(u64, u64); 2],
}

/// Fills the log past half its region with committed puts (versions 1, 2, ...), puts a few more (not committed),
/// and checkpoints: the cut switches region. With `fault`, the log storage fails that call (the `nth` of its op
/// over the storage's life) and every later call of the op; the checkpoint may then fail.
fn switch_scenario(log: &Arc<FaultyStorage>, data: &Arc<FaultyStorage>, fault: Option<(IoOp, u64)>) -> Run {
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let mut committed = BTreeMap::new();
    let mut ver = 0;
    while wal.log_bytes() < REGION_MIN * 9 / 16 {
        ver += 1;
        for id in 0..10 {
            tree.put(&key(id), &value(id, ver)).unwrap();
            committed.insert(id, ver);
        }
        tree.commit().unwrap();
    }
    let mut pending = Vec::new();
    for id in 0..5 {
        tree.put(&key(id), &value(id, ver + 1)).unwrap();
        pending.push((id, ver + 1));
    }
    if let Some((op, nth)) = fault {
        log.inject_nth(op, nth, Fault::EioPersistent);
    }
    let c = log.counts();
    let _ = tree.checkpoint();
    let switches = wal.switches();
    let d = log.counts();
    std::mem::forget(tree); // the process dies here: nothing more is written
    Run {
        committed,
        pending,
        switches,
        counts: [(c.writes, c.syncs), (d.writes, d.syncs)],
    }
}

/// A crash at every write and sync the log storage sees during a switching checkpoint (each run from scratch,
/// the storage failing that call and every later one of its kind, then power lost, keeping each unsynced sector
/// with probability one half, over several draws): recovery finds every committed key with its value, plus a
/// prefix of the puts after the last commit, and nothing else.
#[test]
fn crash_at_every_step_of_a_switch() {
    // A dry run: the log's writes and syncs during the checkpoint.
    let (log, data) = (
        Arc::new(FaultyStorage::new(1, FaultConfig::none())),
        Arc::new(FaultyStorage::new(2, FaultConfig::none())),
    );
    drop(TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap());
    let run = switch_scenario(&log, &data, None);
    assert_eq!(run.switches, 1, "the dry run's checkpoint did not switch");
    let [before, after] = run.counts;
    assert!(after.0 > before.0 && after.1 > before.1);
    let mut steps = 0;
    let mut switched = 0;
    for (op, from, to) in [(IoOp::Write, before.0, after.0), (IoOp::Sync, before.1, after.1)] {
        for nth in from + 1..=to + 1 {
            for draw in 0..4 {
                let (log, data) = (
                    Arc::new(FaultyStorage::new(10 + draw, FaultConfig::crash_only())),
                    Arc::new(FaultyStorage::new(20 + draw, FaultConfig::crash_only())),
                );
                drop(TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap());
                let run = switch_scenario(&log, &data, Some((op, nth)));
                assert_eq!(run.counts[0], before, "the runs are not the same");
                switched += run.switches;
                steps += 1;
                let (log_image, data_image) = (log.crash(), data.crash());
                let log = FaultyStorage::from_image(0, FaultConfig::none(), log_image);
                let data = FaultyStorage::from_image(0, FaultConfig::none(), data_image);
                let wal = TreeWal::open_storage_with_capacity(log, CAP)
                    .unwrap_or_else(|e| panic!("{op:?} {nth} draw {draw}: open the log: {e}"));
                let tree = Tree::open_storage(pool_for(&wal), wal, data)
                    .unwrap_or_else(|e| panic!("{op:?} {nth} draw {draw}: recovery: {e}"));
                tree.check().unwrap();
                let mut got = BTreeMap::new();
                for pair in tree.range::<std::ops::RangeFull>(..) {
                    let (k, v) = pair.unwrap();
                    let id = u64::from_le_bytes(v[..8].try_into().unwrap());
                    assert_eq!(k, key(id));
                    got.insert(id, v);
                }
                let mut state = run.committed.clone();
                let same = |s: &BTreeMap<u64, u64>| {
                    s.len() == got.len() && s.iter().all(|(&id, &ver)| got.get(&id) == Some(&value(id, ver)))
                };
                let mut ok = same(&state);
                for &(id, ver) in &run.pending {
                    if ok {
                        break;
                    }
                    state.insert(id, ver);
                    ok = same(&state);
                }
                assert!(
                    ok,
                    "{op:?} {nth} draw {draw}: the recovered tree is not the committed state plus a prefix of the \
                     puts after it"
                );
            }
        }
    }
    println!("switch crash steps: {steps} runs, {switched} of them switched before the crash");
    assert!(switched > 0, "no run switched before its crash");
}
