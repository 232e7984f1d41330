//! Reads from remembered leaves and scans whose first leaf comes from its parent searched in place (session 22's
//! `cpu22`: `Tree::get_at_hint`, `descend_path(.., stop_at_parent)`, `RangeIter::fill`) racing splits and merges
//! of leaves and their parents, in two trees of one pool (review23). Writers put and delete churn keys with
//! values of 100 to 600 bytes at 4 KiB pages, so leaves and inner nodes split, merge and are freed and reused all
//! the time, in both trees; readers of tree A keep a hint per key, given back to every read, some of them from
//! tree B (another tree's leaves, freed and reused there), and scan short and long ranges from random starts; a
//! batcher reads batches of neighbouring keys at hints (`Tree::get_many_at_hints`, session 23's `cpu23`), each
//! key given its own last leaf, a neighbour's, tree B's or none (review24); a second scanner starts its scans at
//! kept hints (`Tree::scan_from`, session 44), some of them tree B's, and stops some of them after a few rows.
//!
//! The model is exact: each churn key has one writer, which publishes the version it is about to apply
//! (`started`) and the one it has applied (`done`); version `v`'s op is a put of `value(id, v)` or a delete,
//! decided by `v`. A read of a key (alone or in a scan) taken between a load of `done` before it and of `started`
//! after it must return a state of some version in that window: the value of a put version, or nothing for a
//! delete version (version 0: never written). Stable keys are loaded first and never change: always found, with
//! their value. Longer: `BTREE_HINT_SCAN_OPS=200000`.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Tree, TreeWal};

use crate::common::mix;

const KEYS: u64 = 6000;
const WRITERS: u64 = 2;

fn ops() -> u64 {
    std::env::var("BTREE_HINT_SCAN_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Every third key is stable; the others belong to writer `id % 3 - 1`.
fn stable(id: u64) -> bool {
    id.is_multiple_of(3)
}

/// Version `ver` (from 1) of churn key `id` puts a value (else deletes it).
fn puts(id: u64, ver: u64) -> bool {
    ver > 0 && !mix(id ^ ver.rotate_left(17)).is_multiple_of(3)
}

/// The value of `id` at version `ver`: names both, 100 to 600 bytes.
fn value(id: u64, ver: u64) -> Vec<u8> {
    let len = 100 + (mix(id.wrapping_mul(31) ^ ver) % 500) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ver.to_le_bytes());
    v.resize(len, (mix(id ^ ver) & 0xff) as u8);
    v
}

/// What a key may read between its writer's `done` before the read and `started` after it.
struct Versions {
    started: Vec<AtomicU64>,
    done: Vec<AtomicU64>,
}

impl Versions {
    fn new() -> Versions {
        Versions {
            started: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
            done: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// `Err` naming what is wrong if `got` is not a state of `id` at a version in `lo..=hi`.
    fn check(&self, id: u64, got: Option<&[u8]>, lo: u64, hi: u64, what: &str) -> Result<(), String> {
        if stable(id) {
            return match got {
                Some(v) if v == value(id, 0) => Ok(()),
                _ => Err(format!("{what}: stable key {id} read {:?} bytes", got.map(<[u8]>::len))),
            };
        }
        match got {
            None if (lo..=hi).any(|v| !puts(id, v)) => Ok(()),
            None => Err(format!(
                "{what}: key {id} missing, every version in {lo}..={hi} puts it"
            )),
            Some(v) => {
                let named = v.len() >= 16 && v[..8] == id.to_le_bytes();
                let ver = if named {
                    u64::from_le_bytes(v[8..16].try_into().unwrap())
                } else {
                    u64::MAX
                };
                if named && (lo..=hi).contains(&ver) && puts(id, ver) && v == value(id, ver) {
                    Ok(())
                } else {
                    Err(format!(
                        "{what}: key {id} read version {ver} (named: {named}), allowed {lo}..={hi}"
                    ))
                }
            }
        }
    }

    /// Panics naming what is wrong unless `got`, a scan's rows of ids `first..end` read between the versions `lo`
    /// (done before it, indexed from id `start`) and `hi` (started after it), holds a state of each id in its
    /// window, in order and nothing else. A scan its callback stopped after `stop_after` rows is checked up to its
    /// last row.
    fn check_scan(
        &self,
        got: &[(u64, Vec<u8>)],
        (start, first, end): (u64, u64, u64),
        lo: &[u64],
        hi: &[u64],
        stop_after: usize,
        what: &str,
    ) {
        let mut at = got.iter().peekable();
        let last = got.last().map(|(k, _)| *k);
        for id in first..end {
            if got.len() >= stop_after && last.is_some_and(|l| id > l) {
                break;
            }
            let i = (id - start) as usize;
            let found = at.next_if(|(k, _)| *k == id).map(|(_, v)| v.as_slice());
            self.check(id, found, lo[i], hi[i], what).unwrap();
        }
        assert!(
            at.next().is_none(),
            "{what}: keys out of order or out of range: {:?}",
            got.iter().map(|(k, _)| *k).collect::<Vec<_>>()
        );
    }
}

fn open(dir: &std::path::Path, pool: &Arc<BufferPool>, name: &str) -> Tree {
    let wal = TreeWal::open(dir.join(format!("{name}.wal"))).unwrap();
    Tree::open(pool.clone(), wal, dir.join(format!("{name}.db"))).unwrap()
}

fn writer(tree: &Tree, versions: &Versions, w: u64, ops: u64, seed: u64) {
    let mine: Vec<u64> = (0..KEYS).filter(|id| id % 3 == w + 1).collect();
    for n in 0..ops {
        // Runs of neighbouring keys, so whole leaves fill and empty (splits, then merges up the tree).
        let base = mix(seed ^ (n / 64)) as usize % mine.len();
        let id = mine[(base + (n % 64) as usize) % mine.len()];
        let ver = versions.started[id as usize].load(SeqCst) + 1;
        versions.started[id as usize].store(ver, SeqCst);
        if puts(id, ver) {
            tree.put(&key(id), &value(id, ver)).unwrap();
        } else {
            tree.delete(&key(id)).unwrap();
        }
        versions.done[id as usize].store(ver, SeqCst);
        if n % 512 == 0 {
            tree.commit().unwrap();
        }
    }
}

#[test]
fn hinted_reads_and_scans_racing_splits_and_merges_in_two_trees_match_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(512).build().unwrap());
    let a = open(dir.path(), &pool, "a");
    let b = open(dir.path(), &pool, "b");
    let (va, vb) = (Versions::new(), Versions::new());
    for tree in [&a, &b] {
        for id in (0..KEYS).filter(|&id| stable(id)) {
            tree.put(&key(id), &value(id, 0)).unwrap();
        }
        tree.commit().unwrap();
    }
    let ops = ops();
    let stop = AtomicBool::new(false);
    let (reads, scans, batches) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    // Tree B's hints, for tree A's readers to be given (another tree's leaves: ignored).
    let foreign: Vec<LeafHint> = (0..KEYS)
        .step_by(7)
        .map(|id| {
            let mut h = LeafHint::default();
            b.get_hinted(&key(id), &mut h, |_| ()).unwrap();
            h
        })
        .collect();
    std::thread::scope(|s| {
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (a, b, va, vb) = (&a, &b, &va, &vb);
            writers.push(s.spawn(move || writer(a, va, w, ops, 11 + w)));
            writers.push(s.spawn(move || writer(b, vb, w, ops / 2, 101 + w)));
        }
        // Hinted reads: one hint per key, kept across reads (stale after the leaf splits, merges or is reused).
        let reader = s.spawn(|| {
            let mut hints = vec![LeafHint::default(); KEYS as usize];
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n += 1;
                let id = mix(n ^ 0x5eed) % KEYS;
                let mut hint = if n.is_multiple_of(5) {
                    foreign[(n / 5) as usize % foreign.len()]
                } else {
                    hints[id as usize]
                };
                let lo = va.done[id as usize].load(SeqCst);
                let got = a.get_at_hint(&key(id), &mut hint, |v| v.map(<[u8]>::to_vec)).unwrap();
                let hi = va.started[id as usize].load(SeqCst);
                va.check(id, got.as_deref(), lo, hi, "get_at_hint").unwrap();
                hints[id as usize] = hint;
                reads.fetch_add(1, SeqCst);
            }
        });
        // Scans from random starts: most end in their first leaf (found through its parent, searched in place).
        let scanner = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n += 1;
                let start = mix(n ^ 0xca7) % KEYS;
                let span = if n.is_multiple_of(8) { 300 } else { 1 + mix(n) % 12 };
                let end = (start + span).min(KEYS);
                let lo: Vec<u64> = (start..end).map(|id| va.done[id as usize].load(SeqCst)).collect();
                let (from, to) = (key(start), key(end));
                let excluded = n.is_multiple_of(3);
                let lower = if excluded {
                    Bound::Excluded(&from[..])
                } else {
                    Bound::Included(&from[..])
                };
                let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
                if n.is_multiple_of(2) {
                    a.scan((lower, Bound::Excluded(&to[..])), |k, v| {
                        got.push((u64::from_be_bytes(k.try_into().unwrap()), v.to_vec()));
                        true
                    })
                    .unwrap();
                } else {
                    for kv in a.range((lower, Bound::Excluded(&to[..]))) {
                        let (k, v) = kv.unwrap();
                        got.push((u64::from_be_bytes(k[..].try_into().unwrap()), v));
                    }
                }
                let hi: Vec<u64> = (start..end).map(|id| va.started[id as usize].load(SeqCst)).collect();
                let first = if excluded { start + 1 } else { start };
                let what = format!("scan {start}..{end} (excluded start: {excluded})");
                va.check_scan(&got, (start, first, end), &lo, &hi, usize::MAX, &what);
                scans.fetch_add(1, SeqCst);
            }
        });
        // Scans from hinted leaves (`Tree::scan_from`, session 44's `perf44`: Delivery's scans start at the first
        // leaf of the district's last scan): a hint kept per neighbourhood of starts, stale as leaves split, merge
        // and are freed and reused; every fifth scan at tree B's hint (ignored). The rows come out of each leaf
        // 16 at first, then all of a leaf's at a time (`node::leaf_rows`), the leaf read again past the 16th.
        let hinted_scanner = s.spawn(|| {
            let mut kept = vec![LeafHint::default(); (KEYS / 50) as usize + 1];
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n += 1;
                let r = mix(n ^ 0x4e57);
                let start = r % KEYS;
                let span = if n.is_multiple_of(4) {
                    1 + (r >> 20) % 300
                } else {
                    1 + (r >> 20) % 20
                };
                let end = (start + span).min(KEYS);
                let stop_after = if n.is_multiple_of(3) {
                    1 + (r >> 40) as usize % 40
                } else {
                    usize::MAX
                };
                let lo: Vec<u64> = (start..end).map(|id| va.done[id as usize].load(SeqCst)).collect();
                let (from, to) = (key(start), key(end));
                let slot = (start / 50) as usize;
                let mut hint = if n.is_multiple_of(5) {
                    foreign[(n / 5) as usize % foreign.len()]
                } else {
                    kept[slot]
                };
                let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
                a.scan_from(&from[..]..&to[..], &mut hint, |k, v, _| {
                    got.push((u64::from_be_bytes(k.try_into().unwrap()), v.to_vec()));
                    got.len() < stop_after
                })
                .unwrap();
                kept[slot] = hint;
                let hi: Vec<u64> = (start..end).map(|id| va.started[id as usize].load(SeqCst)).collect();
                let what = format!("scan_from {start}..{end} (stop after {stop_after})");
                va.check_scan(&got, (start, start, end), &lo, &hi, stop_after, &what);
                scans.fetch_add(1, SeqCst);
            }
        });
        // Batches at hints (`Tree::get_many_at_hints`, session 23's `cpu23`: TPC-C's ITEM and STOCK batches):
        // neighbouring keys in any order, repeats among them, each given the hint of its own last answer, of a
        // neighbour's (`NearHints`), of tree B, or none, whole values or the version's bytes only (review24).
        let batcher = s.spawn(|| {
            let mut hints = vec![LeafHint::default(); KEYS as usize];
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n += 1;
                let r = mix(n ^ 0xba7c);
                let len = 1 + (r % 24) as usize;
                let step = 1 + (r >> 8) % 3;
                let first = (r >> 16) % KEYS;
                let mut ids: Vec<u64> = (0..len as u64).map(|j| (first + j * step) % KEYS).collect();
                if n.is_multiple_of(2) {
                    ids.reverse();
                }
                if n.is_multiple_of(7) && len > 2 {
                    ids[len - 1] = ids[0];
                }
                let given: Vec<LeafHint> = (ids.iter().enumerate())
                    .map(|(j, &id)| match (mix(n ^ j as u64)) % 6 {
                        0 => foreign[(n as usize + j) % foreign.len()],
                        1 => LeafHint::default(),
                        // A neighbour's leaf, as `NearHints` gives.
                        2 => hints[((id + 1) % KEYS) as usize],
                        _ => hints[id as usize],
                    })
                    .collect();
                // Sometimes fewer hints than keys: the rest have none.
                let given = &given[..if n.is_multiple_of(5) { len / 2 } else { len }];
                let keys: Vec<[u8; 8]> = ids.iter().map(|&id| key(id)).collect();
                let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
                let whole = !n.is_multiple_of(3);
                let part = if whole { 0..usize::MAX } else { 8..16 };
                let lo: Vec<u64> = ids.iter().map(|&id| va.done[id as usize].load(SeqCst)).collect();
                let mut got: Vec<Option<Option<Vec<u8>>>> = vec![None; len];
                a.get_many_at_hints(&refs, given, part, |i, v, hint| {
                    assert!(got[i].is_none(), "batch {n}: key {i} answered twice");
                    got[i] = Some(v.map(<[u8]>::to_vec));
                    hints[ids[i] as usize] = hint;
                })
                .unwrap();
                let hi: Vec<u64> = ids.iter().map(|&id| va.started[id as usize].load(SeqCst)).collect();
                for (j, &id) in ids.iter().enumerate() {
                    let what = format!("get_many_at_hints (batch {n}, key {j} of {len}, whole: {whole})");
                    let v = got[j]
                        .as_ref()
                        .unwrap_or_else(|| panic!("{what}: key {id} not answered"));
                    if whole {
                        va.check(id, v.as_deref(), lo[j], hi[j], &what).unwrap();
                    } else {
                        // The version's 8 bytes: the value of that version, which must be in the window.
                        let full = v.as_ref().map(|v| {
                            let ver = u64::from_le_bytes(v[..].try_into().expect("8 bytes of the version"));
                            if stable(id) {
                                assert_eq!(ver, 0, "{what}: stable key {id}");
                            }
                            value(id, ver)
                        });
                        va.check(id, full.as_deref(), lo[j], hi[j], &what).unwrap();
                    }
                }
                batches.fetch_add(1, SeqCst);
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, SeqCst);
        reader.join().unwrap();
        scanner.join().unwrap();
        hinted_scanner.join().unwrap();
        batcher.join().unwrap();
    });
    let (reads, scans, batches) = (reads.load(SeqCst), scans.load(SeqCst), batches.load(SeqCst));
    eprintln!(
        "{reads} hinted reads, {scans} scans and {batches} batches at hints raced {} writes",
        ops * WRITERS * 3 / 2
    );
    assert!(reads > 0 && scans > 0 && batches > 0);
    // Quiescent: every key of both trees reads its last version, and the trees check clean.
    for (tree, v) in [(&a, &va), (&b, &vb)] {
        for id in 0..KEYS {
            let ver = v.done[id as usize].load(SeqCst);
            let got = tree.get(&key(id)).unwrap();
            v.check(id, got.as_deref(), ver, ver, "after").unwrap();
        }
        let stats = tree.check().unwrap();
        assert!(
            stats.depth >= 3,
            "{} levels: no parent above the leaves' parents",
            stats.depth
        );
    }
}
