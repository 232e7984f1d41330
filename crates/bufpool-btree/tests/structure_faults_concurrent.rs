//! Session 49 (review49): structure changes that fail halfway while other threads read and write, in two trees of
//! one pool, then a checkpoint and a power loss. `structure_faults_everywhere.rs` walks a fault over every call of
//! one thread's splits and merges (and a pool with every frame pinned, one thread); `checkpoint_faults_concurrent.rs`
//! fails the calls of a checkpoint while writers run; the whole-API model draws faults at random rates. None pins
//! the pool's frames from another thread while splits and merges of several threads run, so that each meets
//! `PoolExhausted` at whatever step it has reached (the meta page, a path node, a sibling, a new page) and undoes
//! itself (`Held`'s drop, `WriteGuard::restore`) beside writers, hinted readers and checkpoints of both trees.
//!
//! A run: two trees, each on its own `FaultyStorage`s (log, data file, the data file's record), in one pool of 40
//! or 41 frames (odd: every write guard clean) with a third file of 64 pages. Each tree holds 400 keys of values of
//! 16 to 900 bytes (leaves of a few entries: puts split, deletes merge, all the time), committed and checkpointed.
//! Then, per tree, two writers (one owner a key: version `v` is a delete if `v % 5 == 0`, else a put of a value of
//! its own length), each batch of 1 to 8 ops committed; per tree a reader of single keys at kept hints
//! (`get_at_hint`) and of batches of neighbours (`get_many_at_hints`, each key's own hint, a neighbour's, the other
//! tree's or none: a hint's leaf lies wholly below its key after splits, and its link is followed,
//! `Tree::probe_link`); a pinner that takes read guards of the third file's pages (none, half the frames, all but a
//! few, or all of them) for a millisecond or two at a time; two checkpointers (`Tree::checkpoint_all` of both
//! trees; `checkpoint` or `checkpoint_spread` of one); and the main thread, which arms one-shot faults on the
//! four devices at random (ENOSPC on a data or log write; on some seeds also an EIO, which fails the data file or
//! the log for good).
//!
//! What must hold: no panic, no hang; no error that calls a fault corruption (`Invariant`, `CorruptNode`); a read
//! returns the state of a version between the key's last applied one before it and its last started one after it,
//! never one whose op returned `Err` (a failed change leaves no trace, not even for a moment); and after a power
//! loss of all six devices (a data file's pages in flight garbled on a third of the seeds,
//! `FaultyStorage::crash_garbling_blocks`), each tree reopens in a fresh pool, `Tree::check` is clean, and each
//! key holds a version from its last committed one to its last started one, not a failed one.
//!
//! `BUFPOOL_STRUCTURE_CONCURRENT_RUNS=N` (default 6) runs from seed `BUFPOOL_STRUCTURE_CONCURRENT_SEED` (default
//! 49_000).

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bufpool::storage::{Fault, MemoryStorage, Op};
use bufpool::{BufferPool, FileId, PageId};
use bufpool_btree::{Error, LeafHint, Tree};
use common::writers::{writer, Devices, Model};
use common::{key, mix, sized_value, Rng};

const TREES: usize = 2;
const KEYS: u64 = 400;
const WRITERS: u64 = 2;
/// Pages of the pinned file.
const PINS: u64 = 64;

/// What version `v` of key `id` leaves (version 1 is the load's).
fn state(id: u64, v: u64) -> Option<Vec<u8>> {
    (!v.is_multiple_of(5)).then(|| sized_value(id, v, 16 + (mix(id ^ (v << 20)) % 885) as usize))
}

/// The errors met, by their first words (printed at the end: what the runs exercised).
static ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Panics unless `e` is an error a device fault or a full pool may cause (not corruption); counts it.
fn no_corruption(e: &Error, what: &str) {
    let class: String = (e.to_string().chars().take(60))
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    *ERRORS.lock().unwrap().entry(class).or_default() += 1;
    assert!(
        !matches!(e, Error::Invariant(_) | Error::CorruptNode { .. }),
        "{what}: a fault reported as corruption: {e}"
    );
}

/// Reads of one tree at kept hints, single keys, batches of neighbours and scans, each checked against the model.
fn reader(trees: &[Tree], at: usize, model: &Model, seed: u64, stop: &AtomicBool) -> u64 {
    let tree = &trees[at];
    let other = &trees[1 - at];
    let mut rng = Rng(seed ^ 0x4ead ^ at as u64);
    let mut hints = vec![LeafHint::default(); KEYS as usize];
    let mut foreign = [LeafHint::default(); 8];
    let mut reads = 0;
    // The keys in key order, for scans.
    let mut sorted: Vec<(Vec<u8>, u64)> = (0..KEYS).map(|id| (key(id), id)).collect();
    sorted.sort();
    while !stop.load(Ordering::Acquire) {
        if rng.chance(15) {
            // A scan of a run of neighbouring keys from the first one's kept hint (`Tree::scan_from`).
            let (at, len) = (rng.below(KEYS - 32) as usize, 1 + rng.below(30) as usize);
            let ids: Vec<u64> = sorted[at..at + len].iter().map(|e| e.1).collect();
            let (from, to) = (&sorted[at].0[..], &sorted[at + len].0[..]);
            let lo: Vec<u64> = ids
                .iter()
                .map(|&id| model.done[id as usize].load(Ordering::SeqCst))
                .collect();
            let mut rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut hint = hints[ids[0] as usize];
            match tree.scan_from(from..to, &mut hint, |k, v, _| {
                rows.push((k.to_vec(), v.to_vec()));
                true
            }) {
                Ok(()) => {
                    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "scan_from: rows out of order");
                    for (j, &id) in ids.iter().enumerate() {
                        let hi = model.started[id as usize].load(Ordering::SeqCst);
                        let got = rows.iter().find(|r| r.0 == sorted[at + j].0).map(|r| &r.1[..]);
                        model.check(id, got, lo[j], hi, "scan_from").unwrap();
                    }
                    assert!(
                        rows.iter().all(|r| sorted[at..at + len].iter().any(|e| e.0 == r.0)),
                        "scan_from: a row outside the range or of no key"
                    );
                    reads += len as u64;
                }
                Err(e) => no_corruption(&e, "scan_from"),
            }
            continue;
        }
        if rng.chance(10) {
            // A hint of the other tree's leaves (its pages share page numbers with this tree's).
            let id = rng.below(KEYS);
            let slot = rng.below(8) as usize;
            let _ = other.get_hinted(&key(id), &mut foreign[slot], |_| ());
        }
        if rng.chance(50) {
            let id = rng.below(KEYS);
            let lo = model.done[id as usize].load(Ordering::SeqCst);
            let mut hint = hints[id as usize];
            match tree.get_at_hint(&key(id), &mut hint, |v| v.map(<[u8]>::to_vec)) {
                Ok(got) => {
                    let hi = model.started[id as usize].load(Ordering::SeqCst);
                    model.check(id, got.as_deref(), lo, hi, "get_at_hint").unwrap();
                    hints[id as usize] = hint;
                    reads += 1;
                }
                Err(e) => no_corruption(&e, "get_at_hint"),
            }
            continue;
        }
        let len = 1 + rng.below(16) as usize;
        let first = rng.below(KEYS);
        let ids: Vec<u64> = (0..len as u64).map(|j| (first + j) % KEYS).collect();
        let given: Vec<LeafHint> = ids
            .iter()
            .map(|&id| match rng.below(6) {
                0 => foreign[rng.below(8) as usize],
                1 => LeafHint::default(),
                2 => hints[(id.saturating_sub(1 + rng.below(3))) as usize],
                _ => hints[id as usize],
            })
            .collect();
        let keys: Vec<Vec<u8>> = ids.iter().map(|&id| key(id)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        let lo: Vec<u64> = ids
            .iter()
            .map(|&id| model.done[id as usize].load(Ordering::SeqCst))
            .collect();
        let mut got: Vec<Option<Option<Vec<u8>>>> = vec![None; len];
        let r = tree.get_many_at_hints(&refs, &given, 0..usize::MAX, |i, v, hint| {
            assert!(got[i].is_none(), "key {i} of a batch answered twice");
            got[i] = Some(v.map(<[u8]>::to_vec));
            hints[ids[i] as usize] = hint;
        });
        match r {
            Ok(()) => {
                for (j, &id) in ids.iter().enumerate() {
                    let hi = model.started[id as usize].load(Ordering::SeqCst);
                    let v = got[j]
                        .as_ref()
                        .unwrap_or_else(|| panic!("key {id} of a batch not answered"));
                    model.check(id, v.as_deref(), lo[j], hi, "get_many_at_hints").unwrap();
                    reads += 1;
                }
            }
            Err(e) => no_corruption(&e, "get_many_at_hints"),
        }
    }
    reads
}

/// Holds read guards of the pinned file's pages, from none to every frame, for a millisecond or so at a time.
fn pinner(pool: &BufferPool, pin: FileId, frames: usize, seed: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng(seed ^ 0x9199);
    let mut squeezed = 0;
    // Distinct pages, so that each guard holds a frame of its own; a page a miss could not load (every frame
    // latched, or a victim whose write failed) is tried again a few times.
    let mut held = Vec::with_capacity(frames);
    while !stop.load(Ordering::Acquire) {
        // Half the time the pool is squeezed to a few frames (0 to 11) for the trees, a third of those to none.
        let want = match rng.below(6) {
            0..=2 => 0,
            3 => frames,
            _ => frames - 1 - rng.below(11) as usize,
        };
        let from = rng.below(PINS);
        let mut tries = 0;
        while held.len() < want && tries < 3 * want && !stop.load(Ordering::Acquire) {
            tries += 1;
            match pool.read(PageId::new(pin, ((from + held.len() as u64) % PINS) as u32)) {
                Ok(g) => held.push(g),
                Err(_) => std::thread::sleep(Duration::from_micros(100)),
            }
        }
        squeezed += u64::from(held.len() + 11 >= frames);
        std::thread::sleep(Duration::from_micros(500 + rng.below(2500)));
        held.clear();
    }
    squeezed
}

/// Keys of the third tree, which the cycler opens, changes and lets go again and again.
const CYCLED_KEYS: u64 = 150;

/// Whether `e` is a miss's failure to take a frame: none free (`PoolExhausted`, the pinner's), or only dirty pages
/// of the other trees left, whose write failed (`VictimWrite`, naming the victim of another file: the pages of a
/// tree whose log failed stay dirty and unwritable until it is dropped; R49-O11: before session 50 the victim's
/// own error came bare, a `Wal`, `Io`, `NoSpace` ... that read as the cycled tree's own). The cycled tree's own
/// devices have no injected faults, so a victim of its own file never fails.
fn exhausted(e: &Error) -> bool {
    use bufpool::Error as P;
    matches!(e, Error::Pool(P::PoolExhausted { .. } | P::VictimWrite { .. }))
}

/// `f` until it returns anything but a failure to take a frame ([`exhausted`]: the pinner lets go within
/// milliseconds), or `None` once `stop` is set.
fn past_pins<T>(stop: &AtomicBool, mut f: impl FnMut() -> Result<T, Error>) -> Option<Result<T, Error>> {
    loop {
        match f() {
            Err(e) if exhausted(&e) => {
                if stop.load(Ordering::Acquire) {
                    return None;
                }
                std::thread::sleep(Duration::from_micros(300));
            }
            r => return Some(r),
        }
    }
}

/// A third tree in the same pool, on devices without injected faults: opened (recovering), checked against its
/// model, changed and committed, then let go in one of the ways the docs allow (`close`; dropped and its file
/// closed in the pool; dropped and its file dropped in the pool, so the next open recovers from its log; or that
/// and a power loss of its devices), round after round, beside the two trees' writers, readers, checkpointers
/// and faults, and the pinner. Returns the rounds.
fn cycler(pool: &Arc<BufferPool>, seed: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng(seed ^ 0xc1c1e);
    let mut dev = Devices::new(seed * 10 + 50, false);
    // Each key's version, absent for none (versions as `state`'s: a delete when `v % 5 == 0`).
    let mut model: BTreeMap<u64, u64> = BTreeMap::new();
    let mut ver = 1;
    let mut rounds = 0;
    loop {
        let what = format!("seed {seed}: the cycled tree, round {rounds}");
        let Some(tree) = past_pins(stop, || dev.open(pool)) else {
            return rounds;
        };
        let tree = tree.unwrap_or_else(|e| panic!("{what}: open: {e}"));
        for id in 0..CYCLED_KEYS {
            let Some(got) = past_pins(stop, || tree.get(&key(id))) else {
                return rounds;
            };
            let got = got.unwrap_or_else(|e| panic!("{what}: get of key {id}: {e}"));
            let want = model.get(&id).and_then(|&v| state(id, v));
            assert!(
                got == want,
                "{what}: key {id} holds {got:?}, the model's version {:?}",
                model.get(&id)
            );
        }
        if stop.load(Ordering::Acquire) {
            return rounds;
        }
        for _ in 0..1 + rng.below(40) {
            let id = rng.below(CYCLED_KEYS);
            ver += 1;
            let r = match state(id, ver) {
                Some(val) => tree.put(&key(id), &val),
                None => tree.delete(&key(id)).map(|_| ()),
            };
            match r {
                Ok(()) => {
                    model.insert(id, ver);
                }
                Err(e) => {
                    assert!(exhausted(&e), "{what}: op of key {id}: {e}");
                }
            }
        }
        tree.commit().unwrap_or_else(|e| panic!("{what}: commit: {e}"));
        let file = tree.file();
        match rng.below(4) {
            0 => {
                let mut t = tree;
                loop {
                    match t.close() {
                        Ok(()) => break,
                        Err(e) if exhausted(e.error()) => {
                            t = e.into_inner();
                            std::thread::sleep(Duration::from_micros(300));
                        }
                        Err(e) => panic!("{what}: close: {}", e.error()),
                    }
                }
            }
            1 => {
                drop(tree);
                pool.close_file(file)
                    .unwrap_or_else(|e| panic!("{what}: close_file: {e}"));
            }
            k => {
                drop(tree);
                pool.drop_file(file)
                    .unwrap_or_else(|e| panic!("{what}: drop_file: {e}"));
                if k == 3 {
                    dev = dev.power_loss(seed * 10 + 60 + rounds, rng.chance(50), true);
                }
            }
        }
        rounds += 1;
    }
}

fn checkpointer(trees: &[Tree], k: u64, seed: u64, stop: &AtomicBool, done: &AtomicU64) {
    let mut rng = Rng(seed ^ 0xc4e0 ^ k);
    while !stop.load(Ordering::Acquire) {
        let r = match (k, rng.below(3)) {
            (0, _) => Tree::checkpoint_all(trees),
            (_, 0) => trees[rng.below(2) as usize].checkpoint_spread(Duration::from_millis(2)),
            _ => trees[rng.below(2) as usize].checkpoint(),
        };
        match r {
            Ok(()) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => no_corruption(&e, &format!("checkpointer {k}")),
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
    }
}

/// Arms one fault on one of the devices: ENOSPC on a write of the data file or the log, or (if `eio`) an EIO,
/// which fails the device for good.
fn arm(devs: &[Devices], rng: &mut Rng, eio: bool) -> String {
    let d = &devs[rng.below(TREES as u64) as usize];
    let (storage, name) = match rng.below(2) {
        0 => (&d.data, "data"),
        _ => (&d.log, "log"),
    };
    let (op, fault) = match (eio, rng.below(3)) {
        (true, 0) => (Op::Write, Fault::Eio),
        (true, 1) => (Op::Sync, Fault::Eio),
        _ => (Op::Write, Fault::NoSpace),
    };
    let c = storage.counts();
    let n = match op {
        Op::Sync => c.syncs,
        _ => c.writes,
    } + 1
        + rng.below(4);
    storage.inject_nth(op, n, fault);
    format!("{fault:?} on {name} {op:?} {n}")
}

/// One run; returns a line of what it did.
fn run(seed: u64) -> String {
    let frames = 40 + (seed % 2) as usize;
    let garble = seed % 3 == 1;
    let eio = seed % 4 >= 2;
    let bounded = (seed / 8) % 2 == 1;
    let what = format!("seed {seed} (frames {frames}, garble {garble}, eio {eio}, first log bounded {bounded})");
    let pool = Arc::new(
        BufferPool::builder()
            .frames(frames)
            .clean_write_guards(frames % 2 == 1)
            .build()
            .unwrap(),
    );
    let devs: Vec<Devices> = (0..TREES as u64)
        .map(|t| Devices::new(seed * 10 + t * 3, bounded && t == 0))
        .collect();
    let trees: Vec<Tree> = devs.iter().map(|d| d.open(&pool).unwrap()).collect();
    for tree in &trees {
        for id in 0..KEYS {
            if let Err(e) = tree.put(&key(id), &state(id, 1).unwrap()) {
                // A bounded log's region is full: a checkpoint frees it.
                assert!(e.is_no_space(), "{what}: put {id}: {e}");
                tree.checkpoint().unwrap();
                tree.put(&key(id), &state(id, 1).unwrap()).unwrap();
            }
        }
        tree.commit().unwrap();
    }
    Tree::checkpoint_all(&trees).unwrap();
    let pin = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..PINS {
        drop(pool.new_page(pin).unwrap());
    }
    pool.flush_file(pin).unwrap();
    let models: Vec<Model> = (0..TREES).map(|_| Model::new(KEYS, state)).collect();
    let stop = AtomicBool::new(false);
    let commits: Vec<AtomicU64> = (0..TREES).map(|_| AtomicU64::new(0)).collect();
    let checkpoints = AtomicU64::new(0);
    let mut armed = Vec::new();
    let mut crashed: Vec<Devices> = Vec::new();
    let (mut reads, mut full, mut cycled) = (0, 0, 0);
    std::thread::scope(|s| {
        let (trees, models, stop, commits, checkpoints) = (&trees, &models, &stop, &commits, &checkpoints);
        for t in 0..TREES {
            for w in 0..WRITERS {
                s.spawn(move || {
                    let seed = seed ^ ((t as u64) << 40);
                    writer(
                        &trees[t],
                        &models[t],
                        (w, WRITERS),
                        seed,
                        stop,
                        &commits[t],
                        no_corruption,
                    )
                });
            }
        }
        let readers: Vec<_> = (0..TREES)
            .map(|t| s.spawn(move || reader(trees, t, &models[t], seed, stop)))
            .collect();
        let pool = &pool;
        let pinner = s.spawn(move || pinner(pool, pin, frames, seed, stop));
        let cycler = s.spawn(move || cycler(pool, seed, stop));
        for k in 0..2 {
            s.spawn(move || checkpointer(trees, k, seed, stop, checkpoints));
        }
        let mut rng = Rng(seed ^ 0xfa17);
        // About 60 commits per tree (or two seconds), a fault armed every few milliseconds; then the power loss
        // with every thread still running, after a checkpoint of both trees on half the seeds.
        let start = std::time::Instant::now();
        while commits.iter().any(|c| c.load(Ordering::Acquire) < 60) && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1 + rng.below(3)));
            if rng.chance(60) {
                let eio = eio && rng.chance(5);
                armed.push(arm(&devs, &mut rng, eio));
            }
        }
        for d in devs.iter() {
            d.log.clear_triggers();
            d.data.clear_triggers();
        }
        if seed.is_multiple_of(2) {
            if let Err(e) = Tree::checkpoint_all(trees) {
                no_corruption(&e, &format!("{what}: the last checkpoint"));
            }
        }
        crashed = (devs.iter().enumerate())
            .map(|(t, d)| d.power_loss(seed * 10 + 100 + t as u64 * 3, garble, true))
            .collect();
        stop.store(true, Ordering::Release);
        for r in readers {
            reads += r.join().unwrap();
        }
        full = pinner.join().unwrap();
        cycled = cycler.join().unwrap();
    });
    drop(trees);
    drop(pool);
    let garbled: u64 = devs.iter().map(|d| d.data.counts().crash_sectors_garbled).sum();
    for (t, (d, model)) in crashed.iter().zip(&models).enumerate() {
        let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
        let tree = d
            .open(&pool)
            .unwrap_or_else(|e| panic!("{what}: tree {t}: the reopen after the power loss: {e} (faults: {armed:?})"));
        tree.check()
            .unwrap_or_else(|e| panic!("{what}: tree {t}: check after the power loss: {e} (faults: {armed:?})"));
        model
            .check_committed(&tree, &format!("{what}: tree {t} after the power loss"))
            .unwrap_or_else(|e| panic!("{e} (faults: {armed:?})"));
    }
    let failed: usize = models.iter().map(|m| m.failed.lock().unwrap().len()).sum();
    format!(
        "{what}: commits {:?}, checkpoints {}, reads {reads}, ops failed {failed}, pool squeezed {full} times, faults \
         armed {}, sectors garbled {garbled}, cycled tree's rounds {cycled}",
        commits.iter().map(|c| c.load(Ordering::Relaxed)).collect::<Vec<_>>(),
        checkpoints.load(Ordering::Relaxed),
        armed.len()
    )
}

#[test]
fn structure_changes_failing_halfway_under_threads_then_a_power_loss_lose_nothing() {
    let runs: u64 = std::env::var("BUFPOOL_STRUCTURE_CONCURRENT_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let first: u64 = std::env::var("BUFPOOL_STRUCTURE_CONCURRENT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(49_000);
    let mut failed_ops = 0;
    for seed in first..first + runs {
        let line = run(seed);
        eprintln!("{line}");
        failed_ops += u64::from(!line.contains("ops failed 0,"));
    }
    for (class, n) in ERRORS.lock().unwrap().iter() {
        eprintln!("{n:>8} {class}");
    }
    // Runs whose structure changes never failed tested nothing.
    assert!(failed_ops > 0, "no run had an op fail");
}
