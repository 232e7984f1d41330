//! Scans combined the ways a user can combine them, after session 32's scan changes (`Tree::scan` takes its
//! buffers from a thread-local `ScanScratch`, a scan's second leaf comes from its own descent, `range_reusing`),
//! each result compared with a `BTreeMap` model (R33-O1 in RELIABILITY.md):
//! - two iterators open at once on one thread, advanced alternately: a merge join of two trees, and two ranges of
//!   one tree;
//! - a scan started inside another scan's body (three deep, on two trees), and an iterator advanced there;
//! - a panic inside a scan's body, caught: the thread's scans afterwards, and iterators dropped half way;
//! - an iterator made on one thread and advanced on another;
//! - all of it on one thread while others split and merge the leaves (puts and deletes of churn keys) and
//!   checkpoint: every stable key exactly once, in order, with its value.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::MemoryStorage;
use bufpool_btree::{BufferPool, Tree, TreeWal};

use crate::common::{key, mix, value};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn new_tree(pool: &Arc<BufferPool>) -> Tree {
    let wal = TreeWal::open_storage(MemoryStorage::new()).unwrap();
    Tree::open_storage(pool.clone(), wal, MemoryStorage::new()).unwrap()
}

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(256).build().unwrap())
}

/// A tree of the ids `0..n` that `keep` keeps, and its model.
fn filled(pool: &Arc<BufferPool>, n: u64, keep: impl Fn(u64) -> bool) -> (Tree, Model) {
    let tree = new_tree(pool);
    let mut model = Model::new();
    for id in (0..n).filter(|&id| keep(id)) {
        tree.put(&key(id), &value(id, 0)).unwrap();
        model.insert(key(id), value(id, 0));
    }
    (tree, model)
}

/// The model's pairs in `(lo, hi)`: nothing for a reversed range, as the tree (`BTreeMap::range` panics). Also
/// `scan_from_model.rs`' expectation.
pub(crate) fn model_range(model: &Model, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let above = |k: &[u8]| match lo {
        Bound::Included(l) => k >= l,
        Bound::Excluded(l) => k > l,
        Bound::Unbounded => true,
    };
    let below = |k: &[u8]| match hi {
        Bound::Included(h) => k <= h,
        Bound::Excluded(h) => k < h,
        Bound::Unbounded => true,
    };
    model
        .iter()
        .filter(|(k, _)| above(k) && below(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn scanned(tree: &Tree, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut got = Vec::new();
    tree.scan((lo, hi), |k, v| {
        got.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    got
}

/// The `i`-th of the model's keys (sorted), as a bound's key.
fn nth(model: &Model, i: usize) -> Vec<u8> {
    model.keys().nth(i % model.len()).unwrap().clone()
}

#[test]
fn two_iterators_advanced_alternately_match_the_model() {
    let pool = pool();
    let (a, ma) = filled(&pool, 3000, |id| id % 2 == 0);
    let (b, mb) = filled(&pool, 3000, |id| id % 3 == 0);
    // A merge join of the two trees: both iterators open, advanced by the smaller key.
    let (mut ia, mut ib) = (a.range::<std::ops::RangeFull>(..), b.range::<std::ops::RangeFull>(..));
    let (mut ka, mut kb) = (ia.next(), ib.next());
    let (mut joined, mut seen_a, mut seen_b) = (Vec::new(), Vec::new(), Vec::new());
    while let (Some(x), Some(y)) = (&ka, &kb) {
        let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => {
                seen_a.push(x.clone());
                ka = ia.next();
            }
            std::cmp::Ordering::Greater => {
                seen_b.push(y.clone());
                kb = ib.next();
            }
            std::cmp::Ordering::Equal => {
                joined.push(x.0.clone());
                seen_a.push(x.clone());
                seen_b.push(y.clone());
                ka = ia.next();
                kb = ib.next();
            }
        }
    }
    seen_a.extend(ka.into_iter().chain(ia).map(Result::unwrap));
    seen_b.extend(kb.into_iter().chain(ib).map(Result::unwrap));
    assert_eq!(seen_a, model_range(&ma, Bound::Unbounded, Bound::Unbounded));
    assert_eq!(seen_b, model_range(&mb, Bound::Unbounded, Bound::Unbounded));
    let both: Vec<Vec<u8>> = ma.keys().filter(|k| mb.contains_key(*k)).cloned().collect();
    assert_eq!(joined, both);
    // Two ranges of one tree, overlapping, advanced alternately (one step of the first, two of the second).
    for (i, j) in [(10usize, 400usize), (0, 1), (700, 650), (1400, 1490)] {
        let (lo1, lo2) = (nth(&ma, i), nth(&ma, j));
        let hi1 = nth(&ma, i + 300);
        let mut r1 = a.range::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Excluded(&lo1), Bound::Included(&hi1)));
        let mut r2 = a.range::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Included(&lo2), Bound::Unbounded));
        let (mut g1, mut g2) = (Vec::new(), Vec::new());
        loop {
            let x = r1.next();
            let y = r2.next();
            let z = r2.next();
            let done = x.is_none() && y.is_none() && z.is_none();
            g1.extend(x.map(Result::unwrap));
            g2.extend(y.into_iter().chain(z).map(Result::unwrap));
            if done {
                break;
            }
        }
        assert_eq!(
            g1,
            model_range(&ma, Bound::Excluded(&lo1), Bound::Included(&hi1)),
            "{i}"
        );
        assert_eq!(g2, model_range(&ma, Bound::Included(&lo2), Bound::Unbounded), "{j}");
    }
}

#[test]
fn scans_inside_scans_after_a_panic_and_iterators_dropped_half_way_match_the_model() {
    let pool = pool();
    let (a, ma) = filled(&pool, 2500, |id| id % 2 == 0);
    let (b, mb) = filled(&pool, 2500, |id| id % 5 != 0);
    let all = model_range(&ma, Bound::Unbounded, Bound::Unbounded);
    // Each 97th pair of A's scan starts a scan of B (bounded, from a key of B), inside which each 31st pair starts
    // a scan of A, and an iterator of B is advanced a few steps and dropped.
    let mut outer = Vec::new();
    a.scan::<std::ops::RangeFull>(.., |k, v| {
        outer.push((k.to_vec(), v.to_vec()));
        let n = outer.len();
        if n % 97 == 0 {
            let lo = nth(&mb, n * 7);
            let hi = nth(&mb, n * 7 + 200);
            let mut inner = Vec::new();
            b.scan::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Included(&lo), Bound::Excluded(&hi)), |k, v| {
                inner.push((k.to_vec(), v.to_vec()));
                if inner.len() % 31 == 0 {
                    let from = nth(&ma, inner.len() * 13 + n);
                    let deep = scanned(&a, Bound::Included(&from), Bound::Unbounded);
                    assert_eq!(deep, model_range(&ma, Bound::Included(&from), Bound::Unbounded));
                    let mut it = b.range::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Excluded(k), Bound::Unbounded));
                    let steps: Vec<_> = it.by_ref().take(5).map(Result::unwrap).collect();
                    assert_eq!(
                        steps,
                        model_range(&mb, Bound::Excluded(k), Bound::Unbounded)[..steps.len()]
                    );
                }
                true
            })
            .unwrap();
            let want = model_range(&mb, Bound::Included(&lo), Bound::Excluded(&hi));
            // A wrapped range (hi below lo) is reversed: nothing.
            assert_eq!(inner, want, "inner scan at outer pair {n}");
        }
        true
    })
    .unwrap();
    assert_eq!(outer, all);
    // A panic inside a scan's body, half way (and one inside a nested scan's): caught; the thread's later scans
    // (which take the thread's buffers again) see the whole tree.
    for stop in [0usize, 1, 150, 1249] {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut n = 0;
            a.scan::<std::ops::RangeFull>(.., |_, _| {
                n += 1;
                if n > stop {
                    if stop % 2 == 1 {
                        b.scan::<std::ops::RangeFull>(.., |_, _| panic!("a nested body that panics"))
                            .unwrap();
                    }
                    panic!("a body that panics");
                }
                true
            })
        }));
        assert!(caught.is_err());
        assert_eq!(
            scanned(&a, Bound::Unbounded, Bound::Unbounded),
            all,
            "after a panic at {stop}"
        );
        let from = nth(&mb, stop);
        assert_eq!(
            scanned(&b, Bound::Excluded(&from), Bound::Unbounded),
            model_range(&mb, Bound::Excluded(&from), Bound::Unbounded)
        );
    }
    // Iterators dropped half way (within the first leaf, at the second, far on), then new ones and scans.
    for stop in [1usize, 20, 60, 700] {
        let mut it = a.range::<std::ops::RangeFull>(..);
        let head: Vec<_> = it.by_ref().take(stop).map(Result::unwrap).collect();
        assert_eq!(head, all[..stop]);
        drop(it);
        let again: Vec<_> = a.range::<std::ops::RangeFull>(..).map(Result::unwrap).collect();
        assert_eq!(again, all);
        assert_eq!(scanned(&a, Bound::Unbounded, Bound::Unbounded), all);
    }
    // A scan stopped by its body at each of the first leaves' ends and past them, then a full one.
    for stop in [1usize, 2, 40, 41, 90, 1000] {
        let mut n = 0;
        a.scan::<std::ops::RangeFull>(.., |_, _| {
            n += 1;
            n < stop
        })
        .unwrap();
        assert_eq!(n, stop);
        assert_eq!(scanned(&a, Bound::Unbounded, Bound::Unbounded), all);
    }
}

#[test]
fn an_iterator_made_on_one_thread_is_advanced_on_another() {
    fn is_send<T: Send>(_: &T) {}
    let pool = pool();
    let (a, ma) = filled(&pool, 2000, |id| id % 3 != 1);
    let all = model_range(&ma, Bound::Unbounded, Bound::Unbounded);
    let mut it = a.range::<std::ops::RangeFull>(..);
    is_send(&it);
    let head: Vec<_> = it.by_ref().take(30).map(Result::unwrap).collect();
    let rest: Vec<_> = std::thread::scope(|s| s.spawn(move || it.map(Result::unwrap).collect()).join().unwrap());
    assert_eq!([head, rest].concat(), all);
}

/// One thread scans (alternating iterators, nested scans, stopped and panicking bodies) while two others put and
/// delete churn keys (leaves split and merge) and one checkpoints. Stable keys (every third id) never change:
/// each scan must return each in its range exactly once, with its value, and every key in increasing order.
#[test]
fn scans_of_every_kind_racing_splits_merges_and_checkpoints() {
    const KEYS: u64 = 3000;
    let rounds: u64 = std::env::var("BTREE_SCANS_INTERLEAVED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let pool = Arc::new(BufferPool::builder().frames(512).build().unwrap());
    let (tree, model) = filled(&pool, KEYS, |id| id % 3 == 0);
    let stable = model;
    let stop = AtomicBool::new(false);
    /// Stops the other threads when the scanning thread returns or fails.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    // The stable keys in `(lo, hi)` (as `got` must hold them, among churn keys) and the order of all of `got`.
    let check = |got: &[(Vec<u8>, Vec<u8>)], lo: Bound<&[u8]>, hi: Bound<&[u8]>, what: &str| {
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "{what}: keys out of order or twice"
        );
        let want = model_range(&stable, lo, hi);
        let have: Vec<_> = got.iter().filter(|(k, _)| stable.contains_key(k)).cloned().collect();
        assert_eq!(have.len(), want.len(), "{what}: stable keys missing or repeated");
        assert!(have == want, "{what}: a stable key's value changed");
    };
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (tree, stop) = (&tree, &stop);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(SeqCst) {
                    n += 1;
                    let id = mix(n * 2 + w) % KEYS;
                    if id.is_multiple_of(3) || id % 2 != w {
                        continue;
                    }
                    if mix(id ^ n).is_multiple_of(3) {
                        tree.delete(&key(id)).unwrap();
                    } else {
                        tree.put(&key(id), &value(id, n)).unwrap();
                    }
                    if n.is_multiple_of(64) {
                        tree.commit().unwrap();
                    }
                }
            });
        }
        {
            let (tree, stop) = (&tree, &stop);
            s.spawn(move || {
                while !stop.load(SeqCst) {
                    tree.checkpoint().unwrap();
                    std::thread::yield_now();
                }
            });
        }
        let _stop = StopOnDrop(&stop);
        for r in 0..rounds {
            let lo = nth(&stable, (mix(r) % 1000) as usize);
            let hi = nth(&stable, (mix(r) % 1000) as usize + 1 + (mix(r ^ 7) % 600) as usize);
            // Two iterators alternately: the whole tree, and (lo, hi].
            let mut whole = tree.range::<std::ops::RangeFull>(..);
            let mut part = tree.range::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Excluded(&lo), Bound::Included(&hi)));
            let (mut gw, mut gp) = (Vec::new(), Vec::new());
            loop {
                let x = whole.next();
                let y = part.next();
                let done = x.is_none() && y.is_none();
                gw.extend(x.map(Result::unwrap));
                gp.extend(y.map(Result::unwrap));
                if done {
                    break;
                }
            }
            check(&gw, Bound::Unbounded, Bound::Unbounded, "whole iterator");
            check(&gp, Bound::Excluded(&lo), Bound::Included(&hi), "part iterator");
            // A scan with a nested scan every 200 pairs, and a panic at a random point every fourth round.
            let panic_at = (r % 4 == 3).then(|| (mix(r ^ 99) % 900) as usize);
            let mut outer = Vec::new();
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tree.scan::<(Bound<&[u8]>, Bound<&[u8]>)>((Bound::Included(&lo), Bound::Unbounded), |k, v| {
                    outer.push((k.to_vec(), v.to_vec()));
                    if Some(outer.len()) == panic_at {
                        panic!("a body that panics");
                    }
                    if outer.len() % 200 == 0 {
                        let inner = scanned(&tree, Bound::Excluded(k), Bound::Included(&hi));
                        check(&inner, Bound::Excluded(k), Bound::Included(&hi), "nested scan");
                    }
                    true
                })
                .unwrap()
            }));
            match (ran, panic_at) {
                (Ok(()), _) => check(&outer, Bound::Included(&lo), Bound::Unbounded, "outer scan"),
                (Err(_), Some(_)) => {}
                (Err(e), None) => std::panic::resume_unwind(e),
            }
        }
    });
    let all = scanned(&tree, Bound::Unbounded, Bound::Unbounded);
    check(&all, Bound::Unbounded, Bound::Unbounded, "final scan");
}
