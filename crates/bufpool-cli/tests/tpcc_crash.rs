//! SIGKILL during TPC-C on bufpool-btree (one warehouse of reduced cardinalities, two threads). A child runs the
//! mix, appending every New-Order it acknowledged to a file, and is killed at a random point once it has
//! acknowledged some; then `--tpcc-verify` recovers the database and checks the trees' structure and consistency
//! conditions 1 to 12 (every transaction all or nothing) and that every New-Order a `durable` child acknowledged
//! is there. All children append to one acknowledgement file, each run's lines after a line naming its mode: a
//! New-Order a `batch:200` child acknowledged may be lost by the kill (its mode's promise), and the verify says
//! so rather than fail (it failed on them before L11-5 in RELIABILITY.md). Four children in turn on the same database: `durable`, `batch:200` (transactions
//! whose records still wait in the transaction log's buffer when the kill comes are lost whole), `durable`
//! again, and `batch:200` out of memory (a pool of a fifth of the data: dirty leaves are evicted all the time,
//! each written only once the transaction log is durable past its own changes, issue 15's per-page rule). Each
//! child checkpoints whenever a log passes 64 KiB (`BUFPOOL_TPCC_LOG_MAX`), so tree pages and tree
//! logs are written while transaction records wait in the buffer, and kills land in checkpoints too; a log's
//! truncation punches its dead records out, and rewrites the file whenever it is 1 MiB long
//! (`BUFPOOL_TPCC_LOG_REWRITE`), so kills land in both kinds of cut. Two more children (session 35, faults35) are
//! killed *inside* a checkpoint's cut, not at a random moment: once acknowledgements came in, the test watches the
//! child's threads (`/proc/PID/task/*/syscall`) for up to 5 s for one inside `fallocate` (a log's dead records
//! punched out) or a `rename` (a log rewritten into a new file), which only a checkpoint's cuts make, and kills it
//! there: some trees' logs cut, the others' and the transaction log's not (it says whether it hit one; not
//! asserted, the window being microseconds).

// Only `bench` of the shared helpers is used here.
#[allow(dead_code)]
use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

/// The system call a thread of process `pid` is inside now, if it is one only a checkpoint's log cuts make:
/// `fallocate` (punching a log's dead records out) or a `rename` (a log rewritten into a new file).
fn in_a_cut(pid: u32) -> Option<&'static str> {
    // x86_64: fallocate 285, rename 82, renameat 264, renameat2 316; aarch64: fallocate 47, renameat 38,
    // renameat2 276.
    let calls: &[(&str, &str)] = match std::env::consts::ARCH {
        "x86_64" => &[
            ("285", "fallocate"),
            ("82", "rename"),
            ("264", "renameat"),
            ("316", "renameat2"),
        ],
        "aarch64" => &[("47", "fallocate"), ("38", "renameat"), ("276", "renameat2")],
        _ => &[],
    };
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.filter_map(Result::ok).find_map(|task| {
        let s = std::fs::read_to_string(task.path().join("syscall")).ok()?;
        let nr = s.split(' ').next()?;
        calls.iter().find(|(n, _)| *n == nr).map(|(_, name)| *name)
    })
}

#[test]
fn sigkill_during_tpcc_keeps_it_consistent_and_loses_no_durably_acknowledged_new_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let acks = dir.path().join("acks");
    // (mode, pool fraction, the kill aimed at a checkpoint's cut)
    let rounds = [
        ("durable", "2", false),
        ("batch:200", "2", false),
        ("durable", "2", false),
        ("batch:200", "0.2", false),
        ("durable", "2", true),
        ("batch:200", "0.2", true),
    ];
    for (round, (mode, pool_fraction, aimed)) in rounds.into_iter().enumerate() {
        let mut child = common::bench()
            .args([
                "--workload",
                "tpcc",
                "--smoke",
                "--threads",
                "2",
                "--durability",
                mode,
                "--btree-systems",
                "bufpool-btree",
                "--seconds",
                "120",
                "--pool-fraction",
                pool_fraction,
            ])
            .arg("--tpcc-db")
            .arg(&db)
            .arg("--tpcc-acks")
            .arg(&acks)
            .env("BUFPOOL_TPCC_LOG_MAX", "65536")
            .env("BUFPOOL_TPCC_LOG_REWRITE", "1048576")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let before = lines(&acks);
        let want = if mode == "durable" { 20 } else { 300 };
        let t = Instant::now();
        while lines(&acks) < before + want {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "round {round}: no acknowledgements"
            );
            assert!(child.try_wait().unwrap().is_none(), "round {round}: the child exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        if aimed {
            let t = Instant::now();
            let cut = loop {
                if let Some(call) = in_a_cut(child.id()) {
                    break Some(call);
                }
                if t.elapsed() > Duration::from_secs(5) {
                    break None;
                }
            };
            eprintln!("round {round} ({mode}): killed inside a checkpoint's cut: {cut:?}");
        } else {
            std::thread::sleep(Duration::from_millis(rand::random_range(0..300)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let out = common::bench()
            .args(["--workload", "tpcc", "--smoke", "--btree-systems", "bufpool-btree"])
            .arg("--tpcc-db")
            .arg(&db)
            .arg("--tpcc-verify")
            .arg(&acks)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "round {round} ({mode}): verify failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("consistent: true"), "round {round}:\n{stdout}");
        assert!(stdout.contains(", 0 missing"), "round {round}:\n{stdout}");
        if round > 0 {
            // The batch:200 rounds' acknowledgements are counted apart, none incomplete.
            assert!(stdout.contains(", 0 incomplete"), "round {round}:\n{stdout}");
        }
    }
}
