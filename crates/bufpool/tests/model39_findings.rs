//! Session 39 (model39): the findings of the whole-API model's reach into opens by path, snapshots and `close`, and
//! review38's two leftovers (R38-O4, R38-O5). Each test tells the story of one finding (R39-n in RELIABILITY.md,
//! "Session 39 (2026-12-05, model39)"). Windows are held open by a storage that waits at a `Gate`; no sleep
//! stands in for synchronisation.

use crate::common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool::storage::{Storage, StorageInfo};
use bufpool::{BufferPool, Error, FileId, MemoryStorage};
use common::Gate;

/// An in-memory storage that holds chosen calls open: the writes numbered `hold_writes` (counted from 1; 0: none)
/// and the sync numbered `hold_sync` each announce themselves (`entered[k]`, k the hold's place: the first or
/// second write held, the sync on the first gates) and wait for `go[k]`; the write numbered `no_space_write`
/// then returns `ENOSPC` (refused outright: nothing written, the page stays dirty).
#[derive(Default)]
struct Held {
    inner: MemoryStorage,
    writes: AtomicU32,
    syncs: AtomicU32,
    hold_writes: [AtomicU32; 2],
    hold_sync: AtomicU32,
    no_space_write: AtomicU32,
    entered: [Gate; 2],
    go: [Gate; 2],
}

impl Held {
    fn hold_at(&self, k: usize) {
        self.entered[k].open();
        self.go[k].wait("the test lets the held call go on");
    }
}

impl Storage for Held {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let n = self.writes.fetch_add(1, SeqCst) + 1;
        if let Some(k) = self.hold_writes.iter().position(|h| h.load(SeqCst) == n) {
            self.hold_at(k);
        }
        if self.no_space_write.load(SeqCst) == n {
            return Err(io::Error::from_raw_os_error(28));
        }
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        if self.syncs.fetch_add(1, SeqCst) + 1 == self.hold_sync.load(SeqCst) {
            self.hold_at(0);
        }
        self.inner.sync()
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "held",
            direct: false,
        }
    }
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

/// How many of this process's descriptors are open on `path`.
fn descriptors_on(path: &Path) -> usize {
    let path = path.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| *target == path)
        .count()
}

/// R39-10 (R38-O4): an open by path checked its id (`refuse_id`), then opened the path, creating the data file and
/// its `.bpmeta` sidecar, and only then registered it; `register` refused the id when another open had taken it
/// meanwhile, or when the calls of a file just dropped under it still held that file past the second the
/// registration waits for them (`RETIRED_WAIT_MAX`). The refused call left a new, empty data file and its sidecar
/// behind, which a later open of the path then found. Here a flush's sync, held open, keeps the dropped file: the
/// open under its id is refused (`FileIdInUse`, after about a second) and must create nothing. Now the id is taken
/// for the open before the path is opened (`Files::reserve_id`), and no other open takes it until the open returns.
#[test]
fn r39_10_an_open_by_path_refused_for_its_id_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let storage = Arc::new(Held::default());
    // The flush's sync is the storage's first.
    storage.hold_sync.store(1, SeqCst);
    let id = FileId(7);
    pool.open_storage_as(id, storage.clone()).unwrap();
    {
        let mut g = pool.new_page(id).unwrap();
        common::fill_page(&mut g, 0, 1);
    }
    let path = dir.path().join("seven.db");
    std::thread::scope(|s| {
        let flusher = s.spawn(|| pool.flush_file(id));
        storage.entered[0].wait("the flush's sync");
        // The flush holds the file: the drop returns after waiting for it (late), and the id stays held by it.
        pool.drop_file(id).unwrap();
        let r = pool.open_file_as(id, &path);
        let left = names(dir.path());
        storage.go[0].open();
        flusher.join().unwrap().unwrap();
        assert!(
            matches!(r, Err(Error::FileIdInUse(FileId(7)))),
            "the open under an id a dropped file's flush still holds: {r:?}"
        );
        assert!(
            left.is_empty(),
            "an open by path refused for its id left files behind: {left:?}"
        );
    });
    // Once the flush returned, the id is free and the open creates the file.
    assert_eq!(pool.open_file_as(id, &path).unwrap(), id);
    assert_eq!(names(dir.path()).len(), 2, "the data file and its sidecar");
}

/// R39-10, the race R38-O4 named: while an open by path under an id is in progress, another open took the id, and
/// the open by path was refused at its registration, after it had opened (or created) the file. The open by path
/// is held in its wait for the file's lock (another pool has the file open, the test's window: a lock, not a
/// sleep); once its descriptor on the file shows, an open of a storage under the same id must be refused (the id
/// is the open's in progress), and the open by path gets the id when the other pool lets the file go. Before the
/// fix the storage took the id, and the open by path failed with `FileIdInUse` at the end.
#[test]
fn r39_10_an_open_by_path_in_progress_keeps_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let other = BufferPool::builder().frames(8).build().unwrap();
    let theirs = other.open_file(&path).unwrap();
    let before = descriptors_on(&path);
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let id = FileId(5);
    std::thread::scope(|s| {
        let opener = s.spawn(|| pool.open_file_as(id, &path));
        let deadline = Instant::now() + common::STEP_WAIT_MAX;
        while descriptors_on(&path) == before {
            assert!(Instant::now() < deadline, "the open by path never opened the file");
            std::thread::yield_now();
        }
        // The open by path waits for the other pool's lock now (up to 2 s).
        let r = pool.open_storage_as(id, MemoryStorage::new());
        other.close_file(theirs).unwrap();
        let opened = opener.join().unwrap();
        assert!(
            matches!(r, Err(Error::FileIdInUse(FileId(5)))),
            "an open under the id of an open by path in progress took it: {r:?} (the open by path then got \
             {opened:?})"
        );
        // The open by path gets its id (or, had this thread stalled past its 2 s wait for the lock, `FileLocked`).
        assert!(
            matches!(opened, Ok(FileId(5)) | Err(Error::FileLocked { .. })),
            "{opened:?}"
        );
    });
}

/// R39-11 (R38-O5): `held_latches` gives a latch it finds with no recorded start the time it found it. A shared
/// latch of the pool's own (a flush writing the page) so stamped kept the stamp after it ended, and a reader that
/// joined a later flush's latch (not the only holder, so it does not restart the period) kept it too: the page was
/// listed as latched without a break since the first flush, though it had been unlatched in between. Here the first
/// flush's write is refused for space (the page stays dirty), 100 ms pass with the page unlatched, and a reader
/// joins the second flush's latch: it must be listed as held for no longer than the second flush has run. Now a
/// write run's latch that begins a period clears the start (`BufferPool::note_own_shared_latch`).
#[test]
fn r39_11_a_reader_joining_a_flush_is_not_listed_from_an_earlier_flush() {
    let pool = BufferPool::builder().frames(8).latch_times(true).build().unwrap();
    let storage = Arc::new(Held::default());
    storage.hold_writes[0].store(1, SeqCst);
    storage.hold_writes[1].store(2, SeqCst);
    storage.no_space_write.store(1, SeqCst);
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, 0, 1);
        g.page_id()
    };
    let listed = |pool: &BufferPool| pool.held_latches().into_iter().find(|l| l.page == page);
    std::thread::scope(|s| {
        let flush = s.spawn(|| pool.flush(page));
        storage.entered[0].wait("the first flush's write");
        // Found with no start: stamped now.
        assert!(listed(&pool).is_some_and(|l| !l.exclusive && l.holders == 1));
        storage.go[0].open();
        let r = flush.join().unwrap();
        assert!(matches!(r, Err(Error::NoSpace { .. })), "{r:?}");
    });
    assert!(listed(&pool).is_none(), "the page is unlatched between the flushes");
    // The page stays unlatched (and dirty) for 100 ms: the time the listing must not count.
    let gap = Instant::now();
    while gap.elapsed() < Duration::from_millis(100) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = Instant::now();
    std::thread::scope(|s| {
        let flush = s.spawn(|| pool.flush(page));
        storage.entered[1].wait("the second flush's write");
        let g = pool.read(page).unwrap();
        let l = listed(&pool).expect("the page's latch is listed");
        let ran = second.elapsed();
        drop(g);
        storage.go[1].open();
        flush.join().unwrap().unwrap();
        // The coarse clock's tick (1 to 4 ms) is the listing's resolution.
        let held_for = l.held_for.expect("latch_times is on");
        assert!(
            l.holders == 2 && held_for <= ran + Duration::from_millis(20),
            "a reader joining a flush's latch {ran:?} after the flush began was listed as latched for {held_for:?} \
             ({l:?}): since the earlier flush, with the page unlatched in between"
        );
    });
}
