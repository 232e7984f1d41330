//! `bufpool bench --workload warm-restart --smoke`: a restarted pool warms with and without `prewarm`, through
//! the real binary. Asserts the JSON's figures hold together (no timing is judged): both variants get warm, the
//! prewarmed pool read the whole working set before the workload and then hit from the first window, and the cold
//! pool read at most the working set, missing page by page over several windows.

use crate::common;

use serde_json::Value;

#[test]
fn warm_restart_smoke_reports_both_variants() {
    let (stdout, v) = common::bench_json(&["--workload", "warm-restart", "--smoke", "--repeat", "3"]);
    assert!(stdout.contains("cold / prewarm:"), "{stdout}");
    assert_eq!(v["workload"], "warm-restart");
    let (set, window) = (v["working_set"].as_u64().unwrap(), v["window_reads"].as_u64().unwrap());
    assert_eq!(set, v["frames"].as_u64().unwrap());
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6, "two variants, three rounds");
    for r in runs {
        let field = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k}: {r}"));
        assert!(r["warm_ms"].as_f64().is_some(), "not warm: {r}");
        match r["variant"].as_str().unwrap() {
            "prewarm" => {
                assert_eq!(field("prewarmed_pages"), set, "{r}");
                assert_eq!(field("device_reads"), set, "{r}");
                assert_eq!(field("workload_reads"), window, "{r}");
            }
            "cold" => {
                assert_eq!(field("prewarmed_pages"), 0, "{r}");
                assert!(field("device_reads") <= set, "{r}");
                // Warm needs most of the set resident: more than one window of misses first.
                assert!(field("workload_reads") > window, "{r}");
                assert_eq!(r["prewarm_ms"].as_f64(), Some(0.0));
            }
            other => panic!("variant {other}"),
        }
    }
    assert!(matches!(runs[0]["direct"], Value::Bool(_)));
}
