//! `Tree::get_many` on long batches while other threads split and merge the nodes the batch descends through
//! (review19, of session 18's galloping search: `node::probe_run` searches each key of a run that shares an inner
//! node from the slot the key before it ended at, galloping while the run is dense). A reader checks every answer
//! against a reference `BTreeMap` of keys no writer touches: the multiples of 3, half of them present, whose
//! values never change; writers put and delete the other ids among them, so leaves split (each split inserts a
//! separator into an inner node the reader may be probing) and merge (removing one) under the reader's feet.
//!
//! A batch is a run of the shapes a run may take: dense (consecutive ids: the gallop), sparse (every 50th),
//! repeated keys, keys handed in descending or scrambled order, keys that are a stored key's first bytes (the
//! shortest separators a split promotes are such prefixes: keys equal to an inner node's fences and
//! separators, never stored), keys above every stored key and below every one, and keys of the longest length.
//! Each must give its reference answer: a run probed while its node changes must restart (the pool's version
//! check), never answer from a torn node. What a user would see on a failure: a present row reported absent or
//! an absent one found, in a batched read (TPC-C's stock and order-line reads).

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use common::mix;

/// Ids `0..IDS`; the multiples of 3 are the reader's (stable), the others the writers' (absent at the start).
const IDS: u64 = 90_000;
const WRITERS: u64 = 2;
const VAL: usize = 60;

fn key(id: u64) -> [u8; 8] {
    // Spread a little (not consecutive integers) so separators are prefixes of several lengths.
    (id * 1_000_003).to_be_bytes()
}

fn value(id: u64, ver: u64) -> Vec<u8> {
    let mut v = vec![(mix(id ^ ver) & 0xff) as u8; VAL - 16];
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ver.to_le_bytes());
    v
}

fn ops() -> u64 {
    std::env::var("BTREE_RUNS_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn batched_runs_answer_exactly_while_nodes_split_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 4096);
    let limits = tree.limits();
    // The reference: stable keys, half present. A longest key sorts among them (its first 8 bytes are a stable
    // key's) and is stored too.
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for id in (0..IDS).step_by(3) {
        if mix(id) & 1 == 0 {
            model.insert(key(id).to_vec(), value(id, 0));
        }
        if id.is_multiple_of(999) {
            let mut long = key(id).to_vec();
            long.resize(limits.max_key, 0xee);
            model.insert(long, value(id, 1));
        }
    }
    for (k, v) in &model {
        tree.put(k, v).unwrap();
    }
    let stats_before = tree.check().unwrap();
    assert!(stats_before.depth >= 3, "inner nodes below the root: {stats_before:?}");
    let done = AtomicBool::new(false);
    let (batches, keys_checked) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let tree = &tree;
                s.spawn(move || {
                    let mut rng = mix(w + 17);
                    // A hot region that moves slowly over the same ids twice: the first time mostly puts (leaves
                    // split, and inner nodes), the second mostly deletes (leaves empty and merge).
                    let ops = ops();
                    for n in 0..ops {
                        rng = mix(rng);
                        let centre = (n % (ops / 2) / 4) % IDS;
                        let puts = if n < ops / 2 { 6 } else { 2 };
                        let mut id = (centre + rng % 2000) % IDS;
                        if id.is_multiple_of(3) {
                            id += 1;
                        }
                        if (rng >> 32) % 8 < puts {
                            tree.put(&key(id), &value(id, n)).unwrap();
                        } else {
                            tree.delete(&key(id)).unwrap();
                        }
                    }
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let (mut batches, mut checked) = (0u64, 0u64);
            let mut rng = 99u64;
            // At least a few hundred batches, and on until the writers are done.
            while batches < 300 || !done.load(Ordering::Acquire) {
                rng = mix(rng);
                let keys = batch(rng, limits.max_key);
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                let got = tree.get_many(&refs).unwrap();
                for (k, v) in keys.iter().zip(&got) {
                    assert_eq!(
                        v.as_ref(),
                        model.get(k),
                        "batch {batches} (shape {}), key {k:x?}",
                        rng % 8
                    );
                }
                batches += 1;
                checked += keys.len() as u64;
            }
            (batches, checked)
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });
    let stats = tree.check().unwrap();
    println!("{batches} batches, {keys_checked} keys checked; tree before {stats_before:?}, after {stats:?}");
    for (k, v) in &model {
        assert_eq!(tree.get(k).unwrap().as_ref(), Some(v));
    }
    // The batches met what they were meant to: inner nodes split (a separator inserted into a node a run was
    // probing) and leaves merged (pages freed).
    assert!(
        stats.inner_nodes > stats_before.inner_nodes,
        "{stats_before:?} -> {stats:?}"
    );
    assert!(stats.free_pages > 0, "{stats:?}");
}

/// A batch of reader keys (none a writer's) of one of eight shapes, picked by `rng`.
fn batch(rng: u64, max_key: usize) -> Vec<Vec<u8>> {
    let start = (rng >> 8) % IDS / 3 * 3;
    let len = 16 + (rng >> 24) % 240;
    let stable = |i: u64| (start + 3 * i) % IDS / 3 * 3;
    let mut keys: Vec<Vec<u8>> = match rng % 8 {
        // Dense: consecutive stable ids (each key's answer a slot or two after the previous one's).
        0 => (0..len).map(|i| key(stable(i)).to_vec()).collect(),
        // Sparse: every 50th.
        1 => (0..len).map(|i| key(stable(50 * i)).to_vec()).collect(),
        // Dense with each key repeated, handed in descending order.
        2 => (0..len).rev().map(|i| key(stable(i / 2)).to_vec()).collect(),
        // Scrambled.
        3 => (0..len)
            .map(|i| key(stable(mix(rng ^ i) % (IDS / 3))).to_vec())
            .collect(),
        // A stored key's first 1 to 7 bytes (separators are such prefixes; never stored) beside the key.
        4 => (0..len)
            .flat_map(|i| {
                let k = key(stable(i));
                [k[..1 + (mix(i ^ rng) % 7) as usize].to_vec(), k.to_vec()]
            })
            .collect(),
        // Past every key, and before every key, around a dense run.
        5 => {
            let mut ks: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xff; 9], vec![0xff; max_key]];
            ks.extend((0..len).map(|i| key(stable(i)).to_vec()));
            ks
        }
        // Longest keys: a stable key's 8 bytes then 0xee up to the longest (stored for every 999th id) or 0xef.
        6 => (0..len)
            .map(|i| {
                let id = stable(i) / 999 * 999;
                let mut k = key(id).to_vec();
                k.resize(max_key, if i.is_multiple_of(2) { 0xee } else { 0xef });
                k
            })
            .collect(),
        // Every stable key of a wider window, with the key after each's first bytes (between two stored keys).
        _ => (0..len)
            .flat_map(|i| {
                let k = key(stable(i));
                let mut after = k.to_vec();
                after.push(0);
                [k.to_vec(), after]
            })
            .collect(),
    };
    // Wrapping windows are no longer ascending: fine, a batch sorts its keys itself.
    keys.truncate(512);
    keys
}
