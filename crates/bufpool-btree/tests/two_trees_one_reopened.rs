//! Two trees in one pool, each with its own log (R30-O3 in RELIABILITY.md): one runs a writer, checkpoints and
//! scans throughout, while the other is opened, changed, committed and let go again and again, each of the ways
//! the docs allow (`close`; dropped unclosed and its file closed in the pool; dropped unclosed and its file
//! dropped in the pool, so its next open recovers from its log), in a small pool whose background writer and
//! evictions write both trees' pages meanwhile. Each open of the second tree must hold what it committed, and
//! the first must lose nothing, then or after its own recovery.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bufpool::WriterConfig;
use bufpool_btree::{BufferPool, Tree, TreeWal};

use crate::common;

fn open(pool: &Arc<BufferPool>, dir: &std::path::Path, name: &str) -> Tree {
    let wal = TreeWal::open(dir.join(format!("{name}.wal"))).unwrap();
    Tree::open(pool.clone(), wal, dir.join(format!("{name}.db"))).unwrap()
}

fn assert_holds(tree: &Tree, model: &BTreeMap<u64, u64>, what: &str) {
    assert_eq!(tree.check().unwrap().entries, model.len(), "{what}");
    for (&id, &ver) in model {
        assert_eq!(
            tree.get(&common::key(id)).unwrap(),
            Some(common::value(id, ver)),
            "{what}: id {id}"
        );
    }
}

#[test]
fn a_tree_reopened_again_and_again_beside_a_busy_one_in_one_pool() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 64;
    let pool = Arc::new(
        BufferPool::builder()
            .frames(frames)
            .background_writer(WriterConfig::for_frames(frames))
            .build()
            .unwrap(),
    );
    let busy = open(&pool, dir.path(), "busy");
    let stop = AtomicBool::new(false);
    let busy_model = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut model = BTreeMap::new();
            let mut step = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = common::mix(step) % 600;
                if step % 7 == 6 {
                    busy.delete(&common::key(id)).unwrap();
                    model.remove(&id);
                } else {
                    busy.put(&common::key(id), &common::value(id, step)).unwrap();
                    model.insert(id, step);
                }
                if step % 100 == 99 {
                    busy.commit().unwrap();
                }
                if step.is_multiple_of(700) {
                    busy.checkpoint().unwrap();
                }
                step += 1;
            }
            busy.commit().unwrap();
            model
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let mut last: Option<Vec<u8>> = None;
                busy.scan(.., |key, _| {
                    assert!(last.as_deref().is_none_or(|l| l < key), "scan out of order");
                    last = Some(key.to_vec());
                    true
                })
                .unwrap();
            }
        });
        let mut model = BTreeMap::new();
        for round in 0..30u64 {
            let tree = open(&pool, dir.path(), "other");
            assert_holds(&tree, &model, &format!("round {round}, at its open"));
            for i in 0..80 {
                let id = common::mix(round * 1000 + i) % 400;
                if i % 5 == 4 {
                    tree.delete(&common::key(id)).unwrap();
                    model.remove(&id);
                } else {
                    tree.put(&common::key(id), &common::value(id, round)).unwrap();
                    model.insert(id, round);
                }
            }
            tree.commit().unwrap();
            let file = tree.file();
            match round % 3 {
                0 => tree.close().unwrap(),
                1 => {
                    drop(tree);
                    pool.close_file(file).unwrap();
                }
                _ => {
                    drop(tree);
                    pool.drop_file(file).unwrap();
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap()
    });
    assert_holds(&busy, &busy_model, "the busy tree");
    let file = busy.file();
    drop(busy);
    pool.drop_file(file).unwrap();
    let busy = open(&pool, dir.path(), "busy");
    assert_holds(&busy, &busy_model, "the busy tree, recovered");
}
