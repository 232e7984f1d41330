//! Covered changes ([`Tree::put_covered`], [`Tree::delete_covered`]): leaf changes a layer above the tree logged
//! in the log the tree's log depends on. What must hold: they are refused without such a dependency; the pool
//! writes no page holding one before that other log is durable (the write-ahead rule, moved to the other log);
//! the tree's own log gets no record per change (only a leaf's full image on its first change after a
//! checkpoint); a leaf hint, fresh or stale, never sends a change to the wrong leaf. And the rule is per page
//! (issue 15, out of memory): a write-back makes the log above durable as far as *that page's* covered changes
//! need before the page reaches the storage, and no further, so evicting an old page whose changes are durable
//! there already costs that log no fsync (it used to cost one for every dirty eviction).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use bufpool::storage::{MemoryStorage, Storage};
use bufpool::{Lsn, PageId, PageNo};
use bufpool_btree::{BufferPool, LeafHint, Op, Tree, TreeWal};

use crate::common::hooked::{Hooked, Hooks};

fn pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(frames).build().unwrap())
}

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// A tree's log (made in `dir`) that depends on `above`.
fn wal_below(dir: &std::path::Path, above: &Arc<TreeWal>) -> Arc<TreeWal> {
    let wal = TreeWal::open(dir.join("t.wal")).unwrap();
    wal.flush_first(above.clone()).unwrap();
    wal
}

/// A tree whose log depends on `above` (made in `dir`).
fn tree_below(dir: &std::path::Path, pool: Arc<BufferPool>, above: &Arc<TreeWal>) -> Tree {
    Tree::open(pool, wal_below(dir, above), dir.join("t.db")).unwrap()
}

/// A covered put as the layer above makes it: its record appended to `above` first, then the change. Returns
/// the record's end.
fn covered_put(above: &TreeWal, tree: &Tree, k: &[u8], v: &[u8], hint: &mut LeafHint) -> Lsn {
    let end = above
        .append(&[Op::Put {
            page: 0,
            key: k,
            val: v,
        }])
        .unwrap();
    tree.put_covered(k, v, hint).unwrap();
    end
}

#[test]
fn covered_changes_need_a_log_to_depend_on() {
    let dir = tempfile::tempdir().unwrap();
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool(64), wal, dir.path().join("t.db")).unwrap();
    assert!(tree.put_covered(b"k", b"v", &mut LeafHint::default()).is_err());
    assert!(tree.delete_covered(b"k", &mut LeafHint::default()).is_err());
    assert_eq!(tree.get(b"k").unwrap(), None, "a refused change changes nothing");
}

#[test]
fn a_page_with_a_covered_change_is_written_only_after_the_log_above_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let tree = tree_below(dir.path(), pool(64), &above);
    for i in 0..50 {
        tree.put(&key(i), b"loaded").unwrap();
    }
    tree.checkpoint().unwrap();
    // First change of the leaf after the checkpoint: a full image in the tree's log. Then changes the tree's log
    // knows nothing of.
    let end_of_image = {
        covered_put(&above, &tree, &key(1), b"one", &mut LeafHint::default());
        // The tree's log durable past the leaf's LSN: the pool's flush of it has nothing of its own to do.
        tree.commit().unwrap();
        tree.wal().end_lsn()
    };
    let mut hint = LeafHint::default();
    let mut appended = 0;
    for i in 2..40 {
        appended = covered_put(&above, &tree, &key(i), b"two", &mut hint);
    }
    assert_eq!(
        tree.wal().end_lsn(),
        end_of_image,
        "no tree record for a covered change after the image"
    );
    assert!(above.durable_lsn() < appended, "nothing made the log above durable yet");
    // The pool writes the leaf: the log above must be durable first.
    tree.pool().flush_file(tree.file()).unwrap();
    assert!(
        above.durable_lsn() >= appended,
        "a page was written before the records covering it"
    );
    for i in 2..40 {
        assert_eq!(tree.get(&key(i)).unwrap().as_deref(), Some(&b"two"[..]));
    }
    tree.check().unwrap();
}

#[test]
fn stale_and_foreign_hints_never_misplace_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let tree = tree_below(dir.path(), pool(256), &above);
    let val = [7u8; 200];
    let mut hints = Vec::new();
    // Ascending puts, each with the previous one's hint: many leaf splits make earlier hints stale.
    let mut hint = LeafHint::default();
    for i in 0..2000 {
        tree.put_covered(&key(i), &val, &mut hint).unwrap();
        hints.push(hint);
    }
    // Every key with a hint taken for another key, far away: the change must still land where the key belongs.
    for i in 0..2000u32 {
        let mut h = hints[((i * 7919) % 2000) as usize];
        tree.put_covered(&key(i), &i.to_le_bytes(), &mut h).unwrap();
        let mut h = hints[((i * 104_729) % 2000) as usize];
        if i % 3 == 0 {
            assert!(tree.delete_covered(&key(i), &mut h).unwrap());
            assert!(!tree.delete_covered(&key(i), &mut h).unwrap(), "already gone");
        }
    }
    // Without a hint a covered delete latches the covering leaf at once (no optimistic look first): a key never
    // there, or gone, is reported absent all the same, and nothing changes.
    assert!(
        !tree.delete_covered(&key(3), &mut LeafHint::default()).unwrap(),
        "deleted above"
    );
    assert!(
        !tree.delete_covered(&key(5000), &mut LeafHint::default()).unwrap(),
        "never there"
    );
    // A hint from get_hinted, for the key it read.
    let mut h = LeafHint::default();
    assert!(tree.get_hinted(&key(5), &mut h, |v| v.is_some()).unwrap());
    tree.put_covered(&key(5), b"five", &mut h).unwrap();
    for i in 0..2000u32 {
        let want = match i {
            5 => Some(b"five".to_vec()),
            _ if i % 3 == 0 => None,
            _ => Some(i.to_le_bytes().to_vec()),
        };
        assert_eq!(tree.get(&key(i)).unwrap(), want, "key {i}");
    }
    let stats = tree.check().unwrap();
    assert_eq!(stats.entries, 2000 - 667);
}

/// `Tree::scan_hinted` gives each pair the leaf it was read from (the leaf `get_hinted` names for the same key),
/// and a change given such a hint lands where its key belongs even after the leaf split or the key moved
/// (TPC-C's Delivery updates and deletes the rows it scanned with these hints).
#[test]
fn hints_from_a_scan_name_the_leaf_and_never_misplace_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let tree = tree_below(dir.path(), pool(256), &above);
    let val = [7u8; 200];
    let mut hint = LeafHint::default();
    for i in (0..4000).step_by(2) {
        tree.put_covered(&key(i), &val, &mut hint).unwrap();
    }
    let mut scanned = Vec::new();
    tree.scan_hinted(&key(100)[..]..&key(3000)[..], |k, _, h| {
        scanned.push((k.to_vec(), h));
        true
    })
    .unwrap();
    assert_eq!(scanned.len(), 1450);
    for (k, h) in &scanned {
        let mut read = LeafHint::default();
        assert!(tree.get_hinted(k, &mut read, |v| v.is_some()).unwrap());
        assert!(h.page().is_some(), "key {k:02x?} came with no leaf");
        assert_eq!(
            h.page(),
            read.page(),
            "key {k:02x?}: the scan's leaf is not the one a read finds"
        );
    }
    // The odd keys between them split the leaves the hints name: many hints are now stale.
    for i in (1..4000).step_by(2) {
        tree.put_covered(&key(i), &val, &mut LeafHint::default()).unwrap();
    }
    for (n, (k, h)) in scanned.iter().enumerate() {
        let mut h = *h;
        if n % 3 == 0 {
            assert!(tree.delete_covered(k, &mut h).unwrap(), "key {k:02x?}");
        } else {
            tree.put_covered(k, b"scanned", &mut h).unwrap();
        }
    }
    for i in 0..4000u32 {
        let want = match scanned.iter().position(|(k, _)| k[..] == key(i)) {
            Some(n) if n % 3 == 0 => None,
            Some(_) => Some(b"scanned".to_vec()),
            None => Some(val.to_vec()),
        };
        assert_eq!(tree.get(&key(i)).unwrap(), want, "key {i}");
    }
    assert_eq!(tree.check().unwrap().entries, 4000 - 1450usize.div_ceil(3));
}

/// A leaf holding covered changes that splits is logged by its image, not as a `SPLIT` op. Recovery replays the
/// tree's log before the layer above redoes the covered changes, so a `SPLIT` replayed on that leaf would meet
/// it without them, choose another separator than the one logged for the parent and the right leaf's image, and
/// leave overlapping halves. Here: covered inserts split many leaves, both logs are made durable, the tree is
/// dropped unclosed (a crash with no page written since the checkpoint), then recovered and the covered changes
/// redone, as a layer above does from its own log: the tree checks and holds every key.
#[test]
fn a_split_of_a_leaf_holding_covered_changes_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mix = |i: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555).to_be_bytes();
    let val = |i: u64| [i as u8; 120];
    let (loaded, covered) = (3_000u64, 6_000u64);
    {
        let above = TreeWal::open(dir.path().join("above.log")).unwrap();
        let tree = tree_below(dir.path(), pool(4096), &above);
        for i in 0..loaded {
            tree.put(&mix(i), &val(i)).unwrap();
        }
        tree.checkpoint().unwrap();
        let leaves = tree.check().unwrap().leaves;
        for i in loaded..loaded + covered {
            covered_put(&above, &tree, &mix(i), &val(i), &mut LeafHint::default());
        }
        assert!(
            tree.check().unwrap().leaves > 2 * leaves,
            "covered inserts split leaves"
        );
        above.commit().unwrap();
        tree.commit().unwrap();
        // Dropped unclosed: a crash. (The pool holds every page: none was written since the checkpoint.)
    }
    let above = TreeWal::open(dir.path().join("above2.log")).unwrap();
    let tree = tree_below(dir.path(), pool(4096), &above);
    for i in loaded..loaded + covered {
        tree.put_covered(&mix(i), &val(i), &mut LeafHint::default()).unwrap();
    }
    assert_eq!(tree.check().unwrap().entries as u64, loaded + covered);
    for i in 0..loaded + covered {
        assert_eq!(tree.get(&mix(i)).unwrap().as_deref(), Some(&val(i)[..]), "key {i}");
    }
}

/// What a tree's data file saw at each page write: the page, and how far the log above was durable then.
type Writes = Arc<Mutex<Vec<(PageNo, Lsn)>>>;

/// Hooks that call `tap(bytes, offset)` before each write reaches the storage below: what reached "the disk", and
/// what the writer could rely on at that moment (the tests note how far the log above was durable).
struct Tapped<F>(F);

impl<F: Fn(&[u8], u64) + Send + Sync + 'static> Hooks for Tapped<F> {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        (self.0)(buf, offset);
        below.write_at(buf, offset)
    }
}

/// A tree below `above` on a [`Tapped`] memory storage (its log in `dir`); returns the tree and its writes.
fn watched_tree_below(dir: &std::path::Path, pool: Arc<BufferPool>, above: &Arc<TreeWal>) -> (Tree, Writes) {
    let wal = wal_below(dir, above);
    let writes = Writes::default();
    let (seen, above, page_size) = (writes.clone(), above.clone(), pool.page_size() as u64);
    let tap = move |buf: &[u8], offset: u64| {
        let (durable, first) = (above.durable_lsn(), offset / page_size);
        let pages = buf.len() as u64 / page_size;
        seen.lock()
            .unwrap()
            .extend((first..first + pages).map(|no| (no as PageNo, durable)));
    };
    let storage = Hooked::new(MemoryStorage::new(), Tapped(tap));
    (Tree::open_storage(pool, wal, storage).unwrap(), writes)
}

/// Covered changes to a tree four times the pool: evictions write leaves all the time, some holding changes
/// whose records in the log above are not durable. No page may reach the storage before the log above is
/// durable past the record of every covered change it holds (the test tracks, per leaf, the end of the last
/// record whose change went to it). Without the per-page rule (the pool flushing only the tree's own log to the
/// page's LSN) pages are written with the log above durable nowhere near that far.
#[test]
fn no_page_reaches_the_disk_before_the_records_of_its_covered_changes() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let pool = pool(48);
    let (tree, writes) = watched_tree_below(dir.path(), pool.clone(), &above);
    let val = |i: u32, round: u8| [round; 200].map(|b| b ^ i as u8);
    let keys = 4_000u32;
    for i in 0..keys {
        tree.put(&key(i), &val(i, 0)).unwrap();
    }
    tree.checkpoint().unwrap();
    let leaves = tree.check().unwrap().leaves;
    assert!(leaves > 4 * 48, "the tree ({leaves} leaves) is larger than the pool");
    writes.lock().unwrap().clear();
    // Per leaf, the end of the last record whose covered change went to it (same-size values: no split moves
    // entries between leaves).
    let mut need: HashMap<PageNo, Lsn> = HashMap::new();
    let mut checked = 0;
    for round in 1..=2u8 {
        for n in 0..keys {
            let i = (n.wrapping_mul(2_654_435_761)) % keys;
            let mut hint = LeafHint::default();
            let end = covered_put(&above, &tree, &key(i), &val(i, round), &mut hint);
            need.insert(hint.page().expect("a covered put names its leaf"), end);
            // Every write so far happened after the change it could hold was noted in `need`: check it.
            for (page, durable) in writes.lock().unwrap().drain(..) {
                let want = need.get(&page).copied().unwrap_or(0);
                assert!(
                    durable >= want,
                    "page {page} written with the log above durable to {durable}, before {want}"
                );
                checked += 1;
            }
            if n % 500 == 0 {
                // The log above made durable now and then (a group commit): later evictions of the pages
                // changed before need no flush of their own.
                above.commit().unwrap();
            }
        }
    }
    assert!(
        checked > 1000,
        "evictions wrote pages holding covered changes ({checked} writes)"
    );
    assert!(
        above.durable_lsn() < above.end_lsn(),
        "the rule never had to make the whole log durable"
    );
    tree.check().unwrap();
}

/// The point of the per-page rule: out of memory, evicting an old dirty page whose covered changes are durable in
/// the log above needs no fsync of it, even while newer records there are not durable. Only the page that holds
/// a change with a record not yet durable makes the log above durable, and as far as that record.
#[test]
fn an_old_pages_eviction_does_not_sync_the_log_above() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let pool = pool(160);
    let (tree, writes) = watched_tree_below(dir.path(), pool.clone(), &above);
    let val = [5u8; 200];
    for i in 0..1_000u32 {
        tree.put(&key(i), &val).unwrap();
    }
    tree.checkpoint().unwrap();
    // Every leaf takes covered changes (its first after the checkpoint logs its image in the tree's log).
    for i in 0..1_000u32 {
        covered_put(&above, &tree, &key(i), b"old", &mut LeafHint::default());
    }
    // Both logs durable: the old changes' records and the leaves' images.
    above.commit().unwrap();
    tree.commit().unwrap();
    let old_durable = above.durable_lsn();
    // One more change, to one leaf, whose record is not durable.
    let mut hint = LeafHint::default();
    let hot_end = covered_put(&above, &tree, &key(500), b"new", &mut hint);
    let hot = hint.page().unwrap();
    assert!(above.durable_lsn() < hot_end);
    let syncs = above.syncs();
    writes.lock().unwrap().clear();
    {
        // Keep the hot leaf in memory (a latched page is never a victim) and fill the pool with another tree's
        // pages: the old dirty leaves of the first tree are evicted and written.
        let _pin = pool.read(PageId::new(tree.file(), hot)).unwrap();
        let other = Tree::open(
            pool.clone(),
            TreeWal::open(dir.path().join("o.wal")).unwrap(),
            dir.path().join("o.db"),
        )
        .unwrap();
        for i in 0..4_000u32 {
            other.put(&key(i), &val).unwrap();
        }
        let written = writes.lock().unwrap().len();
        assert!(written > 50, "old leaves were evicted and written ({written})");
        assert_eq!(above.syncs(), syncs, "an old page's eviction synced the log above");
        assert_eq!(above.durable_lsn(), old_durable);
        assert!(writes.lock().unwrap().iter().all(|&(p, _)| p != hot));
    }
    // The hot leaf's write makes the log above durable past its record first.
    writes.lock().unwrap().clear();
    pool.flush(PageId::new(tree.file(), hot)).unwrap();
    assert!(above.durable_lsn() >= hot_end);
    assert_eq!(above.syncs(), syncs + 1);
    let w = writes.lock().unwrap();
    assert!(w.iter().any(|&(p, d)| p == hot && d >= hot_end), "{w:?}");
    drop(w);
    assert_eq!(tree.get(&key(500)).unwrap().as_deref(), Some(&b"new"[..]));
    tree.check().unwrap();
}

/// The tree log's own write-out (issue 15's 2-thread pass): after a checkpoint, each leaf's first covered change
/// logs its full image in the tree's log, and those images hold covered changes, so the tree log's records may
/// reach its storage only once the log above is durable past them. An appender (which in TPC-C holds its
/// transaction's locks) must not pay that fsync: it leaves a buffer past `BUF_SOFT_MAX` to `TreeWal::write_out`
/// (a background caller), which flushes the log above first. Single-threaded, every write of the tree log
/// includes its latest record, which needs the log above durable to its end: without the flush in the write-out
/// the records are written with the log above durable nowhere near.
#[test]
fn a_tree_logs_images_reach_its_storage_only_after_the_log_above_and_appenders_never_sync_it() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let writes = Arc::new(Mutex::new(Vec::new()));
    // For every write of records (past the header region): how far the log above was durable then, and its end.
    let (seen, watched) = (writes.clone(), above.clone());
    let tap = move |_: &[u8], offset: u64| {
        // The two header slots fill the first 1,024 bytes; records start after them.
        if offset >= 1024 {
            seen.lock().unwrap().push((watched.durable_lsn(), watched.end_lsn()));
        }
    };
    let wal = TreeWal::open_storage(Hooked::new(MemoryStorage::new(), Tapped(tap))).unwrap();
    wal.flush_first(above.clone()).unwrap();
    let tree = Tree::open_storage(pool(4096), wal, MemoryStorage::new()).unwrap();
    let keys = 20_000u32;
    for i in 0..keys {
        tree.put(&key(i), &[1u8; 200]).unwrap();
    }
    tree.checkpoint().unwrap();
    writes.lock().unwrap().clear();
    let syncs = above.syncs();
    // Every leaf's first change after the checkpoint: a full image each, several MiB of the tree's log.
    let mut hint = LeafHint::default();
    for i in 0..keys {
        covered_put(&above, &tree, &key(i), &[2u8; 200], &mut hint);
    }
    let leaves = tree.check().unwrap().leaves;
    assert!(
        leaves * 3_000 > bufpool_btree::BUF_SOFT_MAX,
        "the images ({leaves} leaves) pass the soft bound"
    );
    assert_eq!(above.syncs(), syncs, "an appender made the log above durable");
    assert!(
        writes.lock().unwrap().is_empty(),
        "no record was written before the log above was durable"
    );
    // The background write-out: the log above first, then the records.
    assert!(tree.wal().write_out().unwrap());
    let by = above.syncs_by();
    assert_eq!(by[bufpool_btree::SyncCause::WriteOut as usize], 1, "{by:?}");
    let w = writes.lock().unwrap();
    assert!(!w.is_empty(), "the write-out wrote the records");
    for &(durable, end) in w.iter() {
        assert!(
            durable >= end,
            "tree-log records written with the log above durable to {durable}, not {end}"
        );
    }
    drop(w);
    tree.check().unwrap();
}

/// A covered delete as the layer above makes it (see [`covered_put`]).
fn covered_delete(above: &TreeWal, tree: &Tree, k: &[u8]) {
    above.append(&[Op::Del { page: 0, key: k }]).unwrap();
    tree.delete_covered(k, &mut LeafHint::default()).unwrap();
}

/// Splits at the end of ascending runs under a log above (issue 15's log-bytes pass, `wal.rs`: "Splits under a
/// log above"): the split leaf is logged as a `CUT` (separator and link), not as its full image, so the tree's log
/// takes under a kilobyte a split; and the leaf holding the end of one run and the head of the next is split at
/// the run's end, not halved (`node::split_leaf`). 40 runs side by side (TPC-C's order lines, one run per
/// district), 60-byte rows.
#[test]
fn ascending_splits_under_a_log_above_log_no_page_images_of_the_split_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let tree = tree_below(dir.path(), pool(4096), &above);
    let key = |run: u32, i: u32| [run.to_be_bytes(), i.to_be_bytes()].concat();
    for run in 0..40 {
        tree.put(&key(run, 0), &[0; 60]).unwrap();
    }
    tree.checkpoint().unwrap();
    let (leaves, log) = (tree.check().unwrap().leaves, tree.wal().end_lsn());
    let mut hints = vec![LeafHint::default(); 40];
    for i in 1..2_000 {
        for run in 0..40 {
            covered_put(&above, &tree, &key(run, i), &[i as u8; 60], &mut hints[run as usize]);
        }
    }
    let stats = tree.check().unwrap();
    let splits = (stats.leaves - leaves) as u64;
    let per_split = (tree.wal().end_lsn() - log) / splits;
    assert!(splits > 1_000, "{splits} splits");
    assert!(stats.leaf_fill() > 0.9, "leaves {:.2} full", stats.leaf_fill());
    // Each split: the new right leaf's image (the new key), the parent's separator, the meta page, the cut:
    // about 330 bytes, leaves 98% full (before issue 15's log-bytes pass: the split leaf's image and halving
    // splits, about 4.3 KB a split, leaves 55% full).
    assert!(per_split < 500, "{per_split} log bytes a split");
}

/// The `CUT` of a split leaf redone over what a crash left of it (`wal.rs`, "Splits under a log above"): covered
/// ascending inserts in 40 runs, with covered deletes and shorter values now and then (after which splits log
/// images until the leaves' next records), in a pool too small for the tree (leaves are written, with their
/// covered changes, at every stage), a checkpoint halfway; then a crash (dropped unclosed), recovery, and the
/// layer above's log redone in order: every key as the last change left it, and the tree checks. Run for
/// several seeds of the mix.
#[test]
fn cut_splits_under_a_log_above_recover_from_a_crash_at_any_state_of_the_leaves() {
    for seed in 0..4u64 {
        let dir = tempfile::tempdir().unwrap();
        let key = |run: u64, i: u64| [run.to_be_bytes(), i.to_be_bytes()].concat();
        let mut model = std::collections::BTreeMap::new();
        let mut ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        {
            let above = TreeWal::open(dir.path().join("above.log")).unwrap();
            let tree = tree_below(dir.path(), pool(48), &above);
            let mut hints = vec![LeafHint::default(); 40];
            for i in 0..600u64 {
                if i == 300 {
                    tree.checkpoint().unwrap();
                }
                for run in 0..40u64 {
                    let k = key(run, i);
                    let v = vec![(i + run) as u8; 40 + rnd(40) as usize];
                    covered_put(&above, &tree, &k, &v, &mut hints[run as usize]);
                    model.insert(k.clone(), v.clone());
                    ops.push((k, Some(v)));
                    match rnd(200) {
                        0 if i > 0 => {
                            let k = key(run, rnd(i));
                            if model.remove(&k).is_some() {
                                covered_delete(&above, &tree, &k);
                                ops.push((k, None));
                            }
                        }
                        1 if i > 0 => {
                            let k = key(run, rnd(i));
                            if model.contains_key(&k) {
                                let v = vec![7u8; 10];
                                covered_put(&above, &tree, &k, &v, &mut LeafHint::default());
                                model.insert(k.clone(), v.clone());
                                ops.push((k, Some(v)));
                            }
                        }
                        _ => {}
                    }
                }
            }
            above.commit().unwrap();
            tree.commit().unwrap();
            // Dropped unclosed: a crash, with every page as the pool last wrote it.
        }
        let above = TreeWal::open(dir.path().join("above2.log")).unwrap();
        let tree = tree_below(dir.path(), pool(256), &above);
        for (k, v) in &ops {
            match v {
                Some(v) => tree.put_covered(k, v, &mut LeafHint::default()).unwrap(),
                None => {
                    tree.delete_covered(k, &mut LeafHint::default()).unwrap();
                }
            }
        }
        assert_eq!(tree.check().unwrap().entries, model.len(), "seed {seed}");
        let mut got = Vec::new();
        tree.scan(.., |k, v| {
            got.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
        assert!(got == model.into_iter().collect::<Vec<_>>(), "seed {seed}: rows differ");
    }
}
