//! The tree's public API on a real ext4 whose journal aborts mid-run (session 31, R31-10 in RELIABILITY.md).
//!
//! R31-1: ext4's fdatasync of an *appended* file waits on the journal transaction that holds the new length;
//! when the journal aborted during it (the kernel's error path, `errors=remount-ro`), the kernel returned 0 and
//! the length was lost with the transaction, so an acknowledged commit was gone after recovery. That was found by
//! TPC-C (`bufpool-cli`'s `tpcc_real_faults`); this test reaches the same class with the tree alone: several
//! threads put, update and delete their own keys and [`Tree::commit`], checkpointing often (data files grow, logs
//! are cut), each recording what its acknowledged commits changed; the journal is aborted at a random moment
//! (after a random number of acknowledged commits, aimed at a moment when some thread is inside an fsync: see
//! [`in_fsync`]); every thread then stops at its first error. After the operator's way out (unmount, `e2fsck`,
//! mount) the reopened tree must hold every acknowledged change and pass [`Tree::check`].
//!
//! Four rounds (about 2 s), seeds from the clock (each printed); for the loops of `docs/findings/faults31/`:
//! `BUFPOOL_EXT4_SEED` replays from a seed, `BUFPOOL_EXT4_ROUNDS` sets the rounds, `BUFPOOL_EXT4_OPS` the most
//! ops a batch (8), and `BUFPOOL_EXT4_AIM=tree.db` (or `tree.wal`) aims the abort at that file's fsync (the pool
//! then uses `pread`/`pwrite`). Needs root, `mkfs.ext4`, `mount -o loop`, `e2fsck`; skips, saying why, elsewhere.
//! A binary of its own: it mounts (and its children would hold the logs' locks, R15-O1).

mod common;
/// The pool crate's ext4 helper (image, loop mount, forced read-only, fsck, unmount on drop).
#[allow(dead_code)]
#[path = "../../bufpool/tests/common/ext4.rs"]
mod ext4;
/// R46-10 on ext4: an open reads its log's header from the device, past the page cache. In a directory of its own:
/// a module of this binary, not a test file of the crate (`every_test_file_is_built`).
#[path = "ext4/log_header_past_the_cache.rs"]
mod log_header_past_the_cache;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool_btree::{open_dir, open_dir_in, Options, Tree};
use ext4::Ext4;
use rand::{Rng, SeedableRng};

/// Trees on the file system, each with its own log: one log fsync in flight per tree at a time (a log's
/// committers share one), so several trees give the abort several fsyncs to meet.
const TREES: u64 = 3;
/// Threads committing at once, thread `t` on tree `t % TREES`.
const THREADS: u64 = 6;

/// What one thread's run left: the last acknowledged state of each of its ids (`Some((version, length))`, or
/// `None` deleted), the ids a commit in flight touched (either state may be there), its acknowledged commits and
/// the error it stopped at.
#[derive(Default)]
struct Run {
    acked: HashMap<u64, Option<(u64, usize)>>,
    uncertain: HashSet<u64>,
    commits: u64,
    error: String,
}

/// How a round's workload runs: value lengths up to `max_len`, a checkpoint every `checkpoint_every` batches of
/// each thread.
struct Shape {
    max_len: usize,
    max_ops: u64,
    checkpoint_every: u64,
}

/// One thread's batches on `tree` until an error (or `stop`): 1..=8 ops each (new ids, updates, deletes), a
/// commit, and a checkpoint every `shape.checkpoint_every` batches. `acks` counts acknowledged commits of all.
fn work(tree: &Tree, t: u64, seed: u64, shape: &Shape, acks: &AtomicU64, stop: &AtomicBool) -> Run {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (t << 40));
    let mut run = Run::default();
    let mut live: Vec<u64> = Vec::new();
    let mut next = t << 32;
    let mut pending: HashMap<u64, Option<(u64, usize)>> = HashMap::new();
    let mut batch = 0u64;
    let error = loop {
        if stop.load(Ordering::Relaxed) {
            break "stopped".to_string();
        }
        batch += 1;
        let mut added = Vec::new();
        let result = (|| {
            for _ in 0..rng.random_range(1..=shape.max_ops) {
                let choice = rng.random_range(0..10);
                if choice < 2 && !live.is_empty() {
                    let id = live.swap_remove(rng.random_range(0..live.len()));
                    pending.insert(id, None);
                    assert!(tree.delete(&common::key(id))?, "id {id} acknowledged, not there");
                } else {
                    let id = if choice < 5 && !live.is_empty() {
                        live[rng.random_range(0..live.len())]
                    } else {
                        next += 1;
                        added.push(next);
                        next
                    };
                    let len = rng.random_range(16..=shape.max_len);
                    pending.insert(id, Some((batch, len)));
                    tree.put(&common::key(id), &common::sized_value(id, batch, len))?;
                }
            }
            tree.commit()?;
            run.commits += 1;
            acks.fetch_add(1, Ordering::Relaxed);
            run.acked.extend(pending.drain());
            live.append(&mut added);
            if batch.is_multiple_of(shape.checkpoint_every) {
                tree.checkpoint()?;
            }
            Ok::<(), bufpool_btree::Error>(())
        })();
        if let Err(e) = result {
            break e.to_string();
        }
    };
    run.uncertain = pending.into_keys().collect();
    run.error = error;
    run
}

/// Whether some thread of this process is blocked in `fsync` or `fdatasync` now (`/proc/self/task/*/syscall`),
/// of a file whose name ends with `name` (any file for ""): the moment an abort can meet a waiter on the journal.
fn in_fsync(name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.filter_map(Result::ok).any(|task| {
        std::fs::read_to_string(task.path().join("syscall")).is_ok_and(|s| {
            let mut f = s.split(' ');
            // x86_64: fsync 74, fdatasync 75; aarch64: fsync 82, fdatasync 83.
            let sync = matches!(
                (std::env::consts::ARCH, f.next().unwrap_or("")),
                ("x86_64", "74" | "75") | ("aarch64", "82" | "83")
            );
            let fd = f
                .next()
                .and_then(|fd| i32::from_str_radix(fd.trim_start_matches("0x"), 16).ok());
            sync && (name.is_empty()
                || fd.is_some_and(|fd| {
                    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|p| p.to_string_lossy().ends_with(name))
                }))
        })
    })
}

/// One round on a new ext4 in `dir`: the workload, the abort after a random number of acknowledged commits, the
/// operator's way out, and the check of every acknowledged change. `Err` says why it is skipped.
fn round(dir: &Path, seed: u64) -> Result<(), String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let fs = Ext4::new(dir, 96 << 20)?;
    let tree_dirs: Vec<_> = (0..TREES).map(|i| fs.mnt.join(format!("t{i}"))).collect();
    // Small frames: evictions write (and grow) the data file between checkpoints too. Odd seeds: values up to a
    // leaf's limit, so the data file grows fast; even seeds: short ones, more commits per page.
    let shape = Shape {
        max_len: if seed % 2 == 1 { 900 } else { 120 },
        checkpoint_every: rng.random_range(4..=16),
        max_ops: std::env::var("BUFPOOL_EXT4_OPS").map_or(8, |s| s.parse().expect("a number")),
    };
    // Fewer commits before the abort for longer batches (the same work, about).
    let target = (rng.random_range(10..=400u64) * 8 / shape.max_ops).max(2);
    let name = std::env::var("BUFPOOL_EXT4_AIM").unwrap_or_default();
    let wait = Duration::from_millis(if name.is_empty() { 50 } else { 2000 });
    let opts = Options {
        frames: 64,
        page_size: 4096,
    };
    let (acks, stop) = (AtomicU64::new(0), AtomicBool::new(false));
    let (runs, forced) = {
        // Aimed at one file's fsync: through `pread`/`pwrite`, whose fsync is this process's system call (an
        // io_uring fsync runs in a kernel worker that /proc does not show in one).
        let backend = if name.is_empty() {
            bufpool::IoBackend::Auto
        } else {
            bufpool::IoBackend::Pread
        };
        let pool = bufpool::BufferPool::builder()
            .frames(opts.frames)
            .page_size(opts.page_size)
            .io_backend(backend)
            .build()
            .map_err(|e| format!("pool: {e}"))?;
        let pool = Arc::new(pool);
        let mut trees = Vec::new();
        for dir in &tree_dirs {
            let tree = open_dir_in(pool.clone(), dir).map_err(|e| format!("open: {e}"))?;
            // Cuts rewrite the log into a new file now and then (rename, directory fsync), besides punching.
            tree.wal().set_rewrite_len(64 << 10);
            trees.push(tree);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (tree, shape, acks, stop) = (&trees[(t % TREES) as usize], &shape, &acks, &stop);
                    s.spawn(move || work(tree, t, seed, shape, acks, stop))
                })
                .collect();
            let t0 = Instant::now();
            while acks.load(Ordering::Relaxed) < target && t0.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Aim at an fsync in flight (of the file `BUFPOOL_EXT4_AIM` names, if set) for up to `wait`; else now.
            let aim = Instant::now();
            let aimed = loop {
                if in_fsync(&name) {
                    break true;
                }
                if aim.elapsed() > wait {
                    break false;
                }
            };
            let forced = fs.force_read_only();
            eprintln!(
                "abort during an fsync{}: {aimed}",
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" of {name}")
                }
            );
            if forced.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            // Every thread stops at its own error; a thread still going after 10 s is stopped (and reported).
            let deadline = Instant::now() + Duration::from_secs(10);
            while !handles.iter().all(|h| h.is_finished()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            stop.store(true, Ordering::Relaxed);
            let runs: Vec<Run> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (runs, forced)
        })
    };
    if let Err(why) = forced {
        return Err(format!("cannot force it read-only: {why}"));
    }
    let commits: u64 = runs.iter().map(|r| r.commits).sum();
    eprintln!(
        "seed {seed}: max value {} B, checkpoint every {} batches, abort after {target} acks; {commits} \
         acknowledged; stopped at: {:?}",
        shape.max_len,
        shape.checkpoint_every,
        runs.iter().map(|r| r.error.as_str()).collect::<Vec<_>>()
    );
    for r in &runs {
        assert_ne!(r.error, "stopped", "seed {seed}: a thread went on 10 s after the abort");
        assert!(!r.error.contains("panicked"), "seed {seed}: {}", r.error);
    }
    assert!(commits >= target, "seed {seed}: stopped before the abort");
    fs.unmount();
    fs.fsck().unwrap();
    fs.mount().unwrap();
    let mut lost = Vec::new();
    for (i, dir) in tree_dirs.iter().enumerate() {
        let tree = open_dir(dir, opts).unwrap_or_else(|e| panic!("seed {seed}: reopen tree {i}: {e}"));
        tree.check()
            .unwrap_or_else(|e| panic!("seed {seed}: tree {i}'s invariants after recovery: {e}"));
        for r in runs.iter().skip(i).step_by(TREES as usize) {
            for (&id, &want) in &r.acked {
                if r.uncertain.contains(&id) {
                    continue;
                }
                let got = tree.get(&common::key(id)).unwrap();
                if got != want.map(|(ver, len)| common::sized_value(id, ver, len)) {
                    let got = got.map(|v| (u64::from_le_bytes(v[8..16].try_into().unwrap()), v.len()));
                    lost.push(format!("tree {i} id {id:#x}: acknowledged {want:?}, found {got:?}"));
                }
            }
        }
        for pair in tree.range::<std::ops::RangeFull>(..) {
            let (k, v) = pair.unwrap();
            let id = u64::from_le_bytes(v[..8].try_into().unwrap());
            assert_eq!(common::key(id), k, "seed {seed}: a value under a foreign key");
            let t = id >> 32;
            assert_eq!(t % TREES, i as u64, "seed {seed}: id {id:#x} in another thread's tree");
            let r = &runs[t as usize];
            if !r.acked.contains_key(&id) && !r.uncertain.contains(&id) {
                panic!("seed {seed}: id {id:#x} present, never written");
            }
        }
    }
    assert!(
        lost.is_empty(),
        "seed {seed}: {} acknowledged changes lost after the abort, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    fs.unmount();
    Ok(())
}

#[test]
fn every_change_acknowledged_before_the_journal_aborted_survives_e2fsck() {
    let seed = std::env::var("BUFPOOL_EXT4_SEED").map_or_else(
        |_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |s| s.parse().expect("BUFPOOL_EXT4_SEED: a number"),
    );
    // Four rounds (about 2 s): a round of main before R31-1's fix lost an acknowledged change about one time in
    // five (RELIABILITY.md, R31-10).
    let rounds: u64 = std::env::var("BUFPOOL_EXT4_ROUNDS").map_or(4, |s| s.parse().expect("a number"));
    for i in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        if let Err(why) = round(dir.path(), seed.wrapping_add(i)) {
            eprintln!("SKIPPED every_change_acknowledged_before_the_journal_aborted_survives_e2fsck: {why}");
            return;
        }
    }
}
