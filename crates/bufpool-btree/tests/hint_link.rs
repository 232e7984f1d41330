//! A read at a hinted leaf that lies wholly below the key follows that leaf's link once (session 48, nwo48; R47-O20
//! in BENCHMARKS.md): `Tree::get_at_hint` and `Tree::get_many_at_hints` answer from the next leaf, two page reads
//! (the hinted leaf, then its link's) instead of a wasted probe and a descent from the root. TPC-C's hinted reads
//! met such a leaf about once a transaction: a neighbourhood of keys that straddles two leaves, noted at the
//! first. A hinted leaf above the key, or one whose next leaf does not cover the key either (the key two leaves
//! on), is left to the descent; every answer is the model's, and every hint left names the covering leaf. (Stale
//! hints after splits, merges, frees and reuse, and these reads racing structure changes: `read_hint.rs` and
//! `hint_scan_concurrent.rs`, which meet this path too.)

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// A hint of the leaf covering `i`, from a descent.
fn hint_of(tree: &Tree, i: u32) -> LeafHint {
    let mut h = LeafHint::default();
    tree.get_hinted(&key(i), &mut h, |_| ()).unwrap();
    h
}

#[test]
fn a_read_at_the_leaf_before_its_key_answers_from_the_next_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap();
    // Page reads (all hits: the tree fits the pool) that `f` takes.
    let reads = |f: &mut dyn FnMut()| {
        let before = pool.stats().hits;
        f();
        pool.stats().hits - before
    };
    // Every other key, 100-byte values: about 40 leaves under the root.
    let span = 2_400u32;
    let mut model = BTreeMap::new();
    for i in (0..span).step_by(2) {
        let v = vec![(i % 251) as u8; 100];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    assert_eq!(tree.check().unwrap().depth, 2, "a descent reads the root and a leaf");
    // The leaves in key order, and each key's leaf (present keys and the absent ones between).
    let leaf_of: Vec<u32> = (0..span).map(|i| hint_of(&tree, i).page().unwrap()).collect();
    let mut leaves: Vec<u32> = leaf_of.clone();
    leaves.dedup();
    assert!(leaves.len() > 20, "{} leaves", leaves.len());
    let index = |no: u32| leaves.iter().position(|&l| l == no).unwrap();
    let first_key = |at: usize| leaf_of.iter().position(|&l| l == leaves[at]).unwrap() as u32;
    let hints: Vec<LeafHint> = (0..leaves.len()).map(|at| hint_of(&tree, first_key(at))).collect();
    for i in 0..span {
        let at = index(leaf_of[i as usize]);
        // The key's own leaf (one read), the one before it (two: its link followed), two before and the one after
        // (four: the hinted leaf, its link's, the root and the leaf; three: the hinted leaf, the root, the leaf).
        for (from, cost) in [(at, 1), (at.wrapping_sub(1), 2), (at.wrapping_sub(2), 4), (at + 1, 3)] {
            let Some(&given) = hints.get(from) else { continue };
            let mut h = given;
            let mut got = None;
            let n = reads(&mut || got = tree.get_at_hint(&key(i), &mut h, |v| v.map(<[u8]>::to_vec)).unwrap());
            assert_eq!(got.as_ref(), model.get(&i), "key {i} read at leaf {from} of its {at}");
            assert_eq!(h.page(), Some(leaf_of[i as usize]), "key {i}: the hint left");
            assert_eq!(n, cost, "key {i} read at leaf {from} of its {at}: page reads");
            // A batch of that one key at that hint, whole values and a part.
            for part in [0..usize::MAX, 3..7] {
                let k = key(i);
                let mut answered = 0;
                let n = reads(&mut || {
                    tree.get_many_at_hints(&[&k[..]], &[given], part.clone(), |_, v, h| {
                        let want = model
                            .get(&i)
                            .map(|v| v[part.start.min(v.len())..part.end.min(v.len())].to_vec());
                        assert_eq!(
                            v.map(<[u8]>::to_vec),
                            want,
                            "key {i} batched at leaf {from} of its {at}"
                        );
                        assert_eq!(h.page(), Some(leaf_of[i as usize]), "key {i} batched: the hint left");
                        answered += 1;
                    })
                    .unwrap()
                });
                assert_eq!(answered, 1);
                assert_eq!(n, cost, "key {i} batched at leaf {from} of its {at}: page reads");
            }
        }
    }
    // A hint of a leaf before a run of keys spread over several leaves, all in one batch: each key answered once,
    // with the covering leaf's hint.
    for (at, &hint) in hints.iter().enumerate().take(leaves.len() - 3) {
        let first = first_key(at);
        let keys: Vec<[u8; 4]> = (first..span.min(first + 120)).map(key).collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        let given = vec![hint; keys.len()];
        let mut seen = vec![false; keys.len()];
        tree.get_many_at_hints(&refs, &given, 0..usize::MAX, |j, v, h| {
            let i = first + j as u32;
            assert!(!seen[j], "key {i} answered twice");
            seen[j] = true;
            assert_eq!(v, model.get(&i).map(Vec::as_slice), "key {i} in a batch at leaf {at}");
            assert_eq!(h.page(), Some(leaf_of[i as usize]));
        })
        .unwrap();
        assert!(seen.iter().all(|&s| s));
    }
    // A hint of a leaf that then split: the keys that moved on are read from its link, the new leaf.
    let mid = first_key(leaves.len() / 2);
    let before = hints[leaves.len() / 2];
    for i in (mid..mid + 40).filter(|i| i % 2 == 1) {
        let v = vec![9u8; 150];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    let mut moved = 0;
    for i in mid..mid + 40 {
        let mut h = before;
        let mut got = None;
        let n = reads(&mut || got = tree.get_at_hint(&key(i), &mut h, |v| v.map(<[u8]>::to_vec)).unwrap());
        assert_eq!(got.as_ref(), model.get(&i), "key {i} after the split");
        assert_eq!(
            h.page(),
            hint_of(&tree, i).page(),
            "key {i} after the split: the hint left"
        );
        moved += usize::from(n == 2 && h.page() != before.page());
    }
    assert!(moved > 0, "no key of the split leaf was read from its link");
    tree.check().unwrap();
}
