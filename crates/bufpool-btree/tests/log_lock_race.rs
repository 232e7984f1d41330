//! R45-3 (review45): a second `TreeWal::open` of a log file racing the live log's rewrites.
//!
//! `TreeWal::open` opens the path, then locks (`flock`) the file it got (R13-1: a log another opener has open is
//! refused, `FileLocked`). A rewrite (a checkpoint's cut past `set_rewrite_len`, or since session 44 an open's move
//! of a log of the sector layout) locks its new file, renames it over the log's name and drops the old file, and
//! with it the old file's lock. An open that opened the name before the rename and locked after the drop got the
//! lock of the old, unlinked file: it opened (where it must be refused), read the log as of the rewrite, and at its
//! end removed `<name>.tmp` (R30-24's clean-up of a crashed rewrite's copy), which was the live log's next rewrite
//! in progress: that rewrite's rename then failed and failed the live log, which refused every commit from then on
//! ("rename its rewritten copy into place: No such file or directory"). Had the old file been of the sector
//! layout, the stale open would have moved it by its own rewrite, renamed over the live log. Now the open checks,
//! once it holds the lock, that the name still leads to the file it locked, and opens the name again if not.
//!
//! One thread appends, commits and cuts the log with a rewrite at every cut; another opens the log again and
//! again, each open to be refused `FileLocked`, for `BTREE_LOG_LOCK_RACE_SECS` seconds (default 2; on main the
//! race was met 8 ms in, five times in the first 141 ms, on this machine, 2 cores shared with other builds).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bufpool_btree::{Error, TreeWal};

use crate::common;

#[test]
fn a_second_open_racing_the_logs_rewrites_is_refused_and_the_log_goes_on() {
    let secs = std::env::var("BTREE_LOG_LOCK_RACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let dir = common::memory_tempdir();
    let path = dir.path().join("log");
    let wal = TreeWal::open(&path).unwrap();
    wal.set_rewrite_len(0);
    let stop = AtomicBool::new(false);
    let (refused, cuts) = (AtomicU64::new(0), AtomicU64::new(0));
    let wrong: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let t0 = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while !stop.load(SeqCst) && t0.elapsed() < Duration::from_secs(secs) {
                let step = || {
                    common::append_puts(&wal, i, 8, 100, 1)?;
                    let redo = wal.begin_checkpoint();
                    common::append_puts(&wal, i + 8, 1, 100, 1)?;
                    wal.commit()?;
                    wal.truncate_before(redo)
                };
                if let Err(e) = step() {
                    let at = t0.elapsed();
                    wrong
                        .lock()
                        .unwrap()
                        .push(format!("the live log at {at:?}, cut {i}: {e}"));
                    break;
                }
                cuts.fetch_add(1, SeqCst);
                i += 9;
            }
            stop.store(true, SeqCst);
        });
        s.spawn(|| {
            while !stop.load(SeqCst) {
                match TreeWal::open(&path) {
                    Err(Error::Pool(bufpool::Error::FileLocked { .. })) => drop(refused.fetch_add(1, SeqCst)),
                    Ok(w) => {
                        let at = t0.elapsed();
                        let records = common::record_ends(&w).len();
                        wrong.lock().unwrap().push(format!(
                            "a second open at {at:?} succeeded while the log was open ({records} records)"
                        ));
                    }
                    Err(e) => wrong
                        .lock()
                        .unwrap()
                        .push(format!("a second open failed otherwise: {e}")),
                }
            }
        });
    });
    let wrong = wrong.into_inner().unwrap();
    let (refused, cuts) = (refused.load(SeqCst), cuts.load(SeqCst));
    eprintln!("{cuts} cuts (each a rewrite), {refused} second opens refused");
    assert!(
        wrong.is_empty(),
        "after {cuts} cuts and {refused} refused opens: {wrong:?}"
    );
    assert_eq!(wal.rewrites(), cuts, "a cut did not rewrite");
    assert!(refused > 0, "no second open ran beside the cuts");
}
