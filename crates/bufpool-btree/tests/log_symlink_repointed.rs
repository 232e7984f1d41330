//! Session 46 (fix46), R45-3 re-attacked: a log opened through a symbolic link that is pointed elsewhere during
//! the open.
//!
//! `TreeWal::open` opened and locked the file the path led to (`open_locked`, which checks, once it holds the
//! lock, that the path still leads to that file: R45-3), and only then took the log's name, where its rewrites go,
//! from where the link led at that later moment (`replaced_path`, R30-2). A link pointed at another file between
//! the two (a deployment's "current" link switched, say) gave a log whose name is not its file: its first rewrite
//! (a checkpoint's cut past `set_rewrite_len`) renamed its records over the other file, which may be another
//! tree's log (live or not: a rename does not care about its lock), and its open removed the other log's
//! `<name>.tmp`, which is that log's rewrite in progress if it is live (R45-3's failure). Here one thread points a
//! link at `a.log` and at `b.log` in turn, as fast as it can; another opens the log through the link, then cuts
//! it with a rewrite, then checks that `a.log` and `b.log` each still hold their own log, for
//! `BTREE_LOG_SYMLINK_RACE_SECS` seconds (default 2).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use bufpool_btree::TreeWal;

use crate::common;

/// The identity of the log file at `path` (opened directly, not through the link).
fn id_at(path: &Path) -> u64 {
    TreeWal::open(path).unwrap().id()
}

#[test]
fn a_log_opened_through_a_link_pointed_elsewhere_meanwhile_rewrites_the_file_it_opened() {
    let secs = std::env::var("BTREE_LOG_SYMLINK_RACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let dir = common::memory_tempdir();
    let (a, b, link) = (
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("current"),
    );
    let (id_a, id_b) = (id_at(&a), id_at(&b));
    std::os::unix::fs::symlink("a.log", &link).unwrap();
    let stop = AtomicBool::new(false);
    let (opens, flips) = (AtomicU64::new(0), AtomicU64::new(0));
    let t0 = Instant::now();
    let found = std::thread::scope(|s| {
        s.spawn(|| {
            let tmp = dir.path().join("current.tmp");
            while !stop.load(SeqCst) {
                let to = ["a.log", "b.log"][(flips.fetch_add(1, SeqCst) % 2) as usize];
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(to, &tmp).unwrap();
                std::fs::rename(&tmp, &link).unwrap();
            }
        });
        let mut i = 0;
        let found = loop {
            if t0.elapsed() > Duration::from_secs(secs) {
                break None;
            }
            let wal = TreeWal::open(&link).unwrap();
            let id = wal.id();
            wal.set_rewrite_len(0);
            common::append_puts(&wal, i, 2, 50, 1).unwrap();
            let redo = wal.begin_checkpoint();
            common::append_puts(&wal, i + 2, 1, 50, 1).unwrap();
            wal.commit().unwrap();
            wal.truncate_before(redo).unwrap();
            drop(wal);
            i += 3;
            opens.fetch_add(1, SeqCst);
            let now = (id_at(&a), id_at(&b));
            if now != (id_a, id_b) {
                break Some(format!(
                    "open {} (through the link, log {id:x}) at {:?}: a.log holds log {:x}, b.log log {:x} (were {id_a:x}, \
                     {id_b:x})",
                    opens.load(SeqCst),
                    t0.elapsed(),
                    now.0,
                    now.1
                ));
            }
        };
        stop.store(true, SeqCst);
        found
    });
    assert!(
        found.is_none(),
        "after {} opens and {} flips of the link: {}",
        opens.load(SeqCst),
        flips.load(SeqCst),
        found.unwrap_or_default()
    );
}
