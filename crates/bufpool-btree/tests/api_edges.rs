//! The public API at its edges, as a user could call it (the review of round 10, R10B in RELIABILITY.md): each
//! test asks what the docs promise for one combination the other tests never walked, and checks it.
//!
//! - keys: the empty key; a key and a value at exactly the limit and one past it, in every call that takes one
//!   (typed error, nothing lost); a range bound longer than any key;
//! - `delete` of a missing key (empty tree, absent key, twice); one key rewritten with growing and shrinking
//!   values next to others until leaves split and merge;
//! - `range` / `scan` with reversed or empty bounds, `Excluded` on both ends of one key, and every mix of
//!   `Included` / `Excluded` / `Unbounded` against a model;
//! - `get_many` with duplicate keys in any order;
//! - `bulk_load` refusals (below the tree, unsorted, duplicate, a key too long in the middle): typed error, tree
//!   unchanged, pages given back;
//! - a tree opened twice (in a second pool, in the same pool), or with another page size: typed error, the
//!   tree unharmed;
//! - two trees in one pool, closed and reopened in turn so that file ids are reused: contents never mix.
//!
//! A tree and its scans: `RangeIter<'t>` borrows the tree, so dropping a tree with a live iterator does not
//! compile (nothing to test at run time); `scan` holds its walk inside the call.

use crate::common;

use std::collections::BTreeMap;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::Arc;

use bufpool_btree::{open_dir, open_dir_in, BufferPool, Error, Options, Tree, WAL_FILE};

fn opts(frames: usize) -> Options {
    Options {
        frames,
        page_size: 4096,
    }
}

fn all(tree: &Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    tree.range::<std::ops::RangeFull>(..).map(Result::unwrap).collect()
}

#[test]
fn the_empty_key_is_a_key_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    assert_eq!(tree.get(b"").unwrap(), None);
    assert!(!tree.delete(b"").unwrap());
    tree.put(b"", b"empty").unwrap();
    tree.put(b"\0", b"nul").unwrap();
    tree.put(b"a", b"a").unwrap();
    assert_eq!(tree.get(b"").unwrap().as_deref(), Some(&b"empty"[..]));
    let first: Vec<_> = tree.range(..=&b""[..]).map(Result::unwrap).collect();
    assert_eq!(first, vec![(b"".to_vec(), b"empty".to_vec())]);
    let after: Vec<_> = tree
        .range((Excluded(&b""[..]), Unbounded))
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(after, vec![b"\0".to_vec(), b"a".to_vec()]);
    assert_eq!(tree.range(..&b""[..]).count(), 0);
    // Among many keys, through splits: still first, found, and deletable.
    for i in 0..3000u32 {
        tree.put(&i.to_be_bytes(), &[7u8; 100]).unwrap();
    }
    assert!(tree.check().unwrap().depth > 1);
    assert_eq!(tree.get(b"").unwrap().as_deref(), Some(&b"empty"[..]));
    assert_eq!(tree.range::<std::ops::RangeFull>(..).next().unwrap().unwrap().0, b"");
    assert!(tree.delete(b"").unwrap());
    assert_eq!(tree.get(b"").unwrap(), None);
    tree.check().unwrap();
}

#[test]
fn limits_hold_in_every_call_and_a_refusal_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    let l = tree.limits();
    let max_key = vec![b'k'; l.max_key];
    let long_key = vec![b'k'; l.max_key + 1];
    let max_val = vec![b'v'; l.max_value];
    let long_val = vec![b'v'; l.max_value + 1];
    tree.put(&max_key, &max_val).unwrap();
    tree.put(b"other", b"x").unwrap();
    let key_err = |r: Result<(), Error>| {
        assert!(
            matches!(r, Err(Error::KeyTooLong { len, max }) if len == l.max_key + 1 && max == l.max_key),
            "{r:?}"
        )
    };
    key_err(tree.put(&long_key, b"v"));
    key_err(tree.put(&long_key, &long_val));
    key_err(tree.delete(&long_key).map(drop));
    key_err(tree.get(&long_key).map(drop));
    key_err(tree.get_with(&long_key, |_| ()));
    key_err(tree.get_many(&[b"other", &long_key]).map(drop));
    let r = tree.put(&max_key, &long_val);
    assert!(
        matches!(r, Err(Error::ValueTooLong { len, max }) if len == l.max_value + 1 && max == l.max_value),
        "{r:?}"
    );
    // The refused calls changed nothing.
    assert_eq!(tree.get(&max_key).unwrap().as_deref(), Some(&max_val[..]));
    assert_eq!(all(&tree).len(), 2);
    // A range bound longer than any key is only a bound.
    let from_long: Vec<_> = tree.range(&long_key[..]..).map(|r| r.unwrap().0).collect();
    assert_eq!(from_long, vec![b"other".to_vec()]);
    let mut n = 0;
    tree.scan(..&long_key[..], |_, _| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 1);
    // In a bulk load: a key or value past the limit in the middle refuses the whole load.
    let dir2 = tempfile::tempdir().unwrap();
    let empty = common::open(dir2.path(), 64);
    let pages = empty.pool().file_pages(empty.file()).unwrap();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..500u32)
        .map(|i| (i.to_be_bytes().to_vec(), vec![1u8; 200]))
        .collect();
    pairs[300].1 = long_val.clone();
    let r = empty.bulk_load(pairs.iter().map(|(k, v)| (k, v)));
    assert!(matches!(r, Err(Error::ValueTooLong { .. })), "{r:?}");
    pairs[300].1 = vec![1u8; 200];
    let mut long_at = pairs.clone();
    long_at[400].0 = [&399u32.to_be_bytes()[..], &vec![0xff; l.max_key][..]].concat();
    let r = empty.bulk_load(long_at.iter().map(|(k, v)| (k, v)));
    assert!(matches!(r, Err(Error::KeyTooLong { .. })), "{r:?}");
    assert_eq!(empty.check().unwrap().entries, 0);
    // The refused loads' pages went back: a good load reuses them.
    assert_eq!(empty.bulk_load(pairs.iter().map(|(k, v)| (k, v))).unwrap(), 500);
    let st = empty.check().unwrap();
    assert_eq!(st.entries, 500);
    assert!(
        empty.pool().file_pages(empty.file()).unwrap() <= pages + st.leaves as u32 + st.inner_nodes as u32 + 1,
        "pages leaked by the refused loads"
    );
}

#[test]
fn delete_of_a_missing_key() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    assert!(!tree.delete(b"nothing").unwrap());
    tree.put(b"b", b"1").unwrap();
    assert!(!tree.delete(b"a").unwrap());
    assert!(!tree.delete(b"c").unwrap());
    assert!(tree.delete(b"b").unwrap());
    assert!(!tree.delete(b"b").unwrap());
    assert_eq!(tree.check().unwrap().entries, 0);
}

/// One key rewritten with values growing to the limit and shrinking to nothing, among neighbours of mixed size:
/// each growth may split its leaf, each shrink may merge or even it out. The model and the invariants hold after
/// every step.
#[test]
fn one_key_growing_and_shrinking_splits_and_merges_its_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    let max = tree.limits().max_value;
    let mut model = BTreeMap::new();
    for i in 0..40u32 {
        let v = vec![i as u8; 100 + (i as usize * 37) % 700];
        tree.put(&i.to_be_bytes(), &v).unwrap();
        model.insert(i.to_be_bytes().to_vec(), v);
    }
    let (mut splits, mut merges) = (0, 0);
    for round in 0..60usize {
        let k = ((round * 7) % 40) as u32;
        let len = if round % 2 == 0 { max - round } else { round % 3 };
        let before = tree.check().unwrap().leaves;
        let v = vec![round as u8; len];
        tree.put(&k.to_be_bytes(), &v).unwrap();
        model.insert(k.to_be_bytes().to_vec(), v);
        // A shrink alone never merges (only deletes do): delete and re-put a neighbour to give it the chance.
        let n = (k + 1) % 40;
        assert!(tree.delete(&n.to_be_bytes()).unwrap());
        tree.put(&n.to_be_bytes(), &model[&n.to_be_bytes().to_vec()]).unwrap();
        let after = tree.check().unwrap();
        splits += usize::from(after.leaves > before);
        merges += usize::from(after.leaves < before);
        assert_eq!(after.entries, 40);
        let got: BTreeMap<_, _> = all(&tree).into_iter().collect();
        assert_eq!(got, model, "round {round}");
    }
    assert!(splits > 0 && merges > 0, "splits {splits}, merges {merges}");
}

/// Every bound kind on both ends, with ends before, on, between and after keys, and reversed: `range` and `scan`
/// return exactly what `BTreeMap::range` would (which panics on reversed ranges; the tree returns nothing).
#[test]
fn range_and_scan_bounds_against_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    let mut model = BTreeMap::new();
    for i in (0..600u32).step_by(3) {
        let k = (i * 1000).to_be_bytes().to_vec();
        tree.put(&k, &[1u8; 150]).unwrap();
        model.insert(k, vec![1u8; 150]);
    }
    assert!(tree.check().unwrap().leaves > 5);
    let points: Vec<Vec<u8>> = [0u32, 1, 3000, 3001, 299_000, 300_000, 597_000, 597_001, u32::MAX]
        .iter()
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    let bound = |kind: usize, k: &[u8]| -> Bound<Vec<u8>> {
        match kind {
            0 => Included(k.to_vec()),
            1 => Excluded(k.to_vec()),
            _ => Unbounded,
        }
    };
    let mut cases = 0;
    for a in &points {
        for b in &points {
            for (ka, kb) in (0..3).flat_map(|x| (0..3).map(move |y| (x, y))) {
                let (lo, hi) = (bound(ka, a), bound(kb, b));
                let want: Vec<Vec<u8>> = if reversed_or_empty(&lo, &hi) {
                    Vec::new()
                } else {
                    model
                        .range::<Vec<u8>, _>((lo.clone(), hi.clone()))
                        .map(|(k, _)| k.clone())
                        .collect()
                };
                let r = (as_ref(&lo), as_ref(&hi));
                let got: Vec<Vec<u8>> = tree.range(r).map(|p| p.unwrap().0).collect();
                assert_eq!(got, want, "range {lo:?}..{hi:?}");
                let mut scanned = Vec::new();
                tree.scan(r, |k, _| {
                    scanned.push(k.to_vec());
                    true
                })
                .unwrap();
                assert_eq!(scanned, want, "scan {lo:?}..{hi:?}");
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 9 * 9 * 9);
    // Excluded on both ends of one key, present or not: nothing. Included on both: that key alone.
    let k = 3000u32.to_be_bytes();
    assert_eq!(tree.range((Excluded(&k[..]), Excluded(&k[..]))).count(), 0);
    assert_eq!(tree.range((Included(&k[..]), Excluded(&k[..]))).count(), 0);
    assert_eq!(tree.range((Excluded(&k[..]), Included(&k[..]))).count(), 0);
    assert_eq!(tree.range(&k[..]..=&k[..]).count(), 1);
    // A scan stopped by its callback stops.
    let mut seen = 0;
    tree.scan(.., |_, _| {
        seen += 1;
        seen < 5
    })
    .unwrap();
    assert_eq!(seen, 5);
}

/// The ranges `BTreeMap::range` refuses (start after end, or equal with an exclusion on either side... both
/// excluded): empty.
fn reversed_or_empty(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Included(a) | Excluded(a), Included(b) | Excluded(b)) if a > b => true,
        (Excluded(a), Excluded(b)) if a == b => true,
        _ => false,
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Included(k) => Included(k.as_slice()),
        Excluded(k) => Excluded(k.as_slice()),
        Unbounded => Unbounded,
    }
}

#[test]
fn get_many_with_duplicates_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    for i in (0..2000u32).step_by(2) {
        tree.put(&i.to_be_bytes(), &i.to_le_bytes()).unwrap();
    }
    let ids: Vec<u32> = vec![1998, 0, 7, 0, 1998, 1000, 1001, 1000, 0, 5000, 3, 3, 2, 2, 2];
    let keys: Vec<[u8; 4]> = ids.iter().map(|i| i.to_be_bytes()).collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let got = tree.get_many(&refs).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let want = (id % 2 == 0 && *id < 2000).then(|| id.to_le_bytes().to_vec());
        assert_eq!(got[i], want, "index {i}, id {id}");
    }
    let mut calls = vec![0; ids.len()];
    tree.get_many_hinted(&refs, |i, _, _| calls[i] += 1).unwrap();
    assert!(calls.iter().all(|&c| c == 1), "{calls:?}");
    assert!(tree.get_many(&[]).unwrap().is_empty());
}

#[test]
fn bulk_load_refusals_leave_the_tree_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 64);
    let pair = |i: u32| (i.to_be_bytes(), [9u8; 200]);
    assert_eq!(tree.bulk_load((0..1000).step_by(2).map(pair)).unwrap(), 500);
    let before = all(&tree);
    let pages = tree.pool().file_pages(tree.file()).unwrap();
    // Below or among the tree's keys.
    for below in [0, 501, 997, 998] {
        let r = tree.bulk_load([pair(below), pair(5000)]);
        assert!(matches!(r, Err(Error::NotAbove)), "{below}: {r:?}");
    }
    // Unsorted after many good pairs (pages were built), and a duplicate.
    let mut keys: Vec<u32> = (1000..3000).collect();
    keys.swap(1500, 1501);
    let r = tree.bulk_load(keys.iter().map(|&i| pair(i)));
    assert!(matches!(r, Err(Error::Unsorted { index: 1501 })), "{r:?}");
    let mut keys: Vec<u32> = (1000..3000).collect();
    keys[1700] = keys[1699];
    let r = tree.bulk_load(keys.iter().map(|&i| pair(i)));
    assert!(matches!(r, Err(Error::Unsorted { index: 1700 })), "{r:?}");
    assert_eq!(all(&tree), before);
    tree.check().unwrap();
    // The refused loads' pages are reused by the next load rather than leaked.
    assert_eq!(tree.bulk_load((1000..3000).map(pair)).unwrap(), 2000);
    let st = tree.check().unwrap();
    assert_eq!(st.entries, 2500);
    let used = 1 + st.leaves + st.inner_nodes + st.free_pages;
    assert!(
        (tree.pool().file_pages(tree.file()).unwrap() as usize) < used + 16,
        "{pages} pages before, {st:?}"
    );
}

/// A tree already open is refused with a typed error by a second open (another pool, or the same pool), and the
/// first tree goes on unharmed: its later commits survive a reopen.
#[test]
fn a_tree_opened_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = open_dir(dir.path(), opts(64)).unwrap();
    for i in 0..500u32 {
        tree.put(&i.to_be_bytes(), &[1u8; 100]).unwrap();
    }
    tree.commit().unwrap();
    // Refused at the tree's log, which it locks before it reads it (R13-1), in the same pool as in another.
    let r = open_dir(dir.path(), opts(64));
    assert!(
        matches!(&r, Err(Error::Pool(bufpool::Error::FileLocked { path })) if path.ends_with(WAL_FILE)),
        "second pool: {r:?}"
    );
    let r = open_dir_in(tree.pool().clone(), dir.path());
    assert!(
        matches!(&r, Err(Error::Pool(bufpool::Error::FileLocked { path })) if path.ends_with(WAL_FILE)),
        "same pool: {r:?}"
    );
    for i in 500..1000u32 {
        tree.put(&i.to_be_bytes(), &[2u8; 100]).unwrap();
    }
    tree.commit().unwrap();
    drop(tree); // a crash: recovery from the log the refused opens also read
    let tree = open_dir(dir.path(), opts(64)).unwrap();
    assert_eq!(tree.check().unwrap().entries, 1000);
    assert_eq!(
        tree.get(&999u32.to_be_bytes()).unwrap().as_deref(),
        Some(&[2u8; 100][..])
    );
}

/// Two trees in one small pool (their pages evict each other's), each closed and reopened in turn while the other
/// is open, so the pool hands a reopened tree's file the id the other or its own earlier incarnation had: no
/// tree ever sees the other's keys, and each keeps its own.
#[test]
fn two_trees_in_one_pool_closed_and_reopened_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(24).build().unwrap());
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let mut a = open_dir_in(pool.clone(), &da).unwrap();
    let mut b = open_dir_in(pool.clone(), &db).unwrap();
    let mut ids = Vec::new();
    for round in 0..6u32 {
        for i in 0..300u32 {
            a.put(&(i * 2).to_be_bytes(), &[round as u8; 90]).unwrap();
            b.put(&(i * 2 + 1).to_be_bytes(), &[100 + round as u8; 90]).unwrap();
        }
        if round % 2 == 0 {
            a.close().unwrap();
            a = open_dir_in(pool.clone(), &da).unwrap();
        } else {
            // Dropped unclosed (its file stays open in the pool until closed there), then recovered.
            b.commit().unwrap();
            let file = b.file();
            drop(b);
            pool.close_file(file).unwrap();
            b = open_dir_in(pool.clone(), &db).unwrap();
        }
        ids.push((a.file(), b.file()));
        for (t, odd, v) in [(&a, 0u32, round as u8), (&b, 1, 100 + round as u8)] {
            let got = all(t);
            assert_eq!(got.len(), 300, "round {round}");
            for (k, val) in got {
                let id = u32::from_be_bytes(k[..].try_into().unwrap());
                assert_eq!(id % 2, odd, "round {round}: a key of the other tree");
                assert_eq!(val, vec![v; 90]);
            }
            t.check().unwrap();
        }
    }
    assert!(ids.windows(2).any(|w| w[0] != w[1]), "file ids changed: {ids:?}");
}

/// A tree opened with another page size than it was made with: a typed error, and the tree (data file and
/// log, which the refused open also read) opens as it was with its own size.
#[test]
fn a_tree_opened_with_another_page_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tree = open_dir(dir.path(), opts(64)).unwrap();
        for i in 0..800u32 {
            tree.put(&i.to_be_bytes(), &[5u8; 100]).unwrap();
        }
        tree.commit().unwrap(); // dropped unclosed: the log holds what the file lacks
    }
    for page_size in [8192, 65536] {
        let r = open_dir(dir.path(), Options { frames: 64, page_size });
        assert!(
            matches!(r, Err(Error::Pool(_) | Error::BadMeta(_))),
            "{page_size}: {r:?}"
        );
    }
    let tree = open_dir(dir.path(), opts(64)).unwrap();
    assert_eq!(tree.check().unwrap().entries, 800);
}

/// The text of a [`Error::Log`] (any other error fails the test).
fn log_text<T: std::fmt::Debug>(r: bufpool_btree::Result<T>) -> String {
    match r {
        Err(Error::Log(text)) => text,
        other => panic!("expected Error::Log, got {other:?}"),
    }
}

/// E17-2: every `Error::Log` names its log (its path, or "the log storage") and says what to do. Most named
/// neither ("log error: write log: Input/output error"), so an engine with a log per tree could not tell which
/// log had failed, nor whether anything was lost.
#[test]
fn log_errors_name_the_log_and_what_to_do() {
    use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op as IoOp};
    use bufpool_btree::{Op, TreeWal};

    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let named = |text: &str, log: &std::path::Path| {
        assert!(text.starts_with(&format!("log {}", log.display())), "{text}");
    };

    // Opening: a directory in the log's place (refused as not a regular file, R29-1); a file that is not a log.
    std::fs::create_dir(path("dir.wal")).unwrap();
    let text = log_text(TreeWal::open(path("dir.wal")));
    named(&text, &path("dir.wal"));
    assert!(
        text.contains("is a directory, not a regular file") && text.contains("nothing was opened"),
        "{text}"
    );
    std::fs::write(path("text.wal"), vec![b'x'; 64 << 10]).unwrap();
    let text = log_text(TreeWal::open(path("text.wal")));
    named(&text, &path("text.wal"));
    assert!(
        text.contains("has no valid log header") && text.contains("nothing was opened"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(path("text.wal")).unwrap(),
        vec![b'x'; 64 << 10],
        "left as it was"
    );

    // Misuse: a dependency on itself, a second dependency, a covered change without one, a flush past the end.
    let a = TreeWal::open(path("a.wal")).unwrap();
    let b = TreeWal::open(path("b.wal")).unwrap();
    let text = log_text(a.check_covered());
    named(&text, &path("a.wal"));
    assert!(text.contains("TreeWal::flush_first"), "{text}");
    let text = log_text(a.flush_first(a.clone()));
    named(&text, &path("a.wal"));
    assert!(text.contains("cannot depend on itself"), "{text}");
    a.flush_first(b.clone()).unwrap();
    let text = log_text(a.flush_first(b.clone()));
    assert_eq!(
        text,
        format!(
            "log {} already depends on log {}; nothing was changed",
            path("a.wal").display(),
            path("b.wal").display()
        )
    );
    let text = log_text(b.flush_lsn(b.end_lsn() + 100));
    named(&text, &path("b.wal"));
    assert!(
        text.contains("beyond its end") && text.contains("nothing was changed"),
        "{text}"
    );

    // A failed write fails the log: its first error and every later one name it and the way out.
    let storage = Arc::new(FaultyStorage::new(7, FaultConfig::crash_only()));
    let log = TreeWal::open_storage(storage.clone()).unwrap();
    storage.inject_next(IoOp::Write, Fault::EioPersistent);
    log.append(&[Op::Put {
        page: 1,
        key: b"k",
        val: b"v",
    }])
    .unwrap();
    let first = log_text(log.commit());
    assert!(first.starts_with("the log storage: write: "), "{first}");
    let later = log_text(log.commit());
    assert!(later.starts_with("the log storage failed earlier (write: "), "{later}");
    for text in [&first, &later] {
        assert!(
            text.contains("refuses every change") && text.contains("recovery replays"),
            "{text}"
        );
    }
    // Displayed through the crate's error, as a user prints it.
    assert!(Error::Log(first)
        .to_string()
        .starts_with("log error: the log storage: write: "));
}
