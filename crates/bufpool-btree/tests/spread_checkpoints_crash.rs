//! Two trees of one pool, each checkpointed spread (`Tree::checkpoint_spread`: `BufferPool::flush_files_spread`
//! of its own file, then its notes and its log's cut; R22-50) on its own thread, again and again, while writers
//! put, delete and commit in both, in a pool small enough that evictions write pages meanwhile; then a power loss
//! of all four devices at a random moment (each unsynced sector kept or lost, `FaultConfig::crash_only`), and the
//! reopen (review23).
//!
//! The model is exact per key (one writer a key): version `v`'s op is a put of `value(id, v)` or a delete,
//! decided by `v`; a writer publishes the versions a commit that returned `Ok` covered. Three rounds a pair of trees
//! (each round a reopen of the last one's crash images). After the reopen each key
//! holds a state of a version from its last committed one to the last one started (the ops after the last commit
//! may or may not have survived), and `Tree::check` is clean. Rounds: `BTREE_SPREAD_CRASH_ROUNDS` (default 6).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bufpool::storage::{FaultConfig, FaultyStorage};
use bufpool::BufferPool;
use bufpool_btree::{Tree, TreeWal};

use crate::common::{self, mix};

const KEYS: u64 = 2000;
const WRITERS: u64 = 2;
/// Ops a writer makes in a round, at most.
const OPS: u64 = 4000;

fn rounds() -> u64 {
    std::env::var("BTREE_SPREAD_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn puts(id: u64, ver: u64) -> bool {
    ver > 0 && !mix(id ^ ver.rotate_left(23)).is_multiple_of(3)
}

fn value(id: u64, ver: u64) -> Vec<u8> {
    let len = 100 + (mix(id.wrapping_mul(7) ^ ver) % 500) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ver.to_le_bytes());
    v.resize(len, (mix(id ^ ver) & 0xff) as u8);
    v
}

/// Per key: the last version started, and the last a commit that returned `Ok` covered.
struct Model {
    started: Vec<AtomicU64>,
    committed: Vec<AtomicU64>,
}

/// One tree's four parts across a crash: its devices' images.
struct Images {
    data: Vec<u8>,
    log: Vec<u8>,
}

fn writer(tree: &Tree, model: &Model, w: u64, seed: u64, stop: &AtomicBool) {
    let mine: Vec<u64> = (0..KEYS).filter(|id| id % WRITERS == w).collect();
    let mut since_commit: Vec<(u64, u64)> = Vec::new();
    let mut n = 0u64;
    // At most OPS a round: the devices keep every byte written (and a storage log is never shrunk).
    while !stop.load(SeqCst) && n < OPS {
        n += 1;
        let base = mix(seed ^ (n / 32)) as usize % mine.len();
        let id = mine[(base + (n % 32) as usize) % mine.len()];
        let ver = model.started[id as usize].load(SeqCst) + 1;
        model.started[id as usize].store(ver, SeqCst);
        let done = if puts(id, ver) {
            tree.put(&key(id), &value(id, ver))
        } else {
            tree.delete(&key(id)).map(|_| ())
        };
        if done.is_err() {
            return;
        }
        since_commit.push((id, ver));
        if n.is_multiple_of(16) {
            if tree.commit().is_err() {
                return;
            }
            for (id, ver) in since_commit.drain(..) {
                model.committed[id as usize].store(ver, SeqCst);
            }
        }
    }
}

fn open(pool: &Arc<BufferPool>, seed: u64, images: &Images) -> (Tree, Arc<FaultyStorage>, Arc<FaultyStorage>) {
    let log = Arc::new(FaultyStorage::from_image(
        seed,
        FaultConfig::crash_only(),
        images.log.clone(),
    ));
    let data = Arc::new(FaultyStorage::from_image(
        seed ^ 1,
        FaultConfig::crash_only(),
        images.data.clone(),
    ));
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let tree = Tree::open_storage(pool.clone(), wal, data.clone()).unwrap();
    (tree, data, log)
}

#[test]
fn spread_checkpoints_of_two_trees_racing_writers_lose_nothing_committed_at_a_power_loss() {
    let models: Vec<Model> = (0..2)
        .map(|_| Model {
            started: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
            committed: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
        })
        .collect();
    let mut images: Vec<Images> = (0..2)
        .map(|_| Images {
            data: Vec::new(),
            log: Vec::new(),
        })
        .collect();
    let mut cuts = 0;
    for round in 0..rounds() {
        if round % 3 == 0 {
            // A fresh pair of trees every third round: a storage log's cuts never shrink it (the header slot
            // alone), and its length would grow round after round.
            for (m, i) in models.iter().zip(&mut images) {
                m.started.iter().chain(&m.committed).for_each(|v| v.store(0, SeqCst));
                (i.data, i.log) = (Vec::new(), Vec::new());
            }
        }
        let pool = Arc::new(common::pool_builder().frames(96).build().unwrap());
        let opened: Vec<_> = (0..2)
            .map(|t| open(&pool, round * 8 + t, &images[t as usize]))
            .collect();
        // What the reopen recovered: every key at a version from its last committed one to the last started.
        for (t, (tree, _, _)) in opened.iter().enumerate() {
            let m = &models[t];
            for id in 0..KEYS {
                let (lo, hi) = (
                    m.committed[id as usize].load(SeqCst),
                    m.started[id as usize].load(SeqCst),
                );
                let got = tree.get(&key(id)).unwrap();
                let ok = match &got {
                    None => (lo..=hi).any(|v| !puts(id, v)),
                    Some(v) => (lo..=hi).any(|ver| puts(id, ver) && *v == value(id, ver)),
                };
                assert!(
                    ok,
                    "round {round}, tree {t}: key {id} read {:?} bytes, allowed versions {lo}..={hi}",
                    got.as_ref().map(Vec::len)
                );
                // The recovered state is the new base: what it holds is committed now (the open checkpointed it,
                // or it was committed before), and nothing later was started.
                let ver = match &got {
                    None => (lo..=hi).rev().find(|&v| !puts(id, v)).unwrap(),
                    Some(v) => u64::from_le_bytes(v[8..16].try_into().unwrap()),
                };
                m.committed[id as usize].store(ver, SeqCst);
                m.started[id as usize].store(ver.max(hi), SeqCst);
            }
            tree.check().unwrap();
        }
        let stop = AtomicBool::new(false);
        let cut_count = AtomicU64::new(0);
        std::thread::scope(|s| {
            for (t, (tree, _, _)) in opened.iter().enumerate() {
                let (m, stop, cut_count) = (&models[t], &stop, &cut_count);
                for w in 0..WRITERS {
                    s.spawn(move || writer(tree, m, w, round * 100 + t as u64 * 10 + w, stop));
                }
                s.spawn(move || {
                    while !stop.load(SeqCst) {
                        let start = tree.wal().start_lsn();
                        if tree.checkpoint_spread(Duration::from_millis(5)).is_err() {
                            return;
                        }
                        if tree.wal().start_lsn() > start {
                            cut_count.fetch_add(1, SeqCst);
                        }
                        // Each checkpoint's first change of a leaf logs its full image: a checkpoint without a
                        // pause would grow the log (never shrunk, on a storage) by a page a change.
                        std::thread::sleep(Duration::from_millis(15));
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(10 + mix(round) % 120));
            // The power loss: every device at once, then the threads stop at their next call's error.
            for (t, (_, data, log)) in opened.iter().enumerate() {
                images[t] = Images {
                    log: log.crash(),
                    data: data.crash(),
                };
            }
            stop.store(true, SeqCst);
        });
        cuts += cut_count.load(SeqCst);
        drop(opened);
    }
    eprintln!("{} rounds, {cuts} logs cut by spread checkpoints", rounds());
    assert!(cuts > 0, "no spread checkpoint cut a log before a crash");
}
