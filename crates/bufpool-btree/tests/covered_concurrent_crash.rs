//! A tree under a log above, changed by several threads at once the way `bufpool-cli`'s TPC-C engine does it,
//! then a power loss: three threads make covered changes (record above, then the change, or every other
//! transaction's puts as one `put_covered_run`; inserts that grow
//! ascending runs side by side, so leaf splits are logged as `CUT`, updates that grow and shrink values, deletes
//! that merge leaves), one thread makes uncovered puts and deletes of the neighbouring keys (same leaves) with
//! `Tree::commit`s, and one checkpoints in a loop as `ours.rs` does (the log above's end under a gate the writers
//! hold from append to applied, every tree checkpointed, the log above cut there). At the end both logs are made
//! durable and all three storages lose power (unsynced writes kept, torn or lost); recovery and the replay of the
//! log above must give every change, and `Tree::check` must be clean. What a user would see on a failure: a tree
//! that does not open after the crash, or committed rows lost.
//!
//! The same on the pool's doublewrite area (`TreeOptions::doublewrite`: the tree's log without full-page images,
//! the data file's torn pages restored from the area, which loses power with it).
//!
//! More rounds: `BUFPOOL_COVERED_CONCURRENT_ROUNDS=50 cargo test -p bufpool-btree --release --test
//! integration -- covered_concurrent_crash::`.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bufpool::storage::{AreaImages, FaultConfig, FaultyStorage};
use bufpool_btree::{CoveredPut, LeafHint, Op, Tree, TreeOptions, TreeWal};
use common::mix;

const WRITERS: u64 = 3;
const RUNS: u64 = 6;

fn key(id: u64, uncovered: bool) -> Vec<u8> {
    let mut k = vec![b'k', (id % RUNS) as u8];
    k.extend_from_slice(&((id / RUNS) as u32).to_be_bytes());
    if uncovered {
        k.push(b'u');
    }
    k
}

fn value(id: u64, ver: u64) -> Vec<u8> {
    let len = 16 + (mix(id ^ (ver << 24)) % 300) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ver.to_le_bytes());
    v.resize(len, (ver % 251) as u8);
    v
}

fn open(
    above: &Arc<FaultyStorage>,
    log: &Arc<FaultyStorage>,
    data: &Arc<FaultyStorage>,
    options: TreeOptions,
) -> (Arc<TreeWal>, Tree) {
    let upper = TreeWal::open_storage(above.clone()).unwrap();
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    wal.flush_first(upper.clone()).unwrap();
    let pool = Arc::new(common::pool_builder().frames(48).build().unwrap());
    let tree = Tree::open_storage_with(pool, wal, data.clone(), options).unwrap_or_else(|e| panic!("recovery: {e}"));
    common::redo_above(&upper, &tree);
    (upper, tree)
}

/// One covered writer: ids `w, w + WRITERS, ...`; returns their final state (id -> version).
fn covered_writer(w: u64, round: u64, upper: &TreeWal, tree: &Tree, gate: &RwLock<()>) -> BTreeMap<u64, u64> {
    let mut state = BTreeMap::new();
    let mut rng = mix(round * 31 + w + 1);
    let mut next = w;
    for _ in 0..600 {
        let mut changes: Vec<(u64, Option<u64>)> = Vec::new();
        for _ in 0..1 + rng % 4 {
            rng = mix(rng);
            let live: Vec<u64> = state
                .keys()
                .copied()
                .filter(|id| changes.iter().all(|c| c.0 != *id))
                .collect();
            let change = match rng % 10 {
                0..=4 => {
                    next += WRITERS;
                    (next - WRITERS, Some(rng >> 40))
                }
                5..=7 if !live.is_empty() => (live[(rng >> 8) as usize % live.len()], Some(rng >> 40)),
                _ if !live.is_empty() => (live[(rng >> 8) as usize % live.len()], None),
                _ => continue,
            };
            changes.push(change);
        }
        let pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = changes
            .iter()
            .map(|&(id, ver)| (key(id, false), ver.map(|v| value(id, v))))
            .collect();
        let ops: Vec<Op<'_>> = pairs
            .iter()
            .map(|(k, v)| match v {
                Some(val) => Op::Put { page: 0, key: k, val },
                None => Op::Del { page: 0, key: k },
            })
            .collect();
        let _g = gate.read().unwrap();
        upper.append(&ops).unwrap();
        // Every other transaction makes its puts as one run (sorted; each key once), then its deletes.
        let as_run = rng.is_multiple_of(2);
        if as_run {
            let mut run: Vec<CoveredPut<'_>> = pairs
                .iter()
                .filter_map(|(k, v)| {
                    Some(CoveredPut {
                        key: k,
                        val: v.as_deref()?,
                        hint: LeafHint::default(),
                    })
                })
                .collect();
            run.sort_by(|a, b| a.key.cmp(b.key));
            tree.put_covered_run(&mut run).unwrap();
        }
        for (k, v) in &pairs {
            match v {
                Some(val) if !as_run => tree.put_covered(k, val, &mut LeafHint::default()).unwrap(),
                Some(_) => {}
                None => assert!(tree.delete_covered(k, &mut LeafHint::default()).unwrap()),
            }
        }
        for (id, ver) in changes {
            match ver {
                Some(v) => state.insert(id, v),
                None => state.remove(&id),
            };
        }
    }
    state
}

/// The uncovered writer: neighbours of the covered keys, committed now and then.
fn uncovered_writer(round: u64, tree: &Tree, stop: &AtomicBool) -> BTreeMap<u64, u64> {
    let mut state = BTreeMap::new();
    let mut rng = mix(round * 77 + 5);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) || n < 300 {
        rng = mix(rng);
        let id = (rng >> 8) % 1500;
        if rng.is_multiple_of(3) && state.contains_key(&id) {
            assert!(tree.delete(&key(id, true)).unwrap());
            state.remove(&id);
        } else {
            tree.put(&key(id, true), &value(id, rng >> 40)).unwrap();
            state.insert(id, rng >> 40);
        }
        n += 1;
        if n.is_multiple_of(50) {
            tree.commit().unwrap();
        }
    }
    state
}

/// One round; returns the pages the reopen restored from the area.
fn round(r: u64, options: TreeOptions) -> u64 {
    let storages: Vec<Arc<FaultyStorage>> = (0..3)
        .map(|i| {
            let s = FaultyStorage::new(mix(r * 3 + i), FaultConfig::crash_only());
            Arc::new(match i == 2 && options.doublewrite {
                true => s.with_area(r, AreaImages::default()),
                false => s,
            })
        })
        .collect();
    let (above, log, data) = (&storages[0], &storages[1], &storages[2]);
    let (want_covered, want_uncovered, images, beside) = {
        let (upper, tree) = open(above, log, data, options);
        let gate = RwLock::new(());
        let (stop, writers_done) = (AtomicBool::new(false), AtomicBool::new(false));
        let (covered, uncovered) = std::thread::scope(|s| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (upper, tree, gate) = (&upper, &tree, &gate);
                    s.spawn(move || covered_writer(w, r, upper, tree, gate))
                })
                .collect();
            let other = s.spawn(|| uncovered_writer(r, &tree, &stop));
            s.spawn(|| {
                while !writers_done.load(Ordering::Relaxed) {
                    let at = {
                        let _all = gate.write().unwrap();
                        upper.begin_checkpoint()
                    };
                    tree.checkpoint().unwrap();
                    upper.truncate_before(at).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(3));
                }
            });
            let mut covered = BTreeMap::new();
            for w in writers {
                covered.extend(w.join().unwrap());
            }
            writers_done.store(true, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
            (covered, other.join().unwrap())
        });
        upper.commit().unwrap();
        tree.commit().unwrap();
        tree.check().unwrap();
        // Power loss: what was not synced is kept, torn or lost.
        let images: Vec<Vec<u8>> = storages.iter().map(|s| s.crash()).collect();
        (covered, uncovered, images, data.area_images())
    };
    let reopened: Vec<Arc<FaultyStorage>> = images
        .into_iter()
        .enumerate()
        .map(|(i, image)| {
            let s = FaultyStorage::from_image(0, FaultConfig::none(), image);
            Arc::new(match (i, &beside) {
                (2, Some(beside)) => s.with_area(0, beside.clone()),
                _ => s,
            })
        })
        .collect();
    let (_upper, tree) = open(&reopened[0], &reopened[1], &reopened[2], options);
    tree.check().unwrap_or_else(|e| panic!("round {r}: check: {e}"));
    let mut got_c = BTreeMap::new();
    let mut got_u = BTreeMap::new();
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.unwrap();
        let id = u64::from_le_bytes(v[..8].try_into().unwrap());
        let ver = u64::from_le_bytes(v[8..16].try_into().unwrap());
        assert_eq!(v, value(id, ver), "round {r}: a value of key {k:?}");
        let into = if k.len() == 7 { &mut got_u } else { &mut got_c };
        assert!(into.insert(id, ver).is_none());
    }
    assert_eq!(got_c, want_covered, "round {r}: covered keys after the crash");
    assert_eq!(got_u, want_uncovered, "round {r}: uncovered keys after the crash");
    tree.pool().stats().doublewrite_restored
}

#[test]
fn concurrent_covered_and_uncovered_changes_with_checkpoints_survive_a_power_loss() {
    for r in 0..rounds() {
        round(r, TreeOptions::new());
    }
}

/// `BUFPOOL_COVERED_CONCURRENT_ROUNDS`, 10 by default.
fn rounds() -> u64 {
    std::env::var("BUFPOOL_COVERED_CONCURRENT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

#[test]
fn the_same_on_the_doublewrite_area_survives_a_power_loss() {
    let restored: u64 = (0..rounds())
        .map(|r| round(r, TreeOptions::new().doublewrite(true)))
        .sum();
    println!(
        "{} rounds on the doublewrite area: {restored} pages restored from it",
        rounds()
    );
}
