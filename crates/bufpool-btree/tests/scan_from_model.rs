//! `Tree::scan_from`, `scan` and `range` against a `BTreeMap`, one thread, with hints kept across the changes
//! (review45 of session 44's `perf44`: `node::leaf_rows`, the hinted start, the leaf read again past its 16th row).
//!
//! Keys of 0 to 9 bytes over a four-letter alphabet, so range bounds often equal keys, fence keys (the shortest
//! separators, prefixes of keys) and prefixes of both; values of 1 to 700 bytes, so leaves split, merge, empty and
//! are freed and reused all the time. Between changes, scans of random ranges (each end included, excluded or
//! unbounded; reversed and empty ones too), some stopped after a few rows, each from a hint drawn from those earlier
//! scans kept (stale: their leaves split, merged, freed or reused since), or none. Every scan must return exactly the
//! model's rows of the range, in order (a prefix of them when stopped), and `scan_from` must leave its hint naming
//! the first leaf it read, the one that holds the first row when that row is the range's included start. Longer:
//! `BTREE_SCAN_MODEL_ROUNDS=20000` and `BTREE_SCAN_MODEL_SEED` over many seeds (a round costs more as the tree
//! grows: the model is filtered whole).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bufpool::storage::MemoryStorage;
use bufpool_btree::{BufferPool, LeafHint, Tree, TreeWal};

use crate::common::{mix, Rng};
use crate::scans_interleaved::model_range;

fn rounds() -> u64 {
    std::env::var("BTREE_SCAN_MODEL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000)
}

fn draw_key(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(10) as usize;
    (0..len)
        .map(|_| [0u8, b'a', b'b', 0xff][rng.below(4) as usize])
        .collect()
}

fn draw_bound(rng: &mut Rng) -> Bound<Vec<u8>> {
    match rng.below(5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(draw_key(rng)),
        _ => Bound::Excluded(draw_key(rng)),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[test]
fn scans_from_kept_hints_match_the_model_through_splits_and_merges() {
    let seed = std::env::var("BTREE_SCAN_MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(45);
    let mut rng = Rng(mix(seed));
    let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
    let wal = TreeWal::open_storage(Arc::new(MemoryStorage::new())).unwrap();
    let tree = Tree::open_storage(pool, wal, Arc::new(MemoryStorage::new())).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut hints = vec![LeafHint::default(); 32];
    let (mut scans, mut rows_seen, mut hinted_pages) = (0u64, 0u64, 0u64);
    for round in 0..rounds() {
        // Phases of growth and of shrinking, so the tree grows tall and then empties (merges, freed leaves).
        let grow = (round / 1500) % 2 == 0;
        for _ in 0..4 {
            let k = draw_key(&mut rng);
            if rng.below(100) < if grow { 70 } else { 25 } {
                let big = rng.chance(10);
                let len = 1 + rng.below(if big { 700 } else { 120 }) as usize;
                let v: Vec<u8> = (0..len).map(|i| (mix(round ^ i as u64) & 0xff) as u8).collect();
                tree.put(&k, &v).unwrap();
                model.insert(k, v);
            } else {
                let had = tree.delete(&k).unwrap();
                assert_eq!(had, model.remove(&k).is_some(), "round {round}: delete {k:?}");
            }
        }
        let (lo, hi) = (draw_bound(&mut rng), draw_bound(&mut rng));
        let want = model_range(&model, as_ref(&lo), as_ref(&hi));
        let stop_after = if rng.chance(30) {
            1 + rng.below(40) as usize
        } else {
            usize::MAX
        };
        let slot = rng.below(hints.len() as u64) as usize;
        let mut hint = if rng.chance(10) {
            LeafHint::default()
        } else {
            hints[slot]
        };
        let given = hint;
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut row_hints: Vec<LeafHint> = Vec::new();
        tree.scan_from((as_ref(&lo), as_ref(&hi)), &mut hint, |k, v, h| {
            got.push((k.to_vec(), v.to_vec()));
            row_hints.push(h);
            got.len() < stop_after
        })
        .unwrap_or_else(|e| panic!("round {round}: scan_from {lo:?}..{hi:?}: {e}"));
        let expect = &want[..want.len().min(stop_after)];
        assert!(
            got == expect,
            "round {round}: scan_from {lo:?}..{hi:?} (stop after {stop_after}, hint {:?}): got keys {:?}, want {:?}",
            given.page(),
            got.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            expect.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        // The hint names the first leaf read: the one that covers the range's start, so the one that held the
        // first row when that row is the start itself.
        if let (Some(first), Bound::Included(s)) = (row_hints.first(), &lo) {
            if got[0].0 == *s {
                assert!(
                    hint.same_leaf(first),
                    "round {round}: the hint left is not the first row's leaf"
                );
                hinted_pages += 1;
            }
        }
        hints[slot] = hint;
        scans += 1;
        rows_seen += got.len() as u64;
        // Now and then the other two readers over the same range.
        if round % 7 == 0 {
            let mut all = Vec::new();
            tree.scan((as_ref(&lo), as_ref(&hi)), |k, v| {
                all.push((k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
            assert!(all == want, "round {round}: scan {lo:?}..{hi:?}");
            let ranged: Vec<(Vec<u8>, Vec<u8>)> = tree
                .range((as_ref(&lo), as_ref(&hi)))
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            assert!(ranged == want, "round {round}: range {lo:?}..{hi:?}");
        }
        if round % 997 == 0 {
            tree.check().unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
    }
    eprintln!(
        "{scans} scans, {rows_seen} rows, {hinted_pages} hints checked, {} keys at the end",
        model.len()
    );
    assert!(
        rows_seen > scans,
        "the scans returned almost nothing: the ranges are too narrow"
    );
}
