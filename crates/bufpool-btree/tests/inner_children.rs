//! Inner nodes' children arrays (`node.rs`, "Child numbers"): every inner split, merge, insert and removal keeps
//! each node's array equal to its entries' child numbers, which `Tree::check` tests after every step of a churn
//! of long keys (many inner splits on the way up, many inner merges on the way down); and a tree of the format
//! before the arrays is refused at open, before its log is replayed.
//!
//! CI runs two random cases (four before session 37) besides the saved regressions of
//! `inner_children.proptest-regressions`; every case makes the whole climb and descent the asserts ask for (depth
//! three, eight inner nodes and more, merged back to one), so more cases are more seeds of the same walk. More:
//! `PROPTEST_CASES=64 cargo test -p bufpool-btree --release --test integration -- inner_children::`.

use crate::common;

use std::collections::BTreeMap;

use bufpool::{BufferPool, PageId};
use bufpool_btree::{open_dir, Error, Options, Tree};
use proptest::prelude::*;

/// The tree's invariants (children arrays included) and its size, panicking with the step on a failure.
fn check(tree: &Tree, step: usize) -> bufpool_btree::TreeStats {
    tree.check().unwrap_or_else(|e| panic!("step {step}: {e}"))
}

/// Grows a tree of long keys and long values (separators of 60 to 116 bytes: inner nodes of a few dozen
/// children over leaves of a few pairs, so three or four levels and many inner splits) to `grow` puts, then
/// deletes every key, with a put among every ten deletes; `Tree::check` after each step, and each step's key read
/// back through the descent the probe takes.
fn churn(seed: u64, grow: usize) {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 512);
    let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut x = seed | 1;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let (mut max_inner, mut step) = (0, 0);
    let put = |tree: &Tree, model: &mut BTreeMap<u64, Vec<u8>>, id: u64, step: usize| {
        // Values of 600 to 1,000 bytes: a few pairs a leaf, so a thousand keys make hundreds of leaves.
        let v = vec![common::mix(id ^ step as u64) as u8; 600 + (common::mix(id ^ 0x5eed) % 400) as usize];
        tree.put(&common::key(id), &v).unwrap();
        model.insert(id, v);
    };
    // The tree checked, its entries counted as the model's, and key `id` found (or not) as the model says.
    let agrees = |tree: &Tree, model: &BTreeMap<u64, Vec<u8>>, id: u64, step: usize| {
        let stats = check(tree, step);
        assert_eq!(stats.entries, model.len(), "step {step}");
        assert_eq!(
            tree.get(&common::key(id)).unwrap().as_ref(),
            model.get(&id),
            "step {step}"
        );
        stats
    };
    for _ in 0..grow {
        let id = rnd(4 * grow as u64);
        put(&tree, &mut model, id, step);
        let stats = agrees(&tree, &model, id, step);
        max_inner = max_inner.max(stats.inner_nodes);
        step += 1;
    }
    let peak = check(&tree, step);
    assert!(peak.depth >= 3, "too shallow to split inner nodes: {peak:?}");
    while !model.is_empty() {
        let id = *model.keys().nth(rnd(model.len() as u64) as usize).unwrap();
        assert!(tree.delete(&common::key(id)).unwrap(), "step {step}");
        model.remove(&id);
        if rnd(10) == 0 {
            put(&tree, &mut model, rnd(4 * grow as u64), step);
        }
        agrees(&tree, &model, id, step);
        if let Some((&near, v)) = model.range(id..).next() {
            assert_eq!(tree.get(&common::key(near)).unwrap().as_ref(), Some(v), "step {step}");
        }
        step += 1;
    }
    let empty = check(&tree, step);
    assert_eq!(empty.entries, 0);
    assert!(max_inner >= 8, "too few inner nodes to split and merge: {max_inner}");
    assert!(
        empty.inner_nodes <= 1,
        "inner nodes did not merge away: {} of {max_inner}",
        empty.inner_nodes
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2))]

    #[test]
    fn inner_splits_and_merges_keep_every_children_array_right(seed in any::<u64>(), grow in 600usize..1400) {
        churn(seed, grow);
    }
}

/// Bytes 8..12 of the meta page (page 0): the tree's format.
const FORMAT_AT: usize = 8;

/// Sets the format field of the tree in `dir` (closed) to `format`, through a pool of its own.
fn set_format(dir: &std::path::Path, format: u32) {
    let pool = BufferPool::builder().frames(16).page_size(4096).build().unwrap();
    let file = pool.open_file(dir.join("tree.db")).unwrap();
    {
        let mut meta = pool.write(PageId::new(file, 0)).unwrap();
        meta[FORMAT_AT..FORMAT_AT + 4].copy_from_slice(&format.to_le_bytes());
    }
    pool.flush_file(file).unwrap();
    pool.close_file(file).unwrap();
}

/// A tree whose meta page says format 3 (inner nodes without children arrays) is refused with a typed error
/// naming the format, before replay touches it: set back to format 4, it opens with every pair, the log that
/// the refused open saw (uncommitted to the file) replayed then.
#[test]
fn a_tree_of_the_format_before_children_arrays_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        frames: 64,
        page_size: 4096,
    };
    {
        let tree = open_dir(dir.path(), opts).unwrap();
        for id in 0..600u64 {
            tree.put(&common::key(id), &common::value(id, 0)).unwrap();
        }
        tree.close().unwrap();
    }
    {
        let tree = open_dir(dir.path(), opts).unwrap();
        for id in 600..900u64 {
            tree.put(&common::key(id), &common::value(id, 0)).unwrap();
        }
        tree.commit().unwrap(); // dropped unclosed: the log holds what the file lacks
    }
    set_format(dir.path(), 3);
    match open_dir(dir.path(), opts) {
        Err(Error::BadMeta(m)) => assert!(m.contains("format 3"), "{m}"),
        r => panic!("a format-3 tree opened: {:?}", r.map(|_| ())),
    }
    set_format(dir.path(), 4);
    let tree = open_dir(dir.path(), opts).unwrap();
    let stats = tree.check().unwrap();
    assert_eq!(stats.entries, 900);
    assert!(stats.inner_nodes > 0);
}
