//! Model test: random sequences of put / get / delete / range / commit+reopen against `std::collections::BTreeMap`,
//! at 4 KiB pages with long keys so trees split into several levels and merge back. After every sequence the
//! tree's invariants are checked and a full scan must equal the model.
//!
//! More cases: `PROPTEST_CASES=500 cargo test -p bufpool-btree --test integration -- model:: --skip
//! short_keys_model::`.

use crate::common;

use std::collections::BTreeMap;
use std::ops::Bound;

use bufpool_btree::{Error, Tree};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Put(u16, u8),
    Get(u16),
    Delete(u16),
    Range(u16, u16),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        40 => (0..600u16, any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
        12 => (0..600u16).prop_map(Step::Get),
        24 => (0..600u16).prop_map(Step::Delete),
        4 => (0..600u16, 0..600u16).prop_map(|(a, b)| Step::Range(a, b)),
        1 => Just(Step::Reopen),
    ]
}

/// Enough frames to hold these trees: eviction under the WAL rule (a log fsync per dirty victim newer than the
/// durable LSN) is exercised by `concurrent.rs` and `crash.rs`, where it costs less time.
const FRAMES: usize = 256;

fn scan(tree: &Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    tree.range::<std::ops::RangeFull>(..)
        .collect::<Result<_, _>>()
        .expect("scan")
}

fn run(steps: &[Step], bulk: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = common::open(dir.path(), FRAMES);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    if bulk {
        // Start from a tree several levels deep, so deletes cause merges up the tree.
        for id in 0..1500u64 {
            let (k, v) = (common::key(id), common::value(id, 0));
            tree.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        assert!(tree.check().unwrap().depth >= 3);
    }
    for s in steps {
        match *s {
            Step::Put(id, ver) => {
                let (k, v) = (common::key(id as u64), common::value(id as u64, ver as u64));
                tree.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            Step::Get(id) => {
                let k = common::key(id as u64);
                assert_eq!(tree.get(&k).unwrap(), model.get(&k).cloned());
            }
            Step::Delete(id) => {
                let k = common::key(id as u64);
                assert_eq!(tree.delete(&k).unwrap(), model.remove(&k).is_some());
            }
            Step::Range(a, b) => {
                let (a, b) = (common::key(a as u64), common::key(b as u64));
                let got: Vec<_> = tree
                    .range(a.as_slice()..b.as_slice())
                    .collect::<Result<_, _>>()
                    .unwrap();
                let want: Vec<_> = if a <= b {
                    model
                        .range::<Vec<u8>, _>((Bound::Included(&a), Bound::Excluded(&b)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                } else {
                    Vec::new()
                };
                assert_eq!(got, want);
                // The callback scan from `a` on, stopped after as many pairs as the range had (or one, if none).
                let stop = want.len().max(1);
                let mut seen = Vec::new();
                tree.scan(a.as_slice().., |k, v| {
                    seen.push((k.to_vec(), v.to_vec()));
                    seen.len() < stop
                })
                .unwrap();
                let want_open: Vec<_> = model
                    .range::<Vec<u8>, _>((Bound::Included(&a), Bound::Unbounded))
                    .take(stop)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(seen, want_open);
            }
            Step::Reopen => {
                tree.commit().unwrap();
                drop(tree);
                tree = common::open(dir.path(), FRAMES);
            }
        }
    }
    tree.check().unwrap();
    let want: Vec<_> = model.into_iter().collect();
    assert_eq!(scan(&tree), want);
    // And once more after recovery from the log alone (no checkpoint since the last reopen).
    tree.commit().unwrap();
    drop(tree);
    let tree = common::open(dir.path(), FRAMES);
    tree.check().unwrap();
    assert_eq!(scan(&tree), want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn matches_btreemap(steps in proptest::collection::vec(step(), 1..1500)) {
        run(&steps, false);
    }

    #[test]
    fn matches_btreemap_from_deep_tree(steps in proptest::collection::vec(step(), 1..800)) {
        run(&steps, true);
    }
}

#[test]
fn grows_deep_and_merges_back_to_one_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 1024);
    let n = 4000u64;
    for id in 0..n {
        tree.put(&common::key(id), &common::value(id, 1)).unwrap();
    }
    let full = tree.check().unwrap();
    assert!(full.depth >= 3, "{full:?}");
    assert_eq!(full.entries, n as usize);
    for id in 0..n {
        assert!(tree.delete(&common::key(id)).unwrap());
    }
    let empty = tree.check().unwrap();
    assert_eq!(empty.entries, 0);
    assert_eq!(empty.depth, 1, "{empty:?}");
    assert_eq!(empty.free_pages, full.leaves + full.inner_nodes - 1, "{empty:?}");
    // Freed pages are reused before the file grows.
    for id in 0..n {
        tree.put(&common::key(id), &common::value(id, 2)).unwrap();
    }
    let again = tree.check().unwrap();
    assert!(again.free_pages < empty.free_pages, "{again:?}");
}

#[test]
fn limits_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    let l = tree.limits();
    assert_eq!((l.max_key, l.max_value), (127, 1018));
    let big_key = vec![1u8; l.max_key + 1];
    assert!(matches!(tree.put(&big_key, b"v"), Err(Error::KeyTooLong { .. })));
    assert!(matches!(tree.get(&big_key), Err(Error::KeyTooLong { .. })));
    let big_val = vec![1u8; l.max_value + 1];
    assert!(matches!(tree.put(b"k", &big_val), Err(Error::ValueTooLong { .. })));
    // The largest of both work, many times over (every split must find two halves that fit).
    for i in 0..200u32 {
        let mut k = vec![b'x'; l.max_key];
        k[..4].copy_from_slice(&i.to_be_bytes());
        tree.put(&k, &vec![i as u8; l.max_value]).unwrap();
    }
    assert_eq!(tree.check().unwrap().entries, 200);
}

#[test]
fn get_many_and_get_with() {
    get_many_with_frames(FRAMES);
}

/// With a pool a fraction of the tree, most leaves are prefetched rather than resident.
#[test]
fn get_many_out_of_memory() {
    get_many_with_frames(24);
}

fn get_many_with_frames(frames: usize) {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), frames);
    for id in (0..2000u64).step_by(2) {
        tree.put(&common::key(id), &common::value(id, 0)).unwrap();
    }
    let ids: Vec<u64> = (0..300u64).map(|i| common::mix(i) % 2000).collect();
    let keys: Vec<Vec<u8>> = ids.iter().map(|&i| common::key(i)).collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let got = tree.get_many(&refs).unwrap();
    for (id, v) in ids.iter().zip(&got) {
        let want = (id % 2 == 0).then(|| common::value(*id, 0));
        assert_eq!(v, &want, "id {id}");
    }
    let len = tree.get_with(&common::key(4), |v| v.map(<[u8]>::len)).unwrap();
    assert_eq!(len, Some(common::value(4, 0).len()));
    // The hinted form: each index once, the same values, and the leaf a single hinted read names.
    let mut seen = vec![0u32; ids.len()];
    tree.get_many_hinted(&refs, |i, v, hint| {
        seen[i] += 1;
        assert_eq!(v.map(<[u8]>::to_vec), got[i], "id {}", ids[i]);
        let mut single = bufpool_btree::LeafHint::default();
        tree.get_hinted(refs[i], &mut single, |_| ()).unwrap();
        assert_eq!(hint, single, "id {}", ids[i]);
    })
    .unwrap();
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
}

#[test]
fn underfull_leaf_next_to_a_full_one_is_evened_out() {
    // 950-byte values: four fit a 4 KiB leaf, five do not. Ascending inserts fill leaves to four: [0 10 20 30],
    // [40 50 60 70], ...; key 5 then splits the first: [0 5 10] [20 30] [40 50 60 70] ...
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    let k = |i: u64| (i * 10).to_be_bytes();
    let v = [7u8; 950];
    for i in 0..30 {
        tree.put(&k(i), &v).unwrap();
    }
    tree.put(&5u64.to_be_bytes(), &v).unwrap();
    let before = tree.check().unwrap();
    // Leaving [30] alone (underfull), which cannot merge with the full [40 50 60 70]: redistribution instead.
    assert!(tree.delete(&k(2)).unwrap());
    let after = tree.check().unwrap();
    assert_eq!(after.leaves, before.leaves);
    // Redistributed to [30 40 50] [60 70]: deleting 30 leaves two entries, no underflow, still no merge. Without
    // redistribution the leaf would now be empty and merge into its sibling.
    assert!(tree.delete(&k(3)).unwrap());
    let last = tree.check().unwrap();
    assert_eq!(last.leaves, before.leaves, "{before:?} {last:?}");
    for i in (0..30).filter(|&i| i != 2 && i != 3) {
        assert_eq!(tree.get(&k(i)).unwrap().as_deref(), Some(&v[..]));
    }
    assert_eq!(tree.get(&5u64.to_be_bytes()).unwrap().as_deref(), Some(&v[..]));
}

/// Tiny pools (3 to 12 frames): structure changes that need more frames than the pool has fail with
/// `PoolExhausted`, at every point of the change (before the first page changes, or after the leaf split or the
/// lower merge). A failed operation must leave no trace: the model takes only operations that returned `Ok`, and
/// after each sequence the tree equals it, its invariants hold, and a reopen with a roomy pool (recovery) and
/// with the same tiny pool give the same tree.
#[test]
fn tiny_pools_fail_without_a_trace() {
    for frames in [3usize, 5, 8, 12] {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = common::open(dir.path(), frames);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut rng = common::mix(frames as u64);
        let mut failed = 0;
        for n in 0..600u64 {
            rng = common::mix(rng);
            let id = rng % 400;
            let (k, v) = (common::key(id), common::value(id, n));
            let r = match (rng >> 32) % 10 {
                0..=5 => tree.put(&k, &v).map(|()| {
                    model.insert(k.clone(), v.clone());
                }),
                6..=8 => tree.delete(&k).map(|had| assert_eq!(had, model.remove(&k).is_some())),
                _ => tree.get(&k).map(|got| assert_eq!(got.as_ref(), model.get(&k))),
            };
            match r {
                Ok(()) => {}
                Err(Error::Pool(bufpool::Error::PoolExhausted { .. })) => failed += 1,
                Err(e) => panic!("frames {frames}: {e}"),
            }
            if n % 200 == 199 {
                tree.commit().unwrap();
                drop(tree);
                tree = common::open(dir.path(), frames);
            }
        }
        assert!(frames > 3 || failed > 0, "frames {frames}: no operation met exhaustion");
        tree.check().unwrap();
        assert_eq!(
            scan(&tree),
            model.clone().into_iter().collect::<Vec<_>>(),
            "frames {frames}"
        );
        tree.commit().unwrap();
        drop(tree);
        let tree = common::open(dir.path(), 256);
        tree.check().unwrap();
        assert_eq!(
            scan(&tree),
            model.into_iter().collect::<Vec<_>>(),
            "frames {frames}, reopened"
        );
    }
}
