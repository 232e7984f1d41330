//! `Tree::bulk_load` appends racing every other call of the API on other threads (review21): the load's own
//! tests change the tree from inside its input iterator, one write at a time; here the writes, scans, batched
//! reads and checkpoints run on threads of their own while load after load is built and switched in.
//!
//! - Two writers put and delete keys below the loaded range (prefix 0x10), so the leaves and inner nodes left of
//!   the right edge split and merge while a load builds (a merge under an edge inner node changes it: the switch
//!   refuses, and the loader loads the same chunk again).
//! - An updater rewrites and deletes every third key already loaded (values of another length: the loaded leaves,
//!   the edge leaf among them, split and merge): a write into an edge page makes the switch refuse
//!   (`ChangedDuringLoad`); a write the switch does not refuse must be in the tree afterwards.
//! - A scanner checks that each scan is strictly increasing, holds every stable key (even ids below the loaded
//!   range, never written after the start) and every loaded key no updater touches of the loads done before it
//!   began, exactly once, and no loaded key past the load in flight when it ended.
//! - A reader's `get_many` batches of loaded keys no updater touches find each with its loaded value.
//! - A checkpointer runs `checkpoint` and `checkpoint_spread` in a loop.
//!
//! At the end the tree must hold exactly the model (stable keys, each writer's own keys, every loaded key with
//! the updater's last write or its loaded value), pass `Tree::check`, and the same after a close and reopen.
//! What a user would see on a failure: a write lost or a loaded key missing after a load returned `Ok`, a key seen
//! twice or out of order by a scan, a torn tree. Longer: `BTREE_BULK_CONC_LOADS=400 cargo test -p bufpool-btree
//! --release --test integration -- bulk_load_concurrent::`.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bufpool_btree::{Error, Tree};

/// A key below the loaded range: writer `w`'s (odd ids: `w` is `id % 4` among 1 and 3) or a stable one (even).
fn low(id: u64) -> Vec<u8> {
    let mut k = vec![0x10];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The `i`-th loaded key: ascending in `i`, above every `low` key.
fn loaded(i: u64) -> Vec<u8> {
    let mut k = vec![0x80];
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// The value loaded under `loaded(i)`: the id, then 40 to 140 bytes.
fn load_value(i: u64) -> Vec<u8> {
    let mut v = i.to_le_bytes().to_vec();
    v.resize(8 + 40 + (common::mix(i) % 100) as usize, (i % 251) as u8);
    v
}

/// An updater's value for loaded key `i`, version `ver`: the id, then 1 to 400 bytes (another length than the
/// loaded value's, mostly).
fn update_value(i: u64, ver: u64) -> Vec<u8> {
    let mut v = i.to_le_bytes().to_vec();
    v.resize(8 + 1 + (common::mix(i ^ ver) % 400) as usize, (ver % 251) as u8);
    v
}

fn loads() -> u64 {
    std::env::var("BTREE_BULK_CONC_LOADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 6 } else { 30 })
}

/// Every pair of the tree, by a scan.
fn contents(tree: &Tree) -> BTreeMap<Vec<u8>, Vec<u8>> {
    tree.range::<std::ops::RangeFull>(..).map(|p| p.unwrap()).collect()
}

fn run(frames: usize) {
    const STABLE: u64 = 4000;
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), frames);
    for id in (0..STABLE).step_by(2) {
        tree.put(&low(id), &[7u8; 60]).unwrap();
    }
    tree.commit().unwrap();
    // Loaded keys `0..loaded` are in the tree; a load in flight covers `loaded..attempting`.
    let (loaded_n, attempting) = (AtomicU64::new(0), AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    // Set by the loader after many refusals of one chunk, so that the updater lets a load through.
    let hold_off = AtomicBool::new(false);
    let (mut writer_models, mut update_model) = (Vec::new(), BTreeMap::new());
    let mut refusals = 0u64;
    std::thread::scope(|s| {
        let writers: Vec<_> = [1u64, 3]
            .into_iter()
            .map(|w| {
                let (tree, stop) = (&tree, &stop);
                s.spawn(move || {
                    let mut model: BTreeMap<u64, Option<u64>> = BTreeMap::new();
                    let mut rng = w;
                    let mut ver = 0;
                    while !stop.load(Ordering::Relaxed) {
                        rng = common::mix(rng);
                        let id = (rng % (STABLE / 4)) * 4 + w;
                        ver += 1;
                        if rng % 3 == 0 {
                            tree.delete(&low(id)).unwrap();
                            model.insert(id, None);
                        } else {
                            tree.put(&low(id), &common::value(id, ver)).unwrap();
                            model.insert(id, Some(ver));
                        }
                    }
                    model
                })
            })
            .collect();
        let updater = s.spawn(|| {
            let mut model: BTreeMap<u64, Option<u64>> = BTreeMap::new();
            let (mut rng, mut ver) = (99u64, 0);
            while !stop.load(Ordering::Relaxed) {
                let n = loaded_n.load(Ordering::Acquire);
                if n < 3 || hold_off.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                // Slower than the load: most loads get through.
                std::thread::sleep(Duration::from_micros(100));
                rng = common::mix(rng);
                // Mostly the last few hundred keys loaded: the edge leaf and its neighbours.
                let i = if rng % 4 == 0 {
                    rng % n
                } else {
                    n - 1 - (rng >> 8) % n.min(300)
                };
                let i = i / 3 * 3;
                ver += 1;
                if rng % 5 == 0 {
                    tree.delete(&loaded(i)).unwrap();
                    model.insert(i, None);
                } else {
                    tree.put(&loaded(i), &update_value(i, ver)).unwrap();
                    model.insert(i, Some(ver));
                }
            }
            model
        });
        let scanner = s.spawn(|| {
            let mut scans = 0;
            while !stop.load(Ordering::Relaxed) {
                let before = loaded_n.load(Ordering::Acquire);
                let keys: Vec<Vec<u8>> = if scans % 2 == 0 {
                    tree.range::<std::ops::RangeFull>(..).map(|p| p.unwrap().0).collect()
                } else {
                    let mut keys = Vec::new();
                    tree.scan(.., |k, _| {
                        keys.push(k.to_vec());
                        true
                    })
                    .unwrap();
                    keys
                };
                let after = attempting.load(Ordering::Acquire);
                assert!(
                    keys.windows(2).all(|w| w[0] < w[1]),
                    "scan {scans}: not strictly increasing"
                );
                let seen: HashSet<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                for id in (0..STABLE).step_by(2) {
                    assert!(
                        seen.contains(low(id).as_slice()),
                        "scan {scans}: stable key {id} missing"
                    );
                }
                for i in (0..before).filter(|i| i % 3 != 0) {
                    assert!(
                        seen.contains(loaded(i).as_slice()),
                        "scan {scans}: loaded key {i} missing"
                    );
                }
                let past = keys
                    .iter()
                    .filter(|k| k[0] == 0x80 && k[1..] >= loaded(after)[1..])
                    .count();
                assert_eq!(past, 0, "scan {scans}: keys of no load seen (loads up to {after})");
                scans += 1;
            }
            scans
        });
        let reader = s.spawn(|| {
            let (mut rng, mut batches) = (5u64, 0);
            while !stop.load(Ordering::Relaxed) {
                let n = loaded_n.load(Ordering::Acquire);
                if n < 3 {
                    std::thread::yield_now();
                    continue;
                }
                let ids: Vec<u64> = (0..64)
                    .map(|_| {
                        rng = common::mix(rng);
                        let i = rng % n;
                        if i % 3 == 0 {
                            i + 1
                        } else {
                            i
                        }
                    })
                    .filter(|&i| i < n)
                    .collect();
                let keys: Vec<Vec<u8>> = ids.iter().map(|&i| loaded(i)).collect();
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                let got = tree.get_many(&refs).unwrap();
                for (&i, v) in ids.iter().zip(&got) {
                    assert_eq!(v.as_deref(), Some(load_value(i).as_slice()), "get_many: loaded key {i}");
                }
                batches += 1;
            }
            batches
        });
        let checkpointer = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if n % 3 == 2 {
                    tree.checkpoint_spread(Duration::from_millis(5)).unwrap();
                } else {
                    tree.checkpoint().unwrap();
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        // The loader, on this thread: chunks of 50 to 1,500 pairs, each loaded again until the switch takes it.
        let mut rng = 7u64;
        for _ in 0..loads() {
            rng = common::mix(rng);
            let from = loaded_n.load(Ordering::Relaxed);
            let to = from + 50 + rng % 1450;
            attempting.store(to, Ordering::Release);
            let mut tries = 0;
            loop {
                tries += 1;
                hold_off.store(tries > 4, Ordering::Release);
                match tree.bulk_load((from..to).map(|i| (loaded(i), load_value(i)))) {
                    Ok(n) => {
                        assert_eq!(n, to - from);
                        break;
                    }
                    Err(Error::ChangedDuringLoad) => refusals += 1,
                    Err(e) => panic!("load {from}..{to}: {e}"),
                }
            }
            hold_off.store(false, Ordering::Release);
            loaded_n.store(to, Ordering::Release);
        }
        stop.store(true, Ordering::Relaxed);
        writer_models = writers.into_iter().map(|w| w.join().unwrap()).collect();
        update_model = updater.join().unwrap();
        let scans = scanner.join().unwrap();
        let batches = reader.join().unwrap();
        checkpointer.join().unwrap();
        eprintln!("{frames} frames: {refusals} loads refused, {scans} scans, {batches} get_many batches");
    });
    let n = loaded_n.load(Ordering::Relaxed);
    let mut want = BTreeMap::new();
    for id in (0..STABLE).step_by(2) {
        want.insert(low(id), vec![7u8; 60]);
    }
    for model in &writer_models {
        for (&id, &ver) in model {
            if let Some(ver) = ver {
                want.insert(low(id), common::value(id, ver));
            }
        }
    }
    for i in 0..n {
        match update_model.get(&i) {
            None => {
                want.insert(loaded(i), load_value(i));
            }
            Some(Some(ver)) => {
                want.insert(loaded(i), update_value(i, *ver));
            }
            Some(None) => {}
        }
    }
    let compare = |tree: &Tree, when: &str| {
        let got = contents(tree);
        let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).take(5).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
        let wrong = want
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .count();
        assert!(
            missing.is_empty() && extra.is_empty() && wrong == 0,
            "{when}: missing {missing:?}, extra {extra:?}, {wrong} wrong values ({} keys wanted, {} found)",
            want.len(),
            got.len()
        );
        assert_eq!(tree.check().unwrap().entries, want.len(), "{when}");
    };
    compare(&tree, "after the run");
    tree.commit().unwrap();
    tree.close().unwrap();
    let tree = common::open(dir.path(), frames);
    compare(&tree, "after a reopen");
}

#[test]
fn loads_racing_writers_scans_reads_and_checkpoints_lose_nothing() {
    run(512);
}

#[test]
fn loads_racing_everything_in_a_pool_smaller_than_the_tree() {
    run(64);
}
