//! Writes tree logs holding every op kind of main's record format, for checking `decode.py` against the log's own
//! reader: `OUT/all_ops.wal` (a file log: each op of tags 1 to 12, long and short row ops, a record naming more
//! pages than `PREFIX_PAGES`, a cut, so both header slots are valid) and `OUT/bounded.img` (the bytes of a bounded
//! log on a `MemoryStorage` after a switch: records in its second region). For each it prints what
//! `TreeWal::scan` reads: records, the LSN range, and the ops by kind (decode.py counts short and long row ops apart,
//! `OwnedOp` does not).
//!
//! Not built by the workspace: `cp docs/findings/logb32/all_ops.rs crates/bufpool-btree/examples/ && cargo run -p
//! bufpool-btree --example all_ops -- OUT`, then remove the copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use bufpool::storage::MemoryStorage;
use bufpool_btree::{encode_edits, Op, OwnedOp, TreeWal, REGION_MIN};

fn report(name: &str, wal: &TreeWal) {
    let mut kinds = BTreeMap::new();
    let (mut records, mut first) = (0u64, None);
    let end = wal
        .scan(|end, ops| {
            records += 1;
            first.get_or_insert(end);
            for op in ops {
                let kind = match op {
                    OwnedOp::Image(..) => "IMAGE",
                    OwnedOp::Put(..) => "PUT (long or short)",
                    OwnedOp::Del(..) => "DEL (long or short)",
                    OwnedOp::Split(..) => "SPLIT",
                    OwnedOp::Inner(..) => "INNER",
                    OwnedOp::Cut(..) => "CUT",
                    OwnedOp::Written(..) => "WRITTEN",
                    OwnedOp::Taking(..) => "TAKING",
                    OwnedOp::Patch(..) => "PATCH (long or short)",
                };
                *kinds.entry(kind).or_insert(0u64) += 1;
            }
            Ok(())
        })
        .unwrap();
    println!("{name}: {records} records from LSN {} to {end}: {kinds:?}", wal.start_lsn());
}

/// One record of every op kind; row ops on page 3 (short forms, keys sharing prefixes) and page 300 (long forms),
/// and a record of puts on 20 pages (past `PREFIX_PAGES`: the later pages' keys whole).
fn fill(wal: &TreeWal, n: u32) {
    let image = vec![7u8; 1000];
    let mut new = vec![1u8; 40];
    (new[3], new[30]) = (9, 8);
    let mut edits = Vec::new();
    assert!(encode_edits(&[1u8; 40], &new, &mut edits));
    for i in 0..n {
        let k = format!("key-{i:06}");
        let k2 = format!("key-{:06}", i + 1);
        wal.append(&[
            Op::Image { page: 5, bytes: &image },
            Op::Put { page: 3, key: k.as_bytes(), val: b"value" },
            Op::Put { page: 3, key: k2.as_bytes(), val: b"value2" },
            Op::Del { page: 3, key: k.as_bytes() },
            Op::Patch { page: 3, key: k2.as_bytes(), len: 40, edits: &edits },
            Op::Put { page: 300, key: k.as_bytes(), val: b"long form" },
            Op::Del { page: 300, key: k.as_bytes() },
            Op::Patch { page: 300, key: k.as_bytes(), len: 40, edits: &edits },
            Op::Split { page: 6, right: 7, pair: (k.as_bytes(), b"split") },
            Op::Inner { page: 8, sep: b"sep", child: 7 },
            Op::Cut { page: 9, right: 10, sep: b"cut" },
            Op::Written { page: 11, lsn: 42 },
            Op::Taking { page: 12, pages: 256 },
        ])
        .unwrap();
        let keys: Vec<String> = (0..20).map(|p| format!("row-{p:02}-{i:06}")).collect();
        let ops: Vec<Op<'_>> = keys
            .iter()
            .enumerate()
            .flat_map(|(p, k)| {
                [
                    Op::Put { page: p as u32, key: k.as_bytes(), val: b"v" },
                    Op::Del { page: p as u32, key: k.as_bytes() },
                ]
            })
            .collect();
        wal.append(&ops).unwrap();
    }
    wal.commit().unwrap();
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: all_ops OUT"));
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("all_ops.wal");
    let _ = std::fs::remove_file(&path);
    {
        let wal = TreeWal::open(&path).unwrap();
        fill(&wal, 10);
        let cut = wal.end_lsn();
        fill(&wal, 200);
        wal.truncate_before(cut).unwrap();
        report("all_ops.wal", &wal);
    }
    // A bounded log: filled past half its region, then cut near its end, so a switch copies the tail into the
    // other region and the header names that one.
    let dev = Arc::new(MemoryStorage::new());
    {
        let wal = TreeWal::open_storage_with_capacity(dev.clone(), 8192 + 2 * REGION_MIN).unwrap();
        while wal.end_lsn() < REGION_MIN * 6 / 10 {
            fill(&wal, 1);
        }
        let cut = wal.end_lsn();
        fill(&wal, 3);
        wal.truncate_before(cut).unwrap();
        fill(&wal, 2);
        report("bounded.img", &wal);
    }
    std::fs::write(out.join("bounded.img"), dev.snapshot()).unwrap();
}
