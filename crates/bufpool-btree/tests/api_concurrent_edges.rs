//! The public API under concurrency and panics (the review of round 10, R10B in RELIABILITY.md):
//!
//! - a scan (`range` and `scan`) while other threads split and merge the very leaves it walks: every key that
//!   stays in the tree for the whole scan is returned exactly once, in increasing order (`Tree::range`'s docs:
//!   at most once, in order; a key present throughout is reached, since the scan resumes at the high fence of
//!   the leaf it read last);
//! - `checkpoint` and `checkpoint_spread` running again and again on two threads beside puts, deletes and
//!   scans: nothing committed is lost, after a reopen too;
//! - the tree called again from inside a scan's callback (puts that split the leaf being scanned, a nested
//!   scan): no self-deadlock, and the keys present throughout are each seen once;
//! - a panic in a user closure the tree calls (`get_with`, `get_hinted`, `get_many_hinted`, `scan`, and since
//!   session 46 the hinted reads `get_at_hint`, `get_many_at_hints`, `get_many_part`, `scan_from`, `scan_hinted`
//!   with hints kept from before): no latch
//!   left held (another thread's put, a split, a checkpoint all still complete), nothing half-applied, and the
//!   panicking thread's later lookups and scans work.

use crate::common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use bufpool_btree::LeafHint;

/// Stable keys are even, churned keys odd: the churn splits and merges the leaves the stable keys live in.
fn k(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

#[test]
fn scans_see_every_stable_key_once_while_leaves_split_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    const N: u32 = 3000;
    for i in (0..N).step_by(2) {
        tree.put(&k(i), &[1u8; 40]).unwrap();
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Churn: fill the odd keys with big values (splits), then delete them all (merges), again and again.
        s.spawn(|| {
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for i in (1..N).step_by(2) {
                    tree.put(&k(i), &vec![round as u8; 300 + (i as usize % 400)]).unwrap();
                }
                for i in (1..N).step_by(2) {
                    tree.delete(&k(i)).unwrap();
                }
                round += 1;
            }
        });
        for pass in 0..30 {
            let mut stable = Vec::new();
            if pass % 2 == 0 {
                for p in tree.range::<std::ops::RangeFull>(..) {
                    stable.push(p.unwrap().0);
                }
            } else {
                tree.scan(.., |key, _| {
                    stable.push(key.to_vec());
                    true
                })
                .unwrap();
            }
            assert!(
                stable.windows(2).all(|w| w[0] < w[1]),
                "pass {pass}: not strictly increasing"
            );
            stable.retain(|key| key[3] % 2 == 0);
            let want: Vec<Vec<u8>> = (0..N).step_by(2).map(|i| k(i).to_vec()).collect();
            assert_eq!(stable.len(), want.len(), "pass {pass}: stable keys seen");
            assert_eq!(stable, want, "pass {pass}");
        }
        stop.store(true, Ordering::Relaxed);
    });
    tree.check().unwrap();
}

#[test]
fn checkpoints_beside_puts_deletes_and_scans_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = {
        let tree = common::open(dir.path(), 48);
        let stop = AtomicBool::new(false);
        let model = std::thread::scope(|s| {
            // Two checkpointers, one of them spread: their redo points and cuts interleave.
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    tree.checkpoint().unwrap();
                }
            });
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    tree.checkpoint_spread(std::time::Duration::from_millis(2)).unwrap();
                }
            });
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let mut last: Option<Vec<u8>> = None;
                    tree.scan(.., |key, _| {
                        assert!(last.as_deref().is_none_or(|l| l < key), "scan out of order");
                        last = Some(key.to_vec());
                        true
                    })
                    .unwrap();
                }
            });
            let mut model = BTreeMap::new();
            for step in 0..6000u64 {
                let id = common::mix(step) % 1500;
                if step % 5 == 4 {
                    tree.delete(&common::key(id)).unwrap();
                    model.remove(&id);
                } else {
                    tree.put(&common::key(id), &common::value(id, step)).unwrap();
                    model.insert(id, step);
                }
                if step % 500 == 0 {
                    tree.commit().unwrap();
                }
            }
            tree.commit().unwrap();
            stop.store(true, Ordering::Relaxed);
            model
        });
        assert_eq!(tree.check().unwrap().entries, model.len());
        model
        // Dropped unclosed: recovery from the last checkpoint's redo point.
    };
    let tree = common::open(dir.path(), 48);
    assert_eq!(tree.check().unwrap().entries, model.len());
    for (&id, &ver) in &model {
        assert_eq!(
            tree.get(&common::key(id)).unwrap(),
            Some(common::value(id, ver)),
            "id {id}"
        );
    }
}

#[test]
fn a_panic_in_a_callback_leaves_no_latch_and_no_half_change() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    for i in 0..2000u32 {
        tree.put(&k(i), &[3u8; 100]).unwrap();
    }
    let boom = |what: &str| -> ! { panic!("user callback panics in {what}") };
    let keys: Vec<[u8; 4]> = (0..64u32).map(|i| k(i * 31)).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|x| &x[..]).collect();
    // Hints as a caller keeps them (R46: the hinted reads of sessions 40 to 45 had no panicking closure drawn).
    let mut hint = LeafHint::default();
    tree.get_hinted(&k(900), &mut hint, |_| ()).unwrap();
    let hints: Vec<LeafHint> = (0..keys.len())
        .map(|i| if i % 2 == 0 { hint } else { LeafHint::default() })
        .collect();
    let calls: [&dyn Fn(); 10] = [
        &|| drop(tree.get_with(&k(5), |_| boom("get_with"))),
        &|| {
            let mut at = hint;
            drop(tree.get_at_hint(&k(901), &mut at, |_| boom("get_at_hint")))
        },
        &|| {
            drop(tree.get_many_at_hints(&refs, &hints, 0..usize::MAX, |i, _, _| {
                if i == 33 {
                    boom("get_many_at_hints")
                }
            }))
        },
        &|| {
            drop(tree.get_many_part(&refs, 2..10, |i, _, _| {
                if i == 20 {
                    boom("get_many_part")
                }
            }))
        },
        &|| {
            let mut from = hint;
            drop(tree.scan_from(&k(900)[..]..&k(1200)[..], &mut from, |key, _, _| {
                if key == k(1000) {
                    boom("scan_from")
                }
                true
            }))
        },
        &|| drop(tree.scan_hinted(.., |key, _, _| if key == k(1700) { boom("scan_hinted") } else { true })),
        &|| drop(tree.get_hinted(&k(6), &mut LeafHint::default(), |_| boom("get_hinted"))),
        &|| {
            drop(tree.get_many_hinted(&refs, |i, _, _| {
                if i == 40 {
                    boom("get_many_hinted")
                }
            }))
        },
        &|| drop(tree.scan(.., |key, _| if key == k(1500) { boom("scan") } else { true })),
        &|| {
            for p in tree.range(&k(100)[..]..) {
                if p.unwrap().0 == k(700) {
                    boom("range consumer")
                }
            }
        },
    ];
    for (n, call) in calls.iter().enumerate() {
        assert!(catch_unwind(AssertUnwindSafe(call)).is_err(), "call {n} did not panic");
        // Another thread changes every leaf (and splits some) and checkpoints: it would wait for ever on a latch
        // left held.
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..2000u32 {
                    tree.put(&k(i), &vec![n as u8; 100 + (i as usize % 50)]).unwrap();
                }
                tree.checkpoint().unwrap();
            });
        });
        // The panicking thread's own lookups and scans (whose thread buffers the panic took) work.
        assert_eq!(tree.get(&k(1999)).unwrap().map(|v| v.len()), Some(100 + 1999 % 50));
        let mut seen = 0;
        tree.scan(.., |_, v| {
            assert_eq!(v[0], n as u8);
            seen += 1;
            true
        })
        .unwrap();
        assert_eq!(seen, 2000);
        tree.check().unwrap();
    }
}

#[test]
fn the_tree_called_from_inside_a_scan_callback() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    for i in (0..2000u32).step_by(2) {
        tree.put(&k(i), &[1u8; 60]).unwrap();
    }
    let mut seen = Vec::new();
    tree.scan(.., |key, _| {
        let i = u32::from_be_bytes(key.try_into().unwrap());
        if i % 2 == 0 {
            seen.push(i);
            // Fill the gap after this key with big values: the leaf being scanned (and the next) split.
            tree.put(&k(i + 1), &[2u8; 500]).unwrap();
            if i % 100 == 0 {
                // A nested scan from the callback, and a delete that may merge.
                let mut inner = 0;
                tree.scan(&k(i)[..]..&k(i + 10)[..], |_, _| {
                    inner += 1;
                    true
                })
                .unwrap();
                assert!(inner >= 2, "nested scan from {i} saw {inner}");
                tree.delete(&k(i + 1)).unwrap();
            }
        }
        true
    })
    .unwrap();
    assert_eq!(seen, (0..2000).step_by(2).collect::<Vec<u32>>());
    let st = tree.check().unwrap();
    assert_eq!(st.entries, 2000 - 20);
}
