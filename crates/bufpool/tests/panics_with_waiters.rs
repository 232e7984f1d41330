//! A panic in code the pool calls on its own behalf (the `Storage`, the `Wal`), met while other threads wait on
//! the same page and while the file is being dropped and opened again under its id (R32-O1 in RELIABILITY.md).
//! `panic_safety.rs` checks each callback alone on one thread; here the panic lands in the middle of a wait:
//!
//! - A load whose `read_at` panics while a second reader waits for that load (single flight) and a `drop_file`
//!   of the file waits for its frame: both readers get the panic as `Error::Panicked` (one read, one error), the
//!   drop goes through, and a file opened again under the same id serves its own bytes, never the dropped one's.
//! - A checkpoint whose `Wal::flush_for_pages` panics while a writer waits for a page of its run: the writer gets
//!   the page once the run is let go, its change survives, and the next checkpoint writes it.
//!
//! The waits are made on purpose: the storage's read and the log's flush hold until the pool's statistics show
//! the other thread waiting (`single_flight_waits`), then panic. Each scenario is bounded (`common::within`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::storage::Storage;
use bufpool::{BufferPool, Error, FileId, Lsn, MemoryStorage, PageId, Wal};

use crate::common;
use crate::common::hooked::{Hooked, Hooks};

const PAGE: u64 = 4096;

/// Steps shared by the callbacks and the test.
#[derive(Default)]
struct Steps {
    /// Set by the test: the next call at the gated place holds, then panics.
    armed: AtomicBool,
    /// Set by that call once it holds.
    holding: AtomicBool,
    /// Set by the test when the other threads wait: the held call panics.
    go: AtomicBool,
}

impl Steps {
    /// In a callback: holds until `go` (if armed), then panics.
    fn hold_then_panic(&self, what: &str) {
        if self.armed.swap(false, SeqCst) {
            self.holding.store(true, SeqCst);
            while !self.go.load(SeqCst) {
                std::thread::yield_now();
            }
            panic!("{what} panics while others wait");
        }
    }

    fn wait_holding(&self) {
        while !self.holding.load(SeqCst) {
            std::thread::yield_now();
        }
    }
}

/// Hooks that hold the read of page `page`, once armed, then panic in it (`Steps::hold_then_panic`).
struct GatedRead {
    page: u64,
    steps: Arc<Steps>,
}

impl Hooks for GatedRead {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        if offset == self.page * PAGE {
            self.steps.hold_then_panic("Storage::read_at");
        }
        below.read_at(buf, offset)
    }
}

/// Waits until the pool counts `n` threads that found a page latched and waited for it.
fn wait_for_waiters(pool: &BufferPool, n: u64) {
    while pool.stats().single_flight_waits < n {
        std::thread::yield_now();
    }
}

fn is_panicked(e: &Error, what: &str) -> bool {
    matches!(e, Error::Panicked { .. }) && e.to_string().contains(what)
        || matches!(e, Error::Io { .. }) && e.to_string().contains(what)
}

/// A file of `pages` pages, page `n` holding `tag + n` in its first byte, written through a pool of its own.
fn image(pages: u32, tag: u8) -> MemoryStorage {
    let maker = BufferPool::builder().frames(4).build().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let file = maker.open_storage(storage.clone()).unwrap();
    for n in 0..pages {
        maker.new_page(file).unwrap()[0] = tag.wrapping_add(n as u8);
    }
    maker.close_file(file).unwrap();
    let mut bytes = vec![0u8; pages as usize * PAGE as usize];
    storage.read_at(&mut bytes, 0).unwrap();
    MemoryStorage::from_bytes(bytes)
}

#[test]
fn a_read_panicking_while_another_reader_and_a_drop_wait_fails_both_reads_and_the_reopen_is_served_its_own() {
    common::within("a read that panics with a reader and a drop waiting", || {
        let pool = Arc::new(BufferPool::builder().frames(4).build().unwrap());
        let steps = Arc::new(Steps::default());
        let file = pool
            .open_storage(Hooked::unbound(
                image(8, 10),
                GatedRead {
                    page: 3,
                    steps: steps.clone(),
                },
            ))
            .unwrap();
        let page = PageId::new(file, 3);
        steps.armed.store(true, SeqCst);
        let first = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.read(page).map(|g| g[0]))
        };
        steps.wait_holding();
        let second = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.read(page).map(|g| g[0]))
        };
        wait_for_waiters(&pool, 1);
        // The drop waits (about a second at a time) for the load's frame; a panic's unwinding, with a backtrace
        // printed, may take longer on a loaded machine: a drop refused so is tried again.
        let dropper = {
            let pool = pool.clone();
            std::thread::spawn(move || loop {
                match pool.drop_file(file) {
                    Err(Error::PageLatched { .. }) => continue,
                    other => break other,
                }
            })
        };
        steps.go.store(true, SeqCst);
        for (who, got) in [("first", first.join().unwrap()), ("second", second.join().unwrap())] {
            match got {
                Err(e) if is_panicked(&e, "Storage::read_at") => {}
                other => panic!("the {who} reader: expected the read's panic, got {other:?}"),
            }
        }
        dropper.join().unwrap().unwrap();
        // The id again, another file: its own bytes, for the page the panicking load was for and the others.
        let again = pool.open_storage_as(file, image(8, 100)).unwrap();
        assert_eq!(again, file);
        for n in 0..8 {
            assert_eq!(pool.read(PageId::new(file, n)).unwrap()[0], 100 + n as u8);
        }
        assert_eq!(pool.stats().resident, 4);
    });
}

/// A log with nothing to flush whose `flush_for_pages` holds and panics when armed.
struct GatedWal {
    steps: Arc<Steps>,
    flushes: AtomicU64,
}

impl Wal for GatedWal {
    fn flush_to(&self, _lsn: Lsn) -> bufpool::Result<()> {
        Ok(())
    }
    fn flush_for_pages(&self, _lsn: Lsn, _first: PageId, _count: usize) -> bufpool::Result<()> {
        self.flushes.fetch_add(1, SeqCst);
        self.steps.hold_then_panic("Wal::flush_for_pages");
        Ok(())
    }
}

#[test]
fn a_log_flush_panicking_in_a_checkpoint_while_a_writer_waits_for_its_page_loses_no_change() {
    common::within("a checkpoint's log flush that panics with a writer waiting", || {
        let steps = Arc::new(Steps::default());
        let wal = Arc::new(GatedWal {
            steps: steps.clone(),
            flushes: AtomicU64::new(0),
        });
        let pool = Arc::new(BufferPool::builder().frames(4).wal(wal.clone()).build().unwrap());
        let file: FileId = pool.open_storage(MemoryStorage::new()).unwrap();
        for n in 0..2u8 {
            let mut g = pool.new_page(file).unwrap();
            g[0] = n;
            g.set_lsn(1 + u64::from(n));
        }
        let page = PageId::new(file, 0);
        steps.armed.store(true, SeqCst);
        let checkpoint = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.checkpoint())
        };
        steps.wait_holding();
        let writer = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut g = pool.write(page)?;
                g[1] = 77;
                g.set_lsn(3);
                Ok::<_, Error>(())
            })
        };
        wait_for_waiters(&pool, 1);
        steps.go.store(true, SeqCst);
        let e = checkpoint.join().unwrap().unwrap_err();
        assert!(is_panicked(&e, "Wal::flush_for_pages"), "{e}");
        writer.join().unwrap().unwrap();
        assert!(
            pool.stats().dirty >= 1,
            "the page the checkpoint could not write is still dirty"
        );
        pool.checkpoint().unwrap();
        assert_eq!(pool.stats().dirty, 0);
        // Evicted and read back from the storage: the writer's change was written by the second checkpoint.
        for _ in 0..8 {
            drop(pool.new_page(file).unwrap());
        }
        pool.checkpoint().unwrap();
        let g = pool.read(page).unwrap();
        assert_eq!((g[0], g[1]), (0, 77));
        assert_eq!(pool.read(PageId::new(file, 1)).unwrap()[0], 1);
    });
}
