//! Regression test for bug B3 (RELIABILITY.md), found by the multi-threaded crash simulation
//! (`BUFPOOL_SIM_SEEDS=400 cargo test --release -p bufpool --test integration -- sim_crash::`, seed 48961): a thread
//! asking for an intact page got `Error::Corrupt` naming *another* page.
//!
//! The story: `fix` remembers the frame and version it saw while the page it wants was latched by someone else,
//! so that when the load it waited for fails, it returns that load's error instead of reading again (single
//! flight). But the latch it saw may belong to an *evictor*: `try_take` latches the victim (still holding page P)
//! exclusively, `evict` writes and unmaps P, and `acquire_frame` hands the same frame, still latched and at the
//! same version, to the miss path of another page X. If X's load fails, it records its error at version + 1,
//! exactly what the waiter for P checks (`load_error(idx, version)` compares versions only), so the waiter for P
//! returns X's error. Here: P is dirty in a one-frame pool, a reader of the corrupt page X evicts it (the write is
//! held at a gate so that a reader of P waits on the latch meanwhile), then X fails verification. The reader of P
//! must get P (or an error about P, such as `PoolExhausted`), never X's `Corrupt`.
//!
//! Fixed: the error slot records the page id with the error, and `load_error` compares it.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage, StorageInfo};
use bufpool::{BufferPool, Error, PageId};
use parking_lot::{Condvar, Mutex};

/// Memory storage whose writes wait at a gate while it is closed.
struct Gated {
    inner: MemoryStorage,
    closed: Mutex<bool>,
    opened: Condvar,
    writing: AtomicBool,
}

impl Storage for Gated {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.writing.store(true, SeqCst);
        let mut closed = self.closed.lock();
        while *closed {
            self.opened.wait(&mut closed);
        }
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "gated",
            direct: false,
        }
    }
}

/// An image with page 0 intact and page 1 corrupt.
fn image() -> Vec<u8> {
    let storage = Arc::new(MemoryStorage::new());
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    pool.new_page(file).unwrap().fill(0x11);
    pool.new_page(file).unwrap().fill(0x22);
    pool.close_file(file).unwrap();
    storage.with_bytes(|b| b[4096 + 1000] ^= 0x40);
    storage.snapshot()
}

#[test]
fn a_waiter_never_gets_another_pages_load_error() {
    let image = image();
    for round in 0..20 {
        let storage = Arc::new(Gated {
            inner: MemoryStorage::from_bytes(image.clone()),
            closed: Mutex::new(false),
            opened: Condvar::new(),
            writing: AtomicBool::new(false),
        });
        let pool = BufferPool::builder().frames(1).build().unwrap();
        let file = pool.open_storage(storage.clone()).unwrap();
        let (p, x) = (PageId::new(file, 0), PageId::new(file, 1));
        pool.write(p).unwrap()[0] = 0x33; // P dirty in the only frame
        *storage.closed.lock() = true;
        let (for_p, for_x) = std::thread::scope(|s| {
            let evictor = s.spawn(|| pool.read(x).map(|_| ()));
            while !storage.writing.load(SeqCst) {
                std::thread::yield_now();
            }
            // The evictor holds P's frame latched while P's write waits at the gate; the reader of P waits too.
            let reader = s.spawn(|| pool.read(p).map(|g| g[0]));
            std::thread::sleep(Duration::from_millis(20));
            *storage.closed.lock() = false;
            storage.opened.notify_all();
            (reader.join().unwrap(), evictor.join().unwrap())
        });
        assert!(
            matches!(for_x, Err(Error::Corrupt { page, .. }) if page == x),
            "round {round}: X must fail verification: {for_x:?}"
        );
        match for_p {
            Ok(b) => assert_eq!(b, 0x33, "round {round}"),
            Err(Error::PoolExhausted { .. }) => {}
            Err(e) => panic!("round {round}: reading intact page P returned {e}"),
        }
    }
}
