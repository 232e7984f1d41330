//! A file id reused after a close or drop (`FileOptions::id`, `open_storage_as`): a call that started on the
//! earlier file never acts on the newer one.
//!
//! The 16-thread stress (`stress_16_threads.rs`) found the shape three times: `flush(page)` wrote a reopened file's
//! page to the dropped file's storage (fixed in session 5), `free_page` could discard a reopened file's page and put
//! its number on the dropped file's free list, and a `new_page` racing a drop once saw the reopened file's page
//! count. Each call looked the file up by id, then waited (for a latch, a sync) while the file was dropped and
//! reopened. The pool now refuses to register an id again while a call still holds the earlier file (waiting up to
//! a second for it), and `free_page` checks under the page latch that its file is still open. These tests pin the
//! first rule down deterministically with a storage whose `sync` blocks until the test lets it go.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage};
use bufpool::{BufferPool, Error, FileId, PageId};

use crate::common::hooked::{Hooked, Hooks};

/// A gate the test opens once; storage syncs wait at it while it is closed.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    waiting: AtomicBool,
}

impl Gate {
    fn wait(&self) {
        self.waiting.store(true, SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
    }
    fn is_open(&self) -> bool {
        *self.open.lock().unwrap()
    }
    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

/// Hooks whose `sync` blocks at the gate (when one is set).
struct SlowSync(Option<Arc<Gate>>);

impl Hooks for SlowSync {
    fn sync(&self, below: &dyn Storage) -> std::io::Result<()> {
        if let Some(g) = &self.0 {
            g.wait();
        }
        below.sync()
    }
}

/// A memory storage through [`SlowSync`], unbound as the test was written (its storage forwarded no file record).
fn slow_sync(gate: Option<Arc<Gate>>) -> Hooked<MemoryStorage, SlowSync> {
    Hooked::unbound(MemoryStorage::new(), SlowSync(gate))
}

fn pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(16).build().unwrap())
}

/// A `flush_file` of file 7 is inside its storage's `sync` when file 7 is dropped: the drop succeeds (it latches
/// no page the flush holds), but file 7 cannot be opened again under id 7 until the flush has returned. The open
/// either waits for it (and returns after the gate opened) or, after a second, refuses with `FileIdInUse`; it
/// never returns `Ok` while the earlier file's call is still running.
#[test]
fn reopen_under_the_same_id_waits_for_calls_on_the_dropped_file() {
    let pool = pool();
    let gate = Arc::new(Gate::default());
    let id = FileId(7);
    let old = slow_sync(Some(gate.clone()));
    assert_eq!(pool.open_storage_as(id, old).unwrap(), id);
    pool.new_page(id).unwrap()[0] = 1;

    let flusher = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.flush_file(id))
    };
    while !gate.waiting.load(SeqCst) {
        std::thread::yield_now();
    }
    // The flush has written the page and waits in `sync`, holding the file but no latch.
    pool.drop_file(id).unwrap();
    let opener = {
        let (pool, gate) = (pool.clone(), gate.clone());
        std::thread::spawn(move || {
            let new = slow_sync(None);
            let r = pool.open_storage_as(id, new);
            (r, gate.is_open())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    gate.release();
    let (opened, gate_was_open) = opener.join().unwrap();
    match opened {
        Ok(got) => {
            assert_eq!(got, id);
            assert!(
                gate_was_open,
                "id 7 was registered again while a flush of the dropped file 7 ran"
            );
            // The newer file is empty: nothing of the dropped file's page reached it.
            assert_eq!(pool.file_pages(id).unwrap(), 0);
        }
        Err(Error::FileIdInUse(f)) => assert_eq!(f, id),
        Err(e) => panic!("unexpected error: {e}"),
    }
    // The flush ended on the dropped file: written and synced there, or told the file is gone.
    match flusher.join().unwrap() {
        Ok(()) | Err(Error::FileNotOpen(_)) => {}
        Err(e) => panic!("flush of the dropped file: {e}"),
    }
}

/// With no call in flight, a dropped file's id is free at once, and a page id kept from before names the newer
/// file's page (as the docs say): `free_page` of it frees the newer file's page.
#[test]
fn a_dropped_files_id_is_free_at_once_when_nothing_runs_on_it() {
    let pool = pool();
    let id = FileId(3);
    let open = |pool: &BufferPool| pool.open_storage_as(id, slow_sync(None));
    open(&pool).unwrap();
    let page = pool.new_page(id).unwrap().page_id();
    assert_eq!(page, PageId::new(id, 0));
    pool.drop_file(id).unwrap();
    open(&pool).unwrap();
    // The newer file has no page 0 yet.
    assert!(matches!(pool.free_page(page), Err(Error::OutOfRange { pages: 0, .. })));
    // Once it has, the kept id names it.
    pool.new_page(id).unwrap()[0] = 9;
    pool.free_page(page).unwrap();
    assert!(matches!(
        pool.read(page),
        Err(Error::PageFreed { .. } | Error::ShortRead { .. })
    ));
}
