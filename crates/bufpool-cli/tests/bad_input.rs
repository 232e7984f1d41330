//! The `bufpool` binary on bad input (the review of round 10, R10B in RELIABILITY.md): every case must end with
//! a message on stderr and a non-zero exit, never a panic or a backtrace (exit code 101, "panicked at").
//!
//! - `inspect`: an empty file, random bytes, a size that is not a page multiple, a directory (R10B-3: its error
//!   named no path), a device or a FIFO (R28-5), a missing path, a data file of another page size, `--page` past
//!   the end and at `u32::MAX`, absurd `--page-size`s;
//! - `sim`: empty traces (R10B-2: a table of 0.00 miss ratios and exit 0), truncated and malformed ones, of
//!   every format `../shared/traces/README.md` names (the ARC `.lis` text, LIRS one page a line, cache2k's
//!   big-endian `u32`s, libCacheSim's `oracleGeneral` binary and CSV), plain and compressed (a cut gzip, zstd
//!   or xz stream), and bad `--cache` sizes;
//! - `bench`: flags out of range (0 threads, zero, negative or absurd seconds, pool fraction 0 or negative,
//!   0 warehouses, 0 tuples, 0 or absurd frames, 0 repeat) and a `--dir` that is a file.
//!
//! Every message must name each cause once (R10B-O3: `no_repeated_cause`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn bufpool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bufpool"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// The run failed cleanly: a non-zero exit that is not a panic's, and a message (containing `needle`).
fn refused(what: &str, out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: accepted\n{err}");
    assert!(
        !err.contains("panicked") && out.status.code() != Some(101),
        "{what}: panicked\n{err}"
    );
    assert!(!err.trim().is_empty(), "{what}: no message");
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "{what}: message {err:?} lacks {needle:?}"
    );
    no_repeated_cause(what, &err);
}

/// The message names each cause once (R10B-O3): `main` prints the error chain (`{:#}`: each error's message, then
/// its `source()`'s, joined by ": "), so an error that both includes its source in its own message and returns it
/// from `source()` printed it twice (`cut.lis.gz: incomplete deflate stream: incomplete deflate stream`). Checked
/// on the joined chain: no ": "-separated segment, nor a run of them, follows an identical one.
fn no_repeated_cause(what: &str, err: &str) {
    for line in err.lines() {
        let segments: Vec<&str> = line.split(": ").map(str::trim).collect();
        for len in 1..=segments.len() / 2 {
            for at in 0..=segments.len() - 2 * len {
                assert!(
                    segments[at..at + len] != segments[at + len..at + 2 * len],
                    "{what}: message repeats {:?}: {line:?}",
                    segments[at..at + len].join(": ")
                );
            }
        }
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn inspect_refuses_what_is_not_a_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let random: Vec<u8> = (0..3 * 4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(d.join("random"), &random).unwrap();
    std::fs::write(d.join("odd"), &random[..4096 + 1000]).unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    for (name, needle) in [
        ("random", "not a bufpool file"),
        ("odd", "not a bufpool file"),
        ("adir", "adir is a directory"),
        ("missing", "cannot open"),
    ] {
        let out = bufpool(&["inspect", p(&d.join(name))]);
        refused(&format!("inspect {name}"), &out, needle);
    }
    // An empty file is a data file nothing was ever written to: zero pages, nothing corrupt (not an error).
    std::fs::write(d.join("empty"), b"").unwrap();
    let out = bufpool(&["inspect", p(&d.join("empty"))]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 pages"));
    let out = bufpool(&["inspect", p(&d.join("empty")), "--page", "0"]);
    refused("--page 0 of an empty file", &out, "past the end");
}

/// R28-5: a device or a FIFO is not a data file. `/dev/null` (a device's length reads as 0) passed as an empty data
/// file ("0 pages", exit 0), as a block device would, whatever it holds; a FIFO's open waited for a writer for
/// ever. Each must be refused at once, naming the path.
#[test]
fn inspect_refuses_devices_and_fifos_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    for path in [Path::new("/dev/null"), &fifo] {
        let out = bufpool_within_20s(&["inspect", p(path)]);
        refused(&format!("inspect {}", path.display()), &out, "not a regular file");
    }
}

/// `bufpool ARGS`, killed (and the test failed) if it has not ended after 20 s.
fn bufpool_within_20s(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bufpool"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("bufpool {}: still running after 20 s", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// R46-2: `inspect --pool LIST` read the list with `std::fs::read`: a FIFO's open waited for a writer for ever,
/// and `/dev/zero` was read into memory until the allocator aborted the process. A list is a regular file, as a
/// data file is (R28-5 above): each is refused at once, naming the path. The FIFO first: without the check,
/// `/dev/zero` would take the machine's memory for the 20 s the helper gives it.
#[test]
fn inspect_pool_refuses_devices_and_fifos_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    for path in [&fifo, Path::new("/dev/zero")] {
        let out = bufpool_within_20s(&["inspect", "--pool", p(path)]);
        refused(
            &format!("inspect --pool {}", path.display()),
            &out,
            "not a regular file",
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(p(path)),
            "the message names {}",
            path.display()
        );
    }
}

#[test]
fn inspect_of_a_real_file_with_wrong_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let pool = bufpool::BufferPool::builder()
        .frames(16)
        .page_size(16384)
        .io_backend(bufpool::IoBackend::Pread)
        .build()
        .unwrap();
    let file = pool.open_file(&path).unwrap();
    for i in 0..4u64 {
        pool.new_page(file).unwrap().set_lsn(1 + i);
    }
    pool.close().unwrap();
    let data = p(&path);
    for (args, needle) in [
        (&["--page-size", "4096"][..], "--page-size 16384"),
        (&["--page-size", "0"], "power of two"),
        (&["--page-size", "131072"], "power of two"),
        (&["--page-size", "18446744073709551615"], "power of two"),
        (&["--page", "4"], "past the end"),
        (&["--page", "4294967295"], "past the end"),
        (&["--page", "-1"], "-1"),
    ] {
        let mut all = vec!["inspect", data];
        all.extend_from_slice(args);
        refused(&format!("{args:?}"), &bufpool(&all), needle);
    }
    // A page of it, dumped with a dump longer than the page: clamped.
    let out = bufpool(&["inspect", data, "--page", "3", "--dump-bytes", "1000000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zst(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 1).unwrap()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn sim_refuses_empty_truncated_and_malformed_traces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lis: String = (0..2000).map(|i| format!("{} 2 0 {i}\n", (i * 7) % 500)).collect();
    let lirs: String = (0..2000).map(|i| format!("{}\n", (i * 13) % 300)).collect();
    let u32be: Vec<u8> = (0..2000u32).flat_map(|i| ((i * 7) % 400).to_be_bytes()).collect();
    let oracle: Vec<u8> = (0..2000u64)
        .flat_map(|i| {
            let mut r = Vec::with_capacity(24);
            r.extend_from_slice(&(i as u32).to_le_bytes());
            r.extend_from_slice(&((i * 7) % 300).to_le_bytes());
            r.extend_from_slice(&1u32.to_le_bytes());
            r.extend_from_slice(&(-1i64).to_le_bytes());
            r
        })
        .collect();
    let csv: String = std::iter::once("time,id,size\n".to_string())
        .chain((0..2000).map(|i| format!("{i},{},1\n", (i * 3) % 200)))
        .collect();
    // (file name, bytes, extra args, what the message must say)
    let mut cases: Vec<(String, Vec<u8>, Vec<&str>, &str)> = vec![
        ("empty.lis".into(), Vec::new(), vec![], "empty"),
        ("empty.trace".into(), Vec::new(), vec![], "empty"),
        ("empty.oracleGeneral".into(), Vec::new(), vec![], "empty"),
        ("empty.csv".into(), Vec::new(), vec![], "empty"),
        ("empty.bin".into(), Vec::new(), vec!["--format", "u32be"], "empty"),
        ("header-only.csv".into(), b"time,id,size\n".to_vec(), vec![], "empty"),
        ("blank.lis".into(), b"\n\n  \n".to_vec(), vec![], "empty"),
        ("bad.lis".into(), b"1 2 0 0\n1 -2 0 1\n".to_vec(), vec![], "line 2"),
        (
            "big.lis".into(),
            b"18446744073709551615 2 0 0\n".to_vec(),
            vec![],
            "overflow",
        ),
        ("bad.trace".into(), b"1\n2\nthree\n".to_vec(), vec![], "line 3"),
        (
            "cut.bin".into(),
            u32be[..4 * 100 + 3].to_vec(),
            vec!["--format", "u32be"],
            "truncated",
        ),
        (
            "cut.oracleGeneral".into(),
            oracle[..24 * 50 + 7].to_vec(),
            vec![],
            "truncated",
        ),
        ("bad.csv".into(), b"time,id,size\n1,,1\n".to_vec(), vec![], "empty id"),
        (
            "nocol.csv".into(),
            csv.clone().into_bytes(),
            vec!["--csv-column", "nope"],
            "nope",
        ),
        (
            "col0.csv".into(),
            csv.clone().into_bytes(),
            vec!["--csv-column", "0"],
            "start at 1",
        ),
    ];
    // Compressed streams cut in the middle: the decoder's error, not a panic or a silently short trace.
    for (name, whole) in [
        ("cut.lis.gz", gz(lis.as_bytes())),
        ("cut.lis.zst", zst(lis.as_bytes())),
        ("cut.trace.xz", xz(&u32be)),
        ("cut.trace.gz", gz(lirs.as_bytes())),
        ("cut.oracleGeneral.zst", zst(&oracle)),
    ] {
        cases.push((name.into(), whole[..whole.len() / 2].to_vec(), vec![], name));
    }
    for (name, bytes, extra, needle) in &cases {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut args = vec!["sim", "--trace", p(&path)];
        args.extend(extra.iter().copied());
        refused(name, &bufpool(&args), needle);
    }
    // Cache sizes out of range, on a good trace.
    let good = d.join("good.trace");
    std::fs::write(&good, &lirs).unwrap();
    for size in ["0", "0%", "-5", "101%", "nan%", "4294967295", ""] {
        let out = bufpool(&["sim", "--trace", p(&good), &format!("--cache={size}")]);
        refused(&format!("--cache {size:?}"), &out, "cache");
    }
    // The largest cache accepted, on a trace of a few pages (R13-2).
    largest_cache_on_a_small_trace(d);
    // Compression is found by magic bytes, never by name: a plain trace named `.gz` or `.zst` reads as plain.
    for (name, bytes) in [("plain.lis.gz", lis.as_bytes()), ("plain.trace.zst", lirs.as_bytes())] {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = bufpool(&["sim", "--trace", p(&path), "--policy", "lru"]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    refused(
        "missing trace",
        &bufpool(&["sim", "--trace", p(&d.join("nope.lis"))]),
        "nope.lis",
    );
    refused(
        "a directory",
        &bufpool(&["sim", "--trace", p(d), "--format", "lis"]),
        "directory",
    );
}

#[test]
fn bench_refuses_flags_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for (args, needle) in [
        (&["--threads", "0"][..], "thread"),
        (&["--threads", "-1"], "-1"),
        (&["--seconds", "0"], "seconds"),
        (&["--seconds=-0.5"], "seconds"),
        (&["--seconds", "nan"], "seconds"),
        (&["--seconds", "1e300"], "seconds"),
        (&["--frames", "0"], "frames"),
        (&["--frames", "4294967295"], "frames"),
        (&["--pages", "0"], "pages"),
        (&["--repeat", "0"], "repeat"),
        (&["--workload", "scan", "--scan-hot", "0"], "scan-hot"),
        (&["--workload", "btree", "--pool-fraction", "0"], "pool fraction"),
        (&["--workload", "btree", "--pool-fraction=-1"], "pool fraction"),
        (&["--workload", "btree", "--pool-fraction", "nan"], "pool fraction"),
        (&["--workload", "btree", "--tuples", "0"], "tuples"),
        (&["--workload", "btree", "--tuples", "70000000000000"], "available"),
        (&["--memory-mib", "17592186044416"], "memory-mib"),
        (&["--workload", "btree", "--batch", "0"], "batch"),
        (&["--workload", "tpcc", "--warehouses", "0"], "warehouses"),
        (&["--workload", "tpcc", "--warehouses", "70000"], "warehouses"),
    ] {
        let mut all = vec!["bench", "--smoke"];
        all.extend_from_slice(args);
        refused(&format!("{args:?}"), &bufpool(&all), needle);
    }
    let out = bufpool(&["bench", "--smoke", "--workload", "hit", "--dir", p(&file)]);
    refused("--dir a file", &out, "a-file");
}

/// R13-2 (RELIABILITY.md): `--cache` of up to 2^32 - 2 pages is accepted, and the simulator made its per-frame
/// vectors for every page asked, whatever the trace: on a trace of 4 distinct pages `--cache 4294967294` aborted
/// the process ("memory allocation of 17179869176 bytes failed", exit 134) where memory is bounded, and took all
/// of it where not; `--cache 10000000` took 25 s. A cache of more pages than the trace's distinct ones never
/// evicts, so it misses as one of exactly that many: each policy's ratio at the largest size is its ratio at 4
/// pages. The binary runs under a 2 GiB address-space limit here, so a regression fails fast instead of taking
/// the machine's memory.
fn largest_cache_on_a_small_trace(d: &Path) {
    let path = d.join("four-pages.lis");
    std::fs::write(&path, "1 1 0 0\n2 1 0 1\n3 1 0 2\n1 1 0 3\n2 1 0 4\n4 1 0 5\n").unwrap();
    let out = Command::new("sh")
        .args(["-c", "ulimit -v 2097152 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_bufpool"))
        .args([
            "sim",
            "--trace",
            p(&path),
            "--cache",
            "4",
            "--cache",
            "4294967294",
            "--threads",
            "1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "--cache 4294967294: {:?}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 3 && w[0] != "policy" && w[1].parse::<f64>().is_ok())
        .collect();
    assert!(rows.len() >= 5, "a row per policy:\n{stdout}");
    for w in &rows {
        assert_eq!(
            w[1], w[2],
            "{}: 4 pages and 4294967294 pages miss alike\n{stdout}",
            w[0]
        );
    }
}

/// R34-2: a 17-byte `lis` trace, one line asking for pages 0 to 4,294,967,292, asks the simulator for some 60 GB
/// (a `u32` per request, a key and an index entry per distinct page). Its vectors and index grew infallibly: under
/// a 2 GiB address-space limit the binary aborted ("memory allocation of 1140850704 bytes failed", exit 134, a
/// backtrace), and with no limit it took the machine's memory. Now every growth is fallible and the trace is
/// refused, naming the file and how far it was read, exit 1. Under a 256 MiB limit (the refusal comes after 3.7 M
/// pages): under 2 GiB, the debug build took 174 s to fill it (58.7 M pages), the suite's longest test (session 36).
#[test]
fn a_trace_too_large_for_memory_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.lis");
    std::fs::write(&path, "0 4294967293 0 0\n").unwrap();
    let out = Command::new("sh")
        .args(["-c", "ulimit -v 262144 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_bufpool"))
        .args(["sim", "--trace", p(&path), "--cache", "10", "--threads", "1"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    refused("huge.lis", &out, "huge.lis: out of memory after");
    assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
}

/// R46-3: a text trace without line ends (here 512 MiB of zeroes, a sparse file: a disk image, a preallocated
/// file, a binary trace given `--format lis`) was read into memory as one line: under a 256 MiB address-space limit
/// the binary aborted ("memory allocation of ... bytes failed", exit 134), with none it held the whole file, and
/// the error quoted the line whole (an 8 MiB file gave 16 MiB of `\0`s on stderr). Now a line is refused past
/// 64 KiB, naming the file and line 1, and an error quotes at most 80 characters of the trace's text.
#[test]
fn a_text_trace_without_line_ends_is_refused_not_held_whole() {
    let dir = tempfile::tempdir().unwrap();
    let zeroes = dir.path().join("zeroes.trace");
    std::fs::File::create(&zeroes).unwrap().set_len(512 << 20).unwrap();
    for format in ["lirs", "lis", "csv"] {
        let out = Command::new("sh")
            .args(["-c", "ulimit -v 262144 && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_bufpool"))
            .args(["sim", "--trace", p(&zeroes), "--format", format, "--threads", "1"])
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let what = format!("512 MiB of zeroes as {format}");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {:?}, stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr[..out.stderr.len().min(300)])
        );
        assert!(
            out.stderr.len() < 1024,
            "{what}: {} bytes on stderr, starting {:?}",
            out.stderr.len(),
            String::from_utf8_lossy(&out.stderr[..300])
        );
        refused(&what, &out, "zeroes.trace: line 1");
    }
    // A long but well-formed CSV header, and a malformed line's quote cut short.
    let long = dir.path().join("long.csv");
    let header: Vec<String> = (0..3000).map(|i| format!("column{i}")).collect();
    std::fs::write(&long, format!("{},id\n1,2\n", header.join(","))).unwrap();
    let out = bufpool(&["sim", "--trace", p(&long), "--csv-column", "nosuch"]);
    refused("a header without the column asked for", &out, "no column");
    assert!(out.stderr.len() < 1024, "{} bytes on stderr", out.stderr.len());
}

/// R30-22: a report whose standard output cannot be written, redirected to a full device (`/dev/full`: ENOSPC) or
/// to a pipe whose reader has gone (`bufpool inspect F | head -1`: EPIPE), is an error naming standard output,
/// exit 1: `println!` panicked ("failed printing to stdout", exit 101), in `inspect`, `sim` and `bench` alike.
#[test]
fn a_report_to_a_full_device_or_a_closed_pipe_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let pool = bufpool::BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    drop(pool.new_page(file).unwrap());
    pool.close().unwrap();
    let trace = dir.path().join("t.lis");
    std::fs::write(&trace, "0 1 0 0\n1 1 0 1\n").unwrap();
    let runs: [&[&str]; 3] = [
        &["inspect", p(&path)],
        &["sim", "--trace", p(&trace)],
        &[
            "bench",
            "--smoke",
            "--workload",
            "hit",
            "--systems",
            "raw-memory",
            "--dir",
            p(dir.path()),
        ],
    ];
    for args in runs {
        for sink in ["/dev/full", "a closed pipe"] {
            let stdout = match sink {
                "/dev/full" => std::process::Stdio::from(std::fs::File::create("/dev/full").unwrap()),
                _ => {
                    let (reader, writer) = std::io::pipe().unwrap();
                    drop(reader);
                    std::process::Stdio::from(writer)
                }
            };
            let out = Command::new(env!("CARGO_BIN_EXE_bufpool"))
                .args(args)
                .env("RUST_BACKTRACE", "1")
                .stdout(stdout)
                .stderr(std::process::Stdio::piped())
                .output()
                .unwrap();
            refused(
                &format!("{args:?} to {sink}"),
                &out,
                "writing the report to standard output",
            );
        }
    }
}

/// R30-23: a data file the bench cannot write before its runs (a full `--dir`; here a file-size limit, `ulimit -f`,
/// with SIGXFSZ ignored so the write fails with EFBIG, which needs no mount) is named in the error: it said only
/// "bufpool: File too large (os error 27)" ("No space left on device" on a full device), not which file.
#[test]
fn bench_names_the_data_file_it_cannot_prepare() {
    let dir = tempfile::tempdir().unwrap();
    for (workload, file) in [("miss", "raw.pages"), ("warm-restart", "warm.pages")] {
        let out = Command::new("sh")
            .args(["-c", "ulimit -f 1000 && trap '' XFSZ && exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_bufpool"))
            .args(["bench", "--smoke", "--workload", workload, "--dir", p(dir.path())])
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        refused(workload, &out, &format!("{file}: "));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("preparing") && err.contains("File too large"),
            "{workload}: {err}"
        );
    }
}
