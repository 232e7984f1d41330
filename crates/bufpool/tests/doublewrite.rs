//! The doublewrite area (`FileOptions::doublewrite`, `doublewrite.rs`): a page a crash tore while the pool wrote it in place is restored from its copy at the next open; a page corrupt for
//! another reason is not; the ring wraps by syncing the data file.

use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultyStorage, MemoryRecord, OpenMode, RecordStore, Storage};
use bufpool::{BufferPool, Error, FileId, FileOptions, MemoryStorage, PageId};

use crate::common::hooked::{Hooked, Hooks};

const PAGE: usize = 4096;

fn pool(frames: usize) -> BufferPool {
    BufferPool::builder().frames(frames).build().unwrap()
}

fn open(pool: &BufferPool, storage: &Arc<MemoryStorage>) -> FileId {
    pool.open_storage_with(storage.clone(), FileOptions::new().doublewrite(true))
        .unwrap()
}

/// Fills page `no` of `file` with `v` from byte 100 to near its end (every sector of it, so that a write torn at
/// a sector boundary mixes two versions).
fn set(pool: &BufferPool, file: FileId, no: u32, v: u8) {
    let mut w = pool.write(PageId::new(file, no)).unwrap();
    let n = w.len();
    w[100..n - 64].fill(v);
}

fn get(pool: &BufferPool, file: FileId, no: u32) -> Result<u8, Error> {
    pool.read(PageId::new(file, no)).map(|r| r[150])
}

/// Tears page `no` on the storage: its second half overwritten with other bytes, as a power loss mid-write may
/// leave it (the half of an older write).
fn tear(storage: &MemoryStorage, no: u32) {
    storage.with_bytes(|b| b[no as usize * PAGE + PAGE / 2..(no as usize + 1) * PAGE].fill(0xEE));
}

/// Dirties pages `pages` with `v` and reads pages past them until each was evicted (written by the pool, in
/// place, never synced).
fn write_without_sync(pool: &BufferPool, storage: &MemoryStorage, file: FileId, pages: &[u32], v: u8, spare: u32) {
    for &no in pages {
        set(pool, file, no, v);
        for other in spare..spare + 8 {
            get(pool, file, other).unwrap();
        }
        let on_disk = storage.with_bytes(|b| b[no as usize * PAGE + 150]);
        assert_eq!(on_disk, v, "page {no} was written back by its eviction");
    }
}

#[test]
fn a_torn_page_is_restored_from_the_area_and_an_old_corruption_is_not() {
    let storage = Arc::new(MemoryStorage::new());
    {
        let pool = pool(4);
        let f = open(&pool, &storage);
        for no in 0..16 {
            let mut w = pool.new_page(f).unwrap();
            w[100..200].fill(no as u8);
        }
        pool.checkpoint().unwrap();
        write_without_sync(&pool, &storage, f, &[3], 0xA3, 8);
        assert!(
            pool.stats().doublewrite_batches >= 2,
            "the checkpoint's batch and the eviction's"
        );
        // A crash: the pool dropped without closing.
    }
    tear(&storage, 3);
    // Page 6, written and synced by the checkpoint, rots on the device.
    storage.with_bytes(|b| b[6 * PAGE + 300] ^= 0xff);
    // Without the area the torn page reads as corrupt (a copy of the storage, opened without it).
    {
        let copy = MemoryStorage::from_bytes_with_record(storage.snapshot(), storage.record_snapshot());
        let pool = pool(4);
        let f = pool.open_storage(copy).unwrap();
        assert!(matches!(get(&pool, f, 3), Err(Error::Corrupt { .. })));
    }
    let pool = pool(4);
    let f = open(&pool, &storage);
    assert_eq!(
        get(&pool, f, 3).unwrap(),
        0xA3,
        "the torn page was restored from its copy"
    );
    assert_eq!(pool.stats().doublewrite_restored, 1);
    assert!(
        matches!(get(&pool, f, 6), Err(Error::Corrupt { .. })),
        "a page no batch in flight held is never restored"
    );
    for no in [0, 1, 2, 4, 5, 7, 15] {
        assert_eq!(get(&pool, f, no).unwrap(), no as u8);
    }
}

#[test]
fn the_ring_wraps_by_syncing_the_file_and_the_last_batches_still_restore() {
    let storage = Arc::new(MemoryStorage::new());
    let pages: Vec<u32> = (0..200).collect();
    {
        let pool = pool(4);
        let f = open(&pool, &storage);
        for _ in 0..220 {
            drop(pool.new_page(f).unwrap());
        }
        pool.checkpoint().unwrap();
        // 200 evictions, each a batch: the 64-slot ring wraps three times, syncing the file as it does.
        write_without_sync(&pool, &storage, f, &pages, 0x5C, 210);
    }
    tear(&storage, 199);
    tear(&storage, 10);
    let pool = pool(4);
    let f = open(&pool, &storage);
    assert_eq!(get(&pool, f, 199).unwrap(), 0x5C);
    // Page 10's batch came 190 batches before the last: a sync of the file that the ring forced before reusing
    // its slot covered it, so the page was durable in place, and the damage above is not a tear of a write in
    // flight: it stays corrupt.
    assert!(matches!(get(&pool, f, 10), Err(Error::Corrupt { .. })));
}

/// R57-O1: a new file's area grows with the file. A checkpoint of 40 full batches of a new file (40 x 128 pages)
/// syncs the data file when the 2-slot ring first wraps, and the note of that sync grows the ring to the 40 slots
/// the file now asks for: 2 syncs in all. Where the larger ring's room cannot be reserved (the store's `reserve`
/// fails past the 2-slot area), the ring stays at 2 slots and syncs the data file every other batch, and the
/// checkpoint succeeds. (The crash simulations grow their files too: batches written into a grown ring restore
/// after a power loss.)
#[test]
fn a_new_files_area_grows_with_the_file() {
    const PAGES: u32 = 40 * 128;
    for cramped in [false, true] {
        let storage: Arc<FailingArea> = Arc::new(Hooked::new(MemoryStorage::new(), Flaky::default()));
        storage
            .hooks
            .cramped
            .store(cramped, std::sync::atomic::Ordering::SeqCst);
        let pool = pool(PAGES as usize + 64);
        let f = pool
            .open_storage_with(storage.clone(), FileOptions::new().doublewrite(true))
            .unwrap();
        for no in 0..PAGES {
            let mut w = pool.new_page(f).unwrap();
            w[100..200].fill(no as u8);
        }
        let before = pool.stats();
        pool.checkpoint().unwrap();
        let after = pool.stats();
        assert_eq!(after.doublewrite_batches - before.doublewrite_batches, 40);
        let syncs = after.syncs - before.syncs;
        let mut notes = vec![0u8; 2 * PAGE];
        storage.hooks.bytes.read_at(&mut notes, 0).unwrap();
        match cramped {
            false => assert_eq!((syncs <= 3, noted_slots(&notes)), (true, 40), "{syncs} syncs"),
            true => assert_eq!((syncs >= 19, noted_slots(&notes)), (true, 2), "{syncs} syncs"),
        }
    }
}

#[test]
fn a_storage_without_an_area_is_refused() {
    let pool = pool(4);
    let faulty = FaultyStorage::new(1, FaultConfig::none());
    assert!(matches!(
        pool.open_storage_with(faulty, FileOptions::new().doublewrite(true)),
        Err(Error::InvalidConfig(_))
    ));
}

/// A data file on a storage that crashes (`FaultyStorage`: unsynced writes kept, lost or torn per sector), its
/// record in memory, its area on a second crashing storage.
type Crashing = Hooked<FaultyStorage, Devices>;

/// The record and the area beside a [`Crashing`] data file.
struct Devices {
    record: MemoryRecord,
    area: Area,
}

struct Area(FaultyStorage);

impl RecordStore for Area {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        Storage::read_at(&self.0, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        Storage::write_at(&self.0, buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        Storage::sync(&self.0)
    }
}

impl Hooks for Devices {
    fn record_store<'a>(&'a self, _: &'a dyn Storage) -> Option<&'a dyn RecordStore> {
        Some(&self.record)
    }
    fn doublewrite_store<'a>(&'a self, _: &'a dyn Storage) -> std::io::Result<Option<&'a dyn RecordStore>> {
        Ok(Some(&self.area))
    }
}

/// A fresh [`Crashing`] file for `seed` (the area's storage draws from another seed).
fn crashing(seed: u64, area_seed: u64) -> Arc<Crashing> {
    Arc::new(Hooked::new(
        FaultyStorage::new(seed, FaultConfig::crash_only()),
        Devices {
            record: MemoryRecord::default(),
            area: Area(FaultyStorage::new(seed ^ area_seed, FaultConfig::crash_only())),
        },
    ))
}

/// The simulations' seeds: `BUFPOOL_DW_SEEDS` (default 100) divided by `share`, from `BUFPOOL_DW_FIRST` (default 0).
fn seeds(share: u64) -> std::ops::Range<u64> {
    let var = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let first = var("BUFPOOL_DW_FIRST", 0);
    first..first + (var("BUFPOOL_DW_SEEDS", 100) / share).max(1)
}

/// A xorshift generator for `seed`: `next(n)` is below `n`.
fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// The slots the newest note in an area's bytes records (the format in `doublewrite.rs`: two 48-byte notes at 0
/// and 4096, each with its ring's slots at byte 20 and its sequence at byte 28); 0 without a note.
fn noted_slots(area: &[u8]) -> u32 {
    let field = |at: usize, n: usize| {
        area.get(at..at + n)
            .map(|b| b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x)))
    };
    [0, 4096]
        .into_iter()
        .filter(|&at| area.get(at..at + 8) == Some(b"BPDWNOTE"))
        .max_by_key(|&at| field(at + 28, 8))
        .and_then(|at| field(at + 20, 4))
        .unwrap_or(0) as u32
}

/// A power loss of `storage` (odd seeds: a device that garbles the sectors it was writing, random bytes no checksum
/// passes), then the checks both simulations make: every page reads after an open with the area, holding a value in
/// `may` (per page: the last checkpoint's, and every one set since). Returns the pages the same image read corrupt
/// when opened without the area, whether the open with it restored any, and the slots of the area's ring as the
/// crash left it (its newest note's).
fn crash_and_check(storage: &Crashing, seed: u64, may: &[Vec<u8>]) -> (usize, bool, u32) {
    let (data, area) = match seed % 2 {
        0 => (storage.below.crash(), storage.hooks.area.0.crash()),
        _ => (
            storage.below.crash_garbling(0.3),
            storage.hooks.area.0.crash_garbling(0.3),
        ),
    };
    let mut record = vec![0u8; 8192];
    let n = storage.hooks.record.read_at(&mut record, 0).unwrap();
    record.truncate(n);
    let pages = may.len() as u32;
    let torn_without = {
        let pool = pool(6);
        let f = pool
            .open_storage(MemoryStorage::from_bytes_with_record(data.clone(), record.clone()))
            .unwrap();
        (0..pages)
            .filter(|&no| matches!(get(&pool, f, no), Err(Error::Corrupt { .. })))
            .count()
    };
    let slots = noted_slots(&area);
    let reopened = Arc::new(MemoryStorage::from_parts(data.clone(), record, area));
    let pool = pool(6);
    let f = open(&pool, &reopened);
    for no in 0..pages {
        let v = get(&pool, f, no).unwrap_or_else(|e| panic!("seed {seed}: page {no} after the crash: {e}"));
        assert!(
            may[no as usize].contains(&v),
            "seed {seed}: page {no} holds {v}, never given since {:?}",
            may[no as usize]
        );
    }
    (torn_without, reopened.with_bytes(|b| b != &data), slots)
}

/// Crash simulation: random page changes, evictions (in-place writes never synced) and checkpoints on a file
/// with an area, a power loss at a random point (unsynced sectors of the data file and of the area kept, lost or
/// torn), then an open with the area: no page reads corrupt, and each holds a value the pool was given for it
/// since its last checkpoint (or that one). The same image opened without the area shows tears (the test's
/// power). `BUFPOOL_DW_SEEDS` seeds (default 100) from `BUFPOOL_DW_FIRST` (default 0): [`seeds`].
#[test]
fn crash_simulation_leaves_no_torn_page() {
    let (mut torn_without, mut restored_seen, mut grown_seen) = (0usize, 0usize, 0usize);
    let seeds = seeds(1);
    let count = seeds.end - seeds.start;
    for seed in seeds {
        let mut next = rng(seed);
        let storage = crashing(seed, 0xA5A5);
        const PAGES: u32 = 24;
        // Per page: the values it may hold after a crash (the last checkpoint's, and every one set since).
        let mut may: Vec<Vec<u8>> = (0..PAGES).map(|no| vec![no as u8]).collect();
        {
            let pool = pool(6);
            let f = pool
                .open_storage_with(storage.clone(), FileOptions::new().doublewrite(true))
                .unwrap();
            for no in 0..PAGES {
                drop(pool.new_page(f).unwrap());
                set(&pool, f, no, no as u8);
            }
            pool.checkpoint().unwrap();
            let steps = 20 + next(200);
            for _ in 0..steps {
                match next(10) {
                    0 => {
                        pool.checkpoint().unwrap();
                        for (no, m) in may.iter_mut().enumerate() {
                            let now = get(&pool, f, no as u32).unwrap();
                            *m = vec![now];
                        }
                    }
                    1..=4 => {
                        let no = next(may.len() as u64) as u32;
                        let v = 100 + next(150) as u8;
                        set(&pool, f, no, v);
                        may[no as usize].push(v);
                    }
                    // The file grows by a batch's worth and more (checkpointed, so that a power loss keeps it):
                    // the area's ring grows at a later note (R57-O1), and later batches go to its new slots.
                    5 if may.len() < 500 => {
                        for _ in 0..130 {
                            let no = may.len() as u32;
                            drop(pool.new_page(f).unwrap());
                            set(&pool, f, no, no as u8);
                            may.push(vec![no as u8]);
                        }
                        pool.checkpoint().unwrap();
                        for (no, m) in may.iter_mut().enumerate() {
                            *m = vec![get(&pool, f, no as u32).unwrap()];
                        }
                    }
                    _ => {
                        get(&pool, f, next(may.len() as u64) as u32).unwrap();
                    }
                }
            }
        }
        let (torn, restored, slots) = crash_and_check(&storage, seed, &may);
        torn_without += torn;
        restored_seen += restored as usize;
        grown_seen += (slots > 2) as usize;
    }
    assert!(torn_without > 0, "no crash tore a page: the simulation tests nothing");
    assert!(restored_seen > 0, "no open restored a page");
    assert!(grown_seen > 0, "no area's ring grew before its crash");
    eprintln!("{count} seeds: {torn_without} pages read corrupt without the area, none with it ({restored_seen} opens restored pages)");
}

/// A file opened by path keeps its area in the sidecar `<path>.bpdw`: a page torn in the file is restored from it
/// at the next open (whether the area's batches went directly or through the page cache); `remove_data_file` deletes
/// it with the file.
#[test]
fn a_file_by_path_keeps_its_area_beside_it() {
    for mode in [OpenMode::DirectOrBuffered, OpenMode::Buffered] {
        a_file_by_path_keeps_its_area_beside_it_in(mode);
    }
}

/// A file by path with an area (pages 0..16 holding their numbers, checkpointed), page 3 then set to 0xA3 and
/// written in place by its eviction, never synced; a crash (the pool dropped) tears it: its second half
/// overwritten on disk. Returns the path, in `dir`.
fn crash_a_file_by_path(dir: &std::path::Path, mode: OpenMode) -> std::path::PathBuf {
    use std::os::unix::fs::FileExt;
    let path = dir.join("t.db");
    {
        let pool = BufferPool::builder().frames(4).open_mode(mode).build().unwrap();
        let f = pool
            .open_file_with(&path, FileOptions::new().doublewrite(true))
            .unwrap();
        for no in 0..16 {
            drop(pool.new_page(f).unwrap());
            set(&pool, f, no, no as u8);
        }
        pool.checkpoint().unwrap();
        set(&pool, f, 3, 0xA3);
        for other in 8..16 {
            get(&pool, f, other).unwrap();
        }
    }
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&[0xEE; PAGE / 2], 3 * PAGE as u64 + PAGE as u64 / 2)
        .unwrap();
    path
}

fn a_file_by_path_keeps_its_area_beside_it_in(mode: OpenMode) {
    let dir = tempfile::tempdir().unwrap();
    let options = || FileOptions::new().doublewrite(true);
    let pool = |frames| BufferPool::builder().frames(frames).open_mode(mode).build().unwrap();
    let path = crash_a_file_by_path(dir.path(), mode);
    assert!(bufpool::storage::area_path(&path).exists());
    {
        let pool = pool(4);
        let f = pool.open_file_with(&path, options()).unwrap();
        assert_eq!(get(&pool, f, 3).unwrap(), 0xA3, "{mode:?}");
        assert_eq!(pool.stats().doublewrite_restored, 1, "{mode:?}");
        assert_eq!(get(&pool, f, 5).unwrap(), 5);
    }
    bufpool::storage::remove_data_file(&path).unwrap();
    assert!(!bufpool::storage::area_path(&path).exists());
}

/// Bytes of `path` in the page cache, as `fincore(1)` (util-linux) counts them; `None` without the tool.
fn cached_bytes(path: &std::path::Path) -> Option<u64> {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--raw", "--output", "RES"])
        .arg(path)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "fincore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("fincore's count"),
    )
}

/// R57-O3: a file by path whose area holds copies from a crash is refused when opened without the area (a clear,
/// typed error naming the area; nothing read or written), and opens with it, which restores the torn page and
/// marks the copies done; after that an open without the area is allowed again.
#[test]
fn an_open_without_the_area_is_refused_while_the_area_holds_a_crashs_copies() {
    let dir = tempfile::tempdir().unwrap();
    let with = || FileOptions::new().doublewrite(true);
    let path = crash_a_file_by_path(dir.path(), OpenMode::DirectOrBuffered);
    let torn = std::fs::read(&path).unwrap();
    let got = pool(4).open_file(&path);
    match &got {
        Err(Error::InvalidConfig(why)) => assert!(
            why.contains("opened without its doublewrite area") && why.contains(".bpdw"),
            "{why}"
        ),
        other => panic!("an open without the area: {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), torn, "the refused open changed the file");
    {
        let pool = pool(4);
        let f = pool.open_file_with(&path, with()).unwrap();
        assert_eq!(get(&pool, f, 3).unwrap(), 0xA3);
        assert_eq!(pool.stats().doublewrite_restored, 1);
        pool.close_file(f).unwrap();
    }
    let pool = pool(4);
    let f = pool.open_file(&path).unwrap();
    assert_eq!(get(&pool, f, 3).unwrap(), 0xA3);
}

/// A direct data file's area takes its batches directly (one aligned transfer each, past the page cache), as
/// InnoDB writes its doublewrite buffer; a buffered data file's area through the page cache. Each batch is a header
/// block and 16 pages here, into the two slots of a new file's area: a direct area leaves only its notes in the
/// cache, a buffered one its slots too. (Both restore a torn page: `a_file_by_path_keeps_its_area_beside_it`.)
#[test]
fn a_direct_file_writes_its_area_directly() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [OpenMode::DirectOrBuffered, OpenMode::Buffered] {
        let path = dir.path().join(format!("{mode:?}.db"));
        let pool = BufferPool::builder().frames(64).open_mode(mode).build().unwrap();
        let f = pool
            .open_file_with(&path, FileOptions::new().doublewrite(true))
            .unwrap();
        let direct = pool.file_stats(f).unwrap().direct;
        for _ in 0..16 {
            drop(pool.new_page(f).unwrap());
        }
        for round in 0..40u8 {
            for no in 0..16 {
                set(&pool, f, no, round);
            }
            pool.flush_file(f).unwrap();
        }
        drop(pool);
        let area = bufpool::storage::area_path(&path);
        let Some(cached) = cached_bytes(&area) else {
            eprintln!("SKIPPED: no fincore(1) here");
            return;
        };
        // A new file's area has two slots (`slots_for`), each rewritten by every other batch.
        let slots = 2 * 17 * PAGE as u64;
        if direct {
            assert!(cached <= 4 * PAGE as u64, "{mode:?}: {cached} bytes of the area cached");
        } else {
            assert!(cached >= slots, "{mode:?}: only {cached} bytes of the area cached");
        }
    }
}

/// A memory storage whose area store fails as told ([`Flaky`]).
type FailingArea = Hooked<MemoryStorage, Flaky>;

/// An area store whose writes fail with `errno` (0: none), or panic; `cramped`, it cannot reserve room past a
/// 2-slot area (a new file's).
#[derive(Default)]
struct Flaky {
    bytes: MemoryRecord,
    errno: std::sync::atomic::AtomicI32,
    panic: std::sync::atomic::AtomicBool,
    cramped: std::sync::atomic::AtomicBool,
}

impl RecordStore for Flaky {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.bytes.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if self.panic.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("the area store panics");
        }
        match self.errno.load(std::sync::atomic::Ordering::SeqCst) {
            0 => self.bytes.write_at(buf, offset),
            e => Err(std::io::Error::from_raw_os_error(e)),
        }
    }
    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn reserve(&self, len: u64) -> std::io::Result<()> {
        // A 2-slot area: two note blocks, two slots of a header block and 128 pages.
        let two_slots = (2 + 2 * 129) * PAGE as u64;
        match self.cramped.load(std::sync::atomic::Ordering::SeqCst) && len > two_slots {
            true => Err(std::io::Error::other("no room reserved")),
            false => Ok(()),
        }
    }
}

impl Hooks for Flaky {
    fn doublewrite_store<'a>(&'a self, _: &'a dyn Storage) -> std::io::Result<Option<&'a dyn RecordStore>> {
        Ok(Some(self))
    }
}

/// The area's write refused for space: nothing is written in place, the checkpoint says `NoSpace`, the page stays
/// dirty, and once the space is back the next checkpoint writes it. An EIO or a panic of the area's store fails the
/// write as any failed write does (the file latched failed, a panic as `Panicked`), and the page on disk keeps its
/// previous version.
#[test]
fn a_failing_area_writes_nothing_in_place() {
    use std::sync::atomic::Ordering::SeqCst;
    for how in ["enospc", "eio", "panic"] {
        let storage: Arc<FailingArea> = Arc::new(Hooked::new(MemoryStorage::new(), Flaky::default()));
        let pool = pool(8);
        let f = pool
            .open_storage_with(storage.clone(), FileOptions::new().doublewrite(true))
            .unwrap();
        for no in 0..4 {
            drop(pool.new_page(f).unwrap());
            set(&pool, f, no, no as u8);
        }
        pool.checkpoint().unwrap();
        set(&pool, f, 2, 0x77);
        match how {
            "enospc" => storage.hooks.errno.store(libc::ENOSPC, SeqCst),
            "eio" => storage.hooks.errno.store(libc::EIO, SeqCst),
            _ => storage.hooks.panic.store(true, SeqCst),
        }
        let got = pool.checkpoint();
        let on_disk = storage.below.with_bytes(|b| b[2 * PAGE + 150]);
        assert_eq!(on_disk, 2, "{how}: nothing was written in place");
        match how {
            "enospc" => {
                assert!(matches!(got, Err(Error::NoSpace { .. })), "{how}: {got:?}");
                storage.hooks.errno.store(0, SeqCst);
                pool.checkpoint().unwrap();
                assert_eq!(storage.below.with_bytes(|b| b[2 * PAGE + 150]), 0x77);
            }
            "eio" => assert!(got.is_err(), "{how}: {got:?}"),
            _ => assert!(format!("{got:?}").contains("panic"), "{how}: {got:?}"),
        }
        assert_eq!(
            get(&pool, f, 2).unwrap(),
            0x77,
            "{how}: the pool still serves the change"
        );
    }
}

/// The crash simulation with three threads changing and reading pages at once (each its own pages), so that
/// batches of several evictions are in flight together and the ring wraps under them, and a checkpoint now and
/// then: after the power loss, an open with the area finds no torn page, and each page holds a value given to it.
/// `BUFPOOL_DW_SEEDS` / 4 seeds from `BUFPOOL_DW_FIRST`.
#[test]
fn concurrent_crash_simulation_leaves_no_torn_page() {
    use std::sync::Mutex;
    const THREADS: u32 = 3;
    const EACH: u32 = 10;
    let (mut torn_without, mut grown_seen) = (0, 0);
    for seed in seeds(4) {
        let storage = crashing(seed, 0x5A5A);
        let may: Arc<Mutex<Vec<Vec<u8>>>> =
            Arc::new(Mutex::new((0..THREADS * EACH).map(|no| vec![no as u8]).collect()));
        {
            let pool = Arc::new(pool(6));
            let f = pool
                .open_storage_with(storage.clone(), FileOptions::new().doublewrite(true))
                .unwrap();
            for no in 0..THREADS * EACH {
                drop(pool.new_page(f).unwrap());
                set(&pool, f, no, no as u8);
            }
            pool.checkpoint().unwrap();
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (pool, may) = (pool.clone(), may.clone());
                    std::thread::spawn(move || {
                        let mut next = rng(seed * 31 + u64::from(t) + 1);
                        let mut grown = 0;
                        for _ in 0..150 {
                            let no = t * EACH + next(u64::from(EACH)) as u32;
                            match next(8) {
                                1 if t == 0 && grown < 3 => {
                                    // The file grows by more than a batch (new pages, never read back), so that
                                    // the area's ring grows at a note while the other threads' batches are in
                                    // flight (R57-O1).
                                    grown += 1;
                                    for _ in 0..130 {
                                        drop(pool.new_page(f).unwrap());
                                    }
                                }
                                0 if t == 0 => {
                                    // A checkpoint: every page's value now is the one it keeps at least. Taken
                                    // under the lock so that no thread's `set` falls between.
                                    let mut m = may.lock().unwrap();
                                    pool.checkpoint().unwrap();
                                    for (no, vals) in m.iter_mut().enumerate() {
                                        *vals = vec![get(&pool, f, no as u32).unwrap()];
                                    }
                                }
                                0..=3 => {
                                    let v = 100 + next(150) as u8;
                                    let mut m = may.lock().unwrap();
                                    set(&pool, f, no, v);
                                    m[no as usize].push(v);
                                }
                                _ => {
                                    get(&pool, f, no).unwrap();
                                }
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
        let (torn, _, slots) = crash_and_check(&storage, seed, &may.lock().unwrap());
        torn_without += torn;
        grown_seen += (slots > 2) as usize;
    }
    assert!(torn_without > 0, "no crash tore a page: the simulation tests nothing");
    assert!(grown_seen > 0, "no area's ring grew before its crash");
}
