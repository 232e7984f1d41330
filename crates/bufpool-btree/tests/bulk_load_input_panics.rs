//! A panic in the input of `Tree::bulk_load` (R10B-4 in RELIABILITY.md).
//!
//! The story: `bulk_load` calls user code while it builds: the input iterator's `next` and the pairs' `as_ref`.
//! A load that fails with an error gives the pages it built back to the pool (`BufferPool::free_page`), so the
//! next load reuses them. A panic there unwound past that step: every page the load had taken stayed allocated,
//! named by nothing, for as long as the file lives (they are past the tree's end, not on its free list, and the
//! pool's free list of page numbers is its own). Here an input that panics after a few thousand pairs is
//! caught, and then: no latch is left held (another thread's puts, splits and a checkpoint complete), the tree is
//! as before, and the same load done properly reuses the pages (the file grows by what it needs only).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::common;

fn pair(i: u32) -> ([u8; 4], [u8; 120]) {
    (i.to_be_bytes(), [i as u8; 120])
}

#[test]
fn a_panicking_input_leaves_no_latch_no_change_and_no_leaked_pages() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    for i in 0..500u32 {
        tree.put(&pair(i).0, &pair(i).1).unwrap();
    }
    tree.checkpoint().unwrap();
    let before = tree.check().unwrap();
    let pages_before = tree.pool().file_pages(tree.file()).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        tree.bulk_load((500..20_000u32).map(|i| {
            assert!(i < 15_000, "the input fails at pair {i}");
            pair(i)
        }))
    }));
    assert!(r.is_err(), "the input did not panic");
    // No latch left: another thread changes the tree (splitting leaves) and checkpoints.
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..500u32 {
                tree.put(&pair(i).0, &[7u8; 200]).unwrap();
            }
            tree.checkpoint().unwrap();
        });
    });
    assert_eq!(tree.check().unwrap().entries, before.entries);
    assert_eq!(tree.get(&pair(500).0).unwrap(), None);
    let pages_mid = tree.pool().file_pages(tree.file()).unwrap();
    // The same load, done: it reuses the pages the panicked one took.
    assert_eq!(tree.bulk_load((500..20_000u32).map(pair)).unwrap(), 19_500);
    let after = tree.check().unwrap();
    assert_eq!(after.entries, 20_000);
    let pages_after = tree.pool().file_pages(tree.file()).unwrap();
    let in_use = 1 + after.leaves + after.inner_nodes + after.free_pages;
    assert!(
        pages_after as usize <= in_use + 8,
        "{pages_after} pages in the file for {in_use} in use (before the loads {pages_before}, after the panic \
         {pages_mid}): the panicked load's pages leaked"
    );
}
