//! `bufpool bench --smoke` over the paths that drive bufpool's bulk and background features, so they cannot rot:
//! `miss` with batched reads (`read_many`) beside the io_uring and pread limits, `scan` with and without the
//! scan ring, `mixed` with the background writer off and on, and `checkpoint` with no, spread and immediate
//! checkpoints. Asserts each variant produced its row with its JSON field and that the row did what it says
//! (pages were read, dirty pages written back, checkpoints completed). Tiny sizes: well under a second each in a
//! release build, a few seconds in a debug one.

use crate::common;

use serde_json::Value;

/// Runs `bufpool bench --smoke` with `args` and returns the JSON `results`.
fn run(args: &[&str]) -> Vec<Value> {
    let (_, v) = common::bench_json(&[&["--smoke", "--seconds", "0.03"], args].concat());
    v["results"].as_array().expect("results array").clone()
}

fn bufpool_rows<'a>(results: &'a [Value], workload: &str) -> Vec<&'a Value> {
    results
        .iter()
        .filter(|r| r["workload"] == workload && r["system"] == "bufpool")
        .collect()
}

#[test]
fn batched_misses_run_beside_the_limits() {
    let results = run(&["--workload", "miss", "--access", "batch", "--threads", "2"]);
    let rows = bufpool_rows(&results, "miss");
    assert_eq!(rows.len(), 1, "{results:?}");
    let r = rows[0];
    assert_eq!(r["access"], "batch");
    // Data 10x the pool: about nine reads in ten ops.
    assert!(r["reads_per_op"].as_f64().unwrap() > 0.5, "{r}");
    assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    for limit in ["raw-pread", "raw-uring"] {
        let listed = results.iter().any(|r| r["system"] == limit && r["access"] == "batch");
        // raw-uring may be unavailable where io_uring is refused; raw-pread never is.
        assert!(listed || limit == "raw-uring", "{limit} missing from the batch case");
    }
    assert!(
        !results
            .iter()
            .any(|r| r["access"] == "batch" && r["system"] == "page-db"),
        "peers have no batched reads"
    );
}

#[test]
fn scan_mixed_and_checkpoint_variants_each_have_their_row() {
    let scan = run(&["--workload", "scan", "--systems", "bufpool,naive-lru"]);
    let rings: Vec<bool> = bufpool_rows(&scan, "scan")
        .iter()
        .map(|r| r["scan_ring"].as_bool().expect("scan_ring field"))
        .collect();
    assert_eq!(rings, [false, true]);
    for r in bufpool_rows(&scan, "scan") {
        assert!(r["scan_ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    }
    let peer: Vec<&Value> = scan.iter().filter(|r| r["system"] == "naive-lru").collect();
    assert_eq!(peer.len(), 1, "a peer runs the plain variant only");
    assert!(peer[0].get("scan_ring").is_none());

    let mixed = run(&["--workload", "mixed", "--threads", "2", "--systems", "bufpool"]);
    let rows = bufpool_rows(&mixed, "mixed");
    let writers: Vec<bool> = rows
        .iter()
        .map(|r| r["background_writer"].as_bool().expect("background_writer field"))
        .collect();
    assert_eq!(writers, [false, true]);
    for r in rows {
        assert!(r["writes_per_op"].as_f64().unwrap() > 0.0, "no write-back: {r}");
    }

    let ckpt = run(&["--workload", "checkpoint"]);
    let rows = bufpool_rows(&ckpt, "checkpoint");
    let modes: Vec<&str> = rows.iter().map(|r| r["checkpoint"].as_str().unwrap()).collect();
    assert_eq!(modes, ["none", "spread", "immediate"]);
    for r in &rows {
        assert_eq!(r["access"], "shared");
        assert_eq!(r["threads"], 3);
        assert_eq!(r["hit_ratio"], 1.0, "the reader's pages are resident: {r}");
        assert!(r["writer_ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
        let n = r["checkpoints"].as_u64().unwrap();
        if r["checkpoint"] == "none" {
            assert_eq!(n, 0, "{r}");
        } else {
            assert!(n > 0, "no checkpoint completed: {r}");
            assert!(
                r["writes_per_op"].as_f64().unwrap() > 0.0,
                "checkpoints wrote nothing: {r}"
            );
        }
    }
}
