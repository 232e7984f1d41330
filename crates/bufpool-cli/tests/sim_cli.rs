//! `bufpool sim` end to end: a generated trace in, the table, the JSON document and the SVG plot out; a
//! malformed trace gets an error naming its line.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn sim(args: &[&str], trace: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bufpool"))
        .arg("sim")
        .arg("--trace")
        .arg(trace)
        .args(args)
        .output()
        .unwrap()
}

/// A gzip-compressed LIRS-style trace: a hot set of 20 pages mixed with a cold scan of 400.
fn write_trace(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mixed.trace.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..4000u64 {
        let page = if i % 3 == 0 { 1000 + (i / 3) % 400 } else { i % 20 };
        writeln!(e, "{page}").unwrap();
    }
    std::fs::write(&path, e.finish().unwrap()).unwrap();
    path
}

#[test]
fn json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let json = dir.path().join("out.json");
    let out = sim(&["--cache", "5%,25", "--json", json.to_str().unwrap()], &trace);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("4000 requests, 420 distinct pages"), "{table}");
    assert!(table.contains("21 (5%)"), "{table}");

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(doc["trace"], "mixed.trace.gz");
    assert_eq!(doc["requests"], 4000);
    assert_eq!(doc["distinct_pages"], 420);
    assert_eq!(doc["default_policy"], bufpool::PolicyKind::default().name());
    let results = doc["results"].as_array().unwrap();
    let rows = bufpool::PolicyKind::ALL.len() + 1;
    assert_eq!(results.len(), rows * 2);
    for r in results {
        // The adaptive policy's rows also say which candidate it ran from which request on.
        let adaptive = r["policy"] == "adaptive";
        assert_eq!(r.as_object().unwrap().len(), 3 + usize::from(adaptive), "{r}");
        if adaptive {
            let choices = r["choices"].as_array().unwrap();
            assert_eq!(choices[0]["request"], 0, "{r}");
            // Its candidates: S3-FIFO at its default small-queue share or at 1% or 30%, and W-TinyLFU.
            let candidates = ["s3-fifo", "s3-fifo:small=1", "s3-fifo:small=30", "w-tinylfu"];
            assert!(
                choices.iter().all(|c| candidates.iter().any(|&k| c["policy"] == k)),
                "{r}"
            );
        }
        let m = r["miss_ratio"].as_f64().unwrap();
        assert!(m > 0.0 && m <= 1.0, "{r}");
        assert!(r["cache_pages"] == 21 || r["cache_pages"] == 25, "{r}");
    }
    // With 25 pages the 20 hot pages fit: Belady misses the cold scan and the first touches only.
    let opt = results
        .iter()
        .find(|r| r["policy"] == "opt" && r["cache_pages"] == 25)
        .unwrap();
    assert!(opt["miss_ratio"].as_f64().unwrap() < 0.34, "{opt}");
    for r in results.iter().filter(|r| r["cache_pages"] == 25) {
        assert!(
            r["miss_ratio"].as_f64().unwrap() >= opt["miss_ratio"].as_f64().unwrap(),
            "{r} beats opt"
        );
    }
}

#[test]
fn plot_is_an_svg_with_one_curve_per_policy() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let svg = dir.path().join("curves.svg");
    let out = sim(
        &[
            "--cache",
            "2%,50%",
            "--policy",
            "clock,opt",
            "--plot",
            svg.to_str().unwrap(),
        ],
        &trace,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    assert!(text.trim_end().ends_with("</svg>"));
    for label in ["clock", "opt", "miss ratio (%)", "mixed.trace.gz"] {
        assert!(text.contains(label), "no {label:?} in the plot");
    }
    // The sweep's sizes label the x axis: 2% and 50% of 420 pages, and points between.
    for tick in [">\n8\n<", ">\n210\n<"] {
        assert!(text.contains(tick), "no tick {tick:?}");
    }
}

#[test]
fn malformed_trace_fails_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.lis");
    std::fs::write(&path, "1 1 0 0\n2 1 0 1\n3 one 0 2\n").unwrap();
    let out = sim(&[], &path);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.lis: line 3: page count \"one\""), "{err}");

    let path = dir.path().join("bad.oracleGeneral");
    std::fs::write(&path, [0u8; 24 * 3 + 5]).unwrap();
    let out = sim(&[], &path);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("byte offset 72: truncated record"), "{err}");
}

#[test]
fn unknown_policy_and_format_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path());
    let out = sim(&["--policy", "clock,mru"], &trace);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown policy \"mru\""));
    let other = dir.path().join("x.bin");
    std::fs::write(&other, [0u8; 8]).unwrap();
    let out = sim(&[], &other);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --format"));
    let out = sim(&["--format", "u32be"], &other);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
