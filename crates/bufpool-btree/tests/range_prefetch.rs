//! A range scan over a tree that is not in memory keeps the next leaves prefetched while the caller consumes the current
//! one: the scan returns every key in order, and the pool's stats show the prefetches.

use bufpool_btree::{open_dir, Options};

#[test]
fn cold_range_scan_prefetches_next_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000u32;
    let tree = cold_tree(dir.path(), n, 64);
    let before = tree.pool().stats().prefetched;
    let mut expect = 0u32;
    for kv in tree.range(..) {
        let (k, v) = kv.unwrap();
        assert_eq!(k, expect.to_be_bytes());
        assert_eq!(v, [7u8; 100]);
        expect += 1;
    }
    assert_eq!(expect, n);
    let leaves = tree.check().unwrap();
    let prefetched = tree.pool().stats().prefetched - before;
    assert!(prefetched > 0, "the scan prefetched nothing ({leaves:?})");
}

/// Loads `n` keys (`u32` big-endian, 100-byte values) into a tree in `dir`, closes it, and reopens it with a cold
/// pool of `frames` frames.
fn cold_tree(dir: &std::path::Path, n: u32, frames: usize) -> bufpool_btree::Tree {
    let opts = |frames| Options {
        frames,
        page_size: 4096,
    };
    let tree = open_dir(dir, opts(4096)).unwrap();
    for i in 0..n {
        tree.put(&i.to_be_bytes(), &[7u8; 100]).unwrap();
    }
    tree.commit().unwrap();
    tree.close().unwrap();
    open_dir(dir, opts(frames)).unwrap()
}

#[test]
fn readahead_is_a_window_and_stops_at_the_range_end() {
    let n = 20_000u32;
    let dir = tempfile::tempdir().unwrap();
    let tree = cold_tree(dir.path(), n, 256);
    let stats = tree.check().unwrap();
    // A scan stopped after its first pair (a `take(1)` over an open range) asked for one more leaf at most.
    let before = tree.pool().stats().prefetched;
    assert_eq!(tree.range(..).next().unwrap().unwrap().0, 0u32.to_be_bytes());
    let started = tree.pool().stats().prefetched - before;
    assert!(started <= 1, "a one-pair scan prefetched {started} leaves");
    // Half way through a long scan, the prefetches run a full window ahead of the leaves read.
    let dir = tempfile::tempdir().unwrap();
    let tree = cold_tree(dir.path(), n, 256);
    let before = tree.pool().stats().prefetched;
    let half = (n / 2) as usize;
    assert_eq!(tree.range(..).take(half).count(), half);
    let started = (tree.pool().stats().prefetched - before) as usize;
    let read = half * stats.leaves / stats.entries;
    assert!(
        started >= read + bufpool_btree::RANGE_READAHEAD / 2,
        "{read} leaves into a scan, {started} were prefetched"
    );
    // A short range prefetches nothing past its end: 100 keys on leaves that hold 17 to 34 of them span at most 7
    // leaves (the first is read, not prefetched), well inside the 16-leaf window.
    let dir = tempfile::tempdir().unwrap();
    let tree = cold_tree(dir.path(), 20_000, 256);
    let before = tree.pool().stats().prefetched;
    let (lo, hi) = (10_000u32.to_be_bytes(), 10_100u32.to_be_bytes());
    let got: Vec<_> = tree.range(&lo[..]..&hi[..]).map(|kv| kv.unwrap().0).collect();
    assert_eq!(got.len(), 100);
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    let started = tree.pool().stats().prefetched - before;
    assert!(started <= 6, "a 100-key range prefetched {started} leaves");
}
