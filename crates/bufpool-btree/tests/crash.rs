//! Crash test: a child process (this test binary re-run with `crash_child`) puts, updates and deletes keys in
//! committed batches, checkpointing now and then, and records each batch in `ops.log` (intent lines before the
//! ops, a `C` line after the commit returned). The parent SIGKILLs it at a random moment, reopens the tree
//! (recovery), checks its invariants, and checks that every committed change is there: committed puts present
//! with their last committed value, committed deletes absent. Only the ops of the batch in flight at the kill
//! are uncertain. Repeated over several rounds on the same files, so recovery also runs over recovered files.
//!
//! Longer soak: `BTREE_CRASH_ROUNDS=100 cargo test -p bufpool-btree --release --test crash`.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{key, mix, value};

const CHILD_DIR: &str = "BTREE_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "BTREE_CRASH_ROUND";
const OPS_LOG: &str = "ops.log";

/// The child: runs until killed.
#[test]
#[ignore = "helper, run in a child process by `crash_recovery`"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let tree = common::open(&dir, 128);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(OPS_LOG))
        .unwrap();
    // A new round: whatever the previous child left uncommitted stays uncertain for good.
    log.write_all(format!("R {round}\n").as_bytes()).unwrap();
    let mut rng = mix(round + 77);
    let mut next_id = (round + 1) << 32;
    let mut live: Vec<u64> = Vec::new();
    for batch in 0u64.. {
        rng = mix(rng);
        let mut put_now = Vec::new();
        for n in 0..1 + rng % 24 {
            let r = mix(rng ^ n);
            let choice = r % 10;
            if choice < 2 && !live.is_empty() {
                let id = live.swap_remove((r >> 8) as usize % live.len());
                log.write_all(format!("D {id}\n").as_bytes()).unwrap();
                assert!(tree.delete(&key(id)).unwrap());
            } else if choice < 4 && !live.is_empty() {
                let id = live[(r >> 8) as usize % live.len()];
                log.write_all(format!("P {id} {batch}\n").as_bytes()).unwrap();
                tree.put(&key(id), &value(id, batch)).unwrap();
            } else {
                let id = next_id;
                next_id += 1;
                log.write_all(format!("P {id} {batch}\n").as_bytes()).unwrap();
                tree.put(&key(id), &value(id, batch)).unwrap();
                put_now.push(id);
            }
        }
        tree.commit().unwrap();
        log.write_all(b"C\n").unwrap();
        live.extend(put_now);
        if batch % 40 == 39 {
            tree.checkpoint().unwrap();
        } else if batch % 40 == 19 {
            tree.checkpoint_spread(Duration::from_millis(20)).unwrap();
        }
    }
}

/// What the ops log says: the last committed state of every id, the ids of batches in flight at a kill, and
/// the number of commits.
fn read_ops(dir: &Path) -> (HashMap<u64, Option<u64>>, HashSet<u64>, usize) {
    let text = std::fs::read_to_string(dir.join(OPS_LOG)).unwrap_or_default();
    let mut state = HashMap::new();
    let mut pending: Vec<(u64, Option<u64>)> = Vec::new();
    let mut uncertain = HashSet::new();
    let mut commits = 0;
    // A line cut by the kill has no newline: `lines()` would still yield it, so drop an unterminated tail.
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    for line in complete.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["C"] => {
                commits += 1;
                state.extend(pending.drain(..));
            }
            ["P", id, ver] => pending.push((id.parse().unwrap(), Some(ver.parse().unwrap()))),
            ["D", id] => pending.push((id.parse().unwrap(), None)),
            // The ids of an earlier round's batch in flight are never touched again; they stay uncertain.
            ["R", _] => uncertain.extend(pending.drain(..).map(|(id, _)| id)),
            _ => panic!("bad ops line {line:?}"),
        }
    }
    uncertain.extend(pending.into_iter().map(|(id, _)| id));
    (state, uncertain, commits)
}

fn verify(dir: &Path) -> usize {
    let tree = common::open(dir, 128);
    let stats = tree.check().expect("invariants after recovery");
    eprintln!("after recovery: {stats:?}");
    let (state, uncertain, commits) = read_ops(dir);
    for (&id, &want) in &state {
        if uncertain.contains(&id) {
            continue;
        }
        let got = tree.get(&key(id)).unwrap();
        assert_eq!(got, want.map(|ver| value(id, ver)), "id {id} after recovery");
    }
    let mut n = 0;
    for pair in tree.range::<std::ops::RangeFull>(..) {
        let (k, v) = pair.unwrap();
        let id = u64::from_le_bytes(v[..8].try_into().unwrap());
        assert_eq!(key(id), k, "value under a foreign key");
        assert!(
            matches!(state.get(&id), Some(Some(_))) || uncertain.contains(&id),
            "id {id} present but never committed as present"
        );
        n += 1;
    }
    assert_eq!(n, stats.entries);
    commits
}

#[test]
fn crash_recovery() {
    let rounds: u64 = std::env::var("BTREE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut commits = 0;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + mix(round) % 600));
        // SAFETY: plain syscall on the pid of a child we spawned and have not yet reaped.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0);
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "child exited by itself: {status:?}");
        commits = verify(dir.path());
    }
    eprintln!("crash test: {commits} batches committed over {rounds} rounds");
    assert!(commits > 0, "no batch was ever committed: the test checked nothing");
}

/// A page torn by a crash mid-write fails its checksum; recovery rebuilds it from the full image the log holds
/// for its first change after the checkpoint (full-page writes), instead of failing.
#[test]
fn torn_page_is_rebuilt_from_its_logged_image() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1500u64;
    {
        // A pool far smaller than the tree: most pages reach the data file through eviction.
        let tree = common::open(dir.path(), 16);
        for id in 0..n {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        tree.commit().unwrap();
        // Dropped without close: a crash after the commit.
    }
    let data = dir.path().join(bufpool_btree::DATA_FILE);
    let mut bytes = std::fs::read(&data).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    assert!(pages > 20, "the tree reached the file: {pages} pages");
    // Tear a few written pages: the second half of each replaced by zeroes, as a torn 4 KiB write leaves it.
    let mut torn = 0;
    for p in [3, pages / 2, pages - 2] {
        let pg = &mut bytes[p * page..(p + 1) * page];
        if pg.iter().any(|&b| b != 0) {
            pg[page / 2..].fill(0);
            torn += 1;
        }
    }
    assert!(torn > 0);
    std::fs::write(&data, &bytes).unwrap();
    let tree = common::open(dir.path(), 64);
    assert_eq!(tree.check().unwrap().entries, n as usize);
    for id in 0..n {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "id {id}");
    }
}
