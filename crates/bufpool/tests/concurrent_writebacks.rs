//! R49-1 (RELIABILITY.md, "Session 49"): two write-backs of one page at once. A flush, a checkpoint and the
//! background writer each write a dirty page under a *shared* latch, so two of them could copy the same page and
//! write it: when the one that started first was still between its copy and its write while the second wrote,
//! synced and returned, the first one's write reached the device after that sync. A checkpoint that had returned
//! `Ok` (and an engine that cut its log at its redo point) was then followed by one more write of a page that no
//! change since had touched: a power loss during that write garbled the page, and nothing in the log could
//! rebuild it. It is how the B+tree's threaded model lost pages (R48-O40: two threads checkpointing one tree).
//!
//! Now a write-back claims the page for its write (`FrameHeader::writing`); a second one waits for the claim to
//! end, then finds the page clean and skips it (PostgreSQL's `BM_IO_IN_PROGRESS`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultyStorage, MemoryStorage, Storage, StorageInfo};
use bufpool::{BufferPool, Error, PageId};

use crate::common::{Gate, STEP_WAIT_MAX};

/// One held call: once armed (with the thread allowed to pass it, 0 for any), the next such call on that thread
/// opens `entered` and waits at `go`.
#[derive(Default)]
struct Hold {
    armed: AtomicBool,
    thread: AtomicU64,
    entered: Gate,
    go: Gate,
}

impl Hold {
    fn arm(&self, thread: u64) {
        self.thread.store(thread, SeqCst);
        self.armed.store(true, SeqCst);
    }

    fn pass(&self, what: &str) {
        let mine = self.thread.load(SeqCst);
        if (mine == 0 || mine == token()) && self.armed.swap(false, SeqCst) {
            self.entered.open();
            self.go.wait(what);
        }
    }
}

/// A number for the calling thread (the test's own, not the pool's).
fn token() -> u64 {
    thread_local!(static TOKEN: u64 = NEXT.fetch_add(1, SeqCst));
    static NEXT: AtomicU64 = AtomicU64::new(1);
    TOKEN.with(|t| *t)
}

/// A [`FaultyStorage`] whose next write, and then the next sync of the thread that made it, can be held.
struct Gated {
    inner: Arc<FaultyStorage>,
    write: Arc<Hold>,
    sync: Arc<Hold>,
}

impl Storage for Gated {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let held = self.write.armed.load(SeqCst);
        self.write.pass("the test lets the first write-back write");
        if held {
            // The writer's sync, next: held so the test can cut power between this write and it.
            self.sync.arm(token());
        }
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.sync.pass("the test lets the first write-back sync");
        self.inner.sync()
    }
    fn info(&self) -> StorageInfo {
        self.inner.info()
    }
}

/// The first write-back (`first`) is held between its copy of page 1 and its write; the second (`second`) runs
/// meanwhile. Once the second has returned `Ok`, the first writes, and the power fails before its sync, with the
/// device garbling every block it was writing. Page 1, unchanged since the second write-back, must read back
/// whole.
fn two_writebacks(
    name: &str,
    first: fn(&BufferPool, PageId) -> bufpool::Result<()>,
    second: fn(&BufferPool, PageId) -> bufpool::Result<()>,
) {
    let device = Arc::new(FaultyStorage::new(7, FaultConfig::none()));
    let (write, sync) = (Arc::new(Hold::default()), Arc::new(Hold::default()));
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool
        .open_storage(Gated {
            inner: device.clone(),
            write: write.clone(),
            sync: sync.clone(),
        })
        .unwrap();
    for n in 0..4u8 {
        let mut g = pool.new_page(file).unwrap();
        g[100] = n;
    }
    pool.flush_file(file).unwrap();
    let page = PageId::new(file, 1);
    pool.write(page).unwrap()[100] = 42;

    write.arm(0);
    std::thread::scope(|s| {
        let a = s.spawn(|| first(&pool, page));
        write.entered.wait("the first write-back's write");
        let b = s.spawn(|| second(&pool, page));
        // The second write-back either finishes (it wrote the page itself) or waits for the first one's write.
        let start = std::time::Instant::now();
        while !b.is_finished() && pool.stats().write_waits == 0 {
            assert!(
                start.elapsed() < STEP_WAIT_MAX,
                "{name}: the second write-back neither returned nor waited"
            );
            std::thread::yield_now();
        }
        let second_done = b.is_finished();
        if !second_done {
            // The second waits for the first: nothing to hold the first one's sync for.
            sync.go.open();
        }
        write.go.open();
        if second_done {
            // The first write-back's write lands after the second one's sync; cut power before its own sync.
            sync.entered.wait("the first write-back's sync");
            let image = device.crash_garbling_blocks(1.0);
            let pool2 = BufferPool::builder().frames(16).build().unwrap();
            let file2 = pool2.open_storage(MemoryStorage::from_bytes(image)).unwrap();
            let read = pool2.read(PageId::new(file2, 1)).map(|g| g[100]);
            sync.go.open();
            match read {
                Ok(byte) => assert_eq!(byte, 42, "{name}: page 1 came back with another byte"),
                Err(e) => panic!(
                    "{name}: page 1 was lost to a power loss after the second write-back returned Ok, though \
                     nothing changed it since: {e}"
                ),
            }
        }
        b.join().unwrap().unwrap();
        match a.join().unwrap() {
            // The crash failed the storage under the first write-back's sync.
            Ok(()) | Err(Error::Io { .. }) => {}
            Err(e) => panic!("{name}: the first write-back: {e}"),
        }
        if !second_done {
            let image = device.crash_garbling_blocks(1.0);
            let pool2 = BufferPool::builder().frames(16).build().unwrap();
            let file2 = pool2.open_storage(MemoryStorage::from_bytes(image)).unwrap();
            assert_eq!(
                pool2.read(PageId::new(file2, 1)).unwrap()[100],
                42,
                "{name}: page 1 after both"
            );
        }
    });
}

fn flush_file(pool: &BufferPool, page: PageId) -> bufpool::Result<()> {
    pool.flush_file(page.file())
}

fn flush_page(pool: &BufferPool, page: PageId) -> bufpool::Result<()> {
    pool.flush(page)
}

fn checkpoint(pool: &BufferPool, _page: PageId) -> bufpool::Result<()> {
    pool.checkpoint()
}

#[test]
fn two_file_flushes() {
    two_writebacks("flush_file, flush_file", flush_file, flush_file);
}

#[test]
fn a_checkpoint_beside_a_page_flush() {
    two_writebacks("flush, checkpoint", flush_page, checkpoint);
}

#[test]
fn a_page_flush_beside_a_checkpoint() {
    two_writebacks("checkpoint, flush", checkpoint, flush_page);
}
