//! `Tree::get_at_hint` (a read that tries the leaf its hint names before descending), and its batch form
//! `Tree::get_many_at_hints`, answer as a descent does, whatever the hint: fresh, stale after the leaf split, merged away or was freed and reused, another key's, or
//! another tree's; and a scan, whose first leaf comes from its parent searched in place (not copied), returns what
//! a model holds from any start, within one leaf or across many.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn open(dir: &std::path::Path, name: &str) -> Tree {
    let pool = Arc::new(BufferPool::builder().frames(2048).build().unwrap());
    let wal = TreeWal::open(dir.join(format!("{name}.wal"))).unwrap();
    Tree::open(pool, wal, dir.join(format!("{name}.db"))).unwrap()
}

/// Reads every key of `0..span` (present or not) from each of `hints` and checks the answer against `model`, and
/// that the hint it leaves names the leaf a fresh descent finds.
fn reads_agree(tree: &Tree, model: &BTreeMap<u32, Vec<u8>>, span: u32, hints: &[LeafHint]) {
    for i in 0..span {
        let k = key(i);
        let mut fresh = LeafHint::default();
        tree.get_hinted(&k, &mut fresh, |_| ()).unwrap();
        for (n, h) in hints.iter().enumerate() {
            let mut h = *h;
            let got = tree.get_at_hint(&k, &mut h, |v| v.map(<[u8]>::to_vec)).unwrap();
            assert_eq!(
                got.as_ref(),
                model.get(&i),
                "key {i} read from hint {n} ({:?})",
                h.page()
            );
            assert_eq!(
                h.page(),
                fresh.page(),
                "key {i}: the hint left names another leaf than the covering one"
            );
        }
    }
    batches_agree(tree, model, span, hints);
}

/// `Tree::get_many_at_hints` over every key of `0..span` in batches of 1 to 23 keys, each key given one of `hints`
/// (in turn; some keys none), whole values and a part: each answer is the model's, each once, and the hint it
/// comes with names the leaf a fresh descent finds.
fn batches_agree(tree: &Tree, model: &BTreeMap<u32, Vec<u8>>, span: u32, hints: &[LeafHint]) {
    let all: Vec<u32> = (0..span).collect();
    for (round, part) in [0..usize::MAX, 5..9].into_iter().enumerate() {
        let mut at = 0;
        let mut size = 1 + round;
        while at < all.len() {
            let chunk = &all[at..(at + size).min(all.len())];
            at += chunk.len();
            size = size % 23 + 1;
            let keys: Vec<[u8; 4]> = chunk.iter().map(|&i| key(i)).collect();
            let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
            // One key in five has no hint (a shorter slice leaves the last ones without one too).
            let given: Vec<LeafHint> = chunk
                .iter()
                .map(|&i| {
                    if i % 5 == 0 {
                        LeafHint::default()
                    } else {
                        hints[(i as usize + round) % hints.len()]
                    }
                })
                .take(chunk.len() - usize::from(chunk.len() > 3))
                .collect();
            let mut seen = vec![false; chunk.len()];
            tree.get_many_at_hints(&refs, &given, part.clone(), |j, v, h| {
                let i = chunk[j];
                assert!(!seen[j], "key {i} answered twice");
                seen[j] = true;
                let want = model.get(&i).map(|v| {
                    let to = part.end.min(v.len());
                    v[part.start.min(to)..to].to_vec()
                });
                assert_eq!(v.map(<[u8]>::to_vec), want, "key {i} in a batch");
                let mut fresh = LeafHint::default();
                tree.get_hinted(&key(i), &mut fresh, |_| ()).unwrap();
                assert_eq!(h.page(), fresh.page(), "key {i}: a batch's hint names another leaf");
            })
            .unwrap();
            assert!(seen.iter().all(|&s| s), "a key of the batch got no answer");
        }
    }
}

#[test]
fn a_read_from_any_hint_answers_as_a_descent_does_after_splits_merges_and_frees() {
    let dir = tempfile::tempdir().unwrap();
    let tree = open(dir.path(), "t");
    let other = open(dir.path(), "other");
    // 3,000 (6,000 until session 36: every key from every hint is span x hints reads, 56 s of a debug CI).
    let span = 3_000u32;
    let mut model = BTreeMap::new();
    // Every third key, 60-byte values: about 30 leaves.
    for i in (0..span).step_by(3) {
        let v = vec![(i % 251) as u8; 60];
        tree.put(&key(i), &v).unwrap();
        other.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    // A hint of every leaf as it is now (one per 40 keys), and of the other tree.
    let hints_of = |t: &Tree| -> Vec<LeafHint> {
        (0..span)
            .step_by(40)
            .map(|i| {
                let mut h = LeafHint::default();
                t.get_hinted(&key(i), &mut h, |_| ()).unwrap();
                h
            })
            .collect()
    };
    let mut old = hints_of(&tree);
    old.extend(hints_of(&other).into_iter().take(20));
    old.push(LeafHint::default());
    reads_agree(&tree, &model, span, &old);

    // Splits: the keys between, with longer values; every old hint now names a leaf that covers less.
    for i in (0..span).filter(|i| i % 3 != 0) {
        let v = vec![(i % 13) as u8; 90];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    let mut split = hints_of(&tree);
    reads_agree(&tree, &model, span, &old);
    // Merges and frees: most of the keys deleted, so leaves merge and pages go to the free list.
    for i in (0..span).filter(|i| i % 7 != 0) {
        assert!(tree.delete(&key(i)).unwrap());
        model.remove(&i);
    }
    split.extend(old.iter().copied());
    reads_agree(&tree, &model, span, &split);
    // Reused: freed pages taken again by the splits of new rows, now covering other keys.
    let mut after = hints_of(&tree);
    for i in (0..span).filter(|i| i % 7 == 3) {
        let v = vec![7u8; 120];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    after.extend(split.iter().copied());
    reads_agree(&tree, &model, span, &after);
    tree.check().unwrap();
}

/// A batch whose hinted leaves are partly out of memory when it starts (a pool of 48 frames under a tree of more
/// than 100 leaves, read in key order so each batch's leaves were evicted since the last look): a hinted leaf the
/// prefetch did not find is left to the descent, the others are probed at their hint, and every key answers as
/// the model says (session 46 made the batch name each hinted key's page once, keeping with it whether it was
/// found in memory).
#[test]
fn a_batch_whose_hinted_leaves_are_partly_evicted_answers_every_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(48).build().unwrap());
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap();
    let span = 12_000u32;
    let mut model = BTreeMap::new();
    for i in (0..span).step_by(2) {
        let v = vec![(i % 241) as u8; 200];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    tree.commit().unwrap();
    let hints: Vec<LeafHint> = (0..span)
        .step_by(25)
        .map(|i| {
            let mut h = LeafHint::default();
            tree.get_hinted(&key(i), &mut h, |_| ()).unwrap();
            h
        })
        .collect();
    let leaves: std::collections::BTreeSet<_> = hints.iter().map(LeafHint::page).collect();
    assert!(leaves.len() > 100, "{} leaves: the pool must hold fewer", leaves.len());
    // The upper half scanned (every leaf of the lower half evicted), then a batch of the lower half at its
    // hints: its leaves are loaded by the batch itself.
    tree.scan((Bound::Included(&key(span / 2)[..]), Bound::Unbounded), |_, _| true)
        .unwrap();
    let keys: Vec<[u8; 4]> = (0..span / 2).step_by(50).map(key).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let given: Vec<LeafHint> = (0..span / 2).step_by(50).map(|i| hints[i as usize / 25]).collect();
    let misses = pool.stats().misses;
    let mut answered = 0;
    tree.get_many_at_hints(&refs, &given, 0..usize::MAX, |j, v, _| {
        assert_eq!(v, model.get(&(j as u32 * 50)).map(Vec::as_slice), "key {}", j * 50);
        answered += 1;
    })
    .unwrap();
    assert_eq!(answered, keys.len());
    assert!(
        pool.stats().misses > misses,
        "the batch's hinted leaves stayed in memory"
    );
    batches_agree(&tree, &model, span, &hints);
    tree.check().unwrap();
}

#[test]
fn scans_from_any_start_within_one_leaf_or_across_many_return_what_the_model_holds() {
    let dir = tempfile::tempdir().unwrap();
    let tree = open(dir.path(), "t");
    let mut model = BTreeMap::new();
    for i in (0..8_000u32).step_by(2) {
        let v = vec![(i % 199) as u8; 50];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    let mut starts: Vec<u32> = (0..8_100).step_by(97).collect();
    starts.extend([0, 1, 7_998, 7_999, 8_000]);
    for &from in &starts {
        for len in [0u32, 1, 2, 3, 10, 100, 1_000, 9_000] {
            let (lo, hi) = (key(from), key(from.saturating_add(len)));
            for bounds in [
                (Bound::Included(&lo[..]), Bound::Excluded(&hi[..])),
                (Bound::Excluded(&lo[..]), Bound::Included(&hi[..])),
                (Bound::Included(&lo[..]), Bound::Unbounded),
            ] {
                let mut got = Vec::new();
                tree.scan(bounds, |k, v| {
                    got.push((u32::from_be_bytes(k.try_into().unwrap()), v.to_vec()));
                    true
                })
                .unwrap();
                let lo_b = bounds.0.map(|k| u32::from_be_bytes(k.try_into().unwrap()));
                let hi_b = bounds.1.map(|k| u32::from_be_bytes(k.try_into().unwrap()));
                let want: Vec<_> = model.range((lo_b, hi_b)).map(|(k, v)| (*k, v.clone())).collect();
                assert_eq!(got, want, "scan {bounds:?}");
                // The iterator's first leaf comes the same way.
                let it: Vec<_> = tree.range(bounds).take(3).map(|kv| kv.unwrap()).collect();
                assert_eq!(it.len(), want.len().min(3), "range {bounds:?}");
            }
        }
    }
}
