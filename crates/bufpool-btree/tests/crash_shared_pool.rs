//! Two trees, each with its own log, in one pool (issue 12), killed with SIGKILL and recovered.
//!
//! A child process opens two trees in one small pool (their pages evict each other's all the time), and runs
//! committed batches on them in turn, each tree recording its batches in its own ops log (as `crash.rs` does for
//! one tree). The parent SIGKILLs it at a random moment, reopens both trees in one new pool (each recovers from
//! its own log), checks their invariants, and checks every committed change of each. What this catches: a page of
//! one tree written after asking only the *other* tree's log (the pool had one WAL before per-file logs), which
//! after a crash leaves a data page ahead of its own durable log (`Tree::open` refuses it as `LogMismatch`, or
//! loses a committed key); and a checkpoint of one tree cutting its log while its pages were not all written.
//!
//! Longer soak: `BTREE_CRASH_ROUNDS=100 cargo test -p bufpool-btree --release --test crash_shared_pool`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bufpool_btree::{open_dir_in, Tree};

use common::crash::{run_and_kill, verify, Workload};

const CHILD_DIR: &str = "BTREE_SHARED_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "BTREE_SHARED_CRASH_ROUND";
/// Frames of the shared pool: far fewer than the two trees' pages.
const FRAMES: usize = 96;

/// Opens both trees (`a/`, `b/` under `dir`) in one new pool.
fn open_both(dir: &Path) -> (Tree, Tree) {
    let pool = Arc::new(common::pool_builder().frames(FRAMES).build().unwrap());
    let a = open_dir_in(pool.clone(), dir.join("a")).expect("open tree a");
    let b = open_dir_in(pool, dir.join("b")).expect("open tree b");
    assert!(Arc::ptr_eq(a.pool(), b.pool()));
    (a, b)
}

/// The child: runs until killed.
#[test]
#[ignore = "helper, run in a child process by `shared_pool_crash_recovery`"]
fn shared_crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let (a, b) = open_both(&dir);
    let mut work_a = Workload::new(&dir.join("a"), round, 0);
    let mut work_b = Workload::new(&dir.join("b"), round, 1);
    for n in 0u64.. {
        // Uneven turns, so the two trees' checkpoints and commits interleave differently.
        if n % 3 != 2 {
            work_a.batch(&a);
        } else {
            work_b.batch(&b);
        }
    }
}

#[test]
fn shared_pool_crash_recovery() {
    let rounds = common::crash::rounds(5);
    let dir = tempfile::tempdir().unwrap();
    let (mut commits_a, mut commits_b) = (0, 0);
    for round in 0..rounds {
        let env = [
            (CHILD_DIR, dir.path().display().to_string()),
            (CHILD_ROUND, round.to_string()),
        ];
        run_and_kill("shared_crash_child", &env, round + 1000);
        let (a, b) = open_both(dir.path());
        commits_a = verify(&a, &dir.path().join("a"));
        commits_b = verify(&b, &dir.path().join("b"));
        let stats = a.pool().stats();
        assert_eq!(stats.files.len(), 2, "both trees' files in one pool");
    }
    eprintln!("shared-pool crash test: {commits_a} + {commits_b} batches committed over {rounds} rounds");
    assert!(
        commits_a > 0 && commits_b > 0,
        "a tree never committed a batch: the test checked nothing for it"
    );
}
