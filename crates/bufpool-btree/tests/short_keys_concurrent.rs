//! Optimistic reads of short keys racing splits and merges (review22: session 21's `SearchKey` and the fence
//! lengths kept in the probe header, `node.rs`). The module header of `node.rs` argues that a probe of a page
//! being changed never panics and never returns a wrong answer (a torn read is caught by the version check and
//! restarted). This races it where session 21 changed it: keys of 0 to 9 bytes over an alphabet with zero bytes
//! (separators and fences of 1 to 9 bytes, keys of exactly 8 and 9 bytes, a key a prefix of another), two writers
//! putting and deleting the churn keys (values of 60 to 400 bytes at 4 KiB pages: leaves and inner nodes split
//! and merge all the time), readers checking `get`, `get_many` and `scan` against what each key may hold.
//!
//! Every value names its key, so a read that returned another key's value, a stable key missed, a key of the
//! wrong range or out of order in a scan, fails. Longer: `BTREE_SHORT_CONC_OPS=200000`.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bufpool_btree::{BufferPool, Tree, TreeWal};

const ALPHABET: [u8; 4] = [0x00, 0x01, b'a', 0xff];

fn ops() -> u64 {
    std::env::var("BTREE_SHORT_CONC_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000)
}

/// Key number `i` of the key space: lengths 0 to 9, the digits of `i` in base 4 over [`ALPHABET`].
fn key_of(i: u64) -> Vec<u8> {
    let len = (common::mix(i) % 10) as usize;
    let mut x = i / 10;
    (0..len)
        .map(|_| {
            let b = ALPHABET[(x % 4) as usize];
            x /= 4;
            b
        })
        .collect()
}

/// Stable keys are loaded first and never changed: every read must find them.
fn stable(key: &[u8]) -> bool {
    let h = key
        .iter()
        .fold(key.len() as u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64));
    common::mix(h).is_multiple_of(3)
}

/// A value naming its key: `len(key) | key | filler`, `len` bytes in all (at least the key's).
fn value(key: &[u8], len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![key.len() as u8];
    v.extend_from_slice(key);
    v.resize(len.max(v.len()), fill);
    v
}

fn names(key: &[u8], v: &[u8]) -> bool {
    v.first() == Some(&(key.len() as u8)) && v.get(1..1 + key.len()) == Some(key)
}

#[test]
fn probes_of_short_keys_racing_splits_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(2048).build().unwrap());
    let wal = TreeWal::open(dir.path().join("tree.wal")).unwrap();
    let tree = Arc::new(Tree::open(pool, wal, dir.path().join("tree.db")).unwrap());
    // The key space: every key once (many numbers give the same short key).
    let mut keys: Vec<Vec<u8>> = (0..40_000).map(key_of).collect();
    keys.sort();
    keys.dedup();
    let keys = Arc::new(keys);
    for k in keys.iter().filter(|k| stable(k)) {
        tree.put(k, &value(k, 250, 1)).unwrap();
    }
    let n_stable = keys.iter().filter(|k| stable(k)).count();
    let ops = ops();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (tree, keys) = (tree.clone(), keys.clone());
            std::thread::spawn(move || {
                let mut x = 0x5eed + w;
                for i in 0..ops {
                    x = common::mix(x);
                    let k = &keys[(x % keys.len() as u64) as usize];
                    if stable(k) {
                        continue;
                    }
                    if (x >> 20) % 3 == 0 {
                        tree.delete(k).unwrap();
                    } else {
                        let len = 60 + ((x >> 32) % 340) as usize;
                        tree.put(k, &value(k, len, i as u8)).unwrap();
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (tree, keys, stop) = (tree.clone(), keys.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut x = 0xbead + r;
                let mut rounds = 0u64;
                while !stop.load(Ordering::Acquire) {
                    rounds += 1;
                    x = common::mix(x);
                    let at = (x % keys.len() as u64) as usize;
                    match (x >> 40) % 3 {
                        0 => {
                            let k = &keys[at];
                            match tree.get(k).unwrap() {
                                Some(v) => assert!(names(k, &v), "get {k:?}: another key's value {v:?}"),
                                None => assert!(!stable(k), "get {k:?}: a stable key missed"),
                            }
                        }
                        1 => {
                            let batch: Vec<&[u8]> =
                                (0..16).map(|j| keys[(at + j * 7) % keys.len()].as_slice()).collect();
                            for (k, v) in batch.iter().zip(tree.get_many(&batch).unwrap()) {
                                match v {
                                    Some(v) => assert!(names(k, &v), "get_many {k:?}: another key's value"),
                                    None => assert!(!stable(k), "get_many {k:?}: a stable key missed"),
                                }
                            }
                        }
                        _ => {
                            let (lo, hi) = (&keys[at], &keys[(at + 200).min(keys.len() - 1)]);
                            let mut last: Option<Vec<u8>> = None;
                            let mut seen_stable = 0;
                            tree.scan(lo.as_slice()..=hi.as_slice(), |k, v| {
                                assert!(k >= lo.as_slice() && k <= hi.as_slice(), "scan: {k:?} out of range");
                                assert!(last.as_deref().is_none_or(|l| l < k), "scan: {k:?} after {last:?}");
                                assert!(names(k, v), "scan {k:?}: another key's value");
                                seen_stable += stable(k) as usize;
                                last = Some(k.to_vec());
                                true
                            })
                            .unwrap();
                            let want = keys[at..=(at + 200).min(keys.len() - 1)]
                                .iter()
                                .filter(|k| stable(k))
                                .count();
                            assert_eq!(seen_stable, want, "scan {lo:?}..={hi:?}: stable keys");
                        }
                    }
                }
                rounds
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Release);
    let rounds: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let stats = tree.check().unwrap();
    let mut n = 0;
    tree.scan(.., |k, v| {
        assert!(names(k, v));
        n += stable(k) as usize;
        true
    })
    .unwrap();
    assert_eq!(n, n_stable);
    eprintln!("{} keys, {rounds} reader rounds, {stats:?}", keys.len());
}
