//! `bufpool bench`: workloads run against bufpool, its peers and the hardware limits, side by side, on the same
//! pages with the same pre-generated access sequences; every access verifies the page's self-check, so each run
//! is also a consistency check (a mismatch ends the run with a non-zero exit).
//!
//! Module map: `workload.rs` (shapes, distributions, sequences), `driver.rs` (the `System`/`Worker` traits and
//! the measurement loop), `selfcheck.rs` (the words each page carries), `systems/` (one file per system),
//! `report.rs` (JSON and the summary table). This file parses arguments, prepares the data files and runs the
//! plan: for each workload, each system that can do it is opened over its own file, warmed, and measured on
//! each of the workload's cases. BENCHMARKS.md at the repository root explains the numbers.

mod driver;
mod report;
mod selfcheck;
mod systems;
mod workload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use driver::{measure, OpKind, System, Worker};
use report::{CaseResult, Unavailable};
use systems::{raw_file::RawFile, SystemKind};
use workload::{Access, CaseSpec, Dist, Workload};

/// Which workloads to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadArg {
    /// Every page resident: optimistic, shared and exclusive access.
    Hit,
    /// Data 10x the pool: random reads.
    Miss,
    /// 80% reads, 20% writes over data 4x the pool.
    Mixed,
    /// A hot set read while another thread scans.
    Scan,
    /// All of the above.
    All,
}

/// A comma-separated list of thread counts.
#[derive(Clone, Debug)]
pub struct ThreadList(Vec<usize>);

/// A comma-separated list of systems.
#[derive(Clone, Debug)]
pub struct SystemList(Vec<SystemKind>);

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
    /// Data pages (default: hit = frames, miss = 10x frames, mixed = 4x frames, scan range = 10x frames).
    #[arg(long)]
    pages: Option<u32>,
    /// Pool frames (4 KiB pages) of every system [default: 8192, smoke: 64].
    #[arg(long)]
    frames: Option<u32>,
    /// Measured seconds per case, fractional allowed [default: 0.5, smoke: 0.05].
    #[arg(long, value_parser = parse_seconds)]
    seconds: Option<f64>,
    /// Page distribution: uniform or zipf:THETA (default: hit runs uniform and zipf:0.99, others uniform).
    #[arg(long)]
    dist: Option<Dist>,
    /// Directory for the data files (a temporary directory is made inside it and removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Systems to run, e.g. bufpool,raw-memory (default: all).
    #[arg(long, value_parser = parse_system_list)]
    systems: Option<SystemList>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Tiny sizes and durations for CI: every workload in a few seconds.
    #[arg(long)]
    smoke: bool,
    /// Seed of the access sequences and of the pages' self-check tags.
    #[arg(long, default_value_t = 0xB0F1_5EED)]
    seed: u64,
}

/// The resolved plan.
struct Plan {
    cases: Vec<CaseSpec>,
    systems: Vec<SystemKind>,
    frames: u32,
    file_pages: u32,
    duration: Duration,
    seed: u64,
}

fn plan(args: &BenchArgs) -> Result<Plan> {
    let frames = args.frames.unwrap_or(if args.smoke { 64 } else { 8192 });
    if !(16..=1 << 22).contains(&frames) {
        bail!("--frames must be in 16..=4194304, got {frames}");
    }
    if let Some(p) = args.pages {
        if !(2..=1 << 28).contains(&p) {
            bail!("--pages must be in 2..=268435456, got {p}");
        }
    }
    let seconds = args.seconds.unwrap_or(if args.smoke { 0.05 } else { 0.5 });
    let workloads: Vec<Workload> = match args.workload {
        WorkloadArg::All => Workload::ALL.to_vec(),
        WorkloadArg::Hit => vec![Workload::Hit],
        WorkloadArg::Miss => vec![Workload::Miss],
        WorkloadArg::Mixed => vec![Workload::Mixed],
        WorkloadArg::Scan => vec![Workload::Scan],
    };
    let threads = |default: &[usize]| {
        args.threads
            .as_ref()
            .map_or(default.to_vec(), |t| t.0.clone())
    };
    let dists = |default: &[Dist]| args.dist.map_or(default.to_vec(), |d| vec![d]);
    let mut cases = Vec::new();
    for w in workloads {
        let (pages, accesses, dists, threads, hot) = match w {
            Workload::Hit => {
                let pages = args.pages.unwrap_or(frames);
                let acc = vec![Access::Optimistic, Access::Shared, Access::Exclusive];
                (
                    pages,
                    acc,
                    dists(&[Dist::Uniform, Dist::Zipf(0.99)]),
                    threads(&[1, 2]),
                    pages,
                )
            }
            Workload::Miss => {
                let pages = args.pages.unwrap_or(frames.saturating_mul(10));
                (
                    pages,
                    vec![Access::Shared],
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
                let hot = frames / 2;
                let pages = hot.saturating_add(args.pages.unwrap_or(frames.saturating_mul(10)));
                (pages, vec![Access::Scan], vec![Dist::Uniform], vec![2], hot)
            }
        };
        for &access in &accesses {
            for &dist in &dists {
                for &t in &threads {
                    let case = CaseSpec {
                        workload: w,
                        access,
                        dist,
                        threads: t,
                        pages,
                        frames,
                        hot_pages: hot,
                    };
                    workload::check_case(&case)?;
                    cases.push(case);
                }
            }
        }
    }
    let file_pages = cases.iter().map(|c| c.pages).max().unwrap_or(0);
    if file_pages >= workload::OP_WRITE {
        bail!("too many pages: {file_pages}");
    }
    Ok(Plan {
        cases,
        systems: args
            .systems
            .as_ref()
            .map_or(SystemKind::ALL.to_vec(), |s| s.0.clone()),
        frames,
        file_pages,
        duration: Duration::from_secs_f64(seconds),
        seed: args.seed,
    })
}

/// Runs `bufpool bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    let plan = plan(&args)?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("bufpool-bench-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a directory in {}", base.display()))?;
    let mut runner = Runner::new(&plan, dir.path());
    runner.prepare()?;
    runner.run_all()?;
    println!("{}", report::summary(&runner.results));
    for u in &runner.unavailable {
        println!("unavailable: {} ({})", u.system, u.reason);
    }
    for n in &runner.notes {
        println!("note: {n}");
    }
    if let Some(path) = &args.json {
        report::write_json(path, &runner.results, &runner.unavailable, &runner.notes)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

struct Runner<'p> {
    plan: &'p Plan,
    dir: &'p Path,
    results: Vec<CaseResult>,
    unavailable: Vec<Unavailable>,
    notes: Vec<String>,
    seqs: HashMap<(Workload, String, usize), Vec<Vec<u32>>>,
    timer_ns: u64,
    pb: ProgressBar,
}

impl<'p> Runner<'p> {
    fn new(plan: &'p Plan, dir: &'p Path) -> Runner<'p> {
        let total: usize = plan
            .cases
            .iter()
            .map(|c| {
                plan.systems
                    .iter()
                    .filter(|s| s.supports(c.workload, c.access))
                    .count()
            })
            .sum();
        let pb = ProgressBar::new(total as u64);
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
            seqs: HashMap::new(),
            timer_ns: driver::calibrate_timer(),
            pb,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn uses(&self, pred: impl Fn(SystemKind) -> bool) -> bool {
        self.plan.systems.iter().any(|&s| pred(s))
            && self.plan.cases.iter().any(|c| {
                self.plan
                    .systems
                    .iter()
                    .any(|&s| pred(s) && s.supports(c.workload, c.access))
            })
    }

    /// Writes each format's data file once, at the largest size any case needs.
    fn prepare(&mut self) -> Result<()> {
        let (pages, seed) = (self.plan.file_pages, self.plan.seed);
        let mib = pages as f64 * 4096.0 / (1 << 20) as f64;
        self.pb.println(format!(
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
            systems::raw_file::prepare(&self.path("raw.pages"), pages, seed)?;
        }
        if self.uses(|s| s == SystemKind::Bufpool) {
            let frames = self.plan.frames as usize;
            systems::bufpool_sys::prepare(&self.path("bufpool.pages"), pages, frames, seed)?;
        }
        if self.uses(|s| s == SystemKind::PageDb) {
            systems::page_db::prepare(&self.path("page-db.pages"), pages, seed)?;
        }
        self.pb
            .println(format!("prepared in {:.1} s", t.elapsed().as_secs_f64()));
        Ok(())
    }

    fn run_all(&mut self) -> Result<()> {
        let workloads: Vec<Workload> = {
            let mut w: Vec<_> = self.plan.cases.iter().map(|c| c.workload).collect();
            w.dedup();
            w
        };
        for w in workloads {
            let cases: Vec<CaseSpec> = self
                .plan
                .cases
                .iter()
                .filter(|c| c.workload == w)
                .cloned()
                .collect();
            for &kind in &self.plan.systems.clone() {
                let mine: Vec<CaseSpec> = cases
                    .iter()
                    .filter(|c| kind.supports(c.workload, c.access))
                    .cloned()
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                self.run_system(kind, &mine)
                    .with_context(|| format!("{} on the {} workload", kind.name(), w.name()))?;
            }
        }
        self.pb.finish_and_clear();
        Ok(())
    }

    fn unavailable(&mut self, kind: SystemKind, reason: String, skipped: usize) {
        self.pb.inc(skipped as u64);
        if !self.unavailable.iter().any(|u| u.system == kind.name()) {
            self.pb
                .println(format!("{} unavailable: {reason}", kind.name()));
            self.unavailable.push(Unavailable {
                system: kind.name(),
                reason,
            });
        }
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn raw(&mut self, kind: SystemKind) -> Result<RawFile> {
        let f = RawFile::open(&self.path("raw.pages"))?;
        if !f.direct {
            self.note(format!(
                "{}: the filesystem refused O_DIRECT; buffered reads through the OS page cache were used",
                kind.name()
            ));
        }
        Ok(f)
    }

    fn run_system(&mut self, kind: SystemKind, cases: &[CaseSpec]) -> Result<()> {
        let (frames, seed) = (self.plan.frames as usize, self.plan.seed);
        match kind {
            SystemKind::Bufpool => {
                let sys =
                    systems::bufpool_sys::Bufpool::open(&self.path("bufpool.pages"), frames, seed)?;
                let direct = sys.direct();
                if !direct {
                    self.note(
                        "bufpool: the filesystem refused O_DIRECT; buffered I/O was used".into(),
                    );
                }
                self.run_cases(&sys, kind, cases, Some(direct))?;
                let st = sys.stats();
                if st.corrupt_pages > 0 {
                    bail!("bufpool reported {} corrupt pages", st.corrupt_pages);
                }
                Ok(())
            }
            SystemKind::RawMemory => {
                let f = RawFile::open(&self.path("raw.pages"))?;
                let sys = systems::raw_memory::RawMemory::load(&f, cases[0].pages, seed)?;
                self.run_cases(&sys, kind, cases, None)
            }
            SystemKind::RawPread => {
                let sys = systems::raw_pread::RawPread::new(self.raw(kind)?, seed);
                let direct = sys.direct();
                self.run_cases(&sys, kind, cases, Some(direct))
            }
            SystemKind::RawUring => {
                match systems::raw_uring::RawUring::new(self.raw(kind)?, seed) {
                    Ok(sys) => {
                        let direct = sys.direct();
                        self.run_cases(&sys, kind, cases, Some(direct))
                    }
                    Err(e) => {
                        self.unavailable(kind, format!("{e:#}"), cases.len());
                        Ok(())
                    }
                }
            }
            SystemKind::PageDb => {
                let sys =
                    systems::page_db::PageDb::open(&self.path("page-db.pages"), frames, seed)?;
                let direct = sys.direct();
                if !direct {
                    self.note(
                        "page-db: the filesystem refused Direct I/O; buffered I/O was used".into(),
                    );
                }
                self.run_cases(&sys, kind, cases, Some(direct))
            }
            SystemKind::NaiveLru => {
                let f = self.raw(kind)?;
                let direct = f.direct;
                let sys = systems::naive_lru::NaiveLru::new(f, frames, seed);
                self.run_cases(&sys, kind, cases, Some(direct))
            }
            SystemKind::QuickCache => {
                let f = self.raw(kind)?;
                let direct = f.direct;
                let sys = systems::quick_cache::QuickCache::new(f, frames, seed);
                self.run_cases(&sys, kind, cases, Some(direct))
            }
        }
    }

    /// Warms `sys` for the workload, then measures each case.
    fn run_cases<S: System>(
        &mut self,
        sys: &S,
        kind: SystemKind,
        cases: &[CaseSpec],
        direct: Option<bool>,
    ) -> Result<()> {
        let first = &cases[0];
        self.pb.set_message(format!(
            "{} {}: warming up",
            first.workload.name(),
            kind.name()
        ));
        warm_up(sys, first)?;
        for case in cases {
            self.pb.set_message(format!(
                "{} {} {} {} threads={}",
                case.workload.name(),
                kind.name(),
                case.access.name(),
                case.dist,
                case.threads
            ));
            let key = (case.workload, case.dist.to_string(), case.threads);
            let seed = self.plan.seed;
            let seqs = self.seqs.entry(key).or_insert_with(|| {
                (0..case.threads)
                    .map(|t| workload::sequence(case, seed, t))
                    .collect()
            });
            let read_kind = match case.access {
                Access::Optimistic => OpKind::Optimistic,
                Access::Exclusive => OpKind::Write,
                _ => OpKind::Shared,
            };
            let m = measure(
                sys,
                case,
                seqs,
                read_kind,
                self.plan.duration,
                self.timer_ns,
            )?;
            let q = |p: f64| m.hist.value_at_quantile(p) as f64;
            let all = m.all_ops.max(1) as f64;
            let measured_threads = if case.workload == Workload::Scan {
                1
            } else {
                case.threads
            };
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
                hit_ratio: (1.0 - m.io[1] as f64 / m.measured_ops.max(1) as f64).clamp(0.0, 1.0),
                reads_per_op: m.io[0] as f64 / all,
                writes_per_op: m.io[2] as f64 / all,
                scan_ops_per_sec: m.scan_ops_per_sec,
                direct_io: direct,
                seconds: self.plan.duration.as_secs_f64(),
            });
            self.pb.inc(1);
        }
        Ok(())
    }
}

/// Brings a freshly opened system to the workload's starting state with accesses outside the measured sequences:
/// hit reads every page; miss and mixed fill the pool with the first `frames` pages; scan reads the hot set twice.
fn warm_up<S: System>(sys: &S, case: &CaseSpec) -> Result<()> {
    let mut w = sys.worker()?;
    let (upto, rounds) = match case.workload {
        Workload::Hit => (case.pages, 1),
        Workload::Miss | Workload::Mixed => (case.frames.min(case.pages), 1),
        Workload::Scan => (case.hot_pages, 2),
    };
    for _ in 0..rounds {
        for p in 0..upto {
            w.op(p, OpKind::Shared)?;
        }
    }
    Ok(())
}
