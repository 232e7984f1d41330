//! The review's suspicions (issue 11, U1-U8), each settled by a test. U4 is `tests/held_by_caller.rs`, U8 is
//! `tests/panic_safety.rs`, U1 is `tests/uring_setup_failure.rs` (it lowers the process's file limit, so it runs
//! in a test binary of its own). Sleeps here only order the threads; no assertion depends on timing, and a
//! schedule that comes out otherwise passes without having tested the window (never fails spuriously).

use crate::common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

/// U2: a miss that finds every frame latched only by the pool's own write runs (a checkpoint writing them) waits
/// for the run instead of reporting `PoolExhausted`.
#[test]
fn u2_frames_held_by_a_flush_are_waited_for() {
    let storage = common::Instrumented::new();
    let pool = Arc::new(BufferPool::builder().frames(4).build().unwrap());
    let file = pool.open_storage(storage.clone()).unwrap();
    let other = pool.open_storage(MemoryStorage::from_bytes(vec![0; 4 * 4096])).unwrap();
    for _ in 0..4 {
        drop(pool.new_page(file).unwrap());
    }
    // The checkpoint's write (one run of all four pages, shared-latched) takes 200 ms and says when it starts.
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = parking_lot::Mutex::new(Some(tx));
    *storage.on_write.lock() = Some(Box::new(move |_, _| {
        if let Some(tx) = tx.lock().take() {
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
    }));
    let checkpoint = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.checkpoint())
    };
    rx.recv().unwrap();
    // Every frame is latched by the checkpoint now; this miss used to fail at once.
    let r = pool.read(PageId::new(other, 0)).map(|g| g.len());
    checkpoint.join().unwrap().unwrap();
    assert!(r.is_ok(), "miss while a flush held every frame: {r:?}");
}

/// U2, the other side: frames held by guards are not waited for by default (the caller may hold them itself),
/// and `Builder::frame_wait` makes a miss wait for another thread's guard.
#[test]
fn u2_frame_wait_waits_for_guards_only_when_asked() {
    let pool = Arc::new(
        BufferPool::builder()
            .frames(2)
            .frame_wait(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    let file = pool.open_storage(MemoryStorage::from_bytes(vec![0; 3 * 4096])).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let holder = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let a = pool.read(PageId::new(file, 0)).unwrap();
            let b = pool.read(PageId::new(file, 1)).unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            drop((a, b));
        })
    };
    rx.recv().unwrap();
    let r = pool.read(PageId::new(file, 2)).map(|g| g.len());
    holder.join().unwrap();
    assert!(r.is_ok(), "frame_wait: {r:?}");

    let no_wait = BufferPool::builder().frames(2).build().unwrap();
    let file = no_wait
        .open_storage(MemoryStorage::from_bytes(vec![0; 3 * 4096]))
        .unwrap();
    let _a = no_wait.read(PageId::new(file, 0)).unwrap();
    let _b = no_wait.read(PageId::new(file, 1)).unwrap();
    assert!(matches!(
        no_wait.read(PageId::new(file, 2)),
        Err(Error::PoolExhausted { .. })
    ));
}

/// U3: after a failed fsync, a clean page written since the last good sync may not be on disk (the kernel may
/// have dropped it): it is kept in the pool, never evicted and re-read stale. Pages written before the last good
/// sync, and pages only read, are evicted as usual.
#[test]
fn u3_pages_written_after_the_last_good_sync_stay_resident_after_a_failed_sync() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let other = pool
        .open_storage(MemoryStorage::from_bytes(vec![0; 16 * 4096]))
        .unwrap();
    let synced = {
        let mut g = pool.new_page(file).unwrap();
        g[0] = 1;
        g.page_id()
    };
    pool.checkpoint().unwrap();
    let unsynced = {
        let mut g = pool.new_page(file).unwrap();
        g[0] = 2;
        g.page_id()
    };
    storage.fail_syncs.store(true, SeqCst);
    assert!(pool.checkpoint().is_err(), "the sync fails");
    assert_eq!(pool.stats().dirty, 0, "the page was written, then its sync failed");
    // Churn the pool: every evictable frame is reused.
    for n in 0..16 {
        drop(pool.read(PageId::new(other, n)).unwrap());
    }
    let reads = storage.reads.load(SeqCst);
    assert_eq!(pool.read(unsynced).unwrap()[0], 2);
    assert_eq!(
        storage.reads.load(SeqCst),
        reads,
        "the unsynced page was kept, not re-read"
    );
    // The page synced before the failure was evicted and is read back from storage.
    assert_eq!(pool.read(synced).unwrap()[0], 1);
    assert_eq!(storage.reads.load(SeqCst), reads + 1);
}

/// U6: two sweeps of one file at once (`close_file` and `drop_file`), the first failing (a page stays latched past
/// its wait) while the second still sweeps: the failure must not reopen the file to `new_page` (F1's window).
#[test]
fn u6_a_failing_sweep_does_not_reopen_the_window_of_another() {
    let pool = Arc::new(BufferPool::builder().frames(4).build().unwrap());
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let g = pool.open_storage(MemoryStorage::new()).unwrap();
    // Frames: 0 = G:0 (freed below), 1 = F:0, 2, 3 = G:1, G:2.
    drop(pool.new_page(g).unwrap());
    drop(pool.new_page(f).unwrap());
    drop(pool.new_page(g).unwrap());
    drop(pool.new_page(g).unwrap());
    pool.free_page(PageId::new(g, 0)).unwrap();
    // A reader holds F:0 for 1.3 s: the first sweep gives up after about 1 s, the second (started 0.5 s later)
    // gets the page at 1.3 s.
    let reader = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let _g = pool.read(PageId::new(f, 0)).unwrap();
            std::thread::sleep(Duration::from_millis(1300));
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let closer = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.close_file(f))
    };
    std::thread::sleep(Duration::from_millis(500));
    let dropper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.drop_file(f))
    };
    std::thread::sleep(Duration::from_millis(650));
    // The closer has failed by now; the dropper is still sweeping and has passed frame 0.
    let created = pool.new_page(f).map(|mut w| {
        w[0] = 0x5A;
        w.page_id()
    });
    reader.join().unwrap();
    let closed = closer.join().unwrap();
    let dropped = dropper.join().unwrap();
    eprintln!("close_file: {closed:?}, drop_file: {dropped:?}, new_page: {created:?}");
    if dropped.is_ok() {
        assert!(created.is_err(), "new_page succeeded on a file being dropped");
        let st = pool.stats();
        assert_eq!(st.resident, 2, "only G's pages are resident");
        pool.checkpoint().unwrap();
    }
}

/// U7: `new_page` extending the file while another thread reads the page being created: the reader either finds
/// the page out of range or waits for the new page; it never reads past the end of the storage, and `new_page`
/// never gets the reader's error.
#[test]
fn u7_new_page_racing_a_read_of_it() {
    // Small pool and slow writes: each new page evicts a dirty one first, which was inside the race's window
    // (the page count was published before the frame was found).
    let storage = common::Instrumented::new();
    *storage.on_write.lock() = Some(Box::new(|_, _| std::thread::sleep(Duration::from_micros(300))));
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let file = pool.open_storage(storage).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (pool, stop) = (pool.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop.load(SeqCst) {
                let n = pool.file_pages(file).unwrap();
                // The page being created right now, or about to be.
                for page_no in [n.saturating_sub(1), n] {
                    match pool.read(PageId::new(file, page_no)) {
                        Ok(_) => seen += 1,
                        Err(Error::OutOfRange { .. }) => {}
                        Err(e) => panic!("read of page {page_no} while it is created: {e}"),
                    }
                }
            }
            seen
        })
    };
    for i in 0..1000 {
        let g = pool.new_page(file).unwrap_or_else(|e| panic!("new_page {i}: {e}"));
        drop(g);
    }
    stop.store(true, SeqCst);
    assert!(reader.join().unwrap() > 0);
}
