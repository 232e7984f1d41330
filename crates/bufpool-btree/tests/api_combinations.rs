//! Session 35's review of the tree's public API in combination (review35 in RELIABILITY.md): a bulk load whose
//! input calls back into the tree, the largest keys and values at every page size, a tree whose file the pool
//! closed under it, and a scan of one tree left alive while another tree of its pool is closed and reopened.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bufpool::storage::MemoryStorage;
use bufpool_btree::{BufferPool, Error, Tree, TreeWal};

use crate::common::panicky::Panicky;

fn k(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn open(pool: &Arc<BufferPool>, dir: &std::path::Path, name: &str) -> Tree {
    let wal = TreeWal::open(dir.join(format!("{name}.wal"))).unwrap();
    Tree::open(pool.clone(), wal, dir.join(format!("{name}.db"))).unwrap()
}

fn contents(tree: &Tree) -> BTreeMap<Vec<u8>, Vec<u8>> {
    tree.range::<std::ops::RangeFull>(..).map(|r| r.unwrap()).collect()
}

/// A bulk load's input that calls into the tree while the load builds: a put off the right edge (kept, the load
/// goes on), a checkpoint (which writes the load's unswitched pages, unlogged), then a put into the last leaf
/// (the load refuses `ChangedDuringLoad`, keeping the put) or a nested bulk load (the same). Afterwards the tree
/// holds exactly the puts and whatever loads succeeded, and so does its recovery from the log.
#[test]
fn a_bulk_load_whose_input_calls_into_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
    let tree = open(&pool, dir.path(), "t");
    let mut model = BTreeMap::new();
    for i in 0..1000u32 {
        tree.put(&k(i), &[1u8; 100]).unwrap();
        model.insert(k(i).to_vec(), vec![1u8; 100]);
    }
    // 1: off the edge and a checkpoint: the load succeeds.
    let n = tree
        .bulk_load((1000..4000u32).map(|i| {
            if i == 2000 {
                tree.put(&k(10), &[2u8; 50]).unwrap();
                tree.checkpoint().unwrap();
            }
            (k(i), [3u8; 100])
        }))
        .unwrap();
    assert_eq!(n, 3000);
    model.insert(k(10).to_vec(), vec![2u8; 50]);
    for i in 1000..4000u32 {
        model.insert(k(i).to_vec(), vec![3u8; 100]);
    }
    assert_eq!(contents(&tree), model);
    tree.check().unwrap();
    // 2: a put into the last leaf meanwhile: refused, the put kept.
    let r = tree.bulk_load((5000..8000u32).map(|i| {
        if i == 6000 {
            tree.put(&k(3999), &[4u8; 10]).unwrap();
        }
        (k(i), [5u8; 100])
    }));
    assert!(matches!(r, Err(Error::ChangedDuringLoad)), "{r:?}");
    model.insert(k(3999).to_vec(), vec![4u8; 10]);
    assert_eq!(contents(&tree), model);
    tree.check().unwrap();
    // 3: a nested bulk load above everything: it succeeds, the outer one is refused.
    let r = tree.bulk_load((5000..8000u32).map(|i| {
        if i == 6000 {
            assert_eq!(tree.bulk_load((9000..9100u32).map(|j| (k(j), [6u8; 7]))).unwrap(), 100);
        }
        (k(i), [5u8; 100])
    }));
    assert!(matches!(r, Err(Error::ChangedDuringLoad)), "{r:?}");
    for j in 9000..9100u32 {
        model.insert(k(j).to_vec(), vec![6u8; 7]);
    }
    assert_eq!(contents(&tree), model);
    tree.check().unwrap();
    // 4: a delete that empties the last leaves (merges reach the edge) from the input: refused.
    let r = tree.bulk_load((10_000..12_000u32).map(|i| {
        if i == 11_000 {
            for j in 9000..9100u32 {
                assert!(tree.delete(&k(j)).unwrap());
            }
        }
        (k(i), [7u8; 100])
    }));
    assert!(matches!(r, Err(Error::ChangedDuringLoad)), "{r:?}");
    for j in 9000..9100u32 {
        model.remove(&k(j)[..]);
    }
    assert_eq!(contents(&tree), model);
    tree.check().unwrap();
    // The refused loads' pages went back to the pool (a checkpoint wrote some of them meanwhile): a load as large
    // as the last refused one takes them instead of growing the file.
    let pages = pool.file_pages(tree.file()).unwrap();
    assert_eq!(
        tree.bulk_load((10_000..12_000u32).map(|i| (k(i), [7u8; 100]))).unwrap(),
        2000
    );
    for i in 10_000..12_000u32 {
        model.insert(k(i).to_vec(), vec![7u8; 100]);
    }
    assert_eq!(contents(&tree), model);
    tree.check().unwrap();
    assert!(
        pool.file_pages(tree.file()).unwrap() <= pages + 2,
        "the load grew the file from {pages} to {} pages",
        pool.file_pages(tree.file()).unwrap()
    );
    // A crash: the tree recovers from its log as it was.
    tree.commit().unwrap();
    let file = tree.file();
    drop(tree);
    pool.drop_file(file).unwrap();
    let tree = open(&pool, dir.path(), "t");
    assert_eq!(contents(&tree), model);
    tree.check().unwrap();
    tree.close().unwrap();
}

/// Keys of the largest size that differ only in their last byte (so every separator and fence is as long as a
/// key) with the largest values, at every page size: puts that split, deletes that merge, a bulk load, one byte
/// over each limit refused, and a recovery.
#[test]
fn the_largest_keys_and_values_at_every_page_size() {
    for page_size in [4096usize, 8192, 16384, 32768, 65536] {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(BufferPool::builder().frames(64).page_size(page_size).build().unwrap());
        let tree = open(&pool, dir.path(), "t");
        let l = tree.limits();
        let key = |i: u32| {
            let mut key = vec![0xa5u8; l.max_key];
            let n = key.len();
            key[n - 2..].copy_from_slice(&(i as u16).to_be_bytes());
            key
        };
        let val = |i: u32| vec![(i % 251) as u8; l.max_value];
        let mut model = BTreeMap::new();
        for i in 0..200u32 {
            tree.put(&key(i), &val(i)).unwrap();
            model.insert(key(i), val(i));
        }
        assert!(tree.check().unwrap().depth >= 2, "page size {page_size}");
        for i in (0..200u32).filter(|i| i % 3 != 0) {
            assert!(tree.delete(&key(i)).unwrap());
            model.remove(&key(i));
        }
        // One byte over.
        let mut long_key = key(7);
        long_key.push(0);
        assert!(matches!(tree.put(&long_key, b"v"), Err(Error::KeyTooLong { .. })));
        let mut long_val = val(7);
        long_val.push(0);
        assert!(matches!(tree.put(&key(7), &long_val), Err(Error::ValueTooLong { .. })));
        let page = vec![1u8; l.user_bytes];
        assert!(matches!(tree.put(&key(7), &page), Err(Error::ValueTooLong { .. })));
        // Empty values and the empty key beside them.
        tree.put(b"", b"").unwrap();
        model.insert(Vec::new(), Vec::new());
        // A bulk load of the largest pairs above them (first key above every key).
        let above = |i: u32| {
            let mut k = vec![0xffu8; l.max_key];
            let n = k.len();
            k[n - 2..].copy_from_slice(&(i as u16).to_be_bytes());
            k
        };
        assert_eq!(tree.bulk_load((0..300u32).map(|i| (above(i), val(i)))).unwrap(), 300);
        for i in 0..300u32 {
            model.insert(above(i), val(i));
        }
        assert_eq!(contents(&tree), model, "page size {page_size}");
        tree.check().unwrap();
        tree.commit().unwrap();
        let file = tree.file();
        drop(tree);
        pool.drop_file(file).unwrap();
        let tree = open(&pool, dir.path(), "t");
        assert_eq!(contents(&tree), model, "page size {page_size}, recovered");
        tree.check().unwrap();
        tree.close().unwrap();
    }
}

/// The tree's data file closed in the pool (`BufferPool::close_file`, as the docs say to do after dropping an
/// unclosed tree) while the tree and a scan of it are still alive: every call after is a typed error, the log is
/// not freed for another tree while the old one lives, and once it is dropped the tree reopens with everything
/// it committed.
#[test]
fn a_tree_whose_file_the_pool_closed_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let tree = open(&pool, dir.path(), "t");
    for i in 0..3000u32 {
        tree.put(&k(i), &[1u8; 100]).unwrap();
    }
    tree.commit().unwrap();
    let mut scan = tree.range(&k(0)[..]..);
    assert_eq!(scan.next().unwrap().unwrap().0, k(0));
    pool.close_file(tree.file()).unwrap();
    // The scan goes on to the leaf's end from its copy, then meets the closed file.
    let rest: Vec<_> = scan.by_ref().take(3000).collect();
    assert!(rest.iter().any(|r| r.is_err()), "the scan never met the closed file");
    assert!(rest.last().unwrap().is_err());
    assert!(scan.next().is_none());
    let closed = |what: &str, r: Result<(), Error>| {
        assert!(
            matches!(r, Err(Error::Pool(bufpool::Error::FileNotOpen(_)))),
            "{what}: {r:?}"
        )
    };
    closed("get", tree.get(&k(5)).map(drop));
    closed("get_many", tree.get_many(&[&k(5), &k(6)]).map(drop));
    closed("put", tree.put(&k(5), b"x"));
    closed("delete", tree.delete(&k(5)).map(drop));
    closed("scan", tree.scan(.., |_, _| true));
    closed("bulk_load", tree.bulk_load([(k(10_000), [0u8; 1])]).map(drop));
    closed("checkpoint", tree.checkpoint());
    closed("check", tree.check().map(drop));
    // Another tree on the same log is refused while this one lives.
    let wal = TreeWal::open(dir.path().join("t.wal"));
    assert!(wal.is_err() || Tree::open(pool.clone(), wal.unwrap(), dir.path().join("t.db")).is_err());
    let tree = match tree.close() {
        Ok(()) => panic!("a close of a tree whose file is closed succeeded"),
        Err(e) => {
            assert!(
                matches!(e.error(), Error::Pool(bufpool::Error::FileNotOpen(_))),
                "{e:?}"
            );
            e.into_inner()
        }
    };
    drop(tree);
    let tree = open(&pool, dir.path(), "t");
    assert_eq!(tree.check().unwrap().entries, 3000);
    assert_eq!(tree.get(&k(2999)).unwrap().as_deref(), Some(&[1u8; 100][..]));
    tree.close().unwrap();
}

/// A scan of one tree left alive (part-consumed) while another tree of its pool is closed and reopened, bulk
/// loaded, checkpointed and dropped unclosed, in a small pool whose evictions write both: the scan returns
/// exactly its own tree's keys, once each, in order.
#[test]
fn a_scan_alive_while_another_tree_of_the_pool_is_closed_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(32).build().unwrap());
    let a = open(&pool, dir.path(), "a");
    for i in 0..3000u32 {
        a.put(&k(i * 2), &[1u8; 100]).unwrap();
    }
    let mut b = open(&pool, dir.path(), "b");
    let mut seen = Vec::new();
    let mut round = 0u32;
    for r in a.range(&k(0)[..]..) {
        let (key, v) = r.unwrap();
        assert_eq!(v, [1u8; 100]);
        seen.push(u32::from_be_bytes(key[..].try_into().unwrap()));
        if seen.len() % 500 == 0 {
            for i in 0..500u32 {
                b.put(&k(i * 2 + 1), &[round as u8; 100]).unwrap();
            }
            let base = 1_000_000 + round * 1000;
            b.bulk_load((base..base + 500).map(|i| (k(i), [9u8; 100]))).unwrap();
            if round.is_multiple_of(2) {
                b.close().unwrap();
            } else {
                b.commit().unwrap();
                let file = b.file();
                drop(b);
                pool.drop_file(file).unwrap();
            }
            b = open(&pool, dir.path(), "b");
            assert_eq!(b.check().unwrap().entries, 500 + 500 * (round as usize + 1));
            round += 1;
        }
    }
    assert_eq!(seen, (0..3000u32).map(|i| i * 2).collect::<Vec<_>>());
    assert!(round >= 5);
    a.check().unwrap();
}

/// A data storage that panics in a read, a write or a sync while one thread puts (splitting leaves in a pool too
/// small to hold the tree, so splits evict and read) and checkpoints, and another reads committed keys: every
/// call returns (no latch left held), with a value or a typed error; and the tree recovered in a new pool from
/// the same storages holds every committed key, and no key never put.
#[test]
fn a_data_storage_that_panics_mid_split_beside_a_reader() {
    for (what, at) in [("read", 40i64), ("write", 25), ("sync", 1), ("write", 3), ("read", 7)] {
        let data = Arc::new(MemoryStorage::new());
        let log = Arc::new(MemoryStorage::new());
        let panicky = Panicky::new(data.clone(), "the data storage");
        let pool = Arc::new(BufferPool::builder().frames(12).build().unwrap());
        let tree = Tree::open_storage(
            pool.clone(),
            TreeWal::open_storage(log.clone()).unwrap(),
            panicky.clone(),
        )
        .unwrap();
        let val = |i: u32| vec![(i % 200) as u8 + 1; 150 + (i as usize % 7) * 40];
        for i in 0..600u32 {
            tree.put(&k(i * 2), &val(i * 2)).unwrap();
        }
        tree.checkpoint().unwrap();
        let committed_upto = std::sync::atomic::AtomicU32::new(600);
        match what {
            "read" => panicky.hooks.reads.store(at, Ordering::SeqCst),
            "write" => panicky.hooks.writes.store(at, Ordering::SeqCst),
            _ => panicky.hooks.syncs.store(at, Ordering::SeqCst),
        }
        let (errors, attempted) = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut errors = 0;
                for round in 0..2000u32 {
                    let i = (round * 7919) % committed_upto.load(Ordering::SeqCst);
                    match tree.get(&k(i * 2)) {
                        Ok(v) => assert_eq!(v, Some(val(i * 2)), "{what} {at}: key {i}"),
                        Err(_) => errors += 1,
                    }
                }
                errors
            });
            let mut attempted = 600;
            for i in 600..1500u32 {
                attempted = i + 1;
                if tree.put(&k(i * 2), &val(i * 2)).is_err() {
                    break;
                }
                if i % 50 == 49 {
                    if tree.commit().is_err() || tree.checkpoint().is_err() {
                        break;
                    }
                    committed_upto.store(i + 1, Ordering::SeqCst);
                }
            }
            (reader.join().unwrap(), attempted)
        });
        let counter = match what {
            "read" => &panicky.hooks.reads,
            "write" => &panicky.hooks.writes,
            _ => &panicky.hooks.syncs,
        };
        assert_eq!(
            counter.load(Ordering::SeqCst),
            -1,
            "{what} {at}: the storage never panicked"
        );
        let _ = errors;
        // Calls after the panic return (a latch left held would hang them), with values or typed errors.
        for i in 0..600u32 {
            if let Ok(v) = tree.get(&k(i * 2)) {
                assert_eq!(v, Some(val(i * 2)), "{what} {at}: key {i} after the panic");
            }
        }
        let _ = tree.put(&k(1), b"x");
        let _ = tree.scan(.., |_, _| true);
        let _ = tree.checkpoint();
        let committed = committed_upto.load(Ordering::SeqCst);
        drop(tree);
        drop(pool);
        // Recovery in a new pool from the same storages.
        let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
        let tree = Tree::open_storage(pool, TreeWal::open_storage(log.clone()).unwrap(), data.clone())
            .unwrap_or_else(|e| panic!("{what} {at}: reopen: {e}"));
        tree.check().unwrap();
        for i in 0..committed {
            assert_eq!(
                tree.get(&k(i * 2)).unwrap(),
                Some(val(i * 2)),
                "{what} {at}: committed key {i}"
            );
        }
        tree.scan(.., |key, v| {
            let n = u32::from_be_bytes(key.try_into().unwrap());
            assert!(
                n == 1 || (n % 2 == 0 && n / 2 < attempted),
                "{what} {at}: key {n} never put"
            );
            assert!(n == 1 || v == val(n), "{what} {at}: key {n}'s value");
            true
        })
        .unwrap();
    }
}

/// The raw log calls a layer above makes on its own log (`TreeWal::append`, `append_leaf`, `truncate_before`),
/// made on a tree's own log (`Tree::wal`): a record the caller appends there would be replayed into the tree's
/// pages at its next open (a key never put appears, or the open fails on a record that fits no page), and a cut
/// made without the tree (the layer's checkpoint: redo point, pages flushed, cut) leaves a log that starts after
/// the point the tree's meta page needs it from, which refuses the next open. Each is refused with a typed error
/// while the log serves the tree, and the tree reopens after a crash with exactly its own keys.
#[test]
fn a_trees_own_log_refuses_the_callers_records_and_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let tree = open(&pool, dir.path(), "t");
    for i in 0..20u32 {
        tree.put(&k(i), &[1u8; 10]).unwrap();
    }
    tree.checkpoint().unwrap();
    for i in 20..40u32 {
        tree.put(&k(i), &[2u8; 10]).unwrap();
    }
    tree.commit().unwrap();
    let ghost = bufpool_btree::Op::Put {
        page: 1,
        key: b"ghost",
        val: b"never put",
    };
    let r = tree.wal().append(&[ghost]);
    assert!(
        matches!(r, Err(Error::TreeOwnsLog(_))),
        "append to a tree's own log: {r:?}"
    );
    let image = vec![0u8; tree.limits().user_bytes];
    let r = tree.wal().append_leaf(0, 1, &image, ghost);
    assert!(
        matches!(r, Err(Error::TreeOwnsLog(_))),
        "append_leaf to a tree's own log: {r:?}"
    );
    // A layer's checkpoint of the tree's log: redo point, every page written and synced, cut.
    let redo = tree.wal().begin_checkpoint();
    pool.flush_file(tree.file()).unwrap();
    let r = tree.wal().truncate_before(redo);
    assert!(
        matches!(r, Err(Error::TreeOwnsLog(_))),
        "a cut of a tree's own log: {r:?}"
    );
    tree.commit().unwrap();
    // A crash, then recovery: the tree's own keys, nothing else.
    let file = tree.file();
    drop(tree);
    pool.drop_file(file).unwrap();
    let tree = open(&pool, dir.path(), "t");
    assert_eq!(tree.get(b"ghost").unwrap(), None);
    assert_eq!(tree.check().unwrap().entries, 40);
    // Closed, the log is still the tree's (its header names the tree's data file): refused as well.
    tree.close().unwrap();
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let r = wal.append(&[ghost]);
    assert!(
        matches!(r, Err(Error::TreeOwnsLog(_))),
        "append to a closed tree's log: {r:?}"
    );
    let tree = Tree::open(pool.clone(), wal, dir.path().join("t.db")).unwrap();
    assert_eq!(tree.get(b"ghost").unwrap(), None);
    assert_eq!(tree.check().unwrap().entries, 40);
}

/// Two trees in one small pool with a background writer: one thread appends to tree A by bulk loads and
/// checkpoints it; another opens tree B, changes and commits it, and lets it go (closed, or dropped unclosed and
/// its file closed or dropped in the pool), again and again; a third scans A throughout. Every scan sees the
/// loads completed before it began, in order, each key once; at the end, and after a crash, A holds every load
/// and B every commit.
#[test]
fn bulk_loads_and_scans_of_one_tree_while_another_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 48;
    let pool = Arc::new(
        BufferPool::builder()
            .frames(frames)
            .background_writer(bufpool::WriterConfig::for_frames(frames))
            .build()
            .unwrap(),
    );
    let a = open(&pool, dir.path(), "a");
    const LOADS: u32 = 30;
    const PER_LOAD: u32 = 700;
    let loaded = std::sync::atomic::AtomicU32::new(0);
    let b_model = std::thread::scope(|s| {
        s.spawn(|| {
            for l in 0..LOADS {
                let n = a
                    .bulk_load((l * PER_LOAD..(l + 1) * PER_LOAD).map(|i| (k(i), [l as u8; 60])))
                    .unwrap();
                assert_eq!(n, u64::from(PER_LOAD));
                loaded.store(l + 1, Ordering::SeqCst);
                if l % 4 == 3 {
                    a.checkpoint().unwrap();
                }
            }
        });
        s.spawn(|| loop {
            let before = loaded.load(Ordering::SeqCst);
            let mut next = 0u32;
            a.scan(.., |key, v| {
                let i = u32::from_be_bytes(key.try_into().unwrap());
                assert_eq!(i, next, "a scan skipped or repeated a key");
                assert_eq!(v, [(i / PER_LOAD) as u8; 60]);
                next += 1;
                true
            })
            .unwrap();
            assert!(next >= before * PER_LOAD, "a scan missed a load done before it began");
            if before == LOADS {
                break;
            }
        });
        let b = s.spawn(|| {
            let mut model = BTreeMap::<Vec<u8>, Vec<u8>>::new();
            for round in 0..40u32 {
                let b = open(&pool, dir.path(), "b");
                for (key, v) in &model {
                    assert_eq!(b.get(key).unwrap().as_ref(), Some(v), "round {round}");
                }
                for i in 0..200u32 {
                    let key = k(i * 13 % 1000).to_vec();
                    let v = vec![round as u8; 20 + (i as usize % 90)];
                    b.put(&key, &v).unwrap();
                    model.insert(key, v);
                }
                b.commit().unwrap();
                let file = b.file();
                match round % 3 {
                    0 => b.close().unwrap(),
                    1 => {
                        drop(b);
                        pool.close_file(file).unwrap();
                    }
                    _ => {
                        drop(b);
                        pool.drop_file(file).unwrap();
                    }
                }
            }
            model
        });
        b.join().unwrap()
    });
    a.check().unwrap();
    assert_eq!(a.check().unwrap().entries, (LOADS * PER_LOAD) as usize);
    // A crash of both: A dropped unclosed (its loads are durable), B reopened from its log.
    let file = a.file();
    drop(a);
    pool.drop_file(file).unwrap();
    let a = open(&pool, dir.path(), "a");
    assert_eq!(a.check().unwrap().entries, (LOADS * PER_LOAD) as usize);
    let b = open(&pool, dir.path(), "b");
    assert_eq!(contents(&b), b_model);
}
