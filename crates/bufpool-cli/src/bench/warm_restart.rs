//! `bufpool bench --workload warm-restart`: how long a restarted pool takes to serve its working set from memory
//! again, with `prewarm` (InnoDB's buffer pool dump and load, `pg_prewarm`) and without.
//!
//! Set-up, once: a data file of `--pages` pages (default 8x the pool) written through the pool with the bench's
//! self-check in every page; a pool of `--frames` frames that reads a random working set of that many pages (so
//! the set fills the pool exactly), saves its resident list (`save_resident`), and is dropped. Then, each round
//! and in alternating order, a fresh pool over the same file (O_DIRECT where the filesystem allows it, so the
//! kernel's page cache does not warm the second pool for the first: the run notes it when the file was opened
//! buffered and the figures mean little) does one of:
//! - `cold`: the restarted workload at once: uniform random reads over the working set;
//! - `prewarm`: `prewarm(list)` (batched reads in page order), then the same workload.
//!
//! The workload runs in windows of `frames / 16` reads (32 to 4096); the pool is *warm* at the end of the first
//! window whose reads hit at least [`WARM_HIT_RATIO`]. Reported per variant: the time from the new pool's first
//! call (the `prewarm`, or the workload's first read) until warm, the device reads by then (`Stats::reads`), the
//! reads of the workload until warm, and the prewarm's own time. Every page read is checked against its
//! self-check. `--repeat` rounds; the summary gives each variant's median round by time.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bufpool::{BufferPool, FileId, FileOptions, OpenMode, PageId};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{selfcheck, BenchArgs};

/// A window's hit ratio at which the working set counts as warm.
pub const WARM_HIT_RATIO: f64 = 0.95;
/// The file's persistent id: the restarted pools reopen it under the id the list names.
const FILE: FileId = FileId(1);
/// Windows of the workload after which a pool that is still not warm is reported as such (a bound, not a
/// figure: a cold pool over a working set that fits is warm after about 3x its size in reads).
const WINDOWS_MAX: usize = 64 * 16;

/// One variant's figures in one round.
#[derive(Clone, Debug, Serialize)]
pub struct WarmRun {
    /// `cold` or `prewarm`.
    pub variant: &'static str,
    /// The round (0-based).
    pub round: u32,
    /// Milliseconds from the restarted pool's first call until warm (`None`: not warm within the bound).
    pub warm_ms: Option<f64>,
    /// Device page reads until warm, prewarm included.
    pub device_reads: u64,
    /// Reads of the workload until warm.
    pub workload_reads: u64,
    /// Milliseconds `prewarm` took (0 for `cold`).
    pub prewarm_ms: f64,
    /// Pages `prewarm` loaded (0 for `cold`).
    pub prewarmed_pages: usize,
    /// The data file was opened with O_DIRECT.
    pub direct: bool,
    /// The storage backend.
    pub backend: &'static str,
}

/// The JSON `--json` writes.
#[derive(Serialize)]
struct Report<'a> {
    workload: &'static str,
    frames: usize,
    pages: u32,
    working_set: usize,
    window_reads: usize,
    warm_hit_ratio: f64,
    runs: &'a [WarmRun],
    notes: &'a [String],
}

/// splitmix64's finaliser: the working set and the access order, reproducible from `--seed`.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Runs the warm-restart workload.
pub fn run(args: &BenchArgs) -> Result<()> {
    let frames = args.frames.unwrap_or(if args.smoke { 64 } else { 8192 }) as usize;
    ensure!(
        frames >= 16,
        "--frames must be at least 16 for warm-restart, got {frames}"
    );
    let pages = args.pages.unwrap_or(frames as u32 * 8);
    ensure!(
        pages as usize >= frames,
        "--pages ({pages}) must be at least --frames ({frames}): the working set is a pool's worth of pages"
    );
    let window = (frames / 16).clamp(32, 4096);
    let seed = args.seed;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("bufpool-bench-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a directory in {}", base.display()))?;
    let (data, list) = (dir.path().join("warm.pages"), dir.path().join("warm.resident"));
    let builder = || -> Result<BufferPool> {
        let mut b = BufferPool::builder()
            .frames(frames)
            .io_backend(args.bufpool_io.backend())
            .open_mode(OpenMode::DirectOrBuffered);
        if let Some(policy) = args.policy {
            b = b.policy(policy);
        }
        Ok(b.build()?)
    };

    let pb = ProgressBar::new(u64::from(args.repeat) * 2);
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(format!("preparing {pages} pages in {}", dir.path().display()));
    (|| -> Result<()> {
        let pool = builder()?;
        let f = pool.open_file_with(&data, FileOptions::new().id(FILE))?;
        for n in 0..pages {
            selfcheck::init(&mut pool.new_page(f)?, seed, n);
        }
        Ok(pool.close()?)
    })()
    .with_context(|| super::preparing(&data))?;
    // The working set: `frames` distinct random pages (a partial Fisher-Yates shuffle).
    let mut set: Vec<u32> = (0..pages).collect();
    for i in 0..frames {
        let j = i + (mix(seed ^ i as u64) % (set.len() - i) as u64) as usize;
        set.swap(i, j);
    }
    set.truncate(frames);
    {
        let pool = builder()?;
        let f = pool.open_file_with(&data, FileOptions::new().id(FILE))?;
        for &n in &set {
            selfcheck::verify(&pool.read(PageId::new(f, n))?, seed, n)?;
        }
        let saved = pool.save_resident(&list)?;
        ensure!(
            saved == frames,
            "the working set should fill the pool: {saved} of {frames} pages resident"
        );
    }

    let mut runs = Vec::new();
    for round in 0..args.repeat {
        // Alternate which variant goes first, so neither always follows the other.
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for prewarm in order {
            pb.set_message(format!("round {round}: {}", if prewarm { "prewarm" } else { "cold" }));
            let pool = builder()?;
            let f = pool.open_file_with(&data, FileOptions::new().id(FILE))?;
            runs.push(restart(&pool, f, &set, &list, prewarm, window, seed, round)?);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();

    let mut notes = Vec::new();
    if runs.iter().any(|r| !r.direct) {
        notes.push(format!(
            "the data file in {} was opened buffered (the filesystem refused O_DIRECT): the kernel's page cache held \
             the pages for the restarted pools, so these figures do not show a real restart; use --dir on a disk",
            base.display()
        ));
    }
    outln!("{}", summary(&runs, frames, pages, window));
    for n in &notes {
        outln!("note: {n}");
    }
    if let Some(path) = &args.json {
        let report = Report {
            workload: "warm-restart",
            frames,
            pages,
            working_set: set.len(),
            window_reads: window,
            warm_hit_ratio: WARM_HIT_RATIO,
            runs: &runs,
            notes: &notes,
        };
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// One restarted pool: prewarm (or not), then the workload in windows until one hits at `WARM_HIT_RATIO`.
#[allow(clippy::too_many_arguments)]
fn restart(
    pool: &BufferPool,
    f: FileId,
    set: &[u32],
    list: &Path,
    prewarm: bool,
    window: usize,
    seed: u64,
    round: u32,
) -> Result<WarmRun> {
    let start = Instant::now();
    let mut prewarmed_pages = 0;
    if prewarm {
        let done = pool.prewarm(list)?;
        ensure!(done.skipped == 0, "prewarm skipped pages: {done:?}");
        prewarmed_pages = done.loaded;
    }
    let prewarm_time = start.elapsed();
    let mut rng = mix(seed ^ 0x5741_524d ^ u64::from(round) << 32);
    let mut workload_reads = 0u64;
    let mut warm = None;
    for _ in 0..WINDOWS_MAX {
        // The file's own hit count: no scan of the frames between windows (`stats()` would scan them).
        let hits_before = file_hits(pool, f)?;
        for _ in 0..window {
            rng = mix(rng);
            let n = set[(rng % set.len() as u64) as usize];
            selfcheck::verify(&pool.read(PageId::new(f, n))?, seed, n)?;
        }
        workload_reads += window as u64;
        let hits = file_hits(pool, f)? - hits_before;
        if hits as f64 >= WARM_HIT_RATIO * window as f64 {
            warm = Some(start.elapsed());
            break;
        }
    }
    let stats = pool.stats();
    let file = stats
        .files
        .iter()
        .find(|s| s.file == f)
        .context("the data file is open")?;
    Ok(WarmRun {
        variant: if prewarm { "prewarm" } else { "cold" },
        round,
        warm_ms: warm.map(ms),
        device_reads: stats.reads,
        workload_reads,
        prewarm_ms: if prewarm { ms(prewarm_time) } else { 0.0 },
        prewarmed_pages,
        direct: file.direct,
        backend: file.backend,
    })
}

/// Hits on `f`'s pages so far (the only file open, so never unknown).
fn file_hits(pool: &BufferPool, f: FileId) -> Result<u64> {
    pool.file_stats(f)?.hits.context("the data file's hits are counted")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The table: each variant's median round (by time until warm), its figures, and cold over prewarm.
fn summary(runs: &[WarmRun], frames: usize, pages: u32, window: usize) -> String {
    let median = |variant: &str| -> Option<WarmRun> {
        let mut rs: Vec<&WarmRun> = runs.iter().filter(|r| r.variant == variant).collect();
        rs.sort_by(|a, b| {
            a.warm_ms
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.warm_ms.unwrap_or(f64::INFINITY))
        });
        rs.get(rs.len() / 2).map(|r| (*r).clone())
    };
    let mut out = format!(
        "warm restart: working set {frames} pages (the whole pool) of a {pages}-page file; warm = a window of \
         {window} reads hits >= {:.0}%; median of {} rounds\n",
        WARM_HIT_RATIO * 100.0,
        runs.len() / 2
    );
    out.push_str(&format!(
        "{:<8} {:>12} {:>13} {:>15} {:>12} {:>9} {:>9}\n",
        "variant", "warm (ms)", "device reads", "workload reads", "prewarm (ms)", "direct", "backend"
    ));
    let (cold, pre) = (median("cold"), median("prewarm"));
    for r in [&cold, &pre].into_iter().flatten() {
        out.push_str(&format!(
            "{:<8} {:>12} {:>13} {:>15} {:>12.1} {:>9} {:>9}\n",
            r.variant,
            r.warm_ms.map_or_else(|| "not warm".into(), |t| format!("{t:.1}")),
            r.device_reads,
            r.workload_reads,
            r.prewarm_ms,
            if r.direct { "O_DIRECT" } else { "buffered" },
            r.backend
        ));
    }
    if let (Some(c), Some(p)) = (cold.and_then(|r| r.warm_ms), pre.and_then(|r| r.warm_ms)) {
        out.push_str(&format!("cold / prewarm: {:.2}x the time to warm", c / p));
    }
    out
}
