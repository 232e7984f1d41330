//! R13-O1 (RELIABILITY.md, F14-1): `Builder::build` with more frames than the process may allocate aborted the
//! process (`handle_alloc_error` in the frame memory's allocation, the headers', the page table's, each policy's
//! vectors) instead of returning an error, so a pool sized from a configuration file killed its caller. Now every
//! per-frame allocation fails softly and the build returns `Error::OutOfMemory`, having freed what it took.
//!
//! The test runs itself again as a child whose address space is limited (`RLIMIT_AS`, the limit `ulimit -v`
//! sets): a child that aborts fails the parent. This binary counts allocations (its global allocator), so it also
//! measures every built-in policy against the room `build` makes sure of before the allocations that cannot fail
//! softly (`BOOKKEEPING_BYTES_PER_FRAME` in `pool.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::process::Command;

use bufpool::policy::{Admission, PolicyConfig, PolicyKind};
use bufpool::{BufferPool, Error};

/// `pool.rs`'s `BOOKKEEPING_BYTES_PER_FRAME`: the free list's queue slot (16 bytes) and the policy's state.
const BOOKKEEPING_BYTES_PER_FRAME: usize = 192;
const QUEUE_SLOT_BYTES: usize = 16;

/// The system allocator, counting this thread's live heap bytes and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting touches only const-initialised
// thread-locals (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: ptr came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Every built-in policy, with and without admission, needs at most the room `build` checks for (peak heap bytes
/// while building, per frame): a policy that grew past it could abort a build again.
#[test]
fn every_builtin_policy_fits_the_bookkeeping_room() {
    const FRAMES: usize = 100_000;
    for &kind in PolicyKind::ALL {
        for admission in [Admission::None, Admission::TinyLfu] {
            let config = PolicyConfig { kind, admission };
            let base = LIVE.with(Cell::get);
            PEAK.with(|p| p.set(base));
            let policy = config.build(FRAMES);
            let peak = (PEAK.with(Cell::get) - base) as usize;
            drop(policy);
            let per_frame = peak.div_ceil(FRAMES);
            assert!(
                per_frame + QUEUE_SLOT_BYTES <= BOOKKEEPING_BYTES_PER_FRAME,
                "{}: {per_frame} bytes per frame",
                config.name()
            );
        }
    }
}

/// The process's address space now, from `/proc/self/status`.
fn vm_size_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

const CHILD: &str = "BUFPOOL_BUILD_OOM_CHILD";
/// Address space the child may add to what it has when it starts building.
const ROOM: u64 = 256 << 20;

#[test]
fn a_pool_too_large_for_the_process_is_an_error_and_one_that_fits_works() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_pool_too_large_for_the_process_is_an_error_and_one_that_fits_works",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("child done"), "the child did not run:\n{stdout}");
}

fn child() {
    let limit = vm_size_bytes() + ROOM;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit reads the struct we pass; RLIMIT_AS is a valid resource. This child process exists to run
    // under the limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
    let start = vm_size_bytes();
    let page_size = 4096;
    let build = |frames: usize| {
        BufferPool::builder()
            .frames(frames)
            .page_size(page_size)
            .io_threads(0)
            .build()
    };

    // Far too large: even the bookkeeping that cannot fail softly has no room (it aborted here before F14-1).
    let huge = 1 << 24;
    match build(huge) {
        Err(Error::OutOfMemory { frames, bytes }) => {
            assert_eq!((frames, bytes), (huge, huge * page_size));
        }
        other => panic!("{huge} frames under a {ROOM}-byte limit: {:?}", other.map(|_| ())),
    }

    // From twice the room down by 1% steps: each build is refused with OutOfMemory (at whichever allocation
    // met the limit: the pages, the headers, the page table, the load-error slots) until one fits.
    let mut frames = 2 * ROOM as usize / page_size;
    let mut refused = 0;
    let pool = loop {
        match build(frames) {
            Ok(pool) => break pool,
            Err(Error::OutOfMemory { frames: f, bytes }) => {
                assert_eq!((f, bytes), (frames, frames * page_size));
                refused += 1;
            }
            Err(e) => panic!("{frames} frames: {e}"),
        }
        frames = frames * 99 / 100;
    };
    assert!(refused > 0, "the first build fitted: the test limits nothing");
    assert!(frames * page_size > ROOM as usize / 2, "only {frames} frames fitted");
    println!("{refused} builds refused, {frames} frames fitted");

    // The pool that fits works, and the refused builds kept nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = pool.open_file(dir.path().join("fits.db")).unwrap();
    let mut ids = Vec::new();
    for i in 0..64u8 {
        let mut page = pool.new_page(file).unwrap();
        page[..3].copy_from_slice(&[i, 7, i]);
        ids.push(page.page_id());
    }
    pool.checkpoint().unwrap();
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(pool.read(id).unwrap()[..3], [i as u8, 7, i as u8]);
    }
    drop(pool);
    let after = vm_size_bytes();
    assert!(
        after < start + (ROOM / 4),
        "{} MiB of address space kept after the pools were dropped",
        (after - start) >> 20
    );
    println!("child done");
}
