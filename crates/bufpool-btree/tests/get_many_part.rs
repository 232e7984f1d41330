//! `Tree::get_many_part`: a batched lookup that copies only a part of each value (a field of a row).
//!
//! - Against `get_many_hinted` on a quiet tree: the same keys found, the same hints, and each part the slice of
//!   the whole value with the range clamped to its length, for ranges inside, across and past the values' ends,
//!   empty and reversed ones included (never an error, never a panic).
//! - While another thread splits and merges the leaves: every part read is the part of a value the key held
//!   (values are one repeated byte, so a part mixed from two versions, or cut at a wrong length, shows).

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};

use bufpool_btree::LeafHint;

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// Key `i`'s value at version `ver`: `len_of(i, ver)` bytes, each `ver`.
fn value(i: u32, ver: u8) -> Vec<u8> {
    vec![ver; len_of(i, ver)]
}

fn len_of(i: u32, ver: u8) -> usize {
    (i as usize * 7 + ver as usize * 13) % 301
}

#[allow(clippy::reversed_empty_ranges)]
#[test]
fn parts_are_the_clamped_slices_of_the_values_with_the_same_hints() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    // Even keys present (lengths 0 to 300), odd keys absent.
    for i in (0..3000u32).step_by(2) {
        tree.put(&key(i), &value(i, 1)).unwrap();
    }
    let keys: Vec<[u8; 4]> = (0..3000u32).rev().step_by(3).map(key).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let mut whole = vec![None; refs.len()];
    tree.get_many_hinted(&refs, |i, v, h| whole[i] = Some((v.map(<[u8]>::to_vec), h)))
        .unwrap();
    let ranges = [
        0..4,
        2..10,
        0..0,
        7..7,
        10..3,
        0..usize::MAX,
        150..usize::MAX,
        299..400,
        usize::MAX..usize::MAX,
        usize::MAX..0,
    ];
    for part in ranges {
        let mut got: Vec<Option<(Option<Vec<u8>>, LeafHint)>> = vec![None; refs.len()];
        tree.get_many_part(&refs, part.clone(), |i, v, h| {
            assert!(got[i].is_none(), "key {i} twice");
            got[i] = Some((v.map(<[u8]>::to_vec), h));
        })
        .unwrap();
        for (i, (g, w)) in got.iter().zip(&whole).enumerate() {
            let (g, w) = (g.as_ref().unwrap(), w.as_ref().unwrap());
            let want = w.0.as_ref().map(|v| {
                let end = part.end.min(v.len());
                v[part.start.min(end)..end].to_vec()
            });
            assert_eq!(g.0, want, "key {:?}, part {part:?}", keys[i]);
            assert_eq!(g.1, w.1, "hint of key {:?}", keys[i]);
        }
    }
}

#[test]
fn parts_read_while_leaves_split_and_merge_are_parts_of_whole_values() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 512);
    const N: u32 = 4000;
    for i in 0..N {
        tree.put(&key(i), &value(i, 1)).unwrap();
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Rewrite every key with new lengths (leaves split and merge), version after version.
            let mut ver = 1u8;
            while !stop.load(Ordering::Relaxed) {
                ver = ver % 250 + 1;
                for i in (0..N).step_by(1 + ver as usize % 3) {
                    tree.put(&key(i), &value(i, ver)).unwrap();
                }
            }
        });
        let keys: Vec<[u8; 4]> = (0..N).step_by(7).map(key).collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        for round in 0..300usize {
            let (from, to) = (round % 40, round % 40 + 1 + round % 90);
            let mut seen = 0;
            tree.get_many_part(&refs, from..to, |j, v, _| {
                seen += 1;
                let i = u32::from_be_bytes(keys[j]);
                let v = v.unwrap_or_else(|| panic!("key {i} missing"));
                // Which version: its byte (a part that is empty says nothing but its length, checked below).
                if let Some(&ver) = v.first() {
                    assert!(v.iter().all(|&b| b == ver), "key {i}: a part of two versions {v:?}");
                    let len = len_of(i, ver);
                    assert_eq!(v.len(), to.min(len) - from.min(to.min(len)), "key {i} version {ver}");
                } else {
                    // Empty: the value of some version ends at or before `from`.
                    assert!((1..=250u8).any(|ver| len_of(i, ver) <= from), "key {i}: empty part");
                }
            })
            .unwrap();
            assert_eq!(seen, refs.len());
        }
        stop.store(true, Ordering::Relaxed);
    });
    tree.check().unwrap();
}
