//! Two `bufpool bench --workload tpcc` runs given one `--tpcc-db` at once (R30-20 in RELIABILITY.md).
//!
//! A run that found no `loaded` marker deleted the system's directory and loaded anew, whether or not another run
//! was loading into it: the second run deleted the first's database under it (the first reported "loaded ...
//! 0.0 MiB" and then failed, "txn.log is locked by another opener"), and the first then wrote its marker into the
//! second's directory half way through the second's load: a kill of the second left a partial database marked
//! loaded, which the next run reused ("warehouse row [00, 13] is missing"). The second run must be refused at once,
//! naming the directory, and the first must go on to its end with its database whole.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn a_second_run_on_a_tpcc_db_in_use_is_refused_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let run = |seconds: &str| {
        let mut c = common::bench();
        c.args(["--workload", "tpcc", "--smoke", "--btree-systems", "bufpool-btree"])
            .args(["--threads", "1", "--seconds", seconds])
            .arg("--tpcc-db")
            .arg(&db);
        c
    };
    let mut first = run("3").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // Wait until the first run has begun its load (its directory is being filled), then start the second: the
    // first then still has its load and a run of 3 s ahead of it.
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let loading = line.contains("loading warehouse 1");
        seen.push(line);
        if loading {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("loading warehouse 1")),
        "the first run never began its load:\n{}",
        seen.join("\n")
    );
    let second = run("3").output().unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = first.wait().unwrap();
    let (stderr2, stderr1) = (String::from_utf8_lossy(&second.stderr), rest.join("\n"));
    assert!(
        !second.status.success(),
        "the second run was accepted while the first used the database:\n{stderr2}"
    );
    assert!(
        stderr2.contains(&db.display().to_string()) && stderr2.contains("in use by another"),
        "the second run's refusal does not say the database is in use: {stderr2}"
    );
    assert!(status.success(), "the first run failed beside the second:\n{stderr1}");
    assert!(
        stderr1.contains("consistent: true") && !stderr1.contains("0.0 MiB"),
        "the first run lost its database:\n{stderr1}"
    );
    // Once the first has ended, the database is free and loaded: a run reuses it.
    let third = run("0.1").output().unwrap();
    let stderr3 = String::from_utf8_lossy(&third.stderr);
    assert!(third.status.success(), "a run after the first: {stderr3}");
    assert!(stderr3.contains("bufpool-btree: reused"), "{stderr3}");
}
