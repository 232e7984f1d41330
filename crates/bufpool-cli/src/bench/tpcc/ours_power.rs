//! The TPC-C engine ([`Ours`]) under power loss and device faults (R11-O3 in RELIABILITY.md): every file of the
//! engine (`txn.log`, the nine tree logs, the nine data files) on a [`FaultyStorage`] behind one power switch
//! ([`Disk`]), so a cut keeps of every file only what it synced, plus a random part of its unsynced writes
//! (sectors kept, lost or torn, `FaultConfig::crash_keep_unsynced` drawn per seed from 0, 0.5 and 1).
//!
//! - [`power_loss_during_tpcc_keeps_it_consistent_and_loses_no_durably_acknowledged_new_order`]: one warehouse
//!   of reduced cardinalities in a pool of a fifth of it (dirty leaves evicted all the time), the mix on 1 to 3
//!   threads in `durable` or `batch:N` mode, every log cut past 64 KiB by the test's tick (so checkpoints and
//!   tree-log write-outs run under the commits; for about half the runs on two threads, as the TPC-C driver
//!   runs them: `Ours::tick_logs` beside `Ours::tick_checkpoints`), the power cut at a seeded I/O call. Then a recovery cut at a
//!   seeded I/O call of its own (a second crash during recovery), a third open that must succeed, and on it:
//!   the trees' structure, conditions 1 to 12 (`check.rs`), every New-Order acknowledged as durable present
//!   (`durable`: every one acknowledged; `batch:N`: those followed by their thread's N-th commit), and no
//!   rolled-back New-Order present (its ORDER and ORDER-LINE rows as it wrote them).
//!   `BUFPOOL_TPCC_POWER_SEEDS` seeds (default 6).
//! - [`device_faults_during_tpcc_fail_commits_with_errors_and_lose_nothing_acknowledged`]: the same run with one
//!   injected fault: EIO or ENOSPC on a write, or EIO on an fsync (which drops the file's unsynced writes, as
//!   Linux does), of `txn.log`, a tree log or a data file, at a seeded call. The threads go on after errors
//!   (a few hundred transactions), then the engine is closed if it can be, then the power is cut; the reopened
//!   engine must hold the same conditions. A failed transaction must come back as an `Err`, never a panic and
//!   never `Ok` for what is not durable. After an ENOSPC (one-shot: the space is back after it) the engine
//!   must go on and close (F13-1). `BUFPOOL_TPCC_FAULT_SEEDS` seeds (default 9).
//! - [`a_commit_whose_apply_fails_stops_the_engine_so_no_later_commit_builds_on_its_half`]: P12-1's case.
//! - [`a_read_error_during_a_commits_apply_is_retried_and_the_engine_goes_on`]: F16-2's case.
//! - [`data_writes_refused_during_commits_applies_leave_each_transaction_whole_or_absent`] and
//!   [`a_pool_full_during_a_commits_apply_is_reported_and_the_transaction_is_whole_or_absent`]: review27's
//!   (R27-O4), an apply meeting a data file that refuses writes (EIO, ENOSPC) or a pool with no frame to spare.
//!
//! Seeds are `N` (`0..N`) or `A..B` (one again: `BUFPOOL_TPCC_FAULT_SEEDS=70..71`). Run on 2026-12-02 (branch
//! `power12`): 200 power seeds clean before and after P12-1's fix (40,718 New-Orders acknowledged as durable
//! after it, 200 recoveries cut); 300 fault seeds clean after it (291 faults fired, 131,682 transactions failed
//! with errors), which failed on seeds 16 and 70 before it (condition 1).

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::AtomicUsize;

use bufpool::storage::{
    AreaImages, Fault, FaultConfig, FaultyStorage, IoRequest, Op as IoOp, RecordStore, Storage, StorageInfo,
};
use bufpool::FileId;

use super::*;
use crate::bench::tpcc::check;
use crate::bench::tpcc::load;
use crate::bench::tpcc::random::{uniform, NuConstants};
use crate::bench::tpcc::schema::Scale;
use crate::bench::tpcc::txns::{self, Ctx, Kind};
use crate::bench::workload::Rng;

/// Every file of one engine, and the power switch in front of all of them.
struct Power {
    state: Mutex<PowerState>,
}

struct PowerState {
    on: bool,
    /// I/O calls (reads, writes, syncs) made so far, over every file.
    calls: u64,
    /// The call at which the power goes (`u64::MAX`: never).
    cut_at: u64,
    files: BTreeMap<String, Arc<FaultyStorage>>,
    /// What each file held after the cut.
    images: BTreeMap<String, Vec<u8>>,
    /// Seeds the files' fault generators.
    seed: u64,
    config: FaultConfig,
}

impl PowerState {
    fn cut(&mut self) {
        if !self.on {
            return;
        }
        self.on = false;
        for (name, f) in &self.files {
            self.images.insert(name.clone(), f.crash());
            if let Some(beside) = f.area_images() {
                self.images.insert(format!("{name}{RECORD}"), beside.record);
                self.images.insert(format!("{name}{AREA}"), beside.area);
            }
        }
    }
}

/// Suffixes of the names under which a data file's record and doublewrite area are kept in a disk's images (a
/// data file's storage keeps both when the engine opens its trees on the area, `ours::TREE_OPTIONS`; session 57
/// ran these tests so, their default seeds passing).
const RECORD: &str = "#record";
const AREA: &str = "#area";

/// Whether file `name` is a data file the engine opens with a record and an area.
fn has_area(name: &str) -> bool {
    name.ends_with(".db") && TREE_OPTIONS.doublewrite
}

/// The storage of file `name` starting as `images` hold it (with its record and area, for a data file).
fn storage_of(name: &str, seed: u64, config: FaultConfig, images: &BTreeMap<String, Vec<u8>>) -> FaultyStorage {
    let image = |suffix: &str| images.get(&format!("{name}{suffix}")).cloned().unwrap_or_default();
    let f = FaultyStorage::from_image(seed, config, image(""));
    match has_area(name) {
        true => f.with_area(
            seed,
            AreaImages {
                record: image(RECORD),
                area: image(AREA),
            },
        ),
        false => f,
    }
}

/// A disk: the engine's files on [`FaultyStorage`]s, created on first use, each behind [`Plug`].
#[derive(Clone)]
struct Disk(Arc<Power>);

fn off() -> io::Error {
    io::Error::other("the power is off")
}

impl Disk {
    /// A disk whose files start as `images` (missing ones empty).
    fn new(seed: u64, config: FaultConfig, images: &BTreeMap<String, Vec<u8>>) -> Disk {
        let files = images
            .keys()
            .filter(|name| !name.contains('#'))
            .enumerate()
            .map(|(i, name)| {
                let f = storage_of(name, seed ^ ((i as u64 + 1) * 0x9e37), config.clone(), images);
                (name.clone(), Arc::new(f))
            })
            .collect();
        Disk(Arc::new(Power {
            state: Mutex::new(PowerState {
                on: true,
                calls: 0,
                cut_at: u64::MAX,
                files,
                images: BTreeMap::new(),
                seed,
                config,
            }),
        }))
    }

    fn state(&self) -> MutexGuard<'_, PowerState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The storage of file `name`, created empty if new.
    fn plug(&self, name: &str) -> Arc<dyn Storage> {
        let mut st = self.state();
        let n = st.files.len() as u64;
        let (seed, config) = (st.seed, st.config.clone());
        st.files
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(storage_of(name, seed ^ ((n + 1) * 0x9e37), config, &BTreeMap::new())));
        let beside = |area| Beside {
            name: name.to_string(),
            power: self.0.clone(),
            area,
        };
        Arc::new(Plug {
            name: name.to_string(),
            power: self.0.clone(),
            beside: has_area(name).then(|| [beside(false), beside(true)]),
        })
    }

    /// The engine on this disk.
    fn open(&self, frames: usize) -> Result<Ours> {
        Ours::open_on(Path::new("/nonexistent"), Some(&|name| self.plug(name)), frames, 1)
    }

    fn file(&self, name: &str) -> Arc<FaultyStorage> {
        self.state().files[name].clone()
    }

    fn calls(&self) -> u64 {
        self.state().calls
    }

    fn is_on(&self) -> bool {
        self.state().on
    }

    /// Cuts the power at the `n`-th I/O call from now (`n >= 1`).
    fn cut_after(&self, n: u64) {
        let mut st = self.state();
        st.cut_at = st.calls + n;
    }

    /// Cuts the power now (if it is still on); returns what every file holds after it.
    fn cut(&self) -> BTreeMap<String, Vec<u8>> {
        let mut st = self.state();
        st.cut();
        st.images.clone()
    }
}

/// One file of a [`Disk`]: every call runs under the disk's lock, so the power goes between two calls and for
/// every file at once. A data file's record and doublewrite area too ([`Beside`]).
struct Plug {
    name: String,
    power: Arc<Power>,
    /// A data file's record and area.
    beside: Option<[Beside; 2]>,
}

/// A call of file `name` (an I/O call if `io`) through `power`'s switch.
fn switched<R>(power: &Power, name: &str, io: bool, f: impl FnOnce(&FaultyStorage) -> io::Result<R>) -> io::Result<R> {
    let mut st = power.state.lock().unwrap_or_else(|e| e.into_inner());
    if !st.on {
        return Err(off());
    }
    if io {
        st.calls += 1;
        if st.calls >= st.cut_at {
            st.cut();
            return Err(off());
        }
    }
    let file = st.files[name].clone();
    f(&file)
}

impl Plug {
    fn call<R>(&self, io: bool, f: impl FnOnce(&FaultyStorage) -> io::Result<R>) -> io::Result<R> {
        switched(&self.power, &self.name, io, f)
    }
}

/// A data file's record (`area` false) or doublewrite area, behind the same switch as the file.
struct Beside {
    name: String,
    power: Arc<Power>,
    area: bool,
}

impl Beside {
    fn call<R>(&self, f: impl FnOnce(&dyn RecordStore) -> io::Result<R>) -> io::Result<R> {
        switched(&self.power, &self.name, true, |file| {
            let store = match self.area {
                true => file.doublewrite_store()?,
                false => file.record_store(),
            };
            f(store.expect("a data file's storage keeps a record and an area"))
        })
    }
}

impl RecordStore for Beside {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.call(|s| s.read_at(buf, offset))
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.call(|s| s.write_at(buf, offset))
    }
    fn sync(&self) -> io::Result<()> {
        self.call(|s| s.sync())
    }
}

impl Storage for Plug {
    fn len(&self) -> io::Result<u64> {
        self.call(false, |f| f.len())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.call(true, |f| f.read_at(buf, offset))
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.call(true, |f| f.write_at(buf, offset))
    }
    /// A log's open reads its header so (R46-10): the device's bytes, not a failed sync's cached ones.
    fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.call(true, |f| f.read_device_at(buf, offset))
    }
    fn sync(&self) -> io::Result<()> {
        self.call(true, |f| f.sync())
    }
    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        // One call per request, so the power may go inside a batch.
        for req in batch.chunks_mut(1) {
            if let Err(e) = self.call(true, |f| {
                f.submit(req);
                Ok(())
            }) {
                req[0].result = Some(Err(e));
            }
        }
    }
    fn info(&self) -> StorageInfo {
        self.power.state.lock().unwrap_or_else(|e| e.into_inner()).files[&self.name].info()
    }
    fn record_store(&self) -> Option<&dyn RecordStore> {
        self.beside.as_ref().map(|[record, _]| record as &dyn RecordStore)
    }
    fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
        Ok(self.beside.as_ref().map(|[_, area]| area as &dyn RecordStore))
    }
}

/// `(table, key, value)` of rows a transaction wrote.
type Rows = Vec<(Table, Vec<u8>, Vec<u8>)>;

/// A worker that notes the ORDER and ORDER-LINE rows each transaction wrote, to check that a rolled-back
/// New-Order left none of them.
struct Noting<'a> {
    inner: OursWorker<'a>,
    rows: Rows,
}

impl Worker for Noting<'_> {
    fn run(&mut self, access: &Access, body: Body<'_>) -> Result<bool> {
        let rows = &mut self.rows;
        rows.clear();
        self.inner.run(access, &mut |t| body(&mut NotingTxn { t, rows }))
    }
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

struct NotingTxn<'t, 'r> {
    t: &'t mut dyn Txn,
    rows: &'r mut Rows,
}

impl Txn for NotingTxn<'_, '_> {
    fn get(&mut self, t: Table, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        self.t.get(t, key, out)
    }
    fn put(&mut self, t: Table, key: &[u8], val: &[u8]) -> Result<()> {
        if matches!(t, Table::Order | Table::OrderLine) {
            self.rows.push((t, key.to_vec(), val.to_vec()));
        }
        self.t.put(t, key, val)
    }
    fn update(&mut self, t: Table, key: &[u8], row: &[u8], changed: &[Range<usize>]) -> Result<()> {
        if matches!(t, Table::Order | Table::OrderLine) {
            self.rows.push((t, key.to_vec(), row.to_vec()));
        }
        self.t.update(t, key, row, changed)
    }
    fn delete(&mut self, t: Table, key: &[u8]) -> Result<()> {
        self.t.delete(t, key)
    }
    fn scan(&mut self, t: Table, from: &[u8], to: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        self.t.scan(t, from, to, f)
    }
    fn get_part(&mut self, t: Table, key: &[u8], part: Range<usize>, out: &mut Vec<u8>) -> Result<bool> {
        self.t.get_part(t, key, part, out)
    }
    fn get_each(&mut self, t: Table, keys: &[&[u8]], part: Range<usize>, f: Each<'_>) -> Result<()> {
        self.t.get_each(t, keys, part, f)
    }
    fn update_on_commit(&mut self, t: Table, key: &[u8], change: Change, arg: i64) -> Result<()> {
        self.t.update_on_commit(t, key, change, arg)
    }
}

/// The database every seed starts from: one warehouse of reduced cardinalities, loaded and synced.
struct Loaded {
    scale: Scale,
    nu: NuConstants,
    images: BTreeMap<String, Vec<u8>>,
    /// Pages of the data files: the pool gets a fifth of them.
    frames: usize,
}

fn loaded() -> &'static Loaded {
    static LOADED: std::sync::OnceLock<Loaded> = std::sync::OnceLock::new();
    LOADED.get_or_init(|| {
        let scale = Scale::reduced(1);
        let disk = Disk::new(1, FaultConfig::none(), &BTreeMap::new());
        let e = disk.open(4096).unwrap();
        let mut rng = Rng::new(7);
        let load_nu = NuConstants::for_load(&mut rng);
        load::load(&e, scale, load_nu, 7, |_| {}).unwrap();
        e.finish_load().unwrap();
        let pages = e.data_pages().unwrap() as usize;
        e.close().unwrap();
        Loaded {
            scale,
            nu: NuConstants::for_run(load_nu, &mut rng),
            // Everything is synced: the cut keeps it all.
            images: disk.cut(),
            frames: pages / 5,
        }
    })
}

/// Logs are cut past this many bytes (the tick's bound).
const SMALL_LOG: u64 = 64 << 10;

/// The tick's bounds for a run of seed `seed` (review45): one for both logs (as before session 44), or each log its
/// own, as the engine has since session 44 (`TREE_LOG_MAX` 512 MiB, above `LOG_MAX` until session 51 and below it
/// since: a tree's log past its bound checkpoints that tree alone between the transaction log's checkpoints), and
/// the other way round (the trees' logs cut four times as often, alone): so the power also goes during a tree's
/// checkpoint alone, with the transaction log holding records from before it.
fn small_logs(seed: u64) -> LogBounds {
    match seed % 3 {
        0 => LogBounds::from(SMALL_LOG),
        1 => LogBounds {
            txn: SMALL_LOG,
            tree: SMALL_LOG * 5 / 4,
        },
        _ => LogBounds {
            txn: SMALL_LOG * 4,
            tree: SMALL_LOG,
        },
    }
}

/// What a run's threads saw.
#[derive(Default)]
struct Seen {
    /// New-Orders acknowledged as durable.
    durable: Vec<(u16, u8, u32)>,
    /// The ORDER and ORDER-LINE rows of rolled-back New-Orders, one list each.
    rolled_back: Vec<Rows>,
    committed: u64,
    errors: u64,
    /// The first error's text.
    first_error: Option<String>,
}

impl Seen {
    /// One line for a fault seed's run: whether its fault `fired`, what the threads saw, how the close went.
    fn print(&self, what: &str, fired: bool, close: &Result<()>) {
        println!(
            "{what}: fired {fired}, {} committed, {} failed ({}), {} acknowledged as durable, close: {}",
            self.committed,
            self.errors,
            self.first_error.as_deref().unwrap_or("-"),
            self.durable.len(),
            close.as_ref().map_or_else(|e| format!("{e:#}"), |()| "ok".into())
        );
    }
}

/// Runs the mix on `threads` threads until the power goes, or (with `max`) until each thread ran `max`
/// transactions; a thread goes on after an error while the power is on (up to `max` as well).
fn run_mix(e: &Ours, disk: &Disk, mode: Durability, threads: u16, seed: u64, max: Option<u64>) -> Seen {
    let l = loaded();
    let stop = AtomicBool::new(false);
    let running = AtomicUsize::new(usize::from(threads));
    let out = Mutex::new(Seen::default());
    std::thread::scope(|s| {
        let running = &running;
        let tick = |part: &'static (dyn Fn(&Ours, LogBounds) -> Result<Duration> + Sync)| {
            move || {
                while running.load(Ordering::Relaxed) > 0 {
                    let _ = part(e, small_logs(seed));
                    std::thread::sleep(std::time::Duration::from_micros(500));
                }
            }
        };
        // The driver's tick, with small logs; stops when the workers do. Every other seed, as the TPC-C driver
        // runs it (R23-20): the write-outs and the checkpoints each on a thread of its own, so a checkpoint (and a
        // fault or the power cut in one) races the write-outs (review24); else both parts in turn on one thread.
        if seed.is_multiple_of(2) {
            s.spawn(tick(&|e, _| e.tick_logs()));
            s.spawn(tick(&|e, max| e.tick_checkpoints(max)));
        } else {
            s.spawn(tick(&|e, max| e.tick_with(max)));
        }
        for thread in 0..threads {
            let (out, stop) = (&out, &stop);
            s.spawn(move || {
                let mut w = Noting {
                    inner: e.worker(mode).unwrap(),
                    rows: Vec::new(),
                };
                let mut rng = Rng::new(seed ^ ((u64::from(thread) + 1) * 0x1234_5678_9abc));
                let mut ctx = Ctx::new(l.scale, l.nu, thread);
                let mut seen = Seen::default();
                let mut pending = Vec::new();
                let mut ran = 0u64;
                while !stop.load(Ordering::Relaxed) && max.is_none_or(|m| ran < m) && disk.is_on() {
                    ran += 1;
                    let kind = Kind::draw(&mut rng);
                    let commits = w.inner.commits;
                    match txns::run(&mut w, &mut ctx, &mut rng, kind, 1) {
                        Ok(o) if o.committed => {
                            seen.committed += 1;
                            pending.extend(o.new_order);
                            // This commit's own fsync (a read-only transaction counts no commit and syncs
                            // nothing, even when the count is a multiple of N).
                            if w.inner.commits > commits && mode.commits_after(w.inner.commits) {
                                seen.durable.append(&mut pending);
                            }
                        }
                        Ok(_) => seen.rolled_back.push(std::mem::take(&mut w.rows)),
                        Err(err) => {
                            seen.errors += 1;
                            seen.first_error.get_or_insert_with(|| format!("{err:#}"));
                        }
                    }
                }
                if max.is_none() {
                    stop.store(true, Ordering::Relaxed);
                }
                let mut out = out.lock().unwrap();
                out.durable.extend(seen.durable);
                out.rolled_back.extend(seen.rolled_back);
                out.committed += seen.committed;
                out.errors += seen.errors;
                if out.first_error.is_none() {
                    out.first_error = seen.first_error;
                }
                running.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    out.into_inner().unwrap()
}

/// Opens `images` (faults off) and checks the engine's promises against what the run saw: the trees'
/// structure, conditions 1 to 12, every durably acknowledged New-Order present, no rolled-back one present.
fn check_recovered(images: &BTreeMap<String, Vec<u8>>, seen: &Seen, what: &str) {
    let l = loaded();
    let disk = Disk::new(0, FaultConfig::none(), images);
    let e = disk
        .open(l.frames)
        .unwrap_or_else(|err| panic!("{what}: the recovery failed: {err:#}"));
    e.check_trees().unwrap_or_else(|err| panic!("{what}: {err:#}"));
    let mut w = e.worker(Durability::Durable).unwrap();
    let c = check::conditions(&mut w, l.scale).unwrap();
    assert!(c.consistent(), "{what}: {:?}", c.failures);
    let missing = check::acknowledged(&mut w, &seen.durable).unwrap();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} durably acknowledged New-Orders lost: {:?}",
        missing.len(),
        seen.durable.len(),
        &missing[..missing.len().min(5)]
    );
    for rows in &seen.rolled_back {
        let mut all_there = !rows.is_empty();
        w.run(&Access::warehouse(1, true), &mut |t| {
            let mut v = Vec::new();
            for (table, k, want) in rows {
                all_there &= t.get(*table, k, &mut v)? && &v == want;
            }
            Ok(true)
        })
        .unwrap();
        assert!(
            !all_there,
            "{what}: a rolled-back New-Order is there: {:02x?}",
            rows[0].1
        );
    }
    drop(w);
    e.close().unwrap_or_else(|err| panic!("{what}: closing: {err:#}"));
}

/// The seeds `var` names: `N` (seeds `0..N`) or `A..B` (to rerun one); else `0..default`.
fn seeds(var: &str, default: u64) -> Range<u64> {
    let v = std::env::var(var).unwrap_or_default();
    match v.split_once("..") {
        Some((a, b)) => a.parse().unwrap_or(0)..b.parse().unwrap_or(0),
        None => 0..v.parse().unwrap_or(default),
    }
}

/// The mode and thread count of seed `seed`: `durable`, `batch:8`, `batch:50` in turn; 1 to 3 threads.
fn mode_of(seed: u64) -> (Durability, u16) {
    let mode = match seed % 3 {
        0 => Durability::Durable,
        1 => Durability::Batch(8),
        _ => Durability::Batch(50),
    };
    (mode, 1 + (seed / 3 % 3) as u16)
}

/// The crash model of seed `seed`: unsynced sectors all lost, each kept with probability one half, or all kept.
fn crash_config(seed: u64) -> FaultConfig {
    FaultConfig {
        crash_keep_unsynced: [0.0, 0.5, 1.0][(seed / 9 % 3) as usize],
        ..FaultConfig::none()
    }
}

#[test]
fn power_loss_during_tpcc_keeps_it_consistent_and_loses_no_durably_acknowledged_new_order() {
    let l = loaded();
    let (mut acked, mut second_crashes) = (0, 0);
    let seeds = seeds("BUFPOOL_TPCC_POWER_SEEDS", 6);
    let n = seeds.end - seeds.start;
    for seed in seeds {
        let (mode, threads) = mode_of(seed);
        let what = format!("seed {seed} ({}, {threads} threads)", mode.label());
        let config = crash_config(seed);
        let mut rng = Rng::new(seed);
        let disk = Disk::new(rng.next_u64(), config.clone(), &l.images);
        let e = disk.open(l.frames).unwrap();
        disk.cut_after(uniform(&mut rng, 500, 20_000));
        let seen = run_mix(&e, &disk, mode, threads, rng.next_u64(), None);
        drop(e);
        assert!(!disk.is_on(), "{what}: the power did not go");
        assert!(seen.committed > 0, "{what}: nothing committed");
        let images = disk.cut();
        // The recovery's own I/O calls, counted on a copy; then the recovery cut at one of them.
        let dry = Disk::new(0, FaultConfig::none(), &images);
        dry.open(l.frames)
            .unwrap_or_else(|err| panic!("{what}: the recovery failed: {err:#}"));
        let calls = dry.calls();
        let again = Disk::new(rng.next_u64(), config, &images);
        again.cut_after(uniform(&mut rng, 1, calls));
        let second = again.open(l.frames);
        second_crashes += u64::from(!again.is_on());
        drop(second);
        check_recovered(&again.cut(), &seen, &what);
        acked += seen.durable.len();
        println!(
            "{what}: {} committed, {} acknowledged as durable, {} rolled back; recovery of {calls} I/O calls cut",
            seen.committed,
            seen.durable.len(),
            seen.rolled_back.len()
        );
    }
    println!("{n} seeds: {acked} New-Orders acknowledged as durable, {second_crashes} recoveries cut");
    assert!(acked > 0);
}

/// The file, the call and the fault of fault seed `seed`, and the call's number from now: the transaction log,
/// a tree log or a data file of a table transactions write; EIO or ENOSPC on a write, EIO on an fsync.
fn fault_of(seed: u64, rng: &mut Rng) -> (String, IoOp, Fault, u64) {
    let written: Vec<Table> = Table::ALL.into_iter().filter(|&t| written_by_transactions(t)).collect();
    let table = written[rng.below(written.len() as u64) as usize].name();
    let file = match seed % 3 {
        0 => TXN_LOG.to_string(),
        1 => format!("{table}.wal"),
        _ => format!("{table}.db"),
    };
    let (op, fault) = match seed / 3 % 3 {
        0 => (IoOp::Write, Fault::Eio),
        1 => (IoOp::Write, Fault::NoSpace),
        _ => (IoOp::Sync, Fault::Eio),
    };
    // Tree logs and data files are written and synced less often than the transaction log (write-outs,
    // evictions, checkpoints): their call comes sooner.
    let nth = match (file == TXN_LOG, op) {
        (true, IoOp::Write) => uniform(rng, 1, 60),
        (true, _) => uniform(rng, 1, 20),
        (false, _) => uniform(rng, 1, 6),
    };
    (file, op, fault, nth)
}

#[test]
fn device_faults_during_tpcc_fail_commits_with_errors_and_lose_nothing_acknowledged() {
    let l = loaded();
    let seeds = seeds("BUFPOOL_TPCC_FAULT_SEEDS", 9);
    let n = seeds.end - seeds.start;
    let (mut fired, mut failed_txns, mut closed) = (0, 0, 0);
    for seed in seeds {
        let (mode, threads) = mode_of(seed / 9);
        let mut rng = Rng::new(seed ^ 0xfa17);
        let (file, op, fault, nth) = fault_of(seed, &mut rng);
        let what = format!(
            "fault seed {seed} ({}, {threads} threads, {fault:?} on {op:?} {nth} of {file})",
            mode.label()
        );
        let config = crash_config(seed / 3);
        let disk = Disk::new(rng.next_u64(), config, &l.images);
        let e = disk.open(l.frames).unwrap();
        let f = disk.file(&file);
        let c = f.counts();
        f.inject_nth(op, nth + if op == IoOp::Sync { c.syncs } else { c.writes }, fault);
        let seen = run_mix(&e, &disk, mode, threads, rng.next_u64(), Some(300));
        let hit = f.counts().faults() > 0;
        f.clear_triggers();
        // Closing checkpoints: it may fail after the fault (then the engine is dropped, as after a crash).
        let close = e.close();
        closed += u64::from(close.is_ok());
        // A write refused for space drops nothing and is retried (the fault is one-shot: space is back): the
        // engine goes on, and its close (a checkpoint of everything) succeeds. F13-1: on a log it failed the log,
        // and the engine refused every later transaction and its close.
        if hit && fault == Fault::NoSpace {
            assert!(close.is_ok(), "{what}: close after ENOSPC: {:#}", close.unwrap_err());
        }
        let images = disk.cut();
        check_recovered(&images, &seen, &what);
        fired += u64::from(hit);
        failed_txns += seen.errors;
        seen.print(&what, hit, &close);
    }
    println!("{n} fault seeds: {fired} faults fired, {failed_txns} transactions failed, {closed} closes succeeded");
    assert!(fired * 2 >= n, "only {fired} of {n} faults fired");
}

/// Adds `by` to the counter in a row's first 8 bytes (a W_YTD).
fn add_to(row: &mut [u8], by: i64) -> Result<()> {
    let n = u64::from_le_bytes(row[..8].try_into()?) + by as u64;
    row[..8].copy_from_slice(&n.to_le_bytes());
    Ok(())
}

/// The counter's bytes.
const COUNTER: Range<usize> = 0..8;
/// [`add_to`] and the bytes it writes.
const ADD: Change = (add_to, &[COUNTER]);

/// P12-1 (RELIABILITY.md): a commit whose apply fails after its record was appended (here the HISTORY tree's
/// log had failed) left the trees with the writes before the failing one, not the WAREHOUSE row's update after
/// it. The engine went on: a Payment-like transaction of another district, begun before the failure, read the
/// row at its commit without that update and committed. After a restart both records were replayed (the second
/// commit's fsync made the first durable): the counter had grown by one for two transactions, a state no order
/// of them gives (in TPC-C: W_YTD short of the sum of D_YTD, condition 1; `device_faults_*` found it). The
/// engine now refuses every transaction and checkpoint after such a failure until it is reopened, checked
/// after a transaction's locks and again after its commit-time row locks (a check when a transaction starts
/// missed this one: it had started before).
#[test]
fn a_commit_whose_apply_fails_stops_the_engine_so_no_later_commit_builds_on_its_half() {
    let disk = Disk::new(3, FaultConfig::none(), &BTreeMap::new());
    let e = disk.open(256).unwrap();
    e.load(&mut |t| t.put(Table::Warehouse, b"w", &[0; 100])).unwrap();
    e.finish_load().unwrap();
    // The HISTORY tree's log fails (EIO on its next write), and refuses everything from then on.
    e.tree(Table::History).put(b"h1", b"x").unwrap();
    disk.file("history.wal").inject_next(IoOp::Write, Fault::Eio);
    assert!(e.tree(Table::History).commit().is_err());
    let (began, failed) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    let second = std::thread::scope(|s| {
        let second = s.spawn(|| {
            let mut w = e.worker(Durability::Durable).unwrap();
            w.run(&Access::districts(false, [(1, 2)]), &mut |t| {
                began.wait();
                failed.wait();
                t.update_on_commit(Table::Warehouse, b"w", ADD, 1)?;
                Ok(true)
            })
        });
        let mut w = e.worker(Durability::Durable).unwrap();
        began.wait();
        // A STOCK row (applied), a HISTORY row (refused), the counter (never applied).
        let first = w.run(&Access::districts(false, [(1, 1)]), &mut |t| {
            t.put(Table::Stock, b"t1", b"1")?;
            t.put(Table::History, b"h2", b"2")?;
            t.update_on_commit(Table::Warehouse, b"w", ADD, 1)?;
            Ok(true)
        });
        assert!(first.is_err(), "the HISTORY tree's log failed");
        failed.wait();
        second.join().unwrap()
    });
    drop(e);
    let images = disk.cut();
    let e = Disk::new(0, FaultConfig::none(), &images).open(256).unwrap();
    let counter = e.tree(Table::Warehouse).get(b"w").unwrap().unwrap()[0];
    let first_there = e.tree(Table::Stock).get(b"t1").unwrap().is_some();
    assert_eq!(
        u64::from(counter),
        u64::from(first_there) + u64::from(second.is_ok()),
        "the counter after a restart, with the first transaction {} and the second {}",
        if first_there { "there" } else { "not there" },
        if second.is_ok() { "acknowledged" } else { "refused" }
    );
    e.close().unwrap();
}

/// F13-O1 (RELIABILITY.md, F14-3): a tick that met a full device latched `Ours::failed`, so every later tick
/// failed with "a checkpoint failed" and `bufpool bench --workload tpcc` ended its run there, though nothing had
/// failed: the pool keeps a page refused for space dirty, a tree log its records buffered, and a checkpoint
/// refused for space cuts no log. Now such a tick reports the error (with [`FullDevice`]) and the next one
/// retries. The device fills once under a checkpoint's data-page writes, once under its tree-log writes (which
/// reach the pool as `Error::WalNoSpace`, told by type since F15-3); each time space comes back, transactions and the next checkpoint succeed,
/// and after a power cut the engine holds TPC-C's conditions and every acknowledged New-Order.
#[test]
fn a_tick_that_meets_a_full_device_is_retried_by_the_next() {
    let l = loaded();
    let disk = Disk::new(5, FaultConfig::none(), &l.images);
    let e = disk.open(l.frames).unwrap();
    let mut seen = Seen::default();
    let written: Vec<Table> = Table::ALL.into_iter().filter(|&t| written_by_transactions(t)).collect();
    for (round, ext) in [".db", ".wal", ".db"].into_iter().enumerate() {
        let more = run_mix(&e, &disk, Durability::Durable, 1, 40 + round as u64, Some(40));
        assert_eq!(more.errors, 0, "round {round}: {:?}", more.first_error);
        seen.durable.extend(more.durable);
        seen.rolled_back.extend(more.rolled_back);
        // The device is full for the next write of every data file (or tree log) transactions write.
        let files: Vec<_> = written
            .iter()
            .map(|t| disk.file(&format!("{}{ext}", t.name())))
            .collect();
        for f in &files {
            f.inject_nth(IoOp::Write, f.counts().writes + 1, Fault::NoSpace);
        }
        let err = e
            .tick_with(0)
            .expect_err("a checkpoint with every write refused for space");
        assert!(
            err.downcast_ref::<FullDevice>().is_some(),
            "round {round} ({ext}): {err:#}"
        );
        assert!(files.iter().any(|f| f.counts().faults() > 0));
        for f in &files {
            f.clear_triggers();
        }
        // Space is back: the next tick checkpoints everything.
        e.tick_with(0)
            .unwrap_or_else(|err| panic!("round {round} ({ext}): the tick after space came back: {err:#}"));
    }
    let more = run_mix(&e, &disk, Durability::Durable, 1, 50, Some(40));
    assert_eq!(more.errors, 0, "{:?}", more.first_error);
    seen.durable.extend(more.durable);
    seen.rolled_back.extend(more.rolled_back);
    assert!(!seen.durable.is_empty());
    drop(e);
    check_recovered(&disk.cut(), &seen, "after full-device ticks");
}

/// EIO on a read of a tree page (a data file of any table) while two threads run the mix and the tick checkpoints
/// (session 16, `fault16`): once (`Eio`) or from then on until healed (`EioPersistent`), at a seeded read. Every
/// failure comes back as an `Err` (no panic, no hang: the other thread's transactions end too), and after the
/// engine is closed (if it can be) and the power cut, the reopened engine holds conditions 1 to 12 and every
/// New-Order acknowledged as durable, none rolled back. `BUFPOOL_TPCC_READ_SEEDS` seeds (default 4).
#[test]
fn read_errors_of_tree_pages_on_two_threads_fail_transactions_and_lose_nothing_acknowledged() {
    let l = loaded();
    let seeds = seeds("BUFPOOL_TPCC_READ_SEEDS", 4);
    let n = seeds.end - seeds.start;
    let (mut fired, mut closed) = (0, 0);
    for seed in seeds {
        let mut rng = Rng::new(seed ^ 0x4ead);
        let data: Vec<&String> = l.images.keys().filter(|name| name.ends_with(".db")).collect();
        let file = data[rng.below(data.len() as u64) as usize].clone();
        let fault = if seed.is_multiple_of(2) {
            Fault::Eio
        } else {
            Fault::EioPersistent
        };
        let disk = Disk::new(rng.next_u64(), crash_config(seed), &l.images);
        let e = disk.open(l.frames).unwrap();
        let f = disk.file(&file);
        let nth = uniform(&mut rng, 1, 30);
        f.inject_nth(IoOp::Read, f.counts().reads + nth, fault);
        let what = format!("read seed {seed} ({fault:?} on read {nth} of {file}, 2 threads)");
        let seen = run_mix(&e, &disk, Durability::Durable, 2, rng.next_u64(), Some(300));
        let hit = f.counts().faults() > 0;
        f.clear_triggers();
        f.heal();
        let close = e.close();
        closed += u64::from(close.is_ok());
        fired += u64::from(hit);
        seen.print(&what, hit, &close);
        check_recovered(&disk.cut(), &seen, &what);
    }
    println!("{n} read seeds: {fired} faults fired, {closed} closes succeeded");
    assert!(fired * 2 >= n, "only {fired} of {n} faults fired");
}

/// What a [`FailsApply`] does at the end of the body of its next transaction that commits: after every read the
/// body makes, before the commit's append and apply.
enum Arm<'a> {
    /// A one-shot EIO on the next read of this file.
    Read(Arc<FaultyStorage>),
    /// `fault` on the next write of each of these files.
    Writes(Vec<Arc<FaultyStorage>>, Fault),
    /// Every frame of the engine's pool but `free` taken by pages of another file (`file`), held until the
    /// commit returns.
    Frames(&'a BufferPool, FileId, usize),
}

/// A worker that fails the apply of its next transaction that commits as [`Arm`] says.
struct FailsApply<'a> {
    inner: OursWorker<'a>,
    arm: Arm<'a>,
    armed: bool,
    pins: Vec<bufpool::WriteGuard<'a>>,
}

impl<'a> FailsApply<'a> {
    fn new(inner: OursWorker<'a>, arm: Arm<'a>) -> FailsApply<'a> {
        FailsApply {
            inner,
            arm,
            armed: true,
            pins: Vec::new(),
        }
    }
}

impl Worker for FailsApply<'_> {
    fn run(&mut self, access: &Access, body: Body<'_>) -> Result<bool> {
        let (arm, armed, pins) = (&self.arm, &mut self.armed, &mut self.pins);
        let r = self.inner.run(access, &mut |t| {
            let commit = body(t)?;
            if commit && std::mem::take(armed) {
                match arm {
                    Arm::Read(file) => file.inject_next(IoOp::Read, Fault::Eio),
                    Arm::Writes(files, fault) => files.iter().for_each(|f| f.inject_next(IoOp::Write, *fault)),
                    Arm::Frames(pool, file, free) => {
                        while pins.len() + free < pool.frames() {
                            let Ok(g) = pool.new_page(*file) else { break };
                            pins.push(g);
                        }
                    }
                }
            }
            Ok(commit)
        });
        self.pins.clear();
        r
    }
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

/// F16-2 (RELIABILITY.md; F16-O1): a one-shot EIO on a read of a tree page during a commit's apply (after its
/// record was appended) latched `Ours::broken`, and the engine refused every later transaction and its close,
/// though the device was fine again. Here a New-Order's apply meets it on `order_line.db` (a fresh pool: the
/// ORDER-LINE leaves the body never reads are not resident), after its DISTRICT, NEW-ORDER, ORDER and
/// ORDER-CUSTOMER writes were applied and before its STOCK ones: the apply is retried whole, the New-Order is
/// acknowledged, two threads then run the mix without an error, and after a power cut the recovered engine holds
/// conditions 1 to 12 and every acknowledged New-Order.
#[test]
fn a_read_error_during_a_commits_apply_is_retried_and_the_engine_goes_on() {
    let l = loaded();
    let disk = Disk::new(11, FaultConfig::none(), &l.images);
    let e = disk.open(l.frames).unwrap();
    let file = disk.file("order_line.db");
    let mut w = FailsApply::new(e.worker(Durability::Durable).unwrap(), Arm::Read(file.clone()));
    let mut rng = Rng::new(16);
    let mut ctx = Ctx::new(l.scale, l.nu, 0);
    let mut seen = Seen::default();
    // A New-Order that commits (one in a hundred rolls back, clause 2.4.2.3: the fault is armed only on a commit).
    while w.armed {
        let o = txns::run(&mut w, &mut ctx, &mut rng, Kind::NewOrder, 1)
            .unwrap_or_else(|err| panic!("the New-Order whose apply met a read error: {err:#}"));
        seen.durable.extend(o.new_order);
    }
    assert_eq!(file.counts().read_eio, 1, "the apply read order_line.db");
    assert_eq!(seen.durable.len(), 1);
    drop(w);
    let more = run_mix(&e, &disk, Durability::Durable, 2, 17, Some(100));
    assert_eq!(more.errors, 0, "after the read error: {:?}", more.first_error);
    assert!(more.committed > 0);
    seen.durable.extend(more.durable);
    seen.rolled_back.extend(more.rolled_back);
    drop(e);
    check_recovered(&disk.cut(), &seen, "after a read error in an apply");
}

/// Runs up to `n` New-Orders on `w`, armed again before each, until one fails; each acknowledged one noted in
/// `seen`. Returns the failure, if one failed.
fn new_orders_until_one_fails(w: &mut FailsApply<'_>, seen: &mut Seen, seed: u64, n: usize) -> Option<anyhow::Error> {
    let l = loaded();
    let mut rng = Rng::new(seed);
    let mut ctx = Ctx::new(l.scale, l.nu, 0);
    for _ in 0..n {
        w.armed = true;
        match txns::run(w, &mut ctx, &mut rng, Kind::NewOrder, 1) {
            Ok(o) => seen.durable.extend(o.new_order),
            Err(err) => return Some(err),
        }
    }
    None
}

/// After a commit whose apply failed: the engine refuses the next transaction, and after a power cut the
/// reopened engine holds conditions 1 to 12 (a New-Order applied in part breaks conditions 2 and 3) and every
/// New-Order acknowledged as durable.
fn refuses_then_recovers(e: Ours, disk: &Disk, seen: &Seen, err: &anyhow::Error, what: &str) {
    assert!(
        format!("{err:#}").contains("after its record was appended"),
        "{what}: {err:#}"
    );
    let more = run_mix(&e, disk, Durability::Durable, 1, 23, Some(5));
    assert_eq!(
        more.committed, 0,
        "{what}: the engine went on after a half-applied commit"
    );
    assert!(
        more.first_error.as_deref().is_some_and(|m| m.contains("half-applied")),
        "{what}: {:?}",
        more.first_error
    );
    drop(e);
    check_recovered(&disk.cut(), seen, what);
}

/// Review27 (R27-O4): commits whose apply meets a data file refusing a write (a dirty page evicted to make room
/// for a tree page the apply needs: EIO, or ENOSPC; the pool cut to 12 free frames by another file's pages, so
/// every apply evicts), armed at each of 40 New-Orders. The pool leaves a victim it could not write dirty and
/// takes another, so the applies go on; whatever the commits answer, a failed one must stop the engine, and
/// after a power cut the reopened engine holds each transaction whole or not at all (conditions 1 to 12) and
/// every New-Order acknowledged as durable.
#[test]
fn data_writes_refused_during_commits_applies_leave_each_transaction_whole_or_absent() {
    let l = loaded();
    for (seed, fault) in [(31, Fault::Eio), (32, Fault::NoSpace)] {
        let disk = Disk::new(seed, FaultConfig::none(), &l.images);
        let e = disk.open(l.frames).unwrap();
        let mut seen = run_mix(&e, &disk, Durability::Durable, 1, seed, Some(60));
        assert_eq!(seen.errors, 0, "{:?}", seen.first_error);
        let data: Vec<_> = l
            .images
            .keys()
            .filter(|n| n.ends_with(".db"))
            .map(|n| disk.file(n))
            .collect();
        let pool = e.tree(Table::Stock).pool().clone();
        let scratch = pool.open_storage(bufpool::storage::MemoryStorage::new()).unwrap();
        let pins: Vec<_> = (12..pool.frames()).map(|_| pool.new_page(scratch).unwrap()).collect();
        let mut w = FailsApply::new(e.worker(Durability::Durable).unwrap(), Arm::Writes(data.clone(), fault));
        let failed = new_orders_until_one_fails(&mut w, &mut seen, seed, 40);
        drop(pins);
        let faults: u64 = data.iter().map(|f| f.counts().faults()).sum();
        data.iter().for_each(|f| f.clear_triggers());
        drop(w);
        let what = format!("{fault:?} on data writes in applies");
        println!(
            "{what}: {faults} faults, {} acknowledged, failed: {failed:?}",
            seen.durable.len()
        );
        assert!(faults > 0, "{what}: no write refused");
        match failed {
            Some(err) => refuses_then_recovers(e, &disk, &seen, &err, &what),
            None => {
                drop(e);
                check_recovered(&disk.cut(), &seen, &what);
            }
        }
    }
}

/// Review27 (R27-O4): a commit's apply that finds the pool full (every frame but `free` held by another file's
/// pages) after its record was appended: a leaf split needs more frames than there are. An `Err` (not counted as
/// committed), the engine refuses what follows, and after a power cut the transaction is whole or absent.
#[test]
fn a_pool_full_during_a_commits_apply_is_reported_and_the_transaction_is_whole_or_absent() {
    let l = loaded();
    for free in [1, 2, 3] {
        let disk = Disk::new(40 + free as u64, FaultConfig::none(), &l.images);
        let e = disk.open(l.frames).unwrap();
        let mut seen = run_mix(&e, &disk, Durability::Durable, 1, 40, Some(30));
        assert_eq!(seen.errors, 0, "{:?}", seen.first_error);
        let pool = e.tree(Table::Stock).pool().clone();
        let scratch = pool.open_storage(bufpool::storage::MemoryStorage::new()).unwrap();
        let mut w = FailsApply::new(
            e.worker(Durability::Durable).unwrap(),
            Arm::Frames(&pool, scratch, free),
        );
        let what = format!("{free} frames free in an apply");
        let err = new_orders_until_one_fails(&mut w, &mut seen, 40 + free as u64, 300)
            .unwrap_or_else(|| panic!("{what}: 300 New-Orders, none failed"));
        drop(w);
        refuses_then_recovers(e, &disk, &seen, &err, &what);
    }
}
