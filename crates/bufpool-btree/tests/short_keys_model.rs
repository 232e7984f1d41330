//! Keys of 0 to 10 bytes over a tiny alphabet that includes zero bytes (`b"a"` against `b"a\0"`, the empty key,
//! keys of exactly 8 and 9 bytes and their separators) against `std::collections::BTreeMap`: puts, deletes, gets,
//! `get_many_hinted` over unsorted lists with repeats, scans and range iterators with every kind of bound. Values
//! of 60 to 400 bytes at 4 KiB pages, so leaves split and merge and inner nodes hold short separators of these
//! lengths. What a user would see on a failure: a lookup or scan of a short key that misses, or returns, the
//! wrong row (session 10's `cpu15` compares keys of up to 8 bytes as one padded word and their lengths, probes
//! keys that share an inner node in one read, and stops scans at the end of their range). The tree's log depends on
//! a log above, so some puts are covered runs (`Tree::put_covered_run`: ascending keys with repeats, found in a
//! leaf from the previous put's slot, session 14's `node::leaf_upsert_after`), and some are `put_covered`.
//!
//! More sequences: `BUFPOOL_SHORT_KEY_SEEDS=200 cargo test -p bufpool-btree --release --test integration --
//! short_keys_model::`.

use crate::common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bufpool_btree::{BufferPool, Tree, TreeWal};

const ALPHABET: [u8; 4] = [0x00, 0x01, b'a', 0xff];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = common::mix(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15));
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A key of 0 to 10 bytes, lengths 7 to 9 more often than the others.
    fn key(&mut self) -> Vec<u8> {
        let len = match self.below(4) {
            0 => 7 + self.below(3) as usize,
            _ => self.below(11) as usize,
        };
        (0..len).map(|_| ALPHABET[self.below(4) as usize]).collect()
    }
    fn bound(&mut self) -> Bound<Vec<u8>> {
        match self.below(5) {
            0 => Bound::Unbounded,
            1 | 2 => Bound::Included(self.key()),
            _ => Bound::Excluded(self.key()),
        }
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether `BTreeMap::range` accepts the bounds (it panics on a start above the end, or equal and both excluded).
fn valid(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a <= b,
        _ => true,
    }
}

fn run(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
    let above = TreeWal::open(dir.path().join("above.wal")).unwrap();
    let wal = TreeWal::open(dir.path().join("tree.wal")).unwrap();
    wal.flush_first(above.clone()).unwrap();
    let tree = Tree::open(pool, wal, dir.path().join("tree.db")).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut rng = Rng(seed);
    let value = |rng: &mut Rng, step: usize| -> Vec<u8> {
        let len = 60 + rng.below(340) as usize;
        (0..len).map(|i| (i as u64 ^ step as u64) as u8).collect()
    };
    for step in 0..steps {
        match rng.below(22) {
            0..=6 => {
                let k = rng.key();
                let v = value(&mut rng, step);
                tree.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            7..=8 => {
                let k = rng.key();
                let v = value(&mut rng, step);
                common::covered_put(&above, &tree, &k, &v);
                model.insert(k, v);
            }
            20..=21 => {
                // A covered run: ascending keys with repeats (a key put twice in a row, then again later),
                // sometimes a key out of order, each value different.
                let n = 1 + rng.below(30) as usize;
                let mut keys: Vec<Vec<u8>> = (0..n).map(|_| rng.key()).collect();
                keys.sort();
                for i in 1..n {
                    match rng.below(6) {
                        0 => keys[i] = keys[i - 1].clone(),
                        1 => keys[i] = keys[rng.below(i as u64) as usize].clone(),
                        _ => {}
                    }
                }
                let puts: Vec<(Vec<u8>, Vec<u8>)> = keys.into_iter().map(|k| (k, value(&mut rng, step))).collect();
                common::log_puts_above(&above, &puts);
                let mut run = common::covered_run(&puts);
                tree.put_covered_run(&mut run).unwrap();
                for (k, v) in puts {
                    model.insert(k, v);
                }
            }
            9..=12 => {
                let k = rng.key();
                assert_eq!(
                    tree.delete(&k).unwrap(),
                    model.remove(&k).is_some(),
                    "seed {seed} step {step} delete {k:?}"
                );
            }
            13..=14 => {
                let k = rng.key();
                assert_eq!(
                    tree.get(&k).unwrap().as_ref(),
                    model.get(&k),
                    "seed {seed} step {step} get {k:?}"
                );
            }
            15..=17 => {
                let n = 1 + rng.below(24) as usize;
                let mut keys: Vec<Vec<u8>> = (0..n).map(|_| rng.key()).collect();
                // Some of them repeated, some of them present.
                for i in 0..n {
                    match rng.below(4) {
                        0 if i > 0 => keys[i] = keys[rng.below(i as u64) as usize].clone(),
                        1 if !model.is_empty() => {
                            let at = rng.below(model.len() as u64) as usize;
                            keys[i] = model.keys().nth(at).unwrap().clone();
                        }
                        _ => {}
                    }
                }
                if rng.below(2) == 0 {
                    keys.sort();
                }
                let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                let mut got: Vec<Option<Option<Vec<u8>>>> = vec![None; n];
                tree.get_many_hinted(&refs, |i, v, _| {
                    assert!(got[i].is_none(), "seed {seed} step {step}: index {i} answered twice");
                    got[i] = Some(v.map(<[u8]>::to_vec));
                })
                .unwrap();
                for (i, k) in keys.iter().enumerate() {
                    assert_eq!(
                        got[i].as_ref().expect("every key answered").as_ref(),
                        model.get(k),
                        "seed {seed} step {step} get_many {k:?}"
                    );
                }
            }
            _ => {
                let (lo, hi) = (rng.bound(), rng.bound());
                if !valid(&lo, &hi) {
                    continue;
                }
                let want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .range::<Vec<u8>, _>((lo.clone(), hi.clone()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let limit = if rng.below(3) == 0 {
                    1 + rng.below(4) as usize
                } else {
                    usize::MAX
                };
                let mut got = Vec::new();
                tree.scan((as_ref(&lo), as_ref(&hi)), |k, v| {
                    got.push((k.to_vec(), v.to_vec()));
                    got.len() < limit
                })
                .unwrap();
                let want_n = want.len().min(limit);
                assert_eq!(got, want[..want_n], "seed {seed} step {step} scan {lo:?}..{hi:?}");
                let iter: Vec<(Vec<u8>, Vec<u8>)> = tree
                    .range((as_ref(&lo), as_ref(&hi)))
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(iter, want, "seed {seed} step {step} range {lo:?}..{hi:?}");
            }
        }
    }
    tree.check().unwrap();
    let all: Vec<(Vec<u8>, Vec<u8>)> = tree.range::<std::ops::RangeFull>(..).collect::<Result<_, _>>().unwrap();
    assert_eq!(
        all,
        model.into_iter().collect::<Vec<_>>(),
        "seed {seed}: the whole tree"
    );
}

#[test]
fn short_keys_with_zero_bytes_match_a_btreemap() {
    let seeds: u64 = std::env::var("BUFPOOL_SHORT_KEY_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    for seed in 0..seeds {
        run(seed, 3000);
    }
}
