//! `bufpool bench --smoke`: every workload, every system, tiny sizes, a fraction of a second per case, through
//! the real binary. Asserts the JSON has every field with sane values and that every system is listed (only
//! `raw-uring` may be reported unavailable, where the kernel or sandbox refuses io_uring). Also checks that bad
//! arguments are refused with a message and a non-zero exit.

use crate::common;

use common::bench;
use serde_json::Value;

const SYSTEMS: [&str; 7] = [
    "bufpool",
    "raw-memory",
    "raw-pread",
    "raw-uring",
    "page-db",
    "naive-lru",
    "quick-cache",
];

#[test]
fn smoke_run_writes_sane_json_for_every_workload_and_system() {
    let (stdout, v) = common::bench_json(&["--smoke", "--seconds", "0.03"]);
    assert!(stdout.contains("bufpool/this"), "no summary table:\n{stdout}");
    // A smoke run is too small to judge the targets: it says so instead of printing verdicts, and one line says
    // what the peers are.
    assert!(stdout.contains("targets: not judged in a smoke run"), "{stdout}");
    assert!(!stdout.contains("MISSED") && !stdout.contains(": met"), "{stdout}");
    assert!(
        stdout.contains("page-db = ") && stdout.contains("naive-lru = ") && stdout.contains("quick-cache = "),
        "{stdout}"
    );

    let results = v["results"].as_array().expect("results array");
    assert!(!results.is_empty());
    let unavailable: Vec<&str> = v["unavailable"]
        .as_array()
        .expect("unavailable array")
        .iter()
        .map(|u| u["system"].as_str().unwrap())
        .collect();
    for u in &unavailable {
        assert_eq!(*u, "raw-uring", "only io_uring may be unavailable");
    }

    for r in results {
        for f in ["workload", "system", "access", "dist"] {
            assert!(r[f].is_string(), "{f} missing in {r}");
        }
        for f in ["threads", "pages", "frames"] {
            assert!(r[f].as_u64().unwrap() > 0, "{f} in {r}");
        }
        for f in [
            "ops_per_sec",
            "ns_per_op_p50",
            "ns_per_op_p99",
            "ns_per_op_p999",
            "hit_ratio",
            "reads_per_op",
            "writes_per_op",
            "ns_per_op_mean",
            "cpu_ns_per_op",
        ] {
            let x = r[f].as_f64().unwrap_or_else(|| panic!("{f} missing in {r}"));
            assert!(x.is_finite() && x >= 0.0, "{f} = {x} in {r}");
        }
        assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
        let h = r["hit_ratio"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&h), "{r}");
        let (p50, p99, p999) = (
            r["ns_per_op_p50"].as_f64().unwrap(),
            r["ns_per_op_p99"].as_f64().unwrap(),
            r["ns_per_op_p999"].as_f64().unwrap(),
        );
        assert!(p50 > 0.0 && p50 <= p99 && p99 <= p999, "{r}");
        assert!(SYSTEMS.contains(&r["system"].as_str().unwrap()), "{r}");
        assert!(
            ["optimistic", "shared", "exclusive", "mixed", "scan", "batch"].contains(&r["access"].as_str().unwrap()),
            "{r}"
        );
    }

    let find = |w: &str, s: &str| -> Vec<&Value> {
        results
            .iter()
            .filter(|r| r["workload"] == w && r["system"] == s)
            .collect()
    };
    for s in SYSTEMS {
        let listed = results.iter().any(|r| r["system"] == s) || unavailable.contains(&s);
        assert!(listed, "system {s} is neither measured nor reported unavailable");
    }
    for w in ["hit", "miss", "mixed", "scan"] {
        assert!(!find(w, "bufpool").is_empty(), "bufpool missing from {w}");
    }
    // hit: two scales (64 and 256 frames, pages = frames), each with three access kinds, two distributions,
    // one and two threads; everything resident.
    let hit = find("hit", "bufpool");
    assert_eq!(hit.len(), 2 * 12);
    assert!(hit.iter().all(|r| r["hit_ratio"] == 1.0 && r["reads_per_op"] == 0.0));
    for frames in [64, 256] {
        let at = |s: &str| find("hit", s).into_iter().filter(|r| r["frames"] == frames).count();
        assert_eq!(at("bufpool"), 12, "frames={frames}");
        assert_eq!(at("raw-memory"), 12, "frames={frames}");
        assert!(find("hit", "bufpool").iter().all(|r| r["pages"] == r["frames"]));
    }
    // A smoke run's systems fit in memory together: measured side by side, case by case.
    let notes = v["notes"].as_array().expect("notes array");
    assert!(
        !notes.iter().any(|n| n.as_str().unwrap().contains("one at a time")),
        "{notes:?}"
    );
    // Every hit row is all hits, whatever the system (quick-cache's shards are sized to hold every page).
    for r in results.iter().filter(|r| r["workload"] == "hit") {
        assert_eq!(r["hit_ratio"], 1.0, "{r}");
    }
    assert!(!find("hit", "quick-cache").is_empty());
    // miss: data 32x the pool, so hits are rare; the raw limit reads on every op.
    for r in find("miss", "bufpool") {
        assert!(r["hit_ratio"].as_f64().unwrap() < 0.2, "{r}");
        assert!(r["reads_per_op"].as_f64().unwrap() > 0.8, "{r}");
        assert_eq!(r["pages"], 64 * 32, "{r}");
    }
    for r in find("miss", "raw-pread") {
        assert_eq!(r["hit_ratio"], 0.0);
        assert_eq!(r["reads_per_op"], 1.0);
    }
    let threads: Vec<u64> = find("miss", "bufpool")
        .iter()
        .filter(|r| r["access"] == "shared")
        .map(|r| r["threads"].as_u64().unwrap())
        .collect();
    assert_eq!(threads, [1, 2, 8]);
    // mixed: dirty pages are written back on eviction.
    let mixed_writes: f64 = ["bufpool", "naive-lru"]
        .iter()
        .flat_map(|s| find("mixed", s))
        .map(|r| r["writes_per_op"].as_f64().unwrap())
        .sum();
    assert!(mixed_writes > 0.0, "no write-back in the mixed workload");
    // scan: the hot reader and the scanner both ran.
    for r in find("scan", "bufpool") {
        assert_eq!(r["threads"], 2);
        assert!(r["scan_ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    }
}

/// Under a memory budget too small for the systems of a scale together, each is opened, measured on every case
/// of the scale and dropped before the next (the way the 4 GiB hit scale runs): every system still gets every
/// case, every hit row is all hits, and the output says which scales ran that way.
#[test]
fn hit_scales_open_one_system_at_a_time_under_a_small_memory_budget() {
    let (_, v) = common::bench_json(&[
        "--smoke",
        "--workload",
        "hit",
        "--hit-frames",
        "64,128",
        "--memory-mib",
        "0",
        "--repeat",
        "2",
        "--seconds",
        "0.02",
    ]);
    let results = v["results"].as_array().expect("results array");
    for frames in [64, 128] {
        for (system, cases) in [
            ("bufpool", 12),
            ("raw-memory", 12),
            ("page-db", 8),
            ("naive-lru", 8),
            ("quick-cache", 4),
        ] {
            let rows: Vec<&Value> = results
                .iter()
                .filter(|r| r["system"] == system && r["frames"] == frames)
                .collect();
            assert_eq!(rows.len(), cases, "{system} at frames={frames}");
            for r in rows {
                assert_eq!(r["hit_ratio"], 1.0, "{r}");
                assert_eq!(r["pages"], frames, "{r}");
                assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
                assert!(r["ns_per_op_p50"].as_f64().unwrap() > 0.0, "{r}");
            }
        }
    }
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .expect("notes array")
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for frames in [64, 128] {
        let scale = format!("hit frames={frames} pages={frames}: systems opened one at a time");
        assert!(notes.iter().any(|n| n.contains(&scale)), "{notes:?}");
    }
}

/// `--checkpoint`'s help is plain text: no raw rustdoc link (`[`name`]`) shows through.
#[test]
fn help_has_no_raw_rustdoc_links() {
    let out = bench().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("checkpoint_spread"), "{help}");
    assert!(!help.contains("[`"), "{help}");
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    for (args, needle) in [
        (&["--dist", "zipf:2"][..], "zipf"),
        (&["--dist", "normal"][..], "distribution"),
        (&["--threads", "0"][..], "thread"),
        (&["--threads", "1,x"][..], "thread"),
        (&["--systems", "bufpool,nope"][..], "unknown system"),
        (&["--seconds", "0"][..], "seconds"),
        (&["--seconds=-1"][..], "seconds"),
        (&["--workload", "everything"][..], "workload"),
        (&["--frames", "1"][..], "frames"),
        (&["--hit-frames", "64,1"][..], "frame count"),
        (
            &["--workload", "hit", "--frames", "64", "--pages", "65"][..],
            "do not fit",
        ),
        (&["--access", "sideways"][..], "access"),
        (&["--repeat", "0"][..], "repeat"),
    ] {
        let out = bench().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: message {err:?} lacks {needle:?}");
    }
}
