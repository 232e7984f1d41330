//! A table loaded in key order by `put`s leaves full inner nodes behind, as it leaves full leaves: the split of an
//! inner node by a separator past all its others keeps the old separators together (`node::split_inner`). What a
//! user saw before: inner nodes half full after an ordered load, and trees one level deeper than needed (TPC-C's
//! STOCK, CUSTOMER and ORDER-LINE at 4 warehouses had 4 levels under a root of 2 or 3 children), a node more for
//! every lookup.

use crate::common;

#[test]
fn ascending_puts_fill_inner_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 8192);
    // Four entries a leaf: 6,000 leaves, about 43 full inner nodes of 8-byte separators (an inner entry and its
    // child number take 12 bytes of slots and children: about 140 children a node), about 86 half-full ones.
    let n = 24_000u64;
    let key = |i: u64| (1u64 << 40 | i << 1).to_be_bytes();
    for i in 0..n {
        tree.put(&key(i), &[i as u8; 900]).unwrap();
    }
    let st = tree.check().unwrap();
    assert_eq!(st.entries, n as usize);
    assert!(st.leaves >= 5_900, "{st:?}");
    assert!(st.inner_nodes * 120 <= st.leaves, "inner nodes not full: {st:?}");
    assert_eq!(st.depth, 3, "{st:?}");
    // Every key still found, and a batch answers as `get` does.
    for i in (0..n).step_by(97) {
        assert_eq!(tree.get(&key(i)).unwrap(), Some(vec![i as u8; 900]));
    }
    // Random inserts into the full nodes afterwards split them as any full node splits.
    let mut added = std::collections::BTreeSet::new();
    for i in 0..4_000u64 {
        let k = (1u64 << 40 | (common::mix(i) % n) << 1 | 1).to_be_bytes();
        tree.put(&k, &[7; 900]).unwrap();
        added.insert(k);
    }
    let st = tree.check().unwrap();
    assert_eq!(st.entries, n as usize + added.len(), "{st:?}");
    for k in &added {
        assert_eq!(tree.get(k).unwrap(), Some(vec![7; 900]));
    }
}
