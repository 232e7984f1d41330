//! A whole-API model of the B+tree (session 39, btmodel39): threads, injected device faults, panicking and
//! re-entrant closures, commits, checkpoints, closes and power losses, all mixed, in seeded schedules.
//!
//! The narrow tests each take one of these at a time (`model.rs`: one thread, no faults; `concurrent.rs`:
//! threads, no faults; `structure_faults_everywhere.rs`, `read_faults_everywhere.rs`: faults, one thread;
//! `sim_crash*.rs`: crashes, one thread; `api_concurrent_edges.rs`: panics in closures). Users meet them together.
//!
//! # A schedule
//! One pool of 16 to 48 frames of 4 KiB holds two trees, each with its data file and its log on a
//! `FaultyStorage` (one schedule in three gives a tree the smallest bounded log). 3 or 4 threads run random
//! operations on either tree for several *epochs*. Key ids `0..IDS` of each tree belong to thread `id % (T + 1)`,
//! or, for `T`, to nobody (shared): a thread's own keys are changed only by it, so its expected state is exact;
//! the shared keys are put and deleted by all, and only their values' form is checked (a value names its key's id,
//! a version and its length, and its bytes follow from them: `common::sized_value`). Keys are `common::key`'s
//! (long, so a tree gets several levels), values 16 to 1000 bytes, so puts split leaves and inner nodes and
//! deletes merge them, in a pool small enough that structure changes evict dirty pages.
//!
//! Operations: `put` and `delete` of own and shared keys; `get`, `get_with` (whose closure sometimes panics),
//! `get_many`, `get_many_hinted` (whose closure sometimes panics, or reads the tree again); `scan` (whose closure
//! sometimes panics, stops early, reads an own key again or puts a shared one, which can split the leaf being
//! scanned); `range` (consumed in part or whole); `commit`; `checkpoint`, `checkpoint_spread`, and
//! `Tree::checkpoint_all` of both trees; and one-shot `ENOSPC` on the next write of one of the four storages.
//! Each epoch draws, per storage, a fault rate (none on half of them): EIO on reads, writes and syncs, short reads
//! and writes (`FaultConfig::honest`).
//!
//! # What must hold
//! Per operation: `Ok`, or an error of the kinds an I/O fault, a full device or a small pool explain
//! (`allowed`); never a panic out of the library (a closure's own panic, a `ClosurePanic`, comes back out of the
//! call it was given to, and the thread goes on: nothing was left latched, or a later operation or the epoch's
//! `Tree::check` would hang, which the watchdog turns into a failure naming the seed). Every operation that
//! returned `Ok` is what the thread's later reads see (a read of an own key equals the model, a scan or range
//! over a span holds exactly the thread's own keys in it, once each, in order); one that returned an error left
//! no trace (the docs of `put` and `delete`: "errors leave the tree as it was").
//!
//! At the end of an epoch, one of:
//! - **power loss**, either at a random operation while the threads run (the data storages lose power first,
//!   then the logs: a log never ends up behind its data file, as with one power cut) or after they stopped;
//! - **restart**: the process ends with everything it wrote kept (the storages' live images), synced or not;
//! - **close**: `Tree::close` of both trees (faults off), then both reopened in the same pool.
//!
//! Before a restart or a close, and before a power loss that waits for the threads, `Tree::check` must be clean
//! and the contents must match the models. After the reopen (recovery, faults off): `Tree::check` clean, every key
//! one of ours with a well-formed value, and, for each thread and tree, the thread's own keys in the state after
//! some prefix of its successful changes no shorter than the last one a commit or a checkpoint covered. A
//! `commit` (or checkpoint) that returned `Ok` covers every change that had returned `Ok`, on any thread, before
//! it was called (`Tree::commit`: "makes every change made before the call durable"; a checkpoint writes and
//! syncs every dirty page, each after the log up to its LSN). After a close that succeeded, every change must be
//! there.
//!
//! # Sizes
//! CI: 20 schedules (seconds in a debug build). Long: `BUFPOOL_BTREE_MODEL_SCHEDULES=N` schedules from seed
//! `BUFPOOL_BTREE_MODEL_FIRST=S` (default 0), e.g.
//! `BUFPOOL_BTREE_MODEL_FIRST=1000 BUFPOOL_BTREE_MODEL_SCHEDULES=2000 cargo test --release -p bufpool-btree --test
//! integration -- whole_api_model:: --nocapture`; the figures printed at the end are RELIABILITY.md's.

use crate::common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bufpool::storage::{Fault, FaultConfig, FaultCounts, FaultyStorage, Op as IoOp};
use bufpool::BufferPool;
use bufpool_btree::{Error, Tree, TreeWal};
use common::{key, mix, sized_value, Rng};

/// Trees of a schedule, in one pool.
const TREES: usize = 2;
/// Key ids of each tree.
const IDS: u64 = 600;
/// Epochs of a schedule (each ends in a power loss, a restart or a close; then the reopen is checked).
const EPOCHS: usize = 3;
/// Operations of each thread in an epoch.
const OPS: u64 = 60;
/// The longest a schedule may take before it counts as hung.
const WATCHDOG: Duration = Duration::from_secs(300);
/// The capacity of a bounded log (one tree in three): the smallest.
const BOUNDED_LOG: u64 = 1024 + 2 * bufpool_btree::REGION_MIN;

/// The schedules run: `BUFPOOL_BTREE_MODEL_SCHEDULES` of them (24) from seed `BUFPOOL_BTREE_MODEL_FIRST` (0).
fn schedules() -> std::ops::Range<u64> {
    let var = |name, default| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let first = var("BUFPOOL_BTREE_MODEL_FIRST", 0);
    first..first + var("BUFPOOL_BTREE_MODEL_SCHEDULES", 20)
}

/// The payload of a closure's own panic, told apart from a panic of the library.
struct ClosurePanic;

/// A value in the model: its version and length (`sized_value(id, ver, len)`).
type Val = (u64, usize);

/// The value of `id` a model entry stands for.
fn bytes(id: u64, v: Val) -> Vec<u8> {
    sized_value(id, v.0, v.1)
}

/// The model entry of `v`, read under `id`'s key, if it is one of ours for that id.
fn parse(id: u64, v: &[u8]) -> Result<Val, String> {
    if v.len() < 16 || v[..8] != id.to_le_bytes() {
        return Err(format!("value of {} bytes under id {id} does not name it", v.len()));
    }
    let ver = u64::from_le_bytes(v[8..16].try_into().unwrap());
    if sized_value(id, ver, v.len()) != v {
        return Err(format!(
            "value under id {id} (version {ver:#x}, {} bytes) is garbled",
            v.len()
        ));
    }
    Ok((ver, v.len()))
}

fn in_range(k: &[u8], lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    let above = match lo {
        Bound::Included(l) => k >= l,
        Bound::Excluded(l) => k > l,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(h) => k <= h,
        Bound::Excluded(h) => k < h,
        Bound::Unbounded => true,
    };
    above && below
}

/// Errors an injected fault, a full device (or bounded log) or a small pool explain. Anything else from an
/// operation (a corrupt node, a broken invariant, a panic the pool caught, a log that is not the tree's) is a
/// defect, unless the storages lost power under the operation.
fn allowed(e: &Error) -> bool {
    use bufpool::Error as P;
    match e {
        Error::Log(_) | Error::NoSpace(_) => true,
        Error::Pool(p) => matches!(
            p,
            P::Io { .. }
                | P::NoSpace { .. }
                | P::ShortRead { .. }
                | P::PoolExhausted { .. }
                | P::FileFailed { .. }
                | P::Wal { .. }
                | P::WalNoSpace { .. }
                | P::CheckpointFailed { .. }
        ),
        _ => false,
    }
}

/// What a power loss or a restart leaves of each tree's storages: `[tree] = (log, data)`.
type Images = Vec<(Vec<u8>, Vec<u8>)>;

/// One tree's storages: they outlive the pool and trees of an epoch (a restart or a power loss makes new ones
/// from their images).
struct Store {
    log: Arc<FaultyStorage>,
    data: Arc<FaultyStorage>,
    bounded: bool,
}

/// One thread's part of one tree.
#[derive(Default, Clone)]
struct Part {
    /// The thread's own keys at the epoch's start (as recovered).
    base: BTreeMap<u64, Val>,
    /// Its own keys now: `base` with `ops` applied.
    model: BTreeMap<u64, Val>,
    /// Its changes of own keys that returned `Ok` this epoch, in order (`None`: deleted).
    ops: Vec<(u64, Option<Val>)>,
}

/// What every thread of a schedule shares during an epoch.
struct Epoch<'a> {
    seed: u64,
    threads: usize,
    trees: &'a [Tree],
    stores: &'a [Store],
    keys: &'a [Vec<u8>],
    /// Each key's id.
    ids: &'a HashMap<Vec<u8>, u64>,
    /// `[tree][thread]`: how many of the thread's changes of own keys had returned `Ok` (published after each).
    done: Vec<Vec<AtomicU64>>,
    /// `[tree][thread]`: how many of them a successful commit or checkpoint covers.
    floor: Mutex<Vec<Vec<u64>>>,
    /// Operations started in the epoch, over all threads; the one numbered `crash_at` cuts the power first.
    started: AtomicU64,
    crash_at: u64,
    /// The images the power loss left: `[tree] = (log, data)`.
    crashed: Mutex<Option<Images>>,
    stop: AtomicBool,
    violations: Mutex<Vec<String>>,
    tally: &'a Tally,
    /// What each thread is doing, for the watchdog's report.
    doing: &'a [Mutex<String>],
}

#[derive(Default)]
struct Tally {
    ops_ok: AtomicU64,
    ops_failed: AtomicU64,
    closure_panics: AtomicU64,
    reentrant_calls: AtomicU64,
    commits_ok: AtomicU64,
    checkpoints_ok: AtomicU64,
    nospace_injected: AtomicU64,
    power_losses_running: AtomicU64,
    power_losses_stopped: AtomicU64,
    restarts: AtomicU64,
    closes: AtomicU64,
    closes_failed: AtomicU64,
    reopens_checked: AtomicU64,
    /// Opens refused by faults (then opened again without).
    opens_refused: AtomicU64,
    /// Epoch ends whose trees faults had left unreadable in part (their check skipped; the reopen's is not).
    end_checks_skipped: AtomicU64,
    keys_checked: AtomicU64,
    ops_recovered: AtomicU64,
    ops_lost_uncommitted: AtomicU64,
    faults: Mutex<FaultCounts>,
}

impl Epoch<'_> {
    fn crashed(&self) -> bool {
        self.crashed.lock().unwrap().is_some()
    }

    fn violation(&self, what: String) {
        self.stop.store(true, Ordering::SeqCst);
        self.violations
            .lock()
            .unwrap()
            .push(format!("seed {}: {what}", self.seed));
    }

    fn power_loss(&self) {
        let mut crashed = self.crashed.lock().unwrap();
        if crashed.is_none() {
            *crashed = Some(power_loss(self.stores));
        }
    }

    /// A `Tree`'s error from an operation: counted, and a violation unless allowed or after the power loss.
    fn failed(&self, what: &str, e: &Error) {
        self.tally.ops_failed.fetch_add(1, Ordering::Relaxed);
        if !allowed(e) && !self.crashed() {
            self.violation(format!("{what}: unexpected error {e:?}"));
        }
    }
}

/// One thread's run of an epoch.
struct Worker<'e, 'a> {
    e: &'e Epoch<'a>,
    me: usize,
    rng: Rng,
    parts: Vec<Part>,
    next_ver: u64,
    history: VecDeque<String>,
}

impl Worker<'_, '_> {
    fn note(&mut self, what: String) {
        *self.e.doing[self.me].lock().unwrap() = what.clone();
        if self.history.len() == 12 {
            self.history.pop_front();
        }
        self.history.push_back(what);
    }

    fn violation(&self, what: String) {
        let history: Vec<&String> = self.history.iter().collect();
        self.e
            .violation(format!("thread {}: {what}; its last operations: {history:?}", self.me));
    }

    fn owner(&self, id: u64) -> usize {
        (id % (self.e.threads as u64 + 1)) as usize
    }

    /// A random id of owner `owner` (a thread, or `threads` for the shared ones).
    fn id_of_owner(&mut self, owner: usize) -> u64 {
        let step = self.e.threads as u64 + 1;
        owner as u64 + step * self.rng.below((IDS - 1 - owner as u64) / step + 1)
    }

    /// A random id of this thread's own.
    fn own_id(&mut self) -> u64 {
        self.id_of_owner(self.me)
    }

    fn shared_id(&mut self) -> u64 {
        self.id_of_owner(self.e.threads)
    }

    fn any_id(&mut self) -> u64 {
        self.rng.below(IDS)
    }

    /// A value length: mostly short, sometimes long enough that a few fill a leaf.
    fn len(&mut self) -> usize {
        match self.rng.below(10) {
            0..=5 => 16 + self.rng.below(120) as usize,
            6..=8 => 16 + self.rng.below(400) as usize,
            _ => 600 + self.rng.below(400) as usize,
        }
    }

    fn ver(&mut self) -> u64 {
        self.next_ver += 1;
        ((self.me as u64 + 1) << 40) | self.next_ver
    }

    /// Checks a read of `id` that returned `got`: exact for an own key, well-formed otherwise.
    fn check_read(&self, t: usize, what: &str, id: u64, got: Option<&[u8]>) {
        if self.owner(id) == self.me {
            let want = self.parts[t].model.get(&id).map(|&v| bytes(id, v));
            if got != want.as_deref() {
                self.violation(format!(
                    "{what} of own id {id} in tree {t}: got {:?}, the model says {:?}",
                    got.map(|g| parse(id, g)),
                    self.parts[t].model.get(&id)
                ));
            }
        } else if let Some(g) = got {
            if let Err(m) = parse(id, g) {
                self.violation(format!("{what} in tree {t}: {m}"));
            }
        }
    }

    /// Records a successful change of an own key.
    fn changed(&mut self, t: usize, id: u64, v: Option<Val>) {
        let p = &mut self.parts[t];
        match v {
            Some(v) => p.model.insert(id, v),
            None => p.model.remove(&id),
        };
        p.ops.push((id, v));
        self.e.done[t][self.me].store(p.ops.len() as u64, Ordering::SeqCst);
    }

    /// After a change of own key `id` failed: it left no trace (if the key can be read).
    fn read_back(&self, t: usize, id: u64, what: &str) {
        if let Ok(v) = self.e.trees[t].get(&self.e.keys[id as usize]) {
            self.check_read(t, &format!("get after a failed {what}"), id, v.as_deref());
        }
    }

    fn ok(&self) {
        self.e.tally.ops_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// A commit or checkpoint of trees `ts` by `run`: on `Ok`, every change that had returned `Ok` before it is
    /// durable.
    fn durable_op(&mut self, what: &str, ts: &[usize], run: impl FnOnce() -> bufpool_btree::Result<()>) -> bool {
        let before: Vec<Vec<u64>> = ts
            .iter()
            .map(|&t| self.e.done[t].iter().map(|d| d.load(Ordering::SeqCst)).collect())
            .collect();
        match run() {
            Ok(()) => {
                self.ok();
                let mut floor = self.e.floor.lock().unwrap();
                for (&t, counts) in ts.iter().zip(before) {
                    for (f, c) in floor[t].iter_mut().zip(counts) {
                        *f = (*f).max(c);
                    }
                }
                true
            }
            Err(err) => {
                self.e.failed(what, &err);
                false
            }
        }
    }

    fn range_bounds(&mut self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let end = |w: &mut Self| match w.rng.below(5) {
            0 => Bound::Unbounded,
            1 => Bound::Excluded(key(w.any_id())),
            _ => Bound::Included(key(w.any_id())),
        };
        let lo = end(self);
        let hi = end(self);
        // Mostly ordered (a reversed range returns nothing, which says little).
        match (lo, hi) {
            (Bound::Included(a), Bound::Included(b)) if a > b && !self.rng.chance(10) => {
                (Bound::Included(b), Bound::Included(a))
            }
            other => other,
        }
    }

    /// Checks what a scan or range of tree `t` over `(lo, hi)` returned: in order, in range, each a key of ours
    /// with a well-formed value, own keys equal to the model; if `whole`, every own key of the span was returned.
    fn check_scan(
        &self,
        t: usize,
        what: &str,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        seen: &[(u64, Vec<u8>)],
        whole: bool,
    ) {
        let mut own = 0;
        for (i, (id, v)) in seen.iter().enumerate() {
            let k = &self.e.keys[*id as usize];
            if i > 0 && self.e.keys[seen[i - 1].0 as usize] >= *k {
                self.violation(format!(
                    "{what} of tree {t}: id {id} after id {}, out of order",
                    seen[i - 1].0
                ));
            }
            if !in_range(k, lo, hi) {
                self.violation(format!("{what} of tree {t}: id {id} outside the range"));
            }
            self.check_read(t, what, *id, Some(v));
            own += usize::from(self.owner(*id) == self.me);
        }
        if whole {
            let want = self.parts[t]
                .model
                .keys()
                .filter(|&&id| in_range(&self.e.keys[id as usize], lo, hi))
                .count();
            if want != own {
                self.violation(format!(
                    "{what} of tree {t} returned {own} own keys of the {want} the model has in the range"
                ));
            }
        }
    }

    fn id_of(&self, k: &[u8]) -> Option<u64> {
        self.e.ids.get(k).copied()
    }

    fn run(&mut self) {
        for _ in 0..OPS {
            if self.e.stop.load(Ordering::SeqCst) {
                return;
            }
            if self.e.started.fetch_add(1, Ordering::SeqCst) == self.e.crash_at {
                self.note("power loss".into());
                self.e.power_loss();
            }
            let t = self.rng.below(TREES as u64) as usize;
            let roll = self.rng.below(100);
            let result = catch_unwind(AssertUnwindSafe(|| self.op(t, roll)));
            if let Err(payload) = result {
                if payload.is::<ClosurePanic>() {
                    self.e.tally.closure_panics.fetch_add(1, Ordering::Relaxed);
                } else {
                    let msg = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    self.violation(format!("the library panicked: {msg}"));
                }
            }
        }
    }

    fn op(&mut self, t: usize, roll: u64) {
        let e = self.e;
        let tree = &e.trees[t];
        match roll {
            // Put an own key.
            0..=29 => {
                let (id, v) = (self.own_id(), (self.ver(), self.len()));
                self.note(format!("put own {id} {v:?} in tree {t}"));
                match tree.put(&e.keys[id as usize], &bytes(id, v)) {
                    Ok(()) => {
                        self.ok();
                        self.changed(t, id, Some(v));
                    }
                    Err(err) => {
                        e.failed("put", &err);
                        self.read_back(t, id, "put");
                        // A bounded log's full region (or a full device): a checkpoint frees it.
                        if err.is_no_space() && self.rng.chance(50) {
                            self.durable_op("checkpoint after NoSpace", &[t], || tree.checkpoint());
                        }
                    }
                }
            }
            // Delete an own key.
            30..=44 => {
                let id = self.own_id();
                self.note(format!("delete own {id} in tree {t}"));
                match tree.delete(&e.keys[id as usize]) {
                    Ok(was) => {
                        self.ok();
                        if was != self.parts[t].model.contains_key(&id) {
                            self.violation(format!(
                                "delete of own id {id} in tree {t} returned {was}, the model has {:?}",
                                self.parts[t].model.get(&id)
                            ));
                        }
                        if was {
                            self.changed(t, id, None);
                        }
                    }
                    Err(err) => {
                        e.failed("delete", &err);
                        self.read_back(t, id, "delete");
                    }
                }
            }
            // Put or delete a shared key.
            45..=51 => {
                let id = self.shared_id();
                if self.rng.chance(60) {
                    let v = (self.ver(), self.len());
                    self.note(format!("put shared {id} {v:?} in tree {t}"));
                    match tree.put(&e.keys[id as usize], &bytes(id, v)) {
                        Ok(()) => self.ok(),
                        Err(err) => e.failed("put shared", &err),
                    }
                } else {
                    self.note(format!("delete shared {id} in tree {t}"));
                    match tree.delete(&e.keys[id as usize]) {
                        Ok(_) => self.ok(),
                        Err(err) => e.failed("delete shared", &err),
                    }
                }
            }
            // get, or get_with whose closure may panic.
            52..=59 => {
                let id = if self.rng.chance(60) {
                    self.own_id()
                } else {
                    self.any_id()
                };
                let boom = self.rng.chance(15);
                self.note(format!("get {id} in tree {t} (panic: {boom})"));
                if self.rng.chance(50) {
                    match tree.get(&e.keys[id as usize]) {
                        Ok(v) => {
                            self.ok();
                            self.check_read(t, "get", id, v.as_deref());
                        }
                        Err(err) => e.failed("get", &err),
                    }
                } else {
                    let me = &*self;
                    match tree.get_with(&e.keys[id as usize], |v| {
                        me.check_read(t, "get_with", id, v);
                        if boom {
                            std::panic::panic_any(ClosurePanic);
                        }
                    }) {
                        Ok(()) => self.ok(),
                        Err(err) => e.failed("get_with", &err),
                    }
                }
            }
            // get_many, or get_many_hinted whose closure may panic or read the tree again.
            60..=66 => {
                let n = 1 + self.rng.below(16) as usize;
                let ids: Vec<u64> = (0..n)
                    .map(|_| {
                        if self.rng.chance(50) {
                            self.own_id()
                        } else {
                            self.any_id()
                        }
                    })
                    .collect();
                let ks: Vec<&[u8]> = ids.iter().map(|&id| e.keys[id as usize].as_slice()).collect();
                let (boom_at, reenter) = (self.rng.below(3 * n as u64) as usize, self.rng.chance(30));
                self.note(format!(
                    "get_many {ids:?} in tree {t} (panic at {boom_at}, reenter {reenter})"
                ));
                if self.rng.chance(50) {
                    match tree.get_many(&ks) {
                        Ok(vs) => {
                            self.ok();
                            if vs.len() != n {
                                self.violation(format!("get_many of {n} keys gave {} results", vs.len()));
                            }
                            for (&id, v) in ids.iter().zip(&vs) {
                                self.check_read(t, "get_many", id, v.as_deref());
                            }
                        }
                        Err(err) => e.failed("get_many", &err),
                    }
                } else {
                    let mut calls = vec![0u32; n];
                    let me = &*self;
                    let other = ids[0];
                    let r = tree.get_many_hinted(&ks, |i, v, _hint| {
                        calls[i] += 1;
                        me.check_read(t, "get_many_hinted", ids[i], v);
                        if reenter {
                            e.tally.reentrant_calls.fetch_add(1, Ordering::Relaxed);
                            match tree.get(&e.keys[other as usize]) {
                                Ok(v) => me.check_read(t, "get inside get_many_hinted", other, v.as_deref()),
                                Err(err) => e.failed("get inside get_many_hinted", &err),
                            }
                        }
                        if i == boom_at {
                            std::panic::panic_any(ClosurePanic);
                        }
                    });
                    match r {
                        Ok(()) => {
                            self.ok();
                            if calls.iter().any(|&c| c != 1) {
                                self.violation(format!("get_many_hinted called back {calls:?} times per key"));
                            }
                        }
                        Err(err) => e.failed("get_many_hinted", &err),
                    }
                }
            }
            // scan, its closure panicking, stopping, reading or putting again.
            67..=74 => {
                let (lo, hi) = self.range_bounds();
                let (lo, hi) = (lo.as_ref().map(Vec::as_slice), hi.as_ref().map(Vec::as_slice));
                let boom_at = self.rng.below(60) as usize;
                let stop_at = self.rng.below(80) as usize;
                let mode = self.rng.below(4);
                let (own, shared, v) = (self.own_id(), self.shared_id(), (self.ver(), self.len()));
                self.note(format!(
                    "scan of tree {t} ({:?}..{:?}) panic at {boom_at}, stop at {stop_at}, mode {mode}",
                    lo.map(|k| self.id_of(k)),
                    hi.map(|k| self.id_of(k))
                ));
                let mut seen = Vec::new();
                let me = &*self;
                let mut stopped = false;
                let r = tree.scan((lo, hi), |k, val| {
                    let Some(id) = me.id_of(k) else {
                        me.violation(format!("scan of tree {t} returned a key that was never written: {k:?}"));
                        return false;
                    };
                    seen.push((id, val.to_vec()));
                    match mode {
                        0 if seen.len() == boom_at => std::panic::panic_any(ClosurePanic),
                        1 if seen.len() % 16 == 3 => {
                            e.tally.reentrant_calls.fetch_add(1, Ordering::Relaxed);
                            match tree.get(&e.keys[own as usize]) {
                                Ok(got) => me.check_read(t, "get inside scan", own, got.as_deref()),
                                Err(err) => e.failed("get inside scan", &err),
                            }
                        }
                        2 if seen.len() % 16 == 2 => {
                            e.tally.reentrant_calls.fetch_add(1, Ordering::Relaxed);
                            if let Err(err) = tree.put(&e.keys[shared as usize], &bytes(shared, v)) {
                                e.failed("put inside scan", &err);
                            }
                        }
                        3 if seen.len() == stop_at => {
                            stopped = true;
                            return false;
                        }
                        _ => {}
                    }
                    true
                });
                match r {
                    Ok(()) => {
                        self.ok();
                        self.check_scan(t, "scan", lo, hi, &seen, !stopped);
                    }
                    Err(err) => {
                        e.failed("scan", &err);
                        self.check_scan(t, "scan (failed)", lo, hi, &seen, false);
                    }
                }
            }
            // range, consumed in part or whole.
            75..=80 => {
                let (lo, hi) = self.range_bounds();
                let (lo, hi) = (lo.as_ref().map(Vec::as_slice), hi.as_ref().map(Vec::as_slice));
                let limit = if self.rng.chance(70) {
                    usize::MAX
                } else {
                    self.rng.below(40) as usize
                };
                self.note(format!("range of tree {t}, up to {limit} pairs"));
                let mut seen = Vec::new();
                let mut failed = false;
                for pair in tree.range((lo, hi)).take(limit) {
                    match pair {
                        Ok((k, v)) => match self.id_of(&k) {
                            Some(id) => seen.push((id, v)),
                            None => {
                                self.violation(format!("range of tree {t} returned a foreign key {k:?}"));
                                return;
                            }
                        },
                        Err(err) => {
                            e.failed("range", &err);
                            failed = true;
                            break;
                        }
                    }
                }
                if !failed {
                    self.ok();
                }
                self.check_scan(t, "range", lo, hi, &seen, !failed && seen.len() < limit);
            }
            81..=87 => {
                self.note(format!("commit of tree {t}"));
                if self.durable_op("commit", &[t], || tree.commit()) {
                    e.tally.commits_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
            88..=91 => {
                let kind = self.rng.below(4);
                self.note(format!("checkpoint of tree {t} (kind {kind})"));
                let ok = match kind {
                    0 | 1 => self.durable_op("checkpoint", &[t], || tree.checkpoint()),
                    2 => {
                        let ms = 1 + self.rng.below(4);
                        self.durable_op("checkpoint_spread", &[t], || {
                            tree.checkpoint_spread(Duration::from_millis(ms))
                        })
                    }
                    _ => self.durable_op("checkpoint_all", &[0, 1], || Tree::checkpoint_all(e.trees)),
                };
                if ok {
                    e.tally.checkpoints_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
            92..=93 => {
                let s = &e.stores[t];
                let log = self.rng.chance(50);
                self.note(format!(
                    "ENOSPC on the next write of tree {t}'s {}",
                    if log { "log" } else { "data" }
                ));
                let storage = if log { &s.log } else { &s.data };
                storage.inject_next(IoOp::Write, Fault::NoSpace);
                e.tally.nospace_injected.fetch_add(1, Ordering::Relaxed);
            }
            // Read an own key back through every reader (no closures): the model's main check.
            _ => {
                let id = self.own_id();
                self.note(format!("read back own {id} in tree {t}"));
                match tree.get(&e.keys[id as usize]) {
                    Ok(v) => {
                        self.ok();
                        self.check_read(t, "get", id, v.as_deref());
                    }
                    Err(err) => e.failed("get", &err),
                }
            }
        }
    }
}

/// Why the contents could not be checked: the tree's error, or what was wrong with them.
enum Unreadable {
    Tree(Error),
    Wrong(String),
}

/// The contents of `tree` by id, each checked to be one of ours with a well-formed value.
fn contents(tree: &Tree, ids: &HashMap<Vec<u8>, u64>) -> Result<BTreeMap<u64, Val>, Unreadable> {
    let mut out = BTreeMap::new();
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.map_err(Unreadable::Tree)?;
        let id = *ids
            .get(&k)
            .ok_or_else(|| Unreadable::Wrong(format!("a key that was never written: {k:?}")))?;
        out.insert(id, parse(id, &v).map_err(Unreadable::Wrong)?);
    }
    Ok(out)
}

/// Checks a recovered (or still open) tree `t` against each thread's part: the thread's own keys must be the
/// state after a prefix of its changes no shorter than `floor[thread]` (all of them: `floor = ops.len()`). On
/// success each part's base and model become what was found.
#[allow(clippy::too_many_arguments)] // the schedule's state, passed apart so each call says what it checks
fn check_tree(
    tree: &Tree,
    t: usize,
    threads: usize,
    parts: &mut [Vec<Part>],
    floor: &[u64],
    ids: &HashMap<Vec<u8>, u64>,
    tally: &Tally,
    still_open: bool,
) -> Result<(), String> {
    // A tree still open after faults may be unreadable in part: a failed log or data file cannot write the
    // dirty pages a miss must evict, and `check` takes the meta page's write latch, which a failed data file
    // refuses (R39-O1). Then the epoch's end is not checked (counted); the reopen's check must pass.
    match tree.check() {
        Ok(_) => {}
        Err(e) if still_open && allowed(&e) => {
            tally.end_checks_skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        Err(e) => return Err(format!("tree {t}: check: {e}")),
    }
    let got = match contents(tree, ids) {
        Ok(got) => got,
        Err(Unreadable::Tree(e)) if still_open && allowed(&e) => {
            tally.end_checks_skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        Err(Unreadable::Tree(e)) => return Err(format!("tree {t}: scan: {e}")),
        Err(Unreadable::Wrong(e)) => return Err(format!("tree {t}: {e}")),
    };
    tally.keys_checked.fetch_add(got.len() as u64, Ordering::Relaxed);
    for (th, part) in parts.iter_mut().enumerate() {
        let p = &mut part[t];
        let mine: BTreeMap<u64, Val> = got
            .iter()
            .filter(|(&id, _)| (id % (threads as u64 + 1)) as usize == th)
            .map(|(&id, &v)| (id, v))
            .collect();
        let floor = (floor[th] as usize).min(p.ops.len());
        let mut state = p.base.clone();
        for &(id, v) in &p.ops[..floor] {
            match v {
                Some(v) => state.insert(id, v),
                None => state.remove(&id),
            };
        }
        let mut found = (state == mine).then_some(floor);
        for (i, &(id, v)) in p.ops.iter().enumerate().skip(floor) {
            if found.is_some() {
                break;
            }
            match v {
                Some(v) => state.insert(id, v),
                None => state.remove(&id),
            };
            if state == mine {
                found = Some(i + 1);
            }
        }
        let Some(n) = found else {
            let diff: Vec<String> = mine
                .keys()
                .chain(p.model.keys())
                .filter(|id| mine.get(id) != p.model.get(id))
                .take(6)
                .map(|id| format!("id {id}: found {:?}, model {:?}", mine.get(id), p.model.get(id)))
                .collect();
            return Err(format!(
                "tree {t}, thread {th}: own keys are no prefix of its changes of at least {floor} (of {}): {} \
                 found, {} in the model; first differences from the whole model: {diff:?}; changes: {:?}",
                p.ops.len(),
                mine.len(),
                p.model.len(),
                &p.ops[p.ops.len().saturating_sub(8)..]
            ));
        };
        tally.ops_recovered.fetch_add(n as u64, Ordering::Relaxed);
        tally
            .ops_lost_uncommitted
            .fetch_add((p.ops.len() - n) as u64, Ordering::Relaxed);
        p.base = mine.clone();
        p.model = mine;
        p.ops.clear();
    }
    Ok(())
}

/// Opens every tree of `stores` in a new pool of `frames` frames (faults off).
fn open_all(
    stores: &[Store],
    frames: usize,
    faults: f64,
    tally: &Tally,
) -> Result<(Arc<BufferPool>, Vec<Tree>), String> {
    let pool = Arc::new(common::pool_builder().frames(frames).page_size(4096).build().unwrap());
    let trees = open_in(&pool, stores, faults, tally)?;
    Ok((pool, trees))
}

/// Opens every tree of `stores` in `pool`. With `faults` above zero the first attempt runs under faults at that
/// rate (`FaultConfig::honest`): an open they refuse must leave the pool and the storages so that a second
/// attempt, without faults, opens the tree (`Tree::open`: "whatever refuses the open ..., the pool is left as
/// before the call"), and the recovered tree is checked as any other. Faults are off on return.
fn open_in(pool: &Arc<BufferPool>, stores: &[Store], faults: f64, tally: &Tally) -> Result<Vec<Tree>, String> {
    let set = |s: &Store, p: f64| {
        s.log.set_config(FaultConfig::honest(p));
        s.data.set_config(FaultConfig::honest(p));
    };
    let open = |s: &Store| {
        let wal = match s.bounded {
            true => TreeWal::open_storage_with_capacity(s.log.clone(), BOUNDED_LOG),
            false => TreeWal::open_storage(s.log.clone()),
        }?;
        Tree::open_storage(pool.clone(), wal, s.data.clone())
    };
    stores
        .iter()
        .enumerate()
        .map(|(t, s)| {
            if faults > 0.0 {
                set(s, faults);
                let first = open(s);
                set(s, 0.0);
                match first {
                    Ok(tree) => return Ok(tree),
                    Err(e) if allowed(&e) || matches!(e, Error::Pool(bufpool::Error::OpenIo { .. })) => {
                        tally.opens_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => return Err(format!("tree {t}: open under faults: unexpected error {e:?}")),
                }
            }
            open(s).map_err(|e| format!("tree {t}: open: {e}"))
        })
        .collect()
}

/// Power loss of every storage: the data storages first, then the logs (a log may be ahead of its data file,
/// never behind: a page the pool writes after its data storage lost power is lost with it). The images, `[tree] =
/// (log, data)`.
fn power_loss(stores: &[Store]) -> Images {
    let data: Vec<Vec<u8>> = stores.iter().map(|s| s.data.crash()).collect();
    stores.iter().zip(data).map(|(s, d)| (s.log.crash(), d)).collect()
}

/// Adds the fault counts of `stores` (cumulative over each storage's life) to `tally`.
fn tally_faults(stores: &[Store], tally: &Tally) {
    for s in stores {
        let mut c = s.log.counts();
        c.add(&s.data.counts());
        tally.faults.lock().unwrap().add(&c);
    }
}

/// The fault rate of a reopen's first attempt: none on half of them, and none at all with
/// `BUFPOOL_BTREE_MODEL_OPEN_FAULTS=0` (until R39-2 was fixed, a retry after an attempt whose log fsync failed
/// trusted records that never became durable, and these reopens were off by default). The draw is made either
/// way, so a seed's other choices stay the same.
fn open_faults(rng: &mut Rng) -> f64 {
    let p = [0.0, 0.0, 0.005, 0.02][rng.below(4) as usize];
    match std::env::var("BUFPOOL_BTREE_MODEL_OPEN_FAULTS").as_deref() {
        Ok("0") => 0.0,
        _ => p,
    }
}

/// How an epoch ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    PowerLossRunning,
    PowerLossStopped,
    Restart,
    Close,
}

/// Runs schedule `seed`; its violations.
fn run_schedule(seed: u64, tally: &Tally, doing: &[Mutex<String>]) -> Vec<String> {
    let mut rng = Rng(mix(seed ^ 0x5eed_b7ee));
    let threads = 3 + rng.below(2) as usize;
    let frames = 16 + rng.below(33) as usize;
    let keys: Vec<Vec<u8>> = (0..IDS).map(key).collect();
    let ids: HashMap<Vec<u8>, u64> = keys.iter().cloned().zip(0..).collect();
    let mut stores: Vec<Store> = (0..TREES)
        .map(|_| Store {
            log: Arc::new(FaultyStorage::new(rng.next(), FaultConfig::none())),
            data: Arc::new(FaultyStorage::new(rng.next(), FaultConfig::none())),
            bounded: rng.below(3) == 0,
        })
        .collect();
    let mut parts: Vec<Vec<Part>> = vec![vec![Part::default(); TREES]; threads];
    let mut floor = vec![vec![0u64; threads]; TREES];
    let (mut pool, mut trees) = match open_all(&stores, frames, 0.0, tally) {
        Ok(x) => x,
        Err(e) => return vec![format!("seed {seed}: create: {e}")],
    };
    // Most keys present from the start (faults off), so the trees have a few levels and do not fit the pool.
    for (t, tree) in trees.iter().enumerate() {
        for id in 0..IDS {
            if !rng.chance(80) {
                continue;
            }
            let v = (0, 16 + rng.below(300) as usize);
            // A bounded log fills: a checkpoint cuts it.
            let put = || tree.put(&keys[id as usize], &bytes(id, v));
            if let Err(e) = put().or_else(|e| match e.is_no_space() {
                true => tree.checkpoint().and_then(|()| put()),
                false => Err(e),
            }) {
                return vec![format!("seed {seed}: load: {e}")];
            }
            if let Some(p) = parts.get_mut((id % (threads as u64 + 1)) as usize) {
                p[t].base.insert(id, v);
                p[t].model.insert(id, v);
            }
        }
        if let Err(e) = tree.commit().and_then(|()| tree.checkpoint()) {
            return vec![format!("seed {seed}: load: {e}")];
        }
    }
    for epoch in 0..EPOCHS {
        // Faults for this epoch: per storage, none on half.
        let mut rates = Vec::new();
        for s in &stores {
            for st in [&s.log, &s.data] {
                let p = [0.0, 0.0, 0.001, 0.005][rng.below(4) as usize];
                st.set_config(FaultConfig::honest(p));
                rates.push(p);
            }
        }
        let bounded: Vec<bool> = stores.iter().map(|s| s.bounded).collect();
        let fail = |what: String| {
            vec![format!(
                "seed {seed} epoch {epoch} (fault rates of log, data per tree {rates:?}, bounded logs {bounded:?}): \
                 {what}"
            )]
        };
        let end = match rng.below(8) {
            0..=1 => End::PowerLossRunning,
            2..=3 => End::PowerLossStopped,
            4..=5 => End::Restart,
            _ => End::Close,
        };
        let total = OPS * threads as u64;
        let ep = Epoch {
            seed,
            threads,
            trees: &trees,
            stores: &stores,
            keys: &keys,
            ids: &ids,
            done: (0..TREES)
                .map(|_| (0..threads).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            floor: Mutex::new(vec![vec![0; threads]; TREES]),
            started: AtomicU64::new(0),
            crash_at: if end == End::PowerLossRunning {
                rng.below(total)
            } else {
                u64::MAX
            },
            crashed: Mutex::new(None),
            stop: AtomicBool::new(false),
            violations: Mutex::new(Vec::new()),
            tally,
            doing,
        };
        let seeds: Vec<u64> = (0..threads).map(|_| rng.next()).collect();
        let taken = std::mem::take(&mut parts);
        parts = std::thread::scope(|s| {
            let handles: Vec<_> = taken
                .into_iter()
                .zip(&seeds)
                .enumerate()
                .map(|(me, (p, &sd))| {
                    let ep = &ep;
                    s.spawn(move || {
                        let mut w = Worker {
                            e: ep,
                            me,
                            rng: Rng(sd),
                            parts: p,
                            next_ver: (epoch as u64) << 32,
                            history: VecDeque::new(),
                        };
                        w.run();
                        w.parts
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let violations = std::mem::take(&mut *ep.violations.lock().unwrap());
        if !violations.is_empty() {
            return violations;
        }
        floor = ep.floor.into_inner().unwrap();
        let mut images = ep.crashed.into_inner().unwrap();
        for s in &stores {
            // An ENOSPC injected but not yet met would fail the checks' or the close's first write.
            s.log.clear_triggers();
            s.data.clear_triggers();
        }
        if images.is_none() {
            for s in &stores {
                s.log.set_config(FaultConfig::crash_only());
                s.data.set_config(FaultConfig::crash_only());
            }
            // The threads are done: the trees must be whole and hold exactly what the models say.
            for (t, tree) in trees.iter().enumerate() {
                let all: Vec<u64> = parts.iter().map(|p| p[t].ops.len() as u64).collect();
                // On a copy: the reopen is checked against the same changes.
                let mut copy = parts.clone();
                if let Err(e) = check_tree(tree, t, threads, &mut copy, &all, &ids, tally, true) {
                    return fail(format!("before the epoch's end ({end:?}): {e}"));
                }
            }
        }
        let mut same_pool = false;
        match end {
            End::PowerLossRunning if images.is_some() => {
                tally.power_losses_running.fetch_add(1, Ordering::Relaxed);
            }
            End::PowerLossRunning | End::PowerLossStopped => {
                tally.power_losses_stopped.fetch_add(1, Ordering::Relaxed);
                images = Some(power_loss(&stores));
            }
            End::Restart => {
                tally.restarts.fetch_add(1, Ordering::Relaxed);
                images = Some(
                    stores
                        .iter()
                        .map(|s| (s.log.live_image(), s.data.live_image()))
                        .collect(),
                );
            }
            End::Close => {
                tally.closes.fetch_add(1, Ordering::Relaxed);
                let mut all_closed = true;
                for tree in trees.drain(..) {
                    if let Err(e) = tree.close() {
                        tally.closes_failed.fetch_add(1, Ordering::Relaxed);
                        all_closed = false;
                        let e = e.into_error();
                        if !allowed(&e) {
                            return fail(format!("close: unexpected error {e:?}"));
                        }
                    }
                }
                if all_closed {
                    same_pool = true;
                    // Everything must be there.
                    for (t, f) in floor.iter_mut().enumerate() {
                        for (th, f) in f.iter_mut().enumerate() {
                            *f = parts[th][t].ops.len() as u64;
                        }
                    }
                } else {
                    images = Some(
                        stores
                            .iter()
                            .map(|s| (s.log.live_image(), s.data.live_image()))
                            .collect(),
                    );
                }
            }
        }
        drop(trees);
        if same_pool {
            let faults = open_faults(&mut rng);
            trees = match open_in(&pool, &stores, faults, tally) {
                Ok(t) => t,
                Err(e) => return fail(format!("reopen after a close: {e}")),
            };
        } else {
            drop(pool);
            tally_faults(&stores, tally);
            let images = images.expect("an image for every end but a close");
            stores = stores
                .into_iter()
                .zip(images)
                .map(|(s, (log, data))| Store {
                    log: Arc::new(FaultyStorage::from_image(rng.next(), FaultConfig::none(), log)),
                    data: Arc::new(FaultyStorage::from_image(rng.next(), FaultConfig::none(), data)),
                    bounded: s.bounded,
                })
                .collect();
            let faults = open_faults(&mut rng);
            (pool, trees) = match open_all(&stores, frames, faults, tally) {
                Ok(x) => x,
                Err(e) => return fail(format!("recovery after {end:?}: {e}")),
            };
        }
        for (t, tree) in trees.iter().enumerate() {
            if let Err(e) = check_tree(tree, t, threads, &mut parts, &floor[t], &ids, tally, false) {
                return fail(format!("after {end:?} and the reopen: {e}"));
            }
        }
        tally.reopens_checked.fetch_add(1, Ordering::Relaxed);
    }
    tally_faults(&stores, tally);
    Vec::new()
}

/// Keeps the closures' own panics (`ClosurePanic`, hundreds a run) out of the test's output; every other panic
/// goes to the hook that was there.
fn quiet_closure_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<ClosurePanic>() {
                previous(info);
            }
        }));
    });
}

#[test]
fn threads_faults_panics_checkpoints_and_crashes_mixed() {
    quiet_closure_panics();
    let tally = Arc::new(Tally::default());
    let mut violations = Vec::new();
    let mut schedules_run = 0u64;
    for seed in schedules() {
        schedules_run += 1;
        let doing: Arc<Vec<Mutex<String>>> = Arc::new((0..4).map(|_| Mutex::new(String::new())).collect());
        let (tx, rx) = std::sync::mpsc::channel();
        let (t2, d2) = (tally.clone(), doing.clone());
        std::thread::spawn(move || {
            let v = run_schedule(seed, &t2, &d2);
            let _ = tx.send(v);
        });
        match rx.recv_timeout(WATCHDOG) {
            Ok(v) => violations.extend(v),
            Err(_) => {
                let doing: Vec<String> = doing.iter().map(|d| d.lock().unwrap().clone()).collect();
                panic!("seed {seed} hung for {WATCHDOG:?}; the threads were at: {doing:#?}");
            }
        }
        if violations.len() >= 10 {
            break;
        }
    }
    let t = &*tally;
    let f = *t.faults.lock().unwrap();
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "btree whole-API model: {schedules_run} schedules; ops ok {}, failed {}; closure panics {}, calls from \
         closures {}; commits ok {}, checkpoints ok {}; ENOSPC injected {}; epochs ended by power loss while \
         running {} / stopped {}, restart {}, close {} ({} failed); reopens checked {}, keys checked {}, changes \
         recovered {}, uncommitted changes lost {}; epoch ends left unchecked after faults {}; opens refused by faults {}; faults: read EIO {}, write EIO {}, sync EIO {}, ENOSPC {}, \
         short reads {}, short writes {}, writes dropped by a failed sync {}, unsynced writes at a power loss \
         kept/torn/lost {}/{}/{}; violations {}",
        n(&t.ops_ok),
        n(&t.ops_failed),
        n(&t.closure_panics),
        n(&t.reentrant_calls),
        n(&t.commits_ok),
        n(&t.checkpoints_ok),
        n(&t.nospace_injected),
        n(&t.power_losses_running),
        n(&t.power_losses_stopped),
        n(&t.restarts),
        n(&t.closes),
        n(&t.closes_failed),
        n(&t.reopens_checked),
        n(&t.keys_checked),
        n(&t.ops_recovered),
        n(&t.ops_lost_uncommitted),
        n(&t.end_checks_skipped),
        n(&t.opens_refused),
        f.read_eio,
        f.write_eio,
        f.sync_eio,
        f.write_no_space,
        f.short_reads,
        f.short_writes,
        f.writes_dropped_by_failed_sync,
        f.crash_writes_kept,
        f.crash_writes_torn,
        f.crash_writes_lost,
        violations.len()
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(n(&t.reopens_checked) > 0 && n(&t.commits_ok) > 0);
}
