//! R21-1 (RELIABILITY.md): a cycle of log dependencies (`TreeWal::flush_first`) was accepted, and the next commit
//! of either log hung for good.
//!
//! The story: `flush_first` makes a log write its dependency durable first, before it writes any record of its
//! own, and its docs say the dependency "must not depend on this log, directly or not". Only a log given itself
//! was refused. So `a.flush_first(b)` then `b.flush_first(a)` (two engines wiring their trees' logs to each
//! other's, or a transaction log set to depend on one of its own trees' logs by mistake) both returned `Ok`; the
//! first commit of `a` then took `a`'s file mutex, asked `b` to flush first, which asked `a` again, and waited
//! for the mutex its own thread held: a hang, never an error, which took every later commit, checkpoint and page
//! write of both logs' trees with it. The two logs also held each other alive (an `Arc` cycle), so their files
//! stayed locked for the life of the process. Now a dependency that leads back to the log is refused, changing
//! nothing, and both logs go on.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use bufpool::storage::MemoryStorage;
use bufpool_btree::{Error, Op, TreeWal};

fn log() -> Arc<TreeWal> {
    TreeWal::open_storage(MemoryStorage::new()).unwrap()
}

fn image(page: u32) -> Vec<u8> {
    vec![page as u8 + 1; 64]
}

/// Appends two records to each log, in turn, and commits each, on another thread: a hang fails the test after 20 s instead
/// of stopping it.
fn commits_complete(logs: &[Arc<TreeWal>], what: &str) {
    let (done, wait) = mpsc::channel();
    let logs = logs.to_vec();
    std::thread::spawn(move || {
        // Two rounds, so each log's second record comes after a record of the log it depends on.
        for _ in 0..2 {
            for (i, l) in logs.iter().enumerate() {
                let bytes = image(i as u32);
                l.append(&[Op::Image {
                    page: i as u32,
                    bytes: &bytes,
                }])
                .unwrap();
            }
        }
        let r: Vec<_> = logs.iter().map(|l| l.commit()).collect();
        let _ = done.send(r);
    });
    match wait.recv_timeout(Duration::from_secs(20)) {
        Ok(r) => assert!(r.iter().all(Result::is_ok), "{what}: {r:?}"),
        Err(_) => panic!("{what}: a commit hung (20 s)"),
    }
}

fn refused(r: Result<(), Error>, what: &str) {
    match r {
        Err(Error::Log(why)) => assert!(why.contains("depend"), "{what}: {why}"),
        other => panic!("{what}: a dependency cycle must be refused with Error::Log, not {other:?}"),
    }
}

#[test]
fn a_dependency_back_to_the_log_is_refused_and_both_logs_commit() {
    let (a, b) = (log(), log());
    a.flush_first(b.clone()).unwrap();
    let r = b.flush_first(a.clone());
    // Both logs commit (on main, with the cycle taken, the first commit hung here), and the cycle was refused.
    commits_complete(&[a.clone(), b], "after the refusal");
    refused(r, "b on a, a on b");
}

#[test]
fn a_longer_cycle_is_refused_too() {
    let (a, b, c) = (log(), log(), log());
    a.flush_first(b.clone()).unwrap();
    b.flush_first(c.clone()).unwrap();
    refused(c.flush_first(a.clone()), "c on a, a on b on c");
    // A refused dependency changed nothing: `c` may still take one that makes no cycle.
    let d = log();
    c.flush_first(d.clone()).unwrap();
    commits_complete(&[a, b, c, d], "a chain of four");
}

/// Two threads wiring two logs to each other at once: at most one dependency is taken, and commits complete.
#[test]
fn two_threads_wiring_two_logs_to_each_other_take_at_most_one() {
    for _ in 0..200 {
        let (a, b) = (log(), log());
        let barrier = std::sync::Barrier::new(2);
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| {
                barrier.wait();
                a.flush_first(b.clone())
            });
            let tb = s.spawn(|| {
                barrier.wait();
                b.flush_first(a.clone())
            });
            (ta.join().unwrap(), tb.join().unwrap())
        });
        assert!(ra.is_err() || rb.is_err(), "both dependencies taken: a cycle");
        commits_complete(&[a, b], "after the race");
    }
}
