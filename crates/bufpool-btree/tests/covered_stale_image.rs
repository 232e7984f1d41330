//! R40-2: a checkpoint of a tree whose log depends on a log above cut its log only at the redo point an earlier
//! checkpoint had noted in the meta page and not cut at (`Tree::note_log_start`: one whose page writes failed,
//! or one still running in another thread), not at its own. The leaf images logged between the two stayed in the
//! tree's log, older than covered changes made after them, which no record of the tree's log describes; the
//! caller then cut the log above before its checkpoint's start, as it may once the checkpoint returned. A leaf
//! torn later (in the whole-API model, `whole_api_model.rs`, a recovery attempt under faults whose page write
//! failed with part of the page landed) was rebuilt at the next open from such an image (`Tree::redo`, full-page
//! writes), without those changes, and nothing redid them: a committed covered change lost, silently.

use std::sync::Arc;

use crate::common::hooked::{Hooked, Hooks};
use crate::common::{self, key, value};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, MemoryStorage, Op as IoOp, Storage};
use bufpool_btree::{BufferPool, LeafHint, Op, Tree, TreeWal};

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(64).page_size(4096).build().unwrap())
}

/// The log above on `above`, the tree's log on `log` made to depend on it.
fn logs(above: &Arc<MemoryStorage>, log: &Arc<MemoryStorage>) -> (Arc<TreeWal>, Arc<TreeWal>) {
    let upper = TreeWal::open_storage(above.clone()).unwrap();
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    wal.flush_first(upper.clone()).unwrap();
    (upper, wal)
}

#[test]
fn a_torn_leaf_is_not_rebuilt_from_an_image_older_than_a_checkpoint() {
    let (above, log) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let data = Arc::new(FaultyStorage::new(402, FaultConfig::none()));
    {
        let (upper, wal) = logs(&above, &log);
        let tree = Tree::create_storage(pool(), wal, data.clone()).unwrap();
        // A transaction of the log above: its record, then its covered change (`ours.rs`).
        let txn = |id: u64, ver: u64| {
            let (k, v) = (key(id), value(id, ver));
            upper
                .append(&[Op::Put {
                    page: 0,
                    key: &k,
                    val: &v,
                }])
                .unwrap();
            tree.put_covered(&k, &v, &mut LeafHint::default()).unwrap();
        };
        // The engine's checkpoint: the end of the log above, the tree's checkpoint, the cut above.
        let checkpoint = || {
            let r = upper.begin_checkpoint();
            Tree::checkpoint_all(std::slice::from_ref(&tree)).unwrap();
            upper.truncate_before(r).unwrap();
        };
        for id in 0..8 {
            txn(id, 0);
        }
        checkpoint();
        txn(0, 1);
        // A checkpoint whose page write is refused for space: it noted its redo point in the meta page, no cut.
        data.inject_next(IoOp::Write, Fault::NoSpace);
        let e = tree
            .checkpoint()
            .expect_err("a checkpoint whose page write was refused");
        assert!(e.is_no_space(), "{e}");
        // The leaf's first change after that redo point logs its image (with key 1's change); key 2's change
        // after it is in the log above only.
        txn(1, 1);
        txn(2, 1);
        // Everything is on disk and the log above is cut: key 2's change is in the leaf on disk, nowhere else.
        checkpoint();
        upper.commit().unwrap();
    }
    // The leaf (page 1, the root) torn, as a failed write of it that landed in part leaves it.
    let mut image = data.live_image();
    let leaf = 4096..2 * 4096;
    assert!(image.len() >= leaf.end, "the data file holds the leaf");
    image[leaf.start + 2048..leaf.end].fill(0);
    let data = Arc::new(FaultyStorage::from_image(402, FaultConfig::none(), image));
    let (upper, wal) = logs(&above, &log);
    assert_eq!(
        upper.scan(|_, _| Ok(())).unwrap(),
        upper.start_lsn(),
        "nothing above to redo"
    );
    // A torn page the tree's log cannot rebuild must be reported; rebuilt, it must hold every change.
    let Ok(tree) = Tree::open_storage(pool(), wal, data) else {
        return;
    };
    if let Ok(got) = tree.get(&key(2)) {
        let was = match got {
            Some(v) if v == value(2, 1) => return,
            Some(v) if v == value(2, 0) => "its value before its last change",
            _ => "another value",
        };
        panic!(
            "key 2 read back at {was}: its leaf was rebuilt from a log image older than that change, a covered \
             change the checkpoint had written and whose record the log above no longer holds"
        );
    }
}

/// R40-2's leftover (R41-21): R25-3's fallback, kept where a bounded log's region has no room for the meta page's
/// image within seven eighths (`TreeWal::room_for_checkpoint_image`): the checkpoint then cuts at the redo point an
/// earlier checkpoint noted and did not cut at, as R40-2's did. A tree on the smallest bounded log, under a log
/// above: its own puts fill the log to three quarters of its region (the next one refused for space); one
/// transaction of the log above, appended then, changes three keys in each of six leaves (`put_covered_run`: one
/// image per leaf, the leaf's other keys after it unlogged) while the data device refuses every page write, so
/// each leaf's checkpoint (`Tree::room_for_covered`) fails, the first ones logging their redo points, the last
/// ones, past seven eighths, not; the device then takes writes again, and the engine's checkpoint (the log above's
/// end, `Tree::checkpoint_all`, the cut above) returns `Ok`. Each of the six leaves is then torn on disk (its
/// second half zeroed, as a failed write that landed in part leaves it), and the tree reopened: each key must read
/// its new value, or its torn leaf be reported.
#[test]
fn a_checkpoint_past_seven_eighths_of_a_bounded_region_keeps_no_image_older_than_a_covered_change() {
    use bufpool_btree::REGION_MIN;
    const LEN: usize = 200;
    let (above, log) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let data = Arc::new(FaultyStorage::new(412, FaultConfig::none()));
    let big_pool = || Arc::new(BufferPool::builder().frames(1024).page_size(4096).build().unwrap());
    let mut txn: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut leaves: Vec<u32> = Vec::new();
    {
        let upper = TreeWal::open_storage(above.clone()).unwrap();
        let wal = TreeWal::open_storage_with_capacity(log.clone(), 8192 + 2 * REGION_MIN).unwrap();
        wal.flush_first(upper.clone()).unwrap();
        let tree = Tree::create_storage(big_pool(), wal, data.clone()).unwrap();
        let checkpoint = || engine_checkpoint(&upper, &tree);
        for id in 0..300 {
            let v = common::sized_value(id, 0, LEN);
            if let Err(e) = tree.put(&key(id), &v) {
                assert!(e.is_no_space(), "{e}");
                checkpoint().unwrap();
                tree.put(&key(id), &v).unwrap();
            }
        }
        tree.commit().unwrap();
        checkpoint().unwrap();
        // Six leaves, three keys of each.
        let ids: Vec<u64> = (0..300).collect();
        let keys: Vec<Vec<u8>> = ids.iter().map(|&id| key(id)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut by_leaf: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
        tree.get_many_hinted(&refs, |i, _, hint| {
            by_leaf.entry(hint.page().unwrap()).or_default().push(ids[i])
        })
        .unwrap();
        for (&page, ids) in by_leaf.iter().filter(|(_, ids)| ids.len() >= 3).take(14) {
            leaves.push(page);
            txn.extend(ids[..3].iter().map(|&id| (id, common::sized_value(id, 1, LEN))));
        }
        assert_eq!(leaves.len(), 14, "fourteen leaves of three keys");
        // The transaction's record above; its changes come after the tree's own puts below.
        let mut puts: Vec<(Vec<u8>, Vec<u8>)> = txn.iter().map(|(id, v)| (key(*id), v.clone())).collect();
        puts.sort();
        common::log_puts_above(&upper, &puts);
        // The tree's own puts, until the region's three quarters refuse one.
        let mut id = 10_000;
        loop {
            match tree.put(&key(id), &common::sized_value(id, 0, LEN)) {
                Ok(()) => id += 1,
                Err(e) if e.is_no_space() => break,
                Err(e) => panic!("a put filling the log: {e}"),
            }
            assert!(id < 20_000, "the log's region never refused a put");
        }
        tree.commit().unwrap();
        // The transaction's changes, while the data device refuses every write.
        let writes = data.counts().writes;
        for n in 1..=5000 {
            data.inject_nth(IoOp::Write, writes + n, Fault::NoSpace);
        }
        let mut run = common::covered_run(&puts);
        tree.put_covered_run(&mut run).unwrap();
        // The leaves the changes went to (the tree's own puts may have split the ones chosen).
        leaves = run.iter().filter_map(|p| p.hint.page()).collect();
        leaves.dedup();
        assert!(
            data.counts().writes > writes,
            "no checkpoint was attempted: the log did not pass three quarters of its region"
        );
        data.clear_triggers();
        upper.commit().unwrap();
        if !last_checkpoint(&upper, &tree) {
            return;
        }
    }
    let Some(tree) = torn_and_reopened(&above, &log, &data, &leaves) else {
        return;
    };
    for (id, v) in &txn {
        check_after_tear(&tree, *id, v, &common::sized_value(*id, 0, LEN));
    }
}

/// The engine's checkpoint (`ours.rs`): the end of the log above, the tree's checkpoint, and only if it succeeded
/// the cut above.
fn engine_checkpoint(upper: &TreeWal, tree: &Tree) -> bufpool_btree::Result<()> {
    let r = upper.begin_checkpoint();
    let done = Tree::checkpoint_all(std::slice::from_ref(tree));
    if done.is_ok() {
        upper.truncate_before(r).unwrap();
    }
    upper.commit().unwrap();
    done
}

/// The engine's checkpoint past seven eighths of the tree's region, which must reach R25-3's fallback: a cut at
/// another point than its own redo point (the log's end now): before it, or after it with R41-21's second pass.
/// Whether it succeeded: refused, the log above is kept, and so is every change.
fn last_checkpoint(upper: &TreeWal, tree: &Tree) -> bool {
    let own = tree.wal().end_lsn();
    if let Err(e) = engine_checkpoint(upper, tree) {
        eprintln!("the checkpoint past seven eighths was refused: {e}");
        return false;
    }
    assert_ne!(
        tree.wal().start_lsn(),
        own,
        "the checkpoint cut at its own redo point: the test does not reach the fallback"
    );
    true
}

/// The data storage with the second half of each of `leaves` zeroed (as a failed write that landed in part leaves
/// a page), the tree reopened on it under its logs, with nothing above to redo; `None` if the open refused (a torn
/// page reported).
fn torn_and_reopened(
    above: &Arc<MemoryStorage>,
    log: &Arc<MemoryStorage>,
    data: &FaultyStorage,
    leaves: &[u32],
) -> Option<Tree> {
    let mut image = data.live_image();
    for &page in leaves {
        let at = page as usize * 4096;
        image[at + 2048..at + 4096].fill(0);
    }
    let data = Arc::new(FaultyStorage::from_image(412, FaultConfig::none(), image));
    let (upper, wal) = logs(above, log);
    assert_eq!(
        upper.scan(|_, _| Ok(())).unwrap(),
        upper.start_lsn(),
        "nothing above to redo"
    );
    Tree::open_storage(pool(), wal, data).ok()
}

/// Key `id` must read `last`, or its torn leaf be reported (a read error); `older` is its value before.
fn check_after_tear(tree: &Tree, id: u64, last: &[u8], older: &[u8]) {
    match tree.get(&key(id)) {
        Ok(Some(got)) if got == last => {}
        Ok(got) => panic!(
            "key {id} read back {} after its leaf was torn and rebuilt: the leaf was rebuilt from a log image older \
             than the key's last covered change, which the checkpoint past seven eighths of the region had written \
             and whose record the log above no longer holds",
            match got {
                Some(g) if g == older => "its value before its last change",
                Some(_) => "another value",
                None => "nothing",
            }
        ),
        // The torn leaf reported: nothing was read wrong.
        Err(_) => {}
    }
}

/// A data storage whose reads, while armed, wait at a gate until the test releases them: the window between a
/// covered change's check of its log's room (`Tree::room_for_covered`, before any page is read) and its leaf's
/// image in the log, held open for several threads at once.
#[derive(Default)]
struct Gated {
    armed: std::sync::atomic::AtomicBool,
    /// Reads waiting, and whether they are let go.
    gate: std::sync::Mutex<(usize, bool)>,
    cv: std::sync::Condvar,
}

impl Hooks for Gated {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            let mut g = self.gate.lock().unwrap();
            g.0 += 1;
            self.cv.notify_all();
            while !g.1 {
                g = self.cv.wait(g).unwrap();
            }
        }
        below.read_at(buf, offset)
    }
}

/// R40-2's leftover (R41-21): the fallback reached with a covered change after the image it would be rebuilt
/// from. A tree on the smallest bounded log under a log above: a checkpoint refused for space notes its redo point
/// (the meta page's image logged, no cut); a transaction changes key `a` (its leaf's image logged), a second one
/// changes it again (nothing logged: the leaf was logged since the redo point); the tree's own puts then fill the
/// log to three quarters of its region (the next one refused); eight transactions on eight other leaves, each
/// checked against three quarters before any of them logs (their threads held at a gate in the data storage's
/// reads), log their leaves' images together and take the log past seven eighths without a checkpoint between;
/// the engine's checkpoint (the device takes writes again) can no longer log its own redo point, cuts at the one
/// noted first, which keeps `a`'s leaf image, and returns `Ok`; the log above is cut. `a`'s leaf torn on disk,
/// the reopened tree must read `a`'s last value, or report the torn leaf.
#[test]
fn a_checkpoint_past_seven_eighths_after_a_jump_keeps_no_image_older_than_a_covered_change() {
    use bufpool_btree::REGION_MIN;
    use std::sync::atomic::Ordering;
    const LEN: usize = 200;
    const JUMPERS: usize = 8;
    let (above, log) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let faulty = Arc::new(FaultyStorage::new(413, FaultConfig::none()));
    let data = Arc::new(Hooked::new(faulty.clone(), Gated::default()));
    let big_pool = || Arc::new(BufferPool::builder().frames(1024).page_size(4096).build().unwrap());
    let upper = TreeWal::open_storage(above.clone()).unwrap();
    // Leaves and the ids of their keys, from a first life of the tree.
    let by_leaf: Vec<Vec<u64>> = {
        let wal = TreeWal::open_storage_with_capacity(log.clone(), 8192 + 2 * REGION_MIN).unwrap();
        wal.flush_first(upper.clone()).unwrap();
        let tree = Tree::create_storage(big_pool(), wal, data.clone()).unwrap();
        for id in 0..300 {
            let v = common::sized_value(id, 0, LEN);
            if let Err(e) = tree.put(&key(id), &v) {
                assert!(e.is_no_space(), "{e}");
                tree.checkpoint().unwrap();
                tree.put(&key(id), &v).unwrap();
            }
        }
        let keys: Vec<Vec<u8>> = (0..300).map(key).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut by_leaf: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
        tree.get_many_hinted(&refs, |i, _, hint| {
            by_leaf.entry(hint.page().unwrap()).or_default().push(i as u64)
        })
        .unwrap();
        tree.close().map_err(|e| e.into_error()).unwrap();
        by_leaf.into_values().collect()
    };
    assert!(by_leaf.len() >= 6 + JUMPERS, "{} leaves", by_leaf.len());
    let a = by_leaf[0][0];
    let fill: Vec<u64> = by_leaf[1..6].concat();
    let jumpers: Vec<u64> = by_leaf[6..6 + JUMPERS].iter().map(|ids| ids[0]).collect();
    let txn = |tree: &Tree, id: u64, ver: u64| {
        common::covered_put(&upper, tree, &key(id), &common::sized_value(id, ver, LEN));
    };
    let a_leaf;
    {
        // The second life: nothing of the tree cached but what its open read.
        let wal = TreeWal::open_storage(log.clone()).unwrap();
        wal.flush_first(upper.clone()).unwrap();
        let tree = Tree::open_storage(big_pool(), wal, data.clone()).unwrap();
        let checkpoint = || engine_checkpoint(&upper, &tree);
        // A checkpoint refused for space: its redo point noted in the meta page, no cut.
        faulty.inject_next(IoOp::Write, Fault::NoSpace);
        let e = checkpoint().expect_err("a checkpoint whose page write was refused");
        assert!(e.is_no_space(), "{e}");
        faulty.clear_triggers();
        // `a`'s leaf logged (its image), then `a` changed again (nothing logged).
        txn(&tree, a, 1);
        let mut hint = LeafHint::default();
        tree.get_hinted(&key(a), &mut hint, |_| ()).unwrap();
        a_leaf = hint.page().unwrap();
        txn(&tree, a, 2);
        // The jumpers' records above, before the tree's own puts fill its log (the log above then refuses).
        let jump: Vec<(Vec<u8>, Vec<u8>)> = jumpers
            .iter()
            .map(|&id| (key(id), common::sized_value(id, 3, LEN)))
            .collect();
        for (k, v) in &jump {
            upper
                .append(&[Op::Put {
                    page: 0,
                    key: k,
                    val: v,
                }])
                .unwrap();
        }
        upper.commit().unwrap();
        // The tree's own puts, until the region's three quarters refuse one (the jumpers' leaves not read).
        let mut n = 0u64;
        loop {
            let id = fill[(n % fill.len() as u64) as usize];
            match tree.put(&key(id), &common::sized_value(id, 10 + n, LEN)) {
                Ok(()) => n += 1,
                Err(e) if e.is_no_space() => break,
                Err(e) => panic!("a put filling the log: {e}"),
            }
            assert!(n < 100_000, "the log's region never refused a put");
        }
        tree.commit().unwrap();
        // The jumpers, each past its room check before any logs its leaf's image.
        data.hooks.armed.store(true, Ordering::SeqCst);
        std::thread::scope(|s| {
            let handles: Vec<_> = jump
                .iter()
                .map(|(k, v)| {
                    let tree = &tree;
                    s.spawn(move || tree.put_covered(k, v, &mut LeafHint::default()))
                })
                .collect();
            let mut g = data.hooks.gate.lock().unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while g.0 < JUMPERS {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                assert!(
                    !left.is_zero(),
                    "only {} of {JUMPERS} jumpers reached their leaf's read",
                    g.0
                );
                g = data.hooks.cv.wait_timeout(g, left).unwrap().0;
            }
            data.hooks.armed.store(false, Ordering::SeqCst);
            g.1 = true;
            data.hooks.cv.notify_all();
            drop(g);
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        if !last_checkpoint(&upper, &tree) {
            return;
        }
    }
    drop(upper);
    let Some(tree) = torn_and_reopened(&above, &log, &faulty, &[a_leaf]) else {
        return;
    };
    check_after_tear(
        &tree,
        a,
        &common::sized_value(a, 2, LEN),
        &common::sized_value(a, 1, LEN),
    );
}
