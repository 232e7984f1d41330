//! A `LeafHint` of one tree, given to another, is ignored (R10B-O6 in RELIABILITY.md).
//!
//! The story: a hint names a leaf by page number, and a tree followed any hint it was given, checking only that
//! the page was a leaf covering the key. During a `bulk_load` the pages the load has built (past the file's old
//! end, not yet switched in) are such leaves. A covered change made with another tree's hint naming one of them
//! went into it: invisible until the switch, and gone when the load then failed, though the change had returned
//! `Ok`; and a hint naming a page the load had taken but not yet filled failed the put with `CorruptNode` (what
//! this test meets first without the fix). Here every page number another tree's hints name is tried, with keys
//! across the range being loaded, in the middle of a load that then fails: every covered put must succeed and be
//! in the tree afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Op, Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

#[test]
fn another_trees_hint_never_puts_a_change_into_a_page_a_failing_load_built() {
    let dir = tempfile::tempdir().unwrap();
    // Tree A: many leaves, so its hints name many page numbers.
    let a = {
        let wal = TreeWal::open(dir.path().join("a.wal")).unwrap();
        let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
        Tree::open(pool, wal, dir.path().join("a.db")).unwrap()
    };
    let a_keys: Vec<[u8; 4]> = (0..20_000u32).map(key).collect();
    for k in &a_keys {
        a.put(k, &[1u8; 100]).unwrap();
    }
    let mut hints: BTreeMap<u32, LeafHint> = BTreeMap::new();
    let refs: Vec<&[u8]> = a_keys.iter().map(|k| &k[..]).collect();
    a.get_many_hinted(&refs, |_, _, h| {
        if let Some(no) = h.page() {
            hints.entry(no).or_insert(h);
        }
    })
    .unwrap();
    assert!(hints.len() > 200, "tree A has only {} leaves", hints.len());

    // Tree B: small, under a log above (covered changes), loaded in append mode from key 100,000 on.
    let above = TreeWal::open(dir.path().join("above.wal")).unwrap();
    let b = {
        let wal = TreeWal::open(dir.path().join("b.wal")).unwrap();
        wal.flush_first(above.clone()).unwrap();
        let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
        Tree::open(pool, wal, dir.path().join("b.db")).unwrap()
    };
    for i in 0..10u32 {
        b.put(&key(2 * i), &[1u8; 100]).unwrap();
    }
    let mut put = BTreeMap::new();
    let mut during = |n: u32| {
        if n != 1500 {
            return;
        }
        // Odd keys across the part of the load built so far, each put with every hint of tree A.
        for m in (0..1500u32).step_by(25) {
            let k = key(100_001 + 2 * m);
            for h in hints.values() {
                let val = [3u8; 50];
                above
                    .append(&[Op::Put {
                        page: 0,
                        key: &k,
                        val: &val,
                    }])
                    .unwrap();
                let mut h = *h;
                b.put_covered(&k, &val, &mut h).unwrap();
                put.insert(k, val);
            }
        }
    };
    // Even keys in order, then one out of order: the load fails after the puts above.
    let input = (0..3000u32)
        .map(|n| {
            during(n);
            (key(100_000 + 2 * n), [2u8; 100])
        })
        .chain(std::iter::once((key(100_000), [2u8; 100])));
    assert!(b.bulk_load(input).is_err(), "an unsorted input must fail the load");
    assert!(!put.is_empty());
    for (k, v) in &put {
        assert_eq!(
            b.get(k).unwrap().as_deref(),
            Some(&v[..]),
            "covered put of {k:?} (acknowledged) is lost"
        );
    }
    b.check().unwrap();
}
