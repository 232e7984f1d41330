//! The checkpoint contract an engine truncates its log by: when `checkpoint()` returns `Ok`, every change whose
//! `set_lsn` happened before the call is durable, even while other threads keep writing. Writers append "log
//! records" (an LSN from a shared counter, taken while holding the page's write guard, as the WAL protocol has it)
//! and stamp them into pages; the checkpointer notes the log's end as the redo point, checkpoints, and the storage
//! crashes, losing every unsynced write. Every change before the redo point must be in the crashed image, so the
//! log before it could have been dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use bufpool::storage::{FaultConfig, FaultyStorage};
use bufpool::{BufferPool, PageId};
use rand::{rngs::StdRng, Rng, SeedableRng};

const PAGES: u32 = 64;

#[test]
fn every_change_before_the_redo_point_survives_a_crash_after_checkpoint() {
    for seed in 0..4u64 {
        run(seed);
    }
}

fn run(seed: u64) {
    let storage = Arc::new(FaultyStorage::new(seed, FaultConfig::none()));
    // 16 frames for 64 pages: evictions write pages too, concurrently with the checkpoint.
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for _ in 0..PAGES {
        drop(pool.new_page(file).unwrap());
    }
    pool.checkpoint().unwrap();

    let log_end = AtomicU64::new(1); // the next LSN
    let changes: Mutex<Vec<(u64, u32)>> = Mutex::new(Vec::new());
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let redo = std::thread::scope(|s| {
        for t in 0..3u64 {
            let (pool, log_end, changes, done, stop) = (&pool, &log_end, &changes, &done, &stop);
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed * 10 + t);
                let mut mine = Vec::new();
                while !stop.load(SeqCst) {
                    let n = rng.random_range(0..PAGES);
                    let mut g = pool.write(PageId::new(file, n)).unwrap();
                    let lsn = log_end.fetch_add(1, SeqCst); // "append the log record" under the guard
                    g[..8].copy_from_slice(&lsn.to_le_bytes());
                    g.set_lsn(lsn);
                    drop(g);
                    mine.push((lsn, n));
                    done.fetch_add(1, SeqCst);
                }
                changes.lock().unwrap().extend(mine);
            });
        }
        while done.load(SeqCst) < 2_000 {
            std::thread::yield_now();
        }
        let redo = log_end.load(SeqCst);
        pool.checkpoint().unwrap();
        // Keep writing a little after the checkpoint: those writes are unsynced and the crash loses them.
        let after = done.load(SeqCst) + 500;
        while done.load(SeqCst) < after {
            std::thread::yield_now();
        }
        stop.store(true, SeqCst);
        redo
    });

    // The latest change to each page before the redo point.
    let mut needed: HashMap<u32, u64> = HashMap::new();
    for &(lsn, n) in changes.lock().unwrap().iter().filter(|&&(lsn, _)| lsn < redo) {
        let e = needed.entry(n).or_default();
        *e = (*e).max(lsn);
    }
    assert!(needed.len() > PAGES as usize / 2, "the writers touched most pages");

    let image = storage.crash_to_memory();
    drop(pool);
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(image).unwrap();
    for (n, want) in needed {
        let g = pool.read(PageId::new(file, n)).unwrap();
        let got = u64::from_le_bytes(g[..8].try_into().unwrap());
        assert_eq!(g.lsn(), got, "page LSN and content agree");
        assert!(
            got >= want,
            "seed {seed}: page {n} lost the change at LSN {want} (before the redo point {redo}); it has {got}"
        );
    }
}
