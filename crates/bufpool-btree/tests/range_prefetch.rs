//! A range scan over a tree that is not in memory prefetches the next leaf while the caller consumes the current
//! one: the scan returns every key in order, and the pool's stats show the prefetches.

use bufpool_btree::{open_dir, Options};

#[test]
fn cold_range_scan_prefetches_next_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000u32;
    {
        let tree = open_dir(
            dir.path(),
            Options {
                frames: 4096,
                page_size: 4096,
            },
        )
        .unwrap();
        for i in 0..n {
            tree.put(&i.to_be_bytes(), &[7u8; 100]).unwrap();
        }
        tree.commit().unwrap();
        tree.close().unwrap();
    }
    let tree = open_dir(
        dir.path(),
        Options {
            frames: 64,
            page_size: 4096,
        },
    )
    .unwrap();
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
