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
//! Session 40 (btmodel40) added, each on by default and off with `BUFPOOL_BTREE_MODEL_OFF=covered,panics,bulk`
//! (any of them):
//! - **Hinted reads** (every schedule): `get_at_hint`, `get_many_at_hints` (hints for some keys, a shorter slice
//!   than the keys) and `get_many_part` (whole values or a part of them), with hints each thread keeps from its
//!   earlier reads and covered changes while the other threads split and merge the leaves they name, and hints of
//!   the other tree or of other keys: a stale hint must never answer a wrong value (own keys exact, each key
//!   called back once).
//! - **Covered mode** (one schedule in three): a log above both trees (its own `TreeWal` on a `FaultyStorage`,
//!   each tree's log depending on it), used as `bufpool-cli`'s TPC-C engine uses its transaction log
//!   (`Upper`): own and shared keys change by transactions of 1 to 4 changes, each one record appended above and
//!   then applied by `put_covered_run` (and `delete_covered`) or by `put_covered` / `delete_covered` one by
//!   one with kept hints, retried, and a transaction still failing breaks the log above (the epoch ends);
//!   commits and checkpoints of the log above (its end under a gate, every tree checkpointed, then the cut).
//!   Recovery redoes the log above after the trees open. Only the log above's commits and checkpoints count as
//!   covering the own keys' changes, and a transaction is all there or not at all after a reopen.
//! - **Storage panics** (one schedule in two): each storage as the trees see it (`Panicking`) panics on its Nth
//!   call once an operation arms it (a quarter of the ENOSPC injections), and in some reopens and initial bulk
//!   loads: the pool and the log must turn the panic into a typed error (`Panicked`, or the log's own).
//! - **Bulk loads** (a tree in three): the initial keys loaded by `bulk_load` under faults; refused, the tree
//!   must hold nothing or every pair, and after a restart too.
//! - **Reopens under faults on every attempt**: a reopen draws 1 to 3 attempts under faults (and sometimes a
//!   storage panic) before one without; each refused attempt must be a typed error.
//!
//! Session 41 (bt41) added, off with `BUFPOOL_BTREE_MODEL_OFF=upper_panics`:
//! - **The log above on a panicking storage** (covered mode with storage panics): a quarter of the panics armed
//!   by operations arm the log above's storage (`Upper::dev`) instead of a tree's: the log above must turn the
//!   panic into its error (appends, commits and cuts refused from then on, as after a failed write), never unwind,
//!   and the reopen keeps the prefix promise (R41-O21 in RELIABILITY.md).
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
//! CI: 20 schedules (seconds in a debug build; `BUFPOOL_BTREE_MODEL_OFF` lists features to leave out). Long: `BUFPOOL_BTREE_MODEL_SCHEDULES=N` schedules from seed
//! `BUFPOOL_BTREE_MODEL_FIRST=S` (default 0), e.g.
//! `BUFPOOL_BTREE_MODEL_FIRST=1000 BUFPOOL_BTREE_MODEL_SCHEDULES=2000 cargo test --release -p bufpool-btree --test
//! integration -- whole_api_model:: --nocapture`; the figures printed at the end are RELIABILITY.md's.
//! `BUFPOOL_BTREE_MODEL_TRACE=1` prints each reopen attempt's steps and errors, the log above's records redone and
//! its checkpoints, and after each refused attempt a fault-free recovery of copies of the storages, checked as the
//! reopen is (how R40-2 was told apart: the attempt after which the copies first lose a change).

use crate::common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bufpool::storage::{
    Fault, FaultConfig, FaultCounts, FaultyStorage, IoRequest, Op as IoOp, RecordStore, Storage, StorageInfo,
};
use bufpool::BufferPool;
use bufpool_btree::{CoveredPut, Error, LeafHint, Op, OwnedOp, Tree, TreeWal};
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
        Error::Pool(p) => {
            matches!(
                p,
                P::Io { .. }
                    | P::NoSpace { .. }
                    | P::ShortRead { .. }
                    | P::PoolExhausted { .. }
                    | P::FileFailed { .. }
                    | P::Wal { .. }
                    | P::WalNoSpace { .. }
                    | P::CheckpointFailed { .. }
            ) || matches!(p, P::Panicked { message, .. } if message.contains(STORAGE_PANIC))
        }
        _ => false,
    }
}

/// The message of a model storage's own panic ([`Panicking`]): the pool and the log must turn it into an error.
const STORAGE_PANIC: &str = "the model's storage panicked";

/// A storage as the tree sees it: the `FaultyStorage` below, panicking on its `n`th call (a read, write, sync or
/// batch) once armed, then disarmed. The pool catches a data file's storage's panic (`bufpool::Error::Panicked`,
/// the file failed), the log a log storage's (the call's I/O error: `TreeWal`'s docs); neither may unwind.
struct Panicking {
    inner: Arc<FaultyStorage>,
    /// Calls to go before the panic; negative: disarmed.
    left: AtomicI64,
    what: &'static str,
    panics: AtomicU64,
}

impl Panicking {
    fn new(inner: Arc<FaultyStorage>, what: &'static str) -> Arc<Panicking> {
        Arc::new(Panicking {
            inner,
            left: AtomicI64::new(-1),
            what,
            panics: AtomicU64::new(0),
        })
    }

    fn arm(&self, calls: i64) {
        self.left.store(calls, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.left.store(-1, Ordering::SeqCst);
    }

    fn call(&self, op: &str) {
        let due = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n >= 0).then(|| n - 1))
            .is_ok_and(|n| n == 0);
        if due {
            self.panics.fetch_add(1, Ordering::Relaxed);
            panic!("{STORAGE_PANIC}: {}'s {op}", self.what);
        }
    }
}

impl Storage for Panicking {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.call("read");
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.call("write");
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.call("sync");
        self.inner.sync()
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        self.call("batch");
        self.inner.submit(batch)
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
    fn record_store(&self) -> Option<&dyn RecordStore> {
        self.inner.record_store()
    }
}

/// What a power loss or a restart leaves of the storages: `trees[tree] = (log, data)`, and the log above's.
struct Images {
    trees: Vec<(Vec<u8>, Vec<u8>)>,
    upper: Option<Vec<u8>>,
}

/// One tree's storages: they outlive the pool and trees of an epoch (a restart or a power loss makes new ones
/// from their images).
struct Store {
    log: Arc<FaultyStorage>,
    data: Arc<FaultyStorage>,
    /// The same storages as the tree sees them (they panic when armed).
    log_dev: Arc<Panicking>,
    data_dev: Arc<Panicking>,
    bounded: bool,
}

impl Store {
    fn new(log: FaultyStorage, data: FaultyStorage, bounded: bool) -> Store {
        let (log, data) = (Arc::new(log), Arc::new(data));
        Store {
            log_dev: Panicking::new(log.clone(), "the log storage"),
            data_dev: Panicking::new(data.clone(), "the data storage"),
            log,
            data,
            bounded,
        }
    }

    fn disarm(&self) {
        self.log_dev.disarm();
        self.data_dev.disarm();
    }
}

/// The transaction log above the trees (schedules in covered mode), as `bufpool-cli`'s TPC-C engine
/// (`bench/tpcc/ours.rs`) keeps it: a transaction appends one record of its changes (whole-value puts and
/// deletes, `page` = the tree's number), then applies them with `put_covered`, `put_covered_run` and
/// `delete_covered`, under `gate` shared; a checkpoint takes the log's end under `gate` exclusive, checkpoints
/// every tree, then cuts the log there. A transaction whose record was appended and whose changes could not all
/// be applied (after retries) breaks it: nothing more is appended or cut, and the engine must reopen (its epoch
/// ends). Recovery opens the trees, then redoes every record of this log, then checkpoints it.
struct Upper {
    storage: Arc<FaultyStorage>,
    /// The storage as the log above sees it (it panics when armed: `BUFPOOL_BTREE_MODEL_OFF=upper_panics` leaves
    /// it unarmed).
    dev: Arc<Panicking>,
    wal: Arc<TreeWal>,
    gate: RwLock<()>,
    broken: AtomicBool,
}

impl Upper {
    /// The engine's checkpoint (`ours.rs`' `checkpoint_txlog`).
    fn checkpoint(&self, trees: &[Tree]) -> bufpool_btree::Result<()> {
        let r = {
            let _all = self.gate.write().unwrap();
            if self.broken.load(Ordering::SeqCst) {
                return Err(Error::Log(
                    "a transaction failed half-applied: reopen to recover".into(),
                ));
            }
            self.wal.begin_checkpoint()
        };
        let all = Tree::checkpoint_all(trees);
        if trace() {
            eprintln!("TRACE upper checkpoint: begin {r:?}, checkpoint_all {all:?}");
        }
        all?;
        let cut = self.wal.truncate_before(r);
        if trace() {
            eprintln!("TRACE upper checkpoint: truncate_before {r:?}: {cut:?}");
        }
        cut
    }
}

/// One thread's part of one tree.
#[derive(Default, Clone)]
struct Part {
    /// The thread's own keys at the epoch's start (as recovered).
    base: BTreeMap<u64, Val>,
    /// Its own keys now: `base` with `ops` applied.
    model: BTreeMap<u64, Val>,
    /// Its changes of own keys that returned `Ok` this epoch, in order (`None`: deleted), each with whether it
    /// ends a unit (a transaction's changes in covered mode are one: all of them or none after a crash).
    ops: Vec<(u64, Option<Val>, bool)>,
}

/// What every thread of a schedule shares during an epoch.
struct Epoch<'a> {
    seed: u64,
    threads: usize,
    trees: &'a [Tree],
    stores: &'a [Store],
    /// The log above (covered mode).
    upper: Option<&'a Upper>,
    /// Storage panics armed by operations (one schedule in two).
    panics: bool,
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
    /// Hinted reads (`get_at_hint`, `get_many_at_hints`, `get_many_part`), and the hints they were given.
    hinted_reads: AtomicU64,
    hints_given: AtomicU64,
    /// Covered mode: transactions applied, records refused, applies retried, transactions that broke the log
    /// above, commits and checkpoints of the log above, records replayed by recoveries.
    covered_txns: AtomicU64,
    covered_refused: AtomicU64,
    covered_retries: AtomicU64,
    covered_broken: AtomicU64,
    upper_commits_ok: AtomicU64,
    upper_checkpoints_ok: AtomicU64,
    records_replayed: AtomicU64,
    covered_schedules: AtomicU64,
    /// Storage panics armed, and met (caught by the library: a panic out of it is a violation).
    storage_panics_armed: AtomicU64,
    storage_panics: AtomicU64,
    /// Of them, the log above's (armed; met counted with the others).
    upper_panics_armed: AtomicU64,
    /// Initial loads by `bulk_load`: ok, failed (then checked empty or whole, and reopened).
    bulk_loads_ok: AtomicU64,
    bulk_loads_failed: AtomicU64,
    /// Reopen attempts under faults (every attempt until one opens, or the last, then one without).
    open_attempts_faulty: AtomicU64,
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
            *crashed = Some(power_loss(self.stores, self.upper.map(|u| &u.storage)));
        }
    }

    fn broken(&self) -> bool {
        self.upper.is_some_and(|u| u.broken.load(Ordering::SeqCst))
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
    /// `[tree]`: the last leaf hint each key id was given (kept across other threads' splits and merges).
    hints: Vec<HashMap<u64, LeafHint>>,
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

    /// An own id with probability `percent` / 100, else any.
    fn mostly_own(&mut self, percent: u64) -> u64 {
        match self.rng.chance(percent) {
            true => self.own_id(),
            false => self.any_id(),
        }
    }

    /// 1 to 16 ids for a batch read, `percent` of them own.
    fn batch_ids(&mut self, percent: u64) -> Vec<u64> {
        let n = 1 + self.rng.below(16) as usize;
        (0..n).map(|_| self.mostly_own(percent)).collect()
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
        self.changed_unit(t, &[(id, v)]);
    }

    /// Records changes of own keys that stand or fall together (a transaction's, in covered mode).
    fn changed_unit(&mut self, t: usize, changes: &[(u64, Option<Val>)]) {
        let p = &mut self.parts[t];
        for (i, &(id, v)) in changes.iter().enumerate() {
            match v {
                Some(v) => p.model.insert(id, v),
                None => p.model.remove(&id),
            };
            p.ops.push((id, v, i + 1 == changes.len()));
        }
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
    /// In covered mode only the log above's commits and checkpoints cover the own keys' changes (covered ones):
    /// the trees' own commits and checkpoints are not counted (`covers` false).
    fn durable_op(&mut self, what: &str, ts: &[usize], run: impl FnOnce() -> bufpool_btree::Result<()>) -> bool {
        let covers = self.e.upper.is_none();
        self.durable_op_as(what, ts, covers, run)
    }

    fn durable_op_as(
        &mut self,
        what: &str,
        ts: &[usize],
        covers: bool,
        run: impl FnOnce() -> bufpool_btree::Result<()>,
    ) -> bool {
        let before: Vec<Vec<u64>> = ts
            .iter()
            .map(|&t| self.e.done[t].iter().map(|d| d.load(Ordering::SeqCst)).collect())
            .collect();
        match run() {
            Ok(()) => {
                self.ok();
                if !covers {
                    return true;
                }
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
            let roll = self.rng.below(110);
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

    /// A hint for a read of `id` in tree `t`: mostly the last one `id` was given, else another key's (a
    /// neighbour's leaf, or a stale one), the other tree's (ignored by the tree), or none.
    fn hint_for(&mut self, t: usize, id: u64) -> LeafHint {
        let h = match self.rng.below(10) {
            0 => {
                let other = self.any_id();
                self.hints[1 - t].get(&other).copied()
            }
            1..=3 => {
                let other = self.any_id();
                self.hints[t].get(&other).copied()
            }
            4 => None,
            // Its own, or else any kept one (a leaf that split or merged since, or never covered it).
            _ => {
                let kept = &self.hints[t];
                let nth = self.rng.below(kept.len().max(1) as u64) as usize;
                kept.get(&id).or_else(|| kept.values().nth(nth)).copied()
            }
        };
        if h.is_some() {
            self.e.tally.hints_given.fetch_add(1, Ordering::Relaxed);
        }
        h.unwrap_or_default()
    }

    /// Checks bytes `part` of a value read for `id` (`get_many_part`'s clamping): exact for an own key; a whole
    /// value of another key is checked for its form.
    fn check_part(&self, t: usize, what: &str, id: u64, part: &std::ops::Range<usize>, got: Option<&[u8]>) {
        if *part == (0..usize::MAX) {
            return self.check_read(t, what, id, got);
        }
        if self.owner(id) != self.me {
            return;
        }
        let want = self.parts[t].model.get(&id).map(|&v| {
            let b = bytes(id, v);
            let end = part.end.min(b.len());
            b[part.start.min(end)..end].to_vec()
        });
        if got != want.as_deref() {
            self.violation(format!(
                "{what} of bytes {part:?} of own id {id} in tree {t}: got {got:?}, the model says {:?}",
                self.parts[t].model.get(&id)
            ));
        }
    }

    /// Reads at hints kept across other threads' splits and merges (`get_at_hint`, `get_many_at_hints`), and
    /// `get_many_part`: a stale hint must never answer a wrong value.
    fn hinted_read(&mut self, t: usize) {
        let e = self.e;
        let tree = &e.trees[t];
        e.tally.hinted_reads.fetch_add(1, Ordering::Relaxed);
        if self.rng.chance(35) {
            let id = self.mostly_own(70);
            let mut hint = self.hint_for(t, id);
            self.note(format!("get_at_hint {id} in tree {t} ({hint:?})"));
            let me = &*self;
            match tree.get_at_hint(&e.keys[id as usize], &mut hint, |v| {
                me.check_read(t, "get_at_hint", id, v)
            }) {
                Ok(()) => {
                    self.ok();
                    self.hints[t].insert(id, hint);
                }
                Err(err) => e.failed("get_at_hint", &err),
            }
            return;
        }
        let ids = self.batch_ids(60);
        let n = ids.len();
        let hinted = self.rng.chance(70);
        let hints: Vec<LeafHint> = match hinted {
            // Sometimes shorter than the keys (the rest have none).
            true => (0..n - self.rng.below(2) as usize * self.rng.below(n as u64) as usize)
                .map(|i| self.hint_for(t, ids[i]))
                .collect(),
            false => Vec::new(),
        };
        let part = match self.rng.below(3) {
            0 => 0..usize::MAX,
            1 => 0..16 + self.rng.below(100) as usize,
            _ => {
                let from = self.rng.below(300) as usize;
                from..from + self.rng.below(400) as usize
            }
        };
        let what = if hinted { "get_many_at_hints" } else { "get_many_part" };
        self.note(format!(
            "{what} {ids:?} bytes {part:?} in tree {t} ({} hints)",
            hints.len()
        ));
        let ks: Vec<&[u8]> = ids.iter().map(|&id| e.keys[id as usize].as_slice()).collect();
        let mut calls = vec![0u32; n];
        let mut given = Vec::new();
        let me = &*self;
        let r = tree.get_many_at_hints(&ks, &hints, part.clone(), |i, v, hint| {
            calls[i] += 1;
            me.check_part(t, what, ids[i], &part, v);
            given.push((ids[i], hint));
        });
        self.batch_done(t, what, r, &calls, given);
    }

    /// The end of a batch read of tree `t` that called back `calls[i]` times for key `i` and gave `given` hints: on
    /// `Ok`, once each, and the hints kept.
    fn batch_done(
        &mut self,
        t: usize,
        what: &str,
        r: bufpool_btree::Result<()>,
        calls: &[u32],
        given: Vec<(u64, LeafHint)>,
    ) {
        match r {
            Ok(()) => {
                self.ok();
                if calls.iter().any(|&c| c != 1) {
                    self.violation(format!("{what} called back {calls:?} times per key"));
                }
                self.hints[t].extend(given);
            }
            Err(err) => self.e.failed(what, &err),
        }
    }

    /// Covered mode: a transaction of 1 to 4 changes of own keys (or one of a shared key): its record appended to
    /// the log above, then its changes applied as covered ones (a run of its puts, then its deletes, or each with
    /// the key's kept hint), retried as `ours.rs` retries them; still failing, it breaks the log above.
    fn covered_txn(&mut self, t: usize, up: &Upper, shared: bool) {
        let e = self.e;
        let tree = &e.trees[t];
        let n = if shared { 1 } else { 1 + self.rng.below(4) as usize };
        let mut changes: Vec<(u64, Option<Val>)> = Vec::new();
        for _ in 0..n {
            let id = if shared { self.shared_id() } else { self.own_id() };
            if changes.iter().all(|c| c.0 != id) {
                let v = self.rng.chance(65).then(|| (self.ver(), self.len()));
                changes.push((id, v));
            }
        }
        let vals: Vec<Option<Vec<u8>>> = changes.iter().map(|&(id, v)| v.map(|v| bytes(id, v))).collect();
        let as_run = self.rng.chance(50);
        self.note(format!(
            "covered transaction in tree {t}: {changes:?} (as a run: {as_run})"
        ));
        let _gate = up.gate.read().unwrap();
        if up.broken.load(Ordering::SeqCst) {
            return;
        }
        let ops: Vec<Op<'_>> = changes
            .iter()
            .zip(&vals)
            .map(|(&(id, _), v)| {
                let (page, key) = (t as u32, e.keys[id as usize].as_slice());
                match v {
                    Some(val) => Op::Put { page, key, val },
                    None => Op::Del { page, key },
                }
            })
            .collect();
        if let Err(err) = up.wal.append(&ops) {
            e.tally.covered_refused.fetch_add(1, Ordering::Relaxed);
            e.failed("append to the log above", &err);
            // A log below it that cannot write out (a full device, a bounded region past three quarters): a
            // checkpoint of the trees frees it.
            if err.is_no_space() && self.rng.chance(50) {
                self.durable_op_as("checkpoint after a refused append", &[0, 1], false, || {
                    Tree::checkpoint_all(e.trees)
                });
            }
            return;
        }
        // Appended: it may be durable from here on, whatever happens to the changes (a recovery redoes it).
        if !shared {
            self.changed_unit(t, &changes);
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let hints = &mut self.hints[t];
            let applied = if as_run {
                let mut run: Vec<CoveredPut<'_>> = changes
                    .iter()
                    .zip(&vals)
                    .filter_map(|(&(id, _), v)| {
                        Some(CoveredPut {
                            key: &e.keys[id as usize],
                            val: v.as_deref()?,
                            hint: hints.get(&id).copied().unwrap_or_default(),
                        })
                    })
                    .collect();
                run.sort_by(|a, b| a.key.cmp(b.key));
                tree.put_covered_run(&mut run).and_then(|()| {
                    for p in &run {
                        hints.insert(e.ids[p.key], p.hint);
                    }
                    changes.iter().filter(|c| c.1.is_none()).try_for_each(|&(id, _)| {
                        tree.delete_covered(&e.keys[id as usize], hints.entry(id).or_default())
                            .map(|_| ())
                    })
                })
            } else {
                changes.iter().zip(&vals).try_for_each(|(&(id, _), v)| {
                    let (key, hint) = (&e.keys[id as usize], hints.entry(id).or_default());
                    match v {
                        Some(val) => tree.put_covered(key, val, hint),
                        None => tree.delete_covered(key, hint).map(|_| ()),
                    }
                })
            };
            match applied {
                Ok(()) => break,
                Err(err) => {
                    e.failed("a covered change", &err);
                    if tries < 3 {
                        e.tally.covered_retries.fetch_add(1, Ordering::Relaxed);
                        if err.is_no_space() {
                            let _ = tree.checkpoint();
                        }
                        continue;
                    }
                    // The tree holds part of a transaction whose record is in the log above: the engine stops
                    // and reopens (the epoch ends).
                    up.broken.store(true, Ordering::SeqCst);
                    e.stop.store(true, Ordering::SeqCst);
                    e.tally.covered_broken.fetch_add(1, Ordering::Relaxed);
                    self.note(format!("the transaction broke the log above: {err}"));
                    return;
                }
            }
        }
        self.ok();
        e.tally.covered_txns.fetch_add(1, Ordering::Relaxed);
    }

    fn op(&mut self, t: usize, roll: u64) {
        let e = self.e;
        let tree = &e.trees[t];
        if let Some(up) = e.upper {
            // Covered mode: own and shared keys change by transactions of the log above.
            match roll {
                0..=44 => return self.covered_txn(t, up, false),
                45..=51 => return self.covered_txn(t, up, true),
                81..=87 if self.rng.chance(50) => {
                    self.note("commit of the log above".into());
                    if self.durable_op_as("commit of the log above", &[0, 1], true, || up.wal.commit()) {
                        e.tally.upper_commits_ok.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                88..=91 if self.rng.chance(30) => {
                    self.note("checkpoint of the log above and both trees".into());
                    if self.durable_op_as("checkpoint of the log above", &[0, 1], true, || up.checkpoint(e.trees)) {
                        e.tally.upper_checkpoints_ok.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                _ => {}
            }
        }
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
                let id = self.mostly_own(60);
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
                let ids = self.batch_ids(50);
                let n = ids.len();
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
                    let mut given = Vec::new();
                    let r = tree.get_many_hinted(&ks, |i, v, hint| {
                        calls[i] += 1;
                        given.push((ids[i], hint));
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
                    self.batch_done(t, "get_many_hinted", r, &calls, given);
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
            92..=93 if e.panics && self.rng.chance(25) => {
                // The log above's storage (session 41, R40-O6): its panic must come back as the log's error, and
                // fail the log above (no more appends or cuts) until the reopen.
                if let Some(up) = e.upper.filter(|_| mode_on("upper_panics") && self.rng.chance(25)) {
                    let calls = self.rng.below(40) as i64;
                    self.note(format!("panic on call {calls} from now of the log above's storage"));
                    up.dev.arm(calls);
                    e.tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
                    e.tally.upper_panics_armed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let s = &e.stores[t];
                let log = self.rng.chance(50);
                let calls = self.rng.below(40) as i64;
                self.note(format!(
                    "panic on call {calls} from now of tree {t}'s {} storage",
                    if log { "log" } else { "data" }
                ));
                if log { &s.log_dev } else { &s.data_dev }.arm(calls);
                e.tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
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
            100..=109 => self.hinted_read(t),
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
        for &(id, v, _) in &p.ops[..floor] {
            match v {
                Some(v) => state.insert(id, v),
                None => state.remove(&id),
            };
        }
        let mut found = (state == mine).then_some(floor);
        for (i, &(id, v, ends)) in p.ops.iter().enumerate().skip(floor) {
            if found.is_some() {
                break;
            }
            match v {
                Some(v) => state.insert(id, v),
                None => state.remove(&id),
            };
            // Only after a unit's last change: a transaction is all there or not at all.
            if ends && state == mine {
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

/// What an open gives: the pool, the trees, and in covered mode the log above (recovered and replayed).
struct Opened {
    pool: Arc<BufferPool>,
    trees: Vec<Tree>,
    upper: Option<Upper>,
}

/// How a reopen runs: `attempts` under faults at rate `faults` (FaultConfig::honest) before one without, the
/// first of them with a storage panic armed if `panic` says so: `(tree, the log's storage, calls to go)`.
#[derive(Clone, Copy, Default)]
struct OpenPlan {
    faults: f64,
    attempts: u64,
    panic: Option<(usize, bool, i64)>,
}

impl OpenPlan {
    fn draw(rng: &mut Rng, panics: bool) -> OpenPlan {
        let faults = open_faults(rng);
        let attempts = 1 + rng.below(3);
        let panic = (panics && rng.chance(25))
            .then(|| (rng.below(TREES as u64) as usize, rng.chance(50), rng.below(30) as i64));
        OpenPlan {
            faults,
            attempts: if faults > 0.0 || panic.is_some() { attempts } else { 0 },
            panic,
        }
    }
}

/// Whether `BUFPOOL_BTREE_MODEL_TRACE` asks for each reopen attempt's steps on stderr (R40-2's diagnosis).
fn trace() -> bool {
    std::env::var_os("BUFPOOL_BTREE_MODEL_TRACE").is_some()
}

/// A pool of `frames` frames of 4 KiB.
fn new_pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(common::pool_builder().frames(frames).page_size(4096).build().unwrap())
}

/// A refused open's error: one a fault, a full device or a storage's panic explains.
fn refusal_allowed(e: &Error) -> bool {
    allowed(e) || matches!(e, Error::Pool(bufpool::Error::OpenIo { .. }))
}

/// Sets the fault rate of every storage of `stores` and of the log above.
fn set_faults(stores: &[Store], upper: Option<&Arc<FaultyStorage>>, p: f64) {
    for s in stores {
        s.log.set_config(FaultConfig::honest(p));
        s.data.set_config(FaultConfig::honest(p));
    }
    if let Some(u) = upper {
        u.set_config(FaultConfig::honest(p));
    }
}

/// The tree's log on `s`.
fn open_wal(s: &Store) -> bufpool_btree::Result<Arc<TreeWal>> {
    match s.bounded {
        true => TreeWal::open_storage_with_capacity(s.log_dev.clone(), BOUNDED_LOG),
        false => TreeWal::open_storage(s.log_dev.clone()),
    }
}

/// Redoes every record of the log above (covered puts and deletes, `page` naming the tree), as `ours.rs`'s
/// recovery does; the records redone. Nothing here keeps a tree's bounded log within its region: the redone
/// changes' leaf images overfilled it until R40-1's fix (a covered change checkpoints its tree first when its
/// bounded log is past three quarters of its region). A change refused for space (a full device under an
/// eviction's write-out) is made again after a checkpoint of its tree.
fn replay(upper: &TreeWal, trees: &[Tree]) -> bufpool_btree::Result<u64> {
    let mut records = 0;
    let mut first = None;
    let end = upper.scan(|lsn, ops| {
        records += 1;
        if trace() {
            first.get_or_insert(lsn);
            let keys: Vec<String> = ops
                .iter()
                .map(|op| match op {
                    OwnedOp::Put(t, k, _) => format!("p{t}:{:?}", (0..IDS).find(|&i| key(i) == *k)),
                    OwnedOp::Del(t, k) => format!("d{t}:{:?}", (0..IDS).find(|&i| key(i) == *k)),
                    _ => "?".into(),
                })
                .collect();
            eprintln!("TRACE replay record end {lsn:?}: {keys:?}");
        }
        for op in ops {
            let (t, k, v) = match op {
                OwnedOp::Put(t, k, v) => (t, k, Some(v)),
                OwnedOp::Del(t, k) => (t, k, None),
                other => return Err(Error::Log(format!("an op of another kind in the log above: {other:?}"))),
            };
            let tree = trees
                .get(t as usize)
                .ok_or_else(|| Error::Log(format!("tree {t} in the log above")))?;
            let redo = || match &v {
                Some(v) => tree.put_covered(&k, v, &mut LeafHint::default()),
                None => tree.delete_covered(&k, &mut LeafHint::default()).map(|_| ()),
            };
            redo().or_else(|e| match e.is_no_space() {
                true => tree.checkpoint().and_then(|()| redo()),
                false => Err(e),
            })?;
        }
        Ok(())
    });
    if trace() {
        eprintln!("TRACE replay: {records} records, first end {first:?}, scan {end:?}");
    }
    end?;
    Ok(records)
}

/// Opens every tree of `stores` in `pool`; in covered mode also the log above on `upper`, every tree's log made
/// to depend on it, and its records redone, then checkpointed (`ours.rs`'s recovery). With `plan.attempts`,
/// that many attempts run under faults (and the first with a storage panic if the plan arms one) before one
/// without: an attempt refused must return a typed error (never unwind), and leave the storages so that a later
/// attempt opens the trees with everything committed (checked by the caller). Without a log above a refused
/// tree's open leaves the pool as before (`Tree::open`: "whatever refuses the open ..., the pool is left as
/// before the call"), and is tried again in it; in covered mode an attempt that fails after some trees opened
/// (or in the replay) leaves them half-recovered, and the next attempt starts in a new pool, as a new process
/// would. Faults are off and panics disarmed on return.
fn open_in(
    pool: Arc<BufferPool>,
    stores: &[Store],
    upper: Option<&Arc<FaultyStorage>>,
    frames: usize,
    plan: OpenPlan,
    tally: &Tally,
    probe: Option<&dyn Fn(&str)>,
) -> Result<Opened, String> {
    let arm = |t: usize, first: bool| {
        if let Some((pt, log, calls)) = plan.panic.filter(|p| first && p.0 == t) {
            let s: &Store = &stores[pt];
            if log { &s.log_dev } else { &s.data_dev }.arm(calls);
            tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
        }
    };
    let Some(up) = upper else {
        let trees = stores
            .iter()
            .enumerate()
            .map(|(t, s)| {
                let open = || open_wal(s).and_then(|wal| Tree::open_storage(pool.clone(), wal, s.data_dev.clone()));
                for attempt in 0..plan.attempts {
                    set_faults(std::slice::from_ref(s), None, plan.faults);
                    arm(t, attempt == 0);
                    tally.open_attempts_faulty.fetch_add(1, Ordering::Relaxed);
                    let r = catch_unwind(AssertUnwindSafe(open));
                    set_faults(std::slice::from_ref(s), None, 0.0);
                    s.disarm();
                    match r {
                        Ok(Ok(tree)) => return Ok(tree),
                        Ok(Err(e)) if refusal_allowed(&e) => {
                            tally.opens_refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Err(e)) => {
                            return Err(format!(
                                "tree {t}: open (attempt {attempt}) under faults: unexpected error {e:?}"
                            ))
                        }
                        Err(p) => return Err(format!("tree {t}: open (attempt {attempt}) panicked: {}", message(&*p))),
                    }
                }
                open().map_err(|e| format!("tree {t}: open: {e}"))
            })
            .collect::<Result<Vec<Tree>, String>>()?;
        return Ok(Opened {
            pool,
            trees,
            upper: None,
        });
    };
    // Which step refused the open, for the report.
    let step = Mutex::new("");
    let open = |pool: &Arc<BufferPool>| -> bufpool_btree::Result<Opened> {
        *step.lock().unwrap() = "the log above's open";
        let dev = Panicking::new(up.clone(), "the log above's storage");
        let wal = TreeWal::open_storage(dev.clone())?;
        *step.lock().unwrap() = "a tree's open";
        let trees = stores
            .iter()
            .map(|s| {
                let own = open_wal(s)?;
                own.flush_first(wal.clone())?;
                Tree::open_storage(pool.clone(), own, s.data_dev.clone())
            })
            .collect::<bufpool_btree::Result<Vec<Tree>>>()?;
        *step.lock().unwrap() = "the replay of the log above";
        let records = replay(&wal, &trees)?;
        tally.records_replayed.fetch_add(records, Ordering::Relaxed);
        let upper = Upper {
            storage: up.clone(),
            dev,
            wal,
            gate: RwLock::new(()),
            broken: AtomicBool::new(false),
        };
        *step.lock().unwrap() = "the checkpoint after the replay";
        if records > 0 {
            upper.checkpoint(&trees)?;
        }
        Ok(Opened {
            pool: pool.clone(),
            trees,
            upper: Some(upper),
        })
    };
    let mut pool = pool;
    if let (Some(probe), true) = (probe, trace() && plan.attempts > 0) {
        probe("before the attempts");
    }
    for attempt in 0..plan.attempts {
        set_faults(stores, upper, plan.faults);
        for t in 0..stores.len() {
            arm(t, attempt == 0);
        }
        tally.open_attempts_faulty.fetch_add(1, Ordering::Relaxed);
        if trace() {
            eprintln!(
                "TRACE attempt {attempt} (faults {}, panic {:?}) starts",
                plan.faults,
                plan.panic.filter(|_| attempt == 0)
            );
        }
        let r = catch_unwind(AssertUnwindSafe(|| open(&pool)));
        set_faults(stores, upper, 0.0);
        stores.iter().for_each(Store::disarm);
        if trace() {
            match &r {
                Ok(Ok(_)) => eprintln!("TRACE attempt {attempt} opened"),
                Ok(Err(e)) => eprintln!("TRACE attempt {attempt} refused in {}: {e}", step.lock().unwrap()),
                Err(_) => eprintln!("TRACE attempt {attempt} panicked"),
            }
            if let (Some(probe), false) = (probe, matches!(r, Ok(Ok(_)))) {
                probe(&format!("after attempt {attempt}"));
            }
        }
        match r {
            Ok(Ok(opened)) => return Ok(opened),
            Ok(Err(e)) if refusal_allowed(&e) => {
                tally.opens_refused.fetch_add(1, Ordering::Relaxed);
                pool = new_pool(frames);
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "open (attempt {attempt}) under faults: {}: unexpected error {e:?}",
                    step.lock().unwrap()
                ))
            }
            Err(p) => return Err(format!("open (attempt {attempt}) panicked: {}", message(&*p))),
        }
    }
    if trace() {
        eprintln!("TRACE fault-free attempt starts");
    }
    open(&pool).map_err(|e| format!("open: {}: {e}", step.lock().unwrap()))
}

/// A panic's message, if it was a string.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Power loss of every storage: the data storages first, then the trees' logs, then the log above (a log may be
/// ahead of what depends on it, never behind: a page the pool writes after its data storage lost power is lost
/// with it, and a tree's log writes its records only after the log above is durable).
fn power_loss(stores: &[Store], upper: Option<&Arc<FaultyStorage>>) -> Images {
    let data: Vec<Vec<u8>> = stores.iter().map(|s| s.data.crash()).collect();
    let trees = stores.iter().zip(data).map(|(s, d)| (s.log.crash(), d)).collect();
    Images {
        trees,
        upper: upper.map(|u| u.crash()),
    }
}

/// What a restart keeps: every storage's live image, synced or not.
fn live_images(stores: &[Store], upper: Option<&Arc<FaultyStorage>>) -> Images {
    Images {
        trees: stores
            .iter()
            .map(|s| (s.log.live_image(), s.data.live_image()))
            .collect(),
        upper: upper.map(|u| u.live_image()),
    }
}

/// Adds the fault counts of `stores` and the log above (cumulative over each storage's life) and their panics to
/// `tally`.
fn tally_faults(stores: &[Store], upper: Option<&Arc<FaultyStorage>>, tally: &Tally) {
    for s in stores {
        let mut c = s.log.counts();
        c.add(&s.data.counts());
        tally.faults.lock().unwrap().add(&c);
        for dev in [&s.log_dev, &s.data_dev] {
            tally
                .storage_panics
                .fetch_add(dev.panics.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
    }
    if let Some(u) = upper {
        tally.faults.lock().unwrap().add(&u.counts());
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
        .map(|_| {
            let log = FaultyStorage::new(rng.next(), FaultConfig::none());
            let data = FaultyStorage::new(rng.next(), FaultConfig::none());
            Store::new(log, data, rng.below(3) == 0)
        })
        .collect();
    // One schedule in three runs the trees under a log above (covered changes), one in two arms storage panics.
    let covered = mode_on("covered") && rng.chance(33);
    let panics = mode_on("panics") && rng.chance(50);
    let bulk = mode_on("bulk");
    let mut upper: Option<Arc<FaultyStorage>> =
        covered.then(|| Arc::new(FaultyStorage::new(rng.next(), FaultConfig::none())));
    if covered {
        tally.covered_schedules.fetch_add(1, Ordering::Relaxed);
    }
    let mut parts: Vec<Vec<Part>> = vec![vec![Part::default(); TREES]; threads];
    let mut floor = vec![vec![0u64; threads]; TREES];
    // A start or restart of the process: a new pool, every storage as written, no faults.
    let start = |stores: &[Store], upper: Option<&Arc<FaultyStorage>>| {
        open_in(
            new_pool(frames),
            stores,
            upper,
            frames,
            OpenPlan::default(),
            tally,
            None,
        )
    };
    let mut opened = match start(&stores, upper.as_ref()) {
        Ok(x) => x,
        Err(e) => return vec![format!("seed {seed}: create: {e}")],
    };
    // Most keys present from the start (faults off), so the trees have a few levels and do not fit the pool; a
    // tree in three (with `bulk`) loads them by `bulk_load` under faults first.
    for t in 0..TREES {
        let mut chosen = BTreeMap::new();
        for id in 0..IDS {
            if rng.chance(80) {
                chosen.insert(id, (0u64, 16 + rng.below(300) as usize));
            }
        }
        for (&id, &v) in &chosen {
            if let Some(p) = parts.get_mut((id % (threads as u64 + 1)) as usize) {
                p[t].base.insert(id, v);
                p[t].model.insert(id, v);
            }
        }
        let mut loaded = false;
        if bulk && rng.chance(33) {
            match bulk_load(
                &opened.trees[t],
                &stores[t],
                &chosen,
                &keys,
                &ids,
                &mut rng,
                panics,
                tally,
            ) {
                Ok(true) => loaded = true,
                Ok(false) => {
                    // Refused: a restart (every storage as written), then the tree must be empty or whole.
                    drop(opened);
                    opened = match start(&stores, upper.as_ref()) {
                        Ok(x) => x,
                        Err(e) => return vec![format!("seed {seed}: reopen after a failed bulk_load: {e}")],
                    };
                    let tree = &opened.trees[t];
                    match contents(tree, &ids) {
                        Ok(got) if got.is_empty() => {}
                        Ok(got) if got == chosen => loaded = true,
                        Ok(got) => {
                            return vec![format!(
                                "seed {seed}: tree {t} after a failed bulk_load and a restart holds {} of its {} pairs",
                                got.len(),
                                chosen.len()
                            )]
                        }
                        Err(Unreadable::Tree(e)) => return vec![format!("seed {seed}: after a failed bulk_load: {e}")],
                        Err(Unreadable::Wrong(e)) => {
                            return vec![format!("seed {seed}: after a failed bulk_load: {e}")]
                        }
                    }
                    if let Err(e) = tree.check() {
                        return vec![format!("seed {seed}: check after a failed bulk_load: {e}")];
                    }
                }
                Err(e) => return vec![format!("seed {seed}: tree {t}: {e}")],
            }
        }
        let tree = &opened.trees[t];
        if !loaded {
            for (&id, &v) in &chosen {
                // A bounded log fills: a checkpoint cuts it.
                let put = || tree.put(&keys[id as usize], &bytes(id, v));
                if let Err(e) = put().or_else(|e| match e.is_no_space() {
                    true => tree.checkpoint().and_then(|()| put()),
                    false => Err(e),
                }) {
                    return vec![format!("seed {seed}: load: {e}")];
                }
            }
        }
        if let Err(e) = tree.commit().and_then(|()| tree.checkpoint()) {
            return vec![format!("seed {seed}: load: {e}")];
        }
    }
    for epoch in 0..EPOCHS {
        // Faults for this epoch: per storage, none on half.
        let mut rates = Vec::new();
        let stores_faulty = stores.iter().flat_map(|s| [&s.log, &s.data]);
        for st in stores_faulty.chain(upper.as_ref()) {
            let p = [0.0, 0.0, 0.001, 0.005][rng.below(4) as usize];
            st.set_config(FaultConfig::honest(p));
            rates.push(p);
        }
        let bounded: Vec<bool> = stores.iter().map(|s| s.bounded).collect();
        let fail = |what: String| {
            vec![format!(
                "seed {seed} epoch {epoch} (fault rates of log, data per tree{} {rates:?}, bounded logs {bounded:?}, \
                 storage panics {panics}): {what}",
                if covered { " and of the log above" } else { "" }
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
            trees: &opened.trees,
            stores: &stores,
            upper: opened.upper.as_ref(),
            panics,
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
                            hints: vec![HashMap::new(); TREES],
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
        let broken = ep.broken();
        floor = ep.floor.into_inner().unwrap();
        let mut images = ep.crashed.into_inner().unwrap();
        for s in &stores {
            // An ENOSPC injected but not yet met would fail the checks' or the close's first write; so would a
            // storage panic armed.
            s.log.clear_triggers();
            s.data.clear_triggers();
            s.disarm();
        }
        if let Some(u) = opened.upper.as_ref() {
            u.dev.disarm();
            tally
                .storage_panics
                .fetch_add(u.dev.panics.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
        let (trees, up) = (&opened.trees, opened.upper.as_ref());
        if images.is_none() {
            for st in stores.iter().flat_map(|s| [&s.log, &s.data]).chain(upper.as_ref()) {
                st.set_config(FaultConfig::crash_only());
            }
            // The threads are done: the trees must be whole and hold exactly what the models say (unless a
            // transaction broke the log above: its tree holds part of it until the reopen redoes it).
            for (t, tree) in trees.iter().enumerate() {
                if broken {
                    if let Err(e) = tree.check() {
                        if !allowed(&e) {
                            return fail(format!(
                                "before the epoch's end ({end:?}), the log above broken: check: {e}"
                            ));
                        }
                    }
                    continue;
                }
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
                images = Some(power_loss(&stores, upper.as_ref()));
            }
            End::Restart => {
                tally.restarts.fetch_add(1, Ordering::Relaxed);
                images = Some(live_images(&stores, upper.as_ref()));
            }
            End::Close => {
                tally.closes.fetch_add(1, Ordering::Relaxed);
                // Covered mode: the engine's close checkpoints the log above first (refused once broken).
                let mut all_closed = match up.map(|u| u.checkpoint(trees)) {
                    Some(Err(e)) if !allowed(&e) => return fail(format!("close's checkpoint: unexpected error {e:?}")),
                    Some(Err(_)) => {
                        tally.closes_failed.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    _ => true,
                };
                if all_closed {
                    for tree in std::mem::take(&mut opened.trees) {
                        if let Err(e) = tree.close() {
                            tally.closes_failed.fetch_add(1, Ordering::Relaxed);
                            all_closed = false;
                            let e = e.into_error();
                            if !allowed(&e) {
                                return fail(format!("close: unexpected error {e:?}"));
                            }
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
                    images = Some(live_images(&stores, upper.as_ref()));
                }
            }
        }
        let Opened {
            pool,
            trees,
            upper: old_upper,
        } = opened;
        drop(trees);
        drop(old_upper);
        let plan = OpenPlan::draw(&mut rng, panics);
        if same_pool {
            opened = match open_in(pool, &stores, upper.as_ref(), frames, plan, tally, None) {
                Ok(t) => t,
                Err(e) => return fail(format!("reopen after a close: {e}")),
            };
        } else {
            drop(pool);
            tally_faults(&stores, upper.as_ref(), tally);
            let images = images.expect("an image for every end but a close");
            stores = stores
                .into_iter()
                .zip(images.trees)
                .map(|(s, (log, data))| {
                    let log = FaultyStorage::from_image(rng.next(), FaultConfig::none(), log);
                    let data = FaultyStorage::from_image(rng.next(), FaultConfig::none(), data);
                    Store::new(log, data, s.bounded)
                })
                .collect();
            upper = images
                .upper
                .map(|u| Arc::new(FaultyStorage::from_image(rng.next(), FaultConfig::none(), u)));
            // R40-2's diagnosis: a fault-free recovery of copies of the storages, checked as the reopen is.
            let probe = |when: &str| {
                let imgs = live_images(&stores, upper.as_ref());
                let st: Vec<Store> = stores
                    .iter()
                    .zip(imgs.trees)
                    .map(|(s, (l, d))| {
                        let l = FaultyStorage::from_image(1, FaultConfig::none(), l);
                        Store::new(l, FaultyStorage::from_image(2, FaultConfig::none(), d), s.bounded)
                    })
                    .collect();
                let up = imgs
                    .upper
                    .map(|u| Arc::new(FaultyStorage::from_image(3, FaultConfig::none(), u)));
                let quiet = Tally::default();
                eprintln!("TRACE probe {when} begins");
                let o = match open_in(
                    new_pool(frames),
                    &st,
                    up.as_ref(),
                    frames,
                    OpenPlan::default(),
                    &quiet,
                    None,
                ) {
                    Ok(o) => o,
                    Err(e) => return eprintln!("TRACE probe {when}: open failed: {e}"),
                };
                let mut p = parts.clone();
                for (t, tree) in o.trees.iter().enumerate() {
                    let r = check_tree(tree, t, threads, &mut p, &floor[t], &ids, &quiet, false);
                    eprintln!("TRACE probe {when}: tree {t}: {r:?}");
                }
            };
            opened = match open_in(
                new_pool(frames),
                &stores,
                upper.as_ref(),
                frames,
                plan,
                tally,
                Some(&probe),
            ) {
                Ok(x) => x,
                Err(e) => return fail(format!("recovery after {end:?}: {e}")),
            };
        }
        for (t, tree) in opened.trees.iter().enumerate() {
            if let Err(e) = check_tree(tree, t, threads, &mut parts, &floor[t], &ids, tally, false) {
                return fail(format!("after {end:?} and the reopen: {e}"));
            }
        }
        tally.reopens_checked.fetch_add(1, Ordering::Relaxed);
    }
    tally_faults(&stores, upper.as_ref(), tally);
    Vec::new()
}

/// Whether the model's feature `name` is on: all are, unless `BUFPOOL_BTREE_MODEL_OFF` names it (a
/// comma-separated list of `covered`, `panics`, `bulk`), to tell a failure's cause apart.
fn mode_on(name: &str) -> bool {
    std::env::var("BUFPOOL_BTREE_MODEL_OFF").map_or(true, |off| !off.split(',').any(|o| o.trim() == name))
}

/// The initial load of tree `t` (on `s`) by `bulk_load` of `chosen`, under faults on its storages (and in
/// schedules with storage panics, sometimes one armed): `Ok(true)` loaded and durable; `Ok(false)` refused with
/// an error of those a fault explains (the tree then held nothing or every pair: `bulk_load`'s docs, "On an
/// error before the switch the tree is unchanged"; after it, the pairs are in place but the final commit
/// failed); the caller then restarts and finds it empty or whole.
#[allow(clippy::too_many_arguments)] // the schedule's state
fn bulk_load(
    tree: &Tree,
    s: &Store,
    chosen: &BTreeMap<u64, Val>,
    keys: &[Vec<u8>],
    ids: &HashMap<Vec<u8>, u64>,
    rng: &mut Rng,
    panics: bool,
    tally: &Tally,
) -> Result<bool, String> {
    let mut pairs: Vec<(&[u8], Vec<u8>)> = chosen
        .iter()
        .map(|(&id, &v)| (keys[id as usize].as_slice(), bytes(id, v)))
        .collect();
    pairs.sort();
    let rate = [0.0, 0.002, 0.01][rng.below(3) as usize];
    set_faults(std::slice::from_ref(s), None, rate);
    if panics && rng.chance(20) {
        if rng.chance(50) { &s.log_dev } else { &s.data_dev }.arm(rng.below(60) as i64);
        tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
    }
    let r = catch_unwind(AssertUnwindSafe(|| tree.bulk_load(pairs.iter().map(|(k, v)| (k, v)))));
    set_faults(std::slice::from_ref(s), None, 0.0);
    s.disarm();
    match r {
        Err(p) => Err(format!("bulk_load panicked: {}", message(&*p))),
        Ok(Ok(n)) if n == pairs.len() as u64 => {
            tally.bulk_loads_ok.fetch_add(1, Ordering::Relaxed);
            Ok(true)
        }
        Ok(Ok(n)) => Err(format!("bulk_load of {} pairs returned {n}", pairs.len())),
        Ok(Err(e)) if !allowed(&e) => Err(format!("bulk_load: unexpected error {e:?}")),
        Ok(Err(e)) => {
            tally.bulk_loads_failed.fetch_add(1, Ordering::Relaxed);
            match contents(tree, ids) {
                Ok(got) if got.is_empty() || got == *chosen => Ok(false),
                Ok(got) => Err(format!(
                    "bulk_load of {} pairs failed ({e}) and left {} in the tree",
                    pairs.len(),
                    got.len()
                )),
                Err(Unreadable::Tree(r)) if allowed(&r) => Ok(false),
                Err(Unreadable::Tree(r)) => Err(format!("bulk_load failed ({e}), then a scan: {r:?}")),
                Err(Unreadable::Wrong(w)) => Err(format!("bulk_load failed ({e}) and left {w}")),
            }
        }
    }
}

/// Keeps the closures' own panics (`ClosurePanic`, hundreds a run) out of the test's output; every other panic
/// goes to the hook that was there.
fn quiet_closure_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let storage = message(info.payload()).starts_with(STORAGE_PANIC);
            if !info.payload().is::<ClosurePanic>() && !storage {
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
         kept/torn/lost {}/{}/{}; hinted reads {} ({} hints given); covered schedules {}: transactions {}, \
         appends refused {}, applies retried {}, logs above broken {}, commits / checkpoints of the log above {} / \
         {}, records replayed {}; storage panics armed {} (the log above's {}), met {}; bulk loads ok {}, failed {}; open attempts under \
         faults {}; violations {}",
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
        n(&t.hinted_reads),
        n(&t.hints_given),
        n(&t.covered_schedules),
        n(&t.covered_txns),
        n(&t.covered_refused),
        n(&t.covered_retries),
        n(&t.covered_broken),
        n(&t.upper_commits_ok),
        n(&t.upper_checkpoints_ok),
        n(&t.records_replayed),
        n(&t.storage_panics_armed),
        n(&t.upper_panics_armed),
        n(&t.storage_panics),
        n(&t.bulk_loads_ok),
        n(&t.bulk_loads_failed),
        n(&t.open_attempts_faulty),
        violations.len()
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(n(&t.reopens_checked) > 0 && n(&t.commits_ok) > 0);
}
