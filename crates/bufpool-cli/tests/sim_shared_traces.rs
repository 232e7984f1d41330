//! The trace readers on the project's shared traces, format detection included: each trace must read as the
//! number of requests and distinct pages it has, quirks and all. `cs` and `2_pools` contain `*` breakpoint lines
//! (not requests), `loop` has CRLF line ends, `gli` ends with a blank line, and `web07` is binary big-endian u32
//! although its name ends in `.trace` like the text traces.
//!
//! The traces are read from `shared/traces` beside the repository; a missing trace fails the test.

use std::path::PathBuf;
use std::process::Command;

/// (file under shared/traces, format the table reports, requests, distinct pages).
const TRACES: &[(&str, &str, u64, u64)] = &[
    ("lirs/cs.trace.gz", "lirs", 6_781, 1_409),
    ("lirs/2_pools.trace.gz", "lirs", 100_000, 9_939),
    ("lirs/loop.trace.gz", "lirs", 505_500, 1_011),
    ("lirs/gli.trace.gz", "lirs", 6_015, 2_529),
    ("cache2k/web07.trace.xz", "u32be", 76_118, 20_484),
];

#[test]
fn shared_traces_read_with_their_quirks() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    let dir = tempfile::tempdir().unwrap();
    for &(file, format, requests, distinct) in TRACES {
        let trace = root.join(file);
        assert!(trace.is_file(), "missing trace {}", trace.display());
        let json = dir.path().join("out.json");
        let out = Command::new(env!("CARGO_BIN_EXE_bufpool"))
            .args(["sim", "--policy", "clock", "--cache", "1", "--trace"])
            .arg(&trace)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let table = String::from_utf8(out.stdout).unwrap();
        assert!(
            table.contains(&format!("({format}, ")),
            "{file} read as another format: {table}"
        );
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(doc["requests"], requests, "{file}");
        assert_eq!(doc["distinct_pages"], distinct, "{file}");
    }
}
