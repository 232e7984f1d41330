//! A concurrent whole-API model (issue 11): seeded schedules of every public operation on real threads, with
//! injected I/O failures and panicking callbacks, checked against an exact page model.
//!
//! # Sizes and replay
//! - CI (`cargo test -p bufpool`): `SMOKE_SCHEDULES` (150) schedules of 4 threads x 100 operations, twice: with
//!   the features of `Features::without_open_bugs()` (every trigger, now that the bugs it found are fixed: the
//!   `*_OPEN` constants in `tests/common/model.rs` are all `false`) and with `Features::all()`; a few seconds in a
//!   debug build.
//! - Long mode: `BUFPOOL_MODEL_SCHEDULES=N` runs N schedules (seeds 0..N, or S..S+N with
//!   `BUFPOOL_MODEL_FIRST=S`) and keeps going after a failure,
//!   printing every failing seed; `BUFPOOL_MODEL_OPS=K` sets the operations per thread;
//!   `BUFPOOL_MODEL_SEED=S` replays schedule S alone; `BUFPOOL_MODEL_ALL=1` turns every trigger on (the open
//!   bugs too); `BUFPOOL_MODEL_OFF=storage_panics,wal_panics` switches triggers off (names: the fields of
//!   `Features` in `tests/common/model.rs`). Example: `BUFPOOL_MODEL_SCHEDULES=2000 cargo test --release -p bufpool --test integration
//!   -- whole_api_model:: --nocapture`. `whole_api_model_all_features` runs the smoke size with everything on.
//!
//! # Why a seeded scheduler of our own, not shuttle
//! shuttle explores interleavings only of code written against its own `sync`/`thread` types. The pool's
//! `sync.rs` facade swaps in loom's atomics for the state word alone; the rest of the core uses `parking_lot`
//! mutexes and rwlocks, `crossbeam` queues and channels, std atomics, real I/O worker and background-writer
//! threads, and wall-clock deadlines (`LATCH_WAIT_MAX`, `LOADS_WAIT_MAX`, `Backoff`'s sleeps). Running it under
//! shuttle would mean routing all of those through a facade first (a change to the core, which is not this
//! test's to make), and a deadline measured in real time means nothing under a model scheduler. So the model
//! runs the real pool on real threads: a seed fixes each thread's operation sequence, its injected faults and
//! its jitter (yields and sleeps of up to 300 us between operations, which vary the interleavings), and the
//! operating system interleaves the rest. A seed therefore replays the same operations, not the same
//! interleaving: a failure found here is pinned down by a deterministic test in `model_findings.rs`.
//!
//! # The model (`tests/common/model.rs`)
//! - Files 0..3 under fixed ids. Any thread may create, free, read and write any page, and close, drop and
//!   reopen any file (`open_storage_as` under the same id: the same storage after `close_file`, a new empty one
//!   after `drop_file`).
//! - Page contents are self-describing: page id and a generation unique to the write, the rest derived from
//!   them, so any read can tell a whole version of the right page from torn or foreign bytes.
//! - The model is exact under concurrency because it is updated and checked while the page's latch is held:
//!   a writer records its generation before it drops its `WriteGuard`, and a reader compares under its
//!   `ReadGuard` (no writer can intervene). `free_page` marks the page `Freeing` first (any version of the page
//!   may be seen until it returns); optimistic reads, which hold no latch, must return a generation between the
//!   model's before and after the call.
//! - Operations: `open_storage_as`, `close_file`, `drop_file`, `new_page`, `free_page`, `read`, `write`,
//!   `read_optimistic` (closures that panic), `read_many` (visitors that read another page of the batch while
//!   holding theirs, visitors that panic), `prefetch`, scan rings, `flush`, `flush_file`, `checkpoint`,
//!   `checkpoint_spread`, and (session 36) `ReadGuard::try_upgrade` with a write through the upgraded guard and
//!   sometimes `WriteGuard::downgrade` (what the shared guard read is still the page; a freed page takes no
//!   write guard), `expect_lsn` of the LSN the page has on storage (true, so no later load may fail it),
//!   `written_lsns` (sorted by page, none above `upto`), `file_identity` (carried by every page this open
//!   wrote), and `close_all` while the other threads go on (every file open when it starts closed, checked as a
//!   `close_file`, or left open and failed); and (session 38) `flush_files` of two files (or one twice), paced
//!   by `flush_files_spread` on half, `checkpoint_report` (each outcome a checkpoint's error, `durable` and
//!   `failed` partitioning it), and the operator's views (`held_latches`, `resident_pages`, `stats` with no
//!   counter going back since the thread's last, `file_stats`, `file_pages`, `prefetch_lookup`/`prefetch_frame`),
//!   each consistent with itself and the pool's size; and (session 39) MVCC snapshots (`Builder::snapshots` on
//!   half the seeds: a snapshot begun at the model's next LSN and held over 0-5 of the thread's steps, after which
//!   every page of a model file written since, in a life of its file that did not change meanwhile, must still be
//!   resident), two files opened by path in the schedule's directory (`open_file_as` under the slot's id or
//!   another, pages written, read back and compared, the same path opened again: `FileAlreadyOpen` naming the id;
//!   another path under the open id: `FileIdInUse` with nothing created; closed with every page on disk, reopened
//!   with every page), and `open_file_as` of each thread's own new path under one id all threads race for (a
//!   refused open leaves nothing at its path); and (session 40, `Features::path_io`) the files by path opened per seed
//!   with an `IoBackend` (auto, pread, io_uring) and an `OpenMode` (direct or buffered, buffered, direct only;
//!   `Stats::files` must say so), in a directory on `/dev/shm`, on the disk, or on a 1 MiB tmpfs the run mounts
//!   (as root; `SKIPPED` otherwise) whose device one `Op::PathFile` step in four fills or frees between steps
//!   (`NoSpace` from the pool's writes, a new file's record refused; freed before the quiesce, after which every
//!   close and reopen must have every page), and a second pool that opens each closed file by path, reads every
//!   page and closes it before the first pool reopens it. Before an operation a thread may inject a one-shot failed read,
//!   write or sync of a file, a failed `Wal::flush_to` of the file's log, arm a panic in its own next `Storage`
//!   read/write/sync, `Wal::flush_to`, eviction-veto call or (rarely) policy-object `on_insert`/`victim_for`
//!   (armed per thread, so the pool's own threads never panic), or arm a call back into the pool from one of
//!   those callbacks: `Storage::read_at` reading the page it loads, `Storage::write_at` writing the first page
//!   of its run, the veto reading its candidate, `Policy::on_insert` reading its page and `victim_for` the page
//!   of the frame it took must each get `CallbackReentry` at once (R35-20), then read a page of another
//!   file (never `CallbackReentry`, but from a batch's submit, R36-2, or a miss from the veto, R36-21). Pool shape per seed: 12-32 frames, one of five policies (as a policy object
//!   wrapping the built-in, `Builder::custom_policy`, on a third of the seeds), a `Preset` under the settings on
//!   a quarter, 0-2 I/O threads, `frame_wait` of 1-9 ms on a quarter, an eviction veto, the background writer on
//!   a third of the seeds (sometimes rate-limited), and on a quarter each (session 38) `clean_write_guards`,
//!   `latch_times` and a written-LSN table of one chunk (`stale_check_pages(64)`); each file has its own log (`FileOptions::wal`,
//!   `open_storage_with`) or the builder's, and every page a storage writes is checked against its file's log
//!   (the WAL rule: its LSN at or below what that log last flushed).
//! - Every error is judged by a function per operation listing the variants the docs allow (`read_allowed`,
//!   `new_page_allowed`, ... in `model.rs`); `FileNotOpen` only when the file was being closed or reopened
//!   around the call.
//! - A freed page is held to what `free_page`'s docs promise (L11-1 in RELIABILITY.md): a page whose
//!   `free_page` returned `Ok` (with no other free of its number overlapping) is `Listed` until a `new_page`
//!   gives its number out again or a reopen forgets the list. An op that found it listed before and after, with
//!   no `new_page` of its file and no `free_page` of its number running meanwhile, must be refused by `write`
//!   (`PageFreed`), and served its last image or refused with `PageFreed` by `read`, `read_optimistic`,
//!   `read_many` (and its visitors' reads) and scan rings, never `ShortRead` or `OutOfRange` (`refused_freed`);
//!   `flush` and `prefetch` of it are not out of range; the quiesce checks demand `PageFreed` from `write` of
//!   every listed page. `new_page` must never give out a number the model has allocated (with no `free_page` of
//!   it running), nor one above a number listed for its whole call (no other `new_page` of the file, no
//!   `free_page` of that number, no reopen meanwhile): the docs promise the lowest freed number.
//!
//! # Invariants after every schedule (quiesced: workers joined, faults off)
//! The files the pool has open are the model's; every page of every open file can be write-latched (failed
//! files: read, then dropped, which latches every frame) and holds the model's bytes; one checkpoint may return
//! the background writer's last error, the next must succeed and leave `Stats::dirty == 0`; every closed or
//! dropped id, reopened over an empty storage, serves no page (a stale resident page would be a hit); a cleanly
//! closed file reopens with the model's bytes, and so does each file opened by path; after dropping every file
//! nothing is resident or dirty; a fresh file can cycle a page through every frame. On a quarter of the seeds
//! (session 39) the last two steps give way to `BufferPool::close`: every page of every open file is dirtied, on
//! half of those seeds file 0's next sync is made to fail, and once every thread has let the pool go `close`
//! (beside the pool's own writer and I/O threads) must return `Ok`, or a write-back error with the failed sync,
//! with every other file's pages on its storage and every file opened by path's on disk. `close_file` returning `Ok` is also checked against the storage
//! image at once, and so is every file `close_all` closed. After a policy object panicked, misses that need a
//! victim may fail with its `Panicked` (the pool never calls it again); hits and free frames must still serve.
//! The WAL-rule violations the storages saw are reported with the schedule's. A watchdog (workers, checks and dropping the pool) turns every hang into a failure that
//! prints the seed and what each thread was doing.

use crate::common;

use std::time::{Duration, Instant};

use common::model::{run_many, Config, Features};

/// Schedules per CI run.
const SMOKE_SCHEDULES: u64 = 150;
/// Operations per thread per schedule (CI).
const SMOKE_OPS: usize = 100;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn config(features: Features) -> Config {
    Config {
        threads: 4,
        ops_per_thread: env("BUFPOOL_MODEL_OPS").map_or(SMOKE_OPS, |n| n as usize),
        files: 3,
        features,
        watchdog: Duration::from_secs(30),
    }
}

fn run(features: Features, schedules: u64) {
    let long = env("BUFPOOL_MODEL_SCHEDULES").is_some();
    let all = env("BUFPOOL_MODEL_ALL").is_some_and(|v| v != 0);
    let mut features = if all { Features::all() } else { features };
    if let Ok(off) = std::env::var("BUFPOOL_MODEL_OFF") {
        features.switch_off(&off);
    }
    let config = config(features);
    let seeds: Box<dyn Iterator<Item = u64>> = match env("BUFPOOL_MODEL_SEED") {
        Some(s) => Box::new(std::iter::once(s)),
        None => {
            let first = env("BUFPOOL_MODEL_FIRST").unwrap_or(0);
            Box::new(first..first + env("BUFPOOL_MODEL_SCHEDULES").unwrap_or(schedules))
        }
    };
    let start = Instant::now();
    let (tally, failures, ran) = run_many(seeds, &config, !long);
    eprintln!(
        "whole-API model: {ran} schedules x {} threads x {} ops in {:?}: {} ops ({} ok), errors {:?}, injected \
         failures {}, injected panics {}, calls back into the pool {}, snapshots {} ({} protected pages checked), \
         opens by path {}, pool closes {}, full devices {}, opens in the second pool {}; {} failing schedules",
        config.threads,
        config.ops_per_thread,
        start.elapsed(),
        tally.ops,
        tally.ok,
        tally.errors,
        tally.injected_failures,
        tally.injected_panics,
        tally.reentries,
        tally.snapshots,
        tally.protected_checked,
        tally.path_opens,
        tally.closes,
        tally.fills,
        tally.other_pool_opens,
        failures.len()
    );
    if let Some((seed, what)) = failures.first() {
        panic!(
            "{} of {ran} schedules failed; first: seed {seed} (replay: BUFPOOL_MODEL_SEED={seed}):\n{what}",
            failures.len()
        );
    }
}

#[test]
fn whole_api_model() {
    run(Features::without_open_bugs(), SMOKE_SCHEDULES);
}

#[test]
fn whole_api_model_all_features() {
    run(Features::all(), SMOKE_SCHEDULES);
}
