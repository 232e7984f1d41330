//! SIGKILL during durable TPC-C on bufpool-btree: a child runs the mix (one warehouse of reduced cardinalities,
//! two threads, `durable`), appending every New-Order it acknowledged to a file; it is killed at a random point
//! once it has acknowledged some; then `--tpcc-verify` recovers the database and checks the trees' structure,
//! consistency conditions 1 to 4 and that every acknowledged New-Order is there. Twice: the second child runs
//! on the database the first crash left.

// Only `bench` of the shared helpers is used here.
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

#[test]
fn sigkill_during_durable_tpcc_keeps_it_consistent_and_loses_no_acknowledged_new_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let acks = dir.path().join("acks");
    for round in 0..2 {
        let mut child = common::bench()
            .args([
                "--workload",
                "tpcc",
                "--smoke",
                "--threads",
                "2",
                "--durability",
                "durable",
                "--btree-systems",
                "bufpool-btree",
                "--seconds",
                "120",
            ])
            .arg("--tpcc-db")
            .arg(&db)
            .arg("--tpcc-acks")
            .arg(&acks)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let before = lines(&acks);
        let t = Instant::now();
        while lines(&acks) < before + 20 {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "round {round}: no acknowledgements"
            );
            assert!(child.try_wait().unwrap().is_none(), "round {round}: the child exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rand::random_range(0..300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = lines(&acks);
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
            "round {round}: verify failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("consistent: true"), "round {round}:\n{stdout}");
        assert!(
            stdout.contains(" missing") && stdout.contains(", 0 missing"),
            "round {round}:\n{stdout}"
        );
        assert!(acked > before, "round {round}");
    }
}
