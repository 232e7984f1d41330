//! `bufpool bench --workload btree --smoke`: the B+tree workloads (load, lookups by get and get_many, YCSB C, B,
//! A, F, E) on bufpool-btree, redb and LMDB with tiny sizes, through the real binary, in and out of memory.
//! Asserts the JSON: every expected row is there with sane values, the B+tree fields are set (durability,
//! syncs per op, memory held, live size), every system runs in and out of memory, every write workload once per
//! durability mode with the syncs each mode implies, and bufpool-btree really missed when its pool was smaller
//! than its tree. Also checks that bad B+tree arguments are refused with a message and a non-zero exit.

use crate::common;

use common::bench;
use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let (stdout, v) = common::bench_json(args);
    assert!(stdout.contains("bufpool-btree/this"), "no summary table:\n{stdout}");
    v
}

fn rows<'a>(v: &'a Value, workload: &str, system: &str, access: &str) -> Vec<&'a Value> {
    v["results"]
        .as_array()
        .expect("results array")
        .iter()
        .filter(|r| r["workload"] == workload && r["system"] == system && r["access"] == access)
        .collect()
}

#[test]
fn btree_smoke_run_writes_sane_json_for_every_workload_and_system() {
    let v = run_json(&["--workload", "btree", "--smoke", "--seconds", "0.02", "--threads", "1"]);
    let results = v["results"].as_array().unwrap();
    for r in results {
        let name = format!("{} {} {}", r["workload"], r["system"], r["access"]);
        assert_eq!(r["tuples"], 2000, "{name}");
        let f = r["pool_fraction"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: pool_fraction"));
        assert!(f >= 0.0, "{name}");
        assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{name}: no ops");
        let (p50, p99) = (
            r["ns_per_op_p50"].as_f64().unwrap(),
            r["ns_per_op_p99"].as_f64().unwrap(),
        );
        assert!(p50 > 0.0 && p50 <= p99, "{name}: p50 {p50} p99 {p99}");
        assert!(r["reads_per_op"].as_f64().unwrap() >= 0.0, "{name}");
        assert!(r["durability"].is_string(), "{name}: durability");
        assert!(r["syncs_per_op"].as_f64().unwrap() >= 0.0, "{name}: syncs_per_op");
        assert!(r["memory_bytes"].is_u64(), "{name}: memory_bytes");
        assert!(r["pages"].as_u64().unwrap() > 0, "{name}: live pages");
        assert!(
            r["tree_bytes_per_tuple"].as_f64().unwrap() > 128.0,
            "{name}: bytes per tuple"
        );
        match r["system"].as_str().unwrap() {
            "bufpool-btree" if r["workload"] != "btree-load" => {
                let h = r["hit_ratio"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&h), "{name}: hit ratio {h}");
            }
            _ => assert!(
                r["hit_ratio"].is_null() || r["workload"] == "btree-load",
                "{name}: peers report no hit ratio"
            ),
        }
    }
    for system in ["bufpool-btree", "redb", "lmdb"] {
        assert_eq!(rows(&v, "btree-load", system, "load").len(), 1, "{system} load row");
        let fractions: Vec<f64> = rows(&v, "btree-lookup", system, "get")
            .iter()
            .map(|r| r["pool_fraction"].as_f64().unwrap())
            .collect();
        let expect: &[f64] = &[1.25, 0.14];
        assert_eq!(fractions, expect, "{system} get rows");
        assert_eq!(
            rows(&v, "btree-lookup", system, "get_many").len(),
            expect.len(),
            "{system}"
        );
        assert_eq!(rows(&v, "ycsb-c", system, "c").len(), expect.len(), "{system} ycsb-c");
        for r in rows(&v, "ycsb-c", system, "c") {
            assert_eq!(r["durability"], "read-only");
        }
        for (w, a) in [("ycsb-a", "a"), ("ycsb-b", "b"), ("ycsb-e", "e"), ("ycsb-f", "f")] {
            let rs = rows(&v, w, system, a);
            let mut modes: Vec<&str> = rs.iter().map(|r| r["durability"].as_str().unwrap()).collect();
            modes.sort_unstable();
            assert_eq!(
                modes,
                [
                    "batch:64",
                    "batch:64",
                    "durable",
                    "durable",
                    "nondurable-autocommit",
                    "nondurable-autocommit"
                ],
                "{system} {w}"
            );
            for r in rs {
                let syncs = r["syncs_per_op"].as_f64().unwrap();
                match r["durability"].as_str().unwrap() {
                    // Every op of ycsb-a and ycsb-f is a write half the time: each durable write syncs (redb,
                    // LMDB) or shares a group commit (bufpool-btree).
                    "durable" => assert!(syncs > 0.0, "{system} {w} durable without syncs: {r}"),
                    // A batch commits at least once, at the end of the run.
                    "batch:64" => assert!(syncs > 0.0, "{system} {w} batch without a commit: {r}"),
                    _ if system != "bufpool-btree" => assert_eq!(syncs, 0.0, "{system} {w}: {r}"),
                    // bufpool-btree's WAL rule may sync the log when a dirty page is evicted.
                    _ => {}
                }
            }
        }
    }
    // The out-of-memory pool (14% of the tree) cannot hold the tree: bufpool-btree must have missed.
    for r in rows(&v, "btree-lookup", "bufpool-btree", "get") {
        let (f, h) = (r["pool_fraction"].as_f64().unwrap(), r["hit_ratio"].as_f64().unwrap());
        if f < 1.0 {
            assert!(
                h < 1.0 && r["reads_per_op"].as_f64().unwrap() > 0.0,
                "no misses out of memory: {r}"
            );
        } else {
            assert!(h > 0.99, "misses in memory: {r}");
        }
    }
    // The peers read through the OS page cache; out of memory it is evicted (redb's file; LMDB's map and file) at
    // the start of every case and every 2 ms after, so their lookups reach the device too.
    for system in ["redb", "lmdb"] {
        for r in rows(&v, "btree-lookup", system, "get") {
            if r["pool_fraction"].as_f64().unwrap() < 1.0 {
                assert!(
                    r["reads_per_op"].as_f64().unwrap() > 0.0,
                    "{system} never read out of memory: {r}"
                );
            }
        }
    }
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(notes.iter().any(|n| n.starts_with("out of memory:")), "{notes:?}");
}

#[test]
fn btree_single_workload_with_two_threads() {
    let v = run_json(&[
        "--workload",
        "ycsb-e",
        "--smoke",
        "--seconds",
        "0.02",
        "--threads",
        "2",
        "--pool-fraction",
        "0.5",
        "--btree-systems",
        "bufpool-btree,redb",
        "--durability",
        "durable",
        "--load-order",
        "ascending",
        "--repeat",
        "2",
    ]);
    let results = v["results"].as_array().unwrap();
    // A load row and one ycsb-e row per system; nothing else.
    assert_eq!(results.len(), 4, "{results:?}");
    for system in ["bufpool-btree", "redb"] {
        let r = rows(&v, "ycsb-e", system, "e");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["threads"], 2);
        assert_eq!(r[0]["dist"], "zipf:0.99");
        assert_eq!(r[0]["pool_fraction"], 0.5);
        assert_eq!(r[0]["durability"], "durable");
        let load = rows(&v, "btree-load", system, "load");
        assert_eq!(load[0]["dist"], "ascending-keys");
    }
}

#[test]
fn bad_btree_arguments_are_refused() {
    for args in [
        &["--workload", "btree", "--pool-fraction", "0"][..],
        &["--workload", "btree", "--btree-systems", "sqlite"],
        &["--workload", "btree", "--tuples", "5"],
        &["--workload", "btree", "--batch", "0"],
        &["--workload", "btree", "--systems", "bufpool"],
        &["--workload", "btree", "--durability", "batch:0"],
        &["--workload", "btree", "--durability", "fsync"],
    ] {
        let out = bench().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
}
