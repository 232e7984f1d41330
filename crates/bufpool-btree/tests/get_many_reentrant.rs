//! `get_many_hinted` calls the caller's closure while its batch is between levels (session 10's `cpu15`: the
//! batch keeps its vectors in a thread-local, and probes the keys that share an inner node in one read). A
//! closure that changes the tree (puts that split leaves and inner nodes, deletes that merge and free them) and
//! runs a nested batch on the same thread must leave the outer batch answering every key exactly once, with its
//! value (the batch's keys are never changed), and the nested batch right too. What a user would see on a
//! failure: a wrong or missing value, a key answered twice, `CorruptNode` from a freed node the outer batch
//! still meant to probe, or a panic.

use crate::common;

use std::collections::BTreeMap;

use common::{key, value};

#[test]
fn a_batch_whose_callback_splits_merges_and_nests_answers_every_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 512);
    // Even ids: the batches' keys, never changed. Odd ids: the callback's.
    let mut odd: BTreeMap<u64, u64> = BTreeMap::new();
    for id in 0..3000u64 {
        tree.put(&key(id), &value(id, 0)).unwrap();
        if !id.is_multiple_of(2) {
            odd.insert(id, 0);
        }
    }
    assert!(tree.check().unwrap().depth >= 3);
    for round in 0..10u64 {
        // Unsorted, with repeats.
        let ids: Vec<u64> = (0..300u64)
            .map(|j| (common::mix(round * 1000 + j) % 1500) * 2)
            .collect();
        let keys: Vec<Vec<u8>> = ids.iter().map(|&id| key(id)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut seen = vec![0u32; ids.len()];
        let mut n = 0u64;
        tree.get_many_hinted(&refs, |i, v, _| {
            seen[i] += 1;
            assert_eq!(v, Some(&value(ids[i], 0)[..]), "round {round}: key id {}", ids[i]);
            n += 1;
            let r = common::mix(round << 32 | n);
            // Deletes that empty leaves (merges), inserts of new odd ids (splits), a nested batch.
            for d in 0..8 {
                let id = 2 * ((r >> (d * 4)) % 1500) + 1;
                if odd.remove(&id).is_some() {
                    assert!(tree.delete(&key(id)).unwrap());
                }
            }
            for p in 0..4 {
                let id = 2 * (3000 + (r >> (p * 7)) % 3000) + 1;
                tree.put(&key(id), &value(id, n)).unwrap();
                odd.insert(id, n);
            }
            if n.is_multiple_of(16) {
                let inner: Vec<u64> = (0..20).map(|j| (common::mix(r ^ j) % 1500) * 2).collect();
                let inner_keys: Vec<Vec<u8>> = inner.iter().map(|&id| key(id)).collect();
                let inner_refs: Vec<&[u8]> = inner_keys.iter().map(Vec::as_slice).collect();
                tree.get_many_hinted(&inner_refs, |j, w, _| {
                    assert_eq!(w, Some(&value(inner[j], 0)[..]), "nested batch, id {}", inner[j]);
                })
                .unwrap();
            }
        })
        .unwrap();
        assert!(
            seen.iter().all(|&c| c == 1),
            "round {round}: every key answered once: {seen:?}"
        );
    }
    tree.check().unwrap();
    for (&id, &ver) in &odd {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, ver)), "odd id {id}");
    }
}
