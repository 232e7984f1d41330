//! A tree and its log on a file system that fills up (a real one: a small tmpfs, where this process may mount
//! it; each test skips, saying why, where it cannot). Added by the review of session 9's code (its log
//! truncation: header slot, punched hole, rewrite).
//!
//! - Whatever fails first (a page write of a checkpoint, a log write of a commit, a log rewrite's new file),
//!   every commit acknowledged before keeps its keys after space is freed and the tree reopened, and the tree's
//!   invariants hold (passes on main).
//! - A log rewrite that runs out of space leaves the log usable (R10-5: on main it failed the log).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{key, value};

/// Unmounts (lazily) on drop, so a failed assertion does not leave the mount behind.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not root".into());
    }
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if !out.status.success() {
        return Err(format!("mount failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(Mount(dir.to_path_buf()))
}

fn remount(mount: &Mount, size: &str) {
    let ok = Command::new("mount")
        .args(["-o", &format!("remount,size={size}")])
        .arg(&mount.0)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "remount to {size}");
}

#[test]
fn every_commit_acknowledged_before_the_file_system_filled_survives() {
    // Rewrite bounds: none (cuts punch), and small (cuts rewrite the log into a new file, which needs space);
    // file system sizes that fill at different moments of the work.
    let runs = [u64::MAX, 24 << 10]
        .into_iter()
        .flat_map(|r| [160, 224, 320, 480].map(|kib| (r, kib)));
    for (rewrite_len, kib) in runs {
        let dir = tempfile::tempdir().unwrap();
        let mount = match mount_tmpfs(dir.path(), &format!("{kib}k")) {
            Ok(m) => m,
            Err(why) => {
                eprintln!("SKIPPED every_commit_acknowledged_before_the_file_system_filled_survives: {why}");
                return;
            }
        };
        let tree_dir = dir.path().join("t");
        let mut committed = BTreeMap::new();
        // The batch in flight when the error came: its changes may or may not have reached the log.
        let mut in_flight = BTreeMap::new();
        let first_error = {
            let tree = common::open(&tree_dir, 32);
            tree.wal().set_rewrite_len(rewrite_len);
            let mut batch = 0u64;
            let error = 'fill: loop {
                assert!(batch < 100_000, "the file system never filled");
                in_flight.clear();
                for j in 0..10 {
                    let id = (batch * 10 + j) % 700; // updates too, so checkpoints have dead log to cut
                    in_flight.insert(id, batch);
                    if let Err(e) = tree.put(&key(id), &value(id, batch)) {
                        break 'fill e;
                    }
                }
                if let Err(e) = tree.commit() {
                    break 'fill e;
                }
                committed.append(&mut in_flight);
                if batch % 8 == 7 {
                    if let Err(e) = tree.checkpoint() {
                        break 'fill e;
                    }
                }
                batch += 1;
            };
            // Not a panic, and not before anything was committed.
            assert!(!committed.is_empty(), "{error}");
            eprintln!(
                "{kib} KiB, rewrite_len {rewrite_len}: full after {batch} batches, {} rewrites: {error}",
                tree.wal().rewrites()
            );
            error.to_string()
        };
        remount(&mount, "64m");
        let tree = common::open(&tree_dir, 32);
        tree.check()
            .unwrap_or_else(|e| panic!("rewrite_len {rewrite_len}, after {first_error}: invariants: {e}"));
        for (&id, &ver) in &committed {
            let got = tree.get(&key(id)).unwrap();
            let uncertain = in_flight.get(&id).map(|&b| value(id, b));
            assert!(
                got.as_deref() == Some(&value(id, ver)[..]) || (uncertain.is_some() && got == uncertain),
                "{kib} KiB, rewrite_len {rewrite_len}: key {id} (committed at batch {ver}) after {first_error}"
            );
        }
        tree.checkpoint().unwrap();
        drop(tree);
        drop(mount);
    }
}

/// R10-5 (RELIABILITY.md): a log rewrite that runs out of space (the live tail does not fit beside the old
/// file) failed the whole log, so every later commit was refused until the tree was reopened, and its
/// `<log>.tmp` stayed behind, holding the very space the file system lacked. Nothing durable was at stake: the
/// old file and its header in force were untouched. Now the cut returns the error, removes `<log>.tmp`, and the
/// log goes on; a later cut, with space, rewrites.
#[test]
fn a_log_rewrite_that_runs_out_of_space_leaves_the_log_usable() {
    use bufpool_btree::TreeWal;
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let mount = match mount_tmpfs(dir.path(), "1m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED a_log_rewrite_that_runs_out_of_space_leaves_the_log_usable: {why}");
            return;
        }
    };
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    let append = |wal: &TreeWal, from: u32, n: u32| common::append_puts(wal, from, n, 1000, 5);
    // About 400 KiB of dead records, then a live tail of about 48 KiB.
    append(&wal, 0, 400).unwrap();
    let redo = wal.begin_checkpoint();
    let mut committed = append(&wal, 400, 48).unwrap();
    wal.commit().unwrap();
    // Fill the file system, then give back 16 KiB: less than the tail a rewrite copies.
    let filler_path = dir.path().join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    let block = vec![1u8; 4096];
    while filler.write_all(&block).is_ok() {}
    let len = filler.metadata().unwrap().len();
    filler.set_len(len - (16 << 10)).unwrap();
    filler.sync_all().unwrap();

    wal.set_rewrite_len(0);
    let err = wal.truncate_before(redo).expect_err("the tail does not fit");
    assert!(err.to_string().contains("space"), "{err}");
    assert_eq!(wal.rewrites(), 0);
    assert!(!dir.path().join("log.tmp").exists(), "the new file is removed");
    // The log goes on: a commit fits in the space left.
    committed.extend(append(&wal, 500, 4).expect("appends after a failed rewrite"));
    wal.commit().expect("a commit after a failed rewrite");
    // Space back: the next cut rewrites, and a reopen finds every committed record.
    drop(filler);
    std::fs::remove_file(&filler_path).unwrap();
    wal.truncate_before(redo).unwrap();
    assert_eq!(wal.rewrites(), 1);
    drop(wal);
    let wal = TreeWal::open(&path).unwrap();
    let mut seen = Vec::new();
    wal.scan(|end, _| {
        seen.push(end);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, committed);
    drop(wal);
    drop(mount);
}
