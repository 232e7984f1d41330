//! A whole-API model of the B+tree (session 39, btmodel39): threads, injected device faults, panicking and
//! re-entrant closures, commits, checkpoints, closes and power losses, all mixed, in seeded schedules.
//!
//! The narrow tests each take one of these at a time (`model.rs`: one thread, no faults; `concurrent.rs`:
//! threads, no faults; `structure_faults_everywhere.rs`, `read_faults_everywhere.rs`: faults, one thread;
//! `sim_crash*.rs`: crashes, one thread; `api_concurrent_edges.rs`: panics in closures). Users meet them together.
//!
//! # A schedule
//! One pool of 16 to 48 frames of 4 KiB (an odd number of them: every write guard clean, `Builder::
//! clean_write_guards`, session 48) holds two trees, each with its data file and its log on a
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
//! Session 42 (bt42) added the rest of R40-O6, off with `BUFPOOL_BTREE_MODEL_OFF=cross_tree,patches,append_loads`
//! (any of them). Their draws come from a second random stream per thread (`Worker::rng2`) and their versions
//! from a second counter, so every draw of the first stream is what it was: with all three off, a seed draws the
//! schedule it drew before them; with them on, the same schedule with their changes and loads added.
//! - **Transactions over both trees** (covered mode, `cross_tree`): three in ten transactions of own keys also
//!   change 1 to 3 own keys of the other tree: one record above, applied tree by tree (as `ours.rs` applies a
//!   transaction table by table), retried whole. The check after a reopen takes, per thread, one prefix of its
//!   transactions common to both trees (`check_trees`' `common`; in covered mode whether or not a transaction
//!   spans both: one log above orders them all): a transaction is in both trees or in neither.
//! - **Patches in the log above** (covered mode, `patches`): four in ten puts of an own key that has a value are
//!   logged as `Op::Patch` of it (the version field's 8 bytes: a patched value keeps its base's tail, `PATCHED`)
//!   and applied as a whole-value `put_covered`, as `ours.rs` applies an update. The replay carries `ours.rs`'
//!   rule: a patch whose row is missing or of another length is skipped, and must have a put or delete of its row
//!   after it in the log (`replay`'s docs say why that is right here).
//! - **Appended loads** (`append_loads`): after one operation in 25, a `bulk_load` in append mode of 1 to 40
//!   (sometimes 300) pairs of *appended keys* (a third kind: above every id's key, each loaded once, nobody's),
//!   beside the other threads, under the epoch's faults and sometimes a storage panic. `Ok`: all there and
//!   durable; refused (`NotAbove` and `ChangedDuringLoad` are allowed here: loads race each other and the
//!   threads' writes to the last leaf): none of it, or all if the error was the final commit's, read back at
//!   once; after a reopen, each batch all there or not at all, one whose load returned `Ok` there, one read back
//!   empty not, and one found whole after a refusal there if a batch above it is (the prefix promise: the
//!   switch records are in the tree's log in key order).
//!
//! Session 43 (bt43) added the rest of R42-O4, off with
//! `BUFPOOL_BTREE_MODEL_OFF=shared_patches,append_changes,empty_loads` (any of them). Their draws come from a third
//! random stream per thread (`Worker::rng3`) and one per schedule (`run_schedule`'s `rng3`), so every draw of the
//! first two streams is what it was: with the three off, a seed draws the schedule it drew before them; with them
//! on, the same draws, with their changes, loads and the spare tree added, and in covered mode a scan's put of a
//! shared key skipped when the key is a locked row (below).
//! - **Patches of shared keys** (covered mode, `shared_patches`): every other shared id is a *locked row*
//!   (`locked_shared`): its transactions hold its row lock from their read of the row to the end of their apply
//!   (as `ours.rs`' transactions hold their rows' locks), so the log above orders its writers as they applied;
//!   four in ten puts of one that has a value are logged as `Op::Patch` of the row read, and replayed by the same
//!   skipped-patch rule; nothing writes it outside the log above. The model keeps its writers in the log's order
//!   (appended under one lock, `SharedRows::log`), reads it under its lock (exact), and after a reopen holds the
//!   locked rows of both trees to one prefix of that order no shorter than the log above's last commit covered
//!   (`check_shared`); the own keys' per-thread prefixes stay as they were.
//! - **Changes of loaded keys** (`append_changes`): a load of appended keys that returned `Ok` gives its keys to
//!   its thread (`Part::adopted`, `Batch::owner`): one unit of the thread's changes, durable (its floor raised:
//!   the load's final commit made the tree's log, and in covered mode the log above, durable up to the load), and
//!   from then on own keys like the others: after about one operation in 8, a put or delete of one (in covered
//!   mode a transaction of the log above, its put sometimes a patch), in the same epoch and across reopens,
//!   checked by the prefix checks; the batch is no longer checked as one.
//! - **Loads into an empty tree** (`empty_loads`): a third tree in the pool, the *spare* (its own storages and
//!   fault rates, its images taken with the others' at a power loss or restart, closed and reopened with them),
//!   new at the schedule's start. After one operation in 20 a thread takes it (one at a time; the others read it
//!   meanwhile), deletes every key it holds and loads 1 to 40 (sometimes 300) pairs at random keys, below or
//!   above the old ones, under the epoch's faults and sometimes a storage panic, then sometimes commits or
//!   checkpoints it. Into an empty tree with no other writer `NotAbove` and `ChangedDuringLoad` are defects
//!   (R43-3 in RELIABILITY.md); its contents are exact (`SpareState`: its deletes and loads as units, the floor
//!   from its commits and `Ok` loads), after a reopen a prefix of them.
//!
//! Session 44 (bt44) added R43-O30 and part of R43-O31, off with
//! `BUFPOOL_BTREE_MODEL_OFF=one_prefix,spare_reopens,spare_writer,adopted_txns,spare_creates` (any of them). Their draws come
//! from a fourth random stream per thread (`Worker::rng4`) and one per schedule (`run_schedule`'s `rng4`), their
//! versions from a fourth counter: with the five off, a seed draws the schedule it drew before them; with them
//! on, the first two streams draw what they drew, with their writes, transactions and reopen attempts added (a
//! thread that finds the spare tree busy makes a side write instead of its read six times in ten: that read draws
//! nothing), and so does the third but for `spare_creates`: a turn of the spare tree whose creation is refused
//! makes no load draws, and a replaced spare starts unfrozen and empty, so a thread's `rng3` draws (its spare
//! loads, and after them its adopted changes and locked rows' patches) shift from there.
//! - **One prefix of the log above** (covered mode, `one_prefix`): every change of own keys and every write of a
//!   locked shared row keeps its record's LSN (`TreeWal::append`'s: the log's own order, taken where the code
//!   under test orders the records, with no lock added around the appends). After a reopen each prefix the own
//!   key checks accept (per thread, over both trees) and each the locked rows' check accepts is a span of cuts
//!   of the log above (`span`: the last LSN it holds, the first it leaves out), and some one cut must fall in a
//!   span of every thread and of the locked rows (`one_prefix`): a recovery that kept a record of one thread
//!   and dropped an earlier one of another's (a hole), or the locked rows a longer prefix than the own keys,
//!   fails it.
//! - **The spare tree's reopens under faults** (`spare_reopens`): reopened as the other trees are without a log
//!   above, beside them in the pool: 1 to 3 attempts under faults (none on half the reopens), the first with a
//!   storage panic armed one time in four (with storage panics), each refused with a typed error or opening it,
//!   then one without.
//! - **A writer beside the spare tree's loads** (`spare_writer`): *side keys* (ids `0..SIDE_IDS` under
//!   `common::key`, below every key its loads write), put and deleted by one thread at a time (exact:
//!   `Spare::side`), after one operation in 25 and by a thread that finds a load running. A load that a side
//!   write overlapped (`Spare::side_seq`) may be refused `ChangedDuringLoad` (`bulk_load`'s docs), never
//!   `NotAbove` (the side keys lie below it); one that none overlapped, neither. The side keys are checked as a
//!   second prefix in the spare tree (all of them at an epoch's end), raised by the side writer's commits and the
//!   loader's commits, checkpoints and `Ok` loads.
//! - **Transactions of adopted and other own keys** (covered mode, `adopted_txns`): half the changes of adopted
//!   keys also change 1 to 3 other own keys (ids the thread owns or other adopted keys, of either tree, puts
//!   sometimes patches), one record and one unit.
//! - **A spare tree created while the threads run** (`spare_creates`): one schedule in five does not create the
//!   spare before the first epoch, and one reopen in five closes it and puts a new one (new storages, a new
//!   model) in its place: the first thread that takes it in the next epoch creates it (`Tree::open_storage` on
//!   empty storages, beside the other trees' work in the pool, under the epoch's faults: refused with a typed
//!   error, it is tried again at the next turn), and a power loss may cut its creation; it is then loaded,
//!   written, closed and reopened as before.
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
//! Appended keys are nobody's until a thread adopts them (session 43): scans and reads check their values' form;
//! the checks hold them to their loads.
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
//! some prefix of its successful changes no shorter than the last one a commit or a checkpoint covered (in
//! covered mode one prefix of its transactions for both trees, and, session 44, every thread's and the locked
//! shared rows' prefixes one prefix of the log above), and the appended keys as their loads say. A
//! `commit` (or checkpoint) that returned `Ok` covers every change that had returned `Ok`, on any thread, before
//! it was called (`Tree::commit`: "makes every change made before the call durable"; a checkpoint writes and
//! syncs every dirty page, each after the log up to its LSN). After a close that succeeded, every change must be
//! there.
//!
//! Session 48 (review48) added, off with `BUFPOOL_BTREE_MODEL_OFF=garble`, with no draw of its own (every other draw
//! is what it was):
//! - **Garbling power losses** (odd schedules): each tree's data file keeps a file record (`common::Sidecar`, as the
//!   sidecar `.bpmeta` of a file opened by path: its pages carry its identity, its log names it), and a power loss
//!   garbles each sector of the blocks its writes had in flight with probability one half
//!   (`FaultyStorage::crash_garbling_blocks`, as `sim_crash.rs` draws for its odd seeds): R46-O40, R47-1 and
//!   `WriteGuard::restore` under threads, covered changes, bulk loads and both trees. The record loses power first
//!   (its written mark is raised only after the data sync it counts). And a pool of an odd number of frames makes
//!   every write guard clean (`Builder::clean_write_guards`).
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

use bufpool::storage::{Fault, FaultConfig, FaultCounts, FaultyStorage, IoRequest, Op as IoOp, RecordStore, Storage};
use bufpool::BufferPool;
use bufpool_btree::{CoveredPut, Error, LeafHint, Op, OwnedOp, Tree, TreeWal};
use common::hooked::{Hooked, Hooks};
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
const BOUNDED_LOG: u64 = 8192 + 2 * bufpool_btree::REGION_MIN;

/// The schedules run: `BUFPOOL_BTREE_MODEL_SCHEDULES` of them (24) from seed `BUFPOOL_BTREE_MODEL_FIRST` (0).
fn schedules() -> std::ops::Range<u64> {
    let var = |name, default| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let first = var("BUFPOOL_BTREE_MODEL_FIRST", 0);
    first..first + var("BUFPOOL_BTREE_MODEL_SCHEDULES", 20)
}

/// The payload of a closure's own panic, told apart from a panic of the library.
struct ClosurePanic;

/// A value in the model: its version and length (`sized_value(id, ver, len)`; a patched version: [`PATCHED`]).
type Val = (u64, usize);

/// A patched value's version (session 42, `Op::Patch` in the log above) has this bit set, a patch count in the
/// bits from [`BASE_BITS`] up, and below them the version of the value the patches started from (its *base*),
/// whose bytes its tail keeps: a patch rewrites the version field only (bytes 8..16), as a TPC-C update rewrites a
/// few fields of a row. Every unpatched version is below `1 << BASE_BITS`.
const PATCHED: u64 = 1 << 63;
const BASE_BITS: u32 = 44;

/// The version whose bytes a value of version `ver` has in its tail.
fn base_of(ver: u64) -> u64 {
    match ver & PATCHED {
        0 => ver,
        _ => ver & ((1 << BASE_BITS) - 1),
    }
}

/// The value of `id` a model entry stands for: `sized_value` of its base, with its own version in bytes 8..16
/// (for an unpatched version the two are one).
fn bytes(id: u64, v: Val) -> Vec<u8> {
    let mut b = sized_value(id, base_of(v.0), v.1);
    b[8..16].copy_from_slice(&v.0.to_le_bytes());
    b
}

/// Appended keys (session 42, `bulk_load` in append mode during an epoch): ids from `APPENDED` on, each loaded
/// once by one load and never changed; keys `zz` and the id big-endian, above every key of an id below `IDS`
/// (`common::key` starts with `k`), in the order of their ids.
const APPENDED: u64 = 1 << 32;

fn appended_key(id: u64) -> Vec<u8> {
    let mut k = b"zz".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The id of `k`: one of `ids`, or an appended key's.
fn id_of_key(ids: &HashMap<Vec<u8>, u64>, k: &[u8]) -> Option<u64> {
    ids.get(k).copied().or_else(|| {
        let id = u64::from_be_bytes(k.strip_prefix(b"zz")?.try_into().ok()?);
        (id >= APPENDED).then_some(id)
    })
}

/// The key of id `id` (an appended one's, from `APPENDED` on).
fn key_of(keys: &[Vec<u8>], id: u64) -> std::borrow::Cow<'_, [u8]> {
    match id < APPENDED {
        true => std::borrow::Cow::Borrowed(&keys[id as usize]),
        false => std::borrow::Cow::Owned(appended_key(id)),
    }
}

/// The model entry of `v`, read under `id`'s key, if it is one of ours for that id.
fn parse(id: u64, v: &[u8]) -> Result<Val, String> {
    if v.len() < 16 || v[..8] != id.to_le_bytes() {
        return Err(format!("value of {} bytes under id {id} does not name it", v.len()));
    }
    let ver = u64::from_le_bytes(v[8..16].try_into().unwrap());
    if bytes(id, (ver, v.len())) != v {
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
    match e {
        Error::Log(_) | Error::NoSpace(_) => true,
        Error::Pool(p) => allowed_in_pool(p),
        _ => false,
    }
}

/// [`allowed`] for the pool's errors; a miss's victim of another file (the other tree's) for its own error.
fn allowed_in_pool(p: &bufpool::Error) -> bool {
    use bufpool::Error as P;
    match p {
        P::VictimWrite { source, .. } => allowed_in_pool(source),
        P::Panicked { message, .. } => message.contains(STORAGE_PANIC),
        _ => matches!(
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
    }
}

/// The message of a model storage's own panic ([`Panicking`]): the pool and the log must turn it into an error.
const STORAGE_PANIC: &str = "the model's storage panicked";

/// A storage as the tree sees it: the `FaultyStorage` below, through [`Panicking`].
type Dev = Arc<Hooked<Arc<FaultyStorage>, Panicking>>;

/// Hooks that panic on the storage's `n`th call (a read, write, sync or batch) once armed, then disarm. The pool
/// catches a data file's storage's panic (`bufpool::Error::Panicked`, the file failed), the log a log storage's
/// (the call's I/O error: `TreeWal`'s docs); neither may unwind.
struct Panicking {
    /// Calls to go before the panic; negative: disarmed.
    left: AtomicI64,
    what: &'static str,
    panics: AtomicU64,
    /// A data storage's file record (session 48, `garble`), as the sidecar `.bpmeta` of a file opened by path.
    record: Option<common::Sidecar>,
}

impl Panicking {
    fn over(inner: Arc<FaultyStorage>, what: &'static str) -> Dev {
        Panicking::with_record(inner, what, None)
    }

    /// As [`Panicking::over`], the storage bound to `record` if given.
    fn with_record(inner: Arc<FaultyStorage>, what: &'static str, record: Option<Arc<FaultyStorage>>) -> Dev {
        let hooks = Panicking {
            left: AtomicI64::new(-1),
            what,
            panics: AtomicU64::new(0),
            record: record.map(common::Sidecar),
        };
        Arc::new(Hooked::new(inner, hooks))
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

impl Hooks for Panicking {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.call("read");
        below.read_at(buf, offset)
    }
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.call("write");
        below.write_at(buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> std::io::Result<()> {
        self.call("sync");
        below.sync()
    }
    /// A batch is one call, run by the `FaultyStorage` below as a batch.
    fn submit(&self, below: &dyn Storage, batch: &mut [IoRequest<'_>]) {
        self.call("batch");
        below.submit(batch)
    }
    /// The record's calls do not panic (the pool's record store is not what the panics are about).
    fn record_store<'a>(&'a self, below: &'a dyn Storage) -> Option<&'a dyn RecordStore> {
        match &self.record {
            Some(record) => Some(record),
            None => below.record_store(),
        }
    }
}

/// What a power loss or a restart leaves of a tree's storages: its log, its data file, and the data file's record
/// if it keeps one (session 48, `garble`).
type TreeImages = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// What a power loss or a restart leaves of the storages: `trees[tree]`, and the log above's.
struct Images {
    trees: Vec<TreeImages>,
    upper: Option<Vec<u8>>,
    /// The spare tree's (session 43).
    spare: Option<TreeImages>,
}

/// One tree's storages: they outlive the pool and trees of an epoch (a restart or a power loss makes new ones
/// from their images).
struct Store {
    log: Arc<FaultyStorage>,
    data: Arc<FaultyStorage>,
    /// The data file's record (session 48, `garble`: the schedule's data files are bound, and a power loss garbles
    /// the blocks their writes had in flight); `None`: the data file is unbound and loses power sector by sector.
    record: Option<Arc<FaultyStorage>>,
    /// The same storages as the tree sees them (they panic when armed).
    log_dev: Dev,
    data_dev: Dev,
    bounded: bool,
}

impl Store {
    /// A tree's storages from `images` (its data file bound to a record if the images hold one), `seed` drawn
    /// for the log and the data file (the record's is derived, so that the schedules' draws stay as they were).
    fn from_images((log, data, record): TreeImages, seeds: (u64, u64), bounded: bool) -> Store {
        let dev = |seed, image| FaultyStorage::from_image(seed, FaultConfig::none(), image);
        let record = record.map(|r| dev(mix(seeds.1 ^ 0x48), r));
        Store::with_record(dev(seeds.0, log), dev(seeds.1, data), record, bounded)
    }

    fn with_record(log: FaultyStorage, data: FaultyStorage, record: Option<FaultyStorage>, bounded: bool) -> Store {
        let (log, data, record) = (Arc::new(log), Arc::new(data), record.map(Arc::new));
        Store {
            log_dev: Panicking::over(log.clone(), "the log storage"),
            data_dev: Panicking::with_record(data.clone(), "the data storage", record.clone()),
            log,
            data,
            record,
            bounded,
        }
    }

    fn disarm(&self) {
        self.log_dev.hooks.disarm();
        self.data_dev.hooks.disarm();
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
    dev: Dev,
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
    /// Its changes of own keys that returned `Ok` this epoch, in order.
    ops: Vec<Change>,
    /// Session 43 (`append_changes`): the appended keys the thread loaded (a load that returned `Ok`) and owns
    /// from then on, as its own keys (present or deleted since).
    adopted: std::collections::BTreeSet<u64>,
}

/// A change of an own key in a thread's part of a tree.
#[derive(Clone, Copy, Debug)]
struct Change {
    id: u64,
    /// `None`: deleted.
    v: Option<Val>,
    /// The thread's unit (counted over both trees from 0 each epoch) it belongs to: a unit's changes are all
    /// there or none after a crash (a transaction's in covered mode, which may span both trees; else one change).
    unit: u64,
    /// Session 44: in covered mode, the LSN of the unit's record in the log above (`TreeWal::append`'s); `None`
    /// for a change that has none (uncovered, or an adopted load's unit).
    lsn: Option<u64>,
}

/// What an appended batch's load came to (session 42): what the tree must hold of it at a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loaded {
    /// The load has not returned (or the thread stopped in it): nothing or all of it.
    Running,
    /// The load returned `Ok` before any power loss: durable ("Durable when it returns"), so all of it.
    Ok,
    /// Refused, and read back whole: the error came after the switch (the final commit's): nothing or all of it,
    /// and all of it if a batch above it is there (the switch records are in the tree's log in key order).
    Switched,
    /// Refused, and read back empty (the error came before the switch, which never comes after the return), or
    /// not there after a reopen: nothing of it, ever.
    Absent,
    /// Refused and not read back (a read failed, or the power was lost), or `Ok` after the power loss: nothing
    /// or all of it.
    Unknown,
}

/// One `bulk_load` of appended keys: ids `first..first + vals.len()`.
#[derive(Clone, Debug)]
struct Batch {
    first: u64,
    vals: Vec<Val>,
    state: Loaded,
    /// Session 43 (`append_changes`): the thread that owns the batch's keys since its load returned `Ok` (they
    /// are its own keys from then on, checked by `check_trees`' prefixes, not as a batch).
    owner: Option<usize>,
}

/// A tree's appended keys (session 42): the next id to take, and every batch loaded or tried, in the order taken.
struct Appends {
    next: AtomicU64,
    batches: Mutex<Vec<Batch>>,
}

impl Default for Appends {
    fn default() -> Appends {
        Appends {
            next: AtomicU64::new(APPENDED),
            batches: Mutex::new(Vec::new()),
        }
    }
}

/// The features session 42 added, each on unless `BUFPOOL_BTREE_MODEL_OFF` names it (`cross_tree`, `patches`,
/// `append_loads`).
#[derive(Clone, Copy)]
struct New42 {
    cross_tree: bool,
    patches: bool,
    append_loads: bool,
}

/// The features session 43 added, each on unless `BUFPOOL_BTREE_MODEL_OFF` names it (`shared_patches`,
/// `append_changes`, `empty_loads`).
#[derive(Clone, Copy)]
struct New43 {
    shared_patches: bool,
    append_changes: bool,
    empty_loads: bool,
}

/// The features session 44 added, each on unless `BUFPOOL_BTREE_MODEL_OFF` names it (`one_prefix`,
/// `spare_reopens`, `spare_writer`, `adopted_txns`, `spare_creates`).
#[derive(Clone, Copy)]
struct New44 {
    one_prefix: bool,
    spare_reopens: bool,
    spare_writer: bool,
    adopted_txns: bool,
    spare_creates: bool,
}

/// Session 44 (`spare_writer`): the spare tree's *side keys*, ids `0..SIDE_IDS` under `common::key` (below every
/// key a load of it writes), put and deleted by one thread at a time beside its loads.
const SIDE_IDS: u64 = 8;

/// Whether shared id `id` is a *locked* shared row (session 43, covered mode with `shared_patches`): every other
/// shared id. Its covered transactions hold its row lock from their read of it to the end of their apply, as
/// `ours.rs`' transactions hold a row's lock, so the log above orders its writers as they applied, and a put of
/// it may be logged as a patch of the row read; nothing changes it outside the log above (a scan's put of a
/// shared key skips it).
fn locked_shared(threads: usize, id: u64) -> bool {
    let step = threads as u64 + 1;
    id < IDS && id % step == threads as u64 && (id / step).is_multiple_of(2)
}

/// A change of a locked shared row: `(tree, id, value, its record's LSN in the log above)`.
type SharedWrite = (usize, u64, Option<Val>, u64);

/// The locked shared rows of an epoch (covered mode with `shared_patches`): their locks, and their writers in the
/// log above's order.
struct SharedRows {
    /// `[tree][id / (threads + 1)]`: the row locks.
    locks: Vec<Vec<Mutex<()>>>,
    /// Every change of a locked row whose record was appended, in the log above's order (appended under this
    /// lock, so the order of `log` is the log's), with its record's LSN (session 44: for [`one_prefix`]).
    log: Mutex<Vec<SharedWrite>>,
    /// The rows as `log` leaves them (`(tree, id)`).
    now: Mutex<BTreeMap<(usize, u64), Val>>,
    /// How many of `log` a commit or checkpoint of the log above covers.
    floor: AtomicU64,
}

impl SharedRows {
    fn new(threads: usize, base: &BTreeMap<(usize, u64), Val>) -> SharedRows {
        let rows = (IDS / (threads as u64 + 1) + 1) as usize;
        SharedRows {
            locks: (0..TREES)
                .map(|_| (0..rows).map(|_| Mutex::new(())).collect())
                .collect(),
            log: Mutex::new(Vec::new()),
            now: Mutex::new(base.clone()),
            floor: AtomicU64::new(0),
        }
    }
}

/// The spare tree's model (session 43, `empty_loads`): a third tree in the pool, on its own storages, that only
/// `bulk_load`s into it when it is empty (new, or emptied by deletes) and the deletes that empty it change. One
/// thread at a time changes it (`Spare::state`'s lock), so its contents are exact: a `Part` whose units are its
/// deletes and loads, in order.
#[derive(Default)]
struct SpareState {
    part: Part,
    /// Units recorded (a delete, or a load's pairs).
    units: u64,
    /// How many of `part.ops` a commit, checkpoint or load that returned `Ok` covers.
    floor: usize,
    /// The last unit is a refused load not read back: there or not, even before a crash; nothing more changes
    /// the tree this epoch (`frozen`).
    maybe_last: bool,
    frozen: bool,
    /// Loads tried so far in the tree's life (the first is into a new tree).
    loads: u64,
    /// Session 44 (`spare_writer`): its side keys (kept here between epochs, in `Spare::side` during one).
    side: Side,
}

impl SpareState {
    fn unit(&mut self, changes: &[(u64, Option<Val>)]) {
        push_unit(&mut self.part, &mut self.units, changes);
    }
}

/// Records `changes` of `part` as its unit number `units` (then counted).
fn push_unit(part: &mut Part, units: &mut u64, changes: &[(u64, Option<Val>)]) {
    for &(id, v) in changes {
        match v {
            Some(v) => part.model.insert(id, v),
            None => part.model.remove(&id),
        };
        part.ops.push(Change {
            id,
            v,
            unit: *units,
            lsn: None,
        });
    }
    *units += 1;
}

/// Session 44 (`spare_writer`): the spare tree's side keys (`SIDE_IDS`), changed by one thread at a time
/// (`Spare::side`'s lock) beside the loads, so exact: their puts and deletes that returned `Ok`, one unit each,
/// and how many of them a commit (the side writer's, or the loader's commits, checkpoints and `Ok` loads)
/// covers.
#[derive(Default)]
struct Side {
    part: Part,
    units: u64,
    floor: usize,
}

/// The spare tree during an epoch.
struct Spare<'a> {
    /// Session 44 (`spare_creates`): not yet created when the epoch began; the first thread that takes it then
    /// creates it (`spare_cycle`), beside the others' work in the pool.
    tree: std::sync::OnceLock<Tree>,
    pool: &'a Arc<BufferPool>,
    store: &'a Store,
    state: Mutex<SpareState>,
    /// Session 44 (`spare_writer`): the side keys; a count bumped before and after each side write (odd: one is
    /// running), how many side changes had returned `Ok` (published after each), and a floor the loader's
    /// commits raise.
    side: Mutex<Side>,
    side_seq: AtomicU64,
    side_done: AtomicU64,
    side_floor: AtomicU64,
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
    new42: New42,
    new43: New43,
    new44: New44,
    /// Covered mode with `shared_patches`: the locked shared rows.
    shared: Option<&'a SharedRows>,
    /// `empty_loads`: the spare tree.
    spare: Option<&'a Spare<'a>>,
    /// `[tree]`: the appended keys' loads.
    appends: &'a [Appends],
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
    /// Session 42: covered transactions spanning both trees; patches appended to the log above, replayed and
    /// skipped by the replay's rule; loads of appended keys ok and refused (of those, read back empty, whole, or
    /// not read), appended keys found by checks.
    cross_txns: AtomicU64,
    patches_logged: AtomicU64,
    patches_replayed: AtomicU64,
    patches_skipped: AtomicU64,
    append_loads_ok: AtomicU64,
    append_loads_refused: AtomicU64,
    append_refused_absent: AtomicU64,
    append_refused_switched: AtomicU64,
    append_refused_unknown: AtomicU64,
    appended_keys_checked: AtomicU64,
    /// Session 43: transactions of locked shared rows, patches of them logged, reads of them under their lock;
    /// loads that returned `Ok` whose keys their thread then owned, and changes of such keys; the spare tree's
    /// loads into a new tree and into one emptied by deletes, ok and refused, its deletes, reads beside its
    /// writer, and keys checked.
    shared_locked_txns: AtomicU64,
    shared_patches_logged: AtomicU64,
    adopted_batches: AtomicU64,
    adopted_changes: AtomicU64,
    spare_loads_new: AtomicU64,
    spare_loads_emptied: AtomicU64,
    spare_loads_ok: AtomicU64,
    spare_loads_refused: AtomicU64,
    spare_deletes: AtomicU64,
    spare_reads: AtomicU64,
    spare_keys_checked: AtomicU64,
    /// Session 44: reopens checked for one prefix of the log above; the spare tree's reopen attempts under faults
    /// (and of them refused), its side writes ok, its loads beside a side write (and of them refused
    /// `ChangedDuringLoad`), side keys checked; transactions of adopted keys with other own keys.
    one_prefix_checks: AtomicU64,
    spare_open_attempts: AtomicU64,
    spare_opens_refused: AtomicU64,
    side_writes: AtomicU64,
    spare_loads_beside: AtomicU64,
    spare_loads_changed: AtomicU64,
    side_keys_checked: AtomicU64,
    adopted_txns: AtomicU64,
    /// Session 44 (`spare_creates`): spare trees created by a thread during an epoch (tries, refused), and spare
    /// trees replaced by new ones at a reopen.
    spare_creates: AtomicU64,
    spare_creates_refused: AtomicU64,
    spare_replaced: AtomicU64,
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
            *crashed = Some(power_loss(
                self.stores,
                self.upper.map(|u| &u.storage),
                self.spare.map(|s| s.store),
            ));
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
    /// Session 42's draws (cross-tree transactions, patches, appended loads), apart from `rng` so that every draw
    /// of `rng` is what it was before them.
    rng2: Rng,
    /// Session 43's draws (locked shared rows' patches, changes of adopted keys, the spare tree), apart from `rng`
    /// and `rng2` for the same reason.
    rng3: Rng,
    /// Session 44's draws (the spare tree's side writes, transactions of adopted and own keys), apart from the
    /// three above.
    rng4: Rng,
    parts: Vec<Part>,
    next_ver: u64,
    /// Versions and patch counts of session 42's changes, apart from `next_ver` for the same reason.
    next_ver2: u64,
    next_patch: u64,
    /// Versions of session 43's changes.
    next_ver3: u64,
    /// Versions of session 44's changes.
    next_ver4: u64,
    /// Units (`Change::unit`) recorded this epoch.
    units: u64,
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

    /// The thread that owns `id`, or `threads` for a shared id, or `usize::MAX` for an appended one (nobody's).
    fn owner(&self, id: u64) -> usize {
        match id < IDS {
            true => (id % (self.e.threads as u64 + 1)) as usize,
            false => usize::MAX,
        }
    }

    /// Whether `id` is this thread's own key in tree `t`: an id it owns, or an appended key it adopted.
    fn mine(&self, t: usize, id: u64) -> bool {
        match id < IDS {
            true => self.owner(id) == self.me,
            false => self.parts[t].adopted.contains(&id),
        }
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
        let ver = ((self.me as u64 + 1) << 40) | self.next_ver;
        // A patched version keeps its base below `BASE_BITS`.
        assert!(
            ver < 1 << BASE_BITS,
            "version {ver:#x} is too large to be a patch's base"
        );
        ver
    }

    /// A version for session 42's draws: `ver`'s, with bit 31 of the count set (`next_ver` counts far fewer).
    fn ver2(&mut self) -> u64 {
        self.next_ver2 += 1;
        let ver = ((self.me as u64 + 1) << 40) | self.next_ver2 | (1 << 31);
        assert!(
            ver < 1 << BASE_BITS,
            "version {ver:#x} is too large to be a patch's base"
        );
        ver
    }

    /// A version for session 43's draws: bit 30 of the count set.
    fn ver3(&mut self) -> u64 {
        self.next_ver3 += 1;
        ((self.me as u64 + 1) << 40) | self.next_ver3 | (1 << 30)
    }

    /// A version for session 44's draws: bit 29 of the count set.
    fn ver4(&mut self) -> u64 {
        self.next_ver4 += 1;
        ((self.me as u64 + 1) << 40) | self.next_ver4 | (1 << 29)
    }

    /// `len` drawn from `rng4`.
    fn len4(&mut self) -> usize {
        match self.rng4.below(10) {
            0..=5 => 16 + self.rng4.below(120) as usize,
            6..=8 => 16 + self.rng4.below(400) as usize,
            _ => 600 + self.rng4.below(400) as usize,
        }
    }

    /// `len` drawn from `rng3`.
    fn len3(&mut self) -> usize {
        match self.rng3.below(10) {
            0..=5 => 16 + self.rng3.below(120) as usize,
            6..=8 => 16 + self.rng3.below(400) as usize,
            _ => 600 + self.rng3.below(400) as usize,
        }
    }

    /// The value a patch makes of `old`: a new version (`PATCHED`) over `old`'s base, the same length.
    fn patched(&mut self, old: Val) -> Val {
        self.next_patch += 1;
        let count = ((self.me as u64 & 3) << 17) | (self.next_patch & 0x1_ffff);
        (PATCHED | (count << BASE_BITS) | base_of(old.0), old.1)
    }

    /// Checks a read of `id` that returned `got`: exact for an own key, well-formed otherwise.
    fn check_read(&self, t: usize, what: &str, id: u64, got: Option<&[u8]>) {
        if self.mine(t, id) {
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
        self.changed_unit(&[(t, id, v)], None);
    }

    /// Records changes `(tree, id, value)` of own keys that stand or fall together (a transaction's, in covered
    /// mode, in one tree or both) as one unit; `lsn`: its record's in the log above (covered mode).
    fn changed_unit(&mut self, changes: &[(usize, u64, Option<Val>)], lsn: Option<u64>) {
        let unit = self.units;
        self.units += 1;
        for &(t, id, v) in changes {
            let p = &mut self.parts[t];
            match v {
                Some(v) => p.model.insert(id, v),
                None => p.model.remove(&id),
            };
            p.ops.push(Change { id, v, unit, lsn });
        }
        // Each tree's count after all its changes of the unit (a commit that reads one tree's count before the
        // other's covers the unit in one tree only by these counts, which `check_trees` reads as covering it).
        for t in 0..TREES {
            if changes.iter().any(|c| c.0 == t) {
                self.e.done[t][self.me].store(self.parts[t].ops.len() as u64, Ordering::SeqCst);
            }
        }
    }

    /// After a change of own key `id` failed: it left no trace (if the key can be read).
    fn read_back(&self, t: usize, id: u64, what: &str) {
        if let Ok(v) = self.e.trees[t].get(&key_of(self.e.keys, id)) {
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
        // Session 43: the locked shared rows' changes appended so far (a commit of the log above covers them).
        let shared = self
            .e
            .shared
            .filter(|_| covers)
            .map(|sh| (sh, sh.log.lock().unwrap().len() as u64));
        match run() {
            Ok(()) => {
                self.ok();
                if !covers {
                    return true;
                }
                if let Some((sh, n)) = shared {
                    sh.floor.fetch_max(n, Ordering::SeqCst);
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
            let k = &*key_of(self.e.keys, *id);
            if i > 0 && *key_of(self.e.keys, seen[i - 1].0) >= *k {
                self.violation(format!(
                    "{what} of tree {t}: id {id} after id {}, out of order",
                    seen[i - 1].0
                ));
            }
            if !in_range(k, lo, hi) {
                self.violation(format!("{what} of tree {t}: id {id} outside the range"));
            }
            self.check_read(t, what, *id, Some(v));
            own += usize::from(self.mine(t, *id));
        }
        if whole {
            let want = self.parts[t]
                .model
                .keys()
                .filter(|&&id| in_range(&key_of(self.e.keys, id), lo, hi))
                .count();
            if want != own {
                self.violation(format!(
                    "{what} of tree {t} returned {own} own keys of the {want} the model has in the range"
                ));
            }
        }
    }

    fn id_of(&self, k: &[u8]) -> Option<u64> {
        id_of_key(self.e.ids, k)
    }

    /// Reads back the appended keys `first..first + vals.len()` of `tree` after a bulk load of them (no other
    /// thread writes them): counts those holding their value of `vals`; any other key or value in the range is a
    /// violation ("a read of {keys} met key ..."). Returns the count and whether the read reached the range's end
    /// (not tried after a crash; a failed read is counted as `op`).
    fn read_appended(&self, tree: &Tree, first: u64, vals: &[Val], crashed: bool, keys: &str, op: &str) -> (u64, bool) {
        let n = vals.len() as u64;
        let (lo, hi) = (appended_key(first), appended_key(first + n - 1));
        let (mut found, mut read) = (0u64, !crashed);
        for pair in tree.range((Bound::Included(lo.as_slice()), Bound::Included(hi.as_slice()))) {
            if !read {
                break;
            }
            match pair {
                Ok((k, v)) => {
                    let id = self.id_of(&k).filter(|id| (first..first + n).contains(id));
                    match id {
                        Some(id) if parse(id, &v) == Ok(vals[(id - first) as usize]) => found += 1,
                        _ => self.violation(format!("a read of {keys} met key {k:?} with {} bytes", v.len())),
                    }
                }
                Err(err) => {
                    self.e.failed(op, &err);
                    read = false;
                }
            }
        }
        (found, read)
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
            // Session 42: a load of appended keys after the operation, one in 25 (drawn from `rng2`; the power
            // loss's count is of `rng`'s operations).
            let append = (self.rng2.chance(4) && self.e.new42.append_loads).then(|| self.rng2.below(TREES as u64));
            // Session 43 (from `rng3`): a change of an adopted key after about one operation in 8, a turn of the spare
            // tree after one in 20.
            let adopted = (self.e.new43.append_changes && self.rng3.chance(12)).then(|| self.rng3.below(TREES as u64));
            let spare = self.e.spare.is_some() && self.rng3.chance(5);
            // Session 44 (from `rng4`): a side write of the spare tree after one operation in 25.
            let side = self.e.spare.is_some() && self.e.new44.spare_writer && self.rng4.chance(4);
            let result = catch_unwind(AssertUnwindSafe(|| {
                self.op(t, roll);
                if let Some(a) = append.filter(|_| !self.e.stop.load(Ordering::SeqCst)) {
                    self.append_load(a as usize);
                }
                if let Some(a) = adopted.filter(|_| !self.e.stop.load(Ordering::SeqCst)) {
                    self.adopted_change(a as usize);
                }
                if spare && !self.e.stop.load(Ordering::SeqCst) {
                    self.spare_cycle();
                }
                if let Some(sp) = self.e.spare.filter(|_| side && !self.e.stop.load(Ordering::SeqCst)) {
                    self.side_write(sp);
                }
            }));
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
        if !self.mine(t, id) {
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
    ///
    /// Session 42: a transaction of own keys may also change 1 to 3 own keys of the other tree (`cross_tree`:
    /// one record, applied tree by tree as `ours.rs` applies it table by table), and a put of an own key that has
    /// a value may be logged as a patch of it (`patches`: `Op::Patch`, the version field's bytes, applied as a
    /// whole-value `put_covered` as `ours.rs` applies an update). The patch is of the row as the thread last wrote
    /// it, which is the tree's row when it applies: only this thread changes its own keys, and in covered mode
    /// only by these transactions, in their log order (what `ours.rs`' locks give its transactions).
    fn covered_txn(&mut self, t: usize, up: &Upper, shared: bool) {
        let e = self.e;
        let n = if shared { 1 } else { 1 + self.rng.below(4) as usize };
        // `(tree, id, value, the value it patches)`.
        let mut changes: Vec<(usize, u64, Option<Val>, Option<Val>)> = Vec::new();
        for _ in 0..n {
            let id = if shared { self.shared_id() } else { self.own_id() };
            if changes.iter().all(|c| c.1 != id) {
                let v = self.rng.chance(65).then(|| (self.ver(), self.len()));
                changes.push((t, id, v, None));
            }
        }
        let as_run = self.rng.chance(50);
        // Session 42's draws, from `rng2`: the other tree's changes, then which puts are patches.
        if !shared && e.new42.cross_tree && self.rng2.chance(30) {
            let o = 1 - t;
            for _ in 0..1 + self.rng2.below(3) {
                let id = self.id_of_owner2(self.me);
                if changes.iter().all(|c| (c.0, c.1) != (o, id)) {
                    let v = self.rng2.chance(65).then(|| (self.ver2(), self.len2()));
                    changes.push((o, id, v, None));
                }
            }
        }
        if !shared && e.new42.patches {
            for c in &mut changes {
                if let (Some(_), Some(&old)) = (c.2, self.parts[c.0].model.get(&c.1)) {
                    if self.rng2.chance(40) {
                        c.2 = Some(self.patched(old));
                        c.3 = Some(old);
                    }
                }
            }
        }
        // Session 43, from `rng3`: whether a put of a locked shared row is logged as a patch of the row read.
        let lock_row = shared && e.shared.is_some() && locked_shared(e.threads, changes[0].1);
        let patch_row = lock_row && self.rng3.chance(40);
        self.covered_commit(t, up, changes, as_run, shared, lock_row.then_some(patch_row));
    }

    /// The rest of a covered transaction of `changes` (`(tree, id, value, the value it patches)`): its record
    /// appended to the log above, then its changes applied tree by tree (as a run if `as_run`), retried; still
    /// failing, it breaks the log above. `shared`: one change of a shared key (no unit recorded); `locked`
    /// (session 43): a locked shared row's, made under its row lock, and (`Some(true)`) a put of it logged as a
    /// patch of the row read there.
    fn covered_commit(
        &mut self,
        t: usize,
        up: &Upper,
        mut changes: Vec<(usize, u64, Option<Val>, Option<Val>)>,
        as_run: bool,
        shared: bool,
        locked: Option<bool>,
    ) {
        let e = self.e;
        let keys: Vec<std::borrow::Cow<'_, [u8]>> = changes.iter().map(|c| key_of(e.keys, c.1)).collect();
        let _gate = up.gate.read().unwrap();
        if up.broken.load(Ordering::SeqCst) {
            return;
        }
        // Session 43: a locked shared row is read under its lock, which is held to the end of the apply.
        let sh = e.shared.filter(|_| locked.is_some());
        let _row = match sh {
            Some(sh) => {
                let (rt, id) = (changes[0].0, changes[0].1);
                let row = sh.locks[rt][(id / (e.threads as u64 + 1)) as usize].lock().unwrap();
                if up.broken.load(Ordering::SeqCst) {
                    return;
                }
                self.note(format!("read locked shared row {id} of tree {rt}"));
                let read = match e.trees[rt].get(&keys[0]) {
                    Ok(v) => v,
                    Err(err) => return e.failed("get of a locked shared row", &err),
                };
                let want = sh.now.lock().unwrap().get(&(rt, id)).copied();
                if read.as_deref() != want.map(|v| bytes(id, v)).as_deref() {
                    self.violation(format!(
                        "locked shared row {id} of tree {rt} read under its lock: got {:?}, the log above's order \
                         of its writers says {want:?}",
                        read.as_deref().map(|g| parse(id, g))
                    ));
                    return;
                }
                if let (Some(true), Some(_), Some(old)) = (locked, changes[0].2, want) {
                    changes[0].2 = Some(self.patched(old));
                    changes[0].3 = Some(old);
                }
                Some(row)
            }
            None => None,
        };
        let vals: Vec<Option<Vec<u8>>> = changes.iter().map(|&(_, id, v, _)| v.map(|v| bytes(id, v))).collect();
        let edits: Vec<Option<Vec<u8>>> = changes
            .iter()
            .map(|&(_, id, v, old)| {
                let (v, old) = (v?, old?);
                let mut out = Vec::new();
                bufpool_btree::encode_edits(&bytes(id, old), &bytes(id, v), &mut out).then_some(out)
            })
            .collect();
        let cross = changes.iter().any(|c| c.0 != t);
        self.note(format!(
            "covered transaction in tree {t}: {:?} (as a run: {as_run})",
            changes
                .iter()
                .map(|&(tt, id, v, old)| format!("{tt}:{id}={v:?}{}", if old.is_some() { " (patch)" } else { "" }))
                .collect::<Vec<_>>()
        ));
        let ops: Vec<Op<'_>> = changes
            .iter()
            .zip(vals.iter().zip(&edits))
            .zip(&keys)
            .map(|((&(tt, _, _, _), (v, ed)), key)| {
                let (page, key) = (tt as u32, &key[..]);
                match (v, ed) {
                    (Some(val), Some(edits)) => Op::Patch {
                        page,
                        key,
                        len: val.len() as u32,
                        edits,
                    },
                    (Some(val), None) => Op::Put { page, key, val },
                    (None, _) => Op::Del { page, key },
                }
            })
            .collect();
        let appended = match sh {
            // The append and its place in the rows' log under one lock: `log` is in the log above's order.
            Some(sh) => {
                let mut log = sh.log.lock().unwrap();
                let r = up.wal.append(&ops);
                if let Ok(lsn) = r {
                    let (rt, id, v, _) = changes[0];
                    log.push((rt, id, v, lsn));
                    let mut now = sh.now.lock().unwrap();
                    match v {
                        Some(v) => now.insert((rt, id), v),
                        None => now.remove(&(rt, id)),
                    };
                    e.tally.shared_locked_txns.fetch_add(1, Ordering::Relaxed);
                    if changes[0].3.is_some() {
                        e.tally.shared_patches_logged.fetch_add(1, Ordering::Relaxed);
                    }
                }
                r
            }
            None => up.wal.append(&ops),
        };
        let lsn = match appended {
            Ok(lsn) => lsn,
            Err(err) => {
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
        };
        // Appended: it may be durable from here on, whatever happens to the changes (a recovery redoes it).
        if !shared {
            let unit: Vec<(usize, u64, Option<Val>)> = changes.iter().map(|&(tt, id, v, _)| (tt, id, v)).collect();
            self.changed_unit(&unit, Some(lsn));
        }
        let patches = edits.iter().filter(|x| x.is_some()).count() as u64;
        e.tally.patches_logged.fetch_add(patches, Ordering::Relaxed);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut applied = Ok(());
            for tt in [t, 1 - t] {
                let tree = &e.trees[tt];
                let hints = &mut self.hints[tt];
                // This tree's changes: `(id, key, value)`.
                let mine = || {
                    changes
                        .iter()
                        .zip(&vals)
                        .zip(&keys)
                        .filter(move |((c, _), _)| c.0 == tt)
                        .map(|((c, v), k)| (c.1, &k[..], v.as_deref()))
                };
                applied = if as_run {
                    let mut run: Vec<(u64, CoveredPut<'_>)> = mine()
                        .filter_map(|(id, key, v)| {
                            let hint = hints.get(&id).copied().unwrap_or_default();
                            Some((id, CoveredPut { key, val: v?, hint }))
                        })
                        .collect();
                    run.sort_by(|a, b| a.1.key.cmp(b.1.key));
                    let (ids, mut run): (Vec<u64>, Vec<CoveredPut<'_>>) = run.into_iter().unzip();
                    tree.put_covered_run(&mut run).and_then(|()| {
                        for (id, p) in ids.iter().zip(&run) {
                            hints.insert(*id, p.hint);
                        }
                        mine().filter(|c| c.2.is_none()).try_for_each(|(id, key, _)| {
                            tree.delete_covered(key, hints.entry(id).or_default()).map(|_| ())
                        })
                    })
                } else {
                    mine().try_for_each(|(id, key, v)| {
                        let hint = hints.entry(id).or_default();
                        match v {
                            Some(val) => tree.put_covered(key, val, hint),
                            None => tree.delete_covered(key, hint).map(|_| ()),
                        }
                    })
                };
                if applied.is_err() {
                    break;
                }
            }
            match applied {
                Ok(()) => break,
                Err(err) => {
                    e.failed("a covered change", &err);
                    if tries < 3 {
                        e.tally.covered_retries.fetch_add(1, Ordering::Relaxed);
                        if err.is_no_space() {
                            let _ = e.trees[t].checkpoint();
                            if cross {
                                let _ = e.trees[1 - t].checkpoint();
                            }
                        }
                        continue;
                    }
                    // The trees hold part of a transaction whose record is in the log above: the engine stops
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
        if cross {
            e.tally.cross_txns.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Session 42: `bulk_load` in append mode beside the other threads: 1 to 40 (sometimes 300) pairs of appended
    /// keys above every key of the tree (its next ids: a load that took its ids after another's and switched first
    /// makes that one `NotAbove`), under the epoch's faults and sometimes a storage panic armed. `Ok`: every pair
    /// is there, and durable (`bulk_load`: "Durable when it returns"). Refused: the tree holds none of the batch,
    /// or all of it if the error was the final commit's ("On an error before the switch the tree is unchanged");
    /// read back at once, and what was found is what later checks hold it to ([`Loaded`]).
    fn append_load(&mut self, t: usize) {
        let e = self.e;
        let tree = &e.trees[t];
        let most = if self.rng2.chance(15) { 300 } else { 40 };
        let n = 1 + self.rng2.below(most);
        let first = e.appends[t].next.fetch_add(n, Ordering::SeqCst);
        let vals: Vec<Val> = (0..n)
            .map(|_| {
                let len = match self.rng2.chance(10) {
                    true => 600 + self.rng2.below(400),
                    false => 16 + self.rng2.below(200),
                };
                (1, len as usize)
            })
            .collect();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .map(|i| (appended_key(first + i), bytes(first + i, vals[i as usize])))
            .collect();
        let at = {
            let mut batches = e.appends[t].batches.lock().unwrap();
            batches.push(Batch {
                first,
                vals: vals.clone(),
                state: Loaded::Running,
                owner: None,
            });
            batches.len() - 1
        };
        if e.panics && self.rng2.chance(10) {
            let (s, log, calls) = (&e.stores[t], self.rng2.chance(50), self.rng2.below(40) as i64);
            if log { &s.log_dev } else { &s.data_dev }.hooks.arm(calls);
            e.tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
        }
        self.note(format!("bulk_load of {n} appended keys from {first:#x} into tree {t}"));
        let r = tree.bulk_load(pairs.iter().map(|(k, v)| (k, v)));
        let crashed = e.crashed();
        let state = match &r {
            &Ok(m) if m == n => {
                self.ok();
                e.tally.append_loads_ok.fetch_add(1, Ordering::Relaxed);
                match crashed {
                    true => Loaded::Unknown,
                    false => Loaded::Ok,
                }
            }
            Ok(m) => {
                self.violation(format!("bulk_load of {n} appended keys into tree {t} returned {m}"));
                Loaded::Unknown
            }
            Err(err) => {
                e.tally.ops_failed.fetch_add(1, Ordering::Relaxed);
                e.tally.append_loads_refused.fetch_add(1, Ordering::Relaxed);
                let refusal = matches!(err, Error::NotAbove | Error::ChangedDuringLoad);
                if !refusal && !allowed(err) && !crashed {
                    self.violation(format!(
                        "bulk_load of {n} appended keys into tree {t}: unexpected error {err:?}"
                    ));
                }
                Loaded::Unknown
            }
        };
        // Read the batch back (only this thread writes its keys): none or all of it, whatever the outcome.
        let (found, read) = self.read_appended(
            tree,
            first,
            &vals,
            crashed,
            &format!("the appended keys {first:#x}+{n} of tree {t}"),
            "range over appended keys",
        );
        let state = match (state, read, found) {
            (Loaded::Ok, true, f) if f != n => {
                self.violation(format!(
                    "bulk_load of {n} appended keys into tree {t} returned Ok; {f} of them are there"
                ));
                state
            }
            (Loaded::Unknown, true, 0) if r.is_err() => {
                e.tally.append_refused_absent.fetch_add(1, Ordering::Relaxed);
                Loaded::Absent
            }
            (Loaded::Unknown, true, f) if f == n && r.is_err() => {
                e.tally.append_refused_switched.fetch_add(1, Ordering::Relaxed);
                Loaded::Switched
            }
            (_, true, f) if f != 0 && f != n => {
                self.violation(format!(
                    "bulk_load of {n} appended keys into tree {t} ({:?}) left {f} of them in the tree",
                    r.as_ref().map_err(|e| e.to_string())
                ));
                state
            }
            _ => {
                if r.is_err() {
                    e.tally.append_refused_unknown.fetch_add(1, Ordering::Relaxed);
                }
                state
            }
        };
        // Session 43 (`append_changes`): a load that returned `Ok` makes its keys this thread's own, changed by
        // it from now on (`adopted_change`): one unit of its changes, durable (the load's final commit made the
        // tree's log, and in covered mode the log above, durable up to the load's switch record: every earlier
        // change of the thread is there too, so the floor is all of them).
        let adopt = state == Loaded::Ok && e.new43.append_changes;
        {
            let mut batches = e.appends[t].batches.lock().unwrap();
            batches[at].state = state;
            if adopt {
                batches[at].owner = Some(self.me);
            }
        }
        if adopt {
            e.tally.adopted_batches.fetch_add(1, Ordering::Relaxed);
            let unit: Vec<(usize, u64, Option<Val>)> = (0..n).map(|i| (t, first + i, Some(vals[i as usize]))).collect();
            self.parts[t].adopted.extend(first..first + n);
            self.changed_unit(&unit, None);
            let mut floor = e.floor.lock().unwrap();
            floor[t][self.me] = floor[t][self.me].max(self.parts[t].ops.len() as u64);
        }
    }

    /// Session 43 (`append_changes`): a change of an appended key this thread adopted in tree `t` (its load
    /// returned `Ok`): a put or a delete, and in covered mode a transaction of the log above (whose put may be
    /// logged as a patch of the row), as the thread's other own keys change. The loaded edge of the tree then
    /// splits and merges under the other threads' loads and writes.
    fn adopted_change(&mut self, t: usize) {
        let e = self.e;
        let p = &self.parts[t];
        if p.adopted.is_empty() {
            return;
        }
        let nth = self.rng3.below(p.adopted.len() as u64) as usize;
        let id = *p.adopted.iter().nth(nth).unwrap();
        let old = p.model.get(&id).copied();
        let v = self.rng3.chance(60).then(|| (self.ver3(), self.len3()));
        let patch = self.rng3.chance(50);
        e.tally.adopted_changes.fetch_add(1, Ordering::Relaxed);
        if let Some(up) = e.upper {
            let as_run = self.rng3.chance(50);
            let change = match (v, old) {
                (Some(_), Some(old)) if patch && e.new42.patches => (t, id, Some(self.patched(old)), Some(old)),
                _ => (t, id, v, None),
            };
            let mut changes = vec![change];
            // Session 44 (`adopted_txns`, from `rng4`): half of them also change 1 to 3 other own keys (an id the
            // thread owns or another adopted key, of either tree), one transaction as the others are.
            if e.new44.adopted_txns && self.rng4.chance(50) {
                for _ in 0..1 + self.rng4.below(3) {
                    let tt = self.rng4.below(TREES as u64) as usize;
                    let adopted = &self.parts[tt].adopted;
                    let id = match adopted.is_empty() || self.rng4.chance(60) {
                        true => {
                            let step = e.threads as u64 + 1;
                            self.me as u64 + step * self.rng4.below((IDS - 1 - self.me as u64) / step + 1)
                        }
                        false => {
                            let nth = self.rng4.below(adopted.len() as u64) as usize;
                            *adopted.iter().nth(nth).unwrap()
                        }
                    };
                    if changes.iter().any(|c| (c.0, c.1) == (tt, id)) {
                        continue;
                    }
                    let v = self.rng4.chance(65).then(|| (self.ver4(), self.len4()));
                    let old = self.parts[tt].model.get(&id).copied();
                    changes.push(match (v, old) {
                        (Some(_), Some(old)) if e.new42.patches && self.rng4.chance(40) => {
                            (tt, id, Some(self.patched(old)), Some(old))
                        }
                        _ => (tt, id, v, None),
                    });
                }
                e.tally.adopted_txns.fetch_add(1, Ordering::Relaxed);
            }
            return self.covered_commit(t, up, changes, as_run, false, None);
        }
        let (tree, k) = (&e.trees[t], appended_key(id));
        match v {
            Some(v) => {
                self.note(format!("put adopted {id:#x} {v:?} in tree {t}"));
                match tree.put(&k, &bytes(id, v)) {
                    Ok(()) => {
                        self.ok();
                        self.changed(t, id, Some(v));
                    }
                    Err(err) => {
                        e.failed("put of an adopted key", &err);
                        self.read_back(t, id, "put of an adopted key");
                    }
                }
            }
            None => {
                self.note(format!("delete adopted {id:#x} in tree {t}"));
                match tree.delete(&k) {
                    Ok(was) => {
                        self.ok();
                        if was != old.is_some() {
                            self.violation(format!(
                                "delete of adopted id {id:#x} in tree {t} returned {was}, the model has {old:?}"
                            ));
                        }
                        if was {
                            self.changed(t, id, None);
                        }
                    }
                    Err(err) => {
                        e.failed("delete of an adopted key", &err);
                        self.read_back(t, id, "delete of an adopted key");
                    }
                }
            }
        }
    }

    /// Session 43 (`empty_loads`): the spare tree, new or emptied by deletes, gets a `bulk_load` of 1 to 40
    /// (sometimes 300) pairs at random keys (below or above the ones it held), beside the other threads' work on
    /// the other trees in the pool, under the epoch's faults and sometimes a storage panic; then sometimes a
    /// commit or checkpoint of it. One thread at a time (the others read it meanwhile: `spare_read`). Into an
    /// empty tree with no other writer, `NotAbove` and `ChangedDuringLoad` are defects; `Ok` is there and durable;
    /// refused, none of it or (the final commit's error) all of it. Session 44 (`spare_writer`): the tree may
    /// hold side keys below the load, and a load a side write overlapped may be refused `ChangedDuringLoad`.
    fn spare_cycle(&mut self) {
        let e = self.e;
        let Some(sp) = e.spare else { return };
        let Ok(mut st) = sp.state.try_lock() else {
            // Session 44 (`spare_writer`, from `rng4`): beside the load, a side write.
            if e.new44.spare_writer && self.rng4.chance(60) {
                return self.side_write(sp);
            }
            return self.spare_read(sp);
        };
        if st.frozen {
            drop(st);
            return self.spare_read(sp);
        }
        // Session 44 (`spare_creates`): a spare tree new this epoch is created by the first thread that takes it,
        // under the epoch's faults (refused, it is tried again at the next turn).
        let tree = match sp.tree.get() {
            Some(tree) => tree,
            None => {
                self.note("create the spare tree".into());
                e.tally.spare_creates.fetch_add(1, Ordering::Relaxed);
                match open_spare(sp.pool, sp.store) {
                    Ok(tree) => {
                        self.ok();
                        let _ = sp.tree.set(tree);
                        sp.tree.get().unwrap()
                    }
                    Err(err) => {
                        e.tally.ops_failed.fetch_add(1, Ordering::Relaxed);
                        e.tally.spare_creates_refused.fetch_add(1, Ordering::Relaxed);
                        if !refusal_allowed(&err) && !e.crashed() {
                            self.violation(format!("create of the spare tree: unexpected error {err:?}"));
                        }
                        return;
                    }
                }
            }
        };
        let present: Vec<u64> = st.part.model.keys().copied().collect();
        for id in present {
            if e.stop.load(Ordering::SeqCst) {
                return;
            }
            self.note(format!("delete {id:#x} of the spare tree"));
            match tree.delete(&appended_key(id)) {
                Ok(was) => {
                    self.ok();
                    e.tally.spare_deletes.fetch_add(1, Ordering::Relaxed);
                    if !was && !e.crashed() {
                        self.violation(format!(
                            "delete of {id:#x} of the spare tree found nothing; the model has it"
                        ));
                    }
                    st.unit(&[(id, None)]);
                }
                Err(err) => {
                    e.failed("delete in the spare tree", &err);
                    return;
                }
            }
        }
        let new = st.loads == 0;
        st.loads += 1;
        let most = if self.rng3.chance(15) { 300 } else { 40 };
        let n = 1 + self.rng3.below(most);
        let first = APPENDED + self.rng3.below(1 << 20);
        let vals: Vec<Val> = (0..n)
            .map(|_| {
                let len = match self.rng3.chance(10) {
                    true => 600 + self.rng3.below(400),
                    false => 16 + self.rng3.below(200),
                };
                (self.ver3(), len as usize)
            })
            .collect();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
            .map(|i| (appended_key(first + i), bytes(first + i, vals[i as usize])))
            .collect();
        if e.panics && self.rng3.chance(10) {
            let (s, log, calls) = (sp.store, self.rng3.chance(50), self.rng3.below(40) as i64);
            if log { &s.log_dev } else { &s.data_dev }.hooks.arm(calls);
            e.tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
        }
        match new {
            true => e.tally.spare_loads_new.fetch_add(1, Ordering::Relaxed),
            false => e.tally.spare_loads_emptied.fetch_add(1, Ordering::Relaxed),
        };
        self.note(format!(
            "bulk_load of {n} keys from {first:#x} into the spare tree ({})",
            if new { "new" } else { "emptied by deletes" }
        ));
        // Session 44: whether a side write ran beside the load (then `ChangedDuringLoad` is allowed), and the
        // side changes made before it (its final commit covers them).
        let (seq, side_done) = (sp.side_seq.load(Ordering::SeqCst), sp.side_done.load(Ordering::SeqCst));
        let r = tree.bulk_load(pairs.iter().map(|(k, v)| (k, v)));
        let crashed = e.crashed();
        let beside = seq % 2 == 1 || sp.side_seq.load(Ordering::SeqCst) != seq;
        if beside {
            e.tally.spare_loads_beside.fetch_add(1, Ordering::Relaxed);
        }
        match &r {
            &Ok(m) if m == n => {
                self.ok();
                e.tally.spare_loads_ok.fetch_add(1, Ordering::Relaxed);
                if !crashed {
                    sp.side_floor.fetch_max(side_done, Ordering::SeqCst);
                }
            }
            Ok(m) => self.violation(format!("bulk_load of {n} keys into the spare tree returned {m}")),
            Err(err) => {
                e.tally.ops_failed.fetch_add(1, Ordering::Relaxed);
                e.tally.spare_loads_refused.fetch_add(1, Ordering::Relaxed);
                let changed = beside && matches!(err, Error::ChangedDuringLoad);
                if changed {
                    e.tally.spare_loads_changed.fetch_add(1, Ordering::Relaxed);
                }
                let refusal = matches!(err, Error::NotAbove | Error::ChangedDuringLoad);
                if ((refusal && !changed) || (!refusal && !allowed(err))) && !crashed {
                    let check = tree.check().map(|c| (c.entries, c.depth));
                    self.violation(format!(
                        "bulk_load of {n} keys from {first:#x} into the spare tree, empty of loaded keys ({}, loads \
                         so far {}) and {}: {err:?} (the tree's entries and depth: {check:?})",
                        if new { "new" } else { "emptied by deletes" },
                        st.loads,
                        match beside {
                            true => "a side write of keys below them beside it",
                            false => "written by nobody else meanwhile",
                        }
                    ));
                }
            }
        }
        // Read the load back: none or all of it.
        let (found, read) = self.read_appended(
            tree,
            first,
            &vals,
            crashed,
            &format!("the spare tree's keys {first:#x}+{n}"),
            "range over the spare tree",
        );
        let unit: Vec<(u64, Option<Val>)> = (0..n).map(|i| (first + i, Some(vals[i as usize]))).collect();
        match (r.is_ok(), read, found) {
            (true, true, f) if f != n => {
                self.violation(format!(
                    "bulk_load of {n} keys into the spare tree returned Ok; {f} of them are there"
                ));
            }
            (true, _, _) => {
                st.unit(&unit);
                if !crashed {
                    st.floor = st.part.ops.len();
                }
            }
            (false, true, 0) => {}
            (false, true, f) if f == n => st.unit(&unit),
            (false, true, f) => {
                self.violation(format!(
                    "bulk_load of {n} keys into the spare tree ({:?}) left {f} of them",
                    r.as_ref().map_err(|e| e.to_string())
                ));
            }
            (false, false, _) => {
                st.unit(&unit);
                st.maybe_last = true;
                st.frozen = true;
            }
        }
        if !st.frozen && self.rng3.chance(30) {
            let before = st.part.ops.len();
            let side_done = sp.side_done.load(Ordering::SeqCst);
            let checkpoint = self.rng3.chance(50);
            self.note(format!(
                "{} of the spare tree",
                if checkpoint { "checkpoint" } else { "commit" }
            ));
            let r = match checkpoint {
                true => tree.checkpoint(),
                false => tree.commit(),
            };
            match r {
                Ok(()) => {
                    self.ok();
                    st.floor = st.floor.max(before);
                    sp.side_floor.fetch_max(side_done, Ordering::SeqCst);
                }
                Err(err) => e.failed("commit of the spare tree", &err),
            }
        }
    }

    /// Session 44 (`spare_writer`): a put or delete of a side key of the spare tree (below every key its loads
    /// write), one thread at a time, beside its loads (`spare_cycle` calls it when another thread is loading);
    /// then, one in seven, a commit of the tree. Exact: the side keys' model is the side writes that returned
    /// `Ok`, and a failed one left no trace.
    fn side_write(&mut self, sp: &Spare<'_>) {
        let e = self.e;
        let Some(tree) = sp.tree.get() else { return };
        let Ok(mut side) = sp.side.try_lock() else {
            return self.spare_read(sp);
        };
        let id = self.rng4.below(SIDE_IDS);
        let old = side.part.model.get(&id).copied();
        let v = self.rng4.chance(55).then(|| (self.ver4(), self.len4()));
        let k = &e.keys[id as usize];
        self.note(format!("side write of {id} in the spare tree: {v:?}"));
        sp.side_seq.fetch_add(1, Ordering::SeqCst);
        let r = match v {
            Some(v) => tree.put(k, &bytes(id, v)).map(|()| true),
            None => tree.delete(k),
        };
        sp.side_seq.fetch_add(1, Ordering::SeqCst);
        let crashed = e.crashed();
        match r {
            Ok(was) => {
                self.ok();
                e.tally.side_writes.fetch_add(1, Ordering::Relaxed);
                if v.is_none() && was != old.is_some() && !crashed {
                    self.violation(format!(
                        "delete of side key {id} of the spare tree returned {was}, the model has {old:?}"
                    ));
                }
                if v.is_some() || was {
                    let side = &mut *side;
                    push_unit(&mut side.part, &mut side.units, &[(id, v)]);
                    sp.side_done.store(side.part.ops.len() as u64, Ordering::SeqCst);
                }
            }
            Err(err) => {
                e.failed("side write of the spare tree", &err);
                if let Ok(got) = tree.get(k) {
                    if got != old.map(|o| bytes(id, o)) && !crashed {
                        self.violation(format!(
                            "side key {id} of the spare tree after a failed side write ({v:?}): {:?}, the model \
                             says {old:?}",
                            got.map(|g| parse(id, &g))
                        ));
                    }
                }
            }
        }
        if self.rng4.chance(15) {
            let before = side.part.ops.len() as u64;
            self.note("commit of the spare tree by its side writer".into());
            match tree.commit() {
                Ok(()) => {
                    self.ok();
                    sp.side_floor.fetch_max(before, Ordering::SeqCst);
                }
                Err(err) => e.failed("commit of the spare tree by its side writer", &err),
            }
        }
    }

    /// A read of the spare tree beside its writer: keys of its loads in order, well-formed values.
    fn spare_read(&mut self, sp: &Spare<'_>) {
        let e = self.e;
        e.tally.spare_reads.fetch_add(1, Ordering::Relaxed);
        self.note("range of the spare tree".into());
        let mut last: Option<Vec<u8>> = None;
        let Some(tree) = sp.tree.get() else { return };
        for pair in tree.range::<std::ops::RangeFull>(..).take(60) {
            match pair {
                Ok((k, v)) => {
                    let side = e.new44.spare_writer;
                    match self.id_of(&k).filter(|&id| id >= APPENDED || (side && id < SIDE_IDS)) {
                        Some(id) => {
                            if let Err(m) = parse(id, &v) {
                                self.violation(format!("range of the spare tree: {m}"));
                            }
                        }
                        None => self.violation(format!("range of the spare tree met a foreign key {k:?}")),
                    }
                    if last.as_ref().is_some_and(|l| *l >= k) {
                        self.violation(format!("range of the spare tree: {k:?} after {last:?}, out of order"));
                    }
                    last = Some(k);
                }
                Err(err) => return e.failed("range of the spare tree", &err),
            }
        }
        self.ok();
    }

    /// `id_of_owner` drawn from `rng2`.
    fn id_of_owner2(&mut self, owner: usize) -> u64 {
        let step = self.e.threads as u64 + 1;
        owner as u64 + step * self.rng2.below((IDS - 1 - owner as u64) / step + 1)
    }

    /// `len` drawn from `rng2`.
    fn len2(&mut self) -> usize {
        match self.rng2.below(10) {
            0..=5 => 16 + self.rng2.below(120) as usize,
            6..=8 => 16 + self.rng2.below(400) as usize,
            _ => 600 + self.rng2.below(400) as usize,
        }
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
                        // Session 43: never a locked shared row (only the log above changes those).
                        2 if seen.len() % 16 == 2 && !(e.shared.is_some() && locked_shared(e.threads, shared)) => {
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
                    up.dev.hooks.arm(calls);
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
                if log { &s.log_dev } else { &s.data_dev }.hooks.arm(calls);
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
        let id = id_of_key(ids, &k).ok_or_else(|| Unreadable::Wrong(format!("a key that was never written: {k:?}")))?;
        out.insert(id, parse(id, &v).map_err(Unreadable::Wrong)?);
    }
    Ok(out)
}

/// Reads tree `t` whole for a check: `Tree::check`, then its contents. `None`: a tree still open after faults that
/// is unreadable in part (a failed log or data file cannot write the dirty pages a miss must evict, and `check`
/// takes the meta page's write latch, which a failed data file refuses: R39-O1); then the epoch's end does not
/// check it (counted), and the reopen's check must pass.
fn read_tree(
    tree: &Tree,
    t: usize,
    ids: &HashMap<Vec<u8>, u64>,
    tally: &Tally,
    still_open: bool,
) -> Result<Option<BTreeMap<u64, Val>>, String> {
    match tree.check() {
        Ok(_) => {}
        Err(e) if still_open && allowed(&e) => {
            tally.end_checks_skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Err(e) => return Err(format!("tree {t}: check: {e}")),
    }
    match contents(tree, ids) {
        Ok(got) => {
            tally.keys_checked.fetch_add(got.len() as u64, Ordering::Relaxed);
            Ok(Some(got))
        }
        Err(Unreadable::Tree(e)) if still_open && allowed(&e) => {
            tally.end_checks_skipped.fetch_add(1, Ordering::Relaxed);
            Ok(None)
        }
        Err(Unreadable::Tree(e)) => Err(format!("tree {t}: scan: {e}")),
        Err(Unreadable::Wrong(e)) => Err(format!("tree {t}: {e}")),
    }
}

/// A thread's own keys found in a tree, and the prefixes of its changes that leave them ([`prefixes`]).
type Accepted = (BTreeMap<u64, Val>, Vec<(u64, usize)>);

/// The prefixes of `p`'s changes that leave the thread's own keys as `mine`: each as `(n, c)`, the first `n` of
/// the thread's units (of `units` this epoch) and the `c` changes of them in this tree, at least `floor` of them.
fn prefixes(p: &Part, mine: &BTreeMap<u64, Val>, floor: usize, units: u64) -> Vec<(u64, usize)> {
    let floor = floor.min(p.ops.len());
    let mut state = p.base.clone();
    let (mut c, mut out) = (0, Vec::new());
    for n in 0..=units {
        while c < p.ops.len() && p.ops[c].unit < n {
            let ch = p.ops[c];
            match ch.v {
                Some(v) => state.insert(ch.id, v),
                None => state.remove(&ch.id),
            };
            c += 1;
        }
        if c >= floor && state == *mine {
            out.push((n, c));
        }
    }
    out
}

/// Checks recovered (or still open) trees against each thread's parts: in each tree the thread's own keys must be
/// the state after a prefix of its units whose changes in that tree are no fewer than `floor[tree][thread]` (all
/// of them: `floor = ops.len()`). With `common` (covered mode: one log above orders every transaction of both
/// trees, and a transaction may span both) the prefix is one for both trees: a transaction is in both or in
/// neither. The appended keys are held to their loads ([`check_appended`]); `settle` (a reopen) then makes
/// what was found the batches' state; those a thread adopted (session 43) are its own keys here. On success each
/// part's base and model become what was found, and the trees' contents are returned (`None`: not read), with,
/// per thread in covered mode (session 44), the cuts of the log above the prefixes accepted stand for ([`span`];
/// for [`one_prefix`]).
#[allow(clippy::too_many_arguments)] // the schedule's state, passed apart so each call says what it checks
fn check_trees(
    trees: &[Tree],
    threads: usize,
    parts: &mut [Vec<Part>],
    floor: &[Vec<u64>],
    ids: &HashMap<Vec<u8>, u64>,
    appends: &[Appends],
    tally: &Tally,
    still_open: bool,
    common: bool,
) -> Result<(Found, Vec<Vec<Span>>), String> {
    let mut found = Vec::new();
    let mut spans = Vec::new();
    for (t, tree) in trees.iter().enumerate() {
        let got = read_tree(tree, t, ids, tally, still_open)?;
        if let Some(got) = &got {
            let appended: BTreeMap<u64, Val> = got.range(APPENDED..).map(|(&id, &v)| (id, v)).collect();
            tally
                .appended_keys_checked
                .fetch_add(appended.len() as u64, Ordering::Relaxed);
            let mut batches = appends[t].batches.lock().unwrap();
            check_appended(t, &appended, &mut batches, !still_open)?;
        }
        found.push(got);
    }
    for (th, part) in parts.iter_mut().enumerate() {
        let units = part
            .iter()
            .filter_map(|p| p.ops.last().map(|c| c.unit + 1))
            .max()
            .unwrap_or(0);
        // Per tree: the thread's own keys found and the prefixes that leave them (`None`: not read).
        let mut accepted: Vec<Option<Accepted>> = Vec::new();
        for (t, got) in found.iter().enumerate() {
            let Some(got) = got else {
                accepted.push(None);
                continue;
            };
            let p = &part[t];
            let mine: BTreeMap<u64, Val> = got
                .iter()
                .filter(|(&id, _)| match id < IDS {
                    true => (id % (threads as u64 + 1)) as usize == th,
                    false => p.adopted.contains(&id),
                })
                .map(|(&id, &v)| (id, v))
                .collect();
            let acc = prefixes(p, &mine, floor[t][th] as usize, units);
            if acc.is_empty() {
                let diff: Vec<String> = mine
                    .keys()
                    .chain(p.model.keys())
                    .filter(|id| mine.get(id) != p.model.get(id))
                    .take(6)
                    .map(|id| format!("id {id}: found {:?}, model {:?}", mine.get(id), p.model.get(id)))
                    .collect();
                return Err(format!(
                    "tree {t}, thread {th}: own keys are no prefix of its changes of at least {} (of {}): {} \
                     found, {} in the model; first differences from the whole model: {diff:?}; changes: {:?}",
                    floor[t][th],
                    p.ops.len(),
                    mine.len(),
                    p.model.len(),
                    &p.ops[p.ops.len().saturating_sub(8)..]
                ));
            }
            accepted.push(Some((mine, acc)));
        }
        // The units kept: in covered mode one count for both trees (the largest both accept), else each tree's
        // largest.
        let both: Option<u64> = match common {
            true => {
                let ok = |n: u64| accepted.iter().flatten().all(|(_, acc)| acc.iter().any(|a| a.0 == n));
                let ns: Vec<u64> = (0..=units).filter(|&n| ok(n)).collect();
                let n = ns.last().copied();
                // Session 44: each prefix as a cut of the log above (a unit's LSN is one for both trees).
                let mut lsns: Vec<(u64, u64)> = part
                    .iter()
                    .flat_map(|p| p.ops.iter().filter_map(|c| Some((c.unit, c.lsn?))))
                    .collect();
                lsns.sort();
                lsns.dedup();
                spans.push(ns.iter().map(|&n| span(&lsns, n)).collect());
                if n.is_none() {
                    let each: Vec<Vec<u64>> = accepted
                        .iter()
                        .flatten()
                        .map(|(_, acc)| acc.iter().map(|a| a.0).collect())
                        .collect();
                    let units_of: Vec<Vec<u64>> = part.iter().map(|p| p.ops.iter().map(|c| c.unit).collect()).collect();
                    return Err(format!(
                        "thread {th}: no prefix of its transactions is in both trees: the trees hold the first n of \
                         its {units} units for n in {each:?} (tree by tree); the units of its changes per tree: \
                         {units_of:?}"
                    ));
                }
                n
            }
            false => None,
        };
        for (t, acc) in accepted.into_iter().enumerate() {
            let Some((mine, acc)) = acc else { continue };
            let p = &mut part[t];
            let n = match both {
                Some(n) => acc.iter().find(|a| a.0 == n).unwrap().1,
                None => acc.last().unwrap().1,
            };
            tally.ops_recovered.fetch_add(n as u64, Ordering::Relaxed);
            tally
                .ops_lost_uncommitted
                .fetch_add((p.ops.len() - n) as u64, Ordering::Relaxed);
            p.base = mine.clone();
            p.model = mine;
            p.ops.clear();
        }
    }
    Ok((found, spans))
}

/// What [`check_trees`] read of each tree (`None`: not read).
type Found = Vec<Option<BTreeMap<u64, Val>>>;

/// Session 43: checks the locked shared rows found in the trees (`found[tree]`, `None`: not read) against their
/// writers in the log above's order: the rows after one prefix of `log` (over both trees: one log orders them)
/// no shorter than `floor`, or (`whole`) after all of it. With `settle` (a reopen), `base` becomes what was found.
fn check_shared(
    found: &Found,
    threads: usize,
    base: &mut BTreeMap<(usize, u64), Val>,
    log: &[SharedWrite],
    floor: usize,
    whole: bool,
    settle: bool,
) -> Result<Vec<Span>, String> {
    let rows = |m: &BTreeMap<(usize, u64), Val>| -> BTreeMap<(usize, u64), Val> {
        m.iter()
            .filter(|((t, _), _)| found[*t].is_some())
            .map(|(&k, &v)| (k, v))
            .collect()
    };
    let got: BTreeMap<(usize, u64), Val> = found
        .iter()
        .enumerate()
        .filter_map(|(t, f)| f.as_ref().map(|f| (t, f)))
        .flat_map(|(t, f)| {
            f.range(..IDS)
                .filter(|(&id, _)| locked_shared(threads, id))
                .map(move |(&id, &v)| ((t, id), v))
        })
        .collect();
    let mut state = base.clone();
    let mut kept = Vec::new();
    for n in 0..=log.len() {
        if n > 0 {
            let (t, id, v, _) = log[n - 1];
            match v {
                Some(v) => state.insert((t, id), v),
                None => state.remove(&(t, id)),
            };
        }
        if n >= floor.min(log.len()) && (!whole || n == log.len()) && rows(&state) == got {
            kept.push(n);
        }
    }
    if kept.is_empty() {
        let keys: std::collections::BTreeSet<&(usize, u64)> = got.keys().chain(state.keys()).collect();
        let diff: Vec<String> = keys
            .into_iter()
            .filter(|k| got.get(k) != state.get(k) && found[k.0].is_some())
            .take(6)
            .map(|k| {
                format!(
                    "tree {} id {}: found {:?}, after the whole log {:?}",
                    k.0,
                    k.1,
                    got.get(k),
                    state.get(k)
                )
            })
            .collect();
        return Err(format!(
            "the locked shared rows are after no prefix of their {} writers in the log above's order of at least \
             {floor}{}: first differences from the whole log: {diff:?}; its last writers: {:?}",
            log.len(),
            if whole {
                " (all of them: the trees are still open)"
            } else {
                ""
            },
            &log[log.len().saturating_sub(8)..]
        ));
    }
    if settle {
        *base = got;
    }
    // Session 44: the cuts of the log above each prefix kept stands for.
    let lsns: Vec<(u64, u64)> = log.iter().enumerate().map(|(i, w)| (i as u64, w.3)).collect();
    Ok(kept.iter().map(|&n| span(&lsns, n as u64)).collect())
}

/// Session 44 (R43-O30): a prefix of a sequence of records in the log above as a cut of that log: `(lo, hi)`,
/// the largest LSN the prefix holds and the smallest it leaves out (`None`: none). A cut of the log after the
/// record of LSN `l` (`None`: before every record) gives that prefix if `lo <= l < hi`.
type Span = (Option<u64>, Option<u64>);

/// The span of the first `n` of `lsns` (`(unit, lsn)`, the units of a sequence and their records' LSNs; units
/// without a record have no entry).
fn span(lsns: &[(u64, u64)], n: u64) -> Span {
    let lo = lsns.iter().filter(|&&(u, _)| u < n).map(|&(_, l)| l).max();
    let hi = lsns.iter().filter(|&&(u, _)| u >= n).map(|&(_, l)| l).min();
    (lo, hi)
}

/// Session 44 (R43-O30): covered mode after a reopen. Every record of an epoch is in one log above, and the trees
/// are recovered to one prefix of it (the log's own, in LSN order): each thread's own keys (`threads[th]`: the
/// spans of the prefixes of its transactions the trees accept) and the locked shared rows (`shared`) must all be
/// after one cut of it, not each after a prefix of its own.
fn one_prefix(threads: &[Vec<Span>], shared: Option<&[Span]>) -> Result<(), String> {
    let all: Vec<&[Span]> = threads.iter().map(|s| &s[..]).chain(shared).collect();
    let fits = |l: Option<u64>, s: &Span| s.0 <= l && s.1.is_none_or(|h| l < Some(h));
    // The smallest cut a set of spans all accept starts one of them (or is before every record).
    let mut cuts: Vec<Option<u64>> = all.iter().flat_map(|s| s.iter().map(|s| s.0)).collect();
    cuts.push(None);
    cuts.sort();
    cuts.dedup();
    if cuts.iter().any(|&l| all.iter().all(|ss| ss.iter().any(|s| fits(l, s)))) {
        return Ok(());
    }
    Err(format!(
        "the own keys and the locked shared rows are after no one prefix of the log above: the cuts (last LSN kept, \
         first left out) each accepts: threads {threads:?}, locked shared rows {shared:?}"
    ))
}

/// Session 43: checks the spare tree's contents (`still_open`: at an epoch's end, before the reopen) against
/// its model: the state after a prefix of its units no shorter than its floor (all of them while it is still
/// open, but a refused load not read back), its keys the loads' with their values. After a reopen the model's base
/// becomes what was found.
fn check_spare(
    tree: &Tree,
    st: &mut SpareState,
    ids: &HashMap<Vec<u8>, u64>,
    tally: &Tally,
    still_open: bool,
) -> Result<(), String> {
    let Some(got) = read_tree(tree, 2, ids, tally, still_open)? else {
        return Ok(());
    };
    tally.spare_keys_checked.fetch_add(got.len() as u64, Ordering::Relaxed);
    if let Some((&id, _)) = got.range(SIDE_IDS..APPENDED).next() {
        return Err(format!("the spare tree holds id {id}, which no load of it wrote"));
    }
    // Session 44 (`spare_writer`): its side keys, a prefix of their changes of their own (all of them while it is
    // still open).
    let side: BTreeMap<u64, Val> = got.range(..SIDE_IDS).map(|(&id, &v)| (id, v)).collect();
    let got: BTreeMap<u64, Val> = got.range(APPENDED..).map(|(&id, &v)| (id, v)).collect();
    tally.side_keys_checked.fetch_add(side.len() as u64, Ordering::Relaxed);
    let sd = &mut st.side;
    let acc = prefixes(&sd.part, &side, sd.floor, sd.units);
    let ok = match still_open {
        true => acc.iter().any(|a| a.0 == sd.units),
        false => !acc.is_empty(),
    };
    if !ok {
        return Err(format!(
            "the spare tree's side keys are after no prefix of their {} side writes of at least {} changes (of \
             {}): found {side:?}, the model {:?}; the prefixes that match: {acc:?}; the last changes: {:?}",
            sd.units,
            sd.floor,
            sd.part.ops.len(),
            sd.part.model,
            &sd.part.ops[sd.part.ops.len().saturating_sub(8)..]
        ));
    }
    if !still_open {
        sd.part.base = side.clone();
        sd.part.model = side;
        sd.part.ops.clear();
        sd.units = 0;
        sd.floor = 0;
    }
    let units = st.units;
    let acc = prefixes(&st.part, &got, st.floor, units);
    let ok = match still_open {
        true => acc.iter().any(|a| a.0 == units || (st.maybe_last && a.0 + 1 == units)),
        false => !acc.is_empty(),
    };
    if !ok {
        let keys: std::collections::BTreeSet<&u64> = got.keys().chain(st.part.model.keys()).collect();
        let diff: Vec<String> = keys
            .into_iter()
            .filter(|id| got.get(id) != st.part.model.get(id))
            .take(6)
            .map(|id| format!("id {id:#x}: found {:?}, model {:?}", got.get(id), st.part.model.get(id)))
            .collect();
        return Err(format!(
            "the spare tree is after no prefix of its {units} units of at least {} changes (of {}{}): {} keys \
             found, {} in the model; first differences from the whole model: {diff:?}; the prefixes that match: \
             {:?}",
            st.floor,
            st.part.ops.len(),
            if st.maybe_last {
                ", the last a load not read back"
            } else {
                ""
            },
            got.len(),
            st.part.model.len(),
            acc
        ));
    }
    if !still_open {
        st.part.base = got.clone();
        st.part.model = got;
        st.part.ops.clear();
        st.units = 0;
        st.floor = 0;
        st.maybe_last = false;
        st.frozen = false;
    }
    Ok(())
}

/// Checks tree `t`'s appended keys `found` against its loads (`Loaded` says what each must be): each batch there
/// whole with its values or not at all; one that returned `Ok` there, one read back empty not; a batch there
/// means every batch below it that switched is there (the loads' switch records are in the tree's log in the
/// order of their keys: a load whose edge another load's switch changed is refused). With `settle` (a reopen),
/// each batch is then `Ok` if there, else `Absent`.
fn check_appended(t: usize, found: &BTreeMap<u64, Val>, batches: &mut [Batch], settle: bool) -> Result<(), String> {
    let mut there = Vec::new();
    let mut counted = 0;
    for b in batches.iter() {
        let n = b.vals.len() as u64;
        let got: Vec<(&u64, &Val)> = found.range(b.first..b.first + n).collect();
        counted += got.len();
        if b.owner.is_some() {
            // Adopted: its owner's prefix check holds its keys; its load returned `Ok`, so it is there.
            there.push((b.first, true, b.state));
            continue;
        }
        let right = got
            .iter()
            .filter(|(&id, &v)| b.vals[(id - b.first) as usize] == v)
            .count();
        if right != got.len() || (!got.is_empty() && got.len() as u64 != n) {
            return Err(format!(
                "tree {t}: appended batch {:#x}+{n} ({:?}): {} of its keys there, {right} with their values",
                b.first,
                b.state,
                got.len()
            ));
        }
        let whole = !got.is_empty();
        match (b.state, whole) {
            (Loaded::Ok, false) => {
                return Err(format!(
                    "tree {t}: appended batch {:#x}+{n}: bulk_load returned Ok (durable), and it is not there",
                    b.first
                ))
            }
            (Loaded::Absent, true) => {
                return Err(format!(
                    "tree {t}: appended batch {:#x}+{n}: its bulk_load was refused and left nothing (or a reopen \
                     found nothing), and it is there now",
                    b.first
                ))
            }
            _ => {}
        }
        there.push((b.first, whole, b.state));
    }
    if counted != found.len() {
        return Err(format!(
            "tree {t}: {} appended keys that no load wrote",
            found.len() - counted
        ));
    }
    there.sort_unstable_by_key(|b| b.0);
    if let Some(top) = there.iter().rposition(|b| b.1) {
        if let Some(gap) = there[..top].iter().find(|b| b.2 == Loaded::Switched && !b.1) {
            return Err(format!(
                "tree {t}: appended batch {:#x} is there, and batch {:#x} below it, switched in before it (its \
                 load's final commit refused), is not",
                there[top].0, gap.0
            ));
        }
    }
    if settle {
        for b in batches.iter_mut().filter(|b| b.owner.is_none()) {
            let whole = found.contains_key(&b.first);
            b.state = if whole { Loaded::Ok } else { Loaded::Absent };
        }
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

/// The spare tree (session 43) on `s`, in `pool`.
fn open_spare(pool: &Arc<BufferPool>, s: &Store) -> bufpool_btree::Result<Tree> {
    open_wal(s).and_then(|wal| Tree::open_storage(pool.clone(), wal, s.data_dev.clone()))
}

/// Session 44 (`spare_reopens`): the spare tree's reopen in `pool` (beside the other trees, open), as theirs
/// without a log above: 1 to 3 attempts under faults at a rate drawn from `rng` (none on half the reopens; then
/// no attempt unless a storage panic is drawn), the first with a storage panic armed on its log or data one time
/// in four (with `panics`), each refused with a typed error (never unwinding; the pool left as before,
/// `Tree::open`) or opening it; then, if none did, one without.
fn open_spare_under_faults(
    pool: &Arc<BufferPool>,
    s: &Store,
    rng: &mut Rng,
    panics: bool,
    tally: &Tally,
) -> Result<Tree, String> {
    let faults = open_faults(rng);
    let attempts = 1 + rng.below(3);
    let panic = (panics && rng.chance(25)).then(|| (rng.chance(50), rng.below(30) as i64));
    let attempts = if faults > 0.0 || panic.is_some() { attempts } else { 0 };
    for attempt in 0..attempts {
        set_faults(std::slice::from_ref(s), None, faults);
        if let Some((log, calls)) = panic.filter(|_| attempt == 0) {
            if log { &s.log_dev } else { &s.data_dev }.hooks.arm(calls);
            tally.storage_panics_armed.fetch_add(1, Ordering::Relaxed);
        }
        tally.spare_open_attempts.fetch_add(1, Ordering::Relaxed);
        let r = catch_unwind(AssertUnwindSafe(|| open_spare(pool, s)));
        set_faults(std::slice::from_ref(s), None, 0.0);
        s.disarm();
        match r {
            Ok(Ok(tree)) => return Ok(tree),
            Ok(Err(e)) if refusal_allowed(&e) => {
                tally.spare_opens_refused.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "attempt {attempt} under faults {faults} (panic {panic:?}): unexpected error {e:?}"
                ))
            }
            Err(p) => {
                return Err(format!(
                    "attempt {attempt} (panic {panic:?}) panicked: {}",
                    message(&*p)
                ))
            }
        }
    }
    open_spare(pool, s).map_err(|e| format!("after {attempts} attempts under faults {faults}: {e}"))
}

/// A pool of `frames` frames of 4 KiB; with an odd number of frames (half the schedules: the draw of `frames`
/// decides it, no draw of its own) every write guard is clean (`Builder::clean_write_guards`; session 48).
fn new_pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(
        common::pool_builder()
            .frames(frames)
            .page_size(4096)
            .clean_write_guards(frames % 2 == 1)
            .build()
            .unwrap(),
    )
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

/// Redoes every record of the log above (covered puts, deletes and patches, `page` naming the tree), as
/// `ours.rs`'s recovery does; the records redone. Nothing here keeps a tree's bounded log within its region: the
/// redone changes' leaf images overfilled it until R40-1's fix (a covered change checkpoints its tree first when
/// its bounded log is past three quarters of its region). A change refused for space (a full device under an
/// eviction's write-out) is made again after a checkpoint of its tree.
///
/// A patch (session 42) is `ours.rs`' rule: the row is read, patched and put back whole; a row missing or of
/// another length is skipped, and a put or delete of it must follow in the log, or the replay fails with
/// `BadRecord` (a violation: the trees lost a committed row). Why that is right here as there (`ours.rs`'
/// "Recovery"): the writers of an own key from the log's start are the thread's transactions in log order, and
/// the recovered tree holds the key as one of them left it (`S_k`), never older than the first (the log above
/// is cut only after both trees checkpointed past it). If none of `w_1..w_k` is a put or delete, they are patches
/// of one row of one length, each rewriting bytes `S_k` holds as the last of them left them: `S_k` again. Else
/// the last put or delete among them rewrites the row whole, whatever the replay made of it before (a patch
/// applied to a newer row is garbled, which the check would report, or skipped). From there each writer redoes
/// what it did the first time. A skipped patch of a row with no put or delete after it therefore means the
/// tree held the row older than its first record, or lost it.
fn replay(upper: &TreeWal, trees: &[Tree], tally: &Tally) -> bufpool_btree::Result<u64> {
    let mut records = 0;
    let mut first = None;
    // Rows whose patch was skipped, and no put or delete of them replayed since.
    let mut skipped: std::collections::BTreeSet<(u32, Vec<u8>)> = std::collections::BTreeSet::new();
    let end = upper.scan(|lsn, ops| {
        records += 1;
        if trace() {
            first.get_or_insert(lsn);
            let keys: Vec<String> = ops
                .iter()
                .map(|op| match op {
                    OwnedOp::Put(t, k, _) => format!("p{t}:{:?}", (0..IDS).find(|&i| key(i) == *k)),
                    OwnedOp::Del(t, k) => format!("d{t}:{:?}", (0..IDS).find(|&i| key(i) == *k)),
                    OwnedOp::Patch(t, k, ..) => format!("x{t}:{:?}", (0..IDS).find(|&i| key(i) == *k)),
                    _ => "?".into(),
                })
                .collect();
            eprintln!("TRACE replay record end {lsn:?}: {keys:?}");
        }
        for op in ops {
            let (t, k, v, patch) = match op {
                OwnedOp::Put(t, k, v) => (t, k, Some(v), None),
                OwnedOp::Del(t, k) => (t, k, None, None),
                OwnedOp::Patch(t, k, len, edits) => (t, k, None, Some((len, edits))),
                other => return Err(Error::Log(format!("an op of another kind in the log above: {other:?}"))),
            };
            let tree = trees
                .get(t as usize)
                .ok_or_else(|| Error::Log(format!("tree {t} in the log above")))?;
            let is_patch = patch.is_some();
            let v = match patch {
                None => v,
                Some((len, edits)) => {
                    let mut row = tree.get_with(&k, |v| v.filter(|v| v.len() == len as usize).map(<[u8]>::to_vec))?;
                    // `scan` checked that the edits fit `len` bytes (`decode_ops`), as in `ours.rs`.
                    match row.as_mut().is_some_and(|row| bufpool_btree::apply_edits(row, &edits)) {
                        true => {
                            tally.patches_replayed.fetch_add(1, Ordering::Relaxed);
                            row
                        }
                        _ => {
                            tally.patches_skipped.fetch_add(1, Ordering::Relaxed);
                            skipped.insert((t, k));
                            continue;
                        }
                    }
                }
            };
            let redo = || match &v {
                Some(v) => tree.put_covered(&k, v, &mut LeafHint::default()),
                None => tree.delete_covered(&k, &mut LeafHint::default()).map(|_| ()),
            };
            redo().or_else(|e| match e.is_no_space() {
                true => tree.checkpoint().and_then(|()| redo()),
                false => Err(e),
            })?;
            if !is_patch {
                skipped.remove(&(t, k));
            }
        }
        Ok(())
    });
    if trace() {
        eprintln!("TRACE replay: {records} records, first end {first:?}, scan {end:?}");
    }
    end?;
    if let Some((t, k)) = skipped.first() {
        return Err(Error::BadRecord(format!(
            "the replay of the log above skipped patches of {} rows missing or of another length and never written \
             whole after (first: tree {t}, id {:?})",
            skipped.len(),
            (0..IDS).find(|&i| key(i) == *k)
        )));
    }
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
            if log { &s.log_dev } else { &s.data_dev }.hooks.arm(calls);
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
        let dev = Panicking::over(up.clone(), "the log above's storage");
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
        let records = replay(&wal, &trees, tally)?;
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

/// Power loss of every storage: the data files' records first, then the data storages, then the trees' logs, then
/// the log above (a log may be ahead of what depends on it, never behind: a page the pool writes after its data
/// storage lost power is lost with it, and a tree's log writes its records only after the log above is durable;
/// a record's written mark is raised only after the data sync it counts). A data file with a record (session 48,
/// `garble`) loses power as a device written through a 4 KiB page cache: each sector of a block in flight garbled
/// with probability one half (`FaultyStorage::crash_garbling_blocks`), as `sim_crash.rs` draws.
fn power_loss(stores: &[Store], upper: Option<&Arc<FaultyStorage>>, spare: Option<&Store>) -> Images {
    let crash = |s: &Store| -> (Option<Vec<u8>>, Vec<u8>) {
        let record = s.record.as_ref().map(|r| r.crash());
        let data = match record.is_some() {
            true => s.data.crash_garbling_blocks(0.5),
            false => s.data.crash(),
        };
        (record, data)
    };
    let data: Vec<_> = stores.iter().map(crash).collect();
    let spare_data = spare.map(crash);
    let trees = stores
        .iter()
        .zip(data)
        .map(|(s, (r, d))| (s.log.crash(), d, r))
        .collect();
    Images {
        trees,
        spare: spare.zip(spare_data).map(|(s, (r, d))| (s.log.crash(), d, r)),
        upper: upper.map(|u| u.crash()),
    }
}

/// What a restart keeps: every storage's live image, synced or not.
fn live_images(stores: &[Store], upper: Option<&Arc<FaultyStorage>>, spare: Option<&Store>) -> Images {
    let live = |s: &Store| {
        let record = s.record.as_ref().map(|r| r.live_image());
        (s.log.live_image(), s.data.live_image(), record)
    };
    Images {
        trees: stores.iter().map(live).collect(),
        upper: upper.map(|u| u.live_image()),
        spare: spare.map(live),
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
                .fetch_add(dev.hooks.panics.swap(0, Ordering::Relaxed), Ordering::Relaxed);
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
    // Session 48: an odd schedule's data files keep a record and lose power garbling their blocks in flight (no
    // draw of its own: every other draw is what it was).
    let garble = mode_on("garble") && seed % 2 == 1;
    let new_store = |rng: &mut Rng| {
        let log = FaultyStorage::new(rng.next(), FaultConfig::none());
        let data_seed = rng.next();
        let record = garble.then(|| FaultyStorage::new(mix(data_seed ^ 0x48), FaultConfig::none()));
        let data = FaultyStorage::new(data_seed, FaultConfig::none());
        Store::with_record(log, data, record, rng.below(3) == 0)
    };
    let mut stores: Vec<Store> = (0..TREES).map(|_| new_store(&mut rng)).collect();
    // One schedule in three runs the trees under a log above (covered changes), one in two arms storage panics.
    let covered = mode_on("covered") && rng.chance(33);
    let panics = mode_on("panics") && rng.chance(50);
    let bulk = mode_on("bulk");
    let new42 = New42 {
        cross_tree: mode_on("cross_tree"),
        patches: mode_on("patches"),
        append_loads: mode_on("append_loads"),
    };
    let new43 = New43 {
        shared_patches: mode_on("shared_patches"),
        append_changes: mode_on("append_changes"),
        empty_loads: mode_on("empty_loads"),
    };
    let new44 = New44 {
        one_prefix: mode_on("one_prefix"),
        spare_reopens: mode_on("spare_reopens"),
        spare_writer: mode_on("spare_writer"),
        adopted_txns: mode_on("adopted_txns"),
        spare_creates: mode_on("spare_creates"),
    };
    // Session 44's draws at the schedule's level (the spare tree's reopens under faults), apart from the others.
    let mut rng4 = Rng(mix(seed ^ 0x44_b7_44));
    // Session 43's draws at the schedule's level (the spare tree's storages and fault rates), apart from `rng`.
    let mut rng3 = Rng(mix(seed ^ 0x43_b7_43));
    let shared_on = covered && new43.shared_patches;
    // The locked shared rows as the epoch starts (`(tree, id)`).
    let mut shared_base: BTreeMap<(usize, u64), Val> = BTreeMap::new();
    let mut spare_store: Option<Store> = new43.empty_loads.then(|| new_store(&mut rng3));
    let mut spare_tree: Option<Tree> = None;
    let mut spare_state = SpareState::default();
    let appends: Vec<Appends> = (0..TREES).map(|_| Appends::default()).collect();
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
            if shared_on && locked_shared(threads, id) {
                shared_base.insert((t, id), v);
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
    // The spare tree (session 43): new and empty; its first load is into a new tree. Session 44
    // (`spare_creates`): one schedule in five creates it during the first epoch instead.
    let lazy = new44.spare_creates && rng4.chance(20);
    if let Some(s) = spare_store.as_ref().filter(|_| !lazy) {
        match open_spare(&opened.pool, s) {
            Ok(tree) => spare_tree = Some(tree),
            Err(e) => return vec![format!("seed {seed}: the spare tree's create: {e}")],
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
        let mut spare_rates = Vec::new();
        for st in spare_store.iter().flat_map(|s| [&s.log, &s.data]) {
            let p = [0.0, 0.0, 0.001, 0.005][rng3.below(4) as usize];
            st.set_config(FaultConfig::honest(p));
            spare_rates.push(p);
        }
        let bounded: Vec<bool> = stores.iter().map(|s| s.bounded).collect();
        let spare_desc = match &spare_store {
            Some(s) => format!(", the spare tree's {spare_rates:?} bounded {}", s.bounded),
            None => String::new(),
        };
        let fail = |what: String| {
            vec![format!(
                "seed {seed} epoch {epoch} (fault rates of log, data per tree{} {rates:?}, bounded logs {bounded:?}, \
                 storage panics {panics}{}): {what}",
                if covered { " and of the log above" } else { "" },
                spare_desc
            )]
        };
        let end = match rng.below(8) {
            0..=1 => End::PowerLossRunning,
            2..=3 => End::PowerLossStopped,
            4..=5 => End::Restart,
            _ => End::Close,
        };
        let total = OPS * threads as u64;
        let shared_rows = shared_on.then(|| SharedRows::new(threads, &shared_base));
        let spare = spare_store.as_ref().map(|store| {
            let tree = std::sync::OnceLock::new();
            if let Some(t) = spare_tree.take() {
                let _ = tree.set(t);
            }
            let mut state = std::mem::take(&mut spare_state);
            let side = std::mem::take(&mut state.side);
            Spare {
                tree,
                pool: &opened.pool,
                store,
                state: Mutex::new(state),
                side_seq: AtomicU64::new(0),
                side_done: AtomicU64::new(side.part.ops.len() as u64),
                side_floor: AtomicU64::new(side.floor as u64),
                side: Mutex::new(side),
            }
        });
        let ep = Epoch {
            seed,
            threads,
            trees: &opened.trees,
            stores: &stores,
            upper: opened.upper.as_ref(),
            panics,
            new42,
            new43,
            new44,
            shared: shared_rows.as_ref(),
            spare: spare.as_ref(),
            appends: &appends,
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
                            rng2: Rng(mix(sd ^ 0x42_b7_42)),
                            rng3: Rng(mix(sd ^ 0x43_b7_43)),
                            rng4: Rng(mix(sd ^ 0x44_b7_44)),
                            parts: p,
                            next_ver: (epoch as u64) << 32,
                            next_ver2: (epoch as u64) << 32,
                            next_patch: 0,
                            next_ver3: (epoch as u64) << 32,
                            next_ver4: (epoch as u64) << 32,
                            units: 0,
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
        // Session 43: the locked shared rows' writers and floor, and the spare tree's model.
        let (shared_log, mut shared_floor) = match shared_rows {
            Some(sh) => (sh.log.into_inner().unwrap(), sh.floor.into_inner() as usize),
            None => (Vec::new(), 0),
        };
        if let Some(sp) = spare {
            spare_tree = sp.tree.into_inner();
            let mut side = sp.side.into_inner().unwrap();
            side.floor = side.floor.max(sp.side_floor.into_inner() as usize);
            spare_state = sp.state.into_inner().unwrap();
            spare_state.side = side;
        }
        if let Some(s) = &spare_store {
            s.log.clear_triggers();
            s.data.clear_triggers();
            s.disarm();
        }
        for s in &stores {
            // An ENOSPC injected but not yet met would fail the checks' or the close's first write; so would a
            // storage panic armed.
            s.log.clear_triggers();
            s.data.clear_triggers();
            s.disarm();
        }
        if let Some(u) = opened.upper.as_ref() {
            u.dev.hooks.disarm();
            tally
                .storage_panics
                .fetch_add(u.dev.hooks.panics.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
        let (trees, up) = (&opened.trees, opened.upper.as_ref());
        if images.is_none() {
            for st in stores
                .iter()
                .chain(&spare_store)
                .flat_map(|s| [&s.log, &s.data])
                .chain(upper.as_ref())
            {
                st.set_config(FaultConfig::crash_only());
            }
            if let Some(tree) = &spare_tree {
                if let Err(e) = check_spare(tree, &mut spare_state, &ids, tally, true) {
                    return fail(format!("before the epoch's end ({end:?}): {e}"));
                }
            }
            // The threads are done: the trees must be whole and hold exactly what the models say (unless a
            // transaction broke the log above: its trees hold part of it until the reopen redoes it).
            if broken {
                for tree in trees {
                    if let Err(e) = tree.check() {
                        if !allowed(&e) {
                            return fail(format!(
                                "before the epoch's end ({end:?}), the log above broken: check: {e}"
                            ));
                        }
                    }
                }
            } else {
                let all: Vec<Vec<u64>> = (0..TREES)
                    .map(|t| parts.iter().map(|p| p[t].ops.len() as u64).collect())
                    .collect();
                // On a copy: the reopen is checked against the same changes.
                let mut copy = parts.clone();
                let found = match check_trees(trees, threads, &mut copy, &all, &ids, &appends, tally, true, covered) {
                    Ok((found, _)) => found,
                    Err(e) => return fail(format!("before the epoch's end ({end:?}): {e}")),
                };
                if shared_on {
                    let mut base = shared_base.clone();
                    if let Err(e) = check_shared(&found, threads, &mut base, &shared_log, 0, true, false) {
                        return fail(format!("before the epoch's end ({end:?}): {e}"));
                    }
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
                images = Some(power_loss(&stores, upper.as_ref(), spare_store.as_ref()));
            }
            End::Restart => {
                tally.restarts.fetch_add(1, Ordering::Relaxed);
                images = Some(live_images(&stores, upper.as_ref(), spare_store.as_ref()));
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
                    if let Some(tree) = spare_tree.take() {
                        if let Err(e) = tree.close() {
                            tally.closes_failed.fetch_add(1, Ordering::Relaxed);
                            all_closed = false;
                            let e = e.into_error();
                            if !allowed(&e) {
                                return fail(format!("the spare tree's close: unexpected error {e:?}"));
                            }
                        }
                    }
                }
                if all_closed {
                    same_pool = true;
                    shared_floor = shared_log.len();
                    // A load not read back may or may not have switched: the floor stops before it.
                    let last = spare_state.units.saturating_sub(u64::from(spare_state.maybe_last));
                    spare_state.floor = spare_state.part.ops.iter().filter(|c| c.unit < last).count();
                    spare_state.side.floor = spare_state.side.part.ops.len();
                    // Everything must be there.
                    for (t, f) in floor.iter_mut().enumerate() {
                        for (th, f) in f.iter_mut().enumerate() {
                            *f = parts[th][t].ops.len() as u64;
                        }
                    }
                } else {
                    images = Some(live_images(&stores, upper.as_ref(), spare_store.as_ref()));
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
        spare_tree = None;
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
                .map(|(s, images)| {
                    let seeds = (rng.next(), rng.next());
                    Store::from_images(images, seeds, s.bounded)
                })
                .collect();
            upper = images
                .upper
                .map(|u| Arc::new(FaultyStorage::from_image(rng.next(), FaultConfig::none(), u)));
            spare_store = spare_store.zip(images.spare).map(|(s, images)| {
                let seeds = (rng3.next(), rng3.next());
                Store::from_images(images, seeds, s.bounded)
            });
            // R40-2's diagnosis: a fault-free recovery of copies of the storages, checked as the reopen is.
            let probe = |when: &str| {
                let imgs = live_images(&stores, upper.as_ref(), None);
                let st: Vec<Store> = stores
                    .iter()
                    .zip(imgs.trees)
                    .map(|(s, images)| Store::from_images(images, (1, 2), s.bounded))
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
                // `still_open` so that the batches' states are not settled by a probe.
                let r = check_trees(&o.trees, threads, &mut p, &floor, &ids, &appends, &quiet, true, covered);
                eprintln!("TRACE probe {when}: {r:?}");
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
        let (found, spans) = match check_trees(
            &opened.trees,
            threads,
            &mut parts,
            &floor,
            &ids,
            &appends,
            tally,
            false,
            covered,
        ) {
            Ok(x) => x,
            Err(e) => return fail(format!("after {end:?} and the reopen: {e}")),
        };
        let mut shared_spans = None;
        if shared_on {
            match check_shared(
                &found,
                threads,
                &mut shared_base,
                &shared_log,
                shared_floor,
                false,
                true,
            ) {
                Ok(s) => shared_spans = Some(s),
                Err(e) => return fail(format!("after {end:?} and the reopen: {e}")),
            }
        }
        // Session 44 (`one_prefix`): the own keys and the locked shared rows after one prefix of the log above.
        if covered && new44.one_prefix {
            tally.one_prefix_checks.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = one_prefix(&spans, shared_spans.as_deref()) {
                return fail(format!("after {end:?} and the reopen: {e}"));
            }
        }
        if let Some(s) = &spare_store {
            let open = match new44.spare_reopens {
                true => open_spare_under_faults(&opened.pool, s, &mut rng4, panics, tally),
                false => open_spare(&opened.pool, s).map_err(|e| e.to_string()),
            };
            let tree = match open {
                Ok(tree) => tree,
                Err(e) => return fail(format!("after {end:?}: the spare tree's open: {e}")),
            };
            if let Err(e) = check_spare(&tree, &mut spare_state, &ids, tally, false) {
                return fail(format!("after {end:?} and the reopen: {e}"));
            }
            spare_tree = Some(tree);
        }
        // Session 44 (`spare_creates`): one reopen in five closes the spare tree and puts a new one, on new
        // storages, in its place, created during the next epoch by the first thread that takes it.
        if new44.spare_creates && spare_store.is_some() && rng4.chance(20) {
            if let Some(tree) = spare_tree.take() {
                if let Err(e) = tree.close() {
                    let e = e.into_error();
                    if !allowed(&e) {
                        return fail(format!(
                            "the spare tree's close before its replacement: unexpected error {e:?}"
                        ));
                    }
                }
            }
            spare_store = Some(new_store(&mut rng4));
            spare_state = SpareState::default();
            tally.spare_replaced.fetch_add(1, Ordering::Relaxed);
        }
        tally.reopens_checked.fetch_add(1, Ordering::Relaxed);
    }
    tally_faults(&stores, upper.as_ref(), tally);
    Vec::new()
}

/// Whether the model's feature `name` is on: all are, unless `BUFPOOL_BTREE_MODEL_OFF` names it (a
/// comma-separated list of `covered`, `panics`, `bulk`, `upper_panics`, `cross_tree`, `patches`,
/// `append_loads`, `shared_patches`, `append_changes`, `empty_loads`, `one_prefix`, `spare_reopens`,
/// `spare_writer`, `adopted_txns`, `spare_creates`), to tell a failure's cause apart.
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
        if rng.chance(50) { &s.log_dev } else { &s.data_dev }
            .hooks
            .arm(rng.below(60) as i64);
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
         kept/torn/lost {}/{}/{} (data sectors garbled {}); hinted reads {} ({} hints given); covered schedules {}: transactions {}, \
         appends refused {}, applies retried {}, logs above broken {}, commits / checkpoints of the log above {} / \
         {}, records replayed {}; storage panics armed {} (the log above's {}), met {}; bulk loads ok {}, failed {}; open attempts under \
         faults {}; transactions over both trees {}; patches logged {}, replayed {}, skipped {}; appended loads ok \
         {}, refused {} (read back empty {}, whole {}, not read {}); appended keys checked {}; locked shared \
         transactions {} (patches {}); adopted loads {}, changes of adopted keys {}; spare tree loads into a new \
         tree {}, into an emptied one {} (ok {}, refused {}), its deletes {}, reads beside its writer {}, keys \
         checked {}; reopens checked for one prefix of the log above {}; the spare tree's reopen attempts under \
         faults {} (refused {}), its side writes {}, its loads beside a side write {} (refused ChangedDuringLoad \
         {}), side keys checked {}; transactions of adopted and other own keys {}; spare trees created while the threads \
         ran {} (refused {}), replaced {}; violations {}",
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
        f.crash_sectors_garbled,
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
        n(&t.cross_txns),
        n(&t.patches_logged),
        n(&t.patches_replayed),
        n(&t.patches_skipped),
        n(&t.append_loads_ok),
        n(&t.append_loads_refused),
        n(&t.append_refused_absent),
        n(&t.append_refused_switched),
        n(&t.append_refused_unknown),
        n(&t.appended_keys_checked),
        n(&t.shared_locked_txns),
        n(&t.shared_patches_logged),
        n(&t.adopted_batches),
        n(&t.adopted_changes),
        n(&t.spare_loads_new),
        n(&t.spare_loads_emptied),
        n(&t.spare_loads_ok),
        n(&t.spare_loads_refused),
        n(&t.spare_deletes),
        n(&t.spare_reads),
        n(&t.spare_keys_checked),
        n(&t.one_prefix_checks),
        n(&t.spare_open_attempts),
        n(&t.spare_opens_refused),
        n(&t.side_writes),
        n(&t.spare_loads_beside),
        n(&t.spare_loads_changed),
        n(&t.side_keys_checked),
        n(&t.adopted_txns),
        n(&t.spare_creates),
        n(&t.spare_creates_refused),
        n(&t.spare_replaced),
        violations.len()
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(n(&t.reopens_checked) > 0 && n(&t.commits_ok) > 0);
}
