//! `Tree::bulk_load` into a tree whose deletes could not merge their emptied leaves (R43-3 in RELIABILITY.md):
//! found by the whole-API model's spare tree (session 43), whose loads into a tree emptied by deletes under faults
//! were refused `NotAbove`. A merge after a delete is best effort (`Tree::delete`): in a pool too small for it
//! (three frames: the merge holds the meta page, the path and the sibling), every delete succeeds and every merge
//! fails, and the tree keeps its empty leaves and their fences. `bulk_load`'s docs: "`NotAbove` if the first
//! pair's key is not above every key of the tree"; "the tree may be empty".

use std::sync::Arc;

use bufpool::storage::MemoryStorage;
use bufpool_btree::{BufferPool, Tree, TreeWal};

fn pairs(from: u64, n: u64, len: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (from..from + n)
        .map(|i| (format!("k{i:08}").into_bytes(), vec![(i % 251) as u8; len]))
        .collect()
}

fn open(data: &Arc<MemoryStorage>, log: &Arc<MemoryStorage>, frames: usize) -> Tree {
    let pool = Arc::new(BufferPool::builder().frames(frames).build().unwrap());
    Tree::open_storage(pool, TreeWal::open_storage(log.clone()).unwrap(), data.clone()).unwrap()
}

/// Loads `kept` then `deleted` (two levels), deletes `deleted` in a pool of three frames (the merges fail), and
/// reopens the tree in a pool large enough for anything.
fn emptied_without_merges(kept: &[(Vec<u8>, Vec<u8>)], deleted: &[(Vec<u8>, Vec<u8>)]) -> (Tree, usize) {
    let (data, log) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let tree = open(&data, &log, 64);
    let all: Vec<&(Vec<u8>, Vec<u8>)> = kept.iter().chain(deleted).collect();
    tree.bulk_load(all.iter().map(|(k, v)| (k, v))).unwrap();
    assert_eq!(tree.check().unwrap().depth, 2);
    tree.close().unwrap();
    let tree = open(&data, &log, 3);
    for (k, _) in deleted.iter().rev() {
        assert!(tree.delete(k).unwrap());
    }
    tree.close().unwrap();
    let tree = open(&data, &log, 64);
    let st = tree.check().unwrap();
    assert_eq!(st.entries, kept.len());
    (tree, st.depth)
}

#[test]
fn a_tree_emptied_by_deletes_whose_merges_failed_takes_a_load_below_its_old_keys() {
    let (tree, depth) = emptied_without_merges(&[], &pairs(1000, 40, 300));
    assert_eq!(depth, 2, "the deletes' merges failed: two levels of empty nodes");
    let below = pairs(10, 11, 50);
    let r = tree.bulk_load(below.iter().map(|(k, v)| (k, v)));
    assert!(
        matches!(r, Ok(11)),
        "a bulk_load of 11 pairs into an empty tree (entries 0, depth {depth}) returned {r:?}"
    );
    let st = tree.check().unwrap();
    assert_eq!(st.entries, 11);
    let got: Vec<(Vec<u8>, Vec<u8>)> = tree.range(..).map(Result::unwrap).collect();
    assert_eq!(got, below);
}

#[test]
fn a_load_above_every_key_left_is_taken_though_an_emptied_leaf_above_it_has_a_higher_fence() {
    let kept = pairs(1000, 12, 300);
    let (tree, depth) = emptied_without_merges(&kept, &pairs(2000, 40, 300));
    assert!(depth >= 2);
    // Above every key the tree holds, below the emptied leaves' fences.
    let load = pairs(1500, 30, 50);
    let r = tree.bulk_load(load.iter().map(|(k, v)| (k, v)));
    assert!(
        matches!(r, Ok(30)),
        "a bulk_load whose first key is above every key of the tree ({} entries) returned {r:?}",
        kept.len()
    );
    assert_eq!(tree.check().unwrap().entries, 42);
    let got: Vec<(Vec<u8>, Vec<u8>)> = tree.range(..).map(Result::unwrap).collect();
    assert_eq!(got, kept.iter().chain(&load).cloned().collect::<Vec<_>>());
    // A load not above the largest key is still refused.
    let low = pairs(1010, 3, 50);
    assert!(matches!(
        tree.bulk_load(low.iter().map(|(k, v)| (k, v))),
        Err(bufpool_btree::Error::NotAbove)
    ));
}
