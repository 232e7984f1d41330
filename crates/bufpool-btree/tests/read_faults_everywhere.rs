//! A read error at every read a tree makes (the review of round 10, R10B in RELIABILITY.md).
//!
//! The crash simulation (`sim_crash.rs`) draws faults at random; this test walks them one by one. The data file is
//! a `FaultyStorage` under a pool of a few frames (so descents, splits, merges, scans and bulk loads all read
//! from it), and for each `n` the `n`-th read from now fails with EIO, once, in the middle of a fixed batch of
//! operations: puts that split leaves and inner nodes, deletes that merge them, lookups, a scan, an appending
//! bulk load. What must hold for every `n`: the failing operation returns a typed error (no panic, no hang);
//! every operation that returned `Ok` is in the tree and none that failed left a trace (a failed `delete` may
//! only have skipped its optional merge); `Tree::check` holds; and so after a reopen (recovery) from the log.

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, MemoryStorage, Op};
use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

const FRAMES: usize = 10;

fn key(i: u32) -> Vec<u8> {
    // Long keys: separators stay long, inner nodes split after a few hundred keys.
    let mut k = vec![b'p'; 90];
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn val(i: u32, ver: u32) -> Vec<u8> {
    vec![(i ^ ver) as u8; 60 + (i as usize * 13 + ver as usize) % 200]
}

/// The batch: each op and its effect on the model if it returned `Ok`.
fn batch(tree: &Tree, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, errors: &mut Vec<String>) {
    let mut note = |what: String, e: Error| {
        assert!(
            !matches!(e, Error::Invariant(_) | Error::CorruptNode { .. }),
            "{what}: a read error reported as {e}"
        );
        errors.push(format!("{what}: {e}"));
    };
    for i in 0..400u32 {
        let id = (i * 7919) % 600;
        match tree.put(&key(id), &val(id, i)) {
            Ok(()) => drop(model.insert(key(id), val(id, i))),
            Err(e) => note(format!("put {id}"), e),
        }
    }
    for id in (0..600u32).filter(|id| id % 3 != 0) {
        match tree.delete(&key(id)) {
            Ok(found) => assert_eq!(found, model.remove(&key(id)).is_some(), "delete {id}"),
            Err(e) => note(format!("delete {id}"), e),
        }
    }
    for id in (0..600u32).step_by(11) {
        match tree.get(&key(id)) {
            Ok(v) => assert_eq!(v.as_ref(), model.get(&key(id)), "get {id}"),
            Err(e) => note(format!("get {id}"), e),
        }
    }
    let mut scanned = Vec::new();
    match tree.scan(.., |k, v| {
        scanned.push((k.to_vec(), v.to_vec()));
        true
    }) {
        // A scan reads each leaf at the moment it reaches it; here nothing runs beside it.
        Ok(()) => assert_eq!(
            scanned,
            model.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()
        ),
        Err(e) => note("scan".into(), e),
    }
    let top = model
        .keys()
        .next_back()
        .map_or(0, |k| u32::from_be_bytes(k[90..].try_into().unwrap()) + 1);
    let start = top.max(600);
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (start..start + 300).map(|i| (key(i), val(i, 0))).collect();
    match tree.bulk_load(pairs.iter().map(|(k, v)| (k, v))) {
        Ok(n) => {
            assert_eq!(n, 300);
            model.extend(pairs);
        }
        Err(e) => note("bulk_load".into(), e),
    }
}

fn assert_model(tree: &Tree, model: &BTreeMap<Vec<u8>, Vec<u8>>, n: u64) {
    let st = tree.check().unwrap_or_else(|e| panic!("n = {n}: {e}"));
    assert_eq!(st.entries, model.len(), "n = {n}");
    let got: BTreeMap<Vec<u8>, Vec<u8>> = tree.range::<std::ops::RangeFull>(..).map(Result::unwrap).collect();
    assert!(
        got == *model,
        "n = {n}: contents differ from the acknowledged operations"
    );
}

/// Builds the tree, runs the batch with the `n`-th of its reads failing (none for `None`), checks the tree and
/// its recovery; returns the batch's reads and the operations that failed.
fn run(n: Option<u64>) -> (u64, usize) {
    let data = Arc::new(FaultyStorage::new(n.unwrap_or(0), FaultConfig::none()));
    let log = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(FRAMES).build().unwrap());
    let tree = Tree::open_storage(pool, wal, data.clone()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..300u32 {
        tree.put(&key(i * 2), &val(i * 2, 0)).unwrap();
        model.insert(key(i * 2), val(i * 2, 0));
    }
    tree.commit().unwrap();
    let before = data.counts().reads;
    if let Some(n) = n {
        data.inject_nth(Op::Read, before + n, Fault::Eio);
    }
    let mut errors = Vec::new();
    batch(&tree, &mut model, &mut errors);
    let reads = data.counts().reads - before;
    // A failed operation changes what the rest of the batch reads: with fewer reads than `n` the fault has not
    // fired, and must not fire in the checks below.
    data.clear_triggers();
    let n = n.unwrap_or(0);
    assert!(errors.len() <= 1, "n = {n}: one transient EIO failed {errors:?}");
    assert_model(&tree, &model, n);
    // Recovery from the log (the tree dropped unclosed, the data file as it is now) gives the same tree.
    tree.commit().unwrap();
    drop(tree);
    let wal = TreeWal::open_storage(log).unwrap();
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let image = FaultyStorage::from_image(0, FaultConfig::none(), data.live_image());
    let tree = Tree::open_storage(pool, wal, image).unwrap();
    assert_model(&tree, &model, n);
    (reads, errors.len())
}

#[test]
fn an_eio_at_any_read_fails_one_operation_and_loses_nothing() {
    let (reads, errors) = run(None);
    assert_eq!(errors, 0);
    assert!(
        reads > 300,
        "the batch read only {reads} times: the pool is not small enough"
    );
    // Every read position early on (descents, splits), then a sample of the later ones (about 150 runs).
    let mut failed_ops = 0;
    let mut runs = 0;
    let mut n = 1;
    while n <= reads {
        failed_ops += run(Some(n)).1;
        runs += 1;
        n += if n < 60 { 1 } else { reads / 90 + 1 };
    }
    eprintln!("{runs} runs over {reads} reads: {failed_ops} operations failed");
    // A read of a page a later operation reads anyway may fail only a prefetch (a hint), which fails nothing.
    assert!(
        failed_ops > runs / 2,
        "only {failed_ops} of {runs} faults failed an operation"
    );
}
