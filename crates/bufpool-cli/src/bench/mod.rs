//! `bufpool bench`: workloads run against bufpool, its peers and the hardware limits, side by side, on the same
//! pages with the same op streams (drawn on the fly from seeded per-thread generators); every access verifies the
//! page's self-check, so each run is also a consistency check (a mismatch ends the run with a non-zero exit).
//!
//! Module map: `workload.rs` (shapes, distributions, op streams), `variant.rs` (bufpool's features off and on
//! within a shape: scan ring, background writer, checkpoints), `driver.rs` (the `System`/`Worker` traits, the
//! measurement loop and its phases), `selfcheck.rs` (the words each page carries), `systems/` (one file per
//! system), `report.rs` (JSON and the summary table). This file parses arguments, prepares the data files and
//! runs the plan: for each scale of each workload (`hit` runs at several frame counts), each system that can do
//! it is opened (over its own file, or for `hit` with its pages made in memory), warmed, and measured on each of
//! the scale's cases, all systems at once or, where they do not fit in memory together, one at a time
//! ([`Runner::run_group`]). BENCHMARKS.md at the repository root explains the numbers.

/// Dispatches `$body` on the concrete system inside the calling module's `Open` (bufpool-btree, redb or LMDB:
/// `btree/mod.rs` and `tpcc/mod.rs` each have one, with the same three variants). Defined before those modules so
/// both use this one definition; `Open` resolves where the macro is used.
macro_rules! with_open {
    ($open:expr, $s:ident => $body:expr) => {
        match $open {
            Open::Ours($s) => $body,
            Open::Redb($s) => $body,
            Open::Lmdb($s) => $body,
        }
    };
}

mod btree;
mod driver;
mod page_cache;
mod report;
mod selfcheck;
mod systems;
mod tick;
mod tpcc;
mod variant;
mod warm_restart;
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use driver::{measure_round, OpKind, System, Worker};
use report::{CaseResult, Unavailable};
use systems::{raw_file::RawFile, SystemKind};
use variant::{CheckpointMode, OnOff};
use workload::{Access, CaseSpec, Dist, Variant, Workload};

/// Which workloads to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadArg {
    /// Every page resident: optimistic, shared and exclusive access, at 32 MiB, 1 GiB and 4 GiB (see --hit-frames).
    Hit,
    /// Data 32x the pool (hits about 3%): random reads.
    Miss,
    /// 80% reads, 20% writes over data 4x the pool.
    Mixed,
    /// A hot set read while another thread scans.
    Scan,
    /// Random reads of resident pages while a second thread writes and a third checkpoints.
    Checkpoint,
    /// All of the above (the page workloads; the B+tree ones and warm-restart run only when asked).
    All,
    /// Time for a restarted pool to serve its working set from memory again, with `prewarm` and without.
    WarmRestart,
    /// B+tree: load throughput only (every B+tree workload also reports its load).
    BtreeLoad,
    /// B+tree: uniform point lookups by get and get_many, in and out of memory (see --pool-fraction).
    BtreeLookup,
    /// B+tree: YCSB A, 50% reads / 50% updates.
    YcsbA,
    /// B+tree: YCSB B, 95% reads / 5% updates.
    YcsbB,
    /// B+tree: YCSB C, 100% reads.
    YcsbC,
    /// B+tree: YCSB E, 95% short scans / 5% inserts.
    YcsbE,
    /// B+tree: YCSB F, 50% reads / 50% read-modify-writes.
    YcsbF,
    /// B+tree: btree-lookup and YCSB A, B, C, E, F.
    Btree,
    /// TPC-C on bufpool-btree, LMDB and redb (see --warehouses; BENCHMARKS.md, "TPC-C").
    Tpcc,
}

/// A comma-separated list of thread counts.
#[derive(Clone, Debug)]
pub struct ThreadList(Vec<usize>);

/// A comma-separated list of systems.
#[derive(Clone, Debug)]
pub struct SystemList(Vec<SystemKind>);

/// A comma-separated list of frame counts.
#[derive(Clone, Debug)]
pub struct FramesList(Vec<u32>);

fn parse_frames_list(s: &str) -> Result<FramesList, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let n: u32 = part
            .trim()
            .parse()
            .map_err(|_| format!("bad frame count `{part}` in `{s}`: expected e.g. 8192,262144"))?;
        if !(FRAMES_MIN..=FRAMES_MAX).contains(&n) {
            return Err(format!("frame count {n} out of range {FRAMES_MIN}..={FRAMES_MAX}"));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(FramesList(out))
}

/// Bounds of a pool's frame count (`--frames`, `--hit-frames`): 64 KiB to 16 GiB of 4 KiB pages.
const FRAMES_MIN: u32 = 16;
/// See [`FRAMES_MIN`].
const FRAMES_MAX: u32 = 1 << 22;

/// The hit scales of the default suite: 32 MiB (fits this CPU's caches largely), 1 GiB and 4 GiB (a hit pays
/// DRAM misses and TLB walks, as in a pool of the size users run).
const HIT_FRAMES_DEFAULT: [u32; 3] = [8192, 262_144, 1_048_576];
/// The hit scales of a smoke run: two, so both ways of opening systems run in CI (see `Runner::run_group`).
const HIT_FRAMES_SMOKE: [u32; 2] = [64, 256];

/// bufpool's storage backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BufpoolIo {
    /// The pool's default.
    Auto,
    /// `pread`/`pwrite`.
    Pread,
    /// io_uring.
    Uring,
}

impl BufpoolIo {
    /// The pool's setting for this choice.
    fn backend(self) -> bufpool::IoBackend {
        match self {
            BufpoolIo::Auto => bufpool::IoBackend::Auto,
            BufpoolIo::Pread => bufpool::IoBackend::Pread,
            BufpoolIo::Uring => bufpool::IoBackend::Uring,
        }
    }
}

fn parse_policy(s: &str) -> Result<bufpool::policy::PolicyConfig, String> {
    bufpool::policy::PolicyConfig::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = bufpool::PolicyKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown policy {s:?}; one of {} (optionally +tinylfu)",
            names.join(", ")
        )
    })
}

/// A comma-separated list of hit accesses.
#[derive(Clone, Debug)]
pub struct AccessList(Vec<Access>);

fn parse_access_list(s: &str) -> Result<AccessList, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        out.push(match part.trim() {
            "optimistic" => Access::Optimistic,
            "shared" => Access::Shared,
            "exclusive" => Access::Exclusive,
            "batch" => Access::Batch,
            other => {
                return Err(format!(
                    "unknown access `{other}`: expected optimistic, shared, exclusive or batch"
                ))
            }
        });
    }
    Ok(AccessList(out))
}

fn parse_thread_list(s: &str) -> Result<ThreadList, String> {
    workload::parse_threads(s).map(ThreadList)
}

fn parse_system_list(s: &str) -> Result<SystemList, String> {
    systems::parse_systems(s).map(SystemList)
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    let x: f64 = s
        .parse()
        .map_err(|_| format!("bad duration `{s}`: expected seconds, e.g. 0.5"))?;
    if !(x > 0.0 && x <= 3600.0) {
        return Err(format!("seconds must be in (0, 3600], got {s}"));
    }
    Ok(x)
}

/// Arguments of `bufpool bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Workload to run.
    #[arg(long, value_enum, default_value = "all")]
    workload: WorkloadArg,
    /// Thread counts, e.g. 1,2,8 (default: hit 1,2; miss 1,2,8; mixed 1,2; scan is always 1 reader + 1 scanner).
    #[arg(long, value_parser = parse_thread_list)]
    threads: Option<ThreadList>,
    /// Data pages (default: hit = frames, miss = 32x frames, mixed = 4x frames, scan range = 10x frames).
    #[arg(long)]
    pages: Option<u32>,
    /// Pool frames (4 KiB pages) of every system [default: 8192, smoke: 64].
    #[arg(long)]
    frames: Option<u32>,
    /// hit: the scales, as frame counts with pages = frames each, e.g. 8192,262144 (262144 frames = 1 GiB)
    /// [default: 8192,262144,1048576; with --frames or --pages: that one scale; smoke: 64,256].
    #[arg(long, value_parser = parse_frames_list)]
    hit_frames: Option<FramesList>,
    /// Memory in MiB that the systems of one workload scale may hold at once; a scale whose systems would need
    /// more opens them one at a time (each opened, measured on every case of the scale and dropped before the
    /// next, rotating who goes first each round) [default: half of the memory available at start].
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Measured seconds per case, fractional allowed [default: 0.4, smoke: 0.05].
    #[arg(long, value_parser = parse_seconds)]
    seconds: Option<f64>,
    /// Page distribution: uniform or zipf:THETA (default: hit runs uniform and zipf:0.99, others uniform).
    #[arg(long)]
    dist: Option<Dist>,
    /// Directory for the data files (a temporary directory is made inside it and removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Accesses to run, e.g. optimistic,shared: hit takes optimistic, shared, exclusive (default: all three),
    /// miss takes shared and batch (default: both); a workload given none of its own runs its default.
    #[arg(long, value_parser = parse_access_list)]
    access: Option<AccessList>,
    /// scan: pages of the hot set [default: frames / 2]. Near the frame count (e.g. frames - 128) the scan
    /// competes with the hot set for frames, which is where a scan ring matters.
    #[arg(long)]
    scan_hot: Option<u32>,
    /// scan: bufpool's scanner reads through a scan ring (on), with plain reads (off), or both.
    #[arg(long, value_enum, default_value = "both")]
    scan_ring: OnOff,
    /// mixed: bufpool with its background writer off, on, or both.
    #[arg(long, value_enum, default_value = "both")]
    writer: OnOff,
    /// checkpoint: what the third thread does, e.g. none,spread (default: none,spread,immediate).
    #[arg(long, value_enum, value_delimiter = ',')]
    checkpoint: Vec<CheckpointMode>,
    /// bufpool's storage backend: auto (its default: io_uring where the kernel allows it), pread or uring. TPC-C: its
    /// data files in the timed runs (a load runs on the default).
    #[arg(long, value_enum, default_value = "auto")]
    bufpool_io: BufpoolIo,
    /// B+tree workloads: microseconds a bufpool-btree thread waiting for its own io_uring reads or writes polls
    /// for them before sleeping (the pool's `Builder::io_spin`; 0 sleeps at once) [default: 0].
    #[arg(long, default_value_t = 0)]
    bufpool_io_spin_us: u64,
    /// bufpool's replacement policy, e.g. clock, s3-fifo, lru+tinylfu (default: the pool's default).
    #[arg(long, value_parser = parse_policy)]
    policy: Option<bufpool::policy::PolicyConfig>,
    /// Systems to run, e.g. bufpool,raw-memory (default: all).
    #[arg(long, value_parser = parse_system_list)]
    systems: Option<SystemList>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Tiny sizes and durations for CI: every workload in a few seconds.
    #[arg(long)]
    smoke: bool,
    /// Rounds per case (systems take turns each round); the round with the median throughput is reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    repeat: u32,
    /// Seed of the access sequences and of the pages' self-check tags.
    #[arg(long, default_value_t = 0xB0F1_5EED)]
    seed: u64,
    #[command(flatten)]
    btree: btree::BtreeArgs,
    #[command(flatten)]
    tpcc: tpcc::TpccArgs,
}

/// Data pages per pool frame in the miss workload.
const MISS_DATA_FACTOR: u32 = 32;

/// The resolved plan.
struct Plan {
    cases: Vec<CaseSpec>,
    systems: Vec<SystemKind>,
    /// Frames of every workload but `hit` (whose cases carry their own scale).
    frames: u32,
    /// Pages of the prepared data files: the most any case but a `hit` one needs (hit pages are made in memory).
    file_pages: u32,
    /// Bytes the systems of one scale may hold at once (`--memory-mib`).
    memory_bytes: u64,
    duration: Duration,
    repeat: usize,
    seed: u64,
    bufpool_io: bufpool::IoBackend,
    policy: bufpool::policy::PolicyConfig,
}

fn plan(args: &BenchArgs) -> Result<Plan> {
    let frames = args.frames.unwrap_or(if args.smoke { 64 } else { 8192 });
    if !(FRAMES_MIN..=FRAMES_MAX).contains(&frames) {
        bail!("--frames must be in {FRAMES_MIN}..={FRAMES_MAX}, got {frames}");
    }
    // The hit scales: `--hit-frames`, else one scale where --frames or --pages sized the run, else the suite's.
    let hit_scales: Vec<u32> = match (&args.hit_frames, args.smoke) {
        (Some(list), _) => list.0.clone(),
        (None, true) => HIT_FRAMES_SMOKE.to_vec(),
        (None, false) if args.frames.is_some() || args.pages.is_some() => vec![frames],
        (None, false) => HIT_FRAMES_DEFAULT.to_vec(),
    };
    if let Some(p) = args.pages {
        if !(2..=1 << 28).contains(&p) {
            bail!("--pages must be in 2..=268435456, got {p}");
        }
    }
    let seconds = args.seconds.unwrap_or(if args.smoke { 0.05 } else { 0.4 });
    let workloads: Vec<Workload> = match args.workload {
        WorkloadArg::All => Workload::ALL.to_vec(),
        WorkloadArg::Hit => vec![Workload::Hit],
        WorkloadArg::Miss => vec![Workload::Miss],
        WorkloadArg::Mixed => vec![Workload::Mixed],
        WorkloadArg::Scan => vec![Workload::Scan],
        WorkloadArg::Checkpoint => vec![Workload::Checkpoint],
        other => bail!("{other:?} is a B+tree workload, planned by bench::btree"),
    };
    let threads = |default: &[usize]| args.threads.as_ref().map_or(default.to_vec(), |t| t.0.clone());
    let dists = |default: &[Dist]| args.dist.map_or(default.to_vec(), |d| vec![d]);
    // The accesses of `--access` that `valid` holds, or `default` if none.
    let accesses = |valid: &[Access]| -> Vec<Access> {
        let given: Vec<Access> = args.access.as_ref().map_or_else(Vec::new, |a| {
            a.0.iter().copied().filter(|x| valid.contains(x)).collect()
        });
        if given.is_empty() {
            valid.to_vec()
        } else {
            given
        }
    };
    let mut cases = Vec::new();
    for w in workloads {
        let variants: Vec<Variant> = match w {
            Workload::Scan => args
                .scan_ring
                .settings()
                .iter()
                .map(|&on| Variant::ScanRing(on))
                .collect(),
            Workload::Mixed => args.writer.settings().iter().map(|&on| Variant::Writer(on)).collect(),
            Workload::Checkpoint if args.checkpoint.is_empty() => {
                [CheckpointMode::None, CheckpointMode::Spread, CheckpointMode::Immediate]
                    .map(Variant::Checkpoint)
                    .to_vec()
            }
            Workload::Checkpoint => {
                let mut m = args.checkpoint.clone();
                m.sort_unstable();
                m.dedup();
                m.into_iter().map(Variant::Checkpoint).collect()
            }
            _ => vec![Variant::Plain],
        };
        // Each workload runs at one scale (`frames`), but `hit` at each of `hit_scales`.
        let scales: Vec<u32> = if w == Workload::Hit {
            hit_scales.clone()
        } else {
            vec![frames]
        };
        for frames in scales {
            let (pages, accesses, dists, threads, hot) = match w {
                Workload::Hit => {
                    let pages = if args.hit_frames.is_none() {
                        args.pages.unwrap_or(frames)
                    } else {
                        frames
                    };
                    let acc = accesses(&[Access::Optimistic, Access::Shared, Access::Exclusive]);
                    (
                        pages,
                        acc,
                        dists(&[Dist::Uniform, Dist::Zipf(0.99)]),
                        threads(&[1, 2]),
                        pages,
                    )
                }
                Workload::Miss => {
                    // Large enough that hits are rare (about 1 in 32), so a miss row measures device reads.
                    let pages = args.pages.unwrap_or(frames.saturating_mul(MISS_DATA_FACTOR));
                    (
                        pages,
                        accesses(&[Access::Shared, Access::Batch]),
                        dists(&[Dist::Uniform]),
                        threads(&[1, 2, 8]),
                        pages,
                    )
                }
                Workload::Mixed => {
                    let pages = args.pages.unwrap_or(frames.saturating_mul(4));
                    (
                        pages,
                        vec![Access::Mixed],
                        dists(&[Dist::Uniform]),
                        threads(&[1, 2]),
                        pages,
                    )
                }
                Workload::Scan => {
                    let hot = args.scan_hot.unwrap_or(frames / 2);
                    if hot == 0 || hot > 1 << 27 {
                        bail!("--scan-hot must be in 1..=134217728, got {hot}");
                    }
                    let pages = hot.saturating_add(args.pages.unwrap_or(frames.saturating_mul(10)));
                    (pages, vec![Access::Scan], vec![Dist::Uniform], vec![2], hot)
                }
                Workload::Checkpoint => {
                    let pages = args.pages.unwrap_or(frames).min(frames);
                    // Reader, writer, checkpointer.
                    (pages, vec![Access::Shared], dists(&[Dist::Uniform]), vec![3], pages)
                }
            };
            for &access in &accesses {
                for &dist in &dists {
                    for &t in &threads {
                        for &variant in &variants {
                            let case = CaseSpec {
                                workload: w,
                                access,
                                dist,
                                threads: t,
                                pages,
                                frames,
                                hot_pages: hot,
                                variant,
                            };
                            workload::check_case(&case)?;
                            cases.push(case);
                        }
                    }
                }
            }
        }
    }
    let file_pages = cases
        .iter()
        .filter(|c| c.workload != Workload::Hit)
        .map(|c| c.pages)
        .max()
        .unwrap_or(0);
    if let Some(c) = cases.iter().find(|c| c.workload == Workload::Hit && c.pages > c.frames) {
        bail!(
            "hit: {} pages do not fit {} frames (every page of a hit case is resident)",
            c.pages,
            c.frames
        );
    }
    let memory_bytes = match args.memory_mib {
        Some(mib) => mib
            .checked_mul(1 << 20)
            .with_context(|| format!("--memory-mib {mib} is more bytes than 64 bits count"))?,
        None => available_memory_bytes()? / 2,
    };
    if file_pages >= workload::OP_WRITE {
        bail!("too many pages: {file_pages}");
    }
    Ok(Plan {
        cases,
        systems: args.systems.as_ref().map_or(SystemKind::ALL.to_vec(), |s| s.0.clone()),
        frames,
        file_pages,
        duration: Duration::from_secs_f64(seconds),
        repeat: args.repeat as usize,
        bufpool_io: args.bufpool_io.backend(),
        policy: args.policy.unwrap_or_default(),
        seed: args.seed,
        memory_bytes,
    })
}

/// `MemAvailable` of `/proc/meminfo`: what the kernel can give without swapping.
fn available_memory_bytes() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb << 10)
        .context("no MemAvailable in /proc/meminfo; give --memory-mib")
}

/// The context of an error writing a data file before a run: which file (a full `--dir` said only "No space left
/// on device").
fn preparing(path: &Path) -> String {
    format!("preparing {}", path.display())
}

/// Bytes one system is taken to hold for a scale of `frames` frames: twice the frames' bytes, which covers a
/// page buffer per frame allocated one by one with 4 KiB alignment (page-db, naive-lru, quick-cache: the
/// allocator pads each) and the pools' tables.
fn system_bytes(frames: u32) -> u64 {
    u64::from(frames) * 4096 * 2
}

/// Whether `systems` systems of a scale of `frames` frames are opened one at a time under a budget of `memory`
/// bytes (else all at once, and measured side by side case by case).
fn one_at_a_time(systems: usize, frames: u32, memory: u64) -> bool {
    systems as u64 * system_bytes(frames) > memory
}

/// Runs `bufpool bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.workload == WorkloadArg::Tpcc {
        return tpcc::run(&args);
    }
    if args.workload == WorkloadArg::WarmRestart {
        return warm_restart::run(&args);
    }
    if let Some(sel) = btree::selection(args.workload) {
        let out = btree::run(&args, &sel)?;
        for n in &out.notes {
            outln!("note: {n}");
        }
        if let Some(path) = &args.json {
            report::write_json(path, &out.results, &out.unavailable, &out.notes)?;
            outln!("wrote {}", path.display());
        }
        return Ok(());
    }
    let plan = plan(&args)?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("bufpool-bench-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a directory in {}", base.display()))?;
    let mut runner = Runner::new(&plan, dir.path());
    runner.note(format!(
        "latency: hit, miss and scan measure ops/s, ns/op (= threads / ops_per_sec) and cpu/op with no op timed, then \
         time every op for a quarter of the case's duration on streams of their own for the percentiles (the clock is \
         charged to no system); mixed times every op and checkpoint 1 in {} inline; each sample is an Instant::now() \
         pair, its calibrated cost ({} ns) subtracted",
        driver::SAMPLE_EVERY,
        runner.timer_ns
    ));
    runner.prepare()?;
    runner.run_all()?;
    outln!("{}", report::summary(&runner.results, runner.timer_ns));
    outln!("{}", report::SYSTEMS_LEGEND);
    let targets = report::targets(&runner.results, runner.timer_ns);
    if args.smoke {
        outln!("targets: not judged in a smoke run (a 64-frame pool, cases of 0.05 s); run without --smoke");
    } else if !targets.is_empty() {
        outln!("targets (from this run):\n{targets}");
    }
    for u in &runner.unavailable {
        outln!("unavailable: {} ({})", u.system, u.reason);
    }
    for n in &runner.notes {
        outln!("note: {n}");
    }
    if let Some(path) = &args.json {
        report::write_json(path, &runner.results, &runner.unavailable, &runner.notes)?;
        outln!("wrote {}", path.display());
    }
    Ok(())
}

struct Runner<'p> {
    plan: &'p Plan,
    dir: &'p Path,
    results: Vec<CaseResult>,
    unavailable: Vec<Unavailable>,
    notes: Vec<String>,
    timer_ns: u64,
    pb: ProgressBar,
}

impl<'p> Runner<'p> {
    fn new(plan: &'p Plan, dir: &'p Path) -> Runner<'p> {
        let total: usize = plan
            .cases
            .iter()
            .map(|c| plan.systems.iter().filter(|s| s.runs(c)).count())
            .sum();
        let pb = ProgressBar::new((total * plan.repeat) as u64);
        pb.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        Runner {
            plan,
            dir,
            results: Vec::new(),
            unavailable: Vec::new(),
            notes: Vec::new(),
            timer_ns: driver::calibrate_timer(),
            pb,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn uses(&self, pred: impl Fn(SystemKind) -> bool) -> bool {
        self.plan.systems.iter().any(|&s| pred(s))
            && self
                .plan
                .cases
                .iter()
                .any(|c| self.plan.systems.iter().any(|&s| pred(s) && s.runs(c)))
    }

    /// Writes each format's data file once, at the largest size any case but a hit one needs (none for hit alone).
    fn prepare(&mut self) -> Result<()> {
        let (pages, seed) = (self.plan.file_pages, self.plan.seed);
        if pages == 0 {
            // Only hit cases, whose systems make their pages in memory.
            return Ok(());
        }
        let mib = pages as f64 * 4096.0 / (1 << 20) as f64;
        self.say(format!(
            "preparing data files in {}: {pages} pages ({mib:.0} MiB) per format",
            self.dir.display()
        ));
        let t = Instant::now();
        let raw_users = [
            SystemKind::RawMemory,
            SystemKind::RawPread,
            SystemKind::RawUring,
            SystemKind::NaiveLru,
            SystemKind::QuickCache,
        ];
        if self.uses(|s| raw_users.contains(&s)) {
            let path = self.path("raw.pages");
            systems::raw_file::prepare(&path, pages, seed).with_context(|| preparing(&path))?;
        }
        if self.uses(|s| s == SystemKind::Bufpool) {
            let frames = self.plan.frames as usize;
            let path = self.path("bufpool.pages");
            systems::bufpool_sys::prepare(&path, pages, frames, seed).with_context(|| preparing(&path))?;
            if self.plan.cases.iter().any(|c| c.variant.background_writer()) {
                // The pool with the background writer gets its own copy: two pools never write one file.
                std::fs::copy(self.path("bufpool.pages"), self.path(WRITER_FILE))
                    .context("copying bufpool's data file for the background-writer pool")?;
            }
        }
        if self.uses(|s| s == SystemKind::PageDb) {
            let path = self.path("page-db.pages");
            systems::page_db::prepare(&path, pages, seed).with_context(|| preparing(&path))?;
        }
        self.say(format!("prepared in {:.1} s", t.elapsed().as_secs_f64()));
        Ok(())
    }

    /// Runs each scale of each workload (a group of cases with one frame count): opens (and warms) the systems
    /// that can do it and measures each case on each, `repeat` rounds, in one of two orders (see
    /// [`Runner::run_group`]).
    fn run_all(&mut self) -> Result<()> {
        let mut groups: Vec<Vec<CaseSpec>> = Vec::new();
        for c in &self.plan.cases {
            match groups.last_mut() {
                Some(g) if g[0].workload == c.workload && g[0].frames == c.frames => g.push(c.clone()),
                _ => groups.push(vec![c.clone()]),
            }
        }
        for cases in &groups {
            self.run_group(cases)?;
        }
        self.pb.finish_and_clear();
        Ok(())
    }

    /// The systems to open for `cases` (one scale of one workload): `(system, with background writer, cases it
    /// runs)`. bufpool is opened once per background-writer setting its cases ask for; the others once.
    fn openings(&self, cases: &[CaseSpec]) -> Vec<(SystemKind, bool, usize)> {
        let mut out = Vec::new();
        for &kind in &self.plan.systems {
            for writer in [false, true] {
                let n = cases.iter().filter(|c| runs(kind, writer, c)).count();
                if n > 0 {
                    out.push((kind, writer, n));
                }
            }
        }
        out
    }

    /// Runs one scale of one workload. Where every system of the scale fits in memory at once (the
    /// `--memory-mib` budget), all are opened and warmed first and, within each case, take turns round by round:
    /// each case is measured side by side in time. Where they do not (hit at 4 GiB: five systems of 4 to 8 GiB
    /// each on a 24 GiB machine shared with other work), each round opens one system at a time, warms it,
    /// measures it on every case of the scale and drops it before the next, the first to run rotating from
    /// round to round: a system's cases are then seconds apart from another's (the time to open and warm one),
    /// not side by side, and `--repeat` rounds alternate the systems to even out the machine's drift. Opening a
    /// system for every case instead would cost its warm-up (seconds at 4 GiB) per case and system.
    fn run_group(&mut self, cases: &[CaseSpec]) -> Result<()> {
        let first = &cases[0];
        let openings = self.openings(cases);
        let separate = one_at_a_time(openings.len(), first.frames, self.plan.memory_bytes);
        let scale = format!(
            "{} frames={} pages={}",
            first.workload.name(),
            first.frames,
            first.pages
        );
        if separate {
            self.note(format!(
                "{scale}: systems opened one at a time, each measured on every case of the scale and dropped \
                 before the next (taken as {:.0} MiB each; --memory-mib budget {} MiB for all at once)",
                system_bytes(first.frames) as f64 / f64::from(1 << 20),
                self.plan.memory_bytes >> 20
            ));
        }
        let ops: Vec<workload::CaseOps> = cases
            .iter()
            .map(|c| workload::CaseOps::new(c, self.plan.seed))
            .collect();
        // rounds[case][opening]: the measured rounds; direct[opening]: what its file did (once opened).
        let mut rounds: Vec<Vec<Vec<driver::Measured>>> = cases
            .iter()
            .map(|_| openings.iter().map(|_| Vec::new()).collect())
            .collect();
        let mut direct: Vec<Option<Option<bool>>> = vec![None; openings.len()];
        if separate {
            for (round, slot) in driver::interleaved(openings.len(), self.plan.repeat) {
                let (kind, writer, n) = openings[slot];
                let Some(mut o) = self.open_reported(kind, first, writer, n)? else {
                    continue;
                };
                direct[slot] = Some(o.direct);
                for (ci, case) in cases.iter().enumerate() {
                    if o.runs(case) {
                        let m = self.measure_one(case, &ops[ci], &mut o, round as u64)?;
                        rounds[ci][slot].push(m);
                    }
                }
                // Dropped here, before the next system is opened.
            }
        } else {
            let mut opened: Vec<(usize, Opened)> = Vec::new();
            for (slot, &(kind, writer, n)) in openings.iter().enumerate() {
                if let Some(o) = self.open_reported(kind, first, writer, n * self.plan.repeat)? {
                    direct[slot] = Some(o.direct);
                    opened.push((slot, o));
                }
            }
            for (ci, case) in cases.iter().enumerate() {
                let mine: Vec<usize> = (0..opened.len()).filter(|&i| opened[i].1.runs(case)).collect();
                for (round, k) in driver::interleaved(mine.len(), self.plan.repeat) {
                    let (slot, o) = &mut opened[mine[k]];
                    let m = self.measure_one(case, &ops[ci], o, round as u64)?;
                    rounds[ci][*slot].push(m);
                }
            }
        }
        for (ci, case) in cases.iter().enumerate() {
            for (slot, &(kind, _, _)) in openings.iter().enumerate() {
                let ms = std::mem::take(&mut rounds[ci][slot]);
                if let (Some(direct), false) = (direct[slot], ms.is_empty()) {
                    self.push_result(case, kind, direct, ms);
                }
            }
        }
        Ok(())
    }

    /// Opens `kind` for `first`'s scale (see [`Runner::open`]); an unavailable system advances the progress
    /// bar by `skipped` measurements.
    fn open_reported(
        &mut self,
        kind: SystemKind,
        first: &CaseSpec,
        writer: bool,
        skipped: usize,
    ) -> Result<Option<Opened>> {
        self.pb.set_message(format!(
            "{} frames={}: opening and warming {}",
            first.workload.name(),
            first.frames,
            kind.name()
        ));
        let o = self.open(kind, first, writer).with_context(|| {
            format!(
                "opening {} for the {} workload (frames={})",
                kind.name(),
                first.workload.name(),
                first.frames
            )
        })?;
        if o.is_none() {
            self.pb.inc(skipped as u64);
        }
        Ok(o)
    }

    /// Measures round `round` of `case` on `o`; a hit case in which the system read from its device fails.
    fn measure_one(
        &mut self,
        case: &CaseSpec,
        ops: &workload::CaseOps,
        o: &mut Opened,
        round: u64,
    ) -> Result<driver::Measured> {
        let read_kind = match case.access {
            Access::Optimistic => OpKind::Optimistic,
            Access::Exclusive => OpKind::Write,
            _ => OpKind::Shared,
        };
        self.pb.set_message(format!(
            "{} {} {} {} threads={} frames={}",
            case.workload.name(),
            o.kind.name(),
            case.access.name(),
            case.dist,
            case.threads,
            case.frames
        ));
        let m = (o.run)(case, ops, round, read_kind).with_context(|| {
            format!(
                "{} on {} {} {} threads={} frames={}",
                o.kind.name(),
                case.workload.name(),
                case.access.name(),
                case.dist,
                case.threads,
                case.frames
            )
        })?;
        if case.workload == Workload::Hit && m.io[0] + m.latency_phase_reads > 0 {
            bail!(
                "{} missed {} times in the hit case {} {} threads={} frames={}: every page must stay resident \
                 there (its row would measure misses)",
                o.kind.name(),
                m.io[0] + m.latency_phase_reads,
                case.access.name(),
                case.dist,
                case.threads,
                case.frames
            );
        }
        self.pb.inc(1);
        Ok(m)
    }

    /// The row of `case` on `kind` from its measured rounds: the median round by throughput stands for the case
    /// (all of the row's numbers come from that round).
    fn push_result(&mut self, case: &CaseSpec, kind: SystemKind, direct: Option<bool>, mut ms: Vec<driver::Measured>) {
        ms.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
        let m = ms.swap_remove(ms.len() / 2);
        let q = |p: f64| m.hist.value_at_quantile(p) as f64;
        let all = m.all_ops.max(1) as f64;
        let measured_threads = case.measured_threads();
        self.results.push(CaseResult {
            workload: case.workload.name(),
            system: kind.name(),
            access: case.access.name(),
            dist: case.dist.to_string(),
            threads: case.threads,
            pages: case.pages,
            frames: case.frames,
            ops_per_sec: m.ops_per_sec,
            ns_per_op_p50: q(0.5),
            ns_per_op_p99: q(0.99),
            ns_per_op_p999: q(0.999),
            ns_per_op_mean: measured_threads as f64 * 1e9 / m.ops_per_sec.max(1e-9),
            cpu_ns_per_op: m.cpu_ns_per_op,
            hit_ratio: (1.0 - m.io[1] as f64 / m.measured_ops.max(1) as f64).clamp(0.0, 1.0),
            reads_per_op: m.io[0] as f64 / all,
            writes_per_op: m.io[2] as f64 / all,
            scan_ops_per_sec: m.scan_ops_per_sec,
            direct_io: direct,
            seconds: m.seconds,
            features: variant::Features::of(case.variant, kind == SystemKind::Bufpool, &m.thread_ops, m.seconds),
            tuples: None,
            pool_fraction: None,
            durability: None,
            syncs_per_op: None,
            memory_bytes: None,
            file_pages: None,
            tree_bytes_per_tuple: None,
        });
    }

    fn unavailable(&mut self, kind: SystemKind, reason: String) {
        if !self.unavailable.iter().any(|u| u.system == kind.name()) {
            self.say(format!("{} unavailable: {reason}", kind.name()));
            self.unavailable.push(Unavailable {
                system: kind.name(),
                reason,
            });
        }
    }

    /// A progress line: above the bar on a terminal, on stderr otherwise (the bar is hidden there).
    fn say(&self, line: String) {
        if self.pb.is_hidden() {
            eprintln!("{line}");
        } else {
            self.pb.println(line);
        }
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The raw file for `kind`: the prepared one, or for a `hit` system an empty one (see [`Runner::open`]).
    fn raw(&mut self, kind: SystemKind, hit: bool) -> Result<RawFile> {
        let path = if hit {
            self.empty_file("hit-raw.pages")?
        } else {
            self.path("raw.pages")
        };
        let f = RawFile::open(&path)?;
        if !f.direct {
            self.note(format!(
                "{}: the filesystem refused O_DIRECT; buffered reads through the OS page cache were used",
                kind.name()
            ));
        }
        Ok(f)
    }

    /// An empty file named `name` in the run's directory (truncated if it exists), for a `hit` system that makes
    /// its pages in memory: any read from it fails, so a miss in a hit case cannot go unnoticed.
    fn empty_file(&self, name: &str) -> Result<PathBuf> {
        let path = self.path(name);
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(path)
    }

    /// Opens `kind` for `first`'s workload and scale (`first.frames` frames) and warms it; `None` if it is
    /// unavailable here. `writer`: bufpool with its background writer, over its own copy of the data file.
    ///
    /// For `hit`, each system makes its `first.pages` resident pages in memory, its own way (bufpool and page-db
    /// through their `new_page`, naive-lru and quick-cache by inserting buffers, raw-memory by filling its
    /// array), over an empty file, instead of reading them from a prepared file: at 4 GiB, reading a page at a
    /// time from this VM's disk took minutes per system, and a hit case reads nothing from its device anyway.
    /// The warm-up then reads every page once, as for every workload.
    fn open(&mut self, kind: SystemKind, first: &CaseSpec, writer: bool) -> Result<Option<Opened>> {
        let (frames, seed) = (first.frames as usize, self.plan.seed);
        let (duration, timer_ns) = (self.plan.duration, self.timer_ns);
        let hit = first.workload == Workload::Hit;
        let mut o = match kind {
            SystemKind::Bufpool => {
                let path = if hit {
                    self.empty_file("hit-bufpool.pages")?
                } else {
                    self.path(if writer { WRITER_FILE } else { "bufpool.pages" })
                };
                let sys = systems::bufpool_sys::Bufpool::open(
                    &path,
                    frames,
                    seed,
                    self.plan.bufpool_io,
                    self.plan.policy,
                    writer.then(|| bufpool::WriterConfig::for_frames(frames)),
                    duration,
                )?;
                if hit {
                    sys.populate(first.pages)?;
                }
                let direct = sys.direct();
                if !direct {
                    self.note("bufpool: the filesystem refused O_DIRECT; buffered I/O was used".into());
                }
                self.note(format!("bufpool: storage backend {}", sys.backend()));
                let reported = std::cell::Cell::new(0);
                let check = move |sys: &systems::bufpool_sys::Bufpool| {
                    let st = sys.stats();
                    if st.corrupt_pages > 0 {
                        bail!("bufpool reported {} corrupt pages", st.corrupt_pages);
                    }
                    if std::env::var_os("BUFPOOL_BENCH_STATS").is_some() {
                        // Diagnostics: the pool's cumulative counters after each case.
                        eprintln!(
                            "stats: misses {} evictions {} dirty_evictions (foreground) {} writes {} dirty now {} \
                             exhausted {}",
                            st.misses, st.evictions, st.dirty_evictions, st.writes, st.dirty, st.exhausted
                        );
                    }
                    let retries = sys.exhausted_retries();
                    if retries > reported.replace(retries) {
                        eprintln!(
                            "note: bufpool: read_many refused {retries} pages so far with PoolExhausted (concurrent \
                             batches held every frame); the benchmark read them again"
                        );
                    }
                    Ok(())
                };
                opened(sys, kind, Some(direct), first, seed, duration, timer_ns, check)?
            }
            SystemKind::RawMemory => {
                let sys = if hit {
                    systems::raw_memory::RawMemory::generate(first.pages, seed)
                } else {
                    systems::raw_memory::RawMemory::load(&RawFile::open(&self.path("raw.pages"))?, first.pages, seed)?
                };
                opened(sys, kind, None, first, seed, duration, timer_ns, no_check)?
            }
            SystemKind::RawPread => {
                let sys = systems::raw_pread::RawPread::new(self.raw(kind, false)?, seed);
                let direct = sys.direct();
                opened(sys, kind, Some(direct), first, seed, duration, timer_ns, no_check)?
            }
            SystemKind::RawUring => match systems::raw_uring::RawUring::new(self.raw(kind, false)?, seed) {
                Ok(sys) => {
                    let direct = sys.direct();
                    opened(sys, kind, Some(direct), first, seed, duration, timer_ns, no_check)?
                }
                Err(e) => {
                    self.unavailable(kind, format!("{e:#}"));
                    return Ok(None);
                }
            },
            SystemKind::PageDb => {
                let path = if hit {
                    self.empty_file("hit-page-db.pages")?
                } else {
                    self.path("page-db.pages")
                };
                let sys = systems::page_db::PageDb::open(&path, frames, seed)?;
                if hit {
                    sys.populate(first.pages)?;
                }
                let direct = sys.direct();
                if !direct {
                    self.note("page-db: the filesystem refused Direct I/O; buffered I/O was used".into());
                }
                opened(sys, kind, Some(direct), first, seed, duration, timer_ns, no_check)?
            }
            SystemKind::NaiveLru => {
                let f = self.raw(kind, hit)?;
                let direct = f.direct;
                let sys = systems::naive_lru::NaiveLru::new(f, frames, seed);
                if hit {
                    sys.populate(first.pages)?;
                }
                opened(sys, kind, Some(direct), first, seed, duration, timer_ns, no_check)?
            }
            SystemKind::QuickCache => {
                let f = self.raw(kind, hit)?;
                let direct = f.direct;
                let sys = if hit {
                    systems::quick_cache::QuickCache::resident(f, first.pages, seed)?
                } else {
                    systems::quick_cache::QuickCache::new(f, frames, seed)
                };
                opened(sys, kind, Some(direct), first, seed, duration, timer_ns, no_check)?
            }
        };
        o.writer = writer;
        Ok(Some(o))
    }
}

/// Runs one case on an opened system: `(case, its op streams, round, how reads are made)`.
type CaseRun = Box<dyn FnMut(&CaseSpec, &workload::CaseOps, u64, OpKind) -> Result<driver::Measured>>;

/// Whether `kind` (bufpool: built with the background writer if `writer`) runs `case`.
fn runs(kind: SystemKind, writer: bool, case: &CaseSpec) -> bool {
    kind.runs(case)
        && if kind == SystemKind::Bufpool {
            case.variant.background_writer() == writer
        } else {
            !writer
        }
}

impl Opened {
    /// Whether this opened system runs `case`.
    fn runs(&self, case: &CaseSpec) -> bool {
        runs(self.kind, self.writer, case)
    }
}

/// A system opened and warmed for one workload.
struct Opened {
    kind: SystemKind,
    direct: Option<bool>,
    /// bufpool only: built with its background writer (runs only the cases of that variant).
    writer: bool,
    run: CaseRun,
}

/// The copy of bufpool's data file that the pool with the background writer uses.
const WRITER_FILE: &str = "bufpool-writer.pages";

/// Warms `sys` for `first`'s workload and wraps it for measuring; `check` runs after every case.
#[allow(clippy::too_many_arguments)]
fn opened<S: System + 'static>(
    sys: S,
    kind: SystemKind,
    direct: Option<bool>,
    first: &CaseSpec,
    seed: u64,
    duration: Duration,
    timer_ns: u64,
    check: impl Fn(&S) -> Result<()> + 'static,
) -> Result<Opened> {
    warm_up(&sys, first, seed)?;
    Ok(Opened {
        kind,
        direct,
        writer: false,
        run: Box::new(move |case, ops, round, read_kind| {
            if case.workload == Workload::Scan {
                // Every scan round starts with the hot set resident, whatever the last round's scan evicted.
                warm_up(&sys, case, seed)?;
            }
            let m = measure_round(&sys, case, ops, round, read_kind, duration, timer_ns)?;
            check(&sys)?;
            Ok(m)
        }),
    })
}

fn no_check<S>(_: &S) -> Result<()> {
    Ok(())
}

/// Brings a freshly opened system to the workload's steady state with accesses outside the measured sequences:
/// hit and checkpoint read every page; miss runs `frames` ops and mixed `2 x frames` ops (reads and writes, so dirty pages are
/// being evicted when measuring starts) of a differently seeded sequence; scan reads the hot set twice.
fn warm_up<S: System>(sys: &S, case: &CaseSpec, seed: u64) -> Result<()> {
    let mut w = sys.worker()?;
    match case.workload {
        Workload::Hit | Workload::Checkpoint => (0..case.pages).try_for_each(|p| w.op(p, OpKind::Shared)),
        Workload::Scan => (0..2 * case.hot_pages).try_for_each(|i| w.op(i % case.hot_pages, OpKind::Shared)),
        Workload::Miss | Workload::Mixed => {
            let n = case.frames as usize * if case.workload == Workload::Mixed { 2 } else { 1 };
            let ops = workload::CaseOps::new(case, seed);
            let mut stream = ops.stream(driver::WARM_ROUND, 0);
            (0..n).try_for_each(|_| {
                let op = stream.next_op();
                let kind = if op & workload::OP_WRITE != 0 {
                    OpKind::Write
                } else {
                    OpKind::Shared
                };
                w.op(op & !workload::OP_WRITE, kind)
            })
        }
    }
}
