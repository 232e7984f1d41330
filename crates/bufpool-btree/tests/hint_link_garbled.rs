//! Session 49 (review49): a hinted read that follows a leaf's link (`Tree::probe_link`, session 48's nwo48) when the
//! link is wrong. The link is read from a leaf that passed its checks (a live leaf of this tree wholly below the
//! key), so a link garbled on the device fails the page's checksum first; what is left is a link wrong in a page
//! whose checksum matches (a writer's bug, or a page of a tree that was changed under it). Each garble is made
//! through the pool (the bytes of the page in memory, as such a bug would leave them): a page past the file's end,
//! the meta page, the leaf itself (a cycle), the leaf before it, the leaf two on (it lies wholly above the keys of
//! the next one), the root (an inner node), a page on the tree's free list (dead), and `NO_PAGE - 1`. For every key
//! of the next leaf, read at a hint of the garbled leaf: `get_at_hint`, `get_many_at_hints` (whole values and a
//! part) and `scan_from` must each answer as the model says (or with a typed error), never a wrong value, a panic
//! or a hang; `Tree::check` must report the garble, and nothing once it is undone.

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool::PageId;
use bufpool_btree::{BufferPool, Error, LeafHint, Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// The link's offset in a node's header (`node.rs`: kind, level, count, heap, link).
const OFF_LINK: usize = 8;

fn hint_of(tree: &Tree, i: u32) -> LeafHint {
    let mut h = LeafHint::default();
    tree.get_hinted(&key(i), &mut h, |_| ()).unwrap();
    h
}

/// Sets leaf `no`'s link to `link`; returns the link it had.
fn set_link(pool: &BufferPool, tree: &Tree, no: u32, link: u32) -> u32 {
    let mut g = pool.write(PageId::new(tree.file(), no)).unwrap();
    let old = u32::from_le_bytes(g[OFF_LINK..OFF_LINK + 4].try_into().unwrap());
    g[OFF_LINK..OFF_LINK + 4].copy_from_slice(&link.to_le_bytes());
    old
}

#[test]
fn a_wrong_link_in_a_hinted_leaf_never_answers_a_wrong_value() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(1024).build().unwrap());
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap();
    let mut model = BTreeMap::new();
    for i in (0..3_000u32).step_by(2) {
        let v = vec![(i % 251) as u8; 100];
        tree.put(&key(i), &v).unwrap();
        model.insert(i, v);
    }
    // A few merged leaves, so that the free list holds dead pages.
    for i in (1_000..1_400u32).step_by(2) {
        tree.delete(&key(i)).unwrap();
        model.remove(&i);
    }
    let stats = tree.check().unwrap();
    assert!(stats.free_pages > 0, "no dead page: {stats:?}");
    assert_eq!(stats.depth, 2);
    let leaf_of: Vec<u32> = (0..3_000u32).map(|i| hint_of(&tree, i).page().unwrap()).collect();
    let mut leaves = leaf_of.clone();
    leaves.dedup();
    assert!(leaves.len() > 10, "{} leaves", leaves.len());
    // A dead page: a page of the file that is neither a leaf nor the root nor the meta page.
    let root = {
        let mut r = None;
        for no in 1..pool.file_pages(tree.file()).unwrap() {
            if !leaves.contains(&no) {
                let g = pool.read(PageId::new(tree.file(), no)).unwrap();
                // Kind 2: an inner node (the root, at depth 2); else dead (kind 0).
                if g[0] == 2 {
                    r = Some(no);
                }
            }
        }
        r.unwrap()
    };
    let dead = (1..pool.file_pages(tree.file()).unwrap())
        .find(|no| !leaves.contains(no) && *no != root)
        .unwrap();
    let end = pool.file_pages(tree.file()).unwrap();
    let mut checked = 0;
    for at in [2, leaves.len() / 2, leaves.len() - 3] {
        let (before, leaf, next, two_on) = (leaves[at - 1], leaves[at], leaves[at + 1], leaves[at + 2]);
        let first = leaf_of.iter().position(|&l| l == leaf).unwrap() as u32;
        let given = hint_of(&tree, first);
        let next_keys: Vec<u32> = (0..3_000u32).filter(|&i| leaf_of[i as usize] == next).collect();
        for garble in [end + 100, 0, leaf, before, two_on, root, dead, u32::MAX - 1, end] {
            let what = format!("leaf {leaf} (next {next}) linked to {garble}");
            let old = set_link(&pool, &tree, leaf, garble);
            assert_eq!(old, next, "{what}");
            assert!(
                matches!(tree.check(), Err(Error::Invariant(_))),
                "{what}: check does not see the garble"
            );
            for &i in &next_keys {
                let mut h = given;
                let got = tree.get_at_hint(&key(i), &mut h, |v| v.map(<[u8]>::to_vec)).unwrap();
                assert_eq!(got.as_ref(), model.get(&i), "{what}: get_at_hint of key {i}");
                assert_eq!(h.page(), Some(next), "{what}: the hint left for key {i}");
                checked += 1;
            }
            let keys: Vec<[u8; 4]> = next_keys.iter().map(|&i| key(i)).collect();
            let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
            let hints = vec![given; refs.len()];
            for part in [0..usize::MAX, 3..9] {
                let mut got = vec![None; refs.len()];
                tree.get_many_at_hints(&refs, &hints, part.clone(), |j, v, _| {
                    assert!(got[j].is_none(), "{what}: key {j} of the batch answered twice");
                    got[j] = Some(v.map(<[u8]>::to_vec));
                })
                .unwrap();
                for (j, &i) in next_keys.iter().enumerate() {
                    let want = model
                        .get(&i)
                        .map(|v| v[part.start.min(v.len())..part.end.min(v.len())].to_vec());
                    assert_eq!(
                        got[j],
                        Some(want),
                        "{what}: get_many_at_hints of key {i} (part {part:?})"
                    );
                }
            }
            // A scan from the garbled leaf's hint over the next leaf's keys and a little past them.
            let (lo, hi) = (key(next_keys[0]), key(next_keys[next_keys.len() - 1] + 4));
            let mut rows = Vec::new();
            let mut h = given;
            tree.scan_from(&lo[..]..&hi[..], &mut h, |k, v, _| {
                rows.push((u32::from_be_bytes(k.try_into().unwrap()), v.to_vec()));
                true
            })
            .unwrap();
            let want: Vec<(u32, Vec<u8>)> = model
                .range(next_keys[0]..next_keys[next_keys.len() - 1] + 4)
                .map(|(&k, v)| (k, v.clone()))
                .collect();
            assert_eq!(rows, want, "{what}: scan_from");
            set_link(&pool, &tree, leaf, old);
            tree.check()
                .unwrap_or_else(|e| panic!("{what}: check after the link was put back: {e}"));
        }
    }
    assert!(checked > 100, "{checked} reads");
}
