//! TPC-C (`durable`) on bufpool-btree on a real file system that fills up during the run (session 20, `fault20`):
//! a reduced database is loaded, copied onto a tmpfs with about 4 MiB to spare, and run with two threads and
//! frequent checkpoints (`BUFPOOL_TPCC_LOG_MAX`) until the device is full. The bench must stop by itself with an
//! error that says so (no panic, no hang), and after space is freed `--tpcc-verify` must recover the database with
//! consistency conditions 1 to 12 and every New-Order the run acknowledged (passes on main). The same in
//! `batch:50` (session 35, faults35): a commit that does not fsync meets the full device only when its records
//! are written out (by a later commit's fsync, a tree's write-out, a checkpoint), so the error reaches another
//! transaction than the one whose records were refused; the recovered database must be consistent and hold
//! every acknowledged New-Order whole or not at all (the mode may lose the last ones). Needs root (`mount`);
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
    on_a_filling_device(
        "durable",
        "tpcc_on_a_filling_device_stops_with_an_error_and_loses_no_acknowledged_new_order",
    );
}

#[test]
fn tpcc_batch_on_a_filling_device_stops_with_an_error_and_stays_consistent() {
    on_a_filling_device(
        "batch:50",
        "tpcc_batch_on_a_filling_device_stops_with_an_error_and_stays_consistent",
    );
}

/// The run in `mode` (`--durability`) on a tmpfs with about 4 MiB to spare, until the device is full; then the
/// verify after a remount.
fn on_a_filling_device(mode: &str, test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let loaded = dir.path().join("db");
    // Loaded (and run for a second), then opened once more for a tenth of one, so that the copy below holds
    // doublewrite areas sized for its files as the run's open finds them.
    for seconds in ["1", "0.1"] {
        let out = tpcc(&loaded).args(["--seconds", seconds]).output().unwrap();
        assert!(out.status.success(), "load: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // 4 MiB to spare (512 KiB until session 57): a data file's doublewrite area is sized by the file at each open
    // (`slots_for`: a slot of 516 KiB for each 512 KiB the file holds, two at least), and the run's open reserves
    // a slot more for a file that grew past such a step in the second open's tenth of a second.
    let size = format!("{}k", allocated(&loaded) / 1024 + 4096);
    let mount = match tmpfs::mount_tmpfs(&mnt, &size) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            return;
        }
    };
    let db = mnt.join("db");
    let cp = Command::new("cp").arg("-a").arg(&loaded).arg(&db).status().unwrap();
    assert!(cp.success(), "copying the database onto the tmpfs of {size}");
    let acks = dir.path().join("acks");
    let stderr = dir.path().join("stderr");
    let mut child = tpcc(&db)
        .args(["--threads", "2", "--durability", mode, "--seconds", "600"])
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
                "{mode}: the run did not stop on a full device within 300 s:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert!(!status.success(), "{mode}: the run succeeded on a full device:\n{err}");
    assert!(!err.contains("panicked"), "{mode}: {err}");
    // The device's own words (a log's write or fsync), or the pool's typed `Error::NoSpace` (a data file's write,
    // or since session 57 its doublewrite area's, which the engine's data files have and which grows on the same
    // tmpfs).
    assert!(
        err.contains("No space left on device") || err.contains("no space left writing"),
        "{mode}: not a full device's error:\n{err}"
    );
    // At least one acknowledgement, so that the verify below has New-Orders to find. Not more: how many fit in the
    // spare space depends on scheduling (209-926 in twelve runs on an idle machine, session 52; 8 once under
    // load, R51-O15: with `LOG_MAX` at 64 KiB the device fills within a fraction of a second once the driver's
    // checkpoint tick lags behind the appends).
    let acked = std::fs::read_to_string(&acks).unwrap_or_default().lines().count();
    assert!(
        acked > 0,
        "{mode}: only {acked} acknowledgement lines before the device filled:\n{err}"
    );
    // Room again: 64 MiB past the database (whose data files' doublewrite areas, 33 MB each, are most of it).
    tmpfs::remount(&mount, &format!("{}k", allocated(&loaded) / 1024 + 65536));
    let out = tpcc(&db).arg("--tpcc-verify").arg(&acks).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode}: verify failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("consistent: true"), "{mode}: {stdout}");
    assert!(stdout.contains(", 0 missing"), "{mode}: {stdout}");
    if mode != "durable" {
        assert!(stdout.contains(", 0 incomplete"), "{mode}: {stdout}");
    }
    eprintln!(
        "{mode}: {}",
        stdout
            .lines()
            .filter(|l| l.contains("acknowledged"))
            .collect::<Vec<_>>()
            .join("; ")
    );
}
