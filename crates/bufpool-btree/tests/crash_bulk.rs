//! Crash test of `Tree::bulk_load`: a child process (this test binary re-run with `bulk_child`) bulk-loads one
//! new tree after another, each in a directory of its own on a small pool (so pages reach the file by eviction
//! while the build runs), in two loads: the first half of the pairs into the empty tree, then the second half
//! appended (append mode). It marks a directory `half` and then `loaded` as each `bulk_load` returns. The parent
//! SIGKILLs it at a random moment and reopens every tree (recovery): each must pass `Tree::check` and hold
//! nothing, the first half or every pair (the state before or after each load), and at least what its marks say.
//! A tree whose load was cut off is then loaded on, past the pages the dead load leaked.
//!
//! Longer soak: `BTREE_CRASH_ROUNDS=100 cargo test -p bufpool-btree --release --test crash_bulk`.

mod common;

use std::path::{Path, PathBuf};

use common::crash::{rounds, run_and_kill};

const CHILD_DIR: &str = "BTREE_BULK_CHILD_DIR";
const CHILD_ROUND: &str = "BTREE_BULK_ROUND";
/// Pairs of each tree, in two loads of half: about 700 leaves of 8-byte keys and 120-byte values.
const PAIRS: u64 = 20_000;
const HALF: u64 = PAIRS / 2;
/// Frames of the pool: far fewer than the tree's pages.
const FRAMES: usize = 64;
const LOADED: &str = "loaded";
const HALF_LOADED: &str = "half";

/// The pairs with ids in `ids`, in key order.
fn pairs(ids: std::ops::Range<u64>) -> impl Iterator<Item = ([u8; 8], [u8; 120])> {
    ids.map(|i| {
        let mut v = [0u8; 120];
        v[..8].copy_from_slice(&i.to_le_bytes());
        v[112..].copy_from_slice(&common::mix(i).to_le_bytes());
        ((i * 3 + 1).to_be_bytes(), v)
    })
}

/// The child: loads tree after tree until killed.
#[test]
#[ignore = "helper, run in a child process by `bulk_load_survives_sigkill`"]
fn bulk_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    for i in 0.. {
        let sub = PathBuf::from(&dir).join(format!("r{round}-{i}"));
        let tree = common::open(&sub, FRAMES);
        tree.bulk_load(pairs(0..HALF)).unwrap();
        std::fs::write(sub.join(HALF_LOADED), b"").unwrap();
        tree.bulk_load(pairs(HALF..PAIRS)).unwrap();
        // Dropped without close: the load must be durable by itself.
        drop(tree);
        std::fs::write(sub.join(LOADED), b"").unwrap();
    }
}

/// Checks one tree directory after the kill; returns the pairs it held (none, half or all). A tree cut off before
/// all is then loaded on, and must end with every pair.
fn verify(sub: &Path) -> u64 {
    let tree = common::open(sub, FRAMES);
    let st = tree.check().unwrap_or_else(|e| panic!("{}: {e}", sub.display()));
    let (half, all) = (sub.join(HALF_LOADED).exists(), sub.join(LOADED).exists());
    let held = st.entries as u64;
    match held {
        0 => assert!(!half && !all, "{}: loaded, but the tree is empty", sub.display()),
        HALF => assert!(!all, "{}: loaded, but holds half", sub.display()),
        PAIRS => {}
        n => panic!("{}: {n} pairs, neither none, {HALF} nor all {PAIRS}", sub.display()),
    }
    for (k, v) in pairs(0..held).step_by(101) {
        assert_eq!(tree.get(&k).unwrap().as_deref(), Some(&v[..]), "{}", sub.display());
    }
    assert_eq!(
        tree.get(&pairs(held..held + 1).next().map_or([0; 8], |p| p.0)).unwrap(),
        None
    );
    // The cut-off load left pages past the file's end; loading on works regardless.
    if held == 0 {
        assert_eq!(tree.bulk_load(pairs(0..HALF)).unwrap(), HALF);
    }
    if held < PAIRS {
        assert_eq!(tree.bulk_load(pairs(HALF..PAIRS)).unwrap(), HALF);
        assert_eq!(tree.check().unwrap().entries as u64, PAIRS);
    }
    held
}

#[test]
fn bulk_load_survives_sigkill() {
    let rounds = rounds(6);
    let dir = tempfile::tempdir().unwrap();
    let (mut complete, mut cut_first, mut cut_append, mut leaked) = (0, 0, 0, 0);
    for round in 0..rounds {
        let env = [
            (CHILD_DIR, dir.path().display().to_string()),
            (CHILD_ROUND, round.to_string()),
        ];
        run_and_kill("bulk_child", &env, round);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let sub = entry.unwrap().path();
            if !sub
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("r{round}-"))
            {
                continue;
            }
            let file_len = std::fs::metadata(sub.join(bufpool_btree::DATA_FILE)).map_or(0, |m| m.len());
            match verify(&sub) {
                PAIRS => complete += 1,
                HALF => cut_append += 1,
                _ => {
                    cut_first += 1;
                    // More than the meta page and the empty root: the kill came after built pages reached the file.
                    leaked += u32::from(file_len > 2 * 4096);
                }
            }
        }
    }
    eprintln!(
        "bulk crash test: {complete} trees complete; cut off in the first load {cut_first} ({leaked} after built \
         pages reached the file), after it (in or before the append) {cut_append}; over {rounds} rounds"
    );
    assert!(complete > 0, "no load ever completed: the test checked nothing");
    assert!(
        cut_first + cut_append > 0,
        "no kill ever landed inside a load: the test checked nothing"
    );
}
