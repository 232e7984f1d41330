//! Unit tests of the trace readers, format detection, decompression and the job runner.

use std::io::{BufReader, Cursor, Write};
use std::path::Path;

use super::trace::{self, Compression, CsvColumn, Format, TraceError};
use super::*;

/// Parses `bytes` as `format`, with a tiny read buffer so records and lines straddle refills.
fn keys_of(format: Format, bytes: &[u8], csv: &CsvColumn) -> Result<Vec<u64>, TraceError> {
    let mut out = Vec::new();
    let mut r = BufReader::with_capacity(7, Cursor::new(bytes.to_vec()));
    trace::parse(format, &mut r, csv, "t", &mut |k| {
        out.push(k);
        true
    })?;
    Ok(out)
}

fn keys(format: Format, bytes: &[u8]) -> Vec<u64> {
    keys_of(format, bytes, &CsvColumn::Auto).unwrap()
}

fn err(format: Format, bytes: &[u8]) -> String {
    keys_of(format, bytes, &CsvColumn::Auto).unwrap_err().to_string()
}

#[test]
fn lis_expands_page_ranges() {
    let text = b"10 3 0 0\n\n7 1 0 1\r\n100 0 0 2\n11 2 5 3";
    assert_eq!(keys(Format::Lis, text), vec![10, 11, 12, 7, 11, 12]);
}

#[test]
fn lis_malformed_lines_name_the_line() {
    assert_eq!(
        err(Format::Lis, b"1 1 0 0\n2 x 0 1\n"),
        "t: line 2: page count \"x\" is not an unsigned integer"
    );
    assert!(err(Format::Lis, b"1 1 0 0\n\n5\n").starts_with("t: line 3: expected `start count"));
    assert!(err(Format::Lis, b"18446744073709551615 2 0 0\n").contains("line 1: pages"));
}

#[test]
fn lirs_skips_markers_blank_lines_and_crlf() {
    // As found in the LIRS set: `*` breakpoints (2_pools, cs), CRLF line ends (loop), a blank last line (gli).
    let text = b"5\n6\n*\n5\r\n  7 \n\n*\n18446744073709551615\n\n";
    assert_eq!(keys(Format::Lirs, text), vec![5, 6, 5, 7, u64::MAX]);
}

#[test]
fn lirs_malformed_lines_name_the_line() {
    assert_eq!(
        err(Format::Lirs, b"1\n2\n3\n-4\n"),
        "t: line 4: page number \"-4\" is not an unsigned integer"
    );
    assert_eq!(
        err(Format::Lirs, b"1\n2 3\n"),
        "t: line 2: page number \"2 3\" is not an unsigned integer"
    );
    assert_eq!(err(Format::Lirs, b"1\n\xff\n"), "t: line 2: not UTF-8 text");
}

#[test]
fn u32be_reads_big_endian_keys() {
    let bytes: Vec<u8> = [0u32, 1, 0xdead_beef, 1].iter().flat_map(|k| k.to_be_bytes()).collect();
    assert_eq!(keys(Format::U32be, &bytes), vec![0, 1, 0xdead_beef, 1]);
    assert_eq!(keys(Format::U32be, b""), Vec::<u64>::new());
}

#[test]
fn u32be_truncated_record_names_its_offset() {
    let mut bytes: Vec<u8> = [7u32, 8, 9].iter().flat_map(|k| k.to_be_bytes()).collect();
    bytes.extend_from_slice(&[1, 2]);
    assert_eq!(
        err(Format::U32be, &bytes),
        "t: byte offset 12: truncated record: 2 of 4 bytes"
    );
}

fn oracle_record(time: u32, id: u64, size: u32, next: i64) -> Vec<u8> {
    let mut r = Vec::with_capacity(24);
    r.extend_from_slice(&time.to_le_bytes());
    r.extend_from_slice(&id.to_le_bytes());
    r.extend_from_slice(&size.to_le_bytes());
    r.extend_from_slice(&next.to_le_bytes());
    assert_eq!(r.len(), 24);
    r
}

#[test]
fn oracle_general_reads_ids_of_24_byte_records() {
    let mut bytes = Vec::new();
    for (t, id, next) in [(1, 42u64, 2i64), (2, u64::MAX, -1), (3, 42, -1)] {
        bytes.extend(oracle_record(t, id, 4096, next));
    }
    assert_eq!(keys(Format::OracleGeneral, &bytes), vec![42, u64::MAX, 42]);
    bytes.extend_from_slice(&[0; 23]);
    assert_eq!(
        err(Format::OracleGeneral, &bytes),
        "t: byte offset 72: truncated record: 23 of 24 bytes"
    );
}

#[test]
fn csv_finds_the_id_column_by_header_name() {
    let text = b"timestamp,obj_id,obj_size\n1,10,4096\n2,\"11\",4096\n\n3,10,512\n";
    assert_eq!(keys(Format::Csv, text), vec![10, 11, 10]);
    let tabs = b"time\tKey\tsize\n1\t5\t1\n2\t6\t1\n";
    assert_eq!(keys(Format::Csv, tabs), vec![5, 6]);
    let named = keys_of(Format::Csv, b"a,b,c\n1,2,3\n4,5,6\n", &CsvColumn::Name("c".into())).unwrap();
    assert_eq!(named, vec![3, 6]);
}

#[test]
fn csv_by_index_with_or_without_header() {
    let idx = CsvColumn::parse("2").unwrap();
    assert_eq!(keys_of(Format::Csv, b"1,10\n2,20\n", &idx).unwrap(), vec![10, 20]);
    assert_eq!(
        keys_of(Format::Csv, b"t,page\n1,10\n2,20\n", &idx).unwrap(),
        vec![10, 20]
    );
    assert!(CsvColumn::parse("0").is_err());
}

#[test]
fn csv_string_ids_are_hashed_stably() {
    let got = keys(Format::Csv, b"obj_id\nabc\nxyz\nabc\n");
    assert_eq!(got[0], got[2]);
    assert_ne!(got[0], got[1]);
    // FNV-1a 64 of "abc", so the key is the same on every run and machine.
    assert_eq!(got[0], 0xe71f_a219_0541_574b);
}

#[test]
fn csv_errors_name_the_line() {
    assert!(err(Format::Csv, b"1,2,3\n").starts_with("t: line 1: the first line is not a header"));
    assert_eq!(
        err(Format::Csv, b"time,obj_id\n1,5\n2\n"),
        "t: line 3: no column 2 (found 1 fields)"
    );
    assert_eq!(
        err(Format::Csv, b"time,obj_id\n1,5\n2,\n"),
        "t: line 3: empty id in column 2"
    );
    let e = keys_of(Format::Csv, b"a,b\n1,2\n", &CsvColumn::Name("zz".into()))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t: line 1: the header has no column \"zz\""), "{e}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 1).unwrap()
}

#[test]
fn decompression_is_detected_by_magic_bytes() {
    let plain: Vec<u8> = (0..10_000u32)
        .flat_map(|i| format!("{}\n", i % 977).into_bytes())
        .collect();
    for (packed, want) in [
        (plain.clone(), Compression::None),
        (gzip(&plain), Compression::Gzip),
        (xz(&plain), Compression::Xz),
        (zstd(&plain), Compression::Zstd),
        // Concatenated gzip members and zstd frames are one stream, as `cat a.gz b.gz` makes.
        ([gzip(&plain[..20]), gzip(&plain[20..])].concat(), Compression::Gzip),
        ([zstd(&plain[..20]), zstd(&plain[20..])].concat(), Compression::Zstd),
    ] {
        let (mut r, found) = trace::decompress(Cursor::new(packed)).unwrap();
        assert_eq!(found, want);
        let mut out = Vec::new();
        std::io::copy(&mut r, &mut out).unwrap();
        assert!(out == plain, "{want}: {} bytes out of {}", out.len(), plain.len());
    }
    // Shorter than any magic number, and empty.
    for tiny in [&b"7\n"[..], b""] {
        let (mut r, found) = trace::decompress(Cursor::new(tiny.to_vec())).unwrap();
        assert_eq!(found, Compression::None);
        let mut out = Vec::new();
        std::io::copy(&mut r, &mut out).unwrap();
        assert_eq!(out, tiny);
    }
}

#[test]
fn corrupt_compressed_stream_is_an_io_error() {
    let mut packed = zstd(&b"1\n2\n3\n".repeat(1000));
    let n = packed.len();
    packed.truncate(n / 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.trace.zst");
    std::fs::write(&path, packed).unwrap();
    let e = trace::load(&path, Format::Auto, &CsvColumn::Auto).unwrap_err();
    assert!(matches!(e, TraceError::Io { .. }), "{e}");
}

/// Writes `bytes` to a file called `name` in `dir` and loads it with `--format auto`.
fn load_auto(dir: &Path, name: &str, bytes: &[u8]) -> Result<trace::LoadedTrace, TraceError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    trace::load(&path, Format::Auto, &CsvColumn::Auto)
}

#[test]
fn auto_format_by_name_after_the_compression_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lis = load_auto(d, "a.lis.zst", &zstd(b"5 2 0 0\n5 1 0 1\n")).unwrap();
    assert_eq!((lis.format, lis.compression), (Format::Lis, Compression::Zstd));
    assert_eq!(lis.trace.keys, vec![5, 6]);
    assert_eq!(lis.trace.requests, vec![0, 1, 0]);

    let text = load_auto(d, "b.trace.gz", &gzip(b"3\n*\n4\n3\n")).unwrap();
    assert_eq!((text.format, text.compression), (Format::Lirs, Compression::Gzip));
    assert_eq!(text.trace.requests.len(), 3);

    let bin: Vec<u8> = [3u32, 4, 3].iter().flat_map(|k| k.to_be_bytes()).collect();
    let binary = load_auto(d, "c.trace.xz", &xz(&bin)).unwrap();
    assert_eq!((binary.format, binary.compression), (Format::U32be, Compression::Xz));
    assert_eq!(binary.trace.keys, vec![3, 4]);

    let og = load_auto(d, "d.oracleGeneral.bin", &oracle_record(0, 9, 1, -1)).unwrap();
    assert_eq!(og.format, Format::OracleGeneral);
    assert_eq!(og.trace.keys, vec![9]);

    let csv = load_auto(d, "e.CSV", b"id\n1\n").unwrap();
    assert_eq!(csv.format, Format::Csv);

    let e = load_auto(d, "f.dat", b"1\n").unwrap_err();
    assert!(matches!(e, TraceError::UnknownFormat { .. }), "{e}");
    // A file the name calls compressed but is not is read as what it is.
    let plain = load_auto(d, "g.lis.gz", b"1 1 0 0\n").unwrap();
    assert_eq!(plain.compression, Compression::None);
}

#[test]
fn load_errors_name_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_auto(dir.path(), "bad.trace.gz", &gzip(b"1\n2\n\n3\nfour\n")).unwrap_err();
    let path = dir.path().join("bad.trace.gz");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: line 5: page number \"four\" is not an unsigned integer",
            path.display()
        )
    );
    let missing = trace::load(&dir.path().join("none.lis"), Format::Auto, &CsvColumn::Auto).unwrap_err();
    assert!(matches!(missing, TraceError::Io { .. }));
}

#[test]
fn cache_sizes_parse_and_resolve() {
    assert_eq!(parse_cache_size("10%"), Ok(CacheSize::Percent(10.0)));
    assert_eq!(parse_cache_size(" 0.5% "), Ok(CacheSize::Percent(0.5)));
    assert_eq!(parse_cache_size("1000"), Ok(CacheSize::Pages(1000)));
    for bad in ["0", "0%", "101%", "x", "-5", "%", "1.5"] {
        assert!(parse_cache_size(bad).is_err(), "{bad}");
    }
    assert_eq!(CacheSize::Percent(1.0).pages(186_880), 1869);
    assert_eq!(CacheSize::Percent(10.0).pages(186_880), 18_688);
    assert_eq!(CacheSize::Percent(1.0).pages(20), 1, "never zero pages");
    assert_eq!(CacheSize::Pages(5).pages(2), 5);
}

#[test]
fn sweep_is_log_spaced_and_keeps_asked_sizes() {
    let s = sweep_sizes(&[100, 10_000], 1_000_000, 3);
    assert_eq!(s, vec![100, 1000, 10_000]);
    let s = sweep_sizes(&[150, 10_000, 7], 1_000_000, 8);
    assert_eq!((s[0], *s.last().unwrap()), (7, 10_000));
    assert!(s.contains(&150) && s.len() >= 8);
    // One size: a tenth to ten times it, within the distinct pages.
    assert_eq!(sweep_sizes(&[50], 200, 2), vec![5, 50, 200]);
}

#[test]
fn policy_names() {
    let all = parse_policies("all").unwrap();
    assert_eq!(all.len(), PolicyKind::ALL.len() + 1);
    assert_eq!(all.last(), Some(&Row::Opt));
    assert_eq!(
        parse_policies("opt, clock,opt").unwrap(),
        vec![Row::Opt, Row::Policy(PolicyKind::Clock.into())]
    );
    let e = parse_policies("clock,nope").unwrap_err().to_string();
    assert!(
        e.contains("unknown policy \"nope\"") && e.contains("clock") && e.contains("opt"),
        "{e}"
    );
    assert!(parse_policies(",").is_err());
}

#[test]
fn parameterised_policy_names() {
    let rows =
        parse_policies("s3-fifo:small=5, s3-fifo:ghost=50:small=20, w-tinylfu:window=20, w-tinylfu:window=1:climb")
            .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "s3-fifo:small=5:ghost=100",
            "s3-fifo:small=20:ghost=50",
            "w-tinylfu:window=20",
            "w-tinylfu:window=1:climb"
        ]
    );
    for r in &rows {
        assert_eq!(parse_policies(&r.name()).unwrap(), vec![*r], "names round-trip");
    }
    for bad in [
        "s3-fifo:small=100",
        "s3-fifo:window=5",
        "w-tinylfu:window=x",
        "lru:small=5",
        "s3-fifo:",
    ] {
        assert!(parse_policies(bad).is_err(), "{bad} accepted");
    }
    // The defaults spelled out are the pool's policies: same misses on a skewed trace.
    let mut x = 7u64;
    let keys: Vec<u64> = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 33) % 2000).pow(2) / 2000
        })
        .collect();
    let t = Trace::from_keys(keys);
    let rows = parse_policies("s3-fifo,s3-fifo:small=10:ghost=100,w-tinylfu,w-tinylfu:window=1:climb,s3-fifo:small=30")
        .unwrap();
    let jobs: Vec<(Row, u64)> = rows.iter().map(|&r| (r, 100)).collect();
    let m: Vec<u64> = run_jobs(&t, &jobs, 1).unwrap().iter().map(|o| o.misses).collect();
    assert_eq!(m[0], m[1]);
    assert_eq!(m[2], m[3]);
    assert_ne!(m[0], m[4], "the small queue's share changes the misses");
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut x = 1u64;
    let keys: Vec<u64> = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % 3000
        })
        .collect();
    let t = Trace::from_keys(keys);
    let rows = parse_policies("all").unwrap();
    let jobs: Vec<(Row, u64)> = rows
        .iter()
        .flat_map(|&r| [30u64, 300, 3000].map(move |p| (r, p)))
        .collect();
    let one = run_jobs(&t, &jobs, 1).unwrap();
    let two = run_jobs(&t, &jobs, 2).unwrap();
    let many = run_jobs(&t, &jobs, 7).unwrap();
    assert_eq!(one, two);
    assert_eq!(one, many);
    for (i, &(row, pages)) in jobs.iter().enumerate() {
        if pages == 3000 {
            assert_eq!(
                one[i].misses,
                t.distinct_pages() as u64,
                "{}: only cold misses",
                row.name()
            );
        }
    }
}
