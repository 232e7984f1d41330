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

use crate::common::{test_thread, Hold, STEP_WAIT_MAX};

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
            self.sync.arm_for(test_thread());
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

    write.arm_for(0);
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

/// The same race unscripted: threads changing pages (each change stamped with an LSN from a shared counter, under
/// its write guard, as an engine's log would), two threads flushing (`flush` of a page, `flush_file`,
/// `checkpoint`, `checkpoint_spread`) and, in odd rounds, the background writer. Then the changes stop, the test
/// checkpoints, and the power fails at once with the device garbling every block in flight. No page changed
/// since the checkpoint began, so every page must read back whole, with its last change: an engine would have
/// cut its log at the checkpoint's redo point, and nothing could rebuild a page garbled by a write that landed
/// after the checkpoint's sync.
#[test]
fn flushers_beside_a_checkpoint_then_a_garbling_power_loss() {
    const PAGES: u32 = 24;
    for round in 0..24u64 {
        // Calls that sleep before they act (up to a millisecond, one in five): a write copied before the
        // checkpoint's may land well after it.
        let faults = FaultConfig {
            latency: 0.2,
            latency_max: std::time::Duration::from_millis(1),
            ..FaultConfig::none()
        };
        let device = Arc::new(FaultyStorage::new(round, faults));
        let mut builder = BufferPool::builder().frames(16);
        if round % 2 == 1 {
            builder = builder.background_writer(bufpool::WriterConfig {
                interval: std::time::Duration::from_millis(1),
                dirty_ratio_max: 0.05,
                ..bufpool::WriterConfig::for_frames(16)
            });
        }
        let pool = builder.build().unwrap();
        let file = pool.open_storage(device.clone()).unwrap();
        for _ in 0..PAGES {
            drop(pool.new_page(file).unwrap());
        }
        pool.checkpoint().unwrap();
        let next_lsn = AtomicU64::new(1);
        let last: Vec<AtomicU64> = (0..PAGES).map(|_| AtomicU64::new(0)).collect();
        let (changing, stop, changes) = (AtomicBool::new(true), AtomicBool::new(false), AtomicU64::new(0));
        std::thread::scope(|s| {
            let mut writers = Vec::new();
            for t in 0..2u64 {
                let (pool, next_lsn, last, changing, changes) = (&pool, &next_lsn, &last, &changing, &changes);
                writers.push(s.spawn(move || {
                    let mut x = round * 31 + t * 7 + 1;
                    while changing.load(SeqCst) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let n = (x >> 33) as u32 % PAGES;
                        let Ok(mut g) = pool.write(PageId::new(file, n)) else {
                            continue;
                        };
                        let lsn = next_lsn.fetch_add(1, SeqCst);
                        g[..8].copy_from_slice(&lsn.to_le_bytes());
                        g.set_lsn(lsn);
                        last[n as usize].store(lsn, SeqCst);
                        drop(g);
                        changes.fetch_add(1, SeqCst);
                    }
                }));
            }
            for t in 0..2u64 {
                let (pool, stop) = (&pool, &stop);
                s.spawn(move || {
                    let mut x = round * 17 + t * 5 + 3;
                    while !stop.load(SeqCst) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        // Errors after the power loss are the dead device's.
                        let _ = match (x >> 33) % 4 {
                            0 => pool.flush(PageId::new(file, (x >> 40) as u32 % PAGES)),
                            1 => pool.flush_file(file),
                            2 => pool.checkpoint(),
                            _ => pool.checkpoint_spread(std::time::Duration::from_micros(200)),
                        };
                    }
                });
            }
            let start = std::time::Instant::now();
            while changes.load(SeqCst) < 200 {
                assert!(
                    start.elapsed() < STEP_WAIT_MAX,
                    "round {round}: the writers made no progress"
                );
                std::thread::yield_now();
            }
            changing.store(false, SeqCst);
            for w in writers {
                w.join().unwrap();
            }
            pool.checkpoint().unwrap();
            // The power fails a moment later (a write put off by its sleep may land meanwhile, its sync still
            // asleep): a perturbation of the schedule, nothing is timed.
            std::thread::sleep(std::time::Duration::from_micros(round * 97 % 1500));
            let image = device.crash_garbling_blocks(1.0);
            stop.store(true, SeqCst);
            let pool2 = BufferPool::builder().frames(16).build().unwrap();
            let file2 = pool2.open_storage(MemoryStorage::from_bytes(image)).unwrap();
            for n in 0..PAGES {
                let want = last[n as usize].load(SeqCst);
                match pool2.read(PageId::new(file2, n)) {
                    Ok(g) => assert_eq!(
                        u64::from_le_bytes(g[..8].try_into().unwrap()),
                        want,
                        "round {round}: page {n} came back without its last change (LSN {want})"
                    ),
                    Err(e) => panic!(
                        "round {round}: page {n}, last changed at LSN {want} before the checkpoint, was lost to a \
                         power loss right after the checkpoint returned: {e}"
                    ),
                }
            }
        });
    }
}
