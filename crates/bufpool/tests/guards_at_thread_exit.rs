//! R12-1 (RELIABILITY.md): a thread that kept read guards in a thread-local (a cache of pinned pages of a
//! `'static` pool) aborted the whole process when it exited: `fatal runtime error: thread local panicked on drop`.
//!
//! The story: L11-6 moved a thread's read guards past the 16th into an overflow list, a thread-local `Vec` of its
//! own (`held.rs`), which a guard released out of order also searches. A `Vec` has a destructor, so the list is
//! destroyed when its thread exits, in reverse order of first use among the thread's thread-locals. A guard
//! dropped later, by the destructor of a thread-local first used before the list (the user's cache), asked the
//! destroyed list and panicked inside a thread-local destructor, which aborts. Before L11-6 the list was an array
//! without a destructor, and such a guard let its latch go like any other.
//!
//! R12-2, the pool's part (`pool_calls_from_a_thread_locals_destructor_work`): a thread-local handle whose
//! destructor finishes the thread's work (a `write`, reads that miss, a `checkpoint`) aborted the process the same
//! way: a miss asked `VETO_PANIC` (`pool.rs`, `take_veto_panic`) and a page write took `WRITE_BUF` (`writer.rs`,
//! `write_run`) through `with`, destroyed by then. The pool's other thread-locals (`stats.rs`'s stripe,
//! `uring.rs`'s ring) already used `try_with` for threads being torn down.
//!
//! The abort cannot be caught in-process, so each scenario runs in a child process (this binary, its ignored
//! test) and the test checks how the child ended.

use std::cell::RefCell;
use std::sync::OnceLock;

use bufpool::{BufferPool, MemoryStorage, PageId, ReadGuard};

/// A pool that lives for the process, so its guards can be kept anywhere.
fn pool() -> &'static (BufferPool, bufpool::FileId) {
    static POOL: OnceLock<(BufferPool, bufpool::FileId)> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool = BufferPool::builder().frames(64).build().unwrap();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        for i in 0..40u32 {
            pool.new_page(file).unwrap()[0] = i as u8;
        }
        pool.checkpoint().unwrap();
        (pool, file)
    })
}

thread_local! {
    /// A thread's cache of pinned pages: dropped when the thread exits.
    static CACHE: RefCell<Vec<ReadGuard<'static>>> = const { RefCell::new(Vec::new()) };
}

/// Fills the thread's cache first, then releases guards out of order (the first use of the thread's overflow
/// list, after the cache's), and exits with `keep` guards cached, oldest first.
fn exit_with_cached_guards(keep: u32) {
    let (pool, file) = pool();
    let (pool, file) = (pool, *file);
    std::thread::spawn(move || {
        CACHE.with(|c| c.borrow_mut().clear());
        // Released oldest first: not the newest entry, so the release searches the lists.
        let a = pool.read(PageId::new(file, 0)).unwrap();
        let b = pool.read(PageId::new(file, 1)).unwrap();
        drop(a);
        drop(b);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            for i in 0..keep {
                c.push(pool.read(PageId::new(file, i)).unwrap());
            }
        });
    })
    .join()
    .unwrap();
    // The guards are gone: every page can be written again.
    for i in 0..keep {
        pool.write(PageId::new(file, i)).unwrap()[0] = 0xee;
    }
}

/// The child's scenarios: a few guards (the array only) and more than the array holds.
#[test]
#[ignore = "run as a child process by guards_cached_in_a_thread_local_are_released_at_thread_exit"]
fn child_exit_with_cached_guards() {
    exit_with_cached_guards(3);
    exit_with_cached_guards(20);
}

/// Runs this binary's ignored test `child` alone in a child process and fails unless it passes.
fn in_child(child: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([child, "--exact", "--ignored", "--test-threads=1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child ended with {:?}:\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn guards_cached_in_a_thread_local_are_released_at_thread_exit() {
    in_child("child_exit_with_cached_guards");
}

/// A small pool that lives for the process: 8 frames, 40 pages written and checkpointed, so reads miss and
/// evict.
fn small_pool() -> &'static (BufferPool, bufpool::FileId) {
    static POOL: OnceLock<(BufferPool, bufpool::FileId)> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool = BufferPool::builder().frames(8).build().unwrap();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        for i in 0..40u32 {
            pool.new_page(file).unwrap()[0] = i as u8;
            pool.checkpoint().unwrap();
        }
        (pool, file)
    })
}

/// A thread's handle on the small pool whose destructor finishes the thread's work: a change, reads that miss,
/// a checkpoint (R12-2).
struct Handle(u32);

impl Drop for Handle {
    fn drop(&mut self) {
        let (pool, file) = small_pool();
        pool.write(PageId::new(*file, self.0)).unwrap()[1] = 0xaa;
        for i in 0..40 {
            assert_eq!(pool.read(PageId::new(*file, i)).unwrap()[0], i as u8);
        }
        pool.checkpoint().unwrap();
    }
}

thread_local! {
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

#[test]
#[ignore = "run as a child process by pool_calls_from_a_thread_locals_destructor_work"]
fn child_pool_calls_at_thread_exit() {
    let (pool, file) = small_pool();
    let (pool, file) = (pool, *file);
    std::thread::spawn(move || {
        // The handle is the thread's first thread-local; the pool's own come after it (the misses' and the
        // checkpoint's on this thread), so they are destroyed before it.
        HANDLE.with(|h| *h.borrow_mut() = Some(Handle(3)));
        pool.write(PageId::new(file, 5)).unwrap()[1] = 0xbb;
        for i in 0..40 {
            pool.read(PageId::new(file, i)).unwrap();
        }
        pool.checkpoint().unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(pool.read(PageId::new(file, 3)).unwrap()[1], 0xaa);
}

#[test]
fn pool_calls_from_a_thread_locals_destructor_work() {
    in_child("child_pool_calls_at_thread_exit");
}
