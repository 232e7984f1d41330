//! `--tpcc-verify` against a database of other cardinalities than its flags give (R28-2 in RELIABILITY.md).
//!
//! The verify checked the scale of its own flags (`--warehouses`, `--smoke`), never the database's marker (which a
//! run checks before it reuses a database): a sound one-warehouse smoke database verified without `--smoke` (the
//! default scale: four warehouses) printed `consistent: false`, "warehouse 2 is missing" to 4, and exited
//! "TPC-C recovery check FAILED"; one verified with fewer warehouses than it holds was checked in part only. The
//! verify must refuse the mismatch, naming what the database holds, and verify it with the right flags.

use crate::common;

use std::process::Output;

/// A 0.1 s run of one thread on bufpool-btree at `args`' scale and durability, on `db` (loading it first if it holds
/// no database).
fn run(db: &std::path::Path, args: &[&str]) -> Output {
    common::bench()
        .args([
            "--workload",
            "tpcc",
            "--threads",
            "1",
            "--seconds",
            "0.1",
            "--btree-systems",
            "bufpool-btree",
        ])
        .args(args)
        .arg("--tpcc-db")
        .arg(db)
        .output()
        .unwrap()
}

fn verify(db: &std::path::Path, acks: &std::path::Path, scale: &[&str]) -> Output {
    common::bench()
        .args(["--workload", "tpcc", "--btree-systems", "bufpool-btree"])
        .args(scale)
        .arg("--tpcc-db")
        .arg(db)
        .arg("--tpcc-verify")
        .arg(acks)
        .output()
        .unwrap()
}

#[test]
fn a_verify_with_flags_of_another_scale_is_refused_and_with_the_right_ones_passes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let acks = dir.path().join("acks");
    std::fs::write(&acks, "").unwrap();
    let load = run(&db, &["--smoke", "--warehouses", "1", "--durability", "durable"]);
    assert!(load.status.success(), "load: {}", String::from_utf8_lossy(&load.stderr));
    for scale in [&[][..], &["--smoke", "--warehouses", "2"], &["--warehouses", "1"]] {
        let out = verify(&db, &acks, scale);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(!out.status.success(), "{scale:?}: verified\n{stdout}");
        assert!(
            stderr.contains("holds a database of other cardinalities (1 2000 60"),
            "{scale:?}: not refused for its scale:\n{stdout}\n{stderr}"
        );
        assert!(
            !stdout.contains("consistent: false"),
            "{scale:?}: judged by the wrong scale:\n{stdout}"
        );
    }
    let out = verify(&db, &acks, &["--smoke", "--warehouses", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the right scale: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("consistent: true"), "{stdout}");
}

/// R29-3: a marker that is there but cannot be read (here not UTF-8: a damaged marker; also a directory, an I/O
/// error) was taken for "no loaded database" by the check both a run and a verify go through (`loaded`): a run then
/// deleted the whole database directory and loaded a new one, `Ok`. It must be refused, nothing deleted.
#[test]
fn a_marker_that_cannot_be_read_is_refused_and_the_database_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let run_db = || run(&db, &["--smoke", "--warehouses", "1", "--durability", "durable"]);
    let load = run_db();
    assert!(load.status.success(), "load: {}", String::from_utf8_lossy(&load.stderr));
    let ours = db.join("bufpool-btree");
    let marker = ours.join("loaded");
    let mut damaged = std::fs::read(&marker).unwrap();
    damaged.insert(0, 0xff);
    std::fs::write(&marker, &damaged).unwrap();
    let kept = ours.join("kept-by-the-user");
    std::fs::write(&kept, b"x").unwrap();
    let out = run_db();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a run went on: {stderr}");
    assert!(stderr.contains("marks a loaded database"), "{stderr}");
    assert!(kept.exists(), "the run deleted the database directory:\n{stderr}");
    assert_eq!(std::fs::read(&marker).unwrap(), damaged);
    let acks = dir.path().join("acks");
    std::fs::write(&acks, "").unwrap();
    let out = verify(&db, &acks, &["--smoke", "--warehouses", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("marks a loaded database"),
        "{stderr}"
    );
}

/// The verify's pool is the one a run of its flags gets (`--pool-fraction` times the data files, at least 64 MiB):
/// until session 53 it was twice the data files whatever the flags, so a restart that rebuilds trees larger than
/// that was measured through evictions (R52-O14 in BENCHMARKS.md).
#[test]
fn the_verify_opens_the_pool_its_pool_fraction_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let acks = dir.path().join("acks");
    std::fs::write(&acks, "").unwrap();
    // Four smoke warehouses: at least 2,000 pages of data files, so 16 times them is past the 64 MiB floor.
    let smoke = ["--smoke", "--warehouses", "4"];
    let load = run(&db, &smoke);
    assert!(load.status.success(), "load: {}", String::from_utf8_lossy(&load.stderr));
    // The pool's pages and the data files' pages the verify printed, at `fraction`.
    let pool_line = |fraction: &str| {
        let out = verify(&db, &acks, &[&smoke[..], &["--pool-fraction", fraction]].concat());
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "verify at {fraction}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("recovery pool: "))
            .unwrap_or_else(|| panic!("verify at {fraction} printed no pool:\n{stdout}"))
            .to_string();
        assert!(line.contains(&format!("pool fraction {fraction} of ")), "{line}");
        let number = |s: &str| -> u64 { s.split(' ').next().unwrap().parse().unwrap() };
        let pages = number(&line["recovery pool: ".len()..]);
        let data = number(line.split(" of ").nth(1).unwrap());
        (line, pages, data)
    };
    // The fraction times the data files, at least 64 MiB (16,384 pages); 16 is the most `--pool-fraction` takes.
    let (line, pages, data) = pool_line("16");
    assert_eq!(pages, 16 * data, "{line}");
    assert!(pages > 16_384, "the database is too small for this test: {line}");
    let (line, pages, data) = pool_line("1");
    assert_eq!(pages, data.max(16_384), "{line}");
}
