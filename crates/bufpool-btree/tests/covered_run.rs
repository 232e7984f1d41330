//! [`Tree::put_covered_run`]: a run of covered puts, those that one leaf covers applied under one latch of it.
//! What must hold: the tree ends as if each put were a [`Tree::put_covered`] in order, whatever the keys' order
//! (ascending, not, a key twice), the hints (fresh from a read of the key, stale after splits and merges, another
//! tree's, none; with the slots they name) and the
//! splits the run's own puts cause; each put's hint names the leaf that covers its key afterwards (or nothing);
//! a key or value over the limits anywhere in the run changes nothing; the run needs a log to depend on; and a
//! run into one leaf latches it once, not once a put. Crashes and faults in the middle of runs:
//! `sim_crash_covered.rs` and `covered_concurrent_crash.rs`, which make some of their transactions' puts as runs.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool_btree::{BufferPool, CoveredPut, Error, LeafHint, Op, Tree, TreeWal};
use common::mix;

fn pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(frames).build().unwrap())
}

/// A tree whose log depends on a log above, both in `dir` (named after `name`).
fn tree_below(dir: &std::path::Path, name: &str, pool: Arc<BufferPool>) -> (Arc<TreeWal>, Tree) {
    let above = TreeWal::open(dir.join(format!("{name}.above"))).unwrap();
    let wal = TreeWal::open(dir.join(format!("{name}.wal"))).unwrap();
    wal.flush_first(above.clone()).unwrap();
    (
        above.clone(),
        Tree::open(pool, wal, dir.join(format!("{name}.db"))).unwrap(),
    )
}

fn key(i: u64) -> Vec<u8> {
    let mut k = b"row".to_vec();
    k.extend_from_slice(&(i as u32).to_be_bytes());
    k
}

/// The run's record above, as the layer above appends it before the changes.
fn append(above: &TreeWal, puts: &[(Vec<u8>, Vec<u8>)]) {
    common::log_puts_above(above, puts);
}

/// A run of covered puts of `puts`, none with a hint.
fn run_of(puts: &[(Vec<u8>, Vec<u8>)]) -> Vec<CoveredPut<'_>> {
    puts.iter()
        .map(|(k, v)| CoveredPut {
            key: k,
            val: v,
            hint: LeafHint::default(),
        })
        .collect()
}

fn contents(tree: &Tree) -> BTreeMap<Vec<u8>, Vec<u8>> {
    tree.range::<std::ops::RangeFull>(..).map(|p| p.unwrap()).collect()
}

#[test]
fn a_run_ends_as_one_covered_put_after_another_whatever_its_order_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    let (above, tree) = tree_below(dir.path(), "t", pool(512));
    // Another tree's hints, which this tree must ignore.
    let (_other_above, other) = tree_below(dir.path(), "other", pool(64));
    let mut foreign = LeafHint::default();
    other.put_covered(b"x", b"y", &mut foreign).unwrap();
    let mut model = BTreeMap::new();
    let mut seen: Vec<LeafHint> = Vec::new();
    let (mut rng, mut splits) = (7u64, 0);
    for round in 0..400u64 {
        rng = mix(rng ^ round);
        let n = 1 + rng % 40;
        let start = (rng >> 8) % 3000;
        let mut puts: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .map(|j| {
                let r = mix(rng ^ (j << 32));
                // Mostly consecutive keys (one or two leaves), some anywhere; values of 1 to 300 bytes, so rows
                // grow, shrink, and leaves split in the middle of a run.
                let i = if r.is_multiple_of(5) {
                    (r >> 16) % 3000
                } else {
                    start + j
                };
                let len = 1 + (r >> 40) as usize % 300;
                (key(i), vec![(round % 251) as u8; len])
            })
            .collect();
        match round % 4 {
            0 => puts.sort(),
            // Not sorted: reversed, with the first key again at the end (a key put twice).
            1 => {
                puts.reverse();
                let again = (puts[0].0.clone(), vec![0xee; 9]);
                puts.push(again);
            }
            _ => {}
        }
        let mut run: Vec<CoveredPut<'_>> = puts
            .iter()
            .enumerate()
            .map(|(j, (k, v))| {
                let hint = match (rng >> (j % 48)) % 5 {
                    // A hint of some earlier put (stale after splits and merges, its slot too), another tree's, or
                    // none.
                    0 if !seen.is_empty() => seen[(mix(rng ^ j as u64) % seen.len() as u64) as usize],
                    1 => foreign,
                    // A read's hint, as a transaction's write of a row it read carries: the key's own slot, or the
                    // one before its place; stale for a key an earlier put of this run moves.
                    2 => {
                        let mut read = LeafHint::default();
                        tree.get_hinted(k, &mut read, |_| ()).unwrap();
                        read
                    }
                    _ => LeafHint::default(),
                };
                CoveredPut { key: k, val: v, hint }
            })
            .collect();
        append(&above, &puts);
        // A run only puts: no leaf merges during it, so new leaves are its splits.
        let leaves = tree.check().unwrap().leaves;
        tree.put_covered_run(&mut run).unwrap();
        splits += tree.check().unwrap().leaves - leaves;
        for (k, v) in &puts {
            model.insert(k.clone(), v.clone());
        }
        // Each hint names nothing or the leaf its put went to: after a run that split no leaf, the leaf that covers
        // the key now (the last put of a key put twice: an earlier one may have gone elsewhere).
        let split = tree.check().unwrap().leaves > leaves;
        for (j, p) in run.iter().enumerate() {
            if split || run[j + 1..].iter().any(|q| q.key == p.key) {
                seen.push(p.hint);
                continue;
            }
            if let Some(page) = p.hint.page() {
                let mut now = LeafHint::default();
                tree.get_hinted(p.key, &mut now, |_| ()).unwrap();
                assert_eq!(Some(page), now.page(), "round {round}: the hint of put {j}");
            }
            seen.push(p.hint);
        }
        // Deletes between runs: leaves merge, and hints kept in `seen` go stale.
        if round % 3 == 2 {
            for _ in 0..30 {
                rng = mix(rng);
                let k = key((rng >> 8) % 3000);
                if model.remove(&k).is_some() {
                    above.append(&[Op::Del { page: 0, key: &k }]).unwrap();
                    assert!(tree.delete_covered(&k, &mut LeafHint::default()).unwrap());
                }
            }
        }
        assert_eq!(contents(&tree), model, "round {round}");
    }
    assert!(splits > 10, "runs split leaves ({splits} new leaves)");
    tree.check().unwrap();
}

#[test]
fn a_run_into_one_leaf_latches_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (above, tree) = tree_below(dir.path(), "t", pool(256));
    // Two levels or more, so that a descent would show as more page accesses.
    let mut hint = LeafHint::default();
    for i in 0..20_000 {
        tree.put_covered(&key(i), &[1; 8], &mut hint).unwrap();
    }
    assert!(tree.check().unwrap().depth >= 2);
    let puts: Vec<(Vec<u8>, Vec<u8>)> = (5000..5040).map(|i| (key(i), vec![2; 8])).collect();
    let mut first = LeafHint::default();
    tree.get_hinted(&puts[0].0, &mut first, |_| ()).unwrap();
    let mut last = LeafHint::default();
    tree.get_hinted(&puts[39].0, &mut last, |_| ()).unwrap();
    // (The hints name one leaf, and in it each key's own slot.)
    assert_eq!(first.page(), last.page(), "the run's keys share a leaf");
    let mut run = run_of(&puts);
    run[0].hint = first;
    append(&above, &puts);
    let before = tree.pool().stats().hits;
    tree.put_covered_run(&mut run).unwrap();
    let accesses = tree.pool().stats().hits - before;
    assert_eq!(accesses, 1, "40 puts into one leaf, its hint given: one latch of it");
    assert!(run.iter().all(|p| p.hint.page() == first.page()));
    for (k, v) in &puts {
        assert_eq!(tree.get(k).unwrap().as_ref(), Some(v));
    }
    // The same puts one by one, each with the previous one's hint: a latch each.
    let before = tree.pool().stats().hits;
    let mut hint = first;
    for (k, _) in &puts {
        tree.put_covered(k, &[3; 8], &mut hint).unwrap();
    }
    assert_eq!(tree.pool().stats().hits - before, 40);
}

#[test]
fn a_run_with_a_key_or_value_over_the_limits_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (above, tree) = tree_below(dir.path(), "t", pool(64));
    let limits = tree.limits();
    let ok: Vec<(Vec<u8>, Vec<u8>)> = (0..10).map(|i| (key(i), vec![1; 20])).collect();
    append(&above, &ok);
    let long_key = vec![b'k'; limits.max_key + 1];
    let long_val = vec![0; limits.max_value + 1];
    for (bad, is_key) in [(&long_key, true), (&long_val, false)] {
        let mut run = run_of(&ok);
        let at = if is_key { 7 } else { 3 };
        if is_key {
            run[at].key = bad;
        } else {
            run[at].val = bad;
        }
        match tree.put_covered_run(&mut run) {
            Err(Error::KeyTooLong { .. }) if is_key => {}
            Err(Error::ValueTooLong { .. }) if !is_key => {}
            other => panic!("a run with an entry over the limits: {other:?}"),
        }
        assert!(contents(&tree).is_empty(), "nothing of a refused run is applied");
    }
    let mut run = run_of(&ok);
    tree.put_covered_run(&mut run).unwrap();
    assert_eq!(contents(&tree).len(), 10);
    tree.put_covered_run(&mut []).unwrap();
}

#[test]
fn a_run_needs_a_log_to_depend_on() {
    let dir = tempfile::tempdir().unwrap();
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool(64), wal, dir.path().join("t.db")).unwrap();
    let mut run = [CoveredPut {
        key: b"k",
        val: b"v",
        hint: LeafHint::default(),
    }];
    assert!(tree.put_covered_run(&mut run).is_err());
    assert_eq!(tree.get(b"k").unwrap(), None, "a refused run changes nothing");
}

/// Review27 (R27-O2): a run that meets a full pool part-way (every frame but `free` held by pages of another file,
/// so a split, which needs the meta page, the path and a new page, cannot be made) fails with `PoolExhausted`
/// and leaves, as documented, the puts before some point of the run applied and the rest not (whatever the
/// run's order: ascending or scrambled); the tree's invariants hold; the same run retried once the frames are
/// back ends as if it had never failed.
#[test]
fn a_run_that_meets_a_full_pool_leaves_a_prefix_and_its_retry_completes_it() {
    const FRAMES: usize = 24;
    let mut failures = 0;
    for (free, scrambled) in [(2, false), (3, false), (4, false), (2, true), (3, true), (4, true)] {
        let what = format!("{free} frames free, scrambled {scrambled}");
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(FRAMES);
        let (above, tree) = tree_below(dir.path(), "t", pool.clone());
        let base: Vec<(Vec<u8>, Vec<u8>)> = (0..300).map(|i| (key(i * 4), vec![1; 40])).collect();
        append(&above, &base);
        tree.put_covered_run(&mut run_of(&base)).unwrap();
        // Inserts between the rows and longer values of some of them: leaves split all along the run.
        let mut puts: Vec<(Vec<u8>, Vec<u8>)> = (0..1200)
            .filter(|i| i % 4 != 0 || i % 12 == 0)
            .map(|i| (key(i), vec![(i % 251) as u8; 60 + (i as usize % 7) * 20]))
            .collect();
        if scrambled {
            let n = puts.len() as u64;
            for i in 0..n {
                puts.swap(i as usize, (mix(i) % n) as usize);
            }
        }
        append(&above, &puts);
        let other = pool.open_storage(bufpool::storage::MemoryStorage::new()).unwrap();
        let pins: Vec<_> = (free..FRAMES).map(|_| pool.new_page(other).unwrap()).collect();
        let result = tree.put_covered_run(&mut run_of(&puts));
        drop(pins);
        let got = contents(&tree);
        tree.check().unwrap_or_else(|e| panic!("{what}: {e}"));
        // The applied part is a prefix of the run.
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = base.iter().cloned().collect();
        let mut prefix = None;
        for k in 0..=puts.len() {
            if model == got {
                prefix = Some(k);
                break;
            }
            if k < puts.len() {
                model.insert(puts[k].0.clone(), puts[k].1.clone());
            }
        }
        let prefix = prefix.unwrap_or_else(|| panic!("{what}: the tree holds no prefix of the run ({result:?})"));
        match result {
            Ok(()) => assert_eq!(prefix, puts.len(), "{what}"),
            Err(Error::Pool(bufpool::Error::PoolExhausted { .. })) => {
                failures += 1;
                assert!(prefix < puts.len(), "{what}: failed, all applied");
            }
            Err(e) => panic!("{what}: {e}"),
        }
        tree.put_covered_run(&mut run_of(&puts)).unwrap();
        let mut all: BTreeMap<Vec<u8>, Vec<u8>> = base.iter().cloned().collect();
        all.extend(puts.iter().cloned());
        assert!(contents(&tree) == all, "{what}: after the retry");
    }
    assert!(failures >= 3, "only {failures} runs met the full pool");
}
