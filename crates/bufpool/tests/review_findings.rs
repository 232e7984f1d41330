//! Review reproductions: each test asserts the documented, correct behaviour and fails on the code as reviewed (2026-11-30).

use crate::common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use bufpool::{BufferPool, MemoryStorage, PageId};

/// F1: `new_page` does not re-check `FileEntry::closing` (ARCHITECTURE.md "Close/drop": a load racing with the
/// sweep re-checks `closing` after mapping its page and undoes itself). A page created while `drop_file` sweeps
/// survives the sweep in a frame the sweep already passed: after `drop_file` returned Ok, a dirty page of the
/// unregistered file stays resident (pinned forever: `evictable` refuses dirty pages of vanished files), every
/// `checkpoint` fails with `FileNotOpen`, and a file later opened under the same id is served the stale page.
#[test]
fn audit_new_page_survives_drop_file() {
    let pool = Arc::new(BufferPool::builder().frames(4).build().unwrap());
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let g = pool.open_storage(MemoryStorage::new()).unwrap();
    // Free list is FIFO 0,1,2,3: frame 0 = G:0, frame 1 = F:0, frames 2,3 = G:1, G:2.
    drop(pool.new_page(g).unwrap());
    drop(pool.new_page(f).unwrap());
    drop(pool.new_page(g).unwrap());
    drop(pool.new_page(g).unwrap());
    pool.free_page(PageId::new(g, 0)).unwrap(); // frame 0 back on the free list
                                                // A reader holds F:0 (frame 1) for 400 ms, so the sweep waits there (well under its 1 s limit).
    let reader = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let _g = pool.read(PageId::new(f, 0)).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let dropper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.drop_file(f))
    };
    std::thread::sleep(Duration::from_millis(150));
    // The sweep is past frame 0 (closing = true). new_page takes frame 0 from the free list.
    let created = pool.new_page(f).map(|mut w| {
        w[0] = 0x5A;
        w.page_id()
    });
    reader.join().unwrap();
    dropper.join().unwrap().expect("drop_file");
    eprintln!("new_page during drop_file returned {created:?}");
    let st = pool.stats();
    eprintln!("after drop_file: resident={} dirty={}", st.resident, st.dirty);
    let cp = pool.checkpoint();
    eprintln!("checkpoint after drop_file: {cp:?}");
    // Reopen a fresh, empty file under the same id (engines keep persistent ids).
    pool.open_storage_as(f, MemoryStorage::from_bytes(vec![0; 2 * 4096]))
        .unwrap();
    let stale = pool.read(PageId::new(f, 1)).map(|r| r[0]);
    eprintln!("read of the NEW file's page 1: {stale:?} (fresh file is all zeroes)");
    assert!(
        created.is_err() || st.resident == 2,
        "a page of the dropped file is still resident"
    );
    assert!(cp.is_ok(), "checkpoint fails because of the orphaned page: {cp:?}");
    assert_eq!(stale.unwrap(), 0, "the new file was served the dropped file's page");
}

/// F2: `new_page`'s fallback (a stale copy of a reused page is resident) frees its reserved frame with
/// `release_unmapped`, which does not clear the dirty flag set by `mark_dirty` just before. The frame goes to
/// the free list dirty; the next page loaded into it trips `debug_assert!(!dirty, "a reserved frame is clean")`
/// in `finish_load` (debug builds: panic with the frame exclusively latched, never released), or (release) is a
/// page that was only read but is reported and written back as dirty, and `Core::dirty_pages` is off by one
/// for good.
#[test]
fn audit_new_page_fallback_leaks_dirty_flag() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let g = pool.open_storage(MemoryStorage::from_bytes(vec![0; 8 * 4096])).unwrap();
    let p0 = pool.new_page(f).unwrap().page_id(); // frame 0
    pool.checkpoint().unwrap();
    pool.free_page(p0).unwrap(); // frame 0 freed; free list 1,2,3,0
    drop(pool.read(p0).unwrap()); // stale copy loaded into frame 1
    let reused = pool.new_page(f).unwrap(); // takes frame 2, marks it dirty, then falls back to write(p0)
    assert_eq!(reused.page_id(), p0);
    drop(reused);
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
    // Read-only loads of G: they take frames 3, 0 and then the leaked frame 2.
    for n in 0..3 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(pool.read(PageId::new(g, n)))));
        assert!(r.is_ok(), "read of G:{n} panicked (a free frame was still dirty)");
    }
    assert_eq!(pool.stats().dirty, 0, "a page that was only read is reported dirty");
}

/// F3: `read_many` calls `visit` while frames it reserved for later pages of the batch are still exclusively
/// latched by the calling thread. A visitor that reads another page of the same batch waits forever (the
/// single-flight wait in `fix_with` has no deadline). Nothing in `read_many`'s docs forbids calling the pool.
#[test]
fn audit_read_many_visit_self_deadlock() {
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let f = pool.open_storage(MemoryStorage::from_bytes(vec![0; 2 * 4096])).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let p = pool.clone();
    std::thread::spawn(move || {
        let pages = [PageId::new(f, 0), PageId::new(f, 1)];
        p.read_many(&pages, |i, r| {
            r.unwrap();
            if i == 0 {
                // Follow a "pointer" to the other page of the batch.
                drop(p.read(pages[1]).unwrap());
            }
        });
        tx.send(()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "read_many + read of a page of the same batch hung for 5 s"
    );
}

/// F4: `Stats::optimistic_fallbacks` ("optimistic reads that gave up retrying and took a shared latch") is never
/// incremented anywhere (`Counter::OptimisticFallbacks` has no `inc`), although the bench reports it.
#[test]
fn audit_optimistic_fallbacks_never_counted() {
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = pool.new_page(f).unwrap().page_id();
    let (tx, rx) = std::sync::mpsc::channel();
    let writer = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let _w = pool.write(page).unwrap();
            tx.send(()).unwrap();
            // Held until the reader has counted its fallback (or, if it never does, for 10 s): a fixed sleep let a
            // reader descheduled past it on a loaded machine read optimistically and count nothing.
            let start = std::time::Instant::now();
            while pool.stats().optimistic_fallbacks == 0 && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    rx.recv().unwrap();
    // The page stays exclusively latched: all 64 optimistic attempts fail, then a shared latch.
    pool.read_optimistic(page, |v| v.read_u8(0)).unwrap();
    writer.join().unwrap();
    assert_eq!(pool.stats().optimistic_fallbacks, 1);
}

/// F5: `close_file` whose final sync (after the sweep) fails leaves `closing = true` on a file that stays
/// registered (only a sweep error resets it). Every later load of the still-open file then fails with
/// `FileNotOpen`, although files.rs promises that a failed file's reads still work.
#[test]
fn audit_failed_close_leaves_file_unreadable() {
    let storage = common::Instrumented::new();
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let file = pool.open_storage(storage.clone()).unwrap();
    for _ in 0..2 {
        drop(pool.new_page(file).unwrap());
    }
    pool.checkpoint().unwrap();
    let (p0, p1) = (PageId::new(file, 0), PageId::new(file, 1));
    // The sweep's write of page 1 (dirtied after flush_file_entry took its snapshot) makes the final sync fail.
    let s2 = storage.clone();
    *storage.on_write.lock() = Some(Box::new(move |off, _| {
        if off == 4096 {
            s2.fail_syncs.store(true, SeqCst);
        }
    }));
    let (tx, rx) = std::sync::mpsc::channel();
    let t = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let g0 = pool.write(p0).unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(150));
            drop(pool.write(p1).unwrap()); // dirtied after close_file's flush snapshot
            std::thread::sleep(Duration::from_millis(150));
            drop(g0);
        })
    };
    rx.recv().unwrap();
    let closed = pool.close_file(file);
    t.join().unwrap();
    eprintln!("close_file: {closed:?}");
    assert!(closed.is_err());
    assert!(pool.file_pages(file).is_ok(), "the file is still registered");
    let r = pool.read(p0).map(|g| g.len());
    assert!(r.is_ok(), "read of a failed but still open file: {r:?}");
}

/// F6: panic safety of `read_many`: `visit` runs while frames reserved for later pages of the batch are still
/// exclusively latched and counted in `loads_in_flight`. If `visit` panics, those frames are never finished: the
/// page stays mapped to a frame latched forever, and every later `read` of it waits forever.
#[test]
fn audit_read_many_visit_panic_wedges_page() {
    let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
    let f = pool.open_storage(MemoryStorage::from_bytes(vec![0; 2 * 4096])).unwrap();
    let (a, b) = (PageId::new(f, 0), PageId::new(f, 1));
    drop(pool.read(b).unwrap()); // b resident, a not
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.read_many(&[a, b], |i, _g| {
            if i == 1 {
                panic!("visitor panics on the resident page");
            }
        })
    }));
    assert!(r.is_err());
    let (tx, rx) = std::sync::mpsc::channel();
    let p = pool.clone();
    std::thread::spawn(move || {
        let _ = p.read(a).map(|g| g.len());
        tx.send(()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "read of page a hung for 5 s after a panicking read_many visitor"
    );
}
