//! `bufpool inspect` on a file written through the pool: every page valid; after one page is damaged, that page
//! is reported corrupt with its reason, the command exits non-zero, and `--page` shows the damaged header.

use std::process::Command;

use bufpool::{BufferPool, IoBackend};

#[test]
fn inspect_reports_valid_and_corrupt_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let pool = BufferPool::builder()
        .frames(16)
        .io_backend(IoBackend::Pread)
        .build()
        .unwrap();
    let file = pool.open_file(&path).unwrap();
    for i in 0..10u64 {
        let mut g = pool.new_page(file).unwrap();
        g.set_lsn(100 + i);
        g[..5].copy_from_slice(b"hello");
    }
    pool.close().unwrap();
    let bin = env!("CARGO_BIN_EXE_bufpool");
    let json = dir.path().join("r.json");
    let out = Command::new(bin)
        .args(["inspect", path.to_str().unwrap(), "--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["valid"], 10);
    assert_eq!(r["corrupt"], 0);
    assert_eq!(r["lsn_min"], 100);
    assert_eq!(r["lsn_max"], 109);

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3 * 4096 + 100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(bin)
        .args(["inspect", path.to_str().unwrap(), "--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["corrupt"], 1);
    assert_eq!(r["corrupt_pages"][0]["page"], 3);
    assert!(r["corrupt_pages"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("checksum mismatch"));

    let out = Command::new(bin)
        .args(["inspect", path.to_str().unwrap(), "--page", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CORRUPT") && text.contains("hello"), "{text}");
    let out = Command::new(bin)
        .args(["inspect", path.to_str().unwrap(), "--page-size", "1000"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn inspect(path: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bufpool"))
        .arg("inspect")
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A file written with 8 KiB pages, inspected as 4 KiB: the error names the page size that fits.
#[test]
fn wrong_page_size_is_hinted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let pool = BufferPool::builder()
        .frames(16)
        .page_size(8192)
        .io_backend(IoBackend::Pread)
        .build()
        .unwrap();
    let file = pool.open_file(&path).unwrap();
    for i in 0..6u64 {
        let mut g = pool.new_page(file).unwrap();
        g.set_lsn(1 + i);
        g[..5].copy_from_slice(b"hello");
    }
    pool.close().unwrap();
    let (ok, text) = inspect(&path, &["--page-size", "4096"]);
    assert!(!ok, "{text}");
    assert!(text.contains("the file verifies with --page-size 8192"), "{text}");
    let (ok, text) = inspect(&path, &["--page-size", "8192"]);
    assert!(ok, "{text}");
    assert!(text.contains("6 pages of 8192 bytes"), "{text}");
}

/// Files that were never bufpool files: a short text file (smaller than a page) and a larger one. Both exit
/// non-zero and say so, instead of "partial page at the end (a torn extension?)" or a list of checksum mismatches.
#[test]
fn a_foreign_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("notes.txt");
    std::fs::write(&short, "just some notes, not a database\n").unwrap();
    let (ok, text) = inspect(&short, &[]);
    assert!(!ok, "{text}");
    assert!(text.contains("is not a bufpool file"), "{text}");
    assert!(!text.contains("torn extension"), "{text}");

    let long = dir.path().join("table.csv");
    let csv: String = (0..2000).map(|i| format!("{i},row {i}\n")).collect();
    std::fs::write(&long, csv).unwrap();
    let (ok, text) = inspect(&long, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("is not a bufpool file") && text.contains("magic"),
        "{text}"
    );
}

/// Without `--page-size`, `inspect` reads the page size from the first bufpool page header (issue 17): a file of
/// 16 KiB pages whose first page was never written is reported as 16 KiB pages, all valid.
#[test]
fn inspect_detects_the_page_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let pool = BufferPool::builder()
        .frames(16)
        .page_size(16384)
        .io_backend(IoBackend::Pread)
        .build()
        .unwrap();
    let file = pool.open_file(&path).unwrap();
    drop(pool.new_page(file).unwrap());
    for _ in 1..4 {
        pool.new_page(file).unwrap()[0] = 1;
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..16384].fill(0); // page 0 never written
    std::fs::write(&path, &bytes).unwrap();
    let json = dir.path().join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_bufpool"))
        .args(["inspect", path.to_str().unwrap(), "--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["page_size"], 16384);
    assert_eq!(r["valid"], 3);
    assert_eq!(r["never_written"], 1);
}

/// `bufpool inspect --pool LIST` lists a pool's `save_resident` list as `pg_buffercache` lists buffers: one row
/// per page with frame, file, page, dirty, latched and LSN, and a summary per file; a damaged list is an error.
#[test]
fn inspect_pool_lists_a_saved_resident_list() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pool.resident");
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let a = pool
        .open_storage_as(bufpool::FileId(1), bufpool::MemoryStorage::new())
        .unwrap();
    let b = pool
        .open_storage_as(bufpool::FileId(2), bufpool::MemoryStorage::new())
        .unwrap();
    for n in 0..3u64 {
        let mut g = pool.new_page(a).unwrap();
        g.set_lsn(200 + n);
    }
    drop(pool.new_page(b).unwrap());
    pool.checkpoint().unwrap();
    pool.write(bufpool::PageId::new(a, 1)).unwrap().set_lsn(300);
    let held = pool.read(bufpool::PageId::new(b, 0)).unwrap();
    assert_eq!(pool.save_resident(&list).unwrap(), 4);
    drop(held);

    let bin = env!("CARGO_BIN_EXE_bufpool");
    let json = dir.path().join("pool.json");
    let out = Command::new(bin)
        .args([
            "inspect",
            "--pool",
            list.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("resident list version 3, 4 pages"), "{text}");
    // Each file with the identity its pages carry (random per file, from its record).
    let saved = bufpool::read_resident_list(&list).unwrap();
    let identity = |file: u32| saved.files.iter().find(|f| f.file.0 == file).unwrap().identity;
    assert!(identity(1) != 0 && identity(2) != 0 && identity(1) != identity(2));
    assert!(text.contains(&format!("identity   {:08x}", identity(1))), "{text}");
    assert!(text.contains("dirty latched"), "{text}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["version"], 3);
    assert_eq!(r["pages"], 4);
    assert_eq!(
        r["files"][0],
        serde_json::json!({"file": 1, "identity": identity(1), "pages": 3, "dirty": 1, "latched": 0})
    );
    assert_eq!(
        r["files"][1],
        serde_json::json!({"file": 2, "identity": identity(2), "pages": 1, "dirty": 0, "latched": 1})
    );
    let rows: Vec<(u64, u64, bool, bool, u64)> = r["resident"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_u64().unwrap(),
                p["page"].as_u64().unwrap(),
                p["dirty"].as_bool().unwrap(),
                p["latched"].as_bool().unwrap(),
                p["lsn"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, 0, false, false, 200),
            (1, 1, true, false, 300),
            (1, 2, false, false, 202),
            (2, 0, false, true, 0)
        ]
    );
    assert!(r["resident"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["frame"].as_u64().unwrap() < 16));

    // A damaged list: an error, not an empty listing.
    let mut bytes = std::fs::read(&list).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&list, &bytes).unwrap();
    let out = Command::new(bin)
        .args(["inspect", "--pool", list.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resident list"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
