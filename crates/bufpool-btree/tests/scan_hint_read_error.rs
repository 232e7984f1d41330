//! A scan from a stale hint whose page cannot be read (review45, R45-1).
//!
//! `Tree::scan_from` (session 44's `perf44`) reads the leaf a hint names before it descends: a hint is checked,
//! never trusted. TPC-C keeps one per district (`ScanStarts`) across transactions, and a scan that reads no leaf
//! leaves it as it was. The hinted leaf here was merged away and freed since the hint was taken, and its page has
//! a bad sector (every read of it fails with EIO): the tree no longer names the page, so `scan` and every other
//! operation work, but `scan_from` with the kept hint read the page first and returned the error, every time
//! (the hint stays, so each later scan from it failed too). `get_at_hint` and `latch_leaf` leave a page they
//! cannot read to the descent, which reports what it meets; `scan_from` now does the same.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::policy::PolicyKind;
use bufpool::storage::{MemoryStorage, Storage};
use bufpool_btree::{BufferPool, LeafHint, Tree, TreeWal};

use crate::common::hooked::{Hooked, Hooks};

/// Reads that touch page `bad` (4 KiB pages; `u64::MAX`: none) fail with EIO; `failed` counts them.
struct BadSector {
    bad: AtomicU64,
    failed: AtomicU64,
}

impl Hooks for BadSector {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let bad = self.bad.load(SeqCst);
        let (from, to) = (offset / 4096, (offset + buf.len() as u64).div_ceil(4096));
        if (from..to).contains(&bad) {
            self.failed.fetch_add(1, SeqCst);
            return Err(io::Error::from_raw_os_error(5));
        }
        below.read_at(buf, offset)
    }
}

fn key(i: u32) -> [u8; 6] {
    let mut k = *b"k\0\0\0\0\0";
    k[1..5].copy_from_slice(&i.to_be_bytes());
    k
}

fn rows(tree: &Tree, from: u32, to: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut got = Vec::new();
    tree.scan(&key(from)[..]..&key(to)[..], |k, v| {
        got.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    got
}

#[test]
fn a_scan_from_a_freed_leaf_it_cannot_read_descends() {
    let hooks = Arc::new(BadSector {
        bad: AtomicU64::new(u64::MAX),
        failed: AtomicU64::new(0),
    });
    let data = Arc::new(MemoryStorage::new());
    // A pool far smaller than the tree, evicting in order of loading (FIFO: a scan-resistant policy may keep the
    // freed page), so the freed page leaves it and its next read goes to the storage.
    let pool = Arc::new(
        BufferPool::builder()
            .frames(16)
            .policy(PolicyKind::Fifo)
            .build()
            .unwrap(),
    );
    let wal = TreeWal::open_storage(Arc::new(MemoryStorage::new())).unwrap();
    let tree = Tree::open_storage(pool, wal, Hooked::new(data, hooks.clone())).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..4000u32 {
        let v = vec![i as u8; 100];
        tree.put(&key(i), &v).unwrap();
        model.insert(key(i).to_vec(), v);
    }
    tree.commit().unwrap();
    // The hint: the first leaf of a scan in the middle of the keys.
    let mut hint = LeafHint::default();
    tree.scan_from(&key(2000)[..]..&key(2010)[..], &mut hint, |_, _, _| true)
        .unwrap();
    let stale = hint.page().expect("the scan read a leaf");
    // Its leaf and the ones around it emptied: merged away, the page freed (the tree no longer names it).
    for i in 1500..2500u32 {
        assert!(tree.delete(&key(i)).unwrap());
        model.remove(&key(i)[..]);
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    let mut now = LeafHint::default();
    tree.scan_from(&key(2000)[..]..&key(2600)[..], &mut now, |_, _, _| true)
        .unwrap();
    assert_ne!(
        now.page(),
        Some(stale),
        "the hinted leaf still covers the range's start"
    );
    // Every page read again from the storage (the pool's 16 frames hold none of the leaves around it).
    let all = rows(&tree, 0, 4000);
    assert_eq!(all.len(), model.len());
    // (Checked now: `Tree::check` walks the free list, the freed page too.)
    tree.check().unwrap();
    // The freed page's sector goes bad: nothing of the tree is on it.
    hooks.bad.store(u64::from(stale), SeqCst);
    let want: Vec<(Vec<u8>, Vec<u8>)> = model
        .range(key(1990).to_vec()..key(2600).to_vec())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(rows(&tree, 1990, 2600), want, "a scan without the hint");
    assert_eq!(hooks.failed.load(SeqCst), 0, "the tree read the freed page");
    for round in 0..3 {
        let mut got = Vec::new();
        let mut kept = hint;
        tree.scan_from(&key(1990)[..]..&key(2600)[..], &mut kept, |k, v, _| {
            got.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap_or_else(|e| {
            panic!("round {round}: a scan from a hint to freed page {stale}, which the tree no longer names: {e}")
        });
        assert_eq!(got, want, "round {round}: the scan from the stale hint");
        assert_ne!(
            kept.page(),
            Some(stale),
            "round {round}: the hint still names the freed page"
        );
    }
    assert!(
        hooks.failed.load(SeqCst) > 0,
        "no scan read the freed page: it stayed in the pool"
    );
}
