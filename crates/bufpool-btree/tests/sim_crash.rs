//! Seeded crash simulation of the tree: the data file and the log each on a `FaultyStorage`, random puts and
//! deletes (splits, merges, root changes) with injected device faults, power losses, recovery, and a check of
//! every key after every crash.
//!
//! # What runs
//! Each seed runs several *epochs* on one pair of storages. An epoch opens the tree (recovery) in a small pool
//! (5 to 24 frames of 4 KiB, so pages are evicted all the time and structure changes meet `PoolExhausted`),
//! then switches the storages' faults on (`FaultConfig::honest`: EIO on read, write and sync, short reads and
//! writes; a crash keeps each unsynced sector with probability one half, so log records and pages tear) and runs
//! random operations: `put` and `delete` over 300 long keys, `get` (checked against the model when it succeeds),
//! `commit`, `checkpoint`; an epoch begins, half the time, with a `bulk_load`: of the first keys into an empty
//! tree, or appended to a non-empty one (keys above its largest; append mode). It is durable if it returns `Ok`;
//! if it fails otherwise than `NotAbove`, the epoch crashes right away and recovery must show the tree before it
//! or the whole load. At a random operation both storages lose power (`FaultyStorage::crash`), the tree and
//! pool are dropped unwritten, and the next epoch starts from the crash images. One seed in three opens its log
//! with the smallest capacity (`TreeWal::open_storage_with_capacity`, R24-10): its appends meet the region's
//! bound (`NoSpace`, an op failed with no trace) and its checkpoints switch the log's region under the faults.
//! An odd seed's data file keeps a file record (`common::Sidecar`, as the sidecar `.bpmeta` of a file opened by
//! path: its pages carry its identity, its log names it; session 47); an even seed's is unbound, as all were
//! before. Half the power losses of an odd seed's data file (unless `BUFPOOL_BTREE_SIM_GARBLE=0`) are those of a
//! device written through a 4 KiB page cache that garbles what it had in flight
//! (`FaultyStorage::crash_garbling_blocks`, each sector of a block in flight garbled with probability one half:
//! R46-O40, R46-O41, R47 in RELIABILITY.md); the log always loses power sector by sector (`crash`). An odd epoch's
//! pool makes every write guard clean (`Builder::clean_write_guards`: session 48, review48).
//!
//! Two workloads, each a test: keys picked at random (`tree_survives_faults_and_power_loss`), and keys mostly
//! put in ascending key order and deleted from the oldest, a queue (`ascending_runs_survive_faults_and_power_loss`,
//! added by review19): most splits of the second are by the queue's next key, past every key of its leaf (by
//! construction; not counted): append splits, whose left leaf is cut in place (`node::append_split`, session
//! 18); and the leaves the queue's tail empties merge.
//!
//! # What must hold after every crash
//! Recovery runs with faults off (a failed recovery is not what is measured here), and then:
//! - the tree holds exactly the state of its last successful `commit` followed by some prefix of the operations
//!   that returned `Ok` after it (the log is a sequence: a crash may keep a prefix of the unsynced records, never
//!   a later record without the earlier ones). So every committed key is present with its committed value, and
//!   no operation is half-applied. An operation that returned `Err` must have left no trace: it is in no prefix;
//! - `Tree::check` is clean (node format, fences, levels, leaf chain, free list, page LSNs within the log).
//!
//! # Sizes
//! CI runs a smoke size (200 seeds). Long: `BUFPOOL_BTREE_SIM_SEEDS=N`, e.g.
//! `BUFPOOL_BTREE_SIM_SEEDS=5000 cargo test --release -p bufpool-btree --test integration -- sim_crash:: --nocapture`;
//! the figures printed at the end are the ones RELIABILITY.md quotes.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultCounts, FaultyStorage, Storage};
use bufpool_btree::{Tree, TreeWal};
use common::hooked::Hooked;
use common::{key, value, Rng, Sidecar};

const KEYS: u64 = 1000;
const EPOCHS: usize = 4;
const FAULT_P: f64 = 0.004;
/// The capacity of the bounded log of one seed in three: the smallest (`TreeWal::open_storage_with_capacity`).
const BOUNDED_LOG: u64 = 8192 + 2 * bufpool_btree::REGION_MIN;
/// At a power loss that garbles the data file's blocks in flight (`FaultyStorage::crash_garbling_blocks`), the
/// probability that each sector in flight is garbled.
const GARBLE: f64 = 0.5;

/// Whether the data files of odd seeds lose power as a device written through a 4 KiB page cache that garbles
/// what it had in flight, at every other crash (unless `BUFPOOL_BTREE_SIM_GARBLE=0`; see the module docs).
fn garbling() -> bool {
    !std::env::var("BUFPOOL_BTREE_SIM_GARBLE").is_ok_and(|v| v == "0")
}

/// The seeds run: `BUFPOOL_BTREE_SIM_SEEDS` of them (200 by default) from `BUFPOOL_BTREE_SIM_FIRST` (0), so that
/// a long soak can run in parts.
fn seeds() -> std::ops::Range<u64> {
    let var = |name, default| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let first = var("BUFPOOL_BTREE_SIM_FIRST", 0);
    first..first + var("BUFPOOL_BTREE_SIM_SEEDS", 200)
}

/// A key's state: `None` = absent, `Some(ver)` = `value(id, ver)`.
type State = BTreeMap<u64, u64>;

#[derive(Clone, Copy, Debug)]
enum Done {
    Put(u64, u64),
    Del(u64),
    /// `Tree::bulk_load` of ids `0..n` at version `ver` into an empty tree (only ever pending when it failed at
    /// its end: its switch may or may not have reached the log).
    Bulk(u64, u64),
    /// `Tree::bulk_load` appending, at version `ver`, the first `n` ids in key order of those whose keys lie
    /// above `key(top)` (pending as `Bulk` is).
    Append(u64, u64, u64),
}

/// Every id, in key order.
fn ids_above_all() -> Vec<u64> {
    let mut ids: Vec<u64> = (0..KEYS).collect();
    ids.sort_by_key(|&id| key(id));
    ids
}

/// The ids whose keys lie above `key(top)`, in key order.
fn ids_above(top: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..KEYS).filter(|&id| key(id) > key(top)).collect();
    ids.sort_by_key(|&id| key(id));
    ids
}

fn apply(s: &mut State, d: Done) {
    match d {
        Done::Put(id, ver) => {
            s.insert(id, ver);
        }
        Done::Del(id) => {
            s.remove(&id);
        }
        Done::Bulk(n, ver) => {
            s.clear();
            s.extend((0..n).map(|id| (id, ver)));
        }
        Done::Append(top, n, ver) => {
            s.extend(ids_above(top).into_iter().take(n as usize).map(|id| (id, ver)));
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    seeds: u64,
    /// Entries the pools' written-LSN tables forgot (`BUFPOOL_STALE_CHECK_PAGES` set small: review24).
    written_lsns_dropped: u64,
    epochs: u64,
    crashes: u64,
    ops_ok: u64,
    ops_failed: u64,
    pool_exhausted: u64,
    commits_ok: u64,
    commits_checked: u64,
    keys_checked: u64,
    prefix_ops_recovered: u64,
    checkpoints_ok: u64,
    /// Region switches of the bounded logs.
    switches: u64,
    bulk_loads_ok: u64,
    bulk_appends_ok: u64,
    bulk_loads_failed: u64,
    /// Power losses that garbled the data file's blocks in flight.
    garbled_crashes: u64,
    faults: FaultCounts,
    violations: Vec<String>,
}

/// The tree's contents, by key id (faults are off while this runs).
fn contents(tree: &Tree, ids: &HashMap<Vec<u8>, u64>) -> Result<BTreeMap<u64, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.map_err(|e| format!("scan: {e}"))?;
        let id = *ids.get(&k).ok_or("a key that was never written")?;
        out.insert(id, v);
    }
    Ok(out)
}

fn matches(state: &State, got: &BTreeMap<u64, Vec<u8>>) -> bool {
    state.len() == got.len() && state.iter().all(|(&id, &ver)| got.get(&id) == Some(&value(id, ver)))
}

/// Which keys an epoch's puts and deletes pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keys {
    /// Any key, uniformly: splits inside leaves, merges anywhere.
    Random,
    /// Mostly the next key in key order for a put (wrapping around) and the oldest one for a delete: a queue
    /// (TPC-C's NEW-ORDER), so most splits are append splits (`node::append_split`, the leaf cut in place) of
    /// the rightmost leaf of the live window, and the leaves it leaves behind empty and merge.
    Ascending,
}

fn run_seed(seed: u64, ids: &HashMap<Vec<u8>, u64>, keys: Keys, t: &mut Tally) {
    let mut rng = Rng(seed);
    // Ids in key order, and the queue's ends in it (`Keys::Ascending`).
    let order = ids_above_all();
    let (mut head, mut tail) = (rng.below(KEYS) as usize, 0usize);
    let frames = 4 + rng.below(9) as usize;
    let mut log_image = Vec::new();
    let mut data_image = Vec::new();
    // Odd seeds: the data file keeps a file record (a sidecar, as a file opened by path), so its pages carry its
    // identity and its log names it; even seeds: unbound, as the simulation ran before session 47.
    let bound = seed % 2 == 1;
    let mut record_image = Vec::new();
    // The state as of the last successful commit, and the operations that returned Ok since.
    let mut committed = State::new();
    let mut pending: Vec<Done> = Vec::new();
    let mut commits_before_crash = 0;
    // Epoch EPOCHS only recovers and checks the last crash.
    for epoch in 0..=EPOCHS {
        t.epochs += u64::from(epoch < EPOCHS);
        let log = Arc::new(FaultyStorage::from_image(
            rng.next(),
            FaultConfig::none(),
            std::mem::take(&mut log_image),
        ));
        let data = Arc::new(FaultyStorage::from_image(
            rng.next(),
            FaultConfig::none(),
            std::mem::take(&mut data_image),
        ));
        // Seeded apart from `rng`, so that the unbound seeds draw as before.
        let record = Arc::new(FaultyStorage::from_image(
            common::mix(seed ^ (epoch as u64) << 32),
            FaultConfig::none(),
            std::mem::take(&mut record_image),
        ));
        let data_file: Box<dyn Storage> = match bound {
            true => Box::new(Hooked::new(data.clone(), Sidecar(record.clone()))),
            false => Box::new(data.clone()),
        };
        // One seed in three: a log of the smallest capacity, whose checkpoints switch its region (R24-10).
        let wal = match seed % 3 {
            1 => TreeWal::open_storage_with_capacity(log.clone(), BOUNDED_LOG),
            _ => TreeWal::open_storage(log.clone()),
        }
        .unwrap_or_else(|e| panic!("seed {seed} epoch {epoch}: {e}"));
        // Odd epochs: every write guard of the pool clean (`Builder::clean_write_guards`), which the tree's own
        // latches are anyway (`write_clean`) but for replay's, which must dirty every page it meets itself (R47-30).
        let pool = Arc::new(
            common::pool_builder()
                .frames(frames)
                .wal(wal.clone())
                .clean_write_guards(epoch % 2 == 1)
                .build()
                .unwrap(),
        );
        let tree = match Tree::open_storage(pool, wal, data_file) {
            Ok(tree) => tree,
            Err(e) => {
                t.violations
                    .push(format!("seed {seed} epoch {epoch}: recovery failed: {e}"));
                return;
            }
        };
        // Check the recovered tree: the last commit plus a prefix of what followed.
        if epoch > 0 {
            if let Err(e) = tree.check() {
                t.violations.push(format!("seed {seed} epoch {epoch}: check: {e}"));
                return;
            }
            let got = match contents(&tree, ids) {
                Ok(got) => got,
                Err(e) => {
                    t.violations.push(format!("seed {seed} epoch {epoch}: {e}"));
                    return;
                }
            };
            let mut state = committed.clone();
            let mut found = matches(&state, &got).then_some(0);
            for (i, &d) in pending.iter().enumerate() {
                if found.is_some() {
                    break;
                }
                apply(&mut state, d);
                if matches(&state, &got) {
                    found = Some(i + 1);
                }
            }
            match found {
                Some(n) => {
                    t.prefix_ops_recovered += n as u64;
                    t.keys_checked += got.len() as u64;
                    apply_all(&mut committed, &pending[..n]);
                }
                None => {
                    let lost = committed.iter().filter(|(id, _)| !got.contains_key(id)).count();
                    t.violations.push(format!(
                        "seed {seed} epoch {epoch}: recovered state is no prefix of the operations after the last \
                         commit ({} keys recovered, {} committed, {lost} committed keys missing, {} pending ops)",
                        got.len(),
                        committed.len(),
                        pending.len()
                    ));
                    return;
                }
            }
            pending.clear();
            t.commits_checked += commits_before_crash;
        }
        if epoch == EPOCHS {
            return;
        }
        let mut current = committed.clone();
        let config = FaultConfig::honest(FAULT_P);
        log.set_config(config.clone());
        data.set_config(config);
        let ops = 100 + rng.below(400);
        commits_before_crash = 0;
        // Half the time an epoch starts with a bulk load (durable when it returns Ok): into an empty tree, or
        // appended above the largest key of a non-empty one.
        let top = current.keys().copied().max_by_key(|&id| key(id));
        if rng.below(2) == 0 {
            let ver = rng.next() % 1000;
            let (done, pairs) = match top {
                None => {
                    let n = 1 + rng.below(KEYS);
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|id| (key(id), value(id, ver))).collect();
                    pairs.sort();
                    (Done::Bulk(n, ver), pairs)
                }
                Some(top) => {
                    let above = ids_above(top);
                    let n = rng.below(above.len() as u64 + 1).max(1).min(above.len() as u64);
                    let pairs = above[..n as usize]
                        .iter()
                        .map(|&id| (key(id), value(id, ver)))
                        .collect();
                    (Done::Append(top, n, ver), pairs)
                }
            };
            let n = pairs.len() as u64;
            // (An append above every key has no ids left when the largest key is the largest of all.)
            let result = if n > 0 {
                tree.bulk_load(pairs)
            } else {
                Err(bufpool_btree::Error::NotAbove)
            };
            match result {
                Ok(loaded) => {
                    t.bulk_loads_ok += 1;
                    t.bulk_appends_ok += u64::from(matches!(done, Done::Append(..)));
                    if loaded != n {
                        t.violations
                            .push(format!("seed {seed}: bulk load of {n} loaded {loaded}"));
                    }
                    t.commits_ok += 1;
                    commits_before_crash += 1;
                    apply(&mut current, done);
                    committed = current.clone();
                    pending.clear();
                }
                // Refused (the last leaf, empty, has a low fence above the first key): no trace.
                Err(bufpool_btree::Error::NotAbove) => {}
                Err(e) => {
                    // Failed before its switch (no trace) or at its final commit (switched, maybe durable): crash
                    // now; recovery must show the state before it or the whole load.
                    note_err(t, &e);
                    t.bulk_loads_failed += 1;
                    pending.push(done);
                }
            }
        }
        for _ in 0..ops {
            if matches!(pending.last(), Some(Done::Bulk(..) | Done::Append(..))) {
                break;
            }
            let roll = rng.below(100);
            let id = match keys {
                Keys::Ascending if rng.below(10) != 0 && roll <= 54 => {
                    head += 1;
                    order[head % order.len()]
                }
                Keys::Ascending if rng.below(10) != 0 && roll <= 79 => {
                    tail = tail.max(head.saturating_sub(KEYS as usize / 3));
                    tail += 1;
                    order[tail % order.len()]
                }
                _ => rng.below(KEYS),
            };
            match roll {
                0..=54 => {
                    let ver = rng.next() % 1000;
                    match tree.put(&key(id), &value(id, ver)) {
                        Ok(()) => {
                            t.ops_ok += 1;
                            current.insert(id, ver);
                            pending.push(Done::Put(id, ver));
                        }
                        Err(e) => {
                            // A bounded log's full region (or a full device): a checkpoint's cut frees it.
                            if e.is_no_space() && tree.checkpoint().is_ok() {
                                t.checkpoints_ok += 1;
                            }
                            note_err(t, &e)
                        }
                    }
                }
                55..=79 => match tree.delete(&key(id)) {
                    Ok(was) => {
                        t.ops_ok += 1;
                        if was != current.contains_key(&id) {
                            t.violations.push(format!("seed {seed}: delete {id} returned {was}"));
                        }
                        if was {
                            current.remove(&id);
                            pending.push(Done::Del(id));
                        }
                    }
                    Err(e) => note_err(t, &e),
                },
                80..=87 => match tree.get(&key(id)) {
                    Ok(v) => {
                        if v != current.get(&id).map(|&ver| value(id, ver)) {
                            t.violations
                                .push(format!("seed {seed}: get {id} disagrees with the model"));
                        }
                    }
                    Err(e) => note_err(t, &e),
                },
                88..=97 => {
                    if tree.commit().is_ok() {
                        t.commits_ok += 1;
                        commits_before_crash += 1;
                        committed = current.clone();
                        pending.clear();
                    }
                }
                _ => {
                    if tree.checkpoint().is_ok() {
                        t.checkpoints_ok += 1;
                    }
                }
            }
        }
        // Power loss: both devices at once, then the process is gone (nothing more is written).
        t.switches += tree.wal().switches();
        log_image = log.crash();
        data_image = match bound && garbling() && common::mix(seed ^ (epoch as u64) << 48).is_multiple_of(2) {
            true => {
                t.garbled_crashes += 1;
                data.crash_garbling_blocks(GARBLE)
            }
            false => data.crash(),
        };
        record_image = record.crash();
        t.crashes += 1;
        let mut c = log.counts();
        c.add(&data.counts());
        t.faults.add(&c);
        t.written_lsns_dropped += tree.pool().stats().written_lsns_dropped;
        drop(tree);
    }
}

fn apply_all(s: &mut State, ops: &[Done]) {
    for &d in ops {
        apply(s, d);
    }
}

fn note_err(t: &mut Tally, e: &bufpool_btree::Error) {
    t.ops_failed += 1;
    if matches!(e, bufpool_btree::Error::Pool(bufpool::Error::PoolExhausted { .. })) {
        t.pool_exhausted += 1;
    }
}

#[test]
fn tree_survives_faults_and_power_loss() {
    run(Keys::Random);
}

/// The same with puts in ascending key order and deletes from the oldest (a queue): the append split, whose left
/// leaf is cut in place (session 18), under every fault and crash the simulation injects, and the merges of the
/// leaves the queue's tail empties (review19).
#[test]
fn ascending_runs_survive_faults_and_power_loss() {
    run(Keys::Ascending);
}

fn run(keys: Keys) {
    let ids: HashMap<Vec<u8>, u64> = (0..KEYS).map(|id| (key(id), id)).collect();
    let mut t = Tally::default();
    for seed in seeds() {
        t.seeds += 1;
        run_seed(seed, &ids, keys, &mut t);
    }
    let f = &t.faults;
    println!(
        "tree crash sim ({keys:?} keys): {} seeds, {} epochs, {} crashes; ops ok {}, failed {} ({} PoolExhausted); commits ok {}, \
         checked after a crash {}; checkpoints ok {} ({} region switches); bulk loads ok {} ({} appends), failed {}; keys checked {}, uncommitted ops recovered {}; faults: \
         read EIO {}, write EIO {}, sync EIO {}, short reads {}, short writes {}, writes dropped by failed sync {}, \
         unsynced writes at crash kept/torn/lost {}/{}/{}, crashes garbling the data file's blocks {} ({} sectors); \
         written-LSN entries forgotten {}; violations {}",
        t.seeds,
        t.epochs,
        t.crashes,
        t.ops_ok,
        t.ops_failed,
        t.pool_exhausted,
        t.commits_ok,
        t.commits_checked,
        t.checkpoints_ok,
        t.switches,
        t.bulk_loads_ok,
        t.bulk_appends_ok,
        t.bulk_loads_failed,
        t.keys_checked,
        t.prefix_ops_recovered,
        f.read_eio,
        f.write_eio,
        f.sync_eio,
        f.short_reads,
        f.short_writes,
        f.writes_dropped_by_failed_sync,
        f.crash_writes_kept,
        f.crash_writes_torn,
        f.crash_writes_lost,
        t.garbled_crashes,
        f.crash_sectors_garbled,
        t.written_lsns_dropped,
        t.violations.len()
    );
    assert!(
        t.violations.is_empty(),
        "{:#?}",
        &t.violations[..t.violations.len().min(10)]
    );
    // The run exercised what it claims to.
    assert!(t.crashes > 0 && t.commits_checked > 0 && f.crash_writes_torn > 0);
    assert!(t.bulk_loads_ok > 0, "no bulk load succeeded");
    assert!(t.bulk_appends_ok > 0, "no bulk load appended");
    assert!(t.switches > 0, "no bounded log switched its region");
    assert!(
        !garbling() || t.garbled_crashes > 0,
        "no power loss garbled a data file's blocks"
    );
}
