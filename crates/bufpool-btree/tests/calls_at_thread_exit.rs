//! R12-2 (RELIABILITY.md), the B+tree's part: a thread whose thread-local handle reads a tree from its destructor
//! (a `'static` tree, read as the thread exits) aborted the whole process: `fatal runtime error: thread local
//! panicked on drop`.
//!
//! The story: `Tree::get_with`, `Tree::scan` and `Tree::get_many_hinted` keep their buffers in thread-locals with
//! destructors (`SCRATCH`, `SCAN_PAGE`, `BATCH` in `tree.rs`), reached with `with`, which panics once the
//! thread-local is destroyed. Thread-locals are destroyed in reverse order of first use, so a handle first used
//! before them has its destructor run after theirs; a read there panicked inside a thread-local destructor, which
//! aborts. The same held in the pool (`bufpool`'s `guards_at_thread_exit.rs`): a miss, a page write.
//!
//! The abort cannot be caught in-process, so the scenario runs in a child process (this binary, its ignored
//! test) and the test checks how the child ended.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use bufpool::{BufferPool, MemoryStorage};
use bufpool_btree::{Tree, TreeWal};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// A tree that lives for the process, with enough keys for several leaves.
fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let pool = Arc::new(BufferPool::builder().frames(64).build().unwrap());
        let wal = TreeWal::open_storage(MemoryStorage::new()).unwrap();
        let tree = Tree::open_storage(pool, wal, MemoryStorage::new()).unwrap();
        for i in 0..500 {
            tree.put(&key(i), &[i as u8; 40]).unwrap();
        }
        tree
    })
}

/// Reads the tree every way that uses a thread-local buffer, checking what it reads.
fn read_all() {
    let t = tree();
    assert_eq!(t.get(&key(7)).unwrap(), Some(vec![7; 40]));
    assert!(t.get_with(&key(8), |v| v == Some(&[8; 40][..])).unwrap());
    let mut n = 0;
    t.scan(.., |_, _| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 500);
    let keys: Vec<[u8; 4]> = (0..500).step_by(7).map(key).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let got = t.get_many(&refs).unwrap();
    assert!(got
        .iter()
        .zip((0..500).step_by(7))
        .all(|(v, i)| v.as_deref() == Some(&[i as u8; 40][..])));
}

/// A thread's handle whose destructor reads the tree.
struct Handle;

impl Drop for Handle {
    fn drop(&mut self) {
        read_all();
    }
}

thread_local! {
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

#[test]
#[ignore = "run as a child process by tree_reads_from_a_thread_locals_destructor_work"]
fn child_tree_reads_at_thread_exit() {
    tree();
    std::thread::spawn(|| {
        // The handle is the thread's first thread-local; the tree's buffers come after it, so they are destroyed
        // before it.
        HANDLE.with(|h| *h.borrow_mut() = Some(Handle));
        read_all();
    })
    .join()
    .unwrap();
}

#[test]
fn tree_reads_from_a_thread_locals_destructor_work() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_tree_reads_at_thread_exit",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
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
