//! `bufpool bench --workload tpcc`: TPC-C on bufpool-btree, LMDB and redb, running the same transaction code.
//!
//! Plan of a run: load `--warehouses` warehouses into each system's own directory (the spec's cardinalities;
//! `--smoke` loads reduced ones, labelled `reduced`), then for each `--pool-fraction` F open each system with F x
//! (bufpool-btree's data size after the load) bytes of pool or cache, warm it (one scan of every table), and for
//! each `--durability` mode and `--threads` count run the mix for `--seconds`; after every run the consistency
//! conditions 1 to 12 are checked through the system's own transactions, and a failure fails the bench (after the
//! summary and the JSON are written, with `"consistent": false`). Runs follow each other on the same database,
//! which grows as TPC-C's does.
//!
//! `--tpcc-db DIR` keeps the databases in `DIR` (loaded once, reused by later runs; one run at a time: a run
//! holds `DIR/in-use.lock` and a second is refused); with it, `--tpcc-acks FILE`
//! appends every acknowledged New-Order of a bufpool-btree run to `FILE` (durably committed ones in `durable`
//! mode), each run's lines after a line naming its durability mode, and `--tpcc-verify FILE` only recovers
//! bufpool-btree's database, checks conditions 1 to 12 and that every New-Order `FILE` lists under `durable` is
//! present (the crash test's second half; one acknowledged in another mode may be lost by a kill, by design).
//!
//! Module map: `schema.rs` (tables, key encodings, rows, cardinalities), `random.rs` (NURand, strings, names),
//! `load.rs` (the initial population), `txns.rs` (the five transactions), `check.rs` (consistency conditions),
//! `engine.rs` (the engine traits), `ours.rs`, `lmdb.rs`, `redb_sys.rs` (one file per system), `driver.rs` (the
//! timed run), `report.rs` (rows, summary, JSON). BENCHMARKS.md, "TPC-C", explains the numbers.

mod check;
mod driver;
mod engine;
mod lmdb;
mod load;
mod ours;
mod random;
mod redb_sys;
mod report;
mod schema;
mod txns;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bufpool::IoBackend;
use indicatif::{ProgressBar, ProgressStyle};

use super::btree::KvKind;
use super::workload::Rng;
use super::BenchArgs;
use engine::{Durability, Engine, Worker};
use random::NuConstants;
use report::{LoadRow, Row};
use schema::{Scale, Table};

/// `--pool-fraction` when none is given, where memory allows ([`default_pool_fraction`]): the pool (or the peers'
/// cache) is this many times the loaded data. It keeps the in-memory case in memory for a whole sitting: the
/// fraction is of the data after the load, and New-Order's inserts grow it by 0.15-0.2 GB every 20 s at 4
/// warehouses (at 2, the earlier default, the second run of a sitting read from the device: BENCHMARKS.md,
/// TPC-C, "Session 9").
pub const DEFAULT_POOL_FRACTION: f64 = 8.0;

/// The pool's pages for `--pool-fraction` `fraction` of `data_pages` pages of data: what a run opens, and what
/// `--tpcc-verify` opens (at least 64 MiB there).
fn pool_pages(fraction: f64, data_pages: u64) -> u64 {
    ((fraction * data_pages as f64).ceil() as u64).max(64)
}

/// The default `--pool-fraction` for `ref_pages` pages of loaded data: [`DEFAULT_POOL_FRACTION`], lowered so the
/// pool takes at most half of the machine's memory, but never below 2 (many warehouses then run out of memory,
/// as they would have to).
fn default_pool_fraction(ref_pages: u64) -> f64 {
    // MemTotal from /proc/meminfo, in kB; unknown: no lowering.
    let mem_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    let Some(mem_kb) = mem_kb else {
        return DEFAULT_POOL_FRACTION;
    };
    let fit = (mem_kb * 1024) as f64 / 2.0 / (ref_pages.max(1) * PAGE) as f64;
    DEFAULT_POOL_FRACTION.min(fit).max(2.0)
}

/// Options of the TPC-C workload (flattened into `bufpool bench`'s arguments; it also takes --threads,
/// --seconds, --pool-fraction, --durability, --btree-systems, --dir, --json, --seed and --smoke).
#[derive(clap::Args, Debug)]
pub struct TpccArgs {
    /// TPC-C: warehouses [default: 4, smoke: 1].
    #[arg(long)]
    warehouses: Option<u16>,
    /// TPC-C: keep the databases in this directory (one subdirectory per system), loading each only once. One run
    /// at a time: a run (or a verify) holds DIR/in-use.lock, and another given DIR meanwhile is refused.
    #[arg(long)]
    tpcc_db: Option<PathBuf>,
    /// TPC-C: append every acknowledged New-Order ("w d o" per line) of a bufpool-btree run to this file (needs
    /// --tpcc-db; in durable mode each line follows the durable commit, in the others only the visible one), after
    /// a line "# durability MODE".
    #[arg(long)]
    tpcc_acks: Option<PathBuf>,
    /// TPC-C: do not run; recover bufpool-btree's database in --tpcc-db (give the --warehouses and --smoke it was
    /// loaded with: another scale is refused), check consistency conditions 1 to 12 and
    /// that every New-Order this file lists from a durable run is present (one from a nondurable-autocommit or
    /// batch:N run may be lost by a kill: counted, not an error; one present must be whole); exit non-zero if not.
    #[arg(long)]
    tpcc_verify: Option<PathBuf>,
    /// TPC-C: append to this file, about every second of each run, the throughput and the device traffic of that
    /// second (one CSV line; a header line first, and a line `# SYSTEM DURABILITY threads=N pool-fraction=F`
    /// before each run's lines; a run's last line covers its final part second, up to its end).
    #[arg(long)]
    tpcc_samples: Option<PathBuf>,
    /// TPC-C: each thread stops after this many transactions (committed or rolled back), or at --seconds if that
    /// comes first. With one thread and a fixed --seed, two builds run the same transactions: for comparing
    /// instruction counts (callgrind), not for throughput.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    tpcc_transactions: Option<u64>,
}

/// Pages of 4 KiB.
const PAGE: u64 = ours::PAGE_BYTES as u64;
/// Name of the file that marks a loaded database (holds its cardinalities).
const LOADED: &str = "loaded";

/// An engine opened over a directory.
enum Open {
    Ours(ours::Ours),
    Redb(redb_sys::RedbSys),
    Lmdb(lmdb::Lmdb),
}

impl Open {
    /// Opens `kind` in `dir` with `pages` pages of pool or cache; `out_of_memory` bounds LMDB's and redb's use
    /// of the OS page cache to those pages while runs go on (`crate::bench::page_cache`), as the pool is bounded.
    /// `io`: our pool's storage backend for the data files (`--bufpool-io`).
    fn new(kind: KvKind, dir: &Path, pages: u64, scale: Scale, out_of_memory: bool, io: IoBackend) -> Result<Open> {
        let bytes = pages * PAGE;
        Ok(match kind {
            KvKind::Ours => Open::Ours(ours::Ours::open_with_io(dir, pages as usize, scale.warehouses, io)?),
            KvKind::Redb => Open::Redb(redb_sys::RedbSys::open(dir, bytes as usize, out_of_memory)?),
            KvKind::Lmdb => Open::Lmdb(lmdb::Lmdb::open(
                dir,
                lmdb_map_bytes(scale),
                out_of_memory.then_some(bytes),
            )?),
        })
    }

    fn close(self) -> Result<()> {
        match self {
            Open::Ours(o) => o.close(),
            Open::Redb(r) => r.settle(),
            Open::Lmdb(l) => l.settle(),
        }
    }
}

/// LMDB's map: room for the database and its growth (address space only).
fn lmdb_map_bytes(scale: Scale) -> usize {
    ((u64::from(scale.warehouses) + 2) * (1 << 30)) as usize
}

/// Pages to give bufpool-btree's pool during the load: about the data's size, at most 2 GiB.
fn load_pages(scale: Scale) -> u64 {
    let per_warehouse = if scale.is_standard() { 60_000 } else { 2_000 };
    (u64::from(scale.warehouses) * per_warehouse + 4096).min(1 << 19)
}

fn marker(scale: Scale) -> String {
    format!("{} {} {}\n", scale.warehouses, scale.items, scale.customers)
}

/// The NURand constants of the load and of the runs, from the seed.
fn constants(seed: u64) -> (NuConstants, NuConstants) {
    let load = NuConstants::for_load(&mut Rng::new(seed ^ 0xC0A5_7A47));
    (load, NuConstants::for_run(load, &mut Rng::new(seed ^ 0x5EED_C0DE)))
}

/// Runs `bufpool bench --workload tpcc`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let t = &args.tpcc;
    let warehouses = t.warehouses.unwrap_or(if args.smoke { 1 } else { 4 });
    if !(1..=1000).contains(&warehouses) {
        bail!("--warehouses must be in 1..=1000, got {warehouses}");
    }
    if args.repeat != 1 {
        bail!("--repeat is not supported by the TPC-C workload (each case runs once, on a database that grows)");
    }
    let scale = if args.smoke {
        Scale::reduced(warehouses)
    } else {
        Scale::standard(warehouses)
    };
    let b = &args.btree;
    let systems: Vec<KvKind> = b.btree_systems.as_ref().map_or(KvKind::ALL.to_vec(), |s| s.0.clone());
    let durabilities = b
        .durability
        .as_ref()
        .map_or(vec![Durability::NondurableAutocommit], |d| d.0.clone());
    let threads = args.threads.as_ref().map_or(vec![1, 2], |t| t.0.clone());
    let seconds = args.seconds.unwrap_or(if args.smoke { 1.0 } else { 10.0 });
    if t.tpcc_acks.is_some() || t.tpcc_verify.is_some() {
        if t.tpcc_db.is_none() {
            bail!("--tpcc-acks and --tpcc-verify need --tpcc-db");
        }
        if t.tpcc_acks.is_some() && (systems != [KvKind::Ours] || durabilities.len() != 1) {
            bail!("--tpcc-acks records one bufpool-btree run: give --btree-systems bufpool-btree and one --durability");
        }
    }
    // Held to the end of the run (or the verify): a run that finds no loaded database deletes its directory.
    let _in_use = t.tpcc_db.as_deref().map(claim).transpose()?;
    let tmp;
    let base = match &t.tpcc_db {
        Some(d) => d.clone(),
        None => {
            let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
            tmp = tempfile::Builder::new()
                .prefix("bufpool-bench-tpcc-")
                .tempdir_in(&parent)
                .with_context(|| format!("creating a directory in {}", parent.display()))?;
            tmp.path().to_path_buf()
        }
    };
    if let Some(acks) = &t.tpcc_verify {
        // The restart gets the pool a run of these arguments gets (the first --pool-fraction, or the default).
        let fraction = b.pool_fraction.as_ref().and_then(|f| f.0.first().copied());
        return verify(&base, scale, fraction, acks, args.json.as_deref());
    }
    let (load_nu, run_nu) = constants(args.seed);
    let mut notes = vec![
        format!(
            "TPC-C: {} cardinalities; mix New-Order 45%, Payment 43%, Order-Status 4%, Delivery 4%, Stock-Level 4%; no \
             terminals, no think time, a uniformly chosen home warehouse per transaction; ops_per_sec counts committed \
             transactions (the 1% rolled-back New-Orders are counted apart)",
            if scale.is_standard() { "the spec's" } else { "reduced (smoke)" }
        ),
        "bufpool-btree: each table and index its own tree in one pool, a transaction log above the trees (write set \
         logged once, before the trees change; the trees log only structure changes and first-touch page images, and \
         no tree page is written before the transaction log), district, STOCK-row and commit-time row locks; \
         LMDB and redb: one native write transaction per TPC-C transaction (one writer at a time), read-only ones \
         in snapshots"
            .into(),
        "memory: bufpool-btree's pool is bounded by --pool-fraction and its data file uses O_DIRECT where it can; \
         redb's cache is set to the same bytes and LMDB maps its file; both read through the OS page cache, which \
         below --pool-fraction 1 is bounded while runs go on (redb's file dropped from it every 2 ms, LMDB's map \
         and file dropped when more than the pool's bytes of it are resident)"
            .into(),
    ];
    let timer_ns = crate::bench::driver::calibrate_timer();
    let mut loads = Vec::new();
    let mut ref_pages = None;
    for &kind in &systems {
        let dir = base.join(kind.name());
        let l = load_system(kind, &dir, scale, load_nu, args.seed)?;
        eprintln!(
            "{}: {} in {:.1} s, {:.1} MiB",
            kind.name(),
            if l.seconds > 0.0 { "loaded" } else { "reused" },
            l.seconds,
            l.db_bytes as f64 / (1 << 20) as f64
        );
        if kind == KvKind::Ours {
            let o = ours::Ours::open(&dir, 4096, scale.warehouses)?;
            ref_pages = Some(o.data_pages()?);
            o.close()?;
        }
        ref_pages.get_or_insert(l.db_bytes.div_ceil(PAGE));
        loads.push(l);
    }
    let ref_pages = ref_pages.unwrap_or(load_pages(scale));
    let fractions = b
        .pool_fraction
        .as_ref()
        .map_or_else(|| vec![default_pool_fraction(ref_pages)], |f| f.0.clone());
    // The mode the lines that follow were acknowledged in (`verify` holds only durable ones to be there). A newline
    // first: the file's last line may have been cut by a kill.
    let acks = t
        .tpcc_acks
        .as_deref()
        .map(|p| append_line(p, &format!("\n{ACKS_MODE}{}", durabilities[0].label())))
        .transpose()?;
    let samples = t
        .tpcc_samples
        .as_deref()
        .map(|p| append_line(p, driver::SAMPLE_HEADER))
        .transpose()?;
    let mut rows = Vec::new();
    for &f in &fractions {
        let pages = pool_pages(f, ref_pages);
        for &kind in &systems {
            let dir = base.join(kind.name());
            let open = Open::new(kind, &dir, pages, scale, f < 1.0, args.bufpool_io.backend())?;
            let frames = match kind {
                KvKind::Lmdb => 0,
                _ => pages,
            };
            for &d in &durabilities {
                for &th in &threads {
                    // Every run starts from the same warm state: the previous run's consistency check scanned
                    // other tables last, and a pool smaller than the data would keep those instead.
                    with_open!(&open, e => warm(e)).with_context(|| format!("warming {}", kind.name()))?;
                    let pb = ProgressBar::new((seconds * 1000.0) as u64);
                    pb.set_style(
                        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
                            .expect("static template")
                            .progress_chars("=> "),
                    );
                    let started = Instant::now();
                    let label = format!("{} {} threads={th}", kind.name(), d.label());
                    if let Some(mut s) = samples.as_ref() {
                        use std::io::Write;
                        s.write_all(format!("# {label} pool-fraction={f}\n").as_bytes())
                            .context("writing --tpcc-samples")?;
                    }
                    let progress = |n: u64| {
                        pb.set_position(started.elapsed().as_millis() as u64);
                        pb.set_message(format!("{label}: {n} tx"));
                    };
                    let spec = driver::RunSpec {
                        scale,
                        nu: run_nu,
                        threads: th,
                        durability: d,
                        duration: Duration::from_secs_f64(seconds),
                        transactions: args.tpcc.tpcc_transactions,
                        seed: args.seed ^ (rows.len() as u64).wrapping_mul(0x2545_f491_4f6c_dd1d),
                        timer_ns,
                        acks: acks.as_ref(),
                        progress: &progress,
                        samples: samples.as_ref(),
                    };
                    let m =
                        with_open!(&open, e => driver::measure(e, &spec)).with_context(|| format!("tpcc {label}"))?;
                    pb.finish_and_clear();
                    if let Some(each) = spec.transactions {
                        // `--seconds` ran out first: say so, or a fixed-count comparison reads a cut-short run
                        // as the fixed one (R29-O4).
                        let (ran, asked) = (m.committed + m.rollbacks, each.saturating_mul(th as u64));
                        if ran < asked {
                            eprintln!(
                                "warning: tpcc {label}: --seconds {seconds} ran out after {ran} of the {asked} \
                                 transactions --tpcc-transactions {each} asked for ({th} threads)"
                            );
                        }
                    }
                    let check_started = Instant::now();
                    let checked = with_open!(&open, e => check::conditions(&mut e.worker(d)?, scale))
                        .with_context(|| format!("checking consistency after tpcc {label}"))?;
                    let check_secs = check_started.elapsed().as_secs_f64();
                    let mut row = Row {
                        workload: "tpcc",
                        system: kind.name(),
                        warehouses,
                        scale: if scale.is_standard() { "standard" } else { "reduced" },
                        threads: th,
                        durability: d.label(),
                        pool_fraction: f,
                        frames,
                        ops_per_sec: 0.0,
                        committed: 0,
                        by_type: Default::default(),
                        rollbacks: 0,
                        aborts: 0,
                        ns_per_op_p50: 0.0,
                        ns_per_op_p99: 0.0,
                        p50_by_type: Default::default(),
                        cpu_ns_per_op: 0.0,
                        reads_per_op: 0.0,
                        writes_per_op: 0.0,
                        syncs_per_op: 0.0,
                        syncs_by_cause: Default::default(),
                        writes_by_cause: Default::default(),
                        hit_ratio: None,
                        lock_wait_ratio: None,
                        db_bytes: with_open!(&open, e => e.db_bytes()),
                        consistent: checked.consistent(),
                        check_failures: checked.failures.iter().take(20).cloned().collect(),
                        seconds: 0.0,
                    };
                    report::measured_fields(&mut row, &m);
                    let waits = row.lock_wait_ratio.map_or(String::new(), |r| {
                        format!(", transactions that waited for a lock: {:.2}%", r * 100.0)
                    });
                    let by_cause = |what: &str, by: &BTreeMap<String, f64>| {
                        let each: Vec<String> = by.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
                        if each.is_empty() {
                            String::new()
                        } else {
                            format!(", {what}: {}", each.join(", "))
                        }
                    };
                    let syncs = by_cause("syncs/tx by cause", &row.syncs_by_cause);
                    let writes = by_cause("pages written/tx by the cache", &row.writes_by_cause);
                    eprintln!(
                        "  tpcc {label} pool-fraction={f}: {:.0} tx/s, consistent: {} (checked in {check_secs:.2} s){waits}{syncs}{writes}",
                        row.ops_per_sec, row.consistent
                    );
                    rows.push(row);
                }
            }
            open.close().with_context(|| format!("closing {}", kind.name()))?;
        }
    }
    outln!("{}", report::summary(&rows, &loads));
    let bad: Vec<&Row> = rows.iter().filter(|r| !r.consistent).collect();
    notes.push(format!(
        "consistency conditions 1-12 checked after each of {} runs: {}",
        rows.len(),
        if bad.is_empty() {
            "all held".to_string()
        } else {
            format!("{} FAILED", bad.len())
        }
    ));
    for n in &notes {
        outln!("note: {n}");
    }
    if let Some(path) = &args.json {
        report::write_json(path, &rows, &loads, &notes)?;
        outln!("wrote {}", path.display());
    }
    if let Some(r) = bad.first() {
        bail!(
            "TPC-C consistency check FAILED for {} ({} threads, {}): {}",
            r.system,
            r.threads,
            r.durability,
            r.check_failures.join("; ")
        );
    }
    Ok(())
}

/// Name of the lock file in a `--tpcc-db` directory that a run holds ([`claim`]).
const IN_USE: &str = "in-use.lock";

/// Claims the `--tpcc-db` directory `base` for this run, making it if needed: an exclusive `flock` on its
/// [`IN_USE`] file, held while the returned file is open (the kernel drops it if the process dies), or an error if
/// another run holds it. A run that finds no loaded database deletes the system's directory and loads anew, so a
/// second run at once deleted the first's database under it, and the first could then mark the second's half-made
/// one loaded (R30-20 in RELIABILITY.md).
fn claim(base: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
    let path = base.join(IN_USE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "--tpcc-db {} is in use by another bufpool bench run (it holds {}): nothing was loaded, run or \
             deleted; wait for that run to end, or give another --tpcc-db",
            base.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// Loads `kind` into `dir` unless a database of `scale` is there already.
fn load_system(kind: KvKind, dir: &Path, scale: Scale, nu: NuConstants, seed: u64) -> Result<LoadRow> {
    let label = if scale.is_standard() { "standard" } else { "reduced" };
    let mut seconds = 0.0;
    if !loaded(dir, scale, "use another --tpcc-db")? {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let t = Instant::now();
        let open = Open::new(kind, dir, load_pages(scale), scale, false, IoBackend::default())?;
        with_open!(&open, e => load::load(e, scale, nu, seed, |w| eprintln!("{}: loading warehouse {w}", kind.name())))
            .with_context(|| format!("loading {}", kind.name()))?;
        open.close()?;
        seconds = t.elapsed().as_secs_f64();
        mark_loaded(dir, scale)?;
    }
    // bufpool-btree's logs keep their length when truncation punches their dead records out: count what they
    // take (its `Engine::db_bytes` does the same); the other systems' files as long as they are.
    let db_bytes = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            match kind {
                KvKind::Ours => m.len().min(m.blocks() * 512),
                _ => m.len(),
            }
        })
        .sum();
    Ok(LoadRow {
        system: kind.name(),
        warehouses: scale.warehouses,
        scale: label,
        seconds,
        db_bytes,
    })
}

/// Marks `dir` as holding a loaded database of `scale` (after its engine closed, every byte of the load durable):
/// its [`LOADED`] marker written whole and durable or not at all ([`bufpool::storage::replace_file`]). Written with
/// `std::fs::write`, a device full at the marker (or a power loss soon after it) left it empty, and every later run
/// refused the database as one "of other cardinalities ()" (R30-21 in RELIABILITY.md).
fn mark_loaded(dir: &Path, scale: Scale) -> Result<()> {
    let mark = dir.join(LOADED);
    bufpool::storage::replace_file(&mark, marker(scale).as_bytes()).with_context(|| {
        format!(
            "writing {}, which marks the database loaded (unless it is there whole now, the next run loads the \
             database again)",
            mark.display()
        )
    })
}

/// Whether `dir` holds a loaded database of `scale` (its marker names `scale`'s cardinalities); `false` if it holds
/// no loaded database (no marker); an error, ending in `advice`, if it holds one of other cardinalities: neither a
/// run nor a check may go on against a database of another scale (R28-2 in RELIABILITY.md: `--tpcc-verify` checked
/// the scale its flags gave, and failed a sound database for warehouses it never had). A marker that is there but
/// cannot be read (not UTF-8, a directory, an I/O error) is an error too, not "no database": a run would delete
/// the directory and load anew (R29-3).
fn loaded(dir: &Path, scale: Scale, advice: &str) -> Result<bool> {
    let mark = dir.join(LOADED);
    match std::fs::read_to_string(&mark) {
        Ok(m) if m == marker(scale) => Ok(true),
        Ok(m) => bail!(
            "{} holds a database of other cardinalities ({}: warehouses, items, customers a district) than the \
             flags give ({}, the {} scale); {advice}",
            dir.display(),
            m.trim(),
            marker(scale).trim(),
            if scale.is_standard() { "standard" } else { "--smoke" },
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| {
            format!(
                "reading {}, which marks a loaded database (a marker that cannot be read is not taken for no \
                 database: nothing was deleted or loaded); fix or remove it",
                mark.display()
            )
        }),
    }
}

/// Opens `path` to append to (creating it), and appends `line` and a newline.
fn append_line(path: &Path, line: &str) -> Result<std::fs::File> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(format!("{line}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(f)
}

/// Reads every table once, ITEM and STOCK last (so a run starts warm, and out of memory with the hottest tables
/// cached).
fn warm(e: &impl Engine) -> Result<()> {
    let mut w = e.worker(Durability::NondurableAutocommit)?;
    w.run(&engine::Access::warehouse(1, true), &mut |t| {
        for table in Table::ALL {
            let mut n = 0u64;
            t.scan(table, &[], &[0xff], &mut |_, v| {
                n += v.len() as u64;
                true
            })?;
            std::hint::black_box(n);
        }
        Ok(true)
    })?;
    Ok(())
}

/// The line of an acknowledgement file before a run's acknowledgements: this, then the run's durability label.
const ACKS_MODE: &str = "# durability ";

/// An acknowledged New-Order (warehouse, district, order) and whether its run was `durable` (acknowledged after
/// its durable commit: a kill cannot lose it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Ack {
    order: (u16, u8, u32),
    durable: bool,
}

/// The acknowledgements of a `--tpcc-acks` file. Lines before any mode line (a file written before the mode
/// lines existed) count as durable, as they did then.
fn parse_acks(text: &str) -> Result<Vec<Ack>> {
    let mut durable = true;
    let mut acks = Vec::new();
    for line in text.lines() {
        if let Some(mode) = line.strip_prefix(ACKS_MODE) {
            durable = Durability::parse(mode).map_err(anyhow::Error::msg)? == Durability::Durable;
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        // A line cut by the kill (no newline yet) was not acknowledged.
        if let [w, d, o] = f[..] {
            if let (Ok(w), Ok(d), Ok(o)) = (w.parse(), d.parse(), o.parse()) {
                acks.push(Ack {
                    order: (w, d, o),
                    durable,
                });
            }
        }
    }
    Ok(acks)
}

/// `--tpcc-verify`: recovers bufpool-btree's database, checks its trees, conditions 1 to 12 and the acknowledged
/// New-Orders: each one acknowledged in `durable` mode must be there whole; one acknowledged in another mode may be
/// missing (a kill loses the transactions whose records were still in the log's buffer: the mode's promise), but
/// one that is there must be whole. The pool is the one a run gets: `fraction` (or the default fraction) times the
/// data files, at least 64 MiB.
fn verify(base: &Path, scale: Scale, fraction: Option<f64>, acks: &Path, json: Option<&Path>) -> Result<()> {
    let dir = base.join(KvKind::Ours.name());
    if !loaded(&dir, scale, "give the --warehouses (and --smoke) it was loaded with")? {
        bail!("{} holds no loaded database", dir.display());
    }
    // The pool a run with these arguments gets, of the data files as they are (at least the run's: files only
    // grow), at least 64 MiB: a restart measured with the pool a restart gets. Until session 53 it was twice the
    // data files, whatever the run's: a log that rebuilds trees larger than that (18 s of 2-thread log without a
    // checkpoint, 1.1 GB, whose data files never grew) was replayed through evictions and reads, 40 s where the
    // run's pool holds it all (R52-O14, BENCHMARKS.md "Session 53").
    let data_pages = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "db"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len().div_ceil(PAGE))
        .sum::<u64>();
    let fraction = fraction.unwrap_or_else(|| default_pool_fraction(data_pages));
    let frames = pool_pages(fraction, data_pages).max(16_384);
    outln!(
        "recovery pool: {frames} pages ({:.0} MiB; pool fraction {fraction} of {data_pages} pages of data files, \
         at least 64 MiB)",
        (frames * PAGE) as f64 / (1 << 20) as f64
    );
    let started = Instant::now();
    let o = ours::Ours::open(&dir, frames as usize, scale.warehouses).context("recovering bufpool-btree")?;
    outln!(
        "recovery (opening the trees, replaying the transaction log): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let entries = o.check_trees().context("checking the trees' structure")?;
    let started = Instant::now();
    let checked = check::conditions(&mut o.worker(Durability::NondurableAutocommit)?, scale)?;
    outln!(
        "consistency conditions 1 to 12 checked in {:.2} s: {} customers, {} history rows",
        started.elapsed().as_secs_f64(),
        checked.customers,
        checked.history
    );
    let text = std::fs::read_to_string(acks).with_context(|| format!("reading {}", acks.display()))?;
    let acked = parse_acks(&text).with_context(|| format!("reading {}", acks.display()))?;
    let (durable, other): (Vec<Ack>, Vec<Ack>) = acked.iter().partition(|a| a.durable);
    let orders = |a: &[Ack]| a.iter().map(|a| a.order).collect::<Vec<_>>();
    let mut w = o.worker(Durability::NondurableAutocommit)?;
    let missing = check::acknowledged(&mut w, &orders(&durable))?;
    let other_missing = check::acknowledged(&mut w, &orders(&other))?;
    drop(w);
    // Of the others, an absent order is the mode's loss; an order with some of its lines is not all or nothing.
    let (lost, broken): (Vec<String>, Vec<String>) =
        other_missing.into_iter().partition(|m| m.ends_with(check::NO_ORDER));
    outln!(
        "recovered: {} orders, {} new-orders, {} order-lines; trees: {}",
        checked.orders,
        checked.new_orders,
        checked.order_lines,
        entries
            .iter()
            .map(|(t, n)| format!("{}={n}", t.name()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    outln!("consistent: {}", checked.consistent());
    for f in &checked.failures {
        outln!("  {f}");
    }
    outln!(
        "acknowledged new-orders: {} present, {} missing",
        durable.len() - missing.len(),
        missing.len()
    );
    for m in missing.iter().take(20) {
        outln!("  {m}");
    }
    if !other.is_empty() {
        outln!(
            "new-orders acknowledged without a durable commit (nondurable-autocommit, batch:N): {} present, {} lost \
             (a kill may lose them: not an error), {} incomplete",
            other.len() - lost.len() - broken.len(),
            lost.len(),
            broken.len()
        );
        for m in broken.iter().take(20) {
            outln!("  {m}");
        }
    }
    if let Some(path) = json {
        let v = serde_json::json!({
            "consistent": checked.consistent(),
            "check_failures": checked.failures,
            "acknowledged": durable.len(),
            "missing": missing,
            "acknowledged_nondurable": other.len(),
            "lost_nondurable": lost.len(),
            "incomplete_nondurable": broken,
            "orders": checked.orders,
        });
        std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    o.close()?;
    if !checked.consistent() || !missing.is_empty() || !broken.is_empty() {
        bail!(
            "TPC-C recovery check FAILED: {}",
            [
                (!checked.consistent()).then(|| format!("{} consistency conditions fail", checked.failures.len())),
                (!missing.is_empty()).then(|| format!("{} durably acknowledged new-orders missing", missing.len())),
                (!broken.is_empty()).then(|| format!("{} acknowledged new-orders incomplete", broken.len())),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        );
    }
    Ok(())
}

/// The pool crate's tmpfs helper (mount, fill, remount, unmount on drop), for a test of a full device.
#[cfg(test)]
#[allow(dead_code)] // `remount` is not used here.
#[path = "../../../../bufpool/tests/common/tmpfs.rs"]
mod tmpfs;

#[cfg(test)]
mod tests {
    use super::*;

    /// R30-21: the `loaded` marker written on a full device. With `std::fs::write` the marker was created and its
    /// bytes refused: an empty marker, which every later run refused as a database "of other cardinalities ()".
    /// Now nothing is marked (the next run loads again), no temporary file is left taking space, and with room
    /// the marker is written whole. Needs root (`mount`); skips, saying why, elsewhere.
    #[test]
    fn a_loaded_marker_refused_for_space_marks_nothing_and_the_next_run_loads_again() {
        let dir = tempfile::tempdir().unwrap();
        let mount = match tmpfs::mount_tmpfs(dir.path(), "64k") {
            Ok(m) => m,
            Err(why) => {
                eprintln!(
                    "SKIPPED a_loaded_marker_refused_for_space_marks_nothing_and_the_next_run_loads_again: {why}"
                );
                return;
            }
        };
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let f = tmpfs::fill(dir.path());
        let scale = Scale::reduced(1);
        let err = mark_loaded(&db, scale).expect_err("a marker written on a full device");
        assert!(format!("{err:#}").contains("No space left"), "{err:#}");
        assert!(
            !loaded(&db, scale, "").expect("after a marker refused for space"),
            "a database marked loaded by a marker that was refused"
        );
        let mark = db.join(LOADED);
        assert!(!mark.exists() && !bufpool::storage::temp_path(&mark).exists());
        drop(f);
        std::fs::remove_file(dir.path().join("fill")).unwrap();
        mark_loaded(&db, scale).unwrap();
        assert!(loaded(&db, scale, "").unwrap());
        drop(mount);
    }

    #[test]
    fn the_default_pool_fraction_keeps_small_data_in_memory_and_shrinks_for_large_data() {
        // 16 MiB of loaded data (a smoke run's size) on any machine this runs on: the full default.
        assert_eq!(default_pool_fraction(4096), DEFAULT_POOL_FRACTION);
        // Data far beyond half of any machine's memory (1 PiB): never below 2.
        assert_eq!(default_pool_fraction(1 << 38), 2.0);
    }

    #[test]
    fn acknowledgements_are_held_to_the_durability_of_their_run() {
        let text = "1 2 3\n\n# durability durable\n1 2 4\n1 2 5\n# durability batch:200\n1 3 1\n1 3 \
                    \n# durability nondurable-autocommit\n2 1 1\n# durability durable\n2 1 2\n";
        let acks = parse_acks(text).unwrap();
        let ack = |order, durable| Ack { order, durable };
        assert_eq!(
            acks,
            [
                // Before any mode line: durable, as every line was before the mode lines.
                ack((1, 2, 3), true),
                ack((1, 2, 4), true),
                ack((1, 2, 5), true),
                // A cut line ("1 3 ", the kill came before its newline) is not an acknowledgement.
                ack((1, 3, 1), false),
                ack((2, 1, 1), false),
                ack((2, 1, 2), true),
            ]
        );
        assert!(parse_acks("# durability sometimes\n1 2 3\n").is_err());
    }

    /// `Txn::get_part` and `Txn::get_each` with a part give each engine's rows cut to the part (clamped), in
    /// read-only and writing transactions alike: Stock-Level's S_QUANTITY reads on LMDB and redb go through
    /// their own `get_part`, on bufpool-btree through `Tree::get_many_part`.
    #[allow(clippy::reversed_empty_ranges)]
    fn reads_parts(e: &impl Engine) {
        use engine::{part_of, Access, Txn, WHOLE};
        use schema::Table;
        let row = |i: u8| (0..300).map(|b: u32| i.wrapping_add(b as u8)).collect::<Vec<u8>>();
        e.load(&mut |t| {
            for i in 1..=3 {
                t.put(Table::Stock, &[1, i], &row(i))?;
            }
            Ok(())
        })
        .unwrap();
        e.finish_load().unwrap();
        let keys: [&[u8]; 4] = [&[1, 3], &[1, 9], &[1, 1], &[1, 2]];
        let mut w = e.worker(Durability::Durable).unwrap();
        for read_only in [true, false] {
            w.run(&Access::warehouse(1, read_only), &mut |t: &mut dyn Txn| {
                for part in [0..4, 250..usize::MAX, 290..310, 400..500, 7..3, WHOLE] {
                    let cut = |i: u8| {
                        let v = row(i);
                        v[part_of(&v, &part)].to_vec()
                    };
                    let mut got = vec![None; keys.len()];
                    t.get_each(Table::Stock, &keys, part.clone(), &mut |i, v| {
                        got[i] = Some(v.map(<[u8]>::to_vec));
                        Ok(())
                    })?;
                    assert_eq!(
                        got,
                        [Some(Some(cut(3))), Some(None), Some(Some(cut(1))), Some(Some(cut(2)))]
                    );
                    let mut out = Vec::new();
                    assert!(t.get_part(Table::Stock, &[1, 2], part.clone(), &mut out)?);
                    assert_eq!(out, cut(2), "{part:?}");
                    assert!(!t.get_part(Table::Stock, &[1, 9], part.clone(), &mut out)?);
                }
                Ok(true)
            })
            .unwrap();
        }
    }

    #[test]
    fn every_engine_reads_parts_of_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("ours"),
            dir.path().join("lmdb"),
            dir.path().join("redb"),
        );
        for d in [&a, &b, &c] {
            std::fs::create_dir_all(d).unwrap();
        }
        reads_parts(&ours::Ours::open(&a, 256, 1).unwrap());
        reads_parts(&lmdb::Lmdb::open(&b, 64 << 20, None).unwrap());
        reads_parts(&redb_sys::RedbSys::open(&c, 16 << 20, false).unwrap());
    }
}
