//! A tree log on a `Storage` with a capacity (`TreeWal::open_storage_with_capacity`, R24-10 in RELIABILITY.md):
//! its footprint stays within the capacity under a load many times it, because a checkpoint's cut switches the
//! log into the other of its two regions (`wal.rs`, "A bounded log on a storage"); the region full refuses
//! appends for space until a checkpoint; and a crash at every write and sync of a switch recovers every
//! committed key and nothing that was not written.
//!
//! Before R24-10 a storage log's cut only wrote a header slot: the records stayed, and the storage grew by
//! every byte ever appended (`open_storage_with_capacity` did not exist; `unbounded_log_grows_by_every_append`
//! shows the old behaviour, kept for `TreeWal::open_storage`).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultyStorage, MemoryStorage, Storage};
use bufpool::BufferPool;
use bufpool_btree::{Error, LeafHint, Tree, TreeWal, REGION_MIN};

use crate::common::hooked::{Hooked, Hooks};
use crate::common::{key, value};

/// The log's header (`wal.rs`'s `LOG_HDR`).
const LOG_HDR: u64 = 8192;
/// The smallest capacity: two regions of `REGION_MIN` (128 KiB).
const CAP: u64 = LOG_HDR + 2 * REGION_MIN;

fn pool_for(wal: &Arc<TreeWal>) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(64).wal(wal.clone()).build().unwrap())
}

/// Every key of `model` reads its value in `tree`, and the tree holds no other key.
fn check_all(tree: &Tree, model: &BTreeMap<u64, u64>) {
    tree.check().unwrap();
    let mut n = 0;
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.unwrap();
        let id = u64::from_le_bytes(v[..8].try_into().unwrap());
        assert_eq!(k, key(id), "a key that was never written");
        assert_eq!(Some(&v), model.get(&id).map(|&ver| value(id, ver)).as_ref(), "key {id}");
        n += 1;
    }
    assert_eq!(n, model.len(), "keys recovered");
}

/// Puts keys `0..200` at version `ver` (noted in `model`), checkpointing whenever the log holds more than a
/// quarter of the smallest region, then commits: a tree whose bounded log takes changes again keeps within it.
fn put_all_with_checkpoints(tree: &Tree, wal: &TreeWal, log: &dyn Storage, ver: u64, model: &mut BTreeMap<u64, u64>) {
    for id in 0..200 {
        tree.put(&key(id), &value(id, ver)).unwrap();
        model.insert(id, ver);
        if wal.log_bytes() > REGION_MIN / 4 {
            tree.checkpoint().unwrap();
        }
    }
    tree.commit().unwrap();
    assert!(log.len().unwrap() <= CAP);
}

/// Reopens the tree of `data` on its bounded log `log` (of capacity `cap`) in a pool made by `pool`, and checks
/// that it holds `model` and nothing else.
fn reopen_and_check(
    log: impl Storage,
    cap: u64,
    data: impl Storage,
    pool: fn(&Arc<TreeWal>) -> Arc<BufferPool>,
    model: &BTreeMap<u64, u64>,
) -> Tree {
    let wal = TreeWal::open_storage_with_capacity(log, cap).unwrap();
    let tree = Tree::open_storage(pool(&wal), wal, data).unwrap();
    check_all(&tree, model);
    tree
}

/// Puts `rounds` times over `ids` keys (versions 1, 2, ...), committing every 20 puts and checkpointing whenever
/// the log holds more than `ckpt_at` bytes; returns the model and the largest length the log storage reached.
fn load(tree: &Tree, log: &dyn Storage, ids: u64, rounds: u64, ckpt_at: u64) -> (BTreeMap<u64, u64>, u64) {
    let mut model = BTreeMap::new();
    let mut max_len = 0;
    for ver in 1..=rounds {
        for id in 0..ids {
            tree.put(&key(id), &value(id, ver)).unwrap();
            model.insert(id, ver);
            if id % 20 == 19 {
                tree.commit().unwrap();
            }
            if tree.wal().log_bytes() > ckpt_at {
                tree.checkpoint().unwrap();
            }
            max_len = max_len.max(log.len().unwrap());
        }
    }
    tree.commit().unwrap();
    (model, max_len)
}

/// The bug, shown on the log without a capacity (its behaviour is kept): the storage holds every byte ever
/// appended, however many checkpoints cut it.
#[test]
fn unbounded_log_grows_by_every_append() {
    let log = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), MemoryStorage::new()).unwrap();
    let (_, max_len) = load(&tree, &*log, 300, 8, 32 << 10);
    let appended = wal.end_lsn();
    println!("unbounded storage log: {appended} bytes appended, storage {max_len} bytes");
    assert!(max_len >= appended, "the records stay where they are");
}

/// A tree on a log of the smallest capacity, under a load of more than ten times it with checkpoints by log size:
/// the storage never passes the capacity, the log switches region many times, and after a reopen every key reads
/// its last value.
#[test]
fn bounded_log_stays_within_its_capacity() {
    let log = Arc::new(MemoryStorage::new());
    let data = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    assert_eq!(wal.capacity(), Some(CAP));
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let (model, max_len) = load(&tree, &*log, 300, 25, REGION_MIN / 4);
    let appended = wal.end_lsn();
    println!(
        "bounded storage log: {appended} bytes appended, {} switches, storage at most {max_len} bytes (capacity \
         {CAP})",
        wal.switches()
    );
    assert!(appended > 10 * CAP, "the load is {appended} bytes");
    assert!(
        max_len <= CAP,
        "the storage reached {max_len} bytes, past its capacity {CAP}"
    );
    assert!(wal.switches() >= 10, "{} switches", wal.switches());
    // Dropped without close: the reopen recovers from the log.
    drop(tree);
    drop(reopen_and_check(log.clone(), CAP, data.clone(), pool_for, &model));
    // `open_storage` finds the capacity in the header.
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    assert_eq!(wal.capacity(), Some(CAP));
    let tree = Tree::open_storage(pool_for(&wal), wal, data).unwrap();
    check_all(&tree, &model);
    assert!(log.len().unwrap() <= CAP);
}

/// A capacity too small for two regions is refused; so is another capacity than the log was made with, and a
/// capacity for a log made without one. Nothing is changed.
#[test]
fn capacity_mismatches_are_refused() {
    let small = TreeWal::open_storage_with_capacity(MemoryStorage::new(), CAP - 1);
    assert!(matches!(small, Err(Error::Log(_))), "{small:?}");
    let log = Arc::new(MemoryStorage::new());
    drop(TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap());
    let image = log.len().unwrap();
    let other = TreeWal::open_storage_with_capacity(log.clone(), 2 * CAP);
    assert!(matches!(other, Err(Error::Log(_))), "{other:?}");
    assert_eq!(log.len().unwrap(), image);
    let plain = Arc::new(MemoryStorage::new());
    drop(TreeWal::open_storage(plain.clone()).unwrap());
    let late = TreeWal::open_storage_with_capacity(plain, CAP);
    assert!(matches!(late, Err(Error::Log(_))), "{late:?}");
}

/// Without a checkpoint the region fills: puts are refused for space (nothing appended) before the storage
/// passes the capacity, a commit makes everything appended durable, a checkpoint then runs and cuts, and puts go
/// on. After a reopen every committed key is there.
#[test]
fn full_region_refuses_appends_until_a_checkpoint() {
    let log = Arc::new(MemoryStorage::new());
    let data = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let mut model = BTreeMap::new();
    let mut refused = None;
    'fill: for ver in 1..100u64 {
        for id in 0..200 {
            match tree.put(&key(id), &value(id, ver)) {
                Ok(()) => {
                    model.insert(id, ver);
                }
                Err(e) => {
                    assert!(e.is_no_space(), "{e}");
                    refused = Some((id, ver));
                    break 'fill;
                }
            }
        }
    }
    let (id, ver) = refused.expect("the region never filled");
    assert!(log.len().unwrap() <= CAP);
    tree.commit().unwrap();
    // Still refused: nothing was cut. (The same put: another, whose worst case is smaller, may fit, R25-O1.)
    assert!(tree.put(&key(id), &value(id, ver)).unwrap_err().is_no_space());
    tree.checkpoint().unwrap();
    let switches = wal.switches();
    assert_eq!(switches, 1, "the cut of the full region switched");
    put_all_with_checkpoints(&tree, &wal, &*log, 2000, &mut model);
    drop(tree);
    reopen_and_check(log, CAP, data, pool_for, &model);
}

/// What one run of the switch scenario leaves: the model committed, the puts that returned `Ok` after it.
struct Run {
    committed: BTreeMap<u64, u64>,
    pending: Vec<(u64, u64)>,
    switches: u64,
}

/// Fills the log past half its region with committed puts (versions 1, 2, ...), puts a few more (not committed),
/// and checkpoints: the cut switches region. The log device dies at the checkpoint's `die_at`-th write or sync.
fn switch_scenario(log: &DiesAt, data: &Arc<FaultyStorage>, die_at: u64) -> Run {
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let mut committed = BTreeMap::new();
    let mut ver = 0;
    while wal.log_bytes() < REGION_MIN * 9 / 16 {
        ver += 1;
        for id in 0..10 {
            tree.put(&key(id), &value(id, ver)).unwrap();
            committed.insert(id, ver);
        }
        tree.commit().unwrap();
    }
    let mut pending = Vec::new();
    for id in 0..5 {
        tree.put(&key(id), &value(id, ver + 1)).unwrap();
        pending.push((id, ver + 1));
    }
    log.hooks.arm(die_at);
    let _ = tree.checkpoint();
    let switches = wal.switches();
    std::mem::forget(tree); // the process dies here: nothing more is written
    Run {
        committed,
        pending,
        switches,
    }
}

/// A crash at every write and sync the log storage sees during a tree's switching checkpoint (each run from
/// scratch, the log device dying at that call, then power lost on both devices, keeping each unsynced sector with
/// probability one half, over several draws): recovery finds every committed key with its value, plus a prefix of
/// the puts after the last commit, and nothing else.
#[test]
fn crash_at_every_step_of_a_switch() {
    // A dry run: the log's writes and syncs during the checkpoint.
    let log = dies_at(Arc::new(FaultyStorage::new(1, FaultConfig::none())));
    let data = Arc::new(FaultyStorage::new(2, FaultConfig::none()));
    let run = switch_scenario(&log, &data, u64::MAX);
    assert_eq!(run.switches, 1, "the dry run's checkpoint did not switch");
    let steps = log.hooks.calls();
    let mut runs = 0;
    let mut switched = 0;
    for nth in 1..=steps + 1 {
        for draw in 0..4 {
            let log = dies_at(Arc::new(FaultyStorage::new(10 + draw, FaultConfig::crash_only())));
            let data = Arc::new(FaultyStorage::new(20 + draw, FaultConfig::crash_only()));
            let run = switch_scenario(&log, &data, nth);
            switched += run.switches;
            runs += 1;
            let (log_image, data_image) = (log.below.crash(), data.crash());
            let log = FaultyStorage::from_image(0, FaultConfig::none(), log_image);
            let data = FaultyStorage::from_image(0, FaultConfig::none(), data_image);
            let wal = TreeWal::open_storage_with_capacity(log, CAP)
                .unwrap_or_else(|e| panic!("step {nth} draw {draw}: open the log: {e}"));
            let tree = Tree::open_storage(pool_for(&wal), wal, data)
                .unwrap_or_else(|e| panic!("step {nth} draw {draw}: recovery: {e}"));
            tree.check().unwrap();
            let mut got = BTreeMap::new();
            for pair in tree.range::<std::ops::RangeFull>(..) {
                let (k, v) = pair.unwrap();
                let id = u64::from_le_bytes(v[..8].try_into().unwrap());
                assert_eq!(k, key(id));
                got.insert(id, v);
            }
            let mut state = run.committed.clone();
            let same = |s: &BTreeMap<u64, u64>| {
                s.len() == got.len() && s.iter().all(|(&id, &ver)| got.get(&id) == Some(&value(id, ver)))
            };
            let mut ok = same(&state);
            for &(id, ver) in &run.pending {
                if ok {
                    break;
                }
                state.insert(id, ver);
                ok = same(&state);
            }
            assert!(
                ok,
                "step {nth} draw {draw}: the recovered tree is not the committed state plus a prefix of the puts \
                 after it"
            );
        }
    }
    println!("switch crash steps: {steps} steps, {runs} runs, {switched} of them switched before the crash");
    assert!(switched > 0, "no run switched before its crash");
}

/// The log device of a process that dies at its `die_at`-th write or sync (counted from the last `arm`): that
/// call and every later one do nothing and fail, and the caller then takes the crash image of `below`
/// (`FaultyStorage::crash`: each unsynced sector kept with probability one half), so a crash lands exactly
/// between two steps, a sync's pending writes torn at random. A clone is another handle on the same device and
/// countdown.
type DiesAt = Hooked<Arc<FaultyStorage>, Arc<Countdown>>;

fn dies_at(inner: Arc<FaultyStorage>) -> DiesAt {
    Hooked::new(
        inner,
        Arc::new(Countdown {
            calls: Default::default(),
            die_at: u64::MAX.into(),
        }),
    )
}

struct Countdown {
    calls: std::sync::atomic::AtomicU64,
    die_at: std::sync::atomic::AtomicU64,
}

impl Countdown {
    /// From now on, the `n`-th write or sync (1-based) and every later one die.
    fn arm(&self, n: u64) {
        self.calls.store(0, SeqCst);
        self.die_at.store(n, SeqCst);
    }

    fn calls(&self) -> u64 {
        self.calls.load(SeqCst)
    }

    fn step(&self) -> std::io::Result<()> {
        match self.calls.fetch_add(1, SeqCst) + 1 >= self.die_at.load(SeqCst) {
            true => Err(std::io::Error::other("the process died here")),
            false => Ok(()),
        }
    }
}

impl Hooks for Countdown {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.step()?;
        below.write_at(buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> std::io::Result<()> {
        self.step()?;
        below.sync()
    }
}

/// A record of about 1 KiB whose key is `n` and whose value is `fill` repeated: distinct per `(n, fill)`.
fn record(n: u32, fill: u8) -> Vec<u8> {
    let mut v = n.to_le_bytes().to_vec();
    v.resize(1000, fill);
    v
}

fn append(wal: &TreeWal, n: u32, fill: u8) -> u64 {
    let val = record(n, fill);
    wal.append(&[bufpool_btree::Op::Put {
        page: 1,
        key: &n.to_le_bytes(),
        val: &val,
    }])
    .unwrap()
}

/// A record as read back: `(end LSN, key, value)`.
type Rec = (u64, Vec<u8>, Vec<u8>);

/// The records a log holds from its start.
fn records(wal: &TreeWal) -> Vec<Rec> {
    let mut out = Vec::new();
    wal.scan(|end, ops| {
        for op in ops {
            match op {
                bufpool_btree::OwnedOp::Put(_, k, v) => out.push((end, k, v)),
                other => panic!("a record never appended: {other:?}"),
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// The log-level switch scenario: committed records past half the region, a redo point ten records before the
/// end of the committed ones, five records appended and not committed, then the cut at the redo point (with
/// `fault` on the log storage). Returns the committed records (end LSN, key, value) from the redo point on, and
/// the uncommitted ones.
fn log_switch_scenario(log: &DiesAt, die_at: Option<u64>) -> [Vec<Rec>; 2] {
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let mut ends = Vec::new();
    for n in 0..70u32 {
        ends.push((append(&wal, n, 1), n));
        if n % 10 == 9 {
            wal.commit().unwrap();
        }
    }
    let redo = ends[59].0;
    let kept = |ends: &[(u64, u32)]| {
        ends.iter()
            .map(|&(end, n)| (end, n.to_le_bytes().to_vec(), record(n, 1)))
            .collect::<Vec<_>>()
    };
    let committed = kept(&ends[60..70]);
    ends.clear();
    for n in 70..75u32 {
        ends.push((append(&wal, n, 1), n));
    }
    log.hooks.arm(die_at.unwrap_or(u64::MAX));
    let _ = wal.truncate_before(redo);
    let pending = kept(&ends);
    std::mem::forget(wal);
    [committed, pending]
}

/// A crash at every write and sync of a switching cut, at the log's level (so that records committed after the
/// redo point are at stake): the log opened after it holds every committed record from the redo point on, then a
/// prefix of the uncommitted ones, and nothing else.
#[test]
fn crash_at_every_step_of_a_log_switch() {
    let dry = dies_at(Arc::new(FaultyStorage::new(1, FaultConfig::none())));
    log_switch_scenario(&dry, None);
    let steps = dry.hooks.calls();
    let reopened = TreeWal::open_storage_with_capacity(
        FaultyStorage::from_image(0, FaultConfig::none(), dry.below.crash()),
        CAP,
    )
    .unwrap();
    assert!(reopened.start_lsn() > 1, "the dry run did not cut");
    assert!(reopened.switches() == 0 && steps >= 5, "{steps} steps");
    let mut runs = 0;
    for nth in 1..=steps + 1 {
        for draw in 0..6 {
            {
                let log = dies_at(Arc::new(FaultyStorage::new(10 + draw, FaultConfig::crash_only())));
                let [committed, pending] = log_switch_scenario(&log, Some(nth));
                let wal = TreeWal::open_storage_with_capacity(
                    FaultyStorage::from_image(0, FaultConfig::none(), log.below.crash()),
                    CAP,
                )
                .unwrap_or_else(|e| panic!("step {nth} draw {draw}: open: {e}"));
                let got = records(&wal);
                let redo = committed[0].0 - (committed[1].0 - committed[0].0);
                // From the redo point on (the records before it, if the old header is in force, are dead).
                let from_redo: Vec<_> = got.iter().filter(|r| r.0 > redo).cloned().collect();
                let n = from_redo.len();
                assert!(
                    n >= committed.len() && n <= committed.len() + pending.len(),
                    "step {nth} draw {draw}: {n} records from the redo point on"
                );
                let expected: Vec<_> = committed.iter().chain(&pending).take(n).cloned().collect();
                assert!(
                    from_redo == expected,
                    "step {nth} draw {draw}: other records than appended"
                );
                runs += 1;
            }
        }
    }
    println!("log switch crash steps: {runs} runs");
}

/// A switch that a crash stopped after writing the buffered records into the other region, before its header:
/// the next switch into that region, with the same redo point, over records of the same lengths at the same
/// LSNs, must not let the first attempt's records (past the second's end) be read as part of the log.
#[test]
fn a_stopped_switch_leaves_nothing_for_the_next() {
    let keep_all = FaultConfig {
        crash_keep_unsynced: 1.0,
        ..FaultConfig::none()
    };
    let log = dies_at(Arc::new(FaultyStorage::new(1, keep_all.clone())));
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let mut ends = Vec::new();
    for n in 0..70u32 {
        ends.push(append(&wal, n, 1));
    }
    wal.commit().unwrap();
    let redo = ends[59];
    // Five records buffered, then the cut: the tail copied (a write), the five written after it (a write), both
    // synced, and the process dies at the header slot's write.
    for n in 70..75u32 {
        append(&wal, n, 1);
    }
    log.hooks.arm(4);
    assert!(wal.truncate_before(redo).is_err());
    assert_eq!(wal.switches(), 0);
    std::mem::forget(wal);
    let log = log.below;
    let log = Arc::new(FaultyStorage::from_image(2, keep_all, log.crash()));
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    assert_eq!(
        records(&wal).len(),
        70,
        "the old region is in force, its committed records whole"
    );
    // The same records again, other contents: the same LSNs and lengths.
    for n in 70..72u32 {
        append(&wal, n, 2);
    }
    wal.commit().unwrap();
    wal.truncate_before(redo).unwrap();
    assert_eq!(wal.switches(), 1);
    std::mem::forget(wal);
    let wal = TreeWal::open_storage_with_capacity(FaultyStorage::from_image(3, FaultConfig::none(), log.crash()), CAP)
        .unwrap();
    let got = records(&wal);
    let fills: Vec<u8> = got.iter().map(|r| r.2[999]).collect();
    assert_eq!(got.len(), 12, "records after the switch: fills {fills:?}");
    assert!(fills[10..].iter().all(|&f| f == 2), "{fills:?}");
}

/// R25-1: a cut at a redo point past what the log has written (records appended, not committed, when the
/// checkpoint began: the public `begin_checkpoint` / `truncate_before` allow it) switches region without
/// underflowing its offsets: the cut returns, every record from the redo point on is kept, and a reopen reads
/// them.
#[test]
fn a_switch_at_a_redo_point_past_the_written_records() {
    let log = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    // Past half the region, nothing written out (the buffer's soft bound is far above a region).
    for n in 0..70u32 {
        append(&wal, n, 1);
    }
    let redo = wal.begin_checkpoint();
    let kept: Vec<u64> = (70..75u32).map(|n| append(&wal, n, 1)).collect();
    wal.truncate_before(redo).unwrap();
    assert_eq!(wal.switches(), 1);
    assert_eq!(wal.durable_lsn(), *kept.last().unwrap());
    assert_eq!(records(&wal).iter().map(|r| r.0).collect::<Vec<_>>(), kept);
    drop(wal);
    let wal = TreeWal::open_storage_with_capacity(log, CAP).unwrap();
    assert_eq!(records(&wal).iter().map(|r| r.0).collect::<Vec<_>>(), kept);
}

/// R25-2: a tree of the largest pages (64 KiB, a full image of which is half the smallest region) on a log of the
/// smallest capacity is refused with a typed error, nothing written, the log left for a tree it fits; on a log of
/// the capacity the error names (regions of 32 such pages) the tree runs: its puts, refused for space when the
/// region fills, go on after a checkpoint, and a reopen finds every committed key. Before the fix the tree was
/// made, and its region took two leaf images past its three quarters (each append passed the check): the commit
/// was refused for space, and so was every checkpoint after it (its meta page's record could never be written,
/// so neither its pages nor its cut): the tree took no change again.
#[test]
fn a_tree_of_large_pages_on_a_small_bounded_log() {
    const PAGE: usize = 64 << 10;
    let pool_of = |wal: &Arc<TreeWal>| {
        Arc::new(
            BufferPool::builder()
                .frames(64)
                .page_size(PAGE)
                .wal(wal.clone())
                .build()
                .unwrap(),
        )
    };
    let wal = TreeWal::open_storage_with_capacity(MemoryStorage::new(), CAP).unwrap();
    let data = Arc::new(MemoryStorage::new());
    let refused = Tree::create_storage(pool_of(&wal), wal.clone(), data.clone());
    assert!(matches!(refused, Err(Error::Log(_))), "{refused:?}");
    assert_eq!(data.len().unwrap(), 0, "nothing of the tree written");
    // The log is free and whole: a tree of small pages takes it.
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), MemoryStorage::new()).unwrap();
    tree.put(&key(1), &value(1, 1)).unwrap();
    tree.commit().unwrap();
    drop(tree);

    let cap = LOG_HDR + 2 * 32 * PAGE as u64;
    let log = Arc::new(MemoryStorage::new());
    let wal = TreeWal::open_storage_with_capacity(log.clone(), cap).unwrap();
    let tree = Tree::create_storage(pool_of(&wal), wal.clone(), data.clone()).unwrap();
    let mut model = BTreeMap::new();
    for ver in 1..=6u64 {
        for id in 0..1000 {
            let mut tries = 0;
            while let Err(e) = tree.put(&key(id), &value(id, ver)) {
                assert!(e.is_no_space(), "{e}");
                tries += 1;
                assert!(tries < 3, "put {id} v{ver} refused after a checkpoint: {e}");
                tree.commit().unwrap();
                tree.checkpoint().unwrap();
            }
            model.insert(id, ver);
        }
        tree.commit().unwrap();
    }
    assert!(log.len().unwrap() <= cap);
    drop(tree);
    reopen_and_check(log, cap, data, pool_of, &model);
}

/// R25-3: checkpoints retried while the data device is full (each refused for space, as TPC-C's slow tick
/// retries them) on a bounded log at its three quarters: once the device has room again, a checkpoint cuts and
/// puts go on; a reopen finds every committed key. Before the fix each refused checkpoint logged the meta page's
/// image again (its redo point was new each time), past the quarter of the region kept for a checkpoint: the
/// log's records then passed its region's end, no write-out of them could be taken, and so no checkpoint (its
/// meta page needs them durable) ever cut again.
#[test]
fn checkpoints_refused_by_a_full_data_device_leave_room_for_the_one_that_cuts() {
    use bufpool::storage::{Fault, Op};
    let log = Arc::new(MemoryStorage::new());
    let data = Arc::new(FaultyStorage::new(7, FaultConfig::none()));
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
    let mut model = BTreeMap::new();
    'fill: for ver in 1..100u64 {
        for id in 0..200 {
            match tree.put(&key(id), &value(id, ver)) {
                Ok(()) => {
                    model.insert(id, ver);
                }
                Err(e) => {
                    assert!(e.is_no_space(), "{e}");
                    break 'fill;
                }
            }
        }
        tree.commit().unwrap();
    }
    tree.commit().unwrap();
    for attempt in 0..1000 {
        data.inject_next(Op::Write, Fault::NoSpace);
        let got = tree.checkpoint();
        assert!(
            got.as_ref().is_err_and(|e| e.is_no_space()),
            "attempt {attempt}: {got:?}"
        );
    }
    println!(
        "after 1000 refused checkpoints: log end {}, durable {}",
        wal.end_lsn(),
        wal.durable_lsn()
    );
    tree.checkpoint()
        .expect("the checkpoint after the data device has room again");
    put_all_with_checkpoints(&tree, &wal, &*log, 500, &mut model);
    drop(tree);
    reopen_and_check(log, CAP, data, pool_for, &model);
}

/// The log above a bounded tree log (`TreeWal::flush_first`), the bounded log, and its tree.
struct Stack {
    above: Arc<TreeWal>,
    wal: Arc<TreeWal>,
    tree: Tree,
}

/// A tree on a bounded log (capacity `CAP`) that depends on a log above: made new, or opened and recovered, the
/// log above's covered puts redone after the tree's own recovery, as a layer above does (`tests/covered.rs`).
fn stack_on(above: impl Storage, log: impl Storage, data: impl Storage, create: bool) -> Stack {
    let above = TreeWal::open_storage(above).unwrap();
    let wal = TreeWal::open_storage_with_capacity(log, CAP).unwrap();
    wal.flush_first(above.clone()).unwrap();
    let tree = match create {
        true => Tree::create_storage(pool_for(&wal), wal.clone(), data).unwrap(),
        false => Tree::open_storage(pool_for(&wal), wal.clone(), data).unwrap(),
    };
    crate::common::redo_above(&above, &tree);
    Stack { above, wal, tree }
}

/// A covered put as a layer above makes it: its record appended above first (refused, nothing appended, while a
/// bounded log below is past three quarters of its region), then the change.
fn covered_put(s: &Stack, id: u64, ver: u64) -> Result<(), Error> {
    let (k, v) = (key(id), value(id, ver));
    s.above.append(&[bufpool_btree::Op::Put {
        page: 0,
        key: &k,
        val: &v,
    }])?;
    s.tree.put_covered(&k, &v, &mut LeafHint::default())
}

/// Covered puts of new keys `*next, *next + 1, ...` at version 1, the log above committed every 20 (each committed
/// key then in `model`, the others in `pending`), until one is refused: returns the refusal. Fails if none is
/// refused within 5,000 puts (the bounded log's region is far smaller than that).
fn fill_covered(s: &Stack, next: &mut u64, model: &mut BTreeMap<u64, u64>, pending: &mut Vec<u64>) -> Error {
    for _ in 0..5000 {
        if let Err(e) = covered_put(s, *next, 1) {
            return e;
        }
        pending.push(*next);
        *next += 1;
        if pending.len() == 20 {
            s.above.commit().unwrap();
            model.extend(pending.drain(..).map(|id| (id, 1)));
        }
    }
    panic!(
        "5000 covered puts, none refused: the bounded log below holds {} bytes (region {})",
        s.wal.log_bytes(),
        (CAP - LOG_HDR) / 2
    );
}

/// R25-4 (uncovered puts): a tree whose bounded log depends on another, taking its own puts without a checkpoint,
/// has them refused for space once its region is three quarters full, as a log without a dependency does; a
/// commit then makes everything durable, a checkpoint cuts and frees the region, and puts go on. Every committed
/// key after a reopen. Before the fix the log's region refused nothing (its covered changes must not fail once
/// their record is above, and the check was the same for both): the records passed the region's end, the
/// commit was refused for space, and so was every checkpoint (its pages need records past the end) until a
/// reopen.
#[test]
fn a_full_dependent_bounded_log_refuses_its_trees_puts_until_a_checkpoint() {
    let (above, log, data) = (
        MemoryStorage::new(),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
    );
    let s = stack_on(above, log.clone(), data.clone(), true);
    let mut model = BTreeMap::new();
    let mut refused = None;
    'fill: for ver in 1..100u64 {
        for id in 0..200 {
            match s.tree.put(&key(id), &value(id, ver)) {
                Ok(()) => {
                    model.insert(id, ver);
                }
                Err(e) => {
                    refused = Some((id, e));
                    break 'fill;
                }
            }
            if id % 20 == 19 {
                s.tree.commit().unwrap();
            }
        }
    }
    let (id, e) = refused.expect("the region never refused a put");
    assert!(e.is_no_space() && e.to_string().contains("checkpoint"), "{e}");
    s.tree.commit().unwrap();
    assert!(log.len().unwrap() <= CAP);
    s.tree.checkpoint().unwrap();
    assert_eq!(s.wal.switches(), 1, "the checkpoint's cut switched region");
    s.tree.put(&key(id), &value(id, 500)).unwrap();
    model.insert(id, 500);
    put_all_with_checkpoints(&s.tree, &s.wal, &*log, 1000, &mut model);
    drop(s);
    let s = stack_on(MemoryStorage::new(), log, data, false);
    check_all(&s.tree, &model);
}

/// R25-4 (covered puts): the log above refuses appends for space while the bounded log below it is past three
/// quarters of its region (its covered changes cannot be refused there, their record being above already), saying
/// a checkpoint frees it; the commit above and the tree's commit succeed, a checkpoint of the tree then cuts and
/// frees the region, and the next covered put succeeds; after a reopen (the log above redone) every committed key.
/// Before the fix nothing refused them: the bounded log's records passed its region's end, and no checkpoint of
/// the tree could write its pages (their records cannot be written) or cut, until a reopen.
#[test]
fn a_full_dependent_bounded_log_refuses_appends_above_until_a_checkpoint() {
    let (above, log, data) = (
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryStorage::new()),
    );
    let s = stack_on(above.clone(), log.clone(), data.clone(), true);
    let (mut next, mut model, mut pending) = (0, BTreeMap::new(), Vec::new());
    for round in 0..3 {
        let e = fill_covered(&s, &mut next, &mut model, &mut pending);
        assert!(
            e.is_no_space() && e.to_string().contains("checkpoint"),
            "round {round}: {e}"
        );
        s.above.commit().unwrap();
        model.extend(pending.drain(..).map(|id| (id, 1)));
        s.tree.commit().unwrap();
        assert!(log.len().unwrap() <= CAP);
        s.tree
            .checkpoint()
            .unwrap_or_else(|e| panic!("round {round}: the checkpoint after the refusal: {e}"));
        assert_eq!(s.wal.switches(), round + 1, "the checkpoint's cut switched region");
        covered_put(&s, next, 1).unwrap();
        model.insert(next, 1);
        next += 1;
        s.above.commit().unwrap();
    }
    drop(s);
    let s = stack_on(above, log, data, false);
    check_all(&s.tree, &model);
}

/// What a run of `full_dependent_scenario` committed, and the covered puts after its last commit, in order.
struct DepRun {
    committed: BTreeMap<u64, u64>,
    pending: Vec<u64>,
}

/// Covered puts on a tree whose bounded log depends on a log above until the log above refuses one (the region
/// below three quarters full), then: `stop == 0`, the process dies there; else a commit above and a checkpoint of
/// the tree during which the bounded log's device dies at its `die_at`-th write or sync (`u64::MAX`: never), and
/// with `stop == 2` twenty more covered puts, ten of them committed. Every device is a `FaultyStorage` that
/// keeps each unsynced sector through a crash with probability one half.
fn full_dependent_scenario(
    above: &Arc<FaultyStorage>,
    log: &DiesAt,
    data: &Arc<FaultyStorage>,
    stop: u8,
    die_at: u64,
) -> DepRun {
    let s = stack_on(above.clone(), log.clone(), data.clone(), true);
    let (mut next, mut committed, mut pending) = (0, BTreeMap::new(), Vec::new());
    let e = fill_covered(&s, &mut next, &mut committed, &mut pending);
    assert!(e.is_no_space(), "{e}");
    if stop > 0 {
        s.above.commit().unwrap();
        committed.extend(pending.drain(..).map(|id| (id, 1)));
        log.hooks.arm(die_at);
        // The layer above cuts its log at a point once a checkpoint begun after every change recorded before it
        // completed (`Tree::put_covered`): a recovery then redoes only what came after.
        let cut_above = s.above.end_lsn();
        let ckpt = s.tree.checkpoint();
        assert!(die_at != u64::MAX || ckpt.is_ok(), "{ckpt:?}");
        if ckpt.is_ok() {
            s.above.truncate_before(cut_above).unwrap();
        }
        if stop == 2 && ckpt.is_ok() {
            for k in 0..20 {
                covered_put(&s, next, 1).unwrap();
                pending.push(next);
                next += 1;
                if k == 9 {
                    s.above.commit().unwrap();
                    committed.extend(pending.drain(..).map(|id| (id, 1)));
                }
            }
        }
    }
    std::mem::forget(s); // the process dies here: nothing more is written
    DepRun { committed, pending }
}

/// R25-4 under crashes: power lost on all three devices (the log above, the bounded log, the data file; each
/// unsynced sector kept with probability one half) right after the log above refused a put, after the checkpoint
/// that follows, after more puts, and with the bounded log's device dying at each write and sync of that
/// checkpoint: recovery (the tree's log, then the log above redone) finds every committed key, then a prefix of
/// the puts after the last commit, nothing else; and the recovered tree takes a checkpoint, puts and another.
#[test]
fn power_loss_around_a_full_dependent_bounded_log() {
    let quiet = || Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let dry = dies_at(quiet());
    full_dependent_scenario(&quiet(), &dry, &quiet(), 1, u64::MAX);
    let steps = dry.hooks.calls();
    assert!(steps >= 4, "{steps} log writes and syncs in the checkpoint");
    let mut cases: Vec<(u8, u64)> = vec![(0, u64::MAX), (1, u64::MAX), (2, u64::MAX)];
    cases.extend((1..=steps).map(|n| (1, n)));
    let mut runs = 0;
    for &(stop, die_at) in &cases {
        for draw in 0..6u64 {
            let what = format!("stop {stop}, log dies at {die_at}, draw {draw}");
            let dev = |n: u64| Arc::new(FaultyStorage::new(100 * n + draw, FaultConfig::crash_only()));
            let (above, log, data) = (dev(1), dies_at(dev(2)), dev(3));
            let run = full_dependent_scenario(&above, &log, &data, stop, die_at);
            let (above, log, data) = (
                above.crash_to_memory(),
                log.below.crash_to_memory(),
                data.crash_to_memory(),
            );
            let s = stack_on(above, log, data, false);
            s.tree.check().unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut got = BTreeMap::new();
            for pair in s.tree.range::<std::ops::RangeFull>(..) {
                let (k, v) = pair.unwrap();
                let id = u64::from_le_bytes(v[..8].try_into().unwrap());
                assert_eq!((k, v), (key(id), value(id, 1)), "{what}: a pair never written");
                got.insert(id, 1);
            }
            for id in run.committed.keys() {
                assert!(got.contains_key(id), "{what}: committed key {id} lost");
            }
            let extra = got.len() - run.committed.len();
            assert!(
                extra <= run.pending.len() && run.pending[..extra].iter().all(|id| got.contains_key(id)),
                "{what}: {extra} keys past the committed ones, not a prefix of the {} puts after them",
                run.pending.len()
            );
            s.tree
                .checkpoint()
                .unwrap_or_else(|e| panic!("{what}: checkpoint after recovery: {e}"));
            // Forty new keys, each leaf's first change after the checkpoint an image: the region fills again, a
            // refusal is answered by a checkpoint.
            for id in 10_000..10_040 {
                if let Err(e) = covered_put(&s, id, 1) {
                    assert!(e.is_no_space(), "{what}: {e}");
                    s.above.commit().unwrap();
                    s.tree
                        .checkpoint()
                        .unwrap_or_else(|e| panic!("{what}: checkpoint after a refusal: {e}"));
                    covered_put(&s, id, 1).unwrap_or_else(|e| panic!("{what}: put after a checkpoint: {e}"));
                }
            }
            s.above.commit().unwrap();
            s.tree
                .checkpoint()
                .unwrap_or_else(|e| panic!("{what}: second checkpoint after recovery: {e}"));
            runs += 1;
        }
    }
    println!("full dependent bounded log: {steps} steps, {runs} crash runs");
}

/// R25-O1: a tree's own changes on a bounded log, without a checkpoint, until one is refused: the log's end never
/// passes three quarters of its region (each change reserves its record's worst case before it starts, so the
/// quarter past it is the checkpoint's alone). Before the fix the check was per append, against the end before
/// it: the last change admitted passed the bound by its record.
#[test]
fn a_trees_own_changes_never_pass_three_quarters_of_the_region() {
    let wal = TreeWal::open_storage_with_capacity(MemoryStorage::new(), CAP).unwrap();
    let origin = wal.start_lsn();
    let tree = Tree::create_storage(pool_for(&wal), wal.clone(), MemoryStorage::new()).unwrap();
    let bound = origin + REGION_MIN - REGION_MIN / 4;
    let mut puts = 0;
    'fill: for ver in 1..100u64 {
        for id in 0..200 {
            if let Err(e) = tree.put(&key(id), &value(id, ver)) {
                assert!(e.is_no_space(), "{e}");
                break 'fill;
            }
            puts += 1;
            assert!(
                wal.end_lsn() <= bound,
                "put {puts} took the log's end to {}, past three quarters of its region ({bound})",
                wal.end_lsn()
            );
        }
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
}

/// R25-O1: appenders at the bound at once (a log filled to just below three quarters of its region, then two
/// threads each appending a record of nearly a quarter, released together), over many trials: the log never
/// passes its region's end, and every trial's commit succeeds. Before the fix both appends could pass the check
/// before either was placed, and the log's end passed the region's: the commit was refused for space.
#[test]
fn appenders_at_the_bound_at_once_never_pass_the_region() {
    let big = vec![7u8; (REGION_MIN / 4) as usize - 1024];
    let mut both = 0;
    for trial in 0..300 {
        let wal = TreeWal::open_storage_with_capacity(MemoryStorage::new(), CAP).unwrap();
        let region_end = wal.start_lsn() + REGION_MIN;
        let bound = wal.start_lsn() + REGION_MIN - REGION_MIN / 4;
        let mut n = 0u32;
        while wal.end_lsn() + 1100 <= bound {
            append(&wal, n, 1);
            n += 1;
        }
        let gate = std::sync::Barrier::new(2);
        let ok: usize = std::thread::scope(|s| {
            let run = |k: u32| {
                let (gate, wal, big) = (&gate, &wal, &big);
                s.spawn(move || {
                    gate.wait();
                    let got = wal.append(&[bufpool_btree::Op::Put {
                        page: 1,
                        key: &k.to_le_bytes(),
                        val: big,
                    }]);
                    match got {
                        Ok(_) => 1,
                        Err(e) => {
                            assert!(e.is_no_space(), "trial {trial}: {e}");
                            0
                        }
                    }
                })
            };
            let (a, b) = (run(1_000_000), run(1_000_001));
            a.join().unwrap() + b.join().unwrap()
        });
        both += usize::from(ok == 2);
        assert!(
            wal.end_lsn() <= region_end,
            "trial {trial}: {ok} appends at once took the log's end to {}, past its region's ({region_end})",
            wal.end_lsn()
        );
        wal.commit().unwrap_or_else(|e| panic!("trial {trial}: {e}"));
    }
    println!("appenders at the bound: {both} of 300 trials took both appends");
}

/// A write refused for space, or failed (EIO), at each write of a switch (its copy, its zeroing of a stale region,
/// its buffered records, its header slot), the process going on: the cut returns an error (a log failed only from
/// the buffered records' write on, where they may be only in the new region), a commit and a second cut then go
/// through unless the log failed, and after a power loss that drops every unsynced write the log holds every
/// record made durable from the redo point on, then a prefix of the later ones, nothing else.
#[test]
fn a_refused_or_failed_write_at_each_step_of_a_switch() {
    use bufpool::storage::{Fault, Op};
    let mut failed_logs = 0;
    for fault in [Fault::NoSpace, Fault::Eio] {
        for k in 1..=6u64 {
            let log = Arc::new(FaultyStorage::new(k, FaultConfig::none()));
            let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
            let mut ends = Vec::new();
            for n in 0..75u32 {
                ends.push((append(&wal, n, 1), n));
                if n == 69 {
                    wal.commit().unwrap();
                }
            }
            let redo = ends[59].0;
            log.inject_nth(Op::Write, log.counts().writes + k, fault);
            let first = wal.truncate_before(redo);
            log.clear_triggers();
            if let Err(e) = &first {
                assert!(
                    matches!(fault, Fault::Eio) || e.is_no_space() || matches!(e, Error::Log(_)),
                    "{fault:?} at write {k}: {e}"
                );
            }
            if first.is_err() && wal.commit().is_ok() {
                wal.truncate_before(redo).unwrap();
                assert_eq!(wal.switches(), 1, "{fault:?} at write {k}");
            }
            failed_logs += u64::from(wal.commit().is_err());
            let durable = wal.durable_lsn();
            std::mem::forget(wal);
            let image = FaultyStorage::from_image(0, FaultConfig::none(), log.crash());
            let wal = TreeWal::open_storage_with_capacity(image, CAP)
                .unwrap_or_else(|e| panic!("{fault:?} at write {k}: open: {e}"));
            let got: Vec<Rec> = records(&wal).into_iter().filter(|r| r.0 > redo).collect();
            let kept: Vec<Rec> = ends[60..]
                .iter()
                .map(|&(end, n)| (end, n.to_le_bytes().to_vec(), record(n, 1)))
                .collect();
            let must = kept.iter().filter(|r| r.0 <= durable).count();
            assert!(
                got.len() >= must && kept.get(..got.len()) == Some(&got[..]),
                "{fault:?} at write {k}: {} records from the redo point on, {must} durable",
                got.len()
            );
        }
    }
    println!("switch write faults: {failed_logs} of 12 runs failed the log");
}

/// R25-3's cut at an earlier checkpoint's redo point (R26-O4 in RELIABILITY.md): a checkpoint refused for space at
/// its first or second page write (the meta page's new log start logged, some pages maybe written), changes
/// committed after it, then a checkpoint that cuts at the refused one's redo point (before those changes) and
/// logs no meta record of its own; power lost on both devices right after the cut, or after one more commit: every
/// committed key is found, nothing else.
#[test]
fn power_loss_after_a_cut_at_a_refused_checkpoints_redo_point() {
    use bufpool::storage::{Fault, Op};
    let mut refused_cases = 0;
    for seed in 0..6u64 {
        for nth in [1, 2] {
            for more in [false, true] {
                let what = format!("seed {seed}, write {nth} refused, more {more}");
                let log = Arc::new(FaultyStorage::new(seed, FaultConfig::crash_only()));
                let data = Arc::new(FaultyStorage::new(seed + 100, FaultConfig::crash_only()));
                let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
                let tree = Tree::create_storage(pool_for(&wal), wal.clone(), data.clone()).unwrap();
                let mut model = BTreeMap::new();
                let round = |ver: u64, model: &mut BTreeMap<u64, u64>| {
                    for id in 0..30 {
                        tree.put(&key(id), &value(id, ver)).unwrap();
                        model.insert(id, ver);
                    }
                    tree.commit().unwrap();
                };
                round(1, &mut model);
                tree.checkpoint().unwrap();
                round(2, &mut model);
                data.inject_nth(Op::Write, data.counts().writes + nth, Fault::NoSpace);
                let refused = tree.checkpoint();
                data.clear_triggers();
                if refused.is_ok() {
                    // Fewer page writes than `nth`: nothing refused, nothing to check here.
                    continue;
                }
                assert!(refused.as_ref().is_err_and(|e| e.is_no_space()), "{what}: {refused:?}");
                refused_cases += 1;
                let before = wal.end_lsn();
                round(3, &mut model);
                tree.checkpoint().unwrap();
                assert!(
                    wal.start_lsn() <= before,
                    "{what}: the cut is at the refused checkpoint's redo point ({} > {before})",
                    wal.start_lsn()
                );
                if more {
                    round(4, &mut model);
                }
                drop(tree); // writes nothing: the devices then lose power
                let (log, data) = (log.crash_to_memory(), data.crash_to_memory());
                let tree = reopen_and_check(log, CAP, data, pool_for, &model);
                round_after(&tree);
            }
        }
    }
    assert!(refused_cases >= 12, "{refused_cases} refused checkpoints");
}

/// The reopened tree takes changes and a checkpoint.
fn round_after(tree: &Tree) {
    for id in 0..30 {
        tree.put(&key(id), &value(id, 9)).unwrap();
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
}
