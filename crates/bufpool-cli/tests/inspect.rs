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
