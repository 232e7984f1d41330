//! `Tree::bulk_load`: contents, shape (fences, levels, leaf chain: `Tree::check`), fill, durability, later
//! changes on a bulk-loaded tree, and the typed refusals (out-of-order input, a non-empty tree, long keys).
//! Also the fill that ascending `put`s leave (the rightmost-split rule).

mod common;

use bufpool_btree::Error;
use common::{key, value};

/// `n` pairs of the tests' long keys and varying values, in ascending key order.
fn sorted_pairs(n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|id| (key(id), value(id, 0))).collect();
    pairs.sort();
    pairs
}

/// The bench's shape: 8-byte big-endian keys, 120-byte values.
fn small_pairs(n: u64) -> Vec<([u8; 8], [u8; 120])> {
    (0..n)
        .map(|i| {
            let mut v = [0u8; 120];
            v[..8].copy_from_slice(&i.to_le_bytes());
            v[8] = (i % 251) as u8;
            ((i * 7 + 3).to_be_bytes(), v)
        })
        .collect()
}

/// A new tree on a pool of `frames` frames, bulk-loaded with `small_pairs(n)`.
fn loaded_small(frames: usize, n: u64) -> (tempfile::TempDir, bufpool_btree::Tree) {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), frames);
    assert_eq!(tree.bulk_load(small_pairs(n)).unwrap(), n);
    (dir, tree)
}

#[test]
fn loads_every_pair_into_a_well_formed_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = sorted_pairs(6000);
    let tree = common::open(dir.path(), 512);
    assert_eq!(tree.bulk_load(pairs.iter().map(|(k, v)| (k, v))).unwrap(), 6000);
    // check(): fences equal the parents' bounds, keys in order within fences, levels, leaf chain.
    let st = tree.check().unwrap();
    assert_eq!(st.entries, 6000);
    assert!(st.depth >= 3, "long keys make a deep tree: depth {}", st.depth);
    for (k, v) in &pairs {
        assert_eq!(tree.get(k).unwrap().as_deref(), Some(&v[..]));
    }
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = tree.range(..).map(|p| p.unwrap()).collect();
    assert_eq!(scanned, pairs);
    assert_eq!(tree.get(b"absent").unwrap(), None);
    // The old root leaf went to the free list.
    assert_eq!(st.free_pages, 1);
}

#[test]
fn fills_leaves_and_is_compact_for_the_bench_shape() {
    let n = 100_000u64;
    let (_dir, tree) = loaded_small(4096, n);
    let st = tree.check().unwrap();
    assert_eq!(st.entries, n as usize);
    // 140 bytes an entry (8-byte slot, 4-byte lengths, key, value) in a 4072-byte region with 40 bytes of
    // header and fences: 28 a leaf, every leaf but the last.
    assert_eq!(st.leaves as u64, n.div_ceil(28));
    assert!(st.leaf_fill() > 0.96, "leaf fill {}", st.leaf_fill());
    // Inner nodes hold ~200 children: few of them.
    assert!(st.inner_nodes * 100 < st.leaves, "{st:?}");
    for i in (0..n).step_by(97) {
        let v = tree.get(&(i * 7 + 3).to_be_bytes()).unwrap().unwrap();
        assert_eq!(u64::from_le_bytes(v[..8].try_into().unwrap()), i);
        assert_eq!(tree.get(&(i * 7 + 4).to_be_bytes()).unwrap(), None);
    }
}

#[test]
fn later_puts_deletes_splits_and_merges_work() {
    let n = 20_000u64;
    let (_dir, tree) = loaded_small(512, n);
    let before = tree.check().unwrap();
    // Inserts between loaded keys: every leaf is full, so these split.
    for i in (0..n).step_by(5) {
        tree.put(&(i * 7 + 5).to_be_bytes(), b"new").unwrap();
    }
    // Updates, and deletes of whole runs (merges).
    for i in (0..n).step_by(3) {
        tree.put(&(i * 7 + 3).to_be_bytes(), b"upd").unwrap();
    }
    for i in 2000..9000u64 {
        tree.delete(&(i * 7 + 3).to_be_bytes()).unwrap();
    }
    let st = tree.check().unwrap();
    assert!(
        st.leaves > before.leaves,
        "the inserts split leaves: {before:?} -> {st:?}"
    );
    assert_eq!(st.entries as u64, n + n / 5 - 7000);
    for i in 0..n {
        let got = tree.get(&(i * 7 + 3).to_be_bytes()).unwrap();
        match (i, got.as_deref()) {
            (2000..9000, None) => {}
            (_, Some(b"upd")) if i % 3 == 0 && !(2000..9000).contains(&i) => {}
            (_, Some(v)) if i % 3 != 0 && !(2000..9000).contains(&i) => {
                assert_eq!(u64::from_le_bytes(v[..8].try_into().unwrap()), i)
            }
            (_, other) => panic!("key {i}: {other:?}"),
        }
        if i % 5 == 0 {
            assert_eq!(
                tree.get(&(i * 7 + 5).to_be_bytes()).unwrap().as_deref(),
                Some(&b"new"[..])
            );
        }
    }
}

#[test]
fn durable_when_it_returns_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = sorted_pairs(3000);
    {
        let tree = common::open(dir.path(), 64);
        tree.bulk_load(pairs.iter().map(|(k, v)| (k, v))).unwrap();
        // Dropped without close or commit: a crash right after the call returned.
    }
    let tree = common::open(dir.path(), 64);
    assert_eq!(tree.check().unwrap().entries, 3000);
    for (k, v) in pairs.iter().step_by(7) {
        assert_eq!(tree.get(k).unwrap().as_deref(), Some(&v[..]));
    }
}

#[test]
fn a_pool_smaller_than_the_tree_loads_through_eviction() {
    let (_dir, tree) = loaded_small(32, 30_000);
    assert_eq!(tree.check().unwrap().entries, 30_000);
}

#[test]
fn out_of_order_input_is_refused_and_leaves_the_tree_empty() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    let mut pairs = small_pairs(5000);
    pairs.swap(4000, 4001);
    match tree.bulk_load(pairs.clone()) {
        Err(Error::Unsorted { index }) => assert_eq!(index, 4001),
        other => panic!("expected Unsorted, got {other:?}"),
    }
    // A duplicate is out of order too.
    let mut dup = small_pairs(100);
    dup[50] = dup[49];
    assert!(matches!(tree.bulk_load(dup), Err(Error::Unsorted { index: 50 })));
    let st = tree.check().unwrap();
    assert_eq!((st.entries, st.leaves), (0, 1));
    // The pages the failed loads took went back to the pool: a correct load after them reuses them, and the file
    // ends up as long as a fresh tree's with the same load.
    assert!(tree.pool().file_pages(tree.file()).unwrap() > 100);
    pairs.swap(4000, 4001);
    tree.bulk_load(pairs.clone()).unwrap();
    assert_eq!(tree.check().unwrap().entries, 5000);
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = common::open(fresh_dir.path(), 256);
    fresh.bulk_load(pairs).unwrap();
    assert_eq!(
        tree.pool().file_pages(tree.file()).unwrap(),
        fresh.pool().file_pages(fresh.file()).unwrap()
    );
}

#[test]
fn a_non_empty_tree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    tree.put(b"x", b"1").unwrap();
    assert!(matches!(tree.bulk_load(small_pairs(10)), Err(Error::NotEmpty)));
    // Emptied again: accepted.
    tree.delete(b"x").unwrap();
    assert_eq!(tree.bulk_load(small_pairs(10)).unwrap(), 10);
    assert!(matches!(tree.bulk_load(small_pairs(10)), Err(Error::NotEmpty)));
    assert_eq!(tree.check().unwrap().entries, 10);
}

#[test]
fn empty_input_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    assert_eq!(tree.bulk_load(Vec::<(Vec<u8>, Vec<u8>)>::new()).unwrap(), 0);
    let max_key = tree.limits().max_key;
    let long = vec![b'k'; max_key + 1];
    assert!(matches!(
        tree.bulk_load([(&b"a"[..], &b"1"[..]), (&long[..], &b"2"[..])]),
        Err(Error::KeyTooLong { .. })
    ));
    let big = vec![0u8; tree.limits().max_value + 1];
    assert!(matches!(
        tree.bulk_load([(&b"a"[..], &big[..])]),
        Err(Error::ValueTooLong { .. })
    ));
    // Largest keys and values: every node still fits.
    let v = vec![7u8; tree.limits().max_value];
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..500u32)
        .map(|i| {
            let mut k = vec![b'p'; max_key - 4];
            k.extend_from_slice(&i.to_be_bytes());
            (k, v.clone())
        })
        .collect();
    assert_eq!(tree.bulk_load(pairs.iter().map(|(k, v)| (k, v))).unwrap(), 500);
    assert_eq!(tree.check().unwrap().entries, 500);
}

/// Ascending `put`s append to the rightmost leaf, whose split keeps the old entries together: leaves end up
/// (nearly) full, as after a bulk load.
#[test]
fn ascending_puts_fill_leaves_over_90_percent() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 4096);
    for (k, v) in small_pairs(50_000) {
        tree.put(&k, &v).unwrap();
    }
    let st = tree.check().unwrap();
    assert!(
        st.leaf_fill() >= 0.9,
        "leaf fill after ascending puts: {}",
        st.leaf_fill()
    );
}

/// Keys of every length from empty to the limit over a two-letter alphabet (so many keys are prefixes of others
/// and separators are long), values of varying length: every node still fits, fences and separators hold.
#[test]
fn keys_that_are_prefixes_of_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    let max_key = tree.limits().max_key;
    let mut set = std::collections::BTreeMap::new();
    for id in 0..4000u64 {
        let r = common::mix(id);
        // Eight stems; keys of one stem differ only in length, so each is a prefix of the longer ones.
        let (stem, len) = (r % 8, ((r >> 8) % (max_key as u64 + 1)) as usize);
        let k: Vec<u8> = (0..len).map(|i| b'a' + ((stem >> (i % 3)) & 1) as u8).collect();
        set.insert(k, value(id, 3));
    }
    let keys: Vec<&Vec<u8>> = set.keys().collect();
    let prefixes = keys.windows(2).filter(|w| w[1].starts_with(w[0])).count();
    assert!(prefixes > 100, "the input exercises prefix keys: {prefixes}");
    let n = tree.bulk_load(set.iter()).unwrap();
    assert_eq!(n as usize, set.len());
    assert_eq!(tree.check().unwrap().entries, set.len());
    for (k, v) in &set {
        assert_eq!(tree.get(k).unwrap().as_deref(), Some(&v[..]));
    }
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = tree.range(..).map(|p| p.unwrap()).collect();
    assert!(scanned.iter().map(|(k, _)| k).eq(set.keys()));
}
