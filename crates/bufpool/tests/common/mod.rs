//! Test tooling shared by the scenario tests: an instrumented in-memory storage and page self-checks.
#![allow(dead_code)]

pub mod ext4;
pub mod hooked;
pub mod model;
pub mod tmpfs;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage, StorageInfo};
use bufpool::{FrameIdx, IoBackend, Policy};

/// Called with (offset, bytes) before a write is applied.
pub type WriteHook = Box<dyn Fn(u64, &[u8]) + Send + Sync>;

/// A `MemoryStorage` that counts reads and writes, can delay reads, and can fail writes or syncs on demand.
#[derive(Default)]
pub struct Instrumented {
    pub inner: MemoryStorage,
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    pub syncs: AtomicUsize,
    pub read_delay_ms: AtomicU64,
    /// While set, reads block (until it is cleared).
    pub read_gate_closed: AtomicBool,
    pub fail_writes: AtomicBool,
    pub fail_reads: AtomicBool,
    pub fail_syncs: AtomicBool,
    /// Called with (offset, bytes) before every write is applied.
    pub on_write: parking_lot::Mutex<Option<WriteHook>>,
}

impl Instrumented {
    pub fn new() -> Arc<Instrumented> {
        Arc::new(Instrumented::default())
    }
}

impl Storage for Instrumented {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.reads.fetch_add(1, SeqCst);
        while self.read_gate_closed.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let d = self.read_delay_ms.load(SeqCst);
        if d > 0 {
            std::thread::sleep(Duration::from_millis(d));
        }
        if self.fail_reads.load(SeqCst) {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.fail_writes.load(SeqCst) {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        if let Some(f) = &*self.on_write.lock() {
            f(offset, buf);
        }
        self.writes.fetch_add(1, SeqCst);
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        if self.fail_syncs.load(SeqCst) {
            return Err(io::Error::from_raw_os_error(libc_eio()));
        }
        self.syncs.fetch_add(1, SeqCst);
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "instrumented",
            direct: false,
        }
    }
}

fn libc_eio() -> i32 {
    5
}

/// Fills a page's user bytes with a self-check: page number, generation, then a fill derived from both.
pub fn fill_page(buf: &mut [u8], page_no: u32, generation: u64) {
    buf[0..4].copy_from_slice(&page_no.to_le_bytes());
    buf[4..12].copy_from_slice(&generation.to_le_bytes());
    let fill = fill_byte(page_no, generation);
    buf[12..].fill(fill);
}

/// The generation stored in a page, after checking that the page is whole; panics with the reason otherwise.
pub fn check_page(buf: &[u8], page_no: u32) -> u64 {
    let stored_no = u32::from_le_bytes(buf[0..4].try_into().unwrap());
    let generation = u64::from_le_bytes(buf[4..12].try_into().unwrap());
    if stored_no == 0 && generation == 0 && buf.iter().all(|&b| b == 0) {
        return 0;
    }
    assert_eq!(stored_no, page_no, "page holds another page's bytes");
    let fill = fill_byte(page_no, generation);
    assert!(
        buf[12..].iter().all(|&b| b == fill),
        "torn page {page_no} gen {generation}"
    );
    generation
}

fn fill_byte(page_no: u32, generation: u64) -> u8 {
    (page_no as u64)
        .wrapping_mul(31)
        .wrapping_add(generation.wrapping_mul(7)) as u8
        | 1
}

/// Runs `f` on a thread of its own and fails the test if it does not finish within 10 s (a wait that hangs);
/// a panic in `f` is the test's.
pub fn within(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(()) => handle.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still waiting after 10 s (a self-wait hangs)")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// How long a step of a scripted race waits for another thread before the test gives up (a watchdog for a broken
/// schedule, not a timing assertion).
pub const STEP_WAIT_MAX: Duration = Duration::from_secs(30);

/// A flag one thread raises and another waits for (the steps of a scripted race).
#[derive(Default)]
pub struct Gate {
    open: std::sync::Mutex<bool>,
    cond: std::sync::Condvar,
}

impl Gate {
    /// Raises the flag and wakes every waiter.
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cond.notify_all();
    }

    /// Waits for the flag; fails the test after [`STEP_WAIT_MAX`], naming `what` was never reached.
    pub fn wait(&self, what: &str) {
        let open = self.open.lock().unwrap();
        let (open, timeout) = self.cond.wait_timeout_while(open, STEP_WAIT_MAX, |o| !*o).unwrap();
        assert!(*open && !timeout.timed_out(), "never reached: {what}");
    }
}

/// Where a test holds one of the pool's calls (a storage's sync or write, an eviction veto, a log flush): once
/// armed, the next call to [`Hold::pass`] (on the thread it was armed for, if any) opens `entered` and waits at
/// `go`.
#[derive(Default)]
pub struct Hold {
    /// Set to hold the next call (any thread's, unless [`Hold::arm_for`] named one).
    pub armed: AtomicBool,
    /// The [`test_thread`] the hold is armed for; 0 for any.
    thread: AtomicU64,
    /// Opened when a call is held.
    pub entered: Gate,
    /// The held call goes on once this is open.
    pub go: Gate,
}

impl Hold {
    /// Arms the hold for the next call of the thread `thread` ([`test_thread`]'s number; 0 for any thread).
    pub fn arm_for(&self, thread: u64) {
        self.thread.store(thread, SeqCst);
        self.armed.store(true, SeqCst);
    }

    /// Passes the hold: waits at `go` (naming `what` if it never opens) if it was armed for this thread, and
    /// disarms it.
    pub fn pass(&self, what: &str) {
        let thread = self.thread.load(SeqCst);
        if (thread == 0 || thread == test_thread()) && self.armed.swap(false, SeqCst) {
            self.entered.open();
            self.go.wait(what);
        }
    }
}

/// A number for the calling thread, never 0 (the tests' own, not the pool's).
pub fn test_thread() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static THREAD: u64 = NEXT.fetch_add(1, SeqCst));
    THREAD.with(|t| *t)
}

/// A policy that offers every tracked frame in index order and holds no lock while it does, so an eviction veto
/// that waits stops only its own thread (the scripted races' evictor).
pub struct InOrder {
    tracked: Vec<AtomicBool>,
    /// Passed after each victim taken, before the pool evicts it ([`InOrder::held_after_take`]).
    after_take: Option<Arc<Hold>>,
}

impl InOrder {
    /// For a pool of `frames` frames.
    pub fn new(frames: usize) -> InOrder {
        InOrder {
            tracked: (0..frames).map(|_| AtomicBool::new(false)).collect(),
            after_take: None,
        }
    }

    /// For a pool of `frames` frames; `hold` is passed after each victim taken, before the pool evicts it.
    pub fn held_after_take(frames: usize, hold: Arc<Hold>) -> InOrder {
        InOrder {
            after_take: Some(hold),
            ..InOrder::new(frames)
        }
    }
}

impl Policy for InOrder {
    fn name(&self) -> &'static str {
        "in-order"
    }
    fn on_hit(&self, _frame: FrameIdx) {}
    fn on_insert(&self, frame: FrameIdx, _key: u64) {
        self.tracked[frame as usize].store(true, SeqCst);
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.tracked[frame as usize].store(false, SeqCst);
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        for _pass in 0..2 {
            for (idx, t) in self.tracked.iter().enumerate() {
                if t.load(SeqCst) && try_take(idx as FrameIdx) {
                    t.store(false, SeqCst);
                    if let Some(hold) = &self.after_take {
                        hold.pass("the pool's eviction of the victim taken");
                    }
                    return Some(idx as FrameIdx);
                }
            }
        }
        None
    }
}

/// The backends an open by path can use here: `pread` always, io_uring where the kernel allows it.
pub fn backends() -> Vec<IoBackend> {
    let mut b = vec![IoBackend::Pread];
    if bufpool::storage::uring_available() {
        b.push(IoBackend::Uring);
    }
    b
}

/// `(device, inode)` of the file at `path`.
pub fn ident(path: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.dev(), m.ino())
}

/// How many of this process's descriptors are open on the file whose (device, inode) is `ident`.
pub fn descriptors_on(ident: (u64, u64)) -> usize {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::metadata(e.ok()?.path()).ok())
        .filter(|m| (m.dev(), m.ino()) == ident)
        .count()
}
