//! `Tree::bulk_load`: contents, shape (fences, levels, leaf chain: `Tree::check`), fill, durability, later
//! changes on a bulk-loaded tree, and the typed refusals (out-of-order input, a non-empty tree, long keys).
//! Also the fill that ascending `put`s leave (the rightmost-split rule).

use crate::common;

use bufpool_btree::Error;
use common::{key, value};

/// `n` pairs of the tests' long keys and varying values, in ascending key order.
fn sorted_pairs(n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|id| (key(id), value(id, 0))).collect();
    pairs.sort();
    pairs
}

/// Pairs of the bench's shape.
type SmallPairs = Vec<([u8; 8], [u8; 120])>;

/// The bench's shape: 8-byte big-endian keys, 120-byte values.
fn small_pairs(n: u64) -> SmallPairs {
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
    // The empty root leaf became the first leaf (rewritten in place): nothing freed.
    assert_eq!(st.free_pages, 0);
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
fn keys_not_above_the_tree_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    let pairs = small_pairs(10);
    tree.put(&pairs[5].0, b"1").unwrap();
    // The first key is below the tree's largest; then equal to it.
    assert!(matches!(tree.bulk_load(pairs.clone()), Err(Error::NotAbove)));
    assert!(matches!(tree.bulk_load(pairs[5..].to_vec()), Err(Error::NotAbove)));
    assert_eq!(tree.check().unwrap().entries, 1);
    // Emptied again: accepted whole; then again refused.
    tree.delete(&pairs[5].0).unwrap();
    assert_eq!(tree.bulk_load(pairs.clone()).unwrap(), 10);
    assert!(matches!(tree.bulk_load(pairs.clone()), Err(Error::NotAbove)));
    assert_eq!(tree.check().unwrap().entries, 10);
}

/// Append mode with bad input (session 18, fault18): a load into a non-empty tree whose input goes out of order,
/// or repeats a key, deep enough that the build has filled leaves and inner nodes and holds new images of the
/// tree's right edge, is refused (`Unsorted`, the index in the input) and changes nothing: the tree's entries,
/// its last leaf's bytes, and its file's pages all as before, across a reopen.
#[test]
fn bad_input_appended_to_a_tree_is_refused_and_changes_nothing() {
    let all = small_pairs(20_000);
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    assert_eq!(tree.bulk_load(all[..5_000].to_vec()).unwrap(), 5_000);
    tree.put(&all[5_000].0, &all[5_000].1).unwrap();
    tree.commit().unwrap();
    let before = tree.check().unwrap();
    let pages = tree.pool().file_pages(tree.file()).unwrap();
    let last: Vec<_> = tree.range(&all[4_900].0[..]..).map(|r| r.unwrap()).collect();
    let mut unsorted = all[5_001..].to_vec();
    unsorted.swap(9_000, 9_001);
    match tree.bulk_load(unsorted) {
        Err(Error::Unsorted { index }) => assert_eq!(index, 9_001),
        other => panic!("expected Unsorted, got {other:?}"),
    }
    let mut repeated = all[5_001..].to_vec();
    repeated[12_000] = repeated[11_999];
    assert!(matches!(
        tree.bulk_load(repeated),
        Err(Error::Unsorted { index: 12_000 })
    ));
    // The tree's own last key again, first: not above the tree.
    assert!(matches!(tree.bulk_load(all[5_000..].to_vec()), Err(Error::NotAbove)));
    let after = tree.check().unwrap();
    assert_eq!((after.entries, after.leaves), (before.entries, before.leaves));
    let again: Vec<_> = tree.range(&all[4_900].0[..]..).map(|r| r.unwrap()).collect();
    assert_eq!(again, last);
    drop(tree);
    let tree = common::open(dir.path(), 256);
    assert_eq!(tree.check().unwrap().entries, 5_001);
    assert_eq!(
        tree.range(&all[4_900].0[..]..).map(|r| r.unwrap()).collect::<Vec<_>>(),
        last
    );
    // The refused loads' pages went back: the good load reuses them.
    assert_eq!(tree.bulk_load(all[5_001..].to_vec()).unwrap(), 20_000 - 5_001);
    assert_eq!(tree.check().unwrap().entries, 20_000);
    assert!(tree.pool().file_pages(tree.file()).unwrap() >= pages);
}

/// Append mode: loads into a non-empty tree (from `put`s, and from an earlier bulk load) whose keys all lie below
/// the input's, at several tree shapes; the result holds both, in a well-formed tree, across a reopen.
#[test]
fn appends_to_a_non_empty_tree() {
    let all = small_pairs(60_000);
    for (before, appended) in [(1usize, 1usize), (3, 30_000), (5_000, 40), (20_000, 40_000)] {
        let dir = tempfile::tempdir().unwrap();
        let tree = common::open(dir.path(), 4096);
        // The first part by puts in random order (leaves partly full), unless it is large: by a bulk load.
        let first = &all[..before];
        if before < 10_000 {
            for i in (0..before).map(|i| (i * 7919) % before) {
                tree.put(&first[i].0, &first[i].1).unwrap();
            }
        } else {
            tree.bulk_load(first.iter().map(|(k, v)| (k, v))).unwrap();
        }
        let depth_before = tree.check().unwrap().depth;
        let rest = &all[before..before + appended];
        assert_eq!(
            tree.bulk_load(rest.iter().map(|(k, v)| (k, v))).unwrap(),
            appended as u64
        );
        let st = tree.check().unwrap();
        assert_eq!(st.entries, before + appended, "{before} + {appended}");
        assert!(st.depth >= depth_before);
        drop(tree);
        let tree = common::open(dir.path(), 4096);
        let scanned: Vec<(Vec<u8>, Vec<u8>)> = tree.range(..).map(|p| p.unwrap()).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = all[..before + appended]
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(scanned, want, "{before} + {appended}");
        // Later puts into the appended part and before it work as on any tree.
        tree.put(&all[before].0, b"new").unwrap();
        tree.put(&all[0].0, b"old").unwrap();
        assert_eq!(tree.get(&all[before].0).unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(tree.check().unwrap().entries, before + appended);
    }
}

/// `small_pairs(n)`, and a new tree (1024 frames) bulk-loaded with the first `loaded` of them.
fn first_of(n: u64, loaded: usize) -> (tempfile::TempDir, bufpool_btree::Tree, SmallPairs) {
    let all = small_pairs(n);
    let (dir, tree) = loaded_small(1024, 0);
    tree.bulk_load(all[..loaded].iter().map(|(k, v)| (k, v))).unwrap();
    (dir, tree, all)
}

/// Append mode after deletes at the tree's end (merges and redistributions along its right edge): keys above the
/// largest one left are accepted, the largest one itself is not.
#[test]
fn appends_after_deletes_at_the_end() {
    let (_dir, tree, all) = first_of(3000, 2000);
    let mut n = 2000;
    while n > 1950 {
        n -= 1;
        tree.delete(&all[n].0).unwrap();
    }
    let st = tree.check().unwrap();
    assert_eq!(st.entries, n);
    assert!(matches!(
        tree.bulk_load(all[n - 1..n + 1].iter().map(|(k, v)| (k, v))),
        Err(Error::NotAbove)
    ));
    assert_eq!(
        tree.bulk_load(all[n..].iter().map(|(k, v)| (k, v))).unwrap(),
        (3000 - n) as u64
    );
    assert_eq!(tree.check().unwrap().entries, 3000);
    let scanned: Vec<Vec<u8>> = tree.range(..).map(|p| p.unwrap().0).collect();
    assert_eq!(scanned, all.iter().map(|(k, _)| k.to_vec()).collect::<Vec<_>>());
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

/// Writes while a load builds (from inside its input iterator): one off the tree's right edge is kept beside the
/// loaded pairs; one into the last leaf makes the switch refuse, leaving the tree as before the load plus that
/// write.
#[test]
fn writes_during_an_append_are_kept_or_make_it_refuse() {
    let (_dir, tree, all) = first_of(4000, 1000);
    // Off the edge: an update of the first pair, in the first leaf (the tree has several).
    let off_edge = |i: usize| {
        if i == 100 {
            tree.put(&all[0].0, b"during").unwrap();
        }
    };
    let n = tree
        .bulk_load(all[1000..2000].iter().enumerate().map(|(i, (k, v))| {
            off_edge(i);
            (k, v)
        }))
        .unwrap();
    assert_eq!(n, 1000);
    assert_eq!(tree.get(&all[0].0).unwrap().as_deref(), Some(&b"during"[..]));
    assert_eq!(tree.check().unwrap().entries, 2000);
    // Into the last leaf: an update of the largest pair.
    let pages = tree.pool().file_pages(tree.file()).unwrap();
    let into_edge = |i: usize| {
        if i == 100 {
            tree.put(&all[1999].0, b"during").unwrap();
        }
    };
    let r = tree.bulk_load(all[2000..].iter().enumerate().map(|(i, (k, v))| {
        into_edge(i);
        (k, v)
    }));
    assert!(matches!(r, Err(Error::ChangedDuringLoad)), "{r:?}");
    let st = tree.check().unwrap();
    assert_eq!(st.entries, 2000);
    assert_eq!(tree.get(&all[1999].0).unwrap().as_deref(), Some(&b"during"[..]));
    assert_eq!(tree.get(&all[2000].0).unwrap(), None);
    // The refused load's pages went back to the pool: loading again reuses them.
    assert_eq!(tree.bulk_load(all[2000..].iter().map(|(k, v)| (k, v))).unwrap(), 2000);
    assert_eq!(tree.check().unwrap().entries, 4000);
    assert!(tree.pool().file_pages(tree.file()).unwrap() < pages + 120);
}
