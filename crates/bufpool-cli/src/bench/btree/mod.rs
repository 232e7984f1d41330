//! `bufpool bench --workload btree...`: the B+tree workloads. `bufpool-btree` (the workspace's tree on the pool)
//! runs side by side with redb and LMDB on the same tuples, the same pre-generated op sequences and, where the
//! peer can be bounded, the same memory.
//!
//! Plan of a run: load `--tuples` tuples into each system's own directory (bufpool-btree first, since its tree
//! size sets everyone's memory; `--load-order` random or ascending keys; the load rows), then for each
//! `--pool-fraction` F open every system with `F x (bufpool-btree's data file size)` bytes of cache, warm each
//! (one full scan plus a few random lookups), and measure each case: lookups by `get` and by `get_many`, then
//! YCSB C, B, A, F, E (writes last, inserts at the very end), the write workloads once per `--durability` mode.
//! Within a case the systems take turns round by round (the first to run rotates), so they meet the same
//! machine; each round draws distinct op streams. Out of memory, redb's file and LMDB's map are evicted from
//! memory every 2 ms (bufpool-btree's pool is bounded by its frames and O_DIRECT); every row reports the memory
//! each system held.
//!
//! Module map: `tuple.rs` (keys and self-checking values), `ops.rs` (YCSB mixes, scrambled Zipfian, sequences),
//! `driver.rs` (the `KvStore`/`KvWorker` traits, load and case measurement), `ours.rs`, `redb_sys.rs`,
//! `lmdb.rs` (one file per system), `report.rs` (rows and the summary table). BENCHMARKS.md, "B+tree workloads",
//! explains the numbers.

pub(super) mod driver;
mod lmdb;
mod ops;
mod ours;
mod redb_sys;
mod report;
mod tuple;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::report::{CaseResult, Unavailable};
use super::workload::Dist;
use super::{BenchArgs, WorkloadArg};
use driver::{Durability, KvStore, KvWorker, Measured, Mode};
use ops::{KeyChooser, OpStream, Ycsb};

/// A B+tree system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvKind {
    /// The workspace's `bufpool-btree`.
    Ours,
    /// redb.
    Redb,
    /// LMDB via heed.
    Lmdb,
}

impl KvKind {
    /// Every system, in run order.
    pub const ALL: [KvKind; 3] = [KvKind::Ours, KvKind::Redb, KvKind::Lmdb];

    /// The name used in output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            KvKind::Ours => "bufpool-btree",
            KvKind::Redb => "redb",
            KvKind::Lmdb => "lmdb",
        }
    }
}

/// A comma-separated list of B+tree systems.
#[derive(Clone, Debug)]
pub struct KvList(pub(super) Vec<KvKind>);

fn parse_kv_list(s: &str) -> Result<KvList, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let k = KvKind::ALL
            .into_iter()
            .find(|k| k.name() == part)
            .ok_or_else(|| format!("unknown B+tree system `{part}`: expected bufpool-btree, redb or lmdb"))?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out.sort_unstable();
    Ok(KvList(out))
}

/// A comma-separated list of pool fractions.
#[derive(Clone, Debug)]
pub struct Fractions(pub(super) Vec<f64>);

fn parse_fractions(s: &str) -> Result<Fractions, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let f: f64 = part
            .parse()
            .map_err(|_| format!("bad pool fraction `{part}`: expected a number, e.g. 0.14"))?;
        if !(f > 0.0 && f <= 16.0) {
            return Err(format!("pool fraction must be in (0, 16], got {part}"));
        }
        out.push(f);
    }
    Ok(Fractions(out))
}

/// A comma-separated list of durability modes.
#[derive(Clone, Debug)]
pub struct DurabilityList(pub(super) Vec<Durability>);

fn parse_durability_list(s: &str) -> Result<DurabilityList, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let d = Durability::parse(part)?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(DurabilityList(out))
}

/// The order in which the load inserts the tuples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadOrder {
    /// Tuple ids in order: keys at random places of the key space (as YCSB's hashed keys).
    Random,
    /// Keys in ascending order (as vmcache and LeanStore load): every insert appends to the last leaf.
    Ascending,
    /// Keys in ascending order through a bulk path: bufpool-btree builds its tree bottom-up (`Tree::bulk_load`),
    /// LMDB puts with `MDB_APPEND` (in 100,000-tuple transactions); redb, which has no bulk path, inserts in
    /// ascending order as for `ascending`.
    Bulk,
}

impl LoadOrder {
    fn name(self) -> &'static str {
        match self {
            LoadOrder::Random => "random",
            LoadOrder::Ascending => "ascending",
            LoadOrder::Bulk => "bulk",
        }
    }

    /// The tuple ids `0..tuples` in load order.
    fn ids(self, tuples: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = (0..tuples).collect();
        if self != LoadOrder::Random {
            ids.sort_unstable_by_key(|&id| tuple::key(id));
        }
        ids
    }
}

/// Options of the B+tree workloads (flattened into `bufpool bench`'s arguments).
#[derive(clap::Args, Debug)]
pub struct BtreeArgs {
    /// B+tree workloads: tuples loaded (8-byte keys, 120-byte values) [default: 1000000, smoke: 2000].
    #[arg(long)]
    tuples: Option<u64>,
    /// B+tree workloads: pool size / bufpool-btree's tree size, comma-separated; below 1 is out of memory
    /// [default: 1.25,0.14].
    #[arg(long, value_parser = parse_fractions)]
    pub(super) pool_fraction: Option<Fractions>,
    /// B+tree workloads: keys per get_many batch [default: 64].
    #[arg(long)]
    batch: Option<usize>,
    /// B+tree workloads: systems, e.g. bufpool-btree,redb (default: bufpool-btree,redb,lmdb).
    #[arg(long, value_parser = parse_kv_list)]
    pub(super) btree_systems: Option<KvList>,
    /// B+tree workloads: how writes commit, comma-separated: nondurable-autocommit (each write atomic and
    /// visible, durable only at a later sync), durable (each write durable when it returns), batch:N (each
    /// thread's N writes per durable commit); write workloads run once per mode
    /// [default: nondurable-autocommit,durable,batch:64].
    #[arg(long, value_parser = parse_durability_list)]
    pub(super) durability: Option<DurabilityList>,
    /// B+tree workloads: the load inserts keys in random or ascending order, or (bulk) in ascending order through
    /// each system's bulk path: bufpool-btree's `Tree::bulk_load`, LMDB's `MDB_APPEND` (redb has none: inserts).
    #[arg(long, value_enum, default_value = "random")]
    load_order: LoadOrder,
}

/// One B+tree workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sel {
    Load,
    Lookup,
    Ycsb(Ycsb),
}

/// The B+tree workloads `w` selects, or `None` if it is one of the page workloads.
pub fn selection(w: WorkloadArg) -> Option<Vec<WorkloadArgSel>> {
    let y = |w| vec![WorkloadArgSel(Sel::Ycsb(w))];
    Some(match w {
        WorkloadArg::BtreeLoad => vec![WorkloadArgSel(Sel::Load)],
        WorkloadArg::BtreeLookup => vec![WorkloadArgSel(Sel::Lookup)],
        WorkloadArg::YcsbA => y(Ycsb::A),
        WorkloadArg::YcsbB => y(Ycsb::B),
        WorkloadArg::YcsbC => y(Ycsb::C),
        WorkloadArg::YcsbE => y(Ycsb::E),
        WorkloadArg::YcsbF => y(Ycsb::F),
        WorkloadArg::Btree => std::iter::once(Sel::Lookup)
            .chain(Ycsb::ALL.into_iter().map(Sel::Ycsb))
            .map(WorkloadArgSel)
            .collect(),
        _ => return None,
    })
}

/// A selected B+tree workload (opaque outside this module).
#[derive(Clone, Copy, Debug)]
pub struct WorkloadArgSel(Sel);

/// One measured case, before a system is chosen.
#[derive(Clone, Debug)]
struct Case {
    workload: &'static str,
    access: &'static str,
    mode: Mode,
    ycsb: Option<Ycsb>,
    dist: Dist,
    threads: usize,
    /// How writes commit; `None` for a case that does not write.
    durability: Option<Durability>,
}

/// The resolved plan of a B+tree run.
struct Plan {
    tuples: u64,
    fractions: Vec<f64>,
    systems: Vec<KvKind>,
    cases: Vec<Case>,
    duration: Duration,
    repeat: usize,
    seed: u64,
    load_order: LoadOrder,
    /// bufpool-btree's pool: `Builder::io_spin` (`--bufpool-io-spin-us`).
    io_spin: Duration,
}

fn plan(args: &BenchArgs, sel: &[WorkloadArgSel]) -> Result<Plan> {
    let b = &args.btree;
    for (given, what) in [
        (
            args.systems.is_some(),
            "--systems names page systems: use --btree-systems",
        ),
        (args.pages.is_some(), "--pages is for the page workloads: use --tuples"),
        (
            args.frames.is_some(),
            "--frames is for the page workloads: use --pool-fraction",
        ),
        (args.access.is_some(), "--access is for the hit workload"),
    ] {
        if given {
            bail!("{what} with the B+tree workloads");
        }
    }
    let tuples = b.tuples.unwrap_or(if args.smoke { 2000 } else { 1_000_000 });
    if !(100..ops::TUPLES_MAX / 2).contains(&tuples) {
        bail!("--tuples must be in 100..{}, got {tuples}", ops::TUPLES_MAX / 2);
    }
    // The tuples' ids are built in memory before anything runs (8 bytes each, a second copy for a shuffled
    // order): refuse what cannot fit instead of aborting on the allocation (R10B-O1 in RELIABILITY.md).
    let ids_bytes = tuples.saturating_mul(16);
    let available = super::available_memory_bytes()?;
    if ids_bytes > available {
        bail!(
            "--tuples {tuples} needs about {} MiB for the tuples' ids alone, more than the {} MiB available",
            ids_bytes >> 20,
            available >> 20
        );
    }
    let batch = b.batch.unwrap_or(64);
    if !(1..=4096).contains(&batch) {
        bail!("--batch must be in 1..=4096, got {batch}");
    }
    let threads = args.threads.as_ref().map_or(vec![1, 2], |t| t.0.clone());
    let durabilities = b.durability.as_ref().map_or_else(
        || {
            vec![
                Durability::NondurableAutocommit,
                Durability::Durable,
                Durability::Batch(64),
            ]
        },
        |d| d.0.clone(),
    );
    let mut cases = Vec::new();
    for s in sel.iter().map(|s| s.0) {
        match s {
            Sel::Load => {}
            Sel::Lookup => {
                let dist = args.dist.unwrap_or(Dist::Uniform);
                for (access, mode) in [("get", Mode::Get), ("get_many", Mode::GetMany(batch))] {
                    for &t in &threads {
                        cases.push(Case {
                            workload: "btree-lookup",
                            access,
                            mode,
                            ycsb: None,
                            dist,
                            threads: t,
                            durability: None,
                        });
                    }
                }
            }
            Sel::Ycsb(w) => {
                let dist = args.dist.unwrap_or(Dist::Zipf(0.99));
                let modes: Vec<Option<Durability>> = if w.writes() {
                    durabilities.iter().copied().map(Some).collect()
                } else {
                    vec![None]
                };
                for &durability in &modes {
                    for &t in &threads {
                        cases.push(Case {
                            workload: w.name(),
                            access: w.letter(),
                            mode: Mode::Ycsb,
                            ycsb: Some(w),
                            dist,
                            threads: t,
                            durability,
                        });
                    }
                }
            }
        }
    }
    let seconds = args.seconds.unwrap_or(if args.smoke { 0.05 } else { 1.0 });
    Ok(Plan {
        tuples,
        fractions: b.pool_fraction.as_ref().map_or(vec![1.25, 0.14], |f| f.0.clone()),
        systems: b.btree_systems.as_ref().map_or(KvKind::ALL.to_vec(), |s| s.0.clone()),
        cases,
        duration: Duration::from_secs_f64(seconds),
        repeat: args.repeat as usize,
        seed: args.seed,
        load_order: b.load_order,
        io_spin: Duration::from_micros(args.bufpool_io_spin_us),
    })
}

/// What a B+tree run produced.
#[derive(Default)]
pub struct Outcome {
    /// One row per measured (case, system), loads included.
    pub results: Vec<CaseResult>,
    /// Systems that could not run.
    pub unavailable: Vec<Unavailable>,
    /// Remarks for the reader.
    pub notes: Vec<String>,
}

/// Pages of 4 KiB; every system's memory is counted in them.
const PAGE: u64 = ours::PAGE_BYTES as u64;

/// A generous guess of bufpool-btree's data pages for `tuples` (leaves about 2/3 full after random inserts),
/// used to size the pool during the load, before the real size is known.
fn estimate_pages(tuples: u64) -> u64 {
    tuples / 18 + 256
}

/// Runs the selected B+tree workloads, prints their summary and returns the rows.
pub fn run(args: &BenchArgs, sel: &[WorkloadArgSel]) -> Result<Outcome> {
    let plan = plan(args, sel)?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("bufpool-bench-btree-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a directory in {}", base.display()))?;
    let mut r = Runner {
        plan: &plan,
        out: Outcome::default(),
        timer_ns: driver::calibrate_timer(),
        choosers: HashMap::new(),
        ref_pages: None,
        next_insert: HashMap::new(),
        sizes: HashMap::new(),
    };
    r.note(format!(
        "latency: 1 op (get_many: 1 batch) in {} timed; ns/op = threads / ops_per_sec; cpu/op is the whole \
         process's CPU time (getrusage) per op; rd/op and wr/op are 4 KiB units of the process's storage traffic \
         (/proc/self/io)",
        driver::SAMPLE_EVERY
    ));
    r.note(
        "syncs/op: bufpool-btree's log fsyncs (commits, group-shared, and WAL-rule flushes); redb's and LMDB's \
         durable commits (each one or more fsync/msync of their files)"
            .into(),
    );
    if plan.load_order == LoadOrder::Bulk {
        r.note(
            "load order bulk: bufpool-btree loads by Tree::bulk_load (a bottom-up build, durable when it returns); \
             LMDB by MDB_APPEND puts in key order (100,000 per NO_SYNC transaction); redb, which has no bulk path, \
             inserts the same tuples in ascending key order through its ordinary insert (one write transaction per \
             100,000); the bulk paths' rows have no per-insert latency (p50 and p99 0)"
                .into(),
        );
    }
    let mut loaded = Vec::new();
    for &kind in &plan.systems {
        let sdir = dir.path().join(kind.name());
        r.load(kind, &sdir)
            .with_context(|| format!("loading {}", kind.name()))?;
        loaded.push((kind, sdir));
    }
    if !plan.cases.is_empty() {
        for &f in &plan.fractions {
            r.fraction(&loaded, f)?;
        }
    }
    // The hardware's share of an in-memory lookup: the latency of one dependent load over as much memory as the
    // tree occupies, measured in this run (the lookup's serial cache misses cannot each be faster than this).
    let latency = r.ref_pages.map(|pages| {
        let bytes = (pages * PAGE) as usize;
        let ns = memory_latency_ns(bytes, plan.seed);
        r.note(format!(
            "memory latency: one dependent load at a random line of a {} MiB buffer (huge pages, as the pool's frames) \
             takes {ns:.0} ns",
            bytes >> 20
        ));
        ns
    });
    outln!("{}", report::summary(&r.out.results));
    let targets = report::targets(&r.out.results, latency);
    if args.smoke {
        outln!("B+tree targets: not judged in a smoke run (tiny tree, short cases); run without --smoke");
    } else if !targets.is_empty() {
        outln!("B+tree targets (from this run):\n{targets}");
    }
    Ok(r.out)
}

/// Nanoseconds per dependent load when chasing pointers through random cache lines of a `bytes`-sized buffer: the
/// memory latency a B+tree descent pays for each serial miss. The chase visits each 4 KiB page once per round in
/// a random order, a different line of it each round, and never the same line twice, so no step is a cache hit
/// however large the cache (a cycle over one line per page would fit a 32 MiB L3 for trees up to 2 GiB).
fn memory_latency_ns(bytes: usize, seed: u64) -> f64 {
    let pages = (bytes / 4096).max(2);
    let steps = (64 * pages).min(2_000_000);
    let mut buf = bufpool::page::AlignedBuf::zeroed_huge(pages * 4096, 2 << 20);
    let mut order: Vec<usize> = (0..pages).collect();
    crate::bench::workload::Rng::new(seed ^ 0x6c61_7465).shuffle(&mut order);
    // Step k: page order[k % pages], line (k / pages + page) % 64: distinct for k < 64 * pages.
    let at = |k: usize| {
        let k = k % steps;
        let page = order[k % pages];
        page * 4096 + ((k / pages + page) % 64) * 64
    };
    for k in 0..steps {
        let (from, to) = (at(k), at(k + 1));
        buf[from..from + 8].copy_from_slice(&(to as u64).to_le_bytes());
    }
    let mut p = at(0);
    let t = Instant::now();
    for _ in 0..steps {
        p = u64::from_le_bytes(buf[p..p + 8].try_into().expect("8 bytes")) as usize;
    }
    let ns = t.elapsed().as_nanos() as f64 / steps as f64;
    std::hint::black_box(p);
    ns
}

struct Runner<'p> {
    plan: &'p Plan,
    out: Outcome,
    timer_ns: u64,
    /// Key choosers by distribution (a Zipf set-up is O(tuples)).
    choosers: HashMap<String, KeyChooser>,
    /// bufpool-btree's data pages: every system's memory is a fraction of this.
    ref_pages: Option<u64>,
    /// The next id each system's inserts take: past every id of the load and of earlier inserts, at every pool
    /// fraction, so YCSB E's inserts are always inserts.
    next_insert: HashMap<KvKind, u64>,
    /// Each loaded system's `(live pages, file pages)`.
    sizes: HashMap<KvKind, (u64, u64)>,
}

/// A system opened at one pool fraction.
enum Open {
    Ours(ours::Ours),
    Redb(redb_sys::RedbSys),
    Lmdb(lmdb::Lmdb),
}

impl Open {
    fn kind(&self) -> KvKind {
        match self {
            Open::Ours(_) => KvKind::Ours,
            Open::Redb(_) => KvKind::Redb,
            Open::Lmdb(_) => KvKind::Lmdb,
        }
    }

    fn close(self) -> Result<()> {
        match self {
            Open::Ours(s) => s.close(),
            Open::Redb(s) => s.sync(),
            Open::Lmdb(s) => s.sync(),
        }
    }
}

impl Runner<'_> {
    fn note(&mut self, n: String) {
        eprintln!("note: {n}");
        if !self.out.notes.contains(&n) {
            self.out.notes.push(n);
        }
    }

    /// Loads `kind` into `dir` (the load row).
    fn load(&mut self, kind: KvKind, dir: &Path) -> Result<()> {
        let tuples = self.plan.tuples;
        let ids = self.plan.load_order.ids(tuples);
        let bulk = self.plan.load_order == LoadOrder::Bulk;
        let load_pages = estimate_pages(tuples) * 13 / 10;
        eprintln!("{}: loading {tuples} tuples", kind.name());
        let t = Instant::now();
        let (mut m, file_pages, live_pages) = match kind {
            KvKind::Ours => {
                let mut sys = ours::Ours::open(dir, load_pages as usize, false, self.plan.io_spin)?;
                let syncs0 = sys.syncs();
                let mut m = driver::load(&mut sys, &ids, bulk, self.timer_ns, |_| {})?;
                m.syncs = sys.syncs() - syncs0;
                let st = sys.check(tuples)?;
                let pages = sys.file_pages()?;
                eprintln!(
                    "{}: {}; depth {}, {} leaves {:.1}% full, {} inner nodes, {:.1} bytes a tuple (data file / tuples)",
                    kind.name(),
                    sys.load_notes(),
                    st.depth,
                    st.leaves,
                    100.0 * st.leaf_fill(),
                    st.inner_nodes,
                    (pages * PAGE) as f64 / tuples as f64
                );
                sys.close()?;
                (m, pages, (st.inner_nodes + st.leaves) as u64)
            }
            KvKind::Redb => {
                let sys = redb_sys::RedbSys::open(dir, (load_pages * PAGE) as usize, false)?;
                let mut m = driver::load(&mut sys.loader(), &ids, bulk, self.timer_ns, |_| {})?;
                // One durable commit at the end (the others are Durability::None).
                m.syncs = 1;
                let live = sys.live_pages()?;
                drop(sys);
                (m, redb_sys::RedbSys::file_bytes(dir)?.div_ceil(PAGE), live)
            }
            KvKind::Lmdb => {
                let sys = lmdb::Lmdb::open(dir, self.lmdb_map_bytes(), true, None)?;
                let mut m = driver::load(&mut sys.loader()?, &ids, bulk, self.timer_ns, |_| {})?;
                // One force_sync at the end (the commits are NO_SYNC).
                m.syncs = 1;
                let live = sys.live_pages()?;
                drop(sys);
                (m, lmdb::Lmdb::file_bytes(dir)?.div_ceil(PAGE), live)
            }
        };
        eprintln!(
            "{}: loaded in {:.1} s, {live_pages} live pages ({:.0} MiB), file {file_pages} pages",
            kind.name(),
            t.elapsed().as_secs_f64(),
            (live_pages * PAGE) as f64 / (1 << 20) as f64
        );
        if kind == KvKind::Ours {
            self.ref_pages = Some(file_pages);
        }
        let ref_pages = self.ref_pages.unwrap_or(file_pages);
        let load_frames = if kind == KvKind::Lmdb { 0 } else { load_pages };
        m.memory_bytes = load_frames * PAGE;
        self.out.results.push(report::row(
            &report::RowSpec {
                workload: "btree-load",
                system: kind.name(),
                access: "load",
                dist: format!("{}-keys", self.plan.load_order.name()),
                threads: 1,
                pages: live_pages,
                file_pages,
                frames: load_frames,
                tuples,
                pool_fraction: load_frames as f64 / ref_pages.max(1) as f64,
                durability: "bulk".into(),
            },
            &m,
        ));
        self.next_insert.insert(kind, tuples * 2);
        self.sizes.insert(kind, (live_pages, file_pages));
        Ok(())
    }

    /// Opens every loaded system with `f x` bufpool-btree's data size of memory and measures every case, the
    /// systems taking turns within each round.
    fn fraction(&mut self, loaded: &[(KvKind, std::path::PathBuf)], f: f64) -> Result<()> {
        let tuples = self.plan.tuples;
        let ref_pages = self.ref_pages.unwrap_or(estimate_pages(tuples));
        let frames = ((f * ref_pages as f64).ceil() as u64).max(16);
        let oom = f < 1.0;
        eprintln!("pool fraction {f} ({frames} pages)");
        if !self.plan.io_spin.is_zero() && loaded.iter().any(|(kind, _)| *kind == KvKind::Ours) {
            self.note(format!(
                "bufpool-btree polls its io_uring for up to {} us before sleeping for a read \
                 (--bufpool-io-spin-us); the other systems sleep in their reads at once",
                self.plan.io_spin.as_micros()
            ));
        }
        let mut open = Vec::new();
        for (kind, dir) in loaded {
            let o = match kind {
                KvKind::Ours => Open::Ours(ours::Ours::open(dir, frames as usize, oom, self.plan.io_spin)?),
                KvKind::Redb => Open::Redb(redb_sys::RedbSys::open(dir, (frames * PAGE) as usize, oom)?),
                KvKind::Lmdb => Open::Lmdb(lmdb::Lmdb::open(
                    dir,
                    self.lmdb_map_bytes(),
                    false,
                    oom.then_some(frames * PAGE),
                )?),
            };
            let t = Instant::now();
            with_open!(&o, s => self.warm(s, frames)).with_context(|| format!("warming {}", kind.name()))?;
            eprintln!("  {} warmed in {:.1} s", kind.name(), t.elapsed().as_secs_f64());
            open.push(o);
        }
        if oom {
            self.note(
                "out of memory: redb's cache is set to the pool's bytes and its file is evicted from the OS page \
                 cache every 2 ms while a case runs (posix_fadvise DONTNEED); LMDB (no cache of its own) has its \
                 map dropped (madvise DONTNEED) and its file evicted likewise whenever more than the pool's bytes of \
                 it are resident; bufpool-btree's log (written through the OS page cache, beside its O_DIRECT data \
                 file) is evicted every 2 ms likewise; fadvise DONTNEED also starts write-back of dirty pages, which \
                 every system's out-of-memory write rows pay; the mem column is what each held"
                    .into(),
            );
        }
        for case in &self.plan.cases.clone() {
            self.case(case, &open, f, frames)?;
        }
        for o in open {
            let name = o.kind().name();
            o.close().with_context(|| format!("closing {name}"))?;
        }
        Ok(())
    }

    /// Measures `case` on every system of `open`, `repeat` rounds, interleaved.
    fn case(&mut self, case: &Case, open: &[Open], f: f64, frames: u64) -> Result<()> {
        let keys = self.chooser(case.dist);
        let durability = case.durability.unwrap_or(Durability::NondurableAutocommit);
        let mut rounds: Vec<Vec<Measured>> = open.iter().map(|_| Vec::new()).collect();
        for (round, slot) in crate::bench::driver::interleaved(open.len(), self.plan.repeat) {
            let o = &open[slot];
            let kind = o.kind();
            let streams: Vec<OpStream<'_>> = (0..case.threads)
                .map(|t| OpStream::new(&keys, case.ycsb, self.plan.seed, round as u64, case.threads, t))
                .collect();
            let next = AtomicU64::new(self.next_insert[&kind]);
            let m = with_open!(o, s => driver::measure(
                s,
                case.mode,
                streams,
                durability,
                self.plan.duration,
                self.timer_ns,
                &next
            ))
            .with_context(|| {
                format!(
                    "{} {} {} threads={}",
                    kind.name(),
                    case.workload,
                    case.access,
                    case.threads
                )
            })?;
            self.next_insert.insert(kind, next.into_inner());
            rounds[slot].push(m);
        }
        for (o, mut ms) in open.iter().zip(rounds) {
            ms.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
            let m = ms.swap_remove(ms.len() / 2);
            let (pages, file_pages) = self.sizes[&o.kind()];
            let row = report::row(
                &report::RowSpec {
                    workload: case.workload,
                    system: o.kind().name(),
                    access: case.access,
                    dist: case.dist.to_string(),
                    threads: case.threads,
                    pages,
                    file_pages,
                    frames: if o.kind() == KvKind::Lmdb { 0 } else { frames },
                    tuples: self.plan.tuples,
                    pool_fraction: f,
                    durability: case.durability.map_or_else(|| "read-only".into(), Durability::label),
                },
                &m,
            );
            eprintln!(
                "  {} {} {} {} threads={}: {:.0} ops/s",
                case.workload,
                row.system,
                case.access,
                row.durability.as_deref().unwrap_or(""),
                case.threads,
                m.ops_per_sec
            );
            self.out.results.push(row);
        }
        Ok(())
    }

    fn lmdb_map_bytes(&self) -> usize {
        // Room for the loaded tuples at worst-case fill plus YCSB E's inserts, a multiple of the page size as LMDB
        // requires; the map is only reserved address space.
        ((self.plan.tuples * 600).max(64 << 20).next_multiple_of(1 << 20)) as usize
    }

    fn chooser(&mut self, dist: Dist) -> KeyChooser {
        let tuples = self.plan.tuples;
        self.choosers
            .entry(dist.to_string())
            .or_insert_with(|| KeyChooser::new(dist, tuples))
            .clone()
    }

    /// Warms `sys`: one full scan (checking the count) and a few random batches of lookups.
    fn warm<S: KvStore>(&self, sys: &S, frames: u64) -> Result<()> {
        let tuples = self.plan.tuples;
        let mut w = sys.worker(Durability::NondurableAutocommit)?;
        let found = w.scan_all()?;
        if found < tuples {
            bail!("a full scan found {found} tuples, {tuples} were loaded");
        }
        let warm = KeyChooser::new(Dist::Uniform, tuples);
        let mut ids = OpStream::new(&warm, None, self.plan.seed ^ 0x3a9d_77e1, u64::MAX, 1, 0);
        let n = (frames as usize).clamp(1024, 20_000);
        let mut batch = Vec::with_capacity(64);
        for _ in 0..n.div_ceil(64) {
            batch.clear();
            batch.extend((0..64).map(|_| ids.next_id()));
            w.get_many(&batch)?;
        }
        Ok(())
    }
}
