//! `bufpool sim`: replays a page-access trace through replacement policies and Belady's optimum.
//!
//! The policies are the pool's own (`bufpool::PolicyKind`), driven through the `Policy` trait exactly as the pool
//! drives them ([`engine`]); nothing here reimplements a policy. `opt` is Belady's optimum, computed exactly.
//!
//! Flow: [`trace::load`] streams the file once into an interned [`trace::Trace`]; cache sizes are resolved
//! against its distinct page count; every `(policy, cache size)` pair is an independent job, run on a few worker
//! threads; results are gathered by job index, so the output never depends on thread timing. Then: a table on
//! stdout, and optionally a JSON file and an SVG plot of miss-ratio curves ([`plot`]).
//!
//! Example (the ARC paper's OLTP trace, page counts of its Table IV):
//! ```text
//! bufpool sim --trace ../shared/traces/arc/OLTP.lis.zst --cache 1000,2000,5000,10000,15000 --policy lru,arc
//! ```

pub mod engine;
pub mod plot;
pub mod trace;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context as _;
use bufpool::policy::{Candidate, PolicyConfig};
use bufpool::PolicyKind;

use self::engine::{Choice, Outcome, SimError};
use self::trace::{CsvColumn, Format, Trace};

/// Points of the cache-size sweep drawn by `--plot`, unless `--plot-points` says otherwise.
const PLOT_POINTS_DEFAULT: u32 = 8;

/// Name under which Belady's optimum is reported.
pub const OPT: &str = "opt";

/// Arguments of `bufpool sim`.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// The trace file: plain, or gzip/xz/zstd compressed (detected by magic bytes).
    #[arg(long)]
    pub trace: PathBuf,
    /// The trace format. `auto` decides by the file name after stripping a compression suffix: `.lis` is lis,
    /// `.trace`/`.trc` is lirs when its first bytes are text and u32be otherwise, `.oracleGeneral` is
    /// oracle-general, `.csv` is csv.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Cache sizes, comma-separated: a percent of the trace's distinct pages (`1%`, `0.5%`) or a page count
    /// (`1000`). A percent is rounded to the nearest page, at least one.
    #[arg(long, value_delimiter = ',', default_value = "1%,10%", value_parser = parse_cache_size)]
    pub cache: Vec<CacheSize>,
    /// `all` (every policy and opt), or comma-separated names among the pool's policies and `opt`. A policy
    /// name may end in `+tinylfu` to put TinyLFU admission in front of it (`lru+tinylfu`). S3-FIFO and W-TinyLFU
    /// take parameters: `s3-fifo:small=5:ghost=50` (small queue 5 % of the cache, ghost list half the main
    /// queue), `w-tinylfu:window=20` (fixed 20 % window), `w-tinylfu:window=20:climb` (hill-climbed from 20 %).
    #[arg(long, default_value = "all")]
    pub policy: String,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also draw miss-ratio curves to this SVG file. The curve is a sweep of `--plot-points` cache sizes,
    /// log-spaced between the smallest and largest requested size (a tenth to ten times it when only one size is
    /// requested, within 1..=distinct pages), plus the requested sizes.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Number of cache sizes in the `--plot` sweep.
    #[arg(long, default_value_t = PLOT_POINTS_DEFAULT, value_parser = clap::value_parser!(u32).range(2..=64))]
    pub plot_points: u32,
    /// CSV only: the id column, as a header name or a 1-based index. Default: the header's first column named
    /// one of obj_id, object_id, id, key, obj, page, page_id, block, lba, lbn.
    #[arg(long)]
    pub csv_column: Option<String>,
    /// Worker threads (default: the machine's available parallelism). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// A cache size as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CacheSize {
    /// A percent of the trace's distinct pages.
    Percent(f64),
    /// A number of pages.
    Pages(u64),
}

impl CacheSize {
    /// The size in pages for a trace with `distinct` distinct pages (at least one).
    pub fn pages(self, distinct: usize) -> u64 {
        match self {
            CacheSize::Percent(p) => ((p / 100.0 * distinct as f64).round() as u64).max(1),
            CacheSize::Pages(n) => n.max(1),
        }
    }

    /// How the user wrote it, for the table header.
    fn label(self) -> String {
        match self {
            CacheSize::Percent(p) => format!("{p}%"),
            CacheSize::Pages(n) => n.to_string(),
        }
    }
}

fn parse_cache_size(s: &str) -> Result<CacheSize, String> {
    let s = s.trim();
    if let Some(p) = s.strip_suffix('%') {
        let v: f64 = p.trim().parse().map_err(|_| format!("{s:?} is not a percent"))?;
        if !(v > 0.0 && v <= 100.0) {
            return Err(format!("{s:?}: a percent must be in (0, 100]"));
        }
        Ok(CacheSize::Percent(v))
    } else {
        let n: u64 = s
            .parse()
            .map_err(|_| format!("{s:?} is neither a page count nor a percent like 10%"))?;
        if n == 0 || n >= u64::from(u32::MAX) {
            return Err(format!("{s:?}: a cache holds 1 to {} pages", u32::MAX - 1));
        }
        Ok(CacheSize::Pages(n))
    }
}

/// A row of the report: one of the pool's policies, a built-in with other parameters, or Belady's optimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// A pool policy, possibly behind an admission filter.
    Policy(PolicyConfig),
    /// A built-in policy with non-default parameters.
    Variant(Variant),
    /// Belady's optimum.
    Opt,
}

impl Row {
    /// The name printed for the row.
    pub fn name(self) -> String {
        match self {
            Row::Policy(c) => c.name(),
            Row::Variant(v) => v.name(),
            Row::Opt => OPT.to_string(),
        }
    }
}

/// A built-in policy with parameters other than the pool's defaults, for parameter studies (a pool runs one
/// through `Builder::custom_policy`). Named `s3-fifo:small=S:ghost=G` (S3-FIFO whose small queue is `S` % of
/// the cache and whose ghost list holds `G` % of the main queue's capacity; either part may be left out,
/// defaults 10 and 100) and `w-tinylfu:window=W` (W-TinyLFU with a fixed window of `W` % of the cache), or
/// `w-tinylfu:window=W:climb` (the window starts at `W` % and is hill-climbed, as the pool's `w-tinylfu`, which
/// is `window=1:climb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// [`bufpool::policy::S3Fifo::with_params`].
    S3Fifo {
        /// The small queue's share of the cache, in percent.
        small_percent: u8,
        /// The ghost list's size, in percent of the main queue's capacity.
        ghost_percent: u16,
    },
    /// [`bufpool::policy::WTinyLfu::with_window`].
    WTinyLfu {
        /// The window's (initial) share of the cache, in percent.
        window_percent: u8,
        /// Whether the hill climber resizes the window.
        climb: bool,
    },
}

impl Variant {
    /// The name, as [`Variant::parse`] reads it (every part spelled out).
    pub fn name(self) -> String {
        match self {
            Variant::S3Fifo {
                small_percent,
                ghost_percent,
            } => format!("s3-fifo:small={small_percent}:ghost={ghost_percent}"),
            Variant::WTinyLfu { window_percent, climb } => {
                format!("w-tinylfu:window={window_percent}{}", if climb { ":climb" } else { "" })
            }
        }
    }

    /// Parses a parameterised name: `None` if `name` has no `:` (a plain policy name), else the variant or
    /// what is wrong with it.
    pub fn parse(name: &str) -> Option<Result<Variant, String>> {
        let (base, params) = name.split_once(':')?;
        Some(Self::parse_params(name, base, params))
    }

    fn parse_params(name: &str, base: &str, params: &str) -> Result<Variant, String> {
        let percent = |part: &str, v: &str, max: u32| -> Result<u32, String> {
            match v.parse::<u32>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(format!("{name:?}: {part} takes a whole percent, 0 to {max}")),
            }
        };
        let parsed = match base {
            "s3-fifo" => {
                let (mut small, mut ghost) = (10, 100);
                for part in params.split(':') {
                    match part.split_once('=') {
                        Some(("small", v)) => small = percent("small", v, 99)?,
                        Some(("ghost", v)) => ghost = percent("ghost", v, 1000)?,
                        _ => return Err(format!("{name:?}: s3-fifo takes small=S and ghost=G")),
                    }
                }
                Variant::S3Fifo {
                    small_percent: small as u8,
                    ghost_percent: ghost as u16,
                }
            }
            "w-tinylfu" => {
                let (mut window, mut climb) = (1, false);
                for part in params.split(':') {
                    match part.split_once('=') {
                        Some(("window", v)) => window = percent("window", v, 100)?,
                        None if part == "climb" => climb = true,
                        _ => return Err(format!("{name:?}: w-tinylfu takes window=W and climb")),
                    }
                }
                Variant::WTinyLfu {
                    window_percent: window as u8,
                    climb,
                }
            }
            _ => return Err(format!("{name:?}: only s3-fifo and w-tinylfu take parameters")),
        };
        Ok(parsed)
    }

    /// Builds the policy for `frames` frames.
    pub fn build(self, frames: usize) -> Box<dyn bufpool::Policy> {
        match self {
            Variant::S3Fifo {
                small_percent,
                ghost_percent,
            } => Box::new(bufpool::policy::S3Fifo::with_params(
                frames,
                usize::from(small_percent),
                usize::from(ghost_percent),
            )),
            Variant::WTinyLfu { window_percent, climb } => Box::new(bufpool::policy::WTinyLfu::with_window(
                frames,
                usize::from(window_percent),
                climb,
            )),
        }
    }
}

/// Parses `--policy`: `all` (every `PolicyKind` without admission filter, then opt), or comma-separated names
/// (`PolicyConfig` names such as `lru` or `lru+tinylfu`, [`Variant`] names such as `s3-fifo:small=5`, and
/// `opt`; duplicates dropped, order kept).
pub fn parse_policies(s: &str) -> anyhow::Result<Vec<Row>> {
    if s.trim() == "all" {
        let mut rows: Vec<Row> = PolicyKind::ALL.iter().map(|&k| Row::Policy(k.into())).collect();
        rows.push(Row::Opt);
        return Ok(rows);
    }
    let mut rows = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let row = if name == OPT {
            Row::Opt
        } else if let Some(v) = Variant::parse(name) {
            Row::Variant(v.map_err(|e| anyhow::anyhow!("{e}"))?)
        } else {
            match PolicyConfig::from_name(name) {
                Some(c) => Row::Policy(c),
                None => {
                    let known: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.name()).chain([OPT]).collect();
                    anyhow::bail!(
                        "unknown policy {name:?}; known: all, {} (a policy name may end in +tinylfu; \
                         parameters: s3-fifo:small=S:ghost=G, w-tinylfu:window=W[:climb])",
                        known.join(", ")
                    );
                }
            }
        };
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    anyhow::ensure!(!rows.is_empty(), "--policy names no policy");
    Ok(rows)
}

/// Runs every `(row, cache pages)` job on `threads` worker threads; results in job order. A cache of more pages
/// than the trace has distinct pages is simulated with as many as it has: it never evicts, and misses exactly as
/// that one does (R13-2 in RELIABILITY.md: its per-frame vectors were made for every page asked, up to 2^32 - 2,
/// and the run aborted on a failed allocation or took minutes for a trace of four pages).
pub fn run_jobs(trace: &Trace, jobs: &[(Row, u64)], threads: usize) -> Result<Vec<Outcome>, SimError> {
    let next = if jobs.iter().any(|(r, _)| *r == Row::Opt) {
        engine::next_uses(trace)
    } else {
        Vec::new()
    };
    let distinct = trace.distinct_pages().max(1) as u64;
    let run_one = |&(row, pages): &(Row, u64)| {
        let frames = pages.min(distinct) as usize;
        match row {
            Row::Policy(kind) => engine::simulate_policy(trace, kind, frames),
            Row::Variant(v) => engine::simulate_built(trace, &*v.build(frames), frames),
            Row::Opt => Ok(engine::simulate_opt(trace, &next, frames)),
        }
    };
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 {
        return jobs.iter().map(run_one).collect();
    }
    let next_job = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Outcome, SimError>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next_job.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = run_one(job);
                results.lock().expect("no worker panics while holding the lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("workers have finished")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// The `--json` document.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    trace: &'a str,
    requests: u64,
    distinct_pages: u64,
    default_policy: &'static str,
    results: Vec<JsonResult>,
}

#[derive(serde::Serialize)]
struct JsonResult {
    policy: String,
    cache_pages: u64,
    miss_ratio: f64,
    /// The adaptive policy only: which candidate it ran from which request on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    choices: Vec<JsonChoice>,
}

#[derive(serde::Serialize)]
struct JsonChoice {
    request: u64,
    policy: String,
}

/// The share of `requests` served under each candidate of `choices` (first-chosen first), and the number of
/// switches.
pub fn choice_shares(choices: &[Choice], requests: u64) -> (Vec<(Candidate, f64)>, usize) {
    let mut shares: Vec<(Candidate, f64)> = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        let end = choices.get(i + 1).map_or(requests, |n| n.request);
        let part = end.saturating_sub(c.request) as f64 / requests.max(1) as f64;
        match shares.iter_mut().find(|(k, _)| *k == c.candidate) {
            Some((_, s)) => *s += part,
            None => shares.push((c.candidate, part)),
        }
    }
    (shares, choices.len().saturating_sub(1))
}

/// Cache sizes of the `--plot` sweep: `points` log-spaced sizes between the smallest and largest of `asked`
/// (a tenth to ten times it if they are all equal), within `1..=distinct`, together with `asked` itself.
pub fn sweep_sizes(asked: &[u64], distinct: u64, points: u32) -> Vec<u64> {
    let distinct = distinct.max(1);
    let lo = asked.iter().copied().min().unwrap_or(1).max(1);
    let hi = asked.iter().copied().max().unwrap_or(1).max(1);
    let (lo, hi) = if lo == hi {
        ((lo / 10).max(1), (hi * 10).min(distinct).max(lo))
    } else {
        (lo, hi)
    };
    let mut sizes: BTreeSet<u64> = asked.iter().copied().collect();
    let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
    let points = points.max(2);
    for i in 0..points {
        let x = (l + (h - l) * f64::from(i) / f64::from(points - 1)).exp().round() as u64;
        sizes.insert(x.clamp(lo, hi));
    }
    sizes.into_iter().collect()
}

/// Runs `bufpool sim`.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let rows = parse_policies(&args.policy)?;
    let csv = match &args.csv_column {
        Some(c) => CsvColumn::parse(c).map_err(|e| anyhow::anyhow!("--csv-column: {e}"))?,
        None => CsvColumn::Auto,
    };
    let t0 = Instant::now();
    let loaded = trace::load(&args.trace, args.format, &csv)?;
    let load_s = t0.elapsed().as_secs_f64();
    let trace = &loaded.trace;
    // A trace without requests has no miss ratio to report (every policy would show 0.00 for a 1-page cache).
    if trace.requests.is_empty() {
        anyhow::bail!(
            "{}: the trace is empty (no requests; format {})",
            args.trace.display(),
            loaded.format.name()
        );
    }
    let distinct = trace.distinct_pages() as u64;
    let name = args
        .trace
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let asked: Vec<u64> = args.cache.iter().map(|c| c.pages(distinct as usize)).collect();
    let mut sizes: Vec<u64> = asked.clone();
    if args.plot.is_some() {
        sizes = sweep_sizes(&asked, distinct, args.plot_points);
    }
    sizes.sort_unstable();
    sizes.dedup();
    let jobs: Vec<(Row, u64)> = rows.iter().flat_map(|&r| sizes.iter().map(move |&p| (r, p))).collect();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let t1 = Instant::now();
    let outcomes = run_jobs(trace, &jobs, threads)?;
    let sim_s = t1.elapsed().as_secs_f64();
    let outcome = |row: Row, pages: u64| -> &Outcome {
        let i = jobs
            .iter()
            .position(|&(r, p)| r == row && p == pages)
            .expect("every (row, size) pair was a job");
        &outcomes[i]
    };
    let ratio = |row: Row, pages: u64| -> f64 { outcome(row, pages).miss_ratio() };
    let adaptive = Row::Policy(PolicyKind::Adaptive.into());
    let adaptive_asked = if rows.contains(&adaptive) {
        asked.as_slice()
    } else {
        &[]
    };

    out!("{}", render_table(&name, &loaded, &rows, &args.cache, &asked, &ratio));
    for &pages in adaptive_asked {
        let (shares, switches) = choice_shares(&outcome(adaptive, pages).choices, trace.requests.len() as u64);
        let shares: Vec<String> = shares
            .iter()
            .map(|(k, s)| format!("{} {:.1}%", k.name(), 100.0 * s))
            .collect();
        outln!(
            "adaptive at {pages} pages: {} of requests; {switches} switches",
            shares.join(", ")
        );
    }
    eprintln!(
        "bufpool sim: read {} in {load_s:.2} s; {} simulations on {} threads in {sim_s:.2} s",
        args.trace.display(),
        jobs.len(),
        threads.clamp(1, jobs.len().max(1)),
    );

    if let Some(path) = &args.json {
        let mut results = Vec::new();
        for &row in &rows {
            for &pages in &asked {
                let choices = outcome(row, pages)
                    .choices
                    .iter()
                    .map(|c| JsonChoice {
                        request: c.request,
                        policy: c.candidate.name(),
                    })
                    .collect();
                results.push(JsonResult {
                    policy: row.name(),
                    cache_pages: pages,
                    miss_ratio: ratio(row, pages),
                    choices,
                });
            }
        }
        let doc = JsonReport {
            trace: &name,
            requests: trace.requests.len() as u64,
            distinct_pages: distinct,
            default_policy: PolicyKind::default().name(),
            results,
        };
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        let curves: Vec<plot::Curve> = rows
            .iter()
            .map(|&row| plot::Curve {
                name: row.name().to_string(),
                points: sizes.iter().map(|&p| (p, ratio(row, p))).collect(),
            })
            .collect();
        let timelines: Vec<plot::Timeline> = adaptive_asked
            .iter()
            .map(|&pages| plot::Timeline {
                name: format!("{pages} pages"),
                requests: trace.requests.len() as u64,
                steps: outcome(adaptive, pages)
                    .choices
                    .iter()
                    .map(|c| (c.request, adaptive_candidate_index(c.candidate)))
                    .collect(),
                labels: bufpool::policy::Adaptive::candidates()
                    .iter()
                    .map(|k| k.name())
                    .collect(),
            })
            .collect();
        let title = format!("{name}: {} requests, {distinct} distinct pages", trace.requests.len());
        plot::write_svg(path, &title, &curves, &timelines).with_context(|| format!("drawing {}", path.display()))?;
    }
    Ok(())
}

/// The position of `kind` among the adaptive policy's candidates (the timeline's y value).
fn adaptive_candidate_index(candidate: Candidate) -> usize {
    bufpool::policy::Adaptive::candidates()
        .iter()
        .position(|&k| k == candidate)
        .expect("the adaptive policy only runs its candidates")
}

/// The human-readable table: policies as rows, requested cache sizes as columns, miss ratio in percent.
fn render_table(
    name: &str,
    loaded: &trace::LoadedTrace,
    rows: &[Row],
    cache: &[CacheSize],
    asked: &[u64],
    ratio: &dyn Fn(Row, u64) -> f64,
) -> String {
    let t = &loaded.trace;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {name} ({}, {} compression): {} requests, {} distinct pages",
        loaded.format.name(),
        loaded.compression,
        t.requests.len(),
        t.distinct_pages()
    );
    let _ = writeln!(out, "miss ratio (%) by cache size in pages (as asked)");
    let headers: Vec<String> = cache
        .iter()
        .zip(asked)
        .map(|(c, &p)| match c {
            CacheSize::Percent(_) => format!("{p} ({})", c.label()),
            CacheSize::Pages(_) => p.to_string(),
        })
        .collect();
    let width = headers.iter().map(String::len).max().unwrap_or(0).max(8);
    let _ = write!(out, "{:<10}", "policy");
    for h in &headers {
        let _ = write!(out, " {h:>width$}");
    }
    out.push('\n');
    for &row in rows {
        let _ = write!(out, "{:<10}", row.name());
        for &p in asked {
            let _ = write!(out, " {:>width$.2}", ratio(row, p) * 100.0);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
