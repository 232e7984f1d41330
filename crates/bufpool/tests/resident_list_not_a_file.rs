//! `read_resident_list` (and `prewarm`, and `bufpool inspect --pool`, which call it) on a path that is not a
//! regular file (R46-2 in RELIABILITY.md). It read the path with `std::fs::read`: a FIFO's open waited for a
//! writer for ever (the call never returned), and a character device that never ends (`/dev/zero`) was read into
//! memory until the allocator gave up, which aborts the process. The data files' opens and `inspect` of a data
//! file refuse such paths at once (R28-5, R29-1); a resident list is a regular file too, and is now refused as
//! `Error::ResidentList` naming the path, as a damaged list is.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use bufpool::{BufferPool, Error};

/// How long a refusal may take before the call is taken as hung (the refusals here take microseconds).
const HUNG_AFTER: Duration = Duration::from_secs(10);

/// Runs `call` on its own thread; `None` if it has not returned after [`HUNG_AFTER`] (the thread is left
/// blocked: a test that fails ends the process).
fn returns<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    rx.recv_timeout(HUNG_AFTER).ok()
}

fn fifo(dir: &Path) -> PathBuf {
    let fifo = dir.join("list.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    fifo
}

/// The FIFO first: on a build without the check, `/dev/zero` would be read into memory without end.
fn not_regular_files(dir: &Path) -> Vec<PathBuf> {
    vec![fifo(dir), PathBuf::from("/dev/zero"), PathBuf::from("/dev/null")]
}

#[test]
fn a_resident_list_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for path in not_regular_files(dir.path()) {
        let asked = path.clone();
        match returns(move || bufpool::read_resident_list(&asked)) {
            None => panic!(
                "read_resident_list({}) had not returned after {HUNG_AFTER:?} (blocked, or reading without end)",
                path.display()
            ),
            Some(Err(Error::ResidentList { path: named, .. })) => assert_eq!(named, path),
            Some(other) => panic!("read_resident_list({}): {other:?}", path.display()),
        }
    }
}

#[test]
fn a_prewarm_from_a_fifo_or_a_device_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let pool = std::sync::Arc::new(BufferPool::builder().frames(16).page_size(4096).build().unwrap());
    let file = pool.open_file(dir.path().join("data.db")).unwrap();
    drop(pool.new_page(file).unwrap());
    for path in not_regular_files(dir.path()) {
        let (pool, asked) = (pool.clone(), path.clone());
        match returns(move || pool.prewarm(&asked)) {
            None => panic!("prewarm({}) had not returned after {HUNG_AFTER:?}", path.display()),
            Some(Err(Error::ResidentList { path: named, .. })) => assert_eq!(named, path),
            Some(other) => panic!("prewarm({}): {other:?}", path.display()),
        }
    }
    // The pool goes on, and a real list still reads.
    let list = dir.path().join("pool.list");
    assert_eq!(pool.save_resident(&list).unwrap(), 1);
    assert_eq!(bufpool::read_resident_list(&list).unwrap().pages.len(), 1);
    assert_eq!(pool.prewarm(&list).unwrap().listed, 1);
}

/// A regular file that is not a list (a data file given by mistake) is refused as before, naming the path.
#[test]
fn a_data_file_given_as_a_resident_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.db");
    let pool = BufferPool::builder().frames(16).page_size(4096).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    for _ in 0..4 {
        drop(pool.new_page(file).unwrap());
    }
    pool.close().unwrap();
    match bufpool::read_resident_list(&path) {
        Err(Error::ResidentList { path: named, .. }) => assert_eq!(named, path),
        other => panic!("{other:?}"),
    }
}
