//! Running the `bufpool bench` binary from the smoke tests.

use std::process::Command;

use serde_json::Value;

/// The `bufpool bench` command, without further arguments.
pub fn bench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bufpool"));
    c.arg("bench");
    c
}

/// Runs `bufpool bench` with `args`, a fresh temporary `--dir` and `--json` into it; asserts it succeeded and
/// returns its standard output and the JSON it wrote.
pub fn bench_json(args: &[&str]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = bench()
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), v)
}
