//! Helpers shared by the integration tests: key and value generators, tree opening, and the fault-injecting
//! storages' wrapper (`hooked`, a file of the pool's tests).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use bufpool_btree::{open_dir, LeafHint, Options, OwnedOp, Tree, TreeWal};

/// A long key for `id`: a run of padding, then 8 scattered bytes. The padding comes first so that separators
/// (the shortest prefixes that tell neighbours apart) stay long too, and a 4 KiB tree gets several levels fast.
pub fn key(id: u64) -> Vec<u8> {
    let pad = 60 + (mix(id ^ 0xabc) % 56) as usize;
    let mut k = vec![b'k'; pad];
    k.extend_from_slice(&mix(id).to_be_bytes());
    k
}

/// The value for `id` at version `ver`, of varying length.
pub fn value(id: u64, ver: u64) -> Vec<u8> {
    let len = 8 + (mix(id.wrapping_add(ver)) % 300) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_le_bytes());
    while v.len() < len {
        v.push((mix(id ^ ver ^ v.len() as u64) & 0xff) as u8);
    }
    v
}

/// The value of `id` at version `ver`, `len` bytes (at least 16): its id and version, then bytes of both (long
/// ones fill leaves, so puts split and deletes merge).
pub fn sized_value(id: u64, ver: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ver.to_le_bytes());
    while v.len() < len {
        v.push((mix(id ^ ver ^ v.len() as u64) & 0xff) as u8);
    }
    v
}

/// The simulations' random numbers: splitmix64 (`mix`) over a counter, seeded by the test.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = mix(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15));
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// splitmix64's finaliser.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The written-LSN table's bound the crash tests run with: `BUFPOOL_STALE_CHECK_PAGES` if set (e.g. 64, one
/// chunk: the table forgets chunks all the time, which the tests' small trees never reach at the default bound),
/// else the pool's default (review24).
pub fn stale_check_pages() -> Option<usize> {
    std::env::var("BUFPOOL_STALE_CHECK_PAGES").ok().map(|s| {
        s.parse()
            .unwrap_or_else(|_| panic!("BUFPOOL_STALE_CHECK_PAGES={s}: not a page count"))
    })
}

/// A pool builder with [`stale_check_pages`]'s bound, if set.
pub fn pool_builder() -> bufpool::Builder {
    let b = bufpool::BufferPool::builder();
    match stale_check_pages() {
        Some(pages) => b.stale_check_pages(pages),
        None => b,
    }
}

/// A temporary directory in memory (`/dev/shm`, a tmpfs, where there is one; else the usual place), for a test
/// about the tree's logic whose many syncs would otherwise wait on the disk: `device_faults`' reuse test ran 102 s
/// in a debug build on this machine's disk and 13 s in memory (session 36, other builds running).
#[allow(dead_code)]
pub fn memory_tempdir() -> tempfile::TempDir {
    match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap()),
        false => tempfile::tempdir().unwrap(),
    }
}

/// Opens the tree in `dir` with 4 KiB pages and `frames` frames (in a pool of [`pool_builder`]'s).
pub fn open(dir: &Path, frames: usize) -> Tree {
    if stale_check_pages().is_none() {
        return open_dir(
            dir,
            Options {
                frames,
                page_size: 4096,
            },
        )
        .expect("open tree");
    }
    let pool = pool_builder().frames(frames).page_size(4096).build().expect("pool");
    bufpool_btree::open_dir_in(std::sync::Arc::new(pool), dir).expect("open tree")
}

/// The crash tests' workload: batches of puts, updates and deletes, each committed, with every op recorded in an
/// ops log (intent lines before the ops, a `C` line after the commit returned) that [`read_ops`] reads back.
pub mod crash {
    use std::collections::{HashMap, HashSet};
    use std::fs::File;
    use std::io::Write;
    use std::path::Path;
    use std::time::Duration;

    use bufpool_btree::Tree;

    use super::{key, mix, value};

    /// File name of the ops log inside a tree directory.
    pub const OPS_LOG: &str = "ops.log";

    /// One child's run of batches on one tree.
    pub struct Workload {
        rng: u64,
        next_id: u64,
        live: Vec<u64>,
        log: File,
        batch: u64,
    }

    impl Workload {
        /// Starts round `round` on the tree whose ops log is in `dir`; `seed` tells trees of one round apart.
        pub fn new(dir: &Path, round: u64, seed: u64) -> Workload {
            let mut log = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(dir.join(OPS_LOG))
                .unwrap();
            // A new round: whatever the previous child left uncommitted stays uncertain for good.
            log.write_all(format!("R {round}\n").as_bytes()).unwrap();
            Workload {
                rng: mix(round + 77 + seed),
                next_id: (round + 1) << 32,
                live: Vec::new(),
                log,
                batch: 0,
            }
        }

        /// Runs one batch of 1..=24 ops and commits it; checkpoints every 40 batches (plain), and 20 batches later
        /// (spread).
        pub fn batch(&mut self, tree: &Tree) {
            let batch = self.batch;
            self.batch += 1;
            self.rng = mix(self.rng);
            let mut put_now = Vec::new();
            for n in 0..1 + self.rng % 24 {
                let r = mix(self.rng ^ n);
                let choice = r % 10;
                if choice < 2 && !self.live.is_empty() {
                    let id = self.live.swap_remove((r >> 8) as usize % self.live.len());
                    self.log.write_all(format!("D {id}\n").as_bytes()).unwrap();
                    assert!(tree.delete(&key(id)).unwrap());
                } else if choice < 4 && !self.live.is_empty() {
                    let id = self.live[(r >> 8) as usize % self.live.len()];
                    self.log.write_all(format!("P {id} {batch}\n").as_bytes()).unwrap();
                    tree.put(&key(id), &value(id, batch)).unwrap();
                } else {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.log.write_all(format!("P {id} {batch}\n").as_bytes()).unwrap();
                    tree.put(&key(id), &value(id, batch)).unwrap();
                    put_now.push(id);
                }
            }
            tree.commit().unwrap();
            self.log.write_all(b"C\n").unwrap();
            self.live.extend(put_now);
            if batch % 40 == 39 {
                tree.checkpoint().unwrap();
            } else if batch % 40 == 19 {
                tree.checkpoint_spread(Duration::from_millis(20)).unwrap();
            }
        }
    }

    /// What the ops log in `dir` says: the last committed state of every id, the ids of batches in flight at a
    /// kill, and the number of commits.
    pub fn read_ops(dir: &Path) -> (HashMap<u64, Option<u64>>, HashSet<u64>, usize) {
        let text = std::fs::read_to_string(dir.join(OPS_LOG)).unwrap_or_default();
        let mut state = HashMap::new();
        let mut pending: Vec<(u64, Option<u64>)> = Vec::new();
        let mut uncertain = HashSet::new();
        let mut commits = 0;
        // A line cut by the kill has no newline: `lines()` would still yield it, so drop an unterminated tail.
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        for line in complete.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["C"] => {
                    commits += 1;
                    state.extend(pending.drain(..));
                }
                ["P", id, ver] => pending.push((id.parse().unwrap(), Some(ver.parse().unwrap()))),
                ["D", id] => pending.push((id.parse().unwrap(), None)),
                // The ids of an earlier round's batch in flight are never touched again; they stay uncertain.
                ["R", _] => uncertain.extend(pending.drain(..).map(|(id, _)| id)),
                _ => panic!("bad ops line {line:?}"),
            }
        }
        uncertain.extend(pending.into_iter().map(|(id, _)| id));
        (state, uncertain, commits)
    }

    /// Checks a recovered `tree` against the ops log in `dir`: invariants, every committed change present, nothing
    /// present that was never committed. Returns the number of committed batches.
    pub fn verify(tree: &Tree, dir: &Path) -> usize {
        let stats = tree.check().expect("invariants after recovery");
        eprintln!("after recovery: {stats:?}");
        let (state, uncertain, commits) = read_ops(dir);
        for (&id, &want) in &state {
            if uncertain.contains(&id) {
                continue;
            }
            let got = tree.get(&key(id)).unwrap();
            assert_eq!(got, want.map(|ver| value(id, ver)), "id {id} after recovery");
        }
        let mut n = 0;
        for pair in tree.range::<std::ops::RangeFull>(..) {
            let (k, v) = pair.unwrap();
            let id = u64::from_le_bytes(v[..8].try_into().unwrap());
            assert_eq!(key(id), k, "value under a foreign key");
            assert!(
                matches!(state.get(&id), Some(Some(_))) || uncertain.contains(&id),
                "id {id} present but never committed as present"
            );
            n += 1;
        }
        assert_eq!(n, stats.entries);
        commits
    }

    /// Crash rounds to run: `BTREE_CRASH_ROUNDS` if set, else `default`.
    pub fn rounds(default: u64) -> u64 {
        std::env::var("BTREE_CRASH_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    /// Spawns this test binary's `child` test with `env`, lets it run a while (`seed` varies how long), SIGKILLs it
    /// and reaps it.
    pub fn run_and_kill(child: &str, env: &[(&str, String)], seed: u64) {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([child, "--exact", "--ignored", "--test-threads=1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(150 + mix(seed) % 600));
        // SAFETY: plain syscall on the pid of a child we spawned and have not yet reaped.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0);
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "child exited by itself: {status:?}");
    }
}

/// A tree of 300 committed keys whose changes are in `log` only (the tree dropped with its pool, which writes
/// nothing): what a recovery test opens with a misbehaving log storage in front of `log`.
pub fn committed_in_log_only(log: &Arc<bufpool::storage::MemoryStorage>, data: &Arc<bufpool::storage::MemoryStorage>) {
    let pool = Arc::new(
        bufpool::BufferPool::builder()
            .frames(256)
            .page_size(4096)
            .build()
            .unwrap(),
    );
    let wal = TreeWal::open_storage(log.clone()).unwrap();
    let tree = Tree::create_storage(pool, wal, data.clone()).unwrap();
    for id in 0..300 {
        tree.put(&key(id), &value(id, 0)).unwrap();
    }
    tree.commit().unwrap();
}

/// `tree` holds the 300 keys of [`committed_in_log_only`], checked clean; `what` opens the failure's message.
pub fn assert_committed_keys(tree: &Tree, what: &str) {
    let entries = tree.check().unwrap().entries;
    assert_eq!(entries, 300, "{what}: {entries} of 300 committed keys recovered");
    for id in (0..300).step_by(7) {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 0)), "key {id}");
    }
}

/// The `i` of every put of a key `key{i:05}` the log holds, in log order (the header tests' records).
pub fn put_ids(wal: &TreeWal) -> Vec<u32> {
    let mut out = Vec::new();
    wal.scan(|_, ops| {
        for op in ops {
            if let OwnedOp::Put(_, k, _) = op {
                out.push(std::str::from_utf8(&k[3..]).unwrap().parse().unwrap());
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// Every record's end in `wal`, from the log's start.
pub fn record_ends(wal: &TreeWal) -> Vec<u64> {
    let mut ends = Vec::new();
    wal.scan(|end, _| {
        ends.push(end);
        Ok(())
    })
    .unwrap();
    ends
}

/// Appends `n` log records, one `Put` each, from page `first` (key: the page number, value: `val_len` bytes of
/// `fill`); returns their ends, or the first error.
pub fn append_puts(
    wal: &bufpool_btree::TreeWal,
    first: u32,
    n: u32,
    val_len: usize,
    fill: u8,
) -> bufpool_btree::Result<Vec<u64>> {
    let val = vec![fill; val_len];
    (first..first + n)
        .map(|i| {
            wal.append(&[bufpool_btree::Op::Put {
                page: i,
                key: &i.to_be_bytes(),
                val: &val,
            }])
        })
        .collect()
}

/// Logs `puts` above as one record, as a layer above does before it changes its trees (the record's `page` unused).
pub fn log_puts_above(above: &TreeWal, puts: &[(Vec<u8>, Vec<u8>)]) {
    let ops: Vec<bufpool_btree::Op<'_>> = puts
        .iter()
        .map(|(k, v)| bufpool_btree::Op::Put {
            page: 0,
            key: k,
            val: v,
        })
        .collect();
    above.append(&ops).unwrap();
}

/// The puts of `puts` as a run for [`Tree::put_covered_run`], each with no hint.
pub fn covered_run(puts: &[(Vec<u8>, Vec<u8>)]) -> Vec<bufpool_btree::CoveredPut<'_>> {
    puts.iter()
        .map(|(k, v)| bufpool_btree::CoveredPut {
            key: k,
            val: v,
            hint: LeafHint::default(),
        })
        .collect()
}

/// One covered put: logged above first, then applied to `tree` as a covered change with no hint.
pub fn covered_put(above: &TreeWal, tree: &Tree, key: &[u8], val: &[u8]) {
    log_puts_above(above, &[(key.to_vec(), val.to_vec())]);
    tree.put_covered(key, val, &mut LeafHint::default()).unwrap();
}

/// Redoes the log of the layer above into `tree`, as that layer does after a crash: each put and delete it logged,
/// as a covered change (the tests' logs above hold only puts and deletes).
pub fn redo_above(above: &TreeWal, tree: &Tree) {
    above
        .scan(|_, ops| {
            for op in ops {
                match op {
                    OwnedOp::Put(_, k, v) => tree.put_covered(&k, &v, &mut LeafHint::default())?,
                    OwnedOp::Del(_, k) => {
                        tree.delete_covered(&k, &mut LeafHint::default())?;
                    }
                    _ => unreachable!("only puts and deletes above"),
                }
            }
            Ok(())
        })
        .unwrap();
}

// The tests' fault-injecting storages (`Hooked`, `Hooks`), one file for both crates' tests.
#[path = "../../../bufpool/tests/common/hooked.rs"]
pub mod hooked;
pub mod writers;

/// Hooks that give a data storage a file record of its own, kept in a second `FaultyStorage` (as a file's sidecar
/// `<file>.bpmeta` beside it): the record's writes are readable at once and durable only once synced, as the
/// sidecar's are, and a power loss of it (`FaultyStorage::crash`) keeps what was synced. A data storage
/// `Hooked::new(pages, Sidecar(record))` is bound (its pages stamped with the record's identity, which the
/// tree's log then names), as a data file opened by path is. Every call on the pages goes to the storage below
/// as it is, batches included (`FaultyStorage::submit`'s own short transfers).
pub struct Sidecar(pub Arc<bufpool::storage::FaultyStorage>);

impl bufpool::storage::RecordStore for Sidecar {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        use bufpool::storage::Storage;
        let len = self.0.len()?;
        if offset >= len {
            return Ok(0);
        }
        let n = buf.len().min((len - offset) as usize);
        self.0.read_at(&mut buf[..n], offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        bufpool::storage::Storage::write_at(&*self.0, buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        bufpool::storage::Storage::sync(&*self.0)
    }
}

impl hooked::Hooks for Sidecar {
    fn submit(&self, below: &dyn bufpool::storage::Storage, batch: &mut [bufpool::storage::IoRequest<'_>]) {
        below.submit(batch)
    }
    fn record_store<'a>(
        &'a self,
        _: &'a dyn bufpool::storage::Storage,
    ) -> Option<&'a dyn bufpool::storage::RecordStore> {
        Some(self)
    }
}

/// A `Storage` of the caller's over a `MemoryStorage` that panics once, at its `n`th read, write or sync from
/// when that is armed: a log's (`log_storage_panics.rs`) or a data file's (`api_combinations.rs`).
pub mod panicky {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use bufpool::storage::{MemoryStorage, Storage};

    use super::hooked::{Hooked, Hooks};

    pub struct Panicky {
        /// Whose storage it is, in the panic's message ("the log storage": "the log storage's read panicked").
        pub what: &'static str,
        /// Calls to go before the panic; negative: disarmed.
        pub reads: AtomicI64,
        pub writes: AtomicI64,
        pub syncs: AtomicI64,
    }

    impl Panicky {
        /// `inner` through disarmed `Panicky` hooks.
        pub fn new(inner: Arc<MemoryStorage>, what: &'static str) -> Arc<Hooked<Arc<MemoryStorage>, Panicky>> {
            let hooks = Panicky {
                what,
                reads: AtomicI64::new(-1),
                writes: AtomicI64::new(-1),
                syncs: AtomicI64::new(-1),
            };
            Arc::new(Hooked::new(inner, hooks))
        }
    }

    /// Counts a call down: true for the call that panics.
    fn due(calls: &AtomicI64) -> bool {
        calls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n >= 0).then(|| n - 1))
            .is_ok_and(|n| n == 0)
    }

    impl Hooks for Panicky {
        fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            if due(&self.reads) {
                panic!("{}'s read panicked", self.what);
            }
            below.read_at(buf, offset)
        }
        fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
            if due(&self.writes) {
                panic!("{}'s write panicked", self.what);
            }
            below.write_at(buf, offset)
        }
        fn sync(&self, below: &dyn Storage) -> std::io::Result<()> {
            if due(&self.syncs) {
                panic!("{}'s sync panicked", self.what);
            }
            below.sync()
        }
    }
}

/// A log file image of this build in the layout before session 44 (`log_format_version.rs`, `legacy_upgrade_*`,
/// `full_filesystem.rs`: logs of the sector layout, made from logs this build wrote).
pub mod layouts {
    /// The header slots of a log in the layout before session 44 ("sector layout"), which the tests here make with
    /// [`sectors_layout`]: the legacy logs are of that layout.
    pub const SLOT_AT: [u64; 2] = [0, 512];
    /// The header slots of a log this build makes (the block layout, `wal.rs`' module docs, "The block layout").
    pub const BLOCK_SLOT_AT: [u64; 2] = [0, 4096];

    /// A log image of this build (the block layout: slots at 0 and 4096, `BPTWAL05`, records from 8192) as the same log
    /// in the layout of sessions 42 and 43: slots at 0 and 512 (`BPTWAL04`, `base` 7,168 bytes lower), records from
    /// 1024 (a bounded log's regions too: their length is kept, the capacity 7,168 bytes less). A slot of another
    /// magic is copied as it is.
    pub fn sectors_layout(image: &[u8]) -> Vec<u8> {
        const SHIFT: u64 = 8192 - 1024;
        let mut out = vec![0u8; 1024];
        for (from, to) in BLOCK_SLOT_AT.into_iter().zip(SLOT_AT) {
            let mut slot: [u8; 128] = image[from as usize..from as usize + 128].try_into().unwrap();
            if &slot[..8] == b"BPTWAL05" {
                slot[..8].copy_from_slice(b"BPTWAL04");
                let base = u64::from_le_bytes(slot[40..48].try_into().unwrap());
                slot[40..48].copy_from_slice(&(base - SHIFT).to_le_bytes());
                let crc = crc32c::crc32c(&slot[..60]);
                slot[60..64].copy_from_slice(&crc.to_le_bytes());
                if slot[64..68] != [0; 4] {
                    // The data file's name: its checksum covers the magic too (`wal.rs`, `data_crc`).
                    let crc = crc32c::crc32c_append(crc32c::crc32c(&slot[64..68]), &slot[..40]);
                    slot[68..72].copy_from_slice(&crc.to_le_bytes());
                }
            }
            out[to as usize..to as usize + 128].copy_from_slice(&slot);
        }
        out.extend_from_slice(&image[8192.min(image.len())..]);
        out
    }
}
