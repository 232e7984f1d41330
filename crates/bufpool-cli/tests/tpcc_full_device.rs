//! TPC-C (`durable`) on bufpool-btree on a real file system that fills up during the run (session 20, `fault20`):
//! a reduced database is loaded, copied onto a tmpfs with about 512 KiB to spare, and run with two threads and
//! frequent checkpoints (`BUFPOOL_TPCC_LOG_MAX`) until the device is full. The bench must stop by itself with an
//! error that says so (no panic, no hang), and after space is freed `--tpcc-verify` must recover the database with
//! consistency conditions 1 to 4 and every New-Order the run acknowledged (passes on main). Needs root (`mount`);
//! skips, saying why, elsewhere. A binary of its own: it mounts, and forks `bufpool` children.

// Only `bench` of the shared helpers is used here.
#[allow(dead_code)]
mod common;
/// The pool crate's tmpfs helper (mount, fill, remount, unmount on drop).
#[allow(dead_code)] // `fill` is not used here.
#[path = "../../bufpool/tests/common/tmpfs.rs"]
mod tmpfs;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes the files under `dir` take on their device.
fn allocated(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                allocated(&e.path())
            } else {
                m.blocks() * 512
            }
        })
        .sum()
}

fn tpcc(db: &Path) -> Command {
    let mut c = common::bench();
    c.args(["--workload", "tpcc", "--smoke", "--btree-systems", "bufpool-btree"])
        .arg("--tpcc-db")
        .arg(db);
    c
}

#[test]
fn tpcc_on_a_filling_device_stops_with_an_error_and_loses_no_acknowledged_new_order() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = dir.path().join("db");
    let out = tpcc(&loaded).args(["--seconds", "1"]).output().unwrap();
    assert!(out.status.success(), "load: {}", String::from_utf8_lossy(&out.stderr));
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let size = format!("{}k", allocated(&loaded) / 1024 + 512);
    let mount = match tmpfs::mount_tmpfs(&mnt, &size) {
        Ok(m) => m,
        Err(why) => {
            eprintln!(
                "SKIPPED tpcc_on_a_filling_device_stops_with_an_error_and_loses_no_acknowledged_new_order: {why}"
            );
            return;
        }
    };
    let db = mnt.join("db");
    let cp = Command::new("cp").arg("-a").arg(&loaded).arg(&db).status().unwrap();
    assert!(cp.success(), "copying the database onto the tmpfs of {size}");
    let acks = dir.path().join("acks");
    let stderr = dir.path().join("stderr");
    let mut child = tpcc(&db)
        .args(["--threads", "2", "--durability", "durable", "--seconds", "600"])
        .arg("--tpcc-acks")
        .arg(&acks)
        .env("BUFPOOL_TPCC_LOG_MAX", "65536")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the run did not stop on a full device within 300 s:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert!(!status.success(), "the run succeeded on a full device:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("No space left on device"),
        "not a full device's error:\n{err}"
    );
    let acked = std::fs::read_to_string(&acks).unwrap_or_default().lines().count();
    assert!(
        acked > 10,
        "only {acked} acknowledgement lines before the device filled:\n{err}"
    );
    tmpfs::remount(&mount, "64m");
    let out = tpcc(&db).arg("--tpcc-verify").arg(&acks).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("consistent: true"), "{stdout}");
    assert!(stdout.contains(", 0 missing"), "{stdout}");
}
