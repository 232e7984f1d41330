//! What the tests that run committing writers beside faults and a power loss share
//! (`checkpoint_faults_concurrent.rs`, `structure_faults_concurrent.rs`): a tree's devices on `FaultyStorage`s and
//! what a power loss leaves of them; a model of each key's versions (every key owned by one writer, so the model
//! is exact per key); and the writer's loop.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bufpool::storage::{FaultConfig, FaultyStorage};
use bufpool::BufferPool;
use bufpool_btree::{Error, Tree, TreeWal};

use super::hooked::Hooked;
use super::{Rng, Sidecar};

/// The smallest bounded log (`TreeWal::open_storage_with_capacity`), as `sim_crash.rs` uses.
pub const BOUNDED_LOG: u64 = 8192 + 2 * bufpool_btree::REGION_MIN;

/// A tree's devices: its log, its data file's pages and the data file's record (as the sidecar `.bpmeta` of a file
/// opened by path: the pages carry its identity, and the log names it). Log and pages keep or lose each unsynced
/// sector at a power loss (`FaultConfig::crash_only`); the record keeps what was synced.
pub struct Devices {
    /// The log bounded at [`BOUNDED_LOG`] (its region switched at each cut), else unbounded.
    pub bounded: bool,
    pub log: Arc<FaultyStorage>,
    pub data: Arc<FaultyStorage>,
    pub record: Arc<FaultyStorage>,
}

impl Devices {
    /// Fresh devices, seeded `seed` (log), `seed + 1` (pages) and `seed + 2` (record).
    pub fn new(seed: u64, bounded: bool) -> Devices {
        Devices {
            bounded,
            log: Arc::new(FaultyStorage::new(seed, FaultConfig::crash_only())),
            data: Arc::new(FaultyStorage::new(seed + 1, FaultConfig::crash_only())),
            record: Arc::new(FaultyStorage::new(seed + 2, FaultConfig::none())),
        }
    }

    /// The power loss of all three, the log's first if `log_first` (writers may still run in between): each
    /// unsynced sector kept or lost, and if `garble`, the data file's pages as a device written through a 4 KiB
    /// page cache leaves them, half the sectors of a page in flight garbled (`FaultyStorage::crash_garbling_blocks`).
    /// Never the log's: an append rewrites its last block, committed records included (R44-O2). Returns their
    /// images as fresh devices.
    pub fn power_loss(&self, seed: u64, garble: bool, log_first: bool) -> Devices {
        let data = || match garble {
            true => self.data.crash_garbling_blocks(0.5),
            false => self.data.crash(),
        };
        let (log, data) = match log_first {
            true => {
                let log = self.log.crash();
                (log, data())
            }
            false => {
                let data = data();
                (self.log.crash(), data)
            }
        };
        let image = |seed, image| Arc::new(FaultyStorage::from_image(seed, FaultConfig::none(), image));
        Devices {
            bounded: self.bounded,
            log: image(seed, log),
            data: image(seed + 1, data),
            record: image(seed + 2, self.record.crash()),
        }
    }

    /// The tree on these devices in `pool` (recovering from its log).
    pub fn open(&self, pool: &Arc<BufferPool>) -> Result<Tree, Error> {
        let wal = match self.bounded {
            true => TreeWal::open_storage_with_capacity(self.log.clone(), BOUNDED_LOG)?,
            false => TreeWal::open_storage(self.log.clone())?,
        };
        Tree::open_storage(
            pool.clone(),
            wal,
            Hooked::new(self.data.clone(), Sidecar(self.record.clone())),
        )
    }
}

/// What version `v` of key `id` leaves: a value, or `None` for a delete.
pub type State = fn(id: u64, v: u64) -> Option<Vec<u8>>;

/// Per key of one tree: the version of its last committed op, of its last applied one (`Ok`), of its last started
/// one; and the versions whose op returned `Err`. Every key starts at version 1 (the load's, committed).
pub struct Model {
    pub state: State,
    pub committed: Vec<AtomicU64>,
    pub done: Vec<AtomicU64>,
    pub started: Vec<AtomicU64>,
    pub failed: Mutex<HashSet<(u64, u64)>>,
}

impl Model {
    pub fn new(keys: u64, state: State) -> Model {
        let one = || (0..keys).map(|_| AtomicU64::new(1)).collect();
        Model {
            state,
            committed: one(),
            done: one(),
            started: one(),
            failed: Mutex::new(HashSet::new()),
        }
    }

    /// `Err` unless `got` is the state of a version of `id` in `lo..=hi` whose op did not fail.
    pub fn check(&self, id: u64, got: Option<&[u8]>, lo: u64, hi: u64, what: &str) -> Result<(), String> {
        let failed = self.failed.lock().unwrap();
        let state = |v| (self.state)(id, v);
        if (lo..=hi).any(|v| !failed.contains(&(id, v)) && state(v).as_deref() == got) {
            return Ok(());
        }
        let held = (0..=hi + 1).find(|&v| state(v).as_deref() == got);
        Err(format!(
            "{what}: key {id} holds version {held:?} (None: none up to {}; failed: {}), not one from {lo} to {hi} \
             whose op succeeded",
            hi + 1,
            held.is_some_and(|v| failed.contains(&(id, v)))
        ))
    }

    /// [`Model::check`] of every key of `tree` from its last committed version to its last started one (after a
    /// power loss): the first that fails.
    pub fn check_committed(&self, tree: &Tree, what: &str) -> Result<(), String> {
        for id in 0..self.started.len() as u64 {
            let got = tree
                .get(&super::key(id))
                .map_err(|e| format!("{what}: get of key {id}: {e}"))?;
            let (lo, hi) = (
                self.committed[id as usize].load(Ordering::Relaxed),
                self.started[id as usize].load(Ordering::Relaxed),
            );
            self.check(id, got.as_deref(), lo, hi, what)?;
        }
        Ok(())
    }
}

/// Writer `t` of `writers` (it owns the keys `id % writers == t`): batches of 1 to 8 puts and deletes of its keys
/// (each the key's next version, [`Model::state`]), each batch committed, until `stop`; counts its commits in
/// `commits`. An op or a commit that fails goes to `refuse` (which panics on an error that is no device fault's).
pub fn writer(
    tree: &Tree,
    model: &Model,
    (t, writers): (u64, u64),
    seed: u64,
    stop: &AtomicBool,
    commits: &AtomicU64,
    refuse: fn(&Error, &str),
) {
    let mut rng = Rng(seed ^ (t << 32) ^ 0x77);
    let own: Vec<u64> = (0..model.started.len() as u64).filter(|id| id % writers == t).collect();
    while !stop.load(Ordering::Acquire) {
        let mut done = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let id = own[rng.below(own.len() as u64) as usize];
            let v = model.started[id as usize].load(Ordering::Relaxed) + 1;
            model.started[id as usize].store(v, Ordering::SeqCst);
            let r = match (model.state)(id, v) {
                Some(val) => tree.put(&super::key(id), &val),
                None => tree.delete(&super::key(id)).map(|_| ()),
            };
            match r {
                Ok(()) => {
                    model.done[id as usize].store(v, Ordering::SeqCst);
                    done.push((id, v));
                }
                Err(e) => {
                    refuse(&e, &format!("writer {t}: op of key {id} version {v}"));
                    model.failed.lock().unwrap().insert((id, v));
                }
            }
        }
        match tree.commit() {
            Ok(()) => {
                for (id, v) in done {
                    model.committed[id as usize].fetch_max(v, Ordering::Relaxed);
                }
                commits.fetch_add(1, Ordering::Release);
            }
            Err(e) => {
                refuse(&e, &format!("writer {t}: commit"));
                std::thread::yield_now();
            }
        }
    }
}
