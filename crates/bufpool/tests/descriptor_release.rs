//! When `drop_file`, `close_file` or the pool's drop returns, the file's descriptors are closed: an engine that
//! then unmounts the filesystem, deletes or replaces the file must not find it still held (a busy `umount`, a
//! deleted file's space kept). Checked in `/proc/self/fd`, not with timing: after the call returns, no descriptor
//! of this process links to the data file or its record sidecar (for the pool's drop: to none of its files).
//!
//! The scripted cases hold a call of the pool's own in the middle of its work (a flush waiting for a page of
//! another file, a checkpoint or a flush of named files syncing another file, a miss or a new page waiting in the
//! eviction veto) while the file is dropped: each held the dropped file's entry, and so its descriptor, past the
//! drop's return (R25-10 .. R25-12, R26-1, R26-2 in RELIABILITY.md).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;

use bufpool::storage::{MemoryStorage, Storage, StorageInfo};
use bufpool::{BufferPool, Error, FileId, IoBackend, OpenMode, PageId, WriterConfig};
use common::Hold;

/// The descriptors of this process that link to a path under `dir` (a deleted file's link ends in " (deleted)",
/// still under `dir`).
fn links_under(dir: &Path) -> Vec<PathBuf> {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .collect()
}

/// The descriptors of this process that link to the data file `path` or its record sidecar.
fn links_to(path: &Path) -> Vec<PathBuf> {
    let path = path.canonicalize().unwrap();
    let sidecar = bufpool::storage::sidecar_path(&path);
    links_under(path.parent().unwrap())
        .into_iter()
        .filter(|t| {
            let t = Path::new(t.to_str().unwrap().trim_end_matches(" (deleted)"));
            t == path || t == sidecar
        })
        .collect()
}

/// Makes `pages` pages of `file`, each filled with generation 1.
fn fill(pool: &BufferPool, file: FileId, pages: u32) {
    for n in 0..pages {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
}

/// Every backend, direct and buffered, with the background writer running, prefetches queued and readers of
/// the file dropped: `drop_file`, `close_file` (after a failed one) and the pool's drop leave no descriptor.
#[test]
fn drop_close_and_pool_drop_leave_no_descriptor() {
    // Direct where the filesystem takes O_DIRECT (ext4 and tmpfs since Linux 6.6 do), and buffered.
    for mode in [OpenMode::DirectOrBuffered, OpenMode::Buffered] {
        for backend in [IoBackend::Pread, IoBackend::Auto] {
            let dir = tempfile::tempdir().unwrap();
            let place = dir.path().to_path_buf();
            let what = format!("{backend:?}, {mode:?}");
            let pool = BufferPool::builder()
                .frames(64)
                .open_mode(mode)
                .io_backend(backend)
                .io_threads(2)
                .background_writer(WriterConfig {
                    interval: std::time::Duration::from_millis(1),
                    dirty_ratio_max: 0.0,
                    ..WriterConfig::for_frames(64)
                })
                .build()
                .unwrap();
            let [a, b, c] = ["a.db", "b.db", "c.db"].map(|name| pool.open_file(place.join(name)).unwrap());
            for f in [a, b, c] {
                fill(&pool, f, 24);
            }
            pool.checkpoint().unwrap();
            let direct = pool.file_stats(a).unwrap().direct;
            eprintln!("{what}: direct {direct}");
            if mode == OpenMode::Buffered {
                assert!(!direct, "{what}");
            }

            // Readers of `a` (misses and hits: a fresh pool's 64 frames cannot keep the three files' 72 pages),
            // and prefetches of it queued, while it is dropped.
            let (stop, rounds) = (AtomicBool::new(false), AtomicU64::new(0));
            std::thread::scope(|s| {
                for t in 0..2u32 {
                    let (pool, stop, rounds) = (&pool, &stop, &rounds);
                    s.spawn(move || {
                        let mut n = t;
                        while !stop.load(Relaxed) {
                            for f in [a, b] {
                                match pool.read(PageId::new(f, n % 24)) {
                                    Ok(g) => assert_eq!(common::check_page(&g, n % 24), 1),
                                    Err(Error::FileNotOpen(_)) => {}
                                    Err(e) => panic!("{e}"),
                                }
                            }
                            let pages: Vec<_> = (0..24).map(|n| PageId::new(a, n)).collect();
                            let _ = pool.prefetch(&pages);
                            n += 1;
                            rounds.fetch_add(1, Relaxed);
                        }
                    });
                }
                // Let them read a while, then drop `a` under them.
                while rounds.load(Relaxed) < 200 {
                    std::thread::yield_now();
                }
                pool.drop_file(a).unwrap();
                let left = links_to(&place.join("a.db"));
                stop.store(true, Relaxed);
                assert!(left.is_empty(), "{what}: drop_file returned with {left:?} open");
            });

            // A failed close keeps the file open (its contract); the close that succeeds closes it.
            let held = pool.read(PageId::new(c, 3)).unwrap();
            assert!(matches!(pool.close_file(c), Err(Error::HeldByCaller { .. })), "{what}");
            assert!(
                !links_to(&place.join("c.db")).is_empty(),
                "{what}: a failed close keeps the file open"
            );
            drop(held);
            common::fill_page(&mut pool.write(PageId::new(c, 3)).unwrap(), 3, 2);
            pool.close_file(c).unwrap();
            let left = links_to(&place.join("c.db"));
            assert!(left.is_empty(), "{what}: close_file returned with {left:?} open");

            // The pool's drop: with `b` open and dirty, the writer running and prefetches queued.
            common::fill_page(&mut pool.write(PageId::new(b, 0)).unwrap(), 0, 2);
            let _ = pool.prefetch(&(0..24).map(|n| PageId::new(b, n)).collect::<Vec<_>>());
            drop(pool);
            let left = links_under(&place);
            assert!(left.is_empty(), "{what}: the pool's drop returned with {left:?} open");
        }
    }
}

/// R25-10: a flush (here a checkpoint; the background writer runs the same pass) that wrote a run of `a` and
/// then waits for a page of `b` held by a guard kept `a`'s entry while it waited: `drop_file(a)` returned with
/// `a` open, for as long as the guard was held.
#[test]
fn a_flush_waiting_for_another_files_page_keeps_no_dropped_file_open() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        let dir = tempfile::tempdir().unwrap();
        let pool = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
        let a = pool.open_file(dir.path().join("a.db")).unwrap();
        let b = pool.open_file(dir.path().join("b.db")).unwrap();
        assert!(a < b, "a's pages are written first");
        fill(&pool, a, 1);
        let mut guard = pool.new_page(b).unwrap();
        common::fill_page(&mut guard, 0, 1);
        std::thread::scope(|s| {
            let flusher = s.spawn(|| pool.checkpoint());
            // The checkpoint writes a's page, then waits for the guard on b's.
            while pool.file_stats(a).unwrap().writes == 0 {
                std::thread::yield_now();
            }
            pool.drop_file(a).unwrap();
            let left = links_to(&dir.path().join("a.db"));
            drop(guard);
            flusher.join().unwrap().unwrap();
            assert!(left.is_empty(), "{backend:?}: drop_file returned with {left:?} open");
        });
    }
}

/// A storage whose sync is held by `hold`.
struct SyncGate {
    inner: MemoryStorage,
    hold: Arc<Hold>,
}

impl Storage for SyncGate {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.hold.pass("the test lets the sync finish");
        self.inner.sync()
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
}

/// R26-O1: a drop whose file another call holds past the drop's bound (here a flush whose storage sync hangs)
/// returns after that bound with the file still open, which only the call's end closes: the pool counts it in
/// `Stats::files_released_late`, which a drop nothing holds leaves alone.
#[test]
fn a_drop_that_returns_before_a_hung_sync_lets_go_is_counted() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let idle = pool.open_storage(MemoryStorage::new()).unwrap();
    fill(&pool, idle, 2);
    pool.drop_file(idle).unwrap();
    assert_eq!(pool.stats().files_released_late, 0, "a drop nothing held");

    let hold = Arc::new(Hold::default());
    let hung = pool
        .open_storage(SyncGate {
            inner: MemoryStorage::new(),
            hold: hold.clone(),
        })
        .unwrap();
    fill(&pool, hung, 2);
    hold.armed.store(true, SeqCst);
    std::thread::scope(|s| {
        let flush = s.spawn(|| pool.flush_file(hung));
        hold.entered.wait("the flush's sync");
        pool.drop_file(hung).unwrap();
        assert_eq!(
            pool.stats().files_released_late,
            1,
            "the drop returned while the sync held the file"
        );
        hold.go.open();
        flush.join().unwrap().unwrap();
    });
    assert_eq!(pool.stats().files_released_late, 1);
}

/// R25-11: a checkpoint held every file open when it started until it had synced the last of them: a file
/// dropped while it synced another stayed open until the checkpoint ended (`close_all` held them the same way).
#[test]
fn a_checkpoint_syncing_another_file_keeps_no_dropped_file_open() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        drop_while_another_file_syncs(backend, Syncer::Checkpoint);
    }
}

/// R26-2: `flush_files` held every file it was given from its start to its last sync (R25-11's checkpoint, in the
/// flush of named files): a file dropped while the flush synced another stayed open until the flush ended. The
/// dropped file is reported (`FileNotOpen`: this call did not make its writes durable), the other one is synced.
#[test]
fn a_flush_of_several_files_syncing_one_keeps_no_dropped_file_open() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        drop_while_another_file_syncs(backend, Syncer::FlushFiles);
    }
}

/// The call that syncs two files, the first of which waits in its sync while the second is dropped.
#[derive(Clone, Copy, Debug)]
enum Syncer {
    /// `checkpoint_report`.
    Checkpoint,
    /// `flush_files` of the two.
    FlushFiles,
}

/// Two files with dirty pages, the first one's sync waiting at a gate: `syncer` syncs it while the second is
/// dropped. When `drop_file` returns, the second has no descriptor left (and opens again at once); the first is
/// synced.
fn drop_while_another_file_syncs(backend: IoBackend, syncer: Syncer) {
    let what = format!("{backend:?}, {syncer:?}");
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
    let hold = Arc::new(Hold::default());
    let slow = pool
        .open_storage(SyncGate {
            inner: MemoryStorage::new(),
            hold: hold.clone(),
        })
        .unwrap();
    let path = dir.path().join("p.db");
    let p = pool.open_file(&path).unwrap();
    assert!(slow < p, "the slow file is synced first");
    fill(&pool, slow, 2);
    fill(&pool, p, 2);
    hold.armed.store(true, SeqCst);
    std::thread::scope(|s| {
        // A checkpoint's report, or the flush's result.
        let syncing = s.spawn(|| match syncer {
            Syncer::Checkpoint => Ok(pool.checkpoint_report().files),
            Syncer::FlushFiles => Err(pool.flush_files(&[slow, p])),
        });
        hold.entered.wait("the slow file's sync");
        pool.drop_file(p).unwrap();
        let left = links_to(&path);
        hold.go.open();
        let outcome = syncing.join().unwrap();
        assert!(left.is_empty(), "{what}: drop_file returned with {left:?} open");
        match outcome {
            Ok(report) => assert!(
                report.iter().any(|f| f.file == slow && f.result.is_ok()),
                "{what}: {report:?}"
            ),
            Err(flushed) => assert!(
                matches!(flushed, Err(Error::FileNotOpen(f)) if f == p),
                "{what}: {flushed:?}"
            ),
        }
    });
    assert!(!pool.file_stats(slow).unwrap().failed, "{what}");
    pool.open_file(&path).unwrap();
}

/// R25-12: a miss held its file's entry while it took a frame, which can wait (for a frame, a dirty victim's
/// write, the engine's eviction veto): the file dropped meanwhile stayed open until the miss gave up.
#[test]
fn a_miss_waiting_for_a_frame_keeps_no_dropped_file_open() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        drop_while_taking_a_frame(backend, Taker::Miss);
    }
}

/// R26-1: `new_page` held its file's entry while it took a frame (R25-12's miss, in the allocation path): a file
/// dropped while the new page waited for a victim (here the engine's eviction veto) stayed open past
/// `drop_file`'s return, for as long as the wait lasted.
#[test]
fn a_new_page_waiting_for_a_frame_keeps_no_dropped_file_open() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        drop_while_taking_a_frame(backend, Taker::NewPage);
    }
}

/// The call that takes a frame for a page of the file dropped under it.
#[derive(Clone, Copy, Debug)]
enum Taker {
    /// A read of the file's page 0 (a miss).
    Miss,
    /// A new page of the file.
    NewPage,
}

/// A pool of 4 frames, each holding a clean page of another file, and an eviction veto that waits at a gate once
/// armed: `taker` on file `a` waits there for a victim while `a` is dropped. When `drop_file` returns, `a` has no
/// descriptor left, and the call fails; `a` can be opened again at once.
fn drop_while_taking_a_frame(backend: IoBackend, taker: Taker) {
    let what = format!("{backend:?}, {taker:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    {
        let pool = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
        let a = pool.open_file(&path).unwrap();
        fill(&pool, a, 4);
        pool.close().unwrap();
    }
    let hold = Arc::new(Hold::default());
    let veto = {
        let hold = hold.clone();
        move |_page: PageId| {
            hold.pass("the test lets the eviction go on");
            false
        }
    };
    let pool = BufferPool::builder()
        .frames(4)
        .io_backend(backend)
        .eviction_veto(veto)
        .build()
        .unwrap();
    let b = pool.open_file(dir.path().join("b.db")).unwrap();
    fill(&pool, b, 4); // every frame holds a page of b
    pool.checkpoint().unwrap();
    let a = pool.open_file(&path).unwrap();
    hold.armed.store(true, SeqCst);
    std::thread::scope(|s| {
        let taking = s.spawn(|| match taker {
            Taker::Miss => pool.read(PageId::new(a, 0)).map(|_| ()),
            Taker::NewPage => pool.new_page(a).map(|_| ()),
        });
        hold.entered.wait("the call asks the veto for a victim");
        pool.drop_file(a).unwrap();
        let left = links_to(&path);
        hold.go.open();
        let got = taking.join().unwrap();
        assert!(
            matches!(got, Err(Error::FileNotOpen(f)) if f == a),
            "{what}: a page of a dropped file was read or made: {got:?}"
        );
        assert!(left.is_empty(), "{what}: drop_file returned with {left:?} open");
    });
    // Its lock was released too: the file opens again at once.
    let again = pool.open_file(&path).unwrap();
    assert_eq!(pool.file_pages(again).unwrap(), 4, "{what}");
}

/// A log whose flush is held by `hold`; while it is armed, every run of pages with an LSN needs it first.
struct WalGate {
    hold: Hold,
}

impl bufpool::Wal for WalGate {
    fn flush_to(&self, _lsn: bufpool::Lsn) -> bufpool::Result<()> {
        self.hold.pass("the test lets the log flush finish");
        Ok(())
    }
    fn needs_flush_for_pages(&self, _lsn: bufpool::Lsn, _first: PageId, _count: usize) -> bool {
        self.hold.armed.load(SeqCst)
    }
}

/// R25-10: a flush or checkpoint that put a file's runs off for its log held the file's entry while the log
/// flushed: the file dropped meanwhile stayed open until the log flush returned.
#[test]
fn a_checkpoint_waiting_for_a_files_log_keeps_it_open_no_longer_than_its_drop() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let pool = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
        let wal = Arc::new(WalGate { hold: Hold::default() });
        let w = pool
            .open_file_with(&path, bufpool::FileOptions::new().wal(wal.clone()))
            .unwrap();
        for n in 0..2 {
            let mut g = pool.new_page(w).unwrap();
            common::fill_page(&mut g, n, 1);
            g.set_lsn(7);
        }
        wal.hold.armed.store(true, SeqCst);
        std::thread::scope(|s| {
            let checkpointer = s.spawn(|| pool.checkpoint_report());
            wal.hold.entered.wait("the checkpoint flushes the file's log");
            pool.drop_file(w).unwrap();
            let left = links_to(&path);
            wal.hold.go.open();
            let _ = checkpointer.join().unwrap();
            assert!(left.is_empty(), "{backend:?}: drop_file returned with {left:?} open");
        });
    }
}

/// R25-14, a probe (not a proof: it needs the kernel's io-wq worker to lose a race): 400 times, a file on its own
/// filesystem is written and checkpointed, dropped, and the filesystem unmounted at once (`umount2`, no child
/// process). With the io_uring backend a free the kernel deferred to this thread's ring kept the file referenced
/// and the unmount failed `EBUSY` (6 of 400 under two busy loops, at 41e6828; 0 of 400 with `IoBackend::Pread`).
/// Needs root; `LOOPDEV=/dev/loopN` (an ext4 on it, unmounted) puts the file on ext4, else a tmpfs (which
/// rarely punts to io-wq). Run: `LOOPDEV=... cargo test -p bufpool --test descriptor_release -- --ignored probe`.
#[test]
#[ignore]
fn probe_umount_right_after_drop_file() {
    use std::ffi::CString;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: not root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("m");
    std::fs::create_dir(&mnt).unwrap();
    let target = CString::new(mnt.to_str().unwrap()).unwrap();
    let (source, fstype) = match std::env::var("LOOPDEV") {
        Ok(dev) => (CString::new(dev).unwrap(), CString::new("ext4").unwrap()),
        Err(_) => (CString::new("tmpfs").unwrap(), CString::new("tmpfs").unwrap()),
    };
    let backend = if std::env::var_os("PREAD").is_some() {
        IoBackend::Pread
    } else {
        IoBackend::Auto
    };
    let pool = BufferPool::builder().frames(64).io_backend(backend).build().unwrap();
    let mut busy = Vec::new();
    for run in 0..400 {
        // SAFETY: mount(2) with valid C strings and no data; the mount point is this test's own directory.
        let mounted = unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
        assert_eq!(mounted, 0, "mount: {}", std::io::Error::last_os_error());
        let f = pool.open_file(mnt.join("x.db")).unwrap();
        fill(&pool, f, 8);
        pool.checkpoint().unwrap();
        pool.drop_file(f).unwrap();
        // SAFETY: umount2(2) of the mount made above.
        if unsafe { libc::umount2(target.as_ptr(), 0) } != 0 {
            let e = std::io::Error::last_os_error();
            busy.push((run, e.to_string(), links_under(&mnt)));
            // SAFETY: as above; detached, the next mount starts clean.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
    }
    assert!(
        busy.is_empty(),
        "{backend:?}: unmounts refused (run, error, our descriptors there): {busy:?}"
    );
}
