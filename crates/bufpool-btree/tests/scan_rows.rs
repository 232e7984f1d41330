//! Session 44's scans: each leaf's rows copied out of it in one optimistic read, up to 16 rows and, once a leaf
//! had more in range, every row of the range each leaf holds (`node::leaf_rows`: the range's end found by a search of the slots, the
//! part of the heap that holds the rows copied in one read), and a scan started at a hinted leaf
//! ([`Tree::scan_from`]). They must return what a scan returned before them: the pairs of the range in key order,
//! each once, whatever the bounds (included, excluded, open, reversed, empty), where the caller stops, the leaves'
//! boundaries (rows that straddle two or more leaves, leaves emptied by deletes), and the hint (fresh, stale after
//! splits and merges, of another tree, of a page freed since, none). The concurrent side (scans from hints racing
//! splits and merges) is in `hint_scan_concurrent.rs`.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Tree, TreeWal};

use crate::common::mix;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn open(dir: &std::path::Path, pool: &Arc<BufferPool>, name: &str) -> Tree {
    let wal = TreeWal::open(dir.join(format!("{name}.wal"))).unwrap();
    Tree::open(pool.clone(), wal, dir.join(format!("{name}.db"))).unwrap()
}

/// Key `i` of a tree whose keys share prefixes of every length, as TPC-C's do (warehouse, district, order,
/// line): 1 to 12 bytes, in an order unrelated to `i`'s.
fn key(i: u64) -> Vec<u8> {
    let r = mix(i ^ 0x5ca1);
    let len = 1 + (r % 12) as usize;
    let mut k = vec![(i % 3) as u8, (i / 3 % 4) as u8];
    k.extend_from_slice(&i.to_be_bytes()[4..]);
    k.extend_from_slice(&r.to_be_bytes());
    k.truncate(len);
    k
}

/// A value of 0 to 299 bytes naming its key.
fn value(k: &[u8], ver: u64) -> Vec<u8> {
    let len = (mix(ver ^ k.len() as u64 ^ u64::from(k[0])) % 300) as usize;
    let mut v: Vec<u8> = k
        .iter()
        .chain(ver.to_le_bytes().iter())
        .copied()
        .cycle()
        .take(len)
        .collect();
    v.resize(len, 7);
    v
}

/// A bound of the key space from draw `r`: a key of the tree, a key next to one, or none (open).
fn bound(r: u64, keys: &[Vec<u8>]) -> Bound<Vec<u8>> {
    let k = keys[(r >> 8) as usize % keys.len()].clone();
    match r % 7 {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Excluded(k),
        3 => {
            // Just above a key: no key of the tree.
            let mut k = k;
            k.push(0);
            Bound::Included(k)
        }
        _ => Bound::Included(k),
    }
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

/// What a scan of `range` stopped after `stop` pairs must return (a reversed range: nothing).
fn expected(model: &Model, from: &Bound<Vec<u8>>, to: &Bound<Vec<u8>>, stop: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let reversed = match (from, to) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
        _ => false,
    };
    if reversed {
        return Vec::new();
    }
    model
        .range::<[u8], _>((as_slice(from), as_slice(to)))
        .take(stop)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Scans `range` of `tree` with `scan_from` at `hint` (or `scan` without one), stopping after `stop` pairs.
fn scanned(
    tree: &Tree,
    from: &Bound<Vec<u8>>,
    to: &Bound<Vec<u8>>,
    stop: usize,
    hint: Option<&mut LeafHint>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut got = Vec::new();
    let mut take = |k: &[u8], v: &[u8]| {
        if got.len() < stop {
            got.push((k.to_vec(), v.to_vec()));
        }
        got.len() < stop
    };
    let range = (as_slice(from), as_slice(to));
    match hint {
        Some(h) => tree.scan_from(range, h, |k, v, _| take(k, v)).unwrap(),
        None => tree.scan(range, take).unwrap(),
    }
    got
}

/// Scans of every kind of range over a tree whose leaves hold 1 to 60 rows of keys with shared prefixes (some
/// emptied by deletes, so a range's rows straddle empty leaves), each stopped after 1, 2, 15, 16, 17, 33, 100 or
/// all of its pairs, by `scan` and by `scan_from` at one of 64 kept hints (stale as the tree changes between
/// rounds: leaves split, emptied, merged and freed), at another tree's hint, and at none: every answer is the
/// model's.
#[test]
fn scans_return_the_models_pairs_whatever_the_range_the_stop_and_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(2048).build().unwrap());
    let tree = open(dir.path(), &pool, "a");
    let other = open(dir.path(), &pool, "b");
    let mut model = Model::new();
    let keys: Vec<Vec<u8>> = (0..4000).map(key).collect();
    for (i, k) in keys.iter().enumerate() {
        other.put(k, b"other").unwrap();
        if i % 5 != 4 {
            let v = value(k, 0);
            tree.put(k, &v).unwrap();
            model.insert(k.clone(), v);
        }
    }
    // Another tree's hints (ignored by `tree`), and hints of leaves freed by emptying a run of keys.
    let mut foreign = LeafHint::default();
    other.scan_from(&keys[7][..].., &mut foreign, |_, _, _| false).unwrap();
    let mut hints: Vec<LeafHint> = vec![LeafHint::default(); 64];
    let stops = [1, 2, 15, 16, 17, 33, 100, usize::MAX];
    let mut checked = 0;
    for round in 0..6u64 {
        for n in 0..600u64 {
            let r = mix(round << 32 ^ n);
            let (from, to) = (bound(r, &keys), bound(mix(r), &keys));
            let stop = stops[(r >> 40) as usize % stops.len()];
            let want = expected(&model, &from, &to, stop);
            let slot = (r >> 50) as usize % hints.len();
            let what = format!("round {round} scan {n}: {from:?}..{to:?} stopped after {stop}");
            assert_eq!(scanned(&tree, &from, &to, stop, None), want, "scan, {what}");
            assert_eq!(
                scanned(&tree, &from, &to, stop, Some(&mut hints[slot])),
                want,
                "scan_from a kept hint, {what}"
            );
            let mut given = if n % 3 == 0 { foreign } else { LeafHint::default() };
            assert_eq!(
                scanned(&tree, &from, &to, stop, Some(&mut given)),
                want,
                "scan_from another tree's hint or none, {what}"
            );
            checked += 1;
        }
        // Change the tree between rounds: a run of keys deleted (leaves emptied, merged, freed), others put with
        // new lengths (leaves split), so the kept hints go stale.
        let base = (mix(round) % 4000) as usize;
        let mut sorted: Vec<&Vec<u8>> = model.keys().collect();
        sorted.sort();
        let gone: Vec<Vec<u8>> = sorted
            .iter()
            .skip(base % sorted.len())
            .take(300)
            .map(|k| (*k).clone())
            .collect();
        for k in &gone {
            assert!(tree.delete(k).unwrap());
            model.remove(k);
        }
        for i in 0..800u64 {
            let k = &keys[(mix(round ^ i << 8) % 4000) as usize];
            let v = value(k, round + 1);
            tree.put(k, &v).unwrap();
            model.insert(k.clone(), v);
        }
    }
    assert!(checked > 3000);
    tree.check().unwrap();
}

/// A range whose rows straddle many leaves, read by one scan: the first leaf's 16 rows, that leaf again from past
/// the 16th for the rest, then the next leaves; every row once, in order, with the hint of the leaf and
/// slot it was read from (`Tree::get_hinted` names the same leaf).
#[test]
fn a_long_scan_reads_each_leaf_again_past_its_last_row_and_gives_each_rows_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let tree = open(dir.path(), &pool, "a");
    // 8-byte keys, 20-byte values: about 125 rows a leaf of 4 KiB.
    for i in 0..5000u64 {
        tree.put(&i.to_be_bytes(), &[i as u8; 20]).unwrap();
    }
    for (lo, n) in [
        (0u64, 5000u64),
        (100, 1),
        (100, 16),
        (100, 17),
        (100, 48),
        (4990, 100),
        (2500, 300),
    ] {
        let (from, to) = (lo.to_be_bytes(), (lo + n).to_be_bytes());
        let mut got = Vec::new();
        let mut hint = LeafHint::default();
        tree.scan_from(&from[..]..&to[..], &mut hint, |k, v, at| {
            let id = u64::from_be_bytes(k.try_into().unwrap());
            assert_eq!(v, [id as u8; 20], "key {id}'s value");
            let mut h = LeafHint::default();
            tree.get_hinted(k, &mut h, |_| ()).unwrap();
            assert!(
                at.same_leaf(&h),
                "key {id}: the scan's hint names another leaf than a read's"
            );
            got.push(id);
            true
        })
        .unwrap();
        let want: Vec<u64> = (lo..(lo + n).min(5000)).collect();
        assert_eq!(got, want, "scan of {lo}..{}", lo + n);
        let mut first = LeafHint::default();
        tree.get_hinted(&from, &mut first, |_| ()).unwrap();
        if lo < 5000 {
            assert!(
                hint.same_leaf(&first),
                "scan of {lo}..: the hint returned is not the first leaf read"
            );
        }
    }
}
